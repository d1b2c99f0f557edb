/* fray/script.h: `.fray` session scripts. A script is one session with a
 * server: named clients open and close connections, send bytes (with
 * optional explicit read boundaries) and expect bytes back. This module only
 * reads, builds and writes scripts; the simulator walks the steps.
 *
 *   fray_script_t *s;
 *   fray_script_error_t err;
 *   int rc = fray_script_load(&s, "corpus/chat/hello.fray", NULL, &err);
 *   if (rc != 0) {
 *     char msg[512];
 *     fprintf(stderr, "%s\n", fray_script_error_format(&err, msg, sizeof msg));
 *     return rc;
 *   }
 *   size_t n;
 *   const fray_step_t *steps = fray_script_steps(s, &n);
 *   for (size_t i = 0; i < n; i++) run(fray_script_client_name(s, steps[i].client), &steps[i]);
 *   fray_script_free(s);                  // invalidates every pointer above
 *
 * The grammar, with examples, is in docs/script-format.md. Everything a
 * script hands out (steps, bytes, cuts, names) is owned by the script and
 * stays valid and unchanged until fray_script_free(), except that adding
 * steps may move the step arrays (not the bytes they point to).
 *
 * Not thread-safe for mutation; a finished script may be read by many
 * threads at once. */
#ifndef FRAY_SCRIPT_H
#define FRAY_SCRIPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fray/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fray_script fray_script_t;

/* Defaults used when the matching fray_script_opts_t field is 0. */
#define FRAY_SCRIPT_DEFAULT_MAX_BYTES ((size_t)256 << 20) /* expanded data */
/* Script text: room for what fray_script_write() makes of any script within
 * the byte and step defaults without read boundaries, so every recording by
 * proxy --record and import-pcap loads back: the writer spends at most 3.5
 * text bytes per data byte plus 128 per step (and 24 per `|`). */
#define FRAY_SCRIPT_DEFAULT_MAX_TEXT ((size_t)1 << 30)
#define FRAY_SCRIPT_DEFAULT_MAX_REPEAT ((size_t)256 << 20) /* one `* N` */
#define FRAY_SCRIPT_DEFAULT_MAX_STEPS ((size_t)1 << 20)    /* steps + canary */
#define FRAY_SCRIPT_DEFAULT_MAX_CLIENTS ((size_t)1024)
#define FRAY_SCRIPT_MAX_NAME 64 /* longest client name, in bytes */

typedef enum fray_step_kind {
  FRAY_STEP_OPEN = 0,       /* `open NAME`: connect */
  FRAY_STEP_CLOSE,          /* `close NAME`: orderly close (FIN) */
  FRAY_STEP_RESET,          /* `reset NAME`: abortive close (RST) */
  FRAY_STEP_SEND,           /* `NAME > ...`: data, len, cuts, ncuts */
  FRAY_STEP_SHUTDOWN,       /* `NAME > eof`: half-close, the client stops sending */
  FRAY_STEP_EXPECT,         /* `NAME < ...`: the next len bytes received equal data */
  FRAY_STEP_EXPECT_REGEX,   /* `NAME < ~ "re"`: next line matches POSIX ERE data */
  FRAY_STEP_EXPECT_GLOB,    /* `NAME < glob "g"`: next line matches fnmatch() glob data */
  FRAY_STEP_EXPECT_EOF,     /* `NAME < eof`: no more bytes, the server closes */
  FRAY_STEP_EXPECT_EOF_OPT, /* `NAME < eof?`: no more bytes; a close is allowed */
  FRAY_STEP_EXPECT_ANY,     /* `NAME < any`: whatever arrived so far is taken unchecked */
  FRAY_STEP_WAIT,           /* `wait 30s`: ms milliseconds pass, nobody sends (no client) */
  FRAY_STEP_EXPECT_NOTHING, /* `NAME < nothing for 10s`: ms pass and NAME receives nothing */
  FRAY_STEP_READ            /* `NAME stops reading` (reads 0), `NAME reads N` (reads N),
                             * `NAME resumes reading` (reads FRAY_READ_ALL) */
} fray_step_kind_t;

/* The longest span a WAIT or EXPECT_NOTHING step may say: one year, in
 * milliseconds (longer is a typo, not a test). */
#define FRAY_SCRIPT_MAX_WAIT_MS ((uint64_t)366 * 24 * 3600 * 1000)

