/* Internal helpers shared by library modules and the CLI. Never installed. */
#ifndef FRAY_INTERNAL_H
#define FRAY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fray/common.h"
#include "core/rng.h"
#include "fray/handler.h"

/* Copies *src (or the default allocator when src is NULL) into *dst. */
void fray__mem_init(fray_mem_t *dst, const fray_mem_t *src);

static inline void *fray__malloc(const fray_mem_t *m, size_t n) {
  return m->malloc_fn(n ? n : 1, m->user_data);
}
static inline void *fray__realloc(const fray_mem_t *m, void *p, size_t n) {
  return m->realloc_fn(p, n ? n : 1, m->user_data);
}
static inline void fray__free(const fray_mem_t *m, void *p) {
  if (p)
    m->free_fn(p, m->user_data);
}

/* The handler's last refused runtime call on c (fray_conn_set_spec with an
 * invalid spec): its name, with *why (static) and *code set; NULL when
 * none was. A driver names it as the handler's bug rather than let its
 * consequence (a reset, a wrong answer) speak for it. */
const char *fray__conn_refusal(const fray_conn_t *c, const char **why, int *code);

/* A count that changes whenever something on s may have given a driver
 * work: output queued, a connection opened, closing, closed or aborted, a
 * call refused. Equal counts around a stretch of calls mean none of that
 * happened in it, so a driver that found every connection idle can skip
 * looking at them again (the simulator pumps after every read). Once a
 * handler took a connection's output queue itself (fray_conn_outq), pushes
 * are out of sight: the count then changes on every call. */
uint64_t fray__server_activity(fray_server_t *s);

/* fray__grow (below), but the doubling stops at max elements when need fits in
 * max: a buffer with a natural bound (the framer's longest frame) does not
 * overshoot it by up to 2x. need above max still grows by doubling. */
int fray__grow_max(const fray_mem_t *m, void **p, size_t *cap, size_t need, size_t elem,
                   size_t max);

/* Grows *p (capacity *cap elements of elem bytes) to hold need elements,
 * doubling from 64 (or from *cap), so n appends cost O(n). 0, or
 * FRAY_ENOMEM when the allocator fails or need * elem does not fit in a
 * size_t (then *p and *cap are unchanged): every growable array in the
 * library goes through here, so none multiplies its way past SIZE_MAX.
 * Inline because most calls (bytes appended to a transcript, a step to a
 * decoded session) find room and should cost a comparison, not two calls. */
static inline int fray__grow(const fray_mem_t *m, void **p, size_t *cap, size_t need, size_t elem) {
  return need <= *cap ? 0 : fray__grow_max(m, p, cap, need, elem, SIZE_MAX);
}

struct fray_script;
/* A new script with no steps but orig's clients (same indices, so orig's
 * steps can be added to it as they are) and @handler: what the minimiser
 * and the mutator build their variants on. mem may be NULL. 0 or
 * FRAY_ENOMEM; *out is NULL on failure. */
int fray__script_new_like(const struct fray_script *orig, const fray_mem_t *mem,
                          struct fray_script **out);

/* The allocator s was created with (never NULL): what code building on a
 * script (its variants, their scratch memory) allocates with. */
const fray_mem_t *fray__script_mem(const struct fray_script *s);

/* From now on, steps added to s keep pointing at the caller's bytes instead
 * of copies (those bytes must outlive s and are not NUL-terminated): the
 * fuzz decoder's sessions, built for every fuzz input, copy nothing.
 * Regex and glob expectations are refused (FRAY_EINVAL). Only on a script
 * with no steps yet: 0 or FRAY_ESTATE. */
int fray__script_borrow(struct fray_script *s);

#endif /* FRAY_INTERNAL_H */
