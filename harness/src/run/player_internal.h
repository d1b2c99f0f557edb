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

/* The reference record of client once there is one (after
 * fray_player_record_reference()): what it received and how the server
 * ended its connection (0 open, 1 FIN, 2 RST). Borrowed until the next
 * reference. 0, or FRAY_ERANGE (no reference, or no such client). */
int fray__player_reference(const fray_player_t *p, size_t client, const uint8_t **rx, size_t *len,
                           int *end);

/* How the server ended client's connection in the last run: 0 open, 1
 * FIN, 2 RST (the end codes of the reference records). */
int fray__player_end(const fray_player_t *p, size_t client);

/* Sets client's reference record (rx copied), for a transport whose
 * reference run happened in another process (the shim's fuzz mode plays
 * each run in its own fork of the server); from then on
 * fray_player_check_invariance() compares against it. Clients not set
 * keep an empty, open record. 0, FRAY_ERANGE (no such client or end),
 * FRAY_ENOMEM. */
int fray__player_set_reference(fray_player_t *p, size_t client, const uint8_t *rx, size_t len,
                               int end);

/* What a transport last told its server of a client's receive window
 * (fray_player_room()), so that it tells it again only when the room
 * changed other than by what the client received: the --exec transport
 * (ROOM on the control channel) and the fuzz shim (in place). */
typedef struct fray__room {
  size_t told; /* the room given, SIZE_MAX: no limit */
  uint64_t at; /* the client's bytes received then */
  uint64_t rx; /* its bytes received (the transport counts them) */
} fray__room_t;

/* Whether client's room now differs from what is left of the room told
 * in r: then r takes it as told now and *room is it (SIZE_MAX: no
 * limit). */
int fray__room_changed(const fray_player_t *p, size_t client, fray__room_t *r, size_t *room);

#endif
