/* test_batcher.c — unit tests of the sequencer core (sequencer/batcher.c)
 * running its Paxos core (paxos.c) over its input log (seqlog.c).
 *
 * Every sequencer runs over a real LevelDB log in a mkdtemp directory (the
 * test opens it and lends it to the core, as sequencer/main.c does) and
 * a fake hb_env_t: one virtual clock, one-shot timers the test fires in
 * due order, a seeded PRNG (HOBBES_SEED=), and a network that hands PAXOS
 * and FORWARD frames to the other sequencers of the group in FIFO order
 * (a sequencer can be "dead" and a link cut) and records every frame sent
 * to a scheduler or a client. The tests decode those frames and check what
 * schedulers and clients would see.
 *
 * One replica (partitions = 3; it leads from seq_batcher_new, so
 * seq_batcher_close delivers at once): sub-batches per partition with
 * their indexes, empty batches chaining `since`, restarts and clock jumps,
 * replay, errors for bad calls, reply forwarding, the tick.
 * Three replicas (partitions = 2): a leader is elected; a call submitted to
 * a follower is forwarded and every replica delivers it once in
 * byte-identical batches; a call id submitted twice runs once and the
 * copy's replica answers its client HB_EXISTS; after the leader dies a new
 * one is elected, calls pending at followers are delivered once, epochs and
 * `since` keep chaining, and the old leader catches up when it returns.
 * HOBBES_TEST_LOG=1 shows the cores' log lines (elections, leaders).
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batcher.h"
#include "hb_alloc.h"
#include "hb_config.h"
#include "hb_key.h"
#include "hb_log.h"
#include "hb_proc.h"
#include "hb_txn.h"
#include "hb_wire.h"
#include "paxos.h"
#include "seqlog.h"

/* ------------------------------------------------------------ fake world */

#define S_R 3 /* most replicas of a test cluster */
#define S_P 3 /* most partitions */

/* The timers a sequencer arms, by index. */
enum { S_TOK_TICK, S_TOK_RETRY, S_TOK_PAXOS, S_TOK_CLOSE, S_NTOK };
static const uint64_t s_tokens[S_NTOK] = {SEQ_TIMER_TICK, SEQ_TIMER_RETRY,
                                          SEQ_PAXOS_TIMER_TICK, SEQ_TIMER_CLOSE};

/* One sequencer process. */
typedef struct {
    bool up;                /* created */
    bool dead;              /* no timers fire, no message gets in or out */
    uint16_t r, g;          /* replica, group */
    seq_batcher_t *b;       /* the core */
    seq_log_t *log;         /* its input log, lent to b (as the shell does) */
    hb_env_t env;           /* its environment (ctx = this node) */
    char dir[300];          /* its input log (under s_root) */
    bool armed[S_NTOK];     /* timer pending */
    uint64_t due[S_NTOK];   /* ... at */
    uint64_t delay[S_NTOK]; /* last delay asked for */
    uint64_t rng;           /* xorshift state */
} s_node_t;

/* A frame a sequencer sent to a scheduler or a client. */
typedef struct {
    uint16_t fr, fg;    /* sender (replica, group) */
    hb_node_t to;       /* destination (role CLIENT for send_client) */
    uint64_t client_id; /* for client frames */
    uint8_t *frame;     /* copy */
    size_t len;         /* length */
} s_sent_t;

/* A frame in flight between two sequencers: of the same group, or (a
 * CLOSE) of two groups of one replica. */
typedef struct {
    uint16_t fr, g, tr; /* from replica, group, to replica */
    uint16_t tg;        /* to group */
    uint8_t *frame;     /* copy */
    size_t len;         /* length */
} s_pkt_t;

static s_node_t s_nodes[S_R][S_P];
static hb_config_t *s_cfg;
static uint64_t s_now;  /* the one clock (us since the Unix epoch) */
static uint64_t s_seed; /* HOBBES_SEED */
/* Every log of this run lives under s_root, removed when the run ends: a
 * failed check ends its test's process without the teardown. */
static char s_root[256];
static s_sent_t *s_sent;
static size_t s_nsent, s_sent_cap;
static s_pkt_t *s_net;
static size_t s_net_n, s_net_cap;
static bool s_cut[S_P][S_R][S_R];     /* group g's link from -> to is cut */
static uint64_t s_fwd[S_P][S_R][S_R]; /* FORWARD frames sent from -> to */
static uint64_t s_closes;             /* CLOSE frames sent */
static seq_batcher_t *s_seq;          /* the one-replica tests' core (r0, group 1) */

static int
s_tok(uint64_t token)
{
    for (int k = 0; k < S_NTOK; k++)
        if (s_tokens[k] == token)
            return k;
    ck_abort_msg("unexpected timer token %" PRIu64, token);
    return 0;
}

static hb_rc_t
s_env_send(void *ctx, hb_node_t to, const void *frame, size_t len)
{
    s_node_t *n = ctx;
    if (to.role == HB_ROLE_SEQUENCER) {
        hb_msg_t m;
        ck_assert_int_eq(hb_msg_decode(frame, len, &s_cfg->limits, &m), HB_OK);
        ck_assert_uint_lt(to.replica, s_cfg->replicas);
        ck_assert_uint_lt(to.partition, s_cfg->partitions);
        if (m.type == HB_MSG_CLOSE && !m.u.close.relayed) {
            /* A CLOSE: to the other groups of its own replica. */
            ck_assert_uint_eq(to.replica, n->r);
            ck_assert_uint_ne(to.partition, n->g);
            ck_assert_uint_eq(m.u.close.group, n->g);
            s_closes++;
        } else {
            /* Else only to the other sequencers of the same group. */
            ck_assert_uint_eq(to.partition, n->g);
            ck_assert_uint_ne(to.replica, n->r);
            if (m.type == HB_MSG_FORWARD)
                s_fwd[n->g][n->r][to.replica]++;
            else if (m.type != HB_MSG_CLOSE)
                ck_assert_int_eq(m.type, HB_MSG_PAXOS);
        }
        hb_msg_clear(&m);
        HB_GROW(s_net, s_net_cap, s_net_n + 1, 256);
        s_net[s_net_n++] =
            (s_pkt_t){n->r, n->g, to.replica, to.partition, hb_memdup(frame, len), len};
        return HB_OK;
    }
    /* Else only to the schedulers of its own replica. */
    ck_assert_int_eq(to.role, HB_ROLE_SCHEDULER);
    ck_assert_uint_eq(to.replica, n->r);
    HB_GROW(s_sent, s_sent_cap, s_nsent + 1, 1024);
    s_sent[s_nsent++] = (s_sent_t){n->r, n->g, to, 0, hb_memdup(frame, len), len};
    return HB_OK;
}

static hb_rc_t
s_env_send_client(void *ctx, uint64_t client_id, const void *frame, size_t len)
{
    s_node_t *n = ctx;
    HB_GROW(s_sent, s_sent_cap, s_nsent + 1, 1024);
    s_sent[s_nsent++] = (s_sent_t){
        n->r, n->g, hb_node(HB_ROLE_CLIENT, n->r, 0), client_id, hb_memdup(frame, len),
        len};
    return HB_OK;
}

