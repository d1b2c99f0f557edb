/* Fuzz target: buggy-modeswitch (examples/buggy/), which the split-invariance
 * oracle must catch; see tests/fuzz_power.cmake. */
#include "handler_target.h"

FRAY_HANDLER_TARGET("buggy-modeswitch")
