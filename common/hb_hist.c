/* hb_hist.c — log-linear latency histogram (see hb_hist.h). */
#include "hb_hist.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static unsigned
s_index(uint64_t v)
{
    if (v < 128)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned shift = msb - 7;
    unsigned mant = (unsigned)(v >> shift) & 127u;
    unsigned idx = 128 + (msb - 7) * 128 + mant;
    return idx < HB_HIST_BUCKETS ? idx : HB_HIST_BUCKETS - 1;
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
hb_hist_reset(hb_hist_t *h)
{
    memset(h, 0, sizeof *h);
}

void
hb_hist_add(hb_hist_t *h, uint64_t us)
{
    h->bucket[s_index(us)]++;
    h->count++;
    h->sum += us;
    if (us > h->max)
        h->max = us;
}

void
hb_hist_add_n(hb_hist_t *h, uint64_t us, uint64_t n)
{
    if (!n)
        return;
    h->bucket[s_index(us)] += n;
    h->count += n;
    h->sum += us * n;
    if (us > h->max)
        h->max = us;
}

void
hb_hist_merge(hb_hist_t *into, const hb_hist_t *from)
{
    for (unsigned i = 0; i < HB_HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t
hb_hist_quantile(const hb_hist_t *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HB_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen > rank) {
            uint64_t v = s_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

int
hb_hist_cdf_json(FILE *f, const hb_hist_t *h)
{
    static const double marks[] = {0.5, 0.9, 0.99, 0.999};
    int bad = fputc('[', f) == EOF;
    if (!h->count)
        return fputc(']', f) == EOF || bad ? -1 : 0;
    unsigned lo = 0, hi = HB_HIST_BUCKETS - 1;
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
