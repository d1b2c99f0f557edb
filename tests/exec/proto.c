/* The exec test servers' shared protocol code: see proto.h and README.md. */
#define _GNU_SOURCE
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define STORE_KEYS 256 /* distinct keys the store holds */
#define KEY_MAX 64     /* bytes of a key */

static const char *const bug_names[] = {"none",       "oneline",  "droptail",    "max64",
                                        "shortwrite", "quitrest", "eagainfatal", "partialeof",
                                        "closeidle",  "crcut",    "eofdrop",     "writefatal",
                                        "nondet",     "borrowed", "shutdown"};

/* ---- arguments, listening socket, signals ----------------------------------------- */

static void usage(const char *prog, const exec_bug_t *bugs) {
  fprintf(stderr, "usage: %s PORT [--bug NAME]...\n  NAME: one of", prog);
  for (const exec_bug_t *b = bugs; *b != EXEC_BUG_NONE; b++)
    fprintf(stderr, " %s", bug_names[*b]);
  fprintf(stderr, "\n");
  exit(2);
}

void exec_parse_args(exec_args_t *a, int argc, char **argv, const exec_bug_t *bugs) {
  a->planted = 0;
  if (argc < 2 || argc % 2)
    usage(argv[0], bugs);
  char *end;
  unsigned long port = strtoul(argv[1], &end, 10);
  if (*argv[1] == '\0' || *end != '\0' || port > 65535)
    usage(argv[0], bugs);
  a->port = (unsigned)port;
  for (int i = 2; i < argc; i += 2) {
    exec_bugs_t one = 0;
    if (strcmp(argv[i], "--bug") != 0)
      usage(argv[0], bugs);
    for (const exec_bug_t *b = bugs; *b != EXEC_BUG_NONE; b++)
      if (strcmp(argv[i + 1], bug_names[*b]) == 0)
        one = EXEC_BUG_BIT(*b);
    if (!one)
      usage(argv[0], bugs);
    a->planted |= one;
  }
}

int exec_listen(unsigned port, int nonblock) {
  int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0) | SOCK_CLOEXEC, 0);
  int one = 1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  socklen_t sl = sizeof sa;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
      bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 128) ||
      getsockname(fd, (struct sockaddr *)&sa, &sl)) {
    fprintf(stderr, "cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
    exit(1);
  }
  printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(sa.sin_port));
  fflush(stdout);
  return fd;
}

static int stop_pipe[2] = {-1, -1};

static void on_stop(int sig) {
  (void)sig;
  int e = errno;
  /* Non-blocking: a second signal with the pipe already full is moot. */
  (void)!write(stop_pipe[1], "x", 1);
  errno = e;
}

int exec_signals(void) {
  if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK)) {
    perror("pipe2");
    exit(1);
  }
  struct sigaction sa = {.sa_handler = on_stop};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  return stop_pipe[0];
}

/* ---- the store (one per server, shared by its connections) ------------------------ */

typedef struct entry {
  char key[KEY_MAX];
  size_t key_len;
  char val[EXEC_MAX_LINE];
  size_t val_len;
  int used;
} entry_t;

static entry_t store[STORE_KEYS];
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;

static entry_t *store_find(const char *k, size_t kl, int create) {
  entry_t *free_slot = NULL;
  for (size_t i = 0; i < STORE_KEYS; i++) {
    entry_t *e = &store[i];
    if (e->used && e->key_len == kl && memcmp(e->key, k, kl) == 0)
      return e;
    if (!e->used && !free_slot)
      free_slot = e;
  }
  if (!create || !free_slot)
    return NULL;
  memcpy(free_slot->key, k, kl);
  free_slot->key_len = kl;
  free_slot->used = 1;
  return free_slot;
}

/* ---- commands --------------------------------------------------------------------- */

