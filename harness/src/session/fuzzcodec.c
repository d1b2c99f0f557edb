/* The fuzz codec: fuzz inputs as sessions and back (the encoding is
 * documented in fray/fuzz.h). The fuzz driver that runs them is
 * run/fuzzdrive.c. */
#include "fray/fuzz.h"

#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "session/script_internal.h"

enum { OP_SEND_MAX = 2, OP_EXPECT = 3, OP_OPEN = 4, OP_CLOSE = 5, OP_RESET = 6, OP_FLAGS = 7 };

/* On a CLOSE op: a half-close (`NAME > eof`) instead. A bit no encoder
 * wrote before it had this meaning, so older seeds decode as they did. */
#define OP_HALF 0x20

/* The fault kinds a flags op's fault byte names, one bit each from
 * close-mid-send on: every kind but the two of their own bits. */
#define POINT_FAULTS (FRAY_FAULT_ALL & ~(FRAY_FAULT_SHORT_WRITES | FRAY_FAULT_EOF_WITH_DATA))

/* The session's script is built in place, not through fray_script_add_*():
 * the decoder makes only valid steps, so the builder's checks and copies
 * (and its allocations, per step) would be spent on every fuzz input for
 * nothing. The script is a view over the session's arrays: its steps point
 * into the input, its client names are the static c0..c3, and it is never
 * given to fray_script_free(). */
struct fray_fuzz_session {
  fray_mem_t mem;
  struct fray_script script;
  client_t clients[FRAY_FUZZ_CLIENTS];
  fray_sched_send_t *sends;
  size_t nsends, cap;
  size_t *cutpool; /* every send's cuts; sends[k].cuts point in here */
  size_t *cutoff;  /* per send: where its cuts start in cutpool */
  size_t npool, poolcap;
  fray_sched_buf_t *family; /* a family's reads, when the decisions chose one */
  fray_sched_t sched;
};

typedef struct reader {
  const uint8_t *d;
  size_t front, back; /* payload from front, decisions from back */
} reader_t;

static uint8_t decision(reader_t *r) {
  return r->back > r->front ? r->d[--r->back] : 0;
}

static int has_decisions(const reader_t *r) {
  return r->back > r->front;
}

static const char *const client_names[FRAY_FUZZ_CLIENTS] = {"c0", "c1", "c2", "c3"};

static int use_family(fray_fuzz_session_t *s, fray_sched_family_t f, uint64_t seed);

/* Adds fuzz client c to the script when it first appears; idx maps fuzz
 * clients to script clients. */
static void use_client(fray_fuzz_session_t *s, size_t *idx, size_t c) {
  if (idx[c] != SIZE_MAX)
    return;
  s->clients[s->script.nclients] = (client_t){.name = (char *)(uintptr_t)client_names[c]};
  idx[c] = s->script.nclients++;
}

/* Appends a step: 0 or FRAY_ENOMEM. */
static int add_step(fray_fuzz_session_t *s, fray_step_kind_t kind, size_t client,
                    const uint8_t *data, size_t len) {
  steparr_t *a = &s->script.steps;
  if (fray__grow(&s->mem, (void **)&a->v, &a->cap, a->n + 1, sizeof *a->v))
    return FRAY_ENOMEM;
  a->v[a->n++] = (fray_step_t){.kind = kind, .client = client, .data = data, .len = len};
  return 0;
}

/* Appends a step with a span: 0 or FRAY_ENOMEM. */
static int add_step_ms(fray_fuzz_session_t *s, fray_step_kind_t kind, size_t client, uint64_t ms) {
  int r = add_step(s, kind, client, NULL, 0);
  if (!r)
    s->script.steps.v[s->script.steps.n - 1].ms = ms;
  return r;
}

static int set_handler(fray_fuzz_session_t *s, const char *handler) {
  size_t n = strlen(handler) + 1;
  s->script.handler = fray__malloc(&s->mem, n);
  if (!s->script.handler)
    return FRAY_ENOMEM;
  memcpy(s->script.handler, handler, n);
  return 0;
}

/* Cuts are the schedule's, not the script's: the whole reference run then
 * delivers each send as one read. */
