/* executor.h — the storage core: executes dispatched transactions over the
 * engine, replies, reports DONE and applies epochs atomically.
 *
 * A pure core (docs/architecture.md section 4): it talks to the world only through an
 * hb_env_t (send, timer) and a stor_engine_t. Messages from the scheduler:
 * EPOCH(inc, e, n) announces that epoch e has n transactions for this
 * partition; DISPATCH(inc, e, group, index, txn) hands one over with its
 * locks held. Each transaction follows docs/architecture.md section 2 step 7: local
 * reads -> RREAD of them to every other *executor* (the partitions with a
 * write lock, plus the reply partition: the lowest of those, or the lowest
 * participant of a read-only transaction) -> an executor parks the
 * transaction until the RREADs of all other participants are in, a passive
 * participant says DONE at once -> body over all reads -> apply this
 * partition's writes to the overlay at epoch e -> REPLY (reply partition
 * only) -> DONE. A logical abort is decided identically by every executor
 * from the same reads, so nothing is applied anywhere. RREADs may come
 * before their DISPATCH (buffered, bytes copied) or twice (dropped). When
 * every transaction of every announced epoch <= e is done (parked ones are
 * not), the engine flushes epoch e in one WriteBatch.
 *
 * Recovery of the exchange (rread.h): every RREAD sent is kept in the
 * remote-read log until its recipient reports (APPLIED, every second to
 * every other storage of the replica) that it applied the epoch; RREQ(q,
 * from) resends the log to q; on RESET this core sends RREQ(self,
 * applied + 1) to every other storage of its replica, since it is about to
 * replay the epochs after its applied one.
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

#define STOR_HELLO_INTERVAL_US   100000
#define STOR_APPLIED_INTERVAL_US 1000000 /* APPLIED to the other storages */

typedef struct stor_executor stor_executor_t;

/* Counters, for STATUS and tests. */
typedef struct {
    uint64_t executed;        /* transactions that committed */
    uint64_t aborted;         /* transactions that aborted (any rc != HB_OK) */
    uint64_t stale;           /* messages ignored: old incarnation */
    uint64_t duplicates;      /* DISPATCH/EPOCH of an applied or already seen txn/epoch */
    uint64_t bad_txns;        /* DISPATCHes whose transaction did not decode */
    uint64_t flushes;         /* successful engine flushes */
    uint64_t flush_errors;    /* failed engine flushes (retried) */
    uint64_t hellos;          /* HELLO messages sent */
    uint64_t send_errors;     /* env->send failures */
    uint64_t passive;         /* transactions finished as a passive participant */
    uint64_t rreads_sent;     /* RREAD frames sent (first sends, not resends) */
    uint64_t rreads_received; /* RREADs accepted (buffered or used) */
    uint64_t rread_duplicates; /* RREADs dropped: already have them / txn done */
    uint64_t rread_stale;      /* RREADs dropped: epoch already applied */
    uint64_t rread_bad;        /* RREADs dropped: sender is not a participant, or
                                  this partition is not an executor of the txn */
    uint64_t rread_bad_keys;   /* RREAD keys that are not lock keys of the txn */
    uint64_t rreq_sent;        /* RREQ frames sent (after RESET) */
    uint64_t rreq_served;      /* RREQs answered */
    uint64_t rreads_resent;    /* RREAD frames resent for RREQs */
    uint64_t applied_sent;     /* APPLIED frames sent */
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

/* Returns the number of dispatched transactions parked waiting for RREADs. */
size_t stor_executor_parked(const stor_executor_t *ex);

/* Returns the number of RREADs buffered for transactions not dispatched
 * here yet. */
size_t stor_executor_early_rreads(const stor_executor_t *ex);

/* Returns the entries of the remote-read log: in memory plus on disk (a
 * LevelDB scan; for STATUS and tests). */
size_t stor_executor_rrlog_entries(stor_executor_t *ex);

#endif
