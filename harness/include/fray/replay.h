/* fray/replay.h: the replay campaign. Runs one session script many times
 * under a strategy (schedules that cut and merge its sends, or malformed
 * variants of it), judges every run, and hands back a report as data: the
 * verdict, how many runs were made, and each failure with the schedule that
 * caused it, the failing line, the expected and received bytes and the
 * reproducer written for it. `fray replay` is this loop plus printing.
 *
 *   fray_campaign_opts_t o;
 *   fray_campaign_opts_init(&o);              // random, 200 runs, seed 1
 *   o.save_dir = "out";                       // reproducers go there
 *   fray_campaign_t *c;
 *   fray_campaign_new(&c, &o, NULL);
 *   fray_campaign_target_t t = {.handler = &my_handler};
 *   fray_campaign_report_t *r;
 *   int rc = fray_campaign_run(c, script, "chat.fray", &t, &r);
 *   if (rc == FRAY_EFAILED)
 *     printf("line %zu: %s\n", r->failures[0].line, r->failures[0].message);
 *   fray_campaign_report_free(r);
 *   fray_campaign_free(c);
 *
 * Nothing is printed: progress goes through a callback, problems into the
 * report. Run i of seed s is the same schedule whatever the number of runs,
 * so a failure found by a long campaign is found again by any campaign
 * with the same seed that gets that far. */
#ifndef FRAY_REPLAY_H
#define FRAY_REPLAY_H

#include "fray/common.h"
#include "fray/driver.h"
#include "fray/handler.h"
#include "fray/net.h"
#include "fray/player.h"
#include "fray/result.h"
#include "fray/sched.h"
#include "fray/script.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fray_campaign fray_campaign_t;

/* What varies from run to run. Every schedule strategy runs `whole` first,
 * as the reference the others' transcripts must equal. */
typedef enum fray_strategy {
  FRAY_STRATEGY_WHOLE = 0,  /* one read per send (with short writes: `runs` write patterns) */
  FRAY_STRATEGY_BYTEWISE,   /* one byte per read */
  FRAY_STRATEGY_RANDOM,     /* `runs` seeded random cuts and merges */
  FRAY_STRATEGY_EXHAUSTIVE, /* every placement of up to max_cuts cuts, one send at a time */
  FRAY_STRATEGY_MUTATE      /* `runs` malformed variants (fray/mutate.h), in-process only */
} fray_strategy_t;

/* "whole", "bytewise", "random", "exhaustive", "mutate"; "unknown" for
 * other values. Static storage. */
FRAY_EXTERN const char *fray_strategy_name(fray_strategy_t s);

/* Looks a strategy up by the name above. 0, or FRAY_ENOENT. */
FRAY_EXTERN int fray_strategy_from_name(const char *name, fray_strategy_t *out);

#define FRAY_CAMPAIGN_DEFAULT_RUNS 200u
#define FRAY_CAMPAIGN_DEFAULT_SEED 1u
#define FRAY_CAMPAIGN_DEFAULT_MAX_CUTS 1u
#define FRAY_CAMPAIGN_DEFAULT_DESCRIBED 64u /* failures described per report */
#define FRAY_CAMPAIGN_MAX_CUTS 64u
#define FRAY_CAMPAIGN_TEXT_MAX 4096u /* input bytes of expected/got kept whole */
#define FRAY_CAMPAIGN_MUTATE_MEM_LIMIT ((size_t)64 << 20)
#define FRAY_CAMPAIGN_PORTFOLIO (-1) /* fray_campaign_opts_t.family: every family in turn */
#define FRAY_CAMPAIGN_DEFAULT_RUN_TIMEOUT_MS 10000u

/* Where a campaign stands, for a progress display. */
typedef struct fray_campaign_progress {
  uint64_t runs;    /* runs made so far, the reference included */
  uint64_t planned; /* runs the strategy plans (saturates at UINT64_MAX) */
  uint64_t failed;  /* failing runs so far */
} fray_campaign_progress_t;

/* Called once before the first run (runs 0, planned known: a display can
 * say up front how many runs there will be), then every 64 runs in the
 * simulator (never per run: the loop stays fast, and reading a clock is the
 * callback's business) and after every run over other transports (which
 * take milliseconds a run). p is borrowed for the call. Returns 0 to go on,
 * nonzero to stop the campaign before its next run: the report then covers
 * the runs made, with cut_short set when it stopped short of its plan.
 * Under isolate the calls are made in the caller's process, relayed from
 * the worker: the first always, later ones at most 20 times a second, and
 * a stop takes effect within the next 64 runs. */
