/* procs_sql.c — the bodies of sql.exec and sql.ddl (common/hb_proc.h).
 *
 * sql.exec runs a plan sqlfront made: a list of key operations over user
 * tables, with expressions (common/hb_expr.h) evaluated here on the locked
 * rows, so that `SET v = v + 1` or a WHERE re-check sees the row as of the
 * transaction's place in the global order. Every active participant runs
 * the whole list over the same gathered reads and keeps only its own
 * partition's writes (the executor does that), so all of them reach the
 * same outcome: commit, or the same abort with the same SQLSTATE.
 *
 * Both bodies first compare the catalog version the plan was made for with
 * the version record of every partition the transaction touches; a
 * mismatch aborts with "XXCAT", and sqlfront reloads its catalog and plans
 * again.
 */
#include "procs_sql.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "hb_expr.h"
#include "hb_key.h"
#include "hb_mp.h"

#define S_MAX_COLS HB_SQL_MAX_COLS

/* Reads a catalog version record; absent means version 0, ids from
 * HB_TABLE_USER_FIRST. Returns HB_OK or aborts the context. */
static hb_rc_t
s_read_version(stor_ctx_t *ctx, const uint8_t *key, size_t klen, int64_t *version,
               int64_t *next_id)
{
    const uint8_t *val;
    size_t vlen;
    *version = 0;
    *next_id = HB_TABLE_USER_FIRST;
    hb_rc_t rc = stor_ctx_read(ctx, key, klen, &val, &vlen);
    if (rc == HB_NOTFOUND)
        return HB_OK;
    if (rc)
        return rc;
    hb_mp_reader_t r;
    uint32_t n = 0;
    hb_mp_reader_init(&r, val, vlen);
    if (hb_mp_read_array(&r, &n) != HB_OK || n != 2 || hb_mp_read_int(&r, version) != HB_OK ||
        hb_mp_read_int(&r, next_id) != HB_OK)
        return stor_ctx_abort(ctx, HB_CORRUPT, "XX001 corrupt catalog version record");
    return HB_OK;
}

/* Returns true if key is a catalog version record ([CATALOG][p][""]). */
static bool
s_is_version_key(const uint8_t *key, size_t klen)
{
    const uint8_t *p = key, *end = key + klen;
    uint32_t table;
    int64_t part;
    return hb_key_get_table(&p, end, &table) == HB_OK && table == HB_TABLE_CATALOG &&
           hb_key_get_i64(&p, end, &part) == HB_OK && end - p == 2 && p[0] == 0 && p[1] == 1;
}

/* Checks every version record the transaction locked against catver. */
static hb_rc_t
s_check_catalog(stor_ctx_t *ctx, int64_t catver)
{
    const hb_txn_t *txn = stor_ctx_txn(ctx);
    for (uint32_t i = 0; i < txn->nlocks; i++) {
        const hb_lock_t *l = &txn->locks[i];
        if (!s_is_version_key(l->key, l->len))
            continue;
        int64_t v, next;
        hb_rc_t rc = s_read_version(ctx, l->key, l->len, &v, &next);
        if (rc)
            return rc;
        if (v != catver)
            return stor_ctx_abort(ctx, HB_ABORTED,
                                  "XXCAT catalog changed (planned at version %" PRId64
                                  ", now %" PRId64 ")",
                                  catver, v);
    }
    return HB_OK;
}

static hb_rc_t
s_sqlerr(stor_ctx_t *ctx, const hb_sqlerr_t *e)
{
    return stor_ctx_abort(ctx, HB_ABORTED, "%s %s", e->sqlstate[0] ? e->sqlstate : "XX000",
                          e->msg);
}

static hb_rc_t
s_malformed(stor_ctx_t *ctx)
{
    return stor_ctx_abort(ctx, HB_INVALID, "XX000 malformed sql.exec op");
}

