/* test_sqlexec.c — unit tests of the SQL procedure bodies (storage/procs_sql.c)
 * run through the storage execution context (storage/procs.h).
 *
 * Each case builds a transaction by hand the way the sequencer does: the
 * lock set comes from hb_proc_plan of the sql.exec / sql.ddl arguments.
 * The gathered reads are fed with stor_ctx_add_read (every lock key absent
 * unless the case gives it a value; a catalog version record is msgpack
 * [version, next table id]), the body runs with stor_proc_run, and the
 * case checks what a client and the executor see: the results (sql.exec:
 * one bin holding an array of one value per op), the buffered writes, and
 * the abort code and message (which starts with the SQLSTATE: 23505,
 * 23502, XXCAT, 42P07 ...).
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_expr.h"
#include "hb_key.h"
#include "hb_mp.h"
#include "hb_proc.h"
#include "hb_txn.h"
#include "procs.h"

#define S_TABLE  HB_TABLE_USER_FIRST
#define S_PLEN   12 /* table id + the first key column */
#define S_NPARTS 4

/* ------------------------------------------------------------------ */
/* Building values                                                      */
/* ------------------------------------------------------------------ */

/* Byte strings a case builds; freed at the end of each case. */
#define S_BUFS 64
static msgpack_sbuffer s_bufs[S_BUFS];
static int s_nbufs;

static msgpack_sbuffer *
s_newbuf(msgpack_packer *pk)
{
    ck_assert_int_lt(s_nbufs, S_BUFS);
    msgpack_sbuffer *sb = &s_bufs[s_nbufs++];
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
    return sb;
}

static void
s_freebufs(void)
{
    for (int i = 0; i < s_nbufs; i++)
        msgpack_sbuffer_destroy(&s_bufs[i]);
    s_nbufs = 0;
}

typedef struct {
    const uint8_t *p;
    size_t len;
} s_bytes_t;

static s_bytes_t
s_done(const msgpack_sbuffer *sb)
{
    return (s_bytes_t){(const uint8_t *)sb->data, sb->size};
}

static hb_val_t
s_bin(s_bytes_t b)
{
    return hb_val_bin(b.p, (uint32_t)b.len);
}

/* A user key [S_TABLE][id][sub]. */
static hb_key_t
s_key(int64_t id, int64_t sub)
{
    hb_key_t k;
    hb_key_init(&k, S_TABLE);
    hb_key_put_i64(&k, id);
    hb_key_put_i64(&k, sub);
    return k;
}

/* A stored row of two int columns (NIL when is_nil[c]). */
static s_bytes_t
s_row2(int64_t a, int64_t b)
{
    msgpack_packer pk;
    msgpack_sbuffer *sb = s_newbuf(&pk);
    hb_val_t cols[2] = {hb_val_int(a), hb_val_int(b)};
    hb_row_pack(&pk, cols, 2);
    return s_done(sb);
}

/* Expressions: cN, const, cA op cB, cA op const. */
static s_bytes_t
s_ex_col_op_const(hb_ex_op_t op, uint32_t col, hb_val_t c)
{
    msgpack_packer pk;
    msgpack_sbuffer *sb = s_newbuf(&pk);
    hb_expr_pack_op(&pk, op, 3);
    hb_expr_pack_col(&pk, col);
    hb_expr_pack_const(&pk, &c);
    return s_done(sb);
}

static s_bytes_t
s_ex_col_op_col(hb_ex_op_t op, uint32_t a, uint32_t b)
{
    msgpack_packer pk;
    msgpack_sbuffer *sb = s_newbuf(&pk);
    hb_expr_pack_op(&pk, op, 3);
    hb_expr_pack_col(&pk, a);
    hb_expr_pack_col(&pk, b);
    return s_done(sb);
}

static s_bytes_t
s_ex_col(uint32_t c)
{
    msgpack_packer pk;
    msgpack_sbuffer *sb = s_newbuf(&pk);
    hb_expr_pack_col(&pk, c);
    return s_done(sb);
}

static s_bytes_t
s_ex_const(hb_val_t v)
{
    msgpack_packer pk;
    msgpack_sbuffer *sb = s_newbuf(&pk);
    hb_expr_pack_const(&pk, &v);
    return s_done(sb);
}

/* One SET item. */
typedef struct {
    uint32_t col;
    hb_type_t type;
    bool notnull;
    s_bytes_t expr;
} s_set_t;

static void
s_pack_sets(msgpack_packer *pk, const s_set_t *sets, uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(pk, 5);
        msgpack_pack_uint32(pk, sets[i].col);
        msgpack_pack_uint32(pk, sets[i].type);
        msgpack_pack_int32(pk, -1);
        hb_mp_pack_bool(pk, sets[i].notnull);
        hb_mp_pack_bin(pk, sets[i].expr.p, sets[i].expr.len);
    }
}

static void
s_pack_opt(msgpack_packer *pk, const s_bytes_t *e)
{
    if (e)
        hb_mp_pack_bin(pk, e->p, e->len);
    else
        msgpack_pack_nil(pk);
}

