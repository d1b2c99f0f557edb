/* libfray-shim.so: preloaded into an unmodified program (LD_PRELOAD), it
 * sits on the program's socket calls and shapes what its reads return and
 * what its writes accept on client connections: the sockets accepted on a
 * listening TCP port (FRAY_SHIM_PORT, or any), or with FRAY_SHIM_ROLE=client
 * the TCP connections the program makes. Everything else is left to the
 * real kernel: the sockets, accept, poll and epoll stay real, so any event
 * loop keeps working; a capped read leaves the rest of the bytes in the
 * kernel, where the next read (and the next readiness check) finds them.
 *
 * Two modes:
 * - a standing policy (FRAY_SHIM_READS, FRAY_SHIM_WRITES: `fray exec`),
 *   applied alone by the shim to every client connection;
 * - exact schedules (FRAY_SHIM_FD: `fray replay --exec`): fray announces
 *   each piece on the control channel (protocol.h) before sending it, every
 *   read is capped to what is left of the current piece, and the shim
 *   reports reads, writes, connections and quiescence back.
 *
 * The shim starts no thread: it works inside the intercepted calls of the
 * program's own threads, under one lock. It links nothing but libc (and
 * libdl on old glibc): the real functions come from dlsym(RTLD_NEXT). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "policy.h"
#include "protocol.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
#define MAX_FD 65536      /* descriptors at or past it are never shaped */
#define MAX_IOV 64        /* a read or write window's pieces */
#define COMPLETE_MS 1000  /* how long a read waits for the rest of a piece */
#define LOG_FLUSH_AT 8192 /* bytes of log buffered before a write */
#define OUTBOX 16         /* reports held for one system call (exact mode) */
#define RESET_MS 2000     /* how long a cut write waits for fray's reset (backstop) */
#define PEND_MAX 16       /* fuzz mode: connections waiting to be accepted */

/* What the shim knows about one descriptor. */
typedef struct sfd {
  uint32_t conn;         /* nonzero: a client connection, numbered from 1 */
  uint8_t listen;        /* accept()ed on: 0 unknown, 1 shaped, 2 not */
  uint8_t et;            /* registered edge-triggered (not one-shot) */
  uint16_t peer_port;    /* the client's port (fray's local port) */
  int epfd;              /* where it was last registered, or -1 */
  struct epoll_event ev; /* that registration */
  uint64_t rrng;         /* its random read cuts */
  uint64_t wrng;         /* its short writes */
  uint64_t piece;        /* exact mode: bytes left of the announced piece */
  uint64_t queued;       /* exact mode: bytes of the pieces announced after it */
  uint64_t turn_at;      /* exact mode: g.turns when its last piece was read */
  uint8_t gap;           /* exact mode: the next piece's read finds nothing first (RGAP) */
  uint8_t reset;         /* exact mode: reset-mid-write struck it: its calls are the kernel's */
  uint8_t fake;          /* fuzz mode: an AF_UNIX socketpair's end posing as TCP */
  uint8_t rst;           /* fake: its client reset; the next read or write fails */
  uint8_t masked;        /* its epoll registration lacks the EPOLLOUT asked for (no room) */
  uint8_t held;          /* waits its room would end (held_wait, await_room) */
  uint64_t room;         /* exact mode: what its client takes before its window is full
                          * (FRAY_SHIM_NO_ROOM: no limit; set_room) */
  uint64_t sent;         /* bytes written to it */
} sfd_t;

static struct {
  ssize_t (*recvmsg)(int, struct msghdr *, int);
  ssize_t (*sendmsg)(int, const struct msghdr *, int);
  ssize_t (*read)(int, void *, size_t);
  ssize_t (*write)(int, const void *, size_t);
  ssize_t (*readv)(int, const struct iovec *, int);
  ssize_t (*writev)(int, const struct iovec *, int);
  ssize_t (*sendfile)(int, int, off_t *, size_t);
  int (*accept4)(int, struct sockaddr *, socklen_t *, int);
  int (*connect)(int, const struct sockaddr *, socklen_t);
  int (*listen)(int, int);
  int (*close)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*poll)(struct pollfd *, nfds_t, int);
  int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
  int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
  int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
  int (*epoll_wait)(int, struct epoll_event *, int, int);
  int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
  int (*epoll_ctl)(int, int, int, struct epoll_event *);
  int (*getpeername)(int, struct sockaddr *, socklen_t *);
  int (*getsockname)(int, struct sockaddr *, socklen_t *);
  int (*getsockopt)(int, int, int, void *, socklen_t *);
  int (*setsockopt)(int, int, int, const void *, socklen_t);
} real;

enum { T_UNKNOWN = 0, T_RUNNING, T_WAITING };

static struct {
  pthread_mutex_t lock;
  int ready; /* real functions resolved, environment read */
  pid_t pid; /* this process (glibc's getpid() is a system call each time) */
  fray__shim_policy_t pol;
  int port; /* FRAY_SHIM_PORT, 0: every TCP port */
  int role_client;
  int ctl;   /* control channel, -1: none */
  int exact; /* this process serves exact schedules */
  int logfd; /* -1: no log */
  size_t loglen;
  uint32_t nconn;
  int running;      /* watched threads not blocked in a wait */
  uint64_t pending; /* announced bytes not yet read */
  uint64_t consumed, written;
  uint64_t activity, idle_reported;
  uint64_t wfault_rng; /* exact mode: the run's write faults */
  int wfault;
  int rgaps;                   /* exact mode: the run may ask for read gaps (RGAP) */
  uint64_t window;             /* exact mode: the run's receive window, 0: none */
  int nfull;                   /* connections whose window is full: waits are held */
  int listeners;               /* threads in a held wait (it watches the channel) */
  int nheld;                   /* sfd_t.held, in all */
  int maxfd;                   /* the highest descriptor tracked */
  int rreset;                  /* exact mode: reset-mid-write has yet to strike this run */
  uint64_t rreset_rng;         /* its draws */
  uint64_t runs;               /* exact mode: WFAULTs taken, one per run */
  uint32_t noreset;            /* the conn of the last NORESET */
  uint32_t wait_timer;         /* the timeout of the last wait entered */
  fray_shim_msg_t out[OUTBOX]; /* reports not sent yet */
  size_t nout;
  int threads;    /* watched threads alive (IDLE tells fray) */
  int readers;    /* of them, blocked in a read of a client connection */
  uint64_t turns; /* waits that were going to block: the server's turns */
  struct {
    int fd;
    uint64_t len;
  } q[FRAY_SHIM_QUEUE_MAX]; /* exact mode: pieces announced behind another one */
  size_t nq;
  struct {
    int fd;
    uint16_t port;
  } pend[PEND_MAX]; /* fuzz mode: socketpair ends the server has yet to accept */
  size_t npend;
  int pend_lfd, pend_local; /* the listening socket they wait on, its port */
  int pend_new;             /* one came since an edge-triggered wait last said so */
  pthread_key_t thread_key;
  /* last: the fields before it are written by every fuzz exec (each page
   * written is a copy-on-write fault there) and the log, mostly off, is
   * big */
  char logbuf[LOG_FLUSH_AT + 256];
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .ctl = -1, .logfd = -1, .pend_lfd = -1};

/* glibc's _FORTIFY_SOURCE entry points: fortified programs call these
 * instead of read, recv, recvfrom and poll, and glibc's own versions call
 * its internal functions, out of the shim's reach. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       struct sockaddr *from, socklen_t *fromlen);
int __poll_chk(struct pollfd *p, nfds_t n, int timeout, size_t plen);
int __ppoll_chk(struct pollfd *p, nfds_t n, const struct timespec *t, const sigset_t *mask,
                size_t plen);

/* Every fuzz exec writes the entries of its few descriptors and of its
 * clients' ports (fuzz.c gives them the ports at the top of the range),
 * and each page it writes is a copy-on-write fault there: the padding
 * puts the last 256 ports and the first 18 descriptors in one page. */
static _Alignas(4096) struct {
  char pad[2048];
  int port_fd[65536]; /* peer port -> fd + 1 (exact mode) */
  sfd_t fds[MAX_FD];
} tab;
static __thread int t_state;
static __thread uint32_t t_timer; /* the timeout of the thread's current wait */

/* ---- setup ------------------------------------------------------------------ */

#define RESOLVE(name) real.name = (__typeof__(real.name))dlsym(RTLD_NEXT, #name)

static void resolve(void) {
  RESOLVE(recvmsg);
  RESOLVE(sendmsg);
  RESOLVE(read);
  RESOLVE(write);
  RESOLVE(readv);
  RESOLVE(writev);
  RESOLVE(sendfile);
  RESOLVE(accept4);
  RESOLVE(connect);
  RESOLVE(listen);
  RESOLVE(close);
  RESOLVE(dup2);
  RESOLVE(dup3);
  RESOLVE(poll);
  RESOLVE(ppoll);
  RESOLVE(select);
  RESOLVE(pselect);
  RESOLVE(epoll_wait);
  RESOLVE(epoll_pwait);
  RESOLVE(epoll_ctl);
  RESOLVE(getpeername);
  RESOLVE(getsockname);
  RESOLVE(getsockopt);
  RESOLVE(setsockopt);
}

/* Sends what the outbox holds, in one system call (caller holds the lock). */
static void flush_out(void) {
  struct mmsghdr mm[OUTBOX];
  struct iovec v[OUTBOX];
  for (size_t i = 0; i < g.nout; i++) {
    v[i] = (struct iovec){&g.out[i], sizeof g.out[i]};
    mm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &v[i], .msg_iovlen = 1}};
  }
  for (size_t done = 0; done < g.nout;) {
    int r = sendmmsg(g.ctl, mm + done, (unsigned)(g.nout - done), MSG_NOSIGNAL);
    if (r < 0 && errno != EINTR)
      break;
    if (r > 0)
      done += (size_t)r;
  }
  g.nout = 0;
}

/* In exact mode the reports of what the server did (ACCEPT, READ, WRITE,
 * CLOSE) wait in the outbox until the program waits (or finds nothing to
 * read): fray acts only once the server is quiescent, so they go out with
 * the IDLE that follows, all in one system call and one wake-up of fray's
 * instead of one per report. Everything else goes at once, after what is
 * waiting. The caller holds the lock (or is alone: start-up, a forked
 * child). */
static void send_timed(uint32_t type, uint32_t conn, uint64_t a, uint64_t b, uint32_t timer) {
  if (g.ctl < 0)
    return;
  if (g.nout == OUTBOX)
    flush_out();
  g.out[g.nout++] = (fray_shim_msg_t){
      .type = type, .conn = conn, .pid = (uint32_t)g.pid, .timer_ms = timer, .a = a, .b = b};
  int later = g.exact && (type == FRAY_SHIM_MSG_ACCEPT || type == FRAY_SHIM_MSG_READ ||
                          type == FRAY_SHIM_MSG_WRITE || type == FRAY_SHIM_MSG_CLOSE);
  if (!later)
    flush_out();
}

