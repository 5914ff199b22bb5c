/* `-p/--publish` specs and the run.brig.ports annotation: the parser, and the round trip through the form the
 * network record and `brig state` keep ("0.0.0.0:8080-8080:80-80/tcp"), which teardown parses again. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "netns/internal.h"
#include "util/util.h"

static bool same_port(const struct brig_net_port *a, const struct brig_net_port *b)
{
    return a->proto == b->proto && a->host_v6 == b->host_v6 && a->host_ip.s_addr == b->host_ip.s_addr &&
           !memcmp(&a->host_ip6, &b->host_ip6, sizeof(a->host_ip6)) && a->host_port == b->host_port &&
           a->container_port == b->container_port && a->count == b->count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *text = NULL;
    cleanup_free char *formatted = NULL;
    cleanup_free struct brig_net_port *ports = NULL;
    cleanup_free struct brig_net_port *again = NULL;
    cleanup_err struct brig_err *err = NULL;
    size_t n = 0, n_again = 0;
    int ret;

    /* A command-line argument or an annotation: a C string. */
    if (memchr(data, '\0', size))
        return 0;
    text = strndup((const char *) data, size);
    if (!text)
        return 0;
    ret = brig_net_parse_ports(text, &ports, &n, &err);
    fuzz_check(ret, &err);
    if (ret < 0 || n == 0)
        return 0;
    if (net_ports_format(ports, n, &formatted) < 0)
        return 0;
    ret = brig_net_parse_ports(formatted, &again, &n_again, &err);
    fuzz_check(ret, &err);
    for (size_t i = 0; ret == 0 && i < n && n_again == n; i++)
        if (!same_port(&ports[i], &again[i]))
            ret = -EINVAL;
    if (ret < 0 || n_again != n) {
        fprintf(stderr, "fuzz: ports `%s` formatted as `%s` do not read back alike\n", text, formatted);
        abort();
    }
    return 0;
}
