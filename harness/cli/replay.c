/* fray replay: runs `.fray` session scripts against a handler in the
 * simulator under many schedules (how the script's bytes are cut into reads
 * and merged), and reports the first schedule under which the handler does
 * not do what the script expects, or answers differently from the `whole`
 * schedule, as a minimal reproducer script.
 *
 * Its output is a contract: CI tooling reads the final `N passed, M failed`
 * line, the --json objects and the --junit file, so their shapes are spelled
 * out in usage() and docs/replay.md and must not drift.
 *
 * Speed matters (the goal is tens of thousands of schedule runs a second):
 * the loop over schedules reuses one simulator and one schedule buffer per
 * script, allocates nothing per run and prints nothing per run; the clock
 * is read only every PROGRESS_EVERY runs. */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "escape.h"
#include "core/escape_internal.h"
#include "examples.h"
#include "handlers.h"
#include "fray/handler.h"
#include "fray/script.h"
#include "fray/mutate.h"
#include "fray/net.h"
#include "fray/sim.h"

#define DEFAULT_RUNS 200
#define DEFAULT_SEED 1
#define DEFAULT_MAX_CUTS 1
#define EXCERPT 96           /* bytes of expected/got shown around a difference */
#define EXCERPT_BEFORE 32    /* of which before the first differing byte */
#define JSON_BYTES 4096      /* longest expected/got put into JSON, in input bytes */
#define MAX_KEPT_FAILURES 64 /* failures described per script under --keep-going */
#define PROGRESS_EVERY 64    /* runs between two looks at the clock */
#define PROGRESS_AFTER 1.0   /* seconds before progress shows at all */
#define PROGRESS_PERIOD 0.1  /* seconds between two progress updates */
#define DESCRIBE_SIZE 2048

typedef enum sched_kind {
  SCHED_WHOLE = 0,
  SCHED_BYTEWISE,
  SCHED_RANDOM,
  SCHED_EXHAUSTIVE
} sched_kind_t;

static const char *const sched_names[] = {"whole", "bytewise", "random", "exhaustive"};

typedef struct replay_opts {
  const char *handler; /* --handler */
  const char *plugin;  /* --plugin */
  const char *junit;
  const char *save_dir;
  sched_kind_t sched;
  size_t runs;
  uint64_t seed;
  size_t max_cuts;
  size_t mutate; /* --mutate N: malformed variants instead of schedules */
  int short_writes, keep_going, json, list;
  const char *connect; /* --connect HOST:PORT: a real server instead of the simulator */
  fray_net_opts_t net; /* --pace-ms, --timeout-ms */
  char **scripts;
  int nscripts;
} replay_opts_t;

/* One failure, copied out of the simulator's result (which the next run
 * overwrites). */
typedef struct failure {
  fray_fail_kind_t kind;
  size_t line;    /* script line of the failing step; 0: at the end */
  size_t run;     /* schedule index (0 is the whole reference) */
  int whole;      /* it failed without any splitting */
  int show_diff;  /* expected/got are bytes whose first difference is marked */
  char *client;   /* client name, or NULL */
  char *message;  /* the simulator's one-line account */
  char *schedule; /* fray_sched_describe() */
  char *expected; /* escaped excerpt, NULL when there is none */
  char *got;
  size_t caret;        /* column of the first differing byte in the excerpts */
  char *json_expected; /* escaped, up to JSON_BYTES input bytes */
  char *json_got;
  size_t diff_at;
  char *repro; /* reproducer path, or NULL */
  int same_as; /* index+1 of an earlier failure at the same place, or 0 */
} failure_t;

typedef struct script_result {
  const char *file;
  const char *handler; /* NULL on error before a handler was chosen */
  char *error;         /* a script or setup error (exit 2), or NULL */
  uint64_t runs;
  uint64_t planned;
  double secs;
  failure_t *fails;
  size_t nfails;    /* described (at most MAX_KEPT_FAILURES) */
  uint64_t nfailed; /* failing schedules in all */
  int own_cuts;     /* the script cuts some send itself (`|`) */
} script_result_t;

typedef struct progress {
  int tty;
  int shown;
  double start, last;
} progress_t;

/* ---- small helpers ----------------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: turns (seed, run index) into well-spread seeds, so that run i
 * of seed s is the same schedule whatever --runs is. */
static uint64_t mix(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p)
    memcpy(p, s, n);
  return p;
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static char *
xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *p = malloc((size_t)n + 1);
  if (!p)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

