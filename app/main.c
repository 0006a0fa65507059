/*
 * main.c — the iotd command line: dispatches subcommands.
 */
#include <stdio.h>
#include <string.h>


static void usage(FILE *out)
{
    fprintf(out, "usage: iotd COMMAND [ARGS...]\n"
                 "commands:\n"
                 "  serve      run the FastCGI worker pool\n"
                 "  migrate    apply database migrations\n"
                 "options:\n"
                 "  --help     show this help\n"
                 "  --version  show the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("iotd %s\n", PACKAGE_VERSION);
        return 0;
    }
    fprintf(stderr, "iotd: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
