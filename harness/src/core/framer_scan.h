/* Searches and header parsers of the framer's set and text modes: pure
 * functions over bytes and a spec, shared by the in-place path, the
 * buffered path and the encoder. Never installed. */
#ifndef FRAY_FRAMER_SCAN_H
#define FRAY_FRAMER_SCAN_H

#include "fray/framer.h"

#define FRAY__NONE SIZE_MAX

/* The longest delimiter a delims or byteset spec can end a frame with. */
size_t fray__set_maxlen(const fray_spec_t *s);

/* What a set mode's search looks for first: the bytes a delimiter may
 * start with, as a table, and (when they are few) as a list for a vector
 * scan. Made once per spec by fray__set_plan(). */
typedef struct fray__set_plan {
  uint8_t table[32];
  uint8_t needles[4];
  unsigned nneedles; /* how many first bytes; the list holds them if <= 4 */
  int avx2;          /* the CPU has AVX2: the scan takes 64 bytes a step */
} fray__set_plan_t;

void fray__set_plan(const fray_spec_t *s, fray__set_plan_t *pl);

/* The earliest delimiter of a delims or byteset spec that starts in
 * [from, last] and lies whole in p[0..n); at one start, the first listed
 * wins. Returns its start with *mlen set, or FRAY__NONE. A delimiter listed
 * before any whole one there that may still complete past n makes the
 * answer wait: FRAY__NONE. *resume is then the first start not yet ruled
 * out (n, or last + 1, when all are), where the next search may begin.
 * final: no byte will follow p[n-1], so nothing can complete later. */
size_t fray__set_find(const fray_spec_t *s, const fray__set_plan_t *pl, const uint8_t *p, size_t n,
                      size_t from, size_t last, int final, size_t *mlen, size_t *resume);

/* The same over the concatenation a[0..an) ++ b[0..bn), for a frame begun
 * in the framer's buffer (a) and continued in a chunk (b). from must be
 * where a search over a alone stopped (*resume), so that no start before
 * an - (longest - 1) is left to look at. Positions are into the
 * concatenation. */
size_t fray__set_find2(const fray_spec_t *s, const fray__set_plan_t *pl, const uint8_t *a,
                       size_t an, const uint8_t *b, size_t bn, size_t from, size_t last,
                       size_t *mlen, size_t *resume);

/* A text mode header at p[0..n). Returns 1 with *hdr (its bytes) and *len
 * (the payload length) set; 0 when more bytes are needed; -1 with *why set
 * when the bytes cannot be a header. */
int fray__text_header(const fray_spec_t *s, const uint8_t *p, size_t n, size_t *hdr, uint64_t *len,
                      const char **why);

/* Most bytes a text mode header can take. */
size_t fray__text_header_max(const fray_spec_t *s);

/* The header of a length-mode frame with a len-byte payload (the field
 * alone: offset 0, the whole header stripped), and of a text-mode frame and
 * its trailer, for fray_spec_wrap(). 0 or FRAY_EINVAL. */
int fray__wrap_length(const fray_spec_t *s, size_t len, fray_frame_wrap_t *w);
int fray__wrap_text(const fray_spec_t *s, size_t len, fray_frame_wrap_t *w);

#endif
