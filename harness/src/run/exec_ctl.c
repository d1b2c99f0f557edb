/* The client side of exact schedules against a server under the shim:
 * lockstep over real TCP, with the shim's reports as the truth about what
 * the server read and wrote (protocol.h, docs/exec.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* recvmmsg */
#endif
#include "run/exec_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "../shim/protocol.h"

enum { END_OPEN = 0, END_FIN, END_RST };

#define BATCH_BYTES 16384u /* a batch's bytes go in one send() on loopback */

typedef struct xclient {
  int fd;         /* -1: not connected */
  uint16_t port;  /* its local port: the server's peer port */
  uint32_t conn;  /* the shim's number, 0 until the accept is reported */
  int end;        /* how the server ended it: END_* */
  int gone;       /* the script closed it: bytes are read and dropped */
  uint64_t rx;    /* bytes received this connection */
  uint64_t wrote; /* bytes the shim saw the server write to it */
  int seen_read;  /* the server read from it (its reader known to the shim) */
  int fin;        /* its FIN went (a shutdown, or with a piece): no news again */
  /* eof-with-data before a close: it hears only what the server wrote
   * before it read the EOF: 1 until the shim says how much that is, 2 once
   * hears holds it */
  int deaf;
  uint64_t hears;
} xclient_t;

struct fray__xctl {
  fray_mem_t mem;
  fray__server_t *srv;
  fray__xctl_cb_t cb;
  unsigned timeout_ms;
  size_t n;
  xclient_t *cl;
  struct pollfd *pfd;
  uint64_t announced; /* bytes announced this server life */
  size_t piece_client;
  uint64_t piece_left;                /* of the piece being read */
  uint64_t unread;                    /* of the pieces in flight, that one's rest included */
  uint64_t plen[FRAY_SHIM_QUEUE_MAX]; /* the pieces in flight, */
  size_t np, pi;                      /* how many, and which one is being read */
  /* A batch: the pieces of one client's send, announced and sent together
   * at the next operation (protocol.h), when the server has one thread. */
  uint8_t *bbuf;
  size_t blen, bcap, nb, bclient;
  uint64_t blens[FRAY_SHIM_QUEUE_MAX];
  uint32_t threads;  /* watched threads, as the last IDLE said */
  uint64_t reading;  /* while pieces are read: since when (ms), else 0 */
  int ended;         /* the server ended or read the end of a connection since */
  int lockstep;      /* never batch (fray__xctl_set_lockstep) */
  size_t eof_client; /* fray__xctl_send_eof(): its client + 1 while its pieces go */
  int eof_closing;
  int idle;            /* quiescent since the last report of activity */
  uint64_t idle_at;    /* when that was reported */
  uint32_t idle_timer; /* when the server's wait times out by itself */
  int blind;           /* the server never goes quiescent: timeouts only */
  int listening;       /* its waits watch the channel: a window is full (IDLE_WINDOW) */
  int stalled;         /* idle with pieces unread that it will not read while a window
                        * stays full */
  pid_t server_pid;    /* the process that listens: the one exact schedules follow */
  pid_t forked;        /* the last process the server forked, 0 if none */
  int inexact, crashed;
  char err[320];
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

__attribute__((format(printf, 2, 3))) static int inexact(fray__xctl_t *x, const char *fmt, ...) {
  if (x->inexact)
    return FRAY__XCTL_INEXACT;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->err, sizeof x->err, fmt, ap);
  va_end(ap);
  x->inexact = 1;
  return FRAY__XCTL_INEXACT;
}

int fray__xctl_new(fray__xctl_t **out, fray__server_t *srv, size_t nclients,
                   const fray__xctl_cb_t *cb, unsigned timeout_ms, const fray_mem_t *mem) {
  fray_mem_t m;
  fray__mem_init(&m, mem);
  *out = NULL;
  fray__xctl_t *x = fray__malloc(&m, sizeof *x);
  if (!x)
    return FRAY_ENOMEM;
  memset(x, 0, sizeof *x);
  x->mem = m;
  x->srv = srv;
  x->server_pid = fray__server_shim_pid(srv);
  x->cb = *cb;
  x->timeout_ms = timeout_ms;
  x->n = nclients;
  x->cl = fray__malloc(&m, (nclients + 1) * sizeof *x->cl);
  x->pfd = fray__malloc(&m, (nclients + 2) * sizeof *x->pfd);
  if (!x->cl || !x->pfd) {
    fray__xctl_free(x);
    return FRAY_ENOMEM;
  }
  for (size_t i = 0; i < nclients; i++)
    x->cl[i] = (xclient_t){.fd = -1};
  *out = x;
  return 0;
}

