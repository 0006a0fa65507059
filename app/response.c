/*
 * response.c — response headers and their serialisation as a CGI head.
 *
 * Header values are checked for CR/LF so that nothing taken from input can
 * split a response.
 */
#include "response.h"

#include <strings.h>
#include <string.h>

#include "iotd.h"

#define RESPONSE_MAX_HEADERS_BYTES (16 * 1024)

void iotd_response_init(iotd_response *res)
{
    res->status = 200;
    iotd_buf_init(&res->headers, RESPONSE_MAX_HEADERS_BYTES);
    iotd_buf_init(&res->body, 0);
    res->head_only = 0;
}

void iotd_response_reset(iotd_response *res)
{
    res->status = 200;
    iotd_buf_reset(&res->headers);
    iotd_buf_reset(&res->body);
    res->head_only = 0;
}

void iotd_response_free(iotd_response *res)
{
    iotd_buf_free(&res->headers);
    iotd_buf_free(&res->body);
}

static int safe_token(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return 0;
    return 1;
}

int iotd_response_header(iotd_response *res, const char *name, const char *value)
{
    if (!name[0] || !safe_token(name) || strchr(name, ':') || !safe_token(value))
        return IOTD_ERROR;
    if (iotd_buf_puts(&res->headers, name) != IOTD_OK || iotd_buf_append(&res->headers, ": ", 2) != IOTD_OK ||
        iotd_buf_puts(&res->headers, value) != IOTD_OK || iotd_buf_append(&res->headers, "\r\n", 2) != IOTD_OK)
        return IOTD_ERROR;
    return IOTD_OK;
}

int iotd_response_has_header(const iotd_response *res, const char *name)
{
    size_t n = strlen(name);
    const char *p = res->headers.data;
    const char *end = p ? p + res->headers.len : NULL;
    while (p && p < end) {
        if ((size_t)(end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':')
            return 1;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

const char *iotd_status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

int iotd_response_head(const iotd_response *res, iotd_buf *out)
{
    int no_body = res->status == 204 || res->status == 304;
    if (iotd_buf_printf(out, "Status: %d %s\r\n", res->status, iotd_status_reason(res->status)) != IOTD_OK ||
        iotd_buf_append(out, res->headers.data ? res->headers.data : "", res->headers.len) != IOTD_OK)
        return IOTD_ERROR;
    if (!no_body && iotd_buf_printf(out, "Content-Length: %zu\r\n", res->body.len) != IOTD_OK)
        return IOTD_ERROR;
    return iotd_buf_append(out, "\r\n", 2);
}
