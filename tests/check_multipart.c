/* check_multipart.c — unit tests for the streaming multipart/form-data parser. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "iotd.h"
#include "multipart.h"

#define BOUNDARY "----iotdFormBoundary7MA4YWxkTrZu0gW"

/* Records every callback into one log so two parses can be compared byte for byte. */
typedef struct recorder {
    iotd_buf log;
    int parts_begun, parts_ended;
    int in_part;
    int reject_begin_of; /* 1-based part whose begin returns an error; 0 = none */
    int reject_data;
    int bad_order; /* a callback arrived out of order */
} recorder;

static int on_begin(void *ud, const char *name, const char *filename, const char *type)
{
    recorder *r = ud;
    if (r->in_part)
        r->bad_order = 1;
    r->in_part = 1;
    r->parts_begun++;
    ck_assert_int_eq(
        iotd_buf_printf(&r->log, "<%s|%s|%s>", name, filename ? filename : "(none)", type ? type : "(none)"),
        IOTD_OK);
    return r->reject_begin_of == r->parts_begun ? IOTD_ERROR : IOTD_OK;
}

static int on_data(void *ud, const char *data, size_t len)
{
    recorder *r = ud;
    if (!r->in_part || len == 0)
        r->bad_order = 1;
    ck_assert_int_eq(iotd_buf_append(&r->log, data, len), IOTD_OK);
    return r->reject_data ? IOTD_ERROR : IOTD_OK;
}

static int on_end(void *ud)
{
    recorder *r = ud;
    if (!r->in_part)
        r->bad_order = 1;
    r->in_part = 0;
    r->parts_ended++;
    ck_assert_int_eq(iotd_buf_puts(&r->log, "</>"), IOTD_OK);
    return IOTD_OK;
}

static const iotd_multipart_callbacks callbacks = {on_begin, on_data, on_end};

