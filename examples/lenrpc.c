/* lenrpc: length-prefixed binary RPC, the "length field" framing case.
 *
 * Every request and every response is a 4-byte big-endian length, then
 * that many payload bytes. A request's payload is an opcode byte and its
 * argument; a response's is a status byte and its result:
 *   op 0x01 ECHO     -> status 0x00, the argument
 *   op 0x02 REVERSE  -> status 0x00, the argument reversed
 *   op 0x03 SUM      -> status 0x00, the 4-byte big-endian sum of the argument's bytes
 *   empty payload    -> status 0x01 "empty"
 *   other opcodes    -> status 0x02 "unknown op"
 * A length over LENRPC_MAX (64 KiB) is never allocated: the framer rejects
 * it before buffering (FRAY_EBADLEN), the server answers status 0x03 "too
 * long" and closes, since nothing after a lying length can be trusted
 * (compare buggy/trustlen.c). A request cut off by end of stream gets no
 * answer. */
#include <string.h>

#include "examples.h"

#define LENRPC_MAX 65536

/* The response header: length (status byte included) and status. */
static int lenrpc_head(fray_conn_t *c, uint8_t status, size_t len) {
  uint8_t head[5];
  uint32_t n = (uint32_t)len + 1;
  head[0] = (uint8_t)(n >> 24);
  head[1] = (uint8_t)(n >> 16);
  head[2] = (uint8_t)(n >> 8);
  head[3] = (uint8_t)n;
  head[4] = status;
  return fray_conn_send(c, head, sizeof head);
}

static int lenrpc_reply(fray_conn_t *c, uint8_t status, const uint8_t *p, size_t len) {
  int r = lenrpc_head(c, status, len);
  return r ? r : fray_conn_send(c, p, len);
}

static int lenrpc_frame(fray_conn_t *c, const uint8_t *p, size_t len, void *st) {
  (void)st;
  if (len == 0)
    return lenrpc_reply(c, 0x01, (const uint8_t *)"empty", 5);
  const uint8_t *arg = p + 1;
  size_t alen = len - 1;
  switch (p[0]) {
  case 0x01:
    return lenrpc_reply(c, 0x00, arg, alen);
  case 0x02: {
    /* Reversed in small pieces: no 64 KiB array on the stack. */
    int r = lenrpc_head(c, 0x00, alen);
    if (r)
      return r;
    uint8_t piece[256];
    for (size_t done = 0; done < alen;) {
      size_t k = alen - done < sizeof piece ? alen - done : sizeof piece;
      for (size_t i = 0; i < k; i++)
        piece[i] = arg[alen - 1 - done - i];
      if ((r = fray_conn_send(c, piece, k)) != 0)
        return r;
      done += k;
    }
    return 0;
  }
  case 0x03: {
    uint32_t sum = 0;
    for (size_t i = 0; i < alen; i++)
      sum += arg[i];
    uint8_t be[4] = {(uint8_t)(sum >> 24), (uint8_t)(sum >> 16), (uint8_t)(sum >> 8), (uint8_t)sum};
    return lenrpc_reply(c, 0x00, be, 4);
  }
  default:
    return lenrpc_reply(c, 0x02, (const uint8_t *)"unknown op", 10);
  }
}

static int lenrpc_error(fray_conn_t *c, const fray_frame_error_t *err, void *st) {
  (void)st;
  (void)err;
  return lenrpc_reply(c, 0x03, (const uint8_t *)"too long", 8);
}

const fray_handler_t fray_example_lenrpc = {
    .name = "lenrpc",
    .summary = "4-byte big-endian length-prefixed RPC: ECHO, REVERSE, SUM (max 64 KiB)",
    .spec =
        {.mode = FRAY_MODE_LENGTH,
         .max_frame = LENRPC_MAX,
         .on_overflow = FRAY_OVERFLOW_ERROR,
         .length = {.field = FRAY_LEN_U32BE, .offset = 0, .adjust = 0, .strip = FRAY_STRIP_HEADER}},
    .on_frame = lenrpc_frame,
    .on_error = lenrpc_error,
};
