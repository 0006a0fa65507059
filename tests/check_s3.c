/*
 * check_s3.c — the S3 client: locations, XML, keys, presigning, signing.
 *
 * Three layers. Unit tests (locations, error and listing XML, keys, the
 * stable presign window) always run. Against tests/http_fixture.py, the
 * request libcurl signs is echoed back and its signature recomputed with
 * sigv4.c, and the retry rules are checked by counting attempts. The live
 * part runs against a real S3 (the dev stack's signature-verifying one) only
 * when IOTD_TEST_S3_ENDPOINT, IOTD_TEST_S3_BUCKET (or, as ./dev check sets
 * them, IOTD_S3_ENDPOINT and IOTD_S3_BUCKET), AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY are set. It writes only under check_s3/RANDOM/ and
 * removes what it wrote.
 */
#include <check.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "buf.h"
#include "http_fixture.h"
#include "iotd.h"
#include "s3.h"
#include "spool.h"
#include "sigv4.h"

static http_fixture fixture;

/* Keys that need every rule of SigV4's URI encoding. */
static const char *const tricky_keys[] = {
    "a b.txt",
    "plus+sign.txt",
    "per%cent.txt",
    "tilde~name.txt",
    "d\xc3\xa9j\xc3\xa0-\xe6\x97\xa5\xe6\x9c\xac.txt",
    "dir/sub dir/x=y&z.txt",
};

static iotd_s3_config config(const char *endpoint, const char *bucket, const char *region)
{
    iotd_s3_config c = {0};
    snprintf(c.endpoint, sizeof c.endpoint, "%s", endpoint);
    snprintf(c.bucket, sizeof c.bucket, "%s", bucket);
    snprintf(c.region, sizeof c.region, "%s", region);
    snprintf(c.prefix, sizeof c.prefix, "images/");
    c.presign_ttl = 3600;
    return c;
}

static void assert_location(const iotd_s3_config *cfg, const char *key, const char *want_url,
                            const char *want_host)
{
    iotd_buf base = IOTD_BUF_INIT, host = IOTD_BUF_INIT, path = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_s3_object_location(cfg, key, &base, &host, &path), IOTD_OK);
    iotd_buf url = IOTD_BUF_INIT;
    iotd_buf_printf(&url, "%s%s", base.data, path.data);
    ck_assert_str_eq(url.data, want_url);
    ck_assert_str_eq(host.data, want_host);
    iotd_buf_free(&base);
    iotd_buf_free(&host);
    iotd_buf_free(&path);
    iotd_buf_free(&url);
}

