/* it_failover.c — Multi-Paxos replication on real processes: a 3 x 2
 * cluster loses the leader of a group under a kv.transfer load, then a
 * whole replica for a while, and must lose nothing.
 *
 *  1. 8 clients, connected to the two replicas that do not lead group 0,
 *     run random transfers between accounts on both partitions.
 *  2. A third of the way in, the leader of group 0 is killed with SIGKILL.
 *     Another replica must take over (the test measures the time from the
 *     kill to the first slot the new leader gets chosen), and the calls the
 *     followers had forwarded to the dead leader are sent again: every
 *     call is answered.
 *  3. The rest of the dead leader's replica is then stopped too (SIGKILL),
 *     the load goes on with two replicas, and after a while the replica is
 *     restarted: it fetches the chosen slots it missed from its peers,
 *     replays them, and catches up.
 *  With `soak` (slow suite), eight more rounds kill whichever replica leads
 *  a group, the clients' own replicas included, and restart it.
 *  4. Every balance equals its start plus acknowledged credits minus
 *     acknowledged debits (each call ran exactly once: no loss, no
 *     duplicate), the total is conserved, the three replicas' state hashes
 *     agree at one applied epoch (hobbesctl verify), and a serial replay of
 *     the restarted replica's log reproduces its live state.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hb_env.h"
#include "hb_key.h"
#include "hb_util.h"
#include "hobbes.h"
#include "it_util.h"

#define ACCOUNTS 32
#define CLIENTS  8
#define WINDOW   4
#define BALANCE  1000

static const char *s_config;
static char s_names[ACCOUNTS][16];
static atomic_llong s_delta[ACCOUNTS];
static atomic_llong s_committed, s_aborted, s_errors, s_done, s_unknown, s_dups, s_sent;
static atomic_int s_stop;
static uint64_t s_seed;
static int s_client_replica[2]; /* the replicas clients talk to */
static int s_rounds;            /* soak rounds (argument `soak`) */

typedef struct {
    uint64_t req;
    int from, to;
    int64_t amount;
    int64_t sent_ms;
} s_fly_t;

static int64_t
s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
s_client(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = s_seed * 1000003 + (uint64_t)id + 1;
    char err[256];
    hb_client_t *c =
        hb_client_new(s_config, (uint16_t)s_client_replica[id % 2], err, sizeof err);
    if (!c) {
        atomic_fetch_add(&s_errors, 1);
        return NULL;
    }
    s_fly_t fly[WINDOW] = {{0}};
    int inflight = 0;
    while (!s_stop || inflight) {
        for (int w = 0; w < WINDOW && !s_stop; w++) {
            if (fly[w].req)
                continue;
            int a = (int)(hb_xorshift(&rng) % ACCOUNTS), b;
            do
                b = (int)(hb_xorshift(&rng) % ACCOUNTS);
            while (b == a);
            int64_t amount = (int64_t)(1 + hb_xorshift(&rng) % 300);
            hb_val_t args[3] = {hb_val_str(s_names[a], (uint32_t)strlen(s_names[a])),
                                hb_val_str(s_names[b], (uint32_t)strlen(s_names[b])),
                                hb_val_int(amount)};
            uint64_t req;
            atomic_fetch_add(&s_sent, 1);
            if (hb_client_submit(c, "kv.transfer", args, 3, &req) != HB_OK) {
                atomic_fetch_add(&s_errors, 1);
                continue;
            }
            fly[w] = (s_fly_t){req, a, b, amount, s_ms()};
            inflight++;
        }
        hb_result_t *res = NULL;
        if (hb_client_poll(c, 100, &res) != HB_OK) {
            /* Both replicas this client talks to stay up: every call must
             * be answered. 20 s without an answer counts as lost. */
            for (int w = 0; w < WINDOW; w++)
                if (fly[w].req && s_ms() - fly[w].sent_ms > 20000) {
                    hb_client_forget(c, fly[w].req);
                    fly[w].req = 0;
                    inflight--;
                    atomic_fetch_add(&s_unknown, 1);
                    atomic_fetch_add(&s_done, 1);
                }
            continue;
        }
        for (int w = 0; w < WINDOW; w++) {
            if (fly[w].req != res->req_id)
                continue;
            if (res->rc == HB_OK) {
                atomic_fetch_add(&s_committed, 1);
                atomic_fetch_sub(&s_delta[fly[w].from], fly[w].amount);
                atomic_fetch_add(&s_delta[fly[w].to], fly[w].amount);
            } else if (res->rc == HB_ABORTED && strstr(res->msg, "insufficient")) {
                atomic_fetch_add(&s_aborted, 1);
            } else if (res->rc == HB_EXISTS) {
                /* Ran through another replica: outcome unknown here. */
                atomic_fetch_add(&s_dups, 1);
            } else {
                fprintf(stderr, "transfer failed: %s: %s\n", hb_rc_str(res->rc),
                        res->msg);
                atomic_fetch_add(&s_errors, 1);
            }
            fly[w].req = 0;
            inflight--;
            atomic_fetch_add(&s_done, 1);
        }
        hb_result_destroy(&res);
    }
    hb_client_destroy(&c);
    return NULL;
}

