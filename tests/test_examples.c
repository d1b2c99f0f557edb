/* Tests of the example handlers (examples/ and examples/buggy/) and of
 * their corpus scripts (corpus/NAME/ *.fray).
 *
 * Each script, its canary exchange after it, runs in the simulator (the
 * session player over the in-process transport) under a few schedules:
 * whole (one read per send), bytewise, every placement of one or two cuts
 * per send, every send merged with the next send of its client, and short
 * writes. Good handlers must pass all of them; each buggy handler must pass
 * whole and fail the schedule its bug is about.
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
#include "fray/sim.h"

#include "../examples/registry.c"
#include "../examples/echo.c"
#include "../examples/chat.c"
#include "../examples/http.c"
#include "../examples/resp.c"
#include "../examples/lenrpc.c"
#include "../examples/wc.c"
#include "../examples/buggy/oneread.c"
#include "../examples/buggy/splitdelim.c"
#include "../examples/buggy/stackbuf.c"
#include "../examples/buggy/modeswitch.c"
#include "../examples/buggy/trustlen.c"
#include "../examples/buggy/closedbcast.c"
#include "../examples/buggy/maxread.c"
#include "../examples/buggy/twins.c"
#include "../examples/buggy/wholeread.c"
#include "../examples/buggy/firstonly.c"
#include "../examples/buggy/crlfsplit.c"
#include "../examples/buggy/setdata.c"
#include "../examples/buggy/hdrsplit.c"
#include "../examples/buggy/headbody.c"
#include "../examples/buggy/lenprefix.c"
#include "../examples/buggy/respbulk.c"
#include "../examples/buggy/querylimit.c"
#include "../examples/buggy/maxlenline.c"
#include "../examples/buggy/eofreset.c"
#include "../examples/buggy/dotend.c"
#include "../examples/buggy/utf8split.c"
#include "../examples/buggy/nocompact.c"
#include "../examples/buggy/chunkcrlf.c"

/* ---- replaying through the simulator ------------------------------------- */

typedef struct sched {
  int bytewise;     /* every read one byte */
  int merge;        /* each send merged with the next step if it is a send of the same client */
  int coalesce;     /* merges chain: a burst of sends is one read */
  size_t write_max; /* short writes: nonzero turns them on, and seeds them */
  size_t cut_send;  /* index of the send (in script order) that gets the cuts */
  size_t ncuts;     /* 0..2 cuts in that send */
  size_t cut[2];
} sched_t;

/* The script's session, then its canary exchange on fresh connections of
 * the same server (each canary client closed if open, and opened anew), as
 * one script the player walks. */
static fray_script_t *with_canary(const fray_script_t *in) {
  fray_script_t *s;
  size_t n, ncan, nc = fray_script_nclients(in);
  const fray_step_t *steps = fray_script_steps(in, &n), *can = fray_script_canary(in, &ncan);
  unsigned char open[64] = {0}, fresh[64] = {0};
  assert_true(nc <= sizeof open);
  assert_int_equal(fray_script_new(&s, NULL), 0);
  for (size_t i = 0; i < nc; i++) {
    size_t idx;
    assert_int_equal(fray_script_add_client(s, fray_script_client_name(in, i), &idx), 0);
  }
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(fray_script_add_step(s, &steps[i]), 0);
    if (steps[i].kind == FRAY_STEP_OPEN || steps[i].kind == FRAY_STEP_CLOSE ||
        steps[i].kind == FRAY_STEP_RESET)
      open[steps[i].client] = steps[i].kind == FRAY_STEP_OPEN;
  }
  for (size_t i = 0; i < ncan; i++) {
    size_t c = can[i].client;
    if (!fresh[c] && open[c])
      assert_int_equal(
          fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_CLOSE, .client = c}), 0);
    if (!fresh[c])
      assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = c}),
                       0);
    fresh[c] = 1;
    assert_int_equal(fray_script_add_step(s, &can[i]), 0);
  }
  return s;
}

/* s as the simulator's schedule for script (sends[] holds its entries). */
static fray_sched_t to_sched(const sched_t *s, const fray_script_t *script,
                             fray_sched_send_t *sends, size_t max) {
  size_t n = fray_sched_nsends(script), nsteps, k = 0;
  const fray_step_t *st = fray_script_steps(script, &nsteps);
  assert_true(n <= max);
  /* Merges pair sends: a send merged into the next one is not merged on. */
  int merged = 0;
  for (size_t i = 0; i < nsteps; i++) {
    if (st[i].kind != FRAY_STEP_SEND)
      continue;
    int m = s->merge && (!merged || s->coalesce) && i + 1 < nsteps &&
            st[i + 1].kind == FRAY_STEP_SEND && st[i + 1].client == st[i].client;
    sends[k++] = (fray_sched_send_t){.merge_next = m, .every = s->bytewise ? 1 : 0};
    merged = m;
  }
  if (s->ncuts && s->cut_send < n) {
    sends[s->cut_send].cuts = s->cut;
    sends[s->cut_send].ncuts = s->ncuts;
  }
  return (fray_sched_t){
      .sends = sends, .nsends = n, .short_writes = s->write_max != 0, .write_seed = s->write_max};
}

