/* Fuzz target: buggy-maxlenline (examples/buggy/), which the session oracle must
 * catch; the segmentation-bug benchmark times it (scripts/segbench.sh). */
#include "handler_target.h"

FRAY_HANDLER_TARGET("buggy-maxlenline")
