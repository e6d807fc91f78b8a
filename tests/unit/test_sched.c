/* test_sched.c — the scheduler core (scheduler/sched.c) and out-of-tree
 * policies loaded from a shared object (scheduler/policy.c).
 *
 * The core runs in a fake hb_env_t that records every frame it sends and
 * every timer it asks for; the tests decode those frames (hb_msg_decode)
 * and check what storage and the sequencers would see: RESYNC until HELLO,
 * RESET and REPLAY on a new incarnation, EPOCH(e, n) then DISPATCH in
 * (epoch, group, index) order, conflicting transactions held until the DONE
 * of the earlier one, stale and unknown DONEs ignored, stall REPLAYs, and
 * bad transactions counted and left out of n. BATCHes reach the core
 * through a real encode/decode round trip.
 *
 * The example policy (tests/unit/policy_example.c, built as a shared
 * module whose path meson passes in HOBBES_POLICY_EXAMPLE) is loaded by
 * path; a bad path, an object without the symbol and one with a wrong ABI
 * are rejected. A seeded random workload (prints its seed, honours
 * HOBBES_SEED) then drives cores using calvin, serial and the example
 * policy on every partition, completing dispatched transactions in random
 * order, and checks the property of docs/architecture.md section 7: every pair of
 * conflicting transactions ran in global order, and the final state equals
 * serial's.
 */
#include <check.h>

#include "../hb_test.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_alloc.h"
#include "hb_config.h"
#include "hb_log.h"
#include "hb_txn.h"
#include "hb_wire.h"
#include "policy.h"
#include "sched.h"

#ifndef HOBBES_POLICY_EXAMPLE
#error "meson passes HOBBES_POLICY_EXAMPLE (path of the example policy module)"
#endif
#ifndef HOBBES_POLICY_BADABI
#error "meson passes HOBBES_POLICY_BADABI (the example built with a wrong ABI)"
#endif

#define T_PARTS 3 /* partitions = groups of the test cluster */

/* ---------------------------------------------------------------------------
 * Seeded randomness
 */

static uint64_t t_rng;

static uint64_t
t_rand(void)
{
    uint64_t x = t_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    t_rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint32_t
t_below(uint32_t n)
{
    return (uint32_t)(t_rand() % n);
}

static uint64_t
t_seed(void)
{
    uint64_t seed = hb_test_seed("test_sched");
    return seed;
}

/* ---------------------------------------------------------------------------
 * Fake world: records frames and timers
 */

typedef struct {
    hb_node_t to;   /* destination */
    uint8_t *frame; /* copy (owned) */
    size_t len;     /* length */
} t_frame_t;

static t_frame_t *t_frames;  /* every frame sent */
static size_t t_nframes;     /* frames in t_frames */
static size_t t_cap;         /* capacity of t_frames */
static size_t t_cursor;      /* next frame t_pop returns */
static unsigned t_timers[3]; /* timer requests per token (1, 2) */
static uint64_t t_delay[3];  /* last delay asked per token */
static hb_config_t *t_cfg;   /* the test cluster */
static sched_t *t_sched;     /* the core under test */
static uint8_t **t_raws;     /* encoded transactions made by t_txn (owned) */
static size_t t_nraws;       /* entries in t_raws */
static size_t t_raws_cap;    /* capacity of t_raws */

static hb_rc_t
t_env_send(void *ctx, hb_node_t to, const void *frame, size_t len)
{
    (void)ctx;
    HB_GROW(t_frames, t_cap, t_nframes + 1, 256);
    t_frames[t_nframes++] = (t_frame_t){to, hb_memdup(frame, len), len};
    return HB_OK;
}

static void
t_env_timer(void *ctx, uint64_t delay_us, uint64_t token)
{
    (void)ctx;
    ck_assert(token == SCHED_TIMER_RESYNC || token == SCHED_TIMER_STALL);
    t_timers[token]++;
    t_delay[token] = delay_us;
}

static const hb_env_t t_env = {
    .ctx = NULL,
    .send = t_env_send,
    .timer = t_env_timer,
};

static void
t_frames_clear(void)
{
    for (size_t i = 0; i < t_nframes; i++)
        hb_free(t_frames[i].frame);
    t_nframes = t_cursor = 0;
}

static const char *t_config_fmt = "cluster\n"
                                  "    replicas = 1\n"
                                  "    partitions = 3\n"
                                  "    epoch_ms = 10\n"
                                  "    policy = %s\n"
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

/* Returns a config of the 1x3 test cluster with the given policy (caller
 * owns), or NULL if it does not parse. */
static hb_config_t *
t_config(const char *policy)
{
    static char text[4096];
    snprintf(text, sizeof text, t_config_fmt, policy);
    hb_config_t *cfg = NULL;
    char err[256];
    if (hb_config_parse(text, "t.cfg", &cfg, err, sizeof err) != HB_OK)
        return NULL;
    return cfg;
}

static void
t_setup(void)
{
    hb_log_set_level(HB_LOG_OFF);
    t_cfg = t_config("calvin");
    ck_assert_ptr_nonnull(t_cfg);
    memset(t_timers, 0, sizeof t_timers);
    memset(t_delay, 0, sizeof t_delay);
}

static void
t_teardown(void)
{
    sched_destroy(&t_sched);
    t_frames_clear();
    hb_free(t_frames);
    t_frames = NULL;
    t_cap = 0;
    for (size_t i = 0; i < t_nraws; i++)
        hb_free(t_raws[i]);
    hb_free(t_raws);
    t_raws = NULL;
    t_nraws = t_raws_cap = 0;
    hb_config_destroy(&t_cfg);
    hb_log_set_sink(NULL, NULL);
}

/* Starts the core of slot r0p<part> with the config's policy. */
static void
t_start(uint16_t part)
{
    t_sched = sched_new(t_cfg, hb_node(HB_ROLE_SCHEDULER, 0, part), &t_env);
    ck_assert_ptr_nonnull(t_sched);
}

/* ---------------------------------------------------------------------------
 * Building input
 */

/* An encoded transaction (bytes owned by t_raws). */
typedef struct {
    const uint8_t *p;
    size_t len;
} t_raw_t;

/* Encodes a kv transaction with req_id req and the lock set spec, a
 * space-separated list of "<r|w><partition>:<key>" (e.g. "w1:x r0:y"). */
static t_raw_t
t_txn(uint64_t req, const char *spec)
{
    hb_lock_t locks[16];
    char keys[16][32];
    uint32_t n = 0;
    const char *s = spec;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        ck_assert_uint_lt(n, 16);
        ck_assert(s[0] == 'r' || s[0] == 'w');
        locks[n].mode = s[0] == 'w' ? HB_LOCK_WRITE : HB_LOCK_READ;
        char *end;
        locks[n].partition = (uint16_t)strtoul(s + 1, &end, 10);
        ck_assert(*end == ':');
        s = end + 1;
        size_t k = 0;
        while (*s && *s != ' ' && k < sizeof keys[n] - 1)
            keys[n][k++] = *s++;
        keys[n][k] = '\0';
        locks[n].key = (const uint8_t *)keys[n];
        locks[n].len = (uint32_t)k;
        n++;
    }
    hb_txn_t txn;
    memset(&txn, 0, sizeof txn);
    txn.client_id = 0x8100000000000001ULL;
    txn.req_id = req;
    txn.timestamp_us = 1700000000000000LL;
    txn.proc = "kv.put";
    txn.proc_len = 6;
    txn.nlocks = n;
    txn.locks = locks;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_int_eq(hb_txn_pack(&pk, &txn), HB_OK);
    HB_GROW(t_raws, t_raws_cap, t_nraws + 1, 64);
    uint8_t *copy = hb_memdup(sb.data, sb.size);
    t_raws[t_nraws++] = copy;
    t_raw_t r = {copy, sb.size};
    msgpack_sbuffer_destroy(&sb);
    return r;
}

