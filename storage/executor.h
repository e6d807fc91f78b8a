/* executor.h — the storage core: executes dispatched transactions over the
 * engine, replies, reports DONE and applies epochs atomically.
 *
 * A pure core (DESIGN.md section 4): it talks to the world only through an
 * hb_env_t (send, timer) and a stor_engine_t. Messages from the scheduler:
 * EPOCH(inc, e, n) announces that epoch e has n transactions for this
 * partition; DISPATCH(inc, e, group, index, txn) hands one over with its
 * locks held. Each transaction follows DESIGN.md section 2 step 7: local
 * reads -> remote-read exchange (not yet: a transaction with another
 * participant aborts deterministically) -> body -> apply this partition's
 * writes to the overlay at epoch e -> REPLY (reply partition only) -> DONE.
 * When every transaction of every announced epoch <= e is done, the engine
 * flushes epoch e in one WriteBatch.
 *
 * Restart (docs/protocol.md): the core sends HELLO(incarnation,
 * applied_epoch) at creation and every 100 ms until RESET(incarnation)
 * arrives (or a DISPATCH/EPOCH of that incarnation shows it was accepted).
 * Messages carrying another incarnation are ignored and counted. RESYNC
 * discards the overlay and per-epoch state, takes a new incarnation and
 * says HELLO again.
 */
#ifndef STOR_EXECUTOR_H
#define STOR_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "hb_env.h"
#include "hb_limits.h"
#include "hb_shell.h"
#include "hb_wire.h"

#define STOR_HELLO_INTERVAL_US 100000

typedef struct stor_executor stor_executor_t;

/* Counters, for STATUS and tests. */
typedef struct {
    uint64_t executed;     /* transactions that committed */
    uint64_t aborted;      /* transactions that aborted (any rc != HB_OK) */
    uint64_t stale;        /* messages ignored: old incarnation */
    uint64_t duplicates;   /* DISPATCH/EPOCH of an applied or already seen txn/epoch */
    uint64_t bad_txns;     /* DISPATCHes whose transaction did not decode */
    uint64_t flushes;      /* successful engine flushes */
    uint64_t flush_errors; /* failed engine flushes (retried) */
    uint64_t hellos;       /* HELLO messages sent */
    uint64_t send_errors;  /* env->send failures */
} stor_exec_stats_t;

/* Creates the core over engine (borrowed: it must outlive the core) for
 * storage node self (role STORAGE) of a cluster with nparts partitions;
 * lim bounds transaction decoding; env (copied; env->ctx must outlive the
 * core) is how it sends and sets timers. Sends the first HELLO and arms the
 * HELLO timer. Returns the core (caller owns; stor_executor_destroy). */
stor_executor_t *stor_executor_new(stor_engine_t *engine, hb_node_t self, uint32_t nparts,
                                   const hb_limits_t *lim, const hb_env_t *env);

/* Frees the core (not the engine); accepts NULL; sets *self_p = NULL. */
void stor_executor_destroy(stor_executor_t **self_p);

/* Handles one decoded message (borrowed for the call). Messages of other
 * types are logged and ignored. */
void stor_executor_on_message(stor_executor_t *ex, const hb_msg_t *msg);

/* Handles a timer armed with env->timer. */
void stor_executor_on_timer(stor_executor_t *ex, uint64_t token);

/* Adds applied_epoch, state_hash (16 hex digits), incarnation, executed,
 * aborted, overlay_keys, stale ... to a STATUS answer. */
void stor_executor_status(stor_executor_t *ex, hb_status_t *st);

/* Copies the counters into *out. */
void stor_executor_stats(const stor_executor_t *ex, stor_exec_stats_t *out);

/* Returns the current incarnation (the engine's). */
uint64_t stor_executor_incarnation(const stor_executor_t *ex);

/* Returns true once the scheduler has accepted the current incarnation. */
bool stor_executor_accepted(const stor_executor_t *ex);

/* Returns the number of epochs announced or started but not yet flushed. */
size_t stor_executor_pending_epochs(const stor_executor_t *ex);

#endif
