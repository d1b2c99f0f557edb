/* buggy-closedbcast: broadcasts to and from a member that has already left.
 *
 * Protocol: a one-room chat. "NICK name" -> "OK"; "MSG text" -> the others
 * get "name: text"; "QUIT" -> "BYE", the others get "* name left", and the
 * server closes. Lines end in "\r\n" (or "\n").
 *
 * THE BUG: the handler keeps its own member list and removes a member only
 * in on_close, which runs when the connection is finally released (after
 * its output is flushed), not when it quits. Its line loop stops "when the
 * member is gone", so after QUIT it goes on: a line that arrived in the
 * same read as QUIT (a client that writes "QUIT" and one more line before
 * it sees BYE) is still run, and its MSG is broadcast to the room -
 * including to the quitter's own closed connection - from someone everyone
 * was told has left. Sent one write at a time, the line after QUIT comes in
 * a later read, which fray no longer delivers, and all looks well.
 *
 * HOW FRAY FINDS IT: corpus/buggy/closedbcast-late.fray under a schedule
 * that merges alice's "QUIT" send with her next send (random merges): bob
 * receives "alice: late" after "* alice left", bytes no expectation
 * accounts for.
 *
 * THE FIX (fixed-closedbcast stops reading at QUIT): take the member out
 * of the list (and stop reading) at QUIT;
 * never send to a connection whose fray_conn_state is not OPEN (iterating
 * fray_server_first/next does both). */
#include <stdio.h>
#include <string.h>

#include "twins.h"

#define CLOSEDBCAST_MAX_MEMBERS 64
#define CLOSEDBCAST_MAX_LINE 512

typedef struct closedbcast_server {
  fray_conn_t *member[CLOSEDBCAST_MAX_MEMBERS];
  size_t n;
} closedbcast_server_t;

typedef struct closedbcast_conn {
  char nick[17];
  size_t len;
  uint8_t buf[CLOSEDBCAST_MAX_LINE];
} closedbcast_conn_t;

static closedbcast_server_t *closedbcast_sv(fray_conn_t *c) {
  return fray_server_data(fray_conn_server(c));
}

static int closedbcast_is_member(fray_conn_t *c) {
  closedbcast_server_t *sv = closedbcast_sv(c);
  for (size_t i = 0; i < sv->n; i++)
    if (sv->member[i] == c)
      return 1;
  return 0;
}

static void closedbcast_all(fray_conn_t *from, const char *text) {
  closedbcast_server_t *sv = closedbcast_sv(from);
  for (size_t i = 0; i < sv->n; i++)
    if (sv->member[i] != from)
      (void)fray_conn_sendf(sv->member[i], "%s\r\n", text); /* may be closed: ignored */
}

static int closedbcast_open(fray_conn_t *c, void *vst) {
  closedbcast_server_t *sv = closedbcast_sv(c);
  closedbcast_conn_t *st = vst;
  if (sv->n == CLOSEDBCAST_MAX_MEMBERS)
    return FRAY_ENOMEM; /* full: refuse the connection */
  sv->member[sv->n++] = c;
  memcpy(st->nick, "anon", 5);
  return 0;
}

static void closedbcast_close(fray_conn_t *c, fray_close_reason_t reason, void *vst) {
  closedbcast_server_t *sv = closedbcast_sv(c);
  (void)reason;
  (void)vst;
  for (size_t i = 0; i < sv->n; i++) {
    if (sv->member[i] == c) {
      sv->member[i] = sv->member[--sv->n];
      return;
    }
  }
}

static int closedbcast_line(fray_conn_t *c, closedbcast_conn_t *st, const uint8_t *p, size_t len) {
  char text[CLOSEDBCAST_MAX_LINE + 32];
  if (len > 0 && p[len - 1] == '\r')
    len--;
  if (len > 5 && len <= 21 && !memcmp(p, "NICK ", 5)) {
    memcpy(st->nick, p + 5, len - 5);
    st->nick[len - 5] = '\0';
    return fray_conn_sendf(c, "OK\r\n");
  }
  if (len > 4 && !memcmp(p, "MSG ", 4)) {
    snprintf(text, sizeof text, "%s: %.*s", st->nick, (int)(len - 4), (const char *)p + 4);
    closedbcast_all(c, text);
    return 0;
  }
  if (len == 4 && !memcmp(p, "QUIT", 4)) {
    snprintf(text, sizeof text, "* %s left", st->nick);
    closedbcast_all(c, text);
    int r = fray_conn_sendf(c, "BYE\r\n");
    fray_conn_close(c); /* the member stays in the list until on_close: BUG */
    return r;
  }
  return fray_conn_sendf(c, "ERR\r\n");
}

static int closedbcast_frame(fray_conn_t *c, const uint8_t *data, size_t len, void *vst) {
  closedbcast_conn_t *st = vst;
  for (size_t i = 0; i < len; i++) {
    if (!closedbcast_is_member(c)) /* meant to stop after QUIT: it never does */
      return 0;
    if (fray_example_is_fixed(c) && fray_conn_state(c) != FRAY_CONN_OPEN)
      return 0; /* the fix: a closing connection runs no more lines */
    if (data[i] == '\n') {
      int r = closedbcast_line(c, st, st->buf, st->len);
      st->len = 0;
      if (r < 0 && r != FRAY_ECLOSED)
        return r;
    } else if (st->len < sizeof st->buf) {
      st->buf[st->len++] = data[i]; /* an over-long line is cut short, not run on */
    }
  }
  return 0;
}

FRAY_EXAMPLE_TWINS(closedbcast, "closedbcast",
                   "chat whose member list keeps a quit connection; lines after QUIT still "
                   "broadcast",
                   .spec = {.mode = FRAY_MODE_RAW}, .conn_size = sizeof(closedbcast_conn_t),
                   .server_size = sizeof(closedbcast_server_t), .on_open = closedbcast_open,
                   .on_close = closedbcast_close, .on_frame = closedbcast_frame);