/* The ops of one sql.exec, packed in order by the s_op_* helpers. */
static msgpack_packer s_opk;
static msgpack_sbuffer s_opsb;
static uint32_t s_nops;
static uint8_t s_opsbytes[1 << 16];
static size_t s_opslen;

static void
s_ops_begin(void)
{
    msgpack_sbuffer_init(&s_opsb);
    msgpack_packer_init(&s_opk, &s_opsb, msgpack_sbuffer_write);
    s_nops = 0;
}

/* Returns the OPS argument: [op ...]. */
static hb_val_t
s_ops_end(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, s_nops);
    ck_assert_uint_le(sb.size + s_opsb.size, sizeof s_opsbytes);
    memcpy(s_opsbytes, sb.data, sb.size);
    memcpy(s_opsbytes + sb.size, s_opsb.data, s_opsb.size);
    s_opslen = sb.size + s_opsb.size;
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&s_opsb);
    return s_bin((s_bytes_t){s_opsbytes, s_opslen});
}

static void
s_op_head(int kind, uint32_t nfields, const hb_key_t *k)
{
    msgpack_pack_array(&s_opk, nfields);
    msgpack_pack_uint8(&s_opk, (uint8_t)kind);
    hb_mp_pack_bin(&s_opk, k->buf, k->len);
    msgpack_pack_uint32(&s_opk, S_PLEN);
    s_nops++;
}

static void
s_op_get(const hb_key_t *k)
{
    s_op_head(HB_SQLOP_GET, 3, k);
}

static void
s_op_insert(const hb_key_t *k, s_bytes_t row, int conflict, const s_set_t *sets,
            uint32_t nsets, const s_bytes_t *where, bool returning)
{
    s_op_head(HB_SQLOP_INSERT, 9, k);
    hb_mp_pack_cstr(&s_opk, "accounts");
    hb_mp_pack_bin(&s_opk, row.p, row.len);
    msgpack_pack_uint8(&s_opk, (uint8_t)conflict);
    s_pack_sets(&s_opk, sets, nsets);
    s_pack_opt(&s_opk, where);
    hb_mp_pack_bool(&s_opk, returning);
}

static void
s_op_update(const hb_key_t *k, const s_bytes_t *where, const s_set_t *sets,
            uint32_t nsets, bool returning)
{
    s_op_head(HB_SQLOP_UPDATE, 6, k);
    s_pack_opt(&s_opk, where);
    s_pack_sets(&s_opk, sets, nsets);
    hb_mp_pack_bool(&s_opk, returning);
}

static void
s_op_delete(const hb_key_t *k, const s_bytes_t *where, bool returning)
{
    s_op_head(HB_SQLOP_DELETE, 5, k);
    s_pack_opt(&s_opk, where);
    hb_mp_pack_bool(&s_opk, returning);
}

static void
s_op_check(const hb_key_t *k, const s_bytes_t *row)
{
    s_op_head(HB_SQLOP_CHECK, 4, k);
    s_pack_opt(&s_opk, row);
}

/* [CHECK, key, plen, true]: the row must exist, whatever its bytes. */
static void
s_op_check_exists(const hb_key_t *k)
{
    s_op_head(HB_SQLOP_CHECK, 4, k);
    msgpack_pack_true(&s_opk);
}

/* ------------------------------------------------------------------ */
/* The transaction and the context                                      */
/* ------------------------------------------------------------------ */

static stor_ctx_t *s_ctx;
static hb_lockset_t s_ls;
static hb_txn_t s_txn;
static hb_val_t s_args[4];
static uint32_t s_nargs;
static uint32_t s_nparts;

/* Plans proc over args, builds the transaction and resets the context to
 * it; every lock key then reads as absent until s_feed says otherwise. */
static void
s_start(const char *proc, const hb_val_t *args, uint32_t nargs, uint32_t nparts)
{
    const hb_proc_def_t *def = hb_proc_find(proc, strlen(proc));
    ck_assert_ptr_nonnull(def);
    char err[128] = "";
    hb_lockset_reset(&s_ls);
    hb_rc_t rc = hb_proc_plan(def, args, nargs, nparts, &s_ls, err, sizeof err);
    ck_assert_msg(rc == HB_OK, "plan: %s", err);
    memcpy(s_args, args, nargs * sizeof *args);
    s_nargs = nargs;
    s_nparts = nparts;
    s_txn = (hb_txn_t){.client_id = 1,
                       .req_id = 1,
                       .timestamp_us = HB_PG_EPOCH_US + 1000000,
                       .proc = proc,
                       .proc_len = (uint32_t)strlen(proc),
                       .nargs = nargs,
                       .args = s_args,
                       .nlocks = s_ls.n,
                       .locks = s_ls.locks};
    ck_assert_int_eq(stor_ctx_reset(s_ctx, &s_txn), HB_OK);
    for (uint32_t i = 0; i < s_ls.n; i++)
        ck_assert_int_eq(
            stor_ctx_add_read(s_ctx, s_ls.locks[i].key, s_ls.locks[i].len, NULL, 0),
            HB_OK);
}

