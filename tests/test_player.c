/* Player tests (fray/player.h): the walk over a script's steps, the
 * expectations and verdicts, reference transcripts and split invariance,
 * waits that end when the player is ready, and how transport errors come
 * out, against a fake transport defined here that logs every operation and
 * plays a tiny echo server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failmem.h"
#include "fray/player.h"
#include "run/player_internal.h"
#include "support.h"

/* ---- the fake transport -------------------------------------------------- */

enum { ECHO = 1, TAG = 2, DRIP = 4 }; /* what the fake server does with a read */

typedef struct fake {
  fray_player_t *p;
  unsigned mode;
  char log[2048];
  size_t lo;
  uint8_t pending[4][256]; /* DRIP: answers not yet pushed, per client */
  size_t npending[4];
  int fail_send; /* a code send() returns, or 0 */
  int fail_open;
  int stall_window; /* whole runs under a receive window go inexact */
  int window_runs;  /* whole runs under a receive window begun */
  const fray_sched_t *sched;
  int ends, frees;
} fake_t;

__attribute__((format(printf, 2, 3))) static void logf_(fake_t *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(f->log + f->lo, sizeof f->log - f->lo, fmt, ap);
  va_end(ap);
  f->lo += (size_t)n;
}

static const char *cn(fake_t *f, size_t c) {
  return fray_script_client_name(fray_player_script(f->p), c);
}

static int answer(fake_t *f, size_t c, const uint8_t *d, size_t n) {
  if (n == 4 && !memcmp(d, "QUIT", 4)) {
    fray_player_ended(f->p, c, 0);
    return 0;
  }
  if (f->mode & DRIP) {
    memcpy(f->pending[c] + f->npending[c], d, n);
    f->npending[c] += n;
    return 0;
  }
  int r = fray_player_received(f->p, c, d, n);
  return !r && (f->mode & TAG) ? fray_player_received(f->p, c, (const uint8_t *)"|", 1) : r;
}

static int f_begin(void *t, fray_player_t *p, const fray_sched_t *sched) {
  fake_t *f = t;
  f->p = p;
  f->sched = sched;
  memset(f->npending, 0, sizeof f->npending);
  f->window_runs += sched && (sched->faults & FRAY_FAULT_WINDOW) && !sched->nsends;
  logf_(f, "begin%s;", sched && sched->short_writes ? " short" : "");
  return 0;
}

static int f_open(void *t, size_t c) {
  fake_t *f = t;
  logf_(f, "open %s;", cn(f, c));
  return f->fail_open;
}

static int f_send(void *t, size_t c, const uint8_t *d, size_t n) {
  fake_t *f = t;
  logf_(f, "send %s %.*s;", cn(f, c), (int)n, (const char *)d);
  if (f->fail_send) {
    fray_player_set_error(f->p, "the server read %zu bytes, not %zu", n + 1, n);
    return f->fail_send;
  }
  if (f->stall_window && f->sched && (f->sched->faults & FRAY_FAULT_WINDOW) && !f->sched->nsends) {
    fray_player_set_error(f->p, "the server did not read a piece in time");
    return FRAY_EINEXACT; /* a server in another process can stall this way */
  }
  return f->mode ? answer(f, c, d, n) : 0;
}

static int f_shutdown(void *t, size_t c) {
  fake_t *f = t;
  logf_(f, "shutdown %s;", cn(f, c));
  return 0;
}

static int f_close(void *t, size_t c, int reset) {
  fake_t *f = t;
  logf_(f, "%s %s;", reset ? "reset" : "close", cn(f, c));
  /* A client that left receives nothing: the player drops it. */
  return fray_player_received(f->p, c, (const uint8_t *)"late", 4);
}

