#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "create_opts.h"
#include "../util/util.h"

static const char create_usage[] =
    "Usage: brig create [options] CONTAINER_ID\n"
    "\n"
    "Create a container from an OCI bundle. Its process waits until `brig start`.\n"
    "\n"
    "Options:\n"
    "  -b, --bundle DIR         bundle directory (default: current directory)\n"
    "  -f, --config FILE        config file in the bundle (default config.json)\n"
    "      --console-socket PATH  unix socket that receives the pty master when process.terminal is true\n"
    "      --pidfd-socket PATH  unix socket that receives a pidfd of the container's init\n"
    "      --pid-file FILE      write the container's init pid to FILE\n"
    "      --preserve-fds N     pass N extra file descriptors (3...) to the container\n"
    "      --no-pivot           use chroot instead of pivot_root (for ramdisk roots)\n"
    "      --no-new-keyring     keep the caller's session keyring\n"
    "      --network NAME       attach to brig's bridge network NAME (`brig`: the default one; `none`);\n"
    "                           rootless: `slirp4netns` or `pasta`, with `:allow-host-loopback` to reach the\n"
    "                           host's 127.0.0.1 (default with -p: pasta if installed, else slirp4netns)\n"
    "      --ip ADDR            a static address on that network\n"
    "  -p, --publish [IP:]HOST:CONTAINER[/tcp|udp|sctp]  publish ports (ranges as 9000-9005), repeatable\n"
    "      --layer DIR          a lower layer of an overlay root, over root.path; repeatable, lowest first\n"
    "      --upper DIR          keep the overlay's changes in DIR (work directory: DIR's sibling .NAME-work)\n"
    "      --keep-upper         keep the changes when the container is deleted (under ROOT/.upper/ID)\n"
    "      --image LAYOUT[:REF]  the root from the layers of an OCI image layout (REF: its ref.name, or @sha256:...)\n"
    "      --store DIR          where image layers are unpacked (default /var/lib/brig/layers;\n"
    "                           rootless: $XDG_DATA_HOME/brig/layers)\n";

static const char run_usage[] =
    "Usage: brig run [options] CONTAINER_ID\n"
    "\n"
    "Create and start a container; wait for it and exit with its status (128+N when killed by signal N),\n"
    "forwarding signals to it, then delete it.\n"
    "\n"
    "Options:\n"
    "  -b, --bundle DIR         bundle directory (default: current directory)\n"
    "  -f, --config FILE        config file in the bundle (default config.json)\n"
    "  -d, --detach             return once the container has started\n"
    "      --keep               keep the container's state after it exits\n"
    "      --console-socket PATH  unix socket that receives the pty master when process.terminal is true\n"
    "      --pidfd-socket PATH  unix socket that receives a pidfd of the container's init\n"
    "      --pid-file FILE      write the container's init pid to FILE\n"
    "      --preserve-fds N     pass N extra file descriptors (3...) to the container\n"
    "      --no-pivot           use chroot instead of pivot_root (for ramdisk roots)\n"
    "      --no-new-keyring     keep the caller's session keyring\n"
    "      --no-subreaper       accepted for runc compatibility\n"
    "      --network NAME       attach to brig's bridge network NAME (`brig`: the default one; `none`);\n"
    "                           rootless: `slirp4netns` or `pasta`, with `:allow-host-loopback` to reach the\n"
    "                           host's 127.0.0.1 (default with -p: pasta if installed, else slirp4netns)\n"
    "      --ip ADDR            a static address on that network\n"
    "  -p, --publish [IP:]HOST:CONTAINER[/tcp|udp|sctp]  publish ports (ranges as 9000-9005), repeatable\n"
    "      --layer DIR          a lower layer of an overlay root, over root.path; repeatable, lowest first\n"
    "      --upper DIR          keep the overlay's changes in DIR (work directory: DIR's sibling .NAME-work)\n"
    "      --keep-upper         keep the changes when the container is deleted (under ROOT/.upper/ID)\n"
    "      --image LAYOUT[:REF]  the root from the layers of an OCI image layout (REF: its ref.name, or @sha256:...)\n"
    "      --store DIR          where image layers are unpacked (default /var/lib/brig/layers;\n"
    "                           rootless: $XDG_DATA_HOME/brig/layers)\n";

enum {
    OPT_CONSOLE_SOCKET = 256,
    OPT_PIDFD_SOCKET,
    OPT_PID_FILE,
    OPT_PRESERVE_FDS,
    OPT_NO_PIVOT,
    OPT_NO_NEW_KEYRING,
    OPT_KEEP,
    OPT_NO_SUBREAPER,
    OPT_NETWORK,
    OPT_IP,
    OPT_IMAGE,
    OPT_STORE,
    OPT_LAYER,
    OPT_UPPER,
    OPT_KEEP_UPPER,
};

