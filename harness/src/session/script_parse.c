/* `.fray` session scripts: the parser.
 *
 * The parser is a hand-written single pass over the text. Every statement
 * lives on one line, so an error position is always (current line, byte
 * offset from the line's start). Data is expanded while parsing (strings,
 * hex, repetition, files) into one growing buffer per statement whose
 * ownership then moves to the step, so the peak memory is the expanded
 * script plus one statement; a global byte budget is checked before every
 * growth, so hostile input (`"x" * 99999999999`, `file /dev/zero`) ends in an
 * error with a position, never in a huge allocation. */
#include "fray/script.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/escape_internal.h"
#include "core/internal.h"
#include "session/regex_internal.h"
#include "session/script_internal.h"

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

#define FILE_CHUNK 16384 /* read size for `file` pieces and the script */

char *fray_script_error_format(const fray_script_error_t *err, char *buf, size_t size) {
  if (!buf || size == 0)
    return buf;
  if (!err) {
    buf[0] = '\0';
    return buf;
  }
  if (err->line)
    snprintf(buf, size, "%s:%zu:%zu: %s", err->file, err->line, err->column, err->message);
  else
    snprintf(buf, size, "%s: %s", err->file, err->message);
  return buf;
}

typedef struct bytevec {
  uint8_t *p;
  size_t len, cap;
} bytevec_t;

typedef struct parser {
  fray_script_t *s;
  const char *text;
  size_t len;
  size_t pos;
  size_t line;       /* 1-based number of the current line */
  size_t line_start; /* offset of the current line's first byte */
  const char *filename;
  char *base_dir; /* NULL: relative to the current directory */
  size_t max_bytes, max_repeat;
  int deny_files;
  char *files_under; /* resolved; NULL: anywhere */
  size_t total;      /* expanded bytes so far, checked against max_bytes */
  size_t handler_line;
  bytevec_t data;       /* the statement being parsed */
  fray__regex_t *regex; /* its compiled pattern, for `~` */
  size_t *cuts;         /* its cut offsets */
  size_t ncuts, capcuts;
  fray_script_error_t *err;
} parser_t;

static void set_err(fray_script_error_t *err, int code, const char *file, size_t line, size_t col,
                    const char *msg) {
  if (!err)
    return;
  err->code = code;
  snprintf(err->file, sizeof err->file, "%s", file ? file : "<script>");
  err->line = line;
  err->column = col;
  snprintf(err->message, sizeof err->message, "%s", msg);
}

/* Records an error at text offset pos (on the current line) and returns
 * code, so callers can `return fail(...)`. */
PRINTF_LIKE(4, 5)
static int fail(parser_t *p, int code, size_t pos, const char *fmt, ...) {
  char msg[256];
  if (code == FRAY_ENOMEM) {
    snprintf(msg, sizeof msg, "out of memory");
  } else {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
  }
  set_err(p->err, code, p->filename, p->line, pos - p->line_start + 1, msg);
  return code;
}

static int peek(const parser_t *p) {
  return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1;
}

static int at_end_of_statement(const parser_t *p) {
  int c = peek(p);
  return c == -1 || c == '\n' || c == '#';
}

