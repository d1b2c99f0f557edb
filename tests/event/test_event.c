/* Unit tests for the libevent adapter (fray/event.h): a real event_base
 * serves small handlers defined here on 127.0.0.1 (port 0), and the test
 * plays the peers with its own loopback sockets, stepping the same loop in
 * 2 ms slices between socket calls. Every wait is bounded (WAIT_FOR fails
 * the test after its limit), so a hang in the adapter is a failure, not a
 * stalled ctest.
 *
 * Covered: accept and echo under split and merged writes; greetings and an
 * on_open that aborts; close after reply delivering every byte then EOF;
 * peer reset and peer EOF mid-frame; max_conns; the idle timeout (and that
 * a slow download is not idle, while a stalled one is); back-pressure (reading paused while a
 * peer's output queue is over its high-water mark, resumed once it drains); the max_output drop of
 * a slow peer; the server-wide output budget over 200 peers that never read (the fullest reset
 * first, the reader and the sender spared, the log rate-limited); accept failures out of
 * descriptors logged at most once a second; graceful stop (flush, then on_stopped; reset after
 * stop_timeout_ms); free with live connections; bad listen addresses. Every test ends with on_close
 * count == on_open count (and the ASan build checks for leaks). The adapter takes no fray_mem_t, so
 * there is no fail-malloc loop here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "fray/event.h"
#include "fray/driver.h"
#include "fray/handler.h"

/* ---- handler under test ------------------------------------------------- */

/* What the handlers saw, reached through the server state (the handler API
 * has no user pointer; the test stores this pointer there after creating
 * the server, before any connection can be accepted). */
typedef struct counters {
  int opens, closes, frames, truncated, server_frees;
  int reasons[FRAY_CLOSE_SHUTDOWN + 1];
  char last_truncated[32];
} counters_t;

/* Flood replies repeat a 251-byte cycle, so the byte at stream offset j is
 * j % 251 and a receiver can check order and completeness of megabytes. */
#define CYCLE 251u
#define PATTERN_LEN (CYCLE * 261u) /* 65511 bytes: whole cycles */
#define FLOOD_CHUNKS 16u
#define FLOOD_LEN ((size_t)PATTERN_LEN * FLOOD_CHUNKS) /* ~1 MB */
#define MID_LEN ((size_t)60000)
static uint8_t pattern[PATTERN_LEN];

static counters_t *counters_of(fray_conn_t *c) {
  return *(counters_t **)fray_server_data(fray_conn_server(c));
}

static int send_flood(fray_conn_t *c) {
  for (unsigned i = 0; i < FLOOD_CHUNKS; i++) {
    int r = fray_conn_send(c, pattern, sizeof pattern);
    if (r)
      return r;
  }
  return 0;
}

static int cmd_open(fray_conn_t *c, void *st) {
  (void)st;
  counters_of(c)->opens++;
  return 0;
}

static int is_cmd(const uint8_t *d, size_t n, const char *cmd) {
  return n == strlen(cmd) && !memcmp(d, cmd, n);
}

/* "after": a timer's answer, then the close the timer asks for. */
static int cmd_timer_fired(fray_conn_t *c, void *st, void *arg) {
  (void)st;
  int r = fray_conn_send(c, "timer\n", 6);
  if (arg)
    fray_conn_close(c);
  return r;
}

/* Lines are commands: "quit" (flood, "bye", then close), "go" (flood),
 * "mid" (MID_LEN bytes of the flood pattern),
 * "bcast" (flood every other connection, reply "ok"), "b4k" (4096 bytes of
 * the pattern to every other connection, reply "ok"), "boom" (return < 0);
 * anything else is echoed with "\n". */
static int cmd_frame(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)st;
  counters_of(c)->frames++;
  if (is_cmd(d, n, "quit")) {
    int r = send_flood(c);
    if (!r)
      r = fray_conn_send(c, "bye\n", 4);
    fray_conn_close(c);
    return r;
  }
  if (is_cmd(d, n, "go"))
    return send_flood(c);
  if (is_cmd(d, n, "mid")) /* under the high-water mark: reading goes on */
    return fray_conn_send(c, pattern, MID_LEN);
  if (is_cmd(d, n, "bcast")) {
    for (fray_conn_t *o = fray_server_first(fray_conn_server(c)); o; o = fray_server_next(o))
      if (o != c && send_flood(o))
        return -1;
    return fray_conn_send(c, "ok\n", 3);
  }
  if (is_cmd(d, n, "b4k")) {
    for (fray_conn_t *o = fray_server_first(fray_conn_server(c)); o; o = fray_server_next(o))
      if (o != c && fray_conn_send(o, pattern, 4096))
        return -1;
    return fray_conn_send(c, "ok\n", 3);
  }
  if (is_cmd(d, n, "boom"))
    return FRAY_ECALLBACK;
  /* "t150": "timer" 150 ms later; "t150x": then closes. */
  if (n >= 2 && d[0] == 't' && d[1] >= '0' && d[1] <= '9') {
    char num[16] = "";
    memcpy(num, d + 1, n - 1 < sizeof num - 1 ? n - 1 : sizeof num - 1);
    return fray_conn_timer_start(c, strtoull(num, NULL, 10), cmd_timer_fired,
                                 d[n - 1] == 'x' ? (void *)c : NULL, NULL);
  }
  int r = fray_conn_send(c, d, n);
  return r ? r : fray_conn_send(c, "\n", 1);
}

