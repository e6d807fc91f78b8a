/* bench_stages.h — the cluster's per-stage latency breakdown, for
 * hobbes-bench's text and JSON output.
 *
 * At the end of a run hobbes-bench asks every sequencer, scheduler and
 * storage process for its STATUS and folds the stage_<name>_{count,sum_us,
 * p50_us,p99_us} entries (docs/architecture.md section 8) into one row per
 * stage: count and mean exact over all processes; p50 the count-weighted
 * mean of the processes' p50s; p99 the largest process p99. The processes'
 * histograms are cumulative since each one started: for a clean breakdown
 * run against a fresh cluster.
 */
#ifndef BENCH_STAGES_H
#define BENCH_STAGES_H

#include <stdint.h>
#include <stdio.h>

#include "hb_hist.h"

#define BENCH_STAGES_MAX 32

typedef struct {
    char name[48];   /* without "stage_" and the suffix: "seq_epoch_wait" */
    uint64_t count;  /* values over all processes */
    uint64_t sum;    /* their sum (us) */
    double p50w;     /* sum of p50 * count, for the weighted p50 */
    uint64_t p99;    /* largest process p99 */
    unsigned nprocs; /* processes that reported the stage */
} bench_stage_t;

typedef struct {
    bench_stage_t st[BENCH_STAGES_MAX];
    unsigned n;
} bench_stages_t;

/* Fills *out from the processes of the cluster in config (replicas x
 * partitions of each role). Returns how many processes answered. */
int bench_stages_fetch(const char *config, bench_stages_t *out);

/* Prints the breakdown as one table line ("stages: name p50/p99 ms ...")
 * plus the client's end-to-end total (may be NULL). */
void bench_stages_print(FILE *f, const bench_stages_t *s, const hb_hist_t *total);

/* Writes `"stages": {...}` (no trailing comma or newline): one object per
 * stage with count, mean_us, p50_us, p99_us and processes, then "client_total"
 * (the benchmark's end-to-end latency, when total is not NULL). */
void bench_stages_json(FILE *f, const bench_stages_t *s, const hb_hist_t *total);

#endif
