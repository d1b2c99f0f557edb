/* The delimiter-set and text-length scans of the framer (see
 * core/framer_scan.h). Kept apart from framer.c's single-delimiter hot path,
 * which these modes never take. */
#include "core/framer_scan.h"

#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

size_t fray__set_maxlen(const fray_spec_t *s) {
  if (s->mode == FRAY_MODE_BYTESET)
    return 1;
  size_t m = 1;
  for (size_t i = 0; i < s->delims.n; i++)
    if (s->delims.len[i] > m)
      m = s->delims.len[i];
  return m;
}

void fray__set_plan(const fray_spec_t *s, fray__set_plan_t *pl) {
  memset(pl, 0, sizeof *pl);
  if (s->mode == FRAY_MODE_BYTESET)
    memcpy(pl->table, s->byteset, sizeof pl->table);
  else
    for (size_t i = 0; i < s->delims.n; i++) {
      uint8_t b = s->delims.bytes[i][0];
      pl->table[b >> 3] |= (uint8_t)(1u << (b & 7));
    }
#ifdef HAVE_AVX2_PATH
  pl->avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
  for (unsigned b = 0; b < 256; b++)
    if ((pl->table[b >> 3] >> (b & 7)) & 1) {
      if (pl->nneedles < sizeof pl->needles)
        pl->needles[pl->nneedles] = (uint8_t)b;
      pl->nneedles++;
    }
}

#if defined(__SSE2__)
/* 32 bytes at p: the bits of those equal to one of k needles (k = 2 or 4;
 * the caller repeats a needle to fill four). */
static inline uint64_t eq_mask32(const uint8_t *p, const __m128i *n, unsigned k) {
  __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
  __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
  __m128i ma = _mm_or_si128(_mm_cmpeq_epi8(a, n[0]), _mm_cmpeq_epi8(a, n[1]));
  __m128i mb = _mm_or_si128(_mm_cmpeq_epi8(b, n[0]), _mm_cmpeq_epi8(b, n[1]));
  if (k > 2) {
    ma = _mm_or_si128(ma, _mm_or_si128(_mm_cmpeq_epi8(a, n[2]), _mm_cmpeq_epi8(a, n[3])));
    mb = _mm_or_si128(mb, _mm_or_si128(_mm_cmpeq_epi8(b, n[2]), _mm_cmpeq_epi8(b, n[3])));
  }
  return (uint64_t)(unsigned)_mm_movemask_epi8(ma) | (uint64_t)(unsigned)_mm_movemask_epi8(mb)
                                                         << 16;
}
#endif

#ifdef HAVE_AVX2_PATH
/* The vector scan 64 bytes at a time with AVX2, where the CPU has it
 * (fray__set_plan() asks once): what glibc's memchr does for one byte. */
__attribute__((target("avx2"))) static size_t scan_avx2(const fray__set_plan_t *pl,
                                                        const uint8_t *p, size_t t, size_t end) {
  __m256i n[4];
  for (unsigned i = 0; i < 4; i++)
    n[i] = _mm256_set1_epi8((char)pl->needles[i < pl->nneedles ? i : 0]);
  int four = pl->nneedles > 2;
  for (; t + 64 <= end; t += 64) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(p + t));
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + t + 32));
    __m256i ma = _mm256_or_si256(_mm256_cmpeq_epi8(a, n[0]), _mm256_cmpeq_epi8(a, n[1]));
    __m256i mb = _mm256_or_si256(_mm256_cmpeq_epi8(b, n[0]), _mm256_cmpeq_epi8(b, n[1]));
    if (four) {
      ma = _mm256_or_si256(ma,
                           _mm256_or_si256(_mm256_cmpeq_epi8(a, n[2]), _mm256_cmpeq_epi8(a, n[3])));
      mb = _mm256_or_si256(mb,
                           _mm256_or_si256(_mm256_cmpeq_epi8(b, n[2]), _mm256_cmpeq_epi8(b, n[3])));
    }
    uint64_t m = (uint64_t)(uint32_t)_mm256_movemask_epi8(ma) |
                 (uint64_t)(uint32_t)_mm256_movemask_epi8(mb) << 32;
    if (m)
      return t + (size_t)__builtin_ctzll(m);
  }
  return t; /* fewer than 64 bytes left: the caller goes on */
}
#endif

