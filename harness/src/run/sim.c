/* The simulator: a script, a handler and a schedule in; a verdict out.
 *
 * One run walks the script's steps against a fresh server. Each send is
 * delivered as the reads the schedule cuts it into; after every read the
 * server's output is moved into the clients' fake sockets (whole, or in the
 * small pieces --short-writes asks for). Expectations read what a client
 * received so far. Nothing here waits: the server can only answer input. */
#include "fray/sim.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/escape_internal.h"
#include "run/expect_internal.h"
#include "core/internal.h"
#include "session/reads_internal.h"
#include "run/sim_internal.h"

/* Per client, beyond it: FRAY_FAIL_BOUND. As much as a script may expect
 * (fray/script.h), so a recorded download replays. */
#define OUTPUT_BOUND FRAY_SCRIPT_DEFAULT_MAX_BYTES

enum { END_OPEN = 0, END_FIN = 1, END_RST = 2 };

typedef struct client {
  fray_conn_t *conn;
  uint8_t *rx;                   /* everything received this run */
  size_t rx_len, rx_cap, rx_pos; /* rx_pos: bytes matched by expectations */
  int end;                       /* how the server ended the last connection */
  int gone;                      /* the client closed or reset: it reads no more */
} client_t;

typedef struct ref {
  uint8_t *rx;
  size_t len;
  int end;
} ref_t;

