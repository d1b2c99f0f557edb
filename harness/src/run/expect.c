/* Expectations and verdicts: what the player judges a run by
 * (expect_internal.h), and the names of verdicts (fray/result.h). */
#include "run/expect_internal.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/escape_internal.h"
#include "core/internal.h"
#include "session/regex_internal.h"

const char *fray_fail_kind_name(fray_fail_kind_t k) {
  switch (k) {
  case FRAY_FAIL_NONE:
    return "pass";
  case FRAY_FAIL_MISMATCH:
    return "mismatch";
  case FRAY_FAIL_MISSING:
    return "missing";
  case FRAY_FAIL_CLOSED:
    return "closed";
  case FRAY_FAIL_NOT_CLOSED:
    return "not-closed";
  case FRAY_FAIL_UNEXPECTED:
    return "unexpected";
  case FRAY_FAIL_VARIANCE:
    return "variance";
  case FRAY_FAIL_BOUND:
    return "bound";
  case FRAY_FAIL_HANDLER:
    return "handler";
  case FRAY_FAIL_CRASH:
    return "crash";
  case FRAY_FAIL_HANG:
    return "hang";
  }
  return "unknown";
}

size_t fray__first_diff(const uint8_t *a, const uint8_t *b, size_t n) {
  /* Transcripts that agree are the common case (every passing fuzz input
   * compares two): memcmp settles those a word at a time. */
  if (!n || !memcmp(a, b, n))
    return n;
  size_t i = 0;
  while (i < n && a[i] == b[i])
    i++;
  return i;
}

/* Matches the regex of st against line[0..n): compiled once in its script,
 * or here for a step built by hand (an invalid one never matches). */
static int match_regex(const fray_mem_t *mem, const fray_step_t *st, const uint8_t *line,
                       size_t n) {
  if (st->regex)
    return fray__regex_match(st->regex, line, n);
  fray__regex_t *re;
  char msg[160];
  size_t at;
  int rc = fray__regex_compile(&re, mem, (const char *)st->data, st->len, msg, sizeof msg, &at);
  if (rc)
    return rc == FRAY_ENOMEM ? rc : 0;
  rc = fray__regex_match(re, line, n);
  fray__regex_free(re);
  return rc;
}

int fray__match_line(const fray_mem_t *mem, const fray_step_t *st, const uint8_t *got, size_t avail,
                     size_t *linelen) {
  const uint8_t *nl = memchr(got, '\n', avail);
  if (!nl)
    return FRAY_EAGAIN;
  size_t n = (size_t)(nl - got) + 1;
  *linelen = n;
  if (memchr(got, 0, n))
    return 0; /* patterns are C strings: a NUL in the line cannot match */
  if (st->kind != FRAY_STEP_EXPECT_GLOB)
    return match_regex(mem, st, got, n);
  char *line = fray__malloc(mem, n + 1);
  if (!line)
    return FRAY_ENOMEM;
  memcpy(line, got, n);
  line[n] = 0;
  int ok = fnmatch((const char *)st->data, line, 0) == 0;
  fray__free(mem, line);
  return ok;
}

int fray__expect_leftover(const char *who, const uint8_t *rx, size_t pos, size_t len,
                          fray_result_t *res, char *msg, size_t size) {
  if (pos >= len)
    return 0;
  char g[160];
  /* No expectation is concerned: none to show (not the last one met). */
  res->expected = NULL;
  res->expected_len = 0;
  res->diff_at = 0;
  res->got = rx + pos;
  res->got_len = len - pos;
  snprintf(msg, size, "%s received %s that no expectation accounts for", who,
           fray__escape_quoted(g, sizeof g, rx + pos, len - pos));
  return 1;
}

const char *fray__end_words(int reset) {
  return reset ? "the server reset the connection" : "the server closed the connection";
}

__attribute__((format(printf, 5, 6))) static int
verdict(fray_result_t *res, fray_fail_kind_t kind, char *msg, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, size, fmt, ap);
  va_end(ap);
  res->kind = kind;
  return FRAY_EFAILED;
}

/* The expectations that no more bytes came: `< nothing for` (after its
 * span, the connection still open), `< eof` and `< eof?`. */
