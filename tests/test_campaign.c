/* Replay campaign tests (fray/replay.h): seed derivation, report contents,
 * failure de-duplication, reproducers and their headers, malformed variants,
 * progress and stopping, argument checks and a fail-malloc loop, against
 * the bundled example handlers (examples/ and examples/buggy/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "examples.h"
#include "fray/replay.h"
#include "core/internal.h"
#include "fray/sim.h"
#include "support.h"

/* buggy-splitdelim misses a "\r\n" cut between "\r" and "\n": lines 3 and
 * 5 fail under such cuts, and pass whole. */
static const char split_text[] = "open a\n"
                                 "a > \"PING\\r\\n\"\n"
                                 "a < \"PONG\\r\\n\"\n"
                                 "a > \"ECHO hi\\r\\n\"\n"
                                 "a < \"hi\\r\\n\"\n"
                                 "close a\n";

/* The echo example answers "hello", not "hellO": fails whole, line 3. */
static const char whole_text[] = "open a\n"
                                 "a > \"hello\\r\\n\"\n"
                                 "a < \"hellO\\r\\n\"\n";

/* Runs one campaign; returns its report (the caller frees it). */
static fray_campaign_report_t *campaign(const fray_campaign_opts_t *o, const char *text,
                                        const fray_campaign_target_t *t, int want_rc) {
  fray_campaign_t *c;
  fray_campaign_report_t *r = NULL;
  fray_script_t *s = test_parse(text);
  assert_int_equal(fray_campaign_new(&c, o, NULL), 0);
  assert_int_equal(fray_campaign_run(c, s, "dir/t.fray", t, &r), want_rc);
  assert_non_null(r);
  fray_campaign_free(c);
  fray_script_free(s);
  return r;
}

static fray_campaign_opts_t opts(fray_strategy_t strategy, uint64_t runs, int keep_going) {
  fray_campaign_opts_t o;
  fray_campaign_opts_init(&o);
  o.strategy = strategy;
  o.runs = runs;
  o.keep_going = keep_going;
  return o;
}

static const fray_campaign_target_t splitdelim = {.handler = &fray_example_buggy_splitdelim};
static const fray_campaign_target_t echo = {.handler = &fray_example_echo};

/* ---- seeds ---------------------------------------------------------------- */

static void test_seed_is_a_function_of_seed_and_run(void **state) {
  (void)state;
  assert_true(fray__rng_at(1, 0) == fray__rng_at(1, 0));
  /* splitmix64's first output for state 1 + golden ratio increment. */
  assert_true(fray__rng_at(0, 0) == 0xe220a8397b1dcdafULL);
  for (uint64_t i = 0; i < 64; i++)
    for (uint64_t k = i + 1; k < 64; k++)
      assert_true(fray__rng_at(7, i) != fray__rng_at(7, k));
  assert_true(fray__rng_at(1, 5) != fray__rng_at(2, 5));
}

/* Run i of seed s is the same schedule whatever the number of runs: a
 * longer campaign finds what a shorter one found, at the same runs. */
static void test_runs_do_not_depend_on_the_run_count(void **state) {
  (void)state;
  fray_campaign_opts_t a = opts(FRAY_STRATEGY_RANDOM, 40, 1), b = opts(FRAY_STRATEGY_RANDOM, 80, 1);
  fray_campaign_report_t *ra = campaign(&a, split_text, &splitdelim, FRAY_EFAILED);
  fray_campaign_report_t *rb = campaign(&b, split_text, &splitdelim, FRAY_EFAILED);
  assert_true(ra->nfailures > 0 && rb->nfailures >= ra->nfailures);
  for (size_t i = 0; i < ra->nfailures; i++) {
    assert_true(ra->failures[i].run == rb->failures[i].run);
    assert_string_equal(ra->failures[i].schedule, rb->failures[i].schedule);
  }
  fray_campaign_report_free(ra);
  /* Another seed draws other schedules. */
  b.seed = 2;
  ra = campaign(&b, split_text, &splitdelim, FRAY_EFAILED);
  int differs = ra->failures[0].run != rb->failures[0].run ||
                strcmp(ra->failures[0].schedule, rb->failures[0].schedule);
  assert_true(differs);
  fray_campaign_report_free(ra);
  fray_campaign_report_free(rb);
}

/* ---- reports ---------------------------------------------------------------- */