/* Reads an optional expression (nil or bin). */
static hb_rc_t
s_read_opt_expr(hb_mp_reader_t *r, const uint8_t **e, uint32_t *len)
{
    *e = NULL;
    *len = 0;
    if (hb_mp_peek(r) == HB_MP_NIL)
        return hb_mp_read_nil(r);
    return hb_mp_read_bin(r, e, len);
}

/* Per-transaction scratch of one body run. */
typedef struct {
    stor_ctx_t *ctx;
    hb_val_t old[S_MAX_COLS];  /* the row as read (plus EXCLUDED columns) */
    hb_val_t row[S_MAX_COLS];  /* the row being built */
    uint32_t nold;             /* columns in old */
    msgpack_sbuffer sb;        /* encoding of the new row */
    msgpack_sbuffer out;       /* the ops' results: one msgpack value each */
    msgpack_packer opk;        /* packs into out */
    bool emitted;              /* the current op packed its result */
    hb_sqlerr_t err;           /* evaluation error */
} s_run_t;

/* Applies a sets list over run->old (nold columns, of which the first
 * ntable are the table's) into run->row. Returns HB_OK or aborts. */
static hb_rc_t
s_apply_sets(s_run_t *run, hb_mp_reader_t *r, uint32_t ntable)
{
    uint32_t nsets = 0;
    if (hb_mp_read_array(r, &nsets) != HB_OK)
        return s_malformed(run->ctx);
    memcpy(run->row, run->old, ntable * sizeof *run->row);
    hb_expr_env_t env = {.row = run->old, .ncols = run->nold, .alloc = stor_ctx_alloc,
                         .alloc_arg = run->ctx, .err = &run->err,
                         .now_us = stor_ctx_txn(run->ctx)->timestamp_us - HB_PG_EPOCH_US};
    for (uint32_t s = 0; s < nsets; s++) {
        uint32_t n = 0;
        uint64_t col = 0, type = 0;
        int64_t typmod = 0;
        bool notnull = false;
        const uint8_t *e;
        uint32_t elen;
        if (hb_mp_read_array(r, &n) != HB_OK || n != 5 || hb_mp_read_uint(r, &col) != HB_OK ||
            col >= ntable || hb_mp_read_uint(r, &type) != HB_OK || type >= HB_T_COUNT_ ||
            hb_mp_read_int(r, &typmod) != HB_OK || hb_mp_read_bool(r, &notnull) != HB_OK ||
            hb_mp_read_bin(r, &e, &elen) != HB_OK)
            return s_malformed(run->ctx);
        hb_val_t v, c;
        if (hb_expr_eval(e, elen, &env, &v) != HB_OK ||
            hb_val_coerce(&v, (hb_type_t)type, (int32_t)typmod, stor_ctx_alloc, run->ctx, &c,
                          &run->err) != HB_OK)
            return s_sqlerr(run->ctx, &run->err);
        if (notnull && c.type == HB_VAL_NIL)
            return stor_ctx_abort(run->ctx, HB_ABORTED,
                                  "23502 null value in column %" PRIu64
                                  " violates not-null constraint",
                                  col + 1);
        run->row[col] = c;
    }
    return HB_OK;
}

/* Writes run->row (n columns) to key. */
static hb_rc_t
s_write_row(s_run_t *run, const uint8_t *key, uint32_t klen, uint32_t n)
{
    msgpack_packer pk;
    run->sb.size = 0;
    msgpack_packer_init(&pk, &run->sb, msgpack_sbuffer_write);
    hb_row_pack(&pk, run->row, n);
    return stor_ctx_write(run->ctx, key, klen, run->sb.data, run->sb.size);
}

/* Packs the current op's result: a row. */
static void
s_emit_bin(s_run_t *run, const void *p, size_t len)
{
    hb_mp_pack_bin(&run->opk, p, len);
    run->emitted = true;
}

