/* The output queue: a singly linked FIFO of items (copied blocks, borrowed
 * buffers, producers). Every path that writes goes through the same two
 * internals, peek_head() (first contiguous bytes, asking a producer at the
 * head for data) and consume_bytes() (advance and release), so flush and
 * the zero-copy peek/consume API cannot disagree about positions. */
#include "fray/outq.h"

#include <limits.h>
#include <string.h>

#include "core/internal.h"

enum item_kind { ITEM_COPY = 0, ITEM_BORROWED, ITEM_PRODUCER };

struct item {
  struct item *next;
  enum item_kind kind;
  const uint8_t *data;             /* COPY: bytes; BORROWED: the caller's buffer */
  size_t off;                      /* first byte not yet written */
  size_t len;                      /* bytes held; off == len means drained */
  size_t cap;                      /* COPY: capacity of bytes[]; else 0 */
  fray_outq_free_cb buf_free;      /* BORROWED */
  fray_producer_cb produce;        /* PRODUCER */
  fray_producer_free_cb prod_free; /* PRODUCER */
  void *user_data;                 /* BORROWED, PRODUCER */
  uint8_t bytes[];                 /* COPY only, cap bytes */
};

struct fray_outq {
  fray_mem_t mem;
  struct item *head;
  struct item *tail;
  /* One drained block of FRAY_OUTQ_BLOCK_SIZE kept for reuse, so a steady
   * push/flush cycle (or a streaming producer) does not malloc and free a
   * block every round. */
  struct item *spare;
  /* A first block in the queue's own storage (fray__outq_init with an
   * inline capacity): the first pushes of a connection allocate nothing.
   * Never freed; inl_busy while it is queued. */
  struct item *inl;
  int inl_busy;
  size_t pending; /* sum of len - off over byte items */
  size_t high;
  size_t low;
  uint64_t written;
  int closing;
  int over;
  int error; /* sticky producer error, 0 if none */
  int in_cb; /* depth of user callbacks running: flush/peek/consume refuse */
  fray_outq_water_cb water_cb;
  void *user_data;
};

/* Declared here rather than in a header so that only tests reach it. */
#include "core/outq_internal.h"

/* The inline block sits after the queue, aligned for its size_t fields. */
#define INL_OFF ((sizeof(fray_outq_t) + 15) & ~(size_t)15)

size_t fray__outq_size(size_t inline_cap) {
  return inline_cap ? INL_OFF + sizeof(struct item) + inline_cap : sizeof(fray_outq_t);
}

void fray__outq_init(fray_outq_t *q, size_t high_water, const fray_mem_t *mem, void *user_data,
                     size_t inline_cap) {
  memset(q, 0, sizeof *q);
  fray__mem_init(&q->mem, mem);
  q->high = high_water ? high_water : FRAY_OUTQ_DEFAULT_HIGH_WATER;
  q->low = q->high / 2;
  q->user_data = user_data;
  if (inline_cap) {
    q->inl = (struct item *)((char *)q + INL_OFF);
    memset(q->inl, 0, sizeof *q->inl);
    q->inl->kind = ITEM_COPY;
    q->inl->cap = inline_cap;
    q->inl->data = q->inl->bytes;
  }
}

int fray_outq_new(fray_outq_t **out, size_t high_water, const fray_mem_t *mem, void *user_data) {
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  fray_mem_t m;
  fray__mem_init(&m, mem);
  fray_outq_t *q = fray__malloc(&m, sizeof *q);
  if (!q)
    return FRAY_ENOMEM;
  fray__outq_init(q, high_water, &m, user_data, 0);
  *out = q;
  return 0;
}

/* A copy block able to hold need bytes: the spare when it fits, else a new
 * allocation of at least FRAY_OUTQ_BLOCK_SIZE. */
static struct item *block_new(fray_outq_t *q, size_t need) {
  struct item *b;
  if (q->inl && !q->inl_busy && need <= q->inl->cap) {
    b = q->inl;
    q->inl_busy = 1;
  } else if (need <= FRAY_OUTQ_BLOCK_SIZE && q->spare) {
    b = q->spare;
    q->spare = NULL;
  } else {
    size_t cap = need < FRAY_OUTQ_BLOCK_SIZE ? FRAY_OUTQ_BLOCK_SIZE : need;
    if (cap > SIZE_MAX - sizeof(struct item))
      return NULL;
    b = fray__malloc(&q->mem, sizeof(struct item) + cap);
    if (!b)
      return NULL;
    memset(b, 0, sizeof *b);
    b->kind = ITEM_COPY;
    b->cap = cap;
    b->data = b->bytes;
  }
  b->next = NULL;
  b->off = 0;
  b->len = 0;
  return b;
}

