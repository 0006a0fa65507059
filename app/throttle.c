/*
 * throttle.c — counts recent failed sign-ins per username and per address.
 *
 * One row per failure in login_attempts. The check asks, for each key, for
 * the N-th most recent failure inside the window (N being the limit): if
 * there is one, the key is blocked until that failure leaves the window,
 * which is also the Retry-After. Both probes are index range scans
 * (login_attempts_username_idx, login_attempts_client_addr_idx). A
 * success marks the name's rows cleared rather than deleting them, so the
 * address keeps its count: signing in to one's own account between
 * guesses at others does not reset the per-address limit. Old rows
 * are deleted whenever a failure is recorded, so the table stays as small
 * as the window.
 */
#include "throttle.h"

#include <stdio.h>
#include <stdlib.h>

#include "iotd.h"

#define SECONDS_BLOCKED(key_condition, limit_param)                                                          \
    "coalesce((SELECT ceil(extract(epoch FROM attempted_at + $3::bigint * interval '1 second' - "            \
    "now()))::bigint "                                                                                       \
    "FROM login_attempts WHERE " key_condition                                                               \
    " AND attempted_at > now() - $3::bigint * interval '1 second' "                                          \
    "ORDER BY attempted_at DESC OFFSET " limit_param "::bigint - 1 LIMIT 1), 0)"

#define STR(x) STR_(x)
#define STR_(x) #x
#define USERNAME_KEY "lower(left($1, " STR(IOTD_THROTTLE_MAX_USERNAME_CHARS) "))"
#define ADDR_KEY "left($2, " STR(IOTD_THROTTLE_MAX_ADDR_CHARS) ")"

static const iotd_db_stmt stmt_check = {
    "throttle_check",
    "SELECT greatest(" SECONDS_BLOCKED("username = " USERNAME_KEY " AND NOT cleared",
                                       "$4") ", " SECONDS_BLOCKED("client_addr = " ADDR_KEY, "$5") ")",
    5, 1};
static const iotd_db_stmt stmt_record = {
    "throttle_record",
    "WITH pruned AS (DELETE FROM login_attempts WHERE attempted_at <= now() - $3::bigint * interval '1 "
    "second') "
    "INSERT INTO login_attempts (username, client_addr) VALUES (" USERNAME_KEY ", " ADDR_KEY ")",
    3, 0};
static const iotd_db_stmt stmt_clear = {
    "throttle_clear",
    "UPDATE login_attempts SET cleared = true WHERE username = " USERNAME_KEY " AND NOT cleared", 1, 1};

int iotd_throttle_check(iotd_db *db, const char *username, const char *client_addr, long *retry_after)
{
    char window[24], per_user[24], per_addr[24];
    snprintf(window, sizeof window, "%d", IOTD_THROTTLE_WINDOW_SECONDS);
    snprintf(per_user, sizeof per_user, "%d", IOTD_THROTTLE_MAX_PER_USERNAME);
    snprintf(per_addr, sizeof per_addr, "%d", IOTD_THROTTLE_MAX_PER_ADDR);
    const char *values[] = {username ? username : "", client_addr ? client_addr : "", window, per_user,
                            per_addr};
    PGresult *r;
    *retry_after = 0;
    int rc = iotd_db_exec(db, &stmt_check, values, &r);
    if (rc == IOTD_OK && PQntuples(r) == 1) {
        long wait = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        if (wait > 0) {
            *retry_after = wait;
            rc = IOTD_DECLINED;
        }
    } else if (rc == IOTD_OK) {
        rc = IOTD_ERROR;
    }
    PQclear(r);
    return rc;
}

int iotd_throttle_record_failure(iotd_db *db, const char *username, const char *client_addr)
{
    char window[24];
    snprintf(window, sizeof window, "%d", IOTD_THROTTLE_WINDOW_SECONDS);
    const char *values[] = {username ? username : "", client_addr ? client_addr : "", window};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_record, values, &r);
    PQclear(r);
    return rc;
}

int iotd_throttle_clear(iotd_db *db, const char *username)
{
    const char *values[] = {username ? username : ""};
    PGresult *r;
    int rc = iotd_db_exec(db, &stmt_clear, values, &r);
    PQclear(r);
    return rc;
}
