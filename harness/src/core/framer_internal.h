/* Framer internals for tests and the fuzz driver. Never installed. */
#ifndef FRAY_FRAMER_INTERNAL_H
#define FRAY_FRAMER_INTERNAL_H

#include "fray/framer.h"

/* Aborts (trap) when the framer's invariants are broken. Called after every
 * feed in sanitizer builds, and by tests after every mutation. */
void fray__framer_check(const fray_framer_t *f);

/* Bytes allocated for the buffer right now (for memory-bound tests). */
size_t fray__framer_capacity(const fray_framer_t *f);

#endif
