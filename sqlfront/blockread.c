/* blockread.c — reads inside a transaction block: the block's own view.
 *
 * A SELECT (or the reconnaissance read of a write, or INSERT ... SELECT's
 * query) inside a block must see the block's own writes, and whatever
 * snapshot rows it looks at must still be there at COMMIT. sqlf_block_read
 * reads a source at a snapshot, records every row it meets in the block's
 * overlay (its CHECK), and hands on each key's block view (block.c,
 * sqlf_ov_current) instead of the snapshot's row; the block's inserts that
 * the snapshot did not have are added at the end. sqlf_block_join runs a
 * nested-loop join with every level read that way.
 */
#include <string.h>

#include "front_int.h"
#include "hb_alloc.h"
#include "hb_key.h"

/* Reading a source inside a block: the snapshot's rows with the block's
 * own changes applied, and the rows the block inserted. */
typedef struct {
    sqlf_front_t *self;
    sqlf_req_t *r;
    sqlf_session_t *sess;
    const sqlf_source_t *src;
    sqlf_row_fn inner;
    void *inner_arg;
    hb_sqlerr_t *err;
    uint8_t *seen;  /* per block key that existed before this read: it met it */
    uint32_t nseen; /* keys in seen */
} s_bscan_t;

/* Notes that read b met block key ov (whatever reads nested in it do). */
static void
s_bscan_saw(s_bscan_t *b, const sqlf_ov_t *ov)
{
    uint32_t i = (uint32_t)(ov - b->r->b->ov);
    if (i < b->nseen)
        b->seen[i] = 1;
}

/* Gives one key's block view to the inner callback if it passes. */
static hb_rc_t
s_bscan_emit(s_bscan_t *b, sqlf_ov_t *ov)
{
    bool present;
    const uint8_t *row;
    size_t len;
    hb_rc_t rc =
        sqlf_ov_current(b->self, b->r, b->sess, ov, &present, &row, &len, b->err);
    if (rc || !present)
        return rc;
    hb_val_t cols[HB_SQL_MAX_COLS];
    uint32_t ncols = 0;
    if (hb_row_decode(row, len, cols, HB_SQL_MAX_COLS, &ncols) != HB_OK)
        return hb_sqlerr_set(b->err, "XX001", "corrupt row");
    bool pass = true;
    if (b->src->where.p) {
        hb_expr_env_t env = {.row = cols,
                             .ncols = ncols,
                             .alloc = hb_arena_alloc,
                             .alloc_arg = &b->r->arena,
                             .err = b->err};
        if ((rc = hb_expr_test(b->src->where.p, b->src->where.len, &env, &pass)) != HB_OK)
            return rc;
    }
    if (!pass)
        return HB_OK;
    return b->inner(b->inner_arg, ov->key, ov->klen, row, (uint32_t)len, cols, ncols);
}

static hb_rc_t
s_bscan_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
            uint32_t rawlen, const hb_val_t *row, uint32_t ncols)
{
    (void)row;
    (void)ncols;
    s_bscan_t *b = arg;
    sqlf_ov_t *ov =
        sqlf_ov_get(b->r, key, klen, sqlf_table_plen(b->src->table, key, klen));
    if (!ov->have_base)
        sqlf_ov_set_base(b->r, ov, true, raw, rawlen);
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
hb_rc_t
sqlf_block_read(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess,
                const sqlf_source_t *src, sqlf_row_fn fn, void *arg, hb_sqlerr_t *err)
{
    s_bscan_t b = {self, r, sess, src, fn, arg, err, NULL, 0};
    if (src->point) {
        sqlf_ov_t *ov =
            sqlf_ov_get(r, src->start.buf, (uint32_t)src->start.len, src->plen);
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
        sqlf_ixkeys_t ks = {0};
        rc = sqlf_read_entries(self, sess, &isrc, sqlf_ix_entry, &ks, &ep, err);
        if (rc == HB_CORRUPT)
            rc = hb_sqlerr_set(err, "XX001", "corrupt index entry of \"%s\"",
                               src->table->name);
        for (uint32_t i = 0; i < ks.n && rc == HB_OK; i++) {
            sqlf_ov_t *ov =
                sqlf_ov_get(r, ks.keys[i], ks.lens[i],
                            sqlf_table_plen(src->table, ks.keys[i], ks.lens[i]));
            s_bscan_saw(&b, ov);
            rc = s_bscan_emit(&b, ov);
        }
        hb_free(ks.keys);
        hb_free(ks.lens);
        hb_arena_free(&ks.arena);
    } else {
        rc = sqlf_read(self, sess, src, false, s_bscan_row, &b, &ep, err);
    }
    /* Keys of the range the snapshot read did not meet: the block's
     * inserts (absent from the snapshot when the read covered the whole
     * range), or, for an index read, rows the block wrote whose entries
     * did not match: their base is then read as a point. */
    for (uint32_t i = 0; i < nov_before && rc == HB_OK; i++) {
        sqlf_ov_t *ov = &r->b->ov[i];
        if (b.seen[i] || !s_in_range(src, ov->key, ov->klen))
            continue;
        if (!ov->have_base && !src->use_index)
            sqlf_ov_set_base(r, ov, false, NULL, 0);
        rc = s_bscan_emit(&b, ov);
    }
    hb_free(b.seen);
    return rc;
}

/* A nested-loop join inside the open block: each table's rows are read
 * through the block's view (sqlf_block_read: its own writes applied, every
 * snapshot row CHECKed at commit), bound by the rows of the tables before
 * it, as a join at a snapshot does outside blocks
 * (snapread.c). */
typedef struct {
    sqlf_front_t *self;
    sqlf_req_t *r;
    sqlf_session_t *sess;
    const sqlf_stmt_t *st;
    hb_val_t *row;  /* the joined row being built */
    uint32_t width; /* its columns */
    uint32_t k;     /* the level whose rows come next */
    sqlf_row_fn fn; /* gets each joined row that passes the filter */
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
    hb_rc_t rc = sqlf_join_source(bj->self, &st->join[k], bj->row, &bj->r->arena, &src,
                                  &none, bj->err);
    if (rc || none)
        return rc;
    bj->k = k;
    return sqlf_block_read(bj->self, bj->r, bj->sess, &src, s_bjoin_row, bj, bj->err);
}

/* Runs the join of st inside the open block, giving fn each joined row. */
hb_rc_t
sqlf_block_join(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess,
                const sqlf_stmt_t *st, sqlf_row_fn fn, void *arg, hb_sqlerr_t *err)
{
    const sqlf_join_t *last = &st->join[st->njoin - 1];
    uint32_t width = last->off + last->table->ncols;
    s_bjoin_t bj = {self, r, sess, st, NULL, width, 0, fn, arg, err};
    bj.row = hb_calloc(width ? width : 1, sizeof *bj.row);
    hb_rc_t rc = s_bjoin_level(&bj, 0);
    hb_free(bj.row);
    return rc;
}
