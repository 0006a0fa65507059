/* check_form.c — unit tests for percent-decoding, query strings, forms and cookies. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "form.h"
#include "iotd.h"

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

static int parse(const char *s, size_t max, iotd_kvlist *out, const char **err)
{
    return iotd_form_parse_urlencoded(arena, s, strlen(s), max, out, err);
}

START_TEST(test_percent_decode)
{
    char *out;
    size_t n;
    ck_assert_int_eq(iotd_percent_decode(arena, "a%20b+c%2b%2F%41z", 17, 1, &out, &n), IOTD_OK);
    ck_assert_str_eq(out, "a b c+/Az");
    ck_assert_uint_eq(n, 9);
    ck_assert_int_eq(iotd_percent_decode(arena, "a+b", 3, 0, &out, &n), IOTD_OK);
    ck_assert_str_eq(out, "a+b");
    ck_assert_int_eq(iotd_percent_decode(arena, "x%00y", 5, 0, &out, &n), IOTD_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(out, "x\0y", 4), 0);
    ck_assert_int_eq(iotd_percent_decode(arena, "", 0, 1, &out, &n), IOTD_OK);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(n, 0);
    /* bad escapes: short at the end, non-hex, a lone % */
    ck_assert_int_eq(iotd_percent_decode(arena, "ab%4", 4, 1, &out, &n), IOTD_ERROR);
    ck_assert_int_eq(iotd_percent_decode(arena, "ab%", 3, 1, &out, &n), IOTD_ERROR);
    ck_assert_int_eq(iotd_percent_decode(arena, "%G1", 3, 1, &out, &n), IOTD_ERROR);
    ck_assert_int_eq(iotd_percent_decode(arena, "%1g", 3, 1, &out, &n), IOTD_ERROR);
    ck_assert_int_eq(iotd_percent_decode(arena, "% 41", 4, 1, &out, &n), IOTD_ERROR);
    /* the length is honoured: the escape past len is not read */
    ck_assert_int_eq(iotd_percent_decode(arena, "ab%41", 3, 1, &out, &n), IOTD_ERROR);
    ck_assert_int_eq(iotd_percent_decode(arena, "ab%41", 4, 1, &out, &n), IOTD_ERROR);
    ck_assert_int_eq(iotd_percent_decode(arena, "ab%41", 2, 1, &out, &n), IOTD_OK);
    ck_assert_str_eq(out, "ab");
    /* a heap copy of exactly len bytes, so a read past the end shows under ASan */
    char *exact = malloc(4);
    ck_assert_ptr_nonnull(exact);
    memcpy(exact, "a=%4", 4);
    iotd_kvlist l;
    ck_assert_int_eq(iotd_form_parse_urlencoded(arena, exact, 4, 4, &l, NULL), IOTD_ERROR);
    memcpy(exact, "a=%", 3);
    ck_assert_int_eq(iotd_form_parse_urlencoded(arena, exact, 3, 4, &l, NULL), IOTD_ERROR);
    free(exact);
}
END_TEST

