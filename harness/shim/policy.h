/* The shim's standing policies (`fray exec --reads/--writes`): how much of a
 * client connection's pending input one read returns, and how much of one
 * write the socket accepts. Pure logic, no I/O and no libc beyond string
 * functions, so that the shim (which links nothing of libfray), the fray
 * command (which checks the options before starting a program) and the
 * unit tests share one implementation. */
#ifndef FRAY_SHIM_POLICY_H
#define FRAY_SHIM_POLICY_H

#include <stddef.h>
#include <stdint.h>

typedef enum fray__shim_reads {
  FRAY_SHIM_READS_ALL = 0, /* untouched: what the kernel has, up to the buffer */
  FRAY_SHIM_READS_MAX,     /* at most max bytes per read (`1`, `max:N`) */
  FRAY_SHIM_READS_RANDOM   /* seeded cuts, biased to where framing bugs live */
} fray__shim_reads_t;

typedef struct fray__shim_policy {
  fray__shim_reads_t reads;
  size_t max;          /* FRAY_SHIM_READS_MAX: the cap (>= 1) */
  uint64_t read_seed;  /* FRAY_SHIM_READS_RANDOM */
  int short_writes;    /* 1: writes accept 1-16 bytes, EAGAIN sometimes */
  uint64_t write_seed; /* short_writes */
} fray__shim_policy_t;

/* Parses a --reads value: "1" (bytewise, as "max:1"), "max:N" (N >= 1),
 * "random" or "random:SEED" (decimal; no seed: 1), "all". Returns 0, or -1
 * for anything else (p's read fields are then untouched). */
int fray__shim_parse_reads(fray__shim_policy_t *p, const char *s);

/* Parses a --writes value: "short" or "short:SEED", "all". 0 or -1. */
int fray__shim_parse_writes(fray__shim_policy_t *p, const char *s);

/* splitmix64: the same generator as fray's schedules. Advances *state. */
uint64_t fray__shim_rand(uint64_t *state);

/* The per-connection generator state for connection number conn under
 * seed: each connection gets its own stream, the same for the same seed. */
uint64_t fray__shim_stream(uint64_t seed, uint64_t conn);

/* How many of the n (>= 1) bytes at d a random read returns (1..n): in one
 * read in four the whole of them (the kernel's merge stands), otherwise a
 * cut, three in four of them next to a line end, a NUL or a word start
 * when one is there, at the first or last byte otherwise. */
size_t fray__shim_random_cut(uint64_t *rng, const uint8_t *d, size_t n);

/* How many of len (>= 1) bytes a short write accepts: 1-16, or 0 for an
 * EAGAIN (drawn one time in four, only when nonblocking is set: a blocking
 * socket cannot say EAGAIN). The same draws as the simulator's fake
 * sockets. */
size_t fray__shim_write_take(uint64_t *rng, size_t len, int nonblocking);

#endif
