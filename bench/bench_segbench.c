/* bench_segbench: the segmentation-bug benchmark (bench/README.md,
 * "bench_segbench"). For every buggy handler of examples/buggy/ whose bug a
 * schedule can show, given as its corpus/buggy/ script, it measures in
 * process (the campaign loop `fray replay` runs, fray/replay.h):
 *
 *   - fray's random portfolio (`--schedule random`, every fault kind):
 *     runs to the first failure and wall time to it, for seeds 1..N, and
 *     for how many seeds the bug is caught within 20 runs;
 *   - each family alone (`--schedule FAMILY`): the same, the ablation that
 *     shows which delivery model can see which bug;
 *   - the handler's fixed twin (fixed-NAME, examples/buggy/twins.h) under
 *     every family, with and without faults: it must never fail (no false
 *     alarm).
 *
 * A run is one schedule of the script: runs-to-bug 3 means the third
 * random run after the whole reference failed. A bug not found within the
 * budget counts as "more than the budget" in the medians.
 *
 *   bench_segbench [--seeds N] [--runs R] [--twin-runs T] [--check] SCRIPT...
 *
 * --check is the CI form (ctest bench.segbench.check): only the portfolio
 * within 20 runs and the twins, failing (exit 1) when a handler is caught
 * within 20 runs for fewer than 8 of the N seeds or a twin fails.
 * Without --check it prints the whole table, in Markdown, and exits 0
 * unless a script cannot be run. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "examples.h"
#include "fray/replay.h"
#include "fray/sched.h"
#include "fray/script.h"

#define MAX_SEEDS 64
#define CATCH_RUNS 20                 /* the bar: caught within 20 random runs ... */
#define CATCH_SEEDS 8                 /* ... for at least 8 of 10 seeds */
#define NCOLS (1 + FRAY_FAMILY_COUNT) /* the portfolio, then each family */

typedef struct bench_opts {
  unsigned seeds;
  uint64_t runs, twin_runs;
  int check;
} bench_opts_t;

/* One handler's results in one column (portfolio or family), per seed. */
typedef struct column {
  uint64_t runs[MAX_SEEDS]; /* runs to the bug; UINT64_MAX: not found */
  double secs[MAX_SEEDS];   /* wall time to the bug (or of the budget) */
} column_t;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One campaign: *runs receives the failing run's index (UINT64_MAX when
 * none failed), *secs its wall time. Returns 0, or -1 when the campaign
 * could not run or the whole reference failed (the script is wrong). */