void fray__xctl_free(fray__xctl_t *x) {
  if (!x)
    return;
  if (x->cl)
    fray__xctl_end(x);
  fray__free(&x->mem, x->cl);
  fray__free(&x->mem, x->pfd);
  fray__free(&x->mem, x->bbuf);
  fray_mem_t m = x->mem;
  fray__free(&m, x);
}

const char *fray__xctl_error(const fray__xctl_t *x) {
  return x->err;
}

int fray__xctl_crashed(const fray__xctl_t *x) {
  return x->crashed;
}

/* ---- what the shim says ----------------------------------------------------------- */

static xclient_t *by_conn(fray__xctl_t *x, uint32_t conn, size_t *idx) {
  for (size_t i = 0; i < x->n; i++)
    if (x->cl[i].conn == conn && x->cl[i].fd >= 0) {
      *idx = i;
      return &x->cl[i];
    }
  return NULL;
}

/* Connections are served by the process that listens, or the run is not
 * what the schedule says: a forked child (fork per connection, pre-fork
 * workers) reads whatever the kernel has. */
static int other_process(fray__xctl_t *x, const fray_shim_msg_t *m, const char *did) {
  if ((pid_t)m->pid == x->server_pid)
    return 0;
  return inexact(x,
                 "process %u%s %s a client connection, not the one that listens (%d): --exec "
                 "follows one process, so fork-per-connection and pre-fork servers cannot run "
                 "exact schedules (test them with fray exec; docs/exec.md)",
                 m->pid, (pid_t)m->pid == x->forked ? " (forked by the server)" : "", did,
                 (int)x->server_pid);
}

/* The server read the EOF of c (or closed it): a client deaf from there on
 * hears what it wrote until then. */
static void heard_eof(xclient_t *c) {
  if (c->deaf == 1) {
    c->deaf = 2;
    c->hears = c->wrote;
  }
}

/* A served read: it must lie inside the piece in flight, and be all of it
 * unless the server itself asked for less. */
static int on_read(fray__xctl_t *x, const fray_shim_msg_t *m) {
  size_t i;
  xclient_t *c = by_conn(x, m->conn, &i);
  if (m->a && other_process(x, m, "read"))
    return FRAY__XCTL_INEXACT;
  if (c && !m->a)
    heard_eof(c);
  if (!c || !m->a)
    return 0;
  c->seen_read = 1;
  if (i != x->piece_client || m->a > x->piece_left)
    return inexact(x, "the server read %llu bytes that no piece announced",
                   (unsigned long long)m->a);
  if (m->a < x->piece_left && m->a < m->b)
    return inexact(x, "the server read %llu of a %llu-byte piece (it asked for %llu)",
                   (unsigned long long)m->a, (unsigned long long)x->piece_left,
                   (unsigned long long)m->b);
  x->piece_left -= m->a;
  x->unread -= m->a;
  if (!x->piece_left && x->pi + 1 < x->np)
    x->piece_left = x->plen[++x->pi];
  return 0;
}

static int on_reset(fray__xctl_t *x, const fray_shim_msg_t *m);

