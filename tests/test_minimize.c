/* Minimiser tests (harness/src/run/minimize.c): the exact reproducer for
 * scripts of 6, 7, 8 and 13 steps, whose minimal form needs a send removed
 * together with its expectation (a block size that halves through odd
 * numbers never tries that pair), and the 1-minimality property: removing
 * any single step, step with its answers, or cut from the output makes it
 * stop failing the schedule's way. The handler under test takes every read
 * as one whole line, so any cut inside a line breaks it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fray/replay.h"
#include "fray/sim.h"
#include "core/internal.h"
#include "support.h"

static int oneread_frame(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)st;
  while (n && (d[n - 1] == '\n' || d[n - 1] == '\r'))
    n--;
  fray_conn_send(c, d, n);
  return fray_conn_send(c, "\r\n", 2);
}

static const fray_handler_t oneread = {
    .name = "test-oneread",
    .spec = {.mode = FRAY_MODE_RAW},
    .on_frame = oneread_frame,
};

static char *text_of(const fray_script_t *s) {
  char *t, *copy;
  size_t n;
  assert_int_equal(fray_script_write_mem(s, &t, &n), 0);
  copy = malloc(n + 1);
  assert_non_null(copy);
  memcpy(copy, t, n);
  copy[n] = 0;
  fray_script_text_free(s, t);
  return copy;
}

/* 1 when s fails with its own cuts and passes with them all taken out:
 * how a baked reproducer keeps blaming the cutting. */
static int fails_by_cuts(const fray_script_t *s) {
  fray_script_t *bare;
  size_t n;
  const fray_step_t *st = fray_script_steps(s, &n);
  assert_int_equal(fray__script_new_like(s, NULL, &bare), 0);
  for (size_t i = 0; i < n; i++) {
    fray_step_t x = st[i];
    x.cuts = NULL;
    x.ncuts = 0;
    assert_int_equal(fray_script_add_step(bare, &x), 0);
  }
  fray_sim_t *a, *b;
  assert_int_equal(fray_sim_new(&a, s, &oneread, NULL), 0);
  assert_int_equal(fray_sim_new(&b, bare, &oneread, NULL), 0);
  int cut_fails = fray_sim_run(a, NULL, NULL) == FRAY_EFAILED;
  int bare_passes = fray_sim_run(b, NULL, NULL) == 0;
  fray_sim_free(a);
  fray_sim_free(b);
  fray_script_free(bare);
  return cut_fails && bare_passes;
}

/* s without the steps flagged in drop, and with cut number `cut` (counted
 * over all sends, SIZE_MAX: none) taken out. NULL when that is not a valid
 * script (a send left without its open). */
static fray_script_t *without(const fray_script_t *s, const unsigned char *drop, size_t cut) {
  fray_script_t *out;
  size_t n, seen = 0, cuts[64];
  const fray_step_t *st = fray_script_steps(s, &n);
  assert_int_equal(fray__script_new_like(s, NULL, &out), 0);
  for (size_t i = 0; i < n; i++) {
    fray_step_t x = st[i];
    size_t k = 0;
    assert_true(x.ncuts <= 64);
    for (size_t j = 0; j < x.ncuts; j++, seen++)
      if (seen != cut)
        cuts[k++] = x.cuts[j];
    x.cuts = k ? cuts : NULL;
    x.ncuts = k;
    if (!drop[i] && fray_script_add_step(out, &x)) {
      fray_script_free(out);
      return NULL;
    }
  }
  return out;
}

static int is_expectation(fray_step_kind_t k) {
  return k >= FRAY_STEP_EXPECT;
}

/* Asserts that no single step, step with the expectations right after it,
 * send with a later expectation of its client, or cut can leave min while
 * it still fails by its cuts. */
