/* The control protocol between fray and libfray-shim.so, compiled by both.
 *
 * fray creates a SOCK_SEQPACKET socketpair, keeps one end and leaves the
 * other open across exec; FRAY_SHIM_FD names it in the server's
 * environment. Every message is one fray_shim_msg_t (sequenced packets keep
 * them whole, so the threads and processes of a server can all write to the
 * channel without interleaving). The shim never waits on the channel: it
 * drains what fray sent without blocking, inside the intercepted calls, and
 * it starts no thread.
 *
 * Exact schedules run in lockstep:
 *
 *   fray                                  shim (in the server)
 *   ---------------------------------     -------------------------------
 *                                    <--  HELLO (pid)
 *                                    <--  LISTEN port (the server is ready)
 *   connect() a client               -->  (the server's accept)
 *                                    <--  ACCEPT conn, peer port
 *   PIECE peer port, n               -->
 *   send(n bytes) on the TCP socket  -->  (reads capped to what is left of
 *                                         the piece, completed when the
 *                                         piece arrived in parts)
 *                                    <--  READ conn, size, asked
 *                                    <--  WRITE conn, size (each write)
 *                                    <--  IDLE consumed, written (every
 *                                         watched thread blocked waiting,
 *                                         every piece consumed)
 *   next piece only after IDLE ...
 *
 * A send cut into pieces may go as one batch (when the last IDLE said the
 * server has one watched thread): PIECE for each, then all the bytes, then
 * one wait for IDLE. The shim serves the first piece at once and each
 * later one only after the server took its turn (entered a wait that was
 * going to block) since the one before: until then a non-blocking read of
 * the connection finds nothing (EAGAIN). So the server sees the pieces one
 * wait apart, as after a round trip each, without the round trips. A
 * connection the server closes with pieces still held is drained first,
 * so that it ends with a FIN, as in lockstep, where they were never sent.
 *
 * Faults (fray/sched.h) on the real sockets: eof-with-data needs nothing
 * here (fray's FIN travels in the segment of the last piece, TCP_CORK);
 * for reset-mid-write the shim cuts a write, reports RESET and waits in it
 * until fray's RST (SO_LINGER 0) has reached the socket, or NORESET. Under
 * the receive window (and `NAME stops reading`) the shim lets the server
 * write a connection only as much as its client has room for, and hides
 * that it is writable while it has none; fray says when the room changes
 * (ROOM: the client reads when the script waits on it). A wait of the
 * server's that hides a connection's writability also watches the
 * channel, so that a ROOM wakes it; its IDLE says so (IDLE_WINDOW), and
 * fray, after a ROOM, waits for the IDLE that follows.
 *
 * fray sends PIECE before the bytes, so when the server sees the bytes the
 * shim already knows the boundary. Connections are named by the peer's
 * port (fray's local port), which both ends know without a round trip. */
#ifndef FRAY_SHIM_PROTOCOL_H
#define FRAY_SHIM_PROTOCOL_H

#include <stdint.h>

#define FRAY_SHIM_PROTOCOL_VERSION 1

/* Environment variables the shim reads (all optional). */
#define FRAY_SHIM_ENV_FD "FRAY_SHIM_FD"         /* the control channel's fd */
#define FRAY_SHIM_ENV_PORT "FRAY_SHIM_PORT"     /* only this listening port */
#define FRAY_SHIM_ENV_ROLE "FRAY_SHIM_ROLE"     /* "server" (default) or "client" */
#define FRAY_SHIM_ENV_READS "FRAY_SHIM_READS"   /* a --reads policy (policy.h) */
#define FRAY_SHIM_ENV_WRITES "FRAY_SHIM_WRITES" /* a --writes policy */
#define FRAY_SHIM_ENV_LOG "FRAY_SHIM_LOG"       /* append what is served to this file */

