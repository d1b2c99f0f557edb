/* Starting programs under the preload shim: see exec_internal.h. */
#include "run/exec_internal.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"

/* Set by the build (harness/CMakeLists.txt): where `cmake --install` puts
 * the shim, absolute and relative to the prefix. */
#ifndef FRAY_INSTALL_LIBDIR
#define FRAY_INSTALL_LIBDIR "/usr/local/lib"
#endif
#ifndef FRAY_INSTALL_LIBDIR_REL
#define FRAY_INSTALL_LIBDIR_REL "lib"
#endif

/* ---- words ---------------------------------------------------------------------- */

typedef struct words {
  const fray_mem_t *mem;
  char **v;
  size_t n, cap;
  char *w; /* the word being built */
  size_t wl, wcap;
  int in_word;
} words_t;

static int wput(words_t *x, const char *s, size_t n) {
  if (fray__grow(x->mem, (void **)&x->w, &x->wcap, x->wl + n + 1, 1))
    return FRAY_ENOMEM;
  memcpy(x->w + x->wl, s, n);
  x->wl += n;
  x->w[x->wl] = 0;
  x->in_word = 1;
  return 0;
}

static int wend(words_t *x, const char *port) {
  if (!x->in_word)
    return 0;
  if (fray__grow(x->mem, (void **)&x->v, &x->cap, x->n + 2, sizeof *x->v))
    return FRAY_ENOMEM;
  /* {port} becomes the port; the rest of the word is kept as written. */
  size_t plen = port ? strlen(port) : 0, extra = 0;
  for (const char *p = x->w ? x->w : ""; port && (p = strstr(p, "{port}")); p += 6)
    extra += plen;
  char *out = fray__malloc(x->mem, x->wl + extra + 1);
  if (!out)
    return FRAY_ENOMEM;
  size_t o = 0;
  for (size_t i = 0; i < x->wl;) {
    if (port && !strncmp(x->w + i, "{port}", 6)) {
      memcpy(out + o, port, plen);
      o += plen;
      i += 6;
    } else {
      out[o++] = x->w[i++];
    }
  }
  out[o] = 0;
  x->v[x->n++] = out;
  x->v[x->n] = NULL;
  x->wl = 0;
  x->in_word = 0;
  return 0;
}

/* The character after a backslash inside double quotes keeps its
 * backslash unless it is one of these. */
static int dq_escapable(char c) {
  return c == '"' || c == '\\' || c == '$' || c == '`' || c == '\n';
}

static int split_loop(words_t *x, const char *cmd, const char *port, char *err, size_t errlen) {
  int rc = 0;
  for (size_t i = 0; cmd[i] && !rc;) {
    char c = cmd[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      rc = wend(x, port);
      i++;
    } else if (c == '\'' || c == '"') {
      size_t open = i++;
      rc = wput(x, "", 0); /* '' is an empty word */
      while (!rc && cmd[i] && cmd[i] != c) {
        if (c == '"' && cmd[i] == '\\' && dq_escapable(cmd[i + 1])) {
          if (cmd[i + 1] != '\n')
            rc = wput(x, cmd + i + 1, 1);
          i += 2;
        } else {
          rc = wput(x, cmd + i++, 1);
        }
      }
      if (!rc && !cmd[i]) {
        snprintf(err, errlen, "unterminated %s quote opened at offset %zu",
                 c == '"' ? "double" : "single", open);
        return FRAY_ESYNTAX;
      }
      i++;
    } else if (c == '\\' && cmd[i + 1]) {
      if (cmd[i + 1] != '\n')
        rc = wput(x, cmd + i + 1, 1);
      i += 2;
    } else {
      rc = wput(x, cmd + i++, 1);
    }
  }
  return rc ? rc : wend(x, port);
}

void fray__exec_quote(char *buf, size_t size, const char *word) {
  size_t o = strlen(buf);
  int plain = *word != 0;
  for (const char *p = word; *p && plain; p++)
    plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-",
                   *p) != NULL;
  if (!plain && o + 1 < size)
    buf[o++] = '\'';
  for (const char *p = word; *p && o + 5 < size; p++) {
    if (*p == '\'' && !plain)
      o += (size_t)sprintf(buf + o, "'\\''");
    else
      buf[o++] = *p;
  }
  if (!plain && o + 1 < size)
    buf[o++] = '\'';
  buf[o < size ? o : size - 1] = 0;
}

int fray__exec_split(const fray_mem_t *mem, const char *cmd, const char *port, char ***argv,
                     size_t *argc, char *err, size_t errlen) {
  fray_mem_t m;
  fray__mem_init(&m, mem);
  words_t x = {.mem = &m};
  *argv = NULL;
  *argc = 0;
  int rc = split_loop(&x, cmd, port, err, errlen);
  fray__free(&m, x.w);
  if (!rc && !x.n) {
    snprintf(err, errlen, "empty command");
    rc = FRAY_ESYNTAX;
  }
  if (rc) {
    fray__exec_argv_free(&m, x.v);
    return rc;
  }
  *argv = x.v;
  *argc = x.n;
  return 0;
}

void fray__exec_argv_free(const fray_mem_t *mem, char **argv) {
  fray_mem_t m;
  fray__mem_init(&m, mem);
  for (size_t i = 0; argv && argv[i]; i++)
    fray__free(&m, argv[i]);
  fray__free(&m, argv);
}

/* ---- the program ---------------------------------------------------------------- */

static int executable(const char *path) {
  struct stat st;
  return !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK);
}

