/* Unit tests for malformed variants (fray/mutate.h): what each mutation kind
 * does to a send, that a seed always gives the same variant, the size
 * bounds, the canary contract (a fresh connection per canary client after
 * the mutated session, *canary_at at its first step), that every variant is
 * a valid script, and a fail-malloc loop: every allocation of a mutation
 * goes through the script's allocator, and failing any one of them gives
 * FRAY_ENOMEM with nothing leaked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fray/framer.h"
#include "fray/mutate.h"
#include "fray/script.h"

#include "failmem.h"

#define MAX_SEEDS 4000 /* seeds tried to find one that picks a given kind */

/* One send between an open and its answer; the canary on another client. */
static const char one_send[] = "@canary p > \"PING\\r\\n\"\n"
                               "@canary p < \"PONG\\r\\n\"\n"
                               "open a\n"
                               "a > \"PING\\r\\n\"\n"
                               "a < \"PONG\\r\\n\"\n"
                               "close a\n";
#define ONE_SEND_LINE 4
static const uint8_t ping[] = "PING\r\n";
#define PING_LEN 6

static fray_script_t *parse(const char *text, const fray_mem_t *mem) {
  fray_script_opts_t o;
  fray_script_opts_init(&o);
  o.mem = mem;
  fray_script_t *s = NULL;
  fray_script_error_t err;
  int rc = fray_script_parse(&s, text, strlen(text), "t.fray", &o, &err);
  if (rc != 0) {
    char msg[600];
    fail_msg("%s", fray_script_error_format(&err, msg, sizeof msg));
  }
  return s;
}

/* 1 when what's first account is of kind m at line: "line L: NAME" then a
 * space or ':' (names are prefixes of each other: insert-nul, insert-...). */
static int what_is(const char *what, size_t line, fray_mutation_t m) {
  char head[64];
  snprintf(head, sizeof head, "line %zu: %s", line, fray_mutation_name(m));
  size_t n = strlen(head);
  return strncmp(what, head, n) == 0 && (what[n] == ' ' || what[n] == ':');
}

/* The first seed at or after from whose variant of s mutates the send at
 * line with kind m; the variant in *out. Fails the test if none does. */
static uint64_t seed_for(const fray_script_t *s, size_t line, fray_mutation_t m, uint64_t from,
                         fray_script_t **out, size_t *canary_at) {
  char what[256];
  for (uint64_t seed = from; seed < from + MAX_SEEDS; seed++) {
    assert_int_equal(fray_mutate(s, seed, 0, out, canary_at, what, sizeof what), 0);
    if (what_is(what, line, m))
      return seed;
    fray_script_free(*out);
  }
  fail_msg("no seed in [%llu, +%d) mutates line %zu by %s", (unsigned long long)from, MAX_SEEDS,
           line, fray_mutation_name(m));
  return 0;
}

/* Checks the steps of v from index at against kinds (n of them). */
static void assert_kinds(const fray_script_t *v, size_t at, const fray_step_kind_t *kinds,
                         size_t n) {
  size_t nsteps;
  const fray_step_t *st = fray_script_steps(v, &nsteps);
  assert_int_equal(nsteps, at + n);
  for (size_t i = 0; i < n; i++)
    if (st[at + i].kind != kinds[i])
      fail_msg("step %zu is %s, want %s", at + i, fray_step_kind_name(st[at + i].kind),
               fray_step_kind_name(kinds[i]));
}

static size_t count_byte(const uint8_t *p, size_t n, uint8_t b) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += p[i] == b;
  return k;
}

/* 1 when d (len n) is ping with k bytes inserted somewhere. */
static int is_insertion(const uint8_t *d, size_t n, size_t k) {
  if (n != PING_LEN + k)
    return 0;
  for (size_t at = 0; at <= PING_LEN; at++)
    if (!memcmp(d, ping, at) && !memcmp(d + at + k, ping + at, PING_LEN - at))
      return 1;
  return 0;
}

