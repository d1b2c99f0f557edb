/* Player internals shared with the minimiser (fray_sim_bake_answers). Never
 * installed. */
#ifndef FRAY_PLAYER_INTERNAL_H
#define FRAY_PLAYER_INTERNAL_H

#include "fray/player.h"

/* Runs the script whole (each send one read, its own cuts kept) with
 * expectations off, moving all output to the clients after every step
 * (FRAY_WAIT_DRAIN), and notes after step i what client c has received in
 * all, in marks[i * nclients + c], and whether the server has ended its
 * connection, in ended[i * nclients + c] (both arrays nsteps * nclients
 * long). What the clients received stays readable through
 * fray_player_transcript() until the next run. Returns as fray_player_run(). */
int fray__player_record_steps(fray_player_t *p, size_t *marks, unsigned char *ended,
                              fray_result_t *res);

#endif