static void test_report_of_a_passing_script(void **state) {
  (void)state;
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_RANDOM, 30, 0);
  fray_campaign_report_t *r = campaign(&o, split_text, &echo, FRAY_EFAILED);
  /* echo answers "PING", not "PONG": the campaign says so, whole. */
  assert_int_equal(r->verdict, FRAY_VERDICT_FAIL);
  fray_campaign_report_free(r);
  static const char ok[] = "open a\na > \"x\\r\\n\" \"y\\r\\n\"\na < \"x\\r\\ny\\r\\n\"\nclose a\n";
  r = campaign(&o, ok, &echo, 0);
  assert_int_equal(r->verdict, FRAY_VERDICT_PASS);
  assert_int_equal(r->strategy, FRAY_STRATEGY_RANDOM);
  assert_true(r->runs == 31 && r->planned == 31 && r->failed == 0);
  assert_int_equal(r->nfailures, 0);
  assert_null(r->error);
  assert_false(r->own_cuts);
  fray_campaign_report_free(r);
}

static void test_report_of_a_whole_failure(void **state) {
  (void)state;
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_EXHAUSTIVE, 0, 1);
  fray_campaign_report_t *r = campaign(&o, whole_text, &echo, FRAY_EFAILED);
  assert_int_equal(r->verdict, FRAY_VERDICT_FAIL);
  assert_true(r->runs == 1 && r->failed == 1);
  assert_int_equal(r->nfailures, 1);
  const fray_campaign_failure_t *f = &r->failures[0];
  assert_int_equal(f->kind, FRAY_FAIL_MISMATCH);
  assert_int_equal(f->line, 3);
  assert_int_equal(f->step, 2);
  assert_true(f->whole && f->run == 0);
  assert_string_equal(f->client, "a");
  assert_string_equal(f->expected, "hellO\\r\\n");
  assert_string_equal(f->got, "hello\\r\\n");
  assert_string_equal(f->expected_excerpt, "\"hellO\\r\\n\"");
  assert_true(f->has_diff && f->diff_at == 4 && f->caret == 5);
  assert_null(f->reproducer);
  assert_null(f->reproducer_note);
  fray_campaign_report_free(r);
}

static void test_report_of_a_split_failure(void **state) {
  (void)state;
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_EXHAUSTIVE, 0, 0);
  fray_campaign_report_t *r = campaign(&o, split_text, &splitdelim, FRAY_EFAILED);
  /* 6 + 9 bytes: 5 + 8 single cuts, after the reference. */
  assert_true(r->planned == 14);
  assert_true(r->runs > 1 && r->runs < r->planned);
  const fray_campaign_failure_t *f = &r->failures[0];
  assert_false(f->whole);
  assert_true(f->run == r->runs - 1);
  assert_string_equal(f->schedule, "line 2 a> \"PING\\r\" | \"\\n\"");
  assert_int_equal(f->line, 3);
  fray_campaign_report_free(r);
}

/* Many schedules fail at one place: each is counted, the first speaks
 * for the others. */
static void test_failures_at_one_place_are_one(void **state) {
  (void)state;
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_RANDOM, 300, 1);
  o.max_described = 8;
  fray_campaign_report_t *r = campaign(&o, split_text, &splitdelim, FRAY_EFAILED);
  assert_int_equal(r->nfailures, 8);
  assert_true(r->failed > 8);
  size_t firsts = 0;
  for (size_t i = 0; i < r->nfailures; i++) {
    const fray_campaign_failure_t *f = &r->failures[i], *g;
    if (!f->same_as) {
      firsts++;
      continue;
    }
    assert_true(f->same_as <= i);
    g = &r->failures[f->same_as - 1];
    assert_true(g->kind == f->kind && g->line == f->line && !g->same_as);
  }
  assert_true(firsts >= 1 && firsts < r->nfailures);
  fray_campaign_report_free(r);
}

/* ---- reproducers ------------------------------------------------------------ */

