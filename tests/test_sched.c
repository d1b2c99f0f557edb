/* Schedule tests (fray/sched.h): made from a script alone; bytewise without
 * an array per byte (and its memory bound on a 64 MiB send), random cuts
 * determined by the seed, exhaustive count and index, descriptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failmem.h"
#include "run/sim_internal.h"
#include "fray/sched.h"
#include "fray/sim.h"
#include "support.h"

static const char script3[] = "open a\n"
                              "open b\n"
                              "a > \"PING\\r\\n\"\n"
                              "a > \"ECHO hi\\r\\n\"\n"
                              "b > \"x\"\n"
                              "a < \"PONG\\r\\n\"\n";

static void test_sched_nsends_and_whole(void **state) {
  (void)state;
  fray_script_t *s = test_parse(script3);
  assert_int_equal(fray_sched_nsends(s), 3);
  assert_int_equal(fray_sched_nsends(NULL), 0);
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  const fray_sched_t *v = fray_sched_buf_view(b);
  assert_int_equal(v->nsends, 3);
  for (size_t i = 0; i < 3; i++)
    assert_true(!v->sends[i].ncuts && !v->sends[i].every && !v->sends[i].merge_next);
  char d[64];
  assert_string_equal(fray_sched_describe(s, v, d, sizeof d), "whole");
  assert_string_equal(fray_sched_describe(s, NULL, d, sizeof d), "whole");
  fray_sched_buf_free(b);
  assert_int_equal(fray_sched_buf_new(&b, NULL, NULL), FRAY_EINVAL);
  fray_script_free(s);
}

static void test_sched_bytewise_holds_no_cuts(void **state) {
  (void)state;
  fray_script_t *s = test_parse(script3);
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  assert_int_equal(fray_sched_bytewise(b), 0);
  const fray_sched_t *v = fray_sched_buf_view(b);
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(v->sends[i].every, 1);
    assert_int_equal(v->sends[i].ncuts, 0);
  }
  char d[256];
  fray_sched_describe(s, v, d, sizeof d);
  assert_string_equal(d, "line 3 a> \"P\" | \"I\" | \"N\" | \"G\" | \"\\r\" | \"\\n\"; line 4 a> "
                         "\"E\" | \"C\" | \"H\" | \"O\" | \" \" | \"h\" | \"i\" | \"\\r\" | "
                         "\"\\n\"; line 5 b> \"x\"");
  /* A description that does not fit ends in "...". */
  char small[24];
  fray_sched_describe(s, v, small, sizeof small);
  assert_int_equal(strlen(small), sizeof small - 1);
  assert_string_equal(small + sizeof small - 4, "...");
  fray_sched_buf_free(b);
  fray_script_free(s);
}

static void test_sched_random_is_the_seeds(void **state) {
  (void)state;
  fray_script_t *s = test_parse(script3);
  fray_sched_buf_t *a, *b;
  assert_int_equal(fray_sched_buf_new(&a, s, NULL), 0);
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  int differ = 0;
  for (uint64_t seed = 1; seed <= 50; seed++) {
    char da[512], db[512];
    assert_int_equal(fray_sched_random(a, seed, 0), 0);
    assert_int_equal(fray_sched_random(b, seed, 0), 0);
    assert_string_equal(fray_sched_describe(s, fray_sched_buf_view(a), da, sizeof da),
                        fray_sched_describe(s, fray_sched_buf_view(b), db, sizeof db));
    const fray_sched_t *v = fray_sched_buf_view(a);
    for (size_t k = 0; k < v->nsends; k++)
      for (size_t j = 0; j < v->sends[k].ncuts; j++) {
        assert_true(v->sends[k].cuts[j] > 0 && v->sends[k].cuts[j] < 9);
        if (j)
          assert_true(v->sends[k].cuts[j] > v->sends[k].cuts[j - 1]);
      }
    assert_int_equal(fray_sched_random(b, seed + 1000, 1), 0);
    differ += strcmp(da, fray_sched_describe(s, fray_sched_buf_view(b), db, sizeof db)) != 0;
    assert_int_equal(fray_sched_buf_view(b)->short_writes, 1);
    assert_int_equal(fray_sched_buf_view(b)->write_seed, seed + 1000);
  }
  assert_true(differ > 40); /* other seeds, other schedules */
  fray_sched_buf_free(a);
  fray_sched_buf_free(b);
  fray_script_free(s);
}

