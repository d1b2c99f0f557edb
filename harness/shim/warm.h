/* The fuzz mode's forkserver, warmed with the pages its children use
 * (warm.c): fewer page faults in every exec. */
#ifndef FRAY_SHIM_WARM_H
#define FRAY_SHIM_WARM_H

#include <stdint.h>

/* In the process about to become the forkserver, before it forks its
 * first child: notes its mappings and arms the warming before each of its
 * forks. Does nothing when the kernel cannot populate page tables on
 * request (before Linux 5.14). */
void fray__warm_setup(void);
/* In a forked child, near the end of its exec number exec_no (from 1):
 * now and then (the first execs, then one in a thousand or so) says which
 * of the forkserver's pages it has in its page tables. */
void fray__warm_report(uint64_t exec_no);

#endif