static char *read_all(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static size_t files_in(const char *dir) {
  DIR *d = opendir(dir);
  size_t n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    n += e->d_name[0] != '.';
  if (d)
    closedir(d);
  return n;
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  char p[512];
  for (struct dirent *e; d && (e = readdir(d));)
    if (e->d_name[0] != '.') {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      remove(p);
    }
  if (d)
    closedir(d);
  rmdir(dir);
}

/* The reproducer exists once per place, says how it replays, and replays
 * to the same failure under whole. */
static void test_reproducer_written_and_replays(void **state) {
  (void)state;
  char dir[] = "/tmp/fray-campaign-XXXXXX";
  assert_non_null(mkdtemp(dir));
  static const char *const args[] = {"--handler", "buggy-splitdelim"};
  fray_campaign_target_t t = {.handler = &fray_example_buggy_splitdelim, .args = args, .nargs = 2};
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_EXHAUSTIVE, 0, 1);
  o.save_dir = dir;
  fray_campaign_report_t *r = campaign(&o, split_text, &t, FRAY_EFAILED);
  size_t written = 0;
  for (size_t i = 0; i < r->nfailures; i++)
    written += r->failures[i].reproducer != NULL;
  assert_int_equal(written, files_in(dir));
  const fray_campaign_failure_t *f = &r->failures[0];
  assert_non_null(f->reproducer);
  char want[512];
  snprintf(want, sizeof want, "%s/t-exhaustive-%d.fray", dir, (int)f->run);
  assert_string_equal(f->reproducer, want);
  const char *text = read_all(f->reproducer);
  snprintf(want, sizeof want,
           "\n# replay: fray replay --handler buggy-splitdelim --schedule whole %s\n",
           f->reproducer);
  assert_non_null(strstr(text, want));
  assert_non_null(strstr(text, "# found by: fray replay --handler buggy-splitdelim --schedule "
                               "exhaustive --max-cuts 1 dir/t.fray\n"));
  assert_non_null(strstr(text, "\n@handler buggy-splitdelim\n"));
  /* Replayed whole, it fails at once, the same way, by its own cuts. */
  fray_campaign_opts_t w = opts(FRAY_STRATEGY_WHOLE, 0, 0);
  fray_campaign_report_t *again = campaign(&w, text, &splitdelim, FRAY_EFAILED);
  assert_true(again->own_cuts && again->failures[0].whole);
  assert_int_equal(again->failures[0].kind, f->kind);
  assert_string_equal(again->failures[0].message, f->message);
  fray_campaign_report_free(again);
  fray_campaign_report_free(r);
  remove_dir(dir);
}

/* Words that a shell would split or expand are quoted in the command. */
static void test_reproducer_command_is_quoted(void **state) {
  (void)state;
  char dir[] = "/tmp/fray-campaign-XXXXXX";
  assert_non_null(mkdtemp(dir));
  static const char *const args[] = {"--plugin", "./my lib's.so"};
  fray_campaign_target_t t = {.handler = &fray_example_buggy_splitdelim, .args = args, .nargs = 2};
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_BYTEWISE, 0, 0);
  o.save_dir = dir;
  fray_campaign_report_t *r = campaign(&o, split_text, &t, FRAY_EFAILED);
  assert_non_null(r->failures[0].reproducer);
  const char *text = read_all(r->failures[0].reproducer);
  assert_non_null(
      strstr(text, "# replay: fray replay --plugin './my lib'\\''s.so' --schedule whole "));
  fray_campaign_report_free(r);
  remove_dir(dir);
}

/* A directory that cannot be made is a note on the failure, not an error. */
static void test_unwritable_save_dir_is_a_note(void **state) {
  (void)state;
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_BYTEWISE, 0, 0);
  o.save_dir = "/proc/fray-campaign-cannot-exist";
  fray_campaign_report_t *r = campaign(&o, split_text, &splitdelim, FRAY_EFAILED);
  assert_int_equal(r->verdict, FRAY_VERDICT_FAIL);
  assert_null(r->failures[0].reproducer);
  assert_non_null(r->failures[0].reproducer_note);
  assert_non_null(strstr(r->failures[0].reproducer_note, "cannot create"));
  fray_campaign_report_free(r);
}

/* ---- malformed variants ------------------------------------------------------ */

/* The echo example survives malformed input; no variant file stays. */
static void test_mutate_good_handler_leaves_nothing(void **state) {
  (void)state;
  char dir[] = "/tmp/fray-campaign-XXXXXX";
  assert_non_null(mkdtemp(dir));
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_MUTATE, 50, 0);
  o.save_dir = dir;
  static const char text[] = "@canary a > \"ping\\r\\n\"\n@canary a < \"ping\\r\\n\"\n"
                             "open a\na > \"hello\\r\\n\"\na < \"hello\\r\\n\"\nclose a\n";
  fray_campaign_report_t *r = campaign(&o, text, &echo, 0);
  assert_int_equal(r->strategy, FRAY_STRATEGY_MUTATE);
  assert_true(r->runs == 50 && r->planned == 50);
  assert_int_equal(files_in(dir), 0);
  assert_null(r->note);
  fray_campaign_report_free(r);
  remove_dir(dir);
}

