/* bench_framer: how fast fray's framer cuts lines, against references
 * measured in the same run on the same bytes:
 *
 *   - a bare memchr scan that only counts '\n' (the ceiling: no framing);
 *   - a straightforward memchr framer (memchr for '\n' in the chunk, lines
 *     that span chunks copied to a buffer): the same work done the simple way;
 *   - libevent's evbuffer_readln, driven the way libevent users frame: add
 *     each read to an evbuffer, then readln until NULL, freeing every line.
 *
 * Cases: `line` on LF lines and `delim "\r\n"` on CRLF lines, 64-byte and
 * 4 KiB lines (terminator included), fed in 64 KiB chunks and in 1-byte
 * chunks. Contenders run interleaved, R times each; the median is printed.
 * Every contender must count the same frames (the expected number is known
 * from the generated data): a disagreement is an error and exits 1, whereas
 * missed speed goals never change the exit status (shared CI machines are
 * too noisy for that). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "fray/fray.h"

#ifndef FRAY_BENCH_BUILD_TYPE
#define FRAY_BENCH_BUILD_TYPE "unknown"
#endif

#define MIB ((size_t)1 << 20)
#define KIB ((size_t)1 << 10)
#define MAX_REPS 101
#define MAX_FRAME 8192 /* room for 4 KiB lines with headroom */

/* Goals from the issue; the fray/simple one is derived (see README.md). */
#define GOAL_MEMCHR_SMALL 0.75  /* fray / memchr scan, 64-byte lines */
#define GOAL_MEMCHR_BIG 0.90    /* fray / memchr scan, 4 KiB lines */
#define GOAL_SIMPLE_SMALL 0.80  /* fray / simple framer, 64-byte lines */
#define GOAL_SIMPLE_BIG 0.90    /* fray / simple framer, 4 KiB lines */
#define GOAL_EVBUF_SMALL 4.0    /* fray / evbuffer_readln, 64-byte lines */
#define GOAL_BYTEWISE_MBS 100.0 /* fray in 1-byte chunks, MB/s */
/* 1-byte chunks, fray's throughput on 4 KiB lines over 64-byte lines, each
 * taken relative to the memchr scan of the same case (whose cost per byte
 * does not depend on the line length, so it cancels the drift of a shared
 * machine between the two cases). A linear framer scores about 1; one that
 * rescanned its buffered partial line on every feed scored 0.3 here (a
 * deliberately quadratic stub: memchr is fast enough to hide much of it). */
#define GOAL_LINEAR 0.5

enum { C_FRAY = 0, C_MEMCHR, C_SIMPLE, C_EVBUF, NCONT };

static const char *const cont_name[NCONT] = {"fray", "memchr scan", "simple memchr framer",
                                             "evbuffer_readln"};
static const char *const cont_key[NCONT] = {"fray", "memchr", "simple", "evbuffer_readln"};

/* What a contender saw. The sums make the frames observable so the compiler
 * cannot drop the work, and let framers be cross-checked byte for byte. */
typedef struct tally {
  uint64_t frames;
  uint64_t len_sum;
  uint64_t first_sum;
} tally_t;

typedef struct bench_case {
  int crlf;           /* 0: LF data, fray `line`; 1: CRLF data, `delim "\r\n"` */
  size_t line;        /* bytes per line on the wire, terminator included */
  size_t chunk;       /* bytes per feed */
  size_t bytes;       /* bytes fed (a prefix of the generated data) */
  size_t evbuf_bytes; /* evbuffer_readln may get a shorter prefix, see main */
} bench_case_t;

typedef struct case_result {
  bench_case_t c;
  double secs[NCONT];  /* median */
  size_t bytes[NCONT]; /* bytes that contender was fed */
  uint64_t frames[NCONT];
  int ran[NCONT];
} case_result_t;

typedef struct options {
  size_t big_bytes;        /* data fed in 64 KiB chunks */
  size_t byte_bytes;       /* data fed in 1-byte chunks */
  size_t evbuf_byte_bytes; /* evbuffer_readln in 1-byte chunks */
  int reps;
  int json;
  int quick;
  const char *only; /* run only cases whose key contains this */
} options_t;

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Lines of printable pseudo-random bytes (no '\r', no '\n'), each `line`
 * bytes long including its "\n" or "\r\n". Fixed seed: every run and every
 * contender sees the same bytes. */
