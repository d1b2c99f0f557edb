/* Malformed variants of scripts (fray/mutate.h). */
#include "fray/mutate.h"

#include <stdio.h>
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

typedef struct buf {
  uint8_t *p;
  size_t len;
} buf_t;

/* Bytes the mutant of an n-byte send by m can need. */
static size_t mutant_cap(size_t n, fray_mutation_t m, size_t max_frame) {
  switch (m) {
  case FRAY_MUT_DUPLICATE:
    return 2 * n;
  case FRAY_MUT_INSERT_NUL:
  case FRAY_MUT_INSERT_FF:
  case FRAY_MUT_INSERT_RANDOM:
    return n + 8;
  case FRAY_MUT_OVERSIZE: {
    size_t cap = 2 * max_frame + 64 < OVERSIZE_CAP ? 2 * max_frame + 64 : OVERSIZE_CAP;
    return cap < n ? n : cap;
  }
  default:
    return n;
  }
}

/* Repeats d's body (its delimiter kept at the end) into out[cap] until
 * past max_frame or cap; returns the bytes written. */
static size_t oversize(uint8_t *out, size_t cap, const uint8_t *d, size_t n, size_t max_frame) {
  size_t tail = 0, o = 0;
  while (tail < n && tail < 2 && (d[n - 1 - tail] == '\n' || d[n - 1 - tail] == '\r'))
    tail++;
  size_t body = n - tail;
  while (o + tail < cap && o <= max_frame) {
    size_t k = body ? body : 1;
    if (k > cap - tail - o)
      k = cap - tail - o;
    if (body)
      memcpy(out + o, d, k);
    else
      memset(out + o, 'x', k);
    o += k;
  }
  memcpy(out + o, d + body, tail);
  return o + tail;
}

/* The mutated bytes of one send into *out (allocated with mem). Returns 0
 * or FRAY_ENOMEM; *m may be changed to what could be done. */
