/* Fuzz target: the lenrpc example handler, whole sessions with fuzz-chosen cuts. */
#include "handler_target.h"

FRAY_HANDLER_TARGET("lenrpc")
