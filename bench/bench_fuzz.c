/* bench_fuzz: what one fuzz input costs fray, without libFuzzer.
 *
 * bench/fuzz_speed.sh measures execs/s under libFuzzer, where the engine's
 * own work per input (mutation, coverage collection) and the instrumentation
 * blur where time goes. This program runs the same inputs, uninstrumented,
 * three ways and prints the time per input of each:
 *
 *   bare     the line framer over the input in one feed (fuzz_bare_framer);
 *   naive    the handler on one connection, the input as one read, then
 *            close (fuzz_naive_*: what a classic one-read target does);
 *   session  fray_fuzz_run: decode, run whole, run under the fuzz schedule,
 *            compare (fuzz_<handler>);
 *
 * and the ratios session/naive (what the session and its oracle add over
 * the handler's own work) and session/bare. Each input's time is its best
 * over the passes (--reps), the three ways taking turns on every input, so
 * a loaded machine's preemptions drop out. Then the allocations per input
 * of naive and session, counted through the injectable fray_mem_t.
 *
 *   bench_fuzz [--handler NAME] [--reps N] [--quick] [--only WAY] FILE|DIR...
 *
 * --only WAY (load, bare, naive or session) runs just that way, reps passes
 * over the inputs, and prints no figures: for an instruction counter, whose
 * counts do not depend on what else the machine runs (bench/fuzz_instr.sh
 * runs it under callgrind; "load" is the reading of the inputs alone, to
 * subtract).
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

#define NWAYS 3
static void (*const ways[NWAYS])(const input_t *) = {run_bare, run_naive, run_session};
enum { BARE, NAIVE, SESSION };

/* Mean microseconds per input of each way: each input's best time over
 * reps passes, averaged over the inputs. The ways take turns on every
 * input, and the best of several tries drops the runs that this shared,
 * loaded machine preempted, which a sum or a median of whole passes keeps. */
static void measure(int reps, double us[NWAYS]) {
  static double best[NWAYS][MAX_INPUTS];
  for (int r = 0; r < reps; r++)
    for (size_t i = 0; i < ninputs; i++)
      for (int w = 0; w < NWAYS; w++) {
        double t0 = now();
        ways[w](&inputs[i]);
        double dt = now() - t0;
        if (!r || dt < best[w][i])
          best[w][i] = dt;
      }
  for (int w = 0; w < NWAYS; w++) {
    double sum = 0;
    for (size_t i = 0; i < ninputs; i++)
      sum += best[w][i];
    us[w] = sum / (double)ninputs * 1e6;
  }
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

/* --only: reps passes of one way over the inputs, nothing timed. 0, or 2
 * for an unknown way. */
static int run_only(const char *way, int reps) {
  static const char *const names[NWAYS] = {"bare", "naive", "session"};
  int w = 0;
  while (w < NWAYS && strcmp(way, names[w]))
    w++;
  if (w == NWAYS && strcmp(way, "load")) {
    fprintf(stderr, "bench_fuzz: --only takes load, bare, naive or session, not '%s'\n", way);
    return 2;
  }
  for (int r = 0; w < NWAYS && r < reps; r++)
    for (size_t i = 0; i < ninputs; i++)
      ways[w](&inputs[i]);
  printf("bench_fuzz: %s, %zu inputs, %d passes\n", way, ninputs, reps);
  return 0;
}

static int report(int reps);

static void usage(FILE *to) {
  fprintf(to, "usage: bench_fuzz [--handler NAME] [--reps N] [--quick] [--only WAY] [FILE|DIR...]\n"
              "  Median time per fuzz input: bare framer, naive one-read handler run,\n"
              "  and fray's session driver (fray_fuzz_run), on the same inputs.\n"
              "  Default inputs: corpus/fuzz_<handler>/seeds; default handler: chat.\n"
              "  --only WAY: run only load, bare, naive or session, reps passes, untimed\n"
              "  (for an instruction counter: bench/fuzz_instr.sh).\n");
}

int main(int argc, char **argv) {
  int reps = 9, quick = 0, npaths = 0;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--handler") && i + 1 < argc)
      hname = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick"))
      quick = 1;
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
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
  int rc = only ? run_only(only, reps) : report(reps);
  for (size_t i = 0; i < ninputs; i++)
    free(inputs[i].d);
  return rc;
}

/* The timed comparison and the allocation counts, printed. */
static int report(int reps) {
  size_t bytes = 0;
  for (size_t i = 0; i < ninputs; i++)
    bytes += inputs[i].n;
  /* Warm up; a session that fails aborts here, before any timing. */
  for (size_t i = 0; i < ninputs; i++)
    run_session(&inputs[i]);
  double us[NWAYS];
  measure(reps, us);
  double an, as;
  count_allocs(&an, &as);
  printf("bench_fuzz: handler %s, %zu inputs, %.0f bytes on average, best of %d tries each\n",
         hname, ninputs, (double)bytes / (double)ninputs, reps);
  printf("  %-8s %10.2f us/input\n", "bare", us[BARE]);
  printf("  %-8s %10.2f us/input %8.1f allocations/input\n", "naive", us[NAIVE], an);
  printf("  %-8s %10.2f us/input %8.1f allocations/input\n", "session", us[SESSION], as);
  printf("  session/naive %.2fx   session/bare %.2fx\n", us[SESSION] / us[NAIVE],
         us[SESSION] / us[BARE]);
  return 0;
}
