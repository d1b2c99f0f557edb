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

#endif
