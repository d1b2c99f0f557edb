/* fray frames: cut a byte stream (a file or stdin) into frames with the
 * framing engine and print them. It is the command-line face of
 * fray/framer.h: what a handler would see, frame by frame, for a capture.
 *
 * The output format is a contract other tools parse, so it is spelled out in
 * usage() and must not drift. Speed matters too (a 256 MiB file should frame
 * about as fast as `wc -l` counts it): input is read with read(2) in large
 * blocks, frames are handed out in place by the framer, and output goes to
 * one big buffer written with write(2), never a syscall per frame. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "escape.h"
#include "core/escape_internal.h"
#include "fray/framer.h"

#define READ_SIZE ((size_t)64 * 1024)  /* default read size (the contract) */
#define OUT_SIZE ((size_t)1024 * 1024) /* stdout buffer */
#define OUT_SLICE ((size_t)16 * 1024)  /* frame bytes encoded per buffer check */
#define MAX_CHUNK ((size_t)1 << 30)    /* largest --chunks value */

typedef enum out_format { FMT_TEXT = 0, FMT_HEX, FMT_JSON, FMT_COUNT } out_format_t;

typedef struct frames_ctx {
  out_format_t format;
  char *out; /* OUT_SIZE bytes of pending stdout output */
  size_t olen;
  int write_err; /* errno of a failed stdout write, 0 if none */
  uint64_t frames;
  uint64_t skipped;
  int finishing; /* inside fray_framer_finish: skip reports mean truncation */
  /* The fatal error, if one stopped the framer. */
  int err_code;
  uint64_t err_off, err_size;
  const char *err_reason;
  /* The unfinished frame at the end of the stream, if any. */
  int trunc_seen, trunc_skipped;
  size_t max_frame; /* the effective limit, for messages */
  uint64_t trunc_off, trunc_len;
  uint64_t skip_off; /* where the last skipped frame started */
} frames_ctx_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: fray frames MODE [OPTIONS] [FILE|-]\n"
          "\n"
          "Cuts a byte stream (FILE, or stdin when FILE is - or absent) into frames the\n"
          "way a protocol handler built on fray's framer would see them, and prints one\n"
          "line per frame. The frames never depend on how the input is split into reads.\n"
          "\n"
          "modes (exactly one):\n"
          "  --delim STR        frame = bytes before STR (1-16 bytes), which is stripped.\n"
          "                     STR takes escapes: \\r \\n \\t \\0 \\\\ \\\" \\xHH (two digits).\n"
          "                     Repeat it (up to 8) for a set: the earliest delimiter ends\n"
          "                     the frame; of two starting at one byte the first given wins\n"
          "                     (Netty's DelimiterBasedFrameDecoder)\n"
          "  --byteset BYTES    frame = bytes before any byte of BYTES (escapes as above;\n"
          "                     tokio's AnyDelimiterCodec)\n"
          "  --line             frame = bytes before \\n, one \\r before it also stripped\n"
          "  --count N          frames of exactly N bytes\n"
          "  --length FIELD     length-prefixed frames; FIELD is a width of 1 to 8 bytes and\n"
          "                     be or le (1, 2be, 3be, 4le, 5le, ... 8be), or varint\n"
          "                     (unsigned LEB128)\n"
          "  --netstring        text lengths: 5:hello,\n"
          "  --resp-bulk        text lengths: $5\\r\\nhello\\r\\n\n"
          "  --http-chunk       HTTP/1.1 chunks: 5;ext\\r\\nhello\\r\\n (hex), the last chunk\n"
          "                     0\\r\\n printed as an empty frame\n"
          "  --textlen KEY=V,.. any other text length: base=10|16, prefix=, term=, trailer=\n"
          "                     (0-4 bytes, term 1-4, escapes as above, a comma is \\x2c),\n"
          "                     ext=C (bytes from C up to term are skipped), and the flag\n"
          "                     zero-no-trailer (a 0 length ends at its terminator)\n"
          "  --raw              no framing: every read is one frame (so, unlike the other\n"
          "                     modes, the output shows the --chunks pattern)\n"
          "\n"
          "options:\n"
          "  --max N            largest frame payload (default %zu)\n"
          "  --on-overflow P    error (default): stop at a frame over --max, exit 1;\n"
          "                     skip: warn on stderr, drop that frame, go on\n"
          "  --keep-delim       (--delim, --byteset) keep the delimiter at the end of each\n"
          "                     frame\n"
          "  --length-offset N  (--length) header bytes before the length field (default 0)\n"
          "  --length-adjust N  (--length) signed amount added to the field's value to\n"
          "                     give the body size (e.g. -4 when it counts itself)\n"
          "  --keep-header      (--length) print the whole wire frame, header included\n"
          "                     (default: the body only); the same as --strip 0\n"
          "  --strip N          (--length) cut N bytes from the front of each wire frame\n"
          "                     (default: the header); more than the header cuts into the\n"
          "                     body, and a frame shorter than N is a framing error\n"
          "  --chunks N[,N...]  feed the input in reads of these sizes, cycled\n"
          "                     (default: reads of up to 64 KiB); to check split handling\n"
          "  --format F         text (default): each frame C-escaped as above, one a line\n"
          "                     hex: lowercase hex, one frame a line (empty frame: empty line)\n"
          "                     json: one object a line: {\"offset\":O,\"length\":L,\"frame\":S}\n"
          "                       offset is where the frame starts on the wire; S holds one\n"
          "                       character per byte (U+0000-U+00FF, non-printables and bytes\n"
          "                       >= 0x7f as \\u00XX), so latin-1 encoding S gives the bytes\n"
          "                     count: only the number of frames, on the last line\n"
          "\n"
          "exit status: 0 all input framed; 1 framing error (frame too long, bad length;\n"
          "stderr names the offset); 2 usage or input error; 3 the input ended inside a\n"
          "frame (stderr names its offset and how many bytes were left; the unfinished\n"
          "frame is not printed).\n"
          "\n"
          "examples:\n"
          "  chat line protocol (IRC, SMTP): lines end in \\r\\n or \\n\n"
          "    printf 'NICK alice\\r\\nMSG hi\\r\\n' | fray frames --line\n"
          "  HTTP headers: the header block ends at an empty line\n"
          "    fray frames --delim '\\r\\n\\r\\n' --format text request.bin\n"
          "  4-byte big-endian length prefix, body printed in hex:\n"
          "    printf '\\0\\0\\0\\5hello' | fray frames --length 4be --format hex\n"
          "  does my capture frame the same when it arrives one byte at a time?\n"
          "    fray frames --line --chunks 1 cap.bin | cmp - <(fray frames --line cap.bin)\n"
          "  how many 512-byte records, refusing anything but whole ones:\n"
          "    fray frames --count 512 --format count disk.img\n"
          "  a 3-byte length, then a 2-byte tag to drop (Netty's initialBytesToStrip 5):\n"
          "    printf '\\0\\0\\2TGhi' | fray frames --length 3be --length-adjust 2 --strip 5\n"
          "  records ending in \\n or NUL, whichever comes first:\n"
          "    printf 'a\\nb\\0c\\n' | fray frames --delim '\\n' --delim '\\0'\n"
          "  words split at any blank:\n"
          "    printf 'one two\\tthree\\n' | fray frames --byteset ' \\t\\n'\n"
          "  netstrings and a chunked HTTP body:\n"
          "    printf '5:hello,0:,' | fray frames --netstring\n"
          "    printf '5\\r\\nhello\\r\\n0\\r\\n' | fray frames --http-chunk\n"
          "  the same as --http-chunk, spelled out:\n"
          "    fray frames --textlen 'base=16,term=\\r\\n,trailer=\\r\\n,ext=;,zero-no-trailer'\n",
          FRAY_DEFAULT_MAX_FRAME);
}

