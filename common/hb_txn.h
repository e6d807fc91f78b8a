/* hb_txn.h — the transaction input record (docs/architecture.md section 2, step 2).
 *
 * What the sequencer logs and every replica executes: who asked (origin),
 * the sequencer's timestamp, the program (native procedure name + args) and
 * its lock set — every key it may read or write, each with its partition.
 * The participants of a transaction are the distinct partitions of its
 * locks; its active participants those with at least one write lock.
 *
 * Wire form (msgpack array, see docs/protocol.md):
 *   [client_id, req_id, origin_replica, origin_group, timestamp_us,
 *    proc(str), [args...], [[partition, mode, key(bin)], ...]]
 *
 * A decoded hb_txn_t owns one buffer holding its encoded bytes; proc, string
 * args and keys point into it. To build one for encoding, fill the fields
 * with pointers to your own memory (buf = NULL) and call hb_txn_pack.
 */
#ifndef HB_TXN_H
#define HB_TXN_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_limits.h"
#include "hb_rc.h"
#include "hb_val.h"

typedef enum {
    HB_LOCK_READ = 0,  /* shared */
    HB_LOCK_WRITE = 1, /* exclusive */
} hb_lock_mode_t;

typedef struct {
    uint16_t partition; /* partition holding this key */
    uint8_t mode;       /* hb_lock_mode_t */
    uint32_t len;       /* key length */
    const uint8_t *key; /* encoded key (hb_key.h), borrowed */
} hb_lock_t;

typedef struct hb_txn {
    uint64_t client_id;      /* origin client (its ZeroMQ routing id) */
    uint64_t req_id;         /* client's request id: reply matching, dedup */
    uint16_t origin_replica; /* replica of the sequencer that took the call */
    uint16_t origin_group;   /* group (partition) of that sequencer */
    int64_t timestamp_us;    /* stamped by the sequencer; CURRENT_TIMESTAMP */
    const char *proc;        /* procedure name, not NUL-terminated */
    uint32_t proc_len;       /* length of proc */
    uint32_t nargs;          /* number of args */
    hb_val_t *args;          /* arguments (owned array when decoded) */
    uint32_t nlocks;         /* number of locks */
    hb_lock_t *locks;        /* lock set (owned array when decoded) */
    uint8_t *buf;            /* owned encoded bytes; NULL when hand-built */
    size_t buf_len;          /* length of buf */
} hb_txn_t;

/* Decodes one transaction from len bytes at data, copying them into an
 * owned buffer. Enforces lim (args, locks, key and value sizes, partition
 * < nparts). Returns HB_OK and *out (caller owns; hb_txn_destroy), or
 * HB_PROTO / HB_TOOBIG with *out = NULL. */
hb_rc_t hb_txn_decode(const void *data, size_t len, const hb_limits_t *lim,
                      uint32_t nparts, hb_txn_t **out);

/* Frees a decoded transaction; accepts NULL; sets *self_p = NULL. */
void hb_txn_destroy(hb_txn_t **self_p);

/* Appends the wire form of txn to pk. Returns HB_OK. */
hb_rc_t hb_txn_pack(msgpack_packer *pk, const hb_txn_t *txn);

/* Returns true if any lock of txn is on partition p. */
bool hb_txn_touches(const hb_txn_t *txn, uint16_t partition);
/* Returns true if txn holds a write lock on partition p. */
bool hb_txn_writes(const hb_txn_t *txn, uint16_t partition);

/* Writes the distinct partitions of txn's locks, ascending, to out (at most
 * cap) and returns how many there are. */
uint32_t hb_txn_participants(const hb_txn_t *txn, uint16_t *out, uint32_t cap);

#endif
