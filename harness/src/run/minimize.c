/* Reproducer minimisation: removal of script steps (in halving blocks,
 * then as units: a step with the expectations it causes, a client's
 * connection, a send with a later answer of its client), schedule merges
 * and cuts, keeping a removal only while the pair still fails the same way
 * (its failure kind) under its schedule and still passes under `whole`, so
 * the reproducer keeps blaming the cutting and not a script mangled into
 * failing on its own. Rounds repeat until one changes nothing: the result
 * is 1-minimal over those units. */
#include <string.h>

#include "fray/replay.h"
#include "fray/sim.h"
#include "core/internal.h"
#include "run/sim_internal.h"
#include "session/sched_internal.h"

#define PAIR_REACH 4 /* expectations of its client a send is paired with */

typedef struct cand {
  const fray_script_t *orig;
  const fray_player_factory_t *make; /* a fresh player per try (NULL: only baking) */
  int transcripts;                   /* tries also compare transcripts with whole's */
  fray_mem_t mem;
  const fray_step_t *steps;
  size_t nsteps;
  unsigned char *keep;  /* per original step */
  size_t *send_of_step; /* original step -> send number, or SIZE_MAX */
  size_t nsends;
  size_t **cuts; /* per original send: schedule cuts */
  size_t *ncuts;
  unsigned char *merge; /* per original send */
  size_t *unit;         /* steps tried for removal together */
  size_t nunit;
  int short_writes;
  uint64_t write_seed;
  unsigned faults;
  uint64_t fault_seed;
  size_t runs, max_runs;
  fray_fail_kind_t kind; /* how the pair fails: a removal must keep it (0: not known yet) */
} cand_t;

/* Builds the candidate's script (kept steps only). FRAY_ESTATE when the
 * kept steps do not form a valid script (a send before its open, ...). */
static int build_script(const cand_t *c, fray_script_t **out) {
  fray_script_t *s;
  int r = fray__script_new_like(c->orig, &c->mem, &s);
  if (r)
    return r;
  for (size_t i = 0; i < c->nsteps && !r; i++)
    if (c->keep[i])
      r = fray_script_add_step(s, &c->steps[i]);
  if (r) {
    fray_script_free(s);
    return r == FRAY_ENOMEM ? r : FRAY_ESTATE;
  }
  *out = s;
  return 0;
}

/* The candidate's sends' schedule into sends (fray_sched_nsends of its
 * script entries). */
static fray_sched_t cand_sched(const cand_t *c, fray_sched_send_t *sends, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < c->nsteps; i++) {
    size_t sn = c->send_of_step[i];
    if (!c->keep[i] || sn == SIZE_MAX)
      continue;
    sends[k++] =
        (fray_sched_send_t){.cuts = c->cuts[sn], .ncuts = c->ncuts[sn], .merge_next = c->merge[sn]};
  }
  return (fray_sched_t){.sends = sends,
                        .nsends = n,
                        .short_writes = c->short_writes,
                        .write_seed = c->write_seed,
                        .faults = c->faults,
                        .fault_seed = c->fault_seed};
}

/* Runs the candidate whole, then under its schedule, on p: 1 when it
 * passes whole and fails under the schedule the same way as the pair did
 * (its failure kind), 0 when not (a run the transport could not carry out
 * exactly proves nothing: 0 too), negative on an error. */
static int judge(cand_t *c, fray_player_t *p, const fray_sched_t *sched) {
  fray_result_t res;
  c->runs += 2;
  int r = c->transcripts ? fray_player_record_reference(p, &res) : fray_player_run(p, NULL, &res);
  if (r)
    return r == FRAY_EFAILED || r == FRAY_EINEXACT ? 0 : r; /* failing whole: not the schedule */
  r = c->transcripts ? fray_player_check_invariance(p, sched, &res)
                     : fray_player_run(p, sched, &res);
  if (r != FRAY_EFAILED)
    return r == 0 || r == FRAY_EINEXACT ? 0 : r;
  if (c->kind && res.kind != c->kind)
    return 0;
  c->kind = res.kind;
  return 1;
}

/* 1 when the candidate fails under its schedule, the same way as the pair
 * did, and passes whole; 0 when not; negative on an error (allocation, or
 * the factory's or transport's). */
