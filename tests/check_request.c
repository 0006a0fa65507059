/* check_request.c — unit tests for building a request from FastCGI parameters. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "iotd.h"
#include "request.h"

static iotd_arena *arena;

static void setup(void)
{
    arena = iotd_arena_new(4096);
    ck_assert_ptr_nonnull(arena);
}

static void teardown(void)
{
    iotd_arena_destroy(arena);
}

/* A request as nginx's fastcgi_params sends it. */
static char *full_env[] = {
    "QUERY_STRING=page=2&tag=sea+side&tag=sky",
    "REQUEST_METHOD=POST",
    "CONTENT_TYPE=application/x-www-form-urlencoded; charset=UTF-8",
    "CONTENT_LENGTH=27",
    "SCRIPT_NAME=/images/caf%C3%A9",
    "REQUEST_URI=/images/caf%C3%A9%20au%2Blait?page=2&tag=sea+side&tag=sky",
    "DOCUMENT_URI=/images/café au+lait",
    "REQUEST_ID=0f3c2a9b8d7e6f5a4b3c2d1e0f9a8b7c",
    "REMOTE_ADDR=203.0.113.9",
    "HTTPS=",
    "HTTP_HOST=iotd.example.com",
    "HTTP_USER_AGENT=Mozilla/5.0 (X11)",
    "HTTP_COOKIE=iotd_session=s3cr3t; theme=dark",
    "HTTP_ORIGIN=https://iotd.example.com",
    "HTTP_REFERER=https://iotd.example.com/admin",
    "HTTP_IF_NONE_MATCH=\"abc\"",
    "HTTP_X_FORWARDED_PROTO=https",
    "HTTP_X_CUSTOM_THING=yes",
    NULL,
};

START_TEST(test_full_request)
{
    iotd_request r;
    ck_assert_int_eq(iotd_request_init(&r, arena, full_env), IOTD_OK);
    ck_assert_ptr_eq(r.arena, arena);
    ck_assert_str_eq(r.method, "POST");
    ck_assert_str_eq(r.path, "/images/café au+lait");
    ck_assert_str_eq(r.raw_query, "page=2&tag=sea+side&tag=sky");
    ck_assert_uint_eq(r.query.count, 3);
    ck_assert_str_eq(iotd_kv_get(&r.query, "page"), "2");
    ck_assert_str_eq(iotd_kv_get(&r.query, "tag"), "sea side");
    ck_assert_str_eq(r.query.items[2].value, "sky");
    ck_assert_str_eq(r.request_id, "0f3c2a9b8d7e6f5a4b3c2d1e0f9a8b7c");
    ck_assert_str_eq(r.remote_addr, "203.0.113.9");
    ck_assert_str_eq(r.host, "iotd.example.com");
    ck_assert_str_eq(r.forwarded_proto, "https");
    ck_assert_str_eq(r.content_type, "application/x-www-form-urlencoded; charset=UTF-8");
    ck_assert_str_eq(r.origin, "https://iotd.example.com");
    ck_assert_str_eq(r.referer, "https://iotd.example.com/admin");
    ck_assert_str_eq(r.user_agent, "Mozilla/5.0 (X11)");
    ck_assert_str_eq(r.if_none_match, "\"abc\"");
    ck_assert_int_eq(r.content_length, 27);
    ck_assert_uint_eq(r.cookies.count, 2);
    ck_assert_str_eq(iotd_kv_get(&r.cookies, "iotd_session"), "s3cr3t");
    ck_assert_str_eq(iotd_kv_get(&r.cookies, "theme"), "dark");
    ck_assert_int_eq(r.is_https, 1);
    ck_assert_ptr_null(r.error);

    ck_assert_str_eq(iotd_request_param(&r, "SCRIPT_NAME"), "/images/caf%C3%A9");
    ck_assert_str_eq(iotd_request_param(&r, "HTTPS"), "");
    ck_assert_ptr_null(iotd_request_param(&r, "SCRIPT"));
    ck_assert_ptr_null(iotd_request_param(&r, "NOPE"));
    ck_assert_str_eq(iotd_request_header(&r, "Content-Type"),
                     "application/x-www-form-urlencoded; charset=UTF-8");
    ck_assert_str_eq(iotd_request_header(&r, "content-length"), "27");
    ck_assert_str_eq(iotd_request_header(&r, "X-Custom-Thing"), "yes");
    ck_assert_str_eq(iotd_request_header(&r, "user-agent"), "Mozilla/5.0 (X11)");
    ck_assert_ptr_null(iotd_request_header(&r, "X-Missing"));
    ck_assert_ptr_null(iotd_request_header(&r, "X Custom"));
    ck_assert_ptr_null(iotd_request_header(&r, ""));
    char longname[100];
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_ptr_null(iotd_request_header(&r, longname));

    ck_assert_int_eq(iotd_media_type_is(r.content_type, "application/x-www-form-urlencoded"), 1);
    ck_assert_int_eq(iotd_media_type_is("Multipart/Form-Data ; boundary=x", "multipart/form-data"), 1);
    ck_assert_int_eq(iotd_media_type_is("multipart/form-datax", "multipart/form-data"), 0);
    ck_assert_int_eq(iotd_media_type_is(NULL, "text/plain"), 0);

    iotd_kvlist form;
    const char *body = "name=Sunset&tagline=a+b%21";
    ck_assert_int_eq(iotd_request_parse_form(&r, body, strlen(body), &form), IOTD_OK);
    ck_assert_str_eq(iotd_kv_get(&form, "tagline"), "a b!");
    ck_assert_int_eq(iotd_request_parse_form(&r, "x=%zz", 5, &form), IOTD_ERROR);
    ck_assert_int_eq(r.error_status, 400);
    ck_assert_int_eq(iotd_request_parse_form(&r, body, IOTD_MAX_FORM_BYTES + 1, &form), IOTD_ERROR);
    ck_assert_int_eq(r.error_status, 413);
}
END_TEST

