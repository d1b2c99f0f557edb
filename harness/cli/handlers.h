/* handlers.h: how the fray command turns --handler NAME / --plugin LIB.so
 * into a handler; shared by the subcommands that run one (replay, serve). */
#ifndef FRAY_CLI_HANDLERS_H
#define FRAY_CLI_HANDLERS_H

#include "fray/handler.h"

/* Loads the plugin at path (a bare name means the file in the current
 * directory, not a library path search) and returns its handler, or NULL
 * after printing why to stderr, each line prefixed with "PROG: " (prog is
 * e.g. "fray replay"). *dl receives the dlopen handle (or NULL): the caller
 * dlclose()s it once nothing points into the plugin any more. */
const fray_handler_t *fray_cli_load_plugin(const char *prog, const char *path, void **dl);

#endif /* FRAY_CLI_HANDLERS_H */
