/* fray/player.h: the session player. It walks a script's steps under a
 * schedule, keeps every client's record (bytes received, how the server
 * ended its connection, whether the client left), judges the expectations,
 * compares transcripts with the `whole` schedule's, and gives a verdict
 * (fray/result.h). What carries the bytes is a *transport*: a table of
 * operations the player calls, as libevent's bufferevent_ops is for
 * bufferevents. The simulator (fray/sim.h: an in-process handler) and the
 * TCP runner (fray/net.h: a real server behind a port) are two transports;
 * a third one fits without a change here.
 *
 *   fray_player_t *p;
 *   fray_player_new(&p, script, &my_ops, my_transport, NULL);   // p owns it now
 *   fray_result_t res;
 *   if (fray_player_run(p, NULL, &res) == FRAY_EFAILED)          // NULL: whole
 *     printf("line %zu: %s\n", res.line, res.message);
 *   fray_player_free(p);                                         // my_ops.free runs
 *
 * ---- the transport contract ----------------------------------------------
 *
 * The player calls the operations below, one run at a time, in script
 * order, from the thread that called fray_player_run(): begin, then per step
 * open / send / shutdown / close / wait, then end. Client numbers are the
 * script's client indices. Every operation returns 0 to go on, or:
 *   FRAY_EFAILED   after it called fray_player_fail(): the server did
 *                  something the run fails for (output past a bound, a
 *                  handler that cannot be set up, a peer that takes nothing);
 *   FRAY_EINEXACT  the run could not be carried out as scheduled (the
 *                  server read the bytes in other pieces than the schedule
 *                  says, or a fault could not be injected): the run proves
 *                  nothing either way. fray_player_run() returns it as its
 *                  own outcome so that callers retry or report it apart;
 *   any other negative code: the run could not be carried out (FRAY_ENOMEM,
 *                  FRAY_ECONNREFUSED, FRAY_ETIMEDOUT, FRAY_EIO, ...); say
 *                  why with fray_player_set_error() first.
 * The first nonzero return stops the run; end() is still called.
 *
 * The transport tells the player what the server does, at any time during
 * an operation (in particular while it waits), through:
 *   fray_player_received(p, client, bytes, n)  bytes the server sent to a
 *                  client, in order (dropped by the player once the client
 *                  has left: closed or reset by the script);
 *   fray_player_ended(p, client, reset)        the server closed (FIN) or
 *                  reset (RST) that client's connection.
 * Both may be called for any client, not only the one the operation is
 * about: a server answers whom it likes (broadcasts). */
#ifndef FRAY_PLAYER_H
#define FRAY_PLAYER_H

#include "fray/common.h"
#include "fray/driver.h"
#include "fray/result.h"
#include "fray/sched.h"
#include "fray/script.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fray_player fray_player_t;

/* What a wait is for; the transport decides how long it may take. Every
 * kind ends early when nothing more can come (the server ended the
 * connection concerned, or a server the transport can watch is quiescent:
 * blocked with nothing left to read). */
typedef enum fray_wait_kind {
  /* An expectation of client `client` is next: wait until
   * fray_player_ready() holds (enough bytes, a whole line, or the end the
   * expectation is about), or nothing more can come. The TCP runner waits
   * up to its timeout. */
  FRAY_WAIT_ANSWER = 0,
  /* `< eof?` of client `client`: as ANSWER, but silence is the likely and
   * good outcome, so a timed wait should be short (the TCP runner: its
   * settle time). */
  FRAY_WAIT_QUIET,
  /* Before a client closes or resets, for `< any`, before expectations
   * start to count, and to record a step's answers: move to the clients what the server has
   * already sent, without waiting for more (the TCP runner does nothing:
   * its bytes are read while it waits anyway). client is the step's. */
  FRAY_WAIT_DRAIN,
  /* The script is over: take everything the server still sends, so bytes no
   * expectation accounts for are seen (the TCP runner: for its settle
   * time). client is 0 and means nothing. */
  FRAY_WAIT_SETTLE
} fray_wait_kind_t;

/* How a transport words a wait that ended without what was expected, in
 * failure messages; both strings stay valid while the transport lives. */
