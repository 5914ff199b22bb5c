#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "../image/image.h"
#include "../util/util.h"

static const char usage[] = "Usage: brig spec [options]\n"
                            "\n"
                            "Write a default config.json into the bundle directory (runs `sh` in ./rootfs).\n"
                            "\n"
                            "Options:\n"
                            "  -b, --bundle DIR   where to write config.json (default: current directory)\n"
                            "      --rootless     a config for an unprivileged user (user namespace, no network ns)\n"
                            "      --image LAYOUT[:REF]  the process (args, env, cwd, user) from an OCI image; no\n"
                            "                     root.path: create builds the root from the image's layers, which\n"
                            "                     are unpacked now\n"
                            "      --store DIR    where the image's layers are unpacked (as create --store)\n";

int cmd_spec(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"bundle", required_argument, NULL, 'b'},
        {"rootless", no_argument, NULL, 'r'},
        {"image", required_argument, NULL, 'i'},
        {"store", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_err *err = NULL;
    const char *bundle = ".";
    bool rootless = false;
    const char *image = NULL;
    const char *store = NULL;
    cleanup_free char *json = NULL;
    cleanup_free char *notice = NULL;
    cleanup_free char *path = NULL;
    cleanup_close int fd = -1;
    int opt, ret;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "b:h", options, NULL)) != -1) {
        switch (opt) {
        case 'b':
            bundle = optarg;
            break;
        case 'r':
            rootless = true;
            break;
        case 'i':
            image = optarg;
            break;
        case 's':
            store = optarg;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "spec", "unknown or incomplete option `%s`", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cmd_usage_error(ctx, "spec", "unexpected argument `%s`", argv[optind]);
    if (asprintf(&path, "%s/config.json", bundle) < 0)
        return 1;
    /* Before an image is unpacked: an existing config stays (checked again when it is written). */
    if (image && access(path, F_OK) == 0) {
        brig_err_msg(&err, EEXIST, "spec: `%s` already exists", path);
        return cmd_fail(ctx, err);
    }
    if (image)
        ret = brig_image_spec_json(image, store, ctx->rootless, rootless, geteuid(), getegid(), &json, &notice, &err);
    else
        ret = brig_spec_default_json(rootless, geteuid(), getegid(), &json, &err);
    if (ret < 0)
        return cmd_fail(ctx, err);
    /* Like runc: never overwrite an existing config. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            brig_err_msg(&err, EEXIST, "spec: `%s` already exists", path);
        else
            brig_err_sys(&err, "spec: create `%s`", path);
        return cmd_fail(ctx, err);
    }
    ret = brig_write_all(fd, json, strlen(json));
    if (ret == 0)
        ret = brig_write_all(fd, "\n", 1);
    if (ret < 0) {
        brig_err_set(&err, -ret, "spec: write `%s`", path);
        return cmd_fail(ctx, err);
    }
    if (notice)
        brig_log(ctx, BRIG_LOG_WARNING, "%s", notice);
    return 0;
}