/* The escaped form of len bytes as a new string (quoted when quote). */
static char *escape_dup(const uint8_t *p, size_t len, int quote) {
  char *s = malloc(FRAY__ESC_MAX(len) + 3);
  if (!s)
    return NULL;
  size_t o = 0;
  if (quote)
    s[o++] = '"';
  o += fray__escape(s + o, p, len, quote ? FRAY__ESC_QUOTE : 0);
  if (quote)
    s[o++] = '"';
  s[o] = 0;
  return s;
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int
usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = fray_cli_vusage_error("replay", fmt, ap);
  va_end(ap);
  return r;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: fray replay [--handler NAME | --plugin LIB.so] [--schedule KIND] [OPTIONS] "
          "SCRIPT...\n"
          "       fray replay --list-handlers\n"
          "\n"
          "Replays each .fray session script against a handler in the simulator under\n"
          "many schedules (how the script's sends are cut into reads and merged), and\n"
          "reports the first schedule under which the handler breaks an expectation or\n"
          "answers differently from the `whole` schedule.\n"
          "\n"
          "handler (the command line wins over the script's `@handler NAME`):\n"
          "  --handler NAME      a built-in handler (fray replay --list-handlers)\n"
          "  --plugin LIB.so     a shared object exporting " FRAY_PLUGIN_SYMBOL "()\n"
          "\n"
          "schedules (`whole` always runs first, as the reference):\n"
          "  --schedule whole       one read per send (the script's own `|` cuts kept)\n"
          "  --schedule bytewise    one byte per read\n"
          "  --schedule random      seeded random cuts and merges of a client's\n"
          "                         consecutive sends (default)\n"
          "  --schedule exhaustive  every placement of up to --max-cuts cuts in each\n"
          "                         send, one send at a time\n"
          "  --runs N            random schedules to run (default %d)\n"
          "  --seed S            seed of the random schedules and short writes (default %d)\n"
          "  --max-cuts K        exhaustive: cuts per send (default %d)\n"
          "  --short-writes      the server's writes are taken in small random pieces,\n"
          "                      sometimes none (EAGAIN); with whole, --runs write seeds\n"
          "\n"
          "malformed input (instead of schedules):\n"
          "  --mutate N          run N malformed variants of each script (truncated,\n"
          "                      delimiter dropped, duplicated, NUL/0xFF/random bytes,\n"
          "                      oversized, bits flipped, closed or reset mid-frame);\n"
          "                      fails on a crash, on heap growth past 64 MiB while the\n"
          "                      server reads, or when the script's @canary exchange is\n"
          "                      not answered afterwards. Other expectations are not\n"
          "                      checked. With --save-failures, the variant about to run\n"
          "                      is kept in DIR/<script>-mutant.fray, so a crash leaves\n"
          "                      its reproducer behind.\n"
          "\n"
          "a real server (any language) instead of the simulator:\n"
          "  --connect HOST:PORT replay against the TCP server there, under the same\n"
          "                      schedules: each read is its own send() (TCP_NODELAY),\n"
          "                      merged sends one send(); fresh connections every run;\n"
          "                      the expectations are the oracle (see docs/net.md)\n"
          "  --pace-ms MS        pause after each send() so the server reads it alone\n"
          "                      (default 2)\n"
          "  --timeout-ms MS     wait for connecting and for each expectation (default\n"
          "                      2000); a wait that runs out is reported as a failure\n"
          "\n"
          "reporting:\n"
          "  --keep-going        go on after the first failing schedule of a script\n"
          "  --save-failures DIR write a minimal reproducer .fray for each failure into DIR\n"
          "  --json              one JSON object per script, then a summary object\n"
          "  --junit FILE        also write a JUnit XML report to FILE\n"
          "\n"
          "output: one line per script, `PASS|FAIL SCRIPT SCHEDULE N runs T s`, each\n"
          "failure under it (script line, schedule with reads joined by `|`, expected and\n"
          "got with a caret under the first differing byte, reproducer path), and last a\n"
          "line `N passed, M failed`.\n"
          "\n"
          "exit status: 0 every script passed; 1 a failure was found; 2 usage error,\n"
          "script error (file:line:column: message), unknown handler or bad plugin.\n"
          "\n"
          "examples:\n"
          "  fray replay --handler chat --schedule random --runs 1000 corpus/chat/*.fray\n"
          "  fray replay --schedule exhaustive --max-cuts 2 --save-failures out/ session.fray\n"
          "  fray replay --plugin ./libupper.so corpus/plugin/upper.fray\n",
          DEFAULT_RUNS, DEFAULT_SEED, DEFAULT_MAX_CUTS);
}

/* ---- argument parsing ------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (!*s)
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static const char *const opts_with_value[] = {
    "--handler", "--plugin",        "--schedule", "--runs",    "--seed",    "--max-cuts",
    "--junit",   "--save-failures", "--mutate",   "--connect", "--pace-ms", "--timeout-ms"};

static int parse_opt(replay_opts_t *o, const char *name, const char *val) {
  uint64_t v;
  if (!strcmp(name, "--handler")) {
    o->handler = val;
  } else if (!strcmp(name, "--plugin")) {
    o->plugin = val;
  } else if (!strcmp(name, "--schedule")) {
    size_t k;
    for (k = 0; k < sizeof sched_names / sizeof sched_names[0]; k++)
      if (!strcmp(val, sched_names[k]))
        break;
    if (k == sizeof sched_names / sizeof sched_names[0])
      return usage_error("unknown schedule '%s' (whole, bytewise, random or exhaustive)", val);
    o->sched = (sched_kind_t)k;
  } else if (!strcmp(name, "--runs")) {
    if (parse_u64(val, &v) || v == 0 || v > SIZE_MAX / 2)
      return usage_error("--runs needs a count of at least 1, not '%s'", val);
    o->runs = (size_t)v;
  } else if (!strcmp(name, "--seed")) {
    if (parse_u64(val, &v))
      return usage_error("--seed needs an unsigned number, not '%s'", val);
    o->seed = v;
  } else if (!strcmp(name, "--max-cuts")) {
    if (parse_u64(val, &v) || v == 0 || v > 64)
      return usage_error("--max-cuts needs a count from 1 to 64, not '%s'", val);
    o->max_cuts = (size_t)v;
  } else if (!strcmp(name, "--mutate")) {
    if (parse_u64(val, &v) || v == 0 || v > SIZE_MAX / 2)
      return usage_error("--mutate needs a count of at least 1, not '%s'", val);
    o->mutate = (size_t)v;
  } else if (!strcmp(name, "--connect")) {
    fray_addr_t a;
    if (fray_cli_addr("replay", name, NULL, val, 0, &a))
      return -1;
    o->connect = val;
  } else if (!strcmp(name, "--pace-ms") || !strcmp(name, "--timeout-ms")) {
    if (parse_u64(val, &v) || v > 3600000 || (v == 0 && name[2] == 't'))
      return usage_error("%s needs milliseconds (%s to 3600000), not '%s'", name,
                         name[2] == 't' ? "1" : "0", val);
    *(name[2] == 't' ? &o->net.timeout_ms : &o->net.pace_ms) = (unsigned)v;
  } else if (!strcmp(name, "--junit")) {
    o->junit = val;
  } else if (!strcmp(name, "--save-failures")) {
    o->save_dir = val;
  } else if (!strcmp(name, "--short-writes")) {
    o->short_writes = 1;
  } else if (!strcmp(name, "--keep-going")) {
    o->keep_going = 1;
  } else if (!strcmp(name, "--json")) {
    o->json = 1;
  } else if (!strcmp(name, "--list-handlers")) {
    o->list = 1;
  } else {
    return usage_error("unknown option '%s'", name);
  }
  return 0;
}

/* -1 after a usage message, 1 after printing help, 0 to run. */
static int parse_args(int argc, char **argv, replay_opts_t *o) {
  o->scripts = calloc((size_t)argc, sizeof *o->scripts);
  if (!o->scripts)
    return usage_error("out of memory");
  fray_cli_args_t args;
  fray_cli_args_init(&args, "replay", opts_with_value,
                     sizeof opts_with_value / sizeof opts_with_value[0], usage, argc, argv);
  for (;;) {
    fray_cli_arg_t k = fray_cli_next_arg(&args);
    if (k == FRAY_CLI_ARG_END)
      break;
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return k == FRAY_CLI_ARG_HELP ? 1 : -1;
    if (k == FRAY_CLI_ARG_OPERAND) {
      o->scripts[o->nscripts++] = (char *)args.val;
      continue;
    }
    if (parse_opt(o, args.name, args.val))
      return -1;
  }
  if (o->list)
    return 0;
  if (o->handler && o->plugin)
    return usage_error("--handler and --plugin exclude each other");
  if (o->connect && (o->handler || o->plugin))
    return usage_error("--connect replays against a server: --handler and --plugin do not apply");
  if (o->connect && (o->short_writes || o->mutate))
    return usage_error("--connect: %s runs in the simulator only (the server's writes are its own)",
                       o->short_writes ? "--short-writes" : "--mutate");
  if (!o->nscripts)
    return usage_error("no script given");
  return 0;
}

