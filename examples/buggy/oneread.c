/* buggy-oneread: assumes one read is one message.
 *
 * Protocol (the same for buggy-oneread and buggy-splitdelim): lines ending
 * in "\r\n"; "PING" -> "PONG", "ECHO text" -> "text", anything else ->
 * "ERR unknown command".
 *
 * THE BUG: on_frame gets raw reads (FRAY_MODE_RAW, exactly what recv()
 * returns) and treats each one as exactly one command: it takes the bytes
 * up to the first "\r\n" (or the whole read if there is none) and drops the
 * rest. Two pipelined commands in one read lose the second; a command split
 * over two reads is run as two broken commands. Tests that send one command
 * per write and wait for the answer never see it.
 *
 * HOW FRAY FINDS IT: any schedule that merges two sends of a client into
 * one read (random) loses the second answer; any cut inside a command
 * (exhaustive, one cut; bytewise) answers "ERR unknown command" for both
 * halves.
 *
 * THE FIX (fixed-oneread): let the framer cut lines (FRAY_MODE_DELIM
 * "\r\n" here), or keep a buffer across reads and loop over every complete
 * line in it. */
#include <string.h>

#include "twins.h"

static int oneread_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *st) {
  (void)st;
  size_t n = len;
  for (size_t i = 0; i + 1 < len; i++) {
    if (data[i] == '\r' && data[i + 1] == '\n') {
      n = i;
      break;
    }
  }
  return fray_example_pingecho(c, data, n); /* BUG: data[n + 2 .. len) is dropped */
}

const fray_handler_t fray_example_buggy_oneread = {
    .name = "buggy-oneread",
    .summary = "BUGGY: treats each read as one command (merged commands lost, split ones broken)",
    .spec = {.mode = FRAY_MODE_RAW},
    .on_frame = oneread_frame,
};

/* The fix: the framer hands over one line per call, however it was read. */
static int oneread_fixed_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *st) {
  (void)st;
  return fray_example_pingecho(c, data, len);
}

const fray_handler_t fray_example_fixed_oneread = {
    .name = "fixed-oneread",
    .summary = "the fixed twin of buggy-oneread",
    .spec = {.mode = FRAY_MODE_DELIM, .max_frame = 1024, .delim = {.bytes = "\r\n", .len = 2}},
    .on_frame = oneread_fixed_frame,
};
