/* A small poll() line echo server for the shim's tests: it answers each
 * complete line with "echo: LINE\n", whatever the reads' sizes, and is
 * built with gcc's dynamic ASan runtime to check that fray exec puts that
 * runtime first in LD_PRELOAD. Usage: echo_server PORT. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 16

typedef struct conn {
  int fd;
  char buf[4096];
  size_t len;
} conn_t;

static void answer(conn_t *c) {
  char *nl;
  while ((nl = memchr(c->buf, '\n', c->len))) {
    size_t l = (size_t)(nl - c->buf) + 1;
    char out[4200];
    int n = snprintf(out, sizeof out, "echo: %.*s", (int)l, c->buf);
    for (int off = 0; off < n;) {
      ssize_t w = write(c->fd, out + off, (size_t)(n - off));
      if (w > 0)
        off += (int)w;
    }
    memmove(c->buf, c->buf + l, c->len - l);
    c->len -= l;
  }
}

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 16))
    return perror("echo_server"), 1;
  conn_t *cs = calloc(MAXC, sizeof *cs);
  for (int i = 0; i < MAXC; i++)
    cs[i].fd = -1;
  for (;;) {
    struct pollfd p[MAXC + 1] = {{.fd = ls, .events = POLLIN}};
    for (int i = 0; i < MAXC; i++)
      p[i + 1] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
    if (poll(p, MAXC + 1, -1) < 0)
      continue;
    if (p[0].revents & POLLIN) {
      int fd = accept(ls, NULL, NULL);
      for (int i = 0; i < MAXC && fd >= 0; i++)
        if (cs[i].fd < 0) {
          cs[i].fd = fd, cs[i].len = 0, fd = -1;
        }
      if (fd >= 0)
        close(fd);
    }
    for (int i = 0; i < MAXC; i++) {
      if (cs[i].fd < 0 || !(p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      ssize_t r = read(cs[i].fd, cs[i].buf + cs[i].len, sizeof cs[i].buf - cs[i].len);
      if (r <= 0) {
        close(cs[i].fd);
        cs[i].fd = -1;
        continue;
      }
      cs[i].len += (size_t)r;
      answer(&cs[i]);
    }
  }
}
