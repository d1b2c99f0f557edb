/* fray ci init: everything ClusterFuzzLite and OSS-Fuzz need, written into a
 * project whose fuzz targets come from fray_add_fuzz_target(), in one
 * command: the builder files (.clusterfuzzlite/project.yaml, Dockerfile,
 * build.sh), the GitHub Actions workflows (PR fuzzing in code-change mode,
 * batch, prune and coverage, continuous builds), each target's seed corpus
 * zipped from its SEEDS scripts, its dictionary and .options, and an
 * OSS-Fuzz project.yaml skeleton. The texts are the templates in
 * harness/cli/ci/, compiled in (and installed in share/fray/ci/). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ci_templates.h"
#include "cli.h"
#include "core/internal.h"
#include "fray/fuzz.h"
#include "fray/version.h"
#include "opts.h"
#include "zipw.h"

#define CI_MAX_DEPTH 6        /* how deep the project is searched */
#define CI_MAX_LEN 4096       /* libFuzzer's max_len unless a seed is longer */
#define CI_NAME_MAX 64        /* project and target names */
#define CI_FILE_MAX (1 << 20) /* a CMakeLists.txt or .git/config larger is not read */

typedef struct ci_target {
  char name[CI_NAME_MAX];
  char **seeds; /* absolute paths of its SEEDS scripts */
  size_t nseeds, cap;
} ci_target_t;

typedef struct ci {
  char dir[PATH_MAX]; /* the project, absolute */
  char name[CI_NAME_MAX];
  ci_target_t *t;
  size_t nt, tcap;
  char **scripts; /* every .fray of the project: seeds of targets without SEEDS */
  size_t nscripts, scap;
  char vendored[PATH_MAX]; /* fray's source inside the project, relative; "" none */
  const char *fray_git, *fray_ref, *repo, *contact, *branch;
  char sanitizers[64], engines[64]; /* comma-separated, as given */
  int force;
  int bad; /* a SEEDS script is missing: nothing is written */
} ci_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: fray ci init [--sanitizer NAME]... [--engine NAME]... [--force]\n"
          "                    [--fray-git URL] [--fray-ref REF] [--name NAME]\n"
          "                    [--repo URL] [--contact EMAIL] [--branch NAME] [DIR]\n"
          "\n"
          "Writes into the CMake project DIR (default: .) what ClusterFuzzLite needs to\n"
          "fuzz its fray_add_fuzz_target() targets on GitHub, and OSS-Fuzz's skeleton:\n"
          "  .clusterfuzzlite/project.yaml, Dockerfile, build.sh   the builder\n"
          "  .clusterfuzzlite/TARGET_seed_corpus.zip   the target's SEEDS scripts as\n"
          "                 fuzz inputs (all the project's .fray scripts without SEEDS)\n"
          "  .clusterfuzzlite/TARGET.dict, TARGET.options   tokens mined from those\n"
          "                 scripts' sends; libFuzzer's max_len and dictionary\n"
          "  .github/workflows/cflite_pr.yml     PR fuzzing, code-change mode\n"
          "  .github/workflows/cflite_batch.yml  batch fuzzing every 6 hours\n"
          "  .github/workflows/cflite_cron.yml   daily corpus pruning and coverage\n"
          "  .github/workflows/cflite_build.yml  builds of the default branch\n"
          "  oss-fuzz/project.yaml               for a google/oss-fuzz submission\n"
          "Targets and their SEEDS are read from the project's CMakeLists.txt files.\n"
          "build.sh builds fray from source with the builder's flags, then the\n"
          "project; run `fray ci init --force` again after changing the scripts.\n"
          "\n"
          "  --sanitizer NAME   address, undefined, memory (repeatable; default\n"
          "                     address and undefined; memory needs every library\n"
          "                     the handlers use built with MSan)\n"
          "  --engine NAME      libfuzzer, afl, honggfuzz: OSS-Fuzz's fuzzing_engines\n"
          "                     (repeatable; default all three; ClusterFuzzLite\n"
          "                     fuzzes with libFuzzer)\n"
          "  --fray-git URL     where the image clones fray from (not needed when fray\n"
          "                     is vendored inside DIR); --fray-ref: the tag or branch\n"
          "                     (default v%s)\n"
          "  --name NAME        the project's name (default: its CMake project())\n"
          "  --repo URL         its repository (default: git's origin) and --contact\n"
          "                     EMAIL, for oss-fuzz/project.yaml\n"
          "  --branch NAME      the default branch cflite_build.yml builds (main)\n"
          "  --force            overwrite files that exist (default: refuse, write\n"
          "                     nothing)\n"
          "\n"
          "exit status: 0 written, 2 usage or input error (nothing written)\n"
          "example: fray ci init --fray-git https://example.org/fray.git .\n",
          fray_version());
}

