/* front.c — the SQL gateway's engine (see front.h).
 *
 * A request walks its statements in s_advance. Each statement is planned
 * (plan.c) against the cached catalog and then either finished on the spot
 * (snapshot reads, SET, BEGIN, ROLLBACK, a write that a reconnaissance read
 * found nothing to do for) or turned into one transaction, submitted, and
 * the request parked until its result arrives (s_on_result), which moves
 * it on. A catalog mismatch (storage's "XXCAT" abort) reloads the catalog
 * and plans the statement again, a bounded number of times.
 *
 * Inside BEGIN ... COMMIT, writes and primary-key reads are collected into
 * one sql.exec whose results COMMIT hands back statement by statement.
 *
 * Reply values are built in a per-request arena and sent as one RESULT.
 */
#include "front.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "hb_alloc.h"
#include "hb_arena.h"
#include "hb_key.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "hb_sqlop.h"
#include "hobbes.h"
#include "plan.h"

#define S_MAX_SESSIONS   4096
#define S_SCAN_PAGE      10000
#define S_TXN_TIMEOUT_MS 15000
#define S_READ_WAIT_MS   5000
#define S_CAT_RETRIES    5
#define S_MAX_ROWS       1000000
#define S_PARSE_CACHE    512 /* parsed texts kept */
#define S_BLOCK_RETRIES  20  /* re-runs of a block whose reads changed */

/* What the CHECK of a row a block used validates (s_ov_t.check). */
#define S_CK_NONE   0 /* nothing: a fresh row id no one else can write */
#define S_CK_EXISTS 1 /* only whether the row exists (blind writes' answers) */
#define S_CK_FULL   2 /* the row's bytes (reads) */

