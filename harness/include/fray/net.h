/* fray/net.h: replays a session script against a real TCP server, in any
 * language, under the same schedules (fray/sched.h) as the simulator, with
 * the same verdicts (fray/result.h): the session player (fray/player.h)
 * over a TCP transport.
 *
 * Each read the schedule cuts a send into becomes its own send() on a
 * TCP_NODELAY socket followed by a pacing gap, so the server sees the cut;
 * sends the schedule merges go out as one send(). Expectations are read
 * with a timeout. `open` connects (clients connect in script order),
 * `close` shuts the client's write side down (FIN) and stops reading for
 * the script, `reset` closes with a RST, `> eof` half-closes, `< eof` is the
 * server closing. Every run uses fresh connections.
 *
 *   fray_net_t *net;
 *   fray_net_opts_t o;
 *   fray_net_opts_init(&o);
 *   if (fray_net_new(&net, script, "127.0.0.1:6379", &o, NULL) == 0) {
 *     fray_result_t res;
 *     int rc = fray_net_run(net, NULL, &res);   // NULL: whole
 *     if (rc == FRAY_EFAILED) printf("line %zu: %s\n", res.line, res.message);
 *     else if (rc) printf("%s\n", fray_net_error(net));
 *     fray_net_free(net);
 *   }
 *
 * Unlike the simulator, a real server answers in its own time and can talk
 * unprompted: bytes that arrive within opts.settle_ms after the script ends
 * and that no expectation accounted for fail the run; bytes arriving later
 * are not seen. Sends of different clients with no expectation between them
 * may reach the server in either order despite the pacing: scripts meant
 * for real servers put an expectation between them where order matters.
 *
 * Uses POSIX sockets and poll(); blocks the calling thread while it runs.
 * The process should ignore SIGPIPE (sends use MSG_NOSIGNAL anyway). */
#ifndef FRAY_NET_H
#define FRAY_NET_H

#include "fray/common.h"
#include "fray/player.h"
#include "fray/result.h"
#include "fray/sched.h"
#include "fray/script.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fray_net fray_net_t;

#define FRAY_NET_DEFAULT_PACE_MS 2u
#define FRAY_NET_DEFAULT_TIMEOUT_MS 2000u
#define FRAY_NET_DEFAULT_SETTLE_MS 20u

typedef struct fray_net_opts {
  unsigned pace_ms;    /* gap after each send(), so reads stay apart */
  unsigned timeout_ms; /* connecting, and waiting for each expectation */
  unsigned settle_ms;  /* `< eof?` and the end of the script: how long to
                        * watch for bytes nobody expects */
} fray_net_opts_t;

/* Sets the defaults above. */
FRAY_EXTERN void fray_net_opts_init(fray_net_opts_t *opts);

/* Creates a runner for script (borrowed: it must outlive the runner)
 * against hostport ("HOST:PORT", "[V6]:PORT" as fray_addr_parse() reads it,
 * port 0 refused; resolved now, copied). opts
 * may be NULL (defaults) and is copied; mem may be NULL. Returns 0, or
 * FRAY_EINVAL (bad or unresolvable address: fray_net_error() says why, or
 * NULL arguments), FRAY_ENOMEM. On failure *out is still set when it could
 * be allocated, so the caller can read fray_net_error() before freeing it. */
FRAY_EXTERN int fray_net_new(fray_net_t **out, const fray_script_t *script, const char *hostport,
                             const fray_net_opts_t *opts, const fray_mem_t *mem);

FRAY_EXTERN void fray_net_free(fray_net_t *net);

/* Runs the script once under sched (NULL: whole; its sends index the
 * script's SEND steps as for the simulator; short_writes is ignored: the
 * server's writes are its own). Returns 0 when it passed; FRAY_EFAILED when
 * it failed, res says how (the strings and views live until the next run
 * or free); or, when the run could not be carried out (fray_net_error()
 * has a one-line account): FRAY_ECONNREFUSED, FRAY_ETIMEDOUT (connecting
 * took longer than timeout_ms), FRAY_EIO (another socket error),
 * FRAY_ENOMEM, FRAY_EINVAL (sched does not fit the script). A wait for an
 * expectation that times out is a failure (FRAY_FAIL_MISSING or
 * FRAY_FAIL_NOT_CLOSED) whose message names the timeout. */
FRAY_EXTERN int fray_net_run(fray_net_t *net, const fray_sched_t *sched, fray_result_t *res);

/* The player the runner runs (borrowed; valid while net is): for
 * fray_player_record_reference(), fray_player_transcript(), ... */
FRAY_EXTERN fray_player_t *fray_net_player(fray_net_t *net);

/* The last setup error, one line without a newline; "" if none. Owned by
 * the runner. */
FRAY_EXTERN const char *fray_net_error(const fray_net_t *net);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_NET_H */