static long long
s_balance(hb_client_t *c, int i)
{
    hb_val_t arg = hb_val_str(s_names[i], (uint32_t)strlen(s_names[i]));
    hb_result_t *res = NULL;
    long long v = -1;
    if (hb_client_call(c, "kv.get", &arg, 1, 10000, &res) == HB_OK && res->rc == HB_OK &&
        res->nvals == 1 && res->vals[0].type == HB_VAL_INT)
        v = res->vals[0].u.i;
    hb_result_destroy(&res);
    return v;
}

/* Returns the replica leading group g, or -1 when none does (within
 * timeout_ms), asking only replicas not in `skip` (a bit mask). */
static int
s_leader(it_cluster_t *c, int g, unsigned skip, long timeout_ms)
{
    int64_t end = s_ms() + timeout_ms;
    do {
        for (int r = 0; r < c->replicas; r++)
            if (!(skip & (1u << r)) &&
                it_status_int(c, HB_ROLE_SEQUENCER, r, g, "leading") == 1)
                return r;
        it_sleep_ms(5);
    } while (s_ms() < end);
    return -1;
}

/* Step 1: names the accounts and funds each with BALANCE through cl;
 * checks they span both partitions. */
static void
s_fund(hb_client_t *cl)
{
    int per_part[2] = {0};
    for (int i = 0; i < ACCOUNTS; i++) {
        snprintf(s_names[i], sizeof s_names[i], "acct%d", i);
        hb_key_t k;
        hb_key_kv(&k, s_names[i], strlen(s_names[i]));
        per_part[hb_key_partition(k.buf, k.len, 2)]++;
        hb_val_t args[2] = {hb_val_str(s_names[i], (uint32_t)strlen(s_names[i])),
                            hb_val_int(BALANCE)};
        hb_result_t *res = NULL;
        IT_CHECK(hb_client_call(cl, "kv.put", args, 2, 10000, &res) == HB_OK &&
                     res->rc == HB_OK,
                 "funding %s", s_names[i]);
        hb_result_destroy(&res);
    }
    IT_CHECK(per_part[0] && per_part[1], "accounts on both partitions");
}

/* Step 2: kills the leader of group 0 (replica lead0) under load; times
 * the takeover and checks the service resumes. */