static int on_msg(fray__xctl_t *x, const fray_shim_msg_t *m) {
  size_t i;
  xclient_t *c;
  if (m->type != FRAY_SHIM_MSG_IDLE && m->type != FRAY_SHIM_MSG_HELLO)
    x->idle = x->stalled = 0;
  if (m->type == FRAY_SHIM_MSG_CLOSE || (m->type == FRAY_SHIM_MSG_READ && !m->a))
    x->ended = 1;
  switch (m->type) {
  case FRAY_SHIM_MSG_ACCEPT:
    for (i = 0; i < x->n; i++)
      if (x->cl[i].fd >= 0 && x->cl[i].port == m->a)
        x->cl[i].conn = m->conn;
    return other_process(x, m, "accepted");
  case FRAY_SHIM_MSG_READ:
    return on_read(x, m);
  case FRAY_SHIM_MSG_WRITE:
    if ((c = by_conn(x, m->conn, &i)))
      c->wrote += m->a;
    return c ? other_process(x, m, "wrote to") : 0;
  case FRAY_SHIM_MSG_RESET:
    return on_reset(x, m);
  case FRAY_SHIM_MSG_CLOSE:
    if ((c = by_conn(x, m->conn, &i)))
      heard_eof(c);
    /* What the server will never read of the pieces in flight (held for
     * its turn when it closed) goes nowhere: not waited for. */
    if (c && i == x->piece_client && x->unread) {
      uint64_t gone = m->a < x->unread ? m->a : x->unread;
      x->unread -= gone;
      x->announced -= gone;
      if (!x->unread)
        x->piece_left = 0;
    }
    return 0;
  case FRAY_SHIM_MSG_FORK:
    /* The child is a process the shim cannot see go quiescent: from now
     * on, timeouts. */
    x->forked = (pid_t)m->pid;
    x->blind = 1;
    return 0;
  case FRAY_SHIM_MSG_IDLE:
    x->stalled = (m->conn & FRAY_SHIM_IDLE_STALLED) != 0;
    x->idle = m->a >= x->announced && !x->stalled;
    x->listening = (m->conn & FRAY_SHIM_IDLE_WINDOW) != 0;
    x->threads = m->conn & ~(FRAY_SHIM_IDLE_WINDOW | FRAY_SHIM_IDLE_STALLED);
    x->idle_at = now_ms();
    x->idle_timer = m->timer_ms;
    return 0;
  case FRAY_SHIM_MSG_INEXACT:
    return inexact(x, "the shim could not serve a read as scheduled (%s)",
                   m->a == FRAY_SHIM_INEXACT_PARTIAL ? "the piece did not arrive whole in time"
                                                     : "bytes arrived that no piece announced");
  default:
    return 0;
  }
}

/* ---- the sockets -------------------------------------------------------------------- */

/* A client deaf after its EOF whose bytes are all taken that the shim
 * said the server wrote, while it has not said whether the server read
 * the EOF before the rest: they wait in the socket until it says. */
static int held(const xclient_t *c) {
  return c->deaf == 1 && c->rx >= c->wrote;
}

static void client_read(fray__xctl_t *x, size_t i) {
  xclient_t *c = &x->cl[i];
  uint8_t buf[65536];
  while (!held(c)) {
    size_t want = c->deaf == 1 && c->wrote - c->rx < sizeof buf ? c->wrote - c->rx : sizeof buf;
    ssize_t r = recv(c->fd, buf, want, MSG_DONTWAIT);
    if (r > 0) {
      /* ACK at once: a server writing small pieces (short writes) under
       * Nagle waits for each ACK, which a delayed ACK holds for 40 ms. */
      int one = 1;
      setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
      size_t heard = (size_t)r;
      if (c->deaf == 2)
        heard = c->rx >= c->hears ? 0 : c->hears - c->rx < heard ? c->hears - c->rx : heard;
      c->rx += (uint64_t)r;
      if (!c->gone && heard && x->cb.received)
        x->cb.received(x->cb.ctx, i, buf, heard);
      continue;
    }
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    c->end = r == 0 ? END_FIN : END_RST;
    if (!c->gone && x->cb.ended)
      x->cb.ended(x->cb.ctx, i, c->end == END_RST);
    if (c->gone) {
      close(c->fd);
      c->fd = -1;
    }
    return;
  }
}

/* The server died, or closed the shim's channel. Returns FRAY_EIO. */
static int server_gone(fray__xctl_t *x) {
  char how[96];
  /* The channel closes as the server dies: give the kernel a moment to
   * make it a zombie, so the account says how it died. */
  for (int k = 0; k < 100 && fray__server_alive(x->srv); k++)
    poll(NULL, 0, 2);
  if (!fray__server_alive(x->srv))
    fray__server_describe_exit(x->srv, how, sizeof how);
  else
    snprintf(how, sizeof how, "closed the shim's channel");
  x->crashed = 1;
  snprintf(x->err, sizeof x->err, "the server %s", how);
  return FRAY_EIO;
}

/* The client of the shim's conn does not leave at its RESET: the cut
 * write was only short. 0 or FRAY_EIO. */