/* Frees a copy block, or keeps it as the spare, or frees the inline one
 * for the next block_new(). */
static void block_drop(fray_outq_t *q, struct item *b) {
  if (b == q->inl) {
    q->inl_busy = 0;
  } else if (b->cap == FRAY_OUTQ_BLOCK_SIZE && !q->spare) {
    b->next = NULL;
    b->off = 0;
    b->len = 0;
    q->spare = b;
  } else {
    fray__free(&q->mem, b);
  }
}

static void append(fray_outq_t *q, struct item *it) {
  it->next = NULL;
  if (q->tail)
    q->tail->next = it;
  else
    q->head = it;
  q->tail = it;
}

/* Unlinks the head item (the caller holds it). */
static void unlink_head(fray_outq_t *q) {
  struct item *h = q->head;
  q->head = h->next;
  if (q->tail == h)
    q->tail = NULL;
  h->next = NULL;
}

/* Releases an unlinked item. The item's memory is given back before its free
 * callback runs, so a callback that pushes may reuse it. */
static void item_release(fray_outq_t *q, struct item *it) {
  switch (it->kind) {
  case ITEM_COPY:
    block_drop(q, it);
    break;
  case ITEM_BORROWED: {
    fray_outq_free_cb cb = it->buf_free;
    void *data = (void *)(uintptr_t)it->data;
    void *ud = it->user_data;
    fray__free(&q->mem, it);
    if (cb) {
      q->in_cb++;
      cb(data, ud);
      q->in_cb--;
    }
    break;
  }
  case ITEM_PRODUCER: {
    fray_producer_free_cb cb = it->prod_free;
    void *ud = it->user_data;
    fray__free(&q->mem, it);
    if (cb) {
      q->in_cb++;
      cb(ud);
      q->in_cb--;
    }
    break;
  }
  }
}

void fray__outq_fini(fray_outq_t *q) {
  /* Callbacks run below; a push from one of them must not add to a list
   * being torn down. */
  q->closing = 1;
  while (q->head) {
    struct item *it = q->head;
    unlink_head(q);
    if (it->kind == ITEM_COPY && it != q->inl)
      fray__free(&q->mem, it);
    else if (it->kind != ITEM_COPY)
      item_release(q, it);
  }
  fray__free(&q->mem, q->spare);
  q->spare = NULL;
  q->inl_busy = 0;
}

void fray_outq_free(fray_outq_t *q) {
  if (!q)
    return;
  fray_mem_t m = q->mem;
  fray__outq_fini(q);
  fray__free(&m, q);
}

static void water_signal(fray_outq_t *q, int over) {
  q->over = over;
  if (q->water_cb) {
    q->in_cb++;
    q->water_cb(q, over, q->user_data);
    q->in_cb--;
  }
}

static void check_up(fray_outq_t *q) {
  if (!q->over && q->pending > q->high)
    water_signal(q, 1);
}

static void check_down(fray_outq_t *q) {
  if (q->over && q->pending <= q->low)
    water_signal(q, 0);
}

/* What every push checks first. */
static int push_allowed(const fray_outq_t *q, const uint8_t *data, size_t len) {
  if (q->error)
    return q->error;
  if (q->closing)
    return FRAY_ECLOSED;
  if (!data && len)
    return FRAY_EINVAL;
  if (len > SIZE_MAX - q->pending)
    return FRAY_ERANGE;
  return 0;
}

int fray__outq_pushv(fray_outq_t *q, const fray__iov_t *v, size_t n) {
  if (!q)
    return FRAY_EINVAL;
  size_t len = 0;
  int null = 0;
  for (size_t i = 0; i < n; i++) {
    null |= !v[i].data && v[i].len;
    len = v[i].len > SIZE_MAX - len ? SIZE_MAX : len + v[i].len;
  }
  int rc = push_allowed(q, null ? NULL : (const uint8_t *)q, len);
  if (rc || !len)
    return rc;
  if (len == SIZE_MAX)
    return FRAY_ERANGE;
  struct item *t = q->tail, *b = NULL;
  size_t room = (t && t->kind == ITEM_COPY) ? t->cap - t->len : 0;
  /* Allocate before touching the tail so that a failure changes nothing.
   * The tail is only ever filled past its len, never moved, so a writer
   * holding a view of it (a push from inside the writer) stays valid. */
  if (len > room && !(b = block_new(q, len - room)))
    return FRAY_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *d = v[i].data;
    for (size_t left = v[i].len, k; left; left -= k, d += k) {
      struct item *to = room ? t : b;
      k = room ? (left < room ? left : room) : left;
      memcpy(to->bytes + to->len, d, k);
      to->len += k;
      room -= room ? k : 0;
    }
  }
  if (b)
    append(q, b);
  q->pending += len;
  check_up(q);
  return 0;
}