/* ---- small helpers -------------------------------------------------------- */

/* snprintf that says whether it fitted: 0, or -1 when out was too small
 * (then out holds the cut text, still terminated). */
static int fmt(char *out, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *out, size_t size, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(out, size, f, ap);
  va_end(ap);
  return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Appends a strdup of s to the string list *v. 0 or -1. */
static int list_add(char ***v, size_t *n, size_t *cap, const char *s) {
  char *d = strdup(s);
  if (!d || fray__grow(fray_mem_default(), (void **)v, cap, *n + 1, sizeof **v)) {
    free(d);
    return -1;
  }
  (*v)[(*n)++] = d;
  return 0;
}

static void list_free(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* The whole of a small text file, NUL-terminated (free() it), or NULL. */
static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *b = malloc(CI_FILE_MAX + 1);
  size_t n = b ? fread(b, 1, CI_FILE_MAX, f) : 0;
  fclose(f);
  if (b)
    b[n] = '\0';
  return b;
}

/* mkdir -p of the directories above path. 0 or -1 (errno set). */
static int make_parents(const char *path) {
  char d[PATH_MAX];
  fmt(d, sizeof d, "%s", path);
  for (char *p = strchr(d + 1, '/'); p; p = strchr(p + 1, '/')) {
    *p = '\0';
    if (mkdir(d, 0777) && errno != EEXIST)
      return -1;
    *p = '/';
  }
  return 0;
}

/* ---- reading the project ------------------------------------------------- */

/* The next argument of a CMake command call at *p (blanks and comments
 * skipped, quotes removed) into tok; 0 at the closing parenthesis or the
 * end. Arguments longer than size are cut. */
static int cmake_arg(const char **p, char *tok, size_t size) {
  const char *s = *p;
  for (;;) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
      s++;
    if (*s != '#')
      break;
    s += strcspn(s, "\n");
  }
  if (!*s || *s == ')') {
    *p = s;
    return 0;
  }
  size_t n = 0;
  int quoted = *s == '"';
  s += quoted;
  while (*s && (quoted ? *s != '"' : !strchr(" \t\r\n()#", *s))) {
    if (n + 1 < size)
      tok[n++] = *s;
    s++;
  }
  s += quoted && *s == '"';
  tok[n] = '\0';
  *p = s;
  return 1;
}

/* A SEEDS argument as a path: relative to the CMakeLists.txt's directory,
 * ${CMAKE_CURRENT_SOURCE_DIR}/ and ${CMAKE_CURRENT_LIST_DIR}/ understood.
 * 0, or -1 when it holds another variable (cannot be resolved here). */
static int seed_path(const char *cmdir, const char *arg, char *out, size_t size) {
  static const char *const prefixes[] = {"${CMAKE_CURRENT_SOURCE_DIR}/",
                                         "${CMAKE_CURRENT_LIST_DIR}/"};
  for (size_t i = 0; i < 2; i++)
    if (!strncmp(arg, prefixes[i], strlen(prefixes[i])))
      arg += strlen(prefixes[i]);
  if (strstr(arg, "${"))
    return -1;
  return arg[0] == '/' ? fmt(out, size, "%s", arg) : fmt(out, size, "%s/%s", cmdir, arg);
}

