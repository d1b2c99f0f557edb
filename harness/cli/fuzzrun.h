/* fuzzrun.h: what `fray fuzz --plugin` (fuzz.c, libFuzzer) and `fray fuzz
 * --exec` (fuzz_exec.c, AFL++ on an unmodified server) share: the options,
 * the work directory, seeds and dictionary from the scripts, and running a
 * program with its output in the log. */
#ifndef FRAY_CLI_FUZZRUN_H
#define FRAY_CLI_FUZZRUN_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "scriptload.h"

typedef struct fuzz_opts {
  const char *plugin, *out, *driver_opt; /* driver_opt: --driver */
  const char *replay_plugin;             /* --replay-plugin */
  const char *exec;                      /* --exec 'COMMAND {port}' */
  const char *seeds;                     /* --seeds DIR */
  const char *reads;                     /* --reads exact|whole (--exec) */
  const char *exits;                     /* --exits crash|ok (--exec) */
  uint64_t time_s, jobs, execs;          /* execs: --execs, 0 none */
  uint64_t seed;                         /* --seed (afl-fuzz -s), 0 none */
  int prepare;                           /* --prepare: seeds and dictionary only */
  char **scripts;
  size_t nscripts;
  fray_cli_files_t files;
  char path[PATH_MAX]; /* scratch for file names */
  char driver[PATH_MAX];
  char env_plugin[PATH_MAX + 32]; /* FRAY_FUZZ_PLUGIN=<absolute path> */
} fuzz_opts_t;

/* o->path = o->out "/" name. 0, or -1 when it does not fit. */
int fray_cli_fuzz_path(fuzz_opts_t *o, const char *name);

/* Creates o->out and its subdirectories. 0, or -1 after saying why. */
int fray_cli_fuzz_dirs(fuzz_opts_t *o);

/* DIR/seeds/ (each script fuzz-encoded) and DIR/fuzz.dict (the words of
 * their sends) from o->scripts. 0, or -1 after saying why. */
int fray_cli_fuzz_prepare(fuzz_opts_t *o);

/* Runs argv (NULL-terminated; argv[0] a path) with env ("NAME=value",
 * NULL-terminated) added to its environment, its output into the log and,
 * with each_line, through it. Returns its wait status, or -1 when it could
 * not run. */
int fray_cli_fuzz_spawn(char *const *argv, char *const *env, FILE *log,
                        void (*each_line)(const char *line, void *ctx), void *ctx);

/* The fuzz input in the file input decoded, its schedule baked in, written
 * as a script to out under the header fmt (printf-style, whole lines), for
 * a session no handler's answers could be had for. 0, or -1 when the
 * input does not decode or out cannot be written. */
int fray_cli_fuzz_write_session(const char *input, const char *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* `fray fuzz --exec` once the options are parsed, the work directory made,
 * the seeds written and the log opened. Returns the exit status. */
int fray_cli_fuzz_exec(fuzz_opts_t *o, FILE *log);

#endif /* FRAY_CLI_FUZZRUN_H */
