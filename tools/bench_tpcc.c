/* bench_tpcc.c — hobbes-bench tpcc: TPC-C (clause numbers: TPC-C 5.11).
 *
 *   hobbes-bench tpcc load  --warehouses W [--config FILE | --target URL] [--loaders N]
 *   hobbes-bench tpcc run   [--impl native|sql] [--clients N] [--duration S] [--warmup S]
 *                           [--spec-timing] [--json FILE] [--csv FILE] [--seed N] ...
 *   hobbes-bench tpcc check [--config FILE | --target URL]
 *
 * The target is a Hobbes cluster (--config, or $HOBBES_CONFIG; SQL goes to
 * sqlfront --sqlfront ID) or, with --target postgres://..., a PostgreSQL
 * server through libpq. The schema (docs/tpcc.md) is TPC-C's with the
 * warehouse id as every table's partition key; `load` creates it and the
 * SQL procedures, then fills W warehouses per clause 4.3.3.1 (NURand last
 * names, 10% BC credit, 10% "ORIGINAL" items, 900 new orders per district)
 * from --loaders sessions in parallel, with a progress bar. The data of each
 * unit of work comes from its own seed, so two loads of the same seed hold
 * the same rows whatever the interleaving.
 *
 * `run`: one thread per terminal, terminal i on home warehouse 1 + i % W.
 * The mix is 45/43/4/4/4 (New-Order, Payment, Order-Status, Delivery,
 * Stock-Level) drawn from a shuffled deck of 100 (clause 5.2.4's minimum
 * mix, met exactly), inputs per clause 2: NURand(1023) customers,
 * NURand(8191) items, NURand(255) last names with a run-time C that obeys
 * clause 2.1.6.1 against the load-time C (kept in table tpcc_meta), 1%
 * remote order lines, 15% remote payments, 60% customers by last name, 1%
 * New-Orders whose last item is unused and roll back. No keying or think
 * time unless --spec-timing (then 10 terminals per warehouse by default).
 *
 * --impl sql calls the stored procedures new_order_N (N = 5..15 lines),
 * payment and delivery, created by load with the same text on Hobbes and
 * PostgreSQL, and reads Order-Status and Stock-Level with SELECTs in a
 * read-only block. --impl native (Hobbes only) calls the native procedures
 * tpcc.* (storage/procs_tpcc.c) and reads the read-only transactions with
 * snapshot scans at one epoch. Where a transaction's keys depend on data
 * the harness does the reconnaissance (OLLP): a by-name customer is looked
 * up at a snapshot (last names never change), and Delivery reads the
 * oldest new order of each district and passes it in; the procedure checks
 * it still holds and aborts with 40001 otherwise, and the harness reads
 * again and retries (at most --retries times).
 *
 * Output: New-Orders per minute ("tpmC-like"; with --spec-timing the
 * specification's tpmC), per transaction throughput, p50/p90/p99 latency,
 * rollbacks, retries and failures, as text, --json and --csv. `check` runs
 * the consistency conditions 1-5 and 7-9 of clause 3.3.2 in SQL.
 */
#include "bench_tpcc.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_hist.h"
#include "hb_config.h"
#include "hb_key.h"
#include "hb_mp.h"
#include "hb_proc.h"
#include "hb_util.h"
#include "hobbes.h"

#define S_DIST       10     /* districts per warehouse */
#define S_CUST       3000   /* customers per district */
#define S_ITEMS      100000 /* items, and stock rows per warehouse */
#define S_ORDERS     3000   /* loaded orders per district */
#define S_NO_FIRST   2101   /* first loaded order that is still new */
#define S_TIMEOUT_MS 30000  /* one statement or call */
#define S_SQL_MAX    (256u << 10)
#define S_MAX_SECS   86400
#define S_NSCHEMA    11 /* schema arguments of every tpcc.* procedure */

typedef enum { S_NO = 0, S_PAY, S_OS, S_DEL, S_SL, S_NTX } s_tx_t;
static const char *const s_tx_name[S_NTX] = {"new_order", "payment", "order_status",
                                             "delivery", "stock_level"};

typedef struct {
    const char *config;  /* Hobbes cluster config */
    const char *target;  /* NULL: Hobbes; else a libpq connection string */
    const char *json;    /* summary file, or NULL */
    const char *csv;     /* per-transaction CSV, or NULL */
    const char *label;   /* label in the JSON, or NULL */
    uint32_t warehouses; /* W (run/check: 0 = as loaded) */
    uint32_t loaders;    /* load sessions */
    uint32_t clients;    /* terminals (0: default) */
    uint32_t duration;   /* measured seconds */
    uint32_t warmup;     /* unmeasured seconds first */
    uint32_t retries;    /* attempts after a conflict */
    uint16_t sqlfront;   /* sqlfront id for SQL */
    int native;          /* --impl native */
    int spec_timing;     /* keying and think times */
    uint64_t seed;       /* workload seed */
} s_opts_t;

/* ------------------------------------------------------------------ */
/* One SQL connection: a Hobbes session or a PostgreSQL connection      */
/* ------------------------------------------------------------------ */

typedef struct {
    hb_sql_t *hb; /* Hobbes session, or NULL */
    PGconn *pg;   /* PostgreSQL connection, or NULL */
} s_db_t;

/* The outcome of one s_db_exec: the first failure's SQLSTATE ("00000"
 * when every statement succeeded) and the rows of each statement that
 * returned columns, in order (at most S_SETS). */
#define S_SETS 32
typedef struct {
    uint32_t nrows, ncols;
    const hb_sql_result_t *h; /* Hobbes rows, or NULL */
    PGresult *p;              /* PostgreSQL rows (owned), or NULL */
} s_set_t;

typedef struct {
    char state[6];
    char msg[256];
    uint32_t nsets;
    s_set_t set[S_SETS];
    hb_sql_result_t *hres; /* Hobbes results (owned) */
} s_res_t;

static int
s_db_open(const s_opts_t *o, s_db_t *db, char *err, size_t errlen)
{
    memset(db, 0, sizeof *db);
    if (o->target) {
        db->pg = PQconnectdb(o->target);
        if (PQstatus(db->pg) != CONNECTION_OK) {
            snprintf(err, errlen, "%s", PQerrorMessage(db->pg));
            PQfinish(db->pg);
            db->pg = NULL;
            return -1;
        }
        PGresult *r = PQexec(db->pg, "SET client_min_messages = warning");
        PQclear(r);
        return 0;
    }
    db->hb = hb_sql_connect(o->config, o->sqlfront, err, errlen);
    return db->hb ? 0 : -1;
}

static void
s_db_close(s_db_t *db)
{
    if (db->pg)
        PQfinish(db->pg);
    hb_sql_destroy(&db->hb);
    db->pg = NULL;
}

static void
s_res_free(s_res_t *r)
{
    hb_sql_result_free(&r->hres);
    for (uint32_t i = 0; i < r->nsets; i++)
        if (r->set[i].p)
            PQclear(r->set[i].p);
    memset(r, 0, sizeof *r);
}

static void
s_res_fail(s_res_t *r, const char *state, const char *msg)
{
    if (strcmp(r->state, "00000") != 0)
        return;
    snprintf(r->state, sizeof r->state, "%s", state);
    snprintf(r->msg, sizeof r->msg, "%s", msg);
}

/* Runs sql (one or more statements). Returns 0 when all succeeded, else -1
 * with r->state and r->msg set; r must be freed with s_res_free either way. */
static int
s_db_exec(s_db_t *db, const char *sql, s_res_t *r)
{
    memset(r, 0, sizeof *r);
    memcpy(r->state, "00000", 6);
    if (db->pg) {
        if (!PQsendQuery(db->pg, sql)) {
            s_res_fail(r, "08006", PQerrorMessage(db->pg));
            return -1;
        }
        PGresult *res;
        while ((res = PQgetResult(db->pg))) {
            ExecStatusType st = PQresultStatus(res);
            if (st == PGRES_TUPLES_OK && r->nsets < S_SETS) {
                r->set[r->nsets++] = (s_set_t){.nrows = (uint32_t)PQntuples(res),
                                               .ncols = (uint32_t)PQnfields(res),
                                               .p = res};
                continue;
            }
            if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
                s_res_fail(r, s ? s : "XX000", m ? m : PQerrorMessage(db->pg));
            }
            PQclear(res);
        }
        if (PQstatus(db->pg) != CONNECTION_OK)
            s_res_fail(r, "08006", "connection lost");
        return strcmp(r->state, "00000") == 0 ? 0 : -1;
    }
    hb_rc_t rc = hb_sql_exec(db->hb, sql, NULL, 0, S_TIMEOUT_MS, &r->hres);
    if (rc != HB_OK) {
        s_res_fail(r, rc == HB_TIMEOUT ? "57014" : "08006", hb_sql_last_error(db->hb));
        return -1;
    }
    for (const hb_sql_result_t *x = r->hres; x; x = x->next) {
        if (strcmp(x->sqlstate, "00000") != 0) {
            s_res_fail(r, x->sqlstate, x->message);
            break;
        }
        if (x->ncols && r->nsets < S_SETS)
            r->set[r->nsets++] = (s_set_t){.nrows = x->nrows, .ncols = x->ncols, .h = x};
    }
    return strcmp(r->state, "00000") == 0 ? 0 : -1;
}

/* Rows of result set k (k < 0: the last one); 0 when there is none. */
static uint32_t
s_nrows(const s_res_t *r, int k)
{
    if (k < 0)
        k = (int)r->nsets - 1;
    return k >= 0 && (uint32_t)k < r->nsets ? r->set[k].nrows : 0;
}

/* Cell (i, j) of result set k (k < 0: the last) as text, NULL for SQL
 * NULL or a cell that does not exist; buf holds integers' text. */
static const char *
s_cell(const s_res_t *r, int k, uint32_t i, uint32_t j, char buf[32])
{
    if (k < 0)
        k = (int)r->nsets - 1;
    if (k < 0 || (uint32_t)k >= r->nsets)
        return NULL;
    const s_set_t *s = &r->set[k];
    if (i >= s->nrows || j >= s->ncols)
        return NULL;
    if (s->p)
        return PQgetisnull(s->p, (int)i, (int)j) ? NULL
                                                 : PQgetvalue(s->p, (int)i, (int)j);
    const hb_val_t *v = &s->h->cells[i * s->ncols + j];
    switch (v->type) {
    case HB_VAL_NIL:
        return NULL;
    case HB_VAL_INT:
        snprintf(buf, 32, "%" PRId64, v->u.i);
        return buf;
    case HB_VAL_BOOL:
        return v->u.b ? "t" : "f";
    case HB_VAL_STR:
        return (const char *)v->u.s.ptr;
    case HB_VAL_DOUBLE:
        snprintf(buf, 32, "%.17g", v->u.d);
        return buf;
    default:
        return "";
    }
}

static int64_t
s_cell_i64(const s_res_t *r, int k, uint32_t i, uint32_t j)
{
    char buf[32];
    const char *s = s_cell(r, k, i, j, buf);
    return s ? strtoll(s, NULL, 10) : 0;
}

