/* Tests of the example handlers (examples/ and examples/buggy/) and of
 * their corpus scripts (corpus/NAME/ *.fray).
 *
 * Until the simulator runs scripts, a small replayer here walks a parsed
 * script over the public driver API (fray_server_open, fray_conn_input,
 * fray_conn_flush, fray_conn_release) under a few schedules: whole (one read
 * per send), bytewise, every placement of one or two cuts per send, every
 * send merged with the next send of its client, and short writes. Good
 * handlers must pass all of them; each buggy handler must pass whole and
 * fail the schedule its bug is about.
 *
 * The example sources are compiled into this program directly (the test
 * target links only libfray); every file-local name in them is prefixed by
 * its file's name so they can share one translation unit. If the test is
 * ever linked with fray_examples too, nothing is pulled from that archive:
 * every symbol is already defined here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fray/driver.h"
#include "fray/handler.h"
#include "fray/script.h"

#include "../examples/registry.c"
#include "../examples/echo.c"
#include "../examples/chat.c"
#include "../examples/http.c"
#include "../examples/resp.c"
#include "../examples/lenrpc.c"
#include "../examples/buggy/oneread.c"
#include "../examples/buggy/splitdelim.c"
#include "../examples/buggy/stackbuf.c"
#include "../examples/buggy/modeswitch.c"
#include "../examples/buggy/trustlen.c"
#include "../examples/buggy/closedbcast.c"

/* ---- a tiny replayer --------------------------------------------------- */

typedef struct sched {
  int bytewise;     /* every read one byte */
  int merge;        /* each send merged with the next step if it is a send of the same client */
  size_t write_max; /* short writes: the fake socket takes at most this per call (0: all) */
  size_t cut_send;  /* index of the send (in script order) that gets the cuts */
  size_t ncuts;     /* 0..2 cuts in that send */
  size_t cut[2];
} sched_t;

typedef struct client {
  fray_conn_t *conn;
  uint8_t *in; /* bytes the server sent this client */
  size_t len, cap, rd;
  int ended, aborted;
} client_t;

/* The bytes not yet expected (for messages; "" when none arrived). */
static const char *client_unread(const client_t *c) {
  return c->in ? (const char *)c->in + c->rd : "";
}

typedef struct run {
  const fray_script_t *script;
  fray_server_t *server;
  client_t *cl;
  size_t ncl;
  size_t write_max;
  char why[512];
} run_t;

static fray_ssize_t run_write(void *ctx, const uint8_t *p, size_t n) {
  run_t *r = ((void **)ctx)[0];
  client_t *c = ((void **)ctx)[1];
  if (r->write_max && n > r->write_max)
    n = r->write_max;
  if (c->len + n > c->cap) {
    size_t cap = (c->len + n) * 2;
    uint8_t *q = realloc(c->in, cap);
    if (!q)
      return FRAY_ENOMEM;
    c->in = q;
    c->cap = cap;
  }
  memcpy(c->in + c->len, p, n);
  c->len += n;
  return (fray_ssize_t)n;
}

/* Flushes every connection and releases those the server is done with,
 * until nothing moves (a release may make on_close send to others). */
static void run_pump(run_t *r) {
  int moved = 1;
  while (moved) {
    moved = 0;
    for (size_t i = 0; i < r->ncl; i++) {
      client_t *c = &r->cl[i];
      if (!c->conn)
        continue;
      void *ctx[2] = {r, c};
      while (fray_conn_pending(c->conn) > 0 && fray_conn_flush(c->conn, run_write, ctx) > 0)
        moved = 1;
      if (fray_conn_should_close(c->conn)) {
        c->ended = 1;
        c->aborted = fray_conn_was_aborted(c->conn);
        fray_conn_release(c->conn);
        c->conn = NULL;
        moved = 1;
      }
    }
  }
}

static void run_read(run_t *r, client_t *c, const uint8_t *p, size_t n) {
  if (c->conn && n > 0)
    (void)fray_conn_input(c->conn, p, n); /* ECLOSED after close: dropped, as by a socket */
  run_pump(r);
}

