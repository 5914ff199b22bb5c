#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "internal.h"
#include "../image/image.h"
#include "../util/util.h"

/* A state directory being removed is renamed to this prefix and its inode number. No id can take such a
 * name (ids never start with `.`), and `list` skips hidden names. */
#define REMOVING_PREFIX ".removing-"
#define UNPACK_PREFIX ".unpack-"

/* Whether `name` under the root is the directory open at `dir_fd`. */
static bool still_linked(int root_fd, const char *name, int dir_fd)
{
    struct stat named, open_dir;

    if (fstatat(root_fd, name, &named, AT_SYMLINK_NOFOLLOW) < 0 || fstat(dir_fd, &open_dir) < 0)
        return false;
    return named.st_dev == open_dir.st_dev && named.st_ino == open_dir.st_ino;
}

int brig_validate_id(const char *id, struct brig_err **err)
{
    size_t len;

    if (!id || !*id)
        return brig_err_msg(err, EINVAL, "container id must not be empty");
    len = strlen(id);
    if (len > 1024)
        return brig_err_msg(err, EINVAL, "container id `%.32s...` is longer than 1024 bytes", id);
    if (id[0] == '.')
        return brig_err_msg(err, EINVAL, "invalid container id `%s`: it must not start with `.`", id);
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
            c == '-' || c == '.')
            continue;
        /* Quoted safely: the message must stay one printable line whatever the id holds. */
        if (c > 0x20 && c < 0x7f)
            return brig_err_msg(err, EINVAL, "invalid container id `%.64s`: character `%c` is not allowed", id, c);
        return brig_err_msg(err, EINVAL, "invalid container id: byte 0x%02x at offset %zu is not allowed",
                            (unsigned char) c, i);
    }
    return 0;
}

int brig_store_open_root(const struct brig_context *ctx, bool create, int *root_fd, struct brig_err **err)
{
    int fd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT && create) {
        int ret = brig_mkdir_p(ctx->root, 0711, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "state root");
        fd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0)
        return brig_err_sys(err, "open state root `%s`", ctx->root);
    *root_fd = fd;
    return 0;
}

static int remove_entries(int dir_fd);

