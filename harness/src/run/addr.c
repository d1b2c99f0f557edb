/* The one "HOST:PORT" reader (fray/addr.h). */
#include "fray/addr.h"

#include <stdio.h>
#include <string.h>

/* The port text p (up to the NUL). NULL, or why it is not a port. The value
 * is capped while reading, so no digit string wraps around to a small port
 * (getaddrinfo() keeps only the low 16 bits of a numeric service: 65537
 * would have been port 1). */
static const char *read_port(const char *p, unsigned flags, uint16_t *port) {
  if (!*p)
    return "no port after ':' (want HOST:PORT)";
  unsigned long v = 0;
  for (const char *q = p; *q; q++) {
    if (*q < '0' || *q > '9')
      return "the port is not a decimal number";
    if (v <= 65535)
      v = v * 10 + (unsigned long)(*q - '0');
  }
  if (v > 65535 || (v == 0 && !(flags & FRAY_ADDR_ANY_PORT)))
    return flags & FRAY_ADDR_ANY_PORT ? "the port is not in 0-65535" : "the port is not in 1-65535";
  *port = (uint16_t)v;
  return NULL;
}

/* Finds the host [*host, *host + *hl) and the ':' before the port in s.
 * NULL, or why s has no such shape. */
static const char *split(const char *s, const char **host, size_t *hl, const char **colon) {
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (!end)
      return "'[' without a closing ']' (want [IPV6]:PORT)";
    if (end[1] != ':')
      return end[1] ? "text after ']' that is not ':PORT' (want [IPV6]:PORT)"
                    : "no port after ']' (want [IPV6]:PORT)";
    *host = s + 1;
    *hl = (size_t)(end - s - 1);
    *colon = end + 1;
    if (memchr(*host, '[', *hl))
      return "a '[' inside the brackets";
    return NULL;
  }
  *colon = strrchr(s, ':');
  if (!*colon)
    return "no ':PORT' (want HOST:PORT)";
  *host = s;
  *hl = (size_t)(*colon - s);
  if (memchr(s, ':', *hl))
    return "an IPv6 address needs brackets ([IPV6]:PORT)";
  if (strpbrk(s, "[]"))
    return "a bracket outside [IPV6]:PORT";
  return NULL;
}

int fray_addr_parse(fray_addr_t *out, const char *s, unsigned flags, const char **why) {
  const char *w = "no address given", *host = NULL, *colon = NULL;
  size_t hl = 0;
  uint16_t port = 0;
  if (out)
    memset(out, 0, sizeof *out);
  if (out && s && !(w = split(s, &host, &hl, &colon))) {
    if (!hl)
      w = "no host before ':PORT'";
    else if (hl > FRAY_ADDR_HOST_MAX)
      w = "the host is longer than 255 bytes";
    else
      w = read_port(colon + 1, flags, &port);
  }
  if (why)
    *why = w ? w : "";
  if (w)
    return FRAY_EINVAL;
  memcpy(out->host, host, hl);
  out->host[hl] = 0;
  out->port = port;
  snprintf(out->port_text, sizeof out->port_text, "%u", (unsigned)port);
  return 0;
}
