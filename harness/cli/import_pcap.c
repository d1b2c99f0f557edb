/* fray import-pcap: turns a capture file (pcap or pcapng, read with
 * libpcap) into a `.fray` session script, one client per TCP connection.
 * The reassembly is the library's (fray/pcap.h); this file only reads the
 * capture and reports.
 *
 * Nothing reassembled is lost on bad input: when the file turns out to be
 * truncated or a stream has a gap, the script of everything before it is
 * still written, the problem is named on stderr (packet number and byte
 * offset), and the exit status is 2. Every byte the script misses is
 * counted in the summary; --allow-loss accepts such losses (exit 0), an
 * unreadable file never. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "fray/pcap.h"
#include "fray/script.h"
#include "session/record.h"

#ifdef FRAY_HAVE_PCAP
#include <pcap/pcap.h>
#include <sys/stat.h>
#endif

#define MAX_NOTES_SHOWN 20 /* per run; the rest are counted */

static void usage(FILE *out) {
  fputs("usage: fray import-pcap FILE.pcap [--server-port N] [-o OUT.fray] [--allow-loss]\n"
        "\n"
        "Reassembles every TCP connection of a capture (pcap or pcapng; Ethernet,\n"
        "Linux cooked v1/v2, raw IP, loopback/null link types; IPv4 and IPv6) and\n"
        "writes one .fray script: one client per connection (c1, c2, ...), what it\n"
        "sent as `cN > ...`, what the server answered as `cN < ...`, with open,\n"
        "half-close (`cN > eof`), server close (`cN < eof`), close and reset. Out of\n"
        "order, retransmitted and overlapping segments are put right. The script\n"
        "replays against the same server: fray replay --connect HOST:PORT OUT.fray\n"
        "\n"
        "options:\n"
        "  --server-port N  the server's TCP port; connections not on it are skipped.\n"
        "                   Default: the destination of each connection's SYN, else\n"
        "                   the lower of its two ports\n"
        "  -o, --output F   write the script to F (default: stdout)\n"
        "  --allow-loss     exit 0 even when the script misses bytes of the capture\n"
        "                   (gaps, IP fragments, snaplen cuts, limits); they are\n"
        "                   still reported\n"
        "\n"
        "Capture on loopback with e.g.  tcpdump -i lo -w cap.pcap 'tcp port 6379'\n"
        "(a snaplen that cuts packets loses bytes: tcpdump's default keeps them whole).\n"
        "\n"
        "exit status: 0 the whole capture was turned into the script (or bytes were\n"
        "lost and --allow-loss was given); 2 usage error, unreadable or truncated\n"
        "file, unsupported link type, no TCP connection, or stream bytes missing from\n"
        "the script (it is still written with everything that could be placed;\n"
        "stderr says what was lost, and the summary counts it).\n",
        out);
}

#ifdef FRAY_HAVE_PCAP

typedef struct notes_ctx {
  const char *file;
  unsigned shown, hidden;
} notes_ctx_t;

static void on_note(const fray_pcap_note_t *n, void *user_data) {
  notes_ctx_t *c = user_data;
  if (c->shown >= MAX_NOTES_SHOWN) {
    c->hidden++;
    return;
  }
  c->shown++;
  char where[64] = "end of capture";
  if (n->packet)
    snprintf(where, sizeof where, "packet %" PRIu64, n->packet);
  fprintf(stderr, "fray import-pcap: %s: %s%s%s: %s: %s\n", c->file, where,
          n->client ? ", client " : "", n->client ? n->client : "",
          n->level == FRAY_PCAP_ERROR ? "error" : "warning", n->message);
}

/* libpcap reports DLT_ values; the importer takes the file's LINKTYPE_
 * values, which differ for raw IP (DLT_RAW is 12 or 14 by OS). */
static int dlt_to_linktype(int dlt) {
  switch (dlt) {
  case DLT_NULL:
    return FRAY_LINKTYPE_NULL;
  case DLT_EN10MB:
    return FRAY_LINKTYPE_ETHERNET;
  case DLT_RAW:
    return FRAY_LINKTYPE_RAW;
#ifdef DLT_LOOP
  case DLT_LOOP:
    return FRAY_LINKTYPE_LOOP;
#endif
#ifdef DLT_LINUX_SLL
  case DLT_LINUX_SLL:
    return FRAY_LINKTYPE_LINUX_SLL;
#endif
#ifdef DLT_LINUX_SLL2
  case DLT_LINUX_SLL2:
    return FRAY_LINKTYPE_LINUX_SLL2;
#endif
#ifdef DLT_IPV4
  case DLT_IPV4:
    return FRAY_LINKTYPE_IPV4;
#endif
#ifdef DLT_IPV6
  case DLT_IPV6:
    return FRAY_LINKTYPE_IPV6;
#endif
  default:
    return -1;
  }
}

/* The summary's last part: what the script misses. A capture that could
 * not be read to its end has losses nobody can count, which it says
 * rather than a reassuring "0 bytes lost". */
