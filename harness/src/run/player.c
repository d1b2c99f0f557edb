/* The session player (fray/player.h): the one walker over a script's steps.
 * It cuts sends into reads under the schedule (session/reads.c), keeps the
 * clients' records, judges expectations (expect.c) and transcripts, and
 * leaves every byte's journey to the transport. */
#include "fray/player.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/escape_internal.h"
#include "core/internal.h"
#include "run/expect_internal.h"
#include "run/player_internal.h"
#include "session/reads_internal.h"
#include "session/sched_internal.h"

/* Per client, beyond it: FRAY_FAIL_BOUND. As much as a script may expect
 * (fray/script.h), so a recorded download replays. */
#define RX_BOUND FRAY_SCRIPT_DEFAULT_MAX_BYTES

enum { END_OPEN = 0, END_FIN = 1, END_RST = 2 };

typedef struct client {
  uint8_t *rx;                   /* everything received this run */
  size_t rx_len, rx_cap, rx_pos; /* rx_pos: bytes matched by expectations */
  int end;                       /* how the server ended the last connection: END_* */
  int gone;                      /* the client closed or reset: it reads no more */
  int opened;                    /* connected by the script, not reset since */
  /* Reading (fray_player_room): room is what the client still takes, of
   * the server's output, before it stops; SIZE_MAX: no limit. */
  size_t room;
  size_t stopped_at; /* the line of its `stops reading` or `reads N`; 0: reading */
  int skip;          /* left early (a fault): its steps are dropped until it opens */
  int partial;       /* it closed in the middle of a send (close-mid-send) */
  int unchecked;     /* left early: its received bytes are checked no further */
  size_t open_step;  /* the step of its last open */
} client_t;

typedef struct ref {
  uint8_t *rx;
  size_t len;
  int end;
} ref_t;

/* References kept per script: slot 0 the whole run, slot 1 + k the whole
 * run under a receive window of 2^k bytes (fray_sched_window() draws 1 to
 * 4096). A window changes when a client reads, and so, for a correct
 * handler, the order in which its answers to one client and its news of
 * another (a close it could not finish while the window was full) reach a
 * third: a run under a window is compared with the whole run under the
 * same window. */
#define REF_SLOTS 14

struct fray_player {
  const fray_script_t *script;
  fray_mem_t mem;
  const fray_transport_ops_t *ops;
  void *t;
  fray_transport_words_t words;
  const fray_step_t *steps;
  size_t nsteps, nclients, nsends;
  size_t nleave;     /* steps where a client may leave early: its sends and expectations */
  size_t *send_step; /* send number -> step index */
  client_t *cl;
  ref_t *ref;         /* REF_SLOTS slots of nclients each */
  unsigned ref_have;  /* bit s: slot s holds a reference */
  unsigned ref_tried; /* bit s: slot s's whole run was tried (it may have failed) */
  int ref_own;        /* slot 0 was recorded here, so window slots can be too */
  size_t expect_from; /* expectations are checked from this step on */
  fray__reads_t cutter;
  /* Per run */
  const fray_sched_t *sched;
  fray_result_t *res;
  size_t step;
  int eof_with_data; /* the send being played ends with its client's EOF: 1, then a
                      * half-close; 2, then a close */
  uint64_t reads;
  /* The faults that strike at points of the run (fray/sched.h) */
  uint64_t frng;       /* their draws, seeded by the schedule's fault_seed */
  size_t leave_at;     /* random-close: it strikes at this step among nleave; SIZE_MAX none */
  size_t leave_seen;   /* such steps played so far */
  int judge_off;       /* a client left early: nothing is judged from there on */
  char fault_note[96]; /* what a fault did, for the failure message */
  fray_wait_kind_t wait_kind;
  size_t wait_client;
  int waiting;   /* inside a transport's wait: wait_kind and wait_client hold */
  size_t window; /* FRAY_FAULT_WINDOW: bytes a client takes between two reads; 0: none */
  char not_reading[160], not_reading_open[160]; /* words for a client that stopped reading */
  size_t *marks;        /* fray__player_record_steps: per step and client, rx_len after it */
  unsigned char *ended; /* ... and whether the server had ended the connection */
  char msg[640];
  char err[320];
  fray_trace_fn trace; /* fray_player_set_trace() */
  void *trace_data;
};

void fray_player_set_trace(fray_player_t *p, fray_trace_fn fn, void *user_data) {
  p->trace = fn;
  p->trace_data = user_data;
}

/* Tells the trace, if any, about client's ev. */
static void trace(const fray_player_t *p, size_t client, fray_trace_event_t ev) {
  if (p->trace) {
    ev.client = fray_script_client_name(p->script, client);
    p->trace(&ev, p->trace_data);
  }
}

/* ---- creation ------------------------------------------------------------- */