/* ---- progress ------------------------------------------------------------------ */

/* Records the runs of each call (seen[0] calls so far); stops at the
 * second, the first after the start. */
static int stop_at_first(fray_campaign_t *c, const fray_campaign_progress_t *p, void *user_data) {
  (void)c;
  uint64_t *seen = user_data;
  assert_true(p->planned == 1001 && p->failed == 0);
  seen[++seen[0]] = p->runs;
  return seen[0] == 2;
}

static void test_progress_every_64_runs_and_stop(void **state) {
  (void)state;
  uint64_t seen[4] = {0};
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_RANDOM, 1000, 0);
  o.progress = stop_at_first;
  o.user_data = seen;
  static const char ok[] = "open a\na > \"x\\r\\n\"\na < \"x\\r\\n\"\n";
  fray_campaign_report_t *r = campaign(&o, ok, &echo, 0);
  /* Once up front (the plan known, nothing run), then after 64 runs. */
  assert_true(seen[0] == 2 && seen[1] == 0 && seen[2] == 65);
  assert_true(r->runs == 65 && r->verdict == FRAY_VERDICT_PASS && r->cut_short);
  fray_campaign_report_free(r);
}

/* max_runs stops exactly there, says so, and is no failure; a bound past
 * the plan changes nothing. */
static void test_max_runs_cuts_short(void **state) {
  (void)state;
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_EXHAUSTIVE, 0, 0);
  o.max_cuts = 2;
  o.max_runs = 10;
  static const char ok[] = "open a\na > \"hello there\\r\\n\"\na < \"hello there\\r\\n\"\n";
  fray_campaign_report_t *r = campaign(&o, ok, &echo, 0);
  assert_true(r->runs == 10 && r->planned > 10 && r->cut_short);
  assert_int_equal(r->verdict, FRAY_VERDICT_PASS);
  uint64_t planned = r->planned;
  fray_campaign_report_free(r);
  o.max_runs = planned;
  r = campaign(&o, ok, &echo, 0);
  assert_true(r->runs == planned && !r->cut_short);
  fray_campaign_report_free(r);
  /* A failure found within the bound is a failure, not a cut. */
  o.max_runs = 1000;
  r = campaign(&o, split_text, &splitdelim, FRAY_EFAILED);
  assert_true(!r->cut_short && r->verdict == FRAY_VERDICT_FAIL);
  fray_campaign_report_free(r);
  o = opts(FRAY_STRATEGY_MUTATE, 50, 0);
  o.max_runs = 7;
  r = campaign(&o, ok, &echo, 0);
  assert_true(r->runs == 7 && r->planned == 50 && r->cut_short);
  fray_campaign_report_free(r);
}

/* The failing run indices of a keep-going campaign, as a bitmap of n. */
static uint64_t failing_runs(const fray_campaign_opts_t *o, uint8_t *bits, size_t n) {
  fray_campaign_t *c;
  fray_campaign_report_t *r = NULL;
  fray_script_t *s = test_parse(split_text);
  assert_int_equal(fray_campaign_new(&c, o, NULL), 0);
  int rc = fray_campaign_run(c, s, "t.fray", &splitdelim, &r);
  assert_true(r && (rc == 0 || rc == FRAY_EFAILED));
  fray_campaign_free(c);
  fray_script_free(s);
  for (size_t k = 0; k < r->nfailures; k++) {
    assert_true(r->failures[k].run < n);
    bits[r->failures[k].run]++;
  }
  uint64_t runs = r->runs;
  fray_campaign_report_free(r);
  return runs;
}

/* N shards make every run of the unsharded campaign exactly once (the
 * reference aside, which each makes), and find the same failing runs. */
