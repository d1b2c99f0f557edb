/* fray/sim.h: the simulator. Runs a session script against a handler
 * in-process, with fake sockets, under a schedule that decides how each
 * send is cut into reads, which consecutive sends of a client are merged
 * into one read, and how much of each server write the fake socket takes.
 * It never waits on a clock: the server can only answer input, so when the
 * script expects bytes, everything the server will ever send in reply is
 * already there; a handler that does not answer fails at once.
 *
 *   fray_sim_t *sim;
 *   fray_sim_new(&sim, script, handler, NULL);
 *   fray_sched_t whole = {0};                 // one read per send
 *   fray_sim_result_t res;
 *   if (fray_sim_run(sim, &whole, &res) == FRAY_EFAILED)
 *     fprintf(stderr, "line %zu: %s\n", res.line, res.message);
 *   fray_sim_free(sim);
 *
 * A failure is one of: an expectation not met (wrong bytes, bytes missing,
 * no close where `< eof` is), bytes received that no expectation accounts
 * for by the end of the script, output grown past a bound, a framer holding
 * more than its spec allows, or (fray_sim_check_invariance) a transcript
 * that differs from the `whole` schedule's. */
#ifndef FRAY_SIM_H
#define FRAY_SIM_H

#include "fray/common.h"
#include "fray/handler.h"
#include "fray/script.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fray_sim fray_sim_t;

/* How one send step is delivered: extra cut positions (strictly increasing
 * offsets in (0, len), added to the script's own `|` cuts) and whether its
 * last read is merged with the first read of the next step, which must be a
 * send of the same client (otherwise the flag is ignored). */
typedef struct fray_sched_send {
  const size_t *cuts;
  size_t ncuts;
  int merge_next;
} fray_sched_send_t;

/* A concrete schedule: a value type whose arrays the caller owns. sends has
 * one entry per SEND step of the script, in order (nsends may be 0: then
 * every send is one read, the `whole` schedule). short_writes: the fake
 * sockets take server writes in pseudo-random small pieces (and sometimes
 * none, EAGAIN), seeded by write_seed. */
typedef struct fray_sched {
  const fray_sched_send_t *sends;
  size_t nsends;
  int short_writes;
  uint64_t write_seed;
} fray_sched_t;

typedef enum fray_fail_kind {
  FRAY_FAIL_NONE = 0,
  FRAY_FAIL_MISMATCH,   /* received bytes differ from the expectation */
  FRAY_FAIL_MISSING,    /* fewer bytes than expected arrived (no answer) */
  FRAY_FAIL_CLOSED,     /* the server closed (or reset) before the expected bytes */
  FRAY_FAIL_NOT_CLOSED, /* `< eof` but the server kept the connection open */
  FRAY_FAIL_UNEXPECTED, /* bytes received that no expectation accounts for */
  FRAY_FAIL_VARIANCE,   /* transcript differs from the whole schedule's */
  FRAY_FAIL_BOUND,      /* output or framer memory past its bound */
  FRAY_FAIL_HANDLER     /* the handler could not be set up (server_init failed) */
} fray_fail_kind_t;

FRAY_EXTERN const char *fray_fail_kind_name(fray_fail_kind_t kind);

/* The outcome of one run. Strings and byte views are owned by the sim and
 * valid until its next run or free. */
typedef struct fray_sim_result {
  fray_fail_kind_t kind; /* FRAY_FAIL_NONE when the run passed */
  size_t step;           /* index of the failing step (nsteps: at the end) */
  size_t line;           /* its script line (0 at the end) */
  size_t client;         /* the client concerned */
  const char *message;   /* one line: what was expected, what came */
  const uint8_t *expected;
  size_t expected_len;
  const uint8_t *got;
  size_t got_len;
  size_t diff_at; /* index of the first differing byte in got */
  uint64_t reads; /* reads delivered to the server in this run */
} fray_sim_result_t;

/* Creates a simulator for script and handler (both borrowed: they must
 * outlive the sim). mem may be NULL. 0, FRAY_EINVAL or FRAY_ENOMEM. */
FRAY_EXTERN int fray_sim_new(fray_sim_t **out, const fray_script_t *script,
                             const fray_handler_t *handler, const fray_mem_t *mem);
FRAY_EXTERN void fray_sim_free(fray_sim_t *sim);

/* Runs the script once under sched (NULL: whole). Returns 0 when it passed,
 * FRAY_EFAILED when it failed (res says how), or FRAY_ENOMEM / FRAY_EINVAL
 * (sched does not fit the script). A fresh server is created and freed for
 * every run: runs are independent. */
FRAY_EXTERN int fray_sim_run(fray_sim_t *sim, const fray_sched_t *sched, fray_sim_result_t *res);

/* Runs sched and compares every client's transcript (bytes received, then
 * how the connection ended) with those of the last fray_sim_run(sim, NULL
 * or whole) made with fray_sim_record_reference(). FRAY_EFAILED with kind
 * FRAY_FAIL_VARIANCE when they differ and the run otherwise passed. */
FRAY_EXTERN int fray_sim_record_reference(fray_sim_t *sim, fray_sim_result_t *res);
FRAY_EXTERN int fray_sim_check_invariance(fray_sim_t *sim, const fray_sched_t *sched,
                                          fray_sim_result_t *res);