static int f_wait(void *t, fray_wait_kind_t kind, size_t c) {
  static const char *const names[] = {"answer", "quiet", "drain", "settle"};
  fake_t *f = t;
  size_t pushed = 0;
  for (size_t i = 0; i < 4; i++) {
    size_t k = 0;
    /* An expectation's wait stops as soon as the player is ready. */
    while (k < f->npending[i] && !fray_player_ready(f->p)) {
      if (fray_player_received(f->p, i, f->pending[i] + k++, 1))
        return FRAY_ENOMEM;
      pushed++;
    }
    memmove(f->pending[i], f->pending[i] + k, f->npending[i] - k);
    f->npending[i] -= k;
  }
  logf_(f, "wait %s %s", names[kind], kind == FRAY_WAIT_SETTLE ? "-" : cn(f, c));
  logf_(f, pushed ? " +%zu;" : ";", pushed);
  return 0;
}

static int f_end(void *t) {
  fake_t *f = t;
  f->ends++;
  logf_(f, "end");
  return 0;
}

static void f_free(void *t) {
  ((fake_t *)t)->frees++;
}

static void f_words(void *t, fray_transport_words_t *w) {
  (void)t;
  w->nothing = "nothing (fake)";
  w->kept_open = " (fake)";
}

static const fray_transport_ops_t fake_ops = {
    .name = "fake",
    .begin = f_begin,
    .open = f_open,
    .send = f_send,
    .shutdown = f_shutdown,
    .close = f_close,
    .wait = f_wait,
    .end = f_end,
    .free = f_free,
    .words = f_words,
};

/* ---- helpers ----------------------------------------------------------------- */

typedef struct fixture {
  fray_script_t *s;
  fray_player_t *p;
  fake_t f;
} fixture_t;

static void open_fixture(fixture_t *x, const char *text, unsigned mode) {
  memset(x, 0, sizeof *x);
  x->s = test_parse(text);
  x->f.mode = mode;
  assert_int_equal(fray_player_new(&x->p, x->s, &fake_ops, &x->f, NULL), 0);
}

static void close_fixture(fixture_t *x) {
  fray_player_free(x->p);
  assert_int_equal(x->f.frees, 1); /* the player owned the transport */
  fray_script_free(x->s);
}

/* ---- the walk ------------------------------------------------------------------ */

static const char walk_script[] = "open a\n"
                                  "open b\n"
                                  "a > \"ab\" | \"cd\"\n"
                                  "b > \"xy\"\n"
                                  "a > eof\n"
                                  "a < eof?\n"
                                  "close b\n"
                                  "reset a\n";

static void test_player_walks_steps_in_order(void **state) {
  (void)state;
  fixture_t x;
  open_fixture(&x, walk_script, 0);
  fray_result_t res;
  assert_int_equal(fray_player_run(x.p, NULL, &res), 0);
  assert_string_equal(x.f.log, "begin;open a;open b;send a ab;send a cd;send b xy;shutdown a;"
                               "wait quiet a;wait drain b;close b;wait drain a;reset a;"
                               "wait settle -;end");
  assert_int_equal(res.reads, 3);
  /* Under a schedule: a cut added, the same client's merge honoured, short
   * writes passed to the transport. */
  static const size_t cut1[] = {1};
  const fray_sched_send_t sends[2] = {{.cuts = cut1, .ncuts = 1}, {.every = 1}};
  fray_sched_t sched = {.sends = sends, .nsends = 2, .short_writes = 1};
  x.f.lo = 0;
  assert_int_equal(fray_player_run(x.p, &sched, &res), 0);
  assert_non_null(strstr(x.f.log, "begin short;open a;open b;send a a;send a b;send a cd;"
                                  "send b x;send b y;shutdown a"));
  assert_int_equal(res.reads, 5);
  assert_int_equal(x.f.ends, 2);
  /* A schedule for another script is refused. */
  sched.nsends = 3;
  assert_int_equal(fray_player_run(x.p, &sched, &res), FRAY_EINVAL);
  close_fixture(&x);
}

