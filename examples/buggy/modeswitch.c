/* buggy-modeswitch: forgets buffered bytes when switching to the body.
 *
 * Protocol: a cut-down http (see ../http.c): "METHOD target HTTP/1.1",
 * header lines, an empty line, then Content-Length bytes of body. Answer:
 * "HTTP/1.1 200 OK\r\nContent-Length: N\r\n\r\n" + the body, or the target
 * when there is no body; 400 and close on a bad request line, 413 and close
 * on a head over 1024 bytes or a body over 4096.
 *
 * THE BUG: the handler frames by hand (raw reads). It collects the head in
 * a buffer until "\r\n\r\n" (correctly, across reads), then switches to
 * "body mode" and empties the head buffer, forgetting that the read which
 * completed the head may have carried bytes after "\r\n\r\n": the start of
 * the body, or the next pipelined request. Clients that write the head and
 * the body separately, and wait for each answer, never notice.
 *
 * HOW FRAY FINDS IT: a schedule that merges the head's send with the
 * body's send (or with the next request's) into one read (random merges):
 * the body is lost, the server waits for bytes that never come and the
 * answer is missing. Cuts alone do not find it: the head's last read always
 * ends at its "\r\n\r\n".
 *
 * THE FIX (fixed-modeswitch): after the head, go on with the bytes that
 * follow "\r\n\r\n" in the buffer, or let the framer switch
 * (fray_conn_set_spec from on_frame applies to bytes already buffered). */
#include <stdio.h>
#include <string.h>

#include "twins.h"

#define MODESWITCH_HEAD 1024
#define MODESWITCH_BODY 4096

typedef struct modeswitch_conn {
  int in_body;
  size_t hlen, need, blen;
  char target[64];
  uint8_t head[MODESWITCH_HEAD];
  uint8_t body[MODESWITCH_BODY];
} modeswitch_conn_t;

static int modeswitch_fail(fray_conn_t *c, int status, const char *reason) {
  int r = fray_conn_sendf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                          status, reason);
  fray_conn_close(c);
  return r;
}

static int modeswitch_reply(fray_conn_t *c, const void *body, size_t len) {
  int r = fray_conn_sendf(c, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", len);
  return r ? r : fray_conn_send(c, body, len);
}

/* Parses the head (without "\r\n\r\n"): the target and Content-Length. */
static int modeswitch_head(fray_conn_t *c, modeswitch_conn_t *st, size_t end) {
  char line[MODESWITCH_HEAD + 1];
  memcpy(line, st->head, end);
  line[end] = '\0';
  char method[16], version[16];
  if (memchr(st->head, '\0', end) ||
      sscanf(line, "%15s %63s %15s", method, st->target, version) != 3 ||
      strncmp(version, "HTTP/1.", 7) != 0)
    return modeswitch_fail(c, 400, "Bad Request");
  st->need = 0;
  for (char *h = strstr(line, "\r\n"); h; h = strstr(h + 2, "\r\n")) {
    unsigned long n;
    if (sscanf(h + 2, "Content-Length: %lu", &n) == 1) {
      if (n > MODESWITCH_BODY)
        return modeswitch_fail(c, 413, "Content Too Large");
      st->need = n;
    }
  }
  st->in_body = st->need > 0;
  st->blen = 0;
  return st->in_body ? 0 : modeswitch_reply(c, st->target, strlen(st->target));
}

static int modeswitch_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  modeswitch_conn_t *st = vst;
  while (len > 0 && fray_conn_state(c) == FRAY_CONN_OPEN) {
    if (st->in_body) {
      size_t k = len < st->need ? len : st->need;
      memcpy(st->body + st->blen, data, k);
      st->blen += k;
      st->need -= k;
      data += k;
      len -= k;
      if (st->need == 0) {
        st->in_body = 0;
        int r = modeswitch_reply(c, st->body, st->blen);
        if (r)
          return r;
      }
      continue;
    }
    size_t k = len < sizeof st->head - st->hlen ? len : sizeof st->head - st->hlen;
    size_t from = st->hlen > 3 ? st->hlen - 3 : 0; /* the seam is handled right */
    memcpy(st->head + st->hlen, data, k);
    st->hlen += k;
    data += k;
    len -= k;
    size_t end = 0;
    int found = 0;
    for (size_t i = from; i + 4 <= st->hlen && !found; i++)
      if (!memcmp(st->head + i, "\r\n\r\n", 4))
        found = 1, end = i;
    if (!found) {
      if (st->hlen == sizeof st->head)
        return modeswitch_fail(c, 413, "Content Too Large");
      continue;
    }
    /* head[end + 4 .. hlen) is the start of what follows: the last bytes
     * just copied from data (the terminator ends in them). */
    if (fray_example_is_fixed(c)) {
      size_t rest = st->hlen - (end + 4);
      data -= rest;
      len += rest;
    }
    st->hlen = 0; /* BUG (buggy-modeswitch): without the lines above, the rest is lost */
    int r = modeswitch_head(c, st, end);
    if (r)
      return r;
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(modeswitch, "modeswitch",
                   "HTTP-like; drops body bytes that came in the same read as the head",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(modeswitch_conn_t),
                   .on_frame = modeswitch_frame);
