/*
 * fuzz_multipart.c — the streaming multipart/form-data parser.
 *
 * Input layout: 4 bytes that choose the chunk sizes, a Content-Type line up
 * to '\n' (its boundary is used when iotd_multipart_boundary accepts it,
 * else "b"), then the body. The body is parsed twice, once whole and once
 * in chunks of input-driven sizes (including zero), and both parses must
 * report the same parts, bytes and outcome: a boundary split across chunks
 * has to be found exactly as in one piece.
 */
#include "fuzz.h"

#include "iotd.h"
#include "multipart.h"

#define FUZZ_MAX_CONTENT_TYPE 512

typedef struct trace {
    uint64_t hash; /* FNV-1a over every event and data byte */
    size_t parts, bytes;
    int open;
} trace;

static void mix(trace *t, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        t->hash ^= b[i];
        t->hash *= 1099511628211ULL;
    }
}

static void mix_str(trace *t, const char *s)
{
    if (s) {
        FUZZ_CHECK(strlen(s) < IOTD_MAX_PART_HEADER_BYTES);
        mix(t, s, strlen(s) + 1);
    } else {
        mix(t, "\xff", 1);
    }
}

static int on_begin(void *ud, const char *name, const char *filename, const char *type)
{
    trace *t = ud;
    FUZZ_CHECK(!t->open && name && *name);
    t->open = 1;
    t->parts++;
    mix(t, "B", 1);
    mix_str(t, name);
    mix_str(t, filename);
    mix_str(t, type);
    const char *base = iotd_multipart_filename_base(filename);
    FUZZ_CHECK(!filename || (base && !strchr(base, '/') && !strchr(base, '\\')));
    return IOTD_OK;
}

static int on_data(void *ud, const char *data, size_t len)
{
    trace *t = ud;
    FUZZ_CHECK(t->open && len > 0);
    t->bytes += len;
    mix(t, data, len);
    return IOTD_OK;
}

static int on_end(void *ud)
{
    trace *t = ud;
    FUZZ_CHECK(t->open);
    t->open = 0;
    mix(t, "E", 1);
    return IOTD_OK;
}

static const iotd_multipart_callbacks callbacks = {on_begin, on_data, on_end};

/* Returns the outcome: feed failure, finish failure or success, with the error message. */
static int run(const char *boundary, const iotd_multipart_limits *lim, const uint8_t *body, size_t len,
               const uint8_t seed[4], trace *t, const char **err)
{
    iotd_multipart *m = iotd_multipart_new(boundary, lim, &callbacks, t);
    FUZZ_CHECK(m);
    int rc = IOTD_OK, outcome;
    size_t off = 0, step = 0;
    while (off < len && rc == IOTD_OK) {
        size_t n = len - off;
        if (seed) {
            /* sizes 0..63 cycling through the seed bytes, with a big one now and then */
            unsigned char s = seed[step % 4] ^ (unsigned char)(step * 31);
            n = (s & 0xC0) == 0xC0 ? (size_t)(s & 0x3F) * 97 : (size_t)(s & 0x3F);
            if (n > len - off)
                n = len - off;
            step++;
        }
        rc = iotd_multipart_feed(m, (const char *)body + off, n);
        off += n;
    }
    if (rc != IOTD_OK)
        outcome = 1;
    else
        outcome = iotd_multipart_finish(m) == IOTD_OK ? 0 : 2;
    *err = iotd_multipart_error(m);
    int status = iotd_multipart_error_status(m);
    FUZZ_CHECK(status == 400 || status == 413);
    iotd_multipart_free(m);
    return outcome;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    const uint8_t *seed = data;
    data += 4;
    size -= 4;
    const uint8_t *nl = memchr(data, '\n', size < FUZZ_MAX_CONTENT_TYPE ? size : FUZZ_MAX_CONTENT_TYPE);
    char boundary[IOTD_MAX_BOUNDARY_CHARS + 1] = "b";
    if (nl) {
        char *ct = fuzz_strndup(data, (size_t)(nl - data));
        if (!ct)
            return 0;
        const char *why = NULL;
        if (iotd_multipart_boundary(ct, boundary, sizeof boundary, &why) != IOTD_OK) {
            FUZZ_CHECK(why != NULL);
            strcpy(boundary, "b");
        } else {
            FUZZ_CHECK(strlen(boundary) >= 1 && strlen(boundary) <= IOTD_MAX_BOUNDARY_CHARS);
        }
        free(ct);
        size -= (size_t)(nl - data) + 1;
        data = nl + 1;
    }
    /* small part limits so the fuzzer reaches them; the total limit is checked before any byte of a
     * chunk is parsed, so it would fail the two runs at different places and stays out of reach */
    iotd_multipart_limits lim = {4, 256, (size_t)1 << 24};
    trace whole = {14695981039346656037ULL, 0, 0, 0}, chunked = whole;
    const char *err_whole, *err_chunked;
    int a = run(boundary, &lim, data, size, NULL, &whole, &err_whole);
    int b = run(boundary, &lim, data, size, seed, &chunked, &err_chunked);
    FUZZ_CHECK(a == b);
    FUZZ_CHECK(strcmp(err_whole, err_chunked) == 0);
    if (a == 0) {
        FUZZ_CHECK(whole.hash == chunked.hash && whole.parts == chunked.parts &&
                   whole.bytes == chunked.bytes);
        FUZZ_CHECK(!whole.open);
    }
    return 0;
}
