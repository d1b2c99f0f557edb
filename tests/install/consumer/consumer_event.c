/* A libevent server written the way a user of an installed fray would write
 * it: only <fray/event.h>, <fray/version.h> and libevent's public headers.
 * An echo handler is served by fray::event on 127.0.0.1 (port chosen by the
 * kernel); a client socket on the same thread sends two lines (the second in
 * two writes) and reads them back while the loop is stepped; then a graceful
 * stop must end with no connection left. Every wait is bounded.
 * Exit status 0 when everything matched, 1 otherwise (the reason on stderr). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <fray/event.h>
#include <fray/version.h>

#define WAIT_MS 5000

static int echo_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *conn_state) {
  (void)conn_state;
  int rc = fray_conn_send(c, data, len);
  return rc ? rc : fray_conn_send(c, "\n", 1);
}

static void on_stopped(fray_event_server_t *es, void *user_data) {
  (void)es;
  *(int *)user_data = 1;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Steps the loop and reads the client until want bytes came or WAIT_MS
 * passed; returns the bytes read into buf. */
static size_t pump(struct event_base *base, int fd, char *buf, size_t want) {
  size_t got = 0;
  long end = now_ms() + WAIT_MS;
  while (got < want && now_ms() < end) {
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2) <= 0)
      continue;
    ssize_t n = recv(fd, buf + got, want - got, 0);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  return got;
}

static int connect_to(unsigned port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  /* A loopback connect completes in the kernel's backlog before the loop
   * accepts, so a blocking connect on the loop's thread does not hang. */
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

static int serve_and_echo(struct event_base *base, fray_event_server_t *es) {
  static const char *const writes[] = {"hello\n", "wor", "ld\n"};
  static const char want[] = "hello\nworld\n";
  char got[sizeof want] = {0};
  int fd = connect_to(fray_event_server_port(es));
  if (fd < 0) {
    fprintf(stderr, "consumer_event: connect: %s\n", strerror(errno));
    return 1;
  }
  for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
    if (send(fd, writes[i], strlen(writes[i]), 0) != (ssize_t)strlen(writes[i])) {
      fprintf(stderr, "consumer_event: send: %s\n", strerror(errno));
      close(fd);
      return 1;
    }
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  }
  size_t n = pump(base, fd, got, sizeof want - 1);
  close(fd);
  if (n != sizeof want - 1 || memcmp(got, want, n) != 0) {
    fprintf(stderr, "consumer_event: echo gave %zu bytes '%.*s', expected '%s'\n", n, (int)n, got,
            want);
    return 1;
  }
  return 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  fray_handler_t echo = {.name = "echo", .on_frame = echo_frame};
  echo.spec = fray_spec_line();
  int stopped = 0, failed = 0;
  fray_event_opts_t opts;
  fray_event_opts_init(&opts);
  opts.stop_timeout_ms = 1000;
  opts.on_stopped = on_stopped;
  opts.user_data = &stopped;
  char err[256];
  fray_event_server_t *es = NULL;
  struct event_base *base = event_base_new();
  if (!base) {
    fprintf(stderr, "consumer_event: event_base_new failed\n");
    return 1;
  }
  int rc = fray_event_server_new(&es, base, &echo, "127.0.0.1:0", &opts, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "consumer_event: fray_event_server_new: %s (%s)\n", err, fray_strerror(rc));
    event_base_free(base);
    return 1;
  }
  failed = serve_and_echo(base, es);

  fray_event_server_stop(es);
  for (long end = now_ms() + WAIT_MS; !stopped && now_ms() < end;) {
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    poll(NULL, 0, 2);
  }
  fray_event_stats_t st;
  fray_event_server_stats(es, &st);
  if (!stopped || st.accepted != 1 || st.open != 0) {
    fprintf(stderr, "consumer_event: stop %s, %llu accepted, %zu still open\n",
            stopped ? "finished" : "did not finish", (unsigned long long)st.accepted, st.open);
    failed = 1;
  }
  fray_event_server_free(es);
  event_base_free(base);
  if (!failed)
    printf("consumer_event: fray %s (headers %s) echoed over loopback and stopped cleanly\n",
           fray_version(), FRAY_VERSION_STRING);
  return failed;
}
