/*
 * fuzz_request.c — the FastCGI parameters -> iotd_request boundary.
 *
 * The input is a list of "NAME=value" lines (split at '\n'), used as the
 * envp nginx would send; lines are prefixed with the names the app reads
 * when a line starts with a digit ("3/x" -> "REQUEST_URI=/x"), so the
 * fuzzer reaches every parameter quickly. Whatever iotd_request_init
 * accepts must meet request.h's promises: a method of A-Z, a path that
 * starts with '/' and has no control bytes or ".." segment, a query and
 * cookies that are within their limits; a refusal has a reason and a 4xx.
 */
#include "fuzz.h"

#include "arena.h"
#include "iotd.h"
#include "request.h"

#define FUZZ_MAX_PARAMS 64

static const char *const names[] = {
    "REQUEST_METHOD=", "REQUEST_URI=",  "DOCUMENT_URI=", "QUERY_STRING=", "HTTP_HOST=",
    "CONTENT_LENGTH=", "CONTENT_TYPE=", "HTTP_COOKIE=",  "REQUEST_ID=",   "HTTPS=",
};

static void check_path(const char *p)
{
    FUZZ_CHECK(p && p[0] == '/');
    FUZZ_CHECK(strlen(p) <= IOTD_MAX_PATH_BYTES);
    for (const char *c = p; *c; c++)
        FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
    FUZZ_CHECK(strstr(p, "/../") == NULL);
    size_t n = strlen(p);
    FUZZ_CHECK(!(n >= 3 && strcmp(p + n - 3, "/..") == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *envp[FUZZ_MAX_PARAMS + 1];
    size_t n = 0, off = 0;
    while (off <= size && n < FUZZ_MAX_PARAMS) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t end = nl ? (size_t)(nl - data) : size;
        const uint8_t *line = data + off;
        size_t len = end - off;
        const char *prefix = "";
        if (len > 0 && line[0] >= '0' && line[0] <= '9') {
            prefix = names[line[0] - '0'];
            line++;
            len--;
        }
        size_t plen = strlen(prefix);
        char *e = malloc(plen + len + 1);
        FUZZ_CHECK(e);
        memcpy(e, prefix, plen);
        memcpy(e + plen, line, len);
        e[plen + len] = '\0';
        envp[n++] = e;
        if (!nl)
            break;
        off = end + 1;
    }
    envp[n] = NULL;

    iotd_arena *a = iotd_arena_new(4096);
    FUZZ_CHECK(a);
    iotd_request r;
    if (iotd_request_init(&r, a, envp) == IOTD_OK) {
        FUZZ_CHECK(r.method && r.method[0]);
        for (const char *c = r.method; *c; c++)
            FUZZ_CHECK(*c >= 'A' && *c <= 'Z');
        check_path(r.path);
        FUZZ_CHECK(r.raw_query && strlen(r.raw_query) <= IOTD_MAX_QUERY_BYTES);
        FUZZ_CHECK(r.request_id && strlen(r.request_id) <= IOTD_MAX_REQUEST_ID_CHARS);
        FUZZ_CHECK(r.query.count <= IOTD_MAX_PARAMS && r.cookies.count <= IOTD_MAX_COOKIES);
        for (size_t i = 0; i < r.query.count; i++)
            FUZZ_CHECK(r.query.items[i].value[r.query.items[i].value_len] == '\0');
        for (size_t i = 0; i < r.cookies.count; i++)
            FUZZ_CHECK(strlen(r.cookies.items[i].value) == r.cookies.items[i].value_len);
        const char *opt[] = {r.remote_addr, r.host,    r.forwarded_proto, r.content_type,
                             r.origin,      r.referer, r.user_agent,      r.if_none_match};
        for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
            FUZZ_CHECK(!opt[i] || strlen(opt[i]) <= IOTD_MAX_HEADER_BYTES);
        FUZZ_CHECK(r.content_length >= -1);
        (void)iotd_request_header(&r, "Content-Type");
        (void)iotd_request_header(&r, "X-Requested-With");
        (void)iotd_media_type_is(r.content_type, "multipart/form-data");
        /* the last parameter doubles as a form body */
        if (n > 0) {
            iotd_kvlist form;
            (void)iotd_request_parse_form(&r, envp[n - 1], strlen(envp[n - 1]), &form);
        }
    } else {
        FUZZ_CHECK(r.error && r.error[0]);
        FUZZ_CHECK(r.error_status == 400 || r.error_status == 414 || r.error_status == 431 ||
                   r.error_status == 500);
    }
    iotd_arena_destroy(a);
    for (size_t i = 0; i < n; i++)
        free(envp[i]);
    return 0;
}