/* A decimal cell in hundredths, exactly (no floating point). */
static int64_t
s_cell_cents(const s_res_t *r, int k, uint32_t i, uint32_t j)
{
    char buf[32];
    const char *s = s_cell(r, k, i, j, buf);
    if (!s)
        return 0;
    bool neg = *s == '-';
    if (neg || *s == '+')
        s++;
    int64_t v = 0;
    while (isdigit((unsigned char)*s))
        v = v * 10 + (*s++ - '0');
    int frac = 0;
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s); s++)
            if (frac < 2) {
                v = v * 10 + (*s - '0');
                frac++;
            }
    for (; frac < 2; frac++)
        v *= 10;
    return neg ? -v : v;
}

/* Runs sql that must succeed; prints the failure and returns -1 if not. */
static int
s_db_must(s_db_t *db, const char *sql, s_res_t *r)
{
    if (s_db_exec(db, sql, r) == 0)
        return 0;
    fprintf(stderr, "hobbes-bench: tpcc: %s: %.200s%s\n", r->state, r->msg,
            strlen(r->msg) ? "" : "(no message)");
    fprintf(stderr, "  in: %.300s\n", sql);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Random input (clauses 2.1.5, 4.3.2)                                  */
/* ------------------------------------------------------------------ */

typedef struct {
    uint64_t s;
} s_rng_t;

static void
s_rng_seed(s_rng_t *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    if (!r->s)
        r->s = 1;
    (void)hb_xorshift(&r->s);
}

/* Uniform in [lo, hi]. */
static int64_t
s_rand(s_rng_t *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(hb_xorshift(&r->s) % (uint64_t)(hi - lo + 1));
}

typedef struct {
    int c_last; /* C of NURand(255) */
    int c_id;   /* C of NURand(1023) */
    int i_id;   /* C of NURand(8191) */
} s_nurand_c_t;

static int64_t
s_nurand(s_rng_t *r, int a, int c, int64_t x, int64_t y)
{
    return (((s_rand(r, 0, a) | s_rand(r, x, y)) + c) % (y - x + 1)) + x;
}

static const char *const s_syl[10] = {"BAR", "OUGHT", "ABLE",  "PRI",   "PRES",
                                      "ESE", "ANTI",  "CALLY", "ATION", "EING"};

/* The last name of number n (0..999), clause 4.3.2.3. */
static void
s_last_name(int n, char out[20])
{
    snprintf(out, 20, "%s%s%s", s_syl[n / 100], s_syl[(n / 10) % 10], s_syl[n % 10]);
}

/* Random alphanumeric / numeric text of lo..hi characters. */
static void
s_astr(s_rng_t *r, char *out, int lo, int hi)
{
    static const char cs[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    int n = (int)s_rand(r, lo, hi);
    for (int i = 0; i < n; i++)
        out[i] = cs[s_rand(r, 0, (int)sizeof cs - 2)];
    out[n] = 0;
}

static void
s_nstr(s_rng_t *r, char *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = (char)('0' + s_rand(r, 0, 9));
    out[n] = 0;
}

/* i_data / s_data: 26..50 characters, 10% with "ORIGINAL" somewhere. */
static void
s_data50(s_rng_t *r, char *out)
{
    s_astr(r, out, 26, 50);
    if (s_rand(r, 1, 10) == 1) {
        size_t n = strlen(out);
        size_t at = (size_t)s_rand(r, 0, (int64_t)n - 8);
        memcpy(out + at, "ORIGINAL", 8);
    }
}

/* ------------------------------------------------------------------ */
/* Schema and procedures                                                */
/* ------------------------------------------------------------------ */

static const char *const s_tables[] = {"warehouse", "district", "customer",   "history",
                                       "new_order", "orders",   "order_line", "item",
                                       "stock",     "tpcc_meta"};
#define S_NTABLES (sizeof s_tables / sizeof s_tables[0])

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

/* Appends printf text to a growing statement buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} s_buf_t;

static void __attribute__((format(printf, 2, 3)))
s_bprintf(s_buf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n =
            vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n >= 0 && b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t want = b->cap ? b->cap * 2 : 4096;
        while (want < b->len + (size_t)n + 1)
            want *= 2;
        char *np = realloc(b->p, want);
        if (!np) {
            fprintf(stderr, "hobbes-bench: out of memory\n");
            exit(1);
        }
        b->p = np;
        b->cap = want;
    }
}

static void
s_bclear(s_buf_t *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = 0;
}

/* new_order_N(w, d, c, all_local, i1, sw1, q1, ..., iN, swN, qN): clause
 * 2.4.2. The first statement divides by zero (22012) when the last item
 * is unused: the 1% rollback, before anything is written. */
static void
s_proc_new_order(s_buf_t *b, int n)
{
    s_bprintf(b, "CREATE PROCEDURE new_order_%d(w int, d int, c int, all_local int", n);
    for (int k = 1; k <= n; k++)
        s_bprintf(b, ", i%d int, sw%d int, q%d int", k, k, k);
    s_bprintf(
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
        s_bprintf(
            b,
            "UPDATE stock SET s_quantity = CASE WHEN s_quantity >= q%d + 10 THEN "
            "s_quantity - q%d ELSE s_quantity - q%d + 91 END, s_ytd = s_ytd + q%d, "
            "s_order_cnt = s_order_cnt + 1, s_remote_cnt = s_remote_cnt + CASE WHEN sw%d "
            "<> w THEN 1 ELSE 0 END WHERE s_w_id = sw%d AND s_i_id = i%d;\n",
            k, k, k, k, k, k, k);
        s_bprintf(
            b,
            "INSERT INTO order_line (ol_w_id, ol_d_id, ol_o_id, ol_number, ol_i_id, "
            "ol_supply_w_id, ol_delivery_d, ol_quantity, ol_amount, ol_dist_info) SELECT "
            "w, "
            "d, d_next_o_id - 1, %d, i%d, sw%d, NULL, q%d, q%d * i_price, CASE d",
            k, k, k, k, k);
        for (int dd = 1; dd <= S_DIST; dd++)
            s_bprintf(b, " WHEN %d THEN s_dist_%02d", dd, dd);
        s_bprintf(b,
                  " END FROM district, item, stock WHERE d_w_id = w AND d_id = d AND "
                  "i_id = i%d "
                  "AND s_w_id = sw%d AND s_i_id = i%d;\n",
                  k, k, k);
    }
    s_bprintf(b, "$$");
}

/* payment(w, d, cw, cd, c, amount): clause 2.5.2, by customer id (a
 * by-name payment looks the id up first). */
static void
s_proc_payment(s_buf_t *b)
{
    s_bprintf(
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
s_proc_delivery(s_buf_t *b)
{
    s_bprintf(b, "CREATE PROCEDURE delivery(w int, carrier int");
    for (int d = 1; d <= S_DIST; d++)
        s_bprintf(b, ", o%d int, c%d int, a%d numeric(12,2)", d, d, d);
    s_bprintf(b, ") LANGUAGE SQL AS $$\n");
    for (int d = 1; d <= S_DIST; d++)
        s_bprintf(
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
    s_bprintf(b, "$$");
}

/* ------------------------------------------------------------------ */
/* Load (clause 4.3.3.1)                                                */
/* ------------------------------------------------------------------ */

typedef enum { S_U_ITEM, S_U_WH, S_U_STOCK, S_U_CUST, S_U_ORDERS } s_unit_kind_t;

typedef struct {
    s_unit_kind_t kind;
    uint32_t w; /* warehouse (not for items) */
    uint32_t n; /* district, or chunk of 10,000 items */
} s_unit_t;

typedef struct {
    const s_opts_t *o;
    s_nurand_c_t c;  /* load-time C values */
    s_unit_t *units; /* all units of work */
    uint32_t nunits;
    atomic_uint next;   /* next unit to take */
    atomic_ullong rows; /* rows inserted */
    atomic_int failed;  /* a loader failed */
    uint64_t total;     /* rows expected (estimate: order lines vary) */
} s_load_t;

/* Statement batches: "INSERT INTO t VALUES (..), (..)" sent at ~48 KB. */
typedef struct {
    s_load_t *ld;
    s_db_t *db;
    s_buf_t b;
    const char *table;
    uint32_t rows;
} s_ins_t;

static int
s_ins_flush(s_ins_t *in)
{
    if (!in->rows)
        return 0;
    s_res_t r;
    int rc = s_db_must(in->db, in->b.p, &r);
    s_res_free(&r);
    atomic_fetch_add(&in->ld->rows, in->rows);
    s_bclear(&in->b);
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
        s_bprintf(&in->b, "INSERT INTO %s VALUES (", table);
    } else {
        s_bprintf(&in->b, ", (");
    }
    in->rows++;
    return 0;
}

static uint64_t
s_unit_seed(const s_opts_t *o, const s_unit_t *u)
{
    return o->seed * 1000003u + (uint64_t)u->kind * 7919u + (uint64_t)u->w * 131u + u->n +
           1;
}

/* Writes the address columns: street 1, street 2, city, state, zip. */
static void
s_address(s_rng_t *r, s_buf_t *b)
{
    char s1[24], s2[24], city[24], st[3], zip[10];
    s_astr(r, s1, 10, 20);
    s_astr(r, s2, 10, 20);
    s_astr(r, city, 10, 20);
    st[0] = (char)('A' + s_rand(r, 0, 25));
    st[1] = (char)('A' + s_rand(r, 0, 25));
    st[2] = 0;
    s_nstr(r, zip, 4);
    memcpy(zip + 4, "11111", 6);
    s_bprintf(b, "'%s', '%s', '%s', '%s', '%s'", s1, s2, city, st, zip);
}

static int
s_load_unit(s_ins_t *in, const s_unit_t *u)
{
    s_load_t *ld = in->ld;
    s_rng_t r;
    s_rng_seed(&r, s_unit_seed(ld->o, u));
    char a[512], b2[64];
    switch (u->kind) {
    case S_U_ITEM:
        for (int i = (int)u->n * 10000 + 1; i <= (int)(u->n + 1) * 10000; i++) {
            if (s_ins_row(in, "item"))
                return -1;
            s_astr(&r, a, 14, 24);
            s_data50(&r, b2);
            int64_t price = s_rand(&r, 100, 10000);
            s_bprintf(&in->b, "%d, %d, '%s', %" PRId64 ".%02d, '%s')", i,
                      (int)s_rand(&r, 1, 10000), a, price / 100, (int)(price % 100), b2);
        }
        break;
    case S_U_WH: {
        if (s_ins_row(in, "warehouse"))
            return -1;
        s_astr(&r, a, 6, 10);
        s_bprintf(&in->b, "%u, '%s', ", u->w, a);
        s_address(&r, &in->b);
        s_bprintf(&in->b, ", 0.%04d, 300000.00)", (int)s_rand(&r, 0, 2000));
        for (int d = 1; d <= S_DIST; d++) {
            if (s_ins_row(in, "district"))
                return -1;
            s_astr(&r, a, 6, 10);
            s_bprintf(&in->b, "%u, %d, '%s', ", u->w, d, a);
            s_address(&r, &in->b);
            s_bprintf(&in->b, ", 0.%04d, 30000.00, %d)", (int)s_rand(&r, 0, 2000),
                      S_ORDERS + 1);
        }
        break;
    }
    case S_U_STOCK:
        for (int i = (int)u->n * 10000 + 1; i <= (int)(u->n + 1) * 10000; i++) {
            if (s_ins_row(in, "stock"))
                return -1;
            s_bprintf(&in->b, "%u, %d, %d", u->w, i, (int)s_rand(&r, 10, 100));
            for (int d = 0; d < S_DIST; d++) {
                s_astr(&r, a, 24, 24);
                s_bprintf(&in->b, ", '%s'", a);
            }
            s_data50(&r, b2);
            s_bprintf(&in->b, ", 0, 0, 0, '%s')", b2);
        }
        break;
    case S_U_CUST:
        for (int c = 1; c <= S_CUST; c++) {
            if (s_ins_row(in, "customer"))
                return -1;
            char first[20], last[20], phone[20];
            s_astr(&r, first, 8, 16);
            s_last_name(c <= 1000 ? c - 1 : (int)s_nurand(&r, 255, ld->c.c_last, 0, 999),
                        last);
            s_nstr(&r, phone, 16);
            s_bprintf(&in->b, "%u, %u, %d, '%s', 'OE', '%s', ", u->w, u->n, c, first,
                      last);
            s_address(&r, &in->b);
            s_astr(&r, a, 300, 500);
            s_bprintf(
                &in->b,
                ", '%s', CURRENT_TIMESTAMP, '%s', 50000.00, 0.%04d, -10.00, 10.00, 1, 0, "
                "'%s')",
                phone, s_rand(&r, 1, 10) == 1 ? "BC" : "GC", (int)s_rand(&r, 0, 5000), a);
        }
        for (int c = 1; c <= S_CUST; c++) {
            if (s_ins_row(in, "history"))
                return -1;
            s_astr(&r, a, 12, 24);
            s_bprintf(&in->b, "%u, %u, %d, 1, %u, %u, CURRENT_TIMESTAMP, 10.00, '%s')",
                      u->w, u->n, c, u->n, u->w, a);
        }
        break;
    case S_U_ORDERS: {
        int perm[S_CUST];
        for (int i = 0; i < S_CUST; i++)
            perm[i] = i + 1;
        for (int i = S_CUST - 1; i > 0; i--) {
            int j = (int)s_rand(&r, 0, i), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        int ol_cnt[S_ORDERS + 1];
        for (int o = 1; o <= S_ORDERS; o++) {
            if (s_ins_row(in, "orders"))
                return -1;
            ol_cnt[o] = (int)s_rand(&r, 5, 15);
            if (o < S_NO_FIRST)
                s_bprintf(&in->b, "%u, %u, %d, %d, CURRENT_TIMESTAMP, %d, %d, 1)", u->w,
                          u->n, o, perm[o - 1], (int)s_rand(&r, 1, 10), ol_cnt[o]);
            else
                s_bprintf(&in->b, "%u, %u, %d, %d, CURRENT_TIMESTAMP, NULL, %d, 1)", u->w,
                          u->n, o, perm[o - 1], ol_cnt[o]);
        }
        for (int o = 1; o <= S_ORDERS; o++)
            for (int l = 1; l <= ol_cnt[o]; l++) {
                if (s_ins_row(in, "order_line"))
                    return -1;
                s_astr(&r, a, 24, 24);
                int item = (int)s_rand(&r, 1, S_ITEMS);
                if (o < S_NO_FIRST) {
                    s_bprintf(&in->b,
                              "%u, %u, %d, %d, %d, %u, CURRENT_TIMESTAMP, 5, 0.00, '%s')",
                              u->w, u->n, o, l, item, u->w, a);
                } else {
                    int64_t amt = s_rand(&r, 1, 999999);
                    s_bprintf(&in->b,
                              "%u, %u, %d, %d, %d, %u, NULL, 5, %" PRId64 ".%02d, '%s')",
                              u->w, u->n, o, l, item, u->w, amt / 100, (int)(amt % 100),
                              a);
                }
            }
        for (int o = S_NO_FIRST; o <= S_ORDERS; o++) {
            if (s_ins_row(in, "new_order"))
                return -1;
            s_bprintf(&in->b, "%u, %u, %d)", u->w, u->n, o);
        }
        break;
    }
    }
    return s_ins_flush(in);
}

static void *
s_loader(void *arg)
{
    s_load_t *ld = arg;
    s_db_t db;
    char err[256];
    if (s_db_open(ld->o, &db, err, sizeof err) != 0) {
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
    s_db_close(&db);
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

/* Drops and creates the tables, indexes and procedures. */
static int
s_create_schema(s_db_t *db, bool hobbes)
{
    s_res_t r;
    char sql[2048];
    for (size_t i = 0; i < S_NTABLES; i++) {
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", s_tables[i]);
        if (s_db_must(db, sql, &r) != 0)
            goto fail;
        s_res_free(&r);
    }
    for (int n = 5; n <= 15; n++) {
        snprintf(sql, sizeof sql, "DROP PROCEDURE IF EXISTS new_order_%d", n);
        s_db_exec(db, sql, &r); /* absent is fine */
        s_res_free(&r);
    }
    s_db_exec(db, "DROP PROCEDURE IF EXISTS payment", &r);
    s_res_free(&r);
    s_db_exec(db, "DROP PROCEDURE IF EXISTS delivery", &r);
    s_res_free(&r);
    for (size_t i = 0; i < S_NTABLES; i++) {
        s_ddl(hobbes, (int)i, sql, sizeof sql);
        if (s_db_must(db, sql, &r) != 0)
            goto fail;
        s_res_free(&r);
    }
    for (size_t i = 0; i < sizeof s_indexes / sizeof s_indexes[0]; i++) {
        if (s_db_must(db, s_indexes[i], &r) != 0)
            goto fail;
        s_res_free(&r);
    }
    s_buf_t b = {0};
    for (int n = 5; n <= 16; n++) {
        s_bclear(&b);
        if (n <= 15)
            s_proc_new_order(&b, n);
        else
            s_proc_payment(&b);
        if (s_db_must(db, b.p, &r) != 0) {
            free(b.p);
            goto fail;
        }
        s_res_free(&r);
    }
    s_bclear(&b);
    s_proc_delivery(&b);
    int rc = s_db_must(db, b.p, &r);
    free(b.p);
    s_res_free(&r);
    return rc;
fail:
    s_res_free(&r);
    return -1;
}

static int
s_load(const s_opts_t *o)
{
    char err[256];
    s_db_t db;
    if (s_db_open(o, &db, err, sizeof err) != 0) {
        fprintf(stderr, "hobbes-bench: tpcc load: connect: %s\n", err);
        return 1;
    }
    uint64_t t0 = bench_now_us();
    fprintf(stderr, "tpcc load: %u warehouses into %s\n", o->warehouses,
            o->target ? "PostgreSQL" : o->config);
    if (s_create_schema(&db, !o->target) != 0) {
        s_db_close(&db);
        return 1;
    }
    s_load_t ld = {.o = o};
    s_rng_t r;
    s_rng_seed(&r, o->seed ^ 0xC0FFEEu);
    ld.c.c_last = (int)s_rand(&r, 0, 255);
    ld.c.c_id = (int)s_rand(&r, 0, 1023);
    ld.c.i_id = (int)s_rand(&r, 0, 8191);
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO tpcc_meta VALUES (1, %u, %d, %d, %d)",
             o->warehouses, ld.c.c_last, ld.c.c_id, ld.c.i_id);
    s_res_t res;
    if (s_db_must(&db, sql, &res) != 0) {
        s_res_free(&res);
        s_db_close(&db);
        return 1;
    }
    s_res_free(&res);
    /* Big units first so the tail is short. */
    ld.units = calloc(10 + (size_t)o->warehouses * 31, sizeof *ld.units);
    for (uint32_t w = 1; w <= o->warehouses; w++)
        for (uint32_t d = 1; d <= S_DIST; d++)
            ld.units[ld.nunits++] = (s_unit_t){S_U_ORDERS, w, d};
    for (uint32_t w = 1; w <= o->warehouses; w++)
        for (uint32_t d = 1; d <= S_DIST; d++)
            ld.units[ld.nunits++] = (s_unit_t){S_U_CUST, w, d};
    for (uint32_t w = 1; w <= o->warehouses; w++)
        for (uint32_t n = 0; n < 10; n++)
            ld.units[ld.nunits++] = (s_unit_t){S_U_STOCK, w, n};
    for (uint32_t n = 0; n < 10; n++)
        ld.units[ld.nunits++] = (s_unit_t){S_U_ITEM, 0, n};
    for (uint32_t w = 1; w <= o->warehouses; w++)
        ld.units[ld.nunits++] = (s_unit_t){S_U_WH, w, 0};
    ld.total = S_ITEMS + (uint64_t)o->warehouses *
                             (1 + S_DIST + S_ITEMS +
                              S_DIST * (2 * S_CUST + S_ORDERS + S_ORDERS * 10 + 900));
    uint32_t n = o->loaders;
    pthread_t *th = calloc(n, sizeof *th);
    for (uint32_t i = 0; i < n; i++)
        pthread_create(&th[i], NULL, s_loader, &ld);
    bool tty = isatty(2);
    for (;;) {
        uint32_t next = atomic_load(&ld.next);
        if (next >= ld.nunits + n || ld.failed)
            break;
        usleep(tty ? 250000 : 1000000);
        double secs = (double)(bench_now_us() - t0) / 1e6;
        if (tty)
            s_progress_bar("tpcc load", ld.rows, ld.total, secs);
        else
            fprintf(stderr, "tpcc load: %" PRIu64 " of ~%" PRIu64 " rows, %.0f s\n",
                    (uint64_t)ld.rows, ld.total, secs);
    }
    for (uint32_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    free(th);
    free(ld.units);
    double secs = (double)(bench_now_us() - t0) / 1e6;
    if (tty)
        s_progress_bar("tpcc load", ld.rows, ld.rows, secs);
    fprintf(stderr, "\n");
    if (!ld.failed && o->target) {
        if (s_db_must(&db, "ANALYZE", &res) != 0)
            ld.failed = 1;
        s_res_free(&res);
    }
    s_db_close(&db);
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

/* ------------------------------------------------------------------ */
/* Native access: keys, snapshot reads, the catalog                     */
/* ------------------------------------------------------------------ */

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

typedef struct {
    int64_t v[S_NSCHEMA]; /* 9 table ids, orders_customer no, customer_name no */
} s_schema_t;

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

static int
s_schema_load(hb_client_t *cl, s_schema_t *s)
{
    for (int i = 0; i < 9; i++) {
        const char *ix = i == S_T_ORD    ? "orders_customer"
                         : i == S_T_CUST ? "customer_name"
                                         : NULL;
        int64_t no = 0;
        if (s_catalog_lookup(cl, s_tables[i], ix, &s->v[i], &no) != 0)
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
                          S_TIMEOUT_MS, out) != HB_OK ||
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
/* Run                                                                  */
/* ------------------------------------------------------------------ */

typedef struct s_run s_run_t;

typedef struct {
    s_run_t *run;
    uint32_t id;   /* terminal number */
    uint32_t w, d; /* home warehouse, district (Stock-Level) */
    s_rng_t rng;
    s_db_t db;         /* SQL */
    hb_client_t *cl;   /* native */
    uint8_t deck[100]; /* the mix, shuffled per round */
    uint32_t deck_pos;
    bench_hist_t *hist;      /* S_NTX histograms, measured phase */
    uint64_t ok[S_NTX];      /* committed (measured) */
    uint64_t rolled[S_NTX];  /* rolled back by the specification (measured) */
    uint64_t retries[S_NTX]; /* attempts again after a conflict (measured) */
    uint64_t failed[S_NTX];  /* gave up or an error (measured) */
    char err[320];           /* the last unexpected error */
    hb_val_t args[S_NSCHEMA + 4 + 3 * 15];
} s_term_t;

#define S_TL_MAX 3600

struct s_run {
    s_opts_t o;
    s_nurand_c_t c_run; /* run-time C values */
    s_schema_t schema;  /* native */
    uint32_t nparts;    /* native */
    uint64_t t_start;   /* measured phase start (us) */
    uint64_t t_end;     /* measured phase end (us) */
    atomic_int stop;
    atomic_ullong done[S_NTX];      /* completions, whole run (progress) */
    atomic_ullong fails;            /* failures, whole run */
    atomic_ullong tl_all[S_TL_MAX]; /* measured: completions per second */
    atomic_ullong tl_no[S_TL_MAX];  /* measured: New-Orders per second */
};

typedef enum { S_OUT_OK, S_OUT_ROLLED, S_OUT_RETRY, S_OUT_FAIL } s_out_t;

static bool
s_measuring(const s_run_t *run, uint64_t now)
{
    return now >= run->t_start && now < run->t_end;
}

static void
s_note_err(s_term_t *t, const char *what, const char *state, const char *msg)
{
    snprintf(t->err, sizeof t->err, "%s: %s %s", what, state, msg);
}

/* Is this SQLSTATE a conflict to retry? */
static bool
s_conflict(const char *state)
{
    return strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0;
}

static int
s_pick_customer(s_term_t *t, uint32_t *c, char last[20])
{
    /* 60% by last name (clause 2.5.1.2 / 2.6.1.2). */
    if (s_rand(&t->rng, 1, 100) <= 60) {
        s_last_name((int)s_nurand(&t->rng, 255, t->run->c_run.c_last, 0, 999), last);
        *c = 0;
        return 1;
    }
    *c = (uint32_t)s_nurand(&t->rng, 1023, t->run->c_run.c_id, 1, S_CUST);
    last[0] = 0;
    return 0;
}

/* ---- New-Order inputs (clause 2.4.1) ---- */
typedef struct {
    uint32_t w, d, c, n, all_local;
    uint32_t item[15], sw[15], q[15];
} s_no_in_t;

static void
s_gen_no(s_term_t *t, s_no_in_t *in)
{
    const s_run_t *run = t->run;
    in->w = t->w;
    in->d = (uint32_t)s_rand(&t->rng, 1, S_DIST);
    in->c = (uint32_t)s_nurand(&t->rng, 1023, run->c_run.c_id, 1, S_CUST);
    in->n = (uint32_t)s_rand(&t->rng, 5, 15);
    bool rollback = s_rand(&t->rng, 1, 100) == 1;
    in->all_local = 1;
    for (uint32_t k = 0; k < in->n; k++) {
        uint32_t it;
        bool dup;
        do { /* distinct items per order */
            it = (uint32_t)s_nurand(&t->rng, 8191, run->c_run.i_id, 1, S_ITEMS);
            dup = false;
            for (uint32_t j = 0; j < k; j++)
                dup |= in->item[j] == it;
        } while (dup);
        in->item[k] = it;
        in->sw[k] = t->w;
        if (run->o.warehouses > 1 && s_rand(&t->rng, 1, 100) == 1) {
            do
                in->sw[k] = (uint32_t)s_rand(&t->rng, 1, run->o.warehouses);
            while (in->sw[k] == t->w);
            in->all_local = 0;
        }
        in->q[k] = (uint32_t)s_rand(&t->rng, 1, 10);
    }
    if (rollback)
        in->item[in->n - 1] = S_ITEMS + 1; /* unused: the order rolls back */
}

/* ---- Payment inputs (clause 2.5.1) ---- */
typedef struct {
    uint32_t w, d, cw, cd, c;
    char last[20];
    int64_t cents;
} s_pay_in_t;

static void
s_gen_pay(s_term_t *t, s_pay_in_t *in)
{
    in->w = t->w;
    in->d = (uint32_t)s_rand(&t->rng, 1, S_DIST);
    if (t->run->o.warehouses > 1 && s_rand(&t->rng, 1, 100) <= 15) {
        do
            in->cw = (uint32_t)s_rand(&t->rng, 1, t->run->o.warehouses);
        while (in->cw == t->w);
        in->cd = (uint32_t)s_rand(&t->rng, 1, S_DIST);
    } else {
        in->cw = in->w;
        in->cd = in->d;
    }
    s_pick_customer(t, &in->c, in->last);
    in->cents = s_rand(&t->rng, 100, 500000);
}

/* ---- SQL implementation ---- */

/* Middle customer of a by-name result (clause 2.5.2.2: position n/2
 * rounded up, sorted by c_first). Returns 0 or -1 when none matched. */
static int
s_sql_by_name(s_term_t *t, uint32_t w, uint32_t d, const char *last, uint32_t *c)
{
    char sql[256];
    snprintf(
        sql, sizeof sql,
        "SELECT c_id FROM customer WHERE c_w_id = %u AND c_d_id = %u AND c_last = '%s' "
        "ORDER BY c_first",
        w, d, last);
    s_res_t r;
    int rc = s_db_exec(&t->db, sql, &r);
    uint32_t n = s_nrows(&r, -1);
    if (rc == 0 && n > 0)
        *c = (uint32_t)s_cell_i64(&r, -1, (n + 1) / 2 - 1, 0);
    else
        s_note_err(t, "payment by name", r.state,
                   rc ? r.msg : "no customer of that name");
    s_res_free(&r);
    return rc == 0 && n > 0 ? 0 : -1;
}

static s_out_t
s_sql_result(s_term_t *t, const char *what, s_res_t *r, int rc)
{
    s_out_t out = S_OUT_OK;
    if (rc != 0) {
        if (s_conflict(r->state)) {
            out = S_OUT_RETRY;
        } else {
            out = S_OUT_FAIL;
            s_note_err(t, what, r->state, r->msg);
        }
    }
    s_res_free(r);
    return out;
}

static s_out_t
s_sql_new_order(s_term_t *t, const s_no_in_t *in)
{
    char sql[2048];
    int n = snprintf(sql, sizeof sql, "CALL new_order_%u(%u, %u, %u, %u", in->n, in->w,
                     in->d, in->c, in->all_local);
    for (uint32_t k = 0; k < in->n; k++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ", %u, %u, %u", in->item[k],
                      in->sw[k], in->q[k]);
    snprintf(sql + n, sizeof sql - (size_t)n, ")");
    s_res_t r;
    int rc = s_db_exec(&t->db, sql, &r);
    if (rc != 0 && strcmp(r.state, "22012") == 0 && in->item[in->n - 1] > S_ITEMS) {
        s_res_free(&r);
        return S_OUT_ROLLED;
    }
    return s_sql_result(t, "new_order", &r, rc);
}

static s_out_t
s_sql_payment(s_term_t *t, s_pay_in_t *in)
{
    if (!in->c && s_sql_by_name(t, in->cw, in->cd, in->last, &in->c) != 0)
        return S_OUT_FAIL;
    char sql[256];
    snprintf(sql, sizeof sql, "CALL payment(%u, %u, %u, %u, %u, %" PRId64 ".%02d)", in->w,
             in->d, in->cw, in->cd, in->c, in->cents / 100, (int)(in->cents % 100));
    s_res_t r;
    return s_sql_result(t, "payment", &r, s_db_exec(&t->db, sql, &r));
}

static const char *
s_begin_ro(const s_term_t *t)
{
    return t->db.pg ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; " : "BEGIN; ";
}

/* Ends a read-only block after a failed statement: its outcome (frees r),
 * then ROLLBACK. */
static s_out_t
s_sql_abandon(s_term_t *t, const char *what, s_res_t *r, int rc)
{
    s_out_t out = s_sql_result(t, what, r, rc);
    s_db_exec(&t->db, "ROLLBACK", r);
    s_res_free(r);
    return out;
}

static s_out_t
s_sql_order_status(s_term_t *t)
{
    uint32_t d = (uint32_t)s_rand(&t->rng, 1, S_DIST), c;
    char last[20], sql[512];
    bool by_name = s_pick_customer(t, &c, last);
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
    s_res_t r;
    int rc = s_db_exec(&t->db, sql, &r);
    uint32_t n = s_nrows(&r, -1);
    if (rc == 0 && n == 0) {
        s_res_fail(&r, "02000", "no such customer"); /* s_sql_result notes it */
        rc = -1;
    }
    if (rc == 0)
        c = (uint32_t)s_cell_i64(&r, -1, (n + 1) / 2 - 1, 0);
    if (rc != 0)
        return s_sql_abandon(t, "order_status", &r, rc);
    s_res_free(&r);
    snprintf(
        sql, sizeof sql,
        "SELECT o_id, o_carrier_id, o_entry_d FROM orders WHERE o_w_id = %u AND o_d_id = "
        "%u AND o_c_id = %u ORDER BY o_id DESC LIMIT 1",
        t->w, d, c);
    rc = s_db_exec(&t->db, sql, &r);
    int64_t o = rc == 0 && s_nrows(&r, -1) ? s_cell_i64(&r, -1, 0, 0) : 0;
    if (rc != 0)
        return s_sql_abandon(t, "order_status", &r, rc);
    s_res_free(&r);
    snprintf(sql, sizeof sql,
             "SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_delivery_d FROM "
             "order_line WHERE ol_w_id = %u AND ol_d_id = %u AND ol_o_id = %" PRId64
             "; COMMIT",
             t->w, d, o);
    rc = s_db_exec(&t->db, sql, &r);
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
static s_out_t
s_sql_stock_level(s_term_t *t, int threshold)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT d_next_o_id FROM district WHERE d_w_id = %u AND d_id = %u", t->w,
             t->d);
    s_res_t r;
    int rc = s_db_exec(&t->db, sql, &r);
    int64_t o = rc == 0 ? s_cell_i64(&r, -1, 0, 0) : 0;
    if (rc != 0 || !o) {
        if (rc == 0)
            s_note_err(t, "stock_level", "02000", "no such district");
        return rc ? s_sql_result(t, "stock_level", &r, rc) : (s_res_free(&r), S_OUT_FAIL);
    }
    s_res_free(&r);
    s_buf_t b = {0};
    if (t->db.pg) {
        s_bprintf(
            &b,
            "SELECT count(DISTINCT s_i_id) FROM order_line, stock WHERE ol_w_id = %u AND "
            "ol_d_id = %u AND ol_o_id < %" PRId64 " AND ol_o_id >= %" PRId64
            " AND s_w_id = %u AND s_i_id = ol_i_id AND s_quantity < %d",
            t->w, t->d, o, o - 20, t->w, threshold);
    } else {
        for (int64_t x = o - 20; x < o; x++)
            s_bprintf(&b,
                      "SELECT s_i_id FROM order_line, stock WHERE ol_w_id = %u AND "
                      "ol_d_id = %u "
                      "AND ol_o_id = %" PRId64
                      " AND s_w_id = %u AND s_i_id = ol_i_id AND "
                      "s_quantity < %d;",
                      t->w, t->d, x, t->w, threshold);
    }
    rc = s_db_exec(&t->db, b.p, &r);
    free(b.p);
    return s_sql_result(t, "stock_level", &r, rc);
}

static s_out_t
s_sql_delivery(s_term_t *t, int carrier)
{
    s_buf_t b = {0};
    for (int d = 1; d <= S_DIST; d++)
        s_bprintf(
            &b,
            "SELECT no_o_id FROM new_order WHERE no_w_id = %u AND no_d_id = %d ORDER BY "
            "no_o_id LIMIT 1;",
            t->w, d);
    s_res_t r;
    int rc = s_db_exec(&t->db, b.p, &r);
    int64_t o[S_DIST + 1] = {0}, c[S_DIST + 1] = {0}, cents[S_DIST + 1] = {0};
    if (rc == 0 && r.nsets != S_DIST) {
        s_note_err(t, "delivery", "XX000", "wrong number of results");
        rc = -1;
    }
    for (int d = 1; rc == 0 && d <= S_DIST; d++)
        o[d] = s_nrows(&r, d - 1) ? s_cell_i64(&r, d - 1, 0, 0) : 0;
    s_out_t out = rc ? s_sql_result(t, "delivery", &r, rc) : S_OUT_OK;
    s_res_free(&r);
    if (out != S_OUT_OK)
        goto done;
    s_bclear(&b);
    for (int d = 1; d <= S_DIST; d++)
        if (o[d])
            s_bprintf(
                &b,
                "SELECT o_c_id FROM orders WHERE o_w_id = %u AND o_d_id = %d AND o_id = "
                "%" PRId64
                "; SELECT sum(ol_amount) FROM order_line WHERE ol_w_id = %u AND "
                "ol_d_id = %d AND ol_o_id = %" PRId64 ";",
                t->w, d, o[d], t->w, d, o[d]);
    if (b.len) {
        rc = s_db_exec(&t->db, b.p, &r);
        int k = 0;
        for (int d = 1; rc == 0 && d <= S_DIST; d++)
            if (o[d]) {
                c[d] = s_cell_i64(&r, k, 0, 0);
                cents[d] = s_cell_cents(&r, k + 1, 0, 0);
                k += 2;
            }
        out = rc ? s_sql_result(t, "delivery", &r, rc) : S_OUT_OK;
        s_res_free(&r);
        if (out != S_OUT_OK)
            goto done;
    }
    s_bclear(&b);
    if (t->db.pg)
        s_bprintf(&b, "BEGIN ISOLATION LEVEL REPEATABLE READ; ");
    s_bprintf(&b, "CALL delivery(%u, %d", t->w, carrier);
    for (int d = 1; d <= S_DIST; d++)
        s_bprintf(&b, ", %" PRId64 ", %" PRId64 ", %" PRId64 ".%02d", o[d], c[d],
                  cents[d] / 100, (int)(llabs(cents[d]) % 100));
    s_bprintf(&b, ")%s", t->db.pg ? "; COMMIT" : "");
    rc = s_db_exec(&t->db, b.p, &r);
    if (rc != 0 && strcmp(r.state, "22012") == 0) { /* stale: read again */
        out = S_OUT_RETRY;
        s_res_free(&r);
    } else {
        out = s_sql_result(t, "delivery", &r, rc);
    }
    if (rc != 0 && t->db.pg) {
        s_db_exec(&t->db, "ROLLBACK", &r);
        s_res_free(&r);
    }
done:
    free(b.p);
    return out;
}

/* ---- Native implementation ---- */

static uint32_t
s_schema_args(s_term_t *t)
{
    for (int i = 0; i < S_NSCHEMA; i++)
        t->args[i] = hb_val_int(t->run->schema.v[i]);
    return S_NSCHEMA;
}

static s_out_t
s_native_call(s_term_t *t, const char *proc, uint32_t nargs, hb_result_t **out)
{
    *out = NULL;
    hb_rc_t rc = hb_client_call(t->cl, proc, t->args, nargs, S_TIMEOUT_MS, out);
    if (rc != HB_OK || !*out) {
        s_note_err(t, proc, hb_rc_str(rc),
                   *out ? (*out)->msg : hb_client_last_error(t->cl));
        hb_result_destroy(out);
        return S_OUT_FAIL;
    }
    if ((*out)->rc == HB_OK || (*out)->rc == HB_EXISTS)
        return S_OUT_OK;
    if (strncmp((*out)->msg, "40001", 5) == 0)
        return S_OUT_RETRY;
    return S_OUT_FAIL;
}

static s_out_t
s_native_new_order(s_term_t *t, const s_no_in_t *in)
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
    s_out_t out = s_native_call(t, "tpcc.new_order", n, &res);
    if (out == S_OUT_FAIL && res && in->item[in->n - 1] > S_ITEMS &&
        res->rc == HB_ABORTED && strstr(res->msg, "item number is not valid"))
        out = S_OUT_ROLLED;
    else if (out == S_OUT_FAIL && res)
        s_note_err(t, "tpcc.new_order", hb_rc_str(res->rc), res->msg);
    hb_result_destroy(&res);
    return out;
}

/* The customer of a last name at a snapshot: the customer_name index's
 * entries sorted by c_first, the middle one (position n/2 rounded up). */
static int
s_native_by_name(s_term_t *t, uint32_t w, uint32_t d, const char *last, uint64_t *epoch,
                 uint32_t *c)
{
    const s_schema_t *s = &t->run->schema;
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
        s_note_err(t, "by name", "02000", "no customer of that name");
    hb_scan_result_destroy(&res);
    return rc;
}

static s_out_t
s_native_payment(s_term_t *t, s_pay_in_t *in)
{
    uint64_t epoch = 0;
    if (!in->c && s_native_by_name(t, in->cw, in->cd, in->last, &epoch, &in->c) != 0)
        return S_OUT_FAIL;
    uint32_t n = s_schema_args(t);
    t->args[n++] = hb_val_int(in->w);
    t->args[n++] = hb_val_int(in->d);
    t->args[n++] = hb_val_int(in->cw);
    t->args[n++] = hb_val_int(in->cd);
    t->args[n++] = hb_val_int(in->c);
    t->args[n++] = hb_val_dec(in->cents, 2);
    hb_result_t *res;
    s_out_t out = s_native_call(t, "tpcc.payment", n, &res);
    if (out == S_OUT_FAIL && res)
        s_note_err(t, "tpcc.payment", hb_rc_str(res->rc), res->msg);
    hb_result_destroy(&res);
    return out;
}

static s_out_t
s_native_order_status(s_term_t *t)
{
    const s_schema_t *s = &t->run->schema;
    uint32_t d = (uint32_t)s_rand(&t->rng, 1, S_DIST), c;
    char last[20];
    uint64_t epoch = 0;
    bool by_name = s_pick_customer(t, &c, last);
    if (by_name && s_native_by_name(t, t->w, d, last, &epoch, &c) != 0)
        return S_OUT_FAIL;
    hb_key_t k;
    uint16_t part;
    hb_scan_result_t *res;
    s_nkey(&k, s->v[S_T_CUST], t->run->nparts, &part, 3, (int64_t)t->w, (int64_t)d,
           (int64_t)c);
    if (s_snap_get(t->cl, part, &k, &epoch, &res) != 0)
        return S_OUT_RETRY;
    bool found = res->nrows == 1;
    hb_scan_result_destroy(&res);
    if (!found) {
        s_note_err(t, "order_status", "02000", "no such customer");
        return S_OUT_FAIL;
    }
    /* The customer's newest order: the last orders_customer entry, on the
     * partition of the order rows (a partition hashes the table id too). */
    s_nkey(&k, s->v[S_T_ORD], t->run->nparts, &part, 1, (int64_t)t->w);
    const int64_t wdc[3] = {t->w, d, c};
    hb_tpcc_index_prefix(&k, (uint32_t)s->v[S_T_ORD], (uint32_t)s->v[9], wdc, 3);
    uint8_t end[HB_KEY_MAX + 1];
    size_t elen = s_prefix_end(&k, end);
    if (s_snap(t->cl, part, &k, end, elen, 10000, &epoch, &res) != 0)
        return S_OUT_RETRY;
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
        return S_OUT_OK; /* a customer without orders: nothing to show */
    s_nkey(&k, s->v[S_T_OL], t->run->nparts, &part, 3, (int64_t)t->w, (int64_t)d, o);
    elen = s_prefix_end(&k, end);
    if (s_snap(t->cl, part, &k, end, elen, 100, &epoch, &res) != 0)
        return S_OUT_RETRY;
    hb_scan_result_destroy(&res);
    return S_OUT_OK;
}

static s_out_t
s_native_stock_level(s_term_t *t, int threshold)
{
    const s_schema_t *s = &t->run->schema;
    uint64_t epoch = 0;
    hb_key_t k, e;
    uint16_t part;
    hb_scan_result_t *res;
    s_nkey(&k, s->v[S_T_DIST], t->run->nparts, &part, 2, (int64_t)t->w, (int64_t)t->d);
    if (s_snap_get(t->cl, part, &k, &epoch, &res) != 0)
        return S_OUT_RETRY;
    int64_t o = res->nrows ? s_col_i64(res->rows[0].val, res->rows[0].vlen, 10) : 0;
    hb_scan_result_destroy(&res);
    if (!o) {
        s_note_err(t, "stock_level", "02000", "no such district");
        return S_OUT_FAIL;
    }
    s_nkey(&k, s->v[S_T_OL], t->run->nparts, &part, 3, (int64_t)t->w, (int64_t)t->d,
           o - 20);
    s_nkey(&e, s->v[S_T_OL], t->run->nparts, NULL, 3, (int64_t)t->w, (int64_t)t->d, o);
    if (s_snap(t->cl, part, &k, e.buf, e.len, 1000, &epoch, &res) != 0)
        return S_OUT_RETRY;
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
            return S_OUT_RETRY;
        if (res->nrows && s_col_i64(res->rows[0].val, res->rows[0].vlen, 2) < threshold)
            low++;
        hb_scan_result_destroy(&res);
    }
    (void)low;
    return S_OUT_OK;
}

static s_out_t
s_native_delivery(s_term_t *t, int carrier)
{
    const s_schema_t *s = &t->run->schema;
    uint64_t epoch = 0;
    uint32_t n = s_schema_args(t);
    t->args[n++] = hb_val_int(t->w);
    t->args[n++] = hb_val_int(carrier);
    for (int d = 1; d <= S_DIST; d++) {
        hb_key_t k;
        uint16_t part;
        uint8_t end[HB_KEY_MAX + 1];
        hb_scan_result_t *res;
        s_nkey(&k, s->v[S_T_NO], t->run->nparts, &part, 2, (int64_t)t->w, (int64_t)d);
        size_t elen = s_prefix_end(&k, end);
        if (s_snap(t->cl, part, &k, end, elen, 1, &epoch, &res) != 0)
            return S_OUT_RETRY;
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
                return S_OUT_RETRY;
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
    s_out_t out = s_native_call(t, "tpcc.delivery", n, &res);
    if (out == S_OUT_FAIL && res)
        s_note_err(t, "tpcc.delivery", hb_rc_str(res->rc), res->msg);
    hb_result_destroy(&res);
    return out;
}

/* ---- The terminal loop ---- */

static void
s_shuffle_deck(s_term_t *t)
{
    static const int share[S_NTX] = {45, 43, 4, 4, 4};
    uint32_t n = 0;
    for (int x = 0; x < S_NTX; x++)
        for (int i = 0; i < share[x]; i++)
            t->deck[n++] = (uint8_t)x;
    for (uint32_t i = 99; i > 0; i--) {
        uint32_t j = (uint32_t)s_rand(&t->rng, 0, i);
        uint8_t v = t->deck[i];
        t->deck[i] = t->deck[j];
        t->deck[j] = v;
    }
    t->deck_pos = 0;
}

/* Sleeps us microseconds unless the run stops first. */
static void
s_pause(const s_run_t *run, uint64_t us)
{
    uint64_t until = bench_now_us() + us;
    while (!run->stop) {
        uint64_t now = bench_now_us();
        if (now >= until)
            break;
        uint64_t left = until - now;
        usleep((useconds_t)(left > 100000 ? 100000 : left));
    }
}

static s_out_t
s_attempt(s_term_t *t, s_tx_t x, const s_no_in_t *no, s_pay_in_t *pay, int carrier,
          int thr)
{
    bool native = t->run->o.native;
    switch (x) {
    case S_NO:
        return native ? s_native_new_order(t, no) : s_sql_new_order(t, no);
    case S_PAY:
        return native ? s_native_payment(t, pay) : s_sql_payment(t, pay);
    case S_OS:
        return native ? s_native_order_status(t) : s_sql_order_status(t);
    case S_DEL:
        return native ? s_native_delivery(t, carrier) : s_sql_delivery(t, carrier);
    case S_SL:
        return native ? s_native_stock_level(t, thr) : s_sql_stock_level(t, thr);
    default:
        return S_OUT_FAIL;
    }
}

static void *
s_terminal(void *arg)
{
    s_term_t *t = arg;
    s_run_t *run = t->run;
    static const double keying_s[S_NTX] = {18, 3, 2, 2, 2};
    static const double think_s[S_NTX] = {12, 12, 10, 5, 5};
    s_shuffle_deck(t);
    while (!run->stop) {
        if (t->deck_pos == 100)
            s_shuffle_deck(t);
        s_tx_t x = (s_tx_t)t->deck[t->deck_pos++];
        if (run->o.spec_timing)
            s_pause(run, (uint64_t)(keying_s[x] * 1e6));
        if (run->stop)
            break;
        s_no_in_t no;
        s_pay_in_t pay;
        int carrier = (int)s_rand(&t->rng, 1, 10), thr = (int)s_rand(&t->rng, 10, 20);
        if (x == S_NO)
            s_gen_no(t, &no);
        if (x == S_PAY)
            s_gen_pay(t, &pay);
        uint64_t t0 = bench_now_us();
        s_out_t out;
        uint32_t tries = 0;
        for (;;) {
            out = s_attempt(t, x, &no, &pay, carrier, thr);
            if (out != S_OUT_RETRY || tries >= run->o.retries || run->stop)
                break;
            tries++;
            /* A conflict or a read at another epoch: give the cluster an
             * epoch or so to move on before trying again. */
            usleep(1000u * (tries < 10 ? tries : 10));
        }
        uint64_t t1 = bench_now_us();
        if (out == S_OUT_RETRY)
            out = S_OUT_FAIL; /* out of retries */
        atomic_fetch_add(&run->done[x], 1);
        if (out == S_OUT_FAIL)
            atomic_fetch_add(&run->fails, 1);
        if (s_measuring(run, t1)) {
            if (out == S_OUT_OK)
                t->ok[x]++;
            else if (out == S_OUT_ROLLED)
                t->rolled[x]++;
            else
                t->failed[x]++;
            t->retries[x] += tries;
            if (out != S_OUT_FAIL) {
                bench_hist_add(&t->hist[x], t1 - t0);
                uint64_t sec = (t1 - run->t_start) / 1000000;
                if (sec < S_TL_MAX) {
                    atomic_fetch_add(&run->tl_all[sec], 1);
                    if (x == S_NO)
                        atomic_fetch_add(&run->tl_no[sec], 1);
                }
            }
        }
        if (run->o.spec_timing) {
            /* Negative exponential think time, at most 10x the mean. */
            double u = (double)(s_rand(&t->rng, 1, 1000000)) / 1000001.0;
            double th = -log(u) * think_s[x];
            s_pause(run, (uint64_t)((th > 10 * think_s[x] ? 10 * think_s[x] : th) * 1e6));
        }
    }
    return NULL;
}

/* Reads tpcc_meta (warehouses loaded, load-time C) and picks run-time C
 * values by clause 2.1.6.1: C_LAST differs from the load's by 65..119,
 * never 96 or 112. */
static int
s_read_meta(s_run_t *run, s_db_t *db)
{
    s_res_t r;
    if (s_db_must(db, "SELECT warehouses, c_last, c_id, i_id FROM tpcc_meta WHERE id = 1",
                  &r) != 0 ||
        s_nrows(&r, -1) != 1) {
        if (!strcmp(r.state, "00000"))
            fprintf(stderr,
                    "hobbes-bench: tpcc: no tpcc_meta row: run `tpcc load` first\n");
        s_res_free(&r);
        return -1;
    }
    uint32_t loaded = (uint32_t)s_cell_i64(&r, -1, 0, 0);
    int c_load = (int)s_cell_i64(&r, -1, 0, 1);
    s_res_free(&r);
    if (!run->o.warehouses)
        run->o.warehouses = loaded;
    if (run->o.warehouses > loaded) {
        fprintf(stderr, "hobbes-bench: tpcc: --warehouses %u but only %u are loaded\n",
                run->o.warehouses, loaded);
        return -1;
    }
    s_rng_t rng;
    s_rng_seed(&rng, run->o.seed ^ 0xBADC0DEu);
    int c;
    for (;;) {
        c = (int)s_rand(&rng, 0, 255);
        int delta = abs(c - c_load);
        if (delta >= 65 && delta <= 119 && delta != 96 && delta != 112)
            break;
    }
    run->c_run.c_last = c;
    run->c_run.c_id = (int)s_rand(&rng, 0, 1023);
    run->c_run.i_id = (int)s_rand(&rng, 0, 8191);
    return 0;
}

typedef struct {
    bench_hist_t hist[S_NTX];
    uint64_t ok[S_NTX], rolled[S_NTX], retries[S_NTX], failed[S_NTX];
} s_sum_t;

static void
s_write_json(const s_run_t *run, const s_sum_t *sum, double secs, double tpmc,
             uint32_t nsecs)
{
    const s_opts_t *o = &run->o;
    FILE *f = fopen(o->json, "w");
    if (!f) {
        fprintf(stderr, "hobbes-bench: cannot write %s: %s\n", o->json, strerror(errno));
        return;
    }
    uint64_t ok = 0, rolled = 0, retries = 0, failed = 0;
    for (int x = 0; x < S_NTX; x++) {
        ok += sum->ok[x];
        rolled += sum->rolled[x];
        retries += sum->retries[x];
        failed += sum->failed[x];
    }
    fprintf(f, "{\n  \"workload\": \"tpcc\",\n  \"target\": \"%s\",\n",
            o->target ? "postgres" : "hobbes");
    if (o->label) {
        fprintf(f, "  \"label\": \"");
        for (const unsigned char *p = (const unsigned char *)o->label; *p; p++)
            if (*p == '"' || *p == '\\')
                fprintf(f, "\\%c", *p);
            else if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        fprintf(f, "\",\n");
    }
    fprintf(f,
            "  \"params\": {\"impl\": \"%s\", \"warehouses\": %u, \"clients\": %u, "
            "\"duration_s\": %u, \"warmup_s\": %u, \"spec_timing\": %s, \"retries\": %u, "
            "\"partitions\": %u, \"seed\": %" PRIu64 "},\n",
            o->native ? "native" : "sql", o->warehouses, o->clients, o->duration,
            o->warmup, o->spec_timing ? "true" : "false", o->retries, run->nparts,
            o->seed);
    fprintf(f,
            "  \"headline\": {\"name\": \"%s\", \"value\": %.1f},\n  \"tpmc\": %.1f,\n"
            "  \"elapsed_s\": %.3f,\n  \"throughput_ops\": %.1f,\n  \"ok\": %" PRIu64
            ",\n  \"rolled_back\": %" PRIu64 ",\n  \"retries\": %" PRIu64
            ",\n  \"failed\": %" PRIu64 ",\n  \"errors\": %" PRIu64 ",\n",
            o->spec_timing ? "tpmC" : "tpmC-like", tpmc, tpmc, secs,
            secs > 0 ? (double)(ok + rolled) / secs : 0, ok, rolled, retries, failed,
            failed);
    fprintf(f, "  \"timeline\": [");
    for (uint32_t s = 0; s < nsecs; s++)
        fprintf(f, "%s[%u, %" PRIu64 "]", s ? ", " : "", s + 1, (uint64_t)run->tl_all[s]);
    fprintf(f, "],\n  \"timeline_tpmc\": [");
    for (uint32_t s = 0; s < nsecs; s++)
        fprintf(f, "%s[%u, %" PRIu64 "]", s ? ", " : "", s + 1,
                (uint64_t)run->tl_no[s] * 60);
    fprintf(f, "],\n  \"latency_cdf\": {");
    for (int x = 0; x < S_NTX; x++) {
        fprintf(f, "%s\n    \"%s\": ", x ? "," : "", s_tx_name[x]);
        bench_hist_cdf_json(f, &sum->hist[x]);
    }
    fprintf(f, "\n  },\n  \"ops\": {");
    for (int x = 0; x < S_NTX; x++) {
        const bench_hist_t *h = &sum->hist[x];
        fprintf(f,
                "%s\n    \"%s\": {\"ok\": %" PRIu64 ", \"rolled_back\": %" PRIu64
                ", \"retries\": %" PRIu64 ", \"failed\": %" PRIu64
                ", \"throughput_ops\": %.1f, \"latency_us\": {\"p50\": %" PRIu64
                ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64
                ", \"mean\": %.1f}}",
                x ? "," : "", s_tx_name[x], sum->ok[x], sum->rolled[x], sum->retries[x],
                sum->failed[x],
                secs > 0 ? (double)(sum->ok[x] + sum->rolled[x]) / secs : 0,
                bench_hist_quantile(h, 0.5), bench_hist_quantile(h, 0.9),
                bench_hist_quantile(h, 0.99), h->max,
                h->count ? (double)h->sum / (double)h->count : 0.0);
    }
    fprintf(f, "\n  }\n}\n");
    fclose(f);
}

static void
s_write_csv(const s_run_t *run, const s_sum_t *sum, double secs, double tpmc)
{
    const s_opts_t *o = &run->o;
    FILE *f = fopen(o->csv, "w");
    if (!f) {
        fprintf(stderr, "hobbes-bench: cannot write %s: %s\n", o->csv, strerror(errno));
        return;
    }
    fprintf(f,
            "target,impl,warehouses,clients,duration_s,txn,ok,rolled_back,retries,failed,"
            "throughput_ops,p50_us,p90_us,p99_us,max_us,tpmc\n");
    for (int x = 0; x < S_NTX; x++) {
        const bench_hist_t *h = &sum->hist[x];
        fprintf(f,
                "%s,%s,%u,%u,%u,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%.1f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f\n",
                o->target ? "postgres" : "hobbes", o->native ? "native" : "sql",
                o->warehouses, o->clients, o->duration, s_tx_name[x], sum->ok[x],
                sum->rolled[x], sum->retries[x], sum->failed[x],
                secs > 0 ? (double)(sum->ok[x] + sum->rolled[x]) / secs : 0,
                bench_hist_quantile(h, 0.5), bench_hist_quantile(h, 0.9),
                bench_hist_quantile(h, 0.99), h->max, tpmc);
    }
    fclose(f);
}

static int
s_run(s_opts_t *o)
{
    s_run_t *run = calloc(1, sizeof *run);
    run->o = *o;
    o = &run->o;
    char err[256];
    s_db_t db;
    if (s_db_open(o, &db, err, sizeof err) != 0) {
        fprintf(stderr, "hobbes-bench: tpcc run: connect: %s\n", err);
        free(run);
        return 1;
    }
    int rc = s_read_meta(run, &db);
    s_db_close(&db);
    if (rc != 0) {
        free(run);
        return 1;
    }
    if (!o->clients)
        o->clients = o->spec_timing ? 10 * o->warehouses : 4 * o->warehouses;
    if (o->native) {
        hb_client_t *cl = hb_client_new(o->config, 0, err, sizeof err);
        if (!cl) {
            fprintf(stderr, "hobbes-bench: tpcc run: %s\n", err);
            free(run);
            return 1;
        }
        run->nparts = hb_client_partitions(cl);
        rc = s_schema_load(cl, &run->schema);
        hb_client_destroy(&cl);
        if (rc != 0) {
            free(run);
            return 1;
        }
    }
    s_term_t *terms = calloc(o->clients, sizeof *terms);
    pthread_t *th = calloc(o->clients, sizeof *th);
    for (uint32_t i = 0; i < o->clients; i++) {
        s_term_t *t = &terms[i];
        t->run = run;
        t->id = i;
        t->w = 1 + i % o->warehouses;
        t->d = 1 + (i / o->warehouses) % S_DIST;
        s_rng_seed(&t->rng, o->seed * 7919u + i + 1);
        t->hist = calloc(S_NTX, sizeof *t->hist);
        int ok = o->native
                     ? ((t->cl = hb_client_new(o->config, 0, err, sizeof err)) != NULL)
                     : s_db_open(o, &t->db, err, sizeof err) == 0;
        if (!ok) {
            fprintf(stderr, "hobbes-bench: tpcc run: terminal %u: %s\n", i, err);
            return 1;
        }
        if (t->cl)
            hb_client_set_retry(t->cl, 0);
    }
    printf("tpcc run: %s, %s procedures, %u warehouses, %u terminals, %u s (+%u s "
           "warmup)%s\n",
           o->target ? "PostgreSQL" : "Hobbes", o->native ? "native" : "SQL",
           o->warehouses, o->clients, o->duration, o->warmup,
           o->spec_timing ? ", keying and think times" : "");
    uint64_t t0 = bench_now_us();
    run->t_start = t0 + (uint64_t)o->warmup * 1000000;
    run->t_end = run->t_start + (uint64_t)o->duration * 1000000;
    for (uint32_t i = 0; i < o->clients; i++)
        pthread_create(&th[i], NULL, s_terminal, &terms[i]);
    uint64_t last_no = 0, last_all = 0;
    for (uint32_t s = 1; s <= o->warmup + o->duration; s++) {
        uint64_t due = t0 + (uint64_t)s * 1000000, now = bench_now_us();
        if (due > now)
            usleep((useconds_t)(due - now));
        uint64_t all = 0, no = run->done[S_NO];
        for (int x = 0; x < S_NTX; x++)
            all += run->done[x];
        fprintf(stderr,
                "[%4u s]%s %6" PRIu64 " txn/s  %7" PRIu64 " New-Orders/min  %" PRIu64
                " failed\n",
                s, s <= o->warmup ? " warmup" : "", all - last_all, (no - last_no) * 60,
                (uint64_t)run->fails);
        last_no = no;
        last_all = all;
    }
    run->stop = 1;
    for (uint32_t i = 0; i < o->clients; i++)
        pthread_join(th[i], NULL);
    s_sum_t *sum = calloc(1, sizeof *sum);
    const char *lasterr = NULL;
    for (uint32_t i = 0; i < o->clients; i++) {
        s_term_t *t = &terms[i];
        for (int x = 0; x < S_NTX; x++) {
            bench_hist_merge(&sum->hist[x], &t->hist[x]);
            sum->ok[x] += t->ok[x];
            sum->rolled[x] += t->rolled[x];
            sum->retries[x] += t->retries[x];
            sum->failed[x] += t->failed[x];
        }
        if (t->err[0])
            lasterr = t->err;
    }
    double secs = (double)o->duration;
    uint64_t no_done = sum->ok[S_NO] + sum->rolled[S_NO], total = 0, failed = 0;
    double tpmc = secs > 0 ? (double)no_done * 60.0 / secs : 0;
    printf("\n%-13s %9s %8s %8s %7s %9s %9s %9s %9s\n", "transaction", "ok", "rolled",
           "retries", "failed", "txn/s", "p50 ms", "p90 ms", "p99 ms");
    for (int x = 0; x < S_NTX; x++) {
        const bench_hist_t *h = &sum->hist[x];
        total += sum->ok[x] + sum->rolled[x];
        failed += sum->failed[x];
        printf("%-13s %9" PRIu64 " %8" PRIu64 " %8" PRIu64 " %7" PRIu64
               " %9.1f %9.2f %9.2f %9.2f\n",
               s_tx_name[x], sum->ok[x], sum->rolled[x], sum->retries[x], sum->failed[x],
               (double)(sum->ok[x] + sum->rolled[x]) / secs,
               (double)bench_hist_quantile(h, 0.5) / 1000,
               (double)bench_hist_quantile(h, 0.9) / 1000,
               (double)bench_hist_quantile(h, 0.99) / 1000);
    }
    printf("\n%s: %.1f New-Orders per minute (%" PRIu64
           " transactions, %.1f txn/s, %" PRIu64 " failed)\n",
           o->spec_timing ? "tpmC" : "tpmC-like", tpmc, total, (double)total / secs,
           failed);
    if (total) {
        double share[S_NTX];
        printf("mix:");
        for (int x = 0; x < S_NTX; x++) {
            share[x] = 100.0 * (double)(sum->ok[x] + sum->rolled[x]) / (double)total;
            printf(" %s %.1f%%", s_tx_name[x], share[x]);
        }
        printf("; New-Order rollbacks %.2f%%\n",
               no_done ? 100.0 * (double)sum->rolled[S_NO] / (double)no_done : 0);
    }
    if (lasterr)
        fprintf(stderr, "last error: %s\n", lasterr);
    if (o->json)
        s_write_json(run, sum, secs, tpmc,
                     o->duration < S_TL_MAX ? o->duration : S_TL_MAX);
    if (o->csv)
        s_write_csv(run, sum, secs, tpmc);
    for (uint32_t i = 0; i < o->clients; i++) {
        s_db_close(&terms[i].db);
        hb_client_destroy(&terms[i].cl);
        free(terms[i].hist);
    }
    free(terms);
    free(th);
    free(sum);
    free(run);
    return total > 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* Check (clause 3.3.2)                                                 */
/* ------------------------------------------------------------------ */

typedef struct {
    uint32_t w;    /* warehouses */
    int64_t *v[8]; /* per (w, d) slot arrays */
} s_chk_t;

#define S_WD(w, d) ((size_t)(w) * (S_DIST + 1) + (size_t)(d))

/* Runs a query whose rows are (w, d, value...) or (w, value...) and stores
 * column vcol of each row (as cents when cents) into arr at (w, d). */
static int
s_chk_fill(s_db_t *db, const char *sql, bool with_d, uint32_t vcol, bool cents,
           uint32_t nw, int64_t *arr)
{
    s_res_t r;
    if (s_db_must(db, sql, &r) != 0) {
        s_res_free(&r);
        return -1;
    }
    for (uint32_t i = 0; i < s_nrows(&r, -1); i++) {
        int64_t w = s_cell_i64(&r, -1, i, 0), d = with_d ? s_cell_i64(&r, -1, i, 1) : 0;
        if (w < 1 || w > nw || d < 0 || d > S_DIST)
            continue;
        arr[S_WD(w, d)] =
            cents ? s_cell_cents(&r, -1, i, vcol) : s_cell_i64(&r, -1, i, vcol);
    }
    s_res_free(&r);
    return 0;
}

static int
s_check(s_opts_t *o)
{
    char err[256], sql[512];
    s_db_t db;
    if (s_db_open(o, &db, err, sizeof err) != 0) {
        fprintf(stderr, "hobbes-bench: tpcc check: connect: %s\n", err);
        return 1;
    }
    s_run_t *run = calloc(1, sizeof *run);
    run->o = *o;
    if (s_read_meta(run, &db) != 0) {
        s_db_close(&db);
        free(run);
        return 1;
    }
    uint32_t nw = run->o.warehouses;
    free(run);
    size_t slots = S_WD(nw, S_DIST) + 1;
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
    int64_t *a[NARR];
    for (int i = 0; i < NARR; i++)
        a[i] = calloc(slots, sizeof(int64_t));
    uint64_t t0 = bench_now_us();
    int rc = 0;
    rc |= s_chk_fill(&db, "SELECT w_id, w_ytd FROM warehouse", false, 1, true, nw,
                     a[W_YTD]);
    rc |= s_chk_fill(&db, "SELECT d_w_id, d_id, d_ytd, d_next_o_id FROM district", true,
                     2, true, nw, a[D_YTD]);
    rc |= s_chk_fill(&db, "SELECT d_w_id, d_id, d_ytd, d_next_o_id FROM district", true,
                     3, false, nw, a[NEXT]);
    rc |= s_chk_fill(
        &db, "SELECT h_w_id, h_d_id, sum(h_amount) FROM history GROUP BY h_w_id, h_d_id",
        true, 2, true, nw, a[H_D]);
    for (uint32_t w = 1; w <= nw && rc == 0; w++) {
        snprintf(sql, sizeof sql,
                 "SELECT o_w_id, o_d_id, max(o_id), sum(o_ol_cnt) FROM orders WHERE "
                 "o_w_id = %u "
                 "GROUP BY o_w_id, o_d_id",
                 w);
        rc |= s_chk_fill(&db, sql, true, 2, false, nw, a[MAX_O]);
        rc |= s_chk_fill(&db, sql, true, 3, false, nw, a[OL_SUM]);
        snprintf(sql, sizeof sql,
                 "SELECT no_w_id, no_d_id, max(no_o_id), min(no_o_id), count(*) FROM "
                 "new_order "
                 "WHERE no_w_id = %u GROUP BY no_w_id, no_d_id",
                 w);
        rc |= s_chk_fill(&db, sql, true, 2, false, nw, a[NO_MAX]);
        rc |= s_chk_fill(&db, sql, true, 3, false, nw, a[NO_MIN]);
        rc |= s_chk_fill(&db, sql, true, 4, false, nw, a[NO_CNT]);
        snprintf(sql, sizeof sql,
                 "SELECT ol_w_id, ol_d_id, count(*) FROM order_line WHERE ol_w_id = %u "
                 "GROUP BY "
                 "ol_w_id, ol_d_id",
                 w);
        rc |= s_chk_fill(&db, sql, true, 2, false, nw, a[OL_CNT]);
        snprintf(sql, sizeof sql,
                 "SELECT o_w_id, o_d_id, count(*), sum(o_ol_cnt) FROM orders WHERE "
                 "o_w_id = %u "
                 "AND o_carrier_id IS NULL GROUP BY o_w_id, o_d_id",
                 w);
        rc |= s_chk_fill(&db, sql, true, 2, false, nw, a[O_NULL]);
        rc |= s_chk_fill(&db, sql, true, 3, false, nw, a[OL_NULL_WANT]);
        snprintf(
            sql, sizeof sql,
            "SELECT ol_w_id, ol_d_id, count(*) FROM order_line WHERE ol_w_id = %u AND "
            "ol_delivery_d IS NULL GROUP BY ol_w_id, ol_d_id",
            w);
        rc |= s_chk_fill(&db, sql, true, 2, false, nw, a[OL_NULL]);
    }
    s_db_close(&db);
    if (rc != 0) {
        for (int i = 0; i < NARR; i++)
            free(a[i]);
        return 1;
    }
    static const char *const what[] = {
        "1: W_YTD = sum(D_YTD)",
        "2: D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID)",
        "3: max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW_ORDER)",
        "4: sum(O_OL_CNT) = count(ORDER_LINE)",
        "5: count(O_CARRIER_ID IS NULL) = count(NEW_ORDER)",
        "7: count(OL_DELIVERY_D IS NULL) = sum(O_OL_CNT of undelivered orders)",
        "8: W_YTD = sum(H_AMOUNT) of the warehouse",
        "9: D_YTD = sum(H_AMOUNT) of the district",
    };
    uint32_t bad[8] = {0};
    char first[8][160] = {{0}};
#define S_BAD(i, ...)                                                                    \
    do {                                                                                 \
        if (!bad[i]++)                                                                   \
            snprintf(first[i], sizeof first[i], __VA_ARGS__);                            \
    } while (0)
    for (uint32_t w = 1; w <= nw; w++) {
        int64_t dsum = 0, hsum = 0;
        for (uint32_t d = 1; d <= S_DIST; d++) {
            size_t s = S_WD(w, d);
            dsum += a[D_YTD][s];
            hsum += a[H_D][s];
            if (a[NEXT][s] - 1 != a[MAX_O][s] ||
                (a[NO_CNT][s] && a[NO_MAX][s] != a[MAX_O][s]))
                S_BAD(1,
                      "w %u d %u: next %" PRId64 ", max(o_id) %" PRId64
                      ", max(no_o_id) %" PRId64,
                      w, d, a[NEXT][s], a[MAX_O][s], a[NO_MAX][s]);
            if (a[NO_CNT][s] && a[NO_MAX][s] - a[NO_MIN][s] + 1 != a[NO_CNT][s])
                S_BAD(2, "w %u d %u: max %" PRId64 " min %" PRId64 " count %" PRId64, w,
                      d, a[NO_MAX][s], a[NO_MIN][s], a[NO_CNT][s]);
            if (a[OL_SUM][s] != a[OL_CNT][s])
                S_BAD(3, "w %u d %u: sum(o_ol_cnt) %" PRId64 ", order lines %" PRId64, w,
                      d, a[OL_SUM][s], a[OL_CNT][s]);
            if (a[O_NULL][s] != a[NO_CNT][s])
                S_BAD(4, "w %u d %u: undelivered orders %" PRId64 ", new orders %" PRId64,
                      w, d, a[O_NULL][s], a[NO_CNT][s]);
            if (a[OL_NULL][s] != a[OL_NULL_WANT][s])
                S_BAD(5, "w %u d %u: undelivered lines %" PRId64 ", want %" PRId64, w, d,
                      a[OL_NULL][s], a[OL_NULL_WANT][s]);
            if (a[D_YTD][s] != a[H_D][s])
                S_BAD(7, "w %u d %u: d_ytd %" PRId64 " cents, history %" PRId64, w, d,
                      a[D_YTD][s], a[H_D][s]);
        }
        if (a[W_YTD][S_WD(w, 0)] != dsum)
            S_BAD(0, "w %u: w_ytd %" PRId64 " cents, sum(d_ytd) %" PRId64, w,
                  a[W_YTD][S_WD(w, 0)], dsum);
        if (a[W_YTD][S_WD(w, 0)] != hsum)
            S_BAD(6, "w %u: w_ytd %" PRId64 " cents, history %" PRId64, w,
                  a[W_YTD][S_WD(w, 0)], hsum);
    }
#undef S_BAD
    int failed = 0;
    for (int i = 0; i < 8; i++) {
        printf("condition %-66s %s", what[i], bad[i] ? "FAILED" : "ok");
        if (bad[i]) {
            printf(" (%u districts/warehouses; first: %s)", bad[i], first[i]);
            failed = 1;
        }
        printf("\n");
    }
    printf("tpcc check: %u warehouses, %s in %.1f s\n", nw,
           failed ? "CONSISTENCY CONDITIONS VIOLATED" : "all conditions hold",
           (double)(bench_now_us() - t0) / 1e6);
    for (int i = 0; i < NARR; i++)
        free(a[i]);
    return failed;
}

/* ------------------------------------------------------------------ */
/* Command line                                                         */
/* ------------------------------------------------------------------ */

void
bench_tpcc_usage(void)
{
    fprintf(
        stderr,
        "       hobbes-bench tpcc load --warehouses W [--config FILE | --target URL] "
        "[--loaders N] [--seed N]\n"
        "       hobbes-bench tpcc run [--config FILE | --target URL] [--impl native|sql] "
        "[--warehouses W]\n"
        "                         [--clients N] [--duration S] [--warmup S] "
        "[--spec-timing] "
        "[--retries N]\n"
        "                         [--json FILE] [--csv FILE] [--label TEXT] [--seed N] "
        "[--sqlfront ID]\n"
        "       hobbes-bench tpcc check [--config FILE | --target URL]\n");
}

int
bench_tpcc_main(int argc, char **argv)
{
    if (argc < 3 ||
        (strcmp(argv[2], "load") && strcmp(argv[2], "run") && strcmp(argv[2], "check"))) {
        bench_tpcc_usage();
        return 2;
    }
    const char *cmd = argv[2];
    s_opts_t o = {.config = getenv("HOBBES_CONFIG"),
                  .loaders = 16,
                  .duration = 60,
                  .warmup = 5,
                  .retries = 10,
                  .seed = 1};
    const char *impl = "sql";
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"target", required_argument, NULL, 't'},
        {"warehouses", required_argument, NULL, 'W'},
        {"loaders", required_argument, NULL, 'L'},
        {"clients", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"impl", required_argument, NULL, 'i'},
        {"spec-timing", no_argument, NULL, 'S'},
        {"json", required_argument, NULL, 'j'},
        {"csv", required_argument, NULL, 'v'},
        {"seed", required_argument, NULL, 's'},
        {"retries", required_argument, NULL, 'r'},
        {"sqlfront", required_argument, NULL, 'f'},
        {"label", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    uint64_t v;
    optind = 3;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'c':
            o.config = optarg;
            break;
        case 't':
            o.target = strcmp(optarg, "hobbes") == 0 ? NULL : optarg;
            break;
        case 'W':
            bad = bench_parse_u64(optarg, 1, 10000, &v);
            o.warehouses = (uint32_t)v;
            break;
        case 'L':
            bad = bench_parse_u64(optarg, 1, 256, &v);
            o.loaders = (uint32_t)v;
            break;
        case 'n':
            bad = bench_parse_u64(optarg, 1, 4096, &v);
            o.clients = (uint32_t)v;
            break;
        case 'd':
            bad = bench_parse_u64(optarg, 1, S_TL_MAX, &v);
            o.duration = (uint32_t)v;
            break;
        case 'w':
            bad = bench_parse_u64(optarg, 0, 3600, &v);
            o.warmup = (uint32_t)v;
            break;
        case 'i':
            impl = optarg;
            break;
        case 'S':
            o.spec_timing = 1;
            break;
        case 'j':
            o.json = optarg;
            break;
        case 'v':
            o.csv = optarg;
            break;
        case 's':
            bad = bench_parse_u64(optarg, 0, UINT32_MAX, &v);
            o.seed = v;
            break;
        case 'r':
            bad = bench_parse_u64(optarg, 0, 1000, &v);
            o.retries = (uint32_t)v;
            break;
        case 'f':
            bad = bench_parse_u64(optarg, 0, 63, &v);
            o.sqlfront = (uint16_t)v;
            break;
        case 'l':
            o.label = optarg;
            break;
        default:
            bad = 1;
            break;
        }
        if (bad) {
            fprintf(stderr, "hobbes-bench: tpcc: bad value for an option\n");
            bench_tpcc_usage();
            return 2;
        }
    }
    if (optind != argc) {
        bench_tpcc_usage();
        return 2;
    }
    if (strcmp(impl, "native") == 0) {
        o.native = 1;
    } else if (strcmp(impl, "sql") != 0) {
        fprintf(stderr, "hobbes-bench: tpcc: --impl must be native or sql\n");
        return 2;
    }
    if (!o.target && !o.config) {
        fprintf(
            stderr,
            "hobbes-bench: tpcc: --config FILE (or $HOBBES_CONFIG) or --target URL\n");
        return 2;
    }
    if (o.target && o.native) {
        fprintf(stderr,
                "hobbes-bench: tpcc: --impl native needs a Hobbes cluster (PostgreSQL "
                "runs the SQL procedures)\n");
        return 2;
    }
    if (!o.target) { /* fail early on a config that does not load */
        char err[512];
        hb_config_t *cfg = NULL;
        if (hb_config_load(o.config, &cfg, err, sizeof err) != HB_OK) {
            fprintf(stderr, "hobbes-bench: %s\n", err);
            return 2;
        }
        hb_config_destroy(&cfg);
    }
    if (strcmp(cmd, "load") == 0) {
        if (!o.warehouses) {
            fprintf(stderr, "hobbes-bench: tpcc load: --warehouses W is required\n");
            return 2;
        }
        return s_load(&o);
    }
    if (strcmp(cmd, "run") == 0)
        return s_run(&o);
    return s_check(&o);
}
