/* exec-libevent: the protocol on libevent bufferevents, lines taken with
 * evbuffer_readln(EVBUFFER_EOL_CRLF); libevent writes the replies (no short
 * write bug can live here: bufferevents retry).
 *
 *   exec-libevent PORT [--bug oneline|droptail|max64|quitrest] */
#define _GNU_SOURCE
#include "proto.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdlib.h>

static const exec_bug_t bugs[] = {EXEC_BUG_ONELINE, EXEC_BUG_DROPTAIL, EXEC_BUG_MAX64,
                                  EXEC_BUG_QUITREST, EXEC_BUG_NONE};

typedef struct client {
  exec_conn_t c; /* its input buffer is unused: the bufferevent's is the buffer */
  struct bufferevent *bev;
  int skipping; /* the unfinished line is over the limit: refuse it at its end */
  struct client *prev, *next;
} client_t;

static client_t *clients;
static exec_bugs_t planted;

static void drop(client_t *cl) {
  if (cl->prev)
    cl->prev->next = cl->next;
  else
    clients = cl->next;
  if (cl->next)
    cl->next->prev = cl->prev;
  bufferevent_free(cl->bev);
  exec_conn_free(&cl->c);
  free(cl);
}

/* Runs the complete lines in `in`; the bugs act on what one read added. */
static void run_lines(client_t *cl, struct evbuffer *in) {
  if (EXEC_HAS(planted, EXEC_BUG_MAX64) && evbuffer_get_length(in) > 64) {
    exec_too_long(&cl->c); /* BUG: the buffer taken for a line */
    evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
  while (!cl->c.closing || EXEC_HAS(planted, EXEC_BUG_QUITREST)) {
    size_t n;
    char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
    if (!line) {
      if (evbuffer_get_length(in) > EXEC_MAX_LINE + 1) {
        evbuffer_drain(in, evbuffer_get_length(in));
        cl->skipping = 1;
      }
      break;
    }
    if (cl->skipping)
      exec_too_long(&cl->c);
    else if (exec_line(&cl->c, line, n))
      cl->c.closing = 1;
    cl->skipping = 0;
    free(line);
    if (EXEC_HAS(planted, EXEC_BUG_ONELINE)) {
      evbuffer_drain(in, evbuffer_get_length(in)); /* BUG: one line per read */
      break;
    }
  }
  if (EXEC_HAS(planted, EXEC_BUG_DROPTAIL))
    evbuffer_drain(in, evbuffer_get_length(in)); /* BUG: the tail does not survive */
}

static void on_write(struct bufferevent *bev, void *arg) {
  client_t *cl = arg;
  if (cl->c.closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
    drop(cl);
}

static void on_read(struct bufferevent *bev, void *arg) {
  client_t *cl = arg;
  run_lines(cl, bufferevent_get_input(bev));
  bufferevent_write(bev, cl->c.out, cl->c.out_len);
  cl->c.out_len = 0;
  if (cl->c.closing) {
    bufferevent_disable(bev, EV_READ);
    on_write(bev, cl);
  }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  client_t *cl = arg;
  if (what & BEV_EVENT_ERROR) {
    drop(cl);
    return;
  }
  /* EOF: replies already queued still go out. */
  cl->c.closing = 1;
  bufferevent_disable(bev, EV_READ);
  on_write(bev, cl);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int sl,
                      void *arg) {
  (void)sa, (void)sl, (void)arg;
  client_t *cl = calloc(1, sizeof *cl);
  struct bufferevent *bev =
      bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
  if (!cl || !bev) {
    free(cl);
    if (bev)
      bufferevent_free(bev);
    else
      evutil_closesocket(fd);
    return;
  }
  exec_conn_init(&cl->c, planted);
  cl->bev = bev;
  cl->next = clients;
  if (clients)
    clients->prev = cl;
  clients = cl;
  bufferevent_setcb(bev, on_read, on_write, on_event, cl);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_stop(evutil_socket_t sig, short what, void *arg) {
  (void)sig, (void)what;
  event_base_loopbreak(arg);
}

int main(int argc, char **argv) {
  exec_args_t a;
  exec_parse_args(&a, argc, argv, bugs);
  planted = a.planted;
  signal(SIGPIPE, SIG_IGN);
  struct event_base *base = event_base_new();
  int lfd = exec_listen(a.port, 1);
  struct evconnlistener *l =
      base ? evconnlistener_new(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, -1, lfd) : NULL;
  struct event *term = base ? evsignal_new(base, SIGTERM, on_stop, base) : NULL;
  struct event *intr = base ? evsignal_new(base, SIGINT, on_stop, base) : NULL;
  if (!l || !term || !intr || event_add(term, NULL) || event_add(intr, NULL))
    return 1;
  event_base_dispatch(base);
  while (clients)
    drop(clients);
  event_free(term);
  event_free(intr);
  evconnlistener_free(l);
  event_base_free(base);
  return 0;
}