/* Copies v's bytes into the arena so it outlives a scan frame. */
static hb_val_t
s_keep(hb_arena_t **arena, hb_val_t v)
{
    if ((v.type == HB_VAL_STR || v.type == HB_VAL_BIN) && v.u.s.len) {
        uint8_t *p = hb_arena_alloc(arena, v.u.s.len);
        memcpy(p, v.u.s.ptr, v.u.s.len);
        v.u.s.ptr = p;
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* Types                                                                */
/* ------------------------------------------------------------------ */

typedef struct {
    uint8_t peer[256];   /* routing id */
    size_t peerlen;
    uint64_t epoch;      /* epoch of its last commit */
    uint64_t last_use;   /* request counter at last use (eviction) */
    bool strict;         /* SET hobbes.strict_reads = on: reads are sequenced */
    bool busy;           /* a request of it is running */
    uint64_t serial;     /* requests so far */
    struct s_blk *blk;   /* its transaction block (allocated on first use) */
} s_session_t;

/* A statement of an open block: its plan, its ops' range, and its result
 * group (SELECTs fill it at once, writes when the block commits). */
typedef struct {
    sqlf_stmt_t st;
    uint32_t first_op; /* index of its first op among the block's ops */
    uint32_t nops;
    hb_val_t *vals;    /* its result group */
    uint32_t nvals, capvals;
    bool hidden;       /* a statement of a procedure body: no group of its own */
    uint64_t serial;   /* the request it came in (its group goes in that reply) */
} s_blockstmt_t;

/* A key an open block has read or written: the value its snapshot read
 * saw (validated by a CHECK op at commit), then the block's own ops on it,
 * which give the block's view of the row (hb_sqlop_apply, as storage). */
typedef struct {
    uint8_t *key;         /* arena */
    uint32_t klen;
    uint32_t plen;
    bool have_base;       /* read from a snapshot (a CHECK op says so) */
    int check;            /* what its CHECK validates: S_CK_NONE, _EXISTS, _FULL */
    bool base_present;
    const uint8_t *base;  /* arena */
    size_t baselen;
    uint32_t *ops;        /* the block's ops on this key, in order (indexes) */
    uint32_t nops, capops;
} s_ov_t;

/* A parsed text, kept for the next request with the same text: parsing
 * itself is cheap, but libpg_query hands the tree over as protobuf, and
 * packing plus unpacking it costs ~20 times the parse (callgrind). */
typedef struct {
    uint64_t hash;               /* of text */
    char *text;                  /* NUL-terminated copy; NULL: free entry */
    PgQuery__ParseResult *tree;  /* unpacked tree (owned) */
    uint32_t refs;               /* requests using the tree now */
    uint64_t last_use;           /* for eviction */
} s_parsed_t;

/* A session's open transaction block. It can span requests: statements
 * of later requests join it until COMMIT or ROLLBACK. */
typedef struct s_blk {
    bool in_block;
    bool block_failed;         /* an error happened: 25P02 until ROLLBACK */
    uint64_t began_in;         /* serial of the request whose BEGIN opened it */
    uint32_t block_begin;      /* index of its BEGIN statement in that request */
    uint32_t block_nvals;      /* that request's nvals at its BEGIN */
    int block_retries;         /* re-runs after a failed CHECK (40001) */
    s_blockstmt_t *block;
    uint32_t nblock, capblock;
    msgpack_sbuffer block_ops; /* its writes, packed back to back */
    uint32_t block_nops;
    uint32_t *opofs, *oplen;   /* each op's offset and length in block_ops */
    uint32_t capops;
    msgpack_sbuffer block_checks; /* CHECK ops for what it read */
    uint32_t block_nchecks;
    s_ov_t *ov;                /* keys it touched */
    uint32_t nov, capov;
    bool implicit;             /* the block was opened by a statement (CALL, INSERT ...
                                * SELECT), not BEGIN: it commits with it */
    bool no_rerun;             /* a statement of it committed on its own (DDL at its
                                * start, a batched INSERT ... SELECT): a failed COMMIT
                                * cannot run it again from its BEGIN */
    hb_arena_t *arena;         /* its own memory (keys, rows read, op copies) */
    bool have_catver;          /* its statements were planned at catalog version catver */
    int64_t catver;
} s_blk_t;

typedef struct s_req {
    struct s_req *link;        /* in the pending list */
    uint8_t peer[256];
    size_t peerlen;
    uint64_t client_req;       /* the client's request id */
    uint8_t *frame;            /* copy of the params' bytes */
    char *sql;                 /* NUL-terminated text */
    hb_val_t *params;          /* into frame */
    uint32_t nparams;
    s_parsed_t *parsed;        /* the cache entry of its text (a reference) */
    PgQuery__ParseResult *tree;      /* parsed->tree */
    uint32_t next;             /* next statement */
    int cat_retries;           /* re-plans after XXCAT */
    hb_arena_t *arena;          /* reply values and copies */
    hb_val_t *vals;            /* reply values */
    uint32_t nvals, capvals;
    uint64_t epoch;            /* reply epoch (last statement's) */
    /* The transaction in flight. */
    uint64_t txn_req;          /* hb_client request id; 0: none */
    int64_t deadline_ms;
    sqlf_stmt_t *cur;          /* the statement it is for (not a block), when cur_live */
    bool cur_live;
    bool committing;           /* the txn is the block's COMMIT */
    s_blk_t *b;                /* its session's transaction block */
    s_session_t *sess;         /* its session (sessions never move) */
    uint64_t serial;           /* this request's number in its session */
    bool commit_tag;           /* the commit answers "COMMIT" */
    /* A CALL in progress: the statements of its body run in place of the
     * request's, with its arguments as parameters. */
    int depth;                 /* 1 inside a procedure body */
    PgQuery__ParseResult *f_tree;
    uint32_t f_next;
    hb_val_t *f_params;
    uint32_t f_nparams;
    s_parsed_t *body_parsed;   /* the body's cache entry (a reference) */
    char (*pnames)[SQLF_NAME_MAX]; /* names of the parameters, or NULL */
    /* CREATE INDEX after its DDL: 1 backfilling partition ix_part from
     * ix_cursor in batches, 2 marking the index ready. */
    int ix_phase;
    uint32_t ix_part;
    uint8_t ix_cursor[HB_KEY_MAX + 1];
    uint32_t ix_cursor_len;
    uint8_t ix_last[HB_KEY_MAX];   /* last row key of the batch in flight */
    uint32_t ix_last_len;
    uint32_t ix_batch;             /* rows in it */
    int ix_retries;
    uint32_t ddl_item; /* the item of a DDL of several tables in flight */
    struct s_rw *rw;   /* ALTER TABLE ADD PRIMARY KEY copying rows, or NULL */
    struct s_bulk *bulk; /* INSERT ... SELECT loading in batches, or NULL */
} s_req_t;

/* Bumped whenever an engine of this process commits DDL: the other
 * engines (sqlfront's workers) reload their catalog before their next
 * request, so a table dropped through one is gone for all. */
static atomic_uint_fast64_t s_catalog_gen;
/* The epoch of the newest DDL commit (or catalog mismatch) seen in this
 * process: a reload must read the catalog at least at it. */
static atomic_uint_fast64_t s_catalog_epoch;

/* Reloads the engine's catalog at an epoch >= at (and >= any DDL this
 * process saw). */
static void
s_reload(struct sqlf_front *self, uint64_t at);

struct sqlf_front {
    uint64_t catalog_gen;      /* s_catalog_gen when its catalog was loaded */
    hb_client_t *cli;          /* to the sequencers and storages */
    sqlf_catalog_t *cat;       /* cached catalog */
    sqlf_rowid_t rowids;       /* row ids of tables without a key (this engine's) */
    uint32_t engine;           /* this engine's index in the process */
    uint32_t max_locks;        /* limits/max_locks: the most keys one transaction locks */
    uint32_t max_value;        /* limits/max_value_bytes: the largest argument */
    uint64_t rw_rows;          /* rows ALTER TABLE ADD PRIMARY KEY copied */
    uint32_t nparts;
    sqlf_reply_fn reply;
    void *reply_arg;
    s_req_t *pending;          /* requests waiting for a transaction */
    size_t npending;
    s_session_t *sessions;
    uint32_t nsessions;
    s_parsed_t *parsed;        /* S_PARSE_CACHE entries */
    uint64_t counter;
    /* Counters */
    uint64_t requests, statements, errors, txns, reads, cat_reloads, ollp_rows, bad_requests;
    uint64_t parses, parse_hits, block_retries, index_reads, index_backfilled;
    uint64_t cut_rereads, torn_avoided, index_fallbacks, read_replans;
    uint64_t read_catver_epoch; /* epoch of the last read that met a newer catalog */
};

static hb_rc_t
s_reload_rc(struct sqlf_front *self, uint64_t at)
{
    uint64_t e = atomic_load(&s_catalog_epoch);
    if (at > e) {
        /* Publish it: other engines must not read an older catalog. */
        while (at > e && !atomic_compare_exchange_weak(&s_catalog_epoch, &e, at))
            ;
        e = at;
    }
    return sqlf_catalog_load(self->cat, self->cli, 5000, e);
}

static void
s_reload(struct sqlf_front *self, uint64_t at)
{
    (void)s_reload_rc(self, at);
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

/* Frees what a block holds (the block struct stays). */
static void
s_blk_clear(s_blk_t *b)
{
    for (uint32_t i = 0; i < b->nblock; i++) {
        sqlf_stmt_free(&b->block[i].st);
        hb_free(b->block[i].vals);
    }
    hb_free(b->block);
    msgpack_sbuffer_destroy(&b->block_ops);
    msgpack_sbuffer_destroy(&b->block_checks);
    hb_free(b->opofs);
    hb_free(b->oplen);
    for (uint32_t i = 0; i < b->nov; i++)
        hb_free(b->ov[i].ops);
    hb_free(b->ov);
    hb_arena_free(&b->arena);
    memset(b, 0, sizeof *b);
}

static s_session_t *
s_session(sqlf_front_t *self, const uint8_t *peer, size_t peerlen)
{
    self->counter++;
    s_session_t *freed = NULL; /* a slot sql.close emptied */
    for (uint32_t i = 0; i < self->nsessions; i++) {
        s_session_t *s = &self->sessions[i];
        if (s->peerlen == peerlen && memcmp(s->peer, peer, peerlen) == 0) {
            s->last_use = self->counter;
            return s;
        }
        if (!freed && s->peerlen == 0 && !s->busy)
            freed = s;
    }
    s_session_t *s;
    if (freed) {
        s = freed;
    } else if (self->nsessions < S_MAX_SESSIONS) {
        s = &self->sessions[self->nsessions++];
    } else {
        /* The least recently used session goes; never one that is running
         * or has a transaction block open (its COMMIT must find it). */
        s = NULL;
        for (uint32_t i = 0; i < self->nsessions; i++) {
            const s_session_t *c = &self->sessions[i];
            bool open = c->blk && c->blk->in_block;
            if (!c->busy && !open && (!s || c->last_use < s->last_use))
                s = &self->sessions[i];
        }
        if (!s)
            return NULL;
        if (s->blk) {
            s_blk_clear(s->blk);
            hb_free(s->blk);
        }
    }
    memset(s, 0, sizeof *s);
    memcpy(s->peer, peer, peerlen);
    s->peerlen = peerlen;
    s->last_use = self->counter;
    return s;
}

/* ------------------------------------------------------------------ */
/* Replies                                                              */
/* ------------------------------------------------------------------ */

static void
s_push(s_req_t *r, hb_val_t v)
{
    if (r->nvals == r->capvals) {
        r->capvals = r->capvals ? r->capvals * 2 : 64;
        r->vals = hb_realloc(r->vals, r->capvals * sizeof *r->vals);
    }
    r->vals[r->nvals++] = v;
}

static void
s_push_str(s_req_t *r, const char *s)
{
    size_t n = strlen(s);
    char *p = hb_arena_alloc(&r->arena, n ? n : 1);
    memcpy(p, s, n);
    s_push(r, hb_val_str(p, (uint32_t)n));
}

/* Appends an output cell of plan type t: numerics, dates and timestamps
 * travel as their text (the client needs no decimal or date codec). */
static void
s_push_cell(s_req_t *r, hb_val_t v, hb_type_t t)
{
    if (v.type == HB_VAL_DEC ||
        (v.type == HB_VAL_INT && (t == HB_T_DATE || t == HB_T_TIMESTAMP))) {
        char buf[64];
        size_t n = hb_val_format_as(&v, t, buf, sizeof buf);
        char *p = hb_arena_alloc(&r->arena, n ? n : 1);
        memcpy(p, buf, n);
        v = hb_val_str(p, (uint32_t)n);
    }
    s_push(r, v);
}

/* Appends a result group with no columns. */
static void
s_group_tag(s_req_t *r, const char *tag, uint64_t epoch)
{
    s_push_str(r, tag);
    s_push(r, hb_val_int(0));
    s_push(r, hb_val_int(0));
    s_push(r, hb_val_int((int64_t)epoch));
    if (epoch)
        r->epoch = epoch;
}

/* Keeps st (taken) as the statement r waits for. */
static void
s_cur_set(s_req_t *r, sqlf_stmt_t *st)
{
    r->cur = hb_malloc(sizeof *r->cur);
    *r->cur = *st;
    r->cur_live = true;
}

static void
s_cur_drop(s_req_t *r)
{
    sqlf_stmt_free(r->cur);
    hb_free(r->cur);
    r->cur = NULL;
    r->cur_live = false;
}

static void s_rw_free(struct s_rw **rw_p);
static void s_bulk_free(struct s_bulk **bulk_p);

static void
s_req_free(s_req_t *r)
{
    s_rw_free(&r->rw);
    s_bulk_free(&r->bulk);
    if (r->cur_live)
        s_cur_drop(r);
    if (r->sess)
        r->sess->busy = false;
    if (r->parsed)
        r->parsed->refs--;
    if (r->body_parsed)
        r->body_parsed->refs--;
    hb_arena_free(&r->arena);
    hb_free(r->vals);
    hb_free(r->frame);
    hb_free(r->sql);
    hb_free(r);
}

static void s_block_reset(s_req_t *r);

/* Sends the reply (rc/msg for a failure) and frees the request. A failure
 * inside the session's open block aborts it: a block a statement opened
 * (CALL, INSERT ... SELECT) is discarded, one BEGIN opened answers 25P02
 * until ROLLBACK, as in PostgreSQL. */
static void
s_finish(sqlf_front_t *self, s_req_t *r, hb_rc_t rc, const char *msg)
{
    if (rc != HB_OK && r->b && r->b->in_block) {
        if (r->b->implicit)
            s_block_reset(r);
        else
            r->b->block_failed = true;
    }
    hb_msg_t m = {.type = HB_MSG_RESULT};
    m.u.result.req_id = r->client_req;
    m.u.result.epoch = r->epoch;
    m.u.result.rc = (uint32_t)rc;
    m.u.result.msg = msg ? msg : "";
    m.u.result.msg_len = (uint32_t)strlen(m.u.result.msg);
    m.u.result.nvals = r->nvals;
    m.u.result.vals = r->vals;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (hb_msg_encode(&m, &sb) == HB_OK) {
        self->reply(self->reply_arg, r->peer, r->peerlen, sb.data, sb.size);
    } else {
        hb_error("could not encode a SQL result");
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc)
        self->errors++;
    s_req_free(r);
}

static void
s_fail(sqlf_front_t *self, s_req_t *r, hb_rc_t rc, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
s_fail(sqlf_front_t *self, s_req_t *r, hb_rc_t rc, const char *sqlstate, const char *fmt, ...)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s ", sqlstate);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    s_finish(self, r, rc, msg);
}

static void
s_fail_err(sqlf_front_t *self, s_req_t *r, const hb_sqlerr_t *e)
{
    s_fail(self, r, HB_INVALID, e->sqlstate[0] ? e->sqlstate : "XX000", "%s", e->msg);
}

/* ------------------------------------------------------------------ */
/* Snapshot reads                                                       */
/* ------------------------------------------------------------------ */

/* A row met by a read: its key, stored bytes and decoded columns (all
 * borrowed for the call). */
typedef hb_rc_t (*s_row_fn)(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
                            uint32_t rawlen, const hb_val_t *row, uint32_t ncols);

/* Reads the rows of src (those that pass its filter when filter is set),
 * at snapshots that include the session's last commit, calling fn for
 * each. */
/* The pages of one partition's read, all at one applied epoch. */
typedef struct {
    hb_scan_result_t **pages;
    uint32_t n, cap;
    uint64_t epoch;
} s_cut_t;

static void
s_cut_clear(s_cut_t *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        hb_scan_result_destroy(&c->pages[i]);
    c->n = 0;
}

/* Reads src's range on partition p, every page at the same applied epoch
 * >= the session's last commit (a page at another epoch restarts it), at
 * least at epoch `at_least`. */
static hb_rc_t
s_fetch_part(sqlf_front_t *self, s_session_t *sess, const sqlf_source_t *src, uint32_t p,
             uint64_t at_least, uint64_t exact, s_cut_t *cut, hb_sqlerr_t *err)
{
    uint8_t start[HB_KEY_MAX + 1], end[HB_KEY_MAX + 1];
    size_t slen, elen;
    uint64_t want = sess->epoch > at_least ? sess->epoch : at_least;
    int64_t give_up = s_now_ms() + S_READ_WAIT_MS;
restart:
    s_cut_clear(cut);
    slen = src->start.len;
    memcpy(start, src->start.buf, slen);
    if (src->point) {
        memcpy(end, src->start.buf, slen);
        end[slen] = 0;
        elen = slen + 1;
    } else {
        elen = src->end.len;
        memcpy(end, src->end.buf, elen);
    }
    for (;;) {
        hb_scan_result_t *res = NULL;
        /* Pages after the first ask for the first's epoch: storage keeps
         * recent snapshots, so a long read is one consistent cut. */
        hb_rc_t rc = hb_client_scan_at(self->cli, (uint16_t)p, start, slen, end, elen,
                                       src->point ? 1 : S_SCAN_PAGE,
                                       cut->n ? cut->epoch : exact, 5000, &res);
        if (rc != HB_OK)
            return hb_sqlerr_set(err, "08006", "snapshot read of partition %u failed: %s", p,
                                 hb_rc_str(rc));
        if (res->rc != HB_OK) {
            rc = hb_sqlerr_set(err, "XX000", "snapshot read of partition %u failed: %s", p,
                               res->msg);
            hb_scan_result_destroy(&res);
            return rc;
        }
        if (res->epoch < want || (cut->n && res->epoch != cut->epoch)) {
            /* Not there yet (the session's commit must be visible), or
             * the partition moved on between pages: read again. */
            hb_scan_result_destroy(&res);
            if (s_now_ms() > give_up)
                return hb_sqlerr_set(err, "57014",
                                     "partition %u did not reach epoch %" PRIu64 " in time", p,
                                     want);
            if (cut->n)
                goto restart;
            usleep(500);
            continue;
        }
        if ((int64_t)res->catver != sqlf_catalog_version(self->cat)) {
            /* The partition's catalog at this epoch is not the one the
             * statement was planned on (DDL through another gateway):
             * plan again (XXCAT, as storage says to writes). */
            uint64_t ver = res->catver, at = res->epoch;
            hb_scan_result_destroy(&res);
            self->read_catver_epoch = at;
            return hb_sqlerr_set(err, "XXCAT", "catalog version %" PRIu64 " at epoch %" PRIu64
                                               ", planned at %" PRId64,
                                 ver, at, sqlf_catalog_version(self->cat));
        }
        if (cut->n == cut->cap) {
            cut->cap = cut->cap ? cut->cap * 2 : 4;
            cut->pages = hb_realloc(cut->pages, cut->cap * sizeof *cut->pages);
        }
        cut->pages[cut->n++] = res;
        cut->epoch = res->epoch;
        if (src->point || res->nrows < S_SCAN_PAGE || res->nrows == 0)
            return HB_OK;
        const hb_scan_row_t *last = &res->rows[res->nrows - 1];
        memcpy(start, last->key, last->klen);
        start[last->klen] = 0;
        slen = last->klen + 1;
    }
}

/* Decodes one read row into row (HB_SQL_MAX_COLS values) and gives it to
 * fn when it passes src's filter (if filter). */
static hb_rc_t
s_emit_row(const sqlf_source_t *src, bool filter, const hb_scan_row_t *sr, hb_val_t *row,
           s_row_fn fn, void *arg, hb_sqlerr_t *err)
{
    uint32_t ncols = 0;
    if (hb_row_decode(sr->val, sr->vlen, row, HB_SQL_MAX_COLS, &ncols) != HB_OK)
        return hb_sqlerr_set(err, "XX001", "corrupt row in table \"%s\"",
                             src->table ? src->table->name : "?");
    bool pass = true;
    if (filter && src->where.p) {
        hb_arena_t *tmp = NULL;
        hb_expr_env_t env = {.row = row, .ncols = ncols, .alloc = hb_arena_alloc,
                             .alloc_arg = &tmp, .err = err};
        hb_rc_t rc = hb_expr_test(src->where.p, src->where.len, &env, &pass);
        hb_arena_free(&tmp);
        if (rc)
            return rc;
    }
    return pass ? fn(arg, sr->key, sr->klen, sr->val, sr->vlen, row, ncols) : HB_OK;
}

/* Reads src at one consistent cut: every partition it spans at the same
 * applied epoch (LevelDB holds exactly the state after that epoch), then
 * gives the rows that pass (filter) to fn in key order per partition.
 * raw: the stored values are not rows (index entries): no decoding. */
static hb_rc_t
s_read_any(sqlf_front_t *self, s_session_t *sess, const sqlf_source_t *src, bool filter,
           bool raw, s_row_fn fn, void *arg, uint64_t *epoch_out, hb_sqlerr_t *err)
{
    uint32_t p0 = 0, p1 = self->nparts;
    if (src->has_fixed) {
        p0 = src->fixed;
        p1 = p0 + 1;
    } else if (src->point || src->partition >= 0) {
        p0 = hb_key_partition(src->start.buf, src->plen, self->nparts);
        p1 = p0 + 1;
    }
    self->reads++;
    uint32_t np = p1 - p0;
    s_cut_t *cuts = hb_calloc(np, sizeof *cuts);
    hb_rc_t rc = HB_OK;
    uint64_t top = 0;
    for (uint32_t i = 0; i < np && rc == HB_OK; i++) {
        rc = s_fetch_part(self, sess, src, p0 + i, 0, 0, &cuts[i], err);
        if (cuts[i].epoch > top)
            top = cuts[i].epoch;
    }
    /* Partitions apply epochs independently: bring the ones behind up to
     * the newest epoch seen, until all agree. */
    for (int round = 0; rc == HB_OK && np > 1; round++) {
        bool same = true;
        for (uint32_t i = 0; i < np; i++)
            same = same && cuts[i].epoch == top;
        if (same)
            break;
        if (round == 200) {
            self->torn_avoided++;
            rc = hb_sqlerr_set(err, "40001",
                               "could not read the partitions at one epoch; try again");
            break;
        }
        for (uint32_t i = 0; i < np && rc == HB_OK; i++) {
            if (cuts[i].epoch == top)
                continue;
            /* Storage keeps recent epochs' snapshots while reads come:
             * ask for exactly the newest epoch seen. */
            rc = s_fetch_part(self, sess, src, p0 + i, top, top, &cuts[i], err);
            if (cuts[i].epoch > top)
                top = cuts[i].epoch;
        }
        self->cut_rereads++;
    }
    hb_val_t *row = hb_malloc(HB_SQL_MAX_COLS * sizeof *row);
    for (uint32_t i = 0; i < np && rc == HB_OK; i++) {
        for (uint32_t g = 0; g < cuts[i].n && rc == HB_OK; g++) {
            const hb_scan_result_t *res = cuts[i].pages[g];
            for (uint32_t k = 0; k < res->nrows && rc == HB_OK; k++) {
                const hb_scan_row_t *sr = &res->rows[k];
                rc = raw ? fn(arg, sr->key, sr->klen, sr->val, sr->vlen, NULL, 0)
                         : s_emit_row(src, filter, sr, row, fn, arg, err);
            }
        }
    }
    hb_free(row);
    for (uint32_t i = 0; i < np; i++) {
        s_cut_clear(&cuts[i]);
        hb_free(cuts[i].pages);
    }
    hb_free(cuts);
    *epoch_out = top;
    return rc;
}

static hb_rc_t
s_read(sqlf_front_t *self, s_session_t *sess, const sqlf_source_t *src, bool filter,
       s_row_fn fn, void *arg, uint64_t *epoch_out, hb_sqlerr_t *err)
{
    return s_read_any(self, sess, src, filter, false, fn, arg, epoch_out, err);
}

/* Reads src's stored values undecoded (index entries). */
static hb_rc_t
s_read_entries(sqlf_front_t *self, s_session_t *sess, const sqlf_source_t *src, s_row_fn fn,
               void *arg, uint64_t *epoch_out, hb_sqlerr_t *err)
{
    return s_read_any(self, sess, src, false, true, fn, arg, epoch_out, err);
}

/* Index entries collected for one read: the row keys they name. */
typedef struct {
    hb_arena_t *arena;
    uint8_t **keys;
    uint32_t *lens;
    uint32_t n, cap;
} s_ixkeys_t;

static hb_rc_t
s_ix_entry(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw, uint32_t rawlen,
           const hb_val_t *row, uint32_t ncols)
{
    (void)key;
    (void)klen;
    (void)row;
    (void)ncols;
    s_ixkeys_t *ks = arg;
    if (rawlen < 4 || rawlen > HB_KEY_MAX)
        return HB_CORRUPT; /* an entry's value is its row's key */
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 64;
        ks->keys = hb_realloc(ks->keys, ks->cap * sizeof *ks->keys);
        ks->lens = hb_realloc(ks->lens, ks->cap * sizeof *ks->lens);
    }
    ks->keys[ks->n] = hb_arena_alloc(&ks->arena, rawlen);
    memcpy(ks->keys[ks->n], raw, rawlen);
    ks->lens[ks->n++] = rawlen;
    return HB_OK;
}

/* Reads src through its index when it has one (outside blocks), else as
 * s_read. The entries are read at one cut (epoch E); every row they name
 * must then be read at E too (entries live on their row's partition), or
 * the whole read starts again: a row and its entries are never seen at
 * two different epochs. */
static hb_rc_t
s_read_src(sqlf_front_t *self, s_session_t *sess, const sqlf_source_t *src, bool filter,
           s_row_fn fn, void *arg, uint64_t *epoch_out, hb_sqlerr_t *err)
{
    if (!src->use_index)
        return s_read(self, sess, src, filter, fn, arg, epoch_out, err);
    self->index_reads++;
    const sqlf_table_t *t = src->table;
    sqlf_source_t isrc = {.table = t, .partition = -1};
    isrc.start = src->ix_start;
    isrc.end = src->ix_end;
    if (src->ix_partition >= 0) {
        isrc.has_fixed = true;
        isrc.fixed = hb_key_partition(src->ix_pkey.buf, src->ix_pkey.len, self->nparts);
    }
    hb_rc_t rc = HB_OK;
    for (int attempt = 0;; attempt++) {
        s_ixkeys_t ks = {0};
        uint64_t e;
        rc = s_read_entries(self, sess, &isrc, s_ix_entry, &ks, &e, err);
        if (rc == HB_CORRUPT)
            rc = hb_sqlerr_set(err, "XX001", "corrupt index entry of \"%s\"", t->name);
        s_cut_t *rows = hb_calloc(ks.n ? ks.n : 1, sizeof *rows);
        bool moved = false;
        for (uint32_t i = 0; i < ks.n && rc == HB_OK && !moved; i++) {
            sqlf_source_t one = {.table = t, .partition = -1, .point = true};
            memcpy(one.start.buf, ks.keys[i], ks.lens[i]);
            one.start.len = ks.lens[i];
            one.plen = sqlf_table_plen(t, ks.keys[i], ks.lens[i]);
            rc = s_fetch_part(self, sess, &one,
                              hb_key_partition(one.start.buf, one.plen, self->nparts), e, e,
                              &rows[i], err);
            moved = rc == HB_OK && rows[i].epoch != e;
        }
        hb_val_t *row = hb_malloc(HB_SQL_MAX_COLS * sizeof *row);
        for (uint32_t i = 0; i < ks.n && rc == HB_OK && !moved; i++) {
            const hb_scan_result_t *res = rows[i].n ? rows[i].pages[0] : NULL;
            if (!res || res->nrows != 1)
                continue; /* the entry's row is gone: a stale entry cannot be, but skip */
            rc = s_emit_row(src, filter, &res->rows[0], row, fn, arg, err);
        }
        hb_free(row);
        for (uint32_t i = 0; i < ks.n; i++) {
            s_cut_clear(&rows[i]);
            hb_free(rows[i].pages);
        }
        hb_free(rows);
        hb_free(ks.keys);
        hb_free(ks.lens);
        hb_arena_free(&ks.arena);
        *epoch_out = e;
        if (!moved || rc != HB_OK)
            return rc;
        self->cut_rereads++;
        if (attempt == 2) {
            /* The rows could not be fetched within one epoch (many entries,
             * or epochs are short): read the table at one cut instead. */
            self->index_fallbacks++;
            return s_read(self, sess, src, filter, fn, arg, epoch_out, err);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Joins                                                                */
/* ------------------------------------------------------------------ */

/* One run of a nested-loop join at one epoch. */
typedef struct {
    sqlf_front_t *self;
    s_session_t *sess;
    const sqlf_stmt_t *st;
    hb_arena_t **arena;
    hb_val_t *row;         /* the joined row being built */
    uint64_t epoch;        /* the epoch every read must be at (0: the first sets it) */
    uint64_t seen;         /* the newest epoch a read met */
    bool moved;            /* a read was at another epoch: run again */
    hb_val_t **out;        /* joined rows that passed the filter */
    uint32_t nout, capout;
    uint32_t width;        /* columns of a joined row */
    hb_sqlerr_t *err;
} s_join_t;

static bool
s_key_put_val(hb_key_t *k, const hb_val_t *v)
{
    if (v->type == HB_VAL_INT)
        hb_key_put_i64(k, v->u.i);
    else if (v->type == HB_VAL_BOOL)
        hb_key_put_bool(k, v->u.b);
    else if (v->type == HB_VAL_STR || v->type == HB_VAL_BIN)
        hb_key_put_str(k, v->u.s.ptr, v->u.s.len);
    else
        return false;
    return !k->overflow;
}

/* The source of join level j for the joined row so far: its primary-key
 * prefix bound by j's expressions over row (a point read when all of the
 * key is bound), on one partition (has_fixed, fixed) when the partition
 * key is. *none is set when a bound value is NULL (the level matches nothing).
 * Returns HB_OK, or an error in err. */
static hb_rc_t
s_join_source(const sqlf_front_t *self, const sqlf_join_t *j, const hb_val_t *row,
              hb_arena_t **arena, sqlf_source_t *src, bool *none, hb_sqlerr_t *err)
{
    const sqlf_table_t *t = j->table;
    *src = (sqlf_source_t){.table = t, .partition = -1};
    *none = false;
    hb_key_init(&src->start, t->id);
    hb_key_t pkey;
    hb_key_init(&pkey, t->id);
    hb_expr_env_t env = {.row = (hb_val_t *)row, .ncols = j->off, .alloc = hb_arena_alloc,
                         .alloc_arg = arena, .err = err};
    for (uint32_t b = 0; b < j->nbound; b++) {
        hb_val_t v, c;
        const sqlf_col_t *col = &t->cols[t->pk[b]];
        if (hb_expr_eval(j->bind[b].p, j->bind[b].len, &env, &v) != HB_OK ||
            hb_val_coerce(&v, col->type, col->typmod, hb_arena_alloc, arena, &c, err) != HB_OK)
            return HB_INVALID;
        if (c.type == HB_VAL_NIL) {
            *none = true; /* key = NULL matches nothing */
            return HB_OK;
        }
        if (!s_key_put_val(&src->start, &c))
            return hb_sqlerr_set(err, "0A000", "join key of an unsupported type");
        if (b < t->npart)
            s_key_put_val(&pkey, &c);
    }
    if (j->nbound == t->npk) {
        src->point = true;
        src->plen = sqlf_table_plen(t, src->start.buf, src->start.len);
    } else if (j->nbound > 0) {
        if (src->start.len + 9 > HB_KEY_MAX)
            return hb_sqlerr_set(err, "54000", "key prefix is too long");
        src->end = src->start;
        for (int i = 0; i < 9; i++)
            src->end.buf[src->end.len++] = 0xFF;
    } else {
        hb_key_init(&src->end, t->id + 1);
    }
    if (j->nbound >= t->npart) {
        src->has_fixed = true;
        src->fixed = hb_key_partition(pkey.buf, pkey.len, self->nparts);
    }
    return HB_OK;
}

static hb_rc_t
s_join_level(s_join_t *jn, uint32_t k)
{
    const sqlf_stmt_t *st = jn->st;
    if (k == st->njoin) {
        bool pass = true;
        if (st->src.where.p) {
            hb_expr_env_t env = {.row = jn->row, .ncols = jn->width, .alloc = hb_arena_alloc,
                                 .alloc_arg = jn->arena, .err = jn->err};
            hb_rc_t rc = hb_expr_test(st->src.where.p, st->src.where.len, &env, &pass);
            if (rc)
                return rc;
        }
        if (!pass)
            return HB_OK;
        if (jn->nout >= S_MAX_ROWS)
            return hb_sqlerr_set(jn->err, "54000", "a join of more than %d rows", S_MAX_ROWS);
        hb_val_t *copy = hb_arena_alloc(jn->arena, jn->width * sizeof *copy);
        for (uint32_t c = 0; c < jn->width; c++)
            copy[c] = s_keep(jn->arena, jn->row[c]);
        if (jn->nout == jn->capout) {
            jn->capout = jn->capout ? jn->capout * 2 : 64;
            jn->out = hb_realloc(jn->out, jn->capout * sizeof *jn->out);
        }
        jn->out[jn->nout++] = copy;
        return HB_OK;
    }
    const sqlf_join_t *j = &st->join[k];
    const sqlf_table_t *t = j->table;
    sqlf_source_t src;
    bool none;
    hb_rc_t brc = s_join_source(jn->self, j, jn->row, jn->arena, &src, &none, jn->err);
    if (brc || none)
        return brc;
    uint32_t p0 = 0, p1 = jn->self->nparts;
    if (src.has_fixed) {
        p0 = src.fixed;
        p1 = p0 + 1;
    }
    hb_rc_t rc = HB_OK;
    for (uint32_t p = p0; p < p1 && rc == HB_OK && !jn->moved; p++) {
        s_cut_t cut = {0};
        rc = s_fetch_part(jn->self, jn->sess, &src, p, jn->epoch, jn->epoch, &cut, jn->err);
        if (rc == HB_OK) {
            if (cut.epoch > jn->seen)
                jn->seen = cut.epoch;
            if (!jn->epoch)
                jn->epoch = cut.epoch;
            else if (cut.epoch != jn->epoch)
                jn->moved = true;
        }
        for (uint32_t g = 0; g < cut.n && rc == HB_OK && !jn->moved; g++) {
            const hb_scan_result_t *res = cut.pages[g];
            for (uint32_t i = 0; i < res->nrows && rc == HB_OK && !jn->moved; i++) {
                uint32_t ncols = 0;
                if (hb_row_decode(res->rows[i].val, res->rows[i].vlen, jn->row + j->off,
                                  t->ncols, &ncols) != HB_OK) {
                    rc = hb_sqlerr_set(jn->err, "XX001", "corrupt row in table \"%s\"", t->name);
                    break;
                }
                for (uint32_t c = ncols; c < t->ncols; c++)
                    jn->row[j->off + c] = hb_val_nil();
                rc = s_join_level(jn, k + 1);
            }
        }
        s_cut_clear(&cut);
        hb_free(cut.pages);
    }
    return rc;
}

/* Runs the join of st, every table read at the same epoch (a consistent
 * cut across tables and partitions), and gives the joined rows that pass
 * the filter to fn. */
static hb_rc_t
s_join_read(sqlf_front_t *self, s_session_t *sess, const sqlf_stmt_t *st, hb_arena_t **arena,
            s_row_fn fn, void *arg, uint64_t *epoch_out, hb_sqlerr_t *err)
{
    const sqlf_join_t *last = &st->join[st->njoin - 1];
    uint32_t width = last->off + last->table->ncols;
    uint64_t target = 0;
    self->reads++;
    for (int attempt = 0;; attempt++) {
        s_join_t jn = {self, sess, st, arena, NULL, target, 0, false, NULL, 0, 0, width, err};
        jn.row = hb_calloc(width ? width : 1, sizeof *jn.row);
        hb_rc_t rc = s_join_level(&jn, 0);
        hb_free(jn.row);
        if (rc == HB_OK && !jn.moved) {
            for (uint32_t i = 0; i < jn.nout && rc == HB_OK; i++)
                rc = fn(arg, NULL, 0, NULL, 0, jn.out[i], width);
            hb_free(jn.out);
            *epoch_out = jn.epoch;
            return rc;
        }
        hb_free(jn.out);
        if (rc)
            return rc;
        self->cut_rereads++;
        target = jn.seen; /* start at the newest epoch a read met */
        if (attempt == 200) {
            self->torn_avoided++;
            return hb_sqlerr_set(err, "40001", "could not read the join at one epoch; try again");
        }
    }
}

/* ------------------------------------------------------------------ */
/* Computing SELECT results                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    int64_t count;   /* rows counted (non-NULL args) */
    hb_val_t sum;    /* running sum (NIL: none yet) */
    hb_val_t best;   /* min / max so far (NIL: none) */
    hb_val_t *seen;  /* count(DISTINCT): the values met (arena) */
    uint32_t nseen, capseen;
} s_acc_t;

typedef struct {
    hb_val_t *key;   /* ngroup values (arena) */
    s_acc_t *acc;    /* naggs accumulators */
} s_group_t;

/* Output rows being collected for one SELECT. */
typedef struct {
    sqlf_front_t *self;
    const sqlf_stmt_t *st;
    s_req_t *req;
    hb_arena_t **arena;
    hb_val_t **rows;    /* each nout + nhidden values */
    uint32_t nrows, caprows;
    s_group_t *groups;
    uint32_t ngroups, capgroups;
    hb_sqlerr_t *err;
} s_sel_t;

static hb_rc_t
s_sel_emit(s_sel_t *s, const hb_val_t *in, uint32_t nin)
{
    const sqlf_stmt_t *st = s->st;
    uint32_t w = st->nout + st->nhidden;
    if (s->nrows >= S_MAX_ROWS)
        return hb_sqlerr_set(s->err, "54000", "result has more than %d rows", S_MAX_ROWS);
    hb_val_t *out = hb_arena_alloc(s->arena, (w ? w : 1) * sizeof *out);
    hb_expr_env_t env = {.row = in, .ncols = nin, .alloc = hb_arena_alloc, .alloc_arg = s->arena,
                         .err = s->err};
    for (uint32_t i = 0; i < w; i++) {
        if (hb_expr_eval(st->out[i].p, st->out[i].len, &env, &out[i]) != HB_OK)
            return HB_INVALID;
        out[i] = s_keep(s->arena, out[i]);
    }
    if (s->nrows == s->caprows) {
        s->caprows = s->caprows ? s->caprows * 2 : 64;
        s->rows = hb_realloc(s->rows, s->caprows * sizeof *s->rows);
    }
    s->rows[s->nrows++] = out;
    return HB_OK;
}

static bool
s_vals_equal(const hb_val_t *a, const hb_val_t *b)
{
    if (a->type == HB_VAL_NIL || b->type == HB_VAL_NIL)
        return a->type == b->type; /* GROUP BY puts NULLs together */
    return a->type == b->type && hb_val_cmp(a, b) == 0;
}

static hb_rc_t
s_accumulate(s_sel_t *s, s_acc_t *acc, const sqlf_agg_t *agg, const hb_val_t *in, uint32_t nin)
{
    if (agg->kind == SQLF_AGG_COUNT_STAR) {
        acc->count++;
        return HB_OK;
    }
    hb_val_t v;
    hb_expr_env_t env = {.row = in, .ncols = nin, .alloc = hb_arena_alloc, .alloc_arg = s->arena,
                         .err = s->err};
    if (hb_expr_eval(agg->arg.p, agg->arg.len, &env, &v) != HB_OK)
        return HB_INVALID;
    if (v.type == HB_VAL_NIL)
        return HB_OK;
    if (agg->distinct) {
        for (uint32_t i = 0; i < acc->nseen; i++)
            if (acc->seen[i].type == v.type && hb_val_cmp(&acc->seen[i], &v) == 0)
                return HB_OK;
        if (acc->nseen == acc->capseen) {
            uint32_t cap = acc->capseen ? acc->capseen * 2 : 16;
            hb_val_t *n = hb_arena_alloc(s->arena, cap * sizeof *n);
            if (acc->nseen)
                memcpy(n, acc->seen, acc->nseen * sizeof *n);
            acc->seen = n;
            acc->capseen = cap;
        }
        acc->seen[acc->nseen++] = s_keep(s->arena, v);
    }
    acc->count++;
    switch (agg->kind) {
    case SQLF_AGG_SUM:
    case SQLF_AGG_AVG:
        if (v.type != HB_VAL_INT && v.type != HB_VAL_DOUBLE && v.type != HB_VAL_DEC)
            return hb_sqlerr_set(s->err, "42883", "cannot sum a non-number");
        if (acc->sum.type == HB_VAL_NIL)
            acc->sum = v;
        else if (hb_val_arith(HB_EX_ADD, &acc->sum, &v, &acc->sum, s->err) != HB_OK)
            return HB_INVALID;
        break;
    case SQLF_AGG_MIN:
    case SQLF_AGG_MAX: {
        int c = acc->best.type == HB_VAL_NIL ? 0 : hb_val_cmp(&v, &acc->best);
        if (acc->best.type == HB_VAL_NIL || (agg->kind == SQLF_AGG_MIN ? c < 0 : c > 0))
            acc->best = s_keep(s->arena, v);
        break;
    }
    default:
        break;
    }
    return HB_OK;
}

static hb_rc_t
s_sel_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw, uint32_t rawlen,
          const hb_val_t *row, uint32_t ncols)
{
    (void)key;
    (void)klen;
    (void)raw;
    (void)rawlen;
    s_sel_t *s = arg;
    const sqlf_stmt_t *st = s->st;
    if (!st->agg)
        return s_sel_emit(s, row, ncols);
    hb_val_t gk[SQLF_MAX_GROUP];
    uint32_t ng = st->ngroup; /* <= SQLF_MAX_GROUP: the planner says so */
    hb_expr_env_t env = {.row = row, .ncols = ncols, .alloc = hb_arena_alloc,
                         .alloc_arg = s->arena, .err = s->err};
    for (uint32_t g = 0; g < ng; g++)
        if (hb_expr_eval(st->group[g].p, st->group[g].len, &env, &gk[g]) != HB_OK)
            return HB_INVALID;
    s_group_t *grp = NULL;
    for (uint32_t i = 0; i < s->ngroups && !grp; i++) {
        bool eq = true;
        for (uint32_t g = 0; g < ng && eq; g++)
            eq = s_vals_equal(&s->groups[i].key[g], &gk[g]);
        if (eq)
            grp = &s->groups[i];
    }
    if (!grp) {
        if (s->ngroups >= S_MAX_ROWS)
            return hb_sqlerr_set(s->err, "54000", "too many groups");
        if (s->ngroups == s->capgroups) {
            s->capgroups = s->capgroups ? s->capgroups * 2 : 16;
            s->groups = hb_realloc(s->groups, s->capgroups * sizeof *s->groups);
        }
        grp = &s->groups[s->ngroups++];
        grp->key = hb_arena_alloc(s->arena, (ng ? ng : 1) * sizeof *grp->key);
        for (uint32_t g = 0; g < ng; g++)
            grp->key[g] = s_keep(s->arena, gk[g]);
        grp->acc = hb_arena_alloc(s->arena, (st->naggs ? st->naggs : 1) * sizeof *grp->acc);
        memset(grp->acc, 0, (st->naggs ? st->naggs : 1) * sizeof *grp->acc);
    }
    for (uint32_t a = 0; a < st->naggs; a++)
        if (s_accumulate(s, &grp->acc[a], &st->aggs[a], row, ncols) != HB_OK)
            return HB_INVALID;
    return HB_OK;
}

static hb_rc_t
s_sel_groups(s_sel_t *s)
{
    const sqlf_stmt_t *st = s->st;
    if (s->ngroups == 0 && st->ngroup == 0) {
        /* An aggregate over no rows still gives one row. */
        s->groups = hb_calloc(1, sizeof *s->groups);
        s->capgroups = 1;
        s->ngroups = 1;
        s->groups[0].key = NULL;
        s->groups[0].acc = hb_arena_alloc(s->arena, (st->naggs ? st->naggs : 1) * sizeof(s_acc_t));
        memset(s->groups[0].acc, 0, (st->naggs ? st->naggs : 1) * sizeof(s_acc_t));
    }
    uint32_t w = st->ngroup + st->naggs;
    hb_val_t *grow = hb_malloc((w ? w : 1) * sizeof *grow);
    hb_rc_t rc = HB_OK;
    for (uint32_t i = 0; i < s->ngroups && rc == HB_OK; i++) {
        s_group_t *g = &s->groups[i];
        for (uint32_t k = 0; k < st->ngroup; k++)
            grow[k] = g->key[k];
        for (uint32_t a = 0; a < st->naggs; a++) {
            const s_acc_t *acc = &g->acc[a];
            hb_val_t v = hb_val_nil();
            switch (st->aggs[a].kind) {
            case SQLF_AGG_COUNT_STAR:
            case SQLF_AGG_COUNT:
                v = hb_val_int(acc->count);
                break;
            case SQLF_AGG_SUM:
                v = acc->sum;
                break;
            case SQLF_AGG_AVG:
                if (acc->count) {
                    /* Exact for integers and numerics, as in PostgreSQL. */
                    hb_val_t sum = acc->sum.type == HB_VAL_INT ? hb_val_dec(acc->sum.u.i, 0)
                                                               : acc->sum;
                    hb_val_t cnt = hb_val_int(acc->count);
                    if (hb_val_arith(HB_EX_DIV, &sum, &cnt, &v, s->err) != HB_OK) {
                        rc = HB_INVALID;
                        break;
                    }
                }
                break;
            case SQLF_AGG_MIN:
            case SQLF_AGG_MAX:
                v = acc->best;
                break;
            }
            grow[st->ngroup + a] = v;
        }
        if (rc)
            break;
        if (st->having.p) {
            bool pass;
            hb_expr_env_t env = {.row = grow, .ncols = w, .alloc = hb_arena_alloc,
                                 .alloc_arg = s->arena, .err = s->err};
            if ((rc = hb_expr_test(st->having.p, st->having.len, &env, &pass)) != HB_OK)
                break;
            if (!pass)
                continue;
        }
        rc = s_sel_emit(s, grow, w);
    }
    hb_free(grow);
    return rc;
}

/* A row to sort: its values and its read position (ties keep read
 * order, so results never depend on addresses). */
typedef struct {
    hb_val_t *row;
    uint32_t idx;
} s_sortrow_t;

static int
s_row_cmp(const void *pa, const void *pb, void *arg)
{
    const sqlf_stmt_t *st = arg;
    const s_sortrow_t *ra = pa, *rb = pb;
    const hb_val_t *a = ra->row, *b = rb->row;
    for (uint32_t i = 0; i < st->nsort; i++) {
        const sqlf_sort_t *so = &st->sort[i];
        const hb_val_t *x = &a[so->col], *y = &b[so->col];
        int c;
        bool xn = x->type == HB_VAL_NIL, yn = y->type == HB_VAL_NIL;
        if (xn || yn) {
            if (xn && yn)
                continue;
            c = xn ? 1 : -1; /* NULL is larger; NULLS FIRST flips */
            if (so->nulls_first)
                c = -c;
            return c;
        }
        c = hb_val_cmp(x, y);
        if (c)
            return so->desc ? -c : c;
    }
    return ra->idx < rb->idx ? -1 : ra->idx > rb->idx;
}

/* Orders s's rows (ORDER BY) and returns the OFFSET/LIMIT window. */
static void
s_sel_finish(s_sel_t *s, const sqlf_stmt_t *st, uint64_t *from_out, uint64_t *to_out)
{
    if (st->nsort && s->nrows > 1) {
        s_sortrow_t *v = hb_malloc(s->nrows * sizeof *v);
        for (uint32_t i = 0; i < s->nrows; i++)
            v[i] = (s_sortrow_t){s->rows[i], i};
        qsort_r(v, s->nrows, sizeof *v, s_row_cmp, (void *)st);
        for (uint32_t i = 0; i < s->nrows; i++)
            s->rows[i] = v[i].row;
        hb_free(v);
    }
    uint64_t from = (uint64_t)st->offset, to = s->nrows;
    if (from > to)
        from = to;
    if (st->limit >= 0 && from + (uint64_t)st->limit < to)
        to = from + (uint64_t)st->limit;
    *from_out = from;
    *to_out = to;
}

/* Appends the SELECT's result group. */
static void
s_sel_group(s_req_t *r, const sqlf_stmt_t *st, s_sel_t *s, uint64_t epoch)
{
    uint64_t from, to;
    s_sel_finish(s, st, &from, &to);
    char tag[48];
    snprintf(tag, sizeof tag, "%s %" PRIu64, st->tag, to - from);
    s_push_str(r, tag);
    s_push(r, hb_val_int(st->nout));
    for (uint32_t c = 0; c < st->nout; c++) {
        s_push_str(r, st->out_names[c]);
        hb_type_t t = st->out[c].type == HB_T_UNKNOWN ? HB_T_TEXT : st->out[c].type;
        s_push_str(r, hb_type_name(t));
    }
    s_push(r, hb_val_int((int64_t)(to - from)));
    for (uint64_t i = from; i < to; i++)
        for (uint32_t c = 0; c < st->nout; c++)
            s_push_cell(r, s->rows[i][c], st->out[c].type);
    s_push(r, hb_val_int((int64_t)epoch));
    if (epoch)
        r->epoch = epoch;
}

/* Returns the i-th value of src's series. */
static int64_t
s_series_val(const sqlf_source_t *src, uint64_t i)
{
    return (int64_t)((uint64_t)src->ser_start + i * (uint64_t)src->ser_step);
}

/* Gives the rows of src's generate_series (one integer column) that pass
 * its filter to fn, in order. */
static hb_rc_t
s_series_read(const sqlf_source_t *src, s_row_fn fn, void *arg, hb_sqlerr_t *err)
{
    hb_arena_t *tmp = NULL;
    hb_rc_t rc = HB_OK;
    for (uint64_t i = 0; i < src->ser_count && rc == HB_OK; i++) {
        hb_val_t row = hb_val_int(s_series_val(src, i));
        bool pass = true;
        if (src->where.p) {
            hb_expr_env_t env = {.row = &row,
                                 .ncols = 1,
                                 .alloc = hb_arena_alloc,
                                 .alloc_arg = &tmp,
                                 .err = err};
            rc = hb_expr_test(src->where.p, src->where.len, &env, &pass);
            if ((i & 1023) == 1023)
                hb_arena_free(&tmp);
        }
        if (rc == HB_OK && pass)
            rc = fn(arg, NULL, 0, NULL, 0, &row, 1);
    }
    hb_arena_free(&tmp);
    return rc;
}

/* Runs a SELECT at a snapshot and appends its group. */
static hb_rc_t
s_run_select(sqlf_front_t *self, s_req_t *r, s_session_t *sess, const sqlf_stmt_t *st,
             hb_sqlerr_t *err)
{
    s_sel_t s = {.self = self, .st = st, .req = r, .arena = &r->arena, .err = err};
    uint64_t epoch = 0;
    hb_rc_t rc;
    if (st->njoin) {
        rc = s_join_read(self, sess, st, &r->arena, s_sel_row, &s, &epoch, err);
    } else if (st->src.series) {
        rc = s_series_read(&st->src, s_sel_row, &s, err);
    } else if (st->src.table) {
        rc = s_read_src(self, sess, &st->src, true, s_sel_row, &s, &epoch, err);
    } else {
        rc = s_sel_row(&s, NULL, 0, NULL, 0, NULL, 0);
    }
    if (rc == HB_OK && st->agg)
        rc = s_sel_groups(&s);
    if (rc == HB_OK)
        s_sel_group(r, st, &s, epoch);
    hb_free(s.rows);
    hb_free(s.groups);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Writes                                                               */
/* ------------------------------------------------------------------ */

/* OLLP: the reconnaissance read's matching keys become ops. */
static hb_rc_t
s_recon_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw, uint32_t rawlen,
            const hb_val_t *row, uint32_t ncols)
{
    (void)raw;
    (void)rawlen;
    (void)row;
    (void)ncols;
    sqlf_stmt_t *st = arg;
    if (st->nops >= HB_SQL_MAX_OPS)
        return HB_TOOBIG;
    sqlf_stmt_add_row_op(st, key, klen);
    return HB_OK;
}

/* Appends the group of a write statement from its ops' results. */
static void
s_write_group(s_req_t *r, const sqlf_stmt_t *st, const hb_val_t *res, uint32_t nres,
              uint64_t epoch, hb_sqlerr_t *err)
{
    int64_t affected = 0;
    uint32_t nret = 0;
    for (uint32_t i = 0; i < nres; i++) {
        if (res[i].type == HB_VAL_BIN) {
            affected++;
            nret++;
        } else if (res[i].type == HB_VAL_INT && res[i].u.i) {
            affected++;
        }
    }
    char tag[48];
    if (st->wkind == HB_SQLOP_INSERT)
        snprintf(tag, sizeof tag, "INSERT 0 %" PRId64, affected);
    else
        snprintf(tag, sizeof tag, "%s %" PRId64, st->tag, affected);
    s_push_str(r, tag);
    if (!st->returning) {
        s_push(r, hb_val_int(0));
        s_push(r, hb_val_int(0));
    } else {
        s_push(r, hb_val_int(st->nout));
        for (uint32_t c = 0; c < st->nout; c++) {
            s_push_str(r, st->out_names[c]);
            hb_type_t t = st->out[c].type == HB_T_UNKNOWN ? HB_T_TEXT : st->out[c].type;
            s_push_str(r, hb_type_name(t));
        }
        s_push(r, hb_val_int(nret));
        hb_val_t row[HB_SQL_MAX_COLS];
        for (uint32_t i = 0; i < nres; i++) {
            if (res[i].type != HB_VAL_BIN)
                continue;
            uint32_t ncols = 0;
            hb_row_decode(res[i].u.s.ptr, res[i].u.s.len, row, HB_SQL_MAX_COLS, &ncols);
            hb_expr_env_t env = {.row = row, .ncols = ncols, .alloc = hb_arena_alloc,
                                 .alloc_arg = &r->arena, .err = err};
            for (uint32_t c = 0; c < st->nout; c++) {
                hb_val_t v;
                if (hb_expr_eval(st->out[c].p, st->out[c].len, &env, &v) != HB_OK)
                    v = hb_val_nil();
                s_push_cell(r, s_keep(&r->arena, v), st->out[c].type);
            }
        }
    }
    s_push(r, hb_val_int((int64_t)epoch));
    if (epoch)
        r->epoch = epoch;
}

/* Submits sql.exec over ops (n packed ops). */
static hb_rc_t
s_submit_exec(sqlf_front_t *self, s_req_t *r, const msgpack_sbuffer *ops, uint32_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    msgpack_sbuffer_write(&sb, ops->data, ops->size);
    hb_val_t args[2] = {hb_val_int(sqlf_catalog_version(self->cat)), {.type = HB_VAL_BIN}};
    args[1].u.s.ptr = (const uint8_t *)sb.data;
    args[1].u.s.len = (uint32_t)sb.size;
    hb_rc_t rc = hb_client_submit(self->cli, "sql.exec", args, 2, &r->txn_req);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void
s_park(sqlf_front_t *self, s_req_t *r)
{
    r->deadline_ms = s_now_ms() + S_TXN_TIMEOUT_MS;
    r->link = self->pending;
    self->pending = r;
    self->npending++;
    self->txns++;
}

/* Submits item i of DDL statement st (sql.ddl at the current catalog
 * version). */
static hb_rc_t
s_submit_ddl(sqlf_front_t *self, s_req_t *r, const sqlf_stmt_t *st, uint32_t i)
{
    const char *name = st->ddl_n ? st->ddl_names[i] : st->ddl_name;
    hb_val_t args[4] = {hb_val_int(sqlf_catalog_version(self->cat)),
                        hb_val_int(st->ddl),
                        hb_val_str(name, (uint32_t)strlen(name)),
                        {.type = HB_VAL_BIN}};
    if (st->ddl_n && st->ddl_defs[i].p) {
        args[3].u.s.ptr = st->ddl_defs[i].p;
        args[3].u.s.len = st->ddl_defs[i].len;
    } else if (!st->ddl_n) {
        args[3].u.s.ptr = (const uint8_t *)st->ddl_def.data;
        args[3].u.s.len = (uint32_t)st->ddl_def.size;
    }
    if (!args[3].u.s.ptr)
        args[3].u.s.ptr = (const uint8_t *)"";
    return hb_client_submit(self->cli, "sql.ddl", args, 4, &r->txn_req);
}

/* After item r->ddl_item of r's DDL statement: submits the next one and
 * parks r (true), or says there is none (false). Each table of a DROP
 * TABLE / TRUNCATE of several is its own transaction. */
static bool
s_ddl_next(sqlf_front_t *self, s_req_t *r)
{
    const sqlf_stmt_t *st = r->cur;
    if (!r->cur_live || st->kind != SQLF_ST_DDL || r->ddl_item + 1 >= st->ddl_n)
        return false;
    r->ddl_item++;
    if (s_submit_ddl(self, r, st, r->ddl_item) != HB_OK) {
        s_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
               hb_client_last_error(self->cli));
        return true; /* r is gone */
    }
    s_park(self, r);
    return true;
}

/* ------------------------------------------------------------------ */
/* The statement loop                                                   */
/* ------------------------------------------------------------------ */

static void s_advance(sqlf_front_t *self, s_req_t *r);
static void s_block_answer_open(sqlf_front_t *self, s_req_t *r, s_session_t *sess);
static bool s_bulk_ok(const s_req_t *r, const sqlf_stmt_t *st);
static uint64_t s_bulk_threshold(const sqlf_front_t *self, const sqlf_table_t *t);
static hb_rc_t s_series_rows(const sqlf_stmt_t *q, uint64_t *n, hb_sqlerr_t *err);
static void s_bulk_start(sqlf_front_t *self, s_req_t *r, sqlf_stmt_t *st, hb_val_t **rows,
                         uint64_t nrows);
static s_parsed_t *s_parse(sqlf_front_t *self, const char *text, hb_sqlerr_t *err);

/* ------------------------------------------------------------------ */
/* Transaction blocks                                                   */
/* ------------------------------------------------------------------ */

/* Adds a statement to the open block (taking st); returns it. */
static s_blockstmt_t *
s_block_add(s_req_t *r, sqlf_stmt_t *st, uint32_t nops_before)
{
    if (r->b->nblock == r->b->capblock) {
        r->b->capblock = r->b->capblock ? r->b->capblock * 2 : 8;
        r->b->block = hb_realloc(r->b->block, r->b->capblock * sizeof *r->b->block);
    }
    s_blockstmt_t *b = &r->b->block[r->b->nblock++];
    memset(b, 0, sizeof *b);
    b->st = *st;
    b->first_op = nops_before;
    b->nops = r->b->block_nops - nops_before;
    b->hidden = r->depth > 0;
    b->serial = r->serial;
    return b;
}

/* Makes pushes go to b's group (call again to switch back). */
static void
s_swap_vals(s_req_t *r, s_blockstmt_t *b)
{
    hb_val_t *v = r->vals;
    uint32_t n = r->nvals, c = r->capvals;
    r->vals = b->vals;
    r->nvals = b->nvals;
    r->capvals = b->capvals;
    b->vals = v;
    b->nvals = n;
    b->capvals = c;
}

static void
s_block_reset(s_req_t *r)
{
    for (uint32_t i = 0; i < r->b->nblock; i++) {
        sqlf_stmt_free(&r->b->block[i].st);
        hb_free(r->b->block[i].vals);
    }
    r->b->nblock = 0;
    r->b->block_ops.size = 0;
    r->b->block_nops = 0;
    r->b->block_checks.size = 0;
    r->b->block_nchecks = 0;
    for (uint32_t i = 0; i < r->b->nov; i++)
        hb_free(r->b->ov[i].ops);
    r->b->nov = 0;
    hb_arena_free(&r->b->arena);
    r->b->have_catver = false;
    r->b->in_block = false;
    r->b->block_failed = false;
    r->b->implicit = false;
    r->b->no_rerun = false;
}

static s_ov_t *
s_ov_find(s_req_t *r, const uint8_t *key, uint32_t klen)
{
    for (uint32_t i = 0; i < r->b->nov; i++)
        if (r->b->ov[i].klen == klen && memcmp(r->b->ov[i].key, key, klen) == 0)
            return &r->b->ov[i];
    return NULL;
}

static s_ov_t *
s_ov_get(s_req_t *r, const uint8_t *key, uint32_t klen, uint32_t plen)
{
    s_ov_t *ov = s_ov_find(r, key, klen);
    if (ov)
        return ov;
    if (r->b->nov == r->b->capov) {
        r->b->capov = r->b->capov ? r->b->capov * 2 : 16;
        r->b->ov = hb_realloc(r->b->ov, r->b->capov * sizeof *r->b->ov);
    }
    ov = &r->b->ov[r->b->nov++];
    memset(ov, 0, sizeof *ov);
    ov->key = hb_arena_alloc(&r->b->arena, klen);
    memcpy(ov->key, key, klen);
    ov->klen = klen;
    ov->plen = plen;
    return ov;
}

/* Records what the snapshot holds at ov's key, and the CHECK that the
 * commit will validate it with. */
static void
s_ov_set_base_ck(s_req_t *r, s_ov_t *ov, bool present, const uint8_t *raw, size_t len,
                 int check)
{
    ov->have_base = true;
    ov->base_present = present;
    ov->check = check;
    if (present) {
        uint8_t *p = hb_arena_alloc(&r->b->arena, len ? len : 1);
        memcpy(p, raw, len);
        ov->base = p;
        ov->baselen = len;
    }
    if (check == S_CK_NONE)
        return;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &r->b->block_checks, msgpack_sbuffer_write);
    if (check == S_CK_EXISTS)
        hb_sqlop_pack_check_exists(&pk, ov->key, ov->klen, ov->plen, present);
    else
        hb_sqlop_pack_check(&pk, ov->key, ov->klen, ov->plen, present ? ov->base : NULL,
                            present ? len : 0);
    r->b->block_nchecks++;
}

static void
s_ov_set_base(s_req_t *r, s_ov_t *ov, bool present, const uint8_t *raw, size_t len)
{
    s_ov_set_base_ck(r, ov, present, raw, len, S_CK_FULL);
}

/* Appends one op (len bytes) to the block and to its key's history. */
static hb_rc_t
s_block_add_op(s_req_t *r, const uint8_t *op, size_t len, hb_sqlerr_t *err)
{
    hb_sqlop_head_t h;
    if (hb_sqlop_head(op, len, &h) != HB_OK)
        return hb_sqlerr_set(err, "XX000", "malformed op in block");
    if (r->b->block_nops + r->b->block_nchecks >= HB_SQL_MAX_OPS)
        return hb_sqlerr_set(err, "54000", "transaction block changes too many rows");
    if (r->b->block_nops == r->b->capops) {
        r->b->capops = r->b->capops ? r->b->capops * 2 : 64;
        r->b->opofs = hb_realloc(r->b->opofs, r->b->capops * sizeof *r->b->opofs);
        r->b->oplen = hb_realloc(r->b->oplen, r->b->capops * sizeof *r->b->oplen);
    }
    r->b->opofs[r->b->block_nops] = (uint32_t)r->b->block_ops.size;
    r->b->oplen[r->b->block_nops] = (uint32_t)len;
    msgpack_sbuffer_write(&r->b->block_ops, (const char *)op, len);
    s_ov_t *ov = s_ov_get(r, h.key, h.klen, h.plen);
    if (ov->nops == ov->capops) {
        ov->capops = ov->capops ? ov->capops * 2 : 4;
        ov->ops = hb_realloc(ov->ops, ov->capops * sizeof *ov->ops);
    }
    ov->ops[ov->nops++] = r->b->block_nops;
    r->b->block_nops++;
    return HB_OK;
}

/* A point read of one key at the session's snapshot into *present/raw. */
typedef struct {
    hb_arena_t **arena;
    bool found;
    uint8_t *raw;
    uint32_t len;
} s_point_t;

static hb_rc_t
s_point_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw, uint32_t rawlen,
            const hb_val_t *row, uint32_t ncols)
{
    (void)key;
    (void)klen;
    (void)row;
    (void)ncols;
    s_point_t *pt = arg;
    pt->found = true;
    pt->raw = hb_arena_alloc(pt->arena, rawlen ? rawlen : 1);
    memcpy(pt->raw, raw, rawlen);
    pt->len = rawlen;
    return HB_OK;
}

/* The block's view of ov's row: its snapshot value (read now if need be)
 * with the block's ops on it applied in order. */
static hb_rc_t
s_ov_current(sqlf_front_t *self, s_req_t *r, s_session_t *sess, s_ov_t *ov, bool *present,
             const uint8_t **row, size_t *len, hb_sqlerr_t *err)
{
    if (ov->have_base && ov->check == S_CK_EXISTS) {
        /* Only its existence was checked so far, but that read kept the
         * row's bytes: they are a snapshot value like any other, so CHECK
         * them too (the existence check stays) instead of reading again. */
        s_ov_set_base_ck(r, ov, ov->base_present, ov->base, ov->baselen, S_CK_FULL);
    } else if (!ov->have_base || ov->check != S_CK_FULL) {
        /* The row's bytes matter now: read it and CHECK them. */
        sqlf_source_t src = {.partition = -1, .point = true, .plen = ov->plen};
        memcpy(src.start.buf, ov->key, ov->klen);
        src.start.len = ov->klen;
        s_point_t pt = {.arena = &r->arena};
        uint64_t ep;
        hb_rc_t rc = s_read(self, sess, &src, false, s_point_row, &pt, &ep, err);
        if (rc)
            return rc;
        s_ov_set_base(r, ov, pt.found, pt.raw, pt.len);
    }
    bool p = ov->base_present;
    const uint8_t *cur = ov->base;
    size_t cl = ov->baselen;
    for (uint32_t i = 0; i < ov->nops; i++) {
        hb_sqlop_effect_t eff;
        uint32_t k = ov->ops[i];
        if (hb_sqlop_apply((const uint8_t *)r->b->block_ops.data + r->b->opofs[k], r->b->oplen[k], p, cur,
                           cl, 0, hb_arena_alloc, &r->arena, &eff, err) != HB_OK)
            return HB_INVALID;
        if (eff.write == 1) {
            p = true;
            cur = eff.row;
            cl = eff.rowlen;
        } else if (eff.write == 2) {
            p = false;
        }
    }
    *present = p;
    *row = p ? cur : NULL;
    *len = p ? cl : 0;
    return HB_OK;
}

/* Reading a source inside a block: the snapshot's rows with the block's
 * own changes applied, and the rows the block inserted. */
typedef struct {
    sqlf_front_t *self;
    s_req_t *r;
    s_session_t *sess;
    const sqlf_source_t *src;
    s_row_fn inner;
    void *inner_arg;
    hb_sqlerr_t *err;
    uint8_t *seen;  /* per block key that existed before this read: it met it */
    uint32_t nseen; /* keys in seen */
} s_bscan_t;

/* Notes that read b met block key ov (whatever reads nested in it do). */
static void
s_bscan_saw(s_bscan_t *b, const s_ov_t *ov)
{
    uint32_t i = (uint32_t)(ov - b->r->b->ov);
    if (i < b->nseen)
        b->seen[i] = 1;
}

/* Gives one key's block view to the inner callback if it passes. */
static hb_rc_t
s_bscan_emit(s_bscan_t *b, s_ov_t *ov)
{
    bool present;
    const uint8_t *row;
    size_t len;
    hb_rc_t rc = s_ov_current(b->self, b->r, b->sess, ov, &present, &row, &len, b->err);
    if (rc || !present)
        return rc;
    hb_val_t cols[HB_SQL_MAX_COLS];
    uint32_t ncols = 0;
    if (hb_row_decode(row, len, cols, HB_SQL_MAX_COLS, &ncols) != HB_OK)
        return hb_sqlerr_set(b->err, "XX001", "corrupt row");
    bool pass = true;
    if (b->src->where.p) {
        hb_expr_env_t env = {.row = cols, .ncols = ncols, .alloc = hb_arena_alloc,
                             .alloc_arg = &b->r->arena, .err = b->err};
        if ((rc = hb_expr_test(b->src->where.p, b->src->where.len, &env, &pass)) != HB_OK)
            return rc;
    }
    if (!pass)
        return HB_OK;
    return b->inner(b->inner_arg, ov->key, ov->klen, row, (uint32_t)len, cols, ncols);
}

static hb_rc_t
s_bscan_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw, uint32_t rawlen,
            const hb_val_t *row, uint32_t ncols)
{
    (void)row;
    (void)ncols;
    s_bscan_t *b = arg;
    s_ov_t *ov = s_ov_get(b->r, key, klen, sqlf_table_plen(b->src->table, key, klen));
    if (!ov->have_base)
        s_ov_set_base(b->r, ov, true, raw, rawlen);
    s_bscan_saw(b, ov);
    return s_bscan_emit(b, ov);
}

