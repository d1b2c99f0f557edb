/* fray proxy: a TCP proxy on libevent that forwards real traffic both ways,
 * re-cuts it on the way (separate sends, optional pacing, merging) so that
 * the server meets the splits fray's schedules produce in the simulator,
 * and records the session as a `.fray` script that replays against the
 * same server.
 *
 * Each direction of a connection is a pipe: bytes read from its source go
 * to the recording first, then either straight into the destination's
 * output (pass-through: evbuffer_add_buffer moves them without a copy) or
 * into a queue from which one piece at a time is handed to the destination
 * once its output has drained, so every piece is its own send(). Reading
 * stops while a pipe holds more than HIGH_WATER bytes, so a slow peer
 * bounds memory instead of growing it.
 *
 * The recording (session/record.h, the recorder import-pcap uses too) is
 * written to its file (through an exclusively created temporary file and a
 * rename, so a reader never sees half a script) at most about once a
 * second while traffic flows, at once when an upstream connection fails,
 * and at exit, SIGINT and SIGTERM included. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "fray/script.h"
#include "core/internal.h"
#include "session/record.h"

#if defined(FRAY_HAVE_EVENT) || defined(FRAY_HAVE_LIBEVENT)
#define PROXY_BUILT 1
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#endif

static void usage(FILE *out) {
  fputs("usage: fray proxy --listen HOST:PORT --upstream HOST:PORT [OPTIONS]\n"
        "\n"
        "Forwards every connection made to --listen to --upstream and back, re-cutting\n"
        "the client's bytes on the way (each piece its own send() with TCP_NODELAY),\n"
        "and records the session as a .fray script: one client per accepted\n"
        "connection (c1, c2, ...), client bytes as `cN > ...`, server bytes as\n"
        "`cN < ...`, with open, half-close (`cN > eof`), server close (`cN < eof`),\n"
        "close and reset. The script replays against the same server:\n"
        "  fray replay --connect HOST:PORT session.fray\n"
        "\n"
        "options:\n"
        "  --listen HOST:PORT    where clients connect; PORT 0 picks a free port\n"
        "  --upstream HOST:PORT  the server\n"
        "  --split S             re-cut client-to-server bytes: none (default),\n"
        "                        bytewise (one byte per send), N (sends of at most N\n"
        "                        bytes), random (each send a random prefix of what\n"
        "                        is waiting, seeded)\n"
        "  --split-both          re-cut server-to-client bytes the same way\n"
        "  --merge               hold bytes for --delay (default 20ms) and send what\n"
        "                        gathered as one piece: consecutive sends merge\n"
        "  --delay T             wait T between two pieces (pacing, so the receiver\n"
        "                        reads them separately; at most 60s)\n"
        "  --seed S              seed of --split random, decimal or 0x hex (default 1)\n"
        "  --record FILE.fray    write the recorded session to FILE (rewritten as\n"
        "                        it grows; complete at exit, SIGINT, SIGTERM and\n"
        "                        upstream failure). Recording stops, with a warning,\n"
        "                        past 256 MiB of data. FILE must be a regular file\n"
        "                        or not exist (links and devices are refused)\n"
        "  --timeout T           give up connecting upstream after T (default 10s)\n"
        "  --max-conns N         at most N connections open at once: one more is\n"
        "                        closed at once, logged (default: no limit)\n"
        "  --exit-after N        stop after N connections have ended (default: run\n"
        "                        until SIGINT/SIGTERM)\n"
        "  --verbose             log every connection opened and closed (stderr)\n"
        "\n"
        "A time T is milliseconds: 20, 20ms or 0.02s. `--connect-timeout S`\n"
        "(seconds) is the older spelling of --timeout.\n"
        "\n"
        "Prints `listening on HOST:PORT` (with the port chosen) on stdout when ready.\n"
        "\n"
        "exit status: 0 stopped by SIGINT/SIGTERM or --exit-after; 2 usage error,\n"
        "address that cannot be listened on (in use, ...) or resolved, recording\n"
        "that cannot be written. An unreachable upstream is reported per connection\n"
        "(the client is closed) and does not stop the proxy.\n",
        out);
}

/* Both argv loops below read with this table. Times are milliseconds
 * (`20`, `20ms`, `0.02s`); --connect-timeout is the older spelling of
 * --timeout, whose bare number meant seconds and still does. */
