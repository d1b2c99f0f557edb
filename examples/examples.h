/* The bundled example handlers, by name. Not part of libfray's API: the
 * fray command and the tests link them. */
#ifndef FRAY_EXAMPLES_H
#define FRAY_EXAMPLES_H

#include <stddef.h>

#include "fray/handler.h"

/* The handler registered under name, or NULL. */
const fray_handler_t *fray_example_find(const char *name);

/* The i-th example (0-based) or NULL past the end: for listings. */
const fray_handler_t *fray_example_at(size_t i);

/* The handlers themselves (static storage, one per file). The protocols
 * are described in examples/README.md; each buggy handler's file starts
 * with a comment saying its bug, how fray finds it and the fix. */
extern const fray_handler_t fray_example_echo;
extern const fray_handler_t fray_example_chat;
extern const fray_handler_t fray_example_http;
extern const fray_handler_t fray_example_resp;
extern const fray_handler_t fray_example_lenrpc;
extern const fray_handler_t fray_example_buggy_oneread;
extern const fray_handler_t fray_example_buggy_splitdelim;
extern const fray_handler_t fray_example_buggy_stackbuf;
extern const fray_handler_t fray_example_buggy_modeswitch;
extern const fray_handler_t fray_example_buggy_trustlen;
extern const fray_handler_t fray_example_buggy_closedbcast;
extern const fray_handler_t fray_example_buggy_maxread;

#endif
