/* C-style escapes for command-line arguments and text output. See escape.h
 * for the language; it is kept small on purpose so print and parse agree. */
#include "escape.h"

#include <string.h>

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

long fray_cli_unescape(const char *s, uint8_t *out, size_t cap, size_t *bad) {
  size_t n = 0, i = 0;
  size_t dummy;
  if (!bad)
    bad = &dummy;
  while (s[i]) {
    uint8_t b;
    size_t at = i;
    if (s[i] != '\\') {
      b = (uint8_t)s[i++];
    } else {
      char e = s[i + 1];
      i += 2;
      switch (e) {
      case 'r':
        b = '\r';
        break;
      case 'n':
        b = '\n';
        break;
      case 't':
        b = '\t';
        break;
      case '0':
        b = 0;
        break;
      case '\\':
        b = '\\';
        break;
      case '"':
        b = '"';
        break;
      case 'x': {
        /* Exactly two digits: "\x0a0" is LF then '0', unlike C where the
         * escape would swallow every following hex digit. */
        int hi = hexval(s[at + 2]), lo = hi < 0 ? -1 : hexval(s[at + 3]);
        if (hi < 0 || lo < 0) {
          *bad = at;
          return -1;
        }
        b = (uint8_t)(hi << 4 | lo);
        i = at + 4;
        break;
      }
      default: /* unknown escape, or a lone backslash at the end (e == 0) */
        *bad = at;
        return -1;
      }
    }
    if (n >= cap) {
      *bad = strlen(s);
      return -1;
    }
    out[n++] = b;
  }
  return (long)n;
}
