/* tpcc_sql.c — the five transactions in SQL, on Hobbes or PostgreSQL.
 *
 * --impl sql: New-Order, Payment and Delivery call the stored procedures
 * new_order_N (N = 5..15 lines), payment and delivery that load created
 * (tpcc_schema.c) with the same text on both targets; Order-Status and
 * Stock-Level are SELECTs in a read-only block. As in tpcc_native.c the
 * harness does the reconnaissance where keys depend on data: a by-name
 * customer is looked up first, and Delivery reads each district's oldest
 * new order and passes it in; the procedure divides by zero (22012) when
 * it is gone, and the run loop retries.
 *
 * Entry points: tpcc_sql_new_order, tpcc_sql_payment,
 * tpcc_sql_order_status, tpcc_sql_delivery, tpcc_sql_stock_level.
 */
#include "tpcc_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Is this SQLSTATE a conflict to retry? */
static bool
s_conflict(const char *state)
{
    return strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0;
}

/* Middle customer of a by-name result (clause 2.5.2.2: position n/2
 * rounded up, sorted by c_first). Returns 0 or -1 when none matched. */
static int
s_sql_by_name(tpcc_term_t *t, uint32_t w, uint32_t d, const char *last, uint32_t *c)
{
    char sql[256];
    snprintf(
        sql, sizeof sql,
        "SELECT c_id FROM customer WHERE c_w_id = %u AND c_d_id = %u AND c_last = '%s' "
        "ORDER BY c_first",
        w, d, last);
    tpcc_res_t r;
    int rc = tpcc_db_exec(&t->db, sql, &r);
    uint32_t n = tpcc_nrows(&r, -1);
    if (rc == 0 && n > 0)
        *c = (uint32_t)tpcc_cell_i64(&r, -1, (n + 1) / 2 - 1, 0);
    else
        tpcc_note_err(t, "payment by name", r.state,
                      rc ? r.msg : "no customer of that name");
    tpcc_res_free(&r);
    return rc == 0 && n > 0 ? 0 : -1;
}

static tpcc_out_t
s_sql_result(tpcc_term_t *t, const char *what, tpcc_res_t *r, int rc)
{
    tpcc_out_t out = TPCC_OUT_OK;
    if (rc != 0) {
        if (s_conflict(r->state)) {
            out = TPCC_OUT_RETRY;
        } else {
            out = TPCC_OUT_FAIL;
            tpcc_note_err(t, what, r->state, r->msg);
        }
    }
    tpcc_res_free(r);
    return out;
}

tpcc_out_t
tpcc_sql_new_order(tpcc_term_t *t, const tpcc_no_in_t *in)
{
    char sql[2048];
    int n = snprintf(sql, sizeof sql, "CALL new_order_%u(%u, %u, %u, %u", in->n, in->w,
                     in->d, in->c, in->all_local);
    for (uint32_t k = 0; k < in->n; k++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ", %u, %u, %u", in->item[k],
                      in->sw[k], in->q[k]);
    snprintf(sql + n, sizeof sql - (size_t)n, ")");
    tpcc_res_t r;
    int rc = tpcc_db_exec(&t->db, sql, &r);
    if (rc != 0 && strcmp(r.state, "22012") == 0 && in->item[in->n - 1] > TPCC_ITEMS) {
        tpcc_res_free(&r);
        return TPCC_OUT_ROLLED;
    }
    return s_sql_result(t, "new_order", &r, rc);
}

tpcc_out_t
tpcc_sql_payment(tpcc_term_t *t, tpcc_pay_in_t *in)
{
    if (!in->c && s_sql_by_name(t, in->cw, in->cd, in->last, &in->c) != 0)
        return TPCC_OUT_FAIL;
    char sql[256];
    snprintf(sql, sizeof sql, "CALL payment(%u, %u, %u, %u, %u, %" PRId64 ".%02d)", in->w,
             in->d, in->cw, in->cd, in->c, in->cents / 100, (int)(in->cents % 100));
    tpcc_res_t r;
    return s_sql_result(t, "payment", &r, tpcc_db_exec(&t->db, sql, &r));
}

static const char *
s_begin_ro(const tpcc_term_t *t)
{
    return t->db.pg ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; " : "BEGIN; ";
}

/* Ends a read-only block after a failed statement: its outcome (frees r),
 * then ROLLBACK. */
