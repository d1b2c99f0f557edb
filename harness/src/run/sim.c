/* The simulator (fray/sim.h): the player's in-process transport. The server
 * is a fray_server_t of the handler under test, fresh for every run; each
 * read goes to fray_conn_input(), and after it the server's output is moved
 * into the player's client records (whole, or in the small pieces
 * --short-writes asks for, and no more than a client that is not reading
 * takes: fray_player_room(); the rest stays in the handler's output queue).
 * Nothing here waits: the server answers only input and its timers, and the
 * timers run on a virtual clock that moves only where the script lets time
 * pass (`wait`, `< nothing for`), jumping from one deadline to the next; so
 * every other wait is a drain, and an hour of timers costs what their
 * callbacks cost.
 *
 * The server does not stop reading a client whose output queue is over its
 * high-water mark, as the libevent adapter does: holding a client's input
 * back would reorder it against the other clients' and change a correct
 * handler's transcripts. The handler still sees its queue over the mark. */
#include "fray/sim.h"

#include <malloc.h>
#include <string.h>

#include "core/internal.h"
#include "fray/driver.h"
#include "run/player_internal.h"
#include "run/sim_internal.h"
#include "session/sched_internal.h"

/* Per client, beyond it: FRAY_FAIL_BOUND. As much as a script may expect
 * (fray/script.h), so a recorded download replays. */
#define OUTPUT_BOUND FRAY_SCRIPT_DEFAULT_MAX_BYTES

typedef struct client {
  fray_conn_t *conn;
  int drop; /* the connection being replaced by a re-open: its output goes nowhere */
  /* Set by a read that ends with EOF and a close: only this many more bytes
   * reach the client, those the server queued before it found the EOF. */
  int deaf_after;
  size_t hears;
  int reset; /* reset in the middle of a write (the fault): every later write fails */
} client_t;

struct fray_sim {
  fray_player_t *player; /* owns this transport once created */
  const fray_script_t *script;
  const fray_handler_t *h;
  fray_mem_t mem;
  fray_mem_t srv_mem; /* the server's and its connections' (fray__sim_set_server_mem) */
  size_t nclients, nsends;
  client_t *cl;
  size_t mem_limit; /* heap growth allowed during a run; 0: unchecked */
  size_t mem_base;
  /* Per run */
  fray_player_t *p;
  fray_server_t *srv;
  int quiet;         /* the last pump found every connection idle ... */
  uint64_t quiet_at; /* ... at this fray__server_activity() */
  const fray_sched_t *sched;
  uint64_t wrng;
  uint64_t frng;       /* the draws of the faults struck here (fault_seed) */
  int reset_armed;     /* FRAY_FAULT_RESET_MID_WRITE has yet to strike in this run */
  fray_trace_fn trace; /* fray_sim_set_trace() */
  void *trace_data;
  uint64_t clock; /* the virtual time the last run ended at */
};

static const char *cname(const fray_sim_t *s, size_t i) {
  return fray_script_client_name(s->script, i);
}

/* ---- the fake sockets ------------------------------------------------------ */

/* FRAY_FAULT_RESET_MID_WRITE: in one write in eight (once a run), the
 * client resets while the server writes to it: the write takes only part of
 * len (maybe nothing) and every later one fails (pump() then resets the
 * connection, as a server learns of a reset from a failed write). Returns
 * what the write takes; *strikes is set when the fault struck. */
static size_t reset_mid_write(fray_sim_t *s, client_t *c, size_t len, int *strikes) {
  uint64_t r = fray__rng_next(&s->frng);
  if (r & 7)
    return len;
  *strikes = 1;
  s->reset_armed = 0;
  c->reset = 1;
  return (size_t)((r >> 3) % len);
}