static bool
s_in_range(const sqlf_source_t *src, const uint8_t *key, uint32_t klen)
{
    if (src->point)
        return klen == src->start.len && memcmp(key, src->start.buf, klen) == 0;
    size_t n = klen < src->start.len ? klen : src->start.len;
    int c = memcmp(key, src->start.buf, n);
    if (c < 0 || (c == 0 && klen < src->start.len))
        return false;
    n = klen < src->end.len ? klen : src->end.len;
    c = memcmp(key, src->end.buf, n);
    return c < 0 || (c == 0 && klen < src->end.len);
}

/* Reads src inside the open block, calling fn for each row of the block's
 * view that passes src's filter. Every snapshot row it looks at gets a
 * CHECK, so the commit fails (40001) if one changed in between. */
static hb_rc_t
s_block_read(sqlf_front_t *self, s_req_t *r, s_session_t *sess, const sqlf_source_t *src,
             s_row_fn fn, void *arg, hb_sqlerr_t *err)
{
    s_bscan_t b = {self, r, sess, src, fn, arg, err, NULL, 0};
    if (src->point) {
        s_ov_t *ov = s_ov_get(r, src->start.buf, (uint32_t)src->start.len, src->plen);
        return s_bscan_emit(&b, ov);
    }
    uint64_t ep;
    uint32_t nov_before = r->b->nov;
    /* Which of the block's keys this read meets, kept per read (not on the
     * keys), so a read nested in it (a self-join) cannot make it emit a key
     * twice. */
    b.nseen = nov_before;
    b.seen = hb_calloc(nov_before ? nov_before : 1, 1);
    hb_rc_t rc;
    if (src->use_index) {
        /* The index entries at a snapshot name the rows; each row is then
         * read (and CHECKed) like a point read. */
        sqlf_source_t isrc = {.table = src->table, .partition = -1};
        isrc.start = src->ix_start;
        isrc.end = src->ix_end;
        if (src->ix_partition >= 0) {
            isrc.has_fixed = true;
            isrc.fixed =
                hb_key_partition(src->ix_pkey.buf, src->ix_pkey.len, self->nparts);
        }
        s_ixkeys_t ks = {0};
        rc = s_read_entries(self, sess, &isrc, s_ix_entry, &ks, &ep, err);
        if (rc == HB_CORRUPT)
            rc = hb_sqlerr_set(err, "XX001", "corrupt index entry of \"%s\"",
                               src->table->name);
        for (uint32_t i = 0; i < ks.n && rc == HB_OK; i++) {
            s_ov_t *ov = s_ov_get(r, ks.keys[i], ks.lens[i],
                                  sqlf_table_plen(src->table, ks.keys[i], ks.lens[i]));
            s_bscan_saw(&b, ov);
            rc = s_bscan_emit(&b, ov);
        }
        hb_free(ks.keys);
        hb_free(ks.lens);
        hb_arena_free(&ks.arena);
    } else {
        rc = s_read(self, sess, src, false, s_bscan_row, &b, &ep, err);
    }
    /* Keys of the range the snapshot read did not meet: the block's
     * inserts (absent from the snapshot when the read covered the whole
     * range), or, for an index read, rows the block wrote whose entries
     * did not match: their base is then read as a point. */
    for (uint32_t i = 0; i < nov_before && rc == HB_OK; i++) {
        s_ov_t *ov = &r->b->ov[i];
        if (b.seen[i] || !s_in_range(src, ov->key, ov->klen))
            continue;
        if (!ov->have_base && !src->use_index)
            s_ov_set_base(r, ov, false, NULL, 0);
        rc = s_bscan_emit(&b, ov);
    }
    hb_free(b.seen);
    return rc;
}

