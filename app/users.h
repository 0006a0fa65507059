/*
 * users.h — the editor-account repository (table users).
 *
 * Usernames are matched without regard to case. Every call returns
 * IOTD_OK, IOTD_DECLINED (see each), IOTD_AGAIN when the database is
 * unreachable, or IOTD_ERROR. Strings live in the arena.
 */
#ifndef IOTD_USERS_H
#define IOTD_USERS_H

#include "arena.h"
#include "db.h"

#define IOTD_MAX_USERNAME_CHARS 150 /* as Django */

typedef struct iotd_user {
    long long id;
    const char *username;
    const char *password_hash;
    const char *created_at; /* ISO 8601, UTC */
    const char *last_login; /* ISO 8601, UTC; "" when never */
} iotd_user;

/* 1 when name has 1..150 characters, each a letter, digit or one of @.+-_ */
int iotd_users_valid_username(const char *name);
/* Adds an account with password hashed. DECLINED: the name is taken;
 * ERROR also when the name or password is not acceptable. */
int iotd_users_create(iotd_db *db, const char *username, const char *password, long long *id);
/* Adds the account only while no account exists (IOTD_ADMIN_USER at first
 * start). DECLINED: some account exists already. */
int iotd_users_create_first(iotd_db *db, const char *username, const char *password, long long *id);
/* Replaces the password and signs the user out everywhere. DECLINED: no such user. */
int iotd_users_set_password(iotd_db *db, const char *username, const char *password);
/* DECLINED: no such user. */
int iotd_users_get(iotd_db *db, iotd_arena *a, const char *username, iotd_user *out);
/* All accounts by username; *out is an arena array of *count users. */
int iotd_users_list(iotd_db *db, iotd_arena *a, iotd_user **out, size_t *count);
/* Removes the account and its sessions. DECLINED: no such user. */
int iotd_users_delete(iotd_db *db, const char *username);
int iotd_users_count(iotd_db *db, long long *count);
int iotd_users_touch_login(iotd_db *db, long long id);
/* Checks a sign-in: OK (out filled, last_login set, an old hash upgraded)
 * or DECLINED for an unknown user and a wrong password alike — both take
 * one full password hash, so timing does not tell them apart. */
int iotd_users_authenticate(iotd_db *db, iotd_arena *a, const char *username, const char *password,
                            iotd_user *out);

#endif
