/*
 * check_password.c — PBKDF2-HMAC-SHA256 password hashes in Django's format.
 *
 * Published vectors: RFC 7914 §11 lists two PBKDF2-HMAC-SHA256 outputs of
 * 64 bytes; a 32-byte key (Django's length) is their first block, so our
 * hash must carry the base64 of their first 32 bytes. The Django-format
 * hashes below were made independently with Python's hashlib:
 *
 *   import hashlib, base64
 *   pw, salt = 'correct horse battery staple \u00fc', 'yVuNpBJ7ShYEmhWJvbjA1Q'
 *   for it in (600000, 260000, 1):
 *       key = hashlib.pbkdf2_hmac('sha256', pw.encode(), salt.encode(), it)
 *       print('pbkdf2_sha256$%d$%s$%s' % (it, salt, base64.b64encode(key).decode()))
 *
 * (Django's own make_password with that salt gives the same strings.)
 */
#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "iotd.h"
#include "password.h"

#define DJANGO_PASSWORD "correct horse battery staple \xc3\xbc"
#define DJANGO_SALT "yVuNpBJ7ShYEmhWJvbjA1Q"
#define DJANGO_600000 "pbkdf2_sha256$600000$" DJANGO_SALT "$/qtfEqVKkxxSvwxKn8gVy8QJW6raWoM8/3t9cNOmZo0="
#define DJANGO_260000 "pbkdf2_sha256$260000$" DJANGO_SALT "$nvF9D/OZZt6QraaI1SHdh7gA1JTaRmgqQDZ4cZ41qco="
#define DJANGO_1 "pbkdf2_sha256$1$" DJANGO_SALT "$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI="

/* base64 of the first 32 bytes of a hex string. */
static void first_block_base64(const char *hex, char out[45])
{
    unsigned char raw[32];
    for (int i = 0; i < 32; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        raw[i] = (unsigned char)v;
    }
    ck_assert_int_eq(EVP_EncodeBlock((unsigned char *)out, raw, 32), 44);
}

static void check_rfc7914(const char *password, const char *salt, long iterations, const char *dk_hex)
{
    char expected_key[45], expected[256];
    first_block_base64(dk_hex, expected_key);
    snprintf(expected, sizeof expected, "pbkdf2_sha256$%ld$%s$%s", iterations, salt, expected_key);
    iotd_buf b = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_password_hash_with(password, salt, iterations, &b), IOTD_OK);
    ck_assert_str_eq(b.data, expected);
    ck_assert_int_eq(iotd_password_verify(password, b.data), IOTD_OK);
    iotd_buf_free(&b);
}

START_TEST(test_rfc7914_vector_1)
{
    /* RFC 7914 §11: P = "passwd", S = "salt", c = 1, dkLen = 64 */
    check_rfc7914("passwd", "salt", 1,
                  "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
                  "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}
END_TEST

START_TEST(test_rfc7914_vector_2)
{
    /* RFC 7914 §11: P = "Password", S = "NaCl", c = 80000, dkLen = 64 */
    check_rfc7914("Password", "NaCl", 80000,
                  "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
                  "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
}
END_TEST

START_TEST(test_django_hash_verifies_unchanged)
{
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, DJANGO_600000), IOTD_OK);
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, DJANGO_260000), IOTD_OK);
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, DJANGO_1), IOTD_OK);
    /* and we produce the very same string from the same inputs */
    iotd_buf b = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_password_hash_with(DJANGO_PASSWORD, DJANGO_SALT, 600000, &b), IOTD_OK);
    ck_assert_str_eq(b.data, DJANGO_600000);
    iotd_buf_free(&b);
    ck_assert_int_eq(iotd_password_needs_upgrade(DJANGO_600000), 0);
    ck_assert_int_eq(iotd_password_needs_upgrade(DJANGO_260000), 1);
}
END_TEST

