/* zipw.h: the smallest zip writer that OSS-Fuzz, ClusterFuzzLite, unzip and
 * Python's zipfile read: entries stored (no compression: seeds are small and
 * already dense), CRC-32 per entry, no zip64 (fewer than 65,535 entries, each
 * and the whole archive under 4 GiB). Every entry is dated 1980-01-01 00:00,
 * so the same inputs always give the same bytes and a regenerated seed zip
 * shows in git only when its content changed.
 *
 *   fray_cli_zip_t *z;
 *   if (!fray_cli_zip_new(&z, fp)) {
 *     fray_cli_zip_add(z, "seed-1", data, len);   // as often as needed
 *     rc = fray_cli_zip_finish(z);                // central directory
 *   }
 *   fray_cli_zip_free(z);
 */
#ifndef FRAY_CLI_ZIPW_H
#define FRAY_CLI_ZIPW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct fray_cli_zip fray_cli_zip_t;

/* A writer appending to fp, which stays the caller's (not closed here).
 * 0, or FRAY_ENOMEM. */
int fray_cli_zip_new(fray_cli_zip_t **out, FILE *fp);

/* Writes one entry named name (a relative path, under 65,536 bytes) holding
 * len bytes of data. 0; FRAY_ERANGE when the entry, the entry count or the
 * archive would need zip64; FRAY_EIO when writing fails; FRAY_ENOMEM. After
 * an error only fray_cli_zip_free() is meaningful. */
int fray_cli_zip_add(fray_cli_zip_t *z, const char *name, const uint8_t *data, size_t len);

/* Writes the central directory, which makes the archive complete; fp is
 * flushed. 0, FRAY_ERANGE or FRAY_EIO. */
int fray_cli_zip_finish(fray_cli_zip_t *z);

/* The number of entries added so far. */
size_t fray_cli_zip_count(const fray_cli_zip_t *z);

/* Frees the writer (NULL accepted); fp is left open. */
void fray_cli_zip_free(fray_cli_zip_t *z);

#endif /* FRAY_CLI_ZIPW_H */
