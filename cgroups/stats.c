/* `events --stats`: the cgroup's counters as the JSON object runc prints under "data" (cpu, memory, pids,
 * blkio, hugetlb), read from v1 or v2 files. Values only: every key is fixed here or a kernel counter
 * name checked to be a plain word, so the text needs no escaping. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "controllers.h"
#include "../util/util.h"

#define NS_PER_USEC 1000ULL

struct stats_ctx {
    const struct brig_cgroup_set *set;
    const char *rel;
    FILE *out;
};

static uint64_t read_u64(const struct brig_cgroup_hierarchy *h, const char *rel, const char *file)
{
    int64_t v = 0;

    if (!h || brig_cg_read_i64(h, rel, file, &v) < 0)
        return 0;
    return v < 0 ? UINT64_MAX : (uint64_t) v;
}

/* The value of `key` in a flat-keyed file ("usage_usec 123"). */
static uint64_t keyed_u64(const char *text, const char *key)
{
    size_t klen = strlen(key);

    for (const char *line = text; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            uint64_t v = 0;
            char num[32];
            size_t n = strcspn(line + klen + 1, "\n");
            if (n < sizeof(num)) {
                memcpy(num, line + klen + 1, n);
                num[n] = '\0';
                brig_parse_u64(num, &v);
            }
            return v;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

static uint64_t keyed_file_u64(const struct brig_cgroup_hierarchy *h, const char *rel, const char *file,
                               const char *key)
{
    cleanup_free char *text = NULL;

    if (!h || brig_cg_read(h, rel, file, &text) < 0)
        return 0;
    return keyed_u64(text, key);
}

static bool plain_word(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '.'))
            return false;
    return true;
}

/* A whitespace-separated list of numbers as a JSON array. */
static void number_list(FILE *out, const struct brig_cgroup_hierarchy *h, const char *rel, const char *file)
{
    cleanup_free char *text = NULL;
    bool first = true;

    fputc('[', out);
    if (h && brig_cg_read(h, rel, file, &text) >= 0) {
        for (char *tok = strtok(text, " \n"); tok; tok = strtok(NULL, " \n")) {
            uint64_t v;
            if (brig_parse_u64(tok, &v) == 0) {
                fprintf(out, "%s%llu", first ? "" : ",", (unsigned long long) v);
                first = false;
            }
        }
    }
    fputc(']', out);
}

static void cpu_stats(struct stats_ctx *c)
{
    const struct brig_cgroup_hierarchy *acct = brig_cg_find_v1(c->set, "cpuacct");
    const struct brig_cgroup_hierarchy *cpu = brig_cg_find_v1(c->set, "cpu");
    FILE *out = c->out;

    if (acct) {
        long ticks = sysconf(_SC_CLK_TCK);
        uint64_t user = keyed_file_u64(acct, c->rel, "cpuacct.stat", "user");
        uint64_t system = keyed_file_u64(acct, c->rel, "cpuacct.stat", "system");
        if (ticks <= 0)
            ticks = 100;
        fprintf(out, "\"cpu\":{\"usage\":{\"total\":%llu,\"percpu\":",
                (unsigned long long) read_u64(acct, c->rel, "cpuacct.usage"));
        number_list(out, acct, c->rel, "cpuacct.usage_percpu");
        fputs(",\"percpu_kernel\":", out);
        number_list(out, acct, c->rel, "cpuacct.usage_percpu_sys");
        fputs(",\"percpu_user\":", out);
        number_list(out, acct, c->rel, "cpuacct.usage_percpu_user");
        fprintf(out, ",\"kernel\":%llu,\"user\":%llu}", (unsigned long long) (system * 1000000000ULL / (uint64_t) ticks),
                (unsigned long long) (user * 1000000000ULL / (uint64_t) ticks));
        fprintf(out, ",\"throttling\":{\"periods\":%llu,\"throttledPeriods\":%llu,\"throttledTime\":%llu}}",
                (unsigned long long) keyed_file_u64(cpu, c->rel, "cpu.stat", "nr_periods"),
                (unsigned long long) keyed_file_u64(cpu, c->rel, "cpu.stat", "nr_throttled"),
                (unsigned long long) keyed_file_u64(cpu, c->rel, "cpu.stat", "throttled_time"));
        return;
    }
    {
        const struct brig_cgroup_hierarchy *u = brig_cg_unified(c->set);
        cleanup_free char *text = NULL;
        if (!u || brig_cg_read(u, c->rel, "cpu.stat", &text) < 0) {
            fputs("\"cpu\":{\"usage\":{\"total\":0,\"kernel\":0,\"user\":0},\"throttling\":{}}", out);
            return;
        }
        fprintf(out, "\"cpu\":{\"usage\":{\"total\":%llu,\"kernel\":%llu,\"user\":%llu}",
                (unsigned long long) (keyed_u64(text, "usage_usec") * NS_PER_USEC),
                (unsigned long long) (keyed_u64(text, "system_usec") * NS_PER_USEC),
                (unsigned long long) (keyed_u64(text, "user_usec") * NS_PER_USEC));
        fprintf(out, ",\"throttling\":{\"periods\":%llu,\"throttledPeriods\":%llu,\"throttledTime\":%llu}}",
                (unsigned long long) keyed_u64(text, "nr_periods"), (unsigned long long) keyed_u64(text, "nr_throttled"),
                (unsigned long long) (keyed_u64(text, "throttled_usec") * NS_PER_USEC));
    }
}