static int no_reset(fray__xctl_t *x, uint32_t conn) {
  fray_shim_msg_t m = {.type = FRAY_SHIM_MSG_NORESET, .conn = conn};
  if (send(fray__server_ctl(x->srv), &m, sizeof m, MSG_NOSIGNAL) != (ssize_t)sizeof m)
    return server_gone(x);
  return 0;
}

/* Takes in every report waiting on the channel, a batch per system call;
 * the first non-zero on_msg() result is returned (the rest are taken in
 * all the same). */
static int take_reports(fray__xctl_t *x, int ctl) {
  enum { BATCH = 32 };
  fray_shim_msg_t m[BATCH];
  struct iovec v[BATCH];
  struct mmsghdr mm[BATCH];
  int rc = 0, n;
  do {
    for (size_t k = 0; k < BATCH; k++) {
      v[k] = (struct iovec){&m[k], sizeof m[k]};
      mm[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = &v[k], .msg_iovlen = 1}};
    }
    n = recvmmsg(ctl, mm, BATCH, MSG_DONTWAIT, NULL);
    for (int k = 0; k < n; k++) {
      /* An empty message is the channel's end (the server died): every
       * further call returns a full batch of them, so stop here; pump()
       * sees the hang-up. */
      if (mm[k].msg_len == 0)
        return rc;
      if (mm[k].msg_len != sizeof m[k])
        continue;
      if (!rc)
        rc = on_msg(x, &m[k]);
      else if (m[k].type == FRAY_SHIM_MSG_RESET)
        (void)no_reset(x, m[k].conn); /* the run is lost, but the server waits */
    }
  } while (n == BATCH);
  return rc;
}

/* Waits up to ms for the shim's messages and the server's bytes and takes
 * them in. Returns 0, FRAY__XCTL_INEXACT, or FRAY_EIO when the server died
 * (x->crashed; the error says how). */
/* While the server reads pieces, what it writes can wait in the sockets
 * until it is idle: fray wakes for its IDLE alone, not for its answer
 * first. The sockets are watched again as soon as the server is idle, a
 * connection ends, the server is one the shim cannot see idle, or after
 * 5 ms (a server that stops reading until its output is taken). */
static int watch_sockets(const fray__xctl_t *x) {
  return !x->reading || x->idle || x->ended || x->blind || now_ms() >= x->reading + 5;
}

static int pump(fray__xctl_t *x, int ms) {
  size_t np = 0;
  int ctl = fray__server_ctl(x->srv);
  x->pfd[np++] = (struct pollfd){.fd = ctl, .events = POLLIN};
  for (size_t i = 0; i < x->n && watch_sockets(x); i++)
    if (x->cl[i].fd >= 0 && x->cl[i].end == END_OPEN && !held(&x->cl[i]))
      x->pfd[np++] = (struct pollfd){.fd = x->cl[i].fd, .events = POLLIN};
  if (np == 1 && x->reading && ms > 5)
    ms = 5; /* then with the sockets */
  int r = poll(x->pfd, (nfds_t)np, ms);
  if (r < 0 && errno != EINTR)
    return snprintf(x->err, sizeof x->err, "poll: %s", strerror(errno)), FRAY_EIO;
  /* Only what poll found ready is read: a run makes thousands of these
   * passes, and a read that finds nothing is a wasted system call. */
  for (size_t k = 1; r > 0 && k < np; k++)
    if (x->pfd[k].revents)
      for (size_t i = 0; i < x->n; i++)
        if (x->cl[i].fd == x->pfd[k].fd)
          client_read(x, i);
  int rc = 0;
  if (r > 0 && (x->pfd[0].revents & POLLIN))
    rc = take_reports(x, ctl);
  if (rc)
    return rc;
  /* The channel hangs up when the server dies; a quiet wait checks too
   * (a child of the server may hold the channel open). */
  if ((x->pfd[0].revents & (POLLHUP | POLLERR)) || (r == 0 && !fray__server_alive(x->srv)))
    return server_gone(x);
  return 0;
}

/* Quiescent: the shim said so after the last activity, no piece is in
 * flight, and every byte it saw written has arrived. */
