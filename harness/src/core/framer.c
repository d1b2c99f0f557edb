/* The framing engine.
 *
 * Bytes live in one of two places: the chunk being fed (borrowed) or the
 * framer's buffer (owned, holding at most one unfinished frame plus what a
 * spec switch left behind). One routine, step(), frames a contiguous view,
 * whichever of the two it is; feed() decides which view to hand it:
 *
 *   - buffer non-empty: step() over the buffer; when it needs more, append
 *     from the chunk only the bytes that can complete the frame (so the rest
 *     of the chunk is still framed in place, and memory stays bounded);
 *   - buffer empty: step() over the chunk in place (no copy); an unfinished
 *     tail is copied into the buffer.
 *
 * A delimiter search never rescans: `scan` remembers the first start
 * position in the buffer not yet ruled out. */
#include "fray/framer.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/framer_internal.h"
#include "core/framer_scan.h"
#include "core/internal.h"

#define NONE SIZE_MAX
#define INITIAL_CAP 256

enum {
  CTL_PAUSE = 1,
  CTL_CLOSE = 2,
  CTL_FREE = 4,
  CTL_STOP = 8,  /* sticky error set */
  CTL_TAKEN = 16 /* take_buffered handed the rest back: all of it consumed */
};

enum { STEP_PROGRESS, STEP_MORE, STEP_STOP };

struct fray_framer {
  fray_spec_t spec;
  fray__set_plan_t plan; /* delims and byteset modes: what the search looks for */
  size_t max;            /* resolved spec.max_frame */
  size_t tiny_limit;     /* delim/line: buffered bytes that overflow (0: other modes) */
  size_t cap_bound;      /* largest buffer bound of the specs used since reset */
  size_t tiny_room;      /* bytes feed() may append with no check but the delimiter
                            search: 0 unless the state allows it (tiny_arm) */
  unsigned gen;          /* bumped by set_spec: tells loops to re-dispatch */
  fray_framer_callbacks_t cb;
  fray_mem_t mem;
  void *user_data;

  uint8_t *buf;
  size_t cap, start, blen; /* buffered bytes: buf[start .. start+blen) */
  size_t scan;             /* delim: buffer start positions below scan hold no delimiter */
  uint64_t buf_off;        /* stream offset of buf[start] */
  uint64_t fed;            /* bytes consumed by feed since reset */

  /* Skipping an oversized frame. */
  int skipping;
  uint64_t skip_off;  /* where the oversized frame started */
  uint64_t skip_seen; /* its bytes discarded so far */
  uint64_t skip_left; /* length mode: bytes still to drop */
  uint8_t skip_last;  /* last discarded byte (line mode looks for "\r") */

  int error; /* sticky; 0 when running */
  uint64_t err_off;
  const char *err_reason;

  unsigned in_cb; /* callback nesting depth */
  unsigned ctl;   /* CTL_* raised by callbacks during one feed */
  int closed;     /* close() called */
  int finished;   /* finish() called */
  int embedded;   /* in its owner's storage (fray__framer_init): only the buffer is freed */
  uint8_t *inl;   /* the first buffer, in that storage too; never freed */
  int finishing;  /* finish() is framing: no byte will follow */

  /* What take_buffered() needs from inside a callback: the chunk being fed,
   * how much of it is framed or buffered, and where the delivered frame
   * ends in the stream. */
  const uint8_t *chunk;
  size_t chunk_n, chunk_pos;
  uint64_t chunk_off, frame_end;
};

/* ---- specs ---------------------------------------------------------- */

fray_spec_t fray_spec_line(void) {
  fray_spec_t s;
  memset(&s, 0, sizeof s);
  s.mode = FRAY_MODE_LINE;
  s.delim.bytes[0] = '\n';
  s.delim.len = 1;
  return s;
}

fray_spec_t fray_spec_raw(void) {
  fray_spec_t s;
  memset(&s, 0, sizeof s);
  s.mode = FRAY_MODE_RAW;
  return s;
}

fray_spec_t fray_spec_count(size_t count) {
  fray_spec_t s;
  memset(&s, 0, sizeof s);
  s.mode = FRAY_MODE_COUNT;
  s.count = count;
  return s;
}

fray_spec_t fray_spec_delim(const void *delim, size_t len) {
  fray_spec_t s;
  memset(&s, 0, sizeof s);
  s.mode = FRAY_MODE_DELIM;
  s.delim.len = len;
  if (len <= FRAY_MAX_DELIM && delim)
    memcpy(s.delim.bytes, delim, len);
  return s;
}

fray_spec_t fray_spec_length(fray_lenfield_t field) {
  fray_spec_t s;
  memset(&s, 0, sizeof s);
  s.mode = FRAY_MODE_LENGTH;
  s.length.field = field;
  s.length.strip = FRAY_STRIP_HEADER;
  return s;
}

fray_spec_t fray_spec_length_uint(size_t width, int little_endian) {
  fray_spec_t s = fray_spec_length(little_endian ? FRAY_LEN_ULE : FRAY_LEN_UBE);
  s.length.width = width;
  return s;
}

fray_spec_t fray_spec_delims(void) {
  fray_spec_t s;
  memset(&s, 0, sizeof s);
  s.mode = FRAY_MODE_DELIMS;
  return s;
}

int fray_spec_delims_add(fray_spec_t *s, const void *delim, size_t len) {
  if (!s || !delim || !len || len > FRAY_MAX_DELIM || s->delims.n >= FRAY_MAX_DELIMS)
    return FRAY_EINVAL;
  memcpy(s->delims.bytes[s->delims.n], delim, len);
  s->delims.len[s->delims.n++] = (uint8_t)len;
  return 0;
}

fray_spec_t fray_spec_byteset(const void *bytes, size_t n) {
  fray_spec_t s;
  memset(&s, 0, sizeof s);
  s.mode = FRAY_MODE_BYTESET;
  for (size_t i = 0; i < n; i++) {
    uint8_t b = ((const uint8_t *)bytes)[i];
    s.byteset[b >> 3] |= (uint8_t)(1u << (b & 7));
  }
  return s;
}

/* A text spec: base, the prefix and terminator and trailer (NUL-free
 * strings of at most FRAY_MAX_TEXT_AFFIX bytes). */
static fray_spec_t text_spec(unsigned base, const char *prefix, const char *term,
                             const char *trailer) {
  fray_spec_t s;
  memset(&s, 0, sizeof s);
  s.mode = FRAY_MODE_TEXTLEN;
  s.text.base = (uint8_t)base;
  s.text.prefix_len = (uint8_t)strlen(prefix);
  memcpy(s.text.prefix, prefix, s.text.prefix_len);
  s.text.term_len = (uint8_t)strlen(term);
  memcpy(s.text.term, term, s.text.term_len);
  s.text.trailer_len = (uint8_t)strlen(trailer);
  memcpy(s.text.trailer, trailer, s.text.trailer_len);
  return s;
}

fray_spec_t fray_spec_netstring(void) {
  return text_spec(10, "", ":", ",");
}

fray_spec_t fray_spec_resp_bulk(void) {
  return text_spec(10, "$", "\r\n", "\r\n");
}

fray_spec_t fray_spec_http_chunk(void) {
  fray_spec_t s = text_spec(16, "", "\r\n", "\r\n");
  s.text.ext = ';';
  s.text.zero_no_trailer = 1;
  return s;
}

