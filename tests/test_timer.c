/* Unit tests for handler timers (fray/handler.h, fray/driver.h; the queue
 * is core/timerq.c), driven on the server's virtual clock the way the
 * simulator drives them: start, cancel and firing order (deadline, then
 * start order), cancels and starts from inside callbacks, a connection's
 * timers on close, server timers, stale ids, the driver's arm notices, the
 * batch cap, a fail-malloc loop, and the queue against a sorted model under
 * random starts and cancels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fray/driver.h"
#include "fray/handler.h"

#include "core/rng.h"
#include "core/timerq.h"
#include "failmem.h"

typedef struct log {
  char text[2048];
  size_t len;
  fray_timer_id_t other; /* a timer the next firing cancels */
  int other_rc;
  int restart;    /* a firing starts another timer of this many ms */
  int abort;      /* a firing returns -1 */
  int chain;      /* firings left in a 0 ms chain */
  int quiet;      /* notes nothing (a chain of thousands) */
  uint64_t armed; /* the last deadline arm() was told */
  int arms;
} log_t;

__attribute__((format(printf, 2, 3))) static void note(log_t *l, const char *fmt, ...) {
  if (l->quiet)
    return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(l->text + l->len, sizeof l->text - l->len, fmt, ap);
  va_end(ap);
  assert_true(w > 0 && (size_t)w < sizeof l->text - l->len);
  l->len += (size_t)w;
}

static log_t *server_log(fray_server_t *s) {
  return *(log_t **)fray_server_data(s);
}

static int conn_fired(fray_conn_t *c, void *st, void *arg) {
  (void)st;
  log_t *l = server_log(fray_conn_server(c));
  note(l, "%s:%s@%llu ", fray_conn_name(c), (const char *)arg,
       (unsigned long long)fray_server_now(fray_conn_server(c)));
  if (l->other) {
    l->other_rc = fray_conn_timer_cancel(c, l->other);
    l->other = 0;
  }
  if (l->restart) {
    int ms = l->restart;
    l->restart = 0;
    assert_int_equal(fray_conn_timer_start(c, (uint64_t)ms, conn_fired, "again", NULL), 0);
  }
  if (l->chain > 0 && l->chain--)
    assert_int_equal(fray_conn_timer_start(c, 0, conn_fired, "chain", NULL), 0);
  return l->abort ? -1 : 0;
}

static void server_fired(fray_server_t *s, void *st, void *arg) {
  (void)st;
  note(server_log(s), "srv:%s@%llu ", (const char *)arg, (unsigned long long)fray_server_now(s));
}

static void on_close(fray_conn_t *c, fray_close_reason_t reason, void *st) {
  (void)st;
  log_t *l = server_log(fray_conn_server(c));
  note(l, "%s:close%d ", fray_conn_name(c), (int)reason);
  /* Timers are gone by now, and none can start. */
  assert_int_equal(fray_conn_timer_start(c, 1, conn_fired, "late", NULL), FRAY_ECLOSED);
}

static const fray_handler_t timed = {
    .name = "timed",
    .spec = {.mode = FRAY_MODE_LINE, .max_frame = 64},
    .server_size = sizeof(log_t *),
    .on_close = on_close,
};

typedef struct fix {
  log_t log;
  fray_server_t *s;
} fix_t;

static int setup(void **state) {
  static fix_t f;
  memset(&f, 0, sizeof f);
  assert_int_equal(fray_server_new(&f.s, &timed, NULL), 0);
  *(log_t **)fray_server_data(f.s) = &f.log;
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  fix_t *f = *state;
  fray_server_free(f->s);
  return 0;
}

static fray_conn_t *open_conn(fix_t *f, const char *name) {
  fray_conn_t *c;
  assert_int_equal(fray_server_open(f->s, name, NULL, &c), 0);
  return c;
}

static void test_timer_fire_order(void **state) {
  fix_t *f = *state;
  fray_conn_t *a = open_conn(f, "a"), *b = open_conn(f, "b");
  fray_timer_id_t id;
  assert_int_equal(fray_conn_timer_start(a, 300, conn_fired, "3", &id), 0);
  assert_true(id != 0);
  assert_int_equal(fray_conn_timer_start(b, 100, conn_fired, "1", NULL), 0);
  assert_int_equal(fray_conn_timer_start(a, 100, conn_fired, "1b", NULL), 0); /* same deadline */
  assert_int_equal(fray_server_timer_start(f->s, 200, server_fired, "2", NULL), 0);
  assert_int_equal(fray_server_next_deadline(f->s), 100);
  assert_int_equal(fray_server_advance(f->s, 99), 0);
  assert_int_equal(fray_server_now(f->s), 99);
  assert_int_equal(fray_server_advance(f->s, 1000), 4);
  assert_string_equal(f->log.text, "b:1@100 a:1b@100 srv:2@200 a:3@300 ");
  assert_int_equal(fray_server_now(f->s), 1000);
  assert_int_equal(fray_server_next_deadline(f->s), FRAY_TIMER_NEVER);
  /* Fired: its id is stale. A virtual clock never goes back. */
  assert_int_equal(fray_conn_timer_cancel(a, id), FRAY_ENOENT);
  assert_int_equal(fray_server_advance(f->s, 5), 0);
  assert_int_equal(fray_server_now(f->s), 1000);
}

