/* fray/fray.h: umbrella header for libfray. */
#ifndef FRAY_FRAY_H
#define FRAY_FRAY_H

#include "fray/common.h"
#include "fray/framer.h"
#if __has_include("fray/outq.h")
#include "fray/outq.h"
#endif

#endif /* FRAY_FRAY_H */
