/* Tests for the one HOST:PORT reader (fray/addr.h). Each row is an input,
 * the flags, and either the host and port it must give or the start of the
 * reason it must be refused with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fray/addr.h"

typedef struct addr_case {
  const char *in;
  unsigned flags;
  const char *host; /* NULL: refused */
  unsigned port;
  const char *why; /* refused: how the reason starts */
} addr_case_t;

static const addr_case_t cases[] = {
    {"127.0.0.1:6379", 0, "127.0.0.1", 6379, NULL},
    {"localhost:1", 0, "localhost", 1, NULL},
    {"[::1]:65535", 0, "::1", 65535, NULL},
    {"[fe80::1%lo]:80", 0, "fe80::1%lo", 80, NULL},
    {"127.0.0.1:0", FRAY_ADDR_ANY_PORT, "127.0.0.1", 0, NULL},
    {"127.0.0.1:00080", 0, "127.0.0.1", 80, NULL},
    /* Out of range: these used to wrap (65537 became port 1, 99999 34463). */
    {"127.0.0.1:65536", 0, NULL, 0, "the port is not in 1-65535"},
    {"127.0.0.1:65537", 0, NULL, 0, "the port is not in 1-65535"},
    {"127.0.0.1:99999", 0, NULL, 0, "the port is not in 1-65535"},
    {"127.0.0.1:4294967297", 0, NULL, 0, "the port is not in 1-65535"},
    {"127.0.0.1:99999999999999999999999", 0, NULL, 0, "the port is not in 1-65535"},
    {"127.0.0.1:65537", FRAY_ADDR_ANY_PORT, NULL, 0, "the port is not in 0-65535"},
    {"127.0.0.1:0", 0, NULL, 0, "the port is not in 1-65535"},
    /* Junk in or after the number. */
    {"127.0.0.1:x", 0, NULL, 0, "the port is not a decimal number"},
    {"127.0.0.1:80x", 0, NULL, 0, "the port is not a decimal number"},
    {"127.0.0.1:80 ", 0, NULL, 0, "the port is not a decimal number"},
    {"127.0.0.1:+80", 0, NULL, 0, "the port is not a decimal number"},
    {"127.0.0.1:-1", 0, NULL, 0, "the port is not a decimal number"},
    {"127.0.0.1:0x50", 0, NULL, 0, "the port is not a decimal number"},
    /* Missing parts. */
    {"x", 0, NULL, 0, "no ':PORT'"},
    {"127.0.0.1", 0, NULL, 0, "no ':PORT'"},
    {"127.0.0.1:", 0, NULL, 0, "no port after ':'"},
    {":80", 0, NULL, 0, "no host"},
    {"", 0, NULL, 0, "no ':PORT'"},
    /* Brackets. */
    {"[::1", 0, NULL, 0, "'[' without a closing ']'"},
    {"[::1]", 0, NULL, 0, "no port after ']'"},
    {"[::1]80", 0, NULL, 0, "text after ']'"},
    {"[::1]:", 0, NULL, 0, "no port after ':'"},
    {"[]:80", 0, NULL, 0, "no host"},
    {"[[::1]:80", 0, NULL, 0, "a '[' inside"},
    {"::1]:80", 0, NULL, 0, "an IPv6 address needs brackets"},
    {"::1:80", 0, NULL, 0, "an IPv6 address needs brackets"},
    {"host]:80", 0, NULL, 0, "a bracket outside"},
};

static void test_addr_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const addr_case_t *c = &cases[i];
    fray_addr_t a;
    const char *why = NULL;
    int rc = fray_addr_parse(&a, c->in, c->flags, &why);
    print_message("'%s' -> %d %s\n", c->in, rc, why ? why : "(null)");
    assert_non_null(why);
    if (c->host) {
      assert_int_equal(rc, 0);
      assert_string_equal(why, "");
      assert_string_equal(a.host, c->host);
      assert_int_equal(a.port, c->port);
      char text[8];
      snprintf(text, sizeof text, "%u", c->port);
      assert_string_equal(a.port_text, text);
    } else {
      assert_int_equal(rc, FRAY_EINVAL);
      assert_true(strncmp(why, c->why, strlen(c->why)) == 0);
      assert_string_equal(a.host, ""); /* zeroed on failure */
      assert_int_equal(a.port, 0);
    }
  }
}

/* The host may be 255 bytes, not 256; NULL arguments are refused with a
 * reason, never a crash. */
static void test_addr_limits(void **state) {
  (void)state;
  char s[300];
  fray_addr_t a;
  const char *why;
  memset(s, 'h', 255);
  strcpy(s + 255, ":7");
  assert_int_equal(fray_addr_parse(&a, s, 0, &why), 0);
  assert_int_equal(strlen(a.host), 255);
  memset(s, 'h', 256);
  strcpy(s + 256, ":7");
  assert_int_equal(fray_addr_parse(&a, s, 0, &why), FRAY_EINVAL);
  assert_string_equal(why, "the host is longer than 255 bytes");
  assert_int_equal(fray_addr_parse(&a, NULL, 0, &why), FRAY_EINVAL);
  assert_string_equal(why, "no address given");
  assert_int_equal(fray_addr_parse(NULL, "a:1", 0, &why), FRAY_EINVAL);
  assert_int_equal(fray_addr_parse(&a, "a:1", 0, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_addr_table),
      cmocka_unit_test(test_addr_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
