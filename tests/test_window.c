/* Receive windows: clients that stop reading (`NAME stops reading`,
 * `NAME reads N`, `NAME resumes reading`) and the FRAY_FAULT_WINDOW fault,
 * in the player (fray_player_room) and the simulator (run/sim.c), against a
 * relay defined here that can tell how much output waits for its client.
 *
 * Covered: a stopped client's output waits in the handler's queue and
 * arrives in order once it reads (grants add up, resuming takes the rest);
 * an expectation or `< eof` on a client that is not reading fails and says
 * so; the window fault grows the queue of a client not waited on yet keeps
 * a correct handler's transcripts; a transport without the window
 * operation refuses the steps with FRAY_EUNSUPPORTED and the line;
 * fray_sched_window's range and determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fray/player.h"
#include "fray/sim.h"
#include "support.h"

/* ---- the relay ------------------------------------------------------------- */

/* "Q" answers the sender with how many bytes wait in its output queue
 * before the answer ("q=N"); "BYE" closes; any other line goes to every
 * other client. */
static int relay_frame(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)st;
  if (n == 1 && d[0] == 'Q')
    return fray_conn_sendf(c, "q=%zu\r\n", fray_outq_pending(fray_conn_outq(c)));
  if (n == 3 && !memcmp(d, "BYE", 3)) {
    fray_conn_send(c, "bye\r\n", 5);
    fray_conn_close(c);
    return 0;
  }
  for (fray_conn_t *o = fray_server_first(fray_conn_server(c)); o; o = fray_server_next(o))
    if (o != c && (fray_conn_send(o, d, n) || fray_conn_send(o, "\r\n", 2)))
      return -1;
  return 0;
}

static const fray_handler_t relay = {
    .name = "test-relay",
    .spec = {.mode = FRAY_MODE_LINE, .delim = {.bytes = "\n", .len = 1}},
    .on_frame = relay_frame,
};

/* The last run's message: the result's own lives in the simulator, which
 * run() frees before the caller reads it. */
static char last_message[2048];

/* Runs text once under sched (NULL: whole); res filled, its message copied
 * to last_message. */
static int run(const char *text, const fray_sched_t *sched, fray_sim_result_t *res) {
  fray_script_t *s = test_parse(text);
  fray_sim_t *sim;
  assert_int_equal(fray_sim_new(&sim, s, &relay, NULL), 0);
  int rc = fray_sim_run(sim, sched, res);
  snprintf(last_message, sizeof last_message, "%s", res->message ? res->message : "");
  res->message = last_message;
  fray_sim_free(sim);
  fray_script_free(s);
  return rc;
}

/* ---- stops reading, reads N, resumes reading ------------------------------- */

/* While a stops reading, what the server sends it stays in the handler's
 * queue ("q=105" counts it), and reaches a in order once a reads: 10
 * bytes granted, then the rest on resuming. */
static void test_stopped_client_output_waits_in_the_queue(void **state) {
  (void)state;
  static const char text[] = "open a\nopen b\n"
                             "a stops reading\n"
                             "b > \"x\" * 100 \"\\n\"\n"
                             "b > \"y\\n\"\n"
                             "a > \"Q\\n\"\n"
                             "a reads 4\n"
                             "a reads 6\n"
                             "a < \"x\" * 10\n"
                             "a resumes reading\n"
                             "a < \"x\" * 90 \"\\r\\ny\\r\\nq=105\\r\\n\"\n";
  fray_sim_result_t res;
  assert_int_equal(run(text, NULL, &res), 0);
  /* Every schedule gives the same: the window is the script's. */
  fray_sched_t bytewise = {0};
  fray_sched_send_t sends[3] = {{.every = 1}, {.every = 1}, {.every = 1}};
  bytewise.sends = sends;
  bytewise.nsends = 3;
  bytewise.short_writes = 1;
  assert_int_equal(run(text, &bytewise, &res), 0);
}

/* An expectation on a client that is not reading judges what it read; it
 * cannot wait for the rest, and the failure says why. */
static void test_expectation_on_a_stopped_client_fails_and_says_why(void **state) {
  (void)state;
  fray_sim_result_t res;
  assert_int_equal(run("open a\nopen b\na stops reading\nb > \"hello\\n\"\na reads 2\n"
                       "a < \"hello\\r\\n\"\n",
                       NULL, &res),
                   FRAY_EFAILED);
  assert_int_equal(res.kind, FRAY_FAIL_MISSING);
  assert_int_equal(res.got_len, 2);
  assert_non_null(strstr(res.message, "a is not reading (line 5)"));
  /* The server closes only once its output is written: not to a client
   * that does not read. */
  assert_int_equal(run("open a\na stops reading\na > \"BYE\\n\"\na < eof\n", NULL, &res),
                   FRAY_EFAILED);
  assert_int_equal(res.kind, FRAY_FAIL_NOT_CLOSED);
  assert_non_null(strstr(res.message, "not reading since line 2"));
  /* Resumed, the same script passes. */
  assert_int_equal(run("open a\na stops reading\na > \"BYE\\n\"\na resumes reading\na < "
                       "\"bye\\r\\n\"\na < eof\n",
                       NULL, &res),
                   0);
}

