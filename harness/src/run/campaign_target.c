/* The campaign's one adapter to what runs a schedule: a session player
 * (fray/player.h) over any transport - the simulator's for a handler
 * in-process, the TCP runner's for a real server, or one the caller made -
 * plus the schedule generators, the minimiser and the mutator. Every call
 * the campaign makes into fray/player.h, fray/sched.h, fray/sim.h,
 * fray/net.h and fray/mutate.h is in this file. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "fray/mutate.h"
#include "fray/replay.h"
#include "fray/sim.h"
#include "run/campaign_internal.h"

struct fray__ctarget {
  const fray_mem_t *mem;
  const fray_script_t *script;
  const fray_handler_t *handler; /* in-process only */
  fray_sim_t *sim;               /* in-process: its player runs, it minimises */
  fray_net_t *net;               /* a TCP server: its player runs */
  fray_player_t *player;         /* what runs every schedule (the caller's, or one above) */
  fray_player_factory_t factory; /* the caller's: more players, to minimise over them */
  int transcripts;               /* transcripts must equal the whole run's */
  fray_sched_buf_t *buf;
  fray_sched_t sched;       /* the last schedule built */
  const fray_sched_t *last; /* the last run's schedule: NULL for whole, or &sched */
  int drawn;                /* sched is a random family's (sched.family) */
  fray_sim_t *mutant;       /* the last malformed variant's simulator */
  fray_trace_fn trace;      /* the campaign's (fray__ctarget_trace) */
  void *trace_data;
  const fray_sched_t *volatile running; /* set during a run, for a crash handler */
};

static char *dup_error(const fray_mem_t *mem, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = fray__malloc(mem, n);
  if (p)
    memcpy(p, s, n);
  return p;
}

/* The simulator's or the TCP runner's player for ct. */
static int make_player(fray__ctarget_t *t, const fray_campaign_target_t *ct, char **err) {
  int rc;
  if (ct->handler) {
    rc = fray_sim_new(&t->sim, t->script, ct->handler, t->mem);
    t->player = rc ? NULL : fray_sim_player(t->sim);
    return rc;
  }
  fray_net_opts_t no = ct->net;
  if (!no.timeout_ms)
    fray_net_opts_init(&no);
  rc = fray_net_new(&t->net, t->script, ct->connect, &no, t->mem);
  if (rc && t->net && *fray_net_error(t->net))
    *err = dup_error(t->mem, fray_net_error(t->net));
  t->player = rc ? NULL : fray_net_player(t->net);
  return rc;
}

int fray__ctarget_open(fray__ctarget_t **out, const fray_script_t *script,
                       const fray_campaign_target_t *ct, const fray_mem_t *mem, char **err) {
  *out = NULL;
  *err = NULL;
  if (!!ct->handler + !!ct->connect + !!ct->player != 1 ||
      (ct->player && fray_player_script(ct->player) != script))
    return FRAY_EINVAL;
  fray__ctarget_t *t = fray__malloc(mem, sizeof *t);
  if (!t)
    return FRAY_ENOMEM;
  memset(t, 0, sizeof *t);
  t->mem = mem;
  t->script = script;
  t->handler = ct->handler;
  t->player = ct->player;
  if (ct->player)
    t->factory = ct->factory;
  t->transcripts = ct->handler || (ct->player && ct->transcripts);
  int rc = ct->player ? 0 : make_player(t, ct, err);
  if (!rc)
    rc = fray_sched_buf_new(&t->buf, script, mem);
  if (rc) {
    fray__ctarget_close(t);
    return rc;
  }
  *out = t;
  return 0;
}

int fray__ctarget_open_plan(fray__ctarget_t **out, const fray_script_t *script,
                            const fray_handler_t *handler, const fray_mem_t *mem) {
  *out = fray__malloc(mem, sizeof **out);
  if (!*out)
    return FRAY_ENOMEM;
  memset(*out, 0, sizeof **out);
  (*out)->mem = mem;
  (*out)->script = script;
  (*out)->handler = handler; /* its spec sizes variants; run_mutant runs it */
  int rc = fray_sched_buf_new(&(*out)->buf, script, mem);
  if (rc) {
    fray__ctarget_close(*out);
    *out = NULL;
  }
  return rc;
}

void fray__ctarget_close(fray__ctarget_t *t) {
  if (!t)
    return;
  fray__ctarget_drop_mutant(t);
  fray_sched_buf_free(t->buf);
  fray_net_free(t->net);
  fray_sim_free(t->sim);
  fray__free(t->mem, t);
}

uint64_t fray__ctarget_count(const fray__ctarget_t *t, const fray_campaign_opts_t *o) {
  switch (o->strategy) {
  case FRAY_STRATEGY_WHOLE:
    return o->fault_seed_set ? 1 : o->short_writes ? o->runs : 0;
  case FRAY_STRATEGY_BYTEWISE:
    return 1;
  case FRAY_STRATEGY_EXHAUSTIVE: {
    size_t c = fray_sched_exhaustive_count(t->script, o->max_cuts);
    /* Index 0 is whole, run as the reference; under short writes it is
     * not the same run, so it is run again with them. */
    return c == SIZE_MAX ? UINT64_MAX : o->short_writes ? (uint64_t)c : (uint64_t)c - 1;
  }
  default:
    return o->runs;
  }
}

