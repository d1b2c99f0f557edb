/* Fuzz session encoding and the fuzz driver: any bytes decode into a valid
 * session; payload mutations leave the schedule alone; scripts round-trip
 * through the encoding; the driver stays quiet on a correct handler, catches
 * a split bug, and calls a nondeterministic handler what it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failmem.h"
#include "fray/fuzz.h"
#include "fray/sim.h"

static int echo_frame(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)st;
  if (n == 4 && !memcmp(d, "QUIT", 4)) {
    fray_conn_send(c, "BYE\r\n", 5);
    fray_conn_close(c);
    return 0;
  }
  fray_conn_send(c, d, n);
  return fray_conn_send(c, "\r\n", 2);
}

static const fray_handler_t echo = {
    .name = "test-echo",
    .spec = {.mode = FRAY_MODE_LINE,
             .delim = {.bytes = "\n", .len = 1},
             .max_frame = 64,
             .on_overflow = FRAY_OVERFLOW_SKIP},
    .on_frame = echo_frame,
};

static int oneread_frame(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)st;
  while (n && (d[n - 1] == '\n' || d[n - 1] == '\r'))
    n--;
  fray_conn_send(c, d, n);
  return fray_conn_send(c, "\r\n", 2);
}

static const fray_handler_t oneread = {
    .name = "test-oneread",
    .spec = {.mode = FRAY_MODE_RAW},
    .on_frame = oneread_frame,
};

/* Nondeterministic on purpose: output depends on a counter that survives
 * servers (static), the kind of bug the driver must not call a split bug. */
static unsigned long counter;
static int counter_frame(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)d;
  (void)n;
  (void)st;
  return fray_conn_sendf(c, "%lu\n", counter++);
}

static const fray_handler_t counting = {
    .name = "test-counter",
    .spec = {.mode = FRAY_MODE_LINE, .delim = {.bytes = "\n", .len = 1}},
    .on_frame = counter_frame,
};

/* Answers from on_eof with how many reads it saw: a split bug only a
 * half-close shows. */
static int reads_frame(fray_conn_t *c, const uint8_t *d, size_t n, void *st) {
  (void)c;
  (void)d;
  (void)n;
  ++*(unsigned *)st;
  return 0;
}

static int reads_eof(fray_conn_t *c, void *st) {
  return fray_conn_sendf(c, "%u reads\n", *(unsigned *)st);
}

static const fray_handler_t eof_reads = {
    .name = "test-eof-reads",
    .spec = {.mode = FRAY_MODE_RAW},
    .conn_size = sizeof(unsigned),
    .on_frame = reads_frame,
    .on_eof = reads_eof,
};

static uint64_t rng = 7;
static uint8_t rbyte(void) {
  rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint8_t)(rng >> 56);
}

static void fill(uint8_t *p, size_t n) {
  static const uint8_t alpha[] = "ab \r\nQUIT\xff";
  for (size_t i = 0; i < n; i++)
    p[i] = rbyte() & 1 ? alpha[rbyte() % (sizeof alpha - 1)] : rbyte();
}

static void test_decode_any_bytes_is_a_valid_session(void **state) {
  (void)state;
  uint8_t buf[512];
  for (int i = 0; i < 3000; i++) {
    size_t n = rbyte() % sizeof buf;
    fill(buf, n);
    fray_fuzz_session_t *s;
    assert_int_equal(fray_fuzz_decode(&s, buf, n, "x", NULL), 0);
    fray_sim_t *sim;
    assert_int_equal(fray_sim_new(&sim, fray_fuzz_session_script(s), &echo, NULL), 0);
    const fray_sched_t *sched = fray_fuzz_session_sched(s);
    assert_int_equal(sched->nsends, fray_sim_nsends(sim));
    fray_sim_set_expectations(sim, 0);
    fray_sim_result_t res;
    assert_int_equal(fray_sim_run(sim, sched, &res), 0);
    /* The payload is used exactly once: sends and expectations add up to
     * no more than the input. */
    size_t ns, total = 0;
    const fray_step_t *st = fray_script_steps(fray_fuzz_session_script(s), &ns);
    for (size_t k = 0; k < ns; k++)
      total += st[k].len;
    assert_true(total <= n);
    fray_sim_free(sim);
    fray_fuzz_session_free(s);
  }
}

