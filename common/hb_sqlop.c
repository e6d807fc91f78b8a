/* hb_sqlop.c — applying one sql.exec op to its row (see hb_sqlop.h).
 *
 * A SET list is evaluated over the old row (so `SET a = b, b = a` swaps),
 * each value converted to its column's type and checked against NOT
 * NULL; INSERT ... ON CONFLICT DO UPDATE evaluates over the old row
 * followed by the proposed one (EXCLUDED). Every length is read through
 * the bounded msgpack reader: malformed bytes give XX000, never a crash.
 */
#include "hb_sqlop.h"

#include <inttypes.h>
#include <msgpack.h>
#include <string.h>

#include "hb_mp.h"

/* Reads an optional expression (nil or bin). */
static hb_rc_t
s_opt_expr(hb_mp_reader_t *r, const uint8_t **e, uint32_t *len)
{
    *e = NULL;
    *len = 0;
    if (hb_mp_peek(r) == HB_MP_NIL)
        return hb_mp_read_nil(r);
    return hb_mp_read_bin(r, e, len);
}

static hb_rc_t
s_malformed(hb_sqlerr_t *err)
{
    hb_sqlerr_set(err, "XX000", "malformed sql.exec op");
    return HB_PROTO;
}

static hb_rc_t
s_abort(hb_sqlerr_t *err)
{
    (void)err; /* set by the failing call */
    return HB_ABORTED;
}

/* The state of one application. */
typedef struct {
    hb_val_t old[2 * HB_SQL_MAX_COLS]; /* old row (plus EXCLUDED columns) */
    hb_val_t row[HB_SQL_MAX_COLS];     /* row being built */
    uint32_t nold;                     /* columns in old */
    int64_t now_us;
    void *(*alloc)(void *, size_t);
    void *arg;
    hb_sqlerr_t *err;
} s_app_t;

/* Evaluates a sets list over a->old into a->row (ntable columns). */
static hb_rc_t
s_sets(s_app_t *a, hb_mp_reader_t *r, uint32_t ntable)
{
    uint32_t nsets = 0;
    if (hb_mp_read_array(r, &nsets) != HB_OK)
        return s_malformed(a->err);
    memcpy(a->row, a->old, ntable * sizeof *a->row);
    hb_expr_env_t env = {.row = a->old,
                         .ncols = a->nold,
                         .alloc = a->alloc,
                         .alloc_arg = a->arg,
                         .err = a->err,
                         .now_us = a->now_us};
    for (uint32_t s = 0; s < nsets; s++) {
        uint32_t n = 0, elen = 0;
        uint64_t col = 0, type = 0;
        int64_t typmod = 0;
        bool notnull = false;
        const uint8_t *e;
        if (hb_mp_read_array(r, &n) != HB_OK || n != 5 ||
            hb_mp_read_uint(r, &col) != HB_OK || col >= ntable ||
            hb_mp_read_uint(r, &type) != HB_OK || type >= HB_T_COUNT_ ||
            hb_mp_read_int(r, &typmod) != HB_OK || typmod < INT32_MIN ||
            typmod > INT32_MAX || hb_mp_read_bool(r, &notnull) != HB_OK ||
            hb_mp_read_bin(r, &e, &elen) != HB_OK)
            return s_malformed(a->err);
        hb_val_t v, c;
        if (hb_expr_eval(e, elen, &env, &v) != HB_OK ||
            hb_val_coerce(&v, (hb_type_t)type, (int32_t)typmod, a->alloc, a->arg, &c,
                          a->err) != HB_OK)
            return s_abort(a->err);
        if (notnull && c.type == HB_VAL_NIL) {
            hb_sqlerr_set(a->err, "23502",
                          "null value in column %" PRIu64 " violates not-null constraint",
                          col + 1);
            return HB_ABORTED;
        }
        a->row[col] = c;
    }
    return HB_OK;
}

/* Packs a->row (n columns) into alloc memory as the effect's new row.
 * Returns HB_OK or HB_ABORTED (a value that cannot be stored). */
static hb_rc_t
s_store(s_app_t *a, uint32_t n, hb_sqlop_effect_t *eff)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (hb_row_pack(&pk, a->row, n) != HB_OK) {
        msgpack_sbuffer_destroy(&sb);
        hb_sqlerr_set(a->err, "22003", "a value cannot be stored");
        return HB_ABORTED;
    }
    uint8_t *p = a->alloc(a->arg, sb.size ? sb.size : 1);
    memcpy(p, sb.data, sb.size);
    eff->write = 1;
    eff->row = p;
    eff->rowlen = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return HB_OK;
}

