/* test_ycsb.c — unit tests of the YCSB generators (tools/ycsb_gen.c).
 *
 * Checks the key names YCSB itself produces for record 0, 1, 2; fnvhash64's
 * non-negativity; the zipfian frequencies of the top ranks against
 * 1/(k^theta * zeta); zeta's incremental growth; the scrambled zipfian's
 * range and skew; that "latest" favours recent inserts and follows the
 * acknowledged counter; and the operation proportions of workloads A-F.
 * Randomised: prints its seed and honours HOBBES_SEED=.
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ycsb_gen.h"

static uint64_t s_seed;

static uint64_t
s_rng(void)
{
    return s_seed * 0x9e3779b97f4a7c15ULL | 1;
}

START_TEST(test_ycsb_key_names)
{
    char buf[64];
    ck_assert_uint_eq(ycsb_key_name(0, buf, sizeof buf),
                      strlen("user6284781860667377211"));
    ck_assert_str_eq(buf, "user6284781860667377211");
    ycsb_key_name(1, buf, sizeof buf);
    ck_assert_str_eq(buf, "user8517097267634966620");
    ycsb_key_name(2, buf, sizeof buf);
    ck_assert_str_eq(buf, "user1820151046732198393");
    /* Too small a buffer gives 0, not a truncated name. */
    ck_assert_uint_eq(ycsb_key_name(0, buf, 8), 0);
    for (int64_t i = 0; i < 100000; i++)
        ck_assert_int_ge(ycsb_fnvhash64(i), 0);
}
END_TEST

START_TEST(test_ycsb_zipfian_frequencies)
{
    const int64_t n = 1000;
    const int draws = 1000000;
    uint64_t rng = s_rng();
    ycsb_zipf_t *z = ycsb_zipf_new(0, n - 1, YCSB_ZIPFIAN_CONSTANT);
    ck_assert_ptr_nonnull(z);
    double zeta = ycsb_zeta(0, n, YCSB_ZIPFIAN_CONSTANT, 0);
    ck_assert_double_eq_tol(ycsb_zipf_zetan(z), zeta, 1e-9);
    static uint32_t count[1000];
    memset(count, 0, sizeof count);
    for (int i = 0; i < draws; i++) {
        int64_t v = ycsb_zipf_next(z, &rng);
        ck_assert_int_ge(v, 0);
        ck_assert_int_lt(v, n);
        count[v]++;
    }
    /* Ranks 1 and 2 are exact in Gray's method; rank 10 is its
     * approximation of the continuous tail (a few percent). */
    const int ranks[] = {1, 2, 10};
    const double tol[] = {0.02, 0.03, 0.06};
    for (int r = 0; r < 3; r++) {
        int k = ranks[r];
        double want = 1.0 / (pow(k, YCSB_ZIPFIAN_CONSTANT) * zeta);
        double got = (double)count[k - 1] / draws;
        ck_assert_msg(fabs(got - want) / want < tol[r],
                      "rank %d: frequency %.5f, theory %.5f (seed %" PRIu64 ")", k, got,
                      want, s_seed);
    }
    /* Monotone in expectation: rank 1 beats rank 2 beats rank 10. */
    ck_assert_uint_gt(count[0], count[1]);
    ck_assert_uint_gt(count[1], count[9]);
    ycsb_zipf_destroy(&z);
    ck_assert_ptr_null(z);
    ycsb_zipf_destroy(&z);
    ck_assert_ptr_null(ycsb_zipf_new(5, 4, 0.99));
    ck_assert_ptr_null(ycsb_zipf_new(0, 10, 1.0));
}
END_TEST

START_TEST(test_ycsb_zeta_incremental)
{
    uint64_t rng = s_rng();
    ycsb_zipf_t *z = ycsb_zipf_new(0, 99, 0.99);
    double z100 = ycsb_zeta(0, 100, 0.99, 0);
    double z150 = ycsb_zeta(0, 150, 0.99, 0);
    ck_assert_double_eq_tol(ycsb_zipf_zetan(z), z100, 1e-12);
    ck_assert_double_eq_tol(ycsb_zeta(100, 150, 0.99, z100), z150, 1e-12);
    for (int i = 0; i < 1000; i++) {
        int64_t v = ycsb_zipf_next_n(z, 150, &rng);
        ck_assert_int_ge(v, 0);
        ck_assert_int_le(v, 150);
    }
    ck_assert_double_eq_tol(ycsb_zipf_zetan(z), z150, 1e-12);
    ycsb_zipf_destroy(&z);
}
END_TEST

