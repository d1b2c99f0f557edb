/* bench_replay: how fast `fray replay` runs schedules, in process. It times
 * the library's campaign loop (fray/replay.h), the code `fray replay` runs:
 *
 *   - the chat corpus (the .fray scripts in corpus/chat/; a built-in 10-line chat script
 *     when that directory has none) under random schedules (a campaign as
 *     `fray replay --schedule random --runs N --seed 1`): schedule runs per
 *     second, and its cost per run against a plain loop of `whole` runs
 *     (fray_sim_run), measured in the same run on the same scripts (the
 *     reference);
 *   - exhaustive single-cut replay of the whole example corpus (every
 *     corpus/<dir>/ except buggy/, regressions/, plugin/ and memcached/ (no
 *     in-process handler), as `fray replay --schedule exhaustive`): total time;
 *   - both again under crash isolation (fray_campaign_opts_t.isolate, what
 *     `fray replay` does for in-process handlers: a forked worker per
 *     script), on the same scripts in the same run: runs/s and the ratio to
 *     the in-process figure (goal: >= 90% of it).
 *
 * Goals (from the issues): >= 100,000 random schedule runs/s on one core on
 * the chat corpus (50,000 before the fault model, which promised to keep
 * it there with timers, faults and the portfolio), and < 10 s for the
 * exhaustive corpus pass. A goal
 * missed is printed, never turned into a failing exit status (shared CI
 * machines are too noisy); a script that fails is an error (exit 1): the
 * corpus must pass, or the figures measure failure paths. */
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "examples.h"
#include "fray/replay.h"
#include "fray/script.h"
#include "fray/sim.h"

#ifndef FRAY_SOURCE_DIR
#define FRAY_SOURCE_DIR "."
#endif

#define GOAL_RANDOM_RUNS_PER_S 100000.0
#define GOAL_EXHAUSTIVE_S 10.0
#define GOAL_ISOLATED_RATIO 0.90
#define MAX_SCRIPTS 256

/* Ten lines of chat, for when corpus/chat/ is absent. */
static const char fallback_chat[] = "@handler chat\n"
                                    "open alice\n"
                                    "open bob\n"
                                    "alice > \"NICK alice\\r\\n\"\n"
                                    "alice < \"OK nick alice\\r\\n\"\n"
                                    "bob > \"NICK bob\\r\\nJOIN #x\\r\\n\"\n"
                                    "bob < \"OK nick bob\\r\\nOK join #x\\r\\n\"\n"
                                    "alice > \"JOIN #x\\r\\n\"\n"
                                    "alice < \"OK join #x\\r\\n\"\n"
                                    "bob < \"* alice joined\\r\\n\"\n";

typedef struct loaded {
  char name[256];
  fray_script_t *script;
  const fray_handler_t *handler;
} loaded_t;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int prepare(loaded_t *l) {
  const char *hn = fray_script_handler(l->script);
  const fray_handler_t *h = hn ? fray_example_find(hn) : NULL;
  if (!h) {
    fprintf(stderr, "bench_replay: %s: no built-in handler '%s'\n", l->name, hn ? hn : "(none)");
    return -1;
  }
  l->handler = h;
  return 0;
}

/* Loads every script matching pattern (skipping directories in skip) into
 * ls[*n...]. Returns -1 on an unreadable or failing script. */
static int load_glob(const char *pattern, loaded_t *ls, size_t *n) {
  glob_t g;
  if (glob(pattern, 0, NULL, &g))
    return 0; /* no match */
  int rc = 0;
  for (size_t i = 0; i < g.gl_pathc && *n < MAX_SCRIPTS && !rc; i++) {
    const char *p = g.gl_pathv[i];
    if (strstr(p, "/corpus/buggy/") || strstr(p, "/corpus/regressions/") ||
        strstr(p, "/corpus/plugin/") || strstr(p, "/corpus/memcached/"))
      continue;
    loaded_t *l = &ls[*n];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", p);
    fray_script_error_t err;
    if (fray_script_load(&l->script, p, NULL, &err)) {
      char msg[600];
      fprintf(stderr, "bench_replay: %s\n", fray_script_error_format(&err, msg, sizeof msg));
      rc = -1;
      break;
    }
    (*n)++;
    rc = prepare(l);
  }
  globfree(&g);
  return rc;
}

