/* test_hist.c — unit tests of the log-linear latency histogram (hb_hist).
 *
 * Quantiles must be within 1% (relative) of the exact order statistic, for
 * a dense range and for random log-uniform values (seeded; HOBBES_SEED=);
 * merging two histograms equals adding everything to one; add_n equals n
 * adds; an empty histogram answers 0 and an empty CDF.
 */
#include <check.h>

#include "../hb_test.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "hb_hist.h"

static uint64_t s_seed;

static uint64_t
s_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static int
s_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Checks quantiles of h against the sorted values v (n of them). */
static void
s_check_quantiles(const hb_hist_t *h, const uint64_t *v, size_t n)
{
    static const double qs[] = {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        size_t rank = (size_t)(qs[i] * (double)n);
        if (rank >= n)
            rank = n - 1;
        double exact = (double)v[rank], got = (double)hb_hist_quantile(h, qs[i]);
        ck_assert_msg(fabs(got - exact) <= 0.01 * exact + 0.5,
                      "q %.3f: got %.0f, exact %.0f", qs[i], got, exact);
    }
}

START_TEST(test_hist_empty)
{
    hb_hist_t *h = calloc(1, sizeof *h);
    ck_assert_uint_eq(h->count, 0);
    ck_assert_uint_eq(hb_hist_quantile(h, 0.5), 0);
    ck_assert_uint_eq(hb_hist_quantile(h, 0.99), 0);
    char buf[16] = {0};
    FILE *f = fmemopen(buf, sizeof buf, "w");
    ck_assert_int_eq(hb_hist_cdf_json(f, h), 0);
    fclose(f);
    ck_assert_str_eq(buf, "[]");
    hb_hist_t *g = calloc(1, sizeof *g);
    hb_hist_merge(g, h);
    ck_assert_uint_eq(g->count, 0);
    hb_hist_add_n(g, 5, 0);
    ck_assert_uint_eq(g->count, 0);
    free(g);
    free(h);
}
END_TEST

START_TEST(test_hist_dense)
{
    size_t n = 200000;
    uint64_t *v = malloc(n * sizeof *v);
    hb_hist_t *h = calloc(1, sizeof *h);
    for (size_t i = 0; i < n; i++) {
        v[i] = i + 1;
        hb_hist_add(h, v[i]);
    }
    ck_assert_uint_eq(h->count, n);
    ck_assert_uint_eq(h->max, n);
    ck_assert_uint_eq(h->sum, (uint64_t)n * (n + 1) / 2);
    s_check_quantiles(h, v, n);
    free(h);
    free(v);
}
END_TEST

START_TEST(test_hist_random)
{
    uint64_t st = s_seed;
    size_t n = 50000;
    uint64_t *v = malloc(n * sizeof *v);
    hb_hist_t *h = calloc(1, sizeof *h);
    for (size_t i = 0; i < n; i++) {
        /* log-uniform over 1 us .. ~30 s */
        double e = (double)(s_rand(&st) % 1000000) / 1000000.0 * 24.8;
        v[i] = (uint64_t)exp2(e);
        hb_hist_add(h, v[i]);
    }
    qsort(v, n, sizeof *v, s_cmp);
    s_check_quantiles(h, v, n);
    free(h);
    free(v);
}
END_TEST

START_TEST(test_hist_merge)
{
    uint64_t st = s_seed ^ 0x5555;
    hb_hist_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b),
              *all = calloc(1, sizeof *all);
    for (int i = 0; i < 20000; i++) {
        uint64_t x = s_rand(&st) % 1000000;
        hb_hist_add(i % 3 ? a : b, x);
        hb_hist_add(all, x);
    }
    hb_hist_merge(a, b);
    ck_assert_uint_eq(a->count, all->count);
    ck_assert_uint_eq(a->sum, all->sum);
    ck_assert_uint_eq(a->max, all->max);
    ck_assert_int_eq(memcmp(a->bucket, all->bucket, sizeof a->bucket), 0);
    ck_assert_uint_eq(hb_hist_quantile(a, 0.99), hb_hist_quantile(all, 0.99));
    /* add_n is n adds */
    hb_hist_reset(a);
    hb_hist_reset(b);
    hb_hist_add_n(a, 12345, 7);
    for (int i = 0; i < 7; i++)
        hb_hist_add(b, 12345);
    ck_assert_int_eq(memcmp(a, b, sizeof *a), 0);
    free(a);
    free(b);
    free(all);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("hist");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_hist_empty", test_hist_empty},
        {"test_hist_dense", test_hist_dense},
        {"test_hist_random", test_hist_random},
        {"test_hist_merge", test_hist_merge},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].fn);
        suite_add_tcase(s, tc);
    }
    return s;
}

int
main(void)
{
    s_seed = hb_test_seed("test_hist");
    return hb_test_run(s_suite());
}
