/* ci_templates.h: the texts `fray ci init` writes, compiled in from the
 * .in files of harness/cli/ci/ by harness/cli/ci/embed.cmake (and installed,
 * as they are, in share/fray/ci/). @NAME@-style words are filled in by ci.c. */
#ifndef FRAY_CLI_CI_TEMPLATES_H
#define FRAY_CLI_CI_TEMPLATES_H

/* The template named name (its file name without .in, e.g. "build.sh"),
 * or NULL. The text is static. */
const char *fray_ci_template(const char *name);

#endif /* FRAY_CLI_CI_TEMPLATES_H */