/* ---- output ----------------------------------------------------------- */

static void out_flush(frames_ctx_t *c) {
  size_t done = 0;
  while (done < c->olen && !c->write_err) {
    ssize_t w = write(STDOUT_FILENO, c->out + done, c->olen - done);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      c->write_err = errno;
      break;
    }
    done += (size_t)w;
  }
  c->olen = 0;
}

/* Makes room for n more bytes (n <= OUT_SIZE) and returns where to write. */
static char *out_room(frames_ctx_t *c, size_t n) {
  if (OUT_SIZE - c->olen < n)
    out_flush(c);
  return c->out + c->olen;
}

static void out_bytes(frames_ctx_t *c, const char *s, size_t n) {
  memcpy(out_room(c, n), s, n);
  c->olen += n;
}

static void put_hex(frames_ctx_t *c, const uint8_t *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  while (n) {
    size_t k = n < OUT_SLICE ? n : OUT_SLICE;
    char *o = out_room(c, 2 * k);
    for (size_t i = 0; i < k; i++) {
      o[2 * i] = hex[p[i] >> 4];
      o[2 * i + 1] = hex[p[i] & 15];
    }
    c->olen += 2 * k;
    p += k;
    n -= k;
  }
}

static void put_text(frames_ctx_t *c, const uint8_t *p, size_t n) {
  while (n) {
    size_t k = n < OUT_SLICE ? n : OUT_SLICE;
    char *o = out_room(c, FRAY__ESC_MAX(k));
    c->olen += fray__escape(o, p, k, 0);
    p += k;
    n -= k;
  }
}

/* JSON strings must be Unicode, and frames are arbitrary bytes, so each byte
 * becomes the code point of the same value (latin-1): valid JSON for any
 * input, and reversible without a side channel. */
