/* The replay campaign's loop (fray/replay.h): one reference run, then the
 * strategy's runs, each judged, the failing ones described in the report.
 *
 * Speed matters (tens of thousands of runs a second): the loop reuses one
 * target (simulator and schedule buffer) per script, allocates nothing per
 * passing run, and hands progress out every PROGRESS_EVERY runs only
 * (every run over a socket or another process, where a run takes ms). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "run/campaign_internal.h"

#define PROGRESS_EVERY 64 /* runs between two progress callbacks in the simulator */
#define DESCRIBE_SIZE 2048
#define PATH_SIZE 4096

static const char *const strategy_names[] = {"whole", "bytewise", "random", "exhaustive", "mutate"};
#define NSTRATEGIES (sizeof strategy_names / sizeof strategy_names[0])

const char *fray_strategy_name(fray_strategy_t s) {
  return (unsigned)s < NSTRATEGIES ? strategy_names[s] : "unknown";
}

int fray_strategy_from_name(const char *name, fray_strategy_t *out) {
  for (size_t k = 0; name && k < NSTRATEGIES; k++)
    if (!strcmp(name, strategy_names[k])) {
      *out = (fray_strategy_t)k;
      return 0;
    }
  return FRAY_ENOENT;
}

void fray_campaign_opts_init(fray_campaign_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->strategy = FRAY_STRATEGY_RANDOM;
  o->runs = FRAY_CAMPAIGN_DEFAULT_RUNS;
  o->seed = FRAY_CAMPAIGN_DEFAULT_SEED;
  o->max_cuts = FRAY_CAMPAIGN_DEFAULT_MAX_CUTS;
  o->max_described = FRAY_CAMPAIGN_DEFAULT_DESCRIBED;
  o->family = FRAY_CAMPAIGN_PORTFOLIO;
  o->faults = FRAY_FAULT_ALL;
}

const char *fray_campaign_schedule_name(const fray_campaign_opts_t *o) {
  if (o->strategy == FRAY_STRATEGY_RANDOM && o->family != FRAY_CAMPAIGN_PORTFOLIO)
    return fray_sched_family_name((fray_sched_family_t)o->family);
  return fray_strategy_name(o->strategy);
}

int fray_campaign_new(fray_campaign_t **out, const fray_campaign_opts_t *opts,
                      const fray_mem_t *mem) {
  fray_mem_t m;
  *out = NULL;
  fray__mem_init(&m, mem);
  fray_campaign_opts_t o;
  if (opts)
    o = *opts;
  else
    fray_campaign_opts_init(&o);
  if ((unsigned)o.strategy >= NSTRATEGIES || o.max_cuts > FRAY_CAMPAIGN_MAX_CUTS ||
      (o.nshards > 1 && o.shard >= o.nshards) || (o.nshards <= 1 && o.shard) ||
      o.family < FRAY_CAMPAIGN_PORTFOLIO || o.family >= FRAY_FAMILY_COUNT)
    return FRAY_EINVAL;
  o.nshards = o.nshards > 1 ? o.nshards : 1;
  o.runs = o.runs ? o.runs : FRAY_CAMPAIGN_DEFAULT_RUNS;
  o.max_cuts = o.max_cuts ? o.max_cuts : FRAY_CAMPAIGN_DEFAULT_MAX_CUTS;
  o.max_described = o.max_described ? o.max_described : FRAY_CAMPAIGN_DEFAULT_DESCRIBED;
  o.run_timeout_ms = o.run_timeout_ms ? o.run_timeout_ms : FRAY_CAMPAIGN_DEFAULT_RUN_TIMEOUT_MS;
  fray_campaign_t *c = fray__malloc(&m, sizeof *c);
  if (!c)
    return FRAY_ENOMEM;
  memset(c, 0, sizeof *c);
  c->mem = m;
  c->o = o;
  if (o.isolate && fray__super_new(&c->super, c)) {
    fray__free(&m, c);
    return FRAY_ENOMEM;
  }
  *out = c;
  return 0;
}

void fray_campaign_free(fray_campaign_t *c) {
  if (!c)
    return;
  fray__super_free(c->super, &c->mem);
  fray__free(&c->mem, c);
}

