/*
 * media.h — the one place that knows how a browser reaches an image.
 */
#ifndef IOTD_MEDIA_H
#define IOTD_MEDIA_H

#include "ctx.h"

/* The URL a browser loads object_key from (a presigned S3 GET); the
 * string lives in the request arena. NULL on failure (logged). */
const char *iotd_media_url(iotd_ctx *ctx, const char *object_key);

#endif
