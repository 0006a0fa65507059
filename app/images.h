/*
 * images.h — the featured-image repository (table images).
 */
#ifndef IOTD_IMAGES_H
#define IOTD_IMAGES_H

#include "arena.h"
#include "db.h"

/* A resized copy stored beside the original. */
typedef struct iotd_rendition {
    const char *key;
    int width;
    int height;
} iotd_rendition;

typedef struct iotd_image {
    long long id;
    const char *name;
    const char *tagline;
    const char *object_key;
    const char *content_type;
    long long byte_size;
    int width;
    int height;
    const char *uploaded_at;  /* ISO 8601, UTC */
    const char *feature_date; /* YYYY-MM-DD it is scheduled for, "" when none */
    iotd_rendition thumb;     /* key "" until made */
    iotd_rendition display;
    const char *updated_at;       /* ISO 8601, UTC: the last change to the row */
    int processing;               /* renditions not made yet: shown in the admin only */
    const char *processing_error; /* why they cannot be made, "" when none */
} iotd_image;

/* The columns every image query selects, in the order iotd_images_from_row
 * reads them (IOTD_IMAGE_NCOLS of them); for queries in other modules. */
#define IOTD_IMAGE_COLUMNS                                                                                   \
    "id, name, tagline, object_key, content_type, byte_size, width, height, "                                \
    "to_char(uploaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "                            \
    "coalesce(to_char(feature_date, 'YYYY-MM-DD'), ''), coalesce(thumb_key, ''), coalesce(thumb_width, 0), " \
    "coalesce(thumb_height, 0), coalesce(display_key, ''), coalesce(display_width, 0), "                     \
    "coalesce(display_height, 0), "                                                                          \
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "                             \
    "processing_since IS NOT NULL, coalesce(processing_error, '')"
#define IOTD_IMAGE_NCOLS 19
/* The condition a row meets to be on a public page. */
#define IOTD_IMAGE_PUBLIC "processing_since IS NULL"
/* Reads an image from row starting at column col into arena memory. */
int iotd_images_from_row(iotd_arena *a, const PGresult *r, int row, int col, iotd_image *out);

/* The most recently uploaded public image: IOTD_OK, IOTD_DECLINED when there is
 * none, IOTD_AGAIN when the database is unreachable, IOTD_ERROR. Strings
 * live in the arena. */
int iotd_images_latest(iotd_db *db, iotd_arena *a, iotd_image *out);
int iotd_images_get(iotd_db *db, iotd_arena *a, long long id, iotd_image *out);
/* Newest first; *out is an arena array of *count images. */
int iotd_images_list(iotd_db *db, iotd_arena *a, long long limit, long long offset, iotd_image **out,
                     size_t *count);
/* Inserts img with its renditions (a rendition whose key is "" or NULL is
 * left unset); id and uploaded_at are filled in; feature_date may be ""
 * or NULL. DECLINED: another image is scheduled for that date. With
 * img->processing set, the row is processing (its first attempt). */
int iotd_images_insert(iotd_db *db, iotd_arena *a, iotd_image *img);

/* The objects a row points at; a rendition not made is "". */
typedef struct iotd_image_keys {
    const char *original;
    const char *thumb;
    const char *display;
} iotd_image_keys;

/* Deletes the row and returns its object keys; IOTD_DECLINED when absent. */
int iotd_images_delete(iotd_db *db, iotd_arena *a, long long id, iotd_image_keys *keys);

/* Every row's id and object keys (for iotd gc); *out is an arena array. */
typedef struct iotd_image_ref {
    long long id;
    const char *object_key;
    const char *thumb_key; /* "" when none */
    const char *display_key;
} iotd_image_ref;
int iotd_images_refs(iotd_db *db, iotd_arena *a, iotd_image_ref **out, size_t *count);

/* Admin list: newest first, name or tagline containing q (case-insensitive,
 * q may be empty); *total counts every match. */
int iotd_images_search(iotd_db *db, iotd_arena *a, const char *q, long long limit, long long offset,
                       iotd_image **out, size_t *count, long long *total);
/* Changes name, tagline and feature date ("" for none). DECLINED: no such
 * image; IOTD_AGAIN/ERROR as usual; a date taken by another image is
 * IOTD_ERROR with *date_taken set. */
int iotd_images_update_text(iotd_db *db, long long id, const char *name, const char *tagline,
                            const char *feature_date, int *date_taken);
/* Records an image's renditions if its original is still original_key,
 * which ends its processing; *old receives the renditions replaced.
 * DECLINED: no such image, or its file was replaced meanwhile (the new
 * renditions belong to no row). */
int iotd_images_set_renditions(iotd_db *db, iotd_arena *a, long long id, const char *original_key,
                               const iotd_rendition *thumb, const iotd_rendition *display,
                               iotd_image_keys *old);
/* A processing image whose original is still original_key cannot be made
 * into renditions: message (for the editor) is kept, and no worker tries
 * again. DECLINED: no such processing image. */
int iotd_images_set_failed(iotd_db *db, long long id, const char *original_key, const char *message);
/* Takes up one image still processing retry_s seconds after its attempt
 * began (its worker died): the row's attempt starts again now, so no other
 * worker takes it. After max_attempts the row fails instead, *gave_up = 1.
 * IOTD_DECLINED when no row is waiting. */
int iotd_images_claim_stale(iotd_db *db, long retry_s, int max_attempts, long long *id, int *gave_up);
/* Gives back the attempt a claim counted, when it failed for want of S3 or
 * Postgres rather than because of the file (an outage must not use up an
 * image's attempts). DECLINED: the row is not processing, or this was its
 * first attempt. */
int iotd_images_release_attempt(iotd_db *db, long long id);
/* Points the row at a new object and its renditions (file->thumb and
 * file->display), which ends any processing of the old one; *old receives
 * the previous keys. DECLINED: no such image. */
int iotd_images_update_file(iotd_db *db, iotd_arena *a, long long id, const iotd_image *file,
                            iotd_image_keys *old);

#endif
