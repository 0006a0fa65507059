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
#include "spool.h"
#include "s3.h"

/* The step an operation failed at. */
typedef enum { IOTD_LIBRARY_CHECK, IOTD_LIBRARY_STORE, IOTD_LIBRARY_SAVE } iotd_library_stage;

/* What went wrong: words for the editor and the field they concern, and
 * the technical cause for logs and the command line. */
typedef struct iotd_library_error {
    int status;               /* HTTP status that fits: 400, 404, 413, 500, 503 */
    const char *field;        /* "name", "tagline", "file", or "" */
    iotd_library_stage stage; /* checking the input, storing the object, saving the row */
    char message[256];
    char detail[256]; /* e.g. "HTTP 403 AccessDenied: ..." or "the database is unreachable" */
    int object_kept;  /* an object that should be gone is still there, recorded for iotd gc */
} iotd_library_error;

#define IOTD_LIBRARY_ERROR_INIT                                                                              \
    {                                                                                                        \
        0, "", IOTD_LIBRARY_CHECK, "", "", 0                                                                 \
    }

/* Characters (code points) in s when it is valid UTF-8 without control
 * characters; -1 otherwise. */
long iotd_library_text_chars(const char *s);

/* Trims and checks name (required, <= 200 characters) and tagline
 * (<= 500): valid UTF-8, no control characters. The trimmed strings are
 * written back into the arena. */
int iotd_library_check_text(iotd_arena *a, const char **name, const char **tagline, iotd_library_error *err);
/* Checks an upload (a finished spool) as an image (type by content, size
 * limit), makes its renditions while the original is stored, and stores
 * the three objects under a fresh random key (the renditions' keys derived
 * from it). On success file describes them; on failure nothing stays
 * stored (or it is recorded for gc, object_kept). */
int iotd_library_store_file(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a,
                            const iotd_spool *upload, iotd_image *file, iotd_library_error *err);
/* The text an editor gives an image: name, tagline, and the date it is
 * featured on (YYYY-MM-DD, or "" / NULL for none). */
typedef struct iotd_library_text {
    const char *name;
    const char *tagline;
    const char *feature_date;
} iotd_library_text;

/* Checks a feature date: "" or a real YYYY-MM-DD. */
int iotd_library_check_date(const char *date, iotd_library_error *err);
/* A new image: store (original and renditions), then insert; the objects
 * are deleted if the insert fails. A date already taken is status 409 on
 * field feature_date. */
int iotd_library_add(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, const iotd_spool *file,
                     const iotd_library_text *text, iotd_image *out, iotd_library_error *err);
/* An image added while its renditions are still being made. */
typedef struct iotd_library_pending {
    iotd_image image; /* the row as inserted; strings in the caller's arena */
    int running;      /* iotd_library_add_finish is still to come */
} iotd_library_pending;

/* A new image, answered before its renditions exist: checked, the
 * original stored and the row inserted as processing (on no public page
 * yet). IOTD_OK with p->running: call iotd_library_add_finish with the
 * same file once the editor has the answer. A file whose headers are not those of
 * an image we take goes through iotd_library_add instead, to be refused
 * with the renderer's own words (p->running 0). Failures as
 * iotd_library_add: nothing stays stored. */
int iotd_library_add_start(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a,
                           const iotd_spool *file, const iotd_library_text *text, iotd_library_pending *p,
                           iotd_library_error *err);
/* Makes the renditions, stores them and ends the row's processing. A
 * file the renderer refuses fails the row with the reason, for the editor;
 * any other failure leaves it processing, and a worker takes it up again
 * later (iotd_library_retry_stale). */
int iotd_library_add_finish(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a,
                            const iotd_spool *file, iotd_library_pending *p, iotd_library_error *err);

/* Name, tagline and date, and optionally a new file (upload may be NULL or empty):
 * the new objects are stored first, the row updated and the old objects
 * recorded for deletion in one transaction, then the old objects removed. */
int iotd_library_update(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, long long id,
                        const iotd_library_text *text, const iotd_spool *upload, iotd_library_error *err);
/* Deletes the row and records its objects for deletion in one transaction,
 * then deletes them. IOTD_OK even when only an object delete failed
 * (err->object_kept says so; gc retries it). DECLINED: no such image. */
int iotd_library_remove(iotd_db *db, iotd_s3 *s3, iotd_arena *a, long long id, iotd_library_error *err);

#define IOTD_LIBRARY_REBUILD_MAX_BYTES (256L * 1024 * 1024) /* an original fetched for a rebuild */

/* Makes an image's renditions again from its original: PUT under fresh
 * keys, the row pointed at them (only if its original is unchanged) with
 * the old renditions recorded for deletion, then those deleted. On success
 * out is the row with its new renditions. DECLINED: no such image. */
int iotd_library_rebuild(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, long long id,
                         iotd_image *out, iotd_library_error *err);
#define IOTD_LIBRARY_ATTEMPTS 3 /* tries at an image's renditions before it fails */

/* Takes up the oldest image still processing retry_s seconds after its
 * attempt began (the worker making its renditions died) and rebuilds it;
 * after IOTD_LIBRARY_ATTEMPTS the row fails instead. An attempt that S3 or
 * Postgres being away spoiled does not count. IOTD_OK with *id
 * when one was taken up; IOTD_DECLINED when none waits. */
int iotd_library_retry_stale(iotd_db *db, iotd_s3 *s3, const iotd_config *cfg, iotd_arena *a, long retry_s,
                             long long *id, iotd_library_error *err);
/* Deletes an object whose row is gone and forgets its deletion record;
 * IOTD_OK, or IOTD_AGAIN when it failed and is recorded for iotd gc
 * (the cause in detail). */
int iotd_library_discard_object(iotd_db *db, iotd_s3 *s3, const char *key, char *detail, size_t detail_len);

#endif
