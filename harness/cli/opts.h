/* opts.h: how every fray subcommand reads its command line, so that they
 * all accept the same forms: `--opt value`, `--opt=value`, `--` ending the
 * options, `-` as an operand (stdin), `-h`/`--help`. */
#ifndef FRAY_CLI_OPTS_H
#define FRAY_CLI_OPTS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "fray/addr.h"

typedef enum fray_cli_arg {
  FRAY_CLI_ARG_END = 0, /* no more arguments */
  FRAY_CLI_ARG_OPERAND, /* a.val is an operand (a file, a script) */
  FRAY_CLI_ARG_OPTION,  /* a.name is an option; a.val its value, or NULL */
  FRAY_CLI_ARG_HELP,    /* -h or --help */
  FRAY_CLI_ARG_ERROR    /* a usage error was printed */
} fray_cli_arg_t;

typedef struct fray_cli_args {
  const char *cmd;               /* subcommand name, for messages */
  const char *const *with_value; /* options that take a value */
  size_t nwith;
  int argc;
  char **argv;
  int i; /* next argv index; start at 1 */
  int no_more_opts;
  char name[32]; /* the option just read */
  const char *val;
  void (*usage)(FILE *out); /* printed on -h/--help, when set */
} fray_cli_args_t;

/* Starts reading argv[1..]: with_value lists the nwith options that take a
 * value; usage (may be NULL) is what -h/--help prints to stdout. */
void fray_cli_args_init(fray_cli_args_t *a, const char *cmd, const char *const *with_value,
                        size_t nwith, void (*usage)(FILE *out), int argc, char **argv);

/* FRAY_CLI_ARG_HELP or _ERROR ends a command: the exit status it returns
 * (0 after the help, 2 after a usage error). */
int fray_cli_stop_status(fray_cli_arg_t k);

/* Reads the next argument. Option names longer than 31 bytes, a missing
 * value, or a value given to an option that takes none are usage errors,
 * printed as `fray CMD: ... (see fray CMD --help)`. On -h/--help the usage
 * is printed here (when set) and FRAY_CLI_ARG_HELP returned. */
fray_cli_arg_t fray_cli_next_arg(fray_cli_args_t *a);

/* Prints `fray CMD: <message> (see fray CMD --help)` and returns -1. */
int fray_cli_vusage_error(const char *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
int fray_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reads the value val of option opt as an address (fray_addr_parse() with
 * flags: FRAY_ADDR_ANY_PORT where port 0 means "pick one"). 0, or -1 after
 * printing `fray CMD: OPT: bad [what ]address 'VAL': REASON (see ...)`;
 * what (may be NULL) says which address, e.g. "listen". */
int fray_cli_addr(const char *cmd, const char *opt, const char *what, const char *val,
                  unsigned flags, fray_addr_t *out);

#endif
