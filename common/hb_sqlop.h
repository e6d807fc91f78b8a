/* hb_sqlop.h — what one sql.exec op does to its row, as a pure function.
 *
 * The ops (formats in hb_proc.h, above hb_sqlop_t) are applied by storage
 * to the locked row inside the transaction, and by sqlfront to its view of
 * an open transaction block (a snapshot row plus the block's own writes),
 * so the two always agree on what a block's earlier writes did. Applying
 * is deterministic: it depends only on the op bytes, the old row and
 * now_us.
 */
#ifndef HB_SQLOP_H
#define HB_SQLOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_expr.h"
#include "hb_proc.h"
#include "hb_rc.h"

/* The key an op works on. */
typedef struct {
    hb_sqlop_t kind;    /* GET, INSERT, UPDATE, DELETE, CHECK */
    const uint8_t *key; /* encoded key (borrowed from the op) */
    uint32_t klen;
    uint32_t plen; /* bytes of key that are the partition key */
} hb_sqlop_head_t;

/* What applying an op does. */
typedef struct {
    int write;          /* 0: nothing, 1: store row, 2: delete the row */
    const uint8_t *row; /* write == 1: the new row's bytes */
    size_t rowlen;
    hb_val_t result; /* the op's result: the row it returns (bin), else int
                      * 1 if it changed a row and 0 if not; GET of an
                      * absent row, and index entry ops: nil */
} hb_sqlop_effect_t;

/* Reads the head of the op in len bytes at op. Returns HB_OK or HB_PROTO. */
hb_rc_t hb_sqlop_head(const uint8_t *op, size_t len, hb_sqlop_head_t *h);

/* Applies the op to the row at its key: old (oldlen bytes) when present.
 * Memory for new rows and strings comes from alloc/arg; results and rows
 * may also point into op or old. Returns HB_OK and *eff; HB_ABORTED with
 * err set for a logical abort (23505 duplicate key, 23502 NULL in a NOT
 * NULL column, 40001 a CHECK that found another row, expression errors);
 * HB_PROTO with err XX000 for malformed bytes. */
hb_rc_t hb_sqlop_apply(const uint8_t *op, size_t len, bool present, const uint8_t *old,
                       size_t oldlen, int64_t now_us,
                       void *(*alloc)(void *arg, size_t size), void *arg,
                       hb_sqlop_effect_t *eff, hb_sqlerr_t *err);

/* Packs a CHECK op: the row at key must be exactly row (rowlen bytes) or,
 * with row NULL, absent. */
void hb_sqlop_pack_check(msgpack_packer *pk, const uint8_t *key, size_t klen,
                         uint32_t plen, const uint8_t *row, size_t rowlen);

/* Packs a CHECK op on existence only: the row at key must be present (any
 * bytes: [CHECK, key, plen, true]) or, with present false, absent. How a
 * block validates an answer that depends only on whether a row exists (a
 * blind point UPDATE / DELETE, a plain INSERT). */
void hb_sqlop_pack_check_exists(msgpack_packer *pk, const uint8_t *key, size_t klen,
                                uint32_t plen, bool present);

#endif
