/* Servers and connections: the one runtime behind every driver (simulator,
 * fuzz driver, libevent). A connection owns a framer that feeds the
 * handler and an output queue the handler sends into; the driver moves the
 * bytes. */
#include "fray/handler.h"
#include "fray/driver.h"

#include <stdio.h>
#include <string.h>

#include "core/framer_internal.h"
#include "core/internal.h"
#include "core/outq_internal.h"
#include "core/timerq.h"

/* Bytes of a connection's first output block, inside the connection's
 * block: a chat-sized reply needs no allocation of its own. */
#define CONN_INLINE_OUT 512

struct fray_conn {
  fray_server_t *server;
  fray_conn_t *prev, *next;
  uint64_t id;
  char *name;
  void *driver_data;
  fray_framer_t *framer;
  fray_outq_t *q;
  fray_conn_state_t state;
  fray_close_reason_t reason;
  int aborted;                            /* reset rather than closed: output dropped */
  int close_done;                         /* on_close has run */
  int in_cb;                              /* a handler callback of this connection is running */
  int reframe;                            /* take_buffered from a callback: start framing afresh */
  const char *refused_what, *refused_why; /* the handler's last refused call */
  int refused_code;
  uint32_t timers; /* its pending timers' list (core/timerq.h) */
  void *data;      /* handler's conn_size bytes, allocated after the struct */
};

struct fray_server {
  const fray_handler_t *h;
  fray_mem_t mem;
  void *data;
  fray_conn_t *head, *tail;
  size_t nopen;
  uint64_t next_id;
  uint64_t activity;   /* fray__server_activity() */
  int untracked;       /* a queue was handed out: activity cannot be told */
  fray_trace_fn trace; /* fray_server_set_trace(); NULL: none */
  void *trace_data;
  /* Timers: the queue, the server's own timers' list, the driver's clock
   * (virtual when it has no now: the time the driver last advanced to)
   * and the deadline it was last told of. */
  fray__timerq_t timers;
  uint32_t server_timers;
  int freeing; /* fray_server_free() runs: no new server timers */
  fray_clock_t clock;
  uint64_t now;
  uint64_t armed;
};

/* ---- tracing ------------------------------------------------------------ */

void fray_server_set_trace(fray_server_t *s, fray_trace_fn fn, void *user_data) {
  if (s) {
    s->trace = fn;
    s->trace_data = user_data;
  }
}

/* Hands ev (its kind and what the kind uses) to the trace, if any. */
static void trace(fray_conn_t *c, fray_trace_event_t ev) {
  if (c->server->trace) {
    ev.conn = c;
    ev.client = fray_conn_name(c);
    c->server->trace(&ev, c->server->trace_data);
  }
}

static void trace_bytes(fray_conn_t *c, fray_trace_kind_t k, const void *data, size_t len) {
  if (c->server->trace)
    trace(c, (fray_trace_event_t){.kind = k, .data = data, .len = len});
}

/* Something on c's server a driver must look at: see fray__server_activity. */
static void touch(fray_conn_t *c) {
  c->server->activity++;
}

uint64_t fray__server_activity(fray_server_t *s) {
  return s->untracked ? ++s->activity : s->activity;
}

/* ---- framer callbacks --------------------------------------------------- */

static void cancel_conn_timers(fray_conn_t *c);

static void finish_close(fray_conn_t *c) {
  if (c->close_done)
    return;
  c->close_done = 1;
  c->state = FRAY_CONN_CLOSED;
  if (c->timers != FRAY__TIMER_NIL)
    cancel_conn_timers(c);
  touch(c);
  trace(c, (fray_trace_event_t){.kind = FRAY_TRACE_CLOSE, .reason = c->reason});
  if (c->server->h->on_close)
    c->server->h->on_close(c, c->reason, c->data);
}

static void leave_open(fray_conn_t *c) {
  if (c->state == FRAY_CONN_OPEN)
    c->server->nopen--;
}

