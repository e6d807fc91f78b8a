/* hb_proc.h — the catalog of native procedures, and how each one's lock set
 * is derived from its arguments.
 *
 * Shared by the client library (to pick the sequencer group), the sequencer
 * (which re-derives the lock set itself: it never trusts a client's) and
 * storage (which runs the bodies, registered in storage/procs.c by id).
 *
 *   kv.get KEY                   -> value, or nil when absent
 *   kv.put KEY VALUE             -> nil
 *   kv.add KEY DELTA             -> new value (absent counts as 0)
 *   kv.transfer FROM TO AMOUNT   -> [from balance, to balance]; aborts,
 *                                   changing nothing, if FROM would go < 0
 *   micro.rmw ID x10             -> nil; reads and increments 10 records
 *
 * YCSB (table HB_TABLE_YCSB; key = the user key as one string column, row =
 * msgpack array of the fields as bin; KEY is a str or bin of 1..512 bytes,
 * FIELD an integer 0..HB_YCSB_MAX_FIELDS-1, VALUE a str or bin). Calls with
 * several records exist so one transaction can span partitions:
 *   ycsb.read KEY [KEY ...]      -> per key, in argument order, either nil
 *                                   (no such record) or the field count n
 *                                   followed by the n fields (bin): a flat
 *                                   list "nil | n f0 .. fn-1" per key
 *   ycsb.update KEY FIELD VALUE [KEY FIELD VALUE ...]
 *                                -> nothing; aborts if a record is missing
 *                                   or has no such field
 *   ycsb.insert KEY V0 .. Vn-1   -> nothing; aborts if KEY exists
 *   ycsb.rmw KEY FIELD VALUE [...] -> per triple, the record as read before
 *                                   its update (same encoding as ycsb.read),
 *                                   then the update; aborts like ycsb.update
 *
 * SQL (planned by sqlfront; docs/architecture.md section 6). Keys of user tables are
 * [table id][primary key columns]; a key's partition is hb_key_partition of
 * its first `plen` bytes (table id + partition key columns). Every SQL
 * transaction also read-locks the catalog version record of each partition
 * it touches, and aborts (message "XXCAT ...") when the catalog changed
 * since it was planned. Errors are aborts whose message starts with a
 * PostgreSQL SQLSTATE ("23505 duplicate key ...").
 *   sql.exec CATVER OPS(bin)     -> one bin: a msgpack array of one value
 *                                   per op, in order (HB_SQLOP_*, below):
 *                                   its row (bin), or 1 if it changed a
 *                                   row and 0 if not (a GET of an absent
 *                                   row gives nil)
 *   sql.ddl CATVER KIND NAME DEF(bin) -> [new catalog version, table id]:
 *                                   creates (KIND 0), drops (1) or
 *                                   truncates (2: a new table id) table
 *                                   NAME on every partition; or creates
 *                                   (3), drops (4), replaces (5) procedure
 *                                   record NAME ("\x01" + its name)
 *
 * TPC-C (docs/tpcc.md, "Native procedures"; bodies in storage/procs_tpcc.c).
 * Every call starts with the 11 schema integers S.. (table ids of
 * warehouse, district, customer, history, new_order, orders, order_line,
 * item, stock; index numbers of orders_customer and customer_name). A key
 * is [table id][primary key columns as hb_key_put_i64] and its partition
 * hb_key_partition of its first 12 bytes (table id + the first column: the
 * warehouse, or i_id for item), exactly as SQL places a row of a table
 * PARTITION BY HASH (that column).
 *   tpcc.new_order S.. W D C ALL_LOCAL I1 SW1 Q1 .. In SWn Qn (n 5..15)
 *                                -> [o_id, total, c_last, c_credit,
 *                                   c_discount, w_tax, d_tax]
 *   tpcc.payment S.. W D CW CD C AMOUNT -> [c_balance, c_credit]
 *   tpcc.delivery S.. W CARRIER O1 C1 N1 .. O10 C10 N10 -> [delivered]
 * Rows they create outside their lock set (new_order's orders, index
 * entry, new_order and order_line rows; payment's history row) are fresh
 * writes (storage/procs.h); so that every partition holding one executes
 * the body, the plan write-locks an *anchor* key there: the district's key
 * prefix [table][W][D] in orders, new_order and order_line, and the
 * customer's prefix [history][CW][CD][C] in history. No row has such a key.
 */
#ifndef HB_PROC_H
#define HB_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "hb_key.h"
#include "hb_limits.h"
#include "hb_rc.h"
#include "hb_txn.h"
#include "hb_val.h"

typedef enum {
    HB_PROC_KV_GET = 0,
    HB_PROC_KV_PUT,
    HB_PROC_KV_ADD,
    HB_PROC_KV_TRANSFER,
    HB_PROC_MICRO_RMW,
    HB_PROC_YCSB_READ,
    HB_PROC_YCSB_UPDATE,
    HB_PROC_YCSB_INSERT,
    HB_PROC_YCSB_RMW,
    HB_PROC_SQL_EXEC,
    HB_PROC_SQL_DDL,
    HB_PROC_TPCC_NEW_ORDER,
    HB_PROC_TPCC_PAYMENT,
    HB_PROC_TPCC_DELIVERY,
    HB_PROC_COUNT_
} hb_proc_id_t;