/* ---- handlers ---------------------------------------------------------- */

static void list_handlers(void) {
  size_t w = 0;
  for (size_t i = 0; fray_example_at(i); i++) {
    size_t n = strlen(fray_example_at(i)->name);
    w = n > w ? n : w;
  }
  for (size_t i = 0; fray_example_at(i); i++) {
    const fray_handler_t *h = fray_example_at(i);
    printf("%-*s  %s\n", (int)w, h->name, h->summary ? h->summary : "");
  }
}

/* ---- progress ------------------------------------------------------------ */

static void progress_tick(progress_t *pg, const char *file, uint64_t done, uint64_t planned,
                          uint64_t failed) {
  if (!pg->tty)
    return;
  double t = now();
  if (t - pg->start < PROGRESS_AFTER || t - pg->last < PROGRESS_PERIOD)
    return;
  pg->last = t;
  pg->shown = 1;
  fprintf(stderr, "\r\033[K%s: %" PRIu64 "/%" PRIu64 " runs, %.0f runs/s, %" PRIu64 " failed", file,
          done, planned, (double)done / (t - pg->start), failed);
  fflush(stderr);
}

static void progress_end(progress_t *pg) {
  if (pg->shown) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
  }
  pg->shown = 0;
}

/* ---- failures ---------------------------------------------------------- */

static void failure_free(failure_t *f) {
  free(f->client);
  free(f->message);
  free(f->schedule);
  free(f->expected);
  free(f->got);
  free(f->json_expected);
  free(f->json_got);
  free(f->repro);
}

/* An escaped excerpt of p[start..start+EXCERPT) with "..." where cut. */
static char *excerpt(const uint8_t *p, size_t len, size_t start) {
  if (start > len)
    start = len;
  size_t n = len - start < EXCERPT ? len - start : EXCERPT;
  char *s = malloc(FRAY__ESC_MAX(n) + 16);
  if (!s)
    return NULL;
  size_t o = 0;
  if (start) {
    memcpy(s, "...", 3);
    o = 3;
  }
  s[o++] = '"';
  o += fray__escape(s + o, p + start, n, FRAY__ESC_QUOTE);
  s[o++] = '"';
  if (start + n < len) {
    memcpy(s + o, "...", 3);
    o += 3;
  }
  s[o] = 0;
  return s;
}

/* Copies what the result says into f (res is overwritten by the next run). */
static int failure_capture(failure_t *f, const fray_sim_t *sim, const fray_script_t *script,
                           const fray_sched_t *sched, const fray_sim_result_t *res, size_t run,
                           int whole) {
  memset(f, 0, sizeof *f);
  f->kind = res->kind;
  f->line = res->line;
  f->run = run;
  f->whole = whole;
  f->diff_at = res->diff_at;
  const char *cn = fray_script_client_name(script, res->client);
  f->client = cn ? xstrdup(cn) : NULL;
  f->message = xstrdup(res->message ? res->message : fray_fail_kind_name(res->kind));
  f->schedule = malloc(DESCRIBE_SIZE);
  if (!f->message || !f->schedule || (cn && !f->client))
    return FRAY_ENOMEM;
  fray_sched_describe(sim, sched, f->schedule, DESCRIBE_SIZE);
  /* A caret only means something when expected and got are bytes compared
   * byte for byte: an exact expectation or a transcript. */
  size_t nsteps;
  const fray_step_t *steps = fray_script_steps(script, &nsteps);
  int byte_step = res->step < nsteps && steps[res->step].kind == FRAY_STEP_EXPECT;
  f->show_diff = res->expected && res->got &&
                 (res->kind == FRAY_FAIL_VARIANCE ||
                  (byte_step && (res->kind == FRAY_FAIL_MISMATCH ||
                                 res->kind == FRAY_FAIL_MISSING || res->kind == FRAY_FAIL_CLOSED)));
  size_t start = 0;
  if (f->show_diff && res->diff_at > EXCERPT_BEFORE)
    start = res->diff_at - EXCERPT_BEFORE;
  if (res->expected) {
    f->expected = excerpt(res->expected, res->expected_len, start);
    size_t n = res->expected_len < JSON_BYTES ? res->expected_len : JSON_BYTES;
    f->json_expected = escape_dup(res->expected, n, 0);
    if (!f->expected || !f->json_expected)
      return FRAY_ENOMEM;
  }
  if (res->got) {
    f->got = excerpt(res->got, res->got_len, start);
    size_t n = res->got_len < JSON_BYTES ? res->got_len : JSON_BYTES;
    f->json_got = escape_dup(res->got, n, 0);
    if (!f->got || !f->json_got)
      return FRAY_ENOMEM;
  }
  if (f->show_diff) {
    /* Column of the first differing byte: the same bytes precede it in
     * both excerpts, so one caret line serves both. */
    size_t upto = res->diff_at - start;
    if (upto > res->got_len - (start < res->got_len ? start : res->got_len))
      upto = res->got_len > start ? res->got_len - start : 0;
    char *tmp = malloc(FRAY__ESC_MAX(upto) + 1);
    if (!tmp)
      return FRAY_ENOMEM;
    f->caret = (start ? 3 : 0) + 1 + fray__escape(tmp, res->got + start, upto, FRAY__ESC_QUOTE);
    free(tmp);
  }
  return 0;
}

