/* bench_hist.c — log-linear latency histogram (see bench_hist.h). */
#include "bench_hist.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned
s_index(uint64_t v)
{
    if (v < 128)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned shift = msb - 7;
    unsigned mant = (unsigned)(v >> shift) & 127u;
    unsigned idx = 128 + (msb - 7) * 128 + mant;
    return idx < BENCH_HIST_BUCKETS ? idx : BENCH_HIST_BUCKETS - 1;
}

static uint64_t
s_value(unsigned idx)
{
    if (idx < 128)
        return idx;
    unsigned e = (idx - 128) / 128, mant = (idx - 128) % 128;
    return ((uint64_t)(128 + mant) << e) + (e ? ((uint64_t)1 << (e - 1)) : 0);
}

void
bench_hist_reset(bench_hist_t *h)
{
    memset(h, 0, sizeof *h);
}

void
bench_hist_add(bench_hist_t *h, uint64_t us)
{
    h->bucket[s_index(us)]++;
    h->count++;
    h->sum += us;
    if (us > h->max)
        h->max = us;
}

void
bench_hist_merge(bench_hist_t *into, const bench_hist_t *from)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t
bench_hist_quantile(const bench_hist_t *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen > rank) {
            uint64_t v = s_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

int
bench_hist_cdf_json(FILE *f, const bench_hist_t *h)
{
    static const double marks[] = {0.5, 0.9, 0.99, 0.999};
    int bad = fputc('[', f) == EOF;
    if (!h->count)
        return fputc(']', f) == EOF || bad ? -1 : 0;
    unsigned lo = 0, hi = BENCH_HIST_BUCKETS - 1;
    while (!h->bucket[lo])
        lo++;
    while (!h->bucket[hi])
        hi--;
    double vmin = (double)(s_value(lo) ? s_value(lo) : 1);
    double vmax = (double)(h->max > s_value(lo) ? h->max : s_value(lo) + 1);
    /* Next point at least this factor above the last: 100 steps over the range. */
    double step = vmax > vmin ? pow(vmax / vmin, 1.0 / 100.0) : 2.0;
    double next_v = 0;
    unsigned next_mark = 0;
    uint64_t seen = 0;
    int n = 0;
    for (unsigned i = lo; i <= hi; i++) {
        if (!h->bucket[i])
            continue;
        seen += h->bucket[i];
        double frac = (double)seen / (double)h->count;
        uint64_t v = i == hi ? h->max : s_value(i);
        if (v > h->max)
            v = h->max;
        int crossed = 0;
        while (next_mark < sizeof marks / sizeof marks[0] && frac >= marks[next_mark]) {
            crossed = 1;
            next_mark++;
        }
        if (i != hi && !crossed && (double)v < next_v)
            continue;
        if (fprintf(f, "%s[%" PRIu64 ", %.6g]", n ? ", " : "", v, i == hi ? 1.0 : frac) <
            0)
            bad = 1;
        n++;
        next_v = (double)(v ? v : 1) * step;
    }
    return fputc(']', f) == EOF || bad ? -1 : 0;
}

uint64_t
bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int
bench_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *s == '\0' || *s == '-' || *s == '+' || *end != '\0' || v < min ||
        v > max)
        return -1;
    *out = v;
    return 0;
}
