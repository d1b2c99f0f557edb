/* bench_exec: exact schedules through the shim (the lockstep controller,
 * run/exec_ctl.c) against `fray replay --connect`'s runner (fray/net.h), on
 * the same single-threaded C line server (tests/exec/exec-poll) and the
 * same 10-step script, in one run; prints runs/s of each and the ratio.
 *
 *   bench_exec [--server PATH] [--runs N] [--connect-runs N] [--quick]
 *
 * The --exec side cuts each send at 0-3 random places (seeded per run) and
 * checks every answer, as fray replay --exec does (a send's pieces in one
 * batch), then again with a round trip per piece (the lockstep before
 * batches) for comparison; --connect runs the script whole (its least
 * costly schedule: one paced send per step), so the ratio is a lower
 * bound. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fray/net.h"
#include "fray/script.h"
#include "core/rng.h"
#include "run/exec_internal.h"

static const char *const sends[] = {"PING\r\n", "ECHO hello world\r\n", "SET k some value\r\n",
                                    "GET k\r\n"};
static const char *const answers[] = {"PONG\r\n", "hello world\r\n", "OK\r\n",
                                      "VALUE some value\r\n"};
static const char script_text[] = "open a\n"
                                  "a > \"PING\\r\\n\"\n"
                                  "a < \"PONG\\r\\n\"\n"
                                  "a > \"ECHO hello world\\r\\n\"\n"
                                  "a < \"hello world\\r\\n\"\n"
                                  "a > \"SET k some value\\r\\n\"\n"
                                  "a < \"OK\\r\\n\"\n"
                                  "a > \"GET k\\r\\n\"\n"
                                  "a < \"VALUE some value\\r\\n\"\n"
                                  "close a\n";

typedef struct rx {
  char buf[4096];
  size_t len, want;
} rx_t;

static void on_bytes(void *ctx, size_t client, const uint8_t *p, size_t n) {
  rx_t *r = ctx;
  (void)client;
  if (r->len + n < sizeof r->buf) {
    memcpy(r->buf + r->len, p, n);
    r->len += n;
  }
}

static int ready(void *ctx, size_t client) {
  (void)client;
  return ((rx_t *)ctx)->len >= ((rx_t *)ctx)->want;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One run: every send cut at up to three random places. 0 passed, 1
 * failed, 2 inexact or error. */
static int exec_run(fray__xctl_t *x, rx_t *r, uint64_t seed) {
  if (fray__xctl_begin(x, NULL) || fray__xctl_open(x, 0))
    return 2;
  r->len = 0;
  size_t expect = 0;
  for (size_t k = 0; k < 4; k++) {
    size_t len = strlen(sends[k]), cuts[4], nc = fray__rng_next(&seed) % 4, prev = 0;
    for (size_t c = 0; c < nc; c++)
      cuts[c] = 1 + fray__rng_next(&seed) % (len - 1);
    for (size_t a = 0; a < nc; a++) /* sorted, duplicates dropped below */
      for (size_t b = a + 1; b < nc; b++)
        if (cuts[b] < cuts[a]) {
          size_t t = cuts[a];
          cuts[a] = cuts[b];
          cuts[b] = t;
        }
    for (size_t c = 0; c <= nc; c++) {
      size_t end = c < nc ? cuts[c] : len;
      if (end > prev && fray__xctl_send(x, 0, (const uint8_t *)sends[k] + prev, end - prev))
        return 2;
      prev = end > prev ? end : prev;
    }
    expect += strlen(answers[k]);
    r->want = expect;
    if (fray__xctl_wait(x, 2000, ready, 0))
      return 2;
    if (r->len != expect ||
        memcmp(r->buf + expect - strlen(answers[k]), answers[k], strlen(answers[k])))
      return 1;
  }
  /* The end-of-script settle, as --connect has (20 ms there; here it ends
   * at quiescence). */
  if (fray__xctl_wait(x, 20, NULL, 1))
    return 2;
  fray__xctl_close(x, 0, 0);
  fray__xctl_end(x);
  return 0;
}

