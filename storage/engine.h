/* engine.h — the storage engine: one LevelDB shard plus an epoch-tagged
 * multi-version overlay (docs/architecture.md section 5, "Epoch-atomic apply").
 *
 * Writes of running transactions never go straight to LevelDB: each put or
 * delete records a version of its key tagged with the transaction's epoch
 * in an in-memory overlay. Reads see the newest overlay version, else
 * LevelDB. When every transaction of epochs <= e has finished, the executor
 * calls stor_engine_flush(e), which writes the newest version <= e of every
 * key, applied_epoch = e and the new state hash in ONE LevelDB WriteBatch, so
 * a crash never leaves half an epoch on disk. The batch is not synced: the
 * fsynced input log makes every epoch replayable.
 *
 * The engine keeps an incremental state hash: the sum mod 2^64 over every
 * live user key (table id != 0) of h(k, v) = hb_hash64(v, hb_hash64(k, 0)).
 * A sum does not depend on the order of writes, so two replicas that reach
 * the same rows have the same hash (hobbesctl verify, tests).
 *
 * Metadata lives under table id 0 (HB_TABLE_META): applied_epoch,
 * state_hash and incarnation. Other modules may keep their own metadata
 * there (the remote-read log, storage/rread.h) by *staging* puts and
 * deletes with stor_engine_stage_meta: they are written in the WriteBatch
 * of the next successful flush, atomically with that epoch. Opening an engine increments
 * and syncs the incarnation, so every process start gets a new one (docs/protocol.md,
 * "Restart").
 *
 * Not thread-safe: one executor owns one engine.
 */
#ifndef STOR_ENGINE_H
#define STOR_ENGINE_H

#include <leveldb/c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"

typedef struct stor_engine stor_engine_t;

/* Allocator for values handed out by stor_engine_get: returns size bytes
 * the caller owns (never NULL). arg is passed back unchanged. */
typedef void *(*stor_alloc_fn)(void *arg, size_t size);

/* Opens (creating if missing) the LevelDB at dir, reads the metadata,
 * increments the incarnation and persists it with a synced write.
 * Returns the engine (caller owns; stor_engine_destroy), or NULL when
 * LevelDB cannot be opened or the metadata is corrupt (logged). */
stor_engine_t *stor_engine_open(const char *dir);

/* Closes LevelDB and frees the overlay (unflushed versions are lost).
 * Accepts NULL; sets *self_p = NULL. */
void stor_engine_destroy(stor_engine_t **self_p);

/* Records val (vlen bytes, copied) as the version of key written at epoch.
 * A later write at the same epoch replaces the earlier one. Returns HB_OK,
 * or HB_INVALID for an empty or too long key or a key of the metadata
 * table (table id 0), which only the engine writes. */
hb_rc_t stor_engine_put(stor_engine_t *eng, uint64_t epoch, const void *key, size_t klen,
                        const void *val, size_t vlen);

/* Records a deletion (tombstone) of key at epoch. Returns as stor_engine_put. */
hb_rc_t stor_engine_delete(stor_engine_t *eng, uint64_t epoch, const void *key,
                           size_t klen);

/* Looks key up: the newest overlay version, else LevelDB. On HB_OK, *val is
 * a copy of the value in memory from alloc(arg, n) (hb_malloc when alloc is
 * NULL; the caller owns it either way) and *vlen its length. Returns
 * HB_NOTFOUND (absent or deleted) or HB_IO with *val = NULL, *vlen = 0. */
hb_rc_t stor_engine_get(stor_engine_t *eng, const void *key, size_t klen,
                        stor_alloc_fn alloc, void *arg, uint8_t **val, size_t *vlen);

/* Writes the newest version tagged <= epoch of every overlay key, plus
 * applied_epoch = epoch and the new state hash, in one unsynced LevelDB
 * WriteBatch, then drops those versions (later epochs stay in the overlay).
 * Returns HB_OK; HB_INVALID if epoch < the applied epoch; HB_IO if LevelDB
 * fails (logged; nothing changed, the flush may be retried). */
hb_rc_t stor_engine_flush(stor_engine_t *eng, uint64_t epoch);

/* Stages a metadata write into the next flush's WriteBatch: a put of val
 * (vlen bytes) or, when val is NULL, a delete of key. key and val are
 * copied. Staged writes are applied in staging order after the epoch's
 * rows (a later stage of one key wins), survive a failed flush (retried
 * with the next one) and stor_engine_discard_overlay, and are lost with an
 * unflushed engine. Returns HB_OK, or HB_INVALID when key is not a
 * metadata key (table id 0) or is longer than HB_KEY_MAX. */
hb_rc_t stor_engine_stage_meta(stor_engine_t *eng, const void *key, size_t klen,
                               const void *val, size_t vlen);

/* Returns the number of staged metadata writes not yet flushed. */
size_t stor_engine_staged(const stor_engine_t *eng);

/* Visitor of stor_engine_meta_scan: key and value are borrowed for the call.
 * Returns true to go on, false to stop. */
typedef bool (*stor_meta_fn)(void *arg, const uint8_t *key, size_t klen,
                             const uint8_t *val, size_t vlen);

/* Calls fn for every key in LevelDB with start <= key < end, in key order
 * (flushed data only: staged writes are not visible). Both bounds must be
 * metadata keys. Returns HB_OK, HB_INVALID for a non-metadata bound, or
 * HB_IO (logged). */
hb_rc_t stor_engine_meta_scan(stor_engine_t *eng, const void *start, size_t slen,
                              const void *end, size_t elen, stor_meta_fn fn, void *arg);

/* Drops every unflushed version (the state returns to the applied epoch). */
void stor_engine_discard_overlay(stor_engine_t *eng);

/* Increments the incarnation and persists it with a synced write.
 * Returns HB_OK or HB_IO (logged; the incarnation is unchanged). */
hb_rc_t stor_engine_new_incarnation(stor_engine_t *eng);

/* Accessors. */
uint64_t stor_engine_applied_epoch(const stor_engine_t *eng); /* last flushed epoch */
uint64_t stor_engine_state_hash(const stor_engine_t *eng);    /* hash at applied epoch */
uint64_t stor_engine_incarnation(const stor_engine_t *eng);   /* current incarnation */
/* Returns the LevelDB handle (borrowed) for snapshot reads: it holds
 * exactly the state at the applied epoch (unflushed writes live in the
 * overlay). Readers must not write through it. */
leveldb_t *stor_engine_db(stor_engine_t *eng);
size_t stor_engine_overlay_keys(const stor_engine_t *eng);     /* keys with versions */
size_t stor_engine_overlay_versions(const stor_engine_t *eng); /* unflushed versions */

/* Returns the state hash h(k, v) contribution of one row. */
uint64_t stor_engine_row_hash(const void *key, size_t klen, const void *val, size_t vlen);

/* Recomputes the state hash by scanning every user key in LevelDB (the
 * overlay is ignored) into *hash. For verification and tests: O(rows).
 * Returns HB_OK or HB_IO. */
hb_rc_t stor_engine_scan_hash(stor_engine_t *eng, uint64_t *hash);

#endif
