/* The flags of checkpoint and restore, and CRIU configuration files (org.criu.config, /etc/criu/...). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

int brig_ckpt_parse_cg_mode(const char *text, enum brig_ckpt_cg_mode *mode)
{
    static const struct {
        const char *name;
        enum brig_ckpt_cg_mode mode;
    } modes[] = {{"soft", BRIG_CKPT_CG_SOFT}, {"full", BRIG_CKPT_CG_FULL}, {"strict", BRIG_CKPT_CG_STRICT},
                 {"ignore", BRIG_CKPT_CG_IGNORE}};

    for (size_t i = 0; text && i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (!strcmp(text, modes[i].name)) {
            *mode = modes[i].mode;
            return 0;
        }
    }
    return -EINVAL;
}

void brig_ckpt_opts_clear(struct brig_ckpt_opts *opts)
{
    brig_strv_free(opts->skip_mounts);
    brig_strv_free(opts->enable_fs);
    brig_strv_free(opts->externals);
    opts->skip_mounts = opts->enable_fs = opts->externals = NULL;
}

/* "ADDR:PORT", ADDR possibly "[v6]". */
static int split_page_server(const char *text, char *addr, size_t len, int *port)
{
    const char *colon = strrchr(text, ':');
    uint64_t value;
    size_t addr_len;

    if (!colon || colon == text || brig_parse_u64(colon + 1, &value) < 0 || value == 0 || value > 65535)
        return -EINVAL;
    addr_len = (size_t) (colon - text);
    if (text[0] == '[' && colon[-1] == ']') {
        text++;
        addr_len -= 2;
    }
    if (addr_len == 0 || addr_len >= len)
        return -EINVAL;
    memcpy(addr, text, addr_len);
    addr[addr_len] = '\0';
    *port = (int) value;
    return 0;
}

int ckpt_page_server(const struct brig_ckpt_opts *opts, char *addr, size_t len, int *port)
{
    return split_page_server(opts->page_server, addr, len, port);
}

int brig_ckpt_opts_check(const struct brig_ckpt_opts *opts, bool restore, struct brig_err **err)
{
    char addr[256];
    int port;

    if (!opts->image_path || !*opts->image_path)
        return brig_err_msg(err, EINVAL, "--image-path: must not be empty");
    if (opts->page_server && split_page_server(opts->page_server, addr, sizeof(addr), &port) < 0)
        return brig_err_msg(err, EINVAL, "--page-server: `%s` is not ADDRESS:PORT", opts->page_server);
    if (opts->pre_dump && opts->leave_running)
        return brig_err_msg(err, EINVAL, "--pre-dump: the container always runs on after a pre-dump; drop --leave-running");
    if (opts->lazy_pages && opts->pre_dump)
        return brig_err_msg(err, EINVAL, "--lazy-pages: not with --pre-dump (a pre-dump copies memory, it serves none)");
    /* The dump serves what it leaves behind: `criu lazy-pages --page-server` must know where. */
    if (opts->lazy_pages && !restore && !opts->page_server)
        return brig_err_msg(err, EINVAL,
                            "--lazy-pages: needs --page-server ADDRESS:PORT (where the dump serves its memory to `criu "
                            "lazy-pages`)");
    if (opts->status_fd >= 0 && !opts->lazy_pages)
        return brig_err_msg(err, EINVAL, "--status-fd: only with --lazy-pages (it tells when the lazy-pages server is ready)");
    if (opts->status_fd >= 0 && fcntl(opts->status_fd, F_GETFD) < 0)
        return brig_err_msg(err, EBADF, "--status-fd: %d is not an open file descriptor", opts->status_fd);
    if (restore && opts->pre_dump)
        return brig_err_msg(err, EINVAL, "--pre-dump: a checkpoint flag, not a restore one");
    if (!restore && opts->tcp_close)
        return brig_err_msg(err, EINVAL, "--tcp-close: a restore flag, not a checkpoint one");
    return 0;
}

static int strv_add(char ***strv, const char *value)
{
    size_t n = 0;
    char **grown;

    while (*strv && (*strv)[n])
        n++;
    grown = realloc(*strv, (n + 2) * sizeof(char *));
    if (!grown)
        return -ENOMEM;
    *strv = grown;
    grown[n] = strdup(value);
    grown[n + 1] = NULL;
    return grown[n] ? 0 : -ENOMEM;
}

static int parse_uint(const char *value, unsigned *out)
{
    uint64_t v;

    if (!value || brig_parse_u64(value, &v) < 0 || v > UINT_MAX)
        return -EINVAL;
    *out = (unsigned) v;
    return 0;
}

