/* Unit tests for the connection runtime (core/handler.c, fray/handler.h),
 * driven the way every driver drives it: a recording handler defined here
 * answers a tiny command protocol ("echo X", "count N", "close", "abort",
 * "big N", "bcast X", "kick", ...), the test feeds bytes, flushes through its
 * own writers and checks what the handler saw and sent.
 *
 * Covered: on_open / on_frame / on_error / on_truncated / on_eof / on_close
 * and their counts and order (sending, closing and aborting from on_eof; no
 * on_eof, no change); a spec switch from inside on_frame applying to bytes
 * already fed in the same chunk; close after flush (should_close only once
 * the output is written); abort, a callback's negative return, on_open
 * refusing, peer reset; back-pressure (pending, the high-water flag and its
 * hysteresis, a writer taking nothing); iteration, find and broadcast,
 * aborting others during a walk; server_init failing; conn_size and
 * server_size state zeroed and aligned on a poisoned allocator; a
 * fail-malloc loop over server_new, open, input and sends; NULL arguments;
 * and fray_conn_sendf writing exactly what printf would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fray/driver.h"
#include "fray/handler.h"

#include "core/internal.h"
#include "failmem.h"

/* ---- what the handler saw ------------------------------------------------ */

typedef struct rec {
  int inits, frees, opens, frames, errors, truncs, closes, eofs;
  int reasons[FRAY_CLOSE_SHUTDOWN + 1];
  int dirty;          /* state that was not zeroed, or data() mismatches */
  int init_ret;       /* server_init's return */
  int error_ret;      /* on_error's return */
  int after_close_rc; /* fray_conn_send right after fray_conn_close */
  int in_close_rc;    /* fray_conn_send from on_close */
  int set_spec_rc;    /* the last fray_conn_set_spec from on_frame */
  int bcast_sent;     /* connections a broadcast reached */
  char log[4096];     /* "name:EVENT|" per callback, in order */
  size_t loglen;
} rec_t;

static rec_t R;

static void rec_reset(void) {
  memset(&R, 0, sizeof R);
  R.after_close_rc = R.in_close_rc = R.set_spec_rc = 1; /* "not called" */
}

static void logf_(fray_conn_t *c, const char *ev, const uint8_t *d, size_t n) {
  int w = snprintf(R.log + R.loglen, sizeof R.log - R.loglen, "%s:%s%.*s|", fray_conn_name(c), ev,
                   (int)n, (const char *)d);
  assert_true(w > 0 && (size_t)w < sizeof R.log - R.loglen);
  R.loglen += (size_t)w;
}

typedef struct conn_st {
  int body;               /* the next frame is a counted body */
  unsigned char rest[25]; /* makes conn_size odd: the block's tail */
} conn_st_t;
#define CONN_SIZE (sizeof(conn_st_t) + 3)
#define SERVER_SIZE 53

static int all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i])
      return 0;
  return 1;
}

/* ---- the recording handler ------------------------------------------------ */

static int h_init(fray_server_t *s, void *st) {
  R.inits++;
  R.dirty += !all_zero(st, SERVER_SIZE) || fray_server_data(s) != st ||
             (uintptr_t)st % _Alignof(max_align_t) != 0;
  return R.init_ret;
}

static void h_free(fray_server_t *s, void *st) {
  (void)s;
  (void)st;
  R.frees++;
}

static int h_open(fray_conn_t *c, void *st) {
  R.opens++;
  logf_(c, "O", NULL, 0);
  R.dirty += !all_zero(st, CONN_SIZE) || fray_conn_data(c) != st ||
             (uintptr_t)st % _Alignof(max_align_t) != 0;
  if (!strcmp(fray_conn_name(c), "greet"))
    return fray_conn_send(c, "hello\n", 6);
  return strcmp(fray_conn_name(c), "refuse") ? 0 : FRAY_EIO;
}

static int starts(const uint8_t *d, size_t n, const char *w) {
  size_t k = strlen(w);
  return n >= k && !memcmp(d, w, k);
}

/* The commands that act on other connections or the framing. */
static int h_command(fray_conn_t *c, const uint8_t *d, size_t n, conn_st_t *cs) {
  fray_server_t *s = fray_conn_server(c);
  if (starts(d, n, "count ")) {
    cs->body = 1;
    fray_spec_t sp = fray_spec_count(strtoul((const char *)d + 6, NULL, 10));
    R.set_spec_rc = fray_conn_set_spec(c, &sp);
    cs->body = R.set_spec_rc == 0;
  } else if (starts(d, n, "bcast ")) {
    for (fray_conn_t *o = fray_server_first(s); o; o = fray_server_next(o)) {
      fray_conn_send(o, d + 6, n - 6);
      fray_conn_send(o, "\n", 1);
      R.bcast_sent++;
    }
  } else if (starts(d, n, "kick")) {
    for (fray_conn_t *o = fray_server_first(s); o; o = fray_server_next(o))
      if (o != c)
        fray_conn_abort(o);
  } else if (starts(d, n, "big ")) {
    char chunk[1000];
    memset(chunk, 'b', sizeof chunk);
    for (size_t left = strtoul((const char *)d + 4, NULL, 10); left;) {
      size_t k = left < sizeof chunk ? left : sizeof chunk;
      fray_conn_send(c, chunk, k);
      left -= k;
    }
  }
  return 0;
}

static int h_frame(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  conn_st_t *cs = st;
  R.frames++;
  logf_(c, "F", d, n);
  if (cs->body) {
    cs->body = 0;
    fray_spec_t line = fray_spec_line();
    R.set_spec_rc = fray_conn_set_spec(c, &line);
    return 0;
  }
  if (starts(d, n, "echo ")) {
    int r = fray_conn_send(c, d + 5, n - 5);
    return r ? r : fray_conn_send(c, "\n", 1);
  }
  if (starts(d, n, "close")) {
    fray_conn_send(c, "bye\n", 4);
    fray_conn_close(c);
    R.after_close_rc = fray_conn_send(c, "x", 1);
    return 0;
  }
  if (starts(d, n, "abort")) {
    fray_conn_send(c, "lost\n", 5);
    fray_conn_abort(c);
    return 0;
  }
  if (starts(d, n, "fail"))
    return FRAY_EIO;
  return h_command(c, d, n, cs);
}

static int h_error(fray_conn_t *c, const fray_frame_error_t *e, void *st) {
  (void)st;
  R.errors++;
  char ev[32];
  snprintf(ev, sizeof ev, "E%s%s", fray_err_name(e->code), e->fatal ? "!" : "");
  logf_(c, ev, NULL, 0);
  fray_conn_send(c, "err\n", 4);
  return R.error_ret;
}

static int h_truncated(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)st;
  R.truncs++;
  logf_(c, "T", d, n);
  return 0;
}

