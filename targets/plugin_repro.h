/* plugin_repro.h: `fray fuzz`'s reproducers, made by its driver. */
#ifndef FRAY_PLUGIN_REPRO_H
#define FRAY_PLUGIN_REPRO_H

#include "fray/handler.h"

/* Turns the fuzz input in the file at input, a finding against h, into a
 * regression script at out: header (comment lines, may be NULL), the
 * driver's finding as `# failure:` lines, then the session with h's
 * whole-read answers as its expectations, minimised by fray_sim_minimize
 * under the input's cuts and merges. Prints a one-line summary to stdout.
 * Returns one of the FRAY_CLI_REPRO_* statuses (harness/cli/fuzzcli.h),
 * which the driver exits with. */
int fray_fuzz_plugin_repro(const fray_handler_t *h, const char *input, const char *out,
                           const char *header);

#endif /* FRAY_PLUGIN_REPRO_H */
