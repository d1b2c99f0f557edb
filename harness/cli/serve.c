/* fray serve: any fray handler (built-in or plugin) on TCP, through the
 * libevent adapter (fray/event.h). This file only parses options, sets up
 * the process (SIGPIPE, descriptor limit, signals) and runs the loop. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"

#ifdef FRAY_HAVE_EVENT
#include <dlfcn.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "examples.h"
#include "fray/event.h"
#include "handlers.h"

static void usage(FILE *out) {
  fputs("usage: fray serve (--handler NAME | --plugin LIB.so) --listen HOST:PORT [OPTIONS]\n"
        "\n"
        "Serves a fray handler on TCP with libevent, as it runs in the simulator:\n"
        "the same framing, the same output queue (a peer whose output does not\n"
        "drain is no longer read until it does).\n"
        "\n"
        "  --handler NAME       a built-in handler (fray replay --list-handlers)\n"
        "  --plugin LIB.so      a shared object exporting " FRAY_PLUGIN_SYMBOL "()\n"
        "  --listen HOST:PORT   address to listen on; PORT 0 picks a free port\n"
        "  --max-conns N        at most N connections open at once: one more is\n"
        "                       closed at once, logged (default: no limit)\n"
        "  --idle T             close a connection idle for T (default: never)\n"
        "  --max-output BYTES   reset a peer with more than BYTES queued for it\n"
        "                       (default 16777216)\n"
        "  --max-output-total BYTES\n"
        "                       bound the output queued for all peers together: past\n"
        "                       it the peers holding the most are reset first, so\n"
        "                       memory stays bounded however many stop reading\n"
        "                       (default 134217728)\n"
        "  --verbose            log every connection opened and closed\n"
        "  --quiet              log nothing\n"
        "\n"
        "A time T is milliseconds: 300, 300ms or 0.3s. `--idle-timeout S` (seconds)\n"
        "is the older spelling of --idle.\n"
        "\n"
        "Prints `listening on HOST:PORT` (the port chosen) on stdout once ready.\n"
        "SIGINT or SIGTERM stops it gracefully (output flushed, connections\n"
        "closed); a second one stops it at once. Errors go to stderr, one line\n"
        "each, with the peer's address.\n"
        "\n"
        "exit status: 0 stopped by a signal; 2 usage error, unknown handler, bad\n"
        "plugin, or the address cannot be listened on (in use, ...).\n",
        out);
}

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fray_cli_vusage_error("serve", fmt, ap);
  va_end(ap);
  return FRAY_EXIT_USAGE;
}

typedef struct serve_state {
  struct event_base *base;
  fray_event_server_t *es;
  int signals;
} serve_state_t;

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  serve_state_t *st = arg;
  (void)what;
  if (st->signals++) {
    fprintf(stderr, "fray serve: signal %d again: stopping now\n", (int)sig);
    event_base_loopbreak(st->base);
    return;
  }
  fprintf(stderr, "fray serve: signal %d: stopping (flushing and closing connections)\n", (int)sig);
  fray_event_server_stop(st->es);
}

static void on_stopped(fray_event_server_t *es, void *user_data) {
  serve_state_t *st = user_data;
  (void)es;
  event_base_loopexit(st->base, NULL);
}

/* Many peers need many descriptors: take what the hard limit allows. */
static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* Times are milliseconds (`300`, `300ms`, `0.3s`). --idle-timeout is the
 * older spelling of --idle, whose bare number meant seconds and still does;
 * the cap keeps the milliseconds within the int libevent's timeval takes. */