/* A step a client may leave early before (FRAY_FAULT_RANDOM_CLOSE): one of
 * its sends or expectations, which it then never does. */
static int leaves_before(const fray_step_t *st) {
  return st->kind == FRAY_STEP_SEND || st->kind >= FRAY_STEP_EXPECT;
}

static int ops_complete(const fray_transport_ops_t *o) {
  return o->begin && o->open && o->send && o->shutdown && o->close && o->wait && o->end;
}

int fray_player_new(fray_player_t **out, const fray_script_t *script,
                    const fray_transport_ops_t *ops, void *t, const fray_mem_t *mem) {
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  if (!script || !ops || !ops_complete(ops))
    return FRAY_EINVAL;
  fray_mem_t m;
  fray__mem_init(&m, mem);
  fray_player_t *p = fray__malloc(&m, sizeof *p);
  if (!p)
    return FRAY_ENOMEM;
  memset(p, 0, sizeof *p);
  p->mem = m;
  p->script = script;
  p->steps = fray_script_steps(script, &p->nsteps);
  p->nclients = fray_script_nclients(script);
  size_t nc = p->nclients ? p->nclients : 1;
  p->cl = fray__malloc(&m, nc * sizeof *p->cl);
  p->ref = fray__malloc(&m, REF_SLOTS * nc * sizeof *p->ref);
  p->send_step = fray__malloc(&m, (p->nsteps ? p->nsteps : 1) * sizeof *p->send_step);
  if (!p->cl || !p->ref || !p->send_step) {
    p->nclients = 0;     /* cl and ref hold garbage: no client buffers to free */
    fray_player_free(p); /* t is not the player's yet */
    return FRAY_ENOMEM;
  }
  memset(p->cl, 0, nc * sizeof *p->cl);
  memset(p->ref, 0, REF_SLOTS * nc * sizeof *p->ref);
  p->nsends = fray__sched_send_steps(p->steps, p->nsteps, p->send_step);
  for (size_t i = 0; i < p->nsteps; i++)
    p->nleave += leaves_before(&p->steps[i]);
  fray__reads_init(&p->cutter, &p->mem, p->steps, p->send_step, p->nsends);
  p->words = (fray_transport_words_t){.nothing = "nothing", .kept_open = ""};
  if (ops->words)
    ops->words(t, &p->words);
  p->ops = ops;
  p->t = t;
  *out = p;
  return 0;
}

void fray_player_free(fray_player_t *p) {
  if (!p)
    return;
  for (size_t i = 0; p->cl && i < p->nclients; i++)
    fray__free(&p->mem, p->cl[i].rx);
  for (size_t i = 0; p->ref && i < REF_SLOTS * p->nclients; i++)
    fray__free(&p->mem, p->ref[i].rx);
  fray__free(&p->mem, p->cl);
  fray__free(&p->mem, p->ref);
  fray__free(&p->mem, p->send_step);
  fray__reads_free(&p->cutter);
  if (p->ops && p->ops->free)
    p->ops->free(p->t);
  fray_mem_t m = p->mem;
  fray__free(&m, p);
}

void fray_player_set_expectations(fray_player_t *p, int on) {
  if (p)
    p->expect_from = on ? 0 : SIZE_MAX;
}

void fray_player_expect_from(fray_player_t *p, size_t step) {
  if (p)
    p->expect_from = step;
}

const fray_script_t *fray_player_script(const fray_player_t *p) {
  return p ? p->script : NULL;
}

const uint8_t *fray_player_transcript(const fray_player_t *p, size_t client, size_t *len) {
  if (!p || client >= p->nclients) {
    *len = 0;
    return NULL;
  }
  *len = p->cl[client].rx_len;
  return p->cl[client].rx;
}

const char *fray_player_error(const fray_player_t *p) {
  return p ? p->err : "";
}

size_t fray_player_step(const fray_player_t *p) {
  return p ? p->step : 0;
}

/* ---- what transports call ------------------------------------------------------ */

__attribute__((format(printf, 4, 0))) static int vfail(fray_player_t *p, fray_fail_kind_t kind,
                                                       size_t client, const char *fmt, va_list ap) {
  fray_result_t *r = p->res;
  r->kind = kind;
  r->step = p->step;
  r->line = p->step < p->nsteps ? p->steps[p->step].line : 0;
  r->client = client;
  int n = vsnprintf(p->msg, sizeof p->msg, fmt, ap);
  /* A fault that struck is named with the failure it may have caused. */
  if (p->fault_note[0] && n >= 0 && (size_t)n < sizeof p->msg)
    snprintf(p->msg + n, sizeof p->msg - (size_t)n, " (after the fault %s)", p->fault_note);
  r->message = p->msg;
  return FRAY_EFAILED;
}

