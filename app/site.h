/*
 * site.h — absolute URLs of this site, for feeds, link previews and the API.
 */
#ifndef IOTD_SITE_H
#define IOTD_SITE_H

#include "buf.h"
#include "ctx.h"

/* Appends the absolute URL of path (which starts with '/') to out: the
 * origin is IOTD_SITE_URL when set, else the request's scheme and Host. */
int iotd_site_url(iotd_ctx *ctx, const char *path, iotd_buf *out);
/* The same, as a string in the request arena (NULL on failure). */
const char *iotd_site_url_str(iotd_ctx *ctx, const char *path);

#endif
