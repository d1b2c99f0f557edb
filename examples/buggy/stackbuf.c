/* buggy-stackbuf: a fixed buffer bounded per read, not per line.
 *
 * Protocol: lines ending in "\n" (a "\r" before it is dropped); each line
 * comes back as "echo: " + line. A line over 64 bytes is answered with
 * "ERR line too long" and skipped.
 *
 * THE BUG: the line is collected in a fixed 64-byte array, and the length
 * check looks at the size of each read instead of at what the array
 * already holds. A long line sent in one write is rejected correctly; the
 * same line arriving in pieces of 64 bytes or less is copied past the end
 * of the array. In real code that array is on the stack and the overflow
 * smashes it; here it is DELIBERATELY a fixed array inside the connection
 * state, followed by the reply prefix, so that the overflow is
 * deterministic and visible without a sanitizer: the prefix is
 * overwritten, and the reply (and every later one) changes. Lines long
 * enough to run past the whole state overflow the heap block, which ASan
 * reports.
 *
 * HOW FRAY FINDS IT: the oversize script's line (100 bytes) cut once
 * anywhere between 38 and 64 bytes from its start or end so that both
 * reads are 64 bytes or less (exhaustive, one cut; random; bytewise) gives
 * a garbled reply instead of "ERR line too long".
 *
 * THE FIX (fixed-stackbuf): check what the array already holds plus the
 * new bytes of the line, not the read (or use the framer's max_frame, which
 * bounds the whole frame). */
#include <string.h>

#include "twins.h"

#define STACKBUF_LINE 64

typedef struct stackbuf_conn {
  size_t len; /* bytes of the current line in line[] */
  size_t prefix_len;
  int skipping; /* discarding the rest of an over-long line */
  char line[STACKBUF_LINE];
  char prefix[STACKBUF_LINE]; /* what the overflow clobbers */
} stackbuf_conn_t;

static int stackbuf_open(fray_conn_t *c, void *vst) {
  stackbuf_conn_t *st = vst;
  (void)c;
  memcpy(st->prefix, "echo: ", 6);
  st->prefix_len = 6;
  return 0;
}

static int stackbuf_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  stackbuf_conn_t *st = vst;
  int fixed = fray_example_is_fixed(c);
  if (!fixed && !st->skipping && len > sizeof st->line) { /* BUG: st->len + len */
    st->len = 0;
    st->skipping = 1;
    int r = fray_conn_send(c, "ERR line too long\r\n", 19);
    if (r)
      return r;
  }
  while (len > 0) {
    const uint8_t *nl = memchr(data, '\n', len);
    size_t k = nl ? (size_t)(nl - data) + 1 : len;
    if (st->skipping) {
      st->skipping = nl == NULL;
    } else if (fixed && st->len + k > sizeof st->line) { /* the fix: bound the line */
      st->len = 0;
      st->skipping = nl == NULL;
      int r = fray_conn_send(c, "ERR line too long\r\n", 19);
      if (r)
        return r;
    } else {
      memcpy(st->line + st->len, data, k); /* the overflow */
      st->len += k;
      if (nl) {
        size_t n = st->len - 1;
        if (n > 0 && st->line[n - 1] == '\r')
          n--;
        int r = fray_conn_send(c, st->prefix, st->prefix_len);
        if (!r)
          r = fray_conn_send(c, st->line, n);
        if (!r)
          r = fray_conn_send(c, "\r\n", 2);
        st->len = 0;
        if (r)
          return r;
      }
    }
    data += k;
    len -= k;
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(stackbuf, "stackbuf",
                   "64-byte line buffer bounded per read, overflowed by a long line in pieces",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(stackbuf_conn_t),
                   .on_open = stackbuf_open, .on_frame = stackbuf_frame);
