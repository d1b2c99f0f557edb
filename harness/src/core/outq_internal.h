/* Output-queue internals for tests. Never installed. */
#ifndef FRAY_OUTQ_INTERNAL_H
#define FRAY_OUTQ_INTERNAL_H

#include "fray/outq.h"

/* Checks the queue's invariants. */
/* 0 when the invariants hold, else a negative code naming none in particular. */
int fray__outq_check(const fray_outq_t *q);

/* One piece of a gathered push. */
typedef struct fray__iov {
  const uint8_t *data;
  size_t len;
} fray__iov_t;

/* fray_outq_push() of the n pieces at v as one copy: all queued, in order,
 * or none (the same returns). What fray_conn_send_frame() queues a frame's
 * head, payload and tail with. */
int fray__outq_pushv(fray_outq_t *q, const fray__iov_t *v, size_t n);

/* A queue in storage its owner provides: fray__outq_size(inline_cap) bytes,
 * aligned for any type, holding the queue and, when inline_cap > 0, a first
 * copy block of inline_cap bytes that is reused and never freed. A
 * connection keeps its queue in its own block this way, so opening one and
 * sending its first replies allocate nothing more. Arguments as for
 * fray_outq_new(). Such a queue is never given to fray_outq_free():
 * fray__outq_fini() releases what it holds (free callbacks as
 * fray_outq_free() calls them) and the owner frees the storage. */
size_t fray__outq_size(size_t inline_cap);
void fray__outq_init(fray_outq_t *q, size_t high_water, const fray_mem_t *mem, void *user_data,
                     size_t inline_cap);
void fray__outq_fini(fray_outq_t *q);

#endif
