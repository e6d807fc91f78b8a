/* catalog.h — sqlfront's copy of the SQL catalog (DESIGN.md section 6).
 *
 * The catalog lives in the cluster (table HB_TABLE_CATALOG, one copy per
 * partition, written only by sql.ddl transactions; common/hb_proc.h); a
 * sqlfront keeps the copy it last read from a snapshot of partition 0,
 * with that copy's version. Plans record the version; storage aborts a plan
 * made for another version ("XXCAT") and sqlfront reloads and plans again.
 *
 * A table definition travels as msgpack, opaque to storage:
 *   [[[name, type, typmod, not_null, default(bin expr | nil)] ...],
 *    [pk column index ...], npart, [[name, no, [col ...], ready] ...], next_idx]
 * where the first npart primary-key columns are the partition key.
 */
#ifndef SQLF_CATALOG_H
#define SQLF_CATALOG_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "hb_expr.h"
#include "hb_proc.h"
#include "hb_rc.h"
#include "hobbes.h"

#define SQLF_NAME_MAX 64
#define SQLF_MAX_PK   32

typedef struct {
    char name[SQLF_NAME_MAX]; /* column name (lower case unless quoted) */
    hb_type_t type;           /* column type */
    int32_t typmod;           /* varchar/char length, 0 = none */
    bool not_null;            /* NOT NULL (implied for primary-key columns) */
    uint8_t *def;             /* DEFAULT expression bytecode (owned), or NULL */
    uint32_t deflen;          /* its length */
} sqlf_col_t;

#define SQLF_MAX_INDEXES 16
#define SQLF_MAX_IDXCOLS 16

/* A secondary index: entries [HB_TABLE_INDEX][table id][no][cols][key
 * columns] -> row key, on the row's partition (common/hb_proc.h). */
typedef struct {
    char name[SQLF_NAME_MAX];
    uint32_t no;                    /* index number in the table, never reused */
    uint32_t ncols;
    uint32_t cols[SQLF_MAX_IDXCOLS]; /* table columns */
    bool ready;                     /* backfilled: reads may use it */
} sqlf_index_t;

typedef struct {
    char name[SQLF_NAME_MAX]; /* table name */
    uint32_t id;              /* table id: key prefix of its rows */
    uint32_t ncols;           /* columns */
    sqlf_col_t *cols;         /* ncols columns (owned) */
    uint32_t npk;             /* primary-key columns */
    uint32_t pk[SQLF_MAX_PK]; /* their indexes, in key order */
    uint32_t npart;           /* leading pk columns that are the partition key */
    uint32_t nidx;            /* secondary indexes (maintained by every write) */
    sqlf_index_t idx[SQLF_MAX_INDEXES];
    uint32_t next_idx;        /* number of the next index made */
} sqlf_table_t;

#define SQLF_MAX_PARAMS 100

/* A stored procedure: CREATE PROCEDURE name(params) LANGUAGE SQL AS body.
 * Stored as record "\x01" + name with definition
 * [[[param name, type, typmod] ...], body text]. */
typedef struct {
    char name[SQLF_NAME_MAX];
    uint32_t nparams;
    char (*pnames)[SQLF_NAME_MAX]; /* "" for an unnamed parameter */
    hb_type_t *ptypes;
    int32_t *pmods;
    char *body;                    /* NUL-terminated SQL text */
} sqlf_proc_t;

typedef struct sqlf_catalog sqlf_catalog_t;

/* Returns an empty catalog at version 0 (caller owns; destroy). */
sqlf_catalog_t *sqlf_catalog_new(void);
/* Frees; accepts NULL; sets *self_p = NULL. */
void sqlf_catalog_destroy(sqlf_catalog_t **self_p);

/* Replaces the catalog's contents with a fresh read of partition 0 through
 * cli (a snapshot scan), at an applied epoch >= min_epoch (the epoch of the
 * newest DDL the caller knows of; it waits for it). Returns HB_OK, or the
 * scan's error or HB_TIMEOUT (the old contents are kept). */
hb_rc_t sqlf_catalog_load(sqlf_catalog_t *self, hb_client_t *cli, int timeout_ms,
                          uint64_t min_epoch);

/* Returns the version of the loaded contents. */
int64_t sqlf_catalog_version(const sqlf_catalog_t *self);

/* Returns the table named name, or NULL. Borrowed until the next load. */
const sqlf_table_t *sqlf_catalog_find(const sqlf_catalog_t *self, const char *name);

/* Returns the table with index i (0..size-1, in name order) or NULL. */
const sqlf_table_t *sqlf_catalog_at(const sqlf_catalog_t *self, uint32_t i);
uint32_t sqlf_catalog_size(const sqlf_catalog_t *self);

/* Returns the table with index `name` and the index's position in
 * *which, or NULL. Borrowed until the next load. */
const sqlf_table_t *sqlf_catalog_find_index(const sqlf_catalog_t *self, const char *name,
                                            uint32_t *which);

/* Returns the procedure named name, or NULL. Borrowed until the next load. */
const sqlf_proc_t *sqlf_catalog_find_proc(const sqlf_catalog_t *self, const char *name);

/* Appends the definition of p to pk. */
void sqlf_proc_pack(msgpack_packer *pk, const sqlf_proc_t *p);

/* Appends the definition of t (id ignored) to pk. */
void sqlf_table_pack(msgpack_packer *pk, const sqlf_table_t *t);

/* Returns the column index of name in t, or -1. */
int sqlf_table_col(const sqlf_table_t *t, const char *name);

#endif
