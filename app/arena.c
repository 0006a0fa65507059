/*
 * arena.c — bump allocation in chained blocks for request lifetimes.
 *
 * Large requests get a block of their own; reset frees those and rewinds the
 * standard blocks, keeping them for the next request.
 */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16

typedef struct block {
    struct block *next;
    size_t size;
    size_t used;
    int oversized;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} block;

struct iotd_arena {
    block *head;       /* blocks in use, newest first */
    block *spare;      /* rewound standard blocks */
    size_t block_size;
    size_t used;
};

iotd_arena *iotd_arena_new(size_t block_size)
{
    iotd_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    return a;
}

static void free_chain(block *b)
{
    while (b) {
        block *next = b->next;
        free(b);
        b = next;
    }
}

void iotd_arena_destroy(iotd_arena *a)
{
    if (!a)
        return;
    free_chain(a->head);
    free_chain(a->spare);
    free(a);
}

void iotd_arena_reset(iotd_arena *a)
{
    block *b = a->head;
    while (b) {
        block *next = b->next;
        if (b->oversized) {
            free(b);
        } else {
            b->used = 0;
            b->next = a->spare;
            a->spare = b;
        }
        b = next;
    }
    a->head = NULL;
    a->used = 0;
}

static block *new_block(iotd_arena *a, size_t need)
{
    if (need <= a->block_size && a->spare) {
        block *b = a->spare;
        a->spare = b->next;
        return b;
    }
    int oversized = need > a->block_size;
    size_t size = oversized ? need : a->block_size;
    if (size > SIZE_MAX - sizeof(block))
        return NULL;
    block *b = malloc(sizeof(block) + size);
    if (!b)
        return NULL;
    b->size = size;
    b->used = 0;
    b->oversized = oversized;
    return b;
}

void *iotd_arena_alloc(iotd_arena *a, size_t size)
{
    if (size > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size == 0)
        size = ARENA_ALIGN;
    block *b = a->head;
    if (!b || b->size - b->used < size) {
        b = new_block(a, size);
        if (!b)
            return NULL;
        if (b->oversized && a->head) {
            /* keep the current block open for small allocations */
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += size;
    a->used += size;
    return p;
}

void *iotd_arena_calloc(iotd_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = iotd_arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

char *iotd_arena_strndup(iotd_arena *a, const char *s, size_t len)
{
    char *p = iotd_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *iotd_arena_strdup(iotd_arena *a, const char *s)
{
    return iotd_arena_strndup(a, s, strlen(s));
}

char *iotd_arena_printf(iotd_arena *a, const char *fmt, ...)
{
    va_list ap, copy;
    va_start(ap, fmt);
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    char *p = NULL;
    if (n >= 0 && (p = iotd_arena_alloc(a, (size_t)n + 1)) != NULL)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t iotd_arena_used(const iotd_arena *a)
{
    return a->used;
}