static void test_shards_partition_the_runs(void **state) {
  (void)state;
  enum { N = 3, MAXRUN = 64 };
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_EXHAUSTIVE, 0, 1);
  o.max_cuts = 2;
  o.max_described = MAXRUN;
  uint8_t whole[MAXRUN] = {0}, shards[MAXRUN] = {0};
  uint64_t all = failing_runs(&o, whole, MAXRUN), sum = 0;
  o.nshards = N;
  for (o.shard = 0; o.shard < N; o.shard++) {
    uint8_t one[MAXRUN] = {0};
    sum += failing_runs(&o, one, MAXRUN) - 1;
    for (size_t i = 1; i < MAXRUN; i++) {
      assert_true(!one[i] || (i - 1) % N == o.shard);
      shards[i] += one[i];
    }
  }
  assert_true(sum == all - 1);
  assert_memory_equal(whole, shards, MAXRUN);
  assert_true(memchr(whole, 1, MAXRUN) != NULL); /* the test saw failures */
  fray_campaign_t *c;
  o.shard = N;
  assert_int_equal(fray_campaign_new(&c, &o, NULL), FRAY_EINVAL);
}

/* ---- arguments and errors ---------------------------------------------------------- */

static void test_strategy_names(void **state) {
  (void)state;
  for (int k = FRAY_STRATEGY_WHOLE; k <= FRAY_STRATEGY_MUTATE; k++) {
    fray_strategy_t s;
    assert_int_equal(fray_strategy_from_name(fray_strategy_name((fray_strategy_t)k), &s), 0);
    assert_int_equal(s, k);
  }
  fray_strategy_t s;
  assert_int_equal(fray_strategy_from_name("sideways", &s), FRAY_ENOENT);
  assert_string_equal(fray_strategy_name((fray_strategy_t)99), "unknown");
}

static void test_bad_arguments(void **state) {
  (void)state;
  fray_campaign_t *c;
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_EXHAUSTIVE, 0, 0);
  o.max_cuts = 65;
  assert_int_equal(fray_campaign_new(&c, &o, NULL), FRAY_EINVAL);
  o.max_cuts = 1;
  o.strategy = (fray_strategy_t)42;
  assert_int_equal(fray_campaign_new(&c, &o, NULL), FRAY_EINVAL);
  /* A target needs exactly one of handler and connect. */
  fray_campaign_target_t both = {.handler = &fray_example_echo, .connect = "127.0.0.1:1"};
  fray_campaign_opts_t w = opts(FRAY_STRATEGY_WHOLE, 0, 0);
  fray_campaign_report_t *r = campaign(&w, whole_text, &both, FRAY_EINVAL);
  assert_int_equal(r->verdict, FRAY_VERDICT_ERROR);
  assert_non_null(r->error);
  fray_campaign_report_free(r);
  /* Over TCP the server's writes and inputs are its own business. */
  fray_campaign_target_t tcp = {.connect = "127.0.0.1:1"};
  w.short_writes = 1;
  r = campaign(&w, whole_text, &tcp, FRAY_EUNSUPPORTED);
  assert_non_null(strstr(r->error, "short writes"));
  fray_campaign_report_free(r);
  fray_campaign_opts_t m = opts(FRAY_STRATEGY_MUTATE, 5, 0);
  r = campaign(&m, whole_text, &tcp, FRAY_EUNSUPPORTED);
  fray_campaign_report_free(r);
}

/* A server that is not there: an error with the runner's account. */
static void test_unreachable_server_is_an_error(void **state) {
  (void)state;
  fray_campaign_target_t tcp = {.connect = "127.0.0.1:1"};
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_WHOLE, 0, 0);
  fray_campaign_report_t *r = campaign(&o, whole_text, &tcp, FRAY_ECONNREFUSED);
  assert_int_equal(r->verdict, FRAY_VERDICT_ERROR);
  assert_true(r->runs == 1 && r->failed == 0);
  assert_non_null(strstr(r->error, "127.0.0.1:1"));
  fray_campaign_report_free(r);
}

/* ---- any player ---------------------------------------------------------------- */

/* A transport of the test's own: the "server" echoes every read back, and
 * cannot deliver a read shorter than min bytes (as a transport that does
 * not control the server's reads could not): such runs are inexact. */
typedef struct echo_transport {
  fray_player_t *p;
  size_t min;
} echo_transport_t;

static int et_begin(void *t, fray_player_t *p, const fray_sched_t *s) {
  (void)s;
  ((echo_transport_t *)t)->p = p;
  return 0;
}
static int et_send(void *t, size_t client, const uint8_t *d, size_t n) {
  echo_transport_t *e = t;
  if (n < e->min)
    return fray_player_set_error(e->p, "a %zu-byte read cannot be made", n), FRAY_EINEXACT;
  return fray_player_received(e->p, client, d, n);
}

