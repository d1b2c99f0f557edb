/* buggy-maxread: takes a read over 64 bytes for a flood.
 *
 * Protocol (the same as buggy-oneread's): lines ending in "\r\n"; "PING"
 * -> "PONG", "ECHO text" -> "text", anything else -> "ERR unknown
 * command"; lines over 64 bytes -> "ERR line too long" and the connection
 * closes.
 *
 * THE BUG: the handler reads raw (FRAY_MODE_RAW) and keeps its own line
 * buffer, correctly, across reads; but its flood guard counts bytes per
 * read, not per line: a read of more than 64 bytes is answered "ERR flood"
 * and the client is disconnected, though every line in it is short. A
 * client that pipelines a few commands (or a kernel that coalesces its
 * sends: Nagle, a busy server that reads late) gets kicked. Any test that
 * sends one command at a time, and most random splitting, never sees it: a
 * read that big needs several whole sends merged and none cut.
 *
 * HOW FRAY FINDS IT: corpus/buggy/maxread.fray sends four short commands
 * in a burst; the coalesce family (every merge, no cut) reads them as one
 * 71-byte read, and so do some prefix and boundary runs. `--schedule
 * random` draws coalesce within every 9 runs.
 *
 * THE FIX (fixed-maxread): bound the line (the framer's max_frame), not the
 * read. */
#include <string.h>

#include "twins.h"

#define MAXREAD_LIMIT 64

typedef struct maxread_conn {
  uint8_t line[MAXREAD_LIMIT];
  size_t len;
} maxread_conn_t;

/* Ends the connection with a one-line reason. */
static int maxread_refuse(fray_conn_t *c, const char *why) {
  int r = fray_conn_send(c, why, strlen(why));
  fray_conn_close(c);
  return r;
}

static int maxread_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *st) {
  maxread_conn_t *m = st;
  if (len > MAXREAD_LIMIT && !fray_example_is_fixed(c))
    return maxread_refuse(c, "ERR flood\r\n"); /* BUG: a read is not a line */
  for (size_t i = 0; i < len && fray_conn_state(c) == FRAY_CONN_OPEN; i++) {
    int r = fray_example_line_byte(c, m->line, &m->len, sizeof m->line, data[i]);
    if (r < 0)
      return r;
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(maxread, "maxread",
                   "kicks a client for any read over 64 bytes (pipelined commands look like a "
                   "flood)",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(maxread_conn_t),
                   .on_frame = maxread_frame);
