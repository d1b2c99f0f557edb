/* fray: dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fray/common.h"

static const fray_cli_cmd_t commands[] = {
    {"frames", "cut a byte stream into frames (delim, line, count, length, raw)", fray_cli_frames},
    {"doctor", "check this machine for fuzzing (libFuzzer, AFL++, core_pattern, CPU governor)",
     fray_cli_doctor},
    {"replay", "replay .fray scripts against a handler under split/merge schedules",
     fray_cli_replay},
    {"fuzz", "fuzz your handler (a plugin, libFuzzer) or server (--exec, AFL++) with fray's oracle",
     fray_cli_fuzz},
    {"fuzz-encode", "encode a .fray script as a fuzz input (seed corpora)", fray_cli_fuzz_encode},
    {"ci", "write ClusterFuzzLite / OSS-Fuzz files for a project's fuzz targets (ci init)",
     fray_cli_ci},
    {"fuzz-decode", "decode a fuzz input (or an AFLNet replay file) into a .fray script",
     fray_cli_fuzz_decode},
    {"proxy", "forward TCP traffic, re-cut it (split/merge/delay) and record it as .fray",
     fray_cli_proxy},
    {"serve", "serve a handler on TCP with libevent (--listen HOST:PORT)", fray_cli_serve},
    {"exec", "run a program under the shim: its socket reads cut, its writes short", fray_cli_exec},
    {"import-pcap", "turn a TCP capture (pcap/pcapng) into a .fray script", fray_cli_import_pcap},
};

static void usage(FILE *out) {
  fprintf(out, "usage: fray COMMAND [OPTIONS] [ARGS]\n"
               "\n"
               "fray tests and fuzzes line/frame protocol handlers: what they do when a\n"
               "message arrives split over reads, merged with others, malformed or cut off.\n"
               "\n"
               "commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
  fprintf(
      out,
      "\n"
      "`fray COMMAND --help` (or `fray help COMMAND`) explains one command.\n"
      "exit status: 0 ok, 1 failure found, 2 usage or input error, 3 input ended inside a frame\n"
      "(frames), 4 nothing failed but --max-runs or --time cut the runs short (replay)\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return FRAY_EXIT_USAGE;
  }
  /* `fray help CMD` is `fray CMD --help`: the command's own text. */
  if (!strcmp(argv[1], "help") && argc > 2) {
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
      if (!strcmp(argv[2], commands[i].name))
        return commands[i].run(2, (char *[]){argv[2], "--help", NULL});
    fprintf(stderr, "fray help: unknown command '%s' (see fray --help)\n", argv[2]);
    return FRAY_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return FRAY_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("fray %s\n", fray_version());
    return FRAY_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name))
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "fray: unknown command '%s' (see fray --help)\n", argv[1]);
  return FRAY_EXIT_USAGE;
}
