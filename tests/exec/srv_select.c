/* exec-select: the protocol on a select() loop, connections indexed by
 * descriptor (below FD_SETSIZE), reading with recv().
 *
 *   exec-select PORT [--bug oneline|droptail|max64|shortwrite|quitrest] */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static const exec_bug_t bugs[] = {EXEC_BUG_ONELINE,    EXEC_BUG_DROPTAIL, EXEC_BUG_MAX64,
                                  EXEC_BUG_SHORTWRITE, EXEC_BUG_QUITREST, EXEC_BUG_NONE};

static exec_conn_t *conns[FD_SETSIZE]; /* by descriptor; NULL: not a client */
static int want_write[FD_SETSIZE];

static void drop(int fd) {
  exec_conn_free(conns[fd]);
  free(conns[fd]);
  conns[fd] = NULL;
  exec_close(fd);
}

static void accept_all(int lfd, exec_bugs_t planted) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return;
    if (fd >= FD_SETSIZE || !(conns[fd] = malloc(sizeof *conns[fd]))) {
      close(fd);
      continue;
    }
    exec_conn_init(conns[fd], planted);
    want_write[fd] = 0;
  }
}

static void serve(int fd, int readable) {
  exec_conn_t *c = conns[fd];
  if (readable && !c->closing)
    exec_read(c, fd, EXEC_IO_RECV);
  int f = exec_flush(c, fd);
  if (f < 0 || (f == 0 && c->closing))
    drop(fd);
  else
    want_write[fd] = f;
}

int main(int argc, char **argv) {
  exec_args_t a;
  exec_parse_args(&a, argc, argv, bugs);
  int sfd = exec_signals();
  int lfd = exec_listen(a.port, 1);
  for (;;) {
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(sfd, &rd);
    FD_SET(lfd, &rd);
    int top = sfd > lfd ? sfd : lfd;
    for (int fd = 0; fd < FD_SETSIZE; fd++) {
      if (!conns[fd])
        continue;
      FD_SET(fd, want_write[fd] ? &wr : &rd);
      top = fd > top ? fd : top;
    }
    if (select(top + 1, &rd, &wr, NULL, NULL) < 0) {
      if (errno == EINTR)
        continue;
      return 1;
    }
    if (FD_ISSET(sfd, &rd))
      break;
    if (FD_ISSET(lfd, &rd))
      accept_all(lfd, a.planted);
    for (int fd = 0; fd <= top; fd++)
      if (conns[fd] && (FD_ISSET(fd, &rd) || FD_ISSET(fd, &wr)))
        serve(fd, FD_ISSET(fd, &rd));
  }
  for (int fd = 0; fd < FD_SETSIZE; fd++)
    if (conns[fd])
      drop(fd);
  close(lfd);
  return 0;
}
