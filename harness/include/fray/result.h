/* fray/result.h: the verdict of one run of a session, whatever ran it (the
 * simulator, a TCP server, a server under the preload shim).
 *
 * A failure is one of: an expectation not met (wrong bytes, bytes missing,
 * no close where `< eof` is), bytes received that no expectation accounts
 * for by the end of the script, output grown past a bound, a framer holding
 * more than its spec allows, or a transcript that differs from the `whole`
 * schedule's. */
#ifndef FRAY_RESULT_H
#define FRAY_RESULT_H

#include "fray/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fray_fail_kind {
  FRAY_FAIL_NONE = 0,
  FRAY_FAIL_MISMATCH,   /* received bytes differ from the expectation */
  FRAY_FAIL_MISSING,    /* fewer bytes than expected arrived (no answer) */
  FRAY_FAIL_CLOSED,     /* the server closed (or reset) before the expected bytes */
  FRAY_FAIL_NOT_CLOSED, /* `< eof` but the server kept the connection open */
  FRAY_FAIL_UNEXPECTED, /* bytes received that no expectation accounts for */
  FRAY_FAIL_VARIANCE,   /* transcript differs from the whole schedule's */
  FRAY_FAIL_BOUND,      /* output or framer memory past its bound */
  FRAY_FAIL_HANDLER,    /* the handler could not be set up (server_init failed) */
  FRAY_FAIL_CRASH,      /* the server process died (a crash, a sanitizer's report) */
  FRAY_FAIL_HANG        /* a run made no progress within its time limit (a handler
                         * looping for ever: fray_campaign_opts_t.run_timeout_ms) */
} fray_fail_kind_t;

/* "pass", "mismatch", "missing", "closed", "not-closed", "unexpected",
 * "variance", "bound", "handler", "crash", "hang"; "unknown" otherwise.
 * Static storage. */
FRAY_EXTERN const char *fray_fail_kind_name(fray_fail_kind_t kind);

/* The outcome of one run. Strings and byte views are owned by whatever ran
 * it (player, sim, runner) and valid until its next run or free. */
typedef struct fray_result {
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
} fray_result_t;

/* The name the simulator's API has always used. */
typedef fray_result_t fray_sim_result_t;

#ifdef __cplusplus
}
#endif
#endif /* FRAY_RESULT_H */
