/* bench_sql.c — `hobbes-bench sql`: point statements through hobbes-sqlfront.
 *
 *   hobbes-bench sql --config FILE [--id N] [--op select|update]
 *                    [--clients N] [--duration S] [--warmup S] [--rows N]
 *                    [--native] [--seed N] [--json FILE]
 *
 * Each client is one thread with one SQL session (hb_sql_exec), closed
 * loop, one statement at a time: `SELECT v, pad FROM bench_sql WHERE id =
 * $1` (a snapshot point read) or `UPDATE bench_sql SET v = v + 1 WHERE id =
 * $1` (a point read-modify-write transaction), ids uniform over --rows.
 * The table is created and loaded first if it has fewer rows.
 *
 * --native runs the same access pattern without SQL, as the baseline:
 * the select is a snapshot scan of one kv key (hb_client_scan), the update
 * a kv.add call (hb_client_call), each client one at a time. The ratio of
 * the two runs is the cost of parsing, planning and the extra hop.
 */
#include "bench_sql.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_hist.h"
#include "hb_config.h"
#include "hb_key.h"
#include "hb_util.h"
#include "hobbes.h"

typedef struct {
    const char *config;
    const char *json;
    uint16_t id; /* sqlfront id */
    int update;  /* op: update (else select) */
    int native;  /* baseline without SQL */
    uint32_t clients;
    uint32_t duration;
    uint32_t warmup;
    uint64_t rows;
    uint64_t seed;
} s_opts_t;

typedef struct {
    const s_opts_t *o;
    uint32_t index;
    bench_hist_t hist; /* measured latencies */
    uint64_t ok, errors;
    char err[256];
} s_client_t;

static atomic_int s_measuring, s_stopping;

static void *
s_client(void *arg)
{
    s_client_t *cl = arg;
    const s_opts_t *o = cl->o;
    uint64_t rng = o->seed * 7919 + cl->index + 1;
    hb_sql_t *db = NULL;
    hb_client_t *nat = NULL;
    char err[256];
    if (o->native)
        nat = hb_client_new(o->config, 0, err, sizeof err);
    else
        db = hb_sql_connect(o->config, o->id, err, sizeof err);
    if (!db && !nat) {
        snprintf(cl->err, sizeof cl->err, "%s", err);
        return NULL;
    }
    const char *sql = o->update ? "UPDATE bench_sql SET v = v + 1 WHERE id = $1"
                                : "SELECT v, pad FROM bench_sql WHERE id = $1";
    while (!atomic_load(&s_stopping)) {
        uint64_t id = hb_xorshift(&rng) % o->rows;
        uint64_t t0 = bench_now_us();
        bool good = false;
        if (db) {
            hb_val_t p = hb_val_int((int64_t)id);
            hb_sql_result_t *res = NULL;
            if (hb_sql_exec(db, sql, &p, 1, 10000, &res) == HB_OK && res &&
                strcmp(res->sqlstate, "00000") == 0)
                good = o->update ? strcmp(res->tag, "UPDATE 1") == 0 : res->nrows == 1;
            hb_sql_result_free(&res);
        } else {
            char name[32];
            int n = snprintf(name, sizeof name, "b%" PRIu64, id);
            if (o->update) {
                hb_val_t args[2] = {hb_val_str(name, (uint32_t)n), hb_val_int(1)};
                hb_result_t *res = NULL;
                good = hb_client_call(nat, "kv.add", args, 2, 10000, &res) == HB_OK &&
                       res->rc == HB_OK;
                hb_result_destroy(&res);
            } else {
                hb_key_t k;
                hb_key_kv(&k, name, (size_t)n);
                uint8_t end[HB_KEY_MAX + 1];
                memcpy(end, k.buf, k.len);
                end[k.len] = 0;
                uint16_t part =
                    (uint16_t)hb_key_partition(k.buf, k.len, hb_client_partitions(nat));
                hb_scan_result_t *res = NULL;
                good = hb_client_scan(nat, part, k.buf, k.len, end, k.len + 1, 1, 10000,
                                      &res) == HB_OK &&
                       res->rc == HB_OK && res->nrows == 1;
                hb_scan_result_destroy(&res);
            }
        }
        uint64_t dt = bench_now_us() - t0;
        if (atomic_load(&s_measuring)) {
            if (good) {
                cl->ok++;
                bench_hist_add(&cl->hist, dt);
            } else {
                cl->errors++;
            }
        }
    }
    hb_sql_destroy(&db);
    hb_client_destroy(&nat);
    return NULL;
}

