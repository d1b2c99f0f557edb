/* buggy-setdata: forgets, between reads, that a data block is due.
 *
 * Protocol (a memcached text subset): "set KEY N" + "\r\n", then N bytes
 * and "\r\n" -> "STORED"; "get KEY" -> "VALUE KEY N\r\n" + the bytes +
 * "\r\nEND", or "END" when the key is unknown; anything else -> "ERROR".
 * Answers end in "\r\n". Keys are per connection (four at most, 32 bytes
 * each, values up to 64 bytes).
 *
 * THE BUG: command lines are buffered across reads, correctly, but how
 * many data bytes the last "set" announced is a local of the read
 * callback: when the data block arrives in a later read than its "set"
 * line, it is parsed as a command ("ERROR"), and the "set" never completes.
 * Clients that write the command and its data in one write pass every test
 * on loopback. Seen in: valkey-io/valkey#3799 (a pipelined command
 * "partially parsed" when it "spans a TCP packet boundary" stalls the
 * client).
 *
 * HOW FRAY FINDS IT: a cut after the "set" line's "\r\n" (boundary,
 * biased, stretch, prefix).
 *
 * THE FIX (fixed-setdata): keep the pending count in the connection state. */
#include <stdio.h>
#include <string.h>

#include "twins.h"

#define SETDATA_KEYS 4
#define SETDATA_KEY 32
#define SETDATA_VALUE 64
#define SETDATA_LINE 128

typedef struct setdata_conn {
  char key[SETDATA_KEYS][SETDATA_KEY + 1];
  uint8_t value[SETDATA_KEYS][SETDATA_VALUE];
  size_t vlen[SETDATA_KEYS];
  size_t slot; /* the key the pending data goes to */
  size_t need; /* data bytes + "\r\n" still due */
  size_t len;  /* bytes in line (or of the value) */
  uint8_t line[SETDATA_LINE];
} setdata_conn_t;

static size_t setdata_find(setdata_conn_t *st, const char *key) {
  size_t i = 0;
  while (i < SETDATA_KEYS && st->key[i][0] && strcmp(st->key[i], key))
    i++;
  return i; /* SETDATA_KEYS: no such key and no room */
}

/* One command line (without "\r\n"). */
static int setdata_command(fray_conn_t *c, setdata_conn_t *st) {
  char line[SETDATA_LINE + 1], key[SETDATA_KEY + 1];
  size_t n;
  memcpy(line, st->line, st->len);
  line[st->len] = '\0';
  if (sscanf(line, "set %32s %zu", key, &n) == 2 && n <= SETDATA_VALUE) {
    st->slot = setdata_find(st, key);
    if (st->slot == SETDATA_KEYS)
      return fray_conn_send(c, "SERVER_ERROR out of memory\r\n", 28);
    memcpy(st->key[st->slot], key, sizeof key);
    st->vlen[st->slot] = n;
    st->need = n + 2;
    return 0;
  }
  if (sscanf(line, "get %32s", key) == 1) {
    size_t i = setdata_find(st, key);
    if (i == SETDATA_KEYS || !st->key[i][0])
      return fray_conn_send(c, "END\r\n", 5);
    int r = fray_conn_sendf(c, "VALUE %s %zu\r\n", key, st->vlen[i]);
    if (!r)
      r = fray_conn_send(c, st->value[i], st->vlen[i]);
    return r ? r : fray_conn_send(c, "\r\nEND\r\n", 7);
  }
  return fray_conn_send(c, "ERROR\r\n", 7);
}

/* One byte of a data block; the block's last byte answers. */
static int setdata_data(fray_conn_t *c, setdata_conn_t *st, uint8_t b) {
  size_t at = st->vlen[st->slot] + 2 - st->need--;
  if (at < st->vlen[st->slot])
    st->value[st->slot][at] = b;
  return st->need ? 0 : fray_conn_send(c, "STORED\r\n", 8);
}

static int setdata_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  setdata_conn_t *st = vst;
  if (!fray_example_is_fixed(c))
    st->need = 0; /* BUG: a data block announced in an earlier read is forgotten */
  for (size_t i = 0; i < len; i++) {
    int r = 0;
    if (st->need) {
      r = setdata_data(c, st, data[i]);
    } else if (st->len == sizeof st->line) {
      r = fray_conn_send(c, "CLIENT_ERROR line too long\r\n", 28);
      fray_conn_close(c);
      return r;
    } else {
      st->line[st->len++] = data[i];
      if (st->len >= 2 && st->line[st->len - 2] == '\r' && st->line[st->len - 1] == '\n') {
        st->len -= 2;
        r = setdata_command(c, st);
        st->len = 0;
      }
    }
    if (r)
      return r;
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(setdata, "setdata",
                   "memcached-like set whose data block is lost when it comes in a later read",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(setdata_conn_t),
                   .on_frame = setdata_frame);
