/* TCP reassembly of captured packets into a `.fray` script (fray/pcap.h).
 *
 * Per flow and direction the importer keeps the stream offset of the next
 * byte it expects (next_off) and the 32-bit sequence number that goes with
 * it; a segment's offset is next_off plus the signed 32-bit distance of its
 * sequence number, so wrap-around needs no special case as long as
 * segments stay within 2 GiB of the stream's front, which TCP windows
 * guarantee. Bytes below next_off were delivered already (retransmission,
 * overlap: trimmed); bytes above it wait in a sorted list until the gap
 * fills.
 *
 * Script steps are appended as bytes become contiguous, which is the order
 * a replay must follow: a server cannot answer bytes it has not received
 * in order. Consecutive bytes of one flow and direction are merged into one
 * step (the segmentation of a capture is the sender's and the kernel's
 * business, not part of the session). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fray/pcap.h"
#include "core/internal.h"
#include "session/record.h"

#define DEFAULT_MAX_PENDING ((size_t)16 << 20)
#define HASH_MIN 64

/* TCP flags */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* A held (out-of-order) segment: a node of a treap keyed by stream offset.
 * Held segments never overlap: a new segment only fills the holes between
 * those already held, which is how the first captured copy of a byte
 * wins. The treap keeps insertion at O(log n) whatever the arrival order
 * (a sorted array made 200,000 one-byte segments in reverse order take
 * 35 s). */
typedef struct seg {
  struct seg *left, *right;
  uint64_t prio; /* heap order: a salted hash of off */
  uint64_t off;
  size_t len;
  uint8_t data[]; /* len bytes */
} seg_t;

/* What holding a segment costs beyond its bytes, counted against
 * max_pending so that one-byte segments cannot hold gigabytes. */
#define SEG_COST (sizeof(seg_t) + 16)

typedef struct dir {
  int have_base;     /* next_seq/next_off are meaningful */
  uint32_t next_seq; /* sequence number of the byte at next_off */
  uint64_t next_off; /* stream bytes delivered so far */
  uint64_t seen_end; /* highest stream offset a data segment reached */
  int fin_seen;      /* a FIN arrived; fin_off is where the stream ends */
  uint64_t fin_off;
  int fin_done; /* the FIN was delivered (all bytes before it were) */
  int rst_seen; /* a RST arrived ahead of bytes not captured yet */
  uint64_t rst_off;
  seg_t *held;          /* out-of-order segments (treap, disjoint) */
  size_t nsegs;         /* nodes in held */
  size_t pending;       /* payload bytes in held */
  uint64_t dropped_gap; /* captured bytes beyond next_off dropped at the limit */
  int gaps_reported;    /* dir_report_gaps() ran */
  int warned_mid;       /* "started mid-stream" noted */
} dir_t;

typedef struct endpoint {
  uint8_t addr[16];
  uint16_t port;
} endpoint_t;

typedef struct flow {
  int family;       /* 4 or 6 */
  endpoint_t ep[2]; /* [0] client, [1] server */
  size_t client;    /* script client index */
  char name[16];
  int skipped; /* not on server_port: packets are ignored */
  int shut_wr; /* `NAME > eof` written */
  int eof_rd;  /* `NAME < eof` written */
  int closed;  /* `close`/`reset` written: the flow is over */
  dir_t d[2];  /* [0] client to server, [1] server to client */
} flow_t;

struct fray_pcap_import {
  fray_mem_t mem;
  fray_pcap_import_opts_t opts;
  fray_pcap_stats_t st;
  fray__rec_t rec; /* the script, one client per flow */
  uint64_t salt;   /* of the held segments' treap priorities */
  int finished, fatal;
  flow_t **flows;
  size_t nflows, capflows;
  size_t *hash; /* flow index + 1, 0 empty; open addressing */
  size_t hashcap;
};

/* A parsed TCP segment. */
typedef struct pkt {
  int family;
  endpoint_t src, dst;
  uint32_t seq;
  uint8_t flags;
  const uint8_t *payload;
  size_t len;      /* captured payload bytes */
  size_t wire_len; /* payload bytes on the wire */
} pkt_t;

int fray_pcap_linktype_supported(int linktype) {
  switch (linktype) {
  case FRAY_LINKTYPE_NULL:
  case FRAY_LINKTYPE_ETHERNET:
  case FRAY_LINKTYPE_RAW:
  case FRAY_LINKTYPE_LOOP:
  case FRAY_LINKTYPE_LINUX_SLL:
  case FRAY_LINKTYPE_IPV4:
  case FRAY_LINKTYPE_IPV6:
  case FRAY_LINKTYPE_LINUX_SLL2:
    return 1;
  default:
    return 0;
  }
}

