/* tally: counts per connection. "ADD n" adds n (0-999) and answers the
 * total, "RESET" answers "0", anything else "ERR"; answers end in "\r\n".
 * Lines are cut by fray's framer, so the answers do not depend on how the
 * bytes arrive: the session oracle must find nothing. */
#include <stdio.h>
#include <string.h>

#include <fray/handler.h>

typedef struct tally {
  unsigned long total;
} tally_t;

static int answer(fray_conn_t *c, unsigned long v) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lu\r\n", v);
  return fray_conn_send(c, buf, (size_t)n);
}

static int tally_frame(fray_conn_t *c, const uint8_t *p, size_t len, void *st) {
  tally_t *t = st;
  if (len && p[len - 1] == '\r')
    len--;
  if (len == 5 && !memcmp(p, "RESET", 5)) {
    t->total = 0;
    return answer(c, 0);
  }
  unsigned long n = 0;
  size_t i = 4;
  for (; len > 4 && i < len && i < 7 && p[i] >= '0' && p[i] <= '9'; i++)
    n = n * 10 + (unsigned long)(p[i] - '0');
  if (len > 4 && i == len && !memcmp(p, "ADD ", 4)) {
    t->total += n;
    return answer(c, t->total);
  }
  return fray_conn_send(c, "ERR\r\n", 5);
}

/* Not static: fray_add_fuzz_target(... HANDLER tally_handler) links it. */
const fray_handler_t tally_handler = {
    .name = "tally",
    .summary = "a per-connection counter (ADD n, RESET)",
    .spec = {.mode = FRAY_MODE_LINE, .max_frame = 64},
    .conn_size = sizeof(tally_t),
    .on_frame = tally_frame,
};

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &tally_handler : NULL;
}
