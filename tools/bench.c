/* bench.c — hobbes-bench: load generators with live progress and summaries.
 *
 *   hobbes-bench micro --config FILE [--clients N] [--window W] [--duration S] [--warmup
 * S]
 *                      [--mp PCT]
 *                      [--records N] [--hot H] [--seed N] [--json FILE]
 *   hobbes-bench micro --ceiling [--config FILE | --partitions P] [--data DIR] ...
 *   hobbes-bench ycsb --config FILE --workload a|b|c|d|e|f ...   (bench_ycsb.c)
 *   hobbes-bench sql --config FILE --op select|update ...          (bench_sql.c)
 *
 * micro is Calvin's microbenchmark: each transaction reads and increments
 * 10 records of one partition, one from that partition's hot set of H
 * records and nine from the rest (the contention index is 1/H). Clients
 * are closed-loop, one thread and one connection each, each keeping
 * --window calls in flight (default 32): a deterministic database batches
 * per epoch, so its throughput is what is in flight per epoch. The
 * ceiling's clients run one transaction at a time each (LevelDB calls are
 * synchronous), so --clients sets its parallelism.
 *
 * --ceiling does the same reads and writes directly on P LevelDBs in this
 * process (ten gets and one ten-put WriteBatch per transaction), so the
 * pipeline's cost shows as a ratio measured on the same machine.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <leveldb/c.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_hist.h"
#include "bench_stages.h"
#include "hb_util.h"
#include "bench_plot.h"
#include "bench_sql.h"
#include "tpcc/bench_tpcc.h"
#include "bench_ycsb.h"
#include "hb_config.h"
#include "hb_key.h"
#include "hb_proc.h"
#include "hobbes.h"

typedef struct {
    const char *config;  /* cluster config */
    const char *json;    /* summary file, or NULL */
    const char *data;    /* ceiling data dir */
    int ceiling;         /* run against bare LevelDB */
    uint32_t clients;    /* closed-loop clients */
    uint32_t window;     /* calls each client keeps in flight */
    uint32_t mp;         /* percent of multi-partition transactions */
    uint32_t duration;   /* measured seconds */
    uint32_t warmup;     /* unmeasured seconds first */
    uint64_t records;    /* record ids 0..records-1 */
    uint32_t hot;        /* hot records per partition */
    uint32_t partitions; /* P */
    uint64_t seed;       /* workload seed */
} s_opts_t;

typedef struct {
    int64_t *ids; /* record ids of one partition, ascending */
    size_t n;     /* count */
} s_part_keys_t;

typedef struct {
    pthread_mutex_t mu;    /* guards the histograms */
    bench_hist_t interval; /* since the last progress line */
    bench_hist_t total;    /* measured phase */
    uint64_t committed;    /* measured commits */
    uint64_t aborted;      /* measured logical aborts */
    uint64_t errors;       /* measured failures (timeouts, busy ...) */
} s_stats_t;

typedef struct s_run s_run_t;

typedef struct {
    s_run_t *run;    /* shared state */
    uint32_t id;     /* client number */
    uint64_t rng;    /* xorshift state */
    s_stats_t stats; /* this client's numbers */
} s_client_t;

struct s_run {
    s_opts_t o;                 /* options */
    s_part_keys_t *parts;       /* keys per partition */
    atomic_int phase;           /* 0 warmup, 1 measure, 2 stop */
    leveldb_t **dbs;            /* ceiling: one LevelDB per partition */
    leveldb_readoptions_t *ro;  /* ceiling */
    leveldb_writeoptions_t *wo; /* ceiling */
};

/* Picks `n` distinct record ids of partition p into ids: one from its hot
 * set, the rest from its cold records. */
