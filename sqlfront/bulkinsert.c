/* bulkinsert.c — INSERT ... SELECT in batches.
 *
 * An INSERT ... SELECT whose rows come from generate_series (nothing read
 * to validate) and are more than one transaction takes loads like COPY
 * FROM STDIN: in batches, each one single-partition sql.exec of at most
 * max_locks - 2 keys (a row's INSERT and its index entries), up to
 * SQLF_LD_INFLIGHT at once, committed as they go and NOT atomically, also
 * inside a BEGIN block (whose own writes stay for its COMMIT). The first
 * failure stops it: batches not yet sent are dropped, the ones committed
 * stay, and the statement answers the error once none is in flight. Rows
 * are made a chunk at a time (streamed from the series, or taken from
 * the query's finished rows when it sorts or groups).
 *
 * Entry points: sqlf_bulk_ok and sqlf_bulk_threshold (whether a statement
 * loads this way), sqlf_bulk_start (from the write step, stmt.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "front_int.h"
#include "hb_alloc.h"
#include "hb_key.h"
#include "hb_mp.h"
#include "hb_sqlop.h"

#define S_BULK_ROWS    2000 /* more rows than this load in batches */
#define S_BULK_CHUNK   4096 /* rows made per step */
#define S_BULK_RETRIES 100  /* resubmits of a batch after XXCAT */

/* The job: one INSERT ... SELECT loading. */
typedef struct {
    sqlf_job_t job;
    sqlf_table_t t; /* the target's definition, copied (cols: cols) */
    sqlf_col_t *cols;
    bool stream;          /* rows from the series: values next..count */
    uint64_t next, count; /* stream: the next value's index; else the next row's */
    uint64_t skip, left;  /* stream: OFFSET still to skip, LIMIT left (UINT64_MAX none) */
    hb_val_t **rows;      /* !stream: the query's rows (values in the request's arena) */
    bool done;            /* every row is made */
    sqlf_ld_t ld;         /* its batches (keys per batch: ld.batch_ops) */
    uint64_t inserted;    /* rows the committed batches inserted */
    uint64_t epoch;       /* the newest commit */
} s_bulk_t;

static void
s_bulk_destroy(sqlf_job_t *job)
{
    s_bulk_t *bk = (s_bulk_t *)job;
    sqlf_ld_clear(&bk->ld);
    for (uint32_t c = 0; bk->cols && c < bk->t.ncols; c++)
        hb_free(bk->cols[c].def);
    hb_free(bk->cols);
    hb_free(bk->rows);
    hb_free(bk);
}

static bool
s_bulk_owns(const sqlf_job_t *job, uint64_t id)
{
    s_bulk_t *bk = (s_bulk_t *)job;
    return sqlf_ld_batch(&bk->ld, id) != NULL;
}

static void
s_bulk_forget(sqlf_job_t *job, hb_client_t *cli)
{
    sqlf_ld_forget(&((s_bulk_t *)job)->ld, cli);
}

static void s_bulk_result(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res);

static const sqlf_job_ops_t s_bulk_ops = {
    .on_result = s_bulk_result,
    .owns = s_bulk_owns,
    .forget = s_bulk_forget,
    .destroy = s_bulk_destroy,
};

/* Whether INSERT ... SELECT st may load in batches: its rows come from
 * generate_series, outside a procedure body (whose CALL is atomic),
 * without RETURNING, and its index entries can be made blind (no ON
 * CONFLICT into a table with indexes). */
bool
sqlf_bulk_ok(const sqlf_req_t *r, const sqlf_stmt_t *st)
{
    const sqlf_table_t *t = st->ins_table;
    return st->sub && st->sub->src.series && !r->call.depth && !st->returning && t &&
           (t->nidx == 0 || st->ins_conflict == 0) && !(r->b->in_block && r->b->implicit);
}

/* Returns the most rows into t one transaction takes (more load in
 * batches). */
