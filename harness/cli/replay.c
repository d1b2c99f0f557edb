/* fray replay: runs `.fray` session scripts against a handler in the
 * simulator (or a real server) under many schedules, and reports the first
 * schedule under which the handler does not do what the script expects, or
 * answers differently from the `whole` schedule, as a minimal reproducer.
 * The campaign itself (strategies, seeds, failures, reproducers) is the
 * library's (fray/replay.h); this file reads the command line and prints
 * the reports.
 *
 * Its output is a contract: CI tooling reads the final `N passed, M failed`
 * line, the --json objects and the --junit file, so their shapes are spelled
 * out in usage() and docs/replay.md and must not drift. */
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
#include "core/escape_internal.h"
#include "opts.h"
#include "scriptload.h"
#include "examples.h"
#include "handlers.h"
#include "fray/handler.h"
#include "fray/exec.h"
#include "fray/replay.h"
#include "fray/script.h"

#define PROGRESS_AFTER 1.0      /* seconds before progress shows at all */
#define PROGRESS_PERIOD 0.1     /* seconds between two updates of the live line */
#define PROGRESS_LOG_AFTER 2.0  /* off a terminal: seconds before the first line */
#define PROGRESS_LOG_PERIOD 5.0 /* off a terminal: seconds between two lines */
#define MAX_GIVEN 64            /* options remembered for the ignored-option warnings */
#define TRACE_BYTES 64          /* --trace: bytes shown per line, the rest counted */

typedef struct replay_opts {
  const char *handler; /* --handler */
  const char *plugin;  /* --plugin */
  const char *junit;
  const char *save_dir;
  fray_strategy_t sched;
  int family;         /* --schedule FAMILY: FRAY_CAMPAIGN_PORTFOLIO or one family */
  unsigned faults;    /* --faults */
  int faults_set;     /* --faults given: under --exec, faults are drawn only then */
  int fault_seed_set; /* --fault-seed given */
  uint64_t fault_seed;
  uint64_t runs;
  uint64_t seed;
  size_t max_cuts;
  uint64_t mutate;         /* --mutate N: malformed variants instead of schedules */
  unsigned run_timeout_ms; /* --run-timeout: a handler's run making no progress */
  int short_writes, keep_going, json, list;
  int trace;                    /* --trace: every run's reads, frames, sends, switches, closes */
  const char *connect;          /* --connect HOST:PORT: a real server instead of the simulator */
  fray_net_opts_t net;          /* --pace, --timeout */
  const char *exec;             /* --exec COMMAND: a server fray starts under its shim */
  int restart_each_run;         /* --restart each-run */
  fray_cli_files_t files;       /* --files-under, --no-files */
  uint64_t max_runs;            /* --max-runs N: runs per script at most (0: no bound) */
  uint64_t time_ms;             /* --time T: each script's runs stop after T (0: none) */
  uint64_t shard, nshards;      /* --shard K/N: shard = K - 1; nshards 1: not sharded */
  const char *given[MAX_GIVEN]; /* the options given, for warnings */
  int ngiven;
  char **scripts;
  int nscripts;
} replay_opts_t;

/* What became of one script: a report, or an error before it could run. */
typedef struct script_result {
  const char *file;
  const char *handler; /* NULL on error before a handler was chosen */
  char *error;         /* a script, setup or run error (exit 2), or NULL */
  fray_campaign_report_t *report;
  int by_time; /* PARTIAL: --time stopped it (else --max-runs) */
} script_result_t;

typedef struct progress {
  const replay_opts_t *o;
  int tty;
  int shown;
  int by_time; /* --time stopped the last script */
  const char *file;
  double start, last;
} progress_t;

