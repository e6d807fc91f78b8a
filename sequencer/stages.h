/* stages.h — the sequencer's per-stage latencies (statistics only).
 *
 * The batcher calls these hooks at its stage boundaries; they read the
 * env's statistics clock (hb_env_mono_us) and fill histograms reported in
 * STATUS. Nothing here feeds back into what is batched, proposed or
 * delivered. Stages (docs/architecture.md section 8):
 *   seq_epoch_wait  a call taken into the leader's open batch -> that
 *                   batch proposed (closed): the wait for the epoch to end;
 *   seq_durable     batch proposed -> chosen: the input-log write and
 *                   fsync, and with R > 1 the Paxos round to a majority
 *                   (one value per transaction of the batch);
 *   seq_log_fsync   one synced input-log write (per write, from seqlog).
 */
#ifndef SEQ_STAGES_H
#define SEQ_STAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "hb_env.h"
#include "hb_shell.h"
#include "seqlog.h"

typedef struct seq_stages seq_stages_t;

/* Returns the recorder (caller owns; seq_stages_destroy). env is borrowed. */
seq_stages_t *seq_stages_new(const hb_env_t *env);
void seq_stages_destroy(seq_stages_t **self_p);

/* A call was appended to the open batch (leader). */
void seq_stages_arrive(seq_stages_t *self);
/* The open batch is about to be proposed as epoch (called before the
 * proposal: with R = 1 it can be chosen within the call). */
void seq_stages_closing(seq_stages_t *self, uint64_t epoch);
/* The proposal was made (ok: its calls' epoch wait ended at closing) or
 * refused (the batch stays open and is proposed again later). */
void seq_stages_closed(seq_stages_t *self, bool ok);
/* The batch proposed as proposed_epoch was chosen. */
void seq_stages_chosen(seq_stages_t *self, uint64_t proposed_epoch);

/* Adds the stage_* entries (log may be NULL). */
void seq_stages_status(const seq_stages_t *self, const seq_log_t *log, hb_status_t *st);

#endif
