/* The --exec transport (fray/exec.h): the session player (fray/player.h)
 * against a real server started under the preload shim, in lockstep over
 * real TCP (run/exec_ctl.c), with the server's process owned here
 * (run/exec_server.c): started before the first run, restarted after a
 * crash and, with restart_each_run, before every run. */
#include "fray/exec.h"

#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "run/exec_internal.h"
#include "run/player_internal.h"

struct fray_exec {
  fray_player_t *player; /* owns this transport once created */
  fray_mem_t mem;
  fray_exec_opts_t o;
  fray__server_t *srv;
  fray__xctl_t *x;
  size_t nclients;
  fray__room_t *room; /* per client: what the shim was last told of its window */
  size_t window;      /* the run's FRAY_FAULT_WINDOW, 0: none */
  fray_player_t *p;   /* during a run */
  int rc_cb;          /* what fray_player_received() said inside a pump */
  int need_start;
  char nothing[96], kept[64];
  char err[512];
  fray_transport_ops_t more_ops; /* fray_exec_factory's players' */
};

void fray_exec_opts_init(fray_exec_opts_t *o) {
  if (!o)
    return;
  memset(o, 0, sizeof *o);
  o->timeout_ms = FRAY_EXEC_DEFAULT_TIMEOUT_MS;
  o->settle_ms = FRAY_EXEC_DEFAULT_SETTLE_MS;
  o->start_timeout_ms = FRAY_EXEC_DEFAULT_START_MS;
}

static void on_bytes(void *ctx, size_t client, const uint8_t *p, size_t n) {
  fray_exec_t *e = ctx;
  e->room[client].rx += n;
  int rc = fray_player_received(e->p, client, p, n);
  if (rc && !e->rc_cb)
    e->rc_cb = rc;
}

static void on_end(void *ctx, size_t client, int reset) {
  fray_exec_t *e = ctx;
  fray_player_ended(e->p, client, reset);
}

static int on_reset(void *ctx, size_t client) {
  fray_exec_t *e = ctx;
  return fray_player_reset_mid_write(e->p, client);
}

/* The controller's outcome as the player's: an inexact run, a crash (a
 * failure, with the server's last words), or an error. */
static int outcome(fray_exec_t *e, int rc) {
  if (!rc)
    return e->rc_cb;
  if (rc == FRAY__XCTL_INEXACT) {
    fray_player_set_error(e->p, "inexact run: %s", fray__xctl_error(e->x));
    return FRAY_EINEXACT;
  }
  if (fray__xctl_crashed(e->x)) {
    char tail[1024];
    e->need_start = 1; /* the next run gets a fresh server */
    fray__server_tail(e->srv, tail, sizeof tail, 12);
    return fray_player_fail(e->p, FRAY_FAIL_CRASH, 0, "%s%s%s", fray__xctl_error(e->x),
                            *tail ? "; its last words:\n" : "", tail);
  }
  fray_player_set_error(e->p, "%s", fray__xctl_error(e->x));
  return rc;
}

static int ex_begin(void *t, fray_player_t *p, const fray_sched_t *sched) {
  fray_exec_t *e = t;
  e->p = p;
  e->rc_cb = 0;
  /* fray_exec_factory's players (the minimiser's tries) run each on a
   * fresh server, as the reproducer they lead to is replayed: one run on a
   * server just started, with none of the state earlier runs left. */
  if (e->need_start || e->o.restart_each_run || p != e->player || !fray__server_alive(e->srv)) {
    char err[320], tail[1024];
    int rc = fray__server_start(e->srv, err, sizeof err);
    if (rc) {
      fray__server_tail(e->srv, tail, sizeof tail, 12);
      fray_player_set_error(p, "%s%s%s", err, *tail ? "; its last words:\n" : "", tail);
      return rc;
    }
    e->need_start = 0;
    fray__xctl_free(e->x);
    e->x = NULL;
    fray__xctl_cb_t cb = {on_bytes, on_end, e, on_reset};
    if ((rc = fray__xctl_new(&e->x, e->srv, e->nclients, &cb, e->o.timeout_ms, &e->mem)))
      return rc;
  }
  e->window = fray_sched_window(sched);
  for (size_t i = 0; i < e->nclients; i++)
    e->room[i] = (fray__room_t){.told = SIZE_MAX};
  return outcome(e, fray__xctl_begin(e->x, sched));
}

