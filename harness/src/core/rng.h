/* fray's PRNG and the draws built on it that two programs must make alike:
 * the library (schedules, the simulator's short writes) and the preload
 * shim (harness/shim/policy.c), which links nothing of libfray. So this is
 * header-only C with no dependency but <stddef.h> and <stdint.h>. */
#ifndef FRAY_CORE_RNG_H
#define FRAY_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

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

/* Whether cutting the len (>= 2) bytes at d before position p (1..len-1)
 * is worth trying: where framing bugs live, around line ends and NULs, at
 * word starts (command | argument), at the first and last byte. */
static inline int fray__cut_interesting(const uint8_t *d, size_t len, size_t p) {
  if (p == 1 || p == len - 1)
    return 1;
  uint8_t a = d[p - 1], z = d[p];
  return a == '\r' || a == '\n' || a == 0 || z == '\r' || z == '\n' || z == 0 ||
         (a == ' ' && z != ' ');
}

/* The first interesting cut position at or after start (1..len-1), going
 * round; 0 if there is none. */
static inline size_t fray__cut_scan(const uint8_t *d, size_t len, size_t start) {
  for (size_t k = 0; k < len - 1; k++) {
    size_t p = 1 + (start - 1 + k) % (len - 1);
    if (fray__cut_interesting(d, len, p))
      return p;
  }
  return 0;
}

/* The last interesting cut position at or before start (1..len-1), going
 * round; 0 if there is none. Scanning both ways gives a position the
 * uninteresting stretches on both sides of it: forward alone reaches a
 * send's first byte from start 1 only. */
static inline size_t fray__cut_scan_back(const uint8_t *d, size_t len, size_t start) {
  for (size_t k = 0; k < len - 1; k++) {
    size_t p = 1 + (start - 1 + (len - 1) - k) % (len - 1);
    if (fray__cut_interesting(d, len, p))
      return p;
  }
  return 0;
}

/* A short write from draw r: whether it is an EAGAIN (one in four), and
 * otherwise how many bytes it accepts (1-16). The simulator's fake sockets
 * and the shim draw alike, so --short-writes means the same in both. */
static inline int fray__short_eagain(uint64_t r) {
  return (r & 3) == 0;
}

static inline size_t fray__short_take(uint64_t r) {
  return 1 + (size_t)((r >> 2) % 16);
}

#endif
