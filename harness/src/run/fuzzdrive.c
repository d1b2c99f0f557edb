/* The fuzz driver (fray_fuzz_run in fray/fuzz.h): a decoded fuzz input run
 * in the simulator whole, then under its own schedule, transcripts
 * compared. The codec it decodes with is session/fuzzcodec.c. */
#include "fray/fuzz.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "fray/sim.h"
#include "run/fuzzdrive_internal.h"
#include "run/sim_internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#elif defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

int fray_fuzz_session_bake(const fray_fuzz_session_t *s, fray_script_t **out) {
  if (!s || !out)
    return FRAY_EINVAL;
  *out = NULL;
  return fray_bake(fray_fuzz_session_script(s), fray_fuzz_session_sched(s), NULL, out);
}

/* ---- the per-input arena --------------------------------------------------------- */

/* What a fuzz input needs besides the handler's own objects (the decoded
 * session, the simulator, the player, the transcripts) comes from one arena,
 * released at once when the input is done: a handful of allocations per
 * input instead of dozens, which is most of what a session cost under ASan.
 * The server and its connections are not in it: the simulator gets them
 * from the heap one by one, so the sanitizers still see a handler that
 * uses its connection after close. Under ASan the arena's free space and
 * the headers between blocks stay poisoned, so fray's own overruns in it
 * are still reported. */
#define ARENA_FIRST 16384 /* on the stack: most inputs need no more */
#define ARENA_ALIGN 16
#define ARENA_HEAD 16 /* before each block: its size (a realloc copies it) */

typedef struct chunk {
  struct chunk *next; /* heap chunks only */
  size_t cap, used;
  alignas(ARENA_ALIGN) unsigned char mem[];
} chunk_t;

typedef struct arena {
  fray_mem_t heap; /* where chunks past the first come from */
  chunk_t *cur;    /* blocks are carved from here */
  chunk_t *heaped; /* heap chunks, newest first */
  void *last;      /* the newest block: free and realloc act on it in place */
} arena_t;

