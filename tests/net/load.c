/* fray-load: load and fault test for `fray serve --handler chat`.
 *
 * Starts the server as a child on a free loopback port, connects --clients
 * chat clients in rooms of --room-size, and for --seconds has every client
 * send a numbered message every --interval-ms. Each receiver checks, per
 * sender, that numbers arrive as 1, 2, 3, ... (no loss, duplicate or
 * reordering, end to end); after the sending stops it waits until every
 * message sent has reached every other member of its room.
 *
 * Meanwhile, fault clients (unless --no-faults): clients that send half a
 * line and reset, clients that send 10 MB lines (must get "ERR line too
 * long" and the server must not buffer them), and clients that join a room
 * flooded with large messages and never read (the server must drop them
 * rather than queue without bound). The server's RSS is sampled throughout
 * and must stay under --max-rss-mb; at the end a fresh client must still get
 * an answer and SIGTERM must stop the server with status 0.
 *
 * Bounded in count and time; stops by itself. Exit 0 pass, 1 fail, 2 usage
 * or setup error. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define BIG_LINE ((size_t)10 << 20)
#define NBIG 2
#define NSINK 4 /* never-reading clients */
#define FLOOD_LINE 1000
#define JOIN_TIMEOUT_S 30
#define DRAIN_TIMEOUT_S 30

typedef struct client {
  struct bufferevent *bev;
  int idx, room, pos;
  int joined;
  uint64_t sent;
  uint64_t *last; /* per room position: last number seen */
} client_t;

static struct {
  struct event_base *base;
  struct sockaddr_in addr;
  int n, room_size, seconds, interval_ms, faults;
  long max_rss_mb;
  client_t *cl;
  int connected, joined, errors;
  int sending, draining;
  uint64_t sent, delivered, expected, lost, dup, reordered, bad;
  uint64_t resets, big_ok, sinks, flood_lines;
  long rss_max_kb;
  pid_t server;
  double t_start, t_end;
  struct event *tick, *fault_tick, *phase, *rss_ev, *drain_ev;
  struct bufferevent *flooder;
  struct bufferevent *big[NBIG];
  int big_answered[NBIG];
  struct bufferevent *sink[NSINK];
  int failed;
  char why[256];
} g;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...) {
  if (!g.failed) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g.why, sizeof g.why, fmt, ap);
    va_end(ap);
  }
  g.failed = 1;
  event_base_loopbreak(g.base);
}

static long server_rss_kb(void) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)g.server);
  FILE *f = fopen(path, "r");
  long kb = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6))
      kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

static struct bufferevent *connect_bev(bufferevent_data_cb rd, bufferevent_event_cb ev, void *arg) {
  struct bufferevent *b = bufferevent_socket_new(g.base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (!b)
    return NULL;
  bufferevent_setcb(b, rd, NULL, ev, arg);
  if (bufferevent_socket_connect(b, (struct sockaddr *)&g.addr, sizeof g.addr)) {
    bufferevent_free(b);
    return NULL;
  }
  int one = 1;
  setsockopt(bufferevent_getfd(b), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bufferevent_enable(b, EV_READ | EV_WRITE);
  return b;
}

/* ---- checked clients ------------------------------------------------------ */

static void client_read(struct bufferevent *b, void *arg) {
  client_t *c = arg;
  struct evbuffer *in = bufferevent_get_input(b);
  char *line;
  size_t len;
  while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF_STRICT))) {
    if (!c->joined) {
      if (!strncmp(line, "OK join", 7)) {
        c->joined = 1;
        g.joined++;
      } else if (strncmp(line, "OK nick", 7) && line[0] != '*') {
        fail("client %d: unexpected reply while joining: %.80s", c->idx, line);
      }
    } else if (line[0] != '*') { /* "* x joined/left" notices are not counted */
      int from;
      unsigned long long seq;
      if (sscanf(line, "c%d: %llu", &from, &seq) != 2 || from < 0 || from >= g.n ||
          g.cl[from].room != c->room || from == c->idx) {
        g.bad++;
        fail("client %d: unexpected line: %.80s", c->idx, line);
      } else {
        uint64_t *last = &c->last[g.cl[from].pos];
        if (seq == *last + 1) {
          g.delivered++;
        } else if (seq <= *last) {
          g.dup++;
        } else {
          g.lost += seq - *last - 1;
          g.reordered++;
        }
        if (seq > *last)
          *last = seq;
      }
    }
    free(line);
  }
}

