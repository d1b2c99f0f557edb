/* The network runner: a script and a schedule in, a verdict out, like the
 * simulator (sim.c), but the server is a real one behind a TCP port.
 *
 * Everything is non-blocking and every wait has a deadline. While waiting
 * for anything (a connect, room to send, the pacing gap, an expectation)
 * the runner reads from every connected client, so a server is never stuck
 * writing to a client the script is not looking at yet. */
#include "fray/net.h"

#include "fray/addr.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/escape_internal.h"
#include "run/expect_internal.h"
#include "core/internal.h"
#include "session/reads_internal.h"

/* Per client, beyond it: FRAY_FAIL_BOUND. As much as a script may expect
 * (fray/script.h), so a recorded download replays. */
#define RX_BOUND FRAY_SCRIPT_DEFAULT_MAX_BYTES
#define RECV_CHUNK 65536

enum { END_OPEN = 0, END_FIN = 1, END_RST = 2 };

typedef struct nclient {
  int fd;      /* -1 when not connected */
  uint8_t *rx; /* everything received this run (not after `close`) */
  size_t rx_len, rx_cap, rx_pos;
  int end;  /* how the server ended the connection: END_* */
  int gone; /* the client closed or reset: the script reads no more */
} nclient_t;

struct fray_net {
  const fray_script_t *script;
  fray_mem_t mem;
  fray_net_opts_t o;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  char *where; /* "HOST:PORT" as given */
  const fray_step_t *steps;
  size_t nsteps, nclients, nsends;
  size_t *send_step;
  nclient_t *cl;
  struct pollfd *pfd;
  size_t *pidx;
  /* Per run */
  const fray_sched_t *sched;
  fray__reads_t cutter; /* sends into reads under the schedule */
  uint64_t reads;
  fray_sim_result_t *res;
  char msg[640];
  char err[320];
};

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

__attribute__((format(printf, 2, 3))) static int set_err(fray_net_t *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(n->err, sizeof n->err, fmt, ap);
  va_end(ap);
  return 0;
}

__attribute__((format(printf, 5, 6))) static int
fail(fray_net_t *n, fray_fail_kind_t kind, size_t step, size_t client, const char *fmt, ...) {
  fray_sim_result_t *r = n->res;
  r->kind = kind;
  r->step = step;
  r->line = step < n->nsteps ? n->steps[step].line : 0;
  r->client = client;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(n->msg, sizeof n->msg, fmt, ap);
  va_end(ap);
  r->message = n->msg;
  return FRAY_EFAILED;
}

static const char *cname(const fray_net_t *n, size_t i) {
  return fray_script_client_name(n->script, i);
}

/* ---- creation ------------------------------------------------------------------- */

void fray_net_opts_init(fray_net_opts_t *o) {
  if (!o)
    return;
  o->pace_ms = FRAY_NET_DEFAULT_PACE_MS;
  o->timeout_ms = FRAY_NET_DEFAULT_TIMEOUT_MS;
  o->settle_ms = FRAY_NET_DEFAULT_SETTLE_MS;
}

static int resolve(fray_net_t *n, const char *hp) {
  fray_addr_t a;
  const char *why;
  if (fray_addr_parse(&a, hp, 0, &why))
    return set_err(n, "bad address '%s': %s", hp, why), FRAY_EINVAL;
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  int g = getaddrinfo(a.host, a.port_text, &hints, &ai);
  if (g)
    return set_err(n, "cannot resolve '%s': %s", a.host, gai_strerror(g)), FRAY_EINVAL;
  memcpy(&n->addr, ai->ai_addr, ai->ai_addrlen);
  n->addrlen = ai->ai_addrlen;
  freeaddrinfo(ai);
  return 0;
}