static uint8_t *make_data(size_t bytes, size_t line, int crlf) {
  uint8_t *d = malloc(bytes);
  if (!d)
    return NULL;
  uint64_t x = 0x9e3779b97f4a7c15u;
  size_t term = crlf ? 2 : 1;
  for (size_t off = 0; off < bytes; off += line) {
    size_t body = line - term;
    for (size_t i = 0; i < body; i++) {
      if ((i & 7) == 0) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
      }
      d[off + i] = (uint8_t)(0x30 + ((x >> ((i & 7) * 8)) & 0x3f));
    }
    if (crlf)
      d[off + body] = '\r';
    d[off + line - 1] = '\n';
  }
  return d;
}

/* ---- fray ---------------------------------------------------------------- */

static int fray_on_frame(fray_framer_t *f, const fray_frame_t *fr, void *user_data) {
  (void)f;
  tally_t *t = user_data;
  t->frames++;
  t->len_sum += fr->len;
  t->first_sum += fr->len ? fr->data[0] : 0;
  return 0;
}

static int run_fray(const uint8_t *d, size_t n, const bench_case_t *c, tally_t *t) {
  fray_framer_callbacks_t cb;
  fray_framer_callbacks_init(&cb);
  cb.on_frame = fray_on_frame;
  fray_spec_t spec = c->crlf ? fray_spec_delim("\r\n", 2) : fray_spec_line();
  spec.max_frame = MAX_FRAME;
  fray_framer_t *f;
  int rc = fray_framer_new(&f, &spec, &cb, NULL, t);
  if (rc != 0) {
    fprintf(stderr, "bench_framer: fray_framer_new: %s\n", fray_strerror(rc));
    return -1;
  }
  for (size_t off = 0; off < n; off += c->chunk) {
    size_t k = n - off < c->chunk ? n - off : c->chunk;
    fray_ssize_t r = fray_framer_feed(f, d + off, k);
    if (r != (fray_ssize_t)k) {
      fprintf(stderr, "bench_framer: fray_framer_feed at %zu returned %td (%s)\n", off, r,
              r < 0 ? fray_strerror((int)r) : "short");
      fray_framer_free(f);
      return -1;
    }
  }
  rc = fray_framer_finish(f);
  fray_framer_free(f);
  if (rc != 0) {
    fprintf(stderr, "bench_framer: fray_framer_finish: %s\n", fray_strerror(rc));
    return -1;
  }
  return 0;
}

/* ---- bare memchr scan ---------------------------------------------------- */

static int run_memchr(const uint8_t *d, size_t n, const bench_case_t *c, tally_t *t) {
  uint64_t count = 0;
  for (size_t off = 0; off < n; off += c->chunk) {
    size_t k = n - off < c->chunk ? n - off : c->chunk;
    const uint8_t *p = d + off, *end = p + k, *q;
    while (p < end && (q = memchr(p, '\n', (size_t)(end - p))) != NULL) {
      count++;
      p = q + 1;
    }
  }
  t->frames = count;
  return 0;
}

/* ---- straightforward memchr framer -------------------------------------- */

/* The simple way: memchr for '\n' in the chunk; a line that lies whole in
 * the chunk is handed out in place, a line spanning chunks is collected in
 * a fixed buffer of max_frame bytes (+2 for a CR and slack). Frames go out
 * through a function pointer, as fray's do, so that the comparison is of
 * the framing and not of an inlined callback. */
static void simple_on_frame(tally_t *t, const uint8_t *p, size_t len) {
  t->frames++;
  t->len_sum += len;
  t->first_sum += len ? p[0] : 0;
}
/* volatile: the compiler must not turn the call into an inlined one. */
static void (*volatile simple_deliver)(tally_t *t, const uint8_t *p, size_t len) = simple_on_frame;

typedef struct simple {
  uint8_t *buf;
  size_t len;
  size_t cap;
  int strict; /* delim "\r\n": a '\n' without '\r' before it is data */
  tally_t *t;
} simple_t;

static int simple_append(simple_t *s, const uint8_t *p, size_t n) {
  if (n > s->cap - s->len)
    return -1; /* frame over max_frame */
  memcpy(s->buf + s->len, p, n);
  s->len += n;
  return 0;
}

