/*
 * deletions.c — the repository of pending S3 deletions.
 *
 * Removing an image deletes its row and records its object key in the same
 * transaction; the object is deleted after the commit and the record then
 * dropped. A crash or an S3 outage in between leaves the record, so
 * iotd gc retries it: no object is ever forgotten.
 */
#include "deletions.h"

#include <stdio.h>
#include <stdlib.h>

#include "iotd.h"

static const iotd_db_stmt stmt_request = {
    "deletions_request",
    "INSERT INTO object_deletions (object_key) VALUES ($1) ON CONFLICT (object_key) DO NOTHING", 1, 1};
static const iotd_db_stmt stmt_failed = {
    "deletions_failed",
    "INSERT INTO object_deletions (object_key, attempts, last_error) VALUES ($1, 1, left($2, $3::integer)) "
    "ON CONFLICT (object_key) DO UPDATE SET attempts = object_deletions.attempts + 1, "
    "last_error = EXCLUDED.last_error",
    3, 0};
static const iotd_db_stmt stmt_done = {"deletions_done", "DELETE FROM object_deletions WHERE object_key = $1",
                                       1, 1};
static const iotd_db_stmt stmt_list = {
    "deletions_list",
    "SELECT object_key, attempts, "
    "to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(last_error, '') "
    "FROM object_deletions ORDER BY requested_at, object_key LIMIT $1::bigint",
    1, 1};

static int run(iotd_db *db, const iotd_db_stmt *stmt, const char *const *values, int *affected)
{
    PGresult *r;
    int rc = iotd_db_exec(db, stmt, values, &r);
    if (rc == IOTD_OK && affected)
        *affected = atoi(PQcmdTuples(r));
    PQclear(r);
    return rc;
}

int iotd_deletions_request(iotd_db *db, const char *object_key)
{
    const char *values[] = {object_key};
    return run(db, &stmt_request, values, NULL);
}

int iotd_deletions_failed(iotd_db *db, const char *object_key, const char *error)
{
    char max[16];
    snprintf(max, sizeof max, "%d", IOTD_DELETIONS_MAX_ERROR_CHARS);
    const char *values[] = {object_key, error ? error : "", max};
    return run(db, &stmt_failed, values, NULL);
}

int iotd_deletions_done(iotd_db *db, const char *object_key)
{
    const char *values[] = {object_key};
    int affected = 0;
    int rc = run(db, &stmt_done, values, &affected);
    if (rc == IOTD_OK && affected == 0)
        rc = IOTD_DECLINED;
    return rc;
}

int iotd_deletions_list(iotd_db *db, iotd_arena *a, long long limit, iotd_deletion **out, size_t *count)
{
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", limit);
    const char *values[] = {lim};
    PGresult *r;
    *out = NULL;
    *count = 0;
    int rc = iotd_db_exec(db, &stmt_list, values, &r);
    if (rc == IOTD_OK) {
        int n = PQntuples(r);
        iotd_deletion *list = iotd_arena_calloc(a, (size_t)(n ? n : 1), sizeof *list);
        if (!list)
            rc = IOTD_ERROR;
        for (int i = 0; rc == IOTD_OK && i < n; i++) {
            list[i].object_key = iotd_arena_strdup(a, PQgetvalue(r, i, 0));
            list[i].attempts = atoi(PQgetvalue(r, i, 1));
            list[i].requested_at = iotd_arena_strdup(a, PQgetvalue(r, i, 2));
            list[i].last_error = iotd_arena_strdup(a, PQgetvalue(r, i, 3));
            if (!list[i].object_key || !list[i].requested_at || !list[i].last_error)
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
