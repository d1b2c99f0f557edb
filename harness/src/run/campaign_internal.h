/* The replay campaign's parts (fray/replay.h). campaign.c is the loop,
 * campaign_report.c turns failing runs into report data, campaign_repro.c
 * writes reproducers, and campaign_target.c is the only file that calls
 * into the simulator, the TCP runner and schedules: "run one schedule" for
 * the rest. Never installed. */
#ifndef FRAY_CAMPAIGN_INTERNAL_H
#define FRAY_CAMPAIGN_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>

#include "fray/replay.h"

/* ---- run one schedule (campaign_target.c) -------------------------------- */

/* A run's outcome; strings and views live until the target's next run. */
typedef fray_result_t fray__cresult_t;

typedef struct fray__ctarget fray__ctarget_t;

/* Prepares script (borrowed) for runs against t. Returns 0, FRAY_EINVAL,
 * FRAY_ENOMEM; on failure *err (may be left NULL) is a one-line account
 * allocated with mem. */
int fray__ctarget_open(fray__ctarget_t **out, const fray_script_t *script,
                       const fray_campaign_target_t *t, const fray_mem_t *mem, char **err);
void fray__ctarget_close(fray__ctarget_t *t);

/* The runs a schedule strategy makes after the reference (exhaustive:
 * saturating). */
uint64_t fray__ctarget_count(const fray__ctarget_t *t, const fray_campaign_opts_t *o);

/* Traces the runs through fn: the handler's events in the simulator, the
 * transport's elsewhere; run i announced by a FRAY_TRACE_RUN event. */
void fray__ctarget_trace(fray__ctarget_t *t, fray_trace_fn fn, void *user_data);

/* Runs the reference (whole, transcripts recorded). 0, FRAY_EFAILED, or an
 * error (fray__ctarget_error() may say more). */
int fray__ctarget_reference(fray__ctarget_t *t, fray__cresult_t *res);

/* Builds schedule i of the strategy (seeded by seed) and runs it, comparing
 * transcripts with the reference's. As fray__ctarget_reference(). */
int fray__ctarget_run(fray__ctarget_t *t, const fray_campaign_opts_t *o, uint64_t i, uint64_t seed,
                      fray__cresult_t *res);

/* The setup error of the last failing call, or "". */
const char *fray__ctarget_error(const fray__ctarget_t *t);

/* The schedule of the last run (the reference, or schedule i) as text. */
void fray__ctarget_describe(const fray__ctarget_t *t, char *buf, size_t size);

/* The family of the last run's schedule when a random campaign drew it
 * (static storage), NULL otherwise. */
const char *fray__ctarget_family(const fray__ctarget_t *t);

/* Whether the last run's schedule took the server's writes short. */
int fray__ctarget_short_writes(const fray__ctarget_t *t);
/* The fault kinds other than short writes the last run's schedule drew
 * (FRAY_FAULT_* bits): a script cannot say them, so its reproducer names
 * them. */
unsigned fray__ctarget_faults(const fray__ctarget_t *t);
/* The fault seed of the last run built. */
uint64_t fray__ctarget_fault_seed(const fray__ctarget_t *t);

/* The last run's failure as a small script with its schedule baked in:
 * minimised in the simulator and over a caller's factory, as found over
 * TCP (whose cuts are the kernel's). *how says which, for the header
 * (static storage). The target's handler is named by @handler. *out is
 * new. 0, FRAY_EINVAL (in the simulator: the failure did not recur),
 * FRAY_ENOMEM. */
int fray__ctarget_reproducer(fray__ctarget_t *t, fray_script_t **out, const char **how);

/* A target that plans runs without making them (no player: no handler code
 * runs), for the supervisor to rebuild a run that took its worker down. */
int fray__ctarget_open_plan(fray__ctarget_t **out, const fray_script_t *script,
                            const fray_handler_t *handler, const fray_mem_t *mem);

/* Builds run `run` of the strategy (0: the reference, whole; i + 1:
 * schedule i) as if it had just run: describe, short_writes and
 * bake_last then speak of it. 0, or an error building it. */
int fray__ctarget_plan(fray__ctarget_t *t, const fray_campaign_opts_t *o, uint64_t run);

/* The last run's schedule baked into a copy of the script, naming
 * handler (may be NULL) in its @handler line. 0 or FRAY_ENOMEM. */
int fray__ctarget_bake_last(const fray__ctarget_t *t, const char *handler, fray_script_t **out);

/* The schedule of the run in progress baked in (see fray_campaign_bake_running). */
int fray__ctarget_bake(const fray__ctarget_t *t, fray_script_t **out);

/* Malformed variant number seed of the script (fray_mutate). */
int fray__ctarget_mutant(const fray__ctarget_t *t, uint64_t seed, fray_script_t **out,
                         size_t *canary_at, char *what, size_t what_size);

/* Runs variant m (borrowed until fray__ctarget_drop_mutant) whole as run
 * number run, judging only its canary exchange from step canary_at on,
 * crashes and the heap. */
