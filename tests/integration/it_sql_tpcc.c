/* it_sql_tpcc.c — TPC-C-like New-Order and Payment as SQL procedures, run
 * from 8 sessions against a real 1 x 3 cluster, then TPC-C's consistency
 * conditions 1-4 and exact bookkeeping.
 *
 * The schema is TPC-C's, cut to the columns the conditions read, with the
 * warehouse id as every table's partition key. New-Order takes five items,
 * each from a supply warehouse that is remote 10% of the time (a
 * multi-partition transaction); Payment pays for a customer of a remote
 * warehouse 15% of the time. Both read what they wrote (INSERT ...
 * SELECT of the district's next order id, of the customer's payment
 * count), so concurrent calls on one district conflict: sqlfront re-runs
 * them, and a call that still fails answers 40001 and is not counted.
 *
 * Checks: (1) W_YTD = sum(D_YTD) per warehouse; (2) D_NEXT_O_ID - 1 =
 * max(O_ID) = max(NO_O_ID) per district; (3) max(NO_O_ID) - min(NO_O_ID) +
 * 1 = count(NEW_ORDER) per district; (4) sum(O_OL_CNT) = count(ORDER_LINE)
 * per district; and exactly one ORDERS row per committed New-Order, one
 * HISTORY row per committed Payment, whose amounts add up to the
 * warehouses' and the customers' balance changes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_util.h"
#include "hobbes.h"
#include "it_util.h"

#define W        2
#define D        4
#define C        20
#define ITEMS    50
#define SESSIONS 8
#define TXNS     30

static const char *s_config;
static uint64_t s_seed;
static atomic_llong s_neworders, s_payments, s_conflicts, s_cents;

/* Runs a query and returns its result (caller frees); must succeed. */
static hb_sql_result_t *
s_query(hb_sql_t *db, const char *sql)
{
    hb_sql_result_t *res = it_sql(db, sql);
    IT_CHECK(res && strcmp(it_sql_last(res)->sqlstate, "00000") == 0,
             "query failed: %s: %s", sql, res ? it_sql_last(res)->message : "no answer");
    return res;
}

/* Numeric cells come back as text, integers as integers. */
static long long
s_cents_of(const hb_val_t *v)
{
    if (v->type == HB_VAL_INT)
        return v->u.i * 100;
    IT_CHECK(v->type == HB_VAL_STR, "numeric cell");
    double d = atof((const char *)v->u.s.ptr);
    return (long long)(d * 100 + (d < 0 ? -0.5 : 0.5));
}

static long long
s_int_of(const hb_val_t *v)
{
    return v->type == HB_VAL_INT   ? v->u.i
           : v->type == HB_VAL_NIL ? -1
                                   : atoll((const char *)v->u.s.ptr);
}

static void *
s_session(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = s_seed * 7 + (uint64_t)id + 1;
    char err[256], sql[1024];
    hb_sql_t *db = hb_sql_connect(s_config, 0, err, sizeof err);
    IT_CHECK(db, "connect: %s", err);
    for (int t = 0; t < TXNS; t++) {
        int w = 1 + (int)(hb_xorshift(&rng) % W), d = 1 + (int)(hb_xorshift(&rng) % D);
        bool neworder = hb_xorshift(&rng) % 100 < 55;
        long long cents = 0;
        if (neworder) {
            int c = 1 + (int)(hb_xorshift(&rng) % C);
            int off = snprintf(sql, sizeof sql, "CALL new_order(%d, %d, %d", w, d, c);
            for (int k = 0; k < 5; k++) {
                int item = 1 + (int)(hb_xorshift(&rng) % ITEMS);
                int sw = hb_xorshift(&rng) % 100 < 10 ? 1 + (w % W) : w;
                int q = 1 + (int)(hb_xorshift(&rng) % 10);
                off += snprintf(sql + off, sizeof sql - (size_t)off, ", %d, %d, %d", item,
                                sw, q);
            }
            snprintf(sql + off, sizeof sql - (size_t)off, ")");
        } else {
            int cw = hb_xorshift(&rng) % 100 < 15 ? 1 + (w % W) : w;
            int cd = 1 + (int)(hb_xorshift(&rng) % D),
                c = 1 + (int)(hb_xorshift(&rng) % C);
            cents = 100 + (long long)(hb_xorshift(&rng) % 500000);
            snprintf(sql, sizeof sql, "CALL payment(%d, %d, %d, %d, %d, %lld.%02lld)", w,
                     d, cw, cd, c, cents / 100, cents % 100);
        }
        hb_sql_result_t *res = it_sql(db, sql);
        IT_CHECK(res, "no answer: %s", hb_sql_last_error(db));
        const hb_sql_result_t *l = it_sql_last(res);
        if (strcmp(l->sqlstate, "40001") == 0) {
            s_conflicts++;
        } else {
            IT_CHECK(strcmp(l->sqlstate, "00000") == 0 && strcmp(l->tag, "CALL") == 0,
                     "%s failed: %s %s", sql, l->sqlstate, l->message);
            if (neworder) {
                s_neworders++;
            } else {
                s_payments++;
                s_cents += cents;
            }
        }
        hb_sql_result_free(&res);
    }
    hb_sql_destroy(&db);
    return NULL;
}

