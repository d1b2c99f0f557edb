/* Matching what a client received against a script's expectations: the one
 * implementation behind the player (player.c), whatever its transport.
 * Transports differ in how they wait for bytes and word their failures, not
 * in what matches. */
#ifndef FRAY_EXPECT_INTERNAL_H
#define FRAY_EXPECT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fray/common.h"
#include "fray/script.h"
#include "fray/result.h"

/* Index of the first byte where a[0..n) and b[0..n) differ, or n. */
size_t fray__first_diff(const uint8_t *a, const uint8_t *b, size_t n);

/* Matches the next line of got[0..avail) (everything up to and including
 * its "\n") against an EXPECT_REGEX (POSIX ERE, anchored at both ends) or
 * EXPECT_GLOB (fnmatch) step. Returns 1 matched, 0 not matched, FRAY_EAGAIN
 * when got holds no whole line yet, FRAY_ENOMEM. *linelen is set to the
 * line's length (its "\n" included) whenever a line is there. A line holding
 * a NUL byte never matches. */
int fray__match_line(const fray_mem_t *mem, const fray_step_t *st, const uint8_t *got, size_t avail,
                     size_t *linelen);

/* One client as an expectation sees it. The player fills it from its
 * client records; the words are the transport's (a simulated server
 * answers at once, a real one is waited for). */
typedef struct fray__rx {
  const char *who;   /* the client's name */
  const uint8_t *rx; /* everything received (NULL when nothing) */
  size_t len;
  size_t *pos;           /* bytes matched so far: advanced by a match */
  int closed;            /* the server ended the connection: no more bytes */
  int open;              /* the connection is still open (`< eof` fails) */
  const char *end_words; /* when closed: "the server closed the connection" */
  const char *nothing;   /* when not: what came instead of the missing bytes */
  const char *kept_open; /* how long it stayed open, for `< eof`: "" or " for ..." */
} fray__rx_t;

/* How a connection ended, in the words of failures. */
const char *fray__end_words(int reset);

/* Checks an expectation step (EXPECT, EXPECT_REGEX, EXPECT_GLOB,
 * EXPECT_EOF, EXPECT_EOF_OPT) against what c received after *c->pos.
 * Returns 0 when it holds (*c->pos moved past what it matched);
 * FRAY_EFAILED with res->kind, expected, got and diff_at set and the
 * failure's one-line account written into msg[size]; FRAY_ENOMEM. */
int fray__expect_check(const fray_mem_t *mem, const fray_step_t *st, const fray__rx_t *c,
                       fray_result_t *res, char *msg, size_t size);

/* The end of a run that checks expectations: bytes client who received,
 * rx[pos..len), that no expectation matched. When there are some, points
 * res->got at them (res->expected is cleared: no expectation is concerned), writes "<who> received
 * <bytes> that no expectation accounts for" into msg[size] and returns 1; otherwise returns 0. */
int fray__expect_leftover(const char *who, const uint8_t *rx, size_t pos, size_t len,
                          fray_result_t *res, char *msg, size_t size);

#endif
