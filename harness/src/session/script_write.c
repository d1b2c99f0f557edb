/* `.fray` session scripts: the canonical writer (docs/script-format.md,
 * "Canonical form"). */
#include "fray/script.h"

#include <stdio.h>
#include <string.h>

#include "core/escape_internal.h"
#include "core/internal.h"
#include "session/script_internal.h"

#define RUN_MIN 16 /* runs at least this long are written as `"x" * N` */

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
  } else if (fray__grow(k->mem, (void **)&k->buf, &k->cap, k->len + n + 1, 1)) {
    k->err = FRAY_ENOMEM;
    return;
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

char *fray_script_span_format(uint64_t ms, char *buf, size_t n) {
  static const struct {
    uint64_t ms;
    const char *unit;
  } units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
  size_t i = 0;
  while (ms && ms % units[i].ms)
    i++;
  snprintf(buf, n, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].unit);
  return buf;
}

static void put_span(sink_t *k, uint64_t ms) {
  char num[32];
  puts_(k, fray_script_span_format(ms, num, sizeof num));
}

static void put_step(sink_t *k, const fray_script_t *s, const fray_step_t *st, int canary) {
  if (st->kind == FRAY_STEP_WAIT) {
    puts_(k, "wait ");
    put_span(k, st->ms);
    puts_(k, "\n");
    return;
  }
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
  case FRAY_STEP_EXPECT_ANY:
    puts_(k, name);
    puts_(k, " < any");
    break;
  case FRAY_STEP_EXPECT_NOTHING:
    puts_(k, name);
    puts_(k, " < nothing for ");
    put_span(k, st->ms);
    break;
  case FRAY_STEP_WAIT:
    break; /* written above: it names no client */
  case FRAY_STEP_READ: {
    char n[48];
    if (st->reads == 0 || st->reads == FRAY_READ_ALL)
      snprintf(n, sizeof n, " %s reading", st->reads ? "resumes" : "stops");
    else
      snprintf(n, sizeof n, " reads %zu", st->reads);
    puts_(k, name);
    puts_(k, n);
    break;
  }
  }
  puts_(k, "\n");
}

static void put_script(sink_t *k, const fray_script_t *s) {
  if (s->handler) {
    puts_(k, "@handler ");
    size_t n = strlen(s->handler);
    int bare = 1;
    for (size_t i = 0; i < n; i++)
      bare &= fray__script_bare_handler_char((unsigned char)s->handler[i]);
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
