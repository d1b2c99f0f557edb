/* Simulator internals shared with the minimiser. Never installed. */
#ifndef FRAY_SIM_INTERNAL_H
#define FRAY_SIM_INTERNAL_H

#include "fray/sim.h"

const fray_script_t *fray__sim_script(const fray_sim_t *sim);
const fray_handler_t *fray__sim_handler(const fray_sim_t *sim);
const fray_mem_t *fray__sim_mem(const fray_sim_t *sim);

#endif