static int cmd_truncated(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)st;
  counters_t *k = counters_of(c);
  k->truncated++;
  snprintf(k->last_truncated, sizeof k->last_truncated, "%.*s", (int)n, (const char *)d);
  return fray_conn_sendf(c, "truncated:%.*s\n", (int)n, (const char *)d);
}

static void cmd_close(fray_conn_t *c, fray_close_reason_t reason, void *st) {
  (void)st;
  counters_t *k = counters_of(c);
  k->closes++;
  if ((int)reason >= 0 && reason <= FRAY_CLOSE_SHUTDOWN)
    k->reasons[reason]++;
}

static void cmd_server_free(fray_server_t *s, void *st) {
  (void)s;
  counters_t *k = *(counters_t **)st;
  if (k)
    k->server_frees++;
}

static const fray_handler_t cmd_handler = {
    .name = "test-cmd",
    .spec = {.mode = FRAY_MODE_LINE, .delim = {.bytes = "\n", .len = 1}},
    .server_size = sizeof(counters_t *),
    .server_free = cmd_server_free,
    .on_open = cmd_open,
    .on_frame = cmd_frame,
    .on_truncated = cmd_truncated,
    .on_close = cmd_close,
};

/* Greets every peer. */
static int greet_open(fray_conn_t *c, void *st) {
  cmd_open(c, st);
  return fray_conn_send(c, "hello\n", 6);
}

static const fray_handler_t greet_handler = {
    .name = "test-greet",
    .spec = {.mode = FRAY_MODE_LINE, .delim = {.bytes = "\n", .len = 1}},
    .server_size = sizeof(counters_t *),
    .server_free = cmd_server_free,
    .on_open = greet_open,
    .on_frame = cmd_frame,
    .on_close = cmd_close,
};

/* Refuses every peer from on_open. */
static int refuse_open(fray_conn_t *c, void *st) {
  cmd_open(c, st);
  return FRAY_ECALLBACK;
}

static const fray_handler_t refuse_handler = {
    .name = "test-refuse",
    .spec = {.mode = FRAY_MODE_LINE, .delim = {.bytes = "\n", .len = 1}},
    .server_size = sizeof(counters_t *),
    .server_free = cmd_server_free,
    .on_open = refuse_open,
    .on_close = cmd_close,
};

static int failing_init(fray_server_t *s, void *st) {
  (void)s;
  (void)st;
  return FRAY_EPROTO;
}

static const fray_handler_t failinit_handler = {
    .name = "test-failinit",
    .spec = {.mode = FRAY_MODE_LINE, .delim = {.bytes = "\n", .len = 1}},
    .server_init = failing_init,
};

/* ---- fixture: loop, server, client sockets -------------------------------- */

#define MAX_CLIENTS 8

typedef struct client {
  int fd;      /* -1 when closed */
  int reading; /* 0: bytes stay in the kernel (a peer that does not read) */
  /* > 0: bytes taken per millisecond at most (a slow reader), by the clock,
   * not per step: on a loaded machine a step takes longer than its 2 ms,
   * and a reader held to so much a step would stall the server's writes
   * for longer than the time it means to take. */
  double read_rate;
  double credit;    /* bytes it may take now */
  double pulled_at; /* when credit was last counted (ms) */
  uint8_t *buf;     /* everything received */
  size_t len, cap;
  int eof; /* recv returned 0 */
  int err; /* errno of a failed recv (ECONNRESET) */
} client_t;

typedef struct fx {
  struct event_base *base;
  fray_event_server_t *es;
  counters_t k;
  client_t cl[MAX_CLIENTS];
  FILE *log;
  int stopped; /* on_stopped calls */
} fx_t;

static void on_stopped(fray_event_server_t *es, void *user_data) {
  fx_t *fx = user_data;
  (void)es;
  fx->stopped++;
}

static int setup(void **state) {
  fx_t *fx = calloc(1, sizeof *fx);
  if (!fx)
    return -1;
  for (int i = 0; i < MAX_CLIENTS; i++)
    fx->cl[i].fd = -1;
  fx->base = event_base_new();
  fx->log = tmpfile();
  if (!fx->base || !fx->log)
    return -1;
  *state = fx;
  return 0;
}

static void client_close(client_t *cl) {
  if (cl->fd >= 0)
    close(cl->fd);
  cl->fd = -1;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  for (int i = 0; i < MAX_CLIENTS; i++) {
    client_close(&fx->cl[i]);
    free(fx->cl[i].buf);
  }
  fray_event_server_free(fx->es);
  if (fx->log)
    fclose(fx->log);
  event_base_free(fx->base);
  free(fx);
  return 0;
}

static void opts_for_test(fx_t *fx, fray_event_opts_t *o) {
  fray_event_opts_init(o);
  o->log = fx->log;
  o->log_level = FRAY_EVENT_LOG_CONNS;
  o->log_prefix = "test";
  o->on_stopped = on_stopped;
  o->user_data = fx;
}

/* Loopback's 64 KB MSS lets Linux grow a socket's send buffer to megabytes,
 * which would swallow the floods meant to back up in the server. Accepted
 * sockets inherit the listening socket's SO_SNDBUF, so the test finds the
 * server's listening socket (the API does not expose it) and shrinks it:
 * what a peer does not read then piles up in the output queue, on any
 * tcp_wmem setting. */
static void shrink_server_sndbuf(unsigned port) {
  for (int fd = 3; fd < 1024; fd++) {
    int listening = 0;
    socklen_t len = sizeof listening;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) || !listening ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) || sa.sin_family != AF_INET ||
        ntohs(sa.sin_port) != port)
      continue;
    int size = 16384;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
    return;
  }
  fail_msg("listening socket for port %u not found", port);
}

