/* Tests for core/common.c and core/internal.h: the growable-array helper
 * (overflow refused, allocation failure leaves the array as it was, the
 * bound of fray__grow_max) and the library's PRNG, whose sequence is a
 * contract (seeds in reproducers must keep meaning the same runs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* An allocator that records the last size asked for and fails on request. */
typedef struct counting {
  size_t last;
  int fail;
} counting_t;

static void *c_malloc(size_t n, void *u) {
  counting_t *c = u;
  c->last = n;
  return c->fail ? NULL : malloc(n);
}
static void *c_realloc(void *p, size_t n, void *u) {
  counting_t *c = u;
  c->last = n;
  return c->fail ? NULL : realloc(p, n);
}
static void c_free(void *p, void *u) {
  (void)u;
  free(p);
}

static fray_mem_t counting_mem(counting_t *c) {
  return (fray_mem_t){
      .malloc_fn = c_malloc, .realloc_fn = c_realloc, .free_fn = c_free, .user_data = c};
}

static void test_grow_doubles(void **state) {
  (void)state;
  counting_t c = {0};
  fray_mem_t m = counting_mem(&c);
  uint32_t *v = NULL;
  size_t cap = 0;
  assert_int_equal(fray__grow(&m, (void **)&v, &cap, 1, sizeof *v), 0);
  assert_int_equal(cap, 64);
  assert_int_equal(c.last, 64 * sizeof *v);
  assert_int_equal(fray__grow(&m, (void **)&v, &cap, 64, sizeof *v), 0); /* fits: no call */
  assert_int_equal(cap, 64);
  assert_int_equal(fray__grow(&m, (void **)&v, &cap, 300, sizeof *v), 0);
  assert_int_equal(cap, 512);
  v[299] = 7;
  free(v);
}

/* need * elem past SIZE_MAX is FRAY_ENOMEM before the allocator is asked
 * (it would otherwise be asked for the wrapped-around, small product). */
static void test_grow_refuses_overflow(void **state) {
  (void)state;
  counting_t c = {0};
  fray_mem_t m = counting_mem(&c);
  uint64_t *v = NULL;
  size_t cap = 0;
  assert_int_equal(fray__grow(&m, (void **)&v, &cap, SIZE_MAX / 8 + 1, 8), FRAY_ENOMEM);
  assert_int_equal(fray__grow(&m, (void **)&v, &cap, SIZE_MAX, 2), FRAY_ENOMEM);
  assert_int_equal(c.last, 0);
  assert_null(v);
  assert_int_equal(cap, 0);
  /* Doubling from a large capacity does not wrap either: the request is
   * need itself, which the allocator then refuses. */
  uint8_t *b = malloc(16);
  assert_non_null(b);
  size_t bcap = SIZE_MAX / 2 + 2;
  c.fail = 1;
  assert_int_equal(fray__grow(&m, (void **)&b, &bcap, SIZE_MAX - 1, 1), FRAY_ENOMEM);
  assert_int_equal(c.last, SIZE_MAX - 1);
  assert_int_equal(bcap, SIZE_MAX / 2 + 2);
  free(b);
}

static void test_grow_failure_keeps_array(void **state) {
  (void)state;
  counting_t c = {0};
  fray_mem_t m = counting_mem(&c);
  char *v = NULL;
  size_t cap = 0;
  assert_int_equal(fray__grow(&m, (void **)&v, &cap, 10, 1), 0);
  memcpy(v, "kept", 5);
  char *before = v;
  c.fail = 1;
  assert_int_equal(fray__grow(&m, (void **)&v, &cap, 100, 1), FRAY_ENOMEM);
  assert_ptr_equal(v, before);
  assert_int_equal(cap, 64);
  assert_string_equal(v, "kept");
  free(v);
}

static void test_grow_max_stops_at_bound(void **state) {
  (void)state;
  counting_t c = {0};
  fray_mem_t m = counting_mem(&c);
  uint8_t *v = NULL;
  size_t cap = 0;
  assert_int_equal(fray__grow_max(&m, (void **)&v, &cap, 100, 1, 1000), 0);
  assert_int_equal(cap, 128);
  assert_int_equal(fray__grow_max(&m, (void **)&v, &cap, 600, 1, 1000), 0);
  assert_int_equal(cap, 1000); /* not 1024 */
  assert_int_equal(fray__grow_max(&m, (void **)&v, &cap, 1001, 1, 1000), 0);
  assert_int_equal(cap, 2000); /* past the bound: doubling again */
  free(v);
}

/* splitmix64's published outputs for state 0 (the reference C code by
 * Vigna): if these change, every seed printed so far means other runs. */
static void test_rng_sequence_is_splitmix64(void **state) {
  (void)state;
  uint64_t s = 0;
  assert_true(fray__rng_next(&s) == 0xe220a8397b1dcdafULL);
  assert_true(fray__rng_next(&s) == 0x6e789e6aa1b965f4ULL);
  assert_true(fray__rng_next(&s) == 0x06c45d188009454fULL);
  s = 1;
  assert_true(fray__rng_next(&s) == 0x910a2dec89025cc1ULL);
}

/* fray__rng_at(seed, i) is draw i+1 of the stream, and the per-run seed
 * formula fray replay has always used: z = seed + (i+1) * gamma, mixed. */
static void test_rng_at_is_the_ith_draw(void **state) {
  (void)state;
  for (uint64_t seed = 0; seed < 5; seed++) {
    uint64_t s = seed;
    for (uint64_t i = 0; i < 100; i++) {
      uint64_t draw = fray__rng_next(&s);
      assert_true(fray__rng_at(seed, i) == draw);
      uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      assert_true((z ^ (z >> 31)) == draw);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grow_doubles),
      cmocka_unit_test(test_grow_refuses_overflow),
      cmocka_unit_test(test_grow_failure_keeps_array),
      cmocka_unit_test(test_grow_max_stops_at_bound),
      cmocka_unit_test(test_rng_sequence_is_splitmix64),
      cmocka_unit_test(test_rng_at_is_the_ith_draw),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
