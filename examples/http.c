/* http: a small HTTP/1.1 server, the headers-then-body framing case.
 *
 * The request line and headers are one frame, cut at "\r\n\r\n" (at most
 * HTTP_MAX_HEAD bytes); a Content-Length body is then one frame of exactly
 * that many bytes (count mode, at most HTTP_MAX_BODY); then headers again.
 * The spec switch happens inside on_frame, so bytes of the body or of the
 * next request that arrived in the same read as the headers are framed
 * under the new spec (compare buggy/modeswitch.c).
 *
 * A "Transfer-Encoding: chunked" body is framed a chunk at a time in the
 * framer's text-length mode (fray_spec_http_chunk(): hex size, extensions
 * after ';', CRLF, data, CRLF), collected up to HTTP_MAX_BODY, and ended by
 * the zero-size chunk, after which the trailer section is read line by line
 * to its empty line.
 *
 * Answers: 200 with body = the request's body if it had one, else the
 * request target; 400 (malformed request line, header, Content-Length,
 * chunk, or both Content-Length and chunked; then close), 413 (head or body
 * too large; then close), 501 (a transfer coding other than chunked; then
 * close).
 * Keep-alive by default in HTTP/1.1; "Connection: close" or HTTP/1.0 closes
 * after the answer. Requests pipelined in one read are answered in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples.h"

#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_BODY 65536
#define HTTP_MAX_TARGET 256

enum { HTTP_HEAD, HTTP_BODY, HTTP_CHUNK, HTTP_TRAILER }; /* what the next frame is */

