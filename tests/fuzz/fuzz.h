/*
 * fuzz.h — helpers shared by the libFuzzer harnesses in tests/fuzz/.
 *
 * Each harness feeds one parser bytes chosen by the fuzzer and checks what
 * it can say about the result without a second implementation; the
 * sanitizers (address, undefined) catch the rest. FUZZ_CHECK aborts, which
 * libFuzzer reports as a crash with the input that caused it.
 */
#ifndef IOTD_FUZZ_H
#define IOTD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                         \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

/* A NUL-terminated copy of the input, for parsers that take C strings; NULL when memory is short. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

#endif
