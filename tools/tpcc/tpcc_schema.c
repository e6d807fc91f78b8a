/* tpcc_schema.c — the TPC-C tables, indexes and SQL procedures.
 *
 * The schema of docs/tpcc.md: TPC-C's tables with the warehouse id as
 * every table's partition key (PARTITION BY HASH, Hobbes only), the two
 * secondary indexes the by-name and newest-order lookups use, and the
 * table tpcc_meta that keeps the load's warehouses and C values. The SQL
 * procedures new_order_5..new_order_15, payment and delivery are created
 * with the same text on Hobbes and PostgreSQL; --impl sql calls them.
 *
 * Entry points: tpcc_create_schema; tpcc_tables (the table names, also
 * looked up in the catalog by tpcc_native.c).
 */
#include "tpcc_int.h"

#include <stdio.h>
#include <stdlib.h>

const char *const tpcc_tables[TPCC_NTABLES] = {
    "warehouse", "district",   "customer", "history", "new_order",
    "orders",    "order_line", "item",     "stock",   "tpcc_meta"};

/* The DDL, with " PARTITION BY HASH (col)" only for Hobbes. */
static void
s_ddl(bool hobbes, int idx, char *out, size_t cap)
{
    static const char *const body[] = {
        "warehouse (w_id int, w_name varchar(10), w_street_1 varchar(20), w_street_2 "
        "varchar(20), w_city varchar(20), w_state varchar(2), w_zip varchar(9), w_tax "
        "numeric(4,4), w_ytd numeric(12,2), PRIMARY KEY (w_id))",
        "district (d_w_id int, d_id int, d_name varchar(10), d_street_1 varchar(20), "
        "d_street_2 varchar(20), d_city varchar(20), d_state varchar(2), d_zip "
        "varchar(9), "
        "d_tax numeric(4,4), d_ytd numeric(12,2), d_next_o_id int, PRIMARY KEY (d_w_id, "
        "d_id))",
        "customer (c_w_id int, c_d_id int, c_id int, c_first varchar(16), c_middle "
        "varchar(2), c_last varchar(16), c_street_1 varchar(20), c_street_2 varchar(20), "
        "c_city varchar(20), c_state varchar(2), c_zip varchar(9), c_phone varchar(16), "
        "c_since timestamp, c_credit varchar(2), c_credit_lim numeric(12,2), c_discount "
        "numeric(4,4), c_balance numeric(12,2), c_ytd_payment numeric(12,2), "
        "c_payment_cnt "
        "int, c_delivery_cnt int, c_data varchar(500), PRIMARY KEY (c_w_id, c_d_id, "
        "c_id))",
        "history (h_c_w_id int, h_c_d_id int, h_c_id int, h_seq int, h_d_id int, h_w_id "
        "int, "
        "h_date timestamp, h_amount numeric(6,2), h_data varchar(24), "
        "PRIMARY KEY (h_c_w_id, h_c_d_id, h_c_id, h_seq))",
        "new_order (no_w_id int, no_d_id int, no_o_id int, PRIMARY KEY (no_w_id, "
        "no_d_id, "
        "no_o_id))",
        "orders (o_w_id int, o_d_id int, o_id int, o_c_id int, o_entry_d timestamp, "
        "o_carrier_id int, o_ol_cnt int, o_all_local int, PRIMARY KEY (o_w_id, o_d_id, "
        "o_id))",
        "order_line (ol_w_id int, ol_d_id int, ol_o_id int, ol_number int, ol_i_id int, "
        "ol_supply_w_id int, ol_delivery_d timestamp, ol_quantity int, ol_amount "
        "numeric(6,2), ol_dist_info varchar(24), PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, "
        "ol_number))",
        "item (i_id int, i_im_id int, i_name varchar(24), i_price numeric(5,2), i_data "
        "varchar(50), PRIMARY KEY (i_id))",
        "stock (s_w_id int, s_i_id int, s_quantity int, s_dist_01 varchar(24), s_dist_02 "
        "varchar(24), s_dist_03 varchar(24), s_dist_04 varchar(24), s_dist_05 "
        "varchar(24), "
        "s_dist_06 varchar(24), s_dist_07 varchar(24), s_dist_08 varchar(24), s_dist_09 "
        "varchar(24), s_dist_10 varchar(24), s_ytd int, s_order_cnt int, s_remote_cnt "
        "int, "
        "s_data varchar(50), PRIMARY KEY (s_w_id, s_i_id))",
        "tpcc_meta (id int PRIMARY KEY, warehouses int, c_last int, c_id int, i_id int)",
    };
    static const char *const part[] = {NULL,      "d_w_id", "c_w_id",  "h_c_w_id",
                                       "no_w_id", "o_w_id", "ol_w_id", NULL,
                                       "s_w_id",  NULL};
    int n = snprintf(out, cap, "CREATE TABLE %s", body[idx]);
    if (hobbes && part[idx])
        snprintf(out + n, cap - (size_t)n, " PARTITION BY HASH (%s)", part[idx]);
}

