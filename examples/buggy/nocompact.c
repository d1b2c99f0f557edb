/* buggy-nocompact: moves its buffer but not the index into it.
 *
 * Protocol: PING/ECHO lines ending in "\r\n" (twins.h).
 *
 * THE BUG: the handler keeps a buffer and `off`, where the unread bytes
 * start. After running the complete lines of a read it compacts: if all is
 * consumed both go back to 0; otherwise the unfinished line is moved to
 * the front of the buffer, but `off` is left where it was, so the next
 * read's search starts past the start of that line and its first bytes
 * are skipped ("ECHO hello" comes back as "lo", or "ERR unknown command").
 * Whole sends always leave the buffer empty and never reach that branch.
 * Seen in: netty/netty#6156 and its fix netty/netty#6157 (JsonObjectDecoder
 * kept an index into its buffer that went stale when the buffer was
 * compacted: "the JsonDecoder then keeps reading looking for the correct
 * closing bracket"), netty/netty#671 ("the indexes the decoder kept will
 * go out of sync" when ByteToMessageDecoder discards read bytes).
 *
 * HOW FRAY FINDS IT: a read holding a complete line and the start of the
 * next one (merge and cut together: biased, boundary, prefix).
 *
 * THE FIX (fixed-nocompact): reset `off` when the bytes move. */
#include <string.h>

#include "twins.h"

#define NOCOMPACT_MAX 512

typedef struct nocompact_conn {
  size_t off, len;
  uint8_t buf[NOCOMPACT_MAX];
} nocompact_conn_t;

static int nocompact_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  nocompact_conn_t *st = vst;
  while (len > 0 && fray_conn_state(c) == FRAY_CONN_OPEN) {
    size_t k = len < sizeof st->buf - st->len ? len : sizeof st->buf - st->len;
    memcpy(st->buf + st->len, data, k);
    st->len += k;
    data += k;
    len -= k;
    for (size_t i = st->off; i + 1 < st->len; i++) {
      if (st->buf[i] != '\r' || st->buf[i + 1] != '\n')
        continue;
      int r = fray_example_pingecho(c, st->buf + st->off, i - st->off);
      st->off = i + 2;
      if (r)
        return r;
    }
    if (st->off >= st->len) {
      st->off = st->len = 0;
    } else if (st->off > 0) {
      memmove(st->buf, st->buf + st->off, st->len - st->off);
      st->len -= st->off;
      if (fray_example_is_fixed(c))
        st->off = 0; /* BUG (buggy-nocompact): left pointing past the moved bytes */
    } else if (st->len == sizeof st->buf) {
      int r = fray_conn_send(c, "ERR line too long\r\n", 19);
      fray_conn_close(c);
      return r;
    }
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(nocompact, "nocompact", "compacts its buffer but leaves its read index stale",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(nocompact_conn_t),
                   .on_frame = nocompact_frame);