static void
s_start_exec(int64_t catver, hb_val_t ops)
{
    hb_val_t args[2] = {hb_val_int(catver), ops};
    s_start("sql.exec", args, 2, S_NPARTS);
}

/* Gives key the stored value (copied into the context). */
static void
s_feed(const void *key, size_t klen, s_bytes_t val)
{
    uint8_t *p = stor_ctx_alloc(s_ctx, val.len);
    memcpy(p, val.p, val.len);
    ck_assert_int_eq(stor_ctx_add_read(s_ctx, key, klen, p, val.len), HB_OK);
}

static void
s_feed_key(const hb_key_t *k, s_bytes_t val)
{
    s_feed(k->buf, k->len, val);
}

/* [version, next id] */
static s_bytes_t
s_version_rec(int64_t version, int64_t next)
{
    msgpack_packer pk;
    msgpack_sbuffer *sb = s_newbuf(&pk);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int64(&pk, version);
    msgpack_pack_int64(&pk, next);
    return s_done(sb);
}

/* Feeds the version record of partition p (if the txn locks it). */
static bool
s_feed_version(uint16_t p, int64_t version, int64_t next)
{
    hb_key_t k;
    hb_key_catalog(&k, p, "", 0);
    for (uint32_t i = 0; i < s_ls.n; i++) {
        if (s_ls.locks[i].len == k.len && memcmp(s_ls.locks[i].key, k.buf, k.len) == 0) {
            s_feed_key(&k, s_version_rec(version, next));
            return true;
        }
    }
    return false;
}

static void
s_feed_versions(int64_t version, int64_t next)
{
    for (uint16_t p = 0; p < s_nparts; p++)
        s_feed_version(p, version, next);
}

static hb_rc_t
s_run(hb_proc_id_t id)
{
    return stor_proc_run(s_ctx, id, s_args, s_nargs);
}

/* Asserts the abort message starts with prefix. */
static void
s_expect_abort(hb_rc_t rc, const char *prefix)
{
    ck_assert_int_ne(rc, HB_OK);
    const char *msg = stor_ctx_message(s_ctx);
    ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0,
                  "message \"%s\", want \"%s...\"", msg, prefix);
}

/* Decodes sql.exec's one result into vals (cap); returns the count. */
static uint32_t
s_results(hb_val_t *vals, uint32_t cap)
{
    uint32_t n = 0;
    const hb_val_t *res = stor_ctx_results(s_ctx, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(res[0].type, HB_VAL_BIN);
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, res[0].u.s.ptr, res[0].u.s.len);
    uint32_t cnt = 0;
    ck_assert_int_eq(hb_mp_read_array(&r, &cnt), HB_OK);
    ck_assert_uint_le(cnt, cap);
    for (uint32_t i = 0; i < cnt; i++)
        ck_assert_int_eq(hb_mp_read_val(&r, &vals[i]), HB_OK);
    ck_assert_uint_eq(hb_mp_remaining(&r), 0);
    return cnt;
}

static void
s_expect_int_result(const hb_val_t *v, int64_t want)
{
    ck_assert_int_eq(v->type, HB_VAL_INT);
    ck_assert_int_eq(v->u.i, want);
}

static void
s_expect_bin_result(const hb_val_t *v, s_bytes_t want)
{
    ck_assert_int_eq(v->type, HB_VAL_BIN);
    ck_assert_uint_eq(v->u.s.len, want.len);
    ck_assert_int_eq(memcmp(v->u.s.ptr, want.p, want.len), 0);
}

/* Number of slots the body wrote. */
static uint32_t
s_nwritten(void)
{
    uint32_t n = 0;
    stor_write_t w;
    for (uint32_t i = 0; i < stor_ctx_nslots(s_ctx); i++)
        n += stor_ctx_written(s_ctx, i, &w);
    return n;
}

/* Returns true and *w if the body wrote key. */
static bool
s_written(const void *key, size_t klen, stor_write_t *w)
{
    for (uint32_t i = 0; i < stor_ctx_nslots(s_ctx); i++)
        if (stor_ctx_written(s_ctx, i, w) && w->klen == klen &&
            memcmp(w->key, key, klen) == 0)
            return true;
    return false;
}

/* Asserts the body stored exactly val at key. */
static void
s_expect_stored(const hb_key_t *k, s_bytes_t val)
{
    stor_write_t w;
    ck_assert_msg(s_written(k->buf, k->len, &w), "key not written");
    ck_assert_ptr_nonnull(w.val);
    ck_assert_uint_eq(w.vlen, val.len);
    ck_assert_int_eq(memcmp(w.val, val.p, val.len), 0);
    ck_assert_uint_eq(w.partition, hb_key_partition(k->buf, S_PLEN, s_nparts));
}

static void
s_expect_deleted(const hb_key_t *k)
{
    stor_write_t w;
    ck_assert_msg(s_written(k->buf, k->len, &w), "key not written");
    ck_assert_ptr_null(w.val);
}

