/*
 * http_fixture.c — runs tests/http_fixture.py on a free local port.
 *
 * The script prints its port on stdout's first line; the child is killed
 * by its pid when the test ends, or by PR_SET_PDEATHSIG if the test dies.
 */
#include "http_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#define FIXTURE_PYTHON "/usr/bin/python3"

int http_fixture_start(http_fixture *f)
{
    const char *srcdir = getenv("IOTD_SRCDIR");
    char script[4096];
    snprintf(script, sizeof script, "%s/tests/http_fixture.py", srcdir ? srcdir : ".");
    if (access(FIXTURE_PYTHON, X_OK) != 0 || access(script, R_OK) != 0)
        return -1;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* a test that dies (an assertion in no-fork mode, a sanitizer) takes the server with it */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(FIXTURE_PYTHON, FIXTURE_PYTHON, script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    char line[32] = "";
    int ok = in && fgets(line, sizeof line, in) != NULL;
    if (in)
        fclose(in);
    else
        close(fds[0]);
    f->pid = pid;
    f->port = ok ? atoi(line) : 0;
    if (f->port <= 0) {
        http_fixture_stop(f);
        return -1;
    }
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", f->port);
    return 0;
}

void http_fixture_stop(http_fixture *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

typedef struct sink {
    char *out;
    size_t cap, len;
} sink;

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    sink *s = userdata;
    size_t len = size * n;
    size_t room = s->cap - 1 - s->len;
    size_t take = len < room ? len : room;
    memcpy(s->out + s->len, data, take);
    s->len += take;
    s->out[s->len] = '\0';
    return len;
}

long http_fixture_get(const http_fixture *f, const char *path, char *out, size_t cap)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    CURL *c = curl_easy_init();
    if (!c || cap == 0)
        return -1;
    sink s = {out, cap, 0};
    out[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long status = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}
