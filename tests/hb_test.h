/* hb_test.h — what every Hobbes test program shares: its seed and its
 * Check runner.
 *
 * hb_test_seed returns HOBBES_SEED when set (any base strtoull reads),
 * otherwise a fresh one from the clock and pid; never 0 (xorshift states
 * must not be). It prints "<who>: HOBBES_SEED=<n>" so any failure can be
 * replayed. hb_test_run runs a suite and returns main()'s exit status.
 */
#ifndef HB_TEST_H
#define HB_TEST_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t
hb_test_seed(const char *who)
{
    const char *env = getenv("HOBBES_SEED");
    uint64_t seed =
        env ? strtoull(env, NULL, 0) : ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
    if (seed == 0)
        seed = 1;
    printf("%s: HOBBES_SEED=%" PRIu64 "\n", who, seed);
    fflush(stdout);
    return seed;
}

#ifdef CHECK_H
static inline int
hb_test_run(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif

#endif
