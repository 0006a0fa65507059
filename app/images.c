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

#define IMAGE_COLUMNS IOTD_IMAGE_COLUMNS
#define IMAGE_NCOLS IOTD_IMAGE_NCOLS
#define SQLSTATE_UNIQUE_VIOLATION "23505"
#define FEATURE_DATE_CONSTRAINT "images_feature_date_key"

/* The statement failed because another image has that feature date. */
static int feature_date_taken(const PGresult *r)
{
    const char *constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    return strcmp(iotd_db_sqlstate(r), SQLSTATE_UNIQUE_VIOLATION) == 0 && constraint &&
           strcmp(constraint, FEATURE_DATE_CONSTRAINT) == 0;
}

static const iotd_db_stmt stmt_latest = {"images_latest",
                                         "SELECT " IMAGE_COLUMNS " FROM images WHERE " IOTD_IMAGE_PUBLIC
                                         " ORDER BY uploaded_at DESC, id DESC LIMIT 1",
                                         0, 1};
static const iotd_db_stmt stmt_get = {"images_get",
                                      "SELECT " IMAGE_COLUMNS " FROM images WHERE id = $1::bigint", 1, 1};
static const iotd_db_stmt stmt_list = {
    "images_list",
    "SELECT " IMAGE_COLUMNS
    " FROM images ORDER BY uploaded_at DESC, id DESC LIMIT $1::bigint OFFSET $2::bigint",
    2, 1};
static const iotd_db_stmt stmt_insert = {
    "images_insert",
    "INSERT INTO images (name, tagline, object_key, content_type, byte_size, width, height, feature_date,"
    " thumb_key, thumb_width, thumb_height, display_key, display_width, display_height,"
    " processing_since, processing_attempts) "
    "VALUES ($1, $2, $3, $4, $5::bigint, $6::integer, $7::integer, nullif($8, '')::date,"
    " nullif($9, ''), nullif($10, '')::integer, nullif($11, '')::integer,"
    " nullif($12, ''), nullif($13, '')::integer, nullif($14, '')::integer,"
    " CASE WHEN $15::boolean THEN now() END, CASE WHEN $15::boolean THEN 1 ELSE 0 END) "
    "RETURNING id, to_char(uploaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
    15, 0};
static const iotd_db_stmt stmt_delete = {
    "images_delete",
    "DELETE FROM images WHERE id = $1::bigint"
    " RETURNING object_key, coalesce(thumb_key, ''), coalesce(display_key, '')",
    1, 0};

/* A rendition as statement parameters: all "" when it has no key, so the
 * row's three columns are NULL together. */
typedef struct rendition_params {
    const char *key;
    char width[16];
    char height[16];
} rendition_params;

static void rendition_to_params(const iotd_rendition *r, rendition_params *p)
{
    int made = r->key && r->key[0];
    p->key = made ? r->key : "";
    p->width[0] = p->height[0] = '\0';
    if (made) {
        snprintf(p->width, sizeof p->width, "%d", r->width);
        snprintf(p->height, sizeof p->height, "%d", r->height);
    }
}

/* Reads "object_key, thumb_key, display_key" from row 0, starting at col. */
static int copy_keys(iotd_arena *a, PGresult *r, int col, iotd_image_keys *keys)
{
    keys->original = iotd_arena_strdup(a, PQgetvalue(r, 0, col));
    keys->thumb = iotd_arena_strdup(a, PQgetvalue(r, 0, col + 1));
    keys->display = iotd_arena_strdup(a, PQgetvalue(r, 0, col + 2));
    return keys->original && keys->thumb && keys->display ? IOTD_OK : IOTD_ERROR;
}

int iotd_images_from_row(iotd_arena *a, const PGresult *r, int row, int col, iotd_image *img)
{
#define COL(n) PQgetvalue(r, row, col + (n))
    img->id = strtoll(COL(0), NULL, 10);
    img->name = iotd_arena_strdup(a, COL(1));
    img->tagline = iotd_arena_strdup(a, COL(2));
    img->object_key = iotd_arena_strdup(a, COL(3));
    img->content_type = iotd_arena_strdup(a, COL(4));
    img->byte_size = strtoll(COL(5), NULL, 10);
    img->width = atoi(COL(6));
    img->height = atoi(COL(7));
    img->uploaded_at = iotd_arena_strdup(a, COL(8));
    img->feature_date = iotd_arena_strdup(a, COL(9));
    img->thumb.key = iotd_arena_strdup(a, COL(10));
    img->thumb.width = atoi(COL(11));
    img->thumb.height = atoi(COL(12));
    img->display.key = iotd_arena_strdup(a, COL(13));
    img->display.width = atoi(COL(14));
    img->display.height = atoi(COL(15));
    img->updated_at = iotd_arena_strdup(a, COL(16));
    img->processing = COL(17)[0] == 't';
    img->processing_error = iotd_arena_strdup(a, COL(18));
#undef COL
    if (!img->name || !img->tagline || !img->object_key || !img->content_type || !img->uploaded_at ||
        !img->feature_date || !img->thumb.key || !img->display.key || !img->updated_at ||
        !img->processing_error)
        return IOTD_ERROR;
    return IOTD_OK;
}