struct fray_sim {
  const fray_script_t *script;
  const fray_handler_t *h;
  fray_mem_t mem;
  const fray_step_t *steps;
  size_t nsteps;
  size_t nclients;
  client_t *cl;
  size_t nsends;
  size_t *send_step; /* send number -> step index */
  ref_t *ref;
  int have_ref;
  size_t expect_from; /* expectations are checked from this step on */
  size_t mem_limit;   /* heap growth allowed during a run; 0: unchecked */
  size_t mem_base;
  /* Per run */
  fray_server_t *srv;
  const fray_sched_t *sched;
  uint64_t wrng;
  uint64_t reads;
  fray__reads_t cutter; /* sends into reads under the schedule */
  fray_sim_result_t *res;
  size_t *marks;        /* fray__sim_record_steps: per step and client, rx_len after it */
  unsigned char *ended; /* ... and whether the server had ended the connection */
  char msg[640];
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t next_rand(uint64_t *s) {
  /* splitmix64: tiny, seedable, good enough for schedules. */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

const char *fray_fail_kind_name(fray_fail_kind_t k) {
  switch (k) {
  case FRAY_FAIL_NONE:
    return "pass";
  case FRAY_FAIL_MISMATCH:
    return "mismatch";
  case FRAY_FAIL_MISSING:
    return "missing";
  case FRAY_FAIL_CLOSED:
    return "closed";
  case FRAY_FAIL_NOT_CLOSED:
    return "not-closed";
  case FRAY_FAIL_UNEXPECTED:
    return "unexpected";
  case FRAY_FAIL_VARIANCE:
    return "variance";
  case FRAY_FAIL_BOUND:
    return "bound";
  case FRAY_FAIL_HANDLER:
    return "handler";
  }
  return "unknown";
}

/* ---- creation ----------------------------------------------------------- */

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
  s->script = script;
  s->h = h;
  s->steps = fray_script_steps(script, &s->nsteps);
  s->nclients = fray_script_nclients(script);
  s->cl = fray__malloc(&m, (s->nclients ? s->nclients : 1) * sizeof *s->cl);
  s->ref = fray__malloc(&m, (s->nclients ? s->nclients : 1) * sizeof *s->ref);
  s->send_step = fray__malloc(&m, (s->nsteps ? s->nsteps : 1) * sizeof *s->send_step);
  if (!s->cl || !s->ref || !s->send_step) {
    s->nclients = 0; /* cl and ref hold garbage: no client buffers to free */
    fray_sim_free(s);
    return FRAY_ENOMEM;
  }
  memset(s->cl, 0, (s->nclients ? s->nclients : 1) * sizeof *s->cl);
  memset(s->ref, 0, (s->nclients ? s->nclients : 1) * sizeof *s->ref);
  for (size_t i = 0; i < s->nsteps; i++)
    if (s->steps[i].kind == FRAY_STEP_SEND)
      s->send_step[s->nsends++] = i;
  fray__reads_init(&s->cutter, &s->mem, s->steps, s->send_step, s->nsends);
  *out = s;
  return 0;
}

void fray_sim_free(fray_sim_t *s) {
  if (!s)
    return;
  if (s->cl)
    for (size_t i = 0; i < s->nclients; i++)
      fray__free(&s->mem, s->cl[i].rx);
  if (s->ref)
    for (size_t i = 0; i < s->nclients; i++)
      fray__free(&s->mem, s->ref[i].rx);
  fray__free(&s->mem, s->cl);
  fray__free(&s->mem, s->ref);
  fray__free(&s->mem, s->send_step);
  fray__reads_free(&s->cutter);
  fray_mem_t m = s->mem;
  fray__free(&m, s);
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

void fray_sim_set_expectations(fray_sim_t *s, int on) {
  if (s)
    s->expect_from = on ? 0 : SIZE_MAX;
}

void fray_sim_expect_from(fray_sim_t *s, size_t step) {
  if (s)
    s->expect_from = step;
}

void fray_sim_set_mem_limit(fray_sim_t *s, size_t bytes) {
  if (s)
    s->mem_limit = bytes;
}

size_t fray_sim_nsends(const fray_sim_t *s) {
  return s ? s->nsends : 0;
}

const fray_step_t *fray_sim_send_step(const fray_sim_t *s, size_t i) {
  return s && i < s->nsends ? &s->steps[s->send_step[i]] : NULL;
}

/* ---- failures ------------------------------------------------------------ */

__attribute__((format(printf, 5, 6))) static int
fail(fray_sim_t *s, fray_fail_kind_t kind, size_t step, size_t client, const char *fmt, ...) {
  fray_sim_result_t *r = s->res;
  r->kind = kind;
  r->step = step;
  r->line = step < s->nsteps ? s->steps[step].line : 0;
  r->client = client;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->msg, sizeof s->msg, fmt, ap);
  va_end(ap);
  r->message = s->msg;
  return FRAY_EFAILED;
}

/* ---- the fake sockets -------------------------------------------------- */

static fray_ssize_t client_write(void *ctx, const uint8_t *data, size_t len) {
  client_t *c = ctx;
  fray_sim_t *s = (fray_sim_t *)fray_conn_driver_data(c->conn);
  if (s->sched && s->sched->short_writes) {
    uint64_t r = next_rand(&s->wrng);
    if ((r & 3) == 0)
      return FRAY_EAGAIN;
    size_t take = 1 + (size_t)((r >> 2) % 16);
    if (take < len)
      len = take;
  }
  if (c->gone)
    return (fray_ssize_t)len; /* the peer is gone: the bytes go nowhere */
  if (fray__grow(&s->mem, (void **)&c->rx, &c->rx_cap, c->rx_len + len, 1))
    return FRAY_ENOMEM;
  memcpy(c->rx + c->rx_len, data, len);
  c->rx_len += len;
  return (fray_ssize_t)len;
}

/* Moves server output into the fake sockets: one flush per connection, or
 * until nothing is pending when drain is set. Releases connections that
 * ended. Returns 0 or FRAY_EFAILED (bound). */
static int pump(fray_sim_t *s, int drain, size_t step) {
  for (size_t i = 0; i < s->nclients; i++) {
    client_t *c = &s->cl[i];
    if (!c->conn || fray_conn_idle(c->conn))
      continue;
    /* A fake socket takes at least one byte in every four offers, so this
     * loop ends; the bound guards against a queue that never empties. */
    size_t guard = 0;
    do {
      if (fray_conn_pending(c->conn) > OUTPUT_BOUND)
        return fail(s, FRAY_FAIL_BOUND, step, i, "server output to %s grew past %zu bytes",
                    fray_script_client_name(s->script, i), OUTPUT_BOUND);
      fray_ssize_t w = fray_conn_flush(c->conn, client_write, c);
      if (w < 0 && w != FRAY_EAGAIN)
        return fail(s, FRAY_FAIL_BOUND, step, i, "flushing output failed: %s",
                    fray_strerror((int)w));
      if (c->rx_len > OUTPUT_BOUND)
        return fail(s, FRAY_FAIL_BOUND, step, i, "%s received more than %zu bytes",
                    fray_script_client_name(s->script, i), OUTPUT_BOUND);
    } while (drain && fray_conn_pending(c->conn) && ++guard < (OUTPUT_BOUND >> 2));
    if (fray_conn_should_close(c->conn)) {
      c->end = fray_conn_was_aborted(c->conn) ? END_RST : END_FIN;
      fray_conn_release(c->conn);
      c->conn = NULL;
    }
  }
  return 0;
}

/* ---- delivering sends ----------------------------------------------------- */

/* Bytes the C library's heap holds, where it can tell (glibc); 0 elsewhere
 * and under sanitizers, whose allocators answer mallinfo2 with zeros. */
static size_t heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

static int deliver(fray_sim_t *s, client_t *c, const uint8_t *p, size_t n, size_t step) {
  if (!n)
    return 0;
  s->reads++;
  if (c->conn)
    (void)fray_conn_input(c->conn, p, n); /* a closing server drops it, as a socket would */
  if (s->mem_limit) {
    size_t used = heap_in_use();
    if (used > s->mem_base && used - s->mem_base > s->mem_limit)
      return fail(s, FRAY_FAIL_BOUND, step, (size_t)(c - s->cl),
                  "the heap grew by %zu bytes while the server read (limit %zu): memory "
                  "unbounded by the input",
                  used - s->mem_base, s->mem_limit);
  }
  return pump(s, 0, step);
}

typedef struct read_ctx {
  fray_sim_t *s;
  client_t *c;
  size_t step;
} read_ctx_t;

static int deliver_read(void *ctx, const uint8_t *p, size_t n) {
  read_ctx_t *x = ctx;
  return deliver(x->s, x->c, p, n, x->step);
}

static int run_send(fray_sim_t *s, size_t idx, size_t k) {
  read_ctx_t x = {s, &s->cl[s->steps[idx].client], idx};
  return fray__reads_send(&s->cutter, s->sched, k, deliver_read, &x);
}

/* ---- expectations ----------------------------------------------------------- */

/* Checks the expectation at step idx against what its client has received. */
static int expect_step(fray_sim_t *s, size_t idx) {
  const fray_step_t *st = &s->steps[idx];
  client_t *c = &s->cl[st->client];
  fray__rx_t rx = {.who = fray_script_client_name(s->script, st->client),
                   .rx = c->rx,
                   .len = c->rx_len,
                   .pos = &c->rx_pos,
                   .closed = !c->conn && c->end != END_OPEN,
                   .open = c->conn != NULL,
                   .end_words = fray__end_words(c->end == END_RST),
                   .nothing = "nothing (the server did not answer)",
                   .kept_open = ""};
  char m[640];
  int r = fray__expect_check(&s->mem, st, &rx, s->res, m, sizeof m);
  return r == FRAY_EFAILED ? fail(s, s->res->kind, idx, st->client, "%s", m) : r;
}

/* ---- one run ------------------------------------------------------------- */

/* Recording (fray__sim_record_steps): everything the step caused is moved
 * to the clients, then each client's received length and end noted. */
static int mark_step(fray_sim_t *s, size_t i) {
  int r = pump(s, 1, i);
  for (size_t c = 0; !r && c < s->nclients; c++) {
    s->marks[i * s->nclients + c] = s->cl[c].rx_len;
    s->ended[i * s->nclients + c] = s->cl[c].end != END_OPEN;
  }
  return r;
}

static int run_steps(fray_sim_t *s) {
  size_t k = 0; /* send number */
  for (size_t i = 0; i < s->nsteps; i++) {
    const fray_step_t *st = &s->steps[i];
    client_t *c = &s->cl[st->client];
    int r = 0;
    if (i && i == s->expect_from) {
      /* Expectations start here: what came before went unchecked. */
      if ((r = pump(s, 1, i)))
        return r;
      for (size_t j = 0; j < s->nclients; j++)
        s->cl[j].rx_pos = s->cl[j].rx_len;
    }
    switch (st->kind) {
    case FRAY_STEP_OPEN:
      if (c->conn) {
        /* Re-opening a connected client: the old connection is closed first. */
        fray_conn_input_eof(c->conn);
        if ((r = pump(s, 1, i)))
          return r;
        if (c->conn) {
          fray_conn_release(c->conn);
          c->conn = NULL;
        }
      }
      c->gone = 0;
      c->end = END_OPEN;
      r = fray_server_open(s->srv, fray_script_client_name(s->script, st->client), s, &c->conn);
      if (r)
        return r;
      r = pump(s, 0, i);
      break;
    case FRAY_STEP_SEND:
      r = run_send(s, i, k++);
      break;
    case FRAY_STEP_SHUTDOWN:
      if (c->conn)
        fray_conn_input_eof(c->conn);
      r = pump(s, 0, i);
      break;
    case FRAY_STEP_CLOSE:
    case FRAY_STEP_RESET:
      if ((r = pump(s, 1, i)))
        return r;
      if (c->conn) {
        if (st->kind == FRAY_STEP_CLOSE)
          fray_conn_input_eof(c->conn);
        else
          fray_conn_input_reset(c->conn);
      }
      c->gone = 1;
      r = pump(s, 1, i);
      if (!r && c->conn && !fray_conn_pending(c->conn) &&
          fray_conn_state(c->conn) != FRAY_CONN_OPEN) {
        fray_conn_release(c->conn);
        c->conn = NULL;
      }
      break;
    case FRAY_STEP_EXPECT:
    case FRAY_STEP_EXPECT_REGEX:
    case FRAY_STEP_EXPECT_GLOB:
    case FRAY_STEP_EXPECT_EOF:
    case FRAY_STEP_EXPECT_EOF_OPT:
      if (i < s->expect_from) {
        r = pump(s, 1, i);
        break;
      }
      if ((r = pump(s, 1, i)))
        break;
      r = expect_step(s, i);
      break;
    }
    if (!r && s->marks)
      r = mark_step(s, i);
    if (r)
      return r;
  }
  int r = pump(s, 1, s->nsteps);
  if (r || s->expect_from)
    return r;
  for (size_t i = 0; i < s->nclients; i++) {
    char m[320];
    if (fray__expect_leftover(fray_script_client_name(s->script, i), s->cl[i].rx, s->cl[i].rx_pos,
                              s->cl[i].rx_len, s->res, m, sizeof m))
      return fail(s, FRAY_FAIL_UNEXPECTED, s->nsteps, i, "%s", m);
  }
  return 0;
}

int fray_sim_run(fray_sim_t *s, const fray_sched_t *sched, fray_sim_result_t *res) {
  fray_sim_result_t dummy;
  if (!s)
    return FRAY_EINVAL;
  if (!res)
    res = &dummy;
  memset(res, 0, sizeof *res);
  if (sched && sched->nsends && sched->nsends != s->nsends)
    return FRAY_EINVAL;
  s->res = res;
  s->sched = sched;
  s->wrng = sched ? sched->write_seed ^ 0x5eed : 0;
  s->reads = 0;
  fray__reads_reset(&s->cutter);
  if (s->mem_limit)
    s->mem_base = heap_in_use();
  for (size_t i = 0; i < s->nclients; i++) {
    client_t *c = &s->cl[i];
    c->conn = NULL;
    c->rx_len = c->rx_pos = 0;
    c->end = END_OPEN;
    c->gone = 0;
  }
  int r = fray_server_new(&s->srv, s->h, &s->mem);
  if (r == FRAY_ENOMEM)
    return r;
  if (r)
    return fail(s, FRAY_FAIL_HANDLER, 0, 0, "the handler's server_init failed: %s",
                fray_strerror(r));
  r = run_steps(s);
  /* Connections still open end with the server; their state is recorded
   * first so transcripts compare. */
  for (size_t i = 0; i < s->nclients; i++)
    s->cl[i].conn = NULL;
  fray_server_free(s->srv);
  s->srv = NULL;
  res->reads = s->reads;
  s->sched = NULL;
  return r;
}

int fray__sim_record_steps(fray_sim_t *s, size_t *marks, unsigned char *ended,
                           fray_sim_result_t *res) {
  size_t saved = s->expect_from;
  s->expect_from = SIZE_MAX;
  s->marks = marks;
  s->ended = ended;
  int r = fray_sim_run(s, NULL, res);
  s->marks = NULL;
  s->ended = NULL;
  s->expect_from = saved;
  return r;
}

const uint8_t *fray__sim_received(const fray_sim_t *s, size_t client) {
  return client < s->nclients ? s->cl[client].rx : NULL;
}

/* ---- split invariance ------------------------------------------------------ */

int fray_sim_record_reference(fray_sim_t *s, fray_sim_result_t *res) {
  int r = fray_sim_run(s, NULL, res);
  if (r == FRAY_ENOMEM || r == FRAY_EINVAL)
    return r;
  for (size_t i = 0; i < s->nclients; i++) {
    client_t *c = &s->cl[i];
    ref_t *f = &s->ref[i];
    fray__free(&s->mem, f->rx);
    f->rx = fray__malloc(&s->mem, c->rx_len);
    if (!f->rx)
      return FRAY_ENOMEM;
    if (c->rx_len)
      memcpy(f->rx, c->rx, c->rx_len);
    f->len = c->rx_len;
    f->end = c->end;
  }
  s->have_ref = 1;
  return r;
}

int fray_sim_check_invariance(fray_sim_t *s, const fray_sched_t *sched, fray_sim_result_t *res) {
  fray_sim_result_t dummy;
  if (!res)
    res = &dummy;
  int r = fray_sim_run(s, sched, res);
  if (r || !s->have_ref)
    return r;
  for (size_t i = 0; i < s->nclients; i++) {
    client_t *c = &s->cl[i];
    ref_t *f = &s->ref[i];
    const uint8_t *crx = c->rx ? c->rx : (const uint8_t *)"";
    size_t n = c->rx_len < f->len ? c->rx_len : f->len;
    size_t d = fray__first_diff(crx, f->rx, n);
    if (d < n || c->rx_len != f->len || c->end != f->end) {
      char e[160], g[160];
      s->res = res;
      res->expected = f->rx;
      res->expected_len = f->len;
      res->got = crx;
      res->got_len = c->rx_len;
      res->diff_at = d;
      return fail(s, FRAY_FAIL_VARIANCE, s->nsteps, i,
                  "%s's transcript differs from the whole schedule's at byte %zu: whole gave %s, "
                  "this schedule %s",
                  fray_script_client_name(s->script, i), d,
                  fray__escape_quoted(e, sizeof e, f->rx + d, f->len - d),
                  fray__escape_quoted(g, sizeof g, crx + d, c->rx_len - d));
    }
  }
  return 0;
}

/* ---- schedule buffers -------------------------------------------------------- */

struct fray_sched_buf {
  const fray_sim_t *sim;
  fray_mem_t mem;
  fray_sched_send_t *sends;
  size_t **cuts; /* per send, capacity caps[i] */
  size_t *caps;
  fray_sched_t view;
};

int fray_sched_buf_new(fray_sched_buf_t **out, const fray_sim_t *sim) {
  if (!out || !sim)
    return FRAY_EINVAL;
  *out = NULL;
  fray_sched_buf_t *b = fray__malloc(&sim->mem, sizeof *b);
  if (!b)
    return FRAY_ENOMEM;
  memset(b, 0, sizeof *b);
  b->sim = sim;
  b->mem = sim->mem;
  size_t n = sim->nsends ? sim->nsends : 1;
  b->sends = fray__malloc(&b->mem, n * sizeof *b->sends);
  b->cuts = fray__malloc(&b->mem, n * sizeof *b->cuts);
  b->caps = fray__malloc(&b->mem, n * sizeof *b->caps);
  if (b->cuts) /* before the check: the free walks it */
    memset(b->cuts, 0, n * sizeof *b->cuts);
  if (!b->sends || !b->cuts || !b->caps) {
    fray_sched_buf_free(b);
    return FRAY_ENOMEM;
  }
  memset(b->sends, 0, n * sizeof *b->sends);
  memset(b->caps, 0, n * sizeof *b->caps);
  b->view.sends = b->sends;
  b->view.nsends = sim->nsends;
  *out = b;
  return 0;
}

void fray_sched_buf_free(fray_sched_buf_t *b) {
  if (!b)
    return;
  if (b->cuts)
    for (size_t i = 0; i < b->sim->nsends; i++)
      fray__free(&b->mem, b->cuts[i]);
  fray__free(&b->mem, b->cuts);
  fray__free(&b->mem, b->caps);
  fray__free(&b->mem, b->sends);
  fray_mem_t m = b->mem;
  fray__free(&m, b);
}

const fray_sched_t *fray_sched_buf_view(const fray_sched_buf_t *b) {
  return b ? &b->view : NULL;
}

static void sched_clear(fray_sched_buf_t *b) {
  for (size_t i = 0; i < b->sim->nsends; i++) {
    b->sends[i].cuts = b->cuts[i];
    b->sends[i].ncuts = 0;
    b->sends[i].merge_next = 0;
  }
  b->view.short_writes = 0;
  b->view.write_seed = 0;
}

static int sched_reserve(fray_sched_buf_t *b, size_t i, size_t n) {
  if (fray__grow(&b->mem, (void **)&b->cuts[i], &b->caps[i], n, sizeof(size_t)))
    return FRAY_ENOMEM;
  b->sends[i].cuts = b->cuts[i];
  return 0;
}

int fray_sched_bytewise(fray_sched_buf_t *b) {
  if (!b)
    return FRAY_EINVAL;
  sched_clear(b);
  for (size_t i = 0; i < b->sim->nsends; i++) {
    size_t len = fray_sim_send_step(b->sim, i)->len;
    if (len < 2)
      continue;
    if (sched_reserve(b, i, len - 1))
      return FRAY_ENOMEM;
    for (size_t p = 1; p < len; p++)
      b->cuts[i][p - 1] = p;
    b->sends[i].ncuts = len - 1;
  }
  return 0;
}

/* A position worth cutting at: where framing bugs live. */
static int interesting(const uint8_t *d, size_t len, size_t p) {
  if (p == 1 || p == len - 1)
    return 1;
  uint8_t a = d[p - 1], z = d[p];
  /* Around line ends and NULs, and at word starts (command | argument). */
  return a == '\r' || a == '\n' || a == 0 || z == '\r' || z == '\n' || z == 0 ||
         (a == ' ' && z != ' ');
}

static size_t pick_cut(const uint8_t *d, size_t len, uint64_t *rng) {
  uint64_t r = next_rand(rng);
  if ((r & 3) != 0) {
    /* Three in four cuts land on an interesting position, if there is one:
     * scan from a random start. */
    size_t start = 1 + (size_t)((r >> 2) % (len - 1));
    for (size_t k = 0; k < len - 1; k++) {
      size_t p = 1 + (start - 1 + k) % (len - 1);
      if (interesting(d, len, p))
        return p;
    }
  }
  return 1 + (size_t)((r >> 8) % (len - 1));
}

int fray_sched_random(fray_sched_buf_t *b, uint64_t seed, int short_writes) {
  if (!b)
    return FRAY_EINVAL;
  sched_clear(b);
  uint64_t rng = seed * 0x100000001b3ULL + 0xcbf29ce484222325ULL;
  const fray_sim_t *s = b->sim;
  for (size_t i = 0; i < s->nsends; i++) {
    const fray_step_t *st = fray_sim_send_step(s, i);
    uint64_t r = next_rand(&rng);
    if (i + 1 < s->nsends && (r & 1))
      b->sends[i].merge_next = 1; /* fray_sim_run ignores it unless the next step fits */
    if (st->len < 2)
      continue;
    static const unsigned char ncut_table[8] = {0, 0, 1, 1, 1, 2, 2, 3};
    size_t n = ncut_table[(r >> 1) & 7];
    if (n > st->len - 1)
      n = st->len - 1;
    if (sched_reserve(b, i, n ? n : 1))
      return FRAY_ENOMEM;
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
      size_t p = pick_cut(st->data, st->len, &rng);
      /* Insert sorted, skipping duplicates. */
      size_t j = m;
      while (j > 0 && b->cuts[i][j - 1] > p)
        j--;
      if (j > 0 && b->cuts[i][j - 1] == p)
        continue;
      memmove(&b->cuts[i][j + 1], &b->cuts[i][j], (m - j) * sizeof(size_t));
      b->cuts[i][j] = p;
      m++;
    }
    b->sends[i].ncuts = m;
  }
  b->view.short_writes = short_writes;
  b->view.write_seed = seed;
  return 0;
}

