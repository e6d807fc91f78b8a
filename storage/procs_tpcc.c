/* procs_tpcc.c — the native TPC-C procedures (New-Order, Payment, Delivery).
 *
 * Each body re-parses its arguments with the parser its plan used
 * (hb_tpcc_*_args in common/hb_proc.c), so it works on exactly the keys it
 * locked, reads the rows through the context, and writes rows encoded the
 * way SQL encodes them (docs/tpcc.md): a msgpack array of the columns in
 * table order; int columns as msgpack integers; numeric(p,s) as HB_VAL_DEC
 * at scale s (SQL's hb_val_coerce rescales to the declared scale; a value
 * read at another scale, or as an integer, is rescaled the same way,
 * rounding half away from zero); varchar as str; timestamp as int
 * microseconds since 2000-01-01: the sequencer's stamp of the transaction
 * minus HB_PG_EPOCH_US, as SQL's CURRENT_TIMESTAMP in storage does; NULL
 * as nil. Columns a body does not change keep their stored encoding.
 *
 * Rows the transactions create (an order's rows and its orders_customer
 * index entry, a payment's history row) are fresh writes (procs.h), each
 * on the partition of the anchor lock its plan took. The index entry is
 * what SQL's INSERT stores (an IPUT): key as sqlf_index_key, value the
 * orders row's key bytes.
 *
 * Arithmetic is exact: decimals are scaled int64 with __int128 products,
 * rounded half away from zero like SQL's numeric. A value that would not
 * fit its column aborts with "22003", as SQL's coercion would. Everything
 * depends only on the arguments, the reads and the stamp.
 *
 * Entry points: stor_tpcc_new_order, stor_tpcc_payment, stor_tpcc_delivery.
 */
#include "procs_tpcc.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "hb_expr.h"
#include "hb_key.h"
#include "hb_mp.h"
#include "hb_proc.h"

#define S_MAX_COLS   32  /* widest TPC-C row: stock, 17 columns */
#define S_C_DATA_MAX 500 /* c_data varchar(500) */
#define S_H_DATA_MAX 24  /* h_data varchar(24) */
#define S_BC_PREFIX  96  /* bytes of a BC c_data prefix, at most */

/* Column numbers (docs/tpcc.md column order). */
enum { W_NAME = 1, W_TAX = 7, W_YTD = 8, W_NCOLS = 9 };
enum { D_NAME = 2, D_TAX = 8, D_YTD = 9, D_NEXT_O_ID = 10, D_NCOLS = 11 };
enum {
    C_LAST = 5,
    C_CREDIT = 13,
    C_DISCOUNT = 15,
    C_BALANCE = 16,
    C_YTD_PAYMENT = 17,
    C_PAYMENT_CNT = 18,
    C_DELIVERY_CNT = 19,
    C_DATA = 20,
    C_NCOLS = 21
};
enum { O_C_ID = 3, O_CARRIER_ID = 5, O_OL_CNT = 6, O_NCOLS = 8 };
enum { OL_DELIVERY_D = 6, OL_AMOUNT = 8, OL_NCOLS = 10 };
enum { I_PRICE = 3, I_NCOLS = 5 };
enum {
    S_QUANTITY = 2,
    S_DIST_01 = 3,
    S_YTD = 13,
    S_ORDER_CNT = 14,
    S_REMOTE_CNT = 15,
    S_NCOLS = 17
};

/* One body's working state. */
typedef struct {
    stor_ctx_t *ctx;    /* the context (borrowed) */
    const char *proc;   /* "tpcc.payment", for messages */
    int64_t now;        /* the stamp, us since 2000-01-01 */
    msgpack_sbuffer sb; /* scratch for encoding rows */
} s_tx_t;

/* A decoded row; strings borrow from the read's bytes (context memory). */
typedef struct {
    hb_val_t c[S_MAX_COLS]; /* columns */
    uint32_t n;             /* columns present */
} s_row_t;

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static hb_rc_t
s_tx_init(s_tx_t *t, stor_ctx_t *ctx, const char *proc)
{
    t->ctx = ctx;
    t->proc = proc;
    msgpack_sbuffer_init(&t->sb);
    const hb_txn_t *txn = stor_ctx_txn(ctx);
    if (!txn)
        return stor_ctx_abort(ctx, HB_INTERNAL, "%s: no transaction", proc);
    t->now = txn->timestamp_us - HB_PG_EPOCH_US;
    return HB_OK;
}

