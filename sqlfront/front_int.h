/* front_int.h — what the files of sqlfront's engine share (not public).
 *
 * The engine (front.h) is split by concern, SQLite's sqliteInt.h way: this
 * header holds the types and functions its files use across each other,
 * everything else stays static in its file.
 *
 *   front.c       requests and sessions, the parse cache, replies, the entry points
 *   stmt.c        the statement loop: one step per statement kind, and results
 *   snapread.c    consistent-cut snapshot reads, index reads, joins
 *   select.c      SELECT results: aggregation, grouping, sort, limit, series
 *   block.c       transaction blocks: the overlay, CHECKs, COMMIT, CALL
 *   blockread.c   reads and joins inside a block (the block's own writes seen)
 *   loader.c      batches of single-partition sql.exec for the long jobs
 *   backfill.c    CREATE INDEX backfill (a job)
 *   pkrewrite.c   ALTER TABLE ADD PRIMARY KEY's copy (a job)
 *   bulkinsert.c  INSERT ... SELECT in batches (a job)
 *
 * A job is a statement that takes many transactions: the request holds it
 * behind one pointer (sqlf_req_t.job) and its results go to the job's
 * on_result.
 */
#ifndef SQLF_FRONT_INT_H
#define SQLF_FRONT_INT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "front.h"
#include "hb_arena.h"
#include "hb_key.h"
#include "hobbes.h"
#include "plan.h"

#define SQLF_READ_WAIT_MS 5000    /* how long a read waits for its partition's epoch */
#define SQLF_CAT_RETRIES  5       /* re-plans of a statement after XXCAT */
#define SQLF_MAX_ROWS     1000000 /* rows one result (or join) holds */

/* ------------------------------------------------------------------ */
/* Types                                                                */
/* ------------------------------------------------------------------ */

typedef struct sqlf_req sqlf_req_t;
typedef struct sqlf_job sqlf_job_t;

/* What the CHECK of a row a block used validates (sqlf_ov_t.check). */
#define SQLF_CK_NONE   0 /* nothing: a fresh row id no one else can write */
#define SQLF_CK_EXISTS 1 /* only whether the row exists (blind writes' answers) */
#define SQLF_CK_FULL   2 /* the row's bytes (reads) */

/* A client, known by its routing id: what outlives its requests. */
typedef struct {
    uint8_t peer[256]; /* routing id */
    size_t peerlen;
    uint64_t epoch;       /* epoch of its last commit */
    uint64_t last_use;    /* request counter at last use (eviction) */
    bool strict;          /* SET hobbes.strict_reads = on: reads are sequenced */
    bool busy;            /* a request of it is running */
    uint64_t serial;      /* requests so far */
    struct sqlf_blk *blk; /* its transaction block (allocated on first use) */
} sqlf_session_t;

/* A statement of an open block: its plan, its ops' range, and its result
 * group (SELECTs fill it at once, writes when the block commits). */
typedef struct {
    sqlf_stmt_t st;
    uint32_t first_op; /* index of its first op among the block's ops */
    uint32_t nops;
    hb_val_t *vals; /* its result group */
    uint32_t nvals, capvals;
    bool hidden;     /* a statement of a procedure body: no group of its own */
    uint64_t serial; /* the request it came in (its group goes in that reply) */
} sqlf_blockstmt_t;

/* A key an open block has read or written: the value its snapshot read
 * saw (validated by a CHECK op at commit), then the block's own ops on it,
 * which give the block's view of the row (hb_sqlop_apply, as storage). */
typedef struct {
    uint8_t *key; /* arena */
    uint32_t klen;
    uint32_t plen;
    bool have_base; /* read from a snapshot (a CHECK op says so) */
    int check;      /* what its CHECK validates: SQLF_CK_NONE, _EXISTS, _FULL */
    bool base_present;
    const uint8_t *base; /* arena */
    size_t baselen;
    uint32_t *ops; /* the block's ops on this key, in order (indexes) */
    uint32_t nops, capops;
} sqlf_ov_t;

/* A parsed text, kept for the next request with the same text: parsing
 * itself is cheap, but libpg_query hands the tree over as protobuf, and
 * packing plus unpacking it costs ~20 times the parse (callgrind). */