int fray_player_fail(fray_player_t *p, fray_fail_kind_t kind, size_t client, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vfail(p, kind, client, fmt, ap);
  va_end(ap);
  return r;
}

int fray_player_set_error(fray_player_t *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof p->err, fmt, ap);
  va_end(ap);
  return 0;
}

int fray_player_received(fray_player_t *p, size_t client, const uint8_t *data, size_t len) {
  client_t *c = &p->cl[client];
  if (c->gone || !len)
    return 0; /* the client left: the bytes go nowhere */
  if (c->rx_len + len > RX_BOUND)
    return fray_player_fail(p, FRAY_FAIL_BOUND, client, "%s received more than %zu bytes",
                            fray_script_client_name(p->script, client), RX_BOUND);
  if (fray__grow(&p->mem, (void **)&c->rx, &c->rx_cap, c->rx_len + len, 1))
    return FRAY_ENOMEM;
  memcpy(c->rx + c->rx_len, data, len);
  c->rx_len += len;
  if (fray_player_room(p, client) != SIZE_MAX)
    c->room -= len < c->room ? len : c->room;
  trace(p, client, (fray_trace_event_t){.kind = FRAY_TRACE_SEND, .data = data, .len = len});
  return 0;
}

void fray_player_ended(fray_player_t *p, size_t client, int reset) {
  p->cl[client].end = reset ? END_RST : END_FIN;
  trace(p, client,
        (fray_trace_event_t){.kind = FRAY_TRACE_CLOSE,
                             .reason = reset ? FRAY_CLOSE_RESET : FRAY_CLOSE_LOCAL});
}

/* Client leaves early, as fault says: it reads and sends no more until its
 * next open, and nothing is judged from here on (what the others receive
 * may depend on what it would have done). */
static void leave(fray_player_t *p, size_t client, int reset, const char *fault) {
  client_t *c = &p->cl[client];
  c->gone = c->skip = 1;
  if (reset)
    c->opened = 0;
  /* The others' bytes are no longer taken in step with their
   * expectations from here on: none of them is checked again. The leaving
   * client's are, up to where it stopped (cut_short). */
  for (size_t j = 0; j < p->nclients; j++)
    if (j != client)
      p->cl[j].unchecked = 1;
  p->judge_off = 1;
  size_t line = p->step < p->nsteps ? p->steps[p->step].line : 0;
  snprintf(p->fault_note, sizeof p->fault_note, "%s: %s %s at %s %zu", fault,
           fray_script_client_name(p->script, client), reset ? "reset" : "closed",
           line ? "line" : "step", line ? line : p->step + 1);
}

int fray_player_reset_mid_write(fray_player_t *p, size_t client) {
  if (!p || client >= p->nclients || p->cl[client].gone)
    return 0;
  leave(p, client, 1, "reset-mid-write");
  return 1;
}

int fray_player_has_ended(const fray_player_t *p, size_t client) {
  return p->cl[client].end != END_OPEN;
}

/* Whether the client reads now, whatever its window: it is the one the
 * player waits on, or the script is over and every client takes the rest. */
static int reading_now(const fray_player_t *p, size_t client) {
  return p->waiting && (p->wait_kind == FRAY_WAIT_SETTLE || p->wait_client == client);
}

size_t fray_player_room(const fray_player_t *p, size_t client) {
  const client_t *c = &p->cl[client];
  if (c->gone)
    return SIZE_MAX; /* what the server writes to it goes nowhere */
  if (c->stopped_at)
    return c->room;
  return p->window && !reading_now(p, client) ? c->room : SIZE_MAX;
}

int fray__room_changed(const fray_player_t *p, size_t client, fray__room_t *r, size_t *room) {
  size_t want = fray_player_room(p, client), got = (size_t)(r->rx - r->at);
  size_t left = r->told == SIZE_MAX ? SIZE_MAX : got < r->told ? r->told - got : 0;
  if (want == left)
    return 0;
  r->told = *room = want;
  r->at = r->rx;
  return 1;
}

int fray_player_ready(const fray_player_t *p) {
  if (p->wait_kind != FRAY_WAIT_ANSWER && p->wait_kind != FRAY_WAIT_QUIET)
    return 0;
  const fray_step_t *st = &p->steps[p->step];
  const client_t *c = &p->cl[p->wait_client];
  if (c->end != END_OPEN || !c->opened || c->gone || (c->stopped_at && !c->room))
    return 1; /* no more will come, or the client reads no more */
  const uint8_t *got = c->rx ? c->rx + c->rx_pos : (const uint8_t *)"";
  size_t avail = c->rx_len - c->rx_pos;
  if (st->kind == FRAY_STEP_EXPECT) {
    /* Enough bytes, or a difference already. */
    size_t m = avail < st->len ? avail : st->len;
    return avail >= st->len || fray__first_diff(got, st->data, m) < m;
  }
  if (st->kind == FRAY_STEP_EXPECT_REGEX || st->kind == FRAY_STEP_EXPECT_GLOB)
    return memchr(got, '\n', avail) != NULL;
  return avail > 0;
}

