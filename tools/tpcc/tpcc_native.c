/* tpcc_native.c — the five transactions as native tpcc.* procedures.
 *
 * --impl native (Hobbes only): New-Order, Payment and Delivery call the
 * native procedures tpcc.* (storage/procs_tpcc.c) with the table ids and
 * index numbers read from the catalog first (tpcc_schema_load); the
 * read-only Order-Status and Stock-Level are snapshot scans at one epoch.
 * Where a transaction's keys depend on data the harness does the
 * reconnaissance (OLLP): a by-name customer is looked up at a snapshot
 * (last names never change), and Delivery reads the oldest new order of
 * each district and passes it in; the procedure checks it still holds and
 * aborts with 40001 otherwise, and the run loop retries.
 *
 * Entry points: tpcc_schema_load; tpcc_native_new_order,
 * tpcc_native_payment, tpcc_native_order_status, tpcc_native_delivery,
 * tpcc_native_stock_level.
 */
#include "tpcc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hb_key.h"
#include "hb_mp.h"
#include "hb_proc.h"

/* ------------------------------------------------------------------ */
/* Keys, snapshot reads, the catalog                                    */
/* ------------------------------------------------------------------ */

/* Indexes of the table ids in tpcc_schema_t (the order of tpcc_tables). */
enum {
    S_T_WH,
    S_T_DIST,
    S_T_CUST,
    S_T_HIST,
    S_T_NO,
    S_T_ORD,
    S_T_OL,
    S_T_ITEM,
    S_T_STOCK
};

/* Reads table name's id and, when ixname is set, that index's number from
 * the catalog copy of partition 0 (sqlfront/catalog.h). */
static int
s_catalog_lookup(hb_client_t *cl, const char *name, const char *ixname, int64_t *tid,
                 int64_t *ixno)
{
    hb_key_t k;
    hb_key_catalog(&k, 0, name, strlen(name));
    uint8_t end[HB_KEY_MAX + 1];
    memcpy(end, k.buf, k.len);
    end[k.len] = 0;
    hb_scan_result_t *res = NULL;
    if (hb_client_scan(cl, 0, k.buf, k.len, end, k.len + 1, 1, 10000, &res) != HB_OK ||
        !res || res->rc != HB_OK || res->nrows != 1) {
        fprintf(stderr,
                "hobbes-bench: tpcc: table %s not found (run `tpcc load` first)\n", name);
        hb_scan_result_destroy(&res);
        return -1;
    }
    hb_mp_reader_t r, d;
    uint32_t n, m;
    const uint8_t *def;
    uint32_t deflen;
    hb_mp_reader_init(&r, res->rows[0].val, res->rows[0].vlen);
    int rc = -1;
    if (hb_mp_read_array(&r, &n) != HB_OK || n < 2 || hb_mp_read_int(&r, tid) != HB_OK ||
        hb_mp_read_bin(&r, &def, &deflen) != HB_OK)
        goto out;
    if (!ixname) {
        rc = 0;
        goto out;
    }
    /* [[cols], [pk], npart, [[name, no, [cols], ready] ...], ...] */
    hb_mp_reader_init(&d, def, deflen);
    if (hb_mp_read_array(&d, &n) != HB_OK || n < 4 || hb_mp_skip(&d) != HB_OK ||
        hb_mp_skip(&d) != HB_OK || hb_mp_skip(&d) != HB_OK ||
        hb_mp_read_array(&d, &m) != HB_OK)
        goto out;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t f;
        const char *s;
        uint32_t slen;
        int64_t no;
        if (hb_mp_read_array(&d, &f) != HB_OK || f < 2 ||
            hb_mp_read_str(&d, &s, &slen) != HB_OK || hb_mp_read_int(&d, &no) != HB_OK)
            goto out;
        for (uint32_t j = 2; j < f; j++)
            if (hb_mp_skip(&d) != HB_OK)
                goto out;
        if (slen == strlen(ixname) && memcmp(s, ixname, slen) == 0) {
            *ixno = no;
            rc = 0;
            goto out;
        }
    }
    fprintf(stderr, "hobbes-bench: tpcc: index %s of %s not found\n", ixname, name);
