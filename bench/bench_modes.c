/* bench_modes: the framer's newer modes (delimiter sets, byte sets, text
 * lengths, odd-width length fields) against the mode each one extends,
 * measured in the same run on the same payloads:
 *
 *   - a delimiter set against the single delimiter it ends frames with, on
 *     the same bytes (what choosing among several costs);
 *   - a byte set against the single-byte delimiter, on the same bytes;
 *   - text lengths and a 24-bit length field against `length u32be` on a
 *     stream of the same payloads (what parsing digits costs over reading a
 *     binary field);
 *   - every mode against `count` on its own stream: the same bytes cut with
 *     no scan at all, the ceiling.
 *
 * Each stream is about 1 MiB of frames built with fray_spec_wrap() (so it
 * stays in the cache and the figures are the framer's, not the memory's),
 * fed in 64 KiB reads PASSES times; contenders run interleaved, R times; the
 * median is printed. Goal: >= 0.8x of the extended mode. Every contender
 * must deliver the expected frames and payload bytes or the program exits
 * 1; a missed goal never changes the exit status (shared machines are
 * noisy). --quick: fewer passes and repetitions, for ctest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fray/framer.h"

#define CHUNK ((size_t)64 << 10)
#define STREAM ((size_t)1 << 20)
#define MAX_REPS 31
#define GOAL 0.80

typedef struct tally {
  size_t frames, bytes;
  unsigned sum; /* a byte of each frame, so the callback does real work */
} tally_t;

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int on_frame(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  (void)f;
  tally_t *t = ud;
  t->frames++;
  t->bytes += fr->len;
  if (fr->len)
    t->sum += fr->data[fr->len / 2];
  return 0;
}

/* Frames d[0..n) in CHUNK reads; seconds taken, or -1 on a framing error. */
static double frame_stream(const fray_spec_t *sp, const uint8_t *d, size_t n, int passes,
                           tally_t *t) {
  fray_framer_callbacks_t cb;
  fray_framer_callbacks_init(&cb);
  cb.on_frame = on_frame;
  fray_framer_t *f;
  memset(t, 0, sizeof *t);
  if (fray_framer_new(&f, sp, &cb, NULL, t))
    return -1;
  double t0 = now_sec();
  for (int k = 0; k < passes; k++)
    for (size_t pos = 0; pos < n; pos += CHUNK) {
      size_t len = n - pos < CHUNK ? n - pos : CHUNK;
      if (fray_framer_feed(f, d + pos, len) != (fray_ssize_t)len) {
        fray_framer_free(f);
        return -1;
      }
    }
  int rc = fray_framer_finish(f);
  double dt = now_sec() - t0;
  fray_framer_free(f);
  return rc ? -1 : dt;
}

/* A stream of nframes frames of plen-byte payloads under sp; *wire is one
 * frame's length on the wire. Payload bytes are letters, so no delimiter of
 * the cases below occurs inside them. */
