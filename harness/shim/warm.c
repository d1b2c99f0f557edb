/* The forkserver's page tables, warmed with the pages its children use.
 *
 * fork() copies the parent's page table entries only for the mappings
 * that hold anonymous pages (those with an anon_vma); for the others (the
 * code and read-only data of the server and its libraries) the child
 * faults each page in again, and a page of zeroed memory the parent never
 * touched (a table the server scans) costs a fault in every child too. In
 * a fuzz exec of a small server that is half of the child's page faults,
 * and a fault costs microseconds.
 *
 * So the children say which pages they had (from /proc/self/pagemap, in
 * their first execs and then now and then) in a bitmap every fork shares,
 * and the forkserver, before each fork, faults in the pages new there
 * (MADV_POPULATE_READ: no write, nothing a sanitizer could see) and gives
 * each read-only file mapping it populates an anon_vma (one of its pages
 * written: mprotect, MADV_POPULATE_WRITE, mprotect back; the page's copy
 * has the same bytes), so that every later fork copies those entries. A
 * page the children write still faults in each of them (copy-on-write).
 * The forkserver populates only what children had: a page no child needs
 * would only make each fork copy more. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "warm.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE 4096u
#define RANGES 256                    /* the forkserver's mappings followed */
#define PAGES (1u << 18)              /* their pages, at most (1 GiB) */
#define RANGE_MAX (64u << 20)         /* bigger ones (sanitizer shadows) are left out */
#define FIRST 64                      /* execs that all report */
#define EVERY 1024                    /* then one in this many */
#define BATCH 512                     /* pagemap entries read at once */
#define PRESENT (UINT64_C(1) << 63)   /* pagemap: the page is in the page table */
#define FILE_PAGE (UINT64_C(1) << 61) /* ... a file's page (or shared) */
#define EXCLUSIVE (UINT64_C(1) << 56) /* ... mapped by this process alone */

typedef struct range {
  uintptr_t lo, hi;
  uint32_t base; /* its first page's bit */
  int prot;
  uint8_t file; /* a file's private mapping, not writable: needs an anon_vma */
  uint8_t anon; /* ... and has one now */
} range_t;

typedef struct shared {
  _Atomic uint64_t gen; /* bumped when a child adds bits */
  _Atomic uint64_t bits[PAGES / 64];
} shared_t;

static struct {
  pid_t pid; /* the forkserver */
  shared_t *sh;
  uint64_t seen; /* sh->gen when the forkserver last warmed */
  size_t n;
  uint32_t pages;
  range_t r[RANGES];
  uint64_t done[PAGES / 64]; /* the forkserver's: pages populated */
} w;

/* One line of /proc/self/maps kept as a range, when it can be warmed:
 * private, readable, not the kernel's special mappings, not huge. */
static void add_range(const char *line) {
  unsigned long lo, hi, off, inode;
  char perms[5], dev[16];
  int name = 0;
  if (sscanf(line, "%lx-%lx %4s %lx %15s %lu %n", &lo, &hi, perms, &off, dev, &inode, &name) < 6)
    return;
  size_t np = (hi - lo) / PAGE;
  if (perms[0] != 'r' || perms[3] != 'p' || hi - lo > RANGE_MAX || w.n == RANGES ||
      np > PAGES - w.pages || (name && !strncmp(line + name, "[v", 2)))
    return;
  range_t *r = &w.r[w.n++];
  *r = (range_t){.lo = lo, .hi = hi, .base = w.pages};
  r->prot = PROT_READ | (perms[1] == 'w' ? PROT_WRITE : 0) | (perms[2] == 'x' ? PROT_EXEC : 0);
  r->file = inode != 0 && perms[1] != 'w';
  w.pages += (uint32_t)np;
}

/* A read-only file mapping gets an anon_vma: one page of it written. */
static void give_anon(range_t *r) {
  r->anon = 1;
  if (mprotect((void *)r->lo, r->hi - r->lo, r->prot | PROT_WRITE))
    return;
  madvise((void *)r->lo, PAGE, MADV_POPULATE_WRITE);
  mprotect((void *)r->lo, r->hi - r->lo, r->prot);
}