START_TEST(test_locations)
{
    iotd_s3_config c = config("", "photos", "us-east-1");
    assert_location(&c, "images/a b+c.jpg", "https://photos.s3.amazonaws.com/images/a%20b%2Bc.jpg",
                    "photos.s3.amazonaws.com");
    assert_location(&c, NULL, "https://photos.s3.amazonaws.com/", "photos.s3.amazonaws.com");
    c = config("", "photos", "");
    assert_location(&c, "k", "https://photos.s3.amazonaws.com/k", "photos.s3.amazonaws.com");
    c = config("", "photos", "eu-west-1");
    assert_location(&c, "x/%~\xc3\xa9", "https://photos.s3.eu-west-1.amazonaws.com/x/%25~%C3%A9",
                    "photos.s3.eu-west-1.amazonaws.com");
    c = config("http://127.0.0.1:4569", "bkt", "us-east-1");
    assert_location(&c, "images/k.png", "http://127.0.0.1:4569/bkt/images/k.png", "127.0.0.1:4569");
    assert_location(&c, NULL, "http://127.0.0.1:4569/bkt/", "127.0.0.1:4569");
    c = config("http://minio.local:9000/s3/", "bkt", "us-east-1");
    assert_location(&c, "k", "http://minio.local:9000/s3/bkt/k", "minio.local:9000");
    c = config("http://s3.local:80", "bkt", "us-east-1");
    assert_location(&c, "k", "http://s3.local/bkt/k", "s3.local");
    c = config("https://s3.local:443/", "bkt", "us-east-1");
    assert_location(&c, "k", "https://s3.local/bkt/k", "s3.local");

    iotd_buf a = IOTD_BUF_INIT, b = IOTD_BUF_INIT, d = IOTD_BUF_INIT;
    c = config("ftp://s3.local", "bkt", "us-east-1");
    ck_assert_int_eq(iotd_s3_object_location(&c, "k", &a, &b, &d), IOTD_ERROR);
    c = config("", "bkt", "us-east-1");
    ck_assert_int_eq(iotd_s3_object_location(&c, "", &a, &b, &d), IOTD_ERROR);
    char longkey[IOTD_S3_MAX_KEY_BYTES + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    ck_assert_int_eq(iotd_s3_object_location(&c, longkey, &a, &b, &d), IOTD_ERROR);
    c = config("", "", "us-east-1");
    ck_assert_int_eq(iotd_s3_object_location(&c, "k", &a, &b, &d), IOTD_ERROR);
    iotd_buf_free(&a);
    iotd_buf_free(&b);
    iotd_buf_free(&d);
}
END_TEST

START_TEST(test_parse_error)
{
    iotd_s3_error e;
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                      "<Message>The specified key does not exist.</Message><Key>a&amp;b</Key></Error>";
    ck_assert_int_eq(iotd_s3_parse_error(doc, strlen(doc), 404, &e), IOTD_OK);
    ck_assert_int_eq(e.http_status, 404);
    ck_assert_str_eq(e.code, "NoSuchKey");
    ck_assert_str_eq(e.message, "The specified key does not exist.");
    doc = "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not "
          "match</Message><StringToSign>x</StringToSign></Error>";
    ck_assert_int_eq(iotd_s3_parse_error(doc, strlen(doc), 403, &e), IOTD_OK);
    ck_assert_str_eq(e.code, "SignatureDoesNotMatch");
    /* no document (HEAD), or not XML (a proxy's page): the status names the error */
    ck_assert_int_eq(iotd_s3_parse_error("", 0, 404, &e), IOTD_DECLINED);
    ck_assert_str_eq(e.code, "NotFound");
    ck_assert_int_eq(iotd_s3_parse_error("<html>bad gateway", 17, 503, &e), IOTD_DECLINED);
    ck_assert_str_eq(e.code, "ServiceUnavailable");
    ck_assert_str_eq(e.message, "HTTP 503");
    /* long text is truncated, not overflowed */
    iotd_buf big = IOTD_BUF_INIT;
    iotd_buf_puts(&big, "<Error><Code>");
    for (int i = 0; i < 100; i++)
        iotd_buf_puts(&big, "SlowDown");
    iotd_buf_puts(&big, "</Code><Message>");
    for (int i = 0; i < 1000; i++)
        iotd_buf_puts(&big, "m");
    iotd_buf_puts(&big, "</Message></Error>");
    ck_assert_int_eq(iotd_s3_parse_error(big.data, big.len, 503, &e), IOTD_OK);
    ck_assert_uint_eq(strlen(e.code), sizeof e.code - 1);
    ck_assert_uint_eq(strlen(e.message), sizeof e.message - 1);
    iotd_buf_free(&big);
    /* s3rver's error documents for non-ASCII keys use HTML entities */
    doc = "<Error><Code>NoSuchKey</Code><Message>m</Message><Key>d&eacute;j&agrave;</Key></Error>";
    ck_assert_int_eq(iotd_s3_parse_error(doc, strlen(doc), 404, &e), IOTD_OK);
    ck_assert_str_eq(e.code, "NoSuchKey");
    /* no entity expansion tricks */
    doc = "<!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Error><Code>&x;</Code></Error>";
    iotd_s3_parse_error(doc, strlen(doc), 400, &e);
    ck_assert_ptr_null(strstr(e.code, "root"));
}
END_TEST

START_TEST(test_parse_list)
{
    iotd_s3_listing l;
    iotd_s3_listing_init(&l);
    iotd_buf token = IOTD_BUF_INIT;
    const char *page1 =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bkt</Name>"
        "<Prefix>images/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        "<Contents><Key>images/a&amp;b.jpg</Key><LastModified>2024-03-01T12:00:00.000Z</LastModified>"
        "<ETag>&quot;x&quot;</ETag><Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>images/\xc3\xa9.png</Key><LastModified>2024-03-01T12:00:01Z</LastModified>"
        "<Size>0</Size></Contents></ListBucketResult>";
    ck_assert_int_eq(iotd_s3_parse_list(page1, strlen(page1), &l, &token), IOTD_OK);
    ck_assert_str_eq(token.data, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    ck_assert_uint_eq(l.len, 2);
    ck_assert_str_eq(l.items[0].key, "images/a&b.jpg");
    ck_assert_int_eq(l.items[0].size, 1234);
    ck_assert_int_eq(l.items[0].last_modified, 1709294400);
    ck_assert_str_eq(l.items[1].key, "images/\xc3\xa9.png");
    ck_assert_int_eq(l.items[1].size, 0);
    const char *page2 = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>images/z</Key>"
                        "<LastModified>2024-03-02T00:00:00.000Z</LastModified><Size>7</Size></Contents>"
                        "</ListBucketResult>";
    ck_assert_int_eq(iotd_s3_parse_list(page2, strlen(page2), &l, &token), IOTD_OK);
    ck_assert_uint_eq(token.len, 0);
    ck_assert_uint_eq(l.len, 3);
    const char *empty =
        "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>";
    ck_assert_int_eq(iotd_s3_parse_list(empty, strlen(empty), &l, &token), IOTD_OK);
    ck_assert_uint_eq(l.len, 3);
    const char *bad[] = {
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", /* truncated, no token */
        "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
        "<LastModified>2024-03-02T00:00:00Z</LastModified></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>1</Size>"
        "<LastModified>someday</LastModified></Contents></ListBucketResult>",
        "<Error><Code>AccessDenied</Code></Error>",
        "not xml",
    };
    for (size_t i = 0; i < IOTD_ARRAY_LEN(bad); i++)
        ck_assert_msg(iotd_s3_parse_list(bad[i], strlen(bad[i]), &l, &token) == IOTD_ERROR, "accepted %s",
                      bad[i]);
    iotd_s3_listing_free(&l);
    iotd_buf_free(&token);
}
END_TEST

START_TEST(test_make_key)
{
    iotd_s3_config c = config("", "bkt", "us-east-1");
    iotd_buf k1 = IOTD_BUF_INIT, k2 = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_s3_make_key(&c, "jpg", &k1), IOTD_OK);
    ck_assert_int_eq(iotd_s3_make_key(&c, "jpg", &k2), IOTD_OK);
    regex_t re;
    ck_assert_int_eq(regcomp(&re, "^images/[0-9a-f]{32}\\.jpg$", REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_int_eq(regexec(&re, k1.data, 0, NULL, 0), 0);
    ck_assert_int_eq(regexec(&re, k2.data, 0, NULL, 0), 0);
    regfree(&re);
    ck_assert_str_ne(k1.data, k2.data);
    const char *bad[] = {"", "JPG", "../x", "j pg", "webpwebpw", NULL};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(bad); i++)
        ck_assert_int_eq(iotd_s3_make_key(&c, bad[i], &k1), IOTD_ERROR);
    iotd_buf_free(&k1);
    iotd_buf_free(&k2);
}
END_TEST

static iotd_s3 *client(const iotd_s3_config *cfg, const char *id, const char *secret, const char *token)
{
    iotd_aws_env env = {0};
    snprintf(env.access_key_id, sizeof env.access_key_id, "%s", id);
    snprintf(env.secret_access_key, sizeof env.secret_access_key, "%s", secret);
    snprintf(env.session_token, sizeof env.session_token, "%s", token ? token : "");
    iotd_s3 *s3 = iotd_s3_new(cfg, &env);
    ck_assert_ptr_nonnull(s3);
    return s3;
}

static const char *query_value(const char *url, const char *name, char *out, size_t cap)
{
    const char *p = strstr(url, name);
    ck_assert_ptr_nonnull(p);
    p += strlen(name);
    size_t n = strcspn(p, "&");
    ck_assert_uint_lt(n, cap);
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

START_TEST(test_presign_stable_window)
{
    iotd_s3_config c = config("", "photos", "eu-west-1");
    iotd_s3 *s3 = client(&c, "AKIDTEST", "secret", NULL);
    iotd_buf u1 = IOTD_BUF_INIT, u2 = IOTD_BUF_INIT, u3 = IOTD_BUF_INIT;
    const time_t t0 = 1709294400; /* 12:00:00, a window boundary for ttl 3600 */
    ck_assert_int_eq(iotd_s3_presign_get(s3, "images/a b.jpg", t0 + 5, &u1), IOTD_OK);
    ck_assert_int_eq(iotd_s3_presign_get(s3, "images/a b.jpg", t0 + 1799, &u2), IOTD_OK);
    ck_assert_int_eq(iotd_s3_presign_get(s3, "images/a b.jpg", t0 + 1800, &u3), IOTD_OK);
    ck_assert_str_eq(u1.data, u2.data); /* one URL per window: browsers can cache it */
    ck_assert_str_ne(u1.data, u3.data);
    char v[64];
    ck_assert_str_eq(query_value(u1.data, "X-Amz-Date=", v, sizeof v), "20240301T120000Z");
    ck_assert_str_eq(query_value(u3.data, "X-Amz-Date=", v, sizeof v), "20240301T123000Z");
    ck_assert_str_eq(query_value(u1.data, "X-Amz-Expires=", v, sizeof v), "3600");
    ck_assert_ptr_nonnull(strstr(u1.data, "https://photos.s3.eu-west-1.amazonaws.com/images/a%20b.jpg?"));
    ck_assert_ptr_null(strstr(u1.data, "X-Amz-Security-Token"));
    /* explicit date and lifetime, as `iotd presign --date --expires` */
    ck_assert_int_eq(iotd_s3_presign_get_at(s3, "k", t0 + 7, 60, &u2), IOTD_OK);
    ck_assert_str_eq(query_value(u2.data, "X-Amz-Date=", v, sizeof v), "20240301T120007Z");
    ck_assert_str_eq(query_value(u2.data, "X-Amz-Expires=", v, sizeof v), "60");
    ck_assert_int_eq(iotd_s3_presign_get_at(s3, "k", t0, 604801, &u2), IOTD_ERROR);
    iotd_s3_free(s3);

    /* with a session token, the token is in the URL */
    s3 = client(&c, "ASIATEST", "secret", "tok/en+=");
    ck_assert_int_eq(iotd_s3_presign_get(s3, "k", t0, &u1), IOTD_OK);
    ck_assert_str_eq(query_value(u1.data, "X-Amz-Security-Token=", v, sizeof v), "tok%2Fen%2B%3D");
    iotd_s3_free(s3);

    /* no credentials: unavailable, not a crash */
    iotd_aws_env none = {0};
    s3 = iotd_s3_new(&c, &none);
    ck_assert_ptr_nonnull(s3);
    ck_assert_int_eq(iotd_s3_presign_get(s3, "k", t0, &u1), IOTD_AGAIN);
    iotd_s3_error e;
    ck_assert_int_eq(iotd_s3_head_bucket(s3, &e), IOTD_AGAIN);
    ck_assert_str_eq(e.code, "CredentialsUnavailable");
    iotd_s3_free(s3);
    iotd_buf_free(&u1);
    iotd_buf_free(&u2);
    iotd_buf_free(&u3);
}
END_TEST

/* ---- against the echo fixture ------------------------------------------- */

static const char *echoed_header(struct json_object *headers, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(headers); i++) {
        struct json_object *h = json_object_array_get_idx(headers, i);
        if (strcasecmp(json_object_get_string(json_object_array_get_idx(h, 0)), name) == 0)
            return json_object_get_string(json_object_array_get_idx(h, 1));
    }
    return NULL;
}

/* Recomputes the signature of the echoed request, as S3 would, and compares. */
static void verify_echo(const char *json, const char *secret, const char *method, const char *want_path)
{
    struct json_object *root = json_tokener_parse(json);
    ck_assert_ptr_nonnull(root);
    struct json_object *hs, *v;
    ck_assert(json_object_object_get_ex(root, "headers", &hs));
    ck_assert(json_object_object_get_ex(root, "method", &v));
    ck_assert_str_eq(json_object_get_string(v), method);
    ck_assert(json_object_object_get_ex(root, "path", &v));
    char raw[4096];
    snprintf(raw, sizeof raw, "%s", json_object_get_string(v));
    char *query = strchr(raw, '?');
    if (query)
        *query++ = '\0';
    ck_assert_str_eq(raw, want_path);

    const char *auth = echoed_header(hs, "Authorization");
    const char *date = echoed_header(hs, "X-Amz-Date");
    const char *payload = echoed_header(hs, "x-amz-content-sha256");
    ck_assert_ptr_nonnull(auth);
    ck_assert_ptr_nonnull(date);
    ck_assert_ptr_nonnull(payload);
    ck_assert(json_object_object_get_ex(root, "body_sha256", &v));
    ck_assert_str_eq(payload, json_object_get_string(v)); /* the header is the real body hash */

    char names[512], sig[IOTD_SIGV4_HEX_LEN + 1];
    const char *p = strstr(auth, "SignedHeaders=");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p, "SignedHeaders=%511[^,], Signature=%64s", names, sig), 2);
    /* S3 requires these to be signed */
    ck_assert_ptr_nonnull(strstr(names, "host"));
    ck_assert_ptr_nonnull(strstr(names, "x-amz-content-sha256"));
    ck_assert_ptr_nonnull(strstr(names, "x-amz-date"));
    iotd_sigv4_header h[32];
    size_t n = 0;
    for (char *save, *name = strtok_r(names, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
        ck_assert_uint_lt(n, 32);
        const char *value = echoed_header(hs, name);
        ck_assert_msg(value != NULL, "signed header %s was not sent", name);
        h[n++] = (iotd_sigv4_header){name, value};
    }
    iotd_buf cr = IOTD_BUF_INIT, scope = IOTD_BUF_INIT, sts = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_sigv4_canonical_request(&cr, method, raw, query ? query : "", h, n, payload),
                     IOTD_OK);
    ck_assert_int_eq(iotd_sigv4_scope(&scope, date, "us-east-1", "s3"), IOTD_OK);
    ck_assert_int_eq(iotd_sigv4_string_to_sign(&sts, date, scope.data, cr.data), IOTD_OK);
    char want[IOTD_SIGV4_HEX_LEN + 1];
    ck_assert_int_eq(iotd_sigv4_signature(secret, date, "us-east-1", "s3", sts.data, want), IOTD_OK);
    ck_assert_msg(strcmp(sig, want) == 0, "libcurl's signature differs for:\n%s", cr.data);
    iotd_buf_free(&cr);
    iotd_buf_free(&scope);
    iotd_buf_free(&sts);
    json_object_put(root);
}

