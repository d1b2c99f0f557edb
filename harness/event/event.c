/* The libevent driver: fray handlers on TCP. One bufferevent per peer feeds
 * a fray_conn_t (fray/handler.h's driver API, as the simulator does with its
 * fake sockets) and takes what the connection's output queue flushes.
 *
 * Back-pressure has two stages. The output queue is flushed into the
 * bufferevent's output buffer only while that holds less than OUT_CHUNK
 * bytes, so what a slow peer does not take stays in the queue, where the
 * queue's high-water mark sees it and the water callback stops reading from
 * that peer; past opts.max_output the peer is dropped, so memory stays
 * bounded whoever sends to it (a chat room broadcasting to a peer that never
 * reads). That bound is per peer; opts.max_output_total bounds them all: each
 * connection's queued bytes (its output queue plus its bufferevent) are
 * summed as pump() sees them, and when the sum passes the budget the sweep
 * resets the peers holding the most until it is under again. A slow peer is
 * the one holding output, so well-behaved peers, which hold little, are
 * spared.
 *
 * Handlers may send to other connections (broadcast) from any callback, so
 * after input the server arms one "sweep" per event-loop iteration that
 * flushes every connection with pending output. */
#include "fray/event.h"

#include "fray/addr.h"
#include "fray/driver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define OUT_CHUNK ((size_t)65536) /* bytes handed to a bufferevent at most */
#define OUT_LOW ((size_t)16384)   /* its write callback fires below this */
#define DEFAULT_LINGER_MS 2000u
#define DEFAULT_STOP_MS 5000u
#define DEFAULT_BACKLOG 1024
#define ACCEPT_RETRY_MS 100    /* pause after an accept error (out of fds) */
#define LOG_INTERVAL_MS 1000.0 /* repeated log lines: one per interval */

/* A log line that can repeat many times a second (out of descriptors, a
 * flood of slow peers) is printed at most once per LOG_INTERVAL_MS; the
 * next printed line says how many were held back. */
typedef struct ratelog {
  double last_ms; /* when the last line was printed; < 0: never */
  unsigned long held;
} ratelog_t;

typedef struct econn {
  fray_event_server_t *es;
  struct econn *prev, *next;
  struct bufferevent *bev;
  fray_conn_t *c;    /* NULL once the handler's connection is released */
  int paused;        /* reading stopped: the output queue is over its high-water mark */
  int peer_eof;      /* the peer's FIN was read */
  int eof_given;     /* ... and handed to the connection */
  int closing;       /* released: waiting for the bufferevent to empty, then FIN */
  int draining;      /* FIN sent: discarding input until the peer's FIN */
  size_t kernel_out; /* unsent bytes in the kernel at the last idle check */
  size_t counted;    /* queued bytes as last added to es->queued */
  char peer[64];     /* "ADDR:PORT", for log lines and the connection's name */
} econn_t;

struct fray_event_server {
  struct event_base *base;
  fray_server_t *srv;
  struct evconnlistener *lis;
  fray_event_opts_t o;
  econn_t *head;
  size_t nlive;
  unsigned port;
  struct event *sweep;
  int sweep_armed;
  struct event *retry; /* re-enables accepting after an accept error */
  struct event *stop_timer;
  struct event *timers; /* the handler's earliest timer deadline (fray_clock_t arm) */
  int stopping, stopped;
  size_t queued; /* sum of every econn's counted */
  fray_event_stats_t st;
  ratelog_t log_budget, log_accept;
};

static void pump(econn_t *e);
static void econn_destroy(econn_t *e, int rst);

/* ---- logging ------------------------------------------------------------ */

__attribute__((format(printf, 4, 5))) static void elog(const fray_event_server_t *es,
                                                       fray_event_log_t level, const char *peer,
                                                       const char *fmt, ...) {
  if (es->o.log_level < level)
    return;
  FILE *f = es->o.log ? es->o.log : stderr;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  /* One fprintf per line, so lines from several servers do not interleave. */
  if (peer)
    fprintf(f, "%s: %s: %s\n", es->o.log_prefix, peer, line);
  else
    fprintf(f, "%s: %s\n", es->o.log_prefix, line);
  fflush(f);
}

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* 1 when a line may be printed now, with *held set to the lines held back
 * since the last one; 0 when this one is held back (counted). */