static void
s_tx_fini(s_tx_t *t)
{
    msgpack_sbuffer_destroy(&t->sb);
}

/* Divides n by 10^k (k >= 0) rounding half away from zero (hb_expr's rule). */
static __int128
s_round_div(__int128 n, int k)
{
    if (k <= 0)
        return n;
    __int128 d = 1;
    for (int i = 0; i < k; i++)
        d *= 10;
    __int128 q = n / d, r = n % d;
    if (r < 0)
        r = -r;
    if (2 * r >= d)
        q += n < 0 ? -1 : 1;
    return q;
}

/* True when m fits numeric(prec, s) at scale s: |m| < 10^prec. */
static bool
s_fits(int64_t m, int prec)
{
    return m > -hb_pow10[prec] && m < hb_pow10[prec];
}

/* Reads key: HB_OK with the decoded row (at least ncols columns),
 * HB_NOTFOUND (absent; row->n = 0), or the abort code. what names the row
 * in messages. */
static hb_rc_t
s_read(s_tx_t *t, const hb_key_t *k, uint32_t ncols, const char *what, s_row_t *row)
{
    const uint8_t *val;
    size_t vlen;
    row->n = 0;
    hb_rc_t rc = stor_ctx_read(t->ctx, k->buf, k->len, &val, &vlen);
    if (rc != HB_OK)
        return rc;
    if (hb_row_decode(val, vlen, row->c, S_MAX_COLS, &row->n) != HB_OK || row->n < ncols)
        return stor_ctx_abort(t->ctx, HB_CORRUPT, "XX001 %s: stored %s row is malformed",
                              t->proc, what);
    return HB_OK;
}

/* Reads a row that must exist: absent aborts (HB_ABORTED, "tpcc: ..."). */
static hb_rc_t
s_read_must(s_tx_t *t, const hb_key_t *k, uint32_t ncols, const char *what, s_row_t *row)
{
    hb_rc_t rc = s_read(t, k, ncols, what, row);
    if (rc == HB_NOTFOUND)
        return stor_ctx_abort(t->ctx, HB_ABORTED, "tpcc: %s does not exist", what);
    return rc;
}

static hb_rc_t
s_bad_col(s_tx_t *t, const char *what, uint32_t col, const char *type)
{
    return stor_ctx_abort(t->ctx, HB_CORRUPT,
                          "XX001 %s: column %" PRIu32 " of the %s row is not %s", t->proc,
                          col + 1, what, type);
}

/* Column col as an integer. */
static hb_rc_t
s_int(s_tx_t *t, const s_row_t *row, uint32_t col, const char *what, int64_t *out)
{
    /* Every integer column of the schema is an int (int4): anything wider
     * is a foreign row, and would make the arithmetic below overflow. */
    if (row->c[col].type != HB_VAL_INT || row->c[col].u.i > INT32_MAX ||
        row->c[col].u.i < INT32_MIN)
        return s_bad_col(t, what, col, "an integer");
    *out = row->c[col].u.i;
    return HB_OK;
}

/* Column col as a numeric at scale: the mantissa m (value m * 10^-scale). */
static hb_rc_t
s_num(s_tx_t *t, const s_row_t *row, uint32_t col, int scale, const char *what,
      int64_t *out)
{
    const hb_val_t *v = &row->c[col];
    __int128 n;
    if (v->type == HB_VAL_INT) {
        n = (__int128)v->u.i * hb_pow10[scale];
    } else if (v->type == HB_VAL_DEC && v->u.dec.scale >= 0 &&
               v->u.dec.scale <= HB_DEC_MAX_SCALE) {
        n = v->u.dec.m;
        if (v->u.dec.scale <= scale)
            n *= hb_pow10[scale - v->u.dec.scale];
        else
            n = s_round_div(n, v->u.dec.scale - scale);
    } else {
        return s_bad_col(t, what, col, "a number");
    }
    /* The schema's numerics have at most 12 digits: a mantissa of 10^15 or
     * more is a foreign row, and would make the sums and products below
     * overflow. */
    if (n >= hb_pow10[15] || n <= -hb_pow10[15])
        return s_bad_col(t, what, col, "a number of at most 15 digits");
    *out = (int64_t)n;
    return HB_OK;
}