static uint64_t
s_env_now(void *ctx)
{
    (void)ctx;
    return s_now;
}

static void
s_env_timer(void *ctx, uint64_t delay_us, uint64_t token)
{
    s_node_t *n = ctx;
    int k = s_tok(token);
    n->armed[k] = true;
    n->due[k] = s_now + delay_us;
    n->delay[k] = delay_us;
}

static uint64_t
s_env_random(void *ctx)
{
    s_node_t *n = ctx;
    uint64_t x = n->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    n->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Delivers every frame in flight, and those they cause, in FIFO order;
 * frames from or to a dead sequencer or over a cut link are lost. */
static void
s_pump(void)
{
    for (size_t i = 0; i < s_net_n; i++) {
        ck_assert_uint_lt(i, 1000000); /* a message storm is a bug */
        s_pkt_t p = s_net[i];          /* s_net may move below */
        s_node_t *to = &s_nodes[p.tr][p.tg], *from = &s_nodes[p.fr][p.g];
        if (to->up && !to->dead && !from->dead && !s_cut[p.tg][p.fr][p.tr]) {
            hb_msg_t m;
            ck_assert_int_eq(hb_msg_decode(p.frame, p.len, &s_cfg->limits, &m), HB_OK);
            uint8_t peer[2] = {'S', (uint8_t)p.fr};
            seq_batcher_on_message(to->b, peer, sizeof peer, &m);
            hb_msg_clear(&m);
        }
        hb_free(p.frame);
    }
    s_net_n = 0;
}

/* Fires every timer of a live sequencer due by t, earliest first (ties:
 * replica, group, token), delivering the messages after each; leaves the
 * clock at t. */
static void
s_run_until(uint64_t t)
{
    s_pump();
    for (;;) {
        s_node_t *best = NULL;
        int bk = 0;
        for (int r = 0; r < S_R; r++)
            for (int g = 0; g < S_P; g++)
                for (int k = 0; k < S_NTOK; k++) {
                    s_node_t *n = &s_nodes[r][g];
                    if (n->up && !n->dead && n->armed[k] && n->due[k] <= t &&
                        (!best || n->due[k] < best->due[bk])) {
                        best = n;
                        bk = k;
                    }
                }
        if (!best)
            break;
        if (best->due[bk] > s_now)
            s_now = best->due[bk];
        best->armed[bk] = false;
        seq_batcher_on_timer(best->b, s_tokens[bk]);
        s_pump();
    }
    if (t > s_now)
        s_now = t;
}

static void
s_run(uint64_t us)
{
    s_run_until(s_now + us);
}

static void
s_node_start(uint16_t r, uint16_t g)
{
    s_node_t *n = &s_nodes[r][g];
    n->r = r;
    n->g = g;
    if (!n->dir[0]) {
        snprintf(n->dir, sizeof n->dir, "%s/log-XXXXXX", s_root);
        ck_assert_ptr_nonnull(mkdtemp(n->dir));
    }
    if (!n->rng)
        n->rng = (s_seed ^ (0x9E3779B97F4A7C15ULL * (1u + r * S_P + g))) | 1;
    n->env = (hb_env_t){
        .ctx = n,
        .send = s_env_send,
        .send_client = s_env_send_client,
        .now_us = s_env_now,
        .timer = s_env_timer,
        .random = s_env_random,
    };
    memset(n->armed, 0, sizeof n->armed);
    n->log = seq_log_open(n->dir, s_cfg->dedup_window);
    ck_assert_ptr_nonnull(n->log);
    n->b = seq_batcher_new(s_cfg, hb_node(HB_ROLE_SEQUENCER, r, g), n->log, &n->env);
    ck_assert_ptr_nonnull(n->b);
    n->up = true;
    n->dead = false;
}

static void
s_node_stop(uint16_t r, uint16_t g)
{
    s_node_t *n = &s_nodes[r][g];
    seq_batcher_destroy(&n->b);
    seq_log_destroy(&n->log);
    n->up = false;
    memset(n->armed, 0, sizeof n->armed);
}

static void
s_clear(void)
{
    for (size_t i = 0; i < s_nsent; i++)
        hb_free(s_sent[i].frame);
    s_nsent = 0;
}

/* Removes every sequencer's log directory. */
static void
s_cleanup(void)
{
    for (int r = 0; r < S_R; r++)
        for (int g = 0; g < S_P; g++)
            hb_test_rmdir(s_nodes[r][g].dir);
}

static void
s_world(const char *text)
{
    hb_log_set_level(getenv("HOBBES_TEST_LOG") ? HB_LOG_DEBUG : HB_LOG_OFF);
    memset(s_nodes, 0, sizeof s_nodes);
    memset(s_cut, 0, sizeof s_cut);
    memset(s_fwd, 0, sizeof s_fwd);
    s_closes = 0;
    char err[256];
    ck_assert_msg(hb_config_parse(text, "t.cfg", &s_cfg, err, sizeof err) == HB_OK, "%s",
                  err);
    s_now = 1700000000000000ULL; /* epochs are named by the clock in us */
}

static void
s_teardown(void)
{
    for (int r = 0; r < S_R; r++)
        for (int g = 0; g < S_P; g++)
            if (s_nodes[r][g].up)
                s_node_stop((uint16_t)r, (uint16_t)g);
    s_cleanup();
    s_seq = NULL;
    s_clear();
    hb_free(s_sent);
    s_sent = NULL;
    s_sent_cap = 0;
    for (size_t i = 0; i < s_net_n; i++)
        hb_free(s_net[i].frame);
    hb_free(s_net);
    s_net = NULL;
    s_net_n = s_net_cap = 0;
    hb_config_destroy(&s_cfg);
}

/* ------------------------------------------------------ one replica */

static const char *s_config_text = "cluster\n"
                                   "    replicas = 1\n"
                                   "    partitions = 3\n"
                                   "    epoch_ms = 10\n"
                                   "limits\n"
                                   "    max_batch_txns = 50\n"
                                   "slot\n    replica = 0\n    partition = 0\n"
                                   "    sequencer = tcp://127.0.0.1:1\n"
                                   "    scheduler = tcp://127.0.0.1:2\n"
                                   "    storage = tcp://127.0.0.1:3\n"
                                   "slot\n    replica = 0\n    partition = 1\n"
                                   "    sequencer = tcp://127.0.0.1:4\n"
                                   "    scheduler = tcp://127.0.0.1:5\n"
                                   "    storage = tcp://127.0.0.1:6\n"
                                   "slot\n    replica = 0\n    partition = 2\n"
                                   "    sequencer = tcp://127.0.0.1:7\n"
                                   "    scheduler = tcp://127.0.0.1:8\n"
                                   "    storage = tcp://127.0.0.1:9\n";

static void
s_start(void)
{
    s_node_start(0, 1);
    s_seq = s_nodes[0][1].b;
}

static void
s_stop(void)
{
    s_node_stop(0, 1);
    s_seq = NULL;
}

static void
s_setup(void)
{
    s_world(s_config_text);
    s_start();
}

/* ------------------------------------------------------------- helpers */

static const uint64_t s_client_id = 0x8102030405060708ULL;

/* Sends a SUBMIT from client client_id to the sequencer (r, g). */
static void
s_submit_at(uint16_t r, uint16_t g, uint64_t client_id, uint64_t req, const char *proc,
            const hb_val_t *args, uint32_t nargs)
{
    uint8_t peer[8];
    for (int i = 0; i < 8; i++)
        peer[i] = (uint8_t)(client_id >> (56 - 8 * i));
    hb_msg_t m = {.type = HB_MSG_SUBMIT};
    m.u.submit.req_id = req;
    m.u.submit.proc = proc;
    m.u.submit.proc_len = (uint32_t)strlen(proc);
    m.u.submit.nargs = nargs;
    m.u.submit.args = (hb_val_t *)args;
    ck_assert(s_nodes[r][g].up);
    seq_batcher_on_message(s_nodes[r][g].b, peer, sizeof peer, &m);
}

static void
s_submit(uint64_t req, const char *proc, const hb_val_t *args, uint32_t nargs)
{
    s_submit_at(0, 1, s_client_id, req, proc, args, nargs);
}

/* Finds the nth kv key name on partition p of nparts. */
static void
s_key_in(uint32_t p, uint32_t nparts, int nth, char *out, size_t cap)
{
    for (int i = 0, found = 0;; i++) {
        snprintf(out, cap, "k%d", i);
        hb_key_t k;
        hb_key_kv(&k, out, strlen(out));
        if (hb_key_partition(k.buf, k.len, nparts) == p && found++ == nth)
            return;
    }
}

/* Finds a kv key name on partition p among 3. */
static void
s_key_on(uint32_t p, int nth, char *out, size_t cap)
{
    s_key_in(p, 3, nth, out, cap);
}

/* Decodes the i-th sent frame into m (caller clears). */
static void
s_decode(size_t i, hb_msg_t *m)
{
    ck_assert_uint_lt(i, s_nsent);
    ck_assert_int_eq(hb_msg_decode(s_sent[i].frame, s_sent[i].len, NULL, m), HB_OK);
}

/* Returns the index of the first BATCH sent to scheduler q, or -1. */
static int
s_find_batch(uint16_t q)
{
    for (size_t i = 0; i < s_nsent; i++)
        if (s_sent[i].to.role == HB_ROLE_SCHEDULER && s_sent[i].to.partition == q)
            return (int)i;
    return -1;
}

/* --------------------------------------------------------------- tests */

START_TEST(test_batcher_splits_batch_by_partition)
{
    char k0[16], k2a[16], k2b[16];
    s_key_on(0, 0, k0, sizeof k0);
    s_key_on(2, 0, k2a, sizeof k2a);
    s_key_on(2, 1, k2b, sizeof k2b);
    hb_val_t a[2] = {hb_val_str(k2a, (uint32_t)strlen(k2a)), hb_val_int(5)};
    hb_val_t b[2] = {hb_val_str(k0, (uint32_t)strlen(k0)), hb_val_int(6)};
    hb_val_t c[2] = {hb_val_str(k2b, (uint32_t)strlen(k2b)), hb_val_int(7)};
    s_submit(11, "kv.put", a, 2);
    s_submit(12, "kv.add", b, 2);
    s_submit(13, "kv.put", c, 2);
    ck_assert_uint_eq(s_nsent, 0); /* nothing leaves before the epoch closes */
    ck_assert_uint_eq(seq_batcher_accepted(s_seq), 3);

    uint64_t epoch = seq_batcher_close(s_seq);
    ck_assert_uint_eq(epoch, s_now);
    ck_assert_uint_eq(s_nsent, 3); /* one BATCH per scheduler, empty ones too */
    for (uint16_t q = 0; q < 3; q++) {
        int i = s_find_batch(q);
        ck_assert_int_ge(i, 0);
        ck_assert_uint_eq(s_sent[i].to.replica, 0);
        hb_msg_t m;
        s_decode((size_t)i, &m);
        ck_assert_int_eq(m.type, HB_MSG_BATCH);
        ck_assert_uint_eq(m.u.batch.group, 1);
        ck_assert_uint_eq(m.u.batch.epoch, epoch);
        ck_assert_uint_eq(m.u.batch.since, 0);
        uint32_t want = q == 0 ? 1 : q == 2 ? 2 : 0;
        ck_assert_uint_eq(m.u.batch.ntxns, want);
        for (uint32_t t = 0; t < m.u.batch.ntxns; t++) {
            hb_txn_t *txn = NULL;
            ck_assert_int_eq(hb_txn_decode(m.u.batch.txns[t].raw,
                                           m.u.batch.txns[t].raw_len, NULL, 3, &txn),
                             HB_OK);
            ck_assert(hb_txn_touches(txn, q));
            ck_assert_uint_eq(txn->client_id, s_client_id);
            ck_assert_uint_eq(txn->origin_group, 1);
            ck_assert_int_eq(txn->timestamp_us, (int64_t)s_now);
            /* index = position in the whole group batch */
            uint64_t want_req = q == 0 ? 12 : (t == 0 ? 11 : 13);
            uint32_t want_index = q == 0 ? 1 : (t == 0 ? 0 : 2);
            ck_assert_uint_eq(txn->req_id, want_req);
            ck_assert_uint_eq(m.u.batch.txns[t].index, want_index);
            hb_txn_destroy(&txn);
        }
        hb_msg_clear(&m);
    }
}
END_TEST

START_TEST(test_batcher_empty_batches_chain_since)
{
    uint64_t e1 = seq_batcher_close(s_seq);
    s_now += 10000; /* 10 ms later */
    uint64_t e2 = seq_batcher_close(s_seq);
    uint64_t e3 = seq_batcher_close(s_seq); /* same clock reading: forced forward */
    ck_assert_uint_eq(e2, e1 + 10000);
    ck_assert_uint_eq(e3, e2 + 1);
    ck_assert_uint_eq(s_nsent, 9);
    uint64_t prev = 0;
    for (size_t i = 0; i < s_nsent; i += 3) {
        hb_msg_t m;
        s_decode(i, &m);
        ck_assert_uint_eq(m.u.batch.ntxns, 0);
        ck_assert_uint_eq(m.u.batch.since, prev);
        prev = m.u.batch.epoch;
        hb_msg_clear(&m);
    }
    ck_assert_uint_eq(prev, e3);
}
END_TEST

START_TEST(test_batcher_restart_keeps_log_and_jumps_forward)
{
    uint64_t e1 = seq_batcher_close(s_seq);
    s_stop();
    s_clear();
    s_now += 5ULL * 1000000; /* down for 5 s */
    s_start();
    ck_assert_uint_eq(seq_batcher_last_epoch(s_seq), e1);
    uint64_t e2 = seq_batcher_close(s_seq);
    ck_assert_uint_eq(e2, e1 + 5000000);
    hb_msg_t m;
    s_decode(0, &m);
    ck_assert_uint_eq(m.u.batch.since, e1); /* nothing in between */
    hb_msg_clear(&m);

    /* A clock that goes backwards never reuses an epoch. */
    s_clear();
    s_now -= 60ULL * 1000000;
    uint64_t e3 = seq_batcher_close(s_seq);
    ck_assert_uint_eq(e3, e2 + 1);
}
END_TEST

START_TEST(test_batcher_replay_resends_from_log)
{
    char k[16];
    s_key_on(2, 0, k, sizeof k);
    hb_val_t a[2] = {hb_val_str(k, (uint32_t)strlen(k)), hb_val_int(1)};
    uint64_t epochs[4];
    for (int i = 0; i < 4; i++) {
        s_submit(100 + (uint64_t)i, "kv.add", a, 2);
        epochs[i] = seq_batcher_close(s_seq);
        s_now += 10000;
    }
    /* Remember what scheduler 2 got live for epochs[1..3]. */
    uint8_t *live[3];
    size_t live_len[3];
    for (int i = 1; i < 4; i++) {
        size_t idx = (size_t)i * 3 + 2;
        ck_assert_uint_eq(s_sent[idx].to.partition, 2);
        live[i - 1] = hb_memdup(s_sent[idx].frame, s_sent[idx].len);
        live_len[i - 1] = s_sent[idx].len;
    }
    s_clear();
    hb_msg_t r = {.type = HB_MSG_REPLAY};
    r.u.replay.replica = 0;
    r.u.replay.partition = 2;
    r.u.replay.from_epoch = epochs[1];
    seq_batcher_on_message(s_seq, (const uint8_t *)"x", 1, &r);
    ck_assert_uint_eq(s_nsent, 3); /* epochs[1..3], to scheduler 2 only */
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(s_sent[i].to.role, HB_ROLE_SCHEDULER);
        ck_assert_uint_eq(s_sent[i].to.partition, 2);
        ck_assert_uint_eq(s_sent[i].len, live_len[i]);
        ck_assert_mem_eq(s_sent[i].frame, live[i], live_len[i]); /* byte-identical */
        hb_free(live[i]);
    }
    /* A REPLAY for another replica or a bad partition is refused. */
    s_clear();
    r.u.replay.partition = 9;
    seq_batcher_on_message(s_seq, (const uint8_t *)"x", 1, &r);
    ck_assert_uint_eq(s_nsent, 0);
}
END_TEST

