/* Tests of exact schedules against real servers under the shim
 * (run/exec_server.c, run/exec_ctl.c): the servers of tests/exec/ started on
 * free ports, pieces read exactly as sent (cuts and merges), quiescence
 * ending a wait long before its timeout, buggy twins caught, short writes,
 * a crash reported as one, start-up errors, and no process left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "run/exec_internal.h"

#define TIMEOUT_MS 3000

typedef struct rec {
  char got[8192];
  size_t len;
  int ended;
} rec_t;

static void on_bytes(void *ctx, size_t client, const uint8_t *p, size_t n) {
  rec_t *r = (rec_t *)ctx + client;
  if (r->len + n < sizeof r->got) {
    memcpy(r->got + r->len, p, n);
    r->len += n;
    r->got[r->len] = 0;
  }
}

static void on_end(void *ctx, size_t client, int reset) {
  ((rec_t *)ctx)[client].ended = reset ? 2 : 1;
}

/* reset-mid-write struck the client: it leaves (3 in ended). */
static int on_reset(void *ctx, size_t client) {
  ((rec_t *)ctx)[client].ended = 3;
  return 1;
}

typedef struct fixture {
  fray__server_t *srv;
  fray__xctl_t *x;
  rec_t rec[2];
  size_t want; /* what ready() waits for on client 0 */
} fixture_t;

static int ready(void *ctx, size_t client) {
  fixture_t *f = (fixture_t *)((char *)ctx - offsetof(fixture_t, rec));
  return f->rec[client].len >= f->want;
}

static uint64_t ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Starts tests/exec's server `name` (with args) under the shim. */
static fixture_t *start(const char *name, const char *args) {
  static fixture_t f;
  memset(&f, 0, sizeof f);
  char cmd[1024], err[320];
  snprintf(cmd, sizeof cmd, "%s/tests/exec/%s {port} %s", FRAY_BINARY_DIR, name, args);
  fray__server_opts_t o;
  fray__server_opts_init(&o);
  o.command = cmd;
  o.start_timeout_ms = 5000;
  assert_int_equal(fray__server_new(&f.srv, &o, NULL, err, sizeof err), 0);
  int rc = fray__server_start(f.srv, err, sizeof err);
  if (rc)
    fail_msg("start %s: %s", cmd, err);
  fray__xctl_cb_t cb = {on_bytes, on_end, f.rec, on_reset};
  assert_int_equal(fray__xctl_new(&f.x, f.srv, 2, &cb, TIMEOUT_MS, NULL), 0);
  assert_int_equal(fray__xctl_begin(f.x, NULL), 0);
  return &f;
}

static void stop(fixture_t *f) {
  pid_t pid = fray__server_pid(f->srv);
  fray__xctl_free(f->x);
  fray__server_free(f->srv);
  assert_int_equal(kill(-pid, 0), -1); /* the whole group is gone */
}

static int send_str(fixture_t *f, size_t client, const char *s) {
  int rc = fray__xctl_send(f->x, client, (const uint8_t *)s, strlen(s));
  if (rc)
    print_message("send: %s\n", fray__xctl_error(f->x));
  return rc;
}

/* Waits for n bytes on client 0 (or quiescence); returns the time taken. */
static uint64_t wait_for(fixture_t *f, size_t n) {
  f->want = n;
  uint64_t t0 = ms_now();
  assert_int_equal(fray__xctl_wait(f->x, TIMEOUT_MS, ready, 0), 0);
  return ms_now() - t0;
}

static void exchange_cut_and_merged(const char *server) {
  fixture_t *f = start(server, "");
  assert_int_equal(fray__xctl_open(f->x, 0), 0);
  /* A cut inside the command and one between \r and \n. */
  assert_int_equal(send_str(f, 0, "PI"), 0);
  assert_int_equal(send_str(f, 0, "NG\r"), 0);
  assert_int_equal(send_str(f, 0, "\n"), 0);
  wait_for(f, 6);
  assert_string_equal(f->rec[0].got, "PONG\r\n");
  /* Two commands merged in one read. */
  assert_int_equal(send_str(f, 0, "ECHO one\r\nECHO two\r\n"), 0);
  wait_for(f, 16);
  assert_string_equal(f->rec[0].got, "PONG\r\none\r\ntwo\r\n");
  stop(f);
}