static fray_ssize_t client_write(void *ctx, const uint8_t *data, size_t len) {
  client_t *c = ctx;
  fray_sim_t *s = fray_conn_driver_data(c->conn);
  if (c->reset)
    return FRAY_ECONNRESET;
  /* A client not reading: the socket takes what its window has room for. */
  size_t room = c->drop ? SIZE_MAX : fray_player_room(s->p, (size_t)(c - s->cl));
  if (!room)
    return FRAY_EAGAIN;
  if (room < len)
    len = room;
  if (s->sched && s->sched->short_writes) {
    uint64_t r = fray__rng_next(&s->wrng);
    if (fray__short_eagain(r))
      return FRAY_EAGAIN;
    size_t take = fray__short_take(r);
    if (take < len)
      len = take;
  }
  int strikes = 0;
  if (s->reset_armed && !c->drop)
    len = reset_mid_write(s, c, len, &strikes);
  size_t heard = len;
  if (c->deaf_after) {
    heard = len < c->hears ? len : c->hears;
    c->hears -= heard;
  }
  if (!c->drop && heard) {
    int r = fray_player_received(s->p, (size_t)(c - s->cl), data, heard);
    if (r)
      return r;
  }
  /* The client had what came before the reset; then it leaves (a client
   * already gone is no fault: the write was only short). */
  if (strikes && !fray_player_reset_mid_write(s->p, (size_t)(c - s->cl)))
    c->reset = 0;
  return strikes && !len && c->reset ? FRAY_ECONNRESET : (fray_ssize_t)len;
}

/* Moves server output into the fake sockets: one flush per connection, or
 * until nothing is pending when drain is set. Releases connections that
 * ended. Returns 0, FRAY_EFAILED (bound) or FRAY_ENOMEM. */
static int pump(fray_sim_t *s, int drain) {
  /* Many pumps follow a read that changed nothing on the server (a cut
   * line): with no output queued, no close and no refusal since a pump
   * that left all idle, there is nothing to move or release. */
  uint64_t now = fray__server_activity(s->srv);
  if (s->quiet && now == s->quiet_at)
    return 0;
  int code = 0, idle = 1;
  s->quiet = 0;
  for (size_t i = 0; i < s->nclients; i++) {
    client_t *c = &s->cl[i];
    const char *why, *what = c->conn ? fray__conn_refusal(c->conn, &why, &code) : NULL;
    if (what)
      return fray_player_fail(s->p, FRAY_FAIL_HANDLER, i,
                              "the handler's %s() on %s was refused (%s): %s", what, cname(s, i),
                              fray_strerror(code), why);
    if (!c->conn || fray_conn_idle(c->conn))
      continue;
    /* A fake socket takes at least one byte in every four offers, so this
     * loop ends; the bound guards against a queue that never empties. */
    size_t guard = 0;
    do {
      if (fray_conn_pending(c->conn) > OUTPUT_BOUND)
        return fray_player_fail(s->p, FRAY_FAIL_BOUND, i, "server output to %s grew past %zu bytes",
                                cname(s, i), OUTPUT_BOUND);
      fray_ssize_t w = fray_conn_flush(c->conn, client_write, c);
      if (w == FRAY_ECONNRESET) {
        fray_conn_input_reset(c->conn); /* the failed write is how the server learns */
        break;
      }
      if (w == FRAY_EFAILED)
        return (int)w;
      if (w < 0 && w != FRAY_EAGAIN)
        return fray_player_fail(s->p, FRAY_FAIL_BOUND, i, "flushing output failed: %s",
                                fray_strerror((int)w));
    } while (drain && fray_conn_pending(c->conn) && fray_player_room(s->p, i) &&
             ++guard < (OUTPUT_BOUND >> 2));
    if (fray_conn_should_close(c->conn)) {
      if (!c->drop)
        fray_player_ended(s->p, i, fray_conn_was_aborted(c->conn));
      fray_conn_release(c->conn);
      c->conn = NULL;
    }
    idle &= !c->conn || fray_conn_idle(c->conn); /* what it left, not what it found */
  }
  s->quiet = idle;
  s->quiet_at = now;
  return 0;
}

