/* `.fray` session scripts: parser, builder, canonical writer.
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
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/escape_internal.h"
#include "core/internal.h"

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

#define RUN_MIN 16       /* the writer emits runs at least this long as `"x" * N` */
#define HANDLER_MAX 255  /* longest @handler name */
#define FILE_CHUNK 16384 /* read size for `file` pieces */

typedef struct client {
  char *name;
  unsigned char open; /* connected and not closed/reset */
  unsigned char shut; /* sent `> eof` since the last open */
  unsigned char eof;  /* expected `< eof` since the last open */
} client_t;

typedef struct steparr {
  fray_step_t *v;
  size_t n, cap;
} steparr_t;

struct fray_script {
  fray_mem_t mem;
  steparr_t steps;
  steparr_t canary;
  client_t *clients;
  size_t nclients, capclients;
  char *handler;
  size_t max_steps;
  size_t max_clients;
  int borrows; /* steps point into the caller's bytes (fray__script_borrow) */
};

static const char *const keywords[] = {"open", "close", "reset", "hex", "file", "eof", "glob"};

/* ---------------------------------------------------------------- basics */

void fray_script_opts_init(fray_script_opts_t *opts) {
  if (opts)
    memset(opts, 0, sizeof *opts);
}

const char *fray_step_kind_name(fray_step_kind_t kind) {
  switch (kind) {
  case FRAY_STEP_OPEN:
    return "open";
  case FRAY_STEP_CLOSE:
    return "close";
  case FRAY_STEP_RESET:
    return "reset";
  case FRAY_STEP_SEND:
    return "send";
  case FRAY_STEP_SHUTDOWN:
    return "shutdown";
  case FRAY_STEP_EXPECT:
    return "expect";
  case FRAY_STEP_EXPECT_REGEX:
    return "expect-regex";
  case FRAY_STEP_EXPECT_GLOB:
    return "expect-glob";
  case FRAY_STEP_EXPECT_EOF:
    return "expect-eof";
  case FRAY_STEP_EXPECT_EOF_OPT:
    return "expect-eof-optional";
  }
  return "unknown";
}

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

