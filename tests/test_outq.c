/* Unit tests for the output queue: order and exactness of flushed bytes under
 * partial writes and EAGAIN, producers, close-when-done, high-water
 * signalling, free callbacks called exactly once, and a fail-malloc loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fray/outq.h"

/* Test-only invariant checker exported by outq.c. */
#include "core/outq_internal.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s) {
  /* xorshift64*: deterministic for a seed on every platform. */
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 2685821657736338717ULL;
}

static size_t rng_below(uint64_t *s, size_t n) {
  return n ? (size_t)(rng_next(s) % n) : 0;
}

/* Counting allocator that can fail the Nth allocation (1-based). */
typedef struct alloc_ctx {
  long count;   /* allocations attempted */
  long live;    /* allocated and not freed */
  long fail_at; /* 0: never fail */
} alloc_ctx_t;

static void *counting_malloc(size_t n, void *ud) {
  alloc_ctx_t *a = ud;
  a->count++;
  if (a->fail_at && a->count == a->fail_at)
    return NULL;
  void *p = malloc(n);
  if (p)
    a->live++;
  return p;
}

static void *counting_realloc(void *p, size_t n, void *ud) {
  alloc_ctx_t *a = ud;
  if (!p)
    return counting_malloc(n, ud);
  a->count++;
  if (a->fail_at && a->count == a->fail_at)
    return NULL;
  return realloc(p, n);
}

static void counting_free(void *p, void *ud) {
  alloc_ctx_t *a = ud;
  if (p) {
    a->live--;
    free(p);
  }
}

/* A growable byte string for expected and written bytes. */
typedef struct bytes {
  uint8_t *p;
  size_t len, cap;
} bytes_t;

static void bytes_add(bytes_t *b, const uint8_t *d, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
      cap *= 2;
    b->p = realloc(b->p, cap);
    assert_non_null(b->p);
    b->cap = cap;
  }
  if (n)
    memcpy(b->p + b->len, d, n);
  b->len += n;
}

static void assert_bytes_equal(const bytes_t *got, const bytes_t *want) {
  assert_int_equal(got->len, want->len);
  if (want->len)
    assert_memory_equal(got->p, want->p, want->len);
}

/* Scripted writer: accepts a random or fixed amount, or says EAGAIN, or fails
 * once after a number of calls. Everything accepted is appended to out. */
typedef struct sink {
  bytes_t out;
  uint64_t rng;
  size_t fixed;    /* nonzero: accept exactly min(fixed, len) */
  size_t max_take; /* random mode: accept 1..min(len, max_take) */
  int eagain_pct;  /* random mode: percentage of calls answering EAGAIN */
  long calls;
  long fail_call; /* nonzero: this call (1-based) fails with fail_code */
  int fail_code;
  int overclaim; /* nonzero: claim len + 1 */
} sink_t;

static fray_ssize_t sink_write(void *ctx, const uint8_t *data, size_t len) {
  sink_t *s = ctx;
  assert_true(len > 0);
  s->calls++;
  if (s->fail_call && s->calls == s->fail_call)
    return s->fail_code;
  if (s->overclaim)
    return (fray_ssize_t)len + 1;
  size_t take;
  if (s->fixed) {
    take = s->fixed < len ? s->fixed : len;
  } else if (s->max_take) {
    if ((int)rng_below(&s->rng, 100) < s->eagain_pct)
      return FRAY_EAGAIN;
    size_t m = s->max_take < len ? s->max_take : len;
    take = 1 + rng_below(&s->rng, m);
  } else {
    take = len;
  }
  bytes_add(&s->out, data, take);
  return (fray_ssize_t)take;
}

/* Release record for a borrowed buffer or producer: counts free calls. */
typedef struct rec {
  int freed;
  int calls;      /* producer calls */
  size_t yielded; /* producer bytes yielded */
  long order;     /* value of the fixture's release clock at the free */
  uint8_t *buf;
} rec_t;

#define MAX_RECS 4096

/* A producer yielding total bytes of a pattern in random chunks, with
 * random EAGAINs, or failing at a position. */
typedef struct prod {
  rec_t *rec;
  long *clock;
  size_t total, pos;
  uint8_t seed;
  uint64_t rng;
  size_t max_chunk;
  int eagain_pct;
  size_t fail_pos; /* fail when pos reaches this (if fail_code) */
  fray_ssize_t fail_code;
} prod_t;

static uint8_t prod_byte(const prod_t *p, size_t i) {
  return (uint8_t)(p->seed + i * 7 + (i >> 8));
}

static fray_ssize_t prod_cb(fray_outq_t *q, uint8_t *buf, size_t cap, void *ud) {
  prod_t *p = ud;
  (void)q;
  assert_true(cap > 0);
  p->rec->calls++;
  if (p->fail_code && p->pos >= p->fail_pos)
    return p->fail_code;
  if ((int)rng_below(&p->rng, 100) < p->eagain_pct)
    return FRAY_EAGAIN;
  size_t n = p->total - p->pos;
  if (n > cap)
    n = cap;
  if (p->max_chunk && n > p->max_chunk)
    n = 1 + rng_below(&p->rng, p->max_chunk);
  for (size_t i = 0; i < n; i++)
    buf[i] = prod_byte(p, p->pos + i);
  p->pos += n;
  p->rec->yielded = p->pos;
  return (fray_ssize_t)n;
}