static void test_sched_exhaustive_count_and_index(void **state) {
  (void)state;
  fray_script_t *s = test_parse("open a\na > \"abcd\"\na > \"xyz\"\n");
  /* 4 and 3 bytes: C(3,1) + C(2,1) single cuts; C(3,2) + C(2,2) pairs;
   * and the two sends merged (+ 1). */
  assert_int_equal(fray_sched_exhaustive_count(s, 1), 1 + 3 + 2 + 1);
  assert_int_equal(fray_sched_exhaustive_count(s, 2), 1 + 3 + 3 + 2 + 1 + 1);
  assert_int_equal(fray_sched_exhaustive_count(s, 64), 1 + 3 + 3 + 1 + 2 + 1 + 1);
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  static const char *const want[] = {
      "whole",
      "line 2 a> \"a\" | \"bcd\"",
      "line 2 a> \"ab\" | \"cd\"",
      "line 2 a> \"abc\" | \"d\"",
      "line 2 a> \"a\" | \"b\" | \"cd\"",
      "line 2 a> \"a\" | \"bc\" | \"d\"",
      "line 2 a> \"ab\" | \"c\" | \"d\"",
      "line 3 a> \"x\" | \"yz\"",
      "line 3 a> \"xy\" | \"z\"",
      "line 3 a> \"x\" | \"y\" | \"z\"",
      "line 2 a> \"abcd\" + (merged with the next send)",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    char d[128];
    assert_int_equal(fray_sched_exhaustive(b, 2, i), 0);
    assert_string_equal(fray_sched_describe(s, fray_sched_buf_view(b), d, sizeof d), want[i]);
  }
  assert_int_equal(fray_sched_exhaustive(b, 2, 11), FRAY_EINVAL);
  fray_sched_buf_free(b);
  fray_script_free(s);
}

static void test_sched_describe_names_merges_and_sends(void **state) {
  (void)state;
  fray_script_t *s = test_parse(script3);
  const fray_sched_send_t sends[3] = {{.merge_next = 1}, {0}, {.merge_next = 1}};
  fray_sched_t sched = {.sends = sends, .nsends = 3, .short_writes = 1, .write_seed = 7};
  char d[256];
  /* Send 2 (b's) is not merged: the next step is not a send of b. */
  assert_string_equal(fray_sched_describe(s, &sched, d, sizeof d),
                      "line 3 a> \"PING\\r\\n\" + (merged with the next send); short writes "
                      "(seed 7)");
  fray_script_free(s);
  /* Steps built in memory have no line: they are named by send number. */
  fray_script_t *m;
  size_t c;
  assert_int_equal(fray_script_new(&m, NULL), 0);
  assert_int_equal(fray_script_add_client(m, "c0", &c), 0);
  assert_int_equal(fray_script_add_step(m, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = c}), 0);
  assert_int_equal(fray_script_add_step(m, &(fray_step_t){.kind = FRAY_STEP_SEND,
                                                          .client = c,
                                                          .data = (const uint8_t *)"hey",
                                                          .len = 3}),
                   0);
  static const size_t cut[] = {1};
  const fray_sched_send_t one[1] = {{.cuts = cut, .ncuts = 1}};
  sched = (fray_sched_t){.sends = one, .nsends = 1};
  assert_string_equal(fray_sched_describe(m, &sched, d, sizeof d), "send 1 c0> \"h\" | \"ey\"");
  fray_script_free(m);
}

