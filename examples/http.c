/* http: a small HTTP/1.1 server, the headers-then-body framing case.
 *
 * The request line and headers are one frame, cut at "\r\n\r\n" (at most
 * HTTP_MAX_HEAD bytes); a Content-Length body is then one frame of exactly
 * that many bytes (count mode, at most HTTP_MAX_BODY); then headers again.
 * The spec switch happens inside on_frame, so bytes of the body or of the
 * next request that arrived in the same read as the headers are framed
 * under the new spec (compare buggy/modeswitch.c).
 *
 * Answers: 200 with body = the request's body if it had one, else the
 * request target; 400 (malformed request line, header, Content-Length;
 * then close), 413 (head or body too large; then close), 501 (a
 * Transfer-Encoding: chunked bodies are not supported; then close).
 * Keep-alive by default in HTTP/1.1; "Connection: close" or HTTP/1.0 closes
 * after the answer. Requests pipelined in one read are answered in order. */
#include <stdio.h>
#include <string.h>

#include "examples.h"

#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_BODY 65536
#define HTTP_MAX_TARGET 256

typedef struct http_conn {
  int in_body; /* the next frame is a body */
  int close_after;
  char target[HTTP_MAX_TARGET + 1];
} http_conn_t;

static const fray_spec_t http_head_spec = {
    .mode = FRAY_MODE_DELIM,
    .max_frame = HTTP_MAX_HEAD,
    .on_overflow = FRAY_OVERFLOW_ERROR,
    .delim = {.bytes = "\r\n\r\n", .len = 4},
};

static int http_fail(fray_conn_t *c, int status, const char *reason) {
  int r = fray_conn_sendf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                          status, reason);
  fray_conn_close(c);
  return r;
}

static int http_reply(fray_conn_t *c, http_conn_t *st, const uint8_t *body, size_t len) {
  int r = fray_conn_sendf(c, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%s\r\n", len,
                          st->close_after ? "Connection: close\r\n" : "");
  if (!r)
    r = fray_conn_send(c, body, len);
  if (st->close_after)
    fray_conn_close(c);
  return r;
}

static int http_tchar(uint8_t b) {
  return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
         (b && strchr("!#$%&'*+-.^_`|~", b) != NULL);
}

/* Case-insensitive comparison of a header name. */
static int http_name_is(const uint8_t *p, size_t len, const char *name) {
  if (strlen(name) != len)
    return 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t a = p[i], b = (uint8_t)name[i];
    if (a >= 'A' && a <= 'Z')
      a = (uint8_t)(a - 'A' + 'a');
    if (a != b)
      return 0;
  }
  return 1;
}

static int http_value_is(const uint8_t *p, size_t len, const char *v) {
  return http_name_is(p, len, v); /* same rule: case-insensitive, exact */
}

static int http_head(fray_conn_t *c, http_conn_t *st, const uint8_t *p, size_t len) {
  const uint8_t *end = p + len;
  /* Request line: METHOD SP TARGET SP HTTP/1.x, no bare "\n" anywhere. */
  if (memchr(p, '\0', len))
    return http_fail(c, 400, "Bad Request");
  const uint8_t *eol = p;
  while (eol < end && *eol != '\r' && *eol != '\n')
    eol++;
  const uint8_t *sp1 = memchr(p, ' ', (size_t)(eol - p));
  if (!sp1 || sp1 == p)
    return http_fail(c, 400, "Bad Request");
  for (const uint8_t *q = p; q < sp1; q++)
    if (!http_tchar(*q))
      return http_fail(c, 400, "Bad Request");
  const uint8_t *tgt = sp1 + 1;
  const uint8_t *sp2 = memchr(tgt, ' ', (size_t)(eol - tgt));
  if (!sp2 || sp2 == tgt || (size_t)(sp2 - tgt) > HTTP_MAX_TARGET)
    return http_fail(c, 400, "Bad Request");
  size_t vlen = (size_t)(eol - (sp2 + 1));
  if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1'))
    return http_fail(c, 400, "Bad Request");
  memcpy(st->target, tgt, (size_t)(sp2 - tgt));
  st->target[sp2 - tgt] = '\0';
  st->close_after = sp2[8] == '0';

  /* Header lines, each "Name: value" ended by "\r\n" (the last one's
   * "\r\n" was part of the delimiter). */
  long long clen = -1;
  const uint8_t *q = eol;
  while (q < end) {
    if (end - q < 2 || q[0] != '\r' || q[1] != '\n')
      return http_fail(c, 400, "Bad Request");
    q += 2;
    const uint8_t *le = q;
    while (le < end && *le != '\r' && *le != '\n')
      le++;
    const uint8_t *colon = memchr(q, ':', (size_t)(le - q));
    if (!colon || colon == q)
      return http_fail(c, 400, "Bad Request");
    for (const uint8_t *n = q; n < colon; n++)
      if (!http_tchar(*n))
        return http_fail(c, 400, "Bad Request");
    const uint8_t *v = colon + 1, *ve = le;
    while (v < ve && (*v == ' ' || *v == '\t'))
      v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
      ve--;
    size_t nl = (size_t)(colon - q), vl = (size_t)(ve - v);
    if (http_name_is(q, nl, "content-length")) {
      long long n = 0;
      if (vl == 0 || vl > 10)
        return http_fail(c, vl > 10 ? 413 : 400, vl > 10 ? "Content Too Large" : "Bad Request");
      for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9')
          return http_fail(c, 400, "Bad Request");
        n = n * 10 + (v[i] - '0');
      }
      if (clen >= 0 && clen != n) /* conflicting lengths: a smuggling vector */
        return http_fail(c, 400, "Bad Request");
      clen = n;
    } else if (http_name_is(q, nl, "transfer-encoding")) {
      return http_fail(c, 501, "Not Implemented");
    } else if (http_name_is(q, nl, "connection") && http_value_is(v, vl, "close")) {
      st->close_after = 1;
    }
    q = le;
  }
  if (clen > HTTP_MAX_BODY)
    return http_fail(c, 413, "Content Too Large");
  if (clen > 0) {
    fray_spec_t body = fray_spec_count((size_t)clen);
    body.max_frame = (size_t)clen;
    st->in_body = 1;
    return fray_conn_set_spec(c, &body);
  }
  return http_reply(c, st, (const uint8_t *)st->target, strlen(st->target));
}

static int http_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  http_conn_t *st = vst;
  if (st->in_body) {
    st->in_body = 0;
    int r = fray_conn_set_spec(c, &http_head_spec);
    return r ? r : http_reply(c, st, data, len);
  }
  if (len == 0) /* "\r\n\r\n" alone: no request line */
    return http_fail(c, 400, "Bad Request");
  return http_head(c, st, data, len);
}

static int http_error(fray_conn_t *c, const fray_frame_error_t *err, void *st) {
  (void)st;
  (void)err;
  /* The head outgrew HTTP_MAX_HEAD (the body's count can never overflow). */
  return http_fail(c, 413, "Content Too Large");
}

const fray_handler_t fray_example_http = {
    .name = "http",
    .summary = "HTTP/1.1 requests: head to \\r\\n\\r\\n, Content-Length body, keep-alive, 400/413",
    .spec = {.mode = FRAY_MODE_DELIM,
             .max_frame = HTTP_MAX_HEAD,
             .on_overflow = FRAY_OVERFLOW_ERROR,
             .delim = {.bytes = "\r\n\r\n", .len = 4}},
    .conn_size = sizeof(http_conn_t),
    .on_frame = http_frame,
    .on_error = http_error,
};
