/* sim_paxos.h — a Paxos group (sequencer/paxos.h) in the simulator, with
 * an in-memory store that loses unsynced writes on crash and the safety
 * checks run after every event.
 *
 * sp_new builds R replicas of the core on one sim_t. Checked invariants
 * (the first violation is kept as text, see sp_error):
 *  - agreement: every learner's delivered log is a prefix of one common
 *    log (at most one value per slot across replicas);
 *  - no gaps / no repeats: deliveries arrive as slot 0, 1, 2 ... per
 *    replica, and a restarted core resumes exactly where delivery stopped;
 *  - validity: a non-empty chosen value was proposed, and no proposal is
 *    chosen in two slots;
 *  - promised ballots never go backwards on any acceptor, across restarts.
 * sp_fuzz runs one randomised schedule (client load, crashes, restarts,
 * partitions, loss/duplication/delay changes, then a healing phase and a
 * liveness check).
 */
#ifndef SIM_PAXOS_H
#define SIM_PAXOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"
#include "paxos.h"
#include "sim.h"

typedef struct sp_cluster sp_cluster_t;

#define SP_HEARTBEAT_US 1000
#define SP_ELECTION_US  10000

/* Creates R replicas (all up). Returns the cluster (caller owns;
 * sp_destroy). */
sp_cluster_t *sp_new(uint64_t seed, uint32_t replicas);
void sp_destroy(sp_cluster_t **self_p);

/* The simulator underneath (borrowed), for faults and time. */
sim_t *sp_sim(sp_cluster_t *c);
/* Core of replica r, NULL while it is down (borrowed). */
seq_paxos_t *sp_core(sp_cluster_t *c, uint32_t r);

/* Runs virtual time forward by us, checking after every event. Returns
 * false when an invariant broke (see sp_error). */
bool sp_run(sp_cluster_t *c, uint64_t us);
/* Returns the first invariant violation, or NULL. */
const char *sp_error(const sp_cluster_t *c);

/* Proposes a fresh value (a new id) at replica r. Returns the core's rc
 * (HB_BUSY when r is not the leader; HB_IO when r is down) and the id. */
hb_rc_t sp_propose(sp_cluster_t *c, uint32_t r, uint64_t *id);
/* Returns the up replica that is leader with the highest ballot, or -1. */
int sp_leader(sp_cluster_t *c);
/* Runs until some replica leads (at most max_us). Returns it or -1. */
int sp_wait_leader(sp_cluster_t *c, uint64_t max_us);

/* Crash loses the core and every unsynced store write. */
void sp_crash(sp_cluster_t *c, uint32_t r);
void sp_restart(sp_cluster_t *c, uint32_t r);
/* Makes replica r's store fail every sync (HB_IO) while on. */
void sp_fail_sync(sp_cluster_t *c, uint32_t r, bool on);

/* Deliveries of replica r (kept across its crashes). */
uint64_t sp_delivered_n(const sp_cluster_t *c, uint32_t r);
/* Returns the id in slot of r's log, 0 for a no-op, UINT64_MAX if none. */
uint64_t sp_delivered_id(const sp_cluster_t *c, uint32_t r, uint64_t slot);
/* Returns the slot id was chosen in, or UINT64_MAX. */
uint64_t sp_slot_of(const sp_cluster_t *c, uint64_t id);
/* Returns true when every up replica delivered the same number of slots. */
bool sp_converged(const sp_cluster_t *c);

/* Durable store contents of r: accepted ballot of slot (0 if none). */
uint64_t sp_store_accepted(const sp_cluster_t *c, uint32_t r, uint64_t slot);

/* Runs one randomised schedule for seed (R = 3 for even seeds, 5 for odd).
 * Returns true when every invariant held and the liveness check passed;
 * otherwise fills err. Adds the events processed to *events. */
bool sp_fuzz(uint64_t seed, char *err, size_t errlen, uint64_t *events);

#endif
