/* Plugins that cannot be used, one per -DKIND=N (tests/plugin.cmake):
 * 1 an invalid spec, 2 conn_size SIZE_MAX (the connection allocation's size
 * would wrap), 3 server_init fails. `fray replay` and `fray serve` must
 * both refuse them at load, name the problem, and exit 2. */
#include <stdint.h>

#include "fray/handler.h"

static int echo(fray_conn_t *c, const uint8_t *data, size_t len, void *state) {
  (void)state;
  return fray_conn_send(c, data, len);
}

static int init(fray_server_t *s, void *state) {
  (void)s;
  (void)state;
  return KIND == 3 ? FRAY_EINVAL : 0;
}

static fray_handler_t h = {
    .name = "unusable",
    .spec = {.mode = FRAY_MODE_LINE},
    .on_frame = echo,
    .server_init = init,
};

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  if (abi != FRAY_HANDLER_ABI)
    return NULL;
  if (KIND == 1) {
    h.spec.mode = FRAY_MODE_DELIM;
    h.spec.delim.len = 200;
  }
  if (KIND == 2)
    h.conn_size = SIZE_MAX;
  return &h;
}
