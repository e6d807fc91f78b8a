/* tpcc_check.c — `hobbes-bench tpcc check`: TPC-C consistency, clause 3.3.2.
 *
 * Checks conditions 1-5 and 7-9 of clause 3.3.2 in SQL, on Hobbes or
 * PostgreSQL alike: it reads per-warehouse and per-district aggregates
 * (warehouse-wide ones once, the rest warehouse by warehouse so no one
 * statement scans everything) into arrays indexed by (w, d), then
 * compares them and prints each condition with its number of violations
 * and the first one. Exit code 0 when every condition holds.
 *
 * Entry point: tpcc_check.
 */
#include "tpcc_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WD(w, d) ((size_t)(w) * (TPCC_DIST + 1) + (size_t)(d))

/* Runs a query whose rows are (w, d, value...) or (w, value...) and stores
 * column vcol of each row (as cents when cents) into arr at (w, d). */
static int
s_chk_fill(tpcc_db_t *db, const char *sql, bool with_d, uint32_t vcol, bool cents,
           uint32_t nw, int64_t *arr)
{
    tpcc_res_t r;
    if (tpcc_db_must(db, sql, &r) != 0) {
        tpcc_res_free(&r);
        return -1;
    }
    for (uint32_t i = 0; i < tpcc_nrows(&r, -1); i++) {
        int64_t w = tpcc_cell_i64(&r, -1, i, 0),
                d = with_d ? tpcc_cell_i64(&r, -1, i, 1) : 0;
        if (w < 1 || w > nw || d < 0 || d > TPCC_DIST)
            continue;
        arr[S_WD(w, d)] =
            cents ? tpcc_cell_cents(&r, -1, i, vcol) : tpcc_cell_i64(&r, -1, i, vcol);
    }
    tpcc_res_free(&r);
    return 0;
}

/* The per-(w, d) arrays the conditions compare. */
enum {
    W_YTD,
    D_YTD_SUM,
    D_YTD,
    NEXT,
    MAX_O,
    NO_MAX,
    NO_MIN,
    NO_CNT,
    OL_SUM,
    OL_CNT,
    O_NULL,
    OL_NULL_WANT,
    OL_NULL,
    H_W,
    H_D,
    NARR
};

#define S_NCOND 8 /* conditions checked */

static const char *const s_what[S_NCOND] = {
    "1: W_YTD = sum(D_YTD)",
    "2: D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID)",
    "3: max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW_ORDER)",
    "4: sum(O_OL_CNT) = count(ORDER_LINE)",
    "5: count(O_CARRIER_ID IS NULL) = count(NEW_ORDER)",
    "7: count(OL_DELIVERY_D IS NULL) = sum(O_OL_CNT of undelivered orders)",
    "8: W_YTD = sum(H_AMOUNT) of the warehouse",
    "9: D_YTD = sum(H_AMOUNT) of the district",
};

/* Violations of each condition and the first one's description. */
typedef struct {
    uint32_t bad[S_NCOND];
    char first[S_NCOND][160];
} s_verdict_t;

/* Reads what the conditions need into a (warehouse-wide aggregates once,
 * the rest warehouse by warehouse). Returns 0, or nonzero when a query
 * failed (printed). */
