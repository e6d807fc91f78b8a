/* bench_ycsb.h — `hobbes-bench ycsb`: the Yahoo! Cloud Serving Benchmark
 * core workloads A-F against a Hobbes cluster (see bench_ycsb.c). */
#ifndef BENCH_YCSB_H
#define BENCH_YCSB_H

/* Runs `hobbes-bench ycsb ...` (argv[1] is "ycsb"). Returns the process
 * exit code: 0 when operations succeeded, 1 when none did or the cluster
 * is unreachable, 2 for bad usage. */
int bench_ycsb_main(int argc, char **argv);

/* Prints the ycsb usage lines to stderr. */
void bench_ycsb_usage(void);

#endif
