/* Virtual time in the simulator (fray/sim.h over fray/handler.h timers):
 * an hour of the chat example's idle timeout runs in milliseconds with the
 * virtual clock where the script says; transcripts that carry the clock's
 * readings are the same under every schedule and seed; a timer restarting
 * itself at 0 ms fails the run instead of holding the clock; a transport
 * that cannot let time pass stops the run, naming the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fray/sim.h"

#include "../examples/examples.h"
#include "support.h"

static double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static fray_script_t *load(const char *rel) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", FRAY_SOURCE_DIR, rel);
  fray_script_t *s;
  fray_script_error_t err;
  if (fray_script_load(&s, path, NULL, &err)) {
    char msg[600];
    fail_msg("%s", fray_script_error_format(&err, msg, sizeof msg));
  }
  return s;
}

/* One hour and twelve minutes of idle timeouts: the kick comes after the
 * wait, the talker stays, the clock ends where the waits say, and the wall
 * time is what the callbacks cost. The goal is under 50 ms; the bound
 * asserted is generous, for loaded and sanitized builds. */
static void test_vtime_hour(void **state) {
  (void)state;
  fray_script_t *s = load("corpus/chat_idle/hour.fray");
  fray_sim_t *sim;
  assert_int_equal(fray_sim_new(&sim, s, &fray_example_chat, NULL), 0);
  fray_sim_result_t res;
  double t0 = wall_ms();
  int r = fray_sim_run(sim, NULL, &res);
  double took = wall_ms() - t0;
  if (r)
    fail_msg("line %zu: %s", res.line, res.message);
  assert_int_equal(fray_sim_clock(sim), 72 * 60 * 1000);
  print_message("72 minutes of virtual time in %.3f ms of wall time (goal < 50 ms)\n", took);
  assert_true(took < 1000.0);
  /* Every seed: the same transcript (invariance) and the same clock. */
  assert_int_equal(fray_sim_record_reference(sim, &res), 0);
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  for (uint64_t seed = 1; seed <= 50; seed++) {
    assert_int_equal(fray_sched_random(b, seed, 1), 0);
    r = fray_sim_check_invariance(sim, fray_sched_buf_view(b), &res);
    if (r)
      fail_msg("seed %llu, line %zu: %s", (unsigned long long)seed, res.line, res.message);
    assert_int_equal(fray_sim_clock(sim), 72 * 60 * 1000);
  }
  fray_sched_buf_free(b);
  fray_sim_free(sim);
  fray_script_free(s);
}

/* ---- a handler that says what time it is ----------------------------------- */

static int stamp_fired(fray_conn_t *c, void *st, void *arg) {
  (void)st;
  (void)arg;
  return fray_conn_sendf(c, "t=%llu\r\n", (unsigned long long)fray_server_now(fray_conn_server(c)));
}

/* "T ms": a timer of ms; "Z": a 0 ms timer that restarts itself forever. */
static int zero_fired(fray_conn_t *c, void *st, void *arg) {
  (void)st;
  return fray_conn_timer_start(c, 0, zero_fired, arg, NULL);
}

static int stamp_frame(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)st;
  if (n == 1 && d[0] == 'Z')
    return fray_conn_timer_start(c, 0, zero_fired, NULL, NULL);
  char num[16] = "";
  memcpy(num, d + 2, n - 2 < sizeof num - 1 ? n - 2 : sizeof num - 1);
  return fray_conn_timer_start(c, strtoull(num, NULL, 10), stamp_fired, NULL, NULL);
}

static void tick(fray_server_t *s, void *st, void *arg) {
  (void)st;
  for (fray_conn_t *c = fray_server_first(s); c; c = fray_server_next(c))
    fray_conn_sendf(c, "tick %llu\r\n", (unsigned long long)fray_server_now(s));
  fray_server_timer_start(s, 1000, tick, arg, NULL);
}

static int stamp_init(fray_server_t *s, void *st) {
  (void)st;
  return fray_server_timer_start(s, 1000, tick, NULL, NULL);
}

