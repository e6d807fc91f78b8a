/* tpcc_int.h — what the files of `hobbes-bench tpcc` share.
 *
 * Private to tools/tpcc/ (bench.c sees only bench_tpcc.h). It holds the
 * scale constants of TPC-C, the options, the SQL connection that is either
 * a Hobbes session or a PostgreSQL connection (tpcc_db.c), the random
 * inputs (tpcc_rand.c), the schema and load (tpcc_schema.c, tpcc_load.c),
 * the terminal and run state of `run` (tpcc_run.c) and the two
 * implementations of the five transactions it calls: SQL procedures
 * (tpcc_sql.c) and native tpcc.* procedures (tpcc_native.c). `check` is
 * tpcc_check.c; the command line is bench_tpcc.c.
 */
#ifndef TPCC_INT_H
#define TPCC_INT_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_hist.h"
#include "hobbes.h"

#define TPCC_DIST       10     /* districts per warehouse */
#define TPCC_CUST       3000   /* customers per district */
#define TPCC_ITEMS      100000 /* items, and stock rows per warehouse */
#define TPCC_ORDERS     3000   /* loaded orders per district */
#define TPCC_NO_FIRST   2101   /* first loaded order that is still new */
#define TPCC_TIMEOUT_MS 30000  /* one statement or call */
#define TPCC_NSCHEMA    11     /* schema arguments of every tpcc.* procedure */
#define TPCC_TL_MAX     3600   /* seconds of the measured timeline */

/* The five transactions, in the order of the reports. */
typedef enum { TPCC_NO = 0, TPCC_PAY, TPCC_OS, TPCC_DEL, TPCC_SL, TPCC_NTX } tpcc_tx_t;

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
} tpcc_opts_t;

/* ------------------------------------------------------------------ */
/* One SQL connection: a Hobbes session or a PostgreSQL connection     */
/* (tpcc_db.c)                                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    hb_sql_t *hb; /* Hobbes session, or NULL */
    PGconn *pg;   /* PostgreSQL connection, or NULL */
} tpcc_db_t;

/* The outcome of one tpcc_db_exec: the first failure's SQLSTATE ("00000"
 * when every statement succeeded) and the rows of each statement that
 * returned columns, in order (at most TPCC_SETS). */
#define TPCC_SETS 32
typedef struct {
    uint32_t nrows, ncols;
    const hb_sql_result_t *h; /* Hobbes rows, or NULL */
    PGresult *p;              /* PostgreSQL rows (owned), or NULL */
} tpcc_set_t;

typedef struct {
    char state[6];
    char msg[256];
    uint32_t nsets;
    tpcc_set_t set[TPCC_SETS];
    hb_sql_result_t *hres; /* Hobbes results (owned) */
} tpcc_res_t;

/* Opens the connection o names (--target, else the cluster of --config).
 * Returns 0, or -1 with a message in err (db then holds nothing). */
int tpcc_db_open(const tpcc_opts_t *o, tpcc_db_t *db, char *err, size_t errlen);

/* Closes db (either kind; an unopened, zeroed db is fine). */
void tpcc_db_close(tpcc_db_t *db);

/* Runs sql (one or more statements). Returns 0 when all succeeded, else -1
 * with r->state and r->msg set; r must be freed with tpcc_res_free either
 * way. */
int tpcc_db_exec(tpcc_db_t *db, const char *sql, tpcc_res_t *r);

/* tpcc_db_exec for sql that must succeed: prints the failure and returns
 * -1 if not (r freed by the caller either way). */
int tpcc_db_must(tpcc_db_t *db, const char *sql, tpcc_res_t *r);

/* Frees what r holds and zeroes it. */
void tpcc_res_free(tpcc_res_t *r);

/* Records a failure in r unless one is already recorded. */
void tpcc_res_fail(tpcc_res_t *r, const char *state, const char *msg);

/* Rows of result set k (k < 0: the last one); 0 when there is none. */
uint32_t tpcc_nrows(const tpcc_res_t *r, int k);

/* Cell (i, j) of result set k (k < 0: the last) as an integer, or as a
 * decimal in hundredths, exactly; 0 for NULL or a missing cell. */
