/* bench_replay: how fast `fray replay` runs schedules, in process, the way
 * harness/cli/replay.c does (one simulator and one schedule buffer per
 * script, fray_sim_check_invariance per schedule):
 *
 *   - the chat corpus (the .fray scripts in corpus/chat/; a built-in 10-line chat script
 *     when that directory has none) under random schedules: schedule runs
 *     per second, and its cost per run against the `whole` schedule's,
 *     measured in the same run on the same scripts (the reference);
 *   - exhaustive single-cut replay of the whole example corpus (every
 *     corpus/<dir>/ except buggy/, regressions/ and plugin/): total time.
 *
 * Goals (from the issue): >= 50,000 random schedule runs/s on one core for
 * a 10-line chat script, and < 10 s for the exhaustive corpus pass. A goal
 * missed is printed, never turned into a failing exit status (shared CI
 * machines are too noisy); a script that fails is an error (exit 1): the
 * corpus must pass, or the figures measure failure paths. */
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "examples.h"
#include "fray/script.h"
#include "fray/sim.h"

#ifndef FRAY_SOURCE_DIR
#define FRAY_SOURCE_DIR "."
#endif

#define GOAL_RANDOM_RUNS_PER_S 50000.0
#define GOAL_EXHAUSTIVE_S 10.0
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
  fray_sim_t *sim;
  fray_sched_buf_t *buf;
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
  if (fray_sim_new(&l->sim, l->script, h, NULL) || fray_sched_buf_new(&l->buf, l->sim)) {
    fprintf(stderr, "bench_replay: out of memory\n");
    return -1;
  }
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
        strstr(p, "/corpus/plugin/"))
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
  for (size_t i = 0; i < n; i++) {
    fray_sched_buf_free(ls[i].buf);
    fray_sim_free(ls[i].sim);
    fray_script_free(ls[i].script);
  }
}

/* Runs `runs` schedules per script (random when random, else whole);
 * returns the seconds taken, or -1 when a run failed. */
static double replay_loop(loaded_t *ls, size_t n, uint64_t runs, int random) {
  fray_sim_result_t res;
  double t0 = now();
  for (size_t i = 0; i < n; i++) {
    if (fray_sim_record_reference(ls[i].sim, &res)) {
      fprintf(stderr, "bench_replay: %s:%zu: %s\n", ls[i].name, res.line, res.message);
      return -1;
    }
    for (uint64_t r = 0; r < runs; r++) {
      int rc;
      if (random) {
        if (fray_sched_random(ls[i].buf, r + 1, 0))
          return -1;
        rc = fray_sim_check_invariance(ls[i].sim, fray_sched_buf_view(ls[i].buf), &res);
      } else {
        rc = fray_sim_run(ls[i].sim, NULL, &res);
      }
      if (rc) {
        fprintf(stderr, "bench_replay: %s:%zu: %s (run %" PRIu64 ")\n", ls[i].name, res.line,
                res.message ? res.message : fray_strerror(rc), r);
        return -1;
      }
    }
  }
  return now() - t0;
}

/* Every single-cut schedule of every script. Returns seconds or -1. */
static double exhaustive_pass(loaded_t *ls, size_t n, uint64_t *total) {
  fray_sim_result_t res;
  double t0 = now();
  *total = 0;
  for (size_t i = 0; i < n; i++) {
    if (fray_sim_record_reference(ls[i].sim, &res))
      return -1;
    size_t count = fray_sched_exhaustive_count(ls[i].sim, 1);
    for (size_t k = 1; k < count; k++) {
      if (fray_sched_exhaustive(ls[i].buf, 1, k))
        return -1;
      if (fray_sim_check_invariance(ls[i].sim, fray_sched_buf_view(ls[i].buf), &res)) {
        fprintf(stderr, "bench_replay: %s:%zu: %s (exhaustive %zu)\n", ls[i].name, res.line,
                res.message ? res.message : "error", k);
        return -1;
      }
    }
    *total += count;
  }
  return now() - t0;
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
  double tw = replay_loop(chat, nchat, runs, 0);
  double tr = replay_loop(chat, nchat, runs, 1);
  if (tw < 0 || tr < 0)
    goto done;
  double n = (double)runs * (double)nchat;
  double rps = n / tr;
  printf("  whole schedule   : %10.0f runs/s\n", n / tw);
  printf("  random schedules : %10.0f runs/s (goal >= %.0f: %s)\n", rps, GOAL_RANDOM_RUNS_PER_S,
         rps >= GOAL_RANDOM_RUNS_PER_S ? "met" : "MISSED");
  printf("  random / whole cost per run: %.2f\n", tr / tw);

  if (load_glob(FRAY_SOURCE_DIR "/corpus/*/*.fray", all, &nall))
    goto done;
  uint64_t total;
  double te = exhaustive_pass(all, nall, &total);
  if (te < 0)
    goto done;
  printf("  exhaustive, 1 cut, %zu corpus scripts: %" PRIu64 " schedules in %.3f s "
         "(%.0f runs/s; goal < %.0f s: %s)\n",
         nall, total, te, (double)total / te, GOAL_EXHAUSTIVE_S,
         te < GOAL_EXHAUSTIVE_S ? "met" : "MISSED");
  status = 0;
done:
  if (status)
    fprintf(stderr, "bench_replay: error (see above)\n");
  unload(chat, nchat);
  unload(all, nall);
  return status;
}