/* ---- the walk ------------------------------------------------------------------- */

static int wait(fray_player_t *p, fray_wait_kind_t kind, size_t client) {
  p->wait_kind = kind;
  p->wait_client = client;
  p->waiting = 1;
  int r = p->ops->wait(p->t, kind, client);
  p->waiting = 0;
  p->wait_kind = FRAY_WAIT_DRAIN;
  /* A client under a window fault read all it could while waited on: its
   * receive buffer is empty again, the window whole. */
  for (size_t i = 0; p->window && i < p->nclients; i++)
    if (!p->cl[i].stopped_at && (kind == FRAY_WAIT_SETTLE || i == client))
      p->cl[i].room = p->window;
  return r;
}

/* The client's reading at step i (`stops reading`, `reads N`, `resumes
 * reading`), then what it now takes is moved to it. */
static int read_step(fray_player_t *p, size_t i) {
  const fray_step_t *st = &p->steps[i];
  client_t *c = &p->cl[st->client];
  if (!p->ops->window) {
    fray_player_set_error(p, "line %zu: the %s transport cannot hold a client's reads (%s %s)",
                          st->line, p->ops->name, fray_script_client_name(p->script, st->client),
                          st->reads ? "reads" : "stops reading");
    return FRAY_EUNSUPPORTED;
  }
  if (st->reads == FRAY_READ_ALL) {
    c->stopped_at = 0;
    c->room = p->window ? p->window : SIZE_MAX;
  } else {
    /* Bytes granted add up while the client stays stopped. */
    size_t had = c->stopped_at ? c->room : 0;
    c->room = st->reads > SIZE_MAX - 1 - had ? SIZE_MAX - 1 : had + st->reads;
    c->stopped_at = st->line ? st->line : i + 1;
  }
  return p->ops->window(p->t, st->client);
}

static int deliver_read(void *ctx, const uint8_t *data, size_t n, int last) {
  fray_player_t *p = ctx;
  size_t client = p->steps[p->step].client;
  if (p->cl[client].skip)
    return 0; /* it left in the middle of its send (reset-mid-write) */
  if (p->sched && (p->sched->faults & FRAY_FAULT_READ_GAP) && p->ops->gap &&
      !(fray__rng_next(&p->frng) & 3)) {
    int r = p->ops->gap(p->t, client);
    if (r)
      return r;
  }
  p->reads++;
  trace(p, client, (fray_trace_event_t){.kind = FRAY_TRACE_READ, .data = data, .len = n});
  if (last && p->eof_with_data) {
    snprintf(p->fault_note, sizeof p->fault_note, "eof-with-data: %s's last read of line %zu %s",
             fray_script_client_name(p->script, client), p->steps[p->step].line,
             p->eof_with_data == 2 ? "and its close came together" : "came with its EOF");
    return p->ops->send_eof(p->t, client, data, n, p->eof_with_data == 2);
  }
  return p->ops->send(p->t, client, data, n);
}

/* Whether send step i reaches the server with its client's EOF in its last
 * read: the schedule draws the fault, the transport can inject it, and the
 * client's close (FIN, not RST: a reset drops the answer the whole
 * schedule would have drained) or half-close is the very next step.
 * Returns 0 (no), 1 (a half-close next) or 2 (a close next). */
static int eof_with_data(const fray_player_t *p, size_t i) {
  if (!p->sched || !(p->sched->faults & FRAY_FAULT_EOF_WITH_DATA) || !p->ops->send_eof ||
      i + 1 >= p->nsteps)
    return 0;
  const fray_step_t *next = &p->steps[i + 1];
  if (next->client != p->steps[i].client)
    return 0;
  return next->kind == FRAY_STEP_CLOSE ? 2 : next->kind == FRAY_STEP_SHUTDOWN;
}

/* Lets the step's span pass on the transport's clock. */
static int elapse(fray_player_t *p, const fray_step_t *st) {
  if (p->ops->elapse)
    return p->ops->elapse(p->t, st->ms);
  char span[32];
  fray_player_set_error(p, "line %zu: the %s transport cannot let time pass (%s %s)", st->line,
                        p->ops->name, st->kind == FRAY_STEP_WAIT ? "wait" : "nothing for",
                        fray_script_span_format(st->ms, span, sizeof span));
  return FRAY_EUNSUPPORTED;
}

/* Expectation st of client c, which has left early (a fault): what it
 * received before it left is still the server's answer to the same input
 * as without the fault, so it must read as the client's expectations in
 * order, up to where it stops (a reset in the middle of an answer) or an
 * expectation that is no exact bytes. A FRAY_FAIL_MISMATCH failure when
 * it does not; 0 otherwise. */
