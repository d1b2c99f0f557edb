/* fray doctor: checks this machine for what fuzzing fray's targets needs and
 * says, one line per check, what to do about each problem. It changes
 * nothing. Exit 0 when libFuzzer fuzzing works here (clang can build and run
 * a fuzzer), 1 when it cannot, 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"

enum { OK, WARN, MISSING };
static const char *const level_name[] = {"ok", "warn", "missing"};

typedef struct check {
  const char *name;
  int level;
  char detail[256]; /* what was found, or what to do */
} check_t;

/* Full path of an executable in $PATH into out, or 0. */
static int find_exe(const char *name, char *out, size_t size) {
  const char *path = getenv("PATH");
  while (path && *path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    if (n && snprintf(out, size, "%.*s/%s", (int)n, path, name) < (int)size &&
        access(out, X_OK) == 0)
      return 1;
    path = end ? end + 1 : NULL;
  }
  return 0;
}

/* First line of a file (newline stripped) into out; 0 if unreadable. */
static int read_line(const char *path, char *out, size_t size) {
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  int ok = fgets(out, (int)size, f) != NULL;
  fclose(f);
  if (ok)
    out[strcspn(out, "\n")] = 0;
  return ok;
}

/* Builds and runs a three-line fuzzer: the only sure test that clang's
 * libFuzzer and sanitizer runtimes (libclang-rt-14-dev) are installed. */
static int libfuzzer_works(char *why, size_t size) {
  char dir[] = "/tmp/fray-doctor-XXXXXX", cmd[512], src[64];
  if (!mkdtemp(dir)) {
    snprintf(why, size, "cannot create a temporary directory");
    return 0;
  }
  snprintf(src, sizeof src, "%s/t.c", dir);
  FILE *f = fopen(src, "w");
  if (f) {
    fputs(
        "#include <stddef.h>\n#include <stdint.h>\n"
        "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n",
        f);
    fclose(f);
  }
  snprintf(cmd, sizeof cmd,
           "clang -fsanitize=fuzzer,address,undefined %s/t.c -o %s/t >%s/log 2>&1 && "
           "%s/t -runs=1 >>%s/log 2>&1",
           dir, dir, dir, dir, dir);
  int rc = f ? system(cmd) : -1;
  int ok = rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
  if (!ok)
    snprintf(why, size, "clang -fsanitize=fuzzer fails: apt-get install libclang-rt-14-dev");
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "fray doctor: could not remove %s\n", dir);
  return ok;
}