static void
s_setup(void)
{
    s_ctx = stor_ctx_new();
    hb_lockset_init(&s_ls);
    s_nbufs = 0;
}

static void
s_teardown(void)
{
    stor_ctx_destroy(&s_ctx);
    hb_lockset_clear(&s_ls);
    s_freebufs();
}

/* ------------------------------------------------------------------ */
/* sql.exec                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_sqlexec_insert)
{
    hb_key_t k = s_key(1, 0);
    s_bytes_t row = s_row2(1, 100);
    s_ops_begin();
    s_op_insert(&k, row, 0, NULL, 0, NULL, false);
    s_start_exec(0, s_ops_end()); /* no version record: version 0 */
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_str_eq(stor_ctx_message(s_ctx), "");
    hb_val_t res[4];
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 1);
    ck_assert_uint_eq(s_nwritten(), 1);
    s_expect_stored(&k, row);

    /* RETURNING gives the row's bytes instead of 1. */
    s_ops_begin();
    s_op_insert(&k, row, 0, NULL, 0, NULL, true);
    s_start_exec(0, s_ops_end());
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_bin_result(&res[0], row);

    /* DO UPDATE on an absent key is a plain insert. */
    s_ops_begin();
    s_op_insert(&k, row, 2, NULL, 0, NULL, false);
    s_start_exec(0, s_ops_end());
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 1);
    s_expect_stored(&k, row);
}
END_TEST

START_TEST(test_sqlexec_insert_duplicate)
{
    hb_key_t k = s_key(1, 0);
    s_ops_begin();
    s_op_insert(&k, s_row2(1, 5), 0, NULL, 0, NULL, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, s_row2(1, 100));
    hb_rc_t rc = s_run(HB_PROC_SQL_EXEC);
    s_expect_abort(rc, "23505");
    ck_assert(strstr(stor_ctx_message(s_ctx), "accounts_pkey") != NULL);
    ck_assert_int_eq(stor_ctx_rc(s_ctx), rc);
    ck_assert_uint_eq(s_nwritten(), 0);

    /* Two inserts of one key in one transaction: the second sees the
     * first (its own write) and fails the same way. */
    hb_key_t k2 = s_key(2, 0);
    s_ops_begin();
    s_op_insert(&k2, s_row2(2, 1), 0, NULL, 0, NULL, false);
    s_op_insert(&k2, s_row2(2, 2), 0, NULL, 0, NULL, false);
    s_start_exec(0, s_ops_end());
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "23505");
}
END_TEST

START_TEST(test_sqlexec_on_conflict)
{
    hb_key_t k = s_key(7, 0);
    s_bytes_t old = s_row2(7, 10);
    hb_val_t res[4];

    /* DO NOTHING: result 0, no write. */
    s_ops_begin();
    s_op_insert(&k, s_row2(7, 5), 1, NULL, 0, NULL, true);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 0);
    ck_assert_uint_eq(s_nwritten(), 0);

    /* DO UPDATE SET v = v + EXCLUDED.v: the expression sees old ++ proposed,
     * so EXCLUDED.v (column 1 of 2) is column 2 + 1 = 3. */
    s_set_t set = {.col = 1, .type = HB_T_INT8, .expr = s_ex_col_op_col(HB_EX_ADD, 1, 3)};
    s_ops_begin();
    s_op_insert(&k, s_row2(7, 5), 2, &set, 1, NULL, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 1);
    ck_assert_uint_eq(s_nwritten(), 1);
    s_expect_stored(&k, s_row2(7, 15));

    /* ... with RETURNING: the new row. */
    s_ops_begin();
    s_op_insert(&k, s_row2(7, 5), 2, &set, 1, NULL, true);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_bin_result(&res[0], s_row2(7, 15));

    /* ... and a WHERE on the old row that fails: 0, nothing written.
     * WHERE EXCLUDED.v > v (5 > 10). */
    s_bytes_t where = s_ex_col_op_col(HB_EX_GT, 3, 1);
    s_ops_begin();
    s_op_insert(&k, s_row2(7, 5), 2, &set, 1, &where, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 0);
    ck_assert_uint_eq(s_nwritten(), 0);

    /* SET v = EXCLUDED.v (plain upsert). */
    s_set_t take = {.col = 1, .type = HB_T_INT8, .expr = s_ex_col(3)};
    s_ops_begin();
    s_op_insert(&k, s_row2(7, 5), 2, &take, 1, NULL, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    s_expect_stored(&k, s_row2(7, 5));
}
END_TEST