static void test_payload_mutation_keeps_schedule(void **state) {
  (void)state;
  /* Two sends of 5 bytes by c0 with one cut each, then the tail decisions. */
  uint8_t in[] = {'h', 'e', 'l', 'l', 'o', 'w', 'o', 'r', 'l', 'd',
                  /* decisions, read from the end backwards: */
                  2, 4, 0x20, 2, 4, 0x20};
  uint8_t mutant[sizeof in];
  memcpy(mutant, in, sizeof in);
  mutant[2] = 'X'; /* mutate the payload only */
  fray_fuzz_session_t *a, *b;
  assert_int_equal(fray_fuzz_decode(&a, in, sizeof in, NULL, NULL), 0);
  assert_int_equal(fray_fuzz_decode(&b, mutant, sizeof mutant, NULL, NULL), 0);
  size_t na, nb;
  const fray_step_t *sa = fray_script_steps(fray_fuzz_session_script(a), &na);
  const fray_step_t *sb = fray_script_steps(fray_fuzz_session_script(b), &nb);
  assert_int_equal(na, nb);
  assert_int_equal(na, 3); /* open c0, two sends */
  for (size_t i = 0; i < na; i++) {
    assert_int_equal(sa[i].kind, sb[i].kind);
    assert_int_equal(sa[i].len, sb[i].len);
  }
  assert_memory_equal(sb[1].data, "heXlo", 5);
  const fray_sched_t *ca = fray_fuzz_session_sched(a), *cb = fray_fuzz_session_sched(b);
  assert_int_equal(ca->nsends, 2);
  for (size_t k = 0; k < 2; k++) {
    assert_int_equal(ca->sends[k].ncuts, 1);
    assert_int_equal(ca->sends[k].ncuts, cb->sends[k].ncuts);
    assert_int_equal(ca->sends[k].cuts[0], cb->sends[k].cuts[0]);
    assert_int_equal(ca->sends[k].cuts[0], 1 + 2 % 4);
  }
  fray_fuzz_session_free(a);
  fray_fuzz_session_free(b);
}

/* A flags op with 0x20 draws the reads from a family (here coalesce: the two
 * sends merged, their decoded cuts set aside); 0x40 adds EOF-with-data. */
static void test_decode_family_and_eof_fault(void **state) {
  (void)state;
  uint8_t in[] = {'P', 'I', 'N', 'G', '\r', '\n', 'P', 'I', 'N', 'G', '\r', '\n',
                  /* decisions, read from the end backwards: */
                  9, FRAY_FAMILY_COALESCE, 0x67, 5, 0x00, 1, 5, 0x20};
  fray_fuzz_session_t *s;
  assert_int_equal(fray_fuzz_decode(&s, in, sizeof in, NULL, NULL), 0);
  const fray_sched_t *v = fray_fuzz_session_sched(s);
  assert_int_equal(v->nsends, 2);
  assert_int_equal(v->family, FRAY_FAMILY_COALESCE);
  assert_int_equal(v->sends[0].merge_next, 1);
  assert_int_equal(v->sends[0].ncuts, 0); /* the decoded cut is set aside */
  assert_true(v->faults & FRAY_FAULT_EOF_WITH_DATA);
  assert_false(v->faults & FRAY_FAULT_READ_GAP);
  fray_fuzz_session_free(s);
  /* 0x80: the next byte's bits 0-3 name the faults struck at drawn points
   * (here read-gap and reset-mid-write), the byte after seeds them. */
  uint8_t gaps[] = {'P', 'I', 'N', 'G', '\r', '\n', 7, 12, 0x87};
  assert_int_equal(fray_fuzz_decode(&s, gaps, sizeof gaps, NULL, NULL), 0);
  v = fray_fuzz_session_sched(s);
  assert_int_equal(v->faults, FRAY_FAULT_READ_GAP | FRAY_FAULT_RESET_MID_WRITE);
  assert_int_equal(v->fault_seed, 7);
  fray_fuzz_session_free(s);
  /* Without the flags op (read last, so stored first): the decoded cut, no
   * merge, no fault. */
  uint8_t plain[sizeof in - 3];
  memcpy(plain, in, 12);
  memcpy(plain + 12, in + 15, sizeof in - 15);
  assert_int_equal(fray_fuzz_decode(&s, plain, sizeof plain, NULL, NULL), 0);
  v = fray_fuzz_session_sched(s);
  assert_int_equal(v->sends[0].ncuts, 1);
  assert_int_equal(v->sends[0].merge_next, 0);
  assert_int_equal(v->faults, 0);
  fray_fuzz_session_free(s);
}

