/* The signature of a fuzz finding's verdict (verdictsig.h). The verdicts
 * are fray's own lines (harness/shim/fuzz.c, the player's failures,
 * fray__escape_quoted's data) and sanitizers' summaries: what varies in
 * them from one input of a bug to the next is known, and only that is
 * normalised, so that different failures keep different signatures. */
#include "verdictsig.h"

#include <string.h>

/* Appends n bytes of s at sig + *o, as many as fit before the NUL. */
static void put(char *sig, size_t len, size_t *o, const char *s, size_t n) {
  size_t room = len - 1 - *o;
  n = n < room ? n : room;
  memcpy(sig + *o, s, n);
  *o += n;
}

/* Moves *p from the opening quote of a quoted string past its end (or to
 * the end of the line, where it was cut off); fray's escapes (`\"`) stay
 * inside, and a long string's elision (`"head" ...N... "tail"`) counts as
 * one string. */
static void skip_quoted(const char **p) {
  const char *q = *p + 1;
  for (;;) {
    for (; *q && *q != '"'; q++)
      if (*q == '\\' && q[1])
        q++;
    if (*q)
      q++;
    size_t d = strncmp(q, " ...", 4) ? 0 : strspn(q + 4, "0123456789");
    if (!d || strncmp(q + 4 + d, "... \"", 5))
      break;
    q += 4 + d + 5;
  }
  *p = q;
}

/* Whether the number at p (in s) is worth keeping: a signal's or an exit
 * status's (SIGSEGV is not SIGABRT), or a place in the code: after the
 * ':' of a word holding a '.' or a '/' ("proto.c:258:5"), or after a '+'
 * ("(srv+0x4f3a2)", an unsymbolised frame). */
static int stable_number(const char *s, const char *p) {
  const char *w = p;
  while (w > s && w[-1] != ' ' && w[-1] != '(')
    w--;
  size_t wl = (size_t)(p - w);
  if (p > s && p[-1] == '+')
    return 1;
  if (p > s && p[-1] == ':' && (memchr(w, '.', wl) || memchr(w, '/', wl)))
    return 1;
  return (p - s >= 7 && !strncmp(p - 7, "signal ", 7)) ||
         (p - s >= 7 && !strncmp(p - 7, "status ", 7));
}

/* The length of the circumstance at p, or 0: where the failure showed,
 * not what failed. Which run crashed (an input whose send ends where its
 * schedule cuts crashes the whole run as well), the receive window both
 * runs had, the fault after which the transcripts differed (the player's
 * note: one framing bug's alarms come after every kind, and with none).
 * A verdict cut short in one (`fray fuzz` keeps 200 bytes of a message)
 * ends with a prefix of it. */
static size_t circumstance(const char *p) {
  static const char *const fixed[] = {" in the whole run (the reference)", " (same receive window)",
                                      " (after the fault "};
  size_t n = strlen(p);
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    size_t l = strlen(fixed[i]);
    if (strncmp(p, fixed[i], n < l ? n : l))
      continue;
    if (n <= l || i < 2)
      return n < l ? n : l;
    const char *q = p + l; /* the fault's note, to its ')' */
    while (*q && *q != ')')
      if (*q == '"')
        skip_quoted(&q);
      else
        q++;
    return (size_t)(q - p) + (*q == ')');
  }
  return 0;
}

void fray_cli_verdict_signature(const char *what, char *sig, size_t len) {
  size_t o = 0, skip;
  for (const char *p = what; *p && o + 1 < len;) {
    if ((skip = circumstance(p)) != 0) {
      p += skip;
    } else if (*p == '"') {
      skip_quoted(&p);
      put(sig, len, &o, "\"...\"", 5);
    } else if (*p >= '0' && *p <= '9') {
      size_t d = p[0] == '0' && (p[1] == 'x' || p[1] == 'X')
                     ? 2 + strspn(p + 2, "0123456789abcdefABCDEF")
                     : strspn(p, "0123456789");
      if (stable_number(what, p))
        put(sig, len, &o, p, d);
      else
        put(sig, len, &o, "N", 1);
      p += d;
    } else {
      put(sig, len, &o, p++, 1);
    }
  }
  sig[o] = 0;
}
