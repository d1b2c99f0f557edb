/* Framer tests: golden traces, split invariance over every 1- and 2-cut
 * split, a differential check against a deliberately naive whole-input
 * reference, spec switches from callbacks, overflow policies, lifecycle from
 * inside callbacks, memory bounds and a failing-allocation loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fray/framer.h"
#include "core/framer_internal.h"

/* ---- trace recording ------------------------------------------------- */

typedef struct trace {
  char *s;
  size_t len, cap;
  int frames, errors, truncs;
  int fatal_sizes; /* include sizes of fatal errors (they depend on chunking) */
} trace_t;

__attribute__((format(printf, 2, 3))) static void tr_printf(trace_t *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (t->s && (size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    t->cap = (t->cap + (size_t)n + 1) * 2;
    t->s = realloc(t->s, t->cap);
    assert_non_null(t->s);
    if (t->len == 0)
      t->s[0] = 0;
  }
}

static void tr_bytes(trace_t *t, const uint8_t *p, size_t n) {
  tr_printf(t, "\"");
  for (size_t i = 0; i < n; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
      tr_printf(t, "%c", p[i]);
    else
      tr_printf(t, "\\x%02x", p[i]);
  }
  tr_printf(t, "\"");
}

static void tr_free(trace_t *t) {
  free(t->s);
  memset(t, 0, sizeof *t);
}

static const char *tr_str(trace_t *t) {
  if (!t->s)
    tr_printf(t, "%s", "");
  return t->s;
}

static int on_frame(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  trace_t *t = ud;
  (void)f;
  t->frames++;
  tr_printf(t, "off=%llu frame len=%zu ", (unsigned long long)fr->offset, fr->len);
  tr_bytes(t, fr->data, fr->len);
  tr_printf(t, "\n");
  return 0;
}

static int on_error(fray_framer_t *f, const fray_frame_error_t *e, void *ud) {
  trace_t *t = ud;
  (void)f;
  t->errors++;
  if (e->fatal && !t->fatal_sizes)
    tr_printf(t, "off=%llu error %s fatal\n", (unsigned long long)e->offset,
              fray_err_name(e->code));
  else
    tr_printf(t, "off=%llu error %s size=%llu%s\n", (unsigned long long)e->offset,
              fray_err_name(e->code), (unsigned long long)e->size, e->fatal ? " fatal" : "");
  return 0;
}

static int on_trunc(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  trace_t *t = ud;
  (void)f;
  t->truncs++;
  tr_printf(t, "off=%llu truncated len=%zu ", (unsigned long long)fr->offset, fr->len);
  tr_bytes(t, fr->data, fr->len);
  tr_printf(t, "\n");
  return 0;
}

static fray_framer_callbacks_t trace_callbacks(void) {
  fray_framer_callbacks_t cb;
  fray_framer_callbacks_init(&cb);
  cb.on_frame = on_frame;
  cb.on_error = on_error;
  cb.on_truncated = on_trunc;
  return cb;
}

/* Feeds data cut at the given positions (sorted, may repeat), then
 * finishes; the trace ends with the results of feed and finish. */
static void run_cuts(const fray_spec_t *spec, const uint8_t *data, size_t n, const size_t *cuts,
                     size_t ncuts, trace_t *t) {
  fray_framer_callbacks_t cb = trace_callbacks();
  fray_framer_t *f;
  assert_int_equal(fray_framer_new(&f, spec, &cb, NULL, t), 0);
  size_t prev = 0;
  int rc = 0;
  for (size_t i = 0; i <= ncuts && rc >= 0; i++) {
    size_t end = i < ncuts ? cuts[i] : n;
    /* Copy each chunk to an exact-size allocation so ASan sees over-reads. */
    size_t len = end - prev;
    uint8_t *chunk = malloc(len ? len : 1);
    memcpy(chunk, data + prev, len);
    fray_ssize_t r = fray_framer_feed(f, chunk, len);
    free(chunk);
    fray__framer_check(f);
    assert_true(fray__framer_capacity(f) <= fray_spec_buffer_bound(spec) ||
                fray__framer_capacity(f) <= 256);
    if (r < 0)
      rc = (int)r;
    else
      assert_int_equal((size_t)r, len);
    prev = end;
  }
  if (rc >= 0)
    rc = fray_framer_finish(f);
  tr_printf(t, "end %s\n", rc < 0 ? fray_err_name(rc) : "OK");
  fray_framer_free(f);
}

static void run_whole(const fray_spec_t *spec, const uint8_t *data, size_t n, trace_t *t) {
  run_cuts(spec, data, n, NULL, 0, t);
}

/* Every 1- and 2-cut split (and bytewise) gives the whole-feed trace. */
static void check_split_invariance(const fray_spec_t *spec, const uint8_t *data, size_t n) {
  trace_t whole = {0}, t = {0};
  run_whole(spec, data, n, &whole);
  size_t cuts[2];
  for (size_t a = 0; a <= n; a++) {
    for (size_t b = a; b <= n; b++) {
      cuts[0] = a;
      cuts[1] = b;
      run_cuts(spec, data, n, cuts, 2, &t);
      if (strcmp(tr_str(&whole), tr_str(&t))) {
        print_error("cuts %zu,%zu\nwhole:\n%s\nsplit:\n%s\n", a, b, tr_str(&whole), tr_str(&t));
        fail();
      }
      tr_free(&t);
    }
  }
  size_t *all = malloc((n + 1) * sizeof *all);
  for (size_t i = 0; i < n; i++)
    all[i] = i + 1;
  run_cuts(spec, data, n, all, n, &t);
  assert_string_equal(tr_str(&whole), tr_str(&t));
  free(all);
  tr_free(&t);
  tr_free(&whole);
}

/* ---- golden cases ------------------------------------------------------ */

typedef struct golden {
  const char *label;
  fray_spec_t spec;
  const char *input;
  size_t len; /* 0: strlen(input) */
  const char *trace;
} golden_t;

static fray_spec_t with_max(fray_spec_t s, size_t max, fray_overflow_t ov) {
  s.max_frame = max;
  s.on_overflow = ov;
  return s;
}

static fray_spec_t keep_delim(fray_spec_t s) {
  s.delim.keep = 1;
  return s;
}

static fray_spec_t lenspec(fray_lenfield_t fld, size_t off, int64_t adj, size_t strip, size_t max,
                           fray_overflow_t ov) {
  fray_spec_t s = fray_spec_length(fld);
  s.length.offset = off;
  s.length.adjust = adj;
  s.length.strip = strip;
  s.max_frame = max;
  s.on_overflow = ov;
  return s;
}

static fray_spec_t uintspec(size_t width, int le, size_t off, int64_t adj, size_t strip) {
  fray_spec_t s = fray_spec_length_uint(width, le);
  s.length.offset = off;
  s.length.adjust = adj;
  s.length.strip = strip;
  return s;
}

static fray_spec_t delims2(const char *a, const char *b, int keep) {
  fray_spec_t s = fray_spec_delims();
  assert_int_equal(fray_spec_delims_add(&s, a, strlen(a)), 0);
  assert_int_equal(fray_spec_delims_add(&s, b, strlen(b)), 0);
  s.delim.keep = keep;
  return s;
}

#define SK FRAY_OVERFLOW_SKIP
#define ER FRAY_OVERFLOW_ERROR
#define HDR FRAY_STRIP_HEADER

static void test_golden_table(void **state) {
  (void)state;
  const golden_t cases[] = {
      {"line basic", fray_spec_line(), "a\nbc\r\n\n", 0,
       "off=0 frame len=1 \"a\"\noff=2 frame len=2 \"bc\"\noff=6 frame len=0 \"\"\nend OK\n"},
      {"line only one cr stripped", fray_spec_line(), "a\r\r\n", 0,
       "off=0 frame len=2 \"a\\x0d\"\nend OK\n"},
      {"line truncated", fray_spec_line(), "ab\ncd", 0,
       "off=0 frame len=2 \"ab\"\noff=3 truncated len=2 \"cd\"\nend ETRUNCATED\n"},
      {"crlf delim", fray_spec_delim("\r\n", 2), "x\r\ny\rz\r\n", 0,
       "off=0 frame len=1 \"x\"\noff=3 frame len=3 \"y\\x0dz\"\nend OK\n"},
      {"keep delim", keep_delim(fray_spec_delim("\r\n", 2)), "x\r\n", 0,
       "off=0 frame len=3 \"x\\x0d\\x0a\"\nend OK\n"},
      {"overlap aab in aaab", fray_spec_delim("aab", 3), "aaabaab", 0,
       "off=0 frame len=1 \"a\"\noff=4 frame len=0 \"\"\nend OK\n"},
      {"overlap abab in ababab", fray_spec_delim("abab", 4), "ababab", 0,
       "off=0 frame len=0 \"\"\noff=4 truncated len=2 \"ab\"\nend ETRUNCATED\n"},
      {"nul delim", fray_spec_delim("\0", 1), "a\0\0b", 4,
       "off=0 frame len=1 \"a\"\noff=2 frame len=0 \"\"\noff=3 truncated len=1 \"b\"\nend "
       "ETRUNCATED\n"},
      {"smtp data end", fray_spec_delim("\r\n.\r\n", 5), "hi\r\n..x\r\n.\r\nz", 0,
       "off=0 frame len=7 \"hi\\x0d\\x0a..x\"\noff=12 truncated len=1 \"z\"\nend ETRUNCATED\n"},
      {"max not yet overflow (max+dlen-1 buffered)", with_max(fray_spec_delim("\r\n", 2), 3, ER),
       "abc\r\n", 0, "off=0 frame len=3 \"abc\"\nend OK\n"},
      {"overflow error", with_max(fray_spec_delim("\r\n", 2), 3, ER), "ab\r\nabcd\r\nx", 0,
       "off=0 frame len=2 \"ab\"\noff=4 error ETOOLONG fatal\nend ETOOLONG\n"},
      {"overflow skip", with_max(fray_spec_delim("\r\n", 2), 3, SK), "ab\r\nabcdef\r\nxy\r\n", 0,
       "off=0 frame len=2 \"ab\"\noff=4 error ETOOLONG size=6\noff=12 frame len=2 \"xy\"\nend "
       "OK\n"},
      {"overflow skip at eof", with_max(fray_spec_delim("\r\n", 2), 3, SK), "abcdefg\r", 0,
       "off=0 error ETOOLONG size=8\nend ETRUNCATED\n"},
      {"line max counts no cr", with_max(fray_spec_line(), 2, SK), "ab\r\nabc\nab\r\r\n", 0,
       "off=0 frame len=2 \"ab\"\noff=4 error ETOOLONG size=3\noff=8 error ETOOLONG size=3\nend "
       "OK\n"},
      {"line overflow exactly max+1 complete", with_max(fray_spec_line(), 2, ER), "abc\n", 0,
       "off=0 error ETOOLONG fatal\nend ETOOLONG\n"},
      {"count", fray_spec_count(3), "abcdefgh", 0,
       "off=0 frame len=3 \"abc\"\noff=3 frame len=3 \"def\"\noff=6 truncated len=2 \"gh\"\nend "
       "ETRUNCATED\n"},
      {"raw", fray_spec_raw(), "abc", 0, "off=0 frame len=3 \"abc\"\nend OK\n"},
      {"len u8", lenspec(FRAY_LEN_U8, 0, 0, HDR, 0, ER), "\x02hi\x00\x01!", 6,
       "off=0 frame len=2 \"hi\"\noff=3 frame len=0 \"\"\noff=4 frame len=1 \"!\"\nend OK\n"},
      {"len u16be keep header", lenspec(FRAY_LEN_U16BE, 0, 0, 0, 0, ER), "\x00\x02hi", 4,
       "off=0 frame len=4 \"\\x00\\x02hi\"\nend OK\n"},
      {"len u16le", lenspec(FRAY_LEN_U16LE, 0, 0, HDR, 0, ER), "\x02\x00hi", 4,
       "off=0 frame len=2 \"hi\"\nend OK\n"},
      {"len u32be with offset", lenspec(FRAY_LEN_U32BE, 2, 0, HDR, 0, ER), "T1\x00\x00\x00\x01z", 7,
       "off=0 frame len=1 \"z\"\nend OK\n"},
      {"len u32le adjust -4 (length counts itself)", lenspec(FRAY_LEN_U32LE, 0, -4, HDR, 0, ER),
       "\x05\x00\x00\x00q", 5, "off=0 frame len=1 \"q\"\nend OK\n"},
      {"len u64be", lenspec(FRAY_LEN_U64BE, 0, 0, HDR, 0, ER), "\0\0\0\0\0\0\0\x01x", 9,
       "off=0 frame len=1 \"x\"\nend OK\n"},
      {"len u64le", lenspec(FRAY_LEN_U64LE, 0, 0, HDR, 0, ER), "\x01\0\0\0\0\0\0\0x", 9,
       "off=0 frame len=1 \"x\"\nend OK\n"},
      {"len varint 2 bytes", lenspec(FRAY_LEN_VARINT, 0, 0, HDR, 0, ER),
       "\x81\x01"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       131, NULL},
      {"len strip 1 of a 2-byte header", lenspec(FRAY_LEN_U16BE, 0, 0, 1, 0, ER), "\x00\x01z", 3,
       "off=0 frame len=2 \"\\x01z\"\nend OK\n"},
      {"len adjust underflow", lenspec(FRAY_LEN_U8, 0, -3, HDR, 0, ER), "\x02xx", 3,
       "off=0 error EBADLEN fatal\nend EBADLEN\n"},
      {"len over max error", lenspec(FRAY_LEN_U8, 0, 0, HDR, 2, ER), "\x03xyz", 4,
       "off=0 error EBADLEN fatal\nend EBADLEN\n"},
      {"len over max skip", lenspec(FRAY_LEN_U8, 0, 0, HDR, 2, SK), "\x03xyz\x01w", 6,
       "off=0 error EBADLEN size=3\noff=4 frame len=1 \"w\"\nend OK\n"},
      {"len skip truncated", lenspec(FRAY_LEN_U8, 0, 0, HDR, 2, SK), "\x09xyz", 4,
       "off=0 error EBADLEN size=9\nend ETRUNCATED\n"},
      {"len u64 huge", lenspec(FRAY_LEN_U64BE, 0, 0, HDR, 0, ER),
       "\xff\xff\xff\xff\xff\xff\xff\xff", 8, "off=0 error EBADLEN fatal\nend EBADLEN\n"},
      {"len varint overflow", lenspec(FRAY_LEN_VARINT, 0, 0, HDR, 0, ER),
       "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10, "off=0 error EBADLEN fatal\nend EBADLEN\n"},
      {"len header truncated", lenspec(FRAY_LEN_U32BE, 0, 0, HDR, 0, ER), "\x00\x00", 2,
       "off=0 truncated len=2 \"\\x00\\x00\"\nend ETRUNCATED\n"},
      {"len 24-bit be", uintspec(3, 0, 0, 0, HDR), "\x00\x00\x02hi\x00\x00\x00", 8,
       "off=0 frame len=2 \"hi\"\noff=5 frame len=0 \"\"\nend OK\n"},
      {"len 24-bit le", uintspec(3, 1, 0, 0, HDR), "\x02\x00\x00hi", 5,
       "off=0 frame len=2 \"hi\"\nend OK\n"},
      {"len 5-byte be keep header", uintspec(5, 0, 0, 0, 0), "\0\0\0\0\x01z", 6,
       "off=0 frame len=6 \"\\x00\\x00\\x00\\x00\\x01z\"\nend OK\n"},
      {"len 7-byte le", uintspec(7, 1, 0, 0, HDR), "\x01\0\0\0\0\0\0q", 8,
       "off=0 frame len=1 \"q\"\nend OK\n"},
      {"len strip into the body", uintspec(2, 0, 0, 0, 3),
       "\x00\x03"
       "abc",
       5, "off=0 frame len=2 \"bc\"\nend OK\n"},
      {"len strip past a short frame", uintspec(2, 0, 0, 0, 3), "\x00\x00", 2,
       "off=0 error EBADLEN fatal\nend EBADLEN\n"},
      {"delims earliest wins", delims2("\r\n", "\n", 0), "a\nb\r\nc\n", 0,
       "off=0 frame len=1 \"a\"\noff=2 frame len=1 \"b\"\noff=5 frame len=1 \"c\"\nend OK\n"},
      {"delims same start, first listed", delims2("ab", "abc", 0), "xabcy", 0,
       "off=0 frame len=1 \"x\"\noff=3 truncated len=2 \"cy\"\nend ETRUNCATED\n"},
      {"delims longer listed first waits", delims2("abc", "ab", 0), "xabcyabz", 0,
       "off=0 frame len=1 \"x\"\noff=4 frame len=1 \"y\"\noff=7 truncated len=1 \"z\"\nend "
       "ETRUNCATED\n"},
      {"delims earlier partial beats a later whole", delims2("XYZQ", "Y", 0), "aXYZQbYc", 0,
       "off=0 frame len=1 \"a\"\noff=5 frame len=1 \"b\"\noff=7 truncated len=1 \"c\"\nend "
       "ETRUNCATED\n"},
      {"delims a partial at the end is no delimiter", delims2("\n\n", "\n", 0), "ab\n", 0,
       "off=0 frame len=2 \"ab\"\nend OK\n"},
      {"delims keep", delims2("\r\n", "\n", 1), "a\r\nb\n", 0,
       "off=0 frame len=3 \"a\\x0d\\x0a\"\noff=3 frame len=2 \"b\\x0a\"\nend OK\n"},
      {"delims overflow error", with_max(delims2("\r\n", ";", 0), 3, ER), "ab;abcd;", 0,
       "off=0 frame len=2 \"ab\"\noff=3 error ETOOLONG fatal\nend ETOOLONG\n"},
      {"delims overflow skip", with_max(delims2("\r\n", ";", 0), 3, SK), "abcdef\r\nxy;", 0,
       "off=0 error ETOOLONG size=6\noff=8 frame len=2 \"xy\"\nend OK\n"},
      {"byteset", fray_spec_byteset(",;", 2), "a,b;;c", 0,
       "off=0 frame len=1 \"a\"\noff=2 frame len=1 \"b\"\noff=4 frame len=0 \"\"\noff=5 "
       "truncated len=1 \"c\"\nend ETRUNCATED\n"},
      {"byteset overflow skip", with_max(fray_spec_byteset("\n", 1), 2, SK), "abcd\nx\n", 0,
       "off=0 error ETOOLONG size=4\noff=5 frame len=1 \"x\"\nend OK\n"},
      {"netstring", fray_spec_netstring(), "5:hello,0:,", 0,
       "off=0 frame len=5 \"hello\"\noff=8 frame len=0 \"\"\nend OK\n"},
      {"netstring missing comma", fray_spec_netstring(), "2:hi;", 0,
       "off=0 error EBADLEN fatal\nend EBADLEN\n"},
      {"netstring bad digit", fray_spec_netstring(), "x:", 0,
       "off=0 error EBADLEN fatal\nend EBADLEN\n"},
      {"netstring over max skip", with_max(fray_spec_netstring(), 2, SK), "3:abc,1:z,", 0,
       "off=0 error EBADLEN size=3\noff=6 frame len=1 \"z\"\nend OK\n"},
      {"resp bulk", fray_spec_resp_bulk(), "$5\r\nhe\r\no\r\n$0\r\n\r\n", 0,
       "off=0 frame len=5 \"he\\x0d\\x0ao\"\noff=11 frame len=0 \"\"\nend OK\n"},
      {"resp bulk null is a bad length", fray_spec_resp_bulk(), "$-1\r\n", 0,
       "off=0 error EBADLEN fatal\nend EBADLEN\n"},
      {"http chunks", fray_spec_http_chunk(), "a;x=y\r\n0123456789\r\n1\r\nZ\r\n0\r\n", 0,
       "off=0 frame len=10 \"0123456789\"\noff=19 frame len=1 \"Z\"\noff=25 frame len=0 \"\"\nend "
       "OK\n"},
      {"http chunk truncated header", fray_spec_http_chunk(), "1F", 0,
       "off=0 truncated len=2 \"1F\"\nend ETRUNCATED\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const golden_t *c = &cases[i];
    if (getenv("FRAY_TEST_VERBOSE"))
      print_message("case %s\n", c->label);
    size_t n = c->len ? c->len : strlen(c->input);
    trace_t t = {0};
    run_whole(&c->spec, (const uint8_t *)c->input, n, &t);
    if (c->trace && strcmp(c->trace, tr_str(&t))) {
      print_error("case '%s'\nexpected:\n%s\ngot:\n%s\n", c->label, c->trace, tr_str(&t));
      fail();
    }
    if (!c->trace) /* the varint case: 129-byte body */
      assert_non_null(strstr(tr_str(&t), "off=0 frame len=129 "));
    tr_free(&t);
    /* Raw mode passes chunks on as they arrive: the one mode whose frames
     * depend on the chunking by definition. */
    if (c->spec.mode != FRAY_MODE_RAW)
      check_split_invariance(&c->spec, (const uint8_t *)c->input, n);
  }
}

/* ---- differential check against a naive reference --------------------- */

static void ref_frame(trace_t *t, const uint8_t *p, size_t pos, size_t len) {
  tr_printf(t, "off=%zu frame len=%zu ", pos, len);
  tr_bytes(t, p + pos, len);
  tr_printf(t, "\n");
}

static const char *ref_truncated(trace_t *t, const uint8_t *p, size_t pos, size_t n) {
  if (pos == n)
    return "OK";
  tr_printf(t, "off=%zu truncated len=%zu ", pos, n - pos);
  tr_bytes(t, p + pos, n - pos);
  tr_printf(t, "\n");
  return "ETRUNCATED";
}

/* Delims and byteset modes: at each start in turn, the first delimiter of
 * the list that lies whole there. */
static size_t ref_set_match(const fray_spec_t *sp, const uint8_t *p, size_t n, size_t s) {
  if (sp->mode == FRAY_MODE_BYTESET)
    return (sp->byteset[p[s] >> 3] >> (p[s] & 7)) & 1;
  for (size_t i = 0; i < sp->delims.n; i++)
    if (s + sp->delims.len[i] <= n && !memcmp(p + s, sp->delims.bytes[i], sp->delims.len[i]))
      return sp->delims.len[i];
  return 0;
}

static const char *ref_set(const fray_spec_t *sp, const uint8_t *p, size_t n, size_t max,
                           trace_t *t) {
  size_t pos = 0;
  for (;;) {
    size_t s = pos, ml = 0;
    while (s < n && !(ml = ref_set_match(sp, p, n, s)))
      s++;
    if (s - pos > max) {
      if (sp->on_overflow == ER) {
        tr_printf(t, "off=%zu error ETOOLONG fatal\n", pos);
        return "ETOOLONG";
      }
      tr_printf(t, "off=%zu error ETOOLONG size=%zu\n", pos, s - pos);
      if (s == n)
        return "ETRUNCATED";
    } else if (s == n) {
      return ref_truncated(t, p, pos, n);
    } else {
      ref_frame(t, p, pos, sp->delim.keep ? s - pos + ml : s - pos);
    }
    pos = s + ml;
  }
}

/* Text mode, on the netstring, RESP bulk and HTTP chunk presets. */
static const char *ref_text(const fray_spec_t *sp, const uint8_t *p, size_t n, size_t max,
                            trace_t *t) {
  size_t pos = 0, pl = sp->text.prefix_len, tl = sp->text.term_len;
  unsigned base = sp->text.base;
  while (pos < n) {
    size_t i = pos;
    if (memcmp(p + i, sp->text.prefix, n - i < pl ? n - i : pl))
      goto bad;
    if (n - i < pl)
      return ref_truncated(t, p, pos, n);
    i += pl;
    unsigned long long v = 0;
    size_t nd = 0;
    for (; i < n && strchr(base == 16 ? "0123456789abcdefABCDEF" : "0123456789", p[i]) && p[i];
         i++, nd++)
      v = v * base + (unsigned long long)(p[i] <= '9' ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
    if (i == n)
      return ref_truncated(t, p, pos, n);
    if (!nd)
      goto bad;
    if (sp->text.ext && p[i] == sp->text.ext)
      while (i < n && p[i] != sp->text.term[0])
        i++;
    if (memcmp(p + i, sp->text.term, n - i < tl ? n - i : tl))
      goto bad;
    if (n - i < tl)
      return ref_truncated(t, p, pos, n);
    size_t hdr = i + tl - pos, trl = v == 0 && sp->text.zero_no_trailer ? 0 : sp->text.trailer_len;
    size_t total = hdr + (size_t)v + trl;
    if (v > max) {
      if (sp->on_overflow == ER)
        goto bad;
      tr_printf(t, "off=%zu error EBADLEN size=%llu\n", pos, v);
      if (n - pos < total)
        return "ETRUNCATED";
      pos += total;
      continue;
    }
    size_t have = n - pos > hdr + v ? n - pos - hdr - (size_t)v : 0;
    if (memcmp(p + pos + hdr + v, sp->text.trailer, have < trl ? have : trl))
      goto bad;
    if (n - pos < total)
      return ref_truncated(t, p, pos, n);
    tr_printf(t, "off=%zu frame len=%llu ", pos, v);
    tr_bytes(t, p + pos + hdr, (size_t)v);
    tr_printf(t, "\n");
    pos += total;
  }
  return "OK";
bad:
  tr_printf(t, "off=%zu error EBADLEN fatal\n", pos);
  return "EBADLEN";
}

/* The reference frames the whole input at once, in the most obvious way.
 * It writes the same trace format as the real framer. */
static void reference(const fray_spec_t *sp, const uint8_t *p, size_t n, trace_t *t) {
  size_t max = sp->max_frame ? sp->max_frame : FRAY_DEFAULT_MAX_FRAME;
  size_t pos = 0;
  const char *end = "OK";
  if (sp->mode == FRAY_MODE_DELIM || sp->mode == FRAY_MODE_LINE) {
    const uint8_t *d = sp->delim.bytes;
    size_t dl = sp->delim.len, extra = sp->mode == FRAY_MODE_LINE;
    for (;;) {
      size_t s = pos;
      while (s + dl <= n && memcmp(p + s, d, dl))
        s++;
      if (s + dl > n) {
        size_t tail = n - pos;
        if (tail >= max + extra + dl) {
          if (sp->on_overflow == ER) {
            tr_printf(t, "off=%zu error ETOOLONG fatal\n", pos);
            end = "ETOOLONG";
          } else {
            tr_printf(t, "off=%zu error ETOOLONG size=%zu\n", pos, tail);
            end = "ETRUNCATED";
          }
        } else if (tail) {
          tr_printf(t, "off=%zu truncated len=%zu ", pos, tail);
          tr_bytes(t, p + pos, tail);
          tr_printf(t, "\n");
          end = "ETRUNCATED";
        }
        break;
      }
      size_t plen = s - pos;
      if (extra && plen && p[s - 1] == '\r')
        plen--;
      if (plen > max) {
        if (sp->on_overflow == ER) {
          tr_printf(t, "off=%zu error ETOOLONG fatal\n", pos);
          end = "ETOOLONG";
          break;
        }
        tr_printf(t, "off=%zu error ETOOLONG size=%zu\n", pos, plen);
      } else {
        size_t fl = sp->delim.keep && sp->mode == FRAY_MODE_DELIM ? s - pos + dl : plen;
        tr_printf(t, "off=%zu frame len=%zu ", pos, fl);
        tr_bytes(t, p + pos, fl);
        tr_printf(t, "\n");
      }
      pos = s + dl;
    }
  } else if (sp->mode == FRAY_MODE_DELIMS || sp->mode == FRAY_MODE_BYTESET) {
    end = ref_set(sp, p, n, max, t);
  } else if (sp->mode == FRAY_MODE_TEXTLEN) {
    end = ref_text(sp, p, n, max, t);
  } else if (sp->mode == FRAY_MODE_COUNT) {
    for (; pos + sp->count <= n; pos += sp->count) {
      tr_printf(t, "off=%zu frame len=%zu ", pos, sp->count);
      tr_bytes(t, p + pos, sp->count);
      tr_printf(t, "\n");
    }
    if (pos < n) {
      tr_printf(t, "off=%zu truncated len=%zu ", pos, n - pos);
      tr_bytes(t, p + pos, n - pos);
      tr_printf(t, "\n");
      end = "ETRUNCATED";
    }
  } else if (sp->mode == FRAY_MODE_LENGTH) {
    /* Only the u8/u16be fields with offset and adjust are used here. */
    size_t w = sp->length.field == FRAY_LEN_U8 ? 1 : 2;
    while (pos < n) {
      size_t off = sp->length.offset;
      if (n - pos < off + w) {
        tr_printf(t, "off=%zu truncated len=%zu ", pos, n - pos);
        tr_bytes(t, p + pos, n - pos);
        tr_printf(t, "\n");
        end = "ETRUNCATED";
        break;
      }
      long long v = w == 1 ? p[pos + off] : (p[pos + off] << 8) | p[pos + off + 1];
      long long body = v + sp->length.adjust;
      if (body < 0) {
        tr_printf(t, "off=%zu error EBADLEN fatal\n", pos);
        end = "EBADLEN";
        break;
      }
      size_t hdr = off + w;
      size_t total = hdr + (size_t)body;
      size_t strip = sp->length.strip == HDR ? hdr : sp->length.strip;
      if (total - strip > max) {
        if (sp->on_overflow == ER) {
          tr_printf(t, "off=%zu error EBADLEN fatal\n", pos);
          end = "EBADLEN";
          break;
        }
        tr_printf(t, "off=%zu error EBADLEN size=%lld\n", pos, body);
        if (n - pos < total) {
          end = "ETRUNCATED";
          break;
        }
        pos += total;
        continue;
      }
      if (n - pos < total) {
        tr_printf(t, "off=%zu truncated len=%zu ", pos, n - pos);
        tr_bytes(t, p + pos, n - pos);
        tr_printf(t, "\n");
        end = "ETRUNCATED";
        break;
      }
      tr_printf(t, "off=%zu frame len=%zu ", pos, total - strip);
      tr_bytes(t, p + pos + strip, total - strip);
      tr_printf(t, "\n");
      pos += total;
    }
  }
  tr_printf(t, "end %s\n", end);
}

static uint64_t rng_state;
static uint32_t rnd(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(rng_state >> 33);
}

/* A random spec of the delims (kind 4), byteset (5) or text (6) modes. */
static void random_new_mode(int kind, fray_spec_t *sp) {
  static const char *const set[] = {"\n", "\r\n", "\r\n\r\n", "aab", "abab", ".", "a", "ba"};
  if (kind == 4) {
    *sp = fray_spec_delims();
    size_t k = 1 + rnd() % 3;
    for (size_t i = 0; i < k; i++) {
      const char *d = set[rnd() % (sizeof set / sizeof set[0])];
      assert_int_equal(fray_spec_delims_add(sp, d, strlen(d)), 0);
    }
    sp->delim.keep = (int)(rnd() % 2);
  } else if (kind == 5) {
    *sp = fray_spec_byteset(rnd() % 2 ? "\n." : "a", rnd() % 2 ? 2 : 1);
    sp->delim.keep = (int)(rnd() % 2);
  } else {
    unsigned which = rnd() % 3;
    *sp = which == 0   ? fray_spec_netstring()
          : which == 1 ? fray_spec_resp_bulk()
                       : fray_spec_http_chunk();
  }
}

/* Fills in with frames the encoder wrapped (random payloads, now and then
 * a corrupted byte), so the new modes see valid streams too. */
static size_t wrapped_frames(const fray_spec_t *sp, uint8_t *in, size_t cap) {
  size_t n = 0;
  for (;;) {
    size_t len = rnd() % 6;
    fray_frame_wrap_t w;
    if (fray_spec_wrap(sp, len, &w) == 0 && n + w.head_len + len + w.tail_len <= cap) {
      memcpy(in + n, w.head, w.head_len);
      n += w.head_len;
      for (size_t i = 0; i < len; i++)
        in[n++] = (uint8_t)("ab\r\n:,x"[rnd() % 7]);
      memcpy(in + n, w.tail, w.tail_len);
      n += w.tail_len;
    } else {
      break;
    }
    if (rnd() % 8 == 0)
      in[rnd() % n] = (uint8_t) "x\r\n:1"[rnd() % 5];
  }
  return n;
}

static void test_differential_random(void **state) {
  (void)state;
  static const char *const delims[] = {"\n", "\r\n", "\r\n\r\n", "aab", "abab", "\r\n.\r\n", "a"};
  const uint8_t alpha[] = {'a', 'b', '\r', '\n', '.', 'x'};
  /* Text lengths: digits, their terminators and trailers, and junk. */
  const uint8_t talpha[] = {'0', '1', '2', '3', 'a', ':', ',', '$', '\r', '\n', ';', 'x'};
  rng_state = 12345;
  uint8_t in[96];
  size_t cuts[96];
  for (int iter = 0; iter < 20000; iter++) {
    fray_spec_t sp;
    int kind = (int)(rnd() % 7);
    if (kind >= 4) {
      random_new_mode(kind, &sp);
    } else if (kind == 0) {
      const char *d = delims[rnd() % (sizeof delims / sizeof delims[0])];
      sp = fray_spec_delim(d, strlen(d));
      sp.delim.keep = (int)(rnd() % 2);
    } else if (kind == 1) {
      sp = fray_spec_line();
    } else if (kind == 2) {
      sp = fray_spec_count(1 + rnd() % 7);
    } else {
      sp = fray_spec_length(rnd() % 2 ? FRAY_LEN_U8 : FRAY_LEN_U16BE);
      sp.length.offset = rnd() % 3;
      sp.length.adjust = (int64_t)(rnd() % 5) - 2;
      if (rnd() % 3 == 0)
        sp.length.strip = 0;
    }
    sp.max_frame = 1 + rnd() % 12;
    if (kind == 2 && sp.count > sp.max_frame)
      sp.max_frame = sp.count;
    sp.on_overflow = rnd() % 2 ? SK : ER;
    size_t n = rnd() % sizeof in;
    for (size_t i = 0; i < n; i++)
      in[i] = kind == 3   ? (uint8_t)(rnd() % 9)
              : kind == 6 ? talpha[rnd() % sizeof talpha]
                          : alpha[rnd() % sizeof alpha];
    if (kind >= 4 && rnd() % 2)
      n = wrapped_frames(&sp, in, sizeof in);
    trace_t ref = {0}, got = {0};
    reference(&sp, in, n, &ref);
    size_t nc = n ? rnd() % (n + 1) : 0;
    for (size_t i = 0; i < nc; i++)
      cuts[i] = rnd() % (n + 1);
    /* sort the cuts */
    for (size_t i = 1; i < nc; i++)
      for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
        size_t tmp = cuts[j];
        cuts[j] = cuts[j - 1];
        cuts[j - 1] = tmp;
      }
    run_cuts(&sp, in, n, cuts, nc, &got);
    if (strcmp(tr_str(&ref), tr_str(&got))) {
      print_error("iter %d mode %d max %zu policy %d\ninput: ", iter, (int)sp.mode, sp.max_frame,
                  (int)sp.on_overflow);
      trace_t in_t = {0};
      tr_bytes(&in_t, in, n);
      print_error("%s\ncuts:", tr_str(&in_t));
      for (size_t i = 0; i < nc; i++)
        print_error(" %zu", cuts[i]);
      print_error("\nreference:\n%s\nframer:\n%s\n", tr_str(&ref), tr_str(&got));
      tr_free(&in_t);
      fail();
    }
    tr_free(&ref);
    tr_free(&got);
  }
}

/* ---- spec switch from inside the callback ------------------------------- */

typedef struct http_ctx {
  trace_t t;
  int in_body;
} http_ctx_t;

static int http_frame(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  http_ctx_t *h = ud;
  on_frame(f, fr, &h->t);
  if (!h->in_body) {
    /* The "headers" name their body length as a single digit at the end. */
    size_t n = (size_t)(fr->data[fr->len - 1] - '0');
    if (n) {
      fray_spec_t body = fray_spec_count(n);
      assert_int_equal(fray_framer_set_spec(f, &body), 0);
      h->in_body = 1;
    }
  } else {
    fray_spec_t hdr = fray_spec_delim("\r\n\r\n", 4);
    assert_int_equal(fray_framer_set_spec(f, &hdr), 0);
    h->in_body = 0;
  }
  return 0;
}

static void test_spec_switch_in_callback(void **state) {
  (void)state;
  const char *in = "GET /a 3\r\n\r\nabcGET /b 0\r\n\r\nPOST /c 2\r\n\r\nxyHEAD 0\r\n\r\n";
  size_t n = strlen(in);
  const char *expect = "off=0 frame len=8 \"GET /a 3\"\n"
                       "off=12 frame len=3 \"abc\"\n"
                       "off=15 frame len=8 \"GET /b 0\"\n"
                       "off=27 frame len=9 \"POST /c 2\"\n"
                       "off=40 frame len=2 \"xy\"\n"
                       "off=42 frame len=6 \"HEAD 0\"\n";
  /* Whole (everything merged in one read), then every 1- and 2-cut split. */
  for (size_t a = 0; a <= n; a++)
    for (size_t b = a; b <= n; b++) {
      http_ctx_t h = {{0}, 0};
      fray_framer_callbacks_t cb;
      fray_framer_callbacks_init(&cb);
      cb.on_frame = http_frame;
      fray_spec_t sp = fray_spec_delim("\r\n\r\n", 4);
      fray_framer_t *f;
      assert_int_equal(fray_framer_new(&f, &sp, &cb, NULL, &h), 0);
      size_t c[3] = {a, b, n};
      size_t prev = 0;
      for (int i = 0; i < 3; i++) {
        assert_int_equal(fray_framer_feed(f, (const uint8_t *)in + prev, c[i] - prev),
                         (fray_ssize_t)(c[i] - prev));
        prev = c[i];
      }
      assert_int_equal(fray_framer_finish(f), 0);
      if (strcmp(expect, tr_str(&h.t))) {
        print_error("cuts %zu %zu:\n%s", a, b, tr_str(&h.t));
        fail();
      }
      fray_framer_free(f);
      tr_free(&h.t);
    }
}

static void test_spec_switch_outside_callback(void **state) {
  (void)state;
  trace_t t = {0};
  fray_framer_callbacks_t cb = trace_callbacks();
  fray_spec_t sp = fray_spec_line();
  fray_framer_t *f;
  assert_int_equal(fray_framer_new(&f, &sp, &cb, NULL, &t), 0);
  assert_int_equal(fray_framer_feed(f, (const uint8_t *)"abcdef", 6), 6);
  assert_int_equal(fray_framer_buffered(f), 6);
  fray_spec_t c2 = fray_spec_count(2);
  assert_int_equal(fray_framer_set_spec(f, &c2), 0);
  assert_int_equal(t.frames, 0); /* set_spec never calls back */
  assert_int_equal(fray_framer_feed(f, NULL, 0), 0);
  assert_string_equal(tr_str(&t), "off=0 frame len=2 \"ab\"\noff=2 frame len=2 \"cd\"\n"
                                  "off=4 frame len=2 \"ef\"\n");
  fray_spec_t bad = fray_spec_count(0);
  assert_int_equal(fray_framer_set_spec(f, &bad), FRAY_EINVAL);
  assert_int_equal(fray_framer_spec(f)->mode, FRAY_MODE_COUNT);
  fray_framer_free(f);
  tr_free(&t);
}

/* ---- overflow arriving byte by byte, memory bound ----------------------- */

static void test_overflow_bytewise_bounded(void **state) {
  (void)state;
  for (int policy = 0; policy < 2; policy++) {
    trace_t t = {0};
    fray_framer_callbacks_t cb = trace_callbacks();
    fray_spec_t sp = with_max(fray_spec_delim("\r\n", 2), 100, policy ? SK : ER);
    fray_framer_t *f;
    assert_int_equal(fray_framer_new(&f, &sp, &cb, NULL, &t), 0);
    fray_ssize_t r = 0;
    size_t i;
    for (i = 0; i < 100000 && r >= 0; i++) {
      uint8_t b = (uint8_t)('a' + i % 26);
      r = fray_framer_feed(f, &b, 1);
      assert_true(fray__framer_capacity(f) <= fray_spec_buffer_bound(&sp));
    }
    if (policy == 0) {
      assert_int_equal(r, FRAY_ETOOLONG);
      assert_int_equal(i, 102); /* max + dlen bytes without a delimiter */
      assert_int_equal(fray_framer_feed(f, (const uint8_t *)"x", 1), FRAY_ETOOLONG); /* sticky */
      uint64_t off;
      const char *why;
      assert_int_equal(fray_framer_error(f, &off, &why), FRAY_ETOOLONG);
      assert_int_equal(off, 0);
      assert_non_null(why);
      assert_int_equal(fray_framer_reset(f), 0);
      assert_int_equal(fray_framer_feed(f, (const uint8_t *)"ok\r\n", 4), 4);
      assert_int_equal(t.frames, 1);
    } else {
      assert_int_equal(r, 1);
      assert_int_equal(t.errors, 0); /* reported when the frame ends */
      assert_int_equal(fray_framer_feed(f, (const uint8_t *)"\r", 1), 1);
      assert_int_equal(fray_framer_feed(f, (const uint8_t *)"\nok\r\n", 5), 5);
      assert_string_equal(tr_str(&t), "off=0 error ETOOLONG size=100000\n"
                                      "off=100002 frame len=2 \"ok\"\n");
    }
    fray_framer_free(f);
    tr_free(&t);
  }
}

/* Regression (found by fuzz_framer): while skipping an oversized frame, the
 * bytes up to the next delimiter were copied into the buffer when a large
 * chunk held the delimiter, so memory followed the chunk size. */
static void test_skip_large_chunk_stays_bounded(void **state) {
  (void)state;
  trace_t t = {0};
  fray_framer_callbacks_t cb = trace_callbacks();
  fray_spec_t sp = with_max(fray_spec_delim("abab", 4), 2, SK);
  fray_framer_t *f;
  assert_int_equal(fray_framer_new(&f, &sp, &cb, NULL, &t), 0);
  assert_int_equal(fray_framer_feed(f, (const uint8_t *)"xxxxxxxxxx", 10), 10);
  size_t n = 1000000;
  uint8_t *big = malloc(n + 6);
  memset(big, 'x', n);
  memcpy(big + n, "ababok", 6);
  assert_int_equal(fray_framer_feed(f, big, n + 6), (fray_ssize_t)(n + 6));
  fray__framer_check(f);
  assert_true(fray__framer_capacity(f) <= 256);
  assert_string_equal(tr_str(&t), "off=0 error ETOOLONG size=1000010\n");
  assert_int_equal(fray_framer_buffered(f), 2);
  free(big);
  fray_framer_free(f);
  tr_free(&t);
}

/* A frame whole inside the fed chunk is handed out in place. */
static const uint8_t *zc_chunk;
static size_t zc_len;
static int zc_inplace, zc_copied;
static int zc_frame(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  (void)f;
  (void)ud;
  if (fr->data >= zc_chunk && fr->data + fr->len <= zc_chunk + zc_len)
    zc_inplace++;
  else
    zc_copied++;
  return 0;
}

static void test_zero_copy(void **state) {
  (void)state;
  fray_framer_callbacks_t cb;
  fray_framer_callbacks_init(&cb);
  cb.on_frame = zc_frame;
  fray_spec_t sp = fray_spec_line();
  fray_framer_t *f;
  assert_int_equal(fray_framer_new(&f, &sp, &cb, NULL, NULL), 0);
  zc_inplace = zc_copied = 0;
  const char *a = "one\ntwo\nthr", *b = "ee\nfour\nfive\n";
  zc_chunk = (const uint8_t *)a;
  zc_len = strlen(a);
  fray_framer_feed(f, zc_chunk, zc_len);
  zc_chunk = (const uint8_t *)b;
  zc_len = strlen(b);
  fray_framer_feed(f, zc_chunk, zc_len);
  assert_int_equal(zc_inplace, 4);
  assert_int_equal(zc_copied, 1); /* "three" spanned the two reads */
  fray_framer_free(f);
}

/* ---- lifecycle from inside callbacks ------------------------------------ */

typedef struct life {
  int action; /* 0 pause, 1 close, 2 free, 3 abort, 4 feed (re-entrant), 5 reset */
  int at;     /* on which callback invocation */
  int calls;
  int reentrant_rc;
} life_t;

static int life_act(fray_framer_t *f, life_t *l) {
  if (++l->calls != l->at)
    return 0;
  switch (l->action) {
  case 0:
    return FRAY_PAUSE;
  case 1:
    fray_framer_close(f);
    return 0;
  case 2:
    fray_framer_free(f);
    return 0;
  case 3:
    return -1;
  case 4:
    l->reentrant_rc = (int)fray_framer_feed(f, (const uint8_t *)"x", 1);
    return 0;
  default:
    l->reentrant_rc = fray_framer_reset(f);
    return 0;
  }
}

static int life_frame(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  (void)fr;
  return life_act(f, ud);
}

static int life_error(fray_framer_t *f, const fray_frame_error_t *e, void *ud) {
  (void)e;
  return life_act(f, ud);
}

static void test_lifecycle_in_callbacks(void **state) {
  (void)state;
  /* Frames: "a" "b" then an oversized (skipped) frame reported via on_error,
   * then "c", then a truncated "d". */
  const char *in = "a\nb\nTOOLONGLINE\nc\nd";
  size_t n = strlen(in);
  for (int action = 0; action < 6; action++) {
    for (int at = 1; at <= 5; at++) {
      life_t l = {action, at, 0, 0};
      fray_framer_callbacks_t cb;
      fray_framer_callbacks_init(&cb);
      cb.on_frame = life_frame;
      cb.on_error = life_error;
      cb.on_truncated = life_frame;
      fray_spec_t sp = with_max(fray_spec_line(), 4, SK);
      fray_framer_t *f;
      assert_int_equal(fray_framer_new(&f, &sp, &cb, NULL, &l), 0);
      fray_ssize_t r = fray_framer_feed(f, (const uint8_t *)in, n);
      int freed = 0;
      if (at <= 4) { /* the 5th callback is the truncation, from finish */
        switch (action) {
        case 0: {
          /* Paused: consumed up to the frame; feeding the rest continues. */
          assert_true(r >= 0 && (size_t)r < n);
          fray_ssize_t r2 = fray_framer_feed(f, (const uint8_t *)in + r, n - (size_t)r);
          assert_true(r2 >= 0);
          break;
        }
        case 1:
          assert_true(r >= 0 && (size_t)r < n);
          assert_int_equal(fray_framer_feed(f, (const uint8_t *)"z\n", 2), FRAY_ECLOSED);
          assert_int_equal(fray_framer_finish(f), FRAY_ECLOSED);
          break;
        case 2:
          assert_int_equal(r, FRAY_ECLOSED);
          freed = 1;
          break;
        case 3:
          assert_int_equal(r, FRAY_ECALLBACK);
          assert_int_equal(fray_framer_feed(f, (const uint8_t *)"z\n", 2), FRAY_ECALLBACK);
          break;
        default:
          assert_int_equal(r, (fray_ssize_t)n);
          assert_int_equal(l.reentrant_rc, FRAY_ESTATE);
        }
      } else {
        assert_int_equal(r, (fray_ssize_t)n);
        int fr = fray_framer_finish(f);
        if (action == 2) {
          assert_int_equal(fr, FRAY_ECLOSED);
          freed = 1;
        } else {
          assert_int_equal(fr, FRAY_ETRUNCATED);
        }
      }
      if (!freed)
        fray_framer_free(f);
    }
  }
}

/* ---- failing allocations ------------------------------------------------ */

typedef struct failmem {
  int count, fail_at;
  size_t live;
  int mode; /* fm_scenario's spec: 0 line, 1 delims, 2 netstring, 3 24-bit length */
} failmem_t;

static void *fm_malloc(size_t n, void *ud) {
  failmem_t *m = ud;
  if (++m->count == m->fail_at)
    return NULL;
  m->live++;
  return malloc(n);
}
static void *fm_realloc(void *p, size_t n, void *ud) {
  failmem_t *m = ud;
  if (++m->count == m->fail_at)
    return NULL;
  if (!p)
    m->live++;
  return realloc(p, n);
}
static void fm_free(void *p, void *ud) {
  failmem_t *m = ud;
  if (p)
    m->live--;
  free(p);
}

static int fm_scenario(failmem_t *fm) {
  fray_mem_t mem = {fm_malloc, fm_realloc, fm_free, fm};
  fray_framer_callbacks_t cb;
  fray_framer_callbacks_init(&cb);
  fray_spec_t sp = fray_spec_line();
  if (fm->mode == 1)
    sp = delims2("\r\n", "\n", 0);
  else if (fm->mode == 2)
    sp = fray_spec_netstring();
  else if (fm->mode == 3)
    sp = fray_spec_length_uint(3, 0);
  sp.max_frame = 5000;
  fray_framer_t *f;
  int rc = fray_framer_new(&f, &sp, &cb, &mem, NULL);
  if (rc)
    return rc;
  uint8_t big[3000];
  memset(big, 'q', sizeof big);
  if (fm->mode == 2)
    memcpy(big, "4600:", 5); /* a netstring longer than the three feeds */
  else if (fm->mode == 3)
    memcpy(big, "\x00\x11\xf8", 3);
  /* Growing the buffer several times. */
  for (int i = 0; i < 3 && rc >= 0; i++)
    rc = (int)fray_framer_feed(f, big, sizeof big / 2 + (size_t)i);
  if (rc >= 0)
    rc = (int)fray_framer_feed(f, (const uint8_t *)"\n", 1);
  if (rc >= 0)
    rc = 0;
  fray_framer_free(f);
  return rc;
}

static void test_failing_allocations(void **state) {
  (void)state;
  for (int mode = 0; mode < 4; mode++) {
    failmem_t fm = {0, 0, 0, mode};
    assert_int_equal(fm_scenario(&fm), 0);
    int total = fm.count;
    assert_true(total >= 3);
    assert_int_equal(fm.live, 0);
    for (int k = 1; k <= total; k++) {
      failmem_t m = {0, k, 0, mode};
      assert_int_equal(fm_scenario(&m), FRAY_ENOMEM);
      assert_int_equal(m.live, 0);
    }
  }
}

/* ---- misc contract ------------------------------------------------------ */

static void test_spec_validation(void **state) {
  (void)state;
  const char *why;
  fray_spec_t s = fray_spec_delim("0123456789abcdefg", 17);
  assert_int_equal(fray_spec_validate(&s, &why), FRAY_EINVAL);
  assert_non_null(why);
  s = fray_spec_count(0);
  assert_int_equal(fray_spec_validate(&s, NULL), FRAY_EINVAL);
  s = fray_spec_count(70000); /* over the default max */
  assert_int_equal(fray_spec_validate(&s, NULL), FRAY_EINVAL);
  /* A strip may reach into the body (Netty's initialBytesToStrip), but not
   * past the longest frame there can be. */
  s = fray_spec_length(FRAY_LEN_U16BE);
  s.length.strip = 3;
  assert_int_equal(fray_spec_validate(&s, NULL), 0);
  s.length.strip = 2 + FRAY_DEFAULT_MAX_FRAME + 1;
  assert_int_equal(fray_spec_validate(&s, &why), FRAY_EINVAL);
  assert_string_equal(why, "strip longer than any frame can be");
  s = fray_spec_length_uint(9, 0);
  assert_int_equal(fray_spec_validate(&s, NULL), FRAY_EINVAL);
  s = fray_spec_length_uint(0, 1);
  assert_int_equal(fray_spec_validate(&s, NULL), FRAY_EINVAL);
  s = fray_spec_delims();
  assert_int_equal(fray_spec_validate(&s, NULL), FRAY_EINVAL); /* empty set */
  for (int i = 0; i < FRAY_MAX_DELIMS; i++)
    assert_int_equal(fray_spec_delims_add(&s, "x", 1), 0);
  assert_int_equal(fray_spec_delims_add(&s, "y", 1), FRAY_EINVAL);
  assert_int_equal(fray_spec_delims_add(&s, "0123456789abcdefg", 17), FRAY_EINVAL);
  assert_int_equal(fray_spec_validate(&s, NULL), 0);
  s = fray_spec_byteset("", 0);
  assert_int_equal(fray_spec_validate(&s, NULL), FRAY_EINVAL);
  s = fray_spec_netstring();
  s.text.base = 8;
  assert_int_equal(fray_spec_validate(&s, NULL), FRAY_EINVAL);
  s = fray_spec_http_chunk();
  s.text.term[0] = 'a'; /* a hex digit cannot end hex digits */
  assert_int_equal(fray_spec_validate(&s, NULL), FRAY_EINVAL);
  s = fray_spec_line();
  assert_int_equal(fray_spec_validate(&s, &why), 0);
  assert_null(why);
  fray_framer_t *f = (fray_framer_t *)&s;
  s = fray_spec_count(0);
  assert_int_equal(fray_framer_new(&f, &s, NULL, NULL, NULL), FRAY_EINVAL);
  assert_null(f);
}

/* A handler's designated initializer may say only .mode = FRAY_MODE_LINE. */
static void test_line_mode_needs_no_delimiter_fields(void **state) {
  (void)state;
  trace_t t = {0};
  fray_framer_callbacks_t cb = trace_callbacks();
  fray_spec_t sp = {.mode = FRAY_MODE_LINE};
  fray_framer_t *f;
  assert_int_equal(fray_framer_new(&f, &sp, &cb, NULL, &t), 0);
  assert_int_equal(fray_framer_feed(f, (const uint8_t *)"a\r\nb\n", 5), 5);
  assert_string_equal(tr_str(&t), "off=0 frame len=1 \"a\"\noff=3 frame len=1 \"b\"\n");
  fray_framer_free(f);
  tr_free(&t);
}

static void test_strerror_table(void **state) {
  (void)state;
  assert_string_equal(fray_err_name(FRAY_ETOOLONG), "ETOOLONG");
  assert_string_equal(fray_strerror(FRAY_EBADLEN), "bad length field");
  assert_string_equal(fray_strerror(-9999), "unknown error");
  assert_string_equal(fray_err_name(12345), "UNKNOWN");
  assert_string_equal(fray_err_name(0), "OK");
}

static void test_pause_then_drain_buffer(void **state) {
  (void)state;
  /* Pausing on a frame taken from the buffer leaves later buffered frames
   * for the next feed, even a feed of 0 bytes. */
  life_t l = {0, 1, 0, 0};
  fray_framer_callbacks_t cb;
  fray_framer_callbacks_init(&cb);
  cb.on_frame = life_frame;
  fray_spec_t sp = fray_spec_line();
  fray_framer_t *f;
  assert_int_equal(fray_framer_new(&f, &sp, &cb, NULL, &l), 0);
  assert_int_equal(fray_framer_feed(f, (const uint8_t *)"ab", 2), 2);
  assert_int_equal(fray_framer_feed(f, (const uint8_t *)"\ncd\nef\n", 7), 1);
  assert_int_equal(l.calls, 1);
  assert_int_equal(fray_framer_feed(f, (const uint8_t *)"cd\nef\n", 6), 6);
  assert_int_equal(l.calls, 3);
  assert_int_equal(fray_framer_offset(f), 9);
  fray_framer_free(f);
}

/* ---- the worked examples of Netty's LengthFieldBasedFrameDecoder ------- */

/* Each example as Netty's documentation gives it: lengthFieldOffset,
 * lengthFieldLength, lengthAdjustment, initialBytesToStrip, the bytes
 * before decoding and after. Every split must give the same frame. */
static void test_netty_length_examples(void **state) {
  (void)state;
  static const char hw[] = "HELLO, WORLD";
  static const struct {
    const char *label;
    size_t off, width;
    int64_t adj;
    size_t strip;
    const char *before;
    size_t blen;
    const char *after;
    size_t alen;
  } ex[] = {
      {"1: 2 bytes length field at offset 0, do not strip header", 0, 2, 0, 0,
       "\x00\x0cHELLO, WORLD", 14, "\x00\x0cHELLO, WORLD", 14},
      {"2: 2 bytes length field at offset 0, strip header", 0, 2, 0, 2, "\x00\x0cHELLO, WORLD", 14,
       hw, 12},
      {"3: 2 bytes length field at offset 0, do not strip header, the length field represents "
       "the length of the whole message",
       0, 2, -2, 0, "\x00\x0eHELLO, WORLD", 14, "\x00\x0eHELLO, WORLD", 14},
      {"4: 3 bytes length field at the end of 5 bytes header, do not strip header", 2, 3, 0, 0,
       "\xca\xfe\x00\x00\x0cHELLO, WORLD", 17, "\xca\xfe\x00\x00\x0cHELLO, WORLD", 17},
      {"5: 3 bytes length field at the beginning of 5 bytes header, do not strip header", 0, 3, 2,
       0, "\x00\x00\x0c\xca\xfeHELLO, WORLD", 17, "\x00\x00\x0c\xca\xfeHELLO, WORLD", 17},
      {"6: 2 bytes length field at offset 1 in the middle of 4 bytes header, strip the first "
       "header field and the length field",
       1, 2, 1, 3, "\xca\x00\x0c\xfeHELLO, WORLD", 16, "\xfeHELLO, WORLD", 13},
      {"7: 2 bytes length field at offset 1 in the middle of 4 bytes header, strip the first "
       "header field and the length field, the length field represents the length of the whole "
       "message",
       1, 2, -3, 3, "\xca\x00\x10\xfeHELLO, WORLD", 16, "\xfeHELLO, WORLD", 13},
  };
  for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
    fray_spec_t sp = uintspec(ex[i].width, 0, ex[i].off, ex[i].adj, ex[i].strip);
    trace_t t = {0}, want = {0};
    run_whole(&sp, (const uint8_t *)ex[i].before, ex[i].blen, &t);
    tr_printf(&want, "off=0 frame len=%zu ", ex[i].alen);
    tr_bytes(&want, (const uint8_t *)ex[i].after, ex[i].alen);
    tr_printf(&want, "\nend OK\n");
    if (strcmp(tr_str(&want), tr_str(&t))) {
      print_error("example %s\nexpected:\n%s\ngot:\n%s\n", ex[i].label, tr_str(&want), tr_str(&t));
      fail();
    }
    check_split_invariance(&sp, (const uint8_t *)ex[i].before, ex[i].blen);
    tr_free(&t);
    tr_free(&want);
  }
}

/* ---- handing buffered bytes back --------------------------------------- */

typedef struct take {
  char got[128]; /* the frames, then "|" and what came back */
  size_t len;
  int after; /* take the rest after this many frames */
  int frames;
} take_t;

static int take_bytes(const uint8_t *p, size_t n, void *ud) {
  take_t *t = ud;
  assert_true(t->len + n < sizeof t->got);
  memcpy(t->got + t->len, p, n);
  t->len += n;
  return 0;
}

static int take_frame(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  take_t *t = ud;
  memcpy(t->got + t->len, fr->data, fr->len);
  t->len += fr->len;
  t->got[t->len++] = ',';
  if (++t->frames == t->after) {
    t->got[t->len++] = '|';
    assert_int_equal(fray_framer_take_buffered(f, take_bytes, t), 0);
  }
  return 0;
}

/* A protocol switch: after the second line everything is handed back,
 * however the stream was cut, and the framer has stopped. */
static void test_take_buffered(void **state) {
  (void)state;
  const char *in = "GET\r\nUPGRADE\r\n\x01\x02raw\r\nbytes";
  size_t n = strlen(in);
  for (size_t a = 0; a <= n; a++)
    for (size_t b = a; b <= n; b++) {
      take_t t = {.after = 2};
      fray_framer_callbacks_t cb;
      fray_framer_callbacks_init(&cb);
      cb.on_frame = take_frame;
      fray_spec_t sp = fray_spec_delim("\r\n", 2);
      fray_framer_t *f;
      assert_int_equal(fray_framer_new(&f, &sp, &cb, NULL, &t), 0);
      size_t cuts[3] = {a, b, n}, prev = 0;
      for (int i = 0; i < 3; i++) {
        fray_ssize_t r = fray_framer_feed(f, (const uint8_t *)in + prev, cuts[i] - prev);
        if (t.frames < 2 || (t.frames == 2 && prev < a && i == 0))
          assert_int_equal(r, (fray_ssize_t)(cuts[i] - prev));
        prev = cuts[i];
        if (t.frames >= 2)
          break;
      }
      /* What did not reach the framer before the switch goes straight on. */
      memcpy(t.got + t.len, in + prev, n - prev);
      t.len += n - prev;
      t.got[t.len] = 0;
      if (strcmp(t.got, "GET,UPGRADE,|\x01\x02raw\r\nbytes")) {
        print_error("cuts %zu,%zu: %s\n", a, b, t.got);
        fail();
      }
      assert_int_equal(fray_framer_feed(f, (const uint8_t *)"x", 1), FRAY_ECLOSED);
      fray_framer_free(f);
    }
  /* Outside a callback: the unfinished frame comes back, framing goes on. */
  take_t t = {.after = 0};
  fray_framer_callbacks_t cb;
  fray_framer_callbacks_init(&cb);
  cb.on_frame = take_frame;
  fray_spec_t sp = fray_spec_line();
  fray_framer_t *f;
  assert_int_equal(fray_framer_new(&f, &sp, &cb, NULL, &t), 0);
  assert_int_equal(fray_framer_feed(f, (const uint8_t *)"a\npart", 6), 6);
  assert_int_equal(fray_framer_take_buffered(f, take_bytes, &t), 0);
  assert_int_equal(fray_framer_buffered(f), 0);
  assert_int_equal(fray_framer_feed(f, (const uint8_t *)"b\n", 2), 2);
  t.got[t.len] = 0;
  assert_string_equal(t.got, "a,partb,");
  assert_int_equal(fray_framer_take_buffered(f, NULL, NULL), FRAY_EINVAL);
  fray_framer_free(f);
}

/* ---- the encoder ------------------------------------------------------- */

static int wrap_frame(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  (void)f;
  trace_t *t = ud;
  tr_bytes(t, fr->data, fr->len);
  return 0;
}

/* What fray_spec_wrap() frames, the framer gives back, for every mode. */
static void test_wrap_round_trip(void **state) {
  (void)state;
  fray_spec_t specs[] = {fray_spec_line(),
                         fray_spec_delim("\r\n.\r\n", 5),
                         delims2("\n\n", "\n", 0),
                         fray_spec_byteset(";", 1),
                         fray_spec_count(5),
                         fray_spec_length(FRAY_LEN_U16LE),
                         fray_spec_length(FRAY_LEN_VARINT),
                         uintspec(3, 0, 0, -3, 3),
                         fray_spec_netstring(),
                         fray_spec_resp_bulk(),
                         fray_spec_http_chunk()};
  const char *payload = "hello";
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    fray_frame_wrap_t w;
    assert_int_equal(fray_spec_wrap(&specs[i], 5, &w), 0);
    uint8_t buf[64];
    size_t n = 0;
    memcpy(buf, w.head, w.head_len);
    n += w.head_len;
    memcpy(buf + n, payload, 5);
    n += 5;
    memcpy(buf + n, w.tail, w.tail_len);
    n += w.tail_len;
    trace_t t = {0};
    fray_framer_callbacks_t cb;
    fray_framer_callbacks_init(&cb);
    cb.on_frame = wrap_frame;
    fray_framer_t *f;
    assert_int_equal(fray_framer_new(&f, &specs[i], &cb, NULL, &t), 0);
    assert_int_equal(fray_framer_feed(f, buf, n), (fray_ssize_t)n);
    assert_int_equal(fray_framer_finish(f), 0);
    assert_string_equal(tr_str(&t), "\"hello\"");
    fray_framer_free(f);
    tr_free(&t);
  }
  fray_frame_wrap_t w;
  fray_spec_t s = fray_spec_count(4);
  assert_int_equal(fray_spec_wrap(&s, 5, &w), FRAY_EINVAL);
  s = fray_spec_length(FRAY_LEN_U8);
  assert_int_equal(fray_spec_wrap(&s, 256, &w), FRAY_EINVAL); /* does not fit the field */
  s.length.offset = 1;
  assert_int_equal(fray_spec_wrap(&s, 1, &w), FRAY_EINVAL); /* a header it cannot write */
  s = fray_spec_netstring();
  assert_int_equal(fray_spec_wrap(&s, 12, &w), 0);
  assert_int_equal(w.head_len, 3);
  assert_memory_equal(w.head, "12:", 3);
  s = fray_spec_http_chunk();
  assert_int_equal(fray_spec_wrap(&s, 0, &w), 0);
  assert_int_equal(w.tail_len, 0); /* the last chunk: the trailer section follows */
  assert_int_equal(fray_spec_wrap(&s, 255, &w), 0);
  assert_memory_equal(w.head, "ff\r\n", 4);
}

/* Frames of the new modes lying whole in a chunk are handed out in place. */
static void test_zero_copy_new_modes(void **state) {
  (void)state;
  fray_spec_t specs[] = {delims2("\r\n", ";", 0), fray_spec_byteset(";", 1), fray_spec_netstring(),
                         fray_spec_length_uint(3, 1)};
  const char *inputs[] = {"ab;cd\r\nef;g", "ab;cd;ef;g", "2:ab,2:cd,2:ef,2:g",
                          "\x02\x00\x00"
                          "ab\x02\x00\x00"
                          "cd\x02\x00\x00"
                          "ef\x02\x00\x00"
                          "g"};
  size_t lens[] = {11, 10, 18, 19};
  for (size_t i = 0; i < 4; i++) {
    fray_framer_callbacks_t cb;
    fray_framer_callbacks_init(&cb);
    cb.on_frame = zc_frame;
    fray_framer_t *f;
    assert_int_equal(fray_framer_new(&f, &specs[i], &cb, NULL, NULL), 0);
    zc_inplace = zc_copied = 0;
    zc_chunk = (const uint8_t *)inputs[i];
    zc_len = lens[i];
    assert_int_equal(fray_framer_feed(f, zc_chunk, zc_len), (fray_ssize_t)zc_len);
    assert_int_equal(zc_inplace, 3);
    assert_int_equal(zc_copied, 0);
    fray_framer_free(f);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_netty_length_examples),
      cmocka_unit_test(test_take_buffered),
      cmocka_unit_test(test_wrap_round_trip),
      cmocka_unit_test(test_zero_copy_new_modes),
      cmocka_unit_test(test_golden_table),
      cmocka_unit_test(test_differential_random),
      cmocka_unit_test(test_spec_switch_in_callback),
      cmocka_unit_test(test_spec_switch_outside_callback),
      cmocka_unit_test(test_overflow_bytewise_bounded),
      cmocka_unit_test(test_zero_copy),
      cmocka_unit_test(test_skip_large_chunk_stays_bounded),
      cmocka_unit_test(test_lifecycle_in_callbacks),
      cmocka_unit_test(test_failing_allocations),
      cmocka_unit_test(test_spec_validation),
      cmocka_unit_test(test_strerror_table),
      cmocka_unit_test(test_line_mode_needs_no_delimiter_fields),
      cmocka_unit_test(test_pause_then_drain_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
