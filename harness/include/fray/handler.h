/* fray/handler.h: protocol handlers and the connections they serve: the
 * handler author's API. What drives a handler (creating servers, feeding
 * connections, flushing their output) is in fray/driver.h.
 *
 * A handler is a table of callbacks plus the sizes of the per-connection and
 * per-server state fray allocates (zeroed) for it. The same handler object
 * runs unchanged in the simulator (`fray replay`), in fuzz targets and on
 * real sockets: each of those is a *driver* that owns a fray_server_t, opens
 * connections on it, feeds them the bytes that arrive and writes out what the
 * handler sent. Handlers never see the driver.
 *
 *   static int echo_frame(fray_conn_t *c, const uint8_t *line, size_t len, void *st) {
 *     fray_conn_send(c, line, len);
 *     return fray_conn_send(c, "\r\n", 2);
 *   }
 *   const fray_handler_t echo = {
 *     .name = "echo", .on_frame = echo_frame, .spec = {.mode = FRAY_MODE_LINE, ...},
 *   };
 *
 * Every callback has a named type below with its return contract; a NULL
 * member is skipped. */
#ifndef FRAY_HANDLER_H
#define FRAY_HANDLER_H

#include <stdarg.h>

#include "fray/common.h"
#include "fray/framer.h"
#include "fray/outq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fray_server fray_server_t;
typedef struct fray_conn fray_conn_t;

/* Why a connection ended (on_close's reason). */
typedef enum fray_close_reason {
  FRAY_CLOSE_PEER = 0, /* the peer closed its side (EOF) */
  FRAY_CLOSE_LOCAL,    /* the handler closed it (fray_conn_close), output flushed */
  FRAY_CLOSE_ABORT,    /* the handler aborted it, or a callback returned < 0 */
  FRAY_CLOSE_RESET,    /* the peer reset it (unflushed output lost) */
  FRAY_CLOSE_ERROR,    /* a framing error stopped it (too long, bad length) */
  FRAY_CLOSE_SHUTDOWN  /* the server is being freed */
} fray_close_reason_t;

typedef enum fray_conn_state {
  FRAY_CONN_OPEN = 0, /* reading and writing */
  FRAY_CONN_CLOSING,  /* close asked: no more input, output still flushing */
  FRAY_CONN_CLOSED    /* gone: only its id and name remain readable until freed */
} fray_conn_state_t;

/* ---- callbacks ----------------------------------------------------------
 * Pointers handed to a callback are borrowed for the call only. conn_state
 * and server_state are the zeroed blocks of conn_size and server_size bytes
 * fray allocated; fray frees them after on_close and server_free. */

/* The server is being created. Returns 0, or a negative code: the server is
 * not created and fray_server_new() returns that code (server_free is not
 * called). */
typedef int (*fray_server_init_cb)(fray_server_t *s, void *server_state);

/* The server is being freed, after every connection's on_close: release
 * what server_state holds. */
typedef void (*fray_server_free_cb)(fray_server_t *s, void *server_state);

/* A connection opened; it may send a greeting. Returns 0 to go on, or a
 * negative code: the connection is aborted (reset, as after
 * fray_conn_abort()) and on_close runs with FRAY_CLOSE_ABORT. */
typedef int (*fray_conn_open_cb)(fray_conn_t *c, void *conn_state);

/* One frame, data[0..len) (delimiter stripped unless the spec keeps it).
 * In raw mode, each read as it arrives; len may then be 0: a read that
 * found nothing (a spurious readiness event, which the simulator injects as
 * the read-gap fault), which is not the end of the stream (on_truncated
 * and on_close tell that). Returns 0 to go on, or a negative code: the connection is aborted. The
 * framing may be changed from here (fray_conn_set_spec): it applies to the
 * bytes right after this frame. */
typedef int (*fray_conn_frame_cb)(fray_conn_t *c, const uint8_t *data, size_t len,
                                  void *conn_state);

/* A framing error. Fatal errors (err->fatal) close the connection after the
 * callback (it may still send an error reply: it is flushed); for a skipped
 * oversized frame the connection goes on. Returns 0, or a negative code:
 * the connection is aborted (reply dropped). */