static int add_send_entry(fray_fuzz_session_t *s, const size_t *cuts, size_t ncuts) {
  /* sends and cutoff share one capacity: it counts only once both grew. */
  size_t sc = s->cap, oc = s->cap;
  int r = fray__grow(&s->mem, (void **)&s->sends, &sc, s->nsends + 1, sizeof *s->sends);
  if (!r)
    r = fray__grow(&s->mem, (void **)&s->cutoff, &oc, s->nsends + 1, sizeof *s->cutoff);
  s->cap = sc < oc ? sc : oc;
  if (r ||
      fray__grow(&s->mem, (void **)&s->cutpool, &s->poolcap, s->npool + ncuts, sizeof *s->cutpool))
    return FRAY_ENOMEM;
  if (ncuts)
    memcpy(s->cutpool + s->npool, cuts, ncuts * sizeof *cuts);
  memset(&s->sends[s->nsends], 0, sizeof *s->sends);
  s->sends[s->nsends].ncuts = ncuts;
  s->cutoff[s->nsends++] = s->npool;
  s->npool += ncuts;
  return 0;
}

/* The decoder's state between decisions. */
typedef struct dec {
  fray_fuzz_session_t *s;
  const uint8_t *data;
  reader_t rd;
  size_t idx[FRAY_FUZZ_CLIENTS]; /* the script's client index of each fuzz client */
  int open[FRAY_FUZZ_CLIENTS];
  int shut[FRAY_FUZZ_CLIENTS]; /* half-closed: open, but may send no more */
  size_t steps;
  int last_send_client; /* the previous step was a send of this client */
  int family;           /* a schedule family chosen by the decisions */
  uint64_t family_seed;
} dec_t;

/* Makes fuzz client c ready for a step: opened if it is not and, for a
 * send, closed and opened again if it half-closed (a script cannot send
 * after `> eof`). 0 or FRAY_ENOMEM. */
static int dec_ready(dec_t *d, size_t c, int to_send) {
  use_client(d->s, d->idx, c);
  int r = 0;
  if (d->open[c] && d->shut[c] && to_send) {
    r = add_step(d->s, FRAY_STEP_CLOSE, d->idx[c], NULL, 0);
    d->open[c] = 0;
    d->steps++;
  }
  if (!r && !d->open[c]) {
    r = add_step(d->s, FRAY_STEP_OPEN, d->idx[c], NULL, 0);
    d->open[c] = 1;
    d->shut[c] = 0;
    d->steps++;
  }
  return r;
}

/* Up to three distinct cuts of an n-byte send, sorted, drawn from the
 * decisions. Returns how many. */
static size_t dec_cuts(dec_t *d, uint8_t op, size_t n, size_t cuts[3]) {
  size_t ncut = 0;
  for (size_t k = 0; n > 1 && k < (size_t)((op >> 5) & 3); k++) {
    size_t p = 1 + decision(&d->rd) % (n - 1), j = ncut;
    while (j > 0 && cuts[j - 1] > p)
      j--;
    if (j > 0 && cuts[j - 1] == p)
      continue;
    memmove(&cuts[j + 1], &cuts[j], (ncut - j) * sizeof cuts[0]);
    cuts[j] = p;
    ncut++;
  }
  return ncut;
}

/* A send or an expectation of client (op >> 3) & 3: its length, its bytes
 * from the payload's front and, for a send, its cuts; the client is opened
 * first when it is not. Returns 0, 1 when the payload is spent (decoding
 * ends there) or FRAY_ENOMEM. */
static int dec_bytes(dec_t *d, uint8_t op, int kind) {
  fray_fuzz_session_t *s = d->s;
  size_t c = (op >> 3) & 3;
  size_t n = 1 + (size_t)decision(&d->rd);
  if (op & 0x80)
    n = 1 + ((size_t)decision(&d->rd) << 8 | (n - 1));
  size_t avail = d->rd.back - d->rd.front;
  if (n > avail)
    n = avail;
  if (!n)
    return 1;
  fray_step_kind_t sk = kind == OP_EXPECT ? FRAY_STEP_EXPECT : FRAY_STEP_SEND;
  const uint8_t *bytes = d->data + d->rd.front;
  d->rd.front += n;
  size_t cuts[3], ncut = sk == FRAY_STEP_SEND ? dec_cuts(d, op, n, cuts) : 0;
  int r = dec_ready(d, c, sk == FRAY_STEP_SEND);
  if (!r)
    r = add_step(s, sk, d->idx[c], bytes, n);
  if (!r && sk == FRAY_STEP_SEND) {
    r = add_send_entry(s, cuts, ncut);
    d->last_send_client = (int)c;
  }
  return r;
}

