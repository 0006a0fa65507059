/*
 * spool.c — uploads on disk (see spool.h).
 *
 * The file is opened with O_TMPFILE, so it has no name and disappears with
 * its last descriptor, whatever happens to the process; where the file
 * system lacks O_TMPFILE, a mkstemp name is unlinked at once. Writes are
 * hashed as they go (OpenSSL's EVP SHA-256), so the S3 PUT needs no second
 * pass over the bytes.
 *
 * Writes smaller than the buffer are gathered first and go to the hash and
 * the file together: a multipart parser hands over a file part in pieces
 * that end at every CR, about one per 256 bytes of a compressed image, and
 * a write(2) each would cost a 20 MB upload some 160,000 system calls.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotd.h"

#define SPOOL_COPY_CHUNK (64 * 1024)
#define SPOOL_WRITE_BUFFER (64 * 1024)
#define SPOOL_PATH_MAX 1024

static int open_unnamed(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[SPOOL_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/iotd-spool.XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return -1;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

int iotd_spool_open(iotd_spool *s, const char *dir, size_t max)
{
    *s = (iotd_spool)IOTD_SPOOL_INIT;
    s->max = max;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (!h)
        return IOTD_ERROR;
    if (EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h);
        return IOTD_ERROR;
    }
    s->hash = h;
    s->fd = open_unnamed(dir && *dir ? dir : "/tmp");
    if (s->fd < 0) {
        iotd_spool_close(s);
        return IOTD_ERROR;
    }
    return IOTD_OK;
}

static int write_all(int fd, const char *p, size_t left)
{
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return IOTD_ERROR;
        p += n;
        left -= (size_t)n;
    }
    return IOTD_OK;
}

/* Hashes and writes len bytes at once. */
static int put(iotd_spool *s, const void *data, size_t len)
{
    if (EVP_DigestUpdate(s->hash, data, len) != 1)
        return IOTD_ERROR;
    return write_all(s->fd, data, len);
}

static int flush_pending(iotd_spool *s)
{
    if (!s->npending)
        return IOTD_OK;
    if (put(s, s->pending, s->npending) != IOTD_OK)
        return IOTD_ERROR;
    s->npending = 0;
    return IOTD_OK;
}

int iotd_spool_write(iotd_spool *s, const void *data, size_t len)
{
    if (s->fd < 0 || !s->hash)
        return IOTD_ERROR;
    if (s->max && len > s->max - s->len)
        return IOTD_DECLINED;
    if (len > SPOOL_WRITE_BUFFER - s->npending && flush_pending(s) != IOTD_OK)
        return IOTD_ERROR;
    if (len >= SPOOL_WRITE_BUFFER) {
        if (put(s, data, len) != IOTD_OK)
            return IOTD_ERROR;
    } else if (len) {
        if (!s->pending && !(s->pending = malloc(SPOOL_WRITE_BUFFER)))
            return IOTD_ERROR;
        memcpy(s->pending + s->npending, data, len);
        s->npending += len;
    }
    s->len += len;
    return IOTD_OK;
}

int iotd_spool_reset(iotd_spool *s)
{
    if (s->fd < 0 || !s->hash || ftruncate(s->fd, 0) != 0 || lseek(s->fd, 0, SEEK_SET) != 0 ||
        EVP_DigestInit_ex(s->hash, EVP_sha256(), NULL) != 1)
        return IOTD_ERROR;
    s->len = 0;
    s->npending = 0;
    return IOTD_OK;
}

int iotd_spool_copy_fd(iotd_spool *s, int fd)
{
    char *chunk = malloc(SPOOL_COPY_CHUNK);
    if (!chunk)
        return IOTD_ERROR;
    int rc = IOTD_OK;
    for (;;) {
        ssize_t n = read(fd, chunk, SPOOL_COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = IOTD_ERROR;
            break;
        }
        if (n == 0 || (rc = iotd_spool_write(s, chunk, (size_t)n)) != IOTD_OK)
            break;
    }
    free(chunk);
    return rc;
}

int iotd_spool_finish(iotd_spool *s)
{
    if (s->fd < 0)
        return IOTD_ERROR;
    if (!s->hash)
        return IOTD_OK; /* finished before */
    if (flush_pending(s) != IOTD_OK)
        return IOTD_ERROR;
    free(s->pending);
    s->pending = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_DigestFinal_ex(s->hash, md, &mdlen) == 1 && mdlen * 2 == IOTD_SIGV4_HEX_LEN;
    EVP_MD_CTX_free(s->hash);
    s->hash = NULL;
    if (!ok)
        return IOTD_ERROR;
    iotd_sigv4_digest_hex(md, s->sha256_hex);
    return IOTD_OK;
}

int iotd_spool_finish_written(iotd_spool *s, size_t max)
{
    if (s->fd < 0 || !s->hash || s->len != 0 || s->npending != 0)
        return IOTD_ERROR;
    char *chunk = malloc(SPOOL_COPY_CHUNK);
    if (!chunk)
        return IOTD_ERROR;
    int rc = IOTD_OK;
    size_t len = 0;
    for (;;) {
        long n = iotd_spool_pread(s, chunk, SPOOL_COPY_CHUNK, len);
        if (n < 0) {
            rc = IOTD_ERROR;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            rc = IOTD_DECLINED;
            break;
        }
        if (EVP_DigestUpdate(s->hash, chunk, (size_t)n) != 1) {
            rc = IOTD_ERROR;
            break;
        }
    }
    free(chunk);
    if (rc != IOTD_OK)
        return rc;
    s->len = len;
    return iotd_spool_finish(s);
}

long iotd_spool_pread(const iotd_spool *s, void *dst, size_t len, size_t offset)
{
    for (;;) {
        ssize_t n = pread(s->fd, dst, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        return (long)n;
    }
}

void iotd_spool_close(iotd_spool *s)
{
    if (s->hash)
        EVP_MD_CTX_free(s->hash);
    free(s->pending);
    if (s->fd >= 0)
        close(s->fd);
    *s = (iotd_spool)IOTD_SPOOL_INIT;
}
