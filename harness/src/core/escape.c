/* Byte escaping (see escape_internal.h). */
#include "core/escape_internal.h"

#include <stdio.h>
#include <string.h>

size_t fray__escape(char *out, const uint8_t *in, size_t len, unsigned flags) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t b = in[i];
    char e = 0;
    switch (b) {
    case '\r':
      e = 'r';
      break;
    case '\n':
      e = 'n';
      break;
    case '\t':
      e = 't';
      break;
    case '\0':
      e = '0';
      break;
    case '\\':
      e = '\\';
      break;
    case '"':
      if (flags & FRAY__ESC_QUOTE)
        e = '"';
      break;
    default:
      break;
    }
    if (e) {
      out[o++] = '\\';
      out[o++] = e;
    } else if (b >= 0x20 && b < 0x7f) {
      out[o++] = (char)b;
    } else {
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = hex[b >> 4];
      out[o++] = hex[b & 15];
    }
  }
  return o;
}

char *fray__escape_quoted(char *buf, size_t size, const uint8_t *in, size_t len) {
  if (!size)
    return buf;
  /* Room: quotes, NUL, and at worst 4 characters a byte. */
  size_t room = size > 3 ? size - 3 : 0;
  size_t o = 0;
  if (FRAY__ESC_MAX(len) <= room) {
    buf[o++] = '"';
    o += fray__escape(buf + o, in, len, FRAY__ESC_QUOTE);
    buf[o++] = '"';
  } else if (size >= 40) {
    /* Head and tail of the bytes, with the middle elided. */
    size_t keep = (room - 24) / 8;
    char mid[24];
    int m = snprintf(mid, sizeof mid, "\" ...%zu... \"", len - 2 * keep);
    buf[o++] = '"';
    o += fray__escape(buf + o, in, keep, FRAY__ESC_QUOTE);
    memcpy(buf + o, mid, (size_t)m);
    o += (size_t)m;
    o += fray__escape(buf + o, in + len - keep, keep, FRAY__ESC_QUOTE);
    buf[o++] = '"';
  }
  buf[o] = 0;
  return buf;
}

int fray__hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int fray__unescape1(const char *s, size_t n, size_t *used) {
  *used = 1;
  switch (n ? s[0] : 0) {
  case 'r':
    return '\r';
  case 'n':
    return '\n';
  case 't':
    return '\t';
  case '0':
    return 0;
  case '\\':
    return '\\';
  case '"':
    return '"';
  case 'x': {
    /* Exactly two digits: "\x0a0" is LF then '0', unlike C where the
     * escape would swallow every following hex digit. */
    int hi = n > 1 ? fray__hexval((unsigned char)s[1]) : -1;
    int lo = n > 2 ? fray__hexval((unsigned char)s[2]) : -1;
    if (hi < 0 || lo < 0)
      return FRAY__UNESC_BAD_HEX;
    *used = 3;
    return hi << 4 | lo;
  }
  default:
    return FRAY__UNESC_UNKNOWN;
  }
}