static void skip_ws(parser_t *p) {
  while (p->pos < p->len &&
         (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' || p->text[p->pos] == '\r'))
    p->pos++;
}

/* Whether the word w starts at the current position (not as a prefix of a
 * longer word). */
static int at_word(const parser_t *p, const char *w) {
  size_t n = strlen(w);
  if (p->len - p->pos < n || memcmp(p->text + p->pos, w, n) != 0)
    return 0;
  return p->pos + n == p->len || !fray__script_name_char((unsigned char)p->text[p->pos + n]);
}

static size_t word_len(const parser_t *p) {
  size_t n = 0;
  while (p->pos + n < p->len && fray__script_name_char((unsigned char)p->text[p->pos + n]))
    n++;
  return n;
}

/* Grows the statement buffer for n more data bytes (plus the trailing NUL),
 * charging them to the script's byte budget first. pos locates the error. */
static int need(parser_t *p, size_t n, size_t pos) {
  if (n > p->max_bytes - p->total)
    return fail(p, FRAY_ERANGE, pos, "script data over the limit of %zu bytes (max_bytes)",
                p->max_bytes);
  bytevec_t *b = &p->data;
  /* The budget bounds what the buffer must hold; doubling past it would
   * waste up to half of a large allocation. */
  if (fray__grow_max(&p->s->mem, (void **)&b->p, &b->cap, b->len + n + 1, 1, p->max_bytes + 1))
    return fail(p, FRAY_ENOMEM, pos, "out of memory");
  p->total += n;
  return 0;
}

static int append(parser_t *p, const void *src, size_t n, size_t pos) {
  int rc = need(p, n, pos);
  if (rc)
    return rc;
  memcpy(p->data.p + p->data.len, src, n);
  p->data.len += n;
  return 0;
}

/* Reads a quoted string at the current position (which is '"') and appends
 * its decoded bytes to p->data. */
static int read_string(parser_t *p) {
  size_t open = p->pos++;
  for (;;) {
    size_t run = p->pos;
    while (p->pos < p->len) {
      unsigned char c = (unsigned char)p->text[p->pos];
      if (c == '"' || c == '\\' || c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f)
        break;
      p->pos++;
    }
    if (p->pos > run) {
      int rc = append(p, p->text + run, p->pos - run, run);
      if (rc)
        return rc;
    }
    int c = peek(p);
    if (c == -1 || c == '\n')
      return fail(p, FRAY_ESYNTAX, open, "unterminated string (expected '\"' before end of line)");
    if (c == '"') {
      p->pos++;
      return 0;
    }
    if (c != '\\')
      return fail(p, FRAY_ESYNTAX, p->pos, "control byte 0x%02x in a string (write it as \\x%02x)",
                  (unsigned)c, (unsigned)c);
    size_t esc = p->pos++, used;
    int e = peek(p);
    int b = fray__unescape1(p->text + p->pos, p->len - p->pos, &used);
    if (b == FRAY__UNESC_BAD_HEX)
      return fail(p, FRAY_ESYNTAX, esc, "expected two hex digits after '\\x'");
    if (b < 0) {
      if (e > 0x20 && e < 0x7f)
        return fail(p, FRAY_ESYNTAX, esc,
                    "unknown escape '\\%c' (expected \\r \\n \\t \\0 \\\\ \\\" or \\xHH)", e);
      return fail(p, FRAY_ESYNTAX, esc,
                  "unknown escape (expected \\r \\n \\t \\0 \\\\ \\\" or \\xHH after '\\')");
    }
    uint8_t byte = (uint8_t)b;
    p->pos += used;
    int rc = append(p, &byte, 1, esc);
    if (rc)
      return rc;
  }
}

/* Reads `"..."` of hex digit pairs (spaces allowed between bytes). */
static int read_hex(parser_t *p) {
  size_t open = p->pos++;
  for (;;) {
    while (p->pos < p->len && (p->text[p->pos] == ' ' || p->text[p->pos] == '\t'))
      p->pos++;
    int c = peek(p);
    if (c == -1 || c == '\n')
      return fail(p, FRAY_ESYNTAX, open, "unterminated string (expected '\"' before end of line)");
    if (c == '"') {
      p->pos++;
      return 0;
    }
    int hi = fray__hexval(c);
    if (hi < 0)
      return fail(p, FRAY_ESYNTAX, p->pos, "expected hex digits or '\"' in a 'hex' string");
    int lo = p->pos + 1 < p->len ? fray__hexval((unsigned char)p->text[p->pos + 1]) : -1;
    if (lo < 0)
      return fail(p, FRAY_ESYNTAX, p->pos, "expected two hex digits per byte in a 'hex' string");
    uint8_t byte = (uint8_t)(hi << 4 | lo);
    int rc = append(p, &byte, 1, p->pos);
    if (rc)
      return rc;
    p->pos += 2;
  }
}

static const char *file_kind(mode_t mode) {
  return S_ISDIR(mode)    ? "a directory"
         : S_ISFIFO(mode) ? "a FIFO"
         : S_ISCHR(mode)  ? "a character device"
         : S_ISBLK(mode)  ? "a block device"
         : S_ISSOCK(mode) ? "a socket"
                          : "not a regular file";
}

/* Opens the file of a `file` piece for reading, or fails located at kw.
 * Only regular files: a FIFO would block the parser forever and a device
 * never ends. O_NONBLOCK makes the open itself return at once on a FIFO
 * (regular files ignore it). Under files_under, the path with every link
 * resolved must lie inside that directory, and that resolved path is what
 * is opened, without following a link planted since. */
static int open_piece(parser_t *p, const char *full, size_t kw, int *fd) {
  char real[PATH_MAX];
  const char *target = full;
  int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  if (p->files_under) {
    if (!realpath(full, real)) {
      int e = errno;
      return fail(p, e == ENOENT ? FRAY_ENOENT : FRAY_EIO, kw, "cannot open file \"%s\": %s", full,
                  strerror(e));
    }
    size_t n = strlen(p->files_under);
    if (strcmp(p->files_under, "/") &&
        (strncmp(real, p->files_under, n) || (real[n] != '/' && real[n] != '\0')))
      return fail(p, FRAY_ESYNTAX, kw,
                  "file \"%s\" is outside \"%s\", where file pieces are allowed (it resolves to "
                  "\"%s\")",
                  full, p->files_under, real);
    target = real;
    flags |= O_NOFOLLOW;
  }
  *fd = open(target, flags);
  if (*fd < 0) {
    int e = errno;
    return fail(p, e == ENOENT ? FRAY_ENOENT : FRAY_EIO, kw, "cannot open file \"%s\": %s", full,
                strerror(e));
  }
  struct stat st;
  if (fstat(*fd, &st) == 0 && S_ISREG(st.st_mode))
    return 0;
  close(*fd);
  *fd = -1;
  return fail(p, FRAY_EIO, kw, "cannot use \"%s\" as a file piece: %s, not a regular file", full,
              file_kind(st.st_mode));
}

/* Appends the contents of the regular file at full. */
static int append_file(parser_t *p, const char *full, size_t kw) {
  int fd = -1, rc = open_piece(p, full, kw, &fd);
  if (rc)
    return rc;
  uint8_t buf[FILE_CHUNK];
  for (;;) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      int e = errno;
      rc = fail(p, FRAY_EIO, kw, "cannot read file \"%s\": %s", full, strerror(e));
      break;
    }
    if (got == 0)
      break;
    rc = append(p, buf, (size_t)got, kw);
    if (rc)
      break;
  }
  close(fd);
  return rc;
}