static int quiescent(const fray__xctl_t *x) {
  if (!x->idle || x->unread)
    return 0;
  for (size_t i = 0; i < x->n; i++)
    if (x->cl[i].fd >= 0 && x->cl[i].end == END_OPEN && x->cl[i].rx < x->cl[i].wrote)
      return 0;
  return 1;
}

/* Quiescent and settled: a server whose wait times out by itself (timers:
 * redis closes a connection on its next tick) may still act then, so an
 * expectation is judged only once that timeout has passed too. */
static int settled(const fray__xctl_t *x) {
  return quiescent(x) &&
         (x->idle_timer == FRAY_SHIM_NO_TIMER || now_ms() >= x->idle_at + x->idle_timer + 2);
}

/* Pumps until done(ctx, client) holds, or (use_idle) the server is
 * quiescent (use_idle 2: settled) or has ended that client's connection,
 * or ms pass. */
static int pump_until(fray__xctl_t *x, unsigned ms, int (*done)(void *, size_t), void *ctx,
                      size_t client, int use_idle) {
  uint64_t deadline = now_ms() + ms;
  for (int pumped = 0;; pumped = 1) {
    if (done && done(ctx, client))
      return 0;
    if (use_idle && ((!x->blind && (use_idle == 2 ? settled(x) : quiescent(x))) ||
                     (client < x->n && x->cl[client].end != END_OPEN)))
      /* What the server sent before it went idle (a last answer, its FIN)
       * is already in our sockets, though the idle message may have been
       * taken in first: take that in too before anything is judged. */
      return pump(x, 0);
    uint64_t t = now_ms();
    if (t >= deadline && pumped)
      return 0; /* a zero wait still takes in what is there */
    uint64_t wake = deadline - t < 50 ? deadline - t : 50;
    if (use_idle == 2 && x->idle && x->idle_timer != FRAY_SHIM_NO_TIMER &&
        x->idle_at + x->idle_timer + 2 > t && x->idle_at + x->idle_timer + 2 - t < wake)
      wake = x->idle_at + x->idle_timer + 2 - t; /* when the server's timer fires */
    int rc = pump(x, t >= deadline ? 0 : (int)wake);
    if (rc)
      return rc;
  }
}

/* ---- the operations ----------------------------------------------------------------- */

void fray__xctl_wfault(const fray_sched_t *sched, uint64_t *a, uint64_t *b) {
  unsigned f = sched ? sched->faults : 0;
  int sw = sched && sched->short_writes;
  *a = (sw ? 1u : 0u) | (f & FRAY_FAULT_READ_GAP ? 2u : 0u);
  *b = sw ? sched->write_seed : 0;
  if (f & FRAY_FAULT_RESET_MID_WRITE)
    *a |= 4u | (uint64_t)(uint32_t)(sched->fault_seed ^ sched->fault_seed >> 32) << 32;
  *a |= (uint64_t)(fray_sched_window(sched) & 0xffffff) << 8;
}

int fray__xctl_begin(fray__xctl_t *x, const fray_sched_t *sched) {
  x->inexact = x->crashed = 0;
  x->err[0] = 0;
  x->piece_left = x->unread = 0;
  x->nb = x->blen = 0;
  x->eof_client = 0;
  fray_shim_msg_t m = {.type = FRAY_SHIM_MSG_WFAULT};
  fray__xctl_wfault(sched, &m.a, &m.b);
  x->listening = 0;
  if (send(fray__server_ctl(x->srv), &m, sizeof m, MSG_NOSIGNAL) != (ssize_t)sizeof m)
    return server_gone(x);
  return 0;
}

static int accepted(void *ctx, size_t i) {
  return ((fray__xctl_t *)ctx)->cl[i].conn != 0;
}

int fray__xctl_open(fray__xctl_t *x, size_t i) {
  xclient_t *c = &x->cl[i];
  int rc = fray__xctl_close(x, i, 0);
  if (rc)
    return rc;
  *c = (xclient_t){.fd = -1};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                          .sin_port = htons((uint16_t)fray__server_port(x->srv))};
  socklen_t al = sizeof a;
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) ||
      getsockname(fd, (struct sockaddr *)&a, &al)) {
    snprintf(x->err, sizeof x->err, "cannot connect to the server on 127.0.0.1:%d: %s",
             fray__server_port(x->srv), strerror(errno));
    if (fd >= 0)
      close(fd);
    return FRAY_ECONNREFUSED;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->port = ntohs(a.sin_port);
  x->idle = 0;
  rc = pump_until(x, x->timeout_ms, accepted, x, i, 0);
  if (!rc && !c->conn)
    return inexact(x, "the server did not accept a connection within %u ms", x->timeout_ms);
  /* What the server does on a new connection (a greeting) is done before
   * the script goes on, as the simulator's open is. */
  return rc ? rc : pump_until(x, x->blind ? 20 : x->timeout_ms, NULL, NULL, x->n, 1);
}

