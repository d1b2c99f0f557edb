/* Crash isolation (fray_campaign_opts_t.isolate): a handler in fray's own
 * process that crashes, aborts, trips a sanitizer or loops for ever must end
 * its script with a FAIL, not the replay.
 *
 * Design: fray_campaign_run() forks one worker per script, which runs the
 * campaign exactly as without isolation (same loop, same in-process speed:
 * the only per-run cost is a heartbeat, two relaxed stores into shared
 * memory) and builds its report in an arena inside a shared anonymous
 * mapping made before the fork. The mapping sits at the same address in
 * both processes, so the supervisor reads the finished report in place and
 * copies it out: no serialisation, nothing the worker found is lost. The
 * supervisor only waits: poll() on the worker's stderr (passed through, and
 * scanned for a sanitizer's first line) every TICK_MS, the heartbeat for
 * the watchdog and the progress callback, and waitpid().
 *
 * When the worker dies (a signal, an exit without a report) or its
 * heartbeat stalls for run_timeout_ms, the heartbeat names the run in
 * progress. Schedules and malformed variants are functions of seed and run
 * index, so the supervisor rebuilds that run without running handler code,
 * bakes it into a reproducer under save_dir, and replays the reproducer
 * once in a fresh forked child to confirm that it crashes the same way.
 *
 * Why one fork per script and not per run: a fork costs far more than a
 * run (tens of microseconds), and forking only once a crash is seen is
 * impossible: the crash has taken the process. bench_replay measures what
 * the supervision costs. All state lives in the campaign (fray__super_t);
 * no signal handler is installed; children leave by _exit(). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "run/campaign_internal.h"

#define TICK_MS 100       /* the supervisor's period: progress and watchdog */
#define EXITING_TICK_MS 1 /* once the worker's stderr closed: it is exiting */
#define RELAY_PERIOD 0.05 /* seconds between two progress calls passed on */
#define ARENA_BASE ((size_t)1 << 20)
#define ARENA_PER_FAILURE ((size_t)64 << 10) /* a failure's strings, at most ~40 KiB */
#define ARENA_MAX ((size_t)1 << 30)
#define SHRINK_TRIES 64   /* forked tries minimising one crash */
#define LINE_MAX_KEPT 320 /* bytes of a sanitizer's first line kept */
#define DESCRIBE_SIZE 2048
#define PATH_SIZE 4096

/* The mapping shared with the worker: heartbeat, outcome, report arena. */
typedef struct shared {
  fray__beat_t beat;
  _Atomic uint64_t planned, failed; /* the worker's last progress */
  _Atomic int done;                 /* the worker finished: rc and report are set */
  _Atomic int stop;                 /* the caller's progress callback said stop */
  int rc;
  fray_campaign_report_t *report; /* in the arena */
  size_t size, used;              /* the arena: data[0..size) */
  max_align_t data[];
} shared_t;

struct fray__super {
  shared_t *sh;
  size_t map_size;
  fray_mem_t arena; /* allocates in sh's arena: the worker's report */
};

/* What became of a worker or a confirming child. */
typedef struct outcome {
  int status; /* waitpid()'s */
  int hung;   /* killed by the watchdog */
  char line[LINE_MAX_KEPT];
  size_t len;                     /* of the stderr line being assembled */
  char report[LINE_MAX_KEPT + 8]; /* a sanitizer's first line, or "" */
} outcome_t;

/* ---- the arena: the worker's report, readable by the supervisor ----------- */

#define ALIGN sizeof(max_align_t)

static void *arena_malloc(size_t n, void *user_data) {
  shared_t *sh = user_data;
  if (n > sh->size)
    return NULL;
  size_t need = ALIGN + ((n + ALIGN - 1) & ~(ALIGN - 1));
  if (need > sh->size - sh->used)
    return NULL;
  unsigned char *p = (unsigned char *)sh->data + sh->used;
  memcpy(p, &n, sizeof n);
  sh->used += need;
  return p + ALIGN;
}

static void *arena_realloc(void *old, size_t n, void *user_data) {
  void *p = arena_malloc(n, user_data);
  if (p && old) {
    size_t had;
    memcpy(&had, (unsigned char *)old - ALIGN, sizeof had);
    memcpy(p, old, had < n ? had : n);
  }
  return p;
}

