/* hb_key.h — the order-preserving key encoding (docs/architecture.md section 5).
 *
 * A key is [table id: 4 bytes big-endian][column values...] where each
 * column is encoded so that memcmp order equals value order:
 *  - int64: 8 bytes big-endian with the sign bit flipped, so -1 < 0 < 1;
 *  - string/bytes: each 0x00 byte written as 0x00 0xFF, terminated by
 *    0x00 0x01, so "a" < "a\0" < "ab" and embedded zero bytes survive;
 *  - bool: one byte 0 or 1.
 * Table id 0 is reserved for storage metadata (applied epoch, state hash).
 *
 * hb_key_t is a fixed-capacity builder on the stack; appends past capacity
 * set `overflow` instead of writing, and the caller checks once.
 */
#ifndef HB_KEY_H
#define HB_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"

#define HB_KEY_MAX 1024

/* Built-in table ids. */
enum {
    HB_TABLE_META = 0,    /* storage metadata, never a lock key */
    HB_TABLE_KV = 1,      /* kv.* procedures: string key -> one value */
    HB_TABLE_MICRO = 2,   /* micro.rmw records: int64 id -> int64 counter */
    HB_TABLE_YCSB = 3,    /* YCSB usertable: string key -> fields */
    HB_TABLE_CATALOG = 4, /* SQL catalog, one copy per partition (hb_proc.h) */
    HB_TABLE_INDEX = 5,   /* SQL secondary index entries (hb_proc.h) */
    HB_TABLE_USER_FIRST = 1024,
};

typedef struct {
    uint8_t buf[HB_KEY_MAX]; /* encoded bytes */
    size_t len;              /* bytes used */
    bool overflow;           /* an append did not fit */
} hb_key_t;

/* Starts a key for table_id (resets k). */
void hb_key_init(hb_key_t *k, uint32_t table_id);
void hb_key_put_i64(hb_key_t *k, int64_t v);
void hb_key_put_str(hb_key_t *k, const void *s, size_t len);
void hb_key_put_bool(hb_key_t *k, bool v);

/* Decoders: read one column at *p (advancing it) without passing end.
 * Return HB_OK or HB_CORRUPT. hb_key_get_str writes at most cap bytes to
 * out and the decoded length to *len (HB_TOOBIG if it does not fit). */
hb_rc_t hb_key_get_table(const uint8_t **p, const uint8_t *end, uint32_t *table_id);
hb_rc_t hb_key_get_i64(const uint8_t **p, const uint8_t *end, int64_t *v);
hb_rc_t hb_key_get_str(const uint8_t **p, const uint8_t *end, uint8_t *out, size_t cap,
                       size_t *len);

/* Returns the partition (0..nparts-1) of a partition key: a hash of its
 * encoded bytes. Deterministic across builds and hosts. */
uint32_t hb_key_partition(const void *pkey, size_t len, uint32_t nparts);

/* Convenience: the encoded kv-table key for a string, and its partition. */
void hb_key_kv(hb_key_t *k, const void *s, size_t len);
/* Convenience: the encoded micro-table key for a record id. */
void hb_key_micro(hb_key_t *k, int64_t id);

#endif
