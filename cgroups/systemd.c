/* The systemd cgroup driver (--systemd-cgroup): the container's cgroup is a transient scope unit that
 * systemd makes over D-Bus (sd-bus from libsystemd, loaded only here), with the resources systemd can
 * express as unit properties; the rest, and the entry the init is cloned through, is then the cgroupfs
 * code's, on the scope's directory. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "controllers.h"
#include "../util/util.h"

#define SD_SONAME "libsystemd.so.0"
#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_PRIVATE "/run/systemd/private"
/* How long a unit's start or stop job may take: systemd answers in milliseconds, but a loaded guest
 * under TCG has been seen to take a second or two. */
#define SD_JOB_TIMEOUT_USEC (30ULL * 1000 * 1000)

#define SD_FUNCS(X)                                                                                          \
    X(sd_bus_open_system)                                                                                    \
    X(sd_bus_new)                                                                                            \
    X(sd_bus_set_address)                                                                                    \
    X(sd_bus_start)                                                                                          \
    X(sd_bus_flush_close_unref)                                                                              \
    X(sd_bus_message_new_method_call)                                                                        \
    X(sd_bus_message_append)                                                                                 \
    X(sd_bus_message_open_container)                                                                         \
    X(sd_bus_message_close_container)                                                                        \
    X(sd_bus_message_append_array)                                                                           \
    X(sd_bus_message_read)                                                                                   \
    X(sd_bus_message_unref)                                                                                  \
    X(sd_bus_call)                                                                                           \
    X(sd_bus_match_signal)                                                                                   \
    X(sd_bus_slot_unref)                                                                                     \
    X(sd_bus_process)                                                                                        \
    X(sd_bus_wait)                                                                                           \
    X(sd_bus_error_free)                                                                                     \
    X(sd_bus_error_has_name)

struct sd {
#define SD_MEMBER(name) __typeof__(name) *name; /* NOLINT(bugprone-macro-parentheses): a declarator */
    SD_FUNCS(SD_MEMBER)
#undef SD_MEMBER
    sd_bus *bus;
};

static int sd_load(struct sd *sd, struct brig_err **err)
{
    /* Never closed: brig is short-lived, and a second dlopen of a loaded library is only a lookup. */
    void *handle = dlopen(SD_SONAME, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;

    memset(sd, 0, sizeof(*sd));
    if (!handle) {
        brig_err_msg(err, ENOENT, "--systemd-cgroup: needs %s (Debian package libsystemd0): %s", SD_SONAME,
                     dlerror());
        return -ENOENT;
    }
#define SD_LOAD(name)                                                                                          \
    if (!missing) {                                                                                            \
        void *sym_ = dlsym(handle, #name);                                                                     \
        if (sym_)                                                                                              \
            memcpy(&sd->name, &sym_, sizeof(sym_));                                                            \
        else                                                                                                   \
            missing = #name;                                                                                   \
    }
    SD_FUNCS(SD_LOAD)
#undef SD_LOAD
    if (missing) {
        brig_err_msg(err, ENOSYS, "--systemd-cgroup: %s has no %s", SD_SONAME, missing);
        return -ENOSYS;
    }
    return 0;
}

static int sd_open(struct sd *sd, struct brig_err **err)
{
    int ret = sd_load(sd, err);

    if (ret < 0)
        return ret;
    /* As root, systemd's own socket, as systemctl does: no bus daemon in between (a hop, the Hello and the
     * authentication less), and systemd sends every signal on it. The system bus otherwise. */
    if (geteuid() == 0 && access(SD_PRIVATE, F_OK) == 0 && sd->sd_bus_new(&sd->bus) >= 0) {
        if (sd->sd_bus_set_address(sd->bus, "unix:path=" SD_PRIVATE) >= 0 && sd->sd_bus_start(sd->bus) >= 0)
            return 0;
        sd->sd_bus_flush_close_unref(sd->bus);
        sd->bus = NULL;
    }
    ret = sd->sd_bus_open_system(&sd->bus);
    if (ret < 0)
        return brig_err_msg(err, -ret, "--systemd-cgroup: cannot reach systemd (neither " SD_PRIVATE " nor the system bus): %s", strerror(-ret));
    return 0;
}

static void sd_close(struct sd *sd)
{
    if (sd->bus)
        sd->sd_bus_flush_close_unref(sd->bus);
    sd->bus = NULL;
}
#define cleanup_sd __attribute__((cleanup(sd_close)))

/* ---- cgroupsPath "slice:prefix:name" ---- */

/* systemd's slice naming: "a-b.slice" lives in "/a.slice/a-b.slice"; "-.slice" is the root. Appends the
 * expansion to out (size bytes). */
static int expand_slice(const char *slice, char *out, size_t size, struct brig_err **err)
{
    size_t len = strlen(slice), base, used = 0;

    if (len <= 6 || strcmp(slice + len - 6, ".slice") || strchr(slice, '/'))
        return brig_err_msg(err, EINVAL, "slice `%s`: not a slice unit name (NAME.slice, no `/`)", slice);
    base = len - 6;
    if (base == 1 && slice[0] == '-')
        return 0;
    if (slice[0] == '-' || slice[base - 1] == '-' || strstr(slice, "--"))
        return brig_err_msg(err, EINVAL, "slice `%s`: empty part between dashes", slice);
    for (size_t i = 0; i <= base; i++) {
        if (i < base && slice[i] != '-')
            continue;
        int n = snprintf(out + used, size - used, "/%.*s.slice", (int) i, slice);
        if (n < 0 || (size_t) n >= size - used)
            return brig_err_msg(err, ENAMETOOLONG, "slice `%s`: too long", slice);
        used += (size_t) n;
    }
    return 0;
}

static bool unit_part_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr(":-_.\\", *s)))
            return false;
    return true;
}