static void test_player_merges_a_clients_consecutive_sends(void **state) {
  (void)state;
  fixture_t x;
  open_fixture(&x, "open a\na > \"ab\"\na > \"cd\" | \"ef\"\n", 0);
  const fray_sched_send_t sends[2] = {{.merge_next = 1}, {0}};
  fray_sched_t sched = {.sends = sends, .nsends = 2};
  fray_result_t res;
  assert_int_equal(fray_player_run(x.p, &sched, &res), 0);
  assert_non_null(strstr(x.f.log, "send a abcd;send a ef;"));
  assert_int_equal(res.reads, 2);
  close_fixture(&x);
}

/* ---- expectations and verdicts ---------------------------------------------------- */

typedef struct verdict_case {
  const char *script;
  int rc;
  fray_fail_kind_t kind;
  size_t line; /* 0: at the end */
  const char *needle;
  const char *label;
} verdict_case_t;

static const verdict_case_t verdicts[] = {
    {"open a\na > \"hi\\n\"\na < \"hi\\n\"\n", 0, FRAY_FAIL_NONE, 0, NULL, "echo passes"},
    {"open a\na > \"hi\\n\"\na < \"ho\\n\"\n", FRAY_EFAILED, FRAY_FAIL_MISMATCH, 3,
     "first difference at byte 1", "wrong bytes"},
    {"open a\na < \"x\"\n", FRAY_EFAILED, FRAY_FAIL_MISSING, 2, "nothing (fake)",
     "no answer: the transport's words"},
    {"open a\na > \"QUIT\"\na < \"bye\"\n", FRAY_EFAILED, FRAY_FAIL_CLOSED, 3,
     "the server closed the connection", "closed before the bytes"},
    {"open a\na > \"hi\"\na < \"hi\"\na < eof\n", FRAY_EFAILED, FRAY_FAIL_NOT_CLOSED, 4,
     "kept the connection open (fake)", "no close"},
    {"open a\na > \"QUIT\"\na < eof\n", 0, FRAY_FAIL_NONE, 0, NULL, "closed as expected"},
    {"open a\na > \"hi\\nthere\"\na < ~ \"h.\\n\"\n", FRAY_EFAILED, FRAY_FAIL_UNEXPECTED, 0,
     "\"there\" that no expectation accounts for", "leftover bytes at the end"},
    {"open a\nopen b\nb > \"x\"\nb < \"x\"\na > \"y\"\n", FRAY_EFAILED, FRAY_FAIL_UNEXPECTED, 0,
     "a received \"y\"", "leftover bytes after another client's expectation"},
    {"open a\nopen b\nb > \"x\"\nb < \"x\"\na > \"y\"\na < eof?\n", FRAY_EFAILED,
     FRAY_FAIL_UNEXPECTED, 6, "a expected no more bytes, got \"y\"", "bytes before eof?"},
    {"open a\nopen b\nb > \"x\"\na < eof?\nb < \"x\"\n", 0, FRAY_FAIL_NONE, 0, NULL,
     "another client's bytes"},
    /* Bytes a connection received unexpected fail at its close and do not
     * follow the client name into its next connection. */
    {"open a\na > \"one\"\nclose a\nopen a\na > \"two\"\na < \"two\"\n", FRAY_EFAILED,
     FRAY_FAIL_UNEXPECTED, 3, "a received \"one\" that no expectation accounts for",
     "unread bytes at a close"},
    {"open a\na > \"one\"\nreset a\nopen a\na > \"two\"\na < \"two\"\n", FRAY_EFAILED,
     FRAY_FAIL_UNEXPECTED, 3, "\"one\"", "unread bytes at a reset"},
    {"open a\na > \"one\"\na < \"one\"\nclose a\nopen a\na > \"two\"\na < \"two\"\n", 0,
     FRAY_FAIL_NONE, 0, NULL, "a reopened client starts afresh"},
    /* `< any` takes what came so far unchecked, and only that. */
    {"open a\na > \"one\"\na > \"two\"\na < any\nclose a\n", 0, FRAY_FAIL_NONE, 0, NULL,
     "any takes what came"},
    {"open a\na > \"one\"\na < any\na > \"two\"\n", FRAY_EFAILED, FRAY_FAIL_UNEXPECTED, 0,
     "a received \"two\"", "bytes after any"},
    {"open a\na < any\na > \"x\"\na < \"x\"\n", 0, FRAY_FAIL_NONE, 0, NULL,
     "any with nothing come"},
};