static int fresh(uint32_t bit) {
  uint64_t m = UINT64_C(1) << (bit % 64);
  return (atomic_load_explicit(&w.sh->bits[bit / 64], memory_order_relaxed) & m) &&
         !(w.done[bit / 64] & m);
}

/* Populates r's pages the children had and the forkserver has not, a run
 * of consecutive ones at a time. */
static void warm_range(range_t *r) {
  uint32_t np = (uint32_t)((r->hi - r->lo) / PAGE);
  for (uint32_t p = 0; p < np;) {
    if (!fresh(r->base + p)) {
      p++;
      continue;
    }
    uint32_t q = p;
    for (; q < np && fresh(r->base + q); q++)
      w.done[(r->base + q) / 64] |= UINT64_C(1) << ((r->base + q) % 64);
    if (r->file && !r->anon)
      give_anon(r);
    madvise((void *)(r->lo + (uintptr_t)p * PAGE), (size_t)(q - p) * PAGE, MADV_POPULATE_READ);
    p = q;
  }
}

/* Before each fork of the forkserver (an atfork handler): what children
 * reported since the last one. */
static void prepare(void) {
  if (getpid() != w.pid)
    return; /* an exec child's fork (the oracle's), or the server's own */
  uint64_t gen = atomic_load_explicit(&w.sh->gen, memory_order_acquire);
  if (gen == w.seen)
    return;
  w.seen = gen;
  for (size_t i = 0; i < w.n; i++)
    warm_range(&w.r[i]);
}

void fray__warm_setup(void) {
  uintptr_t self = (uintptr_t)&w & ~(uintptr_t)(PAGE - 1);
  if (w.sh || madvise((void *)self, PAGE, MADV_POPULATE_READ))
    return; /* no MADV_POPULATE_READ: nothing to warm with */
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f)
    return;
  char line[4096 + 128];
  while (fgets(line, sizeof line, f))
    add_range(line);
  fclose(f);
  void *m = mmap(NULL, sizeof(shared_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return;
  w.sh = m;
  w.pid = getpid();
  pthread_atfork(prepare, NULL, NULL);
}

/* A page this child has that the forkserver should have too: a file's
 * page, or an anonymous one it shares (the zero page it read, or the
 * forkserver's own). An anonymous page of its own it wrote: populating it
 * would only turn the next child's cheap first write (a fresh zeroed page)
 * into a copy-on-write of the zero page. */
static int wanted(uint64_t e) {
  return (e & PRESENT) && ((e & FILE_PAGE) || !(e & EXCLUSIVE));
}

/* Sets the bits of the wanted pages of this child among the range's;
 * returns 1 when one was new. */
static int report_range(int fd, const range_t *r) {
  uint64_t ent[BATCH];
  uint32_t np = (uint32_t)((r->hi - r->lo) / PAGE);
  int news = 0;
  for (uint32_t p = 0; p < np; p += BATCH) {
    uint32_t k = np - p < BATCH ? np - p : BATCH;
    off_t at = (off_t)((r->lo / PAGE + p) * sizeof *ent);
    ssize_t got = pread(fd, ent, k * sizeof *ent, at);
    for (uint32_t j = 0; got > 0 && j < (uint32_t)got / sizeof *ent; j++) {
      uint32_t bit = r->base + p + j;
      uint64_t m = UINT64_C(1) << (bit % 64);
      if (wanted(ent[j]) &&
          !(atomic_fetch_or_explicit(&w.sh->bits[bit / 64], m, memory_order_relaxed) & m))
        news = 1;
    }
  }
  return news;
}

void fray__warm_report(uint64_t exec_no) {
  if (!w.sh || (exec_no > FIRST && exec_no % EVERY))
    return;
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  int news = 0;
  for (size_t i = 0; i < w.n; i++)
    news |= report_range(fd, &w.r[i]);
  close(fd);
  if (news)
    atomic_fetch_add_explicit(&w.sh->gen, 1, memory_order_release);
}
