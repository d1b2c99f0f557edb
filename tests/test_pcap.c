/* Tests for TCP reassembly into scripts (fray/pcap.h). Packets are built
 * here byte by byte (Ethernet, cooked, null/loop, raw; IPv4, IPv6; TCP),
 * fed to the importer, and the resulting script is compared as canonical
 * `.fray` text, so a failure shows the whole session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fray/pcap.h"
#include "fray/script.h"

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

/* ------------------------------------------------------------ packets */

typedef struct tcp_ep {
  int v6;
  uint8_t addr[16];
  uint16_t port;
} tcp_ep_t;

static const tcp_ep_t CLI4 = {0, {127, 0, 0, 1}, 40000};
static const tcp_ep_t SRV4 = {0, {127, 0, 0, 1}, 6379};
static const tcp_ep_t CLI6 = {1, {[15] = 1}, 50000};
static const tcp_ep_t SRV6 = {1, {[15] = 1}, 8080};

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v & 0xffff);
}

/* Writes an IP+TCP packet to out; returns its length. pad adds bytes after
 * the IP packet (Ethernet padding) that must not become payload. */
static size_t ip_tcp(uint8_t *out, const tcp_ep_t *src, const tcp_ep_t *dst, uint32_t seq,
                     uint8_t flags, const char *payload, size_t plen) {
  size_t hl = src->v6 ? 40 : 20;
  uint8_t *t = out + hl;
  memset(out, 0, hl + 20);
  if (src->v6) {
    out[0] = 0x60;
    put16(out + 4, (unsigned)(20 + plen));
    out[6] = 6;
    out[7] = 64;
    memcpy(out + 8, src->addr, 16);
    memcpy(out + 24, dst->addr, 16);
  } else {
    out[0] = 0x45;
    put16(out + 2, (unsigned)(20 + 20 + plen));
    out[8] = 64;
    out[9] = 6;
    memcpy(out + 12, src->addr, 4);
    memcpy(out + 16, dst->addr, 4);
  }
  put16(t, src->port);
  put16(t + 2, dst->port);
  put32(t + 4, seq);
  put32(t + 8, 0);
  t[12] = 5 << 4;
  t[13] = flags;
  put16(t + 14, 65535);
  if (plen)
    memcpy(t + 20, payload, plen);
  return hl + 20 + plen;
}

typedef struct fixture {
  fray_pcap_import_t *im;
  int linktype;
  char notes[4096];
  size_t notes_len;
  unsigned errors, warnings;
} fixture_t;

static void on_note(const fray_pcap_note_t *n, void *user_data) {
  fixture_t *f = user_data;
  if (n->level == FRAY_PCAP_ERROR)
    f->errors++;
  else
    f->warnings++;
  int w = snprintf(f->notes + f->notes_len, sizeof f->notes - f->notes_len, "%s#%llu %s: %s\n",
                   n->level == FRAY_PCAP_ERROR ? "E" : "W", (unsigned long long)n->packet,
                   n->client ? n->client : "-", n->message);
  if (w > 0 && (size_t)w < sizeof f->notes - f->notes_len)
    f->notes_len += (size_t)w;
}

static void fx_init(fixture_t *f, int linktype, unsigned server_port) {
  memset(f, 0, sizeof *f);
  f->linktype = linktype;
  fray_pcap_import_opts_t o = {.server_port = server_port, .note_cb = on_note, .user_data = f};
  assert_int_equal(fray_pcap_import_new(&f->im, &o), 0);
}

/* Wraps an IP packet in the fixture's link layer and feeds it. */
static void feed_ip(fixture_t *f, const uint8_t *ip, size_t iplen, size_t pad, size_t snap) {
  uint8_t frame[4096];
  size_t off = 0;
  int v6 = (ip[0] >> 4) == 6;
  switch (f->linktype) {
  case FRAY_LINKTYPE_ETHERNET:
    memset(frame, 0, 12);
    put16(frame + 12, v6 ? 0x86dd : 0x0800);
    off = 14;
    break;
  case FRAY_LINKTYPE_LINUX_SLL:
    memset(frame, 0, 14);
    put16(frame + 14, v6 ? 0x86dd : 0x0800);
    off = 16;
    break;
  case FRAY_LINKTYPE_LINUX_SLL2:
    memset(frame, 0, 20);
    put16(frame, v6 ? 0x86dd : 0x0800);
    off = 20;
    break;
  case FRAY_LINKTYPE_NULL: /* little-endian host */
    frame[0] = v6 ? 10 : 2;
    frame[1] = frame[2] = frame[3] = 0;
    off = 4;
    break;
  case FRAY_LINKTYPE_LOOP:
    put32(frame, v6 ? 24 : 2);
    off = 4;
    break;
  default:
    break;
  }
  memcpy(frame + off, ip, iplen);
  memset(frame + off + iplen, 0xee, pad);
  size_t len = off + iplen + pad;
  size_t cap = snap && snap < len ? snap : len;
  assert_int_equal(fray_pcap_import_packet(f->im, f->linktype, frame, cap, len), 0);
}