/* `file PATH` or `file "PATH"`: appends the file's bytes. */
static int read_file_piece(parser_t *p, size_t kw) {
  const fray_mem_t *m = &p->s->mem;
  skip_ws(p);
  char *path = NULL;
  size_t plen;
  int rc;
  if (peek(p) == '"') {
    /* Decode the quoted path into p->data past the statement's bytes, then
     * move it out, so escapes work without a second decoder. */
    size_t mark = p->data.len, total = p->total;
    rc = read_string(p);
    if (rc)
      return rc;
    plen = p->data.len - mark;
    if (plen == 0 || memchr(p->data.p + mark, 0, plen)) {
      p->data.len = mark;
      p->total = total;
      return fail(p, FRAY_ESYNTAX, kw, "expected a non-empty path without NUL after 'file'");
    }
    path = fray__malloc(m, plen + 1);
    if (path) {
      memcpy(path, p->data.p + mark, plen);
      path[plen] = '\0';
    }
    p->data.len = mark;
    p->total = total;
  } else {
    size_t start = p->pos;
    while (p->pos < p->len && p->text[p->pos] != ' ' && p->text[p->pos] != '\t' &&
           p->text[p->pos] != '\r' && p->text[p->pos] != '\n' && p->text[p->pos] != '#' &&
           p->text[p->pos] != '\0')
      p->pos++;
    plen = p->pos - start;
    if (plen == 0)
      return fail(p, FRAY_ESYNTAX, p->pos, "expected a path after 'file'");
    path = fray__malloc(m, plen + 1);
    if (path) {
      memcpy(path, p->text + start, plen);
      path[plen] = '\0';
    }
  }
  if (!path)
    return fail(p, FRAY_ENOMEM, kw, "out of memory");

  char *full = path;
  if (path[0] != '/' && p->base_dir) {
    size_t blen = strlen(p->base_dir);
    full = fray__malloc(m, blen + 1 + plen + 1);
    if (!full) {
      fray__free(m, path);
      return fail(p, FRAY_ENOMEM, kw, "out of memory");
    }
    memcpy(full, p->base_dir, blen);
    full[blen] = '/';
    memcpy(full + blen + 1, path, plen + 1);
    fray__free(m, path);
  }
  rc = append_file(p, full, kw);
  fray__free(m, full);
  return rc;
}

static int push_cut(parser_t *p, size_t pos) {
  if (fray__grow(&p->s->mem, (void **)&p->cuts, &p->capcuts, p->ncuts + 1, sizeof *p->cuts))
    return fail(p, FRAY_ENOMEM, pos, "out of memory");
  p->cuts[p->ncuts++] = p->data.len;
  return 0;
}

/* Reads a decimal count at the current position into *n, saturating at
 * UINT64_MAX. Returns 0, or -1 when there is none or it runs into a word
 * (the caller names what it expected). */
static int read_count(parser_t *p, uint64_t *n) {
  size_t start = p->pos;
  *n = 0;
  while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') {
    unsigned d = (unsigned)(p->text[p->pos] - '0');
    /* Saturate instead of wrapping: any count past the limit is an error. */
    *n = *n > (UINT64_MAX - d) / 10 ? UINT64_MAX : *n * 10 + d;
    p->pos++;
  }
  if (p->pos == start)
    return -1;
  return p->pos < p->len && fray__script_name_char((unsigned char)p->text[p->pos]) ? -1 : 0;
}

/* Repeats the piece data[piece..len) so it occurs n times in all. */
static int repeat_piece(parser_t *p, size_t piece, size_t pos) {
  size_t start = p->pos;
  uint64_t n = 0;
  if (read_count(p, &n))
    return fail(p, FRAY_ESYNTAX, start,
                p->pos == start ? "expected a repetition count after '*'"
                                : "expected a decimal repetition count after '*'");
  if (n > p->max_repeat)
    return fail(p, FRAY_ERANGE, start, "repetition count over the limit of %zu (max_repeat)",
                p->max_repeat);
  size_t plen = p->data.len - piece;
  if (n == 0) {
    p->data.len = piece;
    p->total -= plen;
    return 0;
  }
  if (plen == 0)
    return 0;
  if ((uint64_t)(n - 1) > (uint64_t)((p->max_bytes - p->total) / plen))
    return fail(p, FRAY_ERANGE, pos, "script data over the limit of %zu bytes (max_bytes)",
                p->max_bytes);
  size_t extra = plen * (size_t)(n - 1);
  int rc = need(p, extra, pos);
  if (rc)
    return rc;
  /* Doubling copies: log(n) memcpy calls instead of n. */
  size_t have = plen, want = plen * (size_t)n;
  uint8_t *base = p->data.p + piece;
  while (have < want) {
    size_t c = have < want - have ? have : want - have;
    memcpy(base + have, base, c);
    have += c;
  }
  p->data.len = piece + want;
  return 0;
}

enum { LAST_NONE, LAST_PIECE, LAST_REPEAT, LAST_CUT };

/* Parses data pieces up to the end of the statement into p->data (and cuts
 * into p->cuts when cuts_ok). after names the operator for messages. */
