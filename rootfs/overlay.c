/* The container's root as an overlay of layers: the mount itself. create makes it in the host's mount
 * namespace (as root), the init in the container's (rootless: only inside its own user namespace may an
 * unprivileged user mount), always on the same brig-owned mount point. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "internal.h"
#include "util/util.h"

#define OVERLAY_PARAMS "/sys/module/overlay/parameters"
#define FUSE_SUPER_MAGIC 0x65735546
#define FUSE_LOG "fuse-overlayfs.log"
#define MAX_OPTIONS 32

void brig_overlay_clear(struct brig_overlay *ov)
{
    for (size_t i = 0; i < ov->n_lowers; i++)
        free(ov->lowers[i]);
    free(ov->lowers);
    free(ov->upper);
    free(ov->work);
    free(ov->target);
    free(ov->options);
    memset(ov, 0, sizeof(*ov));
}

/* How the layers are used, not which: lowerdir, upperdir, workdir and datadir stay brig's to set. */
static const char *const allowed_options[] = {"index", "metacopy", "redirect_dir", "xino",
                                              "volatile", "nfs_export", "uuid", "verity"};

int brig_overlay_check_option(const char *option, struct brig_err **err)
{
    size_t len = strcspn(option, "=");

    for (size_t i = 0; i < ARRAY_SIZE(allowed_options); i++)
        if (strlen(allowed_options[i]) == len && !strncmp(option, allowed_options[i], len))
            return 0;
    return brig_err_msg(err, EINVAL,
                        "`%s`: not an overlay option brig passes on (index, metacopy, redirect_dir, xino, volatile, "
                        "nfs_export, uuid, verity)",
                        option);
}

/* One option for the kernel: "key" (a flag) or "key" = "value". */
struct ovl_option {
    char key[32];
    const char *value;
};

static const struct ovl_option *option_asked(const struct ovl_option *opts, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(opts[i].key, key))
            return &opts[i];
    return NULL;
}

/* Asking for `asked` turns on `needs` in the kernel, which brig's explicit off would contradict. */
static bool implied_by_asked(const struct ovl_option *opts, size_t n, const char *key)
{
    static const struct {
        const char *asked, *needs;
    } implied[] = {
        {"metacopy", "redirect_dir"}, {"verity", "metacopy"}, {"verity", "redirect_dir"}, {"nfs_export", "index"},
    };

    for (size_t i = 0; i < ARRAY_SIZE(implied); i++) {
        const struct ovl_option *o = strcmp(implied[i].needs, key) ? NULL : option_asked(opts, n, implied[i].asked);
        if (o && (!o->value || strcmp(o->value, "off")))
            return true;
    }
    return false;
}

/* A parameter this kernel's overlay has; when the module shows none (not loaded yet, on mount(2)), every
 * one brig sets by default is assumed, since all of them are older than the kernels brig runs on. */
static bool kernel_has_param(const char *name)
{
    char path[128];

    if (access(OVERLAY_PARAMS, F_OK) < 0)
        return true;
    snprintf(path, sizeof(path), OVERLAY_PARAMS "/%s", name);
    return access(path, F_OK) == 0;
}

/* The options asked for (`asked`, split in place), then brig's defaults for what was not: a copy-up that
 * depends on the lower's inode (index, metacopy) or a renamed directory that only some kernels follow
 * (redirect_dir) would tie the upper to these exact layers and this kernel, so each is off, said explicitly
 * since a kernel may default to on. In a user namespace the xattrs are user.overlay.*, and redirect_dir
 * must not even be followed there (`off` means `follow` on kernels built with redirect_always_follow). */