void exec_out(exec_conn_t *c, const char *p, size_t n) {
  if (!n)
    return; /* (an empty ECHO first: memcpy to a NULL out is undefined, UBSan traps) */
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 256;
    while (cap < c->out_len + n)
      cap *= 2;
    char *o = realloc(c->out, cap);
    if (!o)
      abort(); /* a test fixture: out of memory is not a case it tests */
    c->out = o;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

static void reply(exec_conn_t *c, const char *s) {
  exec_out(c, s, strlen(s));
  exec_out(c, "\r\n", 2);
}

static int is(const char *line, size_t len, const char *cmd) {
  size_t n = strlen(cmd);
  return len >= n && memcmp(line, cmd, n) == 0 && (len == n || line[n] == ' ');
}

/* Splits "KEY[ VALUE]" after a command word; the key is 1..KEY_MAX bytes. */
static int key_arg(const char *line, size_t len, size_t skip, const char **k, size_t *kl) {
  if (len <= skip + 1)
    return -1;
  *k = line + skip + 1;
  const char *sp = memchr(*k, ' ', len - skip - 1);
  *kl = sp ? (size_t)(sp - *k) : len - skip - 1;
  return *kl == 0 || *kl > KEY_MAX ? -1 : 0;
}

static void cmd_store(exec_conn_t *c, const char *line, size_t len, int set) {
  const char *k;
  size_t kl;
  if (key_arg(line, len, 3, &k, &kl) || (set && k + kl == line + len) ||
      (!set && k + kl != line + len)) {
    reply(c, set ? "ERR usage: SET KEY VALUE" : "ERR usage: GET|DEL KEY");
    return;
  }
  pthread_mutex_lock(&store_lock);
  entry_t *e = store_find(k, kl, set);
  if (set && e) {
    e->val_len = (size_t)(line + len - (k + kl + 1));
    memcpy(e->val, k + kl + 1, e->val_len);
    reply(c, "OK");
  } else if (set) {
    reply(c, "ERR store full");
  } else if (!e) {
    reply(c, "NIL");
  } else if (line[0] == 'G') {
    exec_out(c, "VALUE ", 6);
    exec_out(c, e->val, e->val_len);
    exec_out(c, "\r\n", 2);
  } else {
    e->used = 0;
    reply(c, "DELETED");
  }
  pthread_mutex_unlock(&store_lock);
}

void exec_too_long(exec_conn_t *c) {
  reply(c, "ERR line too long");
}

int exec_line(exec_conn_t *c, const char *line, size_t len) {
  if (len > EXEC_MAX_LINE) {
    exec_too_long(c);
  } else if (len == 4 && memcmp(line, "PING", 4) == 0 && EXEC_HAS(c->planted, EXEC_BUG_NONDET)) {
    /* A pid differs between the forks fray fuzz --exec plays a session in
     * (its whole run and its cut one): the server's own variance. */
    char pong[32];
    snprintf(pong, sizeof pong, "PONG %ld", (long)getpid());
    reply(c, pong);
  } else if (len == 4 && memcmp(line, "PING", 4) == 0) {
    reply(c, "PONG");
  } else if (is(line, len, "ECHO")) {
    size_t skip = len > 4 ? 5 : 4;
    exec_out(c, line + skip, len - skip);
    exec_out(c, "\r\n", 2);
  } else if (is(line, len, "SET")) {
    cmd_store(c, line, len, 1);
  } else if (is(line, len, "GET") || is(line, len, "DEL")) {
    cmd_store(c, line, len, 0);
  } else if (len == 8 && memcmp(line, "SHUTDOWN", 8) == 0 &&
             EXEC_HAS(c->planted, EXEC_BUG_SHUTDOWN)) {
    /* Not a bug: the server's own shutdown command (as redis's SHUTDOWN),
     * which ends it at once for every client. */
    exit(0);
  } else if (len == 4 && memcmp(line, "QUIT", 4) == 0) {
    reply(c, "BYE");
    return 1;
  } else {
    reply(c, "ERR unknown command");
  }
  return 0;
}

/* ---- reads and writes ------------------------------------------------------------- */

void exec_conn_init(exec_conn_t *c, exec_bugs_t planted) {
  memset(c, 0, sizeof *c);
  c->planted = planted;
}

void exec_conn_free(exec_conn_t *c) {
  if (EXEC_HAS(c->planted, EXEC_BUG_CLOSEIDLE)) {
    /* The length of its last command's name, for a log line. BUG: a
     * connection closed before its first command has none: strlen(NULL). */
    volatile size_t logged = strlen(c->last);
    (void)logged;
  }
  free(c->out);
  c->out = NULL;
  c->out_len = c->out_cap = 0;
}

/* Ends the buffered line at its "\n": strips one "\r", runs it. */
static void end_line(exec_conn_t *c) {
  size_t len = c->in_len;
  if (len && c->in[len - 1] == '\r')
    len--;
  if (c->too_long)
    exec_too_long(c);
  else if (exec_line(c, c->in, len))
    c->closing = 1;
  c->last = "command";
  c->in_len = 0;
  c->too_long = 0;
}

void exec_feed(exec_conn_t *c, const char *p, size_t n) {
  if (EXEC_HAS(c->planted, EXEC_BUG_CRCUT) && n && p[n - 1] == '\r') {
    /* BUG: a read ending in "\r" is taken to end in "\r\n", whose "\n" is
     * looked for after it (in this read only) and overwritten: it is in the
     * next read, and memchr()'s NULL is written through. */
    char *lf = memchr(p + n - 1, '\n', 1);
    *lf = '\0';
  }
  if (EXEC_HAS(c->planted, EXEC_BUG_MAX64) && n > 64) {
    exec_too_long(c); /* BUG: the size of a read is taken for the size of a line. */
    return;
  }
  while (n && (!c->closing || EXEC_HAS(c->planted, EXEC_BUG_QUITREST))) {
    /* (QUITREST: BUG, the loop goes on over the lines read with QUIT.) */
    const char *nl = memchr(p, '\n', n);
    size_t piece = nl ? (size_t)(nl - p) : n;
    if (c->in_len + piece > sizeof c->in)
      c->too_long = 1; /* bounded: the rest of the line is not kept */
    else
      memcpy(c->in + c->in_len, p, piece);
    c->in_len = c->too_long ? 0 : c->in_len + piece;
    if (!nl)
      break;
    end_line(c);
    p = nl + 1;
    n -= piece + 1;
    if (EXEC_HAS(c->planted, EXEC_BUG_ONELINE))
      return; /* BUG: one line per read; the rest of the read is lost. */
  }
  if (EXEC_HAS(c->planted, EXEC_BUG_DROPTAIL))
    c->in_len = 0; /* BUG: an unfinished line does not survive the read. */
}

int exec_read(exec_conn_t *c, int fd, exec_io_t io) {
  char buf[EXEC_READ_SIZE];
  struct iovec iov[2] = {{buf, 16}, {buf + 16, sizeof buf - 16}};
  struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
  ssize_t r;
  switch (io) {
  case EXEC_IO_RECV:
    r = recv(fd, buf, sizeof buf, 0);
    break;
  case EXEC_IO_READV:
    r = readv(fd, iov, 2);
    break;
  case EXEC_IO_RECVMSG:
    r = recvmsg(fd, &mh, 0);
    break;
  default:
    r = read(fd, buf, sizeof buf);
  }
  if (r > 0) {
    exec_feed(c, buf, (size_t)r);
    return 1;
  }
  c->eof = r == 0;
  if (r == 0 && EXEC_HAS(c->planted, EXEC_BUG_PARTIALEOF) && c->in_len)
    end_line(c); /* BUG: the rest of the line never came; it is no command */
  if (r == 0 || EXEC_HAS(c->planted, EXEC_BUG_EAGAINFATAL) ||
      (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
    c->closing = 1; /* (EAGAINFATAL: BUG, finding nothing is not the end) */
  return 0;
}

/* BORROWED: every reply is copied into one buffer shared by all
 * connections and written from there, and the unwritten rest of a short
 * write is kept as a pointer into it (borrowed, not copied). BUG: another
 * connection's reply, built while this one's client reads slowly,
 * overwrites the rest before it is written. */
static int flush_borrowed(exec_conn_t *c, int fd) {
  static char shared[EXEC_READ_SIZE * 4];
  for (;;) {
    if (!c->rest_len && c->out_len) {
      size_t n = c->out_len < sizeof shared ? c->out_len : sizeof shared;
      memcpy(shared, c->out, n);
      c->rest = shared;
      c->rest_len = n;
      memmove(c->out, c->out + n, c->out_len - n);
      c->out_len -= n;
    }
    if (!c->rest_len)
      return 0;
    ssize_t w = write(fd, c->rest, c->rest_len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
    c->rest += w;
    c->rest_len -= (size_t)w;
  }
}

int exec_flush(exec_conn_t *c, int fd) {
  if (EXEC_HAS(c->planted, EXEC_BUG_BORROWED))
    return flush_borrowed(c, fd);
  size_t done = 0;
  int rc = 0;
  while (done < c->out_len) {
    ssize_t w = write(fd, c->out + done, c->out_len - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      rc = errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
      if (rc < 0 && EXEC_HAS(c->planted, EXEC_BUG_WRITEFATAL)) {
        /* BUG: one client's reset is taken for the server's own failure. */
        perror("write");
        exit(1);
      }
      break;
    }
    done += (size_t)w;
    if (EXEC_HAS(c->planted, EXEC_BUG_SHORTWRITE)) {
      done = c->out_len; /* BUG: one write() is assumed to take it all. */
      break;
    }
  }
  if (EXEC_HAS(c->planted, EXEC_BUG_SHORTWRITE) && rc == 1)
    done = c->out_len, rc = 0;
  if (done) /* (out is NULL until the first reply) */
    memmove(c->out, c->out + done, c->out_len - done);
  c->out_len -= done;
  return rc;
}

void exec_close(int fd) {
  shutdown(fd, SHUT_WR);
  close(fd);
}

void exec_start(exec_args_t *a, int argc, char **argv, const exec_bug_t *bugs,
                struct pollfd pfd[2]) {
  exec_parse_args(a, argc, argv, bugs);
  pfd[0] = (struct pollfd){.fd = exec_signals(), .events = POLLIN};
  pfd[1] = (struct pollfd){.fd = exec_listen(a->port, 0), .events = POLLIN};
}

void exec_serve(int fd, exec_bugs_t planted) {
  exec_conn_t c;
  exec_conn_init(&c, planted);
  while (!c.closing) {
    exec_read(&c, fd, EXEC_IO_READ);
    if (exec_flush(&c, fd))
      break;
  }
  exec_conn_free(&c);
  exec_close(fd);
}