#define HB_MICRO_KEYS      10
#define HB_YCSB_MAX_KEYS   16  /* records of one ycsb.read / update / rmw */
#define HB_YCSB_MAX_FIELDS 64  /* fields of one YCSB record */
#define HB_YCSB_KEY_MAX    512 /* bytes of a YCSB user key */

/* The catalog table: key [HB_TABLE_CATALOG][int partition][str name];
 * name "" is the partition's version record [version, next table id],
 * any other name a table record [table id, definition(bin)]. */
#define HB_SQL_MAX_OPS  65536
#define HB_SQL_MAX_COLS 256 /* columns of one table */

/* Ops of sql.exec, each a msgpack array (expressions: hb_expr.h):
 *   [GET, key, plen]                 -> appends the row (bin) if present
 *   [INSERT, key, plen, table name, row(bin), on_conflict (0 error 23505,
 *    1 do nothing, 2 do update), sets, where(bin|nil), returning(bool)]
 *   [UPDATE, key, plen, where(bin|nil), sets, returning]
 *   [DELETE, key, plen, where(bin|nil), returning]
 *   [CHECK, key, plen, row(bin|nil|true)] -> aborts "40001" unless the row
 *                                    is exactly row (nil: absent; true:
 *                                    present, any bytes): how a block
 *                                    validates what it read (OLLP)
 *   [IPUT, key, 0, pkey(bin), rowkey(bin)] and [IDEL, key, 0, pkey(bin)]
 *                                    store / delete a secondary index
 *                                    entry: key [HB_TABLE_INDEX][int table
 *                                    id][int index no][index columns][key
 *                                    columns] -> the row's key. An entry
 *                                    lives on its row's partition:
 *                                    hb_key_partition(pkey), pkey being the
 *                                    row key's partition prefix
 * sets: [[column, type, typmod, not_null, expr(bin)] ...], evaluated over
 * the old row (for INSERT ... DO UPDATE over old row ++ proposed row, so
 * EXCLUDED.c is column ncols + c). A missing row or a false WHERE skips the
 * op; returning gives the new row (the old one for DELETE) as the op's
 * result. */
typedef enum {
    HB_SQLOP_GET = 0,
    HB_SQLOP_INSERT = 1,
    HB_SQLOP_UPDATE = 2,
    HB_SQLOP_DELETE = 3,
    HB_SQLOP_CHECK = 4,
    HB_SQLOP_IPUT = 5,
    HB_SQLOP_IDEL = 6,
} hb_sqlop_t;

/* Kinds of sql.ddl. */
typedef enum {
    HB_SQLDDL_CREATE = 0,
    HB_SQLDDL_DROP = 1,
    HB_SQLDDL_TRUNCATE = 2,
    HB_SQLDDL_CREATE_PROC = 3, /* record name "\x01" + procedure name */
    HB_SQLDDL_DROP_PROC = 4,
    HB_SQLDDL_REPLACE_PROC = 5, /* CREATE OR REPLACE PROCEDURE */
    HB_SQLDDL_ALTER = 6,        /* a new definition for existing table NAME */
} hb_sqlddl_t;

/* ------------------------------------------------------------------ */
/* TPC-C arguments, shared by the plans and the bodies                  */
/* ------------------------------------------------------------------ */

#define HB_TPCC_SCHEMA_ARGS 11
#define HB_TPCC_MIN_OL      5 /* order lines of one order */
#define HB_TPCC_MAX_OL      15
#define HB_TPCC_DISTRICTS   10 /* districts per warehouse (s_dist_01..10) */
#define HB_TPCC_PLEN        12 /* partition prefix: table id + first column */

/* The schema arguments. */
typedef struct {
    uint32_t warehouse; /* table ids */
    uint32_t district;
    uint32_t customer;
    uint32_t history;
    uint32_t new_order;
    uint32_t orders;
    uint32_t order_line;
    uint32_t item;
    uint32_t stock;
    uint32_t ix_orders_customer; /* index number of orders_customer */
    uint32_t ix_customer_name;   /* index number of customer_name */
} hb_tpcc_schema_t;

/* tpcc.new_order arguments. */
typedef struct {
    hb_tpcc_schema_t s;
    int64_t w, d, c;   /* warehouse, district, customer */
    int64_t all_local; /* 0 or 1: 1 exactly when every supply_w is w */
    uint32_t n;        /* order lines, HB_TPCC_MIN_OL..HB_TPCC_MAX_OL */
    struct {
        int64_t i_id;     /* item */
        int64_t supply_w; /* supplying warehouse */
        int64_t qty;      /* quantity, 1..10 */
    } ol[HB_TPCC_MAX_OL];
} hb_tpcc_new_order_t;

/* tpcc.payment arguments. */
typedef struct {
    hb_tpcc_schema_t s;
    int64_t w, d;      /* the paying-to warehouse and district */
    int64_t cw, cd, c; /* the customer */
    int64_t amount;    /* hundredths (numeric(6,2)): 1..999999 */
} hb_tpcc_payment_t;