/* Makes s safe for one `#` comment line: no line breaks or control bytes. */
static void comment_safe(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      *s = '?';
}

/* The command line that finds the failure again, for reproducer headers. */
static char *found_by(const replay_opts_t *o, const char *file) {
  char sched[96] = "";
  int seeded = o->short_writes || o->sched == SCHED_RANDOM;
  int counted = o->sched == SCHED_RANDOM || (o->sched == SCHED_WHOLE && o->short_writes);
  if (counted)
    snprintf(sched, sizeof sched, " --runs %zu", o->runs);
  if (o->sched == SCHED_EXHAUSTIVE)
    snprintf(sched, sizeof sched, " --max-cuts %zu", o->max_cuts);
  char seed[48] = "";
  if (seeded)
    snprintf(seed, sizeof seed, " --seed %" PRIu64, o->seed);
  const char *how = o->connect   ? " --connect "
                    : o->plugin  ? " --plugin "
                    : o->handler ? " --handler "
                                 : "";
  const char *what = o->connect ? o->connect : o->plugin ? o->plugin : o->handler ? o->handler : "";
  return xasprintf("fray replay%s%s --schedule %s%s%s%s %s", how, what, sched_names[o->sched],
                   sched, seed, o->short_writes ? " --short-writes" : "", file);
}

/* The reproducer's file name: DIR/<script base name>-<schedule>-<run>.fray. */
static char *repro_path(const char *dir, const char *file, sched_kind_t kind, size_t run) {
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  size_t n = strlen(base);
  if (n > 5 && !strcmp(base + n - 5, ".fray"))
    n -= 5;
  size_t dl = strlen(dir);
  while (dl > 1 && dir[dl - 1] == '/')
    dl--;
  return xasprintf("%.*s/%.*s-%s-%zu.fray", (int)dl, dir, (int)n, base, sched_names[kind], run);
}

/* Minimises the failing (script, schedule) pair and writes it, with a
 * header comment saying how it was found, to the path in f->repro. */
static int save_reproducer(const replay_opts_t *o, fray_sim_t *sim, const fray_sched_t *sched,
                           const char *file, const fray_handler_t *h, failure_t *f) {
  fray_script_t *min = NULL;
  char *text = NULL, *cmd = NULL, *path = NULL;
  FILE *fp = NULL;
  /* Over the network a run takes milliseconds, not microseconds: the
   * failing schedule is written as found, not minimised. */
  int rc = o->connect ? fray_sim_bake(sim, sched, &min) : fray_sim_minimize(sim, sched, 0, &min);
  if (rc == FRAY_EINVAL) {
    fprintf(stderr, "fray replay: %s: the failure did not recur while minimising; no reproducer\n",
            file);
    return 0;
  }
  if (rc)
    goto done;
  /* A reproducer must name the handler it was found with, even when the
   * command line chose it over (or without) the script's @handler. */
  if ((o->handler || o->plugin) && (rc = fray_script_set_handler(min, h->name)))
    goto done;
  size_t len;
  if ((rc = fray_script_write_mem(min, &text, &len)))
    goto done;
  rc = FRAY_ENOMEM;
  cmd = found_by(o, file);
  path = repro_path(o->save_dir, file, o->sched, f->run);
  if (!cmd || !path)
    goto done;
  char *msg = xstrdup(f->message), *desc = xstrdup(f->schedule);
  if (!msg || !desc) {
    free(msg);
    free(desc);
    goto done;
  }
  comment_safe(cmd);
  comment_safe(msg);
  comment_safe(desc);
  rc = FRAY_EIO;
  if (mkdir(o->save_dir, 0777) && errno != EEXIST) {
    fprintf(stderr, "fray replay: cannot create %s: %s\n", o->save_dir, strerror(errno));
  } else if (!(fp = fopen(path, "w"))) {
    fprintf(stderr, "fray replay: cannot write %s: %s\n", path, strerror(errno));
  } else {
    fprintf(fp,
            "# Reproducer written by fray replay (%s: the schedule's cuts are `|`,\n"
            "# merged sends are one send, so the whole schedule replays it as found).\n"
            "# found by: %s\n"
            "# schedule: %s run %zu: %s\n"
            "# failure: %s:%zu: %s: %s\n",
            o->connect ? "not minimised over the network" : "minimised", cmd, sched_names[o->sched],
            f->run, desc, file, f->line, fray_fail_kind_name(f->kind), msg);
    if (o->plugin)
      fprintf(fp, "# replay: fray replay --plugin %s %s\n", o->plugin, path);
    else
      fprintf(fp, "# replay: fray replay %s\n", path);
    if (sched->short_writes)
      fprintf(fp,
              "# it needs short writes: add --short-writes --seed %" PRIu64
              " (see the found-by line)\n",
              o->seed);
    fwrite(text, 1, len, fp);
    rc = fclose(fp) ? FRAY_EIO : 0;
    if (!rc) {
      fprintf(stderr, "fray replay: reproducer written to %s\n", path);
      f->repro = path;
      path = NULL;
    }
  }
  free(msg);
  free(desc);
done:
  if (rc && rc != FRAY_EIO)
    fprintf(stderr, "fray replay: %s: cannot write a reproducer: %s\n", file, fray_strerror(rc));
  if (min)
    fray_script_text_free(min, text);
  fray_script_free(min);
  free(cmd);
  free(path);
  return rc == FRAY_ENOMEM ? rc : 0;
}