/* Every fault kind of fray/sched.h can be decoded: the flags op's own
 * bits, and bits 0-4 of its fault byte from close-mid-send on (the window
 * is bit 4; bits 0-3 mean what they meant before it). Random inputs reach
 * each kind too. */
static void test_decode_every_fault_kind(void **state) {
  (void)state;
  for (unsigned f = 1; f & FRAY_FAULT_ALL; f <<= 1) {
    /* The op, then its bytes: 0x10 a write seed, 0x40 none, 0x80 the
     * kind's bit and a seed of 9. */
    uint8_t in[] = {'x', '\n', 9, 0, 0x07};
    if (f == FRAY_FAULT_SHORT_WRITES)
      in[4] |= 0x10, in[3] = 9;
    else if (f == FRAY_FAULT_EOF_WITH_DATA)
      in[4] |= 0x40;
    else
      in[4] |= 0x80, in[3] = (uint8_t)(f / FRAY_FAULT_CLOSE_MID_SEND);
    fray_fuzz_session_t *s;
    assert_int_equal(fray_fuzz_decode(&s, in, sizeof in, NULL, NULL), 0);
    const fray_sched_t *v = fray_fuzz_session_sched(s);
    assert_int_equal(v->faults, f);
    if (f == FRAY_FAULT_WINDOW) /* sized from the fault seed: no short writes */
      assert_int_equal(v->write_seed, 9);
    fray_fuzz_session_free(s);
  }
  /* The fault byte's bits past the window's name nothing. */
  uint8_t all[] = {'x', '\n', 3, 0xff, 0x87};
  fray_fuzz_session_t *s;
  assert_int_equal(fray_fuzz_decode(&s, all, sizeof all, NULL, NULL), 0);
  assert_int_equal(fray_fuzz_session_sched(s)->faults,
                   FRAY_FAULT_ALL & ~(FRAY_FAULT_SHORT_WRITES | FRAY_FAULT_EOF_WITH_DATA));
  assert_true(fray_sched_window(fray_fuzz_session_sched(s)) > 0);
  fray_fuzz_session_free(s);
  unsigned seen = 0;
  uint8_t buf[96];
  for (int i = 0; i < 3000; i++) {
    size_t n = rbyte() % sizeof buf;
    fill(buf, n);
    assert_int_equal(fray_fuzz_decode(&s, buf, n, NULL, NULL), 0);
    seen |= fray_fuzz_session_sched(s)->faults;
    fray_fuzz_session_free(s);
  }
  assert_int_equal(seen, FRAY_FAULT_ALL);
}

/* Script text through fuzz-encode, fuzz-decode and back to text (the
 * decoded schedule baked in) must read as want. */
static void assert_round_trip(const char *text, const char *want) {
  fray_script_t *s, *baked;
  fray_script_error_t err;
  assert_int_equal(fray_script_parse(&s, text, strlen(text), "rt.fray", NULL, &err), 0);
  uint8_t *enc;
  size_t len;
  assert_int_equal(fray_fuzz_encode(s, 0, NULL, &enc, &len), 0);
  fray_fuzz_session_t *d;
  assert_int_equal(fray_fuzz_decode(&d, enc, len, NULL, NULL), 0);
  assert_int_equal(fray_fuzz_session_bake(d, &baked), 0);
  char *out;
  assert_int_equal(fray_script_write_mem(baked, &out, NULL), 0);
  assert_string_equal(out, want);
  fray_script_text_free(baked, out);
  fray_script_free(baked);
  fray_fuzz_session_free(d);
  free(enc);
  fray_script_free(s);
}

