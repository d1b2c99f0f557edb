/* Byte escaping shared by the library's messages, the script writer and the
 * CLI. The language: \r \n \t \\ \" \0 \xHH; every other printable ASCII
 * byte stands for itself. What it prints reads back the same way. */
#ifndef FRAY_ESCAPE_INTERNAL_H
#define FRAY_ESCAPE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define FRAY__ESC_QUOTE 1u /* also escape '"' (output inside quotes) */

/* Worst-case output of fray__escape for len bytes. */
#define FRAY__ESC_MAX(len) ((len)*4)

/* Writes the escaped form of in[0..len) to out (room for FRAY__ESC_MAX(len)
 * characters, no NUL added); returns the characters written. */
size_t fray__escape(char *out, const uint8_t *in, size_t len, unsigned flags);

/* Escapes into buf of size bytes (always NUL-terminated when size > 0),
 * quoting with '"' and eliding the middle of long input as `" ... "` so that
 * the result fits; returns buf. */
char *fray__escape_quoted(char *buf, size_t size, const uint8_t *in, size_t len);

/* The value of hex digit c (either case), or -1. */
int fray__hexval(int c);

/* Reading the language back, one escape: s[0..n) is what follows a
 * backslash. Returns the byte it stands for (*used: the characters taken,
 * 1, or 3 for \xHH), FRAY__UNESC_BAD_HEX when \x lacks its two digits, or
 * FRAY__UNESC_UNKNOWN. The script parser and the command line both read
 * escapes through it, so what fray__escape writes always reads back. */
#define FRAY__UNESC_UNKNOWN (-1)
#define FRAY__UNESC_BAD_HEX (-2)
int fray__unescape1(const char *s, size_t n, size_t *used);

#endif
