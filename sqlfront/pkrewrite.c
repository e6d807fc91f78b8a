/* pkrewrite.c — ALTER TABLE ADD PRIMARY KEY: copying the rows.
 *
 * A table without a primary key stores its rows under row ids; adding a
 * key moves every row to a new table id keyed by the new key. The DDL
 * freezes the table and names the new id (sqlf_table_t.rw_id); this job
 * then reads the old rows partition by partition and loads them as
 * INSERTs into the new id in single-partition batches (loader.c). When
 * every row is in, a final ALTER makes the new id the table's; if any
 * batch failed (a duplicate key: 23505, a NULL in a key column: 23502),
 * an undo ALTER puts the table back as it was and the statement answers
 * the failure. Entry: sqlf_pkrewrite_start, from the DDL's result.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "front_int.h"
#include "hb_alloc.h"
#include "hb_key.h"
#include "hb_mp.h"
#include "hb_sqlop.h"

/* The table is frozen while it rewrites (every write answers 55006, and
 * one planned before the DDL aborts XXCAT), so the copy needs no CHECKs:
 * each old row becomes one INSERT into the new id (conflict: 23505), and
 * the INSERTs are grouped by the partition of their new key, so every
 * batch is a single-partition transaction of at most max_locks - 1 keys.
 * Up to SQLF_LD_INFLIGHT batches are in flight at once. */

#define S_RW_PAGE    10000 /* old rows read per scan */
#define S_RW_RETRIES 100   /* resubmits after XXCAT */

/* The job: the copy of one table's rows into its new id. */
typedef struct {
    sqlf_job_t job;
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
    sqlf_ld_t ld; /* the copy's batches (a failure: undo, then answer it) */
    int phase;    /* 0 copying, 1 final DDL, 2 undo DDL */
    uint64_t ddl_txn;
} s_rw_t;

static void
s_rw_destroy(sqlf_job_t *job)
{
    s_rw_t *rw = (s_rw_t *)job;
    sqlf_ld_clear(&rw->ld);
    for (uint32_t c = 0; rw->colbuf && c < rw->ncols; c++) {
        hb_free(rw->colbuf[c].def);
        hb_free(rw->undobuf[c].def);
    }
    hb_free(rw->colbuf);
    hb_free(rw->undobuf);
    hb_free(rw);
}

static bool
s_rw_owns(const sqlf_job_t *job, uint64_t id)
{
    s_rw_t *rw = (s_rw_t *)job;
    if (id == 0)
        return false;
    return rw->ddl_txn == id || sqlf_ld_batch(&rw->ld, id) != NULL;
}

static void s_rw_pump(sqlf_front_t *self, sqlf_req_t *r);
static void s_rw_result(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res);

/* Its transactions: r->txn_req is not used, so a time-out forgets none of
 * them (forget: NULL, as before the split). */
static const sqlf_job_ops_t s_rw_ops = {
    .on_result = s_rw_result,
    .owns = s_rw_owns,
    .destroy = s_rw_destroy,
};

void
sqlf_pkrewrite_start(sqlf_front_t *self, sqlf_req_t *r)
{
    const sqlf_table_t *t = sqlf_catalog_find(self->cat, r->cur->ddl_name);
    if (!t || !t->rw_id || !t->rowid) {
        sqlf_fail(self, r, HB_ABORTED, "40001",
                  "the table changed while ALTER TABLE started");
        return;
    }
    s_rw_t *rw = hb_calloc(1, sizeof *rw);
    rw->job.ops = &s_rw_ops;
    r->job = &rw->job;
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
    sqlf_ld_init(&rw->ld, self->nparts, locks < HB_SQL_MAX_OPS ? locks : HB_SQL_MAX_OPS);
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
        if (!sqlf_key_put_val(&key, v))
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
    if (rw->ld.bucket_n[p] >= rw->ld.batch_ops ||
        rw->ld.bucket[p].size > self->max_value / 2)
        sqlf_ld_seal(&rw->ld, p);
    return HB_OK;
}

