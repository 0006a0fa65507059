/*
 * spool.h — an upload held on disk: an unlinked temporary file, its length
 * and its SHA-256, computed while it is written.
 *
 * Uploads and renditions pass through spools so that a worker holds one
 * chunk of an image in memory, never the whole file; S3 PUTs read from the
 * file and send the hash as x-amz-content-sha256.
 */
#ifndef IOTD_SPOOL_H
#define IOTD_SPOOL_H

#include <stddef.h>

#include "sigv4.h"

typedef struct iotd_spool {
    int fd;        /* -1 when closed */
    size_t len;    /* bytes written */
    size_t max;    /* writes past it fail with IOTD_DECLINED; 0 = no limit */
    void *hash;    /* the running SHA-256 (EVP_MD_CTX), until finished */
    char *pending; /* writes not yet in the file (SPOOL_WRITE_BUFFER bytes) */
    size_t npending;
    char sha256_hex[IOTD_SIGV4_HEX_LEN + 1]; /* set by iotd_spool_finish */
} iotd_spool;

#define IOTD_SPOOL_INIT                                                                                      \
    {                                                                                                        \
        -1, 0, 0, NULL, NULL, 0, ""                                                                          \
    }

/* An empty spool in dir (O_TMPFILE: nothing to clean up after a crash). */
int iotd_spool_open(iotd_spool *s, const char *dir, size_t max);
/* IOTD_OK; IOTD_DECLINED past max (nothing written); IOTD_ERROR on I/O.
 * Small writes are gathered into one buffer before they reach the file (a
 * multipart body arrives in pieces cut at every CR), so iotd_spool_finish
 * must come before the file is read. */
int iotd_spool_write(iotd_spool *s, const void *data, size_t len);
/* Empties an unfinished spool (a download that is tried again). */
int iotd_spool_reset(iotd_spool *s);
/* Copies everything readable from fd (e.g. a file given on the command line). */
int iotd_spool_copy_fd(iotd_spool *s, int fd);
/* Ends writing: what is buffered goes to the file, and the hash is final. */
int iotd_spool_finish(iotd_spool *s);
/* For a spool another process wrote through its descriptor: reads the file
 * once to learn its length (at most max) and hash, then finishes it. */
int iotd_spool_finish_written(iotd_spool *s, size_t max);
/* Reads up to len bytes at offset; returns the count, or -1. */
long iotd_spool_pread(const iotd_spool *s, void *dst, size_t len, size_t offset);
void iotd_spool_close(iotd_spool *s);

#endif
