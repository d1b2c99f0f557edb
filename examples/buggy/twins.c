/* The pieces examples/buggy/twins.h declares. */
#include <string.h>

#include "twins.h"

int fray_example_is_fixed(fray_conn_t *c) {
  const char *name = fray_server_handler(fray_conn_server(c))->name;
  return name && !strncmp(name, "fixed-", 6);
}

int fray_example_pingecho(fray_conn_t *c, const uint8_t *p, size_t len) {
  if (len == 4 && !memcmp(p, "PING", 4))
    return fray_conn_send(c, "PONG\r\n", 6);
  if (len >= 5 && !memcmp(p, "ECHO ", 5)) {
    int r = fray_conn_send(c, p + 5, len - 5);
    return r ? r : fray_conn_send(c, "\r\n", 2);
  }
  return fray_conn_send(c, "ERR unknown command\r\n", 21);
}

int fray_example_line_byte(fray_conn_t *c, uint8_t *buf, size_t *len, size_t cap, uint8_t b) {
  if (*len == cap) {
    int r = fray_conn_send(c, "ERR line too long\r\n", 19);
    fray_conn_close(c);
    return r;
  }
  buf[(*len)++] = b;
  if (*len < 2 || buf[*len - 2] != '\r' || buf[*len - 1] != '\n')
    return 0;
  int r = fray_example_pingecho(c, buf, *len - 2);
  *len = 0;
  return r ? r : 1;
}