typedef struct fray_transport_words {
  const char *nothing;   /* what came instead of missing bytes, e.g. "nothing
                          * (the server did not answer)" */
  const char *kept_open; /* after "kept the connection open": "" or " for 2000 ms" */
} fray_transport_words_t;

/* The operations table. t is the transport's own pointer given to
 * fray_player_new(), passed back untouched. Every member but free and words
 * is required. */
typedef struct fray_transport_ops {
  const char *name; /* "sim", "tcp", ...; static storage */

  /* A run starts: fresh server state, no client connected. sched is the
   * run's schedule (NULL: whole), valid until end(): the transport applies
   * its write-side faults (short_writes, seeded by write_seed) to the
   * server's writes itself, or ignores them when it cannot inject them. The
   * cuts and merges are the player's business: they arrive as send()s. */
  int (*begin)(void *t, fray_player_t *p, const fray_sched_t *sched);

  /* Client `client` connects (`open`). If it is connected already, its old
   * connection ends first (as a client closing it would). */
  int (*open)(void *t, size_t client);

  /* One read: the server must read exactly data[0..len) (len > 0) in one
   * read, apart from what came before and what comes after. data is
   * borrowed for the call. Bytes to a connection the server has closed go
   * nowhere, as on a socket (no error). */
  int (*send)(void *t, size_t client, const uint8_t *data, size_t len);

  /* `NAME > eof`: the client half-closes (FIN); it may still read. */
  int (*shutdown)(void *t, size_t client);

  /* `close NAME` (reset 0: FIN) or `reset NAME` (reset 1: RST). The player
   * has already marked the client as left: what the server sends it from
   * now on is dropped. */
  int (*close)(void *t, size_t client, int reset);

  /* Waits as kind says (see fray_wait_kind_t), pushing what the server sends
   * meanwhile through fray_player_received() / fray_player_ended(). Returns
   * 0 whether or not the condition came true (the player then judges); a
   * timed-out wait is no error. */
  int (*wait)(void *t, fray_wait_kind_t kind, size_t client);

  /* The run is over (passed, failed or stopped): end every connection and
   * the server state of this run. Its return value is kept only when the
   * run had none of its own. */
  int (*end)(void *t);

  /* Frees the transport; called by fray_player_free(). May be NULL. */
  void (*free)(void *t);

  /* Fills w; called once by fray_player_new(). May be NULL: "nothing" and
   * "". */
  void (*words)(void *t, fray_transport_words_t *w);

  /* The schedule's FRAY_FAULT_EOF_WITH_DATA: as send(), but the server
   * finds the client's EOF (FIN) in the same read, with no flush of its
   * output in between, as a read() that returns the last bytes and EOF
   * together. The shutdown() or close() the script asks for next still
   * follows (the EOF is not delivered twice). closing is nonzero when that
   * is a close: the client then gets only what the server wrote before it
   * found the EOF, as without the fault, where the client was gone before
   * the server read its EOF; after a half-close it keeps reading. May be
   * NULL: the transport cannot, and the read and the EOF go apart as
   * without the fault. */
  int (*send_eof)(void *t, size_t client, const uint8_t *data, size_t len, int closing);

  /* `wait` and `NAME < nothing for`: ms milliseconds pass in which no
   * client sends; what the server sends meanwhile (its timers firing) is
   * pushed as usual. The simulator's clock is virtual: it jumps from one
   * timer deadline to the next, so any span costs only the timers that
   * fire. A real server's clock is real: a transport sleeps the span while
   * reading, or refuses one it will not sleep through (FRAY_EUNSUPPORTED,
   * after fray_player_set_error()). May be NULL: the transport cannot let
   * time pass, and a script that waits stops there with FRAY_EUNSUPPORTED. */
  int (*elapse)(void *t, uint64_t ms);
  /* `NAME stops reading`, `NAME reads N`, `NAME resumes reading`: how much
   * client `client` takes of the server's output changed. From now on the
   * transport hands it at most fray_player_room() bytes (more only once the
   * room grows again), leaving the rest with the server, and moves now what
   * it may take. The FRAY_FAULT_WINDOW fault goes through fray_player_room()
   * too, without this call. May be NULL: the transport cannot hold a
   * client's reads, and a script with such a step stops there with
   * FRAY_EUNSUPPORTED (after fray_player_set_error()). */
  int (*window)(void *t, size_t client);

  /* The schedule's FRAY_FAULT_READ_GAP: the server's next read on client's
   * connection finds nothing, as after a spurious readiness event (the
   * simulator wakes a raw-mode handler with zero bytes; the --exec shim
   * fails the read once with EAGAIN or EINTR); the send() that follows
   * brings the bytes. May be NULL: the transport cannot, and reads go as
   * without the fault. */
  int (*gap)(void *t, size_t client);
} fray_transport_ops_t;

