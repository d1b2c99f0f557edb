/* fray/sim.h: the simulator. Runs a session script against a handler
 * in-process, with fake sockets, under a schedule (fray/sched.h) that
 * decides how each send is cut into reads, which consecutive sends of a
 * client are merged into one read, and how much of each server write the
 * fake socket takes. It is the session player (fray/player.h) over the
 * in-process transport, which never waits on a clock: the server answers
 * input, and its timers (fray/handler.h) run on a virtual clock that moves
 * only at the script's `wait` and `< nothing for` steps, jumping from one
 * deadline to the next (an hour of idle timeouts costs microseconds, and
 * every schedule sees the same times). So when the script expects bytes,
 * everything the server will send in reply is already there; a handler
 * that does not answer fails at once.
 *
 *   fray_sim_t *sim;
 *   fray_sim_new(&sim, script, handler, NULL);
 *   fray_sched_t whole = {0};                 // one read per send
 *   fray_sim_result_t res;
 *   if (fray_sim_run(sim, &whole, &res) == FRAY_EFAILED)
 *     fprintf(stderr, "line %zu: %s\n", res.line, res.message);
 *   fray_sim_free(sim);
 *
 * Verdicts are fray/result.h's. */
#ifndef FRAY_SIM_H
#define FRAY_SIM_H

#include "fray/common.h"
#include "fray/driver.h"
#include "fray/handler.h"
#include "fray/player.h"
#include "fray/result.h"
#include "fray/sched.h"
#include "fray/script.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fray_sim fray_sim_t;

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

/* Traces every later run's server (fray/driver.h: what each connection
 * read, framed, sent, switched and how it ended) through fn; NULL stops.
 * Runs are told apart by the connections' OPEN events. */
FRAY_EXTERN void fray_sim_set_trace(fray_sim_t *sim, fray_trace_fn fn, void *user_data);

/* The virtual time, in milliseconds, at which the last run ended: the sum
 * of the spans its `wait` and `< nothing for` steps let pass (each run
 * starts at 0). 0 before any run. */
FRAY_EXTERN uint64_t fray_sim_clock(const fray_sim_t *sim);

/* The player the simulator runs (borrowed; valid while sim is): for the
 * player's own calls (fray_player_transcript, ...). */
FRAY_EXTERN fray_player_t *fray_sim_player(fray_sim_t *sim);

/* Number of SEND steps in the script (the length a schedule's sends has). */
FRAY_EXTERN size_t fray_sim_nsends(const fray_sim_t *sim);

/* The SEND step behind schedule entry i (borrowed from the script). */
FRAY_EXTERN const fray_step_t *fray_sim_send_step(const fray_sim_t *sim, size_t i);

/* ---- reproducers ---------------------------------------------------------- */

/* Shrinks a failing (script, schedule) pair: removes steps, cuts and merges
 * while the run still fails with the schedule, with the same failure kind,
 * and still passes whole (so the failure stays the schedule's doing), until
 * no single removal keeps both true (1-minimal): no step, no step together
 * with the expectations right after it (a send and its answer), no send
 * with one of its client's next expectations (a pipelined send's answer),
 * no connection (a client's steps from its open to its close), no cut and
 * no merge can go. The result is
 * 1-minimal unless max_runs ran out first. Writes the minimal script with the schedule baked
 * in (cuts as `|`, merged sends joined) to *out, a new script the caller
 * frees. max_runs bounds the work (0: 20000). Returns 0, FRAY_EINVAL (the
 * pair does not fail) or FRAY_ENOMEM. */
FRAY_EXTERN int fray_sim_minimize(fray_sim_t *sim, const fray_sched_t *sched, size_t max_runs,
                                  fray_script_t **out);

/* Writes sched into a copy of script (cuts as `|`, merged sends joined into
 * one send; short writes cannot be written and are left out) as a new
 * script the caller frees: how a fuzz input or a failing run becomes a
 * readable reproducer. Needs no handler: any transport's failure bakes.
 * mem may be NULL. 0, FRAY_EINVAL or FRAY_ENOMEM. */
FRAY_EXTERN int fray_bake(const fray_script_t *script, const fray_sched_t *sched,
                          const fray_mem_t *mem, fray_script_t **out);

/* fray_bake() of the sim's script, with the sim's allocator. */
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