START_TEST(test_curl_signature_verifies)
{
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "%s/echo", fixture.base);
    iotd_s3_config c = config(endpoint, "bkt", "us-east-1");
    iotd_s3 *s3 = client(&c, "AKIDTEST", "test-secret", "session/token+=");
    iotd_buf body = IOTD_BUF_INIT, path = IOTD_BUF_INIT;
    iotd_s3_error e;
    for (size_t i = 0; i < IOTD_ARRAY_LEN(tricky_keys); i++) {
        iotd_buf_reset(&path);
        iotd_buf_puts(&path, "/echo/bkt/");
        iotd_sigv4_uri_encode(&path, tricky_keys[i], strlen(tricky_keys[i]), 1);
        ck_assert_int_eq(iotd_s3_get(s3, tricky_keys[i], 65536, &body, &e), IOTD_OK);
        verify_echo(body.data, "test-secret", "GET", path.data);
        ck_assert_ptr_nonnull(strstr(body.data, "session/token+="));
    }
    /* a dot segment is a key, not a path to squash */
    ck_assert_int_eq(iotd_s3_get(s3, "a/../b", 65536, &body, &e), IOTD_OK);
    verify_echo(body.data, "test-secret", "GET", "/echo/bkt/a/../b");
    /* the GET limit holds */
    ck_assert_int_eq(iotd_s3_get(s3, "k", 10, &body, &e), IOTD_ERROR);
    ck_assert_str_eq(e.code, "TooLarge");
    iotd_s3_free(s3);

    /* PUT and DELETE go through the same signer; the echo answers GET-shaped
     * JSON only to GETs, so check them via a client that reads the body */
    s3 = client(&c, "AKIDTEST", "test-secret", NULL);
    static const char content[] = "\x89PNG\r\n\x1a\n binary \0 bytes";
    ck_assert_int_eq(iotd_s3_put(s3, "images/p q.png", content, sizeof content - 1, "image/png", &e),
                     IOTD_OK);
    ck_assert_int_eq(iotd_s3_delete(s3, "images/p q.png", &e), IOTD_OK);
    int64_t size = -1;
    ck_assert_int_eq(iotd_s3_head(s3, "images/p q.png", &size, &e), IOTD_OK);
    ck_assert_int_gt(size, 0);
    ck_assert_int_eq(iotd_s3_head_bucket(s3, &e), IOTD_OK);
    iotd_s3_free(s3);
    iotd_buf_free(&body);
    iotd_buf_free(&path);
}
END_TEST