int fray_net_new(fray_net_t **out, const fray_script_t *script, const char *hostport,
                 const fray_net_opts_t *opts, const fray_mem_t *mem) {
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  if (!script || !hostport)
    return FRAY_EINVAL;
  fray_mem_t m;
  fray__mem_init(&m, mem);
  fray_net_t *n = fray__malloc(&m, sizeof *n);
  if (!n)
    return FRAY_ENOMEM;
  memset(n, 0, sizeof *n);
  n->mem = m;
  n->script = script;
  if (opts)
    n->o = *opts;
  else
    fray_net_opts_init(&n->o);
  n->steps = fray_script_steps(script, &n->nsteps);
  n->nclients = fray_script_nclients(script);
  size_t nc = n->nclients ? n->nclients : 1;
  size_t hl = strlen(hostport);
  n->where = fray__malloc(&m, hl + 1);
  n->cl = fray__malloc(&m, nc * sizeof *n->cl);
  n->pfd = fray__malloc(&m, nc * sizeof *n->pfd);
  n->pidx = fray__malloc(&m, nc * sizeof *n->pidx);
  n->send_step = fray__malloc(&m, (n->nsteps ? n->nsteps : 1) * sizeof *n->send_step);
  if (!n->where || !n->cl || !n->pfd || !n->pidx || !n->send_step) {
    fray_net_free(n);
    return FRAY_ENOMEM;
  }
  memcpy(n->where, hostport, hl + 1);
  memset(n->cl, 0, nc * sizeof *n->cl);
  for (size_t i = 0; i < nc; i++)
    n->cl[i].fd = -1;
  for (size_t i = 0; i < n->nsteps; i++)
    if (n->steps[i].kind == FRAY_STEP_SEND)
      n->send_step[n->nsends++] = i;
  fray__reads_init(&n->cutter, &n->mem, n->steps, n->send_step, n->nsends);
  *out = n;
  return resolve(n, hostport);
}

void fray_net_free(fray_net_t *n) {
  if (!n)
    return;
  if (n->cl)
    for (size_t i = 0; i < n->nclients; i++) {
      if (n->cl[i].fd >= 0)
        close(n->cl[i].fd);
      fray__free(&n->mem, n->cl[i].rx);
    }
  fray__free(&n->mem, n->cl);
  fray__free(&n->mem, n->pfd);
  fray__free(&n->mem, n->pidx);
  fray__free(&n->mem, n->send_step);
  fray__reads_free(&n->cutter);
  fray__free(&n->mem, n->where);
  fray_mem_t m = n->mem;
  fray__free(&m, n);
}

const char *fray_net_error(const fray_net_t *n) {
  return n ? n->err : "";
}

/* ---- the sockets ------------------------------------------------------------- */

static void client_close(nclient_t *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
}

/* Reads what is there on client i's socket. Returns 0, FRAY_ENOMEM or
 * FRAY_EFAILED (bound). */
static int client_read(fray_net_t *n, size_t i, size_t step) {
  nclient_t *c = &n->cl[i];
  uint8_t buf[RECV_CHUNK];
  for (;;) {
    ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      if (c->gone)
        continue; /* the script closed this client: the bytes go nowhere */
      if (c->rx_len + (size_t)r > RX_BOUND)
        return fail(n, FRAY_FAIL_BOUND, step, i, "%s received more than %zu bytes", cname(n, i),
                    RX_BOUND);
      if (fray__grow(&n->mem, (void **)&c->rx, &c->rx_cap, c->rx_len + (size_t)r, 1))
        return FRAY_ENOMEM;
      memcpy(c->rx + c->rx_len, buf, (size_t)r);
      c->rx_len += (size_t)r;
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return 0;
    if (r < 0 && errno == EINTR)
      continue;
    /* EOF, or a reset (or another error, read like one). */
    c->end = r == 0 ? END_FIN : END_RST;
    if (c->gone)
      client_close(c);
    return 0;
  }
}