/* A half-close (`> eof`) has an op: it round-trips through the encoding,
 * a later send of the client closes and reopens it first, a second
 * half-close is nothing, and the driver reaches the handler's on_eof. */
static void test_half_close(void **state) {
  (void)state;
  assert_round_trip("open a\na > \"PING\\r\\n\"\na > eof\na < \"PONG\\r\\n\"\nclose a\n",
                    "open c0\nc0 > \"PING\\r\\n\"\nc0 > eof\nc0 < \"PONG\\r\\n\"\nclose c0\n");
  fray_fuzz_session_t *d;
  /* c0 sends "ab", half-closes twice (the second is nothing), sends "cd":
   * closed and reopened first. Decisions from the end: send 2 bytes,
   * half-close, half-close, send 2 bytes. */
  const uint8_t twice[] = {'a', 'b', 'c', 'd', 1, 0x00, 0x25, 0x25, 1, 0x00};
  assert_int_equal(fray_fuzz_decode(&d, twice, sizeof twice, NULL, NULL), 0);
  size_t n;
  const fray_step_t *st = fray_script_steps(fray_fuzz_session_script(d), &n);
  static const fray_step_kind_t kinds[] = {FRAY_STEP_OPEN,  FRAY_STEP_SEND, FRAY_STEP_SHUTDOWN,
                                           FRAY_STEP_CLOSE, FRAY_STEP_OPEN, FRAY_STEP_SEND};
  assert_int_equal(n, sizeof kinds / sizeof kinds[0]);
  for (size_t k = 0; k < n; k++)
    assert_int_equal(st[k].kind, kinds[k]);
  fray_fuzz_session_free(d);
  /* "abcd" cut once (1 + 1 % 3: "ab" | "cd"), then a half-close: on_eof
   * counts two reads where the whole run counted one. Without the
   * half-close on_eof never runs and nothing differs. */
  const uint8_t half[] = {'a', 'b', 'c', 'd', 0x25, 1, 3, 0x20};
  const uint8_t open[] = {'a', 'b', 'c', 'd', 1, 3, 0x20};
  fray_fuzz_report_t rep;
  assert_int_equal(fray_fuzz_run(&eof_reads, half, sizeof half, &rep), FRAY_EFAILED);
  assert_false(rep.nondeterministic);
  assert_non_null(strstr(rep.message, "split invariance broken"));
  assert_int_equal(fray_fuzz_run(&eof_reads, open, sizeof open, &rep), 0);
}

static void test_encode_decode_round_trip(void **state) {
  (void)state;
  fray_script_t *s;
  fray_script_error_t err;
  /* bob's 300-byte line is over the handler's max of 64: skipped. */
  const char *fixed = "open alice\n"
                      "open bob\n"
                      "alice > \"hel\" | \"lo\\n\"\n"
                      "alice < \"hello\\r\\n\"\n"
                      "bob > \"x\" * 300 \"\\nok\\n\"\n"
                      "bob < \"ok\\r\\n\"\n"
                      "close bob\n"
                      "alice > \"QUIT\\n\"\n"
                      "alice < \"BYE\\r\\n\"\n";
  assert_int_equal(fray_script_parse(&s, fixed, strlen(fixed), "rt.fray", NULL, &err), 0);
  fray_sim_t *sim;
  fray_sim_result_t res;
  assert_int_equal(fray_sim_new(&sim, s, &echo, NULL), 0);
  assert_int_equal(fray_sim_run(sim, NULL, &res), 0);
  fray_sim_free(sim);
  uint8_t *enc;
  size_t len;
  assert_int_equal(fray_fuzz_encode(s, 0, NULL, &enc, &len), 0);
  fray_fuzz_session_t *d;
  assert_int_equal(fray_fuzz_decode(&d, enc, len, NULL, NULL), 0);
  /* The decoded session replays the same: expectations on, it passes, and
   * its transcript equals the original's. */
  assert_int_equal(fray_sim_new(&sim, fray_fuzz_session_script(d), &echo, NULL), 0);
  assert_int_equal(fray_sim_run(sim, fray_fuzz_session_sched(d), &res), 0);
  fray_sim_free(sim);
  size_t n0, n1;
  fray_script_steps(s, &n0);
  fray_script_steps(fray_fuzz_session_script(d), &n1);
  assert_int_equal(n1, n0 + 1); /* the cut send became two sends */
  free(enc);
  fray_fuzz_session_free(d);
  fray_script_free(s);
  /* Regex expectations have no op in the encoding: said, not dropped. */
  const char *re = "open a\na > \"x\\n\"\na < ~ \"x\"\n";
  assert_int_equal(fray_script_parse(&s, re, strlen(re), "re.fray", NULL, &err), 0);
  assert_int_equal(fray_fuzz_encode(s, 0, NULL, &enc, &len), FRAY_EUNSUPPORTED);
  assert_int_equal(fray_fuzz_encode(s, FRAY_FUZZ_LOSSY, NULL, &enc, &len), 0);
  free(enc);
  fray_script_free(s);
}

