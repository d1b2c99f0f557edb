/* fray fuzz: fuzzes a user's handler, built as a plugin, with fray's session
 * oracle, in one command: seeds and a dictionary from the user's scripts,
 * libFuzzer run through fray's driver, and every finding turned into a
 * minimal `.fray` regression test.
 *
 * What is built where, and why the plugin must be instrumented: the driver
 * (fray-fuzz-plugin, targets/fray_fuzz_main.c) is built with fray when clang
 * and libFuzzer are there; it dlopen()s the plugin before the first input.
 * libFuzzer learns only from code compiled with coverage instrumentation,
 * and the handler is the code under test, so the plugin must be built with
 * -fsanitize=fuzzer-no-link: without it libFuzzer would mutate blind. fray
 * fuzz checks the plugin's ELF sections for the counters that flag adds
 * and refuses an uninstrumented plugin, printing the command line that
 * builds it right. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fray/fuzz.h"
#include "fray/sim.h"
#include "fuzzcli.h"
#include "fuzzrun.h"
#include "handlers.h"
#include "opts.h"
#include "scriptload.h"

#ifndef FRAY_FUZZ_DRIVER_REL
#define FRAY_FUZZ_DRIVER_REL "libexec/fray/fray-fuzz-plugin"
#endif
#define DRIVER_NAME "fray-fuzz-plugin"
#define DICT_MAX 256 /* dictionary entries */
#define TOKEN_MAX 64 /* longest dictionary token */

static void usage(FILE *out) {
  fprintf(out,
          "usage: fray fuzz --plugin LIB.so [--replay-plugin PLAIN.so] [--time S] [--jobs N]\n"
          "                 [--out DIR] [--engine libfuzzer] [SCRIPTS...]\n"
          "       fray fuzz --exec 'COMMAND {port}' [--time S] [--jobs N] [--execs N] [--seed N]\n"
          "                 [--seeds DIR] [--reads exact|whole] [--exits crash|ok] [--out DIR]\n"
          "                 [SCRIPTS...]\n"
          "       fray fuzz --prepare --out DIR SCRIPTS...\n"
          "\n"
          "Fuzzes your handler, built as a plugin (the `fray replay --plugin` kind),\n"
          "with fray's session oracle: every fuzz input is a whole session (clients,\n"
          "sends, how they are cut into reads and merged) run twice whole and once\n"
          "under its cuts; different answers, a bound exceeded or a sanitizer report\n"
          "is a finding. Drives libFuzzer through fray's driver, fray-fuzz-plugin.\n"
          "\n"
          "The plugin must be built with coverage instrumentation, or libFuzzer\n"
          "mutates blind; fray fuzz checks it and refuses one built without. Build it:\n"
          "  clang -shared -fPIC -g -fsanitize=fuzzer-no-link,address,undefined \\\n"
          "        -I PREFIX/include -o h.so h.c\n"
          "\n"
          "--exec fuzzes an unmodified server built with AFL++ (afl-clang-fast or\n"
          "afl-clang-lto) with afl-fuzz, through libfray-shim-fuzz.so: the server\n"
          "starts once, each input is a session whose sends the shim plays inside\n"
          "it with the reads the input chooses, run whole and under its cuts in\n"
          "forks of the server; a crash, a sanitizer report or different answers is\n"
          "a finding (docs/exec.md, \"Fuzzing\"). Build the server:\n"
          "  CC=afl-clang-fast ./configure && make   (or: afl-clang-fast -g -O2 -o srv srv.c)\n"
          "\n"
          "  --plugin LIB.so  the handler (its fray_plugin_handler entry point)\n"
          "  --exec 'COMMAND {port}'  the server, split as a shell splits words; {port}\n"
          "                   becomes a free loopback port it must listen on\n"
          "  --execs N        --exec: stop each afl-fuzz after N execs (afl-fuzz -E)\n"
          "  --seed N         --exec: afl-fuzz's random seed (-s; with --jobs, N, N+1...)\n"
          "  --seeds DIR      --exec: fuzz inputs to start from besides the scripts'\n"
          "  --reads whole    --exec: every send one read, no cuts (the ablation: what\n"
          "                   a desocketing fuzzer sees; crashes only); exact (default)\n"
          "  --exits ok       --exec: the server's exit() (or return from main) in the\n"
          "                   middle of a session ends the exec quietly, unjudged: a\n"
          "                   server with a shutdown command, or one that serves one\n"
          "                   connection. crash (default): an exit is a finding\n"
          "  --time S         stop after S seconds (default 60)\n"
          "  --jobs N         N fuzzing processes (libFuzzer -fork=N; --exec: afl-fuzz\n"
          "                   -M/-S on one sync directory, DIR/afl; default 1)\n"
          "  --out DIR        work directory (default fray-fuzz-<plugin or program name>):\n"
          "                   seeds/, corpus/, crashes/, fuzz.dict, fuzz.log, regressions/\n"
          "  --replay-plugin PLAIN.so  the same handler built without instrumentation\n"
          "                   (which fray replay can load, unlike LIB.so): named in the\n"
          "                   replay commands, and each reproducer is replayed with it\n"
          "                   and must fail\n"
          "  --engine libfuzzer  the one engine fray fuzz drives; AFL++ takes a target\n"
          "                   built with fray_add_fuzz_target(... ENGINE afl)\n"
          "  --prepare        only write DIR/seeds/ and DIR/fuzz.dict (what\n"
          "                   fray_add_fuzz_target's SEEDS does at build time)\n"
          "  SCRIPTS          .fray scripts: each becomes a seed (fuzz-encode's rules:\n"
          "                   expectations it cannot carry are left out, seeds\n"
          "                   over 65536 bytes skipped, each with a note),\n"
          "                   and the tokens of their sends the dictionary\n" FRAY_CLI_FILES_HELP
          "\n"
          "Progress goes to stderr every few seconds, libFuzzer's own output to\n"
          "DIR/fuzz.log. Each crash is shrunk by libFuzzer (-minimize_crash), then\n"
          "decoded into a script with the handler's whole-read answers as its\n"
          "expectations and minimised by fray, in DIR/regressions/NAME.fray; the\n"
          "summary prints the command that replays it. For AFL++, or fuzzing from\n"
          "your own build, see fray_add_fuzz_target() in docs/fuzzing.md.\n"
          "\n"
          "With --exec, every crash AFL++ saved is played once more (smallest first;\n"
          "at most 100, none started after 120 s) and grouped by its failure, numbers\n"
          "and quoted data aside: one DIR/regressions/*.fray per distinct failure,\n"
          "from its smallest input, with how many crashes failed alike, and a summary\n"
          "line per group at the end.\n"
          "\n"
          "exit status: 0 nothing found, 1 a finding (reproducers written), 2 usage\n"
          "or setup error (unusable plugin, no driver)\n"
          "\n"
          "example: fray fuzz --plugin ./kv.so --time 30 tests/kv/*.fray\n");
}