static size_t spec_max(const fray_spec_t *s) {
  return s->max_frame ? s->max_frame : FRAY_DEFAULT_MAX_FRAME;
}

static size_t field_width(const fray_spec_t *s) {
  switch (s->length.field) {
  case FRAY_LEN_U8:
    return 1;
  case FRAY_LEN_U16BE:
  case FRAY_LEN_U16LE:
    return 2;
  case FRAY_LEN_U32BE:
  case FRAY_LEN_U32LE:
    return 4;
  case FRAY_LEN_U64BE:
  case FRAY_LEN_U64LE:
    return 8;
  case FRAY_LEN_VARINT:
    return 10; /* the most a varint may take */
  case FRAY_LEN_UBE:
  case FRAY_LEN_ULE:
    return s->length.width >= 1 && s->length.width <= 8 ? s->length.width : 0;
  }
  return 0;
}

/* Bytes of a length header at most: what precedes the body. */
static size_t length_header(const fray_spec_t *s) {
  return s->length.offset + field_width(s);
}

static const char *validate_set(const fray_spec_t *s) {
  if (s->mode == FRAY_MODE_BYTESET) {
    for (size_t i = 0; i < sizeof s->byteset; i++)
      if (s->byteset[i])
        return NULL;
    return "byte set is empty";
  }
  if (s->delims.n < 1 || s->delims.n > FRAY_MAX_DELIMS)
    return "delimiter set must hold 1 to 8 delimiters";
  for (size_t i = 0; i < s->delims.n; i++)
    if (s->delims.len[i] < 1 || s->delims.len[i] > FRAY_MAX_DELIM)
      return "delimiter must be 1 to 16 bytes";
  return NULL;
}

static const char *validate_text(const fray_spec_t *s) {
  if (s->text.base != 10 && s->text.base != 16)
    return "text length base must be 10 or 16";
  if (s->text.prefix_len > FRAY_MAX_TEXT_AFFIX || s->text.trailer_len > FRAY_MAX_TEXT_AFFIX)
    return "text prefix and trailer are at most 4 bytes";
  if (s->text.term_len < 1 || s->text.term_len > FRAY_MAX_TEXT_AFFIX)
    return "text terminator must be 1 to 4 bytes";
  uint8_t t = s->text.term[0];
  if ((t >= '0' && t <= '9') || (s->text.base == 16 && ((t | 0x20) >= 'a' && (t | 0x20) <= 'f')))
    return "text terminator starts with a digit";
  return NULL;
}

static const char *validate_length(const fray_spec_t *s) {
  if (field_width(s) == 0)
    return s->length.field == FRAY_LEN_UBE || s->length.field == FRAY_LEN_ULE
               ? "length field width must be 1 to 8 bytes"
               : "unknown length field";
  if (s->length.offset > FRAY_MAX_LENGTH_OFFSET)
    return "length field offset too large";
  if (s->length.strip != FRAY_STRIP_HEADER && s->length.strip > length_header(s) + spec_max(s))
    return "strip longer than any frame can be";
  return NULL;
}

int fray_spec_validate(const fray_spec_t *s, const char **why) {
  const char *w = NULL;
  if (!s)
    w = "no spec";
  else if (s->on_overflow != FRAY_OVERFLOW_ERROR && s->on_overflow != FRAY_OVERFLOW_SKIP)
    w = "unknown overflow policy";
  else if (spec_max(s) > SIZE_MAX / 4)
    w = "max_frame too large";
  else {
    switch (s->mode) {
    case FRAY_MODE_LINE:
      break;
    case FRAY_MODE_DELIM:
      if (s->delim.len < 1 || s->delim.len > FRAY_MAX_DELIM)
        w = "delimiter must be 1 to 16 bytes";
      break;
    case FRAY_MODE_COUNT:
      if (s->count == 0)
        w = "count must be at least 1";
      else if (s->count > spec_max(s))
        w = "count exceeds max_frame";
      break;
    case FRAY_MODE_LENGTH:
      w = validate_length(s);
      break;
    case FRAY_MODE_RAW:
      break;
    case FRAY_MODE_DELIMS:
    case FRAY_MODE_BYTESET:
      w = validate_set(s);
      break;
    case FRAY_MODE_TEXTLEN:
      w = validate_text(s);
      break;
    default:
      w = "unknown mode";
    }
  }
  if (why)
    *why = w;
  return w ? FRAY_EINVAL : 0;
}

size_t fray_spec_buffer_bound(const fray_spec_t *s) {
  size_t max = spec_max(s);
  switch (s->mode) {
  case FRAY_MODE_LINE:
    return max + 2;
  case FRAY_MODE_DELIM:
    /* A frame and its delimiter; or, while skipping, a partial delimiter
     * (dlen-1 bytes) completed by a straddling one: under 2*dlen. */
    return max + 2 * s->delim.len;
  case FRAY_MODE_COUNT:
    return s->count;
  case FRAY_MODE_LENGTH: {
    /* The wire frame is the emitted one plus what was stripped. */
    size_t strip = s->length.strip == FRAY_STRIP_HEADER ? 0 : s->length.strip;
    return max + (strip > length_header(s) ? strip : length_header(s));
  }
  case FRAY_MODE_RAW:
    return 0;
  case FRAY_MODE_DELIMS:
  case FRAY_MODE_BYTESET:
    return max + 2 * fray__set_maxlen(s);
  case FRAY_MODE_TEXTLEN:
    return max + fray__text_header_max(s) + s->text.trailer_len;
  }
  return max;
}

/* Line mode always means "\n" (one "\r" before it stripped), whatever a
 * caller's designated initializer left in the delimiter fields. */
static void normalize(fray_spec_t *s) {
  if (s->mode == FRAY_MODE_LINE) {
    memset(&s->delim, 0, sizeof s->delim);
    s->delim.bytes[0] = '\n';
    s->delim.len = 1;
  }
}

/* Buffered bytes at which a delimited frame overflows: the tiny-read path
 * in feed() stays below it. 0 for modes it does not serve. */
static size_t tiny_limit(const fray_spec_t *s) {
  if (s->mode == FRAY_MODE_LINE)
    return spec_max(s) + 2;
  if (s->mode == FRAY_MODE_DELIM)
    return spec_max(s) + s->delim.len;
  return 0;
}

/* ---- callbacks and errors ------------------------------------------ */

void fray_framer_callbacks_init(fray_framer_callbacks_t *cb) {
  if (cb)
    memset(cb, 0, sizeof *cb);
}

/* A stopping error: sticky, reported once through on_error. */
static void stop(fray_framer_t *f, int code, uint64_t off, uint64_t size, const char *reason) {
  f->error = code;
  f->err_off = off;
  f->err_reason = reason;
  f->ctl |= CTL_STOP;
  if (f->cb.on_error && code != FRAY_ECALLBACK) {
    fray_frame_error_t e = {code, off, size, 1, reason};
    f->in_cb++;
    (void)f->cb.on_error(f, &e, f->user_data);
    f->in_cb--;
  }
}

static void callback_result(fray_framer_t *f, int r, uint64_t off) {
  if (r == FRAY_PAUSE)
    f->ctl |= CTL_PAUSE;
  else if (r < 0 && !(f->ctl & CTL_STOP))
    stop(f, FRAY_ECALLBACK, off, 0, "a callback asked to abort");
}

