/* bench_fuzz: what one fuzz input costs fray, without libFuzzer.
 *
 * bench/fuzz_speed.sh measures execs/s under libFuzzer, where the engine's
 * own work per input (mutation, coverage collection) and the instrumentation
 * blur where time goes. This program runs the same inputs, uninstrumented,
 * three ways and prints the median time per input of each:
 *
 *   bare     the line framer over the input in one feed (fuzz_bare_framer);
 *   naive    the handler on one connection, the input as one read, then
 *            close (fuzz_naive_*: what a classic one-read target does);
 *   session  fray_fuzz_run: decode, run whole, run under the fuzz schedule,
 *            compare (fuzz_<handler>);
 *
 * and the ratios session/naive (what the session and its oracle add over
 * the handler's own work) and session/bare, each the median over passes of
 * that pass's ratio: a pass times the three ways one after the other, so a
 * loaded machine slows the two sides of a ratio alike. Then the allocations
 * per input of naive and session, counted through the injectable fray_mem_t.
 *
 *   bench_fuzz [--handler NAME] [--reps N] [--quick] FILE|DIR...
 *
 * Inputs are fuzz inputs (fray/fuzz.h), e.g. a libFuzzer corpus directory
 * or `fray fuzz-encode` output. With none given, the corpus/fuzz_<handler>/
 * seeds are used. A session the handler fails aborts the program with the
 * driver's report, as the fuzz target would: the figures must time the
 * passing path. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "handler_target.h"
#include "run/fuzzdrive_internal.h"

#ifndef FRAY_SOURCE_DIR
#define FRAY_SOURCE_DIR "."
#endif

#define MAX_INPUTS 4096
#define MAX_INPUT_LEN 65536

typedef struct input {
  uint8_t *d;
  size_t n;
} input_t;

static input_t inputs[MAX_INPUTS];
static size_t ninputs;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load_file(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    perror(path);
    return -1;
  }
  uint8_t *buf = malloc(MAX_INPUT_LEN);
  size_t n = buf ? fread(buf, 1, MAX_INPUT_LEN, fp) : 0;
  fclose(fp);
  if (!buf)
    return -1;
  if (ninputs == MAX_INPUTS) {
    free(buf);
    return 0;
  }
  inputs[ninputs++] = (input_t){buf, n};
  return 0;
}

static int load_path(const char *path) {
  struct stat st;
  if (stat(path, &st)) {
    perror(path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode))
    return load_file(path);
  DIR *d = opendir(path);
  if (!d) {
    perror(path);
    return -1;
  }
  struct dirent *e;
  int rc = 0;
  while (!rc && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    if (!stat(p, &st) && S_ISREG(st.st_mode))
      rc = load_file(p);
  }
  closedir(d);
  return rc;
}

/* The targets' own code, renamed: the figures are those of exactly what
 * libFuzzer runs, minus the engine. */
static const char *hname = "chat";

#define LLVMFuzzerTestOneInput bare_one
#include "fuzz_bare_framer.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput naive_one
FRAY_NAIVE_TARGET(hname)
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput session_one
FRAY_HANDLER_TARGET(hname)
#undef LLVMFuzzerTestOneInput

static void run_bare(const input_t *in) {
  bare_one(in->d, in->n);
}

static void run_naive(const input_t *in) {
  naive_one(in->d, in->n);
}

/* A session the handler fails aborts with the report, as the target does. */
static void run_session(const input_t *in) {
  session_one(in->d, in->n);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof v[0], cmp_double);
  return v[n / 2];
}

#define NWAYS 3
static void (*const ways[NWAYS])(const input_t *) = {run_bare, run_naive, run_session};
enum { BARE, NAIVE, SESSION };

/* reps passes; t[w][r]: mean microseconds per input of way w in pass r. */
static void measure(int reps, double t[NWAYS][64]) {
  for (int r = 0; r < reps; r++)
    for (int w = 0; w < NWAYS; w++) {
      double t0 = now();
      for (size_t i = 0; i < ninputs; i++)
        ways[w](&inputs[i]);
      t[w][r] = (now() - t0) / (double)ninputs * 1e6;
    }
}