typedef int (*fray_campaign_progress_cb)(fray_campaign_t *c, const fray_campaign_progress_t *p,
                                         void *user_data);

/* Configuration, a value type copied by fray_campaign_new(); the strings it
 * points to are borrowed and must outlive the campaign. */
typedef struct fray_campaign_opts {
  fray_strategy_t strategy;
  uint64_t runs;                      /* random: schedules; whole with short writes: write
                                       * patterns; mutate: variants (0: the default) */
  uint64_t seed;                      /* of random schedules, write patterns and mutations */
  size_t max_cuts;                    /* exhaustive: cuts per send, 1..64 (0: the default) */
  int short_writes;                   /* the server's writes are taken in small random
                                       * pieces, sometimes none, in every run (simulator
                                       * and --exec) */
  int family;                         /* random: the one family every run draws from
                                       * (fray_sched_family_t), or FRAY_CAMPAIGN_PORTFOLIO
                                       * (the default): run i draws
                                       * fray_sched_family_of_run(seed, i) */
  unsigned faults;                    /* random, in the simulator and over a caller's
                                       * player (which applies the kinds its transport
                                       * can), not over TCP: the fault kinds runs draw
                                       * (FRAY_FAULT_*, fray/sched.h); default
                                       * FRAY_FAULT_ALL, 0: none */
  int keep_going;                     /* go on after the first failing run */
  size_t max_described;               /* failures described in a report (0: the default);
                                       * later ones are only counted */
  const char *save_dir;               /* reproducers are written here (created if
                                       * missing); NULL: none */
  fray_campaign_progress_cb progress; /* NULL: none */
  void *user_data;                    /* passed back untouched */
  /* At most this many runs, the reference included (0: no bound): a cap on
   * exhaustive campaigns too large to finish. A campaign it stops before
   * its plan has cut_short set in its report. */
  uint64_t max_runs;
  /* Shard `shard` of `nshards` (0 or 1: no sharding): only the runs whose
   * index i (1..planned-1) has (i - 1) % nshards == shard are made, each
   * exactly as it would be unsharded (same schedule, same index), so the
   * nshards shards of a campaign make each of its runs exactly once. The
   * reference (run 0) is made in every shard, since every run is compared
   * with it. shard must be below nshards. */
  uint64_t shard, nshards;
  /* Crash isolation, for a handler target (in this process): each script's
   * runs are made in a forked worker process, at in-process speed, so that
   * a crash, an abort, a sanitizer's report, an exit or a run that makes no
   * progress for run_timeout_ms ends that script with a FAIL of kind
   * FRAY_FAIL_CRASH or FRAY_FAIL_HANG (the signal or the report's first
   * line in its message) instead of ending the caller. The failing run's
   * schedule or variant is rebuilt from seed and run index, written as a
   * reproducer under save_dir and replayed once in a fresh process to
   * confirm it. The worker's stderr passes through the caller's. Needs
   * fork() and a SIGCHLD that is not ignored; other targets run as without. */
  int isolate;
  unsigned run_timeout_ms; /* isolate: 0 is the default, 10 s */
  /* Every run's events (fray/driver.h), each run announced by a
   * FRAY_TRACE_RUN event with its index: in the simulator the handler's
   * (reads, frames, sends, spec switches, refused calls, closes), over
   * other transports what crosses them (fray_player_set_trace). The runs
   * that minimise a reproducer are not traced. NULL: none. */
  fray_trace_fn trace;
  void *trace_data;
  /* whole, with fault_seed_set: one run after the reference in which every
   * kind in faults strikes where fault_seed draws it (short writes, when
   * faults has FRAY_FAULT_SHORT_WRITES or short_writes is set, seeded by it
   * too), as in the random run whose fault seed it was. How a reproducer
   * that needs fault kinds replays: `--schedule whole --faults K
   * --fault-seed S` on its `# replay:` line. */
  int fault_seed_set;
  uint64_t fault_seed;
} fray_campaign_opts_t;

/* Sets the defaults: random over the whole portfolio of families, every
 * fault kind drawn, 200 runs, seed 1, one cut, short writes not forced,
 * stop at the first failure, 64 failures described, no reproducers, no
 * progress, no isolation. */
FRAY_EXTERN void fray_campaign_opts_init(fray_campaign_opts_t *opts);

/* What `fray replay --schedule` calls the runs opts make: the strategy's
 * name ("random", "exhaustive", ...), or the family's ("coalesce", ...)
 * when a random campaign keeps to one. Static storage. */
FRAY_EXTERN const char *fray_campaign_schedule_name(const fray_campaign_opts_t *opts);