static size_t build_options(char *asked, bool in_user_ns, struct ovl_option *out)
{
    static const char *const defaults[] = {"index", "metacopy", "redirect_dir"};
    size_t n = 0;
    char *save = NULL;

    for (char *opt = asked ? strtok_r(asked, ",", &save) : NULL; opt && n < MAX_OPTIONS - 4;
         opt = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(opt, '=');
        size_t key_len = eq ? (size_t) (eq - opt) : strlen(opt);

        if (key_len >= sizeof(out[n].key))
            continue;
        memcpy(out[n].key, opt, key_len);
        out[n].key[key_len] = '\0';
        out[n].value = eq ? eq + 1 : NULL;
        n++;
    }
    for (size_t i = 0; i < ARRAY_SIZE(defaults); i++) {
        if (option_asked(out, n, defaults[i]) || implied_by_asked(out, n, defaults[i]) ||
            !kernel_has_param(defaults[i]))
            continue;
        snprintf(out[n].key, sizeof(out[n].key), "%s", defaults[i]);
        out[n].value = in_user_ns && !strcmp(defaults[i], "redirect_dir") ? "nofollow" : "off";
        n++;
    }
    if (in_user_ns) {
        snprintf(out[n].key, sizeof(out[n].key), "userxattr");
        out[n++].value = NULL;
    }
    return n;
}

/* Overlay takes one `lowerdir+` per layer from 6.5 on; before, one `lowerdir` string that it splits at
 * `,` and `:`. */
static bool kernel_has_lowerdir_plus(void)
{
    struct utsname u;
    unsigned major = 0, minor = 0;

    if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return false;
    return major > 6 || (major == 6 && minor >= 5);
}

/* The layers as /proc/self/fd/N, top first, for the one-string form: short and free of `:` and `,`
 * whatever the real paths hold. NULL when they do not fit in a page. */
static char *lowerdir_string(const int *lower_fds, size_t n)
{
    size_t cap = (size_t) getpagesize();
    char *out = calloc(1, cap);
    size_t len = 0;

    if (!out)
        return NULL;
    for (size_t i = n; i-- > 0;) {
        int w = snprintf(out + len, cap - len, "%s/proc/self/fd/%d", len ? ":" : "", lower_fds[i]);
        if (w < 0 || (size_t) w >= cap - len) {
            free(out);
            return NULL;
        }
        len += (size_t) w;
    }
    return out;
}

/* The last error the kernel logged on the filesystem context, if it logged one. */
static void fs_context_message(int fsfd, char *buf, size_t len)
{
    char line[512];
    ssize_t n;

    buf[0] = '\0';
    while ((n = read(fsfd, line, sizeof(line) - 1)) > 0) {
        while (n > 0 && line[n - 1] == '\n')
            n--;
        line[n] = '\0';
        if (n > 2 && line[0] == 'e' && line[1] == ' ')
            snprintf(buf, len, "%s", line + 2);
        else if (!buf[0])
            snprintf(buf, len, "%s", n > 2 && line[1] == ' ' ? line + 2 : line);
    }
}

static int fs_error(int fsfd, const char *target, const char *step, struct brig_err **err)
{
    int saved = errno;
    char message[512];

    fs_context_message(fsfd, message, sizeof(message));
    if (message[0])
        return brig_err_set(err, saved, "mount overlay on `%s`: %s: %s", target, step, message);
    /* Some refusals (conflicting options) go to the kernel log only. */
    return brig_err_set(err, saved, "mount overlay on `%s`: %s (the kernel log may say why)", target, step);
}

/* fsconfig takes strings of at most 255 bytes: a longer path goes as the /proc/self/fd link of its fd,
 * which overlay resolves to the same directory. */
static const char *fsconfig_path(const char *path, int fd, char buf[BRIG_PROC_FD_LEN])
{
    return strlen(path) < 256 ? path : brig_proc_fd_path(buf, fd);
}

/* The new mount API with one `lowerdir+` per layer (6.5 on). Returns -ENOSYS, with *err unset, where the
 * kernel has neither. */