static void start(fx_t *fx, const fray_handler_t *h, const fray_event_opts_t *o) {
  char err[256];
  int rc = fray_event_server_new(&fx->es, fx->base, h, "127.0.0.1:0", o, err, sizeof err);
  if (rc)
    fail_msg("fray_event_server_new: %d %s", rc, err);
  *(counters_t **)fray_server_data(fray_event_server_core(fx->es)) = &fx->k;
  assert_int_not_equal(fray_event_server_port(fx->es), 0);
  shrink_server_sndbuf(fray_event_server_port(fx->es));
}

static fray_event_stats_t stats(const fx_t *fx) {
  fray_event_stats_t st;
  fray_event_server_stats(fx->es, &st);
  return st;
}

/* Whole log so far, NUL-terminated, in a static buffer. */
static const char *log_text(fx_t *fx) {
  static char text[16384];
  fflush(fx->log);
  long end = ftell(fx->log);
  rewind(fx->log);
  size_t n = fread(text, 1, sizeof text - 1, fx->log);
  text[n] = 0;
  fseek(fx->log, end, SEEK_SET);
  return text;
}

/* Connects client i. rcvbuf > 0 shrinks its receive buffer (set before
 * connect, so the advertised window is small too): the peer then absorbs
 * little, and what it does not read backs up in the server. */
static client_t *client_connect(fx_t *fx, int i, int rcvbuf) {
  client_t *cl = &fx->cl[i];
  assert_int_equal(cl->fd, -1);
  cl->len = 0;
  cl->eof = cl->err = 0;
  cl->reading = 1;
  cl->read_rate = cl->credit = cl->pulled_at = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  if (rcvbuf > 0)
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)fray_event_server_port(fx->es));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* Loopback connects complete in the kernel (the listen backlog) without
   * the server's loop running, so a blocking connect cannot hang here. */
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  int one = 1;
  assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
  cl->fd = fd;
  return cl;
}

static void client_send(client_t *cl, const void *data, size_t len) {
  ssize_t n = send(cl->fd, data, len, MSG_NOSIGNAL);
  assert_int_equal(n, (ssize_t)len); /* small writes: the kernel takes them whole */
}

static void client_send_str(client_t *cl, const char *s) {
  client_send(cl, s, strlen(s));
}

