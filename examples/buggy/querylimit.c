/* buggy-querylimit: bounds the whole query buffer instead of the command.
 *
 * Protocol: PING/ECHO inline commands ending in "\r\n" (twins.h); a command
 * over 64 bytes -> "ERR too big inline request" and the connection closes.
 *
 * THE BUG: like redis-server, the handler runs every complete command in
 * its query buffer and trims the buffer once, after the last one (one
 * memmove per read, not per command). When a read ends inside a command,
 * it checks the length of the unfinished command against the limit, but
 * measures the whole buffer, commands already run included: a client that
 * pipelines a few short commands gets "too big" for a short one whenever
 * the network cuts the batch in the wrong place. Seen in: redis/redis#3726
 * ("sdslen(c->querybuf) > PROTO_INLINE_MAX_SIZE ... will cause large but
 * normal hmset request failed": the fix is sdslen(c->querybuf)-pos), after
 * the trim-once optimisation of redis/redis#5244 ("do not sdsrange querybuf
 * unless all commands processed").
 *
 * HOW FRAY FINDS IT: a read holding some whole commands and the start of
 * the next, over 64 bytes in all (tail: a batch read but for its last bytes;
 * prefix: merges and cuts together).
 * Whole sends, pure merges (coalesce) and pure cuts pass.
 *
 * THE FIX (fixed-querylimit): measure from the start of the unfinished
 * command. */
#include <string.h>

#include "twins.h"

#define QUERYLIMIT_MAX 64
#define QUERYLIMIT_BUF 4096

typedef struct querylimit_conn {
  size_t len;
  uint8_t buf[QUERYLIMIT_BUF];
} querylimit_conn_t;

static int querylimit_refuse(fray_conn_t *c) {
  int r = fray_conn_send(c, "ERR too big inline request\r\n", 28);
  fray_conn_close(c);
  return r;
}

static int querylimit_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  querylimit_conn_t *st = vst;
  while (len > 0 && fray_conn_state(c) == FRAY_CONN_OPEN) {
    size_t k = len < sizeof st->buf - st->len ? len : sizeof st->buf - st->len, pos = 0;
    memcpy(st->buf + st->len, data, k);
    st->len += k;
    data += k;
    len -= k;
    for (size_t i = 0; i + 1 < st->len; i++) {
      if (st->buf[i] != '\r' || st->buf[i + 1] != '\n')
        continue;
      if (i - pos > QUERYLIMIT_MAX)
        return querylimit_refuse(c);
      int r = fray_example_pingecho(c, st->buf + pos, i - pos);
      if (r)
        return r;
      pos = i + 2;
    }
    size_t pending = fray_example_is_fixed(c) ? st->len - pos : st->len; /* BUG: st->len */
    if (pos < st->len && pending > QUERYLIMIT_MAX) /* a command is unfinished */
      return querylimit_refuse(c);
    memmove(st->buf, st->buf + pos, st->len - pos); /* the trim, once per read */
    st->len -= pos;
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(querylimit, "querylimit",
                   "bounds the query buffer, not the command: pipelined batches cut badly are "
                   "refused",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(querylimit_conn_t),
                   .on_frame = querylimit_frame);