static void print_losses(const fray_pcap_stats_t *st, int read_failed) {
  if (read_failed) {
    fputs("; bytes lost: unknown (the capture could not be read to its end)\n", stderr);
    return;
  }
  fprintf(stderr,
          "; %" PRIu64 " bytes lost (%" PRIu64 " missing from the capture, %" PRIu64
          " captured but not placed)\n",
          st->bytes_missing + st->bytes_lost, st->bytes_missing, st->bytes_lost);
}

/* Feeds every packet of pc to im. Returns FRAY_EXIT_OK, FRAY_EXIT_USAGE
 * when the file could not be read to its end (what was read is kept), or
 * -1 when the importer failed (said on stderr). */
static int feed_packets(pcap_t *pc, int lt, fray_pcap_import_t *im, const char *path) {
  uint64_t npkt = 0;
  for (;;) {
    /* Where the next record starts, for the error message: libpcap says
     * only that the file is truncated, not where. */
    long at = -1;
    FILE *fp = pcap_file(pc);
    if (fp)
      at = ftell(fp);
    struct pcap_pkthdr *h;
    const u_char *data;
    int r = pcap_next_ex(pc, &h, &data);
    if (r == PCAP_ERROR_BREAK)
      return FRAY_EXIT_OK;
    if (r != 1) {
      fprintf(stderr,
              "fray import-pcap: %s: packet %" PRIu64 " (byte offset %ld): %s; the %" PRIu64
              " packets before it were imported\n",
              path, npkt + 1, at, r == PCAP_ERROR ? pcap_geterr(pc) : "read error", npkt);
      return FRAY_EXIT_USAGE;
    }
    npkt++;
    int rc = fray_pcap_import_packet(im, lt, data, h->caplen, h->len);
    if (rc) {
      fprintf(stderr, "fray import-pcap: %s: packet %" PRIu64 ": %s\n", path, npkt,
              fray_strerror(rc));
      return -1;
    }
  }
}

/* The summary line and the verdict on losses: returns the exit status. */
static int report(const char *path, const fray_pcap_stats_t *st, int status, int allow_loss) {
  /* One summary line: what was used, what was skipped, what was lost. */
  fprintf(stderr,
          "fray import-pcap: %s: %" PRIu64 " packets, %" PRIu64 " TCP; %" PRIu64
          " connections, %" PRIu64 " bytes to the server, %" PRIu64 " to clients; skipped: %" PRIu64
          " non-IP, %" PRIu64 " non-TCP, %" PRIu64 " fragments, %" PRIu64 " malformed, %" PRIu64
          " connections off the server port; %" PRIu64 " retransmitted, %" PRIu64
          " overlapping, %" PRIu64 " out-of-order segments",
          path, st->packets, st->tcp_packets, st->flows, st->bytes_to_server, st->bytes_to_client,
          st->non_ip, st->non_tcp, st->fragments, st->malformed, st->flows_skipped,
          st->retransmitted, st->overlapping, st->out_of_order);
  print_losses(st, status != FRAY_EXIT_OK);
  if (!st->errors || status != FRAY_EXIT_OK)
    return status;
  if (allow_loss) {
    fprintf(stderr,
            "fray import-pcap: %s: the script misses bytes of the capture (accepted: "
            "--allow-loss)\n",
            path);
    return status;
  }
  fprintf(stderr,
          "fray import-pcap: %s: the script misses bytes of the capture (see above); "
          "--allow-loss accepts that\n",
          path);
  return FRAY_EXIT_USAGE;
}

/* Writes s to outpath (stdout when NULL). A regular file (or a new one) is
 * written by the recorder's writer, so a failed run never leaves half a
 * script and no planted link is followed; what else the user names (a
 * device, a FIFO, a link) is written as it is. 0 or -1 (said on stderr). */
static int write_out(const fray_script_t *s, const char *outpath) {
  struct stat sb;
  if (outpath && (lstat(outpath, &sb) != 0 || S_ISREG(sb.st_mode))) {
    char err[512];
    if (fray__rec_write_file(s, outpath, err, sizeof err)) {
      fprintf(stderr, "fray import-pcap: %s\n", err);
      return -1;
    }
    return 0;
  }
  FILE *out = stdout;
  if (outpath && !(out = fopen(outpath, "w"))) {
    fprintf(stderr, "fray import-pcap: cannot create %s: %s\n", outpath, strerror(errno));
    return -1;
  }
  int rc = fray_script_write(s, out);
  if (out != stdout) {
    if (fclose(out) != 0 && !rc)
      rc = FRAY_EIO;
  } else if (fflush(out) != 0 && !rc) {
    rc = FRAY_EIO;
  }
  if (rc) {
    fprintf(stderr, "fray import-pcap: writing the script: %s\n", fray_strerror(rc));
    return -1;
  }
  return 0;
}