static void
s_kill_leader(it_cluster_t *c, int lead0)
{
    it_sleep_ms(1500);
    long long before = s_done;
    pid_t pid = it_cluster_pid(c, "sequencer", lead0, 0);
    IT_CHECK(pid > 0, "leader pid");
    kill(pid, SIGKILL);
    int64_t t_kill = s_ms();
    printf("kill -9 sequencer r%dp0 (leader of group 0) after %lld transfers\n", lead0,
           before);
    int next = s_leader(c, 0, 1u << lead0, 10000);
    int64_t t_elected = s_ms();
    IT_CHECK(next >= 0 && next != lead0, "a new leader for group 0 (got %d)", next);
    long long slot0 = it_status_int(c, HB_ROLE_SEQUENCER, next, 0, "paxos_chosen_end");
    long long slot = slot0;
    while (slot <= slot0 && s_ms() - t_kill < 10000) {
        it_sleep_ms(1);
        slot = it_status_int(c, HB_ROLE_SEQUENCER, next, 0, "paxos_chosen_end");
    }
    int64_t t_commit = s_ms();
    IT_CHECK(slot > slot0, "the new leader gets a slot chosen");
    printf(
        "failover: r%d leads group 0 %lld ms after the kill; its first slot chosen after "
        "%lld ms\n",
        next, (long long)(t_elected - t_kill), (long long)(t_commit - t_kill));
    IT_CHECK(it_cluster_kill9(c, "sequencer", lead0, 0) == 0, "leader gone");
    long long resumed = s_done;
    it_sleep_ms(1000);
    IT_CHECK(s_done > resumed + CLIENTS * WINDOW,
             "service resumes after the failover (%lld)", (long long)(s_done - resumed));
}

/* Step 3: stops the rest of replica lead0 for a while, then restarts it. */
static void
s_bounce_replica(it_cluster_t *c, int lead0)
{
    IT_CHECK(it_cluster_kill9(c, "sequencer", lead0, 1) == 0, "kill -9 seq p1");
    for (int p = 0; p < 2; p++) {
        IT_CHECK(it_cluster_kill9(c, "scheduler", lead0, p) == 0, "kill -9 scheduler");
        IT_CHECK(it_cluster_kill9(c, "storage", lead0, p) == 0, "kill -9 storage");
    }
    long long down_at = s_done;
    it_sleep_ms(2000);
    printf("replica r%d was down for %lld transfers; restarting it\n", lead0,
           (long long)(s_done - down_at));
    IT_CHECK(s_done > down_at + CLIENTS * WINDOW, "service goes on with two replicas");
    IT_CHECK(it_cluster_up(c) == 0, "restart replica r%d", lead0);
    it_sleep_ms(2000);
}

/* Soak (slow suite): more rounds, killing whichever replica leads a
 * group, clients' replicas included, and restarting it. */
static void
s_soak(it_cluster_t *c)
{
    for (int round = 0; round < s_rounds; round++) {
        int g = round % 2;
        int l = s_leader(c, g, 0, 10000);
        IT_CHECK(l >= 0, "round %d: group %d has a leader", round, g);
        long long at = s_done;
        IT_CHECK(it_cluster_kill9(c, "sequencer", l, g) == 0, "round %d: kill", round);
        int n = s_leader(c, g, 1u << l, 10000);
        IT_CHECK(n >= 0, "round %d: group %d elects a new leader", round, g);
        IT_CHECK(it_cluster_up(c) == 0, "round %d: restart", round);
        it_sleep_ms(1500);
        printf("round %d: killed r%d (leader of group %d), r%d took over; %lld transfers "
               "since\n",
               round, l, g, n, (long long)(s_done - at));
        IT_CHECK(s_done > at, "round %d: service goes on", round);
    }
}

/* Checks the clients' counts once they stopped. Returns true when every
 * call was answered with its own outcome (the balances must then match
 * exactly). */
static bool
s_check_counts(void)
{
    printf("transfers: %lld committed, %lld aborted for funds, %lld duplicates, %lld "
           "errors, "
           "%lld unanswered\n",
           (long long)s_committed, (long long)s_aborted, (long long)s_dups,
           (long long)s_errors, (long long)s_unknown);
    IT_CHECK(s_errors == 0, "%lld transfers failed", (long long)s_errors);
    /* Without soak rounds the clients' replicas never fail: every call is
     * answered with its own outcome. A soak round may kill a client's
     * sequencer: its calls then go to another replica, and those that had
     * run already are answered HB_EXISTS (run once, outcome unknown). */
    bool exact = s_rounds == 0 || (s_unknown == 0 && s_dups == 0);
    IT_CHECK(s_rounds > 0 || s_unknown == 0, "%lld transfers never answered",
             (long long)s_unknown);
    IT_CHECK(s_rounds > 0 || s_dups == 0,
             "%lld answered as duplicates (clients never switched replica)",
             (long long)s_dups);
    IT_CHECK(s_committed + s_aborted + s_dups + s_unknown == s_sent,
             "every transfer counted");
    return exact;
}