/* A READ step's reads for `NAME resumes reading`. */
#define FRAY_READ_ALL SIZE_MAX

/* One step: a read-only view owned by the script.
 *
 * data/len: the bytes of SEND and EXPECT, the pattern of EXPECT_REGEX and
 * EXPECT_GLOB; NULL/0 for other kinds. When data is not NULL, data[len] is a
 * NUL byte (not counted in len), so patterns can go straight to regcomp().
 * For the line forms (REGEX, GLOB) the "line" is everything the client
 * receives up to and including the next '\n', and the whole line must
 * match (the regex is implicitly anchored at both ends).
 *
 * cuts/ncuts (SEND only): explicit read boundaries written `|`, as strictly
 * increasing offsets into data, each in (0, len). A schedule that honours
 * them delivers data[0..cuts[0]), data[cuts[0]..cuts[1]), ... as separate
 * reads; NULL/0 when there are none.
 *
 * ms (WAIT, EXPECT_NOTHING): the span, 1 to FRAY_SCRIPT_MAX_WAIT_MS
 * milliseconds; 0 for other kinds. A WAIT step belongs to no client: its
 * client is 0 and means nothing (the script need not have a client).
 * reads (READ only; 0 for other kinds): how much the client reads of what
 * the server sends it from this step on. 0 (`stops reading`): nothing,
 * until a later READ step; what the server sends waits in its own output
 * queue, as when a peer's receive window is full. N (`reads N`): N more
 * bytes, then it stops again. FRAY_READ_ALL (`resumes reading`):
 * everything, as a client that was never stopped. A new connection
 * (`open`) reads everything.
 *
 * line/column: 1-based position of the statement in the script text; 0 for
 * steps added with fray_script_add_step() unless the caller set them. */
typedef struct fray_step {
  fray_step_kind_t kind;
  size_t client; /* index into the script's client name table */
  size_t line;
  size_t column;
  const uint8_t *data;
  size_t len;
  const size_t *cuts;
  size_t ncuts;
  /* EXPECT_REGEX steps held by a script: the pattern compiled when the step
   * entered the script, owned by it, so it is compiled once however often
   * the script runs. NULL in steps built by the caller (those are compiled
   * when matched); fray_script_add_step() ignores what it is given. */
  const struct fray_regex *regex;
  uint64_t ms;
  size_t reads;
} fray_step_t;

/* Parser options, a value type. Zero-initialise (or fray_script_opts_init())
 * and set what you need; 0 in a limit means its default, never "unlimited". */
typedef struct fray_script_opts {
  const fray_mem_t *mem; /* allocator, copied; NULL: malloc/realloc/free */
  size_t max_bytes;      /* total bytes of all sends, expects and patterns */
  size_t max_text;       /* script text length (also bounds fray_script_load) */
  size_t max_repeat;     /* largest N in `"x" * N` */
  size_t max_steps;      /* session steps plus canary steps */
  size_t max_clients;    /* distinct client names */
  /* Directory `file PATH` pieces are relative to. NULL: the directory of
   * the filename given to fray_script_parse()/_load(), or the current
   * directory if it has none. Copied during the call. */
  const char *base_dir;
  /* Nonzero: `file` pieces are a syntax error. Set it when parsing scripts
   * from untrusted sources (fuzzers, uploads) so they cannot read files. */
  int deny_files;
  /* Not NULL: a `file` piece must name a file inside this directory once
   * every symbolic link and `..` is resolved (FRAY_ESYNTAX otherwise), so
   * `file ../../etc/passwd` or a planted link cannot reach out. NULL: any
   * path. The fray CLI passes the script's own directory unless told
   * otherwise (--files-under). Copied during the call. Whatever this says,
   * only regular files are read: a FIFO, device or directory is FRAY_EIO. */
  const char *files_under;
} fray_script_opts_t;

/* Clears *opts (all defaults). */
FRAY_EXTERN void fray_script_opts_init(fray_script_opts_t *opts);

/* Where and why parsing failed. Filled on every failing call that was given
 * one; on success it is left untouched. file is the filename given to the
 * call ("<script>" if none), truncated to fit; line/column are 1-based, or 0
 * when the error has no position (the script file cannot be read). */
