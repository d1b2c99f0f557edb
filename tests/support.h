/* What the unit programs that play scripts share. Include after cmocka.h.
 *
 *   fray_script_t *s = test_parse("open a\na > \"x\\n\"\n");   // fails the test on a
 *   ...                                                     // parse error, naming it
 *   fray_script_free(s); */
#ifndef FRAY_TESTS_SUPPORT_H
#define FRAY_TESTS_SUPPORT_H

#include <string.h>

#include "fray/player.h"
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

/* A transport named name that moves nothing and has no optional operation
 * (no clock, no window), for what the player refuses before any byte
 * moves. Its begin stores the player in *t when t is not NULL. */
static inline int test_nop_begin(void *t, fray_player_t *p, const fray_sched_t *sched) {
  (void)sched;
  if (t)
    *(fray_player_t **)t = p;
  return 0;
}
static inline int test_nop_client(void *t, size_t i) {
  (void)t, (void)i;
  return 0;
}
static inline int test_nop_send(void *t, size_t i, const uint8_t *d, size_t n) {
  (void)t, (void)i, (void)d, (void)n;
  return 0;
}
static inline int test_nop_close(void *t, size_t i, int reset) {
  (void)t, (void)i, (void)reset;
  return 0;
}
static inline int test_nop_wait(void *t, fray_wait_kind_t k, size_t i) {
  (void)t, (void)k, (void)i;
  return 0;
}
static inline int test_nop_end(void *t) {
  (void)t;
  return 0;
}
static inline fray_transport_ops_t test_nop_transport(const char *name) {
  return (fray_transport_ops_t){.name = name,
                                .begin = test_nop_begin,
                                .open = test_nop_client,
                                .send = test_nop_send,
                                .shutdown = test_nop_client,
                                .close = test_nop_close,
                                .wait = test_nop_wait,
                                .end = test_nop_end};
}

#endif
