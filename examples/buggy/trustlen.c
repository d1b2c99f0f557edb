/* buggy-trustlen: allocates whatever the length field says.
 *
 * Protocol: as lenrpc's framing (4-byte big-endian length, then payload)
 * but simpler: every request's payload comes back as the response, framed
 * the same way.
 *
 * THE BUG: the handler frames by hand (raw reads; the header is collected
 * correctly across reads) and mallocs the announced length with no
 * maximum. A peer that sends 4 bytes "ff ff ff f0" makes the server reserve
 * 4 GiB and wait for it; a few such connections exhaust memory. Every
 * honest client sends honest lengths, so no functional test sees it, and
 * no schedule does either: the bytes are the problem, not their cutting.
 *
 * HOW FRAY FINDS IT: the malformed-input mode of the fuzzing work
 * (mutations that flip or enlarge the length field) together with a memory
 * bound: libFuzzer's -malloc_limit_mb, or ASan's allocation limits. This
 * handler and corpus/buggy/trustlen-*.fray are its test material; the
 * scripts here all pass under every schedule.
 *
 * THE FIX: reject a length over a maximum before allocating (and close:
 * the stream cannot be resynchronised), as FRAY_MODE_LENGTH does with
 * max_frame (see ../lenrpc.c). */
#include <stdlib.h>
#include <string.h>

#include "../examples.h"

typedef struct trustlen_conn {
  uint8_t hdr[4];
  size_t hlen;  /* header bytes collected */
  uint8_t *buf; /* the payload being collected, need bytes */
  size_t need, have;
} trustlen_conn_t;

static int trustlen_reply(fray_conn_t *c, trustlen_conn_t *st) {
  int r = fray_conn_send(c, st->hdr, 4);
  if (!r)
    r = fray_conn_send(c, st->buf, st->have);
  free(st->buf);
  st->buf = NULL;
  st->hlen = st->need = st->have = 0;
  return r;
}

static int trustlen_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  trustlen_conn_t *st = vst;
  while (len > 0) {
    if (st->hlen < 4) {
      st->hdr[st->hlen++] = *data++;
      len--;
      if (st->hlen < 4)
        continue;
      st->need = (size_t)st->hdr[0] << 24 | (size_t)st->hdr[1] << 16 | (size_t)st->hdr[2] << 8 |
                 st->hdr[3];
      st->buf = malloc(st->need ? st->need : 1); /* BUG: no maximum */
      if (!st->buf)
        return FRAY_ENOMEM;
      if (st->need == 0) {
        int r = trustlen_reply(c, st);
        if (r)
          return r;
      }
      continue;
    }
    size_t k = len < st->need - st->have ? len : st->need - st->have;
    memcpy(st->buf + st->have, data, k);
    st->have += k;
    data += k;
    len -= k;
    if (st->have == st->need) {
      int r = trustlen_reply(c, st);
      if (r)
        return r;
    }
  }
  return 0;
}

static void trustlen_close(fray_conn_t *c, fray_close_reason_t reason, void *vst) {
  trustlen_conn_t *st = vst;
  (void)c;
  (void)reason;
  free(st->buf);
  st->buf = NULL;
}

const fray_handler_t fray_example_buggy_trustlen = {
    .name = "buggy-trustlen",
    .summary = "BUGGY: length-prefixed echo that mallocs any announced length (no maximum)",
    .spec = {.mode = FRAY_MODE_RAW},
    .conn_size = sizeof(trustlen_conn_t),
    .on_frame = trustlen_frame,
    .on_close = trustlen_close,
};
