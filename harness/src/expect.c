/* Expectation matching shared by the simulator and the network runner
 * (expect_internal.h). */
#include "expect_internal.h"

#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "escape_internal.h"
#include "internal.h"

size_t fray__first_diff(const uint8_t *a, const uint8_t *b, size_t n) {
  size_t i = 0;
  while (i < n && a[i] == b[i])
    i++;
  return i;
}

int fray__match_line(const fray_mem_t *mem, const fray_step_t *st, const uint8_t *got,
                     size_t avail, size_t *linelen) {
  const uint8_t *nl = memchr(got, '\n', avail);
  if (!nl)
    return FRAY_EAGAIN;
  size_t n = (size_t)(nl - got) + 1;
  *linelen = n;
  if (memchr(got, 0, n))
    return 0; /* patterns are C strings: a NUL in the line cannot match */
  char *line = fray__malloc(mem, n + 1);
  if (!line)
    return FRAY_ENOMEM;
  memcpy(line, got, n);
  line[n] = 0;
  int ok;
  if (st->kind == FRAY_STEP_EXPECT_GLOB) {
    ok = fnmatch((const char *)st->data, line, 0) == 0;
  } else {
    /* Anchored at both ends: the whole line must match. */
    size_t plen = st->len + 7;
    char *pat = fray__malloc(mem, plen);
    if (!pat) {
      fray__free(mem, line);
      return FRAY_ENOMEM;
    }
    snprintf(pat, plen, "^(%s)$", (const char *)st->data);
    regex_t re;
    ok = regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) == 0;
    if (ok) {
      ok = regexec(&re, line, 0, NULL, 0) == 0;
      regfree(&re);
    }
    fray__free(mem, pat);
  }
  fray__free(mem, line);
  return ok;
}

int fray__expect_leftover(const char *who, const uint8_t *rx, size_t pos, size_t len,
                          fray_sim_result_t *res, char *msg, size_t size) {
  if (pos >= len)
    return 0;
  char g[160];
  res->got = rx + pos;
  res->got_len = len - pos;
  snprintf(msg, size, "%s received %s that no expectation accounts for", who,
           fray__escape_quoted(g, sizeof g, rx + pos, len - pos));
  return 1;
}
