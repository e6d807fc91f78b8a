/* it_failover_client.c — client failover across replicas (libhobbes
 * retries) on real processes: a 3 x 2 cluster loses both sequencers of the
 * client's own replica in the middle of a run, and every call must still
 * complete, exactly once.
 *
 *  1. One client, connected to replica 0 with retries every 500 ms, keeps
 *     8 kv.add(key, 1) calls in flight over 4 keys on both partitions,
 *     200 calls in all.
 *  2. After 60 answers, replica 0's two sequencers are killed with
 *     SIGKILL. The client must send its waiting calls again to replica 1
 *     (then 2 ...), and every call must be answered HB_OK (it ran through
 *     that replica) or HB_EXISTS (it had run already, through replica 0).
 *  3. Each key, read through replica 1, equals the number of calls on it
 *     that were answered OK or EXISTS: each ran exactly once.
 *  4. The test config's dedup window is short (500 slots, 5 s): once it
 *     has passed since the last call, replica 0 is restarted while the
 *     client is still connected and polling. The copies of calls sent to
 *     replica 0 while it was down must not reach it now (they would run a
 *     second time; ZeroMQ would deliver them on reconnect had the client
 *     not closed those sockets): the keys must not change, and the
 *     replicas agree (hobbesctl verify).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hb_env.h"
#include "hb_key.h"
#include "hobbes.h"
#include "it_util.h"

#define KEYS        4
#define CALLS       200
#define WINDOW      8
#define KILL_AT     60
#define DEDUP_SLOTS 500 /* 5 s at 10 ms epochs */

static char s_names[KEYS][16];

static int64_t
s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns the replica leading group g, or -1 after timeout_ms. */
static int
s_leader(it_cluster_t *c, int g, long timeout_ms)
{
    int64_t end = s_ms() + timeout_ms;
    do {
        for (int r = 0; r < c->replicas; r++)
            if (it_status_int(c, HB_ROLE_SEQUENCER, r, g, "leading") == 1)
                return r;
        it_sleep_ms(10);
    } while (s_ms() < end);
    return -1;
}

/* Returns key i's value read through cl (a kv.get), or -1. */
static long long
s_value(hb_client_t *cl, int i)
{
    hb_val_t arg = hb_val_str(s_names[i], (uint32_t)strlen(s_names[i]));
    hb_result_t *res = NULL;
    long long v = -1;
    if (hb_client_call(cl, "kv.get", &arg, 1, 10000, &res) == HB_OK && res->rc == HB_OK &&
        res->nvals == 1 && res->vals[0].type == HB_VAL_INT)
        v = res->vals[0].u.i;
    hb_result_destroy(&res);
    return v;
}

/* Writes `dedup_window = slots` into the cluster section of the config. */
static void
s_set_dedup_window(it_cluster_t *c, int slots)
{
    FILE *f = fopen(c->config, "r");
    IT_CHECK(f, "read %s", c->config);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, "    log_level");
    IT_CHECK(at, "the generated config has a cluster section");
    f = fopen(c->config, "w");
    IT_CHECK(f, "write %s", c->config);
    fprintf(f, "%.*s    dedup_window = %d\n%s", (int)(at - text), text, slots, at);
    fclose(f);
}

