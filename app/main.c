/*
 * main.c — the iotd command line: parses the subcommand and hands over to
 * the module that does the work. Exit status: 0 success, 1 failure,
 * 2 usage error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli_image.h"
#include "cli_user.h"
#include "config.h"
#include "db.h"
#include "fcgi_client.h"
#include "iotd.h"
#include "log.h"
#include "migrate.h"
#include "password.h"
#include "template.h"
#include "users.h"
#include "worker.h"

#define HEALTHCHECK_TIMEOUT_MS 3000

static void usage(FILE *out)
{
    fputs("usage: iotd COMMAND [ARGS...]\n"
          "\n"
          "commands:\n"
          "  serve         run the FastCGI worker pool on IOTD_LISTEN\n"
          "  migrate       apply pending database migrations\n"
          "  healthcheck   ask the running pool for /healthz (exit 0 when it answers 200)\n"
          "  presign       print a presigned GET URL for an object key (no database needed)\n"
          "  image         add, list or rm images (uploads to S3, records in the database)\n"
          "  gc            retry failed S3 deletions, find unreferenced objects and missing ones\n"
          "  user          manage editor accounts: add, passwd, list, rm, ensure-admin\n"
          "\n"
          "options:\n"
          "  -h, --help    show this help\n"
          "  --version     show the version\n"
          "\n"
          "Configuration comes from the environment; see README.md.\n",
          out);
}

/* serve logs to stdout (the container's log stream); migrate and
 * healthcheck report on stdout/stderr themselves and log only warnings. */
static int load_config(iotd_config *cfg, int log_fd)
{
    char err[512];
    if (iotd_config_load(cfg, err, sizeof err) != IOTD_OK) {
        fprintf(stderr, "iotd: configuration error: %s\n", err);
        return IOTD_ERROR;
    }
    iotd_log_init(iotd_log_level_for(cfg->log_debug, log_fd == STDOUT_FILENO ? IOTD_LOG_INFO : IOTD_LOG_WARN),
                  log_fd);
    return IOTD_OK;
}

static int no_args(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "iotd %s: unexpected argument '%s'\n", argv[1], argv[2]);
        usage(stderr);
        return 0;
    }
    return 1;
}

/* Containers set IOTD_ADMIN_USER and IOTD_ADMIN_PASSWORD: the first
 * editor is created at start while no account exists, never afterwards. */
static void create_first_editor(const iotd_config *cfg, iotd_db *db)
{
    if (!cfg->admin_user[0])
        return;
    if (!iotd_password_acceptable(cfg->admin_password)) {
        iotd_log(IOTD_LOG_WARN, "IOTD_ADMIN_USER is set but IOTD_ADMIN_PASSWORD is missing or unacceptable; "
                                "no editor created (use 'iotd user add')");
        return;
    }
    long long id;
    int rc = iotd_users_create_first(db, cfg->admin_user, cfg->admin_password, &id);
    if (rc == IOTD_OK)
        iotd_log(IOTD_LOG_INFO, "created the first editor '%s' from IOTD_ADMIN_USER", cfg->admin_user);
    else if (rc != IOTD_DECLINED)
        iotd_log(IOTD_LOG_ERROR, "could not create the first editor from IOTD_ADMIN_USER");
}

static int cmd_serve(int argc, char **argv)
{
    if (!no_args(argc, argv))
        return 2;
    iotd_config cfg;
    if (load_config(&cfg, STDOUT_FILENO) != IOTD_OK)
        return 1;
    iotd_db *db = iotd_db_new(cfg.database_url);
    if (!db)
        return 1;
    int version = 0;
    int rc = iotd_db_schema_version(db, &version);
    if (rc == IOTD_OK && version < IOTD_SCHEMA_VERSION) {
        iotd_db_free(db);
        fprintf(
            stderr,
            "iotd serve: the database schema is at version %d but this build needs %d; run 'iotd migrate' "
            "first\n",
            version, IOTD_SCHEMA_VERSION);
        return 1;
    }
    if (rc != IOTD_OK)
        iotd_log(IOTD_LOG_WARN, "database not reachable at start; workers will keep trying");
    else
        create_first_editor(&cfg, db);
    iotd_db_free(db);
    /* iotd-master checks the templates before it starts a worker */
    char self[IOTD_CONF_STR], master[IOTD_CONF_STR];
    if (iotd_config_program_path(NULL, self, sizeof self) != IOTD_OK ||
        iotd_config_program_path("iotd-master", master, sizeof master) != IOTD_OK) {
        fprintf(stderr, "iotd serve: cannot find this program's own path\n");
        return 1;
    }
    fflush(NULL);
    char *args[] = {"iotd-master", self, NULL};
    execv(master, args);
    fprintf(stderr, "iotd serve: cannot start %s: %s\n", master, strerror(errno));
    return 1;
}

