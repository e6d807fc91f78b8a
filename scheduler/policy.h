/* policy.h — the scheduler policy interface (docs/architecture.md section 7).
 *
 * A policy decides when a transaction of the global order may run on this
 * partition. It is a table of functions (sched_policy_ops_t) with a
 * versioned ABI so that a researcher can build one out of tree as a shared
 * object exporting `const sched_policy_ops_t hobbes_sched_policy`.
 *
 * Contract:
 *   - submit() receives every transaction exactly once, in global order
 *     (epoch, group, index).
 *   - A transaction becomes *ready* when the policy calls
 *     env->ready(env->ctx, txn); the policy does so only from inside
 *     submit() or complete(), at most once per transaction. When several
 *     transactions become ready in one call they are handed out in global
 *     order. The ready callback must not call back into the policy.
 *   - complete() is called once per ready transaction when its execution
 *     ended; the policy then releases what the transaction held.
 *   - Any correct policy must produce the same final state as `serial`:
 *     two conflicting transactions (a common key, at least one writes) must
 *     run in global order — the later becomes ready only after the earlier
 *     completed.
 *   - Policies are deterministic: no clocks, no randomness, and no hash
 *     table iteration order may influence which transaction is ready.
 *
 * Built in: "calvin" (deterministic per-key FIFO shared/exclusive locking,
 * the default) and "serial" (one transaction at a time, the baseline).
 * Entry points: sched_policy_find, sched_policy_load, sched_policy_resolve.
 */
#ifndef SCHED_POLICY_H
#define SCHED_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"

/* Bumped whenever sched_policy_ops_t, sched_txn_t or sched_policy_env_t
 * change incompatibly. */
#define SCHED_POLICY_ABI 1

/* Name of the symbol an out-of-tree policy exports (a sched_policy_ops_t). */
#define SCHED_POLICY_SYMBOL "hobbes_sched_policy"

/* One lock request that falls on this scheduler's partition. */
typedef struct {
    const uint8_t *key; /* encoded key bytes, borrowed from the transaction */
    uint32_t len;       /* key length in bytes */
    uint8_t mode;       /* hb_lock_mode_t: HB_LOCK_READ shared, HB_LOCK_WRITE exclusive */
} sched_lock_t;

/* A transaction as a policy sees it. Public rather than opaque because it
 * is touched on every submit/complete (the hot path of the scheduler): the
 * policy reads the fields directly instead of calling accessors.
 *
 * Owned by the caller (the scheduler core). It and the key bytes its locks
 * point to stay valid and unchanged from submit() until complete() returns
 * (or until the policy state is destroyed). A key may appear more than
 * once (e.g. read and written by the same transaction): the policy treats
 * that as one request in the strongest mode. */
typedef struct sched_txn {
    uint64_t epoch;            /* global position: epoch ... */
    uint16_t group;            /* ... sequencer group ... */
    uint32_t index;            /* ... index in the group's batch */
    uint32_t nlocks;           /* number of entries in locks */
    const sched_lock_t *locks; /* this partition's lock requests */
    void *user;                /* the caller's, never touched by a policy */
    void *priv;                /* the policy's scratch word, submit..complete */
} sched_txn_t;

/* What a policy instance is given at creation. Copied by the policy. */
typedef struct {
    void *ctx; /* passed back to ready */
    /* Hands a ready transaction to the caller (dispatch to storage). */
    void (*ready)(void *ctx, sched_txn_t *txn);
    uint16_t partition;  /* partition this scheduler serves (informational) */
    uint16_t partitions; /* number of partitions of the cluster */
} sched_policy_env_t;

/* Counters a policy may report (all zero if it does not). */
typedef struct {
    uint64_t submitted;  /* transactions submitted */
    uint64_t completed;  /* transactions completed */
    uint64_t waiting;    /* submitted, not yet ready */
    uint64_t running;    /* ready, not yet completed */
    uint64_t lock_waits; /* submitted transactions that were not ready at once */
} sched_policy_stats_t;

typedef struct sched_policy_ops {
    uint32_t abi;     /* SCHED_POLICY_ABI of the build that made the table */
    const char *name; /* short name: "calvin", "serial", ... */
    /* Creates an instance. Returns the state (destroy with destroy) or NULL
     * on failure (logged). */
    void *(*create)(const sched_policy_env_t *env);
    /* Destroys an instance and forgets every transaction it holds (their
     * memory stays the caller's). Accepts NULL; sets *state_p = NULL. */
    void (*destroy)(void **state_p);
    /* Takes the next transaction of the global order. May call env->ready
     * (for this transaction). Returns HB_OK, or HB_INVALID on a broken
     * contract (logged; the transaction is not held). */
    hb_rc_t (*submit)(void *state, sched_txn_t *txn);
    /* The ready transaction txn finished executing: releases its locks.
     * May call env->ready for transactions that became ready, in global
     * order. Returns HB_OK, or HB_INVALID if txn is not a ready one. */
    hb_rc_t (*complete)(void *state, sched_txn_t *txn);
    /* Optional (may be NULL): fills *out with the instance's counters. */
    void (*stats)(void *state, sched_policy_stats_t *out);
} sched_policy_ops_t;

/* The built-in policies. */
extern const sched_policy_ops_t sched_policy_calvin;
extern const sched_policy_ops_t sched_policy_serial;

/* Returns the built-in policy called name, or NULL when there is none.
 * Static table; caller must not free. */
const sched_policy_ops_t *sched_policy_find(const char *name);

/* Loads an out-of-tree policy: dlopens path and reads the symbol
 * SCHED_POLICY_SYMBOL, checking its ABI and that create, destroy, submit
 * and complete are set. Returns the table (owned by the loaded object,
 * which stays loaded for the life of the process) or NULL (logged). */
const sched_policy_ops_t *sched_policy_load(const char *path);

/* Returns sched_policy_load(name) when name contains '/' or ends in ".so",
 * else sched_policy_find(name). NULL when unknown (the caller logs). */
const sched_policy_ops_t *sched_policy_resolve(const char *name);

#endif
