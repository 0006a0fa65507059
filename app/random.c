/*
 * random.c — secrets (session tokens, salts, generated passwords) come
 * from getrandom(2), which blocks only until the kernel pool is first
 * seeded and never returns predictable bytes.
 *
 * Characters are drawn by rejection sampling so that every character of
 * the alphabet is equally likely (a plain modulo would favour the first
 * ones).
 */
#include "random.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "iotd.h"
#include "log.h"

#define RANDOM_MAX_ALPHABET 256

int iotd_random_bytes(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            iotd_log(IOTD_LOG_ERROR, "getrandom failed: %s", strerror(errno));
            return IOTD_ERROR;
        }
        p += n;
        len -= (size_t)n;
    }
    return IOTD_OK;
}

int iotd_random_string(char *out, size_t len, const char *alphabet)
{
    size_t n = strlen(alphabet);
    if (len == 0 || n == 0 || n > RANDOM_MAX_ALPHABET)
        return IOTD_ERROR;
    /* The largest multiple of n that fits in a byte: bytes at or above it are redrawn. */
    unsigned limit = 256 - 256 % (unsigned)n;
    unsigned char pool[64];
    size_t used = sizeof pool, i = 0;
    while (i < len - 1) {
        if (used == sizeof pool) {
            if (iotd_random_bytes(pool, sizeof pool) != IOTD_OK)
                return IOTD_ERROR;
            used = 0;
        }
        unsigned char b = pool[used++];
        if (b < limit)
            out[i++] = alphabet[b % n];
    }
    out[len - 1] = '\0';
    return IOTD_OK;
}
