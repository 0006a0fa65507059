/*
 * password.c — PBKDF2-HMAC-SHA256 password hashing, compatible with
 * Django's PBKDF2PasswordHasher.
 *
 * The derivation is OpenSSL's PKCS5_PBKDF2_HMAC; base64 is EVP_EncodeBlock.
 * Verification re-derives the key with the stored salt and iteration count
 * and compares the encoded results with CRYPTO_memcmp, so the time taken
 * does not depend on where a guess first differs. The iteration count read
 * from a stored hash is bounded, and so is the password length, so no
 * input can make one verification arbitrarily slow.
 */
#include "password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "iotd.h"
#include "random.h"

#define ALGORITHM "pbkdf2_sha256"
#define KEY_BYTES 32                                 /* SHA-256 output, as Django */
#define KEY_BASE64_CHARS (4 * ((KEY_BYTES + 2) / 3)) /* 44 */
#define MAX_ITERATION_DIGITS 8

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* The base64 key for password, salt and iterations into b64 (45 bytes). */
static int derive(const char *password, const char *salt, size_t salt_len, long iterations,
                  unsigned char b64[KEY_BASE64_CHARS + 1])
{
    unsigned char key[KEY_BYTES];
    size_t pw_len = strlen(password);
    if (pw_len > IOTD_PASSWORD_MAX_BYTES || iterations < IOTD_PASSWORD_MIN_ITERATIONS ||
        iterations > IOTD_PASSWORD_MAX_ITERATIONS)
        return IOTD_ERROR;
    if (PKCS5_PBKDF2_HMAC(password, (int)pw_len, (const unsigned char *)salt, (int)salt_len, (int)iterations,
                          EVP_sha256(), KEY_BYTES, key) != 1)
        return IOTD_ERROR;
    int n = EVP_EncodeBlock(b64, key, KEY_BYTES);
    OPENSSL_cleanse(key, sizeof key);
    return n == KEY_BASE64_CHARS ? IOTD_OK : IOTD_ERROR;
}

static int salt_ok(const char *salt, size_t len)
{
    /* '$' separates the fields; the rest is whatever Django stored. */
    return len > 0 && len <= IOTD_PASSWORD_MAX_SALT_CHARS && !memchr(salt, '$', len);
}

int iotd_password_hash_with(const char *password, const char *salt, long iterations, iotd_buf *out)
{
    unsigned char b64[KEY_BASE64_CHARS + 1];
    if (!*password || !salt_ok(salt, strlen(salt)) || derive(password, salt, strlen(salt), iterations, b64))
        return IOTD_ERROR;
    iotd_buf_reset(out);
    return iotd_buf_printf(out, ALGORITHM "$%ld$%s$%s", iterations, salt, (const char *)b64);
}

int iotd_password_hash(const char *password, iotd_buf *out)
{
    char salt[IOTD_PASSWORD_SALT_CHARS + 1];
    if (iotd_random_string(salt, sizeof salt, alphabet) != IOTD_OK)
        return IOTD_ERROR;
    return iotd_password_hash_with(password, salt, IOTD_PASSWORD_ITERATIONS, out);
}

typedef struct parsed_hash {
    long iterations;
    const char *salt;
    size_t salt_len;
    const char *key; /* base64, KEY_BASE64_CHARS long */
} parsed_hash;

static int is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

/* Splits "pbkdf2_sha256$N$salt$key" and checks every field. */
static int parse(const char *encoded, parsed_hash *p)
{
    size_t total = strnlen(encoded, IOTD_PASSWORD_MAX_ENCODED + 1);
    if (total > IOTD_PASSWORD_MAX_ENCODED || strncmp(encoded, ALGORITHM "$", sizeof ALGORITHM) != 0)
        return IOTD_ERROR;
    const char *s = encoded + sizeof ALGORITHM;
    long n = 0;
    size_t digits = 0;
    for (; s[digits] >= '0' && s[digits] <= '9'; digits++) {
        if (digits == MAX_ITERATION_DIGITS)
            return IOTD_ERROR;
        n = n * 10 + (s[digits] - '0');
    }
    if (digits == 0 || s[digits] != '$' || (s[0] == '0' && digits > 1))
        return IOTD_ERROR;
    if (n < IOTD_PASSWORD_MIN_ITERATIONS || n > IOTD_PASSWORD_MAX_ITERATIONS)
        return IOTD_ERROR;
    p->iterations = n;
    p->salt = s + digits + 1;
    const char *dollar = strchr(p->salt, '$');
    if (!dollar)
        return IOTD_ERROR;
    p->salt_len = (size_t)(dollar - p->salt);
    p->key = dollar + 1;
    if (!salt_ok(p->salt, p->salt_len) || strlen(p->key) != KEY_BASE64_CHARS)
        return IOTD_ERROR;
    for (size_t i = 0; i < KEY_BASE64_CHARS; i++)
        if (!is_base64_char(p->key[i]))
            return IOTD_ERROR;
    return IOTD_OK;
}

int iotd_password_verify(const char *password, const char *encoded)
{
    parsed_hash p;
    if (!password || !encoded || parse(encoded, &p) != IOTD_OK)
        return IOTD_ERROR;
    if (strnlen(password, IOTD_PASSWORD_MAX_BYTES + 1) > IOTD_PASSWORD_MAX_BYTES)
        return IOTD_DECLINED; /* never hashed, so it cannot match */
    unsigned char b64[KEY_BASE64_CHARS + 1];
    if (derive(password, p.salt, p.salt_len, p.iterations, b64) != IOTD_OK)
        return IOTD_ERROR;
    return CRYPTO_memcmp(b64, p.key, KEY_BASE64_CHARS) == 0 ? IOTD_OK : IOTD_DECLINED;
}

int iotd_password_needs_upgrade(const char *encoded)
{
    parsed_hash p;
    return parse(encoded, &p) != IOTD_OK || p.iterations < IOTD_PASSWORD_ITERATIONS;
}

int iotd_password_acceptable(const char *password)
{
    size_t n = strnlen(password, IOTD_PASSWORD_MAX_BYTES + 1);
    return n >= IOTD_PASSWORD_MIN_CHARS && n <= IOTD_PASSWORD_MAX_BYTES;
}

int iotd_password_generate(char *out, size_t len)
{
    if (len < 2)
        return IOTD_ERROR;
    return iotd_random_string(out, len, alphabet);
}
