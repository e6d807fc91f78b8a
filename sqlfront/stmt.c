/* stmt.c — the statement loop: each statement of a request, in order.
 *
 * sqlf_advance walks a request's statements: each is planned (plan.c)
 * against the cached catalog, then handed to the step of its kind: SET,
 * BEGIN, COMMIT, ROLLBACK, SELECT, a write (INSERT / UPDATE / DELETE),
 * DDL, CALL. A step either finishes its statement on the spot (snapshot
 * reads, SET, BEGIN, ROLLBACK, a write that its reconnaissance read found
 * nothing to do for, any statement inside a block) or submits one
 * transaction and parks the request until its result arrives
 * (sqlf_on_result), which moves it on. A catalog mismatch (storage's
 * "XXCAT" abort, or a read's) reloads the catalog and plans the statement
 * again, a bounded number of times; a block whose CHECKs failed (40001)
 * runs again from its BEGIN.
 *
 * Statements that take many transactions are jobs (backfill.c,
 * pkrewrite.c, bulkinsert.c): their results go to the job.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "front_int.h"
#include "hb_alloc.h"
#include "hb_mp.h"
#include "hb_sqlstate.h"

#define S_BLOCK_RETRIES 20 /* re-runs of a block whose reads changed */

/* ------------------------------------------------------------------ */
/* Planning and submitting                                              */
/* ------------------------------------------------------------------ */

/* OLLP: the reconnaissance read's matching keys become ops. */
static hb_rc_t
s_recon_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
            uint32_t rawlen, const hb_val_t *row, uint32_t ncols)
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

/* Submits sql.exec over ops (n packed ops). */
hb_rc_t
sqlf_submit_exec(sqlf_front_t *self, sqlf_req_t *r, const msgpack_sbuffer *ops,
                 uint32_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    msgpack_sbuffer_write(&sb, ops->data, ops->size);
    hb_val_t args[2] = {hb_val_int(sqlf_catalog_version(self->cat)),
                        {.type = HB_VAL_BIN}};
    args[1].u.s.ptr = (const uint8_t *)sb.data;
    args[1].u.s.len = (uint32_t)sb.size;
    hb_rc_t rc = hb_client_submit(self->cli, "sql.exec", args, 2, &r->txn_req);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Submits item i of DDL statement st (sql.ddl at the current catalog
 * version). */
static hb_rc_t
s_submit_ddl(sqlf_front_t *self, sqlf_req_t *r, const sqlf_stmt_t *st, uint32_t i)
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
s_ddl_next(sqlf_front_t *self, sqlf_req_t *r)
{
    const sqlf_stmt_t *st = r->cur;
    if (!r->cur_live || st->kind != SQLF_ST_DDL || r->ddl_item + 1 >= st->ddl_n)
        return false;
    r->ddl_item++;
    if (s_submit_ddl(self, r, st, r->ddl_item) != HB_OK) {
        sqlf_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                  hb_client_last_error(self->cli));
        return true; /* r is gone */
    }
    sqlf_park(self, r);
    return true;
}

/* Plans statement i, reloading the catalog once when a table is missing
 * (another gateway may have created it). */
