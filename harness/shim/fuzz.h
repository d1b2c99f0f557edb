/* The hooks between the shim (shim.c) and its fuzz mode (fuzz.c), which
 * only libfray-shim-fuzz.so has: there the shim plays fuzz inputs against
 * the server from inside its own calls (docs/exec.md, "Fuzzing"). In the
 * plain libfray-shim.so the hooks are empty inlines, so it stays libc-only. */
#ifndef FRAY_SHIM_FUZZ_H
#define FRAY_SHIM_FUZZ_H

#include "protocol.h"

#define FRAY_SHIM_ENV_FUZZ "FRAY_SHIM_FUZZ" /* "1": fuzz mode; "whole": each send one read */
#define FRAY_SHIM_ENV_FUZZ_INPUT "FRAY_SHIM_FUZZ_INPUT"   /* the input's file (default: stdin) */
#define FRAY_SHIM_ENV_FUZZ_REPRO "FRAY_SHIM_FUZZ_REPRO"   /* a failure's .fray goes here */
#define FRAY_SHIM_ENV_FUZZ_HEADER "FRAY_SHIM_FUZZ_HEADER" /* ... after these lines */
#define FRAY_SHIM_ENV_FUZZ_CACHE "FRAY_SHIM_FUZZ_CACHE"   /* "0": no reference cache */
#define FRAY_SHIM_ENV_FUZZ_STATS "FRAY_SHIM_FUZZ_STATS"   /* counters go here now and then */
#define FRAY_SHIM_ENV_FUZZ_EXITS "FRAY_SHIM_FUZZ_EXITS"   /* "ok": exit() ends an exec quietly */

/* shim.c, for fuzz.c: what fray's PIECE and WFAULT messages do (m->conn is
 * the client's port for a PIECE); and the server's descriptor of the
 * connection from peer_port with what is left of its announced piece in
 * *piece_left, or -1 when the server has not accepted it or closed it. */
void fray__shim_apply(const fray_shim_msg_t *m);
/* Counts what the server did on client connections (reads, writes,
 * accepts, closes): unchanged, there is nothing new to look at. */
uint64_t fray__shim_activity(void);
int fray__shim_conn(unsigned peer_port, uint64_t *piece_left);
/* Fuzz mode: fd, one end of an AF_UNIX socketpair made close-on-exec,
 * waits on the listening socket lfd (of port local_port) until the server
 * accepts it as the TCP connection from 127.0.0.1:peer_port (a port no
 * other connection of the process has). Returns 0, or -1 when too many
 * wait already. */
int fray__shim_pend(int lfd, int local_port, int fd, unsigned peer_port);
/* Fuzz mode: the client at peer_port resets (its end closes next): what
 * it sent that the server has not read is dropped, and the server's next
 * read or write of the connection fails with ECONNRESET, as after TCP's
 * RST. */
void fray__shim_reset(unsigned peer_port);

#ifdef FRAY_SHIM_FUZZ
/* FRAY_SHIM_FUZZ is set: exact mode without a control channel. */
int fray__shim_fuzz_wanted(void);
/* A TCP socket listens on the port fray names (or any, when none). */
void fray__shim_fuzz_listen(int fd, int port);
/* The server's thread would block in a wait now (nothing is ready). The
 * first time after the server listens, the forkserver starts here; then
 * (in each forked child) the session runs until it needs the server
 * again. Returns 1 when the wait must be tried again, 0 outside fuzz mode. */
int fray__shim_fuzz_idle(void);
/* In every forked child: 1 when fuzz mode forked it (AFL's forkserver, the
 * reference run), which stays in exact mode; 0 for the server's own forks,
 * where fuzz mode ends and its descriptors (the session's clients, the
 * reference's pipe) are closed, so that a child serving a connection
 * cannot keep them open under the session. */
int fray__shim_fuzz_forked(void);
/* The server read the end of stream of the client at peer_port (a read
 * returned 0): an eof-with-data client about to close hears nothing the
 * server writes from here on. */
void fray__shim_fuzz_eof(unsigned peer_port);
/* reset-mid-write struck the server's write to the client at peer_port,
 * whose drawn prefix is written: the client takes what it was sent and
 * resets now (1: fray__shim_reset done), or it had left already and the
 * write was only short (0). */
int fray__shim_fuzz_struck(unsigned peer_port);
#else
static inline int fray__shim_fuzz_wanted(void) {
  return 0;
}
static inline void fray__shim_fuzz_listen(int fd, int port) {
  (void)fd;
  (void)port;
}
static inline int fray__shim_fuzz_idle(void) {
  return 0;
}
static inline int fray__shim_fuzz_forked(void) {
  return 0;
}
static inline void fray__shim_fuzz_eof(unsigned peer_port) {
  (void)peer_port;
}
static inline int fray__shim_fuzz_struck(unsigned peer_port) {
  (void)peer_port;
  return 0;
}
#endif

#endif