/* Waits and `< nothing for` round-trip exactly up to the decoder's hour; a
 * longer wait becomes waits adding up to it; a longer `< nothing for` has
 * no encoding unless lossy. Random decisions make spans of every scale,
 * all within 1 ms .. 1 h. */
static void test_spans_round_trip(void **state) {
  (void)state;
  /* c0 is open from the start. */
  assert_round_trip("wait 1ms\nopen a\na > \"x\\n\"\na < nothing for 5s\nwait 1h\n"
                    "open b\nb < nothing for 129ms\nwait 16385ms\nwait 90m\n",
                    "open c0\nwait 1ms\nc0 > \"x\\n\"\nc0 < nothing for 5s\nwait 1h\n"
                    "open c1\nc1 < nothing for 129ms\nwait 16385ms\nwait 1h\nwait 30m\n");
  fray_script_t *s;
  fray_script_error_t err;
  uint8_t *enc;
  size_t len;
  fray_fuzz_session_t *d;
  const char *longer = "open a\na < nothing for 61m\n";
  assert_int_equal(fray_script_parse(&s, longer, strlen(longer), "w.fray", NULL, &err), 0);
  assert_int_equal(fray_fuzz_encode(s, 0, NULL, &enc, &len), FRAY_EUNSUPPORTED);
  assert_int_equal(fray_fuzz_encode(s, FRAY_FUZZ_LOSSY, NULL, &enc, &len), 0);
  free(enc);
  fray_script_free(s);
  uint8_t buf[64];
  int spans = 0;
  for (int i = 0; i < 3000; i++) {
    size_t n = rbyte() % sizeof buf;
    fill(buf, n);
    assert_int_equal(fray_fuzz_decode(&d, buf, n, NULL, NULL), 0);
    size_t ns;
    const fray_step_t *st = fray_script_steps(fray_fuzz_session_script(d), &ns);
    for (size_t k = 0; k < ns; k++) {
      if (st[k].kind != FRAY_STEP_WAIT && st[k].kind != FRAY_STEP_EXPECT_NOTHING)
        continue;
      assert_true(st[k].ms >= 1 && st[k].ms <= 3600000);
      spans++;
    }
    fray_fuzz_session_free(d);
  }
  assert_true(spans > 100);
}

static void test_driver_quiet_on_correct_handler(void **state) {
  (void)state;
  uint8_t buf[256];
  for (int i = 0; i < 2000; i++) {
    size_t n = rbyte() % sizeof buf;
    fill(buf, n);
    fray_fuzz_report_t rep;
    int r = fray_fuzz_run(&echo, buf, n, &rep);
    if (r) {
      print_error("input %d: %s\n", i, rep.message);
      fail();
    }
  }
}

