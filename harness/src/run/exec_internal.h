/* Starting programs under the preload shim (harness/shim/): finding the
 * shim, splitting a command as a shell splits words, checking that the
 * shim can enter the program (a static binary cannot be entered; gcc's
 * dynamic ASan runtime must be preloaded first), building LD_PRELOAD, and
 * owning a server process (start, wait until it listens, stop, no orphan).
 * Shared by `fray exec` (cli/exec.c) and the --exec transport. Never
 * installed. */
#ifndef FRAY_EXEC_INTERNAL_H
#define FRAY_EXEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fray/common.h"
#include "fray/sched.h"

#define FRAY_SHIM_NAME "libfray-shim.so"

/* Splits cmd into words as a POSIX shell does, without running one: blanks
 * separate words; '...' is literal; "..." is literal but for \" \\ \$ \`
 * and a backslash-newline; a backslash outside quotes escapes the next
 * character. No expansion of any kind ($VAR, globs, ~): a shell is run only
 * when the command says `sh -c`. Each "{port}" in a word becomes port when
 * port is not NULL. *argv (NULL-terminated, *argc words) is freed with
 * fray__exec_argv_free(). Returns 0, FRAY_ESYNTAX (err says which quote is
 * open at which offset, or that there is no word), FRAY_ENOMEM. */
int fray__exec_split(const fray_mem_t *mem, const char *cmd, const char *port, char ***argv,
                     size_t *argc, char *err, size_t errlen);
void fray__exec_argv_free(const fray_mem_t *mem, char **argv);

/* Appends word to buf (of size bytes, NUL-terminated), quoted for a POSIX
 * shell when it holds anything but safe characters, so that
 * fray__exec_split() and sh give it back whole; cut short when buf is
 * full. */
void fray__exec_quote(char *buf, size_t size, const char *word);

/* What fray learns about a program before starting it. */
typedef struct fray__exec_prog {
  char path[4096]; /* where PATH found it */
  int elf;         /* an ELF file (else a script or something else) */
  int dynamic;     /* ELF with a program interpreter: the shim can load */
  char asan[64];   /* its DT_NEEDED gcc ASan runtime ("libasan.so.8"), or "" */
} fray__exec_prog_t;

/* Finds prog as execvp() would (a name with a '/' is taken as is) and reads
 * its ELF headers. Returns 0, FRAY_ENOENT (not found or not executable). */
int fray__exec_inspect(const char *prog, fray__exec_prog_t *out);

/* Finds libfray-shim.so, first found wins: $FRAY_SHIM (a file), next to
 * the running executable (the build tree and `bin/` of a relocatable
 * install), ../LIBDIR beside it, then the install libdir fray was built for.
 * Writes the path into out. 0 or FRAY_ENOENT (out lists where it looked). */
int fray__exec_find_shim(char *out, size_t outlen);

/* The LD_PRELOAD value that puts the shim into prog: the shim before the
 * existing entries (existing may be NULL), and before both a gcc ASan
 * runtime that prog needs, which insists on being first. 0 or FRAY_ERANGE. */
int fray__exec_preload(const fray__exec_prog_t *prog, const char *shim, const char *existing,
                       char *out, size_t outlen);

/* One line saying why the shim cannot enter prog (a static ELF binary), or
 * NULL when it can (as far as fray can tell: scripts and dynamic ELF). */
const char *fray__exec_unfit(const fray__exec_prog_t *prog);

/* A free loopback port, as the kernel picks one for a throwaway listener
 * (another program may take it before the server binds it). -1 if none. */
int fray__exec_free_port(void);

/* ---- the server process ---------------------------------------------------- */

typedef struct fray__server_opts {
  const char *command;       /* the --exec COMMAND; {port} becomes the port */
  unsigned start_timeout_ms; /* for the shim's hello and the listening port */
  unsigned stop_grace_ms;    /* SIGTERM, then SIGKILL after this */
  const char *log_path;      /* the server's stdout and stderr; NULL: a temp file */
} fray__server_opts_t;

typedef struct fray__server fray__server_t;

/* Defaults: 10 s to start, 2 s of grace. */
void fray__server_opts_init(fray__server_opts_t *o);