/* Replays the script at path (relative to the source tree) under s, its
 * canary after it. Returns 0 when it passed, -1 with why set when it
 * failed. */
static int replay(const char *path, const sched_t *s, char *why, size_t whylen) {
  char full[1024];
  if (path[0] == '/')
    snprintf(full, sizeof full, "%s", path);
  else
    snprintf(full, sizeof full, "%s/%s", FRAY_SOURCE_DIR, path);
  fray_script_t *loaded = NULL;
  fray_script_error_t err;
  if (fray_script_load(&loaded, full, NULL, &err) != 0) {
    char msg[600];
    fail_msg("%s", fray_script_error_format(&err, msg, sizeof msg));
    return -2;
  }
  const fray_handler_t *h = fray_example_find(fray_script_handler(loaded));
  assert_non_null(h);
  fray_script_t *script = with_canary(loaded);
  fray_sim_t *sim;
  assert_int_equal(fray_sim_new(&sim, script, h, NULL), 0);
  static fray_sched_send_t sends[1024];
  fray_sched_t sched = to_sched(s, script, sends, sizeof sends / sizeof sends[0]);
  fray_result_t res;
  int rc = fray_sim_run(sim, &sched, &res);
  assert_true(rc == 0 || rc == FRAY_EFAILED);
  if (why)
    snprintf(why, whylen, "%s: line %zu: %s", path, res.line, rc ? res.message : "passed");
  fray_sim_free(sim);
  fray_script_free(script);
  fray_script_free(loaded);
  return rc ? -1 : 0;
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
                                      "wc",
                                      "buggy-oneread",
                                      "buggy-splitdelim",
                                      "buggy-stackbuf",
                                      "buggy-modeswitch",
                                      "buggy-trustlen",
                                      "buggy-closedbcast",
                                      "buggy-maxread",
                                      "buggy-wholeread",
                                      "buggy-firstonly",
                                      "buggy-crlfsplit",
                                      "buggy-setdata",
                                      "buggy-hdrsplit",
                                      "buggy-headbody",
                                      "buggy-lenshort",
                                      "buggy-lenwhole",
                                      "buggy-varint",
                                      "buggy-bulkcount",
                                      "buggy-errsplit",
                                      "buggy-querylimit",
                                      "buggy-maxlenline",
                                      "buggy-eofreset",
                                      "buggy-dotend",
                                      "buggy-utf8split",
                                      "buggy-nocompact",
                                      "buggy-chunkcrlf",
                                      "fixed-oneread",
                                      "fixed-splitdelim",
                                      "fixed-stackbuf",
                                      "fixed-modeswitch",
                                      "fixed-closedbcast",
                                      "fixed-maxread",
                                      "fixed-wholeread",
                                      "fixed-firstonly",
                                      "fixed-crlfsplit",
                                      "fixed-setdata",
                                      "fixed-hdrsplit",
                                      "fixed-headbody",
                                      "fixed-lenshort",
                                      "fixed-lenwhole",
                                      "fixed-varint",
                                      "fixed-bulkcount",
                                      "fixed-errsplit",
                                      "fixed-querylimit",
                                      "fixed-maxlenline",
                                      "fixed-eofreset",
                                      "fixed-dotend",
                                      "fixed-utf8split",
                                      "fixed-nocompact",
                                      "fixed-chunkcrlf"};
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

/* wc answers from on_eof: a half-closed client gets its counts. */
static void test_wc_scripts(void **state) {
  (void)state;
  static const char *const p[] = {"corpus/wc/basic.fray", "corpus/wc/edges.fray"};
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
  must_fail(p, &s, "expected \"hi");
  s.merge = 0;
  s.ncuts = 1; /* "PI" | "NG\r\n": two unknown commands */
  s.cut_send = 0;
  s.cut[0] = 2;
  must_fail(p, &s, "ERR unknown comm"); /* the message elides the middle */
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

static void test_buggy_maxread(void **state) {
  (void)state;
  const char *p = "corpus/buggy/maxread.fray";
  sched_t s = {0};
  must_pass(p, &s, "whole");
  s.write_max = 1;
  must_pass(p, &s, "short writes");
  s.write_max = 0;
  s.bytewise = 1;
  must_pass(p, &s, "bytewise");
  s.bytewise = 0;
  s.merge = 1;
  must_pass(p, &s, "sends merged in pairs");
  s.coalesce = 1; /* the burst in one 71-byte read */
  must_fail(p, &s, "ERR flood");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry_names), cmocka_unit_test(test_replayer_catches_wrong_output),
      cmocka_unit_test(test_echo_scripts),   cmocka_unit_test(test_chat_scripts),
      cmocka_unit_test(test_http_scripts),   cmocka_unit_test(test_resp_scripts),
      cmocka_unit_test(test_lenrpc_scripts), cmocka_unit_test(test_wc_scripts),
      cmocka_unit_test(test_buggy_oneread),  cmocka_unit_test(test_buggy_splitdelim),
      cmocka_unit_test(test_buggy_stackbuf), cmocka_unit_test(test_buggy_modeswitch),
      cmocka_unit_test(test_buggy_trustlen), cmocka_unit_test(test_buggy_closedbcast),
      cmocka_unit_test(test_buggy_maxread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