/* The receive windows (FRAY_FAULT_WINDOW, `stops reading`): a client's
 * room as the player sees it now goes to the shim where it changed other
 * than by what the client received (the client read while waited on, the
 * script let it read), before the server acts again. */
static int sync_rooms(fray_exec_t *e) {
  for (size_t i = 0; i < e->nclients; i++) {
    size_t want;
    if (!fray__room_changed(e->p, i, &e->room[i], &want))
      continue;
    int rc = fray__xctl_room(e->x, i, want == SIZE_MAX ? UINT64_MAX : (uint64_t)want);
    if (rc)
      return outcome(e, rc);
  }
  return 0;
}

static int ex_open(void *t, size_t i) {
  fray_exec_t *e = t;
  /* A new connection starts with the run's window in the shim. */
  e->room[i].told = e->window ? e->window : SIZE_MAX;
  e->room[i].at = e->room[i].rx;
  int rc = sync_rooms(e);
  return rc ? rc : outcome(e, fray__xctl_open(e->x, i));
}

static int ex_send(void *t, size_t i, const uint8_t *p, size_t len) {
  fray_exec_t *e = t;
  int rc = sync_rooms(e);
  return rc ? rc : outcome(e, fray__xctl_send(e->x, i, p, len));
}

static int ex_send_eof(void *t, size_t i, const uint8_t *p, size_t len, int closing) {
  fray_exec_t *e = t;
  int rc = sync_rooms(e);
  return rc ? rc : outcome(e, fray__xctl_send_eof(e->x, i, p, len, closing));
}

static int ex_gap(void *t, size_t i) {
  fray_exec_t *e = t;
  int rc = sync_rooms(e);
  return rc ? rc : outcome(e, fray__xctl_gap(e->x, i));
}

static int ex_shutdown(void *t, size_t i) {
  fray_exec_t *e = t;
  int rc = sync_rooms(e);
  return rc ? rc : outcome(e, fray__xctl_shutdown(e->x, i));
}

static int ex_close(void *t, size_t i, int reset) {
  fray_exec_t *e = t;
  int rc = sync_rooms(e);
  return rc ? rc : outcome(e, fray__xctl_close(e->x, i, reset));
}

/* `NAME stops reading`, `NAME reads N`, `NAME resumes reading`: the shim
 * is told, and what the client now takes is written before the script
 * goes on (fray__xctl_room), as the simulator moves it. */
static int ex_window(void *t, size_t client) {
  (void)client;
  return sync_rooms(t);
}

static int ready(void *ctx, size_t client) {
  (void)client;
  return fray_player_ready(((fray_exec_t *)ctx)->p);
}

static int ex_wait(void *t, fray_wait_kind_t kind, size_t client) {
  fray_exec_t *e = t;
  /* The client waited on reads now (the player's room says so). */
  int rc = sync_rooms(e);
  if (rc)
    return rc;
  switch (kind) {
  case FRAY_WAIT_ANSWER:
    return outcome(e, fray__xctl_wait(e->x, e->o.timeout_ms, ready, client));
  case FRAY_WAIT_QUIET:
    return outcome(e, fray__xctl_wait(e->x, e->o.settle_ms, ready, client));
  case FRAY_WAIT_DRAIN:
    return outcome(e, fray__xctl_wait(e->x, 0, NULL, client));
  case FRAY_WAIT_SETTLE:
  default:
    return outcome(e, fray__xctl_settle(e->x, e->o.settle_ms));
  }
}

static int ex_end(void *t) {
  fray_exec_t *e = t;
  if (e->x)
    fray__xctl_end(e->x);
  e->p = NULL;
  return 0;
}