static int rate_ok(ratelog_t *r, unsigned long *held) {
  double t = mono_ms();
  if (r->last_ms >= 0 && t - r->last_ms < LOG_INTERVAL_MS) {
    r->held++;
    return 0;
  }
  *held = r->held;
  r->held = 0;
  r->last_ms = t;
  return 1;
}

/* Writes "; N more <what> since the last such line" for a rate-limited
 * line into buf, or "" when none was held back. Returns buf. */
static const char *held_note(char *buf, size_t size, unsigned long held, const char *what) {
  buf[0] = '\0';
  if (held)
    snprintf(buf, size, "; %lu more %s since the last such line", held, what);
  return buf;
}

static void format_peer(const struct sockaddr *sa, char *buf, size_t size) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    snprintf(buf, size, "%s:%u", host, port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    snprintf(buf, size, "[%s]:%u", host, port);
  } else {
    snprintf(buf, size, "unknown-peer");
  }
}

/* ---- sweeping ------------------------------------------------------------ */

static void arm_sweep(fray_event_server_t *es) {
  if (!es->sweep_armed && es->sweep) {
    es->sweep_armed = 1;
    event_active(es->sweep, EV_TIMEOUT, 1);
  }
}

static void check_stopped(fray_event_server_t *es) {
  if (!es->stopping || es->stopped || es->nlive)
    return;
  es->stopped = 1;
  if (es->stop_timer)
    event_del(es->stop_timer);
  elog(es, FRAY_EVENT_LOG_CONNS, NULL, "stopped");
  if (es->o.on_stopped)
    es->o.on_stopped(es, es->o.user_data);
}

/* ---- the output budget ------------------------------------------------------ */

/* Brings e's share of es->queued up to date. */
static void account(econn_t *e) {
  fray_event_server_t *es = e->es;
  size_t now =
      (e->c ? fray_conn_pending(e->c) : 0) + evbuffer_get_length(bufferevent_get_output(e->bev));
  es->queued = es->queued - e->counted + now;
  e->counted = now;
  if (es->queued > es->st.queued_peak)
    es->st.queued_peak = es->queued;
}

/* Resets the peers holding the most output until the total is within
 * max_output_total. Called from the sweep, outside any walk over the
 * connections: resetting one frees it, and its on_close may send to the
 * others. */
static void enforce_budget(fray_event_server_t *es) {
  while (es->queued > es->o.max_output_total) {
    /* Counts go stale as the kernel takes bytes: refresh them all, which
     * also finds the largest. */
    econn_t *worst = NULL;
    for (econn_t *e = es->head; e; e = e->next) {
      account(e);
      if (!worst || e->counted > worst->counted)
        worst = e;
    }
    if (es->queued <= es->o.max_output_total || !worst || !worst->counted)
      return;
    es->st.over_budget++;
    unsigned long held;
    char note[96];
    if (rate_ok(&es->log_budget, &held))
      elog(es, FRAY_EVENT_LOG_ERRORS, worst->peer,
           "output budget exceeded: %zu bytes queued for %zu peers (max %zu); resetting this "
           "peer, which holds the most (%zu bytes); such resets are logged at most once a "
           "second%s",
           es->queued, es->nlive, es->o.max_output_total, worst->counted,
           held_note(note, sizeof note, held, "peers reset"));
    if (worst->c) {
      fray_conn_abort(worst->c);
      pump(worst); /* frees it */
    } else {
      econn_destroy(worst, 1);
    }
  }
}

/* ---- moving bytes ---------------------------------------------------------- */

/* The output queue's writer: appends to the bufferevent while it holds
 * less than OUT_CHUNK, so that a peer that does not read leaves the bytes
 * in the queue, where the high-water mark sees them. */
