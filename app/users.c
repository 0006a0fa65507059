/*
 * users.c — reads and writes editor accounts.
 *
 * Passwords arrive here in clear only to be hashed (password.c) or checked;
 * neither they nor their hashes are ever logged. Names are compared through
 * lower(username), which the unique index users_username_lower_idx serves,
 * so "Alice" and "alice" are one account.
 */
#include "users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "iotd.h"
#include "log.h"
#include "password.h"

#define USER_COLUMNS                                                                                         \
    "id, username, password_hash, "                                                                          \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "                             \
    "coalesce(to_char(last_login AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"
#define SQLSTATE_UNIQUE_VIOLATION "23505"

static const iotd_db_stmt stmt_create = {
    "users_create", "INSERT INTO users (username, password_hash) VALUES ($1, $2) RETURNING id", 2, 0};
static const iotd_db_stmt stmt_create_first = {"users_create_first",
                                               "INSERT INTO users (username, password_hash) SELECT $1, $2 "
                                               "WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING id",
                                               2, 0};
/* One statement, so a new password and the end of old sessions go together. */
static const iotd_db_stmt stmt_set_password = {
    "users_set_password",
    "WITH u AS (UPDATE users SET password_hash = $2 WHERE lower(username) = lower($1) RETURNING id), "
    "s AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM u)) SELECT id FROM u",
    2, 0};
static const iotd_db_stmt stmt_rehash = {"users_rehash",
                                         "UPDATE users SET password_hash = $2 WHERE id = $1::bigint", 2, 1};
static const iotd_db_stmt stmt_get = {
    "users_get", "SELECT " USER_COLUMNS " FROM users WHERE lower(username) = lower($1)", 1, 1};
static const iotd_db_stmt stmt_list = {"users_list",
                                       "SELECT " USER_COLUMNS " FROM users ORDER BY lower(username)", 0, 1};
static const iotd_db_stmt stmt_delete = {
    "users_delete", "DELETE FROM users WHERE lower(username) = lower($1) RETURNING id", 1, 0};
static const iotd_db_stmt stmt_count = {"users_count", "SELECT count(*) FROM users", 0, 1};
static const iotd_db_stmt stmt_touch = {"users_touch_login",
                                        "UPDATE users SET last_login = now() WHERE id = $1::bigint", 1, 1};

static int username_byte_ok(unsigned char c)
{
    /* bytes >= 0x80 belong to UTF-8 letters; the schema's [[:alnum:]] has the last word */
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("@.+-_", c) != NULL;
}

int iotd_users_valid_username(const char *name)
{
    size_t chars = 0;
    if (!name || !*name)
        return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (!username_byte_ok(*p))
            return 0;
        if ((*p & 0xC0) != 0x80 && ++chars > IOTD_MAX_USERNAME_CHARS)
            return 0;
    }
    return 1;
}

static int copy_row(iotd_arena *a, PGresult *r, int row, iotd_user *u)
{
    u->id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
    u->username = iotd_arena_strdup(a, PQgetvalue(r, row, 1));
    u->password_hash = iotd_arena_strdup(a, PQgetvalue(r, row, 2));
    u->created_at = iotd_arena_strdup(a, PQgetvalue(r, row, 3));
    u->last_login = iotd_arena_strdup(a, PQgetvalue(r, row, 4));
    if (!u->username || !u->password_hash || !u->created_at || !u->last_login)
        return IOTD_ERROR;
    return IOTD_OK;
}

/* Runs an INSERT ... RETURNING id: DECLINED on no row or a taken name. */
static int insert(iotd_db *db, const iotd_db_stmt *stmt, const char *username, const char *password,
                  long long *id)
{
    if (!iotd_users_valid_username(username) || !password)
        return IOTD_ERROR;
    iotd_buf hash = IOTD_BUF_INIT;
    if (iotd_password_hash(password, &hash) != IOTD_OK) {
        iotd_buf_free(&hash);
        return IOTD_ERROR;
    }
    const char *values[] = {username, hash.data};
    PGresult *r;
    int rc = iotd_db_exec(db, stmt, values, &r);
    iotd_buf_free(&hash);
    if (rc == IOTD_OK) {
        if (PQntuples(r) == 1) {
            if (id)
                *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        } else {
            rc = IOTD_DECLINED;
        }
    } else if (rc == IOTD_ERROR && strcmp(iotd_db_sqlstate(r), SQLSTATE_UNIQUE_VIOLATION) == 0) {
        rc = IOTD_DECLINED;
    }
    PQclear(r);
    return rc;
}

int iotd_users_create(iotd_db *db, const char *username, const char *password, long long *id)
{
    return insert(db, &stmt_create, username, password, id);
}

int iotd_users_create_first(iotd_db *db, const char *username, const char *password, long long *id)
{
    /* Skip the password hash (the slow part) in the usual case: accounts exist.
     * The insert itself still re-checks, so two tasks starting at once stay safe. */
    long long count = 0;
    int rc = iotd_users_count(db, &count);
    if (rc != IOTD_OK)
        return rc;
    if (count > 0)
        return IOTD_DECLINED;
    return insert(db, &stmt_create_first, username, password, id);
}

int iotd_users_set_password(iotd_db *db, const char *username, const char *password)
{
    iotd_buf hash = IOTD_BUF_INIT;
    if (!username || !password || iotd_password_hash(password, &hash) != IOTD_OK) {
        iotd_buf_free(&hash);
        return IOTD_ERROR;
    }
    const char *values[] = {username, hash.data};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_set_password, values, &r);
    iotd_buf_free(&hash);
    if (rc == IOTD_OK && PQntuples(r) == 0)
        rc = IOTD_DECLINED;
    PQclear(r);
    return rc;
}

