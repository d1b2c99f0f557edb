/* bench_serve: `fray serve`'s engine (fray_event_server_t with the echo
 * example handler) against a minimal libevent echo server that frames with
 * evbuffer_readln, in the same run, on loopback: messages/s and MB/s, and
 * their ratio.
 *
 * Each server runs its own event loop in a thread; the load generator (in
 * the main thread) keeps --conns connections with --inflight 64-byte lines
 * each in flight, sending one more line per line echoed. The contenders
 * alternate (--rounds times) and the best round of each counts, so that
 * noise from other processes on a shared machine hurts both alike.
 *
 *   bench_serve [--quick] [--seconds S] [--conns N] [--inflight W] [--rounds R]
 *
 * Exit 0; 1 when a server echoed wrong bytes (never on speed). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "examples.h"
#include "fray/event.h"

#define LINE 64 /* bytes per message, "\r\n" included */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the reference: evbuffer_readln echo ----------------------------------- */

static void ref_read(struct bufferevent *b, void *arg) {
  (void)arg;
  struct evbuffer *in = bufferevent_get_input(b), *out = bufferevent_get_output(b);
  char *line;
  size_t n;
  while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF))) {
    evbuffer_add(out, line, n);
    evbuffer_add(out, "\r\n", 2);
    free(line);
  }
}

/* The reference's connections, freed at the end if still open. */
#define REF_MAX 20000
static struct bufferevent *ref_conns[REF_MAX];
static int ref_n;

static void ref_event(struct bufferevent *b, short what, void *arg) {
  (void)what;
  ref_conns[(intptr_t)arg] = NULL;
  bufferevent_free(b);
}

static void ref_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int sl,
                       void *arg) {
  (void)sa;
  (void)sl;
  (void)arg;
  struct bufferevent *b =
      bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
  if (!b || ref_n == REF_MAX) {
    if (b)
      bufferevent_free(b);
    else
      evutil_closesocket(fd);
    return;
  }
  ref_conns[ref_n] = b;
  bufferevent_setcb(b, ref_read, NULL, ref_event, (void *)(intptr_t)ref_n++);
  bufferevent_enable(b, EV_READ | EV_WRITE);
}

/* ---- server threads -------------------------------------------------------- */

typedef struct server {
  const char *name;
  struct event_base *base;
  fray_event_server_t *es;    /* fray's */
  struct evconnlistener *lis; /* the reference's */
  unsigned port;
  pthread_t th;
} server_t;

static void *server_main(void *arg) {
  server_t *s = arg;
  event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
  return NULL;
}

static int start_fray(server_t *s) {
  s->name = "fray serve (echo)";
  s->base = event_base_new();
  fray_event_opts_t o;
  fray_event_opts_init(&o);
  o.log_level = FRAY_EVENT_LOG_QUIET;
  char err[256];
  if (!s->base || fray_event_server_new(&s->es, s->base, &fray_example_echo, "127.0.0.1:0", &o, err,
                                        sizeof err)) {
    fprintf(stderr, "bench_serve: %s\n", err);
    return -1;
  }
  s->port = fray_event_server_port(s->es);
  return pthread_create(&s->th, NULL, server_main, s);
}

static int start_ref(server_t *s) {
  s->name = "libevent evbuffer_readln echo";
  s->base = event_base_new();
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  s->lis = s->base ? evconnlistener_new_bind(s->base, ref_accept, NULL,
                                             LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                             (struct sockaddr *)&sin, sizeof sin)
                   : NULL;
  if (!s->lis)
    return -1;
  struct sockaddr_in got;
  socklen_t gl = sizeof got;
  getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)&got, &gl);
  s->port = ntohs(got.sin_port);
  return pthread_create(&s->th, NULL, server_main, s);
}

static void stop_server(server_t *s) {
  event_base_loopbreak(s->base);
  pthread_join(s->th, NULL);
  fray_event_server_free(s->es);
  if (s->lis) {
    evconnlistener_free(s->lis);
    for (int i = 0; i < ref_n; i++)
      if (ref_conns[i])
        bufferevent_free(ref_conns[i]);
  }
  event_base_free(s->base);
}

/* ---- the load generator ------------------------------------------------------ */

typedef struct load {
  struct event_base *base;
  uint64_t msgs, bad;
  int stop;
  char line[LINE];
} load_t;

typedef struct lconn {
  load_t *ld;
  struct bufferevent *b;
  size_t partial; /* bytes of the current reply already checked */
} lconn_t;

