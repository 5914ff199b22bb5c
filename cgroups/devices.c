/* linux.resources.devices: the effective rule list both the v1 devices controller and the v2 eBPF program
 * are made from, and the entry point that picks one of them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "controllers.h"
#include "../util/util.h"

#define ACC_MKNOD 1u
#define ACC_READ 2u
#define ACC_WRITE 4u
#define ACC_ALL 7u

/* mknod of any node, which runc and crun allow whatever the config says; it comes last. */
static const struct brig_dev_rule mknod_rules[] = {
    {true, 'c', -1, -1, ACC_MKNOD},
    {true, 'b', -1, -1, ACC_MKNOD},
};

/* The standard devices, allowed after the config's rules as runc and crun allow them. linux.devices nodes
 * get nothing of their own, as in runc and crun: the config's rules say what they may do. */
static const struct brig_dev_rule default_rules[] = {
    {true, 'c', 1, 3, ACC_ALL},     /* null */
    {true, 'c', 1, 5, ACC_ALL},     /* zero */
    {true, 'c', 1, 7, ACC_ALL},     /* full */
    {true, 'c', 1, 8, ACC_ALL},     /* random */
    {true, 'c', 1, 9, ACC_ALL},     /* urandom */
    {true, 'c', 5, 0, ACC_ALL},     /* tty */
    {true, 'c', 5, 1, ACC_ALL},     /* console */
    {true, 'c', 5, 2, ACC_ALL},     /* ptmx */
    {true, 'c', 136, -1, ACC_ALL},  /* pts */
    {true, 'c', 10, 200, ACC_ALL},  /* net/tun */
};

/* Any combination of r, w and m; `a` stands for all three. runc and crun skip letters they do not know,
 * which turns a typo in a deny rule into no rule at all: brig refuses them instead. */
static int parse_access(const char *s, unsigned *out, char *bad)
{
    *out = 0;
    if (!s) {
        *out = ACC_ALL;
        return 0;
    }
    for (; *s; s++) {
        switch (*s) {
        case 'r': *out |= ACC_READ; break;
        case 'w': *out |= ACC_WRITE; break;
        case 'm': *out |= ACC_MKNOD; break;
        case 'a': *out |= ACC_ALL; break;
        default: *bad = *s; return -EINVAL;
        }
    }
    return 0;
}

static bool covers_everything(const struct brig_dev_rule *rule)
{
    return rule->type == 'a' || (rule->major < 0 && rule->minor < 0);
}

int brig_dev_rules_build(const struct brig_device_cgroup *cfg, size_t n_cfg, struct brig_dev_rule **rules, size_t *n,
                         struct brig_err **err)
{
    size_t cap = 1 + 2 * n_cfg + ARRAY_SIZE(default_rules) + ARRAY_SIZE(mknod_rules), count = 0;
    cleanup_free struct brig_dev_rule *out = calloc(cap, sizeof(*out));
    cleanup_free struct brig_dev_rule *cfg_rules = calloc(n_cfg ? n_cfg : 1, sizeof(*cfg_rules));

    if (!out || !cfg_rules)
        return brig_err_set(err, ENOMEM, "linux.resources.devices");
    for (size_t i = 0; i < n_cfg; i++) {
        const struct brig_device_cgroup *d = &cfg[i];
        struct brig_dev_rule *rule = &cfg_rules[i];
        char bad = 0;

        rule->allow = d->allow;
        rule->type = d->type && *d->type ? d->type[0] : 'a';
        if ((d->type && strlen(d->type) > 1) || !strchr("abc", rule->type))
            return brig_err_msg(err, EINVAL, "linux.resources.devices[%zu].type: `%s` is not a, b or c", i, d->type);
        rule->major = d->major.set ? d->major.value : -1;
        rule->minor = d->minor.set ? d->minor.value : -1;
        if (rule->major > UINT32_MAX || rule->minor > UINT32_MAX)
            return brig_err_msg(err, EINVAL, "linux.resources.devices[%zu]: device number out of range", i);
        if (parse_access(d->access, &rule->access, &bad) < 0)
            return brig_err_msg(err, EINVAL,
                                "linux.resources.devices[%zu].access: `%s`: unknown access `%c` (expected r, w, m or a)",
                                i, d->access, bad);
    }
    out[count++] = (struct brig_dev_rule){false, 'a', -1, -1, ACC_ALL};
    for (size_t i = 0; i < n_cfg; i++)
        out[count++] = cfg_rules[i];
    for (size_t i = 0; i < ARRAY_SIZE(default_rules); i++)
        out[count++] = default_rules[i];
    /* A deny of particular devices wins over the defaults; a deny of everything leaves them. It takes
     * read and write away but not mknod: the init makes the linux.devices nodes inside the cgroup, a
     * denied one too, and a node is of no use unopened. */
    for (size_t i = 0; i < n_cfg; i++) {
        struct brig_dev_rule again = cfg_rules[i];

        again.access &= ~ACC_MKNOD;
        if (!again.allow && !covers_everything(&again) && again.access)
            out[count++] = again;
    }
    for (size_t i = 0; i < ARRAY_SIZE(mknod_rules); i++)
        out[count++] = mknod_rules[i];
    *rules = steal_ptr(out);
    *n = count;
    return 0;
}