/* A skipped oversized frame: reported, not sticky. */
static void report_skip(fray_framer_t *f, int code, uint64_t off, uint64_t size,
                        const char *reason) {
  if (!f->cb.on_error)
    return;
  fray_frame_error_t e = {code, off, size, 0, reason};
  f->in_cb++;
  int r = f->cb.on_error(f, &e, f->user_data);
  f->in_cb--;
  callback_result(f, r, off);
}

/* Delivers a frame; end is the stream offset just past it on the wire. */
static void emit(fray_framer_t *f, const uint8_t *p, size_t len, uint64_t off, uint64_t end) {
  f->frame_end = end;
  if (!f->cb.on_frame)
    return;
  fray_frame_t fr = {p, len, off};
  f->in_cb++;
  int r = f->cb.on_frame(f, &fr, f->user_data);
  f->in_cb--;
  if (r)
    callback_result(f, r, off);
}

/* ---- delimiter search ----------------------------------------------- */

/* memchr for the hot loop. Most frames of line protocols are short, so the
 * first 64 bytes are searched inline, 16 at a time (SSE2 is in every x86-64
 * CPU), sparing a library call per frame; longer spans go to memchr. */
static inline const uint8_t *find_byte(const uint8_t *p, uint8_t b, size_t n) {
#if defined(__SSE2__)
  const __m128i needle = _mm_set1_epi8((char)b);
  size_t i = 0;
  for (; i + 16 <= n && i < 64; i += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, needle));
    if (m)
      return p + i + (unsigned)__builtin_ctz(m);
  }
  return i < n ? memchr(p + i, b, n - i) : NULL;
#else
  return memchr(p, b, n);
#endif
}

/* First start position s in [from, last] with p[s .. s+dlen) == d, s+dlen <= n. */
static size_t find_in(const uint8_t *p, size_t n, size_t from, size_t last, const uint8_t *d,
                      size_t dlen) {
  if (n < dlen)
    return NONE;
  size_t end = n - dlen;
  if (last < end)
    end = last;
  if (from > end)
    return NONE;
  if (dlen == 1) {
    const uint8_t *q = memchr(p + from, d[0], end - from + 1);
    return q ? (size_t)(q - p) : NONE;
  }
  const uint8_t *s = p + from, *e = p + end + 1;
  while (s < e) {
    s = memchr(s, d[0], (size_t)(e - s));
    if (!s)
      return NONE;
    if (!memcmp(s + 1, d + 1, dlen - 1))
      return (size_t)(s - p);
    s++;
  }
  return NONE;
}

/* The same over the virtual concatenation a[0..an) ++ b[0..bn). Start
 * positions inside a are few (callers keep from >= an - (dlen-1)). */
static size_t find_virtual(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, size_t from,
                           size_t last, const uint8_t *d, size_t dlen) {
  for (size_t s = from; s < an && s <= last; s++) {
    if (s + dlen > an + bn)
      return NONE;
    size_t i = 0;
    for (; i < dlen; i++) {
      size_t k = s + i;
      if ((k < an ? a[k] : b[k - an]) != d[i])
        break;
    }
    if (i == dlen)
      return s;
  }
  if (last < an)
    return NONE;
  size_t r = find_in(b, bn, from > an ? from - an : 0, last == NONE ? NONE : last - an, d, dlen);
  return r == NONE ? NONE : an + r;
}

/* ---- one framing step over a contiguous view ------------------------ */

/* Extra payload bytes the search window allows beyond max: line mode strips
 * a "\r" that does not count. */
static size_t delim_extra(const fray_framer_t *f) {
  return f->spec.mode == FRAY_MODE_LINE ? 1 : 0;
}

static int step_skip_delim(fray_framer_t *f, const uint8_t *p, size_t n, uint64_t base,
                           size_t *consumed) {
  const uint8_t *d = f->spec.delim.bytes;
  size_t dlen = f->spec.delim.len;
  size_t s = find_in(p, n, 0, NONE, d, dlen);
  if (s == NONE) {
    size_t keep = n < dlen - 1 ? n : dlen - 1;
    size_t drop = n - keep;
    if (drop) {
      f->skip_seen += drop;
      f->skip_last = p[drop - 1];
    }
    *consumed = drop;
    return drop ? STEP_PROGRESS : STEP_MORE;
  }
  uint64_t size = f->skip_seen + s;
  uint8_t prev = s ? p[s - 1] : f->skip_last;
  if (f->spec.mode == FRAY_MODE_LINE && size > 0 && prev == '\r')
    size--;
  f->skipping = 0;
  *consumed = s + dlen;
  (void)base;
  report_skip(f, FRAY_ETOOLONG, f->skip_off, size, "frame longer than max_frame (skipped)");
  return STEP_PROGRESS;
}

/* Oversized delimited frame found at the view's start. limit_seen: bytes of
 * it known (all before any delimiter). complete: the whole frame (payload
 * plen, wire length wlen) is in the view. */
static int delim_overflow(fray_framer_t *f, const uint8_t *p, size_t n, uint64_t base, int complete,
                          size_t plen, size_t wlen, size_t *consumed) {
  if (f->spec.on_overflow == FRAY_OVERFLOW_ERROR) {
    stop(f, FRAY_ETOOLONG, base, complete ? plen : n, "frame longer than max_frame");
    return STEP_STOP;
  }
  if (complete) {
    *consumed = wlen;
    report_skip(f, FRAY_ETOOLONG, base, plen, "frame longer than max_frame (skipped)");
    return STEP_PROGRESS;
  }
  /* No delimiter can start before max + extra + 1: drop that much and skip. */
  size_t drop = f->max + delim_extra(f) + 1;
  f->skipping = 1;
  f->skip_off = base;
  f->skip_seen = drop;
  f->skip_last = p[drop - 1];
  *consumed = drop;
  return STEP_PROGRESS;
}

/* Frames delimited frames from p[0..n) (n > 0). In place when !buffered, and
 * then loops over as many frames as it can before returning. *scan: on entry
 * the first start position to search, on STEP_MORE where to resume. */