static hb_rc_t
s_plan_stmt(sqlf_front_t *self, sqlf_req_t *r, const PgQuery__Node *node, sqlf_stmt_t *st,
            hb_sqlerr_t *err)
{
    /* The statement's CURRENT_TIMESTAMP: this gateway's clock, fixed into
     * the plan, so every replica executes with the same value. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - HB_PG_EPOCH_US;
    hb_rc_t rc = sqlf_plan(self->cat, r->sql, node, r->params, r->nparams,
                           (const char(*)[SQLF_NAME_MAX])r->call.pnames, now_us,
                           &self->rowids, NULL, st, err);
    if (rc &&
        (strcmp(err->sqlstate, "42P01") == 0 || strcmp(err->sqlstate, "42883") == 0)) {
        self->cat_reloads++;
        if (sqlf_reload_rc(self, 0) == HB_OK)
            rc = sqlf_plan(self->cat, r->sql, node, r->params, r->nparams,
                           (const char(*)[SQLF_NAME_MAX])r->call.pnames, now_us,
                           &self->rowids, NULL, st, err);
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
            return hb_sqlerr_set(err, "40001",
                                 "could not serialize access: the catalog changed "
                                 "during the transaction block");
        }
    }
    return rc;
}

/* A read met a newer catalog than its statement was planned on (XXCAT):
 * reloads and says whether to plan the statement again. Inside a block
 * the block's plans are stale too: the error becomes 40001. */
static bool
s_replan_after_read(sqlf_front_t *self, sqlf_req_t *r, hb_sqlerr_t *err)
{
    if (strcmp(err->sqlstate, "XXCAT") != 0)
        return false;
    sqlf_reload(self, self->read_catver_epoch);
    bool fresh = !r->b->in_block || r->b->implicit; /* nothing planned before it */
    if (fresh && r->cat_retries < SQLF_CAT_RETRIES) {
        if (r->b->in_block)
            sqlf_block_reset(r); /* the statement opens its block again */
        r->cat_retries++;
        self->read_replans++;
        return true;
    }
    hb_sqlerr_set(err, "40001",
                  "could not serialize access: the catalog changed during the "
                  "transaction block");
    return false;
}

/* ------------------------------------------------------------------ */
/* The steps: one per statement kind                                    */
/* ------------------------------------------------------------------ */

/* What a step did. Steps never free their statement: s_step does, unless
 * the step took it (*taken). */
typedef enum {
    S_NEXT, /* go on at r->next (the next statement, or this one again) */
    S_GONE, /* r is parked for a transaction, or answered and freed: stop */
    S_ON,   /* (between the stages of one step) the statement goes on */
} s_step_t;

/* A statement of a block that failed: only ROLLBACK (or COMMIT, which
 * rolls back) is accepted. */
static s_step_t
s_step_failed_block(sqlf_front_t *self, sqlf_req_t *r, const PgQuery__Node *node)
{
    if (node->node_case == PG_QUERY__NODE__NODE_TRANSACTION_STMT &&
        (node->transaction_stmt->kind ==
             PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK ||
         node->transaction_stmt->kind ==
             PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT)) {
        sqlf_block_reset(r);
        sqlf_group_tag(r, "ROLLBACK", 0);
        r->next++;
        return S_NEXT;
    }
    sqlf_fail(self, r, HB_ABORTED, "25P02",
              "current transaction is aborted, commands ignored until end of transaction "
              "block");
    return S_GONE;
}

/* SET / RESET (and the statements that only answer their tag). */
static s_step_t
s_step_set(sqlf_req_t *r, const sqlf_stmt_t *st)
{
    sqlf_session_t *sess = r->sess;
    if (strcmp(st->set_name, "hobbes.strict_reads") == 0 ||
        strcmp(st->set_name, "") == 0) {
        const char *v = st->set_value;
        if (strcmp(st->set_name, "") == 0) /* RESET ALL */
            sess->strict = false;
        else
            sess->strict =
                strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
    }
    if (strcmp(st->set_name, "hobbes.read_after") == 0 && st->set_value[0]) {
        /* Reads wait for this epoch from now on (the wire protocol
         * after a COPY, which commits through other sessions). */
        uint64_t e = strtoull(st->set_value, NULL, 10);
        if (e > sess->epoch)
            sess->epoch = e;
    }
    sqlf_group_tag(r, st->tag, 0);
    r->next++;
    return S_NEXT;
}

static s_step_t
s_step_begin(sqlf_req_t *r)
{
    if (!r->b->in_block) {
        r->b->in_block = true;
        r->b->block_failed = false;
        r->b->began_in = r->serial;
        r->b->block_begin = r->next;
        r->b->block_nvals = r->nvals;
    }
    sqlf_group_tag(r, "BEGIN", 0);
    r->next++;
    return S_NEXT;
}

static s_step_t
s_step_rollback(sqlf_front_t *self, sqlf_req_t *r)
{
    if (r->b->in_block)
        sqlf_block_answer_open(self, r, r->sess); /* what ran in this request answers */
    sqlf_block_reset(r);
    sqlf_group_tag(r, "ROLLBACK", 0);
    r->next++;
    return S_NEXT;
}

static s_step_t
s_step_commit(sqlf_front_t *self, sqlf_req_t *r)
{
    hb_sqlerr_t err;
    r->next++;
    if (!r->b->in_block) {
        sqlf_group_tag(r, "COMMIT", 0); /* PostgreSQL warns; no block open */
        return S_NEXT;
    }
    return sqlf_block_commit(self, r, true, &err) ? S_GONE : S_NEXT;
}

static s_step_t
s_step_call(sqlf_front_t *self, sqlf_req_t *r, const sqlf_stmt_t *st)
{
    hb_sqlerr_t err;
    sqlf_block_implicit(r);
    if (sqlf_call_enter(self, r, st, &err) != HB_OK) {
        sqlf_fail_err(self, r, &err);
        return S_GONE;
    }
    return S_NEXT;
}

/* A procedure body ran to its end: back to the request's statements; a
 * block the CALL opened commits. */
static s_step_t
s_body_end(sqlf_front_t *self, sqlf_req_t *r)
{
    hb_sqlerr_t err;
    sqlf_call_leave(r);
    if (r->b->implicit && sqlf_block_commit(self, r, false, &err))
        return S_GONE;
    return S_NEXT;
}

/* Runs query q inside the open block into sel (its rows, or groups
 * turned into rows). */
static hb_rc_t
s_block_query(sqlf_front_t *self, sqlf_req_t *r, const sqlf_stmt_t *q, sqlf_sel_t *sel,
              hb_sqlerr_t *err)
{
    hb_rc_t rc;
    if (q->njoin)
        rc = sqlf_block_join(self, r, r->sess, q, sqlf_sel_row, sel, err);
    else if (q->src.table)
        rc = sqlf_block_read(self, r, r->sess, &q->src, sqlf_sel_row, sel, err);
    else if (q->src.series)
        rc = sqlf_series_read(&q->src, sqlf_sel_row, sel, err);
    else
        rc = sqlf_sel_row(sel, NULL, 0, NULL, 0, NULL, 0);
    if (rc == HB_OK && q->agg)
        rc = sqlf_sel_groups(sel);
    return rc;
}

/* A SELECT inside the open block (st taken): answered now from the
 * block's view; its CHECKs make the commit fail (40001) if what it read
 * changes first. (A SELECT that reads no table joins the block too: its
 * group comes in order with the others'.) */
static s_step_t
s_select_in_block(sqlf_front_t *self, sqlf_req_t *r, sqlf_stmt_t *st)
{
    hb_sqlerr_t err;
    sqlf_blockstmt_t *b = sqlf_block_add(r, st, r->b->block_nops);
    sqlf_sel_t sel = {.st = &b->st, .arena = &r->arena, .err = &err};
    hb_rc_t rc = s_block_query(self, r, &b->st, &sel, &err);
    if (rc == HB_OK) {
        sqlf_swap_vals(r, b);
        sqlf_sel_group(r, &b->st, &sel, 0);
        sqlf_swap_vals(r, b);
    }
    hb_free(sel.rows);
    hb_free(sel.groups);
    if (rc) {
        if (s_replan_after_read(self, r, &err))
            return S_NEXT; /* an implicit block: the statement again */
        r->b->block_failed = true;
        if (r->b->implicit)
            sqlf_block_reset(r);
        sqlf_fail_err(self, r, &err);
        return S_GONE;
    }
    r->next++;
    if (r->b->implicit && !r->call.depth && sqlf_block_commit(self, r, false, &err))
        return S_GONE;
    return S_NEXT;
}

static s_step_t
s_step_select(sqlf_front_t *self, sqlf_req_t *r, sqlf_stmt_t *st, bool *taken)
{
    sqlf_session_t *sess = r->sess;
    hb_sqlerr_t err;
    if (st->njoin && sess->strict && !r->b->in_block) {
        sqlf_fail(self, r, HB_INVALID, "0A000",
                  "strict reads of joins are not supported yet");
        return S_GONE;
    }
    if (sess->strict && !r->b->in_block && st->src.table)
        sqlf_block_implicit(r); /* sequenced: its rows are CHECKed at commit */
    if (r->b->in_block) {
        *taken = true;
        return s_select_in_block(self, r, st);
    }
    if (sqlf_run_select(self, r, sess, st, &err) != HB_OK) {
        if (s_replan_after_read(self, r, &err))
            return S_NEXT; /* the same statement, on the newer catalog */
        sqlf_fail_err(self, r, &err);
        return S_GONE;
    }
    r->next++;
    return S_NEXT;
}

/* INSERT ... SELECT: the query's rows become st's INSERTs. They are read
 * in a block (implicit if need be), so the commit validates what they
 * came from; from a series, more than one transaction takes load in
 * batches instead (bulkinsert.c, which takes st). */
static s_step_t
s_write_from_query(sqlf_front_t *self, sqlf_req_t *r, sqlf_stmt_t *st, bool *taken)
{
    const sqlf_stmt_t *q = st->sub;
    bool had_block = r->b->in_block;
    bool bulk = sqlf_bulk_ok(r, st);
    hb_sqlerr_t err;
    if (bulk && !q->agg && !q->nsort) {
        /* Rows streamed from generate_series, made as they go. */
        uint64_t n = 0;
        if (sqlf_series_rows(q, &n, &err) != HB_OK) {
            sqlf_fail_err(self, r, &err);
            return S_GONE;
        }
        if (n > sqlf_bulk_threshold(self, st->ins_table)) {
            *taken = true;
            sqlf_bulk_start(self, r, st, NULL, 0);
            return S_GONE;
        }
        bulk = false; /* few rows: one transaction */
    }
    sqlf_block_implicit(r);
    s_step_t step = S_ON;
    sqlf_sel_t sel = {.st = q, .arena = &r->arena, .err = &err};
    hb_rc_t rc = s_block_query(self, r, q, &sel, &err);
    if (rc != HB_OK)
        goto out;
    uint64_t from, to;
    sqlf_sel_finish(&sel, q, &from, &to);
    if (bulk && to - from > sqlf_bulk_threshold(self, st->ins_table)) {
        /* Sorted or grouped series rows, too many for one transaction:
         * they load in batches too. */
        if (!had_block)
            sqlf_block_reset(r);
        *taken = true;
        sqlf_bulk_start(self, r, st, sel.rows + from, to - from);
        step = S_GONE;
        goto out;
    }
    for (uint64_t i = from; i < to && rc == HB_OK; i++)
        rc = sqlf_stmt_insert_row(st, sel.rows[i], q->nout, NULL, NULL, &err);
out:
    hb_free(sel.rows);
    hb_free(sel.groups);
    if (rc) {
        r->b->block_failed = true;
        if (r->b->implicit)
            sqlf_block_reset(r);
        sqlf_fail_err(self, r, &err);
        return S_GONE;
    }
    return step;
}

/* OLLP: a write whose rows a WHERE picks reads them first (its
 * reconnaissance): each matching key becomes an op. */
static s_step_t
s_write_recon(sqlf_front_t *self, sqlf_req_t *r, sqlf_stmt_t *st)
{
    hb_sqlerr_t err;
    uint64_t ep;
    hb_rc_t rc =
        r->b->in_block
            ? sqlf_block_read(self, r, r->sess, &st->src, s_recon_row, st, &err)
            : sqlf_read_src(self, r->sess, &st->src, true, s_recon_row, st, &ep, &err);
    if (rc == HB_TOOBIG)
        hb_sqlerr_set(&err, "54000", "statement changes more than %d rows",
                      HB_SQL_MAX_OPS);
    if (rc) {
        if (s_replan_after_read(self, r, &err))
            return S_NEXT;
        if (r->b->in_block)
            r->b->block_failed = true;
        sqlf_fail_err(self, r, &err);
        return S_GONE;
    }
    self->ollp_rows += st->nops;
    return S_ON;
}

/* A write inside the open block (on table wt): its ops join the block's
 * (with their index entries), and it answers at COMMIT. */
static s_step_t
s_write_in_block(sqlf_front_t *self, sqlf_req_t *r, sqlf_stmt_t *st,
                 const sqlf_table_t *wt, bool *taken)
{
    hb_sqlerr_t err;
    uint32_t before = r->b->block_nops;
    hb_mp_reader_t rd;
    hb_mp_reader_init(&rd, st->ops.data, st->ops.size);
    hb_rc_t rc = HB_OK;
    for (uint32_t i = 0; i < st->nops && rc == HB_OK; i++) {
        const uint8_t *op;
        size_t oplen;
        rc = hb_mp_read_raw(&rd, &op, &oplen) == HB_OK
                 ? sqlf_block_add_data_op(self, r, r->sess, wt, op, oplen, &err)
                 : hb_sqlerr_set(&err, "XX000", "malformed plan");
    }
    if (rc) {
        if (s_replan_after_read(self, r, &err))
            return S_NEXT; /* an implicit block: the statement again */
        r->b->block_failed = true;
        sqlf_fail_err(self, r, &err);
        return S_GONE;
    }
    *taken = true;
    sqlf_block_add(r, st, before);
    r->next++;
    if (r->b->implicit && !r->call.depth && sqlf_block_commit(self, r, false, &err))
        return S_GONE;
    return S_NEXT;
}

static s_step_t
s_step_write(sqlf_front_t *self, sqlf_req_t *r, sqlf_stmt_t *st, bool *taken)
{
    const sqlf_table_t *wt = st->ins_table ? st->ins_table : st->src.table;
    s_step_t step;
    if (st->sub) {
        if ((step = s_write_from_query(self, r, st, taken)) != S_ON)
            return step;
    } else if (wt && wt->nidx > 0) {
        /* Writes to a table with indexes run as a block: the row's value
         * before the write (validated) says which entries change. */
        sqlf_block_implicit(r);
    }
    if (st->ollp && !st->sub && (step = s_write_recon(self, r, st)) != S_ON)
        return step;
    if (r->b->in_block)
        return s_write_in_block(self, r, st, wt, taken);
    if (st->nops == 0) {
        hb_sqlerr_t err;
        sqlf_write_group(r, st, NULL, 0, 0, &err);
        r->next++;
        return S_NEXT;
    }
    if (sqlf_submit_exec(self, r, &st->ops, st->nops) != HB_OK) {
        sqlf_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                  hb_client_last_error(self->cli));
        return S_GONE;
    }
    *taken = true;
    sqlf_cur_set(r, st);
    sqlf_park(self, r);
    return S_GONE;
}