/* What the script runs against; exactly one of handler, connect and player
 * is set. Every run goes through a session player (fray/player.h): the
 * simulator's for a handler, the TCP runner's for connect, or the caller's
 * over any transport. Borrowed for the call to fray_campaign_run(). */
typedef struct fray_campaign_target {
  const fray_handler_t *handler; /* in the simulator: reproducers are minimised,
                                  * and only here run malformed variants */
  const char *connect;           /* "HOST:PORT" of a real server */
  fray_net_opts_t net;           /* connect: timing (zero: fray_net_opts_init's) */
  /* A player made for the same script over a transport of the caller's
   * (its schedules' short writes are the transport's to apply or ignore). */
  fray_player_t *player;
  /* player: how to make more players over its transport, for the scripts
   * the minimiser tries (fray_minimize): set, a failure's reproducer is
   * minimised as in the simulator, at most FRAY_MINIMIZE_TRANSPORT_RUNS
   * runs a failure, and written as found when it did not recur or a try
   * could not be made; make NULL, it is written as found. Only for a
   * transport whose reads follow the schedule exactly (fray/exec.h's
   * fray_exec_factory()): over --connect the kernel, not the schedule,
   * cuts what the server reads, and a try's verdict would not be the
   * schedule's. */
  fray_player_factory_t factory;
  /* player: also compare every run's transcripts with the whole run's
   * (split invariance), as the simulator always does. Leave it 0 for a real
   * server, whose answers may differ from run to run (ids, counters, times)
   * and are judged by the expectations alone, as over connect. */
  int transcripts;
  /* The `fray replay` options that reach this target again ("--plugin",
   * "./h.so" or "--connect", "127.0.0.1:7000"), one word each: reproducers
   * carry them in the command of their `# replay:` line, so that running
   * that line fails the same way. May be NULL when nargs is 0 (the
   * reproducer's @handler line names a built-in handler). */
  const char *const *args;
  size_t nargs;
} fray_campaign_target_t;

typedef enum fray_verdict {
  FRAY_VERDICT_PASS = 0, /* every run passed */
  FRAY_VERDICT_FAIL,     /* a run failed: see failures */
  FRAY_VERDICT_ERROR     /* the campaign could not be carried out: see error */
} fray_verdict_t;

/* One failing run, described. Every string is NUL-terminated and owned by
 * the report. */
typedef struct fray_campaign_failure {
  fray_fail_kind_t kind;
  size_t step;          /* failing step index (the step count: at the end) */
  size_t line;          /* its script line; 0: at the end of the script */
  uint64_t run;         /* run index; 0 is the whole reference */
  int whole;            /* it failed under the reference, without splitting */
  const char *client;   /* the client concerned, or NULL */
  const char *message;  /* the one-line account of the run */
  const char *schedule; /* the reads, as fray_sched_describe() writes them
                         * (random: after "FAMILY: "); for mutate:
                         * "mutation I: what was changed" */
  const char *family;   /* random: the family of the failing run
                         * (fray_sched_family_name()); NULL otherwise */
  /* Expected and received bytes, fray-escaped without quotes, up to
   * FRAY_CAMPAIGN_TEXT_MAX input bytes; NULL when the failure has none. */
  const char *expected;
  const char *got;
  /* Quoted excerpts of the same bytes around the first difference, with
   * "..." where cut; NULL when the failure has none. */
  const char *expected_excerpt;
  const char *got_excerpt;
  int has_diff;                /* expected and got compare byte for byte: */
  size_t diff_at;              /* the first differing byte's index in got, */
  size_t caret;                /* and its column in both excerpts */
  const char *reproducer;      /* the file written for it, or NULL */
  const char *reproducer_note; /* why none was written though asked, or NULL */
  size_t same_as;              /* 1 + index of an earlier failure at the same place
                                * (kind, line, client), which has the reproducer; 0: none */
} fray_campaign_failure_t;

/* What a campaign found for one script. Allocated by fray_campaign_run(),
 * freed by fray_campaign_report_free(); independent of the campaign. */
typedef struct fray_campaign_report {
  fray_verdict_t verdict;
  fray_strategy_t strategy;
  const char *error; /* ERROR: one line saying why; NULL otherwise */
  const char *note;  /* a problem with save_dir that belongs to no failure, or NULL */
  uint64_t runs;     /* runs made, the reference included */
  uint64_t planned;  /* runs the strategy planned (in this shard) */
  int cut_short;     /* no run failed, but max_runs or the progress callback
                      * stopped the campaign before the plan was done: the
                      * verdict says PASS of the runs made only */
  uint64_t failed;   /* failing runs in all (nfailures describes the first) */
  uint64_t inexact;  /* runs the transport could not carry out as scheduled
                      * (FRAY_EINEXACT): they prove nothing either way */
  double seconds;
  int own_cuts; /* the script cuts a send itself (`|`): a failure under
                 * whole is then the cuts' doing */
  const fray_campaign_failure_t *failures;
  size_t nfailures;
} fray_campaign_report_t;

