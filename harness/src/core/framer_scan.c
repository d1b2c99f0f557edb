/* The delimiter-set and text-length scans of the framer (see
 * core/framer_scan.h). Kept apart from framer.c's single-delimiter hot path,
 * which these modes never take. */
#include "core/framer_scan.h"

#include <string.h>

static int in_byteset(const fray_spec_t *s, uint8_t b) {
  return (s->byteset[b >> 3] >> (b & 7)) & 1;
}

size_t fray__set_maxlen(const fray_spec_t *s) {
  if (s->mode == FRAY_MODE_BYTESET)
    return 1;
  size_t m = 1;
  for (size_t i = 0; i < s->delims.n; i++)
    if (s->delims.len[i] > m)
      m = s->delims.len[i];
  return m;
}

/* First start in [from, end] where delimiter i lies whole in p[0..n). */
static size_t find_one(const uint8_t *p, size_t n, size_t from, size_t end, const uint8_t *d,
                       size_t dlen) {
  if (n < dlen || from > n - dlen)
    return FRAY__NONE;
  if (end > n - dlen)
    end = n - dlen;
  const uint8_t *q = p + from, *e = p + end + 1;
  while (q < e) {
    q = memchr(q, d[0], (size_t)(e - q));
    if (!q)
      return FRAY__NONE;
    if (!memcmp(q + 1, d + 1, dlen - 1))
      return (size_t)(q - p);
    q++;
  }
  return FRAY__NONE;
}

/* Whether delimiter i starts at t and runs past n with every byte up to n
 * matching: it may still complete. */
static int partial_at(const uint8_t *p, size_t n, size_t t, const uint8_t *d, size_t dlen) {
  return t + dlen > n && !memcmp(p + t, d, n - t);
}

static size_t byteset_find(const fray_spec_t *s, const uint8_t *p, size_t n, size_t from,
                           size_t last, size_t *mlen, size_t *resume) {
  size_t end = last < n ? last + 1 : n;
  for (size_t t = from; t < end; t++)
    if (in_byteset(s, p[t])) {
      *mlen = 1;
      return t;
    }
  *resume = end > from ? end : from;
  return FRAY__NONE;
}

size_t fray__set_find(const fray_spec_t *s, const uint8_t *p, size_t n, size_t from, size_t last,
                      int final, size_t *mlen, size_t *resume) {
  *resume = n;
  if (s->mode == FRAY_MODE_BYTESET)
    return byteset_find(s, p, n, from, last, mlen, resume);
  size_t best = FRAY__NONE, bi = 0;
  for (size_t i = 0; i < s->delims.n; i++) {
    size_t e = best == FRAY__NONE ? last : best; /* later starts cannot win */
    size_t c = find_one(p, n, from, e, s->delims.bytes[i], s->delims.len[i]);
    if (c != FRAY__NONE && (best == FRAY__NONE || c < best)) {
      best = c;
      bi = i;
    }
  }
  if (!final) {
    /* Only the last longest-1 starts can hold a delimiter cut off by n. */
    size_t maxlen = fray__set_maxlen(s);
    size_t t0 = n >= maxlen ? n - maxlen + 1 : 0, t1 = best == FRAY__NONE ? last : best;
    for (size_t t = t0 > from ? t0 : from; t < n && t <= t1; t++)
      for (size_t j = 0; j < s->delims.n; j++)
        if ((t < best || j < bi) && partial_at(p, n, t, s->delims.bytes[j], s->delims.len[j])) {
          *resume = t;
          return FRAY__NONE;
        }
  }
  if (best != FRAY__NONE)
    *mlen = s->delims.len[bi];
  return best;
}

size_t fray__set_find2(const fray_spec_t *s, const uint8_t *a, size_t an, const uint8_t *b,
                       size_t bn, size_t from, size_t last, size_t *mlen, size_t *resume) {
  /* Starts inside a: they need at most longest-1 bytes of b, so a small
   * window of both decides them. */
  uint8_t w[2 * FRAY_MAX_DELIM];
  size_t maxlen = fray__set_maxlen(s);
  if (from < an) {
    size_t alen = an - from, blen = bn < maxlen - 1 ? bn : maxlen - 1;
    if (alen > maxlen - 1) {
      from = an - (maxlen - 1); /* earlier starts were ruled out over a alone */
      alen = maxlen - 1;
    }
    memcpy(w, a + from, alen);
    memcpy(w + alen, b, blen);
    size_t wlast = last < from ? 0 : last - from, r;
    if (last >= from) {
      size_t hit = fray__set_find(s, w, alen + blen, 0, wlast, 0, mlen, &r);
      if (hit != FRAY__NONE && hit < alen)
        return from + hit;
      if (hit == FRAY__NONE && r < alen) {
        *resume = from + r;
        return FRAY__NONE;
      }
    }
    from = an;
  }
  if (last != FRAY__NONE && last < an) {
    *resume = an + bn;
    return FRAY__NONE;
  }
  size_t r,
      hit = fray__set_find(s, b, bn, from - an, last == FRAY__NONE ? last : last - an, 0, mlen, &r);
  *resume = an + r;
  return hit == FRAY__NONE ? hit : an + hit;
}