/* Bytes the C library's heap holds, where it can tell (glibc); 0 elsewhere
 * and under sanitizers, whose allocators answer mallinfo2 with zeros. The
 * memory oracle and the bytewise-memory test share it. */
size_t fray__heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

/* ---- the transport operations ------------------------------------------------ */

static int sim_begin(void *t, fray_player_t *p, const fray_sched_t *sched) {
  fray_sim_t *s = t;
  s->p = p;
  s->sched = sched;
  s->wrng = sched ? sched->write_seed ^ 0x5eed : 0;
  s->frng = sched ? sched->fault_seed ^ 0x5e7ULL : 0;
  s->reset_armed = sched && (sched->faults & FRAY_FAULT_RESET_MID_WRITE);
  if (s->mem_limit)
    s->mem_base = fray__heap_in_use();
  for (size_t i = 0; i < s->nclients; i++)
    s->cl[i] = (client_t){0};
  char why[160];
  if (fray_handler_validate(s->h, why, sizeof why))
    return fray_player_fail(p, FRAY_FAIL_HANDLER, 0, "%s", why);
  int r = fray_server_new(&s->srv, s->h, &s->srv_mem);
  if (r == FRAY_ENOMEM)
    return r;
  if (r)
    return fray_player_fail(p, FRAY_FAIL_HANDLER, 0, "the handler's server_init failed: %s",
                            fray_strerror(r));
  fray_server_set_trace(s->srv, s->trace, s->trace_data);
  s->quiet = 0;
  return 0;
}

static int sim_open(void *t, size_t i) {
  fray_sim_t *s = t;
  client_t *c = &s->cl[i];
  if (c->conn) {
    /* Re-opening a connected client: the old connection is closed first. */
    c->drop = 1;
    fray_conn_input_eof(c->conn);
    int r = pump(s, 1);
    c->drop = 0;
    if (r)
      return r;
    if (c->conn) {
      fray_conn_release(c->conn);
      c->conn = NULL;
    }
  }
  c->deaf_after = c->reset = 0;
  int r = fray_server_open(s->srv, cname(s, i), s, &c->conn);
  return r ? r : pump(s, 0);
}

/* One read, then the EOF in the same read when eof is set: the server gets
 * no flush between the two. closing: the client's close follows, so what
 * the server writes once it has the EOF goes unheard, as it would if the
 * EOF had come after the client left. */
static int sim_read(fray_sim_t *s, size_t i, const uint8_t *data, size_t n, int eof, int closing) {
  client_t *c = &s->cl[i];
  if (c->conn)
    (void)fray_conn_input(c->conn, data, n); /* a closing server drops it, as a socket would */
  if (c->conn && eof) {
    if (closing) {
      c->deaf_after = 1;
      c->hears = fray_conn_pending(c->conn);
    }
    (void)fray_conn_input_eof(c->conn);
  }
  if (s->mem_limit) {
    size_t used = fray__heap_in_use();
    if (used > s->mem_base && used - s->mem_base > s->mem_limit)
      return fray_player_fail(s->p, FRAY_FAIL_BOUND, i,
                              "the heap grew by %zu bytes while the server read (limit %zu): "
                              "memory unbounded by the input",
                              used - s->mem_base, s->mem_limit);
  }
  return pump(s, 0);
}

static int sim_send(void *t, size_t i, const uint8_t *data, size_t n) {
  return sim_read(t, i, data, n, 0, 0);
}

static int sim_send_eof(void *t, size_t i, const uint8_t *data, size_t n, int closing) {
  return sim_read(t, i, data, n, 1, closing);
}

/* A read that finds nothing: the connection is offered zero bytes (a
 * raw-mode handler is woken with them), then a flush, as a server's loop
 * gets after a spurious readiness event. */
static int sim_gap(void *t, size_t i) {
  fray_sim_t *s = t;
  if (s->cl[i].conn)
    (void)fray_conn_input(s->cl[i].conn, (const uint8_t *)"", 0);
  return pump(s, 0);
}