static int campaign(const fray_script_t *s, const char *name, const fray_handler_t *h, int family,
                    unsigned faults, uint64_t seed, uint64_t runs, int isolate, uint64_t *run,
                    double *secs) {
  fray_campaign_opts_t o;
  fray_campaign_opts_init(&o);
  /* A handler whose bug is a memory error (buggy-stackbuf) takes the process
   * down under sanitizers; in a forked worker it is a failing run instead.
   * --check pays for the fork; the timed benchmark wants a plain build. */
  o.isolate = isolate;
  o.strategy = FRAY_STRATEGY_RANDOM;
  o.family = family;
  o.faults = faults;
  o.seed = seed;
  o.runs = runs;
  fray_campaign_t *c;
  if (fray_campaign_new(&c, &o, NULL))
    return -1;
  fray_campaign_target_t t = {.handler = h};
  fray_campaign_report_t *r = NULL;
  double t0 = now();
  int rc = fray_campaign_run(c, s, name, &t, &r);
  *secs = now() - t0;
  fray_campaign_free(c);
  int ok = r && r->verdict != FRAY_VERDICT_ERROR && !(r->nfailures && r->failures[0].whole);
  if (!ok)
    fprintf(stderr, "bench_segbench: %s under %s: %s\n", name, h->name,
            r && r->error        ? r->error
            : rc == FRAY_EFAILED ? "fails without splitting"
                                 : "error");
  *run = r && r->nfailures ? r->failures[0].run : UINT64_MAX;
  fray_campaign_report_free(r);
  return ok ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median (the lower middle) of n values. */
static uint64_t median_runs(const uint64_t *v, unsigned n) {
  uint64_t t[MAX_SEEDS];
  memcpy(t, v, n * sizeof *t);
  qsort(t, n, sizeof *t, cmp_u64);
  return t[(n - 1) / 2];
}

static double median_secs(const double *v, unsigned n) {
  double t[MAX_SEEDS];
  memcpy(t, v, n * sizeof *t);
  qsort(t, n, sizeof *t, cmp_double);
  return t[(n - 1) / 2];
}

static unsigned caught_within(const column_t *col, unsigned seeds, uint64_t runs) {
  unsigned n = 0;
  for (unsigned i = 0; i < seeds; i++)
    n += col->runs[i] <= runs;
  return n;
}

/* Column k (0: the portfolio, k: family k - 1) for every seed. */
static int measure(const fray_script_t *s, const char *name, const fray_handler_t *h, int k,
                   const bench_opts_t *o, column_t *col) {
  int family = k ? k - 1 : FRAY_CAMPAIGN_PORTFOLIO;
  for (unsigned i = 0; i < o->seeds; i++)
    if (campaign(s, name, h, family, FRAY_FAULT_ALL, i + 1, o->runs, o->check, &col->runs[i],
                 &col->secs[i]))
      return -1;
  return 0;
}

/* The fixed twin under every family, faults on and off. Returns the
 * number of failing campaigns, or -1. */
static int twin_clean(const fray_script_t *s, const char *name, const fray_handler_t *twin,
                      const bench_opts_t *o) {
  int bad = 0;
  for (int k = 0; k < NCOLS; k++) {
    for (int f = 0; f < 2; f++) {
      uint64_t run;
      double secs;
      int family = k ? k - 1 : FRAY_CAMPAIGN_PORTFOLIO;
      if (campaign(s, name, twin, family, f ? 0u : FRAY_FAULT_ALL, 1, o->twin_runs, o->check, &run,
                   &secs))
        return -1;
      if (run != UINT64_MAX) {
        fprintf(stderr, "FAIL %s: %s fails run %" PRIu64 " of %s, faults %s\n", name, twin->name,
                run, k ? fray_sched_family_name(family) : "random", f ? "none" : "all");
        bad++;
      }
    }
  }
  return bad;
}

/* A table cell: the median runs to the bug, and with timed its median
 * wall time to it (microseconds: the whole reference run included). */
static void print_cell(const column_t *col, const bench_opts_t *o, int timed) {
  uint64_t m = median_runs(col->runs, o->seeds);
  if (m == UINT64_MAX)
    printf(" > %" PRIu64, o->runs);
  else
    printf(" %" PRIu64, m);
  if (timed)
    printf(" (%.0f us)", 1e6 * median_secs(col->secs, o->seeds));
  printf(" |");
}

static void print_header(void) {
  printf("| handler | random: runs (time) | caught in %d runs | twin |", CATCH_RUNS);
  for (int f = 0; f < FRAY_FAMILY_COUNT; f++)
    printf(" %s |", fray_sched_family_name(f));
  printf("\n|---|---|---|---|");
  for (int f = 0; f < FRAY_FAMILY_COUNT; f++)
    printf("---|");
  printf("\n");
}

/* Checks one script's handler against the bar; returns 0 when it meets
 * it. */
static int judge(const char *hname, const column_t *col, const bench_opts_t *o, int twin_bad) {
  unsigned c20 = caught_within(col, o->seeds, CATCH_RUNS);
  int ok = twin_bad == 0 && c20 >= o->seeds * CATCH_SEEDS / 10;
  printf("%s %-18s caught within %d runs for %u of %u seeds; twin %s\n", ok ? "ok  " : "FAIL",
         hname, CATCH_RUNS, c20, o->seeds, twin_bad ? "FAILS" : "clean");
  return ok ? 0 : -1;
}

/* One script: the measurements, then its table row or its check line.
 * Returns 0, 1 (a check failed) or -1 (an error). */
static int bench_script(const char *path, const bench_opts_t *o) {
  fray_script_t *s = NULL;
  fray_script_error_t err;
  if (fray_script_load(&s, path, NULL, &err)) {
    char m[512];
    fprintf(stderr, "bench_segbench: %s\n", fray_script_error_format(&err, m, sizeof m));
    return -1;
  }
  const char *hname = fray_script_handler(s);
  char tname[128];
  snprintf(tname, sizeof tname, "fixed-%s", hname && !strncmp(hname, "buggy-", 6) ? hname + 6 : "");
  const fray_handler_t *h = fray_example_find(hname), *twin = fray_example_find(tname);
  int rc = -1;
  if (!h || !twin) {
    fprintf(stderr, "bench_segbench: %s: no handler '%s' or no twin '%s'\n", path,
            hname ? hname : "(none)", tname);
    goto done;
  }
  static column_t cols[NCOLS];
  int ncols = o->check ? 1 : NCOLS, twin_bad = twin_clean(s, path, twin, o);
  if (twin_bad < 0)
    goto done;
  for (int k = 0; k < ncols; k++)
    if (measure(s, path, h, k, o, &cols[k]))
      goto done;
  if (o->check) {
    rc = judge(hname, &cols[0], o, twin_bad) ? 1 : 0;
    goto done;
  }
  printf("| `%s` |", hname);
  print_cell(&cols[0], o, 1);
  printf(" %u/%u | %s |", caught_within(&cols[0], o->seeds, CATCH_RUNS), o->seeds,
         twin_bad ? "FAILS" : "clean");
  for (int k = 1; k < NCOLS; k++)
    print_cell(&cols[k], o, 0);
  printf("\n");
  fflush(stdout);
  rc = 0;
done:
  fray_script_free(s);
  return rc;
}

static int usage(void) {
  fprintf(stderr,
          "usage: bench_segbench [--seeds N] [--runs R] [--twin-runs T] [--check] SCRIPT...\n");
  return 2;
}

static int parse_args(int argc, char **argv, bench_opts_t *o, int *first) {
  *o = (bench_opts_t){.seeds = 10, .runs = 200, .twin_runs = 100};
  int i = 1;
  for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--check")) {
      o->check = 1;
    } else if (!v) {
      return -1;
    } else if (!strcmp(a, "--seeds")) {
      o->seeds = (unsigned)strtoul(v, NULL, 10), i++;
    } else if (!strcmp(a, "--runs")) {
      o->runs = strtoull(v, NULL, 10), i++;
    } else if (!strcmp(a, "--twin-runs")) {
      o->twin_runs = strtoull(v, NULL, 10), i++;
    } else {
      return -1;
    }
  }
  *first = i;
  return o->seeds < 1 || o->seeds > MAX_SEEDS || o->runs < CATCH_RUNS || !o->twin_runs || i == argc
             ? -1
             : 0;
}

int main(int argc, char **argv) {
  bench_opts_t o;
  int first;
  if (parse_args(argc, argv, &o, &first))
    return usage();
  if (!o.check) {
    printf("%u seeds, budget %" PRIu64 " runs; medians over seeds of runs to the first failure "
           "(\"> %" PRIu64 "\": not found); twins: %" PRIu64 " runs per family, faults on and "
           "off\n\n",
           o.seeds, o.runs, o.runs, o.twin_runs);
    print_header();
  }
  int failed = 0;
  double t0 = now();
  for (int i = first; i < argc; i++) {
    int rc = bench_script(argv[i], &o);
    if (rc < 0)
      return 2;
    failed += rc;
  }
  fprintf(stderr, "bench_segbench: %d handler(s) in %.2f s, %d below the bar\n", argc - first,
          now() - t0, failed);
  return failed ? 1 : 0;
}