static const char *const s_schema[] = {
    "CREATE TABLE warehouse (w_id int PRIMARY KEY, w_ytd numeric(12,2) NOT NULL)",
    "CREATE TABLE district (d_w_id int, d_id int, d_ytd numeric(12,2) NOT NULL, "
    "d_next_o_id int NOT NULL, PRIMARY KEY (d_w_id, d_id)) PARTITION BY HASH (d_w_id)",
    "CREATE TABLE customer (c_w_id int, c_d_id int, c_id int, c_balance numeric(12,2) "
    "NOT NULL, "
    "c_ytd_payment numeric(12,2) NOT NULL, c_payment_cnt int NOT NULL, "
    "PRIMARY KEY (c_w_id, c_d_id, c_id)) PARTITION BY HASH (c_w_id)",
    "CREATE TABLE history (h_c_w_id int, h_c_d_id int, h_c_id int, h_seq int, h_w_id "
    "int, "
    "h_d_id int, h_amount numeric(8,2) NOT NULL, "
    "PRIMARY KEY (h_c_w_id, h_c_d_id, h_c_id, h_seq)) PARTITION BY HASH (h_c_w_id)",
    "CREATE TABLE orders (o_w_id int, o_d_id int, o_id int, o_c_id int NOT NULL, "
    "o_ol_cnt int NOT NULL, o_entry_d timestamp DEFAULT CURRENT_TIMESTAMP, "
    "PRIMARY KEY (o_w_id, o_d_id, o_id)) PARTITION BY HASH (o_w_id)",
    "CREATE TABLE new_order (no_w_id int, no_d_id int, no_o_id int, "
    "PRIMARY KEY (no_w_id, no_d_id, no_o_id)) PARTITION BY HASH (no_w_id)",
    "CREATE TABLE order_line (ol_w_id int, ol_d_id int, ol_o_id int, ol_number int, "
    "ol_i_id int NOT NULL, ol_supply_w_id int NOT NULL, ol_quantity int NOT NULL, "
    "ol_amount numeric(8,2) NOT NULL, "
    "PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number)) PARTITION BY HASH (ol_w_id)",
    "CREATE TABLE stock (s_w_id int, s_i_id int, s_quantity int NOT NULL, s_ytd int NOT "
    "NULL, "
    "s_order_cnt int NOT NULL, s_remote_cnt int NOT NULL, PRIMARY KEY (s_w_id, s_i_id)) "
    "PARTITION BY HASH (s_w_id)",
    "CREATE PROCEDURE new_order(w int, d int, c int, "
    "i1 int, sw1 int, q1 int, i2 int, sw2 int, q2 int, i3 int, sw3 int, q3 int, "
    "i4 int, sw4 int, q4 int, i5 int, sw5 int, q5 int) LANGUAGE SQL AS $$\n"
    "  UPDATE district SET d_next_o_id = d_next_o_id + 1 WHERE d_w_id = w AND d_id = d;\n"
    "  INSERT INTO orders (o_w_id, o_d_id, o_id, o_c_id, o_ol_cnt)\n"
    "    SELECT w, d, d_next_o_id - 1, c, 5 FROM district WHERE d_w_id = w AND d_id = "
    "d;\n"
    "  INSERT INTO new_order SELECT w, d, d_next_o_id - 1 FROM district\n"
    "    WHERE d_w_id = w AND d_id = d;\n"
    "  UPDATE stock SET s_quantity = CASE WHEN s_quantity >= q1 + 10 THEN s_quantity - "
    "q1\n"
    "    ELSE s_quantity - q1 + 91 END, s_ytd = s_ytd + q1, s_order_cnt = s_order_cnt + "
    "1,\n"
    "    s_remote_cnt = s_remote_cnt + CASE WHEN sw1 <> w THEN 1 ELSE 0 END\n"
    "    WHERE s_w_id = sw1 AND s_i_id = i1;\n"
    "  UPDATE stock SET s_quantity = CASE WHEN s_quantity >= q2 + 10 THEN s_quantity - "
    "q2\n"
    "    ELSE s_quantity - q2 + 91 END, s_ytd = s_ytd + q2, s_order_cnt = s_order_cnt + "
    "1\n"
    "    WHERE s_w_id = sw2 AND s_i_id = i2;\n"
    "  UPDATE stock SET s_quantity = CASE WHEN s_quantity >= q3 + 10 THEN s_quantity - "
    "q3\n"
    "    ELSE s_quantity - q3 + 91 END, s_ytd = s_ytd + q3, s_order_cnt = s_order_cnt + "
    "1\n"
    "    WHERE s_w_id = sw3 AND s_i_id = i3;\n"
    "  UPDATE stock SET s_quantity = CASE WHEN s_quantity >= q4 + 10 THEN s_quantity - "
    "q4\n"
    "    ELSE s_quantity - q4 + 91 END, s_ytd = s_ytd + q4, s_order_cnt = s_order_cnt + "
    "1\n"
    "    WHERE s_w_id = sw4 AND s_i_id = i4;\n"
    "  UPDATE stock SET s_quantity = CASE WHEN s_quantity >= q5 + 10 THEN s_quantity - "
    "q5\n"
    "    ELSE s_quantity - q5 + 91 END, s_ytd = s_ytd + q5, s_order_cnt = s_order_cnt + "
    "1\n"
    "    WHERE s_w_id = sw5 AND s_i_id = i5;\n"
    "  INSERT INTO order_line SELECT w, d, d_next_o_id - 1, 1, i1, sw1, q1, q1 * 1.25\n"
    "    FROM district WHERE d_w_id = w AND d_id = d;\n"
    "  INSERT INTO order_line SELECT w, d, d_next_o_id - 1, 2, i2, sw2, q2, q2 * 1.25\n"
    "    FROM district WHERE d_w_id = w AND d_id = d;\n"
    "  INSERT INTO order_line SELECT w, d, d_next_o_id - 1, 3, i3, sw3, q3, q3 * 1.25\n"
    "    FROM district WHERE d_w_id = w AND d_id = d;\n"
    "  INSERT INTO order_line SELECT w, d, d_next_o_id - 1, 4, i4, sw4, q4, q4 * 1.25\n"
    "    FROM district WHERE d_w_id = w AND d_id = d;\n"
    "  INSERT INTO order_line SELECT w, d, d_next_o_id - 1, 5, i5, sw5, q5, q5 * 1.25\n"
    "    FROM district WHERE d_w_id = w AND d_id = d;\n"
    "$$",
    "CREATE PROCEDURE payment(w int, d int, cw int, cd int, c int, amount numeric(8,2)) "
    "LANGUAGE SQL AS $$\n"
    "  UPDATE warehouse SET w_ytd = w_ytd + amount WHERE w_id = w;\n"
    "  UPDATE district SET d_ytd = d_ytd + amount WHERE d_w_id = w AND d_id = d;\n"
    "  UPDATE customer SET c_balance = c_balance - amount,\n"
    "    c_ytd_payment = c_ytd_payment + amount, c_payment_cnt = c_payment_cnt + 1\n"
    "    WHERE c_w_id = cw AND c_d_id = cd AND c_id = c;\n"
    "  INSERT INTO history SELECT c_w_id, c_d_id, c_id, c_payment_cnt, w, d, amount\n"
    "    FROM customer WHERE c_w_id = cw AND c_d_id = cd AND c_id = c;\n"
    "$$",
};