/* The worker's report lives until the next script resets the arena. */
static void arena_free(void *p, void *user_data) {
  (void)p;
  (void)user_data;
}

int fray__super_new(fray__super_t **out, const fray_campaign_t *c) {
  size_t n = c->o.max_described;
  size_t size = n > (ARENA_MAX - ARENA_BASE) / ARENA_PER_FAILURE
                    ? ARENA_MAX
                    : ARENA_BASE + n * ARENA_PER_FAILURE;
  fray__super_t *s = fray__malloc(&c->mem, sizeof *s);
  if (!s)
    return FRAY_ENOMEM;
  s->map_size = sizeof(shared_t) + size;
  /* Pages are touched only as the report grows: NORESERVE keeps the rest
   * free. */
  void *m = mmap(NULL, s->map_size, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    fray__free(&c->mem, s);
    return FRAY_ENOMEM;
  }
  s->sh = m;
  s->sh->size = size;
  s->arena = (fray_mem_t){arena_malloc, arena_realloc, arena_free, s->sh};
  *out = s;
  return 0;
}

void fray__super_free(fray__super_t *s, const fray_mem_t *mem) {
  if (!s)
    return;
  munmap(s->sh, s->map_size);
  fray__free(mem, s);
}

static void reset(shared_t *sh) {
  atomic_store(&sh->beat.seq, 0);
  atomic_store(&sh->beat.run, 0);
  atomic_store(&sh->planned, 0);
  atomic_store(&sh->failed, 0);
  atomic_store(&sh->done, 0);
  atomic_store(&sh->stop, 0);
  sh->rc = 0;
  sh->report = NULL;
  sh->used = 0;
}

/* ---- processes ------------------------------------------------------------ */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A sanitizer's first line: "==PID==ERROR: AddressSanitizer: ..." from
 * "AddressSanitizer" on, or UBSan's "FILE:LINE:COL: runtime error: ...". */
static const char *report_start(const char *line) {
  const char *p = strstr(line, "==ERROR: ");
  if (p && strstr(p, "Sanitizer"))
    return p + 9;
  return strstr(line, ": runtime error: ") ? line : NULL;
}

/* Assembles stderr lines, keeping the first one that opens a report. */
static void scan(outcome_t *oc, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != '\n') {
      if (oc->len + 1 < sizeof oc->line)
        oc->line[oc->len++] = p[i];
      continue;
    }
    oc->line[oc->len] = 0;
    oc->len = 0;
    const char *r = oc->report[0] ? NULL : report_start(oc->line);
    if (r)
      snprintf(oc->report, sizeof oc->report, "%s", r);
  }
}

/* Reads what the child wrote on stderr, passing it on when forward. The
 * read()'s result: 0 at the end, -1 when nothing is there yet. */
static ssize_t pass_through(int fd, int forward, outcome_t *oc) {
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0)
    return n < 0 && (errno == EAGAIN || errno == EINTR) ? -1 : 0;
  scan(oc, buf, (size_t)n);
  for (ssize_t off = 0, w; forward && off < n; off += w)
    if ((w = write(STDERR_FILENO, buf + off, (size_t)(n - off))) <= 0)
      break;
  return n;
}

/* A child being watched: its stderr, and for a worker the channel its
 * progress calls come through. */
typedef struct child {
  pid_t pid;
  int err;     /* read end of its stderr, or -1 */
  int relay;   /* the supervisor's end of the progress channel, or -1 */
  int relayed; /* the worker's end (in the worker only) */
  double last; /* when the worker last passed a progress call on */
  int forward; /* pass its stderr on */
} child_t;

/* A progress call of the worker, made here with the caller's callback
 * (whose state lives in this process); a stop is left in shared memory for
 * the worker's next call. 0 once the channel is closed. */