/* Returns a msgpack array the wire layer carries but that is not a
 * transaction ([1, 2, 3]: three fields instead of eight). */
static t_raw_t
t_not_txn(void)
{
    static const uint8_t bytes[] = {0x93, 0x01, 0x02, 0x03};
    return (t_raw_t){bytes, sizeof bytes};
}

/* Sends msg through encode and decode, then to core. */
static void
t_deliver(sched_t *core, const hb_msg_t *msg)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(hb_msg_encode(msg, &sb), HB_OK);
    hb_msg_t m;
    ck_assert_int_eq(hb_msg_decode(sb.data, sb.size, NULL, &m), HB_OK);
    sched_on_message(core, &m);
    hb_msg_clear(&m);
    msgpack_sbuffer_destroy(&sb);
}

/* BATCH(group, epoch, since) of n transactions; idx gives their indexes
 * (NULL: 0..n-1). */
static void
t_batch_ix(uint16_t g, uint64_t e, uint64_t since, const t_raw_t *txns,
           const uint32_t *idx, uint32_t n)
{
    hb_wire_txn_t w[32];
    ck_assert_uint_le(n, 32);
    for (uint32_t i = 0; i < n; i++)
        w[i] = (hb_wire_txn_t){idx ? idx[i] : i, txns[i].p, txns[i].len};
    hb_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = HB_MSG_BATCH;
    m.u.batch.group = g;
    m.u.batch.epoch = e;
    m.u.batch.since = since;
    m.u.batch.ntxns = n;
    m.u.batch.txns = w;
    t_deliver(t_sched, &m);
}

static void
t_batch(uint16_t g, uint64_t e, uint64_t since, const t_raw_t *txns, uint32_t n)
{
    t_batch_ix(g, e, since, txns, NULL, n);
}

static void
t_hello(uint64_t inc, uint64_t applied)
{
    hb_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = HB_MSG_HELLO;
    m.u.hello.incarnation = inc;
    m.u.hello.applied_epoch = applied;
    t_deliver(t_sched, &m);
}

static void
t_done_to(sched_t *core, uint64_t inc, uint64_t e, uint16_t g, uint32_t i)
{
    hb_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = HB_MSG_DONE;
    m.u.done.incarnation = inc;
    m.u.done.epoch = e;
    m.u.done.group = g;
    m.u.done.index = i;
    t_deliver(core, &m);
}

static void
t_done(uint64_t inc, uint64_t e, uint16_t g, uint32_t i)
{
    t_done_to(t_sched, inc, e, g, i);
}

/* ---------------------------------------------------------------------------
 * Reading output
 */

/* One sent frame, decoded. */
typedef struct {
    hb_msg_type_t type;
    hb_node_t to;
    uint64_t inc;     /* DISPATCH, EPOCH, RESET */
    uint64_t epoch;   /* DISPATCH, EPOCH; RESET: applied; REPLAY: from */
    uint16_t group;   /* DISPATCH */
    uint32_t index;   /* DISPATCH */
    uint32_t n;       /* EPOCH: ntxns; DISPATCH: locks in the whole txn */
    uint16_t replica; /* REPLAY */
    uint16_t part;    /* REPLAY */
    uint64_t req;     /* DISPATCH: req_id of the transaction */
} t_ev_t;

/* Decodes frame i into *ev. */
static void
t_decode(size_t i, t_ev_t *ev)
{
    ck_assert_uint_lt(i, t_nframes);
    hb_msg_t m;
    ck_assert_int_eq(hb_msg_decode(t_frames[i].frame, t_frames[i].len, NULL, &m), HB_OK);
    memset(ev, 0, sizeof *ev);
    ev->type = m.type;
    ev->to = t_frames[i].to;
    switch (m.type) {
    case HB_MSG_DISPATCH: {
        ev->inc = m.u.dispatch.incarnation;
        ev->epoch = m.u.dispatch.epoch;
        ev->group = m.u.dispatch.group;
        ev->index = m.u.dispatch.index;
        hb_txn_t *txn = NULL;
        hb_limits_t lim = HB_LIMITS_DEFAULT;
        ck_assert_int_eq(
            hb_txn_decode(m.u.dispatch.raw, m.u.dispatch.raw_len, &lim, T_PARTS, &txn),
            HB_OK);
        ev->req = txn->req_id;
        ev->n = txn->nlocks;
        hb_txn_destroy(&txn);
        break;
    }
    case HB_MSG_EPOCH:
        ev->inc = m.u.epoch.incarnation;
        ev->epoch = m.u.epoch.epoch;
        ev->n = m.u.epoch.ntxns;
        break;
    case HB_MSG_RESET:
        ev->inc = m.u.hello.incarnation;
        ev->epoch = m.u.hello.applied_epoch;
        break;
    case HB_MSG_REPLAY:
        ev->replica = m.u.replay.replica;
        ev->part = m.u.replay.partition;
        ev->epoch = m.u.replay.from_epoch;
        break;
    default:
        break;
    }
    hb_msg_clear(&m);
}

/* Returns the next unread frame, decoded. */
static t_ev_t
t_pop(void)
{
    ck_assert_msg(t_cursor < t_nframes, "expected another frame (have %zu)", t_nframes);
    t_ev_t ev;
    t_decode(t_cursor++, &ev);
    return ev;
}

static void
t_expect_none(void)
{
    ck_assert_msg(t_cursor == t_nframes, "%zu unexpected frame(s)", t_nframes - t_cursor);
}

static void
t_to_storage(const t_ev_t *ev, uint16_t part)
{
    ck_assert_uint_eq(ev->to.role, HB_ROLE_STORAGE);
    ck_assert_uint_eq(ev->to.replica, 0);
    ck_assert_uint_eq(ev->to.partition, part);
}