static const fray_cli_opt_t opts_table[] = {
    {"--listen", FRAY_CLI_LISTEN, 0, 0, NULL},
    {"--upstream", FRAY_CLI_CONNECT, 0, 0, NULL},
    {"--split", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--split-both", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--merge", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--delay", FRAY_CLI_MS, 0, 60000, NULL},
    {"--seed", FRAY_CLI_SEED, 0, 0, NULL},
    {"--record", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--timeout", FRAY_CLI_MS, 1, 3600000, NULL},
    {"--connect-timeout", FRAY_CLI_SECONDS, 1, 3600000, "--timeout"},
    {"--max-conns", FRAY_CLI_COUNT, 1, FRAY_CLI_MANY, NULL},
    {"--exit-after", FRAY_CLI_COUNT, 1, FRAY_CLI_MANY, NULL},
    {"--verbose", FRAY_CLI_FLAG, 0, 0, NULL},
};

#ifdef PROXY_BUILT

#define HIGH_WATER ((size_t)1 << 20) /* bytes a pipe holds before reading stops */
#define DEFAULT_MERGE_MS 20
#define MAX_IO ((size_t)256 << 10) /* largest single read()/write() */
#define SPLIT_NONE 0
#define SPLIT_RANDOM ((size_t)-1)

typedef struct proxy proxy_t;
typedef struct conn conn_t;

/* One direction: src's bytes go to dst. */
typedef struct pipe_dir {
  conn_t *c;
  int dir; /* 0: client to server, 1: server to client */
  struct bufferevent *src, *dst;
  struct evbuffer *q;  /* bytes waiting to be cut into pieces (split/merge) */
  struct evbuffer *rd; /* our own large reads land here (see read_cb) */
  struct event *timer; /* pacing and merging */
  int timer_armed;
  int src_eof; /* src sent FIN */
  int shut;    /* FIN forwarded to dst */
  int recut;   /* this direction is re-cut */
} pipe_dir_t;

struct conn {
  proxy_t *px;
  size_t id;     /* 1-based accept number, for logs */
  size_t client; /* script client index */
  int recording; /* `open` was recorded (upstream connected) */
  int connected;
  char peer[64];
  pipe_dir_t p[2];
  conn_t *prev, *next;
};

struct proxy {
  struct event_base *base;
  struct evconnlistener *lis;
  struct sockaddr_storage up;
  socklen_t uplen;
  const char *up_text;
  size_t split; /* SPLIT_NONE, SPLIT_RANDOM or max piece size */
  int split_both, merge, verbose;
  unsigned delay_ms;
  unsigned connect_timeout_ms;
  uint64_t rng;
  size_t max_conns;  /* open connections at most (0: no limit) */
  size_t exit_after; /* stop once this many have ended (0: never) */
  size_t ended, accepted;
  conn_t *conns;
  /* recording */
  const char *record_path; /* NULL: not recording */
  fray__rec_t rec;
  int rec_stopped; /* the byte limit or an error stopped it */
  int dirty;
  double last_write, write_cost;
  struct event *write_timer, *sigint, *sigterm;
  int status;
};

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void
logmsg(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fray proxy: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- recording ---------------------------------------------------------- */

static void rec_fail(proxy_t *px, int rc) {
  logmsg("recording stopped: %s", fray_strerror(rc));
  px->rec_stopped = 1;
}

static void rec_ctl(proxy_t *px, conn_t *c, fray_step_kind_t kind) {
  if (!px->record_path || px->rec_stopped || !c->recording)
    return;
  int rc = fray__rec_ctl(&px->rec, c->client, kind);
  if (rc)
    rec_fail(px, rc);
  px->dirty = 1;
}

static void rec_data(proxy_t *px, conn_t *c, int dir, struct evbuffer *buf) {
  if (!px->record_path || px->rec_stopped || !c->recording)
    return;
  size_t len = evbuffer_get_length(buf);
  if (!len)
    return;
  if (len > px->rec.max_bytes - px->rec.total) {
    logmsg("recording stopped at %zu bytes (the script limit): the script holds the session "
           "up to here",
           px->rec.total);
    px->rec_stopped = 1;
    return;
  }
  /* The recorder merges consecutive pieces of one connection and direction
   * into one step, so the buffer's chunks can go in one by one. */
  struct evbuffer_iovec v[16];
  struct evbuffer_ptr at;
  evbuffer_ptr_set(buf, &at, 0, EVBUFFER_PTR_SET);
  while (len) {
    int n = evbuffer_peek(buf, (ev_ssize_t)len, &at, v, 16);
    int used = n < 16 ? n : 16;
    for (int k = 0; k < used; k++) {
      size_t take = v[k].iov_len < len ? v[k].iov_len : len;
      int rc = fray__rec_data(&px->rec, c->client, dir, v[k].iov_base, take);
      if (rc) {
        rec_fail(px, rc);
        return;
      }
      len -= take;
      evbuffer_ptr_set(buf, &at, take, EVBUFFER_PTR_ADD);
    }
  }
  px->dirty = 1;
}

/* Writes the script as it stands: connections still open are left open
 * (a valid script; the replay closes them). Returns 0 or -1. */
static int rec_write(proxy_t *px) {
  if (!px->record_path)
    return 0;
  /* Bytes held back to merge with the next piece belong in the file too,
   * also after the recording stopped. */
  if (fray__rec_flush(&px->rec))
    px->rec_stopped = 1;
  double t0 = now();
  char err[512];
  int ok = fray__rec_write_file(fray__rec_script(&px->rec), px->record_path, err, sizeof err) == 0;
  if (!ok)
    logmsg("cannot write the recording: %s", err);
  px->dirty = 0;
  px->last_write = now();
  px->write_cost = px->last_write - t0;
  return ok ? 0 : -1;
}

/* Periodic write: at most once a second, and never more than a tenth of
 * the time, however large the recording gets. */
static void write_timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  proxy_t *px = arg;
  if (px->dirty && now() - px->last_write >= 10 * px->write_cost)
    rec_write(px);
}

/* Gives c a client name and records `open`. Names are c1, c2, ...; past the
 * script's client limit, names of ended connections are reused (a name can
 * be opened again after close). */
static void rec_open(proxy_t *px, conn_t *c) {
  if (!px->record_path || px->rec_stopped)
    return;
  int rc = fray__rec_open(&px->rec, &c->client);
  if (rc == FRAY_ERANGE) {
    logmsg("connection %zu not recorded: more than %zu connections open at once", c->id,
           (size_t)FRAY_SCRIPT_DEFAULT_MAX_CLIENTS);
    return;
  }
  if (rc) {
    rec_fail(px, rc);
    return;
  }
  c->recording = 1;
  px->dirty = 1;
}

/* ---- connections -------------------------------------------------------- */

static void set_nodelay(struct bufferevent *bev) {
  int one = 1;
  evutil_socket_t fd = bufferevent_getfd(bev);
  if (fd >= 0)
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Makes the coming close send RST instead of FIN. */
static void set_reset(struct bufferevent *bev) {
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
  if (fd >= 0)
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static void conn_free(conn_t *c, int reset_client, int reset_server) {
  proxy_t *px = c->px;
  if (c->recording) {
    fray__rec_release(&px->rec, c->client);
    c->recording = 0;
  }
  if (reset_client)
    set_reset(c->p[0].src);
  if (reset_server)
    set_reset(c->p[0].dst);
  for (int k = 0; k < 2; k++) {
    if (c->p[k].timer)
      event_free(c->p[k].timer);
    if (c->p[k].q)
      evbuffer_free(c->p[k].q);
    if (c->p[k].rd)
      evbuffer_free(c->p[k].rd);
  }
  if (c->p[0].src)
    bufferevent_free(c->p[0].src);
  if (c->p[0].dst)
    bufferevent_free(c->p[0].dst);
  if (c->prev)
    c->prev->next = c->next;
  else
    px->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  if (px->verbose)
    logmsg("connection %zu from %s ended", c->id, c->peer);
  free(c);
  px->ended++;
  if (px->exit_after && px->ended >= px->exit_after)
    event_base_loopbreak(px->base);
}

/* Both directions finished (FIN both ways, everything forwarded). */
static void conn_maybe_done(conn_t *c) {
  for (int k = 0; k < 2; k++)
    if (!c->p[k].shut)
      return;
  rec_ctl(c->px, c, FRAY_STEP_CLOSE);
  conn_free(c, 0, 0);
}

static size_t pipe_pending(const pipe_dir_t *p) {
  return evbuffer_get_length(bufferevent_get_output(p->dst)) +
         (p->q ? evbuffer_get_length(p->q) : 0);
}

/* Forwards the FIN once everything before it left. Returns 1 if c was
 * freed. */
static int pipe_check_shut(pipe_dir_t *p) {
  if (!p->src_eof || p->shut || pipe_pending(p) || p->timer_armed)
    return 0;
  p->shut = 1;
  evutil_socket_t fd = bufferevent_getfd(p->dst);
  if (fd >= 0)
    shutdown(fd, SHUT_WR);
  conn_t *c = p->c;
  if (c->p[0].shut && c->p[1].shut) {
    conn_maybe_done(c);
    return 1;
  }
  return 0;
}

/* Hands the next piece of the queue to dst, if dst's output is empty. */
static void pipe_kick(pipe_dir_t *p) {
  proxy_t *px = p->c->px;
  if (p->timer_armed || evbuffer_get_length(bufferevent_get_output(p->dst)))
    return;
  size_t qlen = evbuffer_get_length(p->q);
  if (!qlen)
    return;
  size_t n = qlen;
  if (p->recut) {
    if (px->split == SPLIT_RANDOM)
      n = 1 + (size_t)(fray__rng_next(&px->rng) % qlen);
    else if (px->split != SPLIT_NONE && px->split < qlen)
      n = px->split;
  }
  evbuffer_remove_buffer(p->q, bufferevent_get_output(p->dst), n);
  /* The source was paused when the queue filled up. */
  if (!p->src_eof && evbuffer_get_length(p->q) < HIGH_WATER / 2)
    bufferevent_enable(p->src, EV_READ);
}

static void pipe_timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  pipe_dir_t *p = arg;
  p->timer_armed = 0;
  pipe_kick(p);
  pipe_check_shut(p);
}

static void arm_timer(pipe_dir_t *p, unsigned ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (long)(ms % 1000) * 1000};
  evtimer_add(p->timer, &tv);
  p->timer_armed = 1;
}

/* Records the bytes in `in` and moves them on. Returns 1 when the pipe is
 * full (reading from src is then paused). */
static int pipe_take(pipe_dir_t *p, struct evbuffer *in) {
  proxy_t *px = p->c->px;
  rec_data(px, p->c, p->dir, in);
  if (!p->q) {
    /* Pass-through: move the bytes, stop reading while the peer lags. */
    struct evbuffer *out = bufferevent_get_output(p->dst);
    evbuffer_add_buffer(out, in);
    if (evbuffer_get_length(out) >= HIGH_WATER) {
      bufferevent_disable(p->src, EV_READ);
      return 1;
    }
    return 0;
  }
  int was_empty = evbuffer_get_length(p->q) == 0;
  evbuffer_add_buffer(p->q, in);
  int full = evbuffer_get_length(p->q) >= HIGH_WATER;
  if (full)
    bufferevent_disable(p->src, EV_READ);
  if (px->merge && was_empty && !p->timer_armed)
    arm_timer(p, px->delay_ms ? px->delay_ms : DEFAULT_MERGE_MS);
  else if (!p->timer_armed)
    pipe_kick(p);
  return full;
}

static void event_cb(struct bufferevent *bev, short what, void *arg);

static void read_cb(struct bufferevent *bev, void *arg) {
  conn_t *c = arg;
  pipe_dir_t *p = &c->p[bev == c->p[0].src ? 0 : 1];
  struct evbuffer *in = bufferevent_get_input(bev);
  if (pipe_take(p, in))
    return;
  /* libevent 2.1 reads at most 4 KiB per wakeup (EVBUFFER_MAX_READ), which
   * holds a bulk transfer to a few hundred MB/s: read on here, in large
   * pieces, while the socket has data and the pipe has room. */
  /* The bufferevent's own input buffer is frozen outside libevent's
   * reads, so these go through a buffer of the pipe's. */
  evutil_socket_t fd = bufferevent_getfd(bev);
  in = p->rd;
  for (int round = 0; round < 16; round++) {
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(in, (ev_ssize_t)MAX_IO, &v, 1) < 1)
      return;
    ssize_t n = recv(fd, v.iov_base, v.iov_len, MSG_DONTWAIT);
    if (n > 0) {
      v.iov_len = (size_t)n;
      evbuffer_commit_space(in, &v, 1);
      if (pipe_take(p, in))
        return;
      continue;
    }
    evbuffer_commit_space(in, &v, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return;
    /* EOF or an error, seen here instead of by libevent: report it the way
     * libevent would (the error is consumed by this recv and would not be
     * seen again). event_cb may free c. */
    bufferevent_disable(bev, EV_READ);
    event_cb(bev, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR), c);
    return;
  }
}

/* dst's output drained to its low-water mark. */
static void write_cb(struct bufferevent *bev, void *arg) {
  conn_t *c = arg;
  proxy_t *px = c->px;
  pipe_dir_t *p = &c->p[bev == c->p[0].dst ? 0 : 1];
  if (!p->q) {
    if (!p->src_eof)
      bufferevent_enable(p->src, EV_READ);
  } else if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 && !p->timer_armed) {
    if (px->delay_ms && !px->merge && evbuffer_get_length(p->q))
      arm_timer(p, px->delay_ms);
    else
      pipe_kick(p);
  }
  pipe_check_shut(p);
}

