/* A plugin that goes wrong only when a read ends inside a line holding a
 * trigger word, so that `whole` passes and cutting schedules (or a variant
 * that drops the line's end) find it: "segv" dereferences NULL, "abort"
 * calls abort(), "hang" never returns, "overflow" reads past a heap block
 * (a report under ASan). Anything else is echoed as it arrives. Crash
 * isolation's tests (tests/plugin.cmake) replay tests/plugin/faulty/. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fray/handler.h"

static int has(const uint8_t *p, size_t n, const char *word) {
  size_t w = strlen(word);
  for (size_t i = 0; i + w <= n; i++)
    if (!memcmp(p + i, word, w))
      return 1;
  return 0;
}

/* The planted bugs; volatile keeps the compiler from reasoning them away. */
static void go_wrong(const uint8_t *p, size_t n) {
  if (has(p, n, "segv")) {
    int *volatile nowhere = NULL;
    *nowhere = 1;
  }
  if (has(p, n, "abort"))
    abort();
  if (has(p, n, "hang"))
    for (;;)
      pause();
  if (has(p, n, "overflow")) {
    char *volatile b = malloc(8);
    volatile char c = b[8 + (n & 1)];
    (void)c;
    free(b);
  }
}

static int on_chunk(fray_conn_t *c, const uint8_t *data, size_t len, void *state) {
  (void)state;
  if (len && data[len - 1] != '\n')
    go_wrong(data, len);
  return fray_conn_send(c, data, len);
}

static const fray_handler_t h = {
    .name = "faulty",
    .summary = "echoes reads; crashes, aborts or hangs on a cut trigger word",
    .spec = {.mode = FRAY_MODE_RAW},
    .on_frame = on_chunk,
};

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &h : NULL;
}