static void
t_expect_resync(uint16_t part)
{
    t_ev_t ev = t_pop();
    ck_assert_int_eq(ev.type, HB_MSG_RESYNC);
    t_to_storage(&ev, part);
}

static void
t_expect_reset(uint16_t part, uint64_t inc, uint64_t applied)
{
    t_ev_t ev = t_pop();
    ck_assert_int_eq(ev.type, HB_MSG_RESET);
    t_to_storage(&ev, part);
    ck_assert_uint_eq(ev.inc, inc);
    ck_assert_uint_eq(ev.epoch, applied);
}

static void
t_expect_replay(uint16_t part, uint16_t group, uint64_t from)
{
    t_ev_t ev = t_pop();
    ck_assert_int_eq(ev.type, HB_MSG_REPLAY);
    ck_assert_uint_eq(ev.to.role, HB_ROLE_SEQUENCER);
    ck_assert_uint_eq(ev.to.replica, 0);
    ck_assert_uint_eq(ev.to.partition, group);
    ck_assert_uint_eq(ev.replica, 0);
    ck_assert_uint_eq(ev.part, part);
    ck_assert_uint_eq(ev.epoch, from);
}

static void
t_expect_epoch(uint16_t part, uint64_t inc, uint64_t e, uint32_t n)
{
    t_ev_t ev = t_pop();
    ck_assert_int_eq(ev.type, HB_MSG_EPOCH);
    t_to_storage(&ev, part);
    ck_assert_uint_eq(ev.inc, inc);
    ck_assert_uint_eq(ev.epoch, e);
    ck_assert_uint_eq(ev.n, n);
}

/* Expects DISPATCH of the transaction req at (e, g, i). */
static void
t_expect_dispatch(uint16_t part, uint64_t inc, uint64_t e, uint16_t g, uint32_t i,
                  uint64_t req)
{
    t_ev_t ev = t_pop();
    ck_assert_msg(ev.type == HB_MSG_DISPATCH, "expected DISPATCH of %llu, got %s",
                  (unsigned long long)req, hb_msg_type_str(ev.type));
    t_to_storage(&ev, part);
    ck_assert_uint_eq(ev.inc, inc);
    ck_assert_uint_eq(ev.epoch, e);
    ck_assert_uint_eq(ev.group, g);
    ck_assert_uint_eq(ev.index, i);
    ck_assert_uint_eq(ev.req, req);
}

/* HELLO(inc, applied) on a fresh core of partition 1: RESET and REPLAYs. */
static void
t_ready(uint64_t inc, uint64_t applied)
{
    t_hello(inc, applied);
    t_expect_reset(1, inc, applied);
    for (uint16_t g = 0; g < T_PARTS; g++)
        t_expect_replay(1, g, applied + 1);
}

static sched_stats_t
t_stats(void)
{
    sched_stats_t st;
    sched_stats(t_sched, &st);
    return st;
}

/* ---------------------------------------------------------------------------
 * Start-up and HELLO
 */

START_TEST(test_sched_startup_resync)
{
    t_start(1);
    t_expect_resync(1);
    t_expect_none();
    ck_assert_uint_eq(t_timers[SCHED_TIMER_RESYNC], 1);
    ck_assert_uint_eq(t_delay[SCHED_TIMER_RESYNC], SCHED_RESYNC_MS * 1000ull);
    ck_assert_uint_eq(t_timers[SCHED_TIMER_STALL], 1);
    ck_assert_uint_gt(t_delay[SCHED_TIMER_STALL], 0);

    /* Every group's epoch 1 arrives: still nothing before HELLO. */
    t_raw_t a = t_txn(1, "w1:a"), b = t_txn(2, "w1:b"), c = t_txn(3, "r1:c");
    t_batch(0, 1, 0, &a, 1);
    t_batch(1, 1, 0, &b, 1);
    t_batch(2, 1, 0, &c, 1);
    t_expect_none();

    /* The resync timer repeats RESYNC and re-arms itself; stall is idle. */
    sched_on_timer(t_sched, SCHED_TIMER_RESYNC);
    t_expect_resync(1);
    t_expect_none();
    ck_assert_uint_eq(t_timers[SCHED_TIMER_RESYNC], 2);
    sched_on_timer(t_sched, SCHED_TIMER_STALL);
    sched_on_timer(t_sched, SCHED_TIMER_STALL);
    t_expect_none();
    sched_stats_t st = t_stats();
    ck_assert(!st.storage_ready);
    ck_assert_uint_eq(st.resyncs, 2);
    ck_assert_uint_eq(st.dispatched, 0);
    ck_assert_str_eq(st.policy, "calvin");

    /* HELLO releases what was merged before it. */
    t_ready(5, 0);
    t_expect_epoch(1, 5, 1, 3);
    t_expect_dispatch(1, 5, 1, 0, 0, 1);
    t_expect_dispatch(1, 5, 1, 1, 0, 2);
    t_expect_dispatch(1, 5, 1, 2, 0, 3);
    t_expect_none();

    /* Once storage answered, the resync timer stops. */
    unsigned armed = t_timers[SCHED_TIMER_RESYNC];
    sched_on_timer(t_sched, SCHED_TIMER_RESYNC);
    t_expect_none();
    ck_assert_uint_eq(t_timers[SCHED_TIMER_RESYNC], armed);
    st = t_stats();
    ck_assert(st.storage_ready);
    ck_assert_uint_eq(st.incarnation, 5);
    ck_assert_uint_eq(st.resyncs, 2);
}
END_TEST

