/* Fuzz target: the http example handler, whole sessions with fuzz-chosen cuts. */
#include "handler_target.h"

FRAY_HANDLER_TARGET("http")