/* C(n, k) saturating at SIZE_MAX. */
static size_t binom(size_t n, size_t k) {
  if (k > n)
    return 0;
  if (k > n - k)
    k = n - k;
  size_t r = 1;
  for (size_t i = 1; i <= k; i++) {
    /* r * (n - k + i) / i, exact at every step; saturate on overflow. */
    size_t num = n - k + i;
    if (r > SIZE_MAX / num)
      return SIZE_MAX;
    r = r * num / i;
  }
  return r;
}

static size_t sat_add(size_t a, size_t b) {
  return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t send_placements(size_t len, size_t max_cuts) {
  size_t total = 0, slots = len ? len - 1 : 0;
  for (size_t k = 1; k <= max_cuts && k <= slots; k++)
    total = sat_add(total, binom(slots, k));
  return total;
}

size_t fray_sched_exhaustive_count(const fray_sim_t *s, size_t max_cuts) {
  size_t total = 1;
  for (size_t i = 0; s && i < s->nsends; i++)
    total = sat_add(total, send_placements(fray_sim_send_step(s, i)->len, max_cuts));
  return total;
}

int fray_sched_exhaustive(fray_sched_buf_t *b, size_t max_cuts, size_t index) {
  if (!b)
    return FRAY_EINVAL;
  sched_clear(b);
  if (index == 0)
    return 0;
  index--;
  const fray_sim_t *s = b->sim;
  for (size_t i = 0; i < s->nsends; i++) {
    size_t len = fray_sim_send_step(s, i)->len, slots = len ? len - 1 : 0;
    for (size_t k = 1; k <= max_cuts && k <= slots; k++) {
      size_t c = binom(slots, k);
      if (index >= c) {
        index -= c;
        continue;
      }
      /* Unrank combination `index` of k positions among 1..slots, in
       * lexicographic order. */
      if (sched_reserve(b, i, k))
        return FRAY_ENOMEM;
      size_t p = 1;
      for (size_t j = 0; j < k; j++) {
        for (;; p++) {
          size_t rest = binom(slots - p, k - j - 1);
          if (index < rest)
            break;
          index -= rest;
        }
        b->cuts[i][j] = p++;
      }
      b->sends[i].ncuts = k;
      return 0;
    }
  }
  return FRAY_EINVAL; /* index past the count */
}

char *fray_sched_describe(const fray_sim_t *s, const fray_sched_t *sched, char *buf, size_t size) {
  if (!size)
    return buf;
  size_t o = 0;
  buf[0] = 0;
  int any = 0;
#define PUT(...)                                                                                   \
  do {                                                                                             \
    if (o < size) {                                                                                \
      int n_ = snprintf(buf + o, size - o, __VA_ARGS__);                                           \
      o = n_ < 0 ? size : o + (size_t)n_;                                                          \
    }                                                                                              \
  } while (0)
  for (size_t k = 0; s && sched && k < sched->nsends && k < s->nsends; k++) {
    const fray_sched_send_t *ss = &sched->sends[k];
    const fray_step_t *st = fray_sim_send_step(s, k);
    int merged = ss->merge_next && k + 1 < s->nsends &&
                 s->send_step[k + 1] == s->send_step[k] + 1 &&
                 s->steps[s->send_step[k + 1]].client == st->client;
    if (!ss->ncuts && !merged)
      continue;
    /* Steps built in memory (a decoded fuzz input) have no script line:
     * they are named by their send number instead. */
    if (st->line)
      PUT("%sline %zu %s> ", any ? "; " : "", st->line,
          fray_script_client_name(s->script, st->client));
    else
      PUT("%ssend %zu %s> ", any ? "; " : "", k + 1,
          fray_script_client_name(s->script, st->client));
    any = 1;
    size_t prev = 0;
    for (size_t i = 0; i <= ss->ncuts; i++) {
      size_t end = i < ss->ncuts ? ss->cuts[i] : st->len;
      char piece[72];
      PUT("%s%s", i ? " | " : "",
          fray__escape_quoted(piece, sizeof piece, st->data + prev, end - prev));
      prev = end;
    }
    if (merged)
      PUT(" + (merged with the next send)");
  }
  if (sched && sched->short_writes)
    PUT("%sshort writes (seed %llu)", any ? "; " : "", (unsigned long long)sched->write_seed);
  else if (!any)
    PUT("whole");
#undef PUT
  if (o >= size && size > 4)
    memcpy(buf + size - 4, "...", 4);
  return buf;
}
