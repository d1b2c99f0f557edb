/* The server process of `--exec`: started under the shim in a process
 * group of its own on a free loopback port, watched, stopped, restarted;
 * see exec_internal.h. */
#include "run/exec_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
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
  pid_t shim_pid; /* the process that listens on the port */
  int elsewhere;  /* a port the server listened on instead of its own */
  int stolen;     /* another program listened on the port given to the server */
  int status;     /* the last wait status, when exited */
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
int fray__exec_free_port(void) {
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

/* Whether a TCP socket listens on port (IPv4 or IPv6), from the kernel's
 * tables (probing with connect() would hand the server a connection), and
 * its inode. Asked through sock_diag, which dumps only listening sockets:
 * /proc/net/tcp lists every socket, and on a test machine with 13,000
 * TIME_WAIT entries one read of it took 0.3 s. 1, 0, or -1 when netlink
 * cannot be asked. */
static int diag_listening(int port, unsigned long *inode) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), found = 0;
  if (fd < 0)
    return -1;
  static const int families[] = {AF_INET, AF_INET6};
  for (size_t f = 0; f < 2 && !found; f++) {
    struct {
      struct nlmsghdr h;
      struct inet_diag_req_v2 r;
    } req = {.h = {.nlmsg_len = sizeof req,
                   .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                   .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
             .r = {.sdiag_family = (uint8_t)families[f],
                   .sdiag_protocol = IPPROTO_TCP,
                   .idiag_states = 1u << 10 /* TCP_LISTEN */}};
    if (send(fd, &req, sizeof req, 0) != (ssize_t)sizeof req) {
      close(fd);
      return -1;
    }
    for (int done = 0; !done;) {
      long buf[2048];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        close(fd);
        return -1;
      }
      for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
           h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
          done = 1;
          break;
        }
        const struct inet_diag_msg *m = NLMSG_DATA(h);
        if (!found && ntohs(m->id.idiag_sport) == port) {
          found = 1;
          *inode = m->idiag_inode;
        }
      }
    }
  }
  close(fd);
  return found;
}