int brig_cgroup_systemd_path(const char *cgroups_path, const char *id, char **out, struct brig_err **err)
{
    char path[4096];
    const char *slice = "system.slice", *prefix = "brig", *name = id;
    char copy[1024];
    size_t used;
    int n, ret;

    if (cgroups_path && *cgroups_path) {
        char *first, *second;
        if (strlen(cgroups_path) >= sizeof(copy))
            return brig_err_msg(err, ENAMETOOLONG, "`%.40s...`: too long", cgroups_path);
        memcpy(copy, cgroups_path, strlen(cgroups_path) + 1);
        first = strchr(copy, ':');
        second = first ? strchr(first + 1, ':') : NULL;
        if (!second || strchr(second + 1, ':'))
            return brig_err_msg(err, EINVAL, "`%s`: with --systemd-cgroup, expected \"slice:prefix:name\"",
                                cgroups_path);
        *first = *second = '\0';
        if (*copy)
            slice = copy;
        prefix = first + 1;
        name = second + 1;
        if (!*name)
            return brig_err_msg(err, EINVAL, "`%s`: the name (after the second `:`) is empty", cgroups_path);
    }
    if (!unit_part_ok(prefix) || !unit_part_ok(name))
        return brig_err_msg(err, EINVAL, "`%s`: prefix and name may only hold letters, digits and `:-_.\\`",
                            cgroups_path ? cgroups_path : "");
    /* A name that is a slice is a container placed in a slice of its own: not supported (yet). */
    if (strlen(name) > 6 && !strcmp(name + strlen(name) - 6, ".slice"))
        return brig_err_msg(err, ENOTSUP, "`%s`: a slice as the container's unit is not supported",
                            cgroups_path ? cgroups_path : "");
    path[0] = '\0';
    ret = expand_slice(slice, path, sizeof(path), err);
    if (ret < 0)
        return ret;
    used = strlen(path);
    n = *prefix ? snprintf(path + used, sizeof(path) - used, "/%s-%s.scope", prefix, name)
                : snprintf(path + used, sizeof(path) - used, "/%s.scope", name);
    if (n < 0 || (size_t) n >= sizeof(path) - used)
        return brig_err_msg(err, ENAMETOOLONG, "`%s`: too long", cgroups_path ? cgroups_path : "");
    if (!(*out = strdup(path)))
        return brig_err_set(err, ENOMEM, "cgroupsPath");
    return 0;
}

/* The unit is the path's last component, its slice the one before ("-.slice" at the top). */
static int split_path(const char *path, char *slice, size_t size, const char **unit, struct brig_err **err)
{
    const char *last = strrchr(path, '/');
    const char *prev;

    if (!last || strlen(last + 1) < 7 || strcmp(last + strlen(last) - 6, ".scope")) {
        brig_err_msg(err, EINVAL, "cgroup `%s`: not a systemd scope's", path);
        return -EINVAL;
    }
    *unit = last + 1;
    if (last == path) {
        snprintf(slice, size, "-.slice");
        return 0;
    }
    for (prev = last - 1; prev > path && *prev != '/'; prev--)
        ;
    snprintf(slice, size, "%.*s", (int) (last - prev - 1), prev + 1);
    return 0;
}

/* ---- resources as unit properties ---- */

static int append_u64(struct sd *sd, sd_bus_message *m, const char *name, uint64_t value)
{
    return sd->sd_bus_message_append(m, "(sv)", name, "t", value);
}

/* -1 (or any negative) is no limit: systemd's "infinity". */
static uint64_t limit_or_infinity(int64_t v)
{
    return v < 0 ? UINT64_MAX : (uint64_t) v;
}

