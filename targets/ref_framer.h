/* ref_framer.h: the oracle of fuzz_framer.c. A deliberately simple framer
 * that sees the whole stream at once and walks it with obvious code: no
 * buffer, no resumable search, no in-place/copied split, no vector scan. It
 * is its own file because the eight modes, two overflow policies and spec
 * switches take a few hundred lines, which would bury the ~80-line target
 * (STYLE.md section 7); the specs the target draws from its input
 * (ref_spec) are here too, next to the code that must know them.
 *
 * Both sides write the same event log (lg_*), so comparing the real framer
 * with the reference is one memcmp of events and one of frame bytes. The
 * switch policy (sw_*) is shared too: after switch_after[i] frames under
 * spec i (0: never) the next spec applies, as a handler switching from
 * headers to body would do from its frame callback. Raw pieces depend on
 * chunking by contract, so consecutive raw pieces are merged into one event
 * and never count towards a switch. Included by fuzz_framer.c only. */
#ifndef FRAY_REF_FRAMER_H
#define FRAY_REF_FRAMER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fray/framer.h"

enum { EV_FRAME = 1, EV_RAW, EV_ERROR, EV_TRUNC };

typedef struct ev {
  int kind, code, fatal, pad; /* pad: no padding bytes, so memcmp compares */
  uint64_t off, size;         /* size: bytes logged for frames, the error's size */
} ev_t;

typedef struct lg {
  ev_t *ev;
  size_t nev, evcap;
  uint8_t *bytes; /* frame bytes, concatenated */
  size_t nbytes, bcap;
  int rc; /* what finish (or the fatal error) returned */
} lg_t;

typedef struct sw {
  const fray_spec_t *specs;
  const uint8_t *after; /* frames before switching, per spec; 0 never */
  size_t nspecs, cur, frames;
} sw_t;

/* Capacity: every event but the last consumes at least one stream byte, and
 * frames are disjoint pieces of the stream, so n + 4 events and n bytes are
 * enough whatever the input (a bigger log is itself a bug: trap). An empty
 * frame consumes its header or delimiter, so it too takes a byte. */
static int lg_init(lg_t *l, size_t n) {
  memset(l, 0, sizeof *l);
  l->evcap = n + 4;
  l->bcap = n + 1;
  l->ev = calloc(l->evcap, sizeof *l->ev);
  l->bytes = malloc(l->bcap);
  return l->ev && l->bytes ? 0 : -1;
}

static void lg_free(lg_t *l) {
  free(l->ev);
  free(l->bytes);
}

static void lg_add(lg_t *l, int kind, int code, int fatal, uint64_t off, uint64_t size,
                   const uint8_t *p, size_t len) {
  if (l->nbytes + len > l->bcap)
    __builtin_trap();
  if (len)
    memcpy(l->bytes + l->nbytes, p, len);
  l->nbytes += len;
  if (kind == EV_RAW && l->nev && l->ev[l->nev - 1].kind == EV_RAW) {
    l->ev[l->nev - 1].size += len;
    return;
  }
  if (l->nev == l->evcap)
    __builtin_trap();
  l->ev[l->nev++] = (ev_t){kind, code, fatal, 0, off, size};
}

static int lg_equal(const lg_t *a, const lg_t *b) {
  return a->rc == b->rc && a->nev == b->nev && a->nbytes == b->nbytes &&
         !memcmp(a->ev, b->ev, a->nev * sizeof *a->ev) && !memcmp(a->bytes, b->bytes, a->nbytes);
}

/* Called after each non-raw frame: returns the next spec when it is time to
 * switch, else NULL. */
static const fray_spec_t *sw_frame(sw_t *s) {
  if (!s->after[s->cur] || ++s->frames < s->after[s->cur])
    return NULL;
  s->frames = 0;
  s->cur = (s->cur + 1) % s->nspecs;
  return &s->specs[s->cur];
}

/* ---- the specs the target draws ------------------------------------------ */

