/*
 * media.c — image URLs for pages.
 *
 * Objects sit in a private bucket, so the URL is presigned; the presigner
 * signs with the start of the current window, which makes the URL the same
 * across requests and workers for half the TTL and lets browsers cache it.
 */
#include "media.h"

#include <time.h>

#include "iotd.h"
#include "log.h"
#include "s3.h"

const char *iotd_media_url(iotd_ctx *ctx, const char *object_key)
{
    iotd_buf url = IOTD_BUF_INIT;
    const char *out = NULL;
    if (iotd_s3_presign_get(ctx->s3, object_key, time(NULL), &url) == IOTD_OK)
        out = iotd_arena_strndup(ctx->arena, url.data, url.len);
    else
        iotd_log(IOTD_LOG_ERROR, "cannot presign the image URL");
    iotd_buf_free(&url);
    return out;
}

const char *iotd_media_rendition_url(iotd_ctx *ctx, const iotd_image *img, int which)
{
    const iotd_rendition *r = which == IOTD_MEDIA_THUMB ? &img->thumb : &img->display;
    return iotd_media_url(ctx, r->key && r->key[0] ? r->key : img->object_key);
}