static void up_connected(conn_t *c) {
  proxy_t *px = c->px;
  c->connected = 1;
  set_nodelay(c->p[0].dst);
  bufferevent_set_timeouts(c->p[0].dst, NULL, NULL);
  rec_open(px, c);
  if (px->verbose)
    logmsg("connection %zu from %s connected to %s", c->id, c->peer, px->up_text);
  bufferevent_enable(c->p[0].src, EV_READ);
  bufferevent_enable(c->p[0].dst, EV_READ);
}

static void event_cb(struct bufferevent *bev, short what, void *arg) {
  conn_t *c = arg;
  proxy_t *px = c->px;
  int from_client = bev == c->p[0].src;
  if (what & BEV_EVENT_CONNECTED) {
    up_connected(c);
    return;
  }
  if (!c->connected) {
    int err = EVUTIL_SOCKET_ERROR();
    logmsg("connection %zu from %s: upstream %s unreachable: %s", c->id, c->peer, px->up_text,
           (what & BEV_EVENT_TIMEOUT) ? "connect timed out" : evutil_socket_error_to_string(err));
    conn_free(c, 0, 0);
    rec_write(px);
    return;
  }
  pipe_dir_t *p = &c->p[from_client ? 0 : 1];
  if (what & BEV_EVENT_EOF) {
    /* Bytes that came with the FIN were handed to read_cb already. */
    if (evbuffer_get_length(bufferevent_get_input(bev)))
      read_cb(bev, c);
    p->src_eof = 1;
    bufferevent_disable(bev, EV_READ);
    /* A client's FIN after the server's is just the end: `close` follows
     * once both are forwarded. */
    if (!from_client || !c->p[1].src_eof)
      rec_ctl(px, c, from_client ? FRAY_STEP_SHUTDOWN : FRAY_STEP_EXPECT_EOF);
    if (p->q && px->merge && p->timer_armed)
      return; /* the merge timer forwards the rest, then the FIN */
    if (p->q)
      pipe_kick(p);
    pipe_check_shut(p);
    return;
  }
  if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
    int err = EVUTIL_SOCKET_ERROR();
    if (from_client) {
      /* The client aborted: abort the server side too. */
      if (px->verbose)
        logmsg("connection %zu from %s: client reset (%s)", c->id, c->peer,
               evutil_socket_error_to_string(err));
      rec_ctl(px, c, FRAY_STEP_RESET);
      conn_free(c, 0, 1);
    } else {
      logmsg("connection %zu from %s: upstream %s failed: %s", c->id, c->peer, px->up_text,
             evutil_socket_error_to_string(err));
      /* The script has no "reset by peer" expectation: the server ended
       * the connection. */
      if (!c->p[1].src_eof)
        rec_ctl(px, c, FRAY_STEP_EXPECT_EOF);
      rec_ctl(px, c, FRAY_STEP_CLOSE);
      conn_free(c, 1, 0);
      rec_write(px);
    }
  }
}