static long status_count(void)
{
    char body[32];
    ck_assert_int_eq(http_fixture_get(&fixture, "/count/status", body, sizeof body), 200);
    return atol(body);
}

/* The fixture answers /status/CODE/S3CODE/... with that error: the status is
 * part of the endpoint and the S3 code is the "bucket". */
static void expect_status(int status, const char *code, int want_rc, long want_attempts)
{
    char endpoint[128], message[64];
    snprintf(endpoint, sizeof endpoint, "%s/status/%d", fixture.base, status);
    iotd_s3_config c = config(endpoint, code, "us-east-1");
    iotd_s3 *s3 = client(&c, "AKIDTEST", "test-secret", NULL);
    iotd_buf body = IOTD_BUF_INIT;
    iotd_s3_error e;
    long before = status_count();
    ck_assert_int_eq(iotd_s3_get(s3, "k", 1024, &body, &e), want_rc);
    ck_assert_int_eq(status_count() - before, want_attempts);
    ck_assert_int_eq(e.http_status, status);
    ck_assert_str_eq(e.code, code);
    snprintf(message, sizeof message, "fixture says %s", code);
    ck_assert_str_eq(e.message, message);
    iotd_s3_free(s3);
    iotd_buf_free(&body);
}

START_TEST(test_errors_and_retries)
{
    expect_status(503, "SlowDown", IOTD_AGAIN, 3);
    expect_status(500, "InternalError", IOTD_ERROR, 3);
    expect_status(403, "AccessDenied", IOTD_ERROR, 1);
    expect_status(403, "SignatureDoesNotMatch", IOTD_ERROR, 1);
    expect_status(404, "NoSuchKey", IOTD_DECLINED, 1);
    expect_status(400, "InvalidArgument", IOTD_ERROR, 1);
}
END_TEST