/* Column col as a string (NULL reads as ""). */
static hb_rc_t
s_str(s_tx_t *t, const s_row_t *row, uint32_t col, const char *what, const uint8_t **p,
      uint32_t *len)
{
    const hb_val_t *v = &row->c[col];
    if (v->type == HB_VAL_NIL) {
        *p = (const uint8_t *)"";
        *len = 0;
        return HB_OK;
    }
    if (v->type != HB_VAL_STR)
        return s_bad_col(t, what, col, "a string");
    *p = v->u.s.ptr;
    *len = v->u.s.len;
    return HB_OK;
}

/* Sets numeric column col to m at scale, checking numeric(prec, scale). */
static hb_rc_t
s_set_num(s_tx_t *t, s_row_t *row, uint32_t col, int64_t m, int prec, int scale,
          const char *name)
{
    if (!s_fits(m, prec))
        return stor_ctx_abort(t->ctx, HB_ABORTED, "22003 %s: numeric field overflow (%s)",
                              t->proc, name);
    row->c[col] = hb_val_dec(m, scale);
    return HB_OK;
}

/* Sets int column col to v + delta, checking the SQL int range. */
static hb_rc_t
s_set_add(s_tx_t *t, s_row_t *row, uint32_t col, int64_t v, int64_t delta,
          const char *name)
{
    int64_t r;
    if (__builtin_add_overflow(v, delta, &r) || r > INT32_MAX || r < INT32_MIN)
        return stor_ctx_abort(t->ctx, HB_ABORTED, "22003 %s: integer out of range (%s)",
                              t->proc, name);
    row->c[col] = hb_val_int(r);
    return HB_OK;
}

/* Encodes n columns into t->sb. */
static hb_rc_t
s_pack(s_tx_t *t, const hb_val_t *cols, uint32_t n)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(&t->sb);
    msgpack_packer_init(&pk, &t->sb, msgpack_sbuffer_write);
    if (hb_row_pack(&pk, cols, n) != HB_OK)
        return stor_ctx_abort(t->ctx, HB_INTERNAL, "%s: a row cannot be encoded",
                              t->proc);
    return HB_OK;
}

/* Writes row at lock key k. */
static hb_rc_t
s_write(s_tx_t *t, const hb_key_t *k, const s_row_t *row)
{
    hb_rc_t rc = s_pack(t, row->c, row->n);
    if (rc == HB_OK)
        rc = stor_ctx_write(t->ctx, k->buf, k->len, t->sb.data, t->sb.size);
    return rc;
}

/* Returns the partition of anchor lock key a (a plan took it), or aborts. */
static hb_rc_t
s_anchor(s_tx_t *t, const hb_key_t *a, uint16_t *part)
{
    if (stor_ctx_lock_partition(t->ctx, a->buf, a->len, part) != HB_OK)
        return stor_ctx_abort(t->ctx, HB_ABORTED, "%s: the lock set has no anchor lock",
                              t->proc);
    return HB_OK;
}

/* Fresh-writes the n columns at key k on partition part. */
static hb_rc_t
s_fresh(s_tx_t *t, uint16_t part, const hb_key_t *k, const hb_val_t *cols, uint32_t n)
{
    hb_rc_t rc = s_pack(t, cols, n);
    if (rc == HB_OK)
        rc = stor_ctx_write_fresh(t->ctx, part, k->buf, k->len, t->sb.data, t->sb.size);
    return rc;
}

/* Returns the bytes of the first max characters of UTF-8 text p[0..len). */
static uint32_t
s_utf8_cut(const uint8_t *p, uint32_t len, uint32_t max)
{
    uint32_t chars = 0;
    for (uint32_t i = 0; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80 && chars++ == max)
            return i;
    }
    return len;
}

