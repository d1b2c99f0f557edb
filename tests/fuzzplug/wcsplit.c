/* wcsplit: examples/wc.c with a read-boundary bug that only a half-close
 * shows, the handler of docs/fuzzing.md's half-close measurement. It counts
 * lines, words and bytes of raw reads and answers from on_eof, but forgets
 * at every read whether the last byte was inside a word: a word cut over
 * two reads is counted twice. Its only output is the on_eof answer, so a
 * session that never half-closes cannot see the bug, however it cuts.
 * Build it as `fray fuzz --help` says (clang, -fsanitize=fuzzer-no-link). */
#include <fray/handler.h>

typedef struct wc {
  size_t lines, words, bytes;
} wc_t;

static int wc_chunk(fray_conn_t *c, const uint8_t *data, size_t len, void *st) {
  (void)c;
  wc_t *w = st;
  int in_word = 0; /* THE BUG: the state of the read before is lost */
  w->bytes += len;
  for (size_t i = 0; i < len; i++) {
    uint8_t b = data[i];
    int space = b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f';
    w->lines += b == '\n';
    w->words += !space && !in_word;
    in_word = !space;
  }
  return 0;
}

static int wc_eof(fray_conn_t *c, void *st) {
  const wc_t *w = st;
  return fray_conn_sendf(c, "%zu %zu %zu\r\n", w->lines, w->words, w->bytes);
}

static const fray_handler_t wcsplit = {
    .name = "wcsplit",
    .summary = "wc that loses a word cut over two reads (answers from on_eof)",
    .spec = {.mode = FRAY_MODE_RAW, .max_frame = 4096},
    .conn_size = sizeof(wc_t),
    .on_frame = wc_chunk,
    .on_eof = wc_eof,
};

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &wcsplit : NULL;
}
