/* Two RESP (Redis protocol) servers whose multibulk parser goes wrong when
 * a command spans reads: buggy-bulkcount and buggy-errsplit (and their
 * fixed twins, one parser here).
 *
 * Protocol: RESP arrays of bulk strings, "*N\r\n" then N times "$LEN\r\n"
 * + LEN bytes + "\r\n" (N up to 4, LEN up to 128). PING -> "+PONG", ECHO
 * x -> the bulk string x, else "-ERR unknown command". A malformed command
 * -> "-ERR Protocol error: ..." and the connection closes, as redis-server
 * does.
 *
 * buggy-bulkcount. THE BUG: when a read ends right after one argument of a
 * command, with more arguments due, the parser looks for the next "$LEN"
 * line in an empty buffer and reports "too big bulk count string". Seen
 * in: redis/redis#673 ("if you get buffer ending exactly before next bulk
 * string count ... instead of returning from method it will signal 'too
 * big bulk count string'"). HOW FRAY FINDS IT: a cut after any "\r\n"
 * inside a command (boundary, biased, stretch, prefix).
 *
 * buggy-errsplit. THE BUG: a protocol error found in a command whose first
 * bytes came in an earlier read is recorded but never reported: the client
 * waits for an answer that does not come. Seen in: redis/redis#15795
 * ("Report protocol errors detected after a partial read": "The same bytes
 * are reported correctly when they arrive in a single read"). HOW FRAY
 * FINDS IT: a cut inside the malformed command before its bad field.
 *
 * THE FIX (fixed-*): wait for more bytes when the buffer runs out between
 * arguments; report an error however the command was cut. */
#include <stdio.h>
#include <string.h>

#include "twins.h"

#define RESPBULK_BUF 512
#define RESPBULK_ARGS 4
#define RESPBULK_ARG 128

typedef enum respbulk_bug { RESPBULK_COUNT, RESPBULK_ERRSPLIT } respbulk_bug_t;

typedef struct respbulk_conn {
  size_t len, multibulk, argc;
  long bulklen;   /* -1: the next "$LEN" line is due */
  int carried;    /* the command being parsed began in an earlier read */
  int swallowing; /* buggy-errsplit: an unreported error; input is ignored */
  size_t arglen[RESPBULK_ARGS];
  uint8_t arg[RESPBULK_ARGS][RESPBULK_ARG];
  uint8_t buf[RESPBULK_BUF];
} respbulk_conn_t;

/* The "\r\n" at or after pos, or SIZE_MAX. */
static size_t respbulk_crlf(const respbulk_conn_t *st, size_t pos) {
  for (size_t i = pos; i + 1 < st->len; i++)
    if (st->buf[i] == '\r' && st->buf[i + 1] == '\n')
      return i;
  return SIZE_MAX;
}

/* The number in buf[pos + 1 .. nl) after the type byte t, or -1. */
static long respbulk_number(const respbulk_conn_t *st, size_t pos, size_t nl, uint8_t t) {
  long n = 0;
  if (st->buf[pos] != t || nl == pos + 1 || nl - pos > 6)
    return -1;
  for (size_t i = pos + 1; i < nl; i++) {
    if (st->buf[i] < '0' || st->buf[i] > '9')
      return -1;
    n = n * 10 + (st->buf[i] - '0');
  }
  return n;
}

/* A protocol error: reported and the connection closed (a reply that
 * cannot be queued changes nothing: it closes all the same), except by
 * buggy-errsplit in a command carried over from an earlier read. */
static void respbulk_error(fray_conn_t *c, respbulk_conn_t *st, respbulk_bug_t bug,
                           const char *why) {
  if (bug == RESPBULK_ERRSPLIT && st->carried && !fray_example_is_fixed(c)) {
    st->swallowing = 1; /* BUG: recorded, never reported */
    return;
  }
  (void)fray_conn_sendf(c, "-ERR Protocol error: %s\r\n", why);
  fray_conn_close(c);
}