START_TEST(test_sqlexec_update)
{
    hb_key_t k = s_key(3, 0);
    s_bytes_t old = s_row2(3, 10);
    s_set_t inc = {.col = 1,
                   .type = HB_T_INT8,
                   .expr = s_ex_col_op_const(HB_EX_ADD, 1, hb_val_int(1))};
    s_bytes_t where_ok = s_ex_col_op_const(HB_EX_EQ, 1, hb_val_int(10));
    s_bytes_t where_no = s_ex_col_op_const(HB_EX_EQ, 1, hb_val_int(99));
    hb_val_t res[4];

    /* SET v = v + 1 WHERE v = 10 */
    s_ops_begin();
    s_op_update(&k, &where_ok, &inc, 1, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 1);
    ck_assert_uint_eq(s_nwritten(), 1);
    s_expect_stored(&k, s_row2(3, 11));

    /* The WHERE re-check on the locked row fails: 0, nothing written. */
    s_ops_begin();
    s_op_update(&k, &where_no, &inc, 1, true);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 0);
    ck_assert_uint_eq(s_nwritten(), 0);

    /* A missing row: 0. */
    s_ops_begin();
    s_op_update(&k, NULL, &inc, 1, false);
    s_start_exec(0, s_ops_end());
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 0);
    ck_assert_uint_eq(s_nwritten(), 0);

    /* RETURNING; and two updates in one transaction build on each other. */
    s_ops_begin();
    s_op_update(&k, NULL, &inc, 1, false);
    s_op_update(&k, NULL, &inc, 1, true);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 2);
    s_expect_int_result(&res[0], 1);
    s_expect_bin_result(&res[1], s_row2(3, 12));
    s_expect_stored(&k, s_row2(3, 12));

    /* SET a = b, b = a: both read the old row, so they swap. */
    s_set_t swap[2] = {{.col = 0, .type = HB_T_INT8, .expr = s_ex_col(1)},
                       {.col = 1, .type = HB_T_INT8, .expr = s_ex_col(0)}};
    s_ops_begin();
    s_op_update(&k, NULL, swap, 2, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    s_expect_stored(&k, s_row2(10, 3));
}
END_TEST

START_TEST(test_sqlexec_update_errors)
{
    hb_key_t k = s_key(4, 0);
    s_bytes_t old = s_row2(4, 10);
    struct {
        s_set_t set;
        const char *state;
    } t[] = {
        /* NULL into a NOT NULL column */
        {{.col = 1, .type = HB_T_INT8, .notnull = true, .expr = s_ex_const(hb_val_nil())},
         "23502"},
        /* v / 0 */
        {{.col = 1,
          .type = HB_T_INT8,
          .expr = s_ex_col_op_const(HB_EX_DIV, 1, hb_val_int(0))},
         "22012"},
        /* 70000 into a smallint */
        {{.col = 1, .type = HB_T_INT2, .expr = s_ex_const(hb_val_int(70000))}, "22003"},
        /* 'x' into an integer */
        {{.col = 1, .type = HB_T_INT4, .expr = s_ex_const(hb_val_str("x", 1))}, "22P02"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        s_ops_begin();
        s_op_update(&k, NULL, &t[i].set, 1, false);
        s_start_exec(0, s_ops_end());
        s_feed_key(&k, old);
        s_expect_abort(s_run(HB_PROC_SQL_EXEC), t[i].state);
        ck_assert_uint_eq(s_nwritten(), 0);
    }
    /* A NULL into a nullable column is fine. */
    s_set_t nul = {.col = 1, .type = HB_T_INT8, .expr = s_ex_const(hb_val_nil())};
    s_ops_begin();
    s_op_update(&k, NULL, &nul, 1, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    {
        msgpack_packer pk;
        msgpack_sbuffer *sb = s_newbuf(&pk);
        hb_val_t cols[2] = {hb_val_int(4), hb_val_nil()};
        hb_row_pack(&pk, cols, 2);
        s_expect_stored(&k, s_done(sb));
    }
    /* A WHERE that is not boolean: 42804. */
    s_bytes_t where = s_ex_col(1);
    s_ops_begin();
    s_op_update(&k, &where, &nul, 1, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "42804");
    /* A SET of a column the row does not have is malformed. */
    s_set_t past = {.col = 2, .type = HB_T_INT8, .expr = s_ex_const(hb_val_int(1))};
    s_ops_begin();
    s_op_update(&k, NULL, &past, 1, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "XX000");
}
END_TEST

START_TEST(test_sqlexec_delete)
{
    hb_key_t k = s_key(5, 0);
    s_bytes_t old = s_row2(5, 50);
    s_bytes_t where_no = s_ex_col_op_const(HB_EX_LT, 1, hb_val_int(50));
    hb_val_t res[4];

    s_ops_begin();
    s_op_delete(&k, NULL, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 1);
    ck_assert_uint_eq(s_nwritten(), 1);
    s_expect_deleted(&k);

    /* RETURNING gives the old row. */
    s_ops_begin();
    s_op_delete(&k, NULL, true);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_bin_result(&res[0], old);
    s_expect_deleted(&k);

    /* A failing WHERE, or no row: 0, nothing written. */
    s_ops_begin();
    s_op_delete(&k, &where_no, true);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 0);
    ck_assert_uint_eq(s_nwritten(), 0);
    s_ops_begin();
    s_op_delete(&k, NULL, false);
    s_start_exec(0, s_ops_end());
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 0);
    ck_assert_uint_eq(s_nwritten(), 0);

    /* DELETE then GET in one transaction: the GET sees the deletion. */
    s_ops_begin();
    s_op_delete(&k, NULL, false);
    s_op_get(&k);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, old);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 2);
    s_expect_int_result(&res[0], 1);
    ck_assert_int_eq(res[1].type, HB_VAL_NIL);
}
END_TEST