START_TEST(test_list_pages)
{
    char endpoint[128], body[32];
    snprintf(endpoint, sizeof endpoint, "%s/list", fixture.base);
    iotd_s3_config c = config(endpoint, "bkt", "us-east-1");
    iotd_s3 *s3 = client(&c, "AKIDTEST", "test-secret", NULL);
    iotd_s3_listing l;
    iotd_s3_listing_init(&l);
    iotd_s3_error e;
    ck_assert_int_eq(http_fixture_get(&fixture, "/count/list", body, sizeof body), 200);
    long before = atol(body);
    ck_assert_int_eq(iotd_s3_list(s3, "images/x y+", &l, &e), IOTD_OK);
    ck_assert_int_eq(http_fixture_get(&fixture, "/count/list", body, sizeof body), 200);
    ck_assert_int_eq(atol(body) - before, 2);
    ck_assert_uint_eq(l.len, 2);
    ck_assert_str_eq(l.items[0].key, "images/x y+a");
    ck_assert_str_eq(l.items[1].key, "images/x y+b");
    ck_assert_int_eq(l.items[1].size, 2);
    iotd_s3_listing_free(&l);
    iotd_s3_free(s3);
}
END_TEST

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

START_TEST(test_unreachable)
{
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", closed_port());
    iotd_s3_config c = config(endpoint, "bkt", "us-east-1");
    iotd_s3 *s3 = client(&c, "AKIDTEST", "test-secret", NULL);
    iotd_s3_error e;
    ck_assert_int_eq(iotd_s3_head_bucket(s3, &e), IOTD_AGAIN);
    ck_assert_str_eq(e.code, "Unreachable");
    ck_assert_int_eq(e.http_status, 0);
    iotd_s3_free(s3);
}
END_TEST

