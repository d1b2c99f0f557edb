/* The server process of `--exec`: started under the shim in a process
 * group of its own on a free loopback port, watched, stopped, restarted;
 * see exec_internal.h. */
#include "run/exec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "../shim/protocol.h"

#define CTL_FD_MIN 100 /* the server's end of the channel moves above the low fds */

struct fray__server {
  fray_mem_t mem;
  fray__server_opts_t o;
  char *command;
  fray__exec_prog_t prog;
  char shim[4096 + 64];
  char log_path[4096];
  pid_t pid; /* 0: not running */
  int ctl;   /* fray's end of the control channel, -1 */
  int port;
  int status; /* the last wait status, when exited */
  int exited;
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fray__server_opts_init(fray__server_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->start_timeout_ms = 10000;
  o->stop_grace_ms = 2000;
}

int fray__server_new(fray__server_t **out, const fray__server_opts_t *o, const fray_mem_t *mem,
                     char *err, size_t errlen) {
  fray_mem_t m;
  fray__mem_init(&m, mem);
  *out = NULL;
  fray__server_t *s = fray__malloc(&m, sizeof *s);
  if (!s)
    return FRAY_ENOMEM;
  memset(s, 0, sizeof *s);
  s->mem = m;
  s->o = *o;
  s->ctl = -1;
  size_t cl = strlen(o->command);
  s->command = fray__malloc(&m, cl + 1);
  if (!s->command) {
    fray__server_free(s);
    return FRAY_ENOMEM;
  }
  memcpy(s->command, o->command, cl + 1);
  char **argv;
  size_t argc;
  int rc = fray__exec_split(&m, o->command, "0", &argv, &argc, err, errlen);
  if (!rc) {
    if (fray__exec_inspect(argv[0], &s->prog))
      rc = FRAY_ENOENT, snprintf(err, errlen, "%s: command not found or not executable", argv[0]);
    else if (fray__exec_unfit(&s->prog))
      rc = FRAY_EUNSUPPORTED,
      snprintf(err, errlen, "%s %s", s->prog.path, fray__exec_unfit(&s->prog));
    else if (fray__exec_find_shim(s->shim, sizeof s->shim))
      rc = FRAY_ENOENT, snprintf(err, errlen, "%s", s->shim);
    fray__exec_argv_free(&m, argv);
  }
  if (o->log_path)
    snprintf(s->log_path, sizeof s->log_path, "%s", o->log_path);
  else
    snprintf(s->log_path, sizeof s->log_path, "%s/fray-exec-%d.log",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  if (rc) {
    fray__server_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* A free loopback port, as the kernel picks one for a throwaway listener. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  int port = -1;
  if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
      !getsockname(fd, (struct sockaddr *)&a, &al))
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

/* Whether something listens on TCP port (IPv4 or IPv6), from the kernel's
 * tables: probing with connect() would hand the server a connection. */
static int listening(int port) {
  static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
  for (size_t f = 0; f < 2; f++) {
    FILE *fp = fopen(files[f], "re");
    char line[512];
    while (fp && fgets(line, sizeof line, fp)) {
      char local[128];
      unsigned st;
      if (sscanf(line, " %*d: %127s %*s %x", local, &st) != 2 || st != 0x0A)
        continue;
      char *colon = strrchr(local, ':');
      if (colon && (int)strtol(colon + 1, NULL, 16) == port) {
        fclose(fp);
        return 1;
      }
    }
    if (fp)
      fclose(fp);
  }
  return 0;
}

/* In the child: the process group, the log, the channel, the environment. */
static void child(fray__server_t *s, int ctl, int logfd, char **argv) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* fray gone: no orphan server */
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0)
    dup2(devnull, 0);
  dup2(logfd, 1);
  dup2(logfd, 2);
  int fd = fcntl(ctl, F_DUPFD, CTL_FD_MIN); /* without FD_CLOEXEC: it crosses exec */
  char num[16], port[16], preload[8192];
  snprintf(num, sizeof num, "%d", fd);
  snprintf(port, sizeof port, "%d", s->port);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (fd < 0 ||
      fray__exec_preload(&s->prog, s->shim, getenv("LD_PRELOAD"), preload, sizeof preload) ||
      setenv("LD_PRELOAD", preload, 1) || setenv(FRAY_SHIM_ENV_FD, num, 1) ||
      setenv(FRAY_SHIM_ENV_PORT, port, 1))
    _exit(126);
  unsetenv(FRAY_SHIM_ENV_READS);
  unsetenv(FRAY_SHIM_ENV_WRITES);
  unsetenv(FRAY_SHIM_ENV_ROLE);
  execv(s->prog.path, argv);
  fprintf(stderr, "fray: cannot run %s: %s\n", s->prog.path, strerror(errno));
  _exit(127);
}

int fray__server_alive(fray__server_t *s) {
  if (!s->pid)
    return 0;
  if (!s->exited && waitpid(s->pid, &s->status, WNOHANG) == s->pid)
    s->exited = 1;
  return !s->exited;
}

void fray__server_describe_exit(const fray__server_t *s, char *buf, size_t n) {
  if (WIFEXITED(s->status))
    snprintf(buf, n, "exited with status %d", WEXITSTATUS(s->status));
  else if (WIFSIGNALED(s->status))
    snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(s->status),
             strsignal(WTERMSIG(s->status)));
  else
    snprintf(buf, n, "ended");
}