/* Checks the command (split, found, fit for the shim, shim found) without
 * starting it. o is copied (command included). Returns 0, FRAY_ESYNTAX,
 * FRAY_ENOENT, FRAY_EUNSUPPORTED (a static binary), FRAY_ENOMEM; err says
 * what in one line. */
int fray__server_new(fray__server_t **out, const fray__server_opts_t *o, const fray_mem_t *mem,
                     char *err, size_t errlen);

/* Stops the server (if running) and frees everything; the temporary log
 * is removed. NULL accepted. */
void fray__server_free(fray__server_t *s);

/* Starts the command on a free loopback port in a process group of its
 * own (killed with fray if fray dies), its output to the log file, under
 * the shim with a control channel, and waits until the shim said hello
 * and the port listens (seen in the kernel's tables, so no connection is
 * spent on probing). A running server is stopped first. Returns 0,
 * FRAY_EIO (it died at start: err says how), FRAY_ETIMEDOUT (it did not
 * listen on the port in time: it listens elsewhere, or is slow),
 * FRAY_EUNSUPPORTED (it listens but the shim did not load). On failure the
 * server is stopped; fray__server_tail() shows its last words. */
int fray__server_start(fray__server_t *s, char *err, size_t errlen);

/* SIGTERM to the group, SIGKILL after the grace period, then whatever is
 * left of the group. Returns the leader's wait status (0 if not running).
 * No process of the group is left. */
int fray__server_stop(fray__server_t *s);

/* Whether the server still runs (reaps it when it ended). */
int fray__server_alive(fray__server_t *s);

/* "exited with status N" / "was killed by signal N (Name)" after it ended. */
void fray__server_describe_exit(const fray__server_t *s, char *buf, size_t n);

int fray__server_port(const fray__server_t *s); /* the port the server was given */
int fray__server_ctl(const fray__server_t *s);  /* fray's end of the channel, or -1 */
pid_t fray__server_pid(const fray__server_t *s);
/* The process that listens on the port with the shim in it (the leader,
 * or a program a wrapper started): exact schedules follow it alone. */
pid_t fray__server_shim_pid(const fray__server_t *s);

/* The last `lines` lines of the server's log into buf (NUL-terminated,
 * at most n - 1 bytes); returns their length. */
size_t fray__server_tail(const fray__server_t *s, char *buf, size_t n, size_t lines);

/* ---- exact schedules: the client side of the lockstep ------------------------ */

/* A run that could not be carried out as scheduled (the server read other
 * pieces than announced, a forked process served the connection, a piece
 * was not read in time): it proves nothing either way. Positive, so that it
 * is never mistaken for an error code; fray__xctl_error() says why. */
#define FRAY__XCTL_INEXACT 1

/* What the server sends goes to the caller through these, from inside any
 * operation (a server answers whom it likes). */
typedef struct fray__xctl_cb {
  void (*received)(void *ctx, size_t client, const uint8_t *p, size_t n);
  void (*ended)(void *ctx, size_t client, int reset); /* FIN (0) or RST (1) */
  void *ctx;
  /* reset-mid-write struck client's connection, whose bytes before the cut
   * have gone through received(): 1 when the client leaves there (fray
   * then resets its socket), 0 when it had left already (the script closed
   * it: the write was only short). NULL: always 1. */
  int (*reset)(void *ctx, size_t client);
} fray__xctl_cb_t;

typedef struct fray__xctl fray__xctl_t;

/* A controller for nclients script clients against srv (borrowed, started:
 * its control channel is used). timeout_ms bounds every wait: the backstop
 * for what the shim cannot see. 0 or FRAY_ENOMEM. */
int fray__xctl_new(fray__xctl_t **out, fray__server_t *srv, size_t nclients,
                   const fray__xctl_cb_t *cb, unsigned timeout_ms, const fray_mem_t *mem);
void fray__xctl_free(fray__xctl_t *x);