static void test_exec_ctl_poll(void **state) {
  (void)state;
  exchange_cut_and_merged("exec-poll");
}

static void test_exec_ctl_epoll_et(void **state) {
  (void)state;
  exchange_cut_and_merged("exec-epoll");
}

static void test_exec_ctl_select(void **state) {
  (void)state;
  exchange_cut_and_merged("exec-select");
}

static void test_exec_ctl_threads(void **state) {
  (void)state;
  exchange_cut_and_merged("exec-thread");
}

/* The one-line-per-read bug: the merged read loses its second command, and
 * quiescence says so at once, not after the timeout. */
static void test_exec_ctl_oneline_caught_at_quiescence(void **state) {
  (void)state;
  fixture_t *f = start("exec-poll", "--bug oneline");
  assert_int_equal(fray__xctl_open(f->x, 0), 0);
  assert_int_equal(send_str(f, 0, "PING\r\nPING\r\n"), 0);
  uint64_t took = wait_for(f, 12);
  assert_string_equal(f->rec[0].got, "PONG\r\n");
  assert_true(took < TIMEOUT_MS / 4);
  stop(f);
}

/* The dropped-tail bug: a command cut in two is lost. */
static void test_exec_ctl_droptail_caught(void **state) {
  (void)state;
  fixture_t *f = start("exec-poll", "--bug droptail");
  assert_int_equal(fray__xctl_open(f->x, 0), 0);
  assert_int_equal(send_str(f, 0, "PI"), 0);
  assert_int_equal(send_str(f, 0, "NG\r\n"), 0);
  wait_for(f, 6);
  assert_string_not_equal(f->rec[0].got, "PONG\r\n");
  stop(f);
}

/* A send's pieces go as one batch (one thread, seen idle) or a round trip
 * each (lockstep): the same reads either way. When the first piece ends
 * the connection (QUIT), the pieces held behind it are dropped by the
 * shim at the close: the answer arrives and the connection ends with a
 * FIN, not with the reset that unread bytes cause, and at once, not after
 * the timeout. */
static void test_exec_ctl_batch_quit(void **state) {
  (void)state;
  for (int lockstep = 0; lockstep < 2; lockstep++) {
    fixture_t *f = start("exec-poll", "");
    fray__xctl_set_lockstep(f->x, lockstep);
    assert_int_equal(fray__xctl_open(f->x, 0), 0);
    assert_int_equal(send_str(f, 0, "PI"), 0);
    assert_int_equal(send_str(f, 0, "NG\r\n"), 0);
    wait_for(f, 6);
    uint64_t t0 = ms_now();
    assert_int_equal(send_str(f, 0, "QUIT\r\n"), 0);
    assert_int_equal(send_str(f, 0, "PING\r\n"), 0);
    assert_int_equal(send_str(f, 0, "PI"), 0);
    wait_for(f, 11);
    assert_int_equal(fray__xctl_wait(f->x, TIMEOUT_MS, NULL, 0), 0);
    assert_true(ms_now() - t0 < TIMEOUT_MS / 4);
    assert_string_equal(f->rec[0].got, "PONG\r\nBYE\r\n");
    assert_int_equal(f->rec[0].ended, 1); /* FIN */
    stop(f);
  }
}

/* Short writes: a correct server retries until every byte is out. */
static void test_exec_ctl_short_writes(void **state) {
  (void)state;
  fixture_t *f = start("exec-poll", "");
  fray_sched_t sw = {.short_writes = 1, .write_seed = 42};
  assert_int_equal(fray__xctl_begin(f->x, &sw), 0);
  assert_int_equal(fray__xctl_open(f->x, 0), 0);
  char line[300] = "ECHO ";
  memset(line + 5, 'x', 200);
  strcpy(line + 205, "\r\n");
  assert_int_equal(send_str(f, 0, line), 0);
  wait_for(f, 202);
  assert_int_equal(f->rec[0].len, 202);
  stop(f);
}