static void load_read(struct bufferevent *b, void *arg) {
  lconn_t *c = arg;
  load_t *ld = c->ld;
  struct evbuffer *in = bufferevent_get_input(b);
  size_t n = evbuffer_get_length(in);
  /* Check every echoed byte against the line sent, then drain. */
  struct evbuffer_iovec v[8];
  int nv = evbuffer_peek(in, -1, NULL, v, 8);
  size_t seen = 0;
  for (int i = 0; i < nv && i < 8; i++) {
    const char *p = v[i].iov_base;
    for (size_t k = 0; k < v[i].iov_len; k++) {
      if (p[k] != ld->line[c->partial])
        ld->bad++;
      if (++c->partial == LINE) {
        c->partial = 0;
        ld->msgs++;
        if (!ld->stop)
          bufferevent_write(b, ld->line, LINE);
      }
    }
    seen += v[i].iov_len;
  }
  evbuffer_drain(in, seen < n ? seen : n);
}

static void load_event(struct bufferevent *b, short what, void *arg) {
  (void)b;
  (void)arg;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    fprintf(stderr, "bench_serve: a connection ended early\n");
}

static void on_stop(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  load_t *ld = arg;
  ld->stop = 1;
  event_base_loopbreak(ld->base);
}

/* Runs the load against port for secs; returns messages echoed per second. */
static double run_load(unsigned port, double secs, int conns, int inflight, uint64_t *bad) {
  load_t ld = {0};
  memset(ld.line, 'x', LINE - 2);
  memcpy(ld.line + LINE - 2, "\r\n", 2);
  ld.base = event_base_new();
  lconn_t *cs = calloc((size_t)conns, sizeof *cs);
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int i = 0; i < conns; i++) {
    cs[i].ld = &ld;
    cs[i].b = bufferevent_socket_new(ld.base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(cs[i].b, load_read, NULL, load_event, &cs[i]);
    bufferevent_socket_connect(cs[i].b, (struct sockaddr *)&sin, sizeof sin);
    bufferevent_enable(cs[i].b, EV_READ | EV_WRITE);
    for (int k = 0; k < inflight; k++)
      bufferevent_write(cs[i].b, ld.line, LINE);
  }
  struct timeval tv = {(time_t)secs, (suseconds_t)((secs - (double)(time_t)secs) * 1e6)};
  struct event *stop = evtimer_new(ld.base, on_stop, &ld);
  evtimer_add(stop, &tv);
  double t0 = now();
  event_base_dispatch(ld.base);
  double el = now() - t0;
  for (int i = 0; i < conns; i++)
    bufferevent_free(cs[i].b);
  event_free(stop);
  free(cs);
  event_base_free(ld.base);
  *bad += ld.bad;
  return (double)ld.msgs / el;
}

int main(int argc, char **argv) {
  double secs = 2.0;
  int conns = 50, inflight = 16, rounds = 3;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--quick")) {
      secs = 0.3;
      rounds = 1;
    } else if (!strcmp(a, "--seconds")) {
      secs = atof(v), i++;
    } else if (!strcmp(a, "--conns")) {
      conns = atoi(v), i++;
    } else if (!strcmp(a, "--inflight")) {
      inflight = atoi(v), i++;
    } else if (!strcmp(a, "--rounds")) {
      rounds = atoi(v), i++;
    } else {
      fprintf(stderr, "usage: bench_serve [--quick] [--seconds S] [--conns N] [--inflight W] "
                      "[--rounds R]\n");
      return 2;
    }
  }
  if (secs <= 0 || conns < 1 || conns > 10000 || inflight < 1 || rounds < 1) {
    fprintf(stderr, "bench_serve: bad arguments\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  /* event_base_loopbreak() from the main thread must wake the servers'. */
  evthread_use_pthreads();
  server_t srv[2] = {{0}, {0}};
  if (start_fray(&srv[0]) || start_ref(&srv[1])) {
    fprintf(stderr, "bench_serve: cannot start the servers\n");
    return 2;
  }
  double best[2] = {0, 0};
  uint64_t bad = 0;
  for (int r = 0; r < rounds; r++)
    for (int k = 0; k < 2; k++) {
      double m = run_load(srv[k].port, secs, conns, inflight, &bad);
      if (m > best[k])
        best[k] = m;
    }
  printf("bench_serve: %d connections, %d lines of %d bytes in flight each, %.1f s x %d rounds "
         "(best round)\n",
         conns, inflight, LINE, secs, rounds);
  for (int k = 0; k < 2; k++)
    printf("  %-32s %10.0f msgs/s %8.1f MB/s (echoed)\n", srv[k].name, best[k],
           best[k] * LINE / 1e6);
  printf("  ratio fray/reference: %.2f\n", best[1] > 0 ? best[0] / best[1] : 0.0);
  for (int k = 0; k < 2; k++)
    stop_server(&srv[k]);
  if (bad) {
    printf("bench_serve: FAIL: %llu echoed bytes differ from what was sent\n",
           (unsigned long long)bad);
    return 1;
  }
  return 0;
}