/* A run starts: the shim's faults for it, from sched (NULL: none): short
 * writes seeded by its write_seed; with FRAY_FAULT_WINDOW, every
 * connection starts with fray_sched_window() bytes of room
 * (fray__xctl_room() changes it); with FRAY_FAULT_READ_GAP,
 * fray__xctl_gap() may be called; with FRAY_FAULT_RESET_MID_WRITE the shim
 * cuts one of the server's writes (drawn from its fault_seed) and the
 * client resets there (cb.reset). 0 or FRAY_EIO (the channel is gone). */
int fray__xctl_begin(fray__xctl_t *x, const fray_sched_t *sched);
/* A run's faults as the shim's WFAULT message carries them (a and b of it:
 * short writes and their seed, read gaps, reset-mid-write and its seed,
 * the receive window; harness/shim/protocol.h), for the control channel
 * and for the fuzz shim, which applies it in place. */
void fray__xctl_wfault(const fray_sched_t *sched, uint64_t *a, uint64_t *b);

/* The read of client i's next piece finds nothing first, once (the
 * read-gap fault): call it before that piece's fray__xctl_send(). 0 or
 * FRAY_EIO. */
int fray__xctl_gap(fray__xctl_t *x, size_t i);

/* Client i's receive window (FRAY_FAULT_WINDOW, `stops reading`): it takes
 * room bytes more of the server's output from now on (FRAY_SHIM_NO_ROOM,
 * UINT64_MAX: no limit); the shim holds back the rest, and hides that the
 * connection is writable, until the room grows. The batch before goes
 * first. When a wait of the server's was held by a full window, returns
 * once the server took the room given and is quiescent again. 0,
 * FRAY_EIO, FRAY__XCTL_INEXACT. */
int fray__xctl_room(fray__xctl_t *x, size_t i, uint64_t room);

/* Client i connects; returns once the shim reported the accept and the
 * server is quiescent again (its greeting, if any, sent). */
int fray__xctl_open(fray__xctl_t *x, size_t i);

/* One scheduled read: PIECE, the bytes on TCP, then wait until the shim
 * reports them read, exactly, and the server quiescent. When the server
 * has one watched thread, the pieces of consecutive sends to one client
 * are gathered and go as one batch at the next operation (protocol.h):
 * errors of a batch are returned there. */
int fray__xctl_send(fray__xctl_t *x, size_t i, const uint8_t *p, size_t len);

/* As fray__xctl_send(), with the client's FIN in the same TCP segment as
 * the bytes (eof-with-data): the server finds the EOF with them, before
 * it waits again. closing: the client's close follows, and it hears only
 * what the server wrote before it read the EOF. The shutdown or close that
 * follows sends no second FIN. */
int fray__xctl_send_eof(fray__xctl_t *x, size_t i, const uint8_t *p, size_t len, int closing);

/* on: every piece its own round trip, never batched (for comparisons). */
void fray__xctl_set_lockstep(fray__xctl_t *x, int on);

int fray__xctl_shutdown(fray__xctl_t *x, size_t i);         /* `> eof` */
int fray__xctl_close(fray__xctl_t *x, size_t i, int reset); /* `close` / `reset` */

/* Waits until ready(cb.ctx, client) holds, the server ended that client's
 * connection, the server is quiescent with all its output arrived and the
 * timeout of its wait (its timers' next turn) has passed, or ms pass.
 * ready may be NULL (a settle: quiescence or time, timers not awaited). */
int fray__xctl_wait(fray__xctl_t *x, unsigned ms, int (*ready)(void *ctx, size_t client),
                    size_t client);

/* The end of a run: waits until the server is quiescent, for up to the
 * controller's timeout when the shim sees it go quiescent, else for ms. */
int fray__xctl_settle(fray__xctl_t *x, unsigned ms);

/* The run ends: every connection closed. */
int fray__xctl_end(fray__xctl_t *x);

/* Every operation returns 0, FRAY__XCTL_INEXACT, FRAY_EIO (the server died:
 * fray__xctl_crashed() is set; or the channel broke), FRAY_ECONNREFUSED;
 * fray__xctl_error() has the one-line account. */
const char *fray__xctl_error(const fray__xctl_t *x);
int fray__xctl_crashed(const fray__xctl_t *x);

#endif