static void
s_expect_result(size_t i, uint64_t req, hb_rc_t rc, const char *needle)
{
    ck_assert_uint_eq(s_sent[i].to.role, HB_ROLE_CLIENT);
    ck_assert_uint_eq(s_sent[i].client_id, s_client_id);
    hb_msg_t m;
    s_decode(i, &m);
    ck_assert_int_eq(m.type, HB_MSG_RESULT);
    ck_assert_uint_eq(m.u.result.req_id, req);
    ck_assert_uint_eq(m.u.result.rc, rc);
    char text[512];
    snprintf(text, sizeof text, "%.*s", (int)m.u.result.msg_len, m.u.result.msg);
    ck_assert_msg(strstr(text, needle), "message '%s' lacks '%s'", text, needle);
    hb_msg_clear(&m);
}

START_TEST(test_batcher_rejects_bad_calls)
{
    hb_val_t one = hb_val_int(1);
    s_submit(1, "no.such", &one, 1);
    s_expect_result(0, 1, HB_NOTFOUND, "unknown procedure 'no.such'");
    hb_val_t bad[2] = {hb_val_str("a", 1), hb_val_str("x", 1)};
    s_submit(2, "kv.add", bad, 2);
    s_expect_result(1, 2, HB_INVALID, "integer");
    s_submit(3, "kv.add", bad, 1);
    s_expect_result(2, 3, HB_INVALID, "kv.add");
    char k0[16], k2[16];
    s_key_on(0, 0, k0, sizeof k0);
    s_key_on(2, 0, k2, sizeof k2);
    hb_val_t mp[3] = {hb_val_str(k0, (uint32_t)strlen(k0)),
                      hb_val_str(k2, (uint32_t)strlen(k2)), hb_val_int(1)};
    hb_val_t same[3] = {hb_val_str(k0, (uint32_t)strlen(k0)),
                        hb_val_str(k0, (uint32_t)strlen(k0)), hb_val_int(1)};
    s_submit(4, "kv.transfer", same, 3);
    s_expect_result(3, 4, HB_INVALID, "different");
    ck_assert_uint_eq(seq_batcher_rejected(s_seq), 4);
    ck_assert_uint_eq(seq_batcher_accepted(s_seq), 0);
    /* A transaction over two partitions is sequenced, and both schedulers
     * get it, at the same index. */
    s_submit(6, "kv.transfer", mp, 3);
    ck_assert_uint_eq(seq_batcher_accepted(s_seq), 1);
    seq_batcher_close(s_seq);
    for (uint16_t q = 0; q < 3; q += 2) {
        hb_msg_t b;
        s_decode((size_t)s_find_batch(q), &b);
        ck_assert_uint_eq(b.u.batch.ntxns, 1);
        ck_assert_uint_eq(b.u.batch.txns[0].index, 0);
        hb_msg_clear(&b);
    }
    hb_msg_t b1;
    s_decode((size_t)s_find_batch(1), &b1);
    ck_assert_uint_eq(b1.u.batch.ntxns, 0);
    hb_msg_clear(&b1);
    s_clear();

    /* A SUBMIT from a peer without a client id cannot be answered: dropped. */
    s_clear();
    hb_msg_t m = {.type = HB_MSG_SUBMIT};
    m.u.submit.req_id = 5;
    m.u.submit.proc = "kv.get";
    m.u.submit.proc_len = 6;
    m.u.submit.nargs = 1;
    m.u.submit.args = bad;
    seq_batcher_on_message(s_seq, (const uint8_t *)"\0abc", 4, &m);
    ck_assert_uint_eq(s_nsent, 0);
    ck_assert_uint_eq(seq_batcher_accepted(s_seq), 1);

    /* The batch is bounded: max_batch_txns = 50, then BUSY. */
    hb_val_t ok[2] = {hb_val_str(k0, (uint32_t)strlen(k0)), hb_val_int(1)};
    for (uint64_t i = 0; i < 51; i++)
        s_submit(100 + i, "kv.add", ok, 2);
    ck_assert_uint_eq(seq_batcher_accepted(s_seq), 51); /* 1 + 50 */
    s_expect_result(0, 150, HB_BUSY, "busy");
    /* Nothing rejected went into the log. */
    s_clear();
    seq_batcher_close(s_seq);
    hb_msg_t b;
    s_decode((size_t)s_find_batch(0), &b);
    ck_assert_uint_eq(b.u.batch.ntxns, 50);
    hb_msg_clear(&b);
}
END_TEST