static size_t bits_differing(const uint8_t *a, const uint8_t *b, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    for (uint8_t x = a[i] ^ b[i]; x; x &= (uint8_t)(x - 1))
      k++;
  return k;
}

/* ---- tests --------------------------------------------------------------- */

static void test_names(void **state) {
  (void)state;
  for (int m = 0; m < FRAY_MUT_COUNT; m++) {
    const char *n = fray_mutation_name((fray_mutation_t)m);
    assert_string_not_equal(n, "unknown");
    for (int k = 0; k < m; k++)
      assert_string_not_equal(n, fray_mutation_name((fray_mutation_t)k));
  }
  assert_string_equal(fray_mutation_name(FRAY_MUT_COUNT), "unknown");
  assert_string_equal(fray_mutation_name((fray_mutation_t)-1), "unknown");
}

/* Every kind, on the one send: the bytes it makes and the steps around. */
static void test_every_kind(void **state) {
  (void)state;
  fray_script_t *s = parse(one_send, NULL);
  for (int k = 0; k < FRAY_MUT_COUNT; k++) {
    fray_mutation_t m = (fray_mutation_t)k;
    fray_script_t *v;
    size_t at;
    seed_for(s, ONE_SEND_LINE, m, 0, &v, &at);
    size_t n;
    const fray_step_t *st = fray_script_steps(v, &n);
    assert_true(n >= 3);
    assert_int_equal(st[1].kind, FRAY_STEP_SEND);
    assert_null(st[1].cuts);
    const uint8_t *d = st[1].data;
    size_t len = st[1].len;
    switch (m) {
    case FRAY_MUT_TRUNCATE:
    case FRAY_MUT_CLOSE_MID:
    case FRAY_MUT_RESET_MID:
      assert_true(len >= 1 && len < PING_LEN);
      assert_memory_equal(d, ping, len);
      break;
    case FRAY_MUT_DROP_DELIM:
      assert_int_equal(len, 4);
      assert_memory_equal(d, "PING", 4);
      break;
    case FRAY_MUT_DUPLICATE:
      assert_int_equal(len, 2 * PING_LEN);
      assert_memory_equal(d, "PING\r\nPING\r\n", len);
      break;
    case FRAY_MUT_INSERT_NUL:
    case FRAY_MUT_INSERT_FF: {
      uint8_t b = m == FRAY_MUT_INSERT_NUL ? 0 : 0xff;
      size_t ins = count_byte(d, len, b);
      assert_true(ins >= 1 && ins <= 8);
      assert_true(is_insertion(d, len, ins));
      break;
    }
    case FRAY_MUT_INSERT_RANDOM:
      assert_true(len > PING_LEN && len <= PING_LEN + 8);
      assert_true(is_insertion(d, len, len - PING_LEN));
      break;
    case FRAY_MUT_OVERSIZE:
      /* Past the default maximum, by repeating the body, delimiter kept. */
      assert_true(len > FRAY_DEFAULT_MAX_FRAME);
      assert_memory_equal(d + len - 2, "\r\n", 2);
      for (size_t i = 0; i + 2 < len; i++)
        assert_int_equal(d[i], "PING"[i % 4]);
      break;
    case FRAY_MUT_BITFLIP:
      assert_int_equal(len, PING_LEN);
      assert_true(bits_differing(d, ping, len) <= 4);
      break;
    default:
      fail();
    }
    if (m == FRAY_MUT_CLOSE_MID || m == FRAY_MUT_RESET_MID) {
      /* The client ends mid-frame, its bytes taken unchecked first; its
       * expectation and close are dropped. */
      fray_step_kind_t ends = m == FRAY_MUT_CLOSE_MID ? FRAY_STEP_CLOSE : FRAY_STEP_RESET;
      assert_int_equal(at, 4);
      assert_kinds(v, 0,
                   (const fray_step_kind_t[]){FRAY_STEP_OPEN, FRAY_STEP_SEND, FRAY_STEP_EXPECT_ANY,
                                              ends, FRAY_STEP_OPEN, FRAY_STEP_SEND,
                                              FRAY_STEP_EXPECT, FRAY_STEP_EXPECT_ANY},
                   8);
      assert_int_equal(st[3].line, ONE_SEND_LINE);
    } else {
      /* The expectation after the mutated send no longer holds: `< any`
       * takes a's bytes before its close instead. */
      assert_int_equal(at, 4);
      assert_kinds(v, 0,
                   (const fray_step_kind_t[]){FRAY_STEP_OPEN, FRAY_STEP_SEND, FRAY_STEP_EXPECT_ANY,
                                              FRAY_STEP_CLOSE, FRAY_STEP_OPEN, FRAY_STEP_SEND,
                                              FRAY_STEP_EXPECT, FRAY_STEP_EXPECT_ANY},
                   8);
    }
    fray_script_free(v);
  }
  fray_script_free(s);
}