static void start_closing(fray_conn_t *c, fray_close_reason_t reason) {
  if (c->state != FRAY_CONN_OPEN)
    return;
  leave_open(c);
  touch(c);
  c->state = FRAY_CONN_CLOSING;
  c->reason = reason;
  fray_framer_close(c->framer);
  fray_outq_close_when_done(c->q);
}

static int conn_frame(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  fray_conn_t *c = ud;
  (void)f;
  if (c->state != FRAY_CONN_OPEN || !c->server->h->on_frame)
    return 0;
  trace_bytes(c, FRAY_TRACE_FRAME, fr->data, fr->len);
  c->in_cb++;
  int r = c->server->h->on_frame(c, fr->data, fr->len, c->data);
  c->in_cb--;
  if (r < 0)
    fray_conn_abort(c);
  return 0;
}

static int conn_error(fray_framer_t *f, const fray_frame_error_t *e, void *ud) {
  fray_conn_t *c = ud;
  (void)f;
  if (c->state != FRAY_CONN_OPEN)
    return 0;
  c->in_cb++;
  int r = c->server->h->on_error ? c->server->h->on_error(c, e, c->data) : 0;
  c->in_cb--;
  if (r < 0)
    fray_conn_abort(c);
  else if (e->fatal)
    start_closing(c, FRAY_CLOSE_ERROR);
  return 0;
}

static int conn_truncated(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  fray_conn_t *c = ud;
  (void)f;
  if (c->state == FRAY_CONN_OPEN && c->server->h->on_truncated) {
    if (c->server->h->on_truncated(c, fr->data, fr->len, c->data) < 0)
      fray_conn_abort(c);
  }
  return 0;
}

/* ---- server -------------------------------------------------------------- */

int fray_handler_validate(const fray_handler_t *h, char *why, size_t whylen) {
  char buf[160] = "";
  const char *spec_why = NULL;
  if (!h)
    snprintf(buf, sizeof buf, "no handler");
  else if (fray_spec_validate(&h->spec, &spec_why))
    snprintf(buf, sizeof buf, "the handler's spec is invalid: %s", spec_why);
  else if (h->conn_size > FRAY_HANDLER_MAX_STATE)
    snprintf(buf, sizeof buf, "the handler's conn_size (%zu bytes) is over the %zu-byte limit",
             h->conn_size, FRAY_HANDLER_MAX_STATE);
  else if (h->server_size > FRAY_HANDLER_MAX_STATE)
    snprintf(buf, sizeof buf, "the handler's server_size (%zu bytes) is over the %zu-byte limit",
             h->server_size, FRAY_HANDLER_MAX_STATE);
  /* Every simulator run validates: the usual empty answer needs no printf. */
  if (why && whylen && buf[0])
    snprintf(why, whylen, "%s", buf);
  else if (why && whylen)
    why[0] = '\0';
  return buf[0] ? FRAY_EINVAL : 0;
}

int fray_server_new(fray_server_t **out, const fray_handler_t *h, const fray_mem_t *mem) {
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  if (fray_handler_validate(h, NULL, 0))
    return FRAY_EINVAL;
  fray_mem_t m;
  fray__mem_init(&m, mem);
  fray_server_t *s = fray__malloc(&m, sizeof *s);
  if (!s)
    return FRAY_ENOMEM;
  memset(s, 0, sizeof *s);
  s->h = h;
  s->mem = m;
  s->next_id = 1;
  fray__timerq_init(&s->timers, &s->mem);
  s->server_timers = FRAY__TIMER_NIL;
  s->armed = FRAY_TIMER_NEVER;
  if (h->server_size) {
    s->data = fray__malloc(&m, h->server_size);
    if (!s->data) {
      fray__free(&m, s);
      return FRAY_ENOMEM;
    }
    memset(s->data, 0, h->server_size);
  }
  if (h->server_init) {
    int r = h->server_init(s, s->data);
    if (r < 0) {
      fray__free(&m, s->data);
      fray__free(&m, s);
      return r;
    }
  }
  *out = s;
  return 0;
}

static void conn_unlink_free(fray_conn_t *c) {
  fray_server_t *s = c->server;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  else
    s->tail = c->prev;
  /* The framer and queue live in c's block. Drivers release a connection
   * only between calls into it, never from inside a callback of its
   * framer, so the framer has nothing to defer. */
  fray__framer_fini(c->framer);
  fray__outq_fini(c->q);
  fray__free(&s->mem, c);
}