static const char *const ref_delims[8] = {"\n",        "\r\n", "\r\n\r\n", "\0",
                                          "\r\n.\r\n", "ab",   "aab",      "abab"};
static const uint8_t ref_bytes[8] = {'\n', '\r', 0, 'a', 'b', '.', ':', ','};

static size_t ref_dlen(unsigned i) {
  return i == 3 ? 1 : strlen(ref_delims[i]);
}

/* Bytes of the length field (a varint: its most). */
static size_t ref_width(const fray_spec_t *s) {
  static const size_t w[] = {1, 2, 2, 4, 4, 8, 8, 10};
  fray_lenfield_t fl = s->length.field;
  return fl == FRAY_LEN_UBE || fl == FRAY_LEN_ULE ? s->length.width : w[fl];
}

/* A spec from 8 input bytes. b[0]: mode (bits 0-2), skip (3), keep (4),
 * delimiter (5-7); b[1] and b[2] bits 0-1: max_frame - 1; b[2] bits 2-5:
 * length field; b[3]: count or length offset; b[4]: adjust; b[5]: strip
 * (0xff: the header, else up to 7 bytes into the body); b[6]: frames
 * before the switch (read by the target); b[7]: the delimiter set's other
 * members, the byte set, the text preset or the length field's width. An
 * invalid combination becomes line mode. */
static fray_spec_t ref_spec(const uint8_t *b) {
  unsigned d = b[0] >> 5, x = b[7];
  fray_spec_t s = fray_spec_delim(ref_delims[d], ref_dlen(d));
  switch (b[0] & 7) {
  case 1:
    s = fray_spec_line();
    break;
  case 2:
    s = fray_spec_count(1);
    break;
  case 3:
    s = fray_spec_length((fray_lenfield_t)((b[2] >> 2 & 15) % 10));
    s.length.width = 1 + (x & 7);
    break;
  case 4:
    s = fray_spec_raw();
    break;
  case 5: /* the delimiter of b[0], then up to two more: ties and prefixes */
    s = fray_spec_delims();
    (void)fray_spec_delims_add(&s, ref_delims[d], ref_dlen(d));
    for (unsigned i = 0; i < (x >> 6) % 3; i++)
      (void)fray_spec_delims_add(&s, ref_delims[x >> 3 * i & 7], ref_dlen(x >> 3 * i & 7));
    break;
  case 6:
    s = fray_spec_byteset(&ref_bytes[d], 1);
    for (unsigned i = 0; i < 8; i++)
      if (x >> i & 1)
        s.byteset[ref_bytes[i] >> 3] |= (uint8_t)(1u << (ref_bytes[i] & 7));
    break;
  case 7:
    s = x % 3 == 0   ? fray_spec_netstring()
        : x % 3 == 1 ? fray_spec_resp_bulk()
                     : fray_spec_http_chunk();
    break;
  }
  s.max_frame = 1 + b[1] + ((size_t)(b[2] & 3) << 8);
  s.on_overflow = b[0] >> 3 & 1 ? FRAY_OVERFLOW_SKIP : FRAY_OVERFLOW_ERROR;
  s.delim.keep = b[0] >> 4 & 1;
  s.count = 1 + b[3] % s.max_frame;
  s.length.offset = b[3] % 8;
  s.length.adjust = (int8_t)b[4];
  if (s.mode == FRAY_MODE_LENGTH && b[5] != 0xff)
    s.length.strip = b[5] % (s.length.offset + ref_width(&s) + 8);
  return fray_spec_validate(&s, NULL) ? fray_spec_line() : s;
}

/* ---- the reference ------------------------------------------------------- */

/* What a mode's step made of the stream at q[0..rest) (offset pos): a frame
 * of *used bytes (logged), a skipped frame of *used bytes (logged), the
 * rest is an unfinished frame, or the stream ends here (logged, rc set). */
enum { REF_FRAME, REF_SKIPPED, REF_TRUNC, REF_END };