/* A nested-loop join inside the open block: each table's rows are read
 * through the block's view (s_block_read: its own writes applied, every
 * snapshot row CHECKed at commit), bound by the rows of the tables before
 * it, as s_join_level does at a snapshot outside blocks. */
typedef struct {
    sqlf_front_t *self;
    s_req_t *r;
    s_session_t *sess;
    const sqlf_stmt_t *st;
    hb_val_t *row;  /* the joined row being built */
    uint32_t width; /* its columns */
    uint32_t k;     /* the level whose rows come next */
    s_row_fn fn;    /* gets each joined row that passes the filter */
    void *arg;
    hb_sqlerr_t *err;
} s_bjoin_t;

static hb_rc_t s_bjoin_level(s_bjoin_t *bj, uint32_t k);

static hb_rc_t
s_bjoin_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
            uint32_t rawlen, const hb_val_t *row, uint32_t ncols)
{
    (void)key;
    (void)klen;
    (void)raw;
    (void)rawlen;
    s_bjoin_t *bj = arg;
    uint32_t k = bj->k;
    const sqlf_join_t *j = &bj->st->join[k];
    for (uint32_t c = 0; c < j->table->ncols; c++)
        bj->row[j->off + c] = c < ncols ? row[c] : hb_val_nil();
    hb_rc_t rc = s_bjoin_level(bj, k + 1);
    bj->k = k;
    return rc;
}

static hb_rc_t
s_bjoin_level(s_bjoin_t *bj, uint32_t k)
{
    const sqlf_stmt_t *st = bj->st;
    if (k == st->njoin) {
        bool pass = true;
        if (st->src.where.p) {
            hb_expr_env_t env = {.row = bj->row,
                                 .ncols = bj->width,
                                 .alloc = hb_arena_alloc,
                                 .alloc_arg = &bj->r->arena,
                                 .err = bj->err};
            hb_rc_t rc = hb_expr_test(st->src.where.p, st->src.where.len, &env, &pass);
            if (rc)
                return rc;
        }
        return pass ? bj->fn(bj->arg, NULL, 0, NULL, 0, bj->row, bj->width) : HB_OK;
    }
    sqlf_source_t src;
    bool none;
    hb_rc_t rc = s_join_source(bj->self, &st->join[k], bj->row, &bj->r->arena, &src, &none,
                               bj->err);
    if (rc || none)
        return rc;
    bj->k = k;
    return s_block_read(bj->self, bj->r, bj->sess, &src, s_bjoin_row, bj, bj->err);
}

/* Runs the join of st inside the open block, giving fn each joined row. */
static hb_rc_t
s_block_join(sqlf_front_t *self, s_req_t *r, s_session_t *sess, const sqlf_stmt_t *st,
             s_row_fn fn, void *arg, hb_sqlerr_t *err)
{
    const sqlf_join_t *last = &st->join[st->njoin - 1];
    uint32_t width = last->off + last->table->ncols;
    s_bjoin_t bj = {self, r, sess, st, NULL, width, 0, fn, arg, err};
    bj.row = hb_calloc(width ? width : 1, sizeof *bj.row);
    hb_rc_t rc = s_bjoin_level(&bj, 0);
    hb_free(bj.row);
    return rc;
}

/* Returns true if an UPDATE op (len bytes) sets a column some index of t
 * covers. */
static bool
s_update_touches_index(const sqlf_table_t *t, const uint8_t *op, size_t len)
{
    hb_mp_reader_t rd;
    uint32_t n = 0, nsets = 0;
    hb_mp_reader_init(&rd, op, len);
    if (hb_mp_read_array(&rd, &n) != HB_OK || n != 6)
        return true;
    for (int f = 0; f < 4; f++) /* kind, key, plen, where */
        hb_mp_skip(&rd);
    if (hb_mp_read_array(&rd, &nsets) != HB_OK)
        return true;
    for (uint32_t i = 0; i < nsets; i++) {
        uint32_t m = 0;
        uint64_t col = 0;
        if (hb_mp_read_array(&rd, &m) != HB_OK || m < 1 || hb_mp_read_uint(&rd, &col) != HB_OK)
            return true;
        for (uint32_t f = 1; f < m; f++)
            hb_mp_skip(&rd);
        for (uint32_t x = 0; x < t->nidx; x++)
            for (uint32_t k = 0; k < t->idx[x].ncols; k++)
                if (t->idx[x].cols[k] == col)
                    return true;
    }
    return false;
}

/* Adds a data op on table t to the block, with the index entry changes it
 * makes: the row before and after (the block's view, its snapshot value
 * CHECKed) give which entries go and which come. */
static hb_rc_t
s_block_add_data_op(sqlf_front_t *self, s_req_t *r, s_session_t *sess, const sqlf_table_t *t,
                    const uint8_t *op, size_t len, hb_sqlerr_t *err)
{
    hb_sqlop_head_t h;
    if (!t || t->nidx == 0 || hb_sqlop_head(op, len, &h) != HB_OK ||
        (h.kind == HB_SQLOP_UPDATE && !s_update_touches_index(t, op, len)))
        return s_block_add_op(r, op, len, err);
    s_ov_t *ov = s_ov_get(r, h.key, h.klen, h.plen);
    bool had, has;
    const uint8_t *before, *after;
    size_t blen, alen;
    hb_rc_t rc = s_ov_current(self, r, sess, ov, &had, &before, &blen, err);
    if (rc || (rc = s_block_add_op(r, op, len, err)))
        return rc;
    ov = s_ov_find(r, h.key, h.klen); /* the array may have moved */
    if ((rc = s_ov_current(self, r, sess, ov, &has, &after, &alen, err)))
        return rc;
    hb_val_t *o = hb_arena_alloc(&r->arena, 2 * HB_SQL_MAX_COLS * sizeof *o), *nw = o + HB_SQL_MAX_COLS;
    uint32_t no = 0, nn = 0;
    if ((had && hb_row_decode(before, blen, o, HB_SQL_MAX_COLS, &no) != HB_OK) ||
        (has && hb_row_decode(after, alen, nw, HB_SQL_MAX_COLS, &nn) != HB_OK))
        return hb_sqlerr_set(err, "XX001", "corrupt row");
    for (uint32_t x = 0; x < t->nidx; x++) {
        hb_key_t ko, kn;
        bool eo = had && sqlf_index_key(t, &t->idx[x], o, no, &ko);
        bool en = has && sqlf_index_key(t, &t->idx[x], nw, nn, &kn);
        if (eo && en && ko.len == kn.len && memcmp(ko.buf, kn.buf, ko.len) == 0)
            continue;
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (eo) {
            msgpack_pack_array(&pk, 4);
            msgpack_pack_uint8(&pk, HB_SQLOP_IDEL);
            hb_mp_pack_bin(&pk, ko.buf, ko.len);
            msgpack_pack_uint32(&pk, 0);
            hb_mp_pack_bin(&pk, h.key, h.plen);
            rc = s_block_add_op(r, (const uint8_t *)sb.data, sb.size, err);
            sb.size = 0;
        }
        if (rc == HB_OK && en) {
            msgpack_pack_array(&pk, 5);
            msgpack_pack_uint8(&pk, HB_SQLOP_IPUT);
            hb_mp_pack_bin(&pk, kn.buf, kn.len);
            msgpack_pack_uint32(&pk, 0);
            hb_mp_pack_bin(&pk, h.key, h.plen);
            hb_mp_pack_bin(&pk, h.key, h.klen);
            rc = s_block_add_op(r, (const uint8_t *)sb.data, sb.size, err);
        }
        msgpack_sbuffer_destroy(&sb);
        if (rc)
            return rc;
    }
    return HB_OK;
}

/* Submits the block: its CHECKs first (they validate the snapshot values
 * its reads saw, before any of its writes), then its ops. */
static hb_rc_t
s_submit_block(sqlf_front_t *self, s_req_t *r)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, r->b->block_nchecks + r->b->block_nops);
    msgpack_sbuffer_write(&sb, r->b->block_checks.data, r->b->block_checks.size);
    msgpack_sbuffer_write(&sb, r->b->block_ops.data, r->b->block_ops.size);
    /* The version its statements were planned at: storage rejects the
     * block (XXCAT) if a DDL came in between. */
    int64_t catver = r->b->have_catver ? r->b->catver : sqlf_catalog_version(self->cat);
    hb_val_t args[2] = {hb_val_int(catver), {.type = HB_VAL_BIN}};
    args[1].u.s.ptr = (const uint8_t *)sb.data;
    args[1].u.s.len = (uint32_t)sb.size;
    hb_rc_t rc = hb_client_submit(self->cli, "sql.exec", args, 2, &r->txn_req);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Appends every block statement's group, in order, then tag's. */
static void
s_block_groups(s_req_t *r, const hb_val_t *ops, uint32_t nops, uint64_t epoch,
               hb_sqlerr_t *err)
{
    for (uint32_t i = 0; i < r->b->nblock; i++) {
        s_blockstmt_t *b = &r->b->block[i];
        if (b->hidden || b->serial != r->serial)
            continue; /* earlier requests answered for their statements */
        if (b->st.kind == SQLF_ST_WRITE) {
            const hb_val_t *v = b->first_op + b->nops <= nops ? &ops[b->first_op] : NULL;
            s_swap_vals(r, b);
            s_write_group(r, &b->st, v, v ? b->nops : 0, epoch, err);
            s_swap_vals(r, b);
        }
        for (uint32_t k = 0; k < b->nvals; k++)
            s_push(r, b->vals[k]);
    }
}

/* Ends the open block: submits its transaction (and parks r) when it read
 * or wrote anything, else finishes it on the spot. tag: answer "COMMIT".
 * Returns true when r was parked. */
static bool
s_commit(sqlf_front_t *self, s_req_t *r, bool tag, hb_sqlerr_t *err)
{
    if (r->b->block_nops + r->b->block_nchecks == 0) {
        s_block_groups(r, NULL, 0, 0, err);
        s_block_reset(r);
        if (tag)
            s_group_tag(r, "COMMIT", 0);
        return false;
    }
    if (s_submit_block(self, r) != HB_OK) {
        s_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
               hb_client_last_error(self->cli));
        return true; /* r is gone */
    }
    r->committing = true;
    r->commit_tag = tag;
    s_park(self, r);
    return true;
}

/* Opens a block for one statement that needs one (CALL, INSERT ... SELECT)
 * when none is open. */
static void
s_implicit_block(s_req_t *r)
{
    if (r->b->in_block)
        return;
    r->b->in_block = true;
    r->b->implicit = true;
    r->b->block_failed = false;
    r->b->began_in = r->serial;
    r->b->block_begin = r->next;
    r->b->block_nvals = r->nvals;
}

/* Starts running the body of a CALL (st) in place of r's statements. */
static hb_rc_t
s_call_enter(sqlf_front_t *self, s_req_t *r, const sqlf_stmt_t *st, hb_sqlerr_t *err)
{
    if (r->depth)
        return hb_sqlerr_set(err, "0A000", "CALL inside a procedure is not supported");
    s_parsed_t *pb = s_parse(self, st->call_body, err);
    if (!pb)
        return HB_INVALID;
    pb->refs++;
    if (r->body_parsed)
        r->body_parsed->refs--;
    r->body_parsed = pb;
    hb_val_t *args = hb_arena_alloc(&r->arena, (st->call_nargs + 1) * sizeof *args);
    for (uint32_t i = 0; i < st->call_nargs; i++)
        args[i] = s_keep(&r->arena, st->call_args[i]);
    char(*names)[SQLF_NAME_MAX] =
        hb_arena_alloc(&r->arena, (st->call_nargs + 1) * sizeof *names);
    memcpy(names, st->call_pnames, st->call_nargs * sizeof *names);
    r->depth = 1;
    r->f_tree = r->tree;
    r->f_next = r->next;
    r->f_params = r->params;
    r->f_nparams = r->nparams;
    r->tree = pb->tree;
    r->next = 0;
    r->params = args;
    r->nparams = st->call_nargs;
    r->pnames = names;
    return HB_OK;
}

/* The body ran to its end: back to the request's statements, after the
 * CALL, which answers "CALL". */
static void
s_call_leave(s_req_t *r)
{
    r->tree = r->f_tree;
    r->next = r->f_next + 1;
    r->params = r->f_params;
    r->nparams = r->f_nparams;
    r->pnames = NULL;
    r->depth = 0;
    sqlf_stmt_t none;
    memset(&none, 0, sizeof none);
    msgpack_sbuffer_init(&none.ops);
    msgpack_sbuffer_init(&none.ddl_def);
    none.kind = SQLF_ST_EMPTY;
    s_blockstmt_t *b = s_block_add(r, &none, r->b->block_nops);
    s_swap_vals(r, b);
    s_group_tag(r, "CALL", 0);
    s_swap_vals(r, b);
}

/* Plans statement i, reloading the catalog once when a table is missing
 * (another gateway may have created it). */
static hb_rc_t
s_plan_stmt(sqlf_front_t *self, s_req_t *r, const PgQuery__Node *node, sqlf_stmt_t *st,
            hb_sqlerr_t *err)
{
    /* The statement's CURRENT_TIMESTAMP: this gateway's clock, fixed into
     * the plan, so every replica executes with the same value. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - HB_PG_EPOCH_US;
    hb_rc_t rc = sqlf_plan(self->cat, r->sql, node, r->params, r->nparams,
                           (const char(*)[SQLF_NAME_MAX])r->pnames, now_us, &self->rowids,
                           NULL, st, err);
    if (rc && (strcmp(err->sqlstate, "42P01") == 0 || strcmp(err->sqlstate, "42883") == 0)) {
        self->cat_reloads++;
        if (s_reload_rc(self, 0) == HB_OK)
            rc = sqlf_plan(self->cat, r->sql, node, r->params, r->nparams,
                           (const char(*)[SQLF_NAME_MAX])r->pnames, now_us, &self->rowids,
                           NULL, st, err);
    }
    if (rc == HB_OK && r->b->in_block && st->kind != SQLF_ST_ROLLBACK &&
        st->kind != SQLF_ST_COMMIT) {
        /* Every statement of a block is planned on one catalog. */
        int64_t v = sqlf_catalog_version(self->cat);
        if (!r->b->have_catver) {
            r->b->have_catver = true;
            r->b->catver = v;
        } else if (r->b->catver != v) {
            sqlf_stmt_free(st);
            return hb_sqlerr_set(err, "40001", "could not serialize access: the catalog changed "
                                               "during the transaction block");
        }
    }
    return rc;
}

/* Returns true if what op (len bytes) answers depends only on whether its
 * row exists: a plain INSERT (error or DO NOTHING), an UPDATE or DELETE
 * without WHERE (a point write by the key alone), none with RETURNING. */