static void send_msg(uint32_t type, uint32_t conn, uint64_t a, uint64_t b) {
  send_timed(type, conn, a, b, FRAY_SHIM_NO_TIMER);
}

static void log_flush(void) {
  size_t off = 0;
  while (off < g.loglen) {
    ssize_t w = real.write(g.logfd, g.logbuf + off, g.loglen - off);
    if (w <= 0 && errno != EINTR)
      break;
    if (w > 0)
      off += (size_t)w;
  }
  g.loglen = 0;
}

/* Appends one line to the log (caller holds the lock). */
__attribute__((format(printf, 1, 2))) static void logf_locked(const char *fmt, ...) {
  if (g.logfd < 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(g.logbuf + g.loglen, sizeof g.logbuf - g.loglen, fmt, ap);
  va_end(ap);
  if (n > 0)
    g.loglen += (size_t)n < sizeof g.logbuf - g.loglen ? (size_t)n : sizeof g.logbuf - g.loglen - 1;
  if (g.loglen >= LOG_FLUSH_AT)
    log_flush();
}

static void at_fork_child(void) {
  /* The child's copy of the lock may be held by a thread that no longer
   * exists in it; the state is the parent's. A forked child keeps its
   * standing policy but does not take part in exact schedules (it never
   * takes the parent's announcements from the shared channel): it says it
   * exists, and fray calls a run inexact when it serves a connection. */
  pthread_mutex_init(&g.lock, NULL);
  g.pid = getpid();
  g.nout = 0; /* the parent's reports, the parent's to send */
  g.exact = fray__shim_fuzz_forked() && g.exact;
  g.running = 0;
  t_state = T_UNKNOWN;
  if (g.ctl >= 0)
    send_msg(FRAY_SHIM_MSG_FORK, 0, (uint64_t)getppid(), 0);
}

static void read_env(void) {
  const char *s;
  if ((s = getenv(FRAY_SHIM_ENV_READS)) && *s)
    fray__shim_parse_reads(&g.pol, s);
  if ((s = getenv(FRAY_SHIM_ENV_WRITES)) && *s)
    fray__shim_parse_writes(&g.pol, s);
  if ((s = getenv(FRAY_SHIM_ENV_PORT)) && *s)
    g.port = atoi(s);
  if ((s = getenv(FRAY_SHIM_ENV_ROLE)) && !strcmp(s, "client"))
    g.role_client = 1;
  if ((s = getenv(FRAY_SHIM_ENV_LOG)) && *s)
    g.logfd = open(s, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if ((s = getenv(FRAY_SHIM_ENV_FD)) && *s) {
    g.ctl = atoi(s);
    if (fcntl(g.ctl, F_GETFD) < 0)
      g.ctl = -1;
    g.exact = g.ctl >= 0;
  }
  if (fray__shim_fuzz_wanted())
    g.exact = 1; /* fuzz mode: exact schedules played from inside (fuzz.c) */
}

static void thread_gone(void *arg);

__attribute__((constructor)) static void shim_init(void) {
  pthread_mutex_lock(&g.lock);
  if (!g.ready) {
    resolve();
    g.pid = getpid();
    read_env();
    pthread_key_create(&g.thread_key, thread_gone);
    pthread_atfork(NULL, NULL, at_fork_child);
    g.ready = 1;
    send_msg(FRAY_SHIM_MSG_HELLO, 0, FRAY_SHIM_PROTOCOL_VERSION, 0);
    logf_locked("pid %d: libfray-shim loaded\n", (int)getpid());
  }
  pthread_mutex_unlock(&g.lock);
}

__attribute__((destructor)) static void shim_fini(void) {
  pthread_mutex_lock(&g.lock);
  flush_out();
  if (g.logfd >= 0)
    log_flush();
  pthread_mutex_unlock(&g.lock);
}

/* Calls that come before the constructor ran (other libraries' own
 * constructors) still find the real functions. */
static inline void ensure(void) {
  if (__builtin_expect(!__atomic_load_n(&g.ready, __ATOMIC_ACQUIRE), 0))
    shim_init();
}

static inline sfd_t *conn_of(int fd) {
  return fd >= 0 && fd < MAX_FD && tab.fds[fd].conn ? &tab.fds[fd] : NULL;
}

/* ---- the control channel and quiescence (exact mode) ------------------------ */

/* A piece announced while another of its connection is unread waits in
 * the queue: fray sends the pieces of a send together (protocol.h), and
 * each is served only after the server took its turn since the one
 * before (piece_now), as it would after a round trip to fray. */
static void announce(int fd, uint64_t len) {
  sfd_t *s = &tab.fds[fd];
  g.pending += len;
  g.activity++; /* (a server that will not read it says so again: stalled) */
  if (!s->piece && !s->queued) {
    s->piece = len;
  } else if (g.nq < FRAY_SHIM_QUEUE_MAX) {
    g.q[g.nq].fd = fd;
    g.q[g.nq++].len = len;
    s->queued += len;
  } else {
    s->piece += len; /* fray never sends so many: the reads will not match, and fray says so */
  }
}

/* What is left of fd's piece; the next queued one becomes the piece once
 * the server has taken a turn (a wait that was going to block) since the
 * last one was read. Caller holds the lock. */
static uint64_t piece_now(sfd_t *s, int fd) {
  if (s->piece || !s->queued || s->turn_at == g.turns)
    return s->piece;
  for (size_t i = 0; i < g.nq; i++)
    if (g.q[i].fd == fd) {
      s->piece = g.q[i].len;
      s->queued -= s->piece;
      memmove(&g.q[i], &g.q[i + 1], (g.nq - i - 1) * sizeof g.q[0]);
      g.nq--;
      break;
    }
  return s->piece;
}

/* fd's queued pieces are dropped (its descriptor goes away). */
static void unqueue(int fd) {
  size_t k = 0;
  for (size_t i = 0; i < g.nq; i++)
    if (g.q[i].fd != fd)
      g.q[k++] = g.q[i];
  g.nq = k;
  g.pending -= tab.fds[fd].queued;
  tab.fds[fd].queued = 0;
}

/* The server is about to block: the pieces held for its turn may go. */
static inline void turn(void) {
  if (g.exact)
    __atomic_add_fetch(&g.turns, 1, __ATOMIC_RELAXED);
}

static void set_room(sfd_t *s, int fd, uint64_t room);
static void unannounce(sfd_t *s, int fd, int consumed);

/* fray's ROOM: the client takes m->a bytes more from the moment it had
 * received m->b of them; what the server wrote since, still on its way,
 * counts against them. */
static void grant_room(const fray_shim_msg_t *m) {
  int fd = tab.port_fd[m->conn] - 1;
  sfd_t *s = &tab.fds[fd];
  uint64_t on_way = s->sent > m->b ? s->sent - m->b : 0;
  uint64_t room = m->a == FRAY_SHIM_NO_ROOM ? m->a : m->a > on_way ? m->a - on_way : 0;
  set_room(s, fd, room);
  g.activity++; /* a held wait wakes for it, and the IDLE fray waits for follows */
}

static void apply_msg(const fray_shim_msg_t *m) {
  int known = m->conn < 65536 && tab.port_fd[m->conn];
  if (m->type == FRAY_SHIM_MSG_PIECE && known) {
    announce(tab.port_fd[m->conn] - 1, m->a);
  } else if (m->type == FRAY_SHIM_MSG_WFAULT) {
    g.wfault = (m->a & 1) != 0;
    g.rgaps = (m->a & 2) != 0;
    g.rreset = (m->a & 4) != 0;
    g.rreset_rng = (m->a >> 32) ^ 0x5e7ULL;
    g.wfault_rng = m->b ^ 0x5eed;
    g.window = (m->a >> 8) & 0xffffff;
    g.runs++;
    /* Connections still open are an earlier run's, whose clients are gone:
     * no window, and the pieces the server did not read never arrive. */
    for (int fd = 0; fd <= g.maxfd; fd++)
      if (tab.fds[fd].conn) {
        set_room(&tab.fds[fd], fd, FRAY_SHIM_NO_ROOM);
        unannounce(&tab.fds[fd], fd, 1);
      }
  } else if (m->type == FRAY_SHIM_MSG_RGAP && known) {
    tab.fds[tab.port_fd[m->conn] - 1].gap = 1;
  } else if (m->type == FRAY_SHIM_MSG_NORESET) {
    g.noreset = m->conn;
  } else if (m->type == FRAY_SHIM_MSG_ROOM && known) {
    grant_room(m);
  }
}

/* Takes what fray sent, without waiting (caller holds the lock): a batch
 * per system call, so that finding nothing, the usual case, costs one. */
static void drain_ctl(void) {
  if (!g.exact || g.ctl < 0)
    return;
  enum { BATCH = 16 };
  fray_shim_msg_t m[BATCH];
  struct iovec v[BATCH];
  struct mmsghdr mm[BATCH];
  int n;
  do {
    for (int k = 0; k < BATCH; k++) {
      v[k] = (struct iovec){&m[k], sizeof m[k]};
      mm[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = &v[k], .msg_iovlen = 1}};
    }
    n = recvmmsg(g.ctl, mm, BATCH, MSG_DONTWAIT, NULL);
    for (int k = 0; k < n; k++)
      if (mm[k].msg_len == sizeof m[k])
        apply_msg(&m[k]);
  } while (n == BATCH || (n < 0 && errno == EINTR));
}

/* The fuzz mode's announcements and write faults, as if fray sent them. */
void fray__shim_apply(const fray_shim_msg_t *m) {
  pthread_mutex_lock(&g.lock);
  apply_msg(m);
  pthread_mutex_unlock(&g.lock);
}

uint64_t fray__shim_activity(void) {
  return __atomic_load_n(&g.activity, __ATOMIC_ACQUIRE);
}

int fray__shim_conn(unsigned peer_port, uint64_t *piece_left) {
  if (peer_port >= 65536 || !tab.port_fd[peer_port])
    return -1;
  int fd = tab.port_fd[peer_port] - 1;
  *piece_left = tab.fds[fd].piece + tab.fds[fd].queued;
  return fd;
}

/* A thread the shim has not seen yet is running from now on; it leaves
 * the count when it exits. */
static void thread_seen(void) {
  if (t_state != T_UNKNOWN)
    return;
  t_state = T_RUNNING;
  g.running++;
  g.threads++;
  pthread_setspecific(g.thread_key, &g);
}

/* Whether the announced bytes of every connection are there to read,
 * waiting up to ms for them (fray sends them right after their PIECE,
 * which may wake a held wait first). */
static int arrived(int ms) {
  for (int fd = 0; fd <= g.maxfd; fd++) {
    uint64_t n = tab.fds[fd].conn ? tab.fds[fd].piece + tab.fds[fd].queued : 0;
    for (int k = 0, there = 0; n && (ioctl(fd, FIONREAD, &there) || (uint64_t)there < n); k++) {
      struct pollfd p = {.fd = fd};
      if (k >= ms)
        return 0;
      real.poll(&p, 1, 1);
    }
  }
  return 1;
}

/* A held wait with pieces unread whose bytes are there (held_wait waited
 * for them, then looked again): the server does not read them while a
 * window stays full (it stops reading a client until its output is taken),
 * which the schedule cannot play: fray calls the run inexact and abandons
 * them, and they are dropped here. Caller holds the lock. */
static int stalled(void) {
  if (!__atomic_load_n(&g.listeners, __ATOMIC_RELAXED) || !arrived(0))
    return 0;
  for (int fd = 0; fd <= g.maxfd; fd++)
    if (tab.fds[fd].conn)
      unannounce(&tab.fds[fd], fd, 0);
  return 1;
}

/* Quiescent: every watched thread is blocked waiting and every announced
 * byte has been read (or will not be: stalled). Reported once per change
 * of activity. */
/* A wait held by a connection that has room now (fray's ROOM, taken from
 * the channel by another thread, or before the wait began) is as good as
 * running: it is about to write. Caller holds the lock. */
static int held_ready(void) {
  for (int fd = 0; g.nheld && fd <= g.maxfd; fd++)
    if (tab.fds[fd].held && tab.fds[fd].room)
      return 1;
  return 0;
}

static void maybe_idle(void) {
  int stall = 0;
  if (g.running == 0 && g.activity != g.idle_reported && !held_ready() &&
      (g.pending == 0 || (stall = stalled()))) {
    g.idle_reported = g.activity;
    /* A thread blocked in a read asked for more than a piece before it
     * was announced: pieces must come to it one at a time. */
    uint32_t who = (uint32_t)g.threads | (g.readers ? FRAY_SHIM_IDLE_READER : 0) |
                   (__atomic_load_n(&g.listeners, __ATOMIC_RELAXED) ? FRAY_SHIM_IDLE_WINDOW : 0) |
                   (stall ? FRAY_SHIM_IDLE_STALLED : 0);
    send_timed(FRAY_SHIM_MSG_IDLE, who, g.consumed, g.written, t_timer);
  }
}

/* A watched thread exits (a connection's thread in a thread-per-connection
 * server): if it was the last one running, the server is quiescent now,
 * and no wait will say so. */
static void thread_gone(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g.lock);
  if (t_state == T_RUNNING)
    g.running--;
  if (t_state != T_UNKNOWN)
    g.threads--;
  t_state = T_UNKNOWN;
  if (g.exact) {
    t_timer = g.wait_timer;
    maybe_idle();
    flush_out();
  }
  pthread_mutex_unlock(&g.lock);
}