START_TEST(test_sqlexec_get)
{
    hb_key_t a = s_key(10, 0), b = s_key(11, 0), c = s_key(12, 0);
    s_bytes_t ra = s_row2(10, 1);
    hb_val_t res[8];
    /* GET a (present), GET b (absent), INSERT c, GET c (own write). */
    s_ops_begin();
    s_op_get(&a);
    s_op_get(&b);
    s_op_insert(&c, s_row2(12, 3), 0, NULL, 0, NULL, false);
    s_op_get(&c);
    s_start_exec(0, s_ops_end());
    s_feed_key(&a, ra);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 8), 4);
    s_expect_bin_result(&res[0], ra);
    ck_assert_int_eq(res[1].type, HB_VAL_NIL);
    s_expect_int_result(&res[2], 1);
    s_expect_bin_result(&res[3], s_row2(12, 3));
    ck_assert_uint_eq(s_nwritten(), 1);
    /* GETs take read locks only: the lock set has them as READ. */
    for (uint32_t i = 0; i < s_ls.n; i++)
        if (s_ls.locks[i].len == a.len && memcmp(s_ls.locks[i].key, a.buf, a.len) == 0)
            ck_assert_int_eq(s_ls.locks[i].mode, HB_LOCK_READ);
}
END_TEST

START_TEST(test_sqlexec_check)
{
    hb_key_t k = s_key(20, 0);
    s_bytes_t row = s_row2(20, 1);
    hb_val_t res[4];
    /* The row is as the block read it: 1. */
    s_ops_begin();
    s_op_check(&k, &row);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, row);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 1);
    /* Absent as read. */
    s_ops_begin();
    s_op_check(&k, NULL);
    s_start_exec(0, s_ops_end());
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    /* Changed, appeared, vanished: 40001. */
    s_ops_begin();
    s_op_check(&k, &row);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, s_row2(20, 2));
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "40001");
    s_ops_begin();
    s_op_check(&k, NULL);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, row);
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "40001");
    s_ops_begin();
    s_op_check(&k, &row);
    s_start_exec(0, s_ops_end());
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "40001");
}
END_TEST

/* An existence CHECK passes whatever the row's bytes became (another
 * block's blind update), fails (40001) when the row is gone. */
START_TEST(test_sqlexec_check_exists)
{
    hb_key_t k = s_key(21, 0);
    hb_val_t res[4];
    s_ops_begin();
    s_op_check_exists(&k);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, s_row2(21, 7));
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);
    s_expect_int_result(&res[0], 1);
    s_ops_begin();
    s_op_check_exists(&k);
    s_start_exec(0, s_ops_end());
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "40001");
    /* It takes a read lock, like any CHECK. */
    s_ops_begin();
    s_op_check_exists(&k);
    s_start_exec(0, s_ops_end());
    bool found = false;
    for (uint32_t i = 0; i < s_ls.n; i++)
        if (s_ls.locks[i].len == k.len && memcmp(s_ls.locks[i].key, k.buf, k.len) == 0) {
            ck_assert_int_eq(s_ls.locks[i].mode, HB_LOCK_READ);
            found = true;
        }
    ck_assert(found);
}
END_TEST

START_TEST(test_sqlexec_catalog)
{
    hb_key_t k = s_key(30, 0), k2 = s_key(31, 0);
    /* Find a second key on another partition. */
    for (int64_t id = 31; hb_key_partition(k2.buf, S_PLEN, S_NPARTS) ==
                          hb_key_partition(k.buf, S_PLEN, S_NPARTS);
         id++)
        k2 = s_key(id, 0);
    uint16_t p1 = (uint16_t)hb_key_partition(k.buf, S_PLEN, S_NPARTS);
    uint16_t p2 = (uint16_t)hb_key_partition(k2.buf, S_PLEN, S_NPARTS);
    hb_val_t res[4];

    /* Planned at version 3, the records say 3: runs. */
    s_ops_begin();
    s_op_insert(&k, s_row2(30, 1), 0, NULL, 0, NULL, false);
    s_start_exec(3, s_ops_end());
    s_feed_versions(3, 1100);
    ck_assert_int_eq(s_run(HB_PROC_SQL_EXEC), HB_OK);
    ck_assert_uint_eq(s_results(res, 4), 1);

    /* Planned at 2: XXCAT, nothing written, no results. */
    s_ops_begin();
    s_op_insert(&k, s_row2(30, 1), 0, NULL, 0, NULL, false);
    s_start_exec(2, s_ops_end());
    s_feed_versions(3, 1100);
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "XXCAT");
    ck_assert_uint_eq(s_nwritten(), 0);
    uint32_t n = 99;
    stor_ctx_results(s_ctx, &n);
    ck_assert_uint_eq(n, 0);

    /* An absent record is version 0. */
    s_ops_begin();
    s_op_get(&k);
    s_start_exec(1, s_ops_end());
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "XXCAT");

    /* Two partitions, one of them changed: XXCAT. */
    s_ops_begin();
    s_op_update(&k, NULL, NULL, 0, false);
    s_op_update(&k2, NULL, NULL, 0, false);
    s_start_exec(3, s_ops_end());
    ck_assert(s_feed_version(p1, 3, 1100));
    ck_assert(s_feed_version(p2, 4, 1101));
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "XXCAT");
    ck_assert_uint_eq(s_nwritten(), 0);

    /* A corrupt version record: XX001. */
    s_ops_begin();
    s_op_get(&k);
    s_start_exec(0, s_ops_end());
    hb_key_t vk;
    hb_key_catalog(&vk, p1, "", 0);
    s_feed_key(&vk, (s_bytes_t){(const uint8_t *)"\x91\x01", 2});
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "XX001");
}
END_TEST

