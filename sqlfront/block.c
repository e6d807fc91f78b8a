/* block.c — transaction blocks: the overlay, CHECKs, COMMIT and CALL.
 *
 * A session's block (BEGIN ... COMMIT, or one a statement opens itself:
 * CALL, INSERT ... SELECT, writes to indexed tables, strict reads) collects
 * its writes as sql.exec ops and answers its reads at once from a
 * snapshot. Every key it touches has an overlay entry (sqlf_ov_t): the
 * snapshot value its read saw, and the block's own ops on the key, which
 * applied in order (hb_sqlop_apply, as storage does) give the block's view
 * of the row. Each snapshot value the block used becomes a CHECK op
 * (the row's bytes, or only whether it exists when that is all an answer
 * depended on), so at COMMIT storage runs the CHECKs first and aborts the
 * block 40001 if any row changed since; stmt.c then runs the block again
 * from its BEGIN when it began in this request.
 *
 * Here: the overlay (sqlf_ov_*), adding ops with their index entries
 * (sqlf_block_add_data_op), COMMIT (sqlf_block_commit), the answers of a
 * request that ends inside its block (sqlf_block_answer_open), and CALL
 * (a procedure body runs in the block in place of the request's
 * statements). Reads through the overlay are blockread.c's.
 */
#include <string.h>
#include <time.h>

#include "front_int.h"
#include "hb_alloc.h"
#include "hb_key.h"
#include "hb_mp.h"
#include "hb_sqlop.h"

/* ------------------------------------------------------------------ */
/* The block and the keys it touched                                    */
/* ------------------------------------------------------------------ */

/* Frees what a block holds (the block struct stays). */
void
sqlf_blk_clear(sqlf_blk_t *b)
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

/* Adds a statement to the open block (taking st); returns it. */
sqlf_blockstmt_t *
sqlf_block_add(sqlf_req_t *r, sqlf_stmt_t *st, uint32_t nops_before)
{
    HB_GROW(r->b->block, r->b->capblock, r->b->nblock + 1, 8);
    sqlf_blockstmt_t *b = &r->b->block[r->b->nblock++];
    memset(b, 0, sizeof *b);
    b->st = *st;
    b->first_op = nops_before;
    b->nops = r->b->block_nops - nops_before;
    b->hidden = r->call.depth > 0;
    b->serial = r->serial;
    return b;
}

/* Makes pushes go to b's group (call again to switch back). */
void
sqlf_swap_vals(sqlf_req_t *r, sqlf_blockstmt_t *b)
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

void
sqlf_block_reset(sqlf_req_t *r)
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

sqlf_ov_t *
sqlf_ov_find(sqlf_req_t *r, const uint8_t *key, uint32_t klen)
{
    for (uint32_t i = 0; i < r->b->nov; i++)
        if (r->b->ov[i].klen == klen && memcmp(r->b->ov[i].key, key, klen) == 0)
            return &r->b->ov[i];
    return NULL;
}

sqlf_ov_t *
sqlf_ov_get(sqlf_req_t *r, const uint8_t *key, uint32_t klen, uint32_t plen)
{
    sqlf_ov_t *ov = sqlf_ov_find(r, key, klen);
    if (ov)
        return ov;
    HB_GROW(r->b->ov, r->b->capov, r->b->nov + 1, 16);
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
s_ov_set_base_ck(sqlf_req_t *r, sqlf_ov_t *ov, bool present, const uint8_t *raw,
                 size_t len, int check)
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
    if (check == SQLF_CK_NONE)
        return;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &r->b->block_checks, msgpack_sbuffer_write);
    if (check == SQLF_CK_EXISTS)
        hb_sqlop_pack_check_exists(&pk, ov->key, ov->klen, ov->plen, present);
    else
        hb_sqlop_pack_check(&pk, ov->key, ov->klen, ov->plen, present ? ov->base : NULL,
                            present ? len : 0);
    r->b->block_nchecks++;
}

void
sqlf_ov_set_base(sqlf_req_t *r, sqlf_ov_t *ov, bool present, const uint8_t *raw,
                 size_t len)
{
    s_ov_set_base_ck(r, ov, present, raw, len, SQLF_CK_FULL);
}

