/* POSIX extended regular expressions, compiled once and matched in bounded
 * time (regex_internal.h).
 *
 * Why not regcomp()/regexec(): glibc copies a repeated subexpression once
 * per repetition, so stacked or nested repeats (`a??????...`, `x++++`)
 * compile in exponential time and memory, and its matcher backtracks
 * (`(.{0,63}){0,63}` took 74 s on a 3 KB line). Neither call can be
 * interrupted or bounded. PCRE2 (Debian's libpcre2-dev, C, allocator
 * injectable) compiles repeats to counted instructions and its DFA matcher
 * (pcre2_dfa_match) walks the line once, keeping a bounded set of states,
 * so both costs are bounded; when the set would overflow it says so.
 *
 * The pattern is translated from ERE to PCRE2 syntax so the documented
 * syntax keeps its meaning: everything literal is written as \x{hh}, bracket
 * expressions are rebuilt item by item (a backslash is literal inside them
 * in ERE), stacked repeats are composed or grouped (PCRE2 would read `a+?`
 * as lazy and `a++` as possessive), groups do not capture, and `.` and `$`
 * get their POSIX meaning (PCRE2_DOTALL, PCRE2_DOLLAR_ENDONLY). The GNU
 * escapes \w \W \s \S \b \B \< \> \` \' keep their glibc meaning.
 * Backreferences are refused: they are not ERE, and no matcher bounds them. */
#include "session/regex_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

/* The translation grows a pattern at most this many times (`\<` becomes
 * `\b(?=\w)`), plus a constant. */
#define XL_GROWTH 8
#define NO_ATOM ((size_t)-1)
#define HEAP_LIMIT_KIB 16384 /* PCRE2 heap while matching one line */

struct fray_regex {
  fray_mem_t mem;
  pcre2_general_context *gctx;
  pcre2_match_context *mctx;
  pcre2_code *code;
};

typedef struct xl {
  const uint8_t *p; /* the ERE */
  size_t n, i;
  char *out; /* the PCRE2 pattern */
  size_t len, cap;
  size_t atom;  /* out offset where the last repeatable atom starts, or NO_ATOM */
  char quant;   /* the repeat that atom already carries ('?', '*', '+', '{') or 0 */
  size_t depth; /* open groups */
  size_t open[FRAY__REGEX_MAX_NEST];
  char *msg;
  size_t msgsize;
  size_t *at;
} xl_t;

__attribute__((format(printf, 4, 5))) static int xl_fail(xl_t *x, int code, size_t at,
                                                         const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->msg, x->msgsize, fmt, ap);
  va_end(ap);
  *x->at = at;
  return code;
}

static void put(xl_t *x, const char *s, size_t n) {
  /* cap is XL_GROWTH times the input plus slack: never reached. */
  if (x->len + n < x->cap) {
    memcpy(x->out + x->len, s, n);
    x->len += n;
  }
}

static void puts_(xl_t *x, const char *s) {
  put(x, s, strlen(s));
}

static void put_byte(xl_t *x, unsigned c) {
  char b[8];
  snprintf(b, sizeof b, "\\x{%02x}", c & 0xffu);
  puts_(x, b);
}

/* A new atom starts at the current output offset. */
static void atom_here(xl_t *x) {
  x->atom = x->len;
  x->quant = 0;
}

static const char *const classes[] = {"alnum", "alpha", "blank", "cntrl", "digit", "graph",
                                      "lower", "print", "punct", "space", "upper", "xdigit"};

static int known_class(const uint8_t *w, size_t n) {
  for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++)
    if (strlen(classes[k]) == n && !memcmp(classes[k], w, n))
      return 1;
  return 0;
}

/* One bracket item at x->i: a byte, `[.c.]`, `[=c=]` (both one byte here),
 * or `[:class:]` (then *byte is -1 and the class is written). */