static void h_close(fray_conn_t *c, fray_close_reason_t why, void *st) {
  R.closes++;
  R.reasons[why]++;
  char ev[8];
  snprintf(ev, sizeof ev, "C%d", (int)why);
  logf_(c, ev, NULL, 0);
  R.in_close_rc = fray_conn_send(c, "x", 1);
  memset(st, 0xff, CONN_SIZE); /* a later connection must not see this */
}

#define RECORDING(...)                                                                             \
  {                                                                                                \
    .name = "rec", .spec = __VA_ARGS__, .conn_size = CONN_SIZE, .server_size = SERVER_SIZE,        \
    .server_init = h_init, .server_free = h_free, .on_open = h_open, .on_frame = h_frame,          \
    .on_error = h_error, .on_truncated = h_truncated, .on_close = h_close                          \
  }

/* on_eof by the connection's name: "reply" answers, "closer" answers and
 * closes, "aborter" answers and fails; others answer nothing. */
static int h_eof(fray_conn_t *c, void *st) {
  (void)st;
  R.eofs++;
  logf_(c, "EOF", NULL, 0);
  const char *n = fray_conn_name(c);
  if (!strcmp(n, "reply"))
    return fray_conn_sendf(c, "%d frames\n", R.frames);
  if (!strcmp(n, "closer")) {
    fray_conn_send(c, "bye\n", 4);
    fray_conn_close(c);
    R.after_close_rc = fray_conn_send(c, "x", 1);
    return 0;
  }
  if (!strcmp(n, "aborter")) {
    fray_conn_send(c, "lost\n", 5);
    return FRAY_EIO;
  }
  return 0;
}

static fray_handler_t with_eof(fray_handler_t h) {
  h.on_eof = h_eof;
  return h;
}

static const fray_handler_t rec_line = RECORDING({.mode = FRAY_MODE_LINE});
static const fray_handler_t rec_small =
    RECORDING({.mode = FRAY_MODE_LINE, .max_frame = 8, .on_overflow = FRAY_OVERFLOW_ERROR});
static const fray_handler_t rec_skip =
    RECORDING({.mode = FRAY_MODE_LINE, .max_frame = 8, .on_overflow = FRAY_OVERFLOW_SKIP});

/* ---- the driver's side ---------------------------------------------------- */

/* A writer into a growing buffer, taking at most max bytes a call (0: all)
 * and, when limited, budget bytes in all until the test refills it (a
 * socket buffer filling up), or nothing (FRAY_EAGAIN) while stall is set. */
typedef struct sink {
  uint8_t *p;
  size_t len, cap, max;
  size_t budget; /* with limited set: bytes taken before answering EAGAIN */
  int limited, stall;
} sink_t;

static fray_ssize_t sink_write(void *ctx, const uint8_t *d, size_t n) {
  sink_t *s = ctx;
  if (s->stall || (s->limited && !s->budget))
    return FRAY_EAGAIN;
  if (s->max && n > s->max)
    n = s->max;
  if (s->limited && n > s->budget)
    n = s->budget;
  s->budget -= s->limited ? n : 0;
  if (s->len + n > s->cap) {
    s->cap = (s->len + n) * 2;
    s->p = realloc(s->p, s->cap);
    assert_non_null(s->p);
  }
  memcpy(s->p + s->len, d, n);
  s->len += n;
  return (fray_ssize_t)n;
}

/* Flushes c until nothing is pending; what was written is s->p[0..len). */
static void drain(fray_conn_t *c, sink_t *s) {
  for (int i = 0; fray_conn_pending(c) && i < 1000000; i++)
    assert_true(fray_conn_flush(c, sink_write, s) >= 0);
  assert_int_equal(fray_conn_pending(c), 0);
}

/* What c sent, drained, equals want; the sink is emptied. */
static void assert_sent(fray_conn_t *c, sink_t *s, const char *want) {
  drain(c, s);
  if (s->len != strlen(want) || memcmp(s->p, want, s->len))
    fail_msg("sent '%.*s', want '%s'", (int)s->len, (const char *)s->p, want);
  s->len = 0;
}

static void feed(fray_conn_t *c, const char *text) {
  assert_int_equal(fray_conn_input(c, (const uint8_t *)text, strlen(text)), 0);
}

static void feed_bytewise(fray_conn_t *c, const char *text) {
  for (const char *p = text; *p; p++)
    assert_int_equal(fray_conn_input(c, (const uint8_t *)p, 1), 0);
}

static void assert_log(const char *want) {
  if (strcmp(R.log, want))
    fail_msg("log\n  got:  %s\n  want: %s", R.log, want);
}

static fray_conn_t *open_named(fray_server_t *s, const char *name) {
  fray_conn_t *c = NULL;
  assert_int_equal(fray_server_open(s, name, NULL, &c), 0);
  assert_non_null(c);
  return c;
}

static fray_server_t *new_server(const fray_handler_t *h) {
  rec_reset();
  fray_server_t *s = NULL;
  assert_int_equal(fray_server_new(&s, h, NULL), 0);
  assert_int_equal(R.inits, 1);
  return s;
}

/* Frees s and checks every open had its one close and server_free ran. */
static void end_server(fray_server_t *s) {
  fray_server_free(s);
  assert_int_equal(R.frees, 1);
  assert_int_equal(R.closes, R.opens);
  assert_int_equal(R.dirty, 0);
}

/* ---- callbacks and their counts -------------------------------------------- */