void fray__ctarget_trace(fray__ctarget_t *t, fray_trace_fn fn, void *user_data) {
  t->trace = fn;
  t->trace_data = user_data;
  /* In process, the handler's own events (its reads among them); a server
   * elsewhere shows only what crosses the transport. */
  if (t->sim)
    fray_sim_set_trace(t->sim, fn, user_data);
  else
    fray_player_set_trace(t->player, fn, user_data);
}

/* Announces run i to the trace. */
static void trace_run(const fray__ctarget_t *t, uint64_t i) {
  if (t->trace)
    t->trace(&(fray_trace_event_t){.kind = FRAY_TRACE_RUN, .run = i}, t->trace_data);
}

int fray__ctarget_reference(fray__ctarget_t *t, fray__cresult_t *res) {
  t->last = NULL;
  t->drawn = 0;
  trace_run(t, 0);
  /* The memory oracle of malformed variants watches the whole run of every
   * script too (one run, so its cost does not count): a variant saved by
   * --mutate fails the same way when replayed whole. */
  fray_sim_set_mem_limit(t->sim, FRAY_CAMPAIGN_MUTATE_MEM_LIMIT);
  int rc = t->transcripts ? fray_player_record_reference(t->player, res)
                          : fray_player_run(t->player, NULL, res);
  fray_sim_set_mem_limit(t->sim, 0);
  return rc;
}

/* Schedule i of the strategy into t->sched. */
static int build(fray__ctarget_t *t, const fray_campaign_opts_t *o, uint64_t i, uint64_t seed) {
  int rc = 0;
  t->drawn = 0;
  switch (o->strategy) {
  case FRAY_STRATEGY_WHOLE:
    t->sched = (fray_sched_t){.short_writes = 1, .write_seed = seed};
    if (o->fault_seed_set) /* every kind asked for strikes, as the fault seed says */
      t->sched =
          (fray_sched_t){.short_writes = o->short_writes || (o->faults & FRAY_FAULT_SHORT_WRITES),
                         .write_seed = o->fault_seed,
                         .faults = t->net ? 0 : o->faults,
                         .fault_seed = o->fault_seed};
    return 0;
  case FRAY_STRATEGY_RANDOM: {
    fray_sched_family_t f = o->family == FRAY_CAMPAIGN_PORTFOLIO
                                ? fray_sched_family_of_run(o->seed, i)
                                : (fray_sched_family_t)o->family;
    /* Faults are drawn where they can be injected: in the simulator (a
     * handler target, or the plan of one rebuilding a run that crashed)
     * and over a caller's transport (--exec's), which applies the kinds it
     * can (fray/player.h); a TCP server's reads and writes are its own. */
    rc = fray_sched_family(t->buf, f, seed, t->net ? 0 : o->faults);
    t->sched = *fray_sched_buf_view(t->buf);
    t->sched.short_writes |= o->short_writes;
    t->drawn = 1;
    return rc;
  }
  case FRAY_STRATEGY_BYTEWISE:
    rc = fray_sched_bytewise(t->buf);
    break;
  default:
    rc = fray_sched_exhaustive(t->buf, o->max_cuts, (size_t)(o->short_writes ? i : i + 1));
    break;
  }
  t->sched = *fray_sched_buf_view(t->buf);
  t->sched.short_writes = o->short_writes;
  t->sched.write_seed = seed;
  return rc;
}

int fray__ctarget_run(fray__ctarget_t *t, const fray_campaign_opts_t *o, uint64_t i, uint64_t seed,
                      fray__cresult_t *res) {
  int rc = build(t, o, i, seed);
  t->last = &t->sched;
  if (rc)
    return rc;
  t->running = &t->sched;
  trace_run(t, i + 1);
  rc = t->transcripts ? fray_player_check_invariance(t->player, &t->sched, res)
                      : fray_player_run(t->player, &t->sched, res);
  t->running = NULL;
  return rc;
}

int fray__ctarget_plan(fray__ctarget_t *t, const fray_campaign_opts_t *o, uint64_t run) {
  t->last = NULL;
  if (!run)
    return 0;
  int rc = build(t, o, run - 1, fray__rng_at(o->seed, run - 1));
  t->last = &t->sched;
  return rc;
}

int fray__ctarget_bake_last(const fray__ctarget_t *t, const char *handler, fray_script_t **out) {
  int rc = fray_bake(t->script, t->last, t->mem, out);
  if (!rc && handler && (rc = fray_script_set_handler(*out, handler))) {
    fray_script_free(*out);
    *out = NULL;
  }
  return rc;
}

const char *fray__ctarget_error(const fray__ctarget_t *t) {
  return t->net ? fray_net_error(t->net) : fray_player_error(t->player);
}

