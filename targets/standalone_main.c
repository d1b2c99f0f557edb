/* The `main` of fuzz targets built without libFuzzer.
 *
 * Replay (any compiler, gcc included): every file named on the command line,
 * or every regular file in a directory named there, is read, copied into a
 * malloc of exactly its size (so ASan sees any over-read, as it would under
 * libFuzzer) and passed to LLVMFuzzerTestOneInput once. A crash is the
 * failure; exit status 2 means a file could not be read, 0 that all ran.
 *
 * AFL++ (built with afl-clang-fast, which defines __AFL_FUZZ_TESTCASE_LEN):
 * with no file arguments it is a persistent-mode, shared-memory harness:
 * afl-fuzz hands each input through shared memory and the process runs
 * 10000 inputs per fork (__AFL_LOOP) instead of one. With file arguments it
 * replays them as above, so afl's crashes can be reproduced with the same
 * binary. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* opendir/readdir, struct stat under -std=c11 */
#endif
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#endif

/* Runs the target once on the file at path; 0, or -1 when unreadable. */
static int run_file(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return -1;
  size_t cap = 4096, len = 0, n;
  uint8_t *buf = malloc(cap);
  while (buf && (n = fread(buf + len, 1, cap - len, fp)) > 0) {
    len += n;
    if (len == cap) {
      uint8_t *nb = realloc(buf, cap *= 2);
      if (!nb)
        free(buf);
      buf = nb;
    }
  }
  int bad = !buf || ferror(fp);
  fclose(fp);
  /* The exact-size copy: a read past the input hits the redzone. */
  uint8_t *exact = bad ? NULL : malloc(len ? len : 1);
  if (exact) {
    memcpy(exact, buf, len);
    LLVMFuzzerTestOneInput(exact, len);
  }
  free(exact);
  free(buf);
  return exact ? 0 : -1;
}

static int run_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return -1;
  if (!S_ISDIR(st.st_mode))
    return run_file(path);
  DIR *d = opendir(path);
  if (!d)
    return -1;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char sub[4096];
    if (e->d_name[0] == '.' ||
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
      continue; /* hidden files (README is not hidden, but harmless input) */
    if (stat(sub, &st) == 0 && S_ISREG(st.st_mode) && run_file(sub) != 0)
      rc = -1;
  }
  closedir(d);
  return rc;
}

int main(int argc, char **argv) {
#ifdef __AFL_FUZZ_TESTCASE_LEN
  if (argc < 2) {
    __AFL_INIT();
    const uint8_t *shm = __AFL_FUZZ_TESTCASE_BUF; /* after __AFL_INIT, never before */
    while (__AFL_LOOP(10000)) {
      size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
      uint8_t *exact = malloc(len ? len : 1);
      if (!exact)
        abort();
      memcpy(exact, shm, len);
      LLVMFuzzerTestOneInput(exact, len);
      free(exact);
    }
    return 0;
  }
#endif
  int rc = 0, runs = 0;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-')
      continue; /* libFuzzer-style flags (-runs=N ...) are accepted and ignored */
    if (run_path(argv[i]) != 0) {
      fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[i]);
      rc = 2;
    }
    runs++;
  }
  if (!runs) {
    fprintf(stderr, "usage: %s FILE|DIR...  (replays each input once)\n", argv[0]);
    return 2;
  }
  fprintf(stderr, "%s: replayed %s\n", argv[0], rc ? "with unreadable inputs" : "all inputs");
  return rc;
}