static tpcc_out_t
s_sql_abandon(tpcc_term_t *t, const char *what, tpcc_res_t *r, int rc)
{
    tpcc_out_t out = s_sql_result(t, what, r, rc);
    tpcc_db_exec(&t->db, "ROLLBACK", r);
    tpcc_res_free(r);
    return out;
}

tpcc_out_t
tpcc_sql_order_status(tpcc_term_t *t)
{
    uint32_t d = (uint32_t)tpcc_rand(&t->rng, 1, TPCC_DIST), c;
    char last[20], sql[512];
    bool by_name = tpcc_pick_customer(t, &c, last);
    if (by_name)
        snprintf(
            sql, sizeof sql,
            "%sSELECT c_id, c_balance, c_first, c_middle FROM customer WHERE c_w_id = %u "
            "AND c_d_id = %u AND c_last = '%s' ORDER BY c_first",
            s_begin_ro(t), t->w, d, last);
    else
        snprintf(
            sql, sizeof sql,
            "%sSELECT c_id, c_balance, c_first, c_middle, c_last FROM customer WHERE "
            "c_w_id = %u AND c_d_id = %u AND c_id = %u",
            s_begin_ro(t), t->w, d, c);
    tpcc_res_t r;
    int rc = tpcc_db_exec(&t->db, sql, &r);
    uint32_t n = tpcc_nrows(&r, -1);
    if (rc == 0 && n == 0) {
        tpcc_res_fail(&r, "02000", "no such customer"); /* s_sql_result notes it */
        rc = -1;
    }
    if (rc == 0)
        c = (uint32_t)tpcc_cell_i64(&r, -1, (n + 1) / 2 - 1, 0);
    if (rc != 0)
        return s_sql_abandon(t, "order_status", &r, rc);
    tpcc_res_free(&r);
    snprintf(
        sql, sizeof sql,
        "SELECT o_id, o_carrier_id, o_entry_d FROM orders WHERE o_w_id = %u AND o_d_id = "
        "%u AND o_c_id = %u ORDER BY o_id DESC LIMIT 1",
        t->w, d, c);
    rc = tpcc_db_exec(&t->db, sql, &r);
    int64_t o = rc == 0 && tpcc_nrows(&r, -1) ? tpcc_cell_i64(&r, -1, 0, 0) : 0;
    if (rc != 0)
        return s_sql_abandon(t, "order_status", &r, rc);
    tpcc_res_free(&r);
    snprintf(sql, sizeof sql,
             "SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_delivery_d FROM "
             "order_line WHERE ol_w_id = %u AND ol_d_id = %u AND ol_o_id = %" PRId64
             "; COMMIT",
             t->w, d, o);
    rc = tpcc_db_exec(&t->db, sql, &r);
    if (rc != 0)
        return s_sql_abandon(t, "order_status", &r, rc);
    return s_sql_result(t, "order_status", &r, rc);
}

/* Stock-Level (clause 2.8.2) at read committed, which the clause allows:
 * the district's next order id, then the distinct items of its last 20
 * orders whose stock is below the threshold. PostgreSQL gets the usual
 * range join; Hobbes' planner binds join keys only by equality (a range on
 * ol_o_id would read the district's every line), so it gets one join per
 * order, all in one message (the answer, the items' distinct count, is
 * not displayed). */
tpcc_out_t
tpcc_sql_stock_level(tpcc_term_t *t, int threshold)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT d_next_o_id FROM district WHERE d_w_id = %u AND d_id = %u", t->w,
             t->d);
    tpcc_res_t r;
    int rc = tpcc_db_exec(&t->db, sql, &r);
    int64_t o = rc == 0 ? tpcc_cell_i64(&r, -1, 0, 0) : 0;
    if (rc != 0 || !o) {
        if (rc == 0)
            tpcc_note_err(t, "stock_level", "02000", "no such district");
        return rc ? s_sql_result(t, "stock_level", &r, rc)
                  : (tpcc_res_free(&r), TPCC_OUT_FAIL);
    }
    tpcc_res_free(&r);
    tpcc_buf_t b = {0};
    if (t->db.pg) {
        tpcc_bprintf(
            &b,
            "SELECT count(DISTINCT s_i_id) FROM order_line, stock WHERE ol_w_id = %u AND "
            "ol_d_id = %u AND ol_o_id < %" PRId64 " AND ol_o_id >= %" PRId64
            " AND s_w_id = %u AND s_i_id = ol_i_id AND s_quantity < %d",
            t->w, t->d, o, o - 20, t->w, threshold);
    } else {
        for (int64_t x = o - 20; x < o; x++)
            tpcc_bprintf(&b,
                         "SELECT s_i_id FROM order_line, stock WHERE ol_w_id = %u AND "
                         "ol_d_id = %u "
                         "AND ol_o_id = %" PRId64
                         " AND s_w_id = %u AND s_i_id = ol_i_id AND "
                         "s_quantity < %d;",
                         t->w, t->d, x, t->w, threshold);
    }
    rc = tpcc_db_exec(&t->db, b.p, &r);
    free(b.p);
    return s_sql_result(t, "stock_level", &r, rc);
}

