/*
 * check_sigv4.c — SigV4 against the S3 documentation's worked examples.
 *
 * The examples are read at run time from $IOTD_SPECS_DIR/sigv4/
 * presign-vectors.json and compared byte for byte (canonical request,
 * string to sign, signature, URL). Further vectors with a session token,
 * another region and a path-style endpoint were computed with the aws4 npm
 * package, an independent implementation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "iotd.h"
#include "s3.h"
#include "sigv4.h"

#define EXAMPLE_KEY_ID "AKIAIOSFODNN7EXAMPLE"
#define EXAMPLE_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T_20240301_120000 1709294400 /* 2024-03-01T12:00:00Z */

static struct json_object *vectors;

static const char *jstr(struct json_object *o, const char *name)
{
    struct json_object *v;
    ck_assert_msg(json_object_object_get_ex(o, name, &v), "missing %s", name);
    return json_object_get_string(v);
}

static struct json_object *jget(struct json_object *o, const char *name)
{
    struct json_object *v;
    ck_assert_msg(json_object_object_get_ex(o, name, &v), "missing %s", name);
    return v;
}

/* Presigns through the S3 client's location rules, as the app does. */
static void presign_with_config(const iotd_s3_config *cfg, const char *key, const char *token, int64_t when,
                                long expires, iotd_sigv4_presign_out *out)
{
    iotd_buf base = IOTD_BUF_INIT, host = IOTD_BUF_INIT, path = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_s3_object_location(cfg, key, &base, &host, &path), IOTD_OK);
    iotd_sigv4_presign_in in = {
        .base_url = base.data,
        .host = host.data,
        .path = path.data,
        .region = cfg->region,
        .access_key_id = EXAMPLE_KEY_ID,
        .secret_access_key = EXAMPLE_SECRET,
        .session_token = token,
        .signing_time = when,
        .expires = expires,
    };
    ck_assert_int_eq(iotd_sigv4_presign(&in, out), IOTD_OK);
    iotd_buf_free(&base);
    iotd_buf_free(&host);
    iotd_buf_free(&path);
}

START_TEST(test_presign_vectors)
{
    struct json_object *tests = jget(vectors, "tests");
    struct json_object *creds = jget(vectors, "credentials");
    ck_assert_str_eq(jstr(creds, "access_key_id"), EXAMPLE_KEY_ID);
    ck_assert_str_eq(jstr(creds, "secret_access_key"), EXAMPLE_SECRET);
    ck_assert_int_gt(json_object_array_length(tests), 0);
    for (size_t i = 0; i < json_object_array_length(tests); i++) {
        struct json_object *t = json_object_array_get_idx(tests, i);
        ck_assert_str_eq(jstr(t, "method"), "GET");
        iotd_s3_config cfg = {0};
        snprintf(cfg.bucket, sizeof cfg.bucket, "%s", jstr(t, "bucket"));
        snprintf(cfg.region, sizeof cfg.region, "%s", jstr(t, "region"));
        int64_t when;
        ck_assert_int_eq(iotd_sigv4_parse_date(jstr(t, "amz_date"), &when), IOTD_OK);
        iotd_sigv4_presign_out out;
        iotd_sigv4_presign_out_init(&out);
        presign_with_config(&cfg, jstr(t, "key"), NULL, when, json_object_get_int(jget(t, "expires")), &out);
        ck_assert_str_eq(out.canonical_request.data, jstr(t, "canonical_request"));
        ck_assert_str_eq(out.string_to_sign.data, jstr(t, "string_to_sign"));
        ck_assert_str_eq(out.signature, jstr(t, "signature"));
        ck_assert_str_eq(out.url.data, jstr(t, "url"));
        iotd_sigv4_presign_out_free(&out);
    }
}
END_TEST