static void test_frames_in_order(void **state) {
  (void)state;
  sink_t out = {0};
  fray_server_t *s = new_server(&rec_line);
  int tag_a = 1, tag_b = 2;
  fray_conn_t *a, *b;
  assert_int_equal(fray_server_open(s, "a", &tag_a, &a), 0);
  assert_int_equal(fray_server_open(s, "b", &tag_b, &b), 0);
  assert_int_equal(fray_conn_id(a), 1);
  assert_int_equal(fray_conn_id(b), 2);
  assert_ptr_equal(fray_conn_driver_data(b), &tag_b);
  assert_string_equal(fray_conn_name(a), "a");
  assert_ptr_equal(fray_conn_server(a), s);
  assert_ptr_equal(fray_server_handler(s), &rec_line);
  assert_int_equal(fray_server_count(s), 2);
  assert_true(fray_conn_idle(a));

  feed(a, "echo one\r\necho tw");
  assert_int_equal(fray_conn_buffered(a), 7); /* "echo tw" waits for its end */
  feed(b, "echo x\n");
  feed_bytewise(a, "o\r\necho thr");
  assert_int_equal(R.frames, 3);
  assert_false(fray_conn_idle(a));
  assert_sent(a, &out, "one\ntwo\n");
  assert_sent(b, &out, "x\n");
  assert_true(fray_conn_idle(a));

  /* The peer's EOF: the unfinished frame goes to on_truncated, then the
   * connection closes once flushed (nothing is queued: at once). */
  assert_int_equal(fray_conn_input_eof(a), 0);
  assert_int_equal(R.truncs, 1);
  assert_int_equal(fray_conn_state(a), FRAY_CONN_CLOSING);
  assert_int_equal(fray_server_count(s), 1);
  assert_true(fray_conn_should_close(a));
  assert_false(fray_conn_was_aborted(a));
  assert_int_equal(fray_conn_input(a, (const uint8_t *)"echo late\n", 10), FRAY_ECLOSED);
  assert_int_equal(fray_conn_input_eof(a), FRAY_ECLOSED);
  assert_int_equal(R.closes, 0); /* on_close runs when the driver releases */
  fray_conn_release(a);
  assert_int_equal(R.reasons[FRAY_CLOSE_PEER], 1);
  assert_int_equal(R.in_close_rc, FRAY_ECLOSED);

  /* An EOF with nothing buffered truncates nothing. */
  fray_conn_t *c = open_named(s, "c");
  assert_int_equal(fray_conn_id(c), 3);
  assert_int_equal(fray_conn_input_eof(c), 0);
  assert_int_equal(R.truncs, 1);
  fray_conn_release(c);

  end_server(s); /* b is still open: shut down */
  assert_int_equal(R.reasons[FRAY_CLOSE_SHUTDOWN], 1);
  assert_log("a:O|b:O|a:Fecho one|b:Fecho x|a:Fecho two|a:Techo thr|a:C0|c:O|c:C0|b:C5|");
  free(out.p);
}

static void test_framing_errors(void **state) {
  (void)state;
  sink_t out = {0};
  /* Fatal: the reply sent from on_error is flushed, then the connection
   * closes with reason ERROR; nothing after the error is framed. */
  fray_server_t *s = new_server(&rec_small);
  fray_conn_t *a = open_named(s, "a");
  feed(a, "echo ok\n0123456789abc\necho no\n");
  assert_int_equal(R.frames, 1);
  assert_int_equal(R.errors, 1);
  assert_int_equal(fray_conn_state(a), FRAY_CONN_CLOSING);
  assert_false(fray_conn_was_aborted(a));
  assert_sent(a, &out, "ok\nerr\n");
  assert_true(fray_conn_should_close(a));
  fray_conn_release(a);
  assert_int_equal(R.reasons[FRAY_CLOSE_ERROR], 1);
  end_server(s);
  assert_log("a:O|a:Fecho ok|a:EETOOLONG!|a:C4|");

  /* Skip: reported once, the connection goes on. */
  s = new_server(&rec_skip);
  a = open_named(s, "a");
  feed_bytewise(a, "0123456789\necho ok\n");
  assert_int_equal(R.errors, 1);
  assert_int_equal(fray_conn_state(a), FRAY_CONN_OPEN);
  assert_sent(a, &out, "err\nok\n");
  /* ... unless on_error returns < 0: then it is aborted. */
  R.error_ret = FRAY_EIO;
  feed(a, "0123456789\necho no\n");
  assert_int_equal(fray_conn_state(a), FRAY_CONN_CLOSED);
  assert_true(fray_conn_was_aborted(a));
  assert_int_equal(R.reasons[FRAY_CLOSE_ABORT], 1);
  fray_conn_release(a);
  end_server(s);
  assert_log("a:O|a:EETOOLONG|a:Fecho ok|a:EETOOLONG|a:C2|");

  /* Without on_error a fatal error still closes the connection. */
  fray_handler_t bare = rec_small;
  bare.on_error = NULL;
  s = new_server(&bare);
  a = open_named(s, "a");
  feed(a, "0123456789\n");
  assert_int_equal(fray_conn_state(a), FRAY_CONN_CLOSING);
  assert_true(fray_conn_should_close(a));
  end_server(s);
  assert_int_equal(R.reasons[FRAY_CLOSE_ERROR], 1);
  free(out.p);
}

/* A switch made in on_frame applies to the very next byte, though the rest
 * of the chunk is already in the framer's hands; byte by byte alike. */
static void test_spec_switch_applies_to_buffered_bytes(void **state) {
  (void)state;
  static const char *const chunks[] = {"count 5\r\nAB\nDEecho after\r\ncount 0\necho same\n"};
  sink_t out = {0};
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    fray_server_t *s = new_server(&rec_line);
    fray_conn_t *a = open_named(s, "a");
    if (bytewise)
      feed_bytewise(a, chunks[0]);
    else
      feed(a, chunks[0]);
    /* "count 0" is refused (EINVAL) and line framing goes on. */
    assert_int_equal(R.set_spec_rc, FRAY_EINVAL);
    assert_sent(a, &out, "after\nsame\n");
    end_server(s);
    assert_log("a:O|a:Fcount 5|a:FAB\nDE|a:Fecho after|a:Fcount 0|a:Fecho same|a:C5|");
  }
  free(out.p);
}

/* ---- ending connections ---------------------------------------------------- */

static void test_close_after_flush(void **state) {
  (void)state;
  fray_server_t *s = new_server(&rec_line);
  fray_conn_t *g = open_named(s, "greet");
  feed(g, "close\necho ignored\n");
  assert_int_equal(R.frames, 1);
  assert_int_equal(R.after_close_rc, FRAY_ECLOSED);
  assert_int_equal(fray_conn_state(g), FRAY_CONN_CLOSING);
  assert_int_equal(fray_server_count(s), 0);
  assert_null(fray_server_first(s));
  assert_ptr_equal(fray_server_find(s, fray_conn_id(g)), g); /* closing: still findable */
  fray_conn_close(g);                                        /* idempotent */
  /* One byte a call: should_close only once the last byte is out. */
  sink_t out = {.max = 1};
  size_t want = strlen("hello\nbye\n");
  for (size_t i = 0; i < want; i++) {
    assert_false(fray_conn_should_close(g));
    assert_int_equal(fray_conn_pending(g), want - i);
    assert_int_equal(fray_conn_flush(g, sink_write, &out), 1);
  }
  assert_true(fray_conn_should_close(g));
  assert_memory_equal(out.p, "hello\nbye\n", want);
  assert_int_equal(R.closes, 0);
  fray_conn_release(g);
  assert_int_equal(R.reasons[FRAY_CLOSE_LOCAL], 1);
  end_server(s);
  free(out.p);
}