typedef struct {
    uint64_t hash;              /* of text */
    char *text;                 /* NUL-terminated copy; NULL: free entry */
    PgQuery__ParseResult *tree; /* unpacked tree (owned) */
    uint32_t refs;              /* requests using the tree now */
    uint64_t last_use;          /* for eviction */
} sqlf_parsed_t;

/* A session's open transaction block. It can span requests: statements
 * of later requests join it until COMMIT or ROLLBACK. */
typedef struct sqlf_blk {
    bool in_block;
    bool block_failed;    /* an error happened: 25P02 until ROLLBACK */
    uint64_t began_in;    /* serial of the request whose BEGIN opened it */
    uint32_t block_begin; /* index of its BEGIN statement in that request */
    uint32_t block_nvals; /* that request's nvals at its BEGIN */
    int block_retries;    /* re-runs after a failed CHECK (40001) */
    sqlf_blockstmt_t *block;
    uint32_t nblock, capblock;
    msgpack_sbuffer block_ops; /* its writes, packed back to back */
    uint32_t block_nops;
    uint32_t *opofs, *oplen; /* each op's offset and length in block_ops */
    uint32_t capops;
    msgpack_sbuffer block_checks; /* CHECK ops for what it read */
    uint32_t block_nchecks;
    sqlf_ov_t *ov; /* keys it touched */
    uint32_t nov, capov;
    bool implicit;     /* the block was opened by a statement (CALL, INSERT ...
                        * SELECT), not BEGIN: it commits with it */
    bool no_rerun;     /* a statement of it committed on its own (DDL at its
                        * start, a batched INSERT ... SELECT): a failed COMMIT
                        * cannot run it again from its BEGIN */
    hb_arena_t *arena; /* its own memory (keys, rows read, op copies) */
    bool have_catver;  /* its statements were planned at catalog version catver */
    int64_t catver;
} sqlf_blk_t;

/* A long-running statement's state (CREATE INDEX backfill, ALTER TABLE
 * ADD PRIMARY KEY, INSERT ... SELECT in batches): each job type embeds
 * sqlf_job_t first and gives its operations. */
typedef struct {
    /* A result for one of the job's transactions (r was taken off the
     * pending list): moves the job on, parks r again or ends it. */
    void (*on_result)(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res);
    /* Whether transaction `id` is one of the job's own (beyond r->txn_req);
     * NULL: none. */
    bool (*owns)(const sqlf_job_t *job, uint64_t id);
    /* Forgets the job's own transactions in flight when r times out; NULL:
     * none to forget. */
    void (*forget)(sqlf_job_t *job, hb_client_t *cli);
    /* Frees the job. */
    void (*destroy)(sqlf_job_t *job);
} sqlf_job_ops_t;

struct sqlf_job {
    const sqlf_job_ops_t *ops;
};

/* Frees r's job, if any; sets r->job = NULL. */
void sqlf_job_end(sqlf_req_t *r);

/* A CALL in progress: the statements of its body run in place of the
 * request's, with its arguments as parameters. */
typedef struct {
    int depth;                        /* 1 inside a procedure body */
    PgQuery__ParseResult *outer_tree; /* the request's statements, */
    uint32_t outer_next;              /* the CALL's index among them, */
    hb_val_t *outer_params;           /* and the request's parameters */
    uint32_t outer_nparams;
    sqlf_parsed_t *body_parsed;    /* the body's cache entry (a reference) */
    char (*pnames)[SQLF_NAME_MAX]; /* names of the parameters, or NULL */
} sqlf_callframe_t;

/* One SQL request: its text's statements run in order (stmt.c). */
struct sqlf_req {
    sqlf_req_t *link; /* in the pending list */
    uint8_t peer[256];
    size_t peerlen;
    uint64_t client_req; /* the client's request id */
    uint8_t *frame;      /* copy of the params' bytes */
    char *sql;           /* NUL-terminated text */
    hb_val_t *params;    /* into frame */
    uint32_t nparams;
    sqlf_parsed_t *parsed;      /* the cache entry of its text (a reference) */
    PgQuery__ParseResult *tree; /* parsed->tree (a procedure body's inside a CALL) */
    uint32_t next;              /* next statement */
    int cat_retries;            /* re-plans after XXCAT */
    hb_arena_t *arena;          /* reply values and copies */
    hb_val_t *vals;             /* reply values */
    uint32_t nvals, capvals;
    uint64_t epoch;       /* reply epoch (last statement's) */
    sqlf_blk_t *b;        /* its session's transaction block */
    sqlf_session_t *sess; /* its session (sessions never move) */
    uint64_t serial;      /* this request's number in its session */
    /* The transaction in flight. */
    uint64_t txn_req; /* hb_client request id; 0: none */
    int64_t deadline_ms;
    sqlf_stmt_t *cur; /* the statement it is for (not a block), when cur_live */
    bool cur_live;
    bool committing;       /* the txn is the block's COMMIT */
    bool commit_tag;       /* the commit answers "COMMIT" */
    uint32_t ddl_item;     /* the item of a DDL of several tables in flight */
    sqlf_callframe_t call; /* a CALL in progress */
    sqlf_job_t *job;       /* a long-running statement in progress, or NULL */
};

