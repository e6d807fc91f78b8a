/* plan.h — turning one parsed PostgreSQL statement into a Hobbes plan.
 *
 * sqlf_plan reads a statement of libpg_query's protobuf tree and the
 * catalog, and produces a sqlf_stmt_t: what to read (a point key, or a
 * key range on one or every partition, with a filter), what to compute
 * over the rows (targets, aggregates, order, limit), what to write (the
 * sql.exec ops of common/hb_proc.h, or an op template applied to every
 * row a reconnaissance read finds: OLLP), or a DDL call. Planning is pure:
 * it reads no data; the engine (front.c) does the reading and submitting.
 *
 * The planner's files: plan.c (entry points), plan_name.c, plan_expr.c,
 * plan_func.c (names and expressions), plan_path.c (keys and access
 * paths), plan_select.c, plan_dml.c, plan_ddl.c; their shared internals
 * are in plan_int.h.
 *
 * Everything a plan points to lives in its arena, freed by
 * sqlf_stmt_free.
 */
#ifndef SQLF_PLAN_H
#define SQLF_PLAN_H

#include <msgpack.h>
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "hb_expr.h"
#include "hb_key.h"

typedef enum {
    SQLF_ST_EMPTY = 0, /* nothing to do (a no-op SET, VACUUM ...); tag only */
    SQLF_ST_SELECT,    /* read at a snapshot, compute rows */
    SQLF_ST_WRITE,     /* INSERT / UPDATE / DELETE */
    SQLF_ST_DDL,       /* sql.ddl */
    SQLF_ST_BEGIN,
    SQLF_ST_COMMIT,
    SQLF_ST_ROLLBACK,
    SQLF_ST_CALL, /* CALL proc(args): its body runs as a block */
} sqlf_stmt_kind_t;

/* An expression: bytecode (hb_expr.h) and its inferred type. */
typedef struct {
    uint8_t *p;     /* bytes (arena); NULL = absent */
    uint32_t len;   /* length */
    hb_type_t type; /* result type */
} sqlf_expr_t;

#define SQLF_MAX_JOIN      8
#define SQLF_MAX_DDL_ITEMS 64 /* tables of one DROP TABLE / TRUNCATE */
#define SQLF_MAX_GROUP     32 /* GROUP BY expressions */

/* One table of a join, read once per row of the tables before it: its
 * primary-key prefix comes from expressions over the joined row so far
 * (constants for the first table). */
typedef struct {
    const sqlf_table_t *table;
    uint32_t off;      /* its first column in the joined row */
    uint32_t nbound;   /* leading key columns bound */
    sqlf_expr_t *bind; /* nbound expressions over the joined row */
} sqlf_join_t;

typedef enum {
    SQLF_AGG_COUNT_STAR,
    SQLF_AGG_COUNT,
    SQLF_AGG_SUM,
    SQLF_AGG_MIN,
    SQLF_AGG_MAX,
    SQLF_AGG_AVG
} sqlf_agg_kind_t;

typedef struct {
    sqlf_agg_kind_t kind; /* function */
    sqlf_expr_t arg;      /* argument over the input row (absent for count(*)) */
    bool distinct;        /* count(DISTINCT arg) */
} sqlf_agg_t;

typedef struct {
    uint32_t col;     /* column of the output row extended with hidden sort keys */
    bool desc;        /* DESC */
    bool nulls_first; /* NULLS FIRST (default: last for ASC, first for DESC) */
} sqlf_sort_t;

/* Where rows come from. */
typedef struct {
    const sqlf_table_t *table; /* NULL: no FROM (one empty row) */
    int32_t partition;         /* the one partition to read, or -1: all */
    bool point;                /* exactly the key start (a primary-key lookup) */
    bool key_only;             /* point, and WHERE is nothing but the key terms */
    hb_key_t start;            /* first key (inclusive) */
    hb_key_t end;              /* key bound (exclusive; unused for point) */
    uint32_t plen;             /* point: bytes of start that are the partition key */
    sqlf_expr_t where;         /* filter over the row (absent: all) */
    /* A ready secondary index can serve the read instead (outside blocks):
     * its entries in [ix_start, ix_end) give the row keys. */
    bool use_index;
    uint32_t ix_no; /* the index's number */
    hb_key_t ix_start, ix_end;
    int32_t ix_partition; /* -1: every partition; else ix_pkey's */
    hb_key_t ix_pkey;     /* the rows' partition prefix when bound */
    bool has_fixed;       /* read only partition `fixed` (index reads) */
    uint32_t fixed;
    /* FROM generate_series(start, stop [, step]): no table and no read;
     * the rows are [start + i * step] for i < ser_count (one integer
     * column), filtered by where. */
    bool series;
    int64_t ser_start, ser_step;
    uint64_t ser_count; /* <= SQLF_SERIES_MAX */
} sqlf_source_t;