/* A thread is about to block (poll, epoll_wait, select, accept or a
 * blocking read). Returns whether wait_leave() must follow. */
static int wait_enter(uint32_t timer) {
  if (!g.exact && g.logfd < 0)
    return 0;
  pthread_mutex_lock(&g.lock);
  if (g.logfd >= 0 && g.loglen)
    log_flush(); /* the log is current whenever the program waits */
  if (g.exact) {
    drain_ctl();
    thread_seen();
    if (t_state == T_RUNNING)
      g.running--;
    t_state = T_WAITING;
    t_timer = g.wait_timer = timer;
    maybe_idle();
    flush_out();
  }
  pthread_mutex_unlock(&g.lock);
  return 1;
}

static void wait_leave(int entered) {
  if (!entered)
    return;
  int e = errno;
  pthread_mutex_lock(&g.lock);
  if (t_state == T_WAITING) {
    t_state = T_RUNNING;
    g.running++;
  }
  pthread_mutex_unlock(&g.lock);
  errno = e;
}

/* ---- connections --------------------------------------------------------------- */

static int is_tcp(int fd, int *port, int local) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  int type = 0;
  socklen_t tl = sizeof type;
  if ((local ? getsockname(fd, (struct sockaddr *)&ss, &sl)
             : getpeername(fd, (struct sockaddr *)&ss, &sl)) < 0 ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
    return 0;
  if (ss.ss_family == AF_INET)
    *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  else if (ss.ss_family == AF_INET6)
    *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  else
    return 0;
  return 1;
}

/* fd is a new client connection (caller holds the lock); fake_port: the
 * port a socketpair's end poses with (fuzz mode), 0 for a real one. */
static void track(int fd, const char *how, unsigned fake_port) {
  if (fd < 0 || fd >= MAX_FD)
    return;
  int peer = (int)fake_port;
  if (!fake_port && !is_tcp(fd, &peer, 0))
    return;
  drain_ctl(); /* this run's window (WFAULT), which fray sent before it connected */
  sfd_t *s = &tab.fds[fd];
  memset(s, 0, sizeof *s);
  s->epfd = -1;
  s->fake = fake_port != 0;
  s->conn = ++g.nconn;
  s->peer_port = (uint16_t)peer;
  s->rrng = fray__shim_stream(g.pol.read_seed, s->conn);
  s->wrng = fray__shim_stream(g.pol.write_seed ^ 0x5eed, s->conn);
  s->room = g.exact && g.window ? g.window : FRAY_SHIM_NO_ROOM;
  tab.port_fd[peer] = fd + 1;
  if (fd > g.maxfd)
    g.maxfd = fd;
  g.activity++;
  thread_seen();
  send_msg(FRAY_SHIM_MSG_ACCEPT, s->conn, (uint64_t)peer, (uint64_t)g.port);
  logf_locked("conn %u %s peer port %d (pid %d)\n", s->conn, how, peer, (int)g.pid);
}

/* Reads and drops up to n bytes of fd without waiting, with the real
 * call (not the server's: nothing is reported). */
static void discard(int fd, uint64_t n) {
  char buf[4096];
  while (n) {
    struct iovec v = {buf, n < sizeof buf ? (size_t)n : sizeof buf};
    struct msghdr mh = {.msg_iov = &v, .msg_iovlen = 1};
    ssize_t r = real.recvmsg(fd, &mh, MSG_DONTWAIT);
    if (r <= 0)
      break;
    n -= (uint64_t)r;
  }
}

/* The pieces announced on fd that the server has not read are forgotten,
 * and their bytes read and dropped: they never arrive (counted as consumed
 * when fray still waits for them). Never more than is there: a read that
 * finds nothing would take a RST's error with it. Caller holds the lock. */
static void unannounce(sfd_t *s, int fd, int consumed) {
  uint64_t left = s->piece + s->queued;
  g.pending -= s->piece;
  g.consumed += consumed ? left : 0;
  s->piece = 0;
  unqueue(fd);
  int there = 0;
  if (left && !ioctl(fd, FIONREAD, &there) && there > 0)
    discard(fd, (uint64_t)there < left ? (uint64_t)there : left);
}

/* A connection closed with pieces still held for its turn: fray sent them
 * with the piece before, where a lockstep would have seen the server end
 * the connection first and sent nothing more. They are read and dropped,
 * so that the kernel ends the connection with a FIN, as then, and not
 * with the RST that unread bytes cause (which could take the server's
 * last answer with it). */
static void drop_held(int fd) {
  sfd_t *s = conn_of(fd);
  if (s && !s->piece && s->queued)
    discard(fd, s->queued);
}

/* The descriptor fd goes away (close, or dup2/dup3 over it). */
static void forget(int fd) {
  if (fd < 0 || fd >= MAX_FD)
    return;
  sfd_t *s = &tab.fds[fd];
  /* never tracked (all zero): left unwritten, so that a fuzz exec's close
   * of AFL's forkserver pipes costs no copy-on-write fault */
  static const sfd_t untouched;
  if (!s->conn && !s->listen && (s->epfd < 0 || !memcmp(s, &untouched, sizeof *s)))
    return;
  pthread_mutex_lock(&g.lock);
  if (s->conn) {
    uint64_t unread = s->piece + s->queued; /* announced, never to be read */
    g.pending -= s->piece;
    unqueue(fd);
    g.activity++;
    if (tab.port_fd[s->peer_port] == fd + 1)
      tab.port_fd[s->peer_port] = 0;
    send_msg(FRAY_SHIM_MSG_CLOSE, s->conn, unread, 0);
    logf_locked("conn %u close\n", s->conn);
    if (!s->room)
      __atomic_sub_fetch(&g.nfull, 1, __ATOMIC_RELAXED);
  }
  memset(s, 0, sizeof *s);
  s->epfd = -1;
  pthread_mutex_unlock(&g.lock);
}

/* Whether connections accepted on lfd are shaped: TCP, and on the port
 * fray names when it names one. Cached per listening descriptor. */
static int listen_shaped(int lfd) {
  if (lfd < 0 || lfd >= MAX_FD || g.role_client)
    return 0;
  if (!tab.fds[lfd].listen) {
    int port = 0;
    tab.fds[lfd].listen = is_tcp(lfd, &port, 1) && (!g.port || port == g.port) ? 1 : 2;
  }
  return tab.fds[lfd].listen == 1;
}

/* The registration the kernel holds for s: the server's, without EPOLLOUT
 * while the client's window is full. */
static struct epoll_event registered(const sfd_t *s) {
  struct epoll_event ev = s->ev;
  if (s->masked)
    ev.events &= ~(uint32_t)EPOLLOUT;
  return ev;
}

/* Edge-triggered registrations see no new edge for bytes the shim left in
 * the kernel (or for room it pretended was missing): re-arming with
 * EPOLL_CTL_MOD makes the kernel check the descriptor again and report it
 * if it is ready, as an edge would. */
static void rearm(sfd_t *s, int fd) {
  if (s->et && s->epfd >= 0) {
    struct epoll_event ev = registered(s);
    real.epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev);
  }
}

/* Fuzz mode, a client that reset (fray__shim_reset): the first read or
 * write after it fails with ECONNRESET, as after a TCP RST, which a
 * socketpair cannot carry; the later ones are the kernel's (end of
 * stream, EPIPE). Fuzz mode runs one thread: no lock. */
static int take_rst(sfd_t *s) {
  if (!s->rst)
    return 0;
  s->rst = 0;
  errno = ECONNRESET;
  return 1;
}

/* A connection is not writable while its client's window is full: its
 * epoll registration loses EPOLLOUT, and gets it back (EPOLL_CTL_MOD: the
 * kernel checks it again, a new edge for an edge-triggered one) once the
 * client reads. EPOLLEXCLUSIVE registrations cannot be modified. Caller
 * holds the lock. */