/* A cpuset list ("0-3,6") as systemd's bitmask: byte i bit j is cpu 8*i+j. */
static int append_cpuset(struct sd *sd, sd_bus_message *m, const char *name, const char *list,
                         struct brig_err **err)
{
    uint8_t mask[128] = {0};
    size_t used = 0;
    const char *p = list;
    int ret;

    while (*p) {
        char *end;
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        if (end == p)
            return brig_err_msg(err, EINVAL, "`%s`: not a cpu list", list);
        if (*end == '-') {
            p = end + 1;
            hi = strtoul(p, &end, 10);
            if (end == p || hi < lo)
                return brig_err_msg(err, EINVAL, "`%s`: not a cpu list", list);
        }
        if (hi >= sizeof(mask) * 8)
            return brig_err_msg(err, EINVAL, "`%s`: cpu %lu is beyond what brig handles", list, hi);
        for (unsigned long c = lo; c <= hi; c++)
            mask[c / 8] |= (uint8_t) (1u << (c % 8));
        if (hi / 8 + 1 > used)
            used = hi / 8 + 1;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return brig_err_msg(err, EINVAL, "`%s`: not a cpu list", list);
    }
    if ((ret = sd->sd_bus_message_open_container(m, 'r', "sv")) < 0 ||
        (ret = sd->sd_bus_message_append(m, "s", name)) < 0 ||
        (ret = sd->sd_bus_message_open_container(m, 'v', "ay")) < 0 ||
        (ret = sd->sd_bus_message_append_array(m, 'y', mask, used)) < 0 ||
        (ret = sd->sd_bus_message_close_container(m)) < 0 || (ret = sd->sd_bus_message_close_container(m)) < 0)
        return brig_err_set(err, -ret, "D-Bus message");
    return 0;
}

static const char *unified_value(const struct brig_resources *r, const char *key)
{
    for (size_t i = 0; i < r->n_unified; i++)
        if (!strcmp(r->unified[i].key, key))
            return r->unified[i].value;
    return NULL;
}

/* A unified memory.* value ("max" or bytes) as a property. */
static int append_unified_memory(struct sd *sd, sd_bus_message *m, const struct brig_resources *r, const char *key,
                                 const char *property)
{
    const char *v = unified_value(r, key);
    char *end;
    unsigned long long n;

    if (!v)
        return 0;
    if (!strcmp(v, "max"))
        return append_u64(sd, m, property, UINT64_MAX);
    n = strtoull(v, &end, 10);
    /* Anything else is the cgroupfs code's to write (and to refuse by name). */
    return *v && !*end ? append_u64(sd, m, property, n) : 0;
}

/* blkio weights as systemd's IO weights (1..10000), converted as the cgroupfs code writes io.weight. A weight
 * above 1000 is refused here, by name: systemd's own refusal would name only its property. */
static int io_weight(uint64_t weight, const char *what, size_t index, uint64_t *out, struct brig_err **err)
{
    char where[96];

    if (index == SIZE_MAX)
        snprintf(where, sizeof(where), "%s", what);
    else
        snprintf(where, sizeof(where), "%s[%zu].weight", what, index);
    if (weight > 1000)
        return brig_err_msg(err, EINVAL, "%s: %llu is out of range (10-1000)", where, (unsigned long long) weight);
    *out = brig_cg_blkio_to_io_weight(weight);
    return 0;
}

static int device_number_ok(int64_t major, int64_t minor, const char *what, size_t index, struct brig_err **err)
{
    if (major < 0 || minor < 0 || major > UINT32_MAX || minor > UINT32_MAX)
        return brig_err_msg(err, EINVAL, "%s[%zu]: `%lld:%lld` is not a device number", what, index,
                            (long long) major, (long long) minor);
    return 0;
}

/* A list property of (path, value) pairs: the devices by systemd's /dev/block/MAJOR:MINOR name, which
 * systemd reads without the node existing (no udev needed). */
struct io_pair {
    int64_t major;
    int64_t minor;
    uint64_t value;
};

static int append_pairs(struct sd *sd, sd_bus_message *m, const char *name, const struct io_pair *pairs, size_t n)
{
    char path[64];
    int ret;

    if ((ret = sd->sd_bus_message_open_container(m, 'r', "sv")) < 0 ||
        (ret = sd->sd_bus_message_append(m, "s", name)) < 0 ||
        (ret = sd->sd_bus_message_open_container(m, 'v', "a(st)")) < 0 ||
        (ret = sd->sd_bus_message_open_container(m, 'a', "(st)")) < 0)
        return ret;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/dev/block/%lld:%lld", (long long) pairs[i].major, (long long) pairs[i].minor);
        if ((ret = sd->sd_bus_message_append(m, "(st)", path, pairs[i].value)) < 0)
            return ret;
    }
    /* The array, the variant, the struct. */
    for (int i = 0; i < 3; i++)
        if ((ret = sd->sd_bus_message_close_container(m)) < 0)
            return ret;
    return 0;
}