void brig_dev_rule_text(const struct brig_dev_rule *rule, char *buf, size_t size)
{
    char major[24] = "*", minor[24] = "*", access[4];
    size_t n = 0;

    if (rule->type == 'a') {
        snprintf(buf, size, "a");
        return;
    }
    if (rule->major >= 0)
        snprintf(major, sizeof(major), "%lld", (long long) rule->major);
    if (rule->minor >= 0)
        snprintf(minor, sizeof(minor), "%lld", (long long) rule->minor);
    if (rule->access & ACC_READ)
        access[n++] = 'r';
    if (rule->access & ACC_WRITE)
        access[n++] = 'w';
    if (rule->access & ACC_MKNOD)
        access[n++] = 'm';
    access[n] = '\0';
    snprintf(buf, size, "%c %s:%s %s", rule->type, major, minor, access);
}

static int apply_v1(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h,
                    const struct brig_dev_rule *rules, size_t n, struct brig_err **err)
{
    char text[80], what[64];
    int ret;

    for (size_t i = 0; i < n; i++) {
        /* The list starts with deny-all: a cgroup starts with its parent's list, which may allow anything. */
        brig_dev_rule_text(&rules[i], text, sizeof(text));
        snprintf(what, sizeof(what), "linux.resources.devices");
        if (rules[i].access == 0)
            continue;
        ret = brig_cg_write(a, h, rules[i].allow ? "devices.allow" : "devices.deny", text, what, err);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int apply_v2(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h,
                    const struct brig_dev_rule *rules, size_t n, struct brig_err **err)
{
    cleanup_free void *insns = NULL;
    cleanup_close int fd = openat(h->fd, a->rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char where[4200];
    size_t n_insns = 0;
    int ret;

    snprintf(where, sizeof(where), "%s/%s", h->root, a->rel);
    if (fd < 0)
        return brig_err_sys(err, "linux.resources.devices: open `%s`", where);
    ret = brig_dev_bpf_build(rules, n, &insns, &n_insns, err);
    if (ret < 0)
        return ret;
    ret = brig_dev_bpf_attach(fd, insns, n_insns, where, err);
    return ret < 0 ? brig_err_wrap(err, ret, "linux.resources.devices") : 0;
}

int brig_cg_apply_devices(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err)
{
    cleanup_free struct brig_dev_rule *rules = NULL;
    const struct brig_cgroup_hierarchy *h;
    size_t n = 0;
    int ret;

    /* Updates leave the device rules as they were set at create, like runc's update. */
    if (a->update || !a->cfg || a->cfg->rootless)
        return 0;
    ret = brig_dev_rules_build(r->devices, r->n_devices, &rules, &n, err);
    if (ret < 0)
        return ret;
    h = brig_cg_find_v1(a->set, "devices");
    if (h)
        return apply_v1(a, h, rules, n, err);
    if (brig_cg_is_v2(a->set))
        return apply_v2(a, brig_cg_unified(a->set), rules, n, err);
    /* No device controller at all: only a config that asks for rules cares. */
    if (r->n_devices)
        return brig_cg_unsupported(err, "linux.resources.devices", "no devices controller");
    return 0;
}

/* ---- the same rules as systemd's DevicePolicy= and DeviceAllow= ---- */

/* Whether `deny` names every device of `e` (a rule's wildcard covers any number, a number only itself). */
static bool deny_covers(const struct brig_dev_rule *deny, const struct brig_dev_sd_entry *e)
{
    return (deny->major < 0 || (e->major >= 0 && deny->major == e->major)) &&
           (deny->minor < 0 || (e->minor >= 0 && deny->minor == e->minor));
}

static bool deny_touches(const struct brig_dev_rule *deny, const struct brig_dev_sd_entry *e)
{
    return (deny->major < 0 || e->major < 0 || deny->major == e->major) &&
           (deny->minor < 0 || e->minor < 0 || deny->minor == e->minor);
}

int brig_dev_rules_systemd(const struct brig_dev_rule *rules, size_t n, struct brig_dev_sd *out, struct brig_err **err)
{
    /* Each rule adds at most one entry per type. */
    cleanup_free struct brig_dev_sd_entry *e = calloc(2 * n + 1, sizeof(*e));
    size_t count = 0, kept = 0;
    bool all_char = false, all_block = false;

    memset(out, 0, sizeof(*out));
    out->exact = true;
    if (!e)
        return brig_err_set(err, ENOMEM, "linux.resources.devices");
    /* systemd's allow list is a union: a request passes when one entry has its device and every access it
     * asks for, which is the program's "last matching rule decides" as long as a deny takes whole entries
     * away. A deny inside an entry (allow c 1:*, deny c 1:3) cannot be said; the entry stays, wider than
     * the rules, and only brig's own program refuses that device. */
    for (size_t i = 0; i < n; i++) {
        const struct brig_dev_rule *r = &rules[i];
        const char types[2] = {r->type == 'b' ? 'b' : 'c', r->type == 'a' ? 'b' : 0};

        if (r->allow) {
            for (size_t t = 0; t < 2 && types[t]; t++) {
                if (!(r->access & ACC_ALL))
                    continue;
                e[count] = (struct brig_dev_sd_entry){.type = types[t], .major = r->major, .minor = r->minor,
                                                      .access = r->access & ACC_ALL};
                /* "*:N" has no systemd form (runc and crun drop it, and systemd's program would then refuse
                 * what the rules allow): the whole type instead. */
                if (r->major < 0 && r->minor >= 0) {
                    e[count].minor = -1;
                    out->exact = false;
                }
                count++;
            }
            continue;
        }
        for (size_t j = 0; j < count; j++) {
            if (e[j].type != types[0] && e[j].type != types[1])
                continue;
            if (deny_covers(r, &e[j]))
                e[j].access &= ~r->access;
            else if (deny_touches(r, &e[j]) && (e[j].access & r->access))
                out->exact = false;
        }
    }
    for (size_t j = 0; j < count; j++) {
        if (!e[j].access)
            continue;
        if (e[j].major < 0 && e[j].minor < 0 && e[j].access == ACC_ALL)
            *(e[j].type == 'c' ? &all_char : &all_block) = true;
        e[kept++] = e[j];
    }
    /* Everything allowed: DevicePolicy=auto with no list, as runc and crun say it. */
    if (all_char && all_block) {
        out->allow_all = true;
        return 0;
    }
    out->entries = steal_ptr(e);
    out->n = kept;
    return 0;
}

void brig_dev_sd_entry_text(const struct brig_dev_sd_entry *e, char *path, size_t path_size, char *access,
                            size_t access_size)
{
    const char *kind = e->type == 'b' ? "block" : "char";
    size_t n = 0;

    if (e->major < 0)
        snprintf(path, path_size, "%s-*", kind);
    else if (e->minor < 0)
        snprintf(path, path_size, "%s-%lld", kind, (long long) e->major);
    else
        snprintf(path, path_size, "/dev/%s/%lld:%lld", kind, (long long) e->major, (long long) e->minor);
    if (access_size < 4)
        return;
    if (e->access & ACC_READ)
        access[n++] = 'r';
    if (e->access & ACC_WRITE)
        access[n++] = 'w';
    if (e->access & ACC_MKNOD)
        access[n++] = 'm';
    access[n] = '\0';
}