void fray_server_free(fray_server_t *s) {
  if (!s)
    return;
  s->freeing = 1;
  for (fray_conn_t *c = s->head; c; c = c->next) {
    if (!c->close_done) {
      leave_open(c);
      if (c->state == FRAY_CONN_OPEN)
        c->reason = FRAY_CLOSE_SHUTDOWN;
      finish_close(c);
    }
  }
  while (s->head)
    conn_unlink_free(s->head);
  if (s->h->server_free)
    s->h->server_free(s, s->data);
  fray__timerq_fini(&s->timers);
  fray_mem_t m = s->mem;
  fray__free(&m, s->data);
  fray__free(&m, s);
}

int fray_server_open(fray_server_t *s, const char *name, void *driver_data, fray_conn_t **out) {
  if (!s || !out)
    return FRAY_EINVAL;
  *out = NULL;
  const fray_handler_t *h = s->h;
  /* Checked by fray_server_new() already; the handler is borrowed, and a
   * size changed since must not wrap the sum below. */
  if (h->conn_size > FRAY_HANDLER_MAX_STATE)
    return FRAY_EINVAL;
  /* One block: the struct, the framer, the output queue with its first
   * block, the name, then the handler's state (each aligned for any type).
   * A connection is opened for every client of every run a fuzz target
   * makes, so each allocation saved counts, most under ASan. Still one
   * fresh block per connection: a handler using its connection after close
   * meets freed memory. The state comes last so that a handler writing past
   * it still meets the sanitizer's redzone. */
  size_t nlen = name ? strlen(name) + 1 : 0;
  size_t foff = (sizeof(fray_conn_t) + 15) & ~(size_t)15;
  size_t qoff = foff + ((fray__framer_size() + 15) & ~(size_t)15);
  size_t noff = qoff + ((fray__outq_size(CONN_INLINE_OUT) + 15) & ~(size_t)15);
  size_t head = (noff + nlen + 15) & ~(size_t)15;
  fray_conn_t *c = fray__malloc(&s->mem, head + h->conn_size);
  if (!c)
    return FRAY_ENOMEM;
  memset(c, 0, sizeof *c);
  c->server = s;
  c->driver_data = driver_data;
  c->timers = FRAY__TIMER_NIL;
  c->data = h->conn_size ? (char *)c + head : NULL;
  if (c->data)
    memset(c->data, 0, h->conn_size);
  if (name) {
    c->name = (char *)c + noff;
    memcpy(c->name, name, nlen);
  }
  fray_framer_callbacks_t cb;
  fray_framer_callbacks_init(&cb);
  cb.on_frame = conn_frame;
  cb.on_error = conn_error;
  cb.on_truncated = conn_truncated;
  c->framer = (fray_framer_t *)((char *)c + foff);
  c->q = (fray_outq_t *)((char *)c + qoff);
  /* The spec was validated by fray_server_new(); the handler is borrowed,
   * and a spec changed since is refused here. */
  if (fray__framer_init(c->framer, &h->spec, &cb, &s->mem, c) < 0) {
    fray__free(&s->mem, c);
    return FRAY_EINVAL;
  }
  fray__outq_init(c->q, 0, &s->mem, c, CONN_INLINE_OUT);
  c->id = s->next_id++;
  c->prev = s->tail;
  if (s->tail)
    s->tail->next = c;
  else
    s->head = c;
  s->tail = c;
  s->nopen++;
  touch(c);
  *out = c;
  trace(c, (fray_trace_event_t){.kind = FRAY_TRACE_OPEN});
  if (h->on_open && h->on_open(c, c->data) < 0)
    fray_conn_abort(c);
  return 0;
}

void *fray_server_data(const fray_server_t *s) {
  return s ? s->data : NULL;
}

const fray_handler_t *fray_server_handler(const fray_server_t *s) {
  return s ? s->h : NULL;
}

