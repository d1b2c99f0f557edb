/* Expectation tests (run/expect_internal.h, fray/result.h): one table of
 * expectation steps against what a client received, with the verdict,
 * where the match leaves the client and the account's words; line
 * matching; leftovers; verdict names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "run/expect_internal.h"

typedef struct row {
  fray_step_kind_t kind;
  const char *want; /* bytes or pattern */
  const char *got;  /* received so far */
  int closed, open;
  int rc;
  fray_fail_kind_t fail;
  size_t pos;         /* where the client is left */
  const char *needle; /* in the message when it fails */
  const char *label;
} row_t;

static const row_t rows[] = {
    {FRAY_STEP_EXPECT, "hi", "hi!", 0, 1, 0, FRAY_FAIL_NONE, 2, NULL, "exact prefix"},
    {FRAY_STEP_EXPECT, "hi", "ho", 0, 1, FRAY_EFAILED, FRAY_FAIL_MISMATCH, 0,
     "a expected \"hi\", got \"ho\" (first difference at byte 1)", "mismatch"},
    {FRAY_STEP_EXPECT, "hello", "he", 0, 1, FRAY_EFAILED, FRAY_FAIL_MISSING, 0,
     "got \"he\" then NOTHING", "missing: the transport's words"},
    {FRAY_STEP_EXPECT, "hello", "he", 1, 0, FRAY_EFAILED, FRAY_FAIL_CLOSED, 0,
     "then the server closed the connection", "closed early"},
    {FRAY_STEP_EXPECT_REGEX, "P[OI]NG\r\n", "PONG\r\nx", 0, 1, 0, FRAY_FAIL_NONE, 6, NULL,
     "regex line"},
    {FRAY_STEP_EXPECT_REGEX, "PING\r\n", "PONG\r\n", 0, 1, FRAY_EFAILED, FRAY_FAIL_MISMATCH, 0,
     "a line matching", "regex mismatch"},
    {FRAY_STEP_EXPECT_REGEX, "P.*", "PON", 0, 1, FRAY_EFAILED, FRAY_FAIL_MISSING, 0, "then NOTHING",
     "no whole line"},
    {FRAY_STEP_EXPECT_GLOB, "OK *\n", "OK nick a\n", 0, 1, 0, FRAY_FAIL_NONE, 10, NULL, "glob"},
    {FRAY_STEP_EXPECT_GLOB, "OK*\n", "O\0K\n", 0, 1, FRAY_EFAILED, FRAY_FAIL_MISMATCH, 0, NULL,
     "a NUL never matches"},
    {FRAY_STEP_EXPECT_EOF, NULL, "", 1, 0, 0, FRAY_FAIL_NONE, 0, NULL, "eof"},
    {FRAY_STEP_EXPECT_EOF, NULL, "", 0, 1, FRAY_EFAILED, FRAY_FAIL_NOT_CLOSED, 0,
     "kept the connection open KEPT", "not closed"},
    {FRAY_STEP_EXPECT_EOF, NULL, "zz", 1, 0, FRAY_EFAILED, FRAY_FAIL_UNEXPECTED, 0,
     "expected the server to close, got \"zz\"", "bytes before eof"},
    {FRAY_STEP_EXPECT_EOF_OPT, NULL, "", 0, 1, 0, FRAY_FAIL_NONE, 0, NULL, "eof? open"},
    {FRAY_STEP_EXPECT_EOF_OPT, NULL, "z", 0, 1, FRAY_EFAILED, FRAY_FAIL_UNEXPECTED, 0,
     "expected no more bytes", "eof? with bytes"},
};

static void test_expect_table(void **state) {
  (void)state;
  fray_mem_t mem;
  fray__mem_init(&mem, NULL);
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const row_t *w = &rows[i];
    size_t glen = w->kind == FRAY_STEP_EXPECT_GLOB && w->rc ? 4 : strlen(w->got);
    fray_step_t st = {.kind = w->kind,
                      .line = 1,
                      .data = (const uint8_t *)w->want,
                      .len = w->want ? strlen(w->want) : 0};
    size_t pos = 0;
    fray__rx_t rx = {.who = "a",
                     .rx = glen ? (const uint8_t *)w->got : NULL,
                     .len = glen,
                     .pos = &pos,
                     .closed = w->closed,
                     .open = w->open,
                     .end_words = fray__end_words(0),
                     .nothing = "NOTHING",
                     .kept_open = " KEPT"};
    fray_result_t res;
    memset(&res, 0, sizeof res);
    char msg[640] = "";
    int rc = fray__expect_check(&mem, &st, &rx, &res, msg, sizeof msg);
    if (rc != w->rc || (rc && res.kind != w->fail) || pos != w->pos)
      fail_msg("%s: rc %d kind %s pos %zu: %s", w->label, rc, fray_fail_kind_name(res.kind), pos,
               msg);
    if (w->needle && !strstr(msg, w->needle))
      fail_msg("%s: '%s' lacks '%s'", w->label, msg, w->needle);
  }
}

static void test_expect_match_line(void **state) {
  (void)state;
  fray_mem_t mem;
  fray__mem_init(&mem, NULL);
  fray_step_t re = {.kind = FRAY_STEP_EXPECT_REGEX, .data = (const uint8_t *)"a+\n", .len = 3};
  size_t n = 0;
  assert_int_equal(fray__match_line(&mem, &re, (const uint8_t *)"aaa\nb", 5, &n), 1);
  assert_int_equal(n, 4);
  assert_int_equal(fray__match_line(&mem, &re, (const uint8_t *)"aab\n", 4, &n), 0);
  assert_int_equal(fray__match_line(&mem, &re, (const uint8_t *)"aaa", 3, &n), FRAY_EAGAIN);
  /* Anchored at both ends: a line merely containing a match fails. */
  assert_int_equal(fray__match_line(&mem, &re, (const uint8_t *)"xaa\n", 4, &n), 0);
}

static void test_expect_leftover_and_names(void **state) {
  (void)state;
  fray_result_t res;
  memset(&res, 0, sizeof res);
  char m[320];
  assert_int_equal(fray__expect_leftover("bob", (const uint8_t *)"abcd", 4, 4, &res, m, sizeof m),
                   0);
  assert_int_equal(fray__expect_leftover("bob", (const uint8_t *)"abcd", 1, 4, &res, m, sizeof m),
                   1);
  assert_string_equal(m, "bob received \"bcd\" that no expectation accounts for");
  assert_int_equal(res.got_len, 3);
  assert_int_equal(fray__first_diff((const uint8_t *)"abc", (const uint8_t *)"abd", 3), 2);
  assert_int_equal(fray__first_diff((const uint8_t *)"abc", (const uint8_t *)"abc", 3), 3);
  assert_string_equal(fray_fail_kind_name(FRAY_FAIL_NONE), "pass");
  assert_string_equal(fray_fail_kind_name(FRAY_FAIL_NOT_CLOSED), "not-closed");
  assert_string_equal(fray_fail_kind_name(FRAY_FAIL_HANDLER), "handler");
  assert_string_equal(fray_fail_kind_name(FRAY_FAIL_HANG), "hang");
  assert_string_equal(fray_fail_kind_name((fray_fail_kind_t)99), "unknown");
  assert_string_equal(fray__end_words(1), "the server reset the connection");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_expect_table),
      cmocka_unit_test(test_expect_match_line),
      cmocka_unit_test(test_expect_leftover_and_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
