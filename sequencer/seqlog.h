/* seqlog.h — the input log of one sequencer group: "propose batch
 * (group, epoch) -> chosen".
 *
 * The sequencer proposes the batch it closed for an epoch; the log calls
 * back once the batch is chosen (here: durable in a local LevelDB, written
 * with sync before the callback). Multi-Paxos replaces the local
 * implementation behind this same interface: propose becomes phase 2 of a
 * slot and the callback fires when a majority has accepted.
 *
 * An entry is the batch's `since` (the group's previous epoch) and its raw
 * body: the msgpack array of encoded transactions.
 */
#ifndef SEQLOG_H
#define SEQLOG_H

#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"

typedef struct seq_log seq_log_t;

/* Called when (epoch) is chosen; body borrowed for the call only. */
typedef void (*seq_log_chosen_fn)(void *arg, uint64_t epoch, uint64_t since,
                                  const uint8_t *body, size_t len);

/* Opens (creating) the log in dir. Returns the log (caller owns;
 * seq_log_destroy) or NULL with a log line. */
seq_log_t *seq_log_open(const char *dir, seq_log_chosen_fn chosen, void *arg);
void seq_log_destroy(seq_log_t **self_p);

/* Proposes the batch for epoch (> last epoch). Returns HB_OK once handed
 * over (the local log has then already called `chosen`), HB_INVALID for a
 * non-increasing epoch, HB_IO when the write failed (nothing chosen). */
hb_rc_t seq_log_propose(seq_log_t *self, uint64_t epoch, uint64_t since, const uint8_t *body,
                        size_t len);

/* Returns the last chosen epoch, 0 when the log is empty. */
uint64_t seq_log_last(const seq_log_t *self);

/* Calls fn for every chosen entry with epoch >= from, in epoch order, at
 * most max entries. Returns the number of entries visited. */
size_t seq_log_scan(seq_log_t *self, uint64_t from, size_t max, seq_log_chosen_fn fn,
                    void *arg);

/* Counters: proposals written and the total microseconds spent syncing. */
uint64_t seq_log_writes(const seq_log_t *self);
uint64_t seq_log_sync_us(const seq_log_t *self);

#endif