/* Runs/s of exact schedules; lockstep: a round trip per piece, as before
 * batches (fray__xctl_set_lockstep). */
static double bench_exec(const char *server, int runs, int lockstep, int *bad) {
  char cmd[4200], err[320];
  snprintf(cmd, sizeof cmd, "%s {port}", server);
  fray__server_opts_t o;
  fray__server_opts_init(&o);
  o.command = cmd;
  fray__server_t *srv;
  rx_t r;
  fray__xctl_t *x;
  fray__xctl_cb_t cb = {on_bytes, NULL, &r, NULL};
  if (fray__server_new(&srv, &o, NULL, err, sizeof err) ||
      fray__server_start(srv, err, sizeof err) || fray__xctl_new(&x, srv, 1, &cb, 2000, NULL)) {
    fprintf(stderr, "bench_exec: %s\n", err);
    exit(2);
  }
  fray__xctl_set_lockstep(x, lockstep);
  double t0 = now_s();
  for (int i = 0; i < runs; i++)
    *bad += exec_run(x, &r, (uint64_t)i) != 0;
  double t = now_s() - t0;
  fray__xctl_free(x);
  fray__server_free(srv);
  return runs / t;
}

/* The --connect side: the server started plainly, its port read from its
 * first line. */
static double bench_connect(const char *server, int runs, int *bad) {
  int out[2];
  if (pipe(out))
    exit(2);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    execl(server, server, "0", (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  char line[128] = "";
  FILE *f = fdopen(out[0], "r");
  int port = 0;
  if (!f || !fgets(line, sizeof line, f) || sscanf(line, "listening on 127.0.0.1:%d", &port) != 1) {
    fprintf(stderr, "bench_exec: %s did not start\n", server);
    exit(2);
  }
  char where[64];
  snprintf(where, sizeof where, "127.0.0.1:%d", port);
  fray_script_t *s;
  fray_net_t *net;
  if (fray_script_parse(&s, script_text, strlen(script_text), "bench.fray", NULL, NULL) ||
      fray_net_new(&net, s, where, NULL, NULL)) {
    fprintf(stderr, "bench_exec: cannot set up the --connect runner\n");
    exit(2);
  }
  double t0 = now_s();
  for (int i = 0; i < runs; i++) {
    fray_sim_result_t res;
    *bad += fray_net_run(net, NULL, &res) != 0;
  }
  double t = now_s() - t0;
  fray_net_free(net);
  fray_script_free(s);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  fclose(f);
  return runs / t;
}

int main(int argc, char **argv) {
  const char *server = FRAY_BINARY_DIR "/tests/exec/exec-poll";
  int runs = 2000, cruns = 50;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--server") && i + 1 < argc)
      server = argv[++i];
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--connect-runs") && i + 1 < argc)
      cruns = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick"))
      runs = 100, cruns = 5;
    else
      return fprintf(stderr, "usage: bench_exec [--server PATH] [--runs N] [--connect-runs N] "
                             "[--quick]\n"),
             2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (!getenv("FRAY_SHIM"))
    setenv("FRAY_SHIM", FRAY_BINARY_DIR "/libfray-shim.so", 1);
  int ebad = 0, lbad = 0, cbad = 0;
  double e = bench_exec(server, runs, 0, &ebad);
  double l = bench_exec(server, runs, 1, &lbad);
  double c = bench_connect(server, cruns, &cbad);
  printf("bench_exec: --exec, random cuts:          %.0f runs/s (%d runs, %d not passed)\n", e,
         runs, ebad);
  printf("bench_exec: --exec, a round trip a piece: %.0f runs/s (%d runs, %d not passed)\n", l,
         runs, lbad);
  printf("bench_exec: --connect, whole:             %.1f runs/s (%d runs, %d not passed)\n", c,
         cruns, cbad);
  printf("bench_exec: ratio %.1fx (goal: >= 1000 runs/s and >= 50x; batches gain %.2fx)\n", e / c,
         e / l);
  return ebad || lbad || cbad;
}