static void client_event(struct bufferevent *b, short what, void *arg) {
  client_t *c = arg;
  (void)b;
  if (what & BEV_EVENT_CONNECTED) {
    g.connected++;
    return;
  }
  g.errors++;
  fail("client %d: connection %s", c->idx, what & BEV_EVENT_EOF ? "closed by the server" : "error");
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  if (!g.sending)
    return;
  for (int i = 0; i < g.n; i++) {
    client_t *c = &g.cl[i];
    c->sent++;
    g.sent++;
    evbuffer_add_printf(bufferevent_get_output(c->bev), "MSG %llu\r\n",
                        (unsigned long long)c->sent);
  }
}

/* ---- faults ---------------------------------------------------------------- */

static void ignore_read(struct bufferevent *b, void *arg) {
  (void)arg;
  evbuffer_drain(bufferevent_get_input(b), evbuffer_get_length(bufferevent_get_input(b)));
}

static void reset_event(struct bufferevent *b, short what, void *arg) {
  (void)arg;
  if (what & BEV_EVENT_CONNECTED) {
    /* Half a line, then a RST: the server must drop the fragment. */
    evbuffer_add_printf(bufferevent_get_output(b), "NICK f%llu\r\nJOIN #r0\r\nMSG half a li",
                        (unsigned long long)g.resets);
    return;
  }
  /* Errors are ignored: reset_later frees the bufferevent in any case. */
}

static void reset_later(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct bufferevent *b = arg;
  struct linger l = {1, 0};
  setsockopt(bufferevent_getfd(b), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  bufferevent_free(b);
  g.resets++;
}

static void big_read(struct bufferevent *b, void *arg) {
  int k = (int)(intptr_t)arg;
  char *line;
  size_t len;
  while ((line = evbuffer_readln(bufferevent_get_input(b), &len, EVBUFFER_EOL_CRLF_STRICT))) {
    if (!strcmp(line, "ERR line too long") && !g.big_answered[k]) {
      g.big_answered[k] = 1;
      g.big_ok++;
    }
    free(line);
  }
}

static void quiet_event(struct bufferevent *b, short what, void *arg) {
  (void)b;
  (void)what;
  (void)arg;
}

static void flood_write(struct bufferevent *b, void *arg) {
  (void)arg;
  if (!g.sending)
    return;
  /* Large room messages while the output drains: the never-reading members
   * of #sink make the server's queues for them grow. */
  static char text[FLOOD_LINE];
  if (!text[0])
    memset(text, 'z', sizeof text - 1);
  for (int i = 0; i < 16; i++) {
    evbuffer_add_printf(bufferevent_get_output(b), "MSG %s\r\n", text);
    g.flood_lines++;
  }
}

static void on_fault_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  if (!g.sending)
    return;
  struct bufferevent *b = connect_bev(ignore_read, reset_event, NULL);
  if (b) {
    struct timeval tv = {0, 20000};
    event_base_once(g.base, -1, EV_TIMEOUT, reset_later, b, &tv);
  }
}