START_TEST(test_batcher_forwards_replies)
{
    hb_val_t vals[2] = {hb_val_int(6), hb_val_int(4)};
    hb_msg_t m = {.type = HB_MSG_REPLY};
    m.u.result.client_id = s_client_id;
    m.u.result.req_id = 77;
    m.u.result.epoch = 123;
    m.u.result.rc = HB_ABORTED;
    m.u.result.msg = "kv.transfer: insufficient funds";
    m.u.result.msg_len = (uint32_t)strlen(m.u.result.msg);
    m.u.result.nvals = 2;
    m.u.result.vals = vals;
    seq_batcher_on_message(s_seq, (const uint8_t *)"st", 2, &m);
    ck_assert_uint_eq(s_nsent, 1);
    s_expect_result(0, 77, HB_ABORTED, "insufficient funds");
    hb_msg_t r;
    s_decode(0, &r);
    ck_assert_uint_eq(r.u.result.epoch, 123);
    ck_assert_uint_eq(r.u.result.nvals, 2);
    ck_assert_int_eq(r.u.result.vals[0].u.i, 6);
    ck_assert_int_eq(r.u.result.vals[1].u.i, 4);
    hb_msg_clear(&r);
}
END_TEST

START_TEST(test_batcher_tick_arms_next_boundary)
{
    s_node_t *n = &s_nodes[0][1];
    /* Created on an epoch boundary: the first tick is one epoch away; the
     * Paxos heartbeat (20 ms by default) and the resend check run too. */
    ck_assert(n->armed[S_TOK_TICK] && n->armed[S_TOK_PAXOS] && n->armed[S_TOK_RETRY]);
    ck_assert_uint_eq(n->delay[S_TOK_TICK], 10000);
    ck_assert_uint_eq(n->delay[S_TOK_PAXOS], 20000);
    s_now += 3000; /* 3 ms into the epoch */
    seq_batcher_on_timer(s_seq, SEQ_TIMER_TICK);
    ck_assert_uint_eq(n->delay[S_TOK_TICK], 7000); /* next tick at the next boundary */
    ck_assert_uint_eq(s_nsent, 3);                 /* the closed (empty) batch */
    /* Driven by its timers alone, it sends one batch per epoch to every
     * scheduler, and the `since` chain has no hole. */
    s_clear();
    uint64_t prev = seq_batcher_last_epoch(s_seq);
    ck_assert_uint_eq(prev, s_now); /* named by the clock, in us */
    s_run(100000);
    ck_assert_uint_eq(s_nsent, 30);
    for (size_t i = 0; i < s_nsent; i += 3) {
        hb_msg_t m;
        s_decode(i, &m);
        ck_assert_uint_eq(m.u.batch.since, prev);
        ck_assert_uint_gt(m.u.batch.epoch, prev);
        ck_assert_uint_eq(m.u.batch.epoch % 10000, 0); /* closed on the boundary */
        prev = m.u.batch.epoch;
        hb_msg_clear(&m);
    }
}
END_TEST

