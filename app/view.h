/*
 * view.h — turns handler data into a response body: HTML pages from
 * templates, error pages, JSON.
 */
#ifndef IOTD_VIEW_H
#define IOTD_VIEW_H

#include <json-c/json.h>

#include "ctx.h"

/* Renders template name with data (ownership taken) as text/html. */
int iotd_view_render(iotd_ctx *ctx, int status, const char *name, json_object *data);
/* The error page for status; message NULL gives the usual wording. 503
 * adds Retry-After. Always leaves a complete response: returns IOTD_OK. */
int iotd_view_error(iotd_ctx *ctx, int status, const char *message);
/* Serialises obj (ownership taken) as application/json. */
int iotd_view_json(iotd_ctx *ctx, int status, json_object *obj);

/* Makes a rendered public response cacheable: Cache-Control public with
 * IOTD_PAGE_MAX_AGE, Last-Modified (the later of last_modified, an ISO 8601
 * UTC time or NULL, and the start of the current presign window, since
 * image URLs change with it), and an ETag from the body's hash; answers 304
 * with no body when If-None-Match has that ETag. Call after the body is set. */
int iotd_view_public(iotd_ctx *ctx, const char *last_modified);
/* 1 when an If-None-Match header value (NULL for none) lists etag or is "*". */
int iotd_view_etag_matches(const char *if_none_match, const char *etag);

#endif