/* Creates a player for script (borrowed: it must outlive the player) over
 * the transport (ops, t). ops is borrowed (static storage, typically); on
 * success the player owns t and frees it with ops->free in
 * fray_player_free(); on failure the caller still owns t. mem may be NULL.
 * Returns 0, FRAY_EINVAL (NULL argument, or a required operation missing)
 * or FRAY_ENOMEM. */
FRAY_EXTERN int fray_player_new(fray_player_t **out, const fray_script_t *script,
                                const fray_transport_ops_t *ops, void *t, const fray_mem_t *mem);

/* Frees the player and its transport. NULL accepted. */
FRAY_EXTERN void fray_player_free(fray_player_t *p);

/* Runs the script once under sched (NULL: whole; its nsends must be 0 or
 * the script's number of sends). Returns 0 when it passed; FRAY_EFAILED
 * when it failed, res says how (strings and views valid until the next run
 * or free); FRAY_EINEXACT when the transport could not run it as scheduled
 * (no verdict; fray_player_error() says why); FRAY_EINVAL (sched does not
 * fit the script) or the transport's error (fray_player_error() has a
 * one-line account). res may be NULL. */
FRAY_EXTERN int fray_player_run(fray_player_t *p, const fray_sched_t *sched, fray_result_t *res);

/* Runs whole and keeps every client's transcript (bytes received, then how
 * the connection ended) as the reference. Returns as fray_player_run(); the
 * reference is kept even when the run failed. */
FRAY_EXTERN int fray_player_record_reference(fray_player_t *p, fray_result_t *res);

/* Runs sched and compares every client's transcript with the reference:
 * FRAY_EFAILED with kind FRAY_FAIL_VARIANCE when they differ and the run
 * otherwise passed. Without a reference, as fray_player_run(). A run under
 * a receive window (FRAY_FAULT_WINDOW) is compared with the whole run under
 * a window of the same size, run here the first time that size comes; when
 * that whole run failed or went inexact, runs of that size are not
 * compared (as fray_player_run()). */
FRAY_EXTERN int fray_player_check_invariance(fray_player_t *p, const fray_sched_t *sched,
                                             fray_result_t *res);

/* Expectations on (the default) or off. Off, expectation steps check and
 * consume nothing and leftover bytes are no failure: only transcripts,
 * bounds and invariance judge a run (the fuzz driver runs this way). */
FRAY_EXTERN void fray_player_set_expectations(fray_player_t *p, int on);

/* Traces what goes through the transport, as fray/driver.h events with conn
 * NULL and client set: READ for each piece handed to it (one read in the
 * simulator and under exec, one send() over TCP, which the server may read
 * merged or cut), SEND for bytes the server sent as they arrive, CLOSE when
 * the server ended a connection (FRAY_CLOSE_RESET or FRAY_CLOSE_LOCAL).
 * For a server in another process, the only view there is. NULL: none. */
FRAY_EXTERN void fray_player_set_trace(fray_player_t *p, fray_trace_fn fn, void *user_data);

/* Expectations checked only from step index `step` on (earlier ones only
 * drain output; leftover bytes are no failure): a mutated session followed
 * by its canary exchange. */
FRAY_EXTERN void fray_player_expect_from(fray_player_t *p, size_t step);

/* The script (borrowed). */
FRAY_EXTERN const fray_script_t *fray_player_script(const fray_player_t *p);

/* What client has received in the last run (all of it; *len set), valid
 * until the next run or free. NULL with *len 0 when nothing or out of
 * range. */