/* The longest span a decision says: an hour (longer ones are clamped), so
 * that a handler's periodic timer cannot make one input take minutes. */
#define SPAN_MAX_MS 3600000u

/* Time passes (op & 0x60 on an EXPECT op): 1 + a varint of the next
 * decisions (7 bits each, low first, more while 0x80, at most 6), clamped
 * to SPAN_MAX_MS: one byte says up to 128 ms, two up to 16 s, three up to
 * 35 min, so waits of every scale are a few mutations away. op & 0x60 ==
 * 0x40 is client (op >> 3) & 3's `< nothing for` (opened first if
 * needed), else a `wait`. Returns 0 or FRAY_ENOMEM. */
static int dec_span(dec_t *d, uint8_t op) {
  uint64_t v = 0;
  for (int k = 0; k < 6; k++) {
    uint8_t b = decision(&d->rd);
    v |= (uint64_t)(b & 0x7f) << (7 * k);
    if (!(b & 0x80))
      break;
  }
  uint64_t ms = v >= SPAN_MAX_MS ? SPAN_MAX_MS : v + 1;
  if ((op & 0x60) != 0x40)
    return add_step_ms(d->s, FRAY_STEP_WAIT, 0, ms);
  size_t c = (op >> 3) & 3;
  int r = dec_ready(d, c, 0);
  return r ? r : add_step_ms(d->s, FRAY_STEP_EXPECT_NOTHING, d->idx[c], ms);
}

/* An open (closing the client first when open), close, half-close (a
 * CLOSE op with OP_HALF) or reset of client (op >> 3) & 3. Returns 0, 1
 * when there is nothing to do (closing a client not open, half-closing one
 * twice) or FRAY_ENOMEM. */
static int dec_conn(dec_t *d, uint8_t op, int kind) {
  size_t c = (op >> 3) & 3;
  int half = kind == OP_CLOSE && (op & OP_HALF);
  if ((kind != OP_OPEN && !d->open[c]) || (half && d->shut[c]))
    return 1;
  use_client(d->s, d->idx, c);
  int r = 0;
  if (kind == OP_OPEN && d->open[c])
    r = add_step(d->s, FRAY_STEP_CLOSE, d->idx[c], NULL, 0);
  fray_step_kind_t sk = kind == OP_OPEN    ? FRAY_STEP_OPEN
                        : half             ? FRAY_STEP_SHUTDOWN
                        : kind == OP_CLOSE ? FRAY_STEP_CLOSE
                                           : FRAY_STEP_RESET;
  if (!r)
    r = add_step(d->s, sk, d->idx[c], NULL, 0);
  d->open[c] = kind == OP_OPEN || half;
  d->shut[c] = half;
  return r;
}

/* A flags byte: merge the previous send into the next, short writes, a
 * schedule family, eof-with-data, the faults struck at drawn points. It
 * does not break a run of sends. */
static void dec_flags(dec_t *d, uint8_t op, int was_send) {
  fray_fuzz_session_t *s = d->s;
  if ((op & 0x08) && was_send >= 0 && s->nsends)
    s->sends[s->nsends - 1].merge_next = 1;
  d->last_send_client = was_send;
  if (op & 0x10) {
    s->sched.short_writes = 1;
    s->sched.faults |= FRAY_FAULT_SHORT_WRITES; /* the bit mirrors the flag */
    s->sched.write_seed = decision(&d->rd);
  }
  if (op & 0x20) {
    d->family = decision(&d->rd) % FRAY_FAMILY_COUNT;
    d->family_seed = decision(&d->rd);
  }
  if (op & 0x40)
    s->sched.faults |= FRAY_FAULT_EOF_WITH_DATA;
  if (op & 0x80) {
    /* Bits 0-3 were every kind once; the receive window came as bit 4,
     * so inputs that named kinds with bits 0-3 decode as they did. */
    s->sched.faults |= ((unsigned)decision(&d->rd) * FRAY_FAULT_CLOSE_MID_SEND) & POINT_FAULTS;
    s->sched.fault_seed = decision(&d->rd);
  }
}