static int simple_feed(simple_t *s, const uint8_t *p, size_t n) {
  const uint8_t *end = p + n;
  while (p < end) {
    const uint8_t *q = memchr(p, '\n', (size_t)(end - p));
    if (!q)
      return simple_append(s, p, (size_t)(end - p));
    size_t seg = (size_t)(q - p);
    const uint8_t *fp = p;
    size_t fl = seg;
    if (s->len) {
      if (simple_append(s, p, seg) != 0)
        return -1;
      fp = s->buf;
      fl = s->len;
    }
    if (fl && fp[fl - 1] == '\r') {
      fl--;
    } else if (s->strict) {
      /* Not a delimiter: keep the bytes up to and including this '\n'. */
      if (fp == p ? simple_append(s, p, seg + 1) : simple_append(s, q, 1))
        return -1;
      p = q + 1;
      continue;
    }
    if (fl > s->cap - 2)
      return -1;
    simple_deliver(s->t, fp, fl);
    s->len = 0;
    p = q + 1;
  }
  return 0;
}

static int run_simple(const uint8_t *d, size_t n, const bench_case_t *c, tally_t *t) {
  simple_t s = {.cap = MAX_FRAME + 2, .strict = c->crlf, .t = t};
  s.buf = malloc(s.cap);
  if (!s.buf)
    return -1;
  int rc = 0;
  for (size_t off = 0; off < n && rc == 0; off += c->chunk) {
    size_t k = n - off < c->chunk ? n - off : c->chunk;
    rc = simple_feed(&s, d + off, k);
  }
  if (rc == 0 && s.len != 0)
    rc = -1; /* a truncated last line: the data never has one */
  free(s.buf);
  if (rc != 0)
    fprintf(stderr, "bench_framer: simple framer failed\n");
  return rc;
}

/* ---- libevent evbuffer_readln ------------------------------------------- */

static enum evbuffer_eol_style evbuf_eol;

static int run_evbuf(const uint8_t *d, size_t n, const bench_case_t *c, tally_t *t) {
  struct evbuffer *b = evbuffer_new();
  if (!b)
    return -1;
  enum evbuffer_eol_style eol = c->crlf ? evbuf_eol : EVBUFFER_EOL_LF;
  int rc = 0;
  for (size_t off = 0; off < n && rc == 0; off += c->chunk) {
    size_t k = n - off < c->chunk ? n - off : c->chunk;
    if (evbuffer_add(b, d + off, k) != 0) {
      rc = -1;
      break;
    }
    /* What a bufferevent read callback does after each read. */
    char *line;
    size_t len;
    while ((line = evbuffer_readln(b, &len, eol)) != NULL) {
      t->frames++;
      t->len_sum += len;
      t->first_sum += len ? (uint8_t)line[0] : 0;
      free(line);
    }
  }
  if (rc == 0 && evbuffer_get_length(b) != 0)
    rc = -1;
  evbuffer_free(b);
  if (rc != 0)
    fprintf(stderr, "bench_framer: evbuffer_readln run failed\n");
  return rc;
}

typedef int (*run_fn)(const uint8_t *d, size_t n, const bench_case_t *c, tally_t *t);
static const run_fn cont_run[NCONT] = {run_fray, run_memchr, run_simple, run_evbuf};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Runs every contender reps times, interleaved so that a slow patch of a
 * shared machine hits all of them alike, and cross-checks their frames. */
static int run_case(const uint8_t *d, const bench_case_t *c, int reps, case_result_t *out) {
  static double t[NCONT][MAX_REPS];
  tally_t first[NCONT];
  memset(out, 0, sizeof *out);
  out->c = *c;
  for (int r = 0; r < reps; r++) {
    for (int k = 0; k < NCONT; k++) {
      size_t n = k == C_EVBUF ? c->evbuf_bytes : c->bytes;
      if (n == 0)
        continue;
      tally_t tl = {0, 0, 0};
      double t0 = now_sec();
      if (cont_run[k](d, n, c, &tl) != 0)
        return -1;
      t[k][r] = now_sec() - t0;
      uint64_t want = n / c->line;
      if (tl.frames != want) {
        fprintf(stderr, "bench_framer: %s counted %" PRIu64 " frames, expected %" PRIu64 "\n",
                cont_name[k], tl.frames, want);
        return -1;
      }
      if (r == 0)
        first[k] = tl;
      else if (memcmp(&first[k], &tl, sizeof tl) != 0) {
        fprintf(stderr, "bench_framer: %s gave different frames on repetition %d\n", cont_name[k],
                r + 1);
        return -1;
      }
      out->ran[k] = 1;
      out->bytes[k] = n;
      out->frames[k] = tl.frames;
    }
  }
  /* The framers must agree on every frame's length and first byte, not only
   * on the count (evbuffer only when it saw the same bytes). */
  for (int k = C_SIMPLE; k <= C_EVBUF; k++) {
    if (!out->ran[k] || out->bytes[k] != c->bytes)
      continue;
    if (first[k].len_sum != first[C_FRAY].len_sum ||
        first[k].first_sum != first[C_FRAY].first_sum) {
      fprintf(stderr,
              "bench_framer: fray and %s disagree on frame contents (len sum %" PRIu64
              " vs %" PRIu64 ")\n",
              cont_name[k], first[C_FRAY].len_sum, first[k].len_sum);
      return -1;
    }
  }
  for (int k = 0; k < NCONT; k++) {
    if (!out->ran[k])
      continue;
    qsort(t[k], (size_t)reps, sizeof(double), cmp_double);
    out->secs[k] = t[k][reps / 2];
  }
  return 0;
}

