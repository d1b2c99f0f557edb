/* Framer internals for tests and the fuzz driver. Never installed. */
#ifndef FRAY_FRAMER_INTERNAL_H
#define FRAY_FRAMER_INTERNAL_H

#include "fray/framer.h"

/* Aborts (trap) when the framer's invariants are broken. Called after every
 * feed in sanitizer builds, and by tests after every mutation. */
void fray__framer_check(const fray_framer_t *f);

/* Bytes allocated for the buffer right now (for memory-bound tests). */
size_t fray__framer_capacity(const fray_framer_t *f);

/* A framer in storage its owner provides (fray__framer_size() bytes,
 * aligned for any type), its first buffer inside: a connection keeps its
 * framer in its own block, one allocation instead of three for every
 * connection a fuzz input opens. A frame that outgrows that buffer moves to
 * the heap as it would have.
 * Same checks and returns as fray_framer_new() (FRAY_EINVAL only). Such a
 * framer is never given to fray_framer_free(): fray__framer_fini() frees its
 * buffer, and the owner frees the storage. Neither may happen while one of
 * its callbacks runs (fray_framer_free() would defer; an owner's storage
 * cannot), which the connection runtime guarantees: drivers release a
 * connection only between calls into it. */
size_t fray__framer_size(void);
int fray__framer_init(fray_framer_t *f, const fray_spec_t *spec,
                      const fray_framer_callbacks_t *callbacks, const fray_mem_t *mem,
                      void *user_data);
void fray__framer_fini(fray_framer_t *f);

#endif