/* ---- small helpers ----------------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
          "  --schedule random      seeded random schedules drawn from a portfolio of\n"
          "                         families, each in every block of 10 runs (default):\n"
          "    biased    0-3 cuts per send, most around delimiters; merges in two\n"
          "    coalesce  every merge, no cut: one read per burst (Nagle, pipelining)\n"
          "    stretch   2-32 bytes of a send one byte per read\n"
          "    boundary  a burst merged, cut once at a frame boundary\n"
          "    delim     cuts inside delimiters only (\"\\r|\\n\")\n"
          "    message   one line per read, never merged\n"
          "    split     biased cuts, never merged\n"
          "    merge     random merges, never cut\n"
          "    prefix    a burst read in random prefixes (FoundationDB's simulated TCP)\n"
          "    tail      a burst one read but for a short tail (a batch's last segment)\n"
          "  --schedule FAMILY      random runs of that family only\n"
          "  --schedule exhaustive  every placement of up to --max-cuts cuts in each\n"
          "                         send, one send at a time; then each pair of a\n"
          "                         client's consecutive sends merged (one run each)\n"
          "  --runs N            random schedules to run (default %u)\n"
          "  --seed S            seed of the random schedules and short writes, decimal\n"
          "                      or 0x hex (default %u)\n"
          "  --max-cuts K        exhaustive: cuts per send (default %u); the run count is\n"
          "                      printed up front, computed\n"
          "  --short-writes      the server's writes are taken in small random pieces,\n"
          "                      sometimes none (EAGAIN), in every run; with whole,\n"
          "                      --runs write seeds\n"
          "  --faults LIST       fault kinds random runs draw (in the simulator; under\n"
          "                      --exec only when given), each in about one run in four\n"
          "                      (the two that make a client leave early: one in\n"
          "                      64); comma-separated of\n"
          "                      short-writes    the server's writes cut short (handlers\n"
          "                                      queuing borrowed buffers or producers\n"
          "                                      need it)\n"
          "                      eof-with-data   a client's last send and its close or\n"
          "                                      half-close in one read\n"
          "                      close-mid-send  a close or reset comes in the middle of\n"
          "                                      one more send: a handler acting on the\n"
          "                                      unfinished command is caught\n"
          "                      random-close    a client closes or resets at a drawn\n"
          "                                      step (judged after it: crashes, refused\n"
          "                                      calls, bounds)\n"
          "                      read-gap        some reads find nothing first (a raw\n"
          "                                      handler is woken with zero bytes)\n"
          "                      reset-mid-write a client resets while the server writes\n"
          "                                      to it (judged after it as random-close)\n"
          "                      window          clients read only when waited on,\n"
          "                                      through a 1-4096 byte window (the\n"
          "                                      server's output queue fills)\n"
          "                      `all` (default) or `none`\n"
          "  --fault-seed S      with --schedule whole: one more run, every --faults kind\n"
          "                      struck where fault seed S draws it (a reproducer that\n"
          "                      needs fault kinds replays so; its schedule line names\n"
          "                      the seed)\n"
          "\n"
          "bounds (every schedule kind and --mutate; the whole reference is run 1):\n"
          "  --max-runs N        stop each script after N runs\n"
          "  --time T            stop each script's runs after T (10, 10s or 1500ms: a bare\n"
          "                      number is seconds)\n"
          "  A script a bound stopped before its last run, with no failure in the runs\n"
          "  made, is PARTIAL, not PASS: `PARTIAL ... N of M runs`, exit status 4.\n"
          "\n"
          "malformed input (instead of schedules):\n"
          "  --mutate N          run N malformed variants of each script (truncated,\n"
          "                      delimiter dropped, duplicated, NUL/0xFF/random bytes,\n"
          "                      oversized, bits flipped, closed or reset mid-frame);\n"
          "                      fails on a crash, on heap growth past 64 MiB while the\n"
          "                      server reads, or when the script's @canary exchange is\n"
          "                      not answered afterwards. Other expectations are not\n"
          "                      checked. With --save-failures, the variant about to run\n"
          "                      is written to DIR/<script>-mutant-<i>.fray, kept if it\n"
          "                      fails, so a crash leaves its reproducer behind.\n"
          "\n"
          "a real server (any language) instead of the simulator:\n"
          "  --connect HOST:PORT replay against the TCP server there, under the same\n"
          "                      schedules: each read is its own send() (TCP_NODELAY),\n"
          "                      merged sends one send(); fresh connections every run;\n"
          "                      the expectations are the oracle (see docs/net.md)\n"
          "  --pace T            pause after each send() so the server reads it alone\n"
          "                      (default 2ms)\n"
          "  --timeout T         wait for connecting and for each expectation (default\n"
          "                      2000ms); a wait that runs out is reported as a failure\n"
          "  A time T is milliseconds: 2000, 2000ms or 2s (--pace-ms and --timeout-ms\n"
          "  are older spellings of --pace and --timeout).\n"
          "  --exec 'COMMAND'    start COMMAND under fray's preload shim ({port} becomes a\n"
          "                      free port it must listen on at 127.0.0.1) and replay\n"
          "                      inside it: every read returns exactly the scheduled\n"
          "                      piece (checked), --short-writes cuts its writes, and a\n"
          "                      missing answer is seen at once (docs/exec.md); one\n"
          "                      server per script, restarted after a crash; --timeout\n"
          "                      is the backstop for servers the shim cannot see idle\n"
          "  --restart each-run  with --exec: a fresh server for every run\n"
          "\n"
          "crashes and hangs (a handler in fray's process: --handler, --plugin):\n"
          "  every script runs in a worker process, so a crash, an abort, a sanitizer's\n"
          "  report or a hang is that script's FAIL (kind crash or hang, naming the\n"
          "  signal or the report's first line) and the next script runs; with\n"
          "  --save-failures the run that did it is written to\n"
          "  DIR/<script>-crash-<run>.fray (or -hang-, or the -mutant- file)\n"
          "  --run-timeout T     a run making no progress for T is a hang (default 10s)\n"
          "\n"
          "`file` pieces:\n" FRAY_CLI_FILES_HELP "\n"
          "sharding (a CI matrix: every shard is given the same scripts, same order):\n"
          "  --shard K/N         run shard K of N (1 <= K <= N). Script i of the list\n"
          "                      (from 0) belongs to shard i mod N + 1; under\n"
          "                      exhaustive, whose run counts are large, every shard\n"
          "                      replays every script instead and makes its runs\n"
          "                      K, K+N, K+2N, ... (each shard makes the whole\n"
          "                      reference too). The N shards make every (script,\n"
          "                      run) exactly once; test names do not change\n"
          "\n"
          "reporting:\n"
          "  --keep-going        go on after the first failing schedule of a script\n"
          "  --save-failures DIR write a minimal reproducer .fray for each failure into DIR\n"
          "  --json              one JSON object per script, then a summary object\n"
          "  --trace             every run as it goes: in the simulator each read of each\n"
          "                      client and what the handler framed, sent, switched\n"
          "                      (fray_conn_set_spec, refused calls), the timers that\n"
          "                      fired (at which virtual time) and how connections\n"
          "                      ended; over --connect/--exec the pieces sent and the\n"
          "                      bytes received; bytes escaped, %u per line at most (on\n"
          "                      stderr with --json); with --schedule whole or --max-runs\n"
          "  --junit FILE        also write a JUnit XML report to FILE\n"
          "\n"
          "output: one line per script, `PASS|FAIL SCRIPT SCHEDULE N runs T s` (PARTIAL:\n"
          "`N of M runs`, ERROR: the script could not run), each failure under it (script\n"
          "line, schedule with reads joined by `|`, expected and got with a caret under\n"
          "the first differing byte, reproducer path), and last a line `N passed, M\n"
          "failed`, followed by `, P partial` and `, E input errors` when there are any.\n"
          "Progress goes to stderr: a live line on a terminal, otherwise a line every\n"
          "5 s once a script has run 2 s. An option that has no effect with the others\n"
          "given is named in a warning on stderr.\n"
          "\n"
          "exit status: 0 every script passed; 1 a failure was found; 2 usage error or\n"
          "input error (a script error as file:line:column: message, no or unknown\n"
          "handler, bad plugin, unreachable server); 4 nothing failed, but --max-runs or\n"
          "--time stopped a script early. The first that applies of 2, 1, 4, 0.\n"
          "\n"
          "examples:\n"
          "  fray replay --handler chat --schedule random --runs 1000 corpus/chat/*.fray\n"
          "  fray replay --schedule exhaustive --max-cuts 2 --save-failures out/ session.fray\n"
          "  fray replay --schedule exhaustive --max-cuts 3 --time 60 --shard 2/4 corpus/*.fray\n"
          "  fray replay --plugin ./libupper.so corpus/plugin/upper.fray\n",
          FRAY_CAMPAIGN_DEFAULT_RUNS, FRAY_CAMPAIGN_DEFAULT_SEED, FRAY_CAMPAIGN_DEFAULT_MAX_CUTS,
          TRACE_BYTES);
}

/* ---- argument parsing ------------------------------------------------- */

/* Times are milliseconds (`2000`, `2000ms`, `2s`); --pace-ms and
 * --timeout-ms are the older spellings of --pace and --timeout. */
