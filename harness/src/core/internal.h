/* Internal helpers shared by library modules and the CLI. Never installed. */
#ifndef FRAY_INTERNAL_H
#define FRAY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fray/common.h"

/* Copies *src (or the default allocator when src is NULL) into *dst. */
void fray__mem_init(fray_mem_t *dst, const fray_mem_t *src);

static inline void *fray__malloc(const fray_mem_t *m, size_t n) {
  return m->malloc_fn(n ? n : 1, m->user_data);
}
static inline void *fray__realloc(const fray_mem_t *m, void *p, size_t n) {
  return m->realloc_fn(p, n ? n : 1, m->user_data);
}
static inline void fray__free(const fray_mem_t *m, void *p) {
  if (p)
    m->free_fn(p, m->user_data);
}

/* Grows *p (capacity *cap elements of elem bytes) to hold need elements,
 * doubling from 64 (or from *cap), so n appends cost O(n). 0, or
 * FRAY_ENOMEM when the allocator fails or need * elem does not fit in a
 * size_t (then *p and *cap are unchanged): every growable array in the
 * library goes through here, so none multiplies its way past SIZE_MAX. */
int fray__grow(const fray_mem_t *m, void **p, size_t *cap, size_t need, size_t elem);

/* fray__grow, but the doubling stops at max elements when need fits in
 * max: a buffer with a natural bound (the framer's longest frame) does not
 * overshoot it by up to 2x. need above max still grows by doubling. */
int fray__grow_max(const fray_mem_t *m, void **p, size_t *cap, size_t need, size_t elem,
                   size_t max);

/* The library's one PRNG: splitmix64 (Steele, Lea and Flood, "Fast
 * splittable pseudorandom number generators", 2014): one add and two
 * multiply-xorshifts per value, any state (0 too) is a good seed. Its
 * output is a contract, not a detail: schedules, short writes and mutations
 * are derived from it, and the seeds printed in reproducers and failure
 * reports must give the same runs in every later version. Never change the
 * constants; tests/test_rng.c pins the sequence. */
#define FRAY__RNG_GAMMA 0x9e3779b97f4a7c15ULL

static inline uint64_t fray__rng_next(uint64_t *state) {
  uint64_t z = (*state += FRAY__RNG_GAMMA);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* The value fray__rng_next() returns as the (i+1)-th draw from state seed,
 * without drawing the i before it: per-run seeds (run i of seed s is the
 * same run whatever the run count). */
static inline uint64_t fray__rng_at(uint64_t seed, uint64_t i) {
  uint64_t s = seed + i * FRAY__RNG_GAMMA;
  return fray__rng_next(&s);
}

struct fray_script;
/* A new script with no steps but orig's clients (same indices, so orig's
 * steps can be added to it as they are) and @handler: what the minimiser
 * and the mutator build their variants on. mem may be NULL. 0 or
 * FRAY_ENOMEM; *out is NULL on failure. */
int fray__script_new_like(const struct fray_script *orig, const fray_mem_t *mem,
                          struct fray_script **out);

/* The allocator s was created with (never NULL): what code building on a
 * script (its variants, their scratch memory) allocates with. */
const fray_mem_t *fray__script_mem(const struct fray_script *s);

/* From now on, steps added to s keep pointing at the caller's bytes instead
 * of copies (those bytes must outlive s and are not NUL-terminated): the
 * fuzz decoder's sessions, built for every fuzz input, copy nothing.
 * Regex and glob expectations are refused (FRAY_EINVAL). Only on a script
 * with no steps yet: 0 or FRAY_ESTATE. */
int fray__script_borrow(struct fray_script *s);

#endif /* FRAY_INTERNAL_H */