static int step_delim(fray_framer_t *f, const uint8_t *p, size_t n, uint64_t base, size_t *scan,
                      size_t *consumed) {
  const uint8_t *d = f->spec.delim.bytes;
  size_t dlen = f->spec.delim.len;
  size_t extra = delim_extra(f);
  size_t max = f->max;
  size_t last = max + extra; /* latest start a delimiter may have */
  int keep = f->spec.delim.keep && f->spec.mode == FRAY_MODE_DELIM;
  int is_line = f->spec.mode == FRAY_MODE_LINE;
  unsigned gen = f->gen;
  size_t pos = 0, from = *scan;

  /* Hot loop: complete frames within the limit, one memchr each, the
   * callback called directly. Anything else (no delimiter in the window,
   * an oversized line, a resumed search) falls through to the general
   * loop below, which handles it whatever the hot loop left. */
  if (from == 0 && !keep) {
    fray_frame_cb cb = f->cb.on_frame;
    void *ud = f->user_data;
    const uint8_t d0 = d[0];
    /* in_cb stays raised for the whole loop: between callbacks nobody else
     * runs, and it saves two stores a frame. */
    f->in_cb++;
    while (pos < n) {
      const uint8_t *q = p + pos;
      size_t left = n - pos, win = left < last + dlen ? left : last + dlen;
      const uint8_t *e = find_byte(q, d0, win);
      if (!e || (size_t)(e - q) + dlen > left ||
          (dlen > 1 && (e[1] != d[1] || (dlen > 2 && memcmp(e + 2, d + 2, dlen - 2)))))
        break; /* not a plain case: the general loop decides */
      size_t sp = (size_t)(e - q), plen = sp;
      if (is_line && sp && q[sp - 1] == '\r')
        plen--;
      if (plen > max)
        break;
      if (cb) {
        fray_frame_t fr = {q, plen, base + pos};
        f->frame_end = base + pos + sp + dlen;
        int r = cb(f, &fr, ud);
        if (r) {
          f->in_cb--;
          callback_result(f, r, base + pos);
          f->in_cb++;
        }
      }
      pos += sp + dlen;
      if (f->ctl || f->gen != gen) {
        f->in_cb--;
        *scan = 0;
        *consumed = pos;
        return STEP_PROGRESS;
      }
    }
    f->in_cb--;
  }

  while (pos < n) {
    const uint8_t *q = p + pos;
    size_t left = n - pos;
    size_t s = find_in(q, left, from, last, d, dlen);
    if (s == NONE) {
      if (left >= last + dlen) {
        size_t c = 0;
        int r = delim_overflow(f, q, left, base + pos, 0, 0, 0, &c);
        *consumed = pos + c;
        return r == STEP_STOP && !pos ? STEP_STOP : STEP_PROGRESS;
      }
      *scan = left >= dlen - 1 ? left - (dlen - 1) : 0;
      *consumed = pos;
      return pos ? STEP_PROGRESS : STEP_MORE;
    }
    size_t plen = s;
    if (is_line && s && q[s - 1] == '\r')
      plen--;
    if (plen > max) {
      size_t c = 0;
      int r = delim_overflow(f, q, left, base + pos, 1, plen, s + dlen, &c);
      if (r == STEP_STOP) {
        *consumed = pos;
        return pos ? STEP_PROGRESS : STEP_STOP;
      }
      pos += c;
    } else {
      emit(f, q, keep ? s + dlen : plen, base + pos, base + pos + s + dlen);
      pos += s + dlen;
    }
    from = 0;
    *scan = 0;
    if (f->ctl || f->gen != gen)
      break;
  }
  *consumed = pos;
  return STEP_PROGRESS;
}

/* Bytes still to drop of a skipped length-prefixed frame (length and text
 * modes): 1 when it dropped some. */
static int skip_counted(fray_framer_t *f, size_t n, size_t *consumed) {
  if (!f->skip_left)
    return 0;
  size_t c = n < f->skip_left ? n : (size_t)f->skip_left;
  f->skip_left -= c;
  *consumed = c;
  return 1;
}

/* Decodes a length header at p[0..n). Returns STEP_MORE, STEP_PROGRESS with
 * *hdr and *body set, or STEP_STOP with *why set (the caller raises it). */
static int parse_length(const fray_framer_t *f, const uint8_t *p, size_t n, size_t *hdr,
                        uint64_t *body, const char **why) {
  size_t off = f->spec.length.offset;
  fray_lenfield_t fld = f->spec.length.field;
  uint64_t v = 0;
  size_t w;
  if (fld == FRAY_LEN_VARINT) {
    for (w = 0;; w++) {
      if (off + w >= n)
        return STEP_MORE;
      uint8_t b = p[off + w];
      if (w == 9 && b > 1) {
        *why = "varint length overflows 64 bits";
        return STEP_STOP;
      }
      v |= (uint64_t)(b & 0x7f) << (7 * w);
      if (!(b & 0x80))
        break;
    }
    w++;
  } else {
    w = field_width(&f->spec);
    if (n < off + w)
      return STEP_MORE;
    const uint8_t *q = p + off;
    int le = fld == FRAY_LEN_U16LE || fld == FRAY_LEN_U32LE || fld == FRAY_LEN_U64LE ||
             fld == FRAY_LEN_ULE;
    for (size_t i = 0; i < w; i++)
      v |= (uint64_t)q[le ? i : w - 1 - i] << (8 * i);
  }
  int64_t adj = f->spec.length.adjust;
  /* -(adj + 1) + 1 is |adj| without overflowing on INT64_MIN. */
  uint64_t mag = adj < 0 ? (uint64_t)(-(adj + 1)) + 1 : (uint64_t)adj;
  if (adj < 0 && v < mag) {
    *body = v;
    *why = "length adjustment underflows";
    return STEP_STOP;
  }
  uint64_t b = adj < 0 ? v - mag : v + mag;
  if (adj > 0 && b < v)
    b = UINT64_MAX; /* wrapped: certainly over the maximum */
  *hdr = off + w;
  *body = b;
  return STEP_PROGRESS;
}

static int step_length(fray_framer_t *f, const uint8_t *p, size_t n, uint64_t base,
                       size_t *consumed) {
  size_t hdr;
  uint64_t body;
  if (skip_counted(f, n, consumed))
    return STEP_PROGRESS;
  const char *why = NULL;
  body = 0;
  int r = parse_length(f, p, n, &hdr, &body, &why);
  if (r == STEP_STOP)
    stop(f, FRAY_EBADLEN, base, body, why);
  if (r != STEP_PROGRESS)
    return r;
  size_t strip = f->spec.length.strip == FRAY_STRIP_HEADER ? hdr : f->spec.length.strip;
  uint64_t total = hdr + body;
  if (total < body) {
    stop(f, FRAY_EBADLEN, base, body, "length field overflows");
    return STEP_STOP;
  }
  if (strip > total) {
    stop(f, FRAY_EBADLEN, base, body, "strip longer than the frame");
    return STEP_STOP;
  }
  uint64_t out = total - strip;
  if (out > f->max) {
    if (f->spec.on_overflow == FRAY_OVERFLOW_ERROR) {
      stop(f, FRAY_EBADLEN, base, body, "length over max_frame");
      return STEP_STOP;
    }
    f->skip_left = total;
    report_skip(f, FRAY_EBADLEN, base, body, "length over max_frame (skipped)");
    *consumed = 0;
    return STEP_PROGRESS;
  }
  if (n < total)
    return STEP_MORE;
  emit(f, p + strip, (size_t)out, base, base + total);
  *consumed = (size_t)total;
  return STEP_PROGRESS;
}

/* ---- delimiter sets and text lengths ----------------------------------- */

/* Skipping an oversized frame in a set mode: discards up to the next
 * delimiter, keeping only bytes where one may still start. */
static int step_skip_set(fray_framer_t *f, const uint8_t *p, size_t n, size_t *consumed) {
  size_t mlen = 0, resume;
  size_t at = fray__set_find(&f->spec, &f->plan, p, n, 0, FRAY__NONE, f->finishing, &mlen, &resume);
  if (at == FRAY__NONE) {
    f->skip_seen += resume;
    *consumed = resume;
    return resume ? STEP_PROGRESS : STEP_MORE;
  }
  f->skipping = 0;
  *consumed = at + mlen;
  report_skip(f, FRAY_ETOOLONG, f->skip_off, f->skip_seen + at,
              "frame longer than max_frame (skipped)");
  return STEP_PROGRESS;
}

/* Frames from p[0..n) in delims and byteset modes: the earliest delimiter
 * of the set ends each frame. *scan as for step_delim(). */