static const fray_cli_opt_t opts_table[] = {
    {"--handler", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--plugin", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--schedule", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--runs", FRAY_CLI_COUNT, 1, FRAY_CLI_MANY, NULL},
    {"--seed", FRAY_CLI_SEED, 0, 0, NULL},
    {"--max-cuts", FRAY_CLI_COUNT, 1, 64, NULL},
    {"--mutate", FRAY_CLI_COUNT, 1, FRAY_CLI_MANY, NULL},
    {"--connect", FRAY_CLI_CONNECT, 0, 0, NULL},
    {"--exec", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--restart", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--pace", FRAY_CLI_MS, 0, 3600000, NULL},
    {"--pace-ms", FRAY_CLI_MS, 0, 3600000, "--pace"},
    {"--timeout", FRAY_CLI_MS, 1, 3600000, NULL},
    {"--timeout-ms", FRAY_CLI_MS, 1, 3600000, "--timeout"},
    {"--run-timeout", FRAY_CLI_MS, 1, 3600000, NULL},
    {"--run-timeout-ms", FRAY_CLI_MS, 1, 3600000, "--run-timeout"},
    {"--junit", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--save-failures", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--short-writes", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--faults", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--fault-seed", FRAY_CLI_SEED, 0, 0, NULL},
    {"--keep-going", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--json", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--list-handlers", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--max-runs", FRAY_CLI_COUNT, 1, FRAY_CLI_MANY, NULL},
    {"--time", FRAY_CLI_SECONDS, 1, 7 * 86400000u, NULL},
    {"--shard", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--trace", FRAY_CLI_FLAG, 0, 0, NULL},
    FRAY_CLI_FILES_OPTS,
};

/* --shard K/N: 1 <= K <= N. */
static int parse_shard(replay_opts_t *o, const char *val) {
  const char *slash = strchr(val, '/');
  char k[24];
  uint64_t kk;
  if (!slash || (size_t)(slash - val) >= sizeof k)
    return fray_cli_usage_error("replay",
                                "--shard: '%s' is not K/N (2/4: the second of four shards)", val);
  memcpy(k, val, (size_t)(slash - val));
  k[slash - val] = 0;
  if (fray_cli_parse_u64(k, &kk) || fray_cli_parse_u64(slash + 1, &o->nshards) || !kk ||
      !o->nshards || kk > o->nshards)
    return fray_cli_usage_error("replay", "--shard: '%s' is not K/N with 1 <= K <= N", val);
  o->shard = kk - 1;
  return 0;
}

/* --shard: under exhaustive every shard takes every script and a share of
 * its runs (the campaign's shard options); otherwise scripts are dealt out
 * by their position in the list. */
static int shard_by_runs(const replay_opts_t *o) {
  return o->nshards > 1 && !o->mutate && o->sched == FRAY_STRATEGY_EXHAUSTIVE;
}

static int in_shard(const replay_opts_t *o, int i) {
  return shard_by_runs(o) || (uint64_t)i % o->nshards == o->shard;
}

/* --schedule: a strategy, or one family of random schedules. */
static int parse_schedule(replay_opts_t *o, const char *val) {
  fray_sched_family_t f;
  o->family = FRAY_CAMPAIGN_PORTFOLIO;
  if (!fray_sched_family_from_name(val, &f)) {
    o->sched = FRAY_STRATEGY_RANDOM;
    o->family = (int)f;
    return 0;
  }
  /* mutate is --mutate N, not a schedule. */
  if (fray_strategy_from_name(val, &o->sched) || o->sched == FRAY_STRATEGY_MUTATE)
    return fray_cli_usage_error(
        "replay",
        "unknown schedule '%s' (whole, bytewise, random, exhaustive, or a family: "
        "fray replay --help)",
        val);
  return 0;
}

/* --faults all | none | NAME[,NAME...] */
static int parse_faults(replay_opts_t *o, const char *val) {
  o->faults = 0;
  o->faults_set = 1;
  if (!strcmp(val, "all")) {
    o->faults = FRAY_FAULT_ALL;
    return 0;
  }
  if (!strcmp(val, "none"))
    return 0;
  for (const char *p = val; *p;) {
    size_t n = strcspn(p, ",");
    char name[32];
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), p);
    unsigned f = fray_fault_from_name(name);
    if (!f)
      return fray_cli_usage_error(
          "replay",
          "--faults: unknown fault kind '%.*s' (short-writes, eof-with-data, "
          "close-mid-send, random-close, read-gap, reset-mid-write, window, all or none)",
          (int)n, p);
    o->faults |= f;
    p += n + (p[n] == ',');
  }
  return 0;
}

/* One option, its value already read and checked (opts.h). */
static int parse_opt(replay_opts_t *o, const fray_cli_args_t *a) {
  const char *name = a->name, *val = a->val;
  if (o->ngiven < MAX_GIVEN)
    o->given[o->ngiven++] = a->opt->canon ? a->opt->canon : a->opt->name;
  if (!strcmp(name, "--handler")) {
    o->handler = val;
  } else if (!strcmp(name, "--plugin")) {
    o->plugin = val;
  } else if (!strcmp(name, "--schedule")) {
    return parse_schedule(o, val);
  } else if (!strcmp(name, "--faults")) {
    return parse_faults(o, val);
  } else if (!strcmp(name, "--runs")) {
    o->runs = a->num;
  } else if (!strcmp(name, "--seed")) {
    o->seed = a->num;
  } else if (!strcmp(name, "--fault-seed")) {
    o->fault_seed = a->num;
    o->fault_seed_set = 1;
  } else if (!strcmp(name, "--max-cuts")) {
    o->max_cuts = (size_t)a->num;
  } else if (!strcmp(name, "--mutate")) {
    o->mutate = a->num;
  } else if (!strcmp(name, "--connect")) {
    o->connect = val;
  } else if (!strcmp(name, "--exec")) {
    o->exec = val;
  } else if (!strcmp(name, "--restart")) {
    if (strcmp(val, "each-run"))
      return fray_cli_usage_error("replay", "--restart takes each-run, not '%s'", val);
    o->restart_each_run = 1;
  } else if (!strcmp(name, "--pace")) {
    o->net.pace_ms = (unsigned)a->num;
  } else if (!strcmp(name, "--timeout")) {
    o->net.timeout_ms = (unsigned)a->num;
  } else if (!strcmp(name, "--run-timeout")) {
    o->run_timeout_ms = (unsigned)a->num;
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
  } else if (!strcmp(name, "--max-runs")) {
    o->max_runs = a->num;
  } else if (!strcmp(name, "--time")) {
    o->time_ms = a->num;
  } else if (!strcmp(name, "--trace")) {
    o->trace = 1;
  } else if (!strcmp(name, "--shard")) {
    return parse_shard(o, val);
  } else if (fray_cli_files_option(&o->files, name, val)) {
  }
  return 0;
}

/* Why opt, given, does nothing with the other options; NULL when it does
 * something. */
static const char *ignored_why(const replay_opts_t *o, const char *opt) {
  int sched = !o->mutate, ex = sched && o->sched == FRAY_STRATEGY_EXHAUSTIVE;
  int one = sched && (o->sched == FRAY_STRATEGY_BYTEWISE ||
                      (o->sched == FRAY_STRATEGY_WHOLE && !o->short_writes));
  if (o->list)
    return strcmp(opt, "--list-handlers") ? "--list-handlers only lists the built-in handlers"
                                          : NULL;
  if (!strcmp(opt, "--schedule") && o->mutate)
    return "--mutate runs malformed variants, not schedules";
  if (!strcmp(opt, "--runs") && o->mutate)
    return "--mutate N says how many variants";
  if (!strcmp(opt, "--runs") && (one || ex))
    return ex ? "exhaustive runs every placement (--max-runs bounds it)"
              : "this schedule is one run (whole takes --runs with --short-writes)";
  if (!strcmp(opt, "--seed") && (one || ex) && !o->short_writes)
    return "only random schedules, --short-writes and --mutate draw from the seed";
  if (!strcmp(opt, "--max-cuts") && !ex)
    return "it bounds --schedule exhaustive only";
  int whole_faults = sched && o->sched == FRAY_STRATEGY_WHOLE && o->fault_seed_set;
  if (!strcmp(opt, "--faults") && (!sched || o->sched != FRAY_STRATEGY_RANDOM) && !whole_faults)
    return "random runs draw fault kinds; other schedules and --mutate do not (whole: with "
           "--fault-seed)";
  if (!strcmp(opt, "--fault-seed") && (!sched || o->sched != FRAY_STRATEGY_WHOLE))
    return "it strikes --faults in a whole run (a reproducer's replay line)";
  if (!strcmp(opt, "--faults") && o->connect)
    return "faults are drawn in the simulator and under --exec";
  if (!strcmp(opt, "--short-writes") && o->mutate)
    return "malformed variants run whole, with the server's writes taken at once";
  if (!strcmp(opt, "--pace") && !o->connect)
    return o->exec ? "--exec hands each read over exactly: there is nothing to pace"
                   : "it paces --connect's sends";
  if (!strcmp(opt, "--timeout") && !o->connect && !o->exec)
    return "the simulator never waits: it bounds --connect and --exec";
  return NULL;
}

/* One warning per option given that has no effect, rather than silence. */
static void warn_ignored(const replay_opts_t *o) {
  for (int i = 0; i < o->ngiven; i++) {
    const char *why = ignored_why(o, o->given[i]);
    int first = 1;
    for (int k = 0; k < i; k++)
      first &= strcmp(o->given[k], o->given[i]) != 0;
    if (why && first)
      fray_cli_warning("replay", "%s is ignored: %s", o->given[i], why);
  }
  if (o->list && o->nscripts)
    fray_cli_warning("replay", "the scripts are ignored: --list-handlers only lists the built-in "
                               "handlers");
}

/* -1 after a usage message, 1 after printing help, 0 to run. */
static int parse_args(int argc, char **argv, replay_opts_t *o) {
  o->scripts = calloc((size_t)argc, sizeof *o->scripts);
  if (!o->scripts)
    return fray_cli_usage_error("replay", "out of memory");
  fray_cli_args_t args;
  fray_cli_args_init(&args, "replay", FRAY_CLI_TABLE(opts_table), usage, argc, argv);
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
    if (parse_opt(o, &args))
      return -1;
  }
  if (o->list) {
    warn_ignored(o);
    return 0;
  }
  if (o->handler && o->plugin)
    return fray_cli_usage_error("replay", "--handler and --plugin exclude each other");
  if (o->connect && (o->handler || o->plugin))
    return fray_cli_usage_error(
        "replay", "--connect replays against a server: --handler and --plugin do not apply");
  if (o->exec && (o->handler || o->plugin || o->connect))
    return fray_cli_usage_error(
        "replay", "--exec replays against the server it starts: --handler, --plugin and "
                  "--connect do not apply");
  if (o->exec && o->mutate)
    return fray_cli_usage_error("replay", "--exec: --mutate runs in the simulator only");
  if (o->restart_each_run && !o->exec)
    return fray_cli_usage_error("replay", "--restart each-run goes with --exec");
  if (o->connect && o->short_writes)
    return fray_cli_usage_error(
        "replay", "--connect: --short-writes runs in the simulator and under --exec only "
                  "(a server's writes over TCP are its own)");
  if (o->connect && o->mutate)
    return fray_cli_usage_error(
        "replay", "--connect: --mutate runs in the simulator only (its oracles, crashes and "
                  "heap growth, need the handler in-process)");
  if (!o->nscripts)
    return fray_cli_usage_error("replay", "no script given");
  warn_ignored(o);
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

/* Up front, before the first run: an exhaustive campaign's run count,
 * exact (computed from the send lengths, not estimated). */
static void progress_plan(const progress_t *pg, const fray_campaign_progress_t *p) {
  const replay_opts_t *o = pg->o;
  if (o->mutate || o->sched != FRAY_STRATEGY_EXHAUSTIVE)
    return;
  char n[48];
  if (p->planned == UINT64_MAX)
    snprintf(n, sizeof n, "more than %" PRIu64, UINT64_MAX - 1);
  else
    snprintf(n, sizeof n, "%" PRIu64, p->planned);
  fprintf(stderr, "fray replay: %s: exhaustive, up to %zu cuts per send: %s runs%s", pg->file,
          o->max_cuts, n, o->nshards > 1 ? " in this shard" : "");
  if (o->max_runs && o->max_runs < p->planned)
    fprintf(stderr, ", --max-runs stops it after %" PRIu64, o->max_runs);
  if (o->time_ms)
    fprintf(stderr, ", --time after %.3g s", (double)o->time_ms / 1000);
  fputc('\n', stderr);
}

/* The campaign's progress callback: the plan up front, then a live status
 * line on a terminal, or a line every few seconds elsewhere (a CI log);
 * stops the script when --time has run out. */
static int progress_tick(fray_campaign_t *c, const fray_campaign_progress_t *p, void *user_data) {
  progress_t *pg = user_data;
  (void)c;
  double t = now(), ran = t - pg->start;
  if (!p->runs) {
    progress_plan(pg, p);
    return 0;
  }
  if (pg->o->time_ms && ran * 1000 >= (double)pg->o->time_ms) {
    pg->by_time = 1;
    return 1;
  }
  double after = pg->tty ? PROGRESS_AFTER : PROGRESS_LOG_AFTER;
  double period = pg->tty ? PROGRESS_PERIOD : PROGRESS_LOG_PERIOD;
  if (ran < after || (pg->last > pg->start && t - pg->last < period))
    return 0;
  pg->last = t;
  double rate = (double)p->runs / ran;
  fprintf(stderr,
          "%s%s%s: %" PRIu64 " of %" PRIu64 " runs (%.1f%%), %.0f runs/s, %" PRIu64
          " failed, about %.0f s left%s",
          pg->tty ? "\r\033[K" : "", pg->tty ? "" : "fray replay: ", pg->file, p->runs, p->planned,
          100.0 * (double)p->runs / (double)p->planned, rate, p->failed,
          (double)(p->planned - p->runs) / rate, pg->tty ? "" : "\n");
  pg->shown = pg->tty;
  fflush(stderr);
  return 0;
}

static void progress_end(progress_t *pg) {
  if (pg->shown) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
  }
  pg->shown = 0;
}