static void test_player_verdicts(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++) {
    const verdict_case_t *c = &verdicts[i];
    fixture_t x;
    open_fixture(&x, c->script, ECHO);
    fray_result_t res;
    int rc = fray_player_run(x.p, NULL, &res);
    if (rc != c->rc || res.kind != c->kind || res.line != c->line)
      fail_msg("%s: rc %d kind %s line %zu: %s", c->label, rc, fray_fail_kind_name(res.kind),
               res.line, res.message ? res.message : "");
    if (c->needle && !strstr(res.message, c->needle))
      fail_msg("%s: message '%s' lacks '%s'", c->label, res.message, c->needle);
    /* Unexpected bytes concern no expectation: none is shown (not the last
     * one met, maybe another client's). */
    if (c->kind == FRAY_FAIL_UNEXPECTED && res.expected)
      fail_msg("%s: an expectation is shown: %.*s", c->label, (int)res.expected_len,
               (const char *)res.expected);
    close_fixture(&x);
  }
}

static void test_player_expectations_off_and_from(void **state) {
  (void)state;
  fixture_t x;
  open_fixture(&x, "open a\na > \"hi\"\na < \"ho\"\na > \"ok\"\na < \"ok\"\n", ECHO);
  fray_result_t res;
  assert_int_equal(fray_player_run(x.p, NULL, &res), FRAY_EFAILED);
  fray_player_set_expectations(x.p, 0);
  assert_int_equal(fray_player_run(x.p, NULL, &res), 0);
  /* From step 3 on: "hi" before it is drained unchecked. */
  fray_player_expect_from(x.p, 3);
  assert_int_equal(fray_player_run(x.p, NULL, &res), 0);
  fray_player_expect_from(x.p, 2);
  assert_int_equal(fray_player_run(x.p, NULL, &res), FRAY_EFAILED);
  assert_int_equal(res.line, 3);
  close_fixture(&x);
}

/* ---- waits ----------------------------------------------------------------------- */

static void test_player_wait_ends_when_ready(void **state) {
  (void)state;
  fixture_t x;
  open_fixture(&x,
               "open a\na > \"abcdef\\nxyz\\n\"\na < \"abc\"\na < ~ \"de.\\n\"\n"
               "a < \"xyz\\n\"\na < eof?\n",
               ECHO | DRIP);
  fray_result_t res;
  assert_int_equal(fray_player_run(x.p, NULL, &res), 0);
  /* The server trickles a byte at a time: each wait takes only what its
   * expectation needs (3 bytes, a line, 4 bytes; nothing is left). */
  assert_non_null(strstr(x.f.log, "wait answer a +3;wait answer a +4;wait answer a +4;"
                                  "wait quiet a;"));
  size_t n;
  const uint8_t *t = fray_player_transcript(x.p, 0, &n);
  assert_int_equal(n, 11);
  assert_memory_equal(t, "abcdef\nxyz\n", 11);
  assert_null(fray_player_transcript(x.p, 5, &n));
  assert_int_equal(n, 0);
  close_fixture(&x);
}

static void test_player_drops_bytes_for_clients_that_left(void **state) {
  (void)state;
  fixture_t x;
  open_fixture(&x, "open a\na > \"hi\"\na < \"hi\"\nclose a\n", ECHO);
  fray_result_t res;
  assert_int_equal(fray_player_run(x.p, NULL, &res), 0); /* "late" went nowhere */
  size_t n;
  fray_player_transcript(x.p, 0, &n);
  assert_int_equal(n, 2);
  close_fixture(&x);
}