/* Reads one fray_add_fuzz_target( call at *p: the name and the SEEDS. */
static int read_call(ci_t *c, const char *cmfile, const char *cmdir, const char **p) {
  char tok[PATH_MAX], path[PATH_MAX];
  if (!cmake_arg(p, tok, sizeof tok))
    return 0;
  if (fray__grow(fray_mem_default(), (void **)&c->t, &c->tcap, c->nt + 1, sizeof *c->t))
    return -1;
  ci_target_t *t = memset(&c->t[c->nt++], 0, sizeof *c->t);
  if (fmt(t->name, sizeof t->name, "%s", tok)) {
    fprintf(stderr, "fray ci init: %s: target name '%s' longer than %d bytes: skipped\n", cmfile,
            tok, CI_NAME_MAX - 1);
    c->nt--;
    return 0;
  }
  int in_seeds = 0;
  while (cmake_arg(p, tok, sizeof tok)) {
    if (!strcmp(tok, "SOURCES") || !strcmp(tok, "HANDLER") || !strcmp(tok, "ENGINE") ||
        !strcmp(tok, "LINK_LIBRARIES") || !strcmp(tok, "SEEDS")) {
      in_seeds = !strcmp(tok, "SEEDS");
    } else if (in_seeds && seed_path(cmdir, tok, path, sizeof path)) {
      fprintf(stderr, "fray ci init: %s: %s: SEEDS '%s' names a variable; list the scripts\n",
              cmfile, t->name, tok);
    } else if (in_seeds && access(path, R_OK)) {
      fprintf(stderr, "fray ci init: %s: %s: SEEDS '%s': %s: %s\n", cmfile, t->name, tok, path,
              strerror(errno));
      c->bad = 1;
    } else if (in_seeds && list_add(&t->seeds, &t->nseeds, &t->cap, path)) {
      return -1;
    }
  }
  return 0;
}

/* 1 when the command name ends right before w, the blanks before its
 * parenthesis skipped, as a whole word (CMake command names ignore case). */
static int called(const char *text, const char *w, const char *name) {
  size_t len = strlen(name);
  if ((size_t)(w - text) < len || strncasecmp(w - len, name, len))
    return 0;
  const char *b = w - len;
  return b == text || !(b[-1] == '_' || isalnum((unsigned char)b[-1]));
}

/* Every fray_add_fuzz_target() call of one CMakeLists.txt, and the project's
 * name from the top one's project(). 0 or -1 (out of memory). */
static int read_cmake(ci_t *c, const char *cmfile, const char *cmdir, int top) {
  char *text = read_text(cmfile), tok[CI_NAME_MAX];
  int rc = 0;
  for (const char *p = text; p && !rc && (p = strchr(p, '(')) != NULL; p++) {
    const char *w = p, *q = p + 1;
    while (w > text && (w[-1] == ' ' || w[-1] == '\t'))
      w--;
    if (called(text, w, "fray_add_fuzz_target"))
      rc = read_call(c, cmfile, cmdir, &q);
    else if (top && !c->name[0] && called(text, w, "project") && cmake_arg(&q, tok, sizeof tok))
      fmt(c->name, sizeof c->name, "%s", tok);
  }
  free(text);
  return rc;
}

/* A directory the search does not enter: hidden ones, build trees. */
static int skipped_dir(const char *name) {
  return name[0] == '.' || !strncmp(name, "build", 5) || !strcmp(name, "CMakeFiles") ||
         !strcmp(name, "_deps") || !strcmp(name, "oss-fuzz");
}

/* Walks dir (rel: its path inside the project) for CMakeLists.txt files,
 * .fray scripts and a vendored fray. 0 or -1 (out of memory). */
static int walk(ci_t *c, const char *dir, const char *rel, int depth) {
  char path[PATH_MAX];
  fmt(path, sizeof path, "%s/harness/include/fray/fray.h", dir);
  if (depth && !c->vendored[0] && !access(path, R_OK)) {
    fmt(c->vendored, sizeof c->vendored, "%s", rel);
    return 0; /* fray's own scripts and CMake files are not the project's */
  }
  DIR *d = opendir(dir);
  int rc = 0;
  for (struct dirent *e; d && !rc && (e = readdir(d)) != NULL;) {
    struct stat st;
    char sub[PATH_MAX];
    if (fmt(path, sizeof path, "%s/%s", dir, e->d_name) ||
        fmt(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) || stat(path, &st))
      continue;
    size_t n = strlen(e->d_name);
    if (S_ISDIR(st.st_mode) && depth < CI_MAX_DEPTH && !skipped_dir(e->d_name))
      rc = walk(c, path, sub, depth + 1);
    else if (S_ISREG(st.st_mode) && !strcmp(e->d_name, "CMakeLists.txt"))
      rc = read_cmake(c, path, dir, depth == 0);
    else if (S_ISREG(st.st_mode) && n > 5 && !strcmp(e->d_name + n - 5, ".fray"))
      rc = list_add(&c->scripts, &c->nscripts, &c->scap, path);
  }
  if (d)
    closedir(d);
  return rc;
}

