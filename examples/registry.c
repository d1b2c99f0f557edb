/* The table behind fray_example_find()/fray_example_at(): every bundled
 * handler, good ones first, then the deliberately buggy ones, then the
 * buggy ones' fixed twins. */
#include <string.h>

#include "examples.h"

static const fray_handler_t *const registry[] = {
    &fray_example_echo,
    &fray_example_chat,
    &fray_example_http,
    &fray_example_resp,
    &fray_example_lenrpc,
    &fray_example_wc,
    &fray_example_buggy_oneread,
    &fray_example_buggy_splitdelim,
    &fray_example_buggy_stackbuf,
    &fray_example_buggy_modeswitch,
    &fray_example_buggy_trustlen,
    &fray_example_buggy_closedbcast,
    &fray_example_buggy_maxread,
    &fray_example_buggy_wholeread,
    &fray_example_buggy_firstonly,
    &fray_example_buggy_crlfsplit,
    &fray_example_buggy_setdata,
    &fray_example_buggy_hdrsplit,
    &fray_example_buggy_headbody,
    &fray_example_buggy_lenshort,
    &fray_example_buggy_lenwhole,
    &fray_example_buggy_varint,
    &fray_example_buggy_bulkcount,
    &fray_example_buggy_errsplit,
    &fray_example_buggy_querylimit,
    &fray_example_buggy_maxlenline,
    &fray_example_buggy_eofreset,
    &fray_example_buggy_dotend,
    &fray_example_buggy_utf8split,
    &fray_example_buggy_nocompact,
    &fray_example_buggy_chunkcrlf,
    &fray_example_fixed_oneread,
    &fray_example_fixed_splitdelim,
    &fray_example_fixed_stackbuf,
    &fray_example_fixed_modeswitch,
    &fray_example_fixed_closedbcast,
    &fray_example_fixed_maxread,
    &fray_example_fixed_wholeread,
    &fray_example_fixed_firstonly,
    &fray_example_fixed_crlfsplit,
    &fray_example_fixed_setdata,
    &fray_example_fixed_hdrsplit,
    &fray_example_fixed_headbody,
    &fray_example_fixed_lenshort,
    &fray_example_fixed_lenwhole,
    &fray_example_fixed_varint,
    &fray_example_fixed_bulkcount,
    &fray_example_fixed_errsplit,
    &fray_example_fixed_querylimit,
    &fray_example_fixed_maxlenline,
    &fray_example_fixed_eofreset,
    &fray_example_fixed_dotend,
    &fray_example_fixed_utf8split,
    &fray_example_fixed_nocompact,
    &fray_example_fixed_chunkcrlf,
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