/* A small deterministic generator, so a failing chunking can be replayed. */
static uint32_t next_rand(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

typedef struct outcome {
    int rc; /* IOTD_OK when every feed and finish succeeded */
    const char *error;
} outcome;

/* Parses body split into chunks: chunk 0 = whole, 1 = byte at a time, else random sizes from seed. */
static outcome parse_chunked(const char *boundary, const iotd_multipart_limits *lim, const char *body,
                             size_t len, uint32_t chunking, recorder *rec)
{
    iotd_buf_init(&rec->log, 0);
    iotd_multipart *m = iotd_multipart_new(boundary, lim, &callbacks, rec);
    ck_assert_ptr_nonnull(m);
    outcome o = {IOTD_OK, NULL};
    uint32_t seed = chunking;
    size_t at = 0;
    while (at < len && o.rc == IOTD_OK) {
        size_t n = len - at;
        if (chunking == 1)
            n = 1;
        else if (chunking > 1)
            n = 1 + next_rand(&seed) % (seed % 3 == 0 ? 7 : 97);
        if (n > len - at)
            n = len - at;
        /* copy into a heap chunk of exactly n bytes so ASan catches reads past it */
        char *chunk = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(chunk);
        memcpy(chunk, body + at, n);
        o.rc = iotd_multipart_feed(m, chunk, n);
        free(chunk);
        at += n;
    }
    if (o.rc == IOTD_OK)
        o.rc = iotd_multipart_finish(m);
    if (o.rc != IOTD_OK) {
        o.error = iotd_multipart_error(m);
        /* once failed, it stays failed */
        ck_assert_int_eq(iotd_multipart_feed(m, "x", 1), IOTD_ERROR);
        ck_assert_int_eq(iotd_multipart_finish(m), IOTD_ERROR);
        ck_assert_str_eq(iotd_multipart_error(m), o.error);
    }
    iotd_multipart_free(m);
    return o;
}

static outcome parse_whole(const char *body, size_t len, const iotd_multipart_limits *lim, recorder *rec)
{
    return parse_chunked(BOUNDARY, lim, body, len, 0, rec);
}

/* Body bytes that look like, but are not, a delimiter (no CRLF before "--" + boundary, or a near miss). */
static const char tricky_file[] = "\x89PNG\r\n\x1a\n\0\0\xff"
                                  "--" BOUNDARY "\r\n"     /* no CRLF before the dashes */
                                  "x\r\n-" BOUNDARY "\r\n" /* one dash short */
                                  "\r\n--"
                                  "----iotdFormBoundary7MA"
                                  "\r\n"                           /* truncated */
                                  "\r\r\n\r\n-\r\n--\n--" BOUNDARY /* LF without CR */
                                  "\r--" BOUNDARY                  /* CR without LF */
                                  "\r\n--"
                                  "----iotdFormBoundary7MA4YWxkTrZu0gX" /* last character differs */
                                  "\r\n-- " BOUNDARY "\r";              /* a space; ends in CR */
#define TRICKY_FILE_LEN (sizeof tricky_file - 1)

static size_t build_valid_body(char *out, size_t cap)
{
    iotd_buf b = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_buf_puts(&b,
                                   "This is the preamble; it is ignored.\r\n"
                                   "--" BOUNDARY "\r\n"
                                   "Content-Disposition: form-data; name=\"title\"\r\n"
                                   "\r\n"
                                   "Sunset over the bay\r\n"
                                   "--" BOUNDARY "\r\n"
                                   "content-disposition: FORM-DATA;name=tagline\r\n"
                                   "Content-Type: text/plain; charset=UTF-8\r\n"
                                   "\r\n"
                                   "line one\r\nline two\r\n"
                                   "--" BOUNDARY "  \t\r\n" /* transport padding */
                                   "Content-Disposition: form-data; name=\"image\"; filename=\"bay.png\"\r\n"
                                   "Content-Type: image/png\r\n"
                                   "X-Ignored: yes\r\n"
                                   "\r\n"),
                     IOTD_OK);
    ck_assert_int_eq(iotd_buf_append(&b, tricky_file, TRICKY_FILE_LEN), IOTD_OK);
    ck_assert_int_eq(iotd_buf_puts(&b, "\r\n--" BOUNDARY "--\r\nepilogue, ignored\r\n"), IOTD_OK);
    ck_assert_uint_le(b.len, cap);
    memcpy(out, b.data, b.len);
    size_t n = b.len;
    iotd_buf_free(&b);
    return n;
}

static size_t expected_log(char *out, size_t cap)
{
    iotd_buf b = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_buf_puts(&b, "<title|(none)|(none)>Sunset over the bay</>"
                                       "<tagline|(none)|text/plain; charset=UTF-8>line one\r\nline two</>"
                                       "<image|bay.png|image/png>"),
                     IOTD_OK);
    ck_assert_int_eq(iotd_buf_append(&b, tricky_file, TRICKY_FILE_LEN), IOTD_OK);
    ck_assert_int_eq(iotd_buf_puts(&b, "</>"), IOTD_OK);
    ck_assert_uint_le(b.len, cap);
    memcpy(out, b.data, b.len);
    size_t n = b.len;
    iotd_buf_free(&b);
    return n;
}

static void assert_log(const recorder *rec, const char *want, size_t want_len)
{
    ck_assert_msg(rec->log.len == want_len && memcmp(rec->log.data, want, want_len) == 0,
                  "log differs (%zu bytes, want %zu): %.*s", rec->log.len, want_len, (int)rec->log.len,
                  rec->log.data);
    ck_assert_int_eq(rec->bad_order, 0);
}

START_TEST(test_valid_whole)
{
    char body[2048], want[2048];
    size_t len = build_valid_body(body, sizeof body), want_len = expected_log(want, sizeof want);
    recorder rec = {0};
    outcome o = parse_whole(body, len, NULL, &rec);
    ck_assert_msg(o.rc == IOTD_OK, "error: %s", o.error);
    assert_log(&rec, want, want_len);
    ck_assert_int_eq(rec.parts_begun, 3);
    ck_assert_int_eq(rec.parts_ended, 3);
    iotd_buf_free(&rec.log);
}
END_TEST