static bool
s_op_existence_only(const uint8_t *op, size_t len)
{
    hb_mp_reader_t rd;
    uint32_t n = 0;
    uint64_t kind = 0, conflict = 0;
    bool ret = true;
    hb_mp_reader_init(&rd, op, len);
    if (hb_mp_read_array(&rd, &n) != HB_OK || hb_mp_read_uint(&rd, &kind) != HB_OK ||
        hb_mp_skip(&rd) != HB_OK || hb_mp_skip(&rd) != HB_OK) /* key, plen */
        return false;
    switch (kind) {
    case HB_SQLOP_INSERT:
        return n == 9 && hb_mp_skip(&rd) == HB_OK && hb_mp_skip(&rd) == HB_OK &&
               hb_mp_read_uint(&rd, &conflict) == HB_OK && conflict <= 1 &&
               hb_mp_skip(&rd) == HB_OK && hb_mp_skip(&rd) == HB_OK &&
               hb_mp_read_bool(&rd, &ret) == HB_OK && !ret;
    case HB_SQLOP_UPDATE:
        return n == 6 && hb_mp_peek(&rd) == HB_MP_NIL && hb_mp_skip(&rd) == HB_OK &&
               hb_mp_skip(&rd) == HB_OK && hb_mp_read_bool(&rd, &ret) == HB_OK && !ret;
    case HB_SQLOP_DELETE:
        return n == 5 && hb_mp_peek(&rd) == HB_MP_NIL && hb_mp_skip(&rd) == HB_OK &&
               hb_mp_read_bool(&rd, &ret) == HB_OK && !ret;
    default:
        return false;
    }
}

/* The CHECK the answer of ov's ops at the end of a request needs:
 * nothing for INSERTs of fresh row ids (tables without a key), existence
 * for existence-only ops, else the row's bytes. */
static int
s_ov_answer_check(sqlf_front_t *self, const s_blk_t *b, const s_ov_t *ov)
{
    bool exists_only = true, inserts = true;
    for (uint32_t i = 0; i < ov->nops && exists_only; i++) {
        const uint8_t *op = (const uint8_t *)b->block_ops.data + b->opofs[ov->ops[i]];
        hb_sqlop_head_t h;
        exists_only = s_op_existence_only(op, b->oplen[ov->ops[i]]);
        inserts = inserts && hb_sqlop_head(op, b->oplen[ov->ops[i]], &h) == HB_OK &&
                  h.kind == HB_SQLOP_INSERT;
    }
    if (!exists_only)
        return S_CK_FULL;
    if (inserts) {
        const uint8_t *kp = ov->key;
        uint32_t table = 0;
        if (hb_key_get_table(&kp, ov->key + ov->klen, &table) == HB_OK) {
            for (uint32_t i = 0; i < sqlf_catalog_size(self->cat); i++) {
                const sqlf_table_t *t = sqlf_catalog_at(self->cat, i);
                if (t->id == table && t->rowid)
                    return S_CK_NONE;
            }
        }
    }
    return S_CK_EXISTS;
}

/* The request ends inside its session's open block, which stays open for
 * the session's next requests. Its statements answer now: reads with what
 * they read, writes with what they will do when the block commits; the
 * rows those answers come from are CHECKed at COMMIT like every read (so
 * across requests a blind write is no longer blind). */
static void
s_block_answer_open(sqlf_front_t *self, s_req_t *r, s_session_t *sess)
{
    s_blk_t *b = r->b;
    hb_sqlerr_t err = {{0}, {0}};
    hb_val_t *pred = hb_arena_alloc(&r->arena, (b->block_nops + 1) * sizeof *pred);
    for (uint32_t i = 0; i < b->block_nops; i++)
        pred[i] = hb_val_int(0);
    for (uint32_t v = 0; v < b->nov; v++) {
        s_ov_t *ov = &b->ov[v];
        const uint8_t *kp = ov->key;
        uint32_t table = 0;
        if (ov->nops == 0 || hb_key_get_table(&kp, ov->key + ov->klen, &table) != HB_OK ||
            table == HB_TABLE_INDEX)
            continue;
        bool p = ov->base_present;
        const uint8_t *cur = ov->base;
        size_t cl = ov->baselen;
        int ck = s_ov_answer_check(self, b, ov);
        if (!ov->have_base && ck == S_CK_NONE) {
            /* A fresh row id: absent, and no one else can write it. */
            s_ov_set_base_ck(r, ov, false, NULL, 0, S_CK_NONE);
            p = false;
        } else if (!ov->have_base) {
            /* What it answers now is checked at COMMIT like any read, so
             * the answer and the outcome cannot disagree: only whether the
             * row exists, when that is all the answer depends on (blind
             * writes of other sessions then do not conflict with it). */
            sqlf_source_t src = {.partition = -1, .point = true, .plen = ov->plen};
            memcpy(src.start.buf, ov->key, ov->klen);
            src.start.len = ov->klen;
            s_point_t pt = {.arena = &r->arena};
            uint64_t ep;
            if (s_read(self, sess, &src, false, s_point_row, &pt, &ep, &err) != HB_OK)
                continue; /* no prediction: the statement answers 0 rows */
            s_ov_set_base_ck(r, ov, pt.found, pt.raw, pt.len, ck);
            p = ov->base_present;
            cur = ov->base;
            cl = ov->baselen;
        }
        for (uint32_t i = 0; i < ov->nops; i++) {
            uint32_t k = ov->ops[i];
            hb_sqlop_effect_t eff;
            if (hb_sqlop_apply((const uint8_t *)b->block_ops.data + b->opofs[k], b->oplen[k], p,
                               cur, cl, 0, hb_arena_alloc, &r->arena, &eff, &err) != HB_OK)
                break;
            pred[k] = s_keep(&r->arena, eff.result);
            if (eff.write == 1) {
                p = true;
                cur = eff.row;
                cl = eff.rowlen;
            } else if (eff.write == 2) {
                p = false;
            }
        }
    }
    s_block_groups(r, pred, b->block_nops, 0, &err);
}

/* A read met a newer catalog than its statement was planned on (XXCAT):
 * reloads and says whether to plan the statement again. Inside a block
 * the block's plans are stale too: the error becomes 40001. */
static bool
s_replan_after_read(sqlf_front_t *self, s_req_t *r, hb_sqlerr_t *err)
{
    if (strcmp(err->sqlstate, "XXCAT") != 0)
        return false;
    s_reload(self, self->read_catver_epoch);
    bool fresh = !r->b->in_block || r->b->implicit; /* nothing planned before it */
    if (fresh && r->cat_retries < S_CAT_RETRIES) {
        if (r->b->in_block)
            s_block_reset(r); /* the statement opens its block again */
        r->cat_retries++;
        self->read_replans++;
        return true;
    }
    hb_sqlerr_set(err, "40001", "could not serialize access: the catalog changed during the "
                                "transaction block");
    return false;
}

static void
s_advance(sqlf_front_t *self, s_req_t *r)
{
    s_session_t *sess = r->sess;
    for (;;) {
        if (r->next >= r->tree->n_stmts) {
            if (!r->depth)
                break;
            /* A procedure body ended. */
            s_call_leave(r);
            if (r->b->implicit) {
                hb_sqlerr_t cerr;
                if (s_commit(self, r, false, &cerr))
                    return;
            }
            continue;
        }
        const PgQuery__Node *node = r->tree->stmts[r->next]->stmt;
        sqlf_stmt_t st;
        hb_sqlerr_t err;
        self->statements++;
        if (r->b->in_block && r->b->block_failed) {
            /* Only ROLLBACK (or COMMIT, which rolls back) is accepted. */
            if (node->node_case == PG_QUERY__NODE__NODE_TRANSACTION_STMT &&
                (node->transaction_stmt->kind ==
                     PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK ||
                 node->transaction_stmt->kind ==
                     PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT)) {
                s_block_reset(r);
                s_group_tag(r, "ROLLBACK", 0);
                r->next++;
                continue;
            }
            s_fail(self, r, HB_ABORTED, "25P02",
                   "current transaction is aborted, commands ignored until end of transaction "
                   "block");
            return;
        }
        if (s_plan_stmt(self, r, node, &st, &err) != HB_OK) {
            if (r->b->in_block)
                r->b->block_failed = true;
            s_fail_err(self, r, &err);
            return;
        }
        if (r->depth && (st.kind == SQLF_ST_BEGIN || st.kind == SQLF_ST_COMMIT ||
                         st.kind == SQLF_ST_ROLLBACK || st.kind == SQLF_ST_DDL)) {
            sqlf_stmt_free(&st);
            s_fail(self, r, HB_INVALID, "0A000",
                   "transaction control and DDL are not allowed in a procedure body");
            return;
        }
        switch (st.kind) {
        case SQLF_ST_CALL: {
            s_implicit_block(r);
            hb_rc_t rc = s_call_enter(self, r, &st, &err);
            sqlf_stmt_free(&st);
            if (rc) {
                s_fail_err(self, r, &err);
                return;
            }
            continue;
        }
        case SQLF_ST_EMPTY:
            if (strcmp(st.set_name, "hobbes.strict_reads") == 0 || strcmp(st.set_name, "") == 0) {
                const char *v = st.set_value;
                if (strcmp(st.set_name, "") == 0) /* RESET ALL */
                    sess->strict = false;
                else
                    sess->strict = strcmp(v, "on") == 0 || strcmp(v, "true") == 0 ||
                                   strcmp(v, "1") == 0;
            }
            if (strcmp(st.set_name, "hobbes.read_after") == 0 && st.set_value[0]) {
                /* Reads wait for this epoch from now on (the wire protocol
                 * after a COPY, which commits through other sessions). */
                uint64_t e = strtoull(st.set_value, NULL, 10);
                if (e > sess->epoch)
                    sess->epoch = e;
            }
            s_group_tag(r, st.tag, 0);
            sqlf_stmt_free(&st);
            r->next++;
            continue;
        case SQLF_ST_BEGIN:
            if (!r->b->in_block) {
                r->b->in_block = true;
                r->b->block_failed = false;
                r->b->began_in = r->serial;
                r->b->block_begin = r->next;
                r->b->block_nvals = r->nvals;
            }
            s_group_tag(r, "BEGIN", 0);
            sqlf_stmt_free(&st);
            r->next++;
            continue;
        case SQLF_ST_ROLLBACK:
            if (r->b->in_block)
                s_block_answer_open(self, r, sess); /* what ran in this request answers */
            s_block_reset(r);
            s_group_tag(r, "ROLLBACK", 0);
            sqlf_stmt_free(&st);
            r->next++;
            continue;
        case SQLF_ST_COMMIT:
            sqlf_stmt_free(&st);
            r->next++;
            if (!r->b->in_block) {
                s_group_tag(r, "COMMIT", 0); /* PostgreSQL warns; no block open */
                continue;
            }
            if (s_commit(self, r, true, &err))
                return;
            continue;
        case SQLF_ST_SELECT:
            if (st.njoin && sess->strict && !r->b->in_block) {
                sqlf_stmt_free(&st);
                s_fail(self, r, HB_INVALID, "0A000",
                       "strict reads of joins are not supported yet");
                return;
            }
            if (sess->strict && !r->b->in_block && st.src.table)
                s_implicit_block(r); /* sequenced: its rows are CHECKed at commit */
            if (r->b->in_block) {
                /* Answered now from the block's view; its CHECKs make the
                 * commit fail (40001) if what it read changes first. (A
                 * SELECT that reads no table joins the block too: its group
                 * comes in order with the others'.) */
                s_blockstmt_t *b = s_block_add(r, &st, r->b->block_nops);
                s_sel_t sel = {.self = self, .st = &b->st, .req = r, .arena = &r->arena,
                               .err = &err};
                hb_rc_t rc =
                    b->st.njoin
                        ? s_block_join(self, r, sess, &b->st, s_sel_row, &sel, &err)
                    : b->st.src.table
                        ? s_block_read(self, r, sess, &b->st.src, s_sel_row, &sel, &err)
                    : b->st.src.series ? s_series_read(&b->st.src, s_sel_row, &sel, &err)
                                       : s_sel_row(&sel, NULL, 0, NULL, 0, NULL, 0);
                if (rc == HB_OK && b->st.agg)
                    rc = s_sel_groups(&sel);
                if (rc == HB_OK) {
                    s_swap_vals(r, b);
                    s_sel_group(r, &b->st, &sel, 0);
                    s_swap_vals(r, b);
                }
                hb_free(sel.rows);
                hb_free(sel.groups);
                if (rc) {
                    if (s_replan_after_read(self, r, &err))
                        continue; /* an implicit block: the statement again */
                    r->b->block_failed = true;
                    if (r->b->implicit)
                        s_block_reset(r);
                    s_fail_err(self, r, &err);
                    return;
                }
                r->next++;
                if (r->b->implicit && !r->depth && s_commit(self, r, false, &err))
                    return;
                continue;
            }
            if (s_run_select(self, r, sess, &st, &err) != HB_OK) {
                sqlf_stmt_free(&st);
                if (s_replan_after_read(self, r, &err))
                    continue; /* the same statement, on the newer catalog */
                s_fail_err(self, r, &err);
                return;
            }
            sqlf_stmt_free(&st);
            r->next++;
            continue;
        case SQLF_ST_WRITE: {
            const sqlf_table_t *wt = st.ins_table ? st.ins_table : st.src.table;
            bool had_block = r->b->in_block;
            bool bulk = st.sub && s_bulk_ok(r, &st);
            if (bulk && !st.sub->agg && !st.sub->nsort) {
                /* INSERT ... SELECT from generate_series: more rows than one
                 * transaction takes load in batches, made as they go. */
                uint64_t n = 0;
                if (s_series_rows(st.sub, &n, &err) != HB_OK) {
                    sqlf_stmt_free(&st);
                    s_fail_err(self, r, &err);
                    return;
                }
                if (n > s_bulk_threshold(self, st.ins_table)) {
                    s_bulk_start(self, r, &st, NULL, 0);
                    return;
                }
                bulk = false; /* few rows: one transaction, below */
            }
            /* Writes to a table with indexes run as a block: the row's value
             * before the write (validated) says which entries change. */
            if (wt && wt->nidx > 0)
                s_implicit_block(r);
            if (st.sub) {
                /* INSERT ... SELECT: read in a block (implicit if need be),
                 * so the commit validates what the rows came from. */
                s_implicit_block(r);
                sqlf_stmt_t *q = st.sub;
                s_sel_t sel = {.self = self, .st = q, .req = r, .arena = &r->arena, .err = &err};
                hb_rc_t rc =
                    q->njoin ? s_block_join(self, r, sess, q, s_sel_row, &sel, &err)
                    : q->src.table
                        ? s_block_read(self, r, sess, &q->src, s_sel_row, &sel, &err)
                    : q->src.series ? s_series_read(&q->src, s_sel_row, &sel, &err)
                                    : s_sel_row(&sel, NULL, 0, NULL, 0, NULL, 0);
                if (rc == HB_OK && q->agg)
                    rc = s_sel_groups(&sel);
                if (rc == HB_OK) {
                    uint64_t from, to;
                    s_sel_finish(&sel, q, &from, &to);
                    if (bulk && to - from > s_bulk_threshold(self, st.ins_table)) {
                        /* Sorted or grouped series rows, too many for one
                         * transaction: they load in batches too. */
                        if (!had_block)
                            s_block_reset(r);
                        hb_free(sel.groups);
                        s_bulk_start(self, r, &st, sel.rows + from, to - from);
                        hb_free(sel.rows);
                        return;
                    }
                    for (uint64_t i = from; i < to && rc == HB_OK; i++)
                        rc = sqlf_stmt_insert_row(&st, sel.rows[i], q->nout, NULL, NULL,
                                                  &err);
                }
                hb_free(sel.rows);
                hb_free(sel.groups);
                if (rc) {
                    sqlf_stmt_free(&st);
                    r->b->block_failed = true;
                    if (r->b->implicit)
                        s_block_reset(r);
                    s_fail_err(self, r, &err);
                    return;
                }
            }
            if (st.ollp && !st.sub) {
                uint64_t ep;
                hb_rc_t rc = r->b->in_block
                                 ? s_block_read(self, r, sess, &st.src, s_recon_row, &st, &err)
                                 : s_read_src(self, sess, &st.src, true, s_recon_row, &st, &ep,
                                              &err);
                if (rc == HB_TOOBIG)
                    hb_sqlerr_set(&err, "54000", "statement changes more than %d rows",
                                  HB_SQL_MAX_OPS);
                if (rc) {
                    sqlf_stmt_free(&st);
                    if (s_replan_after_read(self, r, &err))
                        continue;
                    if (r->b->in_block)
                        r->b->block_failed = true;
                    s_fail_err(self, r, &err);
                    return;
                }
                self->ollp_rows += st.nops;
            }
            if (r->b->in_block) {
                uint32_t before = r->b->block_nops;
                hb_mp_reader_t rd;
                hb_mp_reader_init(&rd, st.ops.data, st.ops.size);
                hb_rc_t rc = HB_OK;
                for (uint32_t i = 0; i < st.nops && rc == HB_OK; i++) {
                    const uint8_t *op;
                    size_t oplen;
                    rc = hb_mp_read_raw(&rd, &op, &oplen) == HB_OK
                             ? s_block_add_data_op(self, r, sess, wt, op, oplen, &err)
                             : hb_sqlerr_set(&err, "XX000", "malformed plan");
                }
                if (rc) {
                    sqlf_stmt_free(&st);
                    if (s_replan_after_read(self, r, &err))
                        continue; /* an implicit block: the statement again */
                    r->b->block_failed = true;
                    s_fail_err(self, r, &err);
                    return;
                }
                s_block_add(r, &st, before);
                r->next++;
                if (r->b->implicit && !r->depth && s_commit(self, r, false, &err))
                    return;
                continue;
            }
            if (st.nops == 0) {
                s_write_group(r, &st, NULL, 0, 0, &err);
                sqlf_stmt_free(&st);
                r->next++;
                continue;
            }
            if (s_submit_exec(self, r, &st.ops, st.nops) != HB_OK) {
                sqlf_stmt_free(&st);
                s_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                       hb_client_last_error(self->cli));
                return;
            }
            s_cur_set(r, &st);
            s_park(self, r);
            return;
        }
        case SQLF_ST_DDL: {
            /* DDL before anything else of a BEGIN block takes effect at
             * once and is not rolled back: drivers open a block before
             * every statement (psycopg2), and pgbench -i sends begin;
             * truncate ...; insert ...; commit. Several in a row are fine;
             * after any other statement of the block it is 0A000. */
            bool early = r->b->in_block && !r->b->implicit && r->b->nblock == 0 &&
                         r->b->block_nops == 0 && r->b->block_nchecks == 0;
            if (r->b->in_block && !early) {
                sqlf_stmt_free(&st);
                r->b->block_failed = true;
                s_fail(self, r, HB_INVALID, "0A000",
                       "DDL inside a transaction block is not supported after its first "
                       "statement");
                return;
            }
            if (early) {
                r->b->have_catver = false; /* the block plans on the catalog after it */
                r->b->no_rerun = true;
            }
            r->ddl_item = 0;
            if (s_submit_ddl(self, r, &st, 0) != HB_OK) {
                sqlf_stmt_free(&st);
                s_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                       hb_client_last_error(self->cli));
                return;
            }
            s_cur_set(r, &st);
            s_park(self, r);
            return;
        }
        }
    }
    if (r->b->in_block)
        s_block_answer_open(self, r, sess);
    s_finish(self, r, HB_OK, NULL);
}

/* ------------------------------------------------------------------ */
/* CREATE INDEX backfill                                                */
/* ------------------------------------------------------------------ */

#define S_BACKFILL_ROWS    500
#define S_BACKFILL_RETRIES 100

typedef struct {
    s_req_t *r;
    const sqlf_table_t *t;
    const sqlf_index_t *ix;
    msgpack_sbuffer *ops;
    uint32_t n;
} s_bf_t;

static hb_rc_t
s_bf_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw, uint32_t rawlen,
         const hb_val_t *row, uint32_t ncols)
{
    s_bf_t *b = arg;
    if (b->r->ix_batch >= S_BACKFILL_ROWS)
        return HB_BUSY; /* the batch is full: stop the read here */
    uint32_t plen = sqlf_table_plen(b->t, key, klen);
    msgpack_packer pk;
    msgpack_packer_init(&pk, b->ops, msgpack_sbuffer_write);
    /* The entry is right only if the row is still what we read. */
    hb_sqlop_pack_check(&pk, key, klen, plen, raw, rawlen);
    b->n++;
    hb_key_t ek;
    if (sqlf_index_key(b->t, b->ix, row, ncols, &ek)) {
        msgpack_pack_array(&pk, 5);
        msgpack_pack_uint8(&pk, HB_SQLOP_IPUT);
        hb_mp_pack_bin(&pk, ek.buf, ek.len);
        msgpack_pack_uint32(&pk, 0);
        hb_mp_pack_bin(&pk, key, plen);
        hb_mp_pack_bin(&pk, key, klen);
        b->n++;
    }
    memcpy(b->r->ix_last, key, klen);
    b->r->ix_last_len = klen;
    b->r->ix_batch++;
    return HB_OK;
}

/* Looks up the index being built; NULL (request failed) if it is gone. */
static const sqlf_index_t *
s_bf_index(sqlf_front_t *self, s_req_t *r, const sqlf_table_t **t)
{
    *t = sqlf_catalog_find(self->cat, r->cur->ddl_name);
    for (uint32_t i = 0; *t && i < (*t)->nidx; i++)
        if ((*t)->idx[i].no == r->cur->ix_no)
            return &(*t)->idx[i];
    s_fail(self, r, HB_ABORTED, "40001",
           "the table or index changed while CREATE INDEX was filling it");
    return NULL;
}

/* Submits the next batch of entries, or the DDL that marks the index
 * ready when every partition is done; parks r (or fails it). */