START_TEST(test_minimal_request)
{
    char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", NULL};
    iotd_request r;
    ck_assert_int_eq(iotd_request_init(&r, arena, env), IOTD_OK);
    ck_assert_str_eq(r.method, "GET");
    ck_assert_str_eq(r.path, "/");
    ck_assert_str_eq(r.raw_query, "");
    ck_assert_uint_eq(r.query.count, 0);
    ck_assert_uint_eq(r.cookies.count, 0);
    ck_assert_int_eq(r.content_length, -1);
    ck_assert_ptr_null(r.host);
    ck_assert_ptr_null(r.content_type);
    ck_assert_ptr_null(r.origin);
    ck_assert_ptr_null(r.referer);
    ck_assert_ptr_null(r.user_agent);
    ck_assert_ptr_null(r.if_none_match);
    ck_assert_ptr_null(r.remote_addr);
    ck_assert_ptr_null(r.forwarded_proto);
    ck_assert_int_eq(r.is_https, 0);
    /* generated request id: 32 lower-case hex digits, different each time */
    ck_assert_uint_eq(strlen(r.request_id), 32);
    ck_assert_uint_eq(strspn(r.request_id, "0123456789abcdef"), 32);
    iotd_request r2;
    ck_assert_int_eq(iotd_request_init(&r2, arena, env), IOTD_OK);
    ck_assert_str_ne(r.request_id, r2.request_id);
    ck_assert_ptr_null(iotd_request_param(&r, "ANY"));
}
END_TEST

