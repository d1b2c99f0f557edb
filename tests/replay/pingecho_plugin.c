/* The fixed twin of buggy-oneread and buggy-splitdelim (examples/buggy/):
 * their protocol (PING, ECHO text, else ERR; lines end in "\r\n") with the
 * framer cutting the lines, as both files' THE FIX notes say. Built as a
 * plugin, so that the reproducers saved against the buggy handlers can be
 * replayed against it and must pass (tests/replay/check.sh replay-all). */
#include <string.h>

#include <fray/handler.h>

static int pingecho_frame(fray_conn_t *c, const uint8_t *p, size_t len, void *st) {
  (void)st;
  if (len == 4 && !memcmp(p, "PING", 4))
    return fray_conn_send(c, "PONG\r\n", 6);
  if (len >= 5 && !memcmp(p, "ECHO ", 5)) {
    int r = fray_conn_send(c, p + 5, len - 5);
    return r ? r : fray_conn_send(c, "\r\n", 2);
  }
  return fray_conn_send(c, "ERR unknown command\r\n", 21);
}

static const fray_handler_t pingecho = {
    .name = "fixed-pingecho",
    .spec = {.mode = FRAY_MODE_DELIM, .max_frame = 1024, .delim = {.bytes = "\r\n", .len = 2}},
    .on_frame = pingecho_frame,
};

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &pingecho : NULL;
}
