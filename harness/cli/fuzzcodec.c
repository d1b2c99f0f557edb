/* fray fuzz-encode / fray fuzz-decode: scripts to fuzz inputs and back, so
 * seed corpora come from the corpus scripts and every crash reads as a script.
 * The encoding is documented in fray/fuzz.h. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "examples.h"
#include "fray/fuzz.h"
#include "fray/sim.h"
#include "fuzzcli.h"
#include "handlers.h"
#include "opts.h"
#include "core/internal.h"
#include "scriptload.h"

#define MAX_INPUT ((size_t)64 << 20)

/* Reads all of path ("-": stdin) into *out. 0, or prints why and returns -1. */
static int slurp(const char *cmd, const char *path, uint8_t **out, size_t *len) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    fprintf(stderr, "fray %s: cannot open %s: %s\n", cmd, path, strerror(errno));
    return -1;
  }
  size_t cap = 0, n = 0;
  uint8_t *b = NULL;
  for (;;) {
    if (n == cap) {
      if (cap >= MAX_INPUT) {
        fprintf(stderr, "fray %s: %s is larger than %zu bytes\n", cmd, path, MAX_INPUT);
        free(b);
        b = NULL;
        break;
      }
      /* The default allocator is malloc's: the caller frees with free(). */
      if (fray__grow(fray_mem_default(), (void **)&b, &cap, cap ? cap + 1 : 4096, 1)) {
        fprintf(stderr, "fray %s: out of memory reading %s\n", cmd, path);
        free(b);
        b = NULL;
        break;
      }
    }
    size_t k = fread(b + n, 1, cap - n, f);
    n += k;
    if (k == 0) {
      if (ferror(f)) {
        fprintf(stderr, "fray %s: cannot read %s: %s\n", cmd, path, strerror(errno));
        free(b);
        b = NULL;
      }
      break;
    }
  }
  if (f != stdin)
    fclose(f);
  if (!b)
    return -1;
  *out = b;
  *len = n;
  return 0;
}

/* The first step of s that the encoding cannot carry, of the kinds in
 * mask (bits 1 << kind), and how many there are. NULL when none. */
static const fray_step_t *first_of(const fray_script_t *s, unsigned mask, size_t *count) {
  size_t n;
  const fray_step_t *st = fray_script_steps(s, &n), *first = NULL;
  *count = 0;
  for (size_t i = 0; i < n; i++)
    if (mask & (1u << st[i].kind) && (*count)++ == 0)
      first = &st[i];
  return first;
}

#define UNENCODED_EXPECT                                                                           \
  ((1u << FRAY_STEP_EXPECT_REGEX) | (1u << FRAY_STEP_EXPECT_GLOB) | (1u << FRAY_STEP_EXPECT_EOF) | \
   (1u << FRAY_STEP_EXPECT_EOF_OPT) | (1u << FRAY_STEP_EXPECT_ANY))

int fray_cli_encode_seed(const char *cmd, const char *path, const fray_script_t *s, unsigned flags,
                         uint8_t **out, size_t *len) {
  size_t nx;
  const fray_step_t *x = first_of(s, UNENCODED_EXPECT, &nx);
  int r = fray_fuzz_encode(s, FRAY_FUZZ_LOSSY, NULL, out, len);
  if (r) {
    fprintf(stderr, "fray %s: %s: %s\n", cmd, path,
            r == FRAY_ERANGE ? "more than 4 clients: the encoding has room for 4"
                             : fray_strerror(r));
    return -1;
  }
  if (x)
    fprintf(stderr,
            "fray %s: %s:%zu: left out %zu regex/glob/eof expectation%s (no encoding; the "
            "fuzz driver checks none)\n",
            cmd, path, x->line, nx, nx == 1 ? "" : "s");
  if (*len > FRAY_FUZZ_MAX_INPUT) {
    int force = (flags & FRAY_CLI_SEED_FORCE) != 0;
    fprintf(stderr,
            "fray %s: %s encodes to %zu bytes, over the %d-byte input cap of fray's fuzz "
            "targets (FRAY_FUZZ_MAX_INPUT), which skip such inputs: %s\n",
            cmd, path, *len, FRAY_FUZZ_MAX_INPUT,
            force ? "written anyway (--force)" : "not written (shorten the script, or --force)");
    if (!force) {
      free(*out);
      *out = NULL;
      return -1;
    }
  }
  return 0;
}