#define SQLF_SERIES_MAX 10000000 /* rows of one generate_series (54000 beyond) */

/* Row ids of tables without a primary key (their hidden last column):
 * node << 52 | time, the time part max(last + 1, microseconds since
 * 2020-01-01 on this gateway's clock). node is 11 bits: the sqlfront's id
 * (7 bits) and its engine (worker) index (4 bits), so gateways and their
 * workers never hand out the same id, and ids keep growing across
 * restarts. Made at planning time: the plan is the replicated input, so
 * replicas agree. */
typedef struct {
    uint64_t node; /* (sqlfront id << 4 | engine) & SQLF_ROWID_NODE_MASK */
    uint64_t last; /* the time part of the last id */
} sqlf_rowid_t;

#define SQLF_ROWID_TIME_BITS 52
#define SQLF_ROWID_NODE_MASK 0x7FFULL
#define SQLF_ROWID_EPOCH_US  1577836800000000LL /* 2020-01-01 00:00:00 UTC, Unix us */

/* Returns the next row id of g. */
int64_t sqlf_rowid_next(sqlf_rowid_t *g);

#define SQLF_DESC_MAX_PARAMS 1024

/* What Describe reports of a statement's parameters: the highest $n
 * named, and each one's type (HB_T_UNKNOWN: nothing constrains it). */
typedef struct {
    uint32_t nparams;
    hb_type_t ptypes[SQLF_DESC_MAX_PARAMS];
} sqlf_describe_t;

typedef struct sqlf_stmt {
    sqlf_stmt_kind_t kind;
    char tag[32];      /* command tag stem: "SELECT", "INSERT", "CREATE TABLE" */
    sqlf_source_t src; /* SELECT, and UPDATE / DELETE */
    uint32_t njoin;    /* a join (SELECT only): its tables in order; the
                        * filter is src.where over the joined row */
    sqlf_join_t *join;

    /* Output (SELECT targets, or RETURNING of a write). */
    uint32_t nout;                    /* visible output columns */
    uint32_t nhidden;                 /* hidden sort-key columns after them */
    sqlf_expr_t *out;                 /* nout + nhidden expressions */
    char (*out_names)[SQLF_NAME_MAX]; /* nout names */

    /* Aggregation: output expressions then read the group row
     * [group values..., aggregate values...]. */
    bool agg;
    uint32_t ngroup;    /* GROUP BY expressions */
    sqlf_expr_t *group; /* over the input row */
    uint32_t naggs;
    sqlf_agg_t *aggs;
    sqlf_expr_t having; /* over the group row */

    uint32_t nsort;
    sqlf_sort_t *sort;
    int64_t limit; /* -1: none */
    int64_t offset;

    /* WRITE: ops ready to submit (point writes and INSERT), or a template
     * applied to each row the source finds (ollp). */
    hb_sqlop_t wkind;     /* INSERT, UPDATE or DELETE */
    bool returning;       /* out[] is a RETURNING list */
    msgpack_sbuffer ops;  /* packed ops, back to back (not an array) */
    uint32_t nops;        /* how many */
    bool ollp;            /* ops come from the source's rows */
    sqlf_expr_t upd_sets; /* packed sets list for UPDATE (raw msgpack) */

    /* INSERT: target table and columns, ON CONFLICT, and for INSERT ...
     * SELECT the query whose rows it inserts (sqlf_stmt_insert_row). */
    const sqlf_table_t *ins_table;
    uint32_t *ins_map; /* table column of each target column */
    uint32_t ins_ncols;
    uint64_t ins_conflict; /* 0 error, 1 do nothing, 2 do update */
    sqlf_expr_t ins_sets;  /* DO UPDATE sets (raw msgpack) */
    sqlf_expr_t ins_where; /* DO UPDATE ... WHERE */
    struct sqlf_stmt *sub; /* INSERT ... SELECT: the SELECT (owned) */
    int64_t now_us;        /* the statement's CURRENT_TIMESTAMP */
    sqlf_rowid_t *rowids;  /* INSERT into a table without a key: its ids (borrowed) */

    /* CALL */
    const char *call_body; /* the procedure's text (arena) */
    hb_val_t *call_args;   /* its arguments, converted (arena) */
    uint32_t call_nargs;
    char (*call_pnames)[SQLF_NAME_MAX]; /* parameter names (arena) */

    /* ALTER TABLE ADD PRIMARY KEY: the rows are copied once the DDL
     * committed (front.c) */
    bool rw_create;

    /* CREATE INDEX: the new index, to backfill once the DDL committed */
    bool ix_create;
    uint32_t ix_no;

    /* SET name = value / RESET name (value "" for RESET / DEFAULT) */
    char set_name[SQLF_NAME_MAX];
    char set_value[SQLF_NAME_MAX];

    /* DDL */
    hb_sqlddl_t ddl;
    char ddl_name[SQLF_NAME_MAX + 1]; /* table, or "\x01" + procedure name */
    msgpack_sbuffer ddl_def;
    bool missing_ok; /* DROP ... IF EXISTS / CREATE ... IF NOT EXISTS */
    /* DROP TABLE / TRUNCATE of several tables: one sql.ddl each, in order
     * (item 0 is ddl_name / ddl_def too). */
    uint32_t ddl_n;
    char (*ddl_names)[SQLF_NAME_MAX + 1];
    sqlf_expr_t *ddl_defs; /* packed definitions (raw msgpack; len 0: none) */

    void *arena_; /* private */
} sqlf_stmt_t;

