/* bench_hist.h — a log-linear latency histogram for hobbes-bench, and the
 * two small helpers (clock, option parsing) every harness uses.
 *
 * Values are microseconds. Buckets are exact below 128 and then carry 7
 * bits of mantissa (under 1% relative error), up to 2^40 us. Adding is O(1)
 * and allocation-free; merging is a bucket-wise sum.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>
#include <stdio.h>

#define BENCH_HIST_BUCKETS (128 + 34 * 128)

typedef struct {
    uint64_t count;                      /* values added */
    uint64_t sum;                        /* their sum */
    uint64_t max;                        /* largest value */
    uint64_t bucket[BENCH_HIST_BUCKETS]; /* counts */
} bench_hist_t;

void bench_hist_reset(bench_hist_t *h);
void bench_hist_add(bench_hist_t *h, uint64_t us);
void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from);
/* Returns the value at quantile q (0..1), 0 when empty. */
uint64_t bench_hist_quantile(const bench_hist_t *h, double q);

/* Writes h's cumulative distribution to f as a JSON array of [us, fraction]
 * pairs, about 100 of them log-spaced between the smallest and the largest
 * value (plus the points where the fraction crosses 0.5, 0.9, 0.99 and
 * 0.999), us strictly ascending, fraction in (0, 1], the last one 1. An
 * empty histogram writes []. Returns 0, or -1 if writing to f failed. */
int bench_hist_cdf_json(FILE *f, const bench_hist_t *h);

/* Returns a monotonic clock in microseconds (benchmarks only). */
uint64_t bench_now_us(void);

/* Parses a plain decimal s into *out when min <= value <= max. Returns 0,
 * or -1 (and leaves *out) for anything else: signs, junk, overflow. */
int bench_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
