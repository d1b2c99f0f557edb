/* Baseline: buggy-hdrsplit fuzzed the classic way, all bytes in one read (only
 * crashes can show). Compared with fuzz_buggy_hdrsplit in the segmentation-bug
 * benchmark (scripts/segbench.sh). */
#include "handler_target.h"

FRAY_NAIVE_TARGET("buggy-hdrsplit")