/* ---- receive windows ---------------------------------------------------------------- */

static fray__room_t room_told; /* what the fake transport told its server */

/* A transport's window op that tells its server of a client's room only
 * when it changed other than by what the client received since. */
static int f_window(void *t, size_t c) {
  fake_t *f = t;
  size_t room = 0;
  int changed = fray__room_changed(f->p, c, &room_told, &room);
  if (changed && room == 3) {
    /* The client takes two bytes of the three: no news (1 left, as told). */
    assert_int_equal(fray_player_received(f->p, c, (const uint8_t *)"xy", 2), 0);
    room_told.rx += 2;
    assert_int_equal(fray__room_changed(f->p, c, &room_told, &room), 0);
  }
  if (!changed)
    logf_(f, "same;");
  else if (room == SIZE_MAX)
    logf_(f, "room max;");
  else
    logf_(f, "room %zu;", room);
  return 0;
}

static void test_player_room_told_when_changed(void **state) {
  (void)state;
  fixture_t x;
  fray_transport_ops_t ops = fake_ops;
  ops.window = f_window;
  memset(&x, 0, sizeof x);
  x.s = test_parse("open a\na stops reading\na reads 3\na stops reading\na resumes reading\n"
                   "a < \"xy\"\n");
  assert_int_equal(fray_player_new(&x.p, x.s, &ops, &x.f, NULL), 0);
  room_told = (fray__room_t){.told = SIZE_MAX};
  assert_int_equal(fray_player_run(x.p, NULL, NULL), 0);
  /* A second `stops reading` leaves the one byte granted: the same room. */
  assert_non_null(strstr(x.f.log, "room 0;room 3;same;room max;"));
  close_fixture(&x);
}

/* ---- invariance --------------------------------------------------------------------- */

static void test_player_invariance(void **state) {
  (void)state;
  static const size_t cut[] = {2};
  const fray_sched_send_t sends[1] = {{.cuts = cut, .ncuts = 1}};
  fray_sched_t sched = {.sends = sends, .nsends = 1};
  fray_result_t res;
  /* An echo answers the same however its input is cut. */
  fixture_t x;
  open_fixture(&x, "open a\na > \"abcd\"\n", ECHO);
  fray_player_set_expectations(x.p, 0);
  assert_int_equal(fray_player_check_invariance(x.p, &sched, &res), 0); /* no reference yet */
  assert_int_equal(fray_player_record_reference(x.p, &res), 0);
  assert_int_equal(fray_player_check_invariance(x.p, &sched, &res), 0);
  close_fixture(&x);
  /* A server that marks every read it took does not. */
  open_fixture(&x, "open a\na > \"abcd\"\n", TAG);
  fray_player_set_expectations(x.p, 0);
  assert_int_equal(fray_player_record_reference(x.p, &res), 0);
  assert_int_equal(fray_player_check_invariance(x.p, NULL, &res), 0);
  assert_int_equal(fray_player_check_invariance(x.p, &sched, &res), FRAY_EFAILED);
  assert_int_equal(res.kind, FRAY_FAIL_VARIANCE);
  assert_int_equal(res.diff_at, 2);
  assert_int_equal(res.expected_len, 5);
  assert_int_equal(res.got_len, 6);
  assert_non_null(strstr(res.message, "differs from the whole schedule's at byte 2"));
  close_fixture(&x);
}

/* A run under a receive window is compared with the whole run under the
 * same window, run once per size. When that whole run went inexact, its
 * truncated transcript is no reference: runs of that size are not compared
 * (nor is the whole run tried again), and other sizes still are. */
