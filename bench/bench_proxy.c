/* bench_proxy: MB/s through `fray proxy` against socat, in the same run.
 *
 *   bench_proxy FRAY [--bytes N] [--runs R] [--quick]
 *
 * One connection per run pushes N bytes (default 256 MiB) from a source to
 * a sink thread, either directly (the loopback ceiling), through
 * `fray proxy` (pass-through, and --split random), or through
 * `socat TCP-LISTEN TCP` (the reference). The sink checks every byte
 * against the source's pattern, so a figure is only printed for a byte-exact
 * transfer. Best of R runs (default 3) per contender; the ratios at the end
 * are fray proxy over socat. socat missing is a visible SKIP of its line.
 *
 * Exit status: 0 ok, 1 a transfer was not byte-exact or failed, 2 usage. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PLEN ((size_t)(1 << 20) + 7) /* pattern length: chunks never align with it */
#define CHUNK ((size_t)256 << 10)
#define WAIT_MS 10000 /* any single wait */

static uint8_t *pattern;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct sink {
  int lfd;
  uint16_t port;
  uint64_t got;
  int ok; /* every byte matched */
  double end;
} sink_t;

static int listen_any(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 8) ||
      getsockname(fd, (struct sockaddr *)&a, &l)) {
    perror("bench_proxy: listen");
    exit(2);
  }
  *port = ntohs(a.sin_port);
  return fd;
}

static void *sink_main(void *arg) {
  sink_t *s = arg;
  struct pollfd p = {.fd = s->lfd, .events = POLLIN};
  if (poll(&p, 1, WAIT_MS) != 1)
    return NULL;
  int fd = accept(s->lfd, NULL, NULL);
  if (fd < 0)
    return NULL;
  uint8_t *buf = malloc(CHUNK);
  size_t pos = 0;
  s->ok = buf != NULL;
  for (;;) {
    p = (struct pollfd){.fd = fd, .events = POLLIN};
    if (poll(&p, 1, WAIT_MS) != 1) {
      s->ok = 0;
      break;
    }
    ssize_t n = read(fd, buf, CHUNK);
    if (n <= 0)
      break;
    for (size_t off = 0; off < (size_t)n;) {
      size_t k = (size_t)n - off;
      if (k > PLEN - pos)
        k = PLEN - pos;
      if (memcmp(buf + off, pattern + pos, k))
        s->ok = 0;
      off += k;
      pos = (pos + k) % PLEN;
    }
    s->got += (uint64_t)n;
  }
  s->end = now();
  free(buf);
  close(fd);
  return NULL;
}

static int connect_to(uint16_t port) {
  for (int tries = 0; tries < 200; tries++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
      return fd;
    if (fd >= 0)
      close(fd);
    usleep(10000); /* socat may not be listening yet */
  }
  return -1;
}

/* Sends n bytes to port and waits for the sink; returns MB/s or -1. */
static double transfer(sink_t *s, pthread_t th, uint16_t port, uint64_t n) {
  int fd = connect_to(port);
  if (fd < 0)
    return -1;
  double t0 = now();
  uint64_t sent = 0;
  size_t pos = 0;
  while (sent < n) {
    size_t k = PLEN - pos;
    if (k > CHUNK)
      k = CHUNK;
    if (k > n - sent)
      k = (size_t)(n - sent);
    ssize_t w = write(fd, pattern + pos, k);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      perror("bench_proxy: write");
      break;
    }
    sent += (uint64_t)w;
    pos = (pos + (size_t)w) % PLEN;
  }
  shutdown(fd, SHUT_WR);
  pthread_join(th, NULL);
  close(fd);
  if (s->got != n || !s->ok) {
    fprintf(stderr, "bench_proxy: transfer not byte-exact: %llu of %llu bytes, %s\n",
            (unsigned long long)s->got, (unsigned long long)n,
            s->ok ? "content ok" : "content differs");
    return -1;
  }
  return (double)n / (s->end - t0) / 1e6;
}

/* Starts argv in the background; for fray, reads its "listening on" port. */
static pid_t spawn(char **argv, uint16_t *port) {
  int pfd[2];
  if (pipe(pfd))
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pfd[1], 1);
    close(pfd[0]);
    close(pfd[1]);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(pfd[1]);
  if (port && !*port) {
    char line[128] = "";
    size_t len = 0;
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    while (len < sizeof line - 1 && !strchr(line, '\n') && poll(&p, 1, WAIT_MS) == 1) {
      ssize_t r = read(pfd[0], line + len, sizeof line - 1 - len);
      if (r <= 0)
        break;
      len += (size_t)r;
      line[len] = '\0';
    }
    char *c = strrchr(line, ':');
    *port = c ? (uint16_t)atoi(c + 1) : 0;
  }
  close(pfd[0]);
  return pid;
}