static void prod_free(void *ud) {
  prod_t *p = ud;
  p->rec->freed++;
  p->rec->order = (*p->clock)++;
  free(p);
}

/* Per-test state. */
typedef struct fixture {
  alloc_ctx_t alloc;
  fray_mem_t mem;
  fray_outq_t *q;
  sink_t sink;
  bytes_t want;
  rec_t recs[MAX_RECS];
  int nrecs;
  long clock;    /* release order */
  int water[16]; /* water callback history */
  int nwater;
  int prod_calls; /* pushing_prod's call count */
  int enomem;     /* FRAY_ENOMEM results seen by the fail-malloc scenario */
} fixture_t;

typedef struct borrow_ud {
  fixture_t *f;
  rec_t *rec;
} borrow_ud_t;

static void borrow_free(void *data, void *ud) {
  borrow_ud_t *b = ud;
  assert_ptr_equal(data, b->rec->buf);
  b->rec->freed++;
  b->rec->order = b->f->clock++;
  free(b->rec->buf);
  b->rec->buf = NULL;
  free(b);
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (!f)
    return -1;
  f->mem.malloc_fn = counting_malloc;
  f->mem.realloc_fn = counting_realloc;
  f->mem.free_fn = counting_free;
  f->mem.user_data = &f->alloc;
  if (fray_outq_new(&f->q, 0, &f->mem, f) != 0)
    return -1;
  f->sink.rng = 0x9e3779b97f4a7c15ULL;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  fray_outq_free(f->q);
  f->q = NULL;
  /* Every borrowed buffer and producer was released exactly once. */
  for (int i = 0; i < f->nrecs; i++) {
    if (f->recs[i].freed != 1) {
      fprintf(stderr, "record %d freed %d times\n", i, f->recs[i].freed);
      return -1;
    }
  }
  int leak = f->alloc.live != 0;
  if (leak)
    fprintf(stderr, "%ld allocations leaked\n", f->alloc.live);
  free(f->sink.out.p);
  free(f->want.p);
  free(f);
  return leak ? -1 : 0;
}

static void check(fixture_t *f) {
  assert_int_equal(fray__outq_check(f->q), 0);
}

/* Pushes a copy of n pattern bytes and records them as expected. */
static int push_copy(fixture_t *f, size_t n, uint8_t seed) {
  uint8_t *tmp = malloc(n ? n : 1);
  assert_non_null(tmp);
  for (size_t i = 0; i < n; i++)
    tmp[i] = (uint8_t)(seed ^ (i * 13));
  int rc = fray_outq_push(f->q, tmp, n);
  if (rc == 0)
    bytes_add(&f->want, tmp, n);
  /* The queue copied: scribbling over the source must not matter. */
  memset(tmp, 0xEE, n);
  free(tmp);
  check(f);
  return rc;
}

/* Pushes a borrowed buffer (malloc'd here, freed by its callback). */
static int push_borrowed(fixture_t *f, size_t n, uint8_t seed) {
  assert_true(f->nrecs < MAX_RECS);
  rec_t *r = &f->recs[f->nrecs];
  r->buf = malloc(n ? n : 1);
  assert_non_null(r->buf);
  for (size_t i = 0; i < n; i++)
    r->buf[i] = (uint8_t)(seed + i * 3);
  borrow_ud_t *b = malloc(sizeof *b);
  assert_non_null(b);
  b->f = f;
  b->rec = r;
  int rc = fray_outq_push_borrowed(f->q, r->buf, n, borrow_free, b);
  if (rc == 0) {
    bytes_add(&f->want, r->buf, n);
    f->nrecs++;
  } else {
    /* On failure the callback is never called: the caller still owns it. */
    free(r->buf);
    r->buf = NULL;
    free(b);
    assert_int_equal(r->freed, 0);
  }
  check(f);
  return rc;
}

static prod_t *prod_make(fixture_t *f, size_t total, uint8_t seed, size_t max_chunk,
                         int eagain_pct) {
  assert_true(f->nrecs < MAX_RECS);
  prod_t *p = calloc(1, sizeof *p);
  assert_non_null(p);
  p->rec = &f->recs[f->nrecs];
  p->clock = &f->clock;
  p->total = total;
  p->seed = seed;
  p->rng = 0x1234567ULL + seed;
  p->max_chunk = max_chunk;
  p->eagain_pct = eagain_pct;
  return p;
}

/* Pushes a producer; its whole output is expected at this position. */
static int push_prod(fixture_t *f, prod_t *p) {
  int rc = fray_outq_push_producer(f->q, prod_cb, prod_free, p);
  if (rc == 0) {
    for (size_t i = 0; i < p->total; i++) {
      uint8_t c = prod_byte(p, i);
      bytes_add(&f->want, &c, 1);
    }
    f->nrecs++;
  } else {
    assert_int_equal(p->rec->freed, 0);
    free(p);
  }
  check(f);
  return rc;
}

/* Flushes until nothing is queued (peek sees an empty queue), bounded so a
 * bug cannot hang the test. Every flush must succeed. */
