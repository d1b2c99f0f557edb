/* Tests for the signature fray fuzz --exec groups its crashes by
 * (harness/cli/verdictsig.h): verdicts as the shim, the player and the
 * sanitizers write them, in pairs that must share a signature (one bug,
 * two inputs) or must not (two failures), and the normalised form itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "verdictsig.h"

static const char *sig(const char *what) {
  static char buf[2][512];
  static int k;
  k ^= 1;
  fray_cli_verdict_signature(what, buf[k], sizeof buf[k]);
  return buf[k];
}

typedef struct form_case {
  const char *what, *want;
} form_case_t;

static void test_normalised_form(void **state) {
  (void)state;
  static const form_case_t cases[] = {
      {"split invariance broken: c3's transcript differs from the whole schedule's at byte 21: "
       "whole gave \"\", this schedule \"ERR unknown comm\" ...10... \"nknown command\\r\\n\"",
       "split invariance broken: cN's transcript differs from the whole schedule's at byte N: "
       "whole gave \"...\", this schedule \"...\""},
      {"the server died of signal 11", "the server died of signal 11"},
      {"the server died of signal 11 in the whole run (the reference)",
       "the server died of signal 11"},
      {"the server exited with status 1 in the middle of the session (step 12): a crash",
       "the server exited with status 1 in the middle of the session (step N): a crash"},
      {"AddressSanitizer: heap-buffer-overflow /src/proto.c:258:5 in exec_feed",
       "AddressSanitizer: heap-buffer-overflow /src/proto.c:258:5 in exec_feed"},
      {"AddressSanitizer: SEGV on unknown address 0x000000000010 (srv+0x4f3a2)",
       "AddressSanitizer: SEGV on unknown address N (srv+0x4f3a2)"},
      {"x (after the fault eof-with-data: c0's last read of line 4 and its close came together)",
       "x"},
      {"x (after the fault close-mid-send: c1 sent \"a)b\", then closed) y", "x y"},
      {"x (after the fault read-gap: c0's re", "x"},
      {"x (after the f", "x"},
      {"signal 11 in the whole ru", "signal 11"},
      {"cN's transcript differs from the whole schedule's (same receive window) at byte 3",
       "cN's transcript differs from the whole schedule's at byte N"},
      {"gave \"a\\\"b\" and \"c\"", "gave \"...\" and \"...\""},
      {"this schedule \"ERR unkn", "this schedule \"...\""},
      {"", ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_string_equal(sig(cases[i].what), cases[i].want);
}

typedef struct pair_case {
  const char *a, *b;
  int same;
} pair_case_t;

static void test_pairs(void **state) {
  (void)state;
  static const pair_case_t cases[] = {
      /* one bug, two inputs: other clients, offsets, data */
      {"split invariance broken: c3's transcript differs from the whole schedule's at byte 21: "
       "whole gave \"\", this schedule \"BYE\\r\\n\"",
       "split invariance broken: c0's transcript differs from the whole schedule's at byte 6: "
       "whole gave \"ERR unknown command\\r\\n\", this schedule \"BYE\\r\\nERR\"",
       1},
      {"split invariance broken, unreliable: the server is not deterministic (two whole runs "
       "of this session differed, client 0, byte 5 of its answers: \"PONG 4242\\r\\n\" in one "
       "whole run, \"PONG 4243\\r\\n\" in the other), so the difference may be its own variance",
       "split invariance broken, unreliable: the server is not deterministic (two whole runs "
       "of this session differed, client 2, byte 61 of its answers: \"PONG 17\\r\\n\" in one "
       "whole run, \"PONG 18\\r\\n\" in the other), so the difference may be its own variance",
       1},
      {"the server died of signal 11",
       "the server died of signal 11 in the whole run (the "
       "reference)",
       1},
      {"the server failed under the fuzz-chosen schedule: c1 received more than 1048576 bytes",
       "the server failed under the fuzz-chosen schedule: c0 received more than 1048576 bytes", 1},
      {"x (after the fault eof-with-data: c0's last read of line 4 and its close came together)",
       "x (after the fault read-gap: c0's read of line 4 found nothing first)", 1},
      {"x (after the fault eof-with-data: c0)", "x", 1},
      /* two failures */
      {"the server died of signal 11", "the server died of signal 6", 0},
      {"the server exited with status 0 in the middle of the session (step 3)",
       "the server exited with status 1 in the middle of the session (step 3)", 0},
      {"the server died of signal 11",
       "split invariance broken: c0's transcript differs from the whole schedule's at byte 0: "
       "whole gave \"\", this schedule \"\"",
       0},
      {"AddressSanitizer: heap-use-after-free /src/a.c:10:3 in f",
       "AddressSanitizer: heap-use-after-free /src/a.c:99:3 in f", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *a = sig(cases[i].a), *b = sig(cases[i].b);
    if (cases[i].same)
      assert_string_equal(a, b);
    else
      assert_string_not_equal(a, b);
  }
}

/* A signature that does not fit is cut short, NUL-terminated. */
static void test_bounded(void **state) {
  (void)state;
  char small[8];
  memset(small, 'z', sizeof small);
  fray_cli_verdict_signature("the server died of signal 11", small, sizeof small);
  assert_string_equal(small, "the ser");
  fray_cli_verdict_signature("12345678901234567890", small, sizeof small);
  assert_string_equal(small, "N");
  char one[1] = {'z'};
  fray_cli_verdict_signature("abc", one, sizeof one);
  assert_int_equal(one[0], 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normalised_form),
      cmocka_unit_test(test_pairs),
      cmocka_unit_test(test_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
