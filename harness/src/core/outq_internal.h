/* Output-queue internals for tests. Never installed. */
#ifndef FRAY_OUTQ_INTERNAL_H
#define FRAY_OUTQ_INTERNAL_H

#include "fray/outq.h"

/* Checks the queue's invariants. */
/* 0 when the invariants hold, else a negative code naming none in particular. */
int fray__outq_check(const fray_outq_t *q);

#endif