static void test_sched_buf_fails_cleanly(void **state) {
  (void)state;
  fray_script_t *s = test_parse(script3);
  for (long k = 1;; k++) {
    failmem_t fm = {.fail_at = k};
    fray_mem_t mem = failmem_mem(&fm);
    fray_sched_buf_t *b = NULL;
    int r = fray_sched_buf_new(&b, s, &mem);
    if (!r) {
      for (uint64_t seed = 1; seed < 20 && !r; seed++)
        r = fray_sched_random(b, seed, 0);
      if (!r)
        r = fray_sched_exhaustive(b, 2, 5);
      fray_sched_buf_free(b);
    }
    assert_true(r == 0 || r == FRAY_ENOMEM);
    assert_int_equal(fm.live, 0);
    if (fm.count < k)
      break;
  }
  fray_script_free(s);
}

/* ---- bytewise memory: a 64 MiB send --------------------------------------------- */

static const fray_handler_t sink = {.name = "sink", .spec = {.mode = FRAY_MODE_RAW}};

/* Under bytewise, a send of N bytes used to cost a cut array of 8 N bytes
 * in the schedule and again in the reads: 64 MiB of payload took the heap
 * 1 GiB further. Now the schedule and every read of it cost nothing per
 * byte: the heap grows by well under the payload. */
static void test_sched_bytewise_memory_is_bounded(void **state) {
  (void)state;
  if (!fray__heap_in_use())
    skip(); /* the sanitizers' allocators answer mallinfo2 with zeros */
  const size_t payload = (size_t)64 << 20;
  fray_script_t *s;
  size_t c;
  assert_int_equal(fray_script_new(&s, NULL), 0);
  assert_int_equal(fray_script_add_client(s, "a", &c), 0);
  uint8_t *data = malloc(payload);
  assert_non_null(data);
  memset(data, 'x', payload);
  assert_int_equal(fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = c}), 0);
  assert_int_equal(
      fray_script_add_step(
          s, &(fray_step_t){.kind = FRAY_STEP_SEND, .client = c, .data = data, .len = payload}),
      0);
  free(data);
  fray_sim_t *sim;
  assert_int_equal(fray_sim_new(&sim, s, &sink, NULL), 0);
  size_t before = fray__heap_in_use();
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  assert_int_equal(fray_sched_bytewise(b), 0);
  fray_result_t res;
  assert_int_equal(fray_sim_run(sim, fray_sched_buf_view(b), &res), 0);
  assert_int_equal(res.reads, payload);
  size_t after = fray__heap_in_use();
  assert_true(after < before + payload / 2);
  fray_sched_buf_free(b);
  fray_sim_free(sim);
  fray_script_free(s);
}

/* ---- the portfolio ---------------------------------------------------------- */

static void test_family_of_run_covers_every_window(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    /* Any 19 consecutive runs hold every family (so any 20 do). */
    for (uint64_t start = 0; start < 200; start++) {
      unsigned seen = 0;
      for (uint64_t r = start; r < start + 2 * FRAY_FAMILY_COUNT - 1; r++)
        seen |= 1u << fray_sched_family_of_run(seed, r);
      assert_int_equal(seen, (1u << FRAY_FAMILY_COUNT) - 1);
    }
    /* Blocks are shuffled: not every seed starts with the same family. */
  }
  unsigned first = 0;
  for (uint64_t seed = 1; seed <= 50; seed++)
    first |= 1u << fray_sched_family_of_run(seed, 0);
  assert_true(__builtin_popcount(first) > 3);
  assert_int_equal(fray_sched_family_of_run(7, 123), fray_sched_family_of_run(7, 123));
}