/* Waits until done(n, arg) holds or the deadline passes, reading from every
 * connected client meanwhile. want_fd/want_out: also wake when that socket
 * is writable. Returns 0 (check done() or the clock to know which),
 * FRAY_ENOMEM, FRAY_EFAILED. */
typedef int (*done_fn)(fray_net_t *n, const void *arg);

static int wait_until(fray_net_t *n, uint64_t deadline, done_fn done, const void *arg, int want_fd,
                      size_t step) {
  for (;;) {
    if (done && done(n, arg))
      return 0;
    uint64_t t = now_ms();
    size_t np = 0;
    for (size_t i = 0; i < n->nclients; i++) {
      nclient_t *c = &n->cl[i];
      if (c->fd < 0 || c->end != END_OPEN)
        continue;
      n->pfd[np].fd = c->fd;
      n->pfd[np].events = (short)(POLLIN | (c->fd == want_fd ? POLLOUT : 0));
      n->pfd[np].revents = 0;
      n->pidx[np++] = i;
    }
    int wr_listed = 0;
    for (size_t k = 0; k < np; k++)
      wr_listed |= n->pfd[k].fd == want_fd;
    if (t >= deadline)
      return 0;
    int ms = (int)(deadline - t);
    struct pollfd extra = {.fd = want_fd, .events = POLLOUT};
    int r;
    if (want_fd >= 0 && !wr_listed)
      r = poll(&extra, 1, ms); /* only writing: reading ended on that socket */
    else if (np)
      r = poll(n->pfd, (nfds_t)np, ms);
    else
      r = poll(NULL, 0, ms);
    if (r < 0 && errno != EINTR)
      return set_err(n, "poll: %s", strerror(errno)), FRAY_EIO;
    if (r <= 0)
      continue;
    if (want_fd >= 0 && !wr_listed)
      return 0; /* writable */
    int writable = 0;
    for (size_t k = 0; k < np; k++) {
      if (n->pfd[k].revents & (POLLIN | POLLERR | POLLHUP)) {
        int rc = client_read(n, n->pidx[k], step);
        if (rc)
          return rc;
      }
      if (n->pfd[k].fd == want_fd && (n->pfd[k].revents & (POLLOUT | POLLERR | POLLHUP)))
        writable = 1;
    }
    if (writable)
      return 0;
  }
}

static int connect_client(fray_net_t *n, size_t i, size_t step) {
  nclient_t *c = &n->cl[i];
  int fd = socket(n->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return set_err(n, "socket: %s", strerror(errno)), FRAY_EIO;
  /* Each read of the schedule must leave as its own segment. */
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = connect(fd, (const struct sockaddr *)&n->addr, n->addrlen);
  if (rc && errno == EINPROGRESS) {
    uint64_t deadline = now_ms() + n->o.timeout_ms;
    int r;
    do {
      uint64_t t = now_ms();
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      r = poll(&p, 1, t >= deadline ? 0 : (int)(deadline - t));
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      close(fd);
      set_err(n, "%s: connecting %s (line %zu) to %s timed out after %u ms", cname(n, i),
              cname(n, i), n->steps[step].line, n->where, n->o.timeout_ms);
      return FRAY_ETIMEDOUT;
    }
    int e = 0;
    socklen_t el = sizeof e;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
    errno = e;
    rc = e ? -1 : 0;
  }
  if (rc) {
    int e = errno;
    close(fd);
    set_err(n, "cannot connect %s (line %zu) to %s: %s", cname(n, i), n->steps[step].line, n->where,
            strerror(e));
    return e == ECONNREFUSED ? FRAY_ECONNREFUSED : e == ETIMEDOUT ? FRAY_ETIMEDOUT : FRAY_EIO;
  }
  c->fd = fd;
  c->end = END_OPEN;
  c->gone = 0;
  return 0;
}

/* Sends all of p as one send() where the socket takes it (a piece larger
 * than the socket buffer goes in several), reading meanwhile. */
static int send_piece(fray_net_t *n, size_t i, const uint8_t *p, size_t len, size_t step) {
  nclient_t *c = &n->cl[i];
  n->reads++;
  while (len && c->fd >= 0) {
    ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      p += w;
      len -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      uint64_t deadline = now_ms() + n->o.timeout_ms;
      int rc = wait_until(n, deadline, NULL, NULL, c->fd, step);
      if (rc)
        return rc;
      if (now_ms() >= deadline)
        return fail(n, FRAY_FAIL_BOUND, step, i,
                    "%s could not send: the server took none of %zu bytes within %u ms "
                    "(--timeout-ms)",
                    cname(n, i), len, n->o.timeout_ms);
      continue;
    }
    /* The server closed or reset: what is left is dropped, as the
     * simulator drops input to a closing connection. */
    return 0;
  }
  /* The pacing gap: the server reads this piece alone. */
  return wait_until(n, now_ms() + n->o.pace_ms, NULL, NULL, -1, step);
}

