/* scriptload.h: how the fray commands that read `.fray` scripts (replay,
 * fuzz-encode) load them, so every such command treats `file` pieces alike:
 * by default a piece must name a regular file inside the script's own
 * directory; `--files-under DIR` moves that boundary (`--files-under /`
 * lifts it), `--no-files` refuses file pieces altogether. */
#ifndef FRAY_CLI_SCRIPTLOAD_H
#define FRAY_CLI_SCRIPTLOAD_H

#include <stdio.h>

#include "fray/script.h"
#include "opts.h"

typedef struct fray_cli_files {
  const char *under; /* --files-under DIR; NULL: the script's directory */
  int deny;          /* --no-files */
} fray_cli_files_t;

#define FRAY_CLI_FILES_UNDER "--files-under"

/* The two options' entries, for the command's option table (opts.h). */
#define FRAY_CLI_FILES_OPTS                                                                        \
  {FRAY_CLI_FILES_UNDER, FRAY_CLI_TEXT, 0, 0, NULL}, {                                             \
    "--no-files", FRAY_CLI_FLAG, 0, 0, NULL                                                        \
  }

/* Takes option name (with its value val, or NULL) if it is one of ours:
 * 1 taken, 0 not ours. */
int fray_cli_files_option(fray_cli_files_t *f, const char *name, const char *val);

/* The two options' help lines, for the command's usage text. */
#define FRAY_CLI_FILES_HELP                                                                        \
  "  --files-under DIR   `file` pieces must name regular files inside DIR, links\n"                \
  "                      and `..` resolved (default: the script's own directory;\n"                \
  "                      `--files-under /` allows any path)\n"                                     \
  "  --no-files          refuse `file` pieces (scripts from untrusted sources)\n"

/* fray_script_load() with the policy of f. */
int fray_cli_script_load(fray_script_t **out, const char *path, const fray_cli_files_t *f,
                         fray_script_error_t *err);

#endif /* FRAY_CLI_SCRIPTLOAD_H */
