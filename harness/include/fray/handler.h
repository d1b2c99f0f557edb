/* fray/handler.h: protocol handlers and the connections they serve.
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
 * Callback return values: 0 to go on; a negative code aborts that
 * connection (it is reset, as after fray_conn_abort()). */
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

typedef struct fray_handler {
  const char *name;    /* what --handler selects; static storage */
  const char *summary; /* one line for listings; may be NULL */
  fray_spec_t spec;    /* framing each new connection starts with */
  size_t conn_size;    /* bytes of zeroed per-connection state (may be 0) */
  size_t server_size;  /* bytes of zeroed per-server state (may be 0) */

  /* Server life. server_init may fail (negative: the server is not created). */
  int (*server_init)(fray_server_t *s, void *server_state);
  void (*server_free)(fray_server_t *s, void *server_state);

  /* A connection opened; it may send a greeting. */
  int (*on_open)(fray_conn_t *c, void *conn_state);
  /* One frame. data is borrowed for the call only. */
  int (*on_frame)(fray_conn_t *c, const uint8_t *data, size_t len, void *conn_state);
  /* A framing error. Fatal errors (err->fatal) close the connection after
   * the callback (which may still send an error reply: it is flushed); for
   * skipped oversized frames the connection goes on unless it returns < 0.
   * When NULL, fatal errors close the connection and skipped frames are
   * ignored. */
  int (*on_error)(fray_conn_t *c, const fray_frame_error_t *err, void *conn_state);
  /* The peer closed while a frame was unfinished: its bytes, borrowed. */
  int (*on_truncated)(fray_conn_t *c, const uint8_t *data, size_t len, void *conn_state);
  /* The connection is gone: release what conn_state holds. No sends. */
  void (*on_close)(fray_conn_t *c, fray_close_reason_t reason, void *conn_state);
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

/* ---- what drivers call --------------------------------------------------- */

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
 * past FRAY_HANDLER_MAX_STATE after fray_server_new()), or FRAY_ENOMEM. If on_open aborts, *out is
 * still set and the connection is in state CLOSED: the driver sees it through fray_conn_state and
 * releases it with fray_conn_release. */
FRAY_EXTERN int fray_server_open(fray_server_t *s, const char *name, void *driver_data,
                                 fray_conn_t **out);

/* Bytes arrived from the peer: framed and delivered to the handler. Returns
 * 0, or FRAY_ECLOSED when the connection no longer reads (closing, closed:
 * the bytes are dropped, as a real socket would after shutdown). */
FRAY_EXTERN int fray_conn_input(fray_conn_t *c, const uint8_t *data, size_t len);

/* The peer closed its side: an unfinished frame goes to on_truncated; the
 * connection then closes (FRAY_CLOSE_PEER) once its output is flushed. */
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

FRAY_EXTERN void *fray_conn_driver_data(const fray_conn_t *c);

/* Bytes the connection's framer holds right now (memory-bound oracle). */
FRAY_EXTERN size_t fray_conn_buffered(const fray_conn_t *c);

/* ---- plugins --------------------------------------------------------------- */

/* A shared object handed to `fray replay --plugin LIB.so` exports one
 * function with this name and type, returning a handler with static
 * storage:
 *
 *   const fray_handler_t *fray_plugin_handler(unsigned abi);
 *
 * abi is FRAY_HANDLER_ABI; return NULL if the plugin does not support it. */
#define FRAY_PLUGIN_SYMBOL "fray_plugin_handler"
#define FRAY_HANDLER_ABI 1u
typedef const fray_handler_t *(*fray_plugin_fn)(unsigned abi);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_HANDLER_H */
