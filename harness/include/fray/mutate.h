/* fray/mutate.h: malformed variants of a session script, for checking that
 * a handler survives bad input: no crash, bounded memory, and still
 * answering its canary exchange afterwards (`fray replay --mutate N`).
 *
 *   fray_script_t *m;
 *   size_t canary_at;
 *   char what[256];
 *   fray_mutate(script, seed, handler->spec.max_frame, &m, &canary_at, what, sizeof what);
 *   fray_sim_new(&sim, m, handler, NULL);    // the variant says what is judged
 *   fray_sim_set_mem_limit(sim, 64 << 20);
 *   rc = fray_sim_run(sim, NULL, &res);
 */
#ifndef FRAY_MUTATE_H
#define FRAY_MUTATE_H

#include "fray/common.h"
#include "fray/script.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fray_mutation {
  FRAY_MUT_TRUNCATE = 0,  /* the send loses its tail */
  FRAY_MUT_DROP_DELIM,    /* its trailing "\r\n" / "\n" / "\0" goes */
  FRAY_MUT_DUPLICATE,     /* it is sent twice */
  FRAY_MUT_INSERT_NUL,    /* NUL bytes inserted */
  FRAY_MUT_INSERT_FF,     /* 0xFF bytes inserted */
  FRAY_MUT_INSERT_RANDOM, /* random bytes inserted */
  FRAY_MUT_OVERSIZE,      /* grown past the frame maximum by repetition */
  FRAY_MUT_BITFLIP,       /* a few bits flipped (length fields included) */
  FRAY_MUT_CLOSE_MID,     /* cut mid-frame, then the client closes */
  FRAY_MUT_RESET_MID,     /* cut mid-frame, then the client resets */
  FRAY_MUT_COUNT
} fray_mutation_t;

FRAY_EXTERN const char *fray_mutation_name(fray_mutation_t m);

/* Builds a malformed variant of script: one to three of its sends, chosen
 * by seed, each get one mutation; steps of a client after it closed or
 * reset mid-frame are dropped. The script's expectations are kept up to
 * the first mutated send (the input is the same so far) and dropped after
 * it; from there each client's bytes are taken unchecked by `NAME < any`
 * (FRAY_STEP_EXPECT_ANY) before it closes and at the end. Then the script's
 * canary exchange (if it has one) follows on fresh connections of the
 * canary's clients, and *canary_at is the index of its first step (the
 * mutated session's step count, also when there is no canary). So the variant, run whole
 * with its expectations, is judged by what still holds after the
 * mutation: crashes, memory and the canary; saved as a file and replayed,
 * it is judged the same way. max_frame sizes the oversize
 * mutation (0: FRAY_DEFAULT_MAX_FRAME). what (may be NULL) receives a
 * one-line account of the mutations ("line 5: truncate 7 -> 3 bytes; ...").
 * Same script and seed, same variant. *out is a new script the caller frees;
 * it and every allocation made on the way use script's allocator (the
 * fray_mem_t it was parsed or created with). Returns 0, FRAY_EINVAL
 * (script, out or canary_at NULL) or FRAY_ENOMEM (then *out is NULL and
 * nothing is left allocated). */
FRAY_EXTERN int fray_mutate(const fray_script_t *script, uint64_t seed, size_t max_frame,
                            fray_script_t **out, size_t *canary_at, char *what, size_t what_size);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_MUTATE_H */