/* Evaluates an optional WHERE over run->old. */
static hb_rc_t
s_where(s_run_t *run, const uint8_t *where, uint32_t wlen, bool *pass)
{
    *pass = true;
    if (!where)
        return HB_OK;
    hb_expr_env_t env = {.row = run->old, .ncols = run->nold, .alloc = stor_ctx_alloc,
                         .alloc_arg = run->ctx, .err = &run->err,
                         .now_us = stor_ctx_txn(run->ctx)->timestamp_us - HB_PG_EPOCH_US};
    if (hb_expr_test(where, wlen, &env, pass) != HB_OK)
        return s_sqlerr(run->ctx, &run->err);
    return HB_OK;
}

static hb_rc_t
s_run_op(s_run_t *run, hb_mp_reader_t *r, int64_t *affected)
{
    stor_ctx_t *ctx = run->ctx;
    uint32_t n = 0, klen = 0;
    uint64_t kind = 0, plen = 0;
    const uint8_t *key;
    if (hb_mp_read_array(r, &n) != HB_OK || hb_mp_read_uint(r, &kind) != HB_OK ||
        hb_mp_read_bin(r, &key, &klen) != HB_OK || hb_mp_read_uint(r, &plen) != HB_OK)
        return s_malformed(ctx);
    const uint8_t *val = NULL;
    size_t vlen = 0;
    hb_rc_t rc = stor_ctx_read(ctx, key, klen, &val, &vlen);
    if (rc != HB_OK && rc != HB_NOTFOUND)
        return rc;
    bool present = rc == HB_OK;
    run->nold = 0;
    if (present && hb_row_decode(val, vlen, run->old, S_MAX_COLS, &run->nold) != HB_OK)
        return stor_ctx_abort(ctx, HB_CORRUPT, "XX001 corrupt row");
    uint32_t ntable = run->nold;

    switch (kind) {
    case HB_SQLOP_GET: {
        if (n != 3)
            return s_malformed(ctx);
        if (present) {
            s_emit_bin(run, val, vlen);
        } else {
            msgpack_pack_nil(&run->opk);
            run->emitted = true;
        }
        return HB_OK;
    }
    case HB_SQLOP_INSERT: {
        const char *tname;
        uint32_t tlen, rlen, wlen;
        const uint8_t *rowb, *where;
        uint64_t conflict;
        bool returning;
        if (n != 9 || hb_mp_read_str(r, &tname, &tlen) != HB_OK ||
            hb_mp_read_bin(r, &rowb, &rlen) != HB_OK || hb_mp_read_uint(r, &conflict) != HB_OK)
            return s_malformed(ctx);
        if (!present) {
            const uint8_t *sets_raw;
            size_t sets_len;
            if (hb_mp_read_raw(r, &sets_raw, &sets_len) != HB_OK ||
                s_read_opt_expr(r, &where, &wlen) != HB_OK ||
                hb_mp_read_bool(r, &returning) != HB_OK)
                return s_malformed(ctx);
            if ((rc = stor_ctx_write(ctx, key, klen, rowb, rlen)) != HB_OK)
                return rc;
            (*affected)++;
            if (returning)
                s_emit_bin(run, rowb, rlen);
            return HB_OK;
        }
        if (conflict == 0)
            return stor_ctx_abort(ctx, HB_ABORTED,
                                  "23505 duplicate key value violates unique constraint "
                                  "\"%.*s_pkey\"",
                                  (int)tlen, tname);
        if (conflict == 1) {
            for (int f = 0; f < 3; f++)
                if (hb_mp_skip(r) != HB_OK)
                    return s_malformed(ctx);
            return HB_OK;
        }
        /* DO UPDATE: old row ++ proposed row (EXCLUDED). */
        uint32_t nprop = 0;
        if (hb_row_decode(rowb, rlen, run->old + ntable, S_MAX_COLS - ntable, &nprop) != HB_OK)
            return s_malformed(ctx);
        run->nold = ntable + nprop;
        hb_mp_reader_t sets = *r;
        if (hb_mp_skip(r) != HB_OK || s_read_opt_expr(r, &where, &wlen) != HB_OK ||
            hb_mp_read_bool(r, &returning) != HB_OK)
            return s_malformed(ctx);
        bool pass;
        if ((rc = s_where(run, where, wlen, &pass)) != HB_OK)
            return rc;
        if (!pass)
            return HB_OK;
        if ((rc = s_apply_sets(run, &sets, ntable)) != HB_OK ||
            (rc = s_write_row(run, key, klen, ntable)) != HB_OK)
            return rc;
        (*affected)++;
        if (returning)
            s_emit_bin(run, run->sb.data, run->sb.size);
        return HB_OK;
    }
    case HB_SQLOP_UPDATE: {
        const uint8_t *where;
        uint32_t wlen;
        bool returning;
        if (n != 6 || s_read_opt_expr(r, &where, &wlen) != HB_OK)
            return s_malformed(ctx);
        hb_mp_reader_t sets = *r;
        if (hb_mp_skip(r) != HB_OK || hb_mp_read_bool(r, &returning) != HB_OK)
            return s_malformed(ctx);
        if (!present)
            return HB_OK;
        bool pass;
        if ((rc = s_where(run, where, wlen, &pass)) != HB_OK)
            return rc;
        if (!pass)
            return HB_OK;
        if ((rc = s_apply_sets(run, &sets, ntable)) != HB_OK ||
            (rc = s_write_row(run, key, klen, ntable)) != HB_OK)
            return rc;
        (*affected)++;
        if (returning)
            s_emit_bin(run, run->sb.data, run->sb.size);
        return HB_OK;
    }
    case HB_SQLOP_DELETE: {
        const uint8_t *where;
        uint32_t wlen;
        bool returning;
        if (n != 5 || s_read_opt_expr(r, &where, &wlen) != HB_OK ||
            hb_mp_read_bool(r, &returning) != HB_OK)
            return s_malformed(ctx);
        if (!present)
            return HB_OK;
        bool pass;
        if ((rc = s_where(run, where, wlen, &pass)) != HB_OK)
            return rc;
        if (!pass)
            return HB_OK;
        if ((rc = stor_ctx_delete(ctx, key, klen)) != HB_OK)
            return rc;
        (*affected)++;
        if (returning)
            s_emit_bin(run, val, vlen);
        return HB_OK;
    }
    default:
        return s_malformed(ctx);
    }
}

