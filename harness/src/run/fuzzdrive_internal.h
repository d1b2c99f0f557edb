/* Fuzz driver internals for the benchmarks. Never installed. */
#ifndef FRAY_FUZZDRIVE_INTERNAL_H
#define FRAY_FUZZDRIVE_INTERNAL_H

#include "fray/fuzz.h"

/* fray_fuzz_run() with every allocation (the per-input arena's chunks, the
 * server and its connections) made through mem (NULL: the C library's):
 * what bench_fuzz counts allocations per input with. */
int fray__fuzz_run_mem(const fray_handler_t *h, const uint8_t *data, size_t len,
                       fray_fuzz_report_t *rep, const fray_mem_t *mem);

#endif
