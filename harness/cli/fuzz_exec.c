/* fray fuzz --exec: AFL++ on an unmodified server through the shim's fuzz
 * mode (harness/shim/fuzz.c; docs/exec.md, "Fuzzing"). fray builds
 * nothing: it checks that the server is AFL-instrumented, picks a free
 * port per afl-fuzz process, runs afl-fuzz with the shim preloaded and the
 * deferred forkserver asked for, shows progress from afl-fuzz's
 * fuzzer_stats, and turns every crash into a readable `.fray` script (the
 * input decoded, its schedule baked in) with the commands that replay it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fray/fuzz.h"
#include "fray/sim.h"
#include "fuzzrun.h"
#include "run/exec_internal.h"
#include "verdictsig.h"
#include "../shim/fuzz.h"

#define MAX_JOBS 64
#define SHIM_FUZZ_NAME "libfray-shim-fuzz.so"
#define REPRO_TIMEOUT_S 20
#define MAX_REPLAYS 100     /* crashes played again to be grouped (each up to REPRO_TIMEOUT_S) */
#define REPLAY_BUDGET_S 120 /* ... and none started after this long */

typedef struct job {
  pid_t pid;
  int port;
  char name[16]; /* afl-fuzz -M/-S name: main, sec1, ... */
} job_t;

typedef struct xrun {
  fuzz_opts_t *o;
  FILE *log;
  char shim[PATH_MAX];
  char afl[PATH_MAX];
  fray__exec_prog_t prog;
  job_t jobs[MAX_JOBS];
  size_t njobs;
  char nondet[512];  /* where the shims saw two whole runs of a session differ, or "" */
  size_t unreliable; /* findings whose replay said the server is not deterministic */
} xrun_t;

/* Finds name in $PATH into out. 0 or -1. */
static int find_in_path(const char *name, char *out, size_t outlen) {
  const char *path = getenv("PATH");
  for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
    size_t n = strcspn(p, ":");
    snprintf(out, outlen, "%.*s/%s", (int)n, p, name);
    if (n && !access(out, X_OK))
      return 0;
    p += n + (p[n] == ':');
  }
  return -1;
}

/* A sanitizer build's fuzz shim is built with its sanitizers and carries
 * no runtime of its own: the symbol naming the runtime the server must
 * hold for the shim to load (harness/shim/CMakeLists.txt). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHIM_NEEDS "__asan_init"
#endif
#endif
#if !defined(SHIM_NEEDS) && defined(__SANITIZE_ADDRESS__)
#define SHIM_NEEDS "__asan_init"
#endif
#if !defined(SHIM_NEEDS) && defined(FRAY_SANITIZED)
#define SHIM_NEEDS "__ubsan_handle_"
#endif

/* 1 when the file holds the symbol name sig (AFL++'s runtime: its
 * exported __afl_manual_init, which the shim calls), 0 when not, -1 when
 * unreadable. */
static int holds(const char *path, const char *sig) {
  size_t siglen = strlen(sig);
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  char buf[65536 + 64];
  size_t keep = 0, n;
  int found = 0;
  while (!found && (n = fread(buf + keep, 1, sizeof buf - keep, f)) > 0) {
    n += keep;
    found = memmem(buf, n, sig, siglen) != NULL;
    keep = n < siglen ? n : siglen;
    memmove(buf, buf + n - keep, keep);
  }
  fclose(f);
  return found;
}

/* 0 when the server holds what this build's fuzz shim needs, else -1
 * after saying so. */
static int shim_fits(const char *path, const char *cmd) {
#ifdef SHIM_NEEDS
  if (holds(path, SHIM_NEEDS) == 1)
    return 0;
  fprintf(stderr,
          "fray fuzz: this fray is built with sanitizers, and so is its fuzz shim, which loads\n"
          "only into a server built with them (no %s in %s). Rebuild the server so,\n"
          "  AFL_USE_ASAN=1 AFL_USE_UBSAN=1 afl-clang-fast -g -O2 -o %s SOURCES.c\n"
          "or use a fray built without sanitizers.\n",
          SHIM_NEEDS, path, cmd);
  return -1;
#else
  (void)path, (void)cmd;
  return 0;
#endif
}

/* The server, afl-fuzz and the fuzz shim, checked before anything runs.
 * 0, or -1 after one line saying what is wrong. */
