/* The session recorder: turns observed TCP traffic into a `.fray` script.
 * Both `fray proxy --record` (live connections) and the capture importer
 * (fray/pcap.h) describe traffic the same way, so they share this: one
 * client per connection named c1, c2, ... (names of ended connections are
 * reused once FRAY_SCRIPT_DEFAULT_MAX_CLIENTS exist), consecutive bytes of
 * one connection and direction merged into one step (how the sender's
 * kernel cut them is not part of the session), control steps (open,
 * half-close, eof, close, reset) in order with the data, a cap on the
 * recorded bytes, and writing the script to a file atomically.
 *
 *   fray__rec_t r;
 *   fray__rec_init(&r, NULL, 0);
 *   fray__rec_open(&r, &c);                  // `open c1`
 *   fray__rec_data(&r, c, 0, "PING\r\n", 6); // `c1 > "PING\r\n"`
 *   fray__rec_data(&r, c, 1, "+PONG\r\n", 7);
 *   fray__rec_ctl(&r, c, FRAY_STEP_CLOSE);   // `close c1`
 *   fray__rec_release(&r, c);                // c1 reusable
 *   fray__rec_write_file(fray__rec_script(&r), "s.fray", err, sizeof err);
 *   fray__rec_free(&r);
 *
 * Internal to the library and the CLI; never installed. */
#ifndef FRAY_SESSION_RECORD_H
#define FRAY_SESSION_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "fray/common.h"
#include "fray/script.h"

typedef struct fray__rec {
  fray_mem_t mem;
  fray_script_t *script;
  size_t max_bytes; /* data bytes recorded at most */
  size_t total;     /* data bytes recorded so far */
  /* Bytes waiting to become one step: consecutive data of one client and
   * direction. */
  size_t pend_client;
  int pend_dir;
  uint8_t *pend;
  size_t pend_len, pend_cap;
  size_t *free_names; /* clients whose connection ended, oldest first */
  size_t nfree, capfree;
} fray__rec_t;

/* Starts an empty recording. mem may be NULL (malloc); max_bytes 0 means
 * FRAY_SCRIPT_DEFAULT_MAX_BYTES, so the script parses back with default
 * limits. 0 or FRAY_ENOMEM (nothing to free then). */
int fray__rec_init(fray__rec_t *r, const fray_mem_t *mem, size_t max_bytes);

/* Frees everything, the script too unless fray__rec_take() took it. */
void fray__rec_free(fray__rec_t *r);

/* A new connection: picks its client (c1, c2, ... or a released name) and
 * records `open`. 0 with *client set; FRAY_ERANGE when
 * FRAY_SCRIPT_DEFAULT_MAX_CLIENTS connections are open at once (nothing
 * recorded: the caller skips the connection); FRAY_ENOMEM. */
int fray__rec_open(fray__rec_t *r, size_t *client);

/* len bytes of data of client: dir 0 client to server (`>`), 1 server to
 * client (`<`). Returns 0, FRAY_ETOOLONG when they would take the
 * recording past max_bytes (nothing recorded; the caller says so and
 * decides whether to go on), or FRAY_ENOMEM. */
int fray__rec_data(fray__rec_t *r, size_t client, int dir, const void *data, size_t len);

/* A control step of client: FRAY_STEP_SHUTDOWN, FRAY_STEP_EXPECT_EOF,
 * FRAY_STEP_CLOSE, FRAY_STEP_RESET. Pending data is written first. 0 or
 * FRAY_ENOMEM. */
int fray__rec_ctl(fray__rec_t *r, size_t client, fray_step_kind_t kind);

/* client's connection is over (its close or reset is recorded, or the
 * recording stopped following it): its name may be given to a later
 * connection. Cannot fail (a name that cannot be queued is just not
 * reused). */
void fray__rec_release(fray__rec_t *r, size_t client);

/* Turns pending data into its step. 0 or FRAY_ENOMEM. */
int fray__rec_flush(fray__rec_t *r);

/* The script recorded so far (pending data not yet in it: flush first).
 * Borrowed; NULL after fray__rec_take(). */
const fray_script_t *fray__rec_script(const fray__rec_t *r);

/* Flushes and hands the script to the caller (fray_script_free()); the
 * recorder keeps nothing of it. NULL when flushing failed (FRAY_ENOMEM). */
fray_script_t *fray__rec_take(fray__rec_t *r);

/* Writes s to path so that a reader never sees half a script and nothing
 * but path itself is ever written: the script goes to a new file created
 * exclusively (O_EXCL, never through a symbolic link) in path's directory,
 * which is then renamed over path. path must be a regular file or not
 * exist: a symbolic link, a device, a FIFO or a directory is refused (a
 * recording must not replace /dev/null or follow a planted link). On
 * failure nothing is left behind and a one-line reason naming path is
 * written to err (size errlen, NUL-terminated when errlen > 0).
 * Returns 0, FRAY_EINVAL (path refused), FRAY_EIO (the system's reason in
 * err) or FRAY_ENOMEM. */
int fray__rec_write_file(const fray_script_t *s, const char *path, char *err, size_t errlen);

#endif /* FRAY_SESSION_RECORD_H */