static int ref_fatal(lg_t *l, int code, uint64_t pos, uint64_t size) {
  lg_add(l, EV_ERROR, code, 1, pos, size, NULL, 0);
  l->rc = code;
  return REF_END;
}

/* First i >= from with p[i .. i+dl) == d inside p[0..n), or SIZE_MAX. */
static size_t ref_find(const uint8_t *p, size_t n, size_t from, const uint8_t *d, size_t dl) {
  for (size_t i = from; i + dl <= n; i++)
    if (!memcmp(p + i, d, dl))
      return i;
  return SIZE_MAX;
}

static int ref_delim(const fray_spec_t *s, const uint8_t *q, size_t rest, uint64_t pos, lg_t *l,
                     size_t *used) {
  size_t max = s->max_frame, dl = s->delim.len;
  int skip = s->on_overflow == FRAY_OVERFLOW_SKIP, line = s->mode == FRAY_MODE_LINE;
  size_t last = max + (size_t)line; /* line: "\r" not counted */
  size_t at = ref_find(q, rest, 0, s->delim.bytes, dl), plen = 0;
  if (at == SIZE_MAX || at > last) {
    if (rest < last + dl)
      return REF_TRUNC; /* could still end within the limit: truncated at finish */
    at = skip ? ref_find(q, rest, last + 1, s->delim.bytes, dl) : SIZE_MAX;
    plen = max + 1; /* over the limit whatever follows */
    if (skip && at == SIZE_MAX) {
      lg_add(l, EV_ERROR, FRAY_ETOOLONG, 0, pos, rest, NULL, 0);
      l->rc = FRAY_ETRUNCATED;
      return REF_END;
    }
  }
  if (at != SIZE_MAX)
    plen = at - (line && at && q[at - 1] == '\r');
  if (plen > max && !skip)
    return ref_fatal(l, FRAY_ETOOLONG, pos, 0);
  *used = at + dl;
  if (plen > max) {
    lg_add(l, EV_ERROR, FRAY_ETOOLONG, 0, pos, plen, NULL, 0);
    return REF_SKIPPED; /* a skipped frame is not a frame: no switch */
  }
  size_t len = s->mode == FRAY_MODE_DELIM && s->delim.keep ? at + dl : plen;
  lg_add(l, EV_FRAME, 0, 0, pos, len, q, len);
  return REF_FRAME;
}

/* Delims and byteset modes: the earliest start where a delimiter lies
 * whole, and there the first of the list (*ml its length). */
static size_t ref_set_find(const fray_spec_t *s, const uint8_t *q, size_t rest, size_t *ml) {
  for (size_t i = 0; i < rest; i++) {
    if (s->mode == FRAY_MODE_BYTESET && (s->byteset[q[i] >> 3] >> (q[i] & 7) & 1)) {
      *ml = 1;
      return i;
    }
    for (size_t k = 0; s->mode == FRAY_MODE_DELIMS && k < s->delims.n; k++)
      if (i + s->delims.len[k] <= rest && !memcmp(q + i, s->delims.bytes[k], s->delims.len[k])) {
        *ml = s->delims.len[k];
        return i;
      }
  }
  return SIZE_MAX;
}

static int ref_set(const fray_spec_t *s, const uint8_t *q, size_t rest, uint64_t pos, lg_t *l,
                   size_t *used) {
  size_t ml = 0, at = ref_set_find(s, q, rest, &ml), max = s->max_frame;
  if (at == SIZE_MAX && rest <= max)
    return REF_TRUNC;
  if (at == SIZE_MAX || at > max) {
    if (s->on_overflow == FRAY_OVERFLOW_ERROR)
      return ref_fatal(l, FRAY_ETOOLONG, pos, 0);
    lg_add(l, EV_ERROR, FRAY_ETOOLONG, 0, pos, at == SIZE_MAX ? rest : at, NULL, 0);
    if (at == SIZE_MAX) {
      l->rc = FRAY_ETRUNCATED;
      return REF_END;
    }
    *used = at + ml;
    return REF_SKIPPED;
  }
  size_t len = s->delim.keep ? at + ml : at;
  lg_add(l, EV_FRAME, 0, 0, pos, len, q, len);
  *used = at + ml;
  return REF_FRAME;
}