static void encode_usage(FILE *out) {
  fprintf(
      out,
      "usage: fray fuzz-encode [--force] [--files-under DIR] SCRIPT.fray > INPUT\n"
      "\n"
      "Encodes a session script as a fuzz input for fray's handler targets:\n"
      "payload bytes at the front, the session's decisions (client, lengths,\n"
      "cuts, merges) at the tail, so mutations of the payload keep the\n"
      "schedule. Each read of a send (its `|` pieces) becomes a send; clients\n"
      "are renamed c0..c3. `fray fuzz-decode` reads it back.\n"
      "\n"
      "Regex, glob and eof expectations have no encoding: they are left out\n"
      "with a note (the fuzz driver checks no expectation, it compares runs).\n"
      "Half-closes (`> eof`) are kept. Scripts with more than 4 clients cannot\n"
      "be encoded.\n"
      "fray's fuzz targets skip inputs over 65536 bytes (FRAY_FUZZ_MAX_INPUT):\n"
      "a larger encoding is refused (exit 2) unless --force.\n"
      "\n"
      "  --lossy             no effect, accepted for older callers (it left out\n"
      "                      half-closes, which now have an encoding)\n"
      "  --force             write an input over the 65536-byte cap anyway\n" FRAY_CLI_FILES_HELP
      "\n"
      "example: fray fuzz-encode corpus/chat/session.fray > seeds/session.bin\n");
}

int fray_cli_fuzz_encode(int argc, char **argv) {
  unsigned flags = 0;
  const char *path = NULL;
  fray_cli_args_t args;
  fray_cli_files_t files = {0};
  static const fray_cli_opt_t opts_table[] = {{"--lossy", FRAY_CLI_FLAG, 0, 0, NULL},
                                              {"--force", FRAY_CLI_FLAG, 0, 0, NULL},
                                              FRAY_CLI_FILES_OPTS};
  fray_cli_args_init(&args, "fuzz-encode", FRAY_CLI_TABLE(opts_table), encode_usage, argc, argv);
  for (fray_cli_arg_t k; (k = fray_cli_next_arg(&args)) != FRAY_CLI_ARG_END;) {
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return fray_cli_stop_status(k);
    if (k == FRAY_CLI_ARG_OPERAND && !path) {
      path = args.val;
    } else if (k == FRAY_CLI_ARG_OPTION && !strcmp(args.name, "--lossy")) {
      /* what it left out has an encoding now */
    } else if (k == FRAY_CLI_ARG_OPTION && !strcmp(args.name, "--force")) {
      flags |= FRAY_CLI_SEED_FORCE;
    } else if (k == FRAY_CLI_ARG_OPTION && fray_cli_files_option(&files, args.name, args.val)) {
    } else {
      fray_cli_usage_error("fuzz-encode", "one SCRIPT at a time ('%s' is extra)", args.val);
      return FRAY_EXIT_USAGE;
    }
  }
  if (!path) {
    encode_usage(stderr);
    return FRAY_EXIT_USAGE;
  }
  fray_script_t *s;
  fray_script_error_t err;
  if (fray_cli_script_load(&s, path, &files, &err)) {
    char msg[600];
    fprintf(stderr, "%s\n", fray_script_error_format(&err, msg, sizeof msg));
    return FRAY_EXIT_USAGE;
  }
  uint8_t *enc = NULL;
  size_t len = 0;
  int r = fray_cli_encode_seed("fuzz-encode", path, s, flags, &enc, &len);
  fray_script_free(s);
  if (r)
    return FRAY_EXIT_USAGE;
  int ok = fwrite(enc, 1, len, stdout) == len && fflush(stdout) == 0;
  free(enc);
  if (!ok) {
    fprintf(stderr, "fray fuzz-encode: cannot write the output: %s\n", strerror(errno));
    return FRAY_EXIT_USAGE;
  }
  return FRAY_EXIT_OK;
}

