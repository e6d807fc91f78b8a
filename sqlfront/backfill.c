/* backfill.c — CREATE INDEX: entries for the rows written before it.
 *
 * The CREATE INDEX DDL makes the index exist, not ready: from its commit
 * on, every write keeps the index's entries, but reads do not use it yet.
 * This job then fills in the entries of the rows already there, partition
 * by partition, in batches of S_BACKFILL_ROWS rows read at a snapshot;
 * each batch is one transaction that CHECKs every row it read (a row
 * changed since: 40001, and the batch is read again) and puts its entry.
 * When every partition is done, an ALTER of the table's definition marks
 * the index ready, and the statement answers. Entry: sqlf_backfill_start,
 * from the DDL's result (stmt.c).
 */
#include <string.h>

#include "front_int.h"
#include "hb_alloc.h"
#include "hb_key.h"
#include "hb_mp.h"
#include "hb_sqlop.h"

#define S_BACKFILL_ROWS    500
#define S_BACKFILL_RETRIES 100

/* The job: CREATE INDEX after its DDL committed. */
typedef struct {
    sqlf_job_t job;
    int phase;                      /* 1 backfilling, 2 marking the index ready */
    uint32_t part;                  /* the partition being backfilled, */
    uint8_t cursor[HB_KEY_MAX + 1]; /* from this key on */
    uint32_t cursor_len;
    uint8_t last[HB_KEY_MAX]; /* last row key of the batch in flight */
    uint32_t last_len;
    uint32_t batch; /* rows in it */
    int retries;    /* resubmits since the last success */
} s_bf_job_t;

/* One batch being read: the entries of the rows met become ops. */
typedef struct {
    s_bf_job_t *bf;
    const sqlf_table_t *t;
    const sqlf_index_t *ix;
    msgpack_sbuffer *ops;
    uint32_t n;
} s_bf_t;

static hb_rc_t
s_bf_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
         uint32_t rawlen, const hb_val_t *row, uint32_t ncols)
{
    s_bf_t *b = arg;
    if (b->bf->batch >= S_BACKFILL_ROWS)
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
    memcpy(b->bf->last, key, klen);
    b->bf->last_len = klen;
    b->bf->batch++;
    return HB_OK;
}

/* Looks up the index being built; NULL (request failed) if it is gone. */
static const sqlf_index_t *
s_bf_index(sqlf_front_t *self, sqlf_req_t *r, const sqlf_table_t **t)
{
    *t = sqlf_catalog_find(self->cat, r->cur->ddl_name);
    for (uint32_t i = 0; *t && i < (*t)->nidx; i++)
        if ((*t)->idx[i].no == r->cur->ix_no)
            return &(*t)->idx[i];
    sqlf_fail(self, r, HB_ABORTED, "40001",
              "the table or index changed while CREATE INDEX was filling it");
    return NULL;
}

/* Submits the next batch of entries, or the DDL that marks the index
 * ready when every partition is done; parks r (or fails it). */