/* eof-with-data: the FIN goes in the segment of the send's last piece, so
 * the server finds the EOF in the wakeup that reads the line. A correct
 * server answers and closes; one that drains its socket and drops the
 * replies of a wakeup that found the EOF (eofdrop) answers nothing, which
 * it never shows when the FIN comes after the answer (fray__xctl_shutdown).
 * Whole, and cut into a batch; before a half-close and before a close. */
static void test_exec_ctl_eof_with_data(void **state) {
  (void)state;
  for (int k = 0; k < 8; k++) {
    int buggy = k & 1, cut = k & 2, closing = (k & 4) != 0;
    fixture_t *f = start("exec-poll", buggy ? "--bug eofdrop" : "");
    assert_int_equal(fray__xctl_open(f->x, 0), 0);
    if (cut)
      assert_int_equal(send_str(f, 0, "PI"), 0);
    const char *last = cut ? "NG\r\n" : "PING\r\n";
    uint64_t t0 = ms_now();
    assert_int_equal(fray__xctl_send_eof(f->x, 0, (const uint8_t *)last, strlen(last), closing), 0);
    wait_for(f, 6);
    assert_true(ms_now() - t0 < TIMEOUT_MS / 4);
    assert_string_equal(f->rec[0].got, buggy ? "" : "PONG\r\n");
    assert_int_equal(f->rec[0].ended, 1); /* the server's FIN, after the answer */
    stop(f);
  }
  /* Without the fault the drained socket finds the EOF in a wakeup of its
   * own: the answer is out before. */
  fixture_t *f = start("exec-poll", "--bug eofdrop");
  assert_int_equal(fray__xctl_open(f->x, 0), 0);
  assert_int_equal(send_str(f, 0, "PING\r\n"), 0);
  assert_int_equal(fray__xctl_shutdown(f->x, 0), 0);
  wait_for(f, 6);
  assert_string_equal(f->rec[0].got, "PONG\r\n");
  stop(f);
}

/* reset-mid-write: one of the server's writes (one in eight) takes a prefix
 * of its answer, the client receives that prefix and leaves with a RST,
 * and the server's next write fails as the kernel says: a correct server
 * drops the connection and serves the next one; writefatal exits. */
static void test_exec_ctl_reset_mid_write(void **state) {
  (void)state;
  static const char answer[] = "abcdefghijklmnopqrstuvwxyz0123456789\r\n";
  for (int buggy = 0; buggy < 2; buggy++) {
    fixture_t *f = start("exec-poll", buggy ? "--bug writefatal" : "");
    fray_sched_t sched = {.faults = FRAY_FAULT_RESET_MID_WRITE, .fault_seed = 7};
    assert_int_equal(fray__xctl_begin(f->x, &sched), 0);
    assert_int_equal(fray__xctl_open(f->x, 0), 0);
    int n = 0, rc = 0;
    for (; n < 64 && f->rec[0].ended != 3 && !rc; n++) {
      rc = send_str(f, 0, "ECHO abcdefghijklmnopqrstuvwxyz0123456789\r\n");
      if (!rc)
        rc = fray__xctl_wait(f->x, TIMEOUT_MS, NULL, 0);
    }
    assert_int_equal(f->rec[0].ended, 3);
    /* What came before the cut: n - 1 whole answers and a prefix of one. */
    size_t whole = (size_t)(n - 1) * (sizeof answer - 1);
    assert_true(f->rec[0].len >= whole && f->rec[0].len < whole + sizeof answer - 1);
    for (size_t i = 0; i < f->rec[0].len; i++)
      assert_int_equal(f->rec[0].got[i], answer[i % (sizeof answer - 1)]);
    if (buggy) {
      if (!rc)
        rc = fray__xctl_wait(f->x, TIMEOUT_MS, NULL, 0);
      assert_int_equal(rc, FRAY_EIO);
      assert_non_null(strstr(fray__xctl_error(f->x), "exited with status 1"));
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal(fray__xctl_open(f->x, 1), 0);
      assert_int_equal(send_str(f, 1, "PING\r\n"), 0);
      assert_int_equal(fray__xctl_wait(f->x, TIMEOUT_MS, NULL, 1), 0);
      assert_string_equal(f->rec[1].got, "PONG\r\n");
    }
    stop(f);
  }
}