/* ---- reporting ----------------------------------------------------------- */

static double gbs(const case_result_t *r, int k) {
  return r->secs[k] > 0 ? (double)r->bytes[k] / r->secs[k] / 1e9 : 0;
}
static double fps(const case_result_t *r, int k) {
  return r->secs[k] > 0 ? (double)r->frames[k] / r->secs[k] : 0;
}
/* Ratio of throughputs (bytes per second), so contenders fed different
 * amounts of data still compare fairly. */
static double ratio(const case_result_t *r, int a, int b) {
  double gb = gbs(r, b);
  return gb > 0 ? gbs(r, a) / gb : 0;
}

static const char *mode_name(const bench_case_t *c) {
  return c->crlf ? "delim \"\\r\\n\"" : "line";
}
static const char *mode_key(const bench_case_t *c) {
  return c->crlf ? "delim_crlf" : "line";
}
static const char *eol_name(const bench_case_t *c) {
  if (!c->crlf)
    return "EOL_LF";
  return evbuf_eol == EVBUFFER_EOL_CRLF_STRICT ? "EOL_CRLF_STRICT" : "EOL_CRLF";
}

static void size_str(char *buf, size_t cap, size_t n) {
  if (n >= MIB && n % MIB == 0)
    snprintf(buf, cap, "%zu MiB", n / MIB);
  else if (n >= KIB && n % KIB == 0)
    snprintf(buf, cap, "%zu KiB", n / KIB);
  else
    snprintf(buf, cap, "%zu B", n);
}

typedef struct verdict {
  const char *what;
  double value;
  double goal;
  int derived;
} verdict_t;

/* Goals that apply to a case, in print order; returns how many. */
static int case_goals(const case_result_t *r, verdict_t *v) {
  int n = 0;
  int small = r->c.line < 1024;
  if (r->c.chunk == 1) {
    v[n++] = (verdict_t){"fray MB/s in 1-byte chunks", gbs(r, C_FRAY) * 1e3, GOAL_BYTEWISE_MBS, 0};
    return n;
  }
  v[n++] = (verdict_t){"fray/memchr scan", ratio(r, C_FRAY, C_MEMCHR),
                       small ? GOAL_MEMCHR_SMALL : GOAL_MEMCHR_BIG, 0};
  v[n++] = (verdict_t){"fray/simple framer", ratio(r, C_FRAY, C_SIMPLE),
                       small ? GOAL_SIMPLE_SMALL : GOAL_SIMPLE_BIG, 1};
  v[n++] = (verdict_t){"fray/evbuffer_readln", ratio(r, C_FRAY, C_EVBUF),
                       small ? GOAL_EVBUF_SMALL : 0, 0};
  return n;
}

