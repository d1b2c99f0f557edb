/* The handler runtime's sends: fray_conn_sendf must write exactly what
 * printf would, whether it takes its own path (text, %s and %% only) or
 * vsnprintf's (anything else, and output past its stack buffer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fray/handler.h"

typedef struct sink {
  char buf[4096];
  size_t len;
} sink_t;

static fray_ssize_t sink_write(void *ctx, const uint8_t *d, size_t n) {
  sink_t *s = ctx;
  assert_true(s->len + n <= sizeof s->buf);
  memcpy(s->buf + s->len, d, n);
  s->len += n;
  return (fray_ssize_t)n;
}

static const fray_handler_t quiet = {
    .name = "quiet",
    .spec = {.mode = FRAY_MODE_RAW},
};

/* Opens a connection on a fresh server; the caller frees the server. */
static fray_conn_t *open_conn(fray_server_t **srv) {
  fray_conn_t *c;
  assert_int_equal(fray_server_new(srv, &quiet, NULL), 0);
  assert_int_equal(fray_server_open(*srv, "t", NULL, &c), 0);
  return c;
}

/* sendf's output for fmt, checked against vsnprintf's. */
static void check_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void check_sendf(const char *fmt, ...) {
  fray_server_t *srv;
  fray_conn_t *c = open_conn(&srv);
  char want[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(want, sizeof want, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof want);
  va_start(ap, fmt);
  assert_int_equal(fray_conn_vsendf(c, fmt, ap), 0);
  va_end(ap);
  sink_t s = {.len = 0};
  while (fray_conn_pending(c))
    assert_true(fray_conn_flush(c, sink_write, &s) > 0);
  assert_int_equal(s.len, (size_t)n);
  assert_memory_equal(s.buf, want, (size_t)n);
  fray_server_free(srv);
}

static void test_sendf_plain_text(void **state) {
  (void)state;
  check_sendf("ERR unknown command\r\n");
  check_sendf("%s", "");
  fray_server_t *srv;
  fray_conn_t *c = open_conn(&srv);
  assert_int_equal(fray_conn_sendf(c, "%s", ""), 0);
  assert_int_equal(fray_conn_pending(c), 0); /* nothing to send is no item */
  fray_server_free(srv);
}

static void test_sendf_strings_and_percent(void **state) {
  (void)state;
  check_sendf("OK nick %s\r\n", "alice");
  check_sendf("%s", "alone");
  check_sendf("%s%s%s", "a", "", "c");
  check_sendf("100%% of %s", "it");
  check_sendf("%%%%");
  check_sendf("trailing %s", "x");
}

static void test_sendf_other_conversions(void **state) {
  (void)state;
  check_sendf("%d items", 42);
  check_sendf("%s has %zu bytes", "buf", (size_t)7);
  check_sendf("%5s|%-3s|", "ab", "c");
  check_sendf("%.2s", "abcdef");
  check_sendf("%c%s", 'x', "y");
}

static void test_sendf_past_the_stack_buffer(void **state) {
  (void)state;
  char big[1000];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  check_sendf("%s", big);
  check_sendf("<%s>", big);
  check_sendf("%s %d", big, 1);
  /* Around the 256-byte buffer's edge, on both paths. */
  for (size_t n = 250; n < 260; n++) {
    big[n] = '\0';
    check_sendf("%s", big);
    check_sendf("%s!", big);
    check_sendf("%s%%", big);
    big[n] = 'z';
  }
}

static void test_sendf_on_a_closing_connection(void **state) {
  (void)state;
  fray_server_t *srv;
  fray_conn_t *c = open_conn(&srv);
  fray_conn_close(c);
  assert_int_equal(fray_conn_sendf(c, "late %s", "reply"), FRAY_ECLOSED);
  assert_int_equal(fray_conn_sendf(c, "late %d", 1), FRAY_ECLOSED);
  fray_server_free(srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sendf_plain_text),
      cmocka_unit_test(test_sendf_strings_and_percent),
      cmocka_unit_test(test_sendf_other_conversions),
      cmocka_unit_test(test_sendf_past_the_stack_buffer),
      cmocka_unit_test(test_sendf_on_a_closing_connection),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