/* The engine. */
struct sqlf_front {
    sqlf_shared_t *shared; /* what the process's engines share */
    uint64_t catalog_gen;  /* shared->catalog_gen when its catalog was loaded */
    hb_client_t *cli;      /* to the sequencers and storages */
    sqlf_catalog_t *cat;   /* cached catalog */
    sqlf_rowid_t rowids;   /* row ids of tables without a key (this engine's) */
    uint32_t max_locks;    /* limits/max_locks: the most keys one transaction locks */
    uint32_t max_value;    /* limits/max_value_bytes: the largest argument */
    uint32_t nparts;
    sqlf_reply_fn reply;
    void *reply_arg;
    sqlf_req_t *pending; /* requests waiting for a transaction */
    size_t npending;
    sqlf_session_t *sessions;
    uint32_t nsessions;
    sqlf_parsed_t *parsed; /* the parse cache's entries */
    uint64_t counter;      /* ticks at every use of a session or cache entry (LRU) */
    /* Counters (sqlf_front_stats) */
    uint64_t requests, statements, errors, txns, reads, cat_reloads, ollp_rows,
        bad_requests;
    uint64_t parses, parse_hits, block_retries, index_reads, index_backfilled;
    uint64_t cut_rereads, cut_failures, index_fallbacks, read_replans;
    uint64_t rw_rows;           /* rows ALTER TABLE ADD PRIMARY KEY copied */
    uint64_t read_catver_epoch; /* epoch of the last read that met a newer catalog */
};

/* A row met by a read: its key, stored bytes and decoded columns (all
 * borrowed for the call). */
typedef hb_rc_t (*sqlf_row_fn)(void *arg, const uint8_t *key, uint32_t klen,
                               const uint8_t *raw, uint32_t rawlen, const hb_val_t *row,
                               uint32_t ncols);

/* Index entries collected for one read: the row keys they name. */
typedef struct {
    hb_arena_t *arena;
    uint8_t **keys;
    uint32_t *lens;
    uint32_t n, cap;
} sqlf_ixkeys_t;

/* Output rows being collected for one SELECT. */
typedef struct sqlf_selgroup sqlf_selgroup_t; /* select.c */

typedef struct {
    const sqlf_stmt_t *st;
    hb_arena_t **arena;
    hb_val_t **rows; /* each nout + nhidden values */
    uint32_t nrows, caprows;
    sqlf_selgroup_t *groups;
    uint32_t ngroups, capgroups;
    hb_sqlerr_t *err;
} sqlf_sel_t;

/* Batches of sql.exec ops, one bucket per partition, so that every batch
 * is a single-partition transaction: ALTER TABLE ADD PRIMARY KEY's copy
 * and INSERT ... SELECT in batches both fill buckets, seal a full one into
 * a FIFO of ready batches, and send those while a slot of SQLF_LD_INFLIGHT
 * is free. The first failure is kept ("SSSSS text") and ends the load. */
#define SQLF_LD_INFLIGHT 8

typedef struct {
    uint64_t txn;        /* hb_client request id; 0: free slot */
    msgpack_sbuffer ops; /* its ops, kept for a retry after XXCAT */
    uint32_t n;
    int retries;
} sqlf_ld_batch_t;

typedef struct {
    uint32_t nparts;
    msgpack_sbuffer *bucket; /* per partition: ops not yet sent */
    uint32_t *bucket_n;
    sqlf_ld_batch_t fly[SQLF_LD_INFLIGHT];
    uint32_t nfly;
    msgpack_sbuffer *ready; /* full batches waiting for a free slot (FIFO) */
    uint32_t *ready_n;
    uint32_t nready, capready;
    uint32_t batch_ops; /* ops per batch */
    char failmsg[512];  /* "SSSSS text" of the first failure, or "" */
    hb_rc_t failrc;
} sqlf_ld_t;