START_TEST(test_valid_byte_at_a_time_and_random_chunks)
{
    char body[2048], want[2048];
    size_t len = build_valid_body(body, sizeof body), want_len = expected_log(want, sizeof want);
    for (uint32_t chunking = 1; chunking < 300; chunking++) {
        recorder rec = {0};
        outcome o = parse_chunked(BOUNDARY, NULL, body, len, chunking, &rec);
        ck_assert_msg(o.rc == IOTD_OK, "chunking %u: %s", chunking, o.error);
        assert_log(&rec, want, want_len);
        ck_assert_int_eq(rec.parts_ended, 3);
        iotd_buf_free(&rec.log);
    }
}
END_TEST

/* Every split point of the body into two chunks: each boundary is split every possible way. */
START_TEST(test_every_two_chunk_split)
{
    char body[2048], want[2048];
    size_t len = build_valid_body(body, sizeof body), want_len = expected_log(want, sizeof want);
    for (size_t split = 0; split <= len; split++) {
        recorder rec = {0};
        iotd_buf_init(&rec.log, 0);
        iotd_multipart *m = iotd_multipart_new(BOUNDARY, NULL, &callbacks, &rec);
        ck_assert_ptr_nonnull(m);
        char *a = malloc(split + 1), *b = malloc(len - split + 1);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        memcpy(a, body, split);
        memcpy(b, body + split, len - split);
        ck_assert_int_eq(iotd_multipart_feed(m, a, split), IOTD_OK);
        ck_assert_int_eq(iotd_multipart_feed(m, b, len - split), IOTD_OK);
        ck_assert_msg(iotd_multipart_finish(m) == IOTD_OK, "split %zu: %s", split, iotd_multipart_error(m));
        assert_log(&rec, want, want_len);
        free(a);
        free(b);
        iotd_multipart_free(m);
        iotd_buf_free(&rec.log);
    }
}
END_TEST

