/* fray/driver.h: what drives a handler (fray/handler.h): the simulator,
 * the libevent adapter, fuzz targets and tests. A driver owns a
 * fray_server_t, opens connections on it, feeds them the bytes that arrive
 * and writes out what the handler queued. Handlers never call these.
 *
 *   fray_server_t *s;
 *   fray_conn_t *c;
 *   fray_server_new(&s, &handler, NULL);
 *   fray_server_open(s, "alice", my_ctx, &c);
 *   fray_conn_input(c, bytes, n);               // frames go to on_frame
 *   fray_conn_flush(c, my_write, my_ctx);       // answers go out
 *   if (fray_conn_should_close(c)) fray_conn_release(c);
 *   fray_server_free(s);
 */
#ifndef FRAY_DRIVER_H
#define FRAY_DRIVER_H

#include "fray/common.h"
#include "fray/handler.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a server for handler (borrowed: it must outlive the server) and
 * runs server_init. mem may be NULL. Returns 0, FRAY_EINVAL (handler NULL
 * or invalid: see fray_handler_validate()), FRAY_ENOMEM, or server_init's
 * negative code. */
FRAY_EXTERN int fray_server_new(fray_server_t **out, const fray_handler_t *handler,
                                const fray_mem_t *mem);

/* Closes every connection (on_close with FRAY_CLOSE_SHUTDOWN), runs
 * server_free and frees everything. NULL accepted. */
FRAY_EXTERN void fray_server_free(fray_server_t *s);

/* Opens a connection (name copied; may be NULL) and runs on_open. driver_data
 * is the driver's own pointer (fray_conn_driver_data). Returns 0 with *out
 * set, FRAY_EINVAL (s or out NULL, or the handler's conn_size was raised
 * past FRAY_HANDLER_MAX_STATE or its spec made invalid after
 * fray_server_new()), or FRAY_ENOMEM. If on_open aborts, *out is
 * still set and the connection is in state CLOSED: the driver sees it through fray_conn_state and
 * releases it with fray_conn_release. */
FRAY_EXTERN int fray_server_open(fray_server_t *s, const char *name, void *driver_data,
                                 fray_conn_t **out);

/* Bytes arrived from the peer: framed and delivered to the handler. len 0
 * is a read that found nothing (a spurious readiness event): a raw-mode
 * handler's on_frame is called with no bytes, framed modes see nothing
 * (the simulator's FRAY_FAULT_READ_GAP; data may then be NULL). Returns
 * 0, or FRAY_ECLOSED when the connection no longer reads (closing, closed:
 * the bytes are dropped, as a real socket would after shutdown). */
FRAY_EXTERN int fray_conn_input(fray_conn_t *c, const uint8_t *data, size_t len);

/* The peer closed its side: an unfinished frame goes to on_truncated, then
 * the handler's on_eof may answer; the connection then closes
 * (FRAY_CLOSE_PEER) once its output is flushed. Returns 0, FRAY_EINVAL (c
 * NULL) or FRAY_ECLOSED (it no longer reads: nothing called). */
FRAY_EXTERN int fray_conn_input_eof(fray_conn_t *c);

/* The peer reset the connection: closed at once, output dropped. */
FRAY_EXTERN void fray_conn_input_reset(fray_conn_t *c);

/* Writes pending output through w (which may take part or none).
 * Returns bytes written or a negative code from the writer. */
FRAY_EXTERN fray_ssize_t fray_conn_flush(fray_conn_t *c, fray_write_fn w, void *ctx);

/* 1 when the driver has nothing to do for c right now: open, nothing
 * queued, not ending. Drivers with many connections skip those. */
FRAY_EXTERN int fray_conn_idle(const fray_conn_t *c);

/* Bytes queued for the peer and not yet written. */
FRAY_EXTERN size_t fray_conn_pending(const fray_conn_t *c);

/* 1 when the driver should shut the socket down now: the connection is
 * closing and its output is all written, or it was aborted/reset. The
 * driver then calls fray_conn_release. */
FRAY_EXTERN int fray_conn_should_close(const fray_conn_t *c);

/* 1 when the connection was aborted or reset (a TCP RST rather than FIN). */
FRAY_EXTERN int fray_conn_was_aborted(const fray_conn_t *c);

/* Ends the connection for good (on_close if not yet run) and frees it. */
FRAY_EXTERN void fray_conn_release(fray_conn_t *c);

/* The driver_data given to fray_server_open(), untouched. */
FRAY_EXTERN void *fray_conn_driver_data(const fray_conn_t *c);

/* Bytes the connection's framer holds right now (memory-bound oracle). */
FRAY_EXTERN size_t fray_conn_buffered(const fray_conn_t *c);

/* ---- time: the clock behind the handler's timers ------------------------------
 * The runtime keeps the timers (fray/handler.h); the driver supplies the
 * time and makes them fire. Without a clock a server's time is virtual: it
 * stands where the driver last advanced it (0 at first) and moves only
 * through fray_server_advance(), which the simulator calls at a script's
 * `wait`. A driver on real time sets a clock with now(), is told through
 * arm() when the earliest deadline changes, sets one OS timer for it, and
 * calls fray_server_advance(s, now()) when that goes off:
 *
 *   static void arm(uint64_t deadline, void *ud) { reschedule(ud, deadline); }
 *   fray_server_set_clock(s, &(fray_clock_t){.now = my_now_ms, .arm = arm, .user_data = me});
 *   ...  // when the OS timer goes off:
 *   fray_server_advance(s, my_now_ms(me));  // then flush what the callbacks sent */

