/*
 * ctx.h — the worker context handed to every handler.
 *
 * Worker-lifetime parts (config, templates, database, S3 client) are set
 * up once at start; request parts (arena, request, response) are reset
 * after each response.
 */
#ifndef IOTD_CTX_H
#define IOTD_CTX_H

#include <stddef.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "request.h"
#include "response.h"
#include "template.h"

struct iotd_s3;
struct iotd_pagecache;

#define IOTD_ROUTE_MAX_PARAMS 4

typedef struct iotd_ctx {
    /* worker lifetime */
    const iotd_config *cfg;
    const iotd_tpl_set *views;
    iotd_db *db;
    struct iotd_s3 *s3;
    const char *csp;              /* Content-Security-Policy value, built at start */
    int schema_ok;                /* the database schema is recent enough */
    struct iotd_pagecache *pages; /* public pages this worker keeps (pagecache.h); NULL = none */

    /* request lifetime */
    iotd_arena *arena;
    iotd_request *req;
    iotd_response *res;
    const char *route; /* name of the matched route, for logs and metrics */
    const char *params[IOTD_ROUTE_MAX_PARAMS];
    size_t nparams;
    /* reads up to len bytes of the request body; 0 at the end, -1 on error */
    long (*read_body)(void *body_ud, char *buf, size_t len);
    void *body_ud;
    /* work that goes on once the answer is sent (an upload's renditions),
     * still in this request's arena; the worker calls it once, then the
     * next request may start */
    void (*after)(struct iotd_ctx *ctx, void *ud);
    void *after_ud;
} iotd_ctx;

#endif
