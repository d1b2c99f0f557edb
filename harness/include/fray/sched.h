/* fray/sched.h: schedules, how a script's sends reach the server.
 *
 * A schedule cuts each SEND step of a script into reads (on top of the
 * script's own `|` cuts), merges a send's last read with the next send of
 * the same client, and asks the transport to take the server's writes in
 * short pieces. It is made from a script alone: any player transport
 * (fray/player.h: the simulator, a TCP server) runs it.
 *
 *   fray_sched_buf_t *b;
 *   fray_sched_buf_new(&b, script, NULL);
 *   for (uint64_t seed = 1; seed <= 100; seed++) {
 *     fray_sched_random(b, seed, 0);
 *     run(fray_sched_buf_view(b));      // fray_player_run, fray_sim_run, ...
 *   }
 *   fray_sched_buf_free(b);
 */
#ifndef FRAY_SCHED_H
#define FRAY_SCHED_H

#include "fray/common.h"
#include "fray/script.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How one send step is delivered: extra cut positions (strictly increasing
 * offsets in (0, len), added to the script's own `|` cuts), a cut every
 * `every` bytes as well (0: none; 1 is one byte per read, with no array of
 * cuts, so a bytewise schedule costs nothing per payload byte), and whether
 * its last read is merged with the first read of the next step, which must
 * be a send of the same client (otherwise the flag is ignored). */
typedef struct fray_sched_send {
  const size_t *cuts;
  size_t ncuts;
  int merge_next;
  size_t every;
} fray_sched_send_t;

/* A concrete schedule: a value type whose arrays the caller owns. sends has
 * one entry per SEND step of the script, in order (nsends may be 0: then
 * every send is one read, the `whole` schedule). short_writes: the
 * transport takes the server's writes in pseudo-random small pieces (and
 * sometimes none, EAGAIN), seeded by write_seed; a transport that cannot
 * (a TCP server's writes are its own) ignores it. */
typedef struct fray_sched {
  const fray_sched_send_t *sends;
  size_t nsends;
  int short_writes;
  uint64_t write_seed;
} fray_sched_t;

/* Number of SEND steps in script: the length a schedule's sends has. */
FRAY_EXTERN size_t fray_sched_nsends(const fray_script_t *script);

/* A schedule owned by fray (arrays included): what the generators below
 * fill and the minimiser shrinks. It borrows script, which must outlive it
 * and not change meanwhile. */
typedef struct fray_sched_buf fray_sched_buf_t;

/* Creates a buffer holding the whole schedule of script. mem may be NULL.
 * Returns 0, FRAY_EINVAL (NULL argument) or FRAY_ENOMEM. */
FRAY_EXTERN int fray_sched_buf_new(fray_sched_buf_t **out, const fray_script_t *script,
                                   const fray_mem_t *mem);
/* NULL accepted. */
FRAY_EXTERN void fray_sched_buf_free(fray_sched_buf_t *b);
/* The schedule view of b: valid until b changes or is freed. */
FRAY_EXTERN const fray_sched_t *fray_sched_buf_view(const fray_sched_buf_t *b);

/* Every read one byte (each send's `every` is 1: no memory per byte).
 * 0 or FRAY_EINVAL. */
FRAY_EXTERN int fray_sched_bytewise(fray_sched_buf_t *b);

/* Seeded random cuts (0 to 3 per send, most of them drawn where framing bugs
 * live: before, inside and after delimiters such as "\r\n", at the first and
 * last byte) and merges of consecutive sends of one client. Same seed, same
 * script: same schedule. 0, FRAY_EINVAL or FRAY_ENOMEM. */
FRAY_EXTERN int fray_sched_random(fray_sched_buf_t *b, uint64_t seed, int short_writes);

/* Exhaustive enumeration: every placement of up to max_cuts cuts in one send
 * at a time (the other sends whole). fray_sched_exhaustive_count() tells how
 * many schedules there are (saturating at SIZE_MAX); index 0 is whole.
 * fray_sched_exhaustive(b, k, index) builds schedule number index: 0,
 * FRAY_EINVAL (index past the count) or FRAY_ENOMEM. */
FRAY_EXTERN size_t fray_sched_exhaustive_count(const fray_script_t *script, size_t max_cuts);
FRAY_EXTERN int fray_sched_exhaustive(fray_sched_buf_t *b, size_t max_cuts, size_t index);

/* Writes the schedule as it cuts script: each send's reads joined by `|`,
 * merged sends with `+`, bytes escaped and long sends elided ("whole" when
 * it cuts nothing). Into buf (NUL-terminated, "..." at the end when it did
 * not fit), returns buf. */
FRAY_EXTERN char *fray_sched_describe(const fray_script_t *script, const fray_sched_t *sched,
                                      char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_SCHED_H */
