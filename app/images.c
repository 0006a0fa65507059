/*
 * images.c — reads and writes featured images.
 *
 * Each query is a const statement prepared once per connection; rows are
 * copied into the request arena so results never outlive their request.
 */
#include "images.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "iotd.h"

#define IMAGE_COLUMNS                                                                                            \
    "id, name, tagline, object_key, content_type, byte_size, width, height, "                                    \
    "to_char(uploaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const iotd_db_stmt stmt_latest = {
    "images_latest", "SELECT " IMAGE_COLUMNS " FROM images ORDER BY uploaded_at DESC, id DESC LIMIT 1", 0, 1};
static const iotd_db_stmt stmt_get = {"images_get", "SELECT " IMAGE_COLUMNS " FROM images WHERE id = $1::bigint",
                                      1, 1};
static const iotd_db_stmt stmt_list = {
    "images_list",
    "SELECT " IMAGE_COLUMNS " FROM images ORDER BY uploaded_at DESC, id DESC LIMIT $1::bigint OFFSET $2::bigint",
    2, 1};
static const iotd_db_stmt stmt_insert = {
    "images_insert",
    "INSERT INTO images (name, tagline, object_key, content_type, byte_size, width, height) "
    "VALUES ($1, $2, $3, $4, $5::bigint, $6::integer, $7::integer) "
    "RETURNING id, to_char(uploaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
    7, 0};
static const iotd_db_stmt stmt_delete = {"images_delete",
                                         "DELETE FROM images WHERE id = $1::bigint RETURNING object_key", 1, 0};

static int copy_row(iotd_arena *a, PGresult *r, int row, iotd_image *img)
{
    img->id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
    img->name = iotd_arena_strdup(a, PQgetvalue(r, row, 1));
    img->tagline = iotd_arena_strdup(a, PQgetvalue(r, row, 2));
    img->object_key = iotd_arena_strdup(a, PQgetvalue(r, row, 3));
    img->content_type = iotd_arena_strdup(a, PQgetvalue(r, row, 4));
    img->byte_size = strtoll(PQgetvalue(r, row, 5), NULL, 10);
    img->width = atoi(PQgetvalue(r, row, 6));
    img->height = atoi(PQgetvalue(r, row, 7));
    img->uploaded_at = iotd_arena_strdup(a, PQgetvalue(r, row, 8));
    if (!img->name || !img->tagline || !img->object_key || !img->content_type || !img->uploaded_at)
        return IOTD_ERROR;
    return IOTD_OK;
}

static int fetch_one(iotd_db *db, iotd_arena *a, const iotd_db_stmt *stmt, const char *const *values,
                     iotd_image *out)
{
    PGresult *r;
    int rc = iotd_db_exec(db, stmt, values, &r);
    if (rc == IOTD_OK)
        rc = PQntuples(r) == 0 ? IOTD_DECLINED : copy_row(a, r, 0, out);
    PQclear(r);
    return rc;
}

int iotd_images_latest(iotd_db *db, iotd_arena *a, iotd_image *out)
{
    return fetch_one(db, a, &stmt_latest, NULL, out);
}

int iotd_images_get(iotd_db *db, iotd_arena *a, long long id, iotd_image *out)
{
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    const char *values[] = {idbuf};
    return fetch_one(db, a, &stmt_get, values, out);
}

int iotd_images_list(iotd_db *db, iotd_arena *a, long long limit, long long offset, iotd_image **out,
                     size_t *count)
{
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%lld", limit);
    snprintf(off, sizeof off, "%lld", offset);
    const char *values[] = {lim, off};
    PGresult *r;
    *out = NULL;
    *count = 0;
    int rc = iotd_db_exec(db, &stmt_list, values, &r);
    if (rc == IOTD_OK) {
        int n = PQntuples(r);
        iotd_image *list = iotd_arena_calloc(a, (size_t)(n ? n : 1), sizeof *list);
        if (!list)
            rc = IOTD_ERROR;
        for (int i = 0; rc == IOTD_OK && i < n; i++)
            rc = copy_row(a, r, i, &list[i]);
        if (rc == IOTD_OK) {
            *out = list;
            *count = (size_t)n;
        }
    }
    PQclear(r);
    return rc;
}

int iotd_images_insert(iotd_db *db, iotd_arena *a, iotd_image *img)
{
    char size[24], w[16], h[16];
    snprintf(size, sizeof size, "%lld", img->byte_size);
    snprintf(w, sizeof w, "%d", img->width);
    snprintf(h, sizeof h, "%d", img->height);
    const char *values[] = {img->name, img->tagline ? img->tagline : "", img->object_key, img->content_type,
                            size,      w,
                            h};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_insert, values, &r);
    if (rc == IOTD_OK && PQntuples(r) == 1) {
        img->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        img->uploaded_at = iotd_arena_strdup(a, PQgetvalue(r, 0, 1));
        if (!img->uploaded_at)
            rc = IOTD_ERROR;
    } else if (rc == IOTD_OK) {
        rc = IOTD_ERROR;
    }
    PQclear(r);
    return rc;
}

int iotd_images_delete(iotd_db *db, iotd_arena *a, long long id, const char **object_key)
{
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    const char *values[] = {idbuf};
    PGresult *r;
    *object_key = NULL;
    int rc = iotd_db_exec(db, &stmt_delete, values, &r);
    if (rc == IOTD_OK) {
        if (PQntuples(r) == 0)
            rc = IOTD_DECLINED;
        else if (!(*object_key = iotd_arena_strdup(a, PQgetvalue(r, 0, 0))))
            rc = IOTD_ERROR;
    }
    PQclear(r);
    return rc;
}

/* ---- object references, for iotd gc -------------------------------------- */

static const iotd_db_stmt stmt_refs = {"images_refs", "SELECT id, object_key FROM images ORDER BY id", 0, 1};

int iotd_images_refs(iotd_db *db, iotd_arena *a, iotd_image_ref **out, size_t *count)
{
    PGresult *r;
    *out = NULL;
    *count = 0;
    int rc = iotd_db_exec(db, &stmt_refs, NULL, &r);
    if (rc == IOTD_OK) {
        int n = PQntuples(r);
        iotd_image_ref *list = iotd_arena_calloc(a, (size_t)(n ? n : 1), sizeof *list);
        if (!list)
            rc = IOTD_ERROR;
        for (int i = 0; rc == IOTD_OK && i < n; i++) {
            list[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            if (!(list[i].object_key = iotd_arena_strdup(a, PQgetvalue(r, i, 1))))
                rc = IOTD_ERROR;
        }
        if (rc == IOTD_OK) {
            *out = list;
            *count = (size_t)n;
        }
    }
    PQclear(r);
    return rc;
}
