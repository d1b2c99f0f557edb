/* Tests for the CLI's zip writer (harness/cli/zipw.h), which `fray ci init`
 * writes seed corpora with: the bytes of an archive, read back field by
 * field as unzip reads them (local headers, central directory, end record),
 * CRC-32 against its standard check value, determinism, and the limits
 * that would need zip64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fray/common.h"
#include "zipw.h"

static uint32_t le16(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p) {
  return le16(p) | le16(p + 2) << 16;
}

/* The archive of entries (name, data) as written, in a malloc'd buffer. */
static uint8_t *make_zip(const char *const *names, const char *const *data, size_t n, size_t *len) {
  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);
  assert_non_null(f);
  fray_cli_zip_t *z;
  assert_int_equal(fray_cli_zip_new(&z, f), 0);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(fray_cli_zip_add(z, names[i], (const uint8_t *)data[i], strlen(data[i])), 0);
  assert_int_equal(fray_cli_zip_count(z), n);
  assert_int_equal(fray_cli_zip_finish(z), 0);
  fray_cli_zip_free(z);
  assert_int_equal(fclose(f), 0);
  *len = size;
  return (uint8_t *)buf;
}

static void test_layout(void **state) {
  (void)state;
  static const char *const names[] = {"check", "empty"};
  static const char *const data[] = {"123456789", ""};
  size_t len;
  uint8_t *z = make_zip(names, data, 2, &len);
  /* Local header of "check": stored, CRC-32 of "123456789" is 0xCBF43926. */
  assert_int_equal(le32(z), 0x04034b50u);
  assert_int_equal(le16(z + 8), 0); /* method: stored */
  assert_int_equal(le32(z + 14), 0xcbf43926u);
  assert_int_equal(le32(z + 18), 9);
  assert_int_equal(le32(z + 22), 9);
  assert_int_equal(le16(z + 26), 5);
  assert_memory_equal(z + 30, "check123456789", 14);
  /* Then "empty", CRC 0. */
  const uint8_t *e = z + 30 + 14;
  assert_int_equal(le32(e), 0x04034b50u);
  assert_int_equal(le32(e + 14), 0);
  assert_int_equal(le32(e + 18), 0);
  /* End record: 2 entries, and a directory where it says. */
  const uint8_t *end = z + len - 22;
  assert_int_equal(le32(end), 0x06054b50u);
  assert_int_equal(le16(end + 10), 2);
  uint32_t cd_size = le32(end + 12), cd_off = le32(end + 16);
  assert_int_equal(cd_off + cd_size, len - 22);
  const uint8_t *cd = z + cd_off;
  assert_int_equal(le32(cd), 0x02014b50u);
  assert_int_equal(le32(cd + 16), 0xcbf43926u);
  assert_int_equal(le32(cd + 42), 0);                /* offset of "check" */
  assert_int_equal(le32(cd + 38) >> 16, 0100644u);   /* a regular rw-r--r-- file */
  assert_int_equal(le32(cd + 46 + 5 + 42), 30 + 14); /* offset of "empty" */
  free(z);
}

static void test_deterministic(void **state) {
  (void)state;
  static const char *const names[] = {"a", "b"};
  static const char *const data[] = {"one\r\n", "two\r\n"};
  size_t l1, l2;
  uint8_t *z1 = make_zip(names, data, 2, &l1), *z2 = make_zip(names, data, 2, &l2);
  assert_int_equal(l1, l2);
  assert_memory_equal(z1, z2, l1); /* dates are fixed: same entries, same bytes */
  free(z1);
  free(z2);
}

static void test_empty_archive(void **state) {
  (void)state;
  size_t len;
  uint8_t *z = make_zip(NULL, NULL, 0, &len);
  assert_int_equal(len, 22);
  assert_int_equal(le32(z), 0x06054b50u);
  free(z);
}

static void test_name_too_long(void **state) {
  (void)state;
  FILE *f = tmpfile();
  assert_non_null(f);
  fray_cli_zip_t *z;
  assert_int_equal(fray_cli_zip_new(&z, f), 0);
  char *name = malloc(70000);
  assert_non_null(name);
  memset(name, 'x', 69999);
  name[69999] = '\0';
  assert_int_equal(fray_cli_zip_add(z, name, (const uint8_t *)"", 0), FRAY_ERANGE);
  assert_int_equal(fray_cli_zip_count(z), 0);
  free(name);
  fray_cli_zip_free(z);
  fclose(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layout),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_empty_archive),
      cmocka_unit_test(test_name_too_long),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
