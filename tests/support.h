/* What the unit programs that play scripts share. Include after cmocka.h.
 *
 *   fray_script_t *s = test_parse("open a\na > \"x\\n\"\n");   // fails the test on a
 *   ...                                                     // parse error, naming it
 *   fray_script_free(s); */
#ifndef FRAY_TESTS_SUPPORT_H
#define FRAY_TESTS_SUPPORT_H

#include <string.h>

#include "fray/script.h"

/* text parsed as the script "t.fray"; the caller frees it. A parse error
 * fails the running test with the error's file:line:column message. */
static inline fray_script_t *test_parse(const char *text) {
  fray_script_t *s = NULL;
  fray_script_error_t err;
  if (fray_script_parse(&s, text, strlen(text), "t.fray", NULL, &err)) {
    char m[512];
    fail_msg("%s", fray_script_error_format(&err, m, sizeof m));
  }
  return s;
}

#endif
