/* The fuzz mode of the shim (libfray-shim-fuzz.so, FRAY_SHIM_FUZZ): an
 * AFL++-instrumented server, unmodified, plays fray fuzz inputs from inside
 * its own calls.
 *
 * - The safe point: the first time the server would block in a wait
 *   (poll, epoll_wait, select, a blocking accept) after it listens on the
 *   port fray names. Everything before is start-up, paid once: there the
 *   shim calls AFL's __afl_manual_init (found at run time; afl-fuzz runs
 *   with AFL_DEFER_FORKSRV=1, so the runtime did not start the forkserver
 *   in its constructor), and each forked child returns from it.
 * - Each child reads the input (AFL++'s shared-memory test case, or stdin,
 *   or the file FRAY_SHIM_FUZZ_INPUT names), decodes it as a session (fray/fuzz.h: the
 *   format fuzz-encode writes), and plays it with fray's session player
 *   (fray/player.h) over a transport whose clients are sockets of this
 *   very process (socketpairs the server accepts as TCP connections). The
 *   player runs on a stack of its own (a ucontext coroutine, no thread):
 *   whenever it needs the server to act (a connection to accept, a piece
 *   to read) it switches back into the server's interrupted wait, and the
 *   server comes back to it the next time it would block, quiescent.
 *   Every piece is announced to the shim's exact mode first, so each read
 *   returns exactly it.
 * - The oracle: crashes and sanitizer reports end the child (AFL sees
 *   them); split invariance: the child forks once more, the grandchild
 *   plays the session whole and sends each client's transcript back, the
 *   child plays the fuzz-chosen schedule and the player compares the
 *   transcripts (fray_player_check_invariance). A difference is printed
 *   with the schedule, then abort().
 * - The server's timers never fire (its waits never block) and only the
 *   thread that reaches the safe point lives on in the forks (AFL's
 *   forkserver forks one thread): single-threaded event loops. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FRAY_FIBERS 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FRAY_FIBERS 1
#endif
#ifdef FRAY_FIBERS
#include <sanitizer/common_interface_defs.h>
#endif

#include "core/escape_internal.h"
#include "fray/fuzz.h"
#include "fray/player.h"
#include "fray/sched.h"
#include "fray/sim.h"
#include "fuzz.h"
#include "run/exec_internal.h"
#include "run/player_internal.h"
#include "warm.h"

#define STACK_SIZE (256 * 1024) /* the player's coroutine */
#define ACCEPT_TRIES 200        /* server turns: a connection it never accepts */
#define FIRST_PORT 65472        /* the clients' ports, as the server sees them (shim.c's tab) */
#define STUCK_TRIES 200         /* a piece the server stops taking */
#define FORK_TRIES 50           /* the whole run's fork, 2 ms apart */
#define BIG_OUTPUT 65536        /* collected at once: the server may have more */
#define EXIT_FAILED 3           /* the reference run failed (the grandchild says) */
#define EXIT_INEXACT 4          /* ... could not be played as scheduled */
#define EXIT_THREADS 2          /* the server runs a second thread */
#define EXIT_EXITED 5           /* the server exit()ed in the whole run, with exits ok */
#define CACHE_SLOTS 512         /* whole runs remembered (direct-mapped) */
#define CACHE_SLOT_BYTES 16384  /* a session's records past this are not */
#define CACHE_CHECK 32          /* one hit in this many plays the whole run anyway */
#define STATS_EVERY 256         /* execs between two writes of the stats file */
#define NONDET_AT 400           /* where two whole runs differed, said in a line */
#define NONDET_SHOW 32          /* bytes of each whole run's answer shown there */

enum { END_OPEN = 0, END_FIN = 1, END_RST = 2 };

typedef struct zclient {
  int fd;        /* its end of the socketpair */
  unsigned port; /* the port it poses with: the shim names the connection by it */
  int end;       /* END_*: how the server ended it */
  /* eof-with-data before a close: 1 until the server reads the EOF, then 2:
   * it hears nothing written from there on (it was gone without the fault) */
  int deaf;
  fray__room_t room; /* its receive window as the shim was last told it */
} zclient_t;

/* Every page an exec writes is a copy-on-write fault in it (a few
 * microseconds each, and an exec takes a few dozen), so what each exec
 * writes sits together: the coroutine's stack grows down from these
 * fields (its top 3 KB, as deep as a session's player goes, in the page
 * where they start), and the input is followed by the buffer the
 * clients' bytes are read into. */
static _Alignas(4096) struct {
  char pad[3072];
  _Alignas(16) unsigned char stack[STACK_SIZE]; /* the player's coroutine */
  int wanted, whole; /* FRAY_SHIM_FUZZ set; "whole": each send one read */
  int exits_ok;      /* FRAY_SHIM_FUZZ_EXITS=ok: the server's exit() is no crash */
  int ref_exited;    /* ... and it exit()ed in the whole run: nothing to compare with */
  int listen_fd, port;
  unsigned last_port; /* the last client's */
  int started, forking, on_stack;
  int spawned;            /* the server started a thread after the safe point */
  pthread_t thread;       /* the one that reached the safe point */
  int ref_out;            /* the grandchild: where its reference goes; -1 otherwise */
  int rc;                 /* what fray_player_received() said */
  int short_writes;       /* the run's server writes are cut short */
  size_t window;          /* the run's receive window (FRAY_FAULT_WINDOW), 0: none */
  int rooms;              /* receive windows are told to the shim (sync_rooms) */
  uint64_t seen_activity; /* fray__shim_activity() when the clients were last read */
  const char *repro;      /* FRAY_SHIM_FUZZ_REPRO: where a failure's script goes */
  const uint8_t *ref_rx[FRAY_FUZZ_CLIENTS]; /* the whole run's transcripts */
  size_t ref_len[FRAY_FUZZ_CLIENTS];
  uint64_t *marks; /* per step and client: bytes received by then, whole */
  /* libc's own: a sanitizer's interceptors in the server (the program
   * comes first in symbol lookup) would take the switch between stacks
   * for a jump out of the program and warn of false positives. */
  int (*swap)(ucontext_t *, const ucontext_t *);
  void (*jump)(jmp_buf, int);
  ucontext_t srv_uc, co_uc; /* the coroutine's first entry */
  jmp_buf srv, co;          /* every switch after it (no signal mask calls) */
  void *srv_fake, *co_fake; /* ASan's fake stacks of each side, while away */
  const void *srv_bottom;   /* the server's stack, as ASan knows it */
  size_t srv_size;
  fray_fuzz_session_t *sess;
  fray_player_t *player;
  zclient_t cl[FRAY_FUZZ_CLIENTS];
  struct cache *cache; /* shared by every fork of the forkserver; NULL: none */
  uint64_t key[2];     /* this exec's session, as the cache knows it */
  int cached;          /* this exec's reference came from the cache */
  uint64_t exec_no;    /* this exec's number, from 1 (under afl-fuzz) */
  uint8_t **afl_ptr;   /* AFL++'s shared test case (ask_shared_input), or NULL */
  uint32_t **afl_len;
  size_t len;                                       /* the input's */
  uint8_t io[FRAY_FUZZ_MAX_INPUT + 1 + BIG_OUTPUT]; /* the input, then what take() reads */
  char nondet[NONDET_AT]; /* one-shot: where this session's two whole runs differed, or "" */
} z;