/* The options' combinations parse() cannot judge one at a time. -1 to go
 * on, else the exit status. */
static int check(const fuzz_opts_t *o) {
  if (o->prepare ? !o->out || !o->nscripts : !o->plugin == !o->exec) {
    fray_cli_usage_error("fuzz", o->prepare ? "--prepare needs --out DIR and SCRIPTS"
                                 : o->exec  ? "--plugin and --exec exclude each other"
                                            : "--plugin LIB.so or --exec 'COMMAND {port}' is "
                                              "required");
    return FRAY_EXIT_USAGE;
  }
  if ((o->seeds || o->reads || o->exits || o->execs || o->seed) && !o->exec) {
    fray_cli_usage_error("fuzz", "--seeds, --reads, --exits, --execs and --seed go with --exec");
    return FRAY_EXIT_USAGE;
  }
  if (o->reads && strcmp(o->reads, "exact") && strcmp(o->reads, "whole")) {
    fray_cli_usage_error("fuzz", "--reads must be exact or whole, not '%s'", o->reads);
    return FRAY_EXIT_USAGE;
  }
  if (o->exits && strcmp(o->exits, "crash") && strcmp(o->exits, "ok")) {
    fray_cli_usage_error("fuzz", "--exits must be crash or ok, not '%s'", o->exits);
    return FRAY_EXIT_USAGE;
  }
  return -1;
}

