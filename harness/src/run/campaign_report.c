/* Campaign reports: a failing run's result, which the next run overwrites,
 * copied out as report data (strings escaped and excerpted once here, so
 * every printer - text, JSON, JUnit - shows the same bytes). */
#include <stdio.h>
#include <string.h>

#include "core/escape_internal.h"
#include "core/internal.h"
#include "run/campaign_internal.h"

#define EXCERPT 96        /* bytes of expected/got shown around a difference */
#define EXCERPT_BEFORE 32 /* of which before the first differing byte */

/* The report and everything it points to: strings come from one list
 * freed at once, so a half-described failure leaks nothing. */
typedef struct strblock {
  struct strblock *next;
  char s[];
} strblock_t;

typedef struct creport {
  fray_campaign_report_t pub; /* first: the public pointer is this one */
  fray_mem_t mem;
  strblock_t *strings;
  fray_campaign_failure_t *fails; /* room for pub's described failures */
  size_t cap;
} creport_t;

static creport_t *of(fray_campaign_report_t *r) {
  return (creport_t *)r;
}

fray_campaign_report_t *fray__creport_new(const fray_mem_t *mem, size_t max_described) {
  creport_t *cr = fray__malloc(mem, sizeof *cr);
  if (!cr)
    return NULL;
  memset(cr, 0, sizeof *cr);
  cr->mem = *mem;
  cr->fails = fray__malloc(mem, max_described * sizeof *cr->fails);
  if (!cr->fails) {
    fray__free(mem, cr);
    return NULL;
  }
  cr->cap = max_described;
  cr->pub.failures = cr->fails;
  return &cr->pub;
}

void fray_campaign_report_free(fray_campaign_report_t *r) {
  if (!r)
    return;
  creport_t *cr = of(r);
  for (strblock_t *b = cr->strings, *next; b; b = next) {
    next = b->next;
    fray__free(&cr->mem, b);
  }
  fray__free(&cr->mem, cr->fails);
  fray__free(&cr->mem, cr);
}

const fray_mem_t *fray__creport_mem(const fray_campaign_report_t *r) {
  return &((const creport_t *)r)->mem;
}

/* Room for a string of n characters (and its NUL) owned by r. */
static char *str_alloc(fray_campaign_report_t *r, size_t n) {
  creport_t *cr = of(r);
  strblock_t *b = fray__malloc(&cr->mem, sizeof *b + n + 1);
  if (!b)
    return NULL;
  b->next = cr->strings;
  cr->strings = b;
  b->s[0] = 0;
  return b->s;
}

char *fray__creport_strdup(fray_campaign_report_t *r, const char *s) {
  size_t n = strlen(s);
  char *p = str_alloc(r, n);
  if (p)
    memcpy(p, s, n + 1);
  return p;
}

