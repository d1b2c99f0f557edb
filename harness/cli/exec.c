/* fray exec: runs any program under the preload shim with a standing
 * policy on every client connection: its reads cut (bytewise, at random,
 * or capped), its writes accepted in short pieces. The policy travels to the
 * shim in the environment and the shim applies it alone (harness/shim/). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "run/exec_internal.h"
#include "../shim/policy.h"
#include "../shim/protocol.h"

static void usage(FILE *out) {
  fputs("usage: fray exec [--reads POLICY] [--writes POLICY] [--log FILE] [--role server|client]\n"
        "                 [--port PORT] -- COMMAND [ARGS...]\n"
        "\n"
        "Runs COMMAND under libfray-shim.so (LD_PRELOAD) with a standing policy on\n"
        "every client connection: each TCP connection it accepts (--role server, the\n"
        "default) or makes (--role client). Everything else (files, pipes, other\n"
        "sockets) is left alone, and the kernel still does the networking: run your\n"
        "integration tests, benchmarks and real clients against a server whose every\n"
        "read is cut.\n"
        "\n"
        "  --reads POLICY    what one read returns of what is pending:\n"
        "                      1          one byte (bytewise)\n"
        "                      max:N      at most N bytes\n"
        "                      random[:SEED]  seeded cuts, most of them where framing\n"
        "                                 bugs live (next to \\r, \\n, NUL, a word start)\n"
        "                      all        untouched (the default)\n"
        "  --writes POLICY   what one write accepts:\n"
        "                      short[:SEED]  1-16 bytes, and one write in four fails\n"
        "                                 with EAGAIN on a non-blocking socket\n"
        "                      all        untouched (the default)\n"
        "  --log FILE        write every piece served to FILE (truncated first), one\n"
        "                    line each: `conn 3 read 1 (asked 16384)`, `conn 3 write 7\n"
        "                    of 42`, `conn 3 write EAGAIN`, `conn 3 accept`, `close`\n"
        "  --role ROLE       server: shape connections accepted (default); client:\n"
        "                    shape connections COMMAND makes\n"
        "  --port PORT       only connections on this port (listening port, or the\n"
        "                    port connected to with --role client); default: all TCP\n"
        "\n"
        "The shim is looked for in this order: $FRAY_SHIM, next to the fray binary\n"
        "(the build tree), ../LIBDIR beside it (an installed fray), then the libdir\n"
        "fray was built for. Programs built with gcc's dynamic ASan runtime get it\n"
        "preloaded first, as it requires. A statically linked COMMAND (Go, static\n"
        "builds) cannot be entered: fray says so and exits 2 (docs/exec.md).\n"
        "\n"
        "Signals sent to fray (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2)\n"
        "are passed on to COMMAND; ^C from a terminal reaches it directly.\n"
        "\n"
        "exit status: COMMAND's own (128+N when signal N ended it); 2 for usage\n"
        "errors, a COMMAND that cannot be found or entered, or a missing shim.\n"
        "\n"
        "example:\n"
        "  fray exec --reads 1 --log reads.log -- redis-server --port 7000 --save ''\n",
        out);
}

typedef struct exec_opts {
  fray__shim_policy_t pol;
  const char *reads, *writes, *log, *role, *port;
} exec_opts_t;

static int bad(const char *what, const char *arg) {
  fray_cli_usage_error("exec", "%s%s%s", what, arg ? arg : "", arg ? "'" : "");
  return 1;
}

/* Reads the options up to COMMAND (*cmd: its index in argv). Returns 0 to
 * go on, or 1 with the exit status in *status (after --help or an error). */
static int parse(int argc, char **argv, exec_opts_t *o, int *cmd, int *status) {
  static const fray_cli_opt_t opts_table[] = {
      {"--reads", FRAY_CLI_TEXT, 0, 0, NULL}, {"--writes", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--log", FRAY_CLI_TEXT, 0, 0, NULL},   {"--role", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--port", FRAY_CLI_PORT, 0, 0, NULL},
  };
  fray_cli_args_t a;
  fray_cli_args_init(&a, "exec", FRAY_CLI_TABLE(opts_table), usage, argc, argv);
  for (;;) {
    fray_cli_arg_t k = fray_cli_next_arg(&a);
    *status = FRAY_EXIT_USAGE;
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR) {
      *status = fray_cli_stop_status(k);
      return 1;
    }
    if (k == FRAY_CLI_ARG_END)
      return bad("no COMMAND given", NULL);
    if (k == FRAY_CLI_ARG_OPERAND) {
      *cmd = a.i - 1;
      return 0;
    }
    if (!strcmp(a.name, "--reads") && !fray__shim_parse_reads(&o->pol, a.val))
      o->reads = a.val;
    else if (!strcmp(a.name, "--writes") && !fray__shim_parse_writes(&o->pol, a.val))
      o->writes = a.val;
    else if (!strcmp(a.name, "--log"))
      o->log = a.val;
    else if (!strcmp(a.name, "--role") && (!strcmp(a.val, "server") || !strcmp(a.val, "client")))
      o->role = a.val;
    else if (!strcmp(a.name, "--port")) /* checked: 1-65535 */
      o->port = a.val;
    else
      return fray_cli_usage_error("exec", "bad value '%s' for %s", a.val, a.name), 1;
  }
}