static int check_setup(xrun_t *x) {
  char **argv, err[256];
  size_t argc;
  fray_mem_t *mem = NULL;
  if (fray__exec_split(mem, x->o->exec, "0", &argv, &argc, err, sizeof err)) {
    fprintf(stderr, "fray fuzz: --exec: %s\n", err);
    return -1;
  }
  int rc = fray__exec_inspect(argv[0], &x->prog);
  if (rc)
    fprintf(stderr, "fray fuzz: --exec: %s: command not found or not executable\n", argv[0]);
  else if (fray__exec_unfit(&x->prog))
    fprintf(stderr, "fray fuzz: %s\n", fray__exec_unfit(&x->prog));
  else if (holds(x->prog.path, "__afl_manual_init") != 1)
    fprintf(stderr,
            "fray fuzz: %s is not built with AFL++ (no __afl_manual_init in it): afl-fuzz\n"
            "would learn nothing from it. Rebuild it with AFL++'s compiler, e.g.\n"
            "  CC=afl-clang-fast ./configure && make\n"
            "  afl-clang-fast -g -O2 -o %s SOURCES.c\n",
            x->prog.path, argv[0]);
  else
    rc = shim_fits(x->prog.path, argv[0]);
  rc = rc || fray__exec_unfit(&x->prog) || holds(x->prog.path, "__afl_manual_init") != 1 ? -1 : 0;
  fray__exec_argv_free(mem, argv);
  if (!rc && find_in_path("afl-fuzz", x->afl, sizeof x->afl)) {
    fprintf(stderr, "fray fuzz: --exec needs AFL++'s afl-fuzz in PATH (apt install afl++)\n");
    rc = -1;
  }
  char plain[PATH_MAX];
  const char *env = getenv("FRAY_SHIM_FUZZ_LIB");
  if (!rc && env && *env)
    snprintf(x->shim, sizeof x->shim, "%s", env);
  else if (!rc && !fray__exec_find_shim(plain, sizeof plain))
    snprintf(x->shim, sizeof x->shim, "%.*s%s", (int)(strrchr(plain, '/') + 1 - plain), plain,
             SHIM_FUZZ_NAME);
  if (!rc && access(x->shim, R_OK)) {
    fprintf(stderr, "fray fuzz: cannot find %s (next to libfray-shim.so, or $FRAY_SHIM_FUZZ_LIB)\n",
            SHIM_FUZZ_NAME);
    rc = -1;
  }
  return rc;
}

/* --seeds DIR: its regular files join DIR/seeds/ (AFL++ takes one input
 * directory). 0, or -1 after saying why. */
static int copy_seeds(xrun_t *x) {
  fuzz_opts_t *o = x->o;
  DIR *d = opendir(o->seeds);
  if (!d) {
    fprintf(stderr, "fray fuzz: --seeds %s: %s\n", o->seeds, strerror(errno));
    return -1;
  }
  int rc = 0;
  for (struct dirent *e; !rc && (e = readdir(d)) != NULL;) {
    char from[PATH_MAX], to[PATH_MAX], buf[65536];
    struct stat st;
    snprintf(from, sizeof from, "%s/%s", o->seeds, e->d_name);
    snprintf(to, sizeof to, "%s/seeds/%s", o->out, e->d_name);
    if (stat(from, &st) || !S_ISREG(st.st_mode))
      continue;
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    for (size_t n; out && (n = fread(buf, 1, sizeof buf, in)) > 0;)
      rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    if (!out || (out && fclose(out)))
      rc = -1;
    if (in)
      fclose(in);
    if (rc)
      fprintf(stderr, "fray fuzz: cannot copy %s to %s\n", from, to);
  }
  closedir(d);
  return rc;
}

/* afl-fuzz refuses an empty input directory: one newline then. */
static void ensure_seed(xrun_t *x) {
  fuzz_opts_t *o = x->o;
  fray_cli_fuzz_path(o, "seeds");
  DIR *d = opendir(o->path);
  int any = 0;
  for (struct dirent *e; d && !any && (e = readdir(d)) != NULL;)
    any = e->d_name[0] != '.';
  if (d)
    closedir(d);
  if (!any && !fray_cli_fuzz_path(o, "seeds/newline.bin")) {
    FILE *f = fopen(o->path, "wb");
    if (f) {
      fputc('\n', f);
      fclose(f);
    }
  }
}

/* ---- afl-fuzz -------------------------------------------------------------------- */

static volatile sig_atomic_t stop_asked;

static void on_stop(int sig) {
  (void)sig;
  stop_asked = 1;
}

/* --exits ok: the server's exit() mid-session is no finding. */
static int exits_ok(const xrun_t *x) {
  return x->o->exits && !strcmp(x->o->exits, "ok");
}

