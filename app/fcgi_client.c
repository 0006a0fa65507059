/*
 * fcgi_client.c — speaks just enough FastCGI (BEGIN_REQUEST, PARAMS,
 * STDIN; reads STDOUT to END_REQUEST) to probe a worker. Record layout
 * comes from fastcgi.h, which libfcgi ships.
 */
#include "fcgi_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fastcgi.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "iotd.h"

#define FCGI_CLIENT_MAX_RESPONSE (1024 * 1024)

static int open_socket(const char *address, char *err, size_t errlen)
{
    const char *colon = strrchr(address, ':');
    if (address[0] == '/' || !colon) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(address) >= sizeof sun.sun_path) {
            snprintf(err, errlen, "socket path too long");
            return -1;
        }
        memcpy(sun.sun_path, address, strlen(address) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
            return fd;
        snprintf(err, errlen, "connect %s: %s", address, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char host[256];
    size_t hlen = (size_t)(colon - address);
    if (hlen >= sizeof host) {
        snprintf(err, errlen, "address too long");
        return -1;
    }
    memcpy(host, address, hlen);
    host[hlen] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int gai = getaddrinfo(hlen ? host : "127.0.0.1", colon + 1, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "resolve %s: %s", address, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "connect %s: %s", address, strerror(errno));
    return fd;
}

static int add_record(iotd_buf *b, int type, const void *content, size_t len)
{
    FCGI_Header h = {FCGI_VERSION_1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8), (unsigned char)len, 0, 0};
    if (len > 0xffff)
        return IOTD_ERROR;
    if (iotd_buf_append(b, &h, sizeof h) != IOTD_OK)
        return IOTD_ERROR;
    return iotd_buf_append(b, content, len);
}

static int add_param(iotd_buf *p, const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    if (n > 127 || v > 127)
        return IOTD_ERROR;
    unsigned char lens[2] = {(unsigned char)n, (unsigned char)v};
    if (iotd_buf_append(p, lens, 2) != IOTD_OK || iotd_buf_append(p, name, n) != IOTD_OK)
        return IOTD_ERROR;
    return iotd_buf_append(p, value, v);
}

static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
    size_t off = 0;
    while (off < len) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr <= 0)
            return IOTD_ERROR;
        ssize_t n = read(fd, (char *)buf + off, len - off);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return IOTD_ERROR;
        }
        off += (size_t)n;
    }
    return IOTD_OK;
}

int iotd_fcgi_get(const char *address, const char *path, int timeout_ms, int *status, iotd_buf *body, char *err,
                  size_t errlen)
{
    int fd = open_socket(address, err, errlen);
    if (fd < 0)
        return IOTD_ERROR;
    iotd_buf req = IOTD_BUF_INIT, params = IOTD_BUF_INIT, out = IOTD_BUF_INIT;
    out.max = FCGI_CLIENT_MAX_RESPONSE;
    FCGI_BeginRequestBody begin = {0, FCGI_RESPONDER, 0, {0}};
    int rc = IOTD_ERROR;
    if (add_record(&req, FCGI_BEGIN_REQUEST, &begin, sizeof begin) != IOTD_OK ||
        add_param(&params, "REQUEST_METHOD", "GET") != IOTD_OK ||
        add_param(&params, "REQUEST_URI", path) != IOTD_OK || add_param(&params, "DOCUMENT_URI", path) != IOTD_OK ||
        add_param(&params, "QUERY_STRING", "") != IOTD_OK ||
        add_param(&params, "SERVER_PROTOCOL", "HTTP/1.1") != IOTD_OK ||
        add_param(&params, "REMOTE_ADDR", "127.0.0.1") != IOTD_OK ||
        add_param(&params, "REQUEST_ID", "healthcheck") != IOTD_OK ||
        add_record(&req, FCGI_PARAMS, params.data, params.len) != IOTD_OK ||
        add_record(&req, FCGI_PARAMS, "", 0) != IOTD_OK || add_record(&req, FCGI_STDIN, "", 0) != IOTD_OK) {
        snprintf(err, errlen, "request too large");
        goto done;
    }
    for (size_t off = 0; off < req.len;) {
        ssize_t n = write(fd, req.data + off, req.len - off);
        if (n <= 0) {
            snprintf(err, errlen, "write: %s", strerror(errno));
            goto done;
        }
        off += (size_t)n;
    }
    for (;;) {
        FCGI_Header h;
        if (read_full(fd, &h, sizeof h, timeout_ms) != IOTD_OK) {
            snprintf(err, errlen, "no complete answer within %d ms", timeout_ms);
            goto done;
        }
        size_t clen = ((size_t)h.contentLengthB1 << 8) | h.contentLengthB0;
        char content[65536 + 256];
        if (read_full(fd, content, clen + h.paddingLength, timeout_ms) != IOTD_OK) {
            snprintf(err, errlen, "truncated record");
            goto done;
        }
        if (h.type == FCGI_STDOUT && iotd_buf_append(&out, content, clen) != IOTD_OK) {
            snprintf(err, errlen, "response too large");
            goto done;
        }
        if (h.type == FCGI_END_REQUEST)
            break;
    }
    const char *sep = out.data ? strstr(out.data, "\r\n\r\n") : NULL;
    if (!sep) {
        snprintf(err, errlen, "response without headers");
        goto done;
    }
    *status = 200;
    for (const char *line = out.data; line < sep;) {
        if (strncasecmp(line, "Status:", 7) == 0)
            *status = atoi(line + 7);
        const char *nl = strstr(line, "\r\n");
        line = nl ? nl + 2 : sep;
    }
    rc = iotd_buf_append(body, sep + 4, out.len - (size_t)(sep + 4 - out.data));
done:
    close(fd);
    iotd_buf_free(&req);
    iotd_buf_free(&params);
    iotd_buf_free(&out);
    return rc;
}