out:
    if (rc != 0 && ixname)
        fprintf(stderr, "hobbes-bench: tpcc: cannot read the catalog entry of %s\n",
                name);
    hb_scan_result_destroy(&res);
    return rc;
}

int
tpcc_schema_load(hb_client_t *cl, tpcc_schema_t *s)
{
    for (int i = 0; i < 9; i++) {
        const char *ix = i == S_T_ORD    ? "orders_customer"
                         : i == S_T_CUST ? "customer_name"
                                         : NULL;
        int64_t no = 0;
        if (s_catalog_lookup(cl, tpcc_tables[i], ix, &s->v[i], &no) != 0)
            return -1;
        if (i == S_T_ORD)
            s->v[9] = no;
        if (i == S_T_CUST)
            s->v[10] = no;
    }
    return 0;
}

/* A row key [table][cols...] (hb_tpcc_key); *part, when set, gets its
 * partition (hb_tpcc_partition: the table id and first column). */
static void
s_nkey(hb_key_t *k, int64_t tid, uint32_t nparts, uint16_t *part, int n, ...)
{
    int64_t cols[4];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && i < 4; i++)
        cols[i] = va_arg(ap, int64_t);
    va_end(ap);
    hb_tpcc_key(k, (uint32_t)tid, cols, (uint32_t)(n < 4 ? n : 4));
    if (part)
        *part = hb_tpcc_partition(k, nparts);
}

/* Reads column col of a stored row as an integer (nil: 0). */
static int64_t
s_col_i64(const uint8_t *val, size_t vlen, uint32_t col)
{
    hb_mp_reader_t r;
    uint32_t n;
    int64_t v = 0;
    hb_mp_reader_init(&r, val, vlen);
    if (hb_mp_read_array(&r, &n) != HB_OK || col >= n)
        return 0;
    for (uint32_t i = 0; i < col; i++)
        if (hb_mp_skip(&r) != HB_OK)
            return 0;
    if (hb_mp_peek(&r) == HB_MP_NIL)
        return 0;
    return hb_mp_read_int(&r, &v) == HB_OK ? v : 0;
}

/* A snapshot read of [start, end) on one partition at *epoch (0: current,
 * then set). Returns 0, or -1 when the read failed or was at another epoch
 * (the caller starts the transaction's reads again). */
static int
s_snap(hb_client_t *cl, uint16_t part, const hb_key_t *start, const uint8_t *end,
       size_t elen, uint32_t limit, uint64_t *epoch, hb_scan_result_t **out)
{
    *out = NULL;
    if (hb_client_scan_at(cl, part, start->buf, start->len, end, elen, limit, *epoch,
                          TPCC_TIMEOUT_MS, out) != HB_OK ||
        !*out || (*out)->rc != HB_OK || (*epoch && (*out)->epoch != *epoch)) {
        hb_scan_result_destroy(out);
        return -1;
    }
    *epoch = (*out)->epoch;
    return 0;
}

/* Exact-key snapshot read: *out holds 0 or 1 rows. */
static int
s_snap_get(hb_client_t *cl, uint16_t part, const hb_key_t *k, uint64_t *epoch,
           hb_scan_result_t **out)
{
    uint8_t end[HB_KEY_MAX + 1];
    memcpy(end, k->buf, k->len);
    end[k->len] = 0;
    return s_snap(cl, part, k, end, k->len + 1, 1, epoch, out);
}

/* The end of the prefix range of k: k + 0xff (every encoded column that
 * may follow starts below 0xff). */
static size_t
s_prefix_end(const hb_key_t *k, uint8_t *end)
{
    memcpy(end, k->buf, k->len);
    end[k->len] = 0xff;
    return k->len + 1;
}

/* ------------------------------------------------------------------ */
/* The transactions                                                     */
/* ------------------------------------------------------------------ */

static uint32_t
s_schema_args(tpcc_term_t *t)
{
    for (int i = 0; i < TPCC_NSCHEMA; i++)
        t->args[i] = hb_val_int(t->run->schema.v[i]);
    return TPCC_NSCHEMA;
}