static fray_conn_t *open_from(fray_conn_t *c) {
  while (c && c->state != FRAY_CONN_OPEN)
    c = c->next;
  return c;
}

fray_conn_t *fray_server_first(fray_server_t *s) {
  return s ? open_from(s->head) : NULL;
}

fray_conn_t *fray_server_next(fray_conn_t *c) {
  return c ? open_from(c->next) : NULL;
}

fray_conn_t *fray_server_find(fray_server_t *s, uint64_t id) {
  for (fray_conn_t *c = s ? s->head : NULL; c; c = c->next)
    if (c->id == id && c->state != FRAY_CONN_CLOSED)
      return c;
  return NULL;
}

size_t fray_server_count(const fray_server_t *s) {
  return s ? s->nopen : 0;
}

/* ---- connection: handler side ------------------------------------------- */

int fray_conn_send(fray_conn_t *c, const void *data, size_t len) {
  if (!c)
    return FRAY_EINVAL;
  if (c->state != FRAY_CONN_OPEN)
    return FRAY_ECLOSED;
  int r = fray_outq_push(c->q, data, len);
  if (!r) {
    touch(c);
    trace_bytes(c, FRAY_TRACE_SEND, data, len);
  }
  return r;
}

/* Handlers mostly sendf fixed replies and strings ("ERR bad nick\r\n",
 * "OK nick %s\r\n"). Those need no printf: vsnprintf's set-up per call costs
 * more than the copying, and a fuzz target makes millions of such calls.
 * Formats only of text, %s and %% are written here into out[cap]; the
 * length, or -1 when the format needs printf or does not fit. */
static int format_simple(char *out, size_t cap, const char *fmt, va_list ap) {
  size_t n = 0;
  for (const char *p = fmt;;) {
    const char *pct = strchr(p, '%');
    size_t lit = pct ? (size_t)(pct - p) : strlen(p);
    if (lit >= cap - n)
      return -1;
    memcpy(out + n, p, lit);
    n += lit;
    if (!pct)
      return (int)n;
    if (pct[1] == '%') {
      if (n + 1 >= cap)
        return -1;
      out[n++] = '%';
    } else if (pct[1] == 's') {
      const char *a = va_arg(ap, const char *);
      size_t al = strlen(a ? a : "(null)");
      if (al >= cap - n)
        return -1;
      memcpy(out + n, a ? a : "(null)", al);
      n += al;
    } else {
      return -1;
    }
    p = pct + 2;
  }
}

int fray_conn_vsendf(fray_conn_t *c, const char *fmt, va_list ap) {
  char small[256];
  va_list ap2, ap3;
  va_copy(ap3, ap);
  int n = format_simple(small, sizeof small, fmt, ap3);
  va_end(ap3);
  if (n >= 0)
    return fray_conn_send(c, small, (size_t)n);
  va_copy(ap2, ap);
  n = vsnprintf(small, sizeof small, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    return FRAY_EINVAL;
  }
  int r;
  if ((size_t)n < sizeof small) {
    r = fray_conn_send(c, small, (size_t)n);
  } else {
    char *big = fray__malloc(&c->server->mem, (size_t)n + 1);
    if (!big) {
      va_end(ap2);
      return FRAY_ENOMEM;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap2);
    r = fray_conn_send(c, big, (size_t)n);
    fray__free(&c->server->mem, big);
  }
  va_end(ap2);
  return r;
}

int fray_conn_sendf(fray_conn_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = fray_conn_vsendf(c, fmt, ap);
  va_end(ap);
  return r;
}

int fray_conn_send_frame(fray_conn_t *c, const void *data, size_t len) {
  if (!c || (!data && len))
    return FRAY_EINVAL;
  if (c->state != FRAY_CONN_OPEN)
    return FRAY_ECLOSED;
  fray_frame_wrap_t w;
  int r = fray_spec_wrap(fray_framer_spec(c->framer), len, &w);
  if (r)
    return r;
  const fray__iov_t v[3] = {{w.head, w.head_len}, {data, len}, {w.tail, w.tail_len}};
  r = fray__outq_pushv(c->q, v, 3);
  if (!r)
    touch(c);
  if (!r && c->server->trace)
    trace(c, (fray_trace_event_t){.kind = FRAY_TRACE_SEND,
                                  .data = data,
                                  .len = len,
                                  .framing = w.head_len + w.tail_len});
  return r;
}

