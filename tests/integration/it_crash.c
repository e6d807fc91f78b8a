/* it_crash.c — kill -9 a storage process in the middle of a load, restart
 * it, and check that no acknowledged transaction is lost: the storage
 * replays the input log after its applied epoch. Also kill -9 a scheduler
 * (the slot resynchronises) and a sequencer (its fsynced log survives). */
#include <pthread.h>
#include <stdio.h>

#include "hb_env.h"
#include "hobbes.h"
#include "it_load.h"
#include "it_util.h"

static void *
s_run(void *arg)
{
    it_load_run(arg);
    return NULL;
}

static void
s_crash(it_cluster_t *c, it_load_t *l, const char *role, long long at_ops)
{
    while (l->done_ops < at_ops)
        it_sleep_ms(5);
    printf("kill -9 %s r0p0 after %lld calls\n", role, (long long)l->done_ops);
    fflush(stdout);
    IT_CHECK(it_cluster_kill9(c, role, 0, 0) == 0, "kill -9 %s", role);
    it_sleep_ms(300);
    IT_CHECK(it_cluster_up(c) == 0, "restart %s", role);
}

int
main(int argc, char **argv)
{
    IT_CHECK(argc == 2, "usage: it_crash BUILD_ROOT");
    uint64_t seed = hb_test_seed("it_crash");
    it_cluster_t c;
    IT_CHECK(it_cluster_init(&c, argv[1], 1, 2, "calvin", 10) == 0, "init");
    IT_CHECK(it_cluster_up(&c) == 0, "cluster up");
    static it_load_t l;
    it_load_init(&l, c.config, 2, seed);
    IT_CHECK(it_load_fund(&l) == 0, "funding accounts");
    l.clients = 4;
    l.window = 8;
    l.ops_per_client = 4000;
    l.transfer_pct = 30;
    l.timeout_ms = 5000;

    pthread_t th;
    pthread_create(&th, NULL, s_run, &l);
    s_crash(&c, &l, "storage", 2000);
    s_crash(&c, &l, "scheduler", 7000);
    s_crash(&c, &l, "sequencer", 12000);
    pthread_join(th, NULL);

    long long storage_inc = it_status_int(&c, HB_ROLE_STORAGE, 0, 0, "incarnation");
    printf("storage r0p0 incarnation now %lld; %lld errors, %lld timeouts\n", storage_inc,
           (long long)l.errors, (long long)l.timeouts);
    IT_CHECK(l.errors == 0, "%lld calls failed", (long long)l.errors);
    for (int i = 0; i < IT_COUNTERS; i++) {
        long long v = it_load_counter(&l, i);
        /* Acknowledged increments must all be there; calls that never got
         * an answer (lost with the sequencer) may or may not have run. */
        IT_CHECK(v >= l.acked_add[i], "counter %d is %lld < acknowledged %lld", i, v,
                 (long long)l.acked_add[i]);
        IT_CHECK(v <= l.acked_add[i] + l.unknown_add[i],
                 "counter %d is %lld > possible %lld", i, v,
                 (long long)(l.acked_add[i] + l.unknown_add[i]));
    }
    long long total;
    int negative;
    IT_CHECK(it_load_balances(&l, &total, &negative) == 0, "read balances");
    IT_CHECK(total == 2LL * IT_ACCOUNTS_PER_PART * IT_BALANCE && negative == 0,
             "total %lld, %d negative", total, negative);
    it_cluster_cleanup(&c);
    printf("PASS\n");
    return 0;
}
