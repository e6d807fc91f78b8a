/* tpcc_load.c — `hobbes-bench tpcc load`: W warehouses by clause 4.3.3.1.
 *
 * Creates the schema (tpcc_schema.c), records the load's C values in
 * tpcc_meta, then fills the tables from --loaders sessions in parallel,
 * with a progress bar. The work is cut into units (a district's orders, a
 * district's customers, 10,000 items or stock rows, a warehouse), each
 * with its rows drawn from its own seed, so two loads of the same seed
 * hold the same rows whatever the interleaving. Rows go in as
 * multi-row INSERTs of about 48 KB.
 *
 * Entry point: tpcc_load.
 */
#include "tpcc_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { S_U_ITEM, S_U_WH, S_U_STOCK, S_U_CUST, S_U_ORDERS } s_unit_kind_t;

typedef struct {
    s_unit_kind_t kind;
    uint32_t w; /* warehouse (not for items) */
    uint32_t n; /* district, or chunk of 10,000 items */
} s_unit_t;

typedef struct {
    const tpcc_opts_t *o;
    tpcc_nurand_c_t c; /* load-time C values */
    s_unit_t *units;   /* all units of work */
    uint32_t nunits;
    atomic_uint next;   /* next unit to take */
    atomic_ullong rows; /* rows inserted */
    atomic_int failed;  /* a loader failed */
    uint64_t total;     /* rows expected (estimate: order lines vary) */
} s_load_t;

/* Statement batches: "INSERT INTO t VALUES (..), (..)" sent at ~48 KB. */
typedef struct {
    s_load_t *ld;
    tpcc_db_t *db;
    tpcc_buf_t b;
    const char *table;
    uint32_t rows;
} s_ins_t;

static int
s_ins_flush(s_ins_t *in)
{
    if (!in->rows)
        return 0;
    tpcc_res_t r;
    int rc = tpcc_db_must(in->db, in->b.p, &r);
    tpcc_res_free(&r);
    atomic_fetch_add(&in->ld->rows, in->rows);
    tpcc_bclear(&in->b);
    in->rows = 0;
    return rc;
}

/* Starts a row of table (flushing first when the batch is full or is for
 * another table); the caller appends the values and ")". */
static int
s_ins_row(s_ins_t *in, const char *table)
{
    if (in->rows && (in->table != table || in->b.len > (48u << 10) || in->rows >= 1000))
        if (s_ins_flush(in) != 0)
            return -1;
    if (!in->rows) {
        in->table = table;
        tpcc_bprintf(&in->b, "INSERT INTO %s VALUES (", table);
    } else {
        tpcc_bprintf(&in->b, ", (");
    }
    in->rows++;
    return 0;
}

static uint64_t
s_unit_seed(const tpcc_opts_t *o, const s_unit_t *u)
{
    return o->seed * 1000003u + (uint64_t)u->kind * 7919u + (uint64_t)u->w * 131u + u->n +
           1;
}

/* Writes the address columns: street 1, street 2, city, state, zip. */
static void
s_address(tpcc_rng_t *r, tpcc_buf_t *b)
{
    char s1[24], s2[24], city[24], st[3], zip[10];
    tpcc_astr(r, s1, 10, 20);
    tpcc_astr(r, s2, 10, 20);
    tpcc_astr(r, city, 10, 20);
    st[0] = (char)('A' + tpcc_rand(r, 0, 25));
    st[1] = (char)('A' + tpcc_rand(r, 0, 25));
    st[2] = 0;
    tpcc_nstr(r, zip, 4);
    memcpy(zip + 4, "11111", 6);
    tpcc_bprintf(b, "'%s', '%s', '%s', '%s', '%s'", s1, s2, city, st, zip);
}

/* Items 10,000 n + 1 .. 10,000 (n + 1) (clause 4.3.3.1). */
static int
s_load_items(s_ins_t *in, const s_unit_t *u, tpcc_rng_t *r)
{
    char a[512], b2[64];
    for (int i = (int)u->n * 10000 + 1; i <= (int)(u->n + 1) * 10000; i++) {
        if (s_ins_row(in, "item"))
            return -1;
        tpcc_astr(r, a, 14, 24);
        tpcc_data50(r, b2);
        int64_t price = tpcc_rand(r, 100, 10000);
        tpcc_bprintf(&in->b, "%d, %d, '%s', %" PRId64 ".%02d, '%s')", i,
                     (int)tpcc_rand(r, 1, 10000), a, price / 100, (int)(price % 100), b2);
    }
    return 0;
}