typedef int (*fray_conn_error_cb)(fray_conn_t *c, const fray_frame_error_t *err, void *conn_state);

/* The peer closed while a frame was unfinished: its bytes so far. Returns
 * 0 (the connection closes once its output is flushed), or a negative
 * code: it is aborted. */
typedef int (*fray_conn_truncated_cb)(fray_conn_t *c, const uint8_t *data, size_t len,
                                      void *conn_state);

/* The peer half-closed: it sends nothing more (EOF), and every frame it sent
 * has been delivered, an unfinished one through on_truncated just before.
 * The connection still writes: this is where a handler that keeps its own
 * buffer (raw mode, a body read to EOF as HTTP/1.0 does, a count of what
 * came) gives its final answer, with fray_conn_send() and the like. It may
 * call fray_conn_close() (the reason becomes FRAY_CLOSE_LOCAL) or
 * fray_conn_abort(); the write side does not stay open past the call.
 * Returns 0: the connection closes once its output is flushed
 * (FRAY_CLOSE_PEER unless the handler closed it here), as it does when the
 * member is NULL; or a negative code: it is aborted (output dropped). Not
 * called when the connection no longer reads (it closed, or on_truncated
 * aborted it), nor on a reset. */
typedef int (*fray_conn_eof_cb)(fray_conn_t *c, void *conn_state);

/* The connection is gone, for reason: release what conn_state holds. No
 * sends (they fail with FRAY_ECLOSED). Runs exactly once per connection. */
typedef void (*fray_conn_close_cb)(fray_conn_t *c, fray_close_reason_t reason, void *conn_state);

typedef struct fray_handler {
  const char *name;    /* what --handler selects; static storage */
  const char *summary; /* one line for listings; may be NULL */
  fray_spec_t spec;    /* framing each new connection starts with */
  size_t conn_size;    /* bytes of zeroed per-connection state (may be 0) */
  size_t server_size;  /* bytes of zeroed per-server state (may be 0) */

  fray_server_init_cb server_init;
  fray_server_free_cb server_free;
  fray_conn_open_cb on_open;
  fray_conn_frame_cb on_frame;
  /* When NULL, fatal errors close the connection and skipped frames are
   * ignored. */
  fray_conn_error_cb on_error;
  fray_conn_truncated_cb on_truncated;
  fray_conn_close_cb on_close;
  /* Last so that handlers written before it are unchanged: NULL, the
   * connection closes at EOF as it always did. */
  fray_conn_eof_cb on_eof;
} fray_handler_t;

/* ---- what handlers call ------------------------------------------------ */

/* Queues a copy of len bytes for the peer. Returns 0, FRAY_ECLOSED (the
 * connection is closing or closed: nothing queued), FRAY_ENOMEM. */
FRAY_EXTERN int fray_conn_send(fray_conn_t *c, const void *data, size_t len);