char *fray__creport_printf(fray_campaign_report_t *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = n < 0 ? NULL : str_alloc(r, (size_t)n);
  if (p) {
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  return p;
}

/* The escaped form of len bytes, quoted when quote, with "..." before when
 * cut_before and after when cut_after. */
static char *escaped(fray_campaign_report_t *r, const uint8_t *p, size_t len, int quote,
                     int cut_before, int cut_after) {
  char *s = str_alloc(r, FRAY__ESC_MAX(len) + 8);
  if (!s)
    return NULL;
  size_t o = 0;
  if (cut_before)
    o += (size_t)sprintf(s, "...");
  if (quote)
    s[o++] = '"';
  o += fray__escape(s + o, p, len, quote ? FRAY__ESC_QUOTE : 0);
  if (quote)
    s[o++] = '"';
  if (cut_after)
    o += (size_t)sprintf(s + o, "...");
  s[o] = 0;
  return s;
}

/* An escaped excerpt of p[start..start+EXCERPT). */
static char *excerpt(fray_campaign_report_t *r, const uint8_t *p, size_t len, size_t start) {
  if (start > len)
    start = len;
  size_t n = len - start < EXCERPT ? len - start : EXCERPT;
  return escaped(r, p + start, n, 1, start > 0, start + n < len);
}

/* Both texts of one side (expected or got): whole up to TEXT_MAX, and the
 * excerpt. 0 or FRAY_ENOMEM. */
static int texts(fray_campaign_report_t *r, const uint8_t *p, size_t len, size_t start,
                 const char **whole, const char **part) {
  if (!p)
    return 0;
  size_t n = len < FRAY_CAMPAIGN_TEXT_MAX ? len : FRAY_CAMPAIGN_TEXT_MAX;
  *whole = escaped(r, p, n, 0, 0, 0);
  *part = excerpt(r, p, len, start);
  return *whole && *part ? 0 : FRAY_ENOMEM;
}

/* The bytes of expected and got, and where they first differ. */
static int capture_bytes(fray_campaign_report_t *r, fray_campaign_failure_t *f,
                         const fray__cresult_t *res, int byte_step) {
  /* A caret only means something when expected and got are bytes compared
   * byte for byte: an exact expectation or a transcript. */
  f->has_diff = res->expected && res->got &&
                (res->kind == FRAY_FAIL_VARIANCE ||
                 (byte_step && (res->kind == FRAY_FAIL_MISMATCH || res->kind == FRAY_FAIL_MISSING ||
                                res->kind == FRAY_FAIL_CLOSED)));
  f->diff_at = res->diff_at;
  size_t start = f->has_diff && res->diff_at > EXCERPT_BEFORE ? res->diff_at - EXCERPT_BEFORE : 0;
  if (texts(r, res->expected, res->expected_len, start, &f->expected, &f->expected_excerpt) ||
      texts(r, res->got, res->got_len, start, &f->got, &f->got_excerpt))
    return FRAY_ENOMEM;
  if (f->has_diff) {
    /* The same bytes precede the difference in both excerpts, so one caret
     * column serves both. */
    size_t upto = res->diff_at - start;
    size_t avail = res->got_len > start ? res->got_len - start : 0;
    if (upto > avail)
      upto = avail;
    char *tmp = str_alloc(r, FRAY__ESC_MAX(upto));
    if (!tmp)
      return FRAY_ENOMEM;
    f->caret = (start ? 3 : 0) + 1 + fray__escape(tmp, res->got + start, upto, FRAY__ESC_QUOTE);
  }
  return 0;
}

size_t fray__creport_same_place(const fray_campaign_report_t *r, const fray_campaign_failure_t *f) {
  for (const fray_campaign_failure_t *g = r->failures; g < f; g++) {
    if (g->kind == f->kind && g->line == f->line &&
        !strcmp(g->client ? g->client : "", f->client ? f->client : ""))
      return (size_t)(g - r->failures) + 1;
  }
  return 0;
}

int fray__creport_failure(fray__cjob_t *j, const fray_script_t *script, const fray__cresult_t *res,
                          uint64_t run, int whole, const char *schedule,
                          fray_campaign_failure_t **out) {
  fray_campaign_report_t *r = j->r;
  creport_t *cr = of(r);
  *out = NULL;
  r->failed++;
  if (r->nfailures >= cr->cap)
    return 0;
  fray_campaign_failure_t *f = &cr->fails[r->nfailures];
  memset(f, 0, sizeof *f);
  f->kind = res->kind;
  f->step = res->step;
  f->line = res->line;
  f->run = run;
  f->whole = whole;
  const char *cn = fray_script_client_name(script, res->client);
  f->client = cn ? fray__creport_strdup(r, cn) : NULL;
  f->message =
      fray__creport_strdup(r, res->message ? res->message : fray_fail_kind_name(res->kind));
  f->schedule = fray__creport_strdup(r, schedule);
  size_t nsteps;
  const fray_step_t *steps = fray_script_steps(script, &nsteps);
  int byte_step = res->step < nsteps && steps[res->step].kind == FRAY_STEP_EXPECT;
  if (!f->message || !f->schedule || (cn && !f->client) || capture_bytes(r, f, res, byte_step))
    return FRAY_ENOMEM;
  r->nfailures++;
  *out = f;
  return 0;
}

/* dst->field = a copy of src's string owned by r; 0 or -1 on ENOMEM. */
static int copy_str(fray_campaign_report_t *r, const char **dst, const char *src) {
  *dst = src ? fray__creport_strdup(r, src) : NULL;
  return src && !*dst ? -1 : 0;
}

fray_campaign_report_t *fray__creport_copy(const fray_campaign_report_t *src,
                                           const fray_mem_t *mem) {
  const creport_t *sc = (const creport_t *)src;
  fray_campaign_report_t *r = fray__creport_new(mem, sc->cap);
  if (!r)
    return NULL;
  fray_campaign_failure_t *fails = of(r)->fails;
  *r = *src;
  r->failures = fails;
  int bad = copy_str(r, &r->error, src->error) || copy_str(r, &r->note, src->note);
  for (size_t i = 0; i < src->nfailures && !bad; i++) {
    const fray_campaign_failure_t *g = &src->failures[i];
    fray_campaign_failure_t *f = &fails[i];
    *f = *g;
    bad = copy_str(r, &f->client, g->client) || copy_str(r, &f->message, g->message) ||
          copy_str(r, &f->schedule, g->schedule) || copy_str(r, &f->expected, g->expected) ||
          copy_str(r, &f->got, g->got) || copy_str(r, &f->expected_excerpt, g->expected_excerpt) ||
          copy_str(r, &f->got_excerpt, g->got_excerpt) ||
          copy_str(r, &f->reproducer, g->reproducer) ||
          copy_str(r, &f->reproducer_note, g->reproducer_note);
  }
  if (bad) {
    fray_campaign_report_free(r);
    return NULL;
  }
  return r;
}
