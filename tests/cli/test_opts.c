/* Tests for the CLI's option reader (harness/cli/opts.h): the value
 * parsers every command shares (counts, seeds, times) as tables of input
 * and result, and the table-driven reader (kinds, old spellings, forms,
 * errors). Usage errors go to stderr; the tests assert the return codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "opts.h"

typedef struct num_case {
  const char *in;
  int ok;
  uint64_t want;
} num_case_t;

static void test_parse_u64(void **state) {
  (void)state;
  static const num_case_t cases[] = {
      {"0", 1, 0},
      {"42", 1, 42},
      {"007", 1, 7},
      {"18446744073709551615", 1, UINT64_MAX},
      {"18446744073709551616", 0, 0},
      {"99999999999999999999999", 0, 0},
      {"", 0, 0},
      {"-1", 0, 0},
      {"+1", 0, 0},
      {" 1", 0, 0},
      {"1 ", 0, 0},
      {"1x", 0, 0},
      {"0x10", 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t v = 12345;
    int r = fray_cli_parse_u64(cases[i].in, &v);
    print_message("'%s'\n", cases[i].in);
    assert_int_equal(r, cases[i].ok ? 0 : -1);
    assert_true(v == (cases[i].ok ? cases[i].want : 12345)); /* untouched on error */
  }
}