static void mask_epoll(sfd_t *s, int fd) {
  int want =
      !s->room && s->epfd >= 0 && (s->ev.events & EPOLLOUT) && !(s->ev.events & EPOLLEXCLUSIVE);
  if (want == s->masked)
    return;
  s->masked = (uint8_t)want;
  struct epoll_event ev = registered(s);
  if (real.epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev))
    s->masked = (uint8_t)!want;
}

/* The client of s now takes room bytes (FRAY_SHIM_NO_ROOM: any); while it
 * takes none, every wait is held (held_wait). Caller holds the lock. */
static void set_room(sfd_t *s, int fd, uint64_t room) {
  __atomic_add_fetch(&g.nfull, (!room) - (!s->room), __ATOMIC_RELAXED);
  s->room = room;
  mask_epoll(s, fd);
}

static int nonblocking(int fd, int flags) {
  return (flags & MSG_DONTWAIT) || (fcntl(fd, F_GETFL) & O_NONBLOCK);
}

/* ---- reads ---------------------------------------------------------------------- */

/* out = the bytes [skip, skip + cap) of the buffers in; returns their count. */
static int iov_window(const struct iovec *in, size_t nin, size_t skip, size_t cap,
                      struct iovec *out) {
  int n = 0;
  for (size_t i = 0; i < nin && cap && n < MAX_IOV; i++) {
    size_t l = in[i].iov_len;
    if (skip >= l) {
      skip -= l;
      continue;
    }
    size_t take = l - skip < cap ? l - skip : cap;
    out[n].iov_base = (char *)in[i].iov_base + skip;
    out[n++].iov_len = take;
    skip = 0;
    cap -= take;
  }
  return n;
}

static size_t iov_total(const struct iovec *v, size_t n) {
  size_t t = 0;
  for (size_t i = 0; i < n; i++)
    t += v[i].iov_len;
  return t;
}

/* One real read of at most cap bytes into mh's buffers from offset skip. */
static ssize_t read_window(int fd, struct msghdr *mh, int flags, size_t skip, size_t cap) {
  struct iovec win[MAX_IOV];
  struct msghdr w = *mh;
  w.msg_iov = win;
  w.msg_iovlen = (size_t)iov_window(mh->msg_iov, mh->msg_iovlen, skip, cap, win);
  if (skip) {
    w.msg_name = NULL;
    w.msg_namelen = 0;
    w.msg_control = NULL;
    w.msg_controllen = 0;
  }
  ssize_t r = real.recvmsg(fd, &w, flags);
  if (!skip) {
    mh->msg_namelen = w.msg_namelen;
    mh->msg_controllen = w.msg_controllen;
    mh->msg_flags = w.msg_flags;
  }
  return r;
}

/* Exact mode: the rest of a piece that arrived in parts is on its way
 * (fray sent it whole): wait for it, so that the server reads the piece in
 * one read as the schedule says. */
static ssize_t complete_piece(int fd, struct msghdr *mh, int flags, size_t got, size_t cap) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (got < cap) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    real.poll(&p, 1, 10);
    ssize_t r = read_window(fd, mh, flags | MSG_DONTWAIT, got, cap - got);
    if (r > 0)
      got += (size_t)r;
    else if (r == 0 || (errno != EAGAIN && errno != EINTR))
      break;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > COMPLETE_MS)
      break;
  }
  return (ssize_t)got;
}

/* How much one read on s may return under the standing policy. For random
 * cuts the pending bytes are peeked into the caller's own buffer (the read
 * overwrites them) so that cuts land where framing bugs live. */
static ssize_t policy_cap(sfd_t *s, int fd, struct msghdr *mh, int flags, size_t len, size_t *cap) {
  *cap = len;
  if (g.pol.reads == FRAY_SHIM_READS_MAX) {
    *cap = len < g.pol.max ? len : g.pol.max;
  } else if (g.pol.reads == FRAY_SHIM_READS_RANDOM && mh->msg_iov[0].iov_len) {
    struct iovec first = mh->msg_iov[0];
    struct msghdr p = {.msg_iov = &first, .msg_iovlen = 1};
    ssize_t n = real.recvmsg(fd, &p, (flags & ~MSG_WAITALL) | MSG_PEEK);
    if (n <= 0)
      return n; /* nothing there (EAGAIN), end of stream, or an error */
    pthread_mutex_lock(&g.lock);
    *cap = fray__shim_random_cut(&s->rrng, first.iov_base, (size_t)n);
    pthread_mutex_unlock(&g.lock);
  }
  return 1;
}

enum { CAP_GO = 0, CAP_WAITS, CAP_HELD };

/* Exact mode: the cap is what is left of the announced piece. A read with
 * nothing announced would block (a thread waiting for fray: CAP_WAITS) or
 * find nothing (CAP_GO, uncapped). The next piece of a send held for the
 * server's turn (piece_now) is not there yet for a non-blocking read
 * (CAP_HELD: EAGAIN); a blocking one is the turn. */
static int exact_cap(sfd_t *s, int fd, int flags, size_t len, size_t *cap) {
  pthread_mutex_lock(&g.lock);
  thread_seen();
  drain_ctl();
  int nb = -1;
  if (!s->piece && s->queued && s->turn_at == g.turns && !(nb = nonblocking(fd, flags)))
    turn();
  size_t left = (size_t)piece_now(s, fd);
  int held = !left && s->queued;
  pthread_mutex_unlock(&g.lock);
  if (held)
    return CAP_HELD;
  *cap = left && left < len ? left : len;
  if (left || (nb < 0 ? nonblocking(fd, flags) : nb))
    return CAP_GO;
  /* It blocks only if nothing (not even an end of stream) is there. */
  char c;
  struct iovec v = {&c, 1};
  struct msghdr p = {.msg_iov = &v, .msg_iovlen = 1};
  return real.recvmsg(fd, &p, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN ? CAP_WAITS : CAP_GO;
}

static void report_read(sfd_t *s, int fd, ssize_t r, size_t asked, size_t cap, int flags) {
  if (r < 0 && g.nout) {
    /* Found nothing: a program that polls its sockets without a wait the
     * shim watches must still have its reports sent. */
    pthread_mutex_lock(&g.lock);
    flush_out();
    pthread_mutex_unlock(&g.lock);
  }
  if (r < 0 || (flags & MSG_PEEK))
    return;
  pthread_mutex_lock(&g.lock);
  g.activity++;
  if (g.exact) {
    uint64_t take = (uint64_t)r < s->piece ? (uint64_t)r : s->piece;
    if ((uint64_t)r > s->piece)
      send_msg(FRAY_SHIM_MSG_INEXACT, s->conn, FRAY_SHIM_INEXACT_UNANNOUNCED, (uint64_t)r);
    s->piece -= take;
    g.pending -= take;
    g.consumed += (uint64_t)r;
    if (take && !s->piece)
      s->turn_at = g.turns; /* the next piece waits for the server's next turn */
  }
  /* Also from a forked child (not exact): fray learns who read. */
  send_msg(FRAY_SHIM_MSG_READ, s->conn, (uint64_t)r, asked);
  if (r == 0)
    logf_locked("conn %u read eof\n", s->conn);
  else
    logf_locked("conn %u read %zd (asked %zu)\n", s->conn, r, asked);
  pthread_mutex_unlock(&g.lock);
  if (r > 0 && (size_t)r == cap && cap < asked)
    rearm(s, fd);
  if (r == 0 && s->fake)
    fray__shim_fuzz_eof(s->peer_port);
}

/* Exact mode, a run with read gaps: a read that would block waits for the
 * piece without taking it, so that a gap fray asked for before it can come
 * first. Returns whether the read would still block (only a signal ended
 * the wait). */
static int await_piece(sfd_t *s, int fd, int flags, size_t len, size_t *cap) {
  int entered = wait_enter(FRAY_SHIM_NO_TIMER);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int r = real.poll(&p, 1, -1);
  wait_leave(entered);
  return r < 1 ? CAP_WAITS : exact_cap(s, fd, flags, len, cap);
}

/* Exact mode: the read of the announced piece finds nothing once when fray
 * asked for a gap before it (RGAP): -1 with EAGAIN, or EINTR on a blocking
 * socket, although the bytes are there. An edge-triggered registration is
 * re-armed, as it would be by the bytes' arrival. */
static int take_gap(sfd_t *s, int fd, int flags) {
  pthread_mutex_lock(&g.lock);
  int gap = s->gap && s->piece;
  if (gap) {
    s->gap = 0;
    logf_locked("conn %u read gap\n", s->conn);
  }
  pthread_mutex_unlock(&g.lock);
  if (!gap)
    return 0;
  errno = nonblocking(fd, flags) ? EAGAIN : EINTR;
  rearm(s, fd);
  return 1;
}

/* Every read of a client connection comes here, as a recvmsg. */
static ssize_t shaped_read(sfd_t *s, int fd, struct msghdr *mh, int flags) {
  size_t len = iov_total(mh->msg_iov, mh->msg_iovlen), cap = len;
  if (take_rst(s))
    return -1;
  if (!len || (flags & MSG_WAITALL) || s->reset)
    return real.recvmsg(fd, mh, flags); /* (reset: the RST's errors, unannounced) */
  int waits = 0;
  if (g.exact) {
    waits = exact_cap(s, fd, flags, len, &cap);
    while (waits == CAP_WAITS && fray__shim_fuzz_idle())
      waits = exact_cap(s, fd, flags, len, &cap); /* fuzz mode: the session goes on meanwhile */
    if (waits == CAP_WAITS && g.rgaps)
      waits = await_piece(s, fd, flags, len, &cap);
    if (waits == CAP_HELD) {
      rearm(s, fd); /* an edge-triggered loop must hear of it after its turn */
      errno = EAGAIN;
      return -1;
    }
    /* After piece_now(): a gap is for the piece this read would serve,
     * also one that waited in the queue. */
    if (!(flags & MSG_PEEK) && take_gap(s, fd, flags))
      return -1;
  } else {
    ssize_t p = policy_cap(s, fd, mh, flags, len, &cap);
    if (p <= 0) {
      report_read(s, fd, p, len, len, flags);
      return p;
    }
  }
  if (waits)
    __atomic_add_fetch(&g.readers, 1, __ATOMIC_RELAXED);
  int entered = waits ? wait_enter(FRAY_SHIM_NO_TIMER) : 0;
  ssize_t r = read_window(fd, mh, flags, 0, cap);
  wait_leave(entered);
  if (waits)
    __atomic_sub_fetch(&g.readers, 1, __ATOMIC_RELAXED);
  if (g.exact && r > 0) {
    /* A read that blocked began before fray announced the piece it
     * returns: the announcement is in the channel by now. (fray announces
     * before it sends, so any other read found it in exact_cap.) */
    pthread_mutex_lock(&g.lock);
    if (waits)
      drain_ctl();
    size_t left = (size_t)s->piece;
    pthread_mutex_unlock(&g.lock);
    size_t want = left < len ? left : len;
    if ((size_t)r < want)
      r = complete_piece(fd, mh, flags, (size_t)r, want);
  }
  int e = errno;
  report_read(s, fd, r, len, cap, flags);
  errno = e;
  return r;
}

static ssize_t read_buf(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                        socklen_t *fromlen) {
  struct iovec v = {buf, len};
  struct msghdr mh = {
      .msg_name = from, .msg_namelen = fromlen ? *fromlen : 0, .msg_iov = &v, .msg_iovlen = 1};
  ssize_t r = shaped_read(&tab.fds[fd], fd, &mh, flags);
  if (fromlen && r >= 0)
    *fromlen = mh.msg_namelen;
  return r;
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t len) {
  ensure();
  if (!conn_of(fd))
    return real.read(fd, buf, len);
  return read_buf(fd, buf, len, 0, NULL, NULL);
}

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen) {
  if (len > buflen)
    abort(); /* what _FORTIFY_SOURCE's check does: a buffer overflow */
  return read(fd, buf, len);
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags) {
  ensure();
  struct iovec v = {buf, len};
  struct msghdr mh = {.msg_iov = &v, .msg_iovlen = 1};
  if (!conn_of(fd))
    return real.recvmsg(fd, &mh, flags);
  return read_buf(fd, buf, len, flags, NULL, NULL);
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags) {
  if (len > buflen)
    abort();
  return recv(fd, buf, len, flags);
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                             socklen_t *fromlen) {
  ensure();
  if (!conn_of(fd)) {
    struct iovec v = {buf, len};
    struct msghdr mh = {
        .msg_name = from, .msg_namelen = fromlen ? *fromlen : 0, .msg_iov = &v, .msg_iovlen = 1};
    ssize_t r = real.recvmsg(fd, &mh, flags);
    if (fromlen && r >= 0)
      *fromlen = mh.msg_namelen;
    return r;
  }
  return read_buf(fd, buf, len, flags, from, fromlen);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                                   struct sockaddr *from, socklen_t *fromlen) {
  if (len > buflen)
    abort();
  return recvfrom(fd, buf, len, flags, from, fromlen);
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *mh, int flags) {
  ensure();
  if (!conn_of(fd))
    return real.recvmsg(fd, mh, flags);
  return shaped_read(&tab.fds[fd], fd, mh, flags);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt) {
  ensure();
  if (!conn_of(fd) || iovcnt <= 0)
    return real.readv(fd, iov, iovcnt);
  struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
  return shaped_read(&tab.fds[fd], fd, &mh, 0);
}