static int mutate_bytes(const fray_mem_t *mem, const fray_step_t *st, fray_mutation_t *m,
                        uint64_t *rng, size_t max_frame, buf_t *out, char *note, size_t nsize) {
  const uint8_t *d = st->data;
  size_t n = st->len, cap = mutant_cap(n, *m, max_frame);
  out->p = fray__malloc(mem, cap);
  if (!out->p)
    return FRAY_ENOMEM;
  size_t o = 0;
  switch (*m) {
  case FRAY_MUT_TRUNCATE:
  case FRAY_MUT_CLOSE_MID:
  case FRAY_MUT_RESET_MID:
    o = n > 1 ? 1 + (size_t)(fray__rng_next(rng) % (n - 1)) : 0;
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
    size_t at = n ? (size_t)(fray__rng_next(rng) % (n + 1)) : 0,
           k = 1 + (size_t)(fray__rng_next(rng) % 8);
    memcpy(out->p, d, at);
    for (size_t i = 0; i < k; i++)
      out->p[at + i] = *m == FRAY_MUT_INSERT_NUL  ? 0
                       : *m == FRAY_MUT_INSERT_FF ? 0xff
                                                  : (uint8_t)fray__rng_next(rng);
    memcpy(out->p + at + k, d + at, n - at);
    o = n + k;
    snprintf(note, nsize, "%s: %zu bytes at %zu", fray_mutation_name(*m), k, at);
    break;
  }
  case FRAY_MUT_OVERSIZE:
    o = oversize(out->p, cap, d, n, max_frame);
    snprintf(note, nsize, "%s %zu -> %zu bytes", fray_mutation_name(*m), n, o);
    break;
  case FRAY_MUT_BITFLIP: {
    memcpy(out->p, d, n);
    o = n;
    size_t k = 1 + (size_t)(fray__rng_next(rng) % 4);
    for (size_t i = 0; i < k && n; i++) {
      size_t bit = (size_t)(fray__rng_next(rng) % (n * 8));
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

/* Which sends get mutated, and how: drawn first from the seed, so the
 * choice does not depend on what the mutations draw. */
typedef struct plan {
  size_t pick[3]; /* send numbers (SIZE_MAX: unused) */
  fray_mutation_t how[3];
  size_t npick;
} plan_t;

static void plan_mutations(const fray_step_t *steps, size_t n, uint64_t *rng, plan_t *p) {
  size_t nsends = 0;
  for (size_t i = 0; i < n; i++)
    nsends += steps[i].kind == FRAY_STEP_SEND;
  p->npick = nsends ? 1 + (size_t)(fray__rng_next(rng) % (nsends < 3 ? nsends : 3)) : 0;
  for (size_t k = 0; k < 3; k++) {
    p->pick[k] = SIZE_MAX;
    p->how[k] = FRAY_MUT_TRUNCATE;
  }
  for (size_t k = 0; k < p->npick; k++) {
    p->pick[k] = (size_t)(fray__rng_next(rng) % nsends);
    p->how[k] = (fray_mutation_t)(fray__rng_next(rng) % FRAY_MUT_COUNT);
  }
}

/* The variant being built. dead, open and fresh are one scratch block of
 * three per-client flag arrays. */
typedef struct build {
  fray_script_t *s;
  const fray_mem_t *mem;
  uint64_t rng;
  size_t max_frame;
  unsigned char *dead;  /* closed or reset mid-frame: its later steps go */
  unsigned char *open;  /* connected at the end of the session */
  unsigned char *fresh; /* reconnected for the canary */
  int mutated;          /* a mutated send is in: later expectations no longer hold */
  char *what;
  size_t what_size, wo;
} build_t;

static int is_expectation(fray_step_kind_t k) {
  return k >= FRAY_STEP_EXPECT && k != FRAY_STEP_WAIT;
}

/* `NAME < any` for client c: after a mutation, what c received is taken
 * unchecked before it closes and at the end, so that only crashes, memory
 * and the canary judge the variant. Skipped where the script allows no more
 * expectations for c (after its `< eof`). */
static int add_any(build_t *b, size_t c) {
  int r = fray_script_add_step(b->s, &(fray_step_t){.kind = FRAY_STEP_EXPECT_ANY, .client = c});
  return r == FRAY_ESTATE || r == FRAY_EINVAL ? 0 : r;
}

/* Adds send st mutated by m, then the close or reset that ends a
 * mid-frame cut, and appends the account of it to b->what. */
static int add_mutated(build_t *b, const fray_step_t *st, fray_mutation_t m) {
  buf_t bytes = {NULL, 0};
  char note[96];
  int r = mutate_bytes(b->mem, st, &m, &b->rng, b->max_frame, &bytes, note, sizeof note);
  if (!r && bytes.len) {
    fray_step_t ms = *st;
    ms.data = bytes.p;
    ms.len = bytes.len;
    ms.cuts = NULL;
    ms.ncuts = 0;
    r = fray_script_add_step(b->s, &ms);
  }
  if (!r && (m == FRAY_MUT_CLOSE_MID || m == FRAY_MUT_RESET_MID) && !(r = add_any(b, st->client))) {
    fray_step_t cs = {.kind = m == FRAY_MUT_CLOSE_MID ? FRAY_STEP_CLOSE : FRAY_STEP_RESET,
                      .client = st->client,
                      .line = st->line};
    r = fray_script_add_step(b->s, &cs);
    b->dead[st->client] = 1;
  }
  fray__free(b->mem, bytes.p);
  if (!r && b->what && b->wo < b->what_size) {
    int w = snprintf(b->what + b->wo, b->what_size - b->wo, "%sline %zu: %s", b->wo ? "; " : "",
                     st->line, note);
    b->wo = w < 0 ? b->what_size : b->wo + (size_t)w;
  }
  return r;
}

/* The session with the planned mutations; steps of a client after it died
 * mid-frame are dropped, and so are steps no longer valid after a drop.
 * The script's expectations hold up to the first mutated send (the same
 * input so far); after it they are dropped, and each client's bytes are
 * taken by `< any` before it closes. */
static int add_session(build_t *b, const fray_step_t *steps, size_t n, const plan_t *p) {
  int r = 0;
  for (size_t i = 0, k = 0; i < n && !r; i++) {
    const fray_step_t *st = &steps[i];
    /* Time passes in every variant as in the script: a `< nothing for`
     * dropped with the other expectations leaves its span as a wait. */
    if (st->kind == FRAY_STEP_WAIT ||
        (st->kind == FRAY_STEP_EXPECT_NOTHING && (b->dead[st->client] || b->mutated))) {
      r = fray_script_add_step(b->s, &(fray_step_t){.kind = FRAY_STEP_WAIT, .ms = st->ms});
      continue;
    }
    if (st->kind == FRAY_STEP_OPEN)
      b->dead[st->client] = 0;
    if (b->dead[st->client] || (b->mutated && is_expectation(st->kind)))
      continue;
    size_t sendno = st->kind == FRAY_STEP_SEND ? k++ : SIZE_MAX;
    fray_mutation_t m = FRAY_MUT_COUNT;
    for (size_t j = 0; j < p->npick; j++)
      if (p->pick[j] == sendno)
        m = p->how[j];
    if (m != FRAY_MUT_COUNT) {
      b->mutated = 1;
      r = add_mutated(b, st, m);
    } else {
      if (b->mutated && (st->kind == FRAY_STEP_CLOSE || st->kind == FRAY_STEP_RESET))
        r = add_any(b, st->client);
      if (!r)
        r = fray_script_add_step(b->s, st);
      if (r == FRAY_ESTATE || r == FRAY_EINVAL)
        r = 0; /* not valid after an earlier drop (a close mid-frame): skip it */
    }
    if (st->kind == FRAY_STEP_OPEN)
      b->open[st->client] = 1;
    else if (st->kind == FRAY_STEP_CLOSE || st->kind == FRAY_STEP_RESET)
      b->open[st->client] = 0;
    if (b->dead[st->client])
      b->open[st->client] = 0;
  }
  return r;
}

/* The canary exchange, each of its clients on a fresh connection. */
static int add_canary(build_t *b, const fray_script_t *in) {
  size_t ncan;
  const fray_step_t *can = fray_script_canary(in, &ncan);
  int r = 0;
  for (size_t i = 0; i < ncan && !r; i++) {
    size_t c = can[i].client;
    if (!b->fresh[c]) {
      if (b->open[c] && b->mutated)
        r = add_any(b, c);
      if (b->open[c] && !r)
        r = fray_script_add_step(b->s, &(fray_step_t){.kind = FRAY_STEP_CLOSE, .client = c});
      if (!r)
        r = fray_script_add_step(b->s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = c});
      b->fresh[c] = 1;
    }
    if (!r)
      r = fray_script_add_step(b->s, &can[i]);
  }
  return r;
}

int fray_mutate(const fray_script_t *in, uint64_t seed, size_t max_frame, fray_script_t **out,
                size_t *canary_at, char *what, size_t what_size) {
  if (!in || !out || !canary_at)
    return FRAY_EINVAL;
  *out = NULL;
  build_t b = {.mem = fray__script_mem(in),
               .rng = seed ^ 0x6d75746174650000ULL,
               .max_frame = max_frame ? max_frame : FRAY_DEFAULT_MAX_FRAME,
               .what = what,
               .what_size = what_size};
  if (what && what_size)
    what[0] = 0;
  size_t n, nc = fray_script_nclients(in);
  const fray_step_t *steps = fray_script_steps(in, &n);
  plan_t plan;
  plan_mutations(steps, n, &b.rng, &plan);
  int r = fray__script_new_like(in, b.mem, &b.s);
  if (r)
    return r;
  unsigned char *flags = fray__malloc(b.mem, 3 * nc);
  if (flags) {
    memset(flags, 0, 3 * nc);
    b.dead = flags;
    b.open = flags + nc;
    b.fresh = flags + 2 * nc;
    r = add_session(&b, steps, n, &plan);
    fray_script_steps(b.s, canary_at);
    if (!r)
      r = add_canary(&b, in);
    /* What came after the last expectation is not judged either: the
     * canary's clients, and after a mutation every client still open. */
    for (size_t c = 0; c < nc && !r; c++)
      if (b.fresh[c] || (b.mutated && b.open[c] && !b.dead[c]))
        r = add_any(&b, c);
  }
  fray__free(b.mem, flags);
  if (!flags || r) {
    fray_script_free(b.s);
    return FRAY_ENOMEM; /* the steps come from a valid script: only memory can fail */
  }
  *out = b.s;
  return 0;
}