START_TEST(test_query_empty)
{
    iotd_kvlist l;
    const char *err = NULL;
    ck_assert_int_eq(parse("", 8, &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 0);
    ck_assert_ptr_null(iotd_kv_get(&l, "a"));
    ck_assert_int_eq(parse("&&&", 8, &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 0);
    ck_assert_int_eq(iotd_form_parse_urlencoded(arena, NULL, 5, 8, &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 0);
    ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_query_basic)
{
    iotd_kvlist l;
    ck_assert_int_eq(parse("a=1&b=x+y%20z&c=&flag&=anon&&d=%3D%26", 10, &l, NULL), IOTD_OK);
    ck_assert_uint_eq(l.count, 6);
    ck_assert_str_eq(l.items[0].key, "a");
    ck_assert_str_eq(l.items[0].value, "1");
    ck_assert_str_eq(l.items[1].key, "b");
    ck_assert_str_eq(l.items[1].value, "x y z");
    ck_assert_uint_eq(l.items[1].value_len, 5);
    ck_assert_str_eq(l.items[2].key, "c");
    ck_assert_str_eq(l.items[2].value, "");
    ck_assert_str_eq(l.items[3].key, "flag");
    ck_assert_str_eq(l.items[3].value, "");
    ck_assert_uint_eq(l.items[3].value_len, 0);
    ck_assert_str_eq(l.items[4].key, "");
    ck_assert_str_eq(l.items[4].value, "anon");
    ck_assert_str_eq(l.items[5].key, "d");
    ck_assert_str_eq(l.items[5].value, "=&");
    ck_assert_str_eq(iotd_kv_get(&l, "b"), "x y z");
    ck_assert_str_eq(iotd_kv_get(&l, "flag"), "");
    ck_assert_ptr_null(iotd_kv_get(&l, "B"));
    ck_assert_ptr_null(iotd_kv_get(&l, "missing"));
}
END_TEST

START_TEST(test_query_repeated_and_encoded_keys)
{
    iotd_kvlist l;
    ck_assert_int_eq(parse("tag=a&tag=b&t%61g=c&x=a=b", 8, &l, NULL), IOTD_OK);
    ck_assert_uint_eq(l.count, 4);
    ck_assert_str_eq(iotd_kv_get(&l, "tag"), "a"); /* first match */
    ck_assert_str_eq(l.items[1].value, "b");
    ck_assert_str_eq(l.items[2].key, "tag");
    ck_assert_str_eq(l.items[2].value, "c");
    ck_assert_str_eq(iotd_kv_get(&l, "x"), "a=b");
    const iotd_kv *kv = iotd_kv_find(&l, "x");
    ck_assert_ptr_nonnull(kv);
    ck_assert_uint_eq(kv->value_len, 3);
}
END_TEST

START_TEST(test_query_nul_in_value_kept_with_length)
{
    iotd_kvlist l;
    const char *err = NULL;
    ck_assert_int_eq(parse("v=a%00b", 8, &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.items[0].value_len, 3);
    ck_assert_int_eq(memcmp(l.items[0].value, "a\0b", 4), 0);
    /* a NUL in a key would make it compare as a different key: refused */
    ck_assert_int_eq(parse("k%00x=1", 8, &l, &err), IOTD_ERROR);
    ck_assert_str_eq(err, "NUL byte in parameter name");
}
END_TEST

START_TEST(test_query_invalid_escapes)
{
    static const char *bad[] = {"a=%", "a=%2", "a=%zz", "%=1", "a=1&b=%4g", "k%2=v", "a=%%41"};
    for (size_t i = 0; i < IOTD_ARRAY_LEN(bad); i++) {
        iotd_kvlist l;
        const char *err = NULL;
        ck_assert_msg(parse(bad[i], 8, &l, &err) == IOTD_ERROR, "accepted %s", bad[i]);
        ck_assert_str_eq(err, "invalid percent-escape in parameter");
    }
}
END_TEST

START_TEST(test_query_too_many_params)
{
    iotd_kvlist l;
    const char *err = NULL;
    ck_assert_int_eq(parse("a=1&b=2&c=3", 3, &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 3);
    ck_assert_int_eq(parse("a=1&b=2&c=3&d", 3, &l, &err), IOTD_ERROR);
    ck_assert_str_eq(err, "too many parameters");
    /* empty pieces do not count */
    ck_assert_int_eq(parse("&a=1&&b=2&&&c=3&", 3, &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 3);
    ck_assert_int_eq(parse("a", 0, &l, &err), IOTD_ERROR);

    /* IOTD_MAX_PARAMS exactly, then one more */
    char buf[IOTD_MAX_PARAMS * 4 + 8] = "";
    for (int i = 0; i < IOTD_MAX_PARAMS; i++)
        strcat(buf, i ? "&k=" : "k=");
    ck_assert_int_eq(parse(buf, IOTD_MAX_PARAMS, &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, IOTD_MAX_PARAMS);
    strcat(buf, "&k");
    ck_assert_int_eq(parse(buf, IOTD_MAX_PARAMS, &l, &err), IOTD_ERROR);
}
END_TEST

START_TEST(test_query_respects_length)
{
    iotd_kvlist l;
    const char *s = "a=1&b=2";
    ck_assert_int_eq(iotd_form_parse_urlencoded(arena, s, 3, 8, &l, NULL), IOTD_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].value, "1");
    /* arbitrary bytes, including NUL and high bytes, in a counted input */
    const char raw[] = {'k', '=', '\0', '\xff', '&', '\x01', '=', 'x'};
    ck_assert_int_eq(iotd_form_parse_urlencoded(arena, raw, sizeof raw, 8, &l, NULL), IOTD_OK);
    ck_assert_uint_eq(l.count, 2);
    ck_assert_uint_eq(l.items[0].value_len, 2);
    ck_assert_int_eq(memcmp(l.items[0].value, "\0\xff", 2), 0);
    ck_assert_str_eq(l.items[1].key, "\x01");
}
END_TEST

START_TEST(test_cookies)
{
    iotd_kvlist l;
    const char *err = NULL;
    ck_assert_int_eq(iotd_form_parse_cookies(arena, "sid=abc123; theme=dark;lang=en", &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 3);
    ck_assert_str_eq(iotd_kv_get(&l, "sid"), "abc123");
    ck_assert_str_eq(iotd_kv_get(&l, "theme"), "dark");
    ck_assert_str_eq(iotd_kv_get(&l, "lang"), "en");

    /* spaces around names and values, tabs, a trailing separator */
    ck_assert_int_eq(iotd_form_parse_cookies(arena, "  a = 1 ;\tb=2\t;  ", &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 2);
    ck_assert_str_eq(l.items[0].key, "a");
    ck_assert_str_eq(l.items[0].value, "1");
    ck_assert_str_eq(l.items[1].key, "b");
    ck_assert_str_eq(l.items[1].value, "2");

    /* quotes are removed once; values are not percent-decoded; '=' inside values kept */
    ck_assert_int_eq(
        iotd_form_parse_cookies(arena, "q=\"hello world\"; e=\"\"; p=a%20b; t=x=y; h=\"", &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 5);
    ck_assert_str_eq(iotd_kv_get(&l, "q"), "hello world");
    ck_assert_str_eq(iotd_kv_get(&l, "e"), "");
    ck_assert_uint_eq(iotd_kv_find(&l, "e")->value_len, 0);
    ck_assert_str_eq(iotd_kv_get(&l, "p"), "a%20b");
    ck_assert_str_eq(iotd_kv_get(&l, "t"), "x=y");
    ck_assert_str_eq(iotd_kv_get(&l, "h"), "\"");

    /* empty values, repeated names (first wins), pairs without '=' or name skipped */
    ck_assert_int_eq(iotd_form_parse_cookies(arena, "a=; a=2; junk; =v; ;b=", &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 3);
    ck_assert_str_eq(iotd_kv_get(&l, "a"), "");
    ck_assert_str_eq(l.items[1].value, "2");
    ck_assert_str_eq(iotd_kv_get(&l, "b"), "");
    ck_assert_ptr_null(iotd_kv_get(&l, "junk"));

    /* a pair with a control character is dropped, the rest kept */
    ck_assert_int_eq(iotd_form_parse_cookies(arena, "bad=a\x01z; good=1; \x7f=x", &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].key, "good");

    /* absent and empty headers */
    ck_assert_int_eq(iotd_form_parse_cookies(arena, NULL, &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 0);
    ck_assert_int_eq(iotd_form_parse_cookies(arena, "", &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 0);
    ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_cookies_limits)
{
    iotd_kvlist l;
    const char *err = NULL;
    char *big = malloc(IOTD_MAX_COOKIE_BYTES + 2);
    ck_assert_ptr_nonnull(big);
    memcpy(big, "k=", 2);
    memset(big + 2, 'v', IOTD_MAX_COOKIE_BYTES - 2);
    big[IOTD_MAX_COOKIE_BYTES] = '\0';
    ck_assert_int_eq(iotd_form_parse_cookies(arena, big, &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_uint_eq(l.items[0].value_len, IOTD_MAX_COOKIE_BYTES - 2);
    big[IOTD_MAX_COOKIE_BYTES] = 'v';
    big[IOTD_MAX_COOKIE_BYTES + 1] = '\0';
    ck_assert_int_eq(iotd_form_parse_cookies(arena, big, &l, &err), IOTD_ERROR);
    ck_assert_str_eq(err, "Cookie header too long");
    free(big);

    char many[IOTD_MAX_COOKIES * 5 + 8] = "";
    for (int i = 0; i < IOTD_MAX_COOKIES; i++)
        strcat(many, i ? "; c=1" : "c=1");
    err = NULL;
    ck_assert_int_eq(iotd_form_parse_cookies(arena, many, &l, &err), IOTD_OK);
    ck_assert_uint_eq(l.count, IOTD_MAX_COOKIES);
    strcat(many, ";d=1");
    ck_assert_int_eq(iotd_form_parse_cookies(arena, many, &l, &err), IOTD_ERROR);
    ck_assert_str_eq(err, "too many cookies");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("form");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_percent_decode);
    tcase_add_test(tc, test_query_empty);
    tcase_add_test(tc, test_query_basic);
    tcase_add_test(tc, test_query_repeated_and_encoded_keys);
    tcase_add_test(tc, test_query_nul_in_value_kept_with_length);
    tcase_add_test(tc, test_query_invalid_escapes);
    tcase_add_test(tc, test_query_too_many_params);
    tcase_add_test(tc, test_query_respects_length);
    tcase_add_test(tc, test_cookies);
    tcase_add_test(tc, test_cookies_limits);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
