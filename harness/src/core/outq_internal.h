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

#endif
