/* rread.h — the remote-read log: the RREADs a storage sent, kept so a
 * recipient that crashed can replay (docs/architecture.md section 5, "Recovery").
 *
 * Calvin runs a multi-partition transaction without two-phase commit:
 * every participant sends its local reads (an RREAD frame) to the
 * transaction's executors. An executor that crashes loses the overlay of
 * its unflushed epochs and replays them from the input log, but it needs
 * the reads the other partitions sent it then. So a sender keeps each RREAD
 * frame it sent, per (epoch, group, index, recipient): in memory while its
 * own epoch is unflushed, then in LevelDB, written by that epoch's flush
 * (stor_engine_stage_meta) under the metadata key
 *   [0,0,0,0] "rr" to(BE16) epoch(BE64) group(BE16) index(BE32)
 * until the recipient reports (APPLIED) that it has applied the epoch.
 * RREQ(q, from) is answered with every logged frame to q from that epoch.
 *
 * Entry points: stor_rrlog_add (after sending), stor_rrlog_stage and
 * stor_rrlog_flushed (around the engine flush), stor_rrlog_truncate (on
 * APPLIED), stor_rrlog_resend (on RREQ).
 */
#ifndef STOR_RREAD_H
#define STOR_RREAD_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "hb_rc.h"

/* Bytes of an rr-log key. */
#define STOR_RRLOG_KEY_LEN 22

typedef struct stor_rrlog stor_rrlog_t;

/* Receives one logged RREAD frame (borrowed for the call). */
typedef void (*stor_rrlog_fn)(void *arg, uint16_t to, const void *frame, size_t len);

/* Creates the log of storage partition self (of nparts) over engine
 * (borrowed: it must outlive the log). Returns the log (caller owns;
 * stor_rrlog_destroy). */
stor_rrlog_t *stor_rrlog_new(stor_engine_t *engine, uint16_t self, uint32_t nparts);

/* Frees the log (persisted entries stay on disk); accepts NULL; sets
 * *self_p = NULL. */
void stor_rrlog_destroy(stor_rrlog_t **self_p);

/* Logs the RREAD frame (len bytes, copied) sent to partition to for
 * transaction (epoch, group, index). Not logged when to already reported
 * epoch applied (it will never ask) or to is out of range. */
void stor_rrlog_add(stor_rrlog_t *log, uint64_t epoch, uint16_t group, uint32_t index,
                    uint16_t to, const void *frame, size_t len);

/* Stages into the engine's next flush every in-memory entry of epochs
 * <= epoch not yet staged. Call right before stor_engine_flush(epoch). */
void stor_rrlog_stage(stor_rrlog_t *log, uint64_t epoch);

/* After a successful flush of epoch: frees the in-memory entries of epochs
 * <= epoch (they are on disk now). */
void stor_rrlog_flushed(stor_rrlog_t *log, uint64_t epoch);

/* Drops what was not staged yet (RESYNC: re-execution logs it again). */
void stor_rrlog_discard_unstaged(stor_rrlog_t *log);

/* Recipient to reports applied epoch: forgets every entry to it of epochs
 * <= epoch (memory at once; disk by staging deletes into the next flush).
 * Reports that do not advance are ignored. Returns HB_OK or HB_IO (a disk
 * scan failed; retried with the next report). */
hb_rc_t stor_rrlog_truncate(stor_rrlog_t *log, uint16_t to, uint64_t epoch);

/* Calls fn for every logged frame to partition to of epochs >= from: the
 * persisted ones in key order, then the in-memory ones. Sets *count (may
 * be NULL) to how many. Returns HB_OK or HB_IO. */
hb_rc_t stor_rrlog_resend(stor_rrlog_t *log, uint16_t to, uint64_t from, stor_rrlog_fn fn,
                          void *arg, uint64_t *count);

/* Returns the number of in-memory entries (unflushed epochs). */
size_t stor_rrlog_memory_entries(const stor_rrlog_t *log);

/* Returns the number of entries on disk (a scan: O(entries), for STATUS
 * and tests), or 0 if the scan fails. Staged, unflushed deletes still
 * count. */
size_t stor_rrlog_disk_entries(stor_rrlog_t *log);

/* Writes the rr-log key of (to, epoch, group, index) to out. */
void stor_rrlog_key(uint8_t out[STOR_RRLOG_KEY_LEN], uint16_t to, uint64_t epoch,
                    uint16_t group, uint32_t index);

#endif
