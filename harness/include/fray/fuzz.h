/* fray/fuzz.h: fuzz inputs as sessions, and the fuzz driver.
 *
 * Any byte string decodes into a valid session, so every mutation a fuzzer
 * makes is meaningful. The input is read from both ends: payload bytes (what
 * clients send) from the front, decisions (which client does what, lengths,
 * cuts, merges, faults) from the back, one byte at a time, the way LLVM's
 * FuzzedDataProvider does. A mutation of the payload therefore leaves the
 * schedule alone and dictionary tokens stay whole; a mutation of the tail
 * reshapes the session.
 *
 * Decision bytes, read from the last byte backwards; op = next byte:
 *   op & 7 in 0..2  SEND by client (op >> 3) & 3 (opened first if needed):
 *                   length 1 + next byte (op & 0x80: 1 + two bytes, big end
 *                   first), taken from the payload front; (op >> 5) & 3
 *                   cuts, each at 1 + next byte % (length - 1)
 *   3               EXPECT by client (op >> 3) & 3: length as for SEND;
 *                   ignored by the fuzz driver, kept for round trips.
 *                   With op & 0x60 set, time passes instead: 1 + a varint
 *                   of the next bytes (7 bits each, low first, more while
 *                   0x80, at most 6) milliseconds, at most an hour (one
 *                   byte: up to 128 ms, two: 16 s, three: 35 min); 0x40
 *                   alone: client (op >> 3) & 3's `< nothing for` that
 *                   span (opened first if needed), else a `wait`. The
 *                   simulator's clock is virtual, so the handler's timers
 *                   fire as the script's would (fray/handler.h)
 *   4               OPEN client (op >> 3) & 3 (re-open closes the old one)
 *   5               CLOSE client (op >> 3) & 3; with op & 0x20, its
 *                   half-close instead (`NAME > eof`: the handler's on_eof
 *                   runs, the client still reads; a later send of it closes
 *                   and reopens it first, a second half-close is nothing).
 *                   Encoders before it never set 0x20 on a CLOSE op
 *   6               RESET client (op >> 3) & 3
 *   7               flags: op & 0x08 merges the last send with the next one
 *                   (if it is a send of the same client), op & 0x10 turns
 *                   short writes on (write seed: the next byte), op & 0x20
 *                   draws the reads from a schedule family instead (next
 *                   byte % FRAY_FAMILY_COUNT picks it, the byte after seeds
 *                   it: fray_sched_family(); the last such op wins, and the
 *                   cuts and merges decoded are set aside), op & 0x40 turns
 *                   FRAY_FAULT_EOF_WITH_DATA on, op & 0x80 turns on the
 *                   faults bits 0-4 of the next byte name (close-mid-send,
 *                   random-close, read-gap, reset-mid-write, window:
 *                   FRAY_FAULT_* from bit 2 on), seeded by the byte after
 *                   it (the window's size by the write seed when short
 *                   writes are on, else by that byte too)
 * Client 0 ("c0") is open from the start. When the decisions run out, the
 * payload left is one last send of client 0. A missing byte reads as 0.
 * Sessions are bounded: at most FRAY_FUZZ_MAX_STEPS steps. */
#ifndef FRAY_FUZZ_H
#define FRAY_FUZZ_H

#include "fray/common.h"
#include "fray/handler.h"
#include "fray/result.h"
#include "fray/sched.h"
#include "fray/script.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FRAY_FUZZ_MAX_STEPS 4096
#define FRAY_FUZZ_CLIENTS 4
/* The largest input fray's session targets run (larger ones return at once,
 * as the time a fuzzer spends on them says little about the handler), and
 * the -max_len `fray fuzz` gives libFuzzer. fuzz-encode warns above it. */
#define FRAY_FUZZ_MAX_INPUT 65536

/* A decoded session: a script (sends and expectations, no `|`) plus its
 * schedule (cuts, merges, short writes), so that the same session can run
 * whole as the reference. fray_sim_bake() writes the two as one readable
 * script. Owned by the caller. */
typedef struct fray_fuzz_session fray_fuzz_session_t;