static s_step_t
s_step_ddl(sqlf_front_t *self, sqlf_req_t *r, sqlf_stmt_t *st, bool *taken)
{
    /* DDL before anything else of a BEGIN block takes effect at once and
     * is not rolled back: drivers open a block before every statement
     * (psycopg2), and pgbench -i sends begin; truncate ...; insert ...;
     * commit. Several in a row are fine; after any other statement of the
     * block it is 0A000. */
    bool early = r->b->in_block && !r->b->implicit && r->b->nblock == 0 &&
                 r->b->block_nops == 0 && r->b->block_nchecks == 0;
    if (r->b->in_block && !early) {
        r->b->block_failed = true;
        sqlf_fail(self, r, HB_INVALID, "0A000",
                  "DDL inside a transaction block is not supported after its first "
                  "statement");
        return S_GONE;
    }
    if (early) {
        r->b->have_catver = false; /* the block plans on the catalog after it */
        r->b->no_rerun = true;
    }
    r->ddl_item = 0;
    if (s_submit_ddl(self, r, st, 0) != HB_OK) {
        sqlf_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                  hb_client_last_error(self->cli));
        return S_GONE;
    }
    *taken = true;
    sqlf_cur_set(r, st);
    sqlf_park(self, r);
    return S_GONE;
}

