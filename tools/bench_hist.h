/* bench_hist.h — hobbes-bench's latency histogram (now common/hb_hist.h,
 * under its old names) and the two small helpers (clock, option parsing)
 * every harness uses. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>
#include <stdio.h>

#include "hb_hist.h"

#define BENCH_HIST_BUCKETS HB_HIST_BUCKETS
typedef hb_hist_t bench_hist_t;
#define bench_hist_reset    hb_hist_reset
#define bench_hist_add      hb_hist_add
#define bench_hist_merge    hb_hist_merge
#define bench_hist_quantile hb_hist_quantile
#define bench_hist_cdf_json hb_hist_cdf_json

/* Returns a monotonic clock in microseconds (benchmarks only). */
uint64_t bench_now_us(void);

/* Parses a plain decimal s into *out when min <= value <= max. Returns 0,
 * or -1 (and leaves *out) for anything else: signs, junk, overflow. */
int bench_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
