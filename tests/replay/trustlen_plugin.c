/* buggy-trustlen (examples/buggy/trustlen.c) built as a plugin, so that a
 * test can check that a malformed variant kept under --mutate --plugin
 * replays with the command in its header, --plugin included. Like
 * splitdelim_plugin.c, it links no fray library. */
#include "../../examples/buggy/trustlen.c"

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &fray_example_buggy_trustlen : NULL;
}
