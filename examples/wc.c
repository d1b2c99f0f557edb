/* wc: `wc` behind a socket. A client sends any bytes, half-closes (shuts its
 * write side down, as `nc -N` or `shutdown(fd, SHUT_WR)` do), and gets back
 * "LINES WORDS BYTES\r\n" for everything it sent; then the server closes.
 *
 * The handler reads in raw mode, keeping its own state across reads (a word
 * may span two of them), and answers from on_eof: the only moment it knows
 * the input is complete. Before on_eof existed such a handler learnt of the
 * EOF in on_close, where it may no longer send, so it had no way to answer
 * (HTTP/1.0 bodies read to EOF have the same shape). A client that closes
 * outright instead of half-closing gets nothing: it left. */
#include "examples.h"

typedef struct wc {
  size_t lines, words, bytes;
  int in_word; /* the last byte seen was part of a word */
} wc_t;

static int wc_is_space(uint8_t b) {
  return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f';
}

static int wc_chunk(fray_conn_t *c, const uint8_t *data, size_t len, void *st) {
  (void)c;
  wc_t *w = st;
  w->bytes += len;
  for (size_t i = 0; i < len; i++) {
    int space = wc_is_space(data[i]);
    w->lines += data[i] == '\n';
    w->words += !space && !w->in_word;
    w->in_word = !space;
  }
  return 0;
}

static int wc_eof(fray_conn_t *c, void *st) {
  const wc_t *w = st;
  return fray_conn_sendf(c, "%zu %zu %zu\r\n", w->lines, w->words, w->bytes);
}

const fray_handler_t fray_example_wc = {
    .name = "wc",
    .summary = "counts lines, words and bytes until the client half-closes, then answers (on_eof)",
    .spec = {.mode = FRAY_MODE_RAW, .max_frame = 4096},
    .conn_size = sizeof(wc_t),
    .on_frame = wc_chunk,
    .on_eof = wc_eof,
};