static int bracket_item(xl_t *x, size_t open, int *byte) {
  const uint8_t *p = x->p;
  if (p[x->i] != '[' || x->i + 1 >= x->n ||
      (p[x->i + 1] != ':' && p[x->i + 1] != '.' && p[x->i + 1] != '=')) {
    *byte = p[x->i++];
    return 0;
  }
  uint8_t kind = p[x->i + 1];
  size_t s = x->i + 2, e = s;
  while (e + 1 < x->n && !(p[e] == kind && p[e + 1] == ']'))
    e++;
  if (e + 1 >= x->n)
    return xl_fail(x, FRAY_ESYNTAX, x->i,
                   "unterminated '[%c' in the bracket expression at byte %zu", kind, open + 1);
  if (kind == ':') {
    if (!known_class(p + s, e - s))
      return xl_fail(x, FRAY_ESYNTAX, x->i, "unknown character class '[:%.*s:]'",
                     (int)(e - s > 20 ? 20 : e - s), (const char *)p + s);
    puts_(x, "[:");
    put(x, (const char *)p + s, e - s);
    puts_(x, ":]");
    *byte = -1;
  } else if (e - s != 1) {
    return xl_fail(x, FRAY_ESYNTAX, x->i,
                   "only single-byte collating elements are supported in '[%c...%c]'", kind, kind);
  } else {
    *byte = p[s];
  }
  x->i = e + 2;
  return 0;
}

/* `[...]` at x->i, rebuilt item by item with every byte as \x{hh}. */
static int bracket(xl_t *x) {
  size_t open = x->i++;
  puts_(x, "[");
  if (x->i < x->n && x->p[x->i] == '^') {
    puts_(x, "^");
    x->i++;
  }
  for (int first = 1;; first = 0) {
    if (x->i >= x->n)
      return xl_fail(x, FRAY_ESYNTAX, open, "unterminated bracket expression (expected ']')");
    if (x->p[x->i] == ']' && !first) {
      x->i++;
      break;
    }
    int lo, hi;
    int rc = bracket_item(x, open, &lo);
    if (rc)
      return rc;
    int range = x->i + 1 < x->n && x->p[x->i] == '-' && x->p[x->i + 1] != ']';
    if (lo < 0 && range)
      return xl_fail(x, FRAY_ESYNTAX, x->i, "a character class cannot start a range");
    if (lo < 0)
      continue;
    put_byte(x, (unsigned)lo);
    if (!range)
      continue;
    size_t dash = x->i++;
    rc = bracket_item(x, open, &hi);
    if (rc)
      return rc;
    if (hi < lo)
      return xl_fail(x, FRAY_ESYNTAX, dash, "invalid range end (the range is empty)");
    puts_(x, "-");
    put_byte(x, (unsigned)hi);
  }
  puts_(x, "]");
  return 0;
}

/* Reads `{m}`, `{m,}`, `{m,n}` or `{,n}` at x->i into text as PCRE2 writes
 * it. */
static int interval(xl_t *x, char *text, size_t size) {
  size_t at = x->i++;
  unsigned long v[2] = {0, 0};
  int have[2] = {0, 0}, comma = 0;
  for (int k = 0; k < 2; k++) {
    while (x->i < x->n && x->p[x->i] >= '0' && x->p[x->i] <= '9') {
      v[k] = v[k] * 10 + (unsigned long)(x->p[x->i++] - '0');
      have[k] = 1;
      if (v[k] > 65535)
        return xl_fail(x, FRAY_ERANGE, at, "repeat count over 65535");
    }
    if (k == 0 && x->i < x->n && x->p[x->i] == ',') {
      comma = 1;
      x->i++;
    } else {
      break;
    }
  }
  if (x->i >= x->n || x->p[x->i] != '}' || (!have[0] && !have[1]))
    return xl_fail(x, FRAY_ESYNTAX, at,
                   "expected '{M}', '{M,}', '{M,N}' or '{,N}' (unmatched '{')");
  x->i++;
  if (comma && have[1] && v[1] < v[0])
    return xl_fail(x, FRAY_ESYNTAX, at,
                   "invalid repeat '{%lu,%lu}' (the maximum is below the "
                   "minimum)",
                   v[0], v[1]);
  if (!comma)
    snprintf(text, size, "{%lu}", v[0]);
  else if (have[1])
    snprintf(text, size, "{%lu,%lu}", v[0], v[1]);
  else
    snprintf(text, size, "{%lu,}", v[0]);
  return 0;
}

/* A repeat at x->i applies to the last atom. A second repeat on the same
 * atom composes: among ? * + the result is ? or + when both are, else *; with
 * an interval involved the atom is grouped first, (?:a{2}){3}. */
