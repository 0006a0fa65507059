/*
 * media.h — the one place that knows how a browser reaches an image.
 */
#ifndef IOTD_MEDIA_H
#define IOTD_MEDIA_H

#include "ctx.h"
#include "images.h"

/* The URL a browser loads object_key from (a presigned S3 GET); the
 * string lives in the request arena. NULL on failure (logged). */
const char *iotd_media_url(iotd_ctx *ctx, const char *object_key);

enum { IOTD_MEDIA_THUMB, IOTD_MEDIA_DISPLAY };

/* The URL of an image's thumbnail or display rendition, falling back to
 * the original while the rendition does not exist. */
const char *iotd_media_rendition_url(iotd_ctx *ctx, const iotd_image *img, int which);

#endif