/* ------------------------------------------------------------------ */
/* front.c: requests, replies, the catalog, the parse cache             */
/* ------------------------------------------------------------------ */

/* Returns v with its bytes copied into the arena (outliving a scan frame). */
hb_val_t sqlf_keep(hb_arena_t **arena, hb_val_t v);
/* Reloads the engine's catalog at an epoch >= at (and >= any DDL the
 * process saw); returns how the load went. */
hb_rc_t sqlf_reload_rc(sqlf_front_t *self, uint64_t at);
void sqlf_reload(sqlf_front_t *self, uint64_t at);
/* After a DDL of this engine committed at epoch: tells the process's
 * other engines (they reload before their next request) and reloads. */
void sqlf_ddl_committed(sqlf_front_t *self, uint64_t epoch);
/* Returns the monotonic clock in ms. */
int64_t sqlf_now_ms(void);

/* Reply values: appends v; a string (copied); an output cell of plan type
 * t (numerics, dates and timestamps as their text); a group with no
 * columns (its tag; epoch sets the reply's if not 0). */
void sqlf_push(sqlf_req_t *r, hb_val_t v);
void sqlf_push_str(sqlf_req_t *r, const char *s);
void sqlf_push_cell(sqlf_req_t *r, hb_val_t v, hb_type_t t);
void sqlf_group_tag(sqlf_req_t *r, const char *tag, uint64_t epoch);
/* Appends the group of write statement st from its ops' results. */
void sqlf_write_group(sqlf_req_t *r, const sqlf_stmt_t *st, const hb_val_t *res,
                      uint32_t nres, uint64_t epoch, hb_sqlerr_t *err);

/* Keeps st (taken) as the statement r waits for; drops it. */
void sqlf_cur_set(sqlf_req_t *r, sqlf_stmt_t *st);
void sqlf_cur_drop(sqlf_req_t *r);
/* Puts r on the pending list until a result for it arrives. */
void sqlf_park(sqlf_front_t *self, sqlf_req_t *r);
/* Sends r's reply (rc/msg for a failure) and frees r. */
void sqlf_finish(sqlf_front_t *self, sqlf_req_t *r, hb_rc_t rc, const char *msg);
/* Fails r with "sqlstate message"; with err's. */
void sqlf_fail(sqlf_front_t *self, sqlf_req_t *r, hb_rc_t rc, const char *sqlstate,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void sqlf_fail_err(sqlf_front_t *self, sqlf_req_t *r, const hb_sqlerr_t *e);
/* Returns the parse of text from the cache (parsing it on a miss), or NULL
 * with err set. */
sqlf_parsed_t *sqlf_parse(sqlf_front_t *self, const char *text, hb_sqlerr_t *err);

/* ------------------------------------------------------------------ */
/* stmt.c: the statement loop                                           */
/* ------------------------------------------------------------------ */

/* Runs r's statements from r->next until one waits for a transaction
 * (r parked) or the request ends (r answered and freed). */
void sqlf_advance(sqlf_front_t *self, sqlf_req_t *r);
/* A transaction's result arrived for r (taken off the pending list). */
void sqlf_on_result(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res);
/* Submits sql.exec over ops (n packed ops) as r's transaction. */
hb_rc_t sqlf_submit_exec(sqlf_front_t *self, sqlf_req_t *r, const msgpack_sbuffer *ops,
                         uint32_t n);

/* ------------------------------------------------------------------ */
/* snapread.c: snapshot reads                                           */
/* ------------------------------------------------------------------ */

/* Reads src's rows (those that pass its filter when filter) at one
 * consistent cut that includes the session's last commit, calling fn for
 * each; *epoch_out: the cut's epoch. */
hb_rc_t sqlf_read(sqlf_front_t *self, sqlf_session_t *sess, const sqlf_source_t *src,
                  bool filter, sqlf_row_fn fn, void *arg, uint64_t *epoch_out,
                  hb_sqlerr_t *err);
/* As sqlf_read, through src's index when it has one. */
hb_rc_t sqlf_read_src(sqlf_front_t *self, sqlf_session_t *sess, const sqlf_source_t *src,
                      bool filter, sqlf_row_fn fn, void *arg, uint64_t *epoch_out,
                      hb_sqlerr_t *err);
/* Reads src's stored values undecoded (index entries). */
hb_rc_t sqlf_read_entries(sqlf_front_t *self, sqlf_session_t *sess,
                          const sqlf_source_t *src, sqlf_row_fn fn, void *arg,
                          uint64_t *epoch_out, hb_sqlerr_t *err);
/* A sqlf_row_fn collecting index entries into a sqlf_ixkeys_t (arg). */
hb_rc_t sqlf_ix_entry(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
                      uint32_t rawlen, const hb_val_t *row, uint32_t ncols);
/* Runs st's join at one consistent cut, giving fn the joined rows. */
hb_rc_t sqlf_join_read(sqlf_front_t *self, sqlf_session_t *sess, const sqlf_stmt_t *st,
                       hb_arena_t **arena, sqlf_row_fn fn, void *arg, uint64_t *epoch_out,
                       hb_sqlerr_t *err);
/* The source of join level j for the joined row so far (*none: it matches
 * nothing). */
hb_rc_t sqlf_join_source(const sqlf_front_t *self, const sqlf_join_t *j,
                         const hb_val_t *row, hb_arena_t **arena, sqlf_source_t *src,
                         bool *none, hb_sqlerr_t *err);
/* Appends v to key k; false for a type keys cannot hold, or overflow. */
bool sqlf_key_put_val(hb_key_t *k, const hb_val_t *v);

/* ------------------------------------------------------------------ */
/* select.c: SELECT results                                             */
/* ------------------------------------------------------------------ */

/* A sqlf_row_fn feeding a sqlf_sel_t (arg): output rows or groups. */
hb_rc_t sqlf_sel_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
                     uint32_t rawlen, const hb_val_t *row, uint32_t ncols);
