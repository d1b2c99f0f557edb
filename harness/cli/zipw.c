/* zipw.c: stored-only zip archives (PKWARE APPNOTE 6.3, sections 4.3.7
 * local header, 4.3.12 central directory, 4.3.16 end of central directory).
 * Seed corpora are what fray zips; the layout is in zipw.h. */
#include "zipw.h"

#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "fray/common.h"

#define ZIP_MAX_ENTRIES 0xffffu
#define ZIP_MAX_OFFSET 0xffffffffu
#define ZIP_DOS_DATE 0x21u /* 1980-01-01: day 1, month 1, year 0 */
#define ZIP_VERSION 10u    /* 1.0: stored entries need nothing newer */

typedef struct zip_entry {
  char *name;
  uint32_t crc, size, offset;
} zip_entry_t;

struct fray_cli_zip {
  FILE *fp;
  zip_entry_t *e;
  size_t n, cap;
  uint64_t offset; /* bytes written so far */
};

/* CRC-32 (IEEE 802.3, reflected, as zip uses it), bit by bit: seeds are a
 * few KiB, so a table would buy nothing measurable. */
static uint32_t crc32_of(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

/* Little-endian fields into a header buffer. */
static uint8_t *put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v) {
  return put16(put16(p, v & 0xffffu), v >> 16);
}

static int emit(fray_cli_zip_t *z, const void *p, size_t n) {
  if (n && fwrite(p, 1, n, z->fp) != n)
    return FRAY_EIO;
  z->offset += n;
  return 0;
}

/* The fields a local header and a central directory entry share, from
 * "version needed" to "extra field length". */
static uint8_t *put_common(uint8_t *p, const zip_entry_t *e, size_t name_len) {
  p = put16(p, ZIP_VERSION);
  p = put16(p, 0); /* flags */
  p = put16(p, 0); /* method: stored */
  p = put16(p, 0); /* time 00:00 */
  p = put16(p, ZIP_DOS_DATE);
  p = put32(p, e->crc);
  p = put32(p, e->size); /* compressed size: stored, the same */
  p = put32(p, e->size);
  p = put16(p, (uint32_t)name_len);
  return put16(p, 0); /* extra field length */
}

int fray_cli_zip_new(fray_cli_zip_t **out, FILE *fp) {
  *out = calloc(1, sizeof **out);
  if (!*out)
    return FRAY_ENOMEM;
  (*out)->fp = fp;
  return 0;
}

int fray_cli_zip_add(fray_cli_zip_t *z, const char *name, const uint8_t *data, size_t len) {
  size_t name_len = strlen(name);
  if (z->n >= ZIP_MAX_ENTRIES || name_len > 0xffffu || len > ZIP_MAX_OFFSET ||
      z->offset + 30 + name_len + len > ZIP_MAX_OFFSET)
    return FRAY_ERANGE;
  if (fray__grow(fray_mem_default(), (void **)&z->e, &z->cap, z->n + 1, sizeof *z->e))
    return FRAY_ENOMEM;
  zip_entry_t *e = &z->e[z->n];
  e->name = malloc(name_len + 1);
  if (!e->name)
    return FRAY_ENOMEM;
  memcpy(e->name, name, name_len + 1);
  e->crc = crc32_of(data, len);
  e->size = (uint32_t)len;
  e->offset = (uint32_t)z->offset;
  z->n++;
  uint8_t h[30], *p = put32(h, 0x04034b50u);
  put_common(p, e, name_len);
  int r = emit(z, h, sizeof h);
  if (!r)
    r = emit(z, name, name_len);
  if (!r)
    r = emit(z, data, len);
  return r;
}

int fray_cli_zip_finish(fray_cli_zip_t *z) {
  uint64_t start = z->offset;
  for (size_t i = 0; i < z->n; i++) {
    const zip_entry_t *e = &z->e[i];
    size_t name_len = strlen(e->name);
    uint8_t h[46], *p = put32(h, 0x02014b50u);
    p = put16(p, (3u << 8) | ZIP_VERSION); /* made by: Unix, so the mode below counts */
    p = put_common(p, e, name_len);
    p = put16(p, 0);                        /* comment length */
    p = put16(p, 0);                        /* disk number */
    p = put16(p, 0);                        /* internal attributes */
    p = put32(p, (uint32_t)0100644u << 16); /* a regular file, rw-r--r-- */
    put32(p, e->offset);
    int r = emit(z, h, sizeof h);
    if (!r)
      r = emit(z, e->name, name_len);
    if (r)
      return r;
  }
  if (z->offset > ZIP_MAX_OFFSET)
    return FRAY_ERANGE;
  uint8_t h[22], *p = put32(h, 0x06054b50u);
  p = put16(p, 0); /* this disk */
  p = put16(p, 0); /* the disk the directory starts on */
  p = put16(p, (uint32_t)z->n);
  p = put16(p, (uint32_t)z->n);
  p = put32(p, (uint32_t)(z->offset - start));
  p = put32(p, (uint32_t)start);
  put16(p, 0); /* comment length */
  int r = emit(z, h, sizeof h);
  if (!r && fflush(z->fp))
    r = FRAY_EIO;
  return r;
}

size_t fray_cli_zip_count(const fray_cli_zip_t *z) {
  return z->n;
}

void fray_cli_zip_free(fray_cli_zip_t *z) {
  if (!z)
    return;
  for (size_t i = 0; i < z->n; i++)
    free(z->e[i].name);
  free(z->e);
  free(z);
}