static void decode_usage(FILE *out) {
  fprintf(out, "usage: fray fuzz-decode [--from fray|aflnet] [--handler NAME | --plugin LIB.so]\n"
               "                        [--answers] INPUT > SCRIPT.fray\n"
               "\n"
               "Decodes a fuzz input (a crash, a corpus entry) into a readable session\n"
               "script, its cuts and merges written as `|` and joined sends, ready for\n"
               "`fray replay` and for corpus/regressions/.\n"
               "\n"
               "  --from fray     fray's own encoding (default; see fray/fuzz.h)\n"
               "  --from aflnet   an AFLNet replay file: messages as a 4-byte little-endian\n"
               "                  length and that many bytes; each becomes one send\n"
               "  --handler NAME  write `@handler NAME` into the script\n"
               "  --plugin LIB.so the handler for --answers, from a plugin\n"
               "  --answers       run the session whole (each send one read) against the\n"
               "                  handler and write what each client received after each\n"
               "                  step as expectations (`<`, and `< eof` where the server\n"
               "                  closed). The script then fails where the fuzz-chosen cuts\n"
               "                  and merges change the answers, and passes once the\n"
               "                  handler is fixed: a regression test as it stands. Needs\n"
               "                  --handler (a built-in one) or --plugin.\n"
               "\n"
               "Short writes and other faults a fuzz input asked for cannot be said in a\n"
               "script; they are noted on stderr. Without --answers a decoded fuzz input\n"
               "has no expectations (the fuzz driver compares runs, not answers): replay\n"
               "then reports the handler's first answer as unexpected.\n"
               "\n"
               "example: fray fuzz-decode --handler chat --answers crash-1234 \\\n"
               "           > corpus/regressions/chat-1.fray\n");
}

/* The script with sched baked in and h's whole-schedule answers as its
 * expectations (fray_sim_bake_answers). When the handler fails even whole,
 * says so and bakes without answers. 0 or a fray error code. */
static int with_answers(const char *path, const fray_script_t *script, const fray_sched_t *sched,
                        const fray_handler_t *h, fray_script_t **out) {
  fray_sim_t *sim;
  int r = fray_sim_new(&sim, script, h, NULL);
  if (r)
    return r;
  fray_sched_t plain = {0};
  if (sched) {
    plain = *sched;
    plain.short_writes = 0;
  }
  fray_sim_result_t res;
  r = fray_sim_bake_answers(sim, sched ? &plain : NULL, out, &res);
  if (r == FRAY_EFAILED) {
    fprintf(stderr,
            "fray fuzz-decode: %s: the handler fails even with whole sends (%s): "
            "written without answers\n",
            path, res.message ? res.message : "no message");
    r = fray_sim_bake(sim, sched ? &plain : NULL, out);
  }
  fray_sim_free(sim);
  return r;
}

/* in[0..len) (a fray fuzz input, or an AFLNet replay file with from
 * "aflnet") as a script in *out, with h's answers as expectations when h is
 * given. 0 or a fray error code. */
static int decode_input(const char *path, const char *from, const uint8_t *in, size_t len,
                        const char *handler, const fray_handler_t *h, fray_script_t **out) {
  int r;
  if (!strcmp(from, "aflnet")) {
    int trunc = 0;
    r = fray_fuzz_from_aflnet(in, len, handler, out, &trunc);
    if (!r && trunc)
      fprintf(stderr,
              "fray fuzz-decode: %s: the last AFLNet record is truncated; kept what "
              "there is\n",
              path);
    if (!r && h) {
      fray_script_t *plain = *out;
      r = with_answers(path, plain, NULL, h, out);
      fray_script_free(plain);
    }
    return r;
  }
  fray_fuzz_session_t *sess;
  r = fray_fuzz_decode(&sess, in, len, handler, NULL);
  if (r)
    return r;
  if (fray_fuzz_session_sched(sess)->short_writes)
    fprintf(stderr,
            "fray fuzz-decode: %s asks for short writes (seed %llu): replay with "
            "--short-writes to apply them\n",
            path, (unsigned long long)fray_fuzz_session_sched(sess)->write_seed);
  unsigned faults = fray_fuzz_session_sched(sess)->faults & ~(unsigned)FRAY_FAULT_SHORT_WRITES;
  for (unsigned f = 1; f && f <= faults; f <<= 1)
    if (faults & f)
      fprintf(stderr,
              "fray fuzz-decode: %s asks for the fault %s (fault seed %llu), which a script "
              "cannot say\n",
              path, fray_fault_name(f),
              (unsigned long long)fray_fuzz_session_sched(sess)->fault_seed);
  r = h ? with_answers(path, fray_fuzz_session_script(sess), fray_fuzz_session_sched(sess), h, out)
        : fray_fuzz_session_bake(sess, out);
  fray_fuzz_session_free(sess);
  return r;
}