static void test_abort_and_reset(void **state) {
  (void)state;
  sink_t out = {0};
  fray_server_t *s = new_server(&rec_line);
  fray_conn_t *a = open_named(s, "greet");
  feed(a, "abort\necho no\n");
  /* At once: on_close ran inside the frame, queued output is dropped. */
  assert_int_equal(R.closes, 1);
  assert_int_equal(R.reasons[FRAY_CLOSE_ABORT], 1);
  assert_int_equal(fray_conn_state(a), FRAY_CONN_CLOSED);
  assert_true(fray_conn_was_aborted(a));
  assert_true(fray_conn_should_close(a));
  assert_int_equal(fray_conn_pending(a), 0);
  assert_int_equal(fray_conn_flush(a, sink_write, &out), 0);
  assert_int_equal(out.len, 0);
  assert_int_equal(fray_conn_send(a, "x", 1), FRAY_ECLOSED);
  assert_null(fray_server_find(s, fray_conn_id(a)));
  fray_conn_abort(a); /* idempotent: no second on_close */
  fray_conn_release(a);
  assert_int_equal(R.closes, 1);

  /* A callback returning < 0 aborts the same way. */
  fray_conn_t *b = open_named(s, "b");
  feed(b, "fail\necho no\n");
  assert_int_equal(R.reasons[FRAY_CLOSE_ABORT], 2);
  assert_int_equal(R.frames, 2);
  fray_conn_release(b);

  /* on_open refusing: *out is set, the connection is already CLOSED. */
  fray_conn_t *r = NULL;
  assert_int_equal(fray_server_open(s, "refuse", NULL, &r), 0);
  assert_non_null(r);
  assert_int_equal(fray_conn_state(r), FRAY_CONN_CLOSED);
  assert_int_equal(R.reasons[FRAY_CLOSE_ABORT], 3);
  assert_int_equal(fray_server_count(s), 0);
  fray_conn_release(r);

  /* The peer's reset: output dropped, reason RESET. A close in progress
   * turned into an abort keeps nothing either. */
  fray_conn_t *c = open_named(s, "greet");
  fray_conn_input_reset(c);
  assert_true(fray_conn_was_aborted(c));
  assert_int_equal(fray_conn_pending(c), 0);
  assert_int_equal(R.reasons[FRAY_CLOSE_RESET], 1);
  fray_conn_release(c);
  fray_conn_t *d = open_named(s, "greet");
  fray_conn_close(d);
  fray_conn_abort(d);
  assert_int_equal(fray_conn_pending(d), 0);
  assert_int_equal(R.reasons[FRAY_CLOSE_ABORT], 4);
  fray_conn_release(d);
  end_server(s);
  free(out.p);
}

/* ---- back-pressure ----------------------------------------------------------- */

static void test_backpressure(void **state) {
  (void)state;
  fray_server_t *s = new_server(&rec_line);
  fray_conn_t *a = open_named(s, "a");
  fray_outq_t *q = fray_conn_outq(a);
  assert_non_null(q);
  assert_false(fray_outq_over_high_water(q));
  feed(a, "big 100000\n");
  assert_int_equal(fray_conn_pending(a), 100000);
  assert_true(fray_outq_over_high_water(q));
  assert_false(fray_conn_idle(a));
  /* A peer that takes nothing: nothing moves, nothing is lost. */
  sink_t out = {.stall = 1};
  assert_true(fray_conn_flush(a, sink_write, &out) <= 0);
  assert_int_equal(fray_conn_pending(a), 100000);
  /* Draining 4 KiB a flush: "over" holds down to the low-water mark
   * (half the high one), not just below the high one. */
  out.stall = 0;
  out.limited = 1;
  size_t cleared_at = 0;
  while (fray_conn_pending(a)) {
    size_t before = fray_conn_pending(a);
    out.budget = 4096;
    assert_int_equal(fray_conn_flush(a, sink_write, &out), before < 4096 ? before : 4096);
    if (!cleared_at && !fray_outq_over_high_water(q))
      cleared_at = fray_conn_pending(a);
    if (fray_conn_pending(a) > FRAY_OUTQ_DEFAULT_HIGH_WATER / 2)
      assert_true(fray_outq_over_high_water(q));
  }
  assert_true(cleared_at > 0 && cleared_at <= FRAY_OUTQ_DEFAULT_HIGH_WATER / 2);
  assert_int_equal(out.len, 100000);
  for (size_t i = 0; i < out.len; i++)
    assert_int_equal(out.p[i], 'b');
  assert_true(fray_conn_idle(a));
  end_server(s);
  free(out.p);
}

/* ---- many connections -------------------------------------------------------- */

static void test_iteration_and_broadcast(void **state) {
  (void)state;
  sink_t out = {0};
  fray_server_t *s = new_server(&rec_line);
  fray_conn_t *c[4];
  const char *names[4] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++)
    c[i] = open_named(s, names[i]);
  feed(c[2], "close\n"); /* c is closing: no longer walked */
  size_t k = 0;
  static const uint64_t walked[] = {1, 2, 4};
  for (fray_conn_t *x = fray_server_first(s); x; x = fray_server_next(x), k++)
    assert_int_equal(fray_conn_id(x), walked[k]);
  assert_int_equal(k, 3);
  assert_int_equal(fray_server_count(s), 3);

  feed(c[0], "bcast hi\n");
  assert_int_equal(R.bcast_sent, 3);
  assert_sent(c[0], &out, "hi\n");
  assert_sent(c[1], &out, "hi\n");
  assert_sent(c[2], &out, "bye\n");
  assert_sent(c[3], &out, "hi\n");

  /* Aborting the others during the walk is safe. */
  feed(c[1], "kick\n");
  assert_int_equal(R.reasons[FRAY_CLOSE_ABORT], 2);
  assert_int_equal(fray_server_count(s), 1);
  assert_ptr_equal(fray_server_first(s), c[1]);
  assert_null(fray_server_next(c[1]));
  assert_null(fray_server_find(s, 1));
  assert_ptr_equal(fray_server_find(s, 3), c[2]);
  assert_null(fray_server_find(s, 99));
  fray_conn_release(c[0]);
  fray_conn_release(c[3]);
  /* Freed with b open and c closing: SHUTDOWN for b, c keeps LOCAL. */
  end_server(s);
  assert_int_equal(R.reasons[FRAY_CLOSE_SHUTDOWN], 1);
  assert_int_equal(R.reasons[FRAY_CLOSE_LOCAL], 1);
  free(out.p);
}

/* ---- servers, state, memory ---------------------------------------------------- */

