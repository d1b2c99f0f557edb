/* The session recorder shared by `fray proxy --record` and the capture
 * importer (session/record.h). */
#include "session/record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"

int fray__rec_init(fray__rec_t *r, const fray_mem_t *mem, size_t max_bytes) {
  memset(r, 0, sizeof *r);
  fray__mem_init(&r->mem, mem);
  r->max_bytes = max_bytes ? max_bytes : FRAY_SCRIPT_DEFAULT_MAX_BYTES;
  return fray_script_new(&r->script, &r->mem);
}

void fray__rec_free(fray__rec_t *r) {
  fray_script_free(r->script);
  r->script = NULL;
  fray__free(&r->mem, r->pend);
  fray__free(&r->mem, r->free_names);
  r->pend = NULL;
  r->free_names = NULL;
  r->pend_len = r->pend_cap = r->nfree = r->capfree = 0;
}

int fray__rec_flush(fray__rec_t *r) {
  if (!r->pend_len)
    return 0;
  fray_step_t st = {.kind = r->pend_dir == 0 ? FRAY_STEP_SEND : FRAY_STEP_EXPECT,
                    .client = r->pend_client,
                    .data = r->pend,
                    .len = r->pend_len};
  r->pend_len = 0;
  return fray_script_add_step(r->script, &st);
}

int fray__rec_open(fray__rec_t *r, size_t *client) {
  size_t idx;
  int rc = 0;
  if (fray_script_nclients(r->script) < FRAY_SCRIPT_DEFAULT_MAX_CLIENTS) {
    char name[32];
    snprintf(name, sizeof name, "c%zu", fray_script_nclients(r->script) + 1);
    rc = fray_script_add_client(r->script, name, &idx);
  } else if (r->nfree) {
    idx = r->free_names[0];
    memmove(r->free_names, r->free_names + 1, --r->nfree * sizeof *r->free_names);
  } else {
    return FRAY_ERANGE;
  }
  if (!rc)
    rc = fray__rec_ctl(r, idx, FRAY_STEP_OPEN);
  if (!rc)
    *client = idx;
  return rc;
}

int fray__rec_data(fray__rec_t *r, size_t client, int dir, const void *data, size_t len) {
  if (!len)
    return 0;
  if (len > r->max_bytes - r->total)
    return FRAY_ETOOLONG;
  if (r->pend_len && (r->pend_client != client || r->pend_dir != dir)) {
    int rc = fray__rec_flush(r);
    if (rc)
      return rc;
  }
  if (fray__grow(&r->mem, (void **)&r->pend, &r->pend_cap, r->pend_len + len, 1))
    return FRAY_ENOMEM;
  memcpy(r->pend + r->pend_len, data, len);
  r->pend_len += len;
  r->pend_client = client;
  r->pend_dir = dir;
  r->total += len;
  return 0;
}

int fray__rec_ctl(fray__rec_t *r, size_t client, fray_step_kind_t kind) {
  int rc = fray__rec_flush(r);
  if (rc)
    return rc;
  return fray_script_add_step(r->script, &(fray_step_t){.kind = kind, .client = client});
}

void fray__rec_release(fray__rec_t *r, size_t client) {
  if (fray__grow(&r->mem, (void **)&r->free_names, &r->capfree, r->nfree + 1,
                 sizeof *r->free_names))
    return;
  r->free_names[r->nfree++] = client;
}

const fray_script_t *fray__rec_script(const fray__rec_t *r) {
  return r->script;
}

fray_script_t *fray__rec_take(fray__rec_t *r) {
  if (fray__rec_flush(r))
    return NULL;
  fray_script_t *s = r->script;
  r->script = NULL;
  return s;
}

/* ---- writing ------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...) {
  if (!err || !errlen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Creates a new file beside path, exclusively: O_EXCL fails on anything
 * already there, a symbolic link included, so a planted link or file is
 * never written through. The name is only unlikely, not secret: a clash is
 * retried under another name. Returns the descriptor (its name in tmp) or
 * -1 with errno set. */
static int create_beside(const char *path, char *tmp, size_t tmpsize) {
  const char *slash = strrchr(path, '/');
  int dirlen = slash ? (int)(slash - path + 1) : 0;
  const char *base = slash ? slash + 1 : path;
  unsigned long salt = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
  for (unsigned k = 0; k < 64; k++) {
    salt = salt * 6364136223846793005UL + 1442695040888963407UL;
    snprintf(tmp, tmpsize, "%.*s.%s.%08lx.tmp", dirlen, path, base, (salt >> 24) & 0xffffffffUL);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST)
      return fd;
  }
  errno = EEXIST;
  return -1;
}

int fray__rec_write_file(const fray_script_t *s, const char *path, char *err, size_t errlen) {
  if (err && errlen)
    err[0] = '\0';
  if (!s || !path || !path[0]) {
    set_err(err, errlen, "no file name");
    return FRAY_EINVAL;
  }
  struct stat sb;
  if (lstat(path, &sb) == 0) {
    if (!S_ISREG(sb.st_mode)) {
      set_err(err, errlen, "%s: not a regular file (%s): refusing to replace it with the recording",
              path,
              S_ISLNK(sb.st_mode)    ? "a symbolic link"
              : S_ISDIR(sb.st_mode)  ? "a directory"
              : S_ISFIFO(sb.st_mode) ? "a FIFO"
                                     : "a device or socket");
      return FRAY_EINVAL;
    }
  } else if (errno != ENOENT) {
    set_err(err, errlen, "%s: %s", path, strerror(errno));
    return FRAY_EIO;
  }
  const fray_mem_t *m = fray_mem_default();
  size_t tmpsize = strlen(path) + 32;
  char *tmp = fray__malloc(m, tmpsize);
  if (!tmp) {
    set_err(err, errlen, "%s: out of memory", path);
    return FRAY_ENOMEM;
  }
  int rc = 0;
  int fd = create_beside(path, tmp, tmpsize);
  if (fd < 0) {
    set_err(err, errlen, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
    fray__free(m, tmp);
    return FRAY_EIO;
  }
  FILE *f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    rc = FRAY_ENOMEM;
  } else {
    rc = fray_script_write(s, f);
    if (fclose(f) != 0 && !rc)
      rc = FRAY_EIO;
  }
  if (!rc && rename(tmp, path) != 0)
    rc = FRAY_EIO;
  if (rc) {
    int e = errno;
    unlink(tmp);
    set_err(err, errlen, "%s: cannot write: %s", path,
            rc == FRAY_EIO ? strerror(e) : fray_strerror(rc));
  }
  fray__free(m, tmp);
  return rc;
}