int fray__shim_fuzz_wanted(void) {
  const char *s = getenv(FRAY_SHIM_ENV_FUZZ);
  z.listen_fd = z.ref_out = -1;
  z.wanted = s && *s && strcmp(s, "0") != 0;
  z.whole = z.wanted && !strcmp(s, "whole");
  const char *e = getenv(FRAY_SHIM_ENV_FUZZ_EXITS);
  z.exits_ok = e && !strcmp(e, "ok");
  return z.wanted;
}

void fray__shim_fuzz_listen(int fd, int port) {
  if (z.wanted && !z.started && z.listen_fd < 0) {
    z.listen_fd = fd;
    z.port = port;
  }
}

int fray__shim_fuzz_forked(void) {
  if (z.forking || !z.wanted)
    return z.forking;
  z.wanted = 0;
  for (size_t i = 0; i < FRAY_FUZZ_CLIENTS; i++)
    if (z.started && z.cl[i].fd >= 0)
      close(z.cl[i].fd);
  if (z.ref_out >= 0)
    close(z.ref_out);
  return 0;
}

/* ---- the coroutine ------------------------------------------------------------- */

/* ASan must know which stack runs (its fiber interface), or it takes each
 * switch for a stack overflow's jump and leaves the abandoned frames'
 * poison behind: leave() before a switch to the stack at bottom, back()
 * once on the other side. Empty without ASan. */
static void leave(void **fake, const void *bottom, size_t size) {
#ifdef FRAY_FIBERS
  __sanitizer_start_switch_fiber(fake, bottom, size);
#else
  (void)fake, (void)bottom, (void)size;
#endif
}

static void back(void *fake, const void **bottom, size_t *size) {
#ifdef FRAY_FIBERS
  __sanitizer_finish_switch_fiber(fake, bottom, size);
#else
  (void)fake, (void)bottom, (void)size;
#endif
}

/* From the player: let the server run until it would block again. */
static void run_server(void) {
  z.on_stack = 0;
  if (!_setjmp(z.co)) {
    leave(&z.co_fake, z.srv_bottom, z.srv_size);
    z.jump(z.srv, 1);
  }
  back(z.co_fake, NULL, NULL);
  z.on_stack = 1;
}

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fray fuzz --exec: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* Moves what the server sent client i into the player (a deaf client's
 * bytes are dropped). Returns the number of bytes taken. */
static size_t take(size_t i) {
  zclient_t *c = &z.cl[i];
  size_t total = 0, at = (z.len + 15) & ~(size_t)15; /* past the input, in its page */
  uint8_t *buf = z.io + at;
  while (c->fd >= 0 && c->end == END_OPEN) {
    ssize_t r = recv(c->fd, buf, sizeof z.io - at, MSG_DONTWAIT);
    if (r > 0) {
      total += (size_t)r;
      c->room.rx += (uint64_t)r;
      int rc = c->deaf == 2 ? 0 : fray_player_received(z.player, i, buf, (size_t)r);
      if (rc && !z.rc)
        z.rc = rc;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      c->end = r == 0 ? END_FIN : END_RST;
      fray_player_ended(z.player, i, c->end == END_RST);
    }
  }
  return total;
}

/* Moves what the server sent to the clients into the player. Returns the
 * number of bytes taken. */
static size_t collect(void) {
  size_t total = 0;
  uint64_t act = fray__shim_activity();
  if (act == z.seen_activity)
    return 0; /* the server wrote and closed nothing since the last look */
  z.seen_activity = act;
  for (size_t i = 0; i < FRAY_FUZZ_CLIENTS; i++)
    total += take(i);
  return total;
}

/* The client posing with port, or NULL. */
static zclient_t *by_port(unsigned port, size_t *i) {
  for (*i = 0; *i < FRAY_FUZZ_CLIENTS; (*i)++)
    if (z.cl[*i].fd >= 0 && z.cl[*i].port == port)
      return &z.cl[*i];
  return NULL;
}

/* The server runs until quiescent and what it wrote is taken; a socket
 * buffer it filled gets it another turn. */
static void settle(void) {
  for (int k = 0; k < STUCK_TRIES; k++) {
    run_server();
    if (collect() < BIG_OUTPUT)
      return;
  }
}

static int inexact(const char *what, size_t client) {
  return fray_player_set_error(z.player, "inexact run: %s (client %zu, step %zu)", what, client,
                               fray_player_step(z.player)),
         FRAY_EINEXACT;
}

/* ---- the transport: clients in the server's own process ------------------------ */

static int zt_begin(void *t, fray_player_t *p, const fray_sched_t *sched) {
  (void)t;
  (void)p;
  fray_shim_msg_t m = {.type = FRAY_SHIM_MSG_WFAULT};
  fray__xctl_wfault(sched, &m.a, &m.b);
  z.short_writes = sched && sched->short_writes;
  z.window = fray_sched_window(sched);
  z.rooms = z.window != 0;
  fray__shim_apply(&m);
  return 0;
}

/* The receive windows (FRAY_FAULT_WINDOW, `stops reading`): each client's
 * room as the player sees it now goes to the shim where it changed other
 * than by what the client received (it reads while the script waits on
 * it), as fray's ROOM message does in exact mode. Returns whether one
 * changed: the server may have output to write now. */
static int sync_rooms(void) {
  int changed = 0;
  for (size_t i = 0; z.rooms && i < FRAY_FUZZ_CLIENTS; i++) {
    zclient_t *c = &z.cl[i];
    size_t room;
    if (c->fd < 0 || !fray__room_changed(z.player, i, &c->room, &room))
      continue;
    fray_shim_msg_t m = {.type = FRAY_SHIM_MSG_ROOM,
                         .conn = c->port,
                         .a = room == SIZE_MAX ? FRAY_SHIM_NO_ROOM : (uint64_t)room,
                         .b = c->room.rx};
    fray__shim_apply(&m);
    changed = 1;
  }
  return changed;
}

