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
  struct pollfd pfd[2];
  exec_start(&a, argc, argv, bugs, pfd);
  for (;;) {
    /* The stop signals are heard between connections only. */
    if (poll(pfd, 2, -1) < 0 || (pfd[0].revents & POLLIN))
      return 0;
    int fd = accept(pfd[1].fd, NULL, NULL);
    if (fd >= 0)
      exec_serve(fd, a.planted);
  }
}
