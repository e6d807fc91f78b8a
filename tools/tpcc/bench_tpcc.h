/* bench_tpcc.h — `hobbes-bench tpcc load|run|check`: TPC-C against a Hobbes
 * cluster (native or SQL procedures) or, with --target postgres://...,
 * against PostgreSQL through libpq (see bench_tpcc.c, which maps tools/tpcc/,
 * and docs/tpcc.md). */
#ifndef BENCH_TPCC_H
#define BENCH_TPCC_H

/* Runs `hobbes-bench tpcc ...` (argv[1] is "tpcc"). Returns the exit code:
 * 0 on success (check: every condition held), 1 when the work failed (or a
 * condition did not hold), 2 for bad usage. */
int bench_tpcc_main(int argc, char **argv);

/* Prints the tpcc usage lines to stderr. */
void bench_tpcc_usage(void);

#endif