/* ---- --trace --------------------------------------------------------------- */

static const char *const mode_names[] = {"delim", "line",   "count",   "length",
                                         "raw",   "delims", "byteset", "textlen"};

static const char *close_words(fray_close_reason_t r) {
  switch (r) {
  case FRAY_CLOSE_PEER:
    return "closed after the client's eof";
  case FRAY_CLOSE_LOCAL:
    return "closed by the handler (output flushed)";
  case FRAY_CLOSE_ABORT:
    return "aborted by the handler, or a callback returned < 0 (reset)";
  case FRAY_CLOSE_RESET:
    return "reset by the client";
  case FRAY_CLOSE_ERROR:
    return "closed on a framing error";
  default:
    return "closed at shutdown";
  }
}

/* `WHAT N bytes: "..."`, the bytes escaped, at most TRACE_BYTES of them
 * (` ...` marks the rest); framing: bytes the spec added around them. */
static void trace_bytes(FILE *out, const char *what, const uint8_t *data, size_t len,
                        size_t framing) {
  char esc[FRAY__ESC_MAX(TRACE_BYTES) + 1];
  size_t shown = len < TRACE_BYTES ? len : TRACE_BYTES;
  esc[fray__escape(esc, data, shown, FRAY__ESC_QUOTE)] = 0;
  fprintf(out, "%s %zu byte%s: \"%s\"%s", what, len, len == 1 ? "" : "s", esc,
          shown < len ? " ..." : "");
  if (framing)
    fprintf(out, " (framed: +%zu bytes)", framing);
  fputc('\n', out);
}

