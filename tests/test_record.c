/* Tests for the session recorder shared by `fray proxy --record` and the
 * capture importer (harness/src/session/record.c): naming, merging,
 * control steps, the byte cap, and the file writer's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session/record.h"

static char *script_text(const fray_script_t *s) {
  char *text;
  size_t len;
  assert_int_equal(fray_script_write_mem(s, &text, &len), 0);
  char *copy = strdup(text);
  fray_script_text_free(s, text);
  return copy;
}

static void expect_text(fray__rec_t *r, const char *want) {
  assert_int_equal(fray__rec_flush(r), 0);
  char *got = script_text(fray__rec_script(r));
  if (strcmp(got, want)) {
    print_error("got:\n%s\nwant:\n%s", got, want);
    free(got);
    fail();
  }
  free(got);
}

static void test_record_merges_and_orders_steps(void **state) {
  (void)state;
  fray__rec_t r;
  assert_int_equal(fray__rec_init(&r, NULL, 0), 0);
  size_t a, b;
  assert_int_equal(fray__rec_open(&r, &a), 0);
  assert_int_equal(fray__rec_open(&r, &b), 0);
  assert_int_equal(fray__rec_data(&r, a, 0, "PI", 2), 0);
  assert_int_equal(fray__rec_data(&r, a, 0, "NG\n", 3), 0); /* one step with "PI" */
  assert_int_equal(fray__rec_data(&r, b, 0, "x", 1), 0);
  assert_int_equal(fray__rec_data(&r, a, 1, "PONG\n", 5), 0);
  assert_int_equal(fray__rec_ctl(&r, a, FRAY_STEP_SHUTDOWN), 0);
  assert_int_equal(fray__rec_ctl(&r, b, FRAY_STEP_RESET), 0);
  assert_int_equal(fray__rec_ctl(&r, a, FRAY_STEP_EXPECT_EOF), 0);
  assert_int_equal(fray__rec_ctl(&r, a, FRAY_STEP_CLOSE), 0);
  expect_text(&r, "open c1\nopen c2\nc1 > \"PING\\n\"\nc2 > \"x\"\nc1 < \"PONG\\n\"\nc1 > eof\n"
                  "reset c2\nc1 < eof\nclose c1\n");
  assert_int_equal(r.total, 11);
  fray__rec_free(&r);
}

static void test_record_names_reused_past_the_client_limit(void **state) {
  (void)state;
  fray__rec_t r;
  assert_int_equal(fray__rec_init(&r, NULL, 0), 0);
  size_t c = 0;
  for (size_t i = 0; i < FRAY_SCRIPT_DEFAULT_MAX_CLIENTS; i++)
    assert_int_equal(fray__rec_open(&r, &c), 0);
  assert_int_equal(c, FRAY_SCRIPT_DEFAULT_MAX_CLIENTS - 1);
  assert_int_equal(fray__rec_open(&r, &c), FRAY_ERANGE); /* all open */
  assert_int_equal(fray__rec_ctl(&r, 7, FRAY_STEP_CLOSE), 0);
  fray__rec_release(&r, 7);
  assert_int_equal(fray__rec_ctl(&r, 3, FRAY_STEP_CLOSE), 0);
  fray__rec_release(&r, 3);
  assert_int_equal(fray__rec_open(&r, &c), 0);
  assert_int_equal(c, 7); /* the oldest released name first */
  assert_int_equal(fray__rec_open(&r, &c), 0);
  assert_int_equal(c, 3);
  assert_int_equal(fray__rec_open(&r, &c), FRAY_ERANGE);
  fray__rec_free(&r);
}

static void test_record_byte_cap(void **state) {
  (void)state;
  fray__rec_t r;
  assert_int_equal(fray__rec_init(&r, NULL, 10), 0);
  size_t c;
  assert_int_equal(fray__rec_open(&r, &c), 0);
  assert_int_equal(fray__rec_data(&r, c, 0, "0123456", 7), 0);
  assert_int_equal(fray__rec_data(&r, c, 0, "7890", 4), FRAY_ETOOLONG);
  assert_int_equal(fray__rec_data(&r, c, 1, "789", 3), 0); /* exactly full */
  assert_int_equal(fray__rec_data(&r, c, 1, "x", 1), FRAY_ETOOLONG);
  fray_script_t *s = fray__rec_take(&r);
  assert_non_null(s);
  assert_null(fray__rec_script(&r));
  fray__rec_free(&r);
  char *text = script_text(s);
  assert_string_equal(text, "open c1\nc1 > \"0123456\"\nc1 < \"789\"\n");
  free(text);
  fray_script_free(s);
}

/* Entries of dir other than . and .. */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

static void test_record_write_file_refuses_what_is_not_a_file(void **state) {
  (void)state;
  char dir[] = "/tmp/fray-test-record-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256], victim[256], link[256], fifo[256];
  snprintf(path, sizeof path, "%s/s.fray", dir);
  snprintf(victim, sizeof victim, "%s/victim", dir);
  snprintf(link, sizeof link, "%s/link.fray", dir);
  snprintf(fifo, sizeof fifo, "%s/fifo.fray", dir);
  FILE *v = fopen(victim, "w");
  assert_non_null(v);
  fputs("keep", v);
  fclose(v);
  assert_int_equal(symlink("victim", link), 0);
  assert_int_equal(mkfifo(fifo, 0600), 0);

  fray__rec_t r;
  assert_int_equal(fray__rec_init(&r, NULL, 0), 0);
  size_t c;
  assert_int_equal(fray__rec_open(&r, &c), 0);
  assert_int_equal(fray__rec_flush(&r), 0);
  const fray_script_t *s = fray__rec_script(&r);
  char err[512];
  assert_int_equal(fray__rec_write_file(s, path, err, sizeof err), 0);
  assert_int_equal(fray__rec_write_file(s, path, err, sizeof err), 0); /* replaces a file */
  assert_int_equal(fray__rec_write_file(s, link, err, sizeof err), FRAY_EINVAL);
  assert_non_null(strstr(err, "not a regular file (a symbolic link)"));
  assert_int_equal(fray__rec_write_file(s, fifo, err, sizeof err), FRAY_EINVAL);
  assert_non_null(strstr(err, "a FIFO"));
  assert_int_equal(fray__rec_write_file(s, dir, err, sizeof err), FRAY_EINVAL);
  assert_int_equal(fray__rec_write_file(s, "/dev/null", err, sizeof err), FRAY_EINVAL);
  assert_int_equal(fray__rec_write_file(s, "/nonexistent/dir/x.fray", err, sizeof err), FRAY_EIO);
  assert_non_null(strstr(err, "/nonexistent/dir/x.fray: cannot create a temporary file"));
  fray__rec_free(&r);

  struct stat sb;
  assert_int_equal(lstat(path, &sb), 0);
  assert_true(S_ISREG(sb.st_mode));
  v = fopen(victim, "r");
  char buf[16] = "";
  assert_non_null(fgets(buf, sizeof buf, v));
  fclose(v);
  assert_string_equal(buf, "keep");
  assert_int_equal(count_entries(dir), 4); /* no temporary left behind */
  unlink(path);
  unlink(victim);
  unlink(link);
  unlink(fifo);
  assert_int_equal(rmdir(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_merges_and_orders_steps),
      cmocka_unit_test(test_record_names_reused_past_the_client_limit),
      cmocka_unit_test(test_record_byte_cap),
      cmocka_unit_test(test_record_write_file_refuses_what_is_not_a_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
