/* buggy-hdrsplit: looks for the end of a request head in the new bytes only.
 *
 * Protocol (a cut-down HTTP/1.1 without bodies): "METHOD target HTTP/1.x",
 * header lines, an empty line. Answer: "HTTP/1.1 200 OK\r\nContent-Length:
 * N\r\n\r\n" + the target; a bad request line -> 400, a head over 1024
 * bytes -> 431; both close. Pipelined requests are answered in order.
 *
 * THE BUG: the head is collected across reads, correctly, but the "\r\n\r\n"
 * that ends it is searched for in the bytes of the current read only. When
 * the network cuts it ("...\r\n" | "\r\n", or inside either pair) it is never
 * found and the request is never answered. Seen in: janet-lang/spork#71
 * ("the previous implementation would fail if \r\n\r\n weren't sent in a
 * single packet"), tailhook/libwebsite#4 ("End of headers not detected if
 * they come in more than one read()"), KaneCheshire/Peasy#16.
 *
 * HOW FRAY FINDS IT: a cut inside the final "\r\n\r\n" (delim, biased,
 * stretch, boundary: a cut after its first "\n").
 *
 * THE FIX (fixed-hdrsplit): resume the search 3 bytes before the new ones. */
#include <stdio.h>
#include <string.h>

#include "twins.h"

#define HDRSPLIT_HEAD 1024

typedef struct hdrsplit_conn {
  size_t len;
  uint8_t head[HDRSPLIT_HEAD];
} hdrsplit_conn_t;

/* Answers the head head[0..end) (without its "\r\n\r\n"). */
static int hdrsplit_answer(fray_conn_t *c, const uint8_t *head, size_t end) {
  char line[HDRSPLIT_HEAD + 1], method[16], target[256], version[16];
  memcpy(line, head, end);
  line[end] = '\0';
  if (memchr(head, '\0', end) || sscanf(line, "%15s %255s %15s", method, target, version) != 3 ||
      strncmp(version, "HTTP/1.", 7)) {
    int r = fray_conn_sendf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    fray_conn_close(c);
    return r;
  }
  return fray_conn_sendf(c, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(target),
                         target);
}

static int hdrsplit_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  hdrsplit_conn_t *st = vst;
  while (len > 0 && fray_conn_state(c) == FRAY_CONN_OPEN) {
    size_t k = len < sizeof st->head - st->len ? len : sizeof st->head - st->len;
    size_t from = st->len; /* BUG (buggy-hdrsplit): a terminator across reads is missed */
    if (fray_example_is_fixed(c))
      from = from > 3 ? from - 3 : 0;
    memcpy(st->head + st->len, data, k);
    st->len += k;
    data += k;
    len -= k;
    for (size_t i = from; i + 4 <= st->len;) {
      if (memcmp(st->head + i, "\r\n\r\n", 4)) {
        i++;
        continue;
      }
      int r = hdrsplit_answer(c, st->head, i);
      memmove(st->head, st->head + i + 4, st->len - i - 4);
      st->len -= i + 4;
      if (r || fray_conn_state(c) != FRAY_CONN_OPEN)
        return r;
      i = 0; /* the next request is searched from its start */
    }
    if (st->len == sizeof st->head) {
      int r = fray_conn_sendf(c, "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                 "Content-Length: 0\r\n\r\n");
      fray_conn_close(c);
      return r;
    }
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(hdrsplit, "hdrsplit",
                   "HTTP-like; misses a \\r\\n\\r\\n head end cut between two reads",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(hdrsplit_conn_t),
                   .on_frame = hdrsplit_frame);