static int is_name_start(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(int c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static int is_keyword(const char *w, size_t n) {
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
    if (strlen(keywords[i]) == n && !memcmp(keywords[i], w, n))
      return 1;
  return 0;
}

/* 0 if w[0..n) is a valid client name, else FRAY_EINVAL. */
static int check_name(const char *w, size_t n) {
  if (n == 0 || n > FRAY_SCRIPT_MAX_NAME || !is_name_start((unsigned char)w[0]))
    return FRAY_EINVAL;
  for (size_t i = 1; i < n; i++)
    if (!is_name_char((unsigned char)w[i]))
      return FRAY_EINVAL;
  return is_keyword(w, n) ? FRAY_EINVAL : 0;
}

/* Handler names are written bare when they consist of these bytes. */
static int is_bare_handler_char(int c) {
  return c > 0x20 && c < 0x7f && c != '#' && c != '"' && c != '\\';
}

static int check_handler(const uint8_t *h, size_t n) {
  if (n == 0 || n > HANDLER_MAX)
    return FRAY_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (h[i] < 0x20 || h[i] == 0x7f)
      return FRAY_EINVAL;
  return 0;
}

/* Validates a regex pattern (NUL-terminated). Returns 0, FRAY_ESYNTAX with
 * the reason in msg, or FRAY_ENOMEM. regcomp() allocates with the C library,
 * but the compiled form is freed at once, so nothing outlives the call. */
/* glibc's regcomp() copies a repeated subexpression once per repetition
 * (`x{n,m}` m times, `x+` as `xx*`), so stacked or nested repeats grow
 * exponentially: a 90-byte pattern of `+`s took the fuzzer past 2 GB.
 * This bounds the elements the compiled pattern can expand to, reading the
 * ERE coarsely (brackets and escapes as one element, alternatives summed),
 * which overestimates and never underestimates. */
#define REGEX_MAX_ELEMENTS 4096

static size_t sat_mul(size_t a, size_t b) {
  return b && a > (REGEX_MAX_ELEMENTS + 1) / b ? REGEX_MAX_ELEMENTS + 1 : a * b;
}

static int regex_expands_too_much(const char *p) {
  size_t total[32], last[32]; /* per group depth: the elements so far, and the last atom's */
  int depth = 0;
  total[0] = last[0] = 0;
  for (size_t i = 0; p[i]; i++) {
    size_t atom = 1; /* an element, or a group's elements; quant: a repeat instead */
    int quant = 0;
    unsigned long lo = 0, hi = 0;
    switch (p[i]) {
    case '\\':
      if (p[i + 1])
        i++;
      break;
    case '[': {
      size_t j = i + 1;
      if (p[j] == '^')
        j++;
      if (p[j] == ']')
        j++;
      for (; p[j] && p[j] != ']'; j++)
        if (p[j] == '[' && (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
          char end = p[j + 1];
          for (j += 2; p[j] && !(p[j] == end && p[j + 1] == ']'); j++)
            ;
          if (p[j])
            j++;
        }
      i = p[j] ? j : j - 1;
      break;
    }
    case '(':
      if (++depth == 32)
        return 1;
      total[depth] = last[depth] = 0;
      continue;
    case ')':
      if (depth)
        atom = total[depth--];
      break;
    case '|':
      last[depth] = 0;
      continue;
    case '+': /* x+ compiles as xx* */
      quant = 1;
      lo = hi = 2;
      break;
    case '*':
    case '?':
      continue;
    case '{': {
      char *end;
      lo = strtoul(p + i + 1, &end, 10);
      hi = lo + 1;
      if (*end == ',') {
        char *e2;
        unsigned long m = strtoul(end + 1, &e2, 10);
        if (e2 != end + 1)
          hi = m;
        end = e2;
      } else {
        hi = lo;
      }
      if (*end == '}') { /* else not an interval: a literal '{' */
        quant = 1;
        i = (size_t)(end - p);
      }
      break;
    }
    default:
      break;
    }
    if (!quant) {
      total[depth] =
          total[depth] + atom > REGEX_MAX_ELEMENTS ? REGEX_MAX_ELEMENTS + 1 : total[depth] + atom;
      last[depth] = atom;
    } else {
      size_t k = hi > lo ? hi : lo;
      size_t grown = sat_mul(last[depth], k ? k : 1);
      total[depth] = total[depth] - last[depth] + grown > REGEX_MAX_ELEMENTS
                         ? REGEX_MAX_ELEMENTS + 1
                         : total[depth] - last[depth] + grown;
      last[depth] = grown;
    }
    if (total[depth] > REGEX_MAX_ELEMENTS)
      return 1;
  }
  return 0;
}

static int check_regex(const char *pattern, char *msg, size_t msgsize) {
  if (regex_expands_too_much(pattern)) {
    snprintf(msg, msgsize,
             "the pattern repeats too much: it would expand to more than %d "
             "elements (nested or stacked repeats multiply)",
             REGEX_MAX_ELEMENTS);
    return FRAY_ESYNTAX;
  }
  regex_t re;
  int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
  if (rc == 0) {
    regfree(&re);
    return 0;
  }
  if (rc == REG_ESPACE)
    return FRAY_ENOMEM;
  regerror(rc, &re, msg, msgsize);
  return FRAY_ESYNTAX;
}

/* ----------------------------------------------------------- the script */

int fray_script_new(fray_script_t **out, const fray_mem_t *mem) {
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  fray_mem_t m;
  fray__mem_init(&m, mem);
  fray_script_t *s = fray__malloc(&m, sizeof *s);
  if (!s)
    return FRAY_ENOMEM;
  memset(s, 0, sizeof *s);
  s->mem = m;
  s->max_steps = FRAY_SCRIPT_DEFAULT_MAX_STEPS;
  s->max_clients = FRAY_SCRIPT_DEFAULT_MAX_CLIENTS;
  *out = s;
  return 0;
}

static void free_steps(const fray_mem_t *m, steparr_t *a, int borrowed) {
  for (size_t i = 0; i < a->n; i++) {
    if (!borrowed)
      fray__free(m, (void *)a->v[i].data);
    fray__free(m, (void *)a->v[i].cuts);
  }
  fray__free(m, a->v);
}

void fray_script_free(fray_script_t *s) {
  if (!s)
    return;
  fray_mem_t m = s->mem;
  free_steps(&m, &s->steps, s->borrows);
  free_steps(&m, &s->canary, s->borrows);
  for (size_t i = 0; i < s->nclients; i++)
    fray__free(&m, s->clients[i].name);
  fray__free(&m, s->clients);
  fray__free(&m, s->handler);
  fray__free(&m, s);
}

const fray_step_t *fray_script_steps(const fray_script_t *s, size_t *n) {
  if (n)
    *n = s ? s->steps.n : 0;
  return s ? s->steps.v : NULL;
}

const fray_step_t *fray_script_canary(const fray_script_t *s, size_t *n) {
  if (n)
    *n = s ? s->canary.n : 0;
  return s ? s->canary.v : NULL;
}

size_t fray_script_nclients(const fray_script_t *s) {
  return s ? s->nclients : 0;
}

const char *fray_script_client_name(const fray_script_t *s, size_t index) {
  return s && index < s->nclients ? s->clients[index].name : NULL;
}

static int find_client(const fray_script_t *s, const char *name, size_t n, size_t *index) {
  for (size_t i = 0; i < s->nclients; i++)
    if (strlen(s->clients[i].name) == n && !memcmp(s->clients[i].name, name, n)) {
      *index = i;
      return 0;
    }
  return FRAY_ENOENT;
}

int fray_script_client_find(const fray_script_t *s, const char *name, size_t *index) {
  if (!s || !name || !index)
    return FRAY_EINVAL;
  return find_client(s, name, strlen(name), index);
}

const char *fray_script_handler(const fray_script_t *s) {
  return s ? s->handler : NULL;
}

/* Finds or adds name[0..n) (already validated). FRAY_ERANGE past the
 * client limit. */
static int intern_client(fray_script_t *s, const char *name, size_t n, size_t *index) {
  if (find_client(s, name, n, index) == 0)
    return 0;
  if (s->nclients >= s->max_clients)
    return FRAY_ERANGE;
  if (s->nclients == s->capclients) {
    size_t cap = s->capclients ? s->capclients * 2 : 8;
    client_t *v = fray__realloc(&s->mem, s->clients, cap * sizeof *v);
    if (!v)
      return FRAY_ENOMEM;
    s->clients = v;
    s->capclients = cap;
  }
  char *copy = fray__malloc(&s->mem, n + 1);
  if (!copy)
    return FRAY_ENOMEM;
  memcpy(copy, name, n);
  copy[n] = '\0';
  s->clients[s->nclients] = (client_t){.name = copy};
  *index = s->nclients++;
  return 0;
}

int fray_script_add_client(fray_script_t *s, const char *name, size_t *index) {
  if (!s || !name || !index)
    return FRAY_EINVAL;
  size_t n = strlen(name);
  if (check_name(name, n) != 0)
    return FRAY_EINVAL;
  return intern_client(s, name, n, index);
}

static int set_handler(fray_script_t *s, const uint8_t *h, size_t n) {
  char *copy = fray__malloc(&s->mem, n + 1);
  if (!copy)
    return FRAY_ENOMEM;
  memcpy(copy, h, n);
  copy[n] = '\0';
  fray__free(&s->mem, s->handler);
  s->handler = copy;
  return 0;
}

int fray_script_set_handler(fray_script_t *s, const char *name) {
  if (!s || !name)
    return FRAY_EINVAL;
  size_t n = strlen(name);
  if (check_handler((const uint8_t *)name, n) != 0)
    return FRAY_EINVAL;
  return set_handler(s, (const uint8_t *)name, n);
}

/* Whether a step of kind may happen to client c now. Returns NULL if so,
 * else a message (in buf) saying why not. Canary steps skip this: the
 * simulator opens the canary's connection itself. */
static const char *state_error(const client_t *c, fray_step_kind_t kind, char *buf, size_t n) {
  if (kind == FRAY_STEP_OPEN) {
    if (c->open)
      snprintf(buf, n, "client \"%s\" is already open", c->name);
    return c->open ? buf : NULL;
  }
  if (!c->open) {
    snprintf(buf, n, "client \"%s\" is not open (add \"open %s\" before this line)", c->name,
             c->name);
    return buf;
  }
  if ((kind == FRAY_STEP_SEND || kind == FRAY_STEP_SHUTDOWN) && c->shut) {
    snprintf(buf, n, "client \"%s\" already sent eof (\"%s > eof\")", c->name, c->name);
    return buf;
  }
  if (kind >= FRAY_STEP_EXPECT && kind <= FRAY_STEP_EXPECT_EOF_OPT && c->eof) {
    snprintf(buf, n, "client \"%s\" already expects eof; nothing can arrive after it", c->name);
    return buf;
  }
  return NULL;
}

static void apply_state(client_t *c, fray_step_kind_t kind) {
  switch (kind) {
  case FRAY_STEP_OPEN:
    c->open = 1;
    c->shut = 0;
    c->eof = 0;
    break;
  case FRAY_STEP_CLOSE:
  case FRAY_STEP_RESET:
    c->open = 0;
    break;
  case FRAY_STEP_SHUTDOWN:
    c->shut = 1;
    break;
  case FRAY_STEP_EXPECT_EOF:
  case FRAY_STEP_EXPECT_EOF_OPT:
    c->eof = 1;
    break;
  default:
    break;
  }
}

/* Makes room for one more step in a. */
static int reserve_step(fray_script_t *s, steparr_t *a) {
  if (s->steps.n + s->canary.n >= s->max_steps)
    return FRAY_ERANGE;
  if (a->n < a->cap)
    return 0;
  size_t cap = a->cap ? a->cap * 2 : 16;
  fray_step_t *v = fray__realloc(&s->mem, a->v, cap * sizeof *v);
  if (!v)
    return FRAY_ENOMEM;
  a->v = v;
  a->cap = cap;
  return 0;
}

static int is_canary_kind(fray_step_kind_t k) {
  return k == FRAY_STEP_SEND || k == FRAY_STEP_EXPECT || k == FRAY_STEP_EXPECT_REGEX ||
         k == FRAY_STEP_EXPECT_GLOB;
}

static int add_step_copy(fray_script_t *s, const fray_step_t *st, int canary) {
  if (!s || !st || (unsigned)st->kind > (unsigned)FRAY_STEP_EXPECT_EOF_OPT ||
      st->client >= s->nclients)
    return FRAY_EINVAL;
  fray_step_kind_t k = st->kind;
  if (canary && !is_canary_kind(k))
    return FRAY_EINVAL;
  int has_data = k == FRAY_STEP_SEND || k == FRAY_STEP_EXPECT || k == FRAY_STEP_EXPECT_REGEX ||
                 k == FRAY_STEP_EXPECT_GLOB;
  if (has_data && !st->data && st->len)
    return FRAY_EINVAL;
  if (k == FRAY_STEP_SEND && st->ncuts) {
    if (!st->cuts)
      return FRAY_EINVAL;
    for (size_t i = 0; i < st->ncuts; i++)
      if (st->cuts[i] == 0 || st->cuts[i] >= st->len || (i && st->cuts[i] <= st->cuts[i - 1]))
        return FRAY_EINVAL;
  }
  int pattern = k == FRAY_STEP_EXPECT_REGEX || k == FRAY_STEP_EXPECT_GLOB;
  if (pattern && st->len && memchr(st->data, 0, st->len))
    return FRAY_EINVAL;
  char msg[160];
  if (!canary && state_error(&s->clients[st->client], k, msg, sizeof msg))
    return FRAY_ESTATE;
  steparr_t *a = canary ? &s->canary : &s->steps;
  int rc = reserve_step(s, a);
  if (rc)
    return rc;
  fray_step_t copy = {.kind = k, .client = st->client, .line = st->line, .column = st->column};
  uint8_t *data = NULL;
  size_t *cuts = NULL;
  if (has_data && s->borrows) {
    if (pattern)
      return FRAY_EINVAL; /* patterns need their NUL and a check */
    copy.data = st->data;
    copy.len = st->len;
  } else if (has_data) {
    data = fray__malloc(&s->mem, st->len + 1);
    if (!data)
      return FRAY_ENOMEM;
    if (st->len)
      memcpy(data, st->data, st->len);
    data[st->len] = 0;
    if (k == FRAY_STEP_EXPECT_REGEX) {
      rc = check_regex((const char *)data, msg, sizeof msg);
      if (rc) {
        fray__free(&s->mem, data);
        return rc == FRAY_ENOMEM ? rc : FRAY_EINVAL;
      }
    }
    copy.data = data;
    copy.len = st->len;
  }
  if (k == FRAY_STEP_SEND && st->ncuts) {
    cuts = fray__malloc(&s->mem, st->ncuts * sizeof *cuts);
    if (!cuts) {
      fray__free(&s->mem, data);
      return FRAY_ENOMEM;
    }
    memcpy(cuts, st->cuts, st->ncuts * sizeof *cuts);
    copy.cuts = cuts;
    copy.ncuts = st->ncuts;
  }
  a->v[a->n++] = copy;
  if (!canary)
    apply_state(&s->clients[st->client], k);
  return 0;
}

int fray_script_add_step(fray_script_t *s, const fray_step_t *step) {
  return add_step_copy(s, step, 0);
}

int fray_script_add_canary_step(fray_script_t *s, const fray_step_t *step) {
  return add_step_copy(s, step, 1);
}

/* --------------------------------------------------------------- parser */

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
  size_t total; /* expanded bytes so far, checked against max_bytes */
  size_t handler_line;
  bytevec_t data; /* the statement being parsed */
  size_t *cuts;   /* its cut offsets */
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
  return p->pos + n == p->len || !is_name_char((unsigned char)p->text[p->pos + n]);
}

static size_t word_len(const parser_t *p) {
  size_t n = 0;
  while (p->pos + n < p->len && is_name_char((unsigned char)p->text[p->pos + n]))
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
  if (b->cap - b->len <= n) {
    size_t want = b->len + n + 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want)
      cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    /* The budget bounds what the buffer must hold; doubling past it would
     * waste up to half of a large allocation. */
    if (cap > p->max_bytes + 1 && want <= p->max_bytes + 1)
      cap = p->max_bytes + 1;
    uint8_t *v = fray__realloc(&p->s->mem, b->p, cap);
    if (!v)
      return fail(p, FRAY_ENOMEM, pos, "out of memory");
    b->p = v;
    b->cap = cap;
  }
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

  FILE *f = fopen(full, "rb");
  if (!f) {
    int e = errno;
    rc = fail(p, e == ENOENT ? FRAY_ENOENT : FRAY_EIO, kw, "cannot open file \"%s\": %s", full,
              strerror(e));
    fray__free(m, full);
    return rc;
  }
  uint8_t buf[FILE_CHUNK];
  rc = 0;
  for (;;) {
    size_t got = fread(buf, 1, sizeof buf, f);
    if (got) {
      rc = append(p, buf, got, kw);
      if (rc)
        break;
    }
    if (got < sizeof buf) {
      if (ferror(f)) {
        int e = errno;
        rc = fail(p, FRAY_EIO, kw, "cannot read file \"%s\": %s", full, strerror(e));
      }
      break;
    }
  }
  fclose(f);
  fray__free(m, full);
  return rc;
}

static int push_cut(parser_t *p, size_t pos) {
  if (p->ncuts == p->capcuts) {
    size_t cap = p->capcuts ? p->capcuts * 2 : 8;
    size_t *v = fray__realloc(&p->s->mem, p->cuts, cap * sizeof *v);
    if (!v)
      return fail(p, FRAY_ENOMEM, pos, "out of memory");
    p->cuts = v;
    p->capcuts = cap;
  }
  p->cuts[p->ncuts++] = p->data.len;
  return 0;
}

/* Repeats the piece data[piece..len) so it occurs n times in all. */
static int repeat_piece(parser_t *p, size_t piece, size_t pos) {
  size_t start = p->pos;
  uint64_t n = 0;
  while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') {
    unsigned d = (unsigned)(p->text[p->pos] - '0');
    /* Saturate instead of wrapping: any count past the limit is an error. */
    n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
    p->pos++;
  }
  if (p->pos == start)
    return fail(p, FRAY_ESYNTAX, start, "expected a repetition count after '*'");
  if (p->pos < p->len && is_name_char((unsigned char)p->text[p->pos]))
    return fail(p, FRAY_ESYNTAX, start, "expected a decimal repetition count after '*'");
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
    rc = check_regex((const char *)p->data.p, msg, sizeof msg);
    if (rc)
      return fail(p, rc, at, "invalid regular expression: %s", msg);
  }
  return 0;
}

