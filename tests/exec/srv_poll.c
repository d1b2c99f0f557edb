/* exec-poll: the protocol on a poll() loop with non-blocking sockets, each
 * connection with its own input buffer (proto.c). Carries every planted bug.
 *
 *   exec-poll PORT [--bug NAME]... (tests/exec/README.md) */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 64

static const exec_bug_t bugs[] = {EXEC_BUG_ONELINE,    EXEC_BUG_DROPTAIL,   EXEC_BUG_MAX64,
                                  EXEC_BUG_SHORTWRITE, EXEC_BUG_QUITREST,   EXEC_BUG_EAGAINFATAL,
                                  EXEC_BUG_PARTIALEOF, EXEC_BUG_CLOSEIDLE,  EXEC_BUG_CRCUT,
                                  EXEC_BUG_EOFDROP,    EXEC_BUG_WRITEFATAL, EXEC_BUG_NONDET,
                                  EXEC_BUG_BORROWED,   EXEC_BUG_SHUTDOWN,   EXEC_BUG_NONE};

typedef struct server {
  struct pollfd pfd[MAX_CONNS + 2]; /* [0] stop pipe, [1] listener, then clients */
  exec_conn_t conn[MAX_CONNS + 2];
  nfds_t n;
  exec_bugs_t planted;
} server_t;

static void drop(server_t *s, nfds_t i) {
  exec_close(s->pfd[i].fd);
  exec_conn_free(&s->conn[i]);
  s->n--;
  s->pfd[i] = s->pfd[s->n];
  s->conn[i] = s->conn[s->n];
}

static void accept_all(server_t *s) {
  for (;;) {
    int fd = accept4(s->pfd[1].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return;
    if (s->n == MAX_CONNS + 2) {
      close(fd);
      continue;
    }
    s->pfd[s->n] = (struct pollfd){.fd = fd, .events = POLLIN};
    exec_conn_init(&s->conn[s->n], s->planted);
    s->n++;
  }
}

/* One read per wakeup: the loop comes back for the rest. */
static void take_input(exec_conn_t *c, int fd) {
  if (!EXEC_HAS(c->planted, EXEC_BUG_EOFDROP)) {
    exec_read(c, fd, EXEC_IO_READ);
    return;
  }
  /* Reads until the socket is empty. BUG: an EOF found there abandons the
   * connection at once, with the replies to the lines this wakeup read
   * before it still unsent (a half-closed client never gets them). */
  while (exec_read(c, fd, EXEC_IO_READ))
    ;
  if (c->eof)
    c->out_len = 0;
}

/* Serves one ready client; returns 0 when it was dropped. */
static int serve(server_t *s, nfds_t i) {
  exec_conn_t *c = &s->conn[i];
  if ((s->pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && !c->closing)
    take_input(c, s->pfd[i].fd);
  int f = exec_flush(c, s->pfd[i].fd);
  if (f < 0 || (f == 0 && c->closing)) {
    drop(s, i);
    return 0;
  }
  s->pfd[i].events = f ? POLLOUT : POLLIN;
  return 1;
}

int main(int argc, char **argv) {
  exec_args_t a;
  exec_parse_args(&a, argc, argv, bugs);
  static server_t s;
  s.planted = a.planted;
  s.pfd[0] = (struct pollfd){.fd = exec_signals(), .events = POLLIN};
  s.pfd[1] = (struct pollfd){.fd = exec_listen(a.port, 1), .events = POLLIN};
  s.n = 2;
  for (;;) {
    if (poll(s.pfd, s.n, -1) < 0) {
      if (errno == EINTR)
        continue;
      return 1;
    }
    if (s.pfd[0].revents)
      break;
    if (s.pfd[1].revents)
      accept_all(&s);
    for (nfds_t i = 2; i < s.n;)
      i += s.pfd[i].revents ? (nfds_t)serve(&s, i) : 1;
  }
  while (s.n > 2)
    drop(&s, 2);
  close(s.pfd[1].fd);
  return 0;
}
