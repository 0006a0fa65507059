/*
 * slots.c — counted slots across processes with flock(2), and the
 * pool's shared page-change counter, all in one folder the master makes.
 */
#include "slots.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iotd.h"
#include "log.h"

#define SLOTS_MAX 256
#define SLOTS_PARENT "/tmp"

static const char *const kind_names[] = {"upload", "signin"};
#define SLOTS_COUNTER_FILE "pages-changed"

static void slot_path(char *path, size_t len, const char *dir, iotd_slot_kind kind, int i)
{
    snprintf(path, len, "%s/%s-%d", dir, kind_names[kind], i);
}

static void counter_path(char *path, size_t len, const char *dir)
{
    snprintf(path, len, "%s/%s", dir, SLOTS_COUNTER_FILE);
}

int iotd_slots_create(int uploads, int signins, char *out, size_t outlen)
{
    if (uploads < 1 || uploads > SLOTS_MAX || signins < 1 || signins > SLOTS_MAX || outlen < 32)
        return IOTD_ERROR;
    int n = snprintf(out, outlen, "%s/iotd-slots.XXXXXX", SLOTS_PARENT);
    if (n < 0 || (size_t)n >= outlen || !mkdtemp(out))
        return IOTD_ERROR;
    const int counts[] = {uploads, signins};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < counts[k]; i++) {
            char path[1024];
            slot_path(path, sizeof path, out, (iotd_slot_kind)k, i);
            int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            if (fd < 0)
                return IOTD_ERROR;
            close(fd);
        }
    }
    char path[1024];
    counter_path(path, sizeof path, out);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return IOTD_ERROR;
    int rc = ftruncate(fd, sizeof(uint64_t)) == 0 ? IOTD_OK : IOTD_ERROR;
    close(fd);
    return rc;
}

void iotd_slots_remove(const char *dir, int uploads, int signins)
{
    if (!dir || !dir[0])
        return;
    const int counts[] = {uploads, signins};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < counts[k]; i++) {
            char path[1024];
            slot_path(path, sizeof path, dir, (iotd_slot_kind)k, i);
            unlink(path);
        }
    }
    char path[1024];
    counter_path(path, sizeof path, dir);
    unlink(path);
    rmdir(dir);
}

uint64_t *iotd_slots_counter(const char *dir)
{
    char path[1024];
    counter_path(path, sizeof path, dir);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        iotd_log(IOTD_LOG_ERROR, "change counter %s: %s", path, strerror(errno));
        return NULL;
    }
    void *p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd); /* the mapping stays */
    if (p == MAP_FAILED) {
        iotd_log(IOTD_LOG_ERROR, "change counter %s: %s", path, strerror(errno));
        return NULL;
    }
    return p;
}

int iotd_slot_take(const char *dir, iotd_slot_kind kind, int count)
{
    for (int i = 0; i < count; i++) {
        char path[1024];
        slot_path(path, sizeof path, dir, kind, i);
        /* each worker opens its own description, so locks are per process */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            iotd_log(IOTD_LOG_ERROR, "slot %s: %s", path, strerror(errno));
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