START_TEST(test_minimal_shapes)
{
    recorder rec = {0};
    /* no preamble, empty value, no epilogue, no CRLF after the closing boundary */
    const char *b1 =
        "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n--" BOUNDARY "--";
    outcome o = parse_whole(b1, strlen(b1), NULL, &rec);
    ck_assert_msg(o.rc == IOTD_OK, "%s", o.error);
    ck_assert_str_eq(rec.log.data, "<a|(none)|(none)></>");
    iotd_buf_free(&rec.log);

    /* a body with no parts at all (a form whose fields are all empty checkboxes) */
    const char *b2 = "--" BOUNDARY "--\r\n";
    o = parse_whole(b2, strlen(b2), NULL, &rec);
    ck_assert_int_eq(o.rc, IOTD_OK);
    ck_assert_uint_eq(rec.log.len, 0);
    iotd_buf_free(&rec.log);

    /* a preamble that itself starts with CRLF; an empty filename (file input left empty) */
    const char *b3 = "\r\n--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n\r\n--" BOUNDARY "--\r\n";
    o = parse_whole(b3, strlen(b3), NULL, &rec);
    ck_assert_msg(o.rc == IOTD_OK, "%s", o.error);
    ck_assert_str_eq(rec.log.data, "<f||application/octet-stream></>");
    iotd_buf_free(&rec.log);

    /* the callbacks are optional */
    iotd_multipart *m = iotd_multipart_new(BOUNDARY, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(iotd_multipart_feed(m, b1, strlen(b1)), IOTD_OK);
    ck_assert_int_eq(iotd_multipart_finish(m), IOTD_OK);
    ck_assert_str_eq(iotd_multipart_error(m), "");
    iotd_multipart_free(m);
    iotd_multipart_free(NULL);
}
END_TEST

START_TEST(test_filename_with_path_passed_through)
{
    recorder rec = {0};
    const char *body =
        "--" BOUNDARY "\r\n"
        "Content-Disposition: form-data; name=\"image\"; filename=\"C:\\Users\\me\\..\\a.jpg\"\r\n\r\n"
        "X\r\n--" BOUNDARY "\r\n"
        "Content-Disposition: form-data; name=\"other\"; filename=\"../../etc/passwd\"\r\n\r\n"
        "Y\r\n--" BOUNDARY "--\r\n";
    outcome o = parse_whole(body, strlen(body), NULL, &rec);
    ck_assert_msg(o.rc == IOTD_OK, "%s", o.error);
    ck_assert_str_eq(rec.log.data,
                     "<image|C:\\Users\\me\\..\\a.jpg|(none)>X</><other|../../etc/passwd|(none)>Y</>");
    iotd_buf_free(&rec.log);

    ck_assert_str_eq(iotd_multipart_filename_base("C:\\Users\\me\\a.jpg"), "a.jpg");
    ck_assert_str_eq(iotd_multipart_filename_base("../../etc/passwd"), "passwd");
    ck_assert_str_eq(iotd_multipart_filename_base("dir\\sub/x.png"), "x.png");
    ck_assert_str_eq(iotd_multipart_filename_base("plain.gif"), "plain.gif");
    ck_assert_str_eq(iotd_multipart_filename_base("trailing/"), "");
    ck_assert_ptr_null(iotd_multipart_filename_base(NULL));
}
END_TEST

START_TEST(test_boundary_header)
{
    char out[IOTD_MAX_BOUNDARY_CHARS + 1];
    const char *err = NULL;
    ck_assert_int_eq(
        iotd_multipart_boundary("multipart/form-data; boundary=" BOUNDARY, out, sizeof out, &err), IOTD_OK);
    ck_assert_str_eq(out, BOUNDARY);
    ck_assert_int_eq(iotd_multipart_boundary("Multipart/Form-Data;charset=utf-8;BOUNDARY=abc ; x=y", out,
                                             sizeof out, &err),
                     IOTD_OK);
    ck_assert_str_eq(out, "abc");
    /* a quoted boundary may hold characters a token cannot, including a space */
    ck_assert_int_eq(iotd_multipart_boundary("multipart/form-data; boundary=\"gc0p4Jq0M2Yt08j34c0p (:=?)\"",
                                             out, sizeof out, &err),
                     IOTD_OK);
    ck_assert_str_eq(out, "gc0p4Jq0M2Yt08j34c0p (:=?)");
    ck_assert_ptr_null(err);

    /* exactly 70 characters, then 71 */
    char ct[128], b70[IOTD_MAX_BOUNDARY_CHARS + 2];
    memset(b70, 'b', IOTD_MAX_BOUNDARY_CHARS);
    b70[IOTD_MAX_BOUNDARY_CHARS] = '\0';
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b70);
    ck_assert_int_eq(iotd_multipart_boundary(ct, out, sizeof out, &err), IOTD_OK);
    ck_assert_str_eq(out, b70);
    iotd_multipart *m = iotd_multipart_new(b70, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(m);
    iotd_multipart_free(m);
    strcat(b70, "b");
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b70);
    ck_assert_int_eq(iotd_multipart_boundary(ct, out, sizeof out, &err), IOTD_ERROR);
    ck_assert_str_eq(err, "invalid multipart boundary");
    ck_assert_ptr_null(iotd_multipart_new(b70, NULL, NULL, NULL));

    static const struct {
        const char *ct, *why;
    } bad[] = {
        {NULL, "missing Content-Type"},
        {"multipart/form-data", "missing multipart boundary"},
        {"multipart/form-data; charset=utf-8", "missing multipart boundary"},
        {"multipart/mixed; boundary=abc", "Content-Type is not multipart/form-data"},
        {"application/x-www-form-urlencoded", "Content-Type is not multipart/form-data"},
        {"multipart/form-data; boundary=", "malformed Content-Type parameters"},
        {"multipart/form-data; boundary=\"abc", "malformed Content-Type parameters"},
        {"multipart/form-data; boundary=\"\"", "invalid multipart boundary"},
        {"multipart/form-data; boundary=\"abc \"", "invalid multipart boundary"},
        {"multipart/form-data; boundary=a\"b\"", "malformed Content-Type parameters"},
        {"multipart/form-data; boundary=a@b", "invalid multipart boundary"},
        {"multipart/form-data; boundary=\"a;b\"", "invalid multipart boundary"},
        {"multipart/form-data; boundary=\"a\r\nb\"", "invalid multipart boundary"},
        {"multipart/form-data; boundary=a; boundary=b", "duplicate boundary parameter"},
        {"multipart/form-data boundary=a", "Content-Type is not multipart/form-data"},
        {"multipart/form-data; =a", "malformed Content-Type parameters"},
    };
    for (size_t i = 0; i < IOTD_ARRAY_LEN(bad); i++) {
        err = NULL;
        ck_assert_msg(iotd_multipart_boundary(bad[i].ct, out, sizeof out, &err) == IOTD_ERROR, "accepted %s",
                      bad[i].ct);
        ck_assert_msg(err && strcmp(err, bad[i].why) == 0, "%s: got %s", bad[i].ct, err);
    }
    /* an output buffer too small for the boundary */
    char small[4];
    ck_assert_int_eq(iotd_multipart_boundary("multipart/form-data; boundary=abcd", small, sizeof small, &err),
                     IOTD_ERROR);
    ck_assert_str_eq(err, "multipart boundary too long");

    /* boundaries the parser itself refuses */
    ck_assert_ptr_null(iotd_multipart_new(NULL, NULL, NULL, NULL));
    ck_assert_ptr_null(iotd_multipart_new("", NULL, NULL, NULL));
    ck_assert_ptr_null(iotd_multipart_new("ends with space ", NULL, NULL, NULL));
    ck_assert_ptr_null(iotd_multipart_new("has\rcr", NULL, NULL, NULL));
}
END_TEST

