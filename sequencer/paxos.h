/* paxos.h — the Multi-Paxos core that replicates one sequencer group's
 * input log (docs/architecture.md sections 2.4, 4, 5).
 *
 * One instance runs in each replica's sequencer of group g; together the R
 * instances are the group's proposers, acceptors and learners. The core is
 * pure: it talks to the world only through seq_paxos_io_t (send, clock,
 * timer, random, learner callback) and seq_paxos_store_t (durable acceptor
 * state). A process shell binds these to ZeroMQ and LevelDB; the simulator
 * (tests/sim/) binds them to virtual time, a faulty network and a store
 * that forgets unsynced writes on crash.
 *
 * Protocol: a stable leader runs phase 1 once for every slot >= its first
 * unchosen slot (PREPARE from_slot; PROMISEs page through every accepted
 * entry >= from_slot), adopts the highest-ballot value of each slot, fills
 * holes with no-ops (empty values), then runs phase 2 only
 * (ACCEPT/ACCEPTED), pipelined. A slot is chosen on a majority of ACCEPTED;
 * the leader broadcasts its commit index (COMMIT, also its heartbeat).
 * Followers that hear no leader for election_timeout_us plus jitter start
 * phase 1 with a higher ballot; a NACK or any higher ballot makes a
 * proposer step down. Learners deliver chosen slots exactly once, in slot
 * order, with no gaps, fetching what they miss (FETCH -> CHOSEN).
 *
 * Durability: promises, the highest round used and accepted entries are
 * written and synced before any reply that depends on them; chosen entries
 * are written and synced before the learner callback sees them, so after a
 * restart delivery resumes at seq_paxos_chosen_end() with nothing repeated.
 *
 * Frames are self-contained msgpack arrays [type, group, ...] (see
 * paxos.c); a frame for another group, of an unknown type or malformed is
 * counted and dropped, never trusted.
 */
#ifndef PAXOS_H
#define PAXOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"
#include "hb_shell.h"

typedef struct seq_paxos seq_paxos_t;

/* A ballot is (round << 16) | replica: totally ordered, unique per
 * proposer. 0 means "none". */
#define SEQ_PAXOS_BALLOT(round, replica) (((uint64_t)(round) << 16) | (uint64_t)(replica))
#define SEQ_PAXOS_BALLOT_ROUND(b)        ((b) >> 16)
#define SEQ_PAXOS_BALLOT_REPLICA(b)      ((uint32_t)((b)&0xffffu))

/* Largest group size (acks are kept in a 32-bit mask). */
#define SEQ_PAXOS_MAX_REPLICAS 32
/* Slots an acceptor/learner keeps in memory beyond its first unchosen slot;
 * ACCEPTs further ahead are ignored (the replica catches up first). */
#define SEQ_PAXOS_WINDOW 1024

/* The one timer token the core arms (a periodic tick every heartbeat_us). */
#define SEQ_PAXOS_TIMER_TICK 0x7078u

typedef struct {
    uint32_t group;               /* Paxos group (partition) */
    uint32_t self;                /* this replica, < replicas */
    uint32_t replicas;            /* R, 1..SEQ_PAXOS_MAX_REPLICAS */
    uint64_t heartbeat_us;        /* leader heartbeat / tick period (> 0) */
    uint64_t election_timeout_us; /* silence before a follower runs for leader */
    uint32_t pipeline;            /* slots in flight at the leader (0: 128) */
    uint32_t max_value_bytes;     /* largest proposed value (0: 16 MiB - 64 KiB) */
    uint32_t max_frame_bytes;     /* paging limit of PROMISE/CHOSEN (0: 16 MiB) */
} seq_paxos_cfg_t;

/* The environment. Every function gets ctx back. */
typedef struct {
    void *ctx;
    /* Sends frame (copied) to replica `to` of the same group. Loss is fine:
     * the core retries. */
    void (*send)(void *ctx, uint32_t to, const void *frame, size_t len);
    /* Returns the current time in microseconds (monotonic enough). */
    uint64_t (*now_us)(void *ctx);
    /* Asks for seq_paxos_on_timer(token) after delay_us. */
    void (*timer)(void *ctx, uint64_t delay_us, uint64_t token);
    /* Returns 64 random bits (seeded in the simulator). */
    uint64_t (*random)(void *ctx);
    /* Learner callback: slot is chosen with value (borrowed for the call;
     * len 0 is a no-op filling a hole). Called exactly once per slot, in
     * slot order, without gaps, starting at seq_paxos_chosen_end() of a
     * fresh instance. The callback may call seq_paxos_propose. */
    void (*chosen)(void *ctx, uint64_t slot, const void *value, size_t len);
} seq_paxos_io_t;