static const fray_transport_ops_t echo_ops = {.name = "test-echo",
                                              .begin = et_begin,
                                              .open = test_nop_client,
                                              .send = et_send,
                                              .shutdown = test_nop_client,
                                              .close = test_nop_close,
                                              .wait = test_nop_wait,
                                              .end = test_nop_end};

static const char echo_text[] = "open a\na > \"hello\\r\\n\"\na < \"hello\\r\\n\"\n"
                                "a > \"bye\\r\\n\"\na < \"bye\\r\\n\"\n";

/* The campaign runs through any transport; runs it could not carry out
 * are counted apart and judge nothing. */
static void test_any_player_and_inexact_runs(void **state) {
  (void)state;
  echo_transport_t e = {.min = 2};
  fray_script_t *s = test_parse(echo_text);
  fray_player_t *p;
  assert_int_equal(fray_player_new(&p, s, &echo_ops, &e, NULL), 0);
  fray_campaign_target_t t = {.player = p, .transcripts = 1};
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_RANDOM, 100, 0);
  fray_campaign_t *c;
  fray_campaign_report_t *r;
  assert_int_equal(fray_campaign_new(&c, &o, NULL), 0);
  assert_int_equal(fray_campaign_run(c, s, "t.fray", &t, &r), 0);
  assert_int_equal(r->verdict, FRAY_VERDICT_PASS);
  assert_true(r->runs == 101 && r->inexact > 0 && r->inexact < 100);
  fray_campaign_report_free(r);
  /* Bytewise: every run inexact but the reference. */
  fray_campaign_free(c);
  o = opts(FRAY_STRATEGY_BYTEWISE, 0, 0);
  assert_int_equal(fray_campaign_new(&c, &o, NULL), 0);
  assert_int_equal(fray_campaign_run(c, s, "t.fray", &t, &r), 0);
  assert_true(r->runs == 2 && r->inexact == 1);
  fray_campaign_report_free(r);
  /* A player is made for one script; malformed variants need a handler. */
  fray_script_t *other = test_parse(echo_text);
  assert_int_equal(fray_campaign_run(c, other, "t.fray", &t, &r), FRAY_EINVAL);
  fray_campaign_report_free(r);
  fray_campaign_free(c);
  o = opts(FRAY_STRATEGY_MUTATE, 3, 0);
  assert_int_equal(fray_campaign_new(&c, &o, NULL), 0);
  assert_int_equal(fray_campaign_run(c, s, "t.fray", &t, &r), FRAY_EUNSUPPORTED);
  fray_campaign_report_free(r);
  fray_campaign_free(c);
  fray_player_free(p);
  fray_script_free(other);
  fray_script_free(s);
}

/* Makes simulator players of the buggy splitdelim handler, as a transport's
 * factory would (fray_exec_factory); refuses every try when *user_data is
 * nonzero (a server that cannot start). */
static int make_splitdelim(void *user_data, const fray_script_t *script, fray_player_t **out) {
  if (*(int *)user_data)
    return FRAY_EIO;
  fray_sim_t *sim;
  int r = fray_sim_new(&sim, script, &fray_example_buggy_splitdelim, NULL);
  *out = r ? NULL : fray_sim_player(sim);
  return r;
}

/* A player's failures are baked as found without a factory (mode 0) and
 * when the factory's tries cannot be made (2); with a factory (1) they are
 * minimised over fresh players as in the simulator. The player is the
 * simulator's own. */
static void test_player_target_reproducers(void **state) {
  (void)state;
  char dir[] = "/tmp/fray-campaign-XXXXXX";
  assert_non_null(mkdtemp(dir));
  fray_script_t *s = test_parse(split_text);
  fray_sim_t *sim;
  assert_int_equal(fray_sim_new(&sim, s, &fray_example_buggy_splitdelim, NULL), 0);
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_BYTEWISE, 0, 0);
  o.save_dir = dir;
  fray_campaign_t *c;
  fray_campaign_report_t *r;
  assert_int_equal(fray_campaign_new(&c, &o, NULL), 0);
  for (int mode = 0; mode < 3; mode++) {
    int refuse = mode == 2;
    fray_campaign_target_t t = {.player = fray_sim_player(sim)};
    if (mode)
      t.factory = (fray_player_factory_t){make_splitdelim, &refuse};
    assert_int_equal(fray_campaign_run(c, s, "t.fray", &t, &r), FRAY_EFAILED);
    assert_non_null(r->failures[0].reproducer);
    const char *text = read_all(r->failures[0].reproducer);
    if (mode == 1) {
      /* One cut left in the first send (between CR and LF), its answer,
       * nothing of ECHO. */
      assert_non_null(strstr(text, "(minimised:"));
      assert_non_null(strstr(text, "\nopen a\na > \"PING\\r\" | \"\\n\"\na < \"PONG\\r\\n\"\n"));
      assert_null(strstr(text, "ECHO"));
    } else {
      /* Every send cut bytewise, the ECHO line included: not minimised. */
      assert_non_null(strstr(text, mode ? "(not minimised, as no try could be made:"
                                        : "(not minimised outside the simulator:"));
      assert_non_null(strstr(text, "a > \"P\" | \"I\" | \"N\" | \"G\" | \"\\r\" | \"\\n\"\n"));
      assert_non_null(strstr(text, "a > \"E\" | \"C\""));
    }
    fray_campaign_report_free(r);
  }
  fray_campaign_free(c);
  fray_sim_free(sim);
  fray_script_free(s);
  remove_dir(dir);
}