/* Closes with SO_LINGER 0: the server sees a reset. */
static void client_reset(client_t *cl) {
  struct linger l = {1, 0};
  assert_int_equal(setsockopt(cl->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  client_close(cl);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* What a slow reader may take now: its rate times the time since it was
 * last counted. */
static size_t client_allowance(client_t *cl) {
  if (!cl->read_rate)
    return SIZE_MAX;
  double t = now_ms();
  if (cl->pulled_at)
    cl->credit += (t - cl->pulled_at) * cl->read_rate;
  cl->pulled_at = t;
  return (size_t)cl->credit;
}

static void client_pull(client_t *cl) {
  if (cl->fd < 0 || !cl->reading || cl->eof || cl->err)
    return;
  size_t max_read = client_allowance(cl), taken = 0;
  for (;;) {
    if (taken >= max_read)
      break;
    if (cl->cap - cl->len < 65536) {
      size_t cap = cl->cap ? cl->cap * 2 : 131072;
      uint8_t *p = realloc(cl->buf, cap);
      assert_non_null(p);
      cl->buf = p;
      cl->cap = cap;
    }
    size_t room = cl->cap - cl->len;
    if (room > max_read - taken)
      room = max_read - taken;
    ssize_t n = recv(cl->fd, cl->buf + cl->len, room, 0);
    if (n > 0) {
      cl->len += (size_t)n;
      taken += (size_t)n;
    } else if (n == 0) {
      cl->eof = 1;
      return;
    } else {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        cl->err = errno;
      /* Drained: time spent waiting for the server is no credit, or the
       * reader would catch up in a burst and read faster than its rate. */
      cl->credit = 0;
      return;
    }
  }
  cl->credit -= (double)taken;
}

static int client_done(const client_t *cl) {
  return cl->eof || cl->err;
}

/* 1 when the client received exactly s so far. */
static int client_got(const client_t *cl, const char *s) {
  return cl->len == strlen(s) && !memcmp(cl->buf, s, cl->len);
}

/* Runs the loop for about 2 ms, then reads every reading client. */
static void step(fx_t *fx) {
  struct timeval tv = {0, 2000};
  event_base_loopexit(fx->base, &tv);
  event_base_dispatch(fx->base);
  for (int i = 0; i < MAX_CLIENTS; i++)
    client_pull(&fx->cl[i]);
}

/* Steps the loop until expr holds; fails the test after ms milliseconds. */
#define WAIT_FOR(fx, expr, ms)                                                                     \
  do {                                                                                             \
    double wait_end_ = now_ms() + (ms);                                                            \
    while (!(expr)) {                                                                              \
      if (now_ms() > wait_end_)                                                                    \
        fail_msg("timed out after %d ms waiting for %s", (int)(ms), #expr);                        \
      step(fx);                                                                                    \
    }                                                                                              \
  } while (0)

/* Steps the loop for ms milliseconds (to show that something does NOT
 * happen). */
static void run_for(fx_t *fx, double ms) {
  double end = now_ms() + ms;
  while (now_ms() < end)
    step(fx);
}

/* Bytes [from, from + n) of cl's stream follow the flood pattern. */
static void assert_flood(const client_t *cl, size_t from, size_t n) {
  assert_true(from + n <= cl->len);
  for (size_t j = 0; j < n; j++)
    if (cl->buf[from + j] != (uint8_t)(j % CYCLE))
      fail_msg("flood byte %zu is %u, want %u", j, cl->buf[from + j], (unsigned)(j % CYCLE));
}

/* Frees the server (resetting what is still open) and checks that every
 * on_open had its on_close and server_free ran once. */
static void finish(fx_t *fx) {
  fray_event_server_free(fx->es);
  fx->es = NULL;
  assert_int_equal(fx->k.closes, fx->k.opens);
  assert_int_equal(fx->k.server_frees, 1);
}

/* The first (only) open connection of the handler, or NULL. */
static fray_conn_t *first_conn(fx_t *fx) {
  return fray_server_first(fray_event_server_core(fx->es));
}

/* ---- tests ------------------------------------------------------------------ */

static void test_event_new_rejects_bad_args(void **state) {
  fx_t *fx = *state;
  fray_event_server_t *es = (fray_event_server_t *)&es; /* must be cleared */
  char err[256];
  fray_event_opts_t o;
  opts_for_test(fx, &o);

  assert_int_equal(
      fray_event_server_new(NULL, fx->base, &cmd_handler, "127.0.0.1:0", &o, err, sizeof err),
      FRAY_EINVAL);
  assert_int_equal(
      fray_event_server_new(&es, NULL, &cmd_handler, "127.0.0.1:0", &o, err, sizeof err),
      FRAY_EINVAL);
  assert_null(es);
  assert_int_equal(fray_event_server_new(&es, fx->base, NULL, "127.0.0.1:0", &o, err, sizeof err),
                   FRAY_EINVAL);
  assert_int_equal(fray_event_server_new(&es, fx->base, &cmd_handler, NULL, &o, err, sizeof err),
                   FRAY_EINVAL);

  /* Malformed addresses, each with a reason. Ports past 65535 must not be
   * truncated into some other (valid) port. */
  static const char *const bad[] = {
      "127.0.0.1",
      "127.0.0.1:",
      ":7000",
      "127.0.0.1:70000",
      "127.0.0.1:-1",
      "127.0.0.1:x",
      "[::1]7000",
      "127.0.0.1:2147483648",
      "127.0.0.1:4294967296",
      "127.0.0.1:4294967297",
      "127.0.0.1:99999999999999",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    es = (fray_event_server_t *)&es;
    err[0] = 0;
    int rc = fray_event_server_new(&es, fx->base, &cmd_handler, bad[i], &o, err, sizeof err);
    if (rc != FRAY_EINVAL) {
      fray_event_server_free(es);
      fail_msg("address '%s': got %d (%s), want FRAY_EINVAL", bad[i], rc, err);
    }
    assert_null(es);
    assert_true(strlen(err) > 0);
  }

  /* A port in use: FRAY_EIO with the system's reason. */
  start(fx, &cmd_handler, &o);
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", fray_event_server_port(fx->es));
  es = (fray_event_server_t *)&es;
  assert_int_equal(fray_event_server_new(&es, fx->base, &cmd_handler, addr, &o, err, sizeof err),
                   FRAY_EIO);
  assert_null(es);
  assert_non_null(strstr(err, "in use"));

  /* server_init's code is returned. */
  assert_int_equal(
      fray_event_server_new(&es, fx->base, &failinit_handler, "127.0.0.1:0", &o, err, sizeof err),
      FRAY_EPROTO);
  assert_null(es);

  /* err may be NULL; NULL opts means defaults. */
  assert_int_equal(fray_event_server_new(&es, fx->base, &cmd_handler, "nonsense", NULL, NULL, 0),
                   FRAY_EINVAL);
  fray_event_server_stop(NULL);
  fray_event_server_free(NULL);
  assert_int_equal(fray_event_server_port(NULL), 0);
  finish(fx);
}

/* One line sent in 1-byte writes, each read by the server on its own. */
static void test_event_echo_split_writes(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 0);
  WAIT_FOR(fx, fx->k.opens == 1, 2000);

  const char *line = "hello, split world\r\n";
  size_t n = strlen(line);
  for (size_t i = 0; i < n; i++) {
    client_send(a, line + i, 1);
    /* The server must have read this byte before the next is sent, so
     * every byte is a separate read. */
    WAIT_FOR(fx, stats(fx).bytes_in == i + 1, 2000);
    assert_int_equal(fx->k.frames, i + 1 < n ? 0 : 1);
  }
  WAIT_FOR(fx, a->len >= 19, 2000);
  assert_true(client_got(a, "hello, split world\n"));
  assert_int_equal(fx->k.frames, 1);
  fray_event_stats_t st = stats(fx);
  assert_int_equal(st.accepted, 1);
  assert_int_equal(st.open, 1);
  assert_int_equal(st.bytes_out, 19);

  /* The peer's FIN closes the connection (reason PEER). */
  shutdown(a->fd, SHUT_WR);
  WAIT_FOR(fx, client_done(a) && stats(fx).open == 0, 2000);
  assert_true(a->eof);
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_PEER], 1);
  assert_int_equal(fx->k.truncated, 0);
  finish(fx);
}

/* Three lines in one write give three frames and three replies. */
/* Handler timers on real time: the answer comes after the delay, not
 * before, with the connection otherwise quiet; a timer that closes ends
 * the connection (FIN), and a connection reset before its timer is due
 * never sees it fire. */
static void test_event_handler_timers(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 0), *b = client_connect(fx, 1, 0);
  WAIT_FOR(fx, fx->k.opens == 2, 2000);
  double t0 = now_ms();
  client_send_str(a, "t150\n");
  client_send_str(b, "t100\n");
  run_for(fx, 40);
  assert_int_equal(a->len + b->len, 0);
  WAIT_FOR(fx, client_got(a, "timer\n") && client_got(b, "timer\n"), 3000);
  assert_true(now_ms() - t0 >= 100);
  client_send_str(a, "t20x\n");
  WAIT_FOR(fx, client_done(a), 3000);
  assert_true(client_got(a, "timer\ntimer\n"));
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_LOCAL], 1);
  client_send_str(b, "t60\n");
  WAIT_FOR(fx, fx->k.frames == 4, 2000);
  client_reset(b);
  WAIT_FOR(fx, fx->k.closes == 2, 2000);
  run_for(fx, 100); /* its timer is gone with it: nothing fires, nothing crashes */
  assert_int_equal(fray_server_next_deadline(fray_event_server_core(fx->es)), FRAY_TIMER_NEVER);
  finish(fx);
}

