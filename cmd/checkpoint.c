#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ckpt_opts.h"
#include "../util/util.h"

static const char checkpoint_usage[] =
    "Usage: brig checkpoint [options] CONTAINER_ID\n"
    "\n"
    "Dump a running container's processes with CRIU; without --leave-running the container is gone afterwards.\n"
    "\n"
    "Options:\n"
    "      --image-path DIR     where the CRIU image goes (default ./checkpoint)\n"
    "      --work-path DIR      where CRIU's log goes (default: the image path)\n"
    "      --parent-path DIR    a pre-dump's image, relative to the image path (memory written since it only)\n"
    "      --leave-running      keep the container running after the dump\n"
    "      --pre-dump           dump memory only, the container keeps running (for a later --parent-path)\n"
    "      --tcp-established    dump established TCP connections\n"
    "      --tcp-skip-in-flight  skip TCP connections still being set up\n"
    "      --ext-unix-sk        allow unix sockets connected outside the container\n"
    "      --shell-job          the container's process is a shell job (its terminal is the caller's)\n"
    "      --file-locks         dump file locks\n"
    "      --link-remap         allow open files whose names were removed\n"
    "      --auto-dedup         release memory images already written to a parent\n"
    "      --page-server ADDR:PORT  send memory pages to a CRIU page server (`criu page-server`); with\n"
    "                           --lazy-pages, where this dump serves them\n"
    "      --manage-cgroups-mode soft|full|strict|ignore  what CRIU does with cgroups (default soft)\n"
    "      --empty-ns network   leave the network namespace out of the image (restore gets an empty one)\n"
    "      --lazy-pages         dump without the memory and serve it on --page-server until `criu lazy-pages\n"
    "                           --page-server` has fetched it all for a `restore --lazy-pages`\n"
    "      --status-fd FD       with --lazy-pages: CRIU writes one \\0 byte to FD once it serves the memory\n";

static const char restore_usage[] =
    "Usage: brig restore [options] CONTAINER_ID\n"
    "\n"
    "Restore a container from a CRIU image made by `checkpoint` (brig's, runc's or crun's); it may be given\n"
    "a new id and bundle. Unless --detach, wait for it, forwarding signals, and delete it when it exits.\n"
    "\n"
    "Options:\n"
    "  -b, --bundle DIR         bundle directory (default: current directory)\n"
    "  -d, --detach             return once the container is restored\n"
    "      --pid-file FILE      write the restored init's pid to FILE\n"
    "      --console-socket PATH  unix socket that receives the new pty master of a container with a terminal\n"
    "      --image-path DIR     the CRIU image (default ./checkpoint)\n"
    "      --work-path DIR      where CRIU's log goes (default: the image path)\n"
    "      --tcp-established    restore established TCP connections\n"
    "      --tcp-close          restore TCP connections closed\n"
    "      --ext-unix-sk        allow unix sockets connected outside the container\n"
    "      --shell-job          the container's process is a shell job\n"
    "      --file-locks         restore file locks\n"
    "      --auto-dedup         accepted for runc compatibility\n"
    "      --manage-cgroups-mode soft|full|strict|ignore  what CRIU does with cgroups (default soft)\n"
    "      --empty-ns network   restore into an empty network namespace\n"
    "      --lsm-profile TYPE:NAME  the LSM profile of the restored processes\n"
    "      --lsm-mount-context CONTEXT  the SELinux mount context\n"
    "      --no-subreaper       do not become the subreaper of the restored processes\n"
    "      --no-pivot           accepted for runc compatibility\n"
    "      --lazy-pages         restore with memory fetched on demand from `criu lazy-pages`, which must run\n"
    "                           with the same work directory (its -W, default its -D)\n";