/* ---- live ---------------------------------------------------------------- */

typedef struct live_env {
    const char *endpoint, *bucket, *id, *secret, *token, *region;
} live_env;

static live_env live;

static iotd_s3 *live_client(const char *secret)
{
    iotd_s3_config c = config(live.endpoint, live.bucket, live.region);
    return client(&c, live.id, secret, live.token);
}

/* A fresh prefix per run so parallel runs and leftovers do not collide. */
static void run_prefix(iotd_buf *out)
{
    iotd_s3_config c = config("", "b", "us-east-1");
    snprintf(c.prefix, sizeof c.prefix, "check_s3/");
    ck_assert_int_eq(iotd_s3_make_key(&c, "run", out), IOTD_OK);
    iotd_buf_putc(out, '/');
}

START_TEST(test_live_round_trips)
{
    iotd_s3 *s3 = live_client(live.secret);
    iotd_s3_error e;
    ck_assert_msg(iotd_s3_head_bucket(s3, &e) == IOTD_OK, "HeadBucket: %ld %s %s", e.http_status, e.code,
                  e.message);
    iotd_buf prefix = IOTD_BUF_INIT, key = IOTD_BUF_INIT, got = IOTD_BUF_INIT, content = IOTD_BUF_INIT;
    run_prefix(&prefix);
    for (size_t i = 0; i < IOTD_ARRAY_LEN(tricky_keys); i++) {
        iotd_buf_reset(&key);
        iotd_buf_printf(&key, "%s%s", prefix.data, tricky_keys[i]);
        iotd_buf_reset(&content);
        iotd_buf_printf(&content, "content of %s", tricky_keys[i]);
        iotd_buf_append(&content, "\0\x01\xff", 3);
        ck_assert_msg(iotd_s3_put(s3, key.data, content.data, content.len, "text/plain", &e) == IOTD_OK,
                      "PUT %s: %ld %s %s", key.data, e.http_status, e.code, e.message);
        int64_t size = -1;
        ck_assert_int_eq(iotd_s3_head(s3, key.data, &size, &e), IOTD_OK);
        ck_assert_int_eq(size, (int64_t)content.len);
        ck_assert_int_eq(iotd_s3_get(s3, key.data, 1 << 20, &got, &e), IOTD_OK);
        ck_assert_uint_eq(got.len, content.len);
        ck_assert_mem_eq(got.data, content.data, content.len);
    }
    iotd_s3_listing l;
    iotd_s3_listing_init(&l);
    ck_assert_int_eq(iotd_s3_list(s3, prefix.data, &l, &e), IOTD_OK);
    ck_assert_uint_eq(l.len, IOTD_ARRAY_LEN(tricky_keys));
    for (size_t i = 0; i < IOTD_ARRAY_LEN(tricky_keys); i++) {
        int found = 0;
        for (size_t j = 0; j < l.len; j++)
            if (strcmp(l.items[j].key + prefix.len, tricky_keys[i]) == 0) {
                found = 1;
                ck_assert_int_gt(l.items[j].size, 0);
                ck_assert_int_gt(l.items[j].last_modified, time(NULL) - 3600);
            }
        ck_assert_msg(found, "%s not listed", tricky_keys[i]);
    }
    iotd_s3_listing_free(&l);
    for (size_t i = 0; i < IOTD_ARRAY_LEN(tricky_keys); i++) {
        iotd_buf_reset(&key);
        iotd_buf_printf(&key, "%s%s", prefix.data, tricky_keys[i]);
        ck_assert_int_eq(iotd_s3_delete(s3, key.data, &e), IOTD_OK);
        ck_assert_int_eq(iotd_s3_head(s3, key.data, NULL, &e), IOTD_DECLINED);
        ck_assert_int_eq(iotd_s3_get(s3, key.data, 1024, &got, &e), IOTD_DECLINED);
        ck_assert_msg(strcmp(e.code, "NoSuchKey") == 0, "GET %s after DELETE: %s", key.data, e.code);
    }
    iotd_s3_listing_init(&l);
    ck_assert_int_eq(iotd_s3_list(s3, prefix.data, &l, &e), IOTD_OK);
    ck_assert_uint_eq(l.len, 0);
    iotd_s3_listing_free(&l);
    iotd_s3_free(s3);
    iotd_buf_free(&prefix);
    iotd_buf_free(&key);
    iotd_buf_free(&got);
    iotd_buf_free(&content);
}
END_TEST

