/* snapread.c — snapshot reads at one consistent cut.
 *
 * Every read outside a transaction block is a snapshot read: each
 * partition it spans is read at the same applied epoch (storage keeps
 * recent epochs' snapshots), no older than the session's last commit, so
 * a reader never sees half of a transaction. sqlf_read reads a table's
 * key range (sqlf_read_entries: index entries, undecoded); sqlf_read_src
 * goes through the source's index when the planner chose one, reading the
 * entries and then their rows at the same epoch; sqlf_join_read runs a
 * nested-loop join with every table at one epoch, starting again when a
 * read meets another. A read that meets a newer catalog than its
 * statement's plan fails XXCAT (stmt.c plans it again).
 *
 * Reads inside a block go through blockread.c instead.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "front_int.h"
#include "hb_alloc.h"
#include "hb_key.h"

#define S_SCAN_PAGE 10000 /* rows per scan page */

/* ------------------------------------------------------------------ */
/* One partition, one table                                             */
/* ------------------------------------------------------------------ */

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
s_fetch_part(sqlf_front_t *self, sqlf_session_t *sess, const sqlf_source_t *src,
             uint32_t p, uint64_t at_least, uint64_t exact, s_cut_t *cut,
             hb_sqlerr_t *err)
{
    uint8_t start[HB_KEY_MAX + 1], end[HB_KEY_MAX + 1];
    size_t slen, elen;
    uint64_t want = sess->epoch > at_least ? sess->epoch : at_least;
    int64_t give_up = sqlf_now_ms() + SQLF_READ_WAIT_MS;
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
            return hb_sqlerr_set(err, "08006", "snapshot read of partition %u failed: %s",
                                 p, hb_rc_str(rc));
        if (res->rc != HB_OK) {
            rc = hb_sqlerr_set(err, "XX000", "snapshot read of partition %u failed: %s",
                               p, res->msg);
            hb_scan_result_destroy(&res);
            return rc;
        }
        if (res->epoch < want || (cut->n && res->epoch != cut->epoch)) {
            /* Not there yet (the session's commit must be visible), or
             * the partition moved on between pages: read again. */
            hb_scan_result_destroy(&res);
            if (sqlf_now_ms() > give_up)
                return hb_sqlerr_set(
                    err, "57014", "partition %u did not reach epoch %" PRIu64 " in time",
                    p, want);
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
            return hb_sqlerr_set(err, "XXCAT",
                                 "catalog version %" PRIu64 " at epoch %" PRIu64
                                 ", planned at %" PRId64,
                                 ver, at, sqlf_catalog_version(self->cat));
        }
        HB_GROW(cut->pages, cut->cap, cut->n + 1, 4);
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
           sqlf_row_fn fn, void *arg, hb_sqlerr_t *err)
{
    uint32_t ncols = 0;
    if (hb_row_decode(sr->val, sr->vlen, row, HB_SQL_MAX_COLS, &ncols) != HB_OK)
        return hb_sqlerr_set(err, "XX001", "corrupt row in table \"%s\"",
                             src->table ? src->table->name : "?");
    bool pass = true;
    if (filter && src->where.p) {
        hb_arena_t *tmp = NULL;
        hb_expr_env_t env = {.row = row,
                             .ncols = ncols,
                             .alloc = hb_arena_alloc,
                             .alloc_arg = &tmp,
                             .err = err};
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
s_read_any(sqlf_front_t *self, sqlf_session_t *sess, const sqlf_source_t *src,
           bool filter, bool raw, sqlf_row_fn fn, void *arg, uint64_t *epoch_out,
           hb_sqlerr_t *err)
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
            self->cut_failures++;
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

/* Reads the rows of src (those that pass its filter when filter is set),
 * at snapshots that include the session's last commit, calling fn for
 * each. */
hb_rc_t
sqlf_read(sqlf_front_t *self, sqlf_session_t *sess, const sqlf_source_t *src, bool filter,
          sqlf_row_fn fn, void *arg, uint64_t *epoch_out, hb_sqlerr_t *err)
{
    return s_read_any(self, sess, src, filter, false, fn, arg, epoch_out, err);
}

/* Reads src's stored values undecoded (index entries). */
hb_rc_t
sqlf_read_entries(sqlf_front_t *self, sqlf_session_t *sess, const sqlf_source_t *src,
                  sqlf_row_fn fn, void *arg, uint64_t *epoch_out, hb_sqlerr_t *err)
{
    return s_read_any(self, sess, src, false, true, fn, arg, epoch_out, err);
}

hb_rc_t
sqlf_ix_entry(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
              uint32_t rawlen, const hb_val_t *row, uint32_t ncols)
{
    (void)key;
    (void)klen;
    (void)row;
    (void)ncols;
    sqlf_ixkeys_t *ks = arg;
    if (rawlen < 4 || rawlen > HB_KEY_MAX)
        return HB_CORRUPT; /* an entry's value is its row's key */
    size_t cap = ks->cap;  /* the two arrays grow alike */
    HB_GROW(ks->keys, cap, ks->n + 1, 64);
    HB_GROW(ks->lens, ks->cap, ks->n + 1, 64);
    ks->keys[ks->n] = hb_arena_alloc(&ks->arena, rawlen);
    memcpy(ks->keys[ks->n], raw, rawlen);
    ks->lens[ks->n++] = rawlen;
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Index reads                                                          */
/* ------------------------------------------------------------------ */

/* Reads src through its index when it has one (outside blocks), else as
 * sqlf_read. The entries are read at one cut (epoch E); every row they name
 * must then be read at E too (entries live on their row's partition), or
 * the whole read starts again: a row and its entries are never seen at
 * two different epochs. */
hb_rc_t
sqlf_read_src(sqlf_front_t *self, sqlf_session_t *sess, const sqlf_source_t *src,
              bool filter, sqlf_row_fn fn, void *arg, uint64_t *epoch_out,
              hb_sqlerr_t *err)
{
    if (!src->use_index)
        return sqlf_read(self, sess, src, filter, fn, arg, epoch_out, err);
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
        sqlf_ixkeys_t ks = {0};
        uint64_t e;
        rc = sqlf_read_entries(self, sess, &isrc, sqlf_ix_entry, &ks, &e, err);
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
                              hb_key_partition(one.start.buf, one.plen, self->nparts), e,
                              e, &rows[i], err);
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
            return sqlf_read(self, sess, src, filter, fn, arg, epoch_out, err);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Joins                                                                */
/* ------------------------------------------------------------------ */

/* One run of a nested-loop join at one epoch. */
typedef struct {
    sqlf_front_t *self;
    sqlf_session_t *sess;
    const sqlf_stmt_t *st;
    hb_arena_t **arena;
    hb_val_t *row;  /* the joined row being built */
    uint64_t epoch; /* the epoch every read must be at (0: the first sets it) */
    uint64_t seen;  /* the newest epoch a read met */
    bool moved;     /* a read was at another epoch: run again */
    hb_val_t **out; /* joined rows that passed the filter */
    uint32_t nout, capout;
    uint32_t width; /* columns of a joined row */
    hb_sqlerr_t *err;
} s_join_t;

bool
sqlf_key_put_val(hb_key_t *k, const hb_val_t *v)
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
hb_rc_t
sqlf_join_source(const sqlf_front_t *self, const sqlf_join_t *j, const hb_val_t *row,
                 hb_arena_t **arena, sqlf_source_t *src, bool *none, hb_sqlerr_t *err)
{
    const sqlf_table_t *t = j->table;
    *src = (sqlf_source_t){.table = t, .partition = -1};
    *none = false;
    hb_key_init(&src->start, t->id);
    hb_key_t pkey;
    hb_key_init(&pkey, t->id);
    hb_expr_env_t env = {.row = (hb_val_t *)row,
                         .ncols = j->off,
                         .alloc = hb_arena_alloc,
                         .alloc_arg = arena,
                         .err = err};
    for (uint32_t b = 0; b < j->nbound; b++) {
        hb_val_t v, c;
        const sqlf_col_t *col = &t->cols[t->pk[b]];
        if (hb_expr_eval(j->bind[b].p, j->bind[b].len, &env, &v) != HB_OK ||
            hb_val_coerce(&v, col->type, col->typmod, hb_arena_alloc, arena, &c, err) !=
                HB_OK)
            return HB_INVALID;
        if (c.type == HB_VAL_NIL) {
            *none = true; /* key = NULL matches nothing */
            return HB_OK;
        }
        if (!sqlf_key_put_val(&src->start, &c))
            return hb_sqlerr_set(err, "0A000", "join key of an unsupported type");
        if (b < t->npart)
            sqlf_key_put_val(&pkey, &c);
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
            hb_expr_env_t env = {.row = jn->row,
                                 .ncols = jn->width,
                                 .alloc = hb_arena_alloc,
                                 .alloc_arg = jn->arena,
                                 .err = jn->err};
            hb_rc_t rc = hb_expr_test(st->src.where.p, st->src.where.len, &env, &pass);
            if (rc)
                return rc;
        }
        if (!pass)
            return HB_OK;
        if (jn->nout >= SQLF_MAX_ROWS)
            return hb_sqlerr_set(jn->err, "54000", "a join of more than %d rows",
                                 SQLF_MAX_ROWS);
        hb_val_t *copy = hb_arena_alloc(jn->arena, jn->width * sizeof *copy);
        for (uint32_t c = 0; c < jn->width; c++)
            copy[c] = sqlf_keep(jn->arena, jn->row[c]);
        HB_GROW(jn->out, jn->capout, jn->nout + 1, 64);
        jn->out[jn->nout++] = copy;
        return HB_OK;
    }
    const sqlf_join_t *j = &st->join[k];
    const sqlf_table_t *t = j->table;
    sqlf_source_t src;
    bool none;
    hb_rc_t brc = sqlf_join_source(jn->self, j, jn->row, jn->arena, &src, &none, jn->err);
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
        rc = s_fetch_part(jn->self, jn->sess, &src, p, jn->epoch, jn->epoch, &cut,
                          jn->err);
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
                    rc = hb_sqlerr_set(jn->err, "XX001", "corrupt row in table \"%s\"",
                                       t->name);
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
hb_rc_t
sqlf_join_read(sqlf_front_t *self, sqlf_session_t *sess, const sqlf_stmt_t *st,
               hb_arena_t **arena, sqlf_row_fn fn, void *arg, uint64_t *epoch_out,
               hb_sqlerr_t *err)
{
    const sqlf_join_t *last = &st->join[st->njoin - 1];
    uint32_t width = last->off + last->table->ncols;
    uint64_t target = 0;
    self->reads++;
    for (int attempt = 0;; attempt++) {
        s_join_t jn = {self,  sess, st, arena, NULL,  target, 0,
                       false, NULL, 0,  0,     width, err};
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
            self->cut_failures++;
            return hb_sqlerr_set(err, "40001",
                                 "could not read the join at one epoch; try again");
        }
    }
}