/* Plans statement r->next and runs the step of its kind. */
static s_step_t
s_step(sqlf_front_t *self, sqlf_req_t *r)
{
    const PgQuery__Node *node = r->tree->stmts[r->next]->stmt;
    sqlf_stmt_t st;
    hb_sqlerr_t err;
    self->statements++;
    if (r->b->in_block && r->b->block_failed)
        return s_step_failed_block(self, r, node);
    if (s_plan_stmt(self, r, node, &st, &err) != HB_OK) {
        if (r->b->in_block)
            r->b->block_failed = true;
        sqlf_fail_err(self, r, &err);
        return S_GONE;
    }
    s_step_t step = S_GONE;
    bool taken = false; /* the step kept st */
    if (r->call.depth && (st.kind == SQLF_ST_BEGIN || st.kind == SQLF_ST_COMMIT ||
                          st.kind == SQLF_ST_ROLLBACK || st.kind == SQLF_ST_DDL)) {
        sqlf_fail(self, r, HB_INVALID, "0A000",
                  "transaction control and DDL are not allowed in a procedure body");
        goto out;
    }
    switch (st.kind) {
    case SQLF_ST_EMPTY:
        step = s_step_set(r, &st);
        break;
    case SQLF_ST_BEGIN:
        step = s_step_begin(r);
        break;
    case SQLF_ST_COMMIT:
        step = s_step_commit(self, r);
        break;
    case SQLF_ST_ROLLBACK:
        step = s_step_rollback(self, r);
        break;
    case SQLF_ST_SELECT:
        step = s_step_select(self, r, &st, &taken);
        break;
    case SQLF_ST_WRITE:
        step = s_step_write(self, r, &st, &taken);
        break;
    case SQLF_ST_DDL:
        step = s_step_ddl(self, r, &st, &taken);
        break;
    case SQLF_ST_CALL:
        step = s_step_call(self, r, &st);
        break;
    }
out:
    if (!taken)
        sqlf_stmt_free(&st);
    return step;
}