START_TEST(test_wrong_password_declined)
{
    ck_assert_int_eq(iotd_password_verify("correct horse battery staple u", DJANGO_1), IOTD_DECLINED);
    ck_assert_int_eq(iotd_password_verify("", DJANGO_1), IOTD_DECLINED);
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD " ", DJANGO_1), IOTD_DECLINED);
    /* one changed character of the stored key */
    char tampered[] = DJANGO_1;
    tampered[strlen(tampered) - 2] ^= 1;
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, tampered), IOTD_DECLINED);
}
END_TEST

START_TEST(test_malformed_hashes_are_errors)
{
    static const char *bad[] = {
        "",
        "pbkdf2_sha256",
        "pbkdf2_sha1$1$" DJANGO_SALT "$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI=",
        "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA",
        "!unusable-password",
        "pbkdf2_sha256$$" DJANGO_SALT "$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI=",
        "pbkdf2_sha256$x1$" DJANGO_SALT "$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI=",
        "pbkdf2_sha256$-1$" DJANGO_SALT "$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI=",
        "pbkdf2_sha256$1$$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI=",
        "pbkdf2_sha256$1$" DJANGO_SALT,
        "pbkdf2_sha256$1$" DJANGO_SALT "$",
        "pbkdf2_sha256$1$" DJANGO_SALT "$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI",
        "pbkdf2_sha256$1$" DJANGO_SALT "$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI==",
        "pbkdf2_sha256$1$" DJANGO_SALT "$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFP?I=",
        "pbkdf2_sha256$1$a$b$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI=",
        "PBKDF2_SHA256$1$" DJANGO_SALT "$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI=",
    };
    for (size_t i = 0; i < IOTD_ARRAY_LEN(bad); i++)
        ck_assert_msg(iotd_password_verify(DJANGO_PASSWORD, bad[i]) == IOTD_ERROR, "accepted: %s", bad[i]);
    ck_assert_int_eq(iotd_password_verify(NULL, DJANGO_1), IOTD_ERROR);
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, NULL), IOTD_ERROR);
}
END_TEST

START_TEST(test_iteration_bounds)
{
    const char *key = "$" DJANGO_SALT "$Sn7tPy2Nzuof/Jmzj39e6YgYAwhaKPcyjJnTkaOFPrI=";
    char h[256];
    snprintf(h, sizeof h, "pbkdf2_sha256$0%s", key);
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, h), IOTD_ERROR);
    snprintf(h, sizeof h, "pbkdf2_sha256$%d%s", IOTD_PASSWORD_MAX_ITERATIONS + 1, key);
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, h), IOTD_ERROR);
    snprintf(h, sizeof h, "pbkdf2_sha256$99999999999999999999%s", key);
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, h), IOTD_ERROR);
    snprintf(h, sizeof h, "pbkdf2_sha256$01%s", key);
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, h), IOTD_ERROR);
    /* the bounds themselves are accepted (1 verifies; the maximum is only hashed with a short salt here) */
    snprintf(h, sizeof h, "pbkdf2_sha256$%d%s", IOTD_PASSWORD_MIN_ITERATIONS, key);
    ck_assert_int_eq(iotd_password_verify(DJANGO_PASSWORD, h), IOTD_OK);
    iotd_buf b = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_password_hash_with("pw", "s", 0, &b), IOTD_ERROR);
    ck_assert_int_eq(iotd_password_hash_with("pw", "s", IOTD_PASSWORD_MAX_ITERATIONS + 1L, &b), IOTD_ERROR);
    iotd_buf_free(&b);
}
END_TEST