static void print_text_case(const case_result_t *r) {
  char sz[32], ch[32], ln[32];
  size_str(sz, sizeof sz, r->c.bytes);
  size_str(ch, sizeof ch, r->c.chunk);
  size_str(ln, sizeof ln, r->c.line);
  printf("\n== %s, %s %s lines, %s chunks, %s\n", mode_name(&r->c), ln, r->c.crlf ? "CRLF" : "LF",
         ch, sz);
  printf("  %-34s %9s %12s %10s %9s\n", "contender", "GB/s", "Mframes/s", "frames", "fed");
  for (int k = 0; k < NCONT; k++) {
    char label[64];
    if (k == C_EVBUF)
      snprintf(label, sizeof label, "evbuffer_readln(%s)", eol_name(&r->c));
    else
      snprintf(label, sizeof label, "%s", cont_name[k]);
    if (!r->ran[k]) {
      printf("  %-34s %9s\n", label, "skipped");
      continue;
    }
    size_str(sz, sizeof sz, r->bytes[k]);
    printf("  %-34s %9.3f %12.2f %10" PRIu64 " %9s\n", label, gbs(r, k), fps(r, k) / 1e6,
           r->frames[k], sz);
  }
  verdict_t v[4];
  int n = case_goals(r, v);
  for (int i = 0; i < n; i++) {
    if (v[i].goal > 0)
      printf("  %-34s %9.2f   goal >= %-5.2f%s %s\n", v[i].what, v[i].value, v[i].goal,
             v[i].derived ? " (derived)" : "", v[i].value >= v[i].goal ? "PASS" : "MISS");
    else
      printf("  %-34s %9.2f   (no goal)\n", v[i].what, v[i].value);
  }
}

/* Index of the case with the same mode and line but other chunking. */
static int find_case(const case_result_t *rs, int n, int crlf, size_t line, size_t chunk) {
  for (int i = 0; i < n; i++)
    if (rs[i].c.crlf == crlf && rs[i].c.line == line && rs[i].c.chunk == chunk)
      return i;
  return -1;
}

/* See GOAL_LINEAR. */
static double linearity(const case_result_t *shortl, const case_result_t *longl) {
  double a = ratio(shortl, C_FRAY, C_MEMCHR), b = ratio(longl, C_FRAY, C_MEMCHR);
  return a > 0 ? b / a : 0;
}

static void print_text_linearity(const case_result_t *rs, int n) {
  printf("\n== linearity: fray in 1-byte chunks\n");
  printf("  %-14s %-10s %14s %14s %10s\n", "mode", "line", "1B chunks GB/s", "64K chunks GB/s",
         "1B/64K");
  for (int i = 0; i < n; i++) {
    if (rs[i].c.chunk != 1)
      continue;
    int j = find_case(rs, n, rs[i].c.crlf, rs[i].c.line, 64 * KIB);
    char ln[32];
    size_str(ln, sizeof ln, rs[i].c.line);
    double big = j >= 0 ? gbs(&rs[j], C_FRAY) : 0;
    printf("  %-14s %-10s %14.3f %14.3f %10.4f\n", mode_name(&rs[i].c), ln, gbs(&rs[i], C_FRAY),
           big, big > 0 ? gbs(&rs[i], C_FRAY) / big : 0);
  }
  for (int crlf = 0; crlf <= 1; crlf++) {
    int a = find_case(rs, n, crlf, 64, 1), b = find_case(rs, n, crlf, 4 * KIB, 1);
    if (a < 0 || b < 0)
      continue;
    double v = linearity(&rs[a], &rs[b]);
    printf("  %s, 1-byte chunks: (fray/memchr on 4 KiB lines) / (fray/memchr on 64-byte lines)"
           " %.2f   goal >= %.2f %s\n",
           mode_name(&rs[a].c), v, GOAL_LINEAR, v >= GOAL_LINEAR ? "PASS" : "MISS");
  }
}