/* The environment afl-fuzz (and through it the server) gets. */
static void job_env(xrun_t *x, const job_t *j) {
  char pre[3 * PATH_MAX], num[16];
  if (!fray__exec_preload(&x->prog, x->shim, getenv("AFL_PRELOAD"), pre, sizeof pre))
    setenv("AFL_PRELOAD", pre, 1);
  snprintf(num, sizeof num, "%d", j->port);
  setenv(FRAY_SHIM_ENV_PORT, num, 1);
  setenv(FRAY_SHIM_ENV_FUZZ, x->o->reads && !strcmp(x->o->reads, "whole") ? "whole" : "1", 1);
  if (exits_ok(x))
    setenv(FRAY_SHIM_ENV_FUZZ_EXITS, "ok", 1);
  setenv("AFL_DEFER_FORKSRV", "1", 1); /* the shim starts the forkserver */
  char stats[PATH_MAX];
  snprintf(stats, sizeof stats, "%s/afl/%s/fray_stats", x->o->out,
           x->njobs > 1 ? j->name : "default");
  setenv(FRAY_SHIM_ENV_FUZZ_STATS, stats, 1);
  setenv("AFL_NO_UI", "1", 1);
  setenv("AFL_SKIP_CPUFREQ", "1", 0);
  setenv("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1", 0);
  if (!getenv("AFL_TRY_AFFINITY"))
    setenv("AFL_NO_AFFINITY", "1", 0);
  const char *asan = getenv("ASAN_OPTIONS");
  if (asan && *asan) { /* afl-fuzz refuses options without these two */
    char a[4096];
    snprintf(a, sizeof a, "%s:abort_on_error=1:symbolize=0", asan);
    setenv("ASAN_OPTIONS", a, 1);
  }
}

/* Whether the dictionary has an entry (afl-fuzz refuses an empty one). */
static int dict_usable(fuzz_opts_t *o) {
  FILE *f = fray_cli_fuzz_path(o, "fuzz.dict") ? NULL : fopen(o->path, "r");
  int c, any = 0;
  while (f && !any && (c = fgetc(f)) != EOF)
    any = c == '"';
  if (f)
    fclose(f);
  return any;
}

/* afl-fuzz's command line for job j (words point into bufs). */
static void job_argv(xrun_t *x, const job_t *j, char **w, size_t max, char bufs[][PATH_MAX],
                     char **server) {
  fuzz_opts_t *o = x->o;
  size_t n = 0, b = 0;
#define ADD(s) (n < max - 1 ? (void)(w[n++] = (char *)(s)) : (void)0)
#define ADDF(...) (snprintf(bufs[b], PATH_MAX, __VA_ARGS__), ADD(bufs[b++]))
  ADD(x->afl);
  ADDF("-i%s/seeds", o->out);
  ADDF("-o%s/afl", o->out);
  if (dict_usable(o))
    ADDF("-x%s/fuzz.dict", o->out);
  if (o->time_s)
    ADDF("-V%llu", (unsigned long long)o->time_s);
  if (o->execs)
    ADDF("-E%llu", (unsigned long long)o->execs);
  if (o->seed)
    ADDF("-s%llu", (unsigned long long)(o->seed + (uint64_t)(j - x->jobs)));
  ADD("-t1000+"); /* a loaded machine's slow exec is no hang */
  if (x->njobs > 1)
    ADDF("%s%s", j == x->jobs ? "-M" : "-S", j->name);
  ADD("--");
  for (size_t i = 0; server[i]; i++)
    ADD(server[i]);
  w[n] = NULL;
#undef ADD
#undef ADDF
}

/* Starts afl-fuzz for job j (in a process group of its own, so a ^C
 * reaches fray first and fray stops it cleanly). 0 or -1. */
static int job_start(xrun_t *x, job_t *j) {
  char port[16], err[256], **server, *w[64], bufs[8][PATH_MAX];
  size_t argc;
  snprintf(port, sizeof port, "%d", j->port);
  if (fray__exec_split(NULL, x->o->exec, port, &server, &argc, err, sizeof err))
    return -1;
  job_argv(x, j, w, sizeof w / sizeof w[0], bufs, server);
  fflush(NULL);
  j->pid = fork();
  if (j->pid == 0) {
    setpgid(0, 0);
    job_env(x, j);
    int fd = fileno(x->log);
    dup2(fd, 1);
    dup2(fd, 2);
    execv(w[0], w);
    fprintf(stderr, "fray fuzz: cannot run %s: %s\n", w[0], strerror(errno));
    _exit(127);
  }
  fray__exec_argv_free(NULL, server);
  return j->pid > 0 ? 0 : -1;
}