/* A server in another process: what crossed the transport, a piece handed
 * over (one read under --exec, one send() over --connect), what came back
 * and how the server ended the connection. */
static void trace_transport(FILE *out, const fray_trace_event_t *ev) {
  fprintf(out, "  %s %s", ev->client, ev->kind == FRAY_TRACE_READ ? "" : "  ");
  if (ev->kind == FRAY_TRACE_READ)
    trace_bytes(out, "piece", ev->data, ev->len, 0);
  else if (ev->kind == FRAY_TRACE_SEND)
    trace_bytes(out, "received", ev->data, ev->len, 0);
  else
    fprintf(out, "the server %s the connection\n",
            ev->reason == FRAY_CLOSE_RESET ? "reset" : "closed");
}

/* The campaign's trace: one line per event, indented under its run, the
 * handler's doings (frames, sends, switches) one step further in. */
static void trace_event(const fray_trace_event_t *ev, void *user_data) {
  const replay_opts_t *o = user_data;
  FILE *out = o->json ? stderr : stdout;
  if (ev->kind == FRAY_TRACE_RUN) {
    fprintf(out, "trace: run %" PRIu64 "%s\n", ev->run,
            ev->run || o->mutate ? "" : " (whole, the reference)");
    fflush(out);
    return;
  }
  if (ev->kind == FRAY_TRACE_TIMER) {
    /* The simulator's clock: the script's waits are all that moves it. */
    fprintf(out, "  %s   timer fired at %" PRIu64 " ms (virtual time)\n",
            ev->conn ? ev->client : "(server)", ev->at);
    fflush(out);
    return;
  }
  if (!ev->conn) {
    trace_transport(out, ev);
    return;
  }
  fprintf(out, "  %s %s", ev->client,
          ev->kind == FRAY_TRACE_READ || ev->kind == FRAY_TRACE_OPEN || ev->kind == FRAY_TRACE_EOF
              ? ""
              : "  ");
  switch (ev->kind) {
  case FRAY_TRACE_OPEN:
    fputs("open\n", out);
    break;
  case FRAY_TRACE_READ:
    trace_bytes(out, "read", ev->data, ev->len, 0);
    break;
  case FRAY_TRACE_EOF:
    fputs("eof (the client closed its side)\n", out);
    break;
  case FRAY_TRACE_FRAME:
    trace_bytes(out, "frame", ev->data, ev->len, 0);
    break;
  case FRAY_TRACE_SEND:
    trace_bytes(out, "sent", ev->data, ev->len, ev->framing);
    break;
  case FRAY_TRACE_SPEC:
    fprintf(out, "switched framing to %s",
            (unsigned)ev->spec->mode < 8 ? mode_names[ev->spec->mode] : "an unknown mode");
    if (ev->spec->mode == FRAY_MODE_COUNT)
      fprintf(out, " %zu", ev->spec->count);
    fputc('\n', out);
    break;
  case FRAY_TRACE_TAKE:
    fputs("took the unframed input over\n", out);
    break;
  case FRAY_TRACE_REFUSED:
    fprintf(out, "called %s(), refused (%s): %s\n", ev->what, fray_strerror(ev->code), ev->why);
    break;
  default:
    fprintf(out, "%s\n", close_words(ev->reason));
  }
  /* Runs are made in a worker process that a crashing handler ends: what
   * led up to the crash must not die in its stdio buffer. */
  fflush(out);
}

/* ---- output ------------------------------------------------------------ */

/* Reports and script errors alike: runs, seconds, failures. */
static uint64_t runs_of(const script_result_t *r) {
  return r->report ? r->report->runs : 0;
}

static double secs_of(const script_result_t *r) {
  return r->report ? r->report->seconds : 0;
}

static uint64_t failed_of(const script_result_t *r) {
  return r->report ? r->report->failed : 0;
}

static size_t nfailures_of(const script_result_t *r) {
  return r->report ? r->report->nfailures : 0;
}

/* Nothing failed, but a bound stopped the runs before the plan was done. */
static int partial_of(const script_result_t *r) {
  return !r->error && r->report && r->report->cut_short;
}

static const char *verdict_of(const script_result_t *r) {
  return r->error ? "ERROR" : failed_of(r) ? "FAIL" : partial_of(r) ? "PARTIAL" : "PASS";
}

/* What a report says on stderr besides the result: reproducers written,
 * and the ones that could not be. */
static void print_notes(const script_result_t *r) {
  const fray_campaign_report_t *rep = r->report;
  for (size_t i = 0; i < nfailures_of(r); i++) {
    const fray_campaign_failure_t *f = &rep->failures[i];
    if (f->reproducer_note)
      fprintf(stderr, "fray replay: %s\n", f->reproducer_note);
    if (f->reproducer && rep->strategy != FRAY_STRATEGY_MUTATE)
      fprintf(stderr, "fray replay: reproducer written to %s\n", f->reproducer);
  }
  if (rep && rep->note)
    fprintf(stderr, "fray replay: %s\n", rep->note);
}

/* What a failure under whole says about the handler. Certain only where
 * every read is exactly the scheduled piece (in-process, --exec): over TCP
 * the network and the server's reads may merge sends whatever fray paces. */
static void print_whole_failure(const replay_opts_t *o) {
  if (!o->connect) {
    printf("    the script fails under the whole schedule, without any splitting: the handler\n"
           "    (or the script) is wrong whatever the reads; no reproducer beyond the script\n");
  } else if (!o->net.pace_ms) {
    printf("    the script fails under the whole schedule, each send its own send() but not\n"
           "    paced (--pace 0): the server may have read several sends at once, so this\n"
           "    may be a merge bug as well as a wrong answer; --pace 2ms or --exec tells\n");
  } else {
    printf("    the script fails under the whole schedule, each send its own send() paced\n"
           "    %ums: most likely the server (or the script) is wrong whatever the reads,\n"
           "    though TCP keeps no send boundaries; --exec replays exact reads\n",
           o->net.pace_ms);
  }
}