static int cut_short(fray_player_t *p, size_t i, const fray_step_t *st, client_t *c) {
  if (!c->skip || c->unchecked || st->kind < FRAY_STEP_EXPECT || i < p->expect_from)
    return 0;
  const uint8_t *got = c->rx ? c->rx + c->rx_pos : (const uint8_t *)"";
  size_t avail = c->rx_len - c->rx_pos, m = avail < st->len ? avail : st->len;
  size_t d = st->kind == FRAY_STEP_EXPECT ? fray__first_diff(got, st->data, m) : m;
  c->unchecked = st->kind != FRAY_STEP_EXPECT || m < st->len;
  if (d == m) {
    c->rx_pos += m;
    return 0;
  }
  char e[160], g[160];
  fray_result_t *res = p->res;
  res->expected = st->data;
  res->expected_len = st->len;
  res->got = got;
  res->got_len = avail;
  res->diff_at = d;
  return fray_player_fail(p, FRAY_FAIL_MISMATCH, st->client,
                          "%s expected %s, got %s before it left (first difference at byte %zu)",
                          fray_script_client_name(p->script, st->client),
                          fray__escape_quoted(e, sizeof e, st->data, st->len),
                          fray__escape_quoted(g, sizeof g, got, avail), d);
}

/* Waits for what the expectation at step i needs, then judges it. */
static int expect_step(fray_player_t *p, size_t i) {
  const fray_step_t *st = &p->steps[i];
  client_t *c = &p->cl[st->client];
  int r;
  /* `< nothing for` waits its span whether or not it is judged: time
   * passes the same for every run. */
  if (st->kind == FRAY_STEP_EXPECT_NOTHING && (r = elapse(p, st)))
    return r;
  if (i < p->expect_from || p->judge_off)
    return wait(p, FRAY_WAIT_DRAIN, st->client);
  /* `< any` takes what has come so far, as a close does; `< nothing for`
   * has waited already. */
  r = wait(p,
           st->kind == FRAY_STEP_EXPECT_EOF_OPT ? FRAY_WAIT_QUIET
           : st->kind == FRAY_STEP_EXPECT_ANY || st->kind == FRAY_STEP_EXPECT_NOTHING
               ? FRAY_WAIT_DRAIN
               : FRAY_WAIT_ANSWER,
           st->client);
  if (r || p->judge_off)
    return r ? r : cut_short(p, i, st, c); /* a client left early while it waited */
  fray__rx_t rx = {.who = fray_script_client_name(p->script, st->client),
                   .rx = c->rx,
                   .len = c->rx_len,
                   .pos = &c->rx_pos,
                   .closed = c->end != END_OPEN,
                   .open = c->opened && c->end == END_OPEN,
                   .end_words = fray__end_words(c->end == END_RST),
                   .nothing = p->words.nothing,
                   .kept_open = p->words.kept_open};
  if (c->stopped_at && !c->room) {
    /* Not the server's silence: the script stopped the client reading. */
    snprintf(p->not_reading, sizeof p->not_reading,
             "nothing more read: %s is not reading (line %zu); what the server sends it waits "
             "in the server's output queue",
             rx.who, c->stopped_at);
    snprintf(p->not_reading_open, sizeof p->not_reading_open,
             " (%s is not reading since line %zu: the server may not close before its output is "
             "written)",
             rx.who, c->stopped_at);
    rx.nothing = p->not_reading;
    rx.kept_open = p->not_reading_open;
  }
  char m[640];
  r = fray__expect_check(&p->mem, st, &rx, p->res, m, sizeof m);
  return r == FRAY_EFAILED ? fray_player_fail(p, p->res->kind, st->client, "%s", m) : r;
}

/* Bytes client i received that no expectation took, as a
 * FRAY_FAIL_UNEXPECTED failure at the current step; 0 when none. */
static int unaccounted(fray_player_t *p, size_t i) {
  client_t *c = &p->cl[i];
  char m[320];
  if (!fray__expect_leftover(fray_script_client_name(p->script, i), c->rx, c->rx_pos, c->rx_len,
                             p->res, m, sizeof m))
    return 0;
  return fray_player_fail(p, FRAY_FAIL_UNEXPECTED, i, "%s", m);
}

/* FRAY_FAULT_CLOSE_MID_SEND, at the close or reset at step i (its client
 * already gone): in one close in two, the first bytes of one of the
 * client's sends of this connection, cut before its first "\n" so that no
 * frame in them is whole, reach the server as one read before the EOF. */