typedef struct stats {
  unsigned long long execs, corpus, crashes;
} stats_t;

/* Entries of one instance's subdirectory (AFL++ names them "id:..."). */
static unsigned long long count_ids(const char *dir) {
  DIR *d = opendir(dir);
  unsigned long long n = 0;
  for (struct dirent *e; d && (e = readdir(d)) != NULL;)
    n += !strncmp(e->d_name, "id:", 3);
  if (d)
    closedir(d);
  return n;
}

/* The number after key in an instance's stats file ("key : N" in afl's
 * fuzzer_stats, "key N" in the shim's fray_stats), or 0. */
static unsigned long long stat_value(fuzz_opts_t *o, const char *name, const char *file,
                                     const char *key) {
  char path[PATH_MAX], line[256];
  unsigned long long v = 0;
  size_t klen = strlen(key);
  snprintf(path, sizeof path, "%s/afl/%s/%s", o->out, name, file);
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, klen) && (line[klen] == ' ' || line[klen] == ':'))
      v = strtoull(line + klen + strspn(line + klen, " :"), NULL, 10);
  if (f)
    fclose(f);
  return v;
}

/* Adds one instance's numbers to s: its queue and crashes as they are,
 * its execs as the later of afl-fuzz's fuzzer_stats (written only now and
 * then: early in a run it says a handful) and the shim's count (written
 * every 256 execs). */
static void stats_add(fuzz_opts_t *o, const char *name, stats_t *s) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/afl/%s/queue", o->out, name);
  s->corpus += count_ids(path);
  snprintf(path, sizeof path, "%s/afl/%s/crashes", o->out, name);
  s->crashes += count_ids(path);
  unsigned long long afl = stat_value(o, name, "fuzzer_stats", "execs_done");
  unsigned long long shim = stat_value(o, name, "fray_stats", "execs");
  s->execs += afl > shim ? afl : shim;
}

static stats_t stats_now(xrun_t *x) {
  stats_t s = {0};
  for (size_t i = 0; i < x->njobs; i++)
    stats_add(x->o, x->njobs > 1 ? x->jobs[i].name : "default", &s);
  return s;
}

/* What the shims counted (fray_stats beside each instance's fuzzer_stats,
 * written every 256 execs): how often the oracle's whole run came from
 * the reference cache, and whether the server proved nondeterministic. */
static void shim_stats(xrun_t *x) {
  unsigned long long hits = 0, runs = 0, whole = 0, exits = 0;
  for (size_t i = 0; i < x->njobs; i++) {
    const char *name = x->njobs > 1 ? x->jobs[i].name : "default";
    hits += stat_value(x->o, name, "fray_stats", "reference_hits");
    runs += stat_value(x->o, name, "fray_stats", "reference_runs");
    whole += stat_value(x->o, name, "fray_stats", "whole_schedules");
    exits += stat_value(x->o, name, "fray_stats", "exits");
    char path[PATH_MAX], line[1024];
    snprintf(path, sizeof path, "%s/afl/%s/fray_stats", x->o->out, name);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
      if (!strncmp(line, "nondeterministic_at ", 20) && !*x->nondet)
        snprintf(x->nondet, sizeof x->nondet, "%.*s", (int)strcspn(line + 20, "\n"), line + 20);
    if (f)
      fclose(f);
  }
  if (hits + runs)
    fprintf(stderr,
            "fray fuzz: the oracle's whole runs: %llu played, %llu from the reference cache "
            "(%.0f%%); %llu execs needed none (whole schedules)\n",
            runs, hits, 100.0 * (double)hits / (double)(hits + runs), whole);
  if (exits)
    fprintf(stderr,
            "fray fuzz: %llu execs ended with the server's exit (--exits ok), not judged past "
            "it (as of the shims' last count, every 256 execs)\n",
            exits);
  if (*x->nondet)
    fprintf(stderr,
            "fray fuzz: warning: the server is not deterministic: one session played whole twice "
            "gave different answers (%s). Its split-invariance findings are unreliable: the "
            "difference may be the server's own variance, not a read boundary's\n",
            x->nondet);
}

/* Waits for every afl-fuzz, a progress line every 5 s. Returns how many
 * did not end well (an exit status other than 0). */