/* A quoted boundary with spaces works end to end. */
START_TEST(test_quoted_boundary_body)
{
    char bnd[IOTD_MAX_BOUNDARY_CHARS + 1];
    ck_assert_int_eq(
        iotd_multipart_boundary("multipart/form-data; boundary=\"a b:c\"", bnd, sizeof bnd, NULL), IOTD_OK);
    const char *body = "--a b:c\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\nv\r\n--a b\r\n--a b:c--";
    for (uint32_t chunking = 0; chunking < 20; chunking++) {
        recorder rec = {0};
        outcome o = parse_chunked(bnd, NULL, body, strlen(body), chunking, &rec);
        ck_assert_msg(o.rc == IOTD_OK, "%s", o.error);
        ck_assert_str_eq(rec.log.data, "<n|(none)|(none)>v\r\n--a b</>");
        iotd_buf_free(&rec.log);
    }
}
END_TEST

static void expect_malformed(const char *body, size_t len, const iotd_multipart_limits *lim, const char *why,
                             int status)
{
    for (uint32_t chunking = 0; chunking < 12; chunking++) {
        recorder rec = {0};
        iotd_buf_init(&rec.log, 0);
        iotd_multipart *m = iotd_multipart_new(BOUNDARY, lim, &callbacks, &rec);
        ck_assert_ptr_nonnull(m);
        int rc = IOTD_OK;
        uint32_t seed = chunking;
        for (size_t at = 0; at < len && rc == IOTD_OK;) {
            size_t n = chunking == 0 ? len : chunking == 1 ? 1 : 1 + next_rand(&seed) % 13;
            if (n > len - at)
                n = len - at;
            rc = iotd_multipart_feed(m, body + at, n);
            at += n;
        }
        if (rc == IOTD_OK)
            rc = iotd_multipart_finish(m);
        ck_assert_msg(rc == IOTD_ERROR, "accepted (chunking %u): %s", chunking, body);
        ck_assert_msg(strcmp(iotd_multipart_error(m), why) == 0, "chunking %u: got '%s', want '%s'", chunking,
                      iotd_multipart_error(m), why);
        ck_assert_int_eq(iotd_multipart_error_status(m), status);
        ck_assert_int_eq(rec.bad_order, 0);
        iotd_multipart_free(m);
        iotd_buf_free(&rec.log);
    }
}