static void test_server_new_failures(void **state) {
  (void)state;
  failmem_t fm = {0};
  fray_mem_t mem = failmem_mem(&fm);
  fray_server_t *s = (fray_server_t *)1;
  rec_reset();
  R.init_ret = FRAY_EIO;
  assert_int_equal(fray_server_new(&s, &rec_line, &mem), FRAY_EIO);
  assert_null(s);
  assert_int_equal(R.inits, 1);
  assert_int_equal(R.frees, 0); /* server_free only after a successful init */
  assert_int_equal(fm.live, 0);

  assert_int_equal(fray_server_new(NULL, &rec_line, NULL), FRAY_EINVAL);
  s = (fray_server_t *)1;
  assert_int_equal(fray_server_new(&s, NULL, NULL), FRAY_EINVAL);
  assert_null(s);
  fray_handler_t bad = rec_line;
  bad.spec = fray_spec_count(0);
  s = (fray_server_t *)1;
  assert_int_equal(fray_server_new(&s, &bad, NULL), FRAY_EINVAL);
  assert_null(s);
  assert_int_equal(R.inits, 1); /* refused before server_init */
}

/* Fills every fresh block with 0xAA, so state that is not zeroed shows. */
static void *poison_malloc(size_t n, void *ud) {
  void *p = failmem_malloc(n, ud);
  if (p)
    memset(p, 0xaa, n);
  return p;
}

static void test_state_zeroed_and_aligned(void **state) {
  (void)state;
  failmem_t fm = {0};
  fray_mem_t mem = failmem_mem(&fm);
  mem.malloc_fn = poison_malloc;
  rec_reset();
  fray_server_t *s;
  assert_int_equal(fray_server_new(&s, &rec_line, &mem), 0);
  /* on_close scribbles over each state; the next ones start zeroed. */
  for (int i = 0; i < 5; i++) {
    fray_conn_t *c = open_named(s, i % 2 ? "x" : "a-longer-name-to-move-the-state");
    fray_conn_t *n = open_named(s, NULL);
    assert_string_equal(fray_conn_name(n), "");
    fray_conn_release(c);
    fray_conn_release(n);
  }
  assert_int_equal(R.dirty, 0);
  end_server(s);
  assert_int_equal(fm.live, 0);

  /* No state asked for: none given. */
  fray_handler_t stateless = {.name = "none", .spec = {.mode = FRAY_MODE_RAW}};
  assert_int_equal(fray_server_new(&s, &stateless, NULL), 0);
  assert_null(fray_server_data(s));
  fray_conn_t *c = open_named(s, "a");
  assert_null(fray_conn_data(c));
  fray_server_free(s);
}

/* A connection is one allocation (its framer with its first buffer, its
 * output queue with its first block), and short replies and an unfinished
 * line add none; the block is fresh for every connection and freed at
 * release, so a handler's use after close still meets freed memory. */
static void test_connection_is_one_block(void **state) {
  (void)state;
  failmem_t fm = {0};
  fray_mem_t mem = failmem_mem(&fm);
  rec_reset();
  fray_server_t *s;
  assert_int_equal(fray_server_new(&s, &rec_line, &mem), 0);
  long base = fm.count;
  fray_conn_t *a = open_named(s, "a");
  assert_int_equal(fm.count, base + 1);
  fray_conn_input(a, (const uint8_t *)"echo hi\necho there\n", 19);
  assert_int_equal(fm.count, base + 1);
  sink_t out = {0};
  drain(a, &out);
  assert_int_equal(out.len, 9);
  assert_memory_equal(out.p, "hi\nthere\n", 9);
  fray_conn_input(a, (const uint8_t *)"echo unfin", 10); /* buffered until its newline */
  assert_int_equal(fray_conn_buffered(a), 10);
  assert_int_equal(fm.count, base + 1);
  fray_conn_t *b = open_named(s, "b");
  assert_true(b != a);
  assert_int_equal(fm.count, base + 2);
  fray_conn_release(a);
  fray_conn_release(b);
  assert_int_equal(fm.live, base);
  end_server(s);
  assert_int_equal(fm.live, 0);
  free(out.p);
}

/* One run of the runtime: a server, two connections (one greeting), frames,
 * a broadcast, a long sendf, a close. Returns how far it got: 0 server_new
 * failed, 1 an open failed, 2 complete. Every allocation may fail. */
static int runtime_run(const fray_mem_t *mem) {
  fray_server_t *s = (fray_server_t *)1;
  int rc = fray_server_new(&s, &rec_line, mem);
  if (rc) {
    assert_int_equal(rc, FRAY_ENOMEM);
    assert_null(s);
    return 0;
  }
  fray_conn_t *a = (fray_conn_t *)1, *b = (fray_conn_t *)1;
  int opens = R.opens;
  rc = fray_server_open(s, "greet", NULL, &a);
  if (!rc)
    rc = fray_server_open(s, "b", NULL, &b);
  if (rc) {
    assert_int_equal(rc, FRAY_ENOMEM);
    assert_true(a == NULL || b == NULL);
    assert_int_equal(R.opens, opens + (a != NULL)); /* no on_open for a failed open */
    fray_server_free(s);
    return 1;
  }
  fray_conn_input(a, (const uint8_t *)"echo hi\ncount 3\nxyzbcast all\n", 30);
  char big[600];
  memset(big, 'q', sizeof big - 1);
  big[sizeof big - 1] = 0;
  rc = fray_conn_sendf(b, "%s %d", big, 1);
  assert_true(rc == 0 || rc == FRAY_ENOMEM);
  fray_conn_input(b, (const uint8_t *)"close\n", 6);
  fray_server_free(s);
  return 2;
}

/* fray__server_activity: what the simulator's pump skips on. It moves on
 * every queued byte, open and close, never on input that only buffers or on
 * a driver's flush, and on every call once a queue was handed out. */
static void test_activity_tells_driver_work(void **state) {
  (void)state;
  fray_server_t *s = new_server(&rec_line);
  uint64_t a0 = fray__server_activity(s);
  fray_conn_t *a = open_named(s, "a");
  uint64_t a1 = fray__server_activity(s);
  assert_true(a1 != a0);
  feed(a, "echo h");
  assert_true(fray__server_activity(s) == a1); /* a line begun: nothing to do */
  feed(a, "i\n");
  uint64_t a2 = fray__server_activity(s);
  assert_true(a2 != a1);
  sink_t out = {0};
  drain(a, &out);
  assert_true(fray__server_activity(s) == a2);
  feed(a, "close\n");
  assert_true(fray__server_activity(s) != a2);
  fray_conn_t *b = open_named(s, "b");
  (void)fray_conn_outq(b); /* pushes past the runtime's eyes from now on */
  uint64_t a3 = fray__server_activity(s);
  assert_true(fray__server_activity(s) != a3);
  end_server(s);
  free(out.p);
}