/* ---- sends (the simulator's cutting and merging, on sockets) --------------------- */

typedef struct read_ctx {
  fray_net_t *n;
  size_t client, step;
} read_ctx_t;

static int send_read(void *ctx, const uint8_t *p, size_t len) {
  read_ctx_t *x = ctx;
  return send_piece(x->n, x->client, p, len, x->step);
}

static int run_send(fray_net_t *n, size_t idx, size_t k) {
  read_ctx_t x = {n, n->steps[idx].client, idx};
  return fray__reads_send(&n->cutter, n->sched, k, send_read, &x);
}

/* ---- expectations --------------------------------------------------------------- */

static const uint8_t *rx_unmatched(const nclient_t *c) {
  return c->rx ? c->rx + c->rx_pos : (const uint8_t *)"";
}

static int bytes_ready(fray_net_t *n, const void *arg) {
  const fray_step_t *st = arg;
  const nclient_t *c = &n->cl[st->client];
  size_t avail = c->rx_len - c->rx_pos;
  size_t m = avail < st->len ? avail : st->len;
  /* Enough bytes, a difference already, or no more will come. */
  return avail >= st->len || fray__first_diff(rx_unmatched(c), st->data, m) < m ||
         c->end != END_OPEN || c->fd < 0;
}

static int line_ready(fray_net_t *n, const void *arg) {
  const fray_step_t *st = arg;
  const nclient_t *c = &n->cl[st->client];
  return memchr(rx_unmatched(c), '\n', c->rx_len - c->rx_pos) || c->end != END_OPEN || c->fd < 0;
}

static int eof_ready(fray_net_t *n, const void *arg) {
  const fray_step_t *st = arg;
  const nclient_t *c = &n->cl[st->client];
  return c->rx_len > c->rx_pos || c->end != END_OPEN || c->fd < 0;
}

/* Waits (up to --timeout-ms; --settle-ms for `< eof?`) until the step's
 * expectation can be judged, then judges it. */
static int expect_step(fray_net_t *n, size_t idx) {
  const fray_step_t *st = &n->steps[idx];
  nclient_t *c = &n->cl[st->client];
  done_fn ready = st->kind == FRAY_STEP_EXPECT ? bytes_ready
                  : st->kind == FRAY_STEP_EXPECT_REGEX || st->kind == FRAY_STEP_EXPECT_GLOB
                      ? line_ready
                      : eof_ready;
  unsigned ms = st->kind == FRAY_STEP_EXPECT_EOF_OPT ? n->o.settle_ms : n->o.timeout_ms;
  int rc = wait_until(n, now_ms() + ms, ready, st, -1, idx);
  if (rc)
    return rc;
  char nothing[96], kept[64];
  snprintf(nothing, sizeof nothing, "nothing more within %u ms (--timeout-ms)", n->o.timeout_ms);
  snprintf(kept, sizeof kept, " for %u ms (--timeout-ms)", n->o.timeout_ms);
  fray__rx_t rx = {.who = cname(n, st->client),
                   .rx = c->rx,
                   .len = c->rx_len,
                   .pos = &c->rx_pos,
                   .closed = c->end != END_OPEN,
                   .open = c->end == END_OPEN && c->fd >= 0,
                   .end_words = fray__end_words(c->end == END_RST),
                   .nothing = nothing,
                   .kept_open = kept};
  char m[640];
  rc = fray__expect_check(&n->mem, st, &rx, n->res, m, sizeof m);
  return rc == FRAY_EFAILED ? fail(n, n->res->kind, idx, st->client, "%s", m) : rc;
}