static void test_parse_seed(void **state) {
  (void)state;
  static const num_case_t cases[] = {
      {"1", 1, 1},
      {"0", 1, 0},
      {"010", 1, 10}, /* decimal, never octal */
      {"0x10", 1, 16},
      {"0XfF", 1, 255},
      {"0xffffffffffffffff", 1, UINT64_MAX},
      {"0x0000000000000000001", 1, 1},
      {"0x1ffffffffffffffff", 0, 0},
      {"18446744073709551615", 1, UINT64_MAX},
      {"18446744073709551616", 0, 0},
      {"0x", 0, 0},
      {"0xg", 0, 0},
      {"-1", 0, 0},
      {"1e3", 0, 0},
      {"", 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t v = 12345;
    int r = fray_cli_parse_seed(cases[i].in, &v);
    print_message("'%s'\n", cases[i].in);
    assert_int_equal(r, cases[i].ok ? 0 : -1);
    assert_true(v == (cases[i].ok ? cases[i].want : 12345));
  }
}

typedef struct ms_case {
  const char *in;
  uint64_t bare; /* ms a bare unit is worth */
  int ok;
  uint64_t want;
} ms_case_t;

static void test_parse_ms(void **state) {
  (void)state;
  static const ms_case_t cases[] = {
      {"2000", 1, 1, 2000},
      {"2000ms", 1, 1, 2000},
      {"2s", 1, 1, 2000},
      {"0.3s", 1, 1, 300},
      {"0.3", 1000, 1, 300}, /* an old seconds spelling */
      {"2", 1000, 1, 2000},
      {"2ms", 1000, 1, 2},
      {"1.5ms", 1, 1, 2},            /* rounded to the nearest millisecond */
      {"0.0004s", 1, 1, 0},          /* rounded down; the range check refuses it */
      {"1.0000000001s", 1, 1, 1000}, /* digits past the ninth ignored */
      {"0", 1, 1, 0},
      {"18446744073709551615", 1, 1, UINT64_MAX},
      {"18446744073709551615s", 1, 0, 0}, /* times 1000 overflows */
      {"18446744073709551615.9", 1, 0, 0},
      {"", 1, 0, 0},
      {"s", 1, 0, 0},
      {"ms", 1, 0, 0},
      {".5s", 1, 0, 0},
      {"5.s", 1, 0, 0},
      {"2 s", 1, 0, 0},
      {"2sec", 1, 0, 0},
      {"2m", 1, 0, 0},
      {"-1", 1, 0, 0},
      {"1e3", 1, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t v = 12345;
    int r = fray_cli_parse_ms(cases[i].in, cases[i].bare, &v);
    print_message("'%s' (bare %llu)\n", cases[i].in, (unsigned long long)cases[i].bare);
    assert_int_equal(r, cases[i].ok ? 0 : -1);
    assert_true(v == (cases[i].ok ? cases[i].want : 12345));
  }
}

static const fray_cli_opt_t table[] = {
    {"--timeout", FRAY_CLI_MS, 1, 3600000, NULL},
    {"--timeout-ms", FRAY_CLI_MS, 1, 3600000, "--timeout"},
    {"--idle-timeout", FRAY_CLI_SECONDS, 1, 60000, "--timeout"},
    {"--runs", FRAY_CLI_COUNT, 1, 64, NULL},
    {"--seed", FRAY_CLI_SEED, 0, 0, NULL},
    {"--port", FRAY_CLI_PORT, 0, 0, NULL},
    {"--connect", FRAY_CLI_CONNECT, 0, 0, NULL},
    {"--listen", FRAY_CLI_LISTEN, 0, 0, NULL},
    {"--name", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--verbose", FRAY_CLI_FLAG, 0, 0, NULL},
    {"-v", FRAY_CLI_FLAG, 0, 0, "--verbose"},
};

/* Reads argv (NULL-terminated, argv[0] the command) and returns the kind of
 * the first argument read, leaving the reader in *a. */
static fray_cli_arg_t read_first(fray_cli_args_t *a, char **argv) {
  int argc = 0;
  while (argv[argc])
    argc++;
  fray_cli_args_init(a, "test", FRAY_CLI_TABLE(table), NULL, argc, argv);
  return fray_cli_next_arg(a);
}

typedef struct arg_case {
  const char *a1, *a2;
  fray_cli_arg_t want;
  const char *name; /* canonical name read */
  uint64_t num;
} arg_case_t;

static void test_reader_kinds_and_spellings(void **state) {
  (void)state;
  static const arg_case_t cases[] = {
      {"--timeout", "2s", FRAY_CLI_ARG_OPTION, "--timeout", 2000},
      {"--timeout=2000ms", NULL, FRAY_CLI_ARG_OPTION, "--timeout", 2000},
      {"--timeout-ms", "300", FRAY_CLI_ARG_OPTION, "--timeout", 300},
      {"--idle-timeout", "0.3", FRAY_CLI_ARG_OPTION, "--timeout", 300},
      {"--idle-timeout", "300ms", FRAY_CLI_ARG_OPTION, "--timeout", 300},
      {"--timeout", "0", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--timeout", "3600001", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--timeout", "2x", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--idle-timeout", "61", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--runs", "64", FRAY_CLI_ARG_OPTION, "--runs", 64},
      {"--runs", "65", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--runs", "0", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--seed", "0xdeadbeef", FRAY_CLI_ARG_OPTION, "--seed", 0xdeadbeef},
      {"--seed", "-1", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--port", "65535", FRAY_CLI_ARG_OPTION, "--port", 65535},
      {"--port", "0", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--port", "65536", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--connect", "127.0.0.1:65537", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--connect", "127.0.0.1:0", FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--listen", "127.0.0.1:0", FRAY_CLI_ARG_OPTION, "--listen", 0},
      {"--name", "", FRAY_CLI_ARG_OPTION, "--name", 0},
      {"-v", NULL, FRAY_CLI_ARG_OPTION, "--verbose", 0},
      {"--verbose=1", NULL, FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--bogus", NULL, FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--bogus=1", NULL, FRAY_CLI_ARG_ERROR, NULL, 0},
      {"--timeout", NULL, FRAY_CLI_ARG_ERROR, NULL, 0}, /* missing value */
      {"--a-name-longer-than-thirty-one-bytes", NULL, FRAY_CLI_ARG_ERROR, NULL, 0},
      {"-", NULL, FRAY_CLI_ARG_OPERAND, NULL, 0},
      {"--", "--timeout", FRAY_CLI_ARG_OPERAND, NULL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const arg_case_t *c = &cases[i];
    char *argv[] = {"test", (char *)c->a1, (char *)c->a2, NULL};
    fray_cli_args_t a;
    print_message("%s %s\n", c->a1, c->a2 ? c->a2 : "");
    assert_int_equal(read_first(&a, argv), c->want);
    if (c->want != FRAY_CLI_ARG_OPTION)
      continue;
    assert_string_equal(a.name, c->name);
    if (a.opt->kind != FRAY_CLI_TEXT && a.opt->kind != FRAY_CLI_FLAG &&
        a.opt->kind != FRAY_CLI_LISTEN)
      assert_true(a.num == c->num);
  }
}

/* An address option carries the parsed address; the value text stays too. */
static void test_reader_address(void **state) {
  (void)state;
  char *argv[] = {"test", "--connect=[::1]:6379", "rest", NULL};
  fray_cli_args_t a;
  assert_int_equal(read_first(&a, argv), FRAY_CLI_ARG_OPTION);
  assert_string_equal(a.addr.host, "::1");
  assert_int_equal(a.addr.port, 6379);
  assert_string_equal(a.val, "[::1]:6379");
  assert_int_equal(fray_cli_next_arg(&a), FRAY_CLI_ARG_OPERAND);
  assert_string_equal(a.val, "rest");
  assert_int_equal(fray_cli_next_arg(&a), FRAY_CLI_ARG_END);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_u64),      cmocka_unit_test(test_parse_seed),
      cmocka_unit_test(test_parse_ms),       cmocka_unit_test(test_reader_kinds_and_spellings),
      cmocka_unit_test(test_reader_address),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