/* Moves the statement's data and cuts into a new step. */
static int emit_step(parser_t *p, int canary, fray_step_kind_t kind, size_t client, size_t pos,
                     int has_data) {
  fray_script_t *s = p->s;
  steparr_t *a = canary ? &s->canary : &s->steps;
  int rc = reserve_step(s, a);
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
    p->data = (bytevec_t){0};
    p->ncuts = 0;
  }
  a->v[a->n++] = st;
  if (!canary)
    apply_state(&s->clients[client], kind);
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
  if (!is_name_start(peek(p)))
    return fail(p, FRAY_ESYNTAX, at, "expected a client name after %s", ctx ? ctx : "?");
  size_t n = word_len(p);
  if (n > FRAY_SCRIPT_MAX_NAME)
    return fail(p, FRAY_ESYNTAX, at, "client name longer than %d bytes", FRAY_SCRIPT_MAX_NAME);
  if (is_keyword(p->text + at, n) && !ctx)
    return fail(p, FRAY_ESYNTAX, at, "'%.*s' is a keyword, not a client name", (int)n,
                p->text + at);
  if (is_keyword(p->text + at, n))
    return fail(p, FRAY_ESYNTAX, at, "expected a client name after %s, not the keyword '%.*s'", ctx,
                (int)n, p->text + at);
  int rc = intern_client(p->s, p->text + at, n, client);
  if (rc == FRAY_ERANGE)
    return fail(p, rc, at, "more than %zu clients (max_clients)", p->s->max_clients);
  if (rc)
    return fail(p, rc, at, "out of memory");
  p->pos += n;
  return 0;
}