static void test_event_echo_merged_writes(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 0);
  client_t *b = client_connect(fx, 1, 0);
  client_send_str(a, "one\ntwo\r\nthree\n");
  client_send_str(b, "x\n");
  WAIT_FOR(fx, a->len >= 14 && b->len >= 2, 2000);
  assert_true(client_got(a, "one\ntwo\nthree\n"));
  assert_true(client_got(b, "x\n"));
  assert_int_equal(fx->k.frames, 4);
  assert_int_equal(stats(fx).bytes_in, 17);
  assert_int_equal(stats(fx).accepted, 2);
  assert_int_equal(fray_server_count(fray_event_server_core(fx->es)), 2);
  /* A callback returning < 0 resets its peer only. */
  client_send_str(a, "boom\n");
  WAIT_FOR(fx, client_done(a), 2000);
  assert_int_equal(a->err, ECONNRESET);
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_ABORT], 1);
  client_send_str(b, "still\n");
  WAIT_FOR(fx, b->len >= 8, 2000);
  assert_true(client_got(b, "x\nstill\n"));
  finish(fx); /* b is reset by free: on_close SHUTDOWN */
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_SHUTDOWN], 1);
}

/* on_open may greet; an on_open returning < 0 resets the peer at once. */
static void test_event_greeting_and_open_abort(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  start(fx, &greet_handler, &o);
  client_t *a = client_connect(fx, 0, 0);
  WAIT_FOR(fx, a->len >= 6, 2000);
  assert_true(client_got(a, "hello\n"));
  client_send_str(a, "quit\n");
  WAIT_FOR(fx, client_done(a), 3000);
  assert_true(a->eof);
  assert_int_equal(a->len, 6 + FLOOD_LEN + 4);
  finish(fx);

  memset(&fx->k, 0, sizeof fx->k);
  client_close(a);
  start(fx, &refuse_handler, &o);
  client_t *b = client_connect(fx, 1, 0);
  WAIT_FOR(fx, client_done(b), 2000);
  assert_int_equal(b->err, ECONNRESET);
  assert_int_equal(b->len, 0);
  WAIT_FOR(fx, stats(fx).open == 0, 2000);
  assert_int_equal(fx->k.opens, 1);
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_ABORT], 1);
  finish(fx);
}

/* fray_conn_close() after a large reply: the peer gets every byte, in
 * order, then a clean EOF (no reset), even though the reply needs many
 * write callbacks. */
static void test_event_close_after_reply_flushes(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 0);
  client_send_str(a, "quit\nignored after close\n");
  WAIT_FOR(fx, client_done(a), 5000);
  assert_int_equal(a->err, 0);
  assert_true(a->eof);
  assert_int_equal(a->len, FLOOD_LEN + 4);
  assert_flood(a, 0, FLOOD_LEN);
  assert_memory_equal(a->buf + FLOOD_LEN, "bye\n", 4);
  assert_int_equal(fx->k.frames, 1); /* nothing delivered after the close */
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_LOCAL], 1);
  assert_int_equal(stats(fx).bytes_out, FLOOD_LEN + 4);
  /* The server lingers for the peer's FIN, then releases the socket. */
  assert_int_equal(stats(fx).open, 1);
  client_close(a);
  WAIT_FOR(fx, stats(fx).open == 0, 2000);
  finish(fx);
}

/* A reset in the middle of a frame: on_close (RESET) runs once, no
 * truncated frame is reported, nothing crashes, other peers go on. */
static void test_event_peer_reset_mid_frame(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 0);
  client_t *b = client_connect(fx, 1, 0);
  client_send_str(a, "partial");
  WAIT_FOR(fx, stats(fx).bytes_in == 7, 2000);
  client_reset(a);
  WAIT_FOR(fx, stats(fx).open == 1, 2000);
  assert_int_equal(fx->k.closes, 1);
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_RESET], 1);
  assert_int_equal(fx->k.truncated, 0);
  assert_int_equal(fx->k.frames, 0);

  /* A reset while the server still has output queued for the peer. */
  client_t *c = client_connect(fx, 2, 4096);
  c->reading = 0;
  client_send_str(c, "go\n");
  WAIT_FOR(fx, fx->k.frames == 1, 2000);
  run_for(fx, 20);
  client_reset(c);
  WAIT_FOR(fx, stats(fx).open == 1, 2000);
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_RESET], 2);

  client_send_str(b, "alive\n");
  WAIT_FOR(fx, b->len >= 6, 2000);
  assert_true(client_got(b, "alive\n"));
  finish(fx);
}

