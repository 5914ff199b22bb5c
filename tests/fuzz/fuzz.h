/* Shared by the libFuzzer targets: the error contract every parser keeps, checked on each input. */
#ifndef BRIG_TESTS_FUZZ_H
#define BRIG_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failure returns a negative errno with a message; a success leaves no error behind. Anything else is a
 * bug the fuzzer should stop on. */
static inline void fuzz_check(int ret, struct brig_err **err)
{
    if (ret < 0 && (!*err || !(*err)->msg || !(*err)->msg[0])) {
        fprintf(stderr, "fuzz: failed (%d) without a message\n", ret);
        abort();
    }
    if (ret == 0 && *err) {
        fprintf(stderr, "fuzz: succeeded but left an error: %s\n", (*err)->msg);
        abort();
    }
    if (ret > 0) {
        fprintf(stderr, "fuzz: returned %d (neither 0 nor a negative errno)\n", ret);
        abort();
    }
    brig_err_free(err);
}

#endif
