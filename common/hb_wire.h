/* hb_wire.h — every inter-process message, encoded as one msgpack frame.
 *
 * A frame is a msgpack array [version, type, fields...]. hb_msg_decode
 * checks the version, the type, the field count and every length against
 * hb_limits_t before allocating; a bad frame gives HB_PROTO or HB_TOOBIG,
 * bumps a counter in hb_wire_stats, and never crashes. See docs/protocol.md
 * for the field lists and who sends what to whom.
 *
 * Decoded messages borrow from the frame: strings, bins and raw
 * transactions point into it, so keep the frame alive while using the
 * message, then call hb_msg_clear (frees the small arrays decode made).
 */
#ifndef HB_WIRE_H
#define HB_WIRE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_limits.h"
#include "hb_rc.h"
#include "hb_val.h"

#define HB_WIRE_VERSION 1

/* Most entries a STATUS map may carry (decode rejects more: HB_TOOBIG). */
#define HB_WIRE_MAX_STATS 4096

typedef enum {
    HB_MSG_SUBMIT = 1,       /* client -> sequencer: call a procedure */
    HB_MSG_RESULT = 2,       /* sequencer -> client: outcome of a call */
    HB_MSG_BATCH = 3,        /* sequencer -> scheduler: sub-batch + epoch complete */
    HB_MSG_REPLAY = 4,       /* scheduler -> sequencer: resend batches from an epoch */
    HB_MSG_DISPATCH = 5,     /* scheduler -> storage: execute, locks held */
    HB_MSG_EPOCH = 6,        /* scheduler -> storage: txn count of an epoch */
    HB_MSG_DONE = 7,         /* storage -> scheduler: executed, release locks */
    HB_MSG_HELLO = 8,        /* storage -> scheduler: (re)started at applied epoch */
    HB_MSG_RESET = 9,        /* scheduler -> storage: HELLO accepted */
    HB_MSG_RESYNC = 10,      /* scheduler -> storage: scheduler restarted, say HELLO */
    HB_MSG_REPLY = 11,       /* storage -> origin sequencer: result for a client */
    HB_MSG_STATUS_REQ = 12,  /* anyone -> any process: report status */
    HB_MSG_STATUS = 13,      /* answer: a map of name -> int or string */
    HB_MSG_RREAD = 14,       /* storage -> storage: a participant's local reads */
    HB_MSG_RREQ = 15,        /* storage -> storage: resend reads sent me from an epoch */
    HB_MSG_SCAN = 16,        /* client -> storage: snapshot range read */
    HB_MSG_SCAN_RESULT = 17, /* storage -> client: rows of a SCAN */
    HB_MSG_APPLIED = 18,     /* storage -> storage: my applied epoch (log truncation) */
    HB_MSG_PAXOS = 19,       /* sequencer -> sequencer of the same group: a Paxos frame */
    HB_MSG_FORWARD = 20,     /* follower sequencer -> leader: a client's transaction */
    HB_MSG_CLOSE = 21,       /* sequencer -> sequencer of another group: close an epoch */
    HB_MSG_TYPE_MAX_
} hb_msg_type_t;

/* One transaction inside a BATCH: its index in the group's epoch batch and
 * its raw encoded hb_txn_t (decode with hb_txn_decode). */
typedef struct {
    uint32_t index;
    const uint8_t *raw;
    size_t raw_len;
} hb_wire_txn_t;

/* One key and its value (present = false: the key does not exist). */
typedef struct {
    const uint8_t *key;
    uint32_t klen;
    const uint8_t *val;
    uint32_t vlen;
    bool present;
} hb_wire_kv_t;

/* Most rows one SCAN_RESULT may carry. */
#define HB_WIRE_MAX_SCAN 100000

/* One status entry: name and either an integer or a string value. */
typedef struct {
    const char *name;
    uint32_t name_len;
    hb_val_t val; /* HB_VAL_INT or HB_VAL_STR */
} hb_wire_stat_t;

