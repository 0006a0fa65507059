/*
 * master_main.c — iotd-master, the supervising process of `iotd serve`.
 *
 *   iotd-master IOTD_PROGRAM
 *
 * `iotd serve` checks the database and creates the first editor, then
 * replaces itself with this program (same process id, same environment),
 * which reads the configuration again and runs the pool (pool.c) with
 * IOTD_PROGRAM as the workers' program. Kept apart so the supervisor maps
 * only libc, json-c (its log lines) and libfcgi (the socket).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "iotd.h"
#include "log.h"
#include "pool.h"

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] != '/') {
        fprintf(stderr, "usage: iotd-master /path/to/iotd  (started by `iotd serve`)\n");
        return 2;
    }
    iotd_config cfg;
    char err[512];
    if (iotd_config_load(&cfg, err, sizeof err) != IOTD_OK) {
        fprintf(stderr, "iotd: configuration error: %s\n", err);
        return 1;
    }
    iotd_log_init(iotd_log_level_for(cfg.log_debug, IOTD_LOG_INFO), STDOUT_FILENO);
    return iotd_pool_run(&cfg, argv[1]);
}