static void test_driver_catches_oneread(void **state) {
  (void)state;
  uint8_t buf[128];
  int found = 0;
  fray_fuzz_report_t rep;
  for (int i = 0; i < 2000 && !found; i++) {
    size_t n = 8 + rbyte() % (sizeof buf - 8);
    fill(buf, n);
    found = fray_fuzz_run(&oneread, buf, n, &rep) == FRAY_EFAILED;
  }
  assert_true(found);
  assert_true(rep.failed);
  assert_false(rep.nondeterministic);
  assert_non_null(strstr(rep.message, "split invariance broken"));
}

static void test_driver_names_nondeterminism(void **state) {
  (void)state;
  const uint8_t in[] = "a\nb\n";
  fray_fuzz_report_t rep;
  assert_int_equal(fray_fuzz_run(&counting, in, sizeof in - 1, &rep), FRAY_EFAILED);
  assert_true(rep.nondeterministic);
  assert_non_null(strstr(rep.message, "not deterministic"));
}

static void test_aflnet_messages_become_sends(void **state) {
  (void)state;
  const uint8_t in[] = {5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o', 0, 0,
                        0, 0, 2, 0, 0,   0,   'o', 'k', 9,   0};
  fray_script_t *s;
  int trunc = 0;
  assert_int_equal(fray_fuzz_from_aflnet(in, sizeof in, "echo", &s, &trunc), 0);
  assert_true(trunc); /* the last record holds 2 of its 4 length bytes */
  size_t n;
  const fray_step_t *st = fray_script_steps(s, &n);
  assert_int_equal(n, 3); /* open, "hello", "ok" (the empty message sends nothing) */
  assert_int_equal(st[1].kind, FRAY_STEP_SEND);
  assert_memory_equal(st[1].data, "hello", 5);
  assert_int_equal(st[2].len, 2);
  assert_string_equal(fray_script_handler(s), "echo");
  fray_script_free(s);
}

/* Fail-malloc loop over the decoder: every allocation it makes fails once;
 * each failure is FRAY_ENOMEM with no session and nothing leaked. */
static void test_decode_fails_cleanly(void **state) {
  (void)state;
  static const char text[] = "open a\nopen b\na > \"NICK a\\r\\n\" | \"JOIN\"\nb > \"hi\"\n"
                             "a < \"OK\"\nclose b\nreset a\n";
  fray_script_t *s;
  assert_int_equal(fray_script_parse(&s, text, sizeof text - 1, "t.fray", NULL, NULL), 0);
  uint8_t *in;
  size_t len;
  assert_int_equal(fray_fuzz_encode(s, 0, NULL, &in, &len), 0);
  long k, n = 0;
  for (k = 1;; k++) {
    failmem_t fm = {.fail_at = k};
    fray_mem_t mem = failmem_mem(&fm);
    fray_fuzz_session_t *d = (fray_fuzz_session_t *)&fm;
    int r = fray_fuzz_decode(&d, in, len, "chat", &mem);
    if (r) {
      assert_int_equal(r, FRAY_ENOMEM);
      assert_null(d);
    } else {
      assert_int_equal(fray_script_nclients(fray_fuzz_session_script(d)), 2);
      fray_fuzz_session_free(d);
    }
    assert_int_equal(fm.live, 0);
    if (fm.count < k)
      break; /* every allocation has failed once */
    n++;
  }
  assert_true(n >= 5);
  free(in);
  fray_script_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_fails_cleanly),
      cmocka_unit_test(test_decode_any_bytes_is_a_valid_session),
      cmocka_unit_test(test_payload_mutation_keeps_schedule),
      cmocka_unit_test(test_encode_decode_round_trip),
      cmocka_unit_test(test_spans_round_trip),
      cmocka_unit_test(test_decode_family_and_eof_fault),
      cmocka_unit_test(test_decode_every_fault_kind),
      cmocka_unit_test(test_half_close),
      cmocka_unit_test(test_driver_quiet_on_correct_handler),
      cmocka_unit_test(test_driver_catches_oneread),
      cmocka_unit_test(test_driver_names_nondeterminism),
      cmocka_unit_test(test_aflnet_messages_become_sends),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
