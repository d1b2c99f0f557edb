/* fray/fray.h: umbrella header for libfray. */
#ifndef FRAY_FRAY_H
#define FRAY_FRAY_H

#include "fray/version.h"
#include "fray/common.h"
#include "fray/addr.h"
#include "fray/framer.h"
#include "fray/outq.h"
#include "fray/handler.h"
#include "fray/script.h"
#include "fray/sim.h"
#include "fray/fuzz.h"
#include "fray/replay.h"

#endif /* FRAY_FRAY_H */
