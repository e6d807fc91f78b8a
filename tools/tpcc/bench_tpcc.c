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
 *
 * This file is the command line (options, checks, dispatch: bench_tpcc_main,
 * bench_tpcc_usage). The rest of tools/tpcc/, sharing tpcc_int.h:
 *   tpcc_db.c      one SQL connection, Hobbes or PostgreSQL; result access
 *   tpcc_rand.c    NURand, last names, the deck, the transactions' inputs
 *   tpcc_schema.c  tables, indexes, the SQL procedures
 *   tpcc_load.c    `load`: units of work, parallel loaders, progress
 *   tpcc_sql.c     the five transactions in SQL (--impl sql)
 *   tpcc_native.c  the five transactions as tpcc.* calls and snapshot reads
 *   tpcc_run.c     `run`: terminals, retries, measurement, the report
 *   tpcc_check.c   `check`: consistency conditions of clause 3.3.2
 */
#include "bench_tpcc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_config.h"
#include "tpcc_int.h"

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

/* Reads the options after `tpcc CMD` into o and *impl. Returns 0, or 2
 * for bad usage (printed). */
static int
s_parse(int argc, char **argv, tpcc_opts_t *o, const char **impl)
{
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
            o->config = optarg;
            break;
        case 't':
            o->target = strcmp(optarg, "hobbes") == 0 ? NULL : optarg;
            break;
        case 'W':
            bad = bench_parse_u64(optarg, 1, 10000, &v);
            o->warehouses = (uint32_t)v;
            break;
        case 'L':
            bad = bench_parse_u64(optarg, 1, 256, &v);
            o->loaders = (uint32_t)v;
            break;
        case 'n':
            bad = bench_parse_u64(optarg, 1, 4096, &v);
            o->clients = (uint32_t)v;
            break;
        case 'd':
            bad = bench_parse_u64(optarg, 1, TPCC_TL_MAX, &v);
            o->duration = (uint32_t)v;
            break;
        case 'w':
            bad = bench_parse_u64(optarg, 0, 3600, &v);
            o->warmup = (uint32_t)v;
            break;
        case 'i':
            *impl = optarg;
            break;
        case 'S':
            o->spec_timing = 1;
            break;
        case 'j':
            o->json = optarg;
            break;
        case 'v':
            o->csv = optarg;
            break;
        case 's':
            bad = bench_parse_u64(optarg, 0, UINT32_MAX, &v);
            o->seed = v;
            break;
        case 'r':
            bad = bench_parse_u64(optarg, 0, 1000, &v);
            o->retries = (uint32_t)v;
            break;
        case 'f':
            bad = bench_parse_u64(optarg, 0, 63, &v);
            o->sqlfront = (uint16_t)v;
            break;
        case 'l':
            o->label = optarg;
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
    return 0;
}

/* Checks the options against each other and the config. Returns 0, or 2
 * for bad usage (printed). */
static int
s_validate(tpcc_opts_t *o, const char *impl)
{
    if (strcmp(impl, "native") == 0) {
        o->native = 1;
    } else if (strcmp(impl, "sql") != 0) {
        fprintf(stderr, "hobbes-bench: tpcc: --impl must be native or sql\n");
        return 2;
    }
    if (!o->target && !o->config) {
        fprintf(
            stderr,
            "hobbes-bench: tpcc: --config FILE (or $HOBBES_CONFIG) or --target URL\n");
        return 2;
    }
    if (o->target && o->native) {
        fprintf(stderr,
                "hobbes-bench: tpcc: --impl native needs a Hobbes cluster (PostgreSQL "
                "runs the SQL procedures)\n");
        return 2;
    }
    if (!o->target) { /* fail early on a config that does not load */
        char err[512];
        hb_config_t *cfg = NULL;
        if (hb_config_load(o->config, &cfg, err, sizeof err) != HB_OK) {
            fprintf(stderr, "hobbes-bench: %s\n", err);
            return 2;
        }
        hb_config_destroy(&cfg);
    }
    return 0;
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
    tpcc_opts_t o = {.config = getenv("HOBBES_CONFIG"),
                     .loaders = 16,
                     .duration = 60,
                     .warmup = 5,
                     .retries = 10,
                     .seed = 1};
    const char *impl = "sql";
    if (s_parse(argc, argv, &o, &impl) != 0 || s_validate(&o, impl) != 0)
        return 2;
    if (strcmp(cmd, "load") == 0) {
        if (!o.warehouses) {
            fprintf(stderr, "hobbes-bench: tpcc load: --warehouses W is required\n");
            return 2;
        }
        return tpcc_load(&o);
    }
    if (strcmp(cmd, "run") == 0)
        return tpcc_run(&o);
    return tpcc_check(&o);
}