static int repeat(xl_t *x) {
  size_t at = x->i;
  char q = (char)x->p[x->i], text[48] = {q, 0};
  if (q == '{') {
    int rc = interval(x, text, sizeof text);
    if (rc)
      return rc;
  } else {
    x->i++;
  }
  if (x->atom == NO_ATOM)
    return xl_fail(x, FRAY_ESYNTAX, at, "nothing to repeat before '%c'", q);
  if (x->quant && x->quant != '{' && q != '{') {
    char c = x->quant == q && q != '*' ? q : '*';
    x->out[x->len - 1] = c;
    x->quant = c;
    return 0;
  }
  if (x->quant) {
    memmove(x->out + x->atom + 3, x->out + x->atom, x->len - x->atom);
    memcpy(x->out + x->atom, "(?:", 3);
    x->len += 3;
    puts_(x, ")");
  }
  puts_(x, text);
  x->quant = q;
  return 0;
}

/* `\c` outside brackets. */
static int escape(xl_t *x) {
  size_t at = x->i++;
  if (x->i >= x->n)
    return xl_fail(x, FRAY_ESYNTAX, at, "trailing backslash");
  unsigned c = x->p[x->i++];
  static const char *const gnu[][2] = {{"<", "\\b(?=\\w)"}, {">", "\\b(?<=\\w)"}, {"`", "\\A"},
                                       {"'", "\\z"},        {"b", "\\b"},         {"B", "\\B"}};
  if (c >= '1' && c <= '9')
    return xl_fail(x, FRAY_ESYNTAX, at,
                   "backreferences ('\\%c') are not supported (they make matching exponential)", c);
  for (size_t k = 0; k < sizeof gnu / sizeof gnu[0]; k++)
    if (c == (unsigned char)gnu[k][0][0]) {
      puts_(x, gnu[k][1]);
      x->atom = NO_ATOM; /* an assertion: nothing to repeat */
      return 0;
    }
  atom_here(x);
  if (c == 'w' || c == 'W' || c == 's' || c == 'S') {
    char b[3] = {'\\', (char)c, 0};
    puts_(x, b);
  } else {
    put_byte(x, c); /* any other escaped byte is itself, as in glibc */
  }
  return 0;
}

static int translate(xl_t *x) {
  while (x->i < x->n) {
    int c = x->p[x->i], rc = 0;
    switch (c) {
    case '(':
      if (x->depth == FRAY__REGEX_MAX_NEST)
        return xl_fail(x, FRAY_ERANGE, x->i, "parentheses nested deeper than %d",
                       FRAY__REGEX_MAX_NEST);
      x->open[x->depth++] = x->len;
      puts_(x, "(?:");
      x->atom = NO_ATOM;
      x->i++;
      break;
    case ')':
      if (!x->depth) { /* an unmatched ')' is literal in ERE */
        atom_here(x);
        put_byte(x, ')');
      } else {
        puts_(x, ")");
        x->atom = x->open[--x->depth];
        x->quant = 0;
      }
      x->i++;
      break;
    case '|':
    case '^':
    case '$':
      put(x, (const char *)&x->p[x->i++], 1);
      x->atom = NO_ATOM;
      break;
    case '.':
      atom_here(x);
      puts_(x, ".");
      x->i++;
      break;
    case '[':
      atom_here(x);
      rc = bracket(x);
      break;
    case '\\':
      rc = escape(x);
      break;
    case '*':
    case '+':
    case '?':
    case '{':
      rc = repeat(x);
      break;
    default:
      atom_here(x);
      put_byte(x, (unsigned)c);
      x->i++;
    }
    if (rc)
      return rc;
  }
  if (x->depth)
    return xl_fail(x, FRAY_ESYNTAX, x->n, "unmatched '(' (expected ')')");
  return 0;
}

static void *pcre_malloc(PCRE2_SIZE n, void *user) {
  return fray__malloc(user, n);
}

static void pcre_free(void *p, void *user) {
  fray__free(user, p);
}