#define BLKIO "linux.resources.blockIO."

/* The longest of blockIO's device lists (at least 1). */
static size_t io_pairs_most(const struct brig_block_io *b)
{
    const size_t n[] = {b->n_weight_device, b->n_throttle_read_bps, b->n_throttle_write_bps, b->n_throttle_read_iops,
                        b->n_throttle_write_iops};
    size_t most = 1;

    for (size_t i = 0; i < ARRAY_SIZE(n); i++)
        most = n[i] > most ? n[i] : most;
    return most;
}

/* blockIO's per-device lists: IODeviceWeight and the four throttles. */
static int append_io_devices(struct sd *sd, sd_bus_message *m, const struct brig_block_io *b, struct brig_err **err)
{
    static const struct {
        const char *property;
        const char *key;
    } throttles[] = {
        {"IOReadBandwidthMax", "throttleReadBpsDevice"},
        {"IOWriteBandwidthMax", "throttleWriteBpsDevice"},
        {"IOReadIOPSMax", "throttleReadIOPSDevice"},
        {"IOWriteIOPSMax", "throttleWriteIOPSDevice"},
    };
    cleanup_free struct io_pair *pairs = calloc(io_pairs_most(b), sizeof(*pairs));
    size_t n = 0;
    int ret = 0;

    if (!pairs)
        return brig_err_set(err, ENOMEM, "linux.resources.blockIO");
    for (size_t i = 0; i < b->n_weight_device && ret == 0; i++) {
        const struct brig_weight_device *w = &b->weight_device[i];
        uint64_t weight = 0;
        ret = device_number_ok(w->major, w->minor, BLKIO "weightDevice", i, err);
        if (ret == 0 && w->weight.set)
            ret = io_weight(w->weight.value, BLKIO "weightDevice", i, &weight, err);
        if (ret == 0 && w->weight.set)
            pairs[n++] = (struct io_pair){w->major, w->minor, weight};
    }
    if (ret < 0)
        return ret;
    if (n && (ret = append_pairs(sd, m, "IODeviceWeight", pairs, n)) < 0)
        return brig_err_set(err, -ret, "D-Bus message");
    for (size_t t = 0; t < ARRAY_SIZE(throttles); t++) {
        const struct brig_throttle_device *list = t == 0 ? b->throttle_read_bps : t == 1 ? b->throttle_write_bps
                                                  : t == 2 ? b->throttle_read_iops : b->throttle_write_iops;
        char what[96];

        n = t == 0 ? b->n_throttle_read_bps : t == 1 ? b->n_throttle_write_bps
            : t == 2 ? b->n_throttle_read_iops : b->n_throttle_write_iops;
        if (!n)
            continue;
        snprintf(what, sizeof(what), BLKIO "%s", throttles[t].key);
        for (size_t i = 0; i < n; i++) {
            ret = device_number_ok(list[i].major, list[i].minor, what, i, err);
            if (ret < 0)
                return ret;
            /* 0 lifts the limit, as in the cgroupfs code: systemd's infinity. */
            pairs[i] = (struct io_pair){list[i].major, list[i].minor, list[i].rate ? list[i].rate : UINT64_MAX};
        }
        if ((ret = append_pairs(sd, m, throttles[t].property, pairs, n)) < 0)
            return brig_err_set(err, -ret, "D-Bus message");
    }
    return 0;
}

/* blockIO (not NULL) as IOWeight and the per-device properties. Leaf weights have no v2 form (the
 * cgroupfs code warns about them). */
static int append_io(struct sd *sd, sd_bus_message *m, const struct brig_block_io *b, struct brig_err **err)
{
    uint64_t weight = 0;
    int ret;

    if (b->weight.set && b->weight.value) {
        ret = io_weight(b->weight.value, BLKIO "weight", SIZE_MAX, &weight, err);
        if (ret < 0)
            return ret;
        ret = append_u64(sd, m, "IOWeight", weight);
        if (ret < 0)
            return brig_err_set(err, -ret, "D-Bus message");
    }
    return append_io_devices(sd, m, b, err);
}

/* linux.resources.devices (with brig's defaults, as the cgroupfs code builds them) as DevicePolicy and
 * DeviceAllow, at create only: `update` leaves the device rules alone, and systemd keeps these for any
 * later realization of the unit. systemd attaches its program when it starts the scope; brig's own
 * (devices_ebpf.c) then replaces it, and where systemd attaches one again (a change of a device property,
 * as `systemctl set-property`) both hold: systemd's list is never narrower than the rules, so an allowed
 * device still opens, and brig's refuses what the rules refuse. */