int64_t tpcc_cell_i64(const tpcc_res_t *r, int k, uint32_t i, uint32_t j);
int64_t tpcc_cell_cents(const tpcc_res_t *r, int k, uint32_t i, uint32_t j);

/* A growing statement text (p is NUL-terminated once anything is written;
 * the owner frees p). */
typedef struct {
    char *p;
    size_t len, cap;
} tpcc_buf_t;

/* Appends printf text to b. */
void tpcc_bprintf(tpcc_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Empties b, keeping its memory. */
void tpcc_bclear(tpcc_buf_t *b);

/* ------------------------------------------------------------------ */
/* Random input, clauses 2.1.5 and 4.3.2 (tpcc_rand.c)                  */
/* ------------------------------------------------------------------ */

typedef struct {
    uint64_t s;
} tpcc_rng_t;

typedef struct {
    int c_last; /* C of NURand(255) */
    int c_id;   /* C of NURand(1023) */
    int i_id;   /* C of NURand(8191) */
} tpcc_nurand_c_t;

void tpcc_rng_seed(tpcc_rng_t *r, uint64_t seed);

/* Uniform in [lo, hi]. */
int64_t tpcc_rand(tpcc_rng_t *r, int64_t lo, int64_t hi);

/* NURand(a, x, y) with constant c (clause 2.1.6). */
int64_t tpcc_nurand(tpcc_rng_t *r, int a, int c, int64_t x, int64_t y);

/* The last name of number n (0..999), clause 4.3.2.3. */
void tpcc_last_name(int n, char out[20]);

/* Random alphanumeric text of lo..hi characters; numeric text of n. */
void tpcc_astr(tpcc_rng_t *r, char *out, int lo, int hi);
void tpcc_nstr(tpcc_rng_t *r, char *out, int n);

/* i_data / s_data: 26..50 characters, 10% with "ORIGINAL" somewhere. */
void tpcc_data50(tpcc_rng_t *r, char *out);

/* The C values of a load of this seed. */
void tpcc_c_load(uint64_t seed, tpcc_nurand_c_t *c);

/* Run-time C values of this seed by clause 2.1.6.1: C_LAST differs from
 * the load's c_load by 65..119, never 96 or 112. */
void tpcc_c_run(uint64_t seed, int c_load, tpcc_nurand_c_t *c);

/* ------------------------------------------------------------------ */
/* Schema (tpcc_schema.c), load (tpcc_load.c)                           */
/* ------------------------------------------------------------------ */

/* The tables, in the order of the TPCC_T_* ids of tpcc_native.c, then
 * tpcc_meta. */
#define TPCC_NTABLES 10
extern const char *const tpcc_tables[TPCC_NTABLES];

/* Drops and creates the tables, indexes and procedures (hobbes: the
 * target is Hobbes, which gets the PARTITION BY clauses). Returns 0 or -1
 * (printed). */
int tpcc_create_schema(tpcc_db_t *db, bool hobbes);

/* `tpcc load`. Returns the exit code. */
int tpcc_load(const tpcc_opts_t *o);

/* ------------------------------------------------------------------ */
/* Run state (tpcc_run.c)                                               */
/* ------------------------------------------------------------------ */

/* What the native procedures need of the catalog. */
typedef struct {
    int64_t v[TPCC_NSCHEMA]; /* 9 table ids, orders_customer no, customer_name no */
} tpcc_schema_t;

typedef struct tpcc_run tpcc_run_t;

/* One terminal: a thread with its connection, inputs and counters. */
typedef struct {
    tpcc_run_t *run;
    uint32_t id;   /* terminal number */
    uint32_t w, d; /* home warehouse, district (Stock-Level) */
    tpcc_rng_t rng;
    tpcc_db_t db;               /* SQL */
    hb_client_t *cl;            /* native */
    uint8_t deck[100];          /* the mix, shuffled per round */
    uint32_t deck_pos;          /* next card */
    bench_hist_t *hist;         /* TPCC_NTX histograms, measured phase */
    uint64_t ok[TPCC_NTX];      /* committed (measured) */
    uint64_t rolled[TPCC_NTX];  /* rolled back by the specification (measured) */
    uint64_t retries[TPCC_NTX]; /* attempts again after a conflict (measured) */
    uint64_t failed[TPCC_NTX];  /* gave up or an error (measured) */
    char err[320];              /* the last unexpected error */
    hb_val_t args[TPCC_NSCHEMA + 4 + 3 * 15]; /* native call arguments */
} tpcc_term_t;

struct tpcc_run {
    tpcc_opts_t o;
    tpcc_nurand_c_t c_run;             /* run-time C values */
    tpcc_schema_t schema;              /* native */
    uint32_t nparts;                   /* native */
    uint64_t t_start;                  /* measured phase start (us) */
    uint64_t t_end;                    /* measured phase end (us) */
    atomic_int stop;                   /* the run is over */
    atomic_ullong done[TPCC_NTX];      /* completions, whole run (progress) */
    atomic_ullong fails;               /* failures, whole run */
    atomic_ullong tl_all[TPCC_TL_MAX]; /* measured: completions per second */
    atomic_ullong tl_no[TPCC_TL_MAX];  /* measured: New-Orders per second */
};

/* The outcome of one attempt at a transaction. */
typedef enum { TPCC_OUT_OK, TPCC_OUT_ROLLED, TPCC_OUT_RETRY, TPCC_OUT_FAIL } tpcc_out_t;

/* Records t's last unexpected error. */
void tpcc_note_err(tpcc_term_t *t, const char *what, const char *state, const char *msg);

/* Reads tpcc_meta (warehouses loaded, load-time C) into run: fills in
 * run->o.warehouses when 0 and picks run->c_run. Returns 0 or -1
 * (printed). */
int tpcc_read_meta(tpcc_run_t *run, tpcc_db_t *db);

/* `tpcc run`. Returns the exit code. */
int tpcc_run(tpcc_opts_t *o);

/* `tpcc check` (tpcc_check.c). Returns the exit code. */
int tpcc_check(tpcc_opts_t *o);

/* ------------------------------------------------------------------ */
/* Transaction inputs, clause 2 (tpcc_rand.c)                           */
/* ------------------------------------------------------------------ */

/* New-Order inputs (clause 2.4.1). */
typedef struct {
    uint32_t w, d, c, n, all_local;
    uint32_t item[15], sw[15], q[15];
} tpcc_no_in_t;

/* Payment inputs (clause 2.5.1); c is 0 when the customer is by name. */
typedef struct {
    uint32_t w, d, cw, cd, c;
    char last[20];
    int64_t cents;
} tpcc_pay_in_t;

/* Refills and shuffles t's deck of 100 (the 45/43/4/4/4 mix). */
void tpcc_shuffle_deck(tpcc_term_t *t);

/* Picks a customer: 60% by last name (returns 1, *c = 0, last set), else
 * by id (returns 0, last empty). */
int tpcc_pick_customer(tpcc_term_t *t, uint32_t *c, char last[20]);

void tpcc_gen_no(tpcc_term_t *t, tpcc_no_in_t *in);
void tpcc_gen_pay(tpcc_term_t *t, tpcc_pay_in_t *in);

/* ------------------------------------------------------------------ */
/* The transactions: SQL procedures (tpcc_sql.c), native (tpcc_native.c) */
/* ------------------------------------------------------------------ */

tpcc_out_t tpcc_sql_new_order(tpcc_term_t *t, const tpcc_no_in_t *in);
tpcc_out_t tpcc_sql_payment(tpcc_term_t *t, tpcc_pay_in_t *in);
tpcc_out_t tpcc_sql_order_status(tpcc_term_t *t);
tpcc_out_t tpcc_sql_delivery(tpcc_term_t *t, int carrier);
tpcc_out_t tpcc_sql_stock_level(tpcc_term_t *t, int threshold);

/* Reads the table ids and index numbers the native procedures take from
 * the catalog. Returns 0 or -1 (printed). */
int tpcc_schema_load(hb_client_t *cl, tpcc_schema_t *s);

tpcc_out_t tpcc_native_new_order(tpcc_term_t *t, const tpcc_no_in_t *in);
tpcc_out_t tpcc_native_payment(tpcc_term_t *t, tpcc_pay_in_t *in);
tpcc_out_t tpcc_native_order_status(tpcc_term_t *t);
tpcc_out_t tpcc_native_delivery(tpcc_term_t *t, int carrier);
tpcc_out_t tpcc_native_stock_level(tpcc_term_t *t, int threshold);

#endif
