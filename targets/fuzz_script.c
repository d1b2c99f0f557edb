/* fuzz_script: the .fray parser on arbitrary text. It must not crash; a
 * failure must be located inside the text (line and column 1-based, within
 * the text's lines) with a message; a success must round-trip: written
 * canonically, parsed again, the same script. `file` pieces are denied and
 * the limits are small, so no input reads files or allocates much. */
#include <stdint.h>
#include <string.h>

#include "fray/script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fray_script_opts_t o;
  fray_script_opts_init(&o);
  o.deny_files = 1;
  o.max_text = 64 << 10;
  o.max_bytes = 1 << 20;
  o.max_repeat = 1 << 16;
  o.max_steps = 1024;
  o.max_clients = 16;
  if (size > o.max_text)
    return 0;

  fray_script_t *s = NULL, *back = NULL;
  fray_script_error_t err;
  memset(&err, 0, sizeof err);
  int rc = fray_script_parse(&s, (const char *)data, size, "fuzz.fray", &o, &err);
  if (rc != 0) {
    size_t lines = 1, col = 1, maxcol = 1;
    for (size_t i = 0; i < size; i++) {
      col = data[i] == '\n' ? 1 : col + 1;
      lines += data[i] == '\n';
      maxcol = col > maxcol ? col : maxcol;
    }
    char msg[600];
    if (s || err.code != rc || !err.message[0] || !memchr(err.message, 0, sizeof err.message) ||
        err.line < 1 || err.column < 1 || err.line > lines || err.column > maxcol ||
        !fray_script_error_format(&err, msg, sizeof msg)[0])
      __builtin_trap();
    return 0;
  }
  char *text = NULL;
  size_t len = 0;
  if (fray_script_write_mem(s, &text, &len) != 0)
    __builtin_trap();
  /* The canonical text may be longer than the input (escapes), so it is
   * parsed back with default limits; it never contains `file` pieces. */
  fray_script_opts_t big;
  fray_script_opts_init(&big);
  big.deny_files = 1;
  if (fray_script_parse(&back, text, len, "canonical.fray", &big, &err) != 0 ||
      !fray_script_equal(s, back))
    __builtin_trap();
  fray_script_text_free(s, text);
  fray_script_free(back);
  fray_script_free(s);
  return 0;
}
