/* exec-fork: a fork-per-connection server (the inetd style; pre-fork
 * servers share its trait): the parent accepts and forks, a child serves
 * the connection with blocking reads and exits, the parent closes its copy.
 * The store is the child's own copy, so only scripts with one client
 * apply. It shows what the shim does with forked processes (docs/exec.md).
 *
 *   exec-fork PORT [--bug oneline|droptail|max64|shortwrite|quitrest] */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const exec_bug_t bugs[] = {EXEC_BUG_ONELINE,    EXEC_BUG_DROPTAIL, EXEC_BUG_MAX64,
                                  EXEC_BUG_SHORTWRITE, EXEC_BUG_QUITREST, EXEC_BUG_NONE};

static void serve(int fd, exec_bugs_t planted) {
  signal(SIGTERM, SIG_DFL); /* the parent's stop pipe is not watched here */
  signal(SIGINT, SIG_DFL);
  exec_serve(fd, planted);
  _exit(0);
}

int main(int argc, char **argv) {
  exec_args_t a;
  struct pollfd pfd[2];
  exec_start(&a, argc, argv, bugs, pfd);
  for (;;) {
    int n = poll(pfd, 2, -1);
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ; /* children that served their connection */
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 || pfd[0].revents)
      break;
    int fd = accept4(pfd[1].fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    if (fork() == 0) {
      close(pfd[0].fd);
      close(pfd[1].fd);
      serve(fd, a.planted);
    }
    close(fd);
  }
  close(pfd[1].fd);
  /* A child whose client has gone ends on its own, but perhaps not yet on
   * a loaded machine: waited for, none outlives the server. */
  while (wait(NULL) > 0 || errno == EINTR)
    ;
  return 0;
}