START_TEST(test_header_signing_example)
{
    struct json_object *examples = jget(vectors, "header_signing_examples");
    ck_assert_int_gt(json_object_array_length(examples), 0);
    struct json_object *t = json_object_array_get_idx(examples, 0);
    /* out of order, mixed case, untrimmed: the canonical form must fix all three */
    iotd_sigv4_header h[] = {
        {"X-Amz-Date", "20130524T000000Z"},
        {"Range", "  bytes=0-9 "},
        {"x-amz-content-sha256", IOTD_SIGV4_EMPTY_SHA256},
        {"Host", "examplebucket.s3.amazonaws.com"},
    };
    iotd_buf cr = IOTD_BUF_INIT, scope = IOTD_BUF_INIT, sts = IOTD_BUF_INIT, names = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_sigv4_canonical_request(&cr, "GET", "/test.txt", "", h, 4, IOTD_SIGV4_EMPTY_SHA256),
                     IOTD_OK);
    ck_assert_str_eq(cr.data, jstr(t, "canonical_request"));
    ck_assert_int_eq(iotd_sigv4_signed_headers(&names, h, 4), IOTD_OK);
    ck_assert_str_eq(names.data, "host;range;x-amz-content-sha256;x-amz-date");
    ck_assert_int_eq(iotd_sigv4_scope(&scope, "20130524T000000Z", "us-east-1", "s3"), IOTD_OK);
    ck_assert_str_eq(scope.data, "20130524/us-east-1/s3/aws4_request");
    ck_assert_int_eq(iotd_sigv4_string_to_sign(&sts, "20130524T000000Z", scope.data, cr.data), IOTD_OK);
    ck_assert_str_eq(sts.data, jstr(t, "string_to_sign"));
    char sig[IOTD_SIGV4_HEX_LEN + 1];
    ck_assert_int_eq(
        iotd_sigv4_signature(EXAMPLE_SECRET, "20130524T000000Z", "us-east-1", "s3", sts.data, sig), IOTD_OK);
    ck_assert_str_eq(sig, jstr(t, "signature"));
    /* a header value with a line break cannot be signed */
    iotd_sigv4_header bad = {"x-amz-meta-a", "a\r\nb"};
    iotd_buf_reset(&cr);
    ck_assert_int_eq(iotd_sigv4_canonical_request(&cr, "GET", "/", "", &bad, 1, IOTD_SIGV4_EMPTY_SHA256),
                     IOTD_ERROR);
    iotd_buf_free(&cr);
    iotd_buf_free(&scope);
    iotd_buf_free(&sts);
    iotd_buf_free(&names);
}
END_TEST

START_TEST(test_uri_encoding)
{
    iotd_buf b = IOTD_BUF_INIT;
    const char *key = "images/a b+c%d~e_f-g.h/\xc3\xa9\xe2\x82\xac*=&?#";
    ck_assert_int_eq(iotd_sigv4_uri_encode(&b, key, strlen(key), 1), IOTD_OK);
    ck_assert_str_eq(b.data, "images/a%20b%2Bc%25d~e_f-g.h/%C3%A9%E2%82%AC%2A%3D%26%3F%23");
    iotd_buf_reset(&b);
    ck_assert_int_eq(iotd_sigv4_uri_encode(&b, "a/b c", 5, 0), IOTD_OK);
    ck_assert_str_eq(b.data, "a%2Fb%20c");
    iotd_buf_free(&b);
}
END_TEST

START_TEST(test_dates)
{
    char d[IOTD_SIGV4_DATE_LEN + 1];
    ck_assert_int_eq(iotd_sigv4_format_date(T_20240301_120000, d), IOTD_OK);
    ck_assert_str_eq(d, "20240301T120000Z");
    int64_t t = 0;
    ck_assert_int_eq(iotd_sigv4_parse_date("20240301T120000Z", &t), IOTD_OK);
    ck_assert_int_eq(t, T_20240301_120000);
    ck_assert_int_eq(iotd_sigv4_parse_date("20240231T120000Z", &t), IOTD_ERROR);
    ck_assert_int_eq(iotd_sigv4_parse_date("2024-03-01T12:00:00Z", &t), IOTD_ERROR);
    ck_assert_int_eq(iotd_sigv4_parse_date("20240301T120000", &t), IOTD_ERROR);
    ck_assert_int_eq(iotd_sigv4_parse_date("2024030xT120000Z", &t), IOTD_ERROR);
    ck_assert_int_eq(iotd_sigv4_parse_iso8601("2024-03-01T12:00:00Z", &t), IOTD_OK);
    ck_assert_int_eq(t, T_20240301_120000);
    ck_assert_int_eq(iotd_sigv4_parse_iso8601("2024-03-01T12:00:01.250Z", &t), IOTD_OK);
    ck_assert_int_eq(t, T_20240301_120000 + 1);
    ck_assert_int_eq(iotd_sigv4_parse_iso8601("2024-03-01T12:00:00+00:00", &t), IOTD_OK);
    ck_assert_int_eq(iotd_sigv4_parse_iso8601("2024-03-01T12:00:00+02:00", &t), IOTD_ERROR);
    ck_assert_int_eq(iotd_sigv4_parse_iso8601("yesterday", &t), IOTD_ERROR);
}
END_TEST

START_TEST(test_window)
{
    /* ttl 3600: windows of 1800 s aligned to the epoch */
    ck_assert_int_eq(iotd_sigv4_window_start(T_20240301_120000, 3600), T_20240301_120000);
    ck_assert_int_eq(iotd_sigv4_window_start(T_20240301_120000 + 1799, 3600), T_20240301_120000);
    ck_assert_int_eq(iotd_sigv4_window_start(T_20240301_120000 + 1800, 3600), T_20240301_120000 + 1800);
    /* every moment: the signing time is not in the future, and the URL stays valid >= ttl/2 */
    const long ttls[] = {1, 2, 3, 61, 3600, 604800};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(ttls); i++) {
        long ttl = ttls[i];
        for (time_t now = T_20240301_120000; now < T_20240301_120000 + 2 * ttl + 5; now += 1 + ttl / 97) {
            int64_t start = iotd_sigv4_window_start(now, ttl);
            ck_assert_int_le(start, now);
            ck_assert_int_ge(start + ttl - now, ttl / 2);
            /* same window, same start */
            ck_assert_int_eq(iotd_sigv4_window_start(start, ttl), start);
        }
    }
}
END_TEST

