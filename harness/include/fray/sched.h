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
  /* The family that drew it (fray_sched_family_t), for reports; 0 (biased)
   * for schedules built by hand. */
  int family;
  /* The fault kinds this schedule carries (FRAY_FAULT_* bits; the
   * FRAY_FAULT_SHORT_WRITES bit mirrors short_writes, which is what
   * transports read), applied by a transport that can inject them and
   * ignored by one that cannot: see fray_fault_t. */
  unsigned faults;
  /* Seeds where and how the faults other than short writes strike (which
   * close, which prefix, which read, which write): same seed, script and
   * faults, same run. */
  uint64_t fault_seed;
} fray_sched_t;

/* The delivery models random runs draw from, in turn (a portfolio: each
 * finds bugs the others rarely reach). */
typedef enum fray_sched_family {
  FRAY_FAMILY_BIASED = 0, /* "biased": 0-3 cuts per send, most where framing bugs
                           * live (around "\r\n", NULs, word starts, first and
                           * last byte); a send merged into the next one in two */
  FRAY_FAMILY_COALESCE,   /* "coalesce": every possible merge, no cuts: one read
                           * per burst of a client's consecutive sends, as Nagle
                           * and pipelining deliver them */
  FRAY_FAMILY_STRETCH,    /* "stretch": a stretch of up to 32 bytes of a send
                           * delivered one byte per read, the rest whole */
  FRAY_FAMILY_BOUNDARY,   /* "boundary": each burst merged, then cut once at a
                           * frame boundary (a send's end or after a "\n") */
  FRAY_FAMILY_DELIM,      /* "delim": cuts inside delimiters only ("\r|\n",
                           * "\r\n|\r\n"; before a lone "\n") */
  FRAY_FAMILY_MESSAGE,    /* "message": one whole line per read, never merged
                           * (message-oriented transports, most test doubles) */
  FRAY_FAMILY_SPLIT,      /* "split": biased cuts, never merged (a reader that
                           * drains its socket before the next send arrives) */
  FRAY_FAMILY_MERGE,      /* "merge": random merges, never cut (small sends
                           * over a fast link) */
  FRAY_FAMILY_PREFIX,     /* "prefix": each burst read in random prefixes of
                           * what is left, 1..all bytes (FoundationDB's
                           * simulated TCP) */
  FRAY_FAMILY_TAIL,       /* "tail": each burst one read but for its last 1..n-1
                           * bytes, a tail length drawn evenly on a log scale (a
                           * batch's last segment late: Nagle's algorithm holds
                           * a write's sub-MSS tail until the ACK; a read buffer
                           * that fills just before the batch ends) */
  FRAY_FAMILY_COUNT
} fray_sched_family_t;

/* Fault kinds a schedule may carry (fray_sched_t.faults, and the mask
 * fray_sched_family() draws from). */
typedef enum fray_fault {
  FRAY_FAULT_SHORT_WRITES = 1u << 0,  /* the server's writes taken in 1-16 byte pieces,
                                       * sometimes none (EAGAIN): fray_sched_t.short_writes */
  FRAY_FAULT_EOF_WITH_DATA = 1u << 1, /* a send followed by its client's close or
                                       * half-close reaches the server with the EOF in
                                       * the same read: no flush between the two */
  /* A `close NAME` or `reset NAME` step (each in two) comes in the middle of
   * one more send: the first bytes of one of the client's sends of that
   * connection, cut before the send's first "\n" so that no frame in them
   * is whole, reach the server just before the EOF or RST, and the rest
   * never arrives. The client hears nothing after them (it is gone), so a
   * handler that drops an unfinished frame at EOF gives the transcripts of
   * the run without the fault: expectations and transcripts still judge,
   * and a handler that acts on the partial command is caught. */
  FRAY_FAULT_CLOSE_MID_SEND = 1u << 2,
  /* One client closes (FIN) or resets (RST) at a drawn step of the script
   * where it still had something to do (a send or an expectation); its
   * steps up to its next `open` are dropped. What the others receive from
   * there on may legitimately change (they may have depended on what it
   * would have sent), so from that step on no expectation of theirs,
   * leftover or transcript is judged; what the leaving client received
   * before it left must still read as its expectations in order. Crashes,
   * sanitizers, refused calls and bounds still judge, and everything
   * before the step is judged as usual. */
  FRAY_FAULT_RANDOM_CLOSE = 1u << 3,
  /* Before some reads (one in four) the server's read finds nothing: in the
   * simulator a raw-mode handler is woken with zero bytes (framed modes
   * see nothing), under --exec the intercepted read fails once with EAGAIN
   * (a non-blocking socket) or EINTR (a blocking one) although readiness
   * said readable. Transcripts must not change. */
  FRAY_FAULT_READ_GAP = 1u << 4,
  /* One client (at a drawn write of the server to it) resets while the
   * server's output to it is partly written: the write takes only part of
   * what it was offered and the connection is reset there, so the handler's
   * output queue is dropped in the middle of an item (a borrowed buffer, a
   * producer's stream) and on_close sees FRAY_CLOSE_RESET. The client's
   * later steps and the judging after that point go as for
   * FRAY_FAULT_RANDOM_CLOSE. */
  FRAY_FAULT_RESET_MID_WRITE = 1u << 5,
  /* Every client has a small receive window (1 to 4096 bytes, drawn from
   * write_seed: fray_sched_window()) and reads only when the script waits on
   * it (an expectation, its close, the end): between those, the server may
   * write it at most a window's worth, and the rest waits in the handler's
   * output queue, so its high-water mark, its producers and the handler's
   * back-pressure are exercised (tokio::io::duplex(max_buf_size)). Every
   * byte still arrives, in order: transcripts must not change. */
  FRAY_FAULT_WINDOW = 1u << 6
} fray_fault_t;

