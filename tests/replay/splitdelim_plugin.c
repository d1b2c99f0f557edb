/* buggy-splitdelim (examples/buggy/splitdelim.c) built as a plugin: a
 * handler with a split bug that reaches `fray replay` through --plugin, so
 * a test can check that the reproducers found with it replay with the
 * command in their header. Like examples/plugin/, it links no fray
 * library: the fray command provides fray_conn_send() and friends. */
#include "../../examples/buggy/splitdelim.c"
#include "../../examples/buggy/twins.c"

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &fray_example_buggy_splitdelim : NULL;
}