int fray_conn_take_buffered(fray_conn_t *c, fray_bytes_cb fn, void *user_data) {
  if (!c || !fn)
    return FRAY_EINVAL;
  if (c->state != FRAY_CONN_OPEN)
    return FRAY_ECLOSED;
  /* From a callback the framer hands over the rest of the chunk and closes;
   * fray_conn_input() reopens it once the feed is over. */
  c->reframe |= c->in_cb > 0;
  trace(c, (fray_trace_event_t){.kind = FRAY_TRACE_TAKE});
  return fray_framer_take_buffered(c->framer, fn, user_data);
}

fray_outq_t *fray_conn_outq(fray_conn_t *c) {
  if (!c)
    return NULL;
  c->server->untracked = 1;
  return c->q;
}

int fray_conn_set_spec(fray_conn_t *c, const fray_spec_t *spec) {
  if (!c)
    return FRAY_EINVAL;
  int r = fray_framer_set_spec(c->framer, spec);
  if (r) {
    /* A refused spec is a handler bug: kept for the driver to name
     * (fray__conn_refusal), with its reason, and traced. */
    c->refused_why = "no spec";
    if (spec)
      (void)fray_spec_validate(spec, &c->refused_why);
    c->refused_what = "fray_conn_set_spec";
    c->refused_code = r;
    touch(c);
    trace(c, (fray_trace_event_t){.kind = FRAY_TRACE_REFUSED,
                                  .what = c->refused_what,
                                  .why = c->refused_why,
                                  .code = r});
  } else {
    trace(c, (fray_trace_event_t){.kind = FRAY_TRACE_SPEC, .spec = spec});
  }
  return r;
}

void fray_conn_close(fray_conn_t *c) {
  if (c)
    start_closing(c, FRAY_CLOSE_LOCAL);
}

static void abort_with(fray_conn_t *c, fray_close_reason_t reason) {
  if (!c || c->state == FRAY_CONN_CLOSED)
    return;
  leave_open(c);
  touch(c);
  c->aborted = 1;
  c->reason = reason;
  c->state = FRAY_CONN_CLOSING;
  fray_framer_close(c->framer);
  finish_close(c);
}

void fray_conn_abort(fray_conn_t *c) {
  abort_with(c, FRAY_CLOSE_ABORT);
}

uint64_t fray_conn_id(const fray_conn_t *c) {
  return c ? c->id : 0;
}

const char *fray_conn_name(const fray_conn_t *c) {
  return c && c->name ? c->name : "";
}

fray_conn_state_t fray_conn_state(const fray_conn_t *c) {
  return c ? c->state : FRAY_CONN_CLOSED;
}

void *fray_conn_data(const fray_conn_t *c) {
  return c ? c->data : NULL;
}

fray_server_t *fray_conn_server(const fray_conn_t *c) {
  return c ? c->server : NULL;
}

/* ---- connection: driver side --------------------------------------------- */

const char *fray__conn_refusal(const fray_conn_t *c, const char **why, int *code) {
  if (c->refused_what) {
    *why = c->refused_why;
    *code = c->refused_code;
  }
  return c->refused_what;
}

int fray_conn_input(fray_conn_t *c, const uint8_t *data, size_t len) {
  if (!c)
    return FRAY_EINVAL;
  if (c->state != FRAY_CONN_OPEN)
    return FRAY_ECLOSED;
  trace_bytes(c, FRAY_TRACE_READ, data, len);
  if (!len) {
    /* A read that found nothing (spurious readiness): a raw-mode handler,
     * which sees every read, is woken with no bytes as its own read loop
     * would be; framed modes have no frame to give. */
    const fray_spec_t *sp = fray_framer_spec(c->framer);
    if (sp && sp->mode == FRAY_MODE_RAW)
      (void)conn_frame(c->framer, &(fray_frame_t){.data = data ? data : (const uint8_t *)""}, c);
    return 0;
  }
  fray_ssize_t r = fray_framer_feed(c->framer, data, len);
  (void)r; /* errors reach the handler through conn_error */
  if (c->reframe) {
    c->reframe = 0;
    if (c->state == FRAY_CONN_OPEN)
      (void)fray_framer_reset(c->framer); /* spec kept: framing resumes */
  }
  return 0;
}

