/*
 * cli_user.c — the `iotd user` subcommands.
 *
 * Passwords never appear on the command line (where ps and shell history
 * would keep them): they are read from stdin, or generated from
 * getrandom(2) and printed once. Buffers that held one are wiped. Exit
 * status: 0 success, 1 failure, 2 usage error.
 */
#include "cli_user.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "iotd.h"
#include "log.h"
#include "password.h"
#include "users.h"

#define CLI_ARENA_BLOCK (16 * 1024)

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct cli {
    iotd_config cfg;
    iotd_db *db;
} cli;

static void usage(FILE *out)
{
    fputs("usage: iotd user add [--generate] USERNAME     add an editor\n"
          "       iotd user passwd [--generate] USERNAME  set a new password (signs them out everywhere)\n"
          "       iotd user list                          list editors\n"
          "       iotd user rm USERNAME                   remove an editor\n"
          "       iotd user ensure-admin                  add IOTD_ADMIN_USER with IOTD_ADMIN_PASSWORD\n"
          "                                               while there is no user yet\n"
          "\n"
          "The password is read as one line from stdin; when stdin is a terminal, or\n"
          "with --generate, one is generated and printed once.\n",
          out);
}

static int fail_db(const char *what, int rc)
{
    if (rc == IOTD_AGAIN)
        fprintf(stderr, "iotd user %s: the database is unreachable\n", what);
    else
        fprintf(stderr, "iotd user %s: the database refused the change (see the log line above)\n", what);
    return EXIT_FAIL;
}

/* One line from stdin (newline stripped), or a generated password when
 * generate is set or stdin is a terminal; *generated says which. */
static int obtain_password(const char *what, int generate, char *pw, size_t pwlen, int *generated)
{
    *generated = generate || isatty(STDIN_FILENO);
    if (*generated) {
        if (iotd_password_generate(pw, IOTD_PASSWORD_GENERATED_CHARS + 1) != IOTD_OK) {
            fprintf(stderr, "iotd user %s: could not generate a password\n", what);
            return IOTD_ERROR;
        }
        return IOTD_OK;
    }
    if (!fgets(pw, (int)pwlen, stdin)) {
        fprintf(stderr, "iotd user %s: no password on stdin (pipe one line, or use --generate)\n", what);
        return IOTD_ERROR;
    }
    size_t n = strlen(pw);
    if (n == pwlen - 1 && pw[n - 1] != '\n' && !feof(stdin)) {
        fprintf(stderr, "iotd user %s: the password is longer than %d bytes\n", what,
                IOTD_PASSWORD_MAX_BYTES);
        return IOTD_ERROR;
    }
    if (n > 0 && pw[n - 1] == '\n')
        pw[--n] = '\0';
    if (n > 0 && pw[n - 1] == '\r')
        pw[--n] = '\0';
    if (!iotd_password_acceptable(pw)) {
        fprintf(stderr, "iotd user %s: the password must have %d to %d bytes\n", what,
                IOTD_PASSWORD_MIN_CHARS, IOTD_PASSWORD_MAX_BYTES);
        return IOTD_ERROR;
    }
    return IOTD_OK;
}

/* Parses "[--generate] USERNAME" after the subcommand. */
static int name_args(int argc, char **argv, int *generate, const char **username, int allow_generate)
{
    *generate = 0;
    *username = NULL;
    for (int i = 3; i < argc; i++) {
        if (allow_generate && strcmp(argv[i], "--generate") == 0)
            *generate = 1;
        else if (argv[i][0] == '-' || *username)
            return IOTD_ERROR;
        else
            *username = argv[i];
    }
    return *username ? IOTD_OK : IOTD_ERROR;
}

static int check_username(const char *what, const char *username)
{
    if (iotd_users_valid_username(username))
        return IOTD_OK;
    fprintf(
        stderr,
        "iotd user %s: a username has 1 to %d characters: letters, digits and @ . + - _ (got \"%.40s\")\n",
        what, IOTD_MAX_USERNAME_CHARS, username);
    return IOTD_ERROR;
}

static int cmd_add_or_passwd(cli *c, const char *what, int argc, char **argv)
{
    int generate, generated;
    const char *username;
    if (name_args(argc, argv, &generate, &username, 1) != IOTD_OK) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (check_username(what, username) != IOTD_OK)
        return EXIT_FAIL;
    char pw[IOTD_PASSWORD_MAX_BYTES + 2];
    if (obtain_password(what, generate, pw, sizeof pw, &generated) != IOTD_OK)
        return EXIT_FAIL;
    int adding = strcmp(what, "add") == 0;
    long long id = 0;
    int rc =
        adding ? iotd_users_create(c->db, username, pw, &id) : iotd_users_set_password(c->db, username, pw);
    int status = EXIT_OK;
    if (rc == IOTD_DECLINED) {
        fprintf(stderr,
                adding ? "iotd user add: a user named '%s' already exists\n"
                       : "iotd user passwd: there is no user named '%s'\n",
                username);
        status = EXIT_FAIL;
    } else if (rc != IOTD_OK) {
        status = fail_db(what, rc);
    } else {
        printf(adding ? "added user '%s'\n" : "changed the password of '%s'; their sessions have ended\n",
               username);
        if (generated)
            printf("password: %s\n", pw);
    }
    OPENSSL_cleanse(pw, sizeof pw);
    return status;
}