typedef struct http_conn {
  int phase;
  int close_after;
  uint8_t *chunked; /* a chunked body collected so far (malloc'd) */
  size_t chunked_len;
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

static const fray_spec_t http_trailer_spec = {
    .mode = FRAY_MODE_DELIM,
    .max_frame = HTTP_MAX_HEAD,
    .on_overflow = FRAY_OVERFLOW_ERROR,
    .delim = {.bytes = "\r\n", .len = 2},
};

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

/* The next chunk may hold what is left of HTTP_MAX_BODY: the framer refuses
 * a larger size line at once (EBADLEN over max_frame), before its data
 * arrives. With nothing left, max_frame 1 (0 would mean the default) lets
 * only the last chunk and a 1-byte one through, and http_chunk refuses the
 * latter. */
static int http_chunk_spec(fray_conn_t *c, const http_conn_t *st) {
  fray_spec_t chunk = fray_spec_http_chunk();
  size_t left = HTTP_MAX_BODY - st->chunked_len;
  chunk.max_frame = left ? left : 1;
  return fray_conn_set_spec(c, &chunk);
}

static const char *http_reason(int status) {
  return status == 413 ? "Content Too Large" : status == 501 ? "Not Implemented" : "Bad Request";
}

/* One header line q[0..le): 0, or the status to fail the request with.
 * Notes a Content-Length in *clen, chunked transfer coding in *chunked. */
static int http_header(http_conn_t *st, const uint8_t *q, const uint8_t *le, long long *clen,
                       int *chunked) {
  const uint8_t *colon = memchr(q, ':', (size_t)(le - q));
  if (!colon || colon == q)
    return 400;
  for (const uint8_t *n = q; n < colon; n++)
    if (!http_tchar(*n))
      return 400;
  const uint8_t *v = colon + 1, *ve = le;
  while (v < ve && (*v == ' ' || *v == '\t'))
    v++;
  while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
    ve--;
  size_t nl = (size_t)(colon - q), vl = (size_t)(ve - v);
  if (http_name_is(q, nl, "content-length")) {
    long long n = 0;
    if (vl == 0 || vl > 10)
      return vl > 10 ? 413 : 400;
    for (size_t i = 0; i < vl; i++) {
      if (v[i] < '0' || v[i] > '9')
        return 400;
      n = n * 10 + (v[i] - '0');
    }
    if (*clen >= 0 && *clen != n) /* conflicting lengths: a smuggling vector */
      return 400;
    *clen = n;
  } else if (http_name_is(q, nl, "transfer-encoding")) {
    if (!http_value_is(v, vl, "chunked"))
      return 501;
    *chunked = 1;
  } else if (http_name_is(q, nl, "connection") && http_value_is(v, vl, "close")) {
    st->close_after = 1;
  }
  return 0;
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
  int chunked = 0;
  for (const uint8_t *q = eol, *le; q < end; q = le) {
    if (end - q < 2 || q[0] != '\r' || q[1] != '\n')
      return http_fail(c, 400, "Bad Request");
    q += 2;
    le = q;
    while (le < end && *le != '\r' && *le != '\n')
      le++;
    int status = http_header(st, q, le, &clen, &chunked);
    if (status)
      return http_fail(c, status, http_reason(status));
  }
  if (chunked && clen >= 0) /* two framings of one body: a smuggling vector */
    return http_fail(c, 400, "Bad Request");
  if (clen > HTTP_MAX_BODY)
    return http_fail(c, 413, "Content Too Large");
  if (chunked) {
    st->phase = HTTP_CHUNK;
    st->chunked_len = 0;
    return http_chunk_spec(c, st);
  }
  if (clen > 0) {
    fray_spec_t body = fray_spec_count((size_t)clen);
    body.max_frame = (size_t)clen;
    st->phase = HTTP_BODY;
    return fray_conn_set_spec(c, &body);
  }
  return http_reply(c, st, (const uint8_t *)st->target, strlen(st->target));
}

/* One chunk of a chunked body: collected, or (size 0) the end of the
 * data, after which come the trailer fields. */
static int http_chunk(fray_conn_t *c, http_conn_t *st, const uint8_t *data, size_t len) {
  if (len == 0) {
    st->phase = HTTP_TRAILER;
    return fray_conn_set_spec(c, &http_trailer_spec);
  }
  if (len > HTTP_MAX_BODY - st->chunked_len)
    return http_fail(c, 413, "Content Too Large");
  if (!st->chunked && !(st->chunked = malloc(HTTP_MAX_BODY)))
    return FRAY_ENOMEM;
  memcpy(st->chunked + st->chunked_len, data, len);
  st->chunked_len += len;
  return http_chunk_spec(c, st);
}

/* A trailer field ("Name: value"), or the empty line ending the message. */
static int http_trailer(fray_conn_t *c, http_conn_t *st, const uint8_t *data, size_t len) {
  if (len) {
    const uint8_t *colon = memchr(data, ':', len);
    if (!colon || colon == data)
      return http_fail(c, 400, "Bad Request");
    return 0;
  }
  st->phase = HTTP_HEAD;
  int r = fray_conn_set_spec(c, &http_head_spec);
  if (!r)
    r = http_reply(c, st, st->chunked ? st->chunked : (const uint8_t *)"", st->chunked_len);
  free(st->chunked);
  st->chunked = NULL;
  return r;
}

static int http_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  http_conn_t *st = vst;
  if (st->phase == HTTP_BODY) {
    st->phase = HTTP_HEAD;
    int r = fray_conn_set_spec(c, &http_head_spec);
    return r ? r : http_reply(c, st, data, len);
  }
  if (st->phase == HTTP_CHUNK)
    return http_chunk(c, st, data, len);
  if (st->phase == HTTP_TRAILER)
    return http_trailer(c, st, data, len);
  if (len == 0) /* "\r\n\r\n" alone: no request line */
    return http_fail(c, 400, "Bad Request");
  return http_head(c, st, data, len);
}

static int http_error(fray_conn_t *c, const fray_frame_error_t *err, void *vst) {
  http_conn_t *st = vst;
  /* In a chunked body: a chunk past what is left of the limit (its size,
   * nonzero, over the spec's max_frame), or a malformed size line or missing
   * CRLF after the data (size 0, or within the limit). Elsewhere the head or
   * a trailer field outgrew HTTP_MAX_HEAD (a counted body never overflows). */
  if (st->phase == HTTP_CHUNK && err->size <= HTTP_MAX_BODY - st->chunked_len)
    return http_fail(c, 400, "Bad Request");
  return http_fail(c, 413, "Content Too Large");
}

static void http_close(fray_conn_t *c, fray_close_reason_t reason, void *vst) {
  (void)c;
  (void)reason;
  http_conn_t *st = vst;
  free(st->chunked);
  st->chunked = NULL;
}

const fray_handler_t fray_example_http = {
    .name = "http",
    .summary = "HTTP/1.1 requests: head to \\r\\n\\r\\n, Content-Length or chunked body, "
               "keep-alive, 400/413",
    .spec = {.mode = FRAY_MODE_DELIM,
             .max_frame = HTTP_MAX_HEAD,
             .on_overflow = FRAY_OVERFLOW_ERROR,
             .delim = {.bytes = "\r\n\r\n", .len = 4}},
    .conn_size = sizeof(http_conn_t),
    .on_frame = http_frame,
    .on_error = http_error,
    .on_close = http_close,
};
