/*
 * db.h — one persistent PostgreSQL connection per worker.
 *
 * Statements are declared once as const iotd_db_stmt tables by the
 * repositories and prepared lazily on each (re)connection. A lost
 * connection is re-established with back-off; meanwhile calls return
 * IOTD_AGAIN so pages answer 503 instead of failing.
 */
#ifndef IOTD_DB_H
#define IOTD_DB_H

#include <libpq-fe.h>

typedef struct iotd_db iotd_db;

typedef struct iotd_db_stmt {
    const char *name;
    const char *sql;
    int nparams;
    int idempotent; /* safe to re-run once after a lost connection */
} iotd_db_stmt;

/* database_url may be empty: libpq then reads PGHOST, PGPORT, ... */
iotd_db *iotd_db_new(const char *database_url);
void iotd_db_free(iotd_db *db);
/* Connects now if not connected and the back-off allows: IOTD_OK or IOTD_AGAIN. */
int iotd_db_ready(iotd_db *db);
/* Runs a prepared statement. IOTD_OK: *out holds tuples or command status (caller PQclear).
 * IOTD_AGAIN: the database is unreachable. IOTD_ERROR: the statement failed (logged);
 * *out is still set when non-NULL so callers can read the SQLSTATE. */
int iotd_db_exec(iotd_db *db, const iotd_db_stmt *stmt, const char *const *values, PGresult **out);
/* Like iotd_db_exec but with per-parameter lengths/formats (binary data). */
int iotd_db_exec_bin(iotd_db *db, const iotd_db_stmt *stmt, const char *const *values, const int *lengths,
                     const int *formats, PGresult **out);
/* Runs a statement that changes rows: IOTD_DECLINED when it changed none,
 * else as iotd_db_exec. */
int iotd_db_change(iotd_db *db, const iotd_db_stmt *stmt, const char *const *values);
/* BEGIN / COMMIT / ROLLBACK. */
int iotd_db_begin(iotd_db *db);
int iotd_db_commit(iotd_db *db);
void iotd_db_rollback(iotd_db *db);
/* The highest applied migration, 0 when none: IOTD_OK, IOTD_AGAIN or IOTD_ERROR. */
int iotd_db_schema_version(iotd_db *db, int *version);
/* SQLSTATE of a failed result ("" when none). */
const char *iotd_db_sqlstate(const PGresult *res);
PGconn *iotd_db_conn(iotd_db *db);
/* Connections made so far: changes whenever the connection was replaced. */
unsigned long iotd_db_generation(const iotd_db *db);
/* The cheapest round trip (a protocol Sync, no statement); notifications
 * sent before the server's answer are then in libpq (PQnotifies).
 * IOTD_OK; IOTD_AGAIN when the connection was lost or had to be dropped;
 * IOTD_ERROR inside a transaction. */
int iotd_db_ping(iotd_db *db);

#endif
