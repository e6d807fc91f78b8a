/* hb_test.h — what every Hobbes test program shares: its seed and its
 * Check runner.
 *
 * hb_test_seed returns HOBBES_SEED when set (any base strtoull reads),
 * otherwise a fresh one from the clock and pid; never 0 (xorshift states
 * must not be). It prints "<who>: HOBBES_SEED=<n>" so any failure can be
 * replayed. hb_test_run runs a suite and returns main()'s exit status.
 * hb_test_rmdir and hb_test_rmroot remove the LevelDB directories a test
 * made, even ones a database is still open in.
 */
#ifndef HB_TEST_H
#define HB_TEST_H

#include <dirent.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Removes a log directory (flat: LevelDB makes no subdirectories), even
 * one a database is still open in; idempotent (clears dir). */
static inline void
hb_test_rmdir(char *dir)
{
    if (!dir[0])
        return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[600];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    rmdir(dir);
    dir[0] = '\0';
}

/* Removes root and the log directories in it. */
static inline void
hb_test_rmroot(char *root)
{
    DIR *d = opendir(root);
    if (d) {
        struct dirent *e;
        char path[600];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(path, sizeof path, "%s/%s", root, e->d_name);
                hb_test_rmdir(path);
            }
        }
        closedir(d);
    }
    hb_test_rmdir(root);
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