static void drop(zclient_t *c, int reset) {
  if (c->fd < 0)
    return;
  if (reset)
    fray__shim_reset(c->port);
  close(c->fd);
  *c = (zclient_t){.fd = -1};
}

/* A client is one end of a socketpair; the shim hands the other to the
 * server's accept as a TCP connection from 127.0.0.1 (shim.c, "fuzz mode:
 * clients on socketpairs"): a loopback TCP connection's handshake and
 * segments cost about half of an exec's time. Reads and writes of the
 * client pass MSG_DONTWAIT: its end stays blocking. */
static int zt_open(void *t, size_t i) {
  (void)t;
  zclient_t *c = &z.cl[i];
  drop(c, 0);
  int sv[2];
  z.last_port = z.last_port >= FIRST_PORT && z.last_port < 65535 ? z.last_port + 1 : FIRST_PORT;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
    return inexact("cannot make a socketpair", i);
  if (fray__shim_pend(z.listen_fd, z.port, sv[1], z.last_port)) {
    close(sv[0]);
    close(sv[1]);
    return inexact("too many connections wait to be accepted", i);
  }
  /* A new connection starts with the run's window in the shim. */
  *c = (zclient_t){
      .fd = sv[0], .port = z.last_port, .room = {.told = z.window ? z.window : SIZE_MAX}};
  uint64_t left;
  for (int k = 0;; k++) {
    run_server(); /* (first: a look before it would fault in a page of the shim's) */
    if (fray__shim_conn(c->port, &left) >= 0)
      break;
    if (k == ACCEPT_TRIES)
      return inexact("the server did not accept the connection", i);
  }
  collect();
  return 0;
}

/* One piece: announced, written, read by the server; with eof, the
 * client's FIN follows the bytes at once (shutdown), so that the server's
 * read after them finds the end of stream in the same wakeup. */
static int put_piece(size_t i, const uint8_t *data, size_t len, int eof) {
  zclient_t *c = &z.cl[i];
  sync_rooms();
  if (c->fd < 0 || c->end != END_OPEN)
    return 0; /* bytes to a connection the server ended go nowhere */
  fray_shim_msg_t m = {.type = FRAY_SHIM_MSG_PIECE, .conn = c->port, .a = len};
  fray__shim_apply(&m);
  for (size_t off = 0, stuck = 0; off < len;) {
    ssize_t w = send(c->fd, data + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      off += (size_t)w;
      stuck = 0;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (++stuck == STUCK_TRIES)
        return inexact("the server stopped reading", i);
      run_server(); /* it reads the piece in parts: its buffer is smaller */
    } else {
      break; /* the server closed: the rest goes nowhere */
    }
  }
  if (eof && c->fd >= 0)
    shutdown(c->fd, SHUT_WR);
  settle();
  uint64_t left = 0;
  if (fray__shim_conn(c->port, &left) >= 0 && left && c->end == END_OPEN)
    return inexact("the server did not read the whole piece", i);
  return z.rc;
}

static int zt_send(void *t, size_t i, const uint8_t *data, size_t len) {
  (void)t;
  return put_piece(i, data, len, 0);
}

/* eof-with-data: the last piece and the FIN together. Before a close the
 * client hears only what the server wrote before it read the EOF
 * (fray__shim_fuzz_eof makes it deaf then), as the simulator's hears what
 * its handler had queued then. A real server's queue is not seen: under
 * short writes (or a receive window) a correct server's answer cut short
 * before it read the EOF and finished after it would be lost, a false
 * alarm, so there the EOF comes with the close, as without the fault. */
static int zt_send_eof(void *t, size_t i, const uint8_t *data, size_t len, int closing) {
  (void)t;
  if (closing && (z.short_writes || z.window))
    return put_piece(i, data, len, 0);
  z.cl[i].deaf = closing != 0;
  return put_piece(i, data, len, 1);
}

void fray__shim_fuzz_eof(unsigned peer_port) {
  size_t i;
  zclient_t *c = by_port(peer_port, &i);
  if (c && c->deaf == 1) {
    take(i);
    c->deaf = 2;
  }
}

/* read-gap: the server's read of the next piece finds nothing first. */
static int zt_gap(void *t, size_t i) {
  (void)t;
  zclient_t *c = &z.cl[i];
  if (c->fd >= 0 && c->end == END_OPEN) {
    fray_shim_msg_t m = {.type = FRAY_SHIM_MSG_RGAP, .conn = c->port};
    fray__shim_apply(&m);
  }
  return 0;
}

/* reset-mid-write: the client takes the prefix the server's write left it
 * and resets, unless it had left already (the write was only short). */
int fray__shim_fuzz_struck(unsigned peer_port) {
  size_t i;
  zclient_t *c = by_port(peer_port, &i);
  if (!c)
    return 0;
  take(i);
  if (!fray_player_reset_mid_write(z.player, i))
    return 0;
  drop(c, 1);
  return 1;
}

static int zt_shutdown(void *t, size_t i) {
  (void)t;
  sync_rooms();
  if (z.cl[i].fd >= 0)
    shutdown(z.cl[i].fd, SHUT_WR);
  settle();
  return z.rc;
}

static int zt_close(void *t, size_t i, int reset) {
  (void)t;
  zclient_t *c = &z.cl[i];
  if (c->fd < 0)
    return 0;
  sync_rooms(); /* (the closing client is gone: it takes what comes) */
  if (reset)
    drop(c, 1);
  else
    shutdown(c->fd, SHUT_WR); /* a FIN; what still comes is read and dropped */
  settle();
  return z.rc;
}

static int zt_wait(void *t, fray_wait_kind_t kind, size_t client) {
  (void)t;
  (void)client;
  /* The server is quiescent after every operation and its timers never
   * fire: what it will send has come, but for the end of the script and
   * what waited for a client's window (it reads now). */
  if (sync_rooms() || kind == FRAY_WAIT_SETTLE)
    settle();
  else
    collect();
  return z.rc;
}

/* `NAME stops reading`, `NAME reads N`, `NAME resumes reading`: the shim
 * is told, and what the client now takes is written before the script
 * goes on. */
static int zt_window(void *t, size_t client) {
  (void)t;
  (void)client;
  z.rooms = 1;
  if (sync_rooms())
    settle();
  return z.rc;
}

static int zt_end(void *t) {
  (void)t;
  for (size_t i = 0; i < FRAY_FUZZ_CLIENTS; i++)
    drop(&z.cl[i], 0); /* the server does not run again */
  return 0;
}