static void
s_backfill_step(sqlf_front_t *self, s_req_t *r)
{
    s_session_t *sess = r->sess;
    const sqlf_table_t *t;
    const sqlf_index_t *ix = s_bf_index(self, r, &t);
    if (!ix)
        return;
    hb_sqlerr_t err = {{0}, {0}};
    while (r->ix_phase == 1) {
        if (r->ix_part >= self->nparts) {
            r->ix_phase = 2;
            break;
        }
        sqlf_source_t src = {.table = t, .partition = -1, .has_fixed = true,
                             .fixed = r->ix_part};
        if (r->ix_cursor_len) {
            memcpy(src.start.buf, r->ix_cursor, r->ix_cursor_len);
            src.start.len = r->ix_cursor_len;
        } else {
            hb_key_init(&src.start, t->id);
        }
        hb_key_init(&src.end, t->id + 1);
        msgpack_sbuffer ops;
        msgpack_sbuffer_init(&ops);
        s_bf_t b = {r, t, ix, &ops, 0};
        r->ix_batch = 0;
        uint64_t ep;
        hb_rc_t rc = s_read(self, sess, &src, false, s_bf_row, &b, &ep, &err);
        if (rc != HB_OK && rc != HB_BUSY) {
            msgpack_sbuffer_destroy(&ops);
            if (strcmp(err.sqlstate, "XXCAT") == 0 && r->ix_retries++ < S_BACKFILL_RETRIES) {
                s_reload(self, self->read_catver_epoch);
                if (!(ix = s_bf_index(self, r, &t)))
                    return;
                continue; /* the same batch on the newer catalog */
            }
            s_fail_err(self, r, &err);
            return;
        }
        if (r->ix_batch == 0) {
            msgpack_sbuffer_destroy(&ops);
            r->ix_part++;
            r->ix_cursor_len = 0;
            continue;
        }
        rc = s_submit_exec(self, r, &ops, b.n);
        msgpack_sbuffer_destroy(&ops);
        if (rc != HB_OK) {
            s_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                   hb_client_last_error(self->cli));
            return;
        }
        s_park(self, r);
        return;
    }
    /* Every existing row has its entry, and every write since the DDL
     * keeps them: reads may use the index now. */
    sqlf_table_t nt = *t;
    for (uint32_t i = 0; i < nt.nidx; i++)
        if (nt.idx[i].no == r->cur->ix_no)
            nt.idx[i].ready = true;
    msgpack_sbuffer def;
    msgpack_packer pk;
    msgpack_sbuffer_init(&def);
    msgpack_packer_init(&pk, &def, msgpack_sbuffer_write);
    sqlf_table_pack(&pk, &nt);
    hb_val_t args[4] = {hb_val_int(sqlf_catalog_version(self->cat)), hb_val_int(HB_SQLDDL_ALTER),
                        hb_val_str(nt.name, (uint32_t)strlen(nt.name)), {.type = HB_VAL_BIN}};
    args[3].u.s.ptr = (const uint8_t *)def.data;
    args[3].u.s.len = (uint32_t)def.size;
    hb_rc_t rc = hb_client_submit(self->cli, "sql.ddl", args, 4, &r->txn_req);
    msgpack_sbuffer_destroy(&def);
    if (rc != HB_OK) {
        s_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
               hb_client_last_error(self->cli));
        return;
    }
    s_park(self, r);
}

/* A result for a request in the middle of CREATE INDEX. */
static void
s_backfill_result(sqlf_front_t *self, s_req_t *r, const hb_result_t *res)
{
    s_session_t *sess = r->sess;
    const char *msg = res->msg ? res->msg : "";
    r->txn_req = 0;
    if (res->epoch > sess->epoch)
        sess->epoch = res->epoch;
    if (res->rc == HB_OK || res->rc == HB_EXISTS) {
        r->ix_retries = 0;
        if (r->ix_phase == 1) {
            self->index_backfilled += r->ix_batch;
            memcpy(r->ix_cursor, r->ix_last, r->ix_last_len);
            r->ix_cursor[r->ix_last_len] = 0; /* just after the last row */
            r->ix_cursor_len = r->ix_last_len + 1;
            s_backfill_step(self, r);
            return;
        }
        /* Ready. */
        self->cat_reloads++;
        atomic_fetch_add(&s_catalog_gen, 1);
        self->catalog_gen = atomic_load(&s_catalog_gen);
        s_reload(self, res->epoch);
        r->ix_phase = 0;
        s_group_tag(r, r->cur->tag, res->epoch);
        s_cur_drop(r);
        r->next++;
        s_advance(self, r);
        return;
    }
    bool again = strncmp(msg, "40001", 5) == 0 || strncmp(msg, "XXCAT", 5) == 0;
    if (again && r->ix_retries++ < S_BACKFILL_RETRIES) {
        /* A row changed under the batch, or the catalog moved: read again. */
        if (strncmp(msg, "XXCAT", 5) == 0) {
            self->cat_reloads++;
            s_reload(self, res->epoch);
        }
        s_backfill_step(self, r);
        return;
    }
    s_fail(self, r, res->rc, again ? "40001" : "XX000", "CREATE INDEX: %s", msg);
}

/* ------------------------------------------------------------------ */
/* ALTER TABLE ADD PRIMARY KEY: copying the rows                        */
/* ------------------------------------------------------------------ */

/* The table is frozen while it rewrites (every write answers 55006, and
 * one planned before the DDL aborts XXCAT), so the copy needs no CHECKs:
 * each old row becomes one INSERT into the new id (conflict: 23505), and
 * the INSERTs are grouped by the partition of their new key, so every
 * batch is a single-partition transaction of at most max_locks - 1 keys.
 * Up to S_LD_INFLIGHT batches are in flight at once. */

#define S_RW_PAGE     10000
#define S_RW_RETRIES  100

/* Batches of sql.exec ops, one bucket per partition, so that every batch
 * is a single-partition transaction: ALTER TABLE ADD PRIMARY KEY's copy
 * and INSERT ... SELECT in batches both fill buckets, seal a full one into
 * a FIFO of ready batches, and send those while a slot of S_LD_INFLIGHT
 * is free. The first failure is kept ("SSSSS text") and ends the load. */
#define S_LD_INFLIGHT 8

typedef struct {
    uint64_t txn;        /* hb_client request id; 0: free slot */
    msgpack_sbuffer ops; /* its ops, kept for a retry after XXCAT */
    uint32_t n;
    int retries;
} s_ld_batch_t;

typedef struct {
    uint32_t nparts;
    msgpack_sbuffer *bucket; /* per partition: ops not yet sent */
    uint32_t *bucket_n;
    s_ld_batch_t fly[S_LD_INFLIGHT];
    uint32_t nfly;
    msgpack_sbuffer *ready; /* full batches waiting for a free slot (FIFO) */
    uint32_t *ready_n;
    uint32_t nready, capready;
    uint32_t batch_ops;      /* ops per batch */
    char failmsg[512];       /* "SSSSS text" of the first failure, or "" */
    hb_rc_t failrc;
} s_ld_t;

static void
s_ld_init(s_ld_t *ld, uint32_t nparts, uint32_t batch_ops)
{
    ld->nparts = nparts;
    ld->batch_ops = batch_ops;
    ld->bucket = hb_calloc(nparts, sizeof *ld->bucket);
    ld->bucket_n = hb_calloc(nparts, sizeof *ld->bucket_n);
    for (uint32_t p = 0; p < nparts; p++)
        msgpack_sbuffer_init(&ld->bucket[p]);
}

static void
s_ld_clear(s_ld_t *ld)
{
    for (uint32_t i = 0; i < S_LD_INFLIGHT; i++)
        msgpack_sbuffer_destroy(&ld->fly[i].ops);
    for (uint32_t p = 0; ld->bucket && p < ld->nparts; p++)
        msgpack_sbuffer_destroy(&ld->bucket[p]);
    hb_free(ld->bucket);
    hb_free(ld->bucket_n);
    for (uint32_t i = 0; i < ld->nready; i++)
        msgpack_sbuffer_destroy(&ld->ready[i]);
    hb_free(ld->ready);
    hb_free(ld->ready_n);
}

/* Returns the batch in flight as request id, or NULL. */
static s_ld_batch_t *
s_ld_batch(s_ld_t *ld, uint64_t id)
{
    for (uint32_t i = 0; id && i < S_LD_INFLIGHT; i++)
        if (ld->fly[i].txn == id)
            return &ld->fly[i];
    return NULL;
}

/* Keeps the first failure (msg without a SQLSTATE becomes XX000). */
static void
s_ld_fail(s_ld_t *ld, hb_rc_t rc, const char *msg)
{
    if (ld->failmsg[0])
        return;
    size_t len = strlen(msg);
    bool has_state = len >= 6 && msg[5] == ' ';
    snprintf(ld->failmsg, sizeof ld->failmsg, has_state ? "%s" : "XX000 %s", msg);
    ld->failrc = rc ? rc : HB_ABORTED;
}

/* Submits (or resubmits) batch b. */
static hb_rc_t
s_ld_submit(sqlf_front_t *self, s_ld_batch_t *b)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, b->n);
    msgpack_sbuffer_write(&sb, b->ops.data, b->ops.size);
    hb_val_t args[2] = {hb_val_int(sqlf_catalog_version(self->cat)),
                        {.type = HB_VAL_BIN}};
    args[1].u.s.ptr = (const uint8_t *)sb.data;
    args[1].u.s.len = (uint32_t)sb.size;
    hb_rc_t rc = hb_client_submit(self->cli, "sql.exec", args, 2, &b->txn);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Moves bucket p to the end of the ready queue. */
static void
s_ld_seal(s_ld_t *ld, uint32_t p)
{
    if (ld->nready == ld->capready) {
        ld->capready = ld->capready ? ld->capready * 2 : 16;
        ld->ready = hb_realloc(ld->ready, ld->capready * sizeof *ld->ready);
        ld->ready_n = hb_realloc(ld->ready_n, ld->capready * sizeof *ld->ready_n);
    }
    ld->ready[ld->nready] = ld->bucket[p];
    ld->ready_n[ld->nready++] = ld->bucket_n[p];
    msgpack_sbuffer_init(&ld->bucket[p]);
    ld->bucket_n[p] = 0;
}

/* Seals every bucket that holds ops; returns whether there was one. */
static bool
s_ld_seal_all(s_ld_t *ld)
{
    bool any = false;
    for (uint32_t p = 0; p < ld->nparts; p++) {
        if (ld->bucket_n[p]) {
            s_ld_seal(ld, p);
            any = true;
        }
    }
    return any;
}

/* Sends ready batches while a slot is free; a batch that cannot be
 * submitted fails the load. */
static void
s_ld_send(sqlf_front_t *self, s_ld_t *ld)
{
    while (ld->nready && ld->nfly < S_LD_INFLIGHT && !ld->failmsg[0]) {
        s_ld_batch_t *b = NULL;
        for (uint32_t i = 0; i < S_LD_INFLIGHT && !b; i++)
            if (!ld->fly[i].txn)
                b = &ld->fly[i];
        msgpack_sbuffer_destroy(&b->ops);
        b->ops = ld->ready[0];
        b->n = ld->ready_n[0];
        b->retries = 0;
        ld->nready--;
        memmove(ld->ready, ld->ready + 1, ld->nready * sizeof *ld->ready);
        memmove(ld->ready_n, ld->ready_n + 1, ld->nready * sizeof *ld->ready_n);
        ld->nfly++;
        if (s_ld_submit(self, b) != HB_OK) {
            b->txn = 0;
            ld->nfly--;
            s_ld_fail(ld, HB_INVALID, "XX000 cannot submit a batch");
        }
    }
}

typedef struct s_rw {
    char name[SQLF_NAME_MAX];
    uint32_t old_id, new_id;
    uint32_t ncols; /* columns of the old rows (with the row id) */
    uint32_t npk;   /* the new key's columns */
    uint32_t pk[SQLF_MAX_PK];
    sqlf_table_t final; /* the definition once done (cols: colbuf) */
    sqlf_col_t *colbuf;
    sqlf_table_t undo; /* the definition if it fails (cols: undobuf) */
    sqlf_col_t *undobuf;
    uint32_t part; /* old partition being read */
    uint8_t cursor[HB_KEY_MAX + 1];
    uint32_t cursor_len;
    bool read_done;
    s_ld_t ld;  /* the copy's batches (a failure: undo, then answer it) */
    int phase; /* 0 copying, 1 final DDL, 2 undo DDL */
    uint64_t ddl_txn;
} s_rw_t;

static void
s_rw_free(s_rw_t **rw_p)
{
    s_rw_t *rw = *rw_p;
    if (!rw)
        return;
    s_ld_clear(&rw->ld);
    for (uint32_t c = 0; rw->colbuf && c < rw->ncols; c++) {
        hb_free(rw->colbuf[c].def);
        hb_free(rw->undobuf[c].def);
    }
    hb_free(rw->colbuf);
    hb_free(rw->undobuf);
    hb_free(rw);
    *rw_p = NULL;
}

static bool
s_rw_owns(s_rw_t *rw, uint64_t id)
{
    if (!rw || id == 0)
        return false;
    return rw->ddl_txn == id || s_ld_batch(&rw->ld, id) != NULL;
}

static void s_rw_pump(sqlf_front_t *self, s_req_t *r);

static void
s_rw_start(sqlf_front_t *self, s_req_t *r)
{
    const sqlf_table_t *t = sqlf_catalog_find(self->cat, r->cur->ddl_name);
    if (!t || !t->rw_id || !t->rowid) {
        s_fail(self, r, HB_ABORTED, "40001",
               "the table changed while ALTER TABLE started");
        return;
    }
    s_rw_t *rw = hb_calloc(1, sizeof *rw);
    r->rw = rw;
    snprintf(rw->name, sizeof rw->name, "%s", t->name);
    rw->old_id = t->id;
    rw->new_id = t->rw_id;
    rw->ncols = t->ncols;
    rw->npk = t->rw_npk;
    memcpy(rw->pk, t->rw_pk, sizeof rw->pk);
    /* After: the visible columns, keyed by the new key. */
    rw->final = *t;
    rw->colbuf = hb_calloc(t->ncols, sizeof *rw->colbuf);
    memcpy(rw->colbuf, t->cols, t->ncols * sizeof *rw->colbuf);
    rw->final.cols = rw->colbuf;
    rw->final.ncols = t->ncols - 1;
    rw->final.rowid = false;
    rw->final.id_pinned = false;
    rw->final.rw_id = 0;
    rw->final.id = t->rw_id;
    rw->final.npk = t->rw_npk;
    memcpy(rw->final.pk, t->rw_pk, sizeof rw->final.pk);
    rw->final.npart = t->rw_npk;
    for (uint32_t k = 0; k < rw->npk; k++)
        rw->colbuf[rw->pk[k]].not_null = true;
    /* If it fails: as before, the rows under the old id. */
    rw->undo = *t;
    rw->undobuf = hb_calloc(t->ncols, sizeof *rw->undobuf);
    memcpy(rw->undobuf, t->cols, t->ncols * sizeof *rw->undobuf);
    rw->undo.cols = rw->undobuf;
    rw->undo.rw_id = 0;
    rw->undo.rw_npk = 0;
    rw->undo.id_pinned = true;
    /* The defaults' bytes belong to the catalog, which reloads free. */
    for (uint32_t c = 0; c < t->ncols; c++) {
        if (t->cols[c].def) {
            rw->colbuf[c].def = hb_malloc(t->cols[c].deflen ? t->cols[c].deflen : 1);
            memcpy(rw->colbuf[c].def, t->cols[c].def, t->cols[c].deflen);
            rw->undobuf[c].def = hb_malloc(t->cols[c].deflen ? t->cols[c].deflen : 1);
            memcpy(rw->undobuf[c].def, t->cols[c].def, t->cols[c].deflen);
        }
    }
    uint32_t locks = self->max_locks > 2 ? self->max_locks - 2 : 1;
    s_ld_init(&rw->ld, self->nparts, locks < HB_SQL_MAX_OPS ? locks : HB_SQL_MAX_OPS);
    s_rw_pump(self, r);
}

/* Adds the INSERT of one old row into its bucket. */
static hb_rc_t
s_rw_row(sqlf_front_t *self, s_rw_t *rw, const hb_scan_row_t *sr, hb_sqlerr_t *err)
{
    hb_val_t row[HB_SQL_MAX_COLS];
    uint32_t n = 0;
    if (hb_row_decode(sr->val, sr->vlen, row, HB_SQL_MAX_COLS, &n) != HB_OK)
        return hb_sqlerr_set(err, "XX001", "corrupt row in table \"%s\"", rw->name);
    for (uint32_t c = n; c < rw->ncols; c++)
        row[c] = hb_val_nil();
    hb_key_t key;
    hb_key_init(&key, rw->new_id);
    for (uint32_t k = 0; k < rw->npk; k++) {
        const hb_val_t *v = &row[rw->pk[k]];
        if (v->type == HB_VAL_NIL)
            return hb_sqlerr_set(err, "23502",
                                 "column \"%s\" of relation \"%s\" contains null values",
                                 rw->final.cols[rw->pk[k]].name, rw->name);
        if (!s_key_put_val(&key, v))
            return hb_sqlerr_set(err, "54000",
                                 "primary key is too long or of an unsupported "
                                 "type");
    }
    msgpack_sbuffer rsb;
    msgpack_packer rpk;
    msgpack_sbuffer_init(&rsb);
    msgpack_packer_init(&rpk, &rsb, msgpack_sbuffer_write);
    if (hb_row_pack(&rpk, row, rw->ncols - 1) != HB_OK) {
        msgpack_sbuffer_destroy(&rsb);
        return hb_sqlerr_set(err, "XX001", "a row of \"%s\" cannot be stored", rw->name);
    }
    uint32_t p = hb_key_partition(key.buf, key.len, self->nparts);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &rw->ld.bucket[p], msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 9);
    msgpack_pack_uint8(&pk, HB_SQLOP_INSERT);
    hb_mp_pack_bin(&pk, key.buf, key.len);
    msgpack_pack_uint32(&pk, (uint32_t)key.len);
    hb_mp_pack_cstr(&pk, rw->name);
    hb_mp_pack_bin(&pk, rsb.data, rsb.size);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_nil(&pk);
    hb_mp_pack_bool(&pk, false);
    msgpack_sbuffer_destroy(&rsb);
    rw->ld.bucket_n[p]++;
    self->rw_rows++;
    if (rw->ld.bucket_n[p] >= rw->ld.batch_ops || rw->ld.bucket[p].size > self->max_value / 2)
        s_ld_seal(&rw->ld, p);
    return HB_OK;
}

/* Reads the next page of old rows into the buckets. */
static hb_rc_t
s_rw_read(sqlf_front_t *self, s_req_t *r, hb_sqlerr_t *err)
{
    s_rw_t *rw = r->rw;
    uint8_t start[HB_KEY_MAX + 1];
    size_t slen;
    hb_key_t end;
    hb_key_init(&end, rw->old_id + 1);
    if (rw->cursor_len) {
        memcpy(start, rw->cursor, rw->cursor_len);
        slen = rw->cursor_len;
    } else {
        hb_key_t k;
        hb_key_init(&k, rw->old_id);
        memcpy(start, k.buf, k.len);
        slen = k.len;
    }
    int64_t give_up = s_now_ms() + S_READ_WAIT_MS;
    hb_scan_result_t *res = NULL;
    for (;;) {
        hb_rc_t rc = hb_client_scan(self->cli, (uint16_t)rw->part, start, slen, end.buf,
                                    end.len, S_RW_PAGE, 5000, &res);
        if (rc != HB_OK)
            return hb_sqlerr_set(err, "08006", "read of partition %u failed: %s",
                                 rw->part, hb_rc_str(rc));
        if (res->rc != HB_OK) {
            rc = hb_sqlerr_set(err, "XX000", "read of partition %u failed: %s", rw->part,
                               res->msg);
            hb_scan_result_destroy(&res);
            return rc;
        }
        /* The copy reads after the DDL that froze the table. */
        if (res->epoch >= r->sess->epoch)
            break;
        hb_scan_result_destroy(&res);
        if (s_now_ms() > give_up)
            return hb_sqlerr_set(err, "57014", "partition %u is behind", rw->part);
        usleep(500);
    }
    hb_rc_t rc = HB_OK;
    for (uint32_t i = 0; i < res->nrows && rc == HB_OK; i++)
        rc = s_rw_row(self, rw, &res->rows[i], err);
    if (rc == HB_OK && res->nrows == S_RW_PAGE) {
        const hb_scan_row_t *last = &res->rows[res->nrows - 1];
        memcpy(rw->cursor, last->key, last->klen);
        rw->cursor[last->klen] = 0;
        rw->cursor_len = last->klen + 1;
    } else if (rc == HB_OK) {
        rw->part++;
        rw->cursor_len = 0;
        rw->read_done = rw->part >= self->nparts;
    }
    hb_scan_result_destroy(&res);
    return rc;
}

/* Submits a definition of the table (the final one or the undo) with
 * sql.ddl ALTER. */
static hb_rc_t
s_rw_ddl(sqlf_front_t *self, s_rw_t *rw, const sqlf_table_t *t)
{
    msgpack_sbuffer def;
    msgpack_packer pk;
    msgpack_sbuffer_init(&def);
    msgpack_packer_init(&pk, &def, msgpack_sbuffer_write);
    sqlf_table_pack(&pk, t);
    hb_val_t args[4] = {hb_val_int(sqlf_catalog_version(self->cat)),
                        hb_val_int(HB_SQLDDL_ALTER),
                        hb_val_str(rw->name, (uint32_t)strlen(rw->name)),
                        {.type = HB_VAL_BIN}};
    args[3].u.s.ptr = (const uint8_t *)def.data;
    args[3].u.s.len = (uint32_t)def.size;
    hb_rc_t rc = hb_client_submit(self->cli, "sql.ddl", args, 4, &rw->ddl_txn);
    msgpack_sbuffer_destroy(&def);
    return rc;
}

/* Moves the copy on as far as it can without waiting: fills free batch
 * slots, then (everything sent and answered) the final or undo DDL.
 * Parks r when something is in flight. */
static void
s_rw_pump(sqlf_front_t *self, s_req_t *r)
{
    s_rw_t *rw = r->rw;
    hb_sqlerr_t err = {{0}, {0}};
    s_ld_t *ld = &rw->ld;
    while (!ld->failmsg[0] && rw->phase == 0) {
        if (ld->nready) {
            if (ld->nfly == S_LD_INFLIGHT)
                break;
            s_ld_send(self, ld);
            continue;
        }
        if (rw->read_done) {
            if (s_ld_seal_all(ld))
                continue;
            if (ld->nfly)
                break;
            rw->phase = 1; /* every row is in: the new definition */
            break;
        }
        if (s_rw_read(self, r, &err) != HB_OK) {
            char m[sizeof ld->failmsg];
            snprintf(m, sizeof m, "%s %s", err.sqlstate, err.msg);
            s_ld_fail(ld, HB_ABORTED, m);
        }
    }
    if (ld->failmsg[0] && rw->phase == 0 && ld->nfly == 0)
        rw->phase = 2;
    if ((rw->phase == 1 || rw->phase == 2) && !rw->ddl_txn) {
        if (s_rw_ddl(self, rw, rw->phase == 1 ? &rw->final : &rw->undo) != HB_OK) {
            s_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                   hb_client_last_error(self->cli));
            return;
        }
    }
    s_park(self, r);
}

