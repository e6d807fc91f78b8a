/* it_pipeline.c — the whole pipeline on real processes: 20,000 kv.add and
 * kv.transfer calls from 8 concurrent clients against a 1 x 2 cluster.
 * Every counter must equal its acknowledged increments, transfers must
 * conserve the total with no negative balance, and all of it must survive
 * a clean stop and restart of the cluster. */
#include <stdio.h>

#include "hobbes.h"
#include "it_load.h"
#include "it_util.h"

int
main(int argc, char **argv)
{
    IT_CHECK(argc == 3, "usage: it_pipeline BUILD_ROOT POLICY");
    uint64_t seed = hb_test_seed("it_pipeline");
    it_cluster_t c;
    IT_CHECK(it_cluster_init(&c, argv[1], 1, 2, argv[2], 10) == 0, "init");
    IT_CHECK(it_cluster_up(&c) == 0, "cluster up");

    static it_load_t l;
    it_load_init(&l, c.config, 2, seed);
    IT_CHECK(it_load_fund(&l) == 0, "funding accounts");
    it_load_run(&l);
    long long adds = 0;
    for (int i = 0; i < IT_COUNTERS; i++)
        adds += l.acked_add[i];
    printf("ops: %lld adds, %lld transfers committed, %lld aborted, %lld errors, %lld "
           "timeouts\n",
           adds, (long long)l.transfers_ok, (long long)l.transfers_aborted,
           (long long)l.errors, (long long)l.timeouts);
    IT_CHECK(l.errors == 0 && l.timeouts == 0, "%lld errors, %lld timeouts",
             (long long)l.errors, (long long)l.timeouts);
    IT_CHECK(adds + l.transfers_ok + l.transfers_aborted == 20000, "all 20000 answered");
    IT_CHECK(l.transfers_aborted > 0 && l.transfers_ok > 0,
             "the workload exercises both outcomes");

    long long expect[IT_COUNTERS];
    for (int i = 0; i < IT_COUNTERS; i++) {
        expect[i] = l.acked_add[i];
        long long v = it_load_counter(&l, i);
        IT_CHECK(v == expect[i], "counter %d is %lld, acknowledged %lld", i, v,
                 expect[i]);
    }
    long long total;
    int negative;
    IT_CHECK(it_load_balances(&l, &total, &negative) == 0, "read balances");
    IT_CHECK(total == 2LL * IT_ACCOUNTS_PER_PART * IT_BALANCE, "total %lld", total);
    IT_CHECK(negative == 0, "%d negative balances", negative);

    /* Stop and restart: everything is still there. */
    IT_CHECK(it_cluster_down(&c) == 0, "cluster down");
    IT_CHECK(it_cluster_pid(&c, "storage", 0, 0) == 0, "storage stopped");
    IT_CHECK(it_cluster_up(&c) == 0, "cluster up again");
    for (int i = 0; i < IT_COUNTERS; i++) {
        long long v = it_load_counter(&l, i);
        IT_CHECK(v == expect[i], "after restart counter %d is %lld, want %lld", i, v,
                 expect[i]);
    }
    IT_CHECK(it_load_balances(&l, &total, &negative) == 0, "read balances after restart");
    IT_CHECK(total == 2LL * IT_ACCOUNTS_PER_PART * IT_BALANCE && negative == 0,
             "after restart total %lld, %d negative", total, negative);
    it_cluster_cleanup(&c);
    printf("PASS\n");
    return 0;
}