/* After the decisions: the payload left is one last send of client 0, and
 * the schedule is pointed at the sends. Returns 0 or FRAY_ENOMEM. */
static int dec_finish(dec_t *d) {
  fray_fuzz_session_t *s = d->s;
  int r = 0;
  if (d->rd.back > d->rd.front) {
    r = dec_ready(d, 0, 1);
    if (!r)
      r = add_step(s, FRAY_STEP_SEND, 0, d->data + d->rd.front, d->rd.back - d->rd.front);
    if (!r)
      r = add_send_entry(s, NULL, 0);
  }
  if (r)
    return FRAY_ENOMEM; /* the decoder only builds valid steps */
  for (size_t k = 0; k < s->nsends; k++)
    s->sends[k].cuts = s->sends[k].ncuts ? s->cutpool + s->cutoff[k] : NULL;
  /* The receive window's size comes from the write seed: without short
   * writes to seed it, the fault seed does. */
  if ((s->sched.faults & FRAY_FAULT_WINDOW) && !s->sched.short_writes)
    s->sched.write_seed = s->sched.fault_seed;
  s->sched.sends = s->sends;
  s->sched.nsends = s->nsends;
  return d->family >= 0 ? use_family(s, (fray_sched_family_t)d->family, d->family_seed) : 0;
}

int fray_fuzz_decode(fray_fuzz_session_t **out, const uint8_t *data, size_t len,
                     const char *handler, const fray_mem_t *mem) {
  if (!out || (!data && len))
    return FRAY_EINVAL;
  *out = NULL;
  fray_mem_t m;
  fray__mem_init(&m, mem);
  fray_fuzz_session_t *s = fray__malloc(&m, sizeof *s);
  if (!s)
    return FRAY_ENOMEM;
  memset(s, 0, sizeof *s);
  s->mem = m;
  /* The steps point into data: decoding copies no payload. */
  s->script = (struct fray_script){.mem = m,
                                   .clients = s->clients,
                                   .max_steps = FRAY_SCRIPT_DEFAULT_MAX_STEPS,
                                   .max_clients = FRAY_FUZZ_CLIENTS,
                                   .borrows = 1};
  /* Clients join the script when first used (c0 at once): a simulator
   * then only looks after connections that exist. */
  dec_t d = {.s = s,
             .data = data,
             .rd = {data, 0, len},
             .idx = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX},
             .open = {1, 0, 0, 0},
             .steps = 1,
             .last_send_client = -1,
             .family = -1};
  use_client(s, d.idx, 0);
  int r = handler ? set_handler(s, handler) : 0;
  if (!r)
    r = add_step(s, FRAY_STEP_OPEN, 0, NULL, 0);
  while (!r && has_decisions(&d.rd) && d.steps < FRAY_FUZZ_MAX_STEPS) {
    uint8_t op = decision(&d.rd);
    int kind = op & 7;
    int was_send = d.last_send_client;
    d.last_send_client = -1;
    if (kind == OP_OPEN || kind == OP_CLOSE || kind == OP_RESET)
      r = dec_conn(&d, op, kind);
    else if (kind == OP_EXPECT && (op & 0x60))
      r = dec_span(&d, op);
    else if (kind <= OP_SEND_MAX || kind == OP_EXPECT)
      r = dec_bytes(&d, op, kind);
    else {
      dec_flags(&d, op, was_send);
      continue;
    }
    if (r == 1) {
      r = 0;
      if (kind <= OP_SEND_MAX || kind == OP_EXPECT)
        break;  /* the payload is spent */
      continue; /* nothing to close */
    }
    d.steps++;
  }
  if (!r)
    r = dec_finish(&d);
  if (r) {
    fray_fuzz_session_free(s);
    return r;
  }
  *out = s;
  return 0;
}

static int use_family(fray_fuzz_session_t *s, fray_sched_family_t f, uint64_t seed) {
  if (fray_sched_buf_new(&s->family, &s->script, &s->mem) ||
      fray_sched_family(s->family, f, seed, 0))
    return FRAY_ENOMEM;
  const fray_sched_t *v = fray_sched_buf_view(s->family);
  s->sched.sends = v->sends;
  s->sched.family = v->family;
  return 0;
}

