/* process.capabilities with libcap, in runc's order: the bounding set is cut while the init is still fully
 * privileged, PR_SET_KEEPCAPS carries the permitted set across the uid change, and the other four sets are
 * installed afterwards. An absent process.capabilities leaves the init's capabilities alone (runc does the
 * same): root keeps brig's, any other uid loses them all at execve. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "security.h"
#include "../util/util.h"

/* libcap's strings carry a header of their own: they must go back through cap_free(). */
static void cap_strfreep(char **s)
{
    if (*s)
        cap_free(*s);
}
#define cleanup_cap_str __attribute__((cleanup(cap_strfreep)))

static const char *const set_names[BRIG_CAP__COUNT] = {
    [BRIG_CAP_BOUNDING] = "bounding",     [BRIG_CAP_EFFECTIVE] = "effective",
    [BRIG_CAP_PERMITTED] = "permitted",   [BRIG_CAP_INHERITABLE] = "inheritable",
    [BRIG_CAP_AMBIENT] = "ambient",
};

/* The highest capability number brig can express in a mask and libcap can name. */
static int last_cap(void)
{
    int last = CAP_LAST_CAP;

    return last > 63 ? 63 : last;
}

int brig_cap_from_name(const char *name, int *cap)
{
    cap_value_t value;

    /* cap_from_name() takes lower case, numbers and whole cap_text expressions: accept only OCI's form. */
    if (strncmp(name, "CAP_", 4) != 0 || !name[4])
        return -EINVAL;
    for (const char *p = name + 4; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return -EINVAL;
    if (cap_from_name(name, &value) < 0 || value < 0 || value > last_cap())
        return -EINVAL;
    *cap = value;
    return 0;
}

uint64_t brig_caps_read_bounding(void)
{
    uint64_t mask = 0;

    for (int c = 0; c <= last_cap(); c++)
        if (prctl(PR_CAPBSET_READ, (unsigned long) c, 0, 0, 0) == 1)
            mask |= 1ULL << c;
    return mask;
}

static char *cap_name(int cap, char *buf, size_t len)
{
    cleanup_cap_str char *lower = cap_to_name((cap_value_t) cap);

    snprintf(buf, len, "%s", lower ? lower : "?");
    for (char *p = buf; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char) (*p - 'a' + 'A');
    return buf;
}

static void append_warning(char **warnings, const char *set, const char *name, const char *why)
{
    char *joined = NULL;

    if (asprintf(&joined, "%s%sprocess.capabilities.%s: `%s` ignored: %s", *warnings ? *warnings : "",
                 *warnings ? "; " : "", set, name, why) < 0)
        return;
    free(*warnings);
    *warnings = joined;
}

int brig_caps_plan_build(const struct brig_process *proc, uint64_t host_bounding, struct brig_caps_plan *plan,
                         char **warnings, struct brig_err **err)
{
    const struct brig_capabilities *c = &proc->capabilities;
    char *const *lists[BRIG_CAP__COUNT] = {c->bounding, c->effective, c->permitted, c->inheritable, c->ambient};
    const size_t counts[BRIG_CAP__COUNT] = {c->n_bounding, c->n_effective, c->n_permitted, c->n_inheritable,
                                            c->n_ambient};
    char name[64];

    memset(plan, 0, sizeof(*plan));
    *warnings = NULL;
    if (!proc->has_capabilities)
        return 0;
    plan->apply = true;
    for (int set = 0; set < BRIG_CAP__COUNT; set++) {
        for (size_t i = 0; i < counts[set]; i++) {
            int cap;

            /* As runc: a name this build cannot map (newer than libcap, or a typo) is dropped with a warning
             * rather than failing the container; leaving a capability out never grants anything. */
            if (brig_cap_from_name(lists[set][i], &cap) < 0) {
                append_warning(warnings, set_names[set], lists[set][i], "unknown capability");
                continue;
            }
            if (!(host_bounding & (1ULL << cap))) {
                /* What brig cannot pass on is simply not in the container's bounding set either. */
                if (set == BRIG_CAP_BOUNDING)
                    continue;
                return brig_err_msg(err, EPERM, "process.capabilities.%s: `%s` is not in brig's bounding set",
                                    set_names[set], lists[set][i]);
            }
            plan->sets[set] |= 1ULL << cap;
        }
    }
    /* capset(2) refuses an effective capability that is not permitted. */
    for (int cap = 0; cap <= last_cap(); cap++)
        if ((plan->sets[BRIG_CAP_EFFECTIVE] & ~plan->sets[BRIG_CAP_PERMITTED]) & (1ULL << cap))
            return brig_err_msg(err, EINVAL, "process.capabilities.effective: `%s` is not in the permitted set",
                                cap_name(cap, name, sizeof(name)));
    /* The kernel raises an ambient capability only when it is both permitted and inheritable. */
    for (int cap = 0; cap <= last_cap(); cap++) {
        uint64_t bit = 1ULL << cap;
        if ((plan->sets[BRIG_CAP_AMBIENT] & bit) &&
            !(plan->sets[BRIG_CAP_PERMITTED] & plan->sets[BRIG_CAP_INHERITABLE] & bit)) {
            plan->sets[BRIG_CAP_AMBIENT] &= ~bit;
            append_warning(warnings, "ambient", cap_name(cap, name, sizeof(name)),
                           "it is not both permitted and inheritable");
        }
    }
    return 0;
}

int brig_caps_drop_bounding(const struct brig_caps_plan *plan, struct brig_err **err)
{
    char name[64];

    if (!plan->apply)
        return 0;
    for (int cap = 0; cap <= last_cap(); cap++) {
        if (plan->sets[BRIG_CAP_BOUNDING] & (1ULL << cap))
            continue;
        if (prctl(PR_CAPBSET_READ, (unsigned long) cap, 0, 0, 0) != 1)
            continue;
        if (prctl(PR_CAPBSET_DROP, (unsigned long) cap, 0, 0, 0) < 0)
            return brig_err_sys(err, "process.capabilities.bounding: drop `%s`", cap_name(cap, name, sizeof(name)));
    }
    return 0;
}

static void cap_freep(cap_t *caps)
{
    if (*caps)
        cap_free(*caps);
}

int brig_caps_apply(const struct brig_caps_plan *plan, struct brig_err **err)
{
    static const struct {
        enum brig_cap_set set;
        cap_flag_t flag;
    } flags[] = {
        {BRIG_CAP_EFFECTIVE, CAP_EFFECTIVE},
        {BRIG_CAP_PERMITTED, CAP_PERMITTED},
        {BRIG_CAP_INHERITABLE, CAP_INHERITABLE},
    };
    __attribute__((cleanup(cap_freep))) cap_t caps = NULL;
    char name[64];

    if (!plan->apply)
        return 0;
    caps = cap_init();
    if (!caps)
        return brig_err_sys(err, "process.capabilities");
    for (size_t f = 0; f < ARRAY_SIZE(flags); f++)
        for (int cap = 0; cap <= last_cap(); cap++)
            if (plan->sets[flags[f].set] & (1ULL << cap)) {
                cap_value_t value = (cap_value_t) cap;
                if (cap_set_flag(caps, flags[f].flag, 1, &value, CAP_SET) < 0)
                    return brig_err_sys(err, "process.capabilities.%s: `%s`", set_names[flags[f].set],
                                        cap_name(cap, name, sizeof(name)));
            }
    if (cap_set_proc(caps) < 0)
        return brig_err_sys(err, "process.capabilities: set effective, permitted and inheritable");
    if (cap_reset_ambient() < 0 && errno != EINVAL)
        return brig_err_sys(err, "process.capabilities.ambient: clear");
    for (int cap = 0; cap <= last_cap(); cap++)
        if ((plan->sets[BRIG_CAP_AMBIENT] & (1ULL << cap)) && cap_set_ambient((cap_value_t) cap, CAP_SET) < 0)
            return brig_err_sys(err, "process.capabilities.ambient: raise `%s`", cap_name(cap, name, sizeof(name)));
    return 0;
}
