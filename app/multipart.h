/*
 * multipart.h — a streaming push parser for multipart/form-data bodies
 * (RFC 7578 over RFC 2046), so uploads never have to sit whole in memory.
 *
 * Feed it the body in chunks of any size; it calls on_part_begin with the
 * part's name, filename (NULL when absent, passed through as sent) and
 * content type (NULL when absent) — valid only during the call — then
 * on_part_data for each run of body bytes, then on_part_end. A callback that
 * returns anything but IOTD_OK stops the parse with an error.
 */
#ifndef IOTD_MULTIPART_H
#define IOTD_MULTIPART_H

#include <stddef.h>

typedef struct iotd_multipart iotd_multipart;

/* A zero field takes the default: IOTD_MAX_PARTS, IOTD_MAX_PART_HEADER_BYTES, IOTD_MAX_UPLOAD_BYTES. */
typedef struct iotd_multipart_limits {
    size_t max_parts, max_header_bytes, max_total_bytes;
} iotd_multipart_limits;

typedef struct iotd_multipart_callbacks {
    int (*on_part_begin)(void *ud, const char *name, const char *filename, const char *content_type);
    int (*on_part_data)(void *ud, const char *data, size_t len);
    int (*on_part_end)(void *ud);
} iotd_multipart_callbacks;

/* Copies the boundary parameter of a multipart/form-data Content-Type into out. */
int iotd_multipart_boundary(const char *content_type, char *out, size_t outlen, const char **err);
/* NULL when the boundary is invalid or memory is short; lim may be NULL. */
iotd_multipart *iotd_multipart_new(const char *boundary, const iotd_multipart_limits *lim,
                                   const iotd_multipart_callbacks *cb, void *ud);
int iotd_multipart_feed(iotd_multipart *m, const char *data, size_t len);
/* IOTD_ERROR unless the closing boundary has been seen. */
int iotd_multipart_finish(iotd_multipart *m);
const char *iotd_multipart_error(const iotd_multipart *m);
/* The HTTP status for the error: 413 for a size limit, else 400. */
int iotd_multipart_error_status(const iotd_multipart *m);
void iotd_multipart_free(iotd_multipart *m);
/* The part of a filename after its last '/' or '\\' (browsers may send a path). */
const char *iotd_multipart_filename_base(const char *filename);

#endif
