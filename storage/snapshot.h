/* snapshot.h — snapshot range reads for SCAN (DESIGN.md section 5,
 * "Snapshot reads").
 *
 * LevelDB holds exactly the state at the storage's applied epoch (writes of
 * later epochs wait in the engine's overlay), so a SCAN is served from a
 * LevelDB iterator over a LevelDB snapshot and answered with that epoch:
 * a consistent read that never goes through the log or takes locks.
 * The metadata table (id 0) is never returned.
 */
#ifndef STOR_SNAPSHOT_H
#define STOR_SNAPSHOT_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "hb_rc.h"
#include "hb_wire.h"

/* Counters of served scans, for STATUS. */
typedef struct {
    uint64_t scans;       /* SCANs answered */
    uint64_t rows;        /* rows returned */
    uint64_t errors;      /* SCANs answered with rc != HB_OK */
    uint64_t truncated;   /* answers cut short by the frame size bound */
} stor_snapshot_stats_t;

/* Answers one SCAN (scan->type == HB_MSG_SCAN): reads the rows with
 * start <= key < end (end empty: unbounded), at most scan->u.scan.limit of
 * them and no more than fit in a frame of max_frame_bytes, in key order,
 * from a snapshot of eng's LevelDB, and appends the SCAN_RESULT frame
 * (req_id echoed, epoch = the applied epoch) to sbuf. A LevelDB error or
 * an empty range is reported inside the answer (rc, msg). stats (may be
 * NULL) is updated. Returns HB_OK; HB_INVALID if scan is not a SCAN
 * (nothing appended) or the answer cannot be encoded (do not send sbuf). */
hb_rc_t stor_snapshot_scan(stor_engine_t *eng, const hb_msg_t *scan, uint32_t max_frame_bytes,
                           msgpack_sbuffer *sbuf, stor_snapshot_stats_t *stats);

#endif
