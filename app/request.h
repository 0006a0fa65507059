/*
 * request.h — one HTTP request as the handlers see it, built from the
 * FastCGI parameter array ("NAME=value" strings) with no FastCGI dependency.
 *
 * String fields point into envp or the arena and live as long as both do;
 * absent headers are NULL. On IOTD_ERROR, error and error_status say why.
 */
#ifndef IOTD_REQUEST_H
#define IOTD_REQUEST_H

#include "arena.h"
#include "form.h"

typedef struct iotd_request {
    iotd_arena *arena;
    char **envp;
    const char *method;          /* REQUEST_METHOD, upper-case letters */
    const char *path;            /* decoded, starts with '/', no NUL, control bytes or ".." segments */
    const char *raw_query;       /* QUERY_STRING, "" when absent */
    const char *request_id;      /* REQUEST_ID when well-formed, else 32 random hex digits */
    const char *remote_addr;     /* REMOTE_ADDR */
    const char *host;            /* HTTP_HOST, validated */
    const char *forwarded_proto; /* HTTP_X_FORWARDED_PROTO */
    const char *content_type, *origin, *referer, *user_agent, *if_none_match;
    long long content_length; /* -1 when absent */
    iotd_kvlist query;
    iotd_kvlist cookies;
    int is_https;      /* HTTPS=on, or the nearest proxy says X-Forwarded-Proto: https */
    const char *error; /* why init failed */
    int error_status;  /* 400, 414 (path/query too long), 431 (header too long), 500 */
} iotd_request;

int iotd_request_init(iotd_request *r, iotd_arena *a, char **envp);
/* Raw FastCGI parameter, or NULL. */
const char *iotd_request_param(const iotd_request *r, const char *name);
/* "Content-Type" -> CONTENT_TYPE, "X-Foo" -> HTTP_X_FOO; NULL when absent. */
const char *iotd_request_header(const iotd_request *r, const char *name);
/* 1 when content_type's media type (before any ';') is type, ignoring case. */
int iotd_media_type_is(const char *content_type, const char *type);
/* Parses an application/x-www-form-urlencoded body of at most IOTD_MAX_FORM_BYTES. */
int iotd_request_parse_form(iotd_request *r, const char *body, size_t len, iotd_kvlist *out);

#endif
