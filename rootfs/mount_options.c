/* `mounts[].options` → mount(2) flags, propagation changes, recursive attributes and filesystem data. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "internal.h"
#include "util/util.h"

struct flag_option {
    const char *name;
    bool clear;
    unsigned long flag;
};

static const struct flag_option flag_options[] = {
    {"defaults", false, 0},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
    {"iversion", false, MS_I_VERSION},
    {"noiversion", true, MS_I_VERSION},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"symfollow", true, MS_NOSYMFOLLOW},
};

struct propagation_option {
    const char *name;
    unsigned long flags;
};

static const struct propagation_option propagation_options[] = {
    {"shared", MS_SHARED},       {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},         {"rslave", MS_SLAVE | MS_REC},
    {"private", MS_PRIVATE},     {"rprivate", MS_PRIVATE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

/* Recursive attributes. Atime modes are not bits but a field: `atime` is the mode they select. */
struct rec_option {
    const char *name;
    bool clear;
    uint64_t attr;
    bool is_atime;
    uint64_t atime;
};

static const struct rec_option rec_options[] = {
    {"rro", false, MOUNT_ATTR_RDONLY, false, 0},
    {"rrw", true, MOUNT_ATTR_RDONLY, false, 0},
    {"rnosuid", false, MOUNT_ATTR_NOSUID, false, 0},
    {"rsuid", true, MOUNT_ATTR_NOSUID, false, 0},
    {"rnodev", false, MOUNT_ATTR_NODEV, false, 0},
    {"rdev", true, MOUNT_ATTR_NODEV, false, 0},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC, false, 0},
    {"rexec", true, MOUNT_ATTR_NOEXEC, false, 0},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME, false, 0},
    {"rdiratime", true, MOUNT_ATTR_NODIRATIME, false, 0},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW, false, 0},
    {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW, false, 0},
    {"rnoatime", false, 0, true, MOUNT_ATTR_NOATIME},
    {"ratime", false, 0, true, MOUNT_ATTR_RELATIME},
    {"rrelatime", false, 0, true, MOUNT_ATTR_RELATIME},
    {"rnorelatime", false, 0, true, MOUNT_ATTR_STRICTATIME},
    {"rstrictatime", false, 0, true, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", false, 0, true, MOUNT_ATTR_RELATIME},
};

/* Options other runtimes' configs carry that mean nothing to the kernel: dropped, not passed as data.
 * tmpcopyup (copy the directory's content into a new tmpfs) is not implemented. */
static const char *const ignored_options[] = {"tmpcopyup", "notmpcopyup", "copy-symlink", "nocopyup"};

void brig_mount_opts_free(struct brig_mount_opts *opts)
{
    free(opts->data);
    opts->data = NULL;
}

unsigned long brig_propagation_flags(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(propagation_options); i++)
        if (strcmp(name, propagation_options[i].name) == 0)
            return propagation_options[i].flags;
    return 0;
}

unsigned long brig_statvfs_mount_flags(unsigned long f_flag)
{
    /* The ST_* values equal the MS_* ones for these bits. */
    return f_flag & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_SYNCHRONOUS | ST_MANDLOCK | ST_NOATIME |
                     ST_NODIRATIME | ST_RELATIME);
}

static bool parse_flag(const char *opt, unsigned long *flags)
{
    for (size_t i = 0; i < ARRAY_SIZE(flag_options); i++) {
        if (strcmp(opt, flag_options[i].name) != 0)
            continue;
        if (flag_options[i].clear)
            *flags &= ~flag_options[i].flag;
        else
            *flags |= flag_options[i].flag;
        return true;
    }
    return false;
}

static bool parse_rec(const char *opt, struct mount_attr *attr)
{
    for (size_t i = 0; i < ARRAY_SIZE(rec_options); i++) {
        const struct rec_option *r = &rec_options[i];

        if (strcmp(opt, r->name) != 0)
            continue;
        if (r->is_atime) {
            /* The kernel takes an atime mode only with the whole atime field cleared. */
            attr->attr_clr |= MOUNT_ATTR__ATIME;
            attr->attr_set = (attr->attr_set & ~(uint64_t) MOUNT_ATTR__ATIME) | r->atime;
        } else if (r->clear) {
            attr->attr_clr |= r->attr;
            attr->attr_set &= ~r->attr;
        } else {
            attr->attr_set |= r->attr;
            attr->attr_clr &= ~r->attr;
        }
        return true;
    }
    return false;
}

static bool is_ignored(const char *opt)
{
    for (size_t i = 0; i < ARRAY_SIZE(ignored_options); i++)
        if (strcmp(opt, ignored_options[i]) == 0)
            return true;
    return false;
}

int brig_mount_opts_parse(char *const *options, size_t n_options, struct brig_mount_opts *out,
                          struct brig_err **err)
{
    size_t data_len = 0;
    char *data = NULL;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n_options; i++) {
        const char *opt = options[i];
        unsigned long prop;

        if (!opt || parse_flag(opt, &out->flags) || is_ignored(opt))
            continue;
        prop = brig_propagation_flags(opt);
        if (prop) {
            if (out->n_propagation == BRIG_MAX_PROPAGATION)
                return brig_err_set(err, EINVAL, "option `%s`: too many propagation options", opt);
            out->propagation[out->n_propagation++] = prop;
            continue;
        }
        if (opt[0] == 'r' && parse_rec(opt, &out->rec_attr)) {
            out->has_rec_attr = true;
            continue;
        }
        data_len += strlen(opt) + 1;
    }
    if (!data_len)
        return 0;

    data = malloc(data_len);
    if (!data)
        return brig_err_set(err, ENOMEM, "mount options");
    data[0] = '\0';
    for (size_t i = 0, len = 0; i < n_options; i++) {
        const char *opt = options[i];
        unsigned long scratch = 0;
        struct mount_attr scratch_attr = {0};
        size_t n;

        if (!opt || parse_flag(opt, &scratch) || is_ignored(opt) || brig_propagation_flags(opt) ||
            (opt[0] == 'r' && parse_rec(opt, &scratch_attr)))
            continue;
        n = strlen(opt);
        if (len)
            data[len++] = ',';
        memcpy(data + len, opt, n + 1);
        len += n;
    }
    out->data = data;
    return 0;
}

size_t brig_rootfs_mount_option_names(const char **out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < ARRAY_SIZE(flag_options) && n < max; i++)
        out[n++] = flag_options[i].name;
    for (size_t i = 0; i < ARRAY_SIZE(propagation_options) && n < max; i++)
        out[n++] = propagation_options[i].name;
    for (size_t i = 0; i < ARRAY_SIZE(rec_options) && n < max; i++)
        out[n++] = rec_options[i].name;
    for (size_t i = 0; i < ARRAY_SIZE(ignored_options) && n < max; i++)
        out[n++] = ignored_options[i];
    return n;
}
