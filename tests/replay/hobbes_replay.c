/* hobbes_replay.c — test-only replayer: re-executes a stopped cluster's
 * chosen input log in one process, serially, and compares state hashes.
 *
 *   hobbes-replay --config FILE --data DIR [--replica R]
 *
 * It reads every group's input log (the sequencers' LevelDBs), merges the
 * batches into the global order (epoch, group, index) with no scheduler and
 * no concurrency — the `serial` policy by construction —, and runs each
 * transaction through the real storage cores (storage/executor.c), one
 * per partition over fresh LevelDBs in a temporary directory, routing their
 * messages (remote reads) through an in-process queue. For each partition
 * it takes the replayed state hash at the epoch the live storage reports
 * applied and compares it with the live hash. Exit 0 when every partition
 * agrees, 1 on a mismatch (the most important bug there is), 2 on errors.
 *
 * Run it only on a stopped cluster: it opens the live LevelDBs.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "executor.h"
#include "hb_alloc.h"
#include "hb_config.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "hb_txn.h"
#include "hb_wire.h"
#include "seqlog.h"

/* ---------------------------------------------------------- the log */

typedef struct {
    uint64_t epoch; /* batch epoch */
    uint16_t group; /* sequencer group */
    uint8_t *body;  /* msgpack array of raw txns (owned) */
    size_t len;     /* body length */
} s_batch_t;

static s_batch_t *s_batches;
static size_t s_nbatches, s_capbatches;
static uint16_t s_cur_group;

static void
s_collect(void *arg, uint64_t epoch, uint64_t since, const uint8_t *body, size_t len)
{
    (void)arg;
    (void)since;
    HB_GROW(s_batches, s_capbatches, s_nbatches + 1, 1024);
    s_batches[s_nbatches++] = (s_batch_t){epoch, s_cur_group, hb_memdup(body, len), len};
}

static int
s_cmp_batch(const void *a, const void *b)
{
    const s_batch_t *x = a, *y = b;
    if (x->epoch != y->epoch)
        return x->epoch < y->epoch ? -1 : 1;
    return x->group < y->group ? -1 : x->group > y->group;
}

/* ------------------------------------------------- in-process network */

typedef struct {
    hb_node_t to;   /* destination */
    uint8_t *frame; /* owned */
    size_t len;     /* length */
} s_pkt_t;

static s_pkt_t *s_q;
static size_t s_qhead, s_qtail, s_qcap;
static uint32_t s_P;
static stor_executor_t **s_ex;

static hb_rc_t
s_send(void *ctx, hb_node_t to, const void *frame, size_t len)
{
    (void)ctx;
    if (to.role != HB_ROLE_STORAGE)
        return HB_OK; /* DONE, REPLY, HELLO: nobody to tell */
    HB_GROW(s_q, s_qcap, s_qtail + 1, 1024);
    s_q[s_qtail++] = (s_pkt_t){to, hb_memdup(frame, len), len};
    return HB_OK;
}

static hb_rc_t
s_send_client(void *ctx, uint64_t id, const void *frame, size_t len)
{
    (void)ctx;
    (void)id;
    (void)frame;
    (void)len;
    return HB_OK;
}

static uint64_t
s_now(void *ctx)
{
    (void)ctx;
    return 0;
}

static void
s_timer(void *ctx, uint64_t delay, uint64_t token)
{
    (void)ctx;
    (void)delay;
    (void)token; /* HELLO/APPLIED timers: irrelevant offline */
}

static uint64_t
s_random(void *ctx)
{
    (void)ctx;
    return 4; /* never used in execution */
}

static const hb_env_t s_env = {.send = s_send,
                               .send_client = s_send_client,
                               .now_us = s_now,
                               .timer = s_timer,
                               .random = s_random};

static void
s_deliver(stor_executor_t *ex, const hb_msg_t *m)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (hb_msg_encode(m, &sb) == HB_OK) {
        hb_msg_t d;
        if (hb_msg_decode(sb.data, sb.size, NULL, &d) == HB_OK) {
            stor_executor_on_message(ex, &d);
            hb_msg_clear(&d);
        }
    }
    msgpack_sbuffer_destroy(&sb);
}

/* Delivers queued storage-to-storage frames until the network is quiet. */
static void
s_pump(void)
{
    while (s_qhead < s_qtail) {
        s_pkt_t p = s_q[s_qhead++];
        hb_msg_t m;
        if (p.to.partition < s_P && s_ex[p.to.partition] &&
            hb_msg_decode(p.frame, p.len, NULL, &m) == HB_OK) {
            stor_executor_on_message(s_ex[p.to.partition], &m);
            hb_msg_clear(&m);
        }
        hb_free(p.frame);
    }
    s_qhead = s_qtail = 0;
}

/* -------------------------------------------------------------- main */

