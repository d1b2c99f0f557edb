/* buggy-crlfsplit: a "\r\n" cut between two reads ends two lines.
 *
 * Protocol: PING/ECHO (twins.h), lines ended by "\r\n", "\n" or a lone
 * "\r" (old telnet clients send that), as libevent's EVBUFFER_EOL_ANY
 * reads them.
 *
 * THE BUG: a line ends at "\r" or "\n"; a "\n" right after a "\r" belongs
 * to the same line end and is skipped. Whether the last byte was a "\r" is
 * a flag the handler clears at the start of every read, so when the
 * network cuts "\r" | "\n" the "\n" ends a second, empty line, answered
 * "ERR unknown command". Seen in: mjc-gh/rev_lines#18 ("carriage return was
 * not handled correctly when CR+LF combo is split between buffer reads"),
 * Cysharp/Utf8StreamReader#5 (the CR left on the line when the LF comes in
 * the next buffer), kolodny/crlf#3.
 *
 * HOW FRAY FINDS IT: a cut between "\r" and "\n" (delim, biased, stretch).
 *
 * THE FIX (fixed-crlfsplit): keep the flag across reads. */
#include "twins.h"

#define CRLFSPLIT_MAX 256

typedef struct crlfsplit_conn {
  int after_cr; /* the last byte ended a line with "\r" */
  size_t len;
  uint8_t buf[CRLFSPLIT_MAX];
} crlfsplit_conn_t;

static int crlfsplit_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  crlfsplit_conn_t *st = vst;
  if (!fray_example_is_fixed(c))
    st->after_cr = 0; /* BUG: the "\r" of the previous read is forgotten */
  for (size_t i = 0; i < len; i++) {
    uint8_t b = data[i];
    int skip = b == '\n' && st->after_cr;
    st->after_cr = b == '\r';
    if (skip)
      continue;
    if (b == '\r' || b == '\n') {
      int r = fray_example_pingecho(c, st->buf, st->len);
      st->len = 0;
      if (r)
        return r;
    } else if (st->len < sizeof st->buf) {
      st->buf[st->len++] = b; /* an over-long line is cut short */
    }
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(crlfsplit, "crlfsplit",
                   "takes \"\\r\" | \"\\n\" cut between reads for two line ends",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(crlfsplit_conn_t),
                   .on_frame = crlfsplit_frame);