/* Warehouse w and its districts. */
static int
s_load_warehouse(s_ins_t *in, const s_unit_t *u, tpcc_rng_t *r)
{
    char a[512];
    if (s_ins_row(in, "warehouse"))
        return -1;
    tpcc_astr(r, a, 6, 10);
    tpcc_bprintf(&in->b, "%u, '%s', ", u->w, a);
    s_address(r, &in->b);
    tpcc_bprintf(&in->b, ", 0.%04d, 300000.00)", (int)tpcc_rand(r, 0, 2000));
    for (int d = 1; d <= TPCC_DIST; d++) {
        if (s_ins_row(in, "district"))
            return -1;
        tpcc_astr(r, a, 6, 10);
        tpcc_bprintf(&in->b, "%u, %d, '%s', ", u->w, d, a);
        s_address(r, &in->b);
        tpcc_bprintf(&in->b, ", 0.%04d, 30000.00, %d)", (int)tpcc_rand(r, 0, 2000),
                     TPCC_ORDERS + 1);
    }
    return 0;
}

/* Stock of warehouse w for items 10,000 n + 1 .. 10,000 (n + 1). */
static int
s_load_stock(s_ins_t *in, const s_unit_t *u, tpcc_rng_t *r)
{
    char a[512], b2[64];
    for (int i = (int)u->n * 10000 + 1; i <= (int)(u->n + 1) * 10000; i++) {
        if (s_ins_row(in, "stock"))
            return -1;
        tpcc_bprintf(&in->b, "%u, %d, %d", u->w, i, (int)tpcc_rand(r, 10, 100));
        for (int d = 0; d < TPCC_DIST; d++) {
            tpcc_astr(r, a, 24, 24);
            tpcc_bprintf(&in->b, ", '%s'", a);
        }
        tpcc_data50(r, b2);
        tpcc_bprintf(&in->b, ", 0, 0, 0, '%s')", b2);
    }
    return 0;
}

/* The customers of district n of warehouse w, and their history rows:
 * the first 1,000 take the 1,000 last names in order, the rest
 * NURand(255) ones. */
static int
s_load_customers(s_ins_t *in, const s_unit_t *u, tpcc_rng_t *r)
{
    char a[512];
    for (int c = 1; c <= TPCC_CUST; c++) {
        if (s_ins_row(in, "customer"))
            return -1;
        char first[20], last[20], phone[20];
        tpcc_astr(r, first, 8, 16);
        tpcc_last_name(
            c <= 1000 ? c - 1 : (int)tpcc_nurand(r, 255, in->ld->c.c_last, 0, 999), last);
        tpcc_nstr(r, phone, 16);
        tpcc_bprintf(&in->b, "%u, %u, %d, '%s', 'OE', '%s', ", u->w, u->n, c, first,
                     last);
        s_address(r, &in->b);
        tpcc_astr(r, a, 300, 500);
        tpcc_bprintf(
            &in->b,
            ", '%s', CURRENT_TIMESTAMP, '%s', 50000.00, 0.%04d, -10.00, 10.00, 1, 0, "
            "'%s')",
            phone, tpcc_rand(r, 1, 10) == 1 ? "BC" : "GC", (int)tpcc_rand(r, 0, 5000), a);
    }
    for (int c = 1; c <= TPCC_CUST; c++) {
        if (s_ins_row(in, "history"))
            return -1;
        tpcc_astr(r, a, 12, 24);
        tpcc_bprintf(&in->b, "%u, %u, %d, 1, %u, %u, CURRENT_TIMESTAMP, 10.00, '%s')",
                     u->w, u->n, c, u->n, u->w, a);
    }
    return 0;
}

/* The orders of district n of warehouse w, one per customer in a random
 * order, their lines, and the new orders (the last 900). */