static hb_rc_t
s_where(s_app_t *a, const uint8_t *where, uint32_t wlen, bool *pass)
{
    *pass = true;
    if (!where)
        return HB_OK;
    hb_expr_env_t env = {.row = a->old,
                         .ncols = a->nold,
                         .alloc = a->alloc,
                         .alloc_arg = a->arg,
                         .err = a->err,
                         .now_us = a->now_us};
    return hb_expr_test(where, wlen, &env, pass) == HB_OK ? HB_OK : HB_ABORTED;
}

hb_rc_t
hb_sqlop_head(const uint8_t *op, size_t len, hb_sqlop_head_t *h)
{
    hb_mp_reader_t r;
    uint32_t n = 0;
    uint64_t kind = 0, plen = 0;
    memset(h, 0, sizeof *h);
    hb_mp_reader_init(&r, op, len);
    if (hb_mp_read_array(&r, &n) != HB_OK || n < 3 ||
        hb_mp_read_uint(&r, &kind) != HB_OK || kind > HB_SQLOP_IDEL ||
        hb_mp_read_bin(&r, &h->key, &h->klen) != HB_OK ||
        hb_mp_read_uint(&r, &plen) != HB_OK || plen > h->klen)
        return HB_PROTO;
    h->kind = (hb_sqlop_t)kind;
    h->plen = (uint32_t)plen;
    return HB_OK;
}

/* Updates the row in a (ntable columns, then any proposed ones): when it
 * passes WHERE, applies SET, stores the new row and sets the result (the
 * new row when RETURNING, else 1); a row WHERE rejects is left alone. */
static hb_rc_t
s_update(s_app_t *a, const uint8_t *where, uint32_t wlen, hb_mp_reader_t *sets,
         uint32_t ntable, bool returning, hb_sqlop_effect_t *eff)
{
    bool pass;
    hb_rc_t rc;
    if ((rc = s_where(a, where, wlen, &pass)) != HB_OK)
        return rc;
    if (!pass)
        return HB_OK;
    if ((rc = s_sets(a, sets, ntable)) != HB_OK ||
        (rc = s_store(a, ntable, eff)) != HB_OK)
        return rc;
    eff->result = returning ? hb_val_bin(eff->row, (uint32_t)eff->rowlen) : hb_val_int(1);
    return HB_OK;
}