/* ---- fail-malloc ------------------------------------------------------------------- */

typedef struct failing {
  long left; /* allocations until the failing one; -1: never fail */
  long count;
} failing_t;

static void *f_malloc(size_t n, void *ud) {
  failing_t *f = ud;
  f->count++;
  if (f->left >= 0 && f->left-- == 0)
    return NULL;
  return malloc(n);
}

static void *f_realloc(void *p, size_t n, void *ud) {
  failing_t *f = ud;
  f->count++;
  if (f->left >= 0 && f->left-- == 0)
    return NULL;
  return realloc(p, n);
}

static void f_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

/* Every allocation the campaign makes (its simulator's too) can fail: the
 * result is FRAY_ENOMEM and an ERROR report, or no report at all, never a
 * crash or a leak (the sanitizer build checks leaks). */
static void test_fail_malloc(void **state) {
  (void)state;
  fray_script_t *s = test_parse(split_text);
  failing_t fl = {.left = -1};
  fray_mem_t mem = {f_malloc, f_realloc, f_free, &fl};
  fray_campaign_opts_t o = opts(FRAY_STRATEGY_EXHAUSTIVE, 0, 1);
  fray_campaign_t *c;
  fray_campaign_report_t *r;
  assert_int_equal(fray_campaign_new(&c, &o, &mem), 0);
  assert_int_equal(fray_campaign_run(c, s, "t.fray", &splitdelim, &r), FRAY_EFAILED);
  fray_campaign_report_free(r);
  fray_campaign_free(c);
  long total = fl.count;
  assert_true(total > 10);
  for (long k = 0; k < total; k++) {
    fl = (failing_t){.left = k};
    int rc = fray_campaign_new(&c, &o, &mem);
    if (rc) {
      assert_int_equal(rc, FRAY_ENOMEM);
      continue;
    }
    rc = fray_campaign_run(c, s, "t.fray", &splitdelim, &r);
    assert_true(rc == FRAY_EFAILED || rc == FRAY_ENOMEM);
    if (rc == FRAY_ENOMEM && r)
      assert_int_equal(r->verdict, FRAY_VERDICT_ERROR);
    fray_campaign_report_free(r);
    fray_campaign_free(c);
  }
  fray_script_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seed_is_a_function_of_seed_and_run),
      cmocka_unit_test(test_runs_do_not_depend_on_the_run_count),
      cmocka_unit_test(test_report_of_a_passing_script),
      cmocka_unit_test(test_report_of_a_whole_failure),
      cmocka_unit_test(test_report_of_a_split_failure),
      cmocka_unit_test(test_failures_at_one_place_are_one),
      cmocka_unit_test(test_reproducer_written_and_replays),
      cmocka_unit_test(test_reproducer_command_is_quoted),
      cmocka_unit_test(test_unwritable_save_dir_is_a_note),
      cmocka_unit_test(test_mutate_good_handler_leaves_nothing),
      cmocka_unit_test(test_progress_every_64_runs_and_stop),
      cmocka_unit_test(test_max_runs_cuts_short),
      cmocka_unit_test(test_shards_partition_the_runs),
      cmocka_unit_test(test_strategy_names),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_unreachable_server_is_an_error),
      cmocka_unit_test(test_any_player_and_inexact_runs),
      cmocka_unit_test(test_player_target_reproducers),
      cmocka_unit_test(test_fail_malloc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
