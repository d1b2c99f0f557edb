/* buggy-chunkcrlf: expects a chunk's trailing "\r\n" in the chunk's read.
 *
 * Protocol (HTTP/1.1 chunked transfer coding, for uploads): "PUT name" +
 * "\r\n", then chunks "HEX\r\n" + HEX bytes + "\r\n", ended by "0\r\n\r\n".
 * Answer: "201 name N" + "\r\n", N the bytes received. A bad chunk size or a
 * missing "\r\n" after a chunk -> "400 bad chunk" and close. Other lines ->
 * "400 bad request" and close.
 *
 * THE BUG: the parser goes byte by byte and keeps its state across reads,
 * except at one place: when a chunk's data ends exactly at the end of a
 * read, it assumes the "\r\n" after the data was already checked and goes
 * straight to the next size line, where that "\r\n" arrives as an empty size
 * line: "400 bad chunk". Seen in: heroku/vegur#82 ("CRLF on package
 * boundaries": "a tricky bug when CR comes just before package boundaries
 * as a part of CRLF"), cosimo/perl6-lwp-simple#29 ("If a chunk header line
 * fell on a buffer boundary just right, parsing would fail"),
 * benoitc/hackney#912.
 *
 * HOW FRAY FINDS IT: a cut right after a chunk's data (biased cuts next to
 * "\r"; stretch; prefix).
 *
 * THE FIX (fixed-chunkcrlf): the data's "\r\n" is a state like the others. */
#include <stdio.h>
#include <string.h>

#include "twins.h"

#define CHUNKCRLF_LINE 64

typedef enum chunkcrlf_state { CC_REQUEST, CC_SIZE, CC_DATA, CC_DATA_CRLF, CC_TRAILER } cc_state_t;

typedef struct chunkcrlf_conn {
  cc_state_t state;
  size_t len, left, total, crlf;
  char name[CHUNKCRLF_LINE];
  uint8_t line[CHUNKCRLF_LINE];
} chunkcrlf_conn_t;

static int chunkcrlf_fail(fray_conn_t *c, const char *why) {
  int r = fray_conn_sendf(c, "400 %s\r\n", why);
  fray_conn_close(c);
  return r;
}

/* A complete line (without "\r\n") in state REQUEST, SIZE or TRAILER. */
static int chunkcrlf_line(fray_conn_t *c, chunkcrlf_conn_t *st, const char *text) {
  unsigned long n;
  char tail;
  switch (st->state) {
  case CC_REQUEST:
    if (sscanf(text, "PUT %63s%c", st->name, &tail) != 1)
      return chunkcrlf_fail(c, "bad request");
    st->total = 0;
    st->state = CC_SIZE;
    return 0;
  case CC_SIZE:
    if (sscanf(text, "%lx%c", &n, &tail) != 1 || n > 65536)
      return chunkcrlf_fail(c, "bad chunk");
    st->left = n;
    st->state = n ? CC_DATA : CC_TRAILER;
    return 0;
  default: /* the trailer: an empty line ends the upload */
    if (text[0])
      return 0;
    st->state = CC_REQUEST;
    return fray_conn_sendf(c, "201 %s %zu\r\n", st->name, st->total);
  }
}

static int chunkcrlf_byte(fray_conn_t *c, chunkcrlf_conn_t *st, uint8_t b, int last_in_read) {
  if (st->state == CC_DATA) {
    st->total++;
    if (--st->left == 0) {
      st->crlf = 0;
      st->state = CC_DATA_CRLF;
      if (last_in_read && !fray_example_is_fixed(c))
        st->state = CC_SIZE; /* BUG: the "\r\n" after the data taken as read */
    }
    return 0;
  }
  if (st->state == CC_DATA_CRLF) {
    if (b != "\r\n"[st->crlf++])
      return chunkcrlf_fail(c, "bad chunk");
    if (st->crlf == 2)
      st->state = CC_SIZE;
    return 0;
  }
  if (st->len == sizeof st->line)
    return chunkcrlf_fail(c, "bad request");
  st->line[st->len++] = b;
  if (st->len < 2 || st->line[st->len - 2] != '\r' || b != '\n')
    return 0;
  char text[CHUNKCRLF_LINE];
  memcpy(text, st->line, st->len - 2);
  text[st->len - 2] = '\0';
  st->len = 0;
  return chunkcrlf_line(c, st, text);
}

static int chunkcrlf_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  for (size_t i = 0; i < len && fray_conn_state(c) == FRAY_CONN_OPEN; i++) {
    int r = chunkcrlf_byte(c, vst, data[i], i + 1 == len);
    if (r)
      return r;
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(chunkcrlf, "chunkcrlf",
                   "chunked upload that fails when a read ends right after a chunk's data",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(chunkcrlf_conn_t),
                   .on_frame = chunkcrlf_frame);
