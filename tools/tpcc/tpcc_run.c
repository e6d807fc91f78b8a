/* tpcc_run.c — `hobbes-bench tpcc run`: the terminals and the report.
 *
 * One thread per terminal, terminal i on home warehouse 1 + i % W. Each
 * draws the next transaction from its deck (the 45/43/4/4/4 mix), its
 * inputs (tpcc_rand.c), and runs it through the SQL (tpcc_sql.c) or the
 * native (tpcc_native.c) implementation, retrying after a conflict or a
 * stale reconnaissance at most --retries times. No keying or think time
 * unless --spec-timing. After --warmup seconds the --duration seconds are
 * measured: per transaction the committed, rolled back (the 1% of
 * New-Orders with an unused item), retried and failed counts and a
 * latency histogram, and per second the completions and New-Orders.
 * Output: New-Orders per minute ("tpmC-like"; with --spec-timing the
 * specification's tpmC), per transaction throughput and p50/p90/p99
 * latency, as text, --json and --csv.
 *
 * Entry points: tpcc_run; tpcc_read_meta (also for check), tpcc_note_err.
 */
#include "tpcc_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const s_tx_name[TPCC_NTX] = {"new_order", "payment", "order_status",
                                                "delivery", "stock_level"};

static bool
s_measuring(const tpcc_run_t *run, uint64_t now)
{
    return now >= run->t_start && now < run->t_end;
}

/* ------------------------------------------------------------------ */
/* The terminal loop                                                    */
/* ------------------------------------------------------------------ */

/* Sleeps us microseconds unless the run stops first. */
static void
s_pause(const tpcc_run_t *run, uint64_t us)
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

static tpcc_out_t
s_attempt(tpcc_term_t *t, tpcc_tx_t x, const tpcc_no_in_t *no, tpcc_pay_in_t *pay,
          int carrier, int thr)
{
    bool native = t->run->o.native;
    switch (x) {
    case TPCC_NO:
        return native ? tpcc_native_new_order(t, no) : tpcc_sql_new_order(t, no);
    case TPCC_PAY:
        return native ? tpcc_native_payment(t, pay) : tpcc_sql_payment(t, pay);
    case TPCC_OS:
        return native ? tpcc_native_order_status(t) : tpcc_sql_order_status(t);
    case TPCC_DEL:
        return native ? tpcc_native_delivery(t, carrier) : tpcc_sql_delivery(t, carrier);
    case TPCC_SL:
        return native ? tpcc_native_stock_level(t, thr) : tpcc_sql_stock_level(t, thr);
    default:
        return TPCC_OUT_FAIL;
    }
}