static void
s_pick_part(s_client_t *c, uint32_t p, int64_t *ids, int n)
{
    s_part_keys_t *pk = &c->run->parts[p];
    size_t hot = c->run->o.hot < pk->n ? c->run->o.hot : pk->n / 2;
    if (hot == 0)
        hot = 1;
    ids[0] = pk->ids[hb_xorshift(&c->rng) % hot];
    for (int i = 1; i < n; i++) {
        int64_t id;
        int dup;
        do {
            id = pk->ids[hot + hb_xorshift(&c->rng) % (pk->n - hot)];
            dup = 0;
            for (int j = 0; j < i; j++)
                dup |= ids[j] == id;
        } while (dup);
        ids[i] = id;
    }
}

/* Picks the 10 record ids of one micro transaction: all on one partition,
 * or, for --mp percent of them, five on each of two partitions (as in the
 * Calvin paper, a multi-partition transaction touches two). */
static void
s_pick(s_client_t *c, int64_t ids[HB_MICRO_KEYS])
{
    s_run_t *run = c->run;
    uint32_t P = run->o.partitions;
    uint32_t p = (uint32_t)(hb_xorshift(&c->rng) % P);
    if (P > 1 && hb_xorshift(&c->rng) % 100 < run->o.mp) {
        uint32_t q = (p + 1 + (uint32_t)(hb_xorshift(&c->rng) % (P - 1))) % P;
        s_pick_part(c, p, ids, HB_MICRO_KEYS / 2);
        s_pick_part(c, q, ids + HB_MICRO_KEYS / 2, HB_MICRO_KEYS - HB_MICRO_KEYS / 2);
        return;
    }
    s_pick_part(c, p, ids, HB_MICRO_KEYS);
}

static void
s_record(s_client_t *c, uint64_t lat_us, int outcome)
{
    if (atomic_load(&c->run->phase) != 1)
        return;
    pthread_mutex_lock(&c->stats.mu);
    bench_hist_add(&c->stats.interval, lat_us);
    bench_hist_add(&c->stats.total, lat_us);
    if (outcome == 0)
        c->stats.committed++;
    else if (outcome == 1)
        c->stats.aborted++;
    else
        c->stats.errors++;
    pthread_mutex_unlock(&c->stats.mu);
}

typedef struct {
    uint64_t req; /* request id, 0 when free */
    uint64_t t0;  /* submit time */
} s_flight_t;

static void *
s_cluster_client(void *arg)
{
    s_client_t *c = arg;
    uint32_t window = c->run->o.window;
    char err[512];
    hb_client_t *cl = hb_client_new(c->run->o.config, 0, err, sizeof err);
    if (!cl) {
        fprintf(stderr, "hobbes-bench: client %u: %s\n", c->id, err);
        return NULL;
    }
    s_flight_t *fly = calloc(window, sizeof *fly);
    uint32_t inflight = 0;
    while (atomic_load(&c->run->phase) != 2 || inflight > 0) {
        for (uint32_t s = 0; s < window && atomic_load(&c->run->phase) != 2; s++) {
            if (fly[s].req)
                continue;
            int64_t ids[HB_MICRO_KEYS];
            hb_val_t args[HB_MICRO_KEYS];
            s_pick(c, ids);
            for (int i = 0; i < HB_MICRO_KEYS; i++)
                args[i] = hb_val_int(ids[i]);
            uint64_t req;
            if (hb_client_submit(cl, "micro.rmw", args, HB_MICRO_KEYS, &req) != HB_OK) {
                s_record(c, 0, 2);
                continue;
            }
            fly[s] = (s_flight_t){req, bench_now_us()};
            inflight++;
        }
        hb_result_t *res = NULL;
        if (hb_client_poll(cl, 1000, &res) != HB_OK) {
            /* Calls unanswered for 10 s count as errors and are forgotten. */
            uint64_t now = bench_now_us();
            for (uint32_t s = 0; s < window; s++)
                if (fly[s].req && now - fly[s].t0 > 10000000u) {
                    hb_client_forget(cl, fly[s].req);
                    s_record(c, now - fly[s].t0, 2);
                    fly[s].req = 0;
                    inflight--;
                }
            continue;
        }
        uint32_t s = 0;
        while (s < window && fly[s].req != res->req_id)
            s++;
        if (s < window) {
            int outcome = res->rc == HB_OK ? 0 : res->rc == HB_ABORTED ? 1 : 2;
            s_record(c, bench_now_us() - fly[s].t0, outcome);
            fly[s].req = 0;
            inflight--;
        }
        hb_result_destroy(&res);
    }
    free(fly);
    hb_client_destroy(&cl);
    return NULL;
}

