/* The body of every session-aware fuzz target: the input is a whole session
 * (fray/fuzz.h: payload at the front, decisions at the tail), run by the
 * fuzz driver under the fuzz-chosen cuts, merges and faults and again whole;
 * different transcripts are a bug. Shared by the bundled handler targets
 * (handler_target.h) and by the driver for users' handlers
 * (fray_fuzz_main.c), which is installed with this header so that
 * fray_add_fuzz_target() and `fray fuzz` run exactly this oracle. */
#ifndef FRAY_SESSION_TARGET_H
#define FRAY_SESSION_TARGET_H

#include <stdio.h>
#include <stdlib.h>

#include "fray/fuzz.h"

/* Runs one input against h. A finding is printed and abort()ed on, since
 * every engine (libFuzzer, AFL++, the replay main) knows a crash. */
static inline int fray_target_run(const fray_handler_t *h, const uint8_t *data, size_t size) {
  if (size > FRAY_FUZZ_MAX_INPUT)
    return 0;
  fray_fuzz_report_t rep;
  if (fray_fuzz_run(h, data, size, &rep) == FRAY_EFAILED) {
    fprintf(stderr, "%s\n", rep.message);
    abort();
  }
  return 0;
}

#endif /* FRAY_SESSION_TARGET_H */