typedef struct fray_script_error {
  int code; /* the FRAY_E* code the call returned */
  char file[256];
  size_t line;
  size_t column;
  char message[256]; /* says what was expected, e.g. expected '>' or '<' ... */
} fray_script_error_t;

/* Formats err as "file:line:column: message" ("file: message" without a
 * position) into buf (always NUL-terminated when size > 0) and returns buf. */
FRAY_EXTERN char *fray_script_error_format(const fray_script_error_t *err, char *buf, size_t size);

/* Parses len bytes of script text. filename (may be NULL) names the text in
 * error messages and, unless opts->base_dir is set, locates `file` pieces.
 * text need not be NUL-terminated and is not retained.
 *
 * On success *out is a new script the caller frees with fray_script_free().
 * On failure *out is NULL and err (if not NULL) says where and why.
 * Returns 0, or:
 *   FRAY_ESYNTAX  the text is not a valid script (also: unknown directive,
 *                 invalid escape, a client used before `open`, a `file`
 *                 piece denied by deny_files or outside files_under, ...)
 *   FRAY_ERANGE   a limit of opts was exceeded (the position is where)
 *   FRAY_ENOENT   a `file` piece names a file that does not exist (or
 *                 opts->files_under does not exist: no position then)
 *   FRAY_EIO      a `file` piece could not be read, or is not a regular
 *                 file (a FIFO, device, directory, socket)
 *   FRAY_ENOMEM   an allocation failed (nothing leaks)
 *   FRAY_EINVAL   out or text is NULL */
FRAY_EXTERN int fray_script_parse(fray_script_t **out, const char *text, size_t len,
                                  const char *filename, const fray_script_opts_t *opts,
                                  fray_script_error_t *err);

/* Reads the file at path and parses it as fray_script_parse() with path as
 * filename, so `file` pieces resolve relative to the script's directory.
 * Returns what fray_script_parse() returns; also FRAY_ENOENT (no such
 * script), FRAY_EIO (unreadable) and FRAY_ERANGE (longer than max_text). */
FRAY_EXTERN int fray_script_load(fray_script_t **out, const char *path,
                                 const fray_script_opts_t *opts, fray_script_error_t *err);

/* Frees the script and everything it handed out. NULL is allowed. */
FRAY_EXTERN void fray_script_free(fray_script_t *s);

/* The session steps in order; *n receives their count. The array is owned
 * by the script and valid until the next add or fray_script_free(). */
FRAY_EXTERN const fray_step_t *fray_script_steps(const fray_script_t *s, size_t *n);

/* The canary exchange (`@canary` lines) in order: SEND and EXPECT* steps the
 * simulator plays on a fresh connection to check that the handler still
 * answers, e.g. after a malformed message. Count 0 when none was declared.
 * Same ownership as fray_script_steps(). */
FRAY_EXTERN const fray_step_t *fray_script_canary(const fray_script_t *s, size_t *n);

/* Number of client names; indices are 0..n-1, in order of first use. */
FRAY_EXTERN size_t fray_script_nclients(const fray_script_t *s);

/* The name of client index, NUL-terminated, owned by the script; NULL if
 * index is out of range. */
FRAY_EXTERN const char *fray_script_client_name(const fray_script_t *s, size_t index);

/* Looks up a client by name. Returns 0 and sets *index, or FRAY_ENOENT. */
FRAY_EXTERN int fray_script_client_find(const fray_script_t *s, const char *name, size_t *index);

/* The handler named by `@handler`, owned by the script; NULL if none. */
FRAY_EXTERN const char *fray_script_handler(const fray_script_t *s);

/* Writes ms as a script says a span, in the largest unit that says it
 * exactly (3600000: "1h", 90000: "90s", 1500: "1500ms"), so that it parses
 * back the same, into buf (size n, NUL-terminated when n > 0); returns
 * buf. 32 bytes hold any span. */
FRAY_EXTERN char *fray_script_span_format(uint64_t ms, char *buf, size_t n);

/* Keyword of a step kind ("open", "send", "expect-regex", ...); "unknown"
 * for values outside the enum. Static storage. */
FRAY_EXTERN const char *fray_step_kind_name(fray_step_kind_t kind);