static void memory_entry(FILE *out, const char *name, const struct brig_cgroup_hierarchy *h, const char *rel,
                         const char *prefix)
{
    char f[4][96];

    snprintf(f[0], sizeof(f[0]), "%s.limit_in_bytes", prefix);
    snprintf(f[1], sizeof(f[1]), "%s.usage_in_bytes", prefix);
    snprintf(f[2], sizeof(f[2]), "%s.max_usage_in_bytes", prefix);
    snprintf(f[3], sizeof(f[3]), "%s.failcnt", prefix);
    fprintf(out, "\"%s\":{\"limit\":%llu,\"usage\":%llu,\"max\":%llu,\"failcnt\":%llu}", name,
            (unsigned long long) read_u64(h, rel, f[0]), (unsigned long long) read_u64(h, rel, f[1]),
            (unsigned long long) read_u64(h, rel, f[2]), (unsigned long long) read_u64(h, rel, f[3]));
}

/* memory.stat as "raw": every "name value" line. */
static void raw_map(FILE *out, const struct brig_cgroup_hierarchy *h, const char *rel, const char *file)
{
    cleanup_free char *text = NULL;
    bool first = true;

    fputs("\"raw\":{", out);
    if (h && brig_cg_read(h, rel, file, &text) >= 0) {
        for (char *line = text, *next; *line; line = next) {
            size_t klen = strcspn(line, " ");
            uint64_t v;
            next = line + strcspn(line, "\n");
            if (*next)
                *next++ = '\0';
            if (line[klen] != ' ' || !plain_word(line, klen) || brig_parse_u64(line + klen + 1, &v) < 0)
                continue;
            fprintf(out, "%s\"%.*s\":%llu", first ? "" : ",", (int) klen, line, (unsigned long long) v);
            first = false;
        }
    }
    fputc('}', out);
}