static int check_silence(const fray_step_t *st, const fray__rx_t *c, const uint8_t *got,
                         size_t avail, fray_result_t *res, char *msg, size_t size) {
  char g[160];
  res->expected = NULL; /* no bytes were expected */
  res->expected_len = 0;
  res->diff_at = 0;
  if (st->kind == FRAY_STEP_EXPECT_NOTHING) {
    char span[32];
    fray_script_span_format(st->ms, span, sizeof span);
    res->got = got;
    res->got_len = avail;
    if (avail)
      return verdict(res, FRAY_FAIL_UNEXPECTED, msg, size, "%s expected nothing for %s, got %s",
                     c->who, span, fray__escape_quoted(g, sizeof g, got, avail));
    if (c->closed)
      return verdict(res, FRAY_FAIL_CLOSED, msg, size, "%s expected nothing for %s, but %s", c->who,
                     span, c->end_words);
    return 0;
  }
  int optional = st->kind == FRAY_STEP_EXPECT_EOF_OPT;
  if (avail) {
    res->got = got;
    res->got_len = avail;
    return verdict(res, FRAY_FAIL_UNEXPECTED, msg, size, "%s expected %s, got %s", c->who,
                   optional ? "no more bytes" : "the server to close",
                   fray__escape_quoted(g, sizeof g, got, avail));
  }
  if (!optional && c->open)
    return verdict(res, FRAY_FAIL_NOT_CLOSED, msg, size,
                   "%s expected the server to close, but it kept the connection open%s", c->who,
                   c->kept_open);
  return 0;
}

int fray__expect_check(const fray_mem_t *mem, const fray_step_t *st, const fray__rx_t *c,
                       fray_result_t *res, char *msg, size_t size) {
  /* Never a NULL-based pointer: rx is NULL until the first byte arrives. */
  const uint8_t *got = c->rx ? c->rx + *c->pos : (const uint8_t *)"";
  size_t avail = c->len - *c->pos;
  char e[160], g[160];
  const char *then = c->closed ? c->end_words : c->nothing;
  fray_fail_kind_t short_kind = c->closed ? FRAY_FAIL_CLOSED : FRAY_FAIL_MISSING;
  if (st->kind == FRAY_STEP_EXPECT_ANY) {
    *c->pos = c->len; /* taken, unchecked */
    return 0;
  }
  if (st->kind == FRAY_STEP_EXPECT_NOTHING || st->kind == FRAY_STEP_EXPECT_EOF ||
      st->kind == FRAY_STEP_EXPECT_EOF_OPT)
    return check_silence(st, c, got, avail, res, msg, size);
  res->expected = st->data;
  res->expected_len = st->len;
  res->got = got;
  res->got_len = avail;
  if (st->kind == FRAY_STEP_EXPECT) {
    size_t n = avail < st->len ? avail : st->len;
    size_t d = fray__first_diff(got, st->data, n);
    res->diff_at = d;
    if (d < n)
      return verdict(res, FRAY_FAIL_MISMATCH, msg, size,
                     "%s expected %s, got %s (first difference at byte %zu)", c->who,
                     fray__escape_quoted(e, sizeof e, st->data, st->len),
                     fray__escape_quoted(g, sizeof g, got, avail), d);
    if (avail < st->len)
      return verdict(res, short_kind, msg, size, "%s expected %s, got %s then %s", c->who,
                     fray__escape_quoted(e, sizeof e, st->data, st->len),
                     fray__escape_quoted(g, sizeof g, got, avail), then);
    *c->pos += st->len;
    return 0;
  }
  /* Regex and glob expectations match the next line, its "\n" included
   * (the script writes the line end in the pattern). */
  size_t linelen = 0;
  int ok = fray__match_line(mem, st, got, avail, &linelen);
  res->diff_at = 0;
  if (ok == FRAY_ENOMEM)
    return ok;
  /* Patterns are printed escaped: a CR or an escape sequence in one must
   * not reach the terminal. */
  fray__escape_quoted(e, sizeof e, st->data, st->len);
  if (ok == FRAY_EAGAIN) /* no whole line came */
    return verdict(res, short_kind, msg, size, "%s expected a line matching %s, got %s then %s",
                   c->who, e, fray__escape_quoted(g, sizeof g, got, avail), then);
  if (ok == FRAY_ERANGE)
    return verdict(res, FRAY_FAIL_MISMATCH, msg, size,
                   "%s expected a line matching %s (line %zu, column %zu), but matching this line "
                   "needs more than %d regex states (fray's limit), got %s",
                   c->who, e, st->line, st->column, FRAY__REGEX_MAX_STATES,
                   fray__escape_quoted(g, sizeof g, got, linelen));
  if (!ok)
    return verdict(res, FRAY_FAIL_MISMATCH, msg, size, "%s expected a line matching %s, got %s",
                   c->who, e, fray__escape_quoted(g, sizeof g, got, linelen));
  *c->pos += linelen;
  return 0;
}