int iotd_users_get(iotd_db *db, iotd_arena *a, const char *username, iotd_user *out)
{
    if (!iotd_users_valid_username(username))
        return IOTD_DECLINED; /* cannot exist; spares the query */
    const char *values[] = {username};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_get, values, &r);
    if (rc == IOTD_OK)
        rc = PQntuples(r) == 0 ? IOTD_DECLINED : copy_row(a, r, 0, out);
    PQclear(r);
    return rc;
}

int iotd_users_list(iotd_db *db, iotd_arena *a, iotd_user **out, size_t *count)
{
    PGresult *r;
    *out = NULL;
    *count = 0;
    int rc = iotd_db_exec(db, &stmt_list, NULL, &r);
    if (rc == IOTD_OK) {
        int n = PQntuples(r);
        iotd_user *list = iotd_arena_calloc(a, (size_t)(n ? n : 1), sizeof *list);
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

int iotd_users_delete(iotd_db *db, const char *username)
{
    const char *values[] = {username};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_delete, values, &r);
    if (rc == IOTD_OK && PQntuples(r) == 0)
        rc = IOTD_DECLINED;
    PQclear(r);
    return rc;
}

int iotd_users_count(iotd_db *db, long long *count)
{
    PGresult *r;
    *count = 0;
    int rc = iotd_db_exec(db, &stmt_count, NULL, &r);
    if (rc == IOTD_OK)
        *count = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

static int exec_id(iotd_db *db, const iotd_db_stmt *stmt, long long id, const char *second)
{
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    const char *values[] = {idbuf, second};
    PGresult *r;
    int rc = iotd_db_exec(db, stmt, values, &r);
    PQclear(r);
    return rc;
}

int iotd_users_touch_login(iotd_db *db, long long id)
{
    return exec_id(db, &stmt_touch, id, NULL);
}

/* A well-formed hash no password matches, costing what a real one costs. */
static void equalise_timing(const char *password)
{
    char decoy[IOTD_PASSWORD_MAX_ENCODED];
    snprintf(decoy, sizeof decoy,
             "pbkdf2_sha256$%d$iotdNoSuchUser$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
             IOTD_PASSWORD_ITERATIONS);
    (void)iotd_password_verify(password, decoy);
}

int iotd_users_authenticate(iotd_db *db, iotd_arena *a, const char *username, const char *password,
                            iotd_user *out)
{
    if (!username || !password)
        return IOTD_DECLINED;
    int rc = iotd_users_get(db, a, username, out);
    if (rc == IOTD_DECLINED) {
        equalise_timing(password);
        return IOTD_DECLINED;
    }
    if (rc != IOTD_OK)
        return rc;
    rc = iotd_password_verify(password, out->password_hash);
    if (rc == IOTD_ERROR) {
        iotd_log(IOTD_LOG_WARN, "user %lld has an unreadable password hash", out->id);
        return IOTD_DECLINED;
    }
    if (rc != IOTD_OK)
        return rc;
    if (iotd_password_needs_upgrade(out->password_hash)) {
        /* As Django does: a hash from an older, cheaper default is redone now that we know the password. */
        iotd_buf hash = IOTD_BUF_INIT;
        if (iotd_password_hash(password, &hash) == IOTD_OK &&
            exec_id(db, &stmt_rehash, out->id, hash.data) == IOTD_OK)
            out->password_hash = iotd_arena_strdup(a, hash.data);
        iotd_buf_free(&hash);
        if (!out->password_hash)
            return IOTD_ERROR;
    }
    return iotd_users_touch_login(db, out->id);
}