static const fray_transport_ops_t zt_ops = {
    .name = "exec-fuzz",
    .begin = zt_begin,
    .open = zt_open,
    .send = zt_send,
    .shutdown = zt_shutdown,
    .close = zt_close,
    .wait = zt_wait,
    .end = zt_end,
    .send_eof = zt_send_eof,
    .gap = zt_gap,
    .window = zt_window,
};

/* The player's coroutine is the safe point's thread's: another thread
 * that would block (a thread per connection reading its client, a pool
 * started after the safe point) would wait forever for a session that
 * cannot go on without it, or race it. Said, and the exec ends with
 * status 2, which `fray fuzz --exec` reports before afl-fuzz starts. */
static void other_thread(void) {
  say("the server runs a second thread (a thread per connection, or threads started after "
      "it listens): fuzz mode plays sessions in single-threaded servers only "
      "(docs/exec.md); test this one with fray replay --exec or fray exec");
  _exit(EXIT_THREADS);
}

/* Every thread the server starts comes through here: one started after
 * the safe point is a server fuzz mode cannot play (other_thread), even
 * when it has not run yet, or has ended, by the time a run goes wrong
 * (/proc/self/task then shows one thread: the check alone raced). */
__attribute__((visibility("default"))) int pthread_create(pthread_t *t, const pthread_attr_t *attr,
                                                          void *(*fn)(void *), void *arg) {
  int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) =
      (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(
          RTLD_NEXT, "pthread_create");
  if (!real)
    return EAGAIN;
  if (z.started)
    z.spawned = 1;
  return real(t, attr, fn, arg);
}

/* The server's threads now (1 when /proc cannot say). */
static int threads(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.';
  if (d)
    closedir(d);
  return n ? n : 1;
}

/* ---- the oracle ------------------------------------------------------------------ */

static void report(const char *what, const fray_result_t *res, const fray_sched_t *sched) {
  char d[1024], e[2048], g[2048];
  say("%s\n  %s\n  schedule: %s", what, res->message ? res->message : "(no message)",
      fray_sched_describe(fray_fuzz_session_script(z.sess), sched, d, sizeof d));
  if (res->kind == FRAY_FAIL_VARIANCE)
    fprintf(stderr, "  whole:    %s\n  schedule: %s\n%s",
            fray__escape_quoted(e, sizeof e, res->expected, res->expected_len),
            fray__escape_quoted(g, sizeof g, res->got, res->got_len),
            z.cached
                ? "  (the whole run: the reference cache's, an earlier exec's of this session)\n"
                : "");
}