/* Appends one op (len bytes) to the block and to its key's history. */
static hb_rc_t
s_block_add_op(sqlf_req_t *r, const uint8_t *op, size_t len, hb_sqlerr_t *err)
{
    hb_sqlop_head_t h;
    if (hb_sqlop_head(op, len, &h) != HB_OK)
        return hb_sqlerr_set(err, "XX000", "malformed op in block");
    if (r->b->block_nops + r->b->block_nchecks >= HB_SQL_MAX_OPS)
        return hb_sqlerr_set(err, "54000", "transaction block changes too many rows");
    size_t cap = r->b->capops; /* the two arrays grow alike */
    HB_GROW(r->b->opofs, cap, r->b->block_nops + 1, 64);
    HB_GROW(r->b->oplen, r->b->capops, r->b->block_nops + 1, 64);
    r->b->opofs[r->b->block_nops] = (uint32_t)r->b->block_ops.size;
    r->b->oplen[r->b->block_nops] = (uint32_t)len;
    msgpack_sbuffer_write(&r->b->block_ops, (const char *)op, len);
    sqlf_ov_t *ov = sqlf_ov_get(r, h.key, h.klen, h.plen);
    HB_GROW(ov->ops, ov->capops, ov->nops + 1, 4);
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
s_point_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
            uint32_t rawlen, const hb_val_t *row, uint32_t ncols)
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
hb_rc_t
sqlf_ov_current(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess, sqlf_ov_t *ov,
                bool *present, const uint8_t **row, size_t *len, hb_sqlerr_t *err)
{
    if (ov->have_base && ov->check == SQLF_CK_EXISTS) {
        /* Only its existence was checked so far, but that read kept the
         * row's bytes: they are a snapshot value like any other, so CHECK
         * them too (the existence check stays) instead of reading again. */
        s_ov_set_base_ck(r, ov, ov->base_present, ov->base, ov->baselen, SQLF_CK_FULL);
    } else if (!ov->have_base || ov->check != SQLF_CK_FULL) {
        /* The row's bytes matter now: read it and CHECK them. */
        sqlf_source_t src = {.partition = -1, .point = true, .plen = ov->plen};
        memcpy(src.start.buf, ov->key, ov->klen);
        src.start.len = ov->klen;
        s_point_t pt = {.arena = &r->arena};
        uint64_t ep;
        hb_rc_t rc = sqlf_read(self, sess, &src, false, s_point_row, &pt, &ep, err);
        if (rc)
            return rc;
        sqlf_ov_set_base(r, ov, pt.found, pt.raw, pt.len);
    }
    bool p = ov->base_present;
    const uint8_t *cur = ov->base;
    size_t cl = ov->baselen;
    for (uint32_t i = 0; i < ov->nops; i++) {
        hb_sqlop_effect_t eff;
        uint32_t k = ov->ops[i];
        if (hb_sqlop_apply((const uint8_t *)r->b->block_ops.data + r->b->opofs[k],
                           r->b->oplen[k], p, cur, cl, 0, hb_arena_alloc, &r->arena, &eff,
                           err) != HB_OK)
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

/* ------------------------------------------------------------------ */
/* Writes and their index entries                                       */
/* ------------------------------------------------------------------ */

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
        if (hb_mp_read_array(&rd, &m) != HB_OK || m < 1 ||
            hb_mp_read_uint(&rd, &col) != HB_OK)
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
hb_rc_t
sqlf_block_add_data_op(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess,
                       const sqlf_table_t *t, const uint8_t *op, size_t len,
                       hb_sqlerr_t *err)
{
    hb_sqlop_head_t h;
    if (!t || t->nidx == 0 || hb_sqlop_head(op, len, &h) != HB_OK ||
        (h.kind == HB_SQLOP_UPDATE && !s_update_touches_index(t, op, len)))
        return s_block_add_op(r, op, len, err);
    sqlf_ov_t *ov = sqlf_ov_get(r, h.key, h.klen, h.plen);
    bool had, has;
    const uint8_t *before, *after;
    size_t blen, alen;
    hb_rc_t rc = sqlf_ov_current(self, r, sess, ov, &had, &before, &blen, err);
    if (rc || (rc = s_block_add_op(r, op, len, err)))
        return rc;
    ov = sqlf_ov_find(r, h.key, h.klen); /* the array may have moved */
    if ((rc = sqlf_ov_current(self, r, sess, ov, &has, &after, &alen, err)))
        return rc;
    hb_val_t *o = hb_arena_alloc(&r->arena, 2 * HB_SQL_MAX_COLS * sizeof *o),
             *nw = o + HB_SQL_MAX_COLS;
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

/* ------------------------------------------------------------------ */
/* COMMIT                                                               */
/* ------------------------------------------------------------------ */

/* Submits the block: its CHECKs first (they validate the snapshot values
 * its reads saw, before any of its writes), then its ops. */
static hb_rc_t
s_submit_block(sqlf_front_t *self, sqlf_req_t *r)
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
void
sqlf_block_groups(sqlf_req_t *r, const hb_val_t *ops, uint32_t nops, uint64_t epoch,
                  hb_sqlerr_t *err)
{
    for (uint32_t i = 0; i < r->b->nblock; i++) {
        sqlf_blockstmt_t *b = &r->b->block[i];
        if (b->hidden || b->serial != r->serial)
            continue; /* earlier requests answered for their statements */
        if (b->st.kind == SQLF_ST_WRITE) {
            const hb_val_t *v = b->first_op + b->nops <= nops ? &ops[b->first_op] : NULL;
            sqlf_swap_vals(r, b);
            sqlf_write_group(r, &b->st, v, v ? b->nops : 0, epoch, err);
            sqlf_swap_vals(r, b);
        }
        for (uint32_t k = 0; k < b->nvals; k++)
            sqlf_push(r, b->vals[k]);
    }
}

/* Ends the open block: submits its transaction (and parks r) when it read
 * or wrote anything, else finishes it on the spot. tag: answer "COMMIT".
 * Returns true when r was parked. */
bool
sqlf_block_commit(sqlf_front_t *self, sqlf_req_t *r, bool tag, hb_sqlerr_t *err)
{
    if (r->b->block_nops + r->b->block_nchecks == 0) {
        sqlf_block_groups(r, NULL, 0, 0, err);
        sqlf_block_reset(r);
        if (tag)
            sqlf_group_tag(r, "COMMIT", 0);
        return false;
    }
    if (s_submit_block(self, r) != HB_OK) {
        sqlf_fail(self, r, HB_INVALID, "XX000", "cannot submit: %s",
                  hb_client_last_error(self->cli));
        return true; /* r is gone */
    }
    r->committing = true;
    r->commit_tag = tag;
    sqlf_park(self, r);
    return true;
}

/* Opens a block for one statement that needs one (CALL, INSERT ... SELECT)
 * when none is open. */
void
sqlf_block_implicit(sqlf_req_t *r)
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

/* ------------------------------------------------------------------ */
/* CALL                                                                 */
/* ------------------------------------------------------------------ */

/* Starts running the body of a CALL (st) in place of r's statements. */
hb_rc_t
sqlf_call_enter(sqlf_front_t *self, sqlf_req_t *r, const sqlf_stmt_t *st,
                hb_sqlerr_t *err)
{
    if (r->call.depth)
        return hb_sqlerr_set(err, "0A000", "CALL inside a procedure is not supported");
    sqlf_parsed_t *pb = sqlf_parse(self, st->call_body, err);
    if (!pb)
        return HB_INVALID;
    pb->refs++;
    if (r->call.body_parsed)
        r->call.body_parsed->refs--;
    r->call.body_parsed = pb;
    hb_val_t *args = hb_arena_alloc(&r->arena, (st->call_nargs + 1) * sizeof *args);
    for (uint32_t i = 0; i < st->call_nargs; i++)
        args[i] = sqlf_keep(&r->arena, st->call_args[i]);
    char(*names)[SQLF_NAME_MAX] =
        hb_arena_alloc(&r->arena, (st->call_nargs + 1) * sizeof *names);
    memcpy(names, st->call_pnames, st->call_nargs * sizeof *names);
    r->call.depth = 1;
    r->call.outer_tree = r->tree;
    r->call.outer_next = r->next;
    r->call.outer_params = r->params;
    r->call.outer_nparams = r->nparams;
    r->tree = pb->tree;
    r->next = 0;
    r->params = args;
    r->nparams = st->call_nargs;
    r->call.pnames = names;
    return HB_OK;
}

/* The body ran to its end: back to the request's statements, after the
 * CALL, which answers "CALL". */
void
sqlf_call_leave(sqlf_req_t *r)
{
    r->tree = r->call.outer_tree;
    r->next = r->call.outer_next + 1;
    r->params = r->call.outer_params;
    r->nparams = r->call.outer_nparams;
    r->call.pnames = NULL;
    r->call.depth = 0;
    sqlf_stmt_t none;
    memset(&none, 0, sizeof none);
    msgpack_sbuffer_init(&none.ops);
    msgpack_sbuffer_init(&none.ddl_def);
    none.kind = SQLF_ST_EMPTY;
    sqlf_blockstmt_t *b = sqlf_block_add(r, &none, r->b->block_nops);
    sqlf_swap_vals(r, b);
    sqlf_group_tag(r, "CALL", 0);
    sqlf_swap_vals(r, b);
}

/* ------------------------------------------------------------------ */
/* Answering when a request ends inside the block                       */
/* ------------------------------------------------------------------ */

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
s_ov_answer_check(sqlf_front_t *self, const sqlf_blk_t *b, const sqlf_ov_t *ov)
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
        return SQLF_CK_FULL;
    if (inserts) {
        const uint8_t *kp = ov->key;
        uint32_t table = 0;
        if (hb_key_get_table(&kp, ov->key + ov->klen, &table) == HB_OK) {
            for (uint32_t i = 0; i < sqlf_catalog_size(self->cat); i++) {
                const sqlf_table_t *t = sqlf_catalog_at(self->cat, i);
                if (t->id == table && t->rowid)
                    return SQLF_CK_NONE;
            }
        }
    }
    return SQLF_CK_EXISTS;
}

/* The request ends inside its session's open block, which stays open for
 * the session's next requests. Its statements answer now: reads with what
 * they read, writes with what they will do when the block commits; the
 * rows those answers come from are CHECKed at COMMIT like every read (so
 * across requests a blind write is no longer blind). */
void
sqlf_block_answer_open(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess)
{
    sqlf_blk_t *b = r->b;
    hb_sqlerr_t err = {{0}, {0}};
    hb_val_t *pred = hb_arena_alloc(&r->arena, (b->block_nops + 1) * sizeof *pred);
    for (uint32_t i = 0; i < b->block_nops; i++)
        pred[i] = hb_val_int(0);
    for (uint32_t v = 0; v < b->nov; v++) {
        sqlf_ov_t *ov = &b->ov[v];
        const uint8_t *kp = ov->key;
        uint32_t table = 0;
        if (ov->nops == 0 || hb_key_get_table(&kp, ov->key + ov->klen, &table) != HB_OK ||
            table == HB_TABLE_INDEX)
            continue;
        bool p = ov->base_present;
        const uint8_t *cur = ov->base;
        size_t cl = ov->baselen;
        int ck = s_ov_answer_check(self, b, ov);
        if (!ov->have_base && ck == SQLF_CK_NONE) {
            /* A fresh row id: absent, and no one else can write it. */
            s_ov_set_base_ck(r, ov, false, NULL, 0, SQLF_CK_NONE);
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
            if (sqlf_read(self, sess, &src, false, s_point_row, &pt, &ep, &err) != HB_OK)
                continue; /* no prediction: the statement answers 0 rows */
            s_ov_set_base_ck(r, ov, pt.found, pt.raw, pt.len, ck);
            p = ov->base_present;
            cur = ov->base;
            cl = ov->baselen;
        }
        for (uint32_t i = 0; i < ov->nops; i++) {
            uint32_t k = ov->ops[i];
            hb_sqlop_effect_t eff;
            if (hb_sqlop_apply((const uint8_t *)b->block_ops.data + b->opofs[k],
                               b->oplen[k], p, cur, cl, 0, hb_arena_alloc, &r->arena,
                               &eff, &err) != HB_OK)
                break;
            pred[k] = sqlf_keep(&r->arena, eff.result);
            if (eff.write == 1) {
                p = true;
                cur = eff.row;
                cl = eff.rowlen;
            } else if (eff.write == 2) {
                p = false;
            }
        }
    }
    sqlf_block_groups(r, pred, b->block_nops, 0, &err);
}
