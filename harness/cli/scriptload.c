/* Loading scripts under the `file` piece policy (scriptload.h). */
#include "scriptload.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

int fray_cli_files_option(fray_cli_files_t *f, const char *name, const char *val) {
  if (!strcmp(name, FRAY_CLI_FILES_UNDER)) {
    f->under = val;
    return 1;
  }
  if (!strcmp(name, "--no-files")) {
    f->deny = 1;
    return 1;
  }
  return 0;
}

int fray_cli_script_load(fray_script_t **out, const char *path, const fray_cli_files_t *f,
                         fray_script_error_t *err) {
  fray_script_opts_t o;
  fray_script_opts_init(&o);
  o.deny_files = f && f->deny;
  /* The script's directory as written: the parser resolves it. */
  char dir[PATH_MAX];
  if (f && f->under) {
    o.files_under = f->under;
  } else {
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir)
      o.deny_files = 1; /* no such directory can be opened: fail closed */
    snprintf(dir, sizeof dir, "%.*s", n ? (int)n : 1, n ? path : ".");
    o.files_under = dir;
  }
  return fray_script_load(out, path, &o, err);
}