/* Parses the command line into o. -1 to go on, else the exit status. */
static int parse(fuzz_opts_t *o, int argc, char **argv) {
  static const fray_cli_opt_t table[] = {
      {"--plugin", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--time", FRAY_CLI_COUNT, 1, 86400 * 30, NULL},
      {"--jobs", FRAY_CLI_COUNT, 1, 256, NULL},
      {"--out", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--driver", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--prepare", FRAY_CLI_FLAG, 0, 0, NULL},
      {"--engine", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--replay-plugin", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--exec", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--seeds", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--reads", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--exits", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--execs", FRAY_CLI_COUNT, 1, 1000000000000ull, NULL},
      {"--seed", FRAY_CLI_COUNT, 1, 4294967295ull, NULL},
      FRAY_CLI_FILES_OPTS,
  };
  fray_cli_args_t a;
  fray_cli_args_init(&a, "fuzz", FRAY_CLI_TABLE(table), usage, argc, argv);
  o->scripts = calloc((size_t)argc, sizeof *o->scripts);
  if (!o->scripts)
    return FRAY_EXIT_USAGE;
  for (fray_cli_arg_t k; (k = fray_cli_next_arg(&a)) != FRAY_CLI_ARG_END;) {
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return fray_cli_stop_status(k);
    if (k == FRAY_CLI_ARG_OPERAND)
      o->scripts[o->nscripts++] = (char *)a.val;
    else if (!strcmp(a.name, "--plugin"))
      o->plugin = a.val;
    else if (!strcmp(a.name, "--time"))
      o->time_s = a.num;
    else if (!strcmp(a.name, "--jobs"))
      o->jobs = a.num;
    else if (!strcmp(a.name, "--out"))
      o->out = a.val;
    else if (!strcmp(a.name, "--driver"))
      o->driver_opt = a.val;
    else if (!strcmp(a.name, "--prepare"))
      o->prepare = 1;
    else if (!strcmp(a.name, "--replay-plugin"))
      o->replay_plugin = a.val;
    else if (!strcmp(a.name, "--exec"))
      o->exec = a.val;
    else if (!strcmp(a.name, "--seeds"))
      o->seeds = a.val;
    else if (!strcmp(a.name, "--reads"))
      o->reads = a.val;
    else if (!strcmp(a.name, "--exits"))
      o->exits = a.val;
    else if (!strcmp(a.name, "--execs"))
      o->execs = a.num;
    else if (!strcmp(a.name, "--seed"))
      o->seed = a.num;
    else if (!strcmp(a.name, "--engine") && strcmp(a.val, "libfuzzer")) {
      fray_cli_usage_error("fuzz",
                           !strcmp(a.val, "afl")
                               ? "--engine afl: fray fuzz drives libFuzzer only; for AFL++ build "
                                 "a target with fray_add_fuzz_target(... ENGINE afl) "
                                 "(docs/fuzzing.md)"
                               : "--engine must be libfuzzer (or afl through "
                                 "fray_add_fuzz_target), not '%s'",
                           a.val);
      return FRAY_EXIT_USAGE;
    } else
      fray_cli_files_option(&o->files, a.name, a.val);
  }
  return check(o);
}

/* o->path = o->out "/" name. 0, or -1 when it does not fit. */
int fray_cli_fuzz_path(fuzz_opts_t *o, const char *name) {
  int n = snprintf(o->path, sizeof o->path, "%s/%s", o->out, name);
  return n < 0 || (size_t)n >= sizeof o->path ? -1 : 0;
}

/* Creates o->out and its subdirectories. 0, or -1 after saying why. */
int fray_cli_fuzz_dirs(fuzz_opts_t *o) {
  static const char *const sub[] = {"", "seeds", "corpus", "crashes", "regressions"};
  for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
    if (fray_cli_fuzz_path(o, sub[i]) || (mkdir(o->path, 0777) && errno != EEXIST)) {
      fprintf(stderr, "fray fuzz: cannot create %s: %s\n", o->path, strerror(errno));
      return -1;
    }
  }
  return 0;
}

/* ---- the dictionary ------------------------------------------------------ */

typedef struct dict {
  char *tok[DICT_MAX];
  size_t len[DICT_MAX];
  size_t n;
} dict_t;

static void dict_add(dict_t *d, const uint8_t *p, size_t len) {
  if (len < 2 || len > TOKEN_MAX || d->n == DICT_MAX)
    return;
  for (size_t i = 0; i < d->n; i++)
    if (d->len[i] == len && !memcmp(d->tok[i], p, len))
      return;
  if ((d->tok[d->n] = malloc(len)) != NULL) {
    memcpy(d->tok[d->n], p, len);
    d->len[d->n++] = len;
  }
}

/* The words of every send (runs of bytes between blanks and line ends) and
 * the line ends used: a protocol's commands, keys and delimiters, which
 * libFuzzer then inserts whole rather than finding byte by byte. */
static void dict_mine(dict_t *d, const fray_script_t *s) {
  size_t n;
  const fray_step_t *st = fray_script_steps(s, &n);
  for (size_t i = 0; i < n; i++) {
    if (st[i].kind != FRAY_STEP_SEND)
      continue;
    const uint8_t *p = st[i].data;
    for (size_t j = 0, w = 0; j <= st[i].len; j++) {
      int sep = j == st[i].len || strchr(" \t\r\n", p[j]) || !p[j];
      if (sep && j > w)
        dict_add(d, p + w, j - w);
      if (sep)
        w = j + 1;
      if (j + 1 < st[i].len && p[j] == '\r' && p[j + 1] == '\n')
        dict_add(d, p + j, 2);
    }
  }
}