void
sqlf_advance(sqlf_front_t *self, sqlf_req_t *r)
{
    for (;;) {
        s_step_t step;
        if (r->next < r->tree->n_stmts)
            step = s_step(self, r);
        else if (r->call.depth)
            step = s_body_end(self, r);
        else
            break;
        if (step == S_GONE)
            return;
    }
    if (r->b->in_block)
        sqlf_block_answer_open(self, r, r->sess);
    sqlf_finish(self, r, HB_OK, NULL);
}

/* Decodes sql.exec's one result (a bin holding a msgpack array of one
 * value per op) into the request's arena; values borrow from res. */
static hb_val_t *
s_op_results(sqlf_req_t *r, const hb_result_t *res, uint32_t *n)
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

/* ------------------------------------------------------------------ */
/* Results                                                              */
/* ------------------------------------------------------------------ */

/* The block's COMMIT succeeded: its statements answer (results: the
 * CHECKs' first, then the block's ops'). */
static void
s_commit_done(sqlf_req_t *r, const hb_result_t *res, const hb_val_t *ops, uint32_t nops)
{
    hb_sqlerr_t err = {{0}, {0}};
    uint32_t skip = r->b->block_nchecks < nops ? r->b->block_nchecks : nops;
    sqlf_block_groups(r, ops ? ops + skip : NULL, nops - skip, res->epoch, &err);
    sqlf_block_reset(r);
    r->committing = false;
    r->b->block_retries = 0;
    if (r->commit_tag)
        sqlf_group_tag(r, "COMMIT", res->epoch);
    else if (res->epoch)
        r->epoch = res->epoch;
}