static hb_rc_t
s_bad_args(s_tx_t *t, const char *err)
{
    return stor_ctx_abort(t->ctx, HB_INVALID, "%s", err);
}

/* ------------------------------------------------------------------ */
/* New-Order (clause 2.4.2)                                            */
/* ------------------------------------------------------------------ */

static hb_rc_t
s_new_order(s_tx_t *t, const hb_val_t *args, uint32_t nargs)
{
    hb_tpcc_new_order_t a;
    char err[256];
    hb_rc_t rc;
    if (hb_tpcc_new_order_args(args, nargs, &a, err, sizeof err) != HB_OK)
        return s_bad_args(t, err);
    const hb_tpcc_schema_t *s = &a.s;
    const int64_t wd[2] = {a.w, a.d}, wdc[3] = {a.w, a.d, a.c};
    hb_key_t wk, dk, ck, k;
    s_row_t w, d, c, row;
    hb_tpcc_key(&wk, s->warehouse, wd, 1);
    hb_tpcc_key(&dk, s->district, wd, 2);
    hb_tpcc_key(&ck, s->customer, wdc, 3);
    if ((rc = s_read_must(t, &wk, W_NCOLS, "warehouse", &w)) ||
        (rc = s_read_must(t, &dk, D_NCOLS, "district", &d)) ||
        (rc = s_read_must(t, &ck, C_NCOLS, "customer", &c)))
        return rc;
    int64_t w_tax = 0, d_tax = 0, o_id = 0, disc = 0;
    const uint8_t *c_last = NULL, *c_credit = NULL;
    uint32_t c_last_len = 0, c_credit_len = 0;
    if ((rc = s_num(t, &w, W_TAX, 4, "warehouse", &w_tax)) ||
        (rc = s_num(t, &d, D_TAX, 4, "district", &d_tax)) ||
        (rc = s_int(t, &d, D_NEXT_O_ID, "district", &o_id)) ||
        (rc = s_num(t, &c, C_DISCOUNT, 4, "customer", &disc)) ||
        (rc = s_str(t, &c, C_LAST, "customer", &c_last, &c_last_len)) ||
        (rc = s_str(t, &c, C_CREDIT, "customer", &c_credit, &c_credit_len)))
        return rc;

    /* Every item first: an invalid one (the 1% rollback) aborts before
     * anything is written, decided from the same reads everywhere. */
    int64_t price[HB_TPCC_MAX_OL] = {0};
    for (uint32_t l = 0; l < a.n; l++) {
        hb_tpcc_key(&k, s->item, &a.ol[l].i_id, 1);
        rc = s_read(t, &k, I_NCOLS, "item", &row);
        if (rc == HB_NOTFOUND)
            return stor_ctx_abort(t->ctx, HB_ABORTED, "tpcc: item number is not valid");
        if (rc || (rc = s_num(t, &row, I_PRICE, 2, "item", &price[l])))
            return rc;
    }

    /* The district hands out the order number. */
    if ((rc = s_set_add(t, &d, D_NEXT_O_ID, o_id, 1, "d_next_o_id")) ||
        (rc = s_write(t, &dk, &d)))
        return rc;

    /* The order, its index entry and its new_order row: fresh keys that
     * only this district's lock holder creates. */
    uint16_t opart, nopart, olpart;
    hb_key_t oa, noa, ola;
    hb_tpcc_key(&oa, s->orders, wd, 2);
    hb_tpcc_key(&noa, s->new_order, wd, 2);
    hb_tpcc_key(&ola, s->order_line, wd, 2);
    if ((rc = s_anchor(t, &oa, &opart)) || (rc = s_anchor(t, &noa, &nopart)) ||
        (rc = s_anchor(t, &ola, &olpart)))
        return rc;
    const int64_t wdo[3] = {a.w, a.d, o_id};
    hb_key_t ok;
    hb_tpcc_key(&ok, s->orders, wdo, 3);
    const hb_val_t orow[O_NCOLS] = {
        hb_val_int(a.w),    hb_val_int(a.d), hb_val_int(o_id), hb_val_int(a.c),
        hb_val_int(t->now), hb_val_nil(),    hb_val_int(a.n),  hb_val_int(a.all_local)};
    if ((rc = s_fresh(t, opart, &ok, orow, O_NCOLS)))
        return rc;
    hb_tpcc_order_index_key(&k, s, a.w, a.d, a.c, o_id);
    if ((rc = stor_ctx_write_fresh(t->ctx, opart, k.buf, k.len, ok.buf, ok.len)))
        return rc;
    hb_tpcc_key(&k, s->new_order, wdo, 3);
    if ((rc = s_fresh(t, nopart, &k, orow, 3)))
        return rc;

    /* Per line: the stock update and the order line. */
    int64_t sum = 0;
    for (uint32_t l = 0; l < a.n; l++) {
        const int64_t sw = a.ol[l].supply_w, i_id = a.ol[l].i_id, qty = a.ol[l].qty;
        const int64_t si[2] = {sw, i_id};
        hb_key_t sk;
        hb_tpcc_key(&sk, s->stock, si, 2);
        rc = s_read(t, &sk, S_NCOLS, "stock", &row);
        if (rc == HB_NOTFOUND)
            return stor_ctx_abort(t->ctx, HB_ABORTED,
                                  "tpcc: stock (%" PRId64 ", %" PRId64 ") does not exist",
                                  sw, i_id);
        int64_t q = 0, ytd = 0, ocnt = 0, rcnt = 0;
        const uint8_t *dist = NULL;
        uint32_t dist_len = 0;
        if (rc || (rc = s_int(t, &row, S_QUANTITY, "stock", &q)) ||
            (rc = s_int(t, &row, S_YTD, "stock", &ytd)) ||
            (rc = s_int(t, &row, S_ORDER_CNT, "stock", &ocnt)) ||
            (rc = s_int(t, &row, S_REMOTE_CNT, "stock", &rcnt)) ||
            (rc = s_str(t, &row, S_DIST_01 + (uint32_t)(a.d - 1), "stock", &dist,
                        &dist_len)))
            return rc;
        int64_t nq = q >= qty + 10 ? q - qty : q - qty + 91;
        if ((rc = s_set_add(t, &row, S_QUANTITY, nq, 0, "s_quantity")) ||
            (rc = s_set_add(t, &row, S_YTD, ytd, qty, "s_ytd")) ||
            (rc = s_set_add(t, &row, S_ORDER_CNT, ocnt, 1, "s_order_cnt")) ||
            (rc = s_set_add(t, &row, S_REMOTE_CNT, rcnt, sw != a.w, "s_remote_cnt")) ||
            (rc = s_write(t, &sk, &row)))
            return rc;
        /* ol_amount numeric(6,2); i_price numeric(5,2), qty <= 10 */
        int64_t amount = qty * price[l];
        if (!s_fits(amount, 6))
            return stor_ctx_abort(t->ctx, HB_ABORTED,
                                  "22003 %s: numeric field overflow (ol_amount)",
                                  t->proc);
        sum += amount;
        const int64_t line[4] = {a.w, a.d, o_id, (int64_t)l + 1};
        hb_tpcc_key(&k, s->order_line, line, 4);
        const hb_val_t olrow[OL_NCOLS] = {
            hb_val_int(a.w),       hb_val_int(a.d),
            hb_val_int(o_id),      hb_val_int((int64_t)l + 1),
            hb_val_int(i_id),      hb_val_int(sw),
            hb_val_nil(),          hb_val_int(qty),
            hb_val_dec(amount, 2), hb_val_str(dist, dist_len)};
        if ((rc = s_fresh(t, olpart, &k, olrow, OL_NCOLS)))
            return rc;
    }

    /* total = sum(ol_amount) * (1 - c_discount) * (1 + w_tax + d_tax):
     * scale 2 + 4 + 4, rounded to 2. */
    __int128 total = (__int128)sum * (10000 - disc) * (10000 + w_tax + d_tax);
    total = s_round_div(total, 8);
    if (total > INT64_MAX || total < -INT64_MAX)
        return stor_ctx_abort(t->ctx, HB_ABORTED, "22003 %s: total out of range",
                              t->proc);
    const hb_val_t res[7] = {hb_val_int(o_id),
                             hb_val_dec((int64_t)total, 2),
                             hb_val_str(c_last, c_last_len),
                             hb_val_str(c_credit, c_credit_len),
                             hb_val_dec(disc, 4),
                             hb_val_dec(w_tax, 4),
                             hb_val_dec(d_tax, 4)};
    for (int i = 0; i < 7; i++)
        stor_ctx_result(t->ctx, &res[i]);
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Payment (clause 2.5.2)                                              */
/* ------------------------------------------------------------------ */

static hb_rc_t
s_payment(s_tx_t *t, const hb_val_t *args, uint32_t nargs)
{
    hb_tpcc_payment_t a;
    char err[256];
    hb_rc_t rc;
    if (hb_tpcc_payment_args(args, nargs, &a, err, sizeof err) != HB_OK)
        return s_bad_args(t, err);
    const hb_tpcc_schema_t *s = &a.s;
    const int64_t wd[2] = {a.w, a.d}, cust[3] = {a.cw, a.cd, a.c};
    hb_key_t wk, dk, ck, k;
    s_row_t w, d, c;
    hb_tpcc_key(&wk, s->warehouse, wd, 1);
    hb_tpcc_key(&dk, s->district, wd, 2);
    hb_tpcc_key(&ck, s->customer, cust, 3);
    if ((rc = s_read_must(t, &wk, W_NCOLS, "warehouse", &w)) ||
        (rc = s_read_must(t, &dk, D_NCOLS, "district", &d)) ||
        (rc = s_read_must(t, &ck, C_NCOLS, "customer", &c)))
        return rc;
    int64_t w_ytd = 0, d_ytd = 0, bal = 0, ytdp = 0, cnt = 0;
    const uint8_t *w_name = NULL, *d_name = NULL, *credit = NULL, *data = NULL;
    uint32_t w_name_len = 0, d_name_len = 0, credit_len = 0, data_len = 0;
    if ((rc = s_num(t, &w, W_YTD, 2, "warehouse", &w_ytd)) ||
        (rc = s_str(t, &w, W_NAME, "warehouse", &w_name, &w_name_len)) ||
        (rc = s_num(t, &d, D_YTD, 2, "district", &d_ytd)) ||
        (rc = s_str(t, &d, D_NAME, "district", &d_name, &d_name_len)) ||
        (rc = s_num(t, &c, C_BALANCE, 2, "customer", &bal)) ||
        (rc = s_num(t, &c, C_YTD_PAYMENT, 2, "customer", &ytdp)) ||
        (rc = s_int(t, &c, C_PAYMENT_CNT, "customer", &cnt)) ||
        (rc = s_str(t, &c, C_CREDIT, "customer", &credit, &credit_len)) ||
        (rc = s_str(t, &c, C_DATA, "customer", &data, &data_len)))
        return rc;
    const int64_t amt = a.amount; /* scale 2, 1..999999 */

    if ((rc = s_set_num(t, &w, W_YTD, w_ytd + amt, 12, 2, "w_ytd")) ||
        (rc = s_write(t, &wk, &w)) ||
        (rc = s_set_num(t, &d, D_YTD, d_ytd + amt, 12, 2, "d_ytd")) ||
        (rc = s_write(t, &dk, &d)) ||
        (rc = s_set_num(t, &c, C_BALANCE, bal - amt, 12, 2, "c_balance")) ||
        (rc = s_set_num(t, &c, C_YTD_PAYMENT, ytdp + amt, 12, 2, "c_ytd_payment")) ||
        (rc = s_set_add(t, &c, C_PAYMENT_CNT, cnt, 1, "c_payment_cnt")))
        return rc;
    if (credit_len == 2 && memcmp(credit, "BC", 2) == 0) {
        /* "C_ID C_D_ID C_W_ID D_ID W_ID AMOUNT|" + c_data, cut to 500
         * characters. */
        char pre[S_BC_PREFIX];
        int plen = snprintf(pre, sizeof pre,
                            "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
                            " %" PRId64 ".%02" PRId64 "|",
                            a.c, a.cd, a.cw, a.d, a.w, amt / 100, amt % 100);
        uint8_t *buf = stor_ctx_alloc(t->ctx, (size_t)plen + data_len);
        memcpy(buf, pre, (size_t)plen);
        if (data_len)
            memcpy(buf + plen, data, data_len);
        uint32_t len = (uint32_t)plen + data_len;
        c.c[C_DATA] = hb_val_str(buf, s_utf8_cut(buf, len, S_C_DATA_MAX));
    }
    if ((rc = s_write(t, &ck, &c)))
        return rc;

    /* The history row, numbered by the new payment count: a fresh key
     * only the holder of the customer's lock creates. */
    uint16_t hpart;
    int64_t seq = c.c[C_PAYMENT_CNT].u.i;
    hb_tpcc_key(&k, s->history, cust, 3);
    if ((rc = s_anchor(t, &k, &hpart)))
        return rc;
    const int64_t hkey[4] = {a.cw, a.cd, a.c, seq};
    hb_tpcc_key(&k, s->history, hkey, 4);
    uint8_t *hd = stor_ctx_alloc(t->ctx, (size_t)w_name_len + 4 + d_name_len);
    memcpy(hd, w_name, w_name_len);
    memcpy(hd + w_name_len, "    ", 4);
    memcpy(hd + w_name_len + 4, d_name, d_name_len);
    uint32_t hdlen = w_name_len + 4 + d_name_len;
    const hb_val_t hrow[9] = {hb_val_int(a.cw),
                              hb_val_int(a.cd),
                              hb_val_int(a.c),
                              hb_val_int(seq),
                              hb_val_int(a.d),
                              hb_val_int(a.w),
                              hb_val_int(t->now),
                              hb_val_dec(amt, 2),
                              hb_val_str(hd, s_utf8_cut(hd, hdlen, S_H_DATA_MAX))};
    if ((rc = s_fresh(t, hpart, &k, hrow, 9)))
        return rc;

    stor_ctx_result(t->ctx, &c.c[C_BALANCE]);
    const hb_val_t cr = hb_val_str(credit, credit_len);
    stor_ctx_result(t->ctx, &cr);
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Delivery (clause 2.7.4)                                             */
/* ------------------------------------------------------------------ */

static hb_rc_t
s_stale(s_tx_t *t, int64_t w, int64_t d, int64_t o, const char *why)
{
    return stor_ctx_abort(t->ctx, HB_ABORTED,
                          "40001 %s: order (%" PRId64 ", %" PRId64 ", %" PRId64 ") %s",
                          t->proc, w, d, o, why);
}

static hb_rc_t
s_delivery(s_tx_t *t, const hb_val_t *args, uint32_t nargs)
{
    hb_tpcc_delivery_t a;
    char err[256];
    hb_rc_t rc;
    if (hb_tpcc_delivery_args(args, nargs, &a, err, sizeof err) != HB_OK)
        return s_bad_args(t, err);
    const hb_tpcc_schema_t *s = &a.s;

    /* OLLP first, for every district: the oldest new order the snapshot
     * showed must still be undelivered and be the order it saw. */
    for (int64_t d = 1; d <= HB_TPCC_DISTRICTS; d++) {
        const int64_t o = a.d[d - 1].o_id;
        if (o == 0)
            continue;
        const int64_t wdo[3] = {a.w, d, o};
        hb_key_t k;
        s_row_t row;
        int64_t c_id = 0, ol_cnt = 0;
        hb_tpcc_key(&k, s->new_order, wdo, 3);
        rc = s_read(t, &k, 3, "new_order", &row);
        if (rc == HB_NOTFOUND)
            return s_stale(t, a.w, d, o, "is no longer a new order");
        if (rc)
            return rc;
        hb_tpcc_key(&k, s->orders, wdo, 3);
        rc = s_read(t, &k, O_NCOLS, "orders", &row);
        if (rc == HB_NOTFOUND)
            return s_stale(t, a.w, d, o, "does not exist");
        if (rc || (rc = s_int(t, &row, O_C_ID, "orders", &c_id)) ||
            (rc = s_int(t, &row, O_OL_CNT, "orders", &ol_cnt)))
            return rc;
        if (c_id != a.d[d - 1].c_id || ol_cnt != a.d[d - 1].ol_cnt)
            return s_stale(t, a.w, d, o, "is not the order the snapshot saw");
    }

    int64_t delivered = 0;
    for (int64_t d = 1; d <= HB_TPCC_DISTRICTS; d++) {
        const int64_t o = a.d[d - 1].o_id;
        if (o == 0)
            continue;
        const int64_t wdo[3] = {a.w, d, o};
        hb_key_t k;
        s_row_t row;
        hb_tpcc_key(&k, s->new_order, wdo, 3);
        if ((rc = stor_ctx_delete(t->ctx, k.buf, k.len)))
            return rc;
        hb_tpcc_key(&k, s->orders, wdo, 3);
        if ((rc = s_read_must(t, &k, O_NCOLS, "orders", &row)))
            return rc;
        row.c[O_CARRIER_ID] = hb_val_int(a.carrier);
        if ((rc = s_write(t, &k, &row)))
            return rc;
        int64_t sum = 0;
        for (int64_t n = 1; n <= a.d[d - 1].ol_cnt; n++) {
            const int64_t line[4] = {a.w, d, o, n};
            int64_t amount = 0;
            hb_tpcc_key(&k, s->order_line, line, 4);
            rc = s_read(t, &k, OL_NCOLS, "order_line", &row);
            if (rc == HB_NOTFOUND)
                return stor_ctx_abort(t->ctx, HB_ABORTED,
                                      "tpcc: order line (%" PRId64 ", %" PRId64
                                      ", %" PRId64 ", %" PRId64 ") does not exist",
                                      a.w, d, o, n);
            if (rc || (rc = s_num(t, &row, OL_AMOUNT, 2, "order_line", &amount)))
                return rc;
            sum += amount; /* <= 15 * 10^6: no overflow */
            row.c[OL_DELIVERY_D] = hb_val_int(t->now);
            if ((rc = s_write(t, &k, &row)))
                return rc;
        }
        const int64_t cust[3] = {a.w, d, a.d[d - 1].c_id};
        int64_t bal = 0, dcnt = 0;
        hb_tpcc_key(&k, s->customer, cust, 3);
        if ((rc = s_read_must(t, &k, C_NCOLS, "customer", &row)) ||
            (rc = s_num(t, &row, C_BALANCE, 2, "customer", &bal)) ||
            (rc = s_int(t, &row, C_DELIVERY_CNT, "customer", &dcnt)) ||
            (rc = s_set_num(t, &row, C_BALANCE, bal + sum, 12, 2, "c_balance")) ||
            (rc = s_set_add(t, &row, C_DELIVERY_CNT, dcnt, 1, "c_delivery_cnt")) ||
            (rc = s_write(t, &k, &row)))
            return rc;
        delivered++;
    }
    const hb_val_t res = hb_val_int(delivered);
    stor_ctx_result(t->ctx, &res);
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

/* Runs body as procedure proc in a fresh working state. */
static hb_rc_t
s_enter(stor_ctx_t *ctx, const char *proc,
        hb_rc_t (*body)(s_tx_t *t, const hb_val_t *args, uint32_t nargs),
        const hb_val_t *args, uint32_t nargs)
{
    s_tx_t t;
    hb_rc_t rc = s_tx_init(&t, ctx, proc);
    if (rc == HB_OK)
        rc = body(&t, args, nargs);
    s_tx_fini(&t);
    return rc;
}

hb_rc_t
stor_tpcc_new_order(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    return s_enter(ctx, "tpcc.new_order", s_new_order, args, nargs);
}

hb_rc_t
stor_tpcc_payment(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    return s_enter(ctx, "tpcc.payment", s_payment, args, nargs);
}

hb_rc_t
stor_tpcc_delivery(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    return s_enter(ctx, "tpcc.delivery", s_delivery, args, nargs);
}