static void accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg) {
  (void)lis;
  proxy_t *px = arg;
  /* As in `fray serve`: one connection past --max-conns is closed at once. */
  if (px->max_conns && px->accepted - px->ended >= px->max_conns) {
    char host[INET6_ADDRSTRLEN] = "?", serv[16] = "?";
    getnameinfo(sa, (socklen_t)salen, host, sizeof host, serv, sizeof serv,
                NI_NUMERICHOST | NI_NUMERICSERV);
    logmsg("%s:%s: refused: %zu connections open (--max-conns %zu)", host, serv,
           px->accepted - px->ended, px->max_conns);
    evutil_closesocket(fd);
    return;
  }
  conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    evutil_closesocket(fd);
    return;
  }
  c->px = px;
  c->id = ++px->accepted;
  char host[INET6_ADDRSTRLEN] = "?", serv[16] = "?";
  getnameinfo(sa, (socklen_t)salen, host, sizeof host, serv, sizeof serv,
              NI_NUMERICHOST | NI_NUMERICSERV);
  snprintf(c->peer, sizeof c->peer, "%s:%s", host, serv);
  struct bufferevent *cl = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
  struct bufferevent *up = bufferevent_socket_new(px->base, -1, BEV_OPT_CLOSE_ON_FREE);
  c->next = px->conns;
  if (px->conns)
    px->conns->prev = c;
  px->conns = c;
  c->p[0] = (pipe_dir_t){.c = c, .dir = 0, .src = cl, .dst = up, .recut = 1};
  c->p[1] = (pipe_dir_t){.c = c, .dir = 1, .src = up, .dst = cl, .recut = px->split_both};
  int ok = cl && up;
  int queued = px->split != SPLIT_NONE || px->merge || px->delay_ms;
  for (int k = 0; ok && k < 2; k++) {
    ok = (c->p[k].rd = evbuffer_new()) != NULL;
    if (ok && queued && (k == 0 || px->split_both || px->merge || px->delay_ms)) {
      c->p[k].q = evbuffer_new();
      c->p[k].timer = evtimer_new(px->base, pipe_timer_cb, &c->p[k]);
      ok = c->p[k].q && c->p[k].timer;
    }
  }
  if (!ok) {
    logmsg("connection %zu from %s: out of memory", c->id, c->peer);
    if (!cl)
      evutil_closesocket(fd);
    conn_free(c, 0, 0);
    return;
  }
  for (int k = 0; k < 2; k++) {
    /* Queued pipes hand out the next piece only when the output is empty;
     * pass-through resumes reading when it is half drained. */
    bufferevent_setwatermark(c->p[k].dst, EV_WRITE, c->p[k].q ? 0 : HIGH_WATER / 2, 0);
  }
  /* libevent reads and writes 16 KiB at a time by default: a syscall per
   * 16 KiB caps a bulk transfer far below what loopback carries. */
  for (int k = 0; k < 2; k++) {
    bufferevent_set_max_single_read(c->p[k].src, MAX_IO);
    bufferevent_set_max_single_write(c->p[k].src, MAX_IO);
  }
  bufferevent_setcb(cl, read_cb, write_cb, event_cb, c);
  bufferevent_setcb(up, read_cb, write_cb, event_cb, c);
  set_nodelay(cl);
  /* Nothing is read from the client until upstream is connected, so what it
   * sends early is recorded after its `open`. */
  struct timeval tmo = {.tv_sec = px->connect_timeout_ms / 1000,
                        .tv_usec = (px->connect_timeout_ms % 1000) * 1000};
  bufferevent_set_timeouts(up, NULL, &tmo);
  if (bufferevent_socket_connect(up, (struct sockaddr *)&px->up, (int)px->uplen) < 0) {
    logmsg("connection %zu from %s: upstream %s unreachable: %s", c->id, c->peer, px->up_text,
           evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    conn_free(c, 0, 0);
    rec_write(px);
  }
}