static int write_all(int fd, const void *p, size_t n) {
  for (size_t off = 0; off < n;) {
    ssize_t w = write(fd, (const char *)p + off, n - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    off += (size_t)w;
  }
  return 0;
}

/* The grandchild: each client's reference record down the pipe, as its
 * end code (4 bytes), its length (8) and its bytes; then, when a
 * reproducer is asked for, what each client had received after each step
 * (8 bytes per step and client). */
static void send_reference(const uint64_t *marks, size_t nmarks) {
  size_t n = fray_script_nclients(fray_fuzz_session_script(z.sess));
  for (size_t i = 0; i < n; i++) {
    size_t len;
    const uint8_t *rx = fray_player_transcript(z.player, i, &len);
    uint32_t e = (uint32_t)fray__player_end(z.player, i);
    uint64_t l = len;
    if (write_all(z.ref_out, &e, sizeof e) || write_all(z.ref_out, &l, sizeof l) ||
        write_all(z.ref_out, rx, len))
      _exit(EXIT_INEXACT);
  }
  if (nmarks && write_all(z.ref_out, marks, nmarks * sizeof *marks))
    _exit(EXIT_INEXACT);
}

/* The grandchild's run: whole, each client's record (and with a
 * reproducer asked for, its marks per step) to the pipe. Never returns. */
static void play_reference(void) {
  fray_result_t res;
  size_t ns, nc = fray_script_nclients(fray_fuzz_session_script(z.sess));
  fray_script_steps(fray_fuzz_session_script(z.sess), &ns);
  size_t nmarks = z.repro ? ns * nc : 0;
  size_t *marks = nmarks ? malloc(nmarks * sizeof *marks) : NULL;
  unsigned char *ended = nmarks ? malloc(nmarks) : NULL;
  if (nmarks && (!marks || !ended))
    _exit(EXIT_INEXACT);
  int rc = nmarks ? fray__player_record_steps(z.player, marks, ended, &res)
                  : fray_player_run(z.player, NULL, &res);
  if (rc && (z.spawned || threads() > 1))
    other_thread();
  if (rc == FRAY_EFAILED)
    report("the server failed with whole sends", &res, NULL);
  else if (rc)
    say("%s", fray_player_error(z.player));
  uint64_t *m64 = nmarks ? malloc(nmarks * sizeof *m64) : NULL;
  for (size_t k = 0; m64 && k < nmarks; k++)
    m64[k] = marks[k];
  if (!rc)
    send_reference(m64, m64 ? nmarks : 0);
  _exit(rc == FRAY_EFAILED ? EXIT_FAILED : rc ? EXIT_INEXACT : 0);
}

/* ---- the reproducer: the failing schedule with the whole run's answers ----------- */

/* After step k, what the whole run's client c received since the last
 * answer written becomes an expectation; none between a send and the send
 * it is merged with (the merge would be lost). */
static int add_answers(fray_script_t *out, size_t k, size_t *pos) {
  size_t nc = fray_script_nclients(out);
  for (size_t c = 0; c < nc; c++) {
    size_t len, mark = (size_t)z.marks[k * nc + c];
    const uint8_t *rx = z.ref_rx[c];
    len = z.ref_len[c];
    if (mark > len || mark <= pos[c])
      continue;
    fray_step_t e = {
        .kind = FRAY_STEP_EXPECT, .client = c, .data = rx + pos[c], .len = mark - pos[c]};
    if (fray_script_add_step(out, &e))
      return -1;
    pos[c] = mark;
  }
  return 0;
}

/* The session's script with the whole run's answers after each step (the
 * fuzz input's own expectations left out), its schedule baked in:
 * replayed with `fray replay --exec`, it fails as this exec did. */
static int answers_script(const fray_sched_t *sched, fray_script_t **baked) {
  const fray_script_t *s = fray_fuzz_session_script(z.sess);
  fray_script_t *out = NULL;
  size_t n, nc = fray_script_nclients(s), pos[FRAY_FUZZ_CLIENTS] = {0}, send = 0;
  const fray_step_t *st = fray_script_steps(s, &n);
  int rc = fray_script_new(&out, NULL);
  for (size_t c = 0, idx; !rc && c < nc; c++)
    rc = fray_script_add_client(out, fray_script_client_name(s, c), &idx);
  for (size_t k = 0; !rc && k < n; k++) {
    if (st[k].kind >= FRAY_STEP_EXPECT)
      continue;
    rc = fray_script_add_step(out, &st[k]);
    int merged = st[k].kind == FRAY_STEP_SEND && sched && send < sched->nsends &&
                 sched->sends[send].merge_next && k + 1 < n && st[k + 1].kind == FRAY_STEP_SEND &&
                 st[k + 1].client == st[k].client;
    send += st[k].kind == FRAY_STEP_SEND;
    if (!rc && !merged)
      rc = add_answers(out, k, pos);
  }
  if (!rc)
    rc = fray_bake(out, sched, NULL, baked);
  fray_script_free(out);
  return rc;
}

static const char *nondet_at(void);

/* Writes the reproducer to FRAY_SHIM_FUZZ_REPRO, after the lines of
 * FRAY_SHIM_FUZZ_HEADER. */
static void write_repro(const fray_sched_t *sched) {
  fray_script_t *baked = NULL;
  FILE *f = NULL;
  if (!z.marks || answers_script(sched, &baked) || !(f = fopen(z.repro, "w")))
    say("could not write the reproducer %s", z.repro);
  const char *head = getenv(FRAY_SHIM_ENV_FUZZ_HEADER);
  if (f && head)
    fputs(head, f);
  if (f && nondet_at())
    fprintf(f,
            "# Unreliable: the server is not deterministic (two whole runs of %s session\n"
            "# differed, %s): this failure may be its own variance.\n",
            *z.nondet ? "this" : "a", nondet_at());
  if (f && sched && sched->short_writes)
    fprintf(f,
            "# (the exec also cut the server's writes short, seed %llu: a script cannot\n"
            "# say so; replay with --short-writes)\n",
            (unsigned long long)sched->write_seed);
  if (f) {
    fray_script_write(baked, f);
    fclose(f);
  }
  fray_script_free(baked);
}

/* The oracle's one-line verdict. Split invariance broken on a server whose
 * whole runs of one session differed (this session's, in one-shot mode;
 * any, under afl-fuzz) may be the server's own variance: it says so. */
static const char *verdict(const fray_result_t *res, char *buf, size_t len) {
  if (res->kind != FRAY_FAIL_VARIANCE)
    return "the server failed under the fuzz-chosen schedule";
  const char *at = nondet_at();
  if (!at)
    return "split invariance broken";
  snprintf(buf, len,
           "split invariance broken, unreliable: the server is not deterministic (two whole "
           "runs of %s session differed, %s), so the difference may be its own variance",
           *z.nondet ? "this" : "a", at);
  return buf;
}

/* The server calls exit() (or returns from main) while a session plays:
 * as under fray replay --exec, where a server that dies is a crash, the
 * exec aborts so that AFL++ keeps it (a server that exits when a client's
 * write fails, a reset taken for its own failure). With exits ok
 * (`fray fuzz --exec --exits ok`: a server with a shutdown command, or one
 * that serves one connection) the exec is simply over, status 0, and not
 * judged: the whole run's answers past the exit have nothing to compare
 * with, and the player compares transcripts only at the session's end,
 * where it accounts for the faults that make two correct runs differ. A
 * whole run that exits leaves the exec without a reference (EXIT_EXITED):
 * it plays its schedule all the same, for crashes only. _exit() skips the
 * server's atexit handlers (a leak check would report the session's own
 * memory). The session's own ends are _exit()s, and the server's forks
 * leave fuzz mode (z.wanted 0). */
static void count_exit(void);

static void exited(int status, void *arg) {
  (void)arg;
  if (!z.wanted || !z.player)
    return;
  if (z.exits_ok && z.ref_out >= 0)
    _exit(EXIT_EXITED); /* (silent: a crash of the exec's own run must be its verdict line) */
  if (z.exits_ok) {
    say("the server exited with status %d at step %zu: the exec ends there, not judged "
        "(--exits ok)",
        status, fray_player_step(z.player));
    count_exit();
    _exit(0);
  }
  say("the server exited with status %d in the middle of the session (step %zu): a crash "
      "unless it exits on purpose (a shutdown command: fuzz with --exits ok)",
      status, fray_player_step(z.player));
  abort();
}

/* The player's own stack starts here and never returns: the process ends
 * with the session. */
static void co_main(void) {
  fray_result_t res;
  back(NULL, &z.srv_bottom, &z.srv_size); /* the first entry: the server's stack is the old */
  z.on_stack = 1;
  if (z.ref_out >= 0)
    play_reference();
  const fray_sched_t *sched = z.whole ? NULL : fray_fuzz_session_sched(z.sess);
  int rc = z.whole ? fray_player_run(z.player, NULL, &res)
                   : fray_player_check_invariance(z.player, sched, &res);
  if (rc && (z.spawned || threads() > 1))
    other_thread(); /* what made the run fail or inexact, most likely */
  if (rc == FRAY_EFAILED) {
    char what[NONDET_AT + 200];
    report(verdict(&res, what, sizeof what), &res, sched);
    if (z.repro)
      write_repro(sched);
    abort();
  }
  if (rc)
    say("%s", fray_player_error(z.player));
  fray__warm_report(z.exec_no);
  _exit(0);
}

/* ---- the reference cache: whole runs already played ------------------------------ */

/* AFL's mutations that reshape only the schedule (the input's tail), and
 * its calibration and trimming runs, bring the same session (the same
 * sends) back again and again; its whole run, on a server that starts each
 * exec in the same state, is the same. A mapping that every fork of the
 * forkserver shares keeps the whole runs' records (the grandchild's pipe
 * format), so a known session needs no grandchild. One slot per key hash,
 * guarded by a sequence number, odd while written (a forkserver runs one
 * exec at a time, but an exec killed while writing leaves it odd). One hit
 * in CACHE_CHECK plays the whole run all the same: records that differ for
 * one session mean the server is not deterministic (clock, randomness,
 * pids in its answers); then the cache is off and the stats say so. */
typedef struct cslot {
  _Atomic uint32_t seq;
  uint32_t len;
  uint64_t key[2];
  uint8_t data[CACHE_SLOT_BYTES - 24];
} cslot_t;

typedef struct cache {
  _Atomic uint64_t execs, judged, hits, runs, checks; /* the stats; judged: not whole */
  _Atomic uint64_t exits;    /* execs ended by the server's exit() (exits ok) */
  _Atomic int off, nondet;   /* FRAY_SHIM_FUZZ_CACHE=0; records differed */
  char nondet_at[NONDET_AT]; /* where, once nondet is set */
  cslot_t slot[CACHE_SLOTS];
} cache_t;

static int cache_on(void) {
  return z.cache && !z.cache->off && !z.cache->nondet;
}

static uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

/* Two unrelated 64-bit lanes: FNV-1a and a multiply-xorshift. */
static void hash_bytes(uint64_t h[2], const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    h[0] = (h[0] ^ b[i]) * 0x100000001b3ull;
    h[1] = (h[1] + b[i] + 1) * 0x9e3779b97f4a7c15ull;
    h[1] ^= h[1] >> 29;
  }
}