/* Compiles the translated pattern x->out into re. */
static int compile_pcre(fray__regex_t *re, const xl_t *x) {
  pcre2_compile_context *cctx = pcre2_compile_context_create(re->gctx);
  if (!cctx)
    return FRAY_ENOMEM;
  pcre2_set_parens_nest_limit(cctx, FRAY__REGEX_MAX_NEST + 10);
  int err;
  PCRE2_SIZE off;
  re->code = pcre2_compile((PCRE2_SPTR)x->out, x->len,
                           PCRE2_ANCHORED | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_UTF |
                               PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C,
                           &err, &off, cctx);
  pcre2_compile_context_free(cctx);
  if (!re->code) {
    if (err == PCRE2_ERROR_NOMEMORY || err == PCRE2_ERROR_HEAP_FAILED)
      return FRAY_ENOMEM;
    PCRE2_UCHAR text[160];
    pcre2_get_error_message(err, text, sizeof text);
    snprintf(x->msg, x->msgsize, "%s", (const char *)text);
    *x->at = 0;
    return FRAY_ERANGE; /* the translation is valid PCRE2: only a size limit is left */
  }
  re->mctx = pcre2_match_context_create(re->gctx);
  if (!re->mctx)
    return FRAY_ENOMEM;
  pcre2_set_heap_limit(re->mctx, HEAP_LIMIT_KIB);
  pcre2_set_depth_limit(re->mctx, FRAY__REGEX_MAX_NEST * 4);
  return 0;
}

int fray__regex_compile(fray__regex_t **out, const fray_mem_t *mem, const char *pattern, size_t len,
                        char *msg, size_t msgsize, size_t *at) {
  *out = NULL;
  *at = 0;
  snprintf(msg, msgsize, "out of memory");
  if (len > FRAY__REGEX_MAX_LEN) {
    snprintf(msg, msgsize, "a regular expression longer than %d bytes", FRAY__REGEX_MAX_LEN);
    return FRAY_ERANGE;
  }
  fray_mem_t m;
  fray__mem_init(&m, mem);
  fray__regex_t *re = fray__malloc(&m, sizeof *re);
  xl_t *x = fray__malloc(&m, sizeof *x);
  char *buf = fray__malloc(&m, len * XL_GROWTH + 64); /* + the (?:...)\z around it */
  if (!re || !x || !buf) {
    fray__free(&m, re);
    fray__free(&m, x);
    fray__free(&m, buf);
    return FRAY_ENOMEM;
  }
  memset(re, 0, sizeof *re);
  re->mem = m;
  *x = (xl_t){.p = (const uint8_t *)pattern,
              .n = len,
              .out = buf,
              .cap = len * XL_GROWTH + 64,
              .atom = NO_ATOM,
              .msg = msg,
              .msgsize = msgsize,
              .at = at};
  puts_(x, "(?:");
  int rc = translate(x);
  puts_(x, ")\\z");
  if (!rc) {
    re->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, &re->mem);
    rc = re->gctx ? compile_pcre(re, x) : FRAY_ENOMEM;
  }
  fray__free(&m, buf);
  fray__free(&m, x);
  if (rc) {
    if (rc == FRAY_ENOMEM)
      snprintf(msg, msgsize, "out of memory");
    fray__regex_free(re);
    return rc;
  }
  *out = re;
  return 0;
}

int fray__regex_match(const fray__regex_t *re, const uint8_t *line, size_t n) {
  /* Two state lists of FRAY__REGEX_MAX_STATES states, 3 ints each. */
  enum { WSCOUNT = FRAY__REGEX_MAX_STATES * 3 * 2 };
  pcre2_match_data *md = pcre2_match_data_create(1, re->gctx);
  int *ws = fray__malloc(&re->mem, WSCOUNT * sizeof *ws);
  int rc = FRAY_ENOMEM;
  if (md && ws) {
    rc = pcre2_dfa_match(re->code, (PCRE2_SPTR)line, n, 0, 0, md, re->mctx, ws, WSCOUNT);
    if (rc >= 0)
      rc = 1; /* 0: more matches than the vector holds, still a match */
    else if (rc == PCRE2_ERROR_NOMATCH)
      rc = 0;
    else if (rc == PCRE2_ERROR_NOMEMORY)
      rc = FRAY_ENOMEM;
    else
      rc = FRAY_ERANGE; /* workspace, heap, depth or match limit */
  }
  fray__free(&re->mem, ws);
  pcre2_match_data_free(md);
  return rc;
}

void fray__regex_free(fray__regex_t *re) {
  if (!re)
    return;
  pcre2_code_free(re->code);
  pcre2_match_context_free(re->mctx);
  pcre2_general_context_free(re->gctx);
  fray__free(&re->mem, re);
}