static void test_family_names_round_trip(void **state) {
  (void)state;
  for (int f = 0; f < FRAY_FAMILY_COUNT; f++) {
    fray_sched_family_t g;
    assert_int_equal(fray_sched_family_from_name(fray_sched_family_name(f), &g), 0);
    assert_int_equal(g, f);
  }
  fray_sched_family_t g;
  assert_int_equal(fray_sched_family_from_name("random", &g), FRAY_ENOENT);
  assert_string_equal(fray_sched_family_name(FRAY_FAMILY_COUNT), "unknown");
  assert_int_equal(fray_fault_from_name("eof-with-data"), FRAY_FAULT_EOF_WITH_DATA);
  assert_int_equal(fray_fault_from_name("short-writes"), FRAY_FAULT_SHORT_WRITES);
  assert_int_equal(fray_fault_from_name("nope"), 0);
  assert_string_equal(fray_fault_name(FRAY_FAULT_EOF_WITH_DATA), "eof-with-data");
  /* Every kind's name round-trips, and FRAY_FAULT_ALL is exactly them. */
  unsigned all = 0;
  for (unsigned f = 1; f && !(f & ~FRAY_FAULT_ALL) && strcmp(fray_fault_name(f), "unknown");
       f <<= 1) {
    assert_int_equal(fray_fault_from_name(fray_fault_name(f)), f);
    all |= f;
  }
  assert_int_equal(all, FRAY_FAULT_ALL);
  assert_int_equal(fray_fault_from_name("read-gap"), FRAY_FAULT_READ_GAP);
  assert_string_equal(fray_fault_name(FRAY_FAULT_RESET_MID_WRITE), "reset-mid-write");
}

/* Four sends: a burst of three of a's, then b's. */
static const char burst4[] = "open a\n"
                             "open b\n"
                             "a > \"NICK a\\r\\nJOIN #x\\r\\n\"\n"
                             "a > \"MSG hi\\r\\n\"\n"
                             "a > \"PING\\r\\n\"\n"
                             "b > \"PING\\n\"\n";

static void test_family_coalesce_and_merge(void **state) {
  (void)state;
  fray_script_t *s = test_parse(burst4);
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  const fray_sched_t *v = fray_sched_buf_view(b);
  assert_int_equal(fray_sched_family(b, FRAY_FAMILY_COALESCE, 1, 0), 0);
  /* Every merge that can happen, and nothing else. */
  assert_int_equal(v->family, FRAY_FAMILY_COALESCE);
  assert_true(v->sends[0].merge_next && v->sends[1].merge_next);
  assert_false(v->sends[2].merge_next || v->sends[3].merge_next);
  for (size_t i = 0; i < 4; i++)
    assert_true(!v->sends[i].ncuts && !v->sends[i].every);
  /* merge never cuts, split never merges. */
  int merged = 0;
  for (uint64_t seed = 1; seed <= 50; seed++) {
    assert_int_equal(fray_sched_family(b, FRAY_FAMILY_MERGE, seed, 0), 0);
    for (size_t i = 0; i < 4; i++) {
      assert_int_equal(v->sends[i].ncuts, 0);
      merged += v->sends[i].merge_next;
    }
    assert_int_equal(fray_sched_family(b, FRAY_FAMILY_SPLIT, seed, 0), 0);
    for (size_t i = 0; i < 4; i++)
      assert_false(v->sends[i].merge_next);
  }
  assert_true(merged > 0);
  assert_int_equal(fray_sched_family(b, FRAY_FAMILY_COUNT, 1, 0), FRAY_EINVAL);
  assert_int_equal(fray_sched_family(NULL, FRAY_FAMILY_BIASED, 1, 0), FRAY_EINVAL);
  fray_sched_buf_free(b);
  fray_script_free(s);
}

