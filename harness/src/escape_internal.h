/* Byte escaping shared by the library's messages, the script writer and the
 * CLI. The language: \r \n \t \\ \" \0 \xHH; every other printable ASCII
 * byte stands for itself. What it prints reads back the same way. */
#ifndef FRAY_ESCAPE_INTERNAL_H
#define FRAY_ESCAPE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define FRAY__ESC_QUOTE 1u /* also escape '"' (output inside quotes) */

/* Worst-case output of fray__escape for len bytes. */
#define FRAY__ESC_MAX(len) ((len) * 4)

/* Writes the escaped form of in[0..len) to out (room for FRAY__ESC_MAX(len)
 * characters, no NUL added); returns the characters written. */
size_t fray__escape(char *out, const uint8_t *in, size_t len, unsigned flags);

/* Escapes into buf of size bytes (always NUL-terminated when size > 0),
 * quoting with '"' and eliding the middle of long input as `" ... "` so that
 * the result fits; returns buf. */
char *fray__escape_quoted(char *buf, size_t size, const uint8_t *in, size_t len);

#endif
