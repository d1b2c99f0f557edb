/* `.fray` session scripts: the model. A script is its clients, its steps,
 * its canary exchange and its @handler; the builder here checks every step
 * the way the parser (script_parse.c) does, so what the writer
 * (script_write.c) prints always parses back. */
#include "fray/script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "session/regex_internal.h"
#include "session/script_internal.h"

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
  case FRAY_STEP_EXPECT_ANY:
    return "expect-any";
  case FRAY_STEP_WAIT:
    return "wait";
  case FRAY_STEP_EXPECT_NOTHING:
    return "expect-nothing";
  case FRAY_STEP_READ:
    return "read";
  }
  return "unknown";
}

int fray__script_name_start(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

int fray__script_name_char(int c) {
  return fray__script_name_start(c) || (c >= '0' && c <= '9') || c == '-';
}

int fray__script_is_keyword(const char *w, size_t n) {
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
    if (strlen(keywords[i]) == n && !memcmp(keywords[i], w, n))
      return 1;
  return 0;
}

/* 0 if w[0..n) is a valid client name, else FRAY_EINVAL. */
static int check_name(const char *w, size_t n) {
  if (n == 0 || n > FRAY_SCRIPT_MAX_NAME || !fray__script_name_start((unsigned char)w[0]))
    return FRAY_EINVAL;
  for (size_t i = 1; i < n; i++)
    if (!fray__script_name_char((unsigned char)w[i]))
      return FRAY_EINVAL;
  return fray__script_is_keyword(w, n) ? FRAY_EINVAL : 0;
}

/* Handler names are written bare when they consist of these bytes. */
int fray__script_bare_handler_char(int c) {
  return c > 0x20 && c < 0x7f && c != '#' && c != '"' && c != '\\';
}

int fray__script_check_handler(const uint8_t *h, size_t n) {
  if (n == 0 || n > FRAY__SCRIPT_HANDLER_MAX)
    return FRAY_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (h[i] < 0x20 || h[i] == 0x7f)
      return FRAY_EINVAL;
  return 0;
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
    fray__regex_free((fray__regex_t *)a->v[i].regex);
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
int fray__script_intern_client(fray_script_t *s, const char *name, size_t n, size_t *index) {
  if (find_client(s, name, n, index) == 0)
    return 0;
  if (s->nclients >= s->max_clients)
    return FRAY_ERANGE;
  if (fray__grow(&s->mem, (void **)&s->clients, &s->capclients, s->nclients + 1,
                 sizeof *s->clients))
    return FRAY_ENOMEM;
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
  return fray__script_intern_client(s, name, n, index);
}

int fray__script_set_handler(fray_script_t *s, const uint8_t *h, size_t n) {
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
  if (fray__script_check_handler((const uint8_t *)name, n) != 0)
    return FRAY_EINVAL;
  return fray__script_set_handler(s, (const uint8_t *)name, n);
}

/* Whether a step of kind may happen to client c now. Returns NULL if so,
 * else a message (in buf) saying why not. Canary steps skip this: the
 * simulator opens the canary's connection itself. */
const char *fray__script_state_error(const client_t *c, fray_step_kind_t kind, char *buf,
                                     size_t n) {
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
  if (((kind >= FRAY_STEP_EXPECT && kind <= FRAY_STEP_EXPECT_ANY) ||
       kind == FRAY_STEP_EXPECT_NOTHING) &&
      c->eof) {
    snprintf(buf, n, "client \"%s\" already expects eof; nothing can arrive after it", c->name);
    return buf;
  }
  return NULL;
}

void fray__script_apply_state(client_t *c, fray_step_kind_t kind) {
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
int fray__script_reserve_step(fray_script_t *s, steparr_t *a) {
  if (s->steps.n + s->canary.n >= s->max_steps)
    return FRAY_ERANGE;
  return fray__grow(&s->mem, (void **)&a->v, &a->cap, a->n + 1, sizeof *a->v);
}

static int is_canary_kind(fray_step_kind_t k) {
  return k == FRAY_STEP_SEND || k == FRAY_STEP_EXPECT || k == FRAY_STEP_EXPECT_REGEX ||
         k == FRAY_STEP_EXPECT_GLOB;
}

/* Whether a span of ms is one a WAIT or EXPECT_NOTHING step may say. */
int fray__script_span_ok(uint64_t ms) {
  return ms >= 1 && ms <= FRAY_SCRIPT_MAX_WAIT_MS;
}

/* A WAIT added where its client is not checked, so that a script without
 * clients can wait; the caller made room. */
static int add_wait(fray_script_t *s, const fray_step_t *st, steparr_t *a) {
  if (!fray__script_span_ok(st->ms))
    return FRAY_EINVAL;
  int rc = fray__script_reserve_step(s, a);
  if (!rc)
    a->v[a->n++] =
        (fray_step_t){.kind = FRAY_STEP_WAIT, .line = st->line, .column = st->column, .ms = st->ms};
  return rc;
}

static int add_step_copy(fray_script_t *s, const fray_step_t *st, int canary) {
  if (!s || !st || (unsigned)st->kind > (unsigned)FRAY_STEP_READ)
    return FRAY_EINVAL;
  fray_step_kind_t k = st->kind;
  if (canary && !is_canary_kind(k))
    return FRAY_EINVAL;
  if (k == FRAY_STEP_WAIT)
    return add_wait(s, st, &s->steps);
  if (st->client >= s->nclients || (k == FRAY_STEP_EXPECT_NOTHING && !fray__script_span_ok(st->ms)))
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
  if (!canary && fray__script_state_error(&s->clients[st->client], k, msg, sizeof msg))
    return FRAY_ESTATE;
  steparr_t *a = canary ? &s->canary : &s->steps;
  int rc = fray__script_reserve_step(s, a);
  if (rc)
    return rc;
  fray_step_t copy = {.kind = k, .client = st->client, .line = st->line, .column = st->column};
  if (k == FRAY_STEP_EXPECT_NOTHING)
    copy.ms = st->ms;
  if (k == FRAY_STEP_READ)
    copy.reads = st->reads;
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
      size_t at;
      fray__regex_t *re;
      rc = fray__regex_compile(&re, &s->mem, (const char *)data, st->len, msg, sizeof msg, &at);
      if (rc) {
        fray__free(&s->mem, data);
        return rc == FRAY_ENOMEM ? rc : FRAY_EINVAL;
      }
      copy.regex = re;
    }
    copy.data = data;
    copy.len = st->len;
  }
  if (k == FRAY_STEP_SEND && st->ncuts) {
    cuts = fray__malloc(&s->mem, st->ncuts * sizeof *cuts);
    if (!cuts) {
      fray__regex_free((fray__regex_t *)copy.regex);
      fray__free(&s->mem, data);
      return FRAY_ENOMEM;
    }
    memcpy(cuts, st->cuts, st->ncuts * sizeof *cuts);
    copy.cuts = cuts;
    copy.ncuts = st->ncuts;
  }
  a->v[a->n++] = copy;
  if (!canary)
    fray__script_apply_state(&s->clients[st->client], k);
  return 0;
}

int fray_script_add_step(fray_script_t *s, const fray_step_t *step) {
  return add_step_copy(s, step, 0);
}

int fray_script_add_canary_step(fray_script_t *s, const fray_step_t *step) {
  return add_step_copy(s, step, 1);
}

static int steps_equal(const fray_script_t *a, const steparr_t *x, const fray_script_t *b,
                       const steparr_t *y) {
  if (x->n != y->n)
    return 0;
  for (size_t i = 0; i < x->n; i++) {
    const fray_step_t *p = &x->v[i], *q = &y->v[i];
    if (p->kind != q->kind || p->ms != q->ms || p->len != q->len || p->ncuts != q->ncuts ||
        p->reads != q->reads)
      return 0;
    if (p->kind != FRAY_STEP_WAIT && strcmp(a->clients[p->client].name, b->clients[q->client].name))
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

const fray_mem_t *fray__script_mem(const fray_script_t *s) {
  return &s->mem;
}

int fray__script_borrow(fray_script_t *s) {
  if (!s || s->steps.n || s->canary.n)
    return FRAY_ESTATE;
  s->borrows = 1;
  return 0;
}