/* Waits for the shim's HELLO, then for the port to listen. */
static int await_ready(fray__server_t *s, char *err, size_t errlen) {
  uint64_t deadline = now_ms() + s->o.start_timeout_ms;
  int hello = 0;
  while (now_ms() < deadline) {
    if (!fray__server_alive(s)) {
      char how[96];
      fray__server_describe_exit(s, how, sizeof how);
      snprintf(err, errlen, "the server %s before it listened on 127.0.0.1:%d", how, s->port);
      return FRAY_EIO;
    }
    struct pollfd p = {.fd = s->ctl, .events = POLLIN};
    if (!hello && poll(&p, 1, 5) == 1) {
      fray_shim_msg_t m;
      if (recv(s->ctl, &m, sizeof m, MSG_DONTWAIT) == (ssize_t)sizeof m &&
          m.type == FRAY_SHIM_MSG_HELLO)
        hello = 1;
      continue;
    }
    if (listening(s->port)) {
      if (hello)
        return 0;
      snprintf(err, errlen,
               "the shim did not load into the server (a static or setuid binary, or a "
               "wrapper that clears LD_PRELOAD; see docs/exec.md)");
      return FRAY_EUNSUPPORTED;
    }
    if (hello)
      poll(NULL, 0, 5);
  }
  snprintf(err, errlen, "the server did not listen on 127.0.0.1:%d within %u ms%s", s->port,
           s->o.start_timeout_ms, hello ? "" : " (and the shim never said hello)");
  return FRAY_ETIMEDOUT;
}

int fray__server_start(fray__server_t *s, char *err, size_t errlen) {
  fray__server_stop(s);
  char portbuf[16];
  s->port = free_port();
  snprintf(portbuf, sizeof portbuf, "%d", s->port);
  char **argv;
  size_t argc;
  int rc = fray__exec_split(&s->mem, s->command, portbuf, &argv, &argc, err, errlen);
  if (rc)
    return rc;
  int sv[2], logfd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (logfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
    snprintf(err, errlen, "cannot set up the server (%s): %s", s->log_path, strerror(errno));
    if (logfd >= 0)
      close(logfd);
    fray__exec_argv_free(&s->mem, argv);
    return FRAY_EIO;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0)
    child(s, sv[1], logfd, argv);
  close(sv[1]);
  close(logfd);
  fray__exec_argv_free(&s->mem, argv);
  if (pid < 0) {
    close(sv[0]);
    snprintf(err, errlen, "fork: %s", strerror(errno));
    return FRAY_EIO;
  }
  setpgid(pid, pid); /* also here: no window where a signal to the group misses it */
  s->pid = pid;
  s->exited = 0;
  s->ctl = sv[0];
  rc = await_ready(s, err, errlen);
  if (rc)
    fray__server_stop(s);
  return rc;
}

/* Signals the group and waits up to ms for the leader; 1 if it ended. */
static int signal_and_wait(fray__server_t *s, int sig, unsigned ms) {
  kill(-s->pid, sig);
  uint64_t deadline = now_ms() + ms;
  do {
    if (!fray__server_alive(s))
      return 1;
    poll(NULL, 0, 2);
  } while (now_ms() < deadline);
  return 0;
}

int fray__server_stop(fray__server_t *s) {
  if (!s || !s->pid)
    return 0;
  if (fray__server_alive(s) && !signal_and_wait(s, SIGTERM, s->o.stop_grace_ms)) {
    kill(-s->pid, SIGKILL);
    waitpid(s->pid, &s->status, 0);
    s->exited = 1;
  }
  /* What the server started and left behind in its group goes too. */
  if (kill(-s->pid, 0) == 0) {
    kill(-s->pid, SIGTERM);
    poll(NULL, 0, 50);
    kill(-s->pid, SIGKILL);
  }
  s->pid = 0;
  if (s->ctl >= 0)
    close(s->ctl);
  s->ctl = -1;
  return s->status;
}

void fray__server_free(fray__server_t *s) {
  if (!s)
    return;
  fray__server_stop(s);
  if (!s->o.log_path && s->log_path[0])
    unlink(s->log_path);
  fray__free(&s->mem, s->command);
  fray_mem_t m = s->mem;
  fray__free(&m, s);
}

int fray__server_port(const fray__server_t *s) {
  return s->port;
}

int fray__server_ctl(const fray__server_t *s) {
  return s->ctl;
}

pid_t fray__server_pid(const fray__server_t *s) {
  return s->pid;
}

size_t fray__server_tail(const fray__server_t *s, char *buf, size_t n, size_t lines) {
  buf[0] = 0;
  int fd = open(s->log_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || n < 2)
    return fd >= 0 ? (size_t)close(fd) * 0 : 0;
  off_t end = lseek(fd, 0, SEEK_END);
  off_t from = end > (off_t)(n - 1) ? end - (off_t)(n - 1) : 0;
  ssize_t r = pread(fd, buf, n - 1, from);
  close(fd);
  if (r <= 0)
    return 0;
  buf[r] = 0;
  /* Keep the last `lines` lines. */
  size_t len = (size_t)r, k = 0;
  while (len && buf[len - 1] == '\n')
    buf[--len] = 0;
  size_t start = len;
  while (start > 0 && k < lines)
    if (buf[--start] == '\n' && ++k == lines)
      start++;
  memmove(buf, buf + start, len - start + 1);
  return len - start;
}
