/* resp: a Redis RESP2 subset, the "mixed line and count framing" case.
 *
 * A command is either an array of bulk strings
 *   *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n
 * or an inline line of space-separated words ("PING\r\n"). Framing: the
 * "*N" and "$len" lines in line mode, each bulk string's bytes plus its
 * "\r\n" as one count frame of len + 2, switched from inside on_frame.
 *
 * Commands (names case-insensitive): PING [msg], ECHO msg, SET key value,
 * GET key, DEL key [key ...]. Replies are RESP: +PONG, +OK, $n bulk, $-1,
 * :n, -ERR .... Unknown commands and wrong arity get -ERR and the
 * connection goes on. Protocol errors (bad "*N" or "$len", a bulk string
 * not followed by "\r\n", a line over RESP_MAX_LINE, more than RESP_MAX_ARGS
 * arguments, a bulk over RESP_MAX_BULK) get "-ERR Protocol error: ..." and
 * the server closes, as Redis does. The store lives in the server state and
 * holds at most RESP_MAX_KEYS keys ("-ERR store full" beyond). */
#include <stdlib.h>
#include <string.h>

#include "examples.h"

#define RESP_MAX_LINE 4096
#define RESP_MAX_ARGS 16
#define RESP_MAX_BULK 65536
#define RESP_MAX_KEYS 256

typedef struct resp_entry {
  uint8_t *key, *val;
  size_t klen, vlen;
} resp_entry_t;

typedef struct resp_server {
  resp_entry_t e[RESP_MAX_KEYS];
  size_t n;
} resp_server_t;

typedef struct resp_conn {
  size_t want_args; /* arguments the current array still announces */
  int in_bulk;      /* the next frame is a bulk string plus "\r\n" */
  size_t nargs;
  uint8_t *arg[RESP_MAX_ARGS];
  size_t alen[RESP_MAX_ARGS];
} resp_conn_t;

static const fray_spec_t resp_line_spec = {
    .mode = FRAY_MODE_LINE,
    .max_frame = RESP_MAX_LINE,
    .on_overflow = FRAY_OVERFLOW_ERROR,
    .delim = {.bytes = "\n", .len = 1},
};

static void resp_clear_args(resp_conn_t *st) {
  for (size_t i = 0; i < st->nargs; i++)
    free(st->arg[i]);
  st->nargs = 0;
  st->want_args = 0;
}

static int resp_proto_error(fray_conn_t *c, const char *why) {
  int r = fray_conn_sendf(c, "-ERR Protocol error: %s\r\n", why);
  fray_conn_close(c);
  return r;
}

static int resp_add_arg(resp_conn_t *st, const uint8_t *p, size_t len) {
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy)
    return FRAY_ENOMEM;
  memcpy(copy, p, len);
  st->arg[st->nargs] = copy;
  st->alen[st->nargs++] = len;
  return 0;
}

static int resp_is(const resp_conn_t *st, size_t i, const char *word) {
  size_t n = strlen(word);
  if (st->alen[i] != n)
    return 0;
  for (size_t k = 0; k < n; k++) {
    uint8_t b = st->arg[i][k];
    if (b >= 'a' && b <= 'z')
      b = (uint8_t)(b - 'a' + 'A');
    if (b != (uint8_t)word[k])
      return 0;
  }
  return 1;
}

static int resp_bulk(fray_conn_t *c, const uint8_t *p, size_t len) {
  int r = fray_conn_sendf(c, "$%zu\r\n", len);
  if (!r)
    r = fray_conn_send(c, p, len);
  return r ? r : fray_conn_send(c, "\r\n", 2);
}

static resp_entry_t *resp_lookup(resp_server_t *sv, const uint8_t *k, size_t klen) {
  for (size_t i = 0; i < sv->n; i++)
    if (sv->e[i].klen == klen && !memcmp(sv->e[i].key, k, klen))
      return &sv->e[i];
  return NULL;
}

static int resp_arity(fray_conn_t *c, const char *cmd) {
  return fray_conn_sendf(c, "-ERR wrong number of arguments for '%s' command\r\n", cmd);
}

static int resp_exec(fray_conn_t *c, resp_conn_t *st) {
  resp_server_t *sv = fray_server_data(fray_conn_server(c));
  size_t n = st->nargs;
  if (resp_is(st, 0, "PING")) {
    if (n > 2)
      return resp_arity(c, "ping");
    return n == 2 ? resp_bulk(c, st->arg[1], st->alen[1]) : fray_conn_sendf(c, "+PONG\r\n");
  }
  if (resp_is(st, 0, "ECHO"))
    return n == 2 ? resp_bulk(c, st->arg[1], st->alen[1]) : resp_arity(c, "echo");
  if (resp_is(st, 0, "GET")) {
    if (n != 2)
      return resp_arity(c, "get");
    resp_entry_t *e = resp_lookup(sv, st->arg[1], st->alen[1]);
    return e ? resp_bulk(c, e->val, e->vlen) : fray_conn_sendf(c, "$-1\r\n");
  }
  if (resp_is(st, 0, "SET")) {
    if (n != 3)
      return resp_arity(c, "set");
    resp_entry_t *e = resp_lookup(sv, st->arg[1], st->alen[1]);
    if (!e) {
      if (sv->n == RESP_MAX_KEYS)
        return fray_conn_sendf(c, "-ERR store full\r\n");
      e = &sv->e[sv->n++];
      e->key = st->arg[1]; /* ownership moves to the store */
      e->klen = st->alen[1];
      st->arg[1] = NULL;
    } else {
      free(e->val);
    }
    e->val = st->arg[2];
    e->vlen = st->alen[2];
    st->arg[2] = NULL;
    return fray_conn_sendf(c, "+OK\r\n");
  }
  if (resp_is(st, 0, "DEL")) {
    if (n < 2)
      return resp_arity(c, "del");
    size_t gone = 0;
    for (size_t i = 1; i < n; i++) {
      resp_entry_t *e = resp_lookup(sv, st->arg[i], st->alen[i]);
      if (e) {
        free(e->key);
        free(e->val);
        *e = sv->e[--sv->n]; /* order of the store does not matter */
        gone++;
      }
    }
    return fray_conn_sendf(c, ":%zu\r\n", gone);
  }
  /* Echo at most 32 bytes of the name, unprintable bytes as '?'. */
  char name[33];
  size_t k = st->alen[0] < 32 ? st->alen[0] : 32;
  for (size_t i = 0; i < k; i++) {
    uint8_t b = st->arg[0][i];
    name[i] = (b >= 0x20 && b < 0x7f && b != '\'') ? (char)b : '?';
  }
  name[k] = '\0';
  return fray_conn_sendf(c, "-ERR unknown command '%s'\r\n", name);
}