/* What the whole run depends on: every step but the expectations of
 * data, which the fuzz driver does not check. */
static void session_key(uint64_t key[2]) {
  const fray_script_t *s = fray_fuzz_session_script(z.sess);
  size_t n;
  const fray_step_t *st = fray_script_steps(s, &n);
  key[0] = 0xcbf29ce484222325ull;
  key[1] = fray_script_nclients(s);
  for (size_t k = 0; k < n; k++) {
    if (st[k].kind == FRAY_STEP_EXPECT)
      continue;
    uint64_t f[5] = {st[k].kind, st[k].client, st[k].len, st[k].ms, st[k].reads};
    hash_bytes(key, f, sizeof f);
    if (st[k].data)
      hash_bytes(key, st[k].data, st[k].len);
  }
  key[0] = mix64(key[0]);
  key[1] = mix64(key[1] ^ n);
}

/* The records of z.key's session, copied (the caller frees them), or
 * NULL. */
static uint8_t *cache_get(size_t *n) {
  cslot_t *sl = &z.cache->slot[z.key[0] % CACHE_SLOTS];
  uint32_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire), len = sl->len;
  if ((seq & 1) || sl->key[0] != z.key[0] || sl->key[1] != z.key[1] || len > sizeof sl->data)
    return NULL;
  uint8_t *d = malloc(len ? len : 1);
  if (!d)
    return NULL;
  memcpy(d, sl->data, len);
  atomic_thread_fence(memory_order_acquire);
  if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != seq) {
    free(d);
    return NULL; /* overwritten meanwhile */
  }
  *n = len;
  return d;
}