static void drain(fixture_t *f) {
  for (long i = 0; i < 10000000; i++) {
    const uint8_t *d;
    size_t l;
    int rc = fray_outq_peek(f->q, &d, &l);
    assert_true(rc == 0 || rc == FRAY_EAGAIN);
    if (rc == 0 && l == 0)
      return;
    fray_ssize_t n = fray_outq_flush(f->q, sink_write, &f->sink);
    assert_true(n >= 0);
    check(f);
  }
  fail_msg("queue did not drain");
}

/* ---- tests ---------------------------------------------------------------- */

static void test_outq_new_defaults(void **state) {
  fixture_t *f = *state;
  assert_int_equal(fray_outq_pending(f->q), 0);
  assert_int_equal(fray_outq_over_high_water(f->q), 0);
  assert_int_equal(fray_outq_done(f->q), 0);
  assert_int_equal(fray_outq_written(f->q), 0);
  assert_int_equal(fray_outq_error(f->q), 0);
  assert_ptr_equal(fray_outq_user_data(f->q), f);
  assert_int_equal(fray_outq_new(NULL, 0, NULL, NULL), FRAY_EINVAL);
  assert_int_equal(fray_outq_push(f->q, NULL, 1), FRAY_EINVAL);
  assert_int_equal(fray_outq_push(f->q, NULL, 0), 0);
  assert_int_equal(fray_outq_push_producer(f->q, NULL, NULL, NULL), FRAY_EINVAL);
  assert_int_equal(fray_outq_flush(f->q, NULL, NULL), FRAY_EINVAL);
  /* An empty queue flushes nothing, without calling the writer. */
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), 0);
  assert_int_equal(f->sink.calls, 0);
  fray_outq_free(NULL);
  /* NULL mem is the C library's allocator. */
  fray_outq_t *q2;
  assert_int_equal(fray_outq_new(&q2, 10, NULL, NULL), 0);
  assert_int_equal(fray_outq_push(q2, (const uint8_t *)"abc", 3), 0);
  fray_outq_free(q2);
  check(f);
}

static void test_outq_push_coalesces_small_copies(void **state) {
  fixture_t *f = *state;
  long before = f->alloc.count;
  for (int i = 0; i < 300; i++)
    assert_int_equal(push_copy(f, 10, (uint8_t)i), 0);
  /* 3000 bytes fit in one block: one allocation for 300 pushes. */
  assert_int_equal(f->alloc.count - before, 1);
  assert_int_equal(fray_outq_pending(f->q), 3000);
  /* Crossing the block boundary splits one push over two blocks. */
  for (int i = 0; i < 300; i++)
    assert_int_equal(push_copy(f, 10, (uint8_t)(i + 7)), 0);
  assert_int_equal(f->alloc.count - before, 2);
  const uint8_t *d;
  size_t l;
  assert_int_equal(fray_outq_peek(f->q, &d, &l), 0);
  assert_int_equal(l, FRAY_OUTQ_BLOCK_SIZE);
  drain(f);
  assert_bytes_equal(&f->sink.out, &f->want);
  /* The drained block is reused: pushing again allocates nothing. */
  before = f->alloc.count;
  assert_int_equal(push_copy(f, 100, 1), 0);
  assert_int_equal(f->alloc.count - before, 0);
  drain(f);
  assert_bytes_equal(&f->sink.out, &f->want);
  assert_int_equal(fray_outq_written(f->q), f->want.len);
}

static void test_outq_flush_fixed_partial_writes(void **state) {
  fixture_t *f = *state;
  for (size_t k = 1; k <= 9; k++) {
    f->sink.fixed = k;
    assert_int_equal(push_copy(f, 37, (uint8_t)k), 0);
    assert_int_equal(push_borrowed(f, 11, (uint8_t)(k * 5)), 0);
    assert_int_equal(push_prod(f, prod_make(f, 23, (uint8_t)k, 0, 0)), 0);
    assert_int_equal(push_borrowed(f, 0, 0), 0); /* marker */
    assert_int_equal(push_copy(f, 5000, (uint8_t)(k + 1)), 0);
    /* Each flush takes exactly one write of k bytes (a short write stops). */
    fray_ssize_t n = fray_outq_flush(f->q, sink_write, &f->sink);
    assert_int_equal(n, (fray_ssize_t)k);
    drain(f);
    assert_bytes_equal(&f->sink.out, &f->want);
  }
}

/* The main property: random mixtures of items, pushed between random flushes
 * through a writer taking random amounts or EAGAIN, come out exactly. */
