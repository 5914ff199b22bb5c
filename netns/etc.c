/* The container's /etc/hosts and /etc/resolv.conf, written into its state directory for bind mounts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "../util/util.h"

int net_write_hosts(int dir_fd, const char *hostname, const char *ip, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    int len = asprintf(&text,
                       "127.0.0.1\tlocalhost\n"
                       "::1\tlocalhost ip6-localhost ip6-loopback\n"
                       "%s\t%s\n",
                       ip, hostname);

    if (len < 0)
        return brig_err_set(err, ENOMEM, "hosts");
    return brig_write_file_atomic_at(dir_fd, BRIG_NET_HOSTS_FILE, text, (size_t) len, 0644, err);
}

static bool loopback_nameserver(const char *line)
{
    const char *p = line + strlen("nameserver");

    while (*p == ' ' || *p == '\t')
        p++;
    return !strncmp(p, "127.", 4) || !strncmp(p, "::1", 3);
}

char *net_resolv_filter(const char *text)
{
    size_t len = strlen(text);
    char *out = malloc(len + 2);
    size_t n = 0;

    if (!out)
        return NULL;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t line_len = end ? (size_t) (end - line) : strlen(line);
        bool skip = !strncmp(line, "nameserver", 10) && (line[10] == ' ' || line[10] == '\t') &&
                    loopback_nameserver(line);
        if (!skip && line_len) {
            memcpy(out + n, line, line_len);
            n += line_len;
            out[n++] = '\n';
        }
        line += line_len + (end ? 1 : 0);
    }
    out[n] = '\0';
    return out;
}

int net_write_resolv(int dir_fd, struct brig_err **err)
{
    /* With systemd-resolved the host's file names 127.0.0.53; its upstream servers are in the other file. */
    static const char *const sources[] = {"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"};
    cleanup_free char *filtered = NULL;

    for (size_t i = 0; i < ARRAY_SIZE(sources) && !filtered; i++) {
        cleanup_free char *text = NULL;
        cleanup_err struct brig_err *ignored = NULL;
        if (brig_read_file_at(AT_FDCWD, sources[i], &text, NULL, &ignored) < 0)
            continue;
        filtered = net_resolv_filter(text);
        if (!filtered)
            return brig_err_set(err, ENOMEM, "resolv.conf");
    }
    if (!filtered && !(filtered = strdup("")))
        return brig_err_set(err, ENOMEM, "resolv.conf");
    return brig_write_file_atomic_at(dir_fd, BRIG_NET_RESOLV_FILE, filtered, strlen(filtered), 0644, err);
}

int net_write_resolv_for(int dir_fd, const char *nameserver, struct brig_err **err)
{
    static const char *const sources[] = {"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"};
    cleanup_free char *text = NULL;
    cleanup_free char *out = NULL;
    size_t n;

    for (size_t i = 0; i < ARRAY_SIZE(sources) && !text; i++) {
        cleanup_err struct brig_err *ignored = NULL;
        brig_read_file_at(AT_FDCWD, sources[i], &text, NULL, &ignored);
    }
    if (asprintf(&out, "nameserver %s\n", nameserver) < 0)
        return brig_err_set(err, ENOMEM, "resolv.conf");
    n = strlen(out);
    /* The search domains and options stay; every nameserver is the helper's to reach. */
    for (const char *line = text ? text : ""; *line;) {
        const char *end = strchr(line, '\n');
        size_t line_len = end ? (size_t) (end - line) : strlen(line);
        if (line_len && strncmp(line, "nameserver", 10)) {
            char *grown = realloc(out, n + line_len + 2);
            if (!grown)
                return brig_err_set(err, ENOMEM, "resolv.conf");
            out = grown;
            memcpy(out + n, line, line_len);
            n += line_len;
            out[n++] = '\n';
            out[n] = '\0';
        }
        line += line_len + (end ? 1 : 0);
    }
    return brig_write_file_atomic_at(dir_fd, BRIG_NET_RESOLV_FILE, out, n, 0644, err);
}