static int close_mid_send(fray_player_t *p, size_t i) {
  if (!p->sched || !(p->sched->faults & FRAY_FAULT_CLOSE_MID_SEND) ||
      (fray__rng_next(&p->frng) & 1))
    return 0;
  size_t client = p->steps[i].client, n = 0, j;
  for (j = p->cl[client].open_step; j < i; j++)
    n += p->steps[j].kind == FRAY_STEP_SEND && p->steps[j].client == client;
  size_t pick = n ? fray__rng_next(&p->frng) % n : 0;
  for (j = p->cl[client].open_step; n && j < i; j++)
    if (p->steps[j].kind == FRAY_STEP_SEND && p->steps[j].client == client && pick-- == 0)
      break;
  const fray_step_t *st = n ? &p->steps[j] : NULL;
  const uint8_t *nl = st && st->len ? memchr(st->data, '\n', st->len) : NULL;
  size_t most = !st ? 0 : nl ? (size_t)(nl - st->data) : st->len - 1;
  if (st && most > st->len - 1)
    most = st->len - 1;
  if (!most)
    return 0;
  size_t len = 1 + (size_t)(fray__rng_next(&p->frng) % most);
  char e[48];
  snprintf(p->fault_note, sizeof p->fault_note, "close-mid-send: %s sent %s, then %s",
           fray_script_client_name(p->script, client),
           fray__escape_quoted(e, sizeof e, st->data, len),
           p->steps[i].kind == FRAY_STEP_RESET ? "reset" : "closed");
  p->reads++;
  p->cl[client].partial = 1;
  trace(p, client, (fray_trace_event_t){.kind = FRAY_TRACE_READ, .data = st->data, .len = len});
  return p->ops->send(p->t, client, st->data, len);
}

/* FRAY_FAULT_RANDOM_CLOSE, struck at step i: its client closes or resets
 * instead, once what the server sent so far has reached the clients. */
static int leave_early(fray_player_t *p, size_t i) {
  size_t client = p->steps[i].client;
  int r = wait(p, FRAY_WAIT_DRAIN, client);
  if (r)
    return r;
  int reset = (int)(fray__rng_next(&p->frng) & 1);
  fray__reads_reset(&p->cutter); /* a read of its held back for a merge never goes */
  leave(p, client, reset, "random-close");
  return p->ops->close(p->t, client, reset);
}

static int play_step(fray_player_t *p, size_t i, size_t *k) {
  const fray_step_t *st = &p->steps[i];
  client_t *c = &p->cl[st->client];
  int r;
  switch (st->kind) {
  case FRAY_STEP_OPEN:
    c->rx_pos = c->rx_len; /* a new connection: expectations start afresh */
    c->gone = c->skip = c->partial = c->unchecked = 0;
    c->open_step = i;
    c->end = END_OPEN;
    c->stopped_at = 0; /* and it reads */
    c->room = p->window ? p->window : SIZE_MAX;
    r = p->ops->open(p->t, st->client);
    c->opened = !r;
    return r;
  case FRAY_STEP_SEND:
    p->eof_with_data = eof_with_data(p, i);
    return fray__reads_send(&p->cutter, p->sched, (*k)++, deliver_read, p);
  case FRAY_STEP_SHUTDOWN:
    return p->ops->shutdown(p->t, st->client);
  case FRAY_STEP_WAIT:
    return elapse(p, st);
  case FRAY_STEP_READ:
    return read_step(p, i);
  case FRAY_STEP_CLOSE:
  case FRAY_STEP_RESET:
    /* What the server sent before the client left is the client's, and
     * what no expectation took of it fails here: it is not carried into
     * the client's next connection. */
    if ((r = wait(p, FRAY_WAIT_DRAIN, st->client)) ||
        (i >= p->expect_from && !p->judge_off && (r = unaccounted(p, st->client))))
      return r;
    c->rx_pos = c->rx_len;
    c->gone = 1;
    if (st->kind == FRAY_STEP_RESET)
      c->opened = 0;
    if ((r = close_mid_send(p, i)))
      return r;
    return p->ops->close(p->t, st->client, st->kind == FRAY_STEP_RESET);
  default:
    return expect_step(p, i);
  }
}

/* Recording (fray__player_record_steps): everything the step caused is
 * moved to the clients, then each client's received length and end noted. */
static int mark_step(fray_player_t *p, size_t i) {
  int r = wait(p, FRAY_WAIT_DRAIN, p->steps[i].client);
  for (size_t c = 0; !r && c < p->nclients; c++) {
    p->marks[i * p->nclients + c] = p->cl[c].rx_len;
    p->ended[i * p->nclients + c] = p->cl[c].end != END_OPEN;
  }
  return r;
}

static int leftovers(fray_player_t *p) {
  int r = 0;
  for (size_t i = 0; i < p->nclients && !r; i++)
    r = unaccounted(p, i);
  return r;
}

