#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "../util/util.h"

static const char usage[] =
    "Usage: brig exec [options] CONTAINER_ID COMMAND [ARG...]\n"
    "\n"
    "Run a new process in a running container; exit with its status.\n"
    "\n"
    "Options:\n"
    "  -p, --process FILE        a process.json to run instead of COMMAND\n"
    "  -t, --tty                 allocate a pseudo-terminal\n"
    "      --console-socket PATH unix socket that receives the pty master\n"
    "  -d, --detach              do not wait for the process\n"
    "      --pid-file FILE       write the process's pid to FILE\n"
    "      --pidfd-socket PATH   unix socket that receives a pidfd of the process\n"
    "  -e, --env KEY=VALUE       set an environment variable (repeatable)\n"
    "      --cwd DIR             working directory in the container\n"
    "  -u, --user UID[:GID]      user and group ids\n"
    "  -g, --additional-gids GID additional group (repeatable)\n"
    "  -c, --cap CAP             add a capability (repeatable)\n"
    "      --no-new-privs        set no_new_privileges\n"
    "      --apparmor PROFILE    AppArmor profile\n"
    "      --process-label LABEL SELinux label\n"
    "      --preserve-fds N      pass N extra file descriptors (3...)\n"
    "      --cgroup PATH         run in this sub-cgroup of the container's cgroup\n"
    "      --ignore-paused       allow exec in a paused container\n";

enum {
    OPT_CONSOLE_SOCKET = 256,
    OPT_PID_FILE,
    OPT_PIDFD_SOCKET,
    OPT_CWD,
    OPT_NO_NEW_PRIVS,
    OPT_APPARMOR,
    OPT_PROCESS_LABEL,
    OPT_PRESERVE_FDS,
    OPT_CGROUP,
    OPT_IGNORE_PAUSED,
};

static int append(char ***list, size_t *n, char *item)
{
    char **grown = realloc(*list, (*n + 2) * sizeof(char *));

    if (!grown)
        return -1;
    grown[(*n)++] = item;
    grown[*n] = NULL;
    *list = grown;
    return 0;
}

int cmd_exec(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"process", required_argument, NULL, 'p'},
        {"tty", no_argument, NULL, 't'},
        {"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
        {"detach", no_argument, NULL, 'd'},
        {"pid-file", required_argument, NULL, OPT_PID_FILE},
        {"pidfd-socket", required_argument, NULL, OPT_PIDFD_SOCKET},
        {"env", required_argument, NULL, 'e'},
        {"cwd", required_argument, NULL, OPT_CWD},
        {"user", required_argument, NULL, 'u'},
        {"additional-gids", required_argument, NULL, 'g'},
        {"cap", required_argument, NULL, 'c'},
        {"no-new-privs", no_argument, NULL, OPT_NO_NEW_PRIVS},
        {"apparmor", required_argument, NULL, OPT_APPARMOR},
        {"process-label", required_argument, NULL, OPT_PROCESS_LABEL},
        {"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
        {"cgroup", required_argument, NULL, OPT_CGROUP},
        {"ignore-paused", no_argument, NULL, OPT_IGNORE_PAUSED},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_exec_opts opts = {.tty = -1};
    struct brig_err *err = NULL;
    cleanup_free uint32_t *gids = NULL;
    char **env = NULL, **caps = NULL;
    int exit_status = 0;
    int opt, status;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+p:tde:u:g:c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'p':
            opts.process_file = optarg;
            break;
        case 't':
            opts.tty = 1;
            break;
        case OPT_CONSOLE_SOCKET:
            opts.console_socket = optarg;
            break;
        case 'd':
            opts.detach = true;
            break;
        case OPT_PID_FILE:
            opts.pid_file = optarg;
            break;
        case OPT_PIDFD_SOCKET:
            opts.pidfd_socket = optarg;
            break;
        case 'e':
            if (!strchr(optarg, '='))
                return cmd_usage_error(ctx, "exec", "--env: `%s` is not KEY=VALUE", optarg);
            if (append(&env, &opts.n_env, optarg) < 0)
                return 1;
            break;
        case OPT_CWD:
            opts.cwd = optarg;
            break;
        case 'u':
            opts.user = optarg;
            break;
        case 'g': {
            uint32_t gid, *grown;
            int r = brig_parse_id(optarg, &gid);
            if (r == -ERANGE)
                return cmd_usage_error(ctx, "exec", "--additional-gids: %s is not a valid id: " BRIG_ID_UNCHANGED_WHY,
                                       optarg);
            if (r < 0)
                return cmd_usage_error(ctx, "exec", "--additional-gids: `%s` is not a group id", optarg);
            grown = realloc(gids, (opts.n_additional_gids + 1) * sizeof(*gids));
            if (!grown)
                return 1;
            gids = grown;
            gids[opts.n_additional_gids++] = gid;
            break;
        }
        case 'c':
            if (append(&caps, &opts.n_caps, optarg) < 0)
                return 1;
            break;
        case OPT_NO_NEW_PRIVS:
            opts.no_new_privs = true;
            break;
        case OPT_APPARMOR:
            opts.apparmor = optarg;
            break;
        case OPT_PROCESS_LABEL:
            opts.process_label = optarg;
            break;
        case OPT_PRESERVE_FDS: {
            uint64_t n;
            if (brig_parse_u64(optarg, &n) < 0 || n > 65536)
                return cmd_usage_error(ctx, "exec", "--preserve-fds: `%s` is not a file descriptor count", optarg);
            opts.preserve_fds = (unsigned) n;
            break;
        }
        case OPT_CGROUP:
            opts.cgroup = optarg;
            break;
        case OPT_IGNORE_PAUSED:
            opts.ignore_paused = true;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "exec", "unknown or incomplete option `%s`", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cmd_usage_error(ctx, "exec", "missing container id");
    opts.id = argv[optind++];
    /* `--` between the id and the command is allowed, as in runc. */
    if (optind < argc && !strcmp(argv[optind], "--"))
        optind++;
    opts.args = argv + optind;
    opts.n_args = (size_t) (argc - optind);
    opts.env = env;
    opts.caps = caps;
    opts.additional_gids = gids;
    /* As runc: 255 when exec itself failed (the process never ran), so that callers can tell it from the
     * process's own status; usage errors above stay 1. */
    if (brig_container_exec(ctx, &opts, &exit_status, &err) < 0) {
        cmd_fail(ctx, err);
        status = 255;
    } else {
        status = exit_status;
    }
    free(env);
    free(caps);
    return status;
}
