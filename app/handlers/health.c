/*
 * health.c — /healthz (liveness: the worker answers) and /readyz
 * (readiness: one timed check per dependency).
 */
#include <json-c/json.h>
#include <time.h>

#include "handlers.h"
#include "iotd.h"
#include "s3.h"
#include "view.h"
#include "worker.h"

static const iotd_db_stmt stmt_ping = {"health_ping", "SELECT 1", 0, 1};

static double since_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0->tv_sec) * 1000.0 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
    return (double)(long long)(ms * 100.0) / 100.0;
}

static json_object *check_entry(int ok, double ms, const char *error)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "ok", json_object_new_boolean(ok));
    json_object_object_add(o, "ms", json_object_new_double(ms));
    if (!ok && error)
        json_object_object_add(o, "error", json_object_new_string(error));
    return o;
}

int iotd_handle_healthz(iotd_ctx *ctx)
{
    json_object *o = json_object_new_object();
    if (!o)
        return iotd_view_error(ctx, 500, NULL);
    json_object_object_add(o, "status", json_object_new_string("ok"));
    return iotd_view_json(ctx, 200, o);
}

static int check_database(iotd_ctx *ctx, const char **error)
{
    if (iotd_worker_db_ready(ctx) != IOTD_OK) {
        *error = "unreachable or schema out of date";
        return 0;
    }
    PGresult *r;
    int rc = iotd_db_exec(ctx->db, &stmt_ping, NULL, &r);
    PQclear(r);
    if (rc != IOTD_OK)
        *error = rc == IOTD_AGAIN ? "unreachable" : "query failed";
    return rc == IOTD_OK;
}

static int check_storage(iotd_ctx *ctx, const char **error)
{
    iotd_s3_error err;
    int rc = iotd_s3_head_bucket(ctx->s3, &err);
    if (rc != IOTD_OK)
        *error = rc == IOTD_AGAIN ? "unreachable or no credentials" : "bucket check failed";
    return rc == IOTD_OK;
}

int iotd_handle_readyz(iotd_ctx *ctx)
{
    struct {
        const char *name;
        int (*check)(iotd_ctx *, const char **);
    } checks[] = {{"database", check_database}, {"storage", check_storage}};
    json_object *o = json_object_new_object();
    json_object *list = json_object_new_object();
    if (!o || !list) {
        json_object_put(o);
        json_object_put(list);
        return iotd_view_error(ctx, 500, NULL);
    }
    int all_ok = 1;
    for (size_t i = 0; i < IOTD_ARRAY_LEN(checks); i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        const char *error = NULL;
        int ok = checks[i].check(ctx, &error);
        all_ok &= ok;
        json_object_object_add(list, checks[i].name, check_entry(ok, since_ms(&t0), error));
    }
    json_object_object_add(o, "status", json_object_new_string(all_ok ? "ok" : "unavailable"));
    json_object_object_add(o, "checks", list);
    return iotd_view_json(ctx, all_ok ? 200 : 503, o);
}