static int monitor(xrun_t *x) {
  time_t start = time(NULL), last = start;
  size_t live = x->njobs;
  int bad = 0, stopping = 0;
  while (live) {
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    for (size_t i = 0; i < x->njobs; i++) {
      int st;
      if (x->jobs[i].pid > 0 && waitpid(x->jobs[i].pid, &st, WNOHANG) == x->jobs[i].pid) {
        x->jobs[i].pid = 0;
        live--;
        bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
      }
    }
    if (stop_asked && !stopping) {
      stopping = 1;
      for (size_t i = 0; i < x->njobs; i++)
        if (x->jobs[i].pid > 0)
          kill(-x->jobs[i].pid, SIGINT); /* afl-fuzz ends cleanly on it */
    }
    time_t now = time(NULL);
    if (now - last >= 5 && live) {
      last = now;
      stats_t s = stats_now(x);
      fprintf(stderr, "fray fuzz: %3lld s  corpus %llu  crashes %llu  (%llu execs so far)\n",
              (long long)(now - start), s.corpus, s.crashes, s.execs);
    }
  }
  stats_t s = stats_now(x);
  long long t = (long long)(time(NULL) - start);
  fprintf(stderr, "fray fuzz: done after %lld s: %llu execs (%.0f/s), corpus %llu, crashes %llu\n",
          t, s.execs, t ? (double)s.execs / (double)t : 0.0, s.corpus, s.crashes);
  shim_stats(x);
  return bad;
}

/* ---- findings ------------------------------------------------------------------- */

/* The oracle's report (its first line and the start of its second) or a
 * sanitizer's summary, as one line. */
static void keep_report(const char *line, void *ctx) {
  char *buf = ctx;
  size_t n = strlen(buf);
  if (!strncmp(line, "SUMMARY: ", 9))
    snprintf(buf, 512, "%.*s", (int)strcspn(line + 9, "\n"), line + 9);
  else if (!n && !strncmp(line, "fray fuzz --exec: ", 18))
    snprintf(buf, 512, "%.*s", (int)strcspn(line + 18, "\n"), line + 18);
  else if (n && !strchr(buf, ':') && line[0] == ' ')
    snprintf(buf + n, 512 - n, ": %.200s", line + 2 + strspn(line + 2, " "));
  buf[strcspn(buf, "\n")] = 0;
}

/* The command that plays the input once by hand into again: the shim's
 * settings (env, each "NAME=value"), the input, the preload, and the
 * server's words as split, {port} a port free now (without
 * FRAY_SHIM_PORT the shim takes the first port the server listens on),
 * each quoted for a shell. */
static void again_line(char *again, size_t againlen, char *const *env, const char *input,
                       const char *pre, char *const *server) {
  *again = 0;
  for (size_t i = 0; env[i]; i++)
    snprintf(again + strlen(again), againlen - strlen(again), "%s ", env[i]);
  strncat(again, FRAY_SHIM_ENV_FUZZ_INPUT "=", againlen - strlen(again) - 1);
  fray__exec_quote(again, againlen, input);
  strncat(again, " LD_PRELOAD=", againlen - strlen(again) - 1);
  fray__exec_quote(again, againlen, pre);
  for (size_t i = 0; server[i]; i++) {
    strncat(again, " ", againlen - strlen(again) - 1);
    fray__exec_quote(again, againlen, server[i]);
  }
  if (strlen(again) + 8 >= againlen)
    snprintf(again, againlen, "(too long to print)");
}

/* Plays the input once more, outside afl-fuzz (the shim's one-shot mode),
 * with its report into what. The wait status, or -1. */
