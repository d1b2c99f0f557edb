/* What the buggy handlers of the segmentation benchmark share (bench/README.md,
 * "Segmentation bugs"). Each comes as a pair built from one source:
 * buggy-NAME carries the bug and fixed-NAME, the same code with the bug
 * fixed, is the handler every schedule must leave clean. Which of the two a
 * connection runs is read from the name its handler was registered under,
 * so the pair cannot drift apart: the fix is the one line that tests
 * fray_example_is_fixed(). */
#ifndef FRAY_EXAMPLES_TWINS_H
#define FRAY_EXAMPLES_TWINS_H

#include <stddef.h>
#include <stdint.h>

#include "../examples.h"

/* 1 when c is served by a fixed twin (a handler named "fixed-..."), else 0. */
int fray_example_is_fixed(fray_conn_t *c);

/* The PING/ECHO line protocol several of them speak: "PING" -> "PONG",
 * "ECHO text" -> "text", anything else -> "ERR unknown command"; each
 * answer ends in "\r\n". p[0..len) is the line without its delimiter.
 * Returns what fray_conn_send() returns. */
int fray_example_pingecho(fray_conn_t *c, const uint8_t *p, size_t len);

/* Takes byte b into the line buf[0..*len) (cap bytes) that a handler
 * reading raw keeps by hand: a full buffer refuses the line ("ERR line too
 * long", then c closes); a line completed by "\r\n" is answered with
 * fray_example_pingecho() and the buffer emptied. Returns 1 when a line
 * was answered, 0 when b was kept or the line refused (c is then no longer
 * FRAY_CONN_OPEN), or what fray_conn_send() returned when negative. */
int fray_example_line_byte(fray_conn_t *c, uint8_t *buf, size_t *len, size_t cap, uint8_t b);

/* Defines fray_example_buggy_ID ("buggy-NAME") and fray_example_fixed_ID
 * ("fixed-NAME") with the same callbacks, spec and sizes (the designated
 * initialisers after SUMMARY). */
#define FRAY_EXAMPLE_TWINS(ID, NAME, SUMMARY, ...)                                                 \
  const fray_handler_t fray_example_buggy_##ID = {                                                 \
      .name = "buggy-" NAME, .summary = "BUGGY: " SUMMARY, __VA_ARGS__};                           \
  const fray_handler_t fray_example_fixed_##ID = {                                                 \
      .name = "fixed-" NAME, .summary = "the fixed twin of buggy-" NAME, __VA_ARGS__}

#endif
