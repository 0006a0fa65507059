/*
 * router.c — route matching.
 *
 * The table is const and small, so a linear scan is both the simplest and
 * the fastest choice. A path that matches some route but not its method
 * is a 405 with the methods that would have worked.
 */
#include "router.h"

#include <string.h>

#include "iotd.h"
#include "view.h"

int iotd_router_match(const char *pattern, const char *path, const char **params, size_t *nparams,
                      iotd_arena *a)
{
    size_t n = 0;
    while (*pattern && *path) {
        if (*pattern == '*') {
            const char *end = strchr(path, '/');
            size_t len = end ? (size_t)(end - path) : strlen(path);
            if (len == 0 || n == IOTD_ROUTE_MAX_PARAMS)
                return 0;
            if (params && !(params[n] = iotd_arena_strndup(a, path, len)))
                return 0;
            n++;
            path += len;
            pattern++;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    if (*pattern || *path)
        return 0;
    if (nparams)
        *nparams = n;
    return 1;
}

static unsigned method_bit(const char *method)
{
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return IOTD_GET;
    if (strcmp(method, "POST") == 0)
        return IOTD_POST;
    return 0;
}

int iotd_router_dispatch(iotd_ctx *ctx, const iotd_route *routes, size_t nroutes)
{
    const char *path = ctx->req->path;
    unsigned want = method_bit(ctx->req->method);
    unsigned allowed = 0;
    for (size_t i = 0; i < nroutes; i++) {
        const iotd_route *r = &routes[i];
        if (!iotd_router_match(r->pattern, path, NULL, NULL, ctx->arena))
            continue;
        if (!(r->methods & want)) {
            allowed |= r->methods;
            continue;
        }
        if (!iotd_router_match(r->pattern, path, ctx->params, &ctx->nparams, ctx->arena))
            return iotd_view_error(ctx, 500, NULL);
        ctx->route = r->name;
        return r->handler(ctx);
    }
    if (allowed) {
        ctx->route = "method_not_allowed";
        const char *allow = allowed == (IOTD_GET | IOTD_POST) ? "GET, HEAD, POST"
                            : allowed == IOTD_GET             ? "GET, HEAD"
                                                              : "POST";
        if (iotd_response_header(ctx->res, "Allow", allow) != IOTD_OK)
            return iotd_view_error(ctx, 500, NULL);
        return iotd_view_error(ctx, 405, NULL);
    }
    ctx->route = "not_found";
    return iotd_view_error(ctx, 404, NULL);
}