static size_t to_buf(char *data, size_t size, size_t n, void *userdata)
{
    return iotd_buf_append(userdata, data, size * n) == IOTD_OK ? size * n : 0;
}

/* A plain, unsigned GET, as a browser would make it. */
static long fetch(const char *url, iotd_buf *out)
{
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    iotd_buf_reset(out);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    long status = 0;
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

START_TEST(test_live_presigned)
{
    iotd_s3 *s3 = live_client(live.secret);
    iotd_s3_error e;
    iotd_buf prefix = IOTD_BUF_INIT, key = IOTD_BUF_INIT, url = IOTD_BUF_INIT, got = IOTD_BUF_INIT;
    run_prefix(&prefix);
    iotd_buf_printf(&key, "%sp r+e%%s~\xc3\xa9.bin", prefix.data);
    unsigned char bytes[3000];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i * 7 + 3);
    ck_assert_int_eq(iotd_s3_put(s3, key.data, bytes, sizeof bytes, "application/octet-stream", &e), IOTD_OK);

    ck_assert_int_eq(iotd_s3_presign_get(s3, key.data, time(NULL), &url), IOTD_OK);
    ck_assert_int_eq(fetch(url.data, &got), 200);
    ck_assert_uint_eq(got.len, sizeof bytes);
    ck_assert_mem_eq(got.data, bytes, sizeof bytes);

    /* one signature character changed: refused */
    char *last = url.data + url.len - 1;
    *last = *last == '0' ? '1' : '0';
    ck_assert_int_eq(fetch(url.data, &got), 403);

    /* signed two hours ago for one minute: expired, refused */
    ck_assert_int_eq(iotd_s3_presign_get_at(s3, key.data, time(NULL) - 7200, 60, &url), IOTD_OK);
    ck_assert_int_eq(fetch(url.data, &got), 403);
    /* the same with a lifetime covering now: accepted */
    ck_assert_int_eq(iotd_s3_presign_get_at(s3, key.data, time(NULL) - 7200, 10800, &url), IOTD_OK);
    ck_assert_int_eq(fetch(url.data, &got), 200);

    ck_assert_int_eq(iotd_s3_delete(s3, key.data, &e), IOTD_OK);
    iotd_s3_free(s3);
    iotd_buf_free(&prefix);
    iotd_buf_free(&key);
    iotd_buf_free(&url);
    iotd_buf_free(&got);
}
END_TEST

START_TEST(test_live_large_object)
{
    /* over 1 MiB, where libcurl switches to Expect: 100-continue */
    iotd_s3 *s3 = live_client(live.secret);
    iotd_s3_error e;
    iotd_buf prefix = IOTD_BUF_INIT, key = IOTD_BUF_INIT, got = IOTD_BUF_INIT;
    run_prefix(&prefix);
    iotd_buf_printf(&key, "%sbig.bin", prefix.data);
    size_t n = 3 * 1024 * 1024 + 17;
    unsigned char *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i ^ (i >> 8));
    ck_assert_msg(iotd_s3_put(s3, key.data, data, n, "application/octet-stream", &e) == IOTD_OK,
                  "PUT: %ld %s %s", e.http_status, e.code, e.message);
    ck_assert_int_eq(iotd_s3_get(s3, key.data, n, &got, &e), IOTD_OK);
    ck_assert_uint_eq(got.len, n);
    ck_assert_mem_eq(got.data, data, n);
    ck_assert_int_eq(iotd_s3_get(s3, key.data, n - 1, &got, &e), IOTD_ERROR);
    ck_assert_str_eq(e.code, "TooLarge");
    ck_assert_int_eq(iotd_s3_delete(s3, key.data, &e), IOTD_OK);
    free(data);
    iotd_s3_free(s3);
    iotd_buf_free(&prefix);
    iotd_buf_free(&key);
    iotd_buf_free(&got);
}
END_TEST