typedef enum fray_shim_msg_type {
  /* shim -> fray */
  FRAY_SHIM_MSG_HELLO = 1, /* loaded: a = protocol version */
  FRAY_SHIM_MSG_ACCEPT,    /* conn accepted: a = peer port, b = local port */
  FRAY_SHIM_MSG_READ,      /* conn: a = bytes served (0: end of stream), b = bytes asked */
  FRAY_SHIM_MSG_WRITE,     /* conn: a = bytes accepted, b = bytes offered */
  FRAY_SHIM_MSG_CLOSE,     /* conn: the server closed its descriptor; a = announced bytes
                            * it left unread (a batch's pieces held for its turn) */
  FRAY_SHIM_MSG_IDLE,      /* quiescent: a = bytes consumed, b = bytes written, in all;
                            * conn = watched threads alive, with FRAY_SHIM_IDLE_READER
                            * when one is blocked in a read (batches need 1 alone);
                            * timer_ms: when the wait times out by itself (a server's
                            * timers may still act then: redis closes connections on
                            * its next tick) */
  FRAY_SHIM_MSG_INEXACT,   /* conn: a read could not be served as scheduled; a = code */
  FRAY_SHIM_MSG_LISTEN,    /* a TCP socket listens: a = its port */
  FRAY_SHIM_MSG_FORK,      /* pid forked from process a (fork(); it keeps the standing
                            * policy but takes no part in exact schedules) */
  FRAY_SHIM_MSG_RESET,     /* conn: reset-mid-write struck: the write took a of b bytes
                            * offered (its WRITE went first); the writing thread waits
                            * in that write until fray resets the client (SO_LINGER 0,
                            * so the server's next write fails as the kernel says) or
                            * answers NORESET */
  /* fray -> shim */
  FRAY_SHIM_MSG_PIECE = 32, /* conn = peer port: the next read is a bytes */
  FRAY_SHIM_MSG_WFAULT,     /* a run's faults: a & 1, short writes seeded by b; a & 2,
                             * read gaps may come (RGAP); a & 4, reset-mid-write armed,
                             * its draws seeded by a >> 32 (one write to a client in
                             * eight strikes, once a run: RESET); (a >> 8) & 0xffffff,
                             * the receive window every connection starts with (0:
                             * none) */
  FRAY_SHIM_MSG_RGAP,       /* conn = peer port: the read of the next piece finds nothing
                             * first, once (-1 EAGAIN, or EINTR on a blocking socket), as
                             * after a spurious readiness event; sent before its PIECE */
  FRAY_SHIM_MSG_NORESET,    /* conn (the shim's number): the client of that RESET had
                             * left already (the script closed it): no fault, the cut
                             * write was only short */
  FRAY_SHIM_MSG_ROOM        /* conn = peer port: its client takes a more bytes of the
                             * server's output from the moment it had received b bytes
                             * of the connection (FRAY_SHIM_NO_ROOM: no limit) */
} fray_shim_msg_type_t;

#define FRAY_SHIM_NO_TIMER 0xffffffffu
#define FRAY_SHIM_QUEUE_MAX 64 /* pieces announced behind another one, at most */
#define FRAY_SHIM_IDLE_READER 0x80000000u
/* IDLE: a waiting thread hides a connection's writability (its window is
 * full): it wakes on ROOM, and an IDLE follows. */
#define FRAY_SHIM_IDLE_WINDOW 0x40000000u
/* IDLE: the server waits with pieces unread, which it will not read while
 * a window stays full (it stops reading a client until its output is
 * taken): the shim has dropped them, and fray abandons them (the run is
 * inexact). */
#define FRAY_SHIM_IDLE_STALLED 0x20000000u
#define FRAY_SHIM_NO_ROOM UINT64_MAX

/* FRAY_SHIM_MSG_INEXACT codes. */
enum {
  FRAY_SHIM_INEXACT_PARTIAL = 1, /* the piece did not arrive whole in time */
  FRAY_SHIM_INEXACT_UNANNOUNCED  /* bytes arrived that no PIECE announced */
};

typedef struct fray_shim_msg {
  uint32_t type;     /* fray_shim_msg_type_t */
  uint32_t conn;     /* the shim's connection number (1, 2, ...), or a port */
  uint32_t pid;      /* the sending process (shim -> fray) */
  uint32_t timer_ms; /* IDLE: the waiting thread's timeout, FRAY_SHIM_NO_TIMER if none */
  uint64_t a, b;
} fray_shim_msg_t;

_Static_assert(sizeof(fray_shim_msg_t) == 32, "fray_shim_msg_t is 32 bytes on the wire");

#endif
