/* Malformed variants of scripts (fray/mutate.h). */
#include "fray/mutate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fray/framer.h"
#include "core/internal.h"

#define OVERSIZE_CAP ((size_t)4 << 20) /* an oversized send stays below this */

const char *fray_mutation_name(fray_mutation_t m) {
  static const char *const names[FRAY_MUT_COUNT] = {
      "truncate",      "drop-delimiter", "duplicate", "insert-nul", "insert-ff",
      "insert-random", "oversize",       "bit-flip",  "close-mid",  "reset-mid"};
  return (unsigned)m < FRAY_MUT_COUNT ? names[m] : "unknown";
}

static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

typedef struct buf {
  uint8_t *p;
  size_t len;
} buf_t;

/* The mutated bytes of one send into *out (allocated). Returns 0 or
 * FRAY_ENOMEM; *m may be changed to what could be done. */
static int mutate_bytes(const fray_step_t *st, fray_mutation_t *m, uint64_t *rng, size_t max_frame,
                        buf_t *out, char *note, size_t nsize) {
  const uint8_t *d = st->data;
  size_t n = st->len, cap = 0;
  switch (*m) {
  case FRAY_MUT_DUPLICATE:
    cap = 2 * n;
    break;
  case FRAY_MUT_INSERT_NUL:
  case FRAY_MUT_INSERT_FF:
  case FRAY_MUT_INSERT_RANDOM:
    cap = n + 8;
    break;
  case FRAY_MUT_OVERSIZE:
    cap = 2 * max_frame + 64 < OVERSIZE_CAP ? 2 * max_frame + 64 : OVERSIZE_CAP;
    if (cap < n)
      cap = n;
    break;
  default:
    cap = n;
  }
  out->p = malloc(cap ? cap : 1);
  if (!out->p)
    return FRAY_ENOMEM;
  size_t o = 0;
  switch (*m) {
  case FRAY_MUT_TRUNCATE:
  case FRAY_MUT_CLOSE_MID:
  case FRAY_MUT_RESET_MID:
    o = n > 1 ? 1 + (size_t)(next(rng) % (n - 1)) : 0;
    memcpy(out->p, d, o);
    snprintf(note, nsize, "%s %zu -> %zu bytes", fray_mutation_name(*m), n, o);
    break;
  case FRAY_MUT_DROP_DELIM:
    o = n;
    if (o && (d[o - 1] == '\n' || d[o - 1] == 0))
      o--;
    if (o && d[o - 1] == '\r')
      o--;
    memcpy(out->p, d, o);
    snprintf(note, nsize, "%s %zu -> %zu bytes", fray_mutation_name(*m), n, o);
    break;
  case FRAY_MUT_DUPLICATE:
    memcpy(out->p, d, n);
    memcpy(out->p + n, d, n);
    o = 2 * n;
    snprintf(note, nsize, "%s (%zu bytes twice)", fray_mutation_name(*m), n);
    break;
  case FRAY_MUT_INSERT_NUL:
  case FRAY_MUT_INSERT_FF:
  case FRAY_MUT_INSERT_RANDOM: {
    size_t at = n ? (size_t)(next(rng) % (n + 1)) : 0, k = 1 + (size_t)(next(rng) % 8);
    memcpy(out->p, d, at);
    for (size_t i = 0; i < k; i++)
      out->p[at + i] = *m == FRAY_MUT_INSERT_NUL  ? 0
                       : *m == FRAY_MUT_INSERT_FF ? 0xff
                                                  : (uint8_t)next(rng);
    memcpy(out->p + at + k, d + at, n - at);
    o = n + k;
    snprintf(note, nsize, "%s: %zu bytes at %zu", fray_mutation_name(*m), k, at);
    break;
  }
  case FRAY_MUT_OVERSIZE: {
    /* Repeat the send's body (its delimiter kept at the end) past the max. */
    size_t tail = 0;
    while (tail < n && tail < 2 && (d[n - 1 - tail] == '\n' || d[n - 1 - tail] == '\r'))
      tail++;
    size_t body = n - tail;
    while (o + tail < cap && o <= max_frame) {
      size_t k = body ? body : 1;
      if (k > cap - tail - o)
        k = cap - tail - o;
      if (body)
        memcpy(out->p + o, d, k);
      else
        memset(out->p + o, 'x', k);
      o += k;
    }
    memcpy(out->p + o, d + body, tail);
    o += tail;
    snprintf(note, nsize, "%s %zu -> %zu bytes", fray_mutation_name(*m), n, o);
    break;
  }
  case FRAY_MUT_BITFLIP: {
    memcpy(out->p, d, n);
    o = n;
    size_t k = 1 + (size_t)(next(rng) % 4);
    for (size_t i = 0; i < k && n; i++) {
      size_t bit = (size_t)(next(rng) % (n * 8));
      out->p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    snprintf(note, nsize, "%s: %zu bits", fray_mutation_name(*m), k);
    break;
  }
  default:
    break;
  }
  out->len = o;
  return 0;
}

int fray_mutate(const fray_script_t *in, uint64_t seed, size_t max_frame, fray_script_t **out,
                size_t *canary_at, char *what, size_t what_size) {
  if (!in || !out || !canary_at)
    return FRAY_EINVAL;
  *out = NULL;
  if (!max_frame)
    max_frame = FRAY_DEFAULT_MAX_FRAME;
  uint64_t rng = seed ^ 0x6d75746174650000ULL;
  size_t n, nsends = 0;
  const fray_step_t *steps = fray_script_steps(in, &n);
  for (size_t i = 0; i < n; i++)
    nsends += steps[i].kind == FRAY_STEP_SEND;
  /* Which sends to mutate, and how. */
  size_t pick[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX};
  fray_mutation_t how[3] = {0, 0, 0};
  size_t npick = nsends ? 1 + (size_t)(next(&rng) % (nsends < 3 ? nsends : 3)) : 0;
  for (size_t k = 0; k < npick; k++) {
    pick[k] = (size_t)(next(&rng) % nsends);
    how[k] = (fray_mutation_t)(next(&rng) % FRAY_MUT_COUNT);
  }
  fray_script_t *s;
  int r = fray__script_new_like(in, NULL, &s);
  if (r)
    return r;
  size_t nc = fray_script_nclients(in);
  unsigned char *dead = calloc(nc ? nc : 1, 1), *open = calloc(nc ? nc : 1, 1);
  if (!dead || !open)
    r = FRAY_ENOMEM;
  size_t wo = 0;
  if (what && what_size)
    what[0] = 0;
  for (size_t i = 0, k = 0; i < n && !r; i++) {
    const fray_step_t *st = &steps[i];
    if (st->kind == FRAY_STEP_OPEN)
      dead[st->client] = 0;
    if (dead[st->client])
      continue;
    size_t sendno = st->kind == FRAY_STEP_SEND ? k++ : SIZE_MAX;
    fray_mutation_t m = FRAY_MUT_COUNT;
    for (size_t j = 0; j < npick; j++)
      if (pick[j] == sendno)
        m = how[j];
    if (m == FRAY_MUT_COUNT) {
      r = fray_script_add_step(s, st);
      if (r == FRAY_ESTATE || r == FRAY_EINVAL)
        r = 0; /* not valid after an earlier drop (a close mid-frame): skip it */
    } else {
      buf_t b = {NULL, 0};
      char note[96];
      r = mutate_bytes(st, &m, &rng, max_frame, &b, note, sizeof note);
      if (!r && b.len) {
        fray_step_t ms = *st;
        ms.data = b.p;
        ms.len = b.len;
        ms.cuts = NULL;
        ms.ncuts = 0;
        r = fray_script_add_step(s, &ms);
      }
      if (!r && (m == FRAY_MUT_CLOSE_MID || m == FRAY_MUT_RESET_MID)) {
        fray_step_t cs = {.kind = m == FRAY_MUT_CLOSE_MID ? FRAY_STEP_CLOSE : FRAY_STEP_RESET,
                          .client = st->client,
                          .line = st->line};
        r = fray_script_add_step(s, &cs);
        dead[st->client] = 1;
      }
      free(b.p);
      if (what && wo < what_size) {
        int w =
            snprintf(what + wo, what_size - wo, "%sline %zu: %s", wo ? "; " : "", st->line, note);
        wo = w < 0 ? what_size : wo + (size_t)w;
      }
    }
    if (st->kind == FRAY_STEP_OPEN)
      open[st->client] = 1;
    else if (st->kind == FRAY_STEP_CLOSE || st->kind == FRAY_STEP_RESET)
      open[st->client] = 0;
    if (dead[st->client])
      open[st->client] = 0;
  }
  /* The canary: on fresh connections, after the mutated session. */
  size_t nsteps;
  fray_script_steps(s, &nsteps);
  *canary_at = nsteps;
  size_t ncan;
  const fray_step_t *can = fray_script_canary(in, &ncan);
  unsigned char *fresh = calloc(nc ? nc : 1, 1);
  if (!fresh && !r)
    r = FRAY_ENOMEM;
  for (size_t i = 0; i < ncan && !r; i++) {
    size_t c = can[i].client;
    if (!fresh[c]) {
      if (open[c])
        r = fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_CLOSE, .client = c});
      if (!r)
        r = fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = c});
      fresh[c] = 1;
    }
    if (!r)
      r = fray_script_add_step(s, &can[i]);
  }
  free(fresh);
  free(dead);
  free(open);
  if (r) {
    fray_script_free(s);
    return r == FRAY_ENOMEM ? r : FRAY_ENOMEM;
  }
  *out = s;
  return 0;
}
