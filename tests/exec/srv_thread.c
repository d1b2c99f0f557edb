/* exec-thread: one thread per connection on blocking sockets, reading with
 * recvmsg() and writing until done (a blocking write may still be short
 * when a signal or a shim interrupts it).
 *
 *   exec-thread PORT [--bug oneline|droptail|max64|shortwrite|quitrest] */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 64

static const exec_bug_t bugs[] = {EXEC_BUG_ONELINE,    EXEC_BUG_DROPTAIL, EXEC_BUG_MAX64,
                                  EXEC_BUG_SHORTWRITE, EXEC_BUG_QUITREST, EXEC_BUG_EAGAINFATAL,
                                  EXEC_BUG_NONE};

typedef struct slot {
  pthread_t thread;
  int fd;      /* -1 once the worker closed it */
  int running; /* a thread was started and not joined yet */
  exec_conn_t c;
} slot_t;

static slot_t slots[MAX_CONNS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
  slot_t *s = arg;
  while (!s->c.closing) {
    exec_read(&s->c, s->fd, EXEC_IO_RECVMSG);
    if (exec_flush(&s->c, s->fd))
      break;
  }
  pthread_mutex_lock(&lock);
  exec_close(s->fd);
  s->fd = -1;
  pthread_mutex_unlock(&lock);
  exec_conn_free(&s->c);
  return NULL;
}

/* Joins the workers that are done, so their slots can be reused. */
static void reap(void) {
  for (int i = 0; i < MAX_CONNS; i++) {
    pthread_mutex_lock(&lock);
    int done = slots[i].running && slots[i].fd < 0;
    pthread_mutex_unlock(&lock);
    if (done) {
      pthread_join(slots[i].thread, NULL);
      slots[i].running = 0;
    }
  }
}

static void start(int fd, exec_bugs_t planted) {
  reap();
  for (int i = 0; i < MAX_CONNS; i++) {
    if (slots[i].running)
      continue;
    slots[i].fd = fd;
    exec_conn_init(&slots[i].c, planted);
    if (pthread_create(&slots[i].thread, NULL, worker, &slots[i]) == 0) {
      slots[i].running = 1;
      return;
    }
    exec_conn_free(&slots[i].c);
    break;
  }
  close(fd);
}

int main(int argc, char **argv) {
  exec_args_t a;
  struct pollfd pfd[2];
  exec_start(&a, argc, argv, bugs, pfd);
  /* Workers inherit this mask: the stop signals go to the main thread. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  for (;;) {
    pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
    int n = poll(pfd, 2, -1);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 || pfd[0].revents)
      break;
    int fd = accept4(pfd[1].fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
      start(fd, a.planted);
  }
  /* Wake every worker blocked in recvmsg() with an EOF, then join them. */
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_CONNS; i++)
    if (slots[i].running && slots[i].fd >= 0)
      shutdown(slots[i].fd, SHUT_RDWR);
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < MAX_CONNS; i++)
    if (slots[i].running)
      pthread_join(slots[i].thread, NULL);
  close(pfd[1].fd);
  return 0;
}