static int still_fails(cand_t *c) {
  fray_script_t *s = NULL;
  fray_player_t *p = NULL;
  fray_sched_send_t *sends = NULL;
  int r = build_script(c, &s);
  if (r)
    return r == FRAY_ENOMEM ? r : 0;
  size_t n = fray_sched_nsends(s);
  sends = fray__malloc(&c->mem, (n ? n : 1) * sizeof *sends);
  if (!sends)
    r = FRAY_ENOMEM;
  else if (!(r = c->make->make(c->make->user_data, s, &p))) {
    fray_sched_t sched = cand_sched(c, sends, n);
    r = judge(c, p, &sched);
  }
  fray_player_free(p);
  fray__free(&c->mem, sends);
  fray_script_free(s);
  return r;
}

/* The whole run's answers, step by step (fray__sim_record_steps), and what
 * bake() has written of them so far. */
typedef struct answers {
  const fray_sim_t *sim;
  size_t nclients;
  size_t *marks;        /* per original step and client */
  unsigned char *ended; /* per original step and client */
  size_t *pos;          /* per client: bytes already expected */
  unsigned char *open;  /* per client: open in the script written */
  unsigned char *eof;   /* per client: `< eof` written since it opened */
} answers_t;

/* Follows the client states of the script being written. */
static void answers_track(answers_t *a, const fray_step_t *st) {
  if (st->kind == FRAY_STEP_OPEN) {
    a->open[st->client] = 1;
    a->eof[st->client] = 0;
  } else if (st->kind == FRAY_STEP_CLOSE || st->kind == FRAY_STEP_RESET) {
    a->open[st->client] = 0;
  }
}

/* After the written step that ends with original step i: what each client
 * received up to then, and `< eof` where the server has ended it. */
static int answers_after(answers_t *a, fray_script_t *s, size_t i) {
  int r = 0;
  for (size_t c = 0; c < a->nclients && !r; c++) {
    size_t m = a->marks[i * a->nclients + c];
    if (!a->open[c]) {
      a->pos[c] = m; /* a closed client receives nothing: nothing to say */
      continue;
    }
    if (m > a->pos[c]) {
      r = fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_EXPECT,
                                                 .client = c,
                                                 .data = fray__sim_received(a->sim, c) + a->pos[c],
                                                 .len = m - a->pos[c]});
      a->pos[c] = m;
    }
    if (!r && a->ended[i * a->nclients + c] && !a->eof[c]) {
      r = fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_EXPECT_EOF, .client = c});
      a->eof[c] = 1;
    }
  }
  return r;
}

static int is_expectation(fray_step_kind_t k) {
  return k == FRAY_STEP_EXPECT || k == FRAY_STEP_EXPECT_REGEX || k == FRAY_STEP_EXPECT_GLOB ||
         k == FRAY_STEP_EXPECT_EOF || k == FRAY_STEP_EXPECT_EOF_OPT || k == FRAY_STEP_EXPECT_ANY ||
         k == FRAY_STEP_EXPECT_NOTHING;
}

/* Bakes the schedule into a script: cuts become `|`, merged sends one send.
 * With ans, the script's expectations are replaced by the recorded answers. */