static int
s_load_orders(s_ins_t *in, const s_unit_t *u, tpcc_rng_t *r)
{
    char a[512];
    int perm[TPCC_CUST];
    for (int i = 0; i < TPCC_CUST; i++)
        perm[i] = i + 1;
    for (int i = TPCC_CUST - 1; i > 0; i--) {
        int j = (int)tpcc_rand(r, 0, i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int ol_cnt[TPCC_ORDERS + 1];
    for (int o = 1; o <= TPCC_ORDERS; o++) {
        if (s_ins_row(in, "orders"))
            return -1;
        ol_cnt[o] = (int)tpcc_rand(r, 5, 15);
        if (o < TPCC_NO_FIRST)
            tpcc_bprintf(&in->b, "%u, %u, %d, %d, CURRENT_TIMESTAMP, %d, %d, 1)", u->w,
                         u->n, o, perm[o - 1], (int)tpcc_rand(r, 1, 10), ol_cnt[o]);
        else
            tpcc_bprintf(&in->b, "%u, %u, %d, %d, CURRENT_TIMESTAMP, NULL, %d, 1)", u->w,
                         u->n, o, perm[o - 1], ol_cnt[o]);
    }
    for (int o = 1; o <= TPCC_ORDERS; o++)
        for (int l = 1; l <= ol_cnt[o]; l++) {
            if (s_ins_row(in, "order_line"))
                return -1;
            tpcc_astr(r, a, 24, 24);
            int item = (int)tpcc_rand(r, 1, TPCC_ITEMS);
            if (o < TPCC_NO_FIRST) {
                tpcc_bprintf(&in->b,
                             "%u, %u, %d, %d, %d, %u, CURRENT_TIMESTAMP, 5, 0.00, '%s')",
                             u->w, u->n, o, l, item, u->w, a);
            } else {
                int64_t amt = tpcc_rand(r, 1, 999999);
                tpcc_bprintf(
                    &in->b, "%u, %u, %d, %d, %d, %u, NULL, 5, %" PRId64 ".%02d, '%s')",
                    u->w, u->n, o, l, item, u->w, amt / 100, (int)(amt % 100), a);
            }
        }
    for (int o = TPCC_NO_FIRST; o <= TPCC_ORDERS; o++) {
        if (s_ins_row(in, "new_order"))
            return -1;
        tpcc_bprintf(&in->b, "%u, %u, %d)", u->w, u->n, o);
    }
    return 0;
}

/* One unit of work, its rows drawn from its own seed. */
static int
s_load_unit(s_ins_t *in, const s_unit_t *u)
{
    tpcc_rng_t r;
    tpcc_rng_seed(&r, s_unit_seed(in->ld->o, u));
    int rc = 0;
    switch (u->kind) {
    case S_U_ITEM:
        rc = s_load_items(in, u, &r);
        break;
    case S_U_WH:
        rc = s_load_warehouse(in, u, &r);
        break;
    case S_U_STOCK:
        rc = s_load_stock(in, u, &r);
        break;
    case S_U_CUST:
        rc = s_load_customers(in, u, &r);
        break;
    case S_U_ORDERS:
        rc = s_load_orders(in, u, &r);
        break;
    }
    if (rc != 0)
        return -1;
    return s_ins_flush(in);
}

static void *
s_loader(void *arg)
{
    s_load_t *ld = arg;
    tpcc_db_t db;
    char err[256];
    if (tpcc_db_open(ld->o, &db, err, sizeof err) != 0) {
        fprintf(stderr, "hobbes-bench: tpcc load: connect: %s\n", err);
        ld->failed = 1;
        return NULL;
    }
    s_ins_t in = {.ld = ld, .db = &db};
    for (;;) {
        if (ld->failed)
            break;
        uint32_t i = atomic_fetch_add(&ld->next, 1);
        if (i >= ld->nunits)
            break;
        if (s_load_unit(&in, &ld->units[i]) != 0) {
            ld->failed = 1;
            break;
        }
    }
    free(in.b.p);
    tpcc_db_close(&db);
    return NULL;
}

static void
s_progress_bar(const char *what, uint64_t done, uint64_t total, double secs)
{
    double f = total ? (double)done / (double)total : 1;
    if (f > 1)
        f = 1;
    int fill = (int)(f * 30);
    char bar[31];
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    double rate = secs > 0 ? (double)done / secs : 0;
    double eta = rate > 0 && done < total ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\r%s [%s] %5.1f%%  %" PRIu64 " rows  %.0f rows/s  eta %.0f s   ",
            what, bar, f * 100, done, rate, eta);
}

/* Creates the schema and writes tpcc_meta: the warehouses and the C
 * values of this load (the run picks its own against them). */
static int
s_load_start(tpcc_db_t *db, const tpcc_opts_t *o, tpcc_nurand_c_t *c)
{
    if (tpcc_create_schema(db, !o->target) != 0)
        return -1;
    tpcc_c_load(o->seed, c);
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO tpcc_meta VALUES (1, %u, %d, %d, %d)",
             o->warehouses, c->c_last, c->c_id, c->i_id);
    tpcc_res_t res;
    int rc = tpcc_db_must(db, sql, &res);
    tpcc_res_free(&res);
    return rc;
}

