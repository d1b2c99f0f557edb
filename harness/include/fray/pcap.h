/* fray/pcap.h: turns captured TCP traffic into a `.fray` session script.
 *
 * The importer is fed link-layer frames one at a time (as a capture file
 * holds them) and reassembles every TCP connection in both directions:
 * out-of-order, retransmitted and overlapping segments, FIN and RST. Each
 * connection becomes one named client ("c1", "c2", ... in order of first
 * packet); what the client sent becomes `NAME > ...`, what the server sent
 * `NAME < ...`, in the order the bytes became contiguous in the capture, so
 * the script replays against the same server.
 *
 * This module reads no files and does not use libpcap: the `fray
 * import-pcap` command reads the capture with libpcap and feeds the
 * packets here, and tests feed synthetic packets directly.
 *
 *   fray_pcap_import_t *im;
 *   fray_pcap_import_new(&im, NULL);
 *   while (next_packet(&linktype, &data, &caplen, &wirelen))
 *     fray_pcap_import_packet(im, linktype, data, caplen, wirelen);
 *   fray_script_t *s;
 *   if (fray_pcap_import_finish(im, &s) == 0) fray_script_write(s, stdout);
 *   fray_script_free(s);
 *   fray_pcap_import_free(im);
 *
 * Not thread-safe; one importer per capture. */
#ifndef FRAY_PCAP_H
#define FRAY_PCAP_H

#include <stddef.h>
#include <stdint.h>

#include "fray/common.h"
#include "fray/script.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Link types, as the LINKTYPE_ values stored in pcap and pcapng files
 * (not the platform's DLT_ numbers: DLT_RAW is 12 or 14 depending on the
 * OS, LINKTYPE_RAW is always 101). */
#define FRAY_LINKTYPE_NULL 0         /* BSD loopback: 4-byte host-order AF_ */
#define FRAY_LINKTYPE_ETHERNET 1     /* Ethernet II, 802.1Q/802.1ad tags skipped */
#define FRAY_LINKTYPE_RAW 101        /* raw IPv4 or IPv6, version nibble decides */
#define FRAY_LINKTYPE_LOOP 108       /* OpenBSD loopback: 4-byte network-order AF_ */
#define FRAY_LINKTYPE_LINUX_SLL 113  /* Linux cooked capture v1 (`-i any`) */
#define FRAY_LINKTYPE_IPV4 228       /* raw IPv4 */
#define FRAY_LINKTYPE_IPV6 229       /* raw IPv6 */
#define FRAY_LINKTYPE_LINUX_SLL2 276 /* Linux cooked capture v2 */

/* 1 if linktype is one of the FRAY_LINKTYPE_ values above, else 0. */
FRAY_EXTERN int fray_pcap_linktype_supported(int linktype);

typedef struct fray_pcap_import fray_pcap_import_t;

/* Severity of a note. Warnings describe input that was skipped without
 * harming the script (non-TCP packets are only counted, not noted);
 * errors mean the script misses bytes of the capture or cannot replay it
 * as captured (a gap in a stream, a snaplen-truncated segment, a limit). */
typedef enum fray_pcap_level { FRAY_PCAP_WARNING = 0, FRAY_PCAP_ERROR = 1 } fray_pcap_level_t;

/* A diagnostic, borrowed for the duration of the callback only. */
typedef struct fray_pcap_note {
  fray_pcap_level_t level;
  uint64_t packet;     /* 1-based number of the packet it is about; 0: end of capture */
  const char *client;  /* the flow's client name, or NULL */
  const char *message; /* one line, no trailing newline */
} fray_pcap_note_t;

/* Called for each note. user_data is the one given in the options,
 * passed back untouched. */
typedef void (*fray_pcap_note_cb)(const fray_pcap_note_t *note, void *user_data);

/* Options, a value type; zero-initialise and set what you need. */
typedef struct fray_pcap_import_opts {
  const fray_mem_t *mem; /* copied; NULL: malloc/realloc/free */
  /* The server's TCP port. Flows with this port on neither side are
   * skipped (counted in flows_skipped). 0: the destination of the flow's
   * first SYN, else the lower port of the two. */
  unsigned server_port;
  /* Largest number of stream bytes held out of order per direction
   * (waiting for a gap to fill); 0: 16 MiB. Beyond it segments are dropped
   * with an error note. */
  size_t max_pending;
  /* Largest total of reassembled bytes put into the script; 0:
   * FRAY_SCRIPT_DEFAULT_MAX_BYTES, so the written script parses back with
   * default limits. Beyond it bytes are dropped with an error note. */
  size_t max_bytes;
  fray_pcap_note_cb note_cb; /* NULL: notes are only counted */
  void *user_data;
} fray_pcap_import_opts_t;

