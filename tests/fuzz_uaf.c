/* A handler that uses a connection after it was released must still be
 * caught under ASan when it runs in the fuzz driver: connections are fresh
 * heap blocks, not arena memory (run/fuzzdrive.c). This handler remembers
 * the last connection opened and, when the next one opens, sends to it even
 * if it was closed and released in between. The input closes c0 and opens
 * c1. Registered only in ASan builds (tests/fuzz_uaf.cmake), where the run
 * must end in ASan's heap-use-after-free report. */
#include <stdio.h>

#include "fray/driver.h"
#include "fray/fuzz.h"

typedef struct stale {
  fray_conn_t *last; /* THE BUG: never cleared in on_close */
} stale_t;

static int stale_open(fray_conn_t *c, void *st) {
  (void)st;
  stale_t *s = fray_server_data(fray_conn_server(c));
  if (s->last)
    (void)fray_conn_send(s->last, "someone joined\n", 15);
  s->last = c;
  return 0;
}

static const fray_handler_t stale = {
    .name = "stale",
    .spec = {.mode = FRAY_MODE_LINE},
    .server_size = sizeof(stale_t),
    .on_open = stale_open,
};

int main(void) {
  /* Decisions are read from the last byte back: CLOSE c0 (5), OPEN c1 (4 | 1 << 3). */
  const uint8_t input[] = {4 | 1 << 3, 5};
  fray_fuzz_report_t rep;
  int r = fray_fuzz_run(&stale, input, sizeof input, &rep);
  printf("no use after free reported (fray_fuzz_run returned %d)\n", r);
  return 1;
}