void fray_fuzz_session_free(fray_fuzz_session_t *s) {
  if (!s)
    return;
  fray_sched_buf_free(s->family);
  fray__free(&s->mem, s->script.steps.v);
  fray__free(&s->mem, s->script.handler);
  fray__free(&s->mem, s->sends);
  fray__free(&s->mem, s->cutoff);
  fray__free(&s->mem, s->cutpool);
  fray_mem_t m = s->mem;
  fray__free(&m, s);
}

const fray_script_t *fray_fuzz_session_script(const fray_fuzz_session_t *s) {
  return s ? &s->script : NULL;
}

const fray_sched_t *fray_fuzz_session_sched(const fray_fuzz_session_t *s) {
  return s ? &s->sched : NULL;
}

int fray_fuzz_from_aflnet(const uint8_t *d, size_t len, const char *handler, fray_script_t **out,
                          int *truncated) {
  if (!out || (!d && len))
    return FRAY_EINVAL;
  *out = NULL;
  if (truncated)
    *truncated = 0;
  fray_script_t *s;
  size_t c;
  int r = fray_script_new(&s, NULL);
  if (!r)
    r = fray_script_add_client(s, client_names[0], &c);
  if (!r && handler)
    r = fray_script_set_handler(s, handler);
  if (!r)
    r = fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = c});
  for (size_t pos = 0; !r && pos < len;) {
    size_t n = 0;
    if (len - pos < 4) {
      if (truncated)
        *truncated = 1;
      break;
    }
    n = (size_t)d[pos] | (size_t)d[pos + 1] << 8 | (size_t)d[pos + 2] << 16 |
        (size_t)d[pos + 3] << 24;
    pos += 4;
    if (n > len - pos) {
      n = len - pos;
      if (truncated)
        *truncated = 1;
    }
    if (n)
      r = fray_script_add_step(
          s, &(fray_step_t){.kind = FRAY_STEP_SEND, .client = c, .data = d + pos, .len = n});
    pos += n;
  }
  if (r) {
    fray_script_free(s);
    return r == FRAY_ENOMEM ? r : FRAY_ENOMEM;
  }
  *out = s;
  return 0;
}

/* ---- encoding ------------------------------------------------------------------ */

typedef struct bytes {
  const fray_mem_t *m;
  uint8_t *p;
  size_t len, cap;
} bytes_t;