static int copy_row(iotd_arena *a, PGresult *r, int row, iotd_image *img)
{
    return iotd_images_from_row(a, r, row, 0, img);
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
    rendition_params t, d;
    rendition_to_params(&img->thumb, &t);
    rendition_to_params(&img->display, &d);
    const char *values[] = {img->name,
                            img->tagline ? img->tagline : "",
                            img->object_key,
                            img->content_type,
                            size,
                            w,
                            h,
                            img->feature_date ? img->feature_date : "",
                            t.key,
                            t.width,
                            t.height,
                            d.key,
                            d.width,
                            d.height,
                            img->processing ? "true" : "false"};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_insert, values, &r);
    if (rc == IOTD_ERROR && feature_date_taken(r)) {
        PQclear(r);
        return IOTD_DECLINED;
    }
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

int iotd_images_delete(iotd_db *db, iotd_arena *a, long long id, iotd_image_keys *keys)
{
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    const char *values[] = {idbuf};
    PGresult *r;
    memset(keys, 0, sizeof *keys);
    int rc = iotd_db_exec(db, &stmt_delete, values, &r);
    if (rc == IOTD_OK)
        rc = PQntuples(r) == 0 ? IOTD_DECLINED : copy_keys(a, r, 0, keys);
    PQclear(r);
    return rc;
}

/* ---- object references, for iotd gc -------------------------------------- */

static const iotd_db_stmt stmt_refs = {
    "images_refs",
    "SELECT id, object_key, coalesce(thumb_key, ''), coalesce(display_key, '') FROM images ORDER BY id", 0,
    1};

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
            list[i].object_key = iotd_arena_strdup(a, PQgetvalue(r, i, 1));
            list[i].thumb_key = iotd_arena_strdup(a, PQgetvalue(r, i, 2));
            list[i].display_key = iotd_arena_strdup(a, PQgetvalue(r, i, 3));
            if (!list[i].object_key || !list[i].thumb_key || !list[i].display_key)
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
    "images_update_text",
    "UPDATE images SET name = $2, tagline = $3, feature_date = nullif($4, '')::date, updated_at = now()"
    " WHERE id = $1::bigint",
    4, 0};
/* Both take the row's lock in a subquery so RETURNING sees the keys replaced. */
static const iotd_db_stmt stmt_set_renditions = {
    "images_set_renditions",
    "UPDATE images AS i SET thumb_key = nullif($3, ''), thumb_width = nullif($4, '')::integer,"
    " thumb_height = nullif($5, '')::integer, display_key = nullif($6, ''),"
    " display_width = nullif($7, '')::integer, display_height = nullif($8, '')::integer, updated_at = now(),"
    " processing_since = NULL, processing_error = NULL"
    " FROM (SELECT id, object_key, thumb_key, display_key FROM images"
    " WHERE id = $1::bigint AND object_key = $2 FOR UPDATE) AS old"
    " WHERE i.id = old.id"
    " RETURNING old.object_key, coalesce(old.thumb_key, ''), coalesce(old.display_key, '')",
    8, 0};
static const iotd_db_stmt stmt_set_failed = {
    "images_set_failed",
    "UPDATE images SET processing_error = $3, updated_at = now()"
    " WHERE id = $1::bigint AND object_key = $2 AND processing_since IS NOT NULL",
    3, 0};
/* The oldest stale row, locked so that two workers never take the same one. */
static const iotd_db_stmt stmt_claim_stale = {
    "images_claim_stale",
    "WITH c AS (SELECT id FROM images"
    "   WHERE processing_since < now() - make_interval(secs => $1::integer) AND processing_error IS NULL"
    "   ORDER BY processing_since LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " UPDATE images AS i SET processing_since = now(), processing_attempts = i.processing_attempts + 1,"
    "   processing_error = CASE WHEN i.processing_attempts >= $2::integer"
    "     THEN 'The image could not be processed after ' || $2::integer || ' attempts.'"
    "   END"
    " FROM c WHERE i.id = c.id RETURNING i.id, i.processing_error IS NOT NULL",
    2, 0};
static const iotd_db_stmt stmt_release_attempt = {
    "images_release_attempt",
    "UPDATE images SET processing_attempts = processing_attempts - 1"
    " WHERE id = $1::bigint AND processing_since IS NOT NULL AND processing_error IS NULL"
    " AND processing_attempts > 1",
    1, 0};
