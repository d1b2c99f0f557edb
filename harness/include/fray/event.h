/* fray/event.h: any fray handler served on TCP with libevent (target
 * fray::event). The same handler object that runs in the simulator runs
 * here on bufferevents: bytes read from a peer go to its connection's
 * framer, what the handler sends goes out through the connection's output
 * queue, and a peer whose output does not drain (the queue is over its
 * high-water mark) is no longer read until it does.
 *
 *   struct event_base *base = event_base_new();
 *   fray_event_server_t *es;
 *   char err[256];
 *   fray_event_opts_t opts;
 *   fray_event_opts_init(&opts);
 *   if (fray_event_server_new(&es, base, &my_handler, "127.0.0.1:0", &opts, err, sizeof err))
 *     fprintf(stderr, "%s\n", err);
 *   printf("port %u\n", fray_event_server_port(es));
 *   event_base_dispatch(base);       // until opts.on_stopped breaks the loop
 *   fray_event_server_free(es);
 *
 * Memory: output a peer does not take waits in its queue; a peer with more
 * than opts.max_output queued is reset, and when all peers together hold
 * more than opts.max_output_total, those holding the most are reset until
 * the total is under it again (logged, at most one line a second).
 *
 * Connection lifetime: a handler's fray_conn_close() flushes, shuts the
 * write side down (FIN), then discards what the peer still sends until it
 * closes too (or a short linger time passes), so that the peer reads every
 * byte; fray_conn_abort() and callbacks returning < 0 reset the peer (RST).
 *
 * Timers (fray_conn_timer_start, fray_server_timer_start) run on real
 * time: the server's clock is CLOCK_MONOTONIC in milliseconds, and one
 * evtimer on the base follows the earliest deadline; what their callbacks
 * send is flushed as after a read. Timers server_init started count from
 * when the server was created.
 *
 * Not thread-safe: one server is used from its event_base's thread. Ignore
 * SIGPIPE in the process (writes to a vanished peer would otherwise kill
 * it); fray_event_server_new() does not change signal dispositions. */
#ifndef FRAY_EVENT_H
#define FRAY_EVENT_H

#include <stddef.h>
#include <stdio.h>

#include "fray/common.h"
#include "fray/handler.h"

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
typedef struct fray_event_server fray_event_server_t;

/* Verbosity of the server's log lines (written to opts.log). */
typedef enum fray_event_log {
  FRAY_EVENT_LOG_QUIET = 0, /* nothing */
  FRAY_EVENT_LOG_ERRORS,    /* errors: refused peers, I/O errors, slow peers dropped */
  FRAY_EVENT_LOG_CONNS      /* also every connection opened and closed, and resets */
} fray_event_log_t;

/* Callback run once when fray_event_server_stop() has finished: every
 * connection is gone. es stays valid (free it after the loop returns).
 * user_data is opts.user_data, passed back untouched. */
typedef void (*fray_event_stopped_cb)(fray_event_server_t *es, void *user_data);

/* Options, a value type: clear with fray_event_opts_init() and set fields.
 * 0 in a limit means its default below, or "none" where it says so. */
typedef struct fray_event_opts {
  size_t max_conns;         /* open connections at most; beyond, new peers are
                             * closed at once (logged); 0: no limit */
  unsigned idle_timeout_ms; /* a connection with no read and no write progress
                             * for this long is closed; 0: never */
  size_t max_output;        /* bytes queued for one peer beyond which it is
                             * dropped as too slow (reset); 0: 16 MiB */
  size_t max_output_total;  /* bytes queued for all peers together (output
                             * queues and socket buffers in the process):
                             * past it, the peers holding the most are reset
                             * first until the total is back under it, so
                             * memory is bounded however many peers stop
                             * reading; 0: 128 MiB */
  unsigned linger_ms;       /* after the server's FIN, how long to wait for the
                             * peer's; 0: 2000 */
  unsigned stop_timeout_ms; /* fray_event_server_stop(): connections still
                             * flushing after this are reset; 0: 5000 */
  int backlog;              /* listen(2) backlog; 0: 1024 */
  fray_event_log_t log_level;
  FILE *log;              /* where log lines go; NULL: stderr */
  const char *log_prefix; /* prefix of log lines; NULL: "fray serve" */
  fray_event_stopped_cb on_stopped;
  void *user_data;
} fray_event_opts_t;

#define FRAY_EVENT_DEFAULT_MAX_OUTPUT ((size_t)16 << 20)
#define FRAY_EVENT_DEFAULT_MAX_OUTPUT_TOTAL ((size_t)128 << 20)

/* Clears *opts: all defaults, log level ERRORS. */
FRAY_EXTERN void fray_event_opts_init(fray_event_opts_t *opts);

/* Creates a server for handler on base, listening on listen ("HOST:PORT",
 * "[v6]:PORT"; PORT 0 picks a free port, see fray_event_server_port()).
 * base and handler are borrowed and must outlive the server; listen and
 * opts are copied. On failure a one-line reason is written to err (size
 * errlen, always NUL-terminated when errlen > 0; may be NULL).
 * Returns 0 with *out set, or (with *out NULL):
 *   FRAY_EINVAL   NULL arguments or a malformed address (as fray_addr_parse()
 *                 with FRAY_ADDR_ANY_PORT reads it; err says why)
 *   FRAY_EIO      the address cannot be listened on (in use, not local,
 *                 permission); err has the system's reason
 *   FRAY_ENOMEM
 *   the handler's server_init code */
FRAY_EXTERN int fray_event_server_new(fray_event_server_t **out, struct event_base *base,
                                      const fray_handler_t *handler, const char *listen,
                                      const fray_event_opts_t *opts, char *err, size_t errlen);

/* The port listened on (the one chosen when 0 was asked). */
FRAY_EXTERN unsigned fray_event_server_port(const fray_event_server_t *es);

/* The handler's server (for fray_server_count(), broadcasts from outside).
 * Borrowed: valid until fray_event_server_free(). */
FRAY_EXTERN fray_server_t *fray_event_server_core(fray_event_server_t *es);

/* Graceful stop: stops accepting, asks every connection to close after its
 * output is flushed (on_close with FRAY_CLOSE_LOCAL), resets those still
 * flushing after opts.stop_timeout_ms, then calls opts.on_stopped.
 * Idempotent; returns at once (the work happens in the event loop). */
FRAY_EXTERN void fray_event_server_stop(fray_event_server_t *es);

/* Counters, for tests and logs. */
typedef struct fray_event_stats {
  uint64_t accepted;    /* connections accepted */
  uint64_t refused;     /* refused over max_conns */
  uint64_t dropped;     /* reset for exceeding max_output */
  uint64_t over_budget; /* reset to bring the total under max_output_total */
  uint64_t timeouts;    /* closed by the idle timeout */
  uint64_t bytes_in, bytes_out;
  size_t open;        /* connections alive now (including those closing) */
  size_t queued;      /* bytes queued for all peers now (as last seen) */
  size_t queued_peak; /* the most ever seen queued; it can pass
                       * max_output_total by what one event-loop round
                       * queues (a broadcast) before the resets */
} fray_event_stats_t;
FRAY_EXTERN void fray_event_server_stats(const fray_event_server_t *es, fray_event_stats_t *st);

/* Frees the server: connections still alive are reset and released
 * (on_close with FRAY_CLOSE_SHUTDOWN), then the handler's server_free runs.
 * Call it outside the server's callbacks. NULL accepted. */
FRAY_EXTERN void fray_event_server_free(fray_event_server_t *es);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_EVENT_H */
