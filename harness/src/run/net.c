/* The network runner (fray/net.h): the player's TCP transport. The server
 * is a real one behind a TCP port; the player (player.c) walks the script.
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

#include "core/internal.h"

#define RECV_CHUNK 65536

typedef struct nclient {
  int fd;   /* -1 when not connected */
  int eof;  /* the server ended the connection: nothing more to read */
  int gone; /* the client closed or reset: the script reads no more */
} nclient_t;

struct fray_net {
  fray_player_t *player; /* owns this transport once created */
  const fray_script_t *script;
  fray_mem_t mem;
  fray_net_opts_t o;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  char *where; /* "HOST:PORT" as given */
  const fray_step_t *steps;
  size_t nsteps, nclients;
  nclient_t *cl;
  struct pollfd *pfd;
  size_t *pidx;
  fray_player_t *p; /* during a run */
  char nothing[96], kept[64];
  char err[320]; /* setup errors, before any run */
};

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

__attribute__((format(printf, 2, 3))) static int set_err(fray_net_t *n, const char *fmt, ...) {
  char m[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  if (n->p)
    fray_player_set_error(n->p, "%s", m);
  else
    memcpy(n->err, m, sizeof m);
  return 0;
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

static void net_free(void *t) {
  fray_net_t *n = t;
  for (size_t i = 0; n->cl && i < n->nclients; i++)
    if (n->cl[i].fd >= 0)
      close(n->cl[i].fd);
  fray__free(&n->mem, n->cl);
  fray__free(&n->mem, n->pfd);
  fray__free(&n->mem, n->pidx);
  fray__free(&n->mem, n->where);
  fray_mem_t m = n->mem;
  fray__free(&m, n);
}

/* ---- the sockets ------------------------------------------------------------- */

static void client_close(nclient_t *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
}

/* Reads what is there on client i's socket into the player. Returns 0,
 * FRAY_ENOMEM or FRAY_EFAILED (bound). */
static int client_read(fray_net_t *n, size_t i) {
  nclient_t *c = &n->cl[i];
  uint8_t buf[RECV_CHUNK];
  for (;;) {
    /* A client that stopped reading leaves the rest in its socket: the
     * kernel's buffers fill, then the server's writes block. */
    size_t room = fray_player_room(n->p, i);
    if (!room)
      return 0;
    ssize_t r = recv(c->fd, buf, room < sizeof buf ? room : sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      int rc = fray_player_received(n->p, i, buf, (size_t)r);
      if (rc)
        return rc;
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return 0;
    if (r < 0 && errno == EINTR)
      continue;
    /* EOF, or a reset (or another error, read like one). */
    c->eof = 1;
    fray_player_ended(n->p, i, r != 0);
    if (c->gone)
      client_close(c);
    return 0;
  }
}

/* Lists the sockets to poll: every connected client still readable, and
 * want_fd for writing. Returns how many; *wr_listed tells whether want_fd is
 * among them. */
static size_t poll_set(fray_net_t *n, int want_fd, int *wr_listed) {
  size_t np = 0;
  *wr_listed = 0;
  for (size_t i = 0; i < n->nclients; i++) {
    nclient_t *c = &n->cl[i];
    /* A client that stopped reading is not polled for input: its socket
     * stays readable and would wake every poll. */
    int reads = fray_player_room(n->p, i) != 0;
    if (c->fd < 0 || c->eof || (!reads && c->fd != want_fd))
      continue;
    n->pfd[np].fd = c->fd;
    n->pfd[np].events = (short)((reads ? POLLIN : 0) | (c->fd == want_fd ? POLLOUT : 0));
    n->pfd[np].revents = 0;
    *wr_listed |= c->fd == want_fd;
    n->pidx[np++] = i;
  }
  return np;
}

/* Waits until the player is ready (when ready is set) or the deadline
 * passes, reading from every connected client meanwhile. want_fd: also
 * wake when that socket is writable. Returns 0 (check the player or the
 * clock to know which), FRAY_ENOMEM, FRAY_EFAILED, FRAY_EIO. */
static int wait_until(fray_net_t *n, uint64_t deadline, int ready, int want_fd) {
  for (;;) {
    if (ready && fray_player_ready(n->p))
      return 0;
    uint64_t t = now_ms();
    int wr_listed;
    size_t np = poll_set(n, want_fd, &wr_listed);
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
        int rc = client_read(n, n->pidx[k]);
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

/* Waits for a non-blocking connect to finish: 0, -1 with errno set, or 1
 * when --timeout-ms passed first. */
static int connect_wait(fray_net_t *n, int fd) {
  uint64_t deadline = now_ms() + n->o.timeout_ms;
  int r;
  do {
    uint64_t t = now_ms();
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    r = poll(&p, 1, t >= deadline ? 0 : (int)(deadline - t));
  } while (r < 0 && errno == EINTR);
  if (r == 0)
    return 1;
  int e = 0;
  socklen_t el = sizeof e;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
  errno = e;
  return e ? -1 : 0;
}

static int net_open(void *t, size_t i) {
  fray_net_t *n = t;
  nclient_t *c = &n->cl[i];
  size_t line = n->steps[fray_player_step(n->p)].line;
  client_close(c); /* re-opening: the old connection ends first */
  int fd = socket(n->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return set_err(n, "socket: %s", strerror(errno)), FRAY_EIO;
  /* Each read of the schedule must leave as its own segment. */
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = connect(fd, (const struct sockaddr *)&n->addr, n->addrlen);
  if (rc && errno == EINPROGRESS)
    rc = connect_wait(n, fd);
  if (rc) {
    int e = errno;
    close(fd);
    if (rc > 0) {
      set_err(n, "%s: connecting %s (line %zu) to %s timed out after %u ms", cname(n, i),
              cname(n, i), line, n->where, n->o.timeout_ms);
      return FRAY_ETIMEDOUT;
    }
    set_err(n, "cannot connect %s (line %zu) to %s: %s", cname(n, i), line, n->where, strerror(e));
    return e == ECONNREFUSED ? FRAY_ECONNREFUSED : e == ETIMEDOUT ? FRAY_ETIMEDOUT : FRAY_EIO;
  }
  *c = (nclient_t){.fd = fd};
  return 0;
}

/* Sends all of p as one send() where the socket takes it (a piece larger
 * than the socket buffer goes in several), reading meanwhile; then the
 * pacing gap, so the server reads this piece alone. */
static int net_send(void *t, size_t i, const uint8_t *p, size_t len) {
  fray_net_t *n = t;
  nclient_t *c = &n->cl[i];
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
      int rc = wait_until(n, deadline, 0, c->fd);
      if (rc)
        return rc;
      if (now_ms() >= deadline)
        return fray_player_fail(n->p, FRAY_FAIL_BOUND, i,
                                "%s could not send: the server took none of %zu bytes within %u "
                                "ms (--timeout-ms)",
                                cname(n, i), len, n->o.timeout_ms);
      continue;
    }
    /* The server closed or reset: what is left is dropped, as the
     * simulator drops input to a closing connection. */
    return 0;
  }
  return wait_until(n, now_ms() + n->o.pace_ms, 0, -1);
}

static int net_shutdown(void *t, size_t i) {
  fray_net_t *n = t;
  if (n->cl[i].fd >= 0)
    shutdown(n->cl[i].fd, SHUT_WR);
  return 0;
}

static int net_close(void *t, size_t i, int reset) {
  fray_net_t *n = t;
  nclient_t *c = &n->cl[i];
  c->gone = 1;
  if (c->fd < 0)
    return 0;
  if (reset) {
    struct linger l = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    client_close(c);
    return 0;
  }
  /* A FIN, and the socket stays open to take (and drop) what the server
   * still sends: closing it with unread bytes would send a RST. */
  shutdown(c->fd, SHUT_WR);
  if (c->eof)
    client_close(c);
  return 0;
}

static int net_wait(void *t, fray_wait_kind_t kind, size_t client) {
  fray_net_t *n = t;
  (void)client;
  switch (kind) {
  case FRAY_WAIT_ANSWER:
    return wait_until(n, now_ms() + n->o.timeout_ms, 1, -1);
  case FRAY_WAIT_QUIET:
    return wait_until(n, now_ms() + n->o.settle_ms, 1, -1);
  case FRAY_WAIT_SETTLE:
    /* Bytes nobody expected: whatever arrives while the connections settle. */
    return wait_until(n, now_ms() + n->o.settle_ms, 0, -1);
  default:
    return 0; /* a real server's bytes are read while waiting anyway */
  }
}

/* The longest span `wait` and `< nothing for` sleep over TCP: a real
 * server's clock cannot be moved, so an hour would take an hour. */
#define NET_MAX_SPAN_MS 60000

/* The span passes in real time, reading what the server sends meanwhile. */
static int net_elapse(void *t, uint64_t ms) {
  fray_net_t *n = t;
  if (ms > NET_MAX_SPAN_MS) {
    char span[32];
    const fray_step_t *st = fray_script_steps(fray_player_script(n->p), NULL);
    fray_player_set_error(n->p,
                          "line %zu: a span of %s is over the %d s --connect sleeps through (real "
                          "time; the simulator's is virtual: run without --connect)",
                          st[fray_player_step(n->p)].line,
                          fray_script_span_format(ms, span, sizeof span), NET_MAX_SPAN_MS / 1000);
    return FRAY_EUNSUPPORTED;
  }
  return wait_until(n, now_ms() + ms, 0, -1);
}

static int net_begin(void *t, fray_player_t *p, const fray_sched_t *sched) {
  fray_net_t *n = t;
  (void)sched; /* the server's writes are its own: short writes do not apply */
  n->p = p;
  for (size_t i = 0; i < n->nclients; i++) {
    client_close(&n->cl[i]);
    n->cl[i] = (nclient_t){.fd = -1};
  }
  return 0;
}

static int net_window(void *t, size_t client) {
  (void)t;
  (void)client;
  return 0; /* client_read() honours the room from the next wait on */
}

static int net_end(void *t) {
  fray_net_t *n = t;
  /* Fresh connections for every run: end these ones now. */
  for (size_t i = 0; i < n->nclients; i++)
    client_close(&n->cl[i]);
  return 0;
}

static void net_words(void *t, fray_transport_words_t *w) {
  fray_net_t *n = t;
  snprintf(n->nothing, sizeof n->nothing, "nothing more within %u ms (--timeout-ms)",
           n->o.timeout_ms);
  snprintf(n->kept, sizeof n->kept, " for %u ms (--timeout-ms)", n->o.timeout_ms);
  w->nothing = n->nothing;
  w->kept_open = n->kept;
}

static const fray_transport_ops_t net_ops = {
    .name = "tcp",
    .begin = net_begin,
    .open = net_open,
    .send = net_send,
    .shutdown = net_shutdown,
    .close = net_close,
    .wait = net_wait,
    .end = net_end,
    .free = net_free,
    .words = net_words,
    .elapse = net_elapse,
    .window = net_window,
};

/* ---- the runner's API -------------------------------------------------------------- */

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
  size_t nc = n->nclients ? n->nclients : 1, hl = strlen(hostport);
  n->where = fray__malloc(&m, hl + 1);
  n->cl = fray__malloc(&m, nc * sizeof *n->cl);
  n->pfd = fray__malloc(&m, nc * sizeof *n->pfd);
  n->pidx = fray__malloc(&m, nc * sizeof *n->pidx);
  int r = n->where && n->cl && n->pfd && n->pidx
              ? fray_player_new(&n->player, script, &net_ops, n, &m)
              : FRAY_ENOMEM;
  if (r) {
    net_free(n);
    return r;
  }
  memcpy(n->where, hostport, hl + 1);
  for (size_t i = 0; i < nc; i++)
    n->cl[i] = (nclient_t){.fd = -1};
  *out = n;
  return resolve(n, hostport);
}

void fray_net_free(fray_net_t *n) {
  if (n)
    fray_player_free(n->player); /* frees n through net_free */
}

const char *fray_net_error(const fray_net_t *n) {
  if (!n)
    return "";
  return *n->err ? n->err : fray_player_error(n->player);
}

fray_player_t *fray_net_player(fray_net_t *n) {
  return n ? n->player : NULL;
}

int fray_net_run(fray_net_t *n, const fray_sched_t *sched, fray_result_t *res) {
  return n ? fray_player_run(n->player, sched, res) : FRAY_EINVAL;
}
