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

/* The calls of steps 1-2 and what became of them. */
typedef struct {
    it_cluster_t *c;        /* the cluster */
    hb_client_t *cl;        /* the client, at home on replica 0 */
    uint64_t fly[WINDOW];   /* call ids in flight (0: free slot) */
    int fly_key[WINDOW];    /* ... their keys */
    int64_t fly_at[WINDOW]; /* ... when submitted */
    long long ran[KEYS];    /* calls answered OK or EXISTS, per key */
    int sent, done, ok, exists, killed;
    int64_t t_kill, max_after_kill;
    pid_t victims[2]; /* replica 0's sequencers */
} s_run_t;

/* Names the keys, puts each at 0, and checks they span both partitions. */
static void
s_put_keys(hb_client_t *cl)
{
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
}

/* Submits kv.add calls into every free slot of the window. */
static void
s_fill_window(s_run_t *run)
{
    for (int w = 0; w < WINDOW && run->sent < CALLS; w++) {
        if (run->fly[w])
            continue;
        int key = run->sent % KEYS;
        hb_val_t args[2] = {hb_val_str(s_names[key], (uint32_t)strlen(s_names[key])),
                            hb_val_int(1)};
        IT_CHECK(hb_client_submit(run->cl, "kv.add", args, 2, &run->fly[w]) == HB_OK,
                 "submit: %s", hb_client_last_error(run->cl));
        run->fly_key[w] = key;
        run->fly_at[w] = s_ms();
        run->sent++;
    }
}

/* Kills replica 0's sequencers with SIGKILL. */
static void
s_kill_home(s_run_t *run)
{
    /* Not it_cluster_kill9: it waits (over a second) for the process to be
     * gone, and the client must keep polling. */
    for (int p = 0; p < 2; p++) {
        run->victims[p] = it_cluster_pid(run->c, "sequencer", 0, p);
        IT_CHECK(run->victims[p] > 0 && kill(run->victims[p], SIGKILL) == 0,
                 "kill -9 sequencer r0p%d", p);
    }
    run->t_kill = s_ms();
    run->killed = 1;
    printf("kill -9 replica 0's sequencers after %d answers (%d sent)\n", run->done,
           run->sent);
    fflush(stdout);
}

/* Takes one answer (res, owned) and frees its slot. */
static void
s_take_answer(s_run_t *run, hb_result_t *res)
{
    int w = 0;
    while (w < WINDOW && run->fly[w] != res->req_id)
        w++;
    IT_CHECK(w < WINDOW, "answer to call %llu, which is not in flight",
             (unsigned long long)res->req_id);
    IT_CHECK(res->rc == HB_OK || res->rc == HB_EXISTS, "kv.add answered %s: %s",
             hb_rc_str(res->rc), res->msg);
    if (res->rc == HB_OK) {
        IT_CHECK(res->nvals == 1 && res->vals[0].type == HB_VAL_INT,
                 "kv.add returns the new value");
        run->ok++;
    } else {
        IT_CHECK(run->killed && res->nvals == 0 && res->epoch > 0,
                 "HB_EXISTS only after the kill, with the epoch it ran in (%s)",
                 res->msg);
        run->exists++;
    }
    if (run->killed && s_ms() - run->fly_at[w] > run->max_after_kill)
        run->max_after_kill = s_ms() - run->fly_at[w];
    run->ran[run->fly_key[w]]++;
    run->fly[w] = 0;
    run->done++;
    hb_result_destroy(&res);
}

/* Steps 1-2: 200 kv.add calls, 8 in flight; replica 0's sequencers die
 * after KILL_AT answers. */