static int check_client_state(parser_t *p, size_t client, fray_step_kind_t kind, size_t at) {
  char msg[200];
  if (state_error(&p->s->clients[client], kind, msg, sizeof msg))
    return fail(p, FRAY_ESYNTAX, at, "%s", msg);
  return 0;
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
  } else if (!canary && at_word(p, "eof")) {
    p->pos += 3;
    kind = FRAY_STEP_EXPECT_EOF;
    if (peek(p) == '?') {
      p->pos++;
      kind = FRAY_STEP_EXPECT_EOF_OPT;
    }
    rc = end_of_line(p, kind == FRAY_STEP_EXPECT_EOF ? "'eof'" : "'eof?'");
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
                            : "expected a string, 'hex', 'file', '~', 'glob', 'eof' or 'eof?' "
                              "after '<'");
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

static int directive(parser_t *p) {
  size_t at = p->pos++;
  size_t n = 0;
  while (p->pos + n < p->len &&
         ((p->text[p->pos + n] >= 'a' && p->text[p->pos + n] <= 'z') || p->text[p->pos + n] == '-'))
    n++;
  const char *w = p->text + p->pos;
  int rc;
  if (n == 7 && !memcmp(w, "handler", 7) &&
      !is_name_char(p->pos + n < p->len ? (unsigned char)w[n] : ' ')) {
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
      if (check_handler(p->data.p, p->data.len))
        return fail(p, FRAY_ESYNTAX, hpos,
                    "expected a handler name of 1 to %d bytes without control bytes", HANDLER_MAX);
      rc = set_handler(p->s, p->data.p, p->data.len);
      /* The name's bytes are not session data: give back their budget. */
      p->total -= p->data.len;
      p->data.len = 0;
    } else {
      while (p->pos < p->len && is_bare_handler_char((unsigned char)p->text[p->pos]))
        p->pos++;
      if (p->pos == hpos)
        return fail(p, FRAY_ESYNTAX, hpos, "expected a handler name after '@handler'");
      if (p->pos - hpos > HANDLER_MAX)
        return fail(p, FRAY_ESYNTAX, hpos,
                    "expected a handler name of 1 to %d bytes without control bytes", HANDLER_MAX);
      rc = set_handler(p->s, (const uint8_t *)p->text + hpos, p->pos - hpos);
    }
    if (rc)
      return fail(p, rc, at, "out of memory");
    p->handler_line = p->line;
    return end_of_line(p, "the handler name");
  }
  if (n == 6 && !memcmp(w, "canary", 6) &&
      !is_name_char(p->pos + n < p->len ? (unsigned char)w[n] : ' ')) {
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
  while (p->pos + wn < p->len && is_name_char((unsigned char)p->text[p->pos + wn]))
    wn++;
  return fail(p, FRAY_ESYNTAX, at, "unknown directive '@%.*s' (expected '@handler' or '@canary')",
              (int)(wn > 40 ? 40 : wn), w);
}

