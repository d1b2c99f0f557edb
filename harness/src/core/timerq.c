/* The timer queue (core/timerq.h): a binary min-heap of slot indices, each
 * slot knowing its heap position so that a cancel removes it in O(log n). */
#include "core/timerq.h"

#include <string.h>

#include "core/internal.h"

void fray__timerq_init(fray__timerq_t *q, const fray_mem_t *mem) {
  memset(q, 0, sizeof *q);
  q->mem = mem;
  q->free = FRAY__TIMER_NIL;
}

void fray__timerq_fini(fray__timerq_t *q) {
  fray__free(q->mem, q->slot);
  fray__free(q->mem, q->heap);
  fray__timerq_init(q, q->mem);
}

/* The id a timer in slot s has while it is pending (its slot's generation
 * says which use of the slot). */
static uint64_t id_of(const fray__timerq_t *q, uint32_t s) {
  return (uint64_t)q->slot[s].gen << 32 | ((uint64_t)s + 1);
}

static int earlier(const fray__timerq_t *q, uint32_t a, uint32_t b) {
  const fray__timer_t *x = &q->slot[a], *y = &q->slot[b];
  return x->deadline < y->deadline || (x->deadline == y->deadline && x->seq < y->seq);
}

static void place(fray__timerq_t *q, size_t i, uint32_t s) {
  q->heap[i] = s;
  q->slot[s].pos = (uint32_t)i;
}

static void sift_up(fray__timerq_t *q, size_t i) {
  uint32_t s = q->heap[i];
  while (i > 0 && earlier(q, s, q->heap[(i - 1) / 2])) {
    place(q, i, q->heap[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  place(q, i, s);
}

static void sift_down(fray__timerq_t *q, size_t i) {
  uint32_t s = q->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= q->nheap)
      break;
    if (c + 1 < q->nheap && earlier(q, q->heap[c + 1], q->heap[c]))
      c++;
    if (!earlier(q, q->heap[c], s))
      break;
    place(q, i, q->heap[c]);
    i = c;
  }
  place(q, i, s);
}

/* Takes slot s out of the heap and its owner's list, and frees it. */
static void release(fray__timerq_t *q, uint32_t s) {
  fray__timer_t *t = &q->slot[s];
  size_t i = t->pos, last = --q->nheap;
  if (i != last) {
    place(q, i, q->heap[last]);
    if (i > 0 && earlier(q, q->heap[i], q->heap[(i - 1) / 2]))
      sift_up(q, i);
    else
      sift_down(q, i);
  }
  if (t->prev != FRAY__TIMER_NIL)
    q->slot[t->prev].next = t->next;
  else
    *t->list = t->next;
  if (t->next != FRAY__TIMER_NIL)
    q->slot[t->next].prev = t->prev;
  t->pos = FRAY__TIMER_NIL;
  t->list = NULL;
  /* A generation that wraps after 2^32 reuses of one slot could meet an id
   * that old again; 0 is skipped so that no id is ever 0. */
  t->gen = t->gen + 1 ? t->gen + 1 : 1;
  t->next = q->free;
  q->free = s;
}

/* A free slot, growing the pool: its index, or FRAY__TIMER_NIL. */
static uint32_t take_slot(fray__timerq_t *q) {
  if (q->free != FRAY__TIMER_NIL) {
    uint32_t s = q->free;
    q->free = q->slot[s].next;
    return s;
  }
  if (q->nslot >= FRAY__TIMER_NIL - 1 ||
      fray__grow(q->mem, (void **)&q->slot, &q->capslot, q->nslot + 1, sizeof *q->slot))
    return FRAY__TIMER_NIL;
  q->slot[q->nslot] = (fray__timer_t){.gen = 1, .pos = FRAY__TIMER_NIL};
  return (uint32_t)q->nslot++;
}

int fray__timerq_add(fray__timerq_t *q, uint64_t deadline, void *owner, uint32_t *list,
                     void (*fn)(void), void *arg, uint64_t *id) {
  /* The heap gets room first: a slot taken and then not placed would leak
   * from the free list. */
  if (fray__grow(q->mem, (void **)&q->heap, &q->capheap, q->nheap + 1, sizeof *q->heap))
    return FRAY_ENOMEM;
  uint32_t s = take_slot(q);
  if (s == FRAY__TIMER_NIL)
    return FRAY_ENOMEM;
  fray__timer_t *t = &q->slot[s];
  t->deadline = deadline;
  t->seq = q->seq++;
  t->owner = owner;
  t->fn = fn;
  t->arg = arg;
  t->list = list;
  t->prev = FRAY__TIMER_NIL;
  t->next = *list;
  if (*list != FRAY__TIMER_NIL)
    q->slot[*list].prev = s;
  *list = s;
  q->heap[q->nheap] = s;
  sift_up(q, q->nheap++);
  *id = id_of(q, s);
  return 0;
}

int fray__timerq_cancel(fray__timerq_t *q, uint64_t id, const void *owner) {
  uint64_t s = (id & 0xffffffffu) - 1;
  if (!id || s >= q->nslot)
    return FRAY_ENOENT;
  fray__timer_t *t = &q->slot[s];
  if (t->pos == FRAY__TIMER_NIL || t->gen != (uint32_t)(id >> 32) || t->owner != owner)
    return FRAY_ENOENT;
  release(q, (uint32_t)s);
  return 0;
}

void fray__timerq_cancel_list(fray__timerq_t *q, uint32_t *list) {
  while (*list != FRAY__TIMER_NIL)
    release(q, *list);
}

uint64_t fray__timerq_next(const fray__timerq_t *q) {
  return q->nheap ? q->slot[q->heap[0]].deadline : UINT64_MAX;
}

int fray__timerq_pop_due(fray__timerq_t *q, uint64_t now, fray__timer_t *out, uint64_t *id) {
  if (!q->nheap || q->slot[q->heap[0]].deadline > now)
    return 0;
  *out = q->slot[q->heap[0]];
  if (id)
    *id = id_of(q, q->heap[0]);
  release(q, q->heap[0]);
  return 1;
}

void fray__timerq_rebase(fray__timerq_t *q, uint64_t old, uint64_t now) {
  /* The same remaining times in the same order: the heap stays a heap
   * (overdue timers tie at now, and their start order settles them). */
  for (size_t i = 0; i < q->nheap; i++) {
    fray__timer_t *t = &q->slot[q->heap[i]];
    uint64_t left = t->deadline > old ? t->deadline - old : 0;
    t->deadline = now + left;
  }
}
