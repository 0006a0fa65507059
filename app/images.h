/*
 * images.h — the featured-image repository (table images).
 */
#ifndef IOTD_IMAGES_H
#define IOTD_IMAGES_H

#include "arena.h"
#include "db.h"

typedef struct iotd_image {
    long long id;
    const char *name;
    const char *tagline;
    const char *object_key;
    const char *content_type;
    long long byte_size;
    int width;
    int height;
    const char *uploaded_at; /* ISO 8601, UTC */
} iotd_image;

/* The most recently uploaded image: IOTD_OK, IOTD_DECLINED when there is
 * none, IOTD_AGAIN when the database is unreachable, IOTD_ERROR. Strings
 * live in the arena. */
int iotd_images_latest(iotd_db *db, iotd_arena *a, iotd_image *out);
int iotd_images_get(iotd_db *db, iotd_arena *a, long long id, iotd_image *out);
/* Newest first; *out is an arena array of *count images. */
int iotd_images_list(iotd_db *db, iotd_arena *a, long long limit, long long offset, iotd_image **out,
                     size_t *count);
/* Inserts img (id and uploaded_at are filled in). */
int iotd_images_insert(iotd_db *db, iotd_arena *a, iotd_image *img);
/* Deletes the row and returns its object key; IOTD_DECLINED when absent. */
int iotd_images_delete(iotd_db *db, iotd_arena *a, long long id, const char **object_key);

/* Every row's id and object key (for iotd gc); *out is an arena array. */
typedef struct iotd_image_ref {
    long long id;
    const char *object_key;
} iotd_image_ref;
int iotd_images_refs(iotd_db *db, iotd_arena *a, iotd_image_ref **out, size_t *count);

/* Admin list: newest first, name or tagline containing q (case-insensitive,
 * q may be empty); *total counts every match. */
int iotd_images_search(iotd_db *db, iotd_arena *a, const char *q, long long limit, long long offset,
                       iotd_image **out, size_t *count, long long *total);
/* Changes name and tagline. DECLINED: no such image. */
int iotd_images_update_text(iotd_db *db, long long id, const char *name, const char *tagline);
/* Points the row at a new object; *old_key receives the previous one. DECLINED: no such image. */
int iotd_images_update_file(iotd_db *db, iotd_arena *a, long long id, const iotd_image *file, const char **old_key);

#endif