static void test_outq_flush_random_mix_exact(void **state) {
  fixture_t *f = *state;
  for (uint64_t seed = 1; seed <= 200; seed++) {
    uint64_t rng = seed * 0x2545F4914F6CDD1DULL;
    f->sink.rng = seed;
    f->sink.max_take = 1 + rng_below(&rng, 3000);
    f->sink.eagain_pct = (int)rng_below(&rng, 50);
    int ops = 40 + (int)rng_below(&rng, 40);
    for (int i = 0; i < ops; i++) {
      size_t kind = rng_below(&rng, 10);
      size_t n = rng_below(&rng, 4) == 0 ? rng_below(&rng, 9000) : rng_below(&rng, 64);
      if (kind < 5) {
        assert_int_equal(push_copy(f, n, (uint8_t)rng_next(&rng)), 0);
      } else if (kind < 7) {
        assert_int_equal(push_borrowed(f, n, (uint8_t)rng_next(&rng)), 0);
      } else if (kind < 8) {
        prod_t *p = prod_make(f, n * 3, (uint8_t)rng_next(&rng), rng_below(&rng, 700),
                              (int)rng_below(&rng, 60));
        assert_int_equal(push_prod(f, p), 0);
      } else {
        int flushes = (int)rng_below(&rng, 4);
        for (int j = 0; j < flushes; j++) {
          assert_true(fray_outq_flush(f->q, sink_write, &f->sink) >= 0);
          check(f);
        }
      }
      /* The written prefix always matches the expected prefix. */
      assert_true(f->sink.out.len <= f->want.len);
      if (f->sink.out.len)
        assert_memory_equal(f->sink.out.p, f->want.p, f->sink.out.len);
      assert_int_equal(fray_outq_written(f->q), f->sink.out.len);
    }
    assert_int_equal(fray_outq_close_when_done(f->q), 0);
    for (long i = 0; !fray_outq_done(f->q); i++) {
      assert_true(i < 10000000);
      assert_true(fray_outq_flush(f->q, sink_write, &f->sink) >= 0);
      check(f);
    }
    assert_bytes_equal(&f->sink.out, &f->want);
    for (int i = 0; i < f->nrecs; i++)
      assert_int_equal(f->recs[i].freed, 1);
    /* A fresh queue for the next seed. */
    fray_outq_free(f->q);
    assert_int_equal(f->alloc.live, 0);
    assert_int_equal(fray_outq_new(&f->q, 0, &f->mem, f), 0);
    f->sink.out.len = 0;
    f->want.len = 0;
    f->nrecs = 0;
    memset(f->recs, 0, sizeof f->recs);
  }
}

static void test_outq_producer_eagain_keeps_order(void **state) {
  fixture_t *f = *state;
  assert_int_equal(push_copy(f, 10, 1), 0);
  prod_t *p = prod_make(f, 20, 2, 0, 0);
  rec_t *rec = p->rec;
  p->eagain_pct = 100; /* nothing yet */
  assert_int_equal(push_prod(f, p), 0);
  assert_int_equal(push_copy(f, 10, 3), 0);
  assert_int_equal(push_borrowed(f, 10, 4), 0);
  for (int i = 0; i < 3; i++) {
    fray_ssize_t n = fray_outq_flush(f->q, sink_write, &f->sink);
    assert_int_equal(n, i == 0 ? 10 : 0);
    /* Only the bytes before the producer went out. */
    assert_int_equal(f->sink.out.len, 10);
    assert_memory_equal(f->sink.out.p, f->want.p, 10);
  }
  const uint8_t *d = (const uint8_t *)"x";
  size_t l = 99;
  assert_int_equal(fray_outq_peek(f->q, &d, &l), FRAY_EAGAIN);
  assert_null(d);
  assert_int_equal(l, 0);
  /* Consuming may not go past a producer that has yielded nothing. */
  assert_int_equal(fray_outq_consume(f->q, 1), FRAY_EINVAL);
  assert_int_equal(fray_outq_pending(f->q), 20);
  p->eagain_pct = 0;
  p->max_chunk = 3; /* small pieces: several pulls */
  drain(f);
  assert_bytes_equal(&f->sink.out, &f->want);
  assert_int_equal(rec->freed, 1);
  assert_true(rec->calls > 7);
}

static void test_outq_producer_error_is_sticky(void **state) {
  fixture_t *f = *state;
  assert_int_equal(push_copy(f, 10, 1), 0);
  prod_t *p = prod_make(f, 100, 2, 0, 0);
  p->fail_pos = 0;
  p->fail_code = FRAY_EIO;
  rec_t *rec = p->rec;
  assert_int_equal(push_prod(f, p), 0);
  assert_int_equal(push_borrowed(f, 10, 3), 0);
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), FRAY_EIO);
  /* What was before the producer went out; the producer is released. */
  assert_int_equal(f->sink.out.len, 10);
  assert_int_equal(rec->freed, 1);
  assert_int_equal(fray_outq_error(f->q), FRAY_EIO);
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), FRAY_EIO);
  const uint8_t *d;
  size_t l;
  assert_int_equal(fray_outq_peek(f->q, &d, &l), FRAY_EIO);
  assert_int_equal(fray_outq_push(f->q, (const uint8_t *)"x", 1), FRAY_EIO);
  assert_int_equal(push_borrowed(f, 4, 1), FRAY_EIO);
  assert_int_equal(f->sink.out.len, 10);
  check(f);
  /* Teardown releases the borrowed buffer behind the failed producer. */
}

static void test_outq_producer_overclaim_is_error(void **state) {
  fixture_t *f = *state;
  prod_t *p = prod_make(f, 100, 2, 0, 0);
  p->fail_pos = 0;
  p->fail_code = (fray_ssize_t)FRAY_OUTQ_BLOCK_SIZE + 1; /* more than cap */
  assert_int_equal(push_prod(f, p), 0);
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), FRAY_ECALLBACK);
  assert_int_equal(fray_outq_error(f->q), FRAY_ECALLBACK);
  assert_int_equal(f->sink.out.len, 0);
}

