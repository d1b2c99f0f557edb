/* Sends into reads under a schedule (reads_internal.h). */
#include "session/reads_internal.h"

#include <string.h>

#include "core/internal.h"
#include "session/sched_internal.h"

void fray__reads_init(fray__reads_t *r, const fray_mem_t *mem, const fray_step_t *steps,
                      const size_t *send_step, size_t nsends) {
  memset(r, 0, sizeof *r);
  fray__mem_init(&r->mem, mem);
  r->steps = steps;
  r->send_step = send_step;
  r->nsends = nsends;
}

void fray__reads_free(fray__reads_t *r) {
  fray__free(&r->mem, r->scratch);
  r->scratch = NULL;
}

void fray__reads_reset(fray__reads_t *r) {
  r->scratch_len = 0;
}

/* Whether send k's last read joins send k+1's first: the schedule says so
 * and the next step is a send of the same client. */
static int merges_into_next(const fray__reads_t *r, const fray_sched_t *sched, size_t k) {
  if (!sched || k >= sched->nsends || !sched->sends[k].merge_next || k + 1 >= r->nsends)
    return 0;
  size_t i = r->send_step[k], j = r->send_step[k + 1];
  return j == i + 1 && r->steps[i].client == r->steps[j].client;
}

static int scratch_add(fray__reads_t *r, const uint8_t *p, size_t n) {
  if (fray__grow(&r->mem, (void **)&r->scratch, &r->scratch_cap, r->scratch_len + n, 1))
    return FRAY_ENOMEM;
  if (n)
    memcpy(r->scratch + r->scratch_len, p, n);
  r->scratch_len += n;
  return 0;
}

int fray__reads_send(fray__reads_t *r, const fray_sched_t *sched, size_t k, fray__read_fn fn,
                     void *ctx) {
  const fray_step_t *st = &r->steps[r->send_step[k]];
  fray__cuts_t it;
  fray__cuts_init(&it, st, sched && k < sched->nsends ? &sched->sends[k] : NULL);
  int merges = merges_into_next(r, sched, k);
  size_t prev = 0, end;
  do {
    end = fray__cuts_next(&it);
    const uint8_t *p = st->data + prev;
    size_t n = end - prev;
    int first = prev == 0, last = end == st->len;
    prev = end;
    if (first && r->scratch_len) {
      /* The previous send's last read waits to be merged with this one. */
      if (scratch_add(r, p, n))
        return FRAY_ENOMEM;
      if (last && merges)
        return 0;
      size_t len = r->scratch_len;
      r->scratch_len = 0;
      int rc = fn(ctx, r->scratch, len, last);
      if (rc)
        return rc;
      continue;
    }
    if (last && merges)
      return scratch_add(r, p, n);
    if (n) {
      int rc = fn(ctx, p, n, last);
      if (rc)
        return rc;
    }
  } while (end < st->len);
  return 0;
}