static int play_steps(fray_player_t *p) {
  size_t k = 0; /* send number */
  for (size_t i = 0; i < p->nsteps; i++) {
    p->step = i;
    int r = 0;
    if (i && i == p->expect_from) {
      /* Expectations start here: what came before went unchecked. */
      if ((r = wait(p, FRAY_WAIT_DRAIN, p->steps[i].client)))
        return r;
      for (size_t j = 0; j < p->nclients; j++)
        p->cl[j].rx_pos = p->cl[j].rx_len;
    }
    const fray_step_t *st = &p->steps[i];
    if (p->cl[st->client].skip && st->kind != FRAY_STEP_OPEN) {
      k += st->kind == FRAY_STEP_SEND; /* it left early: its steps are dropped */
      if ((r = cut_short(p, i, st, &p->cl[st->client])))
        return r;
      continue;
    }
    if (p->leave_at != SIZE_MAX && leaves_before(st) && p->leave_seen++ == p->leave_at) {
      if ((r = leave_early(p, i)) || (r = cut_short(p, i, st, &p->cl[st->client])))
        return r;
      k += st->kind == FRAY_STEP_SEND;
      continue;
    }
    r = play_step(p, i, &k);
    if (!r && p->marks)
      r = mark_step(p, i);
    if (r)
      return r;
  }
  p->step = p->nsteps;
  int r = wait(p, FRAY_WAIT_SETTLE, 0);
  return r || p->expect_from || p->judge_off ? r : leftovers(p);
}

int fray_player_run(fray_player_t *p, const fray_sched_t *sched, fray_result_t *res) {
  fray_result_t dummy;
  if (!p)
    return FRAY_EINVAL;
  if (!res)
    res = &dummy;
  memset(res, 0, sizeof *res);
  if (sched && sched->nsends && sched->nsends != p->nsends)
    return FRAY_EINVAL;
  p->res = res;
  p->sched = sched;
  p->reads = 0;
  p->step = 0;
  p->err[0] = 0;
  p->wait_kind = FRAY_WAIT_DRAIN;
  p->window = fray_sched_window(sched);
  fray__reads_reset(&p->cutter);
  for (size_t i = 0; i < p->nclients; i++) {
    client_t *c = &p->cl[i];
    c->rx_len = c->rx_pos = 0;
    c->end = END_OPEN;
    c->gone = c->opened = c->skip = c->partial = c->unchecked = 0;
    c->open_step = 0;
    c->stopped_at = 0;
    c->room = SIZE_MAX;
  }
  p->judge_off = 0;
  p->fault_note[0] = 0;
  p->leave_seen = 0;
  p->leave_at = SIZE_MAX;
  p->frng = sched ? sched->fault_seed * 0x9e3779b97f4a7c15ULL + 0xfa17ULL : 0;
  if (sched && (sched->faults & FRAY_FAULT_RANDOM_CLOSE) && p->nleave)
    p->leave_at = (size_t)(fray__rng_next(&p->frng) % p->nleave);
  int r = p->ops->begin(p->t, p, sched);
  if (!r)
    r = play_steps(p);
  int e = p->ops->end(p->t);
  res->reads = p->reads;
  p->sched = NULL;
  return r ? r : e;
}

int fray__player_record_steps(fray_player_t *p, size_t *marks, unsigned char *ended,
                              fray_result_t *res) {
  size_t saved = p->expect_from;
  p->expect_from = SIZE_MAX;
  p->marks = marks;
  p->ended = ended;
  int r = fray_player_run(p, NULL, res);
  p->marks = NULL;
  p->ended = NULL;
  p->expect_from = saved;
  return r;
}

/* ---- split invariance ------------------------------------------------------------ */

static ref_t *ref_at(const fray_player_t *p, unsigned slot, size_t client) {
  return &p->ref[slot * p->nclients + client];
}

/* The slot of the reference a run under sched is compared with. */
static unsigned ref_slot(const fray_player_t *p, const fray_sched_t *sched) {
  size_t w = fray_sched_window(sched);
  if (!w || !p->ref_own || (w & (w - 1)))
    return 0;
  unsigned k = (unsigned)__builtin_ctzll((unsigned long long)w);
  return k + 1 < REF_SLOTS ? k + 1 : 0;
}

static int set_ref(fray_player_t *p, unsigned slot, size_t client, const uint8_t *rx, size_t len,
                   int end) {
  if (!p || client >= p->nclients || end < END_OPEN || end > END_RST)
    return FRAY_ERANGE;
  ref_t *f = ref_at(p, slot, client);
  fray__free(&p->mem, f->rx);
  f->rx = fray__malloc(&p->mem, len);
  f->len = 0;
  if (!f->rx)
    return FRAY_ENOMEM;
  if (len)
    memcpy(f->rx, rx, len);
  f->len = len;
  f->end = end;
  p->ref_have |= 1u << slot;
  return 0;
}