static void test_outq_producer_fails_midway(void **state) {
  fixture_t *f = *state;
  prod_t *p = prod_make(f, 10000, 9, 100, 0);
  p->fail_pos = 250;
  p->fail_code = FRAY_EPROTO;
  rec_t *rec = p->rec;
  assert_int_equal(push_prod(f, p), 0);
  fray_ssize_t n;
  long guard = 0;
  while ((n = fray_outq_flush(f->q, sink_write, &f->sink)) >= 0)
    assert_true(++guard < 100000);
  assert_int_equal(n, FRAY_EPROTO);
  /* Everything yielded before the failure was written, nothing more. */
  assert_int_equal(rec->freed, 1);
  assert_int_equal(f->sink.out.len, rec->yielded);
  assert_true(rec->yielded >= 250);
  assert_memory_equal(f->sink.out.p, f->want.p, f->sink.out.len);
}

static void test_outq_writer_error_not_sticky(void **state) {
  fixture_t *f = *state;
  for (int i = 0; i < 5; i++)
    assert_int_equal(push_borrowed(f, 100, (uint8_t)i), 0);
  f->sink.fixed = 100;
  f->sink.fail_call = 3;
  f->sink.fail_code = FRAY_ECONNRESET;
  /* Two full buffers go out, the third write fails: the error is returned
   * and the two written buffers stay consumed. */
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), FRAY_ECONNRESET);
  assert_int_equal(fray_outq_written(f->q), 200);
  assert_int_equal(fray_outq_error(f->q), 0);
  assert_int_equal(fray_outq_pending(f->q), 300);
  assert_int_equal(f->recs[0].freed + f->recs[1].freed + f->recs[2].freed, 2);
  drain(f);
  assert_bytes_equal(&f->sink.out, &f->want);
}

static void test_outq_writer_overclaim_rejected(void **state) {
  fixture_t *f = *state;
  assert_int_equal(push_copy(f, 50, 1), 0);
  f->sink.overclaim = 1;
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), FRAY_ECALLBACK);
  assert_int_equal(fray_outq_pending(f->q), 50);
  assert_int_equal(fray_outq_written(f->q), 0);
  f->sink.overclaim = 0;
  drain(f);
  assert_bytes_equal(&f->sink.out, &f->want);
}

static void test_outq_close_when_done(void **state) {
  fixture_t *f = *state;
  assert_int_equal(push_copy(f, 10, 1), 0);
  assert_int_equal(push_prod(f, prod_make(f, 30, 2, 7, 0)), 0);
  assert_int_equal(fray_outq_close_when_done(f->q), 0);
  assert_int_equal(fray_outq_close_when_done(f->q), 0);
  assert_int_equal(fray_outq_done(f->q), 0);
  /* After closing, pushes fail and never take ownership. */
  assert_int_equal(push_copy(f, 3, 1), FRAY_ECLOSED);
  assert_int_equal(push_borrowed(f, 3, 1), FRAY_ECLOSED);
  assert_int_equal(push_prod(f, prod_make(f, 3, 3, 0, 0)), FRAY_ECLOSED);
  f->sink.fixed = 4;
  long guard = 0;
  while (!fray_outq_done(f->q)) {
    assert_int_equal(fray_outq_done(f->q), 0);
    assert_true(fray_outq_flush(f->q, sink_write, &f->sink) >= 0);
    assert_true(++guard < 1000);
  }
  assert_bytes_equal(&f->sink.out, &f->want);
  assert_int_equal(fray_outq_pending(f->q), 0);
  /* done is stable and a flush of a done queue writes nothing. */
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), 0);
  assert_int_equal(fray_outq_done(f->q), 1);
}

static void test_outq_close_when_done_empty_and_marker(void **state) {
  fixture_t *f = *state;
  /* A queue holding only a marker is not done until a flush reaches it. */
  assert_int_equal(push_borrowed(f, 0, 0), 0);
  assert_int_equal(fray_outq_close_when_done(f->q), 0);
  assert_int_equal(fray_outq_done(f->q), 0);
  assert_int_equal(f->recs[0].freed, 0);
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), 0);
  assert_int_equal(f->recs[0].freed, 1);
  assert_int_equal(fray_outq_done(f->q), 1);
  assert_int_equal(f->sink.calls, 0);
}

static void water_cb(fray_outq_t *q, int over, void *ud) {
  fixture_t *f = ud;
  assert_true(f->nwater < 16);
  f->water[f->nwater++] = over;
  /* The flag already tells the new state when the callback runs. */
  assert_int_equal(fray_outq_over_high_water(q), over);
}