/* ---- writes ---------------------------------------------------------------------- */

/* The connections fd[0..n) hold a wait (d 1) or no longer do (d -1): see
 * held_ready(). Caller holds the lock. */
static void hold(const int *fd, int n, int d) {
  for (int i = 0; i < n; i++) {
    tab.fds[fd[i]].held = (uint8_t)(tab.fds[fd[i]].held + d);
    g.nheld += d;
  }
}

/* Whether one of the connections fd[0..n) has room. Caller holds the lock. */
static int any_room(const int *fd, int n) {
  for (int i = 0; i < n; i++)
    if (tab.fds[fd[i]].room)
      return 1;
  return 0;
}

/* A blocking write with no room waits for it, as one to a full socket
 * buffer does: a wait like any other (quiescence, the server's turn) that
 * watches the channel for fray's ROOM. The poll's bound is a backstop: a
 * thread of the server's may take the ROOM from the channel first. fray
 * gone: no more windows. */
static void await_room(sfd_t *s, int fd) {
  turn();
  pthread_mutex_lock(&g.lock);
  hold(&fd, 1, 1);
  pthread_mutex_unlock(&g.lock);
  __atomic_add_fetch(&g.listeners, 1, __ATOMIC_RELAXED);
  int entered = wait_enter(FRAY_SHIM_NO_TIMER); /* (it takes what fray sent) */
  struct pollfd p = {.fd = g.ctl, .events = POLLIN};
  if (!__atomic_load_n(&s->room, __ATOMIC_RELAXED))
    real.poll(&p, 1, 10);
  wait_leave(entered);
  __atomic_sub_fetch(&g.listeners, 1, __ATOMIC_RELAXED);
  pthread_mutex_lock(&g.lock);
  hold(&fd, 1, -1);
  pthread_mutex_unlock(&g.lock);
  if (p.revents & (POLLHUP | POLLERR)) {
    pthread_mutex_lock(&g.lock);
    set_room(s, fd, FRAY_SHIM_NO_ROOM);
    pthread_mutex_unlock(&g.lock);
  }
}

/* Exact mode, a window (FRAY_FAULT_WINDOW, `stops reading`): how much of
 * len bytes the client has room for; 0 (EAGAIN) only on a non-blocking
 * socket, as a blocking one waits for room (await_room). */
static size_t window_cap(sfd_t *s, int fd, int nb, size_t len) {
  pthread_mutex_lock(&g.lock);
  if (s->room < len)
    drain_ctl(); /* a ROOM fray sent while the server was busy */
  struct pollfd p = {.fd = fd};
  if (!s->room && real.poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP)))
    set_room(s, fd, FRAY_SHIM_NO_ROOM); /* the client is gone: the write fails as the kernel says */
  while (!s->room && !nb && g.ctl >= 0) {
    pthread_mutex_unlock(&g.lock);
    await_room(s, fd);
    pthread_mutex_lock(&g.lock);
    drain_ctl();
  }
  /* Fuzz mode: the session goes on meanwhile (the client reads when the
   * script waits on it), as while a blocking read waits. */
  for (int go = 1; !s->room && !nb && g.ctl < 0 && go;) {
    pthread_mutex_unlock(&g.lock);
    go = fray__shim_fuzz_idle();
    pthread_mutex_lock(&g.lock);
  }
  size_t cap = s->room < len ? (size_t)s->room : len;
  pthread_mutex_unlock(&g.lock);
  return cap;
}

/* How much of len bytes this write may hand to the kernel: what the
 * client's window has room for, then 1-16 of that under short writes; 0
 * for an EAGAIN. The window comes first and a write it refuses draws
 * nothing, as in the simulator, so that the same schedule draws the same
 * short writes. */
static size_t write_cap(sfd_t *s, int fd, int flags, size_t len) {
  int faults = g.exact ? g.wfault : g.pol.short_writes;
  int windowed = g.exact && (g.window || s->room != FRAY_SHIM_NO_ROOM);
  if ((!faults && !windowed) || !len)
    return len;
  int nb = nonblocking(fd, flags);
  if (windowed && !(len = window_cap(s, fd, nb, len)))
    return 0;
  if (!faults)
    return len;
  pthread_mutex_lock(&g.lock);
  size_t take = fray__shim_write_take(g.exact ? &g.wfault_rng : &s->wrng, len, nb);
  pthread_mutex_unlock(&g.lock);
  return take;
}

static void report_write(sfd_t *s, ssize_t r, size_t offered) {
  pthread_mutex_lock(&g.lock);
  g.activity++;
  if (r > 0) {
    s->sent += (uint64_t)r;
    if (s->room != FRAY_SHIM_NO_ROOM)
      set_room(s, (int)(s - tab.fds), s->room > (uint64_t)r ? s->room - (uint64_t)r : 0);
    g.written += (uint64_t)r;
    send_msg(FRAY_SHIM_MSG_WRITE, s->conn, (uint64_t)r, offered);
    logf_locked("conn %u write %zd of %zu\n", s->conn, r, offered);
  } else if (r < 0 && errno == EAGAIN) {
    logf_locked("conn %u write EAGAIN (%zu offered)\n", s->conn, offered);
  }
  pthread_mutex_unlock(&g.lock);
}

/* Exact mode, reset-mid-write armed: in one write in eight (once a run,
 * the simulator's draw) the client resets while the server writes to it,
 * after taking a drawn prefix of the cap bytes (maybe none) into *cap.
 * Returns whether it struck. */
static int reset_draw(size_t *cap) {
  pthread_mutex_lock(&g.lock);
  int strike = 0;
  if (g.rreset) {
    uint64_t r = fray__shim_rand(&g.rreset_rng);
    if (!(r & 7)) {
      strike = 1;
      g.rreset = 0;
      *cap = (size_t)((r >> 3) % *cap);
    }
  }
  pthread_mutex_unlock(&g.lock);
  return strike;
}

/* After a RESET: waits until fray's RST has reached fd (1), or fray said
 * the client had left already, a new run began, the channel closed or the
 * backstop passed (0). The channel is drained meanwhile. In fuzz mode the
 * client is in this process (a socketpair's end): it resets at once. */
static int await_reset(sfd_t *s, int fd) {
  if (s->fake)
    return fray__shim_fuzz_struck(s->peer_port); /* the client is in this process: at once */
  pthread_mutex_lock(&g.lock);
  uint64_t run = g.runs;
  pthread_mutex_unlock(&g.lock);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct pollfd p[2] = {{.fd = fd}, {.fd = g.ctl, .events = POLLIN}};
    real.poll(p, 2, 50);
    if (p[0].revents & (POLLERR | POLLHUP))
      return 1;
    pthread_mutex_lock(&g.lock);
    drain_ctl();
    int declined = g.noreset == s->conn || g.runs != run;
    if (g.noreset == s->conn)
      g.noreset = 0;
    pthread_mutex_unlock(&g.lock);
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (declined || (p[1].revents & (POLLERR | POLLHUP)) ||
        (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > RESET_MS)
      return 0;
  }
}

/* The client reset: what it sent that the server had not read yet never
 * arrives (its later steps are dropped, as in the simulator): the pieces
 * announced are forgotten and their bytes, there before the RST, read and
 * dropped, leaving the RST's error for the server's next call. From now on
 * the connection's calls are the kernel's alone. */
static void drop_unread(sfd_t *s, int fd) {
  pthread_mutex_lock(&g.lock);
  unannounce(s, fd, 0); /* (fray abandons them) */
  s->reset = 1;
  g.activity++;
  pthread_mutex_unlock(&g.lock);
}

/* Exact mode: reset-mid-write struck this write of len bytes, of which the
 * client takes cap before it resets. They are written, fray hears of it
 * (RESET) and resets its socket, and the write returns once the RST is
 * there: every later call on the connection gets what the kernel gives
 * after a reset (a write ECONNRESET, then EPIPE with SIGPIPE unless
 * MSG_NOSIGNAL or ignored; a read ECONNRESET, then 0). A write that takes
 * nothing is made after the RST: the kernel's ECONNRESET. A write that
 * fails before (the peer was gone already) is no fault. */