START_TEST(test_batcher_group_commit)
{
    /* A call closes the open batch right after the waiting messages, not on
     * the next tick, and the other groups hear of its epoch. */
    char k[16];
    s_key_on(1, 0, k, sizeof k);
    hb_val_t a[2] = {hb_val_str(k, (uint32_t)strlen(k)), hb_val_int(1)};
    s_now += 3000;
    s_submit(1, "kv.add", a, 2);
    s_submit(2, "kv.add", a, 2);
    ck_assert_uint_eq(s_nsent, 0);
    s_run(0);
    ck_assert_uint_eq(s_nsent, 3); /* one batch, both calls, 3 ms into the epoch */
    hb_msg_t m;
    s_decode((size_t)s_find_batch(1), &m);
    ck_assert_uint_eq(m.u.batch.epoch, s_now);
    ck_assert_uint_eq(m.u.batch.ntxns, 2);
    hb_msg_clear(&m);
    ck_assert_uint_eq(s_closes, 2); /* a CLOSE to groups 0 and 2 */
    /* The next tick finds a batch proposed since the last: nothing to say. */
    s_clear();
    s_run(7000);
    ck_assert_uint_eq(s_nsent, 0);
    s_run(10000);
    ck_assert_uint_eq(s_nsent, 3);  /* idle: one empty batch per tick */
    ck_assert_uint_eq(s_closes, 2); /* empty batches tell nobody */

    /* A CLOSE from group 0 for a later epoch: closed at once, as that epoch. */
    s_clear();
    hb_msg_t c = {.type = HB_MSG_CLOSE};
    c.u.close.group = 0;
    c.u.close.epoch = s_now + 5;
    seq_batcher_on_message(s_seq, (const uint8_t *)"x", 1, &c);
    s_run(0);
    ck_assert_uint_eq(s_nsent, 3);
    s_decode(0, &m);
    ck_assert_uint_eq(m.u.batch.epoch, c.u.close.epoch);
    ck_assert_uint_eq(m.u.batch.ntxns, 0);
    hb_msg_clear(&m);
    /* One for an epoch already covered changes nothing. */
    s_clear();
    seq_batcher_on_message(s_seq, (const uint8_t *)"x", 1, &c);
    s_run(0);
    ck_assert_uint_eq(s_nsent, 0);
}
END_TEST

/* ---------------------------------------------------- three replicas */

/* A slot block of the 3 x 2 config. */
#define S_SLOT(r, p)                                                                     \
    "slot\n    replica = " #r "\n    partition = " #p "\n"                               \
    "    sequencer = tcp://127.0.0.1:7" #r #p "0\n"                                      \
    "    scheduler = tcp://127.0.0.1:7" #r #p "1\n"                                      \
    "    storage = tcp://127.0.0.1:7" #r #p "2\n"

static const char *s_config3_text =
    "cluster\n"
    "    replicas = 3\n"
    "    partitions = 2\n"
    "    epoch_ms = 10\n"
    "    heartbeat_ms = 10\n"
    "    election_timeout_ms = 50\n" S_SLOT(0, 0) S_SLOT(0, 1) S_SLOT(1, 0) S_SLOT(1, 1)
        S_SLOT(2, 0) S_SLOT(2, 1);

#define S_HB_US    10000u /* heartbeat_ms */
#define S_EPOCH_US 10000u /* epoch_ms */

static void
s_setup3(void)
{
    s_world(s_config3_text);
    for (uint16_t r = 0; r < 3; r++)
        for (uint16_t g = 0; g < 2; g++)
            s_node_start(r, g);
}

/* Returns the live replica leading group g, or -1; two live leaders at
 * once (with every link up) would be a bug. */
static int
s_leader(uint16_t g)
{
    int l = -1;
    for (int r = 0; r < s_cfg->replicas; r++) {
        s_node_t *n = &s_nodes[r][g];
        if (n->up && !n->dead && seq_batcher_is_leader(n->b)) {
            ck_assert_msg(l < 0, "group %u: replicas %d and %d both lead", g, l, r);
            l = r;
        }
    }
    return l;
}

/* Runs until a live replica leads group g (within limit_us), then three
 * heartbeats more so the others hear of it. Returns the leader. */
static int
s_wait_leader(uint16_t g, uint64_t limit_us)
{
    uint64_t end = s_now + limit_us;
    while (s_leader(g) < 0 && s_now < end)
        s_run(1000);
    int l = s_leader(g);
    ck_assert_msg(l >= 0, "group %u: no leader within %" PRIu64 " us (seed %" PRIu64 ")",
                  g, limit_us, s_seed);
    s_run(3 * S_HB_US);
    ck_assert_int_eq(s_leader(g), l);
    return l;
}