static void test_timer_cancel(void **state) {
  fix_t *f = *state;
  fray_conn_t *a = open_conn(f, "a"), *b = open_conn(f, "b");
  fray_timer_id_t x, y, z;
  assert_int_equal(fray_conn_timer_start(a, 10, conn_fired, "x", &x), 0);
  assert_int_equal(fray_conn_timer_start(a, 20, conn_fired, "y", &y), 0);
  assert_int_equal(fray_server_timer_start(f->s, 30, server_fired, "z", &z), 0);
  /* Only the owner cancels: b, the server or a bogus id miss. */
  assert_int_equal(fray_conn_timer_cancel(b, x), FRAY_ENOENT);
  assert_int_equal(fray_server_timer_cancel(f->s, x), FRAY_ENOENT);
  assert_int_equal(fray_conn_timer_cancel(a, z), FRAY_ENOENT);
  assert_int_equal(fray_conn_timer_cancel(a, 0), FRAY_ENOENT);
  assert_int_equal(fray_conn_timer_cancel(a, x ^ ((uint64_t)1 << 32)), FRAY_ENOENT);
  assert_int_equal(fray_conn_timer_cancel(a, x), 0);
  assert_int_equal(fray_conn_timer_cancel(a, x), FRAY_ENOENT);
  assert_int_equal(fray_server_timer_cancel(f->s, z), 0);
  /* The freed slot's next user gets a new id; the old one stays dead. */
  fray_timer_id_t w;
  assert_int_equal(fray_conn_timer_start(a, 5, conn_fired, "w", &w), 0);
  assert_true(w != x);
  assert_int_equal(fray_conn_timer_cancel(a, x), FRAY_ENOENT);
  assert_int_equal(fray_server_advance(f->s, 100), 2);
  assert_string_equal(f->log.text, "a:w@5 a:y@20 ");
}

/* A callback cancelling a later timer and starting another: the cancelled
 * one never fires, the new one fires in the same advance when due. */
static void test_timer_cancel_inside_callback(void **state) {
  fix_t *f = *state;
  fray_conn_t *a = open_conn(f, "a");
  fray_timer_id_t later;
  assert_int_equal(fray_conn_timer_start(a, 10, conn_fired, "first", NULL), 0);
  assert_int_equal(fray_conn_timer_start(a, 20, conn_fired, "later", &later), 0);
  f->log.other = later;
  f->log.restart = 5;
  assert_int_equal(fray_server_advance(f->s, 100), 2);
  assert_int_equal(f->log.other_rc, 0);
  assert_string_equal(f->log.text, "a:first@10 a:again@15 ");
  /* A callback cancelling its own (fired) timer is told ENOENT. */
  fray_timer_id_t self;
  assert_int_equal(fray_conn_timer_start(a, 1, conn_fired, "self", &self), 0);
  f->log.other = self;
  assert_int_equal(fray_server_advance(f->s, 200), 1);
  assert_int_equal(f->log.other_rc, FRAY_ENOENT);
}

/* A connection that closes loses its timers before on_close; one that is
 * closing (flushing) keeps them, and one may abort it. */
static void test_timer_closing_connection(void **state) {
  fix_t *f = *state;
  fray_conn_t *a = open_conn(f, "a"), *b = open_conn(f, "b");
  fray_timer_id_t ida;
  assert_int_equal(fray_conn_timer_start(a, 10, conn_fired, "gone", &ida), 0);
  assert_int_equal(fray_conn_timer_start(b, 10, conn_fired, "linger", NULL), 0);
  fray_conn_input_reset(a); /* closed at once */
  assert_int_equal(fray_conn_state(a), FRAY_CONN_CLOSED);
  assert_int_equal(fray_conn_timer_cancel(a, ida), FRAY_ENOENT);
  assert_int_equal(fray_conn_timer_start(a, 1, conn_fired, "x", NULL), FRAY_ECLOSED);
  assert_int_equal(fray_conn_send(b, "pending", 7), 0);
  fray_conn_close(b); /* closing: output not flushed yet */
  assert_int_equal(fray_conn_state(b), FRAY_CONN_CLOSING);
  assert_int_equal(fray_conn_timer_start(b, 20, conn_fired, "bound", NULL), 0);
  f->log.abort = 1; /* the linger timer gives up on the flush */
  assert_int_equal(fray_server_advance(f->s, 10), 1);
  assert_string_equal(f->log.text, "a:close3 b:linger@10 b:close2 ");
  assert_int_equal(fray_conn_state(b), FRAY_CONN_CLOSED);
  assert_int_equal(fray_server_next_deadline(f->s), FRAY_TIMER_NEVER); /* "bound" went too */
  fray_conn_release(a);
  fray_conn_release(b);
}

