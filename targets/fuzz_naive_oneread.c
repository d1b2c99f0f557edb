/* Baseline: buggy-oneread fuzzed the classic way, all bytes in one read (only
 * crashes can show). Compared with fuzz_buggy_oneread in the time-to-bug bench. */
#include "handler_target.h"

FRAY_NAIVE_TARGET("buggy-oneread")