START_TEST(test_sqlexec_malformed)
{
    hb_key_t k = s_key(40, 0);
    /* The plan accepts any op with a good head; the body checks the rest:
     * an UPDATE with 6 fields whose sets are not an array. */
    s_ops_begin();
    s_op_head(HB_SQLOP_UPDATE, 6, &k);
    msgpack_pack_nil(&s_opk);
    msgpack_pack_uint8(&s_opk, 7);
    msgpack_pack_false(&s_opk);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, s_row2(40, 1));
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "XX000");
    /* A GET with extra fields. */
    s_ops_begin();
    s_op_head(HB_SQLOP_GET, 4, &k);
    msgpack_pack_nil(&s_opk);
    s_start_exec(0, s_ops_end());
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "XX000");
    /* A stored row that is not a row: XX001. */
    s_ops_begin();
    s_op_delete(&k, NULL, false);
    s_start_exec(0, s_ops_end());
    s_feed_key(&k, (s_bytes_t){(const uint8_t *)"\x05", 1});
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "XX001");
    /* Wrong argument types reach the body only from a broken caller. */
    s_ops_begin();
    s_op_get(&k);
    s_start_exec(0, s_ops_end());
    s_args[0] = hb_val_str("0", 1);
    s_expect_abort(s_run(HB_PROC_SQL_EXEC), "XX000");
}
END_TEST

/* ------------------------------------------------------------------ */
/* sql.ddl                                                              */
/* ------------------------------------------------------------------ */

#define S_DDL_PARTS 3

static void
s_start_ddl(int64_t catver, int kind, const char *name, s_bytes_t def)
{
    hb_val_t args[4] = {hb_val_int(catver), hb_val_int(kind),
                        hb_val_str(name, (uint32_t)strlen(name)), s_bin(def)};
    s_start("sql.ddl", args, 4, S_DDL_PARTS);
}

/* [table id, def] */
static s_bytes_t
s_table_rec(int64_t id, s_bytes_t def)
{
    msgpack_packer pk;
    msgpack_sbuffer *sb = s_newbuf(&pk);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int64(&pk, id);
    hb_mp_pack_bin(&pk, def.p, def.len);
    return s_done(sb);
}

/* Feeds table name's record on every partition. */
static void
s_feed_table(const char *name, int64_t id, s_bytes_t def)
{
    for (uint16_t p = 0; p < S_DDL_PARTS; p++) {
        hb_key_t k;
        hb_key_catalog(&k, p, name, strlen(name));
        s_feed_key(&k, s_table_rec(id, def));
    }
}

static void
s_expect_ddl_results(int64_t version, int64_t id)
{
    uint32_t n = 0;
    const hb_val_t *res = stor_ctx_results(s_ctx, &n);
    ck_assert_uint_eq(n, 2);
    s_expect_int_result(&res[0], version);
    s_expect_int_result(&res[1], id);
}

/* Asserts every partition's version record was written as [v, next] and
 * its table record as [id, def] (or deleted when def.p is NULL). */
static void
s_expect_ddl_writes(const char *name, int64_t v, int64_t next, int64_t id, s_bytes_t def)
{
    ck_assert_uint_eq(s_nwritten(), 2 * S_DDL_PARTS);
    for (uint16_t p = 0; p < S_DDL_PARTS; p++) {
        hb_key_t vk, tk;
        stor_write_t w;
        hb_key_catalog(&vk, p, "", 0);
        hb_key_catalog(&tk, p, name, strlen(name));
        s_bytes_t want = s_version_rec(v, next);
        ck_assert(s_written(vk.buf, vk.len, &w));
        ck_assert_uint_eq(w.partition, p);
        ck_assert_uint_eq(w.vlen, want.len);
        ck_assert_int_eq(memcmp(w.val, want.p, want.len), 0);
        ck_assert(s_written(tk.buf, tk.len, &w));
        ck_assert_uint_eq(w.partition, p);
        if (!def.p) {
            ck_assert_ptr_null(w.val);
            continue;
        }
        want = s_table_rec(id, def);
        ck_assert_uint_eq(w.vlen, want.len);
        ck_assert_int_eq(memcmp(w.val, want.p, want.len), 0);
    }
}

