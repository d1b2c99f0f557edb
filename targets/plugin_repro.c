/* `fray fuzz`'s reproducers (plugin_repro.h). They are made here, in the
 * driver, because an instrumented plugin (coverage counters, ASan) loads
 * only into a process with those runtimes: the fray command cannot load it,
 * the driver can. A crash while making one kills only this process; fray
 * fuzz then writes the session without answers. */
#include "plugin_repro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fray/fuzz.h"
#include "fray/sim.h"
#include "fuzzcli.h"

/* Reads the file at path into *out (malloc'd). 0 or -1. */
static int read_file(const char *path, uint8_t **out, size_t *len) {
  FILE *f = path ? fopen(path, "rb") : NULL;
  long n = -1;
  if (f && !fseek(f, 0, SEEK_END))
    n = ftell(f);
  *out = n >= 0 && !fseek(f, 0, SEEK_SET) ? malloc((size_t)n + 1) : NULL;
  int ok = *out && fread(*out, 1, (size_t)n, f) == (size_t)n;
  if (f)
    fclose(f);
  *len = ok ? (size_t)n : 0;
  return ok ? 0 : -1;
}

/* Writes text as `# ` comment lines, control bytes made '?'. */
static void comment(FILE *f, const char *prefix, const char *text) {
  fputs(prefix, f);
  for (const char *p = text; *p; p++) {
    if (*p == '\n')
      fputs("\n# ", f);
    else
      fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, f);
  }
  fputc('\n', f);
}

/* The session with answers, minimised; or as decoded when it cannot have
 * them. *answered says which. 0 or a fray error code. */
static int shrink(const fray_handler_t *h, const fray_fuzz_session_t *sess, fray_script_t **out,
                  int *answered) {
  fray_sim_t *a = NULL, *b = NULL;
  fray_script_t *with = NULL;
  fray_sim_result_t res;
  const fray_sched_t *sched = fray_fuzz_session_sched(sess);
  *answered = 0;
  int r = fray_sim_new(&a, fray_fuzz_session_script(sess), h, NULL);
  if (!r)
    r = fray_sim_bake_answers(a, NULL, &with, &res);
  /* The session's schedule fits the answered script: the same sends in the
   * same order, expectations added between them. */
  if (!r && !(r = fray_sim_new(&b, with, h, NULL))) {
    r = fray_sim_minimize(b, sched, 0, out);
    if (r == FRAY_EINVAL) /* fails by no expectation (a bound, a difference only in closes) */
      r = fray_bake(with, sched, NULL, out);
    *answered = !r;
  }
  if (r == FRAY_EFAILED) /* the handler fails whole: nothing to answer with */
    r = fray_fuzz_session_bake(sess, out);
  fray_sim_free(b);
  fray_script_free(with);
  fray_sim_free(a);
  return r;
}

int fray_fuzz_plugin_repro(const fray_handler_t *h, const char *input, const char *out,
                           const char *header) {
  uint8_t *data;
  size_t len;
  if (read_file(input, &data, &len)) {
    fprintf(stderr, "fray fuzz: cannot read %s\n", input ? input : "(no input)");
    return FRAY_CLI_REPRO_UNWRITTEN;
  }
  fray_fuzz_report_t rep;
  fray_fuzz_session_t *sess = NULL;
  fray_script_t *min = NULL;
  int answered = 0, rc = FRAY_CLI_REPRO_UNWRITTEN;
  if (fray_fuzz_run(h, data, len, &rep) != FRAY_EFAILED) {
    printf("no failure: %s no longer fails (a flaky handler?)\n", input);
    rc = FRAY_CLI_REPRO_PASSES;
  } else if (!fray_fuzz_decode(&sess, data, len, h->name, NULL) &&
             !shrink(h, sess, &min, &answered)) {
    FILE *f = fopen(out, "w");
    if (f) {
      fputs(header ? header : "", f);
      comment(f, "# failure: ", rep.message);
      fputs(answered ? "# expectations: the handler's answers with one read per send; minimised\n"
                     : "# no expectations: the handler fails even with one read per send\n",
            f);
      fray_script_write(min, f);
    }
    if (f && !fclose(f)) {
      /* "fray fuzz: what\n  detail\n  schedule: ..." as "what: detail". */
      const char *nl = strchr(rep.message, '\n'), *d = nl ? nl + strspn(nl, "\n ") : "";
      const char *what = strncmp(rep.message, "fray fuzz: ", 11) ? rep.message : rep.message + 11;
      printf("%.*s%s%.*s\n", nl ? (int)(nl - what) : (int)strlen(what), what, *d ? ": " : "",
             (int)strcspn(d, "\n"), d);
      rc = answered ? FRAY_CLI_REPRO_ANSWERED : FRAY_CLI_REPRO_PLAIN;
    }
  }
  if (rc == FRAY_CLI_REPRO_UNWRITTEN)
    fprintf(stderr, "fray fuzz: cannot write %s\n", out);
  fray_script_free(min);
  fray_fuzz_session_free(sess);
  free(data);
  return rc;
}