static const fray_cli_opt_t opts_table[] = {
    {"--handler", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--plugin", FRAY_CLI_TEXT, 0, 0, NULL},
    {"--listen", FRAY_CLI_LISTEN, 0, 0, NULL},
    {"--max-conns", FRAY_CLI_COUNT, 1, FRAY_CLI_MANY, NULL},
    {"--max-output", FRAY_CLI_COUNT, 1, FRAY_CLI_MANY, NULL},
    {"--max-output-total", FRAY_CLI_COUNT, 1, FRAY_CLI_MANY, NULL},
    {"--idle", FRAY_CLI_MS, 1, INT32_MAX, NULL},
    {"--idle-timeout", FRAY_CLI_SECONDS, 1, INT32_MAX, "--idle"},
    {"--verbose", FRAY_CLI_FLAG, 0, 0, NULL},
    {"-v", FRAY_CLI_FLAG, 0, 0, "--verbose"},
    {"--quiet", FRAY_CLI_FLAG, 0, 0, NULL},
    {"-q", FRAY_CLI_FLAG, 0, 0, "--quiet"},
};

typedef struct serve_cli {
  const char *hname, *plugin, *listen;
} serve_cli_t;

/* The command line into o and opts: -1 to go on, or the exit status. */
static int serve_args(int argc, char **argv, serve_cli_t *o, fray_event_opts_t *opts) {
  fray_cli_args_t args;
  fray_cli_args_init(&args, "serve", FRAY_CLI_TABLE(opts_table), usage, argc, argv);
  for (fray_cli_arg_t k; (k = fray_cli_next_arg(&args)) != FRAY_CLI_ARG_END;) {
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return fray_cli_stop_status(k);
    if (k == FRAY_CLI_ARG_OPERAND)
      return bad("unexpected argument '%s'", args.val);
    const char *a = args.name, *val = args.val;
    if (!strcmp(a, "--verbose")) {
      opts->log_level = FRAY_EVENT_LOG_CONNS;
    } else if (!strcmp(a, "--quiet")) {
      opts->log_level = FRAY_EVENT_LOG_QUIET;
    } else if (!strcmp(a, "--handler")) {
      o->hname = val;
    } else if (!strcmp(a, "--plugin")) {
      o->plugin = val;
    } else if (!strcmp(a, "--listen")) {
      o->listen = val;
    } else if (!strcmp(a, "--max-conns")) {
      opts->max_conns = (size_t)args.num;
    } else if (!strcmp(a, "--max-output")) {
      opts->max_output = (size_t)args.num;
    } else if (!strcmp(a, "--max-output-total")) {
      opts->max_output_total = (size_t)args.num;
    } else if (!strcmp(a, "--idle")) {
      opts->idle_timeout_ms = (unsigned)args.num;
    }
  }
  if (!o->hname && !o->plugin)
    return bad("no handler: give --handler NAME or --plugin LIB.so");
  if (o->hname && o->plugin)
    return bad("--handler and --plugin exclude each other");
  if (!o->listen)
    return bad("no address: give --listen HOST:PORT (e.g. 127.0.0.1:0)");
  return -1;
}

/* The handler named, built in or from a plugin (*dl, to unload after the
 * server); NULL when there is none, said on stderr. */
static const fray_handler_t *serve_handler(const serve_cli_t *o, void **dl) {
  const fray_handler_t *h;
  if (o->plugin) {
    if (!(h = fray_cli_load_plugin("fray serve", o->plugin, dl)) && *dl) {
      dlclose(*dl);
      *dl = NULL;
    }
    return h;
  }
  if (!(h = fray_example_find(o->hname)))
    fprintf(stderr, "fray serve: unknown handler '%s' (fray replay --list-handlers lists them)\n",
            o->hname);
  return h;
}

static void print_stats(const fray_event_server_t *es) {
  fray_event_stats_t s;
  fray_event_server_stats(es, &s);
  fprintf(stderr,
          "fray serve: %llu connections (%llu refused, %llu dropped as too slow, %llu reset "
          "over the output budget, %llu timed out), %llu bytes in, %llu out; at most %zu bytes "
          "queued\n",
          (unsigned long long)s.accepted, (unsigned long long)s.refused,
          (unsigned long long)s.dropped, (unsigned long long)s.over_budget,
          (unsigned long long)s.timeouts, (unsigned long long)s.bytes_in,
          (unsigned long long)s.bytes_out, s.queued_peak);
}

int fray_cli_serve(int argc, char **argv) {
  serve_cli_t o = {0};
  fray_event_opts_t opts;
  fray_event_opts_init(&opts);
  int stop = serve_args(argc, argv, &o, &opts);
  if (stop >= 0)
    return stop;
  const char *listen = o.listen;
  void *dl = NULL;
  const fray_handler_t *h = serve_handler(&o, &dl);
  if (!h)
    return FRAY_EXIT_USAGE;

  /* A peer closing with data in flight must not kill the server (EPIPE
   * instead of SIGPIPE). */
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  int status = FRAY_EXIT_USAGE;
  serve_state_t st = {0};
  struct event *sigint = NULL, *sigterm = NULL;
  st.base = event_base_new();
  if (!st.base) {
    fprintf(stderr, "fray serve: cannot create an event loop\n");
    goto done;
  }
  opts.on_stopped = on_stopped;
  opts.user_data = &st;
  char err[512];
  if (fray_event_server_new(&st.es, st.base, h, listen, &opts, err, sizeof err)) {
    fprintf(stderr, "fray serve: %s\n", err);
    goto done;
  }
  sigint = evsignal_new(st.base, SIGINT, on_signal, &st);
  sigterm = evsignal_new(st.base, SIGTERM, on_signal, &st);
  if (!sigint || !sigterm || event_add(sigint, NULL) || event_add(sigterm, NULL)) {
    fprintf(stderr, "fray serve: cannot install signal handlers\n");
    goto done;
  }
  /* The address as given, with the port actually bound: tests that ask
   * for port 0 read it from here. */
  const char *colon = strrchr(listen, ':');
  printf("listening on %.*s:%u\n", (int)(colon - listen), listen, fray_event_server_port(st.es));
  fflush(stdout);
  if (event_base_dispatch(st.base) < 0) {
    fprintf(stderr, "fray serve: the event loop failed\n");
    goto done;
  }
  if (opts.log_level >= FRAY_EVENT_LOG_CONNS)
    print_stats(st.es);
  status = FRAY_EXIT_OK;
done:
  if (sigint)
    event_free(sigint);
  if (sigterm)
    event_free(sigterm);
  fray_event_server_free(st.es);
  if (st.base)
    event_base_free(st.base);
  /* The handler lives in the plugin: unload it only after the server. */
  if (dl)
    dlclose(dl);
  return status;
}

#else /* !FRAY_HAVE_EVENT */

int fray_cli_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "fray serve: this fray was built without libevent "
                  "(configure with -DFRAY_WITH_LIBEVENT=ON)\n");
  return FRAY_EXIT_USAGE;
}

#endif