static int append_arg(char ***list, size_t *n, char *arg)
{
    char **grown = realloc(*list, (*n + 1) * sizeof(char *));

    if (!grown)
        return -1;
    *list = grown;
    (*list)[(*n)++] = arg;
    return 0;
}

int cmd_parse_create_opts(struct brig_context *ctx, bool is_run, int argc, char **argv,
                          struct brig_create_opts *opts, bool *help)
{
    static const struct option options[] = {
        {"bundle", required_argument, NULL, 'b'},
        {"config", required_argument, NULL, 'f'},
        {"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
        {"pidfd-socket", required_argument, NULL, OPT_PIDFD_SOCKET},
        {"pid-file", required_argument, NULL, OPT_PID_FILE},
        {"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
        {"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
        {"no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING},
        {"detach", no_argument, NULL, 'd'},
        {"keep", no_argument, NULL, OPT_KEEP},
        {"no-subreaper", no_argument, NULL, OPT_NO_SUBREAPER},
        {"network", required_argument, NULL, OPT_NETWORK},
        {"ip", required_argument, NULL, OPT_IP},
        {"publish", required_argument, NULL, 'p'},
        {"image", required_argument, NULL, OPT_IMAGE},
        {"store", required_argument, NULL, OPT_STORE},
        {"layer", required_argument, NULL, OPT_LAYER},
        {"upper", required_argument, NULL, OPT_UPPER},
        {"keep-upper", no_argument, NULL, OPT_KEEP_UPPER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *command = is_run ? "run" : "create";
    int opt;

    *help = false;
    memset(opts, 0, sizeof(*opts));
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "b:f:dp:h", options, NULL)) != -1) {
        switch (opt) {
        case 'b':
            opts->bundle = optarg;
            break;
        case 'f':
            opts->config_file = optarg;
            break;
        case OPT_CONSOLE_SOCKET:
            opts->console_socket = optarg;
            break;
        case OPT_PIDFD_SOCKET:
            opts->pidfd_socket = optarg;
            break;
        case OPT_PID_FILE:
            opts->pid_file = optarg;
            break;
        case OPT_PRESERVE_FDS: {
            uint64_t n;
            if (brig_parse_u64(optarg, &n) < 0 || n > 65536)
                return cmd_usage_error(ctx, command, "--preserve-fds: `%s` is not a file descriptor count", optarg);
            opts->preserve_fds = (unsigned) n;
            break;
        }
        case OPT_NO_PIVOT:
            opts->no_pivot = true;
            break;
        case OPT_NO_NEW_KEYRING:
            opts->no_new_keyring = true;
            break;
        case 'd':
            if (!is_run)
                return cmd_usage_error(ctx, command, "unknown option `%s`", argv[optind - 1]);
            opts->detach = true;
            break;
        case OPT_KEEP:
        case OPT_NO_SUBREAPER:
            if (!is_run)
                return cmd_usage_error(ctx, command, "unknown option `%s`", argv[optind - 1]);
            opts->keep |= opt == OPT_KEEP;
            break;
        case OPT_NETWORK:
            opts->network = optarg;
            break;
        case OPT_IP:
            opts->ip = optarg;
            break;
        case OPT_IMAGE:
            opts->image = optarg;
            break;
        case OPT_STORE:
            opts->store = optarg;
            break;
        case 'p':
            if (append_arg(&opts->publish, &opts->n_publish, optarg) < 0)
                return 1;
            break;
        case OPT_LAYER:
            if (append_arg(&opts->layers, &opts->n_layers, optarg) < 0)
                return 1;
            break;
        case OPT_UPPER:
            opts->upper = optarg;
            break;
        case OPT_KEEP_UPPER:
            opts->keep_upper = true;
            break;
        case 'h':
            cmd_print_help(is_run ? run_usage : create_usage);
            *help = true;
            return 0;
        default:
            return cmd_usage_error(ctx, command, "unknown or incomplete option `%s`", argv[optind - 1]);
        }
    }
    return cmd_take_id(ctx, command, argc, argv, optind, &opts->id);
}

int cmd_create(struct brig_context *ctx, int argc, char **argv)
{
    struct brig_create_opts opts;
    struct brig_err *err = NULL;
    bool help;
    int ret = cmd_parse_create_opts(ctx, false, argc, argv, &opts, &help);

    if (ret || help)
        return ret;
    ret = brig_container_create(ctx, &opts, &err) < 0 ? cmd_fail(ctx, err) : 0;
    free(opts.publish);
    free(opts.layers);
    return ret;
}
