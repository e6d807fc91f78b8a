/* batcher.h — the sequencer core: client ingress, epoch batching, delivery.
 *
 * Pure protocol logic (DESIGN.md section 4): it talks to the world only
 * through hb_env_t and the input log (seqlog.h). It
 *  - takes SUBMITs from clients, re-derives each call's lock set with
 *    hb_proc (a client's word is never trusted), stamps the time, and
 *    appends the transaction to the open batch;
 *  - on every epoch boundary closes the batch (empty ones too) and proposes
 *    it to the log as (epoch, since = previous epoch);
 *  - when the log reports a batch chosen, sends each scheduler of its
 *    replica the sub-batch touching that scheduler's partition (BATCH);
 *  - serves REPLAY from the log and forwards storage REPLYs to clients.
 */
#ifndef BATCHER_H
#define BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "hb_config.h"
#include "hb_env.h"
#include "hb_shell.h"
#include "hb_wire.h"

typedef struct seq_batcher seq_batcher_t;

/* Timer token of the epoch tick. */
#define SEQ_TIMER_TICK 1

/* Creates the core for group self.partition of replica self.replica with
 * its input log in log_dir. Arms the first tick. Returns the core (caller
 * owns; seq_batcher_destroy) or NULL with a log line. */
seq_batcher_t *seq_batcher_new(const hb_config_t *cfg, hb_node_t self, const char *log_dir,
                               const hb_env_t *env);
void seq_batcher_destroy(seq_batcher_t **self_p);

/* Handles one decoded message from peer (routing id peer/peerlen). */
void seq_batcher_on_message(seq_batcher_t *self, const uint8_t *peer, size_t peerlen,
                            const hb_msg_t *msg);
/* Handles a timer. */
void seq_batcher_on_timer(seq_batcher_t *self, uint64_t token);
/* Adds status entries. */
void seq_batcher_status(seq_batcher_t *self, hb_status_t *st);

/* Closes the open batch now as epoch max(last + 1, clock epoch); returns
 * the epoch closed, 0 if the log refused it. Exposed for tests. */
uint64_t seq_batcher_close(seq_batcher_t *self);

/* Counters, for tests and status. */
uint64_t seq_batcher_accepted(const seq_batcher_t *self);
uint64_t seq_batcher_rejected(const seq_batcher_t *self);
uint64_t seq_batcher_last_epoch(const seq_batcher_t *self);

#endif