/* Same script and seed, same variant; different seeds, different ones. */
static void test_deterministic(void **state) {
  (void)state;
  fray_script_t *s = parse("open a\nopen b\n"
                           "a > \"NICK alice\\r\\n\"\nb > \"NICK bob\\r\\n\"\n"
                           "a > \"MSG #x hello\\r\\n\"\nb > hex \"00 00 00 05 68 65 6c 6c 6f\"\n"
                           "a > \"QUIT\\r\\n\"\nclose a\nclose b\n",
                           NULL);
  char whats[64][256];
  size_t distinct = 0;
  for (uint64_t seed = 0; seed < 64; seed++) {
    fray_script_t *v1, *v2;
    size_t at1, at2;
    char w2[256];
    assert_int_equal(fray_mutate(s, seed, 0, &v1, &at1, whats[seed], sizeof whats[seed]), 0);
    assert_int_equal(fray_mutate(s, seed, 0, &v2, &at2, w2, sizeof w2), 0);
    assert_true(fray_script_equal(v1, v2));
    assert_int_equal(at1, at2);
    assert_string_equal(whats[seed], w2);
    size_t j = 0;
    while (j < seed && strcmp(whats[j], whats[seed]) != 0)
      j++;
    distinct += j == seed;
    fray_script_free(v1);
    fray_script_free(v2);
  }
  assert_true(distinct >= 48); /* 64 seeds: almost all differ */
  fray_script_free(s);
}

/* Sizes stay bounded, one to three sends are mutated, and every variant
 * is a valid script: its text parses back to an equal script. */
static void test_bounds_and_validity(void **state) {
  (void)state;
  fray_script_t *s = parse("@canary a > \"PING\\r\\n\"\n@canary a < \"PONG\\r\\n\"\n"
                           "open a\na > \"GET / HTTP/1.1\\r\\n\\r\\n\"\na > \"x\" * 100\n"
                           "a > hex \"00 00 00 02 68 69\"\na > \"\\r\\n\"\na < \"ok\\r\\n\"\n",
                           NULL);
  const size_t max_frame = 100, bound = 2 * max_frame + 64;
  int oversized = 0;
  for (uint64_t seed = 0; seed < 400; seed++) {
    fray_script_t *v;
    size_t at, n;
    char what[512];
    assert_int_equal(fray_mutate(s, seed, max_frame, &v, &at, what, sizeof what), 0);
    size_t accounts = 0;
    for (const char *p = what; (p = strstr(p, "line ")) != NULL; p++)
      accounts++;
    assert_true(accounts >= 1 && accounts <= 3);
    const fray_step_t *st = fray_script_steps(v, &n);
    for (size_t i = 0; i < n; i++) {
      /* The longest send is 100 bytes: duplicated 200, oversized < bound. */
      assert_true(st[i].len <= bound);
      oversized += st[i].len > max_frame + 8 && st[i].len != 200;
    }
    char *text;
    size_t len;
    assert_int_equal(fray_script_write_mem(v, &text, &len), 0);
    fray_script_t *back = parse(text, NULL);
    assert_true(fray_script_equal(v, back));
    fray_script_text_free(v, text);
    fray_script_free(back);
    fray_script_free(v);
  }
  assert_true(oversized > 0);
  /* A huge maximum: the oversized send stops at the 4 MiB cap. */
  fray_script_t *v;
  size_t at;
  for (uint64_t seed = 0;; seed++) {
    char what[512];
    assert_true(seed < MAX_SEEDS);
    assert_int_equal(fray_mutate(s, seed, (size_t)64 << 20, &v, &at, what, sizeof what), 0);
    if (strstr(what, "oversize"))
      break;
    fray_script_free(v);
  }
  size_t n, longest = 0;
  const fray_step_t *st = fray_script_steps(v, &n);
  for (size_t i = 0; i < n; i++)
    longest = st[i].len > longest ? st[i].len : longest;
  assert_true(longest > ((size_t)1 << 20) && longest <= ((size_t)4 << 20));
  fray_script_free(v);
  fray_script_free(s);
}