static ssize_t reset_write(sfd_t *s, int fd, const struct msghdr *mh, int flags, size_t len,
                           size_t cap) {
  ssize_t r = 0;
  if (cap) {
    struct iovec win[MAX_IOV];
    struct msghdr w = *mh;
    w.msg_iov = win;
    w.msg_iovlen = (size_t)iov_window(mh->msg_iov, mh->msg_iovlen, 0, cap, win);
    r = real.sendmsg(fd, &w, flags);
  } else {
    struct pollfd p = {.fd = fd};
    if (real.poll(&p, 1, 0) > 0)
      r = -1; /* reset or closed already: the write below is the kernel's */
  }
  if (r < 0) {
    r = cap ? r : real.sendmsg(fd, mh, flags);
    int e = errno;
    report_write(s, r, len);
    errno = e;
    return r;
  }
  report_write(s, r, len);
  pthread_mutex_lock(&g.lock);
  send_msg(FRAY_SHIM_MSG_RESET, s->conn, (uint64_t)r, len);
  logf_locked("conn %u reset after %zd of %zu\n", s->conn, r, len);
  pthread_mutex_unlock(&g.lock);
  if (await_reset(s, fd))
    drop_unread(s, fd);
  if (!cap) {
    r = take_rst(s) ? -1 : real.sendmsg(fd, mh, flags);
    int e = errno;
    report_write(s, r, len);
    errno = e;
  }
  return r;
}

/* Every write of a client connection comes here, as a sendmsg. */
static ssize_t shaped_write(sfd_t *s, int fd, const struct msghdr *mh, int flags) {
  if (take_rst(s))
    return -1;
  size_t len = iov_total(mh->msg_iov, mh->msg_iovlen);
  size_t cap = write_cap(s, fd, flags, len);
  if (cap && g.exact && __atomic_load_n(&g.rreset, __ATOMIC_RELAXED) && !s->reset &&
      reset_draw(&cap))
    return reset_write(s, fd, mh, flags, len, cap);
  ssize_t r;
  if (!cap && len) {
    errno = EAGAIN;
    r = -1;
  } else {
    struct iovec win[MAX_IOV];
    struct msghdr w = *mh;
    w.msg_iov = win;
    w.msg_iovlen = (size_t)iov_window(mh->msg_iov, mh->msg_iovlen, 0, cap, win);
    r = real.sendmsg(fd, &w, flags);
  }
  int e = errno;
  report_write(s, r, len);
  if (cap < len && s->room)
    rearm(s, fd); /* room the server was told was missing is there (not a full window's) */
  errno = e;
  return r;
}

static ssize_t write_buf(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
                         socklen_t tolen) {
  struct iovec v = {(void *)buf, len};
  struct msghdr mh = {.msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &v, .msg_iovlen = 1};
  if (!conn_of(fd))
    return real.sendmsg(fd, &mh, flags);
  return shaped_write(&tab.fds[fd], fd, &mh, flags);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t len) {
  ensure();
  if (!conn_of(fd))
    return real.write(fd, buf, len);
  return write_buf(fd, buf, len, 0, NULL, 0);
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags) {
  ensure();
  return write_buf(fd, buf, len, flags, NULL, 0);
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
                           const struct sockaddr *to, socklen_t tolen) {
  ensure();
  return write_buf(fd, buf, len, flags, to, tolen);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *mh, int flags) {
  ensure();
  if (!conn_of(fd))
    return real.sendmsg(fd, mh, flags);
  return shaped_write(&tab.fds[fd], fd, mh, flags);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  ensure();
  if (!conn_of(fd) || iovcnt <= 0)
    return real.writev(fd, iov, iovcnt);
  struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
  return shaped_write(&tab.fds[fd], fd, &mh, 0);
}

/* sendfile to a client connection is capped like a write (the bytes come
 * from a file, so there is nothing to cut but the count). */
SHIM_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count) {
  ensure();
  sfd_t *s = conn_of(out);
  if (!s)
    return real.sendfile(out, in, off, count);
  if (take_rst(s))
    return -1;
  size_t cap = write_cap(s, out, 0, count);
  ssize_t r;
  if (!cap && count) {
    errno = EAGAIN;
    r = -1;
  } else {
    r = real.sendfile(out, in, off, cap);
  }
  int e = errno;
  report_write(s, r, count);
  errno = e;
  return r;
}

SHIM_EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count) {
  return sendfile(out, in, off, count);
}

/* ---- fuzz mode: clients on socketpairs ------------------------------------------- */

/* In fuzz mode each client is one end of an AF_UNIX socketpair whose other
 * end the server accepts from its listening socket (fray__shim_pend): no
 * TCP handshake, no loopback segments, no TIME_WAIT, and the whole
 * exchange stays in this process. The server cannot tell: its waits find
 * the listening socket readable while a connection waits there (the
 * *_ready functions, one per kind of wait), accept returns it, and the
 * connection's addresses and TCP options are TCP's (getpeername and the
 * rest below). fray__shim_reset stands in for an RST. Fuzz mode runs one
 * thread (fuzz.c ends a server that starts another): no lock here. */

int fray__shim_pend(int lfd, int local_port, int fd, unsigned peer_port) {
  if (g.npend == PEND_MAX || !peer_port || peer_port > 65535)
    return -1;
  g.pend_lfd = lfd;
  g.pend_local = local_port;
  g.pend[g.npend].fd = fd;
  g.pend[g.npend++].port = (uint16_t)peer_port;
  g.pend_new = 1;
  return 0;
}

void fray__shim_reset(unsigned peer_port) {
  uint64_t left;
  int fd = fray__shim_conn(peer_port, &left);
  if (fd >= 0 && tab.fds[fd].fake) {
    drop_unread(&tab.fds[fd], fd);
    tab.fds[fd].rst = 1;
  }
}

/* A connection waits on the listening socket fd. */
static inline int pend_on(int fd) {
  return g.npend && fd == g.pend_lfd;
}

/* The entry of p that waits for input on the listening socket with a
 * connection waiting, or NULL. */
static struct pollfd *pend_pollfd(struct pollfd *p, nfds_t n) {
  for (nfds_t i = 0; g.npend && i < n; i++)
    if (pend_on(p[i].fd) && (p[i].events & POLLIN))
      return &p[i];
  return NULL;
}

static void hide_writable(struct pollfd *q, const struct pollfd *p, nfds_t n);

/* Fuzz mode, a client's window full: a ppoll that does not wait, without
 * POLLOUT for a connection whose client has no room (there is no control
 * channel to hold waits on: the session gives the room while the server
 * would block; one thread, so hide_writable needs no lock). */
static int poll_hidden(struct pollfd *p, nfds_t n, const sigset_t *mask) {
  static const struct timespec zero;
  struct pollfd few[16], *q = n <= 16 ? few : malloc(n * sizeof *q);
  if (!q)
    return real.ppoll(p, n, &zero, mask);
  hide_writable(q, p, n);
  int r = real.ppoll(q, n, &zero, mask);
  for (nfds_t i = 0; r >= 0 && i < n; i++)
    p[i].revents = q[i].revents;
  if (q != few)
    free(q);
  return r;
}

/* select's write set without the connections whose client has no room
 * (fuzz mode, as poll_hidden). */
static void hide_selected(int n, fd_set *w) {
  for (int fd = 0; w && fd < n && fd < FD_SETSIZE; fd++) {
    const sfd_t *s = conn_of(fd);
    if (s && !s->room)
      FD_CLR(fd, w);
  }
}

/* A poll (a ppoll, given a mask) that does not wait, the listening socket
 * readable in it while a connection waits there. */
static int poll_now(struct pollfd *p, nfds_t n, const sigset_t *mask) {
  static const struct timespec zero;
  int r = __atomic_load_n(&g.nfull, __ATOMIC_RELAXED) ? poll_hidden(p, n, mask)
          : mask                                      ? real.ppoll(p, n, &zero, mask)
                                                      : real.poll(p, n, 0);
  struct pollfd *lp = pend_pollfd(p, n);
  if (lp && r >= 0 && !(lp->revents & POLLIN)) {
    r += !lp->revents;
    lp->revents |= POLLIN;
  }
  return r;
}

static int pend_selected(int n, fd_set *r) {
  return g.npend && r && g.pend_lfd < n && FD_ISSET(g.pend_lfd, r);
}

/* A select that does not wait, the listening socket readable in it
 * (pend_selected). */
static int select_ready(int n, fd_set *r, fd_set *w, fd_set *x) {
  struct timeval zero = {0, 0};
  if (__atomic_load_n(&g.nfull, __ATOMIC_RELAXED))
    hide_selected(n, w);
  int rc = real.select(n, r, w, x, &zero);
  if (rc >= 0 && !FD_ISSET(g.pend_lfd, r)) {
    FD_SET(g.pend_lfd, r);
    rc++;
  }
  return rc;
}

/* Whether epfd must report the listening socket readable: it is
 * registered there for input and a connection waits (edge-triggered or
 * one-shot: one that came since the last report). */
static int pend_epolled(int epfd) {
  if (!g.npend || g.pend_lfd < 0 || g.pend_lfd >= MAX_FD)
    return 0;
  const sfd_t *s = &tab.fds[g.pend_lfd];
  return s->epfd == epfd && (s->ev.events & EPOLLIN) &&
         (g.pend_new || !(s->ev.events & (EPOLLET | EPOLLONESHOT)));
}

/* An epoll_wait (epoll_pwait with a mask) that does not wait, with the
 * listening socket's event added when pend_epolled says so (and there is
 * room: else the next wait). */
static int epoll_now(int epfd, struct epoll_event *evs, int n, const sigset_t *mask) {
  int ready = pend_epolled(epfd);
  int r = mask ? real.epoll_pwait(epfd, evs, n, 0, mask) : real.epoll_wait(epfd, evs, n, 0);
  if (!ready || r < 0 || r >= n)
    return r;
  g.pend_new = 0;
  evs[r].events = EPOLLIN;
  evs[r].data = tab.fds[g.pend_lfd].ev.data;
  return r + 1;
}

/* addr gets 127.0.0.1:port, as much of it as *len holds (getpeername's
 * contract). */
static int fake_name(struct sockaddr *addr, socklen_t *len, unsigned port) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (addr && len)
    memcpy(addr, &a, *len < sizeof a ? *len : sizeof a);
  if (len)
    *len = sizeof a;
  return 0;
}

/* accept's answer when a connection waits: the first one, with the flags
 * asked (the pair was made close-on-exec and blocking). */
static int pend_accept(struct sockaddr *addr, socklen_t *len, int flags) {
  int fd = g.pend[0].fd;
  unsigned port = g.pend[0].port;
  memmove(g.pend, g.pend + 1, --g.npend * sizeof g.pend[0]);
  if (((flags & SOCK_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK)) ||
      (!(flags & SOCK_CLOEXEC) && fcntl(fd, F_SETFD, 0)))
    return -1;
  fake_name(addr, len, port);
  pthread_mutex_lock(&g.lock);
  track(fd, "accept", port);
  pthread_mutex_unlock(&g.lock);
  return fd;
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len) {
  ensure();
  sfd_t *s = conn_of(fd);
  return s && s->fake ? fake_name(addr, len, s->peer_port) : real.getpeername(fd, addr, len);
}

SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len) {
  ensure();
  sfd_t *s = conn_of(fd);
  return s && s->fake ? fake_name(addr, len, (unsigned)g.pend_local)
                      : real.getsockname(fd, addr, len);
}

/* On a socketpair's end posing as TCP: the domain and protocol are TCP's,
 * a reset shows in SO_ERROR, and TCP's and IP's options read as zeros. */
SHIM_EXPORT int getsockopt(int fd, int level, int opt, void *val, socklen_t *len) {
  ensure();
  sfd_t *s = conn_of(fd);
  int sol = level == SOL_SOCKET;
  if (!s || !s->fake || !val || !len ||
      (sol ? opt != SO_DOMAIN && opt != SO_PROTOCOL && !(opt == SO_ERROR && s->rst)
           : level != IPPROTO_TCP && level != IPPROTO_IP))
    return real.getsockopt(fd, level, opt, val, len);
  int v = !sol ? 0 : opt == SO_DOMAIN ? AF_INET : opt == SO_PROTOCOL ? IPPROTO_TCP : ECONNRESET;
  s->rst = sol && opt == SO_ERROR ? 0 : s->rst;
  memset(val, 0, *len);
  memcpy(val, &v, *len < sizeof v ? *len : sizeof v);
  if (sol)
    *len = *len < sizeof v ? *len : sizeof v;
  return 0;
}

SHIM_EXPORT int setsockopt(int fd, int level, int opt, const void *val, socklen_t len) {
  ensure();
  sfd_t *s = conn_of(fd);
  if (s && s->fake && (level == IPPROTO_TCP || level == IPPROTO_IP))
    return 0; /* TCP_NODELAY and the like: nothing to do on a socketpair */
  return real.setsockopt(fd, level, opt, val, len);
}

/* ---- connections: accept, connect, close ------------------------------------------ */

static int accepted(int lfd, int fd) {
  if (fd >= 0 && listen_shaped(lfd)) {
    int e = errno;
    pthread_mutex_lock(&g.lock);
    track(fd, "accept", 0);
    pthread_mutex_unlock(&g.lock);
    errno = e;
  }
  return fd;
}

SHIM_EXPORT int accept4(int lfd, struct sockaddr *addr, socklen_t *len, int flags) {
  ensure();
  struct pollfd p = {.fd = lfd, .events = POLLIN};
  int blocking = listen_shaped(lfd) && !(fcntl(lfd, F_GETFL) & O_NONBLOCK);
  if (g.exact && blocking)
    while (!pend_on(lfd) && real.poll(&p, 1, 0) == 0 && fray__shim_fuzz_idle())
      ; /* fuzz mode: the session runs while the server would block */
  if (pend_on(lfd))
    return pend_accept(addr, len, flags);
  if (lfd == g.pend_lfd && !blocking) {
    errno = EAGAIN; /* (the kernel's accept makes a socket first, to find none) */
    return -1;
  }
  int entered =
      blocking && (!g.exact || real.poll(&p, 1, 0) == 0) ? wait_enter(FRAY_SHIM_NO_TIMER) : 0;
  if (entered)
    turn();
  int fd = real.accept4(lfd, addr, len, flags);
  wait_leave(entered);
  return accepted(lfd, fd);
}

SHIM_EXPORT int accept(int lfd, struct sockaddr *addr, socklen_t *len) {
  return accept4(lfd, addr, len, 0);
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  ensure();
  int r = real.connect(fd, addr, len);
  if (g.role_client && (r == 0 || errno == EINPROGRESS) && addr &&
      (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) {
    int e = errno;
    int port = ntohs(((const struct sockaddr_in *)addr)->sin_port); /* same offset in v6 */
    if (!g.port || port == g.port) {
      pthread_mutex_lock(&g.lock);
      track(fd, "connect", 0);
      pthread_mutex_unlock(&g.lock);
    }
    errno = e;
  }
  return r;
}

/* fray waits for this to know the server is ready: no polling of the
 * kernel's socket tables, and no race with the HELLO that came first. */
SHIM_EXPORT int listen(int fd, int backlog) {
  ensure();
  int r = real.listen(fd, backlog);
  int port = 0, tcp = r == 0 && is_tcp(fd, &port, 1);
  if (tcp && fd < MAX_FD) /* listen_shaped's answer, found once (not in every fork) */
    tab.fds[fd].listen = !g.port || port == g.port ? 1 : 2;
  if (tcp && (!g.port || port == g.port))
    fray__shim_fuzz_listen(fd, port);
  if (tcp && g.ctl >= 0) {
    int e = errno;
    pthread_mutex_lock(&g.lock);
    send_msg(FRAY_SHIM_MSG_LISTEN, 0, (uint64_t)port, 0);
    pthread_mutex_unlock(&g.lock);
    errno = e;
  }
  return r;
}

SHIM_EXPORT int close(int fd) {
  ensure();
  /* Daemons close every descriptor at start; the shim's own stay open. */
  if (fd >= 0 && (fd == g.ctl || fd == g.logfd))
    return 0;
  drop_held(fd);
  forget(fd);
  return real.close(fd);
}

SHIM_EXPORT int dup2(int from, int to) {
  ensure();
  if (to == g.ctl || to == g.logfd) {
    errno = EBUSY;
    return -1;
  }
  forget(to);
  return real.dup2(from, to);
}

SHIM_EXPORT int dup3(int from, int to, int flags) {
  ensure();
  if (to == g.ctl || to == g.logfd) {
    errno = EBUSY;
    return -1;
  }
  forget(to);
  return real.dup3(from, to, flags);
}

/* ---- readiness: every blocking wait is where quiescence shows ----------------------- */

/* The shim records each connection's registration (rearm, mask_epoll); a
 * connection whose client's window is full is registered without the
 * EPOLLOUT asked for until the client reads. */
SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
  ensure();
  if (fd < 0 || fd >= MAX_FD)
    return real.epoll_ctl(epfd, op, fd, ev);
  pthread_mutex_lock(&g.lock);
  sfd_t *s = &tab.fds[fd];
  int set = op != EPOLL_CTL_DEL && ev;
  struct epoll_event kev = set ? *ev : (struct epoll_event){0};
  int hide =
      set && s->conn && !s->room && (kev.events & EPOLLOUT) && !(kev.events & EPOLLEXCLUSIVE);
  if (hide)
    kev.events &= ~(uint32_t)EPOLLOUT;
  int r = real.epoll_ctl(epfd, op, fd, set ? &kev : ev);
  if (r == 0 && !set) {
    s->epfd = -1;
    s->et = s->masked = 0;
  } else if (r == 0) {
    s->epfd = epfd;
    s->ev = *ev;
    s->et = (ev->events & EPOLLET) && !(ev->events & (EPOLLONESHOT | EPOLLEXCLUSIVE));
    s->masked = (uint8_t)hide;
  }
  pthread_mutex_unlock(&g.lock);
  return r;
}

/* ---- held waits: a full window hides a connection's writability ------------------- */

static int ts_zero(const struct timespec *t) {
  return t && !t->tv_sec && !t->tv_nsec;
}

/* Whether waits are held: exact mode, some client's window is full. */
static int held(void) {
  return g.exact && g.ctl >= 0 && __atomic_load_n(&g.nfull, __ATOMIC_RELAXED) > 0;
}

/* q = p as the kernel should be asked: no POLLOUT for a connection whose
 * client has no room. Caller holds the lock. */
static void hide_writable(struct pollfd *q, const struct pollfd *p, nfds_t n) {
  for (nfds_t i = 0; i < n; i++) {
    q[i] = p[i];
    const sfd_t *s = conn_of(p[i].fd);
    if (s && !s->room)
      q[i].events &= (short)~(POLLOUT | POLLWRNORM | POLLWRBAND);
  }
}

