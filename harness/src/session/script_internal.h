/* Internal to the script module (script.c: the model, script_parse.c: the
 * parser, script_write.c: the canonical writer): the script's layout and
 * the checks the builder and the parser share, so a parsed script and a
 * built one obey the same rules. */
#ifndef FRAY_SCRIPT_INTERNAL_H
#define FRAY_SCRIPT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fray/script.h"

#define FRAY__SCRIPT_HANDLER_MAX 255 /* longest @handler name */

typedef struct client {
  char *name;
  unsigned char open; /* connected and not closed/reset */
  unsigned char shut; /* sent `> eof` since the last open */
  unsigned char eof;  /* expected `< eof` since the last open */
} client_t;

typedef struct steparr {
  fray_step_t *v;
  size_t n, cap;
} steparr_t;

struct fray_script {
  fray_mem_t mem;
  steparr_t steps;
  steparr_t canary;
  client_t *clients;
  size_t nclients, capclients;
  char *handler;
  size_t max_steps;
  size_t max_clients;
  int borrows; /* steps point into the caller's bytes (fray__script_borrow) */
};

/* Client names: [A-Za-z_] then [A-Za-z0-9_-]. */
int fray__script_name_start(int c);
int fray__script_name_char(int c);
/* Whether w[0..n) is one of the keywords that cannot name a client. */
int fray__script_is_keyword(const char *w, size_t n);
/* Handler names are written bare when they consist of these bytes. */
int fray__script_bare_handler_char(int c);
/* 0 if h[0..n) is a valid @handler name, else FRAY_EINVAL. */
int fray__script_check_handler(const uint8_t *h, size_t n);
/* Finds or adds client name[0..n) (already validated): 0, FRAY_ERANGE past
 * the client limit, FRAY_ENOMEM. */
int fray__script_intern_client(fray_script_t *s, const char *name, size_t n, size_t *index);
/* Replaces the @handler name with a copy of h[0..n): 0 or FRAY_ENOMEM. */
int fray__script_set_handler(fray_script_t *s, const uint8_t *h, size_t n);
/* NULL if a step of kind may happen to client c now, else why not (in buf).
 * Canary steps skip this: the simulator opens the canary's connection. */
const char *fray__script_state_error(const client_t *c, fray_step_kind_t kind, char *buf, size_t n);
/* Moves client c's connection state past a step of kind. */
void fray__script_apply_state(client_t *c, fray_step_kind_t kind);
/* Whether ms is a span a WAIT or EXPECT_NOTHING step may say (1 ms to
 * FRAY_SCRIPT_MAX_WAIT_MS). */
int fray__script_span_ok(uint64_t ms);
/* Makes room for one more step in a: 0, FRAY_ERANGE (max_steps), FRAY_ENOMEM. */
int fray__script_reserve_step(fray_script_t *s, steparr_t *a);

#endif /* FRAY_SCRIPT_INTERNAL_H */
