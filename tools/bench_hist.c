/* bench_hist.c — the clock and option parsing every harness uses (the
 * histogram itself is common/hb_hist.c). */
#include "bench_hist.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

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