/* The rest of the piece in flight will never be read (its connection
 * ended): the shim forgets it too, so it leaves the count that quiescence
 * is measured against. */
static void abandon(fray__xctl_t *x) {
  x->announced -= x->unread;
  x->piece_left = x->unread = 0;
}

/* Takes what the shim said the server wrote to client i, all of it
 * arrived (the shim's reports come after the writes). */
static void take_written(fray__xctl_t *x, size_t i) {
  xclient_t *c = &x->cl[i];
  uint64_t deadline = now_ms() + x->timeout_ms;
  for (;;) {
    client_read(x, i);
    if (c->fd < 0 || c->end != END_OPEN || c->rx >= c->wrote || now_ms() >= deadline)
      return;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    poll(&p, 1, 10);
  }
}

/* reset-mid-write struck client i's connection (RESET, after the WRITE of
 * the bytes the cut write took): it receives them, then leaves with a RST
 * (SO_LINGER 0), which the shim waits for inside the server's write, so
 * that the server's next call on the connection gets the kernel's error.
 * The pieces of it in flight go nowhere. A client unknown, or gone already
 * (the script closed it), does not leave: NORESET. */
static int on_reset(fray__xctl_t *x, const fray_shim_msg_t *m) {
  size_t i;
  xclient_t *c = by_conn(x, m->conn, &i);
  if (!c || c->gone)
    return no_reset(x, m->conn);
  take_written(x, i);
  if (c->fd < 0 || (x->cb.reset && !x->cb.reset(x->cb.ctx, i)))
    return no_reset(x, m->conn);
  if (i == x->piece_client && x->unread)
    abandon(x);
  struct linger l = {1, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(c->fd);
  c->fd = -1;
  c->gone = 1;
  return 0;
}

static int piece_read(void *ctx, size_t i) {
  fray__xctl_t *x = ctx;
  /* Quiescent, not only idle: everything the server wrote has arrived
   * before the next piece goes out, so a server that closes and is reset
   * by it (bytes after a QUIT) cannot take its last answer with it. */
  return (!x->unread && (quiescent(x) || x->blind || x->cl[i].end != END_OPEN)) || x->stalled;
}

/* Announces n pieces (their lengths) in one system call. */
static int announce(fray__xctl_t *x, uint16_t port, const uint64_t *len, size_t n) {
  fray_shim_msg_t m[FRAY_SHIM_QUEUE_MAX];
  struct iovec v[FRAY_SHIM_QUEUE_MAX];
  struct mmsghdr mm[FRAY_SHIM_QUEUE_MAX];
  for (size_t k = 0; k < n; k++) {
    m[k] = (fray_shim_msg_t){.type = FRAY_SHIM_MSG_PIECE, .conn = port, .a = len[k]};
    v[k] = (struct iovec){&m[k], sizeof m[k]};
    mm[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = &v[k], .msg_iovlen = 1}};
    x->plen[k] = len[k];
  }
  for (size_t done = 0; done < n;) {
    int r = sendmmsg(fray__server_ctl(x->srv), mm + done, (unsigned)(n - done), MSG_NOSIGNAL);
    if (r < 0 && errno != EINTR)
      return server_gone(x);
    done += r > 0 ? (size_t)r : 0;
  }
  return 0;
}

/* n scheduled reads of client i, p their bytes one after the other:
 * announced, sent whole, then read by the server, and followed by
 * quiescence before anything else happens. */
