/* Four handlers with a bug that only one fault kind of `fray replay
 * --faults` exposes (fray/sched.h), each with its fixed twin: built as one
 * plugin per handler (tests/faults.cmake defines FAULTS_KIND and, for the
 * twin, FAULTS_FIXED), so that tests/replay/check.sh `faults` shows the kind
 * on catching the bug, every other kind missing it, and the twin passing
 * under all of them. The scripts are tests/replay/faults-*.fray.
 *
 *   FAULTS_KIND 1, close-mid-send: a chat relay whose on_truncated runs the
 *     unfinished line at EOF as a command (as a `for line in sock` loop
 *     does with a last line without "\n"): a client that closes in the
 *     middle of "hello\r\n" makes the others hear "alice: hel".
 *   FAULTS_KIND 2, random-close: on_close announces "* NICK left" with
 *     strlen() of a nick a client that leaves before NICK never set: the
 *     server crashes (IRC servers have shipped crashes on clients quitting
 *     before registration).
 *   FAULTS_KIND 3, read-gap: a raw-mode echo that takes a read with no
 *     bytes for the peer's EOF (the `n <= 0` of a read loop, where EAGAIN
 *     and EINTR are not the end) and closes.
 *   FAULTS_KIND 4, reset-mid-write: `GET n` streams n bytes through a
 *     producer whose state both the producer's free callback and on_close
 *     free when the stream has not ended: a reset in the middle of the
 *     stream frees it twice (glibc aborts).
 *
 * Like examples/plugin/, it links no fray library: the fray command
 * provides fray_conn_send() and friends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fray/handler.h>

#ifndef FAULTS_KIND
#define FAULTS_KIND 1
#endif
#ifndef FAULTS_FIXED
#define FAULTS_FIXED 0
#endif

#define LINE_SPEC                                                                                  \
  { .mode = FRAY_MODE_LINE, .max_frame = 1024 }

#if FAULTS_KIND == 1
/* Each line a client sends reaches every other client as "NAME: line". */
static int relay(fray_conn_t *c, const uint8_t *p, size_t len) {
  for (fray_conn_t *o = fray_server_first(fray_conn_server(c)); o; o = fray_server_next(o))
    if (o != c)
      (void)fray_conn_sendf(o, "%s: %.*s\r\n", fray_conn_name(c), (int)len, (const char *)p);
  return 0;
}

static int relay_frame(fray_conn_t *c, const uint8_t *p, size_t len, void *st) {
  (void)st;
  return relay(c, p, len);
}

static int relay_truncated(fray_conn_t *c, const uint8_t *p, size_t len, void *st) {
  (void)st;
#if FAULTS_FIXED
  (void)c, (void)p, (void)len;
  return 0; /* an unfinished line is no command */
#else
  return relay(c, p, len); /* BUG: the rest of the line never came */
#endif
}

static const fray_handler_t handler = {
    .name = "faults-partial",
    .spec = LINE_SPEC,
    .on_frame = relay_frame,
    .on_truncated = relay_truncated,
};

#elif FAULTS_KIND == 2
typedef struct nick_conn {
  char *nick; /* malloc'd by NICK; NULL before */
} nick_conn_t;

static int nick_frame(fray_conn_t *c, const uint8_t *p, size_t len, void *vst) {
  nick_conn_t *st = vst;
  if (len > 5 && !memcmp(p, "NICK ", 5)) {
    free(st->nick);
    st->nick = malloc(len - 4);
    if (!st->nick)
      return -1;
    memcpy(st->nick, p + 5, len - 5);
    st->nick[len - 5] = 0;
    return fray_conn_send(c, "OK\r\n", 4);
  }
  return fray_conn_send(c, "ERR\r\n", 5);
}

