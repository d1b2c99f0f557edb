/* The reads a schedule makes of a script's sends: its cuts (the script's
 * `|` and the schedule's, merged) and its merges of a client's consecutive
 * sends into one read. The player (run/player.c) hands each read to its
 * transport. */
#ifndef FRAY_READS_INTERNAL_H
#define FRAY_READS_INTERNAL_H

#include "fray/sched.h"

typedef struct fray__reads {
  fray_mem_t mem;
  const fray_step_t *steps; /* the script's (borrowed) */
  const size_t *send_step;  /* send number -> step index (borrowed) */
  size_t nsends;
  uint8_t *scratch; /* a merged read being assembled */
  size_t scratch_len, scratch_cap;
} fray__reads_t;

/* Called once per read, in order, never with n == 0; a nonzero return stops
 * the send and is returned. p is valid for the call only. last: the read
 * ends the send (its last bytes; a read merged into the next send is not
 * the last of its own). */
typedef int (*fray__read_fn)(void *ctx, const uint8_t *p, size_t n, int last);

void fray__reads_init(fray__reads_t *r, const fray_mem_t *mem, const fray_step_t *steps,
                      const size_t *send_step, size_t nsends);
void fray__reads_free(fray__reads_t *r);

/* Forgets a merge in progress: call at the start of every run. */
void fray__reads_reset(fray__reads_t *r);

/* Delivers send number k under sched (NULL: whole, the script's own cuts
 * only) through fn. When the send's last read merges into the next send, it
 * is held back and delivered with that send's first read. Returns 0, fn's
 * nonzero result, or FRAY_ENOMEM. */
int fray__reads_send(fray__reads_t *r, const fray_sched_t *sched, size_t k, fray__read_fn fn,
                     void *ctx);

#endif