#define FRAY_FAULT_ALL                                                                             \
  (FRAY_FAULT_SHORT_WRITES | FRAY_FAULT_EOF_WITH_DATA | FRAY_FAULT_CLOSE_MID_SEND |                \
   FRAY_FAULT_RANDOM_CLOSE | FRAY_FAULT_READ_GAP | FRAY_FAULT_RESET_MID_WRITE | FRAY_FAULT_WINDOW)
/* The fault kinds after which a run's transcripts may legitimately differ
 * from the whole run's (a client left early): those runs are judged by
 * the oracles above only. */
#define FRAY_FAULT_LEAVES (FRAY_FAULT_RANDOM_CLOSE | FRAY_FAULT_RESET_MID_WRITE)

/* The receive window FRAY_FAULT_WINDOW gives every client under sched, in
 * bytes (1 to 4096, a power of two drawn from its write_seed); 0 when
 * sched is NULL or does not carry the fault. */
FRAY_EXTERN size_t fray_sched_window(const fray_sched_t *sched);

/* The family's name ("coalesce", ...), or "unknown". Static storage. */
FRAY_EXTERN const char *fray_sched_family_name(fray_sched_family_t f);
/* The family called name into *out: 0, or FRAY_ENOENT. */
FRAY_EXTERN int fray_sched_family_from_name(const char *name, fray_sched_family_t *out);
/* The fault kind called name ("short-writes", "eof-with-data",
 * "close-mid-send", "random-close", "read-gap", "reset-mid-write",
 * "window") as its bit, or 0 when there is none. */
FRAY_EXTERN unsigned fray_fault_from_name(const char *name);
/* The name of fault bit f, or "unknown". Static storage. */
FRAY_EXTERN const char *fray_fault_name(unsigned f);

/* The family random run number run of seed draws: the runs come in blocks
 * of FRAY_FAMILY_COUNT, each block a seeded shuffle of every family, so any
 * 2 * FRAY_FAMILY_COUNT - 1 consecutive runs (19: within any 20) hold every
 * family at least once. */
FRAY_EXTERN fray_sched_family_t fray_sched_family_of_run(uint64_t seed, uint64_t run);

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

/* A schedule of family f, seeded: same seed, family and script, same
 * schedule. Each fault kind in the faults mask (FRAY_FAULT_*) is drawn in
 * about one run in four, independently. 0, FRAY_EINVAL (NULL, or f out of
 * range) or FRAY_ENOMEM. */
FRAY_EXTERN int fray_sched_family(fray_sched_buf_t *b, fray_sched_family_t f, uint64_t seed,
                                  unsigned faults);

/* Exhaustive enumeration: every placement of up to max_cuts cuts in one send
 * at a time (the other sends whole), then each send merged uncut into the
 * next one when that is a send of the same client (one schedule per such
 * pair: at most one per send, so merges add little to the count).
 * fray_sched_exhaustive_count() tells how many schedules there are
 * (saturating at SIZE_MAX); index 0 is whole.
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