/* A result for a request in ALTER TABLE ADD PRIMARY KEY. */
static void
s_rw_result(sqlf_front_t *self, s_req_t *r, const hb_result_t *res)
{
    s_rw_t *rw = r->rw;
    s_session_t *sess = r->sess;
    const char *msg = res->msg ? res->msg : "";
    bool ok = res->rc == HB_OK || res->rc == HB_EXISTS;
    if (res->epoch > sess->epoch)
        sess->epoch = res->epoch;
    if (rw->ddl_txn && res->req_id == rw->ddl_txn) {
        rw->ddl_txn = 0;
        if (ok || strncmp(msg, "XXCAT", 5) == 0) {
            self->cat_reloads++;
            atomic_fetch_add(&s_catalog_gen, 1);
            self->catalog_gen = atomic_load(&s_catalog_gen);
            s_reload(self, res->epoch);
        }
        if (!ok) {
            if (strncmp(msg, "XXCAT", 5) == 0 && rw->ld.fly[0].retries++ < S_RW_RETRIES) {
                const sqlf_table_t *t = sqlf_catalog_find(self->cat, rw->name);
                if (t && t->rw_id == rw->new_id) {
                    s_rw_pump(self, r); /* the same DDL at the new version */
                    return;
                }
            }
            s_fail(self, r, res->rc, "XX000", "ALTER TABLE: %s", msg);
            return;
        }
        if (rw->phase == 2) {
            char m[sizeof rw->ld.failmsg];
            snprintf(m, sizeof m, "%s", rw->ld.failmsg);
            s_finish(self, r, rw->ld.failrc, m);
            return;
        }
        s_group_tag(r, "ALTER TABLE", res->epoch);
        s_rw_free(&r->rw);
        s_cur_drop(r);
        r->next++;
        r->cat_retries = 0;
        s_advance(self, r);
        return;
    }
    s_ld_batch_t *b = s_ld_batch(&rw->ld, res->req_id);
    if (!b) {
        s_park(self, r);
        return;
    }
    b->txn = 0;
    if (!ok && strncmp(msg, "XXCAT", 5) == 0 && !rw->ld.failmsg[0] &&
        b->retries < S_RW_RETRIES) {
        /* Another DDL committed (any table's): go on at the new version
         * if this table is still the one being rewritten. */
        self->cat_reloads++;
        s_reload(self, res->epoch);
        const sqlf_table_t *t = sqlf_catalog_find(self->cat, rw->name);
        if (t && t->rw_id == rw->new_id) {
            b->retries++;
            if (s_ld_submit(self, b) == HB_OK) {
                s_park(self, r);
                return;
            }
        }
        msg = "40001 the table changed while ALTER TABLE was copying it";
    }
    rw->ld.nfly--;
    if (!ok) {
        s_ld_fail(&rw->ld, res->rc, msg);
    }
    s_rw_pump(self, r);
}

/* ------------------------------------------------------------------ */
/* INSERT ... SELECT in batches                                         */
/* ------------------------------------------------------------------ */

/* An INSERT ... SELECT whose rows come from generate_series (nothing read
 * to validate) and are more than one transaction takes loads like COPY
 * FROM STDIN: in batches, each one single-partition sql.exec of at most
 * max_locks - 2 keys (a row's INSERT and its index entries), up to
 * S_LD_INFLIGHT at once, committed as they go and NOT atomically, also
 * inside a BEGIN block (whose own writes stay for its COMMIT). The first
 * failure stops it: batches not yet sent are dropped, the ones committed
 * stay, and the statement answers the error once none is in flight. Rows
 * are made a chunk at a time (streamed from the series, or taken from
 * the query's finished rows when it sorts or groups). */

#define S_BULK_ROWS     2000 /* more rows than this load in batches */
#define S_BULK_CHUNK    4096 /* rows made per step */
#define S_BULK_RETRIES  100  /* resubmits of a batch after XXCAT */

typedef struct s_bulk {
    sqlf_table_t t; /* the target's definition, copied (cols: cols) */
    sqlf_col_t *cols;
    bool stream;          /* rows from the series: values next..count */
    uint64_t next, count; /* stream: the next value's index; else the next row's */
    uint64_t skip, left;  /* stream: OFFSET still to skip, LIMIT left (UINT64_MAX none) */
    hb_val_t **rows;      /* !stream: the query's rows (values in the request's arena) */
    bool done;            /* every row is made */
    s_ld_t ld;            /* its batches (keys per batch: ld.batch_ops) */
    uint64_t inserted;    /* rows the committed batches inserted */
    uint64_t epoch;       /* the newest commit */
} s_bulk_t;

static void
s_bulk_free(s_bulk_t **bulk_p)
{
    s_bulk_t *bk = *bulk_p;
    if (!bk)
        return;
    s_ld_clear(&bk->ld);
    for (uint32_t c = 0; bk->cols && c < bk->t.ncols; c++)
        hb_free(bk->cols[c].def);
    hb_free(bk->cols);
    hb_free(bk->rows);
    hb_free(bk);
    *bulk_p = NULL;
}

static bool
s_bulk_owns(s_bulk_t *bk, uint64_t id)
{
    return bk && s_ld_batch(&bk->ld, id) != NULL;
}

/* Whether INSERT ... SELECT st may load in batches: its rows come from
 * generate_series, outside a procedure body (whose CALL is atomic),
 * without RETURNING, and its index entries can be made blind (no ON
 * CONFLICT into a table with indexes). */
static bool
s_bulk_ok(const s_req_t *r, const sqlf_stmt_t *st)
{
    const sqlf_table_t *t = st->ins_table;
    return st->sub && st->sub->src.series && !r->depth && !st->returning && t &&
           (t->nidx == 0 || st->ins_conflict == 0) && !(r->b->in_block && r->b->implicit);
}

/* Returns the most rows into t one transaction takes (more load in
 * batches). */
static uint64_t
s_bulk_threshold(const sqlf_front_t *self, const sqlf_table_t *t)
{
    uint64_t keys =
        self->max_locks > self->nparts + 2 ? self->max_locks - self->nparts - 2 : 1;
    uint64_t rows = keys / (1 + t->nidx);
    return rows < S_BULK_ROWS ? rows : S_BULK_ROWS;
}

static hb_rc_t
s_count_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
            uint32_t rawlen, const hb_val_t *row, uint32_t ncols)
{
    (void)key;
    (void)klen;
    (void)raw;
    (void)rawlen;
    (void)row;
    (void)ncols;
    (*(uint64_t *)arg)++;
    return HB_OK;
}

/* The rows q (over a series, neither sorted nor grouped) gives: the
 * values that pass its WHERE, after OFFSET, at most LIMIT. */
static hb_rc_t
s_series_rows(const sqlf_stmt_t *q, uint64_t *n, hb_sqlerr_t *err)
{
    uint64_t pass = q->src.ser_count;
    if (q->src.where.p) {
        pass = 0;
        hb_rc_t rc = s_series_read(&q->src, s_count_row, &pass, err);
        if (rc)
            return rc;
    }
    pass = pass > (uint64_t)q->offset ? pass - (uint64_t)q->offset : 0;
    if (q->limit >= 0 && (uint64_t)q->limit < pass)
        pass = (uint64_t)q->limit;
    *n = pass;
    return HB_OK;
}

/* Adds the INSERT of one row (n values for the target columns) and its
 * index entries to the bucket of its partition. */
static hb_rc_t
s_bulk_row(sqlf_front_t *self, s_bulk_t *bk, sqlf_stmt_t *st, const hb_val_t *vals,
           uint32_t n, hb_arena_t **tmp, hb_sqlerr_t *err)
{
    st->ops.size = 0;
    st->nops = 0;
    hb_rc_t rc = sqlf_stmt_insert_row(st, vals, n, hb_arena_alloc, tmp, err);
    if (rc)
        return rc;
    hb_sqlop_head_t h;
    if (hb_sqlop_head((const uint8_t *)st->ops.data, st->ops.size, &h) != HB_OK)
        return hb_sqlerr_set(err, "XX000", "malformed insert op");
    uint32_t p = hb_key_partition(h.key, h.plen, self->nparts);
    msgpack_sbuffer_write(&bk->ld.bucket[p], st->ops.data, st->ops.size);
    bk->ld.bucket_n[p]++;
    if (bk->t.nidx) {
        /* The row is new (an existing key aborts the batch): its entries
         * are only added. */
        hb_mp_reader_t rd;
        uint32_t nf = 0, rlen = 0, ncols = 0;
        const uint8_t *raw = NULL;
        hb_val_t row[HB_SQL_MAX_COLS];
        hb_mp_reader_init(&rd, st->ops.data, st->ops.size);
        if (hb_mp_read_array(&rd, &nf) != HB_OK || nf < 5 || hb_mp_skip(&rd) != HB_OK ||
            hb_mp_skip(&rd) != HB_OK || hb_mp_skip(&rd) != HB_OK ||
            hb_mp_skip(&rd) != HB_OK || hb_mp_read_bin(&rd, &raw, &rlen) != HB_OK ||
            hb_row_decode(raw, rlen, row, HB_SQL_MAX_COLS, &ncols) != HB_OK)
            return hb_sqlerr_set(err, "XX000", "malformed insert op");
        msgpack_packer pk;
        msgpack_packer_init(&pk, &bk->ld.bucket[p], msgpack_sbuffer_write);
        for (uint32_t x = 0; x < bk->t.nidx; x++) {
            hb_key_t ek;
            if (!sqlf_index_key(&bk->t, &bk->t.idx[x], row, ncols, &ek))
                continue;
            msgpack_pack_array(&pk, 5);
            msgpack_pack_uint8(&pk, HB_SQLOP_IPUT);
            hb_mp_pack_bin(&pk, ek.buf, ek.len);
            msgpack_pack_uint32(&pk, 0);
            hb_mp_pack_bin(&pk, h.key, h.plen);
            hb_mp_pack_bin(&pk, h.key, h.klen);
            bk->ld.bucket_n[p]++;
        }
    }
    if (bk->ld.bucket_n[p] + 1 + bk->t.nidx > bk->ld.batch_ops ||
        bk->ld.bucket[p].size > self->max_value / 2)
        s_ld_seal(&bk->ld, p);
    return HB_OK;
}

/* Makes up to S_BULK_CHUNK more rows into the buckets. */
static hb_rc_t
s_bulk_make(sqlf_front_t *self, s_req_t *r, hb_sqlerr_t *err)
{
    s_bulk_t *bk = r->bulk;
    sqlf_stmt_t *st = r->cur;
    const sqlf_stmt_t *q = st->sub;
    hb_arena_t *tmp = NULL;
    hb_val_t *out = hb_malloc((q->nout ? q->nout : 1) * sizeof *out);
    hb_rc_t rc = HB_OK;
    for (uint32_t made = 0; made < S_BULK_CHUNK && rc == HB_OK;) {
        if (bk->next == bk->count || (bk->stream && bk->left == 0)) {
            bk->done = true;
            break;
        }
        const hb_val_t *vals;
        if (bk->stream) {
            hb_val_t in = hb_val_int(s_series_val(&q->src, bk->next++));
            hb_expr_env_t env = {.row = &in,
                                 .ncols = 1,
                                 .alloc = hb_arena_alloc,
                                 .alloc_arg = &tmp,
                                 .err = err};
            bool pass = true;
            if (q->src.where.p && (rc = hb_expr_test(q->src.where.p, q->src.where.len,
                                                     &env, &pass)) != HB_OK)
                break;
            if (!pass)
                continue;
            if (bk->skip) {
                bk->skip--;
                continue;
            }
            if (bk->left != UINT64_MAX)
                bk->left--;
            for (uint32_t c = 0; c < q->nout && rc == HB_OK; c++)
                if (hb_expr_eval(q->out[c].p, q->out[c].len, &env, &out[c]) != HB_OK)
                    rc = HB_INVALID;
            if (rc)
                break;
            vals = out;
        } else {
            vals = bk->rows[bk->next++];
        }
        rc = s_bulk_row(self, bk, st, vals, q->nout, &tmp, err);
        made++;
    }
    hb_free(out);
    hb_arena_free(&tmp);
    return rc;
}

/* Appends the statement's group: in the open block as a statement of its
 * own (its groups come in order), else to the reply. */
static void
s_bulk_group(s_req_t *r, const char *tag, uint64_t epoch)
{
    if (!r->b->in_block) {
        s_group_tag(r, tag, epoch);
        return;
    }
    sqlf_stmt_t none;
    memset(&none, 0, sizeof none);
    none.kind = SQLF_ST_EMPTY;
    s_blockstmt_t *b = s_block_add(r, &none, r->b->block_nops);
    s_swap_vals(r, b);
    s_group_tag(r, tag, epoch);
    s_swap_vals(r, b);
}

/* Moves the load on as far as it can without waiting: sends ready
 * batches into free slots, makes rows when none is ready; parks r while
 * batches are in flight, else answers (the count, or the failure). */
static void
s_bulk_pump(sqlf_front_t *self, s_req_t *r)
{
    s_bulk_t *bk = r->bulk;
    hb_sqlerr_t err = {{0}, {0}};
    s_ld_t *ld = &bk->ld;
    while (!ld->failmsg[0]) {
        if (ld->nready) {
            if (ld->nfly == S_LD_INFLIGHT)
                break;
            s_ld_send(self, ld);
            continue;
        }
        if (bk->done) {
            if (!s_ld_seal_all(ld))
                break;
            continue;
        }
        if (s_bulk_make(self, r, &err) != HB_OK) {
            char m[sizeof ld->failmsg];
            snprintf(m, sizeof m, "%s %s", err.sqlstate[0] ? err.sqlstate : "XX000",
                     err.msg);
            s_ld_fail(ld, HB_INVALID, m);
        }
    }
    if (bk->ld.nfly) {
        s_park(self, r);
        return;
    }
    if (bk->ld.failmsg[0]) {
        char m[sizeof bk->ld.failmsg];
        snprintf(m, sizeof m, "%s", bk->ld.failmsg);
        s_finish(self, r, bk->ld.failrc, m);
        return;
    }
    char tag[48];
    snprintf(tag, sizeof tag, "INSERT 0 %" PRIu64, bk->inserted);
    s_bulk_group(r, tag, bk->epoch);
    s_bulk_free(&r->bulk);
    s_cur_drop(r);
    r->next++;
    r->cat_retries = 0;
    s_advance(self, r);
}

/* Starts loading INSERT ... SELECT st (taken) in batches: its rows are
 * rows[0..nrows) (the array is copied; NULL: streamed from the series). */
static void
s_bulk_start(sqlf_front_t *self, s_req_t *r, sqlf_stmt_t *st, hb_val_t **rows,
             uint64_t nrows)
{
    s_cur_set(r, st);
    s_bulk_t *bk = hb_calloc(1, sizeof *bk);
    r->bulk = bk;
    if (r->b->in_block)
        r->b->no_rerun = true;
    /* The definition is kept: the catalog may reload while it loads. */
    const sqlf_table_t *t = r->cur->ins_table;
    bk->t = *t;
    bk->cols = hb_calloc(t->ncols ? t->ncols : 1, sizeof *bk->cols);
    memcpy(bk->cols, t->cols, t->ncols * sizeof *bk->cols);
    for (uint32_t c = 0; c < t->ncols; c++) {
        if (t->cols[c].def) {
            bk->cols[c].def = hb_malloc(t->cols[c].deflen ? t->cols[c].deflen : 1);
            memcpy(bk->cols[c].def, t->cols[c].def, t->cols[c].deflen);
        }
    }
    bk->t.cols = bk->cols;
    r->cur->ins_table = &bk->t;
    const sqlf_stmt_t *q = r->cur->sub;
    if (rows) {
        bk->rows = hb_malloc((nrows ? nrows : 1) * sizeof *bk->rows);
        memcpy(bk->rows, rows, nrows * sizeof *bk->rows);
        bk->count = nrows;
    } else {
        bk->stream = true;
        bk->count = q->src.ser_count;
        bk->skip = (uint64_t)q->offset;
        bk->left = q->limit >= 0 ? (uint64_t)q->limit : UINT64_MAX;
    }
    uint32_t locks = self->max_locks > 2 ? self->max_locks - 2 : 1;
    uint32_t batch_ops = locks < HB_SQL_MAX_OPS ? locks : HB_SQL_MAX_OPS;
    s_ld_init(&bk->ld, self->nparts, batch_ops < 1 + t->nidx ? 1 + t->nidx : batch_ops);
    s_bulk_pump(self, r);
}

/* Counts the rows a batch's results say it inserted. */
static uint64_t
s_bulk_count(const hb_result_t *res)
{
    if (res->nvals != 1 || res->vals[0].type != HB_VAL_BIN)
        return 0;
    hb_mp_reader_t rd;
    uint32_t cnt = 0;
    uint64_t n = 0;
    hb_mp_reader_init(&rd, res->vals[0].u.s.ptr, res->vals[0].u.s.len);
    if (hb_mp_read_array(&rd, &cnt) != HB_OK)
        return 0;
    for (uint32_t i = 0; i < cnt; i++) {
        hb_val_t v;
        if (hb_mp_read_val(&rd, &v) != HB_OK)
            break;
        n += (v.type == HB_VAL_INT && v.u.i) || v.type == HB_VAL_BIN;
    }
    return n;
}

/* A batch's result. */
static void
s_bulk_result(sqlf_front_t *self, s_req_t *r, const hb_result_t *res)
{
    s_bulk_t *bk = r->bulk;
    s_session_t *sess = r->sess;
    const char *msg = res->msg ? res->msg : "";
    bool ok = res->rc == HB_OK || res->rc == HB_EXISTS;
    if (res->epoch > sess->epoch)
        sess->epoch = res->epoch;
    s_ld_batch_t *b = s_ld_batch(&bk->ld, res->req_id);
    if (!b) {
        s_park(self, r);
        return;
    }
    b->txn = 0;
    if (!ok && strncmp(msg, "XXCAT", 5) == 0 && !bk->ld.failmsg[0] &&
        b->retries < S_BULK_RETRIES) {
        /* Another DDL committed (any table's): the same batch at the new
         * version, if the table is still the one planned. */
        self->cat_reloads++;
        s_reload(self, res->epoch);
        const sqlf_table_t *t = sqlf_catalog_find(self->cat, bk->t.name);
        if (t && t->id == bk->t.id && t->ncols == bk->t.ncols && t->nidx == bk->t.nidx &&
            !t->rw_id) {
            b->retries++;
            if (s_ld_submit(self, b) == HB_OK) {
                s_park(self, r);
                return;
            }
        }
        msg = "40001 the table changed while INSERT ... SELECT was loading it";
    }
    bk->ld.nfly--;
    if (ok) {
        bk->inserted += s_bulk_count(res);
        if (res->epoch > bk->epoch)
            bk->epoch = res->epoch;
    } else {
        s_ld_fail(&bk->ld, res->rc, msg);
    }
    s_bulk_pump(self, r);
}

/* Decodes sql.exec's one result (a bin holding a msgpack array of one
 * value per op) into the request's arena; values borrow from res. */
static hb_val_t *
s_op_results(s_req_t *r, const hb_result_t *res, uint32_t *n)
{
    *n = 0;
    if (res->nvals != 1 || res->vals[0].type != HB_VAL_BIN)
        return NULL;
    hb_mp_reader_t rd;
    uint32_t cnt = 0;
    hb_mp_reader_init(&rd, res->vals[0].u.s.ptr, res->vals[0].u.s.len);
    if (hb_mp_read_array(&rd, &cnt) != HB_OK || cnt > HB_SQL_MAX_OPS)
        return NULL;
    hb_val_t *v = hb_arena_alloc(&r->arena, (cnt ? cnt : 1) * sizeof *v);
    for (uint32_t i = 0; i < cnt; i++)
        if (hb_mp_read_val(&rd, &v[i]) != HB_OK)
            return NULL;
    *n = cnt;
    return v;
}

