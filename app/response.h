/*
 * response.h — what a handler builds: status, headers and body.
 *
 * Handlers never write to the FastCGI stream; the worker serialises the
 * response once the handler returns.
 */
#ifndef IOTD_RESPONSE_H
#define IOTD_RESPONSE_H

#include "buf.h"

typedef struct iotd_response {
    int status;
    iotd_buf headers; /* "Name: value\r\n" lines */
    iotd_buf body;
    int head_only;    /* HEAD request: send headers, no body */
} iotd_response;

void iotd_response_init(iotd_response *res);
void iotd_response_reset(iotd_response *res);
void iotd_response_free(iotd_response *res);
/* Adds a header; IOTD_ERROR for a name or value with CR, LF or NUL. */
int iotd_response_header(iotd_response *res, const char *name, const char *value);
int iotd_response_has_header(const iotd_response *res, const char *name);
/* The CGI head: Status, headers, Content-Length, blank line. */
int iotd_response_head(const iotd_response *res, iotd_buf *out);
const char *iotd_status_reason(int status);

#endif
