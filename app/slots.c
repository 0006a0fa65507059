/*
 * slots.c — counted slots across processes with flock(2).
 */
#include "slots.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "iotd.h"
#include "log.h"

#define SLOTS_MAX 256
#define SLOTS_PARENT "/tmp"

int iotd_slots_create(int count, char *out, size_t outlen)
{
    if (count < 1 || count > SLOTS_MAX || outlen < 32)
        return IOTD_ERROR;
    int n = snprintf(out, outlen, "%s/iotd-slots.XXXXXX", SLOTS_PARENT);
    if (n < 0 || (size_t)n >= outlen || !mkdtemp(out))
        return IOTD_ERROR;
    for (int i = 0; i < count; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%d", out, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return IOTD_ERROR;
        close(fd);
    }
    return IOTD_OK;
}

void iotd_slots_remove(const char *dir, int count)
{
    if (!dir || !dir[0])
        return;
    for (int i = 0; i < count; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%d", dir, i);
        unlink(path);
    }
    rmdir(dir);
}

int iotd_slot_take(const char *dir, int count)
{
    for (int i = 0; i < count; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%d", dir, i);
        /* each worker opens its own description, so locks are per process */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            iotd_log(IOTD_LOG_ERROR, "upload slot %s: %s", path, strerror(errno));
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        close(fd);
    }
    return -1;
}

void iotd_slot_give(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the only descriptor releases the lock */
}
