/* procs.h — the execution context and the native procedure bodies.
 *
 * A procedure body runs deterministically over a transaction's gathered
 * reads (docs/architecture.md section 2, step 7d). It sees the world only through a
 * stor_ctx_t:
 *  - stor_ctx_read answers ONLY from the read set the executor gathered for
 *    the transaction's lock keys (plus the transaction's own earlier
 *    writes); reading any other key is a deterministic abort;
 *  - stor_ctx_write / stor_ctx_delete buffer writes, allowed only on keys
 *    the transaction holds a write lock on; the executor applies those of
 *    its own partition after the body returns HB_OK;
 *  - stor_ctx_write_fresh buffers a *fresh* write: a key outside the lock
 *    set that, by construction, only the holder of one specific lock ever
 *    creates (TPC-C's orders, new_order, order_line rows and index entry of
 *    order d_next_o_id, under the district's write lock; the history row
 *    numbered by the customer's payment count, under the customer's). No
 *    other transaction can know the key before it exists, so no lock is
 *    needed to order writers (one that locks such a key on a guess, before
 *    its creator ran, is not ordered after it). It is allowed only when the transaction
 * holds a write lock on some key of the same partition, so that partition is an executor
 * and applies it; the executor applies the fresh writes of its partition after the slot
 * writes, in the order they were made;
 *  - stor_ctx_result appends a result value; stor_ctx_abort ends the body
 *    with an error code and message (the writes are then discarded).
 * Everything the context hands out (values, keys, copies of result strings)
 * lives in a chunked arena that never moves, valid until the next
 * stor_ctx_reset.
 *
 * Stored values are msgpack arrays of column values: kv rows hold one
 * element (any scalar, usually int64 or str), micro rows one int64.
 * Bodies are registered by hb_proc_id_t (common/hb_proc.h) and re-derive
 * their keys from the arguments exactly like the procedure's plan does.
 */
#ifndef STOR_PROCS_H
#define STOR_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_proc.h"
#include "hb_rc.h"
#include "hb_txn.h"
#include "hb_val.h"

#define STOR_CTX_MSG_MAX 256

typedef struct stor_ctx stor_ctx_t;

/* One buffered write, as the executor sees it. */
typedef struct {
    uint16_t partition; /* partition of the key (from the lock set) */
    const uint8_t *key; /* key bytes (borrowed from the context) */
    size_t klen;        /* key length */
    const uint8_t *val; /* value bytes; NULL for a delete */
    size_t vlen;        /* value length */
} stor_write_t;

/* A procedure body. Returns HB_OK, or the code given to stor_ctx_abort. */
typedef hb_rc_t (*stor_proc_fn)(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs);

/* Returns a new, empty context (caller owns; stor_ctx_destroy). */
/* Writes a printable, truncated copy of len bytes at p into out (cap
 * bytes, cap >= 5): bytes outside 0x20..0x7e become '?', a cut ends in
 * "...". For user-facing messages that name a key. */
void stor_printable(const uint8_t *p, size_t len, char *out, size_t cap);

stor_ctx_t *stor_ctx_new(void);

/* Frees a context; accepts NULL; sets *self_p = NULL. */
void stor_ctx_destroy(stor_ctx_t **self_p);

/* Starts a transaction: forgets everything of the previous one and makes one
 * read-set slot per distinct lock key of txn (borrowed: keep txn alive until
 * the next reset). Returns HB_OK, or HB_ABORTED (message set) when the lock
 * set is unusable. */
hb_rc_t stor_ctx_reset(stor_ctx_t *ctx, const hb_txn_t *txn);

/* Returns size bytes of context memory (valid until the next reset; never
 * NULL). Usable as a stor_alloc_fn with the context as arg. */
void *stor_ctx_alloc(void *ctx, size_t size);

/* Records the gathered value of a lock key: val (vlen bytes, borrowed: it
 * must stay valid until the next reset, e.g. memory from stor_ctx_alloc) or
 * val = NULL when the key is absent. Returns HB_OK, or HB_NOTFOUND when key
 * is not a lock key of the transaction. */
hb_rc_t stor_ctx_add_read(stor_ctx_t *ctx, const void *key, size_t klen,
                          const uint8_t *val, size_t vlen);