static int step_set(fray_framer_t *f, const uint8_t *p, size_t n, uint64_t base, size_t *scan,
                    size_t *consumed) {
  size_t last = f->max, pos = 0, from = *scan;
  int keep = f->spec.delim.keep;
  unsigned gen = f->gen;
  while (pos < n) {
    const uint8_t *q = p + pos;
    size_t left = n - pos, mlen = 0, resume;
    size_t at =
        fray__set_find(&f->spec, &f->plan, q, left, from, last, f->finishing, &mlen, &resume);
    if (at == FRAY__NONE && resume <= last) {
      *scan = resume;
      *consumed = pos;
      return pos ? STEP_PROGRESS : STEP_MORE;
    }
    if (at == FRAY__NONE) { /* no delimiter can start within max_frame */
      size_t c = 0;
      int r = delim_overflow(f, q, left, base + pos, 0, 0, 0, &c);
      *consumed = pos + c;
      *scan = 0;
      return r == STEP_STOP && !pos ? STEP_STOP : STEP_PROGRESS;
    }
    emit(f, q, keep ? at + mlen : at, base + pos, base + pos + at + mlen);
    pos += at + mlen;
    from = 0;
    *scan = 0;
    if (f->ctl || f->gen != gen)
      break;
  }
  *consumed = pos;
  return STEP_PROGRESS;
}

/* One text-length frame at p[0..n). */
static int step_text(fray_framer_t *f, const uint8_t *p, size_t n, uint64_t base,
                     size_t *consumed) {
  size_t hdr = 0;
  uint64_t len = 0;
  const char *why = NULL;
  int r = fray__text_header(&f->spec, p, n, &hdr, &len, &why);
  if (r < 0)
    stop(f, FRAY_EBADLEN, base, 0, why);
  if (r <= 0)
    return r < 0 ? STEP_STOP : STEP_MORE;
  size_t tl = len == 0 && f->spec.text.zero_no_trailer ? 0 : f->spec.text.trailer_len;
  if (len > f->max) {
    if (f->spec.on_overflow == FRAY_OVERFLOW_ERROR || len > UINT64_MAX - hdr - tl) {
      stop(f, FRAY_EBADLEN, base, len, "length over max_frame");
      return STEP_STOP;
    }
    f->skip_left = hdr + len + tl;
    report_skip(f, FRAY_EBADLEN, base, len, "length over max_frame (skipped)");
    return STEP_PROGRESS;
  }
  size_t total = hdr + (size_t)len + tl;
  /* The trailer is checked as far as it has come, so a wrong byte stops the
   * framer when it arrives, not when the rest of the trailer does. */
  const uint8_t *tr = p + hdr + len;
  size_t i = 0, have = n > hdr + len ? n - hdr - (size_t)len : 0;
  while (i < tl && i < have && tr[i] == f->spec.text.trailer[i]) /* at most 4 bytes */
    i++;
  if (i < tl && i == have)
    return STEP_MORE;
  if (i < tl) {
    stop(f, FRAY_EBADLEN, base, len, "the payload is not followed by its trailer");
    return STEP_STOP;
  }
  emit(f, p + hdr, (size_t)len, base, base + total);
  *consumed = total;
  return STEP_PROGRESS;
}

/* One step over p[0..n): frames (delivering them) or discards bytes, and
 * tells how many it consumed; STEP_MORE when the view holds no complete
 * frame (nothing consumed, *scan updated). */
static int step(fray_framer_t *f, const uint8_t *p, size_t n, uint64_t base, size_t *scan,
                size_t *consumed) {
  *consumed = 0;
  switch (f->spec.mode) {
  case FRAY_MODE_LINE:
  case FRAY_MODE_DELIM:
    if (f->skipping) {
      *scan = 0; /* the frame after the skipped one is searched afresh */
      return step_skip_delim(f, p, n, base, consumed);
    }
    return step_delim(f, p, n, base, scan, consumed);
  case FRAY_MODE_COUNT: {
    size_t c = f->spec.count, pos = 0;
    unsigned gen = f->gen;
    while (n - pos >= c) {
      emit(f, p + pos, c, base + pos, base + pos + c);
      pos += c;
      if (f->ctl || f->gen != gen)
        break;
    }
    *consumed = pos;
    return pos ? STEP_PROGRESS : STEP_MORE;
  }
  case FRAY_MODE_LENGTH:
    return step_length(f, p, n, base, consumed);
  case FRAY_MODE_RAW: {
    size_t c = n < f->max ? n : f->max;
    emit(f, p, c, base, base + c);
    *consumed = c;
    return STEP_PROGRESS;
  }
  case FRAY_MODE_DELIMS:
  case FRAY_MODE_BYTESET:
    if (f->skipping) {
      *scan = 0;
      return step_skip_set(f, p, n, consumed);
    }
    return step_set(f, p, n, base, scan, consumed);
  case FRAY_MODE_TEXTLEN:
    if (skip_counted(f, n, consumed))
      return STEP_PROGRESS;
    return step_text(f, p, n, base, consumed);
  }
  return STEP_MORE;
}

/* ---- buffer ----------------------------------------------------------- */

/* Appends b[0..k) to the buffer. 0 or FRAY_ENOMEM. */
static int append(fray_framer_t *f, const uint8_t *b, size_t k, uint64_t off) {
  if (!k)
    return 0;
  if (!f->blen) {
    f->start = 0;
    f->buf_off = off;
  }
  if (f->start + f->blen + k > f->cap) {
    if (f->start) {
      memmove(f->buf, f->buf + f->start, f->blen);
      f->start = 0;
    }
    if (f->blen + k > f->cap) {
      /* The first buffer holds at least INITIAL_CAP bytes, and none is
       * doubled past the longest frame the spec allows. */
      size_t need = f->blen + k, bound = fray_spec_buffer_bound(&f->spec);
      size_t first = INITIAL_CAP < bound ? INITIAL_CAP : bound;
      if (!f->cap && need < first)
        need = first;
      if (f->buf == f->inl && f->inl) {
        /* Outgrowing the inline buffer: the bytes move to the heap. */
        uint8_t *nb = NULL;
        size_t ncap = 0;
        if (fray__grow_max(&f->mem, (void **)&nb, &ncap, need, 1, bound))
          return FRAY_ENOMEM;
        memcpy(nb, f->buf, f->blen);
        f->buf = nb;
        f->cap = ncap;
      } else if (fray__grow_max(&f->mem, (void **)&f->buf, &f->cap, need, 1, bound)) {
        return FRAY_ENOMEM;
      }
    }
  }
  memcpy(f->buf + f->start + f->blen, b, k);
  f->blen += k;
  return 0;
}

static void buffer_consume(fray_framer_t *f, size_t k) {
  f->start += k;
  f->blen -= k;
  f->buf_off += k;
  if (!f->blen)
    f->start = 0;
}

