/* exec-epoll: the protocol on an edge-triggered epoll loop: a readiness edge
 * is reported once, so each one is drained with readv() until EAGAIN.
 *
 *   exec-epoll PORT [--bug oneline|droptail|max64|shortwrite|quitrest] */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const exec_bug_t bugs[] = {EXEC_BUG_ONELINE,    EXEC_BUG_DROPTAIL, EXEC_BUG_MAX64,
                                  EXEC_BUG_SHORTWRITE, EXEC_BUG_QUITREST, EXEC_BUG_CRCUT,
                                  EXEC_BUG_NONE};

typedef struct client {
  exec_conn_t c;
  int fd;
  struct client *prev, *next; /* every open client, to close them at exit */
} client_t;

static client_t *clients;

/* The listener and the stop pipe are told apart from clients by these. */
static char tag_listen, tag_stop;

static void drop(client_t *cl) {
  if (cl->prev)
    cl->prev->next = cl->next;
  else
    clients = cl->next;
  if (cl->next)
    cl->next->prev = cl->prev;
  exec_close(cl->fd); /* also leaves the epoll set */
  exec_conn_free(&cl->c);
  free(cl);
}

static void accept_all(int ep, int lfd, exec_bugs_t planted) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return;
    client_t *cl = malloc(sizeof *cl);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = cl};
    if (!cl || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
      free(cl);
      close(fd);
      continue;
    }
    exec_conn_init(&cl->c, planted);
    cl->fd = fd;
    cl->prev = NULL;
    cl->next = clients;
    if (clients)
      clients->prev = cl;
    clients = cl;
  }
}

/* Edge-triggered: everything readable is read now, or no edge comes again;
 * a flush that stops at EAGAIN resumes at the next EPOLLOUT edge. */
static void serve(client_t *cl, uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    while (!cl->c.closing && exec_read(&cl->c, cl->fd, EXEC_IO_READV))
      if (exec_flush(&cl->c, cl->fd) < 0)
        cl->c.closing = 1;
  int f = exec_flush(&cl->c, cl->fd);
  if (f < 0 || (f == 0 && cl->c.closing))
    drop(cl);
}

int main(int argc, char **argv) {
  exec_args_t a;
  exec_parse_args(&a, argc, argv, bugs);
  int sfd = exec_signals();
  int lfd = exec_listen(a.port, 1);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ls = {.events = EPOLLIN | EPOLLET, .data.ptr = &tag_listen};
  struct epoll_event ss = {.events = EPOLLIN, .data.ptr = &tag_stop};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ls) || epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ss))
    return 1;
  for (;;) {
    struct epoll_event ev[64];
    int n = epoll_wait(ep, ev, 64, -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return 1;
    for (int i = 0; i < n; i++) {
      if (ev[i].data.ptr == &tag_stop) {
        while (clients)
          drop(clients);
        close(lfd);
        close(ep);
        return 0;
      }
      if (ev[i].data.ptr == &tag_listen)
        accept_all(ep, lfd, a.planted);
      else
        serve(ev[i].data.ptr, ev[i].events);
    }
  }
}
