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

/* Flags for fray_cli_escape. */
#define FRAY_CLI_ESC_QUOTE 1u /* also escape '"' (for output inside quotes) */

/* Worst-case output size of fray_cli_escape for len input bytes: every byte
 * can become a 4-character \xHH. */
#define FRAY_CLI_ESC_MAX(len) ((len) * 4)

/* Writes the escaped form of len bytes of in to out, which must hold
 * FRAY_CLI_ESC_MAX(len) bytes; returns the number of characters written (no
 * NUL terminator). Printable ASCII stands for itself except '\\' (and '"'
 * with FRAY_CLI_ESC_QUOTE); \r \n \t \0 use their short forms; every other
 * byte is \xHH in lowercase. The output decodes back to the input with
 * fray_cli_unescape. */
size_t fray_cli_escape(char *out, const uint8_t *in, size_t len, unsigned flags);

#endif /* FRAY_CLI_ESCAPE_H */