static void assert_one_minimal(const fray_script_t *min) {
  size_t n, ncuts = 0;
  const fray_step_t *st = fray_script_steps(min, &n);
  unsigned char drop[64];
  assert_true(n <= sizeof drop);
  assert_true(fails_by_cuts(min));
  for (size_t i = 0; i < n; i++) {
    ncuts += st[i].ncuts;
    for (int with_answers = 0; with_answers < 2; with_answers++) {
      memset(drop, 0, sizeof drop);
      drop[i] = 1;
      for (size_t j = i + 1; with_answers && j < n && is_expectation(st[j].kind); j++)
        drop[j] = 1;
      fray_script_t *smaller = without(min, drop, SIZE_MAX);
      if (smaller && fails_by_cuts(smaller)) {
        print_error("step %zu (answers too: %d) could go\n", i, with_answers);
        fail();
      }
      fray_script_free(smaller);
    }
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; st[i].kind == FRAY_STEP_SEND && j < n; j++) {
      if (st[j].client != st[i].client || !is_expectation(st[j].kind))
        continue;
      memset(drop, 0, sizeof drop);
      drop[i] = drop[j] = 1;
      fray_script_t *smaller = without(min, drop, SIZE_MAX);
      if (smaller && fails_by_cuts(smaller)) {
        print_error("send %zu with expectation %zu could go\n", i, j);
        fail();
      }
      fray_script_free(smaller);
    }
  memset(drop, 0, sizeof drop);
  for (size_t k = 0; k < ncuts; k++) {
    fray_script_t *smaller = without(min, drop, k);
    assert_non_null(smaller);
    if (fails_by_cuts(smaller)) {
      print_error("cut %zu could go\n", k);
      fail();
    }
    fray_script_free(smaller);
  }
}

typedef struct min_case {
  const char *label;
  const char *script;
  size_t nsteps;        /* as a check on the case itself */
  size_t bytewise_from; /* sends from this one on are cut bytewise ... */
  size_t bytewise_to;   /* ... up to this one, excluded */
  const char *minimal;  /* the exact output */
} min_case_t;

static const min_case_t cases[] = {
    {"6 steps: the pair before the cut send goes as one",
     "open a\na > \"one\\r\\n\"\na < \"one\\r\\n\"\na > \"PING\\r\\n\"\na < \"PING\\r\\n\"\n"
     "close a\n",
     6, 1, 2, "open a\na > \"P\" | \"ING\\r\\n\"\na < \"PING\\r\\n\"\n"},
    {"7 steps: a second client's whole connection goes",
     "open a\nopen b\nb > \"x\\r\\n\"\nb < \"x\\r\\n\"\na > \"PING\\r\\n\"\na < \"PING\\r\\n\"\n"
     "close b\n",
     7, 1, 2, "open a\na > \"P\" | \"ING\\r\\n\"\na < \"PING\\r\\n\"\n"},
    {"8 steps: the cut send in the middle",
     "open a\na > \"one\\r\\n\"\na < \"one\\r\\n\"\na > \"PING\\r\\n\"\na < \"PING\\r\\n\"\n"
     "a > \"three\\r\\n\"\na < \"three\\r\\n\"\nclose a\n",
     8, 1, 2, "open a\na > \"P\" | \"ING\\r\\n\"\na < \"PING\\r\\n\"\n"},
    {"5 steps, pipelined: a send goes with its answer after the other's",
     "open a\na > \"one\\r\\n\"\na > \"PING\\r\\n\"\na < \"one\\r\\n\"\na < \"PING\\r\\n\"\n", 5, 1,
     2, "open a\na > \"P\" | \"ING\\r\\n\"\na < \"PING\\r\\n\"\n"},
    {"13 steps: every send cut, blocks 6 -> 3 -> 2 -> 1",
     "open a\na > \"one\\r\\n\"\na < \"one\\r\\n\"\na > \"two\\r\\n\"\na < \"two\\r\\n\"\n"
     "a > \"three\\r\\n\"\na < \"three\\r\\n\"\na > \"four\\r\\n\"\na < \"four\\r\\n\"\n"
     "a > \"five\\r\\n\"\na < \"five\\r\\n\"\na > \"six\\r\\n\"\na < \"six\\r\\n\"\n",
     13, 0, 6, "open a\na > \"o\" | \"ne\\r\\n\"\na < \"one\\r\\n\"\n"},
};

static void run_case(const min_case_t *mc) {
  fray_script_t *s = test_parse(mc->script);
  size_t n;
  fray_script_steps(s, &n);
  assert_int_equal(n, mc->nsteps);
  fray_sim_t *sim;
  assert_int_equal(fray_sim_new(&sim, s, &oneread, NULL), 0);
  fray_sched_send_t sends[8];
  size_t ns = fray_sim_nsends(sim);
  assert_true(ns <= 8);
  for (size_t k = 0; k < ns; k++)
    sends[k] = (fray_sched_send_t){.every = k >= mc->bytewise_from && k < mc->bytewise_to};
  fray_sched_t sched = {.sends = sends, .nsends = ns};
  fray_script_t *min = NULL;
  assert_int_equal(fray_sim_minimize(sim, &sched, 0, &min), 0);
  char *got = text_of(min);
  if (strcmp(got, mc->minimal)) {
    print_error("%s: got\n%s\nwant\n%s\n", mc->label, got, mc->minimal);
    fail();
  }
  assert_one_minimal(min);
  free(got);
  fray_script_free(min);
  fray_sim_free(sim);
  fray_script_free(s);
}

