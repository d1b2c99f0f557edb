/* plugin_repro.h: `fray fuzz`'s reproducers, made by its driver. */
#ifndef FRAY_PLUGIN_REPRO_H
#define FRAY_PLUGIN_REPRO_H

#include "fray/handler.h"

/* Turns the fuzz input in the file at input, a finding against h, into a
 * regression script at out: header (comment lines, may be NULL), the
 * driver's finding as `# failure:` lines, then the session with h's
 * whole-read answers as its expectations, minimised by fray_sim_minimize
 * under the input's cuts and merges. Prints a one-line summary to stdout.
 * Returns 0 written; 1 written without answers (the handler fails even with
 * whole reads, or the finding needs more than the script can say) ; 2 not
 * written (unreadable input, a file error); 3 the input no longer fails. */
int fray_fuzz_plugin_repro(const fray_handler_t *h, const char *input, const char *out,
                           const char *header);

#endif /* FRAY_PLUGIN_REPRO_H */