/* A transaction's result arrived for r. */
static void
s_on_result(sqlf_front_t *self, s_req_t *r, const hb_result_t *res)
{
    if (r->ix_phase) {
        s_backfill_result(self, r, res);
        return;
    }
    if (r->rw) {
        s_rw_result(self, r, res);
        return;
    }
    if (r->bulk) {
        s_bulk_result(self, r, res);
        return;
    }
    s_session_t *sess = r->sess;
    hb_sqlerr_t err = {{0}, {0}};
    r->txn_req = 0;
    const char *msg = res->msg ? res->msg : "";
    if (res->rc == HB_OK || res->rc == HB_EXISTS) {
        if (res->epoch > sess->epoch)
            sess->epoch = res->epoch;
        uint32_t nops = 0;
        hb_val_t *ops = r->cur_live && r->cur->kind == SQLF_ST_DDL && !r->committing
                            ? NULL
                            : s_op_results(r, res, &nops);
        bool was_commit = r->committing;
        if (r->committing) {
            /* Results: the CHECKs' first, then the block's ops'. */
            uint32_t skip = r->b->block_nchecks < nops ? r->b->block_nchecks : nops;
            s_block_groups(r, ops ? ops + skip : NULL, nops - skip, res->epoch, &err);
            s_block_reset(r);
            r->committing = false;
            r->b->block_retries = 0;
            if (r->commit_tag)
                s_group_tag(r, "COMMIT", res->epoch);
            else if (res->epoch)
                r->epoch = res->epoch;
        } else if (r->cur_live && r->cur->kind == SQLF_ST_DDL) {
            self->cat_reloads++;
            atomic_fetch_add(&s_catalog_gen, 1);
            self->catalog_gen = atomic_load(&s_catalog_gen);
            s_reload(self, res->epoch);
            if (r->cur->ix_create) {
                /* The index exists (writes keep it from now on): fill it
                 * with the rows written before, then mark it ready. */
                r->ix_phase = 1;
                r->ix_part = 0;
                r->ix_cursor_len = 0;
                r->ix_retries = 0;
                s_backfill_step(self, r);
                return;
            }
            if (r->cur->rw_create) {
                /* The table is rewriting: copy its rows into the new id. */
                s_rw_start(self, r);
                return;
            }
            if (s_ddl_next(self, r))
                return;
            if (r->b->in_block && r->b->nblock == 0)
                r->b->have_catver =
                    false; /* DDL at a block's start: plan on the new catalog */
            s_group_tag(r, r->cur->tag, res->epoch);
        } else {
            s_write_group(r, r->cur, ops, nops, res->epoch, &err);
        }
        if (r->cur_live) {
            s_cur_drop(r);
        }
        if (!was_commit)
            r->next++; /* a commit moved past its statement when it was sent */
        r->cat_retries = 0;
        s_advance(self, r);
        return;
    }
    /* Failed. */
    bool was_commit = r->committing;
    r->committing = false;
    if (res->epoch > sess->epoch)
        sess->epoch = res->epoch; /* the retry must read what made it fail */
    if (was_commit && strncmp(msg, "XXCAT", 5) == 0 && r->b->block_retries < S_BLOCK_RETRIES) {
        /* A DDL committed first: plan the block again on the new catalog
         * (if it began in this request; else the client gets 40001). */
        self->cat_reloads++;
        s_reload(self, res->epoch);
        msg = "40001 could not serialize access: the catalog changed during the transaction "
              "block"; /* and run it again below, if it can */
    }
    if (was_commit && strncmp(msg, "40001", 5) == 0 &&
        r->b->block_retries < S_BLOCK_RETRIES && r->b->began_in == r->serial &&
        !r->b->no_rerun) {
        /* (A block begun in an earlier request cannot run again: that
         * request's answers are out; the client retries, on 40001.) */
        /* What the block read changed before it ran: run it again from its
         * BEGIN, on newer snapshots (its results were not sent yet). */
        self->block_retries++;
        r->b->block_retries++;
        uint32_t begin = r->b->block_begin, nvals = r->b->block_nvals;
        s_block_reset(r);
        r->next = begin;
        r->nvals = nvals;
        s_advance(self, r);
        return;
    }
    if (strncmp(msg, "XXCAT", 5) == 0 && r->cat_retries < S_CAT_RETRIES) {
        self->cat_reloads++;
        r->cat_retries++;
        s_reload(self, res->epoch);
        if (r->cur_live) {
            s_cur_drop(r);
        }
        if (!was_commit) {
            s_advance(self, r); /* plan statement r->next again */
            return;
        }
        s_block_reset(r);
        s_fail(self, r, HB_ABORTED, "40001",
               "could not serialize access: the catalog changed during the transaction block");
        return;
    }
    bool ddl = r->cur_live && r->cur->kind == SQLF_ST_DDL;
    if (ddl && r->cur->missing_ok &&
        (strncmp(msg, "42P07", 5) == 0 || strncmp(msg, "42P01", 5) == 0 ||
         strncmp(msg, "42883", 5) == 0)) {
        /* IF [NOT] EXISTS: a notice in PostgreSQL, success here. */
        if (s_ddl_next(self, r))
            return;
        s_group_tag(r, r->cur->tag, res->epoch);
        s_cur_drop(r);
        r->next++;
        s_advance(self, r);
        return;
    }
    if (r->cur_live) {
        s_cur_drop(r);
    }
    if (was_commit)
        s_block_reset(r);
    size_t len = strlen(msg);
    bool has_state = len >= 6 && msg[5] == ' ';
    for (int i = 0; i < 5 && has_state; i++)
        has_state = (msg[i] >= '0' && msg[i] <= '9') || (msg[i] >= 'A' && msg[i] <= 'Z');
    if (has_state)
        s_finish(self, r, res->rc, msg);
    else
        s_fail(self, r, res->rc,
               res->rc == HB_TIMEOUT  ? "08006"
               : res->rc == HB_TOOBIG ? "54000"
                                      : "XX000",
               "%s: %s", hb_rc_str(res->rc), msg);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                              */
/* ------------------------------------------------------------------ */

static uint64_t
s_text_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: a cache key, not a hash table seed */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

/* Counts operator characters and parentheses outside quotes and comments:
 * a cheap bound on how deep the parse tree can nest. libpg_query's tree
 * comes back as protobuf, and unpacking it recurses once per level: a
 * statement of thousands of chained operators would overflow the stack. */
static bool
s_too_complex(const char *t)
{
    uint32_t ops = 0;
    for (const char *p = t; *p; p++) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                ;
            if (!*p)
                break;
        } else if (*p == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
            if (!*p)
                break;
        } else if (*p == '$' && p[1] == '$') {
            const char *end = strstr(p + 2, "$$");
            if (!end)
                break;
            p = end + 1; /* a body is checked when it is parsed itself */
        } else if (strchr("+-*/%<>=|&^~!(", *p)) {
            ops++;
        }
    }
    return ops > 2000;
}

/* Returns the parse of text from the cache, parsing it on a miss; NULL
 * with err set (42601 and the position) when it does not parse. */
static s_parsed_t *
s_parse(sqlf_front_t *self, const char *text, hb_sqlerr_t *err)
{
    uint64_t h = s_text_hash(text);
    self->counter++;
    s_parsed_t *victim = NULL;
    for (uint32_t i = 0; i < S_PARSE_CACHE; i++) {
        s_parsed_t *p = &self->parsed[i];
        if (p->text && p->hash == h && strcmp(p->text, text) == 0) {
            p->last_use = self->counter;
            self->parse_hits++;
            return p;
        }
        if (p->refs == 0 && (!victim || !p->text || (victim->text && p->last_use < victim->last_use)))
            victim = p;
    }
    self->parses++;
    if (s_too_complex(text)) {
        hb_sqlerr_set(err, "54001", "statement is too complex (more than 2000 operators)");
        return NULL;
    }
    PgQueryProtobufParseResult pres = pg_query_parse_protobuf(text);
    if (pres.error) {
        hb_sqlerr_set(err, "42601", "%s at character %d", pres.error->message,
                      pres.error->cursorpos);
        pg_query_free_protobuf_parse_result(pres);
        return NULL;
    }
    PgQuery__ParseResult *tree = pg_query__parse_result__unpack(
        NULL, pres.parse_tree.len, (const uint8_t *)pres.parse_tree.data);
    pg_query_free_protobuf_parse_result(pres);
    if (!tree) {
        hb_sqlerr_set(err, "XX000", "cannot unpack the parse tree");
        return NULL;
    }
    if (!victim) {
        /* Every entry is held by a request in flight. */
        hb_sqlerr_set(err, "53000", "too many different statements in flight");
        pg_query__parse_result__free_unpacked(tree, NULL);
        return NULL;
    }
    if (victim->text) {
        hb_free(victim->text);
        pg_query__parse_result__free_unpacked(victim->tree, NULL);
    }
    size_t len = strlen(text);
    victim->text = hb_malloc(len + 1);
    memcpy(victim->text, text, len + 1);
    victim->hash = h;
    victim->tree = tree;
    victim->refs = 0;
    victim->last_use = self->counter;
    return victim;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                         */
/* ------------------------------------------------------------------ */

/* Engines made in this process so far: each one's index goes into its row
 * ids (sqlf_rowid_t). */
static atomic_uint s_engines;

/* The --id N of this process's command line (hobbes-sqlfront's), or 0:
 * the default sqlfront id of row ids until main sets it
 * (sqlf_front_set_node). */
static uint32_t
s_cmdline_id(void)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (size_t i = 0; i < n;) {
        const char *a = buf + i;
        size_t len = strlen(a);
        if (strcmp(a, "--id") == 0 && i + len + 1 < n)
            return (uint32_t)strtoul(a + len + 1, NULL, 10);
        if (strncmp(a, "--id=", 5) == 0)
            return (uint32_t)strtoul(a + 5, NULL, 10);
        i += len + 1;
    }
    return 0;
}

void
sqlf_front_set_node(sqlf_front_t *self, uint32_t sqlfront_id)
{
    self->rowids.node = ((uint64_t)(sqlfront_id & 0x7F) << 4 | (self->engine & 0xF)) &
                        SQLF_ROWID_NODE_MASK;
}

sqlf_front_t *
sqlf_front_new(const char *config_path, uint16_t replica, sqlf_reply_fn reply, void *reply_arg)
{
    char err[512];
    hb_client_t *cli = hb_client_new(config_path, replica, err, sizeof err);
    if (!cli) {
        hb_error("cannot connect to the cluster: %s", err);
        return NULL;
    }
    sqlf_front_t *self = hb_calloc(1, sizeof *self);
    self->cli = cli;
    self->cat = sqlf_catalog_new();
    self->nparts = hb_client_partitions(cli);
    self->reply = reply;
    self->reply_arg = reply_arg;
    self->sessions = hb_calloc(S_MAX_SESSIONS, sizeof *self->sessions);
    self->parsed = hb_calloc(S_PARSE_CACHE, sizeof *self->parsed);
    self->engine = atomic_fetch_add(&s_engines, 1);
    hb_config_t *cfg = NULL;
    char cerr[256];
    self->max_locks = HB_LIMITS_DEFAULT.max_locks;
    self->max_value = HB_LIMITS_DEFAULT.max_value_bytes;
    if (hb_config_load(config_path, &cfg, cerr, sizeof cerr) == HB_OK) {
        self->max_locks = cfg->limits.max_locks;
        self->max_value = cfg->limits.max_value_bytes;
        hb_config_destroy(&cfg);
    }
    sqlf_front_set_node(self, s_cmdline_id());
    /* The catalog may not be readable yet (storage starting): planning
     * reloads it when a table is missing. */
    if (sqlf_catalog_load(self->cat, cli, 2000, 0) != HB_OK)
        hb_warn("catalog not loaded yet; will retry on first use");
    return self;
}

void
sqlf_front_destroy(sqlf_front_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sqlf_front_t *self = *self_p;
    while (self->pending) {
        s_req_t *r = self->pending;
        self->pending = r->link;
        s_req_free(r);
    }
    for (uint32_t i = 0; i < S_PARSE_CACHE; i++) {
        if (self->parsed[i].text) {
            hb_free(self->parsed[i].text);
            pg_query__parse_result__free_unpacked(self->parsed[i].tree, NULL);
        }
    }
    hb_free(self->parsed);
    for (uint32_t i = 0; i < self->nsessions; i++) {
        if (self->sessions[i].blk) {
            s_blk_clear(self->sessions[i].blk);
            hb_free(self->sessions[i].blk);
        }
    }
    sqlf_catalog_destroy(&self->cat);
    hb_client_destroy(&self->cli);
    hb_free(self->sessions);
    hb_free(self);
    *self_p = NULL;
}

/* Sends a RESULT with rc, msg and vals to peer. */
static void
s_reply(sqlf_front_t *self, const uint8_t *peer, size_t peerlen, uint64_t req_id,
        hb_rc_t rc, const char *msg, const hb_val_t *vals, uint32_t nvals)
{
    hb_msg_t m = {.type = HB_MSG_RESULT};
    m.u.result.req_id = req_id;
    m.u.result.rc = (uint32_t)rc;
    m.u.result.msg = msg ? msg : "";
    m.u.result.msg_len = (uint32_t)strlen(m.u.result.msg);
    m.u.result.nvals = nvals;
    m.u.result.vals = (hb_val_t *)vals;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (hb_msg_encode(&m, &sb) == HB_OK)
        self->reply(self->reply_arg, peer, peerlen, sb.data, sb.size);
    else
        hb_error("could not encode a SQL result");
    msgpack_sbuffer_destroy(&sb);
    if (rc)
        self->errors++;
}

/* sql.describe [text]: plans the one statement of text without parameter
 * values and answers nparams, their types, ncols, (name, type) pairs. */
static void
s_describe(sqlf_front_t *self, const uint8_t *peer, size_t peerlen, const hb_msg_t *msg)
{
    const hb_val_t *a = msg->u.submit.args;
    uint64_t req_id = msg->u.submit.req_id;
    char emsg[600];
    if (msg->u.submit.nargs != 1 || a[0].type != HB_VAL_STR ||
        memchr(a[0].u.s.ptr, '\0', a[0].u.s.len)) {
        self->bad_requests++;
        s_reply(self, peer, peerlen, req_id, HB_INVALID,
                "08P01 sql.describe takes one argument: the statement's text", NULL, 0);
        return;
    }
    char *sql = hb_malloc(a[0].u.s.len + 1);
    memcpy(sql, a[0].u.s.ptr, a[0].u.s.len);
    sql[a[0].u.s.len] = '\0';
    hb_sqlerr_t err = {{0}, {0}};
    sqlf_describe_t *desc = hb_calloc(1, sizeof *desc);
    hb_arena_t *arena = NULL;
    hb_val_t *vals = NULL;
    uint32_t nvals = 0;
    hb_rc_t rc = HB_OK;
    sqlf_stmt_t st;
    bool planned = false;
    s_parsed_t *pp = s_parse(self, sql, &err);
    if (!pp) {
        rc = HB_INVALID;
    } else if (pp->tree->n_stmts > 1) {
        rc = hb_sqlerr_set(&err, "42601",
                           "cannot insert multiple commands into a prepared statement");
    } else if (pp->tree->n_stmts == 1) {
        const PgQuery__Node *node = pp->tree->stmts[0]->stmt;
        rc = sqlf_plan(self->cat, sql, node, NULL, 0, NULL, 0, NULL, desc, &st, &err);
        if (rc &&
            (strcmp(err.sqlstate, "42P01") == 0 || strcmp(err.sqlstate, "42883") == 0)) {
            self->cat_reloads++;
            if (s_reload_rc(self, 0) == HB_OK)
                rc = sqlf_plan(self->cat, sql, node, NULL, 0, NULL, 0, NULL, desc, &st,
                               &err);
        }
        planned = rc == HB_OK;
    }
    if (rc == HB_OK) {
        bool cols = planned && (st.kind == SQLF_ST_SELECT ||
                                (st.kind == SQLF_ST_WRITE && st.returning));
        uint32_t ncols = cols ? st.nout : 0;
        vals = hb_calloc(2 + desc->nparams + 2 * ncols, sizeof *vals);
        vals[nvals++] = hb_val_int(desc->nparams);
        for (uint32_t i = 0; i < desc->nparams; i++) {
            const char *tn = hb_type_name(desc->ptypes[i]);
            vals[nvals++] = hb_val_str(tn, (uint32_t)strlen(tn));
        }
        vals[nvals++] = hb_val_int(ncols);
        for (uint32_t c = 0; c < ncols; c++) {
            size_t n = strlen(st.out_names[c]);
            char *p = hb_arena_alloc(&arena, n ? n : 1);
            memcpy(p, st.out_names[c], n);
            vals[nvals++] = hb_val_str(p, (uint32_t)n);
            hb_type_t t = st.out[c].type == HB_T_UNKNOWN ? HB_T_TEXT : st.out[c].type;
            const char *tn = hb_type_name(t);
            vals[nvals++] = hb_val_str(tn, (uint32_t)strlen(tn));
        }
        s_reply(self, peer, peerlen, req_id, HB_OK, NULL, vals, nvals);
    } else {
        snprintf(emsg, sizeof emsg, "%s %s", err.sqlstate[0] ? err.sqlstate : "XX000",
                 err.msg);
        s_reply(self, peer, peerlen, req_id, HB_INVALID, emsg, NULL, 0);
    }
    if (planned)
        sqlf_stmt_free(&st);
    hb_free(vals);
    hb_arena_free(&arena);
    hb_free(desc);
    hb_free(sql);
}

/* sql.close: ends peer's session (its open block is rolled back). */
static void
s_close(sqlf_front_t *self, const uint8_t *peer, size_t peerlen, const hb_msg_t *msg)
{
    for (uint32_t i = 0; i < self->nsessions; i++) {
        s_session_t *s = &self->sessions[i];
        if (s->peerlen != peerlen || memcmp(s->peer, peer, peerlen) != 0)
            continue;
        if (s->busy) {
            s_reply(self, peer, peerlen, msg->u.submit.req_id, HB_BUSY,
                    "55006 the session is running a request", NULL, 0);
            return;
        }
        if (s->blk) {
            s_blk_clear(s->blk);
            hb_free(s->blk);
        }
        /* The slot stays (sessions never move): empty, first to be reused. */
        memset(s, 0, sizeof *s);
        break;
    }
    s_reply(self, peer, peerlen, msg->u.submit.req_id, HB_OK, NULL, NULL, 0);
}

void
sqlf_front_on_submit(sqlf_front_t *self, const uint8_t *peer, size_t peerlen,
                     const hb_msg_t *msg)
{
    self->requests++;
    if (msg->u.submit.proc_len == 12 &&
        memcmp(msg->u.submit.proc, "sql.describe", 12) == 0) {
        uint64_t g = atomic_load(&s_catalog_gen);
        if (g != self->catalog_gen) {
            self->catalog_gen = g;
            self->cat_reloads++;
            s_reload(self, 0);
        }
        s_describe(self, peer, peerlen, msg);
        return;
    }
    if (msg->u.submit.proc_len == 9 && memcmp(msg->u.submit.proc, "sql.close", 9) == 0) {
        s_close(self, peer, peerlen, msg);
        return;
    }
    uint64_t gen = atomic_load(&s_catalog_gen);
    if (gen != self->catalog_gen) {
        self->catalog_gen = gen;
        self->cat_reloads++;
        s_reload(self, 0);
    }
    s_req_t *r = hb_calloc(1, sizeof *r);
    memcpy(r->peer, peer, peerlen < sizeof r->peer ? peerlen : sizeof r->peer);
    r->peerlen = peerlen < sizeof r->peer ? peerlen : sizeof r->peer;
    r->client_req = msg->u.submit.req_id;
    const hb_val_t *a = msg->u.submit.args;
    s_session_t *sess = s_session(self, peer, peerlen);
    if (!sess || sess->busy) {
        self->bad_requests++;
        r->b = NULL;
        s_fail(self, r, HB_BUSY, sess ? "55006" : "53300",
               sess ? "the session is already running a request" : "too many sessions");
        return;
    }
    sess->busy = true;
    r->sess = sess;
    r->serial = ++sess->serial;
    if (!sess->blk)
        sess->blk = hb_calloc(1, sizeof *sess->blk);
    r->b = sess->blk;
    uint32_t n = msg->u.submit.nargs;
    if (msg->u.submit.proc_len != 3 || memcmp(msg->u.submit.proc, "sql", 3) != 0 || n < 1 ||
        a[0].type != HB_VAL_STR) {
        self->bad_requests++;
        s_fail(self, r, HB_INVALID, "08P01",
               "a sqlfront takes proc \"sql\" with the SQL text as first argument");
        return;
    }
    r->sql = hb_malloc(a[0].u.s.len + 1);
    memcpy(r->sql, a[0].u.s.ptr, a[0].u.s.len);
    r->sql[a[0].u.s.len] = '\0';
    if (memchr(r->sql, '\0', a[0].u.s.len)) {
        self->bad_requests++;
        s_fail(self, r, HB_INVALID, "22021", "invalid byte sequence: the text contains a zero "
                                             "byte");
        return;
    }
    /* Copy the parameters' bytes: the frame goes away after this call. */
    r->nparams = n - 1;
    size_t bytes = 0;
    for (uint32_t i = 1; i < n; i++)
        if (a[i].type == HB_VAL_STR || a[i].type == HB_VAL_BIN)
            bytes += a[i].u.s.len;
    r->frame = hb_malloc(bytes ? bytes : 1);
    r->params = hb_arena_alloc(&r->arena, (n ? n : 1) * sizeof *r->params);
    size_t off = 0;
    for (uint32_t i = 1; i < n; i++) {
        r->params[i - 1] = a[i];
        if (a[i].type == HB_VAL_STR || a[i].type == HB_VAL_BIN) {
            memcpy(r->frame + off, a[i].u.s.ptr, a[i].u.s.len);
            r->params[i - 1].u.s.ptr = r->frame + off;
            off += a[i].u.s.len;
        }
    }
    hb_sqlerr_t perr;
    r->parsed = s_parse(self, r->sql, &perr);
    if (!r->parsed) {
        s_fail_err(self, r, &perr);
        return;
    }
    r->parsed->refs++;
    r->tree = r->parsed->tree;
    s_advance(self, r);
}

void
sqlf_front_poll(sqlf_front_t *self, int timeout_ms)
{
    hb_result_t *res = NULL;
    int wait = timeout_ms;
    while (self->npending && hb_client_poll(self->cli, wait, &res) == HB_OK) {
        wait = 0;
        s_req_t **pp = &self->pending;
        while (*pp && (*pp)->txn_req != res->req_id &&
               !s_rw_owns((*pp)->rw, res->req_id) &&
               !s_bulk_owns((*pp)->bulk, res->req_id))
            pp = &(*pp)->link;
        if (*pp) {
            s_req_t *r = *pp;
            *pp = r->link;
            self->npending--;
            s_on_result(self, r, res);
        }
        hb_result_destroy(&res);
    }
    int64_t now = s_now_ms();
    s_req_t **pp = &self->pending;
    while (*pp) {
        s_req_t *r = *pp;
        if (now < r->deadline_ms) {
            pp = &r->link;
            continue;
        }
        *pp = r->link;
        self->npending--;
        hb_client_forget(self->cli, r->txn_req);
        for (uint32_t i = 0; r->bulk && i < S_LD_INFLIGHT; i++)
            if (r->bulk->ld.fly[i].txn)
                hb_client_forget(self->cli, r->bulk->ld.fly[i].txn);
        s_fail(self, r, HB_TIMEOUT, "08006",
               "no answer from the cluster within %d ms: the transaction's outcome is unknown",
               S_TXN_TIMEOUT_MS);
    }
}

size_t
sqlf_front_pending(const sqlf_front_t *self)
{
    return self->npending;
}

uint32_t
sqlf_front_stats(const sqlf_front_t *self, hb_wire_stat_t *out, uint32_t cap)
{
    const struct {
        const char *name;
        uint64_t v;
    } s[] = {
        {"sql_requests", self->requests},
        {"sql_statements", self->statements},
        {"sql_errors", self->errors},
        {"sql_txns", self->txns},
        {"sql_reads", self->reads},
        {"sql_catalog_reloads", self->cat_reloads},
        {"sql_ollp_rows", self->ollp_rows},
        {"sql_bad_requests", self->bad_requests},
        {"sql_pending", self->npending},
        {"sql_sessions", self->nsessions},
        {"catalog_version", (uint64_t)sqlf_catalog_version(self->cat)},
        {"sql_parses", self->parses},
        {"sql_parse_cache_hits", self->parse_hits},
        {"sql_block_retries", self->block_retries},
        {"sql_index_reads", self->index_reads},
        {"sql_index_backfilled", self->index_backfilled},
        {"sql_cut_rereads", self->cut_rereads},
        {"sql_cut_failures", self->torn_avoided},
        {"sql_index_fallbacks", self->index_fallbacks},
        {"sql_read_replans", self->read_replans},
        {"sql_rewrite_rows", self->rw_rows},
    };
    uint32_t n = 0;
    for (size_t i = 0; i < sizeof s / sizeof *s && n < cap; i++, n++) {
        out[n].name = s[i].name;
        out[n].name_len = (uint32_t)strlen(s[i].name);
        out[n].val = hb_val_int((int64_t)s[i].v);
    }
    return n;
}
