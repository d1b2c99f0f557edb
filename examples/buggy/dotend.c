/* buggy-dotend: misses an SMTP end of data ("\r\n.\r\n") cut between reads.
 *
 * Protocol (an SMTP subset): "HELO name" -> "250 hello name"; "DATA" ->
 * "354 end with <CRLF>.<CRLF>", then the message up to a line holding only
 * "." -> "250 OK N bytes" (N: the message without that line); "QUIT" ->
 * "221 bye" and close; else "500 unknown command". Lines end in "\r\n". A
 * message over 2048 bytes -> "552 too big" and close.
 *
 * THE BUG: the message is collected across reads and the 5-byte end
 * marker is searched from one byte before each read's new bytes: the fix
 * for a 2-byte "\r\n" split across reads, applied to a 5-byte marker. A
 * marker cut after its second byte or later is never found and the client
 * waits for "250" forever. Seen in: epics-modules/asyn#182 (its terminator
 * logic "correctly handles the case of a 2-character terminator"; longer
 * ones need the partial match kept across chunks), TheFox/smtpd#15 (a
 * separator "broken over multiple packets" hangs the server).
 *
 * HOW FRAY FINDS IT: a cut inside the marker past its first "\r\n"
 * (boundary: after its first "\n"; delim; biased; stretch).
 *
 * THE FIX (fixed-dotend): resume 4 bytes (marker length - 1) before. */
#include <stdio.h>
#include <string.h>

#include "twins.h"

#define DOTEND_LINE 256
#define DOTEND_DATA 2048

typedef struct dotend_conn {
  int in_data;
  size_t len; /* of line[], or of data[] in data mode */
  uint8_t line[DOTEND_LINE];
  uint8_t data[DOTEND_DATA];
} dotend_conn_t;

static int dotend_command(fray_conn_t *c, dotend_conn_t *st, const uint8_t *p, size_t len) {
  if (len > 5 && !memcmp(p, "HELO ", 5))
    return fray_conn_sendf(c, "250 hello %.*s\r\n", (int)(len - 5), (const char *)p + 5);
  if (len == 4 && !memcmp(p, "DATA", 4)) {
    st->in_data = 1;
    memcpy(st->data, "\r\n", 2); /* the DATA line's own "\r\n" may start the marker */
    st->len = 2;
    return fray_conn_send(c, "354 end with <CRLF>.<CRLF>\r\n", 28);
  }
  if (len == 4 && !memcmp(p, "QUIT", 4)) {
    int r = fray_conn_send(c, "221 bye\r\n", 9);
    fray_conn_close(c);
    return r;
  }
  return fray_conn_send(c, "500 unknown command\r\n", 21);
}

/* Message bytes; returns how many of data[0..len) it took, or < 0. */
static fray_ssize_t dotend_data(fray_conn_t *c, dotend_conn_t *st, const uint8_t *d, size_t len) {
  size_t back = fray_example_is_fixed(c) ? 4 : 1; /* BUG (buggy-dotend): 1 */
  size_t from = st->len > back ? st->len - back : 0;
  size_t k = len < sizeof st->data - st->len ? len : sizeof st->data - st->len;
  memcpy(st->data + st->len, d, k);
  st->len += k;
  for (size_t i = from; i + 5 <= st->len; i++) {
    if (memcmp(st->data + i, "\r\n.\r\n", 5))
      continue;
    size_t used = k - (st->len - (i + 5)); /* the bytes after the marker go back */
    st->in_data = 0;
    st->len = 0;
    int r = fray_conn_sendf(c, "250 OK %zu bytes\r\n", i);
    return r ? r : (fray_ssize_t)used;
  }
  if (st->len == sizeof st->data) {
    int r = fray_conn_send(c, "552 too big\r\n", 13);
    fray_conn_close(c);
    return r ? r : (fray_ssize_t)k;
  }
  return (fray_ssize_t)k;
}

static int dotend_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  dotend_conn_t *st = vst;
  while (len > 0 && fray_conn_state(c) == FRAY_CONN_OPEN) {
    if (st->in_data) {
      fray_ssize_t k = dotend_data(c, st, data, len);
      if (k < 0)
        return (int)k;
      data += k;
      len -= (size_t)k;
      continue;
    }
    if (st->len == sizeof st->line) {
      int r = fray_conn_send(c, "500 line too long\r\n", 19);
      fray_conn_close(c);
      return r;
    }
    st->line[st->len++] = *data++;
    len--;
    if (st->len >= 2 && st->line[st->len - 2] == '\r' && st->line[st->len - 1] == '\n') {
      size_t n = st->len - 2;
      st->len = 0;
      int r = dotend_command(c, st, st->line, n);
      if (r)
        return r;
    }
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(dotend, "dotend",
                   "SMTP-like; misses a \\r\\n.\\r\\n end of data cut between reads",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(dotend_conn_t),
                   .on_frame = dotend_frame);