static void test_failing_alloc(void **state) {
  (void)state;
  failmem_t fm = {0};
  fray_mem_t mem = failmem_mem(&fm);
  rec_reset();
  assert_int_equal(runtime_run(&mem), 2);
  const long total = fm.count;
  assert_true(total >= 6); /* server, state, 2 conns, the long sendf and its block */
  assert_int_equal(fm.live, 0);
  int reached[3] = {0, 0, 0};
  for (long k = 1; k <= total; k++) {
    rec_reset();
    fm = (failmem_t){.fail_at = k};
    reached[runtime_run(&mem)]++;
    if (fm.live != 0)
      fail_msg("allocation %ld of %ld failed: %ld blocks leaked", k, total, fm.live);
    assert_int_equal(R.closes, R.opens);
  }
  assert_true(reached[0] > 0 && reached[1] > 0 && reached[2] > 0);
}

static void test_null_arguments(void **state) {
  (void)state;
  fray_conn_t *c = (fray_conn_t *)1;
  assert_int_equal(fray_server_open(NULL, "a", NULL, &c), FRAY_EINVAL);
  assert_int_equal(fray_conn_send(NULL, "x", 1), FRAY_EINVAL);
  assert_int_equal(fray_conn_input(NULL, (const uint8_t *)"x", 1), FRAY_EINVAL);
  assert_int_equal(fray_conn_input_eof(NULL), FRAY_EINVAL);
  assert_int_equal(fray_conn_flush(NULL, sink_write, NULL), FRAY_EINVAL);
  assert_int_equal(fray_conn_set_spec(NULL, NULL), FRAY_EINVAL);
  assert_null(fray_conn_outq(NULL));
  assert_int_equal(fray_conn_id(NULL), 0);
  assert_string_equal(fray_conn_name(NULL), "");
  assert_int_equal(fray_conn_state(NULL), FRAY_CONN_CLOSED);
  assert_int_equal(fray_conn_pending(NULL), 0);
  assert_int_equal(fray_conn_buffered(NULL), 0);
  assert_false(fray_conn_idle(NULL));
  assert_false(fray_conn_should_close(NULL));
  assert_false(fray_conn_was_aborted(NULL));
  assert_int_equal(fray_server_count(NULL), 0);
  assert_null(fray_server_first(NULL));
  assert_null(fray_server_next(NULL));
  assert_null(fray_server_find(NULL, 1));
  fray_conn_close(NULL);
  fray_conn_abort(NULL);
  fray_conn_input_reset(NULL);
  fray_conn_release(NULL);
  fray_server_free(NULL);
}

/* ---- fray_conn_sendf: exactly what printf writes ------------------------------ */

static const fray_handler_t quiet = {
    .name = "quiet",
    .spec = {.mode = FRAY_MODE_RAW},
};

/* Opens a connection on a fresh server; the caller frees the server. */
static fray_conn_t *open_conn(fray_server_t **srv) {
  fray_conn_t *c;
  assert_int_equal(fray_server_new(srv, &quiet, NULL), 0);
  assert_int_equal(fray_server_open(*srv, "t", NULL, &c), 0);
  return c;
}

/* sendf's output for fmt, checked against vsnprintf's. */
static void check_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void check_sendf(const char *fmt, ...) {
  fray_server_t *srv;
  fray_conn_t *c = open_conn(&srv);
  char want[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(want, sizeof want, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof want);
  va_start(ap, fmt);
  assert_int_equal(fray_conn_vsendf(c, fmt, ap), 0);
  va_end(ap);
  sink_t s = {0};
  drain(c, &s);
  assert_int_equal(s.len, (size_t)n);
  assert_memory_equal(s.p, want, (size_t)n);
  free(s.p);
  fray_server_free(srv);
}

static void test_sendf_plain_text(void **state) {
  (void)state;
  check_sendf("ERR unknown command\r\n");
  check_sendf("%s", "");
  fray_server_t *srv;
  fray_conn_t *c = open_conn(&srv);
  assert_int_equal(fray_conn_sendf(c, "%s", ""), 0);
  assert_int_equal(fray_conn_pending(c), 0); /* nothing to send is no item */
  fray_server_free(srv);
}

static void test_sendf_strings_and_percent(void **state) {
  (void)state;
  check_sendf("OK nick %s\r\n", "alice");
  check_sendf("%s", "alone");
  check_sendf("%s%s%s", "a", "", "c");
  check_sendf("100%% of %s", "it");
  check_sendf("%%%%");
  check_sendf("trailing %s", "x");
}

static void test_sendf_other_conversions(void **state) {
  (void)state;
  check_sendf("%d items", 42);
  check_sendf("%s has %zu bytes", "buf", (size_t)7);
  check_sendf("%5s|%-3s|", "ab", "c");
  check_sendf("%.2s", "abcdef");
  check_sendf("%c%s", 'x', "y");
}

static void test_sendf_past_the_stack_buffer(void **state) {
  (void)state;
  char big[1000];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  check_sendf("%s", big);
  check_sendf("<%s>", big);
  check_sendf("%s %d", big, 1);
  /* Around the 256-byte buffer's edge, on both paths. */
  for (size_t n = 250; n < 260; n++) {
    big[n] = '\0';
    check_sendf("%s", big);
    check_sendf("%s!", big);
    check_sendf("%s%%", big);
    big[n] = 'z';
  }
}

static void test_sendf_on_a_closing_connection(void **state) {
  (void)state;
  fray_server_t *srv;
  fray_conn_t *c = open_conn(&srv);
  fray_conn_close(c);
  assert_int_equal(fray_conn_sendf(c, "late %s", "reply"), FRAY_ECLOSED);
  assert_int_equal(fray_conn_sendf(c, "late %d", 1), FRAY_ECLOSED);
  fray_server_free(srv);
}

/* A handler's state sizes and spec are checked before anything is
 * allocated: conn_size SIZE_MAX once wrapped the connection's allocation
 * size to a few bytes, and the handler's state lay outside it. */
static void test_handler_validate_refuses_unusable_handlers(void **state) {
  (void)state;
  char why[256];
  fray_handler_t h = quiet;
  assert_int_equal(fray_handler_validate(&h, why, sizeof why), 0);
  assert_string_equal(why, "");
  h.conn_size = SIZE_MAX;
  assert_int_equal(fray_handler_validate(&h, why, sizeof why), FRAY_EINVAL);
  assert_non_null(strstr(why, "conn_size (18446744073709551615 bytes) is over the"));
  fray_server_t *srv;
  assert_int_equal(fray_server_new(&srv, &h, NULL), FRAY_EINVAL);
  assert_null(srv);
  h.conn_size = FRAY_HANDLER_MAX_STATE;
  assert_int_equal(fray_handler_validate(&h, NULL, 0), 0);
  h.conn_size = 0;
  h.server_size = FRAY_HANDLER_MAX_STATE + 1;
  assert_int_equal(fray_handler_validate(&h, why, sizeof why), FRAY_EINVAL);
  assert_non_null(strstr(why, "server_size"));
  h.server_size = 0;
  h.spec.mode = (fray_mode_t)99;
  assert_int_equal(fray_handler_validate(&h, why, sizeof why), FRAY_EINVAL);
  assert_string_equal(why, "the handler's spec is invalid: unknown mode");
  assert_int_equal(fray_handler_validate(NULL, why, sizeof why), FRAY_EINVAL);

  /* The handler is borrowed: a size changed after fray_server_new() is
   * refused at open rather than wrapped. */
  h = quiet;
  assert_int_equal(fray_server_new(&srv, &h, NULL), 0);
  h.conn_size = SIZE_MAX;
  fray_conn_t *c;
  assert_int_equal(fray_server_open(srv, "t", NULL, &c), FRAY_EINVAL);
  fray_server_free(srv);
}

/* ---- framing replies and protocol switches ------------------------------- */

static int framed_rc;   /* the last fray_conn_send_frame's return */
static char taken[256]; /* what fray_conn_take_buffered handed over */
static size_t taken_len;

static int take_into(const uint8_t *p, size_t n, void *ud) {
  (void)ud;
  assert_true(taken_len + n <= sizeof taken);
  memcpy(taken + taken_len, p, n);
  taken_len += n;
  return 0;
}

/* Answers each frame with itself, framed by the connection's spec; "RAW"
 * switches to raw mode, taking the bytes that came after it. */
static int fr_frame(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)st;
  logf_(c, "F", d, n);
  if (n == 3 && !memcmp(d, "RAW", 3)) {
    fray_spec_t raw = fray_spec_raw();
    assert_int_equal(fray_conn_set_spec(c, &raw), 0);
    return fray_conn_take_buffered(c, take_into, NULL);
  }
  framed_rc = fray_conn_send_frame(c, d, n);
  return 0;
}