static int replay_input(xrun_t *x, const char *input, const char *repro, char *what, char *again,
                        size_t againlen) {
  char port[16], err[256], **server, timeout[PATH_MAX], pre[3 * PATH_MAX];
  size_t argc;
  snprintf(port, sizeof port, "%d", fray__exec_free_port());
  if (fray__exec_split(NULL, x->o->exec, port, &server, &argc, err, sizeof err) ||
      fray__exec_preload(&x->prog, x->shim, NULL, pre, sizeof pre))
    return -1;
  char *argv[64], e_fuzz[] = FRAY_SHIM_ENV_FUZZ "=1", e_exits[] = FRAY_SHIM_ENV_FUZZ_EXITS "=ok",
                  e_in[PATH_MAX + 32], e_port[40], e_pre[sizeof pre + 16], secs[16],
                  envcmd[PATH_MAX];
  char *shown[] = {e_fuzz, exits_ok(x) ? e_exits : NULL, NULL};
  size_t n = 0;
  snprintf(e_pre, sizeof e_pre, "LD_PRELOAD=%s", pre);
  /* timeout must not load the shim (a sanitized build's loads only into
   * programs built with its sanitizers): env sets it for the server. */
  int via_env = 0;
  if (!find_in_path("timeout", timeout, sizeof timeout)) {
    snprintf(secs, sizeof secs, "%d", REPRO_TIMEOUT_S);
    argv[n++] = timeout;
    argv[n++] = secs;
    via_env = !find_in_path("env", envcmd, sizeof envcmd);
  }
  if (via_env) {
    argv[n++] = envcmd;
    argv[n++] = e_pre;
  }
  argv[n++] = x->prog.path;
  for (size_t i = 1; server[i] && n < 63; i++)
    argv[n++] = server[i];
  argv[n] = NULL;
  snprintf(e_in, sizeof e_in, FRAY_SHIM_ENV_FUZZ_INPUT "=%s", input);
  snprintf(e_port, sizeof e_port, FRAY_SHIM_ENV_PORT "=%s", port);
  again_line(again, againlen, shown, input, pre, server);
  /* When the oracle fails the exec, the shim writes the reproducer over
   * the plain one: the fuzz-chosen schedule with the whole run's answers. */
  char e_repro[PATH_MAX + 32], e_head[3 * PATH_MAX + 512];
  snprintf(e_repro, sizeof e_repro, FRAY_SHIM_ENV_FUZZ_REPRO "=%s", repro);
  snprintf(e_head, sizeof e_head,
           FRAY_SHIM_ENV_FUZZ_HEADER
           "="
           "# Reproducer written by fray fuzz --exec from the AFL++ input %s\n"
           "# The fuzz-chosen schedule baked in (cuts as |, merged sends joined), the\n"
           "# whole run's answers as the expectations: replayed, it fails where the\n"
           "# cuts and merges change what the server answers.\n"
           "# replay: fray replay --exec '%s' --schedule whole %s\n",
           input, x->o->exec, repro);
  char *env[] = {e_in, e_port, e_repro, e_head, via_env ? NULL : e_pre, NULL, NULL, NULL};
  for (size_t i = 0, k = 4 + !via_env; shown[i]; i++)
    env[k++] = shown[i];
  int st = fray_cli_fuzz_spawn(argv, env, x->log, keep_report, what);
  fray__exec_argv_free(NULL, server);
  return st;
}

/* The first seed played once outside afl-fuzz (the shim's one-shot mode)
 * before afl-fuzz starts a run that would learn nothing: a server fuzz
 * mode cannot play (a thread per connection: the shim exits 2 and says
 * why), or one whose exec does not end. 0 or -1 (said). */