tpcc_out_t
tpcc_sql_delivery(tpcc_term_t *t, int carrier)
{
    tpcc_buf_t b = {0};
    for (int d = 1; d <= TPCC_DIST; d++)
        tpcc_bprintf(
            &b,
            "SELECT no_o_id FROM new_order WHERE no_w_id = %u AND no_d_id = %d ORDER BY "
            "no_o_id LIMIT 1;",
            t->w, d);
    tpcc_res_t r;
    int rc = tpcc_db_exec(&t->db, b.p, &r);
    int64_t o[TPCC_DIST + 1] = {0}, c[TPCC_DIST + 1] = {0}, cents[TPCC_DIST + 1] = {0};
    if (rc == 0 && r.nsets != TPCC_DIST) {
        tpcc_note_err(t, "delivery", "XX000", "wrong number of results");
        rc = -1;
    }
    for (int d = 1; rc == 0 && d <= TPCC_DIST; d++)
        o[d] = tpcc_nrows(&r, d - 1) ? tpcc_cell_i64(&r, d - 1, 0, 0) : 0;
    tpcc_out_t out = rc ? s_sql_result(t, "delivery", &r, rc) : TPCC_OUT_OK;
    tpcc_res_free(&r);
    if (out != TPCC_OUT_OK)
        goto done;
    tpcc_bclear(&b);
    for (int d = 1; d <= TPCC_DIST; d++)
        if (o[d])
            tpcc_bprintf(
                &b,
                "SELECT o_c_id FROM orders WHERE o_w_id = %u AND o_d_id = %d AND o_id = "
                "%" PRId64
                "; SELECT sum(ol_amount) FROM order_line WHERE ol_w_id = %u AND "
                "ol_d_id = %d AND ol_o_id = %" PRId64 ";",
                t->w, d, o[d], t->w, d, o[d]);
    if (b.len) {
        rc = tpcc_db_exec(&t->db, b.p, &r);
        int k = 0;
        for (int d = 1; rc == 0 && d <= TPCC_DIST; d++)
            if (o[d]) {
                c[d] = tpcc_cell_i64(&r, k, 0, 0);
                cents[d] = tpcc_cell_cents(&r, k + 1, 0, 0);
                k += 2;
            }
        out = rc ? s_sql_result(t, "delivery", &r, rc) : TPCC_OUT_OK;
        tpcc_res_free(&r);
        if (out != TPCC_OUT_OK)
            goto done;
    }
    tpcc_bclear(&b);
    if (t->db.pg)
        tpcc_bprintf(&b, "BEGIN ISOLATION LEVEL REPEATABLE READ; ");
    tpcc_bprintf(&b, "CALL delivery(%u, %d", t->w, carrier);
    for (int d = 1; d <= TPCC_DIST; d++)
        tpcc_bprintf(&b, ", %" PRId64 ", %" PRId64 ", %" PRId64 ".%02d", o[d], c[d],
                     cents[d] / 100, (int)(llabs(cents[d]) % 100));
    tpcc_bprintf(&b, ")%s", t->db.pg ? "; COMMIT" : "");
    rc = tpcc_db_exec(&t->db, b.p, &r);
    if (rc != 0 && strcmp(r.state, "22012") == 0) { /* stale: read again */
        out = TPCC_OUT_RETRY;
        tpcc_res_free(&r);
    } else {
        out = s_sql_result(t, "delivery", &r, rc);
    }
    if (rc != 0 && t->db.pg) {
        tpcc_db_exec(&t->db, "ROLLBACK", &r);
        tpcc_res_free(&r);
    }
done:
    free(b.p);
    return out;
}