static int resp_run(fray_conn_t *c, resp_conn_t *st) {
  int r = st->nargs ? resp_exec(c, st) : 0;
  resp_clear_args(st);
  return r;
}

/* Parses the decimal after a '*' or '$': -1..max, else -2. */
static long resp_number(const uint8_t *p, size_t len, long max) {
  if (len == 2 && p[0] == '-' && p[1] == '1')
    return -1;
  if (len == 0 || len > 9)
    return -2;
  long n = 0;
  for (size_t i = 0; i < len; i++) {
    if (p[i] < '0' || p[i] > '9')
      return -2;
    n = n * 10 + (p[i] - '0');
  }
  return n <= max ? n : -2;
}

static int resp_inline(fray_conn_t *c, resp_conn_t *st, const uint8_t *p, size_t len) {
  size_t i = 0;
  while (i < len) {
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
      i++;
    size_t s = i;
    while (i < len && p[i] != ' ' && p[i] != '\t')
      i++;
    if (i > s) {
      if (st->nargs == RESP_MAX_ARGS)
        return resp_proto_error(c, "too many arguments");
      if (resp_add_arg(st, p + s, i - s))
        return FRAY_ENOMEM;
    }
  }
  return resp_run(c, st); /* an empty line runs nothing, as in Redis */
}

static int resp_frame(fray_conn_t *c, const uint8_t *p, size_t len, void *vst) {
  resp_conn_t *st = vst;
  if (st->in_bulk) {
    st->in_bulk = 0;
    int r = fray_conn_set_spec(c, &resp_line_spec);
    if (r)
      return r;
    if (p[len - 2] != '\r' || p[len - 1] != '\n')
      return resp_proto_error(c, "expected '\\r\\n' after bulk string");
    if ((r = resp_add_arg(st, p, len - 2)) != 0)
      return r;
    if (--st->want_args == 0)
      return resp_run(c, st);
    return 0;
  }
  if (st->want_args) {
    /* Inside an array: a "$len" line. */
    if (len == 0 || p[0] != '$')
      return resp_proto_error(c, "expected '$'");
    long n = resp_number(p + 1, len - 1, RESP_MAX_BULK);
    if (n < 0)
      return resp_proto_error(c, "invalid bulk length");
    fray_spec_t bulk = fray_spec_count((size_t)n + 2);
    bulk.max_frame = (size_t)n + 2;
    st->in_bulk = 1;
    return fray_conn_set_spec(c, &bulk);
  }
  if (len > 0 && p[0] == '*') {
    long n = resp_number(p + 1, len - 1, RESP_MAX_ARGS);
    if (n == -2)
      return resp_proto_error(c, "invalid multibulk length");
    st->want_args = n > 0 ? (size_t)n : 0; /* "*0", "*-1": nothing to run */
    return 0;
  }
  return resp_inline(c, st, p, len);
}

static int resp_error(fray_conn_t *c, const fray_frame_error_t *err, void *st) {
  (void)st;
  (void)err;
  return resp_proto_error(c, "too big inline request");
}

static void resp_close(fray_conn_t *c, fray_close_reason_t reason, void *st) {
  (void)c;
  (void)reason;
  resp_clear_args(st);
}

static void resp_server_free(fray_server_t *s, void *vsv) {
  (void)s;
  resp_server_t *sv = vsv;
  for (size_t i = 0; i < sv->n; i++) {
    free(sv->e[i].key);
    free(sv->e[i].val);
  }
}

const fray_handler_t fray_example_resp = {
    .name = "resp",
    .summary = "Redis RESP subset: arrays of bulk strings and inline; PING ECHO SET GET DEL",
    .spec = {.mode = FRAY_MODE_LINE,
             .max_frame = RESP_MAX_LINE,
             .on_overflow = FRAY_OVERFLOW_ERROR,
             .delim = {.bytes = "\n", .len = 1}},
    .conn_size = sizeof(resp_conn_t),
    .server_size = sizeof(resp_server_t),
    .server_free = resp_server_free,
    .on_frame = resp_frame,
    .on_error = resp_error,
    .on_close = resp_close,
};
