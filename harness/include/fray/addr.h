/* fray/addr.h: the one reader of "HOST:PORT" text. Every fray API and
 * command that takes an address (fray_net_new(), fray_event_server_new(),
 * `fray replay --connect`, `fray serve --listen`, `fray proxy --listen` and
 * `--upstream`) reads it with fray_addr_parse(), so they accept and refuse
 * the same strings.
 *
 *   fray_addr_t a;
 *   const char *why;
 *   if (fray_addr_parse(&a, "[::1]:6379", 0, &why) == 0)
 *     connect_to(a.host, a.port);          // "::1", 6379
 *   else
 *     fprintf(stderr, "bad address: %s\n", why);
 *
 * Only the syntax is checked: the host is not resolved (a name, an IPv4 or
 * an IPv6 address are all text here; getaddrinfo() is the caller's). */
#ifndef FRAY_ADDR_H
#define FRAY_ADDR_H

#include "fray/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FRAY_ADDR_HOST_MAX 255 /* longest host accepted, in bytes */

/* A parsed address: a plain value, no pointers. */
typedef struct fray_addr {
  char host[FRAY_ADDR_HOST_MAX + 1]; /* NUL-terminated; IPv6 without brackets */
  uint16_t port;
  char port_text[6]; /* the port in decimal, for getaddrinfo()'s service */
} fray_addr_t;

/* Flags of fray_addr_parse(). */
#define FRAY_ADDR_ANY_PORT 1u /* accept port 0 (listening: the system picks one) */

/* Reads s as "HOST:PORT" or "[IPV6]:PORT". PORT is decimal digits with a
 * value of 1-65535 (0-65535 with FRAY_ADDR_ANY_PORT) and nothing after it; HOST is 1 to
 * FRAY_ADDR_HOST_MAX bytes and holds no ':' unless it is bracketed, so "::1:80" is refused rather
 * than guessed.
 *
 * Returns 0 with *out filled, or FRAY_EINVAL (s or out NULL, or s is not
 * such an address): then *out is zeroed and, when why is not NULL, *why
 * points to a static one-line reason without the address in it (e.g. "the
 * port is not in 1-65535"), so the caller can name the bad value its own
 * way. *why is set to "" on success. */
FRAY_EXTERN int fray_addr_parse(fray_addr_t *out, const char *s, unsigned flags, const char **why);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_ADDR_H */