static size_t round_up(size_t n) {
  return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static size_t *block_size(void *p) {
  return (size_t *)((unsigned char *)p - ARENA_HEAD);
}

static void *arena_malloc(size_t n, void *ud) {
  arena_t *a = ud;
  size_t need = ARENA_HEAD + round_up(n);
  if (need < n)
    return NULL;
  chunk_t *c = a->cur;
  if (c->cap - c->used < need) {
    size_t cap = need > 65536 ? need : 65536;
    c = fray__malloc(&a->heap, sizeof *c + cap);
    if (!c)
      return NULL;
    c->cap = cap;
    c->used = 0;
    c->next = a->heaped;
    a->heaped = a->cur = c;
    POISON(c->mem, cap);
  }
  unsigned char *p = c->mem + c->used + ARENA_HEAD;
  c->used += need;
  UNPOISON(p - ARENA_HEAD, ARENA_HEAD);
  *block_size(p) = n;
  POISON(p - ARENA_HEAD, ARENA_HEAD);
  UNPOISON(p, n);
  a->last = p;
  return p;
}

static size_t size_of(void *p) {
  UNPOISON(block_size(p), sizeof(size_t));
  size_t n = *block_size(p);
  POISON(block_size(p), sizeof(size_t));
  return n;
}

static void arena_free(void *p, void *ud) {
  arena_t *a = ud;
  if (!p || p != a->last)
    return; /* space comes back when the arena goes */
  size_t n = size_of(p);
  a->cur->used -= ARENA_HEAD + round_up(n);
  POISON(p, n);
  a->last = NULL;
}

static void *arena_realloc(void *p, size_t n, void *ud) {
  arena_t *a = ud;
  if (!p)
    return arena_malloc(n, ud);
  size_t old = size_of(p);
  chunk_t *c = a->cur;
  if (round_up(n) <= round_up(old)) { /* shrinking: in place */
    UNPOISON(block_size(p), sizeof(size_t));
    *block_size(p) = n > old ? n : old;
    POISON(block_size(p), sizeof(size_t));
    UNPOISON(p, n);
    return p;
  }
  if (p == a->last && round_up(n) >= round_up(old) &&
      c->cap - c->used >= round_up(n) - round_up(old)) {
    c->used += round_up(n) - round_up(old);
    UNPOISON(block_size(p), sizeof(size_t));
    *block_size(p) = n;
    POISON(block_size(p), sizeof(size_t));
    UNPOISON(p, n);
    return p;
  }
  void *q = arena_malloc(n, ud);
  if (q)
    memcpy(q, p, old < n ? old : n);
  return q;
}

static void arena_release(arena_t *a, chunk_t *first) {
  while (a->heaped) {
    chunk_t *next = a->heaped->next;
    UNPOISON(a->heaped->mem, a->heaped->cap);
    fray__free(&a->heap, a->heaped);
    a->heaped = next;
  }
  UNPOISON(first->mem, first->cap); /* it is the caller's stack */
}

/* ---- the driver ----------------------------------------------------------------- */

static void describe(fray_fuzz_report_t *rep, const fray_fuzz_session_t *sess,
                     const fray_sched_t *sched, const fray_sim_result_t *res, const char *what) {
  char d[400];
  snprintf(rep->message, sizeof rep->message, "fray fuzz: %s\n  %s\n  schedule: %s", what,
           res->message ? res->message : "(no message)",
           fray_sched_describe(fray_fuzz_session_script(sess), sched, d, sizeof d));
}

/* The reference run, then the fuzz-chosen schedule against it: 0,
 * FRAY_EFAILED with rep filled, or an error. */
static int check(fray_sim_t *sim, const fray_fuzz_session_t *sess, fray_fuzz_report_t *rep) {
  fray_sim_result_t res;
  /* Reference: every send one read, nothing merged, no fault. */
  int r = fray_sim_record_reference(sim, &res);
  if (r == FRAY_EFAILED) {
    rep->failed = 1;
    rep->kind = res.kind;
    describe(rep, sess, NULL, &res, "the handler failed with whole sends");
    return r;
  }
  if (r)
    return r;
  r = fray_sim_check_invariance(sim, fray_fuzz_session_sched(sess), &res);
  if (r != FRAY_EFAILED)
    return r;
  /* A difference: before blaming the cuts, run whole once more. If that
   * differs too, the handler is not deterministic (a clock, a global, an
   * uninitialised byte), which is no split bug. Done only on failure, so
   * the common case costs two runs, not three. */
  fray_sim_result_t again;
  char first[sizeof rep->message];
  describe(rep, sess, fray_fuzz_session_sched(sess), &res,
           res.kind == FRAY_FAIL_VARIANCE ? "split invariance broken"
                                          : "the handler failed under the fuzz-chosen schedule");
  memcpy(first, rep->message, sizeof first);
  fray_fail_kind_t kind = res.kind;
  r = fray_sim_check_invariance(sim, NULL, &again);
  rep->failed = 1;
  if (r == FRAY_EFAILED) {
    rep->nondeterministic = 1;
    rep->kind = again.kind;
    describe(rep, sess, NULL, &again,
             "the handler is not deterministic: two identical whole runs differ (not a split bug)");
  } else {
    rep->kind = kind;
    memcpy(rep->message, first, sizeof first);
  }
  return r == 0 || r == FRAY_EFAILED ? FRAY_EFAILED : r;
}

int fray__fuzz_run_mem(const fray_handler_t *h, const uint8_t *data, size_t len,
                       fray_fuzz_report_t *rep, const fray_mem_t *mem) {
  fray_fuzz_report_t dummy;
  if (!rep)
    rep = &dummy;
  memset(rep, 0, sizeof *rep);
  if (!h)
    return FRAY_EINVAL;
  alignas(ARENA_ALIGN) unsigned char stack[sizeof(chunk_t) + ARENA_FIRST];
  chunk_t *first = (chunk_t *)stack;
  *first = (chunk_t){.cap = ARENA_FIRST};
  POISON(first->mem, ARENA_FIRST);
  arena_t a = {.cur = first};
  fray__mem_init(&a.heap, mem);
  const fray_mem_t am = {arena_malloc, arena_realloc, arena_free, &a};
  fray_fuzz_session_t *sess = NULL;
  fray_sim_t *sim = NULL;
  int r = fray_fuzz_decode(&sess, data, len, h->name, &am);
  if (!r)
    r = fray_sim_new(&sim, fray_fuzz_session_script(sess), h, &am);
  if (!r) {
    fray__sim_set_server_mem(sim, &a.heap);
    fray_sim_set_expectations(sim, 0);
    r = check(sim, sess, rep);
  }
  fray_sim_free(sim);
  fray_fuzz_session_free(sess);
  arena_release(&a, first);
  return r;
}

int fray_fuzz_run(const fray_handler_t *h, const uint8_t *data, size_t len,
                  fray_fuzz_report_t *rep) {
  return fray__fuzz_run_mem(h, data, len, rep, NULL);
}