START_TEST(test_query_from_uri_and_fallbacks)
{
    iotd_request r;
    /* no QUERY_STRING: taken from REQUEST_URI (fragment dropped) */
    char *env1[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/feed?n=5&q=a%20b#frag", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, env1), IOTD_OK);
    ck_assert_str_eq(r.path, "/feed");
    ck_assert_str_eq(r.raw_query, "n=5&q=a%20b");
    ck_assert_str_eq(iotd_kv_get(&r.query, "q"), "a b");

    /* no REQUEST_URI: DOCUMENT_URI is nginx's decoded $uri, used without decoding again */
    char *env2[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=/a/%25/b", "QUERY_STRING=", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, env2), IOTD_OK);
    ck_assert_str_eq(r.path, "/a/%25/b");
    ck_assert_uint_eq(r.query.count, 0);

    /* absolute-form target */
    char *env3[] = {"REQUEST_METHOD=GET", "REQUEST_URI=http://iotd.example.com/x/y?z=1", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, env3), IOTD_OK);
    ck_assert_str_eq(r.path, "/x/y");
    ck_assert_str_eq(iotd_kv_get(&r.query, "z"), "1");
    char *env4[] = {"REQUEST_METHOD=GET", "REQUEST_URI=HTTPS://iotd.example.com", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, env4), IOTD_OK);
    ck_assert_str_eq(r.path, "/");

    /* "." segments and "..." are not traversal */
    char *env5[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a/./..../...b/..c/d..", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, env5), IOTD_OK);
    ck_assert_str_eq(r.path, "/a/./..../...b/..c/d..");

    /* entries without '=' are ignored; a name is not matched by its prefix */
    char *env6[] = {"REQUEST_METHOD", "REQUEST_METHODX=PUT", "REQUEST_METHOD=GET", "REQUEST_URI=/", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, env6), IOTD_OK);
    ck_assert_str_eq(r.method, "GET");
}
END_TEST

static void expect_error(char **env, int status, const char *why)
{
    iotd_request r;
    iotd_arena_reset(arena);
    ck_assert_int_eq(iotd_request_init(&r, arena, env), IOTD_ERROR);
    ck_assert_int_eq(r.error_status, status);
    ck_assert_ptr_nonnull(r.error);
    ck_assert_str_eq(r.error, why);
}

START_TEST(test_missing_params)
{
    char *no_method[] = {"REQUEST_URI=/", NULL};
    expect_error(no_method, 400, "missing request method");
    char *empty_method[] = {"REQUEST_METHOD=", "REQUEST_URI=/", NULL};
    expect_error(empty_method, 400, "missing request method");
    char *no_path[] = {"REQUEST_METHOD=GET", NULL};
    expect_error(no_path, 400, "missing request path");
    char *nothing[] = {NULL};
    expect_error(nothing, 400, "missing request method");
    iotd_request r;
    ck_assert_int_eq(iotd_request_init(&r, arena, NULL), IOTD_ERROR);
}
END_TEST

START_TEST(test_bad_method)
{
    char *lower[] = {"REQUEST_METHOD=get", "REQUEST_URI=/", NULL};
    expect_error(lower, 400, "invalid request method");
    char *space[] = {"REQUEST_METHOD=GET /", "REQUEST_URI=/", NULL};
    expect_error(space, 400, "invalid request method");
    char *longm[] = {"REQUEST_METHOD=ABCDEFGHIJKLMNOPQ", "REQUEST_URI=/", NULL};
    expect_error(longm, 400, "request method too long");
}
END_TEST

