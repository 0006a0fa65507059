/*
 * router.h — maps method and path to a handler from one const table.
 */
#ifndef IOTD_ROUTER_H
#define IOTD_ROUTER_H

#include "ctx.h"

typedef int (*iotd_handler_fn)(iotd_ctx *ctx);

enum { IOTD_GET = 1, IOTD_POST = 2 };

typedef struct iotd_route {
    const char *pattern; /* literal path; a segment written as a star matches any one segment */
    unsigned methods;    /* IOTD_GET also answers HEAD */
    iotd_handler_fn handler;
    const char *name;
} iotd_route;

/* Picks the route for ctx->req and runs it; 404 and 405 (with Allow)
 * when none fits. Returns the handler's code. */
int iotd_router_dispatch(iotd_ctx *ctx, const iotd_route *routes, size_t nroutes);
/* Matches one pattern; captured segments go to params. */
int iotd_router_match(const char *pattern, const char *path, const char **params, size_t *nparams,
                      iotd_arena *a);

extern const iotd_route iotd_routes[];
extern const size_t iotd_nroutes;

#endif