static int read_pieces(parser_t *p, int cuts_ok, const char *none_msg) {
  int last = LAST_NONE;
  size_t piece = 0, last_cut = 0, cut_pos = 0;
  int pieces = 0;
  p->data.len = 0;
  p->ncuts = 0;
  for (;;) {
    skip_ws(p);
    if (at_end_of_statement(p))
      break;
    size_t at = p->pos;
    int c = peek(p);
    int rc;
    if (c == '"') {
      piece = p->data.len;
      rc = read_string(p);
      last = LAST_PIECE;
      pieces++;
    } else if (at_word(p, "hex")) {
      piece = p->data.len;
      p->pos += 3;
      skip_ws(p);
      if (peek(p) != '"')
        return fail(p, FRAY_ESYNTAX, p->pos, "expected a quoted string of hex digits after 'hex'");
      rc = read_hex(p);
      last = LAST_PIECE;
      pieces++;
    } else if (at_word(p, "file")) {
      if (p->deny_files)
        return fail(p, FRAY_ESYNTAX, at, "'file' pieces are not allowed here (deny_files is set)");
      piece = p->data.len;
      p->pos += 4;
      rc = read_file_piece(p, at);
      last = LAST_PIECE;
      pieces++;
    } else if (c == '*') {
      if (last != LAST_PIECE)
        return fail(p, FRAY_ESYNTAX, at, "expected a string, 'hex' or 'file' piece before '*'");
      p->pos++;
      skip_ws(p);
      rc = repeat_piece(p, piece, at);
      last = LAST_REPEAT;
    } else if (c == '|' && cuts_ok) {
      if (last == LAST_NONE)
        return fail(p, FRAY_ESYNTAX, at, "expected data before '|'");
      if (p->data.len == last_cut)
        return fail(p, FRAY_ESYNTAX, at,
                    "empty read before '|' (a read boundary needs data on both sides)");
      rc = push_cut(p, at);
      last_cut = p->data.len;
      cut_pos = at;
      last = LAST_CUT;
      p->pos++;
    } else if (c == '|') {
      return fail(p, FRAY_ESYNTAX, at, "'|' (a read boundary) is only allowed in sends");
    } else {
      return fail(p, FRAY_ESYNTAX, at,
                  cuts_ok ? "expected a string, 'hex', 'file', '*', '|' or end of line"
                          : "expected a string, 'hex', 'file', '*' or end of line");
    }
    if (rc)
      return rc;
  }
  if (pieces == 0)
    return fail(p, FRAY_ESYNTAX, p->pos, "%s", none_msg);
  if (last == LAST_CUT)
    return fail(p, FRAY_ESYNTAX, cut_pos, "expected data after '|'");
  if (p->ncuts && last_cut == p->data.len)
    return fail(p, FRAY_ESYNTAX, cut_pos,
                "empty read after '|' (a read boundary needs data on both sides)");
  return 0;
}

/* Reads one quoted pattern (for `~` and `glob`) into p->data. */
static int read_pattern(parser_t *p, const char *what, int regex) {
  skip_ws(p);
  size_t at = p->pos;
  if (peek(p) != '"')
    return fail(p, FRAY_ESYNTAX, at, "expected a quoted %s", what);
  p->data.len = 0;
  p->ncuts = 0;
  int rc = read_string(p);
  if (rc)
    return rc;
  rc = need(p, 0, at); /* room for the NUL even after an empty pattern */
  if (rc)
    return rc;
  p->data.p[p->data.len] = 0;
  if (strlen((const char *)p->data.p) != p->data.len)
    return fail(p, FRAY_ESYNTAX, at, "a pattern cannot contain a NUL byte");
  if (regex) {
    char msg[160];
    size_t byte;
    rc = fray__regex_compile(&p->regex, &p->s->mem, (const char *)p->data.p, p->data.len, msg,
                             sizeof msg, &byte);
    if (rc == FRAY_ESYNTAX)
      return fail(p, rc, at, "invalid regular expression (at pattern byte %zu): %s", byte + 1, msg);
    if (rc)
      return fail(p, rc, at, "regular expression over a limit: %s", msg);
  }
  return 0;
}

/* Moves the statement's data and cuts into a new step. */
static int emit_step(parser_t *p, int canary, fray_step_kind_t kind, size_t client, size_t pos,
                     int has_data) {
  fray_script_t *s = p->s;
  steparr_t *a = canary ? &s->canary : &s->steps;
  int rc = fray__script_reserve_step(s, a);
  if (rc == FRAY_ERANGE)
    return fail(p, rc, pos, "more than %zu steps (max_steps)", s->max_steps);
  if (rc)
    return fail(p, rc, pos, "out of memory");
  fray_step_t st = {
      .kind = kind, .client = client, .line = p->line, .column = pos - p->line_start + 1};
  if (has_data) {
    if (!p->data.p) {
      rc = need(p, 0, pos);
      if (rc)
        return rc;
    }
    p->data.p[p->data.len] = 0;
    size_t *cuts = NULL;
    if (p->ncuts) {
      cuts = fray__malloc(&s->mem, p->ncuts * sizeof *cuts);
      if (!cuts)
        return fail(p, FRAY_ENOMEM, pos, "out of memory");
      memcpy(cuts, p->cuts, p->ncuts * sizeof *cuts);
    }
    st.data = p->data.p;
    st.len = p->data.len;
    st.cuts = cuts;
    st.ncuts = p->ncuts;
    st.regex = p->regex;
    p->regex = NULL;
    p->data = (bytevec_t){0};
    p->ncuts = 0;
  }
  a->v[a->n++] = st;
  if (!canary)
    fray__script_apply_state(&s->clients[client], kind);
  return 0;
}

static int end_of_line(parser_t *p, const char *after) {
  skip_ws(p);
  if (!at_end_of_statement(p))
    return fail(p, FRAY_ESYNTAX, p->pos, "expected end of line after %s", after);
  return 0;
}

/* Reads a client name at the current position; ctx names what precedes it
 * (NULL: the name starts the line). */