START_TEST(test_bad_paths)
{
    char *nul[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a%00b", NULL};
    expect_error(nul, 400, "NUL byte in request path");
    char *dotdot[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a/../etc/passwd", NULL};
    expect_error(dotdot, 400, "invalid request path");
    char *enc_dotdot[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a/%2e%2E/b", NULL};
    expect_error(enc_dotdot, 400, "invalid request path");
    char *slash_dotdot[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a%2F..%2Fb", NULL};
    expect_error(slash_dotdot, 400, "invalid request path");
    char *trailing[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a/..", NULL};
    expect_error(trailing, 400, "invalid request path");
    char *first[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/..", NULL};
    expect_error(first, 400, "invalid request path");
    char *ctl[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a%0d%0aSet-Cookie:x", NULL};
    expect_error(ctl, 400, "invalid request path");
    char *esc[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a%1b[0m", NULL};
    expect_error(esc, 400, "invalid request path");
    char *del[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a%7F", NULL};
    expect_error(del, 400, "invalid request path");
    char *doc_ctl[] = {"REQUEST_METHOD=GET",
                       "DOCUMENT_URI=/a\x1f"
                       "b",
                       NULL};
    expect_error(doc_ctl, 400, "invalid request path");
    char *bad_escape[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a%zz", NULL};
    expect_error(bad_escape, 400, "invalid percent-escape in request path");
    char *relative[] = {"REQUEST_METHOD=GET", "REQUEST_URI=a/b", NULL};
    expect_error(relative, 400, "request target is not a path");
    char *star[] = {"REQUEST_METHOD=OPTIONS", "REQUEST_URI=*", NULL};
    expect_error(star, 400, "request target is not a path");
    char *doc_dotdot[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=/x/../y", NULL};
    expect_error(doc_dotdot, 400, "invalid request path");
    char *doc_relative[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=x", NULL};
    expect_error(doc_relative, 400, "invalid request path");
    char *doc_empty[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=", NULL};
    expect_error(doc_empty, 400, "invalid request path");
    char *encoded_query_nul[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "QUERY_STRING=a%00=1", NULL};
    expect_error(encoded_query_nul, 400, "NUL byte in parameter name");
    char *bad_query[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "QUERY_STRING=a=%", NULL};
    expect_error(bad_query, 400, "invalid percent-escape in parameter");
}
END_TEST

static char *make_param(const char *name, size_t len, char fill, const char *prefix)
{
    size_t nlen = strlen(name), plen = strlen(prefix);
    char *s = malloc(nlen + 1 + plen + len + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, name, nlen);
    s[nlen] = '=';
    memcpy(s + nlen + 1, prefix, plen);
    memset(s + nlen + 1 + plen, fill, len);
    s[nlen + 1 + plen + len] = '\0';
    return s;
}

START_TEST(test_limits)
{
    iotd_request r;
    /* path: exactly the limit passes, one more is 414 */
    char *path = make_param("REQUEST_URI", IOTD_MAX_PATH_BYTES - 1, 'p', "/");
    char *env[] = {"REQUEST_METHOD=GET", path, NULL, NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, env), IOTD_OK);
    ck_assert_uint_eq(strlen(r.path), IOTD_MAX_PATH_BYTES);
    free(path);
    path = make_param("REQUEST_URI", IOTD_MAX_PATH_BYTES, 'p', "/");
    env[1] = path;
    expect_error(env, 414, "request path too long");
    free(path);
    path = make_param("DOCUMENT_URI", IOTD_MAX_PATH_BYTES, 'p', "/");
    env[1] = path;
    expect_error(env, 414, "request path too long");
    free(path);

    /* query */
    env[1] = "REQUEST_URI=/";
    char *q = make_param("QUERY_STRING", IOTD_MAX_QUERY_BYTES, 'q', "");
    env[2] = q;
    ck_assert_int_eq(iotd_request_init(&r, arena, env), IOTD_OK);
    ck_assert_uint_eq(strlen(r.raw_query), IOTD_MAX_QUERY_BYTES);
    free(q);
    q = make_param("QUERY_STRING", IOTD_MAX_QUERY_BYTES + 1, 'q', "");
    env[2] = q;
    expect_error(env, 414, "query string too long");
    free(q);
    q = make_param("REQUEST_URI", IOTD_MAX_QUERY_BYTES + 1, 'q', "/?");
    env[1] = q;
    env[2] = NULL;
    expect_error(env, 414, "query string too long");
    free(q);

    /* too many query parameters */
    char many[IOTD_MAX_PARAMS * 4 + 32] = "QUERY_STRING=";
    for (int i = 0; i <= IOTD_MAX_PARAMS; i++)
        strcat(many, "a=1&");
    env[1] = "REQUEST_URI=/";
    env[2] = many;
    expect_error(env, 400, "too many parameters");

    /* cookie header */
    char *cookie = make_param("HTTP_COOKIE", IOTD_MAX_COOKIE_BYTES - 1, 'c', "k=");
    env[2] = cookie;
    expect_error(env, 431, "Cookie header too long");
    free(cookie);

    /* any other header we keep */
    char *ua = make_param("HTTP_USER_AGENT", IOTD_MAX_HEADER_BYTES + 1, 'u', "");
    env[2] = ua;
    expect_error(env, 431, "User-Agent header too long");
    free(ua);
}
END_TEST

START_TEST(test_host_and_content_length)
{
    char *bad_host[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_HOST=evil.com/x", NULL};
    expect_error(bad_host, 400, "invalid Host header");
    char *crlf_host[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_HOST=a\r\nb", NULL};
    expect_error(crlf_host, 400, "invalid Host header");
    char *empty_host[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_HOST=", NULL};
    expect_error(empty_host, 400, "invalid Host header");
    iotd_request r;
    char *v6_host[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_HOST=[::1]:8080", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, v6_host), IOTD_OK);
    ck_assert_str_eq(r.host, "[::1]:8080");

    char *neg[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/", "CONTENT_LENGTH=-1", NULL};
    expect_error(neg, 400, "invalid Content-Length");
    char *junk[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/", "CONTENT_LENGTH=12abc", NULL};
    expect_error(junk, 400, "invalid Content-Length");
    char *huge[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/", "CONTENT_LENGTH=9999999999999999999", NULL};
    expect_error(huge, 400, "invalid Content-Length");
    char *empty[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "CONTENT_LENGTH=", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, empty), IOTD_OK);
    ck_assert_int_eq(r.content_length, -1);
    char *zero[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/", "CONTENT_LENGTH=0", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, zero), IOTD_OK);
    ck_assert_int_eq(r.content_length, 0);
    char *big[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/", "CONTENT_LENGTH=999999999999999999", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, big), IOTD_OK);
    ck_assert_int_eq(r.content_length, 999999999999999999LL);
}
END_TEST

START_TEST(test_https_detection)
{
    iotd_request r;
    char *on[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTPS=on", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, on), IOTD_OK);
    ck_assert_int_eq(r.is_https, 1);
    char *on_upper[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTPS=ON", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, on_upper), IOTD_OK);
    ck_assert_int_eq(r.is_https, 1);
    char *off[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTPS=", "HTTP_X_FORWARDED_PROTO=http", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, off), IOTD_OK);
    ck_assert_int_eq(r.is_https, 0);
    char *xfp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_X_FORWARDED_PROTO=HTTPS", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, xfp), IOTD_OK);
    ck_assert_int_eq(r.is_https, 1);
    /* a list: the last element was added by the nearest proxy */
    char *chain[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_X_FORWARDED_PROTO=http, https ", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, chain), IOTD_OK);
    ck_assert_int_eq(r.is_https, 1);
    char *spoof[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_X_FORWARDED_PROTO=https,http", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, spoof), IOTD_OK);
    ck_assert_int_eq(r.is_https, 0);
    char *prefix[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_X_FORWARDED_PROTO=httpsx", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, prefix), IOTD_OK);
    ck_assert_int_eq(r.is_https, 0);
}
END_TEST

START_TEST(test_request_id)
{
    iotd_request r;
    char *bad[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "REQUEST_ID=abc\r\nX-Injected: 1", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, bad), IOTD_OK);
    ck_assert_uint_eq(strlen(r.request_id), 32);
    ck_assert_uint_eq(strspn(r.request_id, "0123456789abcdef"), 32);
    char *empty[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "REQUEST_ID=", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, empty), IOTD_OK);
    ck_assert_uint_eq(strlen(r.request_id), 32);
    char *good[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "REQUEST_ID=req-1.A_b", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, good), IOTD_OK);
    ck_assert_str_eq(r.request_id, "req-1.A_b");
    char *toolong = make_param("REQUEST_ID", IOTD_MAX_REQUEST_ID_CHARS + 1, 'a', "");
    char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", toolong, NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, env), IOTD_OK);
    ck_assert_uint_eq(strlen(r.request_id), 32);
    free(toolong);
}
END_TEST

START_TEST(test_form_content_type)
{
    iotd_request r;
    char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/", "CONTENT_TYPE=text/plain", NULL};
    ck_assert_int_eq(iotd_request_init(&r, arena, env), IOTD_OK);
    iotd_kvlist form;
    ck_assert_int_eq(iotd_request_parse_form(&r, "a=1", 3, &form), IOTD_ERROR);
    ck_assert_int_eq(r.error_status, 415);
    ck_assert_uint_eq(form.count, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_full_request);
    tcase_add_test(tc, test_minimal_request);
    tcase_add_test(tc, test_query_from_uri_and_fallbacks);
    tcase_add_test(tc, test_missing_params);
    tcase_add_test(tc, test_bad_method);
    tcase_add_test(tc, test_bad_paths);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_host_and_content_length);
    tcase_add_test(tc, test_https_detection);
    tcase_add_test(tc, test_request_id);
    tcase_add_test(tc, test_form_content_type);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