static void put_json_string(frames_ctx_t *c, const uint8_t *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  while (n) {
    size_t k = n < OUT_SLICE ? n : OUT_SLICE;
    char *o = out_room(c, 6 * k), *s = o;
    for (size_t i = 0; i < k; i++) {
      uint8_t b = p[i];
      if (b == '"' || b == '\\') {
        *o++ = '\\';
        *o++ = (char)b;
      } else if (b >= 0x20 && b < 0x7f) {
        *o++ = (char)b;
      } else if (b == '\n' || b == '\r' || b == '\t') {
        *o++ = '\\';
        *o++ = b == '\n' ? 'n' : b == '\r' ? 'r' : 't';
      } else {
        memcpy(o, "\\u00", 4);
        o[4] = hex[b >> 4];
        o[5] = hex[b & 15];
        o += 6;
      }
    }
    c->olen += (size_t)(o - s);
    p += k;
    n -= k;
  }
}

/* ---- framer callbacks ------------------------------------------------- */

static int on_frame_count(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  (void)f;
  (void)fr;
  ((frames_ctx_t *)ud)->frames++;
  return 0;
}

static int on_frame_print(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  frames_ctx_t *c = ud;
  (void)f;
  c->frames++;
  switch (c->format) {
  case FMT_HEX:
    put_hex(c, fr->data, fr->len);
    break;
  case FMT_JSON: {
    char head[96];
    int hn = snprintf(head, sizeof head, "{\"offset\":%" PRIu64 ",\"length\":%zu,\"frame\":\"",
                      fr->offset, fr->len);
    out_bytes(c, head, (size_t)hn);
    put_json_string(c, fr->data, fr->len);
    out_bytes(c, "\"}", 2);
    break;
  }
  default:
    put_text(c, fr->data, fr->len);
    break;
  }
  out_bytes(c, "\n", 1);
  return 0;
}

static int on_error(fray_framer_t *f, const fray_frame_error_t *e, void *ud) {
  frames_ctx_t *c = ud;
  (void)f;
  if (e->fatal) {
    c->err_code = e->code;
    c->err_off = e->offset;
    c->err_size = e->size;
    c->err_reason = e->reason;
    return 0;
  }
  c->skipped++;
  c->skip_off = e->offset;
  if (c->finishing) {
    /* The stream ended while an oversized frame was being discarded. */
    c->trunc_seen = c->trunc_skipped = 1;
    c->trunc_off = e->offset;
    c->trunc_len = e->size;
  }
  /* Pending frames go out first so stdout and stderr stay in order when
   * both go to one terminal. */
  out_flush(c);
  fprintf(stderr,
          "fray frames: warning: skipped frame at offset %" PRIu64 " (%" PRIu64
          " bytes): %s (%s)\n",
          e->offset, e->size, e->reason ? e->reason : "", fray_err_name(e->code));
  return 0;
}

static int on_truncated(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  frames_ctx_t *c = ud;
  (void)f;
  c->trunc_seen = 1;
  c->trunc_off = fr->offset;
  c->trunc_len = fr->len;
  return 0;
}

/* ---- argument parsing ------------------------------------------------- */