static int append_devices(struct sd *sd, sd_bus_message *m, const struct brig_resources *r, struct brig_err **err)
{
    cleanup_free struct brig_dev_rule *rules = NULL;
    struct brig_dev_sd list = {0};
    char path[64], access[4];
    size_t n = 0;
    int ret;

    ret = brig_dev_rules_build(r ? r->devices : NULL, r ? r->n_devices : 0, &rules, &n, err);
    if (ret == 0)
        ret = brig_dev_rules_systemd(rules, n, &list, err);
    if (ret < 0)
        return ret;
    ret = sd->sd_bus_message_append(m, "(sv)", "DevicePolicy", "s", list.allow_all ? "auto" : "strict");
    if (ret >= 0)
        ret = sd->sd_bus_message_open_container(m, 'r', "sv");
    if (ret >= 0)
        ret = sd->sd_bus_message_append(m, "s", "DeviceAllow");
    if (ret >= 0)
        ret = sd->sd_bus_message_open_container(m, 'v', "a(ss)");
    if (ret >= 0)
        ret = sd->sd_bus_message_open_container(m, 'a', "(ss)");
    for (size_t i = 0; ret >= 0 && i < list.n; i++) {
        brig_dev_sd_entry_text(&list.entries[i], path, sizeof(path), access, sizeof(access));
        ret = sd->sd_bus_message_append(m, "(ss)", path, access);
    }
    free(list.entries);
    /* The array, the variant, the struct. */
    for (int i = 0; i < 3 && ret >= 0; i++)
        ret = sd->sd_bus_message_close_container(m);
    return ret < 0 ? brig_err_set(err, -ret, "D-Bus message") : 0;
}

/* CPUQuotaPerSecUSec for a quota per period (µs). systemd writes back per_sec * period / 1 s rounded down,
 * and may write it after brig's own file write (seen on v1 after an update): rounded up here, that gives
 * the quota itself for every period up to 1 s. */
static uint64_t quota_per_sec(uint64_t quota, uint64_t period)
{
    return (quota * 1000000ULL + period - 1) / period;
}

/* The scope's CFS period now (µs): an update of the quota alone is a share of the period in force, which
 * systemd's per-second value must be computed with (the default 100 ms would scale the quota it writes). */
static uint64_t current_period(enum brig_cgroup_mode mode, const char *path)
{
    cleanup_free char *text = NULL;
    char file[4096];
    unsigned long long v1_period, period;
    const char *p;
    int n;

    if (mode == BRIG_CGROUP_V2)
        n = snprintf(file, sizeof(file), "/sys/fs/cgroup%s/cpu.max", path);
    else
        n = snprintf(file, sizeof(file), "/sys/fs/cgroup/cpu%s/cpu.cfs_period_us", path);
    if (n < 0 || (size_t) n >= sizeof(file) || brig_read_file_at(AT_FDCWD, file, &text, NULL, NULL) < 0)
        return 0;
    if (mode != BRIG_CGROUP_V2)
        return sscanf(text, "%llu", &v1_period) == 1 ? v1_period : 0;
    /* "max 100000" or "30000 60000" */
    p = strchr(text, ' ');
    return p && sscanf(p + 1, "%llu", &period) == 1 ? period : 0;
}

/* Appends what systemd can express of `r`; what it cannot is written to the files afterwards. On v1 the
 * CPU share goes as CPUShares, which systemd writes to cpu.shares as it is (its CPUWeight conversion would
 * not give brig's value back, and systemd rewrites the file whenever it realizes the unit again).
 * `cur_period` (µs, 0: unknown) is the scope's CFS period when `r` sets a quota without one. */
static int append_resources(struct sd *sd, sd_bus_message *m, const struct brig_resources *r,
                            enum brig_cgroup_mode mode, uint64_t cur_period, struct brig_err **err)
{
    int ret = 0;

