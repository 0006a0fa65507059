/*
 * db.c — the worker's PostgreSQL connection: connect, prepare, execute,
 * and recover.
 *
 * Only parameterised statements reach the server (PQprepare and
 * PQexecPrepared), each prepared the first time it is used on a
 * connection. When the server goes away the next call notices, and
 * reconnection is tried at most once per back-off period (100 ms doubling
 * to 1 s) so a worker never blocks on a dead database, yet is back within
 * a second of the server returning. Each new connection bumps a counter,
 * so a caller that keeps per-connection state (a LISTEN) can tell that the
 * connection under it was replaced.
 */
#include "db.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iotd.h"
#include "log.h"

#define DB_MAX_PREPARED 128
#define DB_BACKOFF_MIN_MS 100
#define DB_BACKOFF_MAX_MS 1000
#define DB_CONNECT_TIMEOUT "3"
#define DB_PING_MAX_RESULTS 4 /* results read before a ping gives up */

struct iotd_db {
    PGconn *conn;
    char *url;
    const iotd_db_stmt *prepared[DB_MAX_PREPARED];
    size_t nprepared;
    long long next_attempt_ms;
    long backoff_ms;
    unsigned long generation; /* connections made so far */
    int was_down;             /* log the outage once, and the recovery once */
};

iotd_db *iotd_db_new(const char *database_url)
{
    iotd_db *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    db->url = strdup(database_url ? database_url : "");
    if (!db->url) {
        free(db);
        return NULL;
    }
    db->backoff_ms = DB_BACKOFF_MIN_MS;
    return db;
}

static void drop_connection(iotd_db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
    db->nprepared = 0;
}

void iotd_db_free(iotd_db *db)
{
    if (!db)
        return;
    drop_connection(db);
    free(db->url);
    free(db);
}

static void note_failure(iotd_db *db, const char *why)
{
    if (!db->was_down)
        iotd_log(IOTD_LOG_ERROR, "database unavailable: %s", why);
    db->was_down = 1;
    db->next_attempt_ms = iotd_now_ms() + db->backoff_ms;
    db->backoff_ms = db->backoff_ms * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS : db->backoff_ms * 2;
}

/* Server notices ("relation already exists, skipping") are not errors. */
static void ignore_notice(void *arg, const char *message)
{
    IOTD_UNUSED(arg);
    IOTD_UNUSED(message);
}

static int connect_now(iotd_db *db)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {db->url[0] ? db->url : NULL, DB_CONNECT_TIMEOUT, "iotd", NULL};
    if (!db->url[0]) {
        /* no URL: let libpq take everything from PG* variables */
        keys[0] = "connect_timeout";
        vals[0] = DB_CONNECT_TIMEOUT;
        keys[1] = "application_name";
        vals[1] = "iotd";
        keys[2] = NULL;
    }
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (!db->conn) {
        note_failure(db, "out of memory");
        return IOTD_AGAIN;
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        char why[256];
        const char *msg = PQerrorMessage(db->conn);
        size_t n = strcspn(msg, "\n");
        snprintf(why, sizeof why, "%.*s", (int)(n < 200 ? n : 200), msg);
        drop_connection(db);
        note_failure(db, why);
        return IOTD_AGAIN;
    }
    PQsetNoticeProcessor(db->conn, ignore_notice, NULL);
    db->generation++;
    if (db->was_down)
        iotd_log(IOTD_LOG_INFO, "database connection restored");
    db->was_down = 0;
    db->backoff_ms = DB_BACKOFF_MIN_MS;
    return IOTD_OK;
}

int iotd_db_ready(iotd_db *db)
{
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
        return IOTD_OK;
    if (db->conn)
        drop_connection(db);
    if (iotd_now_ms() < db->next_attempt_ms)
        return IOTD_AGAIN;
    return connect_now(db);
}

PGconn *iotd_db_conn(iotd_db *db)
{
    return db->conn;
}

unsigned long iotd_db_generation(const iotd_db *db)
{
    return db->generation;
}

static int is_prepared(const iotd_db *db, const iotd_db_stmt *stmt)
{
    for (size_t i = 0; i < db->nprepared; i++)
        if (db->prepared[i] == stmt)
            return 1;
    return 0;
}

static int connection_lost(iotd_db *db)
{
    if (PQstatus(db->conn) == CONNECTION_BAD) {
        drop_connection(db);
        note_failure(db, "connection lost");
        return 1;
    }
    return 0;
}

static int prepare(iotd_db *db, const iotd_db_stmt *stmt)
{
    if (is_prepared(db, stmt))
        return IOTD_OK;
    if (db->nprepared == DB_MAX_PREPARED) {
        iotd_log(IOTD_LOG_ERROR, "too many prepared statements (limit %d)", DB_MAX_PREPARED);
        return IOTD_ERROR;
    }
    PGresult *r = PQprepare(db->conn, stmt->name, stmt->sql, stmt->nparams, NULL);
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        if (connection_lost(db)) {
            PQclear(r);
            return IOTD_AGAIN;
        }
        iotd_log(IOTD_LOG_ERROR, "prepare %s failed: %s", stmt->name,
                 r ? PQresultErrorMessage(r) : "no result");
        PQclear(r);
        return IOTD_ERROR;
    }
    PQclear(r);
    db->prepared[db->nprepared++] = stmt;
    return IOTD_OK;
}