/* iotd worker --slots-dir DIR --role page|admin: one worker of the pool,
 * started by iotd-master with the listening socket on descriptor 3 and the
 * ready pipe on descriptor 4. The role names the socket it serves and is
 * there to be seen (ps, the tests); the workers that take uploads also take
 * up images left processing. Not for use by hand. */
static int cmd_worker(int argc, char **argv)
{
    if (argc != 6 || strcmp(argv[2], "--slots-dir") != 0 || strcmp(argv[4], "--role") != 0 ||
        (strcmp(argv[5], "page") != 0 && strcmp(argv[5], "admin") != 0)) {
        fprintf(stderr, "iotd worker: started by iotd serve only\n");
        return 2;
    }
    iotd_config cfg;
    if (load_config(&cfg, STDOUT_FILENO) != IOTD_OK)
        return 1;
    snprintf(cfg.upload_slots_dir, sizeof cfg.upload_slots_dir, "%s", argv[3]);
    char err[512];
    iotd_tpl_set *views = iotd_tpl_set_new();
    if (!views || iotd_tpl_set_load_dir(views, cfg.views_dir, err, sizeof err) != IOTD_OK) {
        iotd_log(IOTD_LOG_ERROR, "worker: cannot load templates from %s: %s", cfg.views_dir, err);
        iotd_tpl_set_free(views);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        iotd_log(IOTD_LOG_ERROR, "worker: libcurl failed to start");
        iotd_tpl_set_free(views);
        return 1;
    }
    /* uploads go to the admin workers, or to every worker when there is no admin socket */
    int takes_uploads = strcmp(argv[5], "admin") == 0 || !cfg.admin_listen[0];
    iotd_worker_args args = {&cfg, views, WORKER_FD_LISTEN, WORKER_FD_READY, takes_uploads};
    int rc = iotd_worker_run(&args);
    iotd_tpl_set_free(views);
    curl_global_cleanup();
    return rc;
}

static int cmd_migrate(int argc, char **argv)
{
    if (!no_args(argc, argv))
        return 2;
    iotd_config cfg;
    if (load_config(&cfg, STDERR_FILENO) != IOTD_OK)
        return 1;
    iotd_db *db = iotd_db_new(cfg.database_url);
    if (!db)
        return 1;
    int rc = iotd_migrate_run(db, cfg.migrations_dir, stdout);
    iotd_db_free(db);
    return rc == IOTD_OK ? 0 : 1;
}

static int cmd_healthcheck(int argc, char **argv)
{
    if (!no_args(argc, argv))
        return 2;
    iotd_config cfg;
    if (load_config(&cfg, STDERR_FILENO) != IOTD_OK)
        return 1;
    iotd_buf body = IOTD_BUF_INIT;
    char err[256];
    int status = 0;
    int rc = iotd_fcgi_get(cfg.listen, "/healthz", HEALTHCHECK_TIMEOUT_MS, &status, &body, err, sizeof err);
    iotd_buf_free(&body);
    if (rc != IOTD_OK) {
        fprintf(stderr, "iotd healthcheck: %s\n", err);
        return 1;
    }
    if (status != 200) {
        fprintf(stderr, "iotd healthcheck: /healthz answered %d\n", status);
        return 1;
    }
    return 0;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", cmd_serve},          {"worker", cmd_worker},
    {"migrate", cmd_migrate},      {"healthcheck", cmd_healthcheck},
    {"presign", iotd_cli_presign}, {"image", iotd_cli_image},
    {"gc", iotd_cli_gc},           {"user", iotd_cli_user},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("iotd %s\n", PACKAGE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < IOTD_ARRAY_LEN(commands); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        /* serve execs the master, and each worker starts libcurl itself */
        int own_curl = commands[i].run == cmd_serve || commands[i].run == cmd_worker;
        if (!own_curl && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "iotd: libcurl failed to start\n");
            return 1;
        }
        int rc = commands[i].run(argc, argv);
        if (!own_curl)
            curl_global_cleanup();
        return rc;
    }
    fprintf(stderr, "iotd: unknown %s '%s'\n", argv[1][0] == '-' ? "option" : "command", argv[1]);
    usage(stderr);
    return 2;
}