    if (!r)
        return 0;
    if (r->memory) {
        const struct brig_memory *mem = r->memory;
        bool swap_set;
        int64_t swap;
        const char *why;
        if (ret >= 0 && mem->limit.set && mem->limit.value != 0)
            ret = append_u64(sd, m, "MemoryMax", limit_or_infinity(mem->limit.value));
        if (ret >= 0 && mem->reservation.set && mem->reservation.value != 0)
            ret = append_u64(sd, m, "MemoryLow", limit_or_infinity(mem->reservation.value));
        if (ret >= 0 && brig_cg_swap_v2(mem->swap.set, mem->swap.value, mem->limit.set && mem->limit.value != 0,
                                        mem->limit.value, &swap_set, &swap, &why) == 0 && swap_set)
            ret = append_u64(sd, m, "MemorySwapMax", limit_or_infinity(swap));
    }
    if (ret >= 0)
        ret = append_unified_memory(sd, m, r, "memory.high", "MemoryHigh");
    if (ret >= 0)
        ret = append_unified_memory(sd, m, r, "memory.low", "MemoryLow");
    if (ret >= 0)
        ret = append_unified_memory(sd, m, r, "memory.min", "MemoryMin");
    if (r->cpu) {
        const struct brig_cpu *c = r->cpu;
        uint64_t period = c->period.set && c->period.value ? c->period.value : cur_period ? cur_period : 100000;
        if (ret >= 0 && c->shares.set && c->shares.value)
            ret = mode == BRIG_CGROUP_V2 ? append_u64(sd, m, "CPUWeight", brig_cg_shares_to_weight(c->shares.value))
                                         : append_u64(sd, m, "CPUShares", c->shares.value);
        if (ret >= 0 && c->period.set && c->period.value)
            ret = append_u64(sd, m, "CPUQuotaPeriodUSec", period);
        if (ret >= 0 && c->quota.set && c->quota.value != 0)
            ret = append_u64(sd, m, "CPUQuotaPerSecUSec",
                             c->quota.value < 0 ? UINT64_MAX : quota_per_sec((uint64_t) c->quota.value, period));
        if (ret < 0)
            return brig_err_set(err, -ret, "D-Bus message");
        if (c->cpus && *c->cpus && (ret = append_cpuset(sd, m, "AllowedCPUs", c->cpus, err)) < 0)
            return brig_err_wrap(err, ret, "linux.resources.cpu.cpus");
        if (c->mems && *c->mems && (ret = append_cpuset(sd, m, "AllowedMemoryNodes", c->mems, err)) < 0)
            return brig_err_wrap(err, ret, "linux.resources.cpu.mems");
    }
    if (ret >= 0 && r->pids_limit.set && r->pids_limit.value != 0)
        ret = append_u64(sd, m, "TasksMax", limit_or_infinity(r->pids_limit.value));
    if (ret < 0)
        return brig_err_set(err, -ret, "D-Bus message");
    return r->block_io ? append_io(sd, m, r->block_io, err) : 0;
}

/* ---- jobs ---- */

struct job_wait {
    const char *path; /* the job's object path, once known */
    char result[32];
    bool done;
};

/* Reads a JobRemoved signal: (u id, o job, s unit, s result). The function pointer table is not at hand in
 * the callback, so the match's userdata carries both. */
struct job_match {
    struct sd *sd;
    struct job_wait *wait;
};

static int job_removed(sd_bus_message *m, void *data, sd_bus_error *error)
{
    struct job_match *jm = data;
    uint32_t id;
    const char *job = NULL, *unit = NULL, *result = NULL;

    (void) error;
    if (jm->sd->sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0 || !jm->wait->path || !job)
        return 0;
    if (!strcmp(job, jm->wait->path)) {
        snprintf(jm->wait->result, sizeof(jm->wait->result), "%s", result ? result : "");
        jm->wait->done = true;
    }
    return 0;
}

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* Calls a Manager method that queues a job (StartTransientUnit, StopUnit) and waits until systemd removes
 * the job: *result is its result ("done", "failed", ...). `m` is sent and unref'd here. */
