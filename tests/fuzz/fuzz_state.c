/* state.json as stored under --root (a corrupt or hand-edited one must fail cleanly): the parser, both
 * printed forms, and the round trip (what is written reads back to the same text). */
#include <string.h>

#include "fuzz.h"
#include "spec/state.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_state struct brig_state *state = NULL;
    cleanup_state struct brig_state *again = NULL;
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *stored = NULL;
    cleanup_free char *restored = NULL;
    cleanup_free char *public = NULL;
    size_t stored_len = 0, restored_len = 0, public_len = 0;
    int ret;

    ret = brig_state_from_json((const char *) data, size, &state, &err);
    fuzz_check(ret, &err);
    if (ret < 0)
        return 0;
    fuzz_check(brig_state_to_public_json(state, &public, &public_len, &err), &err);
    ret = brig_state_to_json(state, &stored, &stored_len, &err);
    fuzz_check(ret, &err);
    if (ret < 0)
        return 0;
    ret = brig_state_from_json(stored, stored_len, &again, &err);
    fuzz_check(ret, &err);
    if (ret < 0) {
        fprintf(stderr, "fuzz: the stored state does not read back: %s\n", stored);
        abort();
    }
    fuzz_check(brig_state_to_json(again, &restored, &restored_len, &err), &err);
    if (restored_len != stored_len || memcmp(restored, stored, stored_len) != 0) {
        fprintf(stderr, "fuzz: state round trip differs:\n%s\n%s\n", stored, restored);
        abort();
    }
    return 0;
}
