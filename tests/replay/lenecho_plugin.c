/* The fixed twin of buggy-trustlen (examples/buggy/trustlen.c): its
 * protocol (a 4-byte big-endian length, then the payload, which comes back
 * framed the same way) with the framer cutting the frames under a maximum,
 * as its THE FIX note says: a length over 64 KiB closes the connection
 * instead of being allocated. Built as a plugin, so that the malformed
 * variants saved against buggy-trustlen can be replayed against it and
 * must pass (tests/replay/check.sh replay-all). */
#include <fray/handler.h>

static int lenecho_frame(fray_conn_t *c, const uint8_t *p, size_t len, void *st) {
  (void)st;
  uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
  int r = fray_conn_send(c, hdr, 4);
  return r ? r : fray_conn_send(c, p, len);
}

static const fray_handler_t lenecho = {
    .name = "fixed-lenecho",
    .spec = {.mode = FRAY_MODE_LENGTH,
             .max_frame = 65536,
             .on_overflow = FRAY_OVERFLOW_ERROR,
             .length = {.field = FRAY_LEN_U32BE, .strip = FRAY_STRIP_HEADER}},
    .on_frame = lenecho_frame,
};

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &lenecho : NULL;
}