/* ---- the window fault -------------------------------------------------------- */

/* A write seed whose window is want bytes. */
static uint64_t seed_for_window(size_t want) {
  for (uint64_t seed = 1; seed < 100000; seed++) {
    fray_sched_t s = {.faults = FRAY_FAULT_WINDOW, .write_seed = seed};
    if (fray_sched_window(&s) == want)
      return seed;
  }
  fail_msg("no seed gives a window of %zu bytes", want);
  return 0;
}

/* b's lines to a pile up in the queue behind a's 1-byte window while the
 * script does not wait on a ("q=" shows it), and all of them arrive. */
static void test_window_fault_fills_the_queue(void **state) {
  (void)state;
  static const char text[] = "open a\nopen b\n"
                             "b > \"one\\n\"\nb > \"two\\n\"\na > \"Q\\n\"\n"
                             "a < \"one\\r\\ntwo\\r\\nq=%s\\r\\n\"\n";
  char buf[256];
  fray_sched_t win = {.faults = FRAY_FAULT_WINDOW, .write_seed = seed_for_window(1)};
  fray_sim_result_t res;
  snprintf(buf, sizeof buf, text, "9");
  assert_int_equal(run(buf, &win, &res), 0);
  snprintf(buf, sizeof buf, text, "0");
  assert_int_equal(run(buf, NULL, &res), 0);
}

/* A correct handler keeps its transcripts under every window: only the
 * queue's length differs, never what arrives. */
static void test_window_fault_keeps_correct_transcripts(void **state) {
  (void)state;
  fray_script_t *s = test_parse("open a\nopen b\nopen c\n"
                                "b > \"x\" * 3000 \"\\n\"\nc > \"hi\\n\"\nb > \"yo\\n\"\n"
                                "a < \"x\" * 3000 \"\\r\\nhi\\r\\nyo\\r\\n\"\n"
                                "c < \"x\" * 3000 \"\\r\\nyo\\r\\n\"\n"
                                "b < \"hi\\r\\n\"\nclose a\nb > \"z\\n\"\nc < \"z\\r\\n\"\n");
  fray_sim_t *sim;
  assert_int_equal(fray_sim_new(&sim, s, &relay, NULL), 0);
  fray_sim_result_t res;
  assert_int_equal(fray_sim_record_reference(sim, &res), 0);
  size_t seen[13] = {0};
  for (uint64_t seed = 1; seed <= 200; seed++) {
    fray_sched_t win = {.faults = FRAY_FAULT_WINDOW, .write_seed = seed};
    size_t w = fray_sched_window(&win), k = 0;
    while ((size_t)1 << k < w)
      k++;
    seen[k]++;
    if (fray_sim_check_invariance(sim, &win, &res))
      fail_msg("window %zu: %s", w, res.message);
  }
  for (size_t k = 0; k < 13; k++)
    assert_true(seen[k] > 0); /* every window size was tried */
  fray_sim_free(sim);
  fray_script_free(s);
}

static void test_sched_window_range(void **state) {
  (void)state;
  assert_int_equal(fray_sched_window(NULL), 0);
  fray_sched_t s = {.write_seed = 7};
  assert_int_equal(fray_sched_window(&s), 0); /* the fault is not on */
  s.faults = FRAY_FAULT_WINDOW;
  size_t w = fray_sched_window(&s);
  assert_true(w >= 1 && w <= 4096 && (w & (w - 1)) == 0);
  assert_int_equal(fray_sched_window(&s), w);
  assert_int_equal(fray_fault_from_name("window"), FRAY_FAULT_WINDOW);
  assert_string_equal(fray_fault_name(FRAY_FAULT_WINDOW), "window");
  assert_true((FRAY_FAULT_ALL & FRAY_FAULT_WINDOW) != 0);
}

/* ---- a transport that cannot hold reads ---------------------------------------- */

static void test_transport_without_window_refuses(void **state) {
  (void)state;
  const fray_transport_ops_t ops = test_nop_transport("plain");
  fray_script_t *s = test_parse("open a\na > \"x\\n\"\na stops reading\n");
  fray_player_t *p, *seen = NULL;
  assert_int_equal(fray_player_new(&p, s, &ops, &seen, NULL), 0);
  fray_result_t res;
  assert_int_equal(fray_player_run(p, NULL, &res), FRAY_EUNSUPPORTED);
  assert_ptr_equal(seen, p);
  assert_non_null(strstr(fray_player_error(p), "line 3"));
  assert_non_null(strstr(fray_player_error(p), "cannot hold a client's reads"));
  fray_player_free(p);
  fray_script_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stopped_client_output_waits_in_the_queue),
      cmocka_unit_test(test_expectation_on_a_stopped_client_fails_and_says_why),
      cmocka_unit_test(test_window_fault_fills_the_queue),
      cmocka_unit_test(test_window_fault_keeps_correct_transcripts),
      cmocka_unit_test(test_sched_window_range),
      cmocka_unit_test(test_transport_without_window_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