static tpcc_out_t
s_native_call(tpcc_term_t *t, const char *proc, uint32_t nargs, hb_result_t **out)
{
    *out = NULL;
    hb_rc_t rc = hb_client_call(t->cl, proc, t->args, nargs, TPCC_TIMEOUT_MS, out);
    if (rc != HB_OK || !*out) {
        tpcc_note_err(t, proc, hb_rc_str(rc),
                      *out ? (*out)->msg : hb_client_last_error(t->cl));
        hb_result_destroy(out);
        return TPCC_OUT_FAIL;
    }
    if ((*out)->rc == HB_OK || (*out)->rc == HB_EXISTS)
        return TPCC_OUT_OK;
    if (strncmp((*out)->msg, "40001", 5) == 0)
        return TPCC_OUT_RETRY;
    return TPCC_OUT_FAIL;
}

tpcc_out_t
tpcc_native_new_order(tpcc_term_t *t, const tpcc_no_in_t *in)
{
    uint32_t n = s_schema_args(t);
    t->args[n++] = hb_val_int(in->w);
    t->args[n++] = hb_val_int(in->d);
    t->args[n++] = hb_val_int(in->c);
    t->args[n++] = hb_val_int(in->all_local);
    for (uint32_t k = 0; k < in->n; k++) {
        t->args[n++] = hb_val_int(in->item[k]);
        t->args[n++] = hb_val_int(in->sw[k]);
        t->args[n++] = hb_val_int(in->q[k]);
    }
    hb_result_t *res;
    tpcc_out_t out = s_native_call(t, "tpcc.new_order", n, &res);
    if (out == TPCC_OUT_FAIL && res && in->item[in->n - 1] > TPCC_ITEMS &&
        res->rc == HB_ABORTED && strstr(res->msg, "item number is not valid"))
        out = TPCC_OUT_ROLLED;
    else if (out == TPCC_OUT_FAIL && res)
        tpcc_note_err(t, "tpcc.new_order", hb_rc_str(res->rc), res->msg);
    hb_result_destroy(&res);
    return out;
}

/* The customer of a last name at a snapshot: the customer_name index's
 * entries sorted by c_first, the middle one (position n/2 rounded up). */
static int
s_native_by_name(tpcc_term_t *t, uint32_t w, uint32_t d, const char *last,
                 uint64_t *epoch, uint32_t *c)
{
    const tpcc_schema_t *s = &t->run->schema;
    hb_key_t k, pk;
    uint16_t part;
    s_nkey(&pk, s->v[S_T_CUST], t->run->nparts, &part, 1, (int64_t)w);
    const int64_t wd[2] = {w, d};
    hb_tpcc_index_prefix(&k, (uint32_t)s->v[S_T_CUST], (uint32_t)s->v[10], wd, 2);
    k.buf[k.len++] = 0x01; /* c_last, a value */
    hb_key_put_str(&k, last, strlen(last));
    uint8_t end[HB_KEY_MAX + 1];
    size_t elen = s_prefix_end(&k, end);
    hb_scan_result_t *res;
    if (s_snap(t->cl, part, &k, end, elen, 1000, epoch, &res) != 0)
        return -1;
    int rc = -1;
    if (res->nrows > 0) {
        const hb_scan_row_t *row = &res->rows[(res->nrows + 1) / 2 - 1];
        const uint8_t *p = row->val, *e = row->val + row->vlen;
        uint32_t tid;
        int64_t cw, cd, cc;
        if (hb_key_get_table(&p, e, &tid) == HB_OK &&
            hb_key_get_i64(&p, e, &cw) == HB_OK && hb_key_get_i64(&p, e, &cd) == HB_OK &&
            hb_key_get_i64(&p, e, &cc) == HB_OK) {
            *c = (uint32_t)cc;
            rc = 0;
        }
    }
    if (rc != 0)
        tpcc_note_err(t, "by name", "02000", "no customer of that name");
    hb_scan_result_destroy(&res);
    return rc;
}