/* wanted_from_chunk() for the set modes. */
static size_t wanted_set(fray_framer_t *f, const uint8_t *c, size_t n, size_t *discard) {
  const uint8_t *b = f->buf + f->start;
  size_t bl = f->blen, mlen = 0, resume, maxlen = fray__set_maxlen(&f->spec);
  /* A delimiter found ends the frame, but the buffer alone must show that
   * no longer one wins there: it gets the longest delimiter's worth of bytes
   * from the delimiter's start (a few bytes of the next frame, at most). */
  if (f->skipping) {
    size_t s = fray__set_find2(&f->spec, &f->plan, b, bl, c, n, 0, FRAY__NONE, &mlen, &resume);
    if (s != FRAY__NONE && s < bl)
      return s + maxlen - bl < n ? s + maxlen - bl : n; /* straddling: under 16 bytes */
    *discard = s != FRAY__NONE ? s : resume;
    return s != FRAY__NONE ? 0 : n;
  }
  size_t last = f->max;
  size_t s = fray__set_find2(&f->spec, &f->plan, b, bl, c, n, f->scan, last, &mlen, &resume);
  if (s != FRAY__NONE)
    return s + maxlen - bl < n ? s + maxlen - bl : n;
  size_t limit = last + maxlen; /* this much without a delimiter is an overflow */
  if (bl + n >= limit)
    return limit > bl ? limit - bl : 0;
  return n;
}

/* wanted_from_chunk() for the text mode: the header a byte at a time (it is
 * short), then the frame's exact rest. */
static size_t wanted_text(fray_framer_t *f, size_t n) {
  size_t hdr, need = 0;
  uint64_t len = 0;
  const char *why;
  int r = fray__text_header(&f->spec, f->buf + f->start, f->blen, &hdr, &len, &why);
  if (r == 0)
    need = 1;
  else if (r > 0 && len <= f->max) {
    size_t tl = len == 0 && f->spec.text.zero_no_trailer ? 0 : f->spec.text.trailer_len;
    need = hdr + (size_t)len + tl - f->blen;
  }
  return need < n ? need : n;
}

/* The buffer holds an unfinished frame: how many bytes of c[0..n) to move
 * into it so that it holds a complete one, or as many as may be buffered.
 * May instead discard (skip mode), telling so through *discard. */
static size_t wanted_from_chunk(fray_framer_t *f, const uint8_t *c, size_t n, size_t *discard) {
  const uint8_t *b = f->buf + f->start;
  size_t bl = f->blen;
  *discard = 0;
  switch (f->spec.mode) {
  case FRAY_MODE_LINE:
  case FRAY_MODE_DELIM: {
    const uint8_t *d = f->spec.delim.bytes;
    size_t dlen = f->spec.delim.len;
    if (f->skipping) {
      /* Skipped bytes are never buffered: the buffer holds at most a
       * partial delimiter (dlen-1 bytes). */
      size_t s = find_virtual(b, bl, c, n, 0, NONE, d, dlen);
      if (s != NONE && s < bl)
        return s + dlen - bl; /* a delimiter straddling: under dlen bytes */
      if (s != NONE) {
        *discard = s; /* drop up to the delimiter; step() then ends the skip */
        return 0;
      }
      size_t total = bl + n, keep = total < dlen - 1 ? total : dlen - 1;
      *discard = total - keep; /* no delimiter: keep a possible partial one */
      return n;
    }
    size_t last = f->max + delim_extra(f);
    size_t s = find_virtual(b, bl, c, n, f->scan, last, d, dlen);
    if (s != NONE)
      return s + dlen - bl;
    size_t limit = last + dlen; /* this much without a delimiter is an overflow */
    if (bl + n >= limit)
      return limit > bl ? limit - bl : 0;
    return n;
  }
  case FRAY_MODE_COUNT:
    return f->spec.count - bl < n ? f->spec.count - bl : n;
  case FRAY_MODE_LENGTH: {
    /* step() found the buffer short of a frame: either the header is
     * incomplete, or it is whole and valid and the body is short. */
    size_t hdr, need;
    uint64_t body = 0;
    const char *why;
    fray_lenfield_t fld = f->spec.length.field;
    int r = parse_length(f, b, bl, &hdr, &body, &why);
    if (r == STEP_MORE)
      need = fld == FRAY_LEN_VARINT ? 1 : length_header(&f->spec) - bl;
    else if (r == STEP_PROGRESS)
      need = (size_t)(hdr + body - bl);
    else
      need = 0;
    return need < n ? need : n;
  }
  case FRAY_MODE_RAW:
    return 0;
  case FRAY_MODE_DELIMS:
  case FRAY_MODE_BYTESET:
    return wanted_set(f, c, n, discard);
  case FRAY_MODE_TEXTLEN:
    return wanted_text(f, n);
  }
  return 0;
}

/* ---- feeding ---------------------------------------------------------- */

static void really_free(fray_framer_t *f) {
  fray_mem_t mem = f->mem;
  int own = !f->embedded;
  fray__framer_fini(f);
  if (own)
    fray__free(&mem, f);
}

/* Small chunks (down to one byte per read) that do not finish the frame
 * buffered for a delimiter: append them without the general machinery. The
 * test is exact: no delimiter may start in the last dlen-1 buffered bytes
 * or in the chunk, and the bytes must stay under the overflow limit.
 * Returns 1 when it took the whole chunk. */
/* Small reads (down to one byte per read) that do not finish the frame
 * buffered for a delimiter are appended without the general machinery.
 * tiny_arm() decides, after every call that may change the state, how many
 * bytes may go that way: only while running normally, the buffer searched to
 * its end, with room in it and below the overflow limit. Any other call that
 * changes the state disarms it. */
static void tiny_arm(fray_framer_t *f) {
  f->tiny_room = 0;
  size_t dlen = f->spec.delim.len, bl = f->blen;
  if (!f->tiny_limit || !f->cap || f->skipping || f->error || f->closed || f->finished ||
      f->in_cb || f->scan + dlen - 1 < bl || f->tiny_limit <= bl + 1)
    return;
  size_t room = f->cap - f->start - bl, lim = f->tiny_limit - bl - 1;
  f->tiny_room = room < lim ? room : lim;
}

/* Appends c[0..n) if no delimiter can end there; 1 when it did. */
static inline int tiny_append(fray_framer_t *f, const uint8_t *c, size_t n) {
  size_t dlen = f->spec.delim.len, bl = f->blen;
  const uint8_t *d = f->spec.delim.bytes, *b = f->buf + f->start;
  if (dlen == 1) {
    for (size_t i = 0; i < n; i++)
      if (c[i] == d[0])
        return 0;
  } else {
    /* Every start from scan on, straddling or not, byte by byte: n is small. */
    for (size_t s = f->scan; s + dlen <= bl + n; s++) {
      size_t i = 0;
      while (i < dlen && (s + i < bl ? b[s + i] : c[s + i - bl]) == d[i])
        i++;
      if (i == dlen)
        return 0;
    }
  }
  if (!bl) {
    f->start = 0; /* a new frame starts here */
    f->buf_off = f->fed;
  }
  /* A byte loop: for the few bytes this path sees, cheaper than a call. */
  uint8_t *dst = f->buf + f->start + bl;
  for (size_t i = 0; i < n; i++)
    dst[i] = c[i];
  bl += n;
  f->blen = bl;
  f->scan = bl >= dlen ? bl - (dlen - 1) : 0;
  f->fed += n;
  f->tiny_room -= n; /* room and limit both shrink by n */
  return 1;
}

/* Skip mode: drops the first `discard` bytes of buffer ++ c[pos..n). With a
 * delimiter ahead (to_delim) the chunk goes on from there, and the next
 * step() ends the skip; without, the whole chunk is taken and only its
 * tail, where a delimiter may still start, is kept. Returns the new
 * position in c, or FRAY__NONE when the tail could not be kept (out of
 * memory). */