/* The canary follows the mutated session on fresh connections: a canary
 * client still open is closed and reopened, one that died mid-frame is only
 * reopened, and *canary_at is the index of the first canary step. */
static void test_canary_contract(void **state) {
  (void)state;
  fray_script_t *s = parse("@canary a > \"PING\\r\\n\"\n@canary a < \"PONG\\r\\n\"\n"
                           "@canary b > \"PING\\r\\n\"\n@canary b < \"PONG\\r\\n\"\n"
                           "open a\na > \"HELLO\\r\\n\"\na < \"HI\\r\\n\"\n",
                           NULL);
  fray_script_t *v;
  size_t at, n;
  seed_for(s, 6, FRAY_MUT_DUPLICATE, 0, &v, &at);
  assert_int_equal(at, 2); /* open, mutated send; its expectation dropped */
  assert_kinds(v, at,
               (const fray_step_kind_t[]){FRAY_STEP_EXPECT_ANY, FRAY_STEP_CLOSE, FRAY_STEP_OPEN,
                                          FRAY_STEP_SEND, FRAY_STEP_EXPECT, FRAY_STEP_OPEN,
                                          FRAY_STEP_SEND, FRAY_STEP_EXPECT, FRAY_STEP_EXPECT_ANY,
                                          FRAY_STEP_EXPECT_ANY},
               10);
  const fray_step_t *st = fray_script_steps(v, &n);
  size_t a, b;
  assert_int_equal(fray_script_client_find(v, "a", &a), 0);
  assert_int_equal(fray_script_client_find(v, "b", &b), 0);
  assert_int_equal(st[at + 1].client, a);
  assert_int_equal(st[at + 5].client, b);
  assert_memory_equal(st[at + 4].data, "PONG\r\n", 6);
  fray_script_free(v);

  seed_for(s, 6, FRAY_MUT_RESET_MID, 0, &v, &at);
  assert_int_equal(at, 4); /* open, cut send, any, reset */
  assert_kinds(v, at,
               (const fray_step_kind_t[]){FRAY_STEP_OPEN, FRAY_STEP_SEND, FRAY_STEP_EXPECT,
                                          FRAY_STEP_OPEN, FRAY_STEP_SEND, FRAY_STEP_EXPECT,
                                          FRAY_STEP_EXPECT_ANY, FRAY_STEP_EXPECT_ANY},
               8);
  fray_script_free(v);

  /* No canary: *canary_at is the session's step count; a's bytes after
   * the mutation are taken unchecked at the end. */
  fray_script_t *nc = parse("open a\na > \"HELLO\\r\\n\"\na < \"HI\\r\\n\"\n", NULL);
  assert_int_equal(fray_mutate(nc, 7, 0, &v, &at, NULL, 0), 0);
  st = fray_script_steps(v, &n);
  assert_int_equal(at + 1, n);
  assert_int_equal(st[at].kind, FRAY_STEP_EXPECT_ANY);
  fray_script_free(v);
  fray_script_free(nc);
  fray_script_free(s);
}

