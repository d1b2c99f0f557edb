/* A pub/sub relay with a bug only a receive window (`fray replay --faults
 * window`, FRAY_FAULT_WINDOW) exposes, and its fixed twin (built with
 * WINDOW_FIXED=1; tests/window.cmake builds one plugin each). The script is
 * tests/replay/window-lossy.fray.
 *
 * `SUB` subscribes the client ("OK\r\n"); `PUB text` sends "text\r\n" to
 * every subscriber. The buggy relay keeps at most 1 KiB queued per
 * subscriber and drops what comes while a subscriber is over it, without a
 * word: ZeroMQ's PUB socket does exactly that at its high-water mark
 * (ZMQ_SNDHWM: "any messages that would be sent to the subscriber in
 * question shall instead be dropped"), and a relay that copies the
 * behaviour into a protocol that promises delivery loses messages whenever
 * a subscriber reads slowly. While every client reads as fast as the server
 * writes (every other schedule and fault kind: short writes take a few
 * bytes at each read, so the queue stays tiny) nothing is ever dropped; a
 * subscriber whose receive window is full lets the queue grow past the mark
 * and the transcript loses lines. The fix queues everything (the driver's
 * back-pressure and limits deal with a peer that never reads: the libevent
 * adapter stops reading it and drops it past --max-output).
 *
 * Like examples/plugin/, it links no fray library: the fray command
 * provides fray_conn_send() and friends. */
#include <string.h>

#include <fray/handler.h>

#ifndef WINDOW_FIXED
#define WINDOW_FIXED 0
#endif

#define SUB_HWM 1024 /* bytes queued per subscriber before the bug drops */

typedef struct sub {
  int subscribed;
} sub_t;

static void publish(fray_conn_t *c, const uint8_t *text, size_t len) {
  for (fray_conn_t *o = fray_server_first(fray_conn_server(c)); o; o = fray_server_next(o)) {
    const sub_t *st = fray_conn_data(o);
    if (!st->subscribed)
      continue;
#if !WINDOW_FIXED
    if (fray_outq_pending(fray_conn_outq(o)) >= SUB_HWM)
      continue; /* BUG: a slow subscriber silently misses the message */
#endif
    (void)fray_conn_send(o, text, len);
    (void)fray_conn_send(o, "\r\n", 2);
  }
}

static int relay_frame(fray_conn_t *c, const uint8_t *p, size_t len, void *vst) {
  sub_t *st = vst;
  if (len == 3 && !memcmp(p, "SUB", 3)) {
    st->subscribed = 1;
    return fray_conn_send(c, "OK\r\n", 4);
  }
  if (len > 4 && !memcmp(p, "PUB ", 4))
    publish(c, p + 4, len - 4);
  else
    return fray_conn_send(c, "ERR\r\n", 5);
  return 0;
}

static const fray_handler_t handler = {
    .name = WINDOW_FIXED ? "window-relay-fixed" : "window-relay",
    .spec = {.mode = FRAY_MODE_LINE, .max_frame = 1024},
    .conn_size = sizeof(sub_t),
    .on_frame = relay_frame,
};

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &handler : NULL;
}
