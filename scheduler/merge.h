/* merge.h — the merger: all groups' batches into the global order.
 *
 * The pure core of docs/protocol.md step 4. Per group g it keeps known[g],
 * the epoch through which g's chain of batches is contiguous, a FIFO of
 * accepted batches and a bounded set of pending (early) ones. A batch
 * BATCH(g, epoch, since) is
 *   - accepted    when since <= known[g] < epoch (then known[g] = epoch),
 *   - a duplicate when epoch <= known[g] (dropped, counted),
 *   - held        when since > known[g], until the chain reaches it
 *                 (beyond max_pending held batches it is dropped, counted).
 * Epoch e, the smallest epoch of any queued batch, is released once
 * known[g] >= e for every group: its batches come out in group order, each
 * with its transactions in index order. Epochs no group has a batch for are
 * never visited. The merger copies everything it keeps.
 *
 * Entry points: sched_merge_new, sched_merge_add, sched_merge_pop_epoch,
 * sched_merge_reset, sched_merge_missing.
 */
#ifndef SCHED_MERGE_H
#define SCHED_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "hb_wire.h"

#define SCHED_MERGE_MAX_PENDING_DEFAULT 100000u

/* One transaction of a released batch. */
typedef struct {
    uint32_t index;     /* index in the group's epoch batch */
    size_t raw_len;     /* length of raw */
    const uint8_t *raw; /* encoded hb_txn_t, owned by the batch */
} sched_merge_txn_t;

/* A batch handed out by sched_merge_pop_epoch. Public so the scheduler can
 * walk it without accessors; one allocation holds it all. */
typedef struct {
    uint16_t group;          /* sequencer group */
    uint64_t epoch;          /* epoch of the batch */
    uint64_t since;          /* the group's previous batch epoch (0: none) */
    uint32_t ntxns;          /* transactions in txns */
    sched_merge_txn_t *txns; /* sorted by index, no duplicate index */
    uint64_t arrived_us;     /* statistics clock when it arrived (merge wait) */
} sched_batch_t;

typedef enum {
    SCHED_MERGE_ACCEPTED = 0,  /* contiguous: queued, known[g] advanced */
    SCHED_MERGE_HELD = 1,      /* early: kept until the gap is filled */
    SCHED_MERGE_DUPLICATE = 2, /* epoch <= known[g] or already held: dropped */
    SCHED_MERGE_OVERFLOW = 3,  /* early but the pending set is full: dropped */
    SCHED_MERGE_INVALID = 4,   /* bad group, or since >= epoch: dropped */
} sched_merge_result_t;

typedef struct {
    uint64_t accepted;    /* batches accepted (directly or after being held) */
    uint64_t held;        /* batches that had to wait for a gap */
    uint64_t duplicates;  /* batches dropped as duplicates */
    uint64_t overflows;   /* batches dropped because the pending set was full */
    uint64_t invalid;     /* batches rejected as malformed */
    uint64_t dup_indexes; /* transactions dropped for a repeated index */
    uint64_t released;    /* batches handed out */
    uint64_t epochs;      /* epochs released */
    uint64_t last_epoch;  /* last epoch released (0: none) */
    uint64_t queued;      /* accepted batches waiting to be released, now */
    uint64_t pending;     /* held batches, now */
    uint64_t max_seen;    /* largest epoch of any batch not a duplicate or invalid */
} sched_merge_stats_t;

typedef struct sched_merge sched_merge_t;

/* Creates a merger for ngroups groups (>= 1) holding at most max_pending
 * early batches (0 means SCHED_MERGE_MAX_PENDING_DEFAULT); every known[g]
 * starts at 0. Returns it (caller owns; sched_merge_destroy) or NULL. */
sched_merge_t *sched_merge_new(uint16_t ngroups, uint32_t max_pending);

/* Frees the merger and every batch it holds; accepts NULL; sets *self_p = NULL. */
void sched_merge_destroy(sched_merge_t **self_p);

/* Offers BATCH(group, epoch, since) with its ntxns transactions; copies
 * what it keeps (txns may be freed after the call). Returns what became of
 * it. */
sched_merge_result_t sched_merge_add(sched_merge_t *self, uint16_t group, uint64_t epoch,
                                     uint64_t since, const hb_wire_txn_t *txns,
                                     uint32_t ntxns);

/* Releases the next epoch if it is releasable: writes its batches, in group
 * order, to out (which must hold ngroups pointers) and the epoch to *epoch.
 * Returns the number of batches (0 when nothing is releasable; then *epoch
 * = 0). The caller owns each batch (sched_batch_destroy). */
uint32_t sched_merge_pop_epoch(sched_merge_t *self, uint64_t *epoch, sched_batch_t **out);

/* Sets the statistics clock stamped on the batches added next (their
 * arrived_us; only the merge-wait histogram reads it). */
void sched_merge_set_clock(sched_merge_t *self, uint64_t now_us);

/* Restart at applied: every known[g] = applied; batches with epoch <=
 * applied are dropped; queued batches beyond it are held again and
 * re-accepted as soon as their chain is contiguous from applied. */
void sched_merge_reset(sched_merge_t *self, uint64_t applied);

/* Returns known[group] (0 for a bad group). */
uint64_t sched_merge_known(const sched_merge_t *self, uint16_t group);

/* Returns the smallest known[g] over all groups. */
uint64_t sched_merge_known_min(const sched_merge_t *self);

/* Stall detection: returns the epoch group must be replayed from
 * (known[group] + 1) when known[group] is behind the largest epoch seen from
 * any group, else 0. */
uint64_t sched_merge_missing(const sched_merge_t *self, uint16_t group);

/* Returns the number of groups. */
uint16_t sched_merge_ngroups(const sched_merge_t *self);

/* Fills *out with the counters. */
void sched_merge_stats(const sched_merge_t *self, sched_merge_stats_t *out);

/* Frees a released batch; accepts NULL; sets *self_p = NULL. */
void sched_batch_destroy(sched_batch_t **self_p);

#endif