/* Reads the next page of old rows into the buckets. */
static hb_rc_t
s_rw_read(sqlf_front_t *self, sqlf_req_t *r, hb_sqlerr_t *err)
{
    s_rw_t *rw = (s_rw_t *)r->job;
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
    int64_t give_up = sqlf_now_ms() + SQLF_READ_WAIT_MS;
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
        if (sqlf_now_ms() > give_up)
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
s_rw_pump(sqlf_front_t *self, sqlf_req_t *r)
{
    s_rw_t *rw = (s_rw_t *)r->job;
    hb_sqlerr_t err = {{0}, {0}};
    sqlf_ld_t *ld = &rw->ld;
    while (!ld->failmsg[0] && rw->phase == 0) {
        if (ld->nready) {
            if (ld->nfly == SQLF_LD_INFLIGHT)
                break;
            sqlf_ld_send(self, ld);
            continue;
        }
        if (rw->read_done) {
            if (sqlf_ld_seal_all(ld))
                continue;
            if (ld->nfly)
                break;
            rw->phase = 1; /* every row is in: the new definition */
            break;
        }
        if (s_rw_read(self, r, &err) != HB_OK) {
            char m[sizeof ld->failmsg];
            snprintf(m, sizeof m, "%s %s", err.sqlstate, err.msg);
            sqlf_ld_fail(ld, HB_ABORTED, m);
        }
    }
    if (ld->failmsg[0] && rw->phase == 0 && ld->nfly == 0)
        rw->phase = 2;
    if ((rw->phase == 1 || rw->phase == 2) && !rw->ddl_txn) {
        if (s_rw_ddl(self, rw, rw->phase == 1 ? &rw->final : &rw->undo) != HB_OK) {
            sqlf_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                      hb_client_last_error(self->cli));
            return;
        }
    }
    sqlf_park(self, r);
}

/* The result of the final (or undo) definition's DDL. */
static void
s_rw_ddl_result(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res)
{
    s_rw_t *rw = (s_rw_t *)r->job;
    const char *msg = res->msg ? res->msg : "";
    bool ok = res->rc == HB_OK || res->rc == HB_EXISTS;
    rw->ddl_txn = 0;
    if (ok || strncmp(msg, "XXCAT", 5) == 0)
        sqlf_ddl_committed(self, res->epoch);
    if (!ok) {
        if (strncmp(msg, "XXCAT", 5) == 0 && rw->ld.fly[0].retries++ < S_RW_RETRIES) {
            const sqlf_table_t *t = sqlf_catalog_find(self->cat, rw->name);
            if (t && t->rw_id == rw->new_id) {
                s_rw_pump(self, r); /* the same DDL at the new version */
                return;
            }
        }
        sqlf_fail(self, r, res->rc, "XX000", "ALTER TABLE: %s", msg);
        return;
    }
    if (rw->phase == 2) {
        char m[sizeof rw->ld.failmsg];
        snprintf(m, sizeof m, "%s", rw->ld.failmsg);
        sqlf_finish(self, r, rw->ld.failrc, m);
        return;
    }
    sqlf_group_tag(r, "ALTER TABLE", res->epoch);
    sqlf_job_end(r);
    sqlf_cur_drop(r);
    r->next++;
    r->cat_retries = 0;
    sqlf_advance(self, r);
}

/* A result for a request in ALTER TABLE ADD PRIMARY KEY: the DDL's, or a
 * batch's. */
static void
s_rw_result(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res)
{
    s_rw_t *rw = (s_rw_t *)r->job;
    sqlf_session_t *sess = r->sess;
    const char *msg = res->msg ? res->msg : "";
    bool ok = res->rc == HB_OK || res->rc == HB_EXISTS;
    if (res->epoch > sess->epoch)
        sess->epoch = res->epoch;
    if (rw->ddl_txn && res->req_id == rw->ddl_txn) {
        s_rw_ddl_result(self, r, res);
        return;
    }
    sqlf_ld_batch_t *b = sqlf_ld_batch(&rw->ld, res->req_id);
    if (!b) {
        sqlf_park(self, r);
        return;
    }
    b->txn = 0;
    if (!ok && strncmp(msg, "XXCAT", 5) == 0 && !rw->ld.failmsg[0] &&
        b->retries < S_RW_RETRIES) {
        /* Another DDL committed (any table's): go on at the new version
         * if this table is still the one being rewritten. */
        self->cat_reloads++;
        sqlf_reload(self, res->epoch);
        const sqlf_table_t *t = sqlf_catalog_find(self->cat, rw->name);
        if (t && t->rw_id == rw->new_id) {
            b->retries++;
            if (sqlf_ld_submit(self, b) == HB_OK) {
                sqlf_park(self, r);
                return;
            }
        }
        msg = "40001 the table changed while ALTER TABLE was copying it";
    }
    rw->ld.nfly--;
    if (!ok) {
        sqlf_ld_fail(&rw->ld, res->rc, msg);
    }
    s_rw_pump(self, r);
}
