/* ref_framer.h: the oracle of fuzz_framer.c. A deliberately simple framer
 * that sees the whole stream at once and walks it with obvious code: no
 * buffer, no resumable search, no in-place/copied split. It is its own file
 * because the five modes, two overflow policies and spec switches take ~150
 * lines, which would bury the ~80-line target (STYLE.md section 7).
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
 * enough whatever the input (a bigger log is itself a bug: trap). */
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

static size_t ref_width(fray_lenfield_t fl) {
  static const size_t w[] = {1, 2, 2, 4, 4, 8, 8, 10};
  return w[fl];
}

/* First i >= from with p[i .. i+dl) == d inside p[0..n), or SIZE_MAX. */
static size_t ref_find(const uint8_t *p, size_t n, size_t from, const uint8_t *d, size_t dl) {
  for (size_t i = from; i + dl <= n; i++)
    if (!memcmp(p + i, d, dl))
      return i;
  return SIZE_MAX;
}

/* Frames the whole stream p[0..n) into l, then ends it as finish would. */
static void ref_run(sw_t *sw, const uint8_t *p, size_t n, lg_t *l) {
  size_t pos = 0;
  l->rc = 0;
  while (pos < n) {
    const fray_spec_t *s = &sw->specs[sw->cur];
    size_t max = s->max_frame ? s->max_frame : FRAY_DEFAULT_MAX_FRAME, rest = n - pos;
    const uint8_t *q = p + pos;
    int skip = s->on_overflow == FRAY_OVERFLOW_SKIP, line = s->mode == FRAY_MODE_LINE;
    if (s->mode == FRAY_MODE_RAW) {
      lg_add(l, EV_RAW, 0, 0, pos, rest, q, rest);
      return;
    }
    if (s->mode == FRAY_MODE_COUNT) {
      if (rest < s->count)
        break;
      lg_add(l, EV_FRAME, 0, 0, pos, s->count, q, s->count);
      pos += s->count;
    } else if (s->mode == FRAY_MODE_LINE || s->mode == FRAY_MODE_DELIM) {
      size_t dl = s->delim.len, last = max + (size_t)line; /* line: "\r" not counted */
      size_t at = ref_find(q, rest, 0, s->delim.bytes, dl), plen = 0;
      if (at == SIZE_MAX || at > last) {
        if (rest < last + dl)
          break; /* could still end within the limit: truncated at finish */
        at = skip ? ref_find(q, rest, last + 1, s->delim.bytes, dl) : SIZE_MAX;
        plen = max + 1; /* over the limit whatever follows */
        if (skip && at == SIZE_MAX) {
          lg_add(l, EV_ERROR, FRAY_ETOOLONG, 0, pos, rest, NULL, 0);
          l->rc = FRAY_ETRUNCATED;
          return;
        }
      }
      if (at != SIZE_MAX)
        plen = at - (line && at && q[at - 1] == '\r');
      if (plen > max && !skip) {
        lg_add(l, EV_ERROR, FRAY_ETOOLONG, 1, pos, 0, NULL, 0);
        l->rc = FRAY_ETOOLONG;
        return;
      }
      pos += at + dl;
      if (plen > max) {
        lg_add(l, EV_ERROR, FRAY_ETOOLONG, 0, pos - at - dl, plen, NULL, 0);
        continue; /* a skipped frame is not a frame: no switch */
      }
      size_t len = s->mode == FRAY_MODE_DELIM && s->delim.keep ? at + dl : plen;
      lg_add(l, EV_FRAME, 0, 0, pos - at - dl, len, q, len);
    } else { /* FRAY_MODE_LENGTH */
      size_t off = s->length.offset, w = ref_width(s->length.field), hdr = 0;
      uint64_t v = 0;
      if (s->length.field == FRAY_LEN_VARINT) {
        for (size_t i = 0;; i++) {
          if (off + i >= rest)
            goto truncated;
          if (i == 9 && q[off + i] > 1) {
            lg_add(l, EV_ERROR, FRAY_EBADLEN, 1, pos, 0, NULL, 0);
            l->rc = FRAY_EBADLEN;
            return;
          }
          v |= (uint64_t)(q[off + i] & 0x7f) << (7 * i);
          if (!(q[off + i] & 0x80)) {
            hdr = off + i + 1;
            break;
          }
        }
      } else {
        if (rest < off + w)
          break;
        int le = s->length.field == FRAY_LEN_U16LE || s->length.field == FRAY_LEN_U32LE ||
                 s->length.field == FRAY_LEN_U64LE;
        for (size_t i = 0; i < w; i++) /* most significant byte first */
          v = v << 8 | q[off + (le ? w - 1 - i : i)];
        hdr = off + w;
      }
      int64_t adj = s->length.adjust;
      uint64_t body, mag = adj < 0 ? (uint64_t)(-(adj + 1)) + 1 : (uint64_t)adj;
      int bad = 0;
      if (adj < 0 && v < mag)
        body = v, bad = 1;
      else if (adj < 0)
        body = v - mag;
      else
        body = v > UINT64_MAX - mag ? UINT64_MAX : v + mag;
      size_t strip = s->length.strip == FRAY_STRIP_HEADER ? hdr : s->length.strip;
      uint64_t total = hdr + body;
      if (bad || total < body || strip > total || (total - strip > max && !skip)) {
        lg_add(l, EV_ERROR, FRAY_EBADLEN, 1, pos, body, NULL, 0);
        l->rc = FRAY_EBADLEN;
        return;
      }
      if (total - strip > max) {
        lg_add(l, EV_ERROR, FRAY_EBADLEN, 0, pos, body, NULL, 0);
        if (rest < total) {
          l->rc = FRAY_ETRUNCATED; /* ends inside the skipped frame: no event */
          return;
        }
        pos += total;
        continue;
      }
      if (rest < total)
        break;
      lg_add(l, EV_FRAME, 0, 0, pos, total - strip, q + strip, total - strip);
      pos += total;
    }
    (void)sw_frame(sw);
  }
truncated:
  if (pos < n) {
    lg_add(l, EV_TRUNC, 0, 0, pos, n - pos, p + pos, n - pos);
    l->rc = FRAY_ETRUNCATED;
  }
}

#endif /* FRAY_REF_FRAMER_H */