/* A FIN in the middle of a frame: on_truncated gets the bytes and may
 * reply, the reply is flushed, then the connection closes (PEER). */
static void test_event_peer_eof_mid_frame(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 0);
  client_send_str(a, "done\ntail");
  shutdown(a->fd, SHUT_WR);
  WAIT_FOR(fx, client_done(a), 2000);
  assert_true(a->eof);
  assert_true(client_got(a, "done\ntruncated:tail\n"));
  assert_int_equal(fx->k.truncated, 1);
  assert_string_equal(fx->k.last_truncated, "tail");
  WAIT_FOR(fx, stats(fx).open == 0, 2000);
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_PEER], 1);
  finish(fx);
}

/* max_conns: the extra peer is closed at once (counted and logged); a slot
 * freed by a close is usable again. */
static void test_event_max_conns_refuses(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  o.max_conns = 2;
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 0);
  client_t *b = client_connect(fx, 1, 0);
  WAIT_FOR(fx, stats(fx).accepted == 2, 2000);
  client_t *c = client_connect(fx, 2, 0);
  WAIT_FOR(fx, client_done(c), 2000);
  assert_int_equal(c->len, 0);
  fray_event_stats_t st = stats(fx);
  assert_int_equal(st.refused, 1);
  assert_int_equal(st.accepted, 2);
  assert_int_equal(st.open, 2);
  assert_int_equal(fx->k.opens, 2);
  assert_non_null(strstr(log_text(fx), "refused"));

  client_send_str(a, "a\n");
  client_send_str(b, "b\n");
  WAIT_FOR(fx, a->len >= 2 && b->len >= 2, 2000);
  assert_true(client_got(a, "a\n"));
  assert_true(client_got(b, "b\n"));

  client_close(a);
  WAIT_FOR(fx, stats(fx).open == 1, 2000);
  client_close(c);
  client_t *d = client_connect(fx, 3, 0);
  client_send_str(d, "d\n");
  WAIT_FOR(fx, d->len >= 2, 2000);
  assert_true(client_got(d, "d\n"));
  assert_int_equal(stats(fx).accepted, 3);
  assert_int_equal(stats(fx).refused, 1);
  finish(fx);
}

/* The idle timeout closes a silent peer (FIN, reason LOCAL) and not one
 * that keeps talking. */
static void test_event_idle_timeout(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  /* 300 ms, not less: the talking peer speaks every 40 ms, but on a loaded
   * machine a step of the loop can take a hundred milliseconds and more,
   * and a gap longer than the timeout would make it idle. */
  o.idle_timeout_ms = 300;
  start(fx, &cmd_handler, &o);
  double t0 = now_ms();
  client_t *a = client_connect(fx, 0, 0);
  client_t *b = client_connect(fx, 1, 0);
  size_t sent = 0;
  while (!client_done(a)) {
    if (now_ms() > t0 + 3000)
      fail_msg("idle peer not closed after 3 s");
    client_send_str(b, "x\n");
    sent += 2;
    run_for(fx, 40);
  }
  double took = now_ms() - t0;
  assert_true(a->eof);
  assert_int_equal(a->len, 0);
  assert_true(took >= 290);
  assert_int_equal(stats(fx).timeouts, 1);
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_LOCAL], 1);
  /* The talking peer is still served after several timeout periods. */
  for (int i = 0; i < 12; i++) {
    client_send_str(b, "x\n");
    sent += 2;
    run_for(fx, 40);
  }
  WAIT_FOR(fx, b->len == sent, 2000);
  assert_false(client_done(b));
  assert_int_equal(stats(fx).timeouts, 1);
  client_close(a);
  WAIT_FOR(fx, stats(fx).open == 1, 2000);
  /* Then b falls silent and times out too. */
  WAIT_FOR(fx, client_done(b), 2000);
  assert_true(b->eof);
  assert_int_equal(stats(fx).timeouts, 2);
  finish(fx);
}

/* The idle timeout is about no read AND no write progress: a peer that
 * sends nothing while it slowly downloads a reply for longer than the
 * timeout is not idle, and stays open afterwards. */
static void test_event_idle_timeout_spares_slow_download(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  /* 300 ms, not less: on a loaded machine (sanitizers, parallel tests) a
   * reader that really reads can still stall for tens of milliseconds. */
  o.idle_timeout_ms = 300;
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 4096);
  /* 128 bytes a millisecond: the reply takes over 450 ms, longer than the
   * idle timeout, and it stays under the high-water mark, so reading is
   * never paused meanwhile. */
  a->read_rate = 128;
  double t0 = now_ms();
  client_send_str(a, "mid\n");
  WAIT_FOR(fx, a->len >= MID_LEN || client_done(a), 10000);
  assert_true(now_ms() - t0 > 300);
  assert_int_equal(a->len, MID_LEN);
  assert_flood(a, 0, MID_LEN);
  assert_false(client_done(a));
  assert_int_equal(stats(fx).timeouts, 0);
  client_send_str(a, "ping\n");
  WAIT_FOR(fx, a->len >= MID_LEN + 5 || client_done(a), 2000);
  assert_int_equal(a->len, MID_LEN + 5);
  assert_memory_equal(a->buf + MID_LEN, "ping\n", 5);
  /* Then, silent and with nothing to write, it is idle. */
  WAIT_FOR(fx, client_done(a), 2000);
  assert_true(a->eof);
  assert_int_equal(stats(fx).timeouts, 1);

  /* A peer that stops reading while the tail of a reply waits in the
   * kernel (none left in the server) makes no progress: idle too. */
  client_t *b = client_connect(fx, 1, 4096);
  b->reading = 0;
  static char line[20001];
  memset(line, 'y', sizeof line - 1);
  line[sizeof line - 2] = '\n';
  client_send_str(b, line);
  WAIT_FOR(fx, stats(fx).timeouts == 2, 2000);
  assert_int_equal(fx->k.frames, 3);
  finish(fx);
}

