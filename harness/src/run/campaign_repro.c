/* Reproducers: a failing schedule's script, minimised, with the schedule
 * baked in, and malformed variants written before they run. Each file's
 * header says how it was found and carries in its `# replay:` line the
 * exact command that replays it, target options included. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "run/campaign_internal.h"
#include "run/exec_internal.h"

#define DESCRIBE_SIZE 2048
#define PATH_SIZE 4096

/* Makes s safe for one `#` comment line: no line breaks or control bytes. */
static void comment_safe(char *s) {
  for (; s && *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      *s = '?';
}

/* Appends word to buf after a space, quoted for a POSIX shell. */
static void add_word(char *buf, size_t size, const char *word) {
  size_t o = strlen(buf);
  if (o + 1 < size)
    buf[o++] = ' ';
  buf[o < size ? o : size - 1] = 0;
  fray__exec_quote(buf, size, word);
}

/* "fray replay" with the target's options, into buf. */
static void command(const fray__cjob_t *j, char *buf, size_t size) {
  snprintf(buf, size, "fray replay");
  for (size_t i = 0; i < j->target->nargs; i++)
    add_word(buf, size, j->target->args[i]);
}

/* " --faults LIST" for a mask other than the default, into buf. */
static void faults_option(unsigned faults, char *buf, size_t size) {
  size_t n = (size_t)snprintf(buf, size, " --faults %s", faults ? "" : "none");
  for (unsigned f = 1; f && f <= faults && n < size; f <<= 1)
    if (faults & f)
      n += (size_t)snprintf(buf + n, size - n, "%s%s", buf[n - 1] == ' ' ? "" : ",",
                            fray_fault_name(f));
}

/* The command line that finds the failure again. */
static void found_by(const fray__cjob_t *j, char *buf, size_t size) {
  const fray_campaign_opts_t *o = &j->c->o;
  command(j, buf, size);
  size_t n = strlen(buf);
  n += (size_t)snprintf(buf + n, size - n, " --schedule %s", fray_campaign_schedule_name(o));
  if (o->strategy == FRAY_STRATEGY_RANDOM ||
      (o->strategy == FRAY_STRATEGY_WHOLE && o->short_writes))
    n += (size_t)snprintf(buf + n, size - n, " --runs %" PRIu64, o->runs);
  if (o->strategy == FRAY_STRATEGY_EXHAUSTIVE)
    n += (size_t)snprintf(buf + n, size - n, " --max-cuts %zu", o->max_cuts);
  if (o->short_writes || o->strategy == FRAY_STRATEGY_RANDOM)
    n += (size_t)snprintf(buf + n, size - n, " --seed %" PRIu64, o->seed);
  if (o->short_writes && n < size)
    n += (size_t)snprintf(buf + n, size - n, " --short-writes");
  if (o->strategy == FRAY_STRATEGY_RANDOM && o->faults != FRAY_FAULT_ALL && n < size)
    faults_option(o->faults, buf + n, size - n);
  add_word(buf, size, j->name);
}

/* The script's name without directories or a trailing ".fray". */
static size_t stem(const char *name, const char **base) {
  const char *b = strrchr(name, '/');
  *base = b ? b + 1 : name;
  size_t n = strlen(*base);
  return n > 5 && !strcmp(*base + n - 5, ".fray") ? n - 5 : n;
}

/* DIR/<stem>-<what>-<i>.fray into buf. */
static void file_name(const fray__cjob_t *j, const char *what, uint64_t i, char *buf, size_t size) {
  const char *dir = j->c->o.save_dir, *base;
  size_t dl = strlen(dir), n = stem(j->name, &base);
  while (dl > 1 && dir[dl - 1] == '/')
    dl--;
  snprintf(buf, size, "%.*s/%.*s-%s-%" PRIu64 ".fray", (int)dl, dir, (int)n, base, what, i);
}

/* Creates save_dir once per script. Returns 0, or -1 after noting why. */
static int ensure_dir(fray__cjob_t *j, const char **note) {
  if (!j->dir_state) {
    j->dir_state = mkdir(j->c->o.save_dir, 0777) && errno != EEXIST ? -errno : 1;
  }
  if (j->dir_state < 0) {
    *note = fray__creport_printf(j->r, "cannot create %s: %s", j->c->o.save_dir,
                                 strerror(-j->dir_state));
    return -1;
  }
  return 0;
}

/* Writes header then script to path. 0, or errno. */
static int write_file(const char *path, const char *header, const char *text, size_t len) {
  FILE *fp = fopen(path, "w");
  if (!fp)
    return errno;
  fputs(header, fp);
  fwrite(text, 1, len, fp);
  return fclose(fp) ? errno ? errno : EIO : 0;
}

/* The header line naming the fault kinds in faults (FRAY_FAULT_* bits) that
 * the run needed and a script cannot say, into buf ("" when none). */
static void fault_note(unsigned faults, char *buf, size_t size) {
  if (!faults)
    return;
  char list[160];
  faults_option(faults, list, sizeof list);
  snprintf(buf, size,
           "# it needs the fault kinds %.100s, which a script cannot say: the\n"
           "# replay line strikes them again where its --fault-seed draws them\n",
           list + strlen(" --faults "));
}

/* The options that strike the faults the last run needed again in a whole
 * run of its reproducer (its fault kinds, with short writes when it had
 * them, and its fault seed), appended to buf; nothing when it needed
 * none. */
static void strike_again(const fray__cjob_t *j, char *buf, size_t size) {
  unsigned faults = fray__ctarget_faults(j->t);
  if (!faults)
    return;
  if (fray__ctarget_short_writes(j->t))
    faults |= FRAY_FAULT_SHORT_WRITES;
  size_t n = strlen(buf);
  faults_option(faults, buf + n, size - n);
  n = strlen(buf);
  snprintf(buf + n, size - n, " --fault-seed %" PRIu64, fray__ctarget_fault_seed(j->t));
}

/* The header of a schedule's reproducer at path; how: "minimised" or why
 * not; alone: the script was seen failing alone, whole, without the short
 * writes and fault kinds of the run that found it (no note that it needs
 * them). */
static char *schedule_header(fray__cjob_t *j, const fray_campaign_failure_t *f, const char *path,
                             const char *how, int alone) {
  char found[2048], replay[2048], desc[DESCRIBE_SIZE], msg[1024];
  found_by(j, found, sizeof found);
  command(j, replay, sizeof replay);
  snprintf(replay + strlen(replay), sizeof replay - strlen(replay), " --schedule whole");
  if (!alone)
    strike_again(j, replay, sizeof replay);
  add_word(replay, sizeof replay, path);
  snprintf(desc, sizeof desc, "%s", f->schedule);
  snprintf(msg, sizeof msg, "%s", f->message);
  comment_safe(found);
  comment_safe(replay);
  comment_safe(desc);
  comment_safe(msg);
  char sw[128] = "";
  if (!alone && fray__ctarget_short_writes(j->t) && !fray__ctarget_faults(j->t))
    snprintf(sw, sizeof sw,
             "# it needs short writes: add --short-writes --seed %" PRIu64
             " (see the found-by line)\n",
             j->c->o.seed);
  char fl[256] = "";
  fault_note(alone ? 0 : fray__ctarget_faults(j->t), fl, sizeof fl);
  return fray__creport_printf(
      j->r,
      "# Reproducer written by fray replay (%s: the schedule's cuts are `|`,\n"
      "# merged sends are one send, so the whole schedule replays it as found).\n"
      "# found by: %s\n"
      "# schedule: %s run %" PRIu64 ": %s\n"
      "# failure: %s:%zu: %s: %s\n"
      "# replay: %s\n%s%s",
      how, found, fray_campaign_schedule_name(&j->c->o), f->run, desc, j->name, f->line,
      fray_fail_kind_name(f->kind), msg, replay, sw, fl);
}

/* Writes script as f's reproducer DIR/<stem>-<what>-<run>.fray. 0 or
 * FRAY_ENOMEM. */
static int write_reproducer(fray__cjob_t *j, fray_campaign_failure_t *f,
                            const fray_script_t *script, const char *what, const char *how,
                            int alone) {
  char *text = NULL;
  size_t len;
  int rc = fray_script_write_mem(script, &text, &len);
  char name[PATH_SIZE];
  file_name(j, what, f->run, name, sizeof name);
  char *path = rc ? NULL : fray__creport_strdup(j->r, name);
  char *header = path ? schedule_header(j, f, path, how, alone) : NULL;
  if (!rc && (!path || !header))
    rc = FRAY_ENOMEM;
  if (rc) {
    f->reproducer_note =
        fray__creport_printf(j->r, "%s: cannot write a reproducer: %s", j->name, fray_strerror(rc));
  } else if (!ensure_dir(j, &f->reproducer_note)) {
    int e = write_file(path, header, text, len);
    if (e)
      f->reproducer_note = fray__creport_printf(j->r, "cannot write %s: %s", path, strerror(e));
    else
      f->reproducer = path;
  }
  fray_script_text_free(script, text);
  return rc == FRAY_ENOMEM ? rc : 0;
}

int fray__crepro_schedule(fray__cjob_t *j, fray_campaign_failure_t *f) {
  fray_script_t *min = NULL;
  const char *how;
  int rc = fray__ctarget_reproducer(j->t, &min, &how);
  if (rc == FRAY_EINVAL) {
    f->reproducer_note = fray__creport_printf(
        j->r, "%s: the failure did not recur while minimising; no reproducer", j->name);
    return f->reproducer_note ? 0 : FRAY_ENOMEM;
  }
  if (rc) {
    f->reproducer_note =
        fray__creport_printf(j->r, "%s: cannot write a reproducer: %s", j->name, fray_strerror(rc));
    return rc == FRAY_ENOMEM ? rc : 0;
  }
  rc = write_reproducer(j, f, min, fray_strategy_name(j->c->o.strategy), how, 0);
  fray_script_free(min);
  return rc;
}

int fray__crepro_crash(fray__cjob_t *j, fray_campaign_failure_t *f, const fray_script_t *script,
                       const char *how, int alone) {
  return write_reproducer(j, f, script, f->kind == FRAY_FAIL_HANG ? "hang" : "crash", how, alone);
}

int fray__crepro_mutant(fray__cjob_t *j, const fray_script_t *m, uint64_t i, const char *what,
                        char *path, size_t size) {
  const char *note = NULL;
  if (!j->c->o.save_dir || j->dir_state < 0)
    return 0;
  if (ensure_dir(j, &note)) {
    j->r->note = note;
    return note ? 0 : FRAY_ENOMEM;
  }
  char *text = NULL, replay[2048], safe[512], header[4096];
  size_t len;
  file_name(j, "mutant", i, path, size);
  command(j, replay, sizeof replay);
  snprintf(replay + strlen(replay), sizeof replay - strlen(replay), " --schedule whole");
  add_word(replay, sizeof replay, path);
  snprintf(safe, sizeof safe, "%s", what);
  comment_safe(replay);
  comment_safe(safe);
  snprintf(header, sizeof header,
           "# Malformed variant %" PRIu64 " of %s, written by fray replay --mutate before it ran.\n"
           "# If fray crashed, this is the input that crashed it.\n"
           "# mutation: %s\n# replay: %s\n",
           i, j->name, safe, replay);
  int rc = fray_script_write_mem(m, &text, &len);
  int e = rc ? 0 : write_file(path, header, text, len);
  fray_script_text_free(m, text);
  if (e && !j->r->note &&
      !(j->r->note = fray__creport_printf(j->r, "cannot write %s: %s", path, strerror(e))))
    rc = FRAY_ENOMEM;
  return rc ? rc : !e;
}