static int send_pieces(fray__xctl_t *x, size_t i, const uint8_t *p, const uint64_t *lens,
                       size_t n) {
  xclient_t *c = &x->cl[i];
  size_t len = 0;
  for (size_t k = 0; k < n; k++)
    len += (size_t)lens[k];
  if (c->fd < 0 || c->end != END_OPEN || !len)
    return 0; /* bytes to a connection the server ended go nowhere */
  int rc = announce(x, c->port, lens, n);
  if (rc)
    return rc;
  x->announced += len;
  x->piece_client = i;
  x->np = n;
  x->pi = 0;
  x->piece_left = lens[0];
  x->unread = len;
  x->idle = 0;
  /* eof-with-data: the bytes wait (corked) for the FIN, which joins their
   * last segment, so that the server cannot see them without it. */
  int eof = x->eof_client == i + 1, one = 1;
  if (eof)
    setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one);
  for (size_t off = 0; off < len;) {
    ssize_t w = send(c->fd, p + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      off += (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if ((rc = pump(x, 10))) /* the server reads it in parts: its buffer is smaller */
        return rc;
    } else {
      abandon(x); /* the server closed: the rest goes nowhere */
      return 0;
    }
  }
  if (eof) {
    shutdown(c->fd, SHUT_WR);
    c->fin = 1;
    c->deaf = x->eof_closing;
  }
  x->reading = now_ms();
  x->ended = 0;
  rc = pump_until(x, x->timeout_ms, piece_read, x, i, 0);
  x->reading = 0;
  if (rc)
    return rc;
  if (x->unread && c->end == END_OPEN && x->stalled) {
    abandon(x); /* (the shim dropped them) */
    return inexact(x,
                   "the server does not read a %llu-byte piece while its output waits for a "
                   "client's receive window (it stops reading until its output is taken): the "
                   "schedule would have it read there",
                   (unsigned long long)x->plen[x->pi]);
  }
  if (x->unread && c->end == END_OPEN)
    return inexact(x, "the server did not read a %llu-byte piece within %u ms (%llu left)",
                   (unsigned long long)x->plen[x->pi], x->timeout_ms,
                   (unsigned long long)x->piece_left);
  /* Read, and the connection still open, but never quiescent within the
   * timeout: a server the shim cannot see idle. From now on, timeouts. */
  if (!x->unread && !quiescent(x) && c->end == END_OPEN)
    x->blind = 1;
  abandon(x); /* read but never quiescent: from now on, timeouts */
  return 0;
}

/* Sends the batch, if any. */
static int flush(fray__xctl_t *x) {
  size_t n = x->nb;
  x->nb = x->blen = 0;
  return n ? send_pieces(x, x->bclient, x->bbuf, x->blens, n) : 0;
}

int fray__xctl_gap(fray__xctl_t *x, size_t i) {
  xclient_t *c = &x->cl[i];
  /* The gap is for the piece sent next: the batched ones go first. */
  int rc = flush(x);
  if (rc)
    return rc;
  if (c->fd < 0 || c->end != END_OPEN)
    return 0; /* no read will come */
  fray_shim_msg_t m = {.type = FRAY_SHIM_MSG_RGAP, .conn = c->port};
  if (send(fray__server_ctl(x->srv), &m, sizeof m, MSG_NOSIGNAL) != (ssize_t)sizeof m)
    return server_gone(x);
  return 0;
}

int fray__xctl_room(fray__xctl_t *x, size_t i, uint64_t room) {
  xclient_t *c = &x->cl[i];
  /* The sends before it are read under the room they had. */
  int rc = flush(x);
  if (rc || c->fd < 0 || !c->conn || c->end != END_OPEN)
    return rc;
  fray_shim_msg_t m = {.type = FRAY_SHIM_MSG_ROOM, .conn = c->port, .a = room, .b = c->rx};
  if (send(fray__server_ctl(x->srv), &m, sizeof m, MSG_NOSIGNAL) != (ssize_t)sizeof m)
    return server_gone(x);
  if (!x->listening || x->blind)
    return 0; /* no wait of the server's is held: it finds the room when it next acts */
  /* A held wait wakes for it: what the room lets the server write is
   * written and has arrived before the script goes on, as in the
   * simulator, where a client reading again takes what waits for it. */
  x->idle = 0;
  return pump_until(x, x->timeout_ms, NULL, NULL, x->n, 1);
}

void fray__xctl_set_lockstep(fray__xctl_t *x, int on) {
  x->lockstep = on;
}