static int respbulk_exec(fray_conn_t *c, respbulk_conn_t *st) {
  st->multibulk = 0;
  st->carried = 0;
  if (st->arglen[0] == 4 && !memcmp(st->arg[0], "PING", 4))
    return fray_conn_send(c, "+PONG\r\n", 7);
  if (st->argc == 2 && st->arglen[0] == 4 && !memcmp(st->arg[0], "ECHO", 4)) {
    int r = fray_conn_sendf(c, "$%zu\r\n", st->arglen[1]);
    if (!r)
      r = fray_conn_send(c, st->arg[1], st->arglen[1]);
    return r ? r : fray_conn_send(c, "\r\n", 2);
  }
  return fray_conn_send(c, "-ERR unknown command\r\n", 22);
}

/* Parses the arguments of the current command from *pos. Returns 1 when
 * they are all in, 0 when more bytes are needed, -1 after an error. */
static int respbulk_args(fray_conn_t *c, respbulk_conn_t *st, respbulk_bug_t bug, size_t *pos) {
  while (st->argc < st->multibulk) {
    if (st->bulklen < 0) {
      if (bug == RESPBULK_COUNT && *pos == st->len && !fray_example_is_fixed(c)) {
        respbulk_error(c, st, bug, "too big bulk count string"); /* BUG: it is not due yet */
        return -1;
      }
      size_t nl = respbulk_crlf(st, *pos);
      if (nl == SIZE_MAX)
        return 0;
      st->bulklen = respbulk_number(st, *pos, nl, '$');
      if (st->bulklen < 0 || st->bulklen > RESPBULK_ARG) {
        respbulk_error(c, st, bug, "invalid bulk length");
        return -1;
      }
      *pos = nl + 2;
    }
    if (st->len - *pos < (size_t)st->bulklen + 2)
      return 0;
    memcpy(st->arg[st->argc], st->buf + *pos, (size_t)st->bulklen);
    st->arglen[st->argc++] = (size_t)st->bulklen;
    *pos += (size_t)st->bulklen + 2;
    st->bulklen = -1;
  }
  return 1;
}

/* Runs every complete command in the buffer; keeps the rest. */
static int respbulk_parse(fray_conn_t *c, respbulk_conn_t *st, respbulk_bug_t bug) {
  size_t pos = 0;
  while (pos < st->len && !st->swallowing && fray_conn_state(c) == FRAY_CONN_OPEN) {
    if (st->multibulk == 0) {
      size_t nl = respbulk_crlf(st, pos);
      if (nl == SIZE_MAX)
        break;
      long n = respbulk_number(st, pos, nl, '*');
      if (n < 1 || n > RESPBULK_ARGS) {
        respbulk_error(c, st, bug, "invalid multibulk length");
        break;
      }
      st->multibulk = (size_t)n;
      st->argc = 0;
      st->bulklen = -1;
      pos = nl + 2;
    }
    if (respbulk_args(c, st, bug, &pos) <= 0)
      break;
    int r = respbulk_exec(c, st);
    if (r)
      return r;
  }
  memmove(st->buf, st->buf + pos, st->len - pos);
  st->len -= pos;
  st->carried = st->multibulk > 0 || st->len > 0;
  return 0;
}

static int respbulk_feed(fray_conn_t *c, respbulk_conn_t *st, const uint8_t *data, size_t len,
                         respbulk_bug_t bug) {
  while (len > 0 && !st->swallowing && fray_conn_state(c) == FRAY_CONN_OPEN) {
    if (st->len == sizeof st->buf) {
      respbulk_error(c, st, bug, "too big request");
      return 0;
    }
    size_t k = len < sizeof st->buf - st->len ? len : sizeof st->buf - st->len;
    memcpy(st->buf + st->len, data, k);
    st->len += k;
    data += k;
    len -= k;
    int r = respbulk_parse(c, st, bug);
    if (r)
      return r;
  }
  return 0;
}

static int bulkcount_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  return respbulk_feed(c, vst, data, len, RESPBULK_COUNT);
}

static int errsplit_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  return respbulk_feed(c, vst, data, len, RESPBULK_ERRSPLIT);
}

FRAY_EXAMPLE_TWINS(bulkcount, "bulkcount",
                   "RESP parser that fails a command when a read ends between its arguments",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(respbulk_conn_t),
                   .on_frame = bulkcount_frame);
FRAY_EXAMPLE_TWINS(errsplit, "errsplit",
                   "RESP parser that never reports an error in a command cut across reads",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(respbulk_conn_t),
                   .on_frame = errsplit_frame);
