/* buggy-headbody: reads on with headers when the body came with the head.
 *
 * Protocol (a cut-down HTTP/1.1): "METHOD target HTTP/1.x", header lines,
 * an empty line, then Content-Length bytes of body. Answer: "HTTP/1.1 200
 * OK\r\nContent-Length: N\r\n\r\n" + the body, or + the target when there
 * is no body. Lines over 256 bytes or bodies over 1024 -> 413 and close.
 *
 * THE BUG: the head is read line by line; at the empty line that ends it,
 * the handler checks whether more bytes are left in the current read and,
 * if so, takes them for more header lines instead of the body. Clients that
 * pause between head and body (most, on a LAN) send them in two packets and
 * work; one that writes both at once (or a pipelined next request) hangs.
 * Seen in: xrootd/xrootd#2273 ("After the \r\n, the client has indicated the
 * end-of-headers and the remainder of the buffer is the body"; "many
 * clients have a slight pause between the headers and the body").
 *
 * HOW FRAY FINDS IT: the head's send merged with the body's (coalesce,
 * merge, boundary, prefix, biased); cuts alone pass.
 *
 * THE FIX (fixed-headbody): the empty line ends the head, whatever follows. */
#include <stdio.h>
#include <string.h>

#include "twins.h"

#define HEADBODY_LINE 256
#define HEADBODY_BODY 1024

typedef struct headbody_conn {
  int in_body, seen_request_line;
  size_t need, blen, len;
  char target[64];
  uint8_t line[HEADBODY_LINE];
  uint8_t body[HEADBODY_BODY];
} headbody_conn_t;

static int headbody_refuse(fray_conn_t *c, int status, const char *reason) {
  int r = fray_conn_sendf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", status, reason);
  fray_conn_close(c);
  return r;
}

static int headbody_reply(fray_conn_t *c, const void *body, size_t len) {
  int r = fray_conn_sendf(c, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", len);
  return r ? r : fray_conn_send(c, body, len);
}

/* One head line (without "\r\n"); more_in_read: bytes follow it in this read. */
static int headbody_line(fray_conn_t *c, headbody_conn_t *st, int more_in_read) {
  char text[HEADBODY_LINE + 1], method[16], version[16];
  unsigned long n;
  memcpy(text, st->line, st->len);
  text[st->len] = '\0';
  if (!st->seen_request_line) {
    st->seen_request_line = 1;
    st->need = 0;
    if (sscanf(text, "%15s %63s %15s", method, st->target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7))
      return headbody_refuse(c, 400, "Bad Request");
    return 0;
  }
  if (st->len > 0) {
    if (sscanf(text, "Content-Length: %lu", &n) == 1) {
      if (n > HEADBODY_BODY)
        return headbody_refuse(c, 413, "Content Too Large");
      st->need = n;
    }
    return 0;
  }
  if (more_in_read && !fray_example_is_fixed(c))
    return 0; /* BUG: the bytes after the empty line are read as more headers */
  st->seen_request_line = 0;
  st->blen = 0;
  st->in_body = st->need > 0;
  return st->in_body ? 0 : headbody_reply(c, st->target, strlen(st->target));
}

static int headbody_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  headbody_conn_t *st = vst;
  for (size_t i = 0; i < len && fray_conn_state(c) == FRAY_CONN_OPEN; i++) {
    int r = 0;
    if (st->in_body) {
      st->body[st->blen++] = data[i];
      if (--st->need == 0) {
        st->in_body = 0;
        r = headbody_reply(c, st->body, st->blen);
      }
    } else if (st->len == sizeof st->line) {
      return headbody_refuse(c, 413, "Content Too Large");
    } else {
      st->line[st->len++] = data[i];
      if (st->len >= 2 && st->line[st->len - 2] == '\r' && st->line[st->len - 1] == '\n') {
        st->len -= 2;
        r = headbody_line(c, st, i + 1 < len);
        st->len = 0;
      }
    }
    if (r)
      return r;
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(headbody, "headbody",
                   "HTTP-like; parses a body that came in the head's read as more headers",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(headbody_conn_t),
                   .on_frame = headbody_frame);