/* ---- text lengths ------------------------------------------------------ */

static int digit(uint8_t c, unsigned base) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (base == 16 && c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (base == 16 && c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

size_t fray__text_header_max(const fray_spec_t *s) {
  return s->text.prefix_len + 20 + (s->text.ext ? FRAY_MAX_TEXT_EXT : 0) + s->text.term_len;
}

/* Matches affix a[0..alen) at p[0..n): 1 whole, 0 so far (n too short), -1
 * no. */
static int affix(const uint8_t *p, size_t n, const uint8_t *a, size_t alen) {
  size_t k = n < alen ? n : alen;
  if (memcmp(p, a, k))
    return -1;
  return k == alen;
}

int fray__text_header(const fray_spec_t *s, const uint8_t *p, size_t n, size_t *hdr, uint64_t *len,
                      const char **why) {
  unsigned base = s->text.base;
  size_t i = s->text.prefix_len, maxdig = base == 16 ? 16 : 20;
  int m = affix(p, n, s->text.prefix, s->text.prefix_len);
  if (m <= 0) {
    *why = "the frame does not start with the length prefix";
    return m;
  }
  uint64_t v = 0;
  size_t nd = 0;
  for (; i < n && digit(p[i], base) >= 0; i++, nd++) {
    if (nd == maxdig || v > (UINT64_MAX - 15) / base) {
      *why = "text length has too many digits";
      return -1;
    }
    v = v * base + (uint64_t)digit(p[i], base);
  }
  if (i == n)
    return 0;
  if (!nd) {
    *why = "text length has no digits";
    return -1;
  }
  if (s->text.ext && p[i] == s->text.ext) {
    size_t e = i, lim = i + FRAY_MAX_TEXT_EXT;
    while (e < n && e < lim && p[e] != s->text.term[0])
      e++;
    if (e == lim) {
      *why = "length extension too long";
      return -1;
    }
    if (e == n)
      return 0;
    i = e;
  }
  m = affix(p + i, n - i, s->text.term, s->text.term_len);
  if (m <= 0) {
    *why = "bad character after the text length";
    return m;
  }
  *hdr = i + s->text.term_len;
  *len = v;
  return 1;
}

/* ---- encoding ------------------------------------------------------------ */

int fray__wrap_length(const fray_spec_t *s, size_t len, fray_frame_wrap_t *w) {
  size_t width;
  int le = 0;
  switch (s->length.field) {
  case FRAY_LEN_U8:
    width = 1;
    break;
  case FRAY_LEN_U16LE:
    le = 1; /* fall through */
  case FRAY_LEN_U16BE:
    width = 2;
    break;
  case FRAY_LEN_U32LE:
    le = 1; /* fall through */
  case FRAY_LEN_U32BE:
    width = 4;
    break;
  case FRAY_LEN_U64LE:
    le = 1; /* fall through */
  case FRAY_LEN_U64BE:
    width = 8;
    break;
  case FRAY_LEN_ULE:
    le = 1; /* fall through */
  case FRAY_LEN_UBE:
    width = s->length.width;
    break;
  case FRAY_LEN_VARINT:
    width = 0;
    break;
  default:
    return FRAY_EINVAL;
  }
  if (s->length.offset || (s->length.strip != FRAY_STRIP_HEADER && s->length.strip != width))
    return FRAY_EINVAL;
  /* The decoder adds adjust to the field: write len - adjust. */
  int64_t adj = s->length.adjust;
  uint64_t v = (uint64_t)len;
  if (adj > 0 ? v < (uint64_t)adj : v > UINT64_MAX - (uint64_t)(-(adj + 1)) - 1)
    return FRAY_EINVAL;
  v -= (uint64_t)adj;
  if (!width) {
    if (s->length.strip != FRAY_STRIP_HEADER)
      return FRAY_EINVAL;
    do {
      w->head[w->head_len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      v >>= 7;
    } while (v);
    return 0;
  }
  if (width < 8 && v >> (8 * width))
    return FRAY_EINVAL;
  for (size_t i = 0; i < width; i++)
    w->head[le ? i : width - 1 - i] = (uint8_t)(v >> (8 * i));
  w->head_len = width;
  return 0;
}

int fray__wrap_text(const fray_spec_t *s, size_t len, fray_frame_wrap_t *w) {
  uint8_t dig[24];
  size_t nd = 0;
  uint64_t v = len;
  do {
    unsigned d = (unsigned)(v % s->text.base);
    dig[nd++] = (uint8_t)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= s->text.base;
  } while (v);
  memcpy(w->head, s->text.prefix, s->text.prefix_len);
  w->head_len = s->text.prefix_len;
  while (nd)
    w->head[w->head_len++] = dig[--nd];
  memcpy(w->head + w->head_len, s->text.term, s->text.term_len);
  w->head_len += s->text.term_len;
  if (!(len == 0 && s->text.zero_no_trailer)) {
    memcpy(w->tail, s->text.trailer, s->text.trailer_len);
    w->tail_len = s->text.trailer_len;
  }
  return 0;
}