hb_rc_t
stor_sql_exec(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    if (nargs != 2 || args[0].type != HB_VAL_INT || args[1].type != HB_VAL_BIN)
        return stor_ctx_abort(ctx, HB_INVALID, "XX000 sql.exec: usage: sql.exec CATVER OPS");
    hb_rc_t rc = s_check_catalog(ctx, args[0].u.i);
    if (rc)
        return rc;
    s_run_t *run = stor_ctx_alloc(ctx, sizeof *run);
    memset(&run->err, 0, sizeof run->err);
    run->ctx = ctx;
    msgpack_sbuffer_init(&run->sb);
    msgpack_sbuffer_init(&run->out);
    msgpack_packer_init(&run->opk, &run->out, msgpack_sbuffer_write);
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, args[1].u.s.ptr, args[1].u.s.len);
    uint32_t nops = 0;
    if (hb_mp_read_array(&r, &nops) != HB_OK) {
        rc = s_malformed(ctx);
        goto out;
    }
    /* One result value per op, in one bin (a reply carries few values). */
    msgpack_pack_array(&run->opk, nops);
    for (uint32_t i = 0; i < nops; i++) {
        int64_t affected = 0;
        run->emitted = false;
        if ((rc = s_run_op(run, &r, &affected)) != HB_OK)
            goto out;
        if (!run->emitted)
            msgpack_pack_int64(&run->opk, affected ? 1 : 0);
    }
    hb_val_t res = {.type = HB_VAL_BIN};
    res.u.s.ptr = (const uint8_t *)run->out.data;
    res.u.s.len = (uint32_t)run->out.size;
    stor_ctx_result(ctx, &res);
out:
    msgpack_sbuffer_destroy(&run->sb);
    msgpack_sbuffer_destroy(&run->out);
    return rc;
}