static void test_outq_high_water_signals(void **state) {
  fixture_t *f = *state;
  fray_outq_free(f->q);
  assert_int_equal(fray_outq_new(&f->q, 100, &f->mem, f), 0);
  fray_outq_set_water_cb(f->q, water_cb);
  assert_int_equal(push_copy(f, 60, 1), 0);
  assert_int_equal(push_copy(f, 40, 2), 0); /* exactly at the mark: not over */
  assert_int_equal(fray_outq_over_high_water(f->q), 0);
  assert_int_equal(f->nwater, 0);
  assert_int_equal(push_borrowed(f, 1, 3), 0); /* 101: over */
  assert_int_equal(fray_outq_over_high_water(f->q), 1);
  assert_int_equal(f->nwater, 1);
  assert_int_equal(push_copy(f, 500, 4), 0); /* still over: no new event */
  assert_int_equal(f->nwater, 1);
  /* Draining down to 51 keeps it over; 50 (the low mark) clears it. */
  assert_int_equal(fray_outq_consume(f->q, 601 - 51), 0);
  assert_int_equal(fray_outq_over_high_water(f->q), 1);
  assert_int_equal(f->nwater, 1);
  f->sink.fixed = 1;
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), 1);
  assert_int_equal(fray_outq_over_high_water(f->q), 0);
  assert_int_equal(f->nwater, 2);
  /* Up again: 50 + 51. */
  assert_int_equal(push_copy(f, 51, 5), 0);
  assert_int_equal(f->nwater, 3);
  assert_int_equal(fray_outq_consume(f->q, fray_outq_pending(f->q)), 0);
  assert_int_equal(f->nwater, 4);
  /* A producer's bytes never set it, even far over the mark. */
  assert_int_equal(push_prod(f, prod_make(f, 3000, 6, 0, 0)), 0);
  const uint8_t *d;
  size_t l;
  assert_int_equal(fray_outq_peek(f->q, &d, &l), 0);
  assert_int_equal(l, 3000);
  assert_int_equal(fray_outq_pending(f->q), 3000);
  assert_int_equal(fray_outq_over_high_water(f->q), 0);
  assert_int_equal(f->nwater, 4);
  static const int history[] = {1, 0, 1, 0};
  assert_memory_equal(f->water, history, sizeof history);
  /* Unset: no more calls. */
  fray_outq_set_water_cb(f->q, NULL);
  assert_int_equal(push_copy(f, 1000, 7), 0);
  assert_int_equal(fray_outq_over_high_water(f->q), 1);
  assert_int_equal(f->nwater, 4);
}

static void test_outq_free_releases_pending_items(void **state) {
  fixture_t *f = *state;
  assert_int_equal(push_borrowed(f, 10, 1), 0);
  assert_int_equal(push_prod(f, prod_make(f, 10, 2, 0, 0)), 0);
  assert_int_equal(push_copy(f, 10, 3), 0);
  assert_int_equal(push_borrowed(f, 0, 4), 0);
  assert_int_equal(push_prod(f, prod_make(f, 10, 5, 0, 0)), 0);
  assert_int_equal(push_borrowed(f, 10, 6), 0);
  /* Partly written first buffer: still released once, at free. */
  f->sink.fixed = 3;
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), 3);
  fray_outq_free(f->q);
  f->q = NULL;
  assert_int_equal(f->alloc.live, 0);
  for (int i = 0; i < f->nrecs; i++) {
    assert_int_equal(f->recs[i].freed, 1);
    /* In queue order. */
    if (i)
      assert_true(f->recs[i].order > f->recs[i - 1].order);
  }
}

static void test_outq_borrowed_marker_after_bytes(void **state) {
  fixture_t *f = *state;
  assert_int_equal(push_copy(f, 10, 1), 0);
  assert_int_equal(push_borrowed(f, 0, 0), 0);
  assert_int_equal(push_copy(f, 10, 2), 0);
  f->sink.fixed = 9;
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), 9);
  assert_int_equal(f->recs[0].freed, 0);
  /* Its turn comes with the 10th byte, before any byte after it. */
  const uint8_t *d;
  size_t l;
  assert_int_equal(fray_outq_peek(f->q, &d, &l), 0);
  assert_int_equal(l, 1);
  bytes_add(&f->sink.out, d, l);
  assert_int_equal(fray_outq_consume(f->q, 1), 0);
  assert_int_equal(f->recs[0].freed, 1);
  assert_int_equal(fray_outq_pending(f->q), 10);
  /* A full write goes on with the next item in the same flush. */
  f->sink.fixed = 0;
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), 10);
  drain(f);
  assert_bytes_equal(&f->sink.out, &f->want);
}