static void unload(loaded_t *ls, size_t n) {
  for (size_t i = 0; i < n; i++)
    fray_script_free(ls[i].script);
}

/* The reference: `runs` plain whole runs per script. Seconds, or -1. */
static double whole_loop(loaded_t *ls, size_t n, uint64_t runs) {
  fray_sim_result_t res;
  double t0 = now();
  for (size_t i = 0; i < n; i++) {
    fray_sim_t *sim;
    if (fray_sim_new(&sim, ls[i].script, ls[i].handler, NULL))
      return -1;
    int rc = 0;
    for (uint64_t r = 0; r < runs && !rc; r++)
      rc = fray_sim_run(sim, NULL, &res);
    if (rc)
      fprintf(stderr, "bench_replay: %s:%zu: %s\n", ls[i].name, res.line,
              res.message ? res.message : fray_strerror(rc));
    fray_sim_free(sim);
    if (rc)
      return -1;
  }
  return now() - t0;
}

/* One campaign per script, as `fray replay` runs it; *total receives the
 * runs made. Seconds, or -1 when a script failed. */
static double campaign_loop(loaded_t *ls, size_t n, const fray_campaign_opts_t *o,
                            uint64_t *total) {
  fray_campaign_t *c;
  if (fray_campaign_new(&c, o, NULL))
    return -1;
  double t0 = now();
  *total = 0;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    fray_campaign_target_t t = {.handler = ls[i].handler};
    fray_campaign_report_t *r;
    rc = fray_campaign_run(c, ls[i].script, ls[i].name, &t, &r);
    if (rc && r && r->nfailures)
      fprintf(stderr, "bench_replay: %s:%zu: %s (%s run %" PRIu64 ")\n", ls[i].name,
              r->failures[0].line, r->failures[0].message, fray_strategy_name(o->strategy),
              r->failures[0].run);
    else if (rc)
      fprintf(stderr, "bench_replay: %s: %s\n", ls[i].name, r ? r->error : fray_strerror(rc));
    *total += r ? r->runs : 0;
    fray_campaign_report_free(r);
  }
  double t = now() - t0;
  fray_campaign_free(c);
  return rc ? -1 : t;
}

/* A progress callback that only counts, as `fray replay` always has one:
 * under isolation each call is a round trip to the supervisor. */
static int count_calls(fray_campaign_t *c, const fray_campaign_progress_t *p, void *user_data) {
  (void)c;
  (void)p;
  ++*(uint64_t *)user_data;
  return 0;
}

/* CPU seconds used so far by this process and its reaped children (the
 * isolated campaigns' workers). */
static double cpu_seconds(void) {
  struct rusage self, kids;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
                  kids.ru_stime.tv_sec) +
         (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
                  kids.ru_stime.tv_usec) /
             1e6;
}

/* The same campaigns in process and isolated, alternately `rounds` times
 * (a shared machine's noise hits both alike): the best runs/s of each by
 * the wall clock and by CPU time (workers included; steadier on a loaded
 * machine), with their ratios. 0, or -1 when a script failed. */