static void seg(fixture_t *f, const tcp_ep_t *src, const tcp_ep_t *dst, uint32_t seq, uint8_t flags,
                const char *payload) {
  uint8_t ip[2048];
  size_t plen = payload ? strlen(payload) : 0;
  feed_ip(f, ip, ip_tcp(ip, src, dst, seq, flags, payload, plen), 0, 0);
}

/* Finishes the import and returns the script's canonical text (caller
 * frees). */
static char *fx_finish(fixture_t *f) {
  fray_script_t *s;
  assert_int_equal(fray_pcap_import_finish(f->im, &s), 0);
  char *text;
  size_t len;
  assert_int_equal(fray_script_write_mem(s, &text, &len), 0);
  char *copy = malloc(len + 1);
  assert_non_null(copy);
  memcpy(copy, text, len + 1);
  fray_script_text_free(s, text);
  /* What the importer writes must parse back to the same script. */
  fray_script_t *back;
  assert_int_equal(fray_script_parse(&back, copy, len, "import", NULL, NULL), 0);
  assert_true(fray_script_equal(s, back));
  fray_script_free(back);
  fray_script_free(s);
  return copy;
}

static void fx_done(fixture_t *f) {
  fray_pcap_import_free(f->im);
}

static void expect_script(fixture_t *f, const char *want) {
  char *got = fx_finish(f);
  if (strcmp(got, want)) {
    print_error("got:\n%s\nwant:\n%s\nnotes:\n%s", got, want, f->notes);
    free(got);
    fail();
  }
  free(got);
}

/* The three-way handshake; client ISN ci, server ISN si. */
static void handshake(fixture_t *f, const tcp_ep_t *c, const tcp_ep_t *s, uint32_t ci,
                      uint32_t si) {
  seg(f, c, s, ci, SYN, NULL);
  seg(f, s, c, si, SYN | ACK, NULL);
  seg(f, c, s, ci + 1, ACK, NULL);
}

/* ------------------------------------------------------------ tests */

static const char BASIC[] = "open c1\n"
                            "c1 > \"PING\\r\\n\"\n"
                            "c1 < \"+PONG\\r\\n\"\n"
                            "c1 > \"QUIT\\r\\n\"\n"
                            "c1 < \"+OK\\r\\n\"\n"
                            "c1 < eof\n"
                            "close c1\n";

/* A whole session in order; the client FIN comes after the server's. */
static void basic_session(fixture_t *f, const tcp_ep_t *c, const tcp_ep_t *s) {
  handshake(f, c, s, 1000, 5000);
  seg(f, c, s, 1001, PSH | ACK, "PING\r\n");
  seg(f, s, c, 5001, PSH | ACK, "+PONG\r\n");
  seg(f, c, s, 1007, PSH | ACK, "QUIT\r\n");
  seg(f, s, c, 5008, PSH | ACK, "+OK\r\n");
  seg(f, s, c, 5013, FIN | ACK, NULL);
  seg(f, c, s, 1013, FIN | ACK, NULL);
  seg(f, s, c, 5014, ACK, NULL);
}

static void test_pcap_link_types(void **state) {
  (void)state;
  static const int lts[] = {FRAY_LINKTYPE_ETHERNET,   FRAY_LINKTYPE_LINUX_SLL,
                            FRAY_LINKTYPE_LINUX_SLL2, FRAY_LINKTYPE_NULL,
                            FRAY_LINKTYPE_LOOP,       FRAY_LINKTYPE_RAW};
  for (size_t i = 0; i < sizeof lts / sizeof lts[0]; i++) {
    for (int v6 = 0; v6 < 2; v6++) {
      fixture_t f;
      fx_init(&f, lts[i], 0);
      basic_session(&f, v6 ? &CLI6 : &CLI4, v6 ? &SRV6 : &SRV4);
      expect_script(&f, BASIC);
      fray_pcap_stats_t st;
      fray_pcap_import_stats(f.im, &st);
      assert_int_equal(st.flows, 1);
      assert_int_equal(st.tcp_packets, 10);
      assert_int_equal(st.bytes_to_server, 12);
      assert_int_equal(st.bytes_to_client, 12);
      assert_int_equal(f.errors + f.warnings, 0);
      fx_done(&f);
    }
  }
  /* Raw IPv4 and IPv6 link types. */
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_IPV4, 0);
  basic_session(&f, &CLI4, &SRV4);
  expect_script(&f, BASIC);
  fx_done(&f);
  fx_init(&f, FRAY_LINKTYPE_IPV6, 0);
  basic_session(&f, &CLI6, &SRV6);
  expect_script(&f, BASIC);
  fx_done(&f);
}