static fray_ssize_t bev_write(void *ctx, const uint8_t *data, size_t len) {
  econn_t *e = ctx;
  struct evbuffer *out = bufferevent_get_output(e->bev);
  size_t have = evbuffer_get_length(out);
  if (have >= OUT_CHUNK)
    return FRAY_EAGAIN;
  size_t take = len < OUT_CHUNK - have ? len : OUT_CHUNK - have;
  if (evbuffer_add(out, data, take))
    return FRAY_ENOMEM;
  e->es->st.bytes_out += take;
  return (fray_ssize_t)take;
}

static void water(fray_outq_t *q, int over, void *user_data) {
  (void)q;
  econn_t *e = fray_conn_driver_data(user_data);
  if (!e || !e->bev)
    return;
  e->paused = over;
  if (over) {
    bufferevent_disable(e->bev, EV_READ);
  } else {
    if (!e->peer_eof)
      bufferevent_enable(e->bev, EV_READ);
    arm_sweep(e->es); /* input left in the buffer when reading paused */
  }
}

/* Hands buffered input to the connection until it pauses or closes. */
static void feed(econn_t *e) {
  struct evbuffer *in = bufferevent_get_input(e->bev);
  size_t len;
  while (e->c && !e->paused && fray_conn_state(e->c) == FRAY_CONN_OPEN &&
         (len = evbuffer_get_length(in)) > 0) {
    size_t n = evbuffer_get_contiguous_space(in);
    const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)n);
    if (!p)
      break;
    e->es->st.bytes_in += n;
    (void)fray_conn_input(e->c, p, n); /* a closing connection drops it */
    evbuffer_drain(in, n);
  }
  if (!e->c || fray_conn_state(e->c) != FRAY_CONN_OPEN) {
    evbuffer_drain(in, evbuffer_get_length(in));
  } else if (e->peer_eof && !e->eof_given && !evbuffer_get_length(in)) {
    e->eof_given = 1;
    (void)fray_conn_input_eof(e->c);
  }
}

/* After the connection was released with a FIN due: once the bufferevent
 * has written everything, shut the write side down and wait (linger_ms)
 * for the peer's FIN, discarding what it sends meanwhile. Closing at once
 * with unread input would make the kernel reset the connection, and the
 * peer could lose the last bytes it was sent. */
static void finish_close(econn_t *e) {
  if (!e->closing || e->draining || evbuffer_get_length(bufferevent_get_output(e->bev)))
    return;
  if (e->peer_eof) {
    econn_destroy(e, 0);
    return;
  }
  e->draining = 1;
  shutdown(bufferevent_getfd(e->bev), SHUT_WR);
  struct timeval tv = {e->es->o.linger_ms / 1000, (e->es->o.linger_ms % 1000) * 1000};
  bufferevent_set_timeouts(e->bev, &tv, NULL);
  evbuffer_drain(bufferevent_get_input(e->bev), evbuffer_get_length(bufferevent_get_input(e->bev)));
  bufferevent_enable(e->bev, EV_READ);
}

/* Flushes the connection's output and acts on its end. May free e. */
static void pump(econn_t *e) {
  fray_event_server_t *es = e->es;
  fray_conn_t *c = e->c;
  if (!c) {
    account(e);
    finish_close(e);
    return;
  }
  if (fray_conn_pending(c)) {
    fray_ssize_t w = fray_conn_flush(c, bev_write, e);
    if (w < 0 && w != FRAY_EAGAIN) {
      elog(es, FRAY_EVENT_LOG_ERRORS, e->peer, "output failed: %s; resetting",
           fray_strerror((int)w));
      fray_conn_abort(c);
    } else if (fray_conn_pending(c) > es->o.max_output) {
      elog(es, FRAY_EVENT_LOG_ERRORS, e->peer,
           "peer too slow: %zu bytes queued for it (max %zu); resetting", fray_conn_pending(c),
           es->o.max_output);
      es->st.dropped++;
      fray_conn_abort(c);
    }
  }
  account(e);
  if (es->queued > es->o.max_output_total)
    arm_sweep(es); /* which enforces the budget */
  if (!fray_conn_should_close(c))
    return;
  int rst = fray_conn_was_aborted(c);
  e->c = NULL;
  fray_conn_release(c); /* on_close may send to others: sweep */
  arm_sweep(es);
  if (rst) {
    econn_destroy(e, 1);
    return;
  }
  e->closing = 1;
  /* A peer that never reads must not hold a closing connection forever. */
  unsigned ms = es->o.idle_timeout_ms ? es->o.idle_timeout_ms : 5 * es->o.linger_ms;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  bufferevent_set_timeouts(e->bev, NULL, &tv);
  finish_close(e);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg) {
  fray_event_server_t *es = arg;
  (void)fd;
  (void)what;
  es->sweep_armed = 0;
  econn_t *next;
  for (econn_t *e = es->head; e; e = next) {
    next = e->next;
    if (!e->c)
      continue;
    if (!e->paused && evbuffer_get_length(bufferevent_get_input(e->bev)))
      feed(e);
    else if (e->peer_eof && !e->eof_given)
      feed(e);
    /* pump() may free e and, through on_close, release nothing else: next
     * stays valid (other connections are only freed by their own events). */
    if (e->c && (fray_conn_pending(e->c) || fray_conn_should_close(e->c)))
      pump(e);
  }
  if (es->queued > es->o.max_output_total)
    enforce_budget(es);
}

