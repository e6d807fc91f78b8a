/* hb_hist.h — a log-linear latency histogram: O(1) add, no allocation.
 *
 * Values are microseconds. Buckets are exact below 128 and then carry 7
 * bits of mantissa (under 1% relative error), up to 2^40 us. Adding is O(1)
 * and allocation-free (a histogram is one flat struct of about 35 KB, meant
 * to be embedded); merging is a bucket-wise sum. Used by hobbes-bench for
 * end-to-end latencies and by every process for its per-stage latencies
 * (docs/architecture.md section 8, "Per-stage latencies"), which the shells
 * report in STATUS as <name>_count, _sum_us, _p50_us and _p99_us
 * (hb_status_hist in hb_shell.h).
 */
#ifndef HB_HIST_H
#define HB_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HB_HIST_BUCKETS (128 + 34 * 128)

typedef struct {
    uint64_t count;                   /* values added */
    uint64_t sum;                     /* their sum */
    uint64_t max;                     /* largest value */
    uint64_t bucket[HB_HIST_BUCKETS]; /* counts */
} hb_hist_t;

void hb_hist_reset(hb_hist_t *h);
void hb_hist_add(hb_hist_t *h, uint64_t us);
/* Adds n values equal to us (one per transaction of a batch). */
void hb_hist_add_n(hb_hist_t *h, uint64_t us, uint64_t n);
void hb_hist_merge(hb_hist_t *into, const hb_hist_t *from);
/* Returns the value at quantile q (0..1), 0 when empty. */
uint64_t hb_hist_quantile(const hb_hist_t *h, double q);

/* Writes h's cumulative distribution to f as a JSON array of [us, fraction]
 * pairs, about 100 of them log-spaced between the smallest and the largest
 * value (plus the points where the fraction crosses 0.5, 0.9, 0.99 and
 * 0.999), us strictly ascending, fraction in (0, 1], the last one 1. An
 * empty histogram writes []. Returns 0, or -1 if writing to f failed. */
int hb_hist_cdf_json(FILE *f, const hb_hist_t *h);

#endif