/* Creates and fills the table (SQL) or the kv keys (native) if needed. */
static int
s_load(const s_opts_t *o)
{
    char err[256];
    if (o->native) {
        hb_client_t *c = hb_client_new(o->config, 0, err, sizeof err);
        if (!c) {
            fprintf(stderr, "hobbes-bench: %s\n", err);
            return -1;
        }
        for (uint64_t i = 0; i < o->rows; i++) {
            char name[32];
            int n = snprintf(name, sizeof name, "b%" PRIu64, i);
            hb_val_t args[2] = {hb_val_str(name, (uint32_t)n), hb_val_int(0)};
            uint64_t req;
            hb_client_submit(c, "kv.put", args, 2, &req);
            if (hb_client_pending(c) >= 512 || i + 1 == o->rows) {
                while (hb_client_pending(c)) {
                    hb_result_t *res = NULL;
                    if (hb_client_poll(c, 10000, &res) != HB_OK) {
                        fprintf(stderr, "hobbes-bench: load timed out\n");
                        hb_client_destroy(&c);
                        return -1;
                    }
                    hb_result_destroy(&res);
                }
            }
        }
        hb_client_destroy(&c);
        return 0;
    }
    hb_sql_t *db = hb_sql_connect(o->config, o->id, err, sizeof err);
    if (!db) {
        fprintf(stderr, "hobbes-bench: %s\n", err);
        return -1;
    }
    hb_sql_result_t *res = NULL;
    int rc = -1;
    if (hb_sql_exec(db,
                    "CREATE TABLE IF NOT EXISTS bench_sql (id bigint PRIMARY KEY, "
                    "v bigint NOT NULL, pad text)",
                    NULL, 0, 10000, &res) != HB_OK ||
        strcmp(res->sqlstate, "00000") != 0) {
        fprintf(stderr, "hobbes-bench: create: %s\n",
                res ? res->message : hb_sql_last_error(db));
        goto out;
    }
    hb_sql_result_free(&res);
    if (hb_sql_exec(db, "SELECT count(*) FROM bench_sql", NULL, 0, 30000, &res) !=
            HB_OK ||
        strcmp(res->sqlstate, "00000") != 0 || res->nrows != 1) {
        fprintf(stderr, "hobbes-bench: count failed\n");
        goto out;
    }
    uint64_t have = (uint64_t)res->cells[0].u.i;
    hb_sql_result_free(&res);
    const size_t batch = 500;
    char *sql = malloc(batch * 64 + 128);
    for (uint64_t i = have; i < o->rows; i += batch) {
        size_t off = (size_t)sprintf(sql, "INSERT INTO bench_sql VALUES ");
        for (uint64_t j = i; j < i + batch && j < o->rows; j++)
            off += (size_t)sprintf(sql + off, "%s(%" PRIu64 ", 0, 'padding-%" PRIu64 "')",
                                   j == i ? "" : ", ", j, j);
        sprintf(sql + off, " ON CONFLICT (id) DO NOTHING");
        if (hb_sql_exec(db, sql, NULL, 0, 30000, &res) != HB_OK ||
            strcmp(res->sqlstate, "00000") != 0) {
            fprintf(stderr, "hobbes-bench: load: %s\n", res ? res->message : "timeout");
            free(sql);
            goto out;
        }
        hb_sql_result_free(&res);
        fprintf(stderr, "\rloading %" PRIu64 "/%" PRIu64,
                i + batch < o->rows ? i + batch : o->rows, o->rows);
    }
    if (have < o->rows)
        fprintf(stderr, "\n");
    free(sql);
    rc = 0;
out:
    hb_sql_result_free(&res);
    hb_sql_destroy(&db);
    return rc;
}

void
bench_sql_usage(void)
{
    fprintf(stderr, "       hobbes-bench sql --config FILE [--id N] [--op select|update] "
                    "[--clients N]\n"
                    "                        [--duration S] [--warmup S] [--rows N] "
                    "[--native] [--seed N]\n"
                    "                        [--json FILE]\n");
}