static void print_json(const options_t *o, const case_result_t *rs, int n) {
  printf("{\n  \"benchmark\": \"framer\",\n  \"fray_version\": \"%s\",\n", fray_version());
  printf("  \"libevent_version\": \"%s\",\n  \"build_type\": \"%s\",\n", event_get_version(),
         FRAY_BENCH_BUILD_TYPE);
  printf("  \"reps\": %d,\n  \"quick\": %s,\n  \"units\": {\"gbps\": \"1e9 bytes/s\", "
         "\"fps\": \"frames/s\"},\n",
         o->reps, o->quick ? "true" : "false");
  printf("  \"cases\": [\n");
  for (int i = 0; i < n; i++) {
    const case_result_t *r = &rs[i];
    printf("    {\"mode\": \"%s\", \"line_bytes\": %zu, \"chunk_bytes\": %zu, \"bytes\": %zu, "
           "\"evbuffer_eol\": \"%s\",\n     \"contenders\": {",
           mode_key(&r->c), r->c.line, r->c.chunk, r->c.bytes, eol_name(&r->c));
    int first = 1;
    for (int k = 0; k < NCONT; k++) {
      if (!r->ran[k])
        continue;
      printf("%s\n       \"%s\": {\"bytes\": %zu, \"frames\": %" PRIu64
             ", \"median_s\": %.6f, \"gbps\": %.4f, \"fps\": %.0f}",
             first ? "" : ",", cont_key[k], r->bytes[k], r->frames[k], r->secs[k], gbs(r, k),
             fps(r, k));
      first = 0;
    }
    printf("},\n     \"goals\": [");
    verdict_t v[4];
    int m = case_goals(r, v);
    for (int j = 0; j < m; j++) {
      char goal[32] = "null";
      if (v[j].goal > 0)
        snprintf(goal, sizeof goal, "%.2f", v[j].goal);
      printf("%s{\"what\": \"%s\", \"value\": %.4f, \"goal\": %s, \"derived\": %s, "
             "\"pass\": %s}",
             j ? ", " : "", v[j].what, v[j].value, goal, v[j].derived ? "true" : "false",
             v[j].goal <= 0            ? "null"
             : v[j].value >= v[j].goal ? "true"
                                       : "false");
    }
    printf("]}%s\n", i + 1 < n ? "," : "");
  }
  printf("  ],\n  \"linearity\": [");
  int first = 1;
  for (int crlf = 0; crlf <= 1; crlf++) {
    int a = find_case(rs, n, crlf, 64, 1), b = find_case(rs, n, crlf, 4 * KIB, 1);
    if (a < 0 || b < 0)
      continue;
    double v = linearity(&rs[a], &rs[b]);
    printf("%s{\"mode\": \"%s\", \"what\": \"1-byte chunks, fray/memchr on 4 KiB lines over "
           "fray/memchr on 64-byte lines\", "
           "\"value\": %.4f, \"goal\": %.2f, \"pass\": %s}",
           first ? "" : ", ", mode_key(&rs[a].c), v, GOAL_LINEAR,
           v >= GOAL_LINEAR ? "true" : "false");
    first = 0;
  }
  printf("],\n  \"frame_counts_agree\": true\n}\n");
}

/* ---- main ---------------------------------------------------------------- */

static int case_selected(const options_t *o, int crlf, size_t line, size_t chunk) {
  if (!o->only)
    return 1;
  char key[64];
  snprintf(key, sizeof key, "%s/%zu/%zu", crlf ? "delim_crlf" : "line", line, chunk);
  return strstr(key, o->only) != NULL;
}

static void usage(FILE *out) {
  fprintf(out, "usage: bench_framer [--quick] [--reps N] [--mib N] [--byte-mib N] [--json]\n"
               "                    [--strict-crlf] [--only KEY]\n"
               "\n"
               "  --quick        CI-sized run (16 MiB / 1 MiB, 3 reps): a few seconds\n"
               "  --reps N       repetitions per contender, median reported (default 5)\n"
               "  --mib N        MiB fed in 64 KiB chunks (default 256)\n"
               "  --byte-mib N   MiB fed in 1-byte chunks (default 16)\n"
               "  --json         machine-readable output on stdout\n"
               "  --strict-crlf  evbuffer_readln with EOL_CRLF_STRICT (exactly delim \"\\r\\n\")\n"
               "                 instead of EOL_CRLF for the delim cases\n"
               "  --only KEY     run only the cases whose key MODE/LINE/CHUNK contains KEY,\n"
               "                 e.g. line/64/65536 or delim_crlf/4096/1 (for profiling)\n"
               "\n"
               "exit status: 0 ran (speed goals never fail it), 1 an error or contenders\n"
               "disagreeing on frames, 2 usage\n");
}

static int parse_size(const char *s, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v == 0 || v > 4096)
    return -1;
  *out = (size_t)v * MIB;
  return 0;
}