static int run(const char *path, unsigned server_port, const char *outpath, int allow_loss) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *pc = pcap_open_offline(path, errbuf);
  if (!pc) {
    /* libpcap names the file itself in some messages. */
    size_t pl = strlen(path);
    if (!strncmp(errbuf, path, pl) && errbuf[pl] == ':')
      fprintf(stderr, "fray import-pcap: %s\n", errbuf);
    else
      fprintf(stderr, "fray import-pcap: %s: %s\n", path, errbuf);
    return FRAY_EXIT_USAGE;
  }
  int dlt = pcap_datalink(pc);
  int lt = dlt_to_linktype(dlt);
  if (lt < 0) {
    const char *name = pcap_datalink_val_to_name(dlt);
    const char *desc = pcap_datalink_val_to_description(dlt);
    char what[160] = "";
    if (name)
      snprintf(what, sizeof what, " (%s%s%s)", name, desc ? ": " : "", desc ? desc : "");
    fprintf(stderr,
            "fray import-pcap: %s: link type %d%s is not supported (supported: EN10MB, NULL, "
            "LOOP, RAW, IPV4, IPV6, LINUX_SLL, LINUX_SLL2)\n",
            path, dlt, what);
    pcap_close(pc);
    return FRAY_EXIT_USAGE;
  }

  notes_ctx_t nctx = {.file = path};
  fray_pcap_import_opts_t opts = {
      .server_port = server_port, .note_cb = on_note, .user_data = &nctx};
  fray_pcap_import_t *im = NULL;
  int rc = fray_pcap_import_new(&im, &opts);
  if (rc) {
    fprintf(stderr, "fray import-pcap: %s\n", fray_strerror(rc));
    pcap_close(pc);
    return FRAY_EXIT_USAGE;
  }

  int status = feed_packets(pc, lt, im, path);
  pcap_close(pc);
  if (status < 0) {
    fray_pcap_import_free(im);
    return FRAY_EXIT_USAGE;
  }

  fray_script_t *s = NULL;
  rc = fray_pcap_import_finish(im, &s);
  fray_pcap_stats_t st;
  fray_pcap_import_stats(im, &st);
  fray_pcap_import_free(im);
  if (rc) {
    fprintf(stderr, "fray import-pcap: %s\n", fray_strerror(rc));
    return FRAY_EXIT_USAGE;
  }
  if (nctx.hidden)
    fprintf(stderr, "fray import-pcap: %s: %u more notes not shown\n", path, nctx.hidden);
  status = report(path, &st, status, allow_loss);
  if (!st.flows) {
    fprintf(stderr, "fray import-pcap: %s: no TCP connection in the capture%s\n", path,
            server_port ? " on the server port" : "");
    fray_script_free(s);
    return FRAY_EXIT_USAGE;
  }
  rc = write_out(s, outpath);
  fray_script_free(s);
  return rc ? FRAY_EXIT_USAGE : status;
}
#endif /* FRAY_HAVE_PCAP */

int fray_cli_import_pcap(int argc, char **argv) {
  const char *file = NULL, *outpath = NULL;
  unsigned long port = 0;
  int allow_loss = 0;
  static const fray_cli_opt_t opts_table[] = {
      {"--server-port", FRAY_CLI_PORT, 0, 0, NULL},
      {"--output", FRAY_CLI_TEXT, 0, 0, NULL},
      {"-o", FRAY_CLI_TEXT, 0, 0, "--output"},
      {"--allow-loss", FRAY_CLI_FLAG, 0, 0, NULL},
  };
  fray_cli_args_t args;
  fray_cli_args_init(&args, "import-pcap", FRAY_CLI_TABLE(opts_table), usage, argc, argv);
  for (fray_cli_arg_t k; (k = fray_cli_next_arg(&args)) != FRAY_CLI_ARG_END;) {
    if (k == FRAY_CLI_ARG_HELP || k == FRAY_CLI_ARG_ERROR)
      return fray_cli_stop_status(k);
    const char *v = args.val;
    if (k == FRAY_CLI_ARG_OPERAND) {
      /* `-` is stdin: libpcap's pcap_open_offline() reads it so. */
      if (file) {
        fray_cli_usage_error("import-pcap", "one capture file at a time ('%s' and '%s')", file, v);
        return FRAY_EXIT_USAGE;
      }
      file = v;
    } else if (!strcmp(args.name, "--server-port")) {
      port = (unsigned long)args.num;
    } else if (!strcmp(args.name, "--output")) {
      outpath = v;
    } else if (!strcmp(args.name, "--allow-loss")) {
      allow_loss = 1;
    }
  }
  if (!file) {
    usage(stderr);
    return FRAY_EXIT_USAGE;
  }
#ifdef FRAY_HAVE_PCAP
  return run(file, (unsigned)port, outpath, allow_loss);
#else
  (void)port;
  (void)outpath;
  (void)allow_loss;
  fprintf(stderr, "fray import-pcap: this fray was built without libpcap (install libpcap-dev "
                  "and reconfigure)\n");
  return FRAY_EXIT_USAGE;
#endif
}