#define CD_A "Content-Disposition: form-data; name=\"a\"\r\n"
#define OPEN "--" BOUNDARY "\r\n"
#define NEXT "\r\n--" BOUNDARY "\r\n"
#define CLOSE "\r\n--" BOUNDARY "--\r\n"

static void malformed(const char *body, const char *why)
{
    expect_malformed(body, strlen(body), NULL, why, 400);
}

START_TEST(test_malformed_framing)
{
    malformed("", "multipart body ended before its closing boundary");
    malformed("no boundary anywhere", "multipart body ended before its closing boundary");
    malformed(OPEN CD_A "\r\nvalue", "multipart body ended before its closing boundary");
    malformed(OPEN CD_A "\r\nvalue" NEXT CD_A "\r\nmore", "multipart body ended before its closing boundary");
    malformed(OPEN CD_A "\r\nvalue\r\n--" BOUNDARY, "multipart body ended before its closing boundary");
    malformed(OPEN CD_A "\r\nvalue\r\n--" BOUNDARY "-", "multipart body ended before its closing boundary");
    malformed(OPEN CD_A, "multipart body ended before its closing boundary");
    /* a boundary followed by anything but padding, CRLF or "--" */
    malformed(OPEN CD_A "\r\nv\r\n--" BOUNDARY "X\r\n", "malformed multipart boundary line");
    malformed(OPEN CD_A "\r\nv\r\n--" BOUNDARY "-x", "malformed multipart boundary line");
    malformed("--" BOUNDARY "\n" CD_A "\r\nv" CLOSE, "malformed multipart boundary line");
    malformed("--" BOUNDARY "\rX", "malformed multipart boundary line");
    char pad[256];
    snprintf(pad, sizeof pad, "--%s%100s\r\n", BOUNDARY, "");
    malformed(pad, "malformed multipart boundary line");
}
END_TEST

START_TEST(test_malformed_headers)
{
    malformed(OPEN "Content-Disposition form-data; name=\"a\"\r\n\r\nv" CLOSE,
              "part header line without a colon");
    malformed(OPEN CD_A "X-Broken\r\n\r\nv" CLOSE, "part header line without a colon");
    malformed(OPEN ": empty\r\n" CD_A "\r\nv" CLOSE, "empty part header name");
    malformed(OPEN "Bad Name: x\r\n" CD_A "\r\nv" CLOSE, "invalid part header name");
    malformed(OPEN CD_A " folded\r\n\r\nv" CLOSE, "folded part header lines are not supported");
    malformed(OPEN "\r\nv" CLOSE, "part without Content-Disposition");
    malformed(OPEN "Content-Type: text/plain\r\n\r\nv" CLOSE, "part without Content-Disposition");
    malformed(OPEN "Content-Disposition: form-data\r\n\r\nv" CLOSE, "part without a name");
    malformed(OPEN "Content-Disposition: form-data; name=\"\"\r\n\r\nv" CLOSE, "part without a name");
    malformed(OPEN "Content-Disposition: form-data; filename=\"a.jpg\"\r\n\r\nv" CLOSE,
              "part without a name");
    malformed(OPEN "Content-Disposition: attachment; name=\"a\"\r\n\r\nv" CLOSE,
              "part Content-Disposition is not form-data");
    malformed(OPEN "Content-Disposition: form-data; name=\"a\r\n\r\nv" CLOSE,
              "malformed part Content-Disposition");
    malformed(OPEN "Content-Disposition: form-data; name\r\n\r\nv" CLOSE,
              "malformed part Content-Disposition");
    malformed(OPEN "Content-Disposition: form-data; name=\"a\"x\r\n\r\nv" CLOSE,
              "malformed part Content-Disposition");
    malformed(OPEN "Content-Disposition: form-data; name=a; name=b\r\n\r\nv" CLOSE,
              "duplicate parameter in part Content-Disposition");
    malformed(OPEN CD_A CD_A "\r\nv" CLOSE, "duplicate part Content-Disposition");
    malformed(OPEN CD_A "Content-Type: a\r\nContent-Type: b\r\n\r\nv" CLOSE, "duplicate part Content-Type");
    malformed(OPEN CD_A "X: a\nb\r\n\r\nv" CLOSE, "bare LF in part headers");
    malformed(OPEN CD_A "X: a\rb\r\n\r\nv" CLOSE, "CR without LF in part headers");
    malformed(OPEN CD_A "X: a\x01"
                        "b\r\n\r\nv" CLOSE,
              "control character in part headers");
    const char nul_body[] = OPEN "Content-Disposition: form-data; name=\"a\0b\"\r\n\r\nv" CLOSE;
    expect_malformed(nul_body, sizeof nul_body - 1, NULL, "control character in part headers", 400);
}
END_TEST