uint64_t
sqlf_bulk_threshold(const sqlf_front_t *self, const sqlf_table_t *t)
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
hb_rc_t
sqlf_series_rows(const sqlf_stmt_t *q, uint64_t *n, hb_sqlerr_t *err)
{
    uint64_t pass = q->src.ser_count;
    if (q->src.where.p) {
        pass = 0;
        hb_rc_t rc = sqlf_series_read(&q->src, s_count_row, &pass, err);
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
        sqlf_ld_seal(&bk->ld, p);
    return HB_OK;
}

/* Makes up to S_BULK_CHUNK more rows into the buckets. */
static hb_rc_t
s_bulk_make(sqlf_front_t *self, sqlf_req_t *r, hb_sqlerr_t *err)
{
    s_bulk_t *bk = (s_bulk_t *)r->job;
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
            hb_val_t in = hb_val_int(sqlf_series_val(&q->src, bk->next++));
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
s_bulk_group(sqlf_req_t *r, const char *tag, uint64_t epoch)
{
    if (!r->b->in_block) {
        sqlf_group_tag(r, tag, epoch);
        return;
    }
    sqlf_stmt_t none;
    memset(&none, 0, sizeof none);
    none.kind = SQLF_ST_EMPTY;
    sqlf_blockstmt_t *b = sqlf_block_add(r, &none, r->b->block_nops);
    sqlf_swap_vals(r, b);
    sqlf_group_tag(r, tag, epoch);
    sqlf_swap_vals(r, b);
}

/* Moves the load on as far as it can without waiting: sends ready
 * batches into free slots, makes rows when none is ready; parks r while
 * batches are in flight, else answers (the count, or the failure). */
static void
s_bulk_pump(sqlf_front_t *self, sqlf_req_t *r)
{
    s_bulk_t *bk = (s_bulk_t *)r->job;
    hb_sqlerr_t err = {{0}, {0}};
    sqlf_ld_t *ld = &bk->ld;
    while (!ld->failmsg[0]) {
        if (ld->nready) {
            if (ld->nfly == SQLF_LD_INFLIGHT)
                break;
            sqlf_ld_send(self, ld);
            continue;
        }
        if (bk->done) {
            if (!sqlf_ld_seal_all(ld))
                break;
            continue;
        }
        if (s_bulk_make(self, r, &err) != HB_OK) {
            char m[sizeof ld->failmsg];
            snprintf(m, sizeof m, "%s %s", err.sqlstate[0] ? err.sqlstate : "XX000",
                     err.msg);
            sqlf_ld_fail(ld, HB_INVALID, m);
        }
    }
    if (bk->ld.nfly) {
        sqlf_park(self, r);
        return;
    }
    if (bk->ld.failmsg[0]) {
        char m[sizeof bk->ld.failmsg];
        snprintf(m, sizeof m, "%s", bk->ld.failmsg);
        sqlf_finish(self, r, bk->ld.failrc, m);
        return;
    }
    char tag[48];
    snprintf(tag, sizeof tag, "INSERT 0 %" PRIu64, bk->inserted);
    s_bulk_group(r, tag, bk->epoch);
    sqlf_job_end(r);
    sqlf_cur_drop(r);
    r->next++;
    r->cat_retries = 0;
    sqlf_advance(self, r);
}

/* Starts loading INSERT ... SELECT st (taken) in batches: its rows are
 * rows[0..nrows) (the array is copied; NULL: streamed from the series). */
void
sqlf_bulk_start(sqlf_front_t *self, sqlf_req_t *r, sqlf_stmt_t *st, hb_val_t **rows,
                uint64_t nrows)
{
    sqlf_cur_set(r, st);
    s_bulk_t *bk = hb_calloc(1, sizeof *bk);
    bk->job.ops = &s_bulk_ops;
    r->job = &bk->job;
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
    sqlf_ld_init(&bk->ld, self->nparts,
                 batch_ops < 1 + t->nidx ? 1 + t->nidx : batch_ops);
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
s_bulk_result(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res)
{
    s_bulk_t *bk = (s_bulk_t *)r->job;
    sqlf_session_t *sess = r->sess;
    const char *msg = res->msg ? res->msg : "";
    bool ok = res->rc == HB_OK || res->rc == HB_EXISTS;
    if (res->epoch > sess->epoch)
        sess->epoch = res->epoch;
    sqlf_ld_batch_t *b = sqlf_ld_batch(&bk->ld, res->req_id);
    if (!b) {
        sqlf_park(self, r);
        return;
    }
    b->txn = 0;
    if (!ok && strncmp(msg, "XXCAT", 5) == 0 && !bk->ld.failmsg[0] &&
        b->retries < S_BULK_RETRIES) {
        /* Another DDL committed (any table's): the same batch at the new
         * version, if the table is still the one planned. */
        self->cat_reloads++;
        sqlf_reload(self, res->epoch);
        const sqlf_table_t *t = sqlf_catalog_find(self->cat, bk->t.name);
        if (t && t->id == bk->t.id && t->ncols == bk->t.ncols && t->nidx == bk->t.nidx &&
            !t->rw_id) {
            b->retries++;
            if (sqlf_ld_submit(self, b) == HB_OK) {
                sqlf_park(self, r);
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
        sqlf_ld_fail(&bk->ld, res->rc, msg);
    }
    s_bulk_pump(self, r);
}
