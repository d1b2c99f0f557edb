/* buggy-eofreset: resets a connection whose peer left mid-command.
 *
 * Protocol: PING/ECHO lines ending in "\r\n" (twins.h), framed by fray.
 *
 * THE BUG: when the peer closes in the middle of a command, the handler
 * aborts the connection (a TCP reset) instead of closing it. A reset drops
 * whatever the server had queued and not yet written: the answers to the
 * commands that came in the same read as the EOF are lost. When the
 * answers were written before the EOF was read, nothing shows. Seen in:
 * dotnet/runtime#57186 ("Once you send a RST you cannot rely on the peer
 * receiving any data you sent before the RST"); apache/nuttx#8915 quotes
 * RFC 2525 2.17 on the reset a close with unread data sends.
 *
 * HOW FRAY FINDS IT: only the eof-with-data fault (drawn by `random` in
 * about one run in four, under every family) hands the server a send and
 * its client's EOF in one read.
 *
 * THE FIX (fixed-eofreset): close (flushing what is queued), do not abort. */
#include "twins.h"

static int eofreset_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  (void)vst;
  return fray_example_pingecho(c, data, len);
}

static int eofreset_truncated(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  (void)data;
  (void)len;
  (void)vst;
  if (fray_example_is_fixed(c))
    fray_conn_close(c);
  else
    fray_conn_abort(c); /* BUG: what is queued for the peer is dropped */
  return 0;
}

FRAY_EXAMPLE_TWINS(
    eofreset, "eofreset", "resets a peer that left mid-command, dropping answers still queued",
    .spec = {.mode = FRAY_MODE_DELIM, .max_frame = 1024, .delim = {.bytes = "\r\n", .len = 2}},
    .on_frame = eofreset_frame, .on_truncated = eofreset_truncated);