static void nick_close(fray_conn_t *c, fray_close_reason_t why, void *vst) {
  nick_conn_t *st = vst;
  (void)why;
#if FAULTS_FIXED
  if (!st->nick)
    return;                    /* it left before it had a name: nobody to tell */
#endif
  size_t n = strlen(st->nick); /* BUG (unfixed): NULL before NICK */
  for (fray_conn_t *o = fray_server_first(fray_conn_server(c)); o; o = fray_server_next(o))
    if (o != c)
      (void)fray_conn_sendf(o, "* %.*s left\r\n", (int)n, st->nick);
  free(st->nick);
  st->nick = NULL;
}

static const fray_handler_t handler = {
    .name = "faults-nick",
    .spec = LINE_SPEC,
    .conn_size = sizeof(nick_conn_t),
    .on_frame = nick_frame,
    .on_close = nick_close,
};

#elif FAULTS_KIND == 3
static int echo_frame(fray_conn_t *c, const uint8_t *p, size_t len, void *st) {
  (void)st;
  if (len == 0) {
#if FAULTS_FIXED
    return 0; /* nothing this time: the bytes come with the next read */
#else
    fray_conn_close(c); /* BUG: no bytes is not the end of the stream */
    return 0;
#endif
  }
  return fray_conn_send(c, p, len);
}

static const fray_handler_t handler = {
    .name = "faults-zeroread",
    .spec = {.mode = FRAY_MODE_RAW, .max_frame = 1024},
    .on_frame = echo_frame,
};

#else
typedef struct stream {
  size_t left;
  void **owner; /* the connection's pointer to it, cleared when it ends */
} stream_t;

typedef struct stream_conn {
  stream_t *cur; /* the stream being sent, if any */
} stream_conn_t;

static fray_ssize_t stream_produce(fray_outq_t *q, uint8_t *buf, size_t cap, void *ud) {
  stream_t *s = ud;
  (void)q;
  if (!s->left) {
    if (s->owner)
      *s->owner = NULL; /* ended: the free callback below releases it */
    return 0;
  }
  size_t n = s->left < cap ? s->left : cap;
  memset(buf, 'x', n);
  s->left -= n;
  return (fray_ssize_t)n;
}

static void stream_free(void *ud) {
  free(ud);
}

static int stream_frame(fray_conn_t *c, const uint8_t *p, size_t len, void *vst) {
  stream_conn_t *st = vst;
  char num[24];
  if (len < 5 || len - 4 >= sizeof num || memcmp(p, "GET ", 4) || st->cur)
    return fray_conn_send(c, "ERR\r\n", 5);
  memcpy(num, p + 4, len - 4);
  num[len - 4] = 0;
  stream_t *s = malloc(sizeof *s);
  if (!s)
    return -1;
  *s = (stream_t){.left = strtoul(num, NULL, 10), .owner = (void **)&st->cur};
  int r = fray_conn_sendf(c, "OK %zu\r\n", s->left);
  if (!r)
    r = fray_outq_push_producer(fray_conn_outq(c), stream_produce, stream_free, s);
  if (r) {
    free(s);
    return r;
  }
  st->cur = s;
  return 0;
}

static void stream_close(fray_conn_t *c, fray_close_reason_t why, void *vst) {
  stream_conn_t *st = vst;
  (void)c, (void)why;
#if FAULTS_FIXED
  if (st->cur)
    st->cur->owner = NULL; /* the queue still holds it and frees it */
#else
  free(st->cur); /* BUG: the queue's free callback frees it too */
#endif
  st->cur = NULL;
}

static const fray_handler_t handler = {
    .name = "faults-stream",
    .spec = LINE_SPEC,
    .conn_size = sizeof(stream_conn_t),
    .on_frame = stream_frame,
    .on_close = stream_close,
};
#endif

__attribute__((visibility("default"))) const fray_handler_t *fray_plugin_handler(unsigned abi);
const fray_handler_t *fray_plugin_handler(unsigned abi) {
  return abi == FRAY_HANDLER_ABI ? &handler : NULL;
}