/* The batch must go before a piece of len bytes to client i can join it. */
static int batch_full(const fray__xctl_t *x, size_t i, size_t len) {
  return x->nb && (x->bclient != i || x->nb == FRAY_SHIM_QUEUE_MAX || x->blen + len > BATCH_BYTES);
}

int fray__xctl_send(fray__xctl_t *x, size_t i, const uint8_t *p, size_t len) {
  int rc;
  if (batch_full(x, i, len) && (rc = flush(x)))
    return rc;
  uint64_t l = len;
  /* One thread, seen going idle, not in a blocking read, after it read
   * this connection once (a thread started for a connection is seen
   * then): its pieces can be held for its turns in the shim, without a
   * round trip each. */
  if (x->lockstep || x->blind || x->forked || x->threads != 1 || !x->cl[i].seen_read ||
      len > BATCH_BYTES)
    return send_pieces(x, i, p, &l, 1);
  if (fray__grow(&x->mem, (void **)&x->bbuf, &x->bcap, x->blen + len, 1))
    return flush(x) ? FRAY_EIO : send_pieces(x, i, p, &l, 1);
  memcpy(x->bbuf + x->blen, p, len);
  x->blen += len;
  x->blens[x->nb++] = l;
  x->bclient = i;
  return 0;
}

int fray__xctl_send_eof(fray__xctl_t *x, size_t i, const uint8_t *p, size_t len, int closing) {
  /* The FIN goes with the pieces that carry this one: a batch before them
   * goes first, without it. */
  int rc = batch_full(x, i, len) ? flush(x) : 0;
  x->eof_client = i + 1;
  x->eof_closing = closing != 0;
  if (!rc)
    rc = fray__xctl_send(x, i, p, len);
  if (!rc)
    rc = flush(x);
  x->eof_client = 0;
  return rc;
}

/* A FIN or RST the server will see (its side is still open) is activity
 * to wait out; one to a connection it already closed is not. */
static void peer_moved(fray__xctl_t *x, const xclient_t *c) {
  if (c->end == END_OPEN)
    x->idle = 0;
}

int fray__xctl_shutdown(fray__xctl_t *x, size_t i) {
  int rc = flush(x);
  if (rc)
    return rc;
  if (x->cl[i].fd >= 0 && !x->cl[i].fin) {
    shutdown(x->cl[i].fd, SHUT_WR);
    peer_moved(x, &x->cl[i]);
    x->cl[i].fin = 1;
  }
  return 0;
}

int fray__xctl_close(fray__xctl_t *x, size_t i, int reset) {
  xclient_t *c = &x->cl[i];
  int rc = flush(x);
  if (rc || c->fd < 0)
    return rc;
  if (reset || !c->fin)
    peer_moved(x, c); /* a FIN sent already is no news */
  if (reset) {
    struct linger l = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(c->fd);
    c->fd = -1;
  } else {
    shutdown(c->fd, SHUT_WR); /* a FIN; what still comes is read and dropped */
    c->fin = 1;
    if (c->end != END_OPEN) {
      close(c->fd);
      c->fd = -1;
    }
  }
  c->gone = 1;
  return 0;
}

int fray__xctl_wait(fray__xctl_t *x, unsigned ms, int (*ready)(void *ctx, size_t client),
                    size_t client) {
  /* An expectation still unmet is judged once the server's own timers had
   * their turn; a settle (no expectation) ends at quiescence. */
  int rc = flush(x);
  return rc ? rc : pump_until(x, ms, ready, x->cb.ctx, client, ready ? 2 : 1);
}

int fray__xctl_settle(fray__xctl_t *x, unsigned ms) {
  /* As after an open, a server the shim sees go quiescent is waited for
   * until it does; ms (the settle) bounds only the wait of one never seen
   * so. A server crashing on a client's last close takes longer than a
   * settle to say so (a sanitizer's report, symbolised), and the crash is
   * this run's, not the next one's. */
  return fray__xctl_wait(x, x->blind || ms >= x->timeout_ms ? ms : x->timeout_ms, NULL, x->n);
}

int fray__xctl_end(fray__xctl_t *x) {
  x->nb = x->blen = 0; /* sends no wait followed: the run is over */
  for (size_t i = 0; i < x->n; i++)
    if (x->cl[i].fd >= 0) {
      close(x->cl[i].fd);
      x->cl[i].fd = -1;
    }
  return 0;
}
