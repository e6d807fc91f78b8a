/* test_proc_tpcc.c — unit tests of the native TPC-C procedures: their plans
 * (common/hb_proc.c), their bodies (storage/procs_tpcc.c) and the fresh
 * writes they make through the execution context (storage/procs.c,
 * storage/executor.c).
 *
 * Plans: the exact lock keys (built here independently with hb_key_init /
 * hb_key_put_i64), modes and partitions (hb_key_partition of the table id
 * + first column, as SQL places a PARTITION BY HASH row) for 2 partitions,
 * and every argument error (HB_INVALID, the message, the lock set left as
 * it was). Bodies run over a hand-built context whose reads are rows
 * encoded per docs/tpcc.md; the cases check the stored bytes and values:
 * New-Order's d_next_o_id, both branches of the stock formula, the remote
 * count, the order lines, the fresh orders / index entry / new_order /
 * order_line rows with exact keys, the total; the invalid-item abort with
 * nothing written; Payment's arithmetic, BC c_data and history row;
 * Delivery's happy path and its stale-OLLP aborts ("40001"). An executor
 * over a real engine shows fresh writes reaching the shard.
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <leveldb/c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "executor.h"
#include "hb_alloc.h"
#include "hb_expr.h"
#include "hb_key.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "hb_proc.h"
#include "hb_txn.h"
#include "hb_wire.h"
#include "procs.h"

/* The schema: table ids and index numbers, as the harness passes them. */
enum {
    T_WH = 1100,
    T_DI,
    T_CU,
    T_HI,
    T_NO,
    T_OR,
    T_OL,
    T_IT,
    T_ST,
};
#define IX_OC 1
#define IX_CN 2
#define NOW   123456789 /* the stamp, us since 2000-01-01 */

/* ------------------------------------------------------------------ */
/* Keys, rows and arguments                                             */
/* ------------------------------------------------------------------ */

/* [table][n int64 columns] */
static hb_key_t
s_key(uint32_t table, int n, ...)
{
    hb_key_t k;
    va_list ap;
    hb_key_init(&k, table);
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        hb_key_put_i64(&k, va_arg(ap, int64_t));
    va_end(ap);
    return k;
}

static uint16_t
s_part(const hb_key_t *k, uint32_t nparts)
{
    return (uint16_t)hb_key_partition(k->buf, 12, nparts);
}

static int
s_schema(hb_val_t *a)
{
    const int64_t v[HB_TPCC_SCHEMA_ARGS] = {T_WH, T_DI, T_CU, T_HI,  T_NO, T_OR,
                                            T_OL, T_IT, T_ST, IX_OC, IX_CN};
    for (int i = 0; i < HB_TPCC_SCHEMA_ARGS; i++)
        a[i] = hb_val_int(v[i]);
    return HB_TPCC_SCHEMA_ARGS;
}

static hb_val_t
s_s(const char *s)
{
    return hb_val_str(s, (uint32_t)strlen(s));
}

/* ------------------------------------------------------------------ */
/* The context                                                          */
/* ------------------------------------------------------------------ */

static stor_ctx_t *s_ctx;
static hb_lockset_t s_ls;
static hb_txn_t s_txn;
static hb_val_t s_args[64];
static uint32_t s_nargs;

static void
s_setup(void)
{
    hb_log_set_level(HB_LOG_OFF);
    s_ctx = stor_ctx_new();
    hb_lockset_init(&s_ls);
}

static void
s_teardown(void)
{
    stor_ctx_destroy(&s_ctx);
    hb_lockset_clear(&s_ls);
}

/* Plans proc(args) for nparts, resets the context to it, every lock key
 * absent until s_feed. */