static void ex_free(void *t) {
  fray_exec_t *e = t;
  fray__xctl_free(e->x);
  fray__server_free(e->srv);
  fray__free(&e->mem, e->room);
  fray_mem_t m = e->mem;
  fray__free(&m, e);
}

static void ex_words(void *t, fray_transport_words_t *w) {
  fray_exec_t *e = t;
  snprintf(e->nothing, sizeof e->nothing, "nothing (the server was waiting with nothing to read)");
  e->kept[0] = 0;
  w->nothing = e->nothing;
  w->kept_open = e->kept;
}

static const fray_transport_ops_t exec_ops = {
    .name = "exec",
    .begin = ex_begin,
    .open = ex_open,
    .send = ex_send,
    .shutdown = ex_shutdown,
    .close = ex_close,
    .wait = ex_wait,
    .end = ex_end,
    .free = ex_free,
    .words = ex_words,
    .gap = ex_gap,
    .send_eof = ex_send_eof,
    .window = ex_window,
};

static int make_more(void *user_data, const fray_script_t *script, fray_player_t **out) {
  fray_exec_t *e = user_data;
  *out = NULL;
  /* The controller has a connection slot per client of the first script. */
  if (!e->player || fray_script_nclients(script) > e->nclients)
    return FRAY_EINVAL;
  /* Further players share the server and the controller and own nothing:
   * the runner's own table without its free. */
  e->more_ops = exec_ops;
  e->more_ops.free = NULL;
  return fray_player_new(out, script, &e->more_ops, e, &e->mem);
}

fray_player_factory_t fray_exec_factory(fray_exec_t *e) {
  return (fray_player_factory_t){e ? make_more : NULL, e};
}

int fray_exec_new(fray_exec_t **out, const fray_script_t *script, const char *command,
                  const fray_exec_opts_t *opts, const fray_mem_t *mem) {
  if (!out)
    return FRAY_EINVAL;
  *out = NULL;
  if (!script || !command)
    return FRAY_EINVAL;
  fray_mem_t m;
  fray__mem_init(&m, mem);
  fray_exec_t *e = fray__malloc(&m, sizeof *e);
  if (!e)
    return FRAY_ENOMEM;
  memset(e, 0, sizeof *e);
  e->mem = m;
  if (opts)
    e->o = *opts;
  else
    fray_exec_opts_init(&e->o);
  e->nclients = fray_script_nclients(script);
  e->need_start = 1;
  e->room = fray__malloc(&m, (e->nclients + 1) * sizeof *e->room);
  if (!e->room) {
    fray__free(&m, e);
    return FRAY_ENOMEM;
  }
  fray__server_opts_t so;
  fray__server_opts_init(&so);
  so.command = command;
  so.log_path = e->o.log_path;
  if (e->o.start_timeout_ms)
    so.start_timeout_ms = e->o.start_timeout_ms;
  int rc = fray__server_new(&e->srv, &so, &m, e->err, sizeof e->err);
  if (!rc)
    rc = fray_player_new(&e->player, script, &exec_ops, e, &m);
  if (rc) {
    *out = e; /* for fray_exec_error(); fray_exec_free() frees it */
    return rc;
  }
  *out = e;
  return 0;
}

void fray_exec_free(fray_exec_t *e) {
  if (!e)
    return;
  if (e->player)
    fray_player_free(e->player); /* frees e through ex_free */
  else
    ex_free(e);
}

const char *fray_exec_error(const fray_exec_t *e) {
  if (!e)
    return "";
  return *e->err || !e->player ? e->err : fray_player_error(e->player);
}

fray_player_t *fray_exec_player(fray_exec_t *e) {
  return e ? e->player : NULL;
}

int fray_exec_run(fray_exec_t *e, const fray_sched_t *sched, fray_result_t *res) {
  if (!e || !e->player)
    return FRAY_EINVAL;
  e->err[0] = 0;
  return fray_player_run(e->player, sched, res);
}
