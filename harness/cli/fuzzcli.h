/* fuzzcli.h: what `fray fuzz` and `fray fuzz-encode` share: a script as a
 * seed, under the same rules and notes in both. */
#ifndef FRAY_CLI_FUZZCLI_H
#define FRAY_CLI_FUZZCLI_H

#include <stddef.h>
#include <stdint.h>

#include "fray/script.h"

#define FRAY_CLI_SEED_FORCE 2u /* write a seed over FRAY_FUZZ_MAX_INPUT anyway */

/* Encodes script s (read from path) as a fuzz input in *out (malloc'd, the
 * caller frees) of *len bytes. Expectations the encoding has no op for
 * (regex, glob, eof) are left out with a one-line note on stderr, as the
 * fuzz driver checks no expectation. An input over
 * FRAY_FUZZ_MAX_INPUT is refused unless FRAY_CLI_SEED_FORCE (then noted):
 * the targets return on it without running it. Messages start with
 * "fray CMD: path". Returns 0, or -1 after printing why. */
int fray_cli_encode_seed(const char *cmd, const char *path, const fray_script_t *s, unsigned flags,
                         uint8_t **out, size_t *len);

/* Exit statuses of fray-fuzz-plugin with FRAY_FUZZ_MODE=repro
 * (targets/plugin_repro.c), which `fray fuzz` tells apart from the statuses
 * of a crash while the reproducer was made (1 for a sanitizer report, 77
 * for libFuzzer's handlers, or a signal). */
#define FRAY_CLI_REPRO_ANSWERED 40  /* written, the handler's answers as expectations */
#define FRAY_CLI_REPRO_PLAIN 41     /* written without answers (fails even whole) */
#define FRAY_CLI_REPRO_UNWRITTEN 42 /* the input or the output file failed */
#define FRAY_CLI_REPRO_PASSES 43    /* the input no longer fails */

#endif /* FRAY_CLI_FUZZCLI_H */
