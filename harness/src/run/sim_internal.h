/* Simulator internals shared with the minimiser. Never installed. */
#ifndef FRAY_SIM_INTERNAL_H
#define FRAY_SIM_INTERNAL_H

#include "fray/sim.h"

const fray_script_t *fray__sim_script(const fray_sim_t *sim);
const fray_handler_t *fray__sim_handler(const fray_sim_t *sim);
const fray_mem_t *fray__sim_mem(const fray_sim_t *sim);

/* From the next run on, the server and its connections are allocated with
 * *mem (copied) instead of the simulator's allocator: the fuzz driver keeps
 * its own objects in a per-input arena but gives the handler's fresh heap
 * blocks, so the sanitizers see a use after close. */
void fray__sim_set_server_mem(fray_sim_t *sim, const fray_mem_t *mem);

/* Runs the script whole (each send one read, its own cuts kept) with
 * expectations off, moving all output to the clients after every step, and
 * notes after step i what client c has received in all, in
 * marks[i * nclients + c], and whether the server has ended its connection,
 * in ended[i * nclients + c] (both arrays nsteps * nclients long). What the
 * clients received stays readable through fray__sim_received() until the
 * next run. Returns as fray_sim_run(). */
int fray__sim_record_steps(fray_sim_t *sim, size_t *marks, unsigned char *ended,
                           fray_sim_result_t *res);
const uint8_t *fray__sim_received(const fray_sim_t *sim, size_t client);

/* Bytes the C library's heap holds (glibc's mallinfo2); 0 where that cannot
 * be told (other libcs, sanitizer allocators). */
size_t fray__heap_in_use(void);

#endif