static fray_handler_t framed_handler(fray_spec_t spec) {
  return (fray_handler_t){.name = "framed", .spec = spec, .on_frame = fr_frame};
}

static fray_server_t *framed_server(const fray_handler_t *h) {
  rec_reset();
  fray_server_t *s = NULL;
  assert_int_equal(fray_server_new(&s, h, NULL), 0);
  return s;
}

/* Runs input through a framed-echo server with spec; returns what it sent
 * (static) and sets *len. */
static const uint8_t *framed_echo(fray_spec_t spec, const char *in, size_t inlen, size_t *len) {
  static sink_t out;
  fray_handler_t h = framed_handler(spec);
  fray_server_t *s = framed_server(&h);
  fray_conn_t *c = open_named(s, "f");
  framed_rc = 1;
  out.len = 0;
  assert_int_equal(fray_conn_input(c, (const uint8_t *)in, inlen), 0);
  drain(c, &out);
  fray_server_free(s);
  *len = out.len;
  return out.p;
}

static void test_send_frame_by_spec(void **state) {
  (void)state;
  static const struct {
    fray_spec_t (*make)(void);
    const char *in;
    size_t inlen;
    const char *want;
    size_t wantlen;
  } cases[] = {
      {fray_spec_line, "hi\r\nyo\n", 7, "hi\r\nyo\r\n", 8},
      {fray_spec_netstring, "5:hello,0:,", 11, "5:hello,0:,", 11},
      {fray_spec_resp_bulk, "$2\r\nok\r\n", 8, "$2\r\nok\r\n", 8},
      {fray_spec_http_chunk, "a;x\r\n0123456789\r\n0\r\n", 20, "a\r\n0123456789\r\n0\r\n", 18},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len;
    const uint8_t *got = framed_echo(cases[i].make(), cases[i].in, cases[i].inlen, &len);
    if (len != cases[i].wantlen || memcmp(got, cases[i].want, len))
      fail_msg("case %zu: sent '%.*s'", i, (int)len, (const char *)got);
    assert_int_equal(framed_rc, 0);
  }
  /* A 3-byte length field, and a delimiter set ending replies with its first. */
  size_t len;
  const uint8_t *got = framed_echo(fray_spec_length_uint(3, 0), "\0\0\3abc", 6, &len);
  assert_int_equal(len, 6);
  assert_memory_equal(got, "\0\0\3abc", 6);
  fray_spec_t set = fray_spec_delims();
  assert_int_equal(fray_spec_delims_add(&set, ";", 1), 0);
  assert_int_equal(fray_spec_delims_add(&set, "\n", 1), 0);
  got = framed_echo(set, "a\nb;", 4, &len);
  assert_int_equal(len, 4);
  assert_memory_equal(got, "a;b;", 4);
}

static void test_send_frame_refused(void **state) {
  (void)state;
  size_t len;
  /* Count mode encodes only its count; a payload over max_frame, and a
   * header the encoder cannot write (an offset), are refused: nothing sent. */
  fray_spec_t count = fray_spec_count(2);
  (void)framed_echo(count, "abc", 3, &len); /* one frame "ab": answered "ab" */
  assert_int_equal(framed_rc, 0);
  assert_int_equal(len, 2);
  fray_spec_t off = fray_spec_length(FRAY_LEN_U8);
  off.length.offset = 1;
  (void)framed_echo(off, "x\2hi", 4, &len);
  assert_int_equal(framed_rc, FRAY_EINVAL);
  assert_int_equal(len, 0);
  fray_spec_t small = fray_spec_line();
  small.max_frame = 2;
  fray_handler_t h = framed_handler(small);
  fray_server_t *s = framed_server(&h);
  fray_conn_t *c = open_named(s, "f");
  assert_int_equal(fray_conn_send_frame(c, "abc", 3), FRAY_EINVAL);
  assert_int_equal(fray_conn_send_frame(c, NULL, 1), FRAY_EINVAL);
  assert_int_equal(fray_conn_send_frame(NULL, "a", 1), FRAY_EINVAL);
  assert_int_equal(fray_conn_pending(c), 0);
  assert_int_equal(fray_conn_send_frame(c, "ab", 2), 0);
  assert_int_equal(fray_conn_pending(c), 4);
  fray_conn_close(c);
  assert_int_equal(fray_conn_send_frame(c, "ab", 2), FRAY_ECLOSED);
  fray_server_free(s);
}

/* "RAW" hands the rest of the chunk over and later input arrives as raw
 * frames, fed in one piece or a byte at a time. */