/* Where the failure is and what the schedule had to do with it. */
static void print_where(const replay_opts_t *o, const script_result_t *r,
                        const fray_campaign_failure_t *f, const char *sched) {
  const char *kind = fray_fail_kind_name(f->kind);
  if (f->line)
    printf("  %s:%zu: %s: %s\n", r->file, f->line, kind, f->message);
  else if (f->kind == FRAY_FAIL_CRASH || f->kind == FRAY_FAIL_HANG)
    printf("  %s: %s: %s\n", r->file, kind, f->message);
  else
    printf("  %s: at the end of the script: %s: %s\n", r->file, kind, f->message);
  if (f->whole && r->report->own_cuts) {
    /* A reproducer (fuzz-decode, --save-failures) carries its cuts. */
    printf("    the script fails with the reads it cuts itself (`|`), before fray adds any:\n"
           "    it is its own reproducer; without its cuts it would show whether the\n"
           "    handler is wrong whatever the reads\n");
  } else if (f->whole) {
    print_whole_failure(o);
  } else {
    printf("    schedule: %s run %" PRIu64 ": %s\n", sched, f->run, f->schedule);
  }
}

static void print_human(const replay_opts_t *o, const script_result_t *r, const char *sched) {
  if (r->error) {
    printf("ERROR %s %s\n", r->file, sched);
    return;
  }
  if (partial_of(r)) {
    const fray_campaign_report_t *rep = r->report;
    printf("PARTIAL %s %s %" PRIu64 " of %" PRIu64 " runs %.3f s\n", r->file, sched, rep->runs,
           rep->planned, secs_of(r));
    printf("  stopped by %s before its last run: no failure in the %" PRIu64 " runs made, %" PRIu64
           " not made\n",
           r->by_time ? "--time" : "--max-runs", rep->runs, rep->planned - rep->runs);
    return;
  }
  printf("%s %s %s %" PRIu64 " runs %.3f s\n", verdict_of(r), r->file, sched, runs_of(r),
         secs_of(r));
  for (size_t i = 0; i < nfailures_of(r); i++) {
    const fray_campaign_failure_t *f = &r->report->failures[i];
    int v = f->kind == FRAY_FAIL_VARIANCE;
    print_where(o, r, f, sched);
    if (f->expected_excerpt)
      printf("    %s %s\n", v ? "whole:   " : "expected:", f->expected_excerpt);
    if (f->got_excerpt)
      printf("    %s %s\n", v ? "this:    " : "got:     ", f->got_excerpt);
    if (f->has_diff)
      printf("    %*s^ first difference (byte %zu)\n", (int)(10 + f->caret), "", f->diff_at);
    if (f->reproducer)
      printf("    reproducer: %s\n", f->reproducer);
    else if (f->same_as)
      printf("    same place as failure %zu above\n", f->same_as);
  }
  if (failed_of(r) > nfailures_of(r))
    printf("  ... and %" PRIu64 " more failing schedules\n", failed_of(r) - nfailures_of(r));
  if (r->report && r->report->inexact)
    printf("  %" PRIu64 " runs could not be carried out as scheduled: no verdict from them\n",
           r->report->inexact);
}

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

static void print_json_failure(const fray_campaign_failure_t *f, int first) {
  printf("%s{\"line\":%zu,\"kind\":\"%s\",\"run\":%" PRIu64 ",\"whole\":%s,\"client\":",
         first ? "" : ",", f->line, fray_fail_kind_name(f->kind), f->run,
         f->whole ? "true" : "false");
  json_str(stdout, f->client);
  fputs(",\"message\":", stdout);
  json_str(stdout, f->message);
  fputs(",\"schedule\":", stdout);
  json_str(stdout, f->schedule);
  fputs(",\"family\":", stdout);
  json_str(stdout, f->family);
  fputs(",\"expected\":", stdout);
  json_str(stdout, f->expected);
  fputs(",\"got\":", stdout);
  json_str(stdout, f->got);
  if (f->has_diff)
    printf(",\"diff_at\":%zu", f->diff_at);
  fputs(",\"reproducer\":", stdout);
  json_str(stdout, f->reproducer);
  putc('}', stdout);
}

