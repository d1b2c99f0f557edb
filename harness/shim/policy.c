/* The standing policies of the shim: see policy.h. */
#include "policy.h"

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
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t fray__shim_stream(uint64_t seed, uint64_t conn) {
  uint64_t s = seed * 0x100000001b3ULL + 0xcbf29ce484222325ULL + conn;
  return fray__shim_rand(&s);
}

/* Where framing bugs live: around line ends and NULs, at word starts
 * (command | argument), at the first and last byte. */
static int interesting(const uint8_t *d, size_t n, size_t p) {
  if (p == 1 || p == n - 1)
    return 1;
  uint8_t a = d[p - 1], z = d[p];
  return a == '\r' || a == '\n' || a == 0 || z == '\r' || z == '\n' || z == 0 ||
         (a == ' ' && z != ' ');
}

size_t fray__shim_random_cut(uint64_t *rng, const uint8_t *d, size_t n) {
  uint64_t r = fray__shim_rand(rng);
  if (n < 2 || (r & 3) == 0)
    return n;
  if ((r & 12) != 0) {
    size_t start = 1 + (size_t)((r >> 4) % (n - 1));
    for (size_t k = 0; k < n - 1; k++) {
      size_t p = 1 + (start - 1 + k) % (n - 1);
      if (interesting(d, n, p))
        return p;
    }
  }
  return 1 + (size_t)((r >> 8) % (n - 1));
}

size_t fray__shim_write_take(uint64_t *rng, size_t len, int nonblocking) {
  uint64_t r = fray__shim_rand(rng);
  if ((r & 3) == 0 && nonblocking)
    return 0;
  size_t take = 1 + (size_t)((r >> 2) % 16);
  return take < len ? take : len;
}