static void
s_backfill_step(sqlf_front_t *self, sqlf_req_t *r)
{
    s_bf_job_t *bf = (s_bf_job_t *)r->job;
    sqlf_session_t *sess = r->sess;
    const sqlf_table_t *t;
    const sqlf_index_t *ix = s_bf_index(self, r, &t);
    if (!ix)
        return;
    hb_sqlerr_t err = {{0}, {0}};
    while (bf->phase == 1) {
        if (bf->part >= self->nparts) {
            bf->phase = 2;
            break;
        }
        sqlf_source_t src = {
            .table = t, .partition = -1, .has_fixed = true, .fixed = bf->part};
        if (bf->cursor_len) {
            memcpy(src.start.buf, bf->cursor, bf->cursor_len);
            src.start.len = bf->cursor_len;
        } else {
            hb_key_init(&src.start, t->id);
        }
        hb_key_init(&src.end, t->id + 1);
        msgpack_sbuffer ops;
        msgpack_sbuffer_init(&ops);
        s_bf_t b = {bf, t, ix, &ops, 0};
        bf->batch = 0;
        uint64_t ep;
        hb_rc_t rc = sqlf_read(self, sess, &src, false, s_bf_row, &b, &ep, &err);
        if (rc != HB_OK && rc != HB_BUSY) {
            msgpack_sbuffer_destroy(&ops);
            if (strcmp(err.sqlstate, "XXCAT") == 0 &&
                bf->retries++ < S_BACKFILL_RETRIES) {
                sqlf_reload(self, self->read_catver_epoch);
                if (!(ix = s_bf_index(self, r, &t)))
                    return;
                continue; /* the same batch on the newer catalog */
            }
            sqlf_fail_err(self, r, &err);
            return;
        }
        if (bf->batch == 0) {
            msgpack_sbuffer_destroy(&ops);
            bf->part++;
            bf->cursor_len = 0;
            continue;
        }
        rc = sqlf_submit_exec(self, r, &ops, b.n);
        msgpack_sbuffer_destroy(&ops);
        if (rc != HB_OK) {
            sqlf_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                      hb_client_last_error(self->cli));
            return;
        }
        sqlf_park(self, r);
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
    hb_val_t args[4] = {hb_val_int(sqlf_catalog_version(self->cat)),
                        hb_val_int(HB_SQLDDL_ALTER),
                        hb_val_str(nt.name, (uint32_t)strlen(nt.name)),
                        {.type = HB_VAL_BIN}};
    args[3].u.s.ptr = (const uint8_t *)def.data;
    args[3].u.s.len = (uint32_t)def.size;
    hb_rc_t rc = hb_client_submit(self->cli, "sql.ddl", args, 4, &r->txn_req);
    msgpack_sbuffer_destroy(&def);
    if (rc != HB_OK) {
        sqlf_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                  hb_client_last_error(self->cli));
        return;
    }
    sqlf_park(self, r);
}

/* A result for a request in the middle of CREATE INDEX. */
static void
s_backfill_result(sqlf_front_t *self, sqlf_req_t *r, const hb_result_t *res)
{
    s_bf_job_t *bf = (s_bf_job_t *)r->job;
    sqlf_session_t *sess = r->sess;
    const char *msg = res->msg ? res->msg : "";
    r->txn_req = 0;
    if (res->epoch > sess->epoch)
        sess->epoch = res->epoch;
    if (res->rc == HB_OK || res->rc == HB_EXISTS) {
        bf->retries = 0;
        if (bf->phase == 1) {
            self->index_backfilled += bf->batch;
            memcpy(bf->cursor, bf->last, bf->last_len);
            bf->cursor[bf->last_len] = 0; /* just after the last row */
            bf->cursor_len = bf->last_len + 1;
            s_backfill_step(self, r);
            return;
        }
        /* Ready. */
        sqlf_ddl_committed(self, res->epoch);
        sqlf_job_end(r);
        sqlf_group_tag(r, r->cur->tag, res->epoch);
        sqlf_cur_drop(r);
        r->next++;
        sqlf_advance(self, r);
        return;
    }
    bool again = strncmp(msg, "40001", 5) == 0 || strncmp(msg, "XXCAT", 5) == 0;
    if (again && bf->retries++ < S_BACKFILL_RETRIES) {
        /* A row changed under the batch, or the catalog moved: read again. */
        if (strncmp(msg, "XXCAT", 5) == 0) {
            self->cat_reloads++;
            sqlf_reload(self, res->epoch);
        }
        s_backfill_step(self, r);
        return;
    }
    sqlf_fail(self, r, res->rc, again ? "40001" : "XX000", "CREATE INDEX: %s", msg);
}

static void
s_bf_destroy(sqlf_job_t *job)
{
    hb_free(job);
}

static const sqlf_job_ops_t s_bf_ops = {
    .on_result = s_backfill_result,
    .destroy = s_bf_destroy,
};

void
sqlf_backfill_start(sqlf_front_t *self, sqlf_req_t *r)
{
    s_bf_job_t *bf = hb_calloc(1, sizeof *bf);
    bf->job.ops = &s_bf_ops;
    bf->phase = 1;
    r->job = &bf->job;
    s_backfill_step(self, r);
}