int fray__player_set_reference(fray_player_t *p, size_t client, const uint8_t *rx, size_t len,
                               int end) {
  int r = set_ref(p, 0, client, rx, len, end);
  if (!r) { /* a reference from elsewhere: no window slots */
    p->ref_have = 1;
    p->ref_own = 0;
  }
  return r;
}

int fray__player_reference(const fray_player_t *p, size_t client, const uint8_t **rx, size_t *len,
                           int *end) {
  if (!p || !(p->ref_have & 1) || client >= p->nclients)
    return FRAY_ERANGE;
  *rx = p->ref[client].rx;
  *len = p->ref[client].len;
  *end = p->ref[client].end;
  return 0;
}

int fray__player_end(const fray_player_t *p, size_t client) {
  return p && client < p->nclients ? p->cl[client].end : END_OPEN;
}

/* Runs sched (NULL: whole) and keeps its transcripts in slot. */
static int record_slot(fray_player_t *p, const fray_sched_t *sched, unsigned slot,
                       fray_result_t *res) {
  int r = fray_player_run(p, sched, res);
  if (r == FRAY_ENOMEM || r == FRAY_EINVAL)
    return r;
  for (size_t i = 0; i < p->nclients; i++) {
    const client_t *c = &p->cl[i];
    if (set_ref(p, slot, i, c->rx, c->rx_len, c->end))
      return FRAY_ENOMEM;
  }
  return r;
}

int fray_player_record_reference(fray_player_t *p, fray_result_t *res) {
  p->ref_have = p->ref_tried = 0; /* the window slots of an earlier reference are stale */
  p->ref_own = 1;
  return record_slot(p, NULL, 0, res);
}

/* The whole run under sched's receive window, recorded the first time a
 * run under a window of that size needs it. Returns 0, or FRAY_ENOMEM /
 * FRAY_EINVAL. Only a run that passed exactly is a reference: one that
 * failed or went inexact (a whole run under a window can stall a server in
 * another process) has a truncated transcript, which every later run of
 * that size would differ from. Such a size is tried once, and its runs are
 * not compared. */
static int window_reference(fray_player_t *p, const fray_sched_t *sched, unsigned slot) {
  unsigned bit = 1u << slot;
  if (!slot || (p->ref_tried & bit))
    return 0;
  const fray_sched_t whole = {.faults = FRAY_FAULT_WINDOW, .write_seed = sched->write_seed};
  fray_result_t tmp;
  int r = record_slot(p, &whole, slot, &tmp);
  if (r)
    p->ref_have &= ~bit;
  if (r == FRAY_ENOMEM || r == FRAY_EINVAL)
    return r; /* not tried: the next run of that size tries again */
  p->ref_tried |= bit;
  return 0;
}

/* The first client whose transcript differs from the reference, as a
 * FRAY_FAIL_VARIANCE failure; 0 when none does. */
static int compare_reference(fray_player_t *p, unsigned slot, fray_result_t *res) {
  for (size_t i = 0; i < p->nclients; i++) {
    client_t *c = &p->cl[i];
    ref_t *f = ref_at(p, slot, i);
    const uint8_t *crx = c->rx ? c->rx : (const uint8_t *)"";
    size_t n = c->rx_len < f->len ? c->rx_len : f->len;
    size_t d = fray__first_diff(crx, f->rx, n);
    /* How the server ended a connection whose client had left in the
     * middle of a send (close-mid-send) is nothing the client can see. */
    if (d == n && c->rx_len == f->len && (c->end == f->end || c->partial))
      continue;
    char e[160], g[160];
    p->res = res;
    res->expected = f->rx;
    res->expected_len = f->len;
    res->got = crx;
    res->got_len = c->rx_len;
    res->diff_at = d;
    return fray_player_fail(
        p, FRAY_FAIL_VARIANCE, i,
        "%s's transcript differs from the whole schedule's%s at byte %zu: whole gave %s, "
        "this schedule %s",
        fray_script_client_name(p->script, i), slot ? " (same receive window)" : "", d,
        fray__escape_quoted(e, sizeof e, f->rx + d, f->len - d),
        fray__escape_quoted(g, sizeof g, crx + d, c->rx_len - d));
  }
  return 0;
}

int fray_player_check_invariance(fray_player_t *p, const fray_sched_t *sched, fray_result_t *res) {
  fray_result_t dummy;
  if (!res)
    res = &dummy;
  unsigned slot = ref_slot(p, sched);
  int r = window_reference(p, sched, slot);
  if (!r)
    r = fray_player_run(p, sched, res);
  if (r || !(p->ref_have & (1u << slot)) || p->judge_off)
    return r; /* a client that left early changed what the others receive */
  p->step = p->nsteps;
  return compare_reference(p, slot, res);
}