int fray_outq_push(fray_outq_t *q, const uint8_t *data, size_t len) {
  fray__iov_t v = {data, len};
  return fray__outq_pushv(q, &v, 1);
}

/* A new item for a push that push_allowed() accepts; the caller fills it
 * and appends it. 0, or push_allowed()'s refusal, or FRAY_ENOMEM. */
static int item_new(fray_outq_t *q, enum item_kind kind, const uint8_t *data, size_t len,
                    void *user_data, struct item **out) {
  int rc = push_allowed(q, data, len);
  if (rc)
    return rc;
  struct item *it = fray__malloc(&q->mem, sizeof *it);
  if (!it)
    return FRAY_ENOMEM;
  memset(it, 0, sizeof *it);
  it->kind = kind;
  it->user_data = user_data;
  *out = it;
  return 0;
}

int fray_outq_push_borrowed(fray_outq_t *q, const uint8_t *data, size_t len,
                            fray_outq_free_cb free_cb, void *user_data) {
  if (!q)
    return FRAY_EINVAL;
  struct item *it;
  int rc = item_new(q, ITEM_BORROWED, data, len, user_data, &it);
  if (rc)
    return rc;
  it->data = data;
  it->len = len;
  it->buf_free = free_cb;
  append(q, it);
  q->pending += len;
  check_up(q);
  return 0;
}

int fray_outq_push_producer(fray_outq_t *q, fray_producer_cb cb, fray_producer_free_cb free_cb,
                            void *user_data) {
  if (!q || !cb)
    return FRAY_EINVAL;
  struct item *it;
  int rc = item_new(q, ITEM_PRODUCER, NULL, 0, user_data, &it);
  if (rc)
    return rc;
  it->produce = cb;
  it->prod_free = free_cb;
  append(q, it);
  return 0;
}

int fray_outq_close_when_done(fray_outq_t *q) {
  if (!q)
    return FRAY_EINVAL;
  q->closing = 1;
  return 0;
}

int fray_outq_done(const fray_outq_t *q) {
  return q && q->closing && !q->head;
}

/* Releases drained byte items at the head: finished borrowed buffers and
 * zero-length markers whose turn has come. */
static void pop_drained(fray_outq_t *q) {
  while (q->head && q->head->kind != ITEM_PRODUCER && q->head->off == q->head->len) {
    struct item *it = q->head;
    unlink_head(q);
    item_release(q, it);
  }
}

/* Asks the producer at the head for data. Returns 0 when it yielded bytes
 * (now a block in front of it) or finished (removed), FRAY_EAGAIN, or an
 * error (FRAY_ENOMEM, not sticky; the producer's failure, sticky). */
static int pull(fray_outq_t *q) {
  struct item *p = q->head;
  struct item *b = block_new(q, FRAY_OUTQ_BLOCK_SIZE);
  if (!b)
    return FRAY_ENOMEM;
  q->in_cb++;
  fray_ssize_t r = p->produce(q, b->bytes, b->cap, p->user_data);
  q->in_cb--;
  /* The producer may have pushed, which only appends: p is still the head. */
  if (r > 0 && (size_t)r <= b->cap) {
    b->len = (size_t)r;
    b->next = p;
    q->head = b;
    q->pending += (size_t)r;
    return 0;
  }
  block_drop(q, b);
  if (r == FRAY_EAGAIN)
    return FRAY_EAGAIN;
  if (r != 0)
    q->error = (r < 0 && r >= INT_MIN) ? (int)r : FRAY_ECALLBACK;
  unlink_head(q);
  item_release(q, p);
  return q->error;
}

/* The first contiguous bytes, after releasing what is drained and asking
 * producers at the head. Outputs always written. */
static int peek_head(fray_outq_t *q, const uint8_t **data, size_t *len) {
  *data = NULL;
  *len = 0;
  for (;;) {
    if (q->error)
      return q->error;
    pop_drained(q);
    struct item *h = q->head;
    if (!h)
      return 0;
    if (h->kind != ITEM_PRODUCER) {
      *data = h->data + h->off;
      *len = h->len - h->off;
      return 0;
    }
    int rc = pull(q);
    if (rc)
      return rc;
  }
}

/* Advances by n bytes, which the caller has checked are there before any
 * producer. */