int fray_cli_fuzz_decode(int argc, char **argv) {
  const char *from = "fray", *handler = NULL, *plugin = NULL, *path = NULL;
  int answers = 0;
  static const fray_cli_opt_t opts_table[] = {
      {"--from", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--handler", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--plugin", FRAY_CLI_TEXT, 0, 0, NULL},
      {"--answers", FRAY_CLI_FLAG, 0, 0, NULL},
  };
  fray_cli_args_t args;
  fray_cli_args_init(&args, "fuzz-decode", FRAY_CLI_TABLE(opts_table), decode_usage, argc, argv);
  for (fray_cli_arg_t k; (k = fray_cli_next_arg(&args)) != FRAY_CLI_ARG_END;) {
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return fray_cli_stop_status(k);
    if (k == FRAY_CLI_ARG_OPERAND) {
      if (path) {
        fray_cli_usage_error("fuzz-decode", "one INPUT at a time ('%s' is extra)", args.val);
        return FRAY_EXIT_USAGE;
      }
      path = args.val;
    } else if (!strcmp(args.name, "--from")) {
      from = args.val;
      if (strcmp(from, "fray") && strcmp(from, "aflnet")) {
        fray_cli_usage_error("fuzz-decode", "unknown input format '%s' (fray or aflnet)", from);
        return FRAY_EXIT_USAGE;
      }
    } else if (!strcmp(args.name, "--handler")) {
      handler = args.val;
    } else if (!strcmp(args.name, "--plugin")) {
      plugin = args.val;
    } else if (!strcmp(args.name, "--answers")) {
      answers = 1;
    }
  }
  if (!path) {
    decode_usage(stderr);
    return FRAY_EXIT_USAGE;
  }
  const fray_handler_t *h = NULL;
  void *dl = NULL;
  if (answers) {
    if (plugin)
      h = fray_cli_load_plugin("fray fuzz-decode", plugin, &dl);
    else if (handler && !(h = fray_example_find(handler)))
      fprintf(stderr,
              "fray fuzz-decode: --answers: no built-in handler '%s' (fray replay "
              "--list-handlers lists them; --plugin for your own)\n",
              handler);
    else if (!handler)
      fprintf(stderr, "fray fuzz-decode: --answers needs --handler NAME or --plugin LIB.so\n");
    if (!h)
      return FRAY_EXIT_USAGE;
  }
  uint8_t *in;
  size_t len;
  if (slurp("fuzz-decode", path, &in, &len)) {
    if (dl)
      dlclose(dl);
    return FRAY_EXIT_USAGE;
  }
  fray_script_t *s = NULL;
  int r = decode_input(path, from, in, len, handler, h, &s);
  free(in);
  if (r) {
    fprintf(stderr, "fray fuzz-decode: %s: %s\n", path, fray_strerror(r));
    return FRAY_EXIT_USAGE;
  }
  printf("# decoded by fray fuzz-decode%s from %s\n",
         strcmp(from, "aflnet") ? "" : " --from aflnet", path);
  r = fray_script_write(s, stdout);
  fray_script_free(s);
  if (dl)
    dlclose(dl);
  if (r || fflush(stdout)) {
    fprintf(stderr, "fray fuzz-decode: cannot write the script\n");
    return FRAY_EXIT_USAGE;
  }
  return FRAY_EXIT_OK;
}