/* Writes d in libFuzzer's -dict format. 0 or -1. */
static int dict_write(const dict_t *d, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fprintf(f, "# mined by fray fuzz from the sends of its scripts\n");
  for (size_t i = 0; i < d->n; i++) {
    fputc('"', f);
    for (size_t j = 0; j < d->len[i]; j++) {
      unsigned char c = (unsigned char)d->tok[i][j];
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
        fprintf(f, "\\x%02X", c);
      else
        fputc(c, f);
    }
    fputs("\"\n", f);
  }
  return fclose(f) ? -1 : 0;
}

static void dict_free(dict_t *d) {
  for (size_t i = 0; i < d->n; i++)
    free(d->tok[i]);
}

/* ---- seeds ---------------------------------------------------------------- */

/* Writes the script at path script as a seed (one that cannot be a seed is
 * skipped with its note) and mines it. 0, or -1 when it cannot be read. */
static int prepare_one(fuzz_opts_t *o, const char *script, dict_t *d) {
  fray_script_t *s;
  fray_script_error_t err;
  if (fray_cli_script_load(&s, script, &o->files, &err)) {
    char msg[600];
    fprintf(stderr, "%s\n", fray_script_error_format(&err, msg, sizeof msg));
    return -1;
  }
  dict_mine(d, s);
  uint8_t *enc;
  size_t len;
  int r = fray_cli_encode_seed("fuzz", script, s, 0, &enc, &len);
  fray_script_free(s);
  if (r)
    return 0; /* said why; the others still seed */
  const char *base = strrchr(script, '/');
  char name[NAME_MAX];
  snprintf(name, sizeof name, "seeds/%.200s.bin", base ? base + 1 : script);
  FILE *f = fray_cli_fuzz_path(o, name) ? NULL : fopen(o->path, "wb");
  r = f && fwrite(enc, 1, len, f) == len ? 0 : -1;
  if ((f && fclose(f)) || r)
    fprintf(stderr, "fray fuzz: cannot write %s\n", o->path);
  free(enc);
  return 0;
}

/* Seeds and dictionary from the scripts. 0, or -1 after saying why. */
int fray_cli_fuzz_prepare(fuzz_opts_t *o) {
  dict_t d = {0};
  int rc = 0;
  for (size_t i = 0; i < o->nscripts && !rc; i++)
    rc = prepare_one(o, o->scripts[i], &d);
  if (!rc && (fray_cli_fuzz_path(o, "fuzz.dict") || dict_write(&d, o->path))) {
    fprintf(stderr, "fray fuzz: cannot write %s/fuzz.dict\n", o->out);
    rc = -1;
  }
  dict_free(&d);
  return rc;
}

/* ---- the plugin and the driver ------------------------------------------ */

/* 1 when the ELF file at path has a section of libFuzzer's coverage
 * counters (-fsanitize=fuzzer-no-link or -fsanitize-coverage=...), 0 when
 * not, -1 when it cannot be read as a 64-bit ELF file. */