/* Step 4: exactly-once: balances match the acknowledged transfers (when
 * exact), none is negative, and money is conserved. */
static void
s_check_balances(hb_client_t *cl, bool exact)
{
    long long total = 0;
    for (int i = 0; i < ACCOUNTS; i++) {
        long long v = s_balance(cl, i);
        long long want = BALANCE + s_delta[i];
        IT_CHECK(!exact || v == want, "%s is %lld, acknowledged transfers say %lld",
                 s_names[i], v, want);
        IT_CHECK(v >= 0, "%s is negative", s_names[i]);
        total += v;
    }
    IT_CHECK(total == (long long)ACCOUNTS * BALANCE, "total %lld", total);
}

/* The restarted replica catches up and all three agree; then the serial
 * replay of replica lead0 matches its live state. */
static void
s_verify(it_cluster_t *c, const char *build_root, int lead0)
{
    char cmd[1024];
    int agreed = 0;
    for (int attempt = 0; attempt < 30 && !agreed; attempt++) {
        snprintf(cmd, sizeof cmd, "%s verify --config %s", c->ctl, c->config);
        agreed = system(cmd) == 0;
        if (!agreed)
            it_sleep_ms(500);
    }
    IT_CHECK(agreed, "hobbesctl verify: the three replicas agree");
    IT_CHECK(it_cluster_down(c) == 0, "cluster down");
    snprintf(cmd, sizeof cmd, "%s/tests/replay/hobbes-replay --config %s --replica %d",
             build_root, c->config, lead0);
    IT_CHECK(system(cmd) == 0, "serial replay of r%d disagrees with its live state",
             lead0);
}

int
main(int argc, char **argv)
{
    IT_CHECK(argc == 2 || (argc == 3 && strcmp(argv[2], "soak") == 0),
             "usage: it_failover BUILD_ROOT [soak]");
    s_rounds = argc == 3 ? 8 : 0;
    s_seed = hb_test_seed("it_failover");
    it_cluster_t c;
    IT_CHECK(it_cluster_init(&c, argv[1], 3, 2, "calvin", 10) == 0, "init");
    IT_CHECK(it_cluster_up(&c) == 0, "cluster up");
    s_config = c.config;

    int lead0 = s_leader(&c, 0, 0, 10000), lead1 = s_leader(&c, 1, 0, 10000);
    IT_CHECK(lead0 >= 0 && lead1 >= 0, "both groups elect a leader (%d, %d)", lead0,
             lead1);
    printf("leaders: group 0 r%d, group 1 r%d\n", lead0, lead1);
    s_client_replica[0] = (lead0 + 1) % 3;
    s_client_replica[1] = (lead0 + 2) % 3;

    char err[256];
    hb_client_t *cl =
        hb_client_new(c.config, (uint16_t)s_client_replica[0], err, sizeof err);
    IT_CHECK(cl, "%s", err);
    s_fund(cl);

    pthread_t th[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&th[i], NULL, s_client, (void *)(intptr_t)i);
    s_kill_leader(&c, lead0);
    s_bounce_replica(&c, lead0);
    s_soak(&c);
    s_stop = 1;
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(th[i], NULL);
    bool exact = s_check_counts();
    s_check_balances(cl, exact);
    hb_client_destroy(&cl);

    s_verify(&c, argv[1], lead0);
    it_cluster_cleanup(&c);
    printf("PASS\n");
    return 0;
}