static int relay(fray_campaign_t *c, int fd) {
  fray_campaign_progress_t p;
  ssize_t n = recv(fd, &p, sizeof p, 0);
  if (n < 0)
    return errno == EAGAIN || errno == EINTR;
  if (n != (ssize_t)sizeof p)
    return 0;
  if (c->o.progress && c->o.progress(c, &p, c->o.user_data))
    atomic_store(&c->super->sh->stop, 1);
  return 1;
}

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* Waits for ch to end, reading its stderr, relaying its progress calls,
 * and killing it when its heartbeat stalls for the run timeout. */
static void watch(fray_campaign_t *c, child_t *ch, outcome_t *oc) {
  shared_t *sh = c->super->sh;
  uint64_t seen = 0;
  double last = now(), limit = c->o.run_timeout_ms / 1000.0;
  for (;;) {
    struct pollfd pf[2] = {{.fd = ch->err, .events = POLLIN}, {.fd = ch->relay, .events = POLLIN}};
    if (poll(pf, 2, ch->err >= 0 ? TICK_MS : EXITING_TICK_MS) > 0) {
      if (pf[0].revents && !pass_through(ch->err, ch->forward, oc))
        close_fd(&ch->err);
      if (pf[1].revents && !relay(c, ch->relay))
        close_fd(&ch->relay);
    }
    /* A worker whose report is in has nothing left to do but exit. */
    int done = ch->err < 0 && atomic_load(&sh->done);
    if (waitpid(ch->pid, &oc->status, done ? 0 : WNOHANG) == ch->pid)
      break;
    uint64_t q = atomic_load(&sh->beat.seq);
    double t = now();
    if (q != seen) {
      seen = q;
      last = t;
    } else if (t - last >= limit) {
      kill(ch->pid, SIGKILL);
      while (waitpid(ch->pid, &oc->status, 0) < 0 && errno == EINTR) {
      }
      oc->hung = 1;
      break;
    }
  }
  while (ch->err >= 0 && pass_through(ch->err, ch->forward, oc) > 0) {
  }
  close_fd(&ch->err);
  close_fd(&ch->relay);
}

static void nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Forks ch: its stderr comes to ch->err and, with_relay, its progress
 * calls through ch->relay. 0 in both processes (ch->pid 0 in the child),
 * or -1 (errno set). */
static int spawn(child_t *ch, int with_relay) {
  int p[2], q[2] = {-1, -1};
  if (pipe(p))
    return -1;
  /* One progress call a packet: no framing, and a full channel drops a
   * call rather than blocking the worker. */
  if (with_relay && socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q)) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  /* The child's copies of stdio buffers start empty: what is pending now
   * is printed once, by this process. */
  fflush(stdout);
  fflush(stderr);
  ch->pid = fork();
  if (ch->pid == 0) {
    close(p[0]);
    if (q[0] >= 0)
      close(q[0]);
    ch->relayed = q[1];
    if (p[1] != STDERR_FILENO) {
      dup2(p[1], STDERR_FILENO);
      close(p[1]);
    }
    return 0;
  }
  int e = errno;
  close(p[1]);
  if (q[1] >= 0)
    close(q[1]);
  ch->err = p[0];
  ch->relay = q[0];
  if (ch->pid < 0) {
    close_fd(&ch->err);
    close_fd(&ch->relay);
    errno = e;
    return -1;
  }
  nonblocking(ch->err);
  if (ch->relay >= 0)
    nonblocking(ch->relay);
  return 0;
}

/* Whether the worker handed back a report. */
static int finished(const shared_t *sh, const outcome_t *oc) {
  return !oc->hung && WIFEXITED(oc->status) && !WEXITSTATUS(oc->status) && atomic_load(&sh->done) &&
         sh->report;
}

/* ---- the worker ------------------------------------------------------------ */

/* The worker's progress callback: shares the counts with the watchdog's
 * side and passes the call on to the supervisor without waiting: the first
 * (the plan, before any run) always, later ones at most every RELAY_PERIOD,
 * so the supervisor wakes a few times a second, not every 64 runs. */
