/* verdictsig.h: the signature `fray fuzz --exec` groups its crashes by
 * (docs/exec.md, "Fuzzing"): one write-up per distinct failure, however
 * many inputs of one bug AFL++ saved. */
#ifndef FRAY_CLI_VERDICTSIG_H
#define FRAY_CLI_VERDICTSIG_H

#include <stddef.h>

/* Writes to sig (len bytes, len > 0; always NUL-terminated, cut short
 * when it does not fit) the signature of the one-line verdict what (the
 * oracle's, a sanitizer's summary, or "the server died of signal N"): its
 * failure kind and message with what varies from one input of a bug to
 * the next normalised. Numbers become N (byte offsets, steps, clients as
 * in "c3", pids, ports, addresses) but for a signal's or an exit status's
 * and places in the code ("proto.c:258:5", "(srv+0x4f3a2)"); quoted data
 * becomes "..." (a long string's elided form counts as one); where the
 * failure showed is dropped: " in the whole run (the reference)", " (same
 * receive window)", a fault's note " (after the fault KIND: ...)". So
 * every split-invariance alarm of a run shares one signature, however
 * many framing bugs the server has. */
void fray_cli_verdict_signature(const char *what, char *sig, size_t len);

#endif /* FRAY_CLI_VERDICTSIG_H */
