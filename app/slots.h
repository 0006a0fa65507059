/*
 * slots.h — a limit on how many workers may do one kind of heavy work at
 * once (uploads: reading a large body and resizing it), so that a burst
 * of uploads never takes every worker away from the pages.
 *
 * A slot is an flock(2) on one of N files in a folder the master makes;
 * the kernel drops the lock when its holder exits, even by SIGKILL, so a
 * slot is never lost.
 */
#ifndef IOTD_SLOTS_H
#define IOTD_SLOTS_H

#include <stddef.h>

/* Master: makes a private folder with count slot files; its path goes to out. */
int iotd_slots_create(int count, char *out, size_t outlen);
/* Master, at exit: removes the folder. */
void iotd_slots_remove(const char *dir, int count);
/* Worker: takes a free slot without waiting. Returns its descriptor, or -1
 * when all are taken (or on error, logged). */
int iotd_slot_take(const char *dir, int count);
void iotd_slot_give(int fd);

#endif
