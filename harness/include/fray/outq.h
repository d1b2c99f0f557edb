/* fray/outq.h: the output queue. A FIFO of byte buffers (copied, or borrowed
 * with a free callback) and producers (callbacks that yield more bytes on
 * demand), flushed in order through a write function that may take all, part
 * or none (FRAY_EAGAIN) of what it is offered. No byte is lost, duplicated or
 * reordered whatever the writer accepts. It never does I/O itself.
 *
 *   fray_outq_t *q;
 *   if (fray_outq_new(&q, 0, NULL, conn) != 0) return FRAY_ENOMEM;
 *   fray_outq_push(q, (const uint8_t *)"hello\r\n", 7);   // copied
 *   fray_outq_close_when_done(q);                          // no more pushes
 *   n = fray_outq_flush(q, my_write, &sock);               // on each writable
 *   if (fray_outq_done(q)) { shutdown(sock); fray_outq_free(q); }
 *
 * Back-pressure: when pushed bytes waiting in the queue rise above the
 * high-water mark the queue reports "over" (fray_outq_over_high_water() and
 * the optional water callback); it reports "under" again once flushing
 * brings them down to the low-water mark (half the high-water mark). A
 * server pauses reading from a peer while its queue is over.
 *
 * Not thread-safe: one queue is used by one thread at a time. */
#ifndef FRAY_OUTQ_H
#define FRAY_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "fray/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fray_outq fray_outq_t;

/* High-water mark used when fray_outq_new() is given 0. */
#define FRAY_OUTQ_DEFAULT_HIGH_WATER ((size_t)65536)

/* Copied pushes are packed into blocks of at least this many bytes, so many
 * small pushes (a chat server's lines) cost one allocation per block, not
 * one per push. It is also the capacity offered to a producer per call. */
#define FRAY_OUTQ_BLOCK_SIZE ((size_t)4096)

/* Producer: writes up to cap bytes of the next data into buf and returns
 * how many (1..cap); 0 when it has nothing more ever (it is removed from the
 * queue and its free callback is called); FRAY_EAGAIN when it has nothing
 * now (the flush stops there: nothing queued behind it goes out first; the
 * producer is asked again at the next flush or peek); any other negative
 * code on failure. A failure, or a return over cap (FRAY_ECALLBACK), is
 * sticky: the producer is removed (free callback called), nothing more is
 * flushed, and flush, peek and push return that code until the queue is
 * freed, because the stream would otherwise go on with a hole in it.
 * buf is borrowed for the call only. The producer may push to q (the data
 * goes behind the producer) and call fray_outq_close_when_done(), but must
 * not flush, peek, consume or free q. */
typedef fray_ssize_t (*fray_producer_cb)(fray_outq_t *q, uint8_t *buf, size_t cap, void *user_data);

/* Releases a borrowed buffer: data is the pointer given to
 * fray_outq_push_borrowed(). */
typedef void (*fray_outq_free_cb)(void *data, void *user_data);

/* Releases a producer's state: user_data is the pointer given to
 * fray_outq_push_producer(). */
typedef void (*fray_producer_free_cb)(void *user_data);

/* Write function: offered len >= 1 bytes, it returns how many it took
 * (0..len; 0 is read like FRAY_EAGAIN), FRAY_EAGAIN when it takes none now,
 * or another negative code on failure, which flush returns. data is
 * borrowed for the call only. It may push to the queue (the data goes to the
 * back) but must not flush, peek, consume or free it. */
typedef fray_ssize_t (*fray_write_fn)(void *ctx, const uint8_t *data, size_t len);

/* Water callback: over is 1 when the pushed bytes waiting rose above the
 * high-water mark, 0 when flushing brought them back down to the low-water
 * mark. Calls alternate (never two "over" in a row). It may push, close or
 * change the callback, but must not flush, peek, consume or free q.
 * user_data is the queue's (fray_outq_new). */
typedef void (*fray_outq_water_cb)(fray_outq_t *q, int over, void *user_data);

/* Creates an empty queue. high_water is in bytes; 0 means
 * FRAY_OUTQ_DEFAULT_HIGH_WATER; the low-water mark is high_water / 2. mem may
 * be NULL (the C library allocator) and is copied; user_data is stored and
 * passed back untouched to the water callback. Returns 0 or FRAY_ENOMEM
 * (FRAY_EINVAL when out is NULL); *out is the queue, or NULL on failure. */
FRAY_EXTERN int fray_outq_new(fray_outq_t **out, size_t high_water, const fray_mem_t *mem,
                              void *user_data);

/* Frees the queue and everything still queued: the free callback of every
 * borrowed buffer and producer not yet released is called now, in queue
 * order, exactly once. NULL is accepted. Not allowed from a callback of q. */
FRAY_EXTERN void fray_outq_free(fray_outq_t *q);

/* Appends a copy of len bytes of data (data may be NULL when len is 0, which
 * does nothing). The copy is packed with neighbouring copied pushes.
 * Returns 0; FRAY_ECLOSED after fray_outq_close_when_done(); the sticky
 * producer error; FRAY_EINVAL (NULL data with len > 0); FRAY_ERANGE (pending
 * bytes would overflow size_t); FRAY_ENOMEM. On any
 * failure nothing was queued and the queue is unchanged. May call the water
 * callback before returning. */
FRAY_EXTERN int fray_outq_push(fray_outq_t *q, const uint8_t *data, size_t len);

