/* kv: a one-value store, the "user's own handler" of the fuzzplug tests.
 * "SET value" stores, "GET" answers the value, "PING" answers "PONG"; each
 * answer ends in "\r\n", unknown commands get "ERR\r\n".
 *
 * THE PLANTED BUG (unless built with -DKV_FIXED): a read-boundary bug, the
 * classic one. The handler takes raw reads (FRAY_MODE_RAW) and runs each
 * read as one command, up to its first '\n'. A command cut over two reads
 * becomes two broken ones; two in one read lose the second. Tests that send
 * one command per write never see it; fray's session oracle does, as soon
 * as a fuzz input cuts or merges a send.
 *
 * KV_FIXED lets the framer cut lines (FRAY_MODE_LINE): the correct twin,
 * with the same answers whenever each read is one whole command.
 * KV_OVERFLOW plants a crash instead: SET copies its value into a 16-byte
 * stack buffer (with KV_FIXED, the only bug; ASan reports it). */
#include <string.h>

#include <fray/handler.h>

typedef struct kv {
  size_t len;
  char val[64];
} kv_t;

static int kv_command(fray_conn_t *c, const uint8_t *p, size_t len, kv_t *kv) {
  if (len && p[len - 1] == '\r')
    len--;
  if (len == 4 && !memcmp(p, "PING", 4))
    return fray_conn_send(c, "PONG\r\n", 6);
  if (len == 3 && !memcmp(p, "GET", 3)) {
    int r = fray_conn_send(c, kv->val, kv->len);
    return r ? r : fray_conn_send(c, "\r\n", 2);
  }
  if (len >= 4 && !memcmp(p, "SET ", 4) && len - 4 <= sizeof kv->val) {
#ifdef KV_OVERFLOW
    char key[16]; /* THE OTHER PLANTED BUG: a value over 16 bytes overflows it */
    memcpy(key, p + 4, len - 4);
    if (key[0] == '!')
      return fray_conn_send(c, "ERR\r\n", 5);
#endif
    kv->len = len - 4;
    memcpy(kv->val, p + 4, kv->len);
    return fray_conn_send(c, "OK\r\n", 4);
  }
  return fray_conn_send(c, "ERR\r\n", 5);
}

static int kv_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *st) {
#ifndef KV_FIXED
  const uint8_t *nl = memchr(data, '\n', len);
  if (nl)
    len = (size_t)(nl - data); /* BUG: the rest of the read is dropped */
#endif
  return kv_command(c, data, len, st);
}

/* Not static: fray_add_fuzz_target(... HANDLER kv_handler) links it by name. */
const fray_handler_t kv_handler = {
    .name = "kv",
    .summary = "a one-value store (SET, GET, PING)",
#ifdef KV_FIXED
    .spec = {.mode = FRAY_MODE_LINE, .max_frame = 256},
#else
    .spec = {.mode = FRAY_MODE_RAW},
#endif
    .conn_size = sizeof(kv_t),
    .on_frame = kv_frame,
};

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &kv_handler : NULL;
}
