/* buggy-utf8split: decodes each read as UTF-8 on its own.
 *
 * Protocol: PING/ECHO lines ending in "\r\n" (twins.h); the server cleans
 * its input first, replacing every byte that is not part of valid UTF-8
 * with "?", so that ECHO never returns malformed text.
 *
 * THE BUG: the cleaning is done read by read. A multi-byte character cut
 * by the network ends one read with an incomplete sequence and starts the
 * next with continuation bytes: both halves are "invalid" and become "??"
 * ("café" comes back as "caf??"). Seen in: sursaone/bun-pty#32 ("onData
 * delivers corrupted UTF-8 when multi-byte characters span chunk
 * boundaries"), tomas/needle#374 ("UTF-8 characters across chunk
 * boundaries get corrupted").
 *
 * HOW FRAY FINDS IT: a cut inside a multi-byte character (stretch: a run of
 * one-byte reads; biased and split cuts at random places; prefix).
 *
 * THE FIX (fixed-utf8split): keep an incomplete sequence at the end of a
 * read for the next one (a stateful decoder: Node's StringDecoder, Python's
 * incremental decoders). */
#include "twins.h"

#define UTF8SPLIT_MAX 256

typedef struct utf8split_conn {
  size_t npend, len;
  uint8_t pend[4]; /* an incomplete sequence from the previous read */
  uint8_t buf[UTF8SPLIT_MAX];
} utf8split_conn_t;

/* The length of the sequence lead byte b starts, or 0 for an invalid lead. */
static size_t utf8split_seqlen(uint8_t b) {
  return b < 0x80             ? 1
         : (b & 0xe0) == 0xc0 ? 2
         : (b & 0xf0) == 0xe0 ? 3
         : (b & 0xf8) == 0xf0 ? 4
                              : 0;
}

/* One cleaned byte into the line buffer. */
static int utf8split_put(fray_conn_t *c, utf8split_conn_t *st, uint8_t b) {
  int r = fray_example_line_byte(c, st->buf, &st->len, sizeof st->buf, b);
  return r < 0 ? r : 0;
}

/* Cleans p[0..n) (the pending bytes, then a read) into the line buffer;
 * an incomplete sequence at its end is kept when keep is set. */
static int utf8split_clean(fray_conn_t *c, utf8split_conn_t *st, const uint8_t *p, size_t n,
                           int keep) {
  size_t i = 0;
  while (i < n && fray_conn_state(c) == FRAY_CONN_OPEN) {
    size_t k = utf8split_seqlen(p[i]), ok = k > 0;
    for (size_t j = 1; ok && j < k && i + j < n; j++)
      ok = (p[i + j] & 0xc0) == 0x80;
    if (ok && i + k > n && keep) {
      st->npend = n - i; /* < k <= 4; the bound below says so to gcc -O3 */
      for (size_t j = 0; j < st->npend && j < sizeof st->pend; j++)
        st->pend[j] = p[i + j];
      return 0;
    }
    int r = 0;
    if (ok && i + k <= n) {
      for (size_t j = 0; j < k && !r; j++)
        r = utf8split_put(c, st, p[i + j]);
      i += k;
    } else {
      r = utf8split_put(c, st, '?');
      i++;
    }
    if (r)
      return r;
  }
  return 0;
}

static int utf8split_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  utf8split_conn_t *st = vst;
  int keep = fray_example_is_fixed(c); /* BUG (buggy-utf8split): each read alone */
  uint8_t joined[8];
  size_t n = st->npend, i = 0;
  st->npend = 0;
  /* A pending sequence is completed from the read's first bytes first. */
  for (size_t j = 0; j < n; j++)
    joined[j] = st->pend[j];
  while (n > 0 && n < 4 && i < len && (data[i] & 0xc0) == 0x80 && n < utf8split_seqlen(joined[0]))
    joined[n++] = data[i++];
  int r = n ? utf8split_clean(c, st, joined, n, keep && i == len) : 0;
  return r ? r : utf8split_clean(c, st, data + i, len - i, keep);
}

FRAY_EXAMPLE_TWINS(utf8split, "utf8split",
                   "cleans UTF-8 read by read: a character cut between reads becomes \"??\"",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(utf8split_conn_t),
                   .on_frame = utf8split_frame);
