/*
 * password.h — password hashes in Django's format:
 *     pbkdf2_sha256$<iterations>$<salt>$<base64 of the 32-byte key>
 * so hashes made by Django verify unchanged and ours work in Django.
 */
#ifndef IOTD_PASSWORD_H
#define IOTD_PASSWORD_H

#include <stddef.h>

#include "buf.h"

#define IOTD_PASSWORD_ITERATIONS 600000       /* for new hashes (Django 5.0's default) */
#define IOTD_PASSWORD_MIN_ITERATIONS 1        /* accepted from a stored hash */
#define IOTD_PASSWORD_MAX_ITERATIONS 10000000 /* bounds the work one stored hash can cause */
#define IOTD_PASSWORD_MAX_BYTES 4096          /* longer passwords are refused, never hashed */
#define IOTD_PASSWORD_MIN_CHARS 8             /* for passwords people choose (CLI, env) */
#define IOTD_PASSWORD_SALT_CHARS 22           /* as Django: ~131 bits from [A-Za-z0-9] */
#define IOTD_PASSWORD_MAX_SALT_CHARS 128      /* accepted from a stored hash */
#define IOTD_PASSWORD_GENERATED_CHARS 20      /* ~119 bits */
#define IOTD_PASSWORD_MAX_ENCODED 512         /* longest encoded hash we read or write */

/* Hashes password with a fresh salt into out (replacing its contents):
 * IOTD_OK, or IOTD_ERROR when the password is empty or too long. */
int iotd_password_hash(const char *password, iotd_buf *out);
/* The same with a given salt and iteration count (for tests and tools). */
int iotd_password_hash_with(const char *password, const char *salt, long iterations, iotd_buf *out);
/* IOTD_OK when password matches, IOTD_DECLINED when it does not, IOTD_ERROR
 * when encoded is not a hash we can read. Compared in constant time. */
int iotd_password_verify(const char *password, const char *encoded);
/* 1 when encoded uses fewer iterations than IOTD_PASSWORD_ITERATIONS. */
int iotd_password_needs_upgrade(const char *encoded);
/* 1 when a chosen password is long enough and not too long. */
int iotd_password_acceptable(const char *password);
/* A random password of len - 1 characters from [A-Za-z0-9], NUL-terminated;
 * use len = IOTD_PASSWORD_GENERATED_CHARS + 1. */
int iotd_password_generate(char *out, size_t len);

#endif
