/* The table behind fray_example_find()/fray_example_at(): every bundled
 * handler, good ones first, then the deliberately buggy ones. */
#include <string.h>

#include "examples.h"

static const fray_handler_t *const registry[] = {
    &fray_example_echo,
    &fray_example_chat,
    &fray_example_http,
    &fray_example_resp,
    &fray_example_lenrpc,
    &fray_example_buggy_oneread,
    &fray_example_buggy_splitdelim,
    &fray_example_buggy_stackbuf,
    &fray_example_buggy_modeswitch,
    &fray_example_buggy_trustlen,
    &fray_example_buggy_closedbcast,
    &fray_example_buggy_maxread,
};

const fray_handler_t *fray_example_find(const char *name) {
  if (!name)
    return NULL;
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
    if (!strcmp(registry[i]->name, name))
      return registry[i];
  return NULL;
}

const fray_handler_t *fray_example_at(size_t i) {
  return i < sizeof registry / sizeof registry[0] ? registry[i] : NULL;
}