static void memory_stats(struct stats_ctx *c)
{
    const struct brig_cgroup_hierarchy *h = brig_cg_find_v1(c->set, "memory");
    FILE *out = c->out;

    if (h) {
        fprintf(out, "\"memory\":{\"cache\":%llu,",
                (unsigned long long) keyed_file_u64(h, c->rel, "memory.stat", "cache"));
        memory_entry(out, "usage", h, c->rel, "memory");
        fputc(',', out);
        memory_entry(out, "swap", h, c->rel, "memory.memsw");
        fputc(',', out);
        memory_entry(out, "kernel", h, c->rel, "memory.kmem");
        fputc(',', out);
        memory_entry(out, "kernelTCP", h, c->rel, "memory.kmem.tcp");
        fputc(',', out);
        raw_map(out, h, c->rel, "memory.stat");
        fputc('}', out);
        return;
    }
    h = brig_cg_unified(c->set);
    if (!brig_cg_is_v2(c->set))
        h = NULL;
    {
        uint64_t usage = read_u64(h, c->rel, "memory.current"), swap = read_u64(h, c->rel, "memory.swap.current");
        fprintf(out, "\"memory\":{\"cache\":%llu,", (unsigned long long) keyed_file_u64(h, c->rel, "memory.stat", "file"));
        fprintf(out, "\"usage\":{\"limit\":%llu,\"usage\":%llu,\"max\":%llu,\"failcnt\":%llu},",
                (unsigned long long) read_u64(h, c->rel, "memory.max"), (unsigned long long) usage,
                (unsigned long long) read_u64(h, c->rel, "memory.peak"),
                (unsigned long long) keyed_file_u64(h, c->rel, "memory.events", "max"));
        /* v1 reports memory+swap: so does runc on v2, for the same consumers. */
        fprintf(out, "\"swap\":{\"limit\":%llu,\"usage\":%llu,\"max\":0,\"failcnt\":0},",
                (unsigned long long) read_u64(h, c->rel, "memory.swap.max"), (unsigned long long) usage + (unsigned long long) swap);
        fputs("\"kernel\":{\"limit\":0,\"usage\":0,\"max\":0,\"failcnt\":0},", out);
        fputs("\"kernelTCP\":{\"limit\":0,\"usage\":0,\"max\":0,\"failcnt\":0},", out);
        raw_map(out, h, c->rel, "memory.stat");
        fputc('}', out);
    }
}

static void pids_stats(struct stats_ctx *c)
{
    const struct brig_cgroup_hierarchy *h = brig_cg_find_v1(c->set, "pids");
    uint64_t limit;

    if (!h && brig_cg_is_v2(c->set))
        h = brig_cg_unified(c->set);
    limit = read_u64(h, c->rel, "pids.max");
    fprintf(c->out, "\"pids\":{\"current\":%llu,\"limit\":%llu}", (unsigned long long) read_u64(h, c->rel, "pids.current"),
            (unsigned long long) (limit == UINT64_MAX ? 0 : limit));
}

/* v1 "8:0 Read 4096" lines (the "Total" line has no device). */
static void blkio_v1_list(FILE *out, const struct brig_cgroup_hierarchy *h, const char *rel, const char *file)
{
    cleanup_free char *text = NULL;
    bool first = true;

    fputc('[', out);
    if (brig_cg_read(h, rel, file, &text) >= 0) {
        for (char *line = text, *next; *line; line = next) {
            unsigned major, minor;
            char op[16];
            unsigned long long v;
            next = line + strcspn(line, "\n");
            if (*next)
                *next++ = '\0';
            if (sscanf(line, "%u:%u %15s %llu", &major, &minor, op, &v) != 4 || !plain_word(op, strlen(op)))
                continue;
            fprintf(out, "%s{\"major\":%u,\"minor\":%u,\"op\":\"%s\",\"value\":%llu}", first ? "" : ",", major, minor,
                    op, v);
            first = false;
        }
    }
    fputc(']', out);
}

/* v2 io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." as two runc lists (bytes, ios). */
static void blkio_v2_list(FILE *out, const char *text, const char *rkey, const char *wkey)
{
    bool first = true;
    char *copy = strdup(text ? text : "");

    fputc('[', out);
    for (char *line = copy, *next; line && *line; line = next) {
        unsigned major, minor;
        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        if (sscanf(line, "%u:%u", &major, &minor) != 2)
            continue;
        for (int w = 0; w < 2; w++) {
            char key[16];
            const char *at;
            unsigned long long v = 0;
            snprintf(key, sizeof(key), " %s=", w ? wkey : rkey);
            at = strstr(line, key);
            if (at)
                v = strtoull(at + strlen(key), NULL, 10);
            fprintf(out, "%s{\"major\":%u,\"minor\":%u,\"op\":\"%s\",\"value\":%llu}", first ? "" : ",", major, minor,
                    w ? "Write" : "Read", v);
            first = false;
        }
    }
    free(copy);
    fputc(']', out);
}