START_TEST(test_sqlexec_ddl)
{
    s_bytes_t def = {(const uint8_t *)"\x92\x01\x02", 3};
    s_bytes_t none = {NULL, 0};

    /* CREATE on an empty catalog: version 1, the first user table id. */
    s_start_ddl(0, HB_SQLDDL_CREATE, "accounts", def);
    ck_assert_int_eq(s_run(HB_PROC_SQL_DDL), HB_OK);
    s_expect_ddl_results(1, HB_TABLE_USER_FIRST);
    s_expect_ddl_writes("accounts", 1, HB_TABLE_USER_FIRST + 1, HB_TABLE_USER_FIRST, def);

    /* CREATE again: 42P07, nothing written. */
    s_start_ddl(1, HB_SQLDDL_CREATE, "accounts", def);
    s_feed_versions(1, HB_TABLE_USER_FIRST + 1);
    s_feed_table("accounts", HB_TABLE_USER_FIRST, def);
    s_expect_abort(s_run(HB_PROC_SQL_DDL), "42P07");
    ck_assert_uint_eq(s_nwritten(), 0);

    /* DROP or TRUNCATE of a missing table: 42P01. */
    for (int kind = HB_SQLDDL_DROP; kind <= HB_SQLDDL_TRUNCATE; kind++) {
        s_start_ddl(1, kind, "nosuch", def);
        s_feed_versions(1, HB_TABLE_USER_FIRST + 1);
        s_expect_abort(s_run(HB_PROC_SQL_DDL), "42P01");
        ck_assert_uint_eq(s_nwritten(), 0);
    }

    /* TRUNCATE: a new table id (the next one), the version moves on. */
    s_start_ddl(1, HB_SQLDDL_TRUNCATE, "accounts", def);
    s_feed_versions(1, HB_TABLE_USER_FIRST + 1);
    s_feed_table("accounts", HB_TABLE_USER_FIRST, def);
    ck_assert_int_eq(s_run(HB_PROC_SQL_DDL), HB_OK);
    s_expect_ddl_results(2, HB_TABLE_USER_FIRST + 1);
    s_expect_ddl_writes("accounts", 2, HB_TABLE_USER_FIRST + 2, HB_TABLE_USER_FIRST + 1,
                        def);

    /* DROP: the table records are deleted, the id is reported. */
    s_start_ddl(2, HB_SQLDDL_DROP, "accounts", def);
    s_feed_versions(2, HB_TABLE_USER_FIRST + 2);
    s_feed_table("accounts", HB_TABLE_USER_FIRST + 1, def);
    ck_assert_int_eq(s_run(HB_PROC_SQL_DDL), HB_OK);
    s_expect_ddl_results(3, HB_TABLE_USER_FIRST + 1);
    s_expect_ddl_writes("accounts", 3, HB_TABLE_USER_FIRST + 2, 0, none);

    /* Planned at an old catalog version: XXCAT. */
    s_start_ddl(1, HB_SQLDDL_CREATE, "other", def);
    s_feed_versions(2, HB_TABLE_USER_FIRST + 2);
    s_expect_abort(s_run(HB_PROC_SQL_DDL), "XXCAT");
    ck_assert_uint_eq(s_nwritten(), 0);

    /* A corrupt table record: XX001. */
    s_start_ddl(0, HB_SQLDDL_DROP, "accounts", def);
    for (uint16_t p = 0; p < S_DDL_PARTS; p++) {
        hb_key_t tk;
        hb_key_catalog(&tk, p, "accounts", 8);
        s_feed_key(&tk, (s_bytes_t){(const uint8_t *)"\x01", 1});
    }
    s_expect_abort(s_run(HB_PROC_SQL_DDL), "XX001");
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("sqlexec");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_sqlexec_insert", test_sqlexec_insert},
        {"test_sqlexec_insert_duplicate", test_sqlexec_insert_duplicate},
        {"test_sqlexec_on_conflict", test_sqlexec_on_conflict},
        {"test_sqlexec_update", test_sqlexec_update},
        {"test_sqlexec_update_errors", test_sqlexec_update_errors},
        {"test_sqlexec_delete", test_sqlexec_delete},
        {"test_sqlexec_get", test_sqlexec_get},
        {"test_sqlexec_check", test_sqlexec_check},
        {"test_sqlexec_check_exists", test_sqlexec_check_exists},
        {"test_sqlexec_catalog", test_sqlexec_catalog},
        {"test_sqlexec_malformed", test_sqlexec_malformed},
        {"test_sqlexec_ddl", test_sqlexec_ddl},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, s_setup, s_teardown);
        tcase_add_test(tc, cases[i].fn);
        suite_add_tcase(s, tc);
    }
    return s;
}

int
main(void)
{
    return hb_test_run(s_suite());
}
