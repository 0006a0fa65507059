/*
 * cli_image.h — the command line for stored images and their objects.
 *
 *   iotd presign KEY [--expires SECONDS] [--date YYYYMMDDTHHMMSSZ]
 *   iotd image add FILE --name NAME [--tagline TEXT]
 *   iotd image list
 *   iotd image rm ID
 *   iotd image rebuild [ID...]
 *   iotd gc [--delete] [--json] [--min-age SECONDS]
 */
#ifndef IOTD_CLI_IMAGE_H
#define IOTD_CLI_IMAGE_H

#define IOTD_GC_DEFAULT_MIN_AGE_S 86400L /* gc --delete spares orphans younger than this */

/* argv[0] is the program, argv[1] the command. Each returns the exit
 * status: 0 success, 1 failure, 2 usage error. */
int iotd_cli_presign(int argc, char **argv);
int iotd_cli_image(int argc, char **argv);
int iotd_cli_gc(int argc, char **argv);

#endif
