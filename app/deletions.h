/*
 * deletions.h — S3 objects whose row is gone but which still exist
 * (table object_deletions): requested, retried by iotd gc, done.
 */
#ifndef IOTD_DELETIONS_H
#define IOTD_DELETIONS_H

#include <stddef.h>

#include "arena.h"
#include "db.h"

#define IOTD_DELETIONS_MAX_ERROR_CHARS 300 /* last_error is cut to this */

typedef struct iotd_deletion {
    const char *object_key;
    int attempts;
    const char *requested_at; /* ISO 8601, UTC */
    const char *last_error;   /* "" when none */
} iotd_deletion;

/* Records that key must go (no attempt yet); a key already recorded stays as it is. */
int iotd_deletions_request(iotd_db *db, const char *object_key);
/* Records a failed attempt, adding the key when absent. */
int iotd_deletions_failed(iotd_db *db, const char *object_key, const char *error);
/* The object is gone: forgets the key (IOTD_DECLINED when it was not recorded). */
int iotd_deletions_done(iotd_db *db, const char *object_key);
/* Oldest first, at most limit; *out is an arena array of *count entries. */
int iotd_deletions_list(iotd_db *db, iotd_arena *a, long long limit, iotd_deletion **out, size_t *count);

#endif