/* Collects the indexes (into s_sent) of the BATCHes group g sent to
 * scheduler q of replica r, in order. Returns how many (<= cap). */
static size_t
s_batches(uint16_t r, uint16_t q, uint16_t g, size_t *idx, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s_nsent; i++) {
        const s_sent_t *s = &s_sent[i];
        if (s->fr == r && s->fg == g && s->to.role == HB_ROLE_SCHEDULER &&
            s->to.partition == q) {
            ck_assert_uint_lt(n, cap);
            idx[n++] = i;
        }
    }
    return n;
}

#define S_MAXB 4096 /* batches one stream may hold in a test */

/* Checks group g's stream to scheduler q of replica r: every frame is a
 * BATCH of group g whose `since` is the previous batch's epoch (0 first),
 * with increasing epochs. Returns the number of batches; *last (may be
 * NULL) gets the last epoch. */
static size_t
s_check_chain(uint16_t r, uint16_t q, uint16_t g, uint64_t *last)
{
    static size_t idx[S_MAXB];
    size_t n = s_batches(r, q, g, idx, S_MAXB);
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        hb_msg_t m;
        s_decode(idx[i], &m);
        ck_assert_int_eq(m.type, HB_MSG_BATCH);
        ck_assert_uint_eq(m.u.batch.group, g);
        ck_assert_msg(m.u.batch.since == prev && m.u.batch.epoch > prev,
                      "r%u q%u g%u batch %zu: since %" PRIu64 " epoch %" PRIu64
                      ", previous epoch %" PRIu64,
                      r, q, g, i, m.u.batch.since, m.u.batch.epoch, prev);
        prev = m.u.batch.epoch;
        hb_msg_clear(&m);
    }
    if (last)
        *last = prev;
    return n;
}

/* Where a call showed up in one scheduler's stream. */
typedef struct {
    size_t n;         /* times it was delivered */
    size_t pos;       /* position of the (last) batch holding it */
    uint64_t epoch;   /* its epoch */
    uint64_t since;   /* its since */
    uint32_t index;   /* the call's index in the group's batch */
    uint16_t origin;  /* the replica it came through */
    int64_t ts;       /* its timestamp */
    uint8_t raw[512]; /* its encoding */
    size_t raw_len;   /* length */
} s_found_t;

/* Looks for call (cid, rid) in group g's stream to scheduler (r, q). */
static s_found_t
s_find_call(uint16_t r, uint16_t q, uint16_t g, uint64_t cid, uint64_t rid)
{
    static size_t idx[S_MAXB];
    s_found_t f;
    memset(&f, 0, sizeof f);
    size_t n = s_batches(r, q, g, idx, S_MAXB);
    for (size_t i = 0; i < n; i++) {
        hb_msg_t m;
        s_decode(idx[i], &m);
        for (uint32_t t = 0; t < m.u.batch.ntxns; t++) {
            hb_txn_t *txn = NULL;
            ck_assert_int_eq(hb_txn_decode(m.u.batch.txns[t].raw,
                                           m.u.batch.txns[t].raw_len, &s_cfg->limits,
                                           s_cfg->partitions, &txn),
                             HB_OK);
            ck_assert(hb_txn_touches(txn, q));
            if (txn->client_id == cid && txn->req_id == rid) {
                f.n++;
                f.pos = i;
                f.epoch = m.u.batch.epoch;
                f.since = m.u.batch.since;
                f.index = m.u.batch.txns[t].index;
                f.origin = txn->origin_replica;
                f.ts = txn->timestamp_us;
                ck_assert_uint_le(m.u.batch.txns[t].raw_len, sizeof f.raw);
                memcpy(f.raw, m.u.batch.txns[t].raw, m.u.batch.txns[t].raw_len);
                f.raw_len = m.u.batch.txns[t].raw_len;
            }
            hb_txn_destroy(&txn);
        }
        hb_msg_clear(&m);
    }
    return f;
}

/* Asserts that call (cid, rid) reached scheduler q of every replica in
 * `replicas` (a bit mask) exactly once, in the same epoch, after the same
 * `since`, at the same index, with the same bytes. Returns what was found
 * at the lowest of them. */
static s_found_t
s_expect_once(uint32_t replicas, uint16_t q, uint16_t g, uint64_t cid, uint64_t rid)
{
    s_found_t first;
    bool have = false;
    memset(&first, 0, sizeof first);
    for (uint16_t r = 0; r < s_cfg->replicas; r++) {
        if (!(replicas & (1u << r)))
            continue;
        s_found_t f = s_find_call(r, q, g, cid, rid);
        ck_assert_msg(f.n == 1,
                      "call (%" PRIx64 ", %" PRIu64 ") reached r%u q%u %zu times", cid,
                      rid, r, q, f.n);
        if (!have) {
            first = f;
            have = true;
            continue;
        }
        ck_assert_uint_eq(f.epoch, first.epoch);
        ck_assert_uint_eq(f.since, first.since);
        ck_assert_uint_eq(f.index, first.index);
        ck_assert_uint_eq(f.raw_len, first.raw_len);
        ck_assert_mem_eq(f.raw, first.raw, first.raw_len);
    }
    ck_assert(have);
    return first;
}

/* Asserts that replicas a and b sent scheduler q the same BATCH frames of
 * group g, byte for byte, over their common length, which is >= min. */
static void
s_same_stream(uint16_t a, uint16_t b, uint16_t q, uint16_t g, size_t min)
{
    static size_t ia[S_MAXB], ib[S_MAXB];
    size_t na = s_batches(a, q, g, ia, S_MAXB);
    size_t nb = s_batches(b, q, g, ib, S_MAXB);
    size_t n = na < nb ? na : nb;
    ck_assert_msg(n >= min, "r%u and r%u delivered %zu and %zu batches, want >= %zu", a,
                  b, na, nb, min);
    for (size_t i = 0; i < n; i++) {
        const s_sent_t *x = &s_sent[ia[i]], *y = &s_sent[ib[i]];
        ck_assert_msg(x->len == y->len && memcmp(x->frame, y->frame, x->len) == 0,
                      "r%u and r%u differ at batch %zu of group %u to q%u", a, b, i, g,
                      q);
    }
}

/* Counts the RESULTs replica r's sequencer of group g sent client cid for
 * request rid; the last is decoded into *out (caller clears) if out. */
static size_t
s_results(uint16_t r, uint16_t g, uint64_t cid, uint64_t rid, hb_msg_t *out)
{
    size_t n = 0;
    if (out)
        memset(out, 0, sizeof *out);
    for (size_t i = 0; i < s_nsent; i++) {
        const s_sent_t *s = &s_sent[i];
        if (s->fr != r || s->fg != g || s->to.role != HB_ROLE_CLIENT ||
            s->client_id != cid)
            continue;
        hb_msg_t m;
        s_decode(i, &m);
        ck_assert_int_eq(m.type, HB_MSG_RESULT);
        if (m.u.result.req_id == rid) {
            n++;
            if (out) {
                hb_msg_clear(out);
                *out = m;
                continue;
            }
        }
        hb_msg_clear(&m);
    }
    return n;
}