/* printf-style send; same returns, plus FRAY_EINVAL for a bad format. */
FRAY_EXTERN int fray_conn_sendf(fray_conn_t *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
FRAY_EXTERN int fray_conn_vsendf(fray_conn_t *c, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;

/* Sends a payload framed by the connection's current spec (what
 * fray_conn_set_spec last set, else the handler's): the length field, text
 * length or nothing before it, the delimiter or trailer after it, as
 * fray_spec_wrap() computes them; line mode ends it with "\r\n". The whole
 * frame is queued as one copy or not at all. Returns 0; FRAY_EINVAL (c NULL,
 * data NULL with len > 0, or a frame the spec cannot encode: a count mode
 * len other than count, a len over max_frame, a length field that cannot
 * hold it, a length header with an offset or a partial strip); and what
 * fray_conn_send() returns. */
FRAY_EXTERN int fray_conn_send_frame(fray_conn_t *c, const void *data, size_t len);

/* Hands the input not yet framed to fn, for a switch to another protocol
 * (an upgrade, STARTTLS, a proxy that stops framing: Twisted's
 * clearLineBuffer). From on_frame or on_error: every byte that arrived
 * after the current frame, in order (fn is called once or twice, never with
 * nothing); the connection then frames afresh from the next byte that
 * arrives, under its spec at that time (set FRAY_MODE_RAW before or after
 * the call to be handed the bytes as they come), and stream offsets in
 * later errors count from there. Elsewhere: the bytes of an unfinished
 * frame, framing going on with the next byte. The bytes are borrowed for
 * fn's call. Returns 0, fn's negative result (the bytes are gone all the
 * same), FRAY_EINVAL (c or fn NULL) or FRAY_ECLOSED (the connection no
 * longer reads: nothing handed over).
 *
 *   if (is_starttls(line, len)) {
 *     fray_spec_t raw = fray_spec_raw();
 *     fray_conn_set_spec(c, &raw);               // later bytes: as they come
 *     return fray_conn_take_buffered(c, tls_feed, st);  // bytes already here
 *   } */
FRAY_EXTERN int fray_conn_take_buffered(fray_conn_t *c, fray_bytes_cb fn, void *user_data);

/* The connection's output queue, for borrowed buffers and producers
 * (fray/outq.h). Borrowed; valid while the connection is. */
FRAY_EXTERN fray_outq_t *fray_conn_outq(fray_conn_t *c);

/* Changes the framing; from on_frame it applies to the bytes right after
 * the current frame (HTTP: headers, then the body by count). 0 or
 * FRAY_EINVAL. */
FRAY_EXTERN int fray_conn_set_spec(fray_conn_t *c, const fray_spec_t *spec);

/* Closes after everything queued is written; no more frames are delivered.
 * Idempotent. */
FRAY_EXTERN void fray_conn_close(fray_conn_t *c);

/* Resets now: queued output is dropped. Idempotent. */
FRAY_EXTERN void fray_conn_abort(fray_conn_t *c);

FRAY_EXTERN uint64_t fray_conn_id(const fray_conn_t *c);      /* 1, 2, ... per server */
FRAY_EXTERN const char *fray_conn_name(const fray_conn_t *c); /* driver's name for the peer */
FRAY_EXTERN fray_conn_state_t fray_conn_state(const fray_conn_t *c);
FRAY_EXTERN void *fray_conn_data(const fray_conn_t *c); /* the conn_size state */
FRAY_EXTERN fray_server_t *fray_conn_server(const fray_conn_t *c);

FRAY_EXTERN void *fray_server_data(const fray_server_t *s); /* the server_size state */
FRAY_EXTERN const fray_handler_t *fray_server_handler(const fray_server_t *s);
/* Open connections, oldest first: for (c = first(s); c; c = next(c)).
 * Closing or aborting the current connection during the walk is safe. */
FRAY_EXTERN fray_conn_t *fray_server_first(fray_server_t *s);
FRAY_EXTERN fray_conn_t *fray_server_next(fray_conn_t *c);
FRAY_EXTERN fray_conn_t *fray_server_find(fray_server_t *s, uint64_t id);
FRAY_EXTERN size_t fray_server_count(const fray_server_t *s); /* open connections */

/* ---- timers --------------------------------------------------------------
 * A handler's timers run on its driver's clock, in milliseconds: real time
 * on libevent (fray/event.h); virtual time in the simulator and the fuzz
 * driver, where time passes only where the script says so (`wait 30s`,
 * `alice < nothing for 10s`: docs/script-format.md) and jumps from one
 * deadline to the next, so an hour of idle timeouts runs in microseconds
 * and every schedule sees the same times. A timer fires once; restart it
 * from its callback for a period. Timers due at the same time fire in the
 * order they were started. The runtime owns every timer: the handler keeps
 * only its id, which stays safe to cancel after the timer fired (then
 * FRAY_ENOENT).
 *
 *   static int idle(fray_conn_t *c, void *st, void *arg) {
 *     fray_conn_sendf(c, "* idle, bye\r\n");
 *     fray_conn_close(c);
 *     return 0;
 *   }
 *   // in on_open, and again in on_frame after a cancel:
 *   fray_conn_timer_start(c, 60000, idle, NULL, &st->idle_timer); */

/* A timer's id: nonzero, unique among the server's pending timers; an id
 * whose timer fired or was cancelled is never given to another timer. */
typedef uint64_t fray_timer_id_t;

/* The longest delay a timer takes (2^40 ms, about 35 years). */
#define FRAY_TIMER_MAX_MS ((uint64_t)1 << 40)

/* A connection's timer fired; arg is what the start was given, untouched.
 * It may send, close, abort and start timers, as on_frame may. Returns 0,
 * or a negative code: the connection is aborted. Never called once the
 * connection is closed (on_close ran): its timers are cancelled then. */
typedef int (*fray_conn_timer_cb)(fray_conn_t *c, void *conn_state, void *arg);

/* A server's timer fired (broadcasts, housekeeping); arg as given. Never
 * called once fray_server_free() has begun. */
typedef void (*fray_server_timer_cb)(fray_server_t *s, void *server_state, void *arg);

/* Starts a timer of c that calls cb(c, conn_state, arg) ms milliseconds from
 * now (0: at the driver's next turn, after the current callback). *id
 * (id may be NULL) receives its id. Allowed while c is open or closing
 * (flushing): a timer can bound how long a close may take. Returns 0;
 * FRAY_EINVAL (c or cb NULL); FRAY_ERANGE (ms over FRAY_TIMER_MAX_MS);
 * FRAY_ECLOSED (c is closed, as in on_close: nothing started);
 * FRAY_ENOMEM. */
FRAY_EXTERN int fray_conn_timer_start(fray_conn_t *c, uint64_t ms, fray_conn_timer_cb cb, void *arg,
                                      fray_timer_id_t *id);

/* Cancels c's timer id: it will not fire. Returns 0, FRAY_EINVAL (c NULL),
 * or FRAY_ENOENT (no such pending timer of c's: it fired, was cancelled,
 * belongs to another connection or is 0), which a handler may ignore. */
FRAY_EXTERN int fray_conn_timer_cancel(fray_conn_t *c, fray_timer_id_t id);

/* As fray_conn_timer_start(), for a timer of the server's own that calls
 * cb(s, server_state, arg). Allowed from server_init on; FRAY_ECLOSED once
 * fray_server_free() has begun (server_free included). */
FRAY_EXTERN int fray_server_timer_start(fray_server_t *s, uint64_t ms, fray_server_timer_cb cb,
                                        void *arg, fray_timer_id_t *id);

/* Cancels a timer fray_server_timer_start() started: 0, FRAY_EINVAL (s
 * NULL) or FRAY_ENOENT (not pending, or a connection's timer). */
FRAY_EXTERN int fray_server_timer_cancel(fray_server_t *s, fray_timer_id_t id);

/* The driver's clock now, in milliseconds (its origin is the driver's: a
 * simulated run starts at 0). */
FRAY_EXTERN uint64_t fray_server_now(const fray_server_t *s);

/* ---- checking a handler ------------------------------------------------- */

/* Largest conn_size and server_size a handler may declare (1 GiB): state
 * sizes beyond it are mistakes (SIZE_MAX would overflow the connection's
 * allocation), not needs. */
#define FRAY_HANDLER_MAX_STATE ((size_t)1 << 30)

/* Checks what a driver relies on before it runs handler: a valid spec, conn_size and server_size at
 * most FRAY_HANDLER_MAX_STATE. Returns 0, or FRAY_EINVAL with a one-line reason written to why
 * (size whylen, NUL-terminated when whylen > 0; why may be NULL), e.g. "the handler's spec is
 * invalid: delimiter must be 1 to 16 bytes". A plugin loader calls it to name the problem;
 * fray_server_new() calls it too. */
FRAY_EXTERN int fray_handler_validate(const fray_handler_t *handler, char *why, size_t whylen);

/* ---- plugins --------------------------------------------------------------- */

/* A shared object handed to `fray replay --plugin LIB.so` exports one
 * function with this name and type, returning a handler with static
 * storage:
 *
 *   const fray_handler_t *fray_plugin_handler(unsigned abi);
 *
 * abi is FRAY_HANDLER_ABI; return NULL if the plugin does not support it. */
#define FRAY_PLUGIN_SYMBOL "fray_plugin_handler"
/* 2: fray_handler_t gained on_eof. A plugin built for 1 has a shorter
 * struct: it must return NULL for 2, or fray would read past its end. */
#define FRAY_HANDLER_ABI 2u
typedef const fray_handler_t *(*fray_plugin_fn)(unsigned abi);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_HANDLER_H */