START_TEST(test_ycsb_scrambled)
{
    const int64_t n = 10000;
    uint64_t rng = s_rng();
    const double thetas[] = {YCSB_ZIPFIAN_CONSTANT, 0.8};
    for (int t = 0; t < 2; t++) {
        ycsb_scrambled_t *s = ycsb_scrambled_new(100, 100 + n - 1, thetas[t]);
        ck_assert_ptr_nonnull(s);
        static uint32_t count[10000];
        memset(count, 0, sizeof count);
        const int draws = 200000;
        for (int i = 0; i < draws; i++) {
            int64_t v = ycsb_scrambled_next(s, &rng);
            ck_assert_int_ge(v, 100);
            ck_assert_int_lt(v, 100 + n);
            count[v - 100]++;
        }
        /* Skewed: the most popular item gets far more than the uniform
         * share, and the top 1% of items draw a large share. */
        uint32_t top = 0;
        for (int64_t i = 0; i < n; i++)
            top = count[i] > top ? count[i] : top;
        ck_assert_msg(top > 50 * (draws / n), "theta %.2f: top item only %u draws",
                      thetas[t], top);
        /* Scrambled: the most popular item is not simply the first one. */
        uint32_t sorted_top100 = 0;
        for (int k = 0; k < 100; k++) {
            uint32_t best = 0;
            int64_t bi = 0;
            for (int64_t i = 0; i < n; i++)
                if (count[i] > best) {
                    best = count[i];
                    bi = i;
                }
            sorted_top100 += best;
            count[bi] = 0;
        }
        ck_assert_msg(sorted_top100 > draws / 5, "top 1%% drew only %u of %d",
                      sorted_top100, draws);
        ycsb_scrambled_destroy(&s);
        ck_assert_ptr_null(s);
    }
}
END_TEST

START_TEST(test_ycsb_latest)
{
    uint64_t rng = s_rng();
    ycsb_counter_t *c = ycsb_counter_new(1000);
    ck_assert_int_eq(ycsb_counter_last(c), 999);
    ycsb_latest_t *l = ycsb_latest_new(c);
    ck_assert_ptr_nonnull(l);
    const int draws = 100000;
    int recent = 0;
    for (int i = 0; i < draws; i++) {
        int64_t v = ycsb_latest_next(l, &rng);
        ck_assert_int_ge(v, 0);
        ck_assert_int_le(v, 999);
        recent += v >= 990;
    }
    /* The newest 1% of keys get far more than 1% of the draws. */
    ck_assert_msg(recent > draws / 4, "newest 10 keys drew %d of %d", recent, draws);

    /* Acknowledged out of order: the limit advances only when contiguous. */
    int64_t a = ycsb_counter_next(c), b = ycsb_counter_next(c), d = ycsb_counter_next(c);
    ck_assert_int_eq(a, 1000);
    ck_assert_int_eq(d, 1002);
    ycsb_counter_ack(c, b);
    ck_assert_int_eq(ycsb_counter_last(c), 999);
    ycsb_counter_ack(c, a);
    ck_assert_int_eq(ycsb_counter_last(c), 1001);
    ycsb_counter_ack(c, d);
    ck_assert_int_eq(ycsb_counter_last(c), 1002);
    /* After inserts, the newest keys are the favourites. */
    int hit_new = 0;
    for (int i = 0; i < draws; i++) {
        int64_t v = ycsb_latest_next(l, &rng);
        ck_assert_int_le(v, 1002);
        hit_new += v >= 1000;
    }
    ck_assert_int_gt(hit_new, draws / 5);
    ycsb_latest_destroy(&l);
    ycsb_counter_destroy(&c);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_ycsb_workload_mix)
{
    uint64_t rng = s_rng();
    const char *names = "abcdef";
    const double want[6][YCSB_OP_COUNT_] = {
        {0.5, 0.5, 0, 0, 0},   {0.95, 0.05, 0, 0, 0}, {1, 0, 0, 0, 0},
        {0.95, 0, 0.05, 0, 0}, {0, 0, 0.05, 0.95, 0}, {0.5, 0, 0, 0, 0.5},
    };
    for (int w = 0; w < 6; w++) {
        const ycsb_workload_t *wl = ycsb_workload(names[w]);
        ck_assert_ptr_nonnull(wl);
        ck_assert_ptr_eq(ycsb_workload((char)(names[w] - 'a' + 'A')), wl);
        uint32_t count[YCSB_OP_COUNT_] = {0};
        const int draws = 200000;
        for (int i = 0; i < draws; i++)
            count[ycsb_workload_next_op(wl, &rng)]++;
        for (int op = 0; op < YCSB_OP_COUNT_; op++) {
            double got = (double)count[op] / draws;
            if (want[w][op] == 0)
                ck_assert_uint_eq(count[op], 0);
            else
                ck_assert_msg(fabs(got - want[w][op]) < 0.01,
                              "workload %c %s: %.4f, want %.2f", names[w],
                              ycsb_op_name((ycsb_op_t)op), got, want[w][op]);
        }
    }
    ck_assert_int_eq(ycsb_workload('d')->dist, YCSB_DIST_LATEST);
    ck_assert_int_eq(ycsb_workload('a')->dist, YCSB_DIST_ZIPFIAN);
    ck_assert_uint_eq(ycsb_workload('e')->max_scan, 100);
    ck_assert_ptr_null(ycsb_workload('g'));
    for (int i = 0; i < 10000; i++) {
        int64_t v = ycsb_uniform(&rng, 1, 100);
        ck_assert_int_ge(v, 1);
        ck_assert_int_le(v, 100);
    }
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("ycsb");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_ycsb_key_names", test_ycsb_key_names},
        {"test_ycsb_zipfian_frequencies", test_ycsb_zipfian_frequencies},
        {"test_ycsb_zeta_incremental", test_ycsb_zeta_incremental},
        {"test_ycsb_scrambled", test_ycsb_scrambled},
        {"test_ycsb_latest", test_ycsb_latest},
        {"test_ycsb_workload_mix", test_ycsb_workload_mix},
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
    s_seed = hb_test_seed("test_ycsb");
    return hb_test_run(s_suite());
}