int fray_campaign_bake_running(const fray_campaign_t *c, fray_script_t **out) {
  const fray__ctarget_t *t = c->running;
  return t ? fray__ctarget_bake(t, out) : FRAY_ESTATE;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Tells the progress callback; nonzero: stop. */
static int progress(const fray__cjob_t *j) {
  const fray_campaign_opts_t *o = &j->c->o;
  if (!o->progress)
    return 0;
  fray_campaign_progress_t p = {
      .runs = j->r->runs, .planned = j->r->planned, .failed = j->r->failed};
  return o->progress(j->c, &p, o->user_data);
}

/* Before the loop's run number k (0-based, after the reference): whether
 * max_runs or the progress callback, at its cadence, stops the campaign
 * short of its plan here. */
static int stop_before_run(fray__cjob_t *j, uint64_t k) {
  uint64_t max = j->c->o.max_runs;
  int stop = (max && j->r->runs >= max) || (k && k % j->every == 0 && progress(j));
  j->r->cut_short |= stop;
  return stop;
}

/* The runs of this shard among n (run indices shard, shard + nshards, ...
 * below n), and the plan they make with the reference (saturating). */
static uint64_t shard_runs(const fray_campaign_opts_t *o, uint64_t n) {
  return n > o->shard ? (n - o->shard - 1) / o->nshards + 1 : 0;
}

static uint64_t plan(uint64_t runs, int with_reference) {
  return runs == UINT64_MAX ? runs : runs + !!with_reference;
}

/* The loop index after i in this shard, or n when none is left. */
static uint64_t next_index(const fray_campaign_opts_t *o, uint64_t i, uint64_t n) {
  return n - i > o->nshards ? i + o->nshards : n;
}

/* Tells a supervisor (if any) which run starts: its watchdog's heartbeat
 * and, should the run take the worker down, the run to rebuild. */
static void beat(const fray__cjob_t *j, uint64_t run) {
  fray__beat_t *b = j->c->beat;
  if (b) {
    atomic_store_explicit(&b->run, run, memory_order_relaxed);
    atomic_store_explicit(&b->seq, atomic_load_explicit(&b->seq, memory_order_relaxed) + 1,
                          memory_order_relaxed);
  }
}

/* A failing schedule: described, and its reproducer written unless it
 * failed whole (the script is its own) or at a place already reproduced. */
static int schedule_failed(fray__cjob_t *j, const fray__cresult_t *res, uint64_t run, int whole) {
  char desc[DESCRIBE_SIZE];
  fray_campaign_failure_t *f;
  fray__ctarget_describe(j->t, desc, sizeof desc);
  int rc = fray__creport_failure(j, j->script, res, run, whole, desc, &f);
  if (f) {
    f->same_as = fray__creport_same_place(j->r, f);
    f->family = whole ? NULL : fray__ctarget_family(j->t);
  }
  if (!rc && f && j->c->o.save_dir && !whole && !f->same_as)
    rc = fray__crepro_schedule(j, f);
  return rc;
}

/* A run's error as the report's one line. */
static void run_error(fray__cjob_t *j, int rc) {
  const char *why = fray__ctarget_error(j->t);
  if (!*why)
    why =
        rc == FRAY_EINVAL ? "the simulator refused a schedule (a bug in fray)" : fray_strerror(rc);
  if (!j->r->error)
    j->r->error = fray__creport_strdup(j->r, why);
}

static int run_schedules(fray__cjob_t *j) {
  const fray_campaign_opts_t *o = &j->c->o;
  fray_campaign_report_t *r = j->r;
  fray__cresult_t res;
  uint64_t n = fray__ctarget_count(j->t, o);
  r->planned = plan(shard_runs(o, n), 1);
  if (progress(j)) {
    r->cut_short = 1;
    return 0;
  }
  r->runs = 1;
  beat(j, 0);
  int rc = fray__ctarget_reference(j->t, &res);
  if (rc == FRAY_EFAILED)
    return schedule_failed(j, &res, 0, 1);
  /* Run i's seed is the i-th draw of the seed's sequence, reached without
   * drawing the others: run i of seed s is the same whatever the run count
   * (or the shard it falls in). */
  for (uint64_t i = o->shard, k = 0; !rc && i < n; i = next_index(o, i, n), k++) {
    if (stop_before_run(j, k))
      break;
    j->c->running = j->t;
    beat(j, i + 1);
    rc = fray__ctarget_run(j->t, o, i, fray__rng_at(o->seed, i), &res);
    j->c->running = NULL;
    r->runs++;
    if (rc == FRAY_EFAILED) {
      if ((rc = schedule_failed(j, &res, i + 1, 0)) || !o->keep_going)
        break;
    } else if (rc == FRAY_EINEXACT) {
      /* No verdict, as if it had not run: the next schedule may go through. */
      r->inexact++;
      rc = 0;
    }
  }
  if (rc && rc != FRAY_EFAILED)
    run_error(j, rc);
  return rc == FRAY_EFAILED ? 0 : rc;
}

/* Malformed variant i: written first (a crash leaves it), run, and kept
 * when it fails. */
static int run_mutant(fray__cjob_t *j, uint64_t i) {
  fray_script_t *m = NULL;
  size_t canary_at;
  char what[512], path[PATH_SIZE], desc[600];
  fray__cresult_t res;
  beat(j, i + 1);
  int rc =
      fray__ctarget_mutant(j->t, fray__rng_at(j->c->o.seed, i), &m, &canary_at, what, sizeof what);
  if (rc)
    return rc;
  int kept = fray__crepro_mutant(j, m, i, what, path, sizeof path);
  rc = kept < 0 ? kept : fray__ctarget_run_mutant(j->t, m, i + 1, canary_at, &res);
  j->r->runs++;
  if (rc == FRAY_EFAILED) {
    fray_campaign_failure_t *f;
    snprintf(desc, sizeof desc, "mutation %" PRIu64 ": %s", i, what);
    rc = fray__creport_failure(j, m, &res, i + 1, 0, desc, &f);
    if (!rc && f && kept == 1 && !(f->reproducer = fray__creport_strdup(j->r, path)))
      rc = FRAY_ENOMEM;
    if (f && f->reproducer)
      kept = 0;
  }
  if (kept == 1)
    (void)remove(path); /* it passed: nothing to reproduce */
  fray__ctarget_drop_mutant(j->t);
  fray_script_free(m);
  return rc;
}

static int run_mutants(fray__cjob_t *j) {
  const fray_campaign_opts_t *o = &j->c->o;
  int rc = 0;
  j->r->planned = plan(shard_runs(o, o->runs), 0);
  if (progress(j))
    j->r->cut_short = j->r->planned > 0;
  for (uint64_t i = o->shard, k = 0; !j->r->cut_short && i < o->runs;
       i = next_index(o, i, o->runs), k++) {
    if (stop_before_run(j, k) || (rc = run_mutant(j, i)) || (j->r->failed && !o->keep_going))
      break;
  }
  if (rc)
    run_error(j, rc);
  return rc;
}

/* Whether the script cuts one of its sends itself. */
static int own_cuts(const fray_script_t *s) {
  size_t n;
  const fray_step_t *st = fray_script_steps(s, &n);
  for (size_t k = 0; k < n; k++)
    if (st[k].kind == FRAY_STEP_SEND && st[k].ncuts)
      return 1;
  return 0;
}

/* Why a campaign cannot start against this target, or NULL. */
static const char *refused(const fray_campaign_opts_t *o, const fray_campaign_target_t *t) {
  if (!t->handler && o->strategy == FRAY_STRATEGY_MUTATE)
    return "malformed variants run in the simulator only";
  if (t->connect && o->short_writes)
    return "short writes run in the simulator only (the server's writes are its own)";
  return NULL;
}

static int start(fray__cjob_t *j) {
  char *why = NULL;
  const char *no = refused(&j->c->o, j->target);
  if (no) {
    j->r->error = fray__creport_strdup(j->r, no);
    return FRAY_EUNSUPPORTED;
  }
  int rc = fray__ctarget_open(&j->t, j->script, j->target, &j->c->mem, &why);
  if (!rc)
    fray__ctarget_trace(j->t, j->c->o.trace, j->c->o.trace_data);
  if (rc)
    j->r->error = fray__creport_strdup(j->r, why ? why : fray_strerror(rc));
  fray__free(&j->c->mem, why);
  return rc;
}

int fray__cjob_begin(fray__cjob_t *j, const fray_mem_t *report_mem) {
  if (!(j->r = fray__creport_new(report_mem, j->c->o.max_described)))
    return FRAY_ENOMEM;
  j->r->strategy = j->c->o.strategy;
  j->r->own_cuts = own_cuts(j->script);
  return 0;
}

int fray_campaign_run(fray_campaign_t *c, const fray_script_t *script, const char *name,
                      const fray_campaign_target_t *target, fray_campaign_report_t **out) {
  if (c->super && target->handler && !target->connect && !target->player)
    return fray__super_run(c, script, name, target, out);
  return fray__campaign_run_here(c, script, name, target, &c->mem, out);
}

int fray__campaign_run_here(fray_campaign_t *c, const fray_script_t *script, const char *name,
                            const fray_campaign_target_t *target, const fray_mem_t *report_mem,
                            fray_campaign_report_t **out) {
  fray__cjob_t j = {.c = c,
                    .script = script,
                    .name = name ? name : "script",
                    .target = target,
                    .every = target->handler ? PROGRESS_EVERY : 1};
  double t0 = now();
  *out = NULL;
  if (fray__cjob_begin(&j, report_mem))
    return FRAY_ENOMEM;
  *out = j.r;
  int rc = start(&j);
  if (!rc)
    rc = c->o.strategy == FRAY_STRATEGY_MUTATE ? run_mutants(&j) : run_schedules(&j);
  fray__ctarget_close(j.t);
  j.r->seconds = now() - t0;
  if (rc && !j.r->error)
    j.r->error = fray__creport_strdup(j.r, fray_strerror(rc));
  j.r->verdict = rc ? FRAY_VERDICT_ERROR : j.r->failed ? FRAY_VERDICT_FAIL : FRAY_VERDICT_PASS;
  j.r->cut_short &= j.r->verdict == FRAY_VERDICT_PASS && j.r->runs < j.r->planned;
  return rc ? rc : j.r->failed ? FRAY_EFAILED : 0;
}
