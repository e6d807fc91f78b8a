/* procs_sql.c — the bodies of sql.exec and sql.ddl (common/hb_proc.h).
 *
 * sql.exec runs a plan sqlfront made: a list of key operations over user
 * tables, with expressions (common/hb_expr.h) evaluated here on the locked
 * rows, so that `SET v = v + 1` or a WHERE re-check sees the row as of the
 * transaction's place in the global order. What an op does to its row is
 * common/hb_sqlop.c's, shared with sqlfront's view of an open block. Every active
 * participant runs the whole list over the same gathered reads and keeps only its own
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
#include "hb_sqlop.h"

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
    if (hb_mp_read_array(&r, &n) != HB_OK || n != 2 ||
        hb_mp_read_int(&r, version) != HB_OK || hb_mp_read_int(&r, next_id) != HB_OK)
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
           hb_key_get_i64(&p, end, &part) == HB_OK && end - p == 2 && p[0] == 0 &&
           p[1] == 1;
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
s_malformed(stor_ctx_t *ctx)
{
    return stor_ctx_abort(ctx, HB_INVALID, "XX000 malformed sql.exec op");
}

hb_rc_t
stor_sql_exec(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    if (nargs != 2 || args[0].type != HB_VAL_INT || args[1].type != HB_VAL_BIN)
        return stor_ctx_abort(ctx, HB_INVALID,
                              "XX000 sql.exec: usage: sql.exec CATVER OPS");
    hb_rc_t rc = s_check_catalog(ctx, args[0].u.i);
    if (rc)
        return rc;
    int64_t now_us = stor_ctx_txn(ctx)->timestamp_us - HB_PG_EPOCH_US;
    msgpack_sbuffer out;
    msgpack_packer pk;
    msgpack_sbuffer_init(&out);
    msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, args[1].u.s.ptr, args[1].u.s.len);
    uint32_t nops = 0;
    if (hb_mp_read_array(&r, &nops) != HB_OK) {
        rc = s_malformed(ctx);
        goto out;
    }
    /* One result value per op, in one bin (a reply carries few values). */
    msgpack_pack_array(&pk, nops);
    for (uint32_t i = 0; i < nops; i++) {
        const uint8_t *op;
        size_t oplen;
        hb_sqlop_head_t h;
        if (hb_mp_read_raw(&r, &op, &oplen) != HB_OK ||
            hb_sqlop_head(op, oplen, &h) != HB_OK) {
            rc = s_malformed(ctx);
            goto out;
        }
        /* The op sees the transaction's own earlier writes of its key. */
        const uint8_t *val = NULL;
        size_t vlen = 0;
        rc = stor_ctx_read(ctx, h.key, h.klen, &val, &vlen);
        if (rc != HB_OK && rc != HB_NOTFOUND)
            goto out;
        hb_sqlop_effect_t eff;
        hb_sqlerr_t err = {{0}, {0}};
        rc = hb_sqlop_apply(op, oplen, rc == HB_OK, val, vlen, now_us, stor_ctx_alloc,
                            ctx, &eff, &err);
        if (rc != HB_OK) {
            rc = stor_ctx_abort(ctx, rc == HB_PROTO ? HB_INVALID : HB_ABORTED, "%s %s",
                                err.sqlstate[0] ? err.sqlstate : "XX000", err.msg);
            goto out;
        }
        if (eff.write == 1)
            rc = stor_ctx_write(ctx, h.key, h.klen, eff.row, eff.rowlen);
        else if (eff.write == 2)
            rc = stor_ctx_delete(ctx, h.key, h.klen);
        if (rc != HB_OK)
            goto out;
        hb_mp_pack_val(&pk, &eff.result);
    }
    hb_val_t res = {.type = HB_VAL_BIN};
    res.u.s.ptr = (const uint8_t *)out.data;
    res.u.s.len = (uint32_t)out.size;
    stor_ctx_result(ctx, &res);
out:
    msgpack_sbuffer_destroy(&out);
    return rc;
}

hb_rc_t
stor_sql_ddl(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    if (nargs != 4 || args[0].type != HB_VAL_INT || args[1].type != HB_VAL_INT ||
        args[2].type != HB_VAL_STR || args[3].type != HB_VAL_BIN)
        return stor_ctx_abort(ctx, HB_INVALID,
                              "XX000 sql.ddl: usage: sql.ddl CATVER KIND NAME DEF");
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
            if (!have_version &&
                (rc = s_read_version(ctx, l->key, l->len, &version, &next_id)) != HB_OK)
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
            if (hb_mp_read_array(&r, &n) != HB_OK || n != 2 ||
                hb_mp_read_int(&r, &old_id) || old_id < 0)
                return stor_ctx_abort(ctx, HB_CORRUPT, "XX001 corrupt catalog record");
            exists = true;
        } else if (rc != HB_NOTFOUND) {
            return rc;
        }
        break; /* one table record decides too */
    }
    const char *name = (const char *)args[2].u.s.ptr;
    int nlen = (int)args[2].u.s.len;
    bool proc = kind >= HB_SQLDDL_CREATE_PROC && kind <= HB_SQLDDL_REPLACE_PROC;
    if (proc) {
        /* A procedure record: no table id; name is "\x01" + its name. */
        name++;
        nlen--;
        if (kind == HB_SQLDDL_CREATE_PROC && exists)
            return stor_ctx_abort(ctx, HB_ABORTED,
                                  "42723 procedure \"%.*s\" already exists", nlen, name);
        if (kind == HB_SQLDDL_DROP_PROC && !exists)
            return stor_ctx_abort(ctx, HB_ABORTED,
                                  "42883 procedure \"%.*s\" does not exist", nlen, name);
    } else {
        if (kind == HB_SQLDDL_CREATE && exists)
            return stor_ctx_abort(ctx, HB_ABORTED,
                                  "42P07 relation \"%.*s\" already exists", nlen, name);
        if (kind != HB_SQLDDL_CREATE && !exists)
            return stor_ctx_abort(ctx, HB_ABORTED,
                                  "42P01 relation \"%.*s\" does not exist", nlen, name);
    }
    bool alter = kind == HB_SQLDDL_ALTER;
    if (next_id >= INT32_MAX)
        return stor_ctx_abort(ctx, HB_ABORTED, "54000 out of table ids");
    bool drop = kind == HB_SQLDDL_DROP || kind == HB_SQLDDL_DROP_PROC;
    /* ALTER keeps the table's id (and rows); TRUNCATE gives a new one. */
    int64_t new_id = proc ? 0 : kind == HB_SQLDDL_DROP || alter ? old_id : next_id;
    int64_t new_next = proc || kind == HB_SQLDDL_DROP || alter ? next_id : next_id + 1;
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
        else if (drop)
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