/* Durable acceptor/learner state. Reads return borrowed pointers valid
 * until the next call into the store. Writes may stay volatile until
 * sync(); a crash loses every write after the last successful sync. */
typedef struct {
    void *ctx;
    /* Returns HB_OK with the promised ballot and highest round this replica
     * ever used as a proposer (both 0 for a new store), or HB_IO. */
    hb_rc_t (*get_meta)(void *ctx, uint64_t *promised, uint64_t *round);
    hb_rc_t (*put_meta)(void *ctx, uint64_t promised, uint64_t round);
    /* Returns HB_OK, HB_NOTFOUND (nothing accepted in slot) or HB_IO. */
    hb_rc_t (*get_accepted)(void *ctx, uint64_t slot, uint64_t *ballot,
                            const void **value, size_t *len);
    hb_rc_t (*put_accepted)(void *ctx, uint64_t slot, uint64_t ballot, const void *value,
                            size_t len);
    /* Returns HB_OK, HB_NOTFOUND (not chosen or truncated) or HB_IO. */
    hb_rc_t (*get_chosen)(void *ctx, uint64_t slot, const void **value, size_t *len);
    /* Chosen entries are written densely, in slot order. */
    hb_rc_t (*put_chosen)(void *ctx, uint64_t slot, const void *value, size_t len);
    /* Returns HB_OK with chosen_end (one past the last chosen slot) and
     * accepted_end (one past the highest accepted slot), or HB_IO. */
    hb_rc_t (*bounds)(void *ctx, uint64_t *chosen_end, uint64_t *accepted_end);
    /* Makes every earlier write durable. Returns HB_OK or HB_IO. */
    hb_rc_t (*sync)(void *ctx);
} seq_paxos_store_t;

typedef struct {
    uint64_t leader_changes; /* times the known leader changed */
    uint64_t elections;      /* phase 1 runs started here */
    uint64_t became_leader;  /* phase 1 runs won */
    uint64_t proposals;      /* values queued by seq_paxos_propose */
    uint64_t dropped;        /* queued proposals dropped on stepping down */
    uint64_t chosen;         /* slots delivered (no-ops included) */
    uint64_t noops;          /* no-op slots delivered */
    uint64_t last_chosen;    /* slot of the last delivery (valid if chosen > 0) */
    uint64_t promised;       /* highest ballot promised */
    uint64_t ballot;         /* own ballot when candidate/leader, else 0 */
    uint64_t nacks;          /* NACKs received */
    uint64_t fetches;        /* FETCH requests sent (catch-up) */
    uint64_t fetched;        /* slots learned from CHOSEN replies */
    uint64_t bad_frames;     /* frames rejected */
    uint64_t store_errors;   /* store calls that failed */
} seq_paxos_stats_t;

/* Creates the core for cfg (copied), loading durable state from store and
 * arming the tick timer. store and io are borrowed and must outlive the
 * core. Returns the core (caller owns; seq_paxos_destroy) or NULL with a
 * log line (bad cfg, store error). */
seq_paxos_t *seq_paxos_new(const seq_paxos_cfg_t *cfg, seq_paxos_store_t *store,
                           const seq_paxos_io_t *io);
void seq_paxos_destroy(seq_paxos_t **self_p);

/* Queues value (copied) for the next free slot. Returns HB_OK when queued
 * at the leader (it is chosen unless the leader loses leadership first),
 * HB_BUSY when this replica is not the leader (forward to
 * seq_paxos_leader), HB_INVALID for len 0 (reserved for no-ops), HB_TOOBIG
 * above max_value_bytes. */
hb_rc_t seq_paxos_propose(seq_paxos_t *self, const void *value, size_t len);

/* Handles one frame from replica `from` (borrowed). Bad frames are counted
 * and dropped. */
void seq_paxos_on_message(seq_paxos_t *self, uint32_t from, const void *frame,
                          size_t len);
/* Handles a timer armed through io->timer; unknown tokens are ignored. */
void seq_paxos_on_timer(seq_paxos_t *self, uint64_t token);

/* Returns true when this replica is the leader (phase 1 won, not deposed
 * as far as it knows). */
bool seq_paxos_is_leader(const seq_paxos_t *self);
/* Returns the replica believed to lead, or -1 when unknown. */
int seq_paxos_leader(const seq_paxos_t *self);
/* Returns one past the last slot delivered through io->chosen. */
uint64_t seq_paxos_chosen_end(const seq_paxos_t *self);
/* Returns the highest ballot this acceptor promised. */
uint64_t seq_paxos_promised(const seq_paxos_t *self);
/* Fills *st with the counters. */
void seq_paxos_stats(const seq_paxos_t *self, seq_paxos_stats_t *st);
/* Adds the counters to a status report (prefix "paxos_"). */
void seq_paxos_status(const seq_paxos_t *self, hb_status_t *st);

#endif