/* What is left until end (zero once it passed). */
static struct timespec until(const struct timespec *end) {
  struct timespec now, left = {0, 0};
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long ns = (end->tv_sec - now.tv_sec) * 1000000000LL + (end->tv_nsec - now.tv_nsec);
  if (ns > 0)
    left = (struct timespec){(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
  return left;
}

/* The one readiness fix-up of held waits, which every wait wrapper comes
 * to while held() (as a ppoll on p: select's sets as pollfds, an epoll
 * descriptor as itself). A connection whose client has no room is not
 * writable (hide_writable; its epoll registration lost EPOLLOUT already:
 * mask_epoll), and the control channel is watched too, so that fray's
 * ROOM, when the client reads, wakes the wait, which then looks again with
 * the room given. As PROBE, the wait is made without a timeout first and
 * counts as quiescence only when that finds nothing. Returns as ppoll. */
/* The connections whose room would end a held wait on q (hidden: its
 * pollfds whose events differ from p's), or on the epoll set epfd (its
 * connections registered without room), into fd (at most max). Caller
 * holds the lock. */
static int holding(const struct pollfd *q, const struct pollfd *p, nfds_t n, int epfd, int *fd,
                   int max) {
  int k = 0;
  for (nfds_t i = 0; epfd < 0 && i < n && k < max; i++)
    if (q[i].events != p[i].events)
      fd[k++] = p[i].fd;
  for (int f = 0; epfd >= 0 && f <= g.maxfd && k < max; f++)
    if (tab.fds[f].conn && !tab.fds[f].room && tab.fds[f].epfd == epfd)
      fd[k++] = f;
  return k;
}

static int held_wait(struct pollfd *p, nfds_t n, const struct timespec *t, const sigset_t *mask,
                     uint32_t timer, int epfd) {
  static const struct timespec zero;
  struct pollfd few[16], *q = n < 16 ? few : malloc((n + 1) * sizeof *q);
  if (!q)
    return real.ppoll(p, n, t, mask);
  struct timespec end = {0, 0}, left;
  if (t && !ts_zero(t)) {
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += t->tv_sec + (end.tv_nsec + t->tv_nsec) / 1000000000L;
    end.tv_nsec = (end.tv_nsec + t->tv_nsec) % 1000000000L;
  }
  int r, probe = 1, woke, direct = 0, awaited = 0;
  for (;;) {
    pthread_mutex_lock(&g.lock);
    drain_ctl();
    hide_writable(q, p, n);
    pthread_mutex_unlock(&g.lock);
    q[n] = (struct pollfd){.fd = g.ctl, .events = POLLIN};
    if (!probe && t)
      left = until(&end);
    int entered = 0, hfd[64], nh = 0;
    if (!probe) {
      pthread_mutex_lock(&g.lock);
      hold(hfd, nh = holding(q, p, n, epfd, hfd, 64), 1);
      pthread_mutex_unlock(&g.lock);
      __atomic_add_fetch(&g.listeners, 1, __ATOMIC_RELAXED);
      entered = wait_enter(timer);
      pthread_mutex_lock(&g.lock);
      int ready = any_room(hfd, nh); /* (a ROOM taken in wait_enter) */
      pthread_mutex_unlock(&g.lock);
      r = ready ? 1 : real.ppoll(q, n + 1, t ? &left : NULL, mask);
      q[n].revents = ready ? POLLIN : q[n].revents;
      wait_leave(entered);
      __atomic_sub_fetch(&g.listeners, 1, __ATOMIC_RELAXED);
      pthread_mutex_lock(&g.lock);
      hold(hfd, nh, -1);
      pthread_mutex_unlock(&g.lock);
    } else {
      r = real.ppoll(q, n + 1, &zero, mask);
    }
    woke = r > 0 && q[n].revents;
    if (woke && (q[n].revents & (POLLHUP | POLLERR | POLLNVAL))) {
      r = real.ppoll(p, n, t, mask); /* fray is gone: windows with it */
      direct = 1;
      break;
    }
    r -= woke;
    /* Something ready, an error, a timeout, or a probe all that was asked. */
    if (r || (!woke && (!probe || ts_zero(t))))
      break;
    if (!woke && !awaited && __atomic_load_n(&g.pending, __ATOMIC_RELAXED)) {
      awaited = 1; /* pieces announced: look again once their bytes are there (stalled) */
      pthread_mutex_lock(&g.lock);
      arrived(100);
      pthread_mutex_unlock(&g.lock);
      continue;
    }
    awaited &= !woke;
    probe = woke; /* fray's word: look again; nothing: the real wait */
  }
  for (nfds_t i = 0; r >= 0 && !direct && i < n; i++)
    p[i].revents = q[i].revents;
  if (q != few)
    free(q);
  return r;
}

/* epoll while held: its descriptor is readable when an event is ready. */
static int held_epoll(int epfd, struct epoll_event *evs, int n, const struct timespec *t,
                      const sigset_t *mask, uint32_t timer) {
  for (;;) {
    struct pollfd p = {.fd = epfd, .events = POLLIN};
    int r = held_wait(&p, 1, t, mask, timer, epfd);
    if (r <= 0)
      return r;
    r = real.epoll_wait(epfd, evs, n, 0);
    if (r || ts_zero(t))
      return r; /* (none: another thread took them first) */
  }
}

/* select while held: its sets as pollfds, and back. */
static int held_select(int n, fd_set *r, fd_set *w, fd_set *x, const struct timespec *t,
                       const sigset_t *mask, uint32_t timer) {
  struct pollfd *p = malloc((n > 0 ? (size_t)n : 1) * sizeof *p);
  if (!p)
    return errno = ENOMEM, -1;
  nfds_t k = 0;
  for (int fd = 0; fd < n && fd < FD_SETSIZE; fd++) {
    short ev = (short)((r && FD_ISSET(fd, r) ? POLLIN : 0) | (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
                       (x && FD_ISSET(fd, x) ? POLLPRI : 0));
    if (ev)
      p[k++] = (struct pollfd){.fd = fd, .events = ev};
  }
  int rc = held_wait(p, k, t, mask, timer, -1);
  for (nfds_t i = 0; rc >= 0 && i < k; i++)
    if (p[i].revents & POLLNVAL)
      rc = -1, errno = EBADF;
  if (rc >= 0) {
    fd_set *sets[3] = {r, w, x};
    for (int j = 0; j < 3; j++)
      if (sets[j])
        FD_ZERO(sets[j]);
    rc = 0;
    for (nfds_t i = 0; i < k; i++) {
      short e = p[i].revents, asked = p[i].events;
      int hit[3] = {(asked & POLLIN) && (e & (POLLIN | POLLHUP | POLLERR)),
                    (asked & POLLOUT) && (e & (POLLOUT | POLLERR)),
                    (asked & POLLPRI) && (e & POLLPRI)};
      for (int j = 0; j < 3; j++)
        if (hit[j]) {
          FD_SET(p[i].fd, sets[j]);
          rc++;
        }
    }
  }
  free(p);
  return rc;
}

/* A wait's timeout as IDLE reports it (negative: none; clamped). */
static uint32_t ms_timer(int ms) {
  return ms < 0 || ms > 3600000 ? FRAY_SHIM_NO_TIMER : (uint32_t)ms;
}

/* In exact mode a wait counts as quiescence only if it is going to block:
 * a server waiting for room to write (after an EAGAIN) or with events
 * already pending is not idle. So the wait is first made without a
 * timeout; only when nothing is ready is quiescence reported and the real
 * wait made. */
#define PROBE(call)                                                                                \
  do {                                                                                             \
    while (g.exact) {                                                                              \
      int probe_ = (call);                                                                         \
      if (probe_ != 0)                                                                             \
        return probe_;                                                                             \
      if (!fray__shim_fuzz_idle())                                                                 \
        break;                                                                                     \
    }                                                                                              \
  } while (0)

/* A poll timeout in ms as a timespec (NULL: none). */
static const struct timespec *ms_ts(int ms, struct timespec *buf) {
  if (ms < 0)
    return NULL;
  *buf = (struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L};
  return buf;
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *evs, int n, int timeout) {
  ensure();
  if (pend_epolled(epfd))
    return epoll_now(epfd, evs, n, NULL);
  struct timespec ts;
  if (timeout)
    turn();
  if (held())
    return held_epoll(epfd, evs, n, ms_ts(timeout, &ts), NULL, ms_timer(timeout));
  if (timeout)
    PROBE(epoll_now(epfd, evs, n, NULL));
  int entered = timeout ? wait_enter(ms_timer(timeout)) : 0;
  int r = real.epoll_wait(epfd, evs, n, timeout);
  wait_leave(entered);
  return r;
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *evs, int n, int timeout,
                            const sigset_t *mask) {
  ensure();
  if (pend_epolled(epfd))
    return epoll_now(epfd, evs, n, mask);
  struct timespec ts;
  if (timeout)
    turn();
  if (held())
    return held_epoll(epfd, evs, n, ms_ts(timeout, &ts), mask, ms_timer(timeout));
  if (timeout)
    PROBE(epoll_now(epfd, evs, n, mask));
  int entered = timeout ? wait_enter(ms_timer(timeout)) : 0;
  int r = real.epoll_pwait(epfd, evs, n, timeout, mask);
  wait_leave(entered);
  return r;
}

SHIM_EXPORT int poll(struct pollfd *p, nfds_t n, int timeout) {
  ensure();
  if (pend_pollfd(p, n))
    return poll_now(p, n, NULL);
  struct timespec ts;
  if (timeout)
    turn();
  if (held())
    return held_wait(p, n, ms_ts(timeout, &ts), NULL, ms_timer(timeout), -1);
  if (timeout)
    PROBE(poll_now(p, n, NULL));
  int entered = timeout ? wait_enter(ms_timer(timeout)) : 0;
  int r = real.poll(p, n, timeout);
  wait_leave(entered);
  return r;
}

SHIM_EXPORT int __poll_chk(struct pollfd *p, nfds_t n, int timeout, size_t plen) {
  if (plen / sizeof *p < n)
    abort();
  return poll(p, n, timeout);
}

static uint32_t ts_timer(const struct timespec *t) {
  return t ? ms_timer((int)(t->tv_sec * 1000 + t->tv_nsec / 1000000)) : FRAY_SHIM_NO_TIMER;
}

SHIM_EXPORT int ppoll(struct pollfd *p, nfds_t n, const struct timespec *t, const sigset_t *mask) {
  ensure();
  if (pend_pollfd(p, n))
    return poll_now(p, n, mask);
  if (!ts_zero(t))
    turn();
  if (held())
    return held_wait(p, n, t, mask, ts_timer(t), -1);
  if (!ts_zero(t))
    PROBE(poll_now(p, n, mask));
  int entered = !ts_zero(t) ? wait_enter(ts_timer(t)) : 0;
  int r = real.ppoll(p, n, t, mask);
  wait_leave(entered);
  return r;
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *p, nfds_t n, const struct timespec *t,
                            const sigset_t *mask, size_t plen) {
  if (plen / sizeof *p < n)
    abort();
  return ppoll(p, n, t, mask);
}

/* select's sets are rewritten by a probe that finds nothing: restored. */
static int select_probe(int n, fd_set *r, fd_set *w, fd_set *x) {
  if (pend_selected(n, r))
    return select_ready(n, r, w, x);
  fd_set sr, sw, sx;
  if (r)
    sr = *r;
  if (w)
    sw = *w;
  if (x)
    sx = *x;
  struct timeval zero = {0, 0};
  if (__atomic_load_n(&g.nfull, __ATOMIC_RELAXED))
    hide_selected(n, w); /* (in exact mode such waits are held: held_select) */
  int rc = real.select(n, r, w, x, &zero);
  if (rc == 0) {
    if (r)
      *r = sr;
    if (w)
      *w = sw;
    if (x)
      *x = sx;
  }
  return rc;
}

SHIM_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *x, struct timeval *t) {
  ensure();
  if (pend_selected(n, r))
    return select_ready(n, r, w, x);
  if (!(t && !t->tv_sec && !t->tv_usec))
    turn();
  if (held()) {
    struct timespec ts = {t ? t->tv_sec : 0, t ? t->tv_usec * 1000L : 0};
    return held_select(n, r, w, x, t ? &ts : NULL, NULL,
                       t ? ms_timer((int)(t->tv_sec * 1000 + t->tv_usec / 1000))
                         : FRAY_SHIM_NO_TIMER);
  }
  if (!(t && !t->tv_sec && !t->tv_usec))
    PROBE(select_probe(n, r, w, x));
  int entered = !(t && !t->tv_sec && !t->tv_usec)
                    ? wait_enter(t ? ms_timer((int)(t->tv_sec * 1000 + t->tv_usec / 1000))
                                   : FRAY_SHIM_NO_TIMER)
                    : 0;
  int rc = real.select(n, r, w, x, t);
  wait_leave(entered);
  return rc;
}

SHIM_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *x, const struct timespec *t,
                        const sigset_t *mask) {
  ensure();
  if (pend_selected(n, r))
    return select_ready(n, r, w, x);
  if (!ts_zero(t))
    turn();
  if (held())
    return held_select(n, r, w, x, t, mask, ts_timer(t));
  if (!ts_zero(t))
    PROBE(select_probe(n, r, w, x));
  int entered = !ts_zero(t) ? wait_enter(ts_timer(t)) : 0;
  int rc = real.pselect(n, r, w, x, t, mask);
  wait_leave(entered);
  return rc;
}