/* One option of a CRIU configuration file. Returns 0, or -EINVAL with *why set. */
static int apply_option(struct brig_ckpt_opts *opts, const char *name, const char *value, const char **why)
{
    static const struct {
        const char *name;
        size_t offset;
    } flags[] = {
        {"tcp-established", offsetof(struct brig_ckpt_opts, tcp_established)},
        {"tcp-skip-in-flight", offsetof(struct brig_ckpt_opts, tcp_skip_in_flight)},
        {"tcp-close", offsetof(struct brig_ckpt_opts, tcp_close)},
        {"ext-unix-sk", offsetof(struct brig_ckpt_opts, ext_unix_sk)},
        {"shell-job", offsetof(struct brig_ckpt_opts, shell_job)},
        {"file-locks", offsetof(struct brig_ckpt_opts, file_locks)},
        {"link-remap", offsetof(struct brig_ckpt_opts, link_remap)},
        {"auto-dedup", offsetof(struct brig_ckpt_opts, auto_dedup)},
        {"weak-sysctls", offsetof(struct brig_ckpt_opts, weak_sysctls)},
        {"evasive-devices", offsetof(struct brig_ckpt_opts, evasive_devices)},
        {"orphan-pts-master", offsetof(struct brig_ckpt_opts, orphan_pts_master)},
    };
    unsigned number;

    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (!strcmp(name, flags[i].name)) {
            if (value) {
                *why = "takes no value";
                return -EINVAL;
            }
            *(bool *) ((char *) opts + flags[i].offset) = true;
            return 0;
        }
    }
    if (!strcmp(name, "ghost-limit") || !strcmp(name, "timeout") || !strcmp(name, "log-level") ||
        !strcmp(name, "v")) {
        if (parse_uint(value, &number) < 0) {
            *why = "needs a number";
            return -EINVAL;
        }
        if (!strcmp(name, "ghost-limit"))
            opts->ghost_limit = number;
        else if (!strcmp(name, "timeout"))
            opts->timeout = number;
        else
            opts->log_level = (int) number;
        return 0;
    }
    if (!strcmp(name, "manage-cgroups") || !strcmp(name, "manage-cgroups-mode")) {
        if (brig_ckpt_parse_cg_mode(value, &opts->cg_mode) < 0) {
            *why = "needs soft, full, strict or ignore";
            return -EINVAL;
        }
        return 0;
    }
    if (!strcmp(name, "skip-mnt") || !strcmp(name, "enable-fs") || !strcmp(name, "external")) {
        char ***list = !strcmp(name, "skip-mnt") ? &opts->skip_mounts
                       : !strcmp(name, "enable-fs") ? &opts->enable_fs
                                                    : &opts->externals;
        if (!value || !*value) {
            *why = "needs a value";
            return -EINVAL;
        }
        if (strv_add(list, value) < 0) {
            *why = "out of memory";
            return -ENOMEM;
        }
        return 0;
    }
    *why = "brig cannot pass this option to CRIU";
    return -EINVAL;
}

int brig_ckpt_config_apply(const char *text, const char *origin, struct brig_ckpt_opts *opts, struct brig_err **err)
{
    unsigned line_no = 0;

    while (text && *text) {
        size_t len = strcspn(text, "\n");
        char line[4096];
        char *name, *value, *end;
        const char *why = NULL;

        line_no++;
        if (len >= sizeof(line))
            return brig_err_msg(err, EINVAL, "%s:%u: line too long", origin, line_no);
        memcpy(line, text, len);
        line[len] = '\0';
        text += len + (text[len] == '\n');
        if ((end = strchr(line, '#')))
            *end = '\0';
        name = line + strspn(line, " \t");
        end = name + strlen(name);
        while (end > name && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        if (!*name)
            continue;
        while (*name == '-')
            name++;
        value = name + strcspn(name, " \t=");
        if (*value) {
            *value++ = '\0';
            value += strspn(value, " \t=");
            if (!*value)
                value = NULL;
        } else {
            value = NULL;
        }
        if (apply_option(opts, name, value, &why) < 0)
            return brig_err_msg(err, EINVAL, "%s:%u: `%s`: %s", origin, line_no, name, why);
    }
    return 0;
}

int brig_ckpt_config_load(const struct brig_spec *spec, struct brig_ckpt_opts *opts, struct brig_err **err)
{
    const char *annotated = spec ? brig_spec_annotation(spec, BRIG_CKPT_CONFIG_ANNOTATION) : NULL;
    const char *candidates[] = {BRIG_CKPT_CONFIG_BRIG, BRIG_CKPT_CONFIG_RUNC};
    cleanup_free char *text = NULL;
    size_t len = 0;
    int ret;

    if (annotated) {
        /* runc's contract: an empty value turns every configuration file off. */
        if (!*annotated)
            return 0;
        ret = brig_read_file_at(AT_FDCWD, annotated, &text, &len, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "annotations[\"%s\"]", BRIG_CKPT_CONFIG_ANNOTATION);
        return brig_ckpt_config_apply(text, annotated, opts, err);
    }
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        if (access(candidates[i], F_OK) < 0)
            continue;
        ret = brig_read_file_at(AT_FDCWD, candidates[i], &text, &len, err);
        if (ret < 0)
            return ret;
        return brig_ckpt_config_apply(text, candidates[i], opts, err);
    }
    return 0;
}