static int worker_progress(fray_campaign_t *c, const fray_campaign_progress_t *p, void *user_data) {
  child_t *ch = user_data;
  shared_t *sh = c->super->sh;
  atomic_store(&sh->planned, p->planned);
  atomic_store(&sh->failed, p->failed);
  double t = now();
  if (ch->relayed >= 0 && (!p->runs || t - ch->last >= RELAY_PERIOD)) {
    ch->last = t;
    (void)send(ch->relayed, p, sizeof *p, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  return atomic_load(&sh->stop);
}

static _Noreturn void worker(fray_campaign_t *c, child_t *ch, const fray_script_t *script,
                             const char *name, const fray_campaign_target_t *target) {
  shared_t *sh = c->super->sh;
  c->beat = &sh->beat;
  c->o.progress = worker_progress;
  c->o.user_data = ch;
  fray_campaign_report_t *r = NULL;
  sh->rc = fray__campaign_run_here(c, script, name, target, &c->super->arena, &r);
  sh->report = r;
  atomic_store(&sh->done, 1);
  fflush(stdout); /* what the handler printed */
  fflush(stderr);
  _exit(0);
}

/* ---- a worker that died --------------------------------------------------- */

static const struct {
  int sig;
  const char *name;
} signal_names[] = {{SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGABRT, "SIGABRT"},
                    {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},   {SIGTRAP, "SIGTRAP"},
                    {SIGKILL, "SIGKILL"}, {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"},
                    {SIGPIPE, "SIGPIPE"}, {SIGSYS, "SIGSYS"},   {SIGXCPU, "SIGXCPU"},
                    {SIGXFSZ, "SIGXFSZ"}, {SIGALRM, "SIGALRM"}};

/* "SIGSEGV (Segmentation fault)", or "signal N" for others. */
static void signal_words(int sig, char *buf, size_t size) {
  for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
    if (signal_names[i].sig == sig) {
      snprintf(buf, size, "%s (%s)", signal_names[i].name, strsignal(sig));
      return;
    }
  snprintf(buf, size, "signal %d", sig);
}

/* The one-line account of how the run ended the worker. */
static void death_message(const fray_campaign_t *c, const outcome_t *oc, uint64_t run, char *buf,
                          size_t size) {
  char how[128];
  if (oc->hung) {
    snprintf(buf, size, "handler hung: run %" PRIu64 " made no progress for %g s", run,
             c->o.run_timeout_ms / 1000.0);
    return;
  }
  if (WIFSIGNALED(oc->status))
    signal_words(WTERMSIG(oc->status), how, sizeof how);
  else
    snprintf(how, sizeof how, "the process exited with status %d", WEXITSTATUS(oc->status));
  int aborted = WIFSIGNALED(oc->status) && WTERMSIG(oc->status) == SIGABRT;
  snprintf(buf, size, "handler %s in run %" PRIu64 ": %s%s%s", aborted ? "aborted" : "crashed", run,
           oc->report[0] ? oc->report : how, oc->report[0] ? " - " : "", oc->report[0] ? how : "");
}

/* Whether a confirming child ended as the worker did. */
static int same_end(const outcome_t *a, const outcome_t *b) {
  if (a->hung || b->hung)
    return a->hung == b->hung;
  if (WIFSIGNALED(a->status))
    return WIFSIGNALED(b->status) && WTERMSIG(a->status) == WTERMSIG(b->status);
  return WIFEXITED(b->status) && WEXITSTATUS(a->status) == WEXITSTATUS(b->status) &&
         !strcmp(a->report, b->report);
}

/* The run that ended the worker, rebuilt: its description, and the script
 * that replays it (NULL for the reference: the script is its own). For a
 * malformed variant, *canary_at and what are set too. */
typedef struct rebuilt {
  char desc[DESCRIBE_SIZE];
  fray_script_t *script;
  int mutant;
  size_t canary_at;
  char what[512];
} rebuilt_t;

static int rebuild(fray__cjob_t *j, uint64_t run, rebuilt_t *rb) {
  const fray_campaign_opts_t *o = &j->c->o;
  int rc;
  if (o->strategy == FRAY_STRATEGY_MUTATE) {
    rb->mutant = 1;
    rc = fray__ctarget_mutant(j->t, fray__rng_at(o->seed, run - 1), &rb->script, &rb->canary_at,
                              rb->what, sizeof rb->what);
    snprintf(rb->desc, sizeof rb->desc, "mutation %" PRIu64 ": %s", run - 1, rb->what);
    return rc;
  }
  if ((rc = fray__ctarget_plan(j->t, o, run)))
    return rc;
  fray__ctarget_describe(j->t, rb->desc, sizeof rb->desc);
  return run ? fray__ctarget_bake_last(j->t, j->target->handler->name, &rb->script) : 0;
}

/* Runs rb's script alone in a fresh child, its end in *oc: the mutant as
 * the campaign ran it, else the script under `whole` (its own cuts). The
 * child exits 0 when the run passes, 3 when it fails. 0, or -1 when no
 * child could be made. */
static int run_alone(fray__cjob_t *j, const rebuilt_t *rb, outcome_t *oc) {
  memset(oc, 0, sizeof *oc);
  child_t ch = {.forward = 0};
  reset(j->c->super->sh);
  if (spawn(&ch, 0))
    return -1;
  if (ch.pid == 0) {
    fray__ctarget_t *t = NULL;
    fray__cresult_t res;
    char *err = NULL;
    int rc = -1;
    if (rb->mutant)
      rc = fray__ctarget_run_mutant(j->t, rb->script, 0, rb->canary_at, &res);
    else if (!fray__ctarget_open(&t, rb->script, j->target, &j->c->mem, &err))
      rc = fray__ctarget_reference(t, &res);
    _exit(rc == 0 ? 0 : 3);
  }
  watch(j->c, &ch, oc);
  return 0;
}

/* Replays the rebuilt run alone in a fresh child: 1 when it ends as the
 * worker did, 0 when not, -1 when no child could be made. */
static int confirm(fray__cjob_t *j, const rebuilt_t *rb, const outcome_t *was) {
  outcome_t oc;
  if (run_alone(j, rb, &oc))
    return -1;
  return same_end(was, &oc);
}

/* script without the steps keep[] leaves out (and, uncut, without the
 * cuts of its sends), in *out. 0, or an error (FRAY_ESTATE: not a valid
 * script, such as a send before its open). */
static int without(const fray__cjob_t *j, const fray_script_t *script, const unsigned char *keep,
                   int uncut, fray_script_t **out) {
  size_t n;
  const fray_step_t *st = fray_script_steps(script, &n);
  int rc = fray__script_new_like(script, &j->c->mem, out);
  for (size_t i = 0; !rc && i < n; i++) {
    fray_step_t s = st[i];
    if (uncut) {
      s.cuts = NULL;
      s.ncuts = 0;
    }
    if (keep[i])
      rc = fray_script_add_step(*out, &s);
  }
  if (rc) {
    fray_script_free(*out);
    *out = NULL;
  }
  return rc;
}

/* Whether rb's script without keep[]'s removals passes alone with its
 * sends whole (one read each): 1, 0, or -1 when it could not be tried. */
static int passes_uncut(fray__cjob_t *j, const rebuilt_t *rb, const unsigned char *keep) {
  rebuilt_t whole = *rb;
  outcome_t oc;
  if (without(j, rb->script, keep, 1, &whole.script))
    return -1;
  int rc = run_alone(j, &whole, &oc);
  fray_script_free(whole.script);
  if (rc)
    return -1;
  return !oc.hung && WIFEXITED(oc.status) && WEXITSTATUS(oc.status) == 0;
}

/* Minimises a crash's baked script: steps go one at a time, from the last,
 * each removal kept when the script still crashes alone the same way. The
 * minimiser of minimize.c judges runs in this process, which a crash would
 * end; here every try is a forked child (about a millisecond), so tries are
 * bounded by SHRINK_TRIES. As there, when the script passed with its sends
 * whole, a removal must leave it passing so (one more child): else dropping
 * an expectation the crash does not need would leave a reproducer that a
 * fixed handler fails too, on the answer nothing expects any more. 1 when
 * rb->script was replaced by a smaller one. */
static int shrink(fray__cjob_t *j, rebuilt_t *rb, const outcome_t *was) {
  size_t n, tries = 0, removed = 0;
  const fray_step_t *st = fray_script_steps(rb->script, &n);
  unsigned char *keep = fray__malloc(&j->c->mem, n ? n : 1);
  if (!keep)
    return 0;
  memset(keep, 1, n);
  int judge_whole = passes_uncut(j, rb, keep) == 1;
  for (size_t i = n; i-- > 0 && tries < SHRINK_TRIES;) {
    if (!keep[i])
      continue;
    /* A send goes with the answers its client expects before it acts
     * again: judged whole, neither goes alone. */
    size_t unit[64], nunit = 0;
    unit[nunit++] = i;
    for (size_t k = i + 1; st[i].kind == FRAY_STEP_SEND && k < n && nunit < 64; k++) {
      if (!keep[k] || st[k].client != st[i].client || st[k].kind == FRAY_STEP_WAIT)
        continue;
      if (st[k].kind < FRAY_STEP_EXPECT || st[k].kind > FRAY_STEP_EXPECT_NOTHING)
        break;
      unit[nunit++] = k;
    }
    rebuilt_t cand = *rb;
    for (size_t u = 0; u < nunit; u++)
      keep[unit[u]] = 0;
    int ok = !without(j, rb->script, keep, 0, &cand.script);
    if (ok) {
      tries++;
      ok = confirm(j, &cand, was) == 1 && (!judge_whole || passes_uncut(j, rb, keep) == 1);
      fray_script_free(cand.script);
    }
    if (ok)
      removed += nunit;
    else
      for (size_t u = 0; u < nunit; u++)
        keep[unit[u]] = 1;
  }
  fray_script_t *min = NULL;
  if (removed && !without(j, rb->script, keep, 0, &min)) {
    fray_script_free(rb->script);
    rb->script = min;
  }
  fray__free(&j->c->mem, keep);
  return min != NULL;
}

/* The step during which the run ends as the worker did: the shortest
 * prefix of the run's script (rb's, or j's own for the reference) that does
 * so alone, found by bisection in forked tries (a dozen for a long
 * script). Its line and client go into res; nothing when the full script
 * does not end so alone, or no child could be made. */
static void crash_step(fray__cjob_t *j, const rebuilt_t *rb, const outcome_t *was,
                       fray__cresult_t *res) {
  const fray_script_t *script = rb->script ? rb->script : j->script;
  size_t n;
  const fray_step_t *st = fray_script_steps(script, &n);
  unsigned char *keep = n ? fray__malloc(&j->c->mem, n) : NULL;
  if (!keep)
    return;
  /* Invariant: the prefix of hi steps ends so; lo steps' does not. */
  size_t lo = 0, hi = n + 1;
  for (size_t k = n; hi > lo + 1; k = lo + (hi - lo) / 2) {
    for (size_t i = 0; i < n; i++)
      keep[i] = i < k;
    rebuilt_t try = {.script = NULL};
    if (without(j, script, keep, 0, &try.script))
      break;
    int same = confirm(j, &try, was);
    fray_script_free(try.script);
    if (same < 0 || (k == n && !same))
      break;
    *(same ? &hi : &lo) = k;
  }
  if (hi <= n) {
    res->line = st[hi - 1].line;
    res->client = st[hi - 1].kind == FRAY_STEP_WAIT ? SIZE_MAX : st[hi - 1].client;
  }
  fray__free(&j->c->mem, keep);
}

/* The reproducer of the rebuilt run under save_dir: confirmed in a fresh
 * process first, and then, for a crash under a schedule, minimised. */
static int reproduce(fray__cjob_t *j, fray_campaign_failure_t *f, rebuilt_t *rb,
                     const outcome_t *oc) {
  int rc = 0, again = confirm(j, rb, oc);
  if (rb->mutant) {
    char path[PATH_SIZE];
    int kept = fray__crepro_mutant(j, rb->script, f->run - 1, rb->what, path, sizeof path);
    if (kept < 0)
      return kept;
    if (kept && !(f->reproducer = fray__creport_strdup(j->r, path)))
      return FRAY_ENOMEM;
  } else {
    /* A hang's tries would each wait out the run timeout: not minimised. */
    int small = again == 1 && !oc->hung && shrink(j, rb, oc);
    const char *how = small      ? "minimised, each try in a fresh process"
                      : oc->hung ? "not minimised, as it hung"
                                 : "not minimised, as it crashed";
    if ((rc = fray__crepro_crash(j, f, rb->script, how, again == 1)))
      return rc;
  }
  if (f->reproducer && again == 0)
    f->reproducer_note =
        fray__creport_printf(j->r, "%s: the %s did not recur when %s ran alone: it may need %s",
                             j->name, oc->hung ? "hang" : "crash", f->reproducer,
                             !rb->mutant && fray__ctarget_faults(j->t)
                                 ? "the fault kinds its run drew (its header names them)"
                                 : "state that earlier runs left in the handler");
  return 0;
}

/* Turns the worker's death into the script's report: one failure, of kind
 * crash or hang, at the run the heartbeat names. */
static int died(fray__cjob_t *j, const outcome_t *oc) {
  fray_campaign_t *c = j->c;
  shared_t *sh = c->super->sh;
  uint64_t run = atomic_load(&sh->beat.run);
  rebuilt_t rb = {.script = NULL};
  char msg[LINE_MAX_KEPT + 256];
  death_message(c, oc, run, msg, sizeof msg);
  j->r->runs = atomic_load(&sh->beat.seq);
  j->r->planned = atomic_load(&sh->planned); /* told before the first run */
  j->r->failed = atomic_load(&sh->failed);
  int rc = fray__ctarget_open_plan(&j->t, j->script, j->target->handler, &c->mem);
  if (!rc)
    rc = rebuild(j, run, &rb);
  size_t nsteps;
  fray_script_steps(j->script, &nsteps);
  fray__cresult_t res = {.kind = oc->hung ? FRAY_FAIL_HANG : FRAY_FAIL_CRASH,
                         .step = nsteps,
                         .client = SIZE_MAX,
                         .message = msg};
  /* A mutant's crash is placed by its mutation (its description); a hang's
   * tries would each wait out the run timeout. */
  if (!rc && !rb.mutant && !oc->hung)
    crash_step(j, &rb, oc, &res);
  fray_campaign_failure_t *f = NULL;
  if (!rc)
    rc = fray__creport_failure(j, rb.mutant ? rb.script : j->script, &res, run, run == 0, rb.desc,
                               &f);
  if (!rc && f && rb.script && c->o.save_dir)
    rc = reproduce(j, f, &rb, oc);
  fray_script_free(rb.script);
  fray__ctarget_close(j->t);
  j->t = NULL;
  return rc ? rc : FRAY_EFAILED;
}

/* ---- the supervisor ------------------------------------------------------- */

int fray__super_run(fray_campaign_t *c, const fray_script_t *script, const char *name,
                    const fray_campaign_target_t *target, fray_campaign_report_t **out) {
  shared_t *sh = c->super->sh;
  fray__cjob_t j = {.c = c, .script = script, .name = name ? name : "script", .target = target};
  outcome_t oc;
  memset(&oc, 0, sizeof oc);
  child_t ch = {.forward = 1};
  double t0 = now();
  *out = NULL;
  reset(sh);
  int started = !spawn(&ch, c->o.progress != NULL), spawn_errno = errno;
  if (started && ch.pid == 0)
    worker(c, &ch, script, name, target);
  if (started)
    watch(c, &ch, &oc);
  if (started && finished(sh, &oc)) {
    *out = fray__creport_copy(sh->report, &c->mem);
    return *out ? sh->rc : FRAY_ENOMEM;
  }
  if (fray__cjob_begin(&j, &c->mem))
    return FRAY_ENOMEM;
  *out = j.r;
  int rc = started ? died(&j, &oc) : FRAY_EIO;
  j.r->seconds = now() - t0;
  if (rc != FRAY_EFAILED && !j.r->error)
    j.r->error = started ? fray__creport_strdup(j.r, fray_strerror(rc))
                         : fray__creport_printf(j.r, "cannot start a worker process: %s",
                                                strerror(spawn_errno));
  j.r->verdict = rc == FRAY_EFAILED ? FRAY_VERDICT_FAIL : FRAY_VERDICT_ERROR;
  return rc;
}
