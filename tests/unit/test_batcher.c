/* test_batcher.c — unit tests of the sequencer core (sequencer/batcher.c)
 * and its input log (sequencer/seqlog.c).
 *
 * The core runs over a real LevelDB log in a mkdtemp directory and a fake
 * hb_env_t with a settable clock that records every frame sent. The tests
 * decode those frames and check what schedulers and clients would see:
 * sub-batches per partition with their indexes, empty batches, the `since`
 * chain across restarts and clock jumps, replay, errors for bad calls, and
 * reply forwarding.
 */
#include <check.h>

#include "../hb_test.h"
#include <leveldb/c.h>
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

/* ------------------------------------------------------------ fake world */

typedef struct {
    hb_node_t to;       /* destination (role CLIENT for send_client) */
    uint64_t client_id; /* for client frames */
    uint8_t *frame;     /* copy */
    size_t len;         /* length */
} s_sent_t;

static s_sent_t s_sent[4096];
static size_t s_nsent;
static uint64_t s_now;
static uint64_t s_last_timer;
static char s_dir[256];
static hb_config_t *s_cfg;
static seq_batcher_t *s_seq;

static hb_rc_t
s_env_send(void *ctx, hb_node_t to, const void *frame, size_t len)
{
    (void)ctx;
    ck_assert_uint_lt(s_nsent, 4096);
    s_sent[s_nsent++] = (s_sent_t){to, 0, hb_memdup(frame, len), len};
    return HB_OK;
}

static hb_rc_t
s_env_send_client(void *ctx, uint64_t client_id, const void *frame, size_t len)
{
    (void)ctx;
    ck_assert_uint_lt(s_nsent, 4096);
    s_sent[s_nsent++] =
        (s_sent_t){hb_node(HB_ROLE_CLIENT, 0, 0), client_id, hb_memdup(frame, len), len};
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
    (void)ctx;
    ck_assert_uint_eq(token, SEQ_TIMER_TICK);
    s_last_timer = delay_us;
}

static const hb_env_t s_env = {
    .ctx = NULL,
    .send = s_env_send,
    .send_client = s_env_send_client,
    .now_us = s_env_now,
    .timer = s_env_timer,
};

static void
s_clear(void)
{
    for (size_t i = 0; i < s_nsent; i++)
        hb_free(s_sent[i].frame);
    s_nsent = 0;
}

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
    s_seq = seq_batcher_new(s_cfg, hb_node(HB_ROLE_SEQUENCER, 0, 1), s_dir, &s_env);
    ck_assert_ptr_nonnull(s_seq);
}

static void
s_setup(void)
{
    hb_log_set_level(HB_LOG_OFF);
    char err[256];
    ck_assert_int_eq(hb_config_parse(s_config_text, "t.cfg", &s_cfg, err, sizeof err), HB_OK);
    snprintf(s_dir, sizeof s_dir, "/tmp/hobbes-test-batcher-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_dir));
    s_now = 1700000000000000ULL; /* epoch 170000000000 at 10 ms */
    s_start();
}

static void
s_teardown(void)
{
    seq_batcher_destroy(&s_seq);
    s_clear();
    hb_config_destroy(&s_cfg);
    leveldb_options_t *opts = leveldb_options_create();
    char *err = NULL;
    leveldb_destroy_db(opts, s_dir, &err);
    leveldb_free(err);
    leveldb_options_destroy(opts);
    rmdir(s_dir);
}

/* ------------------------------------------------------------- helpers */

static const uint8_t s_client[8] = {0x81, 2, 3, 4, 5, 6, 7, 8};
static const uint64_t s_client_id = 0x8102030405060708ULL;

static void
s_submit(uint64_t req, const char *proc, const hb_val_t *args, uint32_t nargs)
{
    hb_msg_t m = {.type = HB_MSG_SUBMIT};
    m.u.submit.req_id = req;
    m.u.submit.proc = proc;
    m.u.submit.proc_len = (uint32_t)strlen(proc);
    m.u.submit.nargs = nargs;
    m.u.submit.args = (hb_val_t *)args;
    seq_batcher_on_message(s_seq, s_client, sizeof s_client, &m);
}

/* Returns the partition of kv key s among 3. */
static uint32_t
s_part(const char *s)
{
    hb_key_t k;
    hb_key_kv(&k, s, strlen(s));
    return hb_key_partition(k.buf, k.len, 3);
}

/* Finds a kv key name on partition p. */
static void
s_key_on(uint32_t p, int nth, char *out, size_t cap)
{
    for (int i = 0, found = 0;; i++) {
        snprintf(out, cap, "k%d", i);
        if (s_part(out) == p && found++ == nth)
            return;
    }
}

/* Decodes the i-th sent frame into m (caller clears). */
static void
s_decode(size_t i, hb_msg_t *m)
{
    ck_assert_uint_lt(i, s_nsent);
    ck_assert_int_eq(hb_msg_decode(s_sent[i].frame, s_sent[i].len, NULL, m), HB_OK);
}

/* Returns the index of the BATCH sent to scheduler q, or -1. */
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
    ck_assert_uint_eq(epoch, s_now / 1000 / 10);
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
            ck_assert_int_eq(hb_txn_decode(m.u.batch.txns[t].raw, m.u.batch.txns[t].raw_len,
                                           NULL, 3, &txn),
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
    s_now += 10000; /* next epoch */
    uint64_t e2 = seq_batcher_close(s_seq);
    uint64_t e3 = seq_batcher_close(s_seq); /* same clock epoch: forced forward */
    ck_assert_uint_eq(e2, e1 + 1);
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
    seq_batcher_destroy(&s_seq);
    s_clear();
    s_now += 5ULL * 1000000; /* down for 5 s = 500 epochs */
    s_start();
    ck_assert_uint_eq(seq_batcher_last_epoch(s_seq), e1);
    uint64_t e2 = seq_batcher_close(s_seq);
    ck_assert_uint_eq(e2, e1 + 500);
    hb_msg_t m;
    s_decode(0, &m);
    ck_assert_uint_eq(m.u.batch.since, e1); /* the 499 skipped epochs are empty */
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
    s_now += 3000; /* 3 ms into the epoch */
    seq_batcher_on_timer(s_seq, SEQ_TIMER_TICK);
    ck_assert_uint_eq(s_last_timer, 7000); /* next tick at the next boundary */
    ck_assert_uint_eq(s_nsent, 3);
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
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return hb_test_run(s_suite());
}