static int
s_chk_gather(tpcc_db_t *db, uint32_t nw, int64_t *a[NARR])
{
    char sql[512];
    int rc = 0;
    rc |=
        s_chk_fill(db, "SELECT w_id, w_ytd FROM warehouse", false, 1, true, nw, a[W_YTD]);
    rc |= s_chk_fill(db, "SELECT d_w_id, d_id, d_ytd, d_next_o_id FROM district", true, 2,
                     true, nw, a[D_YTD]);
    rc |= s_chk_fill(db, "SELECT d_w_id, d_id, d_ytd, d_next_o_id FROM district", true, 3,
                     false, nw, a[NEXT]);
    rc |= s_chk_fill(
        db, "SELECT h_w_id, h_d_id, sum(h_amount) FROM history GROUP BY h_w_id, h_d_id",
        true, 2, true, nw, a[H_D]);
    for (uint32_t w = 1; w <= nw && rc == 0; w++) {
        snprintf(sql, sizeof sql,
                 "SELECT o_w_id, o_d_id, max(o_id), sum(o_ol_cnt) FROM orders WHERE "
                 "o_w_id = %u "
                 "GROUP BY o_w_id, o_d_id",
                 w);
        rc |= s_chk_fill(db, sql, true, 2, false, nw, a[MAX_O]);
        rc |= s_chk_fill(db, sql, true, 3, false, nw, a[OL_SUM]);
        snprintf(sql, sizeof sql,
                 "SELECT no_w_id, no_d_id, max(no_o_id), min(no_o_id), count(*) FROM "
                 "new_order "
                 "WHERE no_w_id = %u GROUP BY no_w_id, no_d_id",
                 w);
        rc |= s_chk_fill(db, sql, true, 2, false, nw, a[NO_MAX]);
        rc |= s_chk_fill(db, sql, true, 3, false, nw, a[NO_MIN]);
        rc |= s_chk_fill(db, sql, true, 4, false, nw, a[NO_CNT]);
        snprintf(sql, sizeof sql,
                 "SELECT ol_w_id, ol_d_id, count(*) FROM order_line WHERE ol_w_id = %u "
                 "GROUP BY "
                 "ol_w_id, ol_d_id",
                 w);
        rc |= s_chk_fill(db, sql, true, 2, false, nw, a[OL_CNT]);
        snprintf(sql, sizeof sql,
                 "SELECT o_w_id, o_d_id, count(*), sum(o_ol_cnt) FROM orders WHERE "
                 "o_w_id = %u "
                 "AND o_carrier_id IS NULL GROUP BY o_w_id, o_d_id",
                 w);
        rc |= s_chk_fill(db, sql, true, 2, false, nw, a[O_NULL]);
        rc |= s_chk_fill(db, sql, true, 3, false, nw, a[OL_NULL_WANT]);
        snprintf(
            sql, sizeof sql,
            "SELECT ol_w_id, ol_d_id, count(*) FROM order_line WHERE ol_w_id = %u AND "
            "ol_delivery_d IS NULL GROUP BY ol_w_id, ol_d_id",
            w);
        rc |= s_chk_fill(db, sql, true, 2, false, nw, a[OL_NULL]);
    }
    return rc;
}

#define S_BAD(i, ...)                                                                    \
    do {                                                                                 \
        if (!v->bad[i]++)                                                                \
            snprintf(v->first[i], sizeof v->first[i], __VA_ARGS__);                      \
    } while (0)

/* Judges the conditions of district d of warehouse w (index i of s_what:
 * condition numbers 2, 3, 4, 5, 7, 9). */
static void
s_judge_district(int64_t *const a[NARR], uint32_t w, uint32_t d, s_verdict_t *v)
{
    size_t s = S_WD(w, d);
    if (a[NEXT][s] - 1 != a[MAX_O][s] || (a[NO_CNT][s] && a[NO_MAX][s] != a[MAX_O][s]))
        S_BAD(1,
              "w %u d %u: next %" PRId64 ", max(o_id) %" PRId64 ", max(no_o_id) %" PRId64,
              w, d, a[NEXT][s], a[MAX_O][s], a[NO_MAX][s]);
    if (a[NO_CNT][s] && a[NO_MAX][s] - a[NO_MIN][s] + 1 != a[NO_CNT][s])
        S_BAD(2, "w %u d %u: max %" PRId64 " min %" PRId64 " count %" PRId64, w, d,
              a[NO_MAX][s], a[NO_MIN][s], a[NO_CNT][s]);
    if (a[OL_SUM][s] != a[OL_CNT][s])
        S_BAD(3, "w %u d %u: sum(o_ol_cnt) %" PRId64 ", order lines %" PRId64, w, d,
              a[OL_SUM][s], a[OL_CNT][s]);
    if (a[O_NULL][s] != a[NO_CNT][s])
        S_BAD(4, "w %u d %u: undelivered orders %" PRId64 ", new orders %" PRId64, w, d,
              a[O_NULL][s], a[NO_CNT][s]);
    if (a[OL_NULL][s] != a[OL_NULL_WANT][s])
        S_BAD(5, "w %u d %u: undelivered lines %" PRId64 ", want %" PRId64, w, d,
              a[OL_NULL][s], a[OL_NULL_WANT][s]);
    if (a[D_YTD][s] != a[H_D][s])
        S_BAD(7, "w %u d %u: d_ytd %" PRId64 " cents, history %" PRId64, w, d,
              a[D_YTD][s], a[H_D][s]);
}