static void reap(pid_t pid) {
  kill(pid, SIGTERM);
  for (int i = 0; i < 500; i++) {
    if (waitpid(pid, NULL, WNOHANG) == pid)
      return;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

typedef enum kind { DIRECT, FRAY, FRAY_SPLIT, SOCAT } kind_t;

/* One run of one contender; MB/s, or -1 on failure, -2 when unavailable. */
static double run_one(kind_t k, const char *fray, uint64_t n) {
  sink_t s = {0};
  s.lfd = listen_any(&s.port);
  pthread_t th;
  pthread_create(&th, NULL, sink_main, &s);
  char up[64], lis[96];
  snprintf(up, sizeof up, "127.0.0.1:%u", s.port);
  uint16_t port = 0;
  pid_t pid = 0;
  if (k == FRAY || k == FRAY_SPLIT) {
    char *argv[] = {(char *)fray,
                    "proxy",
                    "--listen",
                    "127.0.0.1:0",
                    "--upstream",
                    up,
                    k == FRAY_SPLIT ? "--split" : NULL,
                    "random",
                    NULL};
    pid = spawn(argv, &port);
  } else if (k == SOCAT) {
    /* A free port for socat: bind 0, read it, close. */
    int tmp = listen_any(&port);
    close(tmp);
    snprintf(lis, sizeof lis, "TCP-LISTEN:%u,bind=127.0.0.1,reuseaddr", port);
    char tgt[96];
    snprintf(tgt, sizeof tgt, "TCP:%s", up);
    char *argv[] = {"socat", "-b262144", lis, tgt, NULL};
    uint16_t known = port;
    pid = spawn(argv, &known);
  } else {
    port = s.port;
  }
  double r = port ? transfer(&s, th, port, n) : -1;
  if (!port) {
    shutdown(s.lfd, SHUT_RDWR);
    pthread_join(th, NULL);
  }
  if (pid > 0)
    reap(pid);
  close(s.lfd);
  return r;
}

static int have_socat(void) {
  return system("command -v socat >/dev/null 2>&1") == 0;
}

int main(int argc, char **argv) {
  uint64_t bytes = (uint64_t)256 << 20;
  int runs = 3;
  const char *fray = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) {
      bytes = (uint64_t)16 << 20;
      runs = 1;
    } else if (!strcmp(argv[i], "--bytes") && i + 1 < argc) {
      bytes = strtoull(argv[++i], NULL, 0);
    } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
      runs = atoi(argv[++i]);
    } else if (argv[i][0] != '-' && !fray) {
      fray = argv[i];
    } else {
      fprintf(stderr, "usage: bench_proxy FRAY [--bytes N] [--runs R] [--quick]\n");
      return 2;
    }
  }
  if (!fray || !bytes || runs < 1) {
    fprintf(stderr, "usage: bench_proxy FRAY [--bytes N] [--runs R] [--quick]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  pattern = malloc(PLEN);
  if (!pattern)
    return 2;
  uint64_t x = 88172645463325252ULL;
  for (size_t i = 0; i < PLEN; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    pattern[i] = (uint8_t)x;
  }
  static const char *const names[] = {"direct (no proxy)", "fray proxy",
                                      "fray proxy --split random", "socat"};
  double best[4] = {0};
  int socat = have_socat();
  printf("bench_proxy: %llu bytes per transfer, best of %d, one connection, loopback\n",
         (unsigned long long)bytes, runs);
  int status = 0;
  for (int k = 0; k < 4; k++) {
    if (k == SOCAT && !socat) {
      printf("  %-28s SKIP (socat not installed: apt-get install socat)\n", names[k]);
      continue;
    }
    for (int r = 0; r < runs; r++) {
      double v = run_one((kind_t)k, fray, bytes);
      if (v < 0) {
        printf("  %-28s FAILED\n", names[k]);
        status = 1;
        break;
      }
      if (v > best[k])
        best[k] = v;
    }
    if (best[k] > 0)
      printf("  %-28s %9.1f MB/s (byte-exact)\n", names[k], best[k]);
  }
  if (best[SOCAT] > 0) {
    if (best[FRAY] > 0)
      printf("ratio fray proxy / socat: %.2f\n", best[FRAY] / best[SOCAT]);
    if (best[FRAY_SPLIT] > 0)
      printf("ratio fray proxy --split random / socat: %.2f\n", best[FRAY_SPLIT] / best[SOCAT]);
  }
  free(pattern);
  return status;
}