static int isolation_cost(const char *what, loaded_t *ls, size_t n, fray_campaign_opts_t o,
                          int rounds) {
  double wall[2] = {0, 0}, cpu[2] = {0, 0};
  uint64_t calls = 0;
  o.progress = count_calls;
  o.user_data = &calls;
  for (int k = 0; k < 2 * rounds; k++) {
    uint64_t runs;
    o.isolate = k & 1;
    double c0 = cpu_seconds();
    double t = campaign_loop(ls, n, &o, &runs);
    double c = cpu_seconds() - c0;
    if (t < 0)
      return -1;
    if ((double)runs / t > wall[k & 1])
      wall[k & 1] = (double)runs / t;
    if (c > 0 && (double)runs / c > cpu[k & 1])
      cpu[k & 1] = (double)runs / c;
  }
  printf("  %s: %.0f runs/s in process, %.0f isolated = %.1f%%; by CPU time %.0f and %.0f = "
         "%.1f%% (goal >= %.0f%%: %s)\n",
         what, wall[0], wall[1], 100 * wall[1] / wall[0], cpu[0], cpu[1], 100 * cpu[1] / cpu[0],
         100 * GOAL_ISOLATED_RATIO, cpu[1] / cpu[0] >= GOAL_ISOLATED_RATIO ? "met" : "MISSED");
  return 0;
}

int main(int argc, char **argv) {
  int quick = argc > 1 && !strcmp(argv[1], "--quick");
  uint64_t runs = quick ? 2000 : 50000;
  static loaded_t chat[MAX_SCRIPTS], all[MAX_SCRIPTS];
  size_t nchat = 0, nall = 0;
  int status = 1;
  if (load_glob(FRAY_SOURCE_DIR "/corpus/chat/*.fray", chat, &nchat))
    goto done;
  if (!nchat) {
    loaded_t *l = &chat[0];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "<built-in 10-line chat script>");
    if (fray_script_parse(&l->script, fallback_chat, sizeof fallback_chat - 1, l->name, NULL, NULL))
      goto done;
    nchat = 1;
    if (prepare(l))
      goto done;
  }
  printf("bench_replay: %zu chat script(s)%s, %" PRIu64 " runs each%s\n", nchat,
         nchat == 1 && !strcmp(chat[0].name, "<built-in 10-line chat script>") ? " (built-in)" : "",
         runs, quick ? " (--quick)" : "");
  fray_campaign_opts_t o;
  fray_campaign_opts_init(&o);
  o.strategy = FRAY_STRATEGY_RANDOM;
  o.runs = runs;
  o.seed = 1;
  uint64_t nr, total;
  double tw = whole_loop(chat, nchat, runs);
  double tr = campaign_loop(chat, nchat, &o, &nr);
  if (tw < 0 || tr < 0)
    goto done;
  double n = (double)runs * (double)nchat;
  double rps = (double)nr / tr;
  printf("  whole schedule   : %10.0f runs/s\n", n / tw);
  printf("  random schedules : %10.0f runs/s (goal >= %.0f: %s)\n", rps, GOAL_RANDOM_RUNS_PER_S,
         rps >= GOAL_RANDOM_RUNS_PER_S ? "met" : "MISSED");
  printf("  random / whole cost per run: %.2f\n", (tr / (double)nr) / (tw / n));

  if (load_glob(FRAY_SOURCE_DIR "/corpus/*/*.fray", all, &nall))
    goto done;
  o.strategy = FRAY_STRATEGY_EXHAUSTIVE;
  o.max_cuts = 1;
  double te = campaign_loop(all, nall, &o, &total);
  if (te < 0)
    goto done;
  printf("  exhaustive, 1 cut, %zu corpus scripts: %" PRIu64 " schedules in %.3f s "
         "(%.0f runs/s; goal < %.0f s: %s)\n",
         nall, total, te, (double)total / te, GOAL_EXHAUSTIVE_S,
         te < GOAL_EXHAUSTIVE_S ? "met" : "MISSED");
  printf("  crash isolation (best of %d rounds each):\n", quick ? 1 : 3);
  if (isolation_cost("exhaustive corpus", all, nall, o, quick ? 1 : 3))
    goto done;
  o.strategy = FRAY_STRATEGY_RANDOM;
  o.runs = quick ? runs : runs / 5;
  if (isolation_cost("random, chat", chat, nchat, o, quick ? 1 : 3))
    goto done;
  status = 0;
done:
  if (status)
    fprintf(stderr, "bench_replay: error (see above)\n");
  unload(chat, nchat);
  unload(all, nall);
  return status;
}
