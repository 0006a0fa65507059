/*
 * random.h — cryptographic randomness from the kernel (getrandom(2)).
 */
#ifndef IOTD_RANDOM_H
#define IOTD_RANDOM_H

#include <stddef.h>

/* Fills buf with len random bytes: IOTD_OK or IOTD_ERROR (logged). */
int iotd_random_bytes(void *buf, size_t len);
/* Writes len - 1 characters drawn uniformly from alphabet, then a NUL. */
int iotd_random_string(char *out, size_t len, const char *alphabet);

#endif
