/* buggy-splitdelim: looks for "\r\n" only in the bytes of the current read.
 *
 * Protocol: as buggy-oneread (PING, ECHO text; lines end in "\r\n").
 *
 * THE BUG: the handler keeps unfinished lines in a buffer, as it should,
 * but after appending a read it searches for "\r\n" starting where the new
 * bytes begin. When a read ends with "\r" and the next one starts with
 * "\n", the delimiter straddles the boundary and is never found: that line
 * runs on into the next one ("PING\r\nPING" is one unknown command), or is
 * never answered. This is asynchat's find_prefix_at_end problem.
 *
 * HOW FRAY FINDS IT: a cut exactly between "\r" and "\n" (exhaustive with
 * one cut finds it in every script; random draws cuts inside delimiters on
 * purpose). Whole reads, and cuts anywhere else, work.
 *
 * THE FIX (fixed-splitdelim): resume the search one byte before the new
 * bytes (delimiter length - 1), or let the framer do it (FRAY_MODE_DELIM or
 * LINE). */
#include <string.h>

#include "twins.h"

#define SPLITDELIM_MAX 1024

typedef struct splitdelim_conn {
  size_t len;
  int skipping; /* discarding an over-long line */
  uint8_t buf[SPLITDELIM_MAX];
} splitdelim_conn_t;

static int splitdelim_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  splitdelim_conn_t *st = vst;
  while (len > 0) {
    size_t k = len < sizeof st->buf - st->len ? len : sizeof st->buf - st->len;
    size_t scan = st->len; /* BUG (buggy-splitdelim): st->len ? st->len - 1 : 0 */
    if (fray_example_is_fixed(c) && scan > 0)
      scan--;
    memcpy(st->buf + st->len, data, k);
    st->len += k;
    data += k;
    len -= k;
    for (size_t i = scan; i + 1 < st->len;) {
      if (st->buf[i] == '\r' && st->buf[i + 1] == '\n') {
        int r = st->skipping ? 0 : fray_example_pingecho(c, st->buf, i);
        st->skipping = 0;
        memmove(st->buf, st->buf + i + 2, st->len - i - 2);
        st->len -= i + 2;
        if (r)
          return r;
        i = 0; /* the rest is searched from its start: only the seam is missed */
      } else {
        i++;
      }
    }
    if (st->len == sizeof st->buf) {
      /* Too long (bounded, correctly): say so once, then discard up to the
       * next "\r\n", keeping the last byte in case it is the "\r". */
      if (!st->skipping) {
        int r = fray_conn_send(c, "ERR line too long\r\n", 19);
        if (r)
          return r;
      }
      st->skipping = 1;
      st->buf[0] = st->buf[st->len - 1];
      st->len = 1;
    }
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(splitdelim, "splitdelim",
                   "searches \\r\\n only in the new read (misses a delimiter split between reads)",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(splitdelim_conn_t),
                   .on_frame = splitdelim_frame);