static const uint64_t s_c1 = 0x9100000000000001ULL; /* client ids (first byte non-zero) */
static const uint64_t s_c2 = 0x9200000000000002ULL;
static const uint64_t s_c3 = 0x9300000000000003ULL;
static const uint64_t s_c4 = 0x9400000000000004ULL;

START_TEST(test_batcher_three_forward_to_leader)
{
    int l0 = s_wait_leader(0, 2000000);
    s_wait_leader(1, 2000000);
    uint16_t g = 0, l = (uint16_t)l0, f = (uint16_t)((l + 1) % 3);
    for (uint16_t r = 0; r < 3; r++)
        ck_assert(seq_batcher_is_leader(s_nodes[r][g].b) == (r == l));

    /* A transfer over both partitions, submitted to a follower. */
    char k0[16], k1[16];
    s_key_in(0, 2, 0, k0, sizeof k0);
    s_key_in(1, 2, 0, k1, sizeof k1);
    hb_val_t args[3] = {hb_val_str(k0, (uint32_t)strlen(k0)),
                        hb_val_str(k1, (uint32_t)strlen(k1)), hb_val_int(5)};
    uint64_t fwd = s_fwd[g][f][l];
    uint64_t t_submit = s_now;
    s_submit_at(f, g, s_c1, 1, "kv.transfer", args, 3);
    ck_assert_uint_eq(seq_batcher_accepted(s_nodes[f][g].b), 1);
    ck_assert_uint_eq(seq_batcher_rejected(s_nodes[f][g].b), 0);
    s_pump();
    ck_assert_uint_eq(s_fwd[g][f][l], fwd + 1); /* handed to the leader */

    /* The leader proposes it at its next tick; every replica learns it by
     * the next heartbeat at the latest. */
    s_run(3 * S_EPOCH_US + 3 * S_HB_US);
    for (uint16_t q = 0; q < 2; q++) {
        s_found_t c = s_expect_once(7, q, g, s_c1, 1);
        ck_assert_uint_eq(c.origin, f);
        ck_assert_int_eq(c.ts, (int64_t)t_submit); /* stamped by the follower */
        ck_assert_uint_gt(c.epoch, t_submit);      /* closed after it came */
        for (uint16_t r = 0; r < 3; r++) {
            uint64_t last;
            ck_assert_uint_gt(s_check_chain(r, q, g, &last), c.pos);
            ck_assert_uint_ge(last, c.epoch);
        }
        /* Every replica sent each scheduler the same batches. */
        s_same_stream(0, 1, q, g, c.pos + 1);
        s_same_stream(0, 2, q, g, c.pos + 1);
        s_same_stream(0, 1, q, 1, 1);
        s_same_stream(0, 2, q, 1, 1);
    }
    /* Both schedulers see it at the same index. */
    ck_assert_uint_eq(s_find_call(f, 0, g, s_c1, 1).index,
                      s_find_call(f, 1, g, s_c1, 1).index);
    /* No error went back to the client. */
    for (uint16_t r = 0; r < 3; r++)
        ck_assert_uint_eq(s_results(r, g, s_c1, 1, NULL), 0);
}
END_TEST

START_TEST(test_batcher_three_dedup_across_replicas)
{
    s_wait_leader(0, 2000000);
    uint16_t g = 1, l = (uint16_t)s_wait_leader(1, 2000000);
    uint16_t f = (uint16_t)((l + 1) % 3), o = (uint16_t)((l + 2) % 3);
    char k[16];
    s_key_in(1, 2, 0, k, sizeof k);
    hb_val_t args[2] = {hb_val_str(k, (uint32_t)strlen(k)), hb_val_int(1)};

    /* The same call id through the leader and, in the same epoch, through
     * a follower (a client retrying elsewhere). */
    s_submit_at(l, g, s_c2, 7, "kv.add", args, 2);
    s_submit_at(f, g, s_c2, 7, "kv.add", args, 2);
    s_pump();
    s_run(3 * S_EPOCH_US + 3 * S_HB_US);
    s_found_t c = s_expect_once(7, 1, g, s_c2, 7);
    ck_assert_uint_eq(c.origin, l);
    /* The follower's client is told the call already ran, and where; the
     * leader's gets its reply from storage, not from the sequencer. */
    hb_msg_t m;
    ck_assert_uint_eq(s_results(f, g, s_c2, 7, &m), 1);
    ck_assert_uint_eq(m.u.result.rc, HB_EXISTS);
    ck_assert_uint_eq(m.u.result.epoch, c.epoch);
    char text[256], want[64];
    snprintf(text, sizeof text, "%.*s", (int)m.u.result.msg_len, m.u.result.msg);
    snprintf(want, sizeof want, "through replica %u", l);
    ck_assert_msg(strstr(text, want), "message '%s' lacks '%s'", text, want);
    hb_msg_clear(&m);
    ck_assert_uint_eq(s_results(l, g, s_c2, 7, NULL), 0);
    ck_assert_uint_eq(s_results(o, g, s_c2, 7, NULL), 0);

    /* Asked again later through the third replica: still once. */
    s_submit_at(o, g, s_c2, 7, "kv.add", args, 2);
    s_run(3 * S_EPOCH_US + 3 * S_HB_US);
    s_found_t again = s_expect_once(7, 1, g, s_c2, 7);
    ck_assert_uint_eq(again.epoch, c.epoch);
    ck_assert_uint_eq(s_results(o, g, s_c2, 7, &m), 1);
    ck_assert_uint_eq(m.u.result.rc, HB_EXISTS);
    ck_assert_uint_eq(m.u.result.epoch, c.epoch);
    hb_msg_clear(&m);
    ck_assert_uint_eq(s_results(f, g, s_c2, 7, NULL), 1);
    ck_assert_uint_eq(s_results(l, g, s_c2, 7, NULL), 0);
    for (uint16_t r = 0; r < 3; r++)
        s_check_chain(r, 1, g, NULL);
    s_same_stream(0, 1, 1, g, c.pos + 1);
    s_same_stream(0, 2, 1, g, c.pos + 1);
}
END_TEST