/* Computed with the aws4 npm package (signQuery, UNSIGNED-PAYLOAD) at 2024-03-01T12:00:00Z. */
START_TEST(test_independent_vectors)
{
    struct {
        const char *bucket, *region, *endpoint, *key, *token;
        long expires;
        const char *url;
    } v[] = {
        {"examplebucket", "us-east-1", "", "test.txt", NULL, 86400,
         "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
         "AKIAIOSFODNN7EXAMPLE%2F20240301%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240301T120000Z&"
         "X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
         "20e54fe37daf34fa657703ad963ee8cdde72929b2cb8948bd2a01438830fca84"},
        {"examplebucket", "eu-west-1", "", "photos/a b+c%~\xc3\xa9.jpg", "FwoG/tok+en==", 3600,
         "https://examplebucket.s3.eu-west-1.amazonaws.com/photos/a%20b%2Bc%25~%C3%A9.jpg?X-Amz-Algorithm="
         "AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240301%2Feu-west-1%2Fs3%2Faws4_request&"
         "X-Amz-Date=20240301T120000Z&X-Amz-Expires=3600&X-Amz-Security-Token=FwoG%2Ftok%2Ben%3D%3D&"
         "X-Amz-SignedHeaders=host&X-Amz-Signature="
         "5d768015cef0f09b7eff341d87931ecc3aa6f18de1aab5754628b6a79bdacbfe"},
        {"bkt", "us-east-1", "http://127.0.0.1:4569/", "images/x y.png", NULL, 600,
         "http://127.0.0.1:4569/bkt/images/x%20y.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
         "AKIAIOSFODNN7EXAMPLE%2F20240301%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240301T120000Z&"
         "X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature="
         "0fde5aeb2f7e7a2212555a8cf69e7936f38d0d39b2a5bf4649690186784fc8ee"},
    };
    for (size_t i = 0; i < IOTD_ARRAY_LEN(v); i++) {
        iotd_s3_config cfg = {0};
        snprintf(cfg.bucket, sizeof cfg.bucket, "%s", v[i].bucket);
        snprintf(cfg.region, sizeof cfg.region, "%s", v[i].region);
        snprintf(cfg.endpoint, sizeof cfg.endpoint, "%s", v[i].endpoint);
        iotd_sigv4_presign_out out;
        iotd_sigv4_presign_out_init(&out);
        presign_with_config(&cfg, v[i].key, v[i].token, T_20240301_120000, v[i].expires, &out);
        ck_assert_str_eq(out.url.data, v[i].url);
        if (v[i].token) {
            /* the token is inside the signed query, not only in the URL */
            ck_assert_ptr_nonnull(
                strstr(out.canonical_request.data, "&X-Amz-Security-Token=FwoG%2Ftok%2Ben%3D%3D&"));
        }
        iotd_sigv4_presign_out_free(&out);
    }
}
END_TEST

START_TEST(test_presign_limits)
{
    iotd_sigv4_presign_out out;
    iotd_sigv4_presign_out_init(&out);
    iotd_sigv4_presign_in in = {"https://b.s3.amazonaws.com",
                                "b.s3.amazonaws.com",
                                "/k",
                                "us-east-1",
                                EXAMPLE_KEY_ID,
                                EXAMPLE_SECRET,
                                NULL,
                                T_20240301_120000,
                                0};
    ck_assert_int_eq(iotd_sigv4_presign(&in, &out), IOTD_ERROR);
    in.expires = IOTD_SIGV4_MAX_EXPIRES + 1;
    ck_assert_int_eq(iotd_sigv4_presign(&in, &out), IOTD_ERROR);
    in.expires = IOTD_SIGV4_MAX_EXPIRES;
    ck_assert_int_eq(iotd_sigv4_presign(&in, &out), IOTD_OK);
    ck_assert_ptr_nonnull(strstr(out.url.data, "X-Amz-Expires=604800&"));
    iotd_sigv4_presign_out_free(&out);
}
END_TEST

int main(void)
{
    const char *specs = getenv("IOTD_SPECS_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/sigv4/presign-vectors.json", specs ? specs : "");
    vectors = specs ? json_object_from_file(path) : NULL;
    if (!vectors) {
        fprintf(stderr, "check_sigv4: SKIP: %s not readable (set IOTD_SPECS_DIR)\n", path);
        return 77;
    }
    Suite *s = suite_create("sigv4");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_presign_vectors);
    tcase_add_test(tc, test_header_signing_example);
    tcase_add_test(tc, test_uri_encoding);
    tcase_add_test(tc, test_dates);
    tcase_add_test(tc, test_window);
    tcase_add_test(tc, test_independent_vectors);
    tcase_add_test(tc, test_presign_limits);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    json_object_put(vectors);
    return failed ? 1 : 0;
}
