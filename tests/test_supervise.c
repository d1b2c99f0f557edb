/* Crash isolation tests (fray_campaign_opts_t.isolate, run/supervise.c): a
 * worker's report reaches the caller whole; a handler that aborts or never
 * returns ends its script with a FAIL of kind crash or hang at the run that
 * did it, with a reproducer that replays to the same end; progress and
 * stopping still work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "examples.h"
#include "fray/replay.h"
#include "support.h"

/* buggy-splitdelim misses a "\r\n" cut between "\r" and "\n": a failure
 * with expected and received bytes, under many schedules. */
static const char split_text[] = "open a\na > \"ECHO there\\r\\n\"\na < \"there\\r\\n\"\n"
                                 "a > \"PING\\r\\n\"\na < \"PONG\\r\\n\"\nclose a\n";

/* The faulty handler below goes wrong on a read that ends inside line 5,
 * which holds the word (twice: %s). */
static const char trigger_fmt[] = "open a\n"
                                  "a > \"hello\\n\"\n"
                                  "a < \"hello\\n\"\n"
                                  "a > \"now %s please\\n\"\n"
                                  "a < \"now %s please\\n\"\n";

static int has(const uint8_t *p, size_t n, const char *w) {
  for (size_t i = 0; i + strlen(w) <= n; i++)
    if (!memcmp(p + i, w, strlen(w)))
      return 1;
  return 0;
}

/* Echoes reads; a read ending inside a line that holds "abort" aborts,
 * one holding "hang" never returns. */
static int faulty_chunk(fray_conn_t *c, const uint8_t *data, size_t len, void *state) {
  (void)state;
  if (len && data[len - 1] != '\n' && has(data, len, "abort"))
    abort();
  if (len && data[len - 1] != '\n' && has(data, len, "hang"))
    for (;;)
      pause();
  return fray_conn_send(c, data, len);
}

static const fray_handler_t faulty = {
    .name = "faulty", .spec = {.mode = FRAY_MODE_RAW}, .on_frame = faulty_chunk};

static fray_script_t *trigger(const char *word) {
  char text[512];
  snprintf(text, sizeof text, trigger_fmt, word, word);
  return test_parse(text);
}

static fray_campaign_report_t *campaign(const fray_campaign_opts_t *o, const fray_script_t *s,
                                        const fray_handler_t *h, int want_rc) {
  fray_campaign_t *c;
  fray_campaign_report_t *r = NULL;
  static const char *const args[] = {"--plugin", "./faulty.so"};
  fray_campaign_target_t t = {.handler = h, .args = args, .nargs = 2};
  assert_int_equal(fray_campaign_new(&c, o, NULL), 0);
  assert_int_equal(fray_campaign_run(c, s, "dir/t.fray", &t, &r), want_rc);
  assert_non_null(r);
  fray_campaign_free(c);
  return r;
}

static fray_campaign_opts_t opts(int isolate, int keep_going) {
  fray_campaign_opts_t o;
  fray_campaign_opts_init(&o);
  o.isolate = isolate;
  o.keep_going = keep_going;
  return o;
}

static int same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Everything the worker described reaches the caller, as in process. */
static void test_isolated_report_equals_in_process(void **state) {
  (void)state;
  fray_script_t *s = test_parse(split_text);
  fray_campaign_opts_t here = opts(0, 1), away = opts(1, 1);
  fray_campaign_report_t *a = campaign(&here, s, &fray_example_buggy_splitdelim, FRAY_EFAILED);
  fray_campaign_report_t *b = campaign(&away, s, &fray_example_buggy_splitdelim, FRAY_EFAILED);
  assert_true(a->runs == b->runs && a->failed == b->failed && a->planned == b->planned);
  assert_true(b->verdict == FRAY_VERDICT_FAIL && a->nfailures > 1);
  assert_int_equal(a->nfailures, b->nfailures);
  for (size_t i = 0; i < a->nfailures; i++) {
    const fray_campaign_failure_t *f = &a->failures[i], *g = &b->failures[i];
    assert_true(f->run == g->run && f->line == g->line && f->kind == g->kind);
    assert_true(same_str(f->message, g->message) && same_str(f->schedule, g->schedule));
    assert_true(same_str(f->expected, g->expected) && same_str(f->got, g->got));
    assert_true(same_str(f->got_excerpt, g->got_excerpt) && same_str(f->client, g->client));
  }
  fray_campaign_report_free(a);
  fray_campaign_report_free(b);
  fray_script_free(s);
}