/* Reads key: the transaction's own latest write of it, else its gathered
 * value. Returns HB_OK with *val (borrowed from the context) and *vlen;
 * HB_NOTFOUND (absent) with *val = NULL; or HB_ABORTED when the key was not
 * gathered (not a lock key, or its read never arrived): the context is then
 * aborted and the body should return that code. */
hb_rc_t stor_ctx_read(stor_ctx_t *ctx, const void *key, size_t klen, const uint8_t **val,
                      size_t *vlen);

/* Buffers a write of val (copied) to key. Returns HB_OK, or HB_ABORTED
 * (context aborted) when the transaction has no write lock on key. */
hb_rc_t stor_ctx_write(stor_ctx_t *ctx, const void *key, size_t klen, const void *val,
                       size_t vlen);

/* Buffers a deletion of key. Returns as stor_ctx_write. */
hb_rc_t stor_ctx_delete(stor_ctx_t *ctx, const void *key, size_t klen);

/* Buffers a fresh write of val (copied) to key (copied), a key on
 * partition that need not be a lock key (see the file comment for when
 * that is safe). A lock key is written as by stor_ctx_write (its partition
 * must then be partition); writing a fresh key again replaces its value
 * and keeps its place in the order. stor_ctx_read of the key then returns
 * val. Returns HB_OK, or HB_ABORTED (context aborted) when the transaction
 * has no write lock on partition, or key is reserved (table id 0) or
 * longer than HB_KEY_MAX. */
hb_rc_t stor_ctx_write_fresh(stor_ctx_t *ctx, uint16_t partition, const void *key,
                             size_t klen, const void *val, size_t vlen);

/* Finds the partition of lock key key: returns HB_OK and *partition, or
 * HB_NOTFOUND (not a lock key; *partition = 0). How a body places a fresh
 * key: on the partition of the lock (an "anchor") that covers it. */
hb_rc_t stor_ctx_lock_partition(const stor_ctx_t *ctx, const void *key, size_t klen,
                                uint16_t *partition);

/* Returns the number of fresh writes, walked in the order they were made
 * with stor_ctx_fresh. */
uint32_t stor_ctx_nfresh(const stor_ctx_t *ctx);

/* Returns true and fills *w (val never NULL) for fresh write i < nfresh. */
bool stor_ctx_fresh(const stor_ctx_t *ctx, uint32_t i, stor_write_t *w);

/* Appends a result value; strings are copied into the context. */
void stor_ctx_result(stor_ctx_t *ctx, const hb_val_t *v);

/* Aborts the transaction with rc (not HB_OK) and a printf-style message.
 * The first abort wins. Returns rc, for `return stor_ctx_abort(...)`. */
hb_rc_t stor_ctx_abort(stor_ctx_t *ctx, hb_rc_t rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns the abort code (HB_OK if not aborted). */
hb_rc_t stor_ctx_rc(const stor_ctx_t *ctx);

/* Returns the abort message ("" if not aborted; borrowed). */
const char *stor_ctx_message(const stor_ctx_t *ctx);

/* Returns the transaction being executed (borrowed), or NULL. */
const hb_txn_t *stor_ctx_txn(const stor_ctx_t *ctx);

/* Returns the result values (borrowed) and their count in *n. */
const hb_val_t *stor_ctx_results(const stor_ctx_t *ctx, uint32_t *n);

/* Returns the number of read-set slots (distinct lock keys); the executor
 * walks them with stor_ctx_written in lock-set order. */
uint32_t stor_ctx_nslots(const stor_ctx_t *ctx);

/* Returns true and fills *w if slot i was written by the body. */
bool stor_ctx_written(const stor_ctx_t *ctx, uint32_t i, stor_write_t *w);

/* Returns the body of procedure id, or NULL. Static table. */
stor_proc_fn stor_proc_body(hb_proc_id_t id);

/* Runs procedure id over ctx. Returns HB_OK, or the abort code (the context
 * then holds the message; a body that fails without one gets a generic
 * message). An unknown id aborts with HB_NOTFOUND. */
hb_rc_t stor_proc_run(stor_ctx_t *ctx, hb_proc_id_t id, const hb_val_t *args,
                      uint32_t nargs);

#endif