static void test_family_cut_positions(void **state) {
  (void)state;
  fray_script_t *s = test_parse(burst4);
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  const fray_sched_t *v = fray_sched_buf_view(b);
  char d[512];
  /* message: a cut after every line end inside a send, no merge. */
  assert_int_equal(fray_sched_family(b, FRAY_FAMILY_MESSAGE, 3, 0), 0);
  fray_sched_describe(s, v, d, sizeof d);
  assert_string_equal(d, "line 3 a> \"NICK a\\r\\n\" | \"JOIN #x\\r\\n\"");
  /* delim: cuts only between "\r" and "\n" (or before a lone "\n"). */
  int cuts = 0;
  for (uint64_t seed = 1; seed <= 30; seed++) {
    assert_int_equal(fray_sched_family(b, FRAY_FAMILY_DELIM, seed, 0), 0);
    for (size_t i = 0; i < 4; i++) {
      cuts += (int)v->sends[i].ncuts;
      assert_false(v->sends[i].merge_next);
    }
    fray_sched_describe(s, v, d, sizeof d);
    for (const char *p = strchr(d, '|'); p; p = strchr(p + 1, '|'))
      assert_memory_equal(p + 2, "\"\\n", 3); /* the read after a cut starts "\n" */
  }
  assert_true(cuts > 0);
  /* stretch: cut runs one byte long, somewhere. */
  assert_int_equal(fray_sched_family(b, FRAY_FAMILY_STRETCH, 5, 0), 0);
  size_t total = 0;
  for (size_t i = 0; i < 4; i++)
    total += v->sends[i].ncuts + (v->sends[i].every ? 1 : 0);
  assert_true(total > 0);
  fray_sched_buf_free(b);
  fray_script_free(s);
}

/* Reads of sends 0..2 of burst4 under v, joined: what the server reads. */
static size_t burst_reads(const fray_sched_t *v, const size_t *lens, size_t *out) {
  size_t n = 0, base = 0;
  for (size_t i = 0; i < 3; i++) {
    for (size_t k = 0; k < v->sends[i].ncuts; k++)
      out[n++] = base + v->sends[i].cuts[k];
    base += lens[i];
    if (!v->sends[i].merge_next)
      out[n++] = base;
  }
  return n;
}

static void test_family_prefix_and_boundary(void **state) {
  (void)state;
  fray_script_t *s = test_parse(burst4);
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  const fray_sched_t *v = fray_sched_buf_view(b);
  static const size_t lens[3] = {17, 8, 6};
  size_t ends[64];
  int several = 0;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    /* prefix: read ends strictly increase and the last is the burst's. */
    assert_int_equal(fray_sched_family(b, FRAY_FAMILY_PREFIX, seed, 0), 0);
    size_t n = burst_reads(v, lens, ends);
    assert_true(n >= 1);
    assert_int_equal(ends[n - 1], 31);
    for (size_t k = 1; k < n; k++)
      assert_true(ends[k] > ends[k - 1]);
    several += n > 1;
    /* boundary: the burst in two reads, split after a "\n". */
    assert_int_equal(fray_sched_family(b, FRAY_FAMILY_BOUNDARY, seed, 0), 0);
    n = burst_reads(v, lens, ends);
    assert_int_equal(n, 2);
    assert_true(ends[0] == 8 || ends[0] == 17 || ends[0] == 25);
  }
  assert_true(several > 0);
  fray_sched_buf_free(b);
  fray_script_free(s);
}

/* tail: each burst in two reads, the second its last 1..30 bytes, short
 * tails the most common; the first read holds whole sends and the start of
 * the next (the read a "bounds the whole buffer" bug needs) in some runs. */