int
bench_sql_main(int argc, char **argv)
{
    s_opts_t o = {.config = getenv("HOBBES_CONFIG"),
                  .clients = 8,
                  .duration = 10,
                  .warmup = 1,
                  .rows = 10000,
                  .seed = 1};
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"id", required_argument, NULL, 'i'},
        {"op", required_argument, NULL, 'o'},
        {"clients", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"rows", required_argument, NULL, 'r'},
        {"native", no_argument, NULL, 'N'},
        {"seed", required_argument, NULL, 's'},
        {"json", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    uint64_t v;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'c':
            o.config = optarg;
            break;
        case 'i':
            bad = bench_parse_u64(optarg, 0, 63, &v);
            o.id = (uint16_t)v;
            break;
        case 'o':
            bad = strcmp(optarg, "select") != 0 && strcmp(optarg, "update") != 0;
            o.update = strcmp(optarg, "update") == 0;
            break;
        case 'n':
            bad = bench_parse_u64(optarg, 1, 1024, &v);
            o.clients = (uint32_t)v;
            break;
        case 'd':
            bad = bench_parse_u64(optarg, 1, 86400, &v);
            o.duration = (uint32_t)v;
            break;
        case 'w':
            bad = bench_parse_u64(optarg, 0, 3600, &v);
            o.warmup = (uint32_t)v;
            break;
        case 'r':
            bad = bench_parse_u64(optarg, 1, 100000000, &v);
            o.rows = v;
            break;
        case 'N':
            o.native = 1;
            break;
        case 's':
            bad = bench_parse_u64(optarg, 0, UINT64_MAX, &v);
            o.seed = v;
            break;
        case 'j':
            o.json = optarg;
            break;
        default:
            bad = 1;
            break;
        }
        if (bad) {
            fprintf(stderr, "hobbes-bench: bad value for an option\n");
            bench_sql_usage();
            return 2;
        }
    }
    if (optind != argc || !o.config) {
        bench_sql_usage();
        return 2;
    }
    if (s_load(&o) != 0)
        return 1;
    s_client_t *cls = calloc(o.clients, sizeof *cls);
    pthread_t *th = calloc(o.clients, sizeof *th);
    atomic_store(&s_measuring, 0);
    atomic_store(&s_stopping, 0);
    for (uint32_t i = 0; i < o.clients; i++) {
        cls[i].o = &o;
        cls[i].index = i;
        bench_hist_reset(&cls[i].hist);
        pthread_create(&th[i], NULL, s_client, &cls[i]);
    }
    sleep(o.warmup);
    atomic_store(&s_measuring, 1);
    uint64_t t0 = bench_now_us();
    sleep(o.duration);
    atomic_store(&s_measuring, 0);
    uint64_t elapsed = bench_now_us() - t0;
    atomic_store(&s_stopping, 1);
    bench_hist_t all;
    bench_hist_reset(&all);
    uint64_t ok = 0, errors = 0;
    for (uint32_t i = 0; i < o.clients; i++) {
        pthread_join(th[i], NULL);
        if (cls[i].err[0])
            fprintf(stderr, "hobbes-bench: client %u: %s\n", i, cls[i].err);
        bench_hist_merge(&all, &cls[i].hist);
        ok += cls[i].ok;
        errors += cls[i].errors;
    }
    double rate = (double)ok * 1e6 / (double)elapsed;
    const char *what = o.native ? (o.update ? "native kv.add" : "native snapshot get")
                                : (o.update ? "sql point update" : "sql point select");
    printf(
        "%s: %u clients, %.0f stmt/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, %" PRIu64
        " errors\n",
        what, o.clients, rate, bench_hist_quantile(&all, 0.5) / 1000.0,
        bench_hist_quantile(&all, 0.99) / 1000.0,
        bench_hist_quantile(&all, 0.999) / 1000.0, errors);
    if (o.json) {
        FILE *f = fopen(o.json, "w");
        if (f) {
            fprintf(
                f,
                "{\"bench\":\"sql\",\"op\":\"%s\",\"native\":%s,\"clients\":%u,"
                "\"duration_s\":%.3f,\"ops\":%" PRIu64 ",\"errors\":%" PRIu64
                ",\"ops_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f}\n",
                o.update ? "update" : "select", o.native ? "true" : "false", o.clients,
                (double)elapsed / 1e6, ok, errors, rate,
                bench_hist_quantile(&all, 0.5) / 1000.0,
                bench_hist_quantile(&all, 0.99) / 1000.0,
                bench_hist_quantile(&all, 0.999) / 1000.0);
            fclose(f);
        }
    }
    free(cls);
    free(th);
    return ok > 0 ? 0 : 1;
}