static int read_client(parser_t *p, const char *ctx, size_t *client) {
  size_t at = p->pos;
  if (!fray__script_name_start(peek(p)))
    return fail(p, FRAY_ESYNTAX, at, "expected a client name after %s", ctx ? ctx : "?");
  size_t n = word_len(p);
  if (n > FRAY_SCRIPT_MAX_NAME)
    return fail(p, FRAY_ESYNTAX, at, "client name longer than %d bytes", FRAY_SCRIPT_MAX_NAME);
  if (fray__script_is_keyword(p->text + at, n) && !ctx)
    return fail(p, FRAY_ESYNTAX, at, "'%.*s' is a keyword, not a client name", (int)n,
                p->text + at);
  if (fray__script_is_keyword(p->text + at, n))
    return fail(p, FRAY_ESYNTAX, at, "expected a client name after %s, not the keyword '%.*s'", ctx,
                (int)n, p->text + at);
  int rc = fray__script_intern_client(p->s, p->text + at, n, client);
  if (rc == FRAY_ERANGE)
    return fail(p, rc, at, "more than %zu clients (max_clients)", p->s->max_clients);
  if (rc)
    return fail(p, rc, at, "out of memory");
  p->pos += n;
  return 0;
}

static int check_client_state(parser_t *p, size_t client, fray_step_kind_t kind, size_t at) {
  char msg[200];
  if (fray__script_state_error(&p->s->clients[client], kind, msg, sizeof msg))
    return fail(p, FRAY_ESYNTAX, at, "%s", msg);
  return 0;
}

/* A span at the current position: decimal digits and a unit, ms, s, m or
 * h, with nothing between (`30s`, `500ms`, `1h`), into *ms. after names
 * what precedes it, for messages. */
static int read_span(parser_t *p, const char *after, uint64_t *ms) {
  static const struct {
    const char *unit;
    uint64_t ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  size_t at = p->pos;
  uint64_t n = 0;
  while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') {
    unsigned d = (unsigned)(p->text[p->pos++] - '0');
    n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d; /* saturates: too long anyway */
  }
  size_t u = p->pos, ulen = word_len(p);
  for (size_t i = 0; u > at && i < sizeof units / sizeof units[0]; i++) {
    if (ulen != strlen(units[i].unit) || memcmp(p->text + u, units[i].unit, ulen))
      continue;
    p->pos += ulen;
    *ms = n > UINT64_MAX / units[i].ms ? UINT64_MAX : n * units[i].ms;
    if (!*ms)
      return fail(p, FRAY_ESYNTAX, at, "a span of 0 after %s (at least 1ms)", after);
    if (!fray__script_span_ok(*ms))
      return fail(p, FRAY_ERANGE, at, "a span over one year after %s", after);
    return 0;
  }
  return fail(p, FRAY_ESYNTAX, u > at ? u : at,
              "expected a span after %s: a number and ms, s, m or h (500ms, 30s, 2m, 1h)", after);
}

/* `wait SPAN`, the current position after `wait`. */
static int wait_statement(parser_t *p, size_t at) {
  fray_step_t st = {.kind = FRAY_STEP_WAIT, .line = p->line, .column = at - p->line_start + 1};
  int rc = read_span(p, "'wait'", &st.ms);
  if (!rc)
    rc = end_of_line(p, "the span");
  if (rc)
    return rc;
  rc = fray__script_reserve_step(p->s, &p->s->steps);
  if (rc == FRAY_ERANGE)
    return fail(p, rc, at, "more than %zu steps (max_steps)", p->s->max_steps);
  if (rc)
    return fail(p, rc, at, "out of memory");
  p->s->steps.v[p->s->steps.n++] = st;
  return 0;
}

/* `NAME < nothing for SPAN`, the current position after `nothing`. */
static int expect_nothing(parser_t *p, size_t client, size_t start, int canary) {
  skip_ws(p);
  if (canary)
    return fail(p, FRAY_ESYNTAX, start, "'nothing for' is not allowed in a canary");
  if (!at_word(p, "for"))
    return fail(p, FRAY_ESYNTAX, p->pos,
                "expected 'for' and a span after 'nothing' (nothing for 10s)");
  p->pos += 3;
  skip_ws(p);
  uint64_t ms;
  int rc = read_span(p, "'nothing for'", &ms);
  if (!rc)
    rc = end_of_line(p, "the span");
  if (!rc)
    rc = check_client_state(p, client, FRAY_STEP_EXPECT_NOTHING, start);
  if (!rc)
    rc = emit_step(p, 0, FRAY_STEP_EXPECT_NOTHING, client, start, 0);
  if (!rc)
    p->s->steps.v[p->s->steps.n - 1].ms = ms;
  return rc;
}

/* `NAME > ...` or `NAME < ...` with the client already read; the current
 * position is at the operator. */