FRAY_EXTERN const uint8_t *fray_player_transcript(const fray_player_t *p, size_t client,
                                                  size_t *len);

/* The last account of an error or inexact run, one line without a newline;
 * "" if none. Owned by the player. */
FRAY_EXTERN const char *fray_player_error(const fray_player_t *p);

/* ---- more players over one transport ---------------------------------------- */

/* Makes a fresh player for script (borrowed: it outlives the player) over
 * the same transport as another (the same handler, server or address), for
 * a caller that runs scripts of its own making: the minimiser
 * (fray_minimize in fray/replay.h) runs every candidate on one, then frees
 * it with fray_player_free(). The candidates have the original script's
 * clients, in the same order. Returns 0 with *out set, or an error code
 * (FRAY_ENOMEM, FRAY_EINVAL, a transport's). */
typedef int (*fray_player_make_fn)(void *user_data, const fray_script_t *script,
                                   fray_player_t **out);

/* A make function and what it is passed back (borrowed, untouched). A
 * factory with make NULL is none. */
typedef struct fray_player_factory {
  fray_player_make_fn make;
  void *user_data;
} fray_player_factory_t;

/* ---- what transports call -------------------------------------------------- */

/* The server sent data[0..len) to client. Returns 0 (also when the client
 * has left: the bytes are dropped), FRAY_ENOMEM, or FRAY_EFAILED when the
 * client's transcript would grow past FRAY_SCRIPT_DEFAULT_MAX_BYTES, as
 * much as a script may expect (the run failed: FRAY_FAIL_BOUND). */
FRAY_EXTERN int fray_player_received(fray_player_t *p, size_t client, const uint8_t *data,
                                     size_t len);

/* How many bytes of the server's output client takes now, before it stops
 * reading: SIZE_MAX when it reads everything (the usual case); less after
 * `NAME stops reading` / `NAME reads N`, or under FRAY_FAULT_WINDOW while the
 * player is not waiting on it. A transport hands it at most that much
 * through fray_player_received() (which counts it off) and leaves the rest
 * with the server: in the handler's output queue (the simulator), in the
 * socket's buffers (TCP). */
FRAY_EXTERN size_t fray_player_room(const fray_player_t *p, size_t client);

/* The server ended client's connection: closed it (reset 0) or reset it. */
FRAY_EXTERN void fray_player_ended(fray_player_t *p, size_t client, int reset);

/* For a transport injecting FRAY_FAULT_RESET_MID_WRITE: client reset while
 * the server was writing to it (the write took part of what it was offered
 * and the connection is reset). The client has left early: the player drops
 * its steps up to its next open and judges nothing from here on
 * (fray/sched.h). Call it when the fault is about to strike, from inside
 * any operation. Returns 1, or 0 when the client is gone already (closed by
 * the script): the fault then does not strike there. */
FRAY_EXTERN int fray_player_reset_mid_write(fray_player_t *p, size_t client);

/* 1 when the server has ended client's connection in this run (since its
 * last open). */
FRAY_EXTERN int fray_player_has_ended(const fray_player_t *p, size_t client);

/* 1 when what the current FRAY_WAIT_ANSWER / FRAY_WAIT_QUIET waits for has
 * come: enough bytes (or already a difference), a whole line, any byte or
 * the end; also when nothing more can come for the client. 0 otherwise and
 * for the other kinds: a transport's wait loop polls it after each push. */
FRAY_EXTERN int fray_player_ready(const fray_player_t *p);

/* Fails the run at the current step with kind and a printf-style one-line
 * message about client. Returns FRAY_EFAILED, for `return
 * fray_player_fail(...)`. */
FRAY_EXTERN int fray_player_fail(fray_player_t *p, fray_fail_kind_t kind, size_t client,
                                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Sets the one-line account fray_player_error() returns (printf-style).
 * Returns 0. */
FRAY_EXTERN int fray_player_set_error(fray_player_t *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The index of the step being played (the script's step count once the
 * steps are over), for a transport's messages. */
FRAY_EXTERN size_t fray_player_step(const fray_player_t *p);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_PLAYER_H */