/* origin's URL from DIR/.git/config into out ("" when there is none). */
static void git_origin(const char *dir, char *out, size_t size) {
  char path[PATH_MAX];
  fmt(path, sizeof path, "%s/.git/config", dir);
  char *text = read_text(path), *s = text ? strstr(text, "[remote \"origin\"]") : NULL;
  char *url = s ? strstr(s, "url = ") : NULL;
  out[0] = '\0';
  if (url)
    fmt(out, size, "%.*s", (int)strcspn(url + 6, "\r\n"), url + 6);
  free(text);
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct ci_var {
  const char *key, *val;
} ci_var_t;

/* tpl with every @KEY@ of vars replaced by its value (other @s kept).
 * malloc'd, or NULL when out of memory. */
static char *expand(const char *tpl, const ci_var_t *vars, size_t nvars) {
  char *out = NULL;
  size_t n = 0, cap = 0;
  for (const char *p = tpl; *p;) {
    const char *src = p;
    size_t len = 1, skip = 1;
    for (size_t i = 0; *p == '@' && i < nvars; i++) {
      size_t k = strlen(vars[i].key);
      if (!strncmp(p + 1, vars[i].key, k) && p[1 + k] == '@') {
        src = vars[i].val, len = strlen(src), skip = k + 2;
        break;
      }
    }
    if (fray__grow(fray_mem_default(), (void **)&out, &cap, n + len + 1, 1)) {
      free(out);
      return NULL;
    }
    memcpy(out + n, src, len);
    n += len;
    p += skip;
  }
  if (out)
    out[n] = '\0';
  return out;
}

/* The files written from templates: where, from which, with which mode. */
static const struct ci_file {
  const char *path, *tpl;
  int mode;
} files[] = {
    {".clusterfuzzlite/project.yaml", "project.yaml", 0644},
    {".clusterfuzzlite/Dockerfile", "Dockerfile", 0644},
    {".clusterfuzzlite/build.sh", "build.sh", 0755},
    {".github/workflows/cflite_pr.yml", "cflite_pr.yml", 0644},
    {".github/workflows/cflite_batch.yml", "cflite_batch.yml", 0644},
    {".github/workflows/cflite_cron.yml", "cflite_cron.yml", 0644},
    {".github/workflows/cflite_build.yml", "cflite_build.yml", 0644},
    {"oss-fuzz/project.yaml", "oss-fuzz-project.yaml", 0644},
};

/* The per-target files, by index: seed zip, dictionary, options. */
static void target_path(const ci_t *c, const ci_target_t *t, int which, char *out, size_t size) {
  static const char *const suffix[] = {"_seed_corpus.zip", ".dict", ".options"};
  fmt(out, size, "%s/.clusterfuzzlite/%s%s", c->dir, t->name, suffix[which]);
}

/* Opens DIR/rel for writing (parents made). NULL after saying why. */
static FILE *open_out(const char *path, const char *mode) {
  FILE *f = make_parents(path) ? NULL : fopen(path, mode);
  if (!f)
    fprintf(stderr, "fray ci init: cannot write %s: %s\n", path, strerror(errno));
  return f;
}

/* Writes text to path with mode bits. 0, or -1 after saying why. */
static int write_text(const char *path, const char *text, int mode) {
  FILE *f = open_out(path, "w");
  if (!f)
    return -1;
  int bad = fputs(text, f) < 0;
  if (fclose(f) || bad || chmod(path, (mode_t)mode)) {
    fprintf(stderr, "fray ci init: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* The bytes of path (free() them) and their number; NULL when unreadable. */
static uint8_t *read_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *b = f ? malloc(FRAY_FUZZ_MAX_INPUT + 1) : NULL;
  *len = b ? fread(b, 1, FRAY_FUZZ_MAX_INPUT + 1, f) : 0;
  if (f)
    fclose(f);
  return b;
}

/* Zips the seeds fray fuzz --prepare wrote into tmp/seeds, in name order
 * (the same scripts give the same archive). The number zipped (0: no zip
 * written), or -1 after saying why; *longest: the longest seed. */
static int zip_seeds(const char *tmp, const char *zpath, size_t *longest) {
  char dir[PATH_MAX], path[PATH_MAX];
  fmt(dir, sizeof dir, "%s/seeds", tmp);
  struct dirent **e = NULL;
  int n = scandir(dir, &e, NULL, alphasort), rc = 0, added = 0;
  FILE *f = NULL;
  fray_cli_zip_t *z = NULL;
  for (int i = 0; i < n; i++) {
    size_t len;
    fmt(path, sizeof path, "%s/%s", dir, e[i]->d_name);
    uint8_t *b = e[i]->d_name[0] == '.' || rc ? NULL : read_bytes(path, &len);
    if (b && !f && (!(f = open_out(zpath, "wb")) || fray_cli_zip_new(&z, f)))
      rc = -1;
    if (b && !rc && fray_cli_zip_add(z, e[i]->d_name, b, len))
      rc = -1;
    if (b && !rc && ++added && len > *longest)
      *longest = len;
    free(b);
    free(e[i]);
  }
  free(e);
  if (z && !rc && fray_cli_zip_finish(z))
    rc = -1;
  fray_cli_zip_free(z);
  if ((f && fclose(f)) || rc) {
    fprintf(stderr, "fray ci init: cannot write %s\n", zpath);
    return -1;
  }
  return added;
}

/* Removes what fray fuzz --prepare made in tmp (two levels), then tmp. */
static void remove_tmp(const char *tmp) {
  static const char *const sub[] = {"seeds", "corpus", "crashes", "regressions", ""};
  char dir[PATH_MAX], path[PATH_MAX];
  for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
    fmt(dir, sizeof dir, "%s/%s", tmp, sub[i]);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
      fmt(path, sizeof path, "%s/%s", dir, e->d_name);
      if (e->d_name[0] != '.')
        unlink(path);
    }
    if (d)
      closedir(d);
    rmdir(dir);
  }
}

/* 1 when the dictionary fray fuzz wrote has an entry (not only its comment). */
static int dict_has_entries(const char *path) {
  char *text = read_text(path);
  int yes = text && (text[0] == '"' || strstr(text, "\n\""));
  free(text);
  return yes;
}

/* Seed zip, dictionary and options of one target, from its SEEDS (or every
 * script of the project) through `fray fuzz --prepare`: the same encoding,
 * size limit and dictionary miner as fray fuzz. 0, or -1 after saying why. */
static int target_files(const ci_t *c, const ci_target_t *t) {
  char **seeds = t->nseeds ? t->seeds : c->scripts;
  size_t nseeds = t->nseeds ? t->nseeds : c->nscripts;
  char tmp[] = "/tmp/fray-ci-XXXXXX", zpath[PATH_MAX], dpath[PATH_MAX], path[PATH_MAX];
  if (!mkdtemp(tmp)) {
    fprintf(stderr, "fray ci init: cannot create a temporary directory: %s\n", strerror(errno));
    return -1;
  }
  char **argv = calloc(nseeds + 5, sizeof *argv);
  int rc = argv ? 0 : -1, zipped = 0;
  size_t longest = 0;
  if (argv) {
    const char *head[] = {"fuzz", "--prepare", "--out", tmp};
    memcpy(argv, head, sizeof head);
    memcpy(argv + 4, seeds, nseeds * sizeof *seeds);
    if (nseeds && fray_cli_fuzz((int)nseeds + 4, argv) != FRAY_EXIT_OK)
      rc = -1;
  }
  free(argv);
  target_path(c, t, 0, zpath, sizeof zpath);
  if (!rc && (zipped = zip_seeds(tmp, zpath, &longest)) < 0)
    rc = -1;
  target_path(c, t, 1, dpath, sizeof dpath);
  fmt(path, sizeof path, "%s/fuzz.dict", tmp);
  int dict = !rc && dict_has_entries(path);
  char *text = dict ? read_text(path) : NULL;
  if (dict && (!text || write_text(dpath, text, 0644)))
    rc = -1;
  free(text);
  char opts[256];
  fmt(opts, sizeof opts, "[libfuzzer]\nmax_len = %zu\n%s%s%s",
      longest > CI_MAX_LEN ? longest : (size_t)CI_MAX_LEN, dict ? "dict = " : "",
      dict ? t->name : "", dict ? ".dict\n" : "");
  target_path(c, t, 2, path, sizeof path);
  if (!rc && write_text(path, opts, 0644))
    rc = -1;
  remove_tmp(tmp);
  if (!rc && !zipped) /* no stale files of an earlier run: build.sh copies what is there */
    unlink(zpath);
  if (!rc && !dict)
    unlink(dpath);
  if (!rc && zipped)
    printf("wrote .clusterfuzzlite/%s_seed_corpus.zip (%d seed(s) from %zu script(s)%s)\n", t->name,
           zipped, nseeds, t->nseeds ? "" : ", no SEEDS: every script of the project");
  if (!rc && dict)
    printf("wrote .clusterfuzzlite/%s.dict (mined from those scripts)\n", t->name);
  if (!rc)
    printf("wrote .clusterfuzzlite/%s.options\n", t->name);
  return rc;
}

/* The comma-separated items of csv, each after prefix, between seps. */
static void join(const char *csv, const char *sep, const char *prefix, char *out, size_t size) {
  out[0] = '\0';
  for (const char *p = csv; *p;) {
    size_t k = strcspn(p, ","), used = strlen(out);
    fmt(out + used, size - used, "%s%s%.*s", used ? sep : "", prefix, (int)k, p);
    p += k + (p[k] == ',');
  }
}

/* The values the templates refer to; strings live in buf. */
static size_t make_vars(const ci_t *c, ci_var_t *v, char (*buf)[1024]) {
  size_t n = 0;
  v[n++] = (ci_var_t){"NAME", c->name};
  v[n++] = (ci_var_t){"FRAY_VERSION", fray_version()};
  buf[0][0] = '\0';
  for (size_t i = 0; i < c->nt; i++)
    fmt(buf[0] + strlen(buf[0]), sizeof buf[0] - strlen(buf[0]), "%s%s", i ? " " : "",
        c->t[i].name);
  v[n++] = (ci_var_t){"TARGETS", buf[0]};
  if (c->vendored[0]) {
    fmt(buf[1], sizeof buf[1], "$SRC/%s/%s", c->name, c->vendored);
    fmt(buf[2], sizeof buf[2], "# fray: vendored in this project at %s", c->vendored);
  } else {
    fmt(buf[1], sizeof buf[1], "$SRC/fray");
    fmt(buf[2], sizeof buf[2], "RUN git clone --depth 1 --branch %s %s $SRC/fray", c->fray_ref,
        c->fray_git);
  }
  v[n++] = (ci_var_t){"FRAY_SRC", buf[1]};
  v[n++] = (ci_var_t){"FRAY_FETCH", buf[2]};
  join(c->sanitizers, ", ", "", buf[3], sizeof buf[3]);
  join(c->sanitizers, "\n", "  - ", buf[4], sizeof buf[4]);
  join(c->engines, "\n", "  - ", buf[5], sizeof buf[5]);
  v[n++] = (ci_var_t){"SANITIZERS", buf[3]};
  v[n++] = (ci_var_t){"SANITIZER_LINES", buf[4]};
  v[n++] = (ci_var_t){"ENGINE_LINES", buf[5]};
  v[n++] = (ci_var_t){"MAIN_REPO", c->repo};
  v[n++] = (ci_var_t){"CONTACT", c->contact};
  v[n++] = (ci_var_t){"BRANCH", c->branch};
  return n;
}

/* Refuses (2) when a file to write exists and --force was not given, naming
 * them all; nothing is written then. */
static int check_existing(const ci_t *c) {
  char path[PATH_MAX];
  int found = 0;
  for (size_t i = 0; i < sizeof files / sizeof files[0] + c->nt * 3; i++) {
    if (i < sizeof files / sizeof files[0])
      fmt(path, sizeof path, "%s/%s", c->dir, files[i].path);
    else
      target_path(c, &c->t[(i - sizeof files / sizeof files[0]) / 3],
                  (int)((i - sizeof files / sizeof files[0]) % 3), path, sizeof path);
    if (!access(path, F_OK)) {
      fprintf(stderr, "fray ci init: %s exists\n", path);
      found = 1;
    }
  }
  if (found)
    fprintf(stderr, "fray ci init: nothing written; --force overwrites\n");
  return found ? FRAY_EXIT_USAGE : FRAY_EXIT_OK;
}

/* Every file: the seed corpora first, since bad scripts are what is most
 * likely to stop the command. 0 or 2 (after saying why). */
static int write_all(const ci_t *c) {
  for (size_t i = 0; i < c->nt; i++)
    if (target_files(c, &c->t[i]))
      return FRAY_EXIT_USAGE;
  ci_var_t vars[16];
  char buf[6][1024];
  size_t nvars = make_vars(c, vars, buf);
  char path[PATH_MAX];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    const char *tpl = fray_ci_template(files[i].tpl);
    char *text = tpl ? expand(tpl, vars, nvars) : NULL;
    fmt(path, sizeof path, "%s/%s", c->dir, files[i].path);
    int rc = text ? write_text(path, text, files[i].mode) : -1;
    free(text);
    if (rc)
      return FRAY_EXIT_USAGE;
    printf("wrote %s\n", files[i].path);
  }
  return FRAY_EXIT_OK;
}

