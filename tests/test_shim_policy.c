/* Unit tests for the shim's standing policies (harness/shim/policy.c):
 * option parsing, the random cuts (in range, deterministic per seed, biased
 * to line ends, sometimes the whole read) and the short writes (1-16 bytes,
 * EAGAIN only where a socket may say it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../harness/shim/policy.h"

typedef struct parse_case {
  const char *in;
  int ok;
  fray__shim_reads_t reads;
  size_t max;
  uint64_t seed;
} parse_case_t;

static void test_policy_parse_reads_table(void **state) {
  (void)state;
  static const parse_case_t cases[] = {
      {"1", 1, FRAY_SHIM_READS_MAX, 1, 0},
      {"max:7", 1, FRAY_SHIM_READS_MAX, 7, 0},
      {"max:0", 0, 0, 0, 0},
      {"max:", 0, 0, 0, 0},
      {"max:-3", 0, 0, 0, 0},
      {"random", 1, FRAY_SHIM_READS_RANDOM, 0, 1},
      {"random:42", 1, FRAY_SHIM_READS_RANDOM, 0, 42},
      {"random:x", 0, 0, 0, 0},
      {"all", 1, FRAY_SHIM_READS_ALL, 0, 0},
      {"2", 0, 0, 0, 0},
      {"", 0, 0, 0, 0},
      {"max:99999999999999999999", 0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fray__shim_policy_t p;
    memset(&p, 0, sizeof p);
    int rc = fray__shim_parse_reads(&p, cases[i].in);
    if (!cases[i].ok) {
      assert_int_equal(rc, -1);
      assert_int_equal(p.reads, FRAY_SHIM_READS_ALL); /* untouched */
      continue;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(p.reads, cases[i].reads);
    if (cases[i].reads == FRAY_SHIM_READS_MAX)
      assert_int_equal(p.max, cases[i].max);
    if (cases[i].reads == FRAY_SHIM_READS_RANDOM)
      assert_int_equal(p.read_seed, cases[i].seed);
  }
}

static void test_policy_parse_writes_table(void **state) {
  (void)state;
  fray__shim_policy_t p;
  memset(&p, 0, sizeof p);
  assert_int_equal(fray__shim_parse_writes(&p, "short"), 0);
  assert_int_equal(p.short_writes, 1);
  assert_int_equal(p.write_seed, 1);
  assert_int_equal(fray__shim_parse_writes(&p, "short:9"), 0);
  assert_int_equal(p.write_seed, 9);
  assert_int_equal(fray__shim_parse_writes(&p, "all"), 0);
  assert_int_equal(p.short_writes, 0);
  assert_int_equal(fray__shim_parse_writes(&p, "short:"), -1);
  assert_int_equal(fray__shim_parse_writes(&p, "long"), -1);
}

static void test_policy_random_cut_in_range_and_seeded(void **state) {
  (void)state;
  const uint8_t d[] = "SET key value\r\nGET key\r\n";
  size_t n = sizeof d - 1;
  uint64_t a = fray__shim_stream(5, 1), b = fray__shim_stream(5, 1);
  int whole = 0, cut = 0;
  for (int i = 0; i < 2000; i++) {
    size_t x = fray__shim_random_cut(&a, d, n), y = fray__shim_random_cut(&b, d, n);
    assert_int_equal(x, y); /* same seed, same cuts */
    assert_true(x >= 1 && x <= n);
    whole += x == n;
    cut += x < n;
  }
  /* One read in four keeps what the kernel merged; the rest are cut. */
  assert_in_range(whole, 350, 650);
  assert_true(cut > 1200);
  /* Another connection or seed draws another stream. */
  assert_true(fray__shim_stream(5, 2) != fray__shim_stream(5, 1));
  assert_true(fray__shim_stream(6, 1) != fray__shim_stream(5, 1));
}

static void test_policy_random_cut_biased_to_line_ends(void **state) {
  (void)state;
  /* 64 bytes with one "\r\n" in the middle: uniform cuts would land next to
   * it (positions 31, 32, 33) about 3 times in 63. */
  uint8_t d[64];
  memset(d, 'a', sizeof d);
  d[31] = '\r';
  d[32] = '\n';
  uint64_t rng = fray__shim_stream(1, 1);
  int near = 0, cuts = 0;
  for (int i = 0; i < 4000; i++) {
    size_t x = fray__shim_random_cut(&rng, d, sizeof d);
    if (x == sizeof d)
      continue;
    cuts++;
    near += x >= 31 && x <= 33;
  }
  assert_true(near * 4 > cuts); /* well over a quarter, where uniform gives 5% */
}

static void test_policy_random_cut_one_byte(void **state) {
  (void)state;
  uint64_t rng = 3;
  const uint8_t d[] = "x";
  for (int i = 0; i < 100; i++)
    assert_int_equal(fray__shim_random_cut(&rng, d, 1), 1);
}

static void test_policy_short_writes(void **state) {
  (void)state;
  uint64_t rng = fray__shim_stream(7, 1);
  int again = 0;
  for (int i = 0; i < 4000; i++) {
    size_t t = fray__shim_write_take(&rng, 100, 1);
    assert_true(t <= 16);
    again += t == 0;
  }
  assert_in_range(again, 700, 1300); /* one in four */
  /* A blocking socket never hears EAGAIN; a short buffer caps the take. */
  for (int i = 0; i < 4000; i++) {
    size_t t = fray__shim_write_take(&rng, 5, 0);
    assert_in_range(t, 1, 5);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_policy_parse_reads_table),
      cmocka_unit_test(test_policy_parse_writes_table),
      cmocka_unit_test(test_policy_random_cut_in_range_and_seeded),
      cmocka_unit_test(test_policy_random_cut_biased_to_line_ends),
      cmocka_unit_test(test_policy_random_cut_one_byte),
      cmocka_unit_test(test_policy_short_writes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