static char *read_all(const char *path) {
  static char buf[8192];
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  buf[n] = 0;
  fclose(fp);
  return buf;
}

/* An abort is the script's FAIL at the run that did it; its reproducer
 * aborts again, under whole. */
static void test_abort_is_a_fail_with_a_reproducer(void **state) {
  (void)state;
  char dir[] = "/tmp/fray-supervise-XXXXXX";
  assert_non_null(mkdtemp(dir));
  fray_script_t *s = trigger("abort");
  fray_campaign_opts_t o = opts(1, 0);
  o.save_dir = dir;
  fray_campaign_report_t *r = campaign(&o, s, &faulty, FRAY_EFAILED);
  assert_int_equal(r->verdict, FRAY_VERDICT_FAIL);
  assert_true(r->nfailures == 1 && r->failed == 1 && r->planned == 201);
  const fray_campaign_failure_t *f = &r->failures[0];
  assert_int_equal(f->kind, FRAY_FAIL_CRASH);
  assert_true(f->run > 0 && !f->whole && r->runs == f->run + 1);
  assert_non_null(strstr(f->message, "SIGABRT"));
  assert_int_equal(f->line, 4); /* the send whose cut read aborted, not the script's end */
  assert_non_null(f->reproducer);
  assert_null(f->reproducer_note); /* confirmed in a fresh process */
  char want[600];
  snprintf(want, sizeof want, "# replay: fray replay --plugin ./faulty.so --schedule whole %s\n",
           f->reproducer);
  const char *text = read_all(f->reproducer);
  assert_non_null(strstr(text, want));
  /* Minimised in forked tries: the first exchange had nothing to do with it. */
  assert_null(strstr(text, "hello"));
  /* The answer stays: fixed, the handler passes its reproducer. */
  assert_non_null(strstr(text, "a < \"now abort please\\n\"\n"));
  assert_non_null(strstr(text, "(minimised, each try in a fresh process"));
  fray_script_t *again = test_parse(text);
  fray_campaign_opts_t w = opts(1, 0);
  w.strategy = FRAY_STRATEGY_WHOLE;
  fray_campaign_report_t *r2 = campaign(&w, again, &faulty, FRAY_EFAILED);
  assert_true(r2->failures[0].kind == FRAY_FAIL_CRASH && r2->failures[0].whole);
  assert_non_null(strstr(r2->failures[0].message, "SIGABRT"));
  fray_campaign_report_free(r2);
  fray_script_free(again);
  remove(f->reproducer);
  rmdir(dir);
  fray_campaign_report_free(r);
  fray_script_free(s);
}

/* A run that never returns is cut by the run timeout. */
static void test_hang_is_a_fail(void **state) {
  (void)state;
  fray_script_t *s = trigger("hang");
  fray_campaign_opts_t o = opts(1, 0);
  o.run_timeout_ms = 200;
  fray_campaign_report_t *r = campaign(&o, s, &faulty, FRAY_EFAILED);
  const fray_campaign_failure_t *f = &r->failures[0];
  assert_int_equal(f->kind, FRAY_FAIL_HANG);
  assert_true(f->run > 0 && r->runs == f->run + 1);
  assert_non_null(strstr(f->message, "made no progress for 0.2 s"));
  assert_null(f->reproducer); /* none asked for */
  fray_campaign_report_free(r);
  fray_script_free(s);
}

static int stop_now(fray_campaign_t *c, const fray_campaign_progress_t *p, void *user_data) {
  (void)c;
  (void)p;
  ++*(int *)user_data;
  return 1;
}

/* The progress callback runs in the caller's process and can still stop a
 * campaign that would otherwise run for minutes. */
static void test_progress_stops_the_worker(void **state) {
  (void)state;
  int calls = 0;
  fray_campaign_opts_t o = opts(1, 0);
  o.runs = 100000000;
  o.progress = stop_now;
  o.user_data = &calls;
  static const char ok[] = "open a\na > \"x\\r\\n\"\na < \"x\\r\\n\"\n";
  fray_script_t *s = test_parse(ok);
  fray_campaign_report_t *r = campaign(&o, s, &fray_example_echo, 0);
  assert_true(calls >= 1 && r->runs < r->planned);
  fray_campaign_report_free(r);
  fray_script_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_isolated_report_equals_in_process),
      cmocka_unit_test(test_abort_is_a_fail_with_a_reproducer),
      cmocka_unit_test(test_hang_is_a_fail),
      cmocka_unit_test(test_progress_stops_the_worker),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
