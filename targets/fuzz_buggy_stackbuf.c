/* Fuzz target: buggy-stackbuf (examples/buggy/), which the split-invariance
 * oracle must catch; see tests/fuzz_power.cmake. */
#include "handler_target.h"

FRAY_HANDLER_TARGET("buggy-stackbuf")