static void test_pcap_null_big_endian_and_vlan(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_NULL, 0);
  uint8_t frame[256], ip[128];
  size_t n = ip_tcp(ip, &CLI4, &SRV4, 7, SYN, NULL, 0);
  put32(frame, 2); /* AF_INET written by a big-endian host */
  memcpy(frame + 4, ip, n);
  assert_int_equal(fray_pcap_import_packet(f.im, FRAY_LINKTYPE_NULL, frame, n + 4, n + 4), 0);
  n = ip_tcp(ip, &CLI4, &SRV4, 8, ACK, "hi\n", 3);
  memcpy(frame + 4, ip, n);
  assert_int_equal(fray_pcap_import_packet(f.im, FRAY_LINKTYPE_NULL, frame, n + 4, n + 4), 0);
  expect_script(&f, "open c1\nc1 > \"hi\\n\"\nclose c1\n");
  fx_done(&f);

  /* 802.1Q and 802.1ad tags before the IP header. */
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  n = ip_tcp(ip, &CLI4, &SRV4, 7, SYN, NULL, 0);
  memset(frame, 0, 12);
  put16(frame + 12, 0x88a8);
  put16(frame + 16, 0x8100);
  put16(frame + 20, 0x0800);
  memcpy(frame + 22, ip, n);
  assert_int_equal(fray_pcap_import_packet(f.im, FRAY_LINKTYPE_ETHERNET, frame, n + 22, n + 22), 0);
  n = ip_tcp(ip, &CLI4, &SRV4, 8, ACK, "tagged", 6);
  memcpy(frame + 22, ip, n);
  assert_int_equal(fray_pcap_import_packet(f.im, FRAY_LINKTYPE_ETHERNET, frame, n + 22, n + 22), 0);
  expect_script(&f, "open c1\nc1 > \"tagged\"\nclose c1\n");
  fx_done(&f);
}

static void test_pcap_out_of_order(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 100, 900);
  /* "abcdefghi" in three segments arriving 3, 1, 2. */
  seg(&f, &CLI4, &SRV4, 107, ACK, "ghi");
  seg(&f, &CLI4, &SRV4, 101, ACK, "abc");
  seg(&f, &CLI4, &SRV4, 104, ACK, "def");
  seg(&f, &SRV4, &CLI4, 901, ACK, "ok\n");
  expect_script(&f, "open c1\nc1 > \"abcdefghi\"\nc1 < \"ok\\n\"\nclose c1\n");
  fray_pcap_stats_t st;
  fray_pcap_import_stats(f.im, &st);
  assert_int_equal(st.out_of_order, 1);
  assert_int_equal(st.bytes_lost, 0);
  assert_int_equal(f.errors, 0);
  fx_done(&f);
}

static void test_pcap_retransmit_and_overlap(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 0, 0);
  seg(&f, &CLI4, &SRV4, 1, ACK, "hello ");
  seg(&f, &CLI4, &SRV4, 1, ACK, "hello ");   /* retransmission */
  seg(&f, &CLI4, &SRV4, 4, ACK, "lo world"); /* overlaps "lo " */
  seg(&f, &CLI4, &SRV4, 14, ACK, "xyz");     /* out of order ... */
  seg(&f, &CLI4, &SRV4, 13, ACK, "!xy");     /* ... and overlapping it */
  seg(&f, &CLI4, &SRV4, 11, ACK, "d!");      /* partly old, fills the gap */
  expect_script(&f, "open c1\nc1 > \"hello world!!xyz\"\nclose c1\n");
  fray_pcap_stats_t st;
  fray_pcap_import_stats(f.im, &st);
  assert_int_equal(st.retransmitted, 1);
  assert_true(st.overlapping >= 2);
  assert_int_equal(st.bytes_to_server, 16);
  assert_int_equal(f.errors, 0);
  fx_done(&f);
}

static void test_pcap_both_directions_interleaved(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 10, 20);
  seg(&f, &CLI4, &SRV4, 11, ACK, "A1");
  seg(&f, &CLI4, &SRV4, 13, ACK, "A2"); /* merged with A1: one send */
  seg(&f, &SRV4, &CLI4, 21, ACK, "B1");
  seg(&f, &CLI4, &SRV4, 17, ACK, "A4"); /* waits for A3 */
  seg(&f, &SRV4, &CLI4, 23, ACK, "B2");
  seg(&f, &CLI4, &SRV4, 15, ACK, "A3");
  expect_script(&f, "open c1\nc1 > \"A1A2\"\nc1 < \"B1B2\"\nc1 > \"A3A4\"\nclose c1\n");
  fx_done(&f);
}