int
main(int argc, char **argv)
{
    IT_CHECK(argc == 2, "usage: it_failover_client BUILD_ROOT");
    it_cluster_t c;
    IT_CHECK(it_cluster_init(&c, argv[1], 3, 2, "calvin", 10) == 0, "init");
    s_set_dedup_window(&c, DEDUP_SLOTS);
    IT_CHECK(it_cluster_up(&c) == 0, "cluster up");
    IT_CHECK(s_leader(&c, 0, 10000) >= 0 && s_leader(&c, 1, 10000) >= 0,
             "both groups elect a leader");

    char err[256];
    hb_client_t *cl = hb_client_new(c.config, 0, err, sizeof err);
    IT_CHECK(cl, "%s", err);
    hb_client_set_retry(cl, 500);
    int per_part[2] = {0};
    for (int i = 0; i < KEYS; i++) {
        snprintf(s_names[i], sizeof s_names[i], "fc%d", i);
        hb_key_t k;
        hb_key_kv(&k, s_names[i], strlen(s_names[i]));
        per_part[hb_key_partition(k.buf, k.len, 2)]++;
        hb_val_t args[2] = {hb_val_str(s_names[i], (uint32_t)strlen(s_names[i])),
                            hb_val_int(0)};
        hb_result_t *res = NULL;
        IT_CHECK(hb_client_call(cl, "kv.put", args, 2, 10000, &res) == HB_OK &&
                     res->rc == HB_OK,
                 "kv.put %s", s_names[i]);
        hb_result_destroy(&res);
    }
    IT_CHECK(per_part[0] && per_part[1], "keys on both partitions");
    IT_CHECK(hb_client_retries(cl) == 0, "no retries while every replica is up");

    /* 1-2. 200 kv.add calls, 8 in flight; replica 0's sequencers die. */
    uint64_t fly[WINDOW] = {0};
    int fly_key[WINDOW] = {0};
    int64_t fly_at[WINDOW] = {0};
    long long ran[KEYS] = {0}; /* calls answered OK or EXISTS, per key */
    int sent = 0, done = 0, ok = 0, exists = 0, killed = 0;
    int64_t t_kill = 0, max_after_kill = 0;
    pid_t victims[2] = {0, 0};
    while (done < CALLS) {
        for (int w = 0; w < WINDOW && sent < CALLS; w++) {
            if (fly[w])
                continue;
            int key = sent % KEYS;
            hb_val_t args[2] = {hb_val_str(s_names[key], (uint32_t)strlen(s_names[key])),
                                hb_val_int(1)};
            IT_CHECK(hb_client_submit(cl, "kv.add", args, 2, &fly[w]) == HB_OK,
                     "submit: %s", hb_client_last_error(cl));
            fly_key[w] = key;
            fly_at[w] = s_ms();
            sent++;
        }
        if (!killed && done >= KILL_AT) {
            /* Not it_cluster_kill9: it waits (over a second) for the
             * process to be gone, and the client must keep polling. */
            for (int p = 0; p < 2; p++) {
                victims[p] = it_cluster_pid(&c, "sequencer", 0, p);
                IT_CHECK(victims[p] > 0 && kill(victims[p], SIGKILL) == 0,
                         "kill -9 sequencer r0p%d", p);
            }
            t_kill = s_ms();
            killed = 1;
            printf("kill -9 replica 0's sequencers after %d answers (%d sent)\n", done,
                   sent);
            fflush(stdout);
        }
        hb_result_t *res = NULL;
        if (hb_client_poll(cl, 100, &res) != HB_OK) {
            for (int w = 0; w < WINDOW; w++)
                IT_CHECK(!fly[w] || s_ms() - fly_at[w] < 15000,
                         "call %llu unanswered for 15 s (%llu retries)",
                         (unsigned long long)fly[w],
                         (unsigned long long)hb_client_retries(cl));
            continue;
        }
        int w = 0;
        while (w < WINDOW && fly[w] != res->req_id)
            w++;
        IT_CHECK(w < WINDOW, "answer to call %llu, which is not in flight",
                 (unsigned long long)res->req_id);
        IT_CHECK(res->rc == HB_OK || res->rc == HB_EXISTS, "kv.add answered %s: %s",
                 hb_rc_str(res->rc), res->msg);
        if (res->rc == HB_OK) {
            IT_CHECK(res->nvals == 1 && res->vals[0].type == HB_VAL_INT,
                     "kv.add returns the new value");
            ok++;
        } else {
            IT_CHECK(killed && res->nvals == 0 && res->epoch > 0,
                     "HB_EXISTS only after the kill, with the epoch it ran in (%s)",
                     res->msg);
            exists++;
        }
        if (killed && s_ms() - fly_at[w] > max_after_kill)
            max_after_kill = s_ms() - fly_at[w];
        ran[fly_key[w]]++;
        fly[w] = 0;
        done++;
        hb_result_destroy(&res);
    }
    printf(
        "%d calls: %d OK, %d EXISTS; %llu retries; slowest call after the kill %lld ms; "
        "all answered %lld ms after the kill\n",
        done, ok, exists, (unsigned long long)hb_client_retries(cl),
        (long long)max_after_kill, (long long)(s_ms() - t_kill));
    IT_CHECK(killed, "the sequencers were killed");
    IT_CHECK(ok + exists == CALLS, "every call answered");
    IT_CHECK(hb_client_retries(cl) > 0, "calls went to another replica");
    IT_CHECK(hb_client_pending(cl) == 0, "nothing left pending");
    for (int p = 0; p < 2; p++) {
        for (int i = 0; i < 200 && kill(victims[p], 0) == 0; i++)
            it_sleep_ms(50);
        IT_CHECK(kill(victims[p], 0) != 0, "sequencer r0p%d is gone", p);
        char path[600];
        snprintf(path, sizeof path, "%s/r0p%d/sequencer.pid", c.data, p);
        unlink(path); /* a dead daemon leaves its pid file behind */
    }

    /* 3. Exactly once, read through replica 1. */
    hb_client_t *r1 = hb_client_new(c.config, 1, err, sizeof err);
    IT_CHECK(r1, "%s", err);
    for (int i = 0; i < KEYS; i++) {
        long long v = s_value(r1, i);
        IT_CHECK(v == ran[i], "%s is %lld through replica 1; %lld calls on it ran",
                 s_names[i], v, ran[i]);
    }

    /* 4. Past the dedup window, replica 0 comes back while the client is
     * still connected: nothing it held for replica 0 may run again. */
    int64_t until = s_ms() + DEDUP_SLOTS * 10 + 1000;
    while (s_ms() < until) {
        hb_result_t *res = NULL;
        IT_CHECK(hb_client_poll(cl, 100, &res) == HB_TIMEOUT, "no stray answers");
    }
    IT_CHECK(it_cluster_up(&c) == 0, "restart replica 0's sequencers");
    until = s_ms() + 2000;
    while (s_ms() < until) {
        hb_result_t *res = NULL;
        IT_CHECK(hb_client_poll(cl, 100, &res) == HB_TIMEOUT, "no stray answers");
    }
    for (int i = 0; i < KEYS; i++) {
        long long v = s_value(r1, i);
        IT_CHECK(v == ran[i],
                 "%s is %lld after replica 0 came back; %lld calls on it ran", s_names[i],
                 v, ran[i]);
    }
    /* The home replica serves the client again, without retries. */
    uint64_t before = hb_client_retries(cl);
    for (int i = 0; i < KEYS; i++) {
        long long v = s_value(cl, i);
        IT_CHECK(v == ran[i], "%s is %lld through replica 0; %lld calls on it ran",
                 s_names[i], v, ran[i]);
    }
    printf("replica 0 back: values unchanged; %llu retries for its reads\n",
           (unsigned long long)(hb_client_retries(cl) - before));
    hb_client_destroy(&r1);
    hb_client_destroy(&cl);

    char cmd[1024];
    int agreed = 0;
    for (int attempt = 0; attempt < 20 && !agreed; attempt++) {
        snprintf(cmd, sizeof cmd, "%s verify --config %s >/dev/null", c.ctl, c.config);
        agreed = system(cmd) == 0;
        if (!agreed)
            it_sleep_ms(500);
    }
    IT_CHECK(agreed, "hobbesctl verify: the three replicas agree");
    it_cluster_cleanup(&c);
    printf("PASS\n");
    return 0;
}