/* Records a failure (described if there is room) and, with --save-failures,
 * its reproducer. FRAY_ENOMEM or 0. */
static int record_failure(const replay_opts_t *o, script_result_t *r, fray_sim_t *sim,
                          const fray_script_t *script, const fray_sched_t *sched,
                          const fray_sim_result_t *res, size_t run, int whole,
                          const fray_handler_t *h) {
  r->nfailed++;
  if (r->nfails >= MAX_KEPT_FAILURES)
    return 0;
  failure_t *f = &r->fails[r->nfails++];
  int rc = failure_capture(f, sim, script, sched, res, run, whole);
  if (rc)
    return rc;
  /* Under --keep-going one bug tends to fail many schedules at the same
   * place: one reproducer for it is enough. */
  for (size_t i = 0; i + 1 < r->nfails; i++)
    if (r->fails[i].kind == f->kind && r->fails[i].line == f->line &&
        !strcmp(r->fails[i].client ? r->fails[i].client : "", f->client ? f->client : "")) {
      f->same_as = (int)i + 1;
      break;
    }
  if (o->save_dir && !whole && !f->same_as)
    return save_reproducer(o, sim, sched, r->file, h, f);
  return 0;
}

/* ---- a crash's reproducer ---------------------------------------------- */

/* When a schedule makes the handler crash under a sanitizer, the process
 * ends inside the run: no minimiser, no report. The sanitizers call a death
 * callback first; fray uses it to write the schedule that was running,
 * baked into the script, as DIR/<script>-crash.fray. Process-wide state,
 * hence here in the command and not in the library. */
static struct {
  const fray_sim_t *sim;
  const fray_sched_t *sched;
  const char *dir, *file;
} crash_ctx;

extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static void write_crash_reproducer(void) {
  fray_script_t *baked = NULL;
  if (!crash_ctx.sim || !crash_ctx.dir || fray_sim_bake(crash_ctx.sim, crash_ctx.sched, &baked))
    return;
  const char *base = strrchr(crash_ctx.file, '/');
  base = base ? base + 1 : crash_ctx.file;
  size_t stem = strstr(base, ".fray") ? (size_t)(strstr(base, ".fray") - base) : strlen(base);
  char path[4096];
  snprintf(path, sizeof path, "%s/%.*s-crash.fray", crash_ctx.dir, (int)stem, base);
  (void)mkdir(crash_ctx.dir, 0777);
  FILE *f = fopen(path, "w");
  if (f) {
    fprintf(f,
            "# Written by fray replay when a sanitizer stopped it during this schedule\n"
            "# of %s: the cuts and merges are baked in, so the whole schedule\n"
            "# replays the crash. Not minimised.\n",
            crash_ctx.file);
    fray_script_write(baked, f);
    fclose(f);
    fprintf(stderr, "fray replay: reproducer written to %s\n", path);
  }
  fray_script_free(baked);
}

/* ---- malformed variants ------------------------------------------------- */

#define MUTATE_MEM_LIMIT ((size_t)64 << 20)

static int write_script_file(const char *path, const char *header, const fray_script_t *s) {
  FILE *f = fopen(path, "w");
  if (!f)
    return FRAY_EIO;
  if (header)
    fputs(header, f);
  int rc = fray_script_write(s, f);
  if (fclose(f) != 0 && !rc)
    rc = FRAY_EIO;
  return rc;
}

/* Runs o->mutate malformed variants of script under whole. A variant fails
 * when the canary goes unanswered or memory grows past the bound; a crash
 * ends the process, which is why the variant is written out first. */
static int mutate_script(const replay_opts_t *o, script_result_t *r, const fray_script_t *script,
                         const fray_handler_t *h, progress_t *pg) {
  double t0 = now();
  pg->start = pg->last = t0;
  int rc = 0;
  char *current = NULL;
  r->fails = calloc(MAX_KEPT_FAILURES, sizeof *r->fails);
  if (!r->fails)
    return FRAY_ENOMEM;
  if (o->save_dir && mkdir(o->save_dir, 0777) && errno != EEXIST)
    fprintf(stderr, "fray replay: cannot create %s: %s\n", o->save_dir, strerror(errno));
  if (o->save_dir) {
    const char *base = strrchr(r->file, '/');
    base = base ? base + 1 : r->file;
    current = xasprintf(
        "%s/%.*s-mutant.fray", o->save_dir,
        (int)(strstr(base, ".fray") ? (size_t)(strstr(base, ".fray") - base) : strlen(base)), base);
  }
  r->planned = o->mutate;
  for (size_t i = 0; i < o->mutate; i++) {
    fray_script_t *m = NULL;
    fray_sim_t *sim = NULL;
    size_t canary_at;
    char what[512];
    if ((rc = fray_mutate(script, mix(o->seed, i), h->spec.max_frame, &m, &canary_at, what,
                          sizeof what)))
      break;
    comment_safe(what);
    if (current) {
      char *hdr = xasprintf("# Malformed variant %zu of %s, written by fray replay --mutate before "
                            "it ran.\n# If fray crashed, this is the input that crashed it.\n"
                            "# mutation: %s\n# replay: fray replay --schedule whole %s\n",
                            i, r->file, what, current);
      if (write_script_file(current, hdr, m))
        fprintf(stderr, "fray replay: cannot write %s\n", current);
      free(hdr);
    }
    fray_sim_result_t res;
    if (!(rc = fray_sim_new(&sim, m, h, NULL))) {
      fray_sim_expect_from(sim, canary_at);
      fray_sim_set_mem_limit(sim, MUTATE_MEM_LIMIT);
      rc = fray_sim_run(sim, NULL, &res);
    }
    r->runs++;
    if (rc == FRAY_EFAILED) {
      rc = 0;
      r->nfailed++;
      if (r->nfails < MAX_KEPT_FAILURES) {
        failure_t *f = &r->fails[r->nfails++];
        rc = failure_capture(f, sim, m, NULL, &res, i + 1, 0);
        if (!rc) {
          free(f->schedule);
          f->schedule = xasprintf("mutation %zu: %s", i, what);
        }
        if (!rc && current) {
          f->repro = xasprintf("%.*s-%zu.fray", (int)(strlen(current) - 5), current, i);
          if (f->repro && rename(current, f->repro) != 0) {
            free(f->repro);
            f->repro = NULL;
          }
        }
      }
    }
    fray_sim_free(sim);
    fray_script_free(m);
    if (rc || (r->nfailed && !o->keep_going))
      break;
    if ((i & (PROGRESS_EVERY - 1)) == PROGRESS_EVERY - 1)
      progress_tick(pg, r->file, r->runs, r->planned, r->nfailed);
  }
  if (current)
    (void)remove(current); /* no crash: the last variant passed or was renamed */
  free(current);
  progress_end(pg);
  r->secs = now() - t0;
  if (rc && !r->error)
    r->error = xasprintf("%s: %s", r->file, fray_strerror(rc));
  return rc;
}