static const fray_handler_t stamp = {
    .name = "stamp",
    .spec = {.mode = FRAY_MODE_LINE, .delim = {.bytes = "\n", .len = 1}},
    .server_init = stamp_init,
    .on_frame = stamp_frame,
};

/* Server and connection timers, interleaved, with the clock read inside
 * them: the same bytes at the same times under whole, bytewise and 100
 * random seeds (sends merged, cut, short writes). */
static void test_vtime_deterministic_across_seeds(void **state) {
  (void)state;
  fray_script_t *s = test_parse("open a\nopen b\na > \"T 1500\\n\"\nb > \"T 700\\n\"\n"
                                "a > \"T 1000\\n\" \"T 2500\\n\"\nwait 3s\n"
                                "b < \"t=700\\r\\ntick 1000\\r\\ntick 2000\\r\\ntick 3000\\r\\n\"\n"
                                "a < \"tick 1000\\r\\nt=1000\\r\\nt=1500\\r\\ntick 2000\\r\\n"
                                "t=2500\\r\\ntick 3000\\r\\n\"\n"
                                "b < nothing for 999ms\nwait 1ms\nb < \"tick 4000\\r\\n\"\n"
                                "a < \"tick 4000\\r\\n\"\n");
  fray_sim_t *sim;
  assert_int_equal(fray_sim_new(&sim, s, &stamp, NULL), 0);
  fray_sim_result_t res;
  int r = fray_sim_record_reference(sim, &res);
  if (r)
    fail_msg("line %zu: %s", res.line, res.message);
  assert_int_equal(fray_sim_clock(sim), 4000);
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  assert_int_equal(fray_sched_bytewise(b), 0);
  assert_int_equal(fray_sim_check_invariance(sim, fray_sched_buf_view(b), &res), 0);
  for (uint64_t seed = 1; seed <= 100; seed++) {
    assert_int_equal(fray_sched_random(b, seed, (int)(seed & 1)), 0);
    r = fray_sim_check_invariance(sim, fray_sched_buf_view(b), &res);
    if (r)
      fail_msg("seed %llu, line %zu: %s", (unsigned long long)seed, res.line, res.message);
  }
  fray_sched_buf_free(b);
  fray_sim_free(sim);
  fray_script_free(s);
}

/* A timer restarting itself at 0 ms would hold the virtual clock forever:
 * the wait fails as a bound instead. */
static void test_vtime_runaway_timer(void **state) {
  (void)state;
  fray_script_t *s = test_parse("open a\na > \"Z\\n\"\nwait 1ms\n");
  fray_sim_t *sim;
  assert_int_equal(fray_sim_new(&sim, s, &stamp, NULL), 0);
  fray_sim_result_t res;
  assert_int_equal(fray_sim_run(sim, NULL, &res), FRAY_EFAILED);
  assert_int_equal(res.kind, FRAY_FAIL_BOUND);
  assert_int_equal(res.line, 3);
  assert_non_null(strstr(res.message, "0 ms"));
  fray_sim_free(sim);
  fray_script_free(s);
}

/* ---- a transport without a clock ------------------------------------------ */

static void test_vtime_transport_without_clock(void **state) {
  (void)state;
  const fray_transport_ops_t ops = test_nop_transport("nop");
  fray_script_t *s = test_parse("open a\n\nwait 90s\n");
  fray_player_t *p;
  assert_int_equal(fray_player_new(&p, s, &ops, NULL, NULL), 0);
  fray_result_t res;
  assert_int_equal(fray_player_run(p, NULL, &res), FRAY_EUNSUPPORTED);
  assert_string_equal(fray_player_error(p),
                      "line 3: the nop transport cannot let time pass (wait 90s)");
  fray_player_free(p);
  fray_script_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vtime_hour),
      cmocka_unit_test(test_vtime_deterministic_across_seeds),
      cmocka_unit_test(test_vtime_runaway_timer),
      cmocka_unit_test(test_vtime_transport_without_clock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