/* PUT from a spool (read in pieces, its own hash) and GET into one. */
START_TEST(test_live_spool_round_trip)
{
    iotd_s3 *s3 = live_client(live.secret);
    iotd_s3_error e;
    iotd_buf prefix = IOTD_BUF_INIT, key = IOTD_BUF_INIT;
    run_prefix(&prefix);
    iotd_buf_printf(&key, "%sspooled.bin", prefix.data);
    size_t n = 5 * 1024 * 1024 + 3;
    unsigned char *data = malloc(n), *back = malloc(n);
    ck_assert(data && back);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 ^ (i >> 9));
    iotd_spool up = IOTD_SPOOL_INIT, down = IOTD_SPOOL_INIT;
    ck_assert_int_eq(iotd_spool_open(&up, "/tmp", 0), IOTD_OK);
    ck_assert_int_eq(iotd_spool_write(&up, data, n), IOTD_OK);
    /* not finished yet: refused, nothing sent */
    ck_assert_int_eq(iotd_s3_put_spool(s3, key.data, &up, "application/octet-stream", &e), IOTD_ERROR);
    ck_assert_int_eq(iotd_spool_finish(&up), IOTD_OK);
    ck_assert_msg(iotd_s3_put_spool(s3, key.data, &up, "application/octet-stream", &e) == IOTD_OK,
                  "PUT: %ld %s %s", e.http_status, e.code, e.message);
    ck_assert_int_eq(iotd_spool_open(&down, "/tmp", n), IOTD_OK);
    ck_assert_int_eq(iotd_s3_get_spool(s3, key.data, &down, &e), IOTD_OK);
    ck_assert_uint_eq(down.len, n);
    ck_assert_str_eq(down.sha256_hex, up.sha256_hex);
    ck_assert_int_eq(iotd_spool_pread(&down, back, n, 0), (long)n);
    ck_assert_mem_eq(back, data, n);
    iotd_spool_close(&down);
    /* a spool whose limit is below the object: TooLarge */
    ck_assert_int_eq(iotd_spool_open(&down, "/tmp", n - 1), IOTD_OK);
    ck_assert_int_eq(iotd_s3_get_spool(s3, key.data, &down, &e), IOTD_ERROR);
    ck_assert_str_eq(e.code, "TooLarge");
    iotd_spool_close(&down);
    /* a spool whose hash does not match its bytes is refused by S3 */
    iotd_spool lying = up;
    lying.sha256_hex[0] = lying.sha256_hex[0] == '0' ? '1' : '0';
    ck_assert_int_ne(iotd_s3_put_spool(s3, key.data, &lying, "application/octet-stream", &e), IOTD_OK);
    ck_assert_int_eq(iotd_s3_delete(s3, key.data, &e), IOTD_OK);
    iotd_spool_close(&up);
    free(data);
    free(back);
    iotd_s3_free(s3);
    iotd_buf_free(&prefix);
    iotd_buf_free(&key);
}
END_TEST

START_TEST(test_live_wrong_secret)
{
    iotd_s3 *s3 = live_client("not-the-secret");
    iotd_s3_error e;
    iotd_buf got = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_s3_get(s3, "check_s3/any-key", 1024, &got, &e), IOTD_ERROR);
    ck_assert_int_eq(e.http_status, 403);
    ck_assert_msg(strcmp(e.code, "SignatureDoesNotMatch") == 0 || strcmp(e.code, "AccessDenied") == 0,
                  "code %s", e.code);
    ck_assert_int_eq(iotd_s3_put(s3, "check_s3/any-key", "x", 1, "text/plain", &e), IOTD_ERROR);
    ck_assert_int_eq(e.http_status, 403);
    iotd_s3_free(s3);
    iotd_buf_free(&got);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("s3");
    TCase *unit = tcase_create("unit");
    tcase_add_test(unit, test_locations);
    tcase_add_test(unit, test_parse_error);
    tcase_add_test(unit, test_parse_list);
    tcase_add_test(unit, test_make_key);
    tcase_add_test(unit, test_presign_stable_window);
    suite_add_tcase(s, unit);

    int have_fixture = http_fixture_start(&fixture) == 0;
    if (have_fixture) {
        TCase *fx = tcase_create("fixture");
        tcase_add_test(fx, test_curl_signature_verifies);
        tcase_add_test(fx, test_errors_and_retries);
        tcase_add_test(fx, test_unreachable);
        tcase_add_test(fx, test_list_pages);
        suite_add_tcase(s, fx);
    } else {
        fprintf(stderr,
                "check_s3: /usr/bin/python3 or tests/http_fixture.py missing; fixture tests skipped\n");
    }

    live.endpoint = getenv("IOTD_TEST_S3_ENDPOINT");
    live.bucket = getenv("IOTD_TEST_S3_BUCKET");
    if (!live.endpoint && !live.bucket) {
        /* ./dev check exports the app's own settings for its local S3; only an
         * explicit endpoint (never AWS itself) is used this way */
        live.endpoint = getenv("IOTD_S3_ENDPOINT");
        live.bucket = getenv("IOTD_S3_BUCKET");
        if (live.endpoint && !live.endpoint[0])
            live.endpoint = NULL;
    }
    live.id = getenv("AWS_ACCESS_KEY_ID");
    live.secret = getenv("AWS_SECRET_ACCESS_KEY");
    live.token = getenv("AWS_SESSION_TOKEN");
    live.region = getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1";
    if (live.endpoint && live.bucket && live.id && live.secret && live.bucket[0]) {
        TCase *tc = tcase_create("live");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_live_round_trips);
        tcase_add_test(tc, test_live_presigned);
        tcase_add_test(tc, test_live_large_object);
        tcase_add_test(tc, test_live_spool_round_trip);
        tcase_add_test(tc, test_live_wrong_secret);
        suite_add_tcase(s, tc);
    } else {
        fprintf(stderr, "check_s3: live S3 tests skipped (set IOTD_TEST_S3_ENDPOINT, IOTD_TEST_S3_BUCKET, "
                        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; ./dev check does)\n");
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (have_fixture)
        http_fixture_stop(&fixture);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