/* A peer that does not read: once its output queue passes the high-water
 * mark the server stops reading it (its next lines stay unread); once it
 * reads, reading resumes and every reply arrives in order. */
static void test_event_backpressure_pauses_reading(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 4096);
  a->reading = 0;
  client_send_str(a, "go\n");
  WAIT_FOR(fx, fx->k.frames == 1, 2000);
  run_for(fx, 30);
  size_t pending = fray_conn_pending(first_conn(fx));
  assert_true(pending > FRAY_OUTQ_DEFAULT_HIGH_WATER);
  assert_true(fray_outq_over_high_water(fray_conn_outq(first_conn(fx))));

  client_send_str(a, "e1\ne2\ne3\n");
  run_for(fx, 60);
  assert_int_equal(fx->k.frames, 1);                            /* not delivered ... */
  assert_int_equal(stats(fx).bytes_in, 3);                      /* ... not even read */
  assert_int_equal(fray_conn_pending(first_conn(fx)), pending); /* stuck */
  assert_int_equal(stats(fx).open, 1);

  a->reading = 1;
  WAIT_FOR(fx, a->len >= FLOOD_LEN + 9, 5000);
  assert_int_equal(fx->k.frames, 4);
  assert_int_equal(a->len, FLOOD_LEN + 9);
  assert_flood(a, 0, FLOOD_LEN);
  assert_memory_equal(a->buf + FLOOD_LEN, "e1\ne2\ne3\n", 9);
  assert_int_equal(stats(fx).dropped, 0);
  finish(fx);
}

/* A peer that does not read while others keep sending to it (broadcast) is
 * reset once more than max_output bytes are queued for it; the sender is
 * not affected. */
static void test_event_slow_peer_dropped(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  o.max_output = FLOOD_LEN * 5 / 2;
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 4096);
  a->reading = 0;
  client_send_str(a, "go\n");
  WAIT_FOR(fx, fx->k.frames == 1, 2000);
  client_t *b = client_connect(fx, 1, 0);
  client_send_str(b, "bcast\n");
  WAIT_FOR(fx, b->len >= 3, 2000);
  run_for(fx, 30);
  /* About 2 MB queued for a: under 2.5 MB, kept. */
  assert_int_equal(stats(fx).dropped, 0);
  assert_int_equal(stats(fx).open, 2);
  assert_true(fray_conn_pending(first_conn(fx)) > FLOOD_LEN);

  client_send_str(b, "bcast\n");
  WAIT_FOR(fx, stats(fx).dropped == 1, 2000);
  WAIT_FOR(fx, stats(fx).open == 1, 2000);
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_ABORT], 1);
  assert_non_null(strstr(log_text(fx), "too slow"));
  WAIT_FOR(fx, b->len >= 6, 2000);
  assert_true(client_got(b, "ok\nok\n"));
  /* a sees the reset once it reads what reached it. */
  a->reading = 1;
  WAIT_FOR(fx, client_done(a), 2000);
  assert_int_equal(a->err, ECONNRESET);
  assert_true(a->len < 2 * FLOOD_LEN);
  finish(fx);
}

/* Many peers that never read, each under its own max_output: together they
 * would hold 200 times max_output. The server-wide budget resets the peers
 * holding the most, keeps the total near the budget, logs it at most once a
 * second, and spares the sender and a peer that reads, which get every
 * byte. */
static void test_event_output_budget_bounds_many_slow_peers(void **state) {
  enum { SLOW = 200, ROUNDS = 40 };
  const size_t budget = (size_t)2 << 20;
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  o.log_level = FRAY_EVENT_LOG_ERRORS;
  o.max_output = (size_t)1 << 20;
  o.max_output_total = budget;
  start(fx, &cmd_handler, &o);
  int slow[SLOW];
  for (int i = 0; i < SLOW; i++) {
    client_t *cl = client_connect(fx, 0, 4096);
    slow[i] = cl->fd;
    cl->fd = -1; /* the fixture's slot is reused; the test closes these */
  }
  client_t *good = client_connect(fx, 1, 0);
  client_t *sender = client_connect(fx, 2, 0);
  WAIT_FOR(fx, stats(fx).open == SLOW + 2, 5000);
  size_t want = 0;
  for (int r = 0; r < ROUNDS; r++) {
    client_send_str(sender, "b4k\n");
    want += 4096;
    WAIT_FOR(fx, sender->len == 3 * (size_t)(r + 1) && good->len == want, 5000);
  }
  fray_event_stats_t st = stats(fx);
  /* Unbounded, the slow peers would hold about SLOW * ROUNDS * 4096 = 32 MB
   * minus what their sockets took. */
  assert_true(st.over_budget > 0);
  assert_true(st.queued <= budget);
  assert_true(st.queued_peak <= budget + (size_t)SLOW * 4096);
  assert_int_equal(st.dropped, 0); /* no peer reached its own max_output */
  for (int r = 0; r < ROUNDS; r++)
    assert_flood(good, (size_t)r * 4096, 4096); /* every round, whole and in order */
  const char *log = log_text(fx);
  const char *line = strstr(log, "output budget exceeded");
  assert_non_null(line);
  assert_null(strstr(line + 1, "output budget exceeded")); /* a second had not passed */
  assert_true(fx->k.reasons[FRAY_CLOSE_ABORT] == (int)st.over_budget);
  for (int i = 0; i < SLOW; i++)
    close(slow[i]);
  finish(fx);
}