static int cmd_list(cli *c, int argc, char **argv)
{
    IOTD_UNUSED(argv);
    if (argc != 3) {
        usage(stderr);
        return EXIT_USAGE;
    }
    iotd_arena *a = iotd_arena_new(CLI_ARENA_BLOCK);
    if (!a)
        return EXIT_FAIL;
    iotd_user *users;
    size_t n;
    int rc = iotd_users_list(c->db, a, &users, &n);
    if (rc == IOTD_OK) {
        printf("username\tcreated\tlast_login\n");
        for (size_t i = 0; i < n; i++)
            printf("%s\t%s\t%s\n", users[i].username, users[i].created_at,
                   users[i].last_login[0] ? users[i].last_login : "never");
    }
    iotd_arena_destroy(a);
    return rc == IOTD_OK ? EXIT_OK : fail_db("list", rc);
}

static int cmd_rm(cli *c, int argc, char **argv)
{
    int generate;
    const char *username;
    if (name_args(argc, argv, &generate, &username, 0) != IOTD_OK) {
        usage(stderr);
        return EXIT_USAGE;
    }
    int rc = iotd_users_delete(c->db, username);
    if (rc == IOTD_DECLINED) {
        fprintf(stderr, "iotd user rm: there is no user named '%s'\n", username);
        return EXIT_FAIL;
    }
    if (rc != IOTD_OK)
        return fail_db("rm", rc);
    printf("removed user '%s'\n", username);
    return EXIT_OK;
}

static int cmd_ensure_admin(cli *c, int argc, char **argv)
{
    IOTD_UNUSED(argv);
    if (argc != 3) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *username = c->cfg.admin_user;
    if (!*username) {
        printf("IOTD_ADMIN_USER is not set; no editor created\n");
        return EXIT_OK;
    }
    if (check_username("ensure-admin", username) != IOTD_OK)
        return EXIT_FAIL;
    if (!iotd_password_acceptable(c->cfg.admin_password)) {
        fprintf(stderr, "iotd user ensure-admin: IOTD_ADMIN_PASSWORD must have %d to %d bytes\n",
                IOTD_PASSWORD_MIN_CHARS, IOTD_PASSWORD_MAX_BYTES);
        return EXIT_FAIL;
    }
    long long id;
    int rc = iotd_users_create_first(c->db, username, c->cfg.admin_password, &id);
    if (rc == IOTD_DECLINED) {
        printf("editors exist already; IOTD_ADMIN_USER not created\n");
        return EXIT_OK;
    }
    if (rc != IOTD_OK)
        return fail_db("ensure-admin", rc);
    printf("added user '%s' from IOTD_ADMIN_USER\n", username);
    return EXIT_OK;
}

static const struct {
    const char *name;
    int (*run)(cli *c, int argc, char **argv);
} subcommands[] = {
    {"list", cmd_list},
    {"rm", cmd_rm},
    {"ensure-admin", cmd_ensure_admin},
};

int iotd_cli_user(int argc, char **argv)
{
    if (argc < 3) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[2];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    int is_add = strcmp(sub, "add") == 0, is_passwd = strcmp(sub, "passwd") == 0;
    int (*run)(cli *, int, char **) = NULL;
    for (size_t i = 0; i < IOTD_ARRAY_LEN(subcommands); i++)
        if (strcmp(sub, subcommands[i].name) == 0)
            run = subcommands[i].run;
    if (!run && !is_add && !is_passwd) {
        fprintf(stderr, "iotd user: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return EXIT_USAGE;
    }

    cli c;
    char err[512];
    if (iotd_config_load(&c.cfg, err, sizeof err) != IOTD_OK) {
        fprintf(stderr, "iotd: configuration error: %s\n", err);
        return EXIT_FAIL;
    }
    iotd_log_init(iotd_log_level_for(c.cfg.log_debug, IOTD_LOG_OFF), STDERR_FILENO);
    if (!(c.db = iotd_db_new(c.cfg.database_url)))
        return EXIT_FAIL;
    int status = run ? run(&c, argc, argv) : cmd_add_or_passwd(&c, sub, argc, argv);
    iotd_db_free(c.db);
    OPENSSL_cleanse(c.cfg.admin_password, sizeof c.cfg.admin_password);
    return status;
}
