/* fray/common.h: what every fray module shares: export macro, the signed size
 * type, the error table, and the injectable allocator.
 *
 * Error convention: functions return 0 (or a non-negative count) on success
 * and a negative FRAY_E* code on failure. FRAY_EAGAIN always means "not yet,
 * call again with more input or later", never failure. */
#ifndef FRAY_COMMON_H
#define FRAY_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FRAY_BUILDING) && defined(__GNUC__)
#define FRAY_EXTERN __attribute__((visibility("default")))
#else
#define FRAY_EXTERN
#endif

/* "count or negative error"; ssize_t is POSIX, not C11. */
typedef ptrdiff_t fray_ssize_t;

/* The one error table. XX(name, value, message). Values are stable: append,
 * never renumber. */
#define FRAY_ERRNO_MAP(XX)                                                                         \
  XX(EAGAIN, -1, "resource temporarily unavailable; try again")                                    \
  XX(ENOMEM, -2, "out of memory")                                                                  \
  XX(EINVAL, -3, "invalid argument")                                                               \
  XX(ETOOLONG, -4, "frame longer than the configured maximum")                                     \
  XX(EBADLEN, -5, "bad length field")                                                              \
  XX(ETRUNCATED, -6, "stream ended inside a frame")                                                \
  XX(ECLOSED, -7, "object was closed")                                                             \
  XX(ECALLBACK, -8, "a callback asked to abort")                                                   \
  XX(ESTATE, -9, "call not allowed in the current state")                                          \
  XX(EIO, -10, "input/output error")                                                               \
  XX(ENOENT, -11, "no such file, name or entry")                                                   \
  XX(ESYNTAX, -12, "syntax error")                                                                 \
  XX(EFAILED, -13, "check failed")                                                                 \
  XX(EFATAL, -14, "fatal error: only free is allowed now")                                         \
  XX(ETIMEDOUT, -15, "timed out")                                                                  \
  XX(ECONNREFUSED, -16, "connection refused")                                                      \
  XX(ECONNRESET, -17, "connection reset by peer")                                                  \
  XX(ERANGE, -18, "value out of range")                                                            \
  XX(EPROTO, -19, "protocol error")                                                                \
  XX(EUNSUPPORTED, -20, "not supported")                                                           \
  XX(EINEXACT, -21, "the run could not be carried out as scheduled")

enum fray_errno {
#define FRAY_ERR_ENUM_(name, val, msg) FRAY_##name = (val),
  FRAY_ERRNO_MAP(FRAY_ERR_ENUM_)
#undef FRAY_ERR_ENUM_
      FRAY_OK = 0
};

/* A callback returns 0 to go on, FRAY_PAUSE to stop delivering for now
 * (the driver returns what it consumed so far), or a negative code to abort. */
#define FRAY_PAUSE 1

/* Human-readable message for an error code; "unknown error" for codes not in
 * the table. Never NULL, never aborts; the string is static. */
FRAY_EXTERN const char *fray_strerror(int err);

/* The code's name without prefix ("ETOOLONG"); "UNKNOWN" for codes not in
 * the table. Never NULL; static storage. */
FRAY_EXTERN const char *fray_err_name(int err);

/* Injectable allocator. Every allocation fray makes goes through one of
 * these, so tests can fail the Nth allocation. A NULL fray_mem_t pointer
 * wherever one is accepted means the C library's malloc/realloc/free.
 * The struct is copied by the object that takes it; user_data is passed back
 * untouched. */
typedef struct fray_mem {
  void *(*malloc_fn)(size_t size, void *user_data);
  void *(*realloc_fn)(void *ptr, size_t size, void *user_data);
  void (*free_fn)(void *ptr, void *user_data);
  void *user_data;
} fray_mem_t;

/* The default allocator (malloc/realloc/free). Static storage. */
FRAY_EXTERN const fray_mem_t *fray_mem_default(void);

/* The linked library's version as "MAJOR.MINOR.PATCH" (FRAY_VERSION_STRING
 * of the fray/version.h it was built with); static storage. */
FRAY_EXTERN const char *fray_version(void);

#ifdef __cplusplus
}
#endif
#endif /* FRAY_COMMON_H */
