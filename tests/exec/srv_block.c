/* exec-block: the simplest server there is, one connection at a time,
 * single-threaded, every socket blocking: accept, then read and answer
 * until the client is done, then accept the next one (tests/exec/README.md).
 * It exists for the shim's fuzz mode, whose sessions must go on while the
 * server's only thread blocks in read() on a client (docs/exec.md,
 * "Fuzzing"); multi-client scripts do not suit it (a second client waits
 * for the first to leave). */
#define _GNU_SOURCE
#include "proto.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static const exec_bug_t bugs[] = {EXEC_BUG_ONELINE,  EXEC_BUG_DROPTAIL, EXEC_BUG_MAX64,
                                  EXEC_BUG_QUITREST, EXEC_BUG_CRCUT,    EXEC_BUG_NONE};

int main(int argc, char **argv) {
  exec_args_t a;
  exec_parse_args(&a, argc, argv, bugs);
  struct pollfd pfd[2] = {{.fd = exec_signals(), .events = POLLIN},
                          {.fd = exec_listen(a.port, 0), .events = POLLIN}};
  for (;;) {
    /* The stop signals are heard between connections only. */
    if (poll(pfd, 2, -1) < 0 || (pfd[0].revents & POLLIN))
      return 0;
    int fd = accept(pfd[1].fd, NULL, NULL);
    if (fd < 0)
      continue;
    exec_conn_t c;
    exec_conn_init(&c, a.bug);
    while (!c.closing) {
      exec_read(&c, fd, EXEC_IO_READ);
      if (exec_flush(&c, fd))
        break;
    }
    exec_conn_free(&c);
    exec_close(fd);
  }
}