/* ---- the command ------------------------------------------------------------ */

/* Adds name to the comma-separated list (at most once) if it is one of
 * allowed. 0, or -1 after a usage error. */
static int add_choice(char *list, size_t size, const char *opt, const char *name,
                      const char *const *allowed) {
  for (size_t i = 0; allowed[i]; i++) {
    if (strcmp(name, allowed[i]))
      continue;
    size_t n = strlen(list), k = strlen(name);
    char *hit = strstr(list, name);
    if (hit && (hit == list || hit[-1] == ',') && (hit[k] == ',' || !hit[k]))
      return 0;
    fmt(list + n, size - n, "%s%s", n ? "," : "", name);
    return 0;
  }
  return fray_cli_usage_error("ci", "%s '%s': not one of the known names", opt, name);
}

static int parse(ci_t *c, int argc, char **argv, const char **dir) {
  static const char *const sans[] = {"address", "undefined", "memory", NULL};
  static const char *const engines[] = {"libfuzzer", "afl", "honggfuzz", NULL};
  static const fray_cli_opt_t table[] = {
      {"--sanitizer", FRAY_CLI_TEXT, 0, 0, NULL}, {"--engine", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--fray-git", FRAY_CLI_TEXT, 0, 0, NULL},  {"--fray-ref", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--name", FRAY_CLI_TEXT, 0, 0, NULL},      {"--repo", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--contact", FRAY_CLI_TEXT, 0, 0, NULL},   {"--branch", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--force", FRAY_CLI_FLAG, 0, 0, NULL}};
  fray_cli_args_t a;
  fray_cli_args_init(&a, "ci", FRAY_CLI_TABLE(table), usage, argc, argv);
  for (fray_cli_arg_t k; (k = fray_cli_next_arg(&a)) != FRAY_CLI_ARG_END;) {
    const char *n = a.name, *v = a.val;
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return fray_cli_stop_status(k);
    if (k == FRAY_CLI_ARG_OPERAND) {
      if (*dir)
        return fray_cli_usage_error("ci", "one DIR ('%s' is extra)", v), FRAY_EXIT_USAGE;
      *dir = v;
      continue;
    }
    if (!strcmp(n, "--sanitizer") && add_choice(c->sanitizers, sizeof c->sanitizers, n, v, sans))
      return FRAY_EXIT_USAGE;
    else if (!strcmp(n, "--engine") && add_choice(c->engines, sizeof c->engines, n, v, engines))
      return FRAY_EXIT_USAGE;
    else if (!strcmp(n, "--name"))
      fmt(c->name, sizeof c->name, "%s", v);
    c->fray_git = !strcmp(n, "--fray-git") ? v : c->fray_git;
    c->fray_ref = !strcmp(n, "--fray-ref") ? v : c->fray_ref;
    c->repo = !strcmp(n, "--repo") ? v : c->repo;
    c->contact = !strcmp(n, "--contact") ? v : c->contact;
    c->branch = !strcmp(n, "--branch") ? v : c->branch;
    c->force |= !strcmp(n, "--force");
  }
  return -1;
}

