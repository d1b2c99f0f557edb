/* The fray command's subcommand table. Each subcommand lives in its own file
 * cli/<name>.c and exports one entry point. Exit codes: 0 success, 1 a
 * failure found (framing error, failed check), 2 usage or input error,
 * 3 input ended inside a frame (frames), 4 no failure but runs cut short
 * by --max-runs or --time (replay). */
#ifndef FRAY_CLI_H
#define FRAY_CLI_H

#define FRAY_EXIT_OK 0
#define FRAY_EXIT_FAIL 1
#define FRAY_EXIT_USAGE 2
#define FRAY_EXIT_TRUNCATED 3
#define FRAY_EXIT_PARTIAL 4 /* replay: nothing failed, but a bound stopped the runs early */

typedef struct fray_cli_cmd {
  const char *name;
  const char *summary;               /* one line for `fray --help` */
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
} fray_cli_cmd_t;

int fray_cli_frames(int argc, char **argv);
int fray_cli_doctor(int argc, char **argv);
int fray_cli_replay(int argc, char **argv);
int fray_cli_fuzz(int argc, char **argv);
int fray_cli_fuzz_encode(int argc, char **argv);
int fray_cli_fuzz_decode(int argc, char **argv);
int fray_cli_proxy(int argc, char **argv);
int fray_cli_import_pcap(int argc, char **argv);
int fray_cli_serve(int argc, char **argv);
int fray_cli_exec(int argc, char **argv);
int fray_cli_ci(int argc, char **argv);

#endif /* FRAY_CLI_H */
