/* sim.h — a deterministic discrete-event simulator for protocol cores.
 *
 * docs/architecture.md section 4: cores are tested against a world with virtual time,
 * a seeded PRNG (splitmix64; no global rand) and a network that drops,
 * duplicates, delays, reorders (random per-message delay) and partitions
 * messages, plus crash/restart of nodes. The simulator owns only time, the
 * network and timers; what a crash loses (unsynced writes) is modelled by
 * the harness's store, which the harness resets in its crash hook.
 *
 * Everything is a pure function of the seed: running a seed twice replays
 * the same schedule. Events at the same virtual time run in insertion order.
 * Timers belong to a node incarnation: a crash cancels them. Messages in
 * flight survive a crash of their destination only if it is up again when
 * they arrive.
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim sim_t;

/* Callbacks into the harness; data is borrowed for the call. */
typedef struct {
    void *ctx;
    void (*deliver)(void *ctx, uint32_t to, uint32_t from, const void *data, size_t len);
    void (*timer)(void *ctx, uint32_t node, uint64_t token);
    /* A harness event scheduled with sim_at (client requests, faults ...). */
    void (*user)(void *ctx, uint32_t node, uint64_t token);
} sim_ops_t;

/* Network behaviour for messages sent from now on. */
typedef struct {
    uint32_t drop_ppm;     /* probability of loss, parts per million */
    uint32_t dup_ppm;      /* probability of a second copy */
    uint64_t delay_min_us; /* each copy is delayed uniformly in [min, max] */
    uint64_t delay_max_us;
} sim_net_t;

typedef struct {
    uint64_t events;     /* events processed */
    uint64_t sent;       /* messages handed to the network */
    uint64_t dropped;    /* lost (random, cut link, down node) */
    uint64_t duplicated; /* extra copies */
    uint64_t delivered;  /* handed to deliver */
} sim_stats_t;

/* Creates a world of `nodes` nodes, all up, fully connected, with a
 * reliable network (delay 100..1000 us). ops is copied. Returns the
 * simulator (caller owns; sim_destroy). */
sim_t *sim_new(uint64_t seed, uint32_t nodes, const sim_ops_t *ops);
void sim_destroy(sim_t **self_p);

/* Returns the virtual time in microseconds (starts at 1 s). */
uint64_t sim_now(const sim_t *self);
/* Returns 64 pseudo-random bits from the seeded generator. */
uint64_t sim_rand(sim_t *self);
/* Returns a uniform value in [0, n) (0 when n is 0). */
uint64_t sim_below(sim_t *self, uint64_t n);
/* Returns true with probability ppm / 1e6. */
bool sim_chance(sim_t *self, uint32_t ppm);

void sim_set_net(sim_t *self, const sim_net_t *net);
sim_net_t sim_get_net(const sim_t *self);

/* Sends a copy of data from -> to through the faulty network. */
void sim_send(sim_t *self, uint32_t from, uint32_t to, const void *data, size_t len);
/* Fires ops.timer(node, token) after delay_us unless node crashes first. */
void sim_timer(sim_t *self, uint32_t node, uint64_t delay_us, uint64_t token);
/* Fires ops.user(node, token) after delay_us (regardless of crashes). */
void sim_at(sim_t *self, uint64_t delay_us, uint32_t node, uint64_t token);

/* Crash / restart bookkeeping (the harness rebuilds the node's core). */
void sim_crash(sim_t *self, uint32_t node);
void sim_restart(sim_t *self, uint32_t node);
bool sim_up(const sim_t *self, uint32_t node);

/* Cuts or restores the one-way link from -> to (checked at send time). */
void sim_link(sim_t *self, uint32_t from, uint32_t to, bool up);
/* Puts node on side `side`; links between different sides are cut. */
void sim_partition(sim_t *self, const uint32_t *side);
/* Restores every link. */
void sim_heal(sim_t *self);

/* Processes the next event. Returns false when the queue is empty. */
bool sim_step(sim_t *self);
/* Processes events up to virtual time t (inclusive), calling check (if not
 * NULL) after each; stops early and returns false when check returns
 * false. Time then equals t (or the failing event's time). */
bool sim_run_until(sim_t *self, uint64_t t, bool (*check)(void *arg), void *arg);

void sim_stats(const sim_t *self, sim_stats_t *st);

#endif
