/* upper: a user's own handler, built as a plugin for `fray replay --plugin`.
 * Every line comes back upper-cased and ended by "\r\n"; "QUIT" closes. */
#include <ctype.h>
#include <string.h>

#include <fray/handler.h>

static int upper_frame(fray_conn_t *c, const uint8_t *line, size_t len, void *st) {
  (void)st;
  if (len == 4 && !memcmp(line, "QUIT", 4)) {
    fray_conn_close(c);
    return 0;
  }
  char out[256];
  for (size_t i = 0; i < len; i++)
    out[i] = (char)toupper(line[i]);
  memcpy(out + len, "\r\n", 2);
  return fray_conn_send(c, out, len + 2);
}

static const fray_handler_t upper = {
    .name = "upper",
    .summary = "upper-cases each line (at most 254 bytes)",
    .spec = {.mode = FRAY_MODE_LINE, .max_frame = 254, .delim = {.bytes = "\n", .len = 1}},
    .on_frame = upper_frame,
};

/* The entry point fray looks up (FRAY_PLUGIN_SYMBOL), exported even when
 * built with -fvisibility=hidden. */
__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &upper : NULL;
}
