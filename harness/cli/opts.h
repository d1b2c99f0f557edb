/* opts.h: how every fray subcommand reads its command line, so that they
 * all accept the same forms and the same values:
 *   - `--opt value`, `--opt=value`, `--` ending the options, `-` as an
 *     operand (stdin), `-h`/`--help`;
 *   - one table of options per command (fray_cli_opt_t), whose values are
 *     read here by kind, so a count, a time, a seed, a port or an address
 *     is written the same way in every command and refused with the same
 *     message: times in milliseconds (`2000`, `2000ms`, `2s`), seeds in
 *     decimal or 0x hex, addresses as fray_addr_parse() reads them;
 *   - older spellings kept working as entries whose canon names the option
 *     they stand for.
 *
 *   static const fray_cli_opt_t opts[] = {
 *       {"--timeout", FRAY_CLI_MS, 1, 3600000, NULL},
 *       {"--timeout-ms", FRAY_CLI_MS, 1, 3600000, "--timeout"}, // old spelling
 *       {"--verbose", FRAY_CLI_FLAG, 0, 0, NULL},
 *   };
 *   fray_cli_args_init(&a, "cmd", FRAY_CLI_TABLE(opts), usage, argc, argv);
 *   while ((k = fray_cli_next_arg(&a)) == FRAY_CLI_ARG_OPTION)
 *     if (!strcmp(a.name, "--timeout")) timeout_ms = a.num;   // checked
 */
#ifndef FRAY_CLI_OPTS_H
#define FRAY_CLI_OPTS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fray/addr.h"

typedef enum fray_cli_arg {
  FRAY_CLI_ARG_END = 0, /* no more arguments */
  FRAY_CLI_ARG_OPERAND, /* a.val is an operand (a file, a script) */
  FRAY_CLI_ARG_OPTION,  /* a.name is an option (its canonical spelling); a.opt its
                         * entry; a.val its text, a.num / a.addr its value by kind */
  FRAY_CLI_ARG_HELP,    /* -h or --help */
  FRAY_CLI_ARG_ERROR    /* a usage error was printed */
} fray_cli_arg_t;

/* What an option's value is, and so how it is read and checked. */
typedef enum fray_cli_kind {
  FRAY_CLI_FLAG = 0, /* no value */
  FRAY_CLI_TEXT,     /* any text (a.val); the command reads it */
  FRAY_CLI_COUNT,    /* decimal digits, min..max (a.num) */
  FRAY_CLI_MS,       /* a time, min..max milliseconds (a.num): N or Nms, or Ns */
  FRAY_CLI_SECONDS,  /* an old spelling of a time whose bare N meant seconds:
                      * N is seconds, Nms and Ns as for MS; a.num is in ms */
  FRAY_CLI_SEED,     /* a 64-bit seed (a.num): decimal or 0x hex */
  FRAY_CLI_PORT,     /* a TCP port 1-65535 (a.num) */
  FRAY_CLI_CONNECT,  /* HOST:PORT to connect to, port 1-65535 (a.addr) */
  FRAY_CLI_LISTEN    /* HOST:PORT to listen on, port 0 picks one (a.addr) */
} fray_cli_kind_t;

/* A count bound meaning "as many as memory allows". Messages say "at least
 * MIN" rather than print a maximum of FRAY_CLI_MANY_FROM or more. */
#define FRAY_CLI_MANY ((uint64_t)SIZE_MAX / 2)
#define FRAY_CLI_MANY_FROM ((uint64_t)1 << 32)

typedef struct fray_cli_opt {
  const char *name;     /* as typed: "--timeout", "-o" */
  fray_cli_kind_t kind; /* how the value is read */
  uint64_t min, max;    /* COUNT, MS and SECONDS (in ms): the accepted range */
  const char *canon;    /* NULL, or the option this spelling stands for (an
                         * older name, a short form): a.name is set to it */
} fray_cli_opt_t;

#define FRAY_CLI_TABLE(t) (t), sizeof(t) / sizeof((t)[0])

typedef struct fray_cli_args {
  const char *cmd;           /* subcommand name, for messages */
  const fray_cli_opt_t *opt; /* the option just read (entry as typed) */
  const fray_cli_opt_t *table;
  size_t nopts;
  int argc;
  char **argv;
  int i; /* next argv index; start at 1 */
  int no_more_opts;
  char name[32]; /* the option just read, canonical spelling */
  const char *val;
  uint64_t num;             /* COUNT, MS, SECONDS, SEED, PORT: the value */
  fray_addr_t addr;         /* CONNECT, LISTEN: the address */
  void (*usage)(FILE *out); /* printed on -h/--help, when set */
} fray_cli_args_t;

/* Starts reading argv[1..] against the nopts options of table (borrowed:
 * it must outlive the reading); usage (may be NULL) is what -h/--help
 * prints to stdout. */
void fray_cli_args_init(fray_cli_args_t *a, const char *cmd, const fray_cli_opt_t *table,
                        size_t nopts, void (*usage)(FILE *out), int argc, char **argv);

/* FRAY_CLI_ARG_HELP or _ERROR ends a command: the exit status it returns
 * (0 after the help, 2 after a usage error). */
int fray_cli_stop_status(fray_cli_arg_t k);

/* Reads the next argument. An option not in the table, a missing value, a
 * value given to a flag, or a value its kind refuses is a usage error,
 * printed as `fray CMD: ... (see fray CMD --help)` naming the option and
 * the value. On -h/--help the usage is printed here (when set) and
 * FRAY_CLI_ARG_HELP returned. */
fray_cli_arg_t fray_cli_next_arg(fray_cli_args_t *a);

/* Prints `fray CMD: <message> (see fray CMD --help)` and returns -1. */
int fray_cli_vusage_error(const char *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
int fray_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints `fray CMD: warning: <message>` on one line: an option that was
 * given but has no effect in this combination, said rather than ignored. */
void fray_cli_warning(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The value readers behind the kinds, for values inside other syntax (a
 * list of sizes, `--split N`). Each returns 0 with *out set, or -1 (*out
 * untouched) and prints nothing. */

/* Decimal digits only (no sign, blank, or base prefix), no overflow. */
int fray_cli_parse_u64(const char *s, uint64_t *out);

/* A seed: decimal, or hex after 0x/0X; any 64-bit value. */
int fray_cli_parse_seed(const char *s, uint64_t *out);

/* A time into milliseconds: digits with an optional fraction, then "ms",
 * "s", or nothing (bare_ms milliseconds a unit: 1 for MS, 1000 for
 * SECONDS). Rounded to the nearest millisecond; -1 past UINT64_MAX ms. */
int fray_cli_parse_ms(const char *s, uint64_t bare_ms, uint64_t *out);

/* Reads the value val of option opt as an address (fray_addr_parse() with
 * flags: FRAY_ADDR_ANY_PORT where port 0 means "pick one"). 0, or -1 after
 * printing `fray CMD: OPT: bad [what ]address 'VAL': REASON (see ...)`;
 * what (may be NULL) says which address, e.g. "listen". */
int fray_cli_addr(const char *cmd, const char *opt, const char *what, const char *val,
                  unsigned flags, fray_addr_t *out);

#endif