/* ---- bufferevent callbacks --------------------------------------------------- */

/* For the idle timeout: 1 when output is still on its way to the peer with
 * progress. Bytes in the bufferevent are watched by its write timeout (no
 * write progress resets the peer); bytes already in the kernel's send queue
 * count as moving while that queue shrinks between two checks. */
static int output_moving(econn_t *e) {
  if (evbuffer_get_length(bufferevent_get_output(e->bev)))
    return 1;
#ifdef TIOCOUTQ
  int n = 0;
  if (ioctl(bufferevent_getfd(e->bev), TIOCOUTQ, &n) == 0 && n > 0) {
    size_t was = e->kernel_out;
    e->kernel_out = (size_t)n;
    return was == 0 || (size_t)n < was;
  }
#endif
  e->kernel_out = 0;
  return 0;
}

static void on_read(struct bufferevent *bev, void *arg) {
  econn_t *e = arg;
  if (!e->c) {
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
    return;
  }
  feed(e);
  /* The handler may have sent to other connections. */
  if (fray_server_count(e->es->srv) > 1)
    arm_sweep(e->es);
  pump(e);
}

static void on_write(struct bufferevent *bev, void *arg) {
  econn_t *e = arg;
  (void)bev;
  pump(e);
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  econn_t *e = arg;
  fray_event_server_t *es = e->es;
  (void)bev;
  if (what & BEV_EVENT_EOF) {
    e->peer_eof = 1;
    if (!e->c) {
      if (e->draining)
        econn_destroy(e, 0);
      return; /* closing: destroyed once the output is written */
    }
    feed(e);
    arm_sweep(es);
    pump(e);
    return;
  }
  if (what & BEV_EVENT_ERROR) {
    int err = EVUTIL_SOCKET_ERROR();
    int quiet = err == ECONNRESET || err == EPIPE;
    elog(es, quiet ? FRAY_EVENT_LOG_CONNS : FRAY_EVENT_LOG_ERRORS, e->peer, "%s",
         err ? evutil_socket_error_to_string(err) : "socket error");
    if (e->c) {
      fray_conn_input_reset(e->c);
      arm_sweep(es);
      pump(e); /* aborted: frees e */
    } else {
      econn_destroy(e, 0);
    }
    return;
  }
  if (what & BEV_EVENT_TIMEOUT) {
    if (!e->c) {
      econn_destroy(e, !e->draining); /* lingered long enough, or output stuck */
      return;
    }
    if ((what & BEV_EVENT_READING) && output_moving(e)) {
      /* No input, but output is still going out: not idle (a peer slowly
       * downloading a reply). libevent disabled reading on the timeout:
       * resume it, which also restarts the read timeout. */
      if (!e->paused && !e->peer_eof)
        bufferevent_enable(e->bev, EV_READ);
      return;
    }
    es->st.timeouts++;
    if (what & BEV_EVENT_WRITING) {
      elog(es, FRAY_EVENT_LOG_ERRORS, e->peer, "no write progress for %u ms; resetting",
           es->o.idle_timeout_ms);
      fray_conn_abort(e->c);
    } else {
      elog(es, FRAY_EVENT_LOG_CONNS, e->peer, "idle for %u ms; closing", es->o.idle_timeout_ms);
      fray_conn_close(e->c);
    }
    arm_sweep(es);
    pump(e);
  }
}