/* No timer pending (fray_server_next_deadline(), arm()'s deadline). */
#define FRAY_TIMER_NEVER UINT64_MAX

/* Most timer callbacks one fray_server_advance() runs: a chain of timers
 * each starting the next at 0 ms cannot keep a driver from its I/O. */
#define FRAY_TIMER_BATCH 4096

typedef struct fray_clock {
  /* Milliseconds on a monotonic scale of the driver's choosing; NULL: the
   * server's virtual clock. */
  uint64_t (*now)(void *user_data);
  /* The earliest deadline is now deadline (FRAY_TIMER_NEVER: no timer
   * pending); may be NULL. Called from inside the runtime, also from the
   * handler's calls: it must not call back into the server. */
  void (*arm)(uint64_t deadline, void *user_data);
  void *user_data; /* passed back untouched */
} fray_clock_t;

/* Sets s's clock (copied; NULL: back to virtual, standing where the old
 * clock stood). Pending timers keep the time they had left (those
 * server_init started, before a driver could set its clock, count from
 * now). When arm is set and a timer is pending, arm is called at once
 * with the earliest deadline. */
FRAY_EXTERN void fray_server_set_clock(fray_server_t *s, const fray_clock_t *clock);

/* The earliest pending deadline, FRAY_TIMER_NEVER when none (or s NULL). */
FRAY_EXTERN uint64_t fray_server_next_deadline(const fray_server_t *s);

/* Time is now `now` (a virtual clock never goes back: an earlier now
 * changes nothing): fires every timer due by then, earliest deadline
 * first, equal ones in start order, including those the callbacks start
 * that fall due, up to FRAY_TIMER_BATCH callbacks (the rest stay due: call
 * again after serving I/O). A virtual clock stands at each timer's
 * deadline while it fires, then at now. Flush the connections afterwards:
 * the callbacks' output is queued. Returns the number of callbacks run. */
FRAY_EXTERN size_t fray_server_advance(fray_server_t *s, uint64_t now);

/* ---- tracing: what the handler saw and did --------------------------------- */

typedef enum fray_trace_kind {
  FRAY_TRACE_OPEN = 0, /* a connection opened (before on_open) */
  FRAY_TRACE_READ,     /* the driver fed it bytes (one read): data, len */
  FRAY_TRACE_EOF,      /* the peer closed its side */
  FRAY_TRACE_FRAME,    /* a frame went to on_frame: data, len */
  FRAY_TRACE_SEND,     /* the handler queued output: data, len; for
                        * fray_conn_send_frame(), data is the payload and
                        * framing the bytes the spec added around it */
  FRAY_TRACE_SPEC,     /* the handler switched framing: spec */
  FRAY_TRACE_TAKE,     /* the handler took the unframed input (take_buffered) */
  FRAY_TRACE_REFUSED,  /* a call of the handler's was refused: what, code */
  FRAY_TRACE_CLOSE,    /* the connection ended: reason (on_close runs next) */
  FRAY_TRACE_RUN,      /* a run begins (conn NULL): run, its index; never sent by
                        * the runtime, only by drivers that make runs (the
                        * replay campaign, fray/replay.h) */
  FRAY_TRACE_TIMER     /* a timer fires, before its callback runs: conn its
                        * connection (NULL: a server timer), at the server's
                        * clock (ms; virtual in the simulator), timer its id */
} fray_trace_kind_t;

/* One event; every pointer is borrowed for the callback only. */
typedef struct fray_trace_event {
  fray_trace_kind_t kind;
  const fray_conn_t *conn; /* NULL for a transport's events (fray_player_set_trace) */
  const char *client;      /* the connection's (the script client's) name */
  const uint8_t *data;     /* READ, FRAME, SEND */
  size_t len;
  size_t framing;             /* SEND */
  const fray_spec_t *spec;    /* SPEC: the new spec */
  const char *what;           /* REFUSED: the call ("fray_conn_set_spec"), static */
  const char *why;            /* REFUSED: why, static ("count is 0") */
  int code;                   /* REFUSED: the code the call returned */
  fray_close_reason_t reason; /* CLOSE */
  uint64_t run;               /* RUN */
  uint64_t at;                /* TIMER: fray_server_now() as it fires */
  fray_timer_id_t timer;      /* TIMER: as fray_*_timer_start() gave it */
} fray_trace_event_t;

typedef void (*fray_trace_fn)(const fray_trace_event_t *ev, void *user_data);

/* Calls fn (NULL: none, the default) with every event of s's connections,
 * in order, from inside the runtime: fn must not call back into s. A
 * driver's trace (fray replay --trace) and its diagnoses (a refused call
 * is a handler bug worth naming) both come from here. */
FRAY_EXTERN void fray_server_set_trace(fray_server_t *s, fray_trace_fn fn, void *user_data);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_DRIVER_H */