static int has_coverage(const char *path) {
  FILE *f = fopen(path, "rb");
  Elf64_Ehdr eh;
  Elf64_Shdr *sh = NULL;
  char *names = NULL;
  int found = -1;
  if (!f || fread(&eh, sizeof eh, 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof *sh ||
      eh.e_shstrndx >= eh.e_shnum)
    goto done;
  sh = calloc(eh.e_shnum, sizeof *sh);
  if (!sh || fseek(f, (long)eh.e_shoff, SEEK_SET) ||
      fread(sh, sizeof *sh, eh.e_shnum, f) != eh.e_shnum)
    goto done;
  const Elf64_Shdr *str = &sh[eh.e_shstrndx];
  names = malloc(str->sh_size + 1);
  if (!names || fseek(f, (long)str->sh_offset, SEEK_SET) ||
      fread(names, 1, str->sh_size, f) != str->sh_size)
    goto done;
  names[str->sh_size] = 0;
  found = 0;
  for (size_t i = 0; i < eh.e_shnum && !found; i++)
    found = sh[i].sh_name < str->sh_size && (!strcmp(names + sh[i].sh_name, "__sancov_cntrs") ||
                                             !strcmp(names + sh[i].sh_name, "__sancov_guards"));
done:
  free(names);
  free(sh);
  if (f)
    fclose(f);
  return found;
}

/* 1 when path is an executable file. */
static int executable(const char *path) {
  return access(path, X_OK) == 0;
}

/* The driver: --driver, $FRAY_FUZZ_DRIVER, next to this fray (a build
 * tree), or in the libexec directory of its prefix. 0 with buf set, or -1
 * after saying why. */
static int find_driver(const fuzz_opts_t *o, char *buf, size_t size) {
  const char *given = o->driver_opt ? o->driver_opt : getenv("FRAY_FUZZ_DRIVER");
  if (given && *given) {
    snprintf(buf, size, "%s", given);
    if (executable(buf))
      return 0;
    fprintf(stderr, "fray fuzz: driver %s is not an executable file\n", buf);
    return -1;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  char *slash = n > 0 ? (self[n] = 0, strrchr(self, '/')) : NULL;
  if (slash) {
    slash[1] = 0;
    if (snprintf(buf, size, "%s%s", self, DRIVER_NAME) < (int)size && executable(buf))
      return 0;
    if (snprintf(buf, size, "%s../%s", self, FRAY_FUZZ_DRIVER_REL) < (int)size && executable(buf))
      return 0;
  }
  fprintf(stderr,
          "fray fuzz: no libFuzzer driver (%s next to fray or in ../%s): this fray was built\n"
          "without clang's libFuzzer. Install clang and libclang-rt-14-dev and rebuild fray\n",
          DRIVER_NAME, FRAY_FUZZ_DRIVER_REL);
  return -1;
}

/* ---- running the driver -------------------------------------------------- */

/* Runs the driver with argv (NULL-terminated) and env ("NAME=value"
 * strings, NULL-terminated) added to its environment, its output into the
 * log and, with each_line, through it. Returns its wait status, or -1 when
 * it could not run. */
int fray_cli_fuzz_spawn(char *const *argv, char *const *env, FILE *log,
                        void (*each_line)(const char *line, void *ctx), void *ctx) {
  int fds[2];
  if (pipe(fds))
    return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    for (; *env; env++)
      putenv(*env);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    fprintf(stderr, "fray fuzz: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  FILE *in = pid > 0 ? fdopen(fds[0], "r") : NULL;
  char line[4096];
  while (in && fgets(line, sizeof line, in)) {
    fputs(line, log);
    if (each_line)
      each_line(line, ctx);
  }
  if (in)
    fclose(in);
  else
    close(fds[0]);
  int st = -1;
  if (pid > 0 && waitpid(pid, &st, 0) < 0)
    st = -1;
  fflush(log);
  return st;
}

typedef struct progress {
  time_t start, last;
  unsigned long long runs, cov, corpus;
} progress_t;

/* libFuzzer's status lines ("#4096 pulse cov: 87 ... corp: 23/1kb", or
 * "#4096: cov: 87 ... corp: 23 ..." under -fork) as one fray line every
 * few seconds, so a log off a terminal shows the run is alive. */
static void on_line(const char *line, void *ctx) {
  progress_t *p = ctx;
  const char *c;
  if (!strncmp(line, "Done ", 5))
    p->runs = strtoull(line + 5, NULL, 10);
  if (line[0] == '#' && line[1] >= '0' && line[1] <= '9') {
    p->runs = strtoull(line + 1, NULL, 10);
    if ((c = strstr(line, "cov: ")) != NULL)
      p->cov = strtoull(c + 5, NULL, 10);
    if ((c = strstr(line, "corp: ")) != NULL)
      p->corpus = strtoull(c + 6, NULL, 10);
  }
  if (strstr(line, "Test unit written to"))
    fprintf(stderr, "fray fuzz: finding: %s", strstr(line, "written to ") + 11);
  time_t now = time(NULL);
  if (line[0] == '#' && line[1] != '#' && now - p->last >= 5) {
    p->last = now;
    fprintf(stderr, "fray fuzz: %3lld s  %llu runs  coverage %llu  corpus %llu\n",
            (long long)(now - p->start), p->runs, p->cov, p->corpus);
  }
}

/* argv of the driver: the fixed part, then extra options. */
typedef struct cmd {
  char *argv[16];
  char buf[12][PATH_MAX + 32];
  int n, nbuf;
} cmd_t;

/* Adds prefix + text (a path, an option with its value) to c's argv. */
static void cmd_add(cmd_t *c, const char *prefix, const char *text) {
  char *b = c->buf[c->nbuf++];
  snprintf(b, sizeof c->buf[0], "%s%s", prefix, text);
  c->argv[c->n++] = b;
  c->argv[c->n] = NULL;
}

/* Adds prefix + number. */
static void cmd_num(cmd_t *c, const char *prefix, unsigned long long v) {
  char num[24];
  snprintf(num, sizeof num, "%llu", v);
  cmd_add(c, prefix, num);
}

/* The fuzzing run. Returns the driver's wait status, or -1. */
static int run_engine(fuzz_opts_t *o, const char *driver, FILE *log) {
  cmd_t c = {.n = 0};
  cmd_add(&c, "", driver);
  fray_cli_fuzz_path(o, "corpus"); /* fits: fray_cli_fuzz_dirs made it */
  cmd_add(&c, "", o->path);
  fray_cli_fuzz_path(o, "seeds");
  cmd_add(&c, "", o->path);
  fray_cli_fuzz_path(o, "fuzz.dict");
  cmd_add(&c, "-dict=", o->path);
  fray_cli_fuzz_path(o, "crashes/");
  cmd_add(&c, "-artifact_prefix=", o->path);
  cmd_num(&c, "-max_total_time=", o->time_s);
  cmd_num(&c, "-max_len=", FRAY_FUZZ_MAX_INPUT);
  cmd_add(&c, "", "-timeout=10");
  cmd_add(&c, "", "-print_final_stats=1");
  if (o->jobs > 1)
    cmd_num(&c, "-fork=", o->jobs);
  progress_t p = {.start = time(NULL), .last = time(NULL)};
  fprintf(stderr, "fray fuzz: %s for %llu s (%llu job%s), log in %s/fuzz.log\n", o->plugin,
          (unsigned long long)o->time_s, (unsigned long long)o->jobs, o->jobs > 1 ? "s" : "",
          o->out);
  char *env[] = {o->env_plugin, NULL};
  int st = fray_cli_fuzz_spawn(c.argv, env, log, on_line, &p);
  fprintf(stderr, "fray fuzz: done after %lld s: %llu runs, coverage %llu, corpus %llu\n",
          (long long)(time(NULL) - p.start), p.runs, p.cov, p.corpus);
  return st;
}

/* ---- findings --------------------------------------------------------------- */

/* What the driver says went wrong, in one line: its first line but
 * libFuzzer's INFO lines, or a sanitizer's SUMMARY line when there is one. */
static void keep_first(const char *line, void *ctx) {
  char *buf = ctx;
  if (!strncmp(line, "SUMMARY: ", 9))
    snprintf(buf, 512, "%s", line + 9);
  else if (!*buf && strncmp(line, "INFO:", 5) && strncmp(line, "==", 2))
    snprintf(buf, 512, "%s", line);
}

int fray_cli_fuzz_write_session(const char *input, const char *out, const char *fmt, ...) {
  FILE *in = fopen(input, "rb");
  uint8_t *data = malloc(FRAY_FUZZ_MAX_INPUT + 1);
  size_t len = in && data ? fread(data, 1, FRAY_FUZZ_MAX_INPUT + 1, in) : 0;
  fray_fuzz_session_t *sess = NULL;
  fray_script_t *s = NULL;
  int rc = -1;
  if (in && data && !fray_fuzz_decode(&sess, data, len, NULL, NULL) &&
      !fray_fuzz_session_bake(sess, &s)) {
    FILE *f = fopen(out, "w");
    if (f) {
      va_list ap;
      va_start(ap, fmt);
      vfprintf(f, fmt, ap);
      va_end(ap);
      fray_script_write(s, f);
      rc = fclose(f) ? -1 : 0;
    }
  }
  fray_script_free(s);
  fray_fuzz_session_free(sess);
  free(data);
  if (in)
    fclose(in);
  return rc;
}

/* libFuzzer's own shrinking of a crash input into min (a timeout or a leak
 * is not shrunk that way), a few seconds at most. */
static void shrink_input(fuzz_opts_t *o, const char *in, const char *min, FILE *log) {
  uint64_t t = o->time_s / 2 < 2 ? 2 : o->time_s / 2 > 10 ? 10 : o->time_s / 2;
  cmd_t c = {.n = 0};
  cmd_add(&c, "", o->driver);
  cmd_add(&c, "", "-minimize_crash=1");
  cmd_add(&c, "", "-runs=20000"); /* per shrinking step; each step is a new process */
  cmd_num(&c, "-max_total_time=", t);
  cmd_add(&c, "-exact_artifact_path=", min);
  cmd_add(&c, "", in);
  char *env[] = {o->env_plugin, NULL};
  fray_cli_fuzz_spawn(c.argv, env, log, NULL, NULL);
}

/* The driver writes the reproducer (what: its one-line finding); when it
 * cannot, the session is written without answers. 0, 3 (the input no
 * longer fails) or -1 (nothing written). */
static int make_repro(fuzz_opts_t *o, const char *input, const char *repro, char *what, FILE *log) {
  const char *rp = o->replay_plugin ? o->replay_plugin : o->plugin;
  char header[3 * PATH_MAX];
  snprintf(header, sizeof header,
           "# Reproducer written by fray fuzz from the fuzz input %s.\n"
           "# found by: fray fuzz --plugin %s\n"
           "# replay: fray replay --plugin %s --schedule whole %s\n%s",
           input, o->plugin, rp, repro,
           o->replay_plugin ? ""
                            : "# (with an uninstrumented build of the plugin: one built for "
                              "fuzzing loads\n# only into the fuzz driver)\n");
  char e_mode[] = "FRAY_FUZZ_MODE=repro", e_in[PATH_MAX + 32], e_out[PATH_MAX + 32],
       e_head[sizeof header + 32];
  snprintf(e_in, sizeof e_in, "FRAY_FUZZ_INPUT=%s", input);
  snprintf(e_out, sizeof e_out, "FRAY_FUZZ_OUTPUT=%s", repro);
  snprintf(e_head, sizeof e_head, "FRAY_FUZZ_HEADER=%s", header);
  char *env[] = {o->env_plugin, e_mode, e_in, e_out, e_head, NULL}, *argv[] = {o->driver, NULL};
  int st = fray_cli_fuzz_spawn(argv, env, log, keep_first, what);
  int code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  what[strcspn(what, "\n")] = 0;
  if (code == FRAY_CLI_REPRO_PASSES)
    return 3;
  if (code == FRAY_CLI_REPRO_ANSWERED || code == FRAY_CLI_REPRO_PLAIN)
    return 0;
  /* The handler crashed making it: the session is written as decoded,
   * without answers (decoding runs no handler, so fray does it here). */
  return fray_cli_fuzz_write_session(input, repro,
                                     "%s# failure: the handler crashed on it (the report is in "
                                     "fuzz.log); no\n# expectations were written\n",
                                     header);
}

/* --replay-plugin: the reproducer replayed as its header says, by this
 * fray. 1 it fails (as it must), 0 it passes, -1 no verdict (exit status in
 * *code, or -1 when killed by a signal). */
static int replay_check(fuzz_opts_t *o, const char *repro, FILE *log, int *code) {
  char self[PATH_MAX], plugin[] = "--plugin", sched[] = "--schedule", whole[] = "whole",
                       replay[] = "replay";
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return -1;
  self[n] = 0;
  char *argv[] = {self,  replay, plugin,        (char *)o->replay_plugin,
                  sched, whole,  (char *)repro, NULL};
  char *env[] = {NULL};
  int st = fray_cli_fuzz_spawn(argv, env, log, NULL, NULL);
  *code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return *code == 1 ? 1 : *code == 0 ? 0 : -1;
}

/* One finding: shrunk by libFuzzer, made a script by the driver, checked
 * with --replay-plugin. Prints where it is and how to replay it. */
static void report_one(fuzz_opts_t *o, const char *name, FILE *log) {
  char in[PATH_MAX], min[PATH_MAX], repro[PATH_MAX], what[512] = "";
  const char *id = strchr(name, '-') + 1, *base = strrchr(o->plugin, '/');
  base = base ? base + 1 : o->plugin;
  int stem = (int)(strcspn(base, ".") < 64 ? strcspn(base, ".") : 64);
  snprintf(in, sizeof in, "%s/crashes/%s", o->out, name);
  snprintf(min, sizeof min, "%s/regressions/%.*s-%.12s.bin", o->out, stem, base, id);
  snprintf(repro, sizeof repro, "%s/regressions/%.*s-%.12s.fray", o->out, stem, base, id);
  if (!strncmp(name, "crash-", 6))
    shrink_input(o, in, min, log);
  const char *input = access(min, R_OK) ? in : min;
  int r = make_repro(o, input, repro, what, log);
  if (r) {
    fprintf(stderr, "  %s: %s\n", input,
            r == 3 ? "no longer fails when run again (a flaky handler?)"
                   : "could not write a reproducer (see fuzz.log)");
    return;
  }
  printf("  %s\n    failure: %s\n    replay:  fray replay --plugin %s --schedule whole %s\n", repro,
         *what ? what : "the handler crashed (see fuzz.log)",
         o->replay_plugin ? o->replay_plugin : o->plugin, repro);
  int code;
  if (o->replay_plugin && (r = replay_check(o, repro, log, &code)) != 1)
    printf("    check:   it %s with %s\n",
           r == 0 ? "PASSES (does not reproduce)" : "crashes or errs", o->replay_plugin);
  else if (o->replay_plugin)
    printf("    check:   fails with %s, as it should\n", o->replay_plugin);
}

/* Every finding of this run (artifacts newer than since). Returns how many. */
static int collect(fuzz_opts_t *o, time_t since, FILE *log) {
  static const char *const kinds[] = {"crash-", "leak-", "timeout-", "oom-"};
  if (fray_cli_fuzz_path(o, "crashes"))
    return 0;
  DIR *d = opendir(o->path);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
    int ours = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
      ours |= !strncmp(e->d_name, kinds[k], strlen(kinds[k]));
    struct stat st;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/crashes/%s", o->out, e->d_name);
    if (!ours || stat(p, &st) || st.st_mtime < since)
      continue;
    if (!n++)
      printf("fray fuzz: findings (each a .fray regression test):\n");
    report_one(o, e->d_name, log);
  }
  if (d)
    closedir(d);
  return n;
}

/* The plugin, checked by the driver (the only process that can load an
 * instrumented plugin) and for coverage counters. 0, or -1 after saying
 * why. */
static int check_plugin(fuzz_opts_t *o, FILE *log) {
  char abs[PATH_MAX];
  if (!realpath(o->plugin, abs)) {
    fprintf(stderr, "fray fuzz: cannot load plugin %s: %s\n", o->plugin, strerror(errno));
    return -1;
  }
  snprintf(o->env_plugin, sizeof o->env_plugin, "FRAY_FUZZ_PLUGIN=%s", abs);
  int cov = has_coverage(abs);
  if (cov != 1) {
    fprintf(stderr,
            "fray fuzz: %s %s: libFuzzer would learn nothing from the handler. Build it with\n"
            "  clang -shared -fPIC -g -fsanitize=fuzzer-no-link,address,undefined "
            "-I PREFIX/include -o %s SOURCES.c\n",
            o->plugin, cov ? "is not a 64-bit ELF file" : "has no coverage instrumentation",
            o->plugin);
    return -1;
  }
  char mode[] = "FRAY_FUZZ_MODE=check", why[512] = "";
  char *env[] = {o->env_plugin, mode, NULL}, *argv[] = {o->driver, NULL};
  int st = fray_cli_fuzz_spawn(argv, env, log, keep_first, why);
  if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
    return 0;
  fprintf(stderr, "%s",
          *why ? why : "fray fuzz: the driver cannot load the plugin (see fuzz.log)\n");
  return -1;
}

int fray_cli_fuzz(int argc, char **argv) {
  fuzz_opts_t *o = calloc(1, sizeof *o);
  if (!o)
    return FRAY_EXIT_USAGE;
  o->time_s = 60;
  o->jobs = 1;
  char outdir[PATH_MAX];
  int rc = parse(o, argc, argv);
  if (rc < 0 && !o->out) {
    const char *name = o->plugin ? o->plugin : o->exec;
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    snprintf(outdir, sizeof outdir, "fray-fuzz-%.*s", (int)strcspn(b, o->plugin ? "." : " \t'\""),
             b);
    o->out = outdir;
  }
  if (rc < 0)
    rc = fray_cli_fuzz_dirs(o) || fray_cli_fuzz_prepare(o) ? FRAY_EXIT_USAGE : -1;
  if (rc < 0 && o->prepare)
    rc = FRAY_EXIT_OK;
  FILE *log = NULL;
  if (rc < 0 && (fray_cli_fuzz_path(o, "fuzz.log") || !(log = fopen(o->path, "w")))) {
    fprintf(stderr, "fray fuzz: cannot write %s\n", o->path);
    rc = FRAY_EXIT_USAGE;
  }
  if (rc < 0 && o->exec)
    rc = fray_cli_fuzz_exec(o, log);
  if (rc < 0 && (find_driver(o, o->driver, sizeof o->driver) || check_plugin(o, log)))
    rc = FRAY_EXIT_USAGE;
  if (rc < 0) {
    time_t since = time(NULL);
    int st = run_engine(o, o->driver, log);
    int n = collect(o, since, log);
    if (!n && (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st)))
      fprintf(stderr, "fray fuzz: the driver failed (%s); see %s/fuzz.log\n",
              st < 0 ? "could not run" : "no finding written", o->out);
    rc = n                                             ? FRAY_EXIT_FAIL
         : st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) ? FRAY_EXIT_USAGE
                                                       : FRAY_EXIT_OK;
    if (!n && rc == FRAY_EXIT_OK)
      printf("fray fuzz: no finding in %llu s\n", (unsigned long long)o->time_s);
  }
  if (log)
    fclose(log);
  free(o->scripts);
  free(o);
  return rc;
}