static void test_pcap_fin_out_of_order_and_half_close(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 0, 0);
  /* The client's FIN overtakes its last data: the FIN waits for it. */
  seg(&f, &CLI4, &SRV4, 4, FIN | ACK, NULL);
  seg(&f, &CLI4, &SRV4, 1, ACK, "abc");
  seg(&f, &SRV4, &CLI4, 1, ACK, "late");
  seg(&f, &SRV4, &CLI4, 5, FIN | ACK, NULL);
  expect_script(&f, "open c1\nc1 > \"abc\"\nc1 > eof\nc1 < \"late\"\nc1 < eof\nclose c1\n");
  assert_int_equal(f.errors + f.warnings, 0);
  fx_done(&f);
}

static void test_pcap_reset(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 0, 0);
  seg(&f, &CLI4, &SRV4, 1, ACK, "x");
  seg(&f, &CLI4, &SRV4, 2, RST, NULL);
  seg(&f, &SRV4, &CLI4, 1, ACK, "dropped"); /* crossed the RST */
  /* The server resets the next connection. */
  tcp_ep_t c2 = CLI4;
  c2.port = 40001;
  handshake(&f, &c2, &SRV4, 0, 0);
  seg(&f, &c2, &SRV4, 1, ACK, "y");
  seg(&f, &SRV4, &c2, 1, RST | ACK, NULL);
  expect_script(&f, "open c1\nc1 > \"x\"\nreset c1\nopen c2\nc2 > \"y\"\nc2 < eof\nclose c2\n");
  fray_pcap_stats_t st;
  fray_pcap_import_stats(f.im, &st);
  assert_int_equal(st.flows, 2);
  fx_done(&f);
}

static void test_pcap_sequence_wraps(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_RAW, 0);
  handshake(&f, &CLI4, &SRV4, 0xfffffffcu, 0xffffffffu);
  seg(&f, &CLI4, &SRV4, 0xfffffffdu, ACK, "abcd"); /* wraps after "abc" */
  seg(&f, &CLI4, &SRV4, 1, ACK, "ef");
  seg(&f, &SRV4, &CLI4, 0, ACK, "ok");
  expect_script(&f, "open c1\nc1 > \"abcdef\"\nc1 < \"ok\"\nclose c1\n");
  assert_int_equal(f.errors + f.warnings, 0);
  fx_done(&f);
}

static void test_pcap_server_side(void **state) {
  (void)state;
  fixture_t f;
  /* No SYN: the lower port is the server's. The client's port is 40000,
   * so the first packet, from 6379, is the server's. */
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  seg(&f, &SRV4, &CLI4, 500, ACK, "banner\n");
  seg(&f, &CLI4, &SRV4, 100, ACK, "hi\n");
  expect_script(&f, "open c1\nc1 < \"banner\\n\"\nc1 > \"hi\\n\"\nclose c1\n");
  assert_int_equal(f.errors, 0);
  assert_int_equal(f.warnings, 2); /* both streams start mid-connection */
  fx_done(&f);

  /* --server-port wins over the lower port, and flows on other ports are
   * skipped. */
  tcp_ep_t hi = {0, {127, 0, 0, 1}, 60000}, lo = {0, {127, 0, 0, 1}, 1000};
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 60000);
  seg(&f, &lo, &hi, 1, ACK, "to-server");
  seg(&f, &CLI4, &SRV4, 1, ACK, "other");
  expect_script(&f, "open c1\nc1 > \"to-server\"\nclose c1\n");
  fray_pcap_stats_t st;
  fray_pcap_import_stats(f.im, &st);
  assert_int_equal(st.flows_skipped, 1);
  fx_done(&f);

  /* The SYN's destination is the server even on the higher port. */
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &lo, &hi, 0, 0);
  seg(&f, &lo, &hi, 1, ACK, "q");
  expect_script(&f, "open c1\nc1 > \"q\"\nclose c1\n");
  fx_done(&f);
}

static void test_pcap_gap_is_an_error(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 0, 0);
  seg(&f, &CLI4, &SRV4, 1, ACK, "kept");
  seg(&f, &CLI4, &SRV4, 10, ACK, "after-gap"); /* bytes 5..9 never captured */
  expect_script(&f, "open c1\nc1 > \"kept\"\nclose c1\n");
  assert_int_equal(f.errors, 1);
  assert_non_null(strstr(f.notes, "5 bytes missing from the capture at stream offset 4"));
  fray_pcap_stats_t st;
  fray_pcap_import_stats(f.im, &st);
  assert_int_equal(st.bytes_lost, 9);
  fx_done(&f);
}