/* Median over passes of t[a][r] / t[b][r]. */
static double ratio(double t[NWAYS][64], int a, int b, int reps) {
  double q[64];
  for (int r = 0; r < reps; r++)
    q[r] = t[a][r] / t[b][r];
  return median(q, reps);
}

/* ---- allocations, counted through fray_mem_t ----------------------------------------- */

static void *count_malloc(size_t n, void *ud) {
  ++*(long *)ud;
  return malloc(n);
}

static void *count_realloc(void *p, size_t n, void *ud) {
  ++*(long *)ud;
  return realloc(p, n);
}

static void count_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

/* Allocations (malloc and realloc calls) per input of the naive run and of
 * the session. */
static void count_allocs(double *naive, double *session) {
  long nn = 0, ns = 0;
  const fray_mem_t mn = {count_malloc, count_realloc, count_free, &nn};
  const fray_mem_t ms = {count_malloc, count_realloc, count_free, &ns};
  const fray_handler_t *h = fray_target_handler(hname);
  for (size_t i = 0; i < ninputs; i++) {
    fray_target_naive(h, inputs[i].d, inputs[i].n, &mn);
    (void)fray__fuzz_run_mem(h, inputs[i].d, inputs[i].n, NULL, &ms);
  }
  *naive = (double)nn / (double)ninputs;
  *session = (double)ns / (double)ninputs;
}

static void usage(FILE *to) {
  fprintf(to, "usage: bench_fuzz [--handler NAME] [--reps N] [--quick] [FILE|DIR...]\n"
              "  Median time per fuzz input: bare framer, naive one-read handler run,\n"
              "  and fray's session driver (fray_fuzz_run), on the same inputs.\n"
              "  Default inputs: corpus/fuzz_<handler>/seeds; default handler: chat.\n");
}

int main(int argc, char **argv) {
  int reps = 9, quick = 0, npaths = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--handler") && i + 1 < argc)
      hname = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick"))
      quick = 1;
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if (argv[i][0] == '-') {
      usage(stderr);
      return 2;
    } else {
      npaths++;
      if (load_path(argv[i]))
        return 2;
    }
  }
  if (!fray_example_find(hname)) {
    fprintf(stderr, "bench_fuzz: no built-in handler '%s'\n", hname);
    return 2;
  }
  if (!npaths) {
    char p[4096];
    snprintf(p, sizeof p, "%s/corpus/fuzz_%s/seeds", FRAY_SOURCE_DIR, hname);
    if (load_path(p))
      return 2;
  }
  if (!ninputs) {
    fprintf(stderr, "bench_fuzz: no inputs\n");
    return 2;
  }
  if (quick || reps < 1)
    reps = 1;
  size_t bytes = 0;
  for (size_t i = 0; i < ninputs; i++)
    bytes += inputs[i].n;
  /* Warm up; a session that fails aborts here, before any timing. */
  for (size_t i = 0; i < ninputs; i++)
    run_session(&inputs[i]);
  if (reps > 64)
    reps = 64;
  static double t[NWAYS][64];
  measure(reps, t);
  double an, as;
  count_allocs(&an, &as);
  printf("bench_fuzz: handler %s, %zu inputs, %.0f bytes on average, median of %d passes\n", hname,
         ninputs, (double)bytes / (double)ninputs, reps);
  printf("  %-8s %10.2f us/input\n", "bare", median(t[BARE], reps));
  printf("  %-8s %10.2f us/input %8.1f allocations/input\n", "naive", median(t[NAIVE], reps), an);
  printf("  %-8s %10.2f us/input %8.1f allocations/input\n", "session", median(t[SESSION], reps),
         as);
  printf("  session/naive %.2fx   session/bare %.2fx   (medians of per-pass ratios)\n",
         ratio(t, SESSION, NAIVE, reps), ratio(t, SESSION, BARE, reps));
  for (size_t i = 0; i < ninputs; i++)
    free(inputs[i].d);
  return 0;
}
