/* The fuzz driver (fray_fuzz_run in fray/fuzz.h): a decoded fuzz input run
 * in the simulator whole, then under its own schedule, transcripts
 * compared. The codec it decodes with is session/fuzzcodec.c. */
#include "fray/fuzz.h"

#include <stdio.h>
#include <string.h>

#include "fray/sim.h"

int fray_fuzz_session_bake(const fray_fuzz_session_t *s, fray_script_t **out) {
  if (!s || !out)
    return FRAY_EINVAL;
  *out = NULL;
  return fray_bake(fray_fuzz_session_script(s), fray_fuzz_session_sched(s), NULL, out);
}

/* ---- the driver ----------------------------------------------------------------- */

static void describe(fray_fuzz_report_t *rep, const fray_fuzz_session_t *sess,
                     const fray_sched_t *sched, const fray_sim_result_t *res, const char *what) {
  char d[400];
  snprintf(rep->message, sizeof rep->message, "fray fuzz: %s\n  %s\n  schedule: %s", what,
           res->message ? res->message : "(no message)",
           fray_sched_describe(fray_fuzz_session_script(sess), sched, d, sizeof d));
}

int fray_fuzz_run(const fray_handler_t *h, const uint8_t *data, size_t len,
                  fray_fuzz_report_t *rep) {
  fray_fuzz_report_t dummy;
  if (!rep)
    rep = &dummy;
  memset(rep, 0, sizeof *rep);
  if (!h)
    return FRAY_EINVAL;
  fray_fuzz_session_t *sess = NULL;
  fray_sim_t *sim = NULL;
  int r = fray_fuzz_decode(&sess, data, len, h->name, NULL);
  if (r)
    return r;
  r = fray_sim_new(&sim, fray_fuzz_session_script(sess), h, NULL);
  if (r)
    goto done;
  fray_sim_set_expectations(sim, 0);
  fray_sim_result_t res;
  /* Reference: every send one read, nothing merged, no fault. */
  r = fray_sim_record_reference(sim, &res);
  if (r == FRAY_EFAILED) {
    rep->failed = 1;
    rep->kind = res.kind;
    describe(rep, sess, NULL, &res, "the handler failed with whole sends");
    goto done;
  }
  if (r)
    goto done;
  r = fray_sim_check_invariance(sim, fray_fuzz_session_sched(sess), &res);
  if (r != FRAY_EFAILED)
    goto done;
  /* A difference: before blaming the cuts, run whole once more. If that
   * differs too, the handler is not deterministic (a clock, a global, an
   * uninitialised byte), which is no split bug. Done only on failure, so
   * the common case costs two runs, not three. */
  fray_sim_result_t again;
  char first[sizeof rep->message];
  describe(rep, sess, fray_fuzz_session_sched(sess), &res,
           res.kind == FRAY_FAIL_VARIANCE ? "split invariance broken"
                                          : "the handler failed under the fuzz-chosen schedule");
  memcpy(first, rep->message, sizeof first);
  fray_fail_kind_t kind = res.kind;
  r = fray_sim_check_invariance(sim, NULL, &again);
  rep->failed = 1;
  if (r == FRAY_EFAILED) {
    rep->nondeterministic = 1;
    rep->kind = again.kind;
    describe(rep, sess, NULL, &again,
             "the handler is not deterministic: two identical whole runs differ (not a split bug)");
  } else {
    rep->kind = kind;
    memcpy(rep->message, first, sizeof first);
  }
  r = r == 0 || r == FRAY_EFAILED ? FRAY_EFAILED : r;
done:
  fray_sim_free(sim);
  fray_fuzz_session_free(sess);
  return r;
}