static void test_pcap_skips_and_truncation(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  /* ARP, UDP, a fragment and a cut header are skipped and counted. */
  uint8_t frame[256] = {0};
  put16(frame + 12, 0x0806);
  assert_int_equal(fray_pcap_import_packet(f.im, FRAY_LINKTYPE_ETHERNET, frame, 42, 42), 0);
  uint8_t ip[256];
  ip_tcp(ip, &CLI4, &SRV4, 0, ACK, "u", 1);
  ip[9] = 17;
  feed_ip(&f, ip, 41, 0, 0);
  ip_tcp(ip, &CLI4, &SRV4, 0, ACK, "f", 1);
  put16(ip + 6, 0x2000); /* more fragments */
  feed_ip(&f, ip, 41, 0, 0);
  feed_ip(&f, ip, 10, 0, 0);
  assert_int_equal(fray_pcap_import_packet(f.im, FRAY_LINKTYPE_ETHERNET, frame, 5, 60), 0);
  /* Ethernet padding after a short packet is not payload. */
  handshake(&f, &CLI4, &SRV4, 0, 0);
  size_t n = ip_tcp(ip, &CLI4, &SRV4, 1, ACK, "ab", 2);
  feed_ip(&f, ip, n, 10, 0);
  /* A segment cut by the snaplen: its first bytes are kept, an error is
   * noted, and the bytes after it cannot be placed. */
  n = ip_tcp(ip, &CLI4, &SRV4, 3, ACK, "0123456789", 10);
  feed_ip(&f, ip, n, 0, 14 + 40 + 4);
  seg(&f, &CLI4, &SRV4, 13, ACK, "tail");
  expect_script(&f, "open c1\nc1 > \"ab0123\"\nclose c1\n");
  fray_pcap_stats_t st;
  fray_pcap_import_stats(f.im, &st);
  assert_int_equal(st.non_ip, 1);
  assert_int_equal(st.non_tcp, 1);
  assert_int_equal(st.fragments, 1);
  assert_int_equal(st.malformed, 2);
  assert_int_equal(st.truncated, 1);
  /* The TCP fragment (its bytes are lost), the truncation, the gap it
   * leaves: 6 bytes the capture lacks. */
  assert_int_equal(f.errors, 3);
  assert_int_equal(st.bytes_missing, 6);
  assert_int_equal(st.bytes_lost, 4);
  fx_done(&f);
}

/* Each loss of the robustness audit: an error note, and the bytes counted
 * (bytes_missing: never captured; bytes_lost: captured, not placed). */
static void test_pcap_gap_before_fin_is_a_loss(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 1000, 5000);
  seg(&f, &CLI4, &SRV4, 1001, PSH | ACK, "first\n");
  /* "LOST-SEGMENT\n" (13 bytes) was never captured; then the FIN. */
  seg(&f, &CLI4, &SRV4, 1020, FIN | ACK, NULL);
  seg(&f, &SRV4, &CLI4, 5001, PSH | ACK, "bye\n");
  seg(&f, &SRV4, &CLI4, 5005, FIN | ACK, NULL);
  expect_script(&f, "open c1\nc1 > \"first\\n\"\nc1 < \"bye\\n\"\nc1 < eof\nclose c1\n");
  fray_pcap_stats_t st;
  fray_pcap_import_stats(f.im, &st);
  assert_int_equal(f.errors, 1);
  assert_non_null(strstr(f.notes, "13 bytes missing from the capture at stream offset 6"));
  assert_non_null(strstr(f.notes, "half-close after them is lost"));
  assert_int_equal(st.bytes_missing, 13);
  fx_done(&f);
}

static void test_pcap_tcp_fragment_is_a_loss(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 0, 0);
  uint8_t ip[256];
  size_t n = ip_tcp(ip, &CLI4, &SRV4, 1, ACK, "frag", 4);
  put16(ip + 6, 0x2000); /* more fragments follow */
  feed_ip(&f, ip, n, 0, 0);
  seg(&f, &CLI4, &SRV4, 5, FIN | ACK, NULL);
  expect_script(&f, "open c1\nclose c1\n");
  fray_pcap_stats_t st;
  fray_pcap_import_stats(f.im, &st);
  assert_int_equal(st.fragments, 1);
  assert_int_equal(f.errors, 2); /* the fragment, the gap before the FIN */
  assert_non_null(strstr(f.notes, "IP fragment of a TCP segment skipped"));
  assert_int_equal(st.bytes_missing, 4);
  fx_done(&f);
}