/* ---- one script -------------------------------------------------------- */

/* Runs every schedule of one script. Fills r; returns 0, or FRAY_ENOMEM /
 * FRAY_EINVAL (r->error says why). */
static int replay_script(const replay_opts_t *o, script_result_t *r, const fray_script_t *script,
                         const fray_handler_t *h, progress_t *pg) {
  fray_sim_t *sim = NULL;
  fray_net_t *net = NULL;
  fray_sched_buf_t *buf = NULL;
  fray_sim_result_t res;
  int rc;
  double t0 = now();
  pg->start = pg->last = t0;
  r->fails = calloc(MAX_KEPT_FAILURES, sizeof *r->fails);
  if (!r->fails || (rc = fray_sim_new(&sim, script, h, NULL)) ||
      (rc = fray_sched_buf_new(&buf, sim))) {
    rc = FRAY_ENOMEM;
    goto done;
  }
  /* --connect: the simulator still makes and describes the schedules; the
   * runs go to the server. */
  if (o->connect && (rc = fray_net_new(&net, script, o->connect, &o->net, NULL))) {
    r->error = xasprintf("%s: %s", r->file, net ? fray_net_error(net) : fray_strerror(rc));
    goto done;
  }
  size_t k = o->max_cuts;
  uint64_t n; /* schedules after the whole reference */
  switch (o->sched) {
  case SCHED_WHOLE:
    n = o->short_writes ? o->runs : 0;
    break;
  case SCHED_BYTEWISE:
    n = 1;
    break;
  case SCHED_RANDOM:
    n = o->runs;
    break;
  default: {
    size_t c = fray_sched_exhaustive_count(sim, k);
    /* Index 0 is whole, already run; under short writes it is not. */
    n = o->short_writes ? c : c - 1;
    break;
  }
  }
  r->planned = n + 1;
  r->runs = 1;
  rc = net ? fray_net_run(net, NULL, &res) : fray_sim_record_reference(sim, &res);
  if (net && rc && rc != FRAY_EFAILED && *fray_net_error(net))
    r->error = xasprintf("%s: %s", r->file, fray_net_error(net));
  if (rc == FRAY_EFAILED) {
    rc = record_failure(o, r, sim, script, NULL, &res, 0, 1, h);
    goto done;
  }
  if (rc)
    goto done;
  fray_sched_t sched = {0};
  for (uint64_t i = 0; i < n; i++) {
    switch (o->sched) {
    case SCHED_WHOLE:
      sched = (fray_sched_t){.short_writes = 1, .write_seed = mix(o->seed, i)};
      break;
    case SCHED_BYTEWISE:
      if ((rc = fray_sched_bytewise(buf)))
        goto done;
      sched = *fray_sched_buf_view(buf);
      sched.short_writes = o->short_writes;
      sched.write_seed = mix(o->seed, i);
      break;
    case SCHED_RANDOM:
      if ((rc = fray_sched_random(buf, mix(o->seed, i), o->short_writes)))
        goto done;
      sched = *fray_sched_buf_view(buf);
      break;
    default:
      if ((rc = fray_sched_exhaustive(buf, k, (size_t)(o->short_writes ? i : i + 1))))
        goto done;
      sched = *fray_sched_buf_view(buf);
      sched.short_writes = o->short_writes;
      sched.write_seed = mix(o->seed, i);
      break;
    }
    crash_ctx.sim = sim;
    crash_ctx.sched = &sched;
    rc = net ? fray_net_run(net, &sched, &res) : fray_sim_check_invariance(sim, &sched, &res);
    crash_ctx.sim = NULL;
    if (net && rc && rc != FRAY_EFAILED && *fray_net_error(net))
      r->error = xasprintf("%s: %s", r->file, fray_net_error(net));
    r->runs++;
    if (rc == FRAY_EFAILED) {
      if ((rc = record_failure(o, r, sim, script, &sched, &res, (size_t)i + 1, 0, h)))
        goto done;
      if (!o->keep_going)
        break;
    } else if (rc) {
      goto done;
    }
    if ((i & (PROGRESS_EVERY - 1)) == PROGRESS_EVERY - 1)
      progress_tick(pg, r->file, r->runs, r->planned, r->nfailed);
  }
  rc = 0;
done:
  progress_end(pg);
  r->secs = now() - t0;
  if (rc && !r->error)
    r->error = xasprintf("%s: %s", r->file,
                         rc == FRAY_EINVAL ? "the simulator refused a schedule (a bug in fray)"
                                           : fray_strerror(rc));
  fray_sched_buf_free(buf);
  fray_net_free(net);
  fray_sim_free(sim);
  return rc;
}

/* ---- output ------------------------------------------------------------ */

static void json_str(FILE *out, const char *s) {
  if (!s) {
    fputs("null", out);
    return;
  }
  putc('"', out);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c < 0x20 || c == 0x7f)
      fprintf(out, "\\u%04x", c);
    else
      putc(c, out);
  }
  putc('"', out);
}

