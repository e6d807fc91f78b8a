/* seqlog.h — the durable input log of one sequencer group: the Paxos
 * acceptor state, the chosen slots, and the epoch index that turns chosen
 * slots into delivered batches.
 *
 * It is the seq_paxos_store_t of the group's Paxos core (paxos.h) and
 * more: when the core writes a slot as chosen, the log decides — the same
 * way on every replica, from the chosen values alone — what that slot
 * delivers:
 *  - its epoch: max(proposed epoch, previous delivered epoch + 1), so
 *    delivered epochs increase even when a new leader's clock lags or it
 *    re-proposes an old leader's values; `since` is the previous delivered
 *    epoch (the scheduler's "nothing from this group in between");
 *  - its transactions minus duplicates: a call id (client_id, req_id)
 *    delivered in the last `dedup_window` slots is skipped, so a client or
 *    follower that retries after a failover never executes a call twice.
 * The decision is written with the chosen slot in one synced LevelDB
 * batch, so a restart resumes with the same epochs and the same table.
 *
 * A proposed value is msgpack [proposed_epoch, [txn, ...]] (txns as
 * hb_txn_pack writes them); an empty value is a Paxos no-op and delivers
 * nothing. Keys: 'M' (promise, round), 'A'+slot (accepted), 'C'+slot
 * (chosen value), 'E'+epoch ([slot, since, filtered body or nil]).
 */
#ifndef SEQLOG_H
#define SEQLOG_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_hist.h"
#include "hb_rc.h"
#include "paxos.h"

typedef struct seq_log seq_log_t;

/* A delivered batch: body is the msgpack array of its raw transactions. */
typedef void (*seq_log_chosen_fn)(void *arg, uint64_t epoch, uint64_t since,
                                  const uint8_t *body, size_t len);

/* A duplicate skipped in a delivered slot. When it came through another
 * replica than the call it repeats, the reply went to that replica's
 * client connection, so the duplicate's own origin tells its client. */
typedef struct {
    uint64_t client_id;
    uint64_t req_id;
    uint16_t origin_replica; /* replica the duplicate came through */
    uint64_t first_epoch;    /* epoch the call executed in */
    uint16_t first_replica;  /* replica the executed call came through */
} seq_log_dup_t;

/* What one chosen slot delivers (see seq_log_take). */
typedef struct {
    uint64_t slot;           /* Paxos slot */
    uint64_t epoch;          /* delivered epoch; 0: a no-op, nothing to deliver */
    uint64_t since;          /* previous delivered epoch of the group */
    uint64_t proposed_epoch; /* the epoch the proposer asked for */
    const uint8_t *body;     /* msgpack array of the delivered raw txns */
    size_t len;              /* its length */
    uint32_t skipped;        /* txns skipped: duplicates and unusable ones */
    uint32_t ndups;          /* duplicates skipped */
    const seq_log_dup_t *dups;
} seq_log_entry_t;

/* Opens (creating) the log in dir; dedup_window is in slots (>= 1) and
 * must be the same on every replica. Returns the log (caller owns;
 * seq_log_destroy) or NULL with a log line. */
seq_log_t *seq_log_open(const char *dir, uint32_t dedup_window);
void seq_log_destroy(seq_log_t **self_p);

/* The Paxos store view (borrowed; valid while the log lives). */
seq_paxos_store_t *seq_log_store(seq_log_t *self);

/* Fills *out with what chosen slot `slot` delivers, given its value (as
 * io->chosen passes it). Slots must be taken in order, each once, after
 * the store wrote them. Pointers stay valid until the next take. Returns
 * false (a bug: logged) when the slot was not written as chosen. */
bool seq_log_take(seq_log_t *self, uint64_t slot, const void *value, size_t len,
                  seq_log_entry_t *out);

/* Returns the last delivered epoch, 0 when none. */
uint64_t seq_log_last(const seq_log_t *self);

/* Calls fn for every delivered batch with epoch >= from, in epoch order,
 * at most max of them. Returns the number visited. */
size_t seq_log_scan(seq_log_t *self, uint64_t from, size_t max, seq_log_chosen_fn fn,
                    void *arg);

/* Appends a value for proposed_epoch holding n encoded txns (txns: their
 * concatenated encodings) to sb. */
void seq_log_pack_value(msgpack_sbuffer *sb, uint64_t proposed_epoch, uint32_t n,
                        const void *txns, size_t len);

/* Counters: synced writes, total microseconds spent syncing, duplicates
 * skipped, live entries of the dedup table. */
uint64_t seq_log_syncs(const seq_log_t *self);
uint64_t seq_log_sync_us(const seq_log_t *self);
/* The synced writes' durations, as a histogram (stage seq_log_fsync). */
const hb_hist_t *seq_log_sync_hist(const seq_log_t *self);
uint64_t seq_log_skipped(const seq_log_t *self);
uint64_t seq_log_dedup_size(const seq_log_t *self);

#endif