static void test_pcap_rst_out_of_window_is_ignored(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 1000, 5000);
  seg(&f, &CLI4, &SRV4, 1001, PSH | ACK, "first\n");
  seg(&f, &CLI4, &SRV4, 1007u + 0x40000000u, RST | ACK, NULL); /* blind, far away */
  seg(&f, &CLI4, &SRV4, 1007, PSH | ACK, "second\n");
  seg(&f, &SRV4, &CLI4, 5001, PSH | ACK, "answer\n");
  seg(&f, &CLI4, &SRV4, 1014, FIN | ACK, NULL);
  seg(&f, &SRV4, &CLI4, 5008, FIN | ACK, NULL);
  expect_script(&f, "open c1\nc1 > \"first\\nsecond\\n\"\nc1 < \"answer\\n\"\nc1 > eof\n"
                    "c1 < eof\nclose c1\n");
  assert_int_equal(f.errors, 0);
  assert_int_equal(f.warnings, 1);
  assert_non_null(strstr(f.notes, "outside the window"));
  fx_done(&f);
}

static void test_pcap_rst_before_its_data(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 1000, 5000);
  seg(&f, &CLI4, &SRV4, 1012, RST | ACK, NULL); /* captured before the data it follows */
  seg(&f, &CLI4, &SRV4, 1001, PSH | ACK, "before-rst\n");
  seg(&f, &SRV4, &CLI4, 5001, PSH | ACK, "late"); /* crossed the RST */
  expect_script(&f, "open c1\nc1 > \"before-rst\\n\"\nreset c1\n");
  if (f.errors)
    print_error("%s", f.notes);
  assert_int_equal(f.errors, 0);
  fx_done(&f);

  /* The data never comes: the reset ends the connection at the end, and
   * the bytes before it are counted missing. */
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 1000, 5000);
  seg(&f, &CLI4, &SRV4, 1001, PSH | ACK, "a");
  seg(&f, &CLI4, &SRV4, 1012, RST | ACK, NULL);
  expect_script(&f, "open c1\nc1 > \"a\"\nreset c1\n");
  fray_pcap_stats_t st;
  fray_pcap_import_stats(f.im, &st);
  assert_int_equal(f.errors, 1);
  assert_int_equal(st.bytes_missing, 10);
  fx_done(&f);

  /* A RST after the server's FIN takes the sequence number after it. */
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 0, 0);
  seg(&f, &SRV4, &CLI4, 1, FIN | ACK, NULL);
  seg(&f, &CLI4, &SRV4, 1, PSH | ACK, "more");
  seg(&f, &SRV4, &CLI4, 2, RST, NULL);
  expect_script(&f, "open c1\nc1 < eof\nc1 > \"more\"\nclose c1\n");
  assert_int_equal(f.errors + f.warnings, 0);
  fx_done(&f);
}

/* Of two different copies of the same bytes the first captured wins,
 * whichever copy reaches the front of the stream first. */
static void test_pcap_overlap_first_captured_wins(void **state) {
  (void)state;
  fixture_t f;
  /* Held "AAAAAAAA" at 10..18, then "BBBBBBBBBB" at 5..15, then 0..5. */
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 0, 0);
  seg(&f, &CLI4, &SRV4, 11, ACK, "AAAAAAAA");
  seg(&f, &CLI4, &SRV4, 6, ACK, "BBBBBBBBBB");
  seg(&f, &CLI4, &SRV4, 1, ACK, "01234");
  expect_script(&f, "open c1\nc1 > \"01234BBBBBAAAAAAAA\"\nclose c1\n");
  fx_done(&f);
  /* Held "AAAA" at 4..8, then "cccccccc" at 0..8 in order. */
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 0, 0);
  seg(&f, &CLI4, &SRV4, 5, ACK, "AAAA");
  seg(&f, &CLI4, &SRV4, 1, ACK, "cccccccc");
  expect_script(&f, "open c1\nc1 > \"ccccAAAA\"\nclose c1\n");
  fx_done(&f);
  /* A late copy spanning several held segments fills only the holes. */
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  handshake(&f, &CLI4, &SRV4, 0, 0);
  seg(&f, &CLI4, &SRV4, 4, ACK, "a");
  seg(&f, &CLI4, &SRV4, 7, ACK, "bb");
  seg(&f, &CLI4, &SRV4, 12, ACK, "c");
  seg(&f, &CLI4, &SRV4, 3, ACK, "xxxxxxxxxxxx");
  seg(&f, &CLI4, &SRV4, 1, ACK, "yy");
  expect_script(&f, "open c1\nc1 > \"yyxaxxbbxxxcxx\"\nclose c1\n");
  assert_int_equal(f.errors, 0);
  fx_done(&f);
}