/* A DDL statement (item r->ddl_item of it) committed. Returns true when r
 * went on elsewhere (a job started, the next item submitted, or failed). */
static bool
s_ddl_done(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res)
{
    sqlf_ddl_committed(self, res->epoch);
    if (r->cur->ix_create) {
        /* The index exists (writes keep it from now on): fill it with the
         * rows written before, then mark it ready. */
        sqlf_backfill_start(self, r);
        return true;
    }
    if (r->cur->rw_create) {
        /* The table is rewriting: copy its rows into the new id. */
        sqlf_pkrewrite_start(self, r);
        return true;
    }
    if (s_ddl_next(self, r))
        return true;
    if (r->b->in_block && r->b->nblock == 0)
        r->b->have_catver = false; /* DDL at a block's start: plan on the new catalog */
    sqlf_group_tag(r, r->cur->tag, res->epoch);
    return false;
}

/* r's transaction committed: its statement answers, and r moves on. */
static void
s_on_ok(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res)
{
    hb_sqlerr_t err = {{0}, {0}};
    if (res->epoch > r->sess->epoch)
        r->sess->epoch = res->epoch;
    bool ddl = r->cur_live && r->cur->kind == SQLF_ST_DDL && !r->committing;
    uint32_t nops = 0;
    hb_val_t *ops = ddl ? NULL : s_op_results(r, res, &nops);
    bool was_commit = r->committing;
    if (was_commit)
        s_commit_done(r, res, ops, nops);
    else if (ddl && s_ddl_done(self, r, res))
        return;
    else if (!ddl)
        sqlf_write_group(r, r->cur, ops, nops, res->epoch, &err);
    if (r->cur_live)
        sqlf_cur_drop(r);
    if (!was_commit)
        r->next++; /* a commit moved past its statement when it was sent */
    r->cat_retries = 0;
    sqlf_advance(self, r);
}