hb_rc_t
stor_sql_ddl(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    if (nargs != 4 || args[0].type != HB_VAL_INT || args[1].type != HB_VAL_INT ||
        args[2].type != HB_VAL_STR || args[3].type != HB_VAL_BIN)
        return stor_ctx_abort(ctx, HB_INVALID, "XX000 sql.ddl: usage: sql.ddl CATVER KIND NAME DEF");
    int64_t catver = args[0].u.i, kind = args[1].u.i;
    const hb_txn_t *txn = stor_ctx_txn(ctx);
    hb_rc_t rc = s_check_catalog(ctx, catver);
    if (rc)
        return rc;
    /* Every partition's records are equal (only DDL writes them, always on
     * every partition), so the first version record decides. */
    int64_t version = 0, next_id = HB_TABLE_USER_FIRST;
    bool have_version = false, exists = false;
    int64_t old_id = 0;
    for (uint32_t i = 0; i < txn->nlocks; i++) {
        const hb_lock_t *l = &txn->locks[i];
        if (s_is_version_key(l->key, l->len)) {
            if (!have_version && (rc = s_read_version(ctx, l->key, l->len, &version,
                                                      &next_id)) != HB_OK)
                return rc;
            have_version = true;
            continue;
        }
        const uint8_t *val;
        size_t vlen;
        rc = stor_ctx_read(ctx, l->key, l->len, &val, &vlen);
        if (rc == HB_OK) {
            hb_mp_reader_t r;
            uint32_t n;
            hb_mp_reader_init(&r, val, vlen);
            if (hb_mp_read_array(&r, &n) != HB_OK || n != 2 || hb_mp_read_int(&r, &old_id))
                return stor_ctx_abort(ctx, HB_CORRUPT, "XX001 corrupt catalog record");
            exists = true;
        } else if (rc != HB_NOTFOUND) {
            return rc;
        }
        break; /* one table record decides too */
    }
    const char *name = (const char *)args[2].u.s.ptr;
    int nlen = (int)args[2].u.s.len;
    if (kind == HB_SQLDDL_CREATE && exists)
        return stor_ctx_abort(ctx, HB_ABORTED, "42P07 relation \"%.*s\" already exists", nlen,
                              name);
    if (kind != HB_SQLDDL_CREATE && !exists)
        return stor_ctx_abort(ctx, HB_ABORTED, "42P01 relation \"%.*s\" does not exist", nlen,
                              name);
    if (next_id >= INT32_MAX)
        return stor_ctx_abort(ctx, HB_ABORTED, "54000 out of table ids");
    int64_t new_id = kind == HB_SQLDDL_DROP ? old_id : next_id;
    int64_t new_next = kind == HB_SQLDDL_DROP ? next_id : next_id + 1;
    msgpack_sbuffer vsb, tsb;
    msgpack_sbuffer_init(&vsb);
    msgpack_sbuffer_init(&tsb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &vsb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int64(&pk, version + 1);
    msgpack_pack_int64(&pk, new_next);
    msgpack_packer_init(&pk, &tsb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int64(&pk, new_id);
    hb_mp_pack_bin(&pk, args[3].u.s.ptr, args[3].u.s.len);
    rc = HB_OK;
    for (uint32_t i = 0; i < txn->nlocks && rc == HB_OK; i++) {
        const hb_lock_t *l = &txn->locks[i];
        if (s_is_version_key(l->key, l->len))
            rc = stor_ctx_write(ctx, l->key, l->len, vsb.data, vsb.size);
        else if (kind == HB_SQLDDL_DROP)
            rc = stor_ctx_delete(ctx, l->key, l->len);
        else
            rc = stor_ctx_write(ctx, l->key, l->len, tsb.data, tsb.size);
    }
    msgpack_sbuffer_destroy(&vsb);
    msgpack_sbuffer_destroy(&tsb);
    if (rc)
        return rc;
    hb_val_t v = hb_val_int(version + 1), id = hb_val_int(new_id);
    stor_ctx_result(ctx, &v);
    stor_ctx_result(ctx, &id);
    return HB_OK;
}