/* 100,000 one-byte segments in reverse order behind a gap: with insertion
 * into a sorted array this took about 9 s (quadratic); it must stay far
 * below. */
static void test_pcap_reverse_order_is_not_quadratic(void **state) {
  (void)state;
  enum { N = 100000 };
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_RAW, 0);
  handshake(&f, &CLI4, &SRV4, 0, 0);
  clock_t t0 = clock();
  char b[2] = "x";
  for (uint32_t i = N - 1; i >= 1; i--) {
    b[0] = (char)('A' + i % 26);
    seg(&f, &CLI4, &SRV4, 1 + i, ACK, b);
  }
  seg(&f, &CLI4, &SRV4, 1, ACK, "A");
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  fray_pcap_stats_t st;
  fray_pcap_import_stats(f.im, &st);
  assert_int_equal(st.bytes_to_server, N);
  assert_int_equal(st.bytes_lost, 0);
  assert_int_equal(f.errors, 0);
  fx_done(&f);
  if (secs >= 2.0) {
    print_error("%d reversed segments took %.2f s of CPU\n", N, secs);
    fail();
  }
}

static void test_pcap_port_reuse_and_many_flows(void **state) {
  (void)state;
  fixture_t f;
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  for (int round = 0; round < 2; round++) {
    handshake(&f, &CLI4, &SRV4, 1000u * (unsigned)round, 0);
    seg(&f, &CLI4, &SRV4, 1000u * (unsigned)round + 1, ACK, round ? "second" : "first");
    seg(&f, &CLI4, &SRV4, 1000u * (unsigned)round + (round ? 7 : 6), FIN | ACK, NULL);
    seg(&f, &SRV4, &CLI4, 1, FIN | ACK, NULL);
  }
  expect_script(&f, "open c1\nc1 > \"first\"\nc1 > eof\nc1 < eof\nclose c1\n"
                    "open c2\nc2 > \"second\"\nc2 > eof\nc2 < eof\nclose c2\n");
  fx_done(&f);

  /* More connections than script client names: ended ones give theirs
   * back, so 3000 sequential connections fit. */
  fx_init(&f, FRAY_LINKTYPE_ETHERNET, 0);
  for (unsigned i = 0; i < 3000; i++) {
    tcp_ep_t c = CLI4;
    c.port = (uint16_t)(20000 + i);
    handshake(&f, &c, &SRV4, 0, 0);
    seg(&f, &c, &SRV4, 1, ACK, "m");
    seg(&f, &c, &SRV4, 2, RST, NULL);
  }
  fray_script_t *s;
  assert_int_equal(fray_pcap_import_finish(f.im, &s), 0);
  size_t nsteps;
  fray_script_steps(s, &nsteps);
  assert_int_equal(nsteps, 3 * 3000);
  assert_true(fray_script_nclients(s) <= FRAY_SCRIPT_DEFAULT_MAX_CLIENTS);
  fray_script_free(s);
  assert_int_equal(f.errors, 0);
  fx_done(&f);
}

static void test_pcap_bad_calls(void **state) {
  (void)state;
  fray_pcap_import_t *im;
  assert_int_equal(fray_pcap_import_new(NULL, NULL), FRAY_EINVAL);
  assert_int_equal(fray_pcap_import_new(&im, NULL), 0);
  uint8_t b[4] = {0};
  assert_int_equal(fray_pcap_import_packet(im, 147, b, 4, 4), FRAY_EUNSUPPORTED);
  assert_int_equal(fray_pcap_import_packet(im, FRAY_LINKTYPE_RAW, NULL, 4, 4), FRAY_EINVAL);
  assert_int_equal(fray_pcap_import_packet(NULL, FRAY_LINKTYPE_RAW, b, 4, 4), FRAY_EINVAL);
  assert_int_equal(fray_pcap_linktype_supported(147), 0);
  assert_int_equal(fray_pcap_linktype_supported(FRAY_LINKTYPE_LINUX_SLL2), 1);
  fray_script_t *s;
  assert_int_equal(fray_pcap_import_finish(im, &s), 0);
  size_t n;
  fray_script_steps(s, &n);
  assert_int_equal(n, 0);
  fray_script_free(s);
  assert_int_equal(fray_pcap_import_finish(im, &s), FRAY_ESTATE);
  assert_null(s);
  assert_int_equal(fray_pcap_import_packet(im, FRAY_LINKTYPE_RAW, b, 4, 4), FRAY_ESTATE);
  fray_pcap_import_free(im);
  fray_pcap_import_free(NULL);
}

/* Fail-malloc: fail the 1st, 2nd, ... allocation of a whole import; each
 * run must fail cleanly (ENOMEM), and the sanitizers catch any leak. */
