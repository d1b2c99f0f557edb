/* Plugin loading for the subcommands that run a handler (see handlers.h). */
#include "handlers.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fray/driver.h"

const fray_handler_t *fray_cli_load_plugin(const char *prog, const char *path, void **dl) {
  *dl = NULL;
  /* dlopen() searches the library path for a bare name; a user who types
   * `--plugin upper.so` means the file here. */
  size_t n = strlen(path);
  char *p = malloc(n + 3);
  if (!p) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return NULL;
  }
  snprintf(p, n + 3, "%s%s", strchr(path, '/') ? "" : "./", path);
  dlerror();
  *dl = dlopen(p, RTLD_NOW | RTLD_LOCAL);
  free(p);
  if (!*dl) {
    const char *e = dlerror();
    fprintf(stderr, "%s: cannot load plugin %s: %s\n", prog, path, e ? e : "unknown error");
    return NULL;
  }
  /* ISO C forbids converting void * to a function pointer; POSIX requires
   * it to work, and copying the bytes says so without a cast warning. */
  void *sym = dlsym(*dl, FRAY_PLUGIN_SYMBOL);
  if (!sym) {
    fprintf(stderr,
            "%s: plugin %s does not export %s() (declare it `const fray_handler_t *"
            "%s(unsigned abi)` with default visibility)\n",
            prog, path, FRAY_PLUGIN_SYMBOL, FRAY_PLUGIN_SYMBOL);
    return NULL;
  }
  fray_plugin_fn fn;
  memcpy(&fn, &sym, sizeof fn);
  const fray_handler_t *h = fn(FRAY_HANDLER_ABI);
  if (!h) {
    fprintf(stderr,
            "%s: plugin %s does not support handler ABI %u (this fray's); rebuild it "
            "against this fray's headers\n",
            prog, path, FRAY_HANDLER_ABI);
    return NULL;
  }
  if (!h->name || !h->name[0]) {
    fprintf(stderr, "%s: plugin %s returned a handler without a name\n", prog, path);
    return NULL;
  }
  char why[256];
  if (fray_handler_validate(h, why, sizeof why)) {
    fprintf(stderr, "%s: plugin %s: %s\n", prog, path, why);
    return NULL;
  }
  /* A handler whose server_init fails is as unusable as one with a bad
   * spec: every command says so here, the same way, with exit status 2,
   * rather than as a failure of the first run. */
  fray_server_t *s;
  int rc = fray_server_new(&s, h, NULL);
  if (rc) {
    fprintf(stderr, "%s: plugin %s: the handler's server_init failed: %s\n", prog, path,
            fray_strerror(rc));
    return NULL;
  }
  fray_server_free(s);
  return h;
}