static int preflight(xrun_t *x) {
  char seed[PATH_MAX + 256] = "", repro[PATH_MAX], what[512] = "", again[4 * PATH_MAX];
  snprintf(repro, sizeof repro, "%s/seeds", x->o->out);
  DIR *d = opendir(repro);
  for (struct dirent *e; d && !*seed && (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.')
      snprintf(seed, sizeof seed, "%s/%s", repro, e->d_name);
  if (d)
    closedir(d);
  snprintf(repro, sizeof repro, "%s/preflight.fray", x->o->out);
  int st = *seed ? replay_input(x, seed, repro, what, again, sizeof again) : -1;
  unlink(repro);
  if (!exits_ok(x) && !strncmp(what, "the server exited with status ", 30))
    fprintf(stderr,
            "fray fuzz: note: the seed %s: %s; afl-fuzz skips a seed that crashes, and "
            "stops when every seed does\n",
            seed, what);
  if (st < 0 || !WIFEXITED(st) || (WEXITSTATUS(st) != 2 && WEXITSTATUS(st) != 124))
    return 0; /* a crash or an oracle's failure is afl-fuzz's to find */
  if (WEXITSTATUS(st) == 124)
    fprintf(stderr, "fray fuzz: --exec: one exec of %s did not end within %d s (see %s/fuzz.log)\n",
            seed, REPRO_TIMEOUT_S, x->o->out);
  else
    fprintf(stderr, "fray fuzz: --exec: %s\n",
            *what ? what : "the server exited 2 on the first seed (see fuzz.log)");
  return -1;
}

/* ---- grouping: one write-up per distinct failure -------------------------------- */

/* A crash AFL++ saved. */
typedef struct crash {
  const char *inst; /* its afl-fuzz instance (main, sec1..., or default) */
  char name[NAME_MAX + 1];
  off_t size;
} crash_t;

/* The crashes whose verdicts have one signature: the smallest input's
 * write-up and how many there were. */
typedef struct finding {
  char sig[512];  /* the verdict with its volatile parts normalised (verdictsig.h) */
  char what[512]; /* the smallest input's verdict, as printed */
  char repro[PATH_MAX], in[PATH_MAX];
  char again[4 * PATH_MAX];
  size_t count, order; /* crashes in the group; the group's rank in finding order */
} finding_t;

static int by_size(const void *a, const void *b) {
  const crash_t *p = a, *q = b;
  if (p->size != q->size)
    return p->size < q->size ? -1 : 1;
  int c = strcmp(p->inst, q->inst);
  return c ? c : strcmp(p->name, q->name);
}

/* Every crash AFL++ saved, smallest input first (the write-up of a group
 * is its first member's). Returns how many are in *out (the caller frees
 * it), or 0. */
static size_t list_crashes(xrun_t *x, crash_t **out) {
  size_t n = 0, cap = 0;
  *out = NULL;
  for (size_t i = 0; i < x->njobs; i++) {
    const char *inst = x->njobs > 1 ? x->jobs[i].name : "default";
    char dir[PATH_MAX], path[2 * PATH_MAX];
    snprintf(dir, sizeof dir, "%s/afl/%s/crashes", x->o->out, inst);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
      struct stat st;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      if (strncmp(e->d_name, "id:", 3) || stat(path, &st))
        continue;
      if (n == cap) {
        crash_t *m = realloc(*out, (cap = cap ? 2 * cap : 64) * sizeof *m);
        if (!m)
          break;
        *out = m;
      }
      (*out)[n] = (crash_t){.inst = inst, .size = st.st_size};
      snprintf((*out)[n++].name, sizeof(*out)->name, "%s", e->d_name);
    }
    if (d)
      closedir(d);
  }
  if (n)
    qsort(*out, n, sizeof **out, by_size);
  return n;
}

/* One crash: its reproducer written, the input played again, its verdict
 * into f->what. 0, or -1 when no reproducer could be written (said). */
static int play_crash(xrun_t *x, const crash_t *c, finding_t *f) {
  snprintf(f->in, sizeof f->in, "%s/afl/%s/crashes/%s", x->o->out, c->inst, c->name);
  snprintf(f->repro, sizeof f->repro, "%s/regressions/%s-%.9s.fray", x->o->out, c->inst, c->name);
  for (char *p = strrchr(f->repro, '/'); p && *p; p++)
    if (*p == ':' || *p == ',')
      *p = '-';
  /* No expectations: the server died before the whole run's answers
   * were known. */
  if (fray_cli_fuzz_write_session(
          f->in, f->repro,
          "# Reproducer written by fray fuzz --exec from the AFL++ input %s\n"
          "# (its schedule baked in: cuts as |, merged sends joined). No\n"
          "# expectations: the server died before the whole run's answers were\n"
          "# known; the input replays the crash (docs/exec.md).\n"
          "# replay: fray replay --exec '%s' --schedule whole %s\n",
          f->in, x->o->exec, f->repro)) {
    fprintf(stderr, "fray fuzz: %s: cannot write a reproducer\n", f->in);
    return -1;
  }
  char what[512] = "";
  int st = replay_input(x, f->in, f->repro, what, f->again, sizeof f->again);
  x->unreliable += strstr(what, "not deterministic") != NULL;
  if (!*what && st >= 0 && WIFSIGNALED(st))
    snprintf(what, sizeof what, "the server died of signal %d", WTERMSIG(st));
  snprintf(f->what, sizeof f->what, "%s",
           st >= 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)
               ? (*what ? what : "the server crashed (see fuzz.log)")
               : "did not fail when played again (a flaky server?)");
  fray_cli_verdict_signature(f->what, f->sig, sizeof f->sig);
  return 0;
}

/* f joins its group in g[0..*n) (its reproducer removed: the group's
 * first, smaller input is written up) or starts one. */
static void group(finding_t *g, size_t *n, const finding_t *f) {
  for (size_t i = 0; i < *n; i++)
    if (!strcmp(g[i].sig, f->sig)) {
      g[i].count++;
      if (strcmp(g[i].repro, f->repro))
        unlink(f->repro);
      return;
    }
  g[*n] = *f;
  g[*n].count = 1;
  g[*n].order = *n;
  ++*n;
}

static int by_count(const void *a, const void *b) {
  const finding_t *p = a, *q = b;
  if (p->count != q->count)
    return p->count > q->count ? -1 : 1;
  return p->order < q->order ? -1 : p->order > q->order;
}

