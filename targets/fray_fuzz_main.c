/* The session-aware fuzz target for a handler that is not one of fray's:
 * the same oracle as the bundled targets (session_target.h), with the
 * handler found one of three ways, chosen when this file is compiled:
 *
 *   -DFRAY_FUZZ_HANDLER=sym  sym is a `const fray_handler_t` linked into the
 *                            target (fray_add_fuzz_target(... HANDLER sym))
 *   (neither)                the handler's plugin entry point,
 *                            fray_plugin_handler(FRAY_HANDLER_ABI), linked in:
 *                            a plugin's sources build a target unchanged
 *   -DFRAY_FUZZ_DLOPEN=1     the plugin named by the environment variable
 *                            FRAY_FUZZ_PLUGIN, dlopen()ed before the first
 *                            input (`fray fuzz --plugin`; an environment
 *                            variable, not a flag, reaches libFuzzer's -fork
 *                            and -minimize_crash children unchanged)
 *
 * This file is harness, never instrumented for coverage: its branches say
 * nothing about the handler. Installed with FrayFuzz.cmake. */
#include "session_target.h"

#ifdef FRAY_FUZZ_DLOPEN
#include <string.h>

#include "handlers.h"
#include "plugin_repro.h"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(FRAY_FUZZ_HANDLER)
extern const fray_handler_t FRAY_FUZZ_HANDLER;
static const fray_handler_t *find_handler(void) {
  return &FRAY_FUZZ_HANDLER;
}
#elif !defined(FRAY_FUZZ_DLOPEN)
const fray_handler_t *fray_plugin_handler(unsigned abi);
static const fray_handler_t *find_handler(void) {
  return fray_plugin_handler(FRAY_HANDLER_ABI);
}
#else
/* The plugin, loaded and checked as `fray replay --plugin` does
 * (harness/cli/handlers.c: the same checks, the same messages). Loaded
 * before the first input, so libFuzzer counts the plugin's coverage
 * counters among its modules from the start; never closed. Two modes
 * leave before any fuzzing, for fray fuzz, which cannot load an
 * instrumented plugin itself: FRAY_FUZZ_MODE=check exits 0 when the plugin
 * is usable; FRAY_FUZZ_MODE=repro turns the input FRAY_FUZZ_INPUT into the
 * reproducer FRAY_FUZZ_OUTPUT (plugin_repro.h) and exits with its status. */
static const fray_handler_t *find_handler(void) {
  const char *path = getenv("FRAY_FUZZ_PLUGIN");
  if (!path || !*path) {
    fprintf(stderr, "fray fuzz driver: FRAY_FUZZ_PLUGIN names no plugin (run it with fray fuzz)\n");
    exit(2);
  }
  void *dl;
  const fray_handler_t *h = fray_cli_load_plugin("fray fuzz", path, &dl);
  const char *mode = getenv("FRAY_FUZZ_MODE");
  if (!h || (mode && !strcmp(mode, "check")))
    exit(h ? 0 : 2);
  if (mode && !strcmp(mode, "repro"))
    exit(fray_fuzz_plugin_repro(h, getenv("FRAY_FUZZ_INPUT"), getenv("FRAY_FUZZ_OUTPUT"),
                                getenv("FRAY_FUZZ_HEADER")));
  return h;
}
#endif

static const fray_handler_t *handler;

/* A handler that cannot be found is a broken build, not a finding: say so
 * and exit without a crash file. */
static void init_handler(void) {
  if (!handler && !(handler = find_handler())) {
    fprintf(stderr, "fray fuzz driver: no handler\n");
    exit(2);
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  init_handler();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_handler(); /* AFL++ and the replay main do not call LLVMFuzzerInitialize */
  return fray_target_run(handler, data, size);
}
