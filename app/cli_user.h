/*
 * cli_user.h — `iotd user ...`: manage editor accounts from the shell.
 *
 *   iotd user add [--generate] USERNAME     password: one line on stdin, or
 *   iotd user passwd [--generate] USERNAME  generated (stdin a TTY or --generate)
 *   iotd user list                          and printed once
 *   iotd user rm USERNAME
 *   iotd user ensure-admin                  IOTD_ADMIN_USER / IOTD_ADMIN_PASSWORD,
 *                                           only while no user exists
 */
#ifndef IOTD_CLI_USER_H
#define IOTD_CLI_USER_H

/* argv[0] is the program, argv[1] "user". Returns the exit status:
 * 0 success, 1 failure, 2 usage error. */
int iotd_cli_user(int argc, char **argv);

#endif
