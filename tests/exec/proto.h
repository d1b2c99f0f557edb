/* The line protocol of the exec test servers (tests/exec/README.md), shared
 * by every C server style: command execution, the per-connection input
 * buffer, output flushing, and the planted bugs. A server style contributes
 * only its readiness loop (poll, select, epoll, libevent, threads), so its
 * correct and buggy twins differ in exactly one place.
 *
 *   exec_args_t a;  exec_parse_args(&a, argc, argv);   usage errors exit 2
 *   int lfd = exec_listen(a.port);                      prints "listening on ..."
 *   int sfd = exec_signals();                           readable after SIGTERM/SIGINT
 *   ... per read: exec_feed(&conn, buf, n); exec_flush(&conn, fd); ...
 *
 * Nothing here is fray's API: these are test fixtures, built as ordinary
 * programs that know nothing about fray. */
#ifndef FRAY_TESTS_EXEC_PROTO_H
#define FRAY_TESTS_EXEC_PROTO_H

#include <poll.h>
#include <stddef.h>

#define EXEC_MAX_LINE 256   /* bytes of a line, its "\r\n" or "\n" not counted */
#define EXEC_READ_SIZE 4096 /* what every C server asks read() for */

/* The planted bugs (--bug NAME). */
typedef enum exec_bug {
  EXEC_BUG_NONE,
  EXEC_BUG_ONELINE,    /* "if" instead of "while": one line handled per read */
  EXEC_BUG_DROPTAIL,   /* an unterminated tail is dropped at the end of a read */
  EXEC_BUG_MAX64,      /* a read over 64 bytes is refused as a whole */
  EXEC_BUG_SHORTWRITE, /* a short write's unwritten rest is dropped */
  EXEC_BUG_QUITREST,   /* lines read together with QUIT still run after it */
  /* Bugs only a fault kind of `fray replay --faults` exposes: */
  EXEC_BUG_EAGAINFATAL, /* a read that found nothing (EAGAIN, EINTR) ends the connection */
  EXEC_BUG_PARTIALEOF,  /* at EOF the unfinished line runs as a command */
  EXEC_BUG_CLOSEIDLE,   /* a connection closed before its first command crashes the server */
  /* A crash only a read boundary causes (for the fuzzers' crash-only view): */
  EXEC_BUG_CRCUT,      /* a read ending between "\r" and "\n" writes through NULL */
  EXEC_BUG_EOFDROP,    /* reads until the socket is empty; an EOF found there drops the
                        * replies to what that wakeup read */
  EXEC_BUG_WRITEFATAL, /* a failed write (ECONNRESET, EPIPE) ends the whole server */
  /* Not a framing bug: answers that differ from one process to the next. */
  EXEC_BUG_NONDET, /* PING answers PONG and the server's pid */
  /* Only the receive window (--faults window) exposes: */
  EXEC_BUG_BORROWED, /* a short write's rest is kept as a pointer into the one buffer
                      * every connection's replies are written from */
  /* Not a bug: a command that ends the server (for fray fuzz --exec --exits). */
  EXEC_BUG_SHUTDOWN, /* SHUTDOWN exits 0 at once */
} exec_bug_t;

/* A set of planted bugs (--bug NAME, repeatable): bit EXEC_BUG_BIT(bug). */
typedef unsigned exec_bugs_t;
#define EXEC_BUG_BIT(bug) (1u << (bug))
#define EXEC_HAS(set, bug) (((set)&EXEC_BUG_BIT(bug)) != 0)

typedef struct exec_args {
  unsigned port;       /* 0: the kernel picks one */
  exec_bugs_t planted; /* 0 for the correct twin */
} exec_args_t;

/* One connection's protocol state. Zero it (exec_conn_init) per connection;
 * exec_conn_free releases its output buffer. */
