/* The bundled handlers' targets: each targets/fuzz_<handler>.c is
 * FRAY_HANDLER_TARGET with a handler name from the example registry, so a
 * target stays one line of logic; the session oracle itself is
 * session_target.h, shared with the driver for users' handlers.
 *
 * FRAY_NAIVE_TARGET is the baseline a classic harness would be: all bytes
 * as one read of one client, so only crashes can be seen. */
#ifndef FRAY_HANDLER_TARGET_H
#define FRAY_HANDLER_TARGET_H

#include <stdio.h>
#include <stdlib.h>

#include "examples.h"
#include "fray/driver.h"
#include "session_target.h"

static inline const fray_handler_t *fray_target_handler(const char *name) {
  const fray_handler_t *h = fray_example_find(name);
  if (!h) {
    fprintf(stderr, "fuzz target: no handler '%s'\n", name);
    abort();
  }
  return h;
}

#define FRAY_HANDLER_TARGET(NAME)                                                                  \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                    \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {                                   \
    return fray_target_run(fray_target_handler(NAME), data, size);                                 \
  }

/* One client, one connection, the whole input as one read, then close. */
static inline fray_ssize_t fray_target_sink(void *ctx, const uint8_t *d, size_t n) {
  (void)ctx;
  (void)d;
  return (fray_ssize_t)n;
}

/* The naive run itself; mem may be NULL (bench_fuzz counts allocations). */
static inline void fray_target_naive(const fray_handler_t *h, const uint8_t *data, size_t size,
                                     const fray_mem_t *mem) {
  fray_server_t *s;
  fray_conn_t *c;
  if (fray_server_new(&s, h, mem))
    return;
  if (!fray_server_open(s, "c0", NULL, &c)) {
    fray_conn_input(c, data, size);
    fray_conn_input_eof(c);
    fray_conn_flush(c, fray_target_sink, NULL);
  }
  fray_server_free(s);
}

#define FRAY_NAIVE_TARGET(NAME)                                                                    \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                    \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {                                   \
    if (size <= FRAY_FUZZ_MAX_INPUT)                                                               \
      fray_target_naive(fray_target_handler(NAME), data, size, NULL);                              \
    return 0;                                                                                      \
  }

#endif