typedef struct failmem {
  long countdown; /* allocations left before failing; <0: never fail */
  long calls;
} failmem_t;

static void *fm_malloc(size_t n, void *ud) {
  failmem_t *m = ud;
  m->calls++;
  if (m->countdown == 0)
    return NULL;
  if (m->countdown > 0)
    m->countdown--;
  return malloc(n);
}
static void *fm_realloc(void *p, size_t n, void *ud) {
  failmem_t *m = ud;
  m->calls++;
  if (m->countdown == 0)
    return NULL;
  if (m->countdown > 0)
    m->countdown--;
  return realloc(p, n);
}
static void fm_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static int import_with(failmem_t *fm) {
  fray_mem_t mem = {fm_malloc, fm_realloc, fm_free, fm};
  fray_pcap_import_opts_t o = {.mem = &mem};
  fixture_t f;
  memset(&f, 0, sizeof f);
  f.linktype = FRAY_LINKTYPE_RAW;
  int rc = fray_pcap_import_new(&f.im, &o);
  if (rc)
    return rc;
  uint8_t ip[256];
  const struct {
    const tcp_ep_t *s, *d;
    uint32_t seq;
    uint8_t fl;
    const char *p;
  } pk[] = {{&CLI4, &SRV4, 0, SYN, NULL},      {&SRV4, &CLI4, 0, SYN | ACK, NULL},
            {&CLI4, &SRV4, 4, ACK, "def"},     {&CLI4, &SRV4, 1, ACK, "abc"},
            {&SRV4, &CLI4, 1, ACK, "xyz"},     {&CLI4, &SRV4, 7, FIN | ACK, NULL},
            {&SRV4, &CLI4, 4, FIN | ACK, NULL}};
  for (size_t i = 0; i < sizeof pk / sizeof pk[0] && !rc; i++) {
    size_t n = ip_tcp(ip, pk[i].s, pk[i].d, pk[i].seq, pk[i].fl, pk[i].p, pk[i].p ? 3 : 0);
    rc = fray_pcap_import_packet(f.im, FRAY_LINKTYPE_RAW, ip, n, n);
  }
  fray_script_t *s = NULL;
  if (!rc)
    rc = fray_pcap_import_finish(f.im, &s);
  if (!rc) {
    /* Allocations whose failure is tolerated (reusing names) must not
     * change the script. */
    char *text;
    fm->countdown = -1;
    assert_int_equal(fray_script_write_mem(s, &text, NULL), 0);
    assert_string_equal(text, "open c1\nc1 > \"abcdef\"\nc1 < \"xyz\"\nc1 > eof\nc1 < eof\n"
                              "close c1\n");
    fray_script_text_free(s, text);
  }
  fray_script_free(s);
  fray_pcap_import_free(f.im);
  return rc;
}

static void test_pcap_fail_malloc(void **state) {
  (void)state;
  failmem_t fm = {.countdown = -1};
  assert_int_equal(import_with(&fm), 0);
  long total = fm.calls;
  assert_true(total > 3);
  long failed = 0;
  for (long i = 0; i < total; i++) {
    fm = (failmem_t){.countdown = i};
    int rc = import_with(&fm);
    if (rc != 0)
      assert_int_equal(rc, FRAY_ENOMEM);
    failed += rc != 0;
  }
  assert_true(failed >= total - 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pcap_link_types),
      cmocka_unit_test(test_pcap_null_big_endian_and_vlan),
      cmocka_unit_test(test_pcap_out_of_order),
      cmocka_unit_test(test_pcap_retransmit_and_overlap),
      cmocka_unit_test(test_pcap_both_directions_interleaved),
      cmocka_unit_test(test_pcap_fin_out_of_order_and_half_close),
      cmocka_unit_test(test_pcap_reset),
      cmocka_unit_test(test_pcap_sequence_wraps),
      cmocka_unit_test(test_pcap_server_side),
      cmocka_unit_test(test_pcap_gap_is_an_error),
      cmocka_unit_test(test_pcap_skips_and_truncation),
      cmocka_unit_test(test_pcap_gap_before_fin_is_a_loss),
      cmocka_unit_test(test_pcap_tcp_fragment_is_a_loss),
      cmocka_unit_test(test_pcap_rst_out_of_window_is_ignored),
      cmocka_unit_test(test_pcap_rst_before_its_data),
      cmocka_unit_test(test_pcap_overlap_first_captured_wins),
      cmocka_unit_test(test_pcap_reverse_order_is_not_quadratic),
      cmocka_unit_test(test_pcap_port_reuse_and_many_flows),
      cmocka_unit_test(test_pcap_bad_calls),
      cmocka_unit_test(test_pcap_fail_malloc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