START_TEST(test_sched_hello_reset_replay)
{
    t_start(1);
    t_expect_resync(1);
    t_ready(7, 10);
    t_expect_none();
    sched_stats_t st = t_stats();
    ck_assert_uint_eq(st.applied_epoch, 10);
    ck_assert_uint_eq(st.replays, 3);
    ck_assert_uint_eq(st.hellos, 1);

    /* Batches at or below the applied epoch are dropped. */
    t_raw_t old = t_txn(1, "w1:a");
    t_batch(0, 10, 0, &old, 1);
    t_batch(1, 9, 0, &old, 1);
    t_batch(2, 10, 4, &old, 1);
    t_expect_none();
    ck_assert_uint_eq(t_stats().duplicates, 3);

    /* The first epoch after it goes through (since may predate applied). */
    t_raw_t x = t_txn(2, "w1:x");
    t_batch(0, 11, 10, &x, 1);
    t_batch(1, 11, 3, NULL, 0);
    t_expect_none();
    t_batch(2, 12, 10, NULL, 0);
    t_expect_epoch(1, 7, 11, 1);
    t_expect_dispatch(1, 7, 11, 0, 0, 2);
    t_expect_none();
    st = t_stats();
    ck_assert_uint_eq(st.last_epoch, 11);
    ck_assert_uint_eq(st.dispatched, 1);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Global order and conflicts
 */

START_TEST(test_sched_global_order)
{
    t_start(1);
    t_expect_resync(1);
    t_ready(1, 0);

    /* Epoch 1: g0 [0:A 1:B], g1 [0:C], g2 [0:D 1:E 2:F] (sent unsorted);
     * epoch 2: g1 [0:G], g2 [3:H] (sparse index); g0 has no epoch 2. */
    t_raw_t a = t_txn(11, "w1:a"), b = t_txn(12, "r1:b"), c = t_txn(13, "w1:c");
    t_raw_t d = t_txn(14, "w1:d r1:b"), e = t_txn(15, "w1:e"), f = t_txn(16, "r1:f");
    t_raw_t g = t_txn(17, "w1:g"), h = t_txn(18, "r1:h r1:b");
    t_raw_t g2e1[] = {f, d, e};
    uint32_t g2e1_ix[] = {2, 0, 1};
    t_raw_t g0e1[] = {a, b};
    uint32_t h_ix = 3;

    t_batch_ix(2, 2, 1, &h, &h_ix, 1); /* early: held for g2's epoch 1 */
    t_batch(1, 2, 1, &g, 1);           /* early too */
    t_batch(1, 1, 0, &c, 1);
    t_batch_ix(2, 1, 0, g2e1, g2e1_ix, 3);
    t_expect_none();           /* g0 has said nothing yet */
    t_batch(0, 3, 1, NULL, 0); /* early: g0 is at 0 */
    t_expect_none();
    t_batch(0, 1, 0, g0e1, 2);

    t_expect_epoch(1, 1, 1, 6);
    t_expect_dispatch(1, 1, 1, 0, 0, 11);
    t_expect_dispatch(1, 1, 1, 0, 1, 12);
    t_expect_dispatch(1, 1, 1, 1, 0, 13);
    t_expect_dispatch(1, 1, 1, 2, 0, 14);
    t_expect_dispatch(1, 1, 1, 2, 1, 15);
    t_expect_dispatch(1, 1, 1, 2, 2, 16);
    t_expect_epoch(1, 1, 2, 2);
    t_expect_dispatch(1, 1, 2, 1, 0, 17);
    t_expect_dispatch(1, 1, 2, 2, 3, 18);
    t_expect_none(); /* epoch 3 waits for g1 and g2 */
    sched_stats_t st = t_stats();
    ck_assert_uint_eq(st.last_epoch, 2);
    ck_assert_uint_eq(st.inflight, 8);
    ck_assert_uint_eq(st.dispatched, 8);

    t_batch(1, 3, 2, NULL, 0);
    t_batch(2, 3, 2, NULL, 0);
    t_expect_epoch(1, 1, 3, 0);
    t_expect_none();
}
END_TEST

START_TEST(test_sched_conflicts_wait_for_done)
{
    t_start(1);
    t_expect_resync(1);
    t_ready(3, 0);

    /* Global order: A(1,0,0) w x, B(1,2,0) r x, C(1,2,1) r x, D(2,1,0) w x,
     * E(2,1,1) w y. B and C share x for reading; D must wait for both. */
    t_raw_t a = t_txn(1, "w1:x"), b = t_txn(2, "r1:x"), c = t_txn(3, "r1:x w1:z");
    t_raw_t d = t_txn(4, "w1:x"), e = t_txn(5, "w1:y");
    t_raw_t g2[] = {b, c};
    t_raw_t g1[] = {d, e};
    /* g0 sends epoch 1 last: nothing is released until it does. */
    t_batch(1, 2, 0, g1, 2);
    t_batch(2, 2, 1, NULL, 0);
    t_batch(2, 1, 0, g2, 2);
    t_batch(0, 2, 1, NULL, 0);
    t_expect_none();
    t_batch(0, 1, 0, &a, 1);

    t_expect_epoch(1, 3, 1, 3);
    t_expect_dispatch(1, 3, 1, 0, 0, 1); /* A */
    t_expect_epoch(1, 3, 2, 2);
    t_expect_dispatch(1, 3, 2, 1, 1, 5); /* E: no conflict */
    t_expect_none();

    /* Stale and unknown DONEs change nothing. */
    t_done(2, 1, 0, 0); /* wrong incarnation */
    t_done(4, 1, 0, 0); /* wrong incarnation */
    t_done(3, 1, 0, 7); /* no such index */
    t_done(3, 9, 0, 0); /* no such epoch */
    t_done(3, 1, 2, 0); /* B: submitted but not dispatched */
    t_expect_none();
    sched_stats_t st = t_stats();
    ck_assert_uint_eq(st.stale_done, 2);
    ck_assert_uint_eq(st.unknown_done, 3);
    ck_assert_uint_eq(st.completed, 0);
    ck_assert_uint_eq(st.inflight, 5);

    /* A done: the readers B and C run together, in order. */
    t_done(3, 1, 0, 0);
    t_expect_dispatch(1, 3, 1, 2, 0, 2);
    t_expect_dispatch(1, 3, 1, 2, 1, 3);
    t_expect_none();
    t_done(3, 1, 0, 0); /* twice: unknown now */
    ck_assert_uint_eq(t_stats().unknown_done, 4);

    /* D waits for both readers. */
    t_done(3, 1, 2, 1);
    t_expect_none();
    t_done(3, 2, 1, 1); /* E */
    t_expect_none();
    t_done(3, 1, 2, 0);
    t_expect_dispatch(1, 3, 2, 1, 0, 4);
    t_expect_none();
    t_done(3, 2, 1, 0);
    t_expect_none();
    st = t_stats();
    ck_assert_uint_eq(st.completed, 5);
    ck_assert_uint_eq(st.dispatched, 5);
    ck_assert_uint_eq(st.inflight, 0);
}
END_TEST

START_TEST(test_sched_multipartition_local_locks)
{
    t_start(1);
    t_expect_resync(1);
    t_ready(1, 0);

    /* M writes a on p0, b on p1 and c on p2 — the sequencer puts it in
     * our batch because it touches p1; txns touching only p0/p2 are not in
     * it at all. N writes "a" on p1: the same bytes, but M holds no lock on
     * p1's "a", so N runs at once. O writes p1's "b" and waits for M. */
    t_raw_t m = t_txn(1, "w0:a w1:b r2:c"), n = t_txn(2, "w1:a"), o = t_txn(3, "r1:b");
    t_raw_t p = t_txn(4, "w0:c w1:q");
    t_raw_t g0[] = {m, p};
    uint32_t g0_ix[] = {0, 2}; /* index 1 of g0 touches only p0 */
    t_raw_t g2[] = {n, o};
    uint32_t g2_ix[] = {1, 4};
    t_batch_ix(0, 1, 0, g0, g0_ix, 2);
    t_batch(1, 1, 0, NULL, 0);
    t_batch_ix(2, 1, 0, g2, g2_ix, 2);

    t_expect_epoch(1, 1, 1, 4);
    t_ev_t ev = t_pop();
    ck_assert_int_eq(ev.type, HB_MSG_DISPATCH);
    ck_assert_uint_eq(ev.req, 1);
    ck_assert_uint_eq(ev.n, 3); /* the whole transaction, remote locks too */
    t_expect_dispatch(1, 1, 1, 0, 2, 4);
    t_expect_dispatch(1, 1, 1, 2, 1, 2);
    t_expect_none();
    t_done(1, 1, 0, 0);
    t_expect_dispatch(1, 1, 1, 2, 4, 3);
    t_expect_none();
}
END_TEST

/* ---------------------------------------------------------------------------
 * Stall, incarnations, bad input
 */

START_TEST(test_sched_stall_replay)
{
    t_start(1);
    t_expect_resync(1);
    t_ready(1, 0);
    uint64_t stall_delay = t_delay[SCHED_TIMER_STALL];

    /* g0 is at 3, g1 at 1, g2 has sent nothing. */
    t_batch(0, 1, 0, NULL, 0);
    t_batch(0, 2, 1, NULL, 0);
    t_batch(0, 3, 2, NULL, 0);
    t_batch(1, 1, 0, NULL, 0);
    t_expect_none();

    sched_on_timer(t_sched, SCHED_TIMER_STALL);
    t_expect_none(); /* first sighting: maybe just in flight */
    ck_assert_uint_eq(t_delay[SCHED_TIMER_STALL], stall_delay);
    sched_on_timer(t_sched, SCHED_TIMER_STALL);
    t_expect_replay(1, 1, 2);
    t_expect_replay(1, 2, 1);
    t_expect_none();
    sched_stats_t st = t_stats();
    ck_assert_uint_eq(st.stall_replays, 2);
    ck_assert_uint_eq(st.replays, 5);

    /* g2 catches up to 1: its lag moved, so no REPLAY on the next tick;
     * g1 still lags at 2 and is asked again. */
    t_batch(2, 1, 0, NULL, 0);
    t_expect_epoch(1, 1, 1, 0);
    t_expect_none();
    sched_on_timer(t_sched, SCHED_TIMER_STALL);
    t_expect_replay(1, 1, 2);
    t_expect_none();
    t_batch(1, 3, 1, NULL, 0);
    t_batch(2, 3, 1, NULL, 0);
    t_expect_epoch(1, 1, 2, 0); /* g0's epoch 2 */
    t_expect_epoch(1, 1, 3, 0);
    t_expect_none();
    sched_on_timer(t_sched, SCHED_TIMER_STALL);
    sched_on_timer(t_sched, SCHED_TIMER_STALL);
    t_expect_none();
    ck_assert_uint_eq(t_stats().stall_replays, 3);
}
END_TEST

/* An epoch that stays missing is asked for again less and less often (a
 * sequencer still catching up must not get a full replay every tick), and
 * a new lag is asked for at once again. */
START_TEST(test_sched_stall_replay_backoff)
{
    t_start(1);
    t_expect_resync(1);
    t_ready(1, 0);
    t_batch(0, 1, 0, NULL, 0);
    t_batch(0, 2, 1, NULL, 0);
    t_batch(2, 1, 0, NULL, 0);
    t_batch(2, 2, 1, NULL, 0);
    t_expect_none(); /* g1 never sends */
    uint32_t sent = 0;
    for (int tick = 0; tick < 100; tick++) {
        sched_on_timer(t_sched, SCHED_TIMER_STALL);
        sched_stats_t st = t_stats();
        while (st.stall_replays > sent) {
            t_expect_replay(1, 1, 1);
            sent++;
        }
        t_expect_none();
    }
    /* Without the back-off: 99 REPLAYs; with it, waits of 1, 2, 4 .. 32
     * ticks between them. */
    ck_assert_uint_ge(sent, 6);
    ck_assert_uint_le(sent, 9);
    /* g1 catches up to 1 and then lags at 2: asked at the second sighting,
     * as a fresh lag. */
    t_batch(1, 1, 0, NULL, 0);
    t_expect_epoch(1, 1, 1, 0);
    t_expect_none();
    sched_on_timer(t_sched, SCHED_TIMER_STALL);
    t_expect_none();
    sched_on_timer(t_sched, SCHED_TIMER_STALL);
    t_expect_replay(1, 1, 2);
    t_expect_none();
}
END_TEST

START_TEST(test_sched_incarnations)
{
    t_start(1);
    t_expect_resync(1);
    t_ready(2, 0);
    t_raw_t a = t_txn(1, "w1:x"), b = t_txn(2, "w1:x");
    t_raw_t g0[] = {a, b};
    t_batch(0, 1, 0, g0, 2);
    t_batch(1, 1, 0, NULL, 0);
    t_batch(2, 1, 0, NULL, 0);
    t_expect_epoch(1, 2, 1, 2);
    t_expect_dispatch(1, 2, 1, 0, 0, 1);
    t_expect_none();

    /* The same incarnation again: only RESET, nothing re-dispatched. */
    t_hello(2, 0);
    t_expect_reset(1, 2, 0);
    t_expect_none();

    /* An older incarnation: ignored. */
    t_hello(1, 5);
    t_expect_none();
    sched_stats_t st = t_stats();
    ck_assert_uint_eq(st.incarnation, 2);
    ck_assert_uint_eq(st.hellos, 1);
    ck_assert_uint_eq(st.inflight, 2);

    /* A newer one: in-flight work is dropped, REPLAY from its applied. */
    t_hello(4, 0);
    t_expect_reset(1, 4, 0);
    for (uint16_t g = 0; g < T_PARTS; g++)
        t_expect_replay(1, g, 1);
    t_expect_none();
    st = t_stats();
    ck_assert_uint_eq(st.inflight, 0);
    ck_assert_uint_eq(st.incarnation, 4);
    ck_assert_uint_eq(st.hellos, 2);

    /* DONE of the old incarnation is stale; the replayed batches run again
     * under the new incarnation, from a fresh lock table. */
    t_done(2, 1, 0, 0);
    t_expect_none();
    ck_assert_uint_eq(t_stats().stale_done, 1);
    t_batch(0, 1, 0, g0, 2);
    t_batch(1, 1, 0, NULL, 0);
    t_batch(2, 1, 0, NULL, 0);
    t_expect_epoch(1, 4, 1, 2);
    t_expect_dispatch(1, 4, 1, 0, 0, 1);
    t_expect_none();
    t_done(4, 1, 0, 0);
    t_expect_dispatch(1, 4, 1, 0, 1, 2);
    t_expect_none();

    /* A newer incarnation that applied epoch 1 replays from 2. */
    t_hello(5, 1);
    t_expect_reset(1, 5, 1);
    for (uint16_t g = 0; g < T_PARTS; g++)
        t_expect_replay(1, g, 2);
    t_expect_none();
    t_done(4, 1, 0, 1);
    ck_assert_uint_eq(t_stats().stale_done, 2);
}
END_TEST

START_TEST(test_sched_bad_txn)
{
    t_start(1);
    t_expect_resync(1);
    t_ready(1, 0);
    t_raw_t good1 = t_txn(1, "w1:a"), good2 = t_txn(2, "w1:b");
    t_raw_t bad_part = t_txn(3, "w1:c w7:d"); /* partition 7 of 3 */
    t_raw_t txns[] = {good1, t_not_txn(), bad_part, good2};
    t_batch(0, 1, 0, txns, 4);
    t_batch(1, 1, 0, NULL, 0);
    t_batch(2, 1, 0, NULL, 0);
    t_expect_epoch(1, 1, 1, 2);
    t_expect_dispatch(1, 1, 1, 0, 0, 1);
    t_expect_dispatch(1, 1, 1, 0, 3, 2);
    t_expect_none();
    t_done(1, 1, 0, 1); /* the bad one is not in flight */
    sched_stats_t st = t_stats();
    ck_assert_uint_eq(st.bad_txns, 2);
    ck_assert_uint_eq(st.unknown_done, 1);
    ck_assert_uint_eq(st.inflight, 2);
}
END_TEST

START_TEST(test_sched_bad_setup)
{
    /* Slot outside the cluster, missing env, unknown policy. */
    ck_assert_ptr_null(sched_new(t_cfg, hb_node(HB_ROLE_SCHEDULER, 0, 3), &t_env));
    ck_assert_ptr_null(sched_new(t_cfg, hb_node(HB_ROLE_SCHEDULER, 1, 0), &t_env));
    ck_assert_ptr_null(sched_new(t_cfg, hb_node(HB_ROLE_SCHEDULER, 0, 0), NULL));
    ck_assert_ptr_null(
        sched_new_with_policy(t_cfg, hb_node(HB_ROLE_SCHEDULER, 0, 0), &t_env, NULL));
    hb_config_t *cfg = t_config("nosuch");
    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_null(sched_new(cfg, hb_node(HB_ROLE_SCHEDULER, 0, 0), &t_env));
    hb_config_destroy(&cfg);
    ck_assert_uint_eq(t_nframes, 0);

    /* Other message types are counted and ignored. */
    t_start(1);
    t_expect_resync(1);
    hb_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = HB_MSG_RESYNC;
    t_deliver(t_sched, &m);
    t_expect_none();
    ck_assert_uint_eq(t_stats().unexpected, 1);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Out-of-tree policy
 */

static char t_log_text[4096]; /* error lines captured from hb_log */

static void
t_log_sink(void *arg, hb_log_level_t level, const char *line)
{
    (void)arg;
    if (level < HB_LOG_ERROR)
        return;
    size_t used = strlen(t_log_text);
    snprintf(t_log_text + used, sizeof t_log_text - used, "%s\n", line);
}

START_TEST(test_sched_policy_so_load)
{
    const sched_policy_ops_t *ops = sched_policy_resolve(HOBBES_POLICY_EXAMPLE);
    ck_assert_ptr_nonnull(ops);
    ck_assert_str_eq(ops->name, "example");
    ck_assert_uint_eq(ops->abi, SCHED_POLICY_ABI);
    ck_assert_ptr_eq(sched_policy_load(HOBBES_POLICY_EXAMPLE), ops);

    hb_log_set_sink(t_log_sink, NULL);
    hb_log_set_level(HB_LOG_ERROR);
    t_log_text[0] = '\0';
    ck_assert_ptr_null(sched_policy_resolve("/nonexistent/dir/policy.so"));
    ck_assert_ptr_nonnull(strstr(t_log_text, "cannot load"));
    t_log_text[0] = '\0';
    ck_assert_ptr_null(sched_policy_load(HOBBES_POLICY_BADABI));
    ck_assert_ptr_nonnull(strstr(t_log_text, "ABI"));
    t_log_text[0] = '\0';
    ck_assert_ptr_null(sched_policy_load("libm.so.6")); /* loads, no symbol */
    ck_assert_ptr_nonnull(strstr(t_log_text, SCHED_POLICY_SYMBOL));
    ck_assert_ptr_null(sched_policy_resolve("nosuch"));
    hb_log_set_level(HB_LOG_OFF);

    /* A config naming the .so by path gets a core running it. */
    hb_config_destroy(&t_cfg);
    t_cfg = t_config(HOBBES_POLICY_EXAMPLE);
    ck_assert_ptr_nonnull(t_cfg);
    t_start(1);
    ck_assert_str_eq(t_stats().policy, "example");
    t_expect_resync(1);
    t_ready(1, 0);
    t_raw_t a = t_txn(1, "w1:x"), b = t_txn(2, "r1:y"), c = t_txn(3, "r1:x");
    t_raw_t g0[] = {a, b, c};
    t_batch(0, 1, 0, g0, 3);
    t_batch(1, 1, 0, NULL, 0);
    t_batch(2, 1, 0, NULL, 0);
    t_expect_epoch(1, 1, 1, 3);
    t_expect_dispatch(1, 1, 1, 0, 0, 1);
    t_expect_dispatch(1, 1, 1, 0, 1, 2);
    t_expect_none();
    t_done(1, 1, 0, 0);
    t_expect_dispatch(1, 1, 1, 0, 2, 3);
    t_expect_none();
}
END_TEST

/* ---------------------------------------------------------------------------
 * Differential: calvin, serial and the .so policy on a random workload
 */

#define W_EPOCHS 40
#define W_KEYS   6 /* keys per partition: "k0".."k5" */
#define W_MAXTX  6 /* transactions per group batch */
#define W_MAXLK  4 /* locks per transaction */
#define W_TXNS   (W_EPOCHS * T_PARTS * W_MAXTX)

/* One transaction of the workload. */
typedef struct {
    uint64_t epoch;
    uint16_t group;
    uint32_t index;
    uint32_t nlocks;
    uint16_t part[W_MAXLK];
    uint8_t key[W_MAXLK];
    uint8_t mode[W_MAXLK];
    t_raw_t raw;
} w_txn_t;

/* Per group: whether it has a batch at epoch e, and its transactions. */
typedef struct {
    w_txn_t txns[W_TXNS]; /* in global order */
    uint32_t ntxns;
    bool has[T_PARTS][W_EPOCHS + 1];
} w_load_t;

static w_load_t w_load;

static void
w_generate(void)
{
    memset(&w_load, 0, sizeof w_load);
    uint64_t req = 1;
    for (uint64_t e = 1; e <= W_EPOCHS; e++) {
        for (uint16_t g = 0; g < T_PARTS; g++) {
            /* Some epochs have no batch for a group (since skips them);
             * the last one always has, so everything is released. */
            bool has = e == W_EPOCHS || t_below(5) != 0;
            w_load.has[g][e] = has;
            if (!has)
                continue;
            uint32_t n = t_below(W_MAXTX + 1);
            for (uint32_t i = 0; i < n; i++) {
                w_txn_t *t = &w_load.txns[w_load.ntxns++];
                t->epoch = e;
                t->group = g;
                t->index = i;
                t->nlocks = 1 + t_below(W_MAXLK);
                char spec[128] = "";
                for (uint32_t k = 0; k < t->nlocks; k++) {
                    t->part[k] = (uint16_t)t_below(T_PARTS);
                    t->key[k] = (uint8_t)t_below(W_KEYS);
                    t->mode[k] = t_below(2) ? HB_LOCK_WRITE : HB_LOCK_READ;
                    size_t used = strlen(spec);
                    snprintf(spec + used, sizeof spec - used, "%c%u:k%u ",
                             t->mode[k] == HB_LOCK_WRITE ? 'w' : 'r', t->part[k],
                             t->key[k]);
                }
                t->raw = t_txn(req++, spec);
            }
        }
    }
}

static bool
w_touches(const w_txn_t *t, uint16_t q)
{
    for (uint32_t k = 0; k < t->nlocks; k++)
        if (t->part[k] == q)
            return true;
    return false;
}

/* Returns true if a and b conflict on partition q. */
static bool
w_conflict(const w_txn_t *a, const w_txn_t *b, uint16_t q)
{
    for (uint32_t i = 0; i < a->nlocks; i++)
        for (uint32_t j = 0; j < b->nlocks; j++)
            if (a->part[i] == q && b->part[j] == q && a->key[i] == b->key[j] &&
                (a->mode[i] == HB_LOCK_WRITE || b->mode[j] == HB_LOCK_WRITE))
                return true;
    return false;
}

/* Finds the workload transaction at (e, g, i). */
static uint32_t
w_find(uint64_t e, uint16_t g, uint32_t i)
{
    for (uint32_t k = 0; k < w_load.ntxns; k++)
        if (w_load.txns[k].epoch == e && w_load.txns[k].group == g &&
            w_load.txns[k].index == i)
            return k;
    ck_abort_msg("dispatch of unknown txn (%llu,%u,%u)", (unsigned long long)e, g, i);
    return 0;
}

/* One message the sequencers would send scheduler q. */
typedef struct {
    uint16_t g;
    uint64_t e;
    uint64_t since;
} w_msg_t;

/* One run of the workload through a core of partition q: what the test
 * sent it and what it saw come back. */
typedef struct {
    sched_t *core;                        /* the core under test */
    uint16_t q;                           /* its partition */
    uint64_t *state;                      /* the W_KEYS values of partition q */
    w_msg_t msgs[2 * T_PARTS * W_EPOCHS]; /* the BATCHes to send, in order */
    uint32_t nmsgs;
    uint64_t dispatched_at[W_TXNS]; /* clock at DISPATCH (0: never) */
    uint64_t done_at[W_TXNS];       /* clock at DONE */
    uint32_t running[W_TXNS];       /* dispatched, not done */
    uint32_t nrunning;
    uint64_t snapshot[W_TXNS][W_MAXLK]; /* values read at dispatch */
    uint64_t clock;                     /* logical time */
    uint64_t epoch_n[W_EPOCHS + 1];     /* ntxns of each EPOCH sent */
    uint64_t last_epoch;                /* last EPOCH sent */
    uint32_t nepochs;                   /* EPOCHs sent */
    size_t cursor;                      /* frames of the core decoded */
} w_sim_t;

static w_sim_t w_sim;

/* The BATCHes for q, each possibly twice, in random order. */
static void
w_messages(w_sim_t *s)
{
    for (uint16_t g = 0; g < T_PARTS; g++) {
        uint64_t since = 0;
        for (uint64_t e = 1; e <= W_EPOCHS; e++) {
            if (!w_load.has[g][e])
                continue;
            s->msgs[s->nmsgs++] = (w_msg_t){g, e, since};
            if (t_below(5) == 0)
                s->msgs[s->nmsgs++] = (w_msg_t){g, e, since};
            since = e;
        }
    }
    for (uint32_t i = s->nmsgs; i > 1; i--) {
        uint32_t j = t_below(i);
        w_msg_t tmp = s->msgs[i - 1];
        s->msgs[i - 1] = s->msgs[j];
        s->msgs[j] = tmp;
    }
}

/* Sends the core the BATCH wm: the group's transactions touching q. */
static void
w_send_batch(w_sim_t *s, const w_msg_t *wm)
{
    hb_wire_txn_t w[W_MAXTX];
    uint32_t n = 0;
    for (uint32_t k = 0; k < w_load.ntxns; k++) {
        const w_txn_t *t = &w_load.txns[k];
        if (t->epoch == wm->e && t->group == wm->g && w_touches(t, s->q))
            w[n++] = (hb_wire_txn_t){t->index, t->raw.p, t->raw.len};
    }
    hb_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = HB_MSG_BATCH;
    m.u.batch.group = wm->g;
    m.u.batch.epoch = wm->e;
    m.u.batch.since = wm->since;
    m.u.batch.ntxns = n;
    m.u.batch.txns = w;
    t_deliver(s->core, &m);
}

/* Executes a random running transaction: it writes a function of what it
 * read at dispatch to every key it writes, then reports DONE. */
static void
w_execute_one(w_sim_t *s)
{
    ck_assert_uint_gt(s->nrunning, 0);
    uint32_t r = t_below(s->nrunning);
    uint32_t k = s->running[r];
    s->running[r] = s->running[--s->nrunning];
    const w_txn_t *t = &w_load.txns[k];
    uint64_t h = 0xcbf29ce484222325ULL ^ k;
    for (uint32_t l = 0; l < t->nlocks; l++)
        if (t->part[l] == s->q)
            h = (h ^ s->snapshot[k][l]) * 0x100000001b3ULL;
    for (uint32_t l = 0; l < t->nlocks; l++)
        if (t->part[l] == s->q && t->mode[l] == HB_LOCK_WRITE)
            s->state[t->key[l]] = h + l;
    s->done_at[k] = s->clock++;
    t_done_to(s->core, 1, t->epoch, t->group, t->index);
}

/* Decodes what the core sent since the last call: EPOCHs in increasing
 * order, each transaction DISPATCHed once (its reads taken then). */
static void
w_collect(w_sim_t *s)
{
    for (; s->cursor < t_nframes; s->cursor++) {
        t_ev_t ev;
        t_decode(s->cursor, &ev);
        if (ev.type == HB_MSG_EPOCH) {
            ck_assert_uint_gt(ev.epoch, s->last_epoch);
            ck_assert_uint_le(ev.epoch, W_EPOCHS);
            s->last_epoch = ev.epoch;
            s->epoch_n[ev.epoch] = ev.n;
            s->nepochs++;
        } else if (ev.type == HB_MSG_DISPATCH) {
            ck_assert_uint_eq(ev.inc, 1);
            ck_assert_uint_le(ev.epoch, s->last_epoch);
            uint32_t k = w_find(ev.epoch, ev.group, ev.index);
            ck_assert_msg(s->dispatched_at[k] == 0, "txn %u dispatched twice", k);
            ck_assert_uint_eq(ev.req, k + 1);
            s->dispatched_at[k] = s->clock++;
            const w_txn_t *t = &w_load.txns[k];
            for (uint32_t l = 0; l < t->nlocks; l++)
                s->snapshot[k][l] = t->part[l] == s->q ? s->state[t->key[l]] : 0;
            s->running[s->nrunning++] = k;
        }
    }
}

/* Every transaction touching q ran once, EPOCH counts match, conflicting
 * transactions ran in global order, and the core's counters agree. */
static void
w_check(const w_sim_t *s, const sched_policy_ops_t *ops)
{
    uint16_t q = s->q;
    uint64_t expect_n[W_EPOCHS + 1] = {0};
    uint32_t nlocal = 0;
    for (uint32_t k = 0; k < w_load.ntxns; k++) {
        const w_txn_t *t = &w_load.txns[k];
        if (!w_touches(t, q)) {
            ck_assert_uint_eq(s->dispatched_at[k], 0);
            continue;
        }
        ck_assert_msg(s->dispatched_at[k] != 0 && s->done_at[k] > s->dispatched_at[k],
                      "%s p%u: txn (%llu,%u,%u) never ran", ops->name, q,
                      (unsigned long long)t->epoch, t->group, t->index);
        expect_n[t->epoch]++;
        nlocal++;
    }
    ck_assert_uint_eq(s->last_epoch, W_EPOCHS);
    for (uint64_t e = 1; e <= W_EPOCHS; e++)
        ck_assert_uint_eq(s->epoch_n[e], expect_n[e]);

    /* The property: conflicting transactions ran in global order. */
    for (uint32_t a = 0; a < w_load.ntxns; a++) {
        if (!w_touches(&w_load.txns[a], q))
            continue;
        for (uint32_t b = a + 1; b < w_load.ntxns; b++)
            if (w_touches(&w_load.txns[b], q) &&
                w_conflict(&w_load.txns[a], &w_load.txns[b], q))
                ck_assert_msg(s->dispatched_at[b] > s->done_at[a],
                              "%s p%u: txn %u dispatched before %u (conflicting, "
                              "earlier) completed",
                              ops->name, q, b, a);
    }

    sched_stats_t st;
    sched_stats(s->core, &st);
    ck_assert_uint_eq(st.dispatched, nlocal);
    ck_assert_uint_eq(st.completed, nlocal);
    ck_assert_uint_eq(st.inflight, 0);
    ck_assert_uint_eq(st.bad_txns, 0);
    ck_assert_uint_eq(st.unknown_done + st.stale_done, 0);
    ck_assert_uint_eq(st.queued + st.pending, 0);
    ck_assert_uint_gt(s->nepochs, 0);
}

/* Runs the workload through a core of partition q with ops. Fills state
 * (the W_KEYS values of partition q after everything ran) and checks the
 * order property and the counts. */
static void
w_run(const sched_policy_ops_t *ops, uint16_t q, uint64_t *state)
{
    w_sim_t *s = &w_sim;
    t_frames_clear();
    memset(s, 0, sizeof *s);
    s->q = q;
    s->state = state;
    s->core = sched_new_with_policy(t_cfg, hb_node(HB_ROLE_SCHEDULER, 0, q), &t_env, ops);
    ck_assert_ptr_nonnull(s->core);

    w_messages(s);
    for (uint32_t k = 0; k < W_KEYS; k++)
        state[k] = k + 1;
    s->clock = 1;
    bool hello = false;
    uint32_t before_hello = t_below(s->nmsgs / 2 + 1);
    uint32_t next = 0;

    /* HELLO somewhere among the BATCHes; BATCHes and executions interleave
     * at random. */
    while (next < s->nmsgs || s->nrunning > 0 || !hello) {
        if (!hello && next >= before_hello) {
            hb_msg_t m;
            memset(&m, 0, sizeof m);
            m.type = HB_MSG_HELLO;
            m.u.hello.incarnation = 1;
            t_deliver(s->core, &m);
            hello = true;
        } else if (next < s->nmsgs && (s->nrunning == 0 || t_below(2) == 0)) {
            w_send_batch(s, &s->msgs[next++]);
        } else {
            w_execute_one(s);
        }
        w_collect(s);
    }

    w_check(s, ops);
    sched_destroy(&s->core);
    ck_assert_ptr_null(s->core);
}

START_TEST(test_sched_policy_differential)
{
    const sched_policy_ops_t *example = sched_policy_resolve(HOBBES_POLICY_EXAMPLE);
    ck_assert_ptr_nonnull(example);
    const sched_policy_ops_t *ops[] = {&sched_policy_serial, &sched_policy_calvin,
                                       example};
    t_rng = t_seed();
    for (int round = 0; round < 4; round++) {
        w_generate();
        for (uint16_t q = 0; q < T_PARTS; q++) {
            uint64_t ref[W_KEYS], got[W_KEYS];
            w_run(ops[0], q, ref);
            for (size_t p = 1; p < sizeof ops / sizeof ops[0]; p++) {
                w_run(ops[p], q, got);
                for (uint32_t k = 0; k < W_KEYS; k++)
                    ck_assert_msg(got[k] == ref[k],
                                  "round %d p%u key k%u: %s differs from serial", round,
                                  q, k, ops[p]->name);
            }
        }
    }
}
END_TEST

/* ---------------------------------------------------------------------------
 * Suite
 */

static Suite *
t_suite(void)
{
    Suite *s = suite_create("sched");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_sched_startup_resync", test_sched_startup_resync},
        {"test_sched_hello_reset_replay", test_sched_hello_reset_replay},
        {"test_sched_global_order", test_sched_global_order},
        {"test_sched_conflicts_wait_for_done", test_sched_conflicts_wait_for_done},
        {"test_sched_multipartition_local_locks", test_sched_multipartition_local_locks},
        {"test_sched_stall_replay", test_sched_stall_replay},
        {"test_sched_stall_replay_backoff", test_sched_stall_replay_backoff},
        {"test_sched_incarnations", test_sched_incarnations},
        {"test_sched_bad_txn", test_sched_bad_txn},
        {"test_sched_bad_setup", test_sched_bad_setup},
        {"test_sched_policy_so_load", test_sched_policy_so_load},
        {"test_sched_policy_differential", test_sched_policy_differential},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, t_setup, t_teardown);
        tcase_add_test(tc, cases[i].fn);
        suite_add_tcase(s, tc);
    }
    return s;
}

int
main(void)
{
    return hb_test_run(t_suite());
}