static int exec_once(iotd_db *db, const iotd_db_stmt *stmt, const char *const *values, const int *lengths,
                     const int *formats, PGresult **out)
{
    int rc = iotd_db_ready(db);
    if (rc != IOTD_OK)
        return rc;
    if ((rc = prepare(db, stmt)) != IOTD_OK)
        return rc;
    PGresult *r = PQexecPrepared(db->conn, stmt->name, stmt->nparams, values, lengths, formats, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *out = r;
        return IOTD_OK;
    }
    if (connection_lost(db)) {
        PQclear(r);
        return IOTD_AGAIN;
    }
    iotd_log(IOTD_LOG_ERROR, "statement %s failed: %s", stmt->name,
             r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : "no result");
    *out = r;
    return IOTD_ERROR;
}

int iotd_db_exec_bin(iotd_db *db, const iotd_db_stmt *stmt, const char *const *values, const int *lengths,
                     const int *formats, PGresult **out)
{
    *out = NULL;
    int had_connection = db->conn != NULL;
    int in_tx = had_connection && PQtransactionStatus(db->conn) != PQTRANS_IDLE;
    int rc = exec_once(db, stmt, values, lengths, formats, out);
    if (rc == IOTD_AGAIN && had_connection && !in_tx && stmt->idempotent) {
        /* The server restarted since our last call: one fresh attempt now. */
        db->next_attempt_ms = 0;
        rc = exec_once(db, stmt, values, lengths, formats, out);
    }
    return rc;
}

int iotd_db_exec(iotd_db *db, const iotd_db_stmt *stmt, const char *const *values, PGresult **out)
{
    return iotd_db_exec_bin(db, stmt, values, NULL, NULL, out);
}

/* A Sync on its own (pipeline mode, no statement): the server answers
 * ReadyForQuery and nothing else, unless notifications are pending, which
 * an idle backend sends before that ReadyForQuery. */
int iotd_db_ping(iotd_db *db)
{
    int rc = iotd_db_ready(db);
    if (rc != IOTD_OK)
        return rc;
    PGconn *c = db->conn;
    if (PQtransactionStatus(c) != PQTRANS_IDLE || !PQenterPipelineMode(c))
        return IOTD_ERROR; /* in a transaction, or results still pending */
    int synced = 0;
    if (PQpipelineSync(c)) {
        /* only the sync result is expected; anything else is a failure */
        for (int i = 0; i < DB_PING_MAX_RESULTS; i++) {
            PGresult *r = PQgetResult(c);
            if (!r)
                break;
            ExecStatusType st = PQresultStatus(r);
            PQclear(r);
            if (st == PGRES_PIPELINE_SYNC) {
                synced = 1;
                break;
            }
        }
    }
    if (synced && PQexitPipelineMode(c))
        return IOTD_OK;
    (void)PQconsumeInput(c); /* a server that ended the session: read its EOF */
    if (connection_lost(db))
        return IOTD_AGAIN;
    /* the connection may be left mid-pipeline: start again on a fresh one */
    const char *msg = PQerrorMessage(c);
    iotd_log(IOTD_LOG_ERROR, "round trip failed, reconnecting: %.*s", (int)strcspn(msg, "\n"), msg);
    drop_connection(db);
    return IOTD_AGAIN;
}

static const iotd_db_stmt stmt_begin = {"iotd_begin", "BEGIN", 0, 0};
static const iotd_db_stmt stmt_commit = {"iotd_commit", "COMMIT", 0, 0};
static const iotd_db_stmt stmt_rollback = {"iotd_rollback", "ROLLBACK", 0, 0};

static int simple(iotd_db *db, const iotd_db_stmt *stmt)
{
    PGresult *r;
    int rc = iotd_db_exec(db, stmt, NULL, &r);
    PQclear(r);
    return rc;
}

int iotd_db_change(iotd_db *db, const iotd_db_stmt *stmt, const char *const *values)
{
    PGresult *r;
    int rc = iotd_db_exec(db, stmt, values, &r);
    if (rc == IOTD_OK && strcmp(PQcmdTuples(r), "0") == 0)
        rc = IOTD_DECLINED;
    PQclear(r);
    return rc;
}

int iotd_db_begin(iotd_db *db)
{
    return simple(db, &stmt_begin);
}

int iotd_db_commit(iotd_db *db)
{
    return simple(db, &stmt_commit);
}

void iotd_db_rollback(iotd_db *db)
{
    if (db->conn && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
        (void)simple(db, &stmt_rollback);
}

static const iotd_db_stmt stmt_has_migrations = {
    "iotd_has_migrations",
    "SELECT to_regclass('schema_migrations') IS NOT NULL",
    0,
    1,
};

static const iotd_db_stmt stmt_schema_version = {
    "iotd_schema_version",
    "SELECT coalesce(max(version), 0) FROM schema_migrations",
    0,
    1,
};

int iotd_db_schema_version(iotd_db *db, int *version)
{
    PGresult *r;
    *version = 0;
    int rc = iotd_db_exec(db, &stmt_has_migrations, NULL, &r);
    int present = rc == IOTD_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (rc != IOTD_OK || !present)
        return rc;
    rc = iotd_db_exec(db, &stmt_schema_version, NULL, &r);
    if (rc == IOTD_OK && PQntuples(r) == 1)
        *version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

const char *iotd_db_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}