int fray_conn_input_eof(fray_conn_t *c) {
  if (!c)
    return FRAY_EINVAL;
  if (c->state != FRAY_CONN_OPEN)
    return FRAY_ECLOSED;
  trace(c, (fray_trace_event_t){.kind = FRAY_TRACE_EOF});
  (void)fray_framer_finish(c->framer);
  /* Still open unless on_truncated ended it: the handler's last word comes
   * before the close, so what it sends is flushed like any reply. */
  if (c->state == FRAY_CONN_OPEN && c->server->h->on_eof) {
    c->in_cb++;
    int r = c->server->h->on_eof(c, c->data);
    c->in_cb--;
    if (r < 0)
      fray_conn_abort(c);
  }
  start_closing(c, FRAY_CLOSE_PEER);
  return 0;
}

void fray_conn_input_reset(fray_conn_t *c) {
  abort_with(c, FRAY_CLOSE_RESET);
}

fray_ssize_t fray_conn_flush(fray_conn_t *c, fray_write_fn w, void *ctx) {
  if (!c)
    return FRAY_EINVAL;
  if (c->aborted)
    return 0;
  return fray_outq_flush(c->q, w, ctx);
}

int fray_conn_idle(const fray_conn_t *c) {
  return c && c->state == FRAY_CONN_OPEN && !c->aborted && fray_outq_empty(c->q);
}

size_t fray_conn_pending(const fray_conn_t *c) {
  return c && !c->aborted ? fray_outq_pending(c->q) : 0;
}

int fray_conn_should_close(const fray_conn_t *c) {
  if (!c)
    return 0;
  if (c->aborted || c->state == FRAY_CONN_CLOSED)
    return 1;
  return c->state == FRAY_CONN_CLOSING && fray_outq_done(c->q);
}

int fray_conn_was_aborted(const fray_conn_t *c) {
  return c ? c->aborted : 0;
}

void fray_conn_release(fray_conn_t *c) {
  if (!c)
    return;
  leave_open(c);
  if (c->state == FRAY_CONN_OPEN)
    c->reason = FRAY_CLOSE_SHUTDOWN;
  c->state = FRAY_CONN_CLOSED;
  finish_close(c);
  conn_unlink_free(c);
}

void *fray_conn_driver_data(const fray_conn_t *c) {
  return c ? c->driver_data : NULL;
}

size_t fray_conn_buffered(const fray_conn_t *c) {
  return c ? fray_framer_buffered(c->framer) : 0;
}

/* ---- timers ------------------------------------------------------------------ */

void fray_server_set_clock(fray_server_t *s, const fray_clock_t *clock) {
  if (!s)
    return;
  /* Timers started on the old clock (from server_init, before the driver
   * set its own) keep the time they had left. */
  uint64_t old = fray_server_now(s);
  s->clock = clock ? *clock : (fray_clock_t){0};
  uint64_t now = fray_server_now(s);
  if (!s->clock.now)
    s->now = old;
  if (now != old)
    fray__timerq_rebase(&s->timers, old, now);
  s->armed = FRAY_TIMER_NEVER;
  if (s->clock.arm && fray__timerq_count(&s->timers)) {
    s->armed = fray__timerq_next(&s->timers);
    s->clock.arm(s->armed, s->clock.user_data);
  }
}

uint64_t fray_server_now(const fray_server_t *s) {
  if (!s)
    return 0;
  return s->clock.now ? s->clock.now(s->clock.user_data) : s->now;
}

uint64_t fray_server_next_deadline(const fray_server_t *s) {
  return s ? fray__timerq_next(&s->timers) : FRAY_TIMER_NEVER;
}