static void print_human(const script_result_t *r, const char *sched) {
  if (r->error) {
    printf("ERROR %s %s\n", r->file, sched);
    return;
  }
  printf("%s %s %s %" PRIu64 " runs %.3f s\n", r->nfailed ? "FAIL" : "PASS", r->file, sched,
         r->runs, r->secs);
  for (size_t i = 0; i < r->nfails; i++) {
    const failure_t *f = &r->fails[i];
    if (f->line)
      printf("  %s:%zu: %s: %s\n", r->file, f->line, fray_fail_kind_name(f->kind), f->message);
    else
      printf("  %s: at the end of the script: %s: %s\n", r->file, fray_fail_kind_name(f->kind),
             f->message);
    if (f->whole && r->own_cuts) {
      /* A reproducer (fuzz-decode, --save-failures) carries its cuts. */
      printf("    the script fails with the reads it cuts itself (`|`), before fray adds any:\n"
             "    it is its own reproducer; without its cuts it would show whether the\n"
             "    handler is wrong whatever the reads\n");
    } else if (f->whole) {
      printf("    the script fails under the whole schedule, without any splitting: the handler\n"
             "    (or the script) is wrong whatever the reads; no reproducer beyond the script\n");
    } else {
      printf("    schedule: %s run %zu: %s\n", sched, f->run, f->schedule);
    }
    if (f->expected)
      printf("    %s %s\n", f->kind == FRAY_FAIL_VARIANCE ? "whole:   " : "expected:", f->expected);
    if (f->got)
      printf("    %s %s\n", f->kind == FRAY_FAIL_VARIANCE ? "this:    " : "got:     ", f->got);
    if (f->show_diff)
      printf("    %*s^ first difference (byte %zu)\n", (int)(10 + f->caret), "", f->diff_at);
    if (f->repro)
      printf("    reproducer: %s\n", f->repro);
    else if (f->same_as)
      printf("    same place as failure %d above\n", f->same_as);
  }
  if (r->nfailed > r->nfails)
    printf("  ... and %" PRIu64 " more failing schedules\n", r->nfailed - r->nfails);
}

static void print_json(const script_result_t *r, const char *sched) {
  fputs("{\"file\":", stdout);
  json_str(stdout, r->file);
  fputs(",\"handler\":", stdout);
  json_str(stdout, r->handler);
  printf(",\"schedule\":\"%s\",\"runs\":%" PRIu64 ",\"seconds\":%.6f,\"passed\":%s", sched, r->runs,
         r->secs, r->nfailed || r->error ? "false" : "true");
  if (r->error) {
    fputs(",\"error\":", stdout);
    json_str(stdout, r->error);
  }
  printf(",\"failed_schedules\":%" PRIu64 ",\"failures\":[", r->nfailed);
  for (size_t i = 0; i < r->nfails; i++) {
    const failure_t *f = &r->fails[i];
    printf("%s{\"line\":%zu,\"kind\":\"%s\",\"run\":%zu,\"whole\":%s,\"client\":", i ? "," : "",
           f->line, fray_fail_kind_name(f->kind), f->run, f->whole ? "true" : "false");
    json_str(stdout, f->client);
    fputs(",\"message\":", stdout);
    json_str(stdout, f->message);
    fputs(",\"schedule\":", stdout);
    json_str(stdout, f->schedule);
    fputs(",\"expected\":", stdout);
    json_str(stdout, f->json_expected);
    fputs(",\"got\":", stdout);
    json_str(stdout, f->json_got);
    if (f->show_diff)
      printf(",\"diff_at\":%zu", f->diff_at);
    fputs(",\"reproducer\":", stdout);
    json_str(stdout, f->repro);
    putc('}', stdout);
  }
  fputs("]}\n", stdout);
}

static void xml_str(FILE *out, const char *s) {
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '&':
      fputs("&amp;", out);
      break;
    case '<':
      fputs("&lt;", out);
      break;
    case '>':
      fputs("&gt;", out);
      break;
    case '"':
      fputs("&quot;", out);
      break;
    case '\'':
      fputs("&apos;", out);
      break;
    default:
      /* XML 1.0 has no way to write most control characters. */
      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
        putc('?', out);
      else
        putc(c, out);
    }
  }
}