static int exchange(parser_t *p, size_t client, size_t start, int canary) {
  const char *name = p->s->clients[client].name;
  int op = peek(p);
  if (op != '>' && op != '<')
    return fail(p, FRAY_ESYNTAX, p->pos, "expected '>' or '<' after client name \"%s\"", name);
  p->pos++;
  skip_ws(p);
  fray_step_kind_t kind;
  int rc;
  if (op == '>') {
    if (!canary && at_word(p, "eof")) {
      p->pos += 3;
      kind = FRAY_STEP_SHUTDOWN;
      rc = end_of_line(p, "'eof'");
      if (!rc)
        rc = check_client_state(p, client, kind, start);
      return rc ? rc : emit_step(p, canary, kind, client, start, 0);
    }
    kind = FRAY_STEP_SEND;
    rc = read_pieces(p, 1,
                     canary ? "expected a string, 'hex' or 'file' after '>'"
                            : "expected a string, 'hex', 'file' or 'eof' after '>'");
  } else if (at_word(p, "nothing")) {
    p->pos += 7;
    return expect_nothing(p, client, start, canary);
  } else if (!canary && (at_word(p, "eof") || at_word(p, "any"))) {
    kind = p->text[p->pos] == 'a' ? FRAY_STEP_EXPECT_ANY : FRAY_STEP_EXPECT_EOF;
    p->pos += 3;
    if (kind == FRAY_STEP_EXPECT_EOF && peek(p) == '?') {
      p->pos++;
      kind = FRAY_STEP_EXPECT_EOF_OPT;
    }
    rc = end_of_line(p, kind == FRAY_STEP_EXPECT_EOF       ? "'eof'"
                        : kind == FRAY_STEP_EXPECT_EOF_OPT ? "'eof?'"
                                                           : "'any'");
    if (!rc)
      rc = check_client_state(p, client, kind, start);
    return rc ? rc : emit_step(p, canary, kind, client, start, 0);
  } else if (peek(p) == '~') {
    p->pos++;
    kind = FRAY_STEP_EXPECT_REGEX;
    rc = read_pattern(p, "regular expression after '~'", 1);
    if (!rc)
      rc = end_of_line(p, "the regular expression");
  } else if (at_word(p, "glob")) {
    p->pos += 4;
    kind = FRAY_STEP_EXPECT_GLOB;
    rc = read_pattern(p, "glob pattern after 'glob'", 0);
    if (!rc)
      rc = end_of_line(p, "the glob pattern");
  } else {
    kind = FRAY_STEP_EXPECT;
    rc = read_pieces(p, 0,
                     canary ? "expected a string, 'hex', 'file', '~' or 'glob' after '<'"
                            : "expected a string, 'hex', 'file', '~', 'glob', 'eof', 'eof?', "
                              "'any' or 'nothing for' after '<'");
  }
  if (rc)
    return rc;
  if (!canary) {
    rc = check_client_state(p, client, kind, start);
    if (rc)
      return rc;
  }
  return emit_step(p, canary, kind, client, start, 1);
}

/* `NAME stops reading`, `NAME reads N` or `NAME resumes reading`, the
 * client read; the position is at the verb. */
static int reading(parser_t *p, size_t client, size_t start) {
  uint64_t n = 0;
  const char *after = "the byte count";
  if (at_word(p, "reads")) {
    p->pos += 5;
    skip_ws(p);
    size_t at = p->pos;
    if (read_count(p, &n) || n == 0)
      return fail(p, FRAY_ESYNTAX, at,
                  "expected a byte count of 1 or more after 'reads' (or 'stops reading')");
    if (n > p->max_bytes)
      return fail(p, FRAY_ERANGE, at, "byte count over the limit of %zu (max_bytes)", p->max_bytes);
  } else {
    int stop = at_word(p, "stops");
    after = stop ? "'stops reading'" : "'resumes reading'";
    p->pos += stop ? 5 : 7;
    skip_ws(p);
    if (!at_word(p, "reading"))
      return fail(p, FRAY_ESYNTAX, p->pos, "expected 'reading' after '%s'",
                  stop ? "stops" : "resumes");
    p->pos += 7;
    n = stop ? 0 : UINT64_MAX;
  }
  int rc = end_of_line(p, after);
  if (!rc)
    rc = check_client_state(p, client, FRAY_STEP_READ, start);
  if (!rc)
    rc = emit_step(p, 0, FRAY_STEP_READ, client, start, 0);
  if (!rc) /* a count, not data: emit_step has no data to take */
    p->s->steps.v[p->s->steps.n - 1].reads = n == UINT64_MAX ? FRAY_READ_ALL : (size_t)n;
  return rc;
}

static int directive(parser_t *p) {
  size_t at = p->pos++;
  size_t n = 0;
  while (p->pos + n < p->len &&
         ((p->text[p->pos + n] >= 'a' && p->text[p->pos + n] <= 'z') || p->text[p->pos + n] == '-'))
    n++;
  const char *w = p->text + p->pos;
  int rc;
  if (n == 7 && !memcmp(w, "handler", 7) &&
      !fray__script_name_char(p->pos + n < p->len ? (unsigned char)w[n] : ' ')) {
    p->pos += n;
    skip_ws(p);
    if (p->handler_line)
      return fail(p, FRAY_ESYNTAX, at, "duplicate '@handler' (the first is on line %zu)",
                  p->handler_line);
    size_t hpos = p->pos;
    if (peek(p) == '"') {
      p->data.len = 0;
      rc = read_string(p);
      if (rc)
        return rc;
      if (fray__script_check_handler(p->data.p, p->data.len))
        return fail(p, FRAY_ESYNTAX, hpos,
                    "expected a handler name of 1 to %d bytes without control bytes",
                    FRAY__SCRIPT_HANDLER_MAX);
      rc = fray__script_set_handler(p->s, p->data.p, p->data.len);
      /* The name's bytes are not session data: give back their budget. */
      p->total -= p->data.len;
      p->data.len = 0;
    } else {
      while (p->pos < p->len && fray__script_bare_handler_char((unsigned char)p->text[p->pos]))
        p->pos++;
      if (p->pos == hpos)
        return fail(p, FRAY_ESYNTAX, hpos, "expected a handler name after '@handler'");
      if (p->pos - hpos > FRAY__SCRIPT_HANDLER_MAX)
        return fail(p, FRAY_ESYNTAX, hpos,
                    "expected a handler name of 1 to %d bytes without control bytes",
                    FRAY__SCRIPT_HANDLER_MAX);
      rc = fray__script_set_handler(p->s, (const uint8_t *)p->text + hpos, p->pos - hpos);
    }
    if (rc)
      return fail(p, rc, at, "out of memory");
    p->handler_line = p->line;
    return end_of_line(p, "the handler name");
  }
  if (n == 6 && !memcmp(w, "canary", 6) &&
      !fray__script_name_char(p->pos + n < p->len ? (unsigned char)w[n] : ' ')) {
    p->pos += n;
    skip_ws(p);
    size_t client;
    rc = read_client(p, "'@canary'", &client);
    if (rc)
      return rc;
    skip_ws(p);
    return exchange(p, client, at, 1);
  }
  size_t wn = n;
  while (p->pos + wn < p->len && fray__script_name_char((unsigned char)p->text[p->pos + wn]))
    wn++;
  return fail(p, FRAY_ESYNTAX, at, "unknown directive '@%.*s' (expected '@handler' or '@canary')",
              (int)(wn > 40 ? 40 : wn), w);
}

