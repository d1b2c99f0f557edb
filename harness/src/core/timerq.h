/* The timer queue behind handler timers (fray_conn_timer_start and
 * fray_server_timer_start): a binary min-heap of deadlines over a pool of
 * slots. A timer is named by an id (slot and generation), never by a
 * pointer, so a handler cancelling a timer that already fired or was
 * cancelled gets FRAY_ENOENT rather than a dangling write, and a stale id
 * never hits the slot's next user. Every owner (a connection, the server)
 * keeps its timers on a list, so closing a connection cancels its timers in
 * time proportional to their number. No clock here: deadlines are numbers
 * the runtime computes from its driver's clock. */
#ifndef FRAY_TIMERQ_H
#define FRAY_TIMERQ_H

#include <stddef.h>
#include <stdint.h>

#include "fray/common.h"

#define FRAY__TIMER_NIL UINT32_MAX

typedef struct fray__timer {
  uint64_t deadline;
  uint64_t seq;        /* start order: equal deadlines fire first started first */
  void *owner;         /* the connection; NULL for the server's */
  void (*fn)(void);    /* the handler's callback, as its owner's type casts it */
  void *arg;           /* the handler's, untouched */
  uint32_t gen;        /* bumped whenever the slot is freed: old ids miss */
  uint32_t pos;        /* index in the heap; FRAY__TIMER_NIL when free */
  uint32_t prev, next; /* the owner's list; next links free slots too */
  uint32_t *list;      /* the owner's list head */
} fray__timer_t;

typedef struct fray__timerq {
  const fray_mem_t *mem;
  fray__timer_t *slot;
  size_t nslot, capslot;
  uint32_t *heap; /* slot indices, ordered by (deadline, seq) */
  size_t nheap, capheap;
  uint32_t free; /* first free slot, FRAY__TIMER_NIL when none */
  uint64_t seq;
} fray__timerq_t;

/* An empty queue allocating with mem (borrowed: it must outlive q). */
void fray__timerq_init(fray__timerq_t *q, const fray_mem_t *mem);

/* Frees what q holds; its timers are forgotten, none fires. */
void fray__timerq_fini(fray__timerq_t *q);

/* Adds a timer due at deadline, owned by owner and put on the list whose
 * head is *list (FRAY__TIMER_NIL when empty). *id receives its nonzero id.
 * 0 or FRAY_ENOMEM (nothing added). */
int fray__timerq_add(fray__timerq_t *q, uint64_t deadline, void *owner, uint32_t *list,
                     void (*fn)(void), void *arg, uint64_t *id);

/* Cancels timer id if it is pending and owned by owner: 0, or FRAY_ENOENT
 * (fired, cancelled, another owner's, or never an id). */
int fray__timerq_cancel(fray__timerq_t *q, uint64_t id, const void *owner);

/* Cancels every timer on the list *list (which ends empty). */
void fray__timerq_cancel_list(fray__timerq_t *q, uint32_t *list);

/* The earliest deadline, UINT64_MAX when no timer is pending. */
uint64_t fray__timerq_next(const fray__timerq_t *q);

/* Takes the earliest timer out of q if it is due (deadline <= now), copying
 * it into *out and its id into *id (unless NULL): 1, or 0 when none is due. */
int fray__timerq_pop_due(fray__timerq_t *q, uint64_t now, fray__timer_t *out, uint64_t *id);

/* The clock's origin changed: every pending timer keeps the time it had
 * left at old (none if overdue), now counted from now. */
void fray__timerq_rebase(fray__timerq_t *q, uint64_t old, uint64_t now);

/* Pending timers. */
static inline size_t fray__timerq_count(const fray__timerq_t *q) {
  return q->nheap;
}

#endif /* FRAY_TIMERQ_H */