static int call_job(struct sd *sd, sd_bus_message *m, const char *what, char *result, size_t size,
                    sd_bus_error *bus_error, struct brig_err **err)
{
    struct job_wait w = {0};
    struct job_match jm = {.sd = sd, .wait = &w};
    sd_bus_slot *slot = NULL;
    sd_bus_message *reply = NULL;
    uint64_t deadline;
    int ret;

    ret = sd->sd_bus_match_signal(sd->bus, &slot, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved", job_removed, &jm);
    if (ret < 0) {
        sd->sd_bus_message_unref(m);
        return brig_err_msg(err, -ret, "%s: D-Bus match: %s", what, strerror(-ret));
    }
    ret = sd->sd_bus_call(sd->bus, m, SD_JOB_TIMEOUT_USEC, bus_error, &reply);
    sd->sd_bus_message_unref(m);
    if (ret >= 0)
        ret = sd->sd_bus_message_read(reply, "o", &w.path);
    if (ret < 0) {
        if (reply)
            sd->sd_bus_message_unref(reply);
        sd->sd_bus_slot_unref(slot);
        return ret; /* the caller words it: bus_error says why */
    }
    deadline = now_usec() + SD_JOB_TIMEOUT_USEC;
    while (!w.done) {
        uint64_t now = now_usec();
        if (now >= deadline) {
            ret = brig_err_msg(err, ETIMEDOUT, "%s: systemd's job %s did not finish within %llu s", what, w.path,
                               SD_JOB_TIMEOUT_USEC / 1000000ULL);
            break;
        }
        ret = sd->sd_bus_process(sd->bus, NULL);
        if (ret < 0) {
            ret = brig_err_msg(err, -ret, "%s: D-Bus: %s", what, strerror(-ret));
            break;
        }
        if (ret > 0)
            continue;
        ret = sd->sd_bus_wait(sd->bus, deadline - now);
        if (ret < 0) {
            ret = brig_err_msg(err, -ret, "%s: D-Bus: %s", what, strerror(-ret));
            break;
        }
        ret = 0;
    }
    if (w.done)
        snprintf(result, size, "%s", w.result);
    sd->sd_bus_message_unref(reply);
    sd->sd_bus_slot_unref(slot);
    return ret < 0 ? ret : (w.done ? 0 : -ETIMEDOUT);
}

static int stop_unit(struct sd *sd, const char *unit, struct brig_err **err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *m = NULL;
    char result[32] = "";
    int ret;

    ret = sd->sd_bus_message_new_method_call(sd->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit");
    if (ret >= 0)
        ret = sd->sd_bus_message_append(m, "ss", unit, "replace");
    if (ret < 0) {
        if (m)
            sd->sd_bus_message_unref(m);
        return brig_err_set(err, -ret, "stop unit `%s`: D-Bus message", unit);
    }
    ret = call_job(sd, m, "stop unit", result, sizeof(result), &e, err);
    if (ret < 0 && e.name) {
        /* Gone already (a scope goes by itself once empty): nothing to stop. */
        if (sd->sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit"))
            ret = 0;
        else
            ret = brig_err_msg(err, -ret, "stop unit `%s`: %s", unit, e.message ? e.message : e.name);
    }
    sd->sd_bus_error_free(&e);
    if (ret < 0)
        return ret;
    /* A unit that failed stays listed until reset: brig leaves none. */
    ret = sd->sd_bus_message_new_method_call(sd->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit");
    if (ret >= 0 && sd->sd_bus_message_append(m, "s", unit) >= 0)
        sd->sd_bus_call(sd->bus, m, SD_JOB_TIMEOUT_USEC, &e, NULL);
    if (m)
        sd->sd_bus_message_unref(m);
    sd->sd_bus_error_free(&e);
    return 0;
}

/* Something for the new scope to hold until the init is cloned into it: systemd starts no empty scope, and
 * the init must be born in its cgroup (CLONE_INTO_CGROUP), not moved there after it began its setup. */
static int spawn_holder(pid_t *pid, struct brig_err **err)
{
    pid_t parent = getpid();
    pid_t child = fork();

    if (child < 0)
        return brig_err_sys(err, "--systemd-cgroup: fork the scope's placeholder");
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        sigset_t none;
        /* Holding none of brig's fds: a caller's pipe or the container's lock must not outlive brig. */
        close_range(0, ~0U, 0);
        /* create blocks SIGTERM: systemd's stop of the scope must not wait out its 90 s for this. */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (;;)
            pause();
    }
    *pid = child;
    return 0;
}

void brig_cgroup_systemd_holder_end(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int start_scope(struct sd *sd, const char *unit, const char *slice, pid_t pid,
                       const struct brig_resources *r, enum brig_cgroup_mode mode, struct brig_err **err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *m = NULL;
    char result[32] = "";
    int ret;

    ret = sd->sd_bus_message_new_method_call(sd->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
    if (ret >= 0)
        ret = sd->sd_bus_message_append(m, "ss", unit, "fail");
    if (ret >= 0)
        ret = sd->sd_bus_message_open_container(m, 'a', "(sv)");
    if (ret >= 0)
        ret = sd->sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "Description", "s", "brig container", "Slice", "s",
                                        slice, "Delegate", "b", 1, "DefaultDependencies", "b", 0);
    if (ret >= 0)
        ret = sd->sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t) pid);
    if (ret >= 0)
        ret = sd->sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "MemoryAccounting", "b", 1, "CPUAccounting", "b", 1,
                                        "IOAccounting", "b", 1, "TasksAccounting", "b", 1);
    if (ret < 0) {
        if (m)
            sd->sd_bus_message_unref(m);
        return brig_err_set(err, -ret, "start unit `%s`: D-Bus message", unit);
    }
    ret = append_resources(sd, m, r, mode, 0, err);
    if (ret == 0)
        ret = append_devices(sd, m, r, err);
    if (ret < 0) {
        sd->sd_bus_message_unref(m);
        return ret;
    }
    ret = sd->sd_bus_message_close_container(m);
    if (ret >= 0)
        ret = sd->sd_bus_message_append(m, "a(sa(sv))", 0);
    if (ret < 0) {
        sd->sd_bus_message_unref(m);
        return brig_err_set(err, -ret, "start unit `%s`: D-Bus message", unit);
    }
    ret = call_job(sd, m, "start unit", result, sizeof(result), &e, err);
    if (ret < 0 && e.name)
        ret = brig_err_msg(err, -ret, "start unit `%s` in `%s`: %s", unit, slice, e.message ? e.message : e.name);
    sd->sd_bus_error_free(&e);
    if (ret < 0)
        return ret;
    if (strcmp(result, "done")) {
        stop_unit(sd, unit, NULL);
        return brig_err_msg(err, EIO, "start unit `%s` in `%s`: systemd's job ended `%s`", unit, slice, result);
    }
    return 0;
}

int brig_cgroup_systemd_start(const char *path, const struct brig_resources *r, pid_t *holder, struct brig_err **err)
{
    cleanup_sd struct sd sd = {0};
    enum brig_cgroup_mode mode = BRIG_CGROUP_V2;
    char slice[256] = "";
    const char *unit = NULL;
    int ret;

    *holder = 0;
    ret = split_path(path, slice, sizeof(slice), &unit, err);
    if (ret == 0)
        ret = brig_cgroup_detect(&mode, err);
    if (ret == 0)
        ret = sd_open(&sd, err);
    if (ret == 0)
        ret = spawn_holder(holder, err);
    if (ret == 0)
        ret = start_scope(&sd, unit, slice, *holder, r, mode, err);
    if (ret < 0) {
        brig_cgroup_systemd_holder_end(*holder);
        *holder = 0;
    }
    return ret;
}

int brig_cgroup_systemd_stop(enum brig_cgroup_mode mode, const char *path, struct brig_err **err)
{
    cleanup_sd struct sd sd = {0};
    char slice[256] = "";
    const char *unit = NULL;
    int ret;

    ret = split_path(path, slice, sizeof(slice), &unit, err);
    if (ret == 0)
        ret = sd_open(&sd, err);
    /* brig's delete kills with SIGKILL, as with cgroupfs; systemd's stop would send a SIGTERM and wait
     * TimeoutStopSec for a process that ignores it. */
    if (ret == 0)
        brig_cgroup_signal_all(mode, path, SIGKILL, NULL);
    if (ret == 0)
        ret = stop_unit(&sd, unit, err);
    /* systemd removes the scope's cgroup once it is empty; whatever a process made below it stays. */
    if (ret == 0)
        ret = brig_cgroup_destroy(mode, path, err);
    /* On v1 brig made the scope's directory, and its slices', in the hierarchies systemd leaves alone. */
    if (ret == 0)
        brig_cgroup_systemd_trim(mode, path);
    return ret;
}

int brig_cgroup_systemd_update(const char *path, const struct brig_resources *r, struct brig_err **err)
{
    cleanup_sd struct sd sd = {0};
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *m = NULL;
    enum brig_cgroup_mode mode = BRIG_CGROUP_V2;
    uint64_t cur_period = 0;
    char slice[256] = "";
    const char *unit = NULL;
    int ret;

    ret = split_path(path, slice, sizeof(slice), &unit, err);
    if (ret == 0)
        ret = brig_cgroup_detect(&mode, err);
    if (ret < 0)
        return ret;
    if (r->cpu && r->cpu->quota.set && r->cpu->quota.value > 0 && !(r->cpu->period.set && r->cpu->period.value))
        cur_period = current_period(mode, path);
    ret = sd_open(&sd, err);
    if (ret < 0)
        return ret;
    ret = sd.sd_bus_message_new_method_call(sd.bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "SetUnitProperties");
    if (ret >= 0)
        ret = sd.sd_bus_message_append(m, "sb", unit, 1);
    if (ret >= 0)
        ret = sd.sd_bus_message_open_container(m, 'a', "(sv)");
    if (ret < 0) {
        if (m)
            sd.sd_bus_message_unref(m);
        return brig_err_set(err, -ret, "update unit `%s`: D-Bus message", unit);
    }
    ret = append_resources(&sd, m, r, mode, cur_period, err);
    if (ret < 0) {
        sd.sd_bus_message_unref(m);
        return ret;
    }
    ret = sd.sd_bus_message_close_container(m);
    if (ret >= 0)
        ret = sd.sd_bus_call(sd.bus, m, SD_JOB_TIMEOUT_USEC, &e, NULL);
    sd.sd_bus_message_unref(m);
    if (ret < 0)
        ret = brig_err_msg(err, -ret, "update unit `%s`: %s", unit, e.message ? e.message : strerror(-ret));
    sd.sd_bus_error_free(&e);
    return ret;
}