START_TEST(test_limits)
{
    /* max_parts: 2 parts pass with a limit of 2, a third fails */
    const char *two = OPEN CD_A "\r\n1" NEXT CD_A "\r\n2" CLOSE;
    const char *three = OPEN CD_A "\r\n1" NEXT CD_A "\r\n2" NEXT CD_A "\r\n3" CLOSE;
    iotd_multipart_limits lim = {2, 0, 0};
    recorder rec = {0};
    outcome o = parse_whole(two, strlen(two), &lim, &rec);
    ck_assert_int_eq(o.rc, IOTD_OK);
    iotd_buf_free(&rec.log);
    expect_malformed(three, strlen(three), &lim, "too many multipart parts", 400);

    /* the default part limit */
    iotd_buf b = IOTD_BUF_INIT;
    for (int i = 0; i <= IOTD_MAX_PARTS; i++)
        ck_assert_int_eq(iotd_buf_puts(&b, OPEN CD_A "\r\nv\r\n"), IOTD_OK);
    ck_assert_int_eq(iotd_buf_puts(&b, "--" BOUNDARY "--"), IOTD_OK);
    expect_malformed(b.data, b.len, NULL, "too many multipart parts", 400);
    iotd_buf_free(&b);

    /* max_header_bytes counts the whole header block including the blank line */
    size_t block = strlen(CD_A "\r\n");
    const char *one = OPEN CD_A "\r\nv" CLOSE;
    lim = (iotd_multipart_limits){0, block, 0};
    o = parse_whole(one, strlen(one), &lim, &rec);
    ck_assert_msg(o.rc == IOTD_OK, "%s", o.error);
    iotd_buf_free(&rec.log);
    lim.max_header_bytes = block - 1;
    expect_malformed(one, strlen(one), &lim, "part headers too long", 400);
    /* the default header limit, with a header line that never ends */
    b = (iotd_buf)IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_buf_puts(&b, OPEN CD_A "X-Long: "), IOTD_OK);
    for (int i = 0; i < IOTD_MAX_PART_HEADER_BYTES; i++)
        ck_assert_int_eq(iotd_buf_putc(&b, 'h'), IOTD_OK);
    expect_malformed(b.data, b.len, NULL, "part headers too long", 400);
    iotd_buf_free(&b);

    /* max_total_bytes: exactly the body passes, one byte less fails with 413 */
    lim = (iotd_multipart_limits){0, 0, strlen(one)};
    o = parse_whole(one, strlen(one), &lim, &rec);
    ck_assert_int_eq(o.rc, IOTD_OK);
    iotd_buf_free(&rec.log);
    lim.max_total_bytes = strlen(one) - 1;
    expect_malformed(one, strlen(one), &lim, "multipart body too large", 413);
    /* the epilogue counts too */
    char with_epilogue[512];
    snprintf(with_epilogue, sizeof with_epilogue, "%s%s", one, "trailing junk");
    lim.max_total_bytes = strlen(one);
    expect_malformed(with_epilogue, strlen(with_epilogue), &lim, "multipart body too large", 413);
}
END_TEST