/* A server that dies is a crash, said as such; the group is gone after. */
static void test_exec_ctl_crash(void **state) {
  (void)state;
  fixture_t *f = start("exec-poll", "");
  assert_int_equal(fray__xctl_open(f->x, 0), 0);
  kill(fray__server_pid(f->srv), SIGKILL); /* SIGSEGV would be ASan's to report */
  int rc = fray__xctl_send(f->x, 0, (const uint8_t *)"PING\r\n", 6);
  if (!rc)
    rc = fray__xctl_wait(f->x, TIMEOUT_MS, NULL, 0);
  assert_int_equal(rc, FRAY_EIO);
  assert_true(fray__xctl_crashed(f->x));
  assert_non_null(strstr(fray__xctl_error(f->x), "signal 9"));
  stop(f);
}

static int start_error(const char *cmd, unsigned timeout_ms, char *err, size_t errlen) {
  fray__server_t *s;
  fray__server_opts_t o;
  fray__server_opts_init(&o);
  o.command = cmd;
  o.start_timeout_ms = timeout_ms;
  int rc = fray__server_new(&s, &o, NULL, err, errlen);
  if (rc)
    return rc;
  rc = fray__server_start(s, err, errlen);
  fray__server_free(s);
  return rc;
}

static void test_exec_ctl_start_errors(void **state) {
  (void)state;
  char err[320];
  assert_int_equal(start_error("sh -c 'echo oops >&2; exit 3'", 3000, err, sizeof err), FRAY_EIO);
  assert_non_null(strstr(err, "exited with status 3"));
  assert_int_equal(start_error("sleep 30", 300, err, sizeof err), FRAY_ETIMEDOUT);
  assert_non_null(strstr(err, "did not listen on 127.0.0.1:"));
  assert_int_equal(start_error("/nonexistent/server {port}", 300, err, sizeof err), FRAY_ENOENT);
  assert_int_equal(start_error("a 'b", 300, err, sizeof err), FRAY_ESYNTAX);
  if (access("/sbin/ldconfig", X_OK) == 0) {
    fray__exec_prog_t p;
    fray__exec_inspect("/sbin/ldconfig", &p);
    if (fray__exec_unfit(&p))
      assert_int_equal(start_error("/sbin/ldconfig", 300, err, sizeof err), FRAY_EUNSUPPORTED);
  }
}

static void test_exec_ctl_tail(void **state) {
  (void)state;
  char log[] = "/tmp/fray-exec-tail-XXXXXX";
  int fd = mkstemp(log);
  assert_true(fd >= 0);
  close(fd);
  fray__server_t *s;
  fray__server_opts_t o;
  fray__server_opts_init(&o);
  o.command = "sh -c 'for i in 1 2 3 4 5; do echo line$i; done; exit 1'";
  o.log_path = log;
  char err[320], tail[256];
  assert_int_equal(fray__server_new(&s, &o, NULL, err, sizeof err), 0);
  assert_int_equal(fray__server_start(s, err, sizeof err), FRAY_EIO);
  fray__server_tail(s, tail, sizeof tail, 2);
  assert_string_equal(tail, "line4\nline5");
  fray__server_free(s);
  unlink(log);
}

static int setup(void **state) {
  (void)state;
  setenv("FRAY_SHIM", FRAY_BINARY_DIR "/libfray-shim.so", 1);
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exec_ctl_poll),
      cmocka_unit_test(test_exec_ctl_epoll_et),
      cmocka_unit_test(test_exec_ctl_select),
      cmocka_unit_test(test_exec_ctl_threads),
      cmocka_unit_test(test_exec_ctl_oneline_caught_at_quiescence),
      cmocka_unit_test(test_exec_ctl_droptail_caught),
      cmocka_unit_test(test_exec_ctl_batch_quit),
      cmocka_unit_test(test_exec_ctl_short_writes),
      cmocka_unit_test(test_exec_ctl_eof_with_data),
      cmocka_unit_test(test_exec_ctl_reset_mid_write),
      cmocka_unit_test(test_exec_ctl_crash),
      cmocka_unit_test(test_exec_ctl_start_errors),
      cmocka_unit_test(test_exec_ctl_tail),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