static int statement(parser_t *p) {
  size_t at = p->pos;
  int c = peek(p);
  if (c == '@')
    return directive(p);
  if (!is_name_start(c)) {
    if (c >= 0x21 && c < 0x7f)
      return fail(
          p, FRAY_ESYNTAX, at,
          "expected a statement (open, close, reset, NAME >, NAME < or @directive), not '%c'", c);
    return fail(p, FRAY_ESYNTAX, at,
                "expected a statement (open, close, reset, NAME >, NAME < or @directive), not byte "
                "0x%02x",
                (unsigned)c);
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
  if (o.base_dir) {
    size_t n = strlen(o.base_dir);
    p.base_dir = fray__malloc(&s->mem, n + 1);
    if (p.base_dir)
      memcpy(p.base_dir, o.base_dir, n + 1);
    else
      rc = FRAY_ENOMEM;
  } else {
    rc = dir_of(&s->mem, filename, &p.base_dir);
  }
  if (rc)
    set_err(err, rc, filename, 0, 0, "out of memory");
  else
    rc = parse_all(&p);
  fray__free(&s->mem, p.base_dir);
  fray__free(&s->mem, p.data.p);
  fray__free(&s->mem, p.cuts);
  if (rc) {
    fray_script_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int fray_script_load(fray_script_t **out, const char *path, const fray_script_opts_t *opts,
                     fray_script_error_t *err) {
  if (out)
    *out = NULL;
  if (!out || !path) {
    set_err(err, FRAY_EINVAL, path, 0, 0, "invalid argument");
    return FRAY_EINVAL;
  }
  fray_mem_t m;
  fray__mem_init(&m, opts ? opts->mem : NULL);
  size_t max_text = opts && opts->max_text ? opts->max_text : FRAY_SCRIPT_DEFAULT_MAX_TEXT;
  if (max_text > SIZE_MAX / 2)
    max_text = SIZE_MAX / 2; /* keeps max_text + FILE_CHUNK from wrapping */
  char msg[256];
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    int code = e == ENOENT ? FRAY_ENOENT : FRAY_EIO;
    snprintf(msg, sizeof msg, "cannot open script: %s", strerror(e));
    set_err(err, code, path, 0, 0, msg);
    return code;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (cap - len < FILE_CHUNK) {
      /* Never hold more than max_text + one chunk, whatever the file. */
      size_t ncap = cap ? cap * 2 : FILE_CHUNK;
      if (ncap > max_text + FILE_CHUNK)
        ncap = max_text + FILE_CHUNK;
      if (ncap - len < FILE_CHUNK)
        ncap = len + FILE_CHUNK;
      char *v = fray__realloc(&m, buf, ncap);
      if (!v) {
        rc = FRAY_ENOMEM;
        set_err(err, rc, path, 0, 0, "out of memory");
        break;
      }
      buf = v;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, FILE_CHUNK, f);
    len += got;
    if (len > max_text) {
      rc = FRAY_ERANGE;
      snprintf(msg, sizeof msg, "script longer than the limit of %zu bytes (max_text)", max_text);
      set_err(err, rc, path, 0, 0, msg);
      break;
    }
    if (got < FILE_CHUNK) {
      if (ferror(f)) {
        int e = errno;
        rc = FRAY_EIO;
        snprintf(msg, sizeof msg, "cannot read script: %s", strerror(e));
        set_err(err, rc, path, 0, 0, msg);
      }
      break;
    }
  }
  fclose(f);
  if (!rc)
    rc = fray_script_parse(out, buf, len, path, opts, err);
  fray__free(&m, buf);
  return rc;
}

/* --------------------------------------------------------------- writer */

typedef struct sink {
  const fray_mem_t *mem;
  FILE *f;
  char *buf;
  size_t len, cap;
  int err;
  char small[4096];
} sink_t;

static void flush_sink(sink_t *k) {
  if (k->f && k->len && !k->err) {
    if (fwrite(k->buf, 1, k->len, k->f) != k->len)
      k->err = FRAY_EIO;
    k->len = 0;
  }
}

static void put(sink_t *k, const void *src, size_t n) {
  if (k->err)
    return;
  if (k->f) {
    if (k->cap - k->len < n) {
      flush_sink(k);
      if (n > k->cap) {
        if (!k->err && fwrite(src, 1, n, k->f) != n)
          k->err = FRAY_EIO;
        return;
      }
    }
  } else if (k->cap - k->len <= n) {
    size_t cap = k->cap ? k->cap : 256;
    while (cap - k->len <= n)
      cap *= 2;
    char *v = fray__realloc(k->mem, k->buf, cap);
    if (!v) {
      k->err = FRAY_ENOMEM;
      return;
    }
    k->buf = v;
    k->cap = cap;
  }
  memcpy(k->buf + k->len, src, n);
  k->len += n;
}

static void puts_(sink_t *k, const char *str) {
  put(k, str, strlen(str));
}

static void put_escaped(sink_t *k, const uint8_t *d, size_t n) {
  char buf[FRAY__ESC_MAX(256)];
  put(k, "\"", 1);
  for (size_t i = 0; i < n; i += 256) {
    size_t m = n - i < 256 ? n - i : 256;
    put(k, buf, fray__escape(buf, d + i, m, FRAY__ESC_QUOTE));
  }
  put(k, "\"", 1);
}

static void put_hex(sink_t *k, const uint8_t *d, size_t n) {
  static const char hex[] = "0123456789abcdef";
  puts_(k, "hex \"");
  for (size_t i = 0; i < n; i++) {
    char h[2] = {hex[d[i] >> 4], hex[d[i] & 15]};
    put(k, h, 2);
  }
  put(k, "\"", 1);
}

/* One stretch without long runs: as a string, or as hex when it is mostly
 * bytes a string would have to escape as \xHH. */
static void put_stretch(sink_t *k, const uint8_t *d, size_t n, int *first) {
  if (n == 0)
    return;
  if (!*first)
    put(k, " ", 1);
  *first = 0;
  size_t binary = 0;
  for (size_t i = 0; i < n; i++)
    if ((d[i] < 0x20 || d[i] >= 0x7f) && d[i] != '\r' && d[i] != '\n' && d[i] != '\t' && d[i])
      binary++;
  if (n >= 8 && binary * 2 > n)
    put_hex(k, d, n);
  else
    put_escaped(k, d, n);
}

/* Bytes as pieces: stretches and `"x" * N` runs, space separated. */
static void put_bytes(sink_t *k, const uint8_t *d, size_t n, int *first) {
  size_t i = 0, pend = 0;
  while (i < n) {
    size_t r = 1;
    while (i + r < n && d[i + r] == d[i])
      r++;
    if (r >= RUN_MIN) {
      put_stretch(k, d + pend, i - pend, first);
      if (!*first)
        put(k, " ", 1);
      *first = 0;
      put_escaped(k, d + i, 1);
      char num[32];
      snprintf(num, sizeof num, " * %zu", r);
      puts_(k, num);
      pend = i + r;
    }
    i += r;
  }
  put_stretch(k, d + pend, n - pend, first);
}

static void put_step(sink_t *k, const fray_script_t *s, const fray_step_t *st, int canary) {
  const char *name = s->clients[st->client].name;
  if (canary)
    puts_(k, "@canary ");
  switch (st->kind) {
  case FRAY_STEP_OPEN:
  case FRAY_STEP_CLOSE:
  case FRAY_STEP_RESET:
    puts_(k, fray_step_kind_name(st->kind));
    puts_(k, " ");
    puts_(k, name);
    break;
  case FRAY_STEP_SEND:
  case FRAY_STEP_EXPECT: {
    puts_(k, name);
    puts_(k, st->kind == FRAY_STEP_SEND ? " > " : " < ");
    if (st->len == 0) {
      puts_(k, "\"\"");
      break;
    }
    int first = 1;
    size_t from = 0;
    for (size_t i = 0; i <= st->ncuts; i++) {
      size_t to = i < st->ncuts ? st->cuts[i] : st->len;
      if (i)
        puts_(k, " |");
      put_bytes(k, st->data + from, to - from, &first);
      from = to;
    }
    break;
  }
  case FRAY_STEP_SHUTDOWN:
    puts_(k, name);
    puts_(k, " > eof");
    break;
  case FRAY_STEP_EXPECT_REGEX:
  case FRAY_STEP_EXPECT_GLOB:
    puts_(k, name);
    puts_(k, st->kind == FRAY_STEP_EXPECT_REGEX ? " < ~ " : " < glob ");
    put_escaped(k, st->data, st->len);
    break;
  case FRAY_STEP_EXPECT_EOF:
    puts_(k, name);
    puts_(k, " < eof");
    break;
  case FRAY_STEP_EXPECT_EOF_OPT:
    puts_(k, name);
    puts_(k, " < eof?");
    break;
  }
  puts_(k, "\n");
}

static void put_script(sink_t *k, const fray_script_t *s) {
  if (s->handler) {
    puts_(k, "@handler ");
    size_t n = strlen(s->handler);
    int bare = 1;
    for (size_t i = 0; i < n; i++)
      bare &= is_bare_handler_char((unsigned char)s->handler[i]);
    if (bare)
      puts_(k, s->handler);
    else
      put_escaped(k, (const uint8_t *)s->handler, n);
    puts_(k, "\n");
  }
  for (size_t i = 0; i < s->canary.n; i++)
    put_step(k, s, &s->canary.v[i], 1);
  for (size_t i = 0; i < s->steps.n; i++)
    put_step(k, s, &s->steps.v[i], 0);
}

int fray_script_write(const fray_script_t *s, FILE *out) {
  if (!s || !out)
    return FRAY_EINVAL;
  sink_t k = {.mem = &s->mem, .f = out};
  k.buf = k.small;
  k.cap = sizeof k.small;
  put_script(&k, s);
  flush_sink(&k);
  if (!k.err && fflush(out) != 0)
    k.err = FRAY_EIO;
  return k.err;
}

int fray_script_write_mem(const fray_script_t *s, char **text, size_t *len) {
  if (text)
    *text = NULL;
  if (len)
    *len = 0;
  if (!s || !text)
    return FRAY_EINVAL;
  sink_t k = {.mem = &s->mem};
  put_script(&k, s);
  if (!k.err)
    put(&k, "", 1); /* the NUL, also makes an empty script a valid buffer */
  if (k.err) {
    fray__free(&s->mem, k.buf);
    return k.err;
  }
  *text = k.buf;
  if (len)
    *len = k.len - 1;
  return 0;
}

void fray_script_text_free(const fray_script_t *s, char *text) {
  if (s)
    fray__free(&s->mem, text);
}

static int steps_equal(const fray_script_t *a, const steparr_t *x, const fray_script_t *b,
                       const steparr_t *y) {
  if (x->n != y->n)
    return 0;
  for (size_t i = 0; i < x->n; i++) {
    const fray_step_t *p = &x->v[i], *q = &y->v[i];
    if (p->kind != q->kind || strcmp(a->clients[p->client].name, b->clients[q->client].name) ||
        p->len != q->len || p->ncuts != q->ncuts)
      return 0;
    if (p->len && memcmp(p->data, q->data, p->len))
      return 0;
    if (p->ncuts && memcmp(p->cuts, q->cuts, p->ncuts * sizeof *p->cuts))
      return 0;
  }
  return 1;
}

int fray_script_equal(const fray_script_t *a, const fray_script_t *b) {
  if (!a || !b)
    return a == b;
  if ((a->handler == NULL) != (b->handler == NULL) ||
      (a->handler && strcmp(a->handler, b->handler)))
    return 0;
  return steps_equal(a, &a->canary, b, &b->canary) && steps_equal(a, &a->steps, b, &b->steps);
}

int fray__script_new_like(const fray_script_t *orig, const fray_mem_t *mem, fray_script_t **out) {
  fray_script_t *s;
  *out = NULL;
  int r = fray_script_new(&s, mem);
  if (r)
    return r;
  size_t nc = fray_script_nclients(orig), idx;
  for (size_t i = 0; i < nc && !r; i++)
    r = fray_script_add_client(s, fray_script_client_name(orig, i), &idx);
  if (!r && fray_script_handler(orig))
    r = fray_script_set_handler(s, fray_script_handler(orig));
  if (r) {
    fray_script_free(s);
    return FRAY_ENOMEM; /* the names come from a valid script: only memory can fail */
  }
  *out = s;
  return 0;
}

int fray__script_borrow(fray_script_t *s) {
  if (!s || s->steps.n || s->canary.n)
    return FRAY_ESTATE;
  s->borrows = 1;
  return 0;
}