/* A counted frame's end (length and text modes): hdr header bytes, body
 * bytes, trail bytes after them, emitted from strip on; over max it is
 * skipped or fatal as the policy says. */
static int ref_counted(const fray_spec_t *s, const uint8_t *q, size_t rest, uint64_t pos, lg_t *l,
                       size_t *used, uint64_t hdr, uint64_t body, uint64_t trail, uint64_t strip) {
  uint64_t total = hdr + body + trail;
  if (total < body || total - trail - strip > s->max_frame) {
    if (s->on_overflow == FRAY_OVERFLOW_ERROR || total < body)
      return ref_fatal(l, FRAY_EBADLEN, pos, body);
    lg_add(l, EV_ERROR, FRAY_EBADLEN, 0, pos, body, NULL, 0);
    if (rest < total) {
      l->rc = FRAY_ETRUNCATED; /* ends inside the skipped frame: no event */
      return REF_END;
    }
    *used = (size_t)total;
    return REF_SKIPPED;
  }
  /* The trailer is checked as far as it has come (a wrong byte is fatal at
   * once), then the frame must be whole. */
  uint64_t have = rest > hdr + body ? rest - hdr - body : 0;
  if (have && memcmp(q + hdr + body, s->text.trailer, (size_t)(have < trail ? have : trail)))
    return ref_fatal(l, FRAY_EBADLEN, pos, body);
  if (rest < total)
    return REF_TRUNC;
  lg_add(l, EV_FRAME, 0, 0, pos, total - trail - strip, q + strip, (size_t)(total - trail - strip));
  *used = (size_t)total;
  return REF_FRAME;
}

static int ref_length(const fray_spec_t *s, const uint8_t *q, size_t rest, uint64_t pos, lg_t *l,
                      size_t *used) {
  size_t off = s->length.offset, w = ref_width(s), hdr = 0;
  fray_lenfield_t fl = s->length.field;
  uint64_t v = 0;
  if (fl == FRAY_LEN_VARINT) {
    for (size_t i = 0; !hdr; i++) {
      if (off + i >= rest)
        return REF_TRUNC;
      if (i == 9 && q[off + i] > 1)
        return ref_fatal(l, FRAY_EBADLEN, pos, 0);
      v |= (uint64_t)(q[off + i] & 0x7f) << (7 * i);
      hdr = q[off + i] & 0x80 ? 0 : off + i + 1;
    }
  } else {
    if (rest < off + w)
      return REF_TRUNC;
    int le =
        fl == FRAY_LEN_U16LE || fl == FRAY_LEN_U32LE || fl == FRAY_LEN_U64LE || fl == FRAY_LEN_ULE;
    for (size_t i = 0; i < w; i++) /* most significant byte first */
      v = v << 8 | q[off + (le ? w - 1 - i : i)];
    hdr = off + w;
  }
  int64_t adj = s->length.adjust;
  uint64_t body, mag = adj < 0 ? (uint64_t)(-(adj + 1)) + 1 : (uint64_t)adj;
  if (adj < 0 && v < mag)
    return ref_fatal(l, FRAY_EBADLEN, pos, v);
  body = adj < 0 ? v - mag : v > UINT64_MAX - mag ? UINT64_MAX : v + mag;
  size_t strip = s->length.strip == FRAY_STRIP_HEADER ? hdr : s->length.strip;
  if (hdr + body >= body && strip > hdr + body)
    return ref_fatal(l, FRAY_EBADLEN, pos, body);
  return ref_counted(s, q, rest, pos, l, used, hdr, body, 0, hdr + body < body ? 0 : strip);
}

/* A text length header at q[0..rest): 1 with *hdr and *v, 0 when the stream
 * ends inside it, -1 when it is malformed. */