static void start_faults(void) {
  for (int k = 0; k < NBIG; k++) {
    g.big[k] = connect_bev(big_read, quiet_event, (void *)(intptr_t)k);
    if (!g.big[k])
      continue;
    struct evbuffer *o = bufferevent_get_output(g.big[k]);
    char *line = malloc(BIG_LINE);
    if (!line)
      continue;
    memset(line, 'A' + k, BIG_LINE - 2);
    memcpy(line + BIG_LINE - 2, "\r\n", 2);
    evbuffer_add(o, line, BIG_LINE);
    free(line);
  }
  for (int k = 0; k < NSINK; k++) {
    g.sink[k] = connect_bev(ignore_read, quiet_event, NULL);
    if (!g.sink[k])
      continue;
    /* A small receive buffer, and reading off: the server's output to it
     * backs up at once. */
    int small = 4096;
    setsockopt(bufferevent_getfd(g.sink[k]), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    evbuffer_add_printf(bufferevent_get_output(g.sink[k]), "NICK sink%d\r\nJOIN #sink\r\n", k);
    bufferevent_disable(g.sink[k], EV_READ);
    g.sinks++;
  }
  g.flooder = connect_bev(ignore_read, quiet_event, NULL);
  if (g.flooder) {
    bufferevent_setcb(g.flooder, ignore_read, flood_write, quiet_event, NULL);
    evbuffer_add_printf(bufferevent_get_output(g.flooder), "NICK flooder\r\nJOIN #sink\r\n");
  }
  struct timeval tv = {0, 50000};
  g.fault_tick = event_new(g.base, -1, EV_PERSIST, on_fault_tick, NULL);
  event_add(g.fault_tick, &tv);
}

/* ---- phases ------------------------------------------------------------------ */

static void on_rss(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  long kb = server_rss_kb();
  if (kb > g.rss_max_kb)
    g.rss_max_kb = kb;
  if (kb < 0)
    fail("the server died");
  else if (kb / 1024 > g.max_rss_mb)
    fail("server RSS %ld MB over the bound (--max-rss-mb %ld)", kb / 1024, g.max_rss_mb);
}

static uint64_t expected_total(void) {
  /* Every message reaches the other members of its room. */
  uint64_t t = 0;
  for (int i = 0; i < g.n; i++) {
    int members = g.room_size;
    int first = g.cl[i].room * g.room_size;
    if (first + members > g.n)
      members = g.n - first;
    t += g.cl[i].sent * (uint64_t)(members - 1);
  }
  return t;
}

static void on_drain_check(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  g.expected = expected_total();
  /* Done when every delivery and every answer to a 10 MB line is in. */
  int big_done = !g.faults || g.big_ok >= NBIG;
  if ((g.delivered + g.lost + g.dup >= g.expected && big_done) || now() - g.t_end > DRAIN_TIMEOUT_S)
    event_base_loopexit(g.base, NULL);
}

static void on_phase(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  if (g.draining)
    return;
  if (!g.sending) {
    if (g.joined < g.n) {
      if (now() - g.t_start > JOIN_TIMEOUT_S)
        fail("only %d of %d clients joined within %d s", g.joined, g.n, JOIN_TIMEOUT_S);
      return;
    }
    g.sending = 1;
    g.t_start = now();
    if (g.faults)
      start_faults();
    fprintf(stderr, "fray-load: %d clients joined; sending for %d s\n", g.n, g.seconds);
    return;
  }
  if (!g.draining && now() - g.t_start >= g.seconds) {
    g.sending = 0;
    g.draining = 1;
    g.t_end = now();
    struct timeval tv = {0, 100000};
    g.drain_ev = event_new(g.base, -1, EV_PERSIST, on_drain_check, NULL);
    event_add(g.drain_ev, &tv);
  }
}

/* ---- the server ------------------------------------------------------------ */

static int start_server(const char *fray) {
  int p[2];
  if (pipe(p))
    return -1;
  g.server = fork();
  if (g.server < 0)
    return -1;
  if (g.server == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    execl(fray, fray, "serve", "--handler", "chat", "--listen", "127.0.0.1:0", "--max-output",
          "1048576", (char *)NULL);
    perror("exec fray");
    _exit(127);
  }
  close(p[1]);
  FILE *f = fdopen(p[0], "r");
  char line[128];
  unsigned port = 0;
  /* Reading blocks until the server prints or exits (EOF). */
  if (f && fgets(line, sizeof line, f))
    sscanf(line, "listening on 127.0.0.1:%u", &port);
  if (f)
    fclose(f);
  if (!port)
    return -1;
  memset(&g.addr, 0, sizeof g.addr);
  g.addr.sin_family = AF_INET;
  g.addr.sin_port = htons((uint16_t)port);
  g.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return 0;
}

/* A fresh client after all that must still be answered. */
static int probe(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (fd < 0 || connect(fd, (struct sockaddr *)&g.addr, sizeof g.addr)) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  const char *q = "NICK probe\r\n";
  char buf[64];
  ssize_t n = -1;
  if (write(fd, q, strlen(q)) == (ssize_t)strlen(q))
    n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = 0;
  return strncmp(buf, "OK nick probe\r\n", 15) ? -1 : 0;
}

static int stop_server(void) {
  kill(g.server, SIGTERM);
  for (int i = 0; i < 200; i++) {
    int st;
    pid_t r = waitpid(g.server, &st, WNOHANG);
    if (r == g.server)
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    usleep(50000);
  }
  kill(g.server, SIGKILL);
  waitpid(g.server, NULL, 0);
  return -1;
}

int main(int argc, char **argv) {
  const char *fray = NULL;
  g.n = 1000;
  g.room_size = 10;
  g.seconds = 3;
  g.interval_ms = 50;
  g.faults = 1;
  g.max_rss_mb = 512;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--no-faults")) {
      g.faults = 0;
      continue;
    }
    if (!v) {
      fprintf(stderr, "usage: fray-load --fray PATH [--clients N] [--seconds S] [--room-size K] "
                      "[--interval-ms I] [--max-rss-mb M] [--no-faults]\n");
      return 2;
    }
    i++;
    if (!strcmp(a, "--fray"))
      fray = v;
    else if (!strcmp(a, "--clients"))
      g.n = atoi(v);
    else if (!strcmp(a, "--seconds"))
      g.seconds = atoi(v);
    else if (!strcmp(a, "--room-size"))
      g.room_size = atoi(v);
    else if (!strcmp(a, "--interval-ms"))
      g.interval_ms = atoi(v);
    else if (!strcmp(a, "--max-rss-mb"))
      g.max_rss_mb = atol(v);
    else {
      fprintf(stderr, "fray-load: unknown option %s\n", a);
      return 2;
    }
  }
  if (!fray || g.n < 2 || g.n > 20000 || g.seconds < 1 || g.seconds > 600 || g.room_size < 2 ||
      g.interval_ms < 1) {
    fprintf(stderr,
            "fray-load: bad arguments (--fray PATH is required; 2-20000 clients, 1-600 s)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)g.n + 256) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)g.n * 2 + 256 ? rl.rlim_max : (rlim_t)g.n * 2 + 256;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (start_server(fray)) {
    fprintf(stderr, "fray-load: cannot start %s serve\n", fray);
    return 2;
  }
  g.base = event_base_new();
  g.cl = calloc((size_t)g.n, sizeof *g.cl);
  if (!g.base || !g.cl)
    return 2;
  for (int i = 0; i < g.n; i++) {
    client_t *c = &g.cl[i];
    c->idx = i;
    c->room = i / g.room_size;
    c->pos = i % g.room_size;
    c->last = calloc((size_t)g.room_size, sizeof *c->last);
    c->bev = connect_bev(client_read, client_event, c);
    if (!c->bev || !c->last) {
      fprintf(stderr, "fray-load: cannot create client %d\n", i);
      return 2;
    }
    evbuffer_add_printf(bufferevent_get_output(c->bev), "NICK c%d\r\nJOIN #r%d\r\n", i, c->room);
  }
  g.t_start = now();
  struct timeval tick = {g.interval_ms / 1000, (g.interval_ms % 1000) * 1000};
  struct timeval second = {0, 100000};
  struct timeval half = {0, 500000};
  g.tick = event_new(g.base, -1, EV_PERSIST, on_tick, NULL);
  g.phase = event_new(g.base, -1, EV_PERSIST, on_phase, NULL);
  g.rss_ev = event_new(g.base, -1, EV_PERSIST, on_rss, NULL);
  event_add(g.tick, &tick);
  event_add(g.phase, &second);
  event_add(g.rss_ev, &half);
  double t0 = now();
  event_base_dispatch(g.base);
  double secs = g.t_end > g.t_start ? g.t_end - g.t_start : now() - g.t_start;
  on_rss(-1, 0, NULL);
  g.expected = expected_total();
  uint64_t missing = g.expected > g.delivered + g.dup ? g.expected - g.delivered - g.dup : 0;
  if (!g.failed && (missing || g.lost || g.dup || g.reordered))
    fail("%llu of %llu deliveries missing, %llu lost, %llu duplicated, %llu out of order",
         (unsigned long long)missing, (unsigned long long)g.expected, (unsigned long long)g.lost,
         (unsigned long long)g.dup, (unsigned long long)g.reordered);
  if (!g.failed && g.faults && g.big_ok < NBIG)
    fail("only %llu of %d 10 MB lines were answered with ERR line too long",
         (unsigned long long)g.big_ok, NBIG);
  if (!g.failed && probe())
    fail("the server did not answer a fresh client after the load");
  int st = stop_server();
  if (!g.failed && st != 0)
    fail("fray serve did not stop cleanly on SIGTERM (status %d)", st);
  printf("fray-load: %d clients in rooms of %d, %.1f s sending (%.1f s in all): %llu messages "
         "sent (%.0f/s), %llu deliveries checked (%.0f/s), %llu missing, %llu lost, %llu "
         "duplicated, %llu out of order\n",
         g.n, g.room_size, secs, now() - t0, (unsigned long long)g.sent, g.sent / secs,
         (unsigned long long)g.delivered, g.delivered / (now() - g.t_start),
         (unsigned long long)missing, (unsigned long long)g.lost, (unsigned long long)g.dup,
         (unsigned long long)g.reordered);
  if (g.faults)
    printf("fray-load: faults: %llu resets mid-frame, %llu/%d 10 MB lines refused (ERR line too "
           "long), %llu never-reading clients under %llu flood lines of %d bytes\n",
           (unsigned long long)g.resets, (unsigned long long)g.big_ok, NBIG,
           (unsigned long long)g.sinks, (unsigned long long)g.flood_lines, FLOOD_LINE);
  printf("fray-load: server RSS max %.1f MB (bound %ld MB); %s\n", g.rss_max_kb / 1024.0,
         g.max_rss_mb, g.failed ? "FAIL" : "PASS");
  if (g.failed)
    printf("fray-load: FAIL: %s\n", g.why);
  for (int i = 0; i < g.n; i++) {
    if (g.cl[i].bev)
      bufferevent_free(g.cl[i].bev);
    free(g.cl[i].last);
  }
  for (int k = 0; k < NBIG; k++)
    if (g.big[k])
      bufferevent_free(g.big[k]);
  for (int k = 0; k < NSINK; k++)
    if (g.sink[k])
      bufferevent_free(g.sink[k]);
  if (g.flooder)
    bufferevent_free(g.flooder);
  event_free(g.tick);
  event_free(g.phase);
  event_free(g.rss_ev);
  if (g.fault_tick)
    event_free(g.fault_tick);
  if (g.drain_ev)
    event_free(g.drain_ev);
  free(g.cl);
  event_base_free(g.base);
  return g.failed ? 1 : 0;
}