static int bake(const cand_t *c, answers_t *ans, fray_script_t **out) {
  fray_script_t *s;
  int r = fray__script_new_like(c->orig, &c->mem, &s);
  if (r)
    return r;
  uint8_t *buf = NULL;
  size_t *cuts = NULL, cap = 0, ccap = 0;
  for (size_t i = 0; i < c->nsteps && !r; i++) {
    if (!c->keep[i])
      continue;
    size_t sn = c->send_of_step[i];
    if (sn == SIZE_MAX) {
      /* The recorded answers replace the expectations; a `< nothing for`
       * leaves its span, as a wait, so the answers come at the same time. */
      const fray_step_t *st = &c->steps[i];
      fray_step_t wait = {.kind = FRAY_STEP_WAIT, .ms = st->ms};
      if (ans && st->kind == FRAY_STEP_EXPECT_NOTHING)
        st = &wait;
      else if (ans && is_expectation(st->kind))
        continue;
      r = fray_script_add_step(s, st);
      if (!r && ans) {
        answers_track(ans, &c->steps[i]);
        r = answers_after(ans, s, i);
      }
      continue;
    }
    /* Gather this send and the ones merged after it. */
    size_t len = 0, ncuts = 0, j = i;
    for (;;) {
      const fray_step_t *st = &c->steps[j];
      size_t need = len + st->len, cneed = ncuts + st->ncuts + c->ncuts[c->send_of_step[j]] + 1;
      if ((r = fray__grow(&c->mem, (void **)&buf, &cap, need, 1)) ||
          (r = fray__grow(&c->mem, (void **)&cuts, &ccap, cneed, sizeof *cuts)))
        break;
      /* A merge joins the reads: no cut at the seam. Union of the step's own cuts and the
       * schedule's, offset by len. */
      const size_t *a = st->cuts, *b = c->cuts[c->send_of_step[j]];
      size_t na = st->ncuts, nb = c->ncuts[c->send_of_step[j]], x = 0, y = 0;
      while (x < na || y < nb) {
        size_t v = y >= nb || (x < na && a[x] <= b[y]) ? a[x++] : b[y++];
        if (v == 0 || v >= st->len || (ncuts && cuts[ncuts - 1] >= len + v))
          continue;
        cuts[ncuts++] = len + v;
      }
      memcpy(buf + len, st->data, st->len);
      len += st->len;
      size_t sn2 = c->send_of_step[j];
      /* The next kept step, if it is a send of the same client right after. */
      size_t nx = j + 1;
      while (nx < c->nsteps && !c->keep[nx])
        nx++;
      if (!c->merge[sn2] || nx >= c->nsteps || c->send_of_step[nx] == SIZE_MAX ||
          c->steps[nx].client != st->client)
        break;
      /* Steps dropped between j and nx do not matter: they are gone. */
      j = nx;
    }
    if (r)
      break;
    fray_step_t joined = c->steps[i];
    joined.data = buf;
    joined.len = len;
    joined.cuts = ncuts ? cuts : NULL;
    joined.ncuts = ncuts;
    r = fray_script_add_step(s, &joined);
    if (!r && ans)
      r = answers_after(ans, s, j);
    i = j; /* the merged sends are consumed */
  }
  fray__free(&c->mem, buf);
  fray__free(&c->mem, cuts);
  if (r) {
    fray_script_free(s);
    return r;
  }
  *out = s;
  return 0;
}

static void cand_free(cand_t *c) {
  if (c->cuts)
    for (size_t k = 0; k < c->nsends; k++)
      fray__free(&c->mem, c->cuts[k]);
  fray__free(&c->mem, c->cuts);
  fray__free(&c->mem, c->ncuts);
  fray__free(&c->mem, c->merge);
  fray__free(&c->mem, c->keep);
  fray__free(&c->mem, c->send_of_step);
  fray__free(&c->mem, c->unit);
}

/* Send k's schedule cuts as an array the minimiser can shrink one by one:
 * a cut every `every` bytes becomes explicit here (and only here). The
 * script's own cuts stay the step's. */
static int sched_cuts(cand_t *c, size_t k, const fray_step_t *st, const fray_sched_send_t *ss) {
  fray_step_t bare = *st;
  bare.cuts = NULL;
  bare.ncuts = 0;
  fray__cuts_t it;
  size_t n = 0;
  fray__cuts_init(&it, &bare, ss);
  while (fray__cuts_next(&it) < st->len)
    n++;
  c->ncuts[k] = n;
  c->cuts[k] = fray__malloc(&c->mem, (n ? n : 1) * sizeof(size_t));
  if (!c->cuts[k])
    return FRAY_ENOMEM;
  fray__cuts_init(&it, &bare, ss);
  for (size_t j = 0; j < n; j++)
    c->cuts[k][j] = fray__cuts_next(&it);
  return 0;
}

/* A candidate holding every step of script and a copy of sched. make is
 * only needed to run it (minimising), not to bake it. */