static int put(bytes_t *b, const uint8_t *p, size_t n) {
  if (fray__grow(b->m, (void **)&b->p, &b->cap, b->len + n, 1))
    return FRAY_ENOMEM;
  if (n)
    memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

static int put1(bytes_t *b, uint8_t v) {
  return put(b, &v, 1);
}

/* Decisions are written in the order the decoder reads them; they are
 * reversed onto the tail at the end. */
static int put_data_op(bytes_t *pay, bytes_t *dec, int kind, size_t client, const uint8_t *p,
                       size_t n) {
  while (n) {
    size_t k = n > 65536 ? 65536 : n;
    int r;
    if (k <= 256) {
      r = put1(dec, (uint8_t)(kind | client << 3));
      if (!r)
        r = put1(dec, (uint8_t)(k - 1));
    } else {
      r = put1(dec, (uint8_t)(kind | client << 3 | 0x80));
      if (!r)
        r = put1(dec, (uint8_t)((k - 1) & 0xff));
      if (!r)
        r = put1(dec, (uint8_t)((k - 1) >> 8));
    }
    if (!r)
      r = put(pay, p, k);
    if (r)
      return r;
    p += k;
    n -= k;
  }
  return 0;
}

/* A WAIT or EXPECT_NOTHING as dec_span() reads it. A wait over the
 * decoder's hour is written as waits of an hour and the rest (the same
 * time passes); a `< nothing for` over an hour cannot be said, unless
 * lossy: then waits and the last hour's `< nothing for`. */
static int put_span_op(bytes_t *dec, const fray_step_t *st, size_t client, unsigned flags) {
  if (st->kind == FRAY_STEP_EXPECT_NOTHING && st->ms > SPAN_MAX_MS && !(flags & FRAY_FUZZ_LOSSY))
    return FRAY_EUNSUPPORTED;
  int r = 0;
  for (uint64_t left = st->ms; left && !r;) {
    uint64_t ms = left > SPAN_MAX_MS ? SPAN_MAX_MS : left;
    left -= ms;
    int nothing = st->kind == FRAY_STEP_EXPECT_NOTHING && !left;
    r = put1(dec, (uint8_t)(OP_EXPECT | (nothing ? 0x40 | client << 3 : 0x20)));
    for (uint64_t v = ms - 1; !r;) {
      r = put1(dec, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
      if ((v >>= 7) == 0)
        break;
    }
  }
  return r;
}

/* c0 starts open: its first open is implied, and the encoder follows
 * whether it is open to know when an open must be written. */
typedef struct c0 {
  int open, first_done;
} c0_t;

/* Appends step st of fuzz client c. 0, FRAY_EUNSUPPORTED (no encoding and
 * not lossy) or FRAY_ENOMEM. */
static int put_step(bytes_t *pay, bytes_t *dec, const fray_step_t *st, size_t c, unsigned flags,
                    c0_t *c0) {
  int r = 0;
  switch (st->kind) {
  case FRAY_STEP_OPEN:
    if (c == 0 && c0->open && !c0->first_done) {
      c0->first_done = 1;
      return 0;
    }
    if (c == 0)
      c0->open = 1;
    return put1(dec, (uint8_t)(OP_OPEN | c << 3));
  case FRAY_STEP_CLOSE:
  case FRAY_STEP_RESET:
    if (c == 0) {
      c0->first_done = 1;
      c0->open = 0;
    }
    return put1(dec, (uint8_t)((st->kind == FRAY_STEP_CLOSE ? OP_CLOSE : OP_RESET) | c << 3));
  case FRAY_STEP_SHUTDOWN:
    return put1(dec, (uint8_t)(OP_CLOSE | OP_HALF | c << 3));
  case FRAY_STEP_SEND:
    for (size_t k = 0, prev = 0; k <= st->ncuts && !r; k++) {
      size_t end = k < st->ncuts ? st->cuts[k] : st->len;
      r = put_data_op(pay, dec, 0, c, st->data + prev, end - prev);
      prev = end;
    }
    return r;
  case FRAY_STEP_EXPECT:
    return put_data_op(pay, dec, OP_EXPECT, c, st->data, st->len);
  case FRAY_STEP_EXPECT_NOTHING:
    return put_span_op(dec, st, c, flags);
  default:
    return flags & FRAY_FUZZ_LOSSY ? 0 : FRAY_EUNSUPPORTED;
  }
}

int fray_fuzz_encode(const fray_script_t *script, unsigned flags, const fray_mem_t *mem,
                     uint8_t **out, size_t *len) {
  if (!script || !out || !len)
    return FRAY_EINVAL;
  *out = NULL;
  *len = 0;
  fray_mem_t m;
  fray__mem_init(&m, mem);
  bytes_t pay = {&m, NULL, 0, 0}, dec = {&m, NULL, 0, 0};
  size_t map[FRAY_SCRIPT_DEFAULT_MAX_CLIENTS], nmapped = 0;
  size_t nc = fray_script_nclients(script);
  for (size_t i = 0; i < nc && i < FRAY_SCRIPT_DEFAULT_MAX_CLIENTS; i++)
    map[i] = SIZE_MAX;
  size_t n;
  const fray_step_t *steps = fray_script_steps(script, &n);
  int r = 0;
  c0_t c0 = {1, 0};
  for (size_t i = 0; i < n && !r; i++) {
    const fray_step_t *st = &steps[i];
    if (st->kind == FRAY_STEP_WAIT) { /* nobody's: no client to map */
      r = put_span_op(&dec, st, 0, flags);
      continue;
    }
    if (map[st->client] == SIZE_MAX) {
      if (nmapped == FRAY_FUZZ_CLIENTS) {
        r = FRAY_ERANGE;
        break;
      }
      map[st->client] = nmapped++;
    }
    r = put_step(&pay, &dec, st, map[st->client], flags, &c0);
  }
  if (!r)
    r = put(&pay, NULL, 0);
  for (size_t i = dec.len; !r && i-- > 0;)
    r = put1(&pay, dec.p[i]);
  fray__free(&m, dec.p);
  if (r) {
    fray__free(&m, pay.p);
    return r;
  }
  if (!pay.p) {
    pay.p = fray__malloc(&m, 1);
    if (!pay.p)
      return FRAY_ENOMEM;
  }
  *out = pay.p;
  *len = pay.len;
  return 0;
}
