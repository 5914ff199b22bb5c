/* A named network's file (/etc/brig/networks/NAME.json): the parser and the checks of its values, over both
 * the default network's built-in values and a named one's. */
#include "fuzz.h"
#include "netns/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_err struct brig_err *err = NULL;
    struct net_config cfg;

    fuzz_check(net_config_parse(BRIG_NET_DEFAULT_NETWORK, "brig.json", (const char *) data, size, &cfg, &err), &err);
    fuzz_check(net_config_parse("fuzz-net", "fuzz-net.json", (const char *) data, size, &cfg, &err), &err);
    return 0;
}