static int ref_text_header(const fray_spec_t *s, const uint8_t *q, size_t rest, size_t *hdr,
                           uint64_t *v) {
  unsigned base = s->text.base;
  size_t i = 0, nd = 0;
  for (; i < s->text.prefix_len; i++)
    if (i == rest || q[i] != s->text.prefix[i])
      return i == rest ? 0 : -1;
  for (*v = 0; i < rest; i++, nd++) {
    uint8_t c = q[i], lc = (uint8_t)(c | 0x20);
    int dg = c >= '0' && c <= '9'                   ? c - '0'
             : base == 16 && lc >= 'a' && lc <= 'f' ? lc - 'a' + 10
                                                    : -1;
    if (dg < 0)
      break;
    if (nd == (base == 16 ? 16u : 20u) || *v > (UINT64_MAX - 15) / base)
      return -1;
    *v = *v * base + (uint64_t)dg;
  }
  if (i == rest)
    return 0;
  if (!nd)
    return -1;
  if (s->text.ext && q[i] == s->text.ext) {
    size_t lim = i + FRAY_MAX_TEXT_EXT;
    while (i < rest && i < lim && q[i] != s->text.term[0])
      i++;
    if (i == lim || i == rest)
      return i == lim ? -1 : 0;
  }
  for (size_t k = 0; k < s->text.term_len; k++, i++)
    if (i == rest || q[i] != s->text.term[k])
      return i == rest ? 0 : -1;
  *hdr = i;
  return 1;
}

static int ref_text(const fray_spec_t *s, const uint8_t *q, size_t rest, uint64_t pos, lg_t *l,
                    size_t *used) {
  size_t hdr = 0;
  uint64_t v = 0;
  int h = ref_text_header(s, q, rest, &hdr, &v);
  if (h <= 0)
    return h ? ref_fatal(l, FRAY_EBADLEN, pos, 0) : REF_TRUNC;
  size_t tl = v == 0 && s->text.zero_no_trailer ? 0 : s->text.trailer_len;
  return ref_counted(s, q, rest, pos, l, used, hdr, v, tl, hdr);
}

/* Frames the whole stream p[0..n) into l, then ends it as finish would. */
static void ref_run(sw_t *sw, const uint8_t *p, size_t n, lg_t *l) {
  size_t pos = 0;
  l->rc = 0;
  while (pos < n) {
    fray_spec_t s = sw->specs[sw->cur];
    const uint8_t *q = p + pos;
    size_t rest = n - pos, used = 0;
    int r = REF_TRUNC;
    s.max_frame = s.max_frame ? s.max_frame : FRAY_DEFAULT_MAX_FRAME;
    if (s.mode == FRAY_MODE_RAW) {
      lg_add(l, EV_RAW, 0, 0, pos, rest, q, rest);
      return;
    }
    if (s.mode == FRAY_MODE_COUNT && rest >= s.count) {
      lg_add(l, EV_FRAME, 0, 0, pos, s.count, q, s.count);
      used = s.count;
      r = REF_FRAME;
    } else if (s.mode == FRAY_MODE_LINE || s.mode == FRAY_MODE_DELIM) {
      r = ref_delim(&s, q, rest, pos, l, &used);
    } else if (s.mode == FRAY_MODE_DELIMS || s.mode == FRAY_MODE_BYTESET) {
      r = ref_set(&s, q, rest, pos, l, &used);
    } else if (s.mode == FRAY_MODE_LENGTH) {
      r = ref_length(&s, q, rest, pos, l, &used);
    } else if (s.mode == FRAY_MODE_TEXTLEN) {
      r = ref_text(&s, q, rest, pos, l, &used);
    }
    if (r == REF_END)
      return;
    if (r == REF_TRUNC)
      break;
    pos += used;
    if (r == REF_FRAME)
      (void)sw_frame(sw);
  }
  if (pos < n) {
    lg_add(l, EV_TRUNC, 0, 0, pos, n - pos, p + pos, n - pos);
    l->rc = FRAY_ETRUNCATED;
  }
}

#endif /* FRAY_REF_FRAMER_H */