static int make_fresh(int root_fd, const char *name)
{
    cleanup_close int stale = -1;

    if (mkdirat(root_fd, name, 0711) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    /* Left by a create that had this pid and died before its rename. */
    stale = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (stale >= 0 && flock(stale, LOCK_EX | LOCK_NB) == 0 && remove_entries(stale) == 0)
        unlinkat(root_fd, name, AT_REMOVEDIR);
    return mkdirat(root_fd, name, 0711) == 0 ? 0 : -errno;
}

int brig_store_create(const struct brig_context *ctx, const char *id, struct brig_container_dir *dir,
                      struct brig_err **err)
{
    char fresh[sizeof(REMOVING_PREFIX) + 32];
    int ret;

    dir->root_fd = dir->dir_fd = -1;
    dir->id = NULL;
    ret = brig_store_open_root(ctx, true, &dir->root_fd, err);
    if (ret < 0)
        return ret;
    /* Made and locked under a hidden name, then renamed to the id: the id never names a directory that is
     * empty and unlocked, which a delete --force would take for a create that died and remove from under
     * this one. One that dies before the rename leaves a hidden directory that removals sweep. */
    snprintf(fresh, sizeof(fresh), REMOVING_PREFIX "new-%d", (int) getpid());
    ret = make_fresh(dir->root_fd, fresh);
    if (ret < 0) {
        ret = brig_err_set(err, -ret, "create state directory `%s/%s`", ctx->root, id);
        brig_store_close(dir);
        return ret;
    }
    dir->dir_fd = openat(dir->root_fd, fresh, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir->dir_fd < 0 || flock(dir->dir_fd, LOCK_EX) < 0) {
        ret = brig_err_sys(err, "open state directory `%s/%s`", ctx->root, id);
        unlinkat(dir->root_fd, fresh, AT_REMOVEDIR);
        brig_store_close(dir);
        return ret;
    }
    if (renameat2(dir->root_fd, fresh, dir->root_fd, id, RENAME_NOREPLACE) < 0) {
        ret = errno == EEXIST ? brig_err_msg(err, EEXIST, "container `%s` already exists", id)
                              : brig_err_sys(err, "create state directory `%s/%s`", ctx->root, id);
        unlinkat(dir->root_fd, fresh, AT_REMOVEDIR);
        brig_store_close(dir);
        return ret;
    }
    dir->id = strdup(id);
    return 0;
}

int brig_store_lock(struct brig_container_dir *dir, bool lock, struct brig_err **err)
{
    if (flock(dir->dir_fd, lock ? LOCK_EX : LOCK_UN) < 0)
        return brig_err_sys(err, "lock container `%s`", dir->id);
    return 0;
}

static bool record_is(int dir_fd, const char *text, size_t len)
{
    char buf[4096];
    cleanup_close int fd = openat(dir_fd, BRIG_INIT_RECORD, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n;

    if (fd < 0 || len >= sizeof(buf))
        return false;
    n = read(fd, buf, sizeof(buf));
    return n == (ssize_t) len && memcmp(buf, text, len) == 0;
}

static int save_init_record(const struct brig_container_dir *dir, const struct brig_state *state,
                            struct brig_err **err)
{
    cleanup_free char *text = NULL;
    int len;

    len = asprintf(&text, "brig-init-record 1\npid %d\nstart %" PRIu64 "\njoined %d\n%s%s%s", (int) state->pid,
                   state->init_start_time, state->cgroup_joined ? 1 : 0, state->cgroup_path ? "cgroup " : "",
                   state->cgroup_path ? state->cgroup_path : "", state->cgroup_path ? "\n" : "");
    if (len < 0) {
        text = NULL;
        return brig_err_set(err, ENOMEM, "init record of `%s`", dir->id);
    }
    /* Most saves change only the status: reading the record is cheaper than replacing it. */
    if (record_is(dir->dir_fd, text, (size_t) len))
        return 0;
    return brig_write_file_atomic_at(dir->dir_fd, BRIG_INIT_RECORD, text, (size_t) len, 0600, err);
}

/* The minimal state an init record gives: what delete --force needs to find the init and the cgroup. */
static int read_init_record(const struct brig_container_dir *dir, struct brig_state **out, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    cleanup_free char *cgroup_path = NULL;
    struct brig_state *st;
    size_t len = 0;
    int pid = 0, joined = 0, used = 0;
    uint64_t start = 0;
    const char *rest;
    int ret;

    ret = brig_read_file_at(dir->dir_fd, BRIG_INIT_RECORD, &text, &len, err);
    if (ret < 0)
        return ret;
    /* The file is written whole or not at all; anything else in it is not brig's. */
    if (strlen(text) != len ||
        sscanf(text, "brig-init-record 1\npid %d\nstart %" SCNu64 "\njoined %d\n%n", &pid, &start, &joined, &used) <
            3 ||
        used == 0 || pid < 0 || (joined != 0 && joined != 1))
        return brig_err_msg(err, EINVAL, "`%s`: not an init record", BRIG_INIT_RECORD);
    rest = text + used;
    if (*rest) {
        size_t n = strlen(rest);
        if (strncmp(rest, "cgroup /", 8) != 0 || rest[n - 1] != '\n')
            return brig_err_msg(err, EINVAL, "`%s`: not an init record", BRIG_INIT_RECORD);
        cgroup_path = strndup(rest + 7, n - 8);
        if (!cgroup_path)
            return brig_err_set(err, ENOMEM, "init record");
    }
    st = calloc(1, sizeof(*st));
    if (!st)
        return brig_err_set(err, ENOMEM, "init record");
    st->id = strdup(dir->id);
    st->pid = pid;
    st->init_start_time = start;
    st->cgroup_joined = joined;
    st->cgroup_path = steal_ptr(cgroup_path);
    st->lost = true;
    *out = st;
    return 0;
}

static int open_store(const struct brig_context *ctx, const char *id, bool lock, bool fall_back,
                      struct brig_container_dir *dir, struct brig_state **state, struct brig_err **err)
{
    cleanup_free char *json = NULL;
    size_t len = 0;
    int ret;

    dir->root_fd = dir->dir_fd = -1;
    dir->id = NULL;
    ret = brig_validate_id(id, err);
    if (ret < 0)
        return ret;
    ret = brig_store_open_root(ctx, false, &dir->root_fd, err);
    if (ret == -ENOENT) {
        brig_err_free(err);
        return brig_err_msg(err, ENOENT, "container `%s` does not exist", id);
    }
    if (ret < 0)
        return ret;
    dir->dir_fd = openat(dir->root_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir->dir_fd < 0) {
        ret = errno == ENOENT ? brig_err_msg(err, ENOENT, "container `%s` does not exist", id)
                              : brig_err_sys(err, "open state directory of `%s`", id);
        brig_store_close(dir);
        return ret;
    }
    if (lock && flock(dir->dir_fd, LOCK_EX) < 0) {
        ret = brig_err_sys(err, "lock container `%s`", id);
        brig_store_close(dir);
        return ret;
    }
    dir->id = strdup(id);
    ret = brig_read_file_at(dir->dir_fd, BRIG_STATE_FILE, &json, &len, err);
    if (ret == -ENOENT) {
        brig_err_free(err);
        /* A removal renames the directory away before it empties it: a directory no longer under its id
         * is a container that is gone, not one still being created. */
        if (!still_linked(dir->root_fd, id, dir->dir_fd)) {
            brig_store_close(dir);
            return brig_err_msg(err, ENOENT, "container `%s` does not exist", id);
        }
        /* A create under way, or one that died before writing its state: only delete may touch it. */
        *state = NULL;
        if (fall_back)
            read_init_record(dir, state, NULL);
        return 0;
    }
    if (ret == 0) {
        ret = brig_state_from_json(json, len, state, err);
        if (ret < 0)
            brig_err_wrap(err, ret, "state");
    }
    if (ret < 0 && fall_back) {
        cleanup_err struct brig_err *record_err = NULL;
        cleanup_free char *msg = NULL;

        if (read_init_record(dir, state, &record_err) == 0) {
            brig_log(ctx, BRIG_LOG_WARNING, "container `%s`: %s: removed by its init record (init, cgroup) and its directory's names (overlay root; an upper is kept)",
                     id, (*err)->msg);
            brig_err_free(err);
            return 0;
        }
        msg = strdup((*err)->msg);
        brig_err_free(err);
        brig_err_msg(err, -ret, "%s (and its init record: %s)", msg ? msg : "state", record_err->msg);
    }
    if (ret < 0) {
        brig_store_close(dir);
        return brig_err_wrap(err, ret, "container `%s`", id);
    }
    return 0;
}

int brig_store_open(const struct brig_context *ctx, const char *id, bool lock, struct brig_container_dir *dir,
                    struct brig_state **state, struct brig_err **err)
{
    return open_store(ctx, id, lock, false, dir, state, err);
}

int brig_store_open_for_removal(const struct brig_context *ctx, const char *id, struct brig_container_dir *dir,
                                struct brig_state **state, struct brig_err **err)
{
    return open_store(ctx, id, true, true, dir, state, err);
}

int brig_store_save(const struct brig_container_dir *dir, const struct brig_state *state, struct brig_err **err)
{
    cleanup_free char *json = NULL;
    size_t len = 0;
    int ret;

    ret = brig_state_to_json(state, &json, &len, err);
    if (ret < 0)
        return ret;
    /* First: whenever state.json names an init or a cgroup, so does the record. */
    ret = save_init_record(dir, state, err);
    if (ret < 0)
        return ret;
    return brig_write_file_atomic_at(dir->dir_fd, BRIG_STATE_FILE, json, len, 0600, err);
}

/* Unlinks the files of a state directory (it holds no subdirectories). */
static int remove_entries(int dir_fd)
{
    cleanup_closedir DIR *d = brig_opendir_dup(dir_fd);
    struct dirent *de;

    if (!d)
        return -errno;
    rewinddir(d);
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        unlinkat(dir_fd, de->d_name, 0);
    }
    return 0;
}

/* A create's directory before it takes the id is unlocked for a moment after its mkdir: while the create
 * lives (its pid is in the name), it is not a leftover. */
static bool fresh_of_live_create(const char *name)
{
    int pid = 0;

    if (sscanf(name, REMOVING_PREFIX "new-%d", &pid) != 1 || pid <= 0)
        return false;
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* What a removal that died midway left: a hidden directory whose remover no longer holds its lock. */
static void sweep_removed(int root_fd, const char *name)
{
    cleanup_close int left = -1;

    if (fresh_of_live_create(name))
        return;
    left = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (left < 0 || flock(left, LOCK_EX | LOCK_NB) < 0)
        return;
    if (remove_entries(left) == 0)
        unlinkat(root_fd, name, AT_REMOVEDIR);
}

static void unpack_note_name(char *name, size_t size, int pid)
{
    snprintf(name, size, UNPACK_PREFIX "%d", pid);
}

int brig_store_note_unpack(const struct brig_context *ctx, const char *store, int *note_fd, struct brig_err **err)
{
    cleanup_close int root_fd = -1;
    cleanup_close int fd = -1;
    char name[sizeof(UNPACK_PREFIX) + 16];
    int ret = brig_store_open_root(ctx, true, &root_fd, err);

    if (ret < 0)
        return ret;
    unpack_note_name(name, sizeof(name), (int) getpid());
    /* Named by this process's pid, a note is never swept while this process lives, lock or not (the lock
     * covers a pid taken again by a process of another pid namespace sharing the root). */
    fd = openat(root_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) < 0)
        return brig_err_sys(err, "state root `%s`: note `%s`", ctx->root, name);
    if (brig_write_all(fd, store, strlen(store)) < 0) {
        ret = brig_err_sys(err, "state root `%s`: note `%s`", ctx->root, name);
        unlinkat(root_fd, name, 0);
        return ret;
    }
    *note_fd = steal_fd(fd);
    return 0;
}

void brig_store_unnote_unpack(const struct brig_context *ctx, int *note_fd)
{
    cleanup_close int root_fd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char name[sizeof(UNPACK_PREFIX) + 16];

    if (*note_fd < 0)
        return;
    unpack_note_name(name, sizeof(name), (int) getpid());
    if (root_fd >= 0)
        unlinkat(root_fd, name, 0);
    close(*note_fd);
    *note_fd = -1;
}

/* The note of an unpack whose brig died: its store is swept (only what no live unpack holds is removed there)
 * and the note removed. */
static void sweep_unpack_note(int root_fd, const char *name)
{
    cleanup_close int note = -1;
    char store[4097];
    ssize_t len;
    int pid = 0;

    if (sscanf(name, UNPACK_PREFIX "%d", &pid) != 1 || pid <= 0 || kill(pid, 0) == 0 || errno == EPERM)
        return;
    note = openat(root_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (note < 0 || flock(note, LOCK_EX | LOCK_NB) < 0)
        return;
    len = read(note, store, sizeof(store) - 1);
    if (len > 0 && store[0] == '/') {
        store[len] = '\0';
        brig_image_store_sweep(store);
    }
    unlinkat(root_fd, name, 0);
}

/* One listing of the root for what died midway: removals, and (when asked) the notes of unpacks. */
static void sweep_root(int root_fd, bool unpack_notes)
{
    cleanup_closedir DIR *d = brig_opendir_dup(root_fd);
    struct dirent *de;

    if (!d)
        return;
    /* The dup shares the root's offset, which an earlier listing may have left at the end. */
    rewinddir(d);
    while ((de = readdir(d))) {
        if (!strncmp(de->d_name, REMOVING_PREFIX, strlen(REMOVING_PREFIX)))
            sweep_removed(root_fd, de->d_name);
        else if (unpack_notes && !strncmp(de->d_name, UNPACK_PREFIX, strlen(UNPACK_PREFIX)))
            sweep_unpack_note(root_fd, de->d_name);
    }
}

void brig_store_sweep(const struct brig_context *ctx)
{
    cleanup_close int root_fd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (root_fd >= 0)
        sweep_root(root_fd, true);
}

int brig_store_remove(struct brig_container_dir *dir, struct brig_err **err)
{
    char hidden[sizeof(REMOVING_PREFIX) + 24];
    struct stat st;
    int ret;

    if (fstat(dir->dir_fd, &st) < 0)
        return brig_err_sys(err, "state directory of `%s`", dir->id);
    snprintf(hidden, sizeof(hidden), REMOVING_PREFIX "%llu", (unsigned long long) st.st_ino);
    /* Renamed out of the id's way first, so that `state` and `list` see the container whole or not at
     * all, never half emptied; the inode number keeps the hidden name unique while the directory lives.
     * A directory no longer under its id was removed by someone else (a `delete` while `run` waited): the
     * id may now name a new container, which must not be touched. */
    if (still_linked(dir->root_fd, dir->id, dir->dir_fd)) {
        if (renameat(dir->root_fd, dir->id, dir->root_fd, hidden) < 0 && errno != ENOENT)
            return brig_err_sys(err, "remove state directory of `%s`: rename it to `%s`", dir->id, hidden);
        /* A new container that took the id between the check and the rename goes back under it. */
        if (!still_linked(dir->root_fd, hidden, dir->dir_fd))
            renameat2(dir->root_fd, hidden, dir->root_fd, dir->id, RENAME_NOREPLACE);
    }
    ret = remove_entries(dir->dir_fd);
    if (ret < 0)
        return brig_err_set(err, -ret, "read state directory of `%s`", dir->id);
    if (still_linked(dir->root_fd, hidden, dir->dir_fd) && unlinkat(dir->root_fd, hidden, AT_REMOVEDIR) < 0 &&
        errno != ENOENT)
        return brig_err_sys(err, "remove state directory of `%s` (`%s`)", dir->id, hidden);
    sweep_root(dir->root_fd, false);
    return 0;
}

void brig_store_close(struct brig_container_dir *dir)
{
    if (dir->dir_fd >= 0)
        close(dir->dir_fd);
    if (dir->root_fd >= 0)
        close(dir->root_fd);
    free(dir->id);
    dir->dir_fd = dir->root_fd = -1;
    dir->id = NULL;
}

bool brig_process_alive(pid_t pid, uint64_t start_time)
{
    uint64_t now_start = 0;
    char proc_state = 0;

    if (pid <= 0 || brig_proc_start_time(pid, &now_start, &proc_state) < 0)
        return false;
    /* A zombie is no longer a running container; a different start time is a reused pid. */
    return now_start == start_time && proc_state != 'Z' && proc_state != 'X';
}

const char *brig_container_status(const struct brig_container_dir *dir, const struct brig_state *state)
{
    struct stat st;

    if (!state)
        return "creating";
    if (!brig_process_alive(state->pid, state->init_start_time))
        return "stopped";
    if (state->creating)
        return "creating";
    if (state->cgroup_path) {
        enum brig_cgroup_mode mode;
        if (brig_cgroup_detect(&mode, NULL) == 0 && brig_cgroup_is_frozen(mode, state->cgroup_path))
            return "paused";
    }
    if (fstatat(dir->dir_fd, BRIG_EXEC_FIFO, &st, 0) == 0)
        return "created";
    return "running";
}