START_TEST(test_batcher_three_dedup_after_failover)
{
    s_wait_leader(1, 2000000);
    uint16_t g = 0, l = (uint16_t)s_wait_leader(0, 2000000);
    uint16_t f = (uint16_t)((l + 1) % 3), o = (uint16_t)((l + 2) % 3);
    char k[16];
    s_key_in(0, 2, 0, k, sizeof k);
    hb_val_t args[2] = {hb_val_str(k, (uint32_t)strlen(k)), hb_val_int(1)};

    s_submit_at(f, g, s_c3, 9, "kv.add", args, 2);
    s_pump();
    ck_assert_uint_eq(s_fwd[g][f][l], 1);
    /* The leader proposes it at its next tick, but only f accepts it and
     * f's answer is lost: accepted by a minority, not chosen. */
    s_cut[g][f][l] = s_cut[g][l][o] = s_cut[g][o][l] = true;
    s_run(S_EPOCH_US + 2000);
    for (uint16_t r = 0; r < 3; r++)
        ck_assert_uint_eq(s_find_call(r, 0, g, s_c3, 9).n, 0);
    /* The leader dies; its client gives up on f and asks o. */
    s_nodes[l][g].dead = true;
    memset(s_cut, 0, sizeof s_cut);
    s_submit_at(o, g, s_c3, 9, "kv.add", args, 2);
    int n = s_wait_leader(g, 2000000);
    ck_assert_int_ne(n, l);
    s_run(5 * S_EPOCH_US + 3 * S_HB_US);

    /* The new leader carried the minority-accepted batch over, and f and o
     * re-sent their pending copies: it still runs once, as f took it. */
    uint32_t live = (1u << f) | (1u << o);
    s_found_t c = s_expect_once(live, 0, g, s_c3, 9);
    ck_assert_uint_eq(c.origin, f);
    /* o's client is told it already ran through f. */
    hb_msg_t m;
    ck_assert_uint_eq(s_results(o, g, s_c3, 9, &m), 1);
    ck_assert_uint_eq(m.u.result.rc, HB_EXISTS);
    ck_assert_uint_eq(m.u.result.epoch, c.epoch);
    char text[256], want[64];
    snprintf(text, sizeof text, "%.*s", (int)m.u.result.msg_len, m.u.result.msg);
    snprintf(want, sizeof want, "through replica %u", f);
    ck_assert_msg(strstr(text, want), "message '%s' lacks '%s'", text, want);
    hb_msg_clear(&m);
    ck_assert_uint_eq(s_results(f, g, s_c3, 9, NULL), 0);
    s_check_chain(f, 0, g, NULL);
    s_check_chain(o, 0, g, NULL);
    s_same_stream(f, o, 0, g, c.pos + 1);
}
END_TEST

START_TEST(test_batcher_three_failover)
{
    s_wait_leader(1, 2000000);
    uint16_t g = 0, l = (uint16_t)s_wait_leader(0, 2000000);
    uint16_t f = (uint16_t)((l + 1) % 3), o = (uint16_t)((l + 2) % 3);
    char k[16];
    s_key_in(0, 2, 0, k, sizeof k);
    hb_val_t args[2] = {hb_val_str(k, (uint32_t)strlen(k)), hb_val_int(1)};

    /* Some history under the first leader. */
    s_submit_at(f, g, s_c4, 1, "kv.add", args, 2);
    s_run(3 * S_EPOCH_US + 3 * S_HB_US);
    s_expect_once(7, 0, g, s_c4, 1);
    uint64_t before = seq_batcher_last_epoch(s_nodes[f][g].b);
    ck_assert_uint_eq(seq_batcher_last_epoch(s_nodes[o][g].b), before);

    /* The leader dies. A call to f goes to it and is lost; one to o waits
     * for a leader. */
    s_nodes[l][g].dead = true;
    uint64_t fwd_fl = s_fwd[g][f][l];
    s_submit_at(f, g, s_c4, 2, "kv.add", args, 2);
    s_pump();
    ck_assert_uint_eq(s_fwd[g][f][l], fwd_fl + 1);
    s_submit_at(o, g, s_c4, 3, "kv.add", args, 2);
    /* No new leader before the followers have missed it for an election
     * timeout (50 ms after its last heartbeat, at most 10 ms ago). */
    uint64_t t_dead = s_now;
    while (s_leader(g) < 0 && s_now < t_dead + 2000000)
        s_run(1000);
    ck_assert_uint_ge(s_now - t_dead, 40000);
    int n = s_wait_leader(g, 0);
    ck_assert_int_ne(n, l);
    s_run(5 * S_EPOCH_US + 3 * S_HB_US);

    /* Both pending calls were sent to the new leader and ran once, after
     * everything the old leader had delivered. */
    uint32_t live = (1u << f) | (1u << o);
    if (n != f)
        ck_assert_uint_ge(s_fwd[g][f][n], 1);
    if (n != o)
        ck_assert_uint_ge(s_fwd[g][o][n], 1);
    s_found_t c2 = s_expect_once(live, 0, g, s_c4, 2);
    s_found_t c3 = s_expect_once(live, 0, g, s_c4, 3);
    s_expect_once(live, 0, g, s_c4, 1);
    ck_assert_uint_gt(c2.epoch, before);
    ck_assert_uint_gt(c3.epoch, before);
    ck_assert_uint_eq(c2.origin, f);
    ck_assert_uint_eq(c3.origin, o);
    for (uint16_t q = 0; q < 2; q++) {
        uint64_t last_f, last_o;
        size_t nf = s_check_chain(f, q, g, &last_f);
        s_check_chain(o, q, g, &last_o);
        ck_assert_uint_gt(last_f, c2.epoch);
        ck_assert_uint_gt(last_o, c3.epoch);
        s_same_stream(f, o, q, g, nf - 1);
    }
    ck_assert_uint_eq(s_results(f, g, s_c4, 2, NULL), 0);
    ck_assert_uint_eq(s_results(o, g, s_c4, 3, NULL), 0);

    /* The old leader comes back: it steps down, catches up, and has sent
     * its schedulers the same batches as the others. */
    size_t nf = s_check_chain(f, 0, g, NULL);
    s_nodes[l][g].dead = false;
    s_run(30 * S_HB_US);
    ck_assert_int_eq(s_leader(g), n);
    ck_assert(!seq_batcher_is_leader(s_nodes[l][g].b));
    for (uint16_t q = 0; q < 2; q++) {
        s_check_chain(l, q, g, NULL);
        s_same_stream(l, f, q, g, nf);
        s_same_stream(l, o, q, g, nf);
    }
    s_expect_once(7, 0, g, s_c4, 1);
    s_expect_once(7, 0, g, s_c4, 2);
    s_expect_once(7, 0, g, s_c4, 3);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("batcher");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_batcher_splits_batch_by_partition);
    tcase_add_test(tc, test_batcher_empty_batches_chain_since);
    tcase_add_test(tc, test_batcher_restart_keeps_log_and_jumps_forward);
    tcase_add_test(tc, test_batcher_replay_resends_from_log);
    tcase_add_test(tc, test_batcher_rejects_bad_calls);
    tcase_add_test(tc, test_batcher_forwards_replies);
    tcase_add_test(tc, test_batcher_tick_arms_next_boundary);
    tcase_add_test(tc, test_batcher_group_commit);
    suite_add_tcase(s, tc);
    TCase *t3 = tcase_create("three");
    tcase_add_checked_fixture(t3, s_setup3, s_teardown);
    tcase_add_test(t3, test_batcher_three_forward_to_leader);
    tcase_add_test(t3, test_batcher_three_dedup_across_replicas);
    tcase_add_test(t3, test_batcher_three_dedup_after_failover);
    tcase_add_test(t3, test_batcher_three_failover);
    suite_add_tcase(s, t3);
    return s;
}

int
main(void)
{
    s_seed = hb_test_seed("test_batcher");
    snprintf(s_root, sizeof s_root, "/tmp/hobbes-test-batcher-XXXXXX");
    if (!mkdtemp(s_root)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    int rc = hb_test_run(s_suite());
    hb_test_rmroot(s_root);
    return rc;
}