static int cand_init(cand_t *c, const fray_script_t *script, const fray_player_factory_t *make,
                     const fray_mem_t *mem, const fray_sched_t *sched) {
  memset(c, 0, sizeof *c);
  c->orig = script;
  c->make = make;
  fray__mem_init(&c->mem, mem);
  c->steps = fray_script_steps(c->orig, &c->nsteps);
  c->nsends = fray_sched_nsends(script);
  c->short_writes = sched ? sched->short_writes : 0;
  c->write_seed = sched ? sched->write_seed : 0;
  c->faults = sched ? sched->faults : 0;
  c->fault_seed = sched ? sched->fault_seed : 0;
  size_t ns = c->nsends ? c->nsends : 1, nst = c->nsteps ? c->nsteps : 1;
  c->keep = fray__malloc(&c->mem, nst);
  c->send_of_step = fray__malloc(&c->mem, nst * sizeof *c->send_of_step);
  c->cuts = fray__malloc(&c->mem, ns * sizeof *c->cuts);
  c->ncuts = fray__malloc(&c->mem, ns * sizeof *c->ncuts);
  c->merge = fray__malloc(&c->mem, ns);
  c->unit = fray__malloc(&c->mem, nst * sizeof *c->unit);
  if (c->cuts)
    memset(c->cuts, 0, ns * sizeof *c->cuts);
  if (!c->keep || !c->send_of_step || !c->cuts || !c->ncuts || !c->merge || !c->unit)
    return FRAY_ENOMEM;
  for (size_t i = 0, k = 0; i < c->nsteps; i++) {
    c->keep[i] = 1;
    c->send_of_step[i] = c->steps[i].kind == FRAY_STEP_SEND ? k++ : SIZE_MAX;
  }
  for (size_t i = 0; i < c->nsteps; i++) {
    size_t k = c->send_of_step[i];
    if (k == SIZE_MAX)
      continue;
    const fray_sched_send_t *ss = sched && k < sched->nsends ? &sched->sends[k] : NULL;
    c->merge[k] = ss ? (unsigned char)ss->merge_next : 0;
    if (sched_cuts(c, k, &c->steps[i], ss))
      return FRAY_ENOMEM;
  }
  return 0;
}

int fray_bake(const fray_script_t *script, const fray_sched_t *sched, const fray_mem_t *mem,
              fray_script_t **out) {
  if (!script || !out)
    return FRAY_EINVAL;
  *out = NULL;
  cand_t c;
  int r = cand_init(&c, script, NULL, mem, sched);
  if (!r)
    r = bake(&c, NULL, out);
  cand_free(&c);
  return r;
}

int fray_sim_bake(const fray_sim_t *sim, const fray_sched_t *sched, fray_script_t **out) {
  if (!sim)
    return FRAY_EINVAL;
  return fray_bake(fray__sim_script(sim), sched, fray__sim_mem(sim), out);
}

int fray_sim_bake_answers(fray_sim_t *sim, const fray_sched_t *sched, fray_script_t **out,
                          fray_sim_result_t *res) {
  if (!sim || !out)
    return FRAY_EINVAL;
  *out = NULL;
  fray_sim_result_t dummy;
  const fray_mem_t *m = fray__sim_mem(sim);
  size_t nsteps, nc = fray_script_nclients(fray__sim_script(sim));
  fray_script_steps(fray__sim_script(sim), &nsteps);
  size_t cells = (nsteps ? nsteps : 1) * (nc ? nc : 1);
  answers_t a = {.sim = sim, .nclients = nc};
  a.marks = fray__malloc(m, cells * sizeof *a.marks);
  a.ended = fray__malloc(m, cells);
  a.pos = fray__malloc(m, (nc ? nc : 1) * sizeof *a.pos);
  a.open = fray__malloc(m, nc ? nc : 1);
  a.eof = fray__malloc(m, nc ? nc : 1);
  int r = a.marks && a.ended && a.pos && a.open && a.eof ? 0 : FRAY_ENOMEM;
  if (!r) {
    memset(a.pos, 0, (nc ? nc : 1) * sizeof *a.pos);
    memset(a.open, 0, nc ? nc : 1);
    memset(a.eof, 0, nc ? nc : 1);
    r = fray__sim_record_steps(sim, a.marks, a.ended, res ? res : &dummy);
  }
  cand_t c;
  int rc = r ? r : cand_init(&c, fray__sim_script(sim), NULL, m, sched);
  if (!r && !rc)
    rc = bake(&c, &a, out);
  if (!r)
    cand_free(&c);
  fray__free(m, a.marks);
  fray__free(m, a.ended);
  fray__free(m, a.pos);
  fray__free(m, a.open);
  fray__free(m, a.eof);
  return rc;
}

/* Tries removing one item (*slot set to 0, or a cut taken out); keeps the
 * removal when the candidate still fails. 1 kept, 0 undone, < 0 error. */