hb_rc_t
hb_sqlop_apply(const uint8_t *op, size_t len, bool present, const uint8_t *old,
               size_t oldlen, int64_t now_us, void *(*alloc)(void *arg, size_t size),
               void *arg, hb_sqlop_effect_t *eff, hb_sqlerr_t *err)
{
    memset(eff, 0, sizeof *eff);
    eff->result = hb_val_int(0);
    hb_mp_reader_t r;
    uint32_t n = 0, klen = 0;
    uint64_t kind = 0, plen = 0;
    const uint8_t *key;
    hb_mp_reader_init(&r, op, len);
    if (hb_mp_read_array(&r, &n) != HB_OK || hb_mp_read_uint(&r, &kind) != HB_OK ||
        hb_mp_read_bin(&r, &key, &klen) != HB_OK || hb_mp_read_uint(&r, &plen) != HB_OK)
        return s_malformed(err);
    s_app_t app; /* ~18 KB: on the stack, not in a transaction's arena */
    s_app_t *a = &app;
    a->now_us = now_us;
    a->alloc = alloc;
    a->arg = arg;
    a->err = err;
    a->nold = 0;
    if (present && kind != HB_SQLOP_IPUT && kind != HB_SQLOP_IDEL &&
        kind != HB_SQLOP_CHECK &&
        hb_row_decode(old, oldlen, a->old, HB_SQL_MAX_COLS, &a->nold) != HB_OK) {
        hb_sqlerr_set(err, "XX001", "corrupt row");
        return HB_ABORTED;
    }
    uint32_t ntable = a->nold;
    hb_rc_t rc;
    bool pass, returning;
    const uint8_t *where;
    uint32_t wlen;
    switch (kind) {
    case HB_SQLOP_GET:
        if (n != 3)
            return s_malformed(err);
        eff->result = present ? hb_val_bin(old, (uint32_t)oldlen) : hb_val_nil();
        return HB_OK;
    case HB_SQLOP_IPUT: {
        const uint8_t *pkey, *rowkey;
        uint32_t pklen, rklen;
        if (n != 5 || hb_mp_read_bin(&r, &pkey, &pklen) != HB_OK ||
            hb_mp_read_bin(&r, &rowkey, &rklen) != HB_OK)
            return s_malformed(err);
        eff->write = 1;
        eff->row = rowkey;
        eff->rowlen = rklen;
        eff->result = hb_val_nil(); /* index entries are not rows: not counted */
        return HB_OK;
    }
    case HB_SQLOP_IDEL: {
        const uint8_t *pkey;
        uint32_t pklen;
        if (n != 4 || hb_mp_read_bin(&r, &pkey, &pklen) != HB_OK)
            return s_malformed(err);
        eff->write = present ? 2 : 0;
        eff->result = hb_val_nil();
        return HB_OK;
    }
    case HB_SQLOP_CHECK: {
        const uint8_t *want = NULL;
        uint32_t wantlen = 0;
        bool same;
        if (n != 4)
            return s_malformed(err);
        if (hb_mp_peek(&r) == HB_MP_BOOL) {
            /* [CHECK, key, plen, true]: the row must exist (any bytes). */
            bool must = false;
            if (hb_mp_read_bool(&r, &must) != HB_OK || !must)
                return s_malformed(err);
            same = present;
        } else {
            if (s_opt_expr(&r, &want, &wantlen) != HB_OK)
                return s_malformed(err);
            same = want ? present && oldlen == wantlen && memcmp(old, want, wantlen) == 0
                        : !present;
        }
        if (!same) {
            hb_sqlerr_set(err, "40001",
                          "could not serialize access due to concurrent update");
            return HB_ABORTED;
        }
        eff->result = hb_val_int(1);
        return HB_OK;
    }
    case HB_SQLOP_INSERT: {
        const char *tname;
        uint32_t tlen, rlen;
        const uint8_t *rowb;
        uint64_t conflict;
        if (n != 9 || hb_mp_read_str(&r, &tname, &tlen) != HB_OK ||
            hb_mp_read_bin(&r, &rowb, &rlen) != HB_OK ||
            hb_mp_read_uint(&r, &conflict) != HB_OK)
            return s_malformed(err);
        hb_mp_reader_t sets = r;
        if (hb_mp_skip(&r) != HB_OK || s_opt_expr(&r, &where, &wlen) != HB_OK ||
            hb_mp_read_bool(&r, &returning) != HB_OK)
            return s_malformed(err);
        if (!present) {
            eff->write = 1;
            eff->row = rowb;
            eff->rowlen = rlen;
            eff->result = returning ? hb_val_bin(rowb, (uint32_t)rlen) : hb_val_int(1);
            return HB_OK;
        }
        if (conflict == 0) {
            hb_sqlerr_set(err, "23505",
                          "duplicate key value violates unique constraint \"%.*s_pkey\"",
                          (int)(tlen > 60 ? 60 : tlen), tname);
            return HB_ABORTED;
        }
        if (conflict == 1)
            return HB_OK;
        uint32_t nprop = 0;
        if (hb_row_decode(rowb, rlen, a->old + ntable, HB_SQL_MAX_COLS, &nprop) != HB_OK)
            return s_malformed(err);
        a->nold = ntable + nprop;
        return s_update(a, where, wlen, &sets, ntable, returning, eff);
    }
    case HB_SQLOP_UPDATE: {
        if (n != 6 || s_opt_expr(&r, &where, &wlen) != HB_OK)
            return s_malformed(err);
        hb_mp_reader_t sets = r;
        if (hb_mp_skip(&r) != HB_OK || hb_mp_read_bool(&r, &returning) != HB_OK)
            return s_malformed(err);
        if (!present)
            return HB_OK;
        return s_update(a, where, wlen, &sets, ntable, returning, eff);
    }
    case HB_SQLOP_DELETE:
        if (n != 5 || s_opt_expr(&r, &where, &wlen) != HB_OK ||
            hb_mp_read_bool(&r, &returning) != HB_OK)
            return s_malformed(err);
        if (!present)
            return HB_OK;
        if ((rc = s_where(a, where, wlen, &pass)) != HB_OK)
            return rc;
        if (!pass)
            return HB_OK;
        eff->write = 2;
        eff->result = returning ? hb_val_bin(old, (uint32_t)oldlen) : hb_val_int(1);
        return HB_OK;
    default:
        return s_malformed(err);
    }
}

void
hb_sqlop_pack_check(msgpack_packer *pk, const uint8_t *key, size_t klen, uint32_t plen,
                    const uint8_t *row, size_t rowlen)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint8(pk, HB_SQLOP_CHECK);
    hb_mp_pack_bin(pk, key, klen);
    msgpack_pack_uint32(pk, plen);
    if (row)
        hb_mp_pack_bin(pk, row, rowlen);
    else
        msgpack_pack_nil(pk);
}

void
hb_sqlop_pack_check_exists(msgpack_packer *pk, const uint8_t *key, size_t klen,
                           uint32_t plen, bool present)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint8(pk, HB_SQLOP_CHECK);
    hb_mp_pack_bin(pk, key, klen);
    msgpack_pack_uint32(pk, plen);
    if (present)
        msgpack_pack_true(pk);
    else
        msgpack_pack_nil(pk);
}