static int statement(parser_t *p) {
  size_t at = p->pos;
  int c = peek(p);
  if (c == '@')
    return directive(p);
  if (!fray__script_name_start(c)) {
    if (c >= 0x21 && c < 0x7f)
      return fail(
          p, FRAY_ESYNTAX, at,
          "expected a statement (open, close, reset, wait, NAME >, NAME < or @directive), not '%c'",
          c);
    return fail(
        p, FRAY_ESYNTAX, at,
        "expected a statement (open, close, reset, wait, NAME >, NAME < or @directive), not "
        "byte 0x%02x",
        (unsigned)c);
  }
  if (at_word(p, "wait")) {
    /* `wait` then a digit is the statement; `wait >` is a client so named. */
    size_t save = p->pos;
    p->pos += 4;
    skip_ws(p);
    if (peek(p) >= '0' && peek(p) <= '9')
      return wait_statement(p, at);
    if (peek(p) != '>' && peek(p) != '<')
      return read_span(p, "'wait'", &(uint64_t){0});
    p->pos = save;
  }
  static const struct {
    const char *word;
    fray_step_kind_t kind;
  } verbs[] = {{"open", FRAY_STEP_OPEN}, {"close", FRAY_STEP_CLOSE}, {"reset", FRAY_STEP_RESET}};
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
    if (!at_word(p, verbs[i].word))
      continue;
    p->pos += strlen(verbs[i].word);
    skip_ws(p);
    char ctx[16];
    snprintf(ctx, sizeof ctx, "'%s'", verbs[i].word);
    size_t client;
    int rc = read_client(p, ctx, &client);
    if (rc)
      return rc;
    char after[96];
    snprintf(after, sizeof after, "\"%s %s\"", verbs[i].word, p->s->clients[client].name);
    rc = end_of_line(p, after);
    if (!rc)
      rc = check_client_state(p, client, verbs[i].kind, at);
    return rc ? rc : emit_step(p, 0, verbs[i].kind, client, at, 0);
  }
  size_t client;
  int rc = read_client(p, NULL, &client);
  if (rc)
    return rc;
  skip_ws(p);
  if (at_word(p, "stops") || at_word(p, "reads") || at_word(p, "resumes"))
    return reading(p, client, at);
  return exchange(p, client, at, 0);
}

static int parse_all(parser_t *p) {
  while (p->pos < p->len) {
    skip_ws(p);
    int c = peek(p);
    if (c == '#') {
      const char *nl = memchr(p->text + p->pos, '\n', p->len - p->pos);
      p->pos = nl ? (size_t)(nl - p->text) : p->len;
      continue;
    }
    if (c == '\n') {
      p->pos++;
      p->line++;
      p->line_start = p->pos;
      continue;
    }
    if (c == -1)
      break;
    int rc = statement(p);
    if (rc)
      return rc;
    /* Every statement ends at end of line or a comment; the loop above
     * consumes both. */
  }
  return 0;
}

/* The directory part of filename, or NULL when it has none. */
static int dir_of(const fray_mem_t *m, const char *filename, char **out) {
  *out = NULL;
  const char *slash = filename ? strrchr(filename, '/') : NULL;
  if (!slash)
    return 0;
  size_t n = slash == filename ? 1 : (size_t)(slash - filename);
  char *d = fray__malloc(m, n + 1);
  if (!d)
    return FRAY_ENOMEM;
  memcpy(d, filename, n);
  d[n] = '\0';
  *out = d;
  return 0;
}

static char *copy_str(const fray_mem_t *m, const char *str) {
  size_t n = strlen(str) + 1;
  char *c = fray__malloc(m, n);
  if (c)
    memcpy(c, str, n);
  return c;
}

/* The directory `file` pieces are relative to, and the one they must lie
 * under (resolved once, so each piece compares real paths). */
static int setup_dirs(parser_t *p, const fray_script_opts_t *o, const char *filename) {
  const fray_mem_t *m = &p->s->mem;
  int rc = 0;
  if (o->base_dir)
    rc = (p->base_dir = copy_str(m, o->base_dir)) ? 0 : FRAY_ENOMEM;
  else
    rc = dir_of(m, filename, &p->base_dir);
  if (!rc && o->files_under) {
    char real[PATH_MAX];
    if (!realpath(o->files_under, real)) {
      int e = errno;
      char msg[256];
      snprintf(msg, sizeof msg, "cannot use \"%.150s\" as the directory of file pieces: %s",
               o->files_under, strerror(e));
      rc = e == ENOENT ? FRAY_ENOENT : FRAY_EIO;
      set_err(p->err, rc, filename, 0, 0, msg);
      return rc;
    }
    rc = (p->files_under = copy_str(m, real)) ? 0 : FRAY_ENOMEM;
  }
  if (rc)
    set_err(p->err, rc, filename, 0, 0, "out of memory");
  return rc;
}