/* One replay: the live state read from the cluster, the fresh cores. */
typedef struct {
    hb_config_t *cfg;      /* the cluster's config (owned) */
    int replica;           /* the replica replayed */
    uint64_t *live_epoch;  /* per partition: live applied epoch */
    uint64_t *live_hash;   /* ... and state hash at it */
    stor_engine_t **eng;   /* per partition: fresh engine (owned) */
    uint64_t *replay_hash; /* replayed state hash at live_epoch */
    int *seen;             /* replay_hash taken */
    char root[32];         /* temporary directory of the fresh engines */
    uint64_t txns;         /* transactions replayed */
} s_run_t;

static int
s_usage(void)
{
    fprintf(stderr, "usage: hobbes-replay --config FILE --data DIR [--replica R]\n");
    return 2;
}

/* Step 1: every group's chosen batches (into s_batches, in global order)
 * and the live state of each partition. Returns 0, or 2 with a message. */
static int
s_read_live(s_run_t *run, const char *data)
{
    run->live_epoch = hb_calloc(s_P, sizeof *run->live_epoch);
    run->live_hash = hb_calloc(s_P, sizeof *run->live_hash);
    for (uint16_t g = 0; g < s_P; g++) {
        char dir[HB_PATH_MAX];
        hb_config_node_dir(run->cfg, data,
                           hb_node(HB_ROLE_SEQUENCER, (uint16_t)run->replica, g), dir,
                           sizeof dir);
        seq_log_t *log = seq_log_open(dir, 1);
        if (!log) {
            fprintf(stderr, "hobbes-replay: cannot open input log %s\n", dir);
            return 2;
        }
        s_cur_group = g;
        seq_log_scan(log, 0, SIZE_MAX, s_collect, NULL);
        seq_log_destroy(&log);
        hb_config_node_dir(run->cfg, data,
                           hb_node(HB_ROLE_STORAGE, (uint16_t)run->replica, g), dir,
                           sizeof dir);
        stor_engine_t *eng = stor_engine_open(dir);
        if (!eng) {
            fprintf(stderr, "hobbes-replay: cannot open storage %s\n", dir);
            return 2;
        }
        run->live_epoch[g] = stor_engine_applied_epoch(eng);
        run->live_hash[g] = stor_engine_state_hash(eng);
        stor_engine_destroy(&eng);
    }
    qsort(s_batches, s_nbatches, sizeof *s_batches, s_cmp_batch);
    return 0;
}

/* Step 2: fresh engines and cores, accepted at incarnation 1. Returns 0,
 * or 2 if the temporary directory cannot be made. */
static int
s_start_fresh(s_run_t *run)
{
    snprintf(run->root, sizeof run->root, "/tmp/hobbes-replay-XXXXXX");
    if (!mkdtemp(run->root))
        return 2;
    run->eng = hb_calloc(s_P, sizeof *run->eng);
    s_ex = hb_calloc(s_P, sizeof *s_ex);
    run->replay_hash = hb_calloc(s_P, sizeof *run->replay_hash);
    run->seen = hb_calloc(s_P, sizeof *run->seen);
    for (uint32_t p = 0; p < s_P; p++) {
        char dir[HB_PATH_MAX];
        snprintf(dir, sizeof dir, "%s/p%u", run->root, p);
        run->eng[p] = stor_engine_open(dir);
        s_ex[p] = stor_executor_new(
            run->eng[p], hb_node(HB_ROLE_STORAGE, (uint16_t)run->replica, (uint16_t)p),
            s_P, &run->cfg->limits, &s_env);
        if (run->live_epoch[p] == 0) {
            run->replay_hash[p] = stor_engine_state_hash(run->eng[p]);
            run->seen[p] = 1;
        }
    }

    /* Accept every core only once all exist: a RESET makes a core ask its
     * peers to resend remote reads. */
    for (uint32_t p = 0; p < s_P; p++) {
        hb_msg_t reset = {.type = HB_MSG_RESET};
        reset.u.hello.incarnation = stor_executor_incarnation(s_ex[p]);
        reset.u.hello.applied_epoch = 0;
        s_deliver(s_ex[p], &reset);
    }
    s_pump();
    return 0;
}

/* One pass over the batches [i, j) of one epoch: pass 0 counts each
 * partition's transactions into count; pass 1 sends every partition its
 * EPOCH, then DISPATCHes each transaction to its participants and runs it
 * to the end before the next. */