/* Turns the groups into output rows (after the last sqlf_sel_row). */
hb_rc_t sqlf_sel_groups(sqlf_sel_t *s);
/* Sorts s's rows and returns the OFFSET/LIMIT window [from, to). */
void sqlf_sel_finish(sqlf_sel_t *s, const sqlf_stmt_t *st, uint64_t *from_out,
                     uint64_t *to_out);
/* Appends the SELECT's result group. */
void sqlf_sel_group(sqlf_req_t *r, const sqlf_stmt_t *st, sqlf_sel_t *s, uint64_t epoch);
/* Returns the i-th value of src's generate_series. */
int64_t sqlf_series_val(const sqlf_source_t *src, uint64_t i);
/* Gives the rows of src's series that pass its filter to fn. */
hb_rc_t sqlf_series_read(const sqlf_source_t *src, sqlf_row_fn fn, void *arg,
                         hb_sqlerr_t *err);
/* Runs a SELECT at a snapshot and appends its group. */
hb_rc_t sqlf_run_select(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess,
                        const sqlf_stmt_t *st, hb_sqlerr_t *err);

/* ------------------------------------------------------------------ */
/* block.c, blockread.c: transaction blocks                             */
/* ------------------------------------------------------------------ */

/* Frees what a block holds (the struct stays, zeroed). */
void sqlf_blk_clear(sqlf_blk_t *b);
/* Empties r's block and closes it. */
void sqlf_block_reset(sqlf_req_t *r);
/* Opens a block for a statement that needs one, when none is open. */
void sqlf_block_implicit(sqlf_req_t *r);
/* Adds a statement to the open block (taking st); returns it. */
sqlf_blockstmt_t *sqlf_block_add(sqlf_req_t *r, sqlf_stmt_t *st, uint32_t nops_before);
/* Makes pushes go to b's group (call again to switch back). */
void sqlf_swap_vals(sqlf_req_t *r, sqlf_blockstmt_t *b);
/* The block's record of a key: find, or find-or-add. */
sqlf_ov_t *sqlf_ov_find(sqlf_req_t *r, const uint8_t *key, uint32_t klen);
sqlf_ov_t *sqlf_ov_get(sqlf_req_t *r, const uint8_t *key, uint32_t klen, uint32_t plen);
/* Records the snapshot's value of ov's row, CHECKed in full at commit. */
void sqlf_ov_set_base(sqlf_req_t *r, sqlf_ov_t *ov, bool present, const uint8_t *raw,
                      size_t len);
/* The block's view of ov's row (its snapshot value, read now if need be,
 * with the block's ops on it applied). */