static int mount_new_api(const struct brig_overlay *ov, const int *lower_fds, int upper_fd, int work_fd,
                         const struct ovl_option *opts, size_t n_opts, struct brig_err **err)
{
    cleanup_close int fsfd = -1;
    cleanup_close int mfd = -1;
    char path_buf[BRIG_PROC_FD_LEN];
    char step[128];

    if (!kernel_has_lowerdir_plus())
        return -ENOSYS;
    fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
    if (fsfd < 0)
        return errno == ENOSYS ? -ENOSYS : brig_err_sys(err, "mount overlay on `%s`: fsopen", ov->target);
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "overlay", 0) < 0)
        return fs_error(fsfd, ov->target, "source", err);
    for (size_t i = ov->n_lowers; i-- > 0;) {
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", fsconfig_path(ov->lowers[i], lower_fds[i], path_buf),
                     0) < 0) {
            snprintf(step, sizeof(step), "layer `%.64s`", ov->lowers[i]);
            return fs_error(fsfd, ov->target, step, err);
        }
    }
    if (ov->upper && fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", fsconfig_path(ov->upper, upper_fd, path_buf),
                              0) < 0)
        return fs_error(fsfd, ov->target, "upperdir", err);
    if (ov->upper && fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", fsconfig_path(ov->work, work_fd, path_buf),
                              0) < 0)
        return fs_error(fsfd, ov->target, "workdir", err);
    for (size_t i = 0; i < n_opts; i++) {
        int r = opts[i].value ? fsconfig(fsfd, FSCONFIG_SET_STRING, opts[i].key, opts[i].value, 0)
                              : fsconfig(fsfd, FSCONFIG_SET_FLAG, opts[i].key, NULL, 0);
        if (r < 0) {
            snprintf(step, sizeof(step), "option `%.31s%s%.48s`", opts[i].key, opts[i].value ? "=" : "",
                     opts[i].value ? opts[i].value : "");
            return fs_error(fsfd, ov->target, step, err);
        }
    }
    if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return fs_error(fsfd, ov->target, "create", err);
    mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, ov->upper ? 0 : MOUNT_ATTR_RDONLY);
    if (mfd < 0)
        return fs_error(fsfd, ov->target, "fsmount", err);
    if (move_mount(mfd, "", AT_FDCWD, ov->target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return brig_err_sys(err, "mount overlay on `%s`: move_mount", ov->target);
    return 0;
}

/* Kernels before 6.5: one option string for mount(2), which must fit in a page (fsconfig would take only
 * 255 bytes of it). */
static int mount_legacy(const struct brig_overlay *ov, const int *lower_fds, int upper_fd, int work_fd,
                        const struct ovl_option *opts, size_t n_opts, struct brig_err **err)
{
    cleanup_free char *lowerdir = lowerdir_string(lower_fds, ov->n_lowers);
    cleanup_free char *data = NULL;
    size_t len = 0;
    FILE *out;

    if (!lowerdir)
        return brig_err_set(err, E2BIG, "mount overlay on `%s`: %zu layers are more than mount(2) takes",
                            ov->target, ov->n_lowers);
    out = open_memstream(&data, &len);
    if (!out)
        return brig_err_set(err, ENOMEM, "mount overlay on `%s`", ov->target);
    fprintf(out, "lowerdir=%s", lowerdir);
    if (ov->upper)
        fprintf(out, ",upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d", upper_fd, work_fd);
    for (size_t i = 0; i < n_opts; i++)
        fprintf(out, ",%s%s%s", opts[i].key, opts[i].value ? "=" : "", opts[i].value ? opts[i].value : "");
    fclose(out);
    if (!data || len >= (size_t) getpagesize())
        return brig_err_set(err, E2BIG, "mount overlay on `%s`: %zu layers are more than mount(2) takes",
                            ov->target, ov->n_lowers);
    if (mount("overlay", ov->target, "overlay", ov->upper ? 0 : MS_RDONLY, data) < 0)
        return brig_err_sys(err, "mount overlay on `%s` (the kernel log says why)", ov->target);
    return 0;
}

static int mount_kernel(const struct brig_overlay *ov, const int *lower_fds, bool in_user_ns,
                        struct brig_err **err)
{
    cleanup_close int upper_fd = -1;
    cleanup_close int work_fd = -1;
    cleanup_free char *asked = ov->options ? strdup(ov->options) : NULL;
    struct ovl_option opts[MAX_OPTIONS];
    size_t n_opts;
    int ret;

    if (ov->options && !asked)
        return brig_err_set(err, ENOMEM, "overlay options");
    n_opts = build_options(asked, in_user_ns, opts);
    if (ov->upper) {
        upper_fd = open(ov->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (upper_fd < 0)
            return brig_err_sys(err, "upper directory `%s`", ov->upper);
        work_fd = open(ov->work, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (work_fd < 0)
            return brig_err_sys(err, "work directory `%s`", ov->work);
    }
    ret = mount_new_api(ov, lower_fds, upper_fd, work_fd, opts, n_opts, err);
    if (ret == -ENOSYS && !*err)
        ret = mount_legacy(ov, lower_fds, upper_fd, work_fd, opts, n_opts, err);
    return ret;
}

/* root.readonly over a single layer: overlay wants two lowers without an upper, and a read-only bind of
 * the one layer is the same root for less. */
static int bind_readonly(const struct brig_overlay *ov, int lower_fd, struct brig_err **err)
{
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    char proc_path[BRIG_PROC_FD_LEN];
    cleanup_close int tree =
        open_tree(lower_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);

    if (tree >= 0) {
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0 ||
            move_mount(tree, "", AT_FDCWD, ov->target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
            return brig_err_sys(err, "bind layer `%s` read-only on `%s`", ov->lowers[0], ov->target);
        return 0;
    }
    if (errno != ENOSYS)
        return brig_err_sys(err, "bind layer `%s` on `%s`", ov->lowers[0], ov->target);
    if (mount(brig_proc_fd_path(proc_path, lower_fd), ov->target, NULL, MS_BIND | MS_REC, NULL) < 0)
        return brig_err_sys(err, "bind layer `%s` on `%s`", ov->lowers[0], ov->target);
    if (mount(NULL, ov->target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
        return brig_err_sys(err, "remount `%s` read-only", ov->target);
    return 0;
}

/* ---- fuse-overlayfs ---- */

static int fuse_options(const struct brig_overlay *ov, char **out, struct brig_err **err)
{
    size_t len = 0;
    FILE *f = open_memstream(out, &len);

    if (!f)
        return brig_err_set(err, ENOMEM, "fuse-overlayfs options");
    /* Its option parser splits at `,` and `:` and knows no escapes. */
    for (size_t i = 0; i < ov->n_lowers + 2; i++) {
        const char *p = i < ov->n_lowers ? ov->lowers[i] : i == ov->n_lowers ? ov->upper : ov->work;
        if (p && strpbrk(p, ":,\\")) {
            fclose(f);
            return brig_err_msg(err, EINVAL, "fuse-overlayfs: `%s`: it cannot take a path with `:`, `,` or `\\`",
                                p);
        }
    }
    fputs("lowerdir=", f);
    for (size_t i = ov->n_lowers; i-- > 0;)
        fprintf(f, "%s%s", ov->lowers[i], i ? ":" : "");
    if (ov->upper)
        fprintf(f, ",upperdir=%s,workdir=%s", ov->upper, ov->work);
    fclose(f);
    return *out ? 0 : brig_err_set(err, ENOMEM, "fuse-overlayfs options");
}

/* The last line fuse-overlayfs wrote, for the error message. */
static void fuse_log_tail(int log_dir_fd, char *buf, size_t len)
{
    cleanup_free char *text = NULL;
    char *end, *start;

    buf[0] = '\0';
    if (log_dir_fd < 0 || brig_read_file_at(log_dir_fd, FUSE_LOG, &text, NULL, NULL) < 0 || !text)
        return;
    end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == ' '))
        *--end = '\0';
    start = strrchr(text, '\n');
    snprintf(buf, len, "%s", start ? start + 1 : text);
}

/* fuse-overlayfs in the foreground, as a child that the kernel kills when the init (by then the
 * container's process) exits: it then lives as long as the container and in its pid namespace. The mount
 * is ready when the target turns into a FUSE filesystem. The daemon then keeps this mount namespace to
 * itself and the init goes on in a copy of it (which holds the mount): pivot_root moves every process whose
 * root is the old root, and a daemon whose root became its own mount would wait on itself at its first
 * path lookup. */
static int mount_fuse(const struct brig_overlay *ov, int log_dir_fd, struct brig_err **err)
{
    cleanup_free char *options = NULL;
    cleanup_close int log_fd = -1;
    pid_t parent = getpid(), pid;
    char tail[512];
    int ret, status;

    ret = fuse_options(ov, &options, err);
    if (ret < 0)
        return ret;
    log_fd = log_dir_fd >= 0 ? openat(log_dir_fd, FUSE_LOG, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    pid = fork();
    if (pid < 0)
        return brig_err_sys(err, "fuse-overlayfs: fork");
    if (pid == 0) {
        char *argv[] = {"fuse-overlayfs", "-f", "-o", options, ov->target, NULL};
        sigset_t none;
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(126);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (null_fd >= 0) {
            dup2(null_fd, 0);
            dup2(null_fd, 1);
        }
        dup2(log_fd >= 0 ? log_fd : null_fd, 2);
        brig_close_fds_except((int[]){-1}, 1, 3);
        execvp(argv[0], argv);
        _exit(127);
    }
    for (int waited_ms = 0; waited_ms < 10000; waited_ms++) {
        struct statfs sfs;
        struct timespec ms = {.tv_nsec = 1000000};

        if (waitpid(pid, &status, WNOHANG) == pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return brig_err_msg(err, ENOENT,
                                    "fuse-overlayfs: not found in PATH (Debian package fuse-overlayfs)");
            fuse_log_tail(log_dir_fd, tail, sizeof(tail));
            return brig_err_msg(err, EIO, "fuse-overlayfs exited (status %d)%s%s",
                                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                                tail[0] ? ": " : "", tail);
        }
        if (statfs(ov->target, &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC) {
            if (unshare(CLONE_NEWNS) < 0)
                return brig_err_sys(err, "fuse-overlayfs: leave its mount namespace");
            return 0;
        }
        nanosleep(&ms, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return brig_err_msg(err, ETIMEDOUT, "fuse-overlayfs: no mount on `%s` after 10 s", ov->target);
}

int brig_overlay_mount(const struct brig_overlay *ov, bool in_user_ns, int log_dir_fd, struct brig_err **err)
{
    int *lower_fds = calloc(ov->n_lowers ? ov->n_lowers : 1, sizeof(int));
    cleanup_err struct brig_err *fuse_err = NULL;
    size_t opened = 0;
    int ret = 0;

    if (!lower_fds)
        return brig_err_set(err, ENOMEM, "overlay layers");
    if (ov->n_lowers == 0)
        ret = brig_err_msg(err, EINVAL, "overlay on `%s`: no layers", ov->target);
    for (; ret == 0 && opened < ov->n_lowers; opened++) {
        lower_fds[opened] = open(ov->lowers[opened], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (lower_fds[opened] < 0)
            ret = brig_err_sys(err, "layer `%s`", ov->lowers[opened]);
    }
    if (ret < 0)
        goto out;
    if (!ov->upper && ov->n_lowers == 1)
        ret = bind_readonly(ov, lower_fds[0], err);
    else if (in_user_ns && ov->driver == BRIG_OVERLAY_FUSE)
        ret = mount_fuse(ov, log_dir_fd, err);
    else
        ret = mount_kernel(ov, lower_fds, in_user_ns, err);
    /* Kernels before 5.11 keep overlay from user namespaces, and some refuse these layers' filesystems. */
    if (ret < 0 && in_user_ns && ov->driver == BRIG_OVERLAY_AUTO && (ov->upper || ov->n_lowers > 1)) {
        if (mount_fuse(ov, log_dir_fd, &fuse_err) == 0) {
            brig_err_free(err);
            ret = 0;
        } else {
            cleanup_free char *kernel_msg = steal_ptr((*err)->msg);
            int errnum = (*err)->errnum;
            brig_err_free(err);
            ret = brig_err_msg(err, errnum ? errnum : EINVAL, "%s; fallback: %s", kernel_msg, fuse_err->msg);
        }
    }
out:
    for (size_t i = 0; i < opened; i++)
        if (lower_fds[i] >= 0)
            close(lower_fds[i]);
    free(lower_fds);
    return ret;
}