/* Nothing to mutate: the variant is the script; bad arguments; a short
 * account buffer stays terminated. */
static void test_edges(void **state) {
  (void)state;
  fray_script_t *s = parse("open a\na < \"HELLO\\r\\n\"\nclose a\n", NULL);
  fray_script_t *v = (fray_script_t *)1;
  size_t at = 99;
  char what[8] = "garbage";
  assert_int_equal(fray_mutate(s, 1, 0, &v, &at, what, sizeof what), 0);
  assert_true(fray_script_equal(s, v));
  assert_int_equal(at, 3);
  assert_string_equal(what, "");
  fray_script_free(v);

  assert_int_equal(fray_mutate(NULL, 1, 0, &v, &at, NULL, 0), FRAY_EINVAL);
  assert_int_equal(fray_mutate(s, 1, 0, NULL, &at, NULL, 0), FRAY_EINVAL);
  assert_int_equal(fray_mutate(s, 1, 0, &v, NULL, NULL, 0), FRAY_EINVAL);
  fray_script_free(s);

  s = parse(one_send, NULL);
  assert_int_equal(fray_mutate(s, 1, 0, &v, &at, what, sizeof what), 0);
  assert_int_equal(strlen(what), sizeof what - 1);
  assert_memory_equal(what, "line 4:", 7);
  fray_script_free(v);
  fray_script_free(s);
}

/* Counts the allocations of a whole mutation, then fails each in turn:
 * every failure is FRAY_ENOMEM with *out NULL and every block freed. The
 * seeds cover a close mid-frame with the canary reconnecting, an oversize,
 * and one to three mutations. */
static void test_failing_alloc(void **state) {
  (void)state;
  failmem_t fm = {0};
  fray_mem_t mem = failmem_mem(&fm);
  fray_script_t *s = parse("@canary a > \"PING\\r\\n\"\n@canary a < \"PONG\\r\\n\"\n"
                           "open a\nopen b\na > \"HELLO\\r\\n\"\nb > \"x\" * 40 | \"\\r\\n\"\n"
                           "a < \"HI\\r\\n\"\nb > \"QUIT\\r\\n\"\nclose b\n",
                           &mem);
  const long baseline = fm.live;
  fray_script_t *v;
  size_t at;
  uint64_t seeds[4] = {1, 2, 0, 0};
  seeds[2] = seed_for(s, 5, FRAY_MUT_CLOSE_MID, 0, &v, &at);
  fray_script_free(v);
  seeds[3] = seed_for(s, 6, FRAY_MUT_OVERSIZE, 0, &v, &at);
  fray_script_free(v);
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    char what[256];
    fm.count = 0;
    fm.fail_at = 0;
    assert_int_equal(fray_mutate(s, seeds[i], 0, &v, &at, what, sizeof what), 0);
    const long total = fm.count;
    assert_true(total >= 5); /* the variant, its clients, steps, bytes, scratch */
    assert_true(fm.live > baseline);
    fray_script_free(v);
    assert_int_equal(fm.live, baseline);
    for (long k = 1; k <= total; k++) {
      fm.count = 0;
      fm.fail_at = k;
      v = (fray_script_t *)1;
      int rc = fray_mutate(s, seeds[i], 0, &v, &at, what, sizeof what);
      if (rc != FRAY_ENOMEM || v != NULL || fm.live != baseline)
        fail_msg("seed %llu, allocation %ld of %ld failed: rc %d, out %p, %ld blocks leaked",
                 (unsigned long long)seeds[i], k, total, rc, (void *)v, fm.live - baseline);
    }
  }
  fm.fail_at = 0;
  fray_script_free(s);
  assert_int_equal(fm.live, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),           cmocka_unit_test(test_every_kind),
      cmocka_unit_test(test_deterministic),   cmocka_unit_test(test_bounds_and_validity),
      cmocka_unit_test(test_canary_contract), cmocka_unit_test(test_edges),
      cmocka_unit_test(test_failing_alloc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