static void blkio_stats(struct stats_ctx *c)
{
    const struct brig_cgroup_hierarchy *h = brig_cg_find_v1(c->set, "blkio");
    FILE *out = c->out;

    if (h) {
        fputs("\"blkio\":{\"ioServiceBytesRecursive\":", out);
        blkio_v1_list(out, h, c->rel, "blkio.throttle.io_service_bytes_recursive");
        fputs(",\"ioServicedRecursive\":", out);
        blkio_v1_list(out, h, c->rel, "blkio.throttle.io_serviced_recursive");
        fputc('}', out);
        return;
    }
    {
        cleanup_free char *text = NULL;
        if (brig_cg_is_v2(c->set))
            brig_cg_read(brig_cg_unified(c->set), c->rel, "io.stat", &text);
        fputs("\"blkio\":{\"ioServiceBytesRecursive\":", out);
        blkio_v2_list(out, text, "rbytes", "wbytes");
        fputs(",\"ioServicedRecursive\":", out);
        blkio_v2_list(out, text, "rios", "wios");
        fputc('}', out);
    }
}

/* Page sizes as the kernel names them in hugetlb files: hugepages-2048kB -> 2MB. */
static void hugetlb_stats(struct stats_ctx *c)
{
    struct brig_cg_apply a = {.set = (struct brig_cgroup_set *) c->set, .rel = c->rel};
    const struct brig_cgroup_hierarchy *h = brig_cg_find_v1(c->set, "hugetlb");
    DIR *dir = opendir("/sys/kernel/mm/hugepages");
    struct dirent *de;
    bool first = true;

    if (!h) {
        const struct brig_cgroup_hierarchy *u = brig_cg_unified(c->set);
        if (u && brig_cg_has_file(&a, u, "hugetlb.2MB.current"))
            h = u;
    }
    fputs("\"hugetlb\":{", c->out);
    while (h && dir && (de = readdir(dir))) {
        unsigned long long kb;
        char size[32], file[96];
        if (sscanf(de->d_name, "hugepages-%llukB", &kb) != 1)
            continue;
        if (kb >= 1024ULL * 1024 && kb % (1024ULL * 1024) == 0)
            snprintf(size, sizeof(size), "%lluGB", kb / (1024ULL * 1024));
        else if (kb >= 1024 && kb % 1024 == 0)
            snprintf(size, sizeof(size), "%lluMB", kb / 1024);
        else
            snprintf(size, sizeof(size), "%lluKB", kb);
        {
            char f2[96], f3[96];
            snprintf(file, sizeof(file), h->unified ? "hugetlb.%s.current" : "hugetlb.%s.usage_in_bytes", size);
            /* v2 keeps no peak usage (hugetlb.<size>.max is the limit): 0 there, as runc reports it. */
            snprintf(f2, sizeof(f2), "hugetlb.%s.max_usage_in_bytes", size);
            snprintf(f3, sizeof(f3), h->unified ? "hugetlb.%s.events" : "hugetlb.%s.failcnt", size);
            fprintf(c->out, "%s\"%s\":{\"usage\":%llu,\"max\":%llu,\"failcnt\":%llu}", first ? "" : ",", size,
                    (unsigned long long) read_u64(h, c->rel, file),
                    (unsigned long long) (h->unified ? 0 : read_u64(h, c->rel, f2)),
                    (unsigned long long) (h->unified ? keyed_file_u64(h, c->rel, f3, "max") : read_u64(h, c->rel, f3)));
        }
        first = false;
    }
    if (dir)
        closedir(dir);
    fputc('}', c->out);
}

int brig_cgroup_stats_json(enum brig_cgroup_mode mode, const char *path, char **json, struct brig_err **err)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    struct stats_ctx c;
    char *buf = NULL;
    size_t len = 0;
    int ret;

    *json = NULL;
    ret = brig_cgroup_set_open_for(mode, path, &set, err);
    if (ret < 0)
        return ret;
    c = (struct stats_ctx){.set = &set, .rel = path + 1, .out = open_memstream(&buf, &len)};
    if (!c.out)
        return brig_err_sys(err, "stats of `%s`", path);
    fputc('{', c.out);
    cpu_stats(&c);
    fputc(',', c.out);
    memory_stats(&c);
    fputc(',', c.out);
    pids_stats(&c);
    fputc(',', c.out);
    blkio_stats(&c);
    fputc(',', c.out);
    hugetlb_stats(&c);
    fputc('}', c.out);
    if (fclose(c.out) != 0) {
        free(buf);
        return brig_err_set(err, ENOMEM, "stats of `%s`", path);
    }
    *json = buf;
    return 0;
}