void fray__ctarget_describe(const fray__ctarget_t *t, char *buf, size_t size) {
  size_t n = 0;
  if (t->drawn && t->last) {
    int w = snprintf(buf, size, "%s: ", fray__ctarget_family(t));
    n = w < 0 || (size_t)w >= size ? 0 : (size_t)w;
  }
  fray_sched_describe(t->script, t->last, buf + n, size - n);
}

const char *fray__ctarget_family(const fray__ctarget_t *t) {
  return t->drawn && t->last ? fray_sched_family_name((fray_sched_family_t)t->last->family) : NULL;
}

int fray__ctarget_short_writes(const fray__ctarget_t *t) {
  return t->last && t->last->short_writes;
}

unsigned fray__ctarget_faults(const fray__ctarget_t *t) {
  return t->last ? t->last->faults & ~(unsigned)FRAY_FAULT_SHORT_WRITES : 0;
}

uint64_t fray__ctarget_fault_seed(const fray__ctarget_t *t) {
  return t->last ? t->last->fault_seed : 0;
}

/* The minimiser over the target's players: the simulator's, or the
 * caller's factory with a smaller budget (a run over a real server takes
 * milliseconds). */
static int minimize_under(fray__ctarget_t *t, const fray_sched_t *sched, fray_script_t **out) {
  if (t->sim)
    return fray_sim_minimize(t->sim, sched, 0, out);
  return fray_minimize(t->script, sched, &t->factory, t->transcripts, FRAY_MINIMIZE_TRANSPORT_RUNS,
                       t->mem, out);
}

/* Minimises the last run's failure. A fault the random portfolio drew (or
 * the short writes --short-writes asked for) is often a bystander: when
 * the failure recurs without them, they are dropped, so the reproducer
 * replays with no option. */
static int minimize(fray__ctarget_t *t, fray_script_t **out) {
  if (t->last == &t->sched && (t->sched.short_writes || t->sched.faults)) {
    fray_sched_t plain = t->sched;
    plain.short_writes = 0;
    plain.faults = 0;
    int rc = minimize_under(t, &plain, out);
    if (rc != FRAY_EINVAL) {
      if (!rc)
        t->sched = plain;
      return rc;
    }
  }
  return minimize_under(t, t->last, out);
}

int fray__ctarget_reproducer(fray__ctarget_t *t, fray_script_t **out, const char **how) {
  /* The simulator minimises (the minimiser's runs untraced: they are its
   * own); so does a caller's transport with a factory, whose failures that
   * do not recur on a fresh try, or whose tries cannot be made, are baked
   * as found instead. --connect's are baked as found. */
  int rc;
  *how = "minimised";
  if (t->sim) {
    fray_sim_set_trace(t->sim, NULL, NULL);
    rc = minimize(t, out);
    fray_sim_set_trace(t->sim, t->trace, t->trace_data);
  } else if (!t->factory.make) {
    *how = t->net ? "not minimised over the network" : "not minimised outside the simulator";
    rc = fray_bake(t->script, t->last, t->mem, out);
  } else if ((rc = minimize(t, out)) && rc != FRAY_ENOMEM) {
    *how = rc == FRAY_EINVAL ? "not minimised, as the failure did not recur on a fresh try"
                             : "not minimised, as no try could be made";
    rc = fray_bake(t->script, t->last, t->mem, out);
  }
  /* The reproducer names the handler it failed with, even when the command
   * line chose it over (or without) the script's @handler. */
  if (!rc && t->handler && (rc = fray_script_set_handler(*out, t->handler->name))) {
    fray_script_free(*out);
    *out = NULL;
  }
  return rc;
}

int fray__ctarget_bake(const fray__ctarget_t *t, fray_script_t **out) {
  const fray_sched_t *s = t->running;
  return s ? fray_bake(t->script, s, t->mem, out) : FRAY_ESTATE;
}

int fray__ctarget_mutant(const fray__ctarget_t *t, uint64_t seed, fray_script_t **out,
                         size_t *canary_at, char *what, size_t what_size) {
  return fray_mutate(t->script, seed, t->handler->spec.max_frame, out, canary_at, what, what_size);
}

int fray__ctarget_run_mutant(fray__ctarget_t *t, const fray_script_t *m, uint64_t run,
                             size_t canary_at, fray__cresult_t *res) {
  fray__ctarget_drop_mutant(t);
  (void)canary_at; /* the variant's own steps say what is judged (fray_mutate) */
  int rc = fray_sim_new(&t->mutant, m, t->handler, t->mem);
  if (rc)
    return rc;
  fray_sim_set_trace(t->mutant, t->trace, t->trace_data);
  trace_run(t, run);
  fray_sim_set_mem_limit(t->mutant, FRAY_CAMPAIGN_MUTATE_MEM_LIMIT);
  return fray_sim_run(t->mutant, NULL, res);
}

void fray__ctarget_drop_mutant(fray__ctarget_t *t) {
  fray_sim_free(t->mutant);
  t->mutant = NULL;
}