static void test_timer_bounds_and_null(void **state) {
  fix_t *f = *state;
  fray_conn_t *a = open_conn(f, "a");
  assert_int_equal(fray_conn_timer_start(a, FRAY_TIMER_MAX_MS + 1, conn_fired, "", NULL),
                   FRAY_ERANGE);
  assert_int_equal(fray_conn_timer_start(a, FRAY_TIMER_MAX_MS, conn_fired, "", NULL), 0);
  assert_int_equal(fray_conn_timer_start(NULL, 1, conn_fired, "", NULL), FRAY_EINVAL);
  assert_int_equal(fray_conn_timer_start(a, 1, NULL, "", NULL), FRAY_EINVAL);
  assert_int_equal(fray_server_timer_start(NULL, 1, server_fired, "", NULL), FRAY_EINVAL);
  assert_int_equal(fray_conn_timer_cancel(NULL, 1), FRAY_EINVAL);
  assert_int_equal(fray_server_timer_cancel(NULL, 1), FRAY_EINVAL);
  assert_int_equal(fray_server_advance(NULL, 1), 0);
  assert_int_equal(fray_server_next_deadline(NULL), FRAY_TIMER_NEVER);
  assert_int_equal(fray_server_now(NULL), 0);
}

/* A 0 ms chain stops at the batch cap and goes on at the next advance. */
static void test_timer_batch_cap(void **state) {
  fix_t *f = *state;
  fray_conn_t *a = open_conn(f, "a");
  f->log.chain = FRAY_TIMER_BATCH + 10;
  f->log.quiet = 1;
  assert_int_equal(fray_conn_timer_start(a, 7, conn_fired, "chain", NULL), 0);
  size_t first = fray_server_advance(f->s, 7);
  assert_int_equal(first, FRAY_TIMER_BATCH);
  assert_int_equal(fray_server_next_deadline(f->s), 7);
  assert_int_equal(fray_server_advance(f->s, 7), 11);
  assert_int_equal(fray_server_next_deadline(f->s), FRAY_TIMER_NEVER);
}

static uint64_t fake_now(void *ud) {
  return *(uint64_t *)ud;
}

static void arm(uint64_t deadline, void *ud) {
  log_t *l = ud;
  l->armed = deadline;
  l->arms++;
}

/* A real clock: deadlines count from now(), and arm() hears every change
 * of the earliest deadline, not every start. */
static void test_timer_clock_arm(void **state) {
  fix_t *f = *state;
  static uint64_t now;
  now = 1000;
  static log_t armlog;
  memset(&armlog, 0, sizeof armlog);
  fray_conn_t *a = open_conn(f, "a");
  /* A timer started on the virtual clock (as from server_init, before the
   * driver sets its clock) keeps the time it had left. */
  fray_timer_id_t early;
  assert_int_equal(fray_server_advance(f->s, 10), 0);
  assert_int_equal(fray_server_timer_start(f->s, 50, server_fired, "early", &early), 0);
  fray_clock_t clk = {.now = fake_now, .user_data = &now};
  fray_server_set_clock(f->s, &clk);
  assert_int_equal(fray_server_now(f->s), 1000);
  assert_int_equal(fray_server_next_deadline(f->s), 1050);
  assert_int_equal(fray_server_timer_cancel(f->s, early), 0);
  fray_timer_id_t x;
  assert_int_equal(fray_conn_timer_start(a, 50, conn_fired, "x", &x), 0);
  assert_int_equal(fray_server_next_deadline(f->s), 1050);
  now = 1049;
  assert_int_equal(fray_server_advance(f->s, now), 0);
  now = 1060;
  assert_int_equal(fray_server_advance(f->s, now), 1);
  assert_string_equal(f->log.text, "a:x@1060 ");
  fray_server_set_clock(f->s, NULL); /* back to virtual, where the driver left it */
  assert_int_equal(fray_server_now(f->s), 1060);
  /* arm: told of the earliest deadline as it changes. */
  fray_server_set_clock(f->s, &(fray_clock_t){.arm = arm, .user_data = &armlog});
  assert_int_equal(armlog.arms, 0); /* nothing pending: nothing to say */
  assert_int_equal(fray_conn_timer_start(a, 30, conn_fired, "p", &x), 0);
  assert_int_equal(armlog.armed, 1060 + 30);
  assert_int_equal(fray_conn_timer_start(a, 40, conn_fired, "q", NULL), 0);
  assert_int_equal(armlog.arms, 1); /* not the earliest: no news */
  assert_int_equal(fray_conn_timer_cancel(a, x), 0);
  assert_int_equal(armlog.armed, 1060 + 40);
  fray_conn_input_reset(a);
  assert_int_equal(armlog.armed, FRAY_TIMER_NEVER);
  assert_int_equal(armlog.arms, 3);
  fray_conn_release(a);
}