static int try_flag(cand_t *c, unsigned char *slot) {
  *slot = 0;
  int v = still_fails(c);
  if (v <= 0)
    *slot = 1;
  return v;
}

/* Removes the steps listed in c->unit (c->nunit of them, all kept) at
 * once. */
static int try_unit(cand_t *c) {
  if (!c->nunit)
    return 0;
  for (size_t i = 0; i < c->nunit; i++)
    c->keep[c->unit[i]] = 0;
  int v = still_fails(c);
  if (v <= 0)
    for (size_t i = 0; i < c->nunit; i++)
      c->keep[c->unit[i]] = 1;
  return v;
}

static int try_cut(cand_t *c, size_t k, size_t j) {
  size_t saved = c->cuts[k][j];
  memmove(&c->cuts[k][j], &c->cuts[k][j + 1], (c->ncuts[k] - j - 1) * sizeof(size_t));
  c->ncuts[k]--;
  int v = still_fails(c);
  if (v <= 0) {
    memmove(&c->cuts[k][j + 1], &c->cuts[k][j], (c->ncuts[k] - j) * sizeof(size_t));
    c->cuts[k][j] = saved;
    c->ncuts[k]++;
  }
  return v;
}

static int budget_left(const cand_t *c) {
  return c->runs < c->max_runs;
}

/* The kept steps among [from, from+n) as the unit. */
static void unit_block(cand_t *c, size_t from, size_t n) {
  c->nunit = 0;
  for (size_t i = from; i < from + n; i++)
    if (c->keep[i])
      c->unit[c->nunit++] = i;
}

/* Step i with the kept expectations right after it (up to the next kept
 * step that is not one): a send and the answer it causes, a close and the
 * farewell others receive. An expectation never goes alone when its cause
 * goes, nor stays without it. */
static void unit_with_answers(cand_t *c, size_t i) {
  c->nunit = 0;
  c->unit[c->nunit++] = i;
  for (size_t j = i + 1; j < c->nsteps; j++) {
    if (!c->keep[j])
      continue;
    if (!is_expectation(c->steps[j].kind))
      break;
    c->unit[c->nunit++] = j;
  }
}

/* The connection opened at step i: every kept step of its client up to and
 * including the close or reset that ends it. */
static void unit_connection(cand_t *c, size_t i) {
  size_t who = c->steps[i].client;
  c->nunit = 0;
  for (size_t j = i; j < c->nsteps; j++) {
    if (!c->keep[j] || c->steps[j].client != who || c->steps[j].kind == FRAY_STEP_WAIT)
      continue; /* a wait is nobody's */
    c->unit[c->nunit++] = j;
    fray_step_kind_t k = c->steps[j].kind;
    if (j > i && (k == FRAY_STEP_CLOSE || k == FRAY_STEP_RESET))
      break;
  }
}

/* Blocks of halving size, every size from g0 down to 1 (none skipped, so
 * that an odd size never jumps over pairs), last to first: a shorter script
 * makes every later try cheaper. Coarse and fast; the unit passes below
 * make the result 1-minimal. */
static int pass_blocks(cand_t *c, int *changed) {
  size_t g0 = c->nsteps / 2 > 64 ? 64 : c->nsteps / 2;
  int v = 0;
  for (size_t g = g0 ? g0 : 1; g >= 1 && budget_left(c) && v >= 0;
       g = g > 2 ? (g + 1) / 2 : g - 1) {
    size_t stride = g <= 2 ? 1 : g;
    for (size_t i = c->nsteps; i >= g && budget_left(c) && v >= 0; i -= stride) {
      unit_block(c, i - g, g);
      if ((v = try_unit(c)) > 0)
        *changed = 1;
      if (i < g + stride)
        break;
    }
  }
  return v < 0 ? v : 0;
}

/* Every kept step with its answers, then every connection, last to first. */
static int pass_units(cand_t *c, int *changed) {
  int v = 0;
  for (size_t i = c->nsteps; i-- > 0 && budget_left(c) && v >= 0;) {
    if (!c->keep[i] || is_expectation(c->steps[i].kind))
      continue;
    unit_with_answers(c, i);
    if (c->nunit > 1 && (v = try_unit(c)) > 0)
      *changed = 1;
  }
  for (size_t i = c->nsteps; i-- > 0 && budget_left(c) && v >= 0;) {
    if (!c->keep[i] || c->steps[i].kind != FRAY_STEP_OPEN)
      continue;
    unit_connection(c, i);
    if (c->nunit > 1 && (v = try_unit(c)) > 0)
      *changed = 1;
  }
  return v < 0 ? v : 0;
}

