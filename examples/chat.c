/* chat: nicks, one room per connection, messages to the room.
 *
 * Protocol (lines, "\r\n" or "\n"; replies end with "\r\n"):
 *   NICK name            -> OK nick name       (name: 1-16 of [A-Za-z0-9_-], once)
 *   JOIN #room           -> OK join #room      (room: 1-32 of [A-Za-z0-9_-]; a nick
 *                                               first; leaves the previous room)
 *   MSG text             -> nothing back; the others in the room get "nick: text"
 *   PRIVMSG #room text   -> the same, naming the room (it must be yours)
 *   QUIT [anything]      -> BYE, then the server closes
 *   IDLE seconds         -> OK idle seconds    (0-86400; for the whole server)
 * Errors: "ERR <reason>" and the connection goes on. Notices to the others
 * in a room: "* nick joined" and "* nick left" (on JOIN elsewhere, QUIT,
 * when the peer closes or resets, or when it is kicked as idle).
 *
 * Idle timeout: off until an IDLE command sets it (0 turns it off again).
 * Then a connection that sends no line for that many seconds gets
 * "ERR idle timeout" and is closed; every line it sends starts its count
 * again, and the count of every open connection starts at the IDLE. One
 * timer per connection (fray_conn_timer_start), restarted on each line: in
 * `fray replay` time is virtual, so an hour of it runs in microseconds
 * (the scripts in corpus/chat_idle/).
 *
 * Policy for bad input: a line over CHAT_MAX_LINE bytes is answered with
 * "ERR line too long" and skipped to its "\n" (the connection goes on);
 * empty lines are ignored; an unfinished line at end of stream is dropped.
 * Commands are case-sensitive. Text is relayed as is (binary included): the
 * framing, not the content, is what this example is about. */
#include <stdio.h>
#include <string.h>

#include "examples.h"

#define CHAT_MAX_LINE 512
#define CHAT_MAX_NICK 16
#define CHAT_MAX_ROOM 32
#define CHAT_MAX_IDLE 86400 /* seconds: a day */

typedef struct chat_conn {
  char nick[CHAT_MAX_NICK + 1]; /* "" until NICK */
  char room[CHAT_MAX_ROOM + 2]; /* "#name", "" when in no room */
  int quit;                     /* QUIT seen: leave notice already sent */
  fray_timer_id_t idle;         /* the idle timer, while one runs */
} chat_conn_t;

typedef struct chat_server {
  uint64_t idle_ms; /* 0: no idle timeout */
} chat_server_t;

static int chat_name_ok(const uint8_t *p, size_t len, size_t max) {
  if (len == 0 || len > max)
    return 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t b = p[i];
    if (!((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_' ||
          b == '-'))
      return 0;
  }
  return 1;
}

/* Sends len bytes of text, prefixed, to everyone else in room. Send errors
 * to the others are ignored on purpose: a peer that cannot take a message
 * must not break the sender's connection (see buggy/closedbcast.c). */
static void chat_to_room(fray_conn_t *from, const char *room, const char *prefix,
                         const uint8_t *text, size_t len) {
  for (fray_conn_t *o = fray_server_first(fray_conn_server(from)); o; o = fray_server_next(o)) {
    chat_conn_t *os = fray_conn_data(o);
    if (o == from || strcmp(os->room, room) != 0)
      continue;
    (void)fray_conn_sendf(o, "%s", prefix);
    (void)fray_conn_send(o, text, len);
    (void)fray_conn_send(o, "\r\n", 2);
  }
}

static void chat_notice(fray_conn_t *c, chat_conn_t *st, const char *what) {
  char line[CHAT_MAX_NICK + 16];
  size_t n = (size_t)snprintf(line, sizeof line, "* %s %s", st->nick, what);
  if (st->room[0])
    chat_to_room(c, st->room, "", (const uint8_t *)line, n);
}

static int chat_idle_fired(fray_conn_t *c, void *vst, void *arg) {
  chat_conn_t *st = vst;
  (void)arg;
  st->idle = 0;
  if (fray_conn_state(c) != FRAY_CONN_OPEN)
    return 0; /* leaving already (QUIT), only its output still flushing */
  chat_notice(c, st, "left");
  st->quit = 1; /* the others were told */
  int r = fray_conn_sendf(c, "ERR idle timeout\r\n");
  fray_conn_close(c);
  return r;
}

/* The connection's idle count starts again (or stops, when the server has
 * no idle timeout). A failed start leaves it unwatched: a timer is not
 * worth a connection. */
static void chat_idle_restart(fray_conn_t *c, chat_conn_t *st) {
  const chat_server_t *srv = fray_server_data(fray_conn_server(c));
  if (st->idle)
    (void)fray_conn_timer_cancel(c, st->idle);
  st->idle = 0;
  if (srv->idle_ms)
    (void)fray_conn_timer_start(c, srv->idle_ms, chat_idle_fired, NULL, &st->idle);
}

/* IDLE seconds: the server's idle timeout, for every open connection from
 * now on. */
static int chat_idle_set(fray_conn_t *c, const uint8_t *arg, size_t arglen) {
  unsigned long secs = 0;
  for (size_t i = 0; i < arglen; i++) {
    if (arg[i] < '0' || arg[i] > '9' || i >= 5)
      return fray_conn_sendf(c, "ERR bad idle\r\n");
    secs = secs * 10 + (unsigned long)(arg[i] - '0');
  }
  if (!arglen || secs > CHAT_MAX_IDLE)
    return fray_conn_sendf(c, "ERR bad idle\r\n");
  fray_server_t *s = fray_conn_server(c);
  ((chat_server_t *)fray_server_data(s))->idle_ms = (uint64_t)secs * 1000;
  for (fray_conn_t *o = fray_server_first(s); o; o = fray_server_next(o))
    chat_idle_restart(o, fray_conn_data(o));
  return fray_conn_sendf(c, "OK idle %lu\r\n", secs);
}

