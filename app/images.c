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
#include <string.h>

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

/* Every row of r as an arena array. */
static int copy_rows(iotd_arena *a, PGresult *r, iotd_image **out, size_t *count)
{
    int n = PQntuples(r);
    iotd_image *list = iotd_arena_calloc(a, (size_t)(n ? n : 1), sizeof *list);
    if (!list)
        return IOTD_ERROR;
    for (int i = 0; i < n; i++)
        if (copy_row(a, r, i, &list[i]) != IOTD_OK)
            return IOTD_ERROR;
    *out = list;
    *count = (size_t)n;
    return IOTD_OK;
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
    if (rc == IOTD_OK)
        rc = copy_rows(a, r, out, count);
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

static const iotd_db_stmt stmt_search = {
    "images_search",
    "SELECT " IMAGE_COLUMNS ", count(*) OVER () FROM images"
    " WHERE $1 = '' OR strpos(lower(name), lower($1)) > 0 OR strpos(lower(tagline), lower($1)) > 0"
    " ORDER BY uploaded_at DESC, id DESC LIMIT $2::bigint OFFSET $3::bigint",
    3, 1};
static const iotd_db_stmt stmt_count_matches = {
    "images_count_matches",
    "SELECT count(*) FROM images"
    " WHERE $1 = '' OR strpos(lower(name), lower($1)) > 0 OR strpos(lower(tagline), lower($1)) > 0",
    1, 1};
static const iotd_db_stmt stmt_update_text = {
    "images_update_text", "UPDATE images SET name = $2, tagline = $3 WHERE id = $1::bigint", 3, 0};
static const iotd_db_stmt stmt_update_file = {
    "images_update_file",
    "UPDATE images AS i SET object_key = $2, content_type = $3, byte_size = $4::bigint, width = $5::integer,"
    " height = $6::integer FROM (SELECT id, object_key FROM images WHERE id = $1::bigint FOR UPDATE) AS old"
    " WHERE i.id = old.id RETURNING old.object_key",
    6, 0};

int iotd_images_search(iotd_db *db, iotd_arena *a, const char *q, long long limit, long long offset,
                       iotd_image **out, size_t *count, long long *total)
{
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%lld", limit);
    snprintf(off, sizeof off, "%lld", offset);
    const char *values[] = {q ? q : "", lim, off};
    PGresult *r;
    *out = NULL;
    *count = 0;
    *total = 0;
    int rc = iotd_db_exec(db, &stmt_search, values, &r);
    if (rc == IOTD_OK)
        rc = copy_rows(a, r, out, count);
    if (rc == IOTD_OK && *count > 0)
        *total = strtoll(PQgetvalue(r, 0, 9), NULL, 10);
    PQclear(r);
    if (rc == IOTD_OK && *count == 0 && offset > 0) {
        /* past the last page: still report how many match */
        const char *cv[] = {q ? q : ""};
        rc = iotd_db_exec(db, &stmt_count_matches, cv, &r);
        if (rc == IOTD_OK)
            *total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    return rc;
}

int iotd_images_update_text(iotd_db *db, long long id, const char *name, const char *tagline)
{
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    const char *values[] = {idbuf, name, tagline ? tagline : ""};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_update_text, values, &r);
    if (rc == IOTD_OK && strcmp(PQcmdTuples(r), "0") == 0)
        rc = IOTD_DECLINED;
    PQclear(r);
    return rc;
}

int iotd_images_update_file(iotd_db *db, iotd_arena *a, long long id, const iotd_image *file, const char **old_key)
{
    char idbuf[24], size[24], w[16], h[16];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    snprintf(size, sizeof size, "%lld", file->byte_size);
    snprintf(w, sizeof w, "%d", file->width);
    snprintf(h, sizeof h, "%d", file->height);
    const char *values[] = {idbuf, file->object_key, file->content_type, size, w, h};
    PGresult *r;
    *old_key = NULL;
    int rc = iotd_db_exec(db, &stmt_update_file, values, &r);
    if (rc == IOTD_OK) {
        if (PQntuples(r) == 0)
            rc = IOTD_DECLINED;
        else if (!(*old_key = iotd_arena_strdup(a, PQgetvalue(r, 0, 0))))
            rc = IOTD_ERROR;
    }
    PQclear(r);
    return rc;
}