/* A send with one of the next few expectations of its client: pipelined
 * sends are answered after all of them (send, send, answer, answer), so a
 * send's answer need not come right after it. */
static int pass_pairs(cand_t *c, int *changed) {
  int v = 0;
  for (size_t i = c->nsteps; i-- > 0 && budget_left(c) && v >= 0;) {
    if (!c->keep[i] || c->send_of_step[i] == SIZE_MAX)
      continue;
    for (size_t j = i + 1, seen = 0;
         j < c->nsteps && seen < PAIR_REACH && c->keep[i] && budget_left(c) && v >= 0; j++) {
      if (!c->keep[j] || c->steps[j].client != c->steps[i].client ||
          !is_expectation(c->steps[j].kind))
        continue;
      seen++;
      c->unit[0] = i;
      c->unit[1] = j;
      c->nunit = 2;
      if ((v = try_unit(c)) > 0)
        *changed = 1;
    }
  }
  return v < 0 ? v : 0;
}

/* Every merge and every schedule cut of the kept sends. */
static int pass_schedule(cand_t *c, int *changed) {
  int v = 0;
  for (size_t i = 0; i < c->nsteps && budget_left(c) && v >= 0; i++) {
    size_t k = c->send_of_step[i];
    if (!c->keep[i] || k == SIZE_MAX)
      continue;
    if (c->merge[k] && (v = try_flag(c, &c->merge[k])) > 0)
      *changed = 1;
    for (size_t j = c->ncuts[k]; j-- > 0 && budget_left(c) && v >= 0;)
      if ((v = try_cut(c, k, j)) > 0)
        *changed = 1;
  }
  return v < 0 ? v : 0;
}

int fray_minimize(const fray_script_t *script, const fray_sched_t *sched,
                  const fray_player_factory_t *factory, int transcripts, size_t max_runs,
                  const fray_mem_t *mem, fray_script_t **out) {
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  if (!script || !sched || !factory || !factory->make)
    return FRAY_EINVAL;
  cand_t c;
  int r = cand_init(&c, script, factory, mem, sched);
  if (r)
    goto done;
  c.transcripts = transcripts;
  c.max_runs = max_runs ? max_runs : FRAY_MINIMIZE_DEFAULT_RUNS;
  r = still_fails(&c);
  if (r <= 0) {
    r = r < 0 ? r : FRAY_EINVAL;
    goto done;
  }
  /* Until a whole round changes nothing: then no single step, step with
   * its answers, connection, merge or cut can go (1-minimal), unless the
   * run budget ran out first. */
  for (int changed = 1; changed && budget_left(&c);) {
    changed = 0;
    if ((r = pass_blocks(&c, &changed)) || (r = pass_units(&c, &changed)) ||
        (r = pass_pairs(&c, &changed)) || (r = pass_schedule(&c, &changed)))
      goto done;
  }
  r = bake(&c, NULL, out);
done:
  cand_free(&c);
  return r;
}

/* The simulator's factory: a simulator of the handler per candidate. */
typedef struct sim_maker {
  const fray_handler_t *h;
  const fray_mem_t *mem;
} sim_maker_t;

static int make_sim(void *user_data, const fray_script_t *script, fray_player_t **out) {
  const sim_maker_t *m = user_data;
  fray_sim_t *sim;
  int r = fray_sim_new(&sim, script, m->h, m->mem);
  *out = r ? NULL : fray_sim_player(sim); /* fray_player_free() frees the simulator */
  return r;
}

int fray_sim_minimize(fray_sim_t *sim, const fray_sched_t *sched, size_t max_runs,
                      fray_script_t **out) {
  if (!sim || !sched || !out)
    return FRAY_EINVAL;
  sim_maker_t m = {fray__sim_handler(sim), fray__sim_mem(sim)};
  fray_player_factory_t f = {make_sim, &m};
  return fray_minimize(fray__sim_script(sim), sched, &f, 1, max_runs, fray__sim_mem(sim), out);
}
