/* Error table lookups, the default allocator, version. */
#include "fray/common.h"

#include <stdlib.h>

#include "core/internal.h"
#include "fray/version.h"

const char *fray_strerror(int err) {
  switch (err) {
#define FRAY_ERR_MSG_(name, val, msg)                                                              \
  case FRAY_##name:                                                                                \
    return msg;
    FRAY_ERRNO_MAP(FRAY_ERR_MSG_)
#undef FRAY_ERR_MSG_
  case FRAY_OK:
    return "success";
  default:
    return "unknown error";
  }
}

const char *fray_err_name(int err) {
  switch (err) {
#define FRAY_ERR_NAME_(name, val, msg)                                                             \
  case FRAY_##name:                                                                                \
    return #name;
    FRAY_ERRNO_MAP(FRAY_ERR_NAME_)
#undef FRAY_ERR_NAME_
  case FRAY_OK:
    return "OK";
  default:
    return "UNKNOWN";
  }
}

static void *default_malloc(size_t size, void *user_data) {
  (void)user_data;
  return malloc(size);
}

static void *default_realloc(void *ptr, size_t size, void *user_data) {
  (void)user_data;
  return realloc(ptr, size);
}

static void default_free(void *ptr, void *user_data) {
  (void)user_data;
  free(ptr);
}

static const fray_mem_t default_mem = {
    .malloc_fn = default_malloc,
    .realloc_fn = default_realloc,
    .free_fn = default_free,
    .user_data = NULL,
};

const fray_mem_t *fray_mem_default(void) {
  return &default_mem;
}

const char *fray_version(void) {
  return FRAY_VERSION_STRING;
}

void fray__mem_init(fray_mem_t *dst, const fray_mem_t *src) {
  *dst = src ? *src : default_mem;
}

int fray__grow_max(const fray_mem_t *m, void **p, size_t *cap, size_t need, size_t elem,
                   size_t max) {
  if (need <= *cap)
    return 0;
  if (!elem || need > SIZE_MAX / elem)
    return FRAY_ENOMEM;
  size_t c = *cap ? *cap : 64;
  while (c < need)
    c = c > SIZE_MAX / 2 ? need : c * 2;
  if (c > max && need <= max)
    c = max;
  if (c > SIZE_MAX / elem)
    c = need;
  void *np = fray__realloc(m, *p, c * elem);
  if (!np)
    return FRAY_ENOMEM;
  *p = np;
  *cap = c;
  return 0;
}