static void run_checks(check_t *c, size_t *n) {
  char p[200], v[200];
  size_t i = 0;
  int clang = find_exe("clang", p, sizeof p);
  c[i] = (check_t){"clang", clang ? OK : MISSING, ""};
  snprintf(c[i++].detail, sizeof c->detail, "%.200s", clang ? p : "apt-get install clang");

  c[i] = (check_t){"libfuzzer", MISSING, ""};
  if (!clang)
    snprintf(c[i].detail, sizeof c->detail, "needs clang first, then libclang-rt-14-dev");
  else if (libfuzzer_works(c[i].detail, sizeof c->detail))
    c[i].level = OK, snprintf(c[i].detail, sizeof c->detail, "clang builds and runs a fuzzer");
  i++;

  static const char *const afl[] = {"afl-fuzz", "afl-clang-fast"};
  for (size_t k = 0; k < 2; k++) {
    int have = find_exe(afl[k], p, sizeof p);
    c[i] = (check_t){afl[k], have ? OK : WARN, ""};
    snprintf(c[i++].detail, sizeof c->detail, "%.200s",
             have ? p : "apt-get install afl++ (only for --engine afl; libFuzzer suffices)");
  }

  c[i] = (check_t){"core_pattern", OK, ""};
  if (!read_line("/proc/sys/kernel/core_pattern", v, sizeof v))
    c[i].level = WARN,
    snprintf(c[i].detail, sizeof c->detail, "unreadable: AFL++ may refuse to start");
  else if (v[0] == '|')
    c[i].level = WARN,
    snprintf(c[i].detail, sizeof c->detail,
             "pipes to a program: echo core > /proc/sys/kernel/core_pattern, or run afl-fuzz "
             "with AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1");
  else
    snprintf(c[i].detail, sizeof c->detail, "'%.200s': AFL++ sees crashes", v);
  i++;

  c[i] = (check_t){"cpu_governor", OK, ""};
  if (!read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", v, sizeof v))
    c[i].level = WARN, snprintf(c[i].detail, sizeof c->detail,
                                "no cpufreq (a VM?): run afl-fuzz with AFL_SKIP_CPUFREQ=1");
  else if (strcmp(v, "performance") != 0)
    c[i].level = WARN,
    snprintf(
        c[i].detail, sizeof c->detail,
        "'%.60s': echo performance | tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor, "
        "or AFL_SKIP_CPUFREQ=1",
        v);
  else
    snprintf(c[i].detail, sizeof c->detail, "performance");
  i++;

  static const char *const cov[] = {"llvm-cov", "llvm-profdata"};
  for (size_t k = 0; k < 2; k++) {
    int have = find_exe(cov[k], p, sizeof p);
    c[i] = (check_t){cov[k], have ? OK : WARN, ""};
    snprintf(c[i++].detail, sizeof c->detail, "%.200s",
             have ? p : "apt-get install llvm (only for scripts/coverage.sh)");
  }
  *n = i;
}

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      printf("\\u%04x", (unsigned char)*s);
    else
      putchar(*s);
  }
  putchar('"');
}

static void usage(FILE *out) {
  fprintf(out, "usage: fray doctor [--json]\n\n"
               "Checks this machine for fuzzing: clang, its libFuzzer runtime, AFL++,\n"
               "core_pattern, the CPU governor, llvm-cov. One line per check:\n"
               "ok / warn / missing, then what was found or what to do.\n"
               "exit status: 0 libFuzzer fuzzing works here, 1 it does not, 2 usage error\n");
}

int fray_cli_doctor(int argc, char **argv) {
  int json = 0;
  fray_cli_args_t args;
  static const fray_cli_opt_t opts_table[] = {{"--json", FRAY_CLI_FLAG, 0, 0, NULL}};
  fray_cli_args_init(&args, "doctor", FRAY_CLI_TABLE(opts_table), usage, argc, argv);
  for (fray_cli_arg_t k; (k = fray_cli_next_arg(&args)) != FRAY_CLI_ARG_END;) {
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return fray_cli_stop_status(k);
    if (k == FRAY_CLI_ARG_OPERAND) {
      fray_cli_usage_error("doctor", "unexpected argument '%s'", args.val);
      return FRAY_EXIT_USAGE;
    }
    json = 1; /* --json, the only option */
  }
  check_t c[8];
  size_t n = 0;
  run_checks(c, &n);
  int can_fuzz = c[0].level == OK && c[1].level == OK;
  if (json) {
    printf("{\"libfuzzer_ready\": %s, \"checks\": [", can_fuzz ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
      printf("%s{\"name\": ", i ? ", " : "");
      json_string(c[i].name);
      printf(", \"status\": \"%s\", \"detail\": ", level_name[c[i].level]);
      json_string(c[i].detail);
      printf("}");
    }
    printf("]}\n");
  } else {
    for (size_t i = 0; i < n; i++)
      printf("%-8s %-14s %s\n", level_name[c[i].level], c[i].name, c[i].detail);
    printf("%s\n", can_fuzz ? "fray doctor: libFuzzer fuzzing works here (scripts/fuzz.sh TARGET)"
                            : "fray doctor: libFuzzer fuzzing is NOT possible here (see above)");
  }
  return can_fuzz ? FRAY_EXIT_OK : FRAY_EXIT_FAIL;
}