/* Appends len bytes of data without copying them. data is borrowed: the
 * caller keeps it valid and unchanged until free_cb(data, user_data) is
 * called, exactly once, when the flush has written the last of these bytes
 * (or at once at fray_outq_free). free_cb may be NULL (static data). A
 * zero-length buffer is a marker: its free_cb is called when everything
 * pushed before it has been written. Returns what fray_outq_push() returns;
 * on failure free_cb is never called and the caller still owns data. */
FRAY_EXTERN int fray_outq_push_borrowed(fray_outq_t *q, const uint8_t *data, size_t len,
                                        fray_outq_free_cb free_cb, void *user_data);

/* Appends a producer (see fray_producer_cb). cb is asked for data only when
 * everything before it has been written and the writer wants more; bytes it
 * yields are held by the queue (and counted in fray_outq_pending()) until
 * written. free_cb(user_data), which may be NULL, is called exactly once:
 * when the producer returns 0 or fails, or at fray_outq_free. Returns 0,
 * FRAY_EINVAL (cb NULL), FRAY_ECLOSED, the sticky producer error or
 * FRAY_ENOMEM; on failure neither callback is ever called. */
FRAY_EXTERN int fray_outq_push_producer(fray_outq_t *q, fray_producer_cb cb,
                                        fray_producer_free_cb free_cb, void *user_data);

/* No more pushes: later ones return FRAY_ECLOSED. What is queued is still
 * flushed; fray_outq_done() tells when all of it is. Idempotent; returns 0. */
FRAY_EXTERN int fray_outq_close_when_done(fray_outq_t *q);

/* 1 once fray_outq_close_when_done() was called and every item was written
 * and released (producers included); else 0. The caller then shuts the
 * connection down. */
FRAY_EXTERN int fray_outq_done(const fray_outq_t *q);

/* Writes queued bytes in order through w(ctx, ...) until the queue is empty,
 * the writer takes less than offered, returns 0 or FRAY_EAGAIN, or a
 * producer returns FRAY_EAGAIN. The exact position is kept across partial
 * writes: the next flush goes on with the first byte not taken.
 * Returns the bytes written by this call (>= 0; 0 also when nothing could be
 * written), or a negative code: the writer's own error (not sticky: the
 * queue is intact, bytes taken before the failure are consumed and counted
 * by fray_outq_written()), FRAY_ECALLBACK when the writer claims more than
 * offered (also not sticky; nothing of that write is consumed), the sticky
 * producer error, FRAY_ENOMEM (no block for a producer's data; not sticky),
 * FRAY_ESTATE when called from a callback of q. Free callbacks of buffers
 * and producers are called from here as they are released. */
FRAY_EXTERN fray_ssize_t fray_outq_flush(fray_outq_t *q, fray_write_fn w, void *ctx);

/* Zero-copy view for drivers that write themselves (e.g. into a libevent
 * bufferevent): *data and *len describe the first contiguous queued bytes.
 * The view is borrowed, valid until the next call that changes q (push,
 * consume, flush, free). If the first item is a producer, it is asked for
 * data first. Returns 0 with *len > 0; 0 with *len == 0 and *data == NULL
 * when nothing is queued; FRAY_EAGAIN (a producer has nothing now; *len 0);
 * the sticky producer error; FRAY_ENOMEM; FRAY_ESTATE from a callback.
 * Outputs are written on every path.
 *
 *   while (fray_outq_peek(q, &p, &n) == 0 && n > 0) {
 *     fray_ssize_t w = send(fd, p, n, 0);
 *     if (w <= 0) break;
 *     fray_outq_consume(q, (size_t)w);
 *   } */
FRAY_EXTERN int fray_outq_peek(fray_outq_t *q, const uint8_t **data, size_t *len);

/* Marks the first n queued bytes as written, releasing (and calling the free
 * callbacks of) items that are done. n may span several buffers but not go
 * past a producer that has not yielded the bytes: FRAY_EINVAL then, and
 * nothing is consumed. Returns 0, FRAY_EINVAL or FRAY_ESTATE (from a
 * callback). May call the water callback. */
FRAY_EXTERN int fray_outq_consume(fray_outq_t *q, size_t n);

/* Bytes waiting in buffers (copied, borrowed, and what producers already
 * yielded); data producers will yield later is not counted. */
FRAY_EXTERN size_t fray_outq_pending(const fray_outq_t *q);

/* 1 when nothing at all is queued (no bytes, no producer); a driver can skip
 * flushing such a queue. */
FRAY_EXTERN int fray_outq_empty(const fray_outq_t *q);

/* Total bytes consumed (written) since the queue was created. */
FRAY_EXTERN uint64_t fray_outq_written(const fray_outq_t *q);

/* 1 while the queue is "over": set when a push makes pending() exceed the
 * high-water mark, cleared when consuming brings pending() down to the
 * low-water mark or below (hysteresis, so a server does not flap between
 * pausing and resuming reads). Bytes yielded by producers never set it:
 * producers are only asked as fast as the writer drains. */
FRAY_EXTERN int fray_outq_over_high_water(const fray_outq_t *q);

/* Sets (or clears, with NULL) the water callback. It is called on each
 * change of fray_outq_over_high_water(), from the push or consume/flush that
 * caused it. Setting it does not call it for the current state. */
FRAY_EXTERN void fray_outq_set_water_cb(fray_outq_t *q, fray_outq_water_cb cb);

/* The sticky producer error, or 0. */
FRAY_EXTERN int fray_outq_error(const fray_outq_t *q);

/* The user_data given to fray_outq_new. */
FRAY_EXTERN void *fray_outq_user_data(const fray_outq_t *q);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_OUTQ_H */
