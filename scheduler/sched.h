/* sched.h — the scheduler core: merger + policy, talking only via hb_env_t.
 *
 * One instance serves slot (replica r, partition q). It merges the BATCH
 * messages of every group into the global order (merge.h), tells its
 * storage EPOCH(e, n) for each released epoch, submits each transaction,
 * restricted to the locks on partition q, to the policy (policy.h) and
 * sends DISPATCH for each one the policy makes ready; DONE from storage
 * releases it. The restart protocol of docs/protocol.md "Restart" (RESYNC,
 * HELLO, RESET, REPLAY) and the stall timer that re-asks a lagging group
 * for its batches live here too. The process shell is scheduler/main.c.
 *
 * Counting rule: n in EPOCH(e, n) counts the transactions of epoch e that
 * decode (hb_txn_decode with the config's limits); one that does not decode
 * is logged, counted (bad_txns), never dispatched and not part of n. Every
 * replica makes the same decision from the same bytes and config.
 *
 * Entry points: sched_new, sched_on_message, sched_on_timer, sched_stats.
 */
#ifndef SCHED_SCHED_H
#define SCHED_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "hb_config.h"
#include "hb_env.h"
#include "hb_hist.h"
#include "hb_wire.h"
#include "policy.h"

/* Timer tokens the core asks for (env->timer). */
#define SCHED_TIMER_RESYNC 1u /* resend RESYNC until a HELLO arrives */
#define SCHED_TIMER_STALL  2u /* look for lagging groups, send REPLAY */

/* RESYNC is repeated this often until storage says HELLO. */
#define SCHED_RESYNC_MS 500u

typedef struct {
    const char *policy;     /* policy name (static, owned by the policy) */
    bool storage_ready;     /* a HELLO has been accepted */
    uint64_t incarnation;   /* storage incarnation (0 before HELLO) */
    uint64_t applied_epoch; /* applied epoch of the last accepted HELLO */
    uint64_t last_epoch;    /* last epoch released to storage */
    uint64_t known_min;     /* smallest known[g] of the merger */
    uint64_t inflight;      /* transactions submitted, not yet DONE */
    uint64_t queued;        /* accepted batches not yet released */
    uint64_t pending;       /* early batches held for a gap */
    uint64_t dispatched;    /* DISPATCH sent (total) */
    uint64_t completed;     /* DONE accepted (total) */
    uint64_t replays;       /* REPLAY sent (total, HELLO and stall) */
    uint64_t stall_replays; /* of which by the stall timer */
    uint64_t resyncs;       /* RESYNC sent */
    uint64_t hellos;        /* HELLO accepted as a new incarnation */
    uint64_t duplicates;    /* duplicate batches dropped */
    uint64_t dropped;       /* batches dropped: pending set full or invalid */
    uint64_t bad_txns;      /* transactions that failed to decode */
    uint64_t stale_done;    /* DONE with a wrong incarnation */
    uint64_t unknown_done;  /* DONE for no in-flight dispatched transaction */
    uint64_t unexpected;    /* messages of a type the scheduler does not take */
    uint64_t send_errors;   /* frames env->send refused */
} sched_stats_t;

typedef struct sched sched_t;

/* Creates the core of slot (self.replica, self.partition), resolving
 * cfg->policy with sched_policy_resolve. Sends RESYNC to its storage and
 * arms its timers. cfg is read during the call only; env must outlive the
 * core. Returns the core (caller owns; sched_destroy) or NULL (logged; an
 * unknown policy is named). */
sched_t *sched_new(const hb_config_t *cfg, hb_node_t self, const hb_env_t *env);

/* Same with an explicit policy table (the simulator, tests). */
sched_t *sched_new_with_policy(const hb_config_t *cfg, hb_node_t self,
                               const hb_env_t *env, const sched_policy_ops_t *policy);

/* Frees the core and everything it holds; accepts NULL; sets *self_p = NULL. */
void sched_destroy(sched_t **self_p);

/* Handles one decoded message (BATCH, DONE, HELLO; others are counted and
 * ignored). msg and what it borrows are only read during the call. */
void sched_on_message(sched_t *self, const hb_msg_t *msg);

/* Handles a timer asked for with env->timer (SCHED_TIMER_*). */
void sched_on_timer(sched_t *self, uint64_t token);

/* Fills *out with the core's status. */
void sched_stats(const sched_t *self, sched_stats_t *out);

/* The per-stage latency histograms (statistics only, docs/architecture.md
 * section 8): sched_merge_wait, a group's batch arriving -> its epoch
 * released (every group's batch of that epoch in), one value per local
 * transaction; sched_lock_wait, a transaction submitted to the policy ->
 * all its locks here granted (dispatched). */
const hb_hist_t *sched_merge_wait(const sched_t *self);
const hb_hist_t *sched_lock_wait(const sched_t *self);

#endif
