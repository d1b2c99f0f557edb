/* fuzz_framer: the framing engine against the reference in ref_framer.h.
 * Input: 1 flag byte (specs in play, pause period), 4 specs of 8 bytes
 * (ref_spec() reads them: every mode), 4 chunk sizes, then the stream. The same stream is framed
 * whole and in the chunk pattern; both must log exactly what the reference logs (frames, errors,
 * truncation, final code), and after every feed the framer's invariants and memory bound must hold.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/framer_internal.h"
#include "ref_framer.h"

#define HDR 37

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
  lg_t lg;
  sw_t sw;
  unsigned pause, frames; /* return FRAY_PAUSE every `pause` frames (0: never) */
  int paused;
  size_t bound; /* largest fray_spec_buffer_bound() of the specs in play */
} run_t;

static int on_frame(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  run_t *r = ud;
  const fray_spec_t *s = fray_framer_spec(f), *next;
  if (s->mode == FRAY_MODE_RAW && (fr->len == 0 || fr->len > s->max_frame))
    __builtin_trap();
  lg_add(&r->lg, s->mode == FRAY_MODE_RAW ? EV_RAW : EV_FRAME, 0, 0, fr->offset, fr->len, fr->data,
         fr->len);
  if (s->mode != FRAY_MODE_RAW && (next = sw_frame(&r->sw)) && fray_framer_set_spec(f, next))
    __builtin_trap();
  r->paused = r->pause && ++r->frames % r->pause == 0;
  return r->paused ? FRAY_PAUSE : 0;
}

static int on_error(fray_framer_t *f, const fray_frame_error_t *e, void *ud) {
  run_t *r = ud;
  /* A stopped delimited frame's size is what was seen when the limit was
   * passed, which depends on chunking: only "more than max" is checked. */
  int chunky = e->fatal && e->code == FRAY_ETOOLONG;
  if (chunky && e->size <= fray_framer_spec(f)->max_frame)
    __builtin_trap();
  lg_add(&r->lg, EV_ERROR, e->code, e->fatal, e->offset, chunky ? 0 : e->size, NULL, 0);
  return 0;
}

static int on_trunc(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  (void)f;
  lg_add(&((run_t *)ud)->lg, EV_TRUNC, 0, 0, fr->offset, fr->len, fr->data, fr->len);
  return 0;
}

/* Feeds p[0..n) in pieces of chunks[i % 4] bytes (n when chunks is NULL). */
static void drive(run_t *r, const uint8_t *p, size_t n, const uint8_t *chunks) {
  fray_framer_callbacks_t cb;
  fray_framer_t *f;
  fray_framer_callbacks_init(&cb);
  cb.on_frame = on_frame, cb.on_error = on_error, cb.on_truncated = on_trunc;
  if (fray_framer_new(&f, &r->sw.specs[0], &cb, NULL, r))
    __builtin_trap();
  fray_ssize_t got = 0;
  for (size_t pos = 0, i = 0; pos < n && got >= 0; i++) {
    size_t len = chunks ? 1 + (size_t)chunks[i % 4] : n;
    len = len < n - pos ? len : n - pos;
    for (size_t done = 0; done < len && got >= 0; done += (size_t)got) {
      r->paused = 0;
      got = fray_framer_feed(f, p + pos + done, len - done);
      if (got >= 0 && ((size_t)got > len - done || (done + (size_t)got < len && !r->paused)))
        __builtin_trap(); /* consumed less than offered without a pause */
      fray__framer_check(f);
      /* A paused framer keeps bytes it took under an earlier spec, which a
       * callback may have switched to a smaller one (count 1 after a line):
       * they are bounded by the largest spec in use, not the current one. */
      size_t held = r->paused ? r->bound : fray_spec_buffer_bound(fray_framer_spec(f));
      if (fray_framer_buffered(f) > held || fray__framer_capacity(f) > r->bound)
        __builtin_trap();
    }
    pos += len;
  }
  do
    r->paused = 0, r->lg.rc = fray_framer_finish(f);
  while (r->lg.rc == 0 && r->paused);
  fray_framer_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t h[HDR] = {0};
  fray_spec_t specs[4];
  uint8_t after[4];
  run_t whole = {0}, chunked = {0}, ref = {0};
  if (size > HDR + 8192)
    return 0; /* long inputs teach nothing a short one does not */
  memcpy(h, data, size < HDR ? size : HDR);
  const uint8_t *p = data + (size < HDR ? size : HDR);
  size_t n = size - (size_t)(p - data), bound = 0;
  for (int i = 0; i < 4; i++) {
    specs[i] = ref_spec(h + 1 + 8 * i);
    after[i] = h[7 + 8 * i] % 8;
    size_t b = fray_spec_buffer_bound(&specs[i]);
    bound = b > bound ? b : bound;
  }
  run_t *runs[3] = {&whole, &chunked, &ref};
  for (int i = 0; i < 3; i++) {
    *runs[i] = (run_t){.sw = {specs, after, 1 + (h[0] & 3), 0, 0}, .bound = bound};
    runs[i]->pause = i == 1 ? h[0] >> 2 & 7 : 0;
    if (lg_init(&runs[i]->lg, n))
      goto done;
  }
  drive(&whole, p, n, NULL);
  drive(&chunked, p, n, h + HDR - 4);
  ref_run(&ref.sw, p, n, &ref.lg);
  if (!lg_equal(&whole.lg, &ref.lg) || !lg_equal(&chunked.lg, &ref.lg))
    __builtin_trap();
done:
  for (int i = 0; i < 3; i++)
    lg_free(&runs[i]->lg);
  return 0;
}