static void cache_put(const uint8_t *d, size_t n) {
  cslot_t *sl = &z.cache->slot[z.key[0] % CACHE_SLOTS];
  if (n > sizeof sl->data)
    return;
  uint32_t seq = atomic_load_explicit(&sl->seq, memory_order_relaxed) | 1;
  atomic_store_explicit(&sl->seq, seq, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  memcpy(sl->data, d, n);
  sl->len = (uint32_t)n;
  sl->key[0] = z.key[0];
  sl->key[1] = z.key[1];
  atomic_store_explicit(&sl->seq, seq + 1, memory_order_release);
}

/* One client's record in the grandchild's pipe format at *off (advanced
 * past it). 0, or -1 when the records end or are malformed. */
static int next_record(const uint8_t *d, size_t n, size_t *off, uint32_t *end, const uint8_t **rx,
                       size_t *len) {
  uint64_t l;
  if (n - *off < sizeof *end + sizeof l)
    return -1;
  memcpy(end, d + *off, sizeof *end);
  memcpy(&l, d + *off + sizeof *end, sizeof l);
  *off += sizeof *end + sizeof l;
  if (l > n - *off)
    return -1;
  *rx = d + *off;
  *len = (size_t)l;
  *off += *len;
  return 0;
}

/* Where two whole runs' records (a, b) first differ, as a line into at:
 * the client, the byte of its transcript, and each run's answer from the
 * start of that line on. 0 when every client's transcript and end are the
 * same. */
static int records_differ(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, char *at,
                          size_t atlen) {
  size_t nc = fray_script_nclients(fray_fuzz_session_script(z.sess)), ao = 0, bo = 0;
  for (size_t i = 0; i < nc; i++) {
    uint32_t ae, be;
    const uint8_t *ar, *br;
    size_t al, bl, k = 0;
    if (next_record(a, an, &ao, &ae, &ar, &al) || next_record(b, bn, &bo, &be, &br, &bl)) {
      snprintf(at, atlen, "client %zu: a whole run ended unreadable", i);
      return 1;
    }
    while (k < al && k < bl && ar[k] == br[k])
      k++;
    if (k == al && k == bl && ae == be)
      continue;
    size_t from = k;
    while (from && ar[from - 1] != '\n')
      from--;
    char e1[4 * NONDET_SHOW + 8], e2[4 * NONDET_SHOW + 8];
    size_t l1 = al - from < NONDET_SHOW ? al - from : NONDET_SHOW;
    size_t l2 = bl - from < NONDET_SHOW ? bl - from : NONDET_SHOW;
    snprintf(at, atlen,
             "client %zu, byte %zu of its answers: %s in one whole run, %s in the other%s", i, k,
             fray__escape_quoted(e1, sizeof e1, ar + from, l1),
             fray__escape_quoted(e2, sizeof e2, br + from, l2),
             k == al && k == bl ? " (the server ended the connection differently)" : "");
    return 1;
  }
  return 0;
}

/* The counters to FRAY_SHIM_FUZZ_STATS (written aside and renamed, so a
 * reader never sees half of it). */
static void write_stats(void) {
  const char *path = getenv(FRAY_SHIM_ENV_FUZZ_STATS);
  char tmp[PATH_MAX];
  if (!path || !*path || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return;
  FILE *f = fopen(tmp, "w");
  if (!f)
    return;
  fprintf(f,
          "execs %llu\nwhole_schedules %llu\nreference_hits %llu\nreference_runs %llu\n"
          "reference_checks %llu\nnondeterministic %d\nexits %llu\n",
          (unsigned long long)z.cache->execs,
          (unsigned long long)(z.cache->execs - z.cache->judged), (unsigned long long)z.cache->hits,
          (unsigned long long)z.cache->runs, (unsigned long long)z.cache->checks, z.cache->nondet,
          (unsigned long long)z.cache->exits);
  if (z.cache->nondet)
    fprintf(f, "nondeterministic_at %s\n", z.cache->nondet_at);
  if (!fclose(f))
    rename(tmp, path);
}

/* Two whole runs of this exec's session differed (at: where). Under
 * afl-fuzz the cache goes off for every exec to come and the stats say it
 * at once (the first time); in one-shot mode the exec's verdict says it. */
static void nondeterministic(const char *at) {
  if (!z.cache) {
    snprintf(z.nondet, sizeof z.nondet, "%s", at);
    return;
  }
  if (atomic_exchange(&z.cache->nondet, 1))
    return;
  snprintf(z.cache->nondet_at, sizeof z.cache->nondet_at, "%s", at);
  say("the server is not deterministic: one session played whole twice gave different answers "
      "(%s); the reference cache is off, and a split-invariance failure may be the server's own "
      "variance",
      at);
  write_stats();
}

/* Where two whole runs differed (this exec's session's in one-shot mode,
 * any session's under afl-fuzz), or NULL when none did. */
static const char *nondet_at(void) {
  if (*z.nondet)
    return z.nondet;
  return z.cache && z.cache->nondet ? z.cache->nondet_at : NULL;
}

/* Counts an exec that the server's exit() ended (exits ok). */
static void count_exit(void) {
  if (z.cache)
    atomic_fetch_add(&z.cache->exits, 1);
}

/* Before each fork of the forkserver (an atfork handler; no other process
 * forks with no player yet): the exec's number, which the exec inherits,
 * and the counters to the stats file every STATS_EVERY. Counted here, not
 * in the exec: there the write would fault the shared page in again. */
static void count_exec(void) {
  if (!z.cache || z.player)
    return;
  z.exec_no = atomic_fetch_add(&z.cache->execs, 1) + 1;
  if (z.exec_no % STATS_EVERY == 0)
    write_stats();
}

/* ---- each exec: input, reference, coroutine ------------------------------------ */

/* AFL++'s shared-memory test cases: afl-fuzz copies each input into a
 * mapping it shares with the runtime rather than writing a file that the
 * exec reads back (a write, a truncate, a seek and a read per exec). The
 * runtime offers it when its __afl_sharedmem_fuzzing is set as the
 * forkserver starts (__AFL_FUZZ_INIT sets it in a harness); here it is set
 * when the input would come from afl-fuzz's stdin. An AFL++ without it, or
 * an afl-fuzz that declines, leaves __afl_fuzz_ptr NULL: stdin then. */
static void ask_shared_input(void) {
  const char *path = getenv(FRAY_SHIM_ENV_FUZZ_INPUT);
  int *on = (int *)dlsym(RTLD_DEFAULT, "__afl_sharedmem_fuzzing");
  z.afl_ptr = (uint8_t **)dlsym(RTLD_DEFAULT, "__afl_fuzz_ptr");
  z.afl_len = (uint32_t **)dlsym(RTLD_DEFAULT, "__afl_fuzz_len");
  if (on && z.afl_ptr && z.afl_len && !(path && *path))
    *on = 1;
  else
    z.afl_ptr = NULL;
}

/* The input: afl-fuzz's test case in shared memory, or on stdin (rewound:
 * AFL writes each one at offset 0 of the same file), or the file
 * FRAY_SHIM_FUZZ_INPUT names.
 * Inputs past FRAY_FUZZ_MAX_INPUT end the exec at once, as fray's session
 * targets do. */
static void read_input(void) {
  if (z.afl_ptr && *z.afl_ptr) {
    uint32_t n = **z.afl_len;
    z.len = n < FRAY_FUZZ_MAX_INPUT + 1 ? n : FRAY_FUZZ_MAX_INPUT + 1;
    memcpy(z.io, *z.afl_ptr, z.len);
    if (z.len > FRAY_FUZZ_MAX_INPUT)
      _exit(0);
    return;
  }
  const char *path = getenv(FRAY_SHIM_ENV_FUZZ_INPUT);
  int fd = 0;
  if (path && *path)
    fd = open(path, O_RDONLY | O_CLOEXEC);
  else
    lseek(0, 0, SEEK_SET);
  if (fd < 0) {
    say("cannot open %s: %s", path, strerror(errno));
    _exit(2);
  }
  z.len = 0;
  for (ssize_t r; z.len < FRAY_FUZZ_MAX_INPUT + 1; z.len += (size_t)r) {
    r = read(fd, z.io + z.len, FRAY_FUZZ_MAX_INPUT + 1 - z.len);
    if (r < 0 && errno == EINTR)
      r = 0;
    else if (r <= 0)
      break;
  }
  if (fd > 0)
    close(fd);
  if (z.len > FRAY_FUZZ_MAX_INPUT)
    _exit(0);
}

/* The grandchild's records become the player's reference (and are kept,
 * with the marks, for a reproducer). d stays allocated for the exec. */
static int load_reference(const uint8_t *d, size_t n) {
  const fray_script_t *s = fray_fuzz_session_script(z.sess);
  size_t nc = fray_script_nclients(s), ns, off = 0;
  fray_script_steps(s, &ns);
  for (size_t i = 0; i < nc; i++) {
    uint32_t end;
    uint64_t len;
    if (n - off < sizeof end + sizeof len)
      return -1;
    memcpy(&end, d + off, sizeof end);
    memcpy(&len, d + off + sizeof end, sizeof len);
    off += sizeof end + sizeof len;
    if (len > n - off || fray__player_set_reference(z.player, i, d + off, len, (int)end))
      return -1;
    z.ref_rx[i] = d + off;
    z.ref_len[i] = len;
    off += len;
  }
  if (z.repro && n - off == ns * nc * sizeof *z.marks) {
    z.marks = malloc(ns * nc * sizeof *z.marks);
    if (z.marks)
      memcpy(z.marks, d + off, ns * nc * sizeof *z.marks);
  }
  return 0;
}

/* Reads the grandchild's records until it exits; its crash is this
 * exec's crash (the same signal, so AFL files it as one). Returns them
 * (the caller frees them) with their length in *n, or NULL when the
 * grandchild could not play the session. */
static uint8_t *await_reference(int fd, pid_t pid, size_t *n) {
  uint8_t *d = NULL;
  size_t cap = 0;
  for (*n = 0;;) {
    if (*n == cap) {
      uint8_t *m = realloc(d, cap = cap ? cap * 2 : 65536);
      if (!m)
        abort();
      d = m;
    }
    ssize_t r = read(fd, d + *n, cap - *n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    *n += (size_t)r;
  }
  close(fd);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (WIFSIGNALED(st)) {
    say("the server died of signal %d in the whole run (the reference)", WTERMSIG(st));
    signal(WTERMSIG(st), SIG_DFL);
    raise(WTERMSIG(st));
    abort();
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_FAILED)
    abort(); /* the grandchild said why */
  if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_THREADS)
    _exit(EXIT_THREADS);
  z.ref_exited = WIFEXITED(st) && WEXITSTATUS(st) == EXIT_EXITED;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
    return d;
  free(d);
  return NULL;
}

/* A schedule that cuts, merges and faults nothing is the whole run: it
 * needs no reference to be compared with (most of AFL's payload mutations
 * leave the decisions alone, so this saves a fork and a run in many
 * execs). */
static int sched_is_whole(const fray_sched_t *s) {
  if (s->short_writes || s->faults)
    return 0;
  for (size_t k = 0; k < s->nsends; k++)
    if (s->sends[k].ncuts || s->sends[k].merge_next || s->sends[k].every)
      return 0;
  return 1;
}

/* Split invariance: a grandchild plays the session whole on a copy of the
 * server as it is now. Returns NULL in the grandchild (z.ref_out set),
 * which goes on to play; in this process, once the grandchild is done, its
 * records (length in *n; the caller frees them). An exec whose session the
 * grandchild could not play ends here: there is nothing to compare with. */
static uint8_t *fork_reference(size_t *n) {
  int p[2] = {-1, -1};
  pid_t pid = -1;
  /* A machine short of processes or memory for a moment (EAGAIN, ENOMEM)
   * is waited out a little; then the exec ends unjudged, as when the
   * grandchild cannot play: aborting would file a crash of the server's
   * that it never had. */
  for (int tries = 0; pid < 0 && tries < FORK_TRIES; tries++) {
    if (tries)
      usleep(2000);
    if (p[0] < 0 && pipe2(p, O_CLOEXEC)) {
      p[0] = -1;
      continue;
    }
    z.forking = 1;
    pid = fork();
    z.forking = 0;
  }
  if (pid < 0) {
    say("cannot start the whole run (%s): this exec is not judged", strerror(errno));
    _exit(0);
  }
  if (pid == 0) {
    close(p[0]);
    z.ref_out = p[1];
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    return NULL;
  }
  close(p[1]);
  uint8_t *d = await_reference(p[0], pid, n);
  if (!d && !z.ref_exited)
    _exit(0);
  return d; /* NULL when the whole run ended by the server's exit: no reference */
}

/* The whole run's records become the player's reference: the cache's, or
 * a grandchild's (which returns from here with z.ref_out set, to play
 * them). One hit in CACHE_CHECK is played all the same and compared. */
static void take_reference(void) {
  uint8_t *d = NULL, *fresh = NULL;
  size_t n = 0, fn = 0;
  if (cache_on()) {
    session_key(z.key);
    d = cache_get(&n);
  }
  /* Without a cache (one input played by hand, or by fray fuzz writing a
   * finding up: time is cheap there) every exec plays the whole run twice,
   * so that its verdict can say when the server varies on its own. */
  int check = d ? (atomic_fetch_add(&z.cache->hits, 1) + 1) % CACHE_CHECK == 0 : !z.cache;
  if (!d) {
    if (!(d = fork_reference(&n)))
      return; /* the grandchild, or no reference (z.ref_exited) */
    if (z.cache)
      atomic_fetch_add(&z.cache->runs, 1);
    if (cache_on())
      cache_put(d, n);
    z.cached = 0;
  } else {
    z.cached = 1;
  }
  if (check) {
    if (!(fresh = fork_reference(&fn))) {
      free(d);
      return; /* the grandchild */
    }
    if (z.cache)
      atomic_fetch_add(&z.cache->checks, 1);
    char at[NONDET_AT];
    if (records_differ(d, n, fresh, fn, at, sizeof at))
      nondeterministic(at);
    free(d);
    d = fresh;
    n = fn;
    z.cached = 0;
  }
  if (load_reference(d, n))
    _exit(0);
  /* d is the reference's for the rest of the exec */
}

/* Before the forkserver starts, so that every exec shares it. */
static void map_cache(void) {
  void *m = mmap(NULL, sizeof(cache_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return;
  z.cache = m;
  const char *c = getenv(FRAY_SHIM_ENV_FUZZ_CACHE);
  z.cache->off = z.whole || z.repro || (c && !strcmp(c, "0"));
}

/* The safe point was reached: the forkserver (under afl-fuzz), then in
 * each child the session is set up on its coroutine. */
static void start(void) {
  z.started = 1;
  z.thread = pthread_self();
  z.swap = (int (*)(ucontext_t *, const ucontext_t *))dlsym(RTLD_NEXT, "swapcontext");
  z.jump = (void (*)(jmp_buf, int))dlsym(RTLD_NEXT, "_longjmp");
  if (!z.swap || !z.jump)
    abort();
  /* here, before the forkserver: registered in each exec, it would write
   * a page of libc's (a copy-on-write fault) every time */
  on_exit(exited, NULL);
  void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "__afl_manual_init");
  z.repro = getenv(FRAY_SHIM_ENV_FUZZ_REPRO);
  if (z.repro && !*z.repro)
    z.repro = NULL;
  if (init && getenv("__AFL_SHM_ID")) {
    map_cache();
    pthread_atfork(count_exec, NULL, NULL);
    fray__warm_setup();
    ask_shared_input();
    z.forking = 1;
    init(); /* returns in each forked child; the forkserver never leaves */
    z.forking = 0;
  }
  for (size_t i = 0; i < FRAY_FUZZ_CLIENTS; i++)
    z.cl[i].fd = -1;
  read_input();
  if (fray_fuzz_decode(&z.sess, z.io, z.len, NULL, NULL) ||
      fray_player_new(&z.player, fray_fuzz_session_script(z.sess), &zt_ops, &z, NULL))
    abort();
  fray_player_set_expectations(z.player, 0);
  int whole = z.whole || sched_is_whole(fray_fuzz_session_sched(z.sess));
  if (z.cache && !whole)
    atomic_fetch_add(&z.cache->judged, 1);
  z.whole = whole;
  if (!z.whole)
    take_reference();
  getcontext(&z.co_uc);
  z.co_uc.uc_stack.ss_sp = z.stack;
  z.co_uc.uc_stack.ss_size = sizeof z.stack;
  z.co_uc.uc_link = NULL;
  makecontext(&z.co_uc, co_main, 0);
}

int fray__shim_fuzz_idle(void) {
  if (!z.wanted || z.listen_fd < 0)
    return 0;
  if (z.started && !pthread_equal(pthread_self(), z.thread))
    other_thread();
  if (z.on_stack)
    return 0;
  if (!z.started) {
    start();
    if (!_setjmp(z.srv)) {
      leave(&z.srv_fake, z.stack, sizeof z.stack);
      z.swap(&z.srv_uc, &z.co_uc); /* the coroutine's first entry */
    }
    back(z.srv_fake, NULL, NULL);
    return 1;
  }
  if (!_setjmp(z.srv)) {
    leave(&z.srv_fake, z.stack, sizeof z.stack);
    z.jump(z.co, 1);
  }
  back(z.srv_fake, NULL, NULL);
  return 1;
}
