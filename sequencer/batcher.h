/* batcher.h — the sequencer core: client ingress, epoch batching, the
 * group's Multi-Paxos log, delivery.
 *
 * Pure protocol logic (docs/architecture.md section 4): it talks to the
 * world only through hb_env_t and opens no LevelDB itself: the shell opens
 * the input log and lends it to seq_batcher_new. It
 *  - takes SUBMITs from clients, re-derives each call's lock set with
 *    hb_proc (a client's word is never trusted), stamps the time, and keeps
 *    the call pending until it is chosen; the group's leader appends it to
 *    the open batch, a follower forwards it to the leader (FORWARD);
 *  - runs the group's Paxos core (paxos.h) over PAXOS messages; the
 *    leader closes its batch and proposes it in the next slot as soon as
 *    it holds a call and the log is free (group commit), when another
 *    group's CLOSE names an epoch it has not proposed, and on its tick
 *    (docs/architecture.md section 2 step 3); after closing a non-empty
 *    batch by itself it sends CLOSE to the other groups of its replica;
 *  - when a slot is chosen, lets the input log (seqlog.h) decide its epoch,
 *    `since` and duplicates, and sends each scheduler of its replica the
 *    sub-batch touching that scheduler's partition (BATCH);
 *  - serves REPLAY from the log and forwards storage REPLYs to clients.
 */
#ifndef BATCHER_H
#define BATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_config.h"
#include "hb_env.h"
#include "hb_shell.h"
#include "hb_wire.h"
#include "seqlog.h"

typedef struct seq_batcher seq_batcher_t;

/* Timer tokens: the epoch tick, the resend of calls stuck on the way to a
 * leader (the Paxos core's own tick is SEQ_PAXOS_TIMER_TICK). */
#define SEQ_TIMER_TICK  1
#define SEQ_TIMER_RETRY 2
#define SEQ_TIMER_CLOSE 3 /* group commit: close the open batch now */

/* Creates the core for group self.partition of replica self.replica over
 * its input log `log` (opened by the shell with seq_log_open(dir,
 * cfg->dedup_window)). The core borrows the log: it must outlive the core,
 * and the caller closes it after seq_batcher_destroy. Arms the first tick.
 * Returns the core (caller owns; seq_batcher_destroy) or NULL with a log
 * line. */
seq_batcher_t *seq_batcher_new(const hb_config_t *cfg, hb_node_t self, seq_log_t *log,
                               const hb_env_t *env);
void seq_batcher_destroy(seq_batcher_t **self_p);

/* Handles one decoded message from peer (routing id peer/peerlen). */
void seq_batcher_on_message(seq_batcher_t *self, const uint8_t *peer, size_t peerlen,
                            const hb_msg_t *msg);
/* Handles a timer. */
void seq_batcher_on_timer(seq_batcher_t *self, uint64_t token);
/* Adds status entries. */
void seq_batcher_status(seq_batcher_t *self, hb_status_t *st);

/* Leader only: closes the open batch now and proposes it as epoch
 * max(last proposed + 1, the clock in us), or as the epoch a CLOSE asked
 * for when that is later than the last proposal; returns that epoch, 0
 * when this replica does not lead or Paxos refused. With one replica the batch is
 * chosen and delivered before this returns. Exposed for tests. */
uint64_t seq_batcher_close(seq_batcher_t *self);

/* Counters, for tests and status. */
uint64_t seq_batcher_accepted(const seq_batcher_t *self);
uint64_t seq_batcher_rejected(const seq_batcher_t *self);
uint64_t seq_batcher_last_epoch(const seq_batcher_t *self);
bool seq_batcher_is_leader(const seq_batcher_t *self);

#endif