static void print_json(const script_result_t *r, const char *sched) {
  fputs("{\"file\":", stdout);
  json_str(stdout, r->file);
  fputs(",\"handler\":", stdout);
  json_str(stdout, r->handler);
  printf(",\"schedule\":\"%s\",\"verdict\":\"%s\",\"runs\":%" PRIu64 ",\"planned\":%" PRIu64
         ",\"seconds\":%.6f,\"passed\":%s",
         sched, verdict_of(r), runs_of(r), r->report ? r->report->planned : 0, secs_of(r),
         strcmp(verdict_of(r), "PASS") ? "false" : "true");
  if (partial_of(r))
    printf(",\"stopped_by\":\"%s\"", r->by_time ? "time" : "max-runs");
  if (r->error) {
    fputs(",\"error\":", stdout);
    json_str(stdout, r->error);
  }
  if (r->report && r->report->inexact)
    printf(",\"inexact_runs\":%" PRIu64, r->report->inexact);
  printf(",\"failed_schedules\":%" PRIu64 ",\"failures\":[", failed_of(r));
  for (size_t i = 0; i < nfailures_of(r); i++)
    print_json_failure(&r->report->failures[i], i == 0);
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

/* A <failure> element: every described failure of the script, as text. */
static void junit_failure(FILE *fp, const script_result_t *r) {
  const fray_campaign_failure_t *f = &r->report->failures[0];
  fprintf(fp, "    <failure type=\"%s\" message=\"", fray_fail_kind_name(f->kind));
  xml_str(fp, f->message);
  fputs("\">", fp);
  for (size_t k = 0; k < nfailures_of(r); k++) {
    f = &r->report->failures[k];
    xml_str(fp, r->file);
    fprintf(fp, ":%zu: %s: ", f->line, fray_fail_kind_name(f->kind));
    xml_str(fp, f->message);
    fputs("\nschedule: ", fp);
    xml_str(fp, !f->whole             ? f->schedule
                : r->report->own_cuts ? "whole (fails with the script's own cuts)"
                                      : "whole (fails without any splitting)");
    if (f->reproducer) {
      fputs("\nreproducer: ", fp);
      xml_str(fp, f->reproducer);
    }
    fputs("\n", fp);
  }
  fputs("</failure>\n", fp);
}

static int write_junit(const replay_opts_t *o, const script_result_t *rs, int n, const char *sched,
                       double secs) {
  const char *path = o->junit;
  FILE *fp = fopen(path, "w");
  if (!fp) {
    fprintf(stderr, "fray replay: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  int nfail = 0, nerr = 0, nskip = 0;
  for (int i = 0; i < n; i++) {
    nerr += rs[i].error != NULL;
    nfail += !rs[i].error && failed_of(&rs[i]);
    nskip += partial_of(&rs[i]);
  }
  char shard[64] = "";
  if (o->nshards > 1)
    snprintf(shard, sizeof shard, " shard %" PRIu64 "/%" PRIu64, o->shard + 1, o->nshards);
  fprintf(fp,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<testsuite name=\"fray replay%s\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
          "skipped=\"%d\" time=\"%.3f\">\n",
          shard, n, nfail, nerr, nskip, secs);
  for (int i = 0; i < n; i++) {
    const script_result_t *r = &rs[i];
    fprintf(fp, "  <testcase classname=\"replay.%s\" name=\"", sched);
    xml_str(fp, r->file);
    fprintf(fp, " [%s]\" time=\"%.3f\">\n", sched, secs_of(r));
    if (r->error) {
      fputs("    <error message=\"", fp);
      xml_str(fp, r->error);
      fputs("\"/>\n", fp);
    } else if (failed_of(r) && nfailures_of(r)) {
      junit_failure(fp, r);
    } else if (partial_of(r)) {
      fprintf(fp,
              "    <skipped message=\"PARTIAL: %s stopped it after %" PRIu64 " of %" PRIu64
              " runs, none failed\"/>\n",
              r->by_time ? "--time" : "--max-runs", r->report->runs, r->report->planned);
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

/* The options that reach the same target again, for reproducers' headers. */
typedef struct target_words {
  const char *w[10];
  size_t n;
  char pace[24], timeout[24], run_timeout[24];
} target_words_t;

static void target_words(const replay_opts_t *o, target_words_t *tw) {
  tw->n = 0;
  if (o->connect) {
    tw->w[tw->n++] = "--connect";
    tw->w[tw->n++] = o->connect;
    if (o->net.pace_ms != FRAY_NET_DEFAULT_PACE_MS) {
      snprintf(tw->pace, sizeof tw->pace, "%ums", o->net.pace_ms);
      tw->w[tw->n++] = "--pace";
      tw->w[tw->n++] = tw->pace;
    }
    if (o->net.timeout_ms != FRAY_NET_DEFAULT_TIMEOUT_MS) {
      snprintf(tw->timeout, sizeof tw->timeout, "%ums", o->net.timeout_ms);
      tw->w[tw->n++] = "--timeout";
      tw->w[tw->n++] = tw->timeout;
    }
  } else if (o->exec) {
    tw->w[tw->n++] = "--exec";
    tw->w[tw->n++] = o->exec;
    if (o->restart_each_run) {
      tw->w[tw->n++] = "--restart";
      tw->w[tw->n++] = "each-run";
    }
  } else if (o->plugin || o->handler) {
    tw->w[tw->n++] = o->plugin ? "--plugin" : "--handler";
    tw->w[tw->n++] = o->plugin ? o->plugin : o->handler;
  }
  if (o->run_timeout_ms && !o->connect && !o->exec) {
    snprintf(tw->run_timeout, sizeof tw->run_timeout, "%ums", o->run_timeout_ms);
    tw->w[tw->n++] = "--run-timeout";
    tw->w[tw->n++] = tw->run_timeout;
  }
}

/* The handler a script runs against (the command line's, else its
 * @handler), or NULL with r->error set. */
static const fray_handler_t *script_handler(const fray_handler_t *cmd_h,
                                            const fray_script_t *script, script_result_t *r,
                                            int *warned) {
  const char *sh = fray_script_handler(script);
  const fray_handler_t *h = cmd_h;
  if (h && sh && strcmp(sh, h->name) && !*warned) {
    fprintf(stderr,
            "fray replay: %s names handler '%s'; using '%s' from the command line instead "
            "(said once)\n",
            r->file, sh, h->name);
    *warned = 1;
  }
  if (!h && sh && !(h = fray_example_find(sh)))
    r->error = xasprintf("%s: @handler names an unknown handler '%s' (fray replay "
                         "--list-handlers lists them; --plugin loads your own)",
                         r->file, sh);
  else if (!h)
    r->error = xasprintf("%s: no handler: give --handler NAME or --plugin LIB.so, put "
                         "'@handler NAME' in the script, or replay a server with --connect "
                         "HOST:PORT or --exec COMMAND",
                         r->file);
  return h;
}

/* Everything one script run needs besides the script. */
typedef struct replay_run {
  const replay_opts_t *o;
  fray_campaign_t *campaign;
  const fray_handler_t *cmd_h;
  target_words_t words;
  progress_t pg;
  int warned;
} replay_run_t;

/* The --exec runner for script: 0, or -1 with r->error set. */
static int exec_player(const replay_opts_t *o, const fray_script_t *script, script_result_t *r,
                       fray_exec_t **ex) {
  fray_exec_opts_t eo;
  fray_exec_opts_init(&eo);
  eo.restart_each_run = o->restart_each_run;
  if (o->net.timeout_ms)
    eo.timeout_ms = o->net.timeout_ms;
  if (!fray_exec_new(ex, script, o->exec, &eo, NULL))
    return 0;
  r->error = xasprintf("%s: --exec: %s", r->file, fray_exec_error(*ex));
  fray_exec_free(*ex);
  *ex = NULL;
  return -1;
}

/* Loads and runs one script into r. */
static void replay_one(replay_run_t *run, script_result_t *r) {
  fray_script_t *script = NULL;
  fray_script_error_t err;
  if (fray_cli_script_load(&script, r->file, &run->o->files, &err)) {
    char msg[600];
    fray_script_error_format(&err, msg, sizeof msg);
    fprintf(stderr, "%s\n", msg);
    r->error = strdup(msg);
    return;
  }
  fray_campaign_target_t t = {
      .connect = run->o->connect, .net = run->o->net, .args = run->words.w, .nargs = run->words.n};
  /* --exec: a server fray starts under its shim, through the campaign's
   * player target; its reads are exact, so reproducers are minimised over
   * more players on the same server. */
  fray_exec_t *ex = NULL;
  if (run->o->exec && !exec_player(run->o, script, r, &ex)) {
    t.player = fray_exec_player(ex);
    t.factory = fray_exec_factory(ex);
  }
  /* --connect and --exec need no handler: the server is the handler. */
  if (!t.connect && !run->o->exec)
    t.handler = script_handler(run->cmd_h, script, r, &run->warned);
  if (t.connect || t.player || t.handler) {
    r->handler = t.connect ? t.connect : t.player ? run->o->exec : t.handler->name;
    run->pg.file = r->file;
    run->pg.start = run->pg.last = now();
    run->pg.by_time = 0;
    fray_campaign_run(run->campaign, script, r->file, &t, &r->report);
    r->by_time = run->pg.by_time;
    progress_end(&run->pg);
    print_notes(r);
    if (!r->report)
      r->error = xasprintf("%s: %s", r->file, fray_strerror(FRAY_ENOMEM));
    else if (r->report->verdict == FRAY_VERDICT_ERROR)
      r->error = xasprintf("%s: %s", r->file, r->report->error);
  }
  if (r->error)
    fprintf(stderr, "fray replay: %s\n", r->error);
  fray_exec_free(ex); /* stops its server */
  fray_script_free(script);
}

/* The campaign the options ask for. 0, or an exit status after a message. */
static int new_campaign(const replay_opts_t *o, replay_run_t *run) {
  fray_campaign_opts_t co;
  fray_campaign_opts_init(&co);
  co.strategy = o->mutate ? FRAY_STRATEGY_MUTATE : o->sched;
  co.runs = o->mutate ? o->mutate : o->runs;
  co.seed = o->seed;
  co.max_cuts = o->max_cuts;
  co.short_writes = o->short_writes;
  co.family = o->family;
  /* Under --exec, faults are drawn only when asked for: a real server's
   * runs cost milliseconds, and its scripts were written for it as it is. */
  co.faults = o->exec && !o->faults_set ? 0 : o->faults;
  co.fault_seed_set = o->fault_seed_set;
  co.fault_seed = o->fault_seed;
  co.keep_going = o->keep_going;
  co.save_dir = o->save_dir;
  co.isolate = 1; /* applies to in-process handlers only */
  co.run_timeout_ms = o->run_timeout_ms;
  co.progress = progress_tick;
  co.user_data = &run->pg;
  co.max_runs = o->max_runs;
  if (o->trace) {
    co.trace = trace_event;
    co.trace_data = (void *)o;
  }
  if (shard_by_runs(o)) {
    co.shard = o->shard;
    co.nshards = o->nshards;
  }
  int rc = fray_campaign_new(&run->campaign, &co, NULL);
  if (rc) {
    fprintf(stderr, "fray replay: %s\n", fray_strerror(rc));
    return FRAY_EXIT_USAGE;
  }
  target_words(o, &run->words);
  run->pg.tty = isatty(STDERR_FILENO);
  run->pg.o = o;
  return 0;
}

/* The handler named on the command line, if any. 0, or an exit status. */
static int command_handler(const replay_opts_t *o, const fray_handler_t **h, void **dl) {
  if (o->plugin && !(*h = fray_cli_load_plugin("fray replay", o->plugin, dl)))
    return FRAY_EXIT_USAGE;
  if (o->handler && !(*h = fray_example_find(o->handler))) {
    fprintf(stderr, "fray replay: unknown handler '%s' (fray replay --list-handlers lists them)\n",
            o->handler);
    return FRAY_EXIT_USAGE;
  }
  return 0;
}

static void print_summary(const replay_opts_t *o, const int n[4], uint64_t runs, double secs) {
  enum { PASSED, FAILED, PARTIAL, ERRORS };
  if (o->json) {
    printf("{\"summary\":true,\"passed\":%d,\"failed\":%d,\"partial\":%d,\"errors\":%d,"
           "\"runs\":%" PRIu64 ",\"seconds\":%.6f}\n",
           n[PASSED], n[FAILED], n[PARTIAL], n[ERRORS], runs, secs);
    return;
  }
  printf("%d passed, %d failed", n[PASSED], n[FAILED]);
  if (n[PARTIAL])
    printf(", %d partial", n[PARTIAL]);
  if (n[ERRORS])
    printf(", %d input error%s", n[ERRORS], n[ERRORS] == 1 ? "" : "s");
  putchar('\n');
}

/* Runs every script of this shard, prints each result and the summary;
 * the exit status. */
static int replay_all(replay_run_t *run, script_result_t *rs) {
  const replay_opts_t *o = run->o;
  const fray_campaign_opts_t named = {.strategy = o->mutate ? FRAY_STRATEGY_MUTATE : o->sched,
                                      .family = o->family};
  const char *sched = fray_campaign_schedule_name(&named);
  int n[4] = {0}, nrs = 0; /* passed, failed, partial, input errors */
  uint64_t runs = 0;
  double t0 = now();
  for (int i = 0; i < o->nscripts; i++) {
    if (!in_shard(o, i))
      continue;
    script_result_t *r = &rs[nrs++];
    r->file = o->scripts[i];
    replay_one(run, r);
    n[r->error ? 3 : failed_of(r) ? 1 : partial_of(r) ? 2 : 0]++;
    runs += runs_of(r);
    if (o->json)
      print_json(r, sched);
    else
      print_human(o, r, sched);
    fflush(stdout);
  }
  double secs = now() - t0;
  print_summary(o, n, runs, secs);
  if (o->junit && write_junit(o, rs, nrs, sched, secs))
    n[3]++;
  return n[3] ? FRAY_EXIT_USAGE : n[1] ? FRAY_EXIT_FAIL : n[2] ? FRAY_EXIT_PARTIAL : FRAY_EXIT_OK;
}

int fray_cli_replay(int argc, char **argv) {
  replay_opts_t o = {.sched = FRAY_STRATEGY_RANDOM,
                     .family = FRAY_CAMPAIGN_PORTFOLIO,
                     .faults = FRAY_FAULT_ALL,
                     .runs = FRAY_CAMPAIGN_DEFAULT_RUNS,
                     .seed = FRAY_CAMPAIGN_DEFAULT_SEED,
                     .max_cuts = FRAY_CAMPAIGN_DEFAULT_MAX_CUTS,
                     .nshards = 1,
                     .net = {.pace_ms = FRAY_NET_DEFAULT_PACE_MS,
                             .timeout_ms = FRAY_NET_DEFAULT_TIMEOUT_MS,
                             .settle_ms = FRAY_NET_DEFAULT_SETTLE_MS}};
  replay_run_t run = {.o = &o};
  script_result_t *rs = NULL;
  void *dl = NULL;
  int status = parse_args(argc, argv, &o);
  if (status || o.list) {
    if (!status)
      list_handlers();
    status = status < 0 ? FRAY_EXIT_USAGE : FRAY_EXIT_OK;
    goto out;
  }
  if ((status = command_handler(&o, &run.cmd_h, &dl)) || (status = new_campaign(&o, &run)))
    goto out;
  if (!(rs = calloc((size_t)o.nscripts, sizeof *rs))) {
    fprintf(stderr, "fray replay: out of memory\n");
    status = FRAY_EXIT_USAGE;
    goto out;
  }
  status = replay_all(&run, rs);
out:
  for (int i = 0; rs && i < o.nscripts; i++) {
    fray_campaign_report_free(rs[i].report);
    free(rs[i].error);
  }
  free(rs);
  fray_campaign_free(run.campaign);
  free(o.scripts);
  /* The plugin's handler name is in nothing that outlives this point:
   * unloading is safe now. */
  if (dl)
    dlclose(dl);
  return status;
}