static void test_outq_peek_consume_spans_items(void **state) {
  fixture_t *f = *state;
  assert_int_equal(push_borrowed(f, 10, 1), 0);
  assert_int_equal(push_copy(f, 10, 2), 0);
  assert_int_equal(push_borrowed(f, 10, 3), 0);
  assert_int_equal(push_prod(f, prod_make(f, 10, 4, 0, 0)), 0);
  const uint8_t *d;
  size_t l;
  assert_int_equal(fray_outq_peek(f->q, &d, &l), 0);
  assert_int_equal(l, 10);
  assert_memory_equal(d, f->want.p, 10);
  /* More than the bytes before the producer: refused, nothing consumed. */
  assert_int_equal(fray_outq_consume(f->q, 31), FRAY_EINVAL);
  assert_int_equal(fray_outq_pending(f->q), 30);
  /* Across two items. */
  assert_int_equal(fray_outq_consume(f->q, 15), 0);
  assert_int_equal(f->recs[0].freed, 1);
  assert_int_equal(fray_outq_peek(f->q, &d, &l), 0);
  assert_int_equal(l, 5);
  assert_memory_equal(d, f->want.p + 15, 5);
  assert_int_equal(fray_outq_consume(f->q, 15), 0);
  assert_int_equal(f->recs[1].freed, 1);
  assert_int_equal(fray_outq_peek(f->q, &d, &l), 0); /* pulls the producer */
  assert_int_equal(l, 10);
  assert_memory_equal(d, f->want.p + 30, 10);
  assert_int_equal(fray_outq_consume(f->q, 10), 0);
  assert_int_equal(fray_outq_peek(f->q, &d, &l), 0); /* producer says 0 */
  assert_int_equal(l, 0);
  assert_null(d);
  assert_int_equal(f->recs[2].freed, 1);
  assert_int_equal(fray_outq_consume(f->q, 0), 0);
  assert_int_equal(fray_outq_written(f->q), 40);
}

/* Writer that pushes more data into the queue it is being flushed from and
 * tries a nested flush, which must be refused. */
typedef struct reentrant {
  fixture_t *f;
  int pushed;
} reentrant_t;

static fray_ssize_t reentrant_write(void *ctx, const uint8_t *data, size_t len) {
  reentrant_t *r = ctx;
  fixture_t *f = r->f;
  assert_int_equal(fray_outq_flush(f->q, sink_write, &f->sink), FRAY_ESTATE);
  assert_int_equal(fray_outq_consume(f->q, 1), FRAY_ESTATE);
  const uint8_t *d;
  size_t l;
  assert_int_equal(fray_outq_peek(f->q, &d, &l), FRAY_ESTATE);
  size_t take = len > 3 ? 3 : len;
  bytes_add(&f->sink.out, data, take);
  if (r->pushed < 20) {
    r->pushed++;
    /* Appends into the block being written from; data must stay valid. */
    assert_int_equal(push_copy(f, 5, (uint8_t)r->pushed), 0);
  }
  /* data still holds what we were offered even after the push. */
  assert_memory_equal(data, f->want.p + fray_outq_written(f->q), take);
  return (fray_ssize_t)take;
}

static fray_ssize_t pushing_prod(fray_outq_t *q, uint8_t *buf, size_t cap, void *ud) {
  fixture_t *f = fray_outq_user_data(q);
  (void)ud;
  (void)cap;
  /* A producer pushing puts the data behind itself. */
  if (f->prod_calls++ == 0) {
    assert_int_equal(fray_outq_push(q, (const uint8_t *)"TAIL", 4), 0);
    memcpy(buf, "HEAD", 4);
    return 4;
  }
  return 0;
}

static void test_outq_callbacks_may_push(void **state) {
  fixture_t *f = *state;
  assert_int_equal(push_copy(f, 7, 1), 0);
  reentrant_t r = {.f = f};
  long guard = 0;
  while (fray_outq_pending(f->q)) {
    assert_true(fray_outq_flush(f->q, reentrant_write, &r) >= 0);
    check(f);
    assert_true(++guard < 1000);
  }
  assert_int_equal(r.pushed, 20);
  assert_bytes_equal(&f->sink.out, &f->want);

  f->sink.out.len = 0;
  f->want.len = 0;
  assert_int_equal(fray_outq_push_producer(f->q, pushing_prod, NULL, NULL), 0);
  drain(f);
  assert_int_equal(f->sink.out.len, 8);
  assert_memory_equal(f->sink.out.p, "HEADTAIL", 8);
}

/* One scenario touching every allocation site; every step tolerates
 * FRAY_ENOMEM (then its effect must be absent) and the queue stays usable. */
/* Accepts success or FRAY_ENOMEM, counting the latter. */
static void ok_or_nomem(fixture_t *f, int rc) {
  assert_true(rc == 0 || rc == FRAY_ENOMEM);
  f->enomem += rc == FRAY_ENOMEM;
}

static void failmalloc_scenario(fixture_t *f) {
  int rc;
  /* A producer first: its first pull allocates (no spare block yet), so a
   * flush meets FRAY_ENOMEM too. */
  rc = push_prod(f, prod_make(f, 5000, 7, 0, 0));
  ok_or_nomem(f, rc);
  rc = push_copy(f, 100, 1);
  ok_or_nomem(f, rc);
  rc = push_borrowed(f, 50, 2);
  ok_or_nomem(f, rc);
  rc = push_prod(f, prod_make(f, 9000, 3, 0, 0));
  ok_or_nomem(f, rc);
  rc = push_copy(f, 10000, 4); /* bigger than a block */
  ok_or_nomem(f, rc);
  for (int i = 0; i < 50; i++) {
    rc = push_copy(f, 97, (uint8_t)i); /* crosses a block boundary */
    ok_or_nomem(f, rc);
  }
  rc = push_borrowed(f, 0, 5);
  ok_or_nomem(f, rc);
  f->sink.fixed = 777;
  long guard = 0;
  for (;;) {
    fray_ssize_t n = fray_outq_flush(f->q, sink_write, &f->sink);
    ok_or_nomem(f, n < 0 ? (int)n : 0); /* ENOMEM: pulling a producer */
    check(f);
    const uint8_t *d;
    size_t l;
    rc = fray_outq_peek(f->q, &d, &l);
    ok_or_nomem(f, rc);
    if (rc == 0 && l == 0)
      break;
    assert_true(++guard < 100000);
  }
  assert_bytes_equal(&f->sink.out, &f->want);
}