static void *
s_ceiling_client(void *arg)
{
    s_client_t *c = arg;
    s_run_t *run = c->run;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* A transaction touches at most two partitions: one batch for each. */
    leveldb_writebatch_t *wb[2] = {leveldb_writebatch_create(),
                                   leveldb_writebatch_create()};
    while (atomic_load(&run->phase) != 2) {
        int64_t ids[HB_MICRO_KEYS];
        s_pick(c, ids);
        uint64_t t0 = bench_now_us();
        hb_key_t k;
        uint32_t parts[HB_MICRO_KEYS];
        for (uint32_t p = 0; p < 2; p++)
            leveldb_writebatch_clear(wb[p]);
        int failed = 0;
        for (int i = 0; i < HB_MICRO_KEYS; i++) {
            hb_key_micro(&k, ids[i]);
            uint32_t p = hb_key_partition(k.buf, k.len, run->o.partitions);
            parts[i] = p;
            uint32_t w = p == parts[0] ? 0 : 1;
            char *e = NULL;
            size_t vlen = 0;
            char *v =
                leveldb_get(run->dbs[p], run->ro, (const char *)k.buf, k.len, &vlen, &e);
            int64_t cur = 0;
            if (v) {
                msgpack_unpacked up;
                msgpack_unpacked_init(&up);
                if (msgpack_unpack_next(&up, v, vlen, NULL) == MSGPACK_UNPACK_SUCCESS &&
                    up.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                    cur = (int64_t)up.data.via.u64;
                msgpack_unpacked_destroy(&up);
                leveldb_free(v);
            }
            if (e) {
                failed = 1;
                leveldb_free(e);
            }
            sb.size = 0;
            msgpack_pack_int64(&pk, cur + 1);
            leveldb_writebatch_put(wb[w], (const char *)k.buf, k.len, sb.data, sb.size);
        }
        uint32_t other = parts[0];
        for (int i = 0; i < HB_MICRO_KEYS; i++)
            if (parts[i] != parts[0])
                other = parts[i];
        for (uint32_t w = 0; w < (other != parts[0] ? 2u : 1u); w++) {
            char *e = NULL;
            leveldb_write(run->dbs[w ? other : parts[0]], run->wo, wb[w], &e);
            if (e) {
                failed = 1;
                leveldb_free(e);
            }
        }
        s_record(c, bench_now_us() - t0, failed ? 2 : 0);
    }
    leveldb_writebatch_destroy(wb[0]);
    leveldb_writebatch_destroy(wb[1]);
    msgpack_sbuffer_destroy(&sb);
    return NULL;
}

static int
s_open_ceiling(s_run_t *run)
{
    char root[1024];
    if (run->o.data) {
        snprintf(root, sizeof root, "%s", run->o.data);
        mkdir(root, 0755);
    } else {
        snprintf(root, sizeof root, "/tmp/hobbes-ceiling-XXXXXX");
        if (!mkdtemp(root)) {
            perror("mkdtemp");
            return -1;
        }
    }
    run->dbs = calloc(run->o.partitions, sizeof *run->dbs);
    leveldb_options_t *opt = leveldb_options_create();
    leveldb_options_set_create_if_missing(opt, 1);
    leveldb_cache_t *cache = leveldb_cache_create_lru(64u << 20);
    leveldb_options_set_cache(opt, cache);
    for (uint32_t p = 0; p < run->o.partitions; p++) {
        char dir[1100];
        snprintf(dir, sizeof dir, "%s/p%u", root, p);
        char *e = NULL;
        run->dbs[p] = leveldb_open(opt, dir, &e);
        if (e) {
            fprintf(stderr, "hobbes-bench: %s: %s\n", dir, e);
            leveldb_free(e);
            return -1;
        }
    }
    run->ro = leveldb_readoptions_create();
    run->wo = leveldb_writeoptions_create();
    printf("ceiling: %u LevelDB(s) under %s\n", run->o.partitions, root);
    return 0;
}

static void
s_collect(s_run_t *run, s_client_t *cl, bench_hist_t *interval, s_stats_t *sum)
{
    bench_hist_reset(interval);
    for (uint32_t i = 0; i < run->o.clients; i++) {
        pthread_mutex_lock(&cl[i].stats.mu);
        bench_hist_merge(interval, &cl[i].stats.interval);
        bench_hist_reset(&cl[i].stats.interval);
        if (sum) {
            bench_hist_merge(&sum->total, &cl[i].stats.total);
            sum->committed += cl[i].stats.committed;
            sum->aborted += cl[i].stats.aborted;
            sum->errors += cl[i].stats.errors;
        }
        pthread_mutex_unlock(&cl[i].stats.mu);
    }
}

static void
s_write_json(const s_run_t *run, const s_stats_t *sum, double tps,
             const bench_stages_t *stages)
{
    FILE *f = fopen(run->o.json, "w");
    if (!f) {
        fprintf(stderr, "hobbes-bench: cannot write %s: %s\n", run->o.json,
                strerror(errno));
        return;
    }
    fprintf(f,
            "{\n  \"workload\": \"micro\",\n  \"target\": \"%s\",\n"
            "  \"params\": {\"clients\": %u, \"window\": %u, \"duration_s\": %u, "
            "\"warmup_s\": %u, "
            "\"records\": %" PRIu64
            ", \"hot\": %u, \"mp\": %u, \"partitions\": %u, \"seed\": %" PRIu64 "},\n"
            "  \"throughput_tps\": %.1f,\n  \"committed\": %" PRIu64
            ",\n  \"aborted\": %" PRIu64 ",\n  \"errors\": %" PRIu64 ",\n"
            "  \"latency_us\": {\"micro.rmw\": {\"p50\": %" PRIu64 ", \"p95\": %" PRIu64
            ", \"p99\": %" PRIu64 ", \"p99.9\": %" PRIu64 ", \"max\": %" PRIu64
            ", \"mean\": %.1f}}",
            run->o.ceiling ? "ceiling" : "hobbes", run->o.clients, run->o.window,
            run->o.duration, run->o.warmup, run->o.records, run->o.hot, run->o.mp,
            run->o.partitions, run->o.seed, tps, sum->committed, sum->aborted,
            sum->errors, bench_hist_quantile(&sum->total, 0.50),
            bench_hist_quantile(&sum->total, 0.95),
            bench_hist_quantile(&sum->total, 0.99),
            bench_hist_quantile(&sum->total, 0.999), sum->total.max,
            sum->total.count ? (double)sum->total.sum / (double)sum->total.count : 0.0);
    if (stages) {
        fprintf(f, ",\n  ");
        bench_stages_json(f, stages, &sum->total);
    }
    fprintf(f, "\n}\n");
    fclose(f);
}

static int
s_micro(s_run_t *run)
{
    s_opts_t *o = &run->o;
    if (o->records < (uint64_t)o->partitions * (o->hot + HB_MICRO_KEYS) * 2) {
        fprintf(stderr,
                "hobbes-bench: --records must be at least 2*partitions*(hot+10)\n");
        return 2;
    }
    run->parts = calloc(o->partitions, sizeof *run->parts);
    for (uint32_t p = 0; p < o->partitions; p++)
        run->parts[p].ids =
            malloc(sizeof(int64_t) * (o->records / o->partitions * 2 + 64));
    for (uint64_t id = 0; id < o->records; id++) {
        hb_key_t k;
        hb_key_micro(&k, (int64_t)id);
        s_part_keys_t *pk = &run->parts[hb_key_partition(k.buf, k.len, o->partitions)];
        if (pk->n < o->records / o->partitions * 2 + 64)
            pk->ids[pk->n++] = (int64_t)id;
    }
    if (o->ceiling && s_open_ceiling(run) < 0)
        return 1;

    s_client_t *cl = calloc(o->clients, sizeof *cl);
    pthread_t *th = calloc(o->clients, sizeof *th);
    for (uint32_t i = 0; i < o->clients; i++) {
        cl[i].run = run;
        cl[i].id = i;
        cl[i].rng = (o->seed + 1) * 0x9e3779b97f4a7c15ULL + i * 0xbf58476d1ce4e5b9ULL + 1;
        pthread_mutex_init(&cl[i].stats.mu, NULL);
        pthread_create(&th[i], NULL, o->ceiling ? s_ceiling_client : s_cluster_client,
                       &cl[i]);
    }
    printf("micro: %s, %u clients x window %u, %" PRIu64
           " records, hot %u per partition, mp %u%%, %u partitions, "
           "warmup %us, duration %us, seed %" PRIu64 "\n",
           o->ceiling ? "ceiling (LevelDB in-process)" : o->config, o->clients,
           o->ceiling ? 1 : o->window, o->records, o->hot, o->mp, o->partitions,
           o->warmup, o->duration, o->seed);
    fflush(stdout);
    struct timespec sec = {1, 0};
    for (uint32_t s = 0; s < o->warmup; s++)
        nanosleep(&sec, NULL);
    atomic_store(&run->phase, 1);
    uint64_t start = bench_now_us();
    bench_hist_t interval;
    for (uint32_t s = 1; s <= o->duration; s++) {
        uint64_t due = start + (uint64_t)s * 1000000u, now = bench_now_us();
        if (due > now) {
            struct timespec ts = {(time_t)((due - now) / 1000000u),
                                  (long)((due - now) % 1000000u) * 1000};
            nanosleep(&ts, NULL);
        }
        s_collect(run, cl, &interval, NULL);
        printf("[%3us] %9.0f txn/s  p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms\n", s,
               (double)interval.count, bench_hist_quantile(&interval, 0.5) / 1000.0,
               bench_hist_quantile(&interval, 0.99) / 1000.0,
               bench_hist_quantile(&interval, 0.999) / 1000.0);
        fflush(stdout);
    }
    uint64_t elapsed = bench_now_us() - start;
    atomic_store(&run->phase, 2);
    for (uint32_t i = 0; i < o->clients; i++)
        pthread_join(th[i], NULL);
    s_stats_t sum = {0};
    s_collect(run, cl, &interval, &sum);
    double tps = (double)sum.committed * 1e6 / (double)elapsed;
    printf("summary: %.0f txn/s committed (%" PRIu64 " committed, %" PRIu64
           " aborted, %" PRIu64 " errors in %.1fs)\n"
           "latency: p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms\n",
           tps, sum.committed, sum.aborted, sum.errors, (double)elapsed / 1e6,
           bench_hist_quantile(&sum.total, 0.5) / 1000.0,
           bench_hist_quantile(&sum.total, 0.95) / 1000.0,
           bench_hist_quantile(&sum.total, 0.99) / 1000.0,
           bench_hist_quantile(&sum.total, 0.999) / 1000.0,
           (double)sum.total.max / 1000.0);
    /* Where the time went, from every process's STATUS (not for the
     * in-process ceiling, which has no cluster). */
    bench_stages_t *stages = NULL;
    if (!o->ceiling) {
        stages = calloc(1, sizeof *stages);
        if (bench_stages_fetch(o->config, stages) > 0) {
            bench_stages_print(stdout, stages, &sum.total);
        } else {
            free(stages);
            stages = NULL;
        }
    }
    if (o->json)
        s_write_json(run, &sum, tps, stages);
    free(stages);
    if (run->dbs) {
        for (uint32_t p = 0; p < o->partitions; p++)
            leveldb_close(run->dbs[p]);
        leveldb_readoptions_destroy(run->ro);
        leveldb_writeoptions_destroy(run->wo);
    }
    return sum.committed > 0 ? 0 : 1;
}

static void
s_usage(void)
{
    fprintf(stderr,
            "usage: hobbes-bench micro --config FILE [--clients N] [--window W] "
            "[--duration S] "
            "[--warmup S]\n"
            "                          [--records N] [--hot H] [--mp PCT] [--seed N] "
            "[--json FILE]\n"
            "       hobbes-bench micro --ceiling [--config FILE | --partitions P] "
            "[--data DIR] ...\n");
    bench_ycsb_usage();
    bench_sql_usage();
    bench_tpcc_usage();
    bench_plot_usage();
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "ycsb") == 0)
        return bench_ycsb_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "sql") == 0)
        return bench_sql_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "tpcc") == 0)
        return bench_tpcc_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "plot") == 0)
        return bench_plot_main(argc, argv);
    if (argc < 2 || strcmp(argv[1], "micro") != 0) {
        s_usage();
        return 2;
    }
    s_run_t run = {0};
    s_opts_t *o = &run.o;
    o->config = getenv("HOBBES_CONFIG");
    o->clients = 8;
    o->window = 32;
    o->duration = 10;
    o->warmup = 1;
    o->records = 100000;
    o->hot = 100;
    o->partitions = 0;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"clients", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"records", required_argument, NULL, 'r'},
        {"hot", required_argument, NULL, 'H'},
        {"seed", required_argument, NULL, 's'},
        {"json", required_argument, NULL, 'j'},
        {"ceiling", no_argument, NULL, 'C'},
        {"window", required_argument, NULL, 'W'},
        {"mp", required_argument, NULL, 'M'},
        {"data", required_argument, NULL, 'D'},
        {"partitions", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 2;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'n':
            bad = bench_parse_u64(optarg, 1, 4096, &v);
            o->clients = (uint32_t)v;
            break;
        case 'd':
            bad = bench_parse_u64(optarg, 1, 86400, &v);
            o->duration = (uint32_t)v;
            break;
        case 'w':
            bad = bench_parse_u64(optarg, 0, 3600, &v);
            o->warmup = (uint32_t)v;
            break;
        case 'r':
            bad = bench_parse_u64(optarg, 1, 1000000000, &v);
            o->records = v;
            break;
        case 'H':
            bad = bench_parse_u64(optarg, 1, 100000000, &v);
            o->hot = (uint32_t)v;
            break;
        case 's':
            bad = bench_parse_u64(optarg, 0, UINT64_MAX, &v);
            o->seed = v;
            break;
        case 'j':
            o->json = optarg;
            break;
        case 'C':
            o->ceiling = 1;
            break;
        case 'W':
            bad = bench_parse_u64(optarg, 1, 4096, &v);
            o->window = (uint32_t)v;
            break;
        case 'M':
            bad = bench_parse_u64(optarg, 0, 100, &v);
            o->mp = (uint32_t)v;
            break;
        case 'D':
            o->data = optarg;
            break;
        case 'P':
            bad = bench_parse_u64(optarg, 1, 1024, &v);
            o->partitions = (uint32_t)v;
            break;
        default:
            bad = 1;
            break;
        }
        if (bad) {
            fprintf(stderr, "hobbes-bench: bad value for an option\n");
            s_usage();
            return 2;
        }
    }
    if (optind != argc || (!o->config && !(o->ceiling && o->partitions))) {
        s_usage();
        return 2;
    }
    if (o->config && !o->partitions) {
        char err[512];
        hb_config_t *cfg = NULL;
        if (hb_config_load(o->config, &cfg, err, sizeof err) != HB_OK) {
            fprintf(stderr, "hobbes-bench: %s\n", err);
            return 2;
        }
        o->partitions = cfg->partitions;
        hb_config_destroy(&cfg);
    }
    return s_micro(&run);
}
