/* The standing policies of the shim: see policy.h. */
#include "policy.h"

#include "../src/core/rng.h" /* header-only: the shim links nothing of libfray */

#include <stdlib.h>
#include <string.h>

static int parse_u64(const char *s, uint64_t *out) {
  if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
    return -1;
  *out = strtoull(s, NULL, 10);
  return 0;
}

int fray__shim_parse_reads(fray__shim_policy_t *p, const char *s) {
  uint64_t v = 1;
  if (!strcmp(s, "all")) {
    p->reads = FRAY_SHIM_READS_ALL;
    return 0;
  }
  if (!strcmp(s, "1") || (!strncmp(s, "max:", 4) && !parse_u64(s + 4, &v) && v >= 1)) {
    p->reads = FRAY_SHIM_READS_MAX;
    p->max = (size_t)v;
    return 0;
  }
  if (!strcmp(s, "random") || (!strncmp(s, "random:", 7) && !parse_u64(s + 7, &v))) {
    p->reads = FRAY_SHIM_READS_RANDOM;
    p->read_seed = v;
    return 0;
  }
  return -1;
}

int fray__shim_parse_writes(fray__shim_policy_t *p, const char *s) {
  uint64_t v = 1;
  if (!strcmp(s, "all")) {
    p->short_writes = 0;
    return 0;
  }
  if (!strcmp(s, "short") || (!strncmp(s, "short:", 6) && !parse_u64(s + 6, &v))) {
    p->short_writes = 1;
    p->write_seed = v;
    return 0;
  }
  return -1;
}

uint64_t fray__shim_rand(uint64_t *state) {
  return fray__rng_next(state);
}

uint64_t fray__shim_stream(uint64_t seed, uint64_t conn) {
  uint64_t s = seed * 0x100000001b3ULL + 0xcbf29ce484222325ULL + conn;
  return fray__rng_next(&s);
}

size_t fray__shim_random_cut(uint64_t *rng, const uint8_t *d, size_t n) {
  uint64_t r = fray__rng_next(rng);
  if (n < 2 || (r & 3) == 0)
    return n;
  size_t p = (r & 12) != 0 ? fray__cut_scan(d, n, 1 + (size_t)((r >> 4) % (n - 1))) : 0;
  return p ? p : 1 + (size_t)((r >> 8) % (n - 1));
}

size_t fray__shim_write_take(uint64_t *rng, size_t len, int nonblocking) {
  uint64_t r = fray__rng_next(rng);
  if (fray__short_eagain(r) && nonblocking)
    return 0;
  size_t take = fray__short_take(r);
  return take < len ? take : len;
}