static int find_in_path(const char *prog, char *out, size_t outlen) {
  if (strchr(prog, '/')) {
    snprintf(out, outlen, "%s", prog);
    return executable(out) ? 0 : FRAY_ENOENT;
  }
  const char *path = getenv("PATH");
  if (!path || !*path)
    path = "/usr/local/bin:/usr/bin:/bin";
  for (const char *p = path; *p;) {
    const char *colon = strchr(p, ':');
    size_t dl = colon ? (size_t)(colon - p) : strlen(p);
    int n = snprintf(out, outlen, "%.*s%s%s", (int)dl, p, dl ? "/" : "", prog);
    if (n > 0 && (size_t)n < outlen && executable(out))
      return 0;
    p += dl + (colon ? 1 : 0);
  }
  return FRAY_ENOENT;
}

static int pread_all(int fd, void *buf, size_t n, off_t off) {
  return pread(fd, buf, n, off) == (ssize_t)n ? 0 : -1;
}

/* The file offset of virtual address va, through the PT_LOAD headers. */
static off_t va_to_off(const Elf64_Phdr *ph, size_t n, uint64_t va) {
  for (size_t i = 0; i < n; i++)
    if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr && va < ph[i].p_vaddr + ph[i].p_filesz)
      return (off_t)(va - ph[i].p_vaddr + ph[i].p_offset);
  return -1;
}

/* Looks for a gcc ASan runtime among the DT_NEEDED entries. */
static void find_asan(int fd, const Elf64_Phdr *ph, size_t n, const Elf64_Phdr *dyn,
                      fray__exec_prog_t *out) {
  size_t nd = (size_t)(dyn->p_filesz / sizeof(Elf64_Dyn));
  if (nd > 1024)
    nd = 1024;
  Elf64_Dyn d[1024];
  if (pread_all(fd, d, nd * sizeof *d, (off_t)dyn->p_offset))
    return;
  uint64_t strtab = 0;
  for (size_t i = 0; i < nd && d[i].d_tag != DT_NULL; i++)
    if (d[i].d_tag == DT_STRTAB)
      strtab = d[i].d_un.d_ptr;
  off_t base = va_to_off(ph, n, strtab);
  for (size_t i = 0; base >= 0 && i < nd && d[i].d_tag != DT_NULL; i++) {
    char name[64] = {0};
    if (d[i].d_tag != DT_NEEDED ||
        pread(fd, name, sizeof name - 1, base + (off_t)d[i].d_un.d_val) <= 0)
      continue;
    if (!strncmp(name, "libasan.so", 10))
      snprintf(out->asan, sizeof out->asan, "%s", name);
  }
}

static void read_elf(int fd, fray__exec_prog_t *out) {
  Elf64_Ehdr eh;
  if (pread_all(fd, &eh, sizeof eh, 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG))
    return;
  out->elf = 1;
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
    out->dynamic = 1; /* not ours to read: let the start-up check tell */
    return;
  }
  Elf64_Phdr ph[64];
  size_t n = eh.e_phnum < 64 ? eh.e_phnum : 64;
  if (pread_all(fd, ph, n * sizeof *ph, (off_t)eh.e_phoff))
    return;
  for (size_t i = 0; i < n; i++) {
    if (ph[i].p_type == PT_INTERP)
      out->dynamic = 1;
    if (ph[i].p_type == PT_DYNAMIC)
      find_asan(fd, ph, n, &ph[i], out);
  }
}

int fray__exec_inspect(const char *prog, fray__exec_prog_t *out) {
  memset(out, 0, sizeof *out);
  if (find_in_path(prog, out->path, sizeof out->path))
    return FRAY_ENOENT;
  int fd = open(out->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FRAY_ENOENT;
  read_elf(fd, out);
  close(fd);
  return 0;
}

const char *fray__exec_unfit(const fray__exec_prog_t *prog) {
  if (prog->elf && !prog->dynamic)
    return "is statically linked: the shim (an LD_PRELOAD library) cannot enter it "
           "(Go programs and static binaries; see docs/exec.md)";
  return NULL;
}

/* ---- the shim --------------------------------------------------------------------- */

static int try_shim(char *out, size_t outlen, const char *dir, const char *rel) {
  int n = snprintf(out, outlen, "%s%s%s", dir, rel, FRAY_SHIM_NAME);
  return n > 0 && (size_t)n < outlen && !access(out, R_OK);
}

int fray__exec_find_shim(char *out, size_t outlen) {
  const char *env = getenv("FRAY_SHIM");
  if (env && *env) {
    snprintf(out, outlen, "%s", env);
    return access(out, R_OK) ? FRAY_ENOENT : 0;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
      slash[1] = 0;
    static const char *const rel[] = {"", "../" FRAY_INSTALL_LIBDIR_REL "/"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
      if (try_shim(out, outlen, self, rel[i]))
        return 0;
  }
  if (try_shim(out, outlen, FRAY_INSTALL_LIBDIR, "/"))
    return 0;
  snprintf(out, outlen,
           "%s not found: set FRAY_SHIM, or look next to the fray binary, in ../lib, or in %s",
           FRAY_SHIM_NAME, FRAY_INSTALL_LIBDIR);
  return FRAY_ENOENT;
}

int fray__exec_preload(const fray__exec_prog_t *prog, const char *shim, const char *existing,
                       char *out, size_t outlen) {
  int n;
  if (existing && !*existing)
    existing = NULL;
  if (prog->asan[0] && !(existing && strstr(existing, prog->asan) == existing))
    n = snprintf(out, outlen, "%s %s%s%s", prog->asan, shim, existing ? " " : "",
                 existing ? existing : "");
  else if (existing && prog->asan[0]) /* the runtime already leads: the shim goes second */
    n = snprintf(out, outlen, "%s %s%s", prog->asan, shim, existing + strlen(prog->asan));
  else
    n = snprintf(out, outlen, "%s%s%s", shim, existing ? " " : "", existing ? existing : "");
  return n > 0 && (size_t)n < outlen ? 0 : FRAY_ERANGE;
}
