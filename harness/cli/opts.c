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

void fray_cli_warning(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fray %s: warning: ", cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

__attribute__((format(printf, 2, 3))) static fray_cli_arg_t error(fray_cli_args_t *a,
                                                                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fray_cli_vusage_error(a->cmd, fmt, ap);
  va_end(ap);
  return FRAY_CLI_ARG_ERROR;
}

/* ---- value readers ------------------------------------------------------ */

/* The n decimal digits at s into *v; -1 on overflow. */
static int digits(const char *s, size_t n, uint64_t *v) {
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (x > (UINT64_MAX - d) / 10)
      return -1;
    x = x * 10 + d;
  }
  *v = x;
  return 0;
}

int fray_cli_parse_u64(const char *s, uint64_t *out) {
  size_t n = strspn(s, "0123456789");
  if (!n || s[n])
    return -1;
  return digits(s, n, out);
}

int fray_cli_parse_seed(const char *s, uint64_t *out) {
  if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
    return fray_cli_parse_u64(s, out);
  s += 2;
  size_t n = strspn(s, "0123456789abcdefABCDEF");
  if (!n || s[n])
    return -1;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (x >> 60)
      return -1;
    char c = s[i];
    x = x << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  *out = x;
  return 0;
}

int fray_cli_parse_ms(const char *s, uint64_t bare_ms, uint64_t *out) {
  size_t nd = strspn(s, "0123456789"), nf = 0;
  const char *frac = s + nd, *unit = frac;
  if (!nd)
    return -1;
  if (*frac == '.') {
    frac++;
    nf = strspn(frac, "0123456789");
    if (!nf)
      return -1;
    unit = frac + nf;
  }
  uint64_t scale = !*unit ? bare_ms : !strcmp(unit, "ms") ? 1 : !strcmp(unit, "s") ? 1000 : 0;
  uint64_t whole, num = 0, den = 1;
  if (!scale || digits(s, nd, &whole) || whole > UINT64_MAX / scale)
    return -1;
  /* Nine fraction digits are a nanosecond; later ones cannot change the
   * rounded millisecond count meaningfully and are ignored. */
  for (size_t i = 0; i < nf && i < 9; i++, den *= 10)
    num = num * 10 + (uint64_t)(frac[i] - '0');
  uint64_t part = (num * scale + den / 2) / den;
  if (whole * scale > UINT64_MAX - part)
    return -1;
  *out = whole * scale + part;
  return 0;
}

int fray_cli_addr(const char *cmd, const char *opt, const char *what, const char *val,
                  unsigned flags, fray_addr_t *out) {
  const char *why;
  if (!fray_addr_parse(out, val, flags, &why))
    return 0;
  return fray_cli_usage_error(cmd, "%s: bad %s%saddress '%s': %s", opt, what ? what : "",
                              what ? " " : "", val, why);
}

/* Reads a->val by the kind of a->opt into a->num or a->addr. Messages name
 * the option as it was typed (an old spelling stays recognisable). */
static fray_cli_arg_t read_value(fray_cli_args_t *a) {
  const fray_cli_opt_t *o = a->opt;
  const char *n = o->name, *v = a->val;
  unsigned long long lo = o->min, hi = o->max;
  switch (o->kind) {
  case FRAY_CLI_FLAG:
  case FRAY_CLI_TEXT:
    return FRAY_CLI_ARG_OPTION;
  case FRAY_CLI_COUNT:
    if (!fray_cli_parse_u64(v, &a->num) && a->num >= o->min && a->num <= o->max)
      return FRAY_CLI_ARG_OPTION;
    if (o->max >= FRAY_CLI_MANY_FROM)
      return error(a, "%s needs a count of at least %llu, not '%s'", n, lo, v);
    return error(a, "%s needs a count from %llu to %llu, not '%s'", n, lo, hi, v);
  case FRAY_CLI_MS:
  case FRAY_CLI_SECONDS:
    if (!fray_cli_parse_ms(v, o->kind == FRAY_CLI_MS ? 1 : 1000, &a->num) && a->num >= o->min &&
        a->num <= o->max)
      return FRAY_CLI_ARG_OPTION;
    return error(a, "%s needs a time from %llu to %llu ms (%s, Nms or Ns), not '%s'", n, lo, hi,
                 o->kind == FRAY_CLI_MS ? "N milliseconds" : "N seconds", v);
  case FRAY_CLI_SEED:
    if (!fray_cli_parse_seed(v, &a->num))
      return FRAY_CLI_ARG_OPTION;
    return error(a, "%s needs a seed (decimal, or hex after 0x, up to 64 bits), not '%s'", n, v);
  case FRAY_CLI_PORT:
    if (!fray_cli_parse_u64(v, &a->num) && a->num >= 1 && a->num <= 65535)
      return FRAY_CLI_ARG_OPTION;
    return error(a, "%s: '%s' is not a port (1-65535)", n, v);
  case FRAY_CLI_CONNECT:
  case FRAY_CLI_LISTEN:
    if (fray_cli_addr(a->cmd, n, o->kind == FRAY_CLI_LISTEN ? "listen" : NULL, v,
                      o->kind == FRAY_CLI_LISTEN ? FRAY_ADDR_ANY_PORT : 0, &a->addr))
      return FRAY_CLI_ARG_ERROR;
    return FRAY_CLI_ARG_OPTION;
  }
  return FRAY_CLI_ARG_OPTION;
}

/* ---- the reader ----------------------------------------------------------- */

static const fray_cli_opt_t *find(const fray_cli_args_t *a, const char *name) {
  for (size_t k = 0; k < a->nopts; k++)
    if (!strcmp(name, a->table[k].name))
      return &a->table[k];
  return NULL;
}

/* The option at argv[a->i - 1], with its value when it takes one. */
static fray_cli_arg_t read_option(fray_cli_args_t *a, const char *s) {
  const char *eq = strchr(s, '=');
  size_t nl = eq ? (size_t)(eq - s) : strlen(s);
  if (nl >= sizeof a->name)
    return error(a, "unknown option '%s'", s);
  memcpy(a->name, s, nl);
  a->name[nl] = 0;
  if (!(a->opt = find(a, a->name)))
    return error(a, "unknown option '%s'", a->name);
  if (a->opt->kind == FRAY_CLI_FLAG) {
    if (eq)
      return error(a, "unknown option '%s' (or one that takes no value)", s);
  } else if (eq) {
    a->val = eq + 1;
  } else if (a->i < a->argc) {
    a->val = a->argv[a->i++];
  } else {
    return error(a, "option %s needs a value", a->name);
  }
  fray_cli_arg_t k = read_value(a);
  if (a->opt->canon)
    snprintf(a->name, sizeof a->name, "%s", a->opt->canon);
  return k;
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
    return read_option(a, s);
  }
  return FRAY_CLI_ARG_END;
}

void fray_cli_args_init(fray_cli_args_t *a, const char *cmd, const fray_cli_opt_t *table,
                        size_t nopts, void (*usage)(FILE *out), int argc, char **argv) {
  memset(a, 0, sizeof *a);
  a->cmd = cmd;
  a->table = table;
  a->nopts = nopts;
  a->usage = usage;
  a->argc = argc;
  a->argv = argv;
  a->i = 1;
}

int fray_cli_stop_status(fray_cli_arg_t k) {
  return k == FRAY_CLI_ARG_HELP ? FRAY_EXIT_OK : FRAY_EXIT_USAGE;
}
