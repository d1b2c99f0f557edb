/* Baseline for bench/fuzz_speed.sh: the correct chat handler fuzzed the
 * classic way, all bytes in one read of one client and no oracle. What the
 * session target's execs/s cost over the handler's own work. */
#include "handler_target.h"

FRAY_NAIVE_TARGET("chat")