static void accept_error_cb(struct evconnlistener *lis, void *arg) {
  (void)lis;
  (void)arg;
  /* EMFILE and the like: logged, the listener keeps going. */
  logmsg("accept: %s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void signal_cb(evutil_socket_t sig, short what, void *arg) {
  (void)what;
  proxy_t *px = arg;
  if (px->verbose)
    logmsg("stopping on signal %d", (int)sig);
  event_base_loopbreak(px->base);
}

/* ---- options ------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int
bad(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fray_cli_vusage_error("proxy", fmt, ap);
  va_end(ap);
  return FRAY_EXIT_USAGE;
}

/* Resolves HOST:PORT ([V6]:PORT for IPv6) into *ss. Returns 0 or -1 with a
 * message printed. */
static int resolve(const char *what, const char *spec, int passive, struct sockaddr_storage *ss,
                   socklen_t *len) {
  fray_addr_t a;
  if (fray_cli_addr("proxy", what, passive ? "listen" : NULL, spec,
                    passive ? FRAY_ADDR_ANY_PORT : 0, &a))
    return -1;
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0};
  struct addrinfo *ai = NULL;
  int rc = getaddrinfo(a.host, a.port_text, &hints, &ai);
  if (rc || !ai) {
    logmsg("%s: cannot resolve '%s': %s", what, a.host, rc ? gai_strerror(rc) : "no address");
    return -1;
  }
  memcpy(ss, ai->ai_addr, ai->ai_addrlen);
  *len = ai->ai_addrlen;
  freeaddrinfo(ai);
  return 0;
}