/* Drained as a close is: a half-closed connection the handler then closes
 * is released (its on_close run, and what that sends the others queued)
 * once its output has gone, and a single flush under short writes would
 * leave that to however many pumps the next sends' cuts make. */
static int sim_shutdown(void *t, size_t i) {
  fray_sim_t *s = t;
  if (s->cl[i].conn)
    fray_conn_input_eof(s->cl[i].conn);
  return pump(s, 1);
}

static int sim_close(void *t, size_t i, int reset) {
  fray_sim_t *s = t;
  client_t *c = &s->cl[i];
  if (c->conn) {
    if (reset)
      fray_conn_input_reset(c->conn);
    else
      fray_conn_input_eof(c->conn);
  }
  int r = pump(s, 1);
  if (!r && c->conn && !fray_conn_pending(c->conn) && fray_conn_state(c->conn) != FRAY_CONN_OPEN) {
    fray_conn_release(c->conn);
    c->conn = NULL;
  }
  return r;
}

static int sim_wait(void *t, fray_wait_kind_t kind, size_t client) {
  (void)kind;
  (void)client;
  return pump(t, 1); /* whatever the server will send is there already */
}

/* Timer callbacks run at one instant before the run fails: a timer that
 * restarts itself at 0 ms would otherwise hold the clock forever. (A
 * periodic timer moves the clock, and may fire as often as the span lets.) */
#define INSTANT_FIRINGS ((size_t)1 << 16)

/* The span passes on the server's virtual clock: straight to each deadline
 * within it, its timers fired and their output moved, then to its end. */
static int sim_elapse(void *t, uint64_t ms) {
  fray_sim_t *s = t;
  uint64_t until = fray_server_now(s->srv) + ms, at = UINT64_MAX;
  size_t fired = 0;
  for (uint64_t d; (d = fray_server_next_deadline(s->srv)) <= until;) {
    fired = d == at ? fired : 0;
    at = d;
    fired += fray_server_advance(s->srv, d);
    int r = pump(s, 1);
    if (r)
      return r;
    if (fired > INSTANT_FIRINGS)
      return fray_player_fail(s->p, FRAY_FAIL_BOUND, 0,
                              "the handler's timers fired more than %zu times at one instant (a "
                              "timer restarting itself at 0 ms?)",
                              INSTANT_FIRINGS);
  }
  fray_server_advance(s->srv, until);
  return 0;
}

static int sim_window(void *t, size_t client) {
  (void)client;
  return pump(t, 1); /* a client reading again takes what waits for it */
}

static int sim_end(void *t) {
  fray_sim_t *s = t;
  /* Connections still open end with the server; their state was recorded
   * when the steps ended, so transcripts compare. */
  for (size_t i = 0; i < s->nclients; i++)
    s->cl[i].conn = NULL;
  s->clock = fray_server_now(s->srv);
  fray_server_free(s->srv);
  s->srv = NULL;
  s->sched = NULL;
  return 0;
}

static void sim_free(void *t) {
  fray_sim_t *s = t;
  fray__free(&s->mem, s->cl);
  fray_mem_t m = s->mem;
  fray__free(&m, s);
}

static void sim_words(void *t, fray_transport_words_t *w) {
  (void)t;
  w->nothing = "nothing (the server did not answer)";
  w->kept_open = "";
}

static const fray_transport_ops_t sim_ops = {
    .name = "sim",
    .begin = sim_begin,
    .open = sim_open,
    .send = sim_send,
    .shutdown = sim_shutdown,
    .close = sim_close,
    .wait = sim_wait,
    .end = sim_end,
    .free = sim_free,
    .words = sim_words,
    .send_eof = sim_send_eof,
    .elapse = sim_elapse,
    .window = sim_window,
    .gap = sim_gap,
};

/* ---- the simulator's API --------------------------------------------------------- */