static size_t skip_discard(fray_framer_t *f, const uint8_t *c, size_t pos, size_t n, size_t discard,
                           int to_delim) {
  size_t bl = f->blen, lv = discard - 1, keep = to_delim ? 0 : bl + (n - pos) - discard;
  uint8_t tail[FRAY_MAX_DELIM];
  for (size_t i = 0; i < keep; i++) {
    size_t v = discard + i;
    tail[i] = v < bl ? f->buf[f->start + v] : c[pos + v - bl];
  }
  f->skip_last = lv < bl ? f->buf[f->start + lv] : c[pos + lv - bl];
  f->skip_seen += discard;
  f->blen = 0;
  f->start = 0;
  if (to_delim)
    return pos + discard - bl;
  return append(f, tail, keep, f->fed + n - keep) < 0 ? FRAY__NONE : n;
}

/* Runs framing over the buffer and then c[0..n). Returns the bytes of c
 * consumed; stops early on a control flag. */
static size_t run(fray_framer_t *f, const uint8_t *c, size_t n) {
  size_t pos = 0, k;
  uint64_t c_off = f->fed; /* stream offset of c[0] */
  f->chunk = c;
  f->chunk_n = n;
  f->chunk_off = c_off;
  while (!f->ctl) {
    f->chunk_pos = pos;
    if (f->blen) {
      int r = step(f, f->buf + f->start, f->blen, f->buf_off, &f->scan, &k);
      if (r == STEP_STOP)
        break;
      if (r == STEP_PROGRESS) {
        buffer_consume(f, k);
        continue;
      }
      if (pos == n)
        break;
      size_t discard;
      size_t want = wanted_from_chunk(f, c + pos, n - pos, &discard);
      if (discard) {
        int to_delim = !want;
        size_t np = skip_discard(f, c, pos, n, discard, to_delim);
        if (np == FRAY__NONE) {
          pos = n;
          goto oom;
        }
        pos = np;
        if (to_delim)
          continue;
        break;
      }
      if (!want)
        break; /* cannot happen: step() would have framed the buffer */
      if (append(f, c + pos, want, c_off + pos) < 0)
        goto oom;
      pos += want;
      continue;
    }
    if (pos == n)
      break;
    size_t scan = 0;
    int r = step(f, c + pos, n - pos, c_off + pos, &scan, &k);
    if (r == STEP_STOP)
      break;
    if (r == STEP_PROGRESS) {
      pos += k;
      continue;
    }
    if (append(f, c + pos, n - pos, c_off + pos) < 0)
      goto oom;
    f->scan = scan;
    pos = n;
  }
  if (f->ctl & CTL_TAKEN) { /* every byte went to take_buffered()'s callback */
    pos = n;
    f->blen = f->start = 0;
  }
  f->chunk = NULL;
  f->fed += pos;
  return pos;
oom:
  f->chunk = NULL;
  f->error = FRAY_ENOMEM;
  f->err_reason = "out of memory";
  f->err_off = c_off + pos;
  f->ctl |= CTL_STOP;
  f->fed += pos;
  return pos;
}

/* The general feed, out of line so that the tiny path below stays a leaf
 * function with nothing to save. */
/* What feed and finish have in common: refuse when the state forbids,
 * frame what there is, then act on what the callbacks asked. Returns 0 with
 * *used and *ctl set, or the code to return (the framer may be gone). */
static int guarded_run(fray_framer_t *f, const uint8_t *data, size_t len, size_t *used,
                       unsigned *ctl) {
  if (f->in_cb)
    return FRAY_ESTATE;
  if (f->error)
    return f->error;
  if (f->closed || f->finished)
    return FRAY_ECLOSED;
  f->tiny_room = 0;
  f->ctl = 0;
  *used = run(f, data, len);
  *ctl = f->ctl;
  f->ctl = 0;
  if (*ctl & CTL_FREE) {
    really_free(f);
    return FRAY_ECLOSED;
  }
  return f->error;
}

__attribute__((noinline)) static fray_ssize_t feed_slow(fray_framer_t *f, const uint8_t *data,
                                                        size_t len) {
  if (!f || (!data && len))
    return FRAY_EINVAL;
  f->finishing = 0;
  size_t used;
  unsigned ctl;
  int rc = guarded_run(f, data, len, &used, &ctl);
  if (rc)
    return rc;
  tiny_arm(f);
#ifdef FRAY_SANITIZED
  fray__framer_check(f);
#endif
  return (fray_ssize_t)used;
}

fray_ssize_t fray_framer_feed(fray_framer_t *f, const uint8_t *data, size_t len) {
  /* Tiny reads that do not end the buffered frame: the 1-byte-per-read
   * case, kept linear and cheap. */
  if (f && data && len - 1 < f->tiny_room && len <= 64 && tiny_append(f, data, len))
    return (fray_ssize_t)len;
  return feed_slow(f, data, len);
}

int fray_framer_finish(fray_framer_t *f) {
  if (!f)
    return FRAY_EINVAL;
  size_t used;
  unsigned ctl;
  f->finishing = 1;
  int rc0 = guarded_run(f, NULL, 0, &used, &ctl);
  if (rc0) /* the framer may be gone (FRAY_ECLOSED after a free) */
    return rc0;
  f->finishing = 0;
  if (ctl & (CTL_PAUSE | CTL_CLOSE))
    return 0; /* the caller stopped delivery; what is left stays buffered */
  f->finished = 1;
  int rc = 0;
  if (f->skipping || f->skip_left) {
    /* A skipped delimited frame is reported when it ends; it ends here. A
     * length-prefixed one was reported when its header was read. */
    if (f->skipping)
      report_skip(f, FRAY_ETOOLONG, f->skip_off, f->skip_seen + f->blen,
                  "stream ended inside a skipped frame");
    f->skipping = 0;
    f->skip_left = 0;
    buffer_consume(f, f->blen);
    rc = FRAY_ETRUNCATED;
  } else if (f->blen) {
    if (f->cb.on_truncated) {
      fray_frame_t fr = {f->buf + f->start, f->blen, f->buf_off};
      f->in_cb++;
      (void)f->cb.on_truncated(f, &fr, f->user_data);
      f->in_cb--;
    }
    rc = FRAY_ETRUNCATED;
  }
  if (f->ctl & CTL_FREE) {
    really_free(f);
    return FRAY_ECLOSED;
  }
  f->ctl = 0;
  return rc;
}

/* ---- lifecycle ---------------------------------------------------------- */

/* Makes spec (already validated) the framer's: what creation and a spec
 * switch share. The capacity bound only grows: bytes buffered under an
 * earlier spec may still be there. */
static void apply_spec(fray_framer_t *f, const fray_spec_t *spec) {
  f->spec = *spec;
  normalize(&f->spec);
  f->max = spec_max(spec);
  f->tiny_limit = tiny_limit(spec);
  if (spec->mode == FRAY_MODE_DELIMS || spec->mode == FRAY_MODE_BYTESET)
    fray__set_plan(spec, &f->plan);
  if (fray_spec_buffer_bound(spec) > f->cap_bound)
    f->cap_bound = fray_spec_buffer_bound(spec);
}

size_t fray__framer_size(void) {
  return sizeof(fray_framer_t) + INITIAL_CAP;
}