tpcc_out_t
tpcc_native_payment(tpcc_term_t *t, tpcc_pay_in_t *in)
{
    uint64_t epoch = 0;
    if (!in->c && s_native_by_name(t, in->cw, in->cd, in->last, &epoch, &in->c) != 0)
        return TPCC_OUT_FAIL;
    uint32_t n = s_schema_args(t);
    t->args[n++] = hb_val_int(in->w);
    t->args[n++] = hb_val_int(in->d);
    t->args[n++] = hb_val_int(in->cw);
    t->args[n++] = hb_val_int(in->cd);
    t->args[n++] = hb_val_int(in->c);
    t->args[n++] = hb_val_dec(in->cents, 2);
    hb_result_t *res;
    tpcc_out_t out = s_native_call(t, "tpcc.payment", n, &res);
    if (out == TPCC_OUT_FAIL && res)
        tpcc_note_err(t, "tpcc.payment", hb_rc_str(res->rc), res->msg);
    hb_result_destroy(&res);
    return out;
}

tpcc_out_t
tpcc_native_order_status(tpcc_term_t *t)
{
    const tpcc_schema_t *s = &t->run->schema;
    uint32_t d = (uint32_t)tpcc_rand(&t->rng, 1, TPCC_DIST), c;
    char last[20];
    uint64_t epoch = 0;
    bool by_name = tpcc_pick_customer(t, &c, last);
    if (by_name && s_native_by_name(t, t->w, d, last, &epoch, &c) != 0)
        return TPCC_OUT_FAIL;
    hb_key_t k;
    uint16_t part;
    hb_scan_result_t *res;
    s_nkey(&k, s->v[S_T_CUST], t->run->nparts, &part, 3, (int64_t)t->w, (int64_t)d,
           (int64_t)c);
    if (s_snap_get(t->cl, part, &k, &epoch, &res) != 0)
        return TPCC_OUT_RETRY;
    bool found = res->nrows == 1;
    hb_scan_result_destroy(&res);
    if (!found) {
        tpcc_note_err(t, "order_status", "02000", "no such customer");
        return TPCC_OUT_FAIL;
    }
    /* The customer's newest order: the last orders_customer entry, on the
     * partition of the order rows (a partition hashes the table id too). */
    s_nkey(&k, s->v[S_T_ORD], t->run->nparts, &part, 1, (int64_t)t->w);
    const int64_t wdc[3] = {t->w, d, c};
    hb_tpcc_index_prefix(&k, (uint32_t)s->v[S_T_ORD], (uint32_t)s->v[9], wdc, 3);
    uint8_t end[HB_KEY_MAX + 1];
    size_t elen = s_prefix_end(&k, end);
    if (s_snap(t->cl, part, &k, end, elen, 10000, &epoch, &res) != 0)
        return TPCC_OUT_RETRY;
    int64_t o = 0;
    if (res->nrows) {
        const hb_scan_row_t *row = &res->rows[res->nrows - 1];
        const uint8_t *p = row->val, *e = row->val + row->vlen;
        uint32_t tid;
        int64_t ow, od;
        if (hb_key_get_table(&p, e, &tid) != HB_OK ||
            hb_key_get_i64(&p, e, &ow) != HB_OK || hb_key_get_i64(&p, e, &od) != HB_OK ||
            hb_key_get_i64(&p, e, &o) != HB_OK)
            o = 0;
    }
    hb_scan_result_destroy(&res);
    if (!o)
        return TPCC_OUT_OK; /* a customer without orders: nothing to show */
    s_nkey(&k, s->v[S_T_OL], t->run->nparts, &part, 3, (int64_t)t->w, (int64_t)d, o);
    elen = s_prefix_end(&k, end);
    if (s_snap(t->cl, part, &k, end, elen, 100, &epoch, &res) != 0)
        return TPCC_OUT_RETRY;
    hb_scan_result_destroy(&res);
    return TPCC_OUT_OK;
}