/* Counters, all since fray_pcap_import_new(). */
typedef struct fray_pcap_stats {
  uint64_t packets;       /* fed to fray_pcap_import_packet() */
  uint64_t tcp_packets;   /* TCP segments parsed */
  uint64_t non_ip;        /* link-layer frames that carry neither IPv4 nor IPv6 */
  uint64_t non_tcp;       /* IP packets of another protocol (UDP, ICMP, ...) */
  uint64_t fragments;     /* IP fragments (not reassembled; skipped; an error note
                           * for each one of a TCP segment) */
  uint64_t malformed;     /* headers cut short or inconsistent; skipped */
  uint64_t truncated;     /* TCP segments whose payload the capture cut (snaplen) */
  uint64_t retransmitted; /* segments wholly below what was already delivered */
  uint64_t overlapping;   /* segments partly below it (their new tail was used) */
  uint64_t out_of_order;  /* segments held until a gap before them filled */
  uint64_t flows;         /* TCP connections turned into clients */
  uint64_t flows_skipped; /* connections not on server_port */
  uint64_t bytes_to_server;
  uint64_t bytes_to_client;
  uint64_t bytes_lost;    /* captured stream bytes that could not be placed (behind a
                           * gap, after the end, over a limit) */
  uint64_t bytes_missing; /* stream bytes the capture lacks: gaps before held bytes,
                           * a FIN or a RST, and what the snaplen cut */
  uint64_t errors;        /* error notes */
  uint64_t warnings;      /* warning notes */
} fray_pcap_stats_t;

/* Creates an importer. opts may be NULL (all defaults); it is copied.
 * Returns 0, FRAY_EINVAL (out NULL) or FRAY_ENOMEM (*out is then NULL). */
FRAY_EXTERN int fray_pcap_import_new(fray_pcap_import_t **out, const fray_pcap_import_opts_t *opts);

/* Feeds one captured frame: caplen bytes at data (borrowed for the call),
 * of a frame that was wirelen bytes long on the wire (wirelen > caplen
 * when the capture's snaplen cut it). Packets are numbered from 1 in the
 * order they are fed.
 *
 * Returns 0 when the packet was used or skipped (skips are counted in the
 * stats and, where they lose stream bytes, reported as notes), or:
 *   FRAY_EUNSUPPORTED  linktype is not supported (nothing was changed)
 *   FRAY_EINVAL        im is NULL, or data is NULL with caplen > 0
 *   FRAY_ESTATE        called after fray_pcap_import_finish()
 *   FRAY_ENOMEM        out of memory; the importer is then fatal (only
 *                      _free is allowed)
 * Malformed packets are never an error return: they are skipped and
 * counted, so one bad frame does not lose the rest of the capture. */
FRAY_EXTERN int fray_pcap_import_packet(fray_pcap_import_t *im, int linktype, const uint8_t *data,
                                        size_t caplen, size_t wirelen);

/* Ends the capture: bytes still waiting behind a gap are reported lost
 * (error notes), every connection still open gets its `close`, and the
 * script is handed out. On success *out is a new script owned by the
 * caller (fray_script_free()); it may have no steps when the capture held
 * no TCP connection. Can be called once; afterwards only _stats and _free.
 * Returns 0, FRAY_EINVAL, FRAY_ESTATE (called twice or after a fatal
 * error), FRAY_ENOMEM (*out is NULL on failure). */
FRAY_EXTERN int fray_pcap_import_finish(fray_pcap_import_t *im, fray_script_t **out);

/* Copies the counters into *stats. */
FRAY_EXTERN void fray_pcap_import_stats(const fray_pcap_import_t *im, fray_pcap_stats_t *stats);

/* Frees the importer (not a script it handed out). NULL is allowed. */
FRAY_EXTERN void fray_pcap_import_free(fray_pcap_import_t *im);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_PCAP_H */