/* Decodes data into a new session. The session's steps point into data
 * (nothing is copied: this runs for every fuzz input), so data must stay
 * unchanged while the session lives. Clients are named c0..c3 by their
 * number in the encoding and join the script when first used. Never fails
 * on content; FRAY_ENOMEM only (nothing leaks). handler (may be NULL)
 * becomes the script's @handler. mem (may be NULL) makes every allocation
 * of the session, its script included. */
FRAY_EXTERN int fray_fuzz_decode(fray_fuzz_session_t **out, const uint8_t *data, size_t len,
                                 const char *handler, const fray_mem_t *mem);
FRAY_EXTERN void fray_fuzz_session_free(fray_fuzz_session_t *s);

/* The session's script (borrowed from the session). */
FRAY_EXTERN const fray_script_t *fray_fuzz_session_script(const fray_fuzz_session_t *s);

/* The session's schedule for a player (sim) made on its script. Borrowed; valid
 * while the session is. */
FRAY_EXTERN const fray_sched_t *fray_fuzz_session_sched(const fray_fuzz_session_t *s);

/* The session as one readable script: its schedule baked in (cuts as `|`,
 * merged sends joined), what `fray fuzz-decode` prints and what a crash
 * becomes as a regression test. Short writes cannot be said in a script and
 * are dropped. *out is a new script the caller frees. 0 or FRAY_ENOMEM. */
FRAY_EXTERN int fray_fuzz_session_bake(const fray_fuzz_session_t *s, fray_script_t **out);

/* Reads an AFLNet replay file (messages as a 4-byte little-endian length and
 * that many bytes, AFLNet's format) into a script: client c0 opens and sends
 * each message as one send. A truncated last record is kept as far as it
 * goes; *truncated (may be NULL) tells. handler may be NULL. Returns 0,
 * FRAY_ENOMEM. */
FRAY_EXTERN int fray_fuzz_from_aflnet(const uint8_t *data, size_t len, const char *handler,
                                      fray_script_t **out, int *truncated);

/* Encodes a script into a fuzz input that decodes back into a session that
 * replays the same: each read of a send (its `|` pieces) becomes a send,
 * expectations are kept, clients are renamed c0..c3 in order of appearance
 * (FRAY_ERANGE for more than FRAY_FUZZ_CLIENTS clients; FRAY_EUNSUPPORTED for
 * regex/glob expectations and eof expectations, which the encoding has no
 * op for, unless flags has FRAY_FUZZ_LOSSY: then they are
 * left out, which is fine for seeds since the fuzz driver checks no
 * expectation). *out is allocated with mem (NULL: malloc); the caller frees it with
 * the same allocator. */
#define FRAY_FUZZ_LOSSY 1u /* skip what has no encoding instead of failing */
FRAY_EXTERN int fray_fuzz_encode(const fray_script_t *script, unsigned flags, const fray_mem_t *mem,
                                 uint8_t **out, size_t *len);

/* What the driver found. message is owned by the report (static buffer
 * inside it). */
typedef struct fray_fuzz_report {
  int failed; /* 1 when the input exposed a bug */
  fray_fail_kind_t kind;
  int nondeterministic; /* two whole runs differed: not a split bug */
  char message[1024];
} fray_fuzz_report_t;

/* The fuzz driver: decodes data, runs the session against handler whole
 * (each send one read, no merge), then under the session's cuts, merges and
 * faults, and compares every client's transcript; on a difference it runs
 * whole once more to tell a nondeterministic handler from a split bug.
 * Memory bounds and (in sanitizer builds) the framer's invariants are
 * checked throughout. The server and each connection are fresh heap blocks
 * (so a sanitizer sees a handler's use after close); the driver's own
 * objects live in one arena per input. Everything is freed before it
 * returns. Returns 0 when the handler held,
 * FRAY_EFAILED with rep filled when it did not, FRAY_ENOMEM. The targets
 * print rep->message and abort() on FRAY_EFAILED. */
FRAY_EXTERN int fray_fuzz_run(const fray_handler_t *handler, const uint8_t *data, size_t len,
                              fray_fuzz_report_t *rep);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_FUZZ_H */