START_TEST(test_new_hashes)
{
    iotd_buf a = IOTD_BUF_INIT, b = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_password_hash("s3cret password", &a), IOTD_OK);
    ck_assert_int_eq(iotd_password_hash("s3cret password", &b), IOTD_OK);
    /* pbkdf2_sha256$600000$<22 chars>$<44 chars> */
    ck_assert_int_eq(strncmp(a.data, "pbkdf2_sha256$600000$", 21), 0);
    ck_assert_uint_eq(a.len, 21 + IOTD_PASSWORD_SALT_CHARS + 1 + 44);
    ck_assert_int_eq(a.data[21 + IOTD_PASSWORD_SALT_CHARS], '$');
    for (size_t i = 21; i < 21 + IOTD_PASSWORD_SALT_CHARS; i++)
        ck_assert_msg(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", a.data[i]),
                      "salt character %c", a.data[i]);
    ck_assert_str_ne(a.data, b.data); /* fresh salt each time */
    ck_assert_int_eq(iotd_password_verify("s3cret password", a.data), IOTD_OK);
    ck_assert_int_eq(iotd_password_verify("s3cret passworD", a.data), IOTD_DECLINED);
    ck_assert_int_eq(iotd_password_needs_upgrade(a.data), 0);
    ck_assert_int_eq(iotd_password_hash("", &a), IOTD_ERROR);
    iotd_buf_free(&a);
    iotd_buf_free(&b);
}
END_TEST

START_TEST(test_length_limit)
{
    char *pw = malloc(IOTD_PASSWORD_MAX_BYTES + 2);
    ck_assert_ptr_nonnull(pw);
    memset(pw, 'p', IOTD_PASSWORD_MAX_BYTES + 1);
    pw[IOTD_PASSWORD_MAX_BYTES + 1] = '\0';
    iotd_buf b = IOTD_BUF_INIT;
    ck_assert_int_eq(iotd_password_hash_with(pw, "salt", 1, &b), IOTD_ERROR);
    ck_assert_int_eq(iotd_password_verify(pw, DJANGO_1), IOTD_DECLINED);
    ck_assert_int_eq(iotd_password_acceptable(pw), 0);
    pw[IOTD_PASSWORD_MAX_BYTES] = '\0'; /* exactly the limit */
    ck_assert_int_eq(iotd_password_hash_with(pw, "salt", 1, &b), IOTD_OK);
    ck_assert_int_eq(iotd_password_verify(pw, b.data), IOTD_OK);
    ck_assert_int_eq(iotd_password_acceptable(pw), 1);
    ck_assert_int_eq(iotd_password_acceptable("1234567"), 0);
    ck_assert_int_eq(iotd_password_acceptable("12345678"), 1);
    iotd_buf_free(&b);
    free(pw);
}
END_TEST

START_TEST(test_generate)
{
    char a[IOTD_PASSWORD_GENERATED_CHARS + 1], b[IOTD_PASSWORD_GENERATED_CHARS + 1];
    ck_assert_int_eq(iotd_password_generate(a, sizeof a), IOTD_OK);
    ck_assert_int_eq(iotd_password_generate(b, sizeof b), IOTD_OK);
    ck_assert_uint_eq(strlen(a), IOTD_PASSWORD_GENERATED_CHARS);
    ck_assert_str_ne(a, b);
    ck_assert_uint_eq(strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), strlen(a));
    ck_assert_int_eq(iotd_password_acceptable(a), 1);
    ck_assert_int_eq(iotd_password_generate(a, 1), IOTD_ERROR);
    /* every character of the alphabet turns up: no bias toward the start */
    char many[4001];
    ck_assert_int_eq(iotd_password_generate(many, sizeof many), IOTD_OK);
    const char *alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (const char *c = alphabet; *c; c++)
        ck_assert_msg(strchr(many, *c), "never drew %c", *c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("password");
    TCase *tc = tcase_create("pbkdf2");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rfc7914_vector_1);
    tcase_add_test(tc, test_rfc7914_vector_2);
    tcase_add_test(tc, test_django_hash_verifies_unchanged);
    tcase_add_test(tc, test_wrong_password_declined);
    tcase_add_test(tc, test_malformed_hashes_are_errors);
    tcase_add_test(tc, test_iteration_bounds);
    tcase_add_test(tc, test_new_hashes);
    tcase_add_test(tc, test_length_limit);
    tcase_add_test(tc, test_generate);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
