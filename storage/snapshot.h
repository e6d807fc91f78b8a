/* snapshot.h — snapshot range reads for SCAN (docs/architecture.md section 5,
 * "Snapshot reads").
 *
 * LevelDB holds exactly the state at the storage's applied epoch (writes of
 * later epochs wait in the engine's overlay), so a SCAN is served from a
 * LevelDB iterator over a LevelDB snapshot and answered with that epoch:
 * a consistent read that never goes through the log or takes locks.
 * The metadata table (id 0) is never returned.
 *
 * A read of more rows than one answer holds takes several SCANs, and all of
 * them must see one epoch while epochs advance every few milliseconds. So
 * the storage keeps the last STOR_SNAPSHOT_KEEP snapshots it read from
 * (stor_snapshot_ring_t), each tagged with its applied epoch, for at most
 * STOR_SNAPSHOT_MAX_AGE_US: a SCAN carrying at_epoch = E is answered from
 * the kept snapshot of E while there is one, else at the current epoch
 * (the answer says which; the reader restarts). Kept snapshots hold back
 * LevelDB compaction of what they see, hence the age bound.
 */
#ifndef STOR_SNAPSHOT_H
#define STOR_SNAPSHOT_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "hb_rc.h"
#include "hb_wire.h"

/* Most snapshots kept at once. */
#define STOR_SNAPSHOT_KEEP 16
/* Age (from creation) after which a kept snapshot is released. */
#define STOR_SNAPSHOT_MAX_AGE_US 5000000u

/* Counters of served scans, for STATUS. */
typedef struct {
    uint64_t scans;     /* SCANs answered */
    uint64_t rows;      /* rows returned */
    uint64_t errors;    /* SCANs answered with rc != HB_OK */
    uint64_t truncated; /* answers cut short by the frame size bound */
    uint64_t at_hits;   /* SCANs with at_epoch answered at that epoch */
    uint64_t at_misses; /* SCANs with at_epoch answered at another (current) one */
    uint64_t snapshots; /* LevelDB snapshots taken */
    uint64_t reused;    /* SCANs without at_epoch served by a kept snapshot */
} stor_snapshot_stats_t;

/* The kept snapshots of one engine's LevelDB. */
typedef struct stor_snapshot_ring stor_snapshot_ring_t;

/* Returns an empty set of kept snapshots of eng's LevelDB (caller owns;
 * stor_snapshot_ring_destroy, which must come before the engine's). */
stor_snapshot_ring_t *stor_snapshot_ring_new(stor_engine_t *eng);

/* Releases every kept snapshot and frees the ring. Accepts NULL; sets
 * *self_p = NULL. */
void stor_snapshot_ring_destroy(stor_snapshot_ring_t **self_p);

/* Releases every kept snapshot (RESYNC, and before anything closes or
 * replaces the engine's LevelDB handle). */
void stor_snapshot_ring_clear(stor_snapshot_ring_t *self);

/* Releases the kept snapshots created more than STOR_SNAPSHOT_MAX_AGE_US
 * before now_us (a monotonic clock, the one given to stor_snapshot_scan). */
void stor_snapshot_ring_expire(stor_snapshot_ring_t *self, uint64_t now_us);

/* While SCANs keep coming (one within STOR_SNAPSHOT_NOTE_US), keeps a
 * snapshot of every applied epoch it is called at (the node calls it after
 * each message), so that a reader that met epoch E on one partition finds
 * E kept on the others (sqlfront's consistent cut across partitions). */
#define STOR_SNAPSHOT_NOTE_US 2000000
void stor_snapshot_ring_note(stor_snapshot_ring_t *self, uint64_t now_us,
                             stor_snapshot_stats_t *stats);

/* Returns the number of kept snapshots. */
size_t stor_snapshot_ring_size(const stor_snapshot_ring_t *self);

/* Answers one SCAN (scan->type == HB_MSG_SCAN): reads the rows with
 * start <= key < end (end empty: unbounded), at most scan->u.scan.limit of
 * them and no more than fit in a frame of max_frame_bytes, in key order,
 * and appends the SCAN_RESULT frame (req_id echoed, epoch = the epoch read
 * at, catver from the same snapshot) to sbuf. The snapshot is the kept one
 * of epoch scan->u.scan.at_epoch when that is set and still kept; else the
 * current applied epoch's (kept, or taken now and kept, releasing the least
 * recently used one when the ring is full). now_us is a monotonic clock in
 * microseconds; expired snapshots are released first. A LevelDB error or
 * an empty range is reported inside the answer (rc, msg). stats (may be
 * NULL) is updated. Returns HB_OK; HB_INVALID if scan is not a SCAN
 * (nothing appended) or the answer cannot be encoded (do not send sbuf). */
hb_rc_t stor_snapshot_scan(stor_snapshot_ring_t *ring, const hb_msg_t *scan,
                           uint64_t now_us, uint32_t max_frame_bytes,
                           msgpack_sbuffer *sbuf, stor_snapshot_stats_t *stats);

#endif