static const char *const s_indexes[] = {
    "CREATE INDEX customer_name ON customer (c_w_id, c_d_id, c_last, c_first)",
    "CREATE INDEX orders_customer ON orders (o_w_id, o_d_id, o_c_id)",
};

/* new_order_N(w, d, c, all_local, i1, sw1, q1, ..., iN, swN, qN): clause
 * 2.4.2. The first statement divides by zero (22012) when the last item
 * is unused: the 1% rollback, before anything is written. */
static void
s_proc_new_order(tpcc_buf_t *b, int n)
{
    tpcc_bprintf(b, "CREATE PROCEDURE new_order_%d(w int, d int, c int, all_local int",
                 n);
    for (int k = 1; k <= n; k++)
        tpcc_bprintf(b, ", i%d int, sw%d int, q%d int", k, k, k);
    tpcc_bprintf(
        b,
        ") LANGUAGE SQL AS $$\n"
        "SELECT 1 / count(*) FROM item WHERE i_id = i%d;\n"
        "SELECT c_discount, c_last, c_credit FROM customer WHERE c_w_id = w AND c_d_id = "
        "d "
        "AND c_id = c;\n"
        "SELECT w_tax FROM warehouse WHERE w_id = w;\n"
        "UPDATE district SET d_next_o_id = d_next_o_id + 1 WHERE d_w_id = w AND d_id = "
        "d;\n"
        "INSERT INTO orders (o_w_id, o_d_id, o_id, o_c_id, o_entry_d, o_carrier_id, "
        "o_ol_cnt, o_all_local) SELECT w, d, d_next_o_id - 1, c, CURRENT_TIMESTAMP, "
        "NULL, "
        "%d, all_local FROM district WHERE d_w_id = w AND d_id = d;\n"
        "INSERT INTO new_order (no_w_id, no_d_id, no_o_id) SELECT w, d, d_next_o_id - 1 "
        "FROM district WHERE d_w_id = w AND d_id = d;\n",
        n, n);
    for (int k = 1; k <= n; k++) {
        tpcc_bprintf(
            b,
            "UPDATE stock SET s_quantity = CASE WHEN s_quantity >= q%d + 10 THEN "
            "s_quantity - q%d ELSE s_quantity - q%d + 91 END, s_ytd = s_ytd + q%d, "
            "s_order_cnt = s_order_cnt + 1, s_remote_cnt = s_remote_cnt + CASE WHEN sw%d "
            "<> w THEN 1 ELSE 0 END WHERE s_w_id = sw%d AND s_i_id = i%d;\n",
            k, k, k, k, k, k, k);
        tpcc_bprintf(
            b,
            "INSERT INTO order_line (ol_w_id, ol_d_id, ol_o_id, ol_number, ol_i_id, "
            "ol_supply_w_id, ol_delivery_d, ol_quantity, ol_amount, ol_dist_info) SELECT "
            "w, "
            "d, d_next_o_id - 1, %d, i%d, sw%d, NULL, q%d, q%d * i_price, CASE d",
            k, k, k, k, k);
        for (int dd = 1; dd <= TPCC_DIST; dd++)
            tpcc_bprintf(b, " WHEN %d THEN s_dist_%02d", dd, dd);
        tpcc_bprintf(b,
                     " END FROM district, item, stock WHERE d_w_id = w AND d_id = d AND "
                     "i_id = i%d "
                     "AND s_w_id = sw%d AND s_i_id = i%d;\n",
                     k, k, k);
    }
    tpcc_bprintf(b, "$$");
}

/* payment(w, d, cw, cd, c, amount): clause 2.5.2, by customer id (a
 * by-name payment looks the id up first). */
static void
s_proc_payment(tpcc_buf_t *b)
{
    tpcc_bprintf(
        b,
        "CREATE PROCEDURE payment(w int, d int, cw int, cd int, c int, amount "
        "numeric(6,2)) LANGUAGE SQL AS $$\n"
        "UPDATE warehouse SET w_ytd = w_ytd + amount WHERE w_id = w;\n"
        "UPDATE district SET d_ytd = d_ytd + amount WHERE d_w_id = w AND d_id = d;\n"
        "UPDATE customer SET c_balance = c_balance - amount, c_ytd_payment = "
        "c_ytd_payment + amount, c_payment_cnt = c_payment_cnt + 1, c_data = CASE WHEN "
        "c_credit = 'BC' THEN substr(CAST(c_id AS text) || ' ' || CAST(c_d_id AS text) "
        "|| "
        "' ' || CAST(c_w_id AS text) || ' ' || CAST(d AS text) || ' ' || CAST(w AS text) "
        "|| ' ' || CAST(amount AS text) || '|' || c_data, 1, 500) ELSE c_data END WHERE "
        "c_w_id = cw AND c_d_id = cd AND c_id = c;\n"
        "INSERT INTO history (h_c_w_id, h_c_d_id, h_c_id, h_seq, h_d_id, h_w_id, h_date, "
        "h_amount, h_data) SELECT c_w_id, c_d_id, c_id, c_payment_cnt, d, w, "
        "CURRENT_TIMESTAMP, amount, w_name || '    ' || d_name FROM customer, warehouse, "
        "district WHERE c_w_id = cw AND c_d_id = cd AND c_id = c AND w_id = w AND d_w_id "
        "= "
        "w AND d_id = d;\n"
        "$$");
}

