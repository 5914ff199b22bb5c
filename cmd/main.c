#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

static const char usage[] =
    "Usage: brig [global options] COMMAND [options] [args]\n"
    "\n"
    "brig runs OCI containers (a drop-in for runc).\n"
    "\n"
    "Commands:\n"
    "  create     create a container from a bundle; it waits for `start`\n"
    "  start      start the user process of a created container\n"
    "  run        create and start a container, and wait for it unless --detach\n"
    "  exec       run a new process in a running container\n"
    "  state      print the state of a container as JSON\n"
    "  list       list containers\n"
    "  kill       send a signal to a container's init process\n"
    "  delete     delete a container and everything it holds\n"
    "  update     change the resource limits of a running container\n"
    "  pause      freeze every process of a container\n"
    "  resume     thaw a paused container\n"
    "  ps         list the processes of a container\n"
    "  events     print OOM events and resource statistics of a container\n"
    "  diff       print what a container with an overlay root added, changed and deleted\n"
    "  checkpoint dump a running container with CRIU\n"
    "  restore    restore a container from a checkpoint\n"
    "  migrate    move a running container to another host's migrate-receive\n"
    "  migrate-receive  receive and restore migrated containers\n"
    "  export     dump a running container into an archive file\n"
    "  import     restore a container from an archive file\n"
    "  spec       write a default config.json\n"
    "  features   print what this runtime supports (runtime-spec features JSON)\n"
    "  version    print version information\n"
    "\n"
    "Global options:\n"
    "  --root DIR              state directory (default /run/brig; $XDG_RUNTIME_DIR/brig when rootless)\n"
    "  --log FILE              write log records to FILE (default: stderr)\n"
    "  --log-format text|json  format of log records (default text)\n"
    "  --debug                 log debug messages\n"
    "  --systemd-cgroup        use the systemd cgroup driver (needs systemd)\n"
    "  --rootless true|false|auto  rootless mode (default auto)\n"
    "  --criu PATH             the criu binary for checkpoint and restore (default: criu in PATH)\n"
    "  -v, --version           print the version\n"
    "  -h, --help              show this help\n";

static const struct {
    const char *name;
    int (*fn)(struct brig_context *ctx, int argc, char **argv);
} commands[] = {
    {"create", cmd_create}, {"start", cmd_start},   {"exec", cmd_exec},   {"run", cmd_run},   {"state", cmd_state},
    {"list", cmd_list},     {"kill", cmd_kill}, {"delete", cmd_delete},
    {"spec", cmd_spec},     {"features", cmd_features},     {"version", cmd_version},
    {"update", cmd_update}, {"pause", cmd_pause},   {"resume", cmd_resume}, {"ps", cmd_ps},
    {"events", cmd_events}, {"diff", cmd_diff}, {"checkpoint", cmd_checkpoint}, {"restore", cmd_restore},
    {"migrate", cmd_migrate}, {"migrate-receive", cmd_migrate_receive},
    {"export", cmd_export}, {"import", cmd_import},
};

enum {
    OPT_ROOT = 256,
    OPT_LOG,
    OPT_LOG_FORMAT,
    OPT_DEBUG,
    OPT_SYSTEMD_CGROUP,
    OPT_ROOTLESS,
    OPT_CRIU,
};

/* Root in a user namespace that is not the initial one, as under rootless Podman: uid 0 there owns no host
 * cgroups or /run. The initial namespace maps every id: "0 0 4294967295". */
static bool in_user_namespace(void)
{
    unsigned long inside, outside, count;
    FILE *f = fopen("/proc/self/uid_map", "re");
    bool initial;

    if (!f)
        return false;
    initial = fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 && outside == 0 &&
              count == 4294967295UL;
    fclose(f);
    return !initial;
}

static int parse_rootless(const char *value, bool *rootless)
{
    if (!value || !strcmp(value, "auto")) {
        *rootless = geteuid() != 0 || in_user_namespace();
        return 0;
    }
    if (!strcmp(value, "true")) {
        *rootless = true;
        return 0;
    }
    if (!strcmp(value, "false")) {
        *rootless = false;
        return 0;
    }
    return -1;
}

/* With --debug, every command's log starts with what was asked, so that a caller's log (containerd's, Podman's)
 * shows which invocation the following steps belong to. */
static void log_command_debug(const struct brig_context *ctx, int argc, char **argv)
{
    char *line = NULL;
    size_t len = 0;
    FILE *out;

    if (!ctx->debug)
        return;
    out = open_memstream(&line, &len);
    if (!out)
        return;
    for (int i = 0; i < argc; i++)
        fprintf(out, "%s%s", i ? " " : "", argv[i]);
    fclose(out);
    brig_log(ctx, BRIG_LOG_DEBUG, "command: %s (root `%s`)", line ? line : "", ctx->root);
    free(line);
}

