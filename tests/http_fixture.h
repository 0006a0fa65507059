/*
 * http_fixture.h — starts and stops tests/http_fixture.py for a test program.
 */
#ifndef IOTD_TEST_HTTP_FIXTURE_H
#define IOTD_TEST_HTTP_FIXTURE_H

#include <sys/types.h>

typedef struct http_fixture {
    pid_t pid;
    int port;
    char base[64]; /* http://127.0.0.1:PORT */
} http_fixture;

/* 0 on success; -1 when python3 or the script is missing (the caller skips). */
int http_fixture_start(http_fixture *f);
void http_fixture_stop(http_fixture *f);
/* GET base + path into out (NUL-terminated); returns the HTTP status or -1. */
long http_fixture_get(const http_fixture *f, const char *path, char *out, size_t cap);

#endif