static void *
s_terminal(void *arg)
{
    tpcc_term_t *t = arg;
    tpcc_run_t *run = t->run;
    static const double keying_s[TPCC_NTX] = {18, 3, 2, 2, 2};
    static const double think_s[TPCC_NTX] = {12, 12, 10, 5, 5};
    tpcc_shuffle_deck(t);
    while (!run->stop) {
        if (t->deck_pos == 100)
            tpcc_shuffle_deck(t);
        tpcc_tx_t x = (tpcc_tx_t)t->deck[t->deck_pos++];
        if (run->o.spec_timing)
            s_pause(run, (uint64_t)(keying_s[x] * 1e6));
        if (run->stop)
            break;
        tpcc_no_in_t no;
        tpcc_pay_in_t pay;
        int carrier = (int)tpcc_rand(&t->rng, 1, 10),
            thr = (int)tpcc_rand(&t->rng, 10, 20);
        if (x == TPCC_NO)
            tpcc_gen_no(t, &no);
        if (x == TPCC_PAY)
            tpcc_gen_pay(t, &pay);
        uint64_t t0 = bench_now_us();
        tpcc_out_t out;
        uint32_t tries = 0;
        for (;;) {
            out = s_attempt(t, x, &no, &pay, carrier, thr);
            if (out != TPCC_OUT_RETRY || tries >= run->o.retries || run->stop)
                break;
            tries++;
            /* A conflict or a read at another epoch: give the cluster an
             * epoch or so to move on before trying again. */
            usleep(1000u * (tries < 10 ? tries : 10));
        }
        uint64_t t1 = bench_now_us();
        if (out == TPCC_OUT_RETRY)
            out = TPCC_OUT_FAIL; /* out of retries */
        atomic_fetch_add(&run->done[x], 1);
        if (out == TPCC_OUT_FAIL)
            atomic_fetch_add(&run->fails, 1);
        if (s_measuring(run, t1)) {
            if (out == TPCC_OUT_OK)
                t->ok[x]++;
            else if (out == TPCC_OUT_ROLLED)
                t->rolled[x]++;
            else
                t->failed[x]++;
            t->retries[x] += tries;
            if (out != TPCC_OUT_FAIL) {
                bench_hist_add(&t->hist[x], t1 - t0);
                uint64_t sec = (t1 - run->t_start) / 1000000;
                if (sec < TPCC_TL_MAX) {
                    atomic_fetch_add(&run->tl_all[sec], 1);
                    if (x == TPCC_NO)
                        atomic_fetch_add(&run->tl_no[sec], 1);
                }
            }
        }
        if (run->o.spec_timing) {
            /* Negative exponential think time, at most 10x the mean. */
            double u = (double)(tpcc_rand(&t->rng, 1, 1000000)) / 1000001.0;
            double th = -log(u) * think_s[x];
            s_pause(run, (uint64_t)((th > 10 * think_s[x] ? 10 * think_s[x] : th) * 1e6));
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Setup, the run, the report                                           */
/* ------------------------------------------------------------------ */

/* Reads tpcc_meta (warehouses loaded, load-time C) and picks the
 * run-time C values against the load's (tpcc_c_run). */
int
tpcc_read_meta(tpcc_run_t *run, tpcc_db_t *db)
{
    tpcc_res_t r;
    if (tpcc_db_must(db,
                     "SELECT warehouses, c_last, c_id, i_id FROM tpcc_meta WHERE id = 1",
                     &r) != 0 ||
        tpcc_nrows(&r, -1) != 1) {
        if (!strcmp(r.state, "00000"))
            fprintf(stderr,
                    "hobbes-bench: tpcc: no tpcc_meta row: run `tpcc load` first\n");
        tpcc_res_free(&r);
        return -1;
    }
    uint32_t loaded = (uint32_t)tpcc_cell_i64(&r, -1, 0, 0);
    int c_load = (int)tpcc_cell_i64(&r, -1, 0, 1);
    tpcc_res_free(&r);
    if (!run->o.warehouses)
        run->o.warehouses = loaded;
    if (run->o.warehouses > loaded) {
        fprintf(stderr, "hobbes-bench: tpcc: --warehouses %u but only %u are loaded\n",
                run->o.warehouses, loaded);
        return -1;
    }
    tpcc_c_run(run->o.seed, c_load, &run->c_run);
    return 0;
}

void
tpcc_note_err(tpcc_term_t *t, const char *what, const char *state, const char *msg)
{
    snprintf(t->err, sizeof t->err, "%s: %s %s", what, state, msg);
}

typedef struct {
    bench_hist_t hist[TPCC_NTX];
    uint64_t ok[TPCC_NTX], rolled[TPCC_NTX], retries[TPCC_NTX], failed[TPCC_NTX];
} s_sum_t;

static void
s_write_json(const tpcc_run_t *run, const s_sum_t *sum, double secs, double tpmc,
             uint32_t nsecs)
{
    const tpcc_opts_t *o = &run->o;
    FILE *f = fopen(o->json, "w");
    if (!f) {
        fprintf(stderr, "hobbes-bench: cannot write %s: %s\n", o->json, strerror(errno));
        return;
    }
    uint64_t ok = 0, rolled = 0, retries = 0, failed = 0;
    for (int x = 0; x < TPCC_NTX; x++) {
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
    for (int x = 0; x < TPCC_NTX; x++) {
        fprintf(f, "%s\n    \"%s\": ", x ? "," : "", s_tx_name[x]);
        bench_hist_cdf_json(f, &sum->hist[x]);
    }
    fprintf(f, "\n  },\n  \"ops\": {");
    for (int x = 0; x < TPCC_NTX; x++) {
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
s_write_csv(const tpcc_run_t *run, const s_sum_t *sum, double secs, double tpmc)
{
    const tpcc_opts_t *o = &run->o;
    FILE *f = fopen(o->csv, "w");
    if (!f) {
        fprintf(stderr, "hobbes-bench: cannot write %s: %s\n", o->csv, strerror(errno));
        return;
    }
    fprintf(f,
            "target,impl,warehouses,clients,duration_s,txn,ok,rolled_back,retries,failed,"
            "throughput_ops,p50_us,p90_us,p99_us,max_us,tpmc\n");
    for (int x = 0; x < TPCC_NTX; x++) {
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

/* Prints the per-transaction table and the mix. Returns the transactions
 * completed (committed or rolled back) in the measured phase. */
static uint64_t
s_print_table(const tpcc_run_t *run, const s_sum_t *sum, double secs, double tpmc)
{
    const tpcc_opts_t *o = &run->o;
    uint64_t no_done = sum->ok[TPCC_NO] + sum->rolled[TPCC_NO], total = 0, failed = 0;
    printf("\n%-13s %9s %8s %8s %7s %9s %9s %9s %9s\n", "transaction", "ok", "rolled",
           "retries", "failed", "txn/s", "p50 ms", "p90 ms", "p99 ms");
    for (int x = 0; x < TPCC_NTX; x++) {
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
        double share[TPCC_NTX];
        printf("mix:");
        for (int x = 0; x < TPCC_NTX; x++) {
            share[x] = 100.0 * (double)(sum->ok[x] + sum->rolled[x]) / (double)total;
            printf(" %s %.1f%%", s_tx_name[x], share[x]);
        }
        printf("; New-Order rollbacks %.2f%%\n",
               no_done ? 100.0 * (double)sum->rolled[TPCC_NO] / (double)no_done : 0);
    }
    return total;
}

/* Reads tpcc_meta, settles the number of terminals and, for --impl
 * native, reads the schema ids and the partition count. Returns 0 or -1
 * (printed). */
static int
s_prepare(tpcc_run_t *run)
{
    tpcc_opts_t *o = &run->o;
    char err[256];
    tpcc_db_t db;
    if (tpcc_db_open(o, &db, err, sizeof err) != 0) {
        fprintf(stderr, "hobbes-bench: tpcc run: connect: %s\n", err);
        return -1;
    }
    int rc = tpcc_read_meta(run, &db);
    tpcc_db_close(&db);
    if (rc != 0)
        return -1;
    if (!o->clients)
        o->clients = o->spec_timing ? 10 * o->warehouses : 4 * o->warehouses;
    if (o->native) {
        hb_client_t *cl = hb_client_new(o->config, 0, err, sizeof err);
        if (!cl) {
            fprintf(stderr, "hobbes-bench: tpcc run: %s\n", err);
            return -1;
        }
        run->nparts = hb_client_partitions(cl);
        rc = tpcc_schema_load(cl, &run->schema);
        hb_client_destroy(&cl);
    }
    return rc;
}

/* Sets up the terminals and their connections: terminal i on home
 * warehouse 1 + i % W. Returns 0 or -1 (printed). */
static int
s_terms_open(tpcc_run_t *run, tpcc_term_t *terms)
{
    const tpcc_opts_t *o = &run->o;
    char err[256];
    for (uint32_t i = 0; i < o->clients; i++) {
        tpcc_term_t *t = &terms[i];
        t->run = run;
        t->id = i;
        t->w = 1 + i % o->warehouses;
        t->d = 1 + (i / o->warehouses) % TPCC_DIST;
        tpcc_rng_seed(&t->rng, o->seed * 7919u + i + 1);
        t->hist = calloc(TPCC_NTX, sizeof *t->hist);
        int ok = o->native
                     ? ((t->cl = hb_client_new(o->config, 0, err, sizeof err)) != NULL)
                     : tpcc_db_open(o, &t->db, err, sizeof err) == 0;
        if (!ok) {
            fprintf(stderr, "hobbes-bench: tpcc run: terminal %u: %s\n", i, err);
            return -1;
        }
        if (t->cl)
            hb_client_set_retry(t->cl, 0);
    }
    return 0;
}

/* Runs the terminals through the warmup and the measured phase, printing
 * progress each second, then stops them. */
static void
s_drive(tpcc_run_t *run, tpcc_term_t *terms, pthread_t *th)
{
    const tpcc_opts_t *o = &run->o;
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
        uint64_t all = 0, no = run->done[TPCC_NO];
        for (int x = 0; x < TPCC_NTX; x++)
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
}

/* Adds up the terminals' counters into sum. Returns the last unexpected
 * error of the last terminal that had one, or NULL. */
static const char *
s_sum_terms(const tpcc_run_t *run, const tpcc_term_t *terms, s_sum_t *sum)
{
    const char *lasterr = NULL;
    for (uint32_t i = 0; i < run->o.clients; i++) {
        const tpcc_term_t *t = &terms[i];
        for (int x = 0; x < TPCC_NTX; x++) {
            bench_hist_merge(&sum->hist[x], &t->hist[x]);
            sum->ok[x] += t->ok[x];
            sum->rolled[x] += t->rolled[x];
            sum->retries[x] += t->retries[x];
            sum->failed[x] += t->failed[x];
        }
        if (t->err[0])
            lasterr = t->err;
    }
    return lasterr;
}

int
tpcc_run(tpcc_opts_t *opts)
{
    tpcc_run_t *run = calloc(1, sizeof *run);
    run->o = *opts;
    const tpcc_opts_t *o = &run->o;
    tpcc_term_t *terms = NULL;
    pthread_t *th = NULL;
    s_sum_t *sum = NULL;
    int rc = 1;
    if (s_prepare(run) != 0)
        goto out;
    terms = calloc(o->clients, sizeof *terms);
    th = calloc(o->clients, sizeof *th);
    if (s_terms_open(run, terms) != 0)
        goto out;
    printf("tpcc run: %s, %s procedures, %u warehouses, %u terminals, %u s (+%u s "
           "warmup)%s\n",
           o->target ? "PostgreSQL" : "Hobbes", o->native ? "native" : "SQL",
           o->warehouses, o->clients, o->duration, o->warmup,
           o->spec_timing ? ", keying and think times" : "");
    s_drive(run, terms, th);
    sum = calloc(1, sizeof *sum);
    const char *lasterr = s_sum_terms(run, terms, sum);
    double secs = (double)o->duration;
    uint64_t no_done = sum->ok[TPCC_NO] + sum->rolled[TPCC_NO];
    double tpmc = secs > 0 ? (double)no_done * 60.0 / secs : 0;
    uint64_t total = s_print_table(run, sum, secs, tpmc);
    if (lasterr)
        fprintf(stderr, "last error: %s\n", lasterr);
    if (o->json)
        s_write_json(run, sum, secs, tpmc,
                     o->duration < TPCC_TL_MAX ? o->duration : TPCC_TL_MAX);
    if (o->csv)
        s_write_csv(run, sum, secs, tpmc);
    rc = total > 0 ? 0 : 1;
out:
    for (uint32_t i = 0; terms && i < o->clients; i++) {
        tpcc_db_close(&terms[i].db);
        hb_client_destroy(&terms[i].cl);
        free(terms[i].hist);
    }
    free(terms);
    free(th);
    free(sum);
    free(run);
    return rc;
}