/* tpcc.delivery arguments. */
typedef struct {
    hb_tpcc_schema_t s;
    int64_t w;       /* warehouse */
    int64_t carrier; /* 1..10 */
    struct {
        int64_t o_id;   /* oldest new order seen; 0: skip the district */
        int64_t c_id;   /* its customer (>= 1 when o_id > 0) */
        int64_t ol_cnt; /* its line count (1..HB_TPCC_MAX_OL when o_id > 0) */
    } d[HB_TPCC_DISTRICTS];
} hb_tpcc_delivery_t;

/* Each checks a call's arguments (count, types, ranges) and fills *out.
 * Returns HB_OK, or HB_INVALID with a message in err ("tpcc.payment: ..."). */
hb_rc_t hb_tpcc_new_order_args(const hb_val_t *args, uint32_t nargs,
                               hb_tpcc_new_order_t *out, char *err, size_t errlen);
hb_rc_t hb_tpcc_payment_args(const hb_val_t *args, uint32_t nargs, hb_tpcc_payment_t *out,
                             char *err, size_t errlen);
hb_rc_t hb_tpcc_delivery_args(const hb_val_t *args, uint32_t nargs,
                              hb_tpcc_delivery_t *out, char *err, size_t errlen);

/* Encodes the key [table][cols[0]]..[cols[n-1]] into k. */
void hb_tpcc_key(hb_key_t *k, uint32_t table, const int64_t *cols, uint32_t n);
/* Returns the partition of a TPC-C row key (or anchor, or the orders row
 * key of an index entry): hb_key_partition of its first HB_TPCC_PLEN bytes. */
uint16_t hb_tpcc_partition(const hb_key_t *k, uint32_t nparts);
/* Encodes the start of a TPC-C index entry into k: [HB_TABLE_INDEX][table]
 * [ixno] then n (at most 3) integer index columns, each behind the 0x01
 * "not NULL" tag, as sqlf_index_key does (a scan's prefix). */
void hb_tpcc_index_prefix(hb_key_t *k, uint32_t table, uint32_t ixno, const int64_t *cols,
                          uint32_t n);
/* Encodes the orders_customer entry of order (w, d, o) of customer c, as
 * SQL's sqlf_index_key does: [HB_TABLE_INDEX][orders][ix no][0x01 w][0x01
 * d][0x01 c][w][d][o]. It lives on the orders row's partition. */
void hb_tpcc_order_index_key(hb_key_t *k, const hb_tpcc_schema_t *s, int64_t w, int64_t d,
                             int64_t c, int64_t o);

/* Encodes the catalog key of (partition, name) into k. */
void hb_key_catalog(hb_key_t *k, uint16_t partition, const char *name, size_t len);

/* A growable lock set under construction; keys are copied into it. */
typedef struct {
    hb_lock_t *locks; /* locks[i].key points into keybuf (fixed up on growth) */
    uint32_t n;       /* locks used */
    uint32_t cap;     /* locks allocated */
    uint8_t *keybuf;  /* key bytes */
    size_t keylen;    /* bytes used in keybuf */
    size_t keycap;    /* bytes allocated in keybuf */
} hb_lockset_t;

/* Starts an empty set (no allocation). */
void hb_lockset_init(hb_lockset_t *ls);
/* Frees the set's memory; it is then empty and reusable. */
void hb_lockset_clear(hb_lockset_t *ls);
/* Empties the set but keeps its memory for the next plan (hot paths). */
void hb_lockset_reset(hb_lockset_t *ls);
/* Appends a lock; if key is already present the stronger mode wins.
 * Copies the key. */
void hb_lockset_add(hb_lockset_t *ls, uint16_t partition, hb_lock_mode_t mode,
                    const void *key, size_t len);

typedef struct {
    const char *name;  /* "kv.put" */
    hb_proc_id_t id;   /* index in the catalog */
    uint32_t min_args; /* fewest arguments */
    uint32_t max_args; /* most arguments */
    const char *usage; /* "kv.put KEY VALUE" */
    /* Checks args and derives the lock set into ls. Returns HB_OK, or
     * HB_INVALID with a message in err. Pure: same args -> same set. */
    hb_rc_t (*plan)(const hb_val_t *args, uint32_t nargs, uint32_t nparts,
                    hb_lockset_t *ls, char *err, size_t errlen);
} hb_proc_def_t;

/* Returns the procedure named name (len bytes), or NULL. Static. */
const hb_proc_def_t *hb_proc_find(const char *name, size_t len);
/* Returns the procedure with id, or NULL. Static. */
const hb_proc_def_t *hb_proc_by_id(hb_proc_id_t id);

/* Checks arity and runs def->plan. Returns HB_OK or HB_INVALID + err. */
hb_rc_t hb_proc_plan(const hb_proc_def_t *def, const hb_val_t *args, uint32_t nargs,
                     uint32_t nparts, hb_lockset_t *ls, char *err, size_t errlen);

#endif