/* The block's COMMIT failed: runs the block again from its BEGIN when it
 * can (true: r went on), else leaves the failure to s_on_failed (*msg
 * may become 40001). */
static bool
s_commit_failed(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res,
                const char **msg)
{
    if (strncmp(*msg, "XXCAT", 5) == 0 && r->b->block_retries < S_BLOCK_RETRIES) {
        /* A DDL committed first: plan the block again on the new catalog
         * (if it began in this request; else the client gets 40001). */
        self->cat_reloads++;
        sqlf_reload(self, res->epoch);
        *msg = "40001 could not serialize access: the catalog changed during the "
               "transaction block"; /* and run it again below, if it can */
    }
    if (strncmp(*msg, "40001", 5) != 0 || r->b->block_retries >= S_BLOCK_RETRIES ||
        r->b->began_in != r->serial || r->b->no_rerun)
        return false;
    /* What the block read changed before it ran: run it again from its
     * BEGIN, on newer snapshots (its results were not sent yet). (A block
     * begun in an earlier request cannot run again: that request's answers
     * are out; the client retries, on 40001.) */
    self->block_retries++;
    r->b->block_retries++;
    uint32_t begin = r->b->block_begin, nvals = r->b->block_nvals;
    sqlf_block_reset(r);
    r->next = begin;
    r->nvals = nvals;
    sqlf_advance(self, r);
    return true;
}

/* r's transaction failed: a retry when the failure allows one, else the
 * failure is r's answer. */
static void
s_on_failed(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res)
{
    const char *msg = res->msg ? res->msg : "";
    bool was_commit = r->committing;
    r->committing = false;
    if (res->epoch > r->sess->epoch)
        r->sess->epoch = res->epoch; /* the retry must read what made it fail */
    if (was_commit && s_commit_failed(self, r, res, &msg))
        return;
    if (strncmp(msg, "XXCAT", 5) == 0 && r->cat_retries < SQLF_CAT_RETRIES) {
        self->cat_reloads++;
        r->cat_retries++;
        sqlf_reload(self, res->epoch);
        if (r->cur_live)
            sqlf_cur_drop(r);
        if (!was_commit) {
            sqlf_advance(self, r); /* plan statement r->next again */
            return;
        }
        sqlf_block_reset(r);
        sqlf_fail(self, r, HB_ABORTED, "40001",
                  "could not serialize access: the catalog changed during the "
                  "transaction block");
        return;
    }
    bool ddl = r->cur_live && r->cur->kind == SQLF_ST_DDL;
    if (ddl && r->cur->missing_ok &&
        (strncmp(msg, "42P07", 5) == 0 || strncmp(msg, "42P01", 5) == 0 ||
         strncmp(msg, "42883", 5) == 0)) {
        /* IF [NOT] EXISTS: a notice in PostgreSQL, success here. */
        if (s_ddl_next(self, r))
            return;
        sqlf_group_tag(r, r->cur->tag, res->epoch);
        sqlf_cur_drop(r);
        r->next++;
        sqlf_advance(self, r);
        return;
    }
    if (r->cur_live)
        sqlf_cur_drop(r);
    if (was_commit)
        sqlf_block_reset(r);
    /* "SSSSS text" is the answer as it is (a bare "SSSSS" is not: it gets
     * a state of its own, as before). */
    char state[6];
    size_t len = strlen(msg);
    if (hb_sqlstate_split(msg, len, state, NULL, NULL) && len > 5)
        sqlf_finish(self, r, res->rc, msg);
    else
        sqlf_fail(self, r, res->rc,
                  res->rc == HB_TIMEOUT  ? "08006"
                  : res->rc == HB_TOOBIG ? "54000"
                                         : "XX000",
                  "%s: %s", hb_rc_str(res->rc), msg);
}

void
sqlf_on_result(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res)
{
    if (r->job) {
        r->job->ops->on_result(self, r, res);
        return;
    }
    r->txn_req = 0;
    if (res->rc == HB_OK || res->rc == HB_EXISTS)
        s_on_ok(self, r, res);
    else
        s_on_failed(self, r, res);
}