/* Plans stmt (one RawStmt's node) of text sql against cat, with params
 * $1..$nparams (borrowed; strings must outlive the plan; inside a
 * procedure body they also go by the names pnames, else NULL) and now_us as the
 * statement's CURRENT_TIMESTAMP (us since 2000-01-01). rowids (borrowed,
 * may be NULL: INSERT into a table without a key fails) hands out row ids.
 * With desc, the statement is planned for Describe: $n have no values (NULL
 * is planned in their place) and desc gets their inferred types; the plan
 * is only for its output columns, never to run. Returns HB_OK and
 * fills *st (caller frees with sqlf_stmt_free), or HB_INVALID with err set
 * (42601 with the position, 42P01, 42703, 0A000 naming the construct ...);
 * *st is then freed already. */
hb_rc_t sqlf_plan(const sqlf_catalog_t *cat, const char *sql, const PgQuery__Node *stmt,
                  const hb_val_t *params, uint32_t nparams,
                  const char (*pnames)[SQLF_NAME_MAX], int64_t now_us,
                  sqlf_rowid_t *rowids, sqlf_describe_t *desc, sqlf_stmt_t *st,
                  hb_sqlerr_t *err);

/* Frees what a plan holds; the struct may be reused. */
void sqlf_stmt_free(sqlf_stmt_t *st);

/* Builds the entry key of row (ncols values) in index ix of t into out:
 * [HB_TABLE_INDEX][table id][index no] then per index column a tag (0x00
 * NULL, 0x01 value) and the value, then the key columns. Returns false
 * only for a row it cannot encode (too long, an unsupported type). */
bool sqlf_index_key(const sqlf_table_t *t, const sqlf_index_t *ix, const hb_val_t *row,
                    uint32_t ncols, hb_key_t *out);

/* Returns how many bytes of key (a row key of t) are its partition key. */
uint32_t sqlf_table_plen(const sqlf_table_t *t, const uint8_t *key, size_t klen);

/* INSERT ... SELECT: adds the INSERT op of one row the query produced (n
 * values for the target columns) to st->ops, the row's memory from alloc /
 * arg (NULL: st's arena). Returns HB_OK or HB_INVALID + err. */
hb_rc_t sqlf_stmt_insert_row(sqlf_stmt_t *st, const hb_val_t *vals, uint32_t n,
                             void *(*alloc)(void *arg, size_t size), void *arg,
                             hb_sqlerr_t *err);

/* Packs one OLLP op of st for the row at key (klen bytes) into st->ops. */
void sqlf_stmt_add_row_op(sqlf_stmt_t *st, const uint8_t *key, size_t klen);

/* Memory from st's arena (valid until sqlf_stmt_free). */
void *sqlf_stmt_alloc(void *st, size_t size);

#endif
