/* escape.h: C-style escapes for the fray command line, shared by every
 * subcommand that takes bytes as an argument (--delim "\r\n") or prints
 * bytes as text (frames --format text, script quoting).
 *
 * The escape language is deliberately smaller than C's, so that what fray
 * prints reads back the same way:
 *   \r \n \t \\ \"   the usual characters
 *   \0               NUL (never an octal escape: "\012" is NUL, '1', '2')
 *   \xHH             exactly two hex digits, either case
 * Any other backslash sequence, and a trailing lone backslash, is an error.
 * Every other byte stands for itself. */
#ifndef FRAY_CLI_ESCAPE_H
#define FRAY_CLI_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the escapes of the NUL-terminated string s into out, which can
 * hold cap bytes (strlen(s) is always enough: decoding never lengthens).
 * Returns the decoded length, or -1 when s holds an unknown or malformed
 * escape (*bad is then set to its index in s) or when the result exceeds cap
 * (*bad is then set to strlen(s)). bad may be NULL. out is not terminated. */
long fray_cli_unescape(const char *s, uint8_t *out, size_t cap, size_t *bad);

/* Printing bytes in this language is the library's fray__escape()
 * (harness/src/escape_internal.h), which the script writer and the
 * simulator's messages use too: one table of escapes for all of fray. */

#endif /* FRAY_CLI_ESCAPE_H */