hb_rc_t sqlf_ov_current(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess,
                        sqlf_ov_t *ov, bool *present, const uint8_t **row, size_t *len,
                        hb_sqlerr_t *err);
/* Adds a data op on table t to the block, with its index entry changes. */
hb_rc_t sqlf_block_add_data_op(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess,
                               const sqlf_table_t *t, const uint8_t *op, size_t len,
                               hb_sqlerr_t *err);
/* Appends every block statement's group of this request, in order. */
void sqlf_block_groups(sqlf_req_t *r, const hb_val_t *ops, uint32_t nops, uint64_t epoch,
                       hb_sqlerr_t *err);
/* Ends the open block (tag: answers "COMMIT"); returns true when r was
 * parked (or failed: it is gone). */
bool sqlf_block_commit(sqlf_front_t *self, sqlf_req_t *r, bool tag, hb_sqlerr_t *err);
/* The request ends inside the open block: its statements answer now. */
void sqlf_block_answer_open(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess);
/* Starts running CALL st's body in place of r's statements; leaves it. */
hb_rc_t sqlf_call_enter(sqlf_front_t *self, sqlf_req_t *r, const sqlf_stmt_t *st,
                        hb_sqlerr_t *err);
void sqlf_call_leave(sqlf_req_t *r);
/* Reads src (a table) / runs st's join inside the open block: the
 * block's view, every snapshot row CHECKed at commit. */
hb_rc_t sqlf_block_read(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess,
                        const sqlf_source_t *src, sqlf_row_fn fn, void *arg,
                        hb_sqlerr_t *err);
hb_rc_t sqlf_block_join(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess,
                        const sqlf_stmt_t *st, sqlf_row_fn fn, void *arg,
                        hb_sqlerr_t *err);

/* ------------------------------------------------------------------ */
/* loader.c: batches of single-partition transactions                   */
/* ------------------------------------------------------------------ */

void sqlf_ld_init(sqlf_ld_t *ld, uint32_t nparts, uint32_t batch_ops);
void sqlf_ld_clear(sqlf_ld_t *ld);
/* Returns the batch in flight as transaction id, or NULL. */
sqlf_ld_batch_t *sqlf_ld_batch(sqlf_ld_t *ld, uint64_t id);
/* Keeps the first failure (msg without a SQLSTATE becomes XX000). */
void sqlf_ld_fail(sqlf_ld_t *ld, hb_rc_t rc, const char *msg);
/* Submits (or resubmits) batch b. */
hb_rc_t sqlf_ld_submit(sqlf_front_t *self, sqlf_ld_batch_t *b);
/* Moves bucket p to the ready queue; every non-empty bucket (returns
 * whether there was one). */
void sqlf_ld_seal(sqlf_ld_t *ld, uint32_t p);
bool sqlf_ld_seal_all(sqlf_ld_t *ld);
/* Sends ready batches while a slot is free. */
void sqlf_ld_send(sqlf_front_t *self, sqlf_ld_t *ld);
/* Forgets the batches in flight (the request timed out). */
void sqlf_ld_forget(sqlf_ld_t *ld, hb_client_t *cli);

/* ------------------------------------------------------------------ */
/* The jobs                                                             */
/* ------------------------------------------------------------------ */

/* backfill.c: r's CREATE INDEX committed: fills the index, marks it ready. */
void sqlf_backfill_start(sqlf_front_t *self, sqlf_req_t *r);
/* pkrewrite.c: r's ALTER TABLE ADD PRIMARY KEY committed: copies the rows. */
void sqlf_pkrewrite_start(sqlf_front_t *self, sqlf_req_t *r);
/* bulkinsert.c: whether INSERT ... SELECT st may load in batches; the most
 * rows into t one transaction takes; the rows series query q gives. */
bool sqlf_bulk_ok(const sqlf_req_t *r, const sqlf_stmt_t *st);
uint64_t sqlf_bulk_threshold(const sqlf_front_t *self, const sqlf_table_t *t);
hb_rc_t sqlf_series_rows(const sqlf_stmt_t *q, uint64_t *n, hb_sqlerr_t *err);
/* Starts loading st (taken) in batches from rows[0..nrows) (copied; NULL:
 * streamed from the series). */
void sqlf_bulk_start(sqlf_front_t *self, sqlf_req_t *r, sqlf_stmt_t *st, hb_val_t **rows,
                     uint64_t nrows);

#endif