int main(int argc, char **argv) {
  options_t o = {.big_bytes = 256 * MIB, .byte_bytes = 16 * MIB, .reps = 5};
  int reps_set = 0, big_set = 0, byte_set = 0;
  evbuf_eol = EVBUFFER_EOL_CRLF;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--quick")) {
      o.quick = 1;
    } else if (!strcmp(a, "--json")) {
      o.json = 1;
    } else if (!strcmp(a, "--only") && i + 1 < argc) {
      o.only = argv[++i];
    } else if (!strcmp(a, "--strict-crlf")) {
      evbuf_eol = EVBUFFER_EOL_CRLF_STRICT;
    } else if (!strcmp(a, "--reps") && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 1 || v > MAX_REPS) {
        fprintf(stderr, "bench_framer: --reps wants 1..%d\n", MAX_REPS);
        return 2;
      }
      o.reps = (int)v;
      reps_set = 1;
    } else if (!strcmp(a, "--mib") && i + 1 < argc) {
      if (parse_size(argv[++i], &o.big_bytes) != 0) {
        fprintf(stderr, "bench_framer: --mib wants 1..4096\n");
        return 2;
      }
      big_set = 1;
    } else if (!strcmp(a, "--byte-mib") && i + 1 < argc) {
      if (parse_size(argv[++i], &o.byte_bytes) != 0) {
        fprintf(stderr, "bench_framer: --byte-mib wants 1..4096\n");
        return 2;
      }
      byte_set = 1;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (o.quick) {
    if (!big_set)
      o.big_bytes = 16 * MIB;
    if (!byte_set)
      o.byte_bytes = 1 * MIB;
    if (!reps_set)
      o.reps = 3;
  }
  if (o.byte_bytes > o.big_bytes)
    o.byte_bytes = o.big_bytes;
  /* evbuffer_readln searches the whole buffered line again on every call,
   * so with 1-byte reads it does work proportional to the square of the line
   * length, and it is the slowest contender by far: it gets 1/16 of the
   * 1-byte data (whole 4 KiB lines) to keep the run short. Its figures are
   * per byte, so they still compare. */
  o.evbuf_byte_bytes = o.byte_bytes / 16;

  FILE *info = o.json ? stderr : stdout;
  char big[32], small[32], evs[32];
  size_str(big, sizeof big, o.big_bytes);
  size_str(small, sizeof small, o.byte_bytes);
  size_str(evs, sizeof evs, o.evbuf_byte_bytes);
  fprintf(info, "fray framer benchmark: fray %s, libevent %s, build type %s%s\n", fray_version(),
          event_get_version(), FRAY_BENCH_BUILD_TYPE,
#ifdef FRAY_SANITIZED
          " (SANITIZED: figures are meaningless)"
#else
          ""
#endif
  );
  fprintf(info,
          "median of %d interleaved runs per contender; GB/s = 1e9 bytes/s; line sizes include "
          "the terminator\n"
          "64 KiB chunks: %s per case. 1-byte chunks: %s per case (one feed call per byte;\n"
          "  %s would take minutes), and %s for evbuffer_readln (each readln call searches the\n"
          "  whole buffered line again, so it slows down as lines get longer)\n",
          o.reps, big, small, big, evs);

  static const size_t lines[] = {64, 4 * KIB};
  static const size_t chunks[] = {64 * KIB, 1};
  case_result_t rs[8];
  int nr = 0;
  int status = 0;
  for (int crlf = 0; crlf <= 1 && status == 0; crlf++) {
    for (size_t li = 0; li < 2 && status == 0; li++) {
      if (!case_selected(&o, crlf, lines[li], chunks[0]) &&
          !case_selected(&o, crlf, lines[li], chunks[1]))
        continue;
      uint8_t *d = make_data(o.big_bytes, lines[li], crlf);
      if (!d) {
        fprintf(stderr, "bench_framer: out of memory for %s of data\n", big);
        return 1;
      }
      for (size_t ci = 0; ci < 2; ci++) {
        bench_case_t c = {.crlf = crlf, .line = lines[li], .chunk = chunks[ci]};
        c.bytes = ci == 0 ? o.big_bytes : o.byte_bytes;
        c.bytes -= c.bytes % c.line;
        c.evbuf_bytes = ci == 0 ? c.bytes : o.evbuf_byte_bytes - o.evbuf_byte_bytes % c.line;
        if (!case_selected(&o, crlf, c.line, c.chunk))
          continue;
        if (run_case(d, &c, o.reps, &rs[nr]) != 0) {
          status = 1;
          break;
        }
        if (!o.json) {
          print_text_case(&rs[nr]);
          fflush(stdout);
        }
        nr++;
      }
      free(d);
    }
  }
  if (status != 0) {
    fprintf(stderr, "bench_framer: FAILED (see above)\n");
    return status;
  }
  if (nr == 0) {
    fprintf(stderr, "bench_framer: no case matches --only %s\n", o.only);
    return 2;
  }
  if (o.json) {
    print_json(&o, rs, nr);
  } else {
    print_text_linearity(rs, nr);
    printf("\nall contenders counted the same frames in every case\n");
  }
  return 0;
}
