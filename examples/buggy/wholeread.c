/* buggy-wholeread: assumes every read ends at a line end.
 *
 * Protocol: PING/ECHO lines ending in "\r\n" (twins.h).
 *
 * THE BUG: the handler reads raw and runs every complete line of a read,
 * so pipelined commands work; but it throws away what is left after the
 * last "\r\n", taking each read to hold whole lines only. A command cut
 * by the network is lost, and its second half runs as an unknown command.
 * Seen in: ufodone/pyenvisalink#39 ("data_received delivers raw TCP chunks;
 * the current code treats each chunk as if it were a complete
 * \r\n-terminated frame"), happyleavesaoc/python-snapcast#9 (a JSON message
 * split over two data_received calls).
 *
 * HOW FRAY FINDS IT: any cut inside a command (biased, split, stretch,
 * prefix); merges alone pass.
 *
 * THE FIX (fixed-wholeread): keep the unfinished line for the next read. */
#include "twins.h"

#define WHOLEREAD_MAX 256

typedef struct wholeread_conn {
  size_t len;
  uint8_t buf[WHOLEREAD_MAX];
} wholeread_conn_t;

static int wholeread_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  wholeread_conn_t *st = vst;
  for (size_t i = 0; i < len && fray_conn_state(c) == FRAY_CONN_OPEN; i++) {
    int r = fray_example_line_byte(c, st->buf, &st->len, sizeof st->buf, data[i]);
    if (r < 0)
      return r;
  }
  if (!fray_example_is_fixed(c))
    st->len = 0; /* BUG: the rest of a cut command is dropped */
  return 0;
}

FRAY_EXAMPLE_TWINS(wholeread, "wholeread", "drops the unfinished line at the end of each read",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(wholeread_conn_t),
                   .on_frame = wholeread_frame);