static void consume_bytes(fray_outq_t *q, size_t n) {
  while (n) {
    struct item *h = q->head;
    size_t take = h->len - h->off;
    if (take > n)
      take = n;
    h->off += take;
    n -= take;
    q->pending -= take;
    q->written += take;
    if (h->off == h->len) {
      unlink_head(q);
      item_release(q, h);
    }
  }
  pop_drained(q);
  check_down(q);
}

fray_ssize_t fray_outq_flush(fray_outq_t *q, fray_write_fn w, void *ctx) {
  if (!q || !w)
    return FRAY_EINVAL;
  if (q->in_cb)
    return FRAY_ESTATE;
  fray_ssize_t total = 0;
  for (;;) {
    const uint8_t *d;
    size_t l;
    int rc = peek_head(q, &d, &l);
    if (rc == FRAY_EAGAIN)
      break;
    if (rc < 0)
      return rc;
    if (!l)
      break;
    q->in_cb++;
    fray_ssize_t n = w(ctx, d, l);
    q->in_cb--;
    if (n == FRAY_EAGAIN || n == 0)
      break;
    if (n < 0)
      return n;
    if ((size_t)n > l)
      return FRAY_ECALLBACK;
    consume_bytes(q, (size_t)n);
    total += n;
    /* A short write means the sink is full; trying again at once would only
     * earn an EAGAIN. */
    if ((size_t)n < l)
      break;
  }
  return total;
}

int fray_outq_peek(fray_outq_t *q, const uint8_t **data, size_t *len) {
  if (data)
    *data = NULL;
  if (len)
    *len = 0;
  if (!q || !data || !len)
    return FRAY_EINVAL;
  if (q->in_cb)
    return FRAY_ESTATE;
  return peek_head(q, data, len);
}

int fray_outq_consume(fray_outq_t *q, size_t n) {
  if (!q)
    return FRAY_EINVAL;
  if (q->in_cb)
    return FRAY_ESTATE;
  size_t avail = 0;
  for (const struct item *it = q->head; it && avail < n && it->kind != ITEM_PRODUCER; it = it->next)
    avail += it->len - it->off;
  if (avail < n)
    return FRAY_EINVAL;
  consume_bytes(q, n);
  return 0;
}

int fray_outq_empty(const fray_outq_t *q) {
  return !q || !q->head;
}

size_t fray_outq_pending(const fray_outq_t *q) {
  return q ? q->pending : 0;
}

uint64_t fray_outq_written(const fray_outq_t *q) {
  return q ? q->written : 0;
}

int fray_outq_over_high_water(const fray_outq_t *q) {
  return q ? q->over : 0;
}

void fray_outq_set_water_cb(fray_outq_t *q, fray_outq_water_cb cb) {
  if (q)
    q->water_cb = cb;
}

int fray_outq_error(const fray_outq_t *q) {
  return q ? q->error : FRAY_EINVAL;
}

void *fray_outq_user_data(const fray_outq_t *q) {
  return q ? q->user_data : NULL;
}

/* Invariant checker for tests: 0 when the queue is consistent, else
 * FRAY_EFAILED. Walks the whole list. */
int fray__outq_check(const fray_outq_t *q) {
  if (!q)
    return FRAY_EFAILED;
  size_t sum = 0;
  const struct item *last = NULL;
  for (const struct item *it = q->head; it; it = it->next) {
    if (it->off > it->len)
      return FRAY_EFAILED;
    switch (it->kind) {
    case ITEM_COPY:
      if (it->len > it->cap || it->data != it->bytes || it->len == 0)
        return FRAY_EFAILED;
      break;
    case ITEM_BORROWED:
      if (it->cap)
        return FRAY_EFAILED;
      break;
    case ITEM_PRODUCER:
      if (it->len || it->off || !it->produce)
        return FRAY_EFAILED;
      break;
    default:
      return FRAY_EFAILED;
    }
    sum += it->len - it->off;
    last = it;
  }
  if (last != q->tail || sum != q->pending)
    return FRAY_EFAILED;
  if (q->spare && (q->spare->cap != FRAY_OUTQ_BLOCK_SIZE || q->spare->len || q->spare->off))
    return FRAY_EFAILED;
  /* The inline block is busy exactly when it is queued. */
  int queued = 0;
  for (const struct item *it = q->head; it && q->inl; it = it->next)
    queued |= it == q->inl;
  if (queued != q->inl_busy || (q->inl && q->spare == q->inl))
    return FRAY_EFAILED;
  /* Only a consume can lower pending, and it clears "over" at the low mark. */
  if (q->over && q->pending <= q->low)
    return FRAY_EFAILED;
  if (q->low != q->high / 2 || q->in_cb < 0)
    return FRAY_EFAILED;
  return 0;
}