static void test_outq_failmalloc_each_allocation(void **state) {
  fixture_t *f = *state;
  fray_outq_free(f->q);
  f->q = NULL;
  /* Count the allocations of a clean run (queue creation included). */
  f->alloc = (alloc_ctx_t){0};
  assert_int_equal(fray_outq_new(&f->q, 0, &f->mem, f), 0);
  failmalloc_scenario(f);
  fray_outq_free(f->q);
  f->q = NULL;
  long total = f->alloc.count;
  assert_int_equal(f->alloc.live, 0);
  assert_true(total >= 6);
  print_message("fail-malloc loop over %ld allocations\n", total);
  for (long k = 1; k <= total; k++) {
    f->alloc = (alloc_ctx_t){.fail_at = k};
    f->sink.out.len = 0;
    f->want.len = 0;
    f->nrecs = 0;
    memset(f->recs, 0, sizeof f->recs);
    int rc = fray_outq_new(&f->q, 0, &f->mem, f);
    if (k == 1) {
      assert_int_equal(rc, FRAY_ENOMEM);
      assert_null(f->q);
      assert_int_equal(f->alloc.live, 0);
      continue;
    }
    assert_int_equal(rc, 0);
    f->enomem = 0;
    failmalloc_scenario(f);
    /* The failed allocation was reported exactly once, never swallowed. */
    assert_true(f->alloc.count >= k);
    assert_int_equal(f->enomem, 1);
    fray_outq_free(f->q);
    f->q = NULL;
    assert_int_equal(f->alloc.live, 0);
    for (int i = 0; i < f->nrecs; i++)
      assert_int_equal(f->recs[i].freed, 1);
  }
  f->alloc = (alloc_ctx_t){0};
  assert_int_equal(fray_outq_new(&f->q, 0, &f->mem, f), 0);
}

/* A queue in its owner's storage with an inline first block: small pushes
 * allocate nothing, the inline block is reused once drained, a push past it
 * allocates as before, and fini frees what was allocated, never the inline
 * block. */
static void test_outq_inline_block(void **state) {
  fixture_t *f = *state;
  const long count0 = f->alloc.count, live0 = f->alloc.live; /* setup's own queue */
  const size_t inl = 64;
  void *store = malloc(fray__outq_size(inl));
  assert_non_null(store);
  fray_outq_t *q = store;
  fray__outq_init(q, 0, &f->mem, f, inl);
  bytes_t want = {0};
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 5; i++) { /* 5 x 12 bytes: within the 64 inline */
      char m[16];
      snprintf(m, sizeof m, "r%d line %02d\n", round, i);
      assert_int_equal(fray_outq_push(q, (const uint8_t *)m, strlen(m)), 0);
      bytes_add(&want, (const uint8_t *)m, strlen(m));
    }
    assert_int_equal(fray__outq_check(q), 0);
    assert_int_equal(f->alloc.count, count0);
    f->sink.fixed = 7; /* partial writes, then the block drains */
    while (fray_outq_pending(q))
      assert_true(fray_outq_flush(q, sink_write, &f->sink) > 0);
    assert_int_equal(fray__outq_check(q), 0);
  }
  uint8_t big[200];
  memset(big, 'b', sizeof big);
  assert_int_equal(fray_outq_push(q, (const uint8_t *)"head", 4), 0);
  assert_int_equal(fray_outq_push(q, big, sizeof big), 0); /* past the inline block */
  bytes_add(&want, (const uint8_t *)"head", 4);
  bytes_add(&want, big, sizeof big);
  assert_int_equal(f->alloc.count, count0 + 1);
  assert_int_equal(fray__outq_check(q), 0);
  assert_int_equal(fray_outq_push(q, (const uint8_t *)"tail", 4), 0);
  bytes_add(&want, (const uint8_t *)"tail", 4);
  while (fray_outq_pending(q))
    assert_true(fray_outq_flush(q, sink_write, &f->sink) > 0);
  assert_bytes_equal(&f->sink.out, &want);
  assert_int_equal(fray_outq_push(q, (const uint8_t *)"left", 4), 0);
  fray__outq_fini(q);
  assert_int_equal(f->alloc.live, live0);
  free(store);
  free(want.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_outq_new_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_push_coalesces_small_copies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_flush_fixed_partial_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_flush_random_mix_exact, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_producer_eagain_keeps_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_producer_error_is_sticky, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_producer_overclaim_is_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_producer_fails_midway, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_writer_error_not_sticky, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_writer_overclaim_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_close_when_done, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_close_when_done_empty_and_marker, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_high_water_signals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_free_releases_pending_items, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_borrowed_marker_after_bytes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_peek_consume_spans_items, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_callbacks_may_push, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_failmalloc_each_allocation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outq_inline_block, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