int fray_script_parse(fray_script_t **out, const char *text, size_t len, const char *filename,
                      const fray_script_opts_t *opts, fray_script_error_t *err) {
  if (!out || (!text && len)) {
    if (out)
      *out = NULL;
    set_err(err, FRAY_EINVAL, filename, 0, 0, "invalid argument");
    return FRAY_EINVAL;
  }
  *out = NULL;
  fray_script_opts_t o;
  if (opts)
    o = *opts;
  else
    fray_script_opts_init(&o);
  size_t max_text = o.max_text ? o.max_text : FRAY_SCRIPT_DEFAULT_MAX_TEXT;
  if (len > max_text) {
    char msg[128];
    snprintf(msg, sizeof msg, "script longer than the limit of %zu bytes (max_text)", max_text);
    set_err(err, FRAY_ERANGE, filename, 0, 0, msg);
    return FRAY_ERANGE;
  }
  fray_script_t *s;
  int rc = fray_script_new(&s, o.mem);
  if (rc) {
    set_err(err, rc, filename, 0, 0, "out of memory");
    return rc;
  }
  if (o.max_steps)
    s->max_steps = o.max_steps;
  if (o.max_clients)
    s->max_clients = o.max_clients;
  parser_t p = {
      .s = s,
      .text = text,
      .len = len,
      .line = 1,
      .filename = filename,
      .max_bytes = o.max_bytes ? o.max_bytes : FRAY_SCRIPT_DEFAULT_MAX_BYTES,
      .max_repeat = o.max_repeat ? o.max_repeat : FRAY_SCRIPT_DEFAULT_MAX_REPEAT,
      .deny_files = o.deny_files,
      .err = err,
  };
  if (p.max_bytes > SIZE_MAX - 2)
    p.max_bytes = SIZE_MAX - 2; /* need() adds one for the NUL */
  /* A UTF-8 byte order mark (editors on Windows write one) is not text:
   * columns on the first line count from after it. */
  if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
    p.pos = p.line_start = 3;
  rc = setup_dirs(&p, &o, filename);
  if (!rc)
    rc = parse_all(&p);
  fray__free(&s->mem, p.base_dir);
  fray__free(&s->mem, p.files_under);
  fray__free(&s->mem, p.data.p);
  fray__free(&s->mem, p.cuts);
  fray__regex_free(p.regex);
  if (rc) {
    fray_script_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* Reads a non-regular script (a pipe, /dev/stdin) from fd into a buffer of
 * at most max_text + one chunk, then parses it. */
static int load_read(fray_script_t **out, int fd, const char *path, const fray_script_opts_t *opts,
                     size_t max_text, fray_script_error_t *err) {
  fray_mem_t m;
  fray__mem_init(&m, opts ? opts->mem : NULL);
  char msg[256];
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (fray__grow_max(&m, (void **)&buf, &cap, len + FILE_CHUNK, 1, max_text + FILE_CHUNK)) {
      rc = FRAY_ENOMEM;
      set_err(err, rc, path, 0, 0, "out of memory");
      break;
    }
    ssize_t got = read(fd, buf + len, FILE_CHUNK);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      rc = FRAY_EIO;
      snprintf(msg, sizeof msg, "cannot read script: %s", strerror(errno));
      set_err(err, rc, path, 0, 0, msg);
      break;
    }
    len += (size_t)got;
    if (len > max_text) {
      rc = FRAY_ERANGE;
      snprintf(msg, sizeof msg, "script longer than the limit of %zu bytes (max_text)", max_text);
      set_err(err, rc, path, 0, 0, msg);
      break;
    }
    if (got == 0)
      break;
  }
  if (!rc)
    rc = fray_script_parse(out, buf, len, path, opts, err);
  fray__free(&m, buf);
  return rc;
}

int fray_script_load(fray_script_t **out, const char *path, const fray_script_opts_t *opts,
                     fray_script_error_t *err) {
  if (out)
    *out = NULL;
  if (!out || !path) {
    set_err(err, FRAY_EINVAL, path, 0, 0, "invalid argument");
    return FRAY_EINVAL;
  }
  size_t max_text = opts && opts->max_text ? opts->max_text : FRAY_SCRIPT_DEFAULT_MAX_TEXT;
  if (max_text > SIZE_MAX / 2)
    max_text = SIZE_MAX / 2; /* keeps max_text + FILE_CHUNK from wrapping */
  char msg[256];
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    int e = errno, code = e == ENOENT ? FRAY_ENOENT : FRAY_EIO;
    snprintf(msg, sizeof msg, "cannot open script: %s", strerror(e));
    set_err(err, code, path, 0, 0, msg);
    if (fd >= 0)
      close(fd);
    return code;
  }
  int rc;
  if (!S_ISREG(st.st_mode) || st.st_size == 0) {
    rc = load_read(out, fd, path, opts, max_text, err);
  } else if ((uint64_t)st.st_size > max_text) {
    rc = FRAY_ERANGE;
    snprintf(msg, sizeof msg, "script longer than the limit of %zu bytes (max_text)", max_text);
    set_err(err, rc, path, 0, 0, msg);
  } else {
    /* A regular file is mapped, not copied: a recording of a gigabyte of
     * text costs page cache, not heap, while it is parsed. */
    size_t len = (size_t)st.st_size;
    void *text = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (text == MAP_FAILED) {
      rc = load_read(out, fd, path, opts, max_text, err);
    } else {
      rc = fray_script_parse(out, text, len, path, opts, err);
      munmap(text, len);
    }
  }
  close(fd);
  return rc;
}