/* Tells the driver when the earliest deadline changed, so a real clock
 * sets one OS timer for the whole queue. */
static void rearm(fray_server_t *s) {
  uint64_t next = fray__timerq_next(&s->timers);
  if (s->clock.arm && next != s->armed && !s->freeing) {
    s->armed = next;
    s->clock.arm(next, s->clock.user_data);
  }
}

static int timer_start(fray_server_t *s, void *owner, uint32_t *list, uint64_t ms, void (*fn)(void),
                       void *arg, fray_timer_id_t *id) {
  if (ms > FRAY_TIMER_MAX_MS)
    return FRAY_ERANGE;
  fray_timer_id_t got;
  int r = fray__timerq_add(&s->timers, fray_server_now(s) + ms, owner, list, fn, arg, &got);
  if (r)
    return r;
  if (id)
    *id = got;
  rearm(s);
  return 0;
}

int fray_conn_timer_start(fray_conn_t *c, uint64_t ms, fray_conn_timer_cb cb, void *arg,
                          fray_timer_id_t *id) {
  if (!c || !cb)
    return FRAY_EINVAL;
  if (c->state == FRAY_CONN_CLOSED)
    return FRAY_ECLOSED;
  return timer_start(c->server, c, &c->timers, ms, (void (*)(void))cb, arg, id);
}

int fray_server_timer_start(fray_server_t *s, uint64_t ms, fray_server_timer_cb cb, void *arg,
                            fray_timer_id_t *id) {
  if (!s || !cb)
    return FRAY_EINVAL;
  if (s->freeing)
    return FRAY_ECLOSED;
  return timer_start(s, NULL, &s->server_timers, ms, (void (*)(void))cb, arg, id);
}

int fray_conn_timer_cancel(fray_conn_t *c, fray_timer_id_t id) {
  if (!c)
    return FRAY_EINVAL;
  int r = fray__timerq_cancel(&c->server->timers, id, c);
  if (!r)
    rearm(c->server);
  return r;
}

int fray_server_timer_cancel(fray_server_t *s, fray_timer_id_t id) {
  if (!s)
    return FRAY_EINVAL;
  int r = fray__timerq_cancel(&s->timers, id, NULL);
  if (!r)
    rearm(s);
  return r;
}

/* The connection closed: its timers never fire (on_close runs next). */
static void cancel_conn_timers(fray_conn_t *c) {
  fray__timerq_cancel_list(&c->server->timers, &c->timers);
  rearm(c->server);
}

/* Runs one fired timer's callback, traced first; a connection's aborts it
 * on a negative return, as its other callbacks do. */
static void fire(fray_server_t *s, const fray__timer_t *t, fray_timer_id_t id) {
  if (s->trace) {
    const fray_conn_t *owner = t->owner;
    s->trace(&(fray_trace_event_t){.kind = FRAY_TRACE_TIMER,
                                   .conn = owner,
                                   .client = owner ? fray_conn_name(owner) : NULL,
                                   .at = fray_server_now(s),
                                   .timer = id},
             s->trace_data);
  }
  if (!t->owner) {
    ((fray_server_timer_cb)t->fn)(s, s->data, t->arg);
    return;
  }
  fray_conn_t *c = t->owner;
  if (((fray_conn_timer_cb)t->fn)(c, c->data, t->arg) < 0)
    fray_conn_abort(c);
}

size_t fray_server_advance(fray_server_t *s, uint64_t now) {
  if (!s)
    return 0;
  size_t n = 0;
  fray__timer_t t;
  fray_timer_id_t id;
  /* A timer a callback starts that is due already fires in this call too;
   * the cap leaves a chain of them to the driver's next turn. A virtual
   * clock stands at each deadline while its timers fire, so what they
   * start counts from there, as on a real clock. */
  while (n < FRAY_TIMER_BATCH && fray__timerq_pop_due(&s->timers, now, &t, &id)) {
    if (t.deadline > s->now)
      s->now = t.deadline;
    fire(s, &t, id);
    n++;
  }
  if (now > s->now && fray__timerq_next(&s->timers) > now)
    s->now = now;
  rearm(s);
  return n;
}
