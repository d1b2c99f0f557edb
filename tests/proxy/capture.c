/* capture: records loopback traffic into a pcap file with libpcap's own API,
 * for the capture-and-import test (no tcpdump needed).
 *
 *   capture IFACE FILTER OUT.pcap MAX_SECONDS
 *
 * Prints "capturing" on stdout once the capture is live, then writes every
 * matching packet until SIGTERM/SIGINT or MAX_SECONDS. Exits 77 (ctest's
 * skip code) when capturing is impossible here (no permission: capturing
 * needs root or CAP_NET_RAW; no such interface), 2 on other errors. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <pcap/pcap.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: capture IFACE FILTER OUT.pcap MAX_SECONDS\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_create(argv[1], err);
  if (!p) {
    printf("SKIP: cannot capture on %s: %s\n", argv[1], err);
    return 77;
  }
  pcap_set_snaplen(p, 262144); /* lo's MTU is 65536: keep whole packets */
  pcap_set_timeout(p, 50);
  pcap_set_immediate_mode(p, 1);
  pcap_set_buffer_size(p, 16 << 20);
  int rc = pcap_activate(p);
  if (rc < 0) {
    printf("SKIP: cannot capture on %s: %s (capturing needs root or CAP_NET_RAW)\n", argv[1],
           pcap_geterr(p));
    pcap_close(p);
    return 77;
  }
  struct bpf_program prog;
  if (pcap_compile(p, &prog, argv[2], 1, PCAP_NETMASK_UNKNOWN) < 0 ||
      pcap_setfilter(p, &prog) < 0) {
    fprintf(stderr, "capture: filter '%s': %s\n", argv[2], pcap_geterr(p));
    pcap_close(p);
    return 2;
  }
  pcap_freecode(&prog);
  pcap_dumper_t *d = pcap_dump_open(p, argv[3]);
  if (!d) {
    fprintf(stderr, "capture: %s: %s\n", argv[3], pcap_geterr(p));
    pcap_close(p);
    return 2;
  }
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  printf("capturing\n");
  fflush(stdout);
  /* Non-blocking reads behind poll() with a short timeout, so SIGTERM and
   * the time limit are noticed within 100 ms whatever libpcap's own
   * blocking behaviour in immediate mode. */
  if (pcap_setnonblock(p, 1, err) < 0) {
    fprintf(stderr, "capture: %s\n", err);
    return 2;
  }
  struct pollfd pfd = {.fd = pcap_get_selectable_fd(p), .events = POLLIN};
  time_t end = time(NULL) + atol(argv[4]);
  long n = 0;
  while (!stop && time(NULL) < end) {
    if (poll(&pfd, 1, 100) <= 0)
      continue;
    int r = pcap_dispatch(p, -1, pcap_dump, (u_char *)d);
    if (r < 0 && r != PCAP_ERROR_BREAK) {
      fprintf(stderr, "capture: %s\n", pcap_geterr(p));
      break;
    }
    if (r > 0)
      n += r;
  }
  /* Whatever the kernel still holds. */
  int r = pcap_dispatch(p, -1, pcap_dump, (u_char *)d);
  if (r > 0)
    n += r;
  pcap_dump_close(d);
  pcap_close(p);
  fprintf(stderr, "capture: %ld packets\n", n);
  return 0;
}