static int parse_signed(const char *opt, const char *s, int64_t *out) {
  int neg = *s == '-';
  uint64_t v;
  if (*s == '-' || *s == '+')
    s++;
  if (fray_cli_parse_u64(s, &v) || v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
    fray_cli_usage_error("frames", "%s needs a signed integer, got '%s'", opt, neg ? s - 1 : s);
    return -1;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

/* FIELD of --length: a width of 1 to 8 bytes and its byte order ("3be",
 * "5le"; a width of 1 needs none), or varint. The widths with a named field
 * (1, 2, 4, 8) use it, so `--length 4be` is FRAY_LEN_U32BE as documented. */
static int parse_field(const char *s, fray_spec_t *out) {
  static const struct {
    const char *name;
    fray_lenfield_t field;
  } fields[] = {{"1", FRAY_LEN_U8},         {"1be", FRAY_LEN_U8},    {"1le", FRAY_LEN_U8},
                {"2be", FRAY_LEN_U16BE},    {"2le", FRAY_LEN_U16LE}, {"4be", FRAY_LEN_U32BE},
                {"4le", FRAY_LEN_U32LE},    {"8be", FRAY_LEN_U64BE}, {"8le", FRAY_LEN_U64LE},
                {"varint", FRAY_LEN_VARINT}};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (!strcmp(s, fields[i].name)) {
      *out = fray_spec_length(fields[i].field);
      return 0;
    }
  if (s[0] < '1' || s[0] > '8' || (strcmp(s + 1, "be") && strcmp(s + 1, "le")))
    return -1;
  *out = fray_spec_length_uint((size_t)(s[0] - '0'), s[1] == 'l');
  return 0;
}

/* The escaped bytes of option opt's value val into out[cap]: their count,
 * or -1 after a usage message naming the value. what names the limit. */
static long unescape_opt(const char *opt, const char *val, uint8_t *out, size_t cap,
                         const char *what) {
  size_t bad;
  long n = fray_cli_unescape(val, out, cap, &bad);
  if (n < 0 && bad >= strlen(val)) {
    fray_cli_usage_error("frames", "%s '%s' is longer than %s", opt, val, what);
    return -1;
  }
  if (n < 0) {
    fray_cli_usage_error("frames",
                         "%s '%s': unknown escape at '%s' (known: \\r \\n \\t \\0 \\\\ \\\" \\xHH)",
                         opt, val, val + bad);
    return -1;
  }
  return n;
}

/* One KEY=VALUE item of --textlen into s; -1 after a usage message. */
static int parse_text_item(const char *val, char *item, fray_spec_t *s) {
  char *eq = strchr(item, '=');
  if (!strcmp(item, "zero-no-trailer")) {
    s->text.zero_no_trailer = 1;
    return 0;
  }
  if (!eq)
    return fray_cli_usage_error("frames",
                                "--textlen '%s': '%s' is not KEY=VALUE (keys: base, prefix, term, "
                                "trailer, ext; flag: zero-no-trailer)",
                                val, item);
  *eq = 0;
  const char *v = eq + 1;
  uint8_t buf[FRAY_MAX_TEXT_AFFIX], *dst = NULL, *len = NULL;
  if (!strcmp(item, "base")) {
    if (strcmp(v, "10") && strcmp(v, "16"))
      return fray_cli_usage_error("frames", "--textlen '%s': base is 10 or 16, got '%s'", val, v);
    s->text.base = (uint8_t)atoi(v);
    return 0;
  }
  if (!strcmp(item, "prefix"))
    dst = s->text.prefix, len = &s->text.prefix_len;
  else if (!strcmp(item, "term"))
    dst = s->text.term, len = &s->text.term_len;
  else if (!strcmp(item, "trailer"))
    dst = s->text.trailer, len = &s->text.trailer_len;
  else if (strcmp(item, "ext"))
    return fray_cli_usage_error(
        "frames",
        "--textlen '%s': unknown key '%s' (base, prefix, term, trailer, ext, "
        "zero-no-trailer)",
        val, item);
  long n = unescape_opt("--textlen", v, buf, sizeof buf, "4 bytes");
  if (n < 0)
    return -1;
  if (!dst) {
    if (n != 1)
      return fray_cli_usage_error("frames", "--textlen '%s': ext is one byte, got '%s'", val, v);
    s->text.ext = buf[0];
    return 0;
  }
  memcpy(dst, buf, (size_t)n);
  *len = (uint8_t)n;
  return 0;
}

/* --textlen KEY=VALUE,... into a text-length spec (base 10 unless said). */
static int parse_textlen(const char *val, fray_spec_t *s) {
  memset(s, 0, sizeof *s);
  s->mode = FRAY_MODE_TEXTLEN;
  s->text.base = 10;
  char *copy = strdup(val);
  if (!copy) {
    fprintf(stderr, "fray frames: out of memory\n");
    return -1;
  }
  int rc = 0;
  for (char *item = copy, *next; item && !rc; item = next) {
    next = strchr(item, ',');
    if (next)
      *next++ = 0;
    rc = parse_text_item(val, item, s);
  }
  free(copy);
  return rc;
}

/* "1,3,7" into a malloc'd array; NULL (after a usage message) on error. */
static size_t *parse_chunks(const char *s, size_t *n) {
  size_t cap = 1;
  for (const char *p = s; *p; p++)
    cap += *p == ',';
  size_t *v = malloc(cap * sizeof *v);
  char *copy = strdup(s);
  if (!v || !copy) {
    free(v);
    free(copy);
    fprintf(stderr, "fray frames: out of memory\n");
    return NULL;
  }
  size_t k = 0;
  char *p = copy;
  for (;;) {
    char *comma = strchr(p, ',');
    if (comma)
      *comma = 0;
    uint64_t x;
    /* A chunk is read whole into one buffer, hence the cap. */
    if (fray_cli_parse_u64(p, &x) || x == 0 || x > MAX_CHUNK) {
      fprintf(stderr,
              "fray frames: --chunks needs integers from 1 to %zu separated by "
              "commas, got '%s' in '%s' (see fray frames --help)\n",
              MAX_CHUNK, p, s);
      free(v);
      free(copy);
      return NULL;
    }
    v[k++] = (size_t)x;
    if (!comma)
      break;
    p = comma + 1;
  }
  free(copy);
  *n = k;
  return v;
}

/* ---- the command ------------------------------------------------------ */

/* Every option is kept as given and the spec is built once parsing is done,
 * so the order of options does not matter. The mode options fill `mode_spec`
 * (the field of --length, the delimiters, the byte set, the text format);
 * the modifiers are applied to it in build_spec(). */
typedef struct frames_opts {
  const char *mode_opt; /* the option that chose the mode (mode_name), for messages */
  char mode_name[32];
  const char *mode_val; /* its value (NULL for flags), for messages */
  fray_spec_t mode_spec;
  size_t max;
  int have_max;
  fray_overflow_t overflow;
  int keep_delim, keep_header;
  const char *length_opt; /* first --length-* option seen, for messages */
  size_t length_offset;
  int64_t length_adjust;
  const char *strip_val; /* --strip as given, NULL when absent */
  size_t strip;
  size_t *chunks, nchunks;
  out_format_t format;
  const char *file;
} frames_opts_t;

static int set_mode(frames_opts_t *o, const char *opt, const char *val, fray_spec_t spec) {
  if (o->mode_opt) {
    fray_cli_usage_error("frames", "%s and %s are exclusive: choose one mode", o->mode_opt, opt);
    return -1;
  }
  /* opt may be the argument parser's buffer, which the next option reuses. */
  snprintf(o->mode_name, sizeof o->mode_name, "%s", opt);
  o->mode_opt = o->mode_name;
  o->mode_val = val;
  o->mode_spec = spec;
  return 0;
}

static const fray_cli_opt_t opts_table[] = {
    {"--line", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--raw", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--delim", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--byteset", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--count", FRAY_CLI_COUNT, 1, SIZE_MAX / 4, NULL},
    {"--length", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--netstring", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--resp-bulk", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--http-chunk", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--textlen", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--max", FRAY_CLI_COUNT, 1, SIZE_MAX / 4, NULL},
    {"--on-overflow", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--keep-delim", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--keep-header", FRAY_CLI_FLAG, 0, 0, NULL},
    {"--length-offset", FRAY_CLI_COUNT, 0, FRAY_MAX_LENGTH_OFFSET, NULL},
    {"--length-adjust", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--strip", FRAY_CLI_COUNT, 0, SIZE_MAX / 4, NULL},
    {"--chunks", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--format", FRAY_CLI_TEXT, 0, 0, NULL},
};

/* --delim, repeatable: each one joins the set (one alone is FRAY_MODE_DELIM
 * in build_spec()). */
static int parse_delim(frames_opts_t *o, const char *val) {
  uint8_t d[FRAY_MAX_DELIM];
  if (o->mode_opt && strcmp(o->mode_opt, "--delim"))
    return fray_cli_usage_error("frames", "%s and --delim are exclusive: choose one mode",
                                o->mode_opt);
  if (!o->mode_opt)
    set_mode(o, "--delim", val, fray_spec_delims());
  long n = unescape_opt("--delim", val, d, sizeof d, "16 bytes");
  if (n < 0)
    return -1;
  if (n == 0)
    return fray_cli_usage_error("frames", "--delim '%s' is empty: a delimiter has 1 to 16 bytes",
                                val);
  if (fray_spec_delims_add(&o->mode_spec, d, (size_t)n))
    return fray_cli_usage_error("frames", "--delim '%s': at most %d delimiters", val,
                                FRAY_MAX_DELIMS);
  return 0;
}

/* The options that choose the mode: 1 when name is not one of them. */
static int parse_mode_opt(frames_opts_t *o, const fray_cli_args_t *a) {
  const char *name = a->name, *val = a->val;
  fray_spec_t s;
  if (!strcmp(name, "--line"))
    return set_mode(o, name, val, fray_spec_line());
  if (!strcmp(name, "--raw"))
    return set_mode(o, name, val, fray_spec_raw());
  if (!strcmp(name, "--netstring"))
    return set_mode(o, name, val, fray_spec_netstring());
  if (!strcmp(name, "--resp-bulk"))
    return set_mode(o, name, val, fray_spec_resp_bulk());
  if (!strcmp(name, "--http-chunk"))
    return set_mode(o, name, val, fray_spec_http_chunk());
  if (!strcmp(name, "--delim"))
    return parse_delim(o, val);
  if (!strcmp(name, "--count"))
    return set_mode(o, name, val, fray_spec_count((size_t)a->num));
  if (!strcmp(name, "--length")) {
    if (parse_field(val, &s))
      return fray_cli_usage_error(
          "frames",
          "--length: unknown FIELD '%s' (1 to 8 then be or le, as in 2be, 3be, "
          "5le; or varint)",
          val);
    return set_mode(o, name, val, s);
  }
  if (!strcmp(name, "--byteset")) {
    uint8_t b[256];
    long n = unescape_opt("--byteset", val, b, sizeof b, "256 bytes");
    if (n < 0)
      return -1;
    if (n == 0)
      return fray_cli_usage_error("frames", "--byteset '%s' is empty: give at least one byte", val);
    return set_mode(o, name, val, fray_spec_byteset(b, (size_t)n));
  }
  if (!strcmp(name, "--textlen"))
    return parse_textlen(val, &s) ? -1 : set_mode(o, name, val, s);
  return 1;
}

/* --length-offset, --length-adjust, --keep-header and --strip, which only
 * --length takes: 1 when name is not one of them. */
static int parse_length_opt(frames_opts_t *o, const fray_cli_args_t *a) {
  const char *name = a->name, *val = a->val;
  static const char *const names[] = {"--keep-header", "--length-offset", "--length-adjust",
                                      "--strip"};
  size_t k = 0;
  while (k < 4 && strcmp(name, names[k]))
    k++;
  if (k == 4)
    return 1;
  if (!o->length_opt)
    o->length_opt = names[k]; /* name is the parser's buffer: keep the literal */
  if (!strcmp(name, "--keep-header")) {
    o->keep_header = 1;
    return 0;
  }
  if (!strcmp(name, "--length-offset")) {
    o->length_offset = (size_t)a->num;
    return 0;
  }
  if (!strcmp(name, "--strip")) {
    o->strip = (size_t)a->num;
    o->strip_val = val;
    return 0;
  }
  return parse_signed("--length-adjust", val, &o->length_adjust);
}

/* One option, counts already read and checked (opts.h). Returns -1 after a
 * usage message. */
static int parse_opt(frames_opts_t *o, const fray_cli_args_t *a) {
  const char *name = a->name, *val = a->val;
  int r = parse_mode_opt(o, a);
  if (r <= 0)
    return r;
  r = parse_length_opt(o, a);
  if (r <= 0)
    return r;
  if (!strcmp(name, "--max")) {
    o->have_max = 1;
    o->max = (size_t)a->num;
    return 0;
  }
  if (!strcmp(name, "--on-overflow")) {
    if (!strcmp(val, "error"))
      o->overflow = FRAY_OVERFLOW_ERROR;
    else if (!strcmp(val, "skip"))
      o->overflow = FRAY_OVERFLOW_SKIP;
    else
      return fray_cli_usage_error("frames", "--on-overflow takes error or skip, got '%s'", val);
    return 0;
  }
  if (!strcmp(name, "--keep-delim")) {
    o->keep_delim = 1;
    return 0;
  }
  if (!strcmp(name, "--chunks")) {
    free(o->chunks);
    o->chunks = parse_chunks(val, &o->nchunks);
    return o->chunks ? 0 : -1;
  }
  if (!strcmp(name, "--format")) {
    static const char *const names[] = {"text", "hex", "json", "count"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
      if (!strcmp(val, names[k])) {
        o->format = (out_format_t)k;
        return 0;
      }
    return fray_cli_usage_error("frames", "--format takes text, hex, json or count, got '%s'", val);
  }
  return fray_cli_usage_error("frames", "unknown option '%s'", name);
}

/* Parses argv into o: -1 after a usage message, 1 after printing help, 0
 * when the command should run. */
static int parse_args(int argc, char **argv, frames_opts_t *o) {
  fray_cli_args_t args;
  fray_cli_args_init(&args, "frames", FRAY_CLI_TABLE(opts_table), usage, argc, argv);
  for (;;) {
    fray_cli_arg_t k = fray_cli_next_arg(&args);
    if (k == FRAY_CLI_ARG_END)
      break;
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return k == FRAY_CLI_ARG_HELP ? 1 : -1;
    if (k == FRAY_CLI_ARG_OPERAND) {
      if (o->file)
        return fray_cli_usage_error("frames", "one input at most: '%s' after '%s'", args.val,
                                    o->file);
      o->file = args.val;
      continue;
    }
    if (parse_opt(o, &args))
      return -1;
  }
  fray_mode_t m = o->mode_spec.mode;
  if (!o->mode_opt)
    return fray_cli_usage_error(
        "frames", "no mode given: use one of --delim STR, --byteset BYTES, --line, "
                  "--count N, --length FIELD, --netstring, --resp-bulk, --http-chunk, "
                  "--textlen SPEC, --raw");
  if (o->keep_delim && m != FRAY_MODE_DELIMS && m != FRAY_MODE_BYTESET)
    return fray_cli_usage_error(
        "frames", "--keep-delim applies to --delim and --byteset only, not %s", o->mode_opt);
  if (o->length_opt && m != FRAY_MODE_LENGTH)
    return fray_cli_usage_error("frames", "%s applies to --length only, not %s", o->length_opt,
                                o->mode_opt);
  if (o->keep_header && o->strip_val)
    return fray_cli_usage_error(
        "frames", "--keep-header and --strip %s are exclusive (--keep-header is --strip 0)",
        o->strip_val);
  return 0;
}

/* Validates spec; on failure prints the reason naming opt and its value. */
static int check_spec(const fray_spec_t *spec, const char *opt, const char *val) {
  const char *why = NULL;
  if (!fray_spec_validate(spec, &why))
    return 0;
  fprintf(stderr, "fray frames: %s%s%s%s: %s (see fray frames --help)\n", opt, val ? " '" : "",
          val ? val : "", val ? "'" : "", why ? why : "invalid framing options");
  return -1;
}

static int build_spec(const frames_opts_t *o, fray_spec_t *spec) {
  *spec = o->mode_spec;
  if (spec->mode == FRAY_MODE_DELIMS && spec->delims.n == 1)
    *spec = fray_spec_delim(spec->delims.bytes[0], spec->delims.len[0]);
  spec->delim.keep = o->keep_delim;
  if (spec->mode == FRAY_MODE_LENGTH) {
    spec->length.offset = o->length_offset;
    spec->length.adjust = o->length_adjust;
    spec->length.strip = o->keep_header ? 0 : FRAY_STRIP_HEADER;
  }
  spec->on_overflow = o->overflow;
  if (o->have_max)
    spec->max_frame = o->max;
  else if (spec->mode == FRAY_MODE_COUNT && spec->count > FRAY_DEFAULT_MAX_FRAME)
    spec->max_frame = spec->count; /* asking for big records is asking for the room */
  if (check_spec(spec, o->mode_opt, o->mode_val))
    return -1;
  /* The strip is checked against the rest of the spec, so that a strip no
   * frame can have is blamed on --strip. */
  if (o->strip_val)
    spec->length.strip = o->strip;
  return check_spec(spec, "--strip", o->strip_val);
}

/* Reports how the run ended and picks the exit status. rc is what the last
 * feed or finish returned. */
static int conclude(frames_ctx_t *c, fray_framer_t *f, int rc) {
  if (c->format == FMT_COUNT) {
    char line[32];
    int n = snprintf(line, sizeof line, "%" PRIu64 "\n", c->frames);
    out_bytes(c, line, (size_t)n);
  }
  out_flush(c);
  int status = FRAY_EXIT_OK;
  if (rc == FRAY_ETRUNCATED) {
    if (c->trunc_seen)
      fprintf(stderr,
              "fray frames: input ended inside a %sframe at offset %" PRIu64 " (%" PRIu64
              " bytes left)\n",
              c->trunc_skipped ? "skipped " : "", c->trunc_off, c->trunc_len);
    else
      /* A skipped length-prefixed frame was reported when its header was
       * read; only where it started and where the stream ended are known. */
      fprintf(stderr,
              "fray frames: input ended inside a skipped frame at offset %" PRIu64
              " (the stream ended at offset %" PRIu64 ")\n",
              c->skip_off, fray_framer_offset(f));
    status = FRAY_EXIT_TRUNCATED;
  } else if (rc < 0) {
    /* The size of a frame stopped for being too long is how much the
     * framer had seen, which depends on the read sizes; the message shows
     * only what does not (the limit), so stderr is chunking-invariant too. */
    if (c->err_code == FRAY_ETOOLONG)
      fprintf(stderr, "fray frames: framing error at offset %" PRIu64 ": %s (%s, over %zu bytes)\n",
              c->err_off, c->err_reason ? c->err_reason : fray_strerror(c->err_code),
              fray_err_name(c->err_code), c->max_frame);
    else if (c->err_code)
      fprintf(stderr,
              "fray frames: framing error at offset %" PRIu64 ": %s (%s, %" PRIu64 " bytes)\n",
              c->err_off, c->err_reason ? c->err_reason : fray_strerror(c->err_code),
              fray_err_name(c->err_code), c->err_size);
    else
      fprintf(stderr, "fray frames: framing stopped at offset %" PRIu64 ": %s (%s)\n",
              fray_framer_offset(f), fray_strerror(rc), fray_err_name(rc));
    status = FRAY_EXIT_FAIL;
  }
  if (c->write_err) {
    fprintf(stderr, "fray frames: cannot write output: %s\n", strerror(c->write_err));
    if (status == FRAY_EXIT_OK)
      status = FRAY_EXIT_USAGE;
  }
  return status;
}

/* The size of the next feed: the --chunks pattern, or READ_SIZE. */
static size_t next_chunk(const frames_opts_t *o, size_t *ci) {
  if (!o->nchunks)
    return READ_SIZE;
  size_t n = o->chunks[*ci];
  *ci = (*ci + 1) % o->nchunks;
  return n;
}

/* Feeds a mapped file. A mapping spares the kernel's copy into a read
 * buffer, which is a quarter of the time of --line --format count. */
static fray_ssize_t feed_mapped(fray_framer_t *f, const frames_opts_t *o, const uint8_t *p,
                                size_t len) {
  size_t ci = 0;
  while (len) {
    size_t n = next_chunk(o, &ci);
    if (n > len)
      n = len;
    fray_ssize_t fed = fray_framer_feed(f, p, n);
    if (fed < 0)
      return fed;
    p += n;
    len -= n;
  }
  return 0;
}

/* Feeds a pipe or a file that cannot be mapped. With --chunks each feed has
 * exactly the requested size whatever read(2) returns, so a run is
 * reproducible from its command line. Returns the framer's error, or
 * FRAY_EIO with *read_err set when read(2) failed. */
static fray_ssize_t feed_fd(fray_framer_t *f, const frames_opts_t *o, int fd, uint8_t *buf,
                            size_t bufsize, int *read_err) {
  size_t pos = 0, have = 0, ci = 0;
  int eof = 0;
  for (;;) {
    size_t want = o->nchunks ? next_chunk(o, &ci) : bufsize;
    if (have == 0)
      pos = 0;
    /* Without --chunks, one read is one feed. */
    while (have < want && !eof && (o->nchunks || have == 0)) {
      if (pos + want > bufsize) {
        memmove(buf, buf + pos, have);
        pos = 0;
      }
      ssize_t r = read(fd, buf + pos + have, bufsize - pos - have);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0) {
        *read_err = errno;
        return FRAY_EIO;
      }
      if (r == 0)
        eof = 1;
      have += (size_t)r;
    }
    size_t n = have < want ? have : want;
    if (n == 0)
      return 0;
    fray_ssize_t fed = fray_framer_feed(f, buf + pos, n);
    if (fed < 0)
      return fed;
    pos += n;
    have -= n;
  }
}

static int run(const frames_opts_t *o, const fray_spec_t *spec) {
  const char *name = o->file && strcmp(o->file, "-") ? o->file : NULL;
  int fd = STDIN_FILENO;
  if (name) {
    fd = open(name, O_RDONLY);
    if (fd < 0) {
      fprintf(stderr, "fray frames: cannot open '%s': %s\n", name, strerror(errno));
      return FRAY_EXIT_USAGE;
    }
  }
  size_t bufsize = READ_SIZE;
  for (size_t k = 0; k < o->nchunks; k++)
    if (o->chunks[k] > bufsize)
      bufsize = o->chunks[k];
  frames_ctx_t c = {.format = o->format,
                    .max_frame = spec->max_frame ? spec->max_frame : FRAY_DEFAULT_MAX_FRAME};
  uint8_t *buf = NULL;
  void *map = MAP_FAILED;
  size_t map_len = 0;
  c.out = malloc(OUT_SIZE);
  fray_framer_t *f = NULL;
  int status = FRAY_EXIT_USAGE;

  /* Regular files are mapped; anything else (pipes, terminals, files that
   * refuse mmap) is read. Raw mode reads too, so its frames are the reads of
   * up to 64 KiB promised by --help whatever the input is. */
  struct stat st;
  if (spec->mode != FRAY_MODE_RAW && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      (uint64_t)st.st_size <= SIZE_MAX) {
    map_len = (size_t)st.st_size;
    map = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map != MAP_FAILED)
      (void)madvise(map, map_len, MADV_SEQUENTIAL);
  }
  if (map == MAP_FAILED)
    buf = malloc(bufsize);
  if ((map == MAP_FAILED && !buf) || !c.out) {
    fprintf(stderr, "fray frames: out of memory\n");
    goto done;
  }
  fray_framer_callbacks_t cb;
  fray_framer_callbacks_init(&cb);
  /* Counting needs no bytes: a lean callback keeps --format count at the
   * speed of the framer itself. */
  cb.on_frame = o->format == FMT_COUNT ? on_frame_count : on_frame_print;
  cb.on_error = on_error;
  cb.on_truncated = on_truncated;
  int rc = fray_framer_new(&f, spec, &cb, NULL, &c);
  if (rc) {
    fprintf(stderr, "fray frames: cannot create the framer: %s\n", fray_strerror(rc));
    goto done;
  }

  int read_err = 0;
  fray_ssize_t fed = map != MAP_FAILED ? feed_mapped(f, o, map, map_len)
                                       : feed_fd(f, o, fd, buf, bufsize, &read_err);
  if (read_err) {
    out_flush(&c);
    fprintf(stderr, "fray frames: cannot read '%s': %s\n", name ? name : "stdin",
            strerror(read_err));
    goto done;
  }
  if (fed >= 0) {
    c.finishing = 1;
    rc = fray_framer_finish(f);
  } else {
    rc = (int)fed;
  }
  status = conclude(&c, f, rc);

done:
  fray_framer_free(f);
  free(buf);
  if (map != MAP_FAILED)
    munmap(map, map_len);
  free(c.out);
  if (name)
    close(fd);
  return status;
}

int fray_cli_frames(int argc, char **argv) {
  frames_opts_t o = {.overflow = FRAY_OVERFLOW_ERROR, .format = FMT_TEXT};
  int status;
  int p = parse_args(argc, argv, &o);
  if (p < 0) {
    status = FRAY_EXIT_USAGE;
  } else if (p > 0) {
    status = FRAY_EXIT_OK;
  } else {
    fray_spec_t spec;
    status = build_spec(&o, &spec) ? FRAY_EXIT_USAGE : run(&o, &spec);
  }
  free(o.chunks);
  return status;
}
