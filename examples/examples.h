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
extern const fray_handler_t fray_example_wc;
extern const fray_handler_t fray_example_buggy_oneread;
extern const fray_handler_t fray_example_buggy_splitdelim;
extern const fray_handler_t fray_example_buggy_stackbuf;
extern const fray_handler_t fray_example_buggy_modeswitch;
extern const fray_handler_t fray_example_buggy_trustlen;
extern const fray_handler_t fray_example_buggy_closedbcast;
extern const fray_handler_t fray_example_buggy_maxread;
extern const fray_handler_t fray_example_buggy_wholeread;
extern const fray_handler_t fray_example_buggy_firstonly;
extern const fray_handler_t fray_example_buggy_crlfsplit;
extern const fray_handler_t fray_example_buggy_setdata;
extern const fray_handler_t fray_example_buggy_hdrsplit;
extern const fray_handler_t fray_example_buggy_headbody;
extern const fray_handler_t fray_example_buggy_lenshort;
extern const fray_handler_t fray_example_buggy_lenwhole;
extern const fray_handler_t fray_example_buggy_varint;
extern const fray_handler_t fray_example_buggy_bulkcount;
extern const fray_handler_t fray_example_buggy_errsplit;
extern const fray_handler_t fray_example_buggy_querylimit;
extern const fray_handler_t fray_example_buggy_maxlenline;
extern const fray_handler_t fray_example_buggy_eofreset;
extern const fray_handler_t fray_example_buggy_dotend;
extern const fray_handler_t fray_example_buggy_utf8split;
extern const fray_handler_t fray_example_buggy_nocompact;
extern const fray_handler_t fray_example_buggy_chunkcrlf;
/* The fixed twins (examples/buggy/twins.h): the same code, bug fixed. */
extern const fray_handler_t fray_example_fixed_oneread;
extern const fray_handler_t fray_example_fixed_splitdelim;
extern const fray_handler_t fray_example_fixed_stackbuf;
extern const fray_handler_t fray_example_fixed_modeswitch;
extern const fray_handler_t fray_example_fixed_closedbcast;
extern const fray_handler_t fray_example_fixed_maxread;
extern const fray_handler_t fray_example_fixed_wholeread;
extern const fray_handler_t fray_example_fixed_firstonly;
extern const fray_handler_t fray_example_fixed_crlfsplit;
extern const fray_handler_t fray_example_fixed_setdata;
extern const fray_handler_t fray_example_fixed_hdrsplit;
extern const fray_handler_t fray_example_fixed_headbody;
extern const fray_handler_t fray_example_fixed_lenshort;
extern const fray_handler_t fray_example_fixed_lenwhole;
extern const fray_handler_t fray_example_fixed_varint;
extern const fray_handler_t fray_example_fixed_bulkcount;
extern const fray_handler_t fray_example_fixed_errsplit;
extern const fray_handler_t fray_example_fixed_querylimit;
extern const fray_handler_t fray_example_fixed_maxlenline;
extern const fray_handler_t fray_example_fixed_eofreset;
extern const fray_handler_t fray_example_fixed_dotend;
extern const fray_handler_t fray_example_fixed_utf8split;
extern const fray_handler_t fray_example_fixed_nocompact;
extern const fray_handler_t fray_example_fixed_chunkcrlf;

#endif