/* The same from /proc/net/tcp{,6}, where netlink is not allowed. */
static int proc_listening(int port, unsigned long *inode) {
  static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
  for (size_t f = 0; f < 2; f++) {
    FILE *fp = fopen(files[f], "re");
    char line[512];
    while (fp && fgets(line, sizeof line, fp)) {
      char local[128];
      unsigned st;
      unsigned long ino;
      if (sscanf(line, " %*d: %127s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &ino) != 3 ||
          st != 0x0A)
        continue;
      char *colon = strrchr(local, ':');
      if (colon && (int)strtol(colon + 1, NULL, 16) == port) {
        fclose(fp);
        *inode = ino;
        return 1;
      }
    }
    if (fp)
      fclose(fp);
  }
  return 0;
}

static int listening(int port, unsigned long *inode) {
  int r = diag_listening(port, inode);
  return r >= 0 ? r : proc_listening(port, inode);
}

/* The next live (not zombie) process of group pgid in the /proc listing
 * proc, or 0 at its end. */
static long next_member(DIR *proc, pid_t pgid) {
  struct dirent *d;
  while ((d = readdir(proc))) {
    char path[300], stat[512], state = 0;
    long pid = strtol(d->d_name, NULL, 10);
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *fp = pid > 0 ? fopen(path, "re") : NULL;
    size_t n = fp ? fread(stat, 1, sizeof stat - 1, fp) : 0;
    if (fp)
      fclose(fp);
    stat[n] = 0;
    char *close_paren = strrchr(stat, ')');
    int pgrp = 0;
    if (close_paren && sscanf(close_paren + 1, " %c %*d %d", &state, &pgrp) == 2 && pgrp == pgid &&
        state != 'Z')
      return pid;
  }
  return 0;
}

/* Whether a process of group pgid holds socket inode: the server itself
 * listens on its port, not some other program that took the port first. */
static int group_holds(pid_t pgid, unsigned long inode) {
  char want[64];
  snprintf(want, sizeof want, "socket:[%lu]", inode);
  DIR *proc = opendir("/proc");
  int held = 0;
  for (long pid; proc && !held && (pid = next_member(proc, pgid));) {
    char path[300], link[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", pid);
    DIR *fds = opendir(path);
    struct dirent *e;
    while (fds && !held && (e = readdir(fds))) {
      snprintf(path, sizeof path, "/proc/%ld/fd/%s", pid, e->d_name);
      ssize_t l = readlink(path, link, sizeof link - 1);
      held = l > 0 && (link[l] = 0, !strcmp(link, want));
    }
    if (fds)
      closedir(fds);
  }
  if (proc)
    closedir(proc);
  return held;
}

/* Whether a live process of group pgid is left (zombies are not: an
 * orphan's zombie waits for an init that may never reap it). */
static int group_alive(pid_t pgid) {
  if (kill(-pgid, 0) != 0)
    return 0;
  DIR *proc = opendir("/proc");
  int alive = proc ? next_member(proc, pgid) != 0 : 1;
  if (proc)
    closedir(proc);
  return alive;
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

/* Takes in the shim's start-up messages: HELLO, then LISTEN for the port
 * once the server listens. Returns whether that LISTEN came. */
static int take_hello(fray__server_t *s, int *hello) {
  fray_shim_msg_t m;
  int ready = 0;
  while (recv(s->ctl, &m, sizeof m, MSG_DONTWAIT) == (ssize_t)sizeof m) {
    if (m.type == FRAY_SHIM_MSG_HELLO)
      *hello = 1;
    else if (m.type == FRAY_SHIM_MSG_LISTEN && m.a == (uint64_t)s->port)
      ready = 1, s->shim_pid = (pid_t)m.pid;
    else if (m.type == FRAY_SHIM_MSG_LISTEN)
      s->elsewhere = (int)m.a;
  }
  return ready;
}

#define PROBE_MS 20 /* how often the kernel is asked, for what the shim cannot say */

#define NOT_SEEN_MS 500 /* listening that long with no word from the shim: it is not in */

/* Waits until the server listens on its port with the shim in it: the
 * shim's LISTEN says so at once. The kernel's tables are asked every
 * PROBE_MS to tell a server that listens without the shim in the listening
 * process (a static binary behind a wrapper, Go's direct system calls),
 * which exact schedules cannot drive, and to see another program holding
 * the port (s->stolen). */
static int await_ready(fray__server_t *s, char *err, size_t errlen) {
  uint64_t t = now_ms(), deadline = t + s->o.start_timeout_ms, probe = t + PROBE_MS, seen = 0;
  int hello = 0;
  s->stolen = s->elsewhere = 0;
  for (; t < deadline; t = now_ms()) {
    if (!fray__server_alive(s)) {
      char how[96];
      fray__server_describe_exit(s, how, sizeof how);
      snprintf(err, errlen, "the server %s before it listened on 127.0.0.1:%d", how, s->port);
      return FRAY_EIO;
    }
    if (take_hello(s, &hello))
      return 0;
    unsigned long ino = 0;
    if (t >= probe && (probe = t + PROBE_MS, listening(s->port, &ino))) {
      if (!group_holds(s->pid, ino)) {
        s->stolen = 1; /* it will fail to listen: another program has the port */
      } else if (!seen) {
        seen = t; /* the shim's LISTEN follows the kernel's by a moment */
      } else if (t - seen >= NOT_SEEN_MS) {
        snprintf(err, errlen,
                 "the shim is not in the process that listens on 127.0.0.1:%d (%s; a static "
                 "binary, Go, or a wrapper that clears LD_PRELOAD: see docs/exec.md)",
                 s->port, hello ? "it loaded into a process before it" : "it never loaded");
        return FRAY_EUNSUPPORTED;
      }
    }
    struct pollfd p = {.fd = s->ctl, .events = POLLIN};
    poll(&p, 1, (int)(probe > t ? probe - t : 0) + 1);
  }
  char why[96] = "";
  if (s->elsewhere)
    snprintf(why, sizeof why, " (it listens on port %d: write {port} where the port goes)",
             s->elsewhere);
  else if (!hello)
    snprintf(why, sizeof why, " (and the shim never said hello)");
  snprintf(err, errlen, "the server did not listen on 127.0.0.1:%d within %u ms%s", s->port,
           s->o.start_timeout_ms, why);
  return FRAY_ETIMEDOUT;
}

static int start_once(fray__server_t *s, char *err, size_t errlen) {
  fray__server_stop(s);
  char portbuf[16];
  s->port = fray__exec_free_port();
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

int fray__server_start(fray__server_t *s, char *err, size_t errlen) {
  int rc = 0;
  /* The port is free when fray picks it, but another program may bind it
   * before the server does (parallel tests): then a fresh port. */
  for (int attempt = 0; attempt < 3; attempt++)
    if (!(rc = start_once(s, err, errlen)) || !s->stolen)
      break;
  return rc;
}

/* Signals the group and waits up to ms for the leader; 1 if it ended. The
 * channel hangs up when the last process holding it exits: that wakes the
 * wait, not a timer. */
static int signal_and_wait(fray__server_t *s, int sig, unsigned ms) {
  kill(-s->pid, sig);
  uint64_t deadline = now_ms() + ms;
  for (uint64_t t = now_ms();; t = now_ms()) {
    if (!fray__server_alive(s))
      return 1;
    if (t >= deadline)
      return 0;
    struct pollfd p = {.fd = s->ctl, .events = POLLIN};
    if (s->ctl < 0 || poll(&p, 1, (int)(deadline - t < 20 ? deadline - t : 20)) != 0) {
      char drop[64];
      if (s->ctl >= 0 && (p.revents & POLLIN))
        (void)recv(s->ctl, drop, sizeof drop, MSG_DONTWAIT);
      else
        poll(NULL, 0, 2); /* hung up: the leader is about to be a zombie */
    }
  }
}

/* Waits up to ms until no process of group pgid is left. */
static void await_group_gone(pid_t pgid, unsigned ms) {
  uint64_t deadline = now_ms() + ms;
  while (group_alive(pgid) && now_ms() < deadline)
    poll(NULL, 0, 2);
}

int fray__server_stop(fray__server_t *s) {
  if (!s || !s->pid)
    return 0;
  if (fray__server_alive(s) && !signal_and_wait(s, SIGTERM, s->o.stop_grace_ms)) {
    kill(-s->pid, SIGKILL);
    waitpid(s->pid, &s->status, 0);
    s->exited = 1;
  }
  /* What the server started and left behind in its group goes too, and is
   * gone before fray goes on: no orphan outlives fray. */
  if (group_alive(s->pid)) {
    kill(-s->pid, SIGTERM);
    await_group_gone(s->pid, 50);
    kill(-s->pid, SIGKILL);
    await_group_gone(s->pid, 1000);
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

pid_t fray__server_shim_pid(const fray__server_t *s) {
  return s->shim_pid;
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
