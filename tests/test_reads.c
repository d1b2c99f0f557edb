/* Reads tests (session/reads_internal.h, session/sched_internal.h): the
 * reads a schedule makes of a script's sends: the script's `|` cuts and the
 * schedule's merged, a cut every k bytes, merges of a client's consecutive
 * sends held back and delivered with the next send, and the callback's
 * result stopping a send. Traces are golden strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "session/reads_internal.h"
#include "session/sched_internal.h"

typedef struct trace {
  char s[512];
  size_t o;
  int stop_after; /* return 7 from this read on (1-based); 0: never */
  int n;
  int lasts; /* reads that ended their send */
} trace_t;

static int on_read(void *ctx, const uint8_t *p, size_t n, int last) {
  trace_t *t = ctx;
  assert_true(n > 0);
  t->lasts += last;
  t->o += (size_t)snprintf(t->s + t->o, sizeof t->s - t->o, "[%.*s]", (int)n, (const char *)p);
  return t->stop_after && ++t->n >= t->stop_after ? 7 : 0;
}

typedef struct fixture {
  fray_script_t *s;
  const fray_step_t *steps;
  size_t nsteps, send_step[8], nsends;
  fray__reads_t r;
} fixture_t;

static void open_fixture(fixture_t *x, const char *text) {
  memset(x, 0, sizeof *x);
  assert_int_equal(fray_script_parse(&x->s, text, strlen(text), "t.fray", NULL, NULL), 0);
  x->steps = fray_script_steps(x->s, &x->nsteps);
  x->nsends = fray__sched_send_steps(x->steps, x->nsteps, x->send_step);
  fray__reads_init(&x->r, NULL, x->steps, x->send_step, x->nsends);
}

static void close_fixture(fixture_t *x) {
  fray__reads_free(&x->r);
  fray_script_free(x->s);
}

/* Every send under sched, as one trace. */
static void play(fixture_t *x, const fray_sched_t *sched, trace_t *t) {
  fray__reads_reset(&x->r);
  for (size_t k = 0; k < x->nsends; k++) {
    int rc = fray__reads_send(&x->r, sched, k, on_read, t);
    if (rc)
      break;
    t->o += (size_t)snprintf(t->s + t->o, sizeof t->s - t->o, "/");
  }
}

static void test_reads_cuts_merged(void **state) {
  (void)state;
  fixture_t x;
  open_fixture(&x, "open a\na > \"abc\" | \"def\"\n");
  assert_int_equal(x.nsends, 1);
  trace_t t = {0};
  play(&x, NULL, &t);
  assert_string_equal(t.s, "[abc][def]/");
  /* The schedule's cuts join the script's; duplicates, 0, the end and
   * positions out of order are passed over. */
  static const size_t cuts[] = {0, 1, 3, 5, 4, 6, 9};
  const fray_sched_send_t ss[1] = {{.cuts = cuts, .ncuts = 7}};
  fray_sched_t sched = {.sends = ss, .nsends = 1};
  memset(&t, 0, sizeof t);
  play(&x, &sched, &t);
  assert_string_equal(t.s, "[a][bc][de][f]/");
  close_fixture(&x);
}

static void test_reads_every_k_bytes(void **state) {
  (void)state;
  fixture_t x;
  open_fixture(&x, "open a\na > \"abcdefg\" | \"h\"\n");
  static const size_t cut[] = {5};
  const fray_sched_send_t ss[1] = {{.cuts = cut, .ncuts = 1, .every = 3}};
  fray_sched_t sched = {.sends = ss, .nsends = 1};
  trace_t t = {0};
  play(&x, &sched, &t);
  assert_string_equal(t.s, "[abc][de][f][g][h]/");
  const fray_sched_send_t one[1] = {{.every = 1}};
  sched.sends = one;
  memset(&t, 0, sizeof t);
  play(&x, &sched, &t);
  assert_string_equal(t.s, "[a][b][c][d][e][f][g][h]/");
  /* The iterator alone: a send of one byte under every=1 is one read. */
  fray_step_t st = {.kind = FRAY_STEP_SEND, .data = (const uint8_t *)"x", .len = 1};
  fray__cuts_t it;
  fray__cuts_init(&it, &st, &one[0]);
  assert_int_equal(fray__cuts_next(&it), 1);
  close_fixture(&x);
}

static void test_reads_merges_held_back(void **state) {
  (void)state;
  fixture_t x;
  open_fixture(&x, "open a\nopen b\na > \"ab\"\na > \"cd\" | \"ef\"\na > \"gh\"\nb > \"xy\"\n");
  assert_int_equal(x.nsends, 4);
  /* Send 0 merges into 1, 1 into 2 (its last read), 2 cannot merge into
   * b's send: ignored. */
  const fray_sched_send_t ss[4] = {{.merge_next = 1}, {.merge_next = 1}, {.merge_next = 1}, {0}};
  fray_sched_t sched = {.sends = ss, .nsends = 4};
  trace_t t = {0};
  play(&x, &sched, &t);
  assert_string_equal(t.s, "/[abcd]/[efgh]/[xy]/");
  /* A run that stops mid-merge leaves nothing behind for the next run. */
  memset(&t, 0, sizeof t);
  fray__reads_reset(&x.r);
  assert_int_equal(fray__reads_send(&x.r, &sched, 0, on_read, &t), 0);
  play(&x, NULL, &t);
  assert_string_equal(t.s, "[ab]/[cd][ef]/[gh]/[xy]/");
  close_fixture(&x);
}

static void test_reads_callback_stops_a_send(void **state) {
  (void)state;
  fixture_t x;
  open_fixture(&x, "open a\na > \"abcd\"\n");
  const fray_sched_send_t ss[1] = {{.every = 1}};
  fray_sched_t sched = {.sends = ss, .nsends = 1};
  trace_t t = {.stop_after = 2};
  assert_int_equal(fray__reads_send(&x.r, &sched, 0, on_read, &t), 7);
  assert_string_equal(t.s, "[a][b]");
  close_fixture(&x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reads_cuts_merged),
      cmocka_unit_test(test_reads_every_k_bytes),
      cmocka_unit_test(test_reads_merges_held_back),
      cmocka_unit_test(test_reads_callback_stops_a_send),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
