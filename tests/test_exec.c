/* Unit tests for starting programs under the shim (run/exec.c): shell-like
 * word splitting with {port}, the ELF check (static binaries, gcc's ASan
 * runtime among the needed libraries) and the LD_PRELOAD order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "run/exec_internal.h"

typedef struct split_case {
  const char *cmd;
  const char *words[6]; /* NULL-terminated; words[0] NULL: a syntax error */
} split_case_t;

static void test_exec_split_table(void **state) {
  (void)state;
  static const split_case_t cases[] = {
      {"redis-server --port {port} --save \"\"", {"redis-server", "--port", "7000", "--save", ""}},
      {"  a   b\tc ", {"a", "b", "c"}},
      {"sh -c 'echo $HOME; exit 3'", {"sh", "-c", "echo $HOME; exit 3"}},
      {"say \"a \\\"q\\\" \\$x \\n\"", {"say", "a \"q\" $x \\n"}},
      {"a\\ b c", {"a b", "c"}},
      {"x{port}y{port}", {"x7000y7000"}},
      {"pre'mid'\"dq\"post", {"premiddqpost"}},
      {"'' \"\"", {"", ""}},
      {"a 'open", {NULL}},
      {"a \"open", {NULL}},
      {"   ", {NULL}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char **argv;
    size_t argc;
    char err[128] = "";
    int rc = fray__exec_split(NULL, cases[i].cmd, "7000", &argv, &argc, err, sizeof err);
    if (!cases[i].words[0]) {
      assert_int_equal(rc, FRAY_ESYNTAX);
      assert_true(err[0] != 0);
      assert_null(argv);
      continue;
    }
    assert_int_equal(rc, 0);
    size_t n = 0;
    while (n < 6 && cases[i].words[n])
      n++;
    assert_int_equal(argc, n);
    for (size_t k = 0; k < n; k++)
      assert_string_equal(argv[k], cases[i].words[k]);
    assert_null(argv[n]);
    fray__exec_argv_free(NULL, argv);
  }
}

static void test_exec_split_error_names_offset(void **state) {
  (void)state;
  char **argv;
  size_t argc;
  char err[128];
  assert_int_equal(fray__exec_split(NULL, "ab 'cd", NULL, &argv, &argc, err, sizeof err),
                   FRAY_ESYNTAX);
  assert_string_equal(err, "unterminated single quote opened at offset 3");
  /* Without a port, {port} stays as written. */
  assert_int_equal(fray__exec_split(NULL, "a{port}", NULL, &argv, &argc, err, sizeof err), 0);
  assert_string_equal(argv[0], "a{port}");
  fray__exec_argv_free(NULL, argv);
}

static void test_exec_inspect_dynamic_and_missing(void **state) {
  (void)state;
  fray__exec_prog_t p;
  assert_int_equal(fray__exec_inspect("sh", &p), 0); /* found through PATH */
  assert_true(p.path[0] == '/');
  assert_int_equal(fray__exec_inspect("/nonexistent/x", &p), FRAY_ENOENT);
  /* This test program itself: a dynamic ELF, fit for the shim. */
  assert_int_equal(fray__exec_inspect("/proc/self/exe", &p), 0);
  assert_true(p.elf && p.dynamic);
  assert_null(fray__exec_unfit(&p));
}

static void test_exec_unfit_static(void **state) {
  (void)state;
  fray__exec_prog_t p;
  memset(&p, 0, sizeof p);
  p.elf = 1; /* an ELF file without a program interpreter */
  assert_non_null(fray__exec_unfit(&p));
  assert_non_null(strstr(fray__exec_unfit(&p), "statically linked"));
  p.elf = 0; /* a script: its interpreter decides, the shim cannot tell yet */
  assert_null(fray__exec_unfit(&p));
}

static void test_exec_preload_order(void **state) {
  (void)state;
  fray__exec_prog_t p;
  memset(&p, 0, sizeof p);
  char out[256];
  assert_int_equal(fray__exec_preload(&p, "/s/libfray-shim.so", NULL, out, sizeof out), 0);
  assert_string_equal(out, "/s/libfray-shim.so");
  assert_int_equal(fray__exec_preload(&p, "/s/shim.so", "/x/a.so", out, sizeof out), 0);
  assert_string_equal(out, "/s/shim.so /x/a.so");
  /* gcc's ASan runtime must come first. */
  snprintf(p.asan, sizeof p.asan, "libasan.so.8");
  assert_int_equal(fray__exec_preload(&p, "/s/shim.so", "", out, sizeof out), 0);
  assert_string_equal(out, "libasan.so.8 /s/shim.so");
  assert_int_equal(fray__exec_preload(&p, "/s/shim.so", "libasan.so.8 /x/a.so", out, sizeof out),
                   0);
  assert_string_equal(out, "libasan.so.8 /s/shim.so /x/a.so");
  assert_int_equal(fray__exec_preload(&p, "/s/shim.so", NULL, out, 8), FRAY_ERANGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exec_split_table),
      cmocka_unit_test(test_exec_split_error_names_offset),
      cmocka_unit_test(test_exec_inspect_dynamic_and_missing),
      cmocka_unit_test(test_exec_unfit_static),
      cmocka_unit_test(test_exec_preload_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