typedef struct exec_conn {
  char in[EXEC_MAX_LINE + 2]; /* the unfinished line: content and a "\r" fit */
  size_t in_len;
  int too_long; /* the unfinished line overflowed `in`: refuse it at its "\n" */
  char *out;    /* replies not yet written */
  size_t out_len, out_cap;
  int closing;      /* QUIT seen or peer's EOF: flush, then close */
  int eof;          /* the peer's EOF was read */
  const char *last; /* what its last command was, for the close's log line (CLOSEIDLE) */
  const char *rest; /* BORROWED: the unwritten rest of a reply, in the shared buffer */
  size_t rest_len;
  exec_bugs_t planted;
} exec_conn_t;

/* Parses `PROG PORT [--bug NAME]...`; prints usage and exits 2 on errors.
 * `bugs` lists the bugs this style implements (EXEC_BUG_NONE-terminated):
 * any other --bug is a usage error, so a test cannot silently run a correct
 * twin under a buggy name. Several --bug plant each. */
void exec_parse_args(exec_args_t *a, int argc, char **argv, const exec_bug_t *bugs);

/* A listening TCP socket on 127.0.0.1:port, non-blocking when `nonblock`.
 * Prints "listening on 127.0.0.1:PORT" (the real port) on stdout and flushes
 * it, so a test reads the port from the first line. Exits 1 on failure. */
int exec_listen(unsigned port, int nonblock);

/* Installs SIGTERM/SIGINT handlers and ignores SIGPIPE. Returns the read end
 * of a self-pipe that becomes readable when a stop signal arrives: add it to
 * the readiness set, and the loop wakes without races. */
int exec_signals(void);

void exec_conn_init(exec_conn_t *c, exec_bugs_t planted);
void exec_conn_free(exec_conn_t *c);

/* Feeds the bytes of ONE read (the bugs are per read, as in real code).
 * Executes the complete lines and appends their replies to c->out; sets
 * c->closing after QUIT. */
void exec_feed(exec_conn_t *c, const char *p, size_t n);

/* Executes one line (without its line end) and appends the reply; for
 * servers that split lines themselves (libevent's evbuffer_readln). Returns
 * 1 after QUIT, else 0. */
int exec_line(exec_conn_t *c, const char *line, size_t len);

/* Appends the over-the-limit reply, for servers that detect long lines
 * themselves. */
void exec_too_long(exec_conn_t *c);

/* Appends bytes to c->out. */
void exec_out(exec_conn_t *c, const char *p, size_t n);

/* Which call a server reads with, so that the servers between them use
 * every read call a preload shim must intercept. */
typedef enum exec_io { EXEC_IO_READ, EXEC_IO_RECV, EXEC_IO_READV, EXEC_IO_RECVMSG } exec_io_t;

/* Reads once (at most EXEC_READ_SIZE bytes) with `io` and feeds what came.
 * Returns 1 when bytes were fed, 0 when none were ready (EAGAIN, EINTR) or
 * the connection ended; at EOF or on an error it sets c->closing. */
int exec_read(exec_conn_t *c, int fd, exec_io_t io);

/* Writes c->out to fd. Returns 0 when everything is written, 1 when the
 * socket took only part (wait for writability), -1 on a write error. */
int exec_flush(exec_conn_t *c, int fd);

/* Closes a client connection after its last reply: a lingering close. A
 * bare close() with input still unread (lines behind QUIT) resets the
 * connection at once and throws away what the kernel still holds of the
 * reply (under Nagle, the tail of a short-written BYE); shutdown() first
 * sends all of it, then the FIN. */
void exec_close(int fd);

/* For the servers that accept with a blocking poll() (block, fork, thread):
 * exec_parse_args(), then pfd[0] exec_signals() and pfd[1] a blocking
 * exec_listen(), both polled for POLLIN. */
void exec_start(exec_args_t *a, int argc, char **argv, const exec_bug_t *bugs,
                struct pollfd pfd[2]);

/* Serves one connection with blocking read()s until its client is done or
 * the server closes it (QUIT, a write error), then closes fd. */
void exec_serve(int fd, exec_bugs_t planted);

#endif
