/* check_buf.c — unit tests for the byte buffer and the arena. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "iotd.h"

START_TEST(test_append_and_printf)
{
    iotd_buf b;
    iotd_buf_init(&b, 0);
    ck_assert_int_eq(iotd_buf_puts(&b, "id="), IOTD_OK);
    ck_assert_int_eq(iotd_buf_printf(&b, "%d-%s", 42, "x"), IOTD_OK);
    ck_assert_str_eq(b.data, "id=42-x");
    ck_assert_uint_eq(b.len, 7);
    iotd_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq(b.data, "");
    /* a printf longer than the internal scratch space */
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(iotd_buf_printf(&b, "<%s>", big), IOTD_OK);
    ck_assert_uint_eq(b.len, 1001);
    ck_assert_int_eq(b.data[1000], '>');
    iotd_buf_free(&b);
}
END_TEST

START_TEST(test_limit)
{
    iotd_buf b;
    iotd_buf_init(&b, 8);
    ck_assert_int_eq(iotd_buf_puts(&b, "12345678"), IOTD_OK);
    ck_assert_int_eq(iotd_buf_putc(&b, '9'), IOTD_ERROR);
    ck_assert_str_eq(b.data, "12345678");
    iotd_buf_free(&b);
}
END_TEST

START_TEST(test_html_escape)
{
    iotd_buf b = IOTD_BUF_INIT;
    const char *in = "<script>alert('x&y')</script>\"`=";
    ck_assert_int_eq(iotd_buf_append_html(&b, in, strlen(in)), IOTD_OK);
    ck_assert_str_eq(b.data, "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;&quot;&#96;&#61;");
    iotd_buf_free(&b);
}
END_TEST

START_TEST(test_uri_encode)
{
    iotd_buf b = IOTD_BUF_INIT;
    const char *in = "images/a b+c%~é.jpg";
    ck_assert_int_eq(iotd_buf_append_uri(&b, in, strlen(in), 1), IOTD_OK);
    ck_assert_str_eq(b.data, "images/a%20b%2Bc%25~%C3%A9.jpg");
    iotd_buf_reset(&b);
    ck_assert_int_eq(iotd_buf_append_uri(&b, "a/b", 3, 0), IOTD_OK);
    ck_assert_str_eq(b.data, "a%2Fb");
    iotd_buf_free(&b);
}
END_TEST

START_TEST(test_hex_and_detach)
{
    iotd_buf b = IOTD_BUF_INIT;
    const unsigned char bytes[] = {0x00, 0xab, 0xff};
    ck_assert_int_eq(iotd_buf_append_hex(&b, bytes, 3), IOTD_OK);
    size_t len;
    char *s = iotd_buf_detach(&b, &len);
    ck_assert_str_eq(s, "00abff");
    ck_assert_uint_eq(len, 6);
    ck_assert_ptr_null(b.data);
    free(s);
}
END_TEST

START_TEST(test_arena)
{
    iotd_arena *a = iotd_arena_new(128);
    ck_assert_ptr_nonnull(a);
    char *s = iotd_arena_strdup(a, "hello");
    ck_assert_str_eq(s, "hello");
    char *p = iotd_arena_printf(a, "%s-%d", s, 7);
    ck_assert_str_eq(p, "hello-7");
    /* an allocation bigger than a block gets its own block */
    char *big = iotd_arena_alloc(a, 1000);
    ck_assert_ptr_nonnull(big);
    memset(big, 1, 1000);
    char *after = iotd_arena_strdup(a, "still");
    ck_assert_str_eq(after, "still");
    ck_assert_str_eq(s, "hello");
    ck_assert_uint_ge(iotd_arena_used(a), 1000);
    iotd_arena_reset(a);
    ck_assert_uint_eq(iotd_arena_used(a), 0);
    int *z = iotd_arena_calloc(a, 10, sizeof(int));
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(z[i], 0);
    ck_assert_ptr_null(iotd_arena_calloc(a, (size_t)-1, 16));
    iotd_arena_destroy(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_append_and_printf);
    tcase_add_test(tc, test_limit);
    tcase_add_test(tc, test_html_escape);
    tcase_add_test(tc, test_uri_encode);
    tcase_add_test(tc, test_hex_and_detach);
    tcase_add_test(tc, test_arena);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