/* The commands whose clones join a container before they exec its program: they run from a sealed copy of
 * brig, which a process in the container cannot overwrite through their /proc/PID/exe. */
static bool enters_container(const char *command)
{
    return !strcmp(command, "create") || !strcmp(command, "run") || !strcmp(command, "exec");
}

static int run_command(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"root", required_argument, NULL, OPT_ROOT},
        {"log", required_argument, NULL, OPT_LOG},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"debug", no_argument, NULL, OPT_DEBUG},
        {"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP},
        {"rootless", required_argument, NULL, OPT_ROOTLESS},
        {"criu", required_argument, NULL, OPT_CRIU},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *log_path = NULL;
    const char *rootless = NULL;
    char *default_root = NULL;
    char *absolute_root = NULL;
    int opt;
    int status;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+vh", options, NULL)) != -1) {
        switch (opt) {
        case OPT_ROOT:
            ctx->root = optarg;
            break;
        case OPT_LOG:
            log_path = optarg;
            break;
        case OPT_LOG_FORMAT:
            if (!strcmp(optarg, "json"))
                ctx->log_format = BRIG_LOG_JSON;
            else if (!strcmp(optarg, "text"))
                ctx->log_format = BRIG_LOG_TEXT;
            else
                return cmd_usage_error(ctx, "brig", "--log-format: unknown format `%s` (text or json)", optarg);
            break;
        case OPT_DEBUG:
            ctx->debug = true;
            break;
        case OPT_SYSTEMD_CGROUP:
            ctx->systemd_cgroup = true;
            break;
        case OPT_ROOTLESS:
            rootless = optarg;
            break;
        case OPT_CRIU:
            ctx->criu = optarg;
            break;
        case 'v':
            return cmd_version(ctx, 0, NULL);
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            return cmd_usage_error(ctx, "brig", "unknown or incomplete global option `%s`", argv[optind - 1]);
        }
    }
    if (parse_rootless(rootless, &ctx->rootless) < 0)
        return cmd_usage_error(ctx, "brig", "--rootless: `%s` is not true, false or auto", rootless);
    if (log_path) {
        ctx->log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (ctx->log_fd < 0) {
            fprintf(stderr, "brig: open log file `%s`: %m\n", log_path);
            return 1;
        }
    }
    if (!ctx->root) {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        /* Root in a user namespace uses $XDG_RUNTIME_DIR too, unless it says it is the real root ($USER). */
        const char *user = getenv("USER");
        bool user_runtime_dir = geteuid() != 0 || (in_user_namespace() && !(user && !strcmp(user, "root")));
        if (ctx->rootless && user_runtime_dir && xdg && *xdg && asprintf(&default_root, "%s/brig", xdg) > 0)
            ctx->root = default_root;
        else
            ctx->root = BRIG_DEFAULT_ROOT;
    }
    /* Absolute: the state root is recorded in files (network leases) and used after chdir. */
    if (ctx->root[0] != '/') {
        char cwd[4096];
        if (getcwd(cwd, sizeof(cwd)) && asprintf(&absolute_root, "%s/%s", cwd, ctx->root) > 0)
            ctx->root = absolute_root;
    }
    if (optind >= argc) {
        fputs(usage, stderr);
        return 1;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (!strcmp(argv[optind], commands[i].name)) {
            char **sub_argv = argv + optind;
            int sub_argc = argc - optind;
            /* 0, not 1: glibc then starts afresh and takes each command's own ordering (most let options
             * follow the id, as runc does; exec and ps stop at the first argument). */
            optind = 0;
            if (enters_container(commands[i].name)) {
                struct brig_err *err = NULL;
                if (brig_run_sealed_copy(argv, &err) < 0) {
                    free(default_root);
                    free(absolute_root);
                    return cmd_fail(ctx, err);
                }
            }
            log_command_debug(ctx, sub_argc, sub_argv);
            status = commands[i].fn(ctx, sub_argc, sub_argv);
            if (ctx->debug)
                brig_log(ctx, BRIG_LOG_DEBUG, "%s: exit status %d", commands[i].name, status);
            free(default_root);
            free(absolute_root);
            return status;
        }
    }
    if (!strcmp(argv[optind], "help")) {
        fputs(usage, stdout);
        return 0;
    }
    status = cmd_usage_error(ctx, "brig", "unknown command `%s`", argv[optind]);
    free(default_root);
    free(absolute_root);
    return status;
}

int main(int argc, char **argv)
{
    struct brig_context ctx = {.root = NULL, .log_fd = -1, .log_format = BRIG_LOG_TEXT};
    struct brig_err *err = NULL;
    int status;

    /* Before brig opens anything (the log, the state root...): see brig_fds_from_caller(). */
    if (brig_fds_from_caller(&ctx.caller_fds, &err) < 0)
        return cmd_fail(&ctx, err);
    status = run_command(&ctx, argc, argv);
    brig_fds_free(&ctx.caller_fds);
    return status;
}