static void test_minimize_exact_output(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    run_case(&cases[i]);
}

/* The property over many shapes: scripts of 1 to 9 echo pairs with the cut
 * send anywhere, every output 1-minimal. */
static void test_minimize_output_is_one_minimal(void **state) {
  (void)state;
  for (size_t pairs = 1; pairs <= 9; pairs++) {
    for (size_t bad = 0; bad < pairs; bad++) {
      char text[1024];
      size_t o = (size_t)snprintf(text, sizeof text, "open a\n");
      for (size_t k = 0; k < pairs; k++)
        o += (size_t)snprintf(text + o, sizeof text - o, "a > \"m%zu\\r\\n\"\na < \"m%zu\\r\\n\"\n",
                              k, k);
      fray_script_t *s = test_parse(text);
      fray_sim_t *sim;
      assert_int_equal(fray_sim_new(&sim, s, &oneread, NULL), 0);
      fray_sched_send_t sends[9] = {{0}};
      sends[bad].every = 1;
      fray_sched_t sched = {.sends = sends, .nsends = pairs};
      fray_script_t *min = NULL;
      assert_int_equal(fray_sim_minimize(sim, &sched, 0, &min), 0);
      size_t n;
      fray_script_steps(min, &n);
      assert_int_equal(n, 3); /* open, the cut send, its answer */
      assert_one_minimal(min);
      fray_script_free(min);
      fray_sim_free(sim);
      fray_script_free(s);
    }
  }
}

/* A factory of the test's: simulator players of oneread, counted, and
 * refusing (FRAY_EIO, as a server that cannot start) once `left` is 0. */
typedef struct maker {
  int made;
  int left; /* makes still allowed; -1: no bound */
} maker_t;

static int make_counted(void *user_data, const fray_script_t *script, fray_player_t **out) {
  maker_t *m = user_data;
  if (!m->left)
    return FRAY_EIO;
  if (m->left > 0)
    m->left--;
  m->made++;
  fray_sim_t *sim;
  int r = fray_sim_new(&sim, script, &oneread, NULL);
  *out = r ? NULL : fray_sim_player(sim);
  return r;
}

/* fray_minimize over a caller's factory gives what the simulator's own
 * minimiser gives, with or without the transcript check, one fresh player
 * a try; a try that cannot be made ends it with that error; the budget
 * stops it early with the pair baked whole. */
static void test_minimize_over_a_factory(void **state) {
  (void)state;
  const min_case_t *mc = &cases[3]; /* 13 steps */
  fray_script_t *s = test_parse(mc->script);
  fray_sched_send_t sends[8] = {{0}};
  size_t ns = fray_sched_nsends(s);
  for (size_t k = mc->bytewise_from; k < mc->bytewise_to; k++)
    sends[k].every = 1;
  fray_sched_t sched = {.sends = sends, .nsends = ns};
  fray_script_t *min = NULL;
  for (int transcripts = 0; transcripts < 2; transcripts++) {
    maker_t m = {.left = -1};
    fray_player_factory_t f = {make_counted, &m};
    assert_int_equal(fray_minimize(s, &sched, &f, transcripts, 0, NULL, &min), 0);
    char *got = text_of(min);
    assert_string_equal(got, mc->minimal);
    assert_true(m.made > 5);
    free(got);
    fray_script_free(min);
  }
  maker_t m = {.left = 3};
  fray_player_factory_t f = {make_counted, &m};
  assert_int_equal(fray_minimize(s, &sched, &f, 0, 0, NULL, &min), FRAY_EIO);
  assert_null(min);
  assert_int_equal(m.made, 3);
  /* Two runs: the first try only, nothing removed. */
  m = (maker_t){.left = -1};
  assert_int_equal(fray_minimize(s, &sched, &f, 0, 2, NULL, &min), 0);
  size_t n;
  fray_script_steps(min, &n);
  assert_int_equal(n, mc->nsteps);
  assert_int_equal(m.made, 1);
  fray_script_free(min);
  /* A pair that does not fail (whole), or no factory: FRAY_EINVAL. */
  assert_int_equal(fray_minimize(s, &(fray_sched_t){0}, &f, 0, 0, NULL, &min), FRAY_EINVAL);
  fray_player_factory_t none = {0};
  assert_int_equal(fray_minimize(s, &sched, &none, 0, 0, NULL, &min), FRAY_EINVAL);
  assert_null(min);
  fray_script_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_minimize_exact_output),
      cmocka_unit_test(test_minimize_output_is_one_minimal),
      cmocka_unit_test(test_minimize_over_a_factory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