static void addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t size) {
  char host[INET6_ADDRSTRLEN] = "?", serv[16] = "?";
  getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
  snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

/* The command line into px and *listen_spec: -1 to go on, or the exit
 * status. */
static int proxy_args(int argc, char **argv, proxy_t *px, const char **listen_spec) {
  fray_cli_args_t args;
  fray_cli_args_init(&args, "proxy", FRAY_CLI_TABLE(opts_table), usage, argc, argv);
  for (fray_cli_arg_t k; (k = fray_cli_next_arg(&args)) != FRAY_CLI_ARG_END;) {
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return fray_cli_stop_status(k);
    if (k == FRAY_CLI_ARG_OPERAND)
      return bad("unexpected argument '%s'", args.val);
    const char *a = args.name, *v = args.val;
    uint64_t n;
    if (!strcmp(a, "--split-both")) {
      px->split_both = 1;
    } else if (!strcmp(a, "--merge")) {
      px->merge = 1;
    } else if (!strcmp(a, "--verbose")) {
      px->verbose = 1;
    } else if (!strcmp(a, "--listen")) {
      *listen_spec = v;
    } else if (!strcmp(a, "--upstream")) {
      px->up_text = v;
    } else if (!strcmp(a, "--record")) {
      px->record_path = v;
    } else if (!strcmp(a, "--split")) {
      if (!strcmp(v, "none"))
        px->split = SPLIT_NONE;
      else if (!strcmp(v, "random"))
        px->split = SPLIT_RANDOM;
      else if (!strcmp(v, "bytewise"))
        px->split = 1;
      else if (!fray_cli_parse_u64(v, &n) && n > 0 && n <= (uint64_t)1 << 30)
        px->split = (size_t)n;
      else
        return bad("--split: expected none, random, bytewise or a size in bytes, got '%s'", v);
    } else if (!strcmp(a, "--delay")) {
      px->delay_ms = (unsigned)args.num;
    } else if (!strcmp(a, "--seed")) {
      px->rng = args.num;
    } else if (!strcmp(a, "--timeout")) {
      px->connect_timeout_ms = (unsigned)args.num;
    } else if (!strcmp(a, "--max-conns")) {
      px->max_conns = (size_t)args.num;
    } else if (!strcmp(a, "--exit-after")) {
      px->exit_after = (size_t)args.num;
    }
  }
  if (!*listen_spec)
    return bad("--listen HOST:PORT is required");
  if (!px->up_text)
    return bad("--upstream HOST:PORT is required");
  return -1;
}

/* Says where the proxy listens: the address with the port actually bound
 * (tests that ask for port 0 read it here). */
static void print_listening(const proxy_t *px) {
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  char text[96];
  getsockname(evconnlistener_get_fd(px->lis), (struct sockaddr *)&bound, &blen);
  addr_text((struct sockaddr *)&bound, blen, text, sizeof text);
  printf("listening on %s\n", text);
  fflush(stdout);
}

/* What outlives the event loop: connections still open end in the
 * recording with `close` (the session as seen so far is complete and
 * replayable), the recording is written, everything is freed. */
static int proxy_finish(proxy_t *px, int status) {
  while (px->conns) {
    conn_t *c = px->conns;
    if (c->connected)
      rec_ctl(px, c, FRAY_STEP_CLOSE);
    size_t ended = px->ended;
    conn_free(c, 0, 0);
    px->ended = ended;
  }
  if (px->record_path && status == FRAY_EXIT_OK && rec_write(px))
    status = FRAY_EXIT_USAGE;
  if (px->record_path && px->verbose)
    logmsg("recorded %zu clients, %zu bytes to %s",
           fray_script_nclients(fray__rec_script(&px->rec)), px->rec.total, px->record_path);
  if (px->lis)
    evconnlistener_free(px->lis);
  if (px->sigint)
    event_free(px->sigint);
  if (px->sigterm)
    event_free(px->sigterm);
  if (px->write_timer)
    event_free(px->write_timer);
  if (px->base)
    event_base_free(px->base);
  fray__rec_free(&px->rec);
  return status;
}

static int run_proxy(int argc, char **argv) {
  const char *listen_spec = NULL;
  proxy_t px;
  memset(&px, 0, sizeof px);
  px.rng = 1;
  px.connect_timeout_ms = 10000;
  int stop = proxy_args(argc, argv, &px, &listen_spec);
  if (stop >= 0)
    return stop;

  struct sockaddr_storage lss;
  socklen_t llen;
  if (resolve("--listen", listen_spec, 1, &lss, &llen) ||
      resolve("--upstream", px.up_text, 0, &px.up, &px.uplen))
    return FRAY_EXIT_USAGE;
  signal(SIGPIPE, SIG_IGN);

  int status = FRAY_EXIT_USAGE;
  if (px.record_path) {
    if (fray__rec_init(&px.rec, NULL, 0)) {
      logmsg("out of memory");
      return FRAY_EXIT_USAGE;
    }
    /* Fail now, not after an hour of traffic, if the file cannot be
     * written. */
    if (rec_write(&px))
      goto done;
  }
  px.base = event_base_new();
  if (!px.base) {
    logmsg("cannot create the event loop");
    goto done;
  }
  px.lis =
      evconnlistener_new_bind(px.base, accept_cb, &px, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                              128, (struct sockaddr *)&lss, (int)llen);
  if (!px.lis) {
    logmsg("cannot listen on %s: %s", listen_spec,
           evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    goto done;
  }
  evconnlistener_set_error_cb(px.lis, accept_error_cb);
  px.sigint = evsignal_new(px.base, SIGINT, signal_cb, &px);
  px.sigterm = evsignal_new(px.base, SIGTERM, signal_cb, &px);
  px.write_timer = event_new(px.base, -1, EV_PERSIST, write_timer_cb, &px);
  if (!px.sigint || !px.sigterm || !px.write_timer) {
    logmsg("out of memory");
    goto done;
  }
  event_add(px.sigint, NULL);
  event_add(px.sigterm, NULL);
  if (px.record_path) {
    struct timeval sec = {.tv_sec = 1, .tv_usec = 0};
    event_add(px.write_timer, &sec);
  }
  print_listening(&px);
  event_base_dispatch(px.base);
  status = FRAY_EXIT_OK;

done:
  return proxy_finish(&px, status);
}
#endif /* PROXY_BUILT */

int fray_cli_proxy(int argc, char **argv) {
#ifdef PROXY_BUILT
  return run_proxy(argc, argv);
#else
  /* Only --help can succeed here; the options are not checked, since none
   * of them could run anyway. */
  fray_cli_args_t args;
  fray_cli_args_init(&args, "proxy", FRAY_CLI_TABLE(opts_table), usage, argc, argv);
  for (fray_cli_arg_t k; (k = fray_cli_next_arg(&args)) != FRAY_CLI_ARG_END;) {
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return fray_cli_stop_status(k);
  }
  fprintf(stderr, "fray proxy: this fray was built without libevent (install libevent-dev and "
                  "reconfigure)\n");
  return FRAY_EXIT_USAGE;
#endif
}