/* Creates a campaign. opts may be NULL (the defaults) and is copied; mem
 * may be NULL (malloc). Returns 0, FRAY_EINVAL (strategy unknown, max_cuts
 * over 64, shard not below nshards) or FRAY_ENOMEM (also: isolate's shared
 * mapping could not be made). */
FRAY_EXTERN int fray_campaign_new(fray_campaign_t **out, const fray_campaign_opts_t *opts,
                                  const fray_mem_t *mem);

/* Frees c; NULL is allowed. Reports it made stay valid. */
FRAY_EXTERN void fray_campaign_free(fray_campaign_t *c);

/* Runs the campaign on script (borrowed) against target. name is how the
 * script is called in reproducers and their headers (its path; NULL:
 * "script"). *out receives a new report (NULL only when it could not be
 * allocated). Returns 0 when every run passed, FRAY_EFAILED when a run
 * failed, or, with the report's error saying why: FRAY_ENOMEM,
 * FRAY_EINVAL (not exactly one of handler, connect and player; a player
 * made for another script; a bad address), FRAY_EUNSUPPORTED (mutate
 * without a handler, short writes over TCP), FRAY_EINEXACT (the reference
 * run could not be carried out as scheduled), FRAY_ECONNREFUSED,
 * FRAY_ETIMEDOUT, FRAY_EIO or another transport error (the server could not
 * be reached), under isolate FRAY_EIO (the worker could not be started).
 * Reproducers are written as failures are found; a file that cannot be
 * written is a note in the report, not an error. A crash or a hang under
 * isolate ends the script's campaign at that run (FRAY_EFAILED; failures
 * described before it in the same script are counted, not described). */
FRAY_EXTERN int fray_campaign_run(fray_campaign_t *c, const fray_script_t *script, const char *name,
                                  const fray_campaign_target_t *target,
                                  fray_campaign_report_t **out);

/* The schedule running at this moment, baked into a copy of the script
 * (cuts as `|`, merges joined): for a crash handler (a sanitizer's death
 * callback) to leave a reproducer behind when the handler under test takes
 * the process down. *out is a new script the caller frees. 0, FRAY_ESTATE
 * (no schedule is running: none, or a malformed variant, whose file
 * save_dir already holds) or FRAY_ENOMEM. */
FRAY_EXTERN int fray_campaign_bake_running(const fray_campaign_t *c, fray_script_t **out);

/* Runs a minimisation makes at most by default (fray_minimize's max_runs
 * 0), and what a campaign allows one over a caller's factory (a run over a
 * real server takes milliseconds, not microseconds). */
#define FRAY_MINIMIZE_DEFAULT_RUNS 20000u
#define FRAY_MINIMIZE_TRANSPORT_RUNS 1000u

/* Shrinks a failing (script, sched) pair, as fray_sim_minimize() (fray/sim.h)
 * says, over any transport: every candidate script runs whole, then under
 * its schedule, on a fresh player from factory, freed after the try; with
 * transcripts the schedule's transcripts must also equal whole's (the
 * simulator's check: leave it 0 for a real server whose answers vary). A
 * try the transport could not carry out as scheduled (FRAY_EINEXACT) counts
 * as not failing, so a removal is kept only on a seen failure. *out gets the
 * minimal script with the schedule baked in, a new script the caller frees.
 * max_runs bounds the work (0: FRAY_MINIMIZE_DEFAULT_RUNS); mem may be NULL.
 * Returns 0, FRAY_EINVAL (a NULL argument, or the pair does not fail),
 * FRAY_ENOMEM, or the error of a try (the factory's or the transport's:
 * FRAY_EIO, FRAY_ETIMEDOUT, ...), which ends the minimisation. */
FRAY_EXTERN int fray_minimize(const fray_script_t *script, const fray_sched_t *sched,
                              const fray_player_factory_t *factory, int transcripts,
                              size_t max_runs, const fray_mem_t *mem, fray_script_t **out);

/* Frees a report; NULL is allowed. */
FRAY_EXTERN void fray_campaign_report_free(fray_campaign_report_t *r);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_REPLAY_H */
