/*
 * library.h — the image library's operations that span the database and
 * the bucket, shared by the admin pages and the command line.
 *
 * Each keeps the two consistent: an object is stored before its row
 * exists and removed only after its row is gone, and whatever could not
 * be removed is recorded for `iotd gc`, so no editor's work is lost and
 * nothing is left orphaned by a failure halfway.
 */
#ifndef IOTD_LIBRARY_H
#define IOTD_LIBRARY_H

#include <stddef.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "images.h"
#include "s3.h"

/* What went wrong, in words for the editor, and which field it concerns. */
typedef struct iotd_library_error {
    int status;        /* HTTP status that fits: 400, 413, 503, 500 */
    const char *field; /* "name", "tagline", "file", or "" */
    char message[256];
} iotd_library_error;

/* Trims and checks name (required, <= 200 characters) and tagline
 * (<= 500): valid UTF-8, no control characters. The trimmed strings are
 * written back into the arena. */
int iotd_library_check_text(iotd_arena *a, const char **name, const char **tagline, iotd_library_error *err);
/* Checks bytes as an image (type by content, size limit) and stores it
 * under a fresh random key. On success file describes the stored object. */
int iotd_library_store_file(iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, const void *bytes, size_t len,
                            iotd_image *file, iotd_library_error *err);
/* A new image: store, then insert; the object is deleted if the insert fails. */
int iotd_library_add(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, const void *bytes,
                     size_t len, const char *name, const char *tagline, iotd_image *out,
                     iotd_library_error *err);
/* Name and tagline, and optionally a new file (bytes may be NULL): the new
 * object is stored first, the row updated, then the old object removed. */
int iotd_library_update(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, long long id,
                        const char *name, const char *tagline, const void *bytes, size_t len,
                        iotd_library_error *err);
/* Deletes the row, then the object (a failed object delete is recorded).
 * DECLINED: no such image. */
int iotd_library_remove(iotd_db *db, iotd_s3 *s3, iotd_arena *a, long long id, iotd_library_error *err);
/* Removes an object whose row is gone, recording a failure for gc. */
void iotd_library_discard_object(iotd_db *db, iotd_s3 *s3, const char *key);

#endif
