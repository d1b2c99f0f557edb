/* Three length-prefixed echo servers, each with a bug in how it collects a
 * frame across reads: buggy-lenshort, buggy-lenwhole, buggy-varint (and
 * their fixed twins, all one parser here).
 *
 * Protocol: frames of a length prefix, then that many payload bytes (1024
 * at most: more is answered with an empty frame and the connection
 * closes); every frame comes back unchanged. lenshort and lenwhole use a
 * 4-byte big-endian length (Netty's LengthFieldBasedFrameDecoder with a
 * 4-byte field), varint an unsigned LEB128 varint (protobuf's delimited
 * streams, Netty's ProtobufVarint32FrameDecoder).
 *
 * buggy-lenshort. THE BUG: a frame whose read holds fewer than 4 bytes of
 * its header is taken for the end of the stream: the connection is
 * closed. Seen in: BurntSushi/rust-snappy#42 ("FrameDecoder returns EOF
 * for any input < 4 bytes"). HOW FRAY FINDS IT: a cut inside a header
 * (biased: first bytes of a send; stretch; prefix), or a merge that leaves
 * a header's first bytes at the end of a read.
 *
 * buggy-lenwhole. THE BUG: the header is collected across reads, but the
 * payload is assumed to be all in the read that completed the header:
 * what that read holds is taken for the whole payload, and the rest is
 * parsed as the next header. Seen in: image-rs/image-tiff#193 ("assumed
 * that a read would succeed for the full length, thus interpreting in a
 * subsequent call some data bits as a header"). HOW FRAY FINDS IT: any cut
 * inside a frame after its header.
 *
 * buggy-varint. THE BUG: a varint cut at the end of a read is taken as
 * complete: its first bytes give a wrong (short) length and the stream is
 * desynchronised. Seen in: netty/netty#17549 ("ProtobufVarint32FrameDecoder
 * desynchronizes the stream when a 4-byte length prefix is split after 3
 * bytes"), fixed by netty/netty#17550 (wait for more data when the prefix
 * is incomplete). HOW FRAY FINDS IT: a cut right after a multi-byte
 * varint's first byte (biased cuts favour a send's first bytes; stretch).
 *
 * THE FIX (fixed-*): keep a partial header, and count the payload, across
 * reads. */
#include <string.h>

#include "twins.h"

#define LENPREFIX_MAX 1024

typedef enum lenprefix_bug { LENPREFIX_SHORT, LENPREFIX_WHOLE, LENPREFIX_VARINT } lenprefix_bug_t;

typedef struct lenprefix_conn {
  uint8_t hdr[5];
  size_t hlen, need, have;
  int in_payload;
  uint8_t payload[LENPREFIX_MAX];
} lenprefix_conn_t;

/* Writes n's prefix to out: 4 bytes big-endian, or a LEB128 varint. Returns
 * its length. */
static size_t lenprefix_encode(int varint, size_t n, uint8_t out[5]) {
  if (!varint) {
    for (int i = 0; i < 4; i++)
      out[i] = (uint8_t)(n >> (24 - 8 * i));
    return 4;
  }
  size_t k = 0;
  do {
    out[k] = (uint8_t)(n & 0x7f);
    n >>= 7;
    out[k] |= n ? 0x80 : 0;
    k++;
  } while (n && k < 5);
  return k;
}

/* Whether hdr[0..hlen) is a whole prefix; its value then goes to *n. */
static int lenprefix_decode(int varint, const uint8_t *hdr, size_t hlen, size_t *n) {
  *n = 0;
  if (!varint) {
    for (size_t i = 0; i < hlen; i++)
      *n = *n << 8 | hdr[i];
    return hlen == 4;
  }
  for (size_t i = 0; i < hlen; i++)
    *n |= (size_t)(hdr[i] & 0x7f) << (7 * i);
  return hlen == 5 || !(hdr[hlen - 1] & 0x80);
}

static int lenprefix_reply(fray_conn_t *c, lenprefix_conn_t *st, int varint) {
  uint8_t hdr[5];
  size_t k = lenprefix_encode(varint, st->have, hdr);
  int r = fray_conn_send(c, hdr, k);
  if (!r)
    r = fray_conn_send(c, st->payload, st->have);
  st->hlen = st->have = st->need = 0;
  st->in_payload = 0;
  return r;
}

/* Takes the next header byte; returns 1 when the header is complete. */
static int lenprefix_header(lenprefix_conn_t *st, lenprefix_bug_t bug, int fixed, uint8_t b,
                            size_t left) {
  int varint = bug == LENPREFIX_VARINT;
  st->hdr[st->hlen++] = b;
  int done = lenprefix_decode(varint, st->hdr, st->hlen, &st->need);
  if (varint && !done && left == 0 && !fixed)
    done = 1; /* BUG (buggy-varint): a varint cut by the read is taken whole */
  if (done && bug == LENPREFIX_WHOLE && !fixed && left < st->need)
    st->need = left; /* BUG (buggy-lenwhole): the payload is assumed all here */
  return done;
}

static int lenprefix_feed(fray_conn_t *c, lenprefix_conn_t *st, const uint8_t *data, size_t len,
                          lenprefix_bug_t bug) {
  int fixed = fray_example_is_fixed(c), varint = bug == LENPREFIX_VARINT;
  while (len > 0 && fray_conn_state(c) == FRAY_CONN_OPEN) {
    if (!st->in_payload) {
      if (bug == LENPREFIX_SHORT && !fixed && st->hlen == 0 && len < 4) {
        fray_conn_close(c); /* BUG (buggy-lenshort): a short header read as EOF */
        return 0;
      }
      st->in_payload = lenprefix_header(st, bug, fixed, *data++, --len);
      if (st->in_payload && st->need > LENPREFIX_MAX) {
        st->have = 0;
        int r = lenprefix_reply(c, st, varint);
        fray_conn_close(c);
        return r;
      }
    } else {
      size_t k = len < st->need - st->have ? len : st->need - st->have;
      memcpy(st->payload + st->have, data, k);
      st->have += k;
      data += k;
      len -= k;
    }
    if (st->in_payload && st->have == st->need) {
      int r = lenprefix_reply(c, st, varint);
      if (r)
        return r;
    }
  }
  return 0;
}

static int lenshort_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  return lenprefix_feed(c, vst, data, len, LENPREFIX_SHORT);
}

static int lenwhole_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  return lenprefix_feed(c, vst, data, len, LENPREFIX_WHOLE);
}

static int varint_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  return lenprefix_feed(c, vst, data, len, LENPREFIX_VARINT);
}

FRAY_EXAMPLE_TWINS(lenshort, "lenshort",
                   "length-prefixed echo that takes a header cut by a read for EOF",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(lenprefix_conn_t),
                   .on_frame = lenshort_frame);
FRAY_EXAMPLE_TWINS(lenwhole, "lenwhole",
                   "length-prefixed echo that assumes the payload comes in the header's read",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(lenprefix_conn_t),
                   .on_frame = lenwhole_frame);
FRAY_EXAMPLE_TWINS(varint, "varint", "varint-prefixed echo that takes a varint cut by a read whole",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(lenprefix_conn_t),
                   .on_frame = varint_frame);
