/* fuzzcli.h: what `fray fuzz` and `fray fuzz-encode` share: a script as a
 * seed, under the same rules and notes in both. */
#ifndef FRAY_CLI_FUZZCLI_H
#define FRAY_CLI_FUZZCLI_H

#include <stddef.h>
#include <stdint.h>

#include "fray/script.h"

#define FRAY_CLI_SEED_LOSSY 1u /* also leave out half-closes (`> eof`) */
#define FRAY_CLI_SEED_FORCE 2u /* write a seed over FRAY_FUZZ_MAX_INPUT anyway */

/* Encodes script s (read from path) as a fuzz input in *out (malloc'd, the
 * caller frees) of *len bytes. Expectations the encoding has no op for
 * (regex, glob, eof) are left out with a one-line note on stderr, as the
 * fuzz driver checks no expectation; half-closes change the session, so
 * they are refused unless flags has FRAY_CLI_SEED_LOSSY. An input over
 * FRAY_FUZZ_MAX_INPUT is refused unless FRAY_CLI_SEED_FORCE (then noted):
 * the targets return on it without running it. Messages start with
 * "fray CMD: path". Returns 0, or -1 after printing why. */
int fray_cli_encode_seed(const char *cmd, const char *path, const fray_script_t *s, unsigned flags,
                         uint8_t **out, size_t *len);

#endif /* FRAY_CLI_FUZZCLI_H */
