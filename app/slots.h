/*
 * slots.h — a limit on how many workers may do one kind of heavy work at
 * once, so that a burst of it never takes every worker away from the
 * pages: uploads (reading a large body, waiting for the renditions) and
 * sign-ins (a deliberately slow password hash each).
 *
 * A slot is an flock(2) on one of N files in a folder the master makes;
 * the kernel drops the lock when its holder exits, even by SIGKILL, so a
 * slot is never lost.
 */
#ifndef IOTD_SLOTS_H
#define IOTD_SLOTS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { IOTD_SLOT_UPLOAD, IOTD_SLOT_SIGNIN } iotd_slot_kind;

/* Master: makes a private folder with uploads + signins slot files; its
 * path goes to out. */
int iotd_slots_create(int uploads, int signins, char *out, size_t outlen);
/* Master, at exit: removes the folder. */
void iotd_slots_remove(const char *dir, int uploads, int signins);
/* Worker: takes a free slot of kind (count of them) without waiting.
 * Returns its descriptor, or -1 when all are taken (or on error, logged). */
int iotd_slot_take(const char *dir, iotd_slot_kind kind, int count);
void iotd_slot_give(int fd);
/* Worker: the pool's shared counter of image changes (a file in the
 * folder, mapped shared), for the page caches; NULL on error (logged). */
uint64_t *iotd_slots_counter(const char *dir);

#endif