int
main(int argc, char **argv)
{
    IT_CHECK(argc >= 2, "usage: it_sql_tpcc BUILD_ROOT");
    s_seed = hb_test_seed("it_sql_tpcc");
    it_cluster_t cl;
    IT_CHECK(it_cluster_init_sql(&cl, argv[1], 1, 3, "calvin", 5) == 0, "init");
    IT_CHECK(it_cluster_up(&cl) == 0, "cluster up");
    s_config = cl.config;
    char err[256];
    static char sql[65536];
    hb_sql_t *db = hb_sql_connect(cl.config, 0, err, sizeof err);
    IT_CHECK(db, "connect: %s", err);
    for (size_t i = 0; i < sizeof s_schema / sizeof *s_schema; i++)
        it_sql_ok(db, s_schema[i]);
    for (int w = 1; w <= W; w++) {
        snprintf(sql, sizeof sql, "INSERT INTO warehouse VALUES (%d, 300000.00)", w);
        it_sql_ok(db, sql);
        for (int d = 1; d <= D; d++) {
            snprintf(sql, sizeof sql, "INSERT INTO district VALUES (%d, %d, 30000.00, 1)",
                     w, d);
            it_sql_ok(db, sql);
            size_t off =
                (size_t)snprintf(sql, sizeof sql, "INSERT INTO customer VALUES ");
            for (int c = 1; c <= C; c++)
                off += (size_t)snprintf(sql + off, sizeof sql - off,
                                        "%s(%d, %d, %d, -10.00, 10.00, 1)",
                                        c > 1 ? ", " : "", w, d, c);
            it_sql_ok(db, sql);
        }
        size_t off = (size_t)snprintf(sql, sizeof sql, "INSERT INTO stock VALUES ");
        for (int i = 1; i <= ITEMS; i++)
            off += (size_t)snprintf(sql + off, sizeof sql - off,
                                    "%s(%d, %d, 50, 0, 0, 0)", i > 1 ? ", " : "", w, i);
        it_sql_ok(db, sql);
    }

    pthread_t th[SESSIONS];
    for (int i = 0; i < SESSIONS; i++)
        pthread_create(&th[i], NULL, s_session, (void *)(intptr_t)i);
    for (int i = 0; i < SESSIONS; i++)
        pthread_join(th[i], NULL);
    printf("%lld New-Orders, %lld Payments committed, %lld answered 40001, %lld re-runs "
           "inside sqlfront\n",
           (long long)s_neworders, (long long)s_payments, (long long)s_conflicts,
           it_status_int(&cl, 4, 0, 0, "sql_block_retries"));
    IT_CHECK(s_neworders > 0 && s_payments > 0, "nothing committed");

    /* Condition 1: W_YTD = sum(D_YTD). */
    long long paid = 0;
    for (int w = 1; w <= W; w++) {
        snprintf(sql, sizeof sql, "SELECT w_ytd FROM warehouse WHERE w_id = %d", w);
        hb_sql_result_t *a = s_query(db, sql);
        snprintf(sql, sizeof sql, "SELECT sum(d_ytd) FROM district WHERE d_w_id = %d", w);
        hb_sql_result_t *b = s_query(db, sql);
        long long wy = s_cents_of(&a->cells[0]), dy = s_cents_of(&b->cells[0]);
        IT_CHECK(wy - 30000000LL == dy - D * 3000000LL,
                 "condition 1, warehouse %d: w_ytd %lld, sum(d_ytd) %lld (cents)", w, wy,
                 dy);
        paid += wy - 30000000LL;
        hb_sql_result_free(&a);
        hb_sql_result_free(&b);
    }
    IT_CHECK(paid == s_cents, "warehouses got %lld cents, committed payments %lld", paid,
             (long long)s_cents);

    /* Conditions 2-4, per district. */
    long long orders = 0;
    for (int w = 1; w <= W; w++) {
        for (int d = 1; d <= D; d++) {
            snprintf(
                sql, sizeof sql,
                "SELECT d_next_o_id FROM district WHERE d_w_id = %d AND d_id = %d; "
                "SELECT max(o_id), count(*), sum(o_ol_cnt) FROM orders "
                "WHERE o_w_id = %d AND o_d_id = %d; "
                "SELECT max(no_o_id), min(no_o_id), count(*) FROM new_order "
                "WHERE no_w_id = %d AND no_d_id = %d; "
                "SELECT count(*) FROM order_line WHERE ol_w_id = %d AND ol_d_id = %d",
                w, d, w, d, w, d, w, d);
            hb_sql_result_t *res = s_query(db, sql);
            const hb_sql_result_t *r1 = res, *r2 = r1->next, *r3 = r2->next,
                                  *r4 = r3->next;
            long long next = s_int_of(&r1->cells[0]);
            long long maxo = s_int_of(&r2->cells[0]), cnto = s_int_of(&r2->cells[1]);
            long long olcnt = s_int_of(&r2->cells[2]);
            long long maxno = s_int_of(&r3->cells[0]), minno = s_int_of(&r3->cells[1]);
            long long cntno = s_int_of(&r3->cells[2]), cntol = s_int_of(&r4->cells[0]);
            if (cnto > 0) {
                IT_CHECK(next - 1 == maxo && maxo == maxno,
                         "condition 2, w %d d %d: d_next_o_id %lld, max(o_id) %lld, "
                         "max(no_o_id) %lld",
                         w, d, next, maxo, maxno);
                IT_CHECK(maxno - minno + 1 == cntno,
                         "condition 3, w %d d %d: max %lld min %lld count %lld", w, d,
                         maxno, minno, cntno);
                IT_CHECK(olcnt == cntol,
                         "condition 4, w %d d %d: sum(o_ol_cnt) %lld, "
                         "order lines %lld",
                         w, d, olcnt, cntol);
            } else {
                IT_CHECK(next == 1 && cntno == 0 && cntol == 0,
                         "empty district w %d d %d", w, d);
            }
            IT_CHECK(cnto == next - 1, "w %d d %d: %lld orders, ids up to %lld", w, d,
                     cnto, next - 1);
            orders += cnto;
            hb_sql_result_free(&res);
        }
    }
    IT_CHECK(orders == s_neworders, "%lld orders for %lld committed New-Orders", orders,
             (long long)s_neworders);

    /* Payments: one history row each; customers paid exactly that. */
    hb_sql_result_t *h = s_query(db, "SELECT count(*), sum(h_amount) FROM history");
    IT_CHECK(s_int_of(&h->cells[0]) == s_payments, "%lld history rows for %lld payments",
             s_int_of(&h->cells[0]), (long long)s_payments);
    IT_CHECK(s_cents_of(&h->cells[1]) == s_cents, "history sums to %lld cents, want %lld",
             s_cents_of(&h->cells[1]), (long long)s_cents);
    hb_sql_result_free(&h);
    h = s_query(db, "SELECT sum(c_balance), sum(c_ytd_payment), sum(c_payment_cnt) FROM "
                    "customer");
    long long ncust = (long long)W * D * C;
    IT_CHECK(s_cents_of(&h->cells[0]) == -1000 * ncust - s_cents, "customer balances");
    IT_CHECK(s_cents_of(&h->cells[1]) == 1000 * ncust + s_cents, "customer ytd payments");
    IT_CHECK(s_int_of(&h->cells[2]) == ncust + s_payments, "customer payment counts");
    hb_sql_result_free(&h);
    h = s_query(db, "SELECT sum(s_order_cnt) FROM stock");
    IT_CHECK(s_int_of(&h->cells[0]) == 5 * s_neworders,
             "stock order counts %lld, want %lld", s_int_of(&h->cells[0]),
             (long long)(5 * s_neworders));
    hb_sql_result_free(&h);
    printf("TPC-C consistency conditions 1-4 hold; orders, history and stock agree\n");
    hb_sql_destroy(&db);
    it_cluster_cleanup(&cl);
    return 0;
}
