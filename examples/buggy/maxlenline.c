/* buggy-maxlenline: refuses a line of exactly the maximum length, sometimes.
 *
 * Protocol: PING/ECHO lines ending in "\r\n" (twins.h); a line may hold up
 * to 32 bytes (delimiter not counted); a longer one -> "ERR line too long"
 * and the connection closes.
 *
 * THE BUG: after each read the handler checks what is left in its buffer
 * (an unfinished line) against the limit. An unfinished line of exactly 32
 * bytes whose "\r" has arrived but whose "\n" has not holds 33 bytes, and is
 * refused. Seen in: twisted/twisted#6556 ("LineReceiver rejects lines of
 * length MAX_LENGTH sometimes"; the same check on its buffer).
 *
 * HOW FRAY FINDS IT: the 32-byte line of the script cut between "\r" and "\n"
 * (delim, biased, stretch).
 *
 * THE FIX (fixed-maxlenline): the limit is on the line; a trailing "\r" may
 * still turn out to be the delimiter's first byte. */
#include "twins.h"

#define MAXLENLINE_MAX 32

typedef struct maxlenline_conn {
  size_t len;
  uint8_t buf[MAXLENLINE_MAX + 2];
} maxlenline_conn_t;

static int maxlenline_refuse(fray_conn_t *c) {
  int r = fray_conn_send(c, "ERR line too long\r\n", 19);
  fray_conn_close(c);
  return r;
}

static int maxlenline_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  maxlenline_conn_t *st = vst;
  for (size_t i = 0; i < len && fray_conn_state(c) == FRAY_CONN_OPEN; i++) {
    st->buf[st->len++] = data[i];
    if (st->len >= 2 && st->buf[st->len - 2] == '\r' && st->buf[st->len - 1] == '\n') {
      int r = fray_example_pingecho(c, st->buf, st->len - 2);
      st->len = 0;
      if (r)
        return r;
    } else if (st->len == sizeof st->buf) {
      return maxlenline_refuse(c); /* 33 bytes and no "\r\n": over the limit */
    }
  }
  size_t limit = MAXLENLINE_MAX; /* BUG (buggy-maxlenline): a trailing "\r" counted */
  if (fray_example_is_fixed(c) && st->len > 0 && st->buf[st->len - 1] == '\r')
    limit++;
  return st->len > limit && fray_conn_state(c) == FRAY_CONN_OPEN ? maxlenline_refuse(c) : 0;
}

FRAY_EXAMPLE_TWINS(maxlenline, "maxlenline",
                   "refuses a line of the maximum length when its \"\\r\\n\" is cut",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(maxlenline_conn_t),
                   .on_frame = maxlenline_frame);