int fray_sim_new(fray_sim_t **out, const fray_script_t *script, const fray_handler_t *h,
                 const fray_mem_t *mem) {
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  if (!script || !h)
    return FRAY_EINVAL;
  fray_mem_t m;
  fray__mem_init(&m, mem);
  fray_sim_t *s = fray__malloc(&m, sizeof *s);
  if (!s)
    return FRAY_ENOMEM;
  memset(s, 0, sizeof *s);
  s->mem = m;
  s->srv_mem = m;
  s->script = script;
  s->h = h;
  s->nclients = fray_script_nclients(script);
  s->nsends = fray_sched_nsends(script);
  s->cl = fray__malloc(&m, (s->nclients ? s->nclients : 1) * sizeof *s->cl);
  int r = s->cl ? fray_player_new(&s->player, script, &sim_ops, s, &m) : FRAY_ENOMEM;
  if (r) {
    sim_free(s);
    return r;
  }
  memset(s->cl, 0, (s->nclients ? s->nclients : 1) * sizeof *s->cl);
  *out = s;
  return 0;
}

void fray_sim_free(fray_sim_t *s) {
  if (s)
    fray_player_free(s->player); /* frees s through sim_free */
}

fray_player_t *fray_sim_player(fray_sim_t *s) {
  return s ? s->player : NULL;
}

int fray_sim_run(fray_sim_t *s, const fray_sched_t *sched, fray_sim_result_t *res) {
  return s ? fray_player_run(s->player, sched, res) : FRAY_EINVAL;
}

int fray_sim_record_reference(fray_sim_t *s, fray_sim_result_t *res) {
  return s ? fray_player_record_reference(s->player, res) : FRAY_EINVAL;
}

int fray_sim_check_invariance(fray_sim_t *s, const fray_sched_t *sched, fray_sim_result_t *res) {
  return s ? fray_player_check_invariance(s->player, sched, res) : FRAY_EINVAL;
}

void fray_sim_set_expectations(fray_sim_t *s, int on) {
  if (s)
    fray_player_set_expectations(s->player, on);
}

void fray_sim_expect_from(fray_sim_t *s, size_t step) {
  if (s)
    fray_player_expect_from(s->player, step);
}

void fray_sim_set_trace(fray_sim_t *s, fray_trace_fn fn, void *user_data) {
  s->trace = fn;
  s->trace_data = user_data;
}

uint64_t fray_sim_clock(const fray_sim_t *s) {
  return s ? s->clock : 0;
}

void fray_sim_set_mem_limit(fray_sim_t *s, size_t bytes) {
  if (s)
    s->mem_limit = bytes;
}

size_t fray_sim_nsends(const fray_sim_t *s) {
  return s ? s->nsends : 0;
}

const fray_step_t *fray_sim_send_step(const fray_sim_t *s, size_t i) {
  size_t n;
  const fray_step_t *steps = s ? fray_script_steps(s->script, &n) : NULL;
  for (size_t k = 0; steps && k < n; k++)
    if (steps[k].kind == FRAY_STEP_SEND && i-- == 0)
      return &steps[k];
  return NULL;
}

const fray_script_t *fray__sim_script(const fray_sim_t *s) {
  return s->script;
}

const fray_handler_t *fray__sim_handler(const fray_sim_t *s) {
  return s->h;
}

const fray_mem_t *fray__sim_mem(const fray_sim_t *s) {
  return &s->mem;
}

void fray__sim_set_server_mem(fray_sim_t *s, const fray_mem_t *mem) {
  s->srv_mem = *mem;
}

int fray__sim_record_steps(fray_sim_t *s, size_t *marks, unsigned char *ended,
                           fray_sim_result_t *res) {
  return fray__player_record_steps(s->player, marks, ended, res);
}

const uint8_t *fray__sim_received(const fray_sim_t *s, size_t client) {
  size_t len;
  return fray_player_transcript(s->player, client, &len);
}