static void
s_start(const char *proc, const hb_val_t *args, uint32_t nargs, uint32_t nparts)
{
    const hb_proc_def_t *def = hb_proc_find(proc, strlen(proc));
    ck_assert_ptr_nonnull(def);
    char err[256] = "";
    hb_lockset_reset(&s_ls);
    hb_rc_t rc = hb_proc_plan(def, args, nargs, nparts, &s_ls, err, sizeof err);
    ck_assert_msg(rc == HB_OK, "plan: %s", err);
    memcpy(s_args, args, nargs * sizeof *args);
    s_nargs = nargs;
    s_txn = (hb_txn_t){.client_id = 1,
                       .req_id = 1,
                       .timestamp_us = HB_PG_EPOCH_US + NOW,
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

/* Gives lock key k the row cols[0..n) (encoded into context memory). */
static void
s_feed(const hb_key_t *k, const hb_val_t *cols, uint32_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_int_eq(hb_row_pack(&pk, cols, n), HB_OK);
    uint8_t *p = stor_ctx_alloc(s_ctx, sb.size);
    memcpy(p, sb.data, sb.size);
    ck_assert_int_eq(stor_ctx_add_read(s_ctx, k->buf, k->len, p, sb.size), HB_OK);
    msgpack_sbuffer_destroy(&sb);
}

static hb_rc_t
s_run(hb_proc_id_t id)
{
    return stor_proc_run(s_ctx, id, s_args, s_nargs);
}

/* Counts the slot writes. */
static uint32_t
s_nwritten(void)
{
    uint32_t n = 0;
    stor_write_t w;
    for (uint32_t i = 0; i < stor_ctx_nslots(s_ctx); i++)
        n += stor_ctx_written(s_ctx, i, &w);
    return n;
}

/* Finds the slot write of k. */
static bool
s_written(const hb_key_t *k, stor_write_t *w)
{
    for (uint32_t i = 0; i < stor_ctx_nslots(s_ctx); i++)
        if (stor_ctx_written(s_ctx, i, w) && w->klen == k->len &&
            memcmp(w->key, k->buf, k->len) == 0)
            return true;
    return false;
}

/* Returns the index of the fresh write of k (asserting it exists). */
static uint32_t
s_fresh_at(const hb_key_t *k, stor_write_t *w)
{
    for (uint32_t i = 0; i < stor_ctx_nfresh(s_ctx); i++)
        if (stor_ctx_fresh(s_ctx, i, w) && w->klen == k->len &&
            memcmp(w->key, k->buf, k->len) == 0)
            return i;
    ck_abort_msg("no fresh write of the key");
    return 0;
}

/* Decodes a written row into cols (cap 32); returns the column count. */
static uint32_t
s_decode(const stor_write_t *w, hb_val_t *cols)
{
    uint32_t n = 0;
    ck_assert_ptr_nonnull(w->val);
    ck_assert_int_eq(hb_row_decode(w->val, w->vlen, cols, 32, &n), HB_OK);
    return n;
}

/* Asserts the encoded row bytes equal the encoding of want[0..n). */
static void
s_expect_row(const stor_write_t *w, const hb_val_t *want, uint32_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_int_eq(hb_row_pack(&pk, want, n), HB_OK);
    ck_assert_ptr_nonnull(w->val);
    ck_assert_uint_eq(w->vlen, sb.size);
    ck_assert_int_eq(memcmp(w->val, sb.data, sb.size), 0);
    msgpack_sbuffer_destroy(&sb);
}

static void
s_expect_int(const hb_val_t *v, int64_t want)
{
    ck_assert_int_eq(v->type, HB_VAL_INT);
    ck_assert_int_eq(v->u.i, want);
}

static void
s_expect_dec(const hb_val_t *v, int64_t m, int32_t scale)
{
    ck_assert_int_eq(v->type, HB_VAL_DEC);
    ck_assert_int_eq(v->u.dec.scale, scale);
    ck_assert_int_eq(v->u.dec.m, m);
}

static void
s_expect_str(const hb_val_t *v, const char *want)
{
    ck_assert_int_eq(v->type, HB_VAL_STR);
    ck_assert_uint_eq(v->u.s.len, strlen(want));
    ck_assert_int_eq(memcmp(v->u.s.ptr, want, v->u.s.len), 0);
}

static void
s_expect_abort(hb_rc_t rc, hb_rc_t want, const char *prefix)
{
    ck_assert_int_eq(rc, want);
    const char *msg = stor_ctx_message(s_ctx);
    ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0,
                  "message \"%s\", want \"%s...\"", msg, prefix);
}

/* ------------------------------------------------------------------ */
/* Rows of the fixture database                                         */
/* ------------------------------------------------------------------ */

static void
s_feed_warehouse(int64_t w, int64_t tax4, int64_t ytd2)
{
    hb_key_t k = s_key(T_WH, 1, w);
    const hb_val_t row[9] = {hb_val_int(w),    s_s("W-one"),        s_s("st1"),
                             s_s("st2"),       s_s("city"),         s_s("ST"),
                             s_s("123451111"), hb_val_dec(tax4, 4), hb_val_dec(ytd2, 2)};
    s_feed(&k, row, 9);
}

static void
s_feed_district(int64_t w, int64_t d, int64_t tax4, int64_t ytd2, int64_t next)
{
    hb_key_t k = s_key(T_DI, 2, w, d);
    const hb_val_t row[11] = {hb_val_int(w),       hb_val_int(d),   s_s("D-three"),
                              s_s("st1"),          s_s("st2"),      s_s("city"),
                              s_s("ST"),           s_s("zip"),      hb_val_dec(tax4, 4),
                              hb_val_dec(ytd2, 2), hb_val_int(next)};
    s_feed(&k, row, 11);
}

static void
s_customer_row(hb_val_t *row, int64_t w, int64_t d, int64_t c, const char *credit,
               int64_t disc4, int64_t bal2, int64_t ytd2, int64_t pcnt, int64_t dcnt,
               hb_val_t data)
{
    const hb_val_t r[21] = {hb_val_int(w),
                            hb_val_int(d),
                            hb_val_int(c),
                            s_s("First"),
                            s_s("OE"),
                            s_s("BARBARBAR"),
                            s_s("st1"),
                            s_s("st2"),
                            s_s("city"),
                            s_s("ST"),
                            s_s("zip"),
                            s_s("phone"),
                            hb_val_int(42),
                            s_s(credit),
                            hb_val_dec(5000000, 2),
                            hb_val_dec(disc4, 4),
                            hb_val_dec(bal2, 2),
                            hb_val_dec(ytd2, 2),
                            hb_val_int(pcnt),
                            hb_val_int(dcnt),
                            data};
    memcpy(row, r, sizeof r);
}

static void
s_feed_customer(int64_t w, int64_t d, int64_t c, const char *credit, int64_t disc4,
                int64_t bal2, int64_t ytd2, int64_t pcnt, int64_t dcnt, hb_val_t data)
{
    hb_key_t k = s_key(T_CU, 3, w, d, c);
    hb_val_t row[21];
    s_customer_row(row, w, d, c, credit, disc4, bal2, ytd2, pcnt, dcnt, data);
    s_feed(&k, row, 21);
}

static void
s_feed_item(int64_t i, hb_val_t price)
{
    hb_key_t k = s_key(T_IT, 1, i);
    const hb_val_t row[5] = {hb_val_int(i), hb_val_int(i * 7), s_s("item"), price,
                             s_s("data")};
    s_feed(&k, row, 5);
}

/* s_dist_DD of stock (w, i): "S<DD>-<w>-<i>" */
static char s_dist[10][32];

static void
s_stock_row(hb_val_t *row, int64_t w, int64_t i, int64_t q, int64_t ytd, int64_t ocnt,
            int64_t rcnt)
{
    row[0] = hb_val_int(w);
    row[1] = hb_val_int(i);
    row[2] = hb_val_int(q);
    for (int d = 0; d < 10; d++) {
        snprintf(s_dist[d], sizeof s_dist[d], "S%02d-%" PRId64 "-%" PRId64, d + 1, w, i);
        char *p = stor_ctx_alloc(s_ctx, strlen(s_dist[d]));
        memcpy(p, s_dist[d], strlen(s_dist[d]));
        row[3 + d] = hb_val_str(p, (uint32_t)strlen(s_dist[d]));
    }
    row[13] = hb_val_int(ytd);
    row[14] = hb_val_int(ocnt);
    row[15] = hb_val_int(rcnt);
    row[16] = s_s("sdata");
}

static void
s_feed_stock(int64_t w, int64_t i, int64_t q)
{
    hb_key_t k = s_key(T_ST, 2, w, i);
    hb_val_t row[17];
    s_stock_row(row, w, i, q, 100, 4, 1);
    s_feed(&k, row, 17);
}

/* ------------------------------------------------------------------ */
/* Plans                                                                */
/* ------------------------------------------------------------------ */

/* Asserts lock i is (mode, k) on k's TPC-C partition of nparts. */
static void
s_expect_lock(const hb_lockset_t *ls, uint32_t i, hb_lock_mode_t mode, hb_key_t k,
              uint32_t nparts)
{
    ck_assert_uint_lt(i, ls->n);
    const hb_lock_t *l = &ls->locks[i];
    ck_assert_int_eq(l->mode, mode);
    ck_assert_uint_eq(l->len, k.len);
    ck_assert_int_eq(memcmp(l->key, k.buf, k.len), 0);
    ck_assert_uint_eq(l->partition, s_part(&k, nparts));
}

/* new_order W=1 D=3 C=7, lines (10,1,5) (20,1,5) (30,2,3) (40,1,5) (50,1,5). */
static uint32_t
s_new_order_args(hb_val_t *a)
{
    uint32_t n = (uint32_t)s_schema(a);
    const int64_t v[] = {1, 3, 7, 0, 10, 1, 5, 20, 1, 5, 30, 2, 3, 40, 1, 5, 50, 1, 5};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        a[n++] = hb_val_int(v[i]);
    return n;
}

START_TEST(test_tpcc_plan_new_order)
{
    hb_val_t a[64];
    uint32_t n = s_new_order_args(a);
    const uint32_t np = 2;
    char err[256] = "";
    hb_lockset_t ls;
    hb_lockset_init(&ls);
    const hb_proc_def_t *def = hb_proc_by_id(HB_PROC_TPCC_NEW_ORDER);
    ck_assert_ptr_eq(def, hb_proc_find("tpcc.new_order", 14));
    ck_assert_int_eq(hb_proc_plan(def, a, n, np, &ls, err, sizeof err), HB_OK);
    ck_assert_uint_eq(ls.n, 16);
    s_expect_lock(&ls, 0, HB_LOCK_READ, s_key(T_WH, 1, (int64_t)1), np);
    s_expect_lock(&ls, 1, HB_LOCK_WRITE, s_key(T_DI, 2, (int64_t)1, (int64_t)3), np);
    s_expect_lock(&ls, 2, HB_LOCK_READ,
                  s_key(T_CU, 3, (int64_t)1, (int64_t)3, (int64_t)7), np);
    const int64_t items[5] = {10, 20, 30, 40, 50}, sw[5] = {1, 1, 2, 1, 1};
    for (uint32_t l = 0; l < 5; l++) {
        s_expect_lock(&ls, 3 + 2 * l, HB_LOCK_READ, s_key(T_IT, 1, items[l]), np);
        s_expect_lock(&ls, 4 + 2 * l, HB_LOCK_WRITE, s_key(T_ST, 2, sw[l], items[l]), np);
    }
    /* The anchors of the fresh rows' partitions. */
    s_expect_lock(&ls, 13, HB_LOCK_WRITE, s_key(T_OR, 2, (int64_t)1, (int64_t)3), np);
    s_expect_lock(&ls, 14, HB_LOCK_WRITE, s_key(T_NO, 2, (int64_t)1, (int64_t)3), np);
    s_expect_lock(&ls, 15, HB_LOCK_WRITE, s_key(T_OL, 2, (int64_t)1, (int64_t)3), np);
    /* Partitions differ per table for one warehouse (the table id is in
     * the hash), so some of these are on each of the two partitions. */
    bool on[2] = {false, false};
    for (uint32_t i = 0; i < ls.n; i++)
        on[ls.locks[i].partition] = true;
    ck_assert(on[0] && on[1]);

    /* A repeated item is one item lock and one stock lock. */
    hb_lockset_reset(&ls);
    a[HB_TPCC_SCHEMA_ARGS + 4 + 3] = hb_val_int(10); /* I2 = 10 */
    ck_assert_int_eq(hb_proc_plan(def, a, n, np, &ls, err, sizeof err), HB_OK);
    ck_assert_uint_eq(ls.n, 14);
    hb_lockset_clear(&ls);
}
END_TEST

START_TEST(test_tpcc_plan_payment_delivery)
{
    hb_val_t a[64];
    const uint32_t np = 2;
    char err[256] = "";
    hb_lockset_t ls;
    hb_lockset_init(&ls);
    uint32_t n = (uint32_t)s_schema(a);
    a[n++] = hb_val_int(1);
    a[n++] = hb_val_int(3);
    a[n++] = hb_val_int(2);
    a[n++] = hb_val_int(4);
    a[n++] = hb_val_int(9);
    a[n++] = hb_val_dec(12345, 2);
    ck_assert_int_eq(
        hb_proc_plan(hb_proc_by_id(HB_PROC_TPCC_PAYMENT), a, n, np, &ls, err, sizeof err),
        HB_OK);
    ck_assert_uint_eq(ls.n, 4);
    s_expect_lock(&ls, 0, HB_LOCK_WRITE, s_key(T_WH, 1, (int64_t)1), np);
    s_expect_lock(&ls, 1, HB_LOCK_WRITE, s_key(T_DI, 2, (int64_t)1, (int64_t)3), np);
    s_expect_lock(&ls, 2, HB_LOCK_WRITE,
                  s_key(T_CU, 3, (int64_t)2, (int64_t)4, (int64_t)9), np);
    s_expect_lock(&ls, 3, HB_LOCK_WRITE,
                  s_key(T_HI, 3, (int64_t)2, (int64_t)4, (int64_t)9), np);

    /* Delivery: districts 2 (order 2101, customer 11, 2 lines) and 5
     * (2200, 12, 1 line); the others skipped. */
    hb_lockset_reset(&ls);
    n = (uint32_t)s_schema(a);
    a[n++] = hb_val_int(1);
    a[n++] = hb_val_int(7);
    for (int d = 1; d <= 10; d++) {
        a[n++] = hb_val_int(d == 2 ? 2101 : d == 5 ? 2200 : 0);
        a[n++] = hb_val_int(d == 2 ? 11 : d == 5 ? 12 : 0);
        a[n++] = hb_val_int(d == 2 ? 2 : d == 5 ? 1 : 0);
    }
    ck_assert_int_eq(hb_proc_plan(hb_proc_by_id(HB_PROC_TPCC_DELIVERY), a, n, np, &ls,
                                  err, sizeof err),
                     HB_OK);
    /* Each delivered district also write-locks its anchors, so a New-Order
     * of the district (fresh writes, no locks of their own) is ordered
     * against the Delivery. */
    ck_assert_uint_eq(ls.n, 15);
    const int64_t w = 1, d2 = 2, d5 = 5, o2 = 2101, o5 = 2200;
    s_expect_lock(&ls, 0, HB_LOCK_WRITE, s_key(T_NO, 3, w, d2, o2), np);
    s_expect_lock(&ls, 1, HB_LOCK_WRITE, s_key(T_OR, 3, w, d2, o2), np);
    s_expect_lock(&ls, 2, HB_LOCK_WRITE, s_key(T_OL, 4, w, d2, o2, (int64_t)1), np);
    s_expect_lock(&ls, 3, HB_LOCK_WRITE, s_key(T_OL, 4, w, d2, o2, (int64_t)2), np);
    s_expect_lock(&ls, 4, HB_LOCK_WRITE, s_key(T_CU, 3, w, d2, (int64_t)11), np);
    s_expect_lock(&ls, 5, HB_LOCK_WRITE, s_key(T_OR, 2, w, d2), np);
    s_expect_lock(&ls, 6, HB_LOCK_WRITE, s_key(T_NO, 2, w, d2), np);
    s_expect_lock(&ls, 7, HB_LOCK_WRITE, s_key(T_OL, 2, w, d2), np);
    s_expect_lock(&ls, 8, HB_LOCK_WRITE, s_key(T_NO, 3, w, d5, o5), np);
    s_expect_lock(&ls, 9, HB_LOCK_WRITE, s_key(T_OR, 3, w, d5, o5), np);
    s_expect_lock(&ls, 10, HB_LOCK_WRITE, s_key(T_OL, 4, w, d5, o5, (int64_t)1), np);
    s_expect_lock(&ls, 11, HB_LOCK_WRITE, s_key(T_CU, 3, w, d5, (int64_t)12), np);
    s_expect_lock(&ls, 12, HB_LOCK_WRITE, s_key(T_OR, 2, w, d5), np);
    s_expect_lock(&ls, 13, HB_LOCK_WRITE, s_key(T_NO, 2, w, d5), np);
    s_expect_lock(&ls, 14, HB_LOCK_WRITE, s_key(T_OL, 2, w, d5), np);

    /* Nothing to deliver: an empty lock set. */
    hb_lockset_reset(&ls);
    for (uint32_t i = HB_TPCC_SCHEMA_ARGS + 2; i < n; i++)
        a[i] = hb_val_int(0);
    ck_assert_int_eq(hb_proc_plan(hb_proc_by_id(HB_PROC_TPCC_DELIVERY), a, n, np, &ls,
                                  err, sizeof err),
                     HB_OK);
    ck_assert_uint_eq(ls.n, 0);
    hb_lockset_clear(&ls);
}
END_TEST

/* Plans proc(a) and expects HB_INVALID with a message containing want,
 * the lock set left as it was. */
static void
s_expect_invalid(hb_proc_id_t id, const hb_val_t *a, uint32_t n, const char *want)
{
    hb_lockset_t ls;
    char err[256] = "";
    hb_lockset_init(&ls);
    hb_lockset_add(&ls, 0, HB_LOCK_READ, "k", 1);
    ck_assert_int_eq(hb_proc_plan(hb_proc_by_id(id), a, n, 2, &ls, err, sizeof err),
                     HB_INVALID);
    ck_assert_msg(strstr(err, want), "message \"%s\", want \"...%s...\"", err, want);
    ck_assert_uint_eq(ls.n, 1);
    ck_assert_uint_eq(ls.keylen, 1);
    hb_lockset_clear(&ls);
}

START_TEST(test_tpcc_plan_errors)
{
    hb_val_t a[64], b[64];
    const uint32_t base = HB_TPCC_SCHEMA_ARGS;
    uint32_t n = s_new_order_args(a);
    const hb_proc_id_t NO = HB_PROC_TPCC_NEW_ORDER;

    s_expect_invalid(NO, a, n - 3, "usage: tpcc.new_order");
    s_expect_invalid(NO, a, n - 1, "usage: tpcc.new_order");
    struct {
        uint32_t i;
        hb_val_t v;
        const char *want;
    } bad[] = {
        {0, hb_val_int(5),
         "argument 1 (warehouse table) must be an integer 1024..4294967295"},
        {1, hb_val_int(T_WH),
         "the warehouse table and the district table are both table 1100"},
        {9, hb_val_int(-1), "argument 10 (orders_customer index) must be an integer 0.."},
        {10, s_s("x"), "argument 11 (customer_name index)"},
        {base, hb_val_int(0), "argument 12 (W) must be an integer 1..2147483647"},
        {base + 1, hb_val_int(11), "argument 13 (D) must be an integer 1..10"},
        {base + 2, hb_val_dec(7, 0), "argument 14 (C) must be an integer"},
        {base + 3, hb_val_int(2), "argument 15 (ALL_LOCAL) must be an integer 0..1"},
        {base + 3, hb_val_int(1),
         "ALL_LOCAL is 1 but not every supplying warehouse is W"},
        {base + 4, hb_val_int(0), "argument 16 (I1) must be an integer 1..2147483647"},
        {base + 5, hb_val_nil(), "argument 17 (SW1) must be an integer"},
        {base + 6, hb_val_int(11), "argument 18 (Q1) must be an integer 1..10"},
        {base + 6, hb_val_int(0), "argument 18 (Q1) must be an integer 1..10"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memcpy(b, a, n * sizeof *a);
        b[bad[i].i] = bad[i].v;
        s_expect_invalid(NO, b, n, bad[i].want);
    }
    /* All lines local but ALL_LOCAL 0. */
    memcpy(b, a, n * sizeof *a);
    b[base + 4 + 3 * 2 + 1] = hb_val_int(1);
    s_expect_invalid(NO, b, n, "ALL_LOCAL is 0 but every supplying warehouse is W");

    /* Payment's AMOUNT: 0.01 .. 9999.99, at most 2 decimals. */
    n = (uint32_t)s_schema(a);
    for (int i = 0; i < 5; i++)
        a[n++] = hb_val_int(i + 1);
    const hb_val_t amounts[] = {hb_val_int(0),          hb_val_int(10000),
                                hb_val_dec(0, 2),       hb_val_dec(-5, 2),
                                hb_val_dec(1000000, 2), hb_val_dec(1005, 3),
                                hb_val_double(1.5),     s_s("5.00")};
    for (size_t i = 0; i < sizeof amounts / sizeof *amounts; i++) {
        a[n] = amounts[i];
        s_expect_invalid(HB_PROC_TPCC_PAYMENT, a, n + 1, "argument 17 (AMOUNT) must be");
    }
    a[n] = hb_val_int(5);
    a[base + 3] = hb_val_int(0);
    s_expect_invalid(HB_PROC_TPCC_PAYMENT, a, n + 1,
                     "argument 15 (CD) must be an integer");
    s_expect_invalid(HB_PROC_TPCC_PAYMENT, a, n, "usage: tpcc.payment");

    /* Delivery. */
    n = (uint32_t)s_schema(a);
    a[n++] = hb_val_int(1);
    a[n++] = hb_val_int(7);
    for (int d = 1; d <= 10; d++) {
        a[n++] = hb_val_int(3000);
        a[n++] = hb_val_int(5);
        a[n++] = hb_val_int(10);
    }
    const hb_proc_id_t DL = HB_PROC_TPCC_DELIVERY;
    struct {
        uint32_t i;
        hb_val_t v;
        const char *want;
    } dbad[] = {
        {base + 1, hb_val_int(0), "argument 13 (CARRIER) must be an integer 1..10"},
        {base + 1, hb_val_int(11), "argument 13 (CARRIER) must be an integer 1..10"},
        {base + 2, hb_val_int(-1), "argument 14 (O1) must be an integer 0.."},
        {base + 3, hb_val_int(0), "argument 15 (C1) must be an integer 1.."},
        {base + 4, hb_val_int(16), "argument 16 (N1) must be an integer 1..15"},
        {base + 4 + 27, hb_val_int(0), "argument 43 (N10) must be an integer 1..15"},
    };
    for (size_t i = 0; i < sizeof dbad / sizeof *dbad; i++) {
        memcpy(b, a, n * sizeof *a);
        b[dbad[i].i] = dbad[i].v;
        s_expect_invalid(DL, b, n, dbad[i].want);
    }
    s_expect_invalid(DL, a, n - 1, "usage: tpcc.delivery");
    /* A skipped district's C and N are ignored, but must be integers. */
    memcpy(b, a, n * sizeof *a);
    b[base + 2] = hb_val_int(0);
    b[base + 3] = hb_val_int(-3);
    b[base + 4] = hb_val_int(99);
    hb_lockset_t ls;
    char err[256];
    hb_lockset_init(&ls);
    ck_assert_int_eq(hb_proc_plan(hb_proc_by_id(DL), b, n, 2, &ls, err, sizeof err),
                     HB_OK);
    ck_assert_uint_eq(ls.n, 9 * (13 + 3)); /* 9 districts: 13 keys and 3 anchors each */
    hb_lockset_clear(&ls);
    b[base + 4] = s_s("x");
    s_expect_invalid(DL, b, n, "argument 16 (N1) must be an integer");

    /* Partition count. */
    n = s_new_order_args(a);
    hb_lockset_init(&ls);
    ck_assert_int_eq(hb_proc_plan(hb_proc_by_id(NO), a, n, 0, &ls, err, sizeof err),
                     HB_INVALID);
    ck_assert_uint_eq(ls.n, 0);
    hb_lockset_clear(&ls);
}
END_TEST

/* ------------------------------------------------------------------ */
/* New-Order                                                            */
/* ------------------------------------------------------------------ */

/* The fixture of s_new_order_args: next order 3001, taxes 0.1000 and
 * 0.0500, discount 0.1200; items priced 25.00, 9.99, 50.5 (stored at
 * scale 1), 1.00, 0.01; stock quantities 50, 12, 30, 15, 14. */
static void
s_new_order_fixture(uint32_t nparts)
{
    hb_val_t a[64];
    uint32_t n = s_new_order_args(a);
    s_start("tpcc.new_order", a, n, nparts);
    s_feed_warehouse(1, 1000, 30000000);
    s_feed_district(1, 3, 500, 3000000, 3001);
    s_feed_customer(1, 3, 7, "GC", 1200, -1000, 1000, 1, 0, s_s("cdata"));
    s_feed_item(10, hb_val_dec(2500, 2));
    s_feed_item(20, hb_val_dec(999, 2));
    s_feed_item(30, hb_val_dec(505, 1));
    s_feed_item(40, hb_val_int(1));
    s_feed_item(50, hb_val_dec(1, 2));
    s_feed_stock(1, 10, 50);
    s_feed_stock(1, 20, 12);
    s_feed_stock(2, 30, 30);
    s_feed_stock(1, 40, 15);
    s_feed_stock(1, 50, 14);
}

START_TEST(test_tpcc_new_order)
{
    const uint32_t np = 2;
    s_new_order_fixture(np);
    ck_assert_int_eq(s_run(HB_PROC_TPCC_NEW_ORDER), HB_OK);
    hb_val_t cols[32];
    stor_write_t w;

    /* The district hands out 3001 and moves on to 3002. */
    hb_key_t dk = s_key(T_DI, 2, (int64_t)1, (int64_t)3);
    ck_assert(s_written(&dk, &w));
    ck_assert_uint_eq(s_decode(&w, cols), 11);
    s_expect_int(&cols[10], 3002);
    s_expect_dec(&cols[8], 500, 4);
    s_expect_str(&cols[2], "D-three");

    /* Stock: q >= qty + 10 -> q - qty, else q - qty + 91; ytd += qty,
     * order_cnt += 1, remote_cnt += 1 for the remote line only. */
    struct {
        int64_t w, i, q, qty;
        bool remote;
    } st[5] = {{1, 10, 45, 5, false},
               {1, 20, 98, 5, false},
               {2, 30, 27, 3, true},
               {1, 40, 10, 5, false},
               {1, 50, 100, 5, false}};
    for (int l = 0; l < 5; l++) {
        hb_key_t sk = s_key(T_ST, 2, st[l].w, st[l].i);
        ck_assert(s_written(&sk, &w));
        hb_val_t want[17];
        s_stock_row(want, st[l].w, st[l].i, st[l].q, 100 + st[l].qty, 5,
                    st[l].remote ? 2 : 1);
        s_expect_row(&w, want, 17);
        ck_assert_uint_eq(w.partition, s_part(&sk, np));
    }
    ck_assert_uint_eq(s_nwritten(), 6); /* district + 5 stock */

    /* Fresh rows, in order: orders, index entry, new_order, lines 1..5. */
    ck_assert_uint_eq(stor_ctx_nfresh(s_ctx), 8);
    const int64_t W = 1, D = 3, O = 3001;
    hb_key_t ok = s_key(T_OR, 3, W, D, O);
    ck_assert_uint_eq(s_fresh_at(&ok, &w), 0);
    ck_assert_uint_eq(w.partition, s_part(&ok, np));
    const hb_val_t orow[8] = {hb_val_int(1), hb_val_int(3),   hb_val_int(3001),
                              hb_val_int(7), hb_val_int(NOW), hb_val_nil(),
                              hb_val_int(5), hb_val_int(0)};
    s_expect_row(&w, orow, 8);

    /* The orders_customer entry, byte for byte as sqlf_index_key makes it,
     * holding the row's key (SQL's IPUT), on the row's partition. */
    uint8_t ix[128];
    size_t ixlen = 0;
    const uint8_t head[4] = {0, 0, 0, HB_TABLE_INDEX};
    memcpy(ix, head, 4);
    ixlen = 4;
    hb_key_t part = s_key(0, 2, (int64_t)T_OR, (int64_t)IX_OC);
    memcpy(ix + ixlen, part.buf + 4, 16);
    ixlen += 16;
    const int64_t tagged[3] = {1, 3, 7}, pk[3] = {1, 3, 3001};
    for (int i = 0; i < 3; i++) {
        hb_key_t one = s_key(0, 1, tagged[i]);
        ix[ixlen++] = 0x01;
        memcpy(ix + ixlen, one.buf + 4, 8);
        ixlen += 8;
    }
    for (int i = 0; i < 3; i++) {
        hb_key_t one = s_key(0, 1, pk[i]);
        memcpy(ix + ixlen, one.buf + 4, 8);
        ixlen += 8;
    }
    ck_assert(stor_ctx_fresh(s_ctx, 1, &w));
    ck_assert_uint_eq(w.klen, ixlen);
    ck_assert_int_eq(memcmp(w.key, ix, ixlen), 0);
    ck_assert_uint_eq(w.vlen, ok.len);
    ck_assert_int_eq(memcmp(w.val, ok.buf, ok.len), 0);
    ck_assert_uint_eq(w.partition, s_part(&ok, np));

    hb_key_t nk = s_key(T_NO, 3, W, D, O);
    ck_assert_uint_eq(s_fresh_at(&nk, &w), 2);
    ck_assert_uint_eq(w.partition, s_part(&nk, np));
    s_expect_row(&w, orow, 3);

    /* Lines: amount = qty * i_price at scale 2; dist info s_dist_03. */
    const int64_t amount[5] = {12500, 4995, 15150, 500, 5};
    for (int l = 0; l < 5; l++) {
        hb_key_t lk = s_key(T_OL, 4, W, D, O, (int64_t)l + 1);
        ck_assert_uint_eq(s_fresh_at(&lk, &w), 3 + (uint32_t)l);
        ck_assert_uint_eq(w.partition, s_part(&lk, np));
        char dist[32];
        snprintf(dist, sizeof dist, "S03-%" PRId64 "-%" PRId64, st[l].w, st[l].i);
        const hb_val_t lrow[10] = {
            hb_val_int(1),     hb_val_int(3),         hb_val_int(3001),
            hb_val_int(l + 1), hb_val_int(st[l].i),   hb_val_int(st[l].w),
            hb_val_nil(),      hb_val_int(st[l].qty), hb_val_dec(amount[l], 2),
            s_s(dist)};
        s_expect_row(&w, lrow, 10);
    }

    /* A fresh key reads back as written. */
    const uint8_t *val;
    size_t vlen;
    ck_assert_int_eq(stor_ctx_read(s_ctx, nk.buf, nk.len, &val, &vlen), HB_OK);
    ck_assert(s_fresh_at(&nk, &w) == 2 && val == w.val && vlen == w.vlen);

    /* [o_id, total, c_last, c_credit, c_discount, w_tax, d_tax]: 331.50 *
     * 0.88 * 1.15 = 335.478 -> 335.48. */
    uint32_t nres = 0;
    const hb_val_t *res = stor_ctx_results(s_ctx, &nres);
    ck_assert_uint_eq(nres, 7);
    s_expect_int(&res[0], 3001);
    s_expect_dec(&res[1], 33548, 2);
    s_expect_str(&res[2], "BARBARBAR");
    s_expect_str(&res[3], "GC");
    s_expect_dec(&res[4], 1200, 4);
    s_expect_dec(&res[5], 1000, 4);
    s_expect_dec(&res[6], 500, 4);
}
END_TEST

START_TEST(test_tpcc_new_order_invalid_item)
{
    s_new_order_fixture(2);
    /* Item 50 is missing (its lock key reads as absent). */
    hb_key_t ik = s_key(T_IT, 1, (int64_t)50);
    ck_assert_int_eq(stor_ctx_add_read(s_ctx, ik.buf, ik.len, NULL, 0), HB_OK);
    s_expect_abort(s_run(HB_PROC_TPCC_NEW_ORDER), HB_ABORTED,
                   "tpcc: item number is not valid");
    ck_assert_str_eq(stor_ctx_message(s_ctx), "tpcc: item number is not valid");
    ck_assert_uint_eq(s_nwritten(), 0);
    ck_assert_uint_eq(stor_ctx_nfresh(s_ctx), 0);
}
END_TEST

START_TEST(test_tpcc_new_order_repeated_item)
{
    /* Lines 1 and 2 both take item 10 from warehouse 1: the second sees
     * the first's stock update (50 -> 45 -> 40). */
    hb_val_t a[64];
    uint32_t n = s_new_order_args(a);
    a[HB_TPCC_SCHEMA_ARGS + 4 + 3] = hb_val_int(10);
    s_start("tpcc.new_order", a, n, 1);
    s_feed_warehouse(1, 1000, 30000000);
    s_feed_district(1, 3, 500, 3000000, 3001);
    s_feed_customer(1, 3, 7, "GC", 1200, -1000, 1000, 1, 0, s_s("cdata"));
    s_feed_item(10, hb_val_dec(2500, 2));
    s_feed_item(30, hb_val_dec(505, 1));
    s_feed_item(40, hb_val_int(1));
    s_feed_item(50, hb_val_dec(1, 2));
    s_feed_stock(1, 10, 50);
    s_feed_stock(2, 30, 30);
    s_feed_stock(1, 40, 15);
    s_feed_stock(1, 50, 14);
    ck_assert_int_eq(s_run(HB_PROC_TPCC_NEW_ORDER), HB_OK);
    stor_write_t w;
    hb_val_t cols[32];
    hb_key_t sk = s_key(T_ST, 2, (int64_t)1, (int64_t)10);
    ck_assert(s_written(&sk, &w));
    ck_assert_uint_eq(s_decode(&w, cols), 17);
    s_expect_int(&cols[2], 40);
    s_expect_int(&cols[13], 110);
    s_expect_int(&cols[14], 6);
}
END_TEST

START_TEST(test_tpcc_new_order_bad_rows)
{
    /* A missing district, a malformed stock row and bad arguments abort
     * with a message, never a crash. */
    s_new_order_fixture(2);
    hb_key_t dk = s_key(T_DI, 2, (int64_t)1, (int64_t)3);
    ck_assert_int_eq(stor_ctx_add_read(s_ctx, dk.buf, dk.len, NULL, 0), HB_OK);
    s_expect_abort(s_run(HB_PROC_TPCC_NEW_ORDER), HB_ABORTED,
                   "tpcc: district does not exist");

    s_new_order_fixture(2);
    hb_key_t sk = s_key(T_ST, 2, (int64_t)1, (int64_t)20);
    const hb_val_t shortrow[2] = {hb_val_int(1), hb_val_int(20)};
    s_feed(&sk, shortrow, 2);
    s_expect_abort(s_run(HB_PROC_TPCC_NEW_ORDER), HB_CORRUPT,
                   "XX001 tpcc.new_order: stored stock row is malformed");

    s_new_order_fixture(2);
    hb_key_t ck = s_key(T_CU, 3, (int64_t)1, (int64_t)3, (int64_t)7);
    hb_val_t crow[21];
    s_customer_row(crow, 1, 3, 7, "GC", 1200, 0, 0, 1, 0, s_s("x"));
    crow[15] = s_s("0.12"); /* c_discount not a number */
    s_feed(&ck, crow, 21);
    s_expect_abort(s_run(HB_PROC_TPCC_NEW_ORDER), HB_CORRUPT,
                   "XX001 tpcc.new_order: column 16");

    /* Values no column of the schema can hold (a foreign row): refused
     * before any arithmetic could overflow. */
    s_new_order_fixture(2);
    s_customer_row(crow, 1, 3, 7, "GC", 1200, 0, 0, 1, 0, s_s("x"));
    crow[15] = hb_val_dec(INT64_MAX / 2, 4); /* c_discount of 19 digits */
    s_feed(&ck, crow, 21);
    s_expect_abort(s_run(HB_PROC_TPCC_NEW_ORDER), HB_CORRUPT,
                   "XX001 tpcc.new_order: column 16");
    s_new_order_fixture(2);
    s_args[HB_TPCC_SCHEMA_ARGS] = s_s("one");
    s_expect_abort(s_run(HB_PROC_TPCC_NEW_ORDER), HB_INVALID,
                   "tpcc.new_order: argument 12 (W)");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Payment                                                              */
/* ------------------------------------------------------------------ */

static void
s_payment_start(hb_val_t amount, const char *credit, hb_val_t data)
{
    hb_val_t a[64];
    uint32_t n = (uint32_t)s_schema(a);
    const int64_t v[5] = {1, 3, 2, 4, 9};
    for (int i = 0; i < 5; i++)
        a[n++] = hb_val_int(v[i]);
    a[n++] = amount;
    s_start("tpcc.payment", a, n, 2);
    s_feed_warehouse(1, 1000, 30000000);
    s_feed_district(1, 3, 500, 3000000, 3001);
    s_feed_customer(2, 4, 9, credit, 1200, -1000, 1000, 1, 0, data);
}

START_TEST(test_tpcc_payment)
{
    s_payment_start(hb_val_dec(12345, 2), "GC", s_s("old data"));
    ck_assert_int_eq(s_run(HB_PROC_TPCC_PAYMENT), HB_OK);
    stor_write_t w;
    hb_val_t cols[32];
    hb_key_t wk = s_key(T_WH, 1, (int64_t)1);
    ck_assert(s_written(&wk, &w));
    ck_assert_uint_eq(s_decode(&w, cols), 9);
    s_expect_dec(&cols[8], 30012345, 2); /* 300000.00 + 123.45 */
    s_expect_dec(&cols[7], 1000, 4);
    hb_key_t dk = s_key(T_DI, 2, (int64_t)1, (int64_t)3);
    ck_assert(s_written(&dk, &w));
    ck_assert_uint_eq(s_decode(&w, cols), 11);
    s_expect_dec(&cols[9], 3012345, 2);
    s_expect_int(&cols[10], 3001);
    hb_key_t ck = s_key(T_CU, 3, (int64_t)2, (int64_t)4, (int64_t)9);
    ck_assert(s_written(&ck, &w));
    hb_val_t want[21];
    s_customer_row(want, 2, 4, 9, "GC", 1200, -13345, 13345, 2, 0, s_s("old data"));
    s_expect_row(&w, want, 21);

    /* History (CW, CD, C, new payment count), fresh, on its partition. */
    ck_assert_uint_eq(stor_ctx_nfresh(s_ctx), 1);
    hb_key_t hk = s_key(T_HI, 4, (int64_t)2, (int64_t)4, (int64_t)9, (int64_t)2);
    ck_assert_uint_eq(s_fresh_at(&hk, &w), 0);
    ck_assert_uint_eq(w.partition, s_part(&hk, 2));
    const hb_val_t hrow[9] = {
        hb_val_int(2),   hb_val_int(4),        hb_val_int(9),
        hb_val_int(2),   hb_val_int(3),        hb_val_int(1),
        hb_val_int(NOW), hb_val_dec(12345, 2), s_s("W-one    D-three")};
    s_expect_row(&w, hrow, 9);

    uint32_t nres = 0;
    const hb_val_t *res = stor_ctx_results(s_ctx, &nres);
    ck_assert_uint_eq(nres, 2);
    s_expect_dec(&res[0], -13345, 2);
    s_expect_str(&res[1], "GC");
}
END_TEST

START_TEST(test_tpcc_payment_bad_credit)
{
    /* BC: "C_ID C_D_ID C_W_ID D_ID W_ID AMOUNT|" + c_data, cut to 500. */
    char old[491];
    for (int i = 0; i < 490; i++)
        old[i] = (char)('a' + i % 26);
    old[490] = '\0';
    s_payment_start(hb_val_int(5), "BC", s_s(old));
    ck_assert_int_eq(s_run(HB_PROC_TPCC_PAYMENT), HB_OK);
    stor_write_t w;
    hb_val_t cols[32];
    hb_key_t ck = s_key(T_CU, 3, (int64_t)2, (int64_t)4, (int64_t)9);
    ck_assert(s_written(&ck, &w));
    ck_assert_uint_eq(s_decode(&w, cols), 21);
    s_expect_dec(&cols[16], -1500, 2); /* -10.00 - 5.00 */
    s_expect_dec(&cols[17], 1500, 2);
    s_expect_int(&cols[18], 2);
    char want[600];
    snprintf(want, sizeof want, "9 4 2 3 1 5.00|%s", old);
    want[500] = '\0';
    s_expect_str(&cols[20], want);
    hb_key_t hk = s_key(T_HI, 4, (int64_t)2, (int64_t)4, (int64_t)9, (int64_t)2);
    s_fresh_at(&hk, &w);
    ck_assert_uint_eq(s_decode(&w, cols), 9);
    s_expect_dec(&cols[7], 500, 2);

    /* Multi-byte text is cut at a character boundary: 490 two-byte
     * characters + a 15-character prefix keep 485 of them. */
    char wide[981];
    for (int i = 0; i < 490; i++)
        memcpy(wide + 2 * i, "\xc3\xa9", 2);
    wide[980] = '\0';
    s_payment_start(hb_val_int(5), "BC", s_s(wide));
    ck_assert_int_eq(s_run(HB_PROC_TPCC_PAYMENT), HB_OK);
    ck_assert(s_written(&ck, &w));
    s_decode(&w, cols);
    ck_assert_int_eq(cols[20].type, HB_VAL_STR);
    ck_assert_uint_eq(cols[20].u.s.len, 15 + 485 * 2);
}
END_TEST

START_TEST(test_tpcc_payment_overflow)
{
    /* c_balance numeric(12,2) cannot go below -9999999999.99. */
    s_payment_start(hb_val_dec(999999, 2), "GC", s_s("x"));
    hb_key_t ck = s_key(T_CU, 3, (int64_t)2, (int64_t)4, (int64_t)9);
    hb_val_t row[21];
    s_customer_row(row, 2, 4, 9, "GC", 0, -999999999999LL, 0, 1, 0, s_s("x"));
    s_feed(&ck, row, 21);
    s_expect_abort(s_run(HB_PROC_TPCC_PAYMENT), HB_ABORTED,
                   "22003 tpcc.payment: numeric field overflow (c_balance)");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Delivery                                                             */
/* ------------------------------------------------------------------ */

static void
s_feed_order(int64_t w, int64_t d, int64_t o, int64_t c, int64_t cnt)
{
    hb_key_t k = s_key(T_OR, 3, w, d, o);
    const hb_val_t row[8] = {hb_val_int(w),   hb_val_int(d), hb_val_int(o),
                             hb_val_int(c),   hb_val_int(5), hb_val_nil(),
                             hb_val_int(cnt), hb_val_int(1)};
    s_feed(&k, row, 8);
    k = s_key(T_NO, 3, w, d, o);
    s_feed(&k, row, 3);
}

static void
s_line_row(hb_val_t *row, int64_t w, int64_t d, int64_t o, int64_t n, hb_val_t when,
           int64_t amount)
{
    const hb_val_t r[10] = {hb_val_int(w), hb_val_int(d),  hb_val_int(o),
                            hb_val_int(n), hb_val_int(77), hb_val_int(w),
                            when,          hb_val_int(5),  hb_val_dec(amount, 2),
                            s_s("dist")};
    memcpy(row, r, sizeof r);
}

static void
s_feed_line(int64_t w, int64_t d, int64_t o, int64_t n, int64_t amount)
{
    hb_key_t k = s_key(T_OL, 4, w, d, o, n);
    hb_val_t row[10];
    s_line_row(row, w, d, o, n, hb_val_nil(), amount);
    s_feed(&k, row, 10);
}

/* Districts 2 (order 2101, customer 11, lines 1.50 + 2.75) and 5 (2200,
 * 12, one line of 10.00) of warehouse 1; carrier 7. */
static void
s_delivery_fixture(void)
{
    hb_val_t a[64];
    uint32_t n = (uint32_t)s_schema(a);
    a[n++] = hb_val_int(1);
    a[n++] = hb_val_int(7);
    for (int d = 1; d <= 10; d++) {
        a[n++] = hb_val_int(d == 2 ? 2101 : d == 5 ? 2200 : 0);
        a[n++] = hb_val_int(d == 2 ? 11 : d == 5 ? 12 : 0);
        a[n++] = hb_val_int(d == 2 ? 2 : d == 5 ? 1 : 0);
    }
    s_start("tpcc.delivery", a, n, 2);
    s_feed_order(1, 2, 2101, 11, 2);
    s_feed_order(1, 5, 2200, 12, 1);
    s_feed_line(1, 2, 2101, 1, 150);
    s_feed_line(1, 2, 2101, 2, 275);
    s_feed_line(1, 5, 2200, 1, 1000);
    s_feed_customer(1, 2, 11, "GC", 0, -1000, 0, 1, 0, s_s("x"));
    s_feed_customer(1, 5, 12, "BC", 0, 0, 0, 1, 3, s_s("y"));
}

START_TEST(test_tpcc_delivery)
{
    s_delivery_fixture();
    ck_assert_int_eq(s_run(HB_PROC_TPCC_DELIVERY), HB_OK);
    stor_write_t w;
    hb_val_t cols[32];
    const int64_t W = 1;
    struct {
        int64_t d, o, c, n, sum, bal, dcnt;
    } dd[2] = {{2, 2101, 11, 2, 425, -575, 1}, {5, 2200, 12, 1, 1000, 1000, 4}};
    for (int i = 0; i < 2; i++) {
        hb_key_t k = s_key(T_NO, 3, W, dd[i].d, dd[i].o);
        ck_assert(s_written(&k, &w));
        ck_assert_ptr_null(w.val); /* deleted */
        k = s_key(T_OR, 3, W, dd[i].d, dd[i].o);
        ck_assert(s_written(&k, &w));
        const hb_val_t orow[8] = {
            hb_val_int(1), hb_val_int(dd[i].d), hb_val_int(dd[i].o), hb_val_int(dd[i].c),
            hb_val_int(5), hb_val_int(7),       hb_val_int(dd[i].n), hb_val_int(1)};
        s_expect_row(&w, orow, 8);
        for (int64_t n = 1; n <= dd[i].n; n++) {
            k = s_key(T_OL, 4, W, dd[i].d, dd[i].o, n);
            ck_assert(s_written(&k, &w));
            hb_val_t want[10];
            s_line_row(want, W, dd[i].d, dd[i].o, n, hb_val_int(NOW),
                       dd[i].d == 2 ? (n == 1 ? 150 : 275) : 1000);
            s_expect_row(&w, want, 10);
        }
        k = s_key(T_CU, 3, W, dd[i].d, dd[i].c);
        ck_assert(s_written(&k, &w));
        ck_assert_uint_eq(s_decode(&w, cols), 21);
        s_expect_dec(&cols[16], dd[i].bal, 2);
        s_expect_int(&cols[19], dd[i].dcnt);
        s_expect_int(&cols[18], 1);
    }
    ck_assert_uint_eq(s_nwritten(), 9);
    ck_assert_uint_eq(stor_ctx_nfresh(s_ctx), 0);
    uint32_t nres = 0;
    const hb_val_t *res = stor_ctx_results(s_ctx, &nres);
    ck_assert_uint_eq(nres, 1);
    s_expect_int(&res[0], 2);
}
END_TEST

START_TEST(test_tpcc_delivery_stale)
{
    /* Another delivery took district 5's order since the snapshot. */
    s_delivery_fixture();
    hb_key_t k = s_key(T_NO, 3, (int64_t)1, (int64_t)5, (int64_t)2200);
    ck_assert_int_eq(stor_ctx_add_read(s_ctx, k.buf, k.len, NULL, 0), HB_OK);
    s_expect_abort(s_run(HB_PROC_TPCC_DELIVERY), HB_ABORTED,
                   "40001 tpcc.delivery: order (1, 5, 2200) is no longer a new order");
    ck_assert_uint_eq(s_nwritten(), 0);

    /* The order is not the one the snapshot saw (customer, line count). */
    s_delivery_fixture();
    s_feed_order(1, 2, 2101, 99, 2);
    s_expect_abort(
        s_run(HB_PROC_TPCC_DELIVERY), HB_ABORTED,
        "40001 tpcc.delivery: order (1, 2, 2101) is not the order the snapshot saw");
    ck_assert_uint_eq(s_nwritten(), 0);
    s_delivery_fixture();
    s_feed_order(1, 5, 2200, 12, 3);
    s_expect_abort(s_run(HB_PROC_TPCC_DELIVERY), HB_ABORTED, "40001 ");

    /* A missing order line is not staleness. */
    s_delivery_fixture();
    k = s_key(T_OL, 4, (int64_t)1, (int64_t)2, (int64_t)2101, (int64_t)2);
    ck_assert_int_eq(stor_ctx_add_read(s_ctx, k.buf, k.len, NULL, 0), HB_OK);
    s_expect_abort(s_run(HB_PROC_TPCC_DELIVERY), HB_ABORTED,
                   "tpcc: order line (1, 2, 2101, 2) does not exist");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Fresh writes                                                         */
/* ------------------------------------------------------------------ */

START_TEST(test_tpcc_fresh_rules)
{
    /* A hand-made lock set: a write lock on partition 1, a read lock on
     * partition 0. */
    hb_key_t wkey = s_key(T_DI, 1, (int64_t)1), rkey = s_key(T_WH, 1, (int64_t)1);
    hb_lockset_reset(&s_ls);
    hb_lockset_add(&s_ls, 1, HB_LOCK_WRITE, wkey.buf, wkey.len);
    hb_lockset_add(&s_ls, 0, HB_LOCK_READ, rkey.buf, rkey.len);
    s_txn = (hb_txn_t){.proc = "x", .proc_len = 1, .nlocks = s_ls.n, .locks = s_ls.locks};
    ck_assert_int_eq(stor_ctx_reset(s_ctx, &s_txn), HB_OK);
    uint16_t p = 9;
    ck_assert_int_eq(stor_ctx_lock_partition(s_ctx, wkey.buf, wkey.len, &p), HB_OK);
    ck_assert_uint_eq(p, 1);
    hb_key_t f1 = s_key(T_OR, 1, (int64_t)1), f2 = s_key(T_OR, 1, (int64_t)2);
    ck_assert_int_eq(stor_ctx_lock_partition(s_ctx, f1.buf, f1.len, &p), HB_NOTFOUND);

    /* Allowed on partition 1; read back; a rewrite keeps its place. */
    ck_assert_int_eq(stor_ctx_write_fresh(s_ctx, 1, f1.buf, f1.len, "a", 1), HB_OK);
    ck_assert_int_eq(stor_ctx_write_fresh(s_ctx, 1, f2.buf, f2.len, "b", 1), HB_OK);
    ck_assert_int_eq(stor_ctx_write_fresh(s_ctx, 1, f1.buf, f1.len, "cc", 2), HB_OK);
    ck_assert_uint_eq(stor_ctx_nfresh(s_ctx), 2);
    stor_write_t w;
    ck_assert(stor_ctx_fresh(s_ctx, 0, &w));
    ck_assert(w.klen == f1.len && memcmp(w.key, f1.buf, f1.len) == 0);
    ck_assert(w.vlen == 2 && memcmp(w.val, "cc", 2) == 0 && w.partition == 1);
    ck_assert(stor_ctx_fresh(s_ctx, 1, &w));
    ck_assert(w.vlen == 1 && memcmp(w.val, "b", 1) == 0);
    ck_assert(!stor_ctx_fresh(s_ctx, 2, &w));
    const uint8_t *val;
    size_t vlen;
    ck_assert_int_eq(stor_ctx_read(s_ctx, f1.buf, f1.len, &val, &vlen), HB_OK);
    ck_assert(vlen == 2 && memcmp(val, "cc", 2) == 0);
    ck_assert_uint_eq(s_nwritten(), 0);

    /* A write-locked key goes to its slot. */
    ck_assert_int_eq(stor_ctx_write_fresh(s_ctx, 1, wkey.buf, wkey.len, "d", 1), HB_OK);
    ck_assert_uint_eq(s_nwritten(), 1);
    ck_assert_uint_eq(stor_ctx_nfresh(s_ctx), 2);
    ck_assert_int_eq(stor_ctx_rc(s_ctx), HB_OK);

    /* Refused: no write lock on partition 0. */
    ck_assert_int_eq(stor_ctx_write_fresh(s_ctx, 0, f2.buf, f2.len, "e", 1), HB_ABORTED);
    ck_assert_ptr_nonnull(strstr(stor_ctx_message(s_ctx), "no write lock"));
    /* Refused: a reserved key; a read-locked key; a lock key on another
     * partition. */
    const struct {
        uint16_t part;
        const uint8_t *key;
        size_t klen;
        const char *want;
    } bad[] = {
        {1, (const uint8_t *)"\0\0\0\0zz", 6, "reserved metadata key"},
        {1, (const uint8_t *)"ab", 2, "reserved metadata key"},
        {0, rkey.buf, rkey.len, "outside the transaction's write set"},
        {0, wkey.buf, wkey.len, "lock key on another partition"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(stor_ctx_reset(s_ctx, &s_txn), HB_OK);
        ck_assert_int_eq(
            stor_ctx_write_fresh(s_ctx, bad[i].part, bad[i].key, bad[i].klen, "v", 1),
            HB_ABORTED);
        ck_assert_msg(strstr(stor_ctx_message(s_ctx), bad[i].want), "%s",
                      stor_ctx_message(s_ctx));
        ck_assert_uint_eq(stor_ctx_nfresh(s_ctx), 0);
    }
    /* A reset forgets the fresh writes. */
    ck_assert_int_eq(stor_ctx_reset(s_ctx, &s_txn), HB_OK);
    ck_assert_int_eq(stor_ctx_write_fresh(s_ctx, 1, f1.buf, f1.len, "a", 1), HB_OK);
    ck_assert_int_eq(stor_ctx_reset(s_ctx, &s_txn), HB_OK);
    ck_assert_uint_eq(stor_ctx_nfresh(s_ctx), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The executor applies fresh writes                                    */
/* ------------------------------------------------------------------ */

static hb_rc_t
s_env_send(void *ctx, hb_node_t to, const void *frame, size_t len)
{
    (void)to;
    msgpack_sbuffer *replies = ctx;
    hb_msg_t m;
    hb_limits_t lim = HB_LIMITS_DEFAULT;
    if (hb_msg_decode(frame, len, &lim, &m) == HB_OK) {
        if (m.type == HB_MSG_REPLY) {
            /* Keep the last reply: rc, then the message. */
            msgpack_sbuffer_clear(replies);
            char line[320];
            int n = snprintf(line, sizeof line, "%u %.*s", m.u.result.rc,
                             (int)m.u.result.msg_len, m.u.result.msg);
            msgpack_sbuffer_write(replies, line, (size_t)n);
        }
        hb_msg_clear(&m);
    }
    return HB_OK;
}

static void
s_env_timer(void *ctx, uint64_t delay_us, uint64_t token)
{
    (void)ctx;
    (void)delay_us;
    (void)token;
}

static uint64_t
s_env_now(void *ctx)
{
    (void)ctx;
    return 0;
}

/* Packs the row cols[0..n) into sb (cleared). */
static void
s_pack_row(msgpack_sbuffer *sb, const hb_val_t *cols, uint32_t n)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    ck_assert_int_eq(hb_row_pack(&pk, cols, n), HB_OK);
}

START_TEST(test_tpcc_executor_fresh)
{
    char dir[] = "/tmp/hobbes-test-tpcc-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    msgpack_sbuffer replies, sb;
    msgpack_sbuffer_init(&replies);
    msgpack_sbuffer_init(&sb);
    const hb_env_t env = {
        .ctx = &replies, .send = s_env_send, .now_us = s_env_now, .timer = s_env_timer};
    stor_engine_t *eng = stor_engine_open(dir);
    ck_assert_ptr_nonnull(eng);

    /* Epoch 1: a warehouse, a district and a customer. */
    hb_val_t row[21];
    const hb_val_t wrow[9] = {
        hb_val_int(1),   s_s("W-one"), s_s("a"), s_s("b"),
        s_s("c"),        s_s("ST"),    s_s("z"), hb_val_dec(1000, 4),
        hb_val_dec(0, 2)};
    hb_key_t k = s_key(T_WH, 1, (int64_t)1);
    s_pack_row(&sb, wrow, 9);
    ck_assert_int_eq(stor_engine_put(eng, 1, k.buf, k.len, sb.data, sb.size), HB_OK);
    const hb_val_t drow[11] = {hb_val_int(1),    hb_val_int(3),   s_s("D-three"),
                               s_s("a"),         s_s("b"),        s_s("c"),
                               s_s("ST"),        s_s("z"),        hb_val_dec(500, 4),
                               hb_val_dec(0, 2), hb_val_int(3001)};
    k = s_key(T_DI, 2, (int64_t)1, (int64_t)3);
    s_pack_row(&sb, drow, 11);
    ck_assert_int_eq(stor_engine_put(eng, 1, k.buf, k.len, sb.data, sb.size), HB_OK);
    s_customer_row(row, 1, 3, 7, "GC", 0, 0, 0, 1, 0, s_s("x"));
    k = s_key(T_CU, 3, (int64_t)1, (int64_t)3, (int64_t)7);
    s_pack_row(&sb, row, 21);
    ck_assert_int_eq(stor_engine_put(eng, 1, k.buf, k.len, sb.data, sb.size), HB_OK);
    ck_assert_int_eq(stor_engine_flush(eng, 1), HB_OK);
    uint64_t hash1 = stor_engine_state_hash(eng);

    stor_executor_t *ex =
        stor_executor_new(eng, hb_node(HB_ROLE_STORAGE, 0, 0), 1, NULL, &env);
    ck_assert_ptr_nonnull(ex);

    /* Epoch 2: one payment of 5.00 to (1, 3) by customer (1, 3, 7). */
    hb_val_t a[32];
    uint32_t n = (uint32_t)s_schema(a);
    const int64_t v[5] = {1, 3, 1, 3, 7};
    for (int i = 0; i < 5; i++)
        a[n++] = hb_val_int(v[i]);
    a[n++] = hb_val_dec(500, 2);
    hb_lockset_t ls;
    char err[256];
    hb_lockset_init(&ls);
    ck_assert_int_eq(
        hb_proc_plan(hb_proc_by_id(HB_PROC_TPCC_PAYMENT), a, n, 1, &ls, err, sizeof err),
        HB_OK);
    hb_txn_t txn = {.client_id = 7,
                    .req_id = 1,
                    .timestamp_us = HB_PG_EPOCH_US + NOW,
                    .proc = "tpcc.payment",
                    .proc_len = 12,
                    .nargs = n,
                    .args = a,
                    .nlocks = ls.n,
                    .locks = ls.locks};
    msgpack_packer pk;
    msgpack_sbuffer_clear(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_int_eq(hb_txn_pack(&pk, &txn), HB_OK);
    hb_msg_t m = {.type = HB_MSG_DISPATCH};
    m.u.dispatch.incarnation = stor_executor_incarnation(ex);
    m.u.dispatch.epoch = 2;
    m.u.dispatch.raw = (const uint8_t *)sb.data;
    m.u.dispatch.raw_len = sb.size;
    stor_executor_on_message(ex, &m);
    hb_msg_t e = {.type = HB_MSG_EPOCH};
    e.u.epoch.incarnation = stor_executor_incarnation(ex);
    e.u.epoch.epoch = 2;
    e.u.epoch.ntxns = 1;
    stor_executor_on_message(ex, &e);
    ck_assert_uint_eq(stor_engine_applied_epoch(eng), 2);
    ck_assert_uint_eq(replies.size, 2);
    ck_assert_int_eq(memcmp(replies.data, "0 ", 2), 0); /* HB_OK, no message */
    ck_assert_uint_ne(stor_engine_state_hash(eng), hash1);

    /* The fresh history row is in the shard; the anchor is not. */
    hb_key_t hk = s_key(T_HI, 4, (int64_t)1, (int64_t)3, (int64_t)7, (int64_t)2);
    uint8_t *val = NULL;
    size_t vlen = 0;
    ck_assert_int_eq(stor_engine_get(eng, hk.buf, hk.len, NULL, NULL, &val, &vlen),
                     HB_OK);
    const hb_val_t hrow[9] = {
        hb_val_int(1),   hb_val_int(3),      hb_val_int(7),
        hb_val_int(2),   hb_val_int(3),      hb_val_int(1),
        hb_val_int(NOW), hb_val_dec(500, 2), s_s("W-one    D-three")};
    s_pack_row(&sb, hrow, 9);
    ck_assert_uint_eq(vlen, sb.size);
    ck_assert_int_eq(memcmp(val, sb.data, vlen), 0);
    hb_free(val);
    k = s_key(T_HI, 3, (int64_t)1, (int64_t)3, (int64_t)7);
    ck_assert_int_eq(stor_engine_get(eng, k.buf, k.len, NULL, NULL, &val, &vlen),
                     HB_NOTFOUND);
    /* The state hash covers the fresh row like any other. */
    uint64_t scanned = 0;
    ck_assert_int_eq(stor_engine_scan_hash(eng, &scanned), HB_OK);
    ck_assert_uint_eq(scanned, stor_engine_state_hash(eng));

    hb_lockset_clear(&ls);
    stor_executor_destroy(&ex);
    stor_engine_destroy(&eng);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&replies);
    leveldb_options_t *opts = leveldb_options_create();
    char *lerr = NULL;
    leveldb_destroy_db(opts, dir, &lerr);
    leveldb_free(lerr);
    leveldb_options_destroy(opts);
    rmdir(dir);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("proc_tpcc");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_tpcc_plan_new_order", test_tpcc_plan_new_order},
        {"test_tpcc_plan_payment_delivery", test_tpcc_plan_payment_delivery},
        {"test_tpcc_plan_errors", test_tpcc_plan_errors},
        {"test_tpcc_new_order", test_tpcc_new_order},
        {"test_tpcc_new_order_invalid_item", test_tpcc_new_order_invalid_item},
        {"test_tpcc_new_order_repeated_item", test_tpcc_new_order_repeated_item},
        {"test_tpcc_new_order_bad_rows", test_tpcc_new_order_bad_rows},
        {"test_tpcc_payment", test_tpcc_payment},
        {"test_tpcc_payment_bad_credit", test_tpcc_payment_bad_credit},
        {"test_tpcc_payment_overflow", test_tpcc_payment_overflow},
        {"test_tpcc_delivery", test_tpcc_delivery},
        {"test_tpcc_delivery_stale", test_tpcc_delivery_stale},
        {"test_tpcc_fresh_rules", test_tpcc_fresh_rules},
        {"test_tpcc_executor_fresh", test_tpcc_executor_fresh},
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