static uint8_t *make_stream(const fray_spec_t *sp, size_t plen, size_t nframes, size_t *n,
                            size_t *wire) {
  fray_frame_wrap_t w;
  if (fray_spec_wrap(sp, plen, &w))
    return NULL;
  *wire = w.head_len + plen + w.tail_len;
  uint8_t *d = malloc(*wire * nframes), *q = d;
  if (!d)
    return NULL;
  for (size_t i = 0; i < nframes; i++) {
    memcpy(q, w.head, w.head_len);
    q += w.head_len;
    for (size_t k = 0; k < plen; k++)
      *q++ = (uint8_t)('a' + (i + k) % 26);
    memcpy(q, w.tail, w.tail_len);
    q += w.tail_len;
  }
  *n = *wire * nframes;
  return d;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct mode_case {
  const char *name;
  fray_spec_t spec;
  const char *ref_name;
  fray_spec_t ref;  /* the mode it extends */
  int ref_own_data; /* the reference frames a stream of its own */
} mode_case_t;

typedef struct contender {
  const fray_spec_t *spec;
  const uint8_t *d;
  size_t n;
  double t[MAX_REPS];
} contender_t;

/* Runs one mode at one payload size; prints a line; 0, or 1 when a
 * contender framed its stream wrong. */
static int run_case(const mode_case_t *mc, size_t plen, int passes, int reps) {
  size_t nframes = STREAM / (plen + 8), n, wire, rn = 0, rwire;
  uint8_t *d = make_stream(&mc->spec, plen, nframes, &n, &wire), *rd = NULL;
  if (d && mc->ref_own_data)
    rd = make_stream(&mc->ref, plen, nframes, &rn, &rwire);
  if (!d || (mc->ref_own_data && !rd)) {
    fprintf(stderr, "bench_modes: %s: cannot build the stream\n", mc->name);
    free(d);
    return 1;
  }
  fray_spec_t count_spec = fray_spec_count(wire);
  count_spec.max_frame = wire;
  contender_t c[3] = {
      {&mc->spec, d, n, {0}}, {&mc->ref, rd ? rd : d, rd ? rn : n, {0}}, {&count_spec, d, n, {0}}};
  int bad = 0;
  for (int r = 0; r < reps && !bad; r++)
    for (int k = 0; k < 3 && !bad; k++) {
      tally_t ta;
      c[k].t[r] = frame_stream(c[k].spec, c[k].d, c[k].n, passes, &ta);
      size_t want = nframes * (size_t)passes;
      bad = c[k].t[r] < 0 || ta.frames != want || (k < 2 && ta.bytes != want * plen);
    }
  free(d);
  free(rd);
  if (bad) {
    fprintf(stderr, "bench_modes: %s: a contender framed the stream wrong\n", mc->name);
    return 1;
  }
  for (int k = 0; k < 3; k++)
    qsort(c[k].t, (size_t)reps, sizeof c[k].t[0], cmp_double);
  double m = c[0].t[reps / 2], vs_ref = c[1].t[reps / 2] / m, vs_count = c[2].t[reps / 2] / m;
  printf("  %-18s %5zu B %8.2f Mframes/s %6.2f GB/s   vs %-16s %5.2f %s   vs count %5.2f\n",
         mc->name, plen, (double)nframes * passes / m / 1e6, (double)n * passes / m / 1e9,
         mc->ref_name, vs_ref, vs_ref >= GOAL ? "PASS" : "MISS", vs_count);
  return 0;
}

int main(int argc, char **argv) {
  int quick = argc > 1 && !strcmp(argv[1], "--quick");
  if (argc > 1 && !quick) {
    fprintf(stderr, "usage: bench_modes [--quick]\n");
    return 2;
  }
  int passes = quick ? 4 : 64, reps = quick ? 3 : 9;
  fray_spec_t delims = fray_spec_delims();
  fray_spec_delims_add(&delims, "\r\n", 2);
  fray_spec_delims_add(&delims, "\n\n", 2);
  fray_spec_t rare_first = fray_spec_delims();
  fray_spec_delims_add(&rare_first, "\r\n.\r\n", 5);
  fray_spec_delims_add(&rare_first, "\n", 1);
  fray_spec_t u32 = fray_spec_length(FRAY_LEN_U32BE);
  const mode_case_t cases[] = {
      {"length 24-bit be", fray_spec_length_uint(3, 0), "length u32be", u32, 1},
      {"delims \\r\\n|\\n\\n", delims, "delim \\r\\n", fray_spec_delim("\r\n", 2), 0},
      {"delims rare first", rare_first, "delim \\r\\n.\\r\\n", fray_spec_delim("\r\n.\r\n", 5), 0},
      {"byteset ;|\\n", fray_spec_byteset(";\n", 2), "delim \\n", fray_spec_delim("\n", 1), 0},
      {"netstring", fray_spec_netstring(), "length u32be", u32, 1},
      {"resp bulk", fray_spec_resp_bulk(), "length u32be", u32, 1},
      {"http chunk", fray_spec_http_chunk(), "length u32be", u32, 1},
  };
  const size_t sizes[] = {64, 1024};
  printf("bench_modes: %zu KiB streams x %d passes in %zu KiB reads, median of %d; goal: >= "
         "%.2fx of the mode extended\n",
         STREAM >> 10, passes, CHUNK >> 10, reps, GOAL);
  int rc = 0;
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
      rc |= run_case(&cases[i], sizes[s], passes, reps);
  return rc;
}
