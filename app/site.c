/*
 * site.c — the site's own origin. A configured IOTD_SITE_URL wins, so
 * canonical links never depend on what a client put in Host; without it
 * the request's (validated) Host and scheme are used.
 */
#include "site.h"

#include <string.h>

#include "iotd.h"

int iotd_site_url(iotd_ctx *ctx, const char *path, iotd_buf *out)
{
    const iotd_request *r = ctx->req;
    int rc;
    if (ctx->cfg->site_url[0]) {
        size_t n = strlen(ctx->cfg->site_url);
        while (n > 0 && ctx->cfg->site_url[n - 1] == '/')
            n--;
        rc = iotd_buf_append(out, ctx->cfg->site_url, n);
    } else {
        rc = iotd_buf_printf(out, "%s://%s", r && r->is_https ? "https" : "http",
                             r && r->host && r->host[0] ? r->host : "localhost");
    }
    return rc == IOTD_OK ? iotd_buf_puts(out, path) : rc;
}

const char *iotd_site_url_str(iotd_ctx *ctx, const char *path)
{
    iotd_buf b = IOTD_BUF_INIT;
    const char *s = NULL;
    if (iotd_site_url(ctx, path, &b) == IOTD_OK)
        s = iotd_arena_strndup(ctx->arena, b.data, b.len);
    iotd_buf_free(&b);
    return s;
}