tpcc_out_t
tpcc_native_stock_level(tpcc_term_t *t, int threshold)
{
    const tpcc_schema_t *s = &t->run->schema;
    uint64_t epoch = 0;
    hb_key_t k, e;
    uint16_t part;
    hb_scan_result_t *res;
    s_nkey(&k, s->v[S_T_DIST], t->run->nparts, &part, 2, (int64_t)t->w, (int64_t)t->d);
    if (s_snap_get(t->cl, part, &k, &epoch, &res) != 0)
        return TPCC_OUT_RETRY;
    int64_t o = res->nrows ? s_col_i64(res->rows[0].val, res->rows[0].vlen, 10) : 0;
    hb_scan_result_destroy(&res);
    if (!o) {
        tpcc_note_err(t, "stock_level", "02000", "no such district");
        return TPCC_OUT_FAIL;
    }
    s_nkey(&k, s->v[S_T_OL], t->run->nparts, &part, 3, (int64_t)t->w, (int64_t)t->d,
           o - 20);
    s_nkey(&e, s->v[S_T_OL], t->run->nparts, NULL, 3, (int64_t)t->w, (int64_t)t->d, o);
    if (s_snap(t->cl, part, &k, e.buf, e.len, 1000, &epoch, &res) != 0)
        return TPCC_OUT_RETRY;
    uint32_t items[400], ni = 0;
    for (uint32_t i = 0; i < res->nrows && ni < 400; i++) {
        uint32_t it = (uint32_t)s_col_i64(res->rows[i].val, res->rows[i].vlen, 4);
        bool dup = false;
        for (uint32_t j = 0; j < ni && !dup; j++)
            dup = items[j] == it;
        if (!dup)
            items[ni++] = it;
    }
    hb_scan_result_destroy(&res);
    uint32_t low = 0;
    for (uint32_t i = 0; i < ni; i++) {
        uint16_t sp;
        s_nkey(&k, s->v[S_T_STOCK], t->run->nparts, &sp, 2, (int64_t)t->w,
               (int64_t)items[i]);
        if (s_snap_get(t->cl, sp, &k, &epoch, &res) != 0)
            return TPCC_OUT_RETRY;
        if (res->nrows && s_col_i64(res->rows[0].val, res->rows[0].vlen, 2) < threshold)
            low++;
        hb_scan_result_destroy(&res);
    }
    (void)low;
    return TPCC_OUT_OK;
}

tpcc_out_t
tpcc_native_delivery(tpcc_term_t *t, int carrier)
{
    const tpcc_schema_t *s = &t->run->schema;
    uint64_t epoch = 0;
    uint32_t n = s_schema_args(t);
    t->args[n++] = hb_val_int(t->w);
    t->args[n++] = hb_val_int(carrier);
    for (int d = 1; d <= TPCC_DIST; d++) {
        hb_key_t k;
        uint16_t part;
        uint8_t end[HB_KEY_MAX + 1];
        hb_scan_result_t *res;
        s_nkey(&k, s->v[S_T_NO], t->run->nparts, &part, 2, (int64_t)t->w, (int64_t)d);
        size_t elen = s_prefix_end(&k, end);
        if (s_snap(t->cl, part, &k, end, elen, 1, &epoch, &res) != 0)
            return TPCC_OUT_RETRY;
        int64_t o = 0, c = 0, cnt = 0;
        if (res->nrows) {
            const uint8_t *p = res->rows[0].key, *e = p + res->rows[0].klen;
            uint32_t tid;
            int64_t x;
            if (hb_key_get_table(&p, e, &tid) != HB_OK ||
                hb_key_get_i64(&p, e, &x) != HB_OK ||
                hb_key_get_i64(&p, e, &x) != HB_OK || hb_key_get_i64(&p, e, &o) != HB_OK)
                o = 0;
        }
        hb_scan_result_destroy(&res);
        if (o) {
            s_nkey(&k, s->v[S_T_ORD], t->run->nparts, &part, 3, (int64_t)t->w, (int64_t)d,
                   o);
            if (s_snap_get(t->cl, part, &k, &epoch, &res) != 0)
                return TPCC_OUT_RETRY;
            if (res->nrows) {
                c = s_col_i64(res->rows[0].val, res->rows[0].vlen, 3);
                cnt = s_col_i64(res->rows[0].val, res->rows[0].vlen, 6);
            } else {
                o = 0;
            }
            hb_scan_result_destroy(&res);
        }
        t->args[n++] = hb_val_int(o);
        t->args[n++] = hb_val_int(c);
        t->args[n++] = hb_val_int(cnt);
    }
    hb_result_t *res;
    tpcc_out_t out = s_native_call(t, "tpcc.delivery", n, &res);
    if (out == TPCC_OUT_FAIL && res)
        tpcc_note_err(t, "tpcc.delivery", hb_rc_str(res->rc), res->msg);
    hb_result_destroy(&res);
    return out;
}