static int write_junit(const char *path, const script_result_t *rs, int n, const char *sched,
                       double secs) {
  FILE *fp = fopen(path, "w");
  if (!fp) {
    fprintf(stderr, "fray replay: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  int nfail = 0, nerr = 0;
  for (int i = 0; i < n; i++) {
    nerr += rs[i].error != NULL;
    nfail += !rs[i].error && rs[i].nfailed;
  }
  fprintf(fp,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<testsuite name=\"fray replay\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
          "time=\"%.3f\">\n",
          n, nfail, nerr, secs);
  for (int i = 0; i < n; i++) {
    const script_result_t *r = &rs[i];
    fprintf(fp, "  <testcase classname=\"replay.%s\" name=\"", sched);
    xml_str(fp, r->file);
    fprintf(fp, " [%s]\" time=\"%.3f\">\n", sched, r->secs);
    if (r->error) {
      fputs("    <error message=\"", fp);
      xml_str(fp, r->error);
      fputs("\"/>\n", fp);
    } else if (r->nfailed) {
      const failure_t *f = &r->fails[0];
      fprintf(fp, "    <failure type=\"%s\" message=\"", fray_fail_kind_name(f->kind));
      xml_str(fp, f->message);
      fputs("\">", fp);
      for (size_t k = 0; k < r->nfails; k++) {
        f = &r->fails[k];
        fprintf(fp, "%s:%zu: %s: ", r->file, f->line, fray_fail_kind_name(f->kind));
        xml_str(fp, f->message);
        fputs("\nschedule: ", fp);
        xml_str(fp, !f->whole     ? f->schedule
                    : r->own_cuts ? "whole (fails with the script's own cuts)"
                                  : "whole (fails without any splitting)");
        if (f->repro) {
          fputs("\nreproducer: ", fp);
          xml_str(fp, f->repro);
        }
        fputs("\n", fp);
      }
      fputs("</failure>\n", fp);
    }
    fputs("  </testcase>\n", fp);
  }
  fputs("</testsuite>\n", fp);
  if (fclose(fp)) {
    fprintf(stderr, "fray replay: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- the command ------------------------------------------------------- */

int fray_cli_replay(int argc, char **argv) {
  replay_opts_t o = {.sched = SCHED_RANDOM,
                     .runs = DEFAULT_RUNS,
                     .seed = DEFAULT_SEED,
                     .max_cuts = DEFAULT_MAX_CUTS,
                     .net = {.pace_ms = FRAY_NET_DEFAULT_PACE_MS,
                             .timeout_ms = FRAY_NET_DEFAULT_TIMEOUT_MS,
                             .settle_ms = FRAY_NET_DEFAULT_SETTLE_MS}};
  script_result_t *rs = NULL;
  void *dl = NULL;
  int status = FRAY_EXIT_OK;
  int p = parse_args(argc, argv, &o);
  if (p) {
    status = p < 0 ? FRAY_EXIT_USAGE : FRAY_EXIT_OK;
    goto out;
  }
  if (o.list) {
    list_handlers();
    goto out;
  }
  const fray_handler_t *cmd_h = NULL;
  if (o.plugin && !(cmd_h = fray_cli_load_plugin("fray replay", o.plugin, &dl))) {
    status = FRAY_EXIT_USAGE;
    goto out;
  }
  if (o.handler && !(cmd_h = fray_example_find(o.handler))) {
    fprintf(stderr, "fray replay: unknown handler '%s' (fray replay --list-handlers lists them)\n",
            o.handler);
    status = FRAY_EXIT_USAGE;
    goto out;
  }
  rs = calloc((size_t)o.nscripts, sizeof *rs);
  if (!rs) {
    fprintf(stderr, "fray replay: out of memory\n");
    status = FRAY_EXIT_USAGE;
    goto out;
  }
  progress_t pg = {.tty = isatty(STDERR_FILENO)};
  if (o.save_dir && __sanitizer_set_death_callback)
    __sanitizer_set_death_callback(write_crash_reproducer);
  const char *sched = o.mutate ? "mutate" : sched_names[o.sched];
  int passed = 0, failed = 0, errors = 0, warned = 0;
  double t0 = now();
  for (int i = 0; i < o.nscripts; i++) {
    script_result_t *r = &rs[i];
    r->file = o.scripts[i];
    fray_script_t *script = NULL;
    fray_script_error_t err;
    int rc = fray_script_load(&script, r->file, NULL, &err);
    if (rc) {
      char msg[600];
      fray_script_error_format(&err, msg, sizeof msg);
      fprintf(stderr, "%s\n", msg);
      r->error = xstrdup(msg);
    } else {
      size_t nst;
      const fray_step_t *st = fray_script_steps(script, &nst);
      for (size_t k = 0; k < nst && !r->own_cuts; k++)
        r->own_cuts = st[k].kind == FRAY_STEP_SEND && st[k].ncuts;
      const char *sh = fray_script_handler(script);
      /* --connect needs no handler: the simulator only cuts the schedules. */
      static const fray_handler_t connect_h = {.name = "tcp", .spec = {.mode = FRAY_MODE_RAW}};
      const fray_handler_t *h = o.connect ? &connect_h : cmd_h;
      if (!o.connect && h && sh && strcmp(sh, h->name) && !warned) {
        fprintf(stderr,
                "fray replay: %s names handler '%s'; using '%s' from the command line instead "
                "(said once)\n",
                r->file, sh, h->name);
        warned = 1;
      }
      if (!h && sh && !(h = fray_example_find(sh)))
        r->error = xasprintf("%s: @handler names an unknown handler '%s' (fray replay "
                             "--list-handlers lists them; --plugin loads your own)",
                             r->file, sh);
      else if (!h)
        r->error = xasprintf("%s: no handler: give --handler NAME or --plugin LIB.so, or put "
                             "'@handler NAME' in the script",
                             r->file);
      if (h) {
        r->handler = o.connect ? o.connect : h->name;
        crash_ctx.dir = o.save_dir;
        crash_ctx.file = r->file;
        if (o.mutate)
          mutate_script(&o, r, script, h, &pg);
        else
          replay_script(&o, r, script, h, &pg);
      }
      if (r->error)
        fprintf(stderr, "fray replay: %s\n", r->error);
    }
    fray_script_free(script);
    if (r->error) {
      errors++;
      failed++;
    } else if (r->nfailed) {
      failed++;
    } else {
      passed++;
    }
    if (o.json)
      print_json(r, sched);
    else
      print_human(r, sched);
    fflush(stdout);
  }
  double secs = now() - t0;
  if (o.json) {
    uint64_t runs = 0;
    for (int i = 0; i < o.nscripts; i++)
      runs += rs[i].runs;
    printf("{\"summary\":true,\"passed\":%d,\"failed\":%d,\"errors\":%d,\"runs\":%" PRIu64
           ",\"seconds\":%.6f}\n",
           passed, failed, errors, runs, secs);
  } else {
    printf("%d passed, %d failed\n", passed, failed);
  }
  if (o.junit && write_junit(o.junit, rs, o.nscripts, sched, secs))
    errors++;
  status = errors ? FRAY_EXIT_USAGE : failed ? FRAY_EXIT_FAIL : FRAY_EXIT_OK;
out:
  for (int i = 0; rs && i < o.nscripts; i++) {
    for (size_t k = 0; k < rs[i].nfails; k++)
      failure_free(&rs[i].fails[k]);
    free(rs[i].fails);
    free(rs[i].error);
  }
  free(rs);
  free(o.scripts);
  /* The plugin's handler name is in rs (freed above) and in nothing else:
   * unloading is safe now. */
  if (dl)
    dlclose(dl);
  return status;
}