static int chat_open(fray_conn_t *c, void *vst) {
  chat_idle_restart(c, vst);
  return 0;
}

static int chat_frame(fray_conn_t *c, const uint8_t *line, size_t len, void *vst) {
  chat_conn_t *st = vst;
  if (st->idle)
    chat_idle_restart(c, st);
  const uint8_t *sp = memchr(line, ' ', len);
  size_t cmdlen = sp ? (size_t)(sp - line) : len;
  const uint8_t *arg = sp ? sp + 1 : line + len;
  size_t arglen = (size_t)(line + len - arg);

  if (len == 0)
    return 0;
  if (cmdlen == 4 && !memcmp(line, "NICK", 4)) {
    if (st->nick[0])
      return fray_conn_sendf(c, "ERR nick already set\r\n");
    if (!chat_name_ok(arg, arglen, CHAT_MAX_NICK))
      return fray_conn_sendf(c, "ERR bad nick\r\n");
    for (fray_conn_t *o = fray_server_first(fray_conn_server(c)); o; o = fray_server_next(o)) {
      const chat_conn_t *os = fray_conn_data(o);
      if (strlen(os->nick) == arglen && !memcmp(os->nick, arg, arglen))
        return fray_conn_sendf(c, "ERR nick in use\r\n");
    }
    memcpy(st->nick, arg, arglen);
    st->nick[arglen] = '\0';
    return fray_conn_sendf(c, "OK nick %s\r\n", st->nick);
  }
  if (cmdlen == 4 && !memcmp(line, "JOIN", 4)) {
    if (!st->nick[0])
      return fray_conn_sendf(c, "ERR no nick\r\n");
    if (arglen < 2 || arg[0] != '#' || !chat_name_ok(arg + 1, arglen - 1, CHAT_MAX_ROOM))
      return fray_conn_sendf(c, "ERR bad room\r\n");
    chat_notice(c, st, "left");
    memcpy(st->room, arg, arglen);
    st->room[arglen] = '\0';
    chat_notice(c, st, "joined");
    return fray_conn_sendf(c, "OK join %s\r\n", st->room);
  }
  if ((cmdlen == 3 && !memcmp(line, "MSG", 3)) || (cmdlen == 7 && !memcmp(line, "PRIVMSG", 7))) {
    if (cmdlen == 7) {
      /* PRIVMSG #room text: the room named must be the sender's. */
      const uint8_t *sp2 = memchr(arg, ' ', arglen);
      size_t rlen = sp2 ? (size_t)(sp2 - arg) : arglen;
      if (!st->room[0] || strlen(st->room) != rlen || memcmp(st->room, arg, rlen) != 0)
        return fray_conn_sendf(c, "ERR not in that room\r\n");
      arg = sp2 ? sp2 + 1 : arg + arglen;
      arglen = (size_t)(line + len - arg);
    }
    if (!st->room[0])
      return fray_conn_sendf(c, "ERR not in a room\r\n");
    if (arglen == 0)
      return fray_conn_sendf(c, "ERR no text\r\n");
    char prefix[CHAT_MAX_NICK + 3];
    snprintf(prefix, sizeof prefix, "%s: ", st->nick);
    chat_to_room(c, st->room, prefix, arg, arglen);
    return 0;
  }
  if (cmdlen == 4 && !memcmp(line, "QUIT", 4)) {
    chat_notice(c, st, "left");
    st->quit = 1;
    int r = fray_conn_sendf(c, "BYE\r\n");
    fray_conn_close(c); /* no frame after this one is delivered */
    return r;
  }
  if (cmdlen == 4 && !memcmp(line, "IDLE", 4))
    return chat_idle_set(c, arg, arglen);
  return fray_conn_sendf(c, "ERR unknown command\r\n");
}

static int chat_error(fray_conn_t *c, const fray_frame_error_t *err, void *vst) {
  chat_conn_t *st = vst;
  (void)err;
  if (st->idle)
    chat_idle_restart(c, st); /* a line, if a long one */
  return fray_conn_sendf(c, "ERR line too long\r\n");
}

static void chat_close(fray_conn_t *c, fray_close_reason_t reason, void *vst) {
  chat_conn_t *st = vst;
  /* A peer that vanished without QUIT still leaves its room; at shutdown
   * everyone goes at once and nobody is left to tell. */
  if (!st->quit && reason != FRAY_CLOSE_SHUTDOWN)
    chat_notice(c, st, "left");
}

const fray_handler_t fray_example_chat = {
    .name = "chat",
    .summary = "chat rooms: NICK, JOIN #room, MSG/PRIVMSG, QUIT, IDLE secs (lines max 512 bytes)",
    .spec = {.mode = FRAY_MODE_LINE,
             .max_frame = CHAT_MAX_LINE,
             .on_overflow = FRAY_OVERFLOW_SKIP,
             .delim = {.bytes = "\n", .len = 1}},
    .conn_size = sizeof(chat_conn_t),
    .server_size = sizeof(chat_server_t),
    .on_open = chat_open,
    .on_frame = chat_frame,
    .on_error = chat_error,
    .on_close = chat_close,
};
