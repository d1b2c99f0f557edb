/* Matching what a client received against a script's expectations: the one
 * implementation behind both drivers that check expectations, the simulator
 * (sim.c) and the real-socket runner (netreplay.c). They differ in how they
 * wait for bytes and word their failures, not in what matches. */
#ifndef FRAY_EXPECT_INTERNAL_H
#define FRAY_EXPECT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fray/common.h"
#include "fray/script.h"
#include "fray/sim.h"

/* Index of the first byte where a[0..n) and b[0..n) differ, or n. */
size_t fray__first_diff(const uint8_t *a, const uint8_t *b, size_t n);

/* Matches the next line of got[0..avail) (everything up to and including
 * its "\n") against an EXPECT_REGEX (POSIX ERE, anchored at both ends) or
 * EXPECT_GLOB (fnmatch) step. Returns 1 matched, 0 not matched, FRAY_EAGAIN
 * when got holds no whole line yet, FRAY_ENOMEM. *linelen is set to the
 * line's length (its "\n" included) whenever a line is there. A line holding
 * a NUL byte never matches. */
int fray__match_line(const fray_mem_t *mem, const fray_step_t *st, const uint8_t *got,
                     size_t avail, size_t *linelen);

/* The end of a run that checks expectations: bytes client who received,
 * rx[pos..len), that no expectation matched. When there are some, points
 * res->got at them, writes "<who> received <bytes> that no expectation
 * accounts for" into msg[size] and returns 1; otherwise returns 0. */
int fray__expect_leftover(const char *who, const uint8_t *rx, size_t pos, size_t len,
                          fray_sim_result_t *res, char *msg, size_t size);

#endif