enum {
    OPT_IMAGE_PATH = 256,
    OPT_WORK_PATH,
    OPT_PARENT_PATH,
    OPT_LEAVE_RUNNING,
    OPT_PRE_DUMP,
    OPT_TCP_ESTABLISHED,
    OPT_TCP_SKIP_IN_FLIGHT,
    OPT_TCP_CLOSE,
    OPT_EXT_UNIX_SK,
    OPT_SHELL_JOB,
    OPT_FILE_LOCKS,
    OPT_LINK_REMAP,
    OPT_AUTO_DEDUP,
    OPT_PAGE_SERVER,
    OPT_MANAGE_CGROUPS_MODE,
    OPT_EMPTY_NS,
    OPT_LAZY_PAGES,
    OPT_STATUS_FD,
    OPT_PID_FILE,
    OPT_CONSOLE_SOCKET,
    OPT_LSM_PROFILE,
    OPT_LSM_MOUNT_CONTEXT,
    OPT_NO_SUBREAPER,
    OPT_NO_PIVOT,
};

int cmd_parse_ckpt_opts(struct brig_context *ctx, bool restore, int argc, char **argv, struct brig_restore_opts *opts,
                        bool *help)
{
    static const struct option options[] = {
        {"image-path", required_argument, NULL, OPT_IMAGE_PATH},
        {"work-path", required_argument, NULL, OPT_WORK_PATH},
        {"parent-path", required_argument, NULL, OPT_PARENT_PATH},
        {"leave-running", no_argument, NULL, OPT_LEAVE_RUNNING},
        {"pre-dump", no_argument, NULL, OPT_PRE_DUMP},
        {"tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED},
        {"tcp-skip-in-flight", no_argument, NULL, OPT_TCP_SKIP_IN_FLIGHT},
        {"tcp-close", no_argument, NULL, OPT_TCP_CLOSE},
        {"ext-unix-sk", no_argument, NULL, OPT_EXT_UNIX_SK},
        {"shell-job", no_argument, NULL, OPT_SHELL_JOB},
        {"file-locks", no_argument, NULL, OPT_FILE_LOCKS},
        {"link-remap", no_argument, NULL, OPT_LINK_REMAP},
        {"auto-dedup", no_argument, NULL, OPT_AUTO_DEDUP},
        {"page-server", required_argument, NULL, OPT_PAGE_SERVER},
        {"manage-cgroups-mode", required_argument, NULL, OPT_MANAGE_CGROUPS_MODE},
        {"empty-ns", required_argument, NULL, OPT_EMPTY_NS},
        {"lazy-pages", no_argument, NULL, OPT_LAZY_PAGES},
        {"status-fd", required_argument, NULL, OPT_STATUS_FD},
        {"bundle", required_argument, NULL, 'b'},
        {"detach", no_argument, NULL, 'd'},
        {"pid-file", required_argument, NULL, OPT_PID_FILE},
        {"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
        {"lsm-profile", required_argument, NULL, OPT_LSM_PROFILE},
        {"lsm-mount-context", required_argument, NULL, OPT_LSM_MOUNT_CONTEXT},
        {"no-subreaper", no_argument, NULL, OPT_NO_SUBREAPER},
        {"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *command = restore ? "restore" : "checkpoint";
    struct brig_ckpt_opts *c = &opts->ckpt;
    uint64_t fd;
    int opt;

    memset(opts, 0, sizeof(*opts));
    c->image_path = "checkpoint";
    c->status_fd = -1;
    *help = false;
    opterr = 0;
    /* Long options with one dash too, as runc's CLI takes them: containerd's shim (go-runc) passes
     * `-no-subreaper` to restore. A single letter that is no long option's prefix stays a short one. */
    while ((opt = getopt_long_only(argc, argv, restore ? "hb:d" : "h", options, NULL)) != -1) {
        bool restore_only = opt == 'b' || opt == 'd' || opt == OPT_PID_FILE || opt == OPT_CONSOLE_SOCKET ||
                            opt == OPT_LSM_PROFILE || opt == OPT_LSM_MOUNT_CONTEXT || opt == OPT_NO_SUBREAPER ||
                            opt == OPT_NO_PIVOT || opt == OPT_TCP_CLOSE;
        bool checkpoint_only = opt == OPT_PARENT_PATH || opt == OPT_LEAVE_RUNNING || opt == OPT_PRE_DUMP ||
                               opt == OPT_PAGE_SERVER || opt == OPT_STATUS_FD;

        if ((restore_only && !restore) || (checkpoint_only && restore))
            return cmd_usage_error(ctx, command, "option `%s` is not one of %s's", argv[optind - 1], command);
        switch (opt) {
        case OPT_IMAGE_PATH:
            c->image_path = optarg;
            break;
        case OPT_WORK_PATH:
            c->work_path = optarg;
            break;
        case OPT_PARENT_PATH:
            c->parent_path = optarg;
            break;
        case OPT_LEAVE_RUNNING:
            c->leave_running = true;
            break;
        case OPT_PRE_DUMP:
            c->pre_dump = true;
            break;
        case OPT_TCP_ESTABLISHED:
            c->tcp_established = true;
            break;
        case OPT_TCP_SKIP_IN_FLIGHT:
            c->tcp_skip_in_flight = true;
            break;
        case OPT_TCP_CLOSE:
            c->tcp_close = true;
            break;
        case OPT_EXT_UNIX_SK:
            c->ext_unix_sk = true;
            break;
        case OPT_SHELL_JOB:
            c->shell_job = true;
            break;
        case OPT_FILE_LOCKS:
            c->file_locks = true;
            break;
        case OPT_LINK_REMAP:
            c->link_remap = true;
            break;
        case OPT_AUTO_DEDUP:
            c->auto_dedup = true;
            break;
        case OPT_PAGE_SERVER:
            c->page_server = optarg;
            break;
        case OPT_MANAGE_CGROUPS_MODE:
            if (brig_ckpt_parse_cg_mode(optarg, &c->cg_mode) < 0)
                return cmd_usage_error(ctx, command, "--manage-cgroups-mode: `%s` is not soft, full, strict or ignore",
                                       optarg);
            break;
        case OPT_EMPTY_NS:
            if (strcmp(optarg, "network") != 0)
                return cmd_usage_error(ctx, command, "--empty-ns: `%s`: only `network` can be left empty", optarg);
            c->empty_netns = true;
            break;
        case OPT_LAZY_PAGES:
            c->lazy_pages = true;
            break;
        case OPT_STATUS_FD:
            if (brig_parse_u64(optarg, &fd) < 0 || fd > 65535)
                return cmd_usage_error(ctx, command, "--status-fd: `%s` is not a file descriptor", optarg);
            c->status_fd = (int) fd;
            break;
        case 'b':
            opts->bundle = optarg;
            break;
        case 'd':
            opts->detach = true;
            break;
        case OPT_PID_FILE:
            opts->pid_file = optarg;
            break;
        case OPT_CONSOLE_SOCKET:
            opts->console_socket = optarg;
            break;
        case OPT_LSM_PROFILE:
            c->lsm_profile = optarg;
            break;
        case OPT_LSM_MOUNT_CONTEXT:
            c->lsm_mount_context = optarg;
            break;
        case OPT_NO_SUBREAPER:
            opts->no_subreaper = true;
            break;
        case OPT_NO_PIVOT:
            c->no_pivot = true;
            break;
        case 'h':
            cmd_print_help(restore ? restore_usage : checkpoint_usage);
            *help = true;
            return 0;
        default:
            return cmd_usage_error(ctx, command, "unknown or incomplete option `%s`", argv[optind - 1]);
        }
    }
    return cmd_take_id(ctx, command, argc, argv, optind, &opts->id);
}

int cmd_checkpoint(struct brig_context *ctx, int argc, char **argv)
{
    struct brig_restore_opts opts;
    struct brig_err *err = NULL;
    bool help;
    int ret = cmd_parse_ckpt_opts(ctx, false, argc, argv, &opts, &help);

    if (ret || help)
        return ret;
    if (brig_container_checkpoint(ctx, opts.id, &opts.ckpt, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
