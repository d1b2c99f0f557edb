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
#include <sys/types.h>

#include "fray/common.h"

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

#endif
