/*
 * migrate.c — schema migrations.
 *
 * Files are named NNNN_description.sql and applied in numeric order. Each
 * runs in its own transaction together with the row recording it in
 * schema_migrations, so a failure leaves the schema at the previous
 * version. A session-level advisory lock serialises tasks that start at
 * once: the second waits, then finds nothing left to do.
 *
 * Migration files hold several statements, which only the simple query
 * protocol accepts, so their text goes through PQexec; they are the
 * project's own files, never built from input.
 */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "iotd.h"

#define MIGRATE_MAX_FILES 1000
#define MIGRATE_MAX_FILE_BYTES (1024 * 1024)
#define MIGRATE_LOCK_KEY "7242049181450001" /* arbitrary, constant across releases */

typedef struct migration {
    int version;
    char name[256];
} migration;

static const iotd_db_stmt stmt_lock = {"migrate_lock", "SELECT pg_advisory_lock($1::bigint)", 1, 0};
static const iotd_db_stmt stmt_unlock = {"migrate_unlock", "SELECT pg_advisory_unlock($1::bigint)", 1, 0};
static const iotd_db_stmt stmt_table = {
    "migrate_table",
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())",
    0, 0};
static const iotd_db_stmt stmt_applied = {"migrate_applied",
                                          "SELECT 1 FROM schema_migrations WHERE version = $1::integer", 1, 0};
static const iotd_db_stmt stmt_record = {
    "migrate_record", "INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)", 2, 0};

static int cmp_migration(const void *a, const void *b)
{
    const migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* NNNN_name.sql -> version; 0 when the name does not fit the pattern. */
static int parse_version(const char *name)
{
    size_t len = strlen(name);
    if (len < 9 || strcmp(name + len - 4, ".sql") != 0)
        return 0;
    int v = 0;
    size_t i = 0;
    for (; i < 4; i++) {
        if (!isdigit((unsigned char)name[i]))
            return 0;
        v = v * 10 + (name[i] - '0');
    }
    return name[i] == '_' ? v : 0;
}

static int list_migrations(const char *dir, migration **out, size_t *count, FILE *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(err, "iotd migrate: cannot open %s: %s\n", dir, strerror(errno));
        return IOTD_ERROR;
    }
    migration *list = calloc(MIGRATE_MAX_FILES, sizeof *list);
    if (!list) {
        closedir(d);
        return IOTD_ERROR;
    }
    size_t n = 0;
    struct dirent *e;
    int rc = IOTD_OK;
    while ((e = readdir(d)) != NULL) {
        int v = parse_version(e->d_name);
        if (!v)
            continue;
        if (n == MIGRATE_MAX_FILES || strlen(e->d_name) >= sizeof list[n].name) {
            fprintf(err, "iotd migrate: too many or too long migration names in %s\n", dir);
            rc = IOTD_ERROR;
            break;
        }
        list[n].version = v;
        memcpy(list[n].name, e->d_name, strlen(e->d_name) + 1);
        n++;
    }
    closedir(d);
    if (rc != IOTD_OK) {
        free(list);
        return rc;
    }
    qsort(list, n, sizeof *list, cmp_migration);
    for (size_t i = 1; i < n; i++) {
        if (list[i].version == list[i - 1].version) {
            fprintf(err, "iotd migrate: two migrations share version %04d: %s and %s\n", list[i].version,
                    list[i - 1].name, list[i].name);
            free(list);
            return IOTD_ERROR;
        }
    }
    *out = list;
    *count = n;
    return IOTD_OK;
}

static int read_file(const char *path, iotd_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return IOTD_ERROR;
    char chunk[8192];
    size_t n;
    int rc = IOTD_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (iotd_buf_append(out, chunk, n) != IOTD_OK) {
            rc = IOTD_ERROR;
            break;
        }
    }
    if (ferror(f))
        rc = IOTD_ERROR;
    fclose(f);
    return rc;
}

static int exec_ok(iotd_db *db, const iotd_db_stmt *stmt, const char *const *values, FILE *err)
{
    PGresult *r;
    int rc = iotd_db_exec(db, stmt, values, &r);
    if (rc != IOTD_OK)
        fprintf(err, "iotd migrate: %s failed: %s\n", stmt->name,
                r ? PQresultErrorMessage(r) : "database unavailable");
    PQclear(r);
    return rc;
}

static int apply_one(iotd_db *db, const char *dir, const migration *m, FILE *out)
{
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *check[] = {version};
    PGresult *r;
    if (iotd_db_exec(db, &stmt_applied, check, &r) != IOTD_OK) {
        PQclear(r);
        fprintf(stderr, "iotd migrate: cannot read schema_migrations\n");
        return IOTD_ERROR;
    }
    int done = PQntuples(r) > 0;
    PQclear(r);
    if (done)
        return IOTD_DECLINED;

    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, m->name);
    iotd_buf sql;
    iotd_buf_init(&sql, MIGRATE_MAX_FILE_BYTES);
    if (read_file(path, &sql) != IOTD_OK) {
        fprintf(stderr, "iotd migrate: cannot read %s (missing, unreadable or over %d bytes)\n", path,
                MIGRATE_MAX_FILE_BYTES);
        iotd_buf_free(&sql);
        return IOTD_ERROR;
    }
    if (iotd_db_begin(db) != IOTD_OK) {
        iotd_buf_free(&sql);
        return IOTD_ERROR;
    }
    r = PQexec(iotd_db_conn(db), sql.data ? sql.data : "");
    iotd_buf_free(&sql);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "iotd migrate: %s failed: %s", m->name, r ? PQresultErrorMessage(r) : "no result\n");
        PQclear(r);
        iotd_db_rollback(db);
        return IOTD_ERROR;
    }
    PQclear(r);
    const char *rec[] = {version, m->name};
    if (exec_ok(db, &stmt_record, rec, stderr) != IOTD_OK || iotd_db_commit(db) != IOTD_OK) {
        iotd_db_rollback(db);
        return IOTD_ERROR;
    }
    fprintf(out, "applied %s\n", m->name);
    return IOTD_OK;
}

int iotd_migrate_run(iotd_db *db, const char *dir, FILE *out)
{
    migration *list = NULL;
    size_t count = 0;
    if (iotd_db_ready(db) != IOTD_OK) {
        fprintf(stderr, "iotd migrate: cannot connect to the database: %s",
                iotd_db_conn(db) ? PQerrorMessage(iotd_db_conn(db)) : "see the log line above\n");
        return IOTD_ERROR;
    }
    if (list_migrations(dir, &list, &count, stderr) != IOTD_OK)
        return IOTD_ERROR;
    const char *key[] = {MIGRATE_LOCK_KEY};
    if (exec_ok(db, &stmt_lock, key, stderr) != IOTD_OK) {
        free(list);
        return IOTD_ERROR;
    }
    int rc = exec_ok(db, &stmt_table, NULL, stderr);
    size_t applied = 0;
    for (size_t i = 0; rc == IOTD_OK && i < count; i++) {
        int one = apply_one(db, dir, &list[i], out);
        if (one == IOTD_OK)
            applied++;
        else if (one != IOTD_DECLINED)
            rc = IOTD_ERROR;
    }
    (void)exec_ok(db, &stmt_unlock, key, stderr);
    if (rc == IOTD_OK)
        fprintf(out, applied ? "%zu migration(s) applied; schema at version %d\n"
                             : "nothing to apply (%zu); schema at version %d\n",
                applied, count ? list[count - 1].version : 0);
    free(list);
    return rc;
}
