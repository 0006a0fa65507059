/*
 * arena.h — the per-request memory pool.
 *
 * Everything a request allocates comes from its worker's arena and dies at
 * once when the arena is reset after the response, as with nginx's pools.
 * Blocks are kept across resets, so a warm worker allocates nothing.
 */
#ifndef IOTD_ARENA_H
#define IOTD_ARENA_H

#include <stddef.h>

typedef struct iotd_arena iotd_arena;

iotd_arena *iotd_arena_new(size_t block_size);
void iotd_arena_destroy(iotd_arena *a);
void iotd_arena_reset(iotd_arena *a);
void *iotd_arena_alloc(iotd_arena *a, size_t size);
void *iotd_arena_calloc(iotd_arena *a, size_t n, size_t size);
char *iotd_arena_strdup(iotd_arena *a, const char *s);
char *iotd_arena_strndup(iotd_arena *a, const char *s, size_t len);
char *iotd_arena_printf(iotd_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t iotd_arena_used(const iotd_arena *a);

#endif