static void test_player_window_reference_only_from_an_exact_run(void **state) {
  (void)state;
  static const size_t cut[] = {2};
  const fray_sched_send_t sends[1] = {{.cuts = cut, .ncuts = 1}};
  /* write_seed 1 and 2 draw windows of different sizes. */
  fray_sched_t win = {.sends = sends, .nsends = 1, .faults = FRAY_FAULT_WINDOW, .write_seed = 1};
  fray_sched_t other = win;
  other.write_seed = 2;
  assert_int_not_equal(fray_sched_window(&win), fray_sched_window(&other));
  fray_result_t res;
  fixture_t x;
  open_fixture(&x, "open a\na > \"abcd\"\n", ECHO);
  fray_player_set_expectations(x.p, 0);
  assert_int_equal(fray_player_record_reference(x.p, &res), 0);
  x.f.stall_window = 1;
  assert_int_equal(fray_player_check_invariance(x.p, &win, &res), 0);
  assert_int_equal(x.f.window_runs, 1);
  assert_int_equal(fray_player_check_invariance(x.p, &win, &res), 0);
  assert_int_equal(x.f.window_runs, 1); /* tried once */
  /* Another size, whose whole run passes, is a reference, and judges. */
  x.f.stall_window = 0;
  assert_int_equal(fray_player_check_invariance(x.p, &other, &res), 0);
  assert_int_equal(x.f.window_runs, 2);
  x.f.mode = TAG;
  assert_int_equal(fray_player_check_invariance(x.p, &other, &res), FRAY_EFAILED);
  assert_int_equal(res.kind, FRAY_FAIL_VARIANCE);
  assert_non_null(strstr(res.message, "(same receive window)"));
  /* A new reference forgets the sizes tried. */
  x.f.mode = ECHO;
  assert_int_equal(fray_player_record_reference(x.p, &res), 0);
  assert_int_equal(fray_player_check_invariance(x.p, &win, &res), 0);
  assert_int_equal(x.f.window_runs, 3);
  close_fixture(&x);
}

/* A reference recorded in one player (one process) and set in another
 * (the shim's fuzz mode runs each in its own fork of the server) judges as
 * the player's own. */
static void test_player_reference_moves(void **state) {
  (void)state;
  static const size_t cut[] = {2};
  const fray_sched_send_t sends[1] = {{.cuts = cut, .ncuts = 1}};
  fray_sched_t sched = {.sends = sends, .nsends = 1};
  fray_result_t res;
  fixture_t x, y;
  const uint8_t *rx;
  size_t len;
  int end;
  open_fixture(&x, "open a\na > \"abcd\"\n", TAG);
  fray_player_set_expectations(x.p, 0);
  assert_int_equal(fray__player_reference(x.p, 0, &rx, &len, &end), FRAY_ERANGE);
  assert_int_equal(fray_player_record_reference(x.p, &res), 0);
  assert_int_equal(fray__player_reference(x.p, 0, &rx, &len, &end), 0);
  assert_int_equal(len, 5);
  assert_int_equal(end, 0);
  assert_int_equal(fray__player_end(x.p, 0), 0); /* the server left it open */
  assert_int_equal(fray__player_reference(x.p, 1, &rx, &len, &end), FRAY_ERANGE);
  open_fixture(&y, "open a\na > \"abcd\"\n", TAG);
  fray_player_set_expectations(y.p, 0);
  assert_int_equal(fray__player_set_reference(y.p, 0, rx, len, end), 0);
  assert_int_equal(fray__player_set_reference(y.p, 1, rx, len, end), FRAY_ERANGE);
  assert_int_equal(fray__player_set_reference(y.p, 0, rx, len, 3), FRAY_ERANGE);
  assert_int_equal(fray_player_check_invariance(y.p, NULL, &res), 0);
  assert_int_equal(fray_player_check_invariance(y.p, &sched, &res), FRAY_EFAILED);
  assert_int_equal(res.kind, FRAY_FAIL_VARIANCE);
  assert_int_equal(res.diff_at, 2);
  /* A reference that ended the connection differs from one left open. */
  assert_int_equal(fray__player_set_reference(y.p, 0, rx, len, 1), 0);
  assert_int_equal(fray_player_check_invariance(y.p, NULL, &res), FRAY_EFAILED);
  close_fixture(&x);
  close_fixture(&y);
}