static void test_family_tail(void **state) {
  (void)state;
  fray_script_t *s = test_parse(burst4);
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  const fray_sched_t *v = fray_sched_buf_view(b);
  static const size_t lens[3] = {17, 8, 6};
  size_t ends[64], shortest = 31, longest = 0;
  int mid_send = 0, short_tails = 0;
  for (uint64_t seed = 1; seed <= 200; seed++) {
    assert_int_equal(fray_sched_family(b, FRAY_FAMILY_TAIL, seed, 0), 0);
    assert_int_equal(v->family, FRAY_FAMILY_TAIL);
    size_t n = burst_reads(v, lens, ends);
    assert_int_equal(n, 2);
    assert_int_equal(ends[1], 31);
    size_t t = 31 - ends[0];
    assert_true(t >= 1 && t <= 30);
    shortest = t < shortest ? t : shortest;
    longest = t > longest ? t : longest;
    short_tails += t <= 7;
    mid_send += ends[0] > 25; /* whole sends, then PING's first bytes */
    /* b's one-send burst: cut once too (a 5-byte send: tails of 1..4). */
    assert_int_equal(v->sends[3].ncuts, 1);
  }
  assert_int_equal(shortest, 1);
  assert_true(longest >= 16);
  /* Tails of 1..7 bytes are 3 of the 5 length classes of a 31-byte burst. */
  assert_true(short_tails > 80 && short_tails < 160);
  assert_true(mid_send > 40);
  fray_sched_buf_free(b);
  fray_script_free(s);
}

static void test_family_faults_drawn(void **state) {
  (void)state;
  fray_script_t *s = test_parse(burst4);
  fray_sched_buf_t *b;
  assert_int_equal(fray_sched_buf_new(&b, s, NULL), 0);
  const fray_sched_t *v = fray_sched_buf_view(b);
  int sw = 0, eof = 0, mid = 0, leave = 0;
  for (uint64_t seed = 1; seed <= 400; seed++) {
    assert_int_equal(fray_sched_family(b, FRAY_FAMILY_BIASED, seed, FRAY_FAULT_ALL), 0);
    sw += v->short_writes;
    eof += !!(v->faults & FRAY_FAULT_EOF_WITH_DATA);
    mid += !!(v->faults & FRAY_FAULT_CLOSE_MID_SEND);
    leave += !!(v->faults & FRAY_FAULT_RANDOM_CLOSE);
    assert_true(!v->faults || v->fault_seed == seed);
    assert_int_equal(v->short_writes, !!(v->faults & FRAY_FAULT_SHORT_WRITES));
    /* Off, never drawn. */
    assert_int_equal(fray_sched_family(b, FRAY_FAMILY_BIASED, seed, 0), 0);
    assert_true(!v->short_writes && !v->faults);
  }
  /* About one run in four each. */
  assert_in_range(sw, 60, 140);
  assert_in_range(eof, 60, 140);
  assert_in_range(mid, 60, 140);
  /* A client leaving early switches the judging off: one run in 64. */
  assert_in_range(leave, 1, 20);
  /* The description names a drawn fault and its seed. */
  assert_int_equal(fray_sched_family(b, FRAY_FAMILY_BIASED, 3, FRAY_FAULT_READ_GAP), 0);
  for (uint64_t seed = 4; !v->faults; seed++)
    assert_int_equal(fray_sched_family(b, FRAY_FAMILY_BIASED, seed, FRAY_FAULT_READ_GAP), 0);
  char d[512];
  assert_non_null(strstr(fray_sched_describe(s, v, d, sizeof d), "read-gap"));
  assert_non_null(strstr(d, "fault seed"));
  fray_sched_buf_free(b);
  fray_script_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sched_nsends_and_whole),
      cmocka_unit_test(test_sched_bytewise_holds_no_cuts),
      cmocka_unit_test(test_sched_random_is_the_seeds),
      cmocka_unit_test(test_sched_exhaustive_count_and_index),
      cmocka_unit_test(test_sched_describe_names_merges_and_sends),
      cmocka_unit_test(test_sched_buf_fails_cleanly),
      cmocka_unit_test(test_sched_bytewise_memory_is_bounded),
      cmocka_unit_test(test_family_of_run_covers_every_window),
      cmocka_unit_test(test_family_names_round_trip),
      cmocka_unit_test(test_family_coalesce_and_merge),
      cmocka_unit_test(test_family_cut_positions),
      cmocka_unit_test(test_family_prefix_and_boundary),
      cmocka_unit_test(test_family_tail),
      cmocka_unit_test(test_family_faults_drawn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
