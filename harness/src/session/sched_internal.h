/* Schedule internals shared by the reads a schedule makes (reads.c), its
 * description (sched.c), the player and the minimiser. Never installed. */
#ifndef FRAY_SCHED_INTERNAL_H
#define FRAY_SCHED_INTERNAL_H

#include "fray/sched.h"

/* Writes the index of every SEND step of steps[0..nsteps) into out (which
 * holds nsteps entries; NULL: only count) and returns their number. */
size_t fray__sched_send_steps(const fray_step_t *steps, size_t nsteps, size_t *out);

/* The read boundaries of one send: the script's `|` cuts, the schedule's
 * cuts and its `every`, merged in order without duplicates and without
 * materialising `every` (a bytewise 64 MiB send costs no array).
 *
 *   fray__cuts_t it;
 *   fray__cuts_init(&it, st, ss);          // ss may be NULL: the script's cuts only
 *   size_t prev = 0, end;
 *   do { end = fray__cuts_next(&it); read(st->data + prev, end - prev); prev = end; }
 *   while (end < st->len);
 */
typedef struct fray__cuts {
  const size_t *a, *b; /* the script's cuts and the schedule's */
  size_t na, nb, ia, ib;
  size_t every; /* 0: none */
  size_t len;   /* the send's length: the last end */
  size_t last;  /* the end returned last */
} fray__cuts_t;

void fray__cuts_init(fray__cuts_t *it, const fray_step_t *st, const fray_sched_send_t *ss);

/* The end of the next read: the next boundary after the last one, or len
 * when none is left (then the send is over). */
size_t fray__cuts_next(fray__cuts_t *it);

#endif
