/* A counting fray_mem_t for the fail-malloc loops of the unit programs:
 * counts allocation attempts, fails the Nth (1-based), and counts live
 * blocks, so a test sees a leak on any build (ASan confirms it).
 *
 *   failmem_t fm = {.fail_at = k};
 *   fray_mem_t mem = failmem_mem(&fm);
 *   ... run with &mem ...; fm.count: attempts; fm.live: blocks not freed */
#ifndef FRAY_TESTS_FAILMEM_H
#define FRAY_TESTS_FAILMEM_H

#include <stdlib.h>

#include "fray/common.h"

typedef struct failmem {
  long count;   /* allocation attempts so far (malloc and realloc) */
  long fail_at; /* the attempt that fails (1-based); 0: none */
  long live;    /* blocks allocated and not yet freed */
} failmem_t;

static inline void *failmem_malloc(size_t n, void *ud) {
  failmem_t *f = ud;
  if (++f->count == f->fail_at)
    return NULL;
  void *p = malloc(n);
  f->live += p != NULL;
  return p;
}

static inline void *failmem_realloc(void *p, size_t n, void *ud) {
  failmem_t *f = ud;
  if (++f->count == f->fail_at)
    return NULL;
  void *q = realloc(p, n);
  f->live += q && !p;
  return q;
}

static inline void failmem_free(void *p, void *ud) {
  failmem_t *f = ud;
  f->live -= p != NULL;
  free(p);
}

static inline fray_mem_t failmem_mem(failmem_t *f) {
  fray_mem_t m = {failmem_malloc, failmem_realloc, failmem_free, f};
  return m;
}

#endif /* FRAY_TESTS_FAILMEM_H */