typedef struct {
    hb_msg_type_t type;
    union {
        struct { /* SUBMIT */
            uint64_t req_id;
            const char *proc;
            uint32_t proc_len;
            uint32_t nargs;
            hb_val_t *args; /* owned by the message */
        } submit;
        struct {                /* RESULT (to client) and REPLY (to origin sequencer) */
            uint64_t client_id; /* REPLY only */
            uint64_t req_id;
            uint64_t epoch;  /* epoch the transaction executed in */
            uint32_t rc;     /* hb_rc_t */
            const char *msg; /* error message, "" on success */
            uint32_t msg_len;
            uint32_t nvals;
            hb_val_t *vals; /* owned by the message */
        } result;
        struct { /* BATCH: group's epochs in (since, epoch) are empty */
            uint16_t group;
            uint64_t epoch;
            uint64_t since; /* the group's previous batch epoch (0: none) */
            uint32_t ntxns;
            hb_wire_txn_t *txns; /* owned by the message */
        } batch;
        struct { /* REPLAY */
            uint16_t replica;
            uint16_t partition;
            uint64_t from_epoch;
        } replay;
        struct { /* DISPATCH */
            uint64_t incarnation;
            uint64_t epoch;
            uint16_t group;
            uint32_t index;
            const uint8_t *raw; /* encoded hb_txn_t */
            size_t raw_len;
        } dispatch;
        struct { /* EPOCH */
            uint64_t incarnation;
            uint64_t epoch;
            uint32_t ntxns;
        } epoch;
        struct { /* DONE */
            uint64_t incarnation;
            uint64_t epoch;
            uint16_t group;
            uint32_t index;
        } done;
        struct { /* HELLO, RESET, RESYNC (RESYNC uses no field) */
            uint64_t incarnation;
            uint64_t applied_epoch;
        } hello;
        struct { /* STATUS */
            uint32_t nstats;
            hb_wire_stat_t *stats; /* owned by the message */
        } status;
        struct { /* RREAD: [epoch, group, index, from, [[key, val|nil]...]] */
            uint64_t epoch;
            uint16_t group;
            uint32_t index;
            uint16_t from; /* sending partition */
            uint32_t nkvs;
            hb_wire_kv_t *kvs; /* owned by the message (<= max_locks) */
        } rread;
        struct {                /* RREQ and APPLIED: [partition, epoch] */
            uint16_t partition; /* the requester / the reporter */
            uint64_t epoch;     /* RREQ: resend from; APPLIED: applied epoch */
        } rreq;
        struct { /* SCAN: [req_id, start, end, limit(, at_epoch)]; end empty =
                  * unbounded; at_epoch is encoded only when non-zero */
            uint64_t req_id;
            const uint8_t *start;
            uint32_t start_len;
            const uint8_t *end;
            uint32_t end_len;
            uint32_t limit;
            uint64_t at_epoch; /* read at this applied epoch if still kept; 0 = current */
        } scan;
        struct { /* SCAN_RESULT: [req_id, epoch, rc, msg, [[key, val]...], catver] */
            uint64_t req_id;
            uint64_t epoch; /* applied epoch the rows were read at */
            uint32_t rc;
            const char *msg;
            uint32_t msg_len;
            uint32_t nkvs;
            hb_wire_kv_t *kvs; /* owned by the message */
            uint64_t catver;   /* the SQL catalog version in the same snapshot */
        } scan_result;
        struct {                  /* PAXOS: [replica, group, frame(bin)] */
            uint16_t replica;     /* sending replica */
            uint16_t group;       /* Paxos group */
            const uint8_t *frame; /* the core's frame (sequencer/paxos.c) */
            uint32_t len;
        } paxos;
        struct { /* FORWARD: [replica, txn...] (txn is the rest of the frame) */
            uint16_t replica;   /* forwarding replica (the txn's origin) */
            const uint8_t *raw; /* encoded hb_txn_t, validated by hb_txn_decode */
            size_t raw_len;
        } forward;
        struct {            /* CLOSE: group closed a non-empty batch as epoch; cover it */
            uint16_t group; /* the group that closed */
            uint64_t epoch; /* the epoch it proposed */
            uint16_t relayed; /* 1: passed on by a follower (never relayed again) */
        } close;
    } u;
} hb_msg_t;

/* Counters of decoded and rejected frames since start (per thread: a
 * process that decodes on several threads, sqlfront's workers or a
 * multi-threaded client, counts each thread's frames apart).
 * frames_rejected counts every rejection; exactly one of bad_version,
 * bad_type, malformed (HB_PROTO) or too_big (HB_TOOBIG) counts it too. */
typedef struct {
    uint64_t frames_ok;
    uint64_t frames_rejected;
    uint64_t bad_version;
    uint64_t bad_type;
    uint64_t malformed;
    uint64_t too_big;
} hb_wire_stats_t;

extern _Thread_local hb_wire_stats_t hb_wire_stats;

/* Decodes frame into *msg (zeroed first). Returns HB_OK; on HB_PROTO or
 * HB_TOOBIG logs one warning, counts it, and leaves *msg cleared. */
hb_rc_t hb_msg_decode(const void *frame, size_t len, const hb_limits_t *lim,
                      hb_msg_t *msg);

/* Frees the arrays decode allocated; the message may be reused. */
void hb_msg_clear(hb_msg_t *msg);

/* Appends the encoding of msg to sbuf (msgpack-c sbuffer). For BATCH the
 * raw transaction bytes are copied as-is. Returns HB_OK or HB_INVALID. */
hb_rc_t hb_msg_encode(const hb_msg_t *msg, msgpack_sbuffer *sbuf);

/* Sets how many rejections are logged one by one before logging thins out
 * to one line per 1000 (default 100; tests that read log lines raise it). */
void hb_wire_log_burst(uint64_t burst);

/* Returns a static name for a message type ("SUBMIT", ...; "?" if unknown). */
const char *hb_msg_type_str(int type);

#endif
