/* Baseline for bench/fuzz_speed.sh: the bare line framer, the whole input
 * in one feed, nothing checked. What a handler target's execs/s is
 * measured against. */
#include "fray/framer.h"

static int count_frame(fray_framer_t *f, const fray_frame_t *fr, void *ud) {
  (void)f;
  (void)fr;
  ++*(size_t *)ud;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fray_framer_callbacks_t cb;
  fray_framer_callbacks_init(&cb);
  cb.on_frame = count_frame;
  fray_spec_t spec = fray_spec_line();
  size_t frames = 0;
  fray_framer_t *f;
  if (fray_framer_new(&f, &spec, &cb, NULL, &frames))
    return 0;
  (void)fray_framer_feed(f, data, size);
  (void)fray_framer_finish(f);
  fray_framer_free(f);
  return 0;
}