/* delivery(w, carrier, o1, c1, a1, ..., o10, c10, a10): clause 2.7.4 for
 * the oldest new order od of each district as the harness saw it (0: none),
 * its customer cd and its lines' total ad. Each district first divides by
 * zero (22012) when that new order is gone: the reconnaissance is stale. */
static void
s_proc_delivery(tpcc_buf_t *b)
{
    tpcc_bprintf(b, "CREATE PROCEDURE delivery(w int, carrier int");
    for (int d = 1; d <= TPCC_DIST; d++)
        tpcc_bprintf(b, ", o%d int, c%d int, a%d numeric(12,2)", d, d, d);
    tpcc_bprintf(b, ") LANGUAGE SQL AS $$\n");
    for (int d = 1; d <= TPCC_DIST; d++)
        tpcc_bprintf(
            b,
            "SELECT 1 / (count(*) + CASE WHEN o%d = 0 THEN 1 ELSE 0 END) FROM new_order "
            "WHERE no_w_id = w AND no_d_id = %d AND no_o_id = o%d;\n"
            "DELETE FROM new_order WHERE no_w_id = w AND no_d_id = %d AND no_o_id = "
            "o%d;\n"
            "UPDATE orders SET o_carrier_id = carrier WHERE o_w_id = w AND o_d_id = %d "
            "AND "
            "o_id = o%d;\n"
            "UPDATE order_line SET ol_delivery_d = CURRENT_TIMESTAMP WHERE ol_w_id = w "
            "AND "
            "ol_d_id = %d AND ol_o_id = o%d;\n"
            "UPDATE customer SET c_balance = c_balance + a%d, c_delivery_cnt = "
            "c_delivery_cnt + 1 WHERE c_w_id = w AND c_d_id = %d AND c_id = c%d;\n",
            d, d, d, d, d, d, d, d, d, d, d, d);
    tpcc_bprintf(b, "$$");
}

int
tpcc_create_schema(tpcc_db_t *db, bool hobbes)
{
    tpcc_res_t r;
    char sql[2048];
    for (size_t i = 0; i < TPCC_NTABLES; i++) {
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", tpcc_tables[i]);
        if (tpcc_db_must(db, sql, &r) != 0)
            goto fail;
        tpcc_res_free(&r);
    }
    for (int n = 5; n <= 15; n++) {
        snprintf(sql, sizeof sql, "DROP PROCEDURE IF EXISTS new_order_%d", n);
        tpcc_db_exec(db, sql, &r); /* absent is fine */
        tpcc_res_free(&r);
    }
    tpcc_db_exec(db, "DROP PROCEDURE IF EXISTS payment", &r);
    tpcc_res_free(&r);
    tpcc_db_exec(db, "DROP PROCEDURE IF EXISTS delivery", &r);
    tpcc_res_free(&r);
    for (size_t i = 0; i < TPCC_NTABLES; i++) {
        s_ddl(hobbes, (int)i, sql, sizeof sql);
        if (tpcc_db_must(db, sql, &r) != 0)
            goto fail;
        tpcc_res_free(&r);
    }
    for (size_t i = 0; i < sizeof s_indexes / sizeof s_indexes[0]; i++) {
        if (tpcc_db_must(db, s_indexes[i], &r) != 0)
            goto fail;
        tpcc_res_free(&r);
    }
    tpcc_buf_t b = {0};
    for (int n = 5; n <= 16; n++) {
        tpcc_bclear(&b);
        if (n <= 15)
            s_proc_new_order(&b, n);
        else
            s_proc_payment(&b);
        if (tpcc_db_must(db, b.p, &r) != 0) {
            free(b.p);
            goto fail;
        }
        tpcc_res_free(&r);
    }
    tpcc_bclear(&b);
    s_proc_delivery(&b);
    int rc = tpcc_db_must(db, b.p, &r);
    free(b.p);
    tpcc_res_free(&r);
    return rc;
fail:
    tpcc_res_free(&r);
    return -1;
}