/* The project: its files searched, the defaults filled in. 0, or 2 after
 * saying why. */
static int load(ci_t *c, const char *dir, char *origin, size_t osize, char *ref, size_t rsize) {
  if (!realpath(dir, c->dir)) {
    fprintf(stderr, "fray ci init: %s: %s\n", dir, strerror(errno));
    return FRAY_EXIT_USAGE;
  }
  if (strlen(c->dir) > PATH_MAX / 2) { /* then every file written has a path that fits */
    fprintf(stderr, "fray ci init: %s: path too long\n", c->dir);
    return FRAY_EXIT_USAGE;
  }
  char cname[CI_NAME_MAX];
  fmt(cname, sizeof cname, "%s", c->name);
  c->name[0] = '\0';
  if (walk(c, c->dir, "", 0)) {
    fprintf(stderr, "fray ci init: out of memory reading %s\n", c->dir);
    return FRAY_EXIT_USAGE;
  }
  if (cname[0] || !c->name[0]) /* --name, else project(), else the directory */
    fmt(c->name, sizeof c->name, "%s", cname[0] ? cname : strrchr(c->dir, '/') + 1);
  for (char *p = c->name; *p; p++) /* OSS-Fuzz project names: [a-z0-9_-] */
    *p = (char)(strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", *p) ? *p
                : (*p >= 'A' && *p <= 'Z')                           ? *p - 'A' + 'a'
                                                                     : '-');
  if (c->bad)
    return FRAY_EXIT_USAGE;
  if (!c->nt) {
    fprintf(stderr, "fray ci init: no fray_add_fuzz_target() in the CMakeLists.txt files of %s\n",
            c->dir);
    return FRAY_EXIT_USAGE;
  }
  if (!c->vendored[0] && !c->fray_git) {
    fprintf(stderr,
            "fray ci init: the image needs fray's source: pass --fray-git URL (and "
            "--fray-ref REF), or vendor fray inside %s\n",
            c->dir);
    return FRAY_EXIT_USAGE;
  }
  git_origin(c->dir, origin, osize);
  fmt(ref, rsize, "v%s", fray_version());
  c->repo = c->repo ? c->repo : origin[0] ? origin : "https://github.com/OWNER/REPO";
  c->fray_ref = c->fray_ref ? c->fray_ref : ref;
  c->contact = c->contact ? c->contact : "you@example.org";
  c->branch = c->branch ? c->branch : "main";
  if (!c->sanitizers[0])
    fmt(c->sanitizers, sizeof c->sanitizers, "address,undefined");
  if (!c->engines[0])
    fmt(c->engines, sizeof c->engines, "libfuzzer,afl,honggfuzz");
  return FRAY_EXIT_OK;
}