int fray__ctarget_run_mutant(fray__ctarget_t *t, const fray_script_t *m, uint64_t run,
                             size_t canary_at, fray__cresult_t *res);
void fray__ctarget_drop_mutant(fray__ctarget_t *t);

/* ---- the campaign (campaign.c) ------------------------------------------- */

/* The heartbeat a supervised worker's loop keeps in memory shared with its
 * supervisor (supervise.c): one relaxed store pair per run. */
typedef struct fray__beat {
  _Atomic uint64_t seq; /* runs started: the watchdog sees progress */
  _Atomic uint64_t run; /* the run in progress, numbered as failures' runs */
} fray__beat_t;

typedef struct fray__super fray__super_t;

struct fray_campaign {
  fray_mem_t mem;
  fray_campaign_opts_t o;
  const fray__ctarget_t *running; /* during a schedule run, for bake_running */
  fray__super_t *super;           /* isolate: the supervisor's state, else NULL */
  fray__beat_t *beat;             /* in a supervised worker, else NULL */
};

/* One script's campaign in progress: what the parts share. */
typedef struct fray__cjob {
  fray_campaign_t *c;
  const fray_script_t *script;
  const char *name;
  const fray_campaign_target_t *target;
  fray__ctarget_t *t;
  fray_campaign_report_t *r; /* being filled */
  int dir_state;             /* save_dir: 0 not made yet, 1 made, -errno */
  uint64_t every;            /* runs between two progress callbacks */
} fray__cjob_t;

/* Sets j up for script: its report (allocated with report_mem) and
 * strategy. 0 or FRAY_ENOMEM (j->r then NULL). */
int fray__cjob_begin(fray__cjob_t *j, const fray_mem_t *report_mem);

/* The campaign on one script in this process, its report allocated with
 * report_mem: fray_campaign_run() without isolation. */
int fray__campaign_run_here(fray_campaign_t *c, const fray_script_t *script, const char *name,
                            const fray_campaign_target_t *target, const fray_mem_t *report_mem,
                            fray_campaign_report_t **out);

/* ---- crash isolation (supervise.c) ---------------------------------------- */

/* The supervisor of c (isolate): its shared mapping. 0 or FRAY_ENOMEM. */
int fray__super_new(fray__super_t **out, const fray_campaign_t *c);
void fray__super_free(fray__super_t *s, const fray_mem_t *mem);

/* fray_campaign_run() of an in-process handler target, in a worker. */
int fray__super_run(fray_campaign_t *c, const fray_script_t *script, const char *name,
                    const fray_campaign_target_t *target, fray_campaign_report_t **out);

/* ---- report data (campaign_report.c) -------------------------------------- */

fray_campaign_report_t *fray__creport_new(const fray_mem_t *mem, size_t max_described);

/* Strings owned by the report r. NULL on ENOMEM. */
char *fray__creport_strdup(fray_campaign_report_t *r, const char *s);
char *fray__creport_printf(fray_campaign_report_t *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A deep copy of r (strings included) allocated with mem, or NULL. */
fray_campaign_report_t *fray__creport_copy(const fray_campaign_report_t *r, const fray_mem_t *mem);

/* The report's allocator. */
const fray_mem_t *fray__creport_mem(const fray_campaign_report_t *r);

/* Counts a failing run and describes it when there is room (script: the
 * one that ran; schedule: its description). *out: the new description, or
 * NULL when only counted. 0 or FRAY_ENOMEM. */
int fray__creport_failure(fray__cjob_t *j, const fray_script_t *script, const fray__cresult_t *res,
                          uint64_t run, int whole, const char *schedule,
                          fray_campaign_failure_t **out);

/* Under keep_going one bug tends to fail many schedules at the same place
 * (kind, line, client): 1 + the index of the first failure described
 * there before f, whose reproducer speaks for them all; 0 when f is the
 * first. */
size_t fray__creport_same_place(const fray_campaign_report_t *r, const fray_campaign_failure_t *f);

/* ---- reproducers (campaign_repro.c) --------------------------------------- */

/* Writes the reproducer of the last run's failure f into save_dir, setting
 * f->reproducer or f->reproducer_note. 0 or FRAY_ENOMEM. */
int fray__crepro_schedule(fray__cjob_t *j, fray_campaign_failure_t *f);

/* Writes script (the run that crashed or hung, its schedule baked in) into
 * save_dir as f's reproducer, its header saying how it was minimised (or
 * why not), setting f->reproducer or f->reproducer_note; alone: the script
 * was seen crashing alone, whole, without the run's short writes and fault
 * kinds. 0 or FRAY_ENOMEM. */
int fray__crepro_crash(fray__cjob_t *j, fray_campaign_failure_t *f, const fray_script_t *script,
                       const char *how, int alone);

/* Writes malformed variant i before it runs, so that a crash leaves it
 * behind, as the file named in path (of size bytes). Returns 1 when
 * written, 0 when not (no save_dir, or it failed: a report note says why),
 * or FRAY_ENOMEM. */
int fray__crepro_mutant(fray__cjob_t *j, const fray_script_t *m, uint64_t i, const char *what,
                        char *path, size_t size);

#endif