/* Delivers data cut at the given offsets (sorted, inside (0, len)). */
static void run_deliver(run_t *r, client_t *c, const uint8_t *p, size_t len, const size_t *cuts,
                        size_t ncuts, int bytewise) {
  if (bytewise) {
    for (size_t i = 0; i < len; i++)
      run_read(r, c, p + i, 1);
    return;
  }
  size_t at = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t end = i < ncuts ? cuts[i] : len;
    run_read(r, c, p + at, end - at);
    at = end;
  }
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
run_fail(run_t *r, const fray_step_t *st, const char *fmt, ...) {
  va_list ap;
  int n = snprintf(r->why, sizeof r->why, "line %zu: ", st ? st->line : (size_t)0);
  va_start(ap, fmt);
  vsnprintf(r->why + n, sizeof r->why - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

static int run_expect(run_t *r, client_t *c, const fray_step_t *st) {
  run_pump(r);
  switch (st->kind) {
  case FRAY_STEP_EXPECT:
    if (c->len - c->rd < st->len || memcmp(c->in + c->rd, st->data, st->len) != 0) {
      size_t have = c->len - c->rd;
      return run_fail(r, st, "expected %zu bytes \"%.*s\", got %zu: \"%.*s\"", st->len,
                      (int)(st->len > 60 ? 60 : st->len), (const char *)st->data, have,
                      (int)(have > 60 ? 60 : have), client_unread(c));
    }
    c->rd += st->len;
    return 0;
  case FRAY_STEP_EXPECT_EOF:
  case FRAY_STEP_EXPECT_EOF_OPT:
    if (c->rd != c->len)
      return run_fail(r, st, "expected eof, got %zu more bytes: \"%.*s\"", c->len - c->rd,
                      (int)(c->len - c->rd > 60 ? 60 : c->len - c->rd), client_unread(c));
    if (st->kind == FRAY_STEP_EXPECT_EOF && (!c->ended || c->aborted))
      return run_fail(r, st, c->ended ? "expected eof, got a reset" : "expected eof, still open");
    return 0;
  default:
    return run_fail(r, st, "unsupported step %s", fray_step_kind_name(st->kind));
  }
}

/* Runs steps (the session or the canary). send_index counts sends across
 * the session for sched->cut_send. */
static int run_steps(run_t *r, const fray_step_t *steps, size_t n, const sched_t *s,
                     size_t *send_index, int canary) {
  for (size_t i = 0; i < n; i++) {
    const fray_step_t *st = &steps[i];
    client_t *c = &r->cl[st->client];
    if (canary && !c->conn && !c->ended) {
      if (fray_server_open(r->server, "canary", NULL, &c->conn) != 0)
        return run_fail(r, st, "open failed");
    }
    switch (st->kind) {
    case FRAY_STEP_OPEN:
      c->len = c->rd = 0;
      c->ended = c->aborted = 0;
      if (fray_server_open(r->server, fray_script_client_name(r->script, st->client), NULL,
                           &c->conn) != 0)
        return run_fail(r, st, "open failed");
      run_pump(r);
      break;
    case FRAY_STEP_CLOSE:
    case FRAY_STEP_SHUTDOWN:
      if (c->conn)
        (void)fray_conn_input_eof(c->conn);
      run_pump(r);
      if (st->kind == FRAY_STEP_CLOSE) {
        if (c->rd != c->len)
          return run_fail(r, st, "%zu bytes never expected before close: \"%.*s\"", c->len - c->rd,
                          (int)(c->len - c->rd > 60 ? 60 : c->len - c->rd), client_unread(c));
        if (c->conn) { /* the client is gone: whatever the server still had is lost */
          fray_conn_release(c->conn);
          c->conn = NULL;
          run_pump(r);
        }
      }
      break;
    case FRAY_STEP_RESET:
      if (c->conn) {
        fray_conn_input_reset(c->conn);
        fray_conn_release(c->conn);
        c->conn = NULL;
      }
      c->len = c->rd = 0;
      run_pump(r);
      break;
    case FRAY_STEP_SEND: {
      size_t mine = (*send_index)++;
      /* The send's reads: its own `|` cuts, plus the schedule's. */
      size_t cuts[64], nc = 0;
      for (size_t k = 0; k < st->ncuts && nc < 60; k++)
        cuts[nc++] = st->cuts[k];
      if (!canary && mine == s->cut_send)
        for (size_t k = 0; k < s->ncuts; k++)
          if (s->cut[k] > 0 && s->cut[k] < st->len)
            cuts[nc++] = s->cut[k];
      for (size_t a = 1; a < nc; a++) /* insertion sort, drop duplicates below */
        for (size_t b = a; b > 0 && cuts[b - 1] > cuts[b]; b--) {
          size_t t = cuts[b];
          cuts[b] = cuts[b - 1];
          cuts[b - 1] = t;
        }
      size_t m = 0;
      for (size_t k = 0; k < nc; k++)
        if (m == 0 || cuts[m - 1] != cuts[k])
          cuts[m++] = cuts[k];
      nc = m;
      if (s->merge && i + 1 < n && steps[i + 1].kind == FRAY_STEP_SEND &&
          steps[i + 1].client == st->client) {
        /* This send's last read and the next send's first are one read. */
        const fray_step_t *nx = &steps[i + 1];
        size_t tot = st->len + nx->len;
        uint8_t *buf = malloc(tot ? tot : 1);
        if (!buf)
          return run_fail(r, st, "out of memory");
        memcpy(buf, st->data, st->len);
        memcpy(buf + st->len, nx->data, nx->len);
        for (size_t k = 0; k < nx->ncuts && nc < 64; k++)
          cuts[nc++] = st->len + nx->cuts[k];
        run_deliver(r, c, buf, tot, cuts, nc, s->bytewise);
        free(buf);
        (*send_index)++;
        i++;
      } else {
        run_deliver(r, c, st->data, st->len, cuts, nc, s->bytewise);
      }
      break;
    }
    default:
      if (run_expect(r, c, st))
        return -1;
      break;
    }
  }
  return 0;
}

/* Replays the script at path (relative to the source tree) under s.
 * Returns 0 when it passed, -1 with r->why set when it failed. */
static int replay(const char *path, const sched_t *s, char *why, size_t whylen) {
  char full[1024];
  if (path[0] == '/')
    snprintf(full, sizeof full, "%s", path);
  else
    snprintf(full, sizeof full, "%s/%s", FRAY_SOURCE_DIR, path);
  fray_script_t *script = NULL;
  fray_script_error_t err;
  int rc = fray_script_load(&script, full, NULL, &err);
  if (rc != 0) {
    char msg[600];
    fail_msg("%s", fray_script_error_format(&err, msg, sizeof msg));
    return -2;
  }
  const fray_handler_t *h = fray_example_find(fray_script_handler(script));
  assert_non_null(h);

  run_t r;
  memset(&r, 0, sizeof r);
  r.script = script;
  r.write_max = s->write_max;
  r.ncl = fray_script_nclients(script);
  r.cl = calloc(r.ncl ? r.ncl : 1, sizeof *r.cl);
  assert_non_null(r.cl);
  assert_int_equal(fray_server_new(&r.server, h, NULL), 0);

  size_t n, nsend = 0;
  const fray_step_t *steps = fray_script_steps(script, &n);
  rc = run_steps(&r, steps, n, s, &nsend, 0);
  for (size_t i = 0; rc == 0 && i < r.ncl; i++)
    if (r.cl[i].rd != r.cl[i].len)
      rc = run_fail(&r, NULL, "client %s got %zu unexpected bytes: \"%.*s\"",
                    fray_script_client_name(script, i), r.cl[i].len - r.cl[i].rd,
                    (int)(r.cl[i].len - r.cl[i].rd > 60 ? 60 : r.cl[i].len - r.cl[i].rd),
                    client_unread(&r.cl[i]));
  const fray_step_t *canary = fray_script_canary(script, &n);
  if (rc == 0 && n > 0) {
    for (size_t i = 0; i < r.ncl; i++) { /* canary clients start fresh */
      if (r.cl[i].conn)
        fray_conn_release(r.cl[i].conn);
      free(r.cl[i].in);
      memset(&r.cl[i], 0, sizeof r.cl[i]);
    }
    rc = run_steps(&r, canary, n, s, &nsend, 1);
  }
  if (why)
    snprintf(why, whylen, "%s: %s", path, r.why);
  fray_server_free(r.server); /* releases what is still open */
  for (size_t i = 0; i < r.ncl; i++)
    free(r.cl[i].in);
  free(r.cl);
  fray_script_free(script);
  return rc;
}

static size_t script_sends(const char *path, size_t *lens, size_t max) {
  char full[1024];
  snprintf(full, sizeof full, "%s/%s", FRAY_SOURCE_DIR, path);
  fray_script_t *script = NULL;
  assert_int_equal(fray_script_load(&script, full, NULL, NULL), 0);
  size_t n, k = 0;
  const fray_step_t *steps = fray_script_steps(script, &n);
  for (size_t i = 0; i < n; i++)
    if (steps[i].kind == FRAY_STEP_SEND) {
      if (k < max)
        lens[k] = steps[i].len;
      k++;
    }
  fray_script_free(script);
  return k < max ? k : max;
}

static void must_pass(const char *path, const sched_t *s, const char *label) {
  char why[700];
  if (replay(path, s, why, sizeof why) != 0)
    fail_msg("%s [%s]", why, label);
}

/* Every schedule the replayer knows: all must give the whole result. Two
 * cuts are tried in sends up to 48 bytes, one cut in sends up to 4 KiB. */
static void must_pass_all(const char *path) {
  sched_t s = {0};
  must_pass(path, &s, "whole");
  s.bytewise = 1;
  must_pass(path, &s, "bytewise");
  s.bytewise = 0;
  s.merge = 1;
  must_pass(path, &s, "merge");
  s.merge = 0;
  s.write_max = 1;
  must_pass(path, &s, "short writes (1 byte)");
  s.write_max = 3;
  s.merge = 1;
  must_pass(path, &s, "merge + short writes (3 bytes)");
  s.write_max = 0;
  s.merge = 0;
  size_t lens[256];
  size_t ns = script_sends(path, lens, 256);
  for (size_t i = 0; i < ns; i++) {
    s.cut_send = i;
    if (lens[i] > 4096)
      continue;
    s.ncuts = 1;
    for (size_t a = 1; a < lens[i]; a++) {
      s.cut[0] = a;
      char label[64];
      snprintf(label, sizeof label, "send %zu cut at %zu", i, a);
      must_pass(path, &s, label);
    }
    if (lens[i] > 48)
      continue;
    s.ncuts = 2;
    for (size_t a = 1; a < lens[i]; a++)
      for (size_t b = a + 1; b < lens[i]; b++) {
        s.cut[0] = a;
        s.cut[1] = b;
        char label[64];
        snprintf(label, sizeof label, "send %zu cuts at %zu,%zu", i, a, b);
        must_pass(path, &s, label);
      }
  }
}

/* ---- registry -------------------------------------------------------------- */

static void test_registry_names(void **state) {
  (void)state;
  static const char *const names[] = {"echo",
                                      "chat",
                                      "http",
                                      "resp",
                                      "lenrpc",
                                      "buggy-oneread",
                                      "buggy-splitdelim",
                                      "buggy-stackbuf",
                                      "buggy-modeswitch",
                                      "buggy-trustlen",
                                      "buggy-closedbcast"};
  size_t n = 0;
  while (fray_example_at(n))
    n++;
  assert_int_equal(n, sizeof names / sizeof names[0]);
  for (size_t i = 0; i < n; i++) {
    const fray_handler_t *h = fray_example_find(names[i]);
    assert_non_null(h);
    assert_string_equal(h->name, names[i]);
    assert_non_null(h->summary);
    assert_int_equal(fray_spec_validate(&h->spec, NULL), 0);
    for (size_t j = 0; j < n; j++)
      if (j != i)
        assert_string_not_equal(fray_example_at(j)->name, names[i]);
  }
  assert_null(fray_example_find("nope"));
  assert_null(fray_example_find(NULL));
  assert_null(fray_example_at(n));
}

/* ---- good handlers: every script under every schedule --------------------- */

#define SCRIPTS5(dir)                                                                              \
  dir "/basic.fray", dir "/pipeline.fray", dir "/oversize.fray", dir "/malformed.fray",            \
      dir "/abrupt.fray"

static void run_all(const char *const *paths, size_t n) {
  for (size_t i = 0; i < n; i++)
    must_pass_all(paths[i]);
}

static void test_echo_scripts(void **state) {
  (void)state;
  static const char *const p[] = {SCRIPTS5("corpus/echo")};
  run_all(p, sizeof p / sizeof p[0]);
}

static void test_chat_scripts(void **state) {
  (void)state;
  static const char *const p[] = {"corpus/chat/session.fray", "corpus/chat/pipeline.fray",
                                  "corpus/chat/oversize.fray", "corpus/chat/malformed.fray",
                                  "corpus/chat/abrupt.fray"};
  run_all(p, sizeof p / sizeof p[0]);
}

static void test_http_scripts(void **state) {
  (void)state;
  static const char *const p[] = {SCRIPTS5("corpus/http")};
  run_all(p, sizeof p / sizeof p[0]);
}

static void test_resp_scripts(void **state) {
  (void)state;
  static const char *const p[] = {SCRIPTS5("corpus/resp")};
  run_all(p, sizeof p / sizeof p[0]);
}

static void test_lenrpc_scripts(void **state) {
  (void)state;
  static const char *const p[] = {SCRIPTS5("corpus/lenrpc")};
  run_all(p, sizeof p / sizeof p[0]);
}

/* A test must be able to fail: a wrong expectation is caught. */
static void test_replayer_catches_wrong_output(void **state) {
  (void)state;
  static const char text[] = "@handler echo\nopen a\na > \"hi\\r\\n\"\na < \"ho\\r\\n\"\n";
  char path[] = "/tmp/fray-test-examples-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  sched_t s = {0};
  char why[700];
  assert_int_equal(replay(path, &s, why, sizeof why), -1);
  assert_non_null(strstr(why, "expected"));
  remove(path);
}

/* ---- buggy handlers: pass whole, fail the schedule of their bug ------------ */

static void must_fail(const char *path, const sched_t *s, const char *needle) {
  char why[700];
  int rc = replay(path, s, why, sizeof why);
  if (rc != -1)
    fail_msg("%s passed a schedule that should expose its bug", path);
  if (needle && !strstr(why, needle))
    fail_msg("%s failed, but not as expected: %s", path, why);
}

static void test_buggy_oneread(void **state) {
  (void)state;
  const char *p = "corpus/buggy/oneread.fray";
  sched_t s = {0};
  must_pass(p, &s, "whole");
  s.write_max = 1;
  must_pass(p, &s, "short writes");
  s.write_max = 0;
  s.merge = 1; /* "PING\r\nECHO hi\r\n" in one read: "hi" lost */
  must_fail(p, &s, "expected 4 bytes \"hi");
  s.merge = 0;
  s.ncuts = 1; /* "PI" | "NG\r\n": two unknown commands */
  s.cut_send = 0;
  s.cut[0] = 2;
  must_fail(p, &s, "ERR unknown command");
}

static void test_buggy_splitdelim(void **state) {
  (void)state;
  const char *p = "corpus/buggy/splitdelim.fray";
  sched_t s = {0};
  must_pass(p, &s, "whole");
  s.merge = 1;
  must_pass(p, &s, "merge");
  s.merge = 0;
  /* Exhaustive single cuts of send 0 ("PING\r\n"): only the cut between
   * "\r" and "\n" (offset 5) fails. */
  s.ncuts = 1;
  s.cut_send = 0;
  for (size_t a = 1; a < 6; a++) {
    s.cut[0] = a;
    if (a == 5)
      must_fail(p, &s, "PONG");
    else
      must_pass(p, &s, "cut elsewhere");
  }
  s.cut_send = 1; /* "ECHO split\r" | "\n" */
  s.cut[0] = 11;
  must_fail(p, &s, "split");
}

static void test_buggy_stackbuf(void **state) {
  (void)state;
  const char *p = "corpus/buggy/stackbuf.fray";
  sched_t s = {0};
  must_pass(p, &s, "whole");
  s.ncuts = 1;
  s.cut_send = 1; /* the 102-byte line */
  s.cut[0] = 30;  /* 30 + 72: the second read is over 64, refused: passes */
  must_pass(p, &s, "cut at 30");
#if defined(FRAY_SANITIZED)
  /* The overflow itself would be reported by UBSan's bounds check (that is
   * one way fray finds it), which aborts this program: skipped here. */
  skip();
#else
  s.cut[0] = 50; /* 50 + 52: both reads pass the per-read check: overflow */
  must_fail(p, &s, "ERR line too long");
  /* Visible in the reply, and deterministic: the prefix was overwritten. */
  fray_server_t *sv;
  fray_conn_t *c;
  assert_int_equal(fray_server_new(&sv, &fray_example_buggy_stackbuf, NULL), 0);
  assert_int_equal(fray_server_open(sv, "a", NULL, &c), 0);
  uint8_t line[102];
  memset(line, 'x', 100);
  line[100] = '\r';
  line[101] = '\n';
  fray_conn_input(c, line, 50);
  fray_conn_input(c, line + 50, 52);
  const stackbuf_conn_t *st = fray_conn_data(c);
  assert_memory_equal(st->prefix, "xxxxxx", 6);
  fray_server_free(sv);
#endif
}

static void test_buggy_modeswitch(void **state) {
  (void)state;
  const char *p = "corpus/buggy/modeswitch.fray";
  sched_t s = {0};
  must_pass(p, &s, "whole");
  s.bytewise = 1; /* cuts alone never find it */
  must_pass(p, &s, "bytewise");
  s.bytewise = 0;
  s.merge = 1; /* head + body in one read: the body is lost, no answer */
  must_fail(p, &s, "HTTP/1.1 200 OK");
}

static void test_buggy_trustlen(void **state) {
  (void)state;
  const char *p = "corpus/buggy/trustlen.fray";
  must_pass_all(p); /* no schedule finds it: the bytes must change */
  /* A length of 96 MiB: lenrpc refuses it at once; trustlen allocates it
   * and waits for the bytes (a few such peers exhaust memory). */
  static const uint8_t big[4] = {0x06, 0x00, 0x00, 0x00};
  fray_server_t *sv;
  fray_conn_t *c;
  assert_int_equal(fray_server_new(&sv, &fray_example_lenrpc, NULL), 0);
  assert_int_equal(fray_server_open(sv, "a", NULL, &c), 0);
  fray_conn_input(c, big, 4);
  assert_int_equal(fray_conn_pending(c), 13); /* 00000009 03 "too long" */
  assert_int_not_equal(fray_conn_state(c), FRAY_CONN_OPEN);
  fray_server_free(sv);

  assert_int_equal(fray_server_new(&sv, &fray_example_buggy_trustlen, NULL), 0);
  assert_int_equal(fray_server_open(sv, "a", NULL, &c), 0);
  fray_conn_input(c, big, 4);
  const trustlen_conn_t *st = fray_conn_data(c);
  assert_int_equal(fray_conn_state(c), FRAY_CONN_OPEN);
  assert_int_equal(fray_conn_pending(c), 0);
  assert_non_null(st->buf);
  assert_int_equal(st->need, (size_t)0x06000000);
  fray_server_free(sv); /* on_close frees it */
}

static void test_buggy_closedbcast(void **state) {
  (void)state;
  const char *p = "corpus/buggy/closedbcast-late.fray";
  sched_t s = {0};
  must_pass(p, &s, "whole");
  s.write_max = 1;
  must_pass(p, &s, "short writes");
  s.write_max = 0;
  s.bytewise = 1;
  must_pass(p, &s, "bytewise");
  s.bytewise = 0;
  s.merge = 1; /* "QUIT\r\nMSG late\r\n" in one read */
  must_fail(p, &s, "alice: late");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry_names),
      cmocka_unit_test(test_replayer_catches_wrong_output),
      cmocka_unit_test(test_echo_scripts),
      cmocka_unit_test(test_chat_scripts),
      cmocka_unit_test(test_http_scripts),
      cmocka_unit_test(test_resp_scripts),
      cmocka_unit_test(test_lenrpc_scripts),
      cmocka_unit_test(test_buggy_oneread),
      cmocka_unit_test(test_buggy_splitdelim),
      cmocka_unit_test(test_buggy_stackbuf),
      cmocka_unit_test(test_buggy_modeswitch),
      cmocka_unit_test(test_buggy_trustlen),
      cmocka_unit_test(test_buggy_closedbcast),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