/* Judges every condition of every warehouse and district into v. */
static void
s_judge(int64_t *const a[NARR], uint32_t nw, s_verdict_t *v)
{
    for (uint32_t w = 1; w <= nw; w++) {
        int64_t dsum = 0, hsum = 0;
        for (uint32_t d = 1; d <= TPCC_DIST; d++) {
            dsum += a[D_YTD][S_WD(w, d)];
            hsum += a[H_D][S_WD(w, d)];
            s_judge_district(a, w, d, v);
        }
        if (a[W_YTD][S_WD(w, 0)] != dsum)
            S_BAD(0, "w %u: w_ytd %" PRId64 " cents, sum(d_ytd) %" PRId64, w,
                  a[W_YTD][S_WD(w, 0)], dsum);
        if (a[W_YTD][S_WD(w, 0)] != hsum)
            S_BAD(6, "w %u: w_ytd %" PRId64 " cents, history %" PRId64, w,
                  a[W_YTD][S_WD(w, 0)], hsum);
    }
}

#undef S_BAD

/* Reads the loaded warehouses from tpcc_meta. Returns 0 or -1 (printed). */
static int
s_warehouses(tpcc_opts_t *o, tpcc_db_t *db, uint32_t *nw)
{
    tpcc_run_t *run = calloc(1, sizeof *run);
    run->o = *o;
    int rc = tpcc_read_meta(run, db);
    *nw = run->o.warehouses;
    free(run);
    return rc;
}

int
tpcc_check(tpcc_opts_t *o)
{
    char err[256];
    tpcc_db_t db;
    if (tpcc_db_open(o, &db, err, sizeof err) != 0) {
        fprintf(stderr, "hobbes-bench: tpcc check: connect: %s\n", err);
        return 1;
    }
    uint32_t nw;
    if (s_warehouses(o, &db, &nw) != 0) {
        tpcc_db_close(&db);
        return 1;
    }
    size_t slots = S_WD(nw, TPCC_DIST) + 1;
    int64_t *a[NARR];
    for (int i = 0; i < NARR; i++)
        a[i] = calloc(slots, sizeof(int64_t));
    s_verdict_t v;
    memset(&v, 0, sizeof v);
    uint64_t t0 = bench_now_us();
    int rc = s_chk_gather(&db, nw, a);
    tpcc_db_close(&db);
    int failed = 1;
    if (rc != 0)
        goto out;
    s_judge(a, nw, &v);
    failed = 0;
    for (int i = 0; i < S_NCOND; i++) {
        printf("condition %-66s %s", s_what[i], v.bad[i] ? "FAILED" : "ok");
        if (v.bad[i]) {
            printf(" (%u districts/warehouses; first: %s)", v.bad[i], v.first[i]);
            failed = 1;
        }
        printf("\n");
    }
    printf("tpcc check: %u warehouses, %s in %.1f s\n", nw,
           failed ? "CONSISTENCY CONDITIONS VIOLATED" : "all conditions hold",
           (double)(bench_now_us() - t0) / 1e6);
out:
    for (int i = 0; i < NARR; i++)
        free(a[i]);
    return failed;
}
