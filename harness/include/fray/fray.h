/* fray/fray.h: umbrella header for libfray: every public header, in the
 * order of the layers (the runtime a handler runs on, what a session is,
 * what runs one). The libevent adapter, fray/event.h, is a library of its
 * own (fray::event) and is not included. */
#ifndef FRAY_FRAY_H
#define FRAY_FRAY_H

#include "fray/version.h"
#include "fray/common.h"
#include "fray/addr.h"
#include "fray/framer.h"
#include "fray/outq.h"
#include "fray/handler.h"
#include "fray/driver.h"
#include "fray/script.h"
#include "fray/sched.h"
#include "fray/mutate.h"
#include "fray/pcap.h"
#include "fray/result.h"
#include "fray/player.h"
#include "fray/sim.h"
#include "fray/net.h"
#include "fray/fuzz.h"
#include "fray/replay.h"
#include "fray/exec.h"

#endif /* FRAY_FRAY_H */
