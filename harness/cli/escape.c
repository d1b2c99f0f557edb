/* C-style escapes for command-line arguments and text output. See escape.h
 * for the language; it is kept small on purpose so print and parse agree. */
#include "escape.h"

#include <string.h>

#include "core/escape_internal.h"

long fray_cli_unescape(const char *s, uint8_t *out, size_t cap, size_t *bad) {
  size_t n = 0, i = 0;
  size_t dummy;
  if (!bad)
    bad = &dummy;
  while (s[i]) {
    uint8_t b;
    if (s[i] != '\\') {
      b = (uint8_t)s[i++];
    } else {
      /* The library's reader of one escape: what fray prints reads back. A
       * lone backslash at the end is an unknown escape. */
      size_t used;
      int v = fray__unescape1(s + i + 1, strnlen(s + i + 1, 3), &used);
      if (v < 0) {
        *bad = i;
        return -1;
      }
      b = (uint8_t)v;
      i += 1 + used;
    }
    if (n >= cap) {
      *bad = strlen(s);
      return -1;
    }
    out[n++] = b;
  }
  return (long)n;
}