/* First t in [from, end) where a delimiter may start (its first byte is
 * there), or FRAY__NONE. One first byte: memchr; up to four: a vector scan
 * 32 bytes at a time; more: the table a byte at a time. */
static size_t next_start(const fray__set_plan_t *pl, const uint8_t *p, size_t from, size_t end) {
  size_t t = from;
  if (t >= end)
    return FRAY__NONE;
  if (pl->nneedles == 1) {
    const uint8_t *q = memchr(p + t, pl->needles[0], end - t);
    return q ? (size_t)(q - p) : FRAY__NONE;
  }
#if defined(__SSE2__)
  if (pl->nneedles <= sizeof pl->needles) {
#ifdef HAVE_AVX2_PATH
    if (pl->avx2 && end - t >= 64) {
      t = scan_avx2(pl, p, t, end);
      if (t + 64 <= end)
        return t; /* found */
    }
#endif
    unsigned k = pl->nneedles <= 2 ? 2 : 4;
    __m128i n[4];
    for (unsigned i = 0; i < 4; i++)
      n[i] = _mm_set1_epi8((char)pl->needles[i < pl->nneedles ? i : 0]);
    for (; t + 32 <= end; t += 32) {
      uint64_t m = eq_mask32(p + t, n, k);
      if (m)
        return t + (size_t)__builtin_ctzll(m);
    }
  }
#endif
  for (; t < end; t++)
    if ((pl->table[p[t] >> 3] >> (p[t] & 7)) & 1)
      return t;
  return FRAY__NONE;
}

size_t fray__set_find(const fray_spec_t *s, const fray__set_plan_t *pl, const uint8_t *p, size_t n,
                      size_t from, size_t last, int final, size_t *mlen, size_t *resume) {
  size_t end = last < n ? last + 1 : n;
  *resume = end > from ? end : from;
  for (size_t t = from; (t = next_start(pl, p, t, end)) != FRAY__NONE; t++) {
    if (s->mode == FRAY_MODE_BYTESET) {
      *mlen = 1;
      return t;
    }
    /* In list order: the first delimiter that lies whole here wins, unless
     * one listed before it may still complete here. */
    for (size_t i = 0; i < s->delims.n; i++) {
      const uint8_t *d = s->delims.bytes[i];
      size_t dlen = s->delims.len[i];
      if (t + dlen <= n) {
        if (!memcmp(p + t, d, dlen)) {
          *mlen = dlen;
          return t;
        }
      } else if (!final && !memcmp(p + t, d, n - t)) {
        *resume = t;
        return FRAY__NONE;
      }
    }
  }
  return FRAY__NONE;
}

size_t fray__set_find2(const fray_spec_t *s, const fray__set_plan_t *pl, const uint8_t *a,
                       size_t an, const uint8_t *b, size_t bn, size_t from, size_t last,
                       size_t *mlen, size_t *resume) {
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
      size_t hit = fray__set_find(s, pl, w, alen + blen, 0, wlast, 0, mlen, &r);
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
  size_t r, hit = fray__set_find(s, pl, b, bn, from - an, last == FRAY__NONE ? last : last - an, 0,
                                 mlen, &r);
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
static inline int affix(const uint8_t *p, size_t n, const uint8_t *a, size_t alen) {
  size_t k = n < alen ? n : alen;
  for (size_t i = 0; i < k; i++) /* at most 4 bytes: cheaper than a call */
    if (p[i] != a[i])
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