/* The environment the shim reads; a log path is made absolute (servers
 * change directory) and the file truncated. */
static int set_env(const exec_opts_t *o, const char *preload) {
  char abs[PATH_MAX + 2];
  if (o->log) {
    int fd = open(o->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      fprintf(stderr, "fray exec: cannot write %s: %s\n", o->log, strerror(errno));
      return -1;
    }
    close(fd);
    if (o->log[0] == '/' || !realpath(o->log, abs))
      snprintf(abs, sizeof abs, "%s", o->log);
  }
  if ((o->reads && setenv(FRAY_SHIM_ENV_READS, o->reads, 1)) ||
      (o->writes && setenv(FRAY_SHIM_ENV_WRITES, o->writes, 1)) ||
      (o->log && setenv(FRAY_SHIM_ENV_LOG, abs, 1)) ||
      (o->role && setenv(FRAY_SHIM_ENV_ROLE, o->role, 1)) ||
      (o->port && setenv(FRAY_SHIM_ENV_PORT, o->port, 1)) || setenv("LD_PRELOAD", preload, 1))
    return -1;
  unsetenv(FRAY_SHIM_ENV_FD); /* no controller: the standing policy rules */
  return 0;
}

static volatile sig_atomic_t child_pid;

/* A signal from a terminal went to COMMAND too (same process group); one
 * sent to fray alone (kill, a supervisor) is passed on. */
static void forward(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  if (child_pid > 0 && si->si_code != SI_KERNEL)
    kill((pid_t)child_pid, sig);
}

/* Starts COMMAND and waits for it. The forwarded signals are blocked
 * until the child's pid is known, so one arriving meanwhile is passed on
 * rather than lost. */
static int run(const fray__exec_prog_t *prog, char **argv) {
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  struct sigaction sa = {0};
  sigset_t block, old;
  sigemptyset(&block);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaddset(&block, sigs[i]);
  sigprocmask(SIG_BLOCK, &block, &old);
  sa.sa_sigaction = forward;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaction(sigs[i], &sa, NULL);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
      sigaction(sigs[i], &sa, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    execv(prog->path, argv);
    fprintf(stderr, "fray exec: cannot run %s: %s\n", prog->path, strerror(errno));
    _exit(127);
  }
  child_pid = pid > 0 ? pid : 0;
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (pid < 0) {
    fprintf(stderr, "fray exec: fork: %s\n", strerror(errno));
    return FRAY_EXIT_USAGE;
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return FRAY_EXIT_USAGE;
  child_pid = 0;
  return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

int fray_cli_exec(int argc, char **argv) {
  exec_opts_t o = {0};
  int cmd = 0, status = 0;
  if (parse(argc, argv, &o, &cmd, &status))
    return status;
  fray__exec_prog_t prog;
  if (fray__exec_inspect(argv[cmd], &prog)) {
    fprintf(stderr, "fray exec: %s: command not found or not executable\n", argv[cmd]);
    return FRAY_EXIT_USAGE;
  }
  const char *unfit = fray__exec_unfit(&prog);
  if (unfit) {
    fprintf(stderr, "fray exec: %s %s\n", prog.path, unfit);
    return FRAY_EXIT_USAGE;
  }
  char shim[PATH_MAX + 64], preload[2 * PATH_MAX];
  if (fray__exec_find_shim(shim, sizeof shim)) {
    fprintf(stderr, "fray exec: %s\n", shim);
    return FRAY_EXIT_USAGE;
  }
  if (fray__exec_preload(&prog, shim, getenv("LD_PRELOAD"), preload, sizeof preload) ||
      set_env(&o, preload)) {
    fprintf(stderr, "fray exec: cannot set up the environment (LD_PRELOAD too long?)\n");
    return FRAY_EXIT_USAGE;
  }
  return run(&prog, argv + cmd);
}