/* Every allocation a timer start makes may fail: ENOMEM, nothing started,
 * nothing leaked, and the queue still works. */
static void test_timer_failmalloc(void **state) {
  (void)state;
  for (int fail = 1;; fail++) {
    failmem_t fm = {0};
    fray_mem_t mem = failmem_mem(&fm);
    fray_server_t *s;
    log_t l = {0};
    assert_int_equal(fray_server_new(&s, &timed, &mem), 0);
    *(log_t **)fray_server_data(s) = &l;
    fray_conn_t *c;
    assert_int_equal(fray_server_open(s, "a", NULL, &c), 0);
    fm.fail_at = fm.count + fail;
    int started = 0, r = 0;
    for (int i = 0; i < 100 && !r; i++)
      if (!(r = fray_conn_timer_start(c, (uint64_t)(100 - i), conn_fired, "t", NULL)))
        started++;
    fm.fail_at = 0;
    assert_true(r == 0 || r == FRAY_ENOMEM);
    assert_int_equal(fray_server_advance(s, 1000), (size_t)started);
    fray_server_free(s);
    assert_int_equal(fm.live, 0);
    if (!r)
      break;
  }
}

/* The queue against a model: random starts, cancels and pops; pops come
 * out in (deadline, start) order and cancels hit exactly the pending. */
static void test_timerq_model(void **state) {
  (void)state;
  enum { N = 400 };
  fray__timerq_t q;
  fray__timerq_init(&q, fray_mem_default());
  uint32_t list = FRAY__TIMER_NIL;
  uint64_t ids[N], dl[N], seq[N];
  int live[N];
  size_t n = 0, nlive = 0;
  uint64_t rng = 42, now = 0, last_dl = 0, last_seq = 0;
  for (int round = 0; round < 5000; round++) {
    uint64_t r = fray__rng_next(&rng);
    if (r % 3 == 0 && n < N) {
      dl[n] = now + (r >> 8) % 50;
      seq[n] = n;
      assert_int_equal(fray__timerq_add(&q, dl[n], NULL, &list, NULL, NULL, &ids[n]), 0);
      live[n++] = 1;
      nlive++;
    } else if (r % 3 == 1 && n) {
      size_t k = (size_t)(r >> 8) % n;
      assert_int_equal(fray__timerq_cancel(&q, ids[k], NULL), live[k] ? 0 : FRAY_ENOENT);
      nlive -= (size_t)live[k];
      live[k] = 0;
    } else {
      now += (r >> 8) % 7;
      fray__timer_t t;
      while (fray__timerq_pop_due(&q, now, &t, NULL)) {
        size_t k = SIZE_MAX;
        for (size_t i = 0; i < n; i++)
          if (live[i] && dl[i] == t.deadline && seq[i] == t.seq)
            k = i;
        assert_true(k != SIZE_MAX);
        /* Not earlier than the last pop, and no live timer due before it. */
        assert_true(t.deadline > last_dl || (t.deadline == last_dl && t.seq > last_seq) ||
                    t.deadline >= last_dl);
        for (size_t i = 0; i < n; i++)
          if (live[i] && i != k)
            assert_true(dl[i] > t.deadline || (dl[i] == t.deadline && seq[i] > t.seq));
        last_dl = t.deadline;
        last_seq = t.seq;
        live[k] = 0;
        nlive--;
      }
    }
    assert_int_equal(fray__timerq_count(&q), nlive);
  }
  fray__timerq_cancel_list(&q, &list);
  assert_int_equal(fray__timerq_count(&q), 0);
  assert_int_equal(list, FRAY__TIMER_NIL);
  fray__timerq_fini(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_timer_fire_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timer_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timer_cancel_inside_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timer_closing_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timer_bounds_and_null, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timer_batch_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timer_clock_arm, setup, teardown),
      cmocka_unit_test(test_timer_failmalloc),
      cmocka_unit_test(test_timerq_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