static void ci_free(ci_t *c) {
  for (size_t i = 0; i < c->nt; i++)
    list_free(c->t[i].seeds, c->t[i].nseeds);
  free(c->t);
  list_free(c->scripts, c->nscripts);
  free(c);
}

int fray_cli_ci(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "init")) {
    int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    if (!help && argc >= 2)
      fprintf(stderr, "fray ci: unknown subcommand '%s' (init is the one)\n", argv[1]);
    usage(help ? stdout : stderr);
    return help ? FRAY_EXIT_OK : FRAY_EXIT_USAGE;
  }
  ci_t *c = calloc(1, sizeof *c);
  if (!c)
    return FRAY_EXIT_USAGE;
  const char *dir = NULL;
  char origin[PATH_MAX], ref[64];
  int rc = parse(c, argc - 1, argv + 1, &dir);
  if (rc < 0)
    rc = load(c, dir ? dir : ".", origin, sizeof origin, ref, sizeof ref);
  if (!rc && !c->force)
    rc = check_existing(c);
  if (!rc)
    rc = write_all(c);
  if (!rc)
    printf("fray ci init: %zu target(s) of %s (%s): commit these files; ClusterFuzzLite fuzzes "
           "the next pull request\n",
           c->nt, c->name, c->vendored[0] ? "fray vendored" : c->fray_git);
  ci_free(c);
  return rc;
}
