/* buggy-firstonly: runs one command per read.
 *
 * Protocol: PING/ECHO lines ending in "\r\n" (twins.h).
 *
 * THE BUG: the handler keeps an unfinished line across reads, correctly,
 * but once a read completes a line it runs that line and empties the
 * buffer: the other commands that came in the same read are dropped. A
 * client that pipelines (or a kernel that coalesces its sends) loses
 * answers. Seen in: elastic/beats#8278 (metricbeat's TCP helper: "only the
 * first event is parsed and the rest are dropped").
 *
 * HOW FRAY FINDS IT: two sends merged into one read (coalesce, merge,
 * boundary, prefix, biased); cuts alone pass.
 *
 * THE FIX (fixed-firstonly): loop over every complete line in the buffer. */
#include "twins.h"

#define FIRSTONLY_MAX 256

typedef struct firstonly_conn {
  size_t len;
  uint8_t buf[FIRSTONLY_MAX];
} firstonly_conn_t;

static int firstonly_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  firstonly_conn_t *st = vst;
  for (size_t i = 0; i < len && fray_conn_state(c) == FRAY_CONN_OPEN; i++) {
    int r = fray_example_line_byte(c, st->buf, &st->len, sizeof st->buf, data[i]);
    if (r < 0)
      return r;
    if (r == 1 && !fray_example_is_fixed(c))
      return 0; /* BUG (buggy-firstonly): the rest of the read is dropped */
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(firstonly, "firstonly", "runs the first command of each read, drops the rest",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(firstonly_conn_t),
                   .on_frame = firstonly_frame);