/* ---- connections ---------------------------------------------------------------- */

static void econn_destroy(econn_t *e, int rst) {
  fray_event_server_t *es = e->es;
  if (e->c) {
    fray_conn_t *c = e->c;
    e->c = NULL;
    fray_conn_release(c);
    arm_sweep(es);
  }
  if (rst) {
    /* SO_LINGER 0: close() sends a RST, as fray_conn_abort() promises. */
    struct linger l = {1, 0};
    setsockopt(bufferevent_getfd(e->bev), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  elog(es, FRAY_EVENT_LOG_CONNS, e->peer, "%s", rst ? "reset" : "closed");
  es->queued -= e->counted;
  bufferevent_free(e->bev);
  if (e->prev)
    e->prev->next = e->next;
  else
    es->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  es->nlive--;
  free(e);
  check_stopped(es);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg) {
  fray_event_server_t *es = arg;
  (void)lis;
  (void)salen;
  char peer[64];
  format_peer(sa, peer, sizeof peer);
  if (es->stopping) {
    evutil_closesocket(fd);
    return;
  }
  if (es->o.max_conns && es->nlive >= es->o.max_conns) {
    es->st.refused++;
    elog(es, FRAY_EVENT_LOG_ERRORS, peer, "refused: %zu connections open (--max-conns %zu)",
         es->nlive, es->o.max_conns);
    evutil_closesocket(fd);
    return;
  }
  /* Replies go out at once: with Nagle's algorithm a reply written in two
   * pieces waits for the peer's delayed ACK (40 ms on Linux). */
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  econn_t *e = calloc(1, sizeof *e);
  struct bufferevent *bev = e ? bufferevent_socket_new(es->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
  if (!bev) {
    elog(es, FRAY_EVENT_LOG_ERRORS, peer, "out of memory; connection dropped");
    free(e);
    evutil_closesocket(fd);
    return;
  }
  e->es = es;
  e->bev = bev;
  memcpy(e->peer, peer, sizeof peer);
  e->next = es->head;
  if (es->head)
    es->head->prev = e;
  es->head = e;
  es->nlive++;
  es->st.accepted++;
  bufferevent_setcb(bev, on_read, on_write, on_event, e);
  bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW, 0);
  if (es->o.idle_timeout_ms) {
    struct timeval tv = {es->o.idle_timeout_ms / 1000, (es->o.idle_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(bev, &tv, &tv);
  }
  elog(es, FRAY_EVENT_LOG_CONNS, peer, "connected");
  fray_conn_t *c;
  if (fray_server_open(es->srv, peer, e, &c)) {
    elog(es, FRAY_EVENT_LOG_ERRORS, peer, "out of memory; connection dropped");
    econn_destroy(e, 1);
    return;
  }
  e->c = c;
  fray_outq_set_water_cb(fray_conn_outq(c), water);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  pump(e); /* a greeting, or on_open aborted */
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
  fray_event_server_t *es = arg;
  (void)fd;
  (void)what;
  if (!es->stopping)
    evconnlistener_enable(es->lis);
}

static void on_accept_error(struct evconnlistener *lis, void *arg) {
  fray_event_server_t *es = arg;
  int err = EVUTIL_SOCKET_ERROR();
  /* Out of descriptors this repeats every ACCEPT_RETRY_MS while it lasts. */
  unsigned long held;
  char note[96];
  if (rate_ok(&es->log_accept, &held))
    elog(es, FRAY_EVENT_LOG_ERRORS, NULL, "accept failed: %s; pausing accepts for %d ms%s",
         evutil_socket_error_to_string(err), ACCEPT_RETRY_MS,
         held_note(note, sizeof note, held, "accept failures"));
  /* Out of descriptors: the pending connection stays readable, so going
   * on at once would spin. */
  evconnlistener_disable(lis);
  struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};
  event_add(es->retry, &tv);
}

/* ---- the server ---------------------------------------------------------------- */

void fray_event_opts_init(fray_event_opts_t *o) {
  if (!o)
    return;
  memset(o, 0, sizeof *o);
  o->log_level = FRAY_EVENT_LOG_ERRORS;
}

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...) {
  if (!err || !errlen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static evutil_socket_t listen_on(const char *addr, int backlog, char *err, size_t errlen, int *rc) {
  fray_addr_t a;
  const char *why;
  if (fray_addr_parse(&a, addr, FRAY_ADDR_ANY_PORT, &why)) {
    set_err(err, errlen, "bad listen address '%s': %s", addr, why);
    *rc = FRAY_EINVAL;
    return -1;
  }
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int g = getaddrinfo(a.host, a.port_text, &hints, &ai);
  if (g) {
    set_err(err, errlen, "cannot resolve '%s': %s", a.host, gai_strerror(g));
    *rc = FRAY_EINVAL;
    return -1;
  }
  evutil_socket_t fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, backlog)) {
    int e = errno;
    set_err(err, errlen, "cannot listen on %s: %s", addr, strerror(e));
    if (fd >= 0)
      close(fd);
    freeaddrinfo(ai);
    *rc = FRAY_EIO;
    return -1;
  }
  freeaddrinfo(ai);
  return fd;
}

/* ---- the handler's timers ------------------------------------------------------ */

/* The handler's clock: milliseconds of CLOCK_MONOTONIC. */
static uint64_t clock_now(void *arg) {
  (void)arg;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The runtime's earliest deadline changed: one evtimer follows it. */
static void clock_arm(uint64_t deadline, void *arg) {
  fray_event_server_t *es = arg;
  if (deadline == FRAY_TIMER_NEVER) {
    event_del(es->timers);
    return;
  }
  /* A millisecond more: the clock counts whole milliseconds, and an
   * evtimer that goes off a fraction early would find nothing due. */
  uint64_t now = clock_now(NULL), ms = deadline > now ? deadline - now + 1 : 0;
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  event_add(es->timers, &tv);
}

/* The evtimer went off: the due timers fire (arm() sets the next), and what
 * their callbacks sent or closed is flushed by the sweep. */
static void on_timers(evutil_socket_t fd, short what, void *arg) {
  fray_event_server_t *es = arg;
  (void)fd;
  (void)what;
  if (fray_server_advance(es->srv, clock_now(NULL)))
    arm_sweep(es);
  /* The evtimer is spent: set it again for what is still pending, even if
   * the earliest deadline did not change (it went off early). */
  uint64_t next = fray_server_next_deadline(es->srv);
  if (next != FRAY_TIMER_NEVER)
    clock_arm(next, es);
}

/* The server's timers go on real time, one evtimer following them: 0, or
 * FRAY_ENOMEM. */
static int start_clock(fray_event_server_t *es) {
  es->timers = evtimer_new(es->base, on_timers, es);
  if (!es->timers)
    return FRAY_ENOMEM;
  fray_server_set_clock(es->srv,
                        &(fray_clock_t){.now = clock_now, .arm = clock_arm, .user_data = es});
  return 0;
}

int fray_event_server_new(fray_event_server_t **out, struct event_base *base,
                          const fray_handler_t *h, const char *addr, const fray_event_opts_t *opts,
                          char *err, size_t errlen) {
  if (err && errlen)
    err[0] = 0;
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  if (!base || !h || !addr) {
    set_err(err, errlen, "invalid argument");
    return FRAY_EINVAL;
  }
  fray_event_server_t *es = calloc(1, sizeof *es);
  if (!es) {
    set_err(err, errlen, "out of memory");
    return FRAY_ENOMEM;
  }
  es->base = base;
  if (opts)
    es->o = *opts;
  else
    fray_event_opts_init(&es->o);
  if (!es->o.max_output)
    es->o.max_output = FRAY_EVENT_DEFAULT_MAX_OUTPUT;
  if (!es->o.max_output_total)
    es->o.max_output_total = FRAY_EVENT_DEFAULT_MAX_OUTPUT_TOTAL;
  es->log_budget.last_ms = es->log_accept.last_ms = -1;
  if (!es->o.linger_ms)
    es->o.linger_ms = DEFAULT_LINGER_MS;
  if (!es->o.stop_timeout_ms)
    es->o.stop_timeout_ms = DEFAULT_STOP_MS;
  if (!es->o.backlog)
    es->o.backlog = DEFAULT_BACKLOG;
  if (!es->o.log_prefix)
    es->o.log_prefix = "fray serve";
  char why[256];
  int rc = fray_handler_validate(h, why, sizeof why);
  if (rc) {
    set_err(err, errlen, "handler '%s': %s", h->name ? h->name : "?", why);
    free(es);
    return rc;
  }
  rc = fray_server_new(&es->srv, h, NULL);
  if (rc) {
    set_err(err, errlen, "handler '%s': server_init failed: %s", h->name ? h->name : "?",
            fray_strerror(rc));
    free(es);
    return rc;
  }
  evutil_socket_t fd = listen_on(addr, es->o.backlog, err, errlen, &rc);
  if (fd < 0) {
    fray_event_server_free(es);
    return rc;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET)
      es->port = ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
      es->port = ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
  }
  es->lis = evconnlistener_new(base, on_accept, es, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                               es->o.backlog, fd);
  es->sweep = event_new(base, -1, 0, on_sweep, es);
  es->retry = evtimer_new(base, on_retry, es);
  if (!es->lis || !es->sweep || !es->retry || start_clock(es)) {
    if (!es->lis)
      close(fd);
    set_err(err, errlen, "out of memory");
    fray_event_server_free(es);
    return FRAY_ENOMEM;
  }
  evconnlistener_set_error_cb(es->lis, on_accept_error);
  *out = es;
  return 0;
}

unsigned fray_event_server_port(const fray_event_server_t *es) {
  return es ? es->port : 0;
}

fray_server_t *fray_event_server_core(fray_event_server_t *es) {
  return es ? es->srv : NULL;
}

static void on_stop_timeout(evutil_socket_t fd, short what, void *arg) {
  fray_event_server_t *es = arg;
  (void)fd;
  (void)what;
  if (es->nlive)
    elog(es, FRAY_EVENT_LOG_ERRORS, NULL,
         "stop: %zu connections still flushing after %u ms; "
         "resetting them",
         es->nlive, es->o.stop_timeout_ms);
  while (es->head)
    econn_destroy(es->head, 1);
}

void fray_event_server_stop(fray_event_server_t *es) {
  if (!es || es->stopping)
    return;
  es->stopping = 1;
  if (es->lis)
    evconnlistener_disable(es->lis);
  event_del(es->retry);
  for (econn_t *e = es->head; e; e = e->next)
    if (e->c)
      fray_conn_close(e->c);
  es->stop_timer = evtimer_new(es->base, on_stop_timeout, es);
  if (es->stop_timer) {
    struct timeval tv = {es->o.stop_timeout_ms / 1000, (es->o.stop_timeout_ms % 1000) * 1000};
    event_add(es->stop_timer, &tv);
  }
  arm_sweep(es);
  check_stopped(es);
}

void fray_event_server_stats(const fray_event_server_t *es, fray_event_stats_t *st) {
  if (!st)
    return;
  memset(st, 0, sizeof *st);
  if (!es)
    return;
  *st = es->st;
  st->open = es->nlive;
  st->queued = es->queued;
}

void fray_event_server_free(fray_event_server_t *es) {
  if (!es)
    return;
  /* No stop callback from here: the caller is tearing down. */
  es->o.on_stopped = NULL;
  while (es->head)
    econn_destroy(es->head, 1);
  if (es->lis)
    evconnlistener_free(es->lis);
  if (es->sweep)
    event_free(es->sweep);
  if (es->retry)
    event_free(es->retry);
  if (es->stop_timer)
    event_free(es->stop_timer);
  fray_server_free(es->srv); /* arm() is not called from here on */
  if (es->timers)
    event_free(es->timers);
  free(es);
}