static uint16_t be16(const uint8_t *p) {
  return (uint16_t)((p[0] << 8) | p[1]);
}
static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint32_t le32(const uint8_t *p) {
  return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
note(fray_pcap_import_t *im, fray_pcap_level_t level, const flow_t *f, const char *fmt, ...) {
  if (level == FRAY_PCAP_ERROR)
    im->st.errors++;
  else
    im->st.warnings++;
  if (!im->opts.note_cb)
    return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fray_pcap_note_t n = {.level = level,
                        .packet = im->finished ? 0 : im->st.packets,
                        .client = f ? f->name : NULL,
                        .message = msg};
  im->opts.note_cb(&n, im->opts.user_data);
}

/* ---- link and network layers ------------------------------------------ */

/* IP fragments are not reassembled: one that carries (part of) a TCP
 * segment loses its bytes, which must not go unnoticed. */
static void fragment(fray_pcap_import_t *im, uint8_t proto) {
  im->st.fragments++;
  if (proto == 6)
    note(im, FRAY_PCAP_ERROR, NULL,
         "IP fragment of a TCP segment skipped (fragments are not reassembled): its bytes are "
         "missing from the script");
}

/* Parses an IPv4 or IPv6 packet (version from its first nibble) down to
 * TCP. Returns 1 with *p filled, 0 when the packet is skipped (counted). */
/* The IP headers of a packet, v4 and v6: the addresses into p, and the
 * header length, the packet's total length and the protocol after the
 * headers. 1, or 0 when the packet is counted out (malformed, fragment). */
typedef struct ip_hdr {
  size_t hl, total;
  uint8_t proto;
} ip_hdr_t;

static int parse_ip4(fray_pcap_import_t *im, const uint8_t *b, size_t cap, pkt_t *p, ip_hdr_t *h) {
  if (cap < 20 || (h->hl = (size_t)(b[0] & 0xf) * 4) < 20 || cap < h->hl) {
    im->st.malformed++;
    return 0;
  }
  h->total = be16(b + 2);
  if (h->total < h->hl) {
    im->st.malformed++;
    return 0;
  }
  uint16_t frag = be16(b + 6);
  h->proto = b[9];
  if ((frag & 0x2000) || (frag & 0x1fff)) {
    fragment(im, h->proto);
    return 0;
  }
  p->family = 4;
  memset(p->src.addr, 0, 16);
  memset(p->dst.addr, 0, 16);
  memcpy(p->src.addr, b + 12, 4);
  memcpy(p->dst.addr, b + 16, 4);
  return 1;
}

static int parse_ip6(fray_pcap_import_t *im, const uint8_t *b, size_t cap, size_t wire, pkt_t *p,
                     ip_hdr_t *h) {
  if (cap < 40) {
    im->st.malformed++;
    return 0;
  }
  h->total = 40 + (size_t)be16(b + 4);
  if (h->total == 40 && wire > 40)
    h->total = wire; /* jumbogram: the length lives in an option */
  h->proto = b[6];
  h->hl = 40;
  p->family = 6;
  memcpy(p->src.addr, b + 8, 16);
  memcpy(p->dst.addr, b + 24, 16);
  /* Walk the extension headers that can precede TCP. */
  for (int guard = 0; guard < 8; guard++) {
    if (h->proto == 0 || h->proto == 43 || h->proto == 60) {
      if (cap < h->hl + 8) {
        im->st.malformed++;
        return 0;
      }
      size_t el = ((size_t)b[h->hl + 1] + 1) * 8;
      h->proto = b[h->hl];
      h->hl += el;
    } else if (h->proto == 44) {
      fragment(im, cap > h->hl ? b[h->hl] : 0);
      return 0;
    } else {
      break;
    }
  }
  if (h->hl > cap) {
    im->st.malformed++;
    return 0;
  }
  return 1;
}

static int parse_ip(fray_pcap_import_t *im, const uint8_t *b, size_t cap, size_t wire, pkt_t *p) {
  if (cap < 1) {
    im->st.malformed++;
    return 0;
  }
  int ver = b[0] >> 4;
  ip_hdr_t h;
  if (ver != 4 && ver != 6) {
    im->st.non_ip++;
    return 0;
  }
  if (!(ver == 4 ? parse_ip4(im, b, cap, p, &h) : parse_ip6(im, b, cap, wire, p, &h)))
    return 0;
  uint8_t proto = h.proto;
  size_t hl = h.hl, total = h.total;
  if (proto != 6) {
    im->st.non_tcp++;
    return 0;
  }
  /* Ethernet pads short frames: the IP length, not the capture, says
   * where the packet ends. */
  size_t wire_ip = total;
  if (cap > total)
    cap = total;
  if (total < hl + 20 || cap < hl + 20) {
    im->st.malformed++;
    return 0;
  }
  const uint8_t *t = b + hl;
  size_t thl = (size_t)(t[12] >> 4) * 4;
  if (thl < 20 || hl + thl > total || hl + thl > cap) {
    im->st.malformed++;
    return 0;
  }
  p->src.port = be16(t);
  p->dst.port = be16(t + 2);
  p->seq = be32(t + 4);
  p->flags = t[13];
  p->payload = t + thl;
  p->len = cap - hl - thl;
  p->wire_len = wire_ip - hl - thl;
  im->st.tcp_packets++;
  return 1;
}

static int af_is_ip(uint32_t af) {
  return af == 2 || af == 10 || af == 24 || af == 28 || af == 30;
}

/* Strips the link layer. Returns 1 with *p filled, 0 when skipped. */
static int parse_link(fray_pcap_import_t *im, int lt, const uint8_t *b, size_t cap, size_t wire,
                      pkt_t *p) {
  size_t off = 0;
  uint16_t etype = 0;
  switch (lt) {
  case FRAY_LINKTYPE_ETHERNET:
    if (cap < 14) {
      im->st.malformed++;
      return 0;
    }
    etype = be16(b + 12);
    off = 14;
    for (int tags = 0; tags < 2 && (etype == 0x8100 || etype == 0x88a8); tags++) {
      if (cap < off + 4) {
        im->st.malformed++;
        return 0;
      }
      etype = be16(b + off + 2);
      off += 4;
    }
    break;
  case FRAY_LINKTYPE_LINUX_SLL:
    if (cap < 16) {
      im->st.malformed++;
      return 0;
    }
    etype = be16(b + 14);
    off = 16;
    break;
  case FRAY_LINKTYPE_LINUX_SLL2:
    if (cap < 20) {
      im->st.malformed++;
      return 0;
    }
    etype = be16(b);
    off = 20;
    break;
  case FRAY_LINKTYPE_NULL:
  case FRAY_LINKTYPE_LOOP:
    if (cap < 4) {
      im->st.malformed++;
      return 0;
    }
    /* NULL stores AF_ in the capturing host's byte order, which the file
     * does not say: accept either order. */
    if (!af_is_ip(be32(b)) && !(lt == FRAY_LINKTYPE_NULL && af_is_ip(le32(b)))) {
      im->st.non_ip++;
      return 0;
    }
    off = 4;
    break;
  case FRAY_LINKTYPE_RAW:
  case FRAY_LINKTYPE_IPV4:
  case FRAY_LINKTYPE_IPV6:
    break;
  default:
    return 0;
  }
  if (etype && etype != 0x0800 && etype != 0x86dd) {
    im->st.non_ip++;
    return 0;
  }
  if (wire < off)
    wire = off;
  return parse_ip(im, b + off, cap - off, wire - off, p);
}

/* ---- script output ----------------------------------------------------- */

static int add_ctl(fray_pcap_import_t *im, flow_t *f, fray_step_kind_t kind) {
  return fray__rec_ctl(&im->rec, f->client, kind);
}

static int emit_data(fray_pcap_import_t *im, size_t fi, int dir, const uint8_t *data, size_t len) {
  flow_t *f = im->flows[fi];
  if (!len)
    return 0;
  /* A direction the script already ended cannot take more bytes (e.g. the
   * server's data that crossed the client's RST). */
  if (f->closed || (dir == 0 && f->shut_wr) || (dir == 1 && f->eof_rd)) {
    note(im, FRAY_PCAP_WARNING, f, "%zu %s bytes after the connection ended were dropped", len,
         dir == 0 ? "client" : "server");
    im->st.bytes_lost += len;
    return 0;
  }
  int rc = fray__rec_data(&im->rec, f->client, dir, data, len);
  if (rc == FRAY_ETOOLONG) {
    note(im, FRAY_PCAP_ERROR, f, "script byte limit (%zu) reached: %zu bytes dropped",
         im->rec.max_bytes, len);
    im->st.bytes_lost += len;
    return 0;
  }
  if (rc)
    return rc;
  if (dir == 0)
    im->st.bytes_to_server += len;
  else
    im->st.bytes_to_client += len;
  return 0;
}

/* Ends the flow in the script with `close` (or `reset`). */
static int flow_close(fray_pcap_import_t *im, flow_t *f, int reset) {
  if (f->closed)
    return 0;
  int rc = add_ctl(im, f, reset ? FRAY_STEP_RESET : FRAY_STEP_CLOSE);
  if (rc)
    return rc;
  f->closed = 1;
  fray__rec_release(&im->rec, f->client);
  return 0;
}

/* The FIN of direction dir was reached in order. */
static int deliver_fin(fray_pcap_import_t *im, flow_t *f, int dir) {
  int rc;
  f->d[dir].fin_done = 1;
  if (f->closed)
    return 0;
  if (dir == 0) {
    /* The client stopped sending: a half-close unless the server had
     * already closed, then the connection is simply over. */
    if (f->eof_rd)
      return flow_close(im, f, 0);
    if ((rc = add_ctl(im, f, FRAY_STEP_SHUTDOWN)))
      return rc;
    f->shut_wr = 1;
    return 0;
  }
  if ((rc = add_ctl(im, f, FRAY_STEP_EXPECT_EOF)))
    return rc;
  f->eof_rd = 1;
  if (f->shut_wr)
    return flow_close(im, f, 0);
  return 0;
}

/* ---- held segments (treap) --------------------------------------------- */

/* The treap stays shallow (expected depth O(log n)) as long as priorities
 * do not follow offsets; the salt, different in each importer, keeps a
 * crafted capture from choosing offsets whose hashes do. The tree's shape
 * never changes the script. */
static uint64_t seg_prio(uint64_t salt, uint64_t off) {
  uint64_t z = off + salt + 0x9e3779b97f4a7c15ULL; /* splitmix64 */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Splits t into *lo (off < key) and *hi (off >= key). */
static void treap_split(seg_t *t, uint64_t key, seg_t **lo, seg_t **hi) {
  if (!t) {
    *lo = *hi = NULL;
  } else if (t->off < key) {
    treap_split(t->right, key, &t->right, hi);
    *lo = t;
  } else {
    treap_split(t->left, key, lo, &t->left);
    *hi = t;
  }
}

/* Joins two treaps, every offset of a below every offset of b. */
static seg_t *treap_merge(seg_t *a, seg_t *b) {
  if (!a)
    return b;
  if (!b)
    return a;
  if (a->prio > b->prio) {
    a->right = treap_merge(a->right, b);
    return a;
  }
  b->left = treap_merge(a, b->left);
  return b;
}

static seg_t *treap_first(seg_t *t) {
  while (t && t->left)
    t = t->left;
  return t;
}

static seg_t *treap_last(seg_t *t) {
  while (t && t->right)
    t = t->right;
  return t;
}

/* Unlinks and returns the segment with the lowest offset. */
static seg_t *treap_pop_first(seg_t **t) {
  while (*t && (*t)->left)
    t = &(*t)->left;
  seg_t *s = *t;
  if (s) {
    *t = s->right;
    s->right = NULL;
  }
  return s;
}

/* ---- reassembly -------------------------------------------------------- */

static void dir_drop_segs(fray_pcap_import_t *im, dir_t *d) {
  /* Rotations turn the tree into a list as it is freed: no recursion. */
  seg_t *t = d->held;
  while (t) {
    if (t->left) {
      seg_t *l = t->left;
      t->left = l->right;
      l->right = t;
      t = l;
    } else {
      seg_t *next = t->right;
      fray__free(&im->mem, t);
      t = next;
    }
  }
  d->held = NULL;
  d->nsegs = 0;
  d->pending = 0;
}

static const char *dir_name(int dir) {
  return dir == 0 ? "client to server" : "server to client";
}

/* Holds the bytes [off, off+len) that are not held already. A piece that
 * would take the direction past max_pending is dropped (error note). */
static int hold_piece(fray_pcap_import_t *im, flow_t *f, dir_t *d, seg_t **out, uint64_t off,
                      const uint8_t *data, size_t len) {
  if (!len)
    return 0;
  if (d->pending + (d->nsegs + 1) * SEG_COST + len > im->opts.max_pending) {
    note(im, FRAY_PCAP_ERROR, f,
         "%s: more than %zu bytes out of order behind a gap at stream offset %llu: %zu bytes "
         "dropped",
         dir_name(d == &f->d[0] ? 0 : 1), im->opts.max_pending, (unsigned long long)d->next_off,
         len);
    im->st.bytes_lost += len;
    d->dropped_gap += len;
    return 0;
  }
  seg_t *s = fray__malloc(&im->mem, sizeof *s + len);
  if (!s)
    return FRAY_ENOMEM;
  *s = (seg_t){.prio = seg_prio(im->salt, off), .off = off, .len = len};
  memcpy(s->data, data, len);
  *out = treap_merge(*out, s);
  d->nsegs++;
  d->pending += len;
  return 0;
}

/* Holds a segment above next_off: only its bytes that no held segment has
 * yet, since of two copies of a byte the first captured wins. */
static int dir_hold(fray_pcap_import_t *im, flow_t *f, dir_t *d, uint64_t off, const uint8_t *data,
                    size_t len) {
  seg_t *lo, *mid, *hi;
  treap_split(d->held, off, &lo, &hi);
  seg_t *pred = treap_last(lo);
  if (pred && pred->off + pred->len > off) {
    uint64_t cut = pred->off + pred->len - off;
    cut = cut < len ? cut : len;
    off += cut;
    data += cut;
    len -= (size_t)cut;
  }
  uint64_t end = off + len;
  treap_split(hi, end, &mid, &hi);
  /* lo, then the pieces of the new segment between mid's segments, then
   * hi: merged in offset order. */
  int rc = 0;
  uint64_t pos = off;
  for (seg_t *m; !rc && (m = treap_pop_first(&mid));) {
    if (m->off > pos)
      rc = hold_piece(im, f, d, &lo, pos, data + (pos - off), (size_t)(m->off - pos));
    lo = treap_merge(lo, m);
    if (m->off + m->len > pos)
      pos = m->off + m->len;
  }
  if (!rc && pos < end)
    rc = hold_piece(im, f, d, &lo, pos, data + (pos - off), (size_t)(end - pos));
  d->held = treap_merge(treap_merge(lo, mid), hi);
  return rc;
}

/* At the end of the capture or at a reset: what a direction still misses (gaps before
 * held bytes, before its FIN or RST, or cut by the snaplen) is reported
 * and counted; held bytes behind a gap are dropped. */
static void dir_report_gaps(fray_pcap_import_t *im, flow_t *f, int dir) {
  dir_t *d = &f->d[dir];
  if (d->gaps_reported)
    return;
  d->gaps_reported = 1;
  /* A RST at the next byte (or right after a delivered FIN) is due, not
   * behind a gap. */
  int rst_ahead = d->rst_seen && d->rst_off > d->next_off + (d->fin_done ? 1 : 0);
  uint64_t end = d->fin_seen ? d->fin_off : d->seen_end;
  if (rst_ahead && !d->fin_seen && d->rst_off > end)
    end = d->rst_off;
  uint64_t have = d->next_off + d->pending + d->dropped_gap;
  uint64_t missing = end > have ? end - have : 0;
  if (!missing && !d->nsegs && !(d->fin_seen && !d->fin_done) && !rst_ahead)
    return;
  im->st.bytes_missing += missing;
  im->st.bytes_lost += d->pending;
  note(im, FRAY_PCAP_ERROR, f,
       "%s: %llu bytes missing from the capture at stream offset %llu; %zu bytes after the gap "
       "dropped%s",
       dir_name(dir), (unsigned long long)missing, (unsigned long long)d->next_off, d->pending,
       rst_ahead                     ? "; the reset after them is placed at the end"
       : d->fin_seen && !d->fin_done ? (dir == 0 ? "; the client's half-close after them is lost"
                                                 : "; the server's close after them is lost")
                                     : "");
  dir_drop_segs(im, d);
}

/* Ends the connection at a RST of direction dir: reached in order, or at
 * the end of the capture when bytes before it never came. */
static int apply_reset(fray_pcap_import_t *im, flow_t *f, int dir) {
  int rc;
  /* The connection is gone now: what is still behind a gap never
   * arrives. */
  for (int k = 0; k < 2; k++)
    dir_report_gaps(im, f, k);
  f->d[dir].rst_seen = 0;
  if (f->closed)
    return 0;
  if (dir == 0)
    return flow_close(im, f, 1);
  /* A server's RST ends the client's reading; the script has no "reset by
   * peer" expectation, so it is the server closing. */
  if (!f->eof_rd) {
    if ((rc = add_ctl(im, f, FRAY_STEP_EXPECT_EOF)))
      return rc;
    f->eof_rd = 1;
  }
  return flow_close(im, f, 0);
}

/* Where a RST of this direction is expected: right after the last byte
 * delivered, or after the FIN (which takes a sequence number). */
static uint64_t rst_expected(const dir_t *d) {
  return d->next_off + (d->fin_done ? 1 : 0);
}

/* Delivers held segments that became contiguous, then the FIN and a RST
 * that waited for them. */
static int dir_drain(fray_pcap_import_t *im, size_t fi, int dir) {
  flow_t *f = im->flows[fi];
  dir_t *d = &f->d[dir];
  int rc = 0;
  seg_t *s;
  while (!rc && d->held && treap_first(d->held)->off <= d->next_off) {
    s = treap_pop_first(&d->held);
    uint64_t end = s->off + s->len;
    if (end > d->next_off) {
      size_t skip = (size_t)(d->next_off - s->off);
      size_t n = s->len - skip;
      if (d->fin_seen && d->next_off + n > d->fin_off)
        n = (size_t)(d->fin_off - d->next_off);
      rc = emit_data(im, fi, dir, s->data + skip, n);
      d->next_off += n;
      d->next_seq += (uint32_t)n;
    }
    d->nsegs--;
    d->pending -= s->len;
    fray__free(&im->mem, s);
  }
  if (rc)
    return rc;
  if (d->fin_seen && !d->fin_done && d->next_off >= d->fin_off) {
    if (d->nsegs) {
      note(im, FRAY_PCAP_WARNING, f, "%zu bytes sent after the FIN were dropped", d->pending);
      dir_drop_segs(im, d);
    }
    if ((rc = deliver_fin(im, f, dir)))
      return rc;
  }
  if (d->rst_seen && d->rst_off <= rst_expected(d))
    return apply_reset(im, f, dir);
  return 0;
}

/* A RST at stream offset off (after its own payload). One in order ends
 * the connection; one ahead of bytes not captured yet waits for them; one
 * outside the window is ignored, as the receiving TCP ignores it
 * (RFC 5961), and the connection goes on. */
static int dir_reset(fray_pcap_import_t *im, size_t fi, int dir, uint64_t off) {
  flow_t *f = im->flows[fi];
  dir_t *d = &f->d[dir];
  uint64_t want = rst_expected(d);
  if (off == want || off == d->next_off)
    return apply_reset(im, f, dir);
  if (off > want && off - want <= im->opts.max_pending) {
    d->rst_seen = 1;
    d->rst_off = off;
    return 0;
  }
  note(im, FRAY_PCAP_WARNING, f,
       "%s RST at stream offset %llu, outside the window (next byte %llu): ignored, as the "
       "receiver ignores it",
       dir_name(dir), (unsigned long long)off, (unsigned long long)d->next_off);
  return 0;
}

/* Places len payload bytes at stream offset off: what is at next_off goes
 * out at once (up to the first held segment, which was captured earlier),
 * the rest is held. */
static int dir_place(fray_pcap_import_t *im, size_t fi, int dir, uint64_t off, const uint8_t *data,
                     size_t len) {
  flow_t *f = im->flows[fi];
  dir_t *d = &f->d[dir];
  if (off + len <= d->next_off) {
    im->st.retransmitted++;
    return 0;
  }
  if (off > d->next_off) {
    im->st.out_of_order++;
    return dir_hold(im, f, d, off, data, len);
  }
  if (off < d->next_off)
    im->st.overlapping++;
  size_t skip = (size_t)(d->next_off - off);
  data += skip;
  len -= skip;
  off = d->next_off;
  size_t now = len;
  seg_t *first = treap_first(d->held);
  if (first && first->off - off < now)
    now = (size_t)(first->off - off);
  int rc = emit_data(im, fi, dir, data, now);
  if (rc)
    return rc;
  d->next_off += now;
  d->next_seq += (uint32_t)now;
  if (now < len)
    return dir_hold(im, f, d, off + now, data + now, len - now);
  return 0;
}

/* The segment's stream offset, or -1 when it lies before the tracked
 * stream (noted). Sets up the direction's base on its first segment. */
static int seg_offset(fray_pcap_import_t *im, flow_t *f, int dir, const pkt_t *p, uint64_t *off) {
  dir_t *d = &f->d[dir];
  if ((p->flags & TH_SYN) && !d->have_base) {
    d->have_base = 1;
    d->next_seq = p->seq + 1;
    d->next_off = 0;
  }
  if (!d->have_base) {
    d->have_base = 1;
    d->next_seq = p->seq;
    d->next_off = 0;
    if (!d->warned_mid && (p->len || (p->flags & TH_FIN))) {
      d->warned_mid = 1;
      note(im, FRAY_PCAP_WARNING, f,
           "%s stream starts without a SYN (capture began mid-connection): bytes before "
           "sequence %lu are unknown",
           dir_name(dir), (unsigned long)p->seq);
    }
  }
  /* Data on a SYN (TCP Fast Open) follows the SYN's sequence number. */
  uint32_t seq = p->seq + ((p->flags & TH_SYN) ? 1u : 0u);
  int64_t rel = (int64_t)(int32_t)(seq - d->next_seq);
  if (rel < 0 && (uint64_t)(-rel) > d->next_off) {
    /* Before the start of what we track (mid-stream start, reordered). */
    note(im, FRAY_PCAP_WARNING, f, "segment before the start of the tracked stream ignored");
    return -1;
  }
  *off = (uint64_t)((int64_t)d->next_off + rel);
  return 0;
}

static int flow_segment(fray_pcap_import_t *im, size_t fi, int dir, const pkt_t *p) {
  flow_t *f = im->flows[fi];
  dir_t *d = &f->d[dir];
  uint64_t off;
  int rc;
  if (seg_offset(im, f, dir, p, &off))
    return 0;
  size_t len = p->len;
  if (p->len < p->wire_len) {
    im->st.truncated++;
    note(im, FRAY_PCAP_ERROR, f,
         "segment captured with %zu of its %zu payload bytes (snaplen too small): the rest is "
         "missing",
         p->len, p->wire_len);
  }
  if (!(p->flags & TH_RST) && off + p->wire_len > d->seen_end)
    d->seen_end = off + p->wire_len;
  if ((p->flags & TH_FIN) && !d->fin_seen) {
    /* The FIN takes the sequence number after the wire payload. */
    d->fin_seen = 1;
    d->fin_off = off + p->wire_len;
  }
  if (d->fin_seen && off + len > d->fin_off) {
    size_t keep = off >= d->fin_off ? 0 : (size_t)(d->fin_off - off);
    if (len > keep && !d->fin_done)
      note(im, FRAY_PCAP_WARNING, f, "%zu bytes after the FIN ignored", len - keep);
    len = keep;
  }
  if (len && !(p->flags & TH_RST) && (rc = dir_place(im, fi, dir, off, p->payload, len)))
    return rc;
  if ((rc = dir_drain(im, fi, dir)))
    return rc;
  if ((p->flags & TH_RST) && !f->closed)
    return dir_reset(im, fi, dir, off);
  return 0;
}

/* ---- flows ------------------------------------------------------------- */

static uint64_t ep_hash(const endpoint_t *e) {
  uint64_t h = 1469598103934665603ULL;
  for (int i = 0; i < 16; i++)
    h = (h ^ e->addr[i]) * 1099511628211ULL;
  h = (h ^ e->port) * 1099511628211ULL;
  return h;
}

/* Symmetric in the two endpoints, so both directions find the flow. */
static size_t tuple_hash(int family, const endpoint_t *a, const endpoint_t *b) {
  uint64_t h = ep_hash(a) ^ ep_hash(b) ^ (uint64_t)family;
  h ^= h >> 29;
  return (size_t)(h * 0xbf58476d1ce4e5b9ULL);
}

static int ep_eq(const endpoint_t *a, const endpoint_t *b) {
  return a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

/* Returns the hash slot of the flow with these endpoints, or of the empty
 * slot where it would go. */
static size_t hash_slot(const fray_pcap_import_t *im, const pkt_t *p) {
  size_t mask = im->hashcap - 1;
  size_t i = tuple_hash(p->family, &p->src, &p->dst) & mask;
  for (;;) {
    size_t v = im->hash[i];
    if (!v)
      return i;
    const flow_t *f = im->flows[v - 1];
    if (f->family == p->family && ((ep_eq(&f->ep[0], &p->src) && ep_eq(&f->ep[1], &p->dst)) ||
                                   (ep_eq(&f->ep[0], &p->dst) && ep_eq(&f->ep[1], &p->src))))
      return i;
    i = (i + 1) & mask;
  }
}

static int hash_grow(fray_pcap_import_t *im) {
  size_t cap = im->hashcap ? im->hashcap * 2 : HASH_MIN;
  size_t *old = im->hash, oldcap = im->hashcap;
  size_t *n = fray__malloc(&im->mem, cap * sizeof *n);
  if (!n)
    return FRAY_ENOMEM;
  memset(n, 0, cap * sizeof *n);
  im->hash = n;
  im->hashcap = cap;
  for (size_t i = 0; i < oldcap; i++) {
    if (!old[i])
      continue;
    const flow_t *f = im->flows[old[i] - 1];
    size_t j = tuple_hash(f->family, &f->ep[0], &f->ep[1]) & (cap - 1);
    while (n[j])
      j = (j + 1) & (cap - 1);
    n[j] = old[i];
  }
  fray__free(&im->mem, old);
  return 0;
}

static void flow_free(fray_pcap_import_t *im, flow_t *f) {
  if (!f)
    return;
  for (int k = 0; k < 2; k++)
    dir_drop_segs(im, &f->d[k]);
  fray__free(&im->mem, f);
}

/* Creates the flow for packet p. Returns 0 with *fi set, 1 when the flow
 * cannot get a client (skipped, noted), or an error. */
static int flow_new(fray_pcap_import_t *im, const pkt_t *p, size_t slot, size_t *fi) {
  /* Which side is the server: --server-port, else the SYN, else the lower
   * port (the ephemeral port is the client's, usually). */
  int src_is_server;
  unsigned sp = im->opts.server_port;
  int skipped = 0;
  if (sp && p->dst.port == sp && p->src.port != sp)
    src_is_server = 0;
  else if (sp && p->src.port == sp && p->dst.port != sp)
    src_is_server = 1;
  else if ((p->flags & (TH_SYN | TH_ACK)) == TH_SYN)
    src_is_server = 0;
  else if ((p->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
    src_is_server = 1;
  else
    src_is_server = p->src.port < p->dst.port;
  if (sp && p->dst.port != sp && p->src.port != sp)
    skipped = 1;

  if (fray__grow(&im->mem, (void **)&im->flows, &im->capflows, im->nflows + 1, sizeof *im->flows))
    return FRAY_ENOMEM;
  flow_t *f = fray__malloc(&im->mem, sizeof *f);
  if (!f)
    return FRAY_ENOMEM;
  memset(f, 0, sizeof *f);
  f->family = p->family;
  f->ep[0] = src_is_server ? p->dst : p->src;
  f->ep[1] = src_is_server ? p->src : p->dst;
  f->skipped = skipped;
  int rc = 0;
  if (skipped) {
    im->st.flows_skipped++;
  } else {
    size_t idx = 0;
    rc = fray__rec_open(&im->rec, &idx);
    if (rc == FRAY_ERANGE) {
      f->skipped = 1;
      im->st.flows_skipped++;
      note(im, FRAY_PCAP_ERROR, NULL,
           "more than %zu connections open at once: this connection was skipped",
           (size_t)FRAY_SCRIPT_DEFAULT_MAX_CLIENTS);
      rc = 0;
    } else if (rc) {
      fray__free(&im->mem, f);
      return rc;
    } else {
      snprintf(f->name, sizeof f->name, "%s",
               fray_script_client_name(fray__rec_script(&im->rec), idx));
      im->st.flows++;
    }
    f->client = idx;
  }
  im->flows[im->nflows] = f;
  im->hash[slot] = im->nflows + 1;
  *fi = im->nflows++;
  return 0;
}

/* ---- public ------------------------------------------------------------ */

int fray_pcap_import_new(fray_pcap_import_t **out, const fray_pcap_import_opts_t *opts) {
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  fray_mem_t mem;
  fray__mem_init(&mem, opts ? opts->mem : NULL);
  fray_pcap_import_t *im = fray__malloc(&mem, sizeof *im);
  if (!im)
    return FRAY_ENOMEM;
  memset(im, 0, sizeof *im);
  im->mem = mem;
  im->salt = (uint64_t)(uintptr_t)im ^ ((uint64_t)time(NULL) << 20);
  if (opts)
    im->opts = *opts;
  im->opts.mem = NULL;
  if (!im->opts.max_pending)
    im->opts.max_pending = DEFAULT_MAX_PENDING;
  int rc = fray__rec_init(&im->rec, &im->mem, im->opts.max_bytes);
  if (!rc)
    rc = hash_grow(im);
  if (rc) {
    fray_pcap_import_free(im);
    return rc;
  }
  *out = im;
  return 0;
}

int fray_pcap_import_packet(fray_pcap_import_t *im, int linktype, const uint8_t *data,
                            size_t caplen, size_t wirelen) {
  if (!im || (!data && caplen))
    return FRAY_EINVAL;
  if (im->finished || im->fatal)
    return FRAY_ESTATE;
  if (!fray_pcap_linktype_supported(linktype))
    return FRAY_EUNSUPPORTED;
  im->st.packets++;
  if (wirelen < caplen)
    wirelen = caplen;
  pkt_t p;
  memset(&p, 0, sizeof p);
  if (!parse_link(im, linktype, data, caplen, wirelen, &p))
    return 0;
  /* Keep the table at most half full so probes stay short. */
  if ((im->nflows + 1) * 2 > im->hashcap) {
    int rc = hash_grow(im);
    if (rc) {
      im->fatal = 1;
      return rc;
    }
  }
  size_t slot = hash_slot(im, &p);
  size_t fi;
  int rc = 0;
  if (im->hash[slot]) {
    fi = im->hash[slot] - 1;
    flow_t *f = im->flows[fi];
    /* A new SYN on the address pair of a finished connection is a new
     * connection (port reuse). */
    if (f->closed && (p.flags & (TH_SYN | TH_ACK)) == TH_SYN)
      rc = flow_new(im, &p, slot, &fi); /* takes over the slot */
  } else {
    rc = flow_new(im, &p, slot, &fi);
  }
  if (rc) {
    im->fatal = 1;
    return rc;
  }
  flow_t *f = im->flows[fi];
  if (f->skipped)
    return 0;
  if (f->closed) {
    if (p.len)
      note(im, FRAY_PCAP_WARNING, f, "%zu bytes after the connection ended ignored", p.len);
    return 0;
  }
  int dir = ep_eq(&p.src, &f->ep[0]) && ep_eq(&p.dst, &f->ep[1]) ? 0 : 1;
  rc = flow_segment(im, fi, dir, &p);
  if (rc)
    im->fatal = 1;
  return rc;
}

int fray_pcap_import_finish(fray_pcap_import_t *im, fray_script_t **out) {
  if (out)
    *out = NULL;
  if (!im || !out)
    return FRAY_EINVAL;
  if (im->finished || im->fatal)
    return FRAY_ESTATE;
  im->finished = 1;
  int rc = 0;
  for (size_t i = 0; i < im->nflows && !rc; i++) {
    flow_t *f = im->flows[i];
    if (f->skipped || f->closed)
      continue;
    /* A RST still waiting for the bytes before it ends the connection
     * here; the gaps are reported on the way. */
    if (f->d[0].rst_seen || f->d[1].rst_seen) {
      rc = apply_reset(im, f, f->d[0].rst_seen ? 0 : 1);
      continue;
    }
    for (int k = 0; k < 2; k++)
      dir_report_gaps(im, f, k);
    rc = flow_close(im, f, 0);
  }
  fray_script_t *s = rc ? NULL : fray__rec_take(&im->rec);
  if (!s) {
    im->fatal = 1;
    return rc ? rc : FRAY_ENOMEM;
  }
  *out = s;
  return 0;
}

void fray_pcap_import_stats(const fray_pcap_import_t *im, fray_pcap_stats_t *stats) {
  if (!stats)
    return;
  if (!im) {
    memset(stats, 0, sizeof *stats);
    return;
  }
  *stats = im->st;
}

void fray_pcap_import_free(fray_pcap_import_t *im) {
  if (!im)
    return;
  for (size_t i = 0; i < im->nflows; i++)
    flow_free(im, im->flows[i]);
  fray__free(&im->mem, im->flows);
  fray__free(&im->mem, im->hash);
  fray__rec_free(&im->rec);
  fray_mem_t mem = im->mem;
  fray__free(&mem, im);
}
