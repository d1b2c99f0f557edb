/* fray/exec.h: replays a session script against an unmodified server that
 * fray starts itself under its preload shim (libfray-shim.so), with exact
 * schedules: the session player (fray/player.h) over the `exec` transport.
 *
 * The server's every read of a client connection returns exactly the piece
 * the schedule says (cuts and merges), checked against the shim's reports;
 * its writes can be cut short (the schedule's short_writes, seeded by
 * write_seed); a missing answer is seen when the server blocks with nothing
 * left to read (quiescence), not after a timeout. docs/exec.md explains the
 * mechanism and its limits (static binaries, Go, io_uring, forked workers).
 *
 *   fray_exec_t *ex;
 *   fray_exec_opts_t o;
 *   fray_exec_opts_init(&o);
 *   if (fray_exec_new(&ex, script, "redis-server --port {port} --save ''", &o, NULL) == 0) {
 *     fray_result_t res;
 *     int rc = fray_exec_run(ex, NULL, &res);    // NULL: whole
 *     if (rc == FRAY_EFAILED) printf("line %zu: %s\n", res.line, res.message);
 *     else if (rc) printf("%s\n", fray_exec_error(ex));  // FRAY_EINEXACT too
 *     fray_exec_free(ex);                        // stops the server
 *   }
 *
 * The command is split as a shell splits words (no shell runs unless it
 * says `sh -c`); `{port}` becomes a free loopback port, on which the server
 * must listen (127.0.0.1). Its stdout and stderr go to a log file whose
 * last lines come with start-up errors and crashes. It runs in a process
 * group of its own and is stopped with SIGTERM, then SIGKILL after a grace
 * period; nothing of the group outlives fray_exec_free() (nor fray: the
 * server gets SIGKILL when fray dies). Blocks the calling thread; the
 * process should ignore SIGPIPE. Linux only. */
#ifndef FRAY_EXEC_H
#define FRAY_EXEC_H

#include "fray/common.h"
#include "fray/player.h"
#include "fray/result.h"
#include "fray/sched.h"
#include "fray/script.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fray_exec fray_exec_t;

#define FRAY_EXEC_DEFAULT_TIMEOUT_MS 2000u
#define FRAY_EXEC_DEFAULT_SETTLE_MS 20u
#define FRAY_EXEC_DEFAULT_START_MS 10000u

typedef struct fray_exec_opts {
  unsigned timeout_ms;       /* the backstop for each wait the shim cannot end */
  unsigned settle_ms;        /* `< eof?` and the end of the script, when the
                              * server never goes quiescent */
  unsigned start_timeout_ms; /* until the server listens on its port */
  int restart_each_run;      /* a fresh server for every run (stateful servers) */
  const char *log_path;      /* the server's output; NULL: a temporary file */
} fray_exec_opts_t;

/* Sets the defaults above (one server for every run). */
FRAY_EXTERN void fray_exec_opts_init(fray_exec_opts_t *opts);

/* Creates a runner for script (borrowed: it must outlive the runner) and
 * command (copied). The command is checked now (split, found, dynamically
 * linked, shim found); the server starts with the first run. opts may be
 * NULL (defaults) and is copied; mem may be NULL. Returns 0, FRAY_ESYNTAX
 * (an open quote), FRAY_ENOENT (command or shim not found),
 * FRAY_EUNSUPPORTED (a static binary: the shim cannot enter it),
 * FRAY_EINVAL, FRAY_ENOMEM. On failure *out is still set when it could be
 * allocated, so that fray_exec_error() can be read before freeing it. */
FRAY_EXTERN int fray_exec_new(fray_exec_t **out, const fray_script_t *script, const char *command,
                              const fray_exec_opts_t *opts, const fray_mem_t *mem);

/* Stops the server and frees everything. NULL accepted. */
FRAY_EXTERN void fray_exec_free(fray_exec_t *ex);

/* Runs the script once under sched (NULL: whole), starting the server
 * first when it is not running (first run, after a crash, or every run
 * with restart_each_run). Returns 0 when it passed; FRAY_EFAILED when it
 * failed, res says how (a server that died is FRAY_FAIL_CRASH, its last
 * words in the message); FRAY_EINEXACT when the server did not read the
 * pieces as scheduled (no verdict; fray_exec_error() says why); or, when
 * the run could not be carried out, FRAY_EIO / FRAY_ETIMEDOUT /
 * FRAY_EUNSUPPORTED (the server did not start, listen or take the shim:
 * fray_exec_error() says which, with its last words). */
FRAY_EXTERN int fray_exec_run(fray_exec_t *ex, const fray_sched_t *sched, fray_result_t *res);

/* The last account of an error or inexact run, one line (or a line and the
 * server's last words); "" if none. Owned by the runner. */
FRAY_EXTERN const char *fray_exec_error(const fray_exec_t *ex);

/* The player behind the runner (borrowed), for reference transcripts and
 * invariance checks (fray_player_check_invariance). */
FRAY_EXTERN fray_player_t *fray_exec_player(fray_exec_t *ex);

/* Makes more players over the runner's server for other scripts with at
 * most the runner's script's clients: what fray_campaign_target_t's
 * factory wants, so that a failure found over --exec is minimised
 * (fray_minimize, fray/replay.h). Each of their runs starts on a fresh
 * server, as a reproducer is replayed (so server state that earlier runs
 * left cannot make a try fail or pass); the runner's own next run gets a
 * fresh one too. The players own nothing; ex must outlive them, and only
 * one player runs at a time. A NULL ex gives no factory (make NULL). */
FRAY_EXTERN fray_player_factory_t fray_exec_factory(fray_exec_t *ex);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_EXEC_H */
