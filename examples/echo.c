/* echo: every line comes back, followed by "\r\n".
 *
 * Lines end with "\n" (one "\r" before it is stripped) and may hold up to
 * ECHO_MAX_LINE bytes; a longer line is answered with "ERR line too long"
 * and skipped up to its "\n", and the connection goes on. A last line that
 * the peer never finished is not echoed: it was never a line. */
#include "examples.h"

#define ECHO_MAX_LINE 1024

/* The reply is framed by the connection's own spec: line mode ends it with
 * "\r\n" (fray_spec_wrap), and the line fits, being at most max_frame. */
static int echo_frame(fray_conn_t *c, const uint8_t *line, size_t len, void *st) {
  (void)st;
  return fray_conn_send_frame(c, line, len);
}

static int echo_error(fray_conn_t *c, const fray_frame_error_t *err, void *st) {
  (void)st;
  (void)err;
  /* Only overflow reaches here (line mode has no other error), and the
   * spec skips it: say so and go on. */
  return fray_conn_send(c, "ERR line too long\r\n", 19);
}

const fray_handler_t fray_example_echo = {
    .name = "echo",
    .summary = "echoes each line (max 1024 bytes; longer ones answered with ERR and skipped)",
    .spec = {.mode = FRAY_MODE_LINE,
             .max_frame = ECHO_MAX_LINE,
             .on_overflow = FRAY_OVERFLOW_SKIP,
             .delim = {.bytes = "\n", .len = 1}},
    .on_frame = echo_frame,
    .on_error = echo_error,
};