/* Expectations on (the default) or off. Off, expectation steps check and
 * consume nothing and leftover bytes are no failure: only transcripts,
 * bounds and (check_invariance) split invariance judge a run. The fuzz
 * driver runs this way, since mutated inputs break expectations anyway. */
FRAY_EXTERN void fray_sim_set_expectations(fray_sim_t *sim, int on);

/* Expectations checked only from step index `step` on (earlier ones only
 * drain output; leftover bytes are no failure): a mutated session followed
 * by its canary exchange. */
FRAY_EXTERN void fray_sim_expect_from(fray_sim_t *sim, size_t step);

/* Memory oracle: a run fails (FRAY_FAIL_BOUND) when the process heap grows
 * by more than bytes while the server reads, as a handler trusting a length
 * field would make it. Measured with glibc's mallinfo2; silent where that
 * is not available or answers zeros (sanitizer builds, whose allocators
 * enforce limits of their own). 0 turns it off (the default). */
FRAY_EXTERN void fray_sim_set_mem_limit(fray_sim_t *sim, size_t bytes);

/* Number of SEND steps in the script (the length a schedule's sends has). */
FRAY_EXTERN size_t fray_sim_nsends(const fray_sim_t *sim);

/* The SEND step behind schedule entry i (borrowed from the script). */
FRAY_EXTERN const fray_step_t *fray_sim_send_step(const fray_sim_t *sim, size_t i);

/* ---- schedules ------------------------------------------------------------ */

/* A schedule owned by fray (arrays included): what the generators below
 * produce and the minimiser shrinks. */
typedef struct fray_sched_buf fray_sched_buf_t;

FRAY_EXTERN int fray_sched_buf_new(fray_sched_buf_t **out, const fray_sim_t *sim);
FRAY_EXTERN void fray_sched_buf_free(fray_sched_buf_t *b);
/* The schedule view of b: valid until b changes or is freed. */
FRAY_EXTERN const fray_sched_t *fray_sched_buf_view(const fray_sched_buf_t *b);

/* Every read one byte. */
FRAY_EXTERN int fray_sched_bytewise(fray_sched_buf_t *b);

/* Seeded random cuts (0 to 3 per send, most of them drawn where framing bugs
 * live: before, inside and after delimiters such as "\r\n", at the first and
 * last byte) and merges of consecutive sends of one client. Same seed, same
 * script: same schedule. */
FRAY_EXTERN int fray_sched_random(fray_sched_buf_t *b, uint64_t seed, int short_writes);

/* Exhaustive enumeration: every placement of up to max_cuts cuts in one send
 * at a time (the other sends whole). fray_sched_exhaustive_count() tells how
 * many schedules there are (saturating at SIZE_MAX); index 0 is whole.
 * fray_sched_exhaustive(b, k, index) builds schedule number index. */
FRAY_EXTERN size_t fray_sched_exhaustive_count(const fray_sim_t *sim, size_t max_cuts);
FRAY_EXTERN int fray_sched_exhaustive(fray_sched_buf_t *b, size_t max_cuts, size_t index);

/* Writes the schedule as it cuts the script: each send's reads joined by
 * `|`, merged sends with `+`, bytes escaped and long sends elided. Into buf
 * (NUL-terminated), returns buf. */
FRAY_EXTERN char *fray_sched_describe(const fray_sim_t *sim, const fray_sched_t *sched, char *buf,
                                      size_t size);

/* ---- reproducers ---------------------------------------------------------- */

/* Shrinks a failing (script, schedule) pair: removes steps, cuts and merges
 * one at a time while the run still fails with the schedule and still
 * passes whole (so the failure stays the schedule's doing), until no single
 * removal keeps both true. Writes the minimal script with the schedule baked
 * in (cuts as `|`, merged sends joined) to *out, a new script the caller
 * frees. max_runs bounds the work (0: 20000). Returns 0, FRAY_EINVAL (the
 * pair does not fail) or FRAY_ENOMEM. */
FRAY_EXTERN int fray_sim_minimize(fray_sim_t *sim, const fray_sched_t *sched, size_t max_runs,
                                  fray_script_t **out);

/* Writes sched into a copy of the sim's script (cuts as `|`, merged sends
 * joined into one send) as a new script the caller frees: how a fuzz input
 * or a failing run becomes a readable reproducer. 0 or FRAY_ENOMEM. */
FRAY_EXTERN int fray_sim_bake(const fray_sim_t *sim, const fray_sched_t *sched,
                              fray_script_t **out);

/* As fray_sim_bake(), with the handler's whole-schedule answers written in
 * as the expectations: the script first runs whole (each send one read, its
 * own cuts kept, expectations off), and after each step what each client
 * received during it becomes a `<` step, and `< eof` where the server ended
 * the connection; the script's own expectations are left out. Replayed, the
 * result fails where sched's cuts and merges change the answers, and passes
 * once the handler answers the same however its input is cut: how a fuzz
 * crash becomes a regression test. Short writes are not applied. Returns 0,
 * FRAY_EFAILED when the whole run itself fails (res, which may be NULL, says
 * why; nothing is written), FRAY_ENOMEM. */
FRAY_EXTERN int fray_sim_bake_answers(fray_sim_t *sim, const fray_sched_t *sched,
                                      fray_script_t **out, fray_sim_result_t *res);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_SIM_H */