/* ---- Building scripts (minimiser, proxy recorder, fuzz decoder) ----
 *
 *   fray_script_t *s;
 *   size_t a;
 *   fray_script_new(&s, NULL);
 *   fray_script_add_client(s, "alice", &a);
 *   fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_OPEN, .client = a});
 *   static const size_t cut[] = {3};
 *   fray_script_add_step(s, &(fray_step_t){.kind = FRAY_STEP_SEND, .client = a,
 *                        .data = (const uint8_t *)"PING\r\n", .len = 6, .cuts = cut, .ncuts = 1});
 *   fray_script_write(s, stdout);         // alice > "PIN" | "G\r\n"
 *
 * A built script obeys the same rules as a parsed one, so what
 * fray_script_write() prints always parses back (given large enough
 * limits): the builder enforces no byte limit of its own. */

/* Creates an empty script. mem (copied; NULL: the default allocator) is used
 * for every allocation the script makes. Returns 0, FRAY_EINVAL (out NULL)
 * or FRAY_ENOMEM; *out is NULL on failure. */
FRAY_EXTERN int fray_script_new(fray_script_t **out, const fray_mem_t *mem);

/* Returns the index of client name, adding it if it is new. A name is 1 to
 * FRAY_SCRIPT_MAX_NAME bytes of [A-Za-z0-9_-], starting with a letter or
 * '_', and not a keyword (open close reset hex file eof glob). name is
 * copied. Returns 0, FRAY_EINVAL (bad name), FRAY_ERANGE (more than
 * FRAY_SCRIPT_DEFAULT_MAX_CLIENTS names) or FRAY_ENOMEM. */
FRAY_EXTERN int fray_script_add_client(fray_script_t *s, const char *name, size_t *index);

/* Sets (replaces) the `@handler` name: 1-255 bytes, no NUL, no control
 * byte; copied. Returns 0, FRAY_EINVAL or FRAY_ENOMEM. */
FRAY_EXTERN int fray_script_set_handler(fray_script_t *s, const char *name);

/* Appends a copy of *step (bytes and cuts are copied; line/column kept).
 * Checks what the parser checks: a valid kind and client index (none for
 * WAIT), a span within FRAY_SCRIPT_MAX_WAIT_MS, cuts
 * strictly increasing inside (0, len), patterns without NUL, a valid
 * regex, and the client's connection state (open before use, no send after
 * `> eof`, no expectation after `< eof`, no double open). Returns 0, or
 * FRAY_EINVAL (malformed step), FRAY_ESTATE (not allowed in the client's
 * state; the script is unchanged), FRAY_ERANGE (too many steps), FRAY_ENOMEM. */
FRAY_EXTERN int fray_script_add_step(fray_script_t *s, const fray_step_t *step);

/* Appends a copy of *step to the canary exchange. Only SEND (cuts kept),
 * EXPECT, EXPECT_REGEX and EXPECT_GLOB are allowed (else FRAY_EINVAL); the
 * canary's clients need no `open`. Returns as fray_script_add_step(). */
FRAY_EXTERN int fray_script_add_canary_step(fray_script_t *s, const fray_step_t *step);

/* ---- Writing ---- */

/* Writes s as canonical `.fray` text: `@handler`, then the `@canary` lines,
 * then one line per step. Bytes are quoted with escapes (\r \n \t \0 \\ \"
 * \xHH), mostly-binary stretches as `hex "..."`, runs of 16 or more equal
 * bytes as `"x" * N`, cuts as `|`. The text parses back to the same handler,
 * canary and steps (fray_script_equal() holds). Returns 0 or FRAY_EIO. */
FRAY_EXTERN int fray_script_write(const fray_script_t *s, FILE *out);

/* As fray_script_write(), into a new NUL-terminated buffer allocated with
 * the script's allocator; *len (may be NULL) receives its length without the
 * NUL. The caller frees *text with fray_script_text_free(s, *text). Returns
 * 0 or FRAY_ENOMEM (then *text is NULL). */
FRAY_EXTERN int fray_script_write_mem(const fray_script_t *s, char **text, size_t *len);

/* Frees a buffer from fray_script_write_mem(). NULL is allowed. */
FRAY_EXTERN void fray_script_text_free(const fray_script_t *s, char *text);

/* 1 if a and b have the same handler, canary and steps (kinds, client
 * names, bytes, cuts, spans), ignoring positions and client numbering; else 0. */
FRAY_EXTERN int fray_script_equal(const fray_script_t *a, const fray_script_t *b);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_SCRIPT_H */
