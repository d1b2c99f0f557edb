/* Fuzz target: the echo example handler, whole sessions with fuzz-chosen cuts. */
#include "handler_target.h"

FRAY_HANDLER_TARGET("echo")
