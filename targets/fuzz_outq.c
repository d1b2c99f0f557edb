/* fuzz_outq: the output queue under a fuzz-chosen sequence of operations
 * (2 bytes each: op, argument): copied, borrowed and producer pushes, flushes
 * through a writer taking n bytes or none (EAGAIN) or failing, peek/consume,
 * close_when_done. Every byte pushed is a distinct pseudo-random byte, so a
 * loss, duplicate or reordering shows: what the writer saw must always be a
 * prefix of what was pushed, all of it once the queue is drained, and every
 * borrowed buffer and producer must be released exactly once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fray/outq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct st {
  size_t nwant, ngot, take; /* bytes pushed, bytes written; what the writer takes now */
  uint32_t seed;
  int live, fail;        /* unreleased borrowed buffers + producers; writer fails once */
  uint8_t want[1 << 16]; /* the bytes pushed, in order */
} st_t;

typedef struct prod {
  st_t *st;
  uint32_t seed;
  size_t left, piece;
  unsigned calls, again; /* FRAY_EAGAIN on every `again`-th call (0: never) */
} prod_t;

static uint8_t next_byte(uint32_t *x) {
  *x ^= *x << 13, *x ^= *x >> 17, *x ^= *x << 5; /* xorshift32 */
  return (uint8_t)(*x >> 24);
}

static fray_ssize_t writer(void *ctx, const uint8_t *p, size_t len) {
  st_t *s = ctx;
  if (s->fail)
    return s->fail = 0, FRAY_EIO;
  size_t n = len < s->take ? len : s->take;
  if (n == 0)
    return FRAY_EAGAIN;
  if (s->ngot + n > s->nwant || memcmp(s->want + s->ngot, p, n))
    __builtin_trap(); /* a byte out of order, duplicated or invented */
  s->ngot += n;
  return (fray_ssize_t)n;
}

static fray_ssize_t produce(fray_outq_t *q, uint8_t *buf, size_t cap, void *ud) {
  prod_t *pr = ud;
  (void)q;
  if (pr->again && ++pr->calls % pr->again == 0)
    return FRAY_EAGAIN;
  size_t n = pr->left < cap ? pr->left : cap;
  n = n < pr->piece ? n : pr->piece;
  for (size_t i = 0; i < n; i++)
    buf[i] = next_byte(&pr->seed);
  pr->left -= n;
  return (fray_ssize_t)n;
}

static void release(void *p, void *ud) {
  ((st_t *)ud)->live--;
  free(p);
}

static void release_prod(void *ud) {
  ((prod_t *)ud)->st->live--;
  free(ud);
}

/* Appends the len bytes a source with seed x yields to s->want. */
static void expect(st_t *s, uint32_t x, size_t len, uint8_t *copy) {
  for (size_t i = 0; i < len; i++)
    s->want[s->nwant + i] = next_byte(&x), copy ? copy[i] = s->want[s->nwant + i] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static st_t s; /* 64 KB: too big for the stack; counters reset per input */
  fray_outq_t *q;
  if (size > 1024 || fray_outq_new(&q, 1 + (size ? data[0] : 0) * 16u, NULL, NULL))
    return 0;
  s.nwant = s.ngot = s.take = 0, s.live = s.fail = 0;
  for (size_t i = 1; i + 1 < size; i += 2) {
    uint8_t op = data[i], arg = data[i + 1];
    size_t len = arg, room = sizeof s.want - s.nwant;
    uint32_t x = 0x9e3779b9u ^ (uint32_t)i;
    if (op % 7 < 3 && len * 4 > room)
      continue;        /* the expectation buffer is full */
    if (op % 7 == 0) { /* push a copy */
      uint8_t tmp[256];
      expect(&s, x, len, tmp);
      if (fray_outq_push(q, tmp, len) == 0)
        s.nwant += len;
    } else if (op % 7 == 1) { /* push borrowed (0 bytes: a marker) */
      uint8_t *b = malloc(len ? len : 1);
      expect(&s, x, len, b);
      s.live++;
      if (b && fray_outq_push_borrowed(q, b, len, release, &s) == 0)
        s.nwant += len;
      else
        s.live--, free(b);
    } else if (op % 7 == 2) { /* push a producer of up to 4*len bytes */
      prod_t *pr = calloc(1, sizeof *pr);
      if (!pr)
        continue;
      *pr =
          (prod_t){&s, x, len * (1 + (op >> 3 & 3)), 1 + (op >> 5), 0, op >> 6 ? 1 + (op >> 6) : 0};
      expect(&s, x, pr->left, NULL);
      s.live++;
      if (fray_outq_push_producer(q, produce, release_prod, pr) == 0)
        s.nwant += pr->left;
      else
        s.live--, free(pr);
    } else if (op % 7 == 3) { /* flush, the writer taking arg bytes per call */
      size_t before = s.ngot;
      s.take = arg, s.fail = op >> 7;
      fray_ssize_t n = fray_outq_flush(q, writer, &s);
      if ((n >= 0 && (size_t)n != s.ngot - before) || (n < 0 && n != FRAY_EIO))
        __builtin_trap();
    } else if (op % 7 == 4) {
      fray_outq_close_when_done(q);
    } else if (op % 7 == 5) { /* peek, then consume up to arg bytes */
      const uint8_t *p;
      size_t n, k;
      s.fail = 0;
      if (fray_outq_peek(q, &p, &n) == 0 && n > 0) {
        s.take = k = arg < n ? arg : n;
        if (k && (writer(&s, p, k) != (fray_ssize_t)k || fray_outq_consume(q, k) != 0))
          __builtin_trap();
      }
    }
    if (fray_outq_written(q) != s.ngot || fray_outq_pending(q) > s.nwant - s.ngot)
      __builtin_trap();
  }
  /* Drain: a producer says EAGAIN at most 3 calls in 4, so 8 flushes in a
   * row without a byte mean the queue is stuck. */
  fray_outq_close_when_done(q);
  s.take = SIZE_MAX, s.fail = 0;
  for (int idle = 0; !fray_outq_done(q) && idle < 8;) {
    fray_ssize_t n = fray_outq_flush(q, writer, &s);
    if (n < 0)
      __builtin_trap();
    idle = n ? 0 : idle + 1;
  }
  if (!fray_outq_done(q) || s.ngot != s.nwant || s.live != 0)
    __builtin_trap();
  fray_outq_free(q);
  return 0;
}
