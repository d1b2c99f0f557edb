/* Command-line reading shared by the subcommands (opts.h). */
#include "opts.h"

#include "cli.h"

#include <stdio.h>
#include <string.h>

int fray_cli_vusage_error(const char *cmd, const char *fmt, va_list ap) {
  fprintf(stderr, "fray %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (see fray %s --help)\n", cmd);
  return -1;
}

int fray_cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = fray_cli_vusage_error(cmd, fmt, ap);
  va_end(ap);
  return r;
}

__attribute__((format(printf, 2, 3))) static fray_cli_arg_t error(fray_cli_args_t *a,
                                                                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fray_cli_vusage_error(a->cmd, fmt, ap);
  va_end(ap);
  return FRAY_CLI_ARG_ERROR;
}

fray_cli_arg_t fray_cli_next_arg(fray_cli_args_t *a) {
  for (; a->i < a->argc; a->i++) {
    const char *s = a->argv[a->i];
    a->val = NULL;
    if (a->no_more_opts || s[0] != '-' || !strcmp(s, "-")) {
      a->val = s;
      a->i++;
      return FRAY_CLI_ARG_OPERAND;
    }
    if (!strcmp(s, "--")) {
      a->no_more_opts = 1;
      continue;
    }
    a->i++;
    if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
      if (a->usage)
        a->usage(stdout);
      return FRAY_CLI_ARG_HELP;
    }
    const char *eq = strchr(s, '=');
    size_t nl = eq ? (size_t)(eq - s) : strlen(s);
    if (nl >= sizeof a->name)
      return error(a, "unknown option '%s'", s);
    memcpy(a->name, s, nl);
    a->name[nl] = 0;
    int needs = 0;
    for (size_t k = 0; k < a->nwith; k++)
      needs |= !strcmp(a->name, a->with_value[k]);
    if (needs) {
      if (eq)
        a->val = eq + 1;
      else if (a->i < a->argc)
        a->val = a->argv[a->i++];
      else
        return error(a, "option %s needs a value", a->name);
    } else if (eq) {
      return error(a, "unknown option '%s' (or one that takes no value)", s);
    }
    return FRAY_CLI_ARG_OPTION;
  }
  return FRAY_CLI_ARG_END;
}

void fray_cli_args_init(fray_cli_args_t *a, const char *cmd, const char *const *with_value,
                        size_t nwith, void (*usage)(FILE *out), int argc, char **argv) {
  memset(a, 0, sizeof *a);
  a->cmd = cmd;
  a->with_value = with_value;
  a->nwith = nwith;
  a->usage = usage;
  a->argc = argc;
  a->argv = argv;
  a->i = 1;
}

int fray_cli_stop_status(fray_cli_arg_t k) {
  return k == FRAY_CLI_ARG_HELP ? FRAY_EXIT_OK : FRAY_EXIT_USAGE;
}

int fray_cli_addr(const char *cmd, const char *opt, const char *what, const char *val,
                  unsigned flags, fray_addr_t *out) {
  const char *why;
  if (!fray_addr_parse(out, val, flags, &why))
    return 0;
  return fray_cli_usage_error(cmd, "%s: bad %s%saddress '%s': %s", opt, what ? what : "",
                              what ? " " : "", val, why);
}