/* ---- transport errors -------------------------------------------------------------- */

static void test_player_transport_errors(void **state) {
  (void)state;
  fixture_t x;
  open_fixture(&x, "open a\na > \"hi\"\n", 0);
  fray_result_t res;
  x.f.fail_send = FRAY_EINEXACT;
  assert_int_equal(fray_player_run(x.p, NULL, &res), FRAY_EINEXACT);
  assert_int_equal(res.kind, FRAY_FAIL_NONE); /* no verdict */
  assert_string_equal(fray_player_error(x.p), "the server read 3 bytes, not 2");
  assert_int_equal(x.f.ends, 1); /* end() runs whatever happened */
  x.f.fail_send = 0;
  x.f.fail_open = FRAY_ECONNREFUSED;
  assert_int_equal(fray_player_run(x.p, NULL, &res), FRAY_ECONNREFUSED);
  assert_int_equal(x.f.ends, 2);
  x.f.fail_open = 0;
  assert_int_equal(fray_player_run(x.p, NULL, &res), 0);
  assert_string_equal(fray_player_error(x.p), ""); /* cleared every run */
  close_fixture(&x);
}

static void test_player_new_checks_and_fails_cleanly(void **state) {
  (void)state;
  fray_script_t *s = test_parse("open a\na > \"hi\\n\"\na < \"hi\\n\"\n");
  fake_t f = {0};
  fray_player_t *p = (fray_player_t *)&f;
  fray_transport_ops_t partial = fake_ops;
  partial.wait = NULL;
  assert_int_equal(fray_player_new(&p, s, &partial, &f, NULL), FRAY_EINVAL);
  assert_null(p);
  assert_int_equal(fray_player_new(&p, NULL, &fake_ops, &f, NULL), FRAY_EINVAL);
  assert_int_equal(fray_player_new(NULL, s, &fake_ops, &f, NULL), FRAY_EINVAL);
  /* Fail-malloc loop: every allocation of a player and of a run. */
  long n = 0;
  for (long k = 1;; k++) {
    failmem_t fm = {.fail_at = k};
    fray_mem_t mem = failmem_mem(&fm);
    memset(&f, 0, sizeof f);
    f.mode = ECHO;
    int r = fray_player_new(&p, s, &fake_ops, &f, &mem);
    if (r == 0) {
      fray_result_t res;
      r = fray_player_run(p, NULL, &res);
      assert_true(r == 0 || r == FRAY_ENOMEM);
      fray_player_free(p);
      assert_int_equal(f.frees, 1);
    } else {
      assert_int_equal(r, FRAY_ENOMEM);
      assert_int_equal(f.frees, 0); /* the transport is still the caller's */
    }
    assert_int_equal(fm.live, 0);
    if (fm.count < k)
      break; /* every allocation has failed once */
    n++;
  }
  assert_true(n >= 4);
  fray_script_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_player_walks_steps_in_order),
      cmocka_unit_test(test_player_merges_a_clients_consecutive_sends),
      cmocka_unit_test(test_player_verdicts),
      cmocka_unit_test(test_player_expectations_off_and_from),
      cmocka_unit_test(test_player_wait_ends_when_ready),
      cmocka_unit_test(test_player_drops_bytes_for_clients_that_left),
      cmocka_unit_test(test_player_room_told_when_changed),
      cmocka_unit_test(test_player_invariance),
      cmocka_unit_test(test_player_reference_moves),
      cmocka_unit_test(test_player_window_reference_only_from_an_exact_run),
      cmocka_unit_test(test_player_transport_errors),
      cmocka_unit_test(test_player_new_checks_and_fails_cleanly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