/* Out of descriptors, accept fails every time the listener is re-enabled
 * (each ACCEPT_RETRY_MS, 100 ms): the line is logged at most once a second,
 * and the next one counts those held back. */
static void test_event_accept_failures_rate_limited(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  o.log_level = FRAY_EVENT_LOG_ERRORS;
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 0); /* waits in the listen backlog */
  struct rlimit was;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
  int lowest = dup(0); /* the descriptor accept() would get */
  assert_true(lowest >= 0);
  close(lowest);
  struct rlimit low = {.rlim_cur = (rlim_t)lowest, .rlim_max = was.rlim_max};
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  run_for(fx, 1500);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
  const char *log = log_text(fx);
  int lines = 0;
  for (const char *p = log; (p = strstr(p, "accept failed: ")); p++)
    lines++;
  /* 15 failures in 1.5 s; unlimited, each was a line. */
  assert_true(lines >= 1 && lines <= 2);
  if (lines == 2)
    assert_non_null(strstr(log, "more accept failures since the last such line"));
  WAIT_FOR(fx, stats(fx).accepted == 1, 2000);
  client_send_str(a, "hi\n");
  WAIT_FOR(fx, client_got(a, "hi\n"), 2000);
  finish(fx);
}

/* fray_event_server_stop(): no new connections; queued output is flushed
 * to peers that read, then FIN; on_stopped runs once when all are gone. */
static void test_event_stop_flushes(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 4096);
  a->reading = 0;
  client_t *b = client_connect(fx, 1, 0);
  client_send_str(a, "go\n");
  WAIT_FOR(fx, fx->k.frames == 1 && stats(fx).accepted == 2, 2000);
  run_for(fx, 20);
  assert_true(fray_conn_pending(first_conn(fx)) > 0);

  fray_event_server_stop(fx->es);
  fray_event_server_stop(fx->es); /* idempotent */
  client_connect(fx, 2, 0);
  run_for(fx, 30);
  assert_int_equal(stats(fx).accepted, 2); /* not accepted after stop */
  assert_int_equal(fx->stopped, 0);        /* a's output is still queued */
  assert_true(client_done(b) && b->eof);   /* the idle peer got its FIN */

  a->reading = 1;
  WAIT_FOR(fx, client_done(a), 5000);
  assert_true(a->eof);
  assert_int_equal(a->len, FLOOD_LEN);
  assert_flood(a, 0, FLOOD_LEN);
  client_close(a);
  client_close(b);
  WAIT_FOR(fx, fx->stopped == 1, 3000);
  assert_int_equal(stats(fx).open, 0);
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_LOCAL], 2);
  run_for(fx, 20);
  assert_int_equal(fx->stopped, 1);
  finish(fx);
}

/* A peer that never reads does not hold stop forever: it is reset after
 * stop_timeout_ms and on_stopped follows. */
static void test_event_stop_timeout_resets(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  o.stop_timeout_ms = 150;
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 4096);
  a->reading = 0;
  client_send_str(a, "go\n");
  WAIT_FOR(fx, fx->k.frames == 1, 2000);
  double t0 = now_ms();
  fray_event_server_stop(fx->es);
  WAIT_FOR(fx, fx->stopped == 1, 3000);
  assert_true(now_ms() - t0 >= 140);
  assert_int_equal(stats(fx).open, 0);
  assert_int_equal(fx->k.closes, 1);
  a->reading = 1;
  WAIT_FOR(fx, client_done(a), 2000);
  assert_int_equal(a->err, ECONNRESET);
  finish(fx);
}

/* Freeing the server with live connections resets them (on_close
 * SHUTDOWN) and does not call on_stopped. */
static void test_event_free_with_live_conns(void **state) {
  fx_t *fx = *state;
  fray_event_opts_t o;
  opts_for_test(fx, &o);
  start(fx, &cmd_handler, &o);
  client_t *a = client_connect(fx, 0, 0);
  client_t *b = client_connect(fx, 1, 4096);
  b->reading = 0;
  client_send_str(b, "go\n");
  client_send_str(a, "half a line");
  WAIT_FOR(fx, stats(fx).bytes_in == 14, 2000);
  finish(fx);
  assert_int_equal(fx->k.reasons[FRAY_CLOSE_SHUTDOWN], 2);
  assert_int_equal(fx->stopped, 0);
  WAIT_FOR(fx, client_done(a), 2000);
  assert_int_equal(a->err, ECONNRESET);
}

int main(void) {
  /* The server writes to peers that vanish. */
  signal(SIGPIPE, SIG_IGN);
  for (size_t i = 0; i < sizeof pattern; i++)
    pattern[i] = (uint8_t)(i % CYCLE);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_event_new_rejects_bad_args, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_echo_split_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_echo_merged_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_handler_timers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_greeting_and_open_abort, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_close_after_reply_flushes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_peer_reset_mid_frame, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_peer_eof_mid_frame, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_max_conns_refuses, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_idle_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_idle_timeout_spares_slow_download, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_event_backpressure_pauses_reading, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_slow_peer_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_output_budget_bounds_many_slow_peers, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_event_accept_failures_rate_limited, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_stop_flushes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_stop_timeout_resets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_free_with_live_conns, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