/* ---- one run ----------------------------------------------------------------------- */

static int run_steps(fray_net_t *n) {
  size_t k = 0;
  for (size_t i = 0; i < n->nsteps; i++) {
    const fray_step_t *st = &n->steps[i];
    nclient_t *c = &n->cl[st->client];
    int r = 0;
    switch (st->kind) {
    case FRAY_STEP_OPEN:
      client_close(c); /* re-opening: the old connection ends first */
      r = connect_client(n, st->client, i);
      break;
    case FRAY_STEP_SEND:
      r = run_send(n, i, k++);
      break;
    case FRAY_STEP_SHUTDOWN:
      if (c->fd >= 0)
        shutdown(c->fd, SHUT_WR);
      break;
    case FRAY_STEP_CLOSE:
      /* A FIN, and the socket stays open to take (and drop) what the server
       * still sends: closing it with unread bytes would send a RST. */
      if (c->fd >= 0) {
        shutdown(c->fd, SHUT_WR);
        if (c->end != END_OPEN)
          client_close(c);
      }
      c->gone = 1;
      break;
    case FRAY_STEP_RESET:
      if (c->fd >= 0) {
        struct linger l = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        client_close(c);
      }
      c->gone = 1;
      break;
    case FRAY_STEP_EXPECT:
    case FRAY_STEP_EXPECT_REGEX:
    case FRAY_STEP_EXPECT_GLOB:
    case FRAY_STEP_EXPECT_EOF:
    case FRAY_STEP_EXPECT_EOF_OPT:
      r = expect_step(n, i);
      break;
    }
    if (r)
      return r;
  }
  /* Bytes nobody expected: whatever arrives while the connections settle. */
  int r = wait_until(n, now_ms() + n->o.settle_ms, NULL, NULL, -1, n->nsteps);
  if (r)
    return r;
  for (size_t i = 0; i < n->nclients; i++) {
    char m[320];
    if (fray__expect_leftover(cname(n, i), n->cl[i].rx, n->cl[i].rx_pos, n->cl[i].rx_len, n->res, m,
                              sizeof m))
      return fail(n, FRAY_FAIL_UNEXPECTED, n->nsteps, i, "%s", m);
  }
  return 0;
}

int fray_net_run(fray_net_t *n, const fray_sched_t *sched, fray_sim_result_t *res) {
  fray_sim_result_t dummy;
  if (!n)
    return FRAY_EINVAL;
  if (!res)
    res = &dummy;
  memset(res, 0, sizeof *res);
  if (sched && sched->nsends && sched->nsends != n->nsends)
    return FRAY_EINVAL;
  n->err[0] = 0;
  n->res = res;
  n->sched = sched;
  n->reads = 0;
  fray__reads_reset(&n->cutter);
  for (size_t i = 0; i < n->nclients; i++) {
    nclient_t *c = &n->cl[i];
    client_close(c);
    c->rx_len = c->rx_pos = 0;
    c->end = END_OPEN;
    c->gone = 0;
  }
  int r = run_steps(n);
  /* Fresh connections for every run: end these ones now. */
  for (size_t i = 0; i < n->nclients; i++)
    client_close(&n->cl[i]);
  res->reads = n->reads;
  n->sched = NULL;
  return r;
}