int fray__framer_init(fray_framer_t *f, const fray_spec_t *spec,
                      const fray_framer_callbacks_t *callbacks, const fray_mem_t *mem,
                      void *user_data) {
  if (fray_spec_validate(spec, NULL))
    return FRAY_EINVAL;
  memset(f, 0, sizeof *f);
  fray__mem_init(&f->mem, mem);
  f->embedded = 1;
  f->buf = f->inl = (uint8_t *)(f + 1);
  f->cap = INITIAL_CAP;
  apply_spec(f, spec);
  if (callbacks)
    f->cb = *callbacks;
  f->user_data = user_data;
  return 0;
}

void fray__framer_fini(fray_framer_t *f) {
  if (f->buf != f->inl)
    fray__free(&f->mem, f->buf);
  f->buf = f->inl;
  f->cap = f->inl ? INITIAL_CAP : 0;
  f->start = f->blen = 0;
}

int fray_framer_new(fray_framer_t **out, const fray_spec_t *spec,
                    const fray_framer_callbacks_t *callbacks, const fray_mem_t *mem,
                    void *user_data) {
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  if (fray_spec_validate(spec, NULL))
    return FRAY_EINVAL;
  fray_mem_t m;
  fray__mem_init(&m, mem);
  fray_framer_t *f = fray__malloc(&m, sizeof *f);
  if (!f)
    return FRAY_ENOMEM;
  (void)fray__framer_init(f, spec, callbacks, &m, user_data);
  f->embedded = 0;
  f->buf = f->inl = NULL; /* no room was allocated for one */
  f->cap = 0;
  *out = f;
  return 0;
}

void fray_framer_free(fray_framer_t *f) {
  if (!f)
    return;
  if (f->in_cb) {
    f->ctl |= CTL_FREE;
    return;
  }
  really_free(f);
}

void fray_framer_close(fray_framer_t *f) {
  if (!f)
    return;
  f->closed = 1;
  f->tiny_room = 0;
  if (f->in_cb)
    f->ctl |= CTL_CLOSE;
}

int fray_framer_set_spec(fray_framer_t *f, const fray_spec_t *spec) {
  if (!f || fray_spec_validate(spec, NULL))
    return FRAY_EINVAL;
  /* A skip in progress belongs to the old framing; the new spec starts
   * framing at the next byte. */
  apply_spec(f, spec);
  f->gen++;
  f->tiny_room = 0;
  f->scan = 0;
  f->skipping = 0;
  f->skip_left = 0;
  return 0;
}

const fray_spec_t *fray_framer_spec(const fray_framer_t *f) {
  return f ? &f->spec : NULL;
}

int fray_framer_reset(fray_framer_t *f) {
  if (!f)
    return FRAY_EINVAL;
  if (f->in_cb)
    return FRAY_ESTATE;
  f->tiny_room = 0;
  f->start = f->blen = f->scan = 0;
  f->buf_off = f->fed = 0;
  f->skipping = 0;
  f->skip_left = f->skip_seen = f->skip_off = 0;
  f->error = 0;
  f->err_off = 0;
  f->err_reason = NULL;
  f->ctl = 0;
  f->closed = f->finished = f->finishing = 0;
  return 0;
}

int fray_framer_take_buffered(fray_framer_t *f, fray_bytes_cb fn, void *user_data) {
  if (!f || !fn)
    return FRAY_EINVAL;
  int r = 0;
  if (!f->in_cb) {
    if (f->blen)
      r = fn(f->buf + f->start, f->blen, user_data);
    buffer_consume(f, f->blen);
    f->scan = 0;
    f->tiny_room = 0;
    return r < 0 ? r : 0;
  }
  /* Inside a callback: what follows the frame being delivered, first in the
   * buffer (when the frame came from there), then in the chunk. */
  uint64_t end = f->frame_end, bend = f->buf_off + f->blen;
  if (f->blen && end < bend) {
    size_t from = end > f->buf_off ? (size_t)(end - f->buf_off) : 0;
    r = fn(f->buf + f->start + from, f->blen - from, user_data);
  }
  if (f->chunk && r >= 0) {
    size_t from = end > f->chunk_off ? (size_t)(end - f->chunk_off) : 0;
    if (from < f->chunk_pos)
      from = f->chunk_pos;
    if (from < f->chunk_n)
      r = fn(f->chunk + from, f->chunk_n - from, user_data);
  }
  f->closed = 1;
  f->ctl |= CTL_CLOSE | CTL_TAKEN;
  return r < 0 ? r : 0;
}

int fray_spec_wrap(const fray_spec_t *s, size_t len, fray_frame_wrap_t *w) {
  if (!s || !w || fray_spec_validate(s, NULL) || len > spec_max(s))
    return FRAY_EINVAL;
  memset(w, 0, sizeof *w);
  switch (s->mode) {
  case FRAY_MODE_LINE:
    memcpy(w->tail, "\r\n", 2);
    w->tail_len = 2;
    return 0;
  case FRAY_MODE_DELIM:
    memcpy(w->tail, s->delim.bytes, s->delim.len);
    w->tail_len = s->delim.len;
    return 0;
  case FRAY_MODE_DELIMS:
    memcpy(w->tail, s->delims.bytes[0], s->delims.len[0]);
    w->tail_len = s->delims.len[0];
    return 0;
  case FRAY_MODE_BYTESET:
    for (unsigned b = 0; b < 256; b++)
      if ((s->byteset[b >> 3] >> (b & 7)) & 1) {
        w->tail[0] = (uint8_t)b;
        w->tail_len = 1;
        break;
      }
    return 0;
  case FRAY_MODE_COUNT:
    return len == s->count ? 0 : FRAY_EINVAL;
  case FRAY_MODE_RAW:
    return 0;
  case FRAY_MODE_LENGTH:
    return fray__wrap_length(s, len, w);
  case FRAY_MODE_TEXTLEN:
    return fray__wrap_text(s, len, w);
  }
  return FRAY_EINVAL;
}

size_t fray_framer_buffered(const fray_framer_t *f) {
  return f ? f->blen : 0;
}

uint64_t fray_framer_offset(const fray_framer_t *f) {
  return f ? f->fed : 0;
}

int fray_framer_error(const fray_framer_t *f, uint64_t *offset, const char **reason) {
  if (offset)
    *offset = f ? f->err_off : 0;
  if (reason)
    *reason = f ? f->err_reason : NULL;
  return f ? f->error : FRAY_EINVAL;
}

void *fray_framer_user_data(const fray_framer_t *f) {
  return f ? f->user_data : NULL;
}

size_t fray__framer_capacity(const fray_framer_t *f) {
  return f->cap;
}

void fray__framer_check(const fray_framer_t *f) {
  /* Broken invariants abort at once, where the corruption happened. */
  if (f->start + f->blen > f->cap || (f->blen && !f->buf))
    __builtin_trap();
  if (f->blen && f->buf_off + f->blen != f->fed)
    __builtin_trap();
  if (f->scan > f->blen && f->blen)
    __builtin_trap();
  /* Skipping keeps only where a delimiter may start: a partial one, or in
   * the set modes a whole one and a longest one's worth after it. */
  int set = f->spec.mode == FRAY_MODE_DELIMS || f->spec.mode == FRAY_MODE_BYTESET;
  if (f->skipping && f->blen >= (set ? 2 * FRAY_MAX_DELIM : FRAY_MAX_DELIM))
    __builtin_trap();
  /* Memory bounded by the maximum frame plus a constant, whatever the input. */
  if (f->cap > INITIAL_CAP && f->cap > f->cap_bound)
    __builtin_trap();
}