static const iotd_db_stmt stmt_update_file = {
    "images_update_file",
    "UPDATE images AS i SET object_key = $2, content_type = $3, byte_size = $4::bigint, width = $5::integer,"
    " height = $6::integer, thumb_key = nullif($7, ''), thumb_width = nullif($8, '')::integer,"
    " thumb_height = nullif($9, '')::integer, display_key = nullif($10, ''),"
    " display_width = nullif($11, '')::integer, display_height = nullif($12, '')::integer, updated_at = "
    "now(),"
    " processing_since = NULL, processing_error = NULL"
    " FROM (SELECT id, object_key, thumb_key, display_key FROM images"
    " WHERE id = $1::bigint FOR UPDATE) AS old WHERE i.id = old.id"
    " RETURNING old.object_key, coalesce(old.thumb_key, ''), coalesce(old.display_key, '')",
    12, 0};

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
        *total = strtoll(PQgetvalue(r, 0, IMAGE_NCOLS), NULL, 10);
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

int iotd_images_update_text(iotd_db *db, long long id, const char *name, const char *tagline,
                            const char *feature_date, int *date_taken)
{
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    const char *values[] = {idbuf, name, tagline ? tagline : "", feature_date ? feature_date : ""};
    PGresult *r;
    *date_taken = 0;
    int rc = iotd_db_exec(db, &stmt_update_text, values, &r);
    if (rc == IOTD_OK && strcmp(PQcmdTuples(r), "0") == 0)
        rc = IOTD_DECLINED;
    if (rc == IOTD_ERROR && feature_date_taken(r))
        *date_taken = 1;
    PQclear(r);
    return rc;
}

int iotd_images_set_renditions(iotd_db *db, iotd_arena *a, long long id, const char *original_key,
                               const iotd_rendition *thumb, const iotd_rendition *display,
                               iotd_image_keys *old)
{
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    rendition_params t, d;
    rendition_to_params(thumb, &t);
    rendition_to_params(display, &d);
    const char *values[] = {idbuf, original_key, t.key, t.width, t.height, d.key, d.width, d.height};
    PGresult *r;
    memset(old, 0, sizeof *old);
    int rc = iotd_db_exec(db, &stmt_set_renditions, values, &r);
    if (rc == IOTD_OK)
        rc = PQntuples(r) == 0 ? IOTD_DECLINED : copy_keys(a, r, 0, old);
    PQclear(r);
    return rc;
}

int iotd_images_update_file(iotd_db *db, iotd_arena *a, long long id, const iotd_image *file,
                            iotd_image_keys *old)
{
    char idbuf[24], size[24], w[16], h[16];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    snprintf(size, sizeof size, "%lld", file->byte_size);
    snprintf(w, sizeof w, "%d", file->width);
    snprintf(h, sizeof h, "%d", file->height);
    rendition_params t, d;
    rendition_to_params(&file->thumb, &t);
    rendition_to_params(&file->display, &d);
    const char *values[] = {idbuf, file->object_key, file->content_type, size,  w,       h,
                            t.key, t.width,          t.height,           d.key, d.width, d.height};
    PGresult *r;
    memset(old, 0, sizeof *old);
    int rc = iotd_db_exec(db, &stmt_update_file, values, &r);
    if (rc == IOTD_OK)
        rc = PQntuples(r) == 0 ? IOTD_DECLINED : copy_keys(a, r, 0, old);
    PQclear(r);
    return rc;
}

int iotd_images_set_failed(iotd_db *db, long long id, const char *original_key, const char *message)
{
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    const char *values[] = {idbuf, original_key, message};
    return iotd_db_change(db, &stmt_set_failed, values);
}

int iotd_images_claim_stale(iotd_db *db, long retry_s, int max_attempts, long long *id, int *gave_up)
{
    char secs[24], most[16];
    snprintf(secs, sizeof secs, "%ld", retry_s);
    snprintf(most, sizeof most, "%d", max_attempts);
    const char *values[] = {secs, most};
    PGresult *r;
    *id = 0;
    *gave_up = 0;
    int rc = iotd_db_exec(db, &stmt_claim_stale, values, &r);
    if (rc == IOTD_OK && PQntuples(r) == 0)
        rc = IOTD_DECLINED;
    else if (rc == IOTD_OK) {
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        *gave_up = PQgetvalue(r, 0, 1)[0] == 't';
    }
    PQclear(r);
    return rc;
}

int iotd_images_release_attempt(iotd_db *db, long long id)
{
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    const char *values[] = {idbuf};
    return iotd_db_change(db, &stmt_release_attempt, values);
}