/* Lists the units of work, big units first so the tail is short, and
 * estimates the rows. Caller frees ld->units. */
static void
s_plan_units(s_load_t *ld, uint32_t nw)
{
    ld->units = calloc(10 + (size_t)nw * 31, sizeof *ld->units);
    for (uint32_t w = 1; w <= nw; w++)
        for (uint32_t d = 1; d <= TPCC_DIST; d++)
            ld->units[ld->nunits++] = (s_unit_t){S_U_ORDERS, w, d};
    for (uint32_t w = 1; w <= nw; w++)
        for (uint32_t d = 1; d <= TPCC_DIST; d++)
            ld->units[ld->nunits++] = (s_unit_t){S_U_CUST, w, d};
    for (uint32_t w = 1; w <= nw; w++)
        for (uint32_t n = 0; n < 10; n++)
            ld->units[ld->nunits++] = (s_unit_t){S_U_STOCK, w, n};
    for (uint32_t n = 0; n < 10; n++)
        ld->units[ld->nunits++] = (s_unit_t){S_U_ITEM, 0, n};
    for (uint32_t w = 1; w <= nw; w++)
        ld->units[ld->nunits++] = (s_unit_t){S_U_WH, w, 0};
    ld->total = TPCC_ITEMS + (uint64_t)nw * (1 + TPCC_DIST + TPCC_ITEMS +
                                             TPCC_DIST * (2 * TPCC_CUST + TPCC_ORDERS +
                                                          TPCC_ORDERS * 10 + 900));
}

/* Runs the loaders until every unit is done or one failed, showing
 * progress since t0. Returns the seconds since t0. */
static double
s_run_loaders(s_load_t *ld, uint64_t t0)
{
    uint32_t n = ld->o->loaders;
    pthread_t *th = calloc(n, sizeof *th);
    for (uint32_t i = 0; i < n; i++)
        pthread_create(&th[i], NULL, s_loader, ld);
    bool tty = isatty(2);
    for (;;) {
        uint32_t next = atomic_load(&ld->next);
        if (next >= ld->nunits + n || ld->failed)
            break;
        usleep(tty ? 250000 : 1000000);
        double secs = (double)(bench_now_us() - t0) / 1e6;
        if (tty)
            s_progress_bar("tpcc load", ld->rows, ld->total, secs);
        else
            fprintf(stderr, "tpcc load: %" PRIu64 " of ~%" PRIu64 " rows, %.0f s\n",
                    (uint64_t)ld->rows, ld->total, secs);
    }
    for (uint32_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    free(th);
    double secs = (double)(bench_now_us() - t0) / 1e6;
    if (tty)
        s_progress_bar("tpcc load", ld->rows, ld->rows, secs);
    fprintf(stderr, "\n");
    return secs;
}

int
tpcc_load(const tpcc_opts_t *o)
{
    char err[256];
    tpcc_db_t db;
    if (tpcc_db_open(o, &db, err, sizeof err) != 0) {
        fprintf(stderr, "hobbes-bench: tpcc load: connect: %s\n", err);
        return 1;
    }
    uint64_t t0 = bench_now_us();
    fprintf(stderr, "tpcc load: %u warehouses into %s\n", o->warehouses,
            o->target ? "PostgreSQL" : o->config);
    s_load_t ld = {.o = o};
    if (s_load_start(&db, o, &ld.c) != 0) {
        tpcc_db_close(&db);
        return 1;
    }
    s_plan_units(&ld, o->warehouses);
    double secs = s_run_loaders(&ld, t0);
    free(ld.units);
    if (!ld.failed && o->target) {
        tpcc_res_t res;
        if (tpcc_db_must(&db, "ANALYZE", &res) != 0)
            ld.failed = 1;
        tpcc_res_free(&res);
    }
    tpcc_db_close(&db);
    if (ld.failed) {
        fprintf(stderr, "hobbes-bench: tpcc load failed\n");
        return 1;
    }
    printf("tpcc load: %u warehouses, %" PRIu64
           " rows in %.1f s (%.0f rows/s), %u loaders\n",
           o->warehouses, (uint64_t)ld.rows, secs, secs > 0 ? (double)ld.rows / secs : 0,
           o->loaders);
    return 0;
}