static void test_take_buffered_switches_protocol(void **state) {
  (void)state;
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    fray_handler_t h = framed_handler(fray_spec_line());
    fray_server_t *s = framed_server(&h);
    fray_conn_t *c = open_named(s, "t");
    taken_len = 0;
    if (bytewise)
      feed_bytewise(c, "hi\nRAW\nrest\n");
    else
      feed(c, "hi\nRAW\nrest\n");
    assert_int_equal(fray_conn_buffered(c), 0);
    feed(c, "more");
    assert_log(bytewise ? "t:Fhi|t:FRAW|t:Fr|t:Fe|t:Fs|t:Ft|t:F\n|t:Fmore|"
                        : "t:Fhi|t:FRAW|t:Fmore|");
    assert_int_equal(taken_len, bytewise ? 0 : 5);
    assert_memory_equal(taken, "rest\n", taken_len);
    /* Outside a callback: the unfinished frame's bytes, framing going on. */
    fray_spec_t line = fray_spec_line();
    assert_int_equal(fray_conn_set_spec(c, &line), 0);
    feed(c, "half");
    taken_len = 0;
    assert_int_equal(fray_conn_take_buffered(c, take_into, NULL), 0);
    assert_int_equal(taken_len, 4);
    assert_int_equal(fray_conn_take_buffered(NULL, take_into, NULL), FRAY_EINVAL);
    assert_int_equal(fray_conn_take_buffered(c, NULL, NULL), FRAY_EINVAL);
    fray_server_free(s);
  }
}

/* ---- the peer's EOF (on_eof) ---------------------------------------------- */

/* on_eof runs after the last frame and after on_truncated, before on_close;
 * what it sends is flushed before the close, whose reason stays PEER. */
static void test_eof_answers_before_close(void **state) {
  (void)state;
  const fray_handler_t h = with_eof((fray_handler_t)RECORDING({.mode = FRAY_MODE_LINE}));
  sink_t out = {.max = 3};
  fray_server_t *s = new_server(&h);
  fray_conn_t *c = open_named(s, "reply");
  feed(c, "echo a\nhalf");
  assert_int_equal(fray_conn_input_eof(c), 0);
  assert_int_equal(R.eofs, 1);
  assert_int_equal(fray_conn_state(c), FRAY_CONN_CLOSING);
  assert_false(fray_conn_should_close(c));
  assert_sent(c, &out, "a\n1 frames\n");
  assert_true(fray_conn_should_close(c));
  assert_int_equal(fray_conn_input_eof(c), FRAY_ECLOSED); /* once */
  fray_conn_release(c);
  assert_log("reply:O|reply:Fecho a|reply:Thalf|reply:EOF|reply:C0|");
  assert_int_equal(R.eofs, 1);
  assert_int_equal(R.reasons[FRAY_CLOSE_PEER], 1);
  end_server(s);
  free(out.p);
}

/* Closing from on_eof: the answer is flushed, later sends refused, the
 * reason is the handler's (LOCAL). A negative return aborts: nothing sent. */
static void test_eof_close_and_abort(void **state) {
  (void)state;
  const fray_handler_t h = with_eof((fray_handler_t)RECORDING({.mode = FRAY_MODE_LINE}));
  sink_t out = {0};
  fray_server_t *s = new_server(&h);
  fray_conn_t *c = open_named(s, "closer");
  fray_conn_input_eof(c);
  assert_int_equal(R.after_close_rc, FRAY_ECLOSED);
  assert_sent(c, &out, "bye\n");
  assert_true(fray_conn_should_close(c));
  fray_conn_release(c);
  assert_int_equal(R.reasons[FRAY_CLOSE_LOCAL], 1);

  fray_conn_t *a = open_named(s, "aborter");
  fray_conn_input_eof(a);
  assert_true(fray_conn_was_aborted(a));
  assert_int_equal(fray_conn_pending(a), 0);
  assert_int_equal(R.reasons[FRAY_CLOSE_ABORT], 1);
  assert_int_equal(R.closes, 2); /* on_close already ran, inside the EOF */
  fray_conn_release(a);
  assert_int_equal(R.eofs, 2);
  end_server(s);
  free(out.p);
}

/* No on_eof where the connection no longer reads: after the handler closed
 * it, after a reset. */
static void test_eof_not_called_when_not_reading(void **state) {
  (void)state;
  const fray_handler_t h = with_eof((fray_handler_t)RECORDING({.mode = FRAY_MODE_LINE}));
  sink_t out = {0};
  fray_server_t *s = new_server(&h);
  fray_conn_t *a = open_named(s, "reply");
  feed(a, "close\n");
  assert_int_equal(fray_conn_input_eof(a), FRAY_ECLOSED);
  assert_sent(a, &out, "bye\n");
  fray_conn_release(a);
  fray_conn_t *b = open_named(s, "reply");
  fray_conn_input_reset(b);
  assert_int_equal(fray_conn_input_eof(b), FRAY_ECLOSED);
  fray_conn_release(b);
  assert_int_equal(R.eofs, 0);
  end_server(s);
  free(out.p);
}

/* Without on_eof nothing changes: the EOF closes the connection (PEER)
 * once what was queued is flushed, with nothing added. */
static void test_eof_absent_callback_unchanged(void **state) {
  (void)state;
  sink_t out = {0};
  fray_server_t *s = new_server(&rec_line);
  fray_conn_t *c = open_named(s, "reply");
  feed(c, "echo a\nhalf");
  fray_conn_input_eof(c);
  assert_int_equal(fray_conn_state(c), FRAY_CONN_CLOSING);
  assert_sent(c, &out, "a\n");
  assert_true(fray_conn_should_close(c));
  fray_conn_release(c);
  assert_log("reply:O|reply:Fecho a|reply:Thalf|reply:C0|");
  assert_int_equal(R.eofs, 0);
  end_server(s);
  free(out.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frames_in_order),
      cmocka_unit_test(test_framing_errors),
      cmocka_unit_test(test_spec_switch_applies_to_buffered_bytes),
      cmocka_unit_test(test_close_after_flush),
      cmocka_unit_test(test_abort_and_reset),
      cmocka_unit_test(test_backpressure),
      cmocka_unit_test(test_iteration_and_broadcast),
      cmocka_unit_test(test_server_new_failures),
      cmocka_unit_test(test_state_zeroed_and_aligned),
      cmocka_unit_test(test_failing_alloc),
      cmocka_unit_test(test_connection_is_one_block),
      cmocka_unit_test(test_activity_tells_driver_work),
      cmocka_unit_test(test_null_arguments),
      cmocka_unit_test(test_sendf_plain_text),
      cmocka_unit_test(test_sendf_strings_and_percent),
      cmocka_unit_test(test_sendf_other_conversions),
      cmocka_unit_test(test_sendf_past_the_stack_buffer),
      cmocka_unit_test(test_sendf_on_a_closing_connection),
      cmocka_unit_test(test_handler_validate_refuses_unusable_handlers),
      cmocka_unit_test(test_send_frame_by_spec),
      cmocka_unit_test(test_send_frame_refused),
      cmocka_unit_test(test_take_buffered_switches_protocol),
      cmocka_unit_test(test_eof_answers_before_close),
      cmocka_unit_test(test_eof_close_and_abort),
      cmocka_unit_test(test_eof_not_called_when_not_reading),
      cmocka_unit_test(test_eof_absent_callback_unchanged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
