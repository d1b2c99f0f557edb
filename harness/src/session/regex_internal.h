/* Regular expressions of `< ~` expectations: POSIX extended syntax
 * (docs/script-format.md), compiled once when the step enters its script
 * and matched in time linear in the line (PCRE2's DFA matcher over a
 * translation of the ERE). Compile and match are both bounded: what passes
 * compile has a bounded automaton, and a line whose match would need more
 * than FRAY__REGEX_MAX_STATES simultaneous states is reported as a limit,
 * never a hang. */
#ifndef FRAY_REGEX_INTERNAL_H
#define FRAY_REGEX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fray/common.h"

#define FRAY__REGEX_MAX_LEN 65536   /* longest pattern, in bytes */
#define FRAY__REGEX_MAX_NEST 200    /* deepest parenthesis nesting */
#define FRAY__REGEX_MAX_STATES 1024 /* simultaneous states while matching one line */

typedef struct fray_regex fray__regex_t; /* fray_step_t.regex */

/* Compiles the ERE pattern[0..len) (no NUL inside) to match a whole line
 * (anchored at both ends). mem is copied (NULL: malloc). On success *out is
 * a new regex freed with fray__regex_free(). On failure *out is NULL, msg
 * holds the reason and *at the pattern byte it concerns. Returns 0,
 * FRAY_ESYNTAX (invalid or unsupported syntax), FRAY_ERANGE (a limit:
 * length, nesting, compiled size) or FRAY_ENOMEM. */
int fray__regex_compile(fray__regex_t **out, const fray_mem_t *mem, const char *pattern, size_t len,
                        char *msg, size_t msgsize, size_t *at);

/* Whether the whole of line[0..n) matches: 1 yes, 0 no, FRAY_ERANGE when
 * the match needs more than the state limit, FRAY_ENOMEM. re is not
 * modified, so many threads may match with one regex at once. */
int fray__regex_match(const fray__regex_t *re, const uint8_t *line, size_t n);

/* Frees re; NULL is allowed. */
void fray__regex_free(fray__regex_t *re);

#endif /* FRAY_REGEX_INTERNAL_H */