START_TEST(test_callback_errors_stop_parsing)
{
    const char *body = OPEN CD_A "\r\nvalue" NEXT CD_A "\r\nv2" CLOSE;
    recorder rec = {0};
    rec.reject_begin_of = 2;
    outcome o = parse_whole(body, strlen(body), NULL, &rec);
    ck_assert_int_eq(o.rc, IOTD_ERROR);
    ck_assert_str_eq(o.error, "part rejected");
    ck_assert_str_eq(rec.log.data, "<a|(none)|(none)>value</><a|(none)|(none)>");
    iotd_buf_free(&rec.log);

    rec = (recorder){0};
    rec.reject_data = 1;
    o = parse_whole(body, strlen(body), NULL, &rec);
    ck_assert_int_eq(o.rc, IOTD_ERROR);
    ck_assert_str_eq(o.error, "part data rejected");
    ck_assert_int_eq(rec.parts_ended, 0);
    iotd_buf_free(&rec.log);
}
END_TEST

/* Any input, valid or not, gives the same verdict and (when valid) the same events at any chunking. */
START_TEST(test_mutations_chunking_independent)
{
    char body[2048];
    size_t len = build_valid_body(body, sizeof body);
    uint32_t seed = 12345;
    int accepted = 0;
    for (int iter = 0; iter < 400; iter++) {
        char mutated[2048];
        memcpy(mutated, body, len);
        int flips = 1 + (int)(next_rand(&seed) % 3);
        for (int f = 0; f < flips; f++) {
            size_t at = next_rand(&seed) % len;
            static const char interesting[] = {'\r', '\n', '-', '"', ';', ':', '\0', 'x', ' '};
            mutated[at] = interesting[next_rand(&seed) % sizeof interesting];
        }
        size_t mlen = len - (iter % 5 == 0 ? next_rand(&seed) % len : 0);
        recorder whole = {0};
        outcome ow = parse_chunked(BOUNDARY, NULL, mutated, mlen, 0, &whole);
        for (uint32_t chunking = 1; chunking < 4; chunking++) {
            recorder rec = {0};
            outcome oc = parse_chunked(BOUNDARY, NULL, mutated, mlen, chunking + (uint32_t)iter * 7, &rec);
            ck_assert_int_eq(oc.rc, ow.rc);
            if (ow.rc == IOTD_OK)
                assert_log(&rec, whole.log.data, whole.log.len);
            else
                ck_assert_str_eq(oc.error, ow.error);
            iotd_buf_free(&rec.log);
        }
        accepted += ow.rc == IOTD_OK;
        iotd_buf_free(&whole.log);
    }
    /* the mutations hit both sides */
    ck_assert_int_gt(accepted, 10);
    ck_assert_int_lt(accepted, 390);
}
END_TEST

/* Random bytes must never crash the parser or read outside the chunk (run under ASan). */
START_TEST(test_random_bytes)
{
    uint32_t seed = 99;
    static const char alphabet[] =
        "\r\n-" BOUNDARY "\"=;: Content-Disposition form-data name filename\x00\xff";
    for (int iter = 0; iter < 2000; iter++) {
        char buf[512];
        size_t n = next_rand(&seed) % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = alphabet[next_rand(&seed) % (sizeof alphabet - 1)];
        recorder rec = {0};
        outcome o = parse_chunked(BOUNDARY, NULL, buf, n, (uint32_t)iter % 5, &rec);
        ck_assert_int_eq(rec.bad_order, 0);
        ck_assert(o.rc == IOTD_OK || (o.error && *o.error));
        iotd_buf_free(&rec.log);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("multipart");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_valid_whole);
    tcase_add_test(tc, test_valid_byte_at_a_time_and_random_chunks);
    tcase_add_test(tc, test_every_two_chunk_split);
    tcase_add_test(tc, test_minimal_shapes);
    tcase_add_test(tc, test_filename_with_path_passed_through);
    tcase_add_test(tc, test_boundary_header);
    tcase_add_test(tc, test_quoted_boundary_body);
    tcase_add_test(tc, test_malformed_framing);
    tcase_add_test(tc, test_malformed_headers);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_callback_errors_stop_parsing);
    tcase_add_test(tc, test_mutations_chunking_independent);
    tcase_add_test(tc, test_random_bytes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