/* The groups, most crashes first: each one's write-up, then a summary. */
static void print_findings(xrun_t *x, finding_t *g, size_t n, size_t played) {
  qsort(g, n, sizeof *g, by_count);
  printf("fray fuzz: findings (each a .fray script and the input that replays it):\n");
  for (size_t i = 0; i < n; i++) {
    printf("  %s\n    failure: %s\n", g[i].repro, g[i].what);
    if (g[i].count > 1)
      printf("    crashes: %zu alike (the same failure but for numbers and data); this is the "
             "smallest input\n",
             g[i].count);
    printf("    replay:  fray replay --exec '%s' --schedule whole %s\n    again:   %s\n",
           x->o->exec, g[i].repro, g[i].again);
  }
  printf("fray fuzz: %zu distinct finding%s in %zu crash%s played again:\n", n, n > 1 ? "s" : "",
         played, played > 1 ? "es" : "");
  for (size_t i = 0; i < n; i++)
    printf("  %5zu  %s\n", g[i].count, g[i].sig);
}

/* The crashes AFL++ saved, played again and grouped by the signature of
 * their verdicts, one write-up per group. Replaying each costs up to
 * REPRO_TIMEOUT_S: at most MAX_REPLAYS of them, smallest first, none
 * started after REPLAY_BUDGET_S. Returns how many crashes there were. */
static size_t collect(xrun_t *x) {
  crash_t *c;
  size_t total = list_crashes(x, &c), played = 0, n = 0;
  finding_t *g = total ? calloc(MAX_REPLAYS, sizeof *g) : NULL, f;
  time_t start = time(NULL);
  for (; g && played < total && played < MAX_REPLAYS; played++) {
    if (played && time(NULL) - start >= REPLAY_BUDGET_S)
      break;
    if (!play_crash(x, &c[played], &f))
      group(g, &n, &f);
  }
  if (n)
    print_findings(x, g, n, played);
  if (played < total)
    printf("fray fuzz: only the %zu smallest of %zu crashes were played again and grouped (at "
           "most %d, none started after %d s): the rest are in %s/afl/*/crashes\n",
           played, total, MAX_REPLAYS, REPLAY_BUDGET_S, x->o->out);
  if (x->unreliable && !*x->nondet)
    fprintf(stderr,
            "fray fuzz: warning: the server is not deterministic: %zu crash%s played again "
            "above gave different answers when played whole twice. %s split-invariance "
            "alarm%s unreliable: the difference may be the server's own variance, not a read "
            "boundary's\n",
            x->unreliable, x->unreliable > 1 ? "es" : "", x->unreliable > 1 ? "Their" : "Its",
            x->unreliable > 1 ? "s are" : " is");
  free(g);
  free(c);
  return total;
}
int fray_cli_fuzz_exec(fuzz_opts_t *o, FILE *log) {
  xrun_t *x = calloc(1, sizeof *x);
  if (!x)
    return FRAY_EXIT_USAGE;
  *x = (xrun_t){.o = o, .log = log, .njobs = o->jobs > MAX_JOBS ? MAX_JOBS : o->jobs};
  int rc = check_setup(x) || (o->seeds && copy_seeds(x)) ? FRAY_EXIT_USAGE : -1;
  if (rc < 0) {
    ensure_seed(x);
    if (preflight(x)) {
      free(x);
      return FRAY_EXIT_USAGE;
    }
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    fprintf(stderr, "fray fuzz: %s under afl-fuzz for %llu s (%zu job%s), log in %s/fuzz.log\n",
            o->exec, (unsigned long long)o->time_s, x->njobs, x->njobs > 1 ? "s" : "", o->out);
    for (size_t i = 0; i < x->njobs && rc < 0; i++) {
      job_t *j = &x->jobs[i];
      snprintf(j->name, sizeof j->name, i ? "sec%zu" : "main", i);
      j->port = fray__exec_free_port();
      if (job_start(x, j))
        rc = FRAY_EXIT_USAGE;
    }
    int bad = monitor(x);
    size_t n = collect(x);
    if (!n && bad)
      fprintf(stderr, "fray fuzz: afl-fuzz failed; see %s/fuzz.log\n", o->out);
    if (!n && bad && !fray_cli_fuzz_path(o, "fuzz.log") &&
        holds(o->path, "at least one valid input seed that does not crash") == 1)
      fprintf(stderr,
              "fray fuzz: afl-fuzz refused the seeds: each one crashes the server (or makes it "
              "exit: with a shutdown command in the seeds, fuzz with --exits ok)\n");
    rc = n ? FRAY_EXIT_FAIL : bad || rc >= 0 ? FRAY_EXIT_USAGE : FRAY_EXIT_OK;
    if (rc == FRAY_EXIT_OK)
      printf("fray fuzz: no finding\n");
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
  }
  free(x);
  return rc;
}