static void
s_epoch_pass(s_run_t *run, uint64_t epoch, size_t i, size_t j, int pass, uint32_t *count)
{
    if (pass == 1)
        for (uint32_t p = 0; p < s_P; p++) {
            hb_msg_t em = {.type = HB_MSG_EPOCH};
            em.u.epoch.incarnation = stor_executor_incarnation(s_ex[p]);
            em.u.epoch.epoch = epoch;
            em.u.epoch.ntxns = count[p];
            s_deliver(s_ex[p], &em);
        }
    for (size_t b = i; b < j; b++) {
        hb_mp_reader_t r;
        hb_mp_reader_init(&r, s_batches[b].body, s_batches[b].len);
        uint32_t n = 0;
        hb_mp_read_array(&r, &n);
        for (uint32_t k = 0; k < n; k++) {
            const uint8_t *raw;
            size_t rlen;
            if (hb_mp_read_raw(&r, &raw, &rlen) != HB_OK)
                break;
            hb_txn_t *txn = NULL;
            if (hb_txn_decode(raw, rlen, &run->cfg->limits, s_P, &txn) != HB_OK)
                continue;
            uint16_t parts[1024];
            uint32_t np = hb_txn_participants(txn, parts, 1024);
            for (uint32_t x = 0; x < np && x < 1024; x++) {
                if (pass == 0) {
                    count[parts[x]]++;
                    continue;
                }
                hb_msg_t dm = {.type = HB_MSG_DISPATCH};
                dm.u.dispatch.incarnation = stor_executor_incarnation(s_ex[parts[x]]);
                dm.u.dispatch.epoch = epoch;
                dm.u.dispatch.group = s_batches[b].group;
                dm.u.dispatch.index = k;
                dm.u.dispatch.raw = raw;
                dm.u.dispatch.raw_len = rlen;
                s_deliver(s_ex[parts[x]], &dm);
            }
            if (pass == 1) {
                s_pump();
                run->txns++;
            }
            hb_txn_destroy(&txn);
        }
    }
}

/* Step 3: epoch by epoch, group by group, index by index: one at a time;
 * each partition's hash is taken when it reaches its live epoch. */
static void
s_replay(s_run_t *run)
{
    for (size_t i = 0; i < s_nbatches;) {
        uint64_t epoch = s_batches[i].epoch;
        size_t j = i;
        while (j < s_nbatches && s_batches[j].epoch == epoch)
            j++;
        uint32_t *count = hb_calloc(s_P, sizeof *count);
        s_epoch_pass(run, epoch, i, j, 0, count);
        s_epoch_pass(run, epoch, i, j, 1, count);
        hb_free(count);
        for (uint32_t p = 0; p < s_P; p++)
            if (!run->seen[p] &&
                stor_engine_applied_epoch(run->eng[p]) == run->live_epoch[p]) {
                run->replay_hash[p] = stor_engine_state_hash(run->eng[p]);
                run->seen[p] = 1;
            }
        i = j;
    }
}

/* Step 4: prints one line per partition. Returns 1 on any mismatch. */
static int
s_compare(const s_run_t *run)
{
    int bad = 0;
    printf("replayed %zu batches, %" PRIu64 " transactions, serially\n", s_nbatches,
           run->txns);
    for (uint32_t p = 0; p < s_P; p++) {
        if (!run->seen[p]) {
            printf("p%u: live applied epoch %" PRIu64
                   " never reached by the replay: MISMATCH\n",
                   p, run->live_epoch[p]);
            bad = 1;
            continue;
        }
        int ok = run->replay_hash[p] == run->live_hash[p];
        printf("p%u: applied epoch %" PRIu64 " live %016" PRIx64 " replay %016" PRIx64
               " %s\n",
               p, run->live_epoch[p], run->live_hash[p], run->replay_hash[p],
               ok ? "OK" : "MISMATCH");
        bad |= !ok;
    }
    return bad;
}

/* Frees the cores, engines, the temporary directory and the batches. */
static void
s_finish(s_run_t *run)
{
    for (uint32_t p = 0; p < s_P; p++) {
        stor_executor_destroy(&s_ex[p]);
        stor_engine_destroy(&run->eng[p]);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", run->root);
    if (system(cmd) != 0)
        fprintf(stderr, "hobbes-replay: could not remove %s\n", run->root);
    for (size_t i = 0; i < s_nbatches; i++)
        hb_free(s_batches[i].body);
    hb_free(s_batches);
    hb_free(s_q);
    hb_config_destroy(&run->cfg);
}

int
main(int argc, char **argv)
{
    const char *config = NULL, *data = NULL;
    s_run_t run = {0};
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"replica", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:d:r:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'r':
            run.replica = atoi(optarg);
            break;
        default:
            return s_usage();
        }
    }
    if (!config)
        return s_usage();
    hb_log_set_level(HB_LOG_WARN);
    char err[512];
    if (hb_config_load(config, &run.cfg, err, sizeof err) != HB_OK) {
        fprintf(stderr, "hobbes-replay: %s\n", err);
        return 2;
    }
    s_P = run.cfg->partitions;
    if (s_read_live(&run, data) != 0 || s_start_fresh(&run) != 0)
        return 2;
    s_replay(&run);
    int bad = s_compare(&run);
    s_finish(&run);
    return bad;
}