static void
s_run_calls(s_run_t *run)
{
    while (run->done < CALLS) {
        s_fill_window(run);
        if (!run->killed && run->done >= KILL_AT)
            s_kill_home(run);
        hb_result_t *res = NULL;
        if (hb_client_poll(run->cl, 100, &res) != HB_OK) {
            for (int w = 0; w < WINDOW; w++)
                IT_CHECK(!run->fly[w] || s_ms() - run->fly_at[w] < 15000,
                         "call %llu unanswered for 15 s (%llu retries)",
                         (unsigned long long)run->fly[w],
                         (unsigned long long)hb_client_retries(run->cl));
            continue;
        }
        s_take_answer(run, res);
    }
    printf(
        "%d calls: %d OK, %d EXISTS; %llu retries; slowest call after the kill %lld ms; "
        "all answered %lld ms after the kill\n",
        run->done, run->ok, run->exists, (unsigned long long)hb_client_retries(run->cl),
        (long long)run->max_after_kill, (long long)(s_ms() - run->t_kill));
    IT_CHECK(run->killed, "the sequencers were killed");
    IT_CHECK(run->ok + run->exists == CALLS, "every call answered");
    IT_CHECK(hb_client_retries(run->cl) > 0, "calls went to another replica");
    IT_CHECK(hb_client_pending(run->cl) == 0, "nothing left pending");
}

/* Waits for the killed sequencers to be gone and removes their pid files. */
static void
s_reap_home(s_run_t *run)
{
    for (int p = 0; p < 2; p++) {
        for (int i = 0; i < 200 && kill(run->victims[p], 0) == 0; i++)
            it_sleep_ms(50);
        IT_CHECK(kill(run->victims[p], 0) != 0, "sequencer r0p%d is gone", p);
        char path[600];
        snprintf(path, sizeof path, "%s/r0p%d/sequencer.pid", run->c->data, p);
        unlink(path); /* a dead daemon leaves its pid file behind */
    }
}

/* Checks every key read through cl equals the calls that ran on it. */
static void
s_check_values(const s_run_t *run, hb_client_t *cl, const char *when)
{
    for (int i = 0; i < KEYS; i++) {
        long long v = s_value(cl, i);
        IT_CHECK(v == run->ran[i], "%s is %lld %s; %lld calls on it ran", s_names[i], v,
                 when, run->ran[i]);
    }
}

/* Polls cl for ms milliseconds: no answer may arrive. */
static void
s_expect_silence(hb_client_t *cl, int64_t ms)
{
    int64_t until = s_ms() + ms;
    while (s_ms() < until) {
        hb_result_t *res = NULL;
        IT_CHECK(hb_client_poll(cl, 100, &res) == HB_TIMEOUT, "no stray answers");
    }
}

/* Step 4: past the dedup window, replica 0 comes back while the client is
 * still connected: nothing it held for replica 0 may run again. */
static void
s_restart_home(s_run_t *run, hb_client_t *r1)
{
    s_expect_silence(run->cl, DEDUP_SLOTS * 10 + 1000);
    IT_CHECK(it_cluster_up(run->c) == 0, "restart replica 0's sequencers");
    s_expect_silence(run->cl, 2000);
    s_check_values(run, r1, "after replica 0 came back");
    /* The home replica serves the client again, without retries. */
    uint64_t before = hb_client_retries(run->cl);
    s_check_values(run, run->cl, "through replica 0");
    printf("replica 0 back: values unchanged; %llu retries for its reads\n",
           (unsigned long long)(hb_client_retries(run->cl) - before));
}

/* hobbesctl verify, retried while the replicas catch up. */
static void
s_verify(it_cluster_t *c)
{
    char cmd[1024];
    int agreed = 0;
    for (int attempt = 0; attempt < 20 && !agreed; attempt++) {
        snprintf(cmd, sizeof cmd, "%s verify --config %s >/dev/null", c->ctl, c->config);
        agreed = system(cmd) == 0;
        if (!agreed)
            it_sleep_ms(500);
    }
    IT_CHECK(agreed, "hobbesctl verify: the three replicas agree");
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
    static s_run_t run;
    run.c = &c;
    run.cl = hb_client_new(c.config, 0, err, sizeof err);
    IT_CHECK(run.cl, "%s", err);
    hb_client_set_retry(run.cl, 500);
    s_put_keys(run.cl);

    s_run_calls(&run);
    s_reap_home(&run);

    /* 3. Exactly once, read through replica 1. */
    hb_client_t *r1 = hb_client_new(c.config, 1, err, sizeof err);
    IT_CHECK(r1, "%s", err);
    s_check_values(&run, r1, "through replica 1");

    s_restart_home(&run, r1);
    hb_client_destroy(&r1);
    hb_client_destroy(&run.cl);

    s_verify(&c);
    it_cluster_cleanup(&c);
    printf("PASS\n");
    return 0;
}
