/* test_executor.c — unit tests of the storage core (storage/executor.c).
 *
 * The executor runs over a real engine in a mkdtemp directory and a fake
 * hb_env_t that records every frame it sends; the tests decode those frames
 * with hb_msg_decode and check what a scheduler and a sequencer would see:
 * procedure results, aborts, DONE per transaction, epoch-atomic flushes,
 * stale incarnations, duplicates and RESYNC. Transactions are built the way
 * a sequencer builds them: hb_proc_plan + hb_txn_pack.
 *
 * Multi-partition cases run two or three executors (each with its own
 * engine and fake world); the test routes the storage-to-storage frames
 * (RREAD, RREQ, APPLIED) between them by hand, so it can reorder,
 * duplicate, delay them and crash a node in between.
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "executor.h"
#include "hb_alloc.h"
#include "hb_key.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "hb_proc.h"
#include "hb_txn.h"
#include "hb_wire.h"

/* ------------------------------------------------------------------ */
/* Fake world                                                          */
/* ------------------------------------------------------------------ */

/* One frame the core sent. */
typedef struct {
    hb_node_t to;   /* destination */
    uint8_t *frame; /* copy of the frame */
    size_t len;     /* frame length */
} s_sent_t;

typedef struct {
    s_sent_t *sent;      /* frames, in send order */
    size_t nsent;        /* frames recorded */
    size_t cap;          /* frames allocated */
    uint64_t timers[64]; /* tokens of timers asked for */
    uint64_t delays[64]; /* their delays */
    size_t ntimers;      /* timers asked for */
} s_world_t;

static s_world_t s_world;
static char s_dir[256];
static stor_engine_t *s_eng;
static stor_executor_t *s_ex;
static hb_limits_t s_lim;

static hb_rc_t
s_env_send(void *ctx, hb_node_t to, const void *frame, size_t len)
{
    s_world_t *w = ctx;
    HB_GROW(w->sent, w->cap, w->nsent + 1, 64);
    w->sent[w->nsent++] =
        (s_sent_t){.to = to, .frame = hb_memdup(frame, len), .len = len};
    return HB_OK;
}

static void
s_env_timer(void *ctx, uint64_t delay_us, uint64_t token)
{
    s_world_t *w = ctx;
    ck_assert(delay_us == STOR_HELLO_INTERVAL_US || delay_us == STOR_APPLIED_INTERVAL_US);
    if (w->ntimers < sizeof w->timers / sizeof w->timers[0]) {
        w->delays[w->ntimers] = delay_us;
        w->timers[w->ntimers++] = token;
    }
}

static uint64_t
s_env_now(void *ctx)
{
    (void)ctx;
    return 0;
}

static const hb_env_t s_env = {
    .ctx = &s_world,
    .send = s_env_send,
    .now_us = s_env_now,
    .timer = s_env_timer,
};

static void
s_world_clear(void)
{
    for (size_t i = 0; i < s_world.nsent; i++)
        hb_free(s_world.sent[i].frame);
    s_world.nsent = 0;
}

/* Creates engine + executor for partition self of nparts. */
static void
s_start(uint16_t self, uint32_t nparts)
{
    s_eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(s_eng);
    s_ex = stor_executor_new(s_eng, hb_node(HB_ROLE_STORAGE, 0, self), nparts, &s_lim,
                             &s_env);
    ck_assert_ptr_nonnull(s_ex);
}

static void
s_setup(void)
{
    hb_log_set_level(HB_LOG_OFF);
    memset(&s_world, 0, sizeof s_world);
    s_lim = HB_LIMITS_DEFAULT;
    snprintf(s_dir, sizeof s_dir, "/tmp/hobbes-test-executor-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_dir));
}

static void s_peers_stop(void);

static void
s_teardown(void)
{
    s_peers_stop();
    stor_executor_destroy(&s_ex);
    stor_engine_destroy(&s_eng);
    s_world_clear();
    hb_free(s_world.sent);
    leveldb_options_t *opts = leveldb_options_create();
    char *err = NULL;
    leveldb_destroy_db(opts, s_dir, &err);
    leveldb_free(err);
    leveldb_options_destroy(opts);
    rmdir(s_dir);
}

/* ------------------------------------------------------------------ */
/* Building and sending input                                          */
/* ------------------------------------------------------------------ */

/* A packed transaction. */
typedef struct {
    msgpack_sbuffer sbuf; /* wire form */
} s_txn_t;

/* Plans and packs proc(args) from client 7, request req, origin sequencer
 * (replica 0, group origin). */
static void
s_txn(s_txn_t *t, const char *proc, const hb_val_t *args, uint32_t nargs, uint64_t req,
      uint16_t origin, uint32_t nparts)
{
    const hb_proc_def_t *def = hb_proc_find(proc, strlen(proc));
    ck_assert_ptr_nonnull(def);
    hb_lockset_t ls;
    char err[256];
    hb_lockset_init(&ls);
    ck_assert_int_eq(hb_proc_plan(def, args, nargs, nparts, &ls, err, sizeof err), HB_OK);
    hb_txn_t txn = {
        .client_id = 7,
        .req_id = req,
        .origin_replica = 0,
        .origin_group = origin,
        .timestamp_us = 1000,
        .proc = proc,
        .proc_len = (uint32_t)strlen(proc),
        .nargs = nargs,
        .args = (hb_val_t *)args,
        .nlocks = ls.n,
        .locks = ls.locks,
    };
    msgpack_packer pk;
    msgpack_sbuffer_init(&t->sbuf);
    msgpack_packer_init(&pk, &t->sbuf, msgpack_sbuffer_write);
    ck_assert_int_eq(hb_txn_pack(&pk, &txn), HB_OK);
    hb_lockset_clear(&ls);
}

static void
s_epoch_msg(uint64_t inc, uint64_t epoch, uint32_t n)
{
    hb_msg_t m = {.type = HB_MSG_EPOCH};
    m.u.epoch.incarnation = inc;
    m.u.epoch.epoch = epoch;
    m.u.epoch.ntxns = n;
    stor_executor_on_message(s_ex, &m);
}

static void
s_dispatch_inc(uint64_t inc, uint64_t epoch, uint16_t group, uint32_t index,
               const char *proc, const hb_val_t *args, uint32_t nargs, uint64_t req,
               uint32_t nparts)
{
    s_txn_t t;
    s_txn(&t, proc, args, nargs, req, 0, nparts);
    hb_msg_t m = {.type = HB_MSG_DISPATCH};
    m.u.dispatch.incarnation = inc;
    m.u.dispatch.epoch = epoch;
    m.u.dispatch.group = group;
    m.u.dispatch.index = index;
    m.u.dispatch.raw = (const uint8_t *)t.sbuf.data;
    m.u.dispatch.raw_len = t.sbuf.size;
    stor_executor_on_message(s_ex, &m);
    msgpack_sbuffer_destroy(&t.sbuf);
}

/* Dispatches under the current incarnation, group 0, on a 1-partition cluster. */
static void
s_dispatch(uint64_t epoch, uint32_t index, const char *proc, const hb_val_t *args,
           uint32_t nargs, uint64_t req)
{
    s_dispatch_inc(stor_executor_incarnation(s_ex), epoch, 0, index, proc, args, nargs,
                   req, 1);
}

static void
s_simple(hb_msg_type_t type, uint64_t inc)
{
    hb_msg_t m = {.type = type};
    m.u.hello.incarnation = inc;
    stor_executor_on_message(s_ex, &m);
}

/* ------------------------------------------------------------------ */
/* Inspecting output                                                   */
/* ------------------------------------------------------------------ */

/* Decodes sent frame i into *m (caller: hb_msg_clear). */
static void
s_decode(size_t i, hb_msg_t *m)
{
    ck_assert_uint_lt(i, s_world.nsent);
    ck_assert_int_eq(hb_msg_decode(s_world.sent[i].frame, s_world.sent[i].len, &s_lim, m),
                     HB_OK);
}

static size_t
s_count(hb_msg_type_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < s_world.nsent; i++) {
        hb_msg_t m;
        s_decode(i, &m);
        n += m.type == type;
        hb_msg_clear(&m);
    }
    return n;
}

/* Finds the REPLY to req: returns its frame index, asserts it is unique and
 * addressed to the origin sequencer (0, origin). */
static size_t
s_reply(uint64_t req, uint16_t origin, hb_msg_t *out)
{
    size_t found = SIZE_MAX;
    for (size_t i = 0; i < s_world.nsent; i++) {
        hb_msg_t m;
        s_decode(i, &m);
        if (m.type == HB_MSG_REPLY && m.u.result.req_id == req) {
            ck_assert_uint_eq(found, SIZE_MAX);
            found = i;
            ck_assert_uint_eq(s_world.sent[i].to.role, HB_ROLE_SEQUENCER);
            ck_assert_uint_eq(s_world.sent[i].to.replica, 0);
            ck_assert_uint_eq(s_world.sent[i].to.partition, origin);
            ck_assert_uint_eq(m.u.result.client_id, 7);
        }
        hb_msg_clear(&m);
    }
    ck_assert_uint_ne(found, SIZE_MAX);
    s_decode(found, out);
    return found;
}

/* Asserts the reply to req is OK with one integer value want. */
static void
s_expect_int(uint64_t req, int64_t want)
{
    hb_msg_t m;
    s_reply(req, 0, &m);
    ck_assert_uint_eq(m.u.result.rc, HB_OK);
    ck_assert_uint_eq(m.u.result.nvals, 1);
    ck_assert_int_eq(m.u.result.vals[0].type, HB_VAL_INT);
    ck_assert_int_eq(m.u.result.vals[0].u.i, want);
    hb_msg_clear(&m);
}

static void
s_expect_nil(uint64_t req)
{
    hb_msg_t m;
    s_reply(req, 0, &m);
    ck_assert_uint_eq(m.u.result.rc, HB_OK);
    ck_assert_uint_eq(m.u.result.nvals, 1);
    ck_assert_int_eq(m.u.result.vals[0].type, HB_VAL_NIL);
    hb_msg_clear(&m);
}

static void
s_expect_abort(uint64_t req, hb_rc_t rc, const char *msg)
{
    hb_msg_t m;
    s_reply(req, 0, &m);
    ck_assert_uint_eq(m.u.result.rc, rc);
    ck_assert_uint_eq(m.u.result.nvals, 0);
    ck_assert_uint_eq(m.u.result.msg_len, strlen(msg));
    ck_assert_mem_eq(m.u.result.msg, msg, strlen(msg));
    hb_msg_clear(&m);
}

/* Asserts the engine (overlay or disk) holds kv key name = [want]. */
static void
s_expect_stored_int(const void *key, size_t klen, int64_t want)
{
    uint8_t *val = NULL;
    size_t vlen = 0;
    ck_assert_int_eq(stor_engine_get(s_eng, key, klen, NULL, NULL, &val, &vlen), HB_OK);
    hb_mp_reader_t r;
    uint32_t n = 0;
    int64_t got = 0;
    hb_mp_reader_init(&r, val, vlen);
    ck_assert_int_eq(hb_mp_read_array(&r, &n), HB_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(hb_mp_read_int(&r, &got), HB_OK);
    ck_assert_int_eq(got, want);
    hb_free(val);
}

static void
s_expect_kv_int(const char *name, int64_t want)
{
    hb_key_t k;
    hb_key_kv(&k, name, strlen(name));
    s_expect_stored_int(k.buf, k.len, want);
}

#define S_STR(s) hb_val_str((s), (uint32_t)strlen(s))

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_executor_kv_results)
{
    s_start(0, 1);
    uint64_t inc = stor_executor_incarnation(s_ex);
    s_epoch_msg(inc, 1, 7);

    hb_val_t put[] = {S_STR("a"), hb_val_int(5)};
    hb_val_t add[] = {S_STR("a"), hb_val_int(3)};
    hb_val_t get[] = {S_STR("a")};
    hb_val_t miss[] = {S_STR("missing")};
    hb_val_t puts[] = {S_STR("s"), S_STR("text")};
    hb_val_t adds[] = {S_STR("s"), hb_val_int(1)};
    hb_val_t gets[] = {S_STR("s")};
    s_dispatch(1, 0, "kv.put", put, 2, 100);
    s_dispatch(1, 1, "kv.add", add, 2, 101);
    s_dispatch(1, 2, "kv.get", get, 1, 102);
    s_dispatch(1, 3, "kv.get", miss, 1, 103);
    s_dispatch(1, 4, "kv.put", puts, 2, 104);
    s_dispatch(1, 5, "kv.add", adds, 2, 105);
    s_dispatch(1, 6, "kv.get", gets, 1, 106);

    s_expect_nil(100);
    s_expect_int(101, 8);
    s_expect_int(102, 8);
    s_expect_nil(103);
    s_expect_nil(104);
    s_expect_abort(105, HB_ABORTED, "kv.add: value of s is not an integer");
    hb_msg_t m;
    s_reply(106, 0, &m);
    ck_assert_uint_eq(m.u.result.rc, HB_OK);
    ck_assert_uint_eq(m.u.result.epoch, 1);
    ck_assert_uint_eq(m.u.result.nvals, 1);
    ck_assert_int_eq(m.u.result.vals[0].type, HB_VAL_STR);
    ck_assert_uint_eq(m.u.result.vals[0].u.s.len, 4);
    ck_assert_mem_eq(m.u.result.vals[0].u.s.ptr, "text", 4);
    hb_msg_clear(&m);

    /* One DONE per transaction, to this slot's scheduler, in order. */
    uint32_t next = 0;
    for (size_t i = 0; i < s_world.nsent; i++) {
        s_decode(i, &m);
        if (m.type == HB_MSG_DONE) {
            ck_assert_uint_eq(s_world.sent[i].to.role, HB_ROLE_SCHEDULER);
            ck_assert_uint_eq(s_world.sent[i].to.partition, 0);
            ck_assert_uint_eq(m.u.done.incarnation, inc);
            ck_assert_uint_eq(m.u.done.epoch, 1);
            ck_assert_uint_eq(m.u.done.group, 0);
            ck_assert_uint_eq(m.u.done.index, next++);
        }
        hb_msg_clear(&m);
    }
    ck_assert_uint_eq(next, 7);

    stor_exec_stats_t st;
    stor_executor_stats(s_ex, &st);
    ck_assert_uint_eq(st.executed, 6);
    ck_assert_uint_eq(st.aborted, 1);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 1);
    s_expect_kv_int("a", 8);
}
END_TEST

START_TEST(test_executor_transfer_insufficient_funds)
{
    s_start(0, 1);
    uint64_t inc = stor_executor_incarnation(s_ex);
    s_epoch_msg(inc, 1, 4);
    hb_val_t put[] = {S_STR("alice"), hb_val_int(10)};
    hb_val_t ok[] = {S_STR("alice"), S_STR("bob"), hb_val_int(4)};
    hb_val_t too_much[] = {S_STR("alice"), S_STR("bob"), hb_val_int(7)};
    hb_val_t from_empty[] = {S_STR("carol"), S_STR("bob"), hb_val_int(1)};
    s_dispatch(1, 0, "kv.put", put, 2, 1);
    s_dispatch(1, 1, "kv.transfer", ok, 3, 2);
    s_dispatch(1, 2, "kv.transfer", too_much, 3, 3);
    s_dispatch(1, 3, "kv.transfer", from_empty, 3, 4);

    hb_msg_t m;
    s_reply(2, 0, &m);
    ck_assert_uint_eq(m.u.result.rc, HB_OK);
    ck_assert_uint_eq(m.u.result.nvals, 2);
    ck_assert_int_eq(m.u.result.vals[0].u.i, 6);
    ck_assert_int_eq(m.u.result.vals[1].u.i, 4);
    hb_msg_clear(&m);
    s_expect_abort(3, HB_ABORTED, "kv.transfer: insufficient funds");
    s_expect_abort(4, HB_ABORTED, "kv.transfer: insufficient funds");
    ck_assert_uint_eq(s_count(HB_MSG_DONE), 4);

    /* The aborted transfers changed nothing; carol was never created. */
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 1);
    s_expect_kv_int("alice", 6);
    s_expect_kv_int("bob", 4);
    hb_key_t k;
    uint8_t *val = NULL;
    size_t vlen = 0;
    hb_key_kv(&k, "carol", 5);
    ck_assert_int_eq(stor_engine_get(s_eng, k.buf, k.len, NULL, NULL, &val, &vlen),
                     HB_NOTFOUND);
    uint64_t scan = 0;
    ck_assert_int_eq(stor_engine_scan_hash(s_eng, &scan), HB_OK);
    ck_assert_uint_eq(scan, stor_engine_state_hash(s_eng));
}
END_TEST

START_TEST(test_executor_epoch_flush_waits_for_all_txns)
{
    s_start(0, 1);
    uint64_t inc = stor_executor_incarnation(s_ex);
    hb_val_t add[] = {S_STR("n"), hb_val_int(1)};

    s_epoch_msg(inc, 1, 2);
    s_dispatch(1, 0, "kv.add", add, 2, 1);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 0);
    ck_assert_uint_eq(stor_engine_overlay_keys(s_eng), 1);
    s_dispatch(1, 1, "kv.add", add, 2, 2);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 1);
    ck_assert_uint_eq(stor_engine_overlay_keys(s_eng), 0);

    /* Epoch 3 is empty but waits for epoch 2; both flush together. */
    s_epoch_msg(inc, 2, 1);
    s_epoch_msg(inc, 3, 0);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 1);
    ck_assert_uint_eq(stor_executor_pending_epochs(s_ex), 2);
    s_dispatch(2, 0, "kv.add", add, 2, 3);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 3);
    ck_assert_uint_eq(stor_executor_pending_epochs(s_ex), 0);

    /* A DISPATCH that overtakes its EPOCH waits for the count. */
    s_dispatch(5, 0, "kv.add", add, 2, 4);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 3);
    s_epoch_msg(inc, 5, 1);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 5);
    s_expect_int(4, 4);

    /* What was flushed is on disk: reopen and look. */
    stor_executor_destroy(&s_ex);
    stor_engine_destroy(&s_eng);
    s_eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(s_eng);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 5);
    s_expect_kv_int("n", 4);
}
END_TEST

START_TEST(test_executor_stale_incarnation_ignored)
{
    s_start(0, 1);
    uint64_t inc = stor_executor_incarnation(s_ex);
    ck_assert_uint_eq(inc, 1);

    /* HELLO at creation and on each timer until RESET(inc). */
    ck_assert_uint_eq(s_count(HB_MSG_HELLO), 1);
    hb_msg_t m;
    s_decode(0, &m);
    ck_assert_uint_eq(m.type, HB_MSG_HELLO);
    ck_assert_uint_eq(m.u.hello.incarnation, inc);
    ck_assert_uint_eq(m.u.hello.applied_epoch, 0);
    ck_assert_uint_eq(s_world.sent[0].to.role, HB_ROLE_SCHEDULER);
    hb_msg_clear(&m);
    ck_assert_uint_eq(s_world.ntimers, 1);
    uint64_t token = s_world.timers[0];
    stor_executor_on_timer(s_ex, token);
    ck_assert_uint_eq(s_count(HB_MSG_HELLO), 2);
    s_simple(HB_MSG_RESET, inc + 5); /* not ours */
    ck_assert(!stor_executor_accepted(s_ex));
    s_simple(HB_MSG_RESET, inc);
    ck_assert(stor_executor_accepted(s_ex));
    stor_executor_on_timer(s_ex, token);
    ck_assert_uint_eq(s_count(HB_MSG_HELLO), 2);
    s_world_clear();

    hb_val_t put[] = {S_STR("k"), hb_val_int(1)};
    s_epoch_msg(inc + 1, 1, 1);
    s_dispatch_inc(inc + 1, 1, 0, 0, "kv.put", put, 2, 1, 1);
    s_dispatch_inc(inc - 1, 1, 0, 0, "kv.put", put, 2, 1, 1);
    ck_assert_uint_eq(s_world.nsent, 0);
    ck_assert_uint_eq(stor_engine_overlay_keys(s_eng), 0);
    ck_assert_uint_eq(stor_executor_pending_epochs(s_ex), 0);
    stor_exec_stats_t st;
    stor_executor_stats(s_ex, &st);
    ck_assert_uint_eq(st.stale, 4);
    ck_assert_uint_eq(st.executed, 0);

    /* A duplicated DISPATCH of the current incarnation runs once. */
    hb_val_t add[] = {S_STR("c"), hb_val_int(1)};
    s_epoch_msg(inc, 1, 2);
    s_dispatch(1, 0, "kv.add", add, 2, 10);
    s_dispatch(1, 0, "kv.add", add, 2, 10);
    ck_assert_uint_eq(s_count(HB_MSG_DONE), 1);
    s_dispatch(1, 1, "kv.add", add, 2, 11);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 1);
    s_expect_kv_int("c", 2);
    s_dispatch(1, 1, "kv.add", add, 2, 11); /* after the flush */
    s_expect_kv_int("c", 2);
    stor_executor_stats(s_ex, &st);
    ck_assert_uint_eq(st.duplicates, 2);
    ck_assert_uint_eq(st.executed, 2);
}
END_TEST

START_TEST(test_executor_resync_discards_unflushed)
{
    s_start(0, 1);
    uint64_t inc = stor_executor_incarnation(s_ex);
    s_simple(HB_MSG_RESET, inc);
    hb_val_t put1[] = {S_STR("k"), hb_val_int(1)};
    hb_val_t put2[] = {S_STR("k"), hb_val_int(2)};
    s_epoch_msg(inc, 1, 1);
    s_dispatch(1, 0, "kv.put", put1, 2, 1);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 1);
    s_epoch_msg(inc, 2, 2);
    s_dispatch(2, 0, "kv.put", put2, 2, 2);
    s_expect_kv_int("k", 2); /* in the overlay */
    s_world_clear();

    s_simple(HB_MSG_RESYNC, 0);
    uint64_t inc2 = stor_executor_incarnation(s_ex);
    ck_assert_uint_eq(inc2, inc + 1);
    ck_assert(!stor_executor_accepted(s_ex));
    ck_assert_uint_eq(stor_engine_overlay_keys(s_eng), 0);
    ck_assert_uint_eq(stor_executor_pending_epochs(s_ex), 0);
    s_expect_kv_int("k", 1);
    /* A HELLO with the new incarnation and the applied epoch, and its timer. */
    ck_assert_uint_eq(s_world.nsent, 1);
    hb_msg_t m;
    s_decode(0, &m);
    ck_assert_uint_eq(m.type, HB_MSG_HELLO);
    ck_assert_uint_eq(m.u.hello.incarnation, inc2);
    ck_assert_uint_eq(m.u.hello.applied_epoch, 1);
    hb_msg_clear(&m);
    uint64_t token = s_world.timers[s_world.ntimers - 1];
    stor_executor_on_timer(s_ex, s_world.timers[0]); /* the old cycle's timer: ignored */
    ck_assert_uint_eq(s_count(HB_MSG_HELLO), 1);
    stor_executor_on_timer(s_ex, token);
    ck_assert_uint_eq(s_count(HB_MSG_HELLO), 2);

    /* The rest of the old incarnation's epoch 2 is ignored. */
    s_dispatch_inc(inc, 2, 0, 1, "kv.put", put2, 2, 3, 1);
    ck_assert_uint_eq(stor_engine_overlay_keys(s_eng), 0);
    /* The replay under the new incarnation re-executes epoch 2. */
    s_epoch_msg(inc2, 2, 1);
    s_dispatch(2, 0, "kv.put", put2, 2, 2);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 2);
    s_expect_kv_int("k", 2);
    ck_assert(stor_executor_accepted(s_ex));

    /* The new incarnation was persisted. */
    stor_executor_destroy(&s_ex);
    stor_engine_destroy(&s_eng);
    s_eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(s_eng);
    ck_assert_uint_eq(stor_engine_incarnation(s_eng), inc2 + 1);
}
END_TEST

START_TEST(test_executor_micro_rmw)
{
    s_start(0, 1);
    uint64_t inc = stor_executor_incarnation(s_ex);
    hb_val_t ids[HB_MICRO_KEYS];
    for (int i = 0; i < HB_MICRO_KEYS; i++)
        ids[i] = hb_val_int(i * 3);
    s_epoch_msg(inc, 1, 1);
    s_dispatch(1, 0, "micro.rmw", ids, HB_MICRO_KEYS, 1);
    s_epoch_msg(inc, 2, 1);
    s_dispatch(2, 0, "micro.rmw", ids, HB_MICRO_KEYS, 2);
    s_expect_nil(1);
    s_expect_nil(2);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_eng), 2);
    for (int i = 0; i < HB_MICRO_KEYS; i++) {
        hb_key_t k;
        hb_key_micro(&k, i * 3);
        s_expect_stored_int(k.buf, k.len, 2);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Several executors                                                   */
/* ------------------------------------------------------------------ */

#define S_MAXPEERS 3

/* One storage node of a multi-partition test. */
typedef struct {
    bool up;             /* executor running */
    uint16_t part;       /* its partition */
    bool mute;           /* its storage-bound frames are not routed */
    s_world_t world;     /* what it sent */
    hb_env_t env;        /* env over world */
    char dir[256];       /* its LevelDB */
    stor_engine_t *eng;  /* its engine */
    stor_executor_t *ex; /* its executor */
    size_t routed;       /* frames of world already routed */
} s_peer_t;

static s_peer_t s_peers[S_MAXPEERS];
static uint32_t s_npeers;   /* peers made */
static uint32_t s_mp_parts; /* partitions of the cluster */

/* (Re)starts peer i: opens its engine and a new executor. */
static void
s_peer_up(uint32_t i)
{
    s_peer_t *p = &s_peers[i];
    p->eng = stor_engine_open(p->dir);
    ck_assert_ptr_nonnull(p->eng);
    p->env = s_env;
    p->env.ctx = &p->world;
    p->ex = stor_executor_new(p->eng, hb_node(HB_ROLE_STORAGE, 0, p->part), s_mp_parts,
                              &s_lim, &p->env);
    ck_assert_ptr_nonnull(p->ex);
    p->up = true;
}

/* Crashes peer i: executor and engine gone, unflushed epochs lost. */
static void
s_peer_down(uint32_t i)
{
    s_peer_t *p = &s_peers[i];
    stor_executor_destroy(&p->ex);
    stor_engine_destroy(&p->eng);
    p->up = false;
}

/* Makes n peers of an nparts cluster; peer i is partition parts[i]. */
static void
s_peers_start(uint32_t n, uint32_t nparts, const uint16_t *parts)
{
    s_npeers = n;
    s_mp_parts = nparts;
    for (uint32_t i = 0; i < n; i++) {
        s_peer_t *p = &s_peers[i];
        memset(p, 0, sizeof *p);
        p->part = parts[i];
        snprintf(p->dir, sizeof p->dir, "/tmp/hobbes-test-executor-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(p->dir));
        s_peer_up(i);
    }
}

static void
s_peer_clear(s_peer_t *p)
{
    for (size_t i = 0; i < p->world.nsent; i++)
        hb_free(p->world.sent[i].frame);
    p->world.nsent = 0;
    p->routed = 0;
}

static void
s_peers_stop(void)
{
    for (uint32_t i = 0; i < s_npeers; i++) {
        s_peer_t *p = &s_peers[i];
        s_peer_down(i);
        s_peer_clear(p);
        hb_free(p->world.sent);
        leveldb_options_t *opts = leveldb_options_create();
        char *err = NULL;
        leveldb_destroy_db(opts, p->dir, &err);
        leveldb_free(err);
        leveldb_options_destroy(opts);
        rmdir(p->dir);
    }
    s_npeers = 0;
}

/* Delivers one frame to peer i. */
static void
s_deliver(uint32_t i, const void *frame, size_t len)
{
    hb_msg_t m;
    ck_assert_int_eq(hb_msg_decode(frame, len, &s_lim, &m), HB_OK);
    stor_executor_on_message(s_peers[i].ex, &m);
    hb_msg_clear(&m);
}

/* Routes every storage-bound frame not routed yet to the running peers of
 * its partition, until nothing new is sent. Returns frames delivered. */
static size_t
s_route(void)
{
    size_t delivered = 0;
    bool more = true;
    while (more) {
        more = false;
        for (uint32_t i = 0; i < s_npeers; i++) {
            s_peer_t *p = &s_peers[i];
            while (p->routed < p->world.nsent) {
                s_sent_t f = p->world.sent[p->routed++];
                if (p->mute || f.to.role != HB_ROLE_STORAGE)
                    continue;
                for (uint32_t j = 0; j < s_npeers; j++) {
                    if (j == i || !s_peers[j].up || s_peers[j].part != f.to.partition)
                        continue;
                    s_deliver(j, f.frame, f.len);
                    delivered++;
                    more = true;
                }
            }
        }
    }
    return delivered;
}

/* Marks every frame sent so far as routed (dropped). */
static void
s_drop_unrouted(void)
{
    for (uint32_t i = 0; i < s_npeers; i++)
        s_peers[i].routed = s_peers[i].world.nsent;
}

/* Returns the frame index of the first frame of type sent by peer i from
 * frame `from` on, or SIZE_MAX. */
static size_t
s_find_sent(uint32_t i, hb_msg_type_t type, size_t from)
{
    for (size_t k = from; k < s_peers[i].world.nsent; k++) {
        hb_msg_t m;
        ck_assert_int_eq(hb_msg_decode(s_peers[i].world.sent[k].frame,
                                       s_peers[i].world.sent[k].len, &s_lim, &m),
                         HB_OK);
        bool hit = m.type == type;
        hb_msg_clear(&m);
        if (hit)
            return k;
    }
    return SIZE_MAX;
}

/* Counts frames of type sent by peer i (REPLY/DONE: only those matching
 * req / epoch-group-index when nonzero). */
static size_t
s_peer_count(uint32_t i, hb_msg_type_t type)
{
    size_t n = 0;
    for (size_t k = 0; k < s_peers[i].world.nsent; k++) {
        hb_msg_t m;
        ck_assert_int_eq(hb_msg_decode(s_peers[i].world.sent[k].frame,
                                       s_peers[i].world.sent[k].len, &s_lim, &m),
                         HB_OK);
        n += m.type == type;
        hb_msg_clear(&m);
    }
    return n;
}

/* Decodes the only REPLY peer i sent for req into *out (caller clears). */
static void
s_peer_reply(uint32_t i, uint64_t req, hb_msg_t *out)
{
    size_t found = SIZE_MAX;
    for (size_t k = 0; k < s_peers[i].world.nsent; k++) {
        hb_msg_t m;
        ck_assert_int_eq(hb_msg_decode(s_peers[i].world.sent[k].frame,
                                       s_peers[i].world.sent[k].len, &s_lim, &m),
                         HB_OK);
        if (m.type == HB_MSG_REPLY && m.u.result.req_id == req) {
            ck_assert_uint_eq(found, SIZE_MAX);
            found = k;
            ck_assert_uint_eq(s_peers[i].world.sent[k].to.role, HB_ROLE_SEQUENCER);
        }
        hb_msg_clear(&m);
    }
    ck_assert_uint_ne(found, SIZE_MAX);
    ck_assert_int_eq(hb_msg_decode(s_peers[i].world.sent[found].frame,
                                   s_peers[i].world.sent[found].len, &s_lim, out),
                     HB_OK);
}

/* Returns true if peer i sent DONE for (epoch, group, index). */
static bool
s_peer_done(uint32_t i, uint64_t epoch, uint16_t group, uint32_t index)
{
    bool found = false;
    for (size_t k = 0; k < s_peers[i].world.nsent; k++) {
        hb_msg_t m;
        ck_assert_int_eq(hb_msg_decode(s_peers[i].world.sent[k].frame,
                                       s_peers[i].world.sent[k].len, &s_lim, &m),
                         HB_OK);
        if (m.type == HB_MSG_DONE && m.u.done.epoch == epoch && m.u.done.group == group &&
            m.u.done.index == index) {
            ck_assert_uint_eq(s_peers[i].world.sent[k].to.role, HB_ROLE_SCHEDULER);
            ck_assert_uint_eq(s_peers[i].world.sent[k].to.partition, s_peers[i].part);
            found = true;
        }
        hb_msg_clear(&m);
    }
    return found;
}

static void
s_peer_epoch(uint32_t i, uint64_t epoch, uint32_t n)
{
    hb_msg_t m = {.type = HB_MSG_EPOCH};
    m.u.epoch.incarnation = stor_executor_incarnation(s_peers[i].ex);
    m.u.epoch.epoch = epoch;
    m.u.epoch.ntxns = n;
    stor_executor_on_message(s_peers[i].ex, &m);
}

static void
s_peer_raw(uint32_t i, uint64_t epoch, uint16_t group, uint32_t index, const s_txn_t *t)
{
    hb_msg_t m = {.type = HB_MSG_DISPATCH};
    m.u.dispatch.incarnation = stor_executor_incarnation(s_peers[i].ex);
    m.u.dispatch.epoch = epoch;
    m.u.dispatch.group = group;
    m.u.dispatch.index = index;
    m.u.dispatch.raw = (const uint8_t *)t->sbuf.data;
    m.u.dispatch.raw_len = t->sbuf.size;
    stor_executor_on_message(s_peers[i].ex, &m);
}

/* Plans proc(args) and dispatches it to peer i at (epoch, 0, index). */
static void
s_peer_call(uint32_t i, uint64_t epoch, uint32_t index, const char *proc,
            const hb_val_t *args, uint32_t nargs, uint64_t req)
{
    s_txn_t t;
    s_txn(&t, proc, args, nargs, req, 0, s_mp_parts);
    s_peer_raw(i, epoch, 0, index, &t);
    msgpack_sbuffer_destroy(&t.sbuf);
}

/* Writes to name (cap bytes) the n-th kv key name "<prefix><k>" that falls
 * on partition part of nparts. */
static void
s_key_on(char *name, size_t cap, const char *prefix, uint32_t part, uint32_t nparts,
         int nth)
{
    for (int i = 0; i < 10000; i++) {
        hb_key_t k;
        snprintf(name, cap, "%s%d", prefix, i);
        hb_key_kv(&k, name, strlen(name));
        if (hb_key_partition(k.buf, k.len, nparts) == part && nth-- == 0)
            return;
    }
    ck_abort_msg("no key on partition %u", part);
}

/* Asserts peer i's engine holds kv name = [want]. */
static void
s_peer_int(uint32_t i, const char *name, int64_t want)
{
    stor_engine_t *save = s_eng;
    s_eng = s_peers[i].eng;
    s_expect_kv_int(name, want);
    s_eng = save;
}

/* Asserts peer i's engine has no kv name. */
static void
s_peer_absent(uint32_t i, const char *name)
{
    hb_key_t k;
    uint8_t *val = NULL;
    size_t vlen = 0;
    hb_key_kv(&k, name, strlen(name));
    ck_assert_int_eq(
        stor_engine_get(s_peers[i].eng, k.buf, k.len, NULL, NULL, &val, &vlen),
        HB_NOTFOUND);
}

static stor_exec_stats_t
s_peer_stats(uint32_t i)
{
    stor_exec_stats_t st;
    stor_executor_stats(s_peers[i].ex, &st);
    return st;
}

/* Two partitions; a on 0 with balance abal, b on 1 with bbal (epoch 1,
 * flushed). Frames of that set-up are cleared. */
static void
s_bank(char *a, char *b, int64_t abal, int64_t bbal)
{
    static const uint16_t parts[] = {0, 1};
    s_peers_start(2, 2, parts);
    s_key_on(a, 16, "acct", 0, 2, 0);
    s_key_on(b, 16, "acct", 1, 2, 0);
    hb_val_t pa[] = {S_STR(a), hb_val_int(abal)};
    hb_val_t pb[] = {S_STR(b), hb_val_int(bbal)};
    s_peer_call(0, 1, 0, "kv.put", pa, 2, 1);
    s_peer_call(1, 1, 1, "kv.put", pb, 2, 2);
    s_peer_epoch(0, 1, 1);
    s_peer_epoch(1, 1, 1);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[0].eng), 1);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[1].eng), 1);
    s_route();
    for (uint32_t i = 0; i < s_npeers; i++)
        s_peer_clear(&s_peers[i]);
}

START_TEST(test_executor_mp_transfer)
{
    char a[16], b[16];
    s_bank(a, b, 50, 5);
    hb_val_t x[] = {S_STR(a), S_STR(b), hb_val_int(20)};
    s_peer_epoch(0, 2, 1);
    s_peer_epoch(1, 2, 1);

    /* Each side reads, sends its reads to the other executor, and parks. */
    s_peer_call(0, 2, 0, "kv.transfer", x, 3, 10);
    ck_assert_uint_eq(stor_executor_parked(s_peers[0].ex), 1);
    s_peer_call(1, 2, 0, "kv.transfer", x, 3, 10);
    ck_assert_uint_eq(stor_executor_parked(s_peers[1].ex), 1);
    ck_assert_uint_eq(s_peer_count(0, HB_MSG_DONE) + s_peer_count(1, HB_MSG_DONE), 0);
    ck_assert_uint_eq(s_route(), 2);

    /* Only the reply partition (lowest writer: 0) replies. */
    hb_msg_t m;
    s_peer_reply(0, 10, &m);
    ck_assert_uint_eq(m.u.result.rc, HB_OK);
    ck_assert_uint_eq(m.u.result.epoch, 2);
    ck_assert_uint_eq(m.u.result.nvals, 2);
    ck_assert_int_eq(m.u.result.vals[0].u.i, 30);
    ck_assert_int_eq(m.u.result.vals[1].u.i, 25);
    hb_msg_clear(&m);
    ck_assert_uint_eq(s_peer_count(1, HB_MSG_REPLY), 0);
    ck_assert(s_peer_done(0, 2, 0, 0));
    ck_assert(s_peer_done(1, 2, 0, 0));

    /* Each side applied its own half, flushed, and the total is kept. */
    for (uint32_t i = 0; i < 2; i++) {
        ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[i].eng), 2);
        ck_assert_uint_eq(stor_executor_parked(s_peers[i].ex), 0);
        stor_exec_stats_t st = s_peer_stats(i);
        ck_assert_uint_eq(st.executed, 2);
        ck_assert_uint_eq(st.rreads_sent, 1);
        ck_assert_uint_eq(st.rreads_received, 1);
        uint64_t scan = 0;
        ck_assert_int_eq(stor_engine_scan_hash(s_peers[i].eng, &scan), HB_OK);
        ck_assert_uint_eq(scan, stor_engine_state_hash(s_peers[i].eng));
    }
    s_peer_int(0, a, 30);
    s_peer_int(1, b, 25);
    s_peer_absent(0, b);
    s_peer_absent(1, a);
}
END_TEST

START_TEST(test_executor_mp_insufficient_funds)
{
    char a[16], b[16];
    s_bank(a, b, 10, 0);
    uint64_t h0 = stor_engine_state_hash(s_peers[0].eng);
    uint64_t h1 = stor_engine_state_hash(s_peers[1].eng);
    hb_val_t x[] = {S_STR(a), S_STR(b), hb_val_int(11)};
    s_peer_epoch(0, 2, 1);
    s_peer_epoch(1, 2, 1);
    s_peer_call(1, 2, 0, "kv.transfer", x, 3, 11);
    s_peer_call(0, 2, 0, "kv.transfer", x, 3, 11);
    s_route();

    hb_msg_t m;
    s_peer_reply(0, 11, &m);
    ck_assert_uint_eq(m.u.result.rc, HB_ABORTED);
    ck_assert_uint_eq(m.u.result.nvals, 0);
    ck_assert_mem_eq(m.u.result.msg, "kv.transfer: insufficient funds",
                     m.u.result.msg_len);
    hb_msg_clear(&m);
    ck_assert_uint_eq(s_peer_count(1, HB_MSG_REPLY), 0);
    for (uint32_t i = 0; i < 2; i++) {
        ck_assert(s_peer_done(i, 2, 0, 0));
        ck_assert_uint_eq(s_peer_stats(i).aborted, 1);
        ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[i].eng), 2);
    }
    ck_assert_uint_eq(stor_engine_state_hash(s_peers[0].eng), h0);
    ck_assert_uint_eq(stor_engine_state_hash(s_peers[1].eng), h1);
    s_peer_int(0, a, 10);
    s_peer_int(1, b, 0);
}
END_TEST

START_TEST(test_executor_mp_rread_early_duplicate_stale)
{
    char a[16], b[16];
    s_bank(a, b, 100, 0);
    hb_val_t x[] = {S_STR(a), S_STR(b), hb_val_int(40)};

    /* Partition 1 gets its DISPATCH first; its RREAD reaches partition 0
     * before partition 0's locks are granted, and then once more. */
    s_peer_call(1, 2, 0, "kv.transfer", x, 3, 12);
    size_t f = s_find_sent(1, HB_MSG_RREAD, 0);
    ck_assert_uint_ne(f, SIZE_MAX);
    uint8_t *rread =
        hb_memdup(s_peers[1].world.sent[f].frame, s_peers[1].world.sent[f].len);
    size_t rlen = s_peers[1].world.sent[f].len;
    s_route();
    ck_assert_uint_eq(stor_executor_early_rreads(s_peers[0].ex), 1);
    ck_assert_uint_eq(stor_executor_parked(s_peers[0].ex), 0);
    s_deliver(0, rread, rlen);
    ck_assert_uint_eq(s_peer_stats(0).rread_duplicates, 1);
    ck_assert_uint_eq(stor_executor_early_rreads(s_peers[0].ex), 1);

    /* The DISPATCH finds every read present and runs at once. */
    s_peer_call(0, 2, 0, "kv.transfer", x, 3, 12);
    ck_assert_uint_eq(stor_executor_parked(s_peers[0].ex), 0);
    ck_assert_uint_eq(stor_executor_early_rreads(s_peers[0].ex), 0);
    ck_assert(s_peer_done(0, 2, 0, 0));
    s_route();
    ck_assert(s_peer_done(1, 2, 0, 0));

    /* Done but not flushed yet: a late copy is a duplicate; after the
     * flush it is stale. Neither changes anything. */
    s_deliver(0, rread, rlen);
    ck_assert_uint_eq(s_peer_stats(0).rread_duplicates, 2);
    ck_assert_uint_eq(stor_executor_early_rreads(s_peers[0].ex), 0);
    s_peer_epoch(0, 2, 1);
    s_peer_epoch(1, 2, 1);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[0].eng), 2);
    s_deliver(0, rread, rlen);
    ck_assert_uint_eq(s_peer_stats(0).rread_stale, 1);
    ck_assert_uint_eq(s_peer_stats(0).rreads_received, 1);
    ck_assert_uint_eq(stor_executor_early_rreads(s_peers[0].ex), 0);
    hb_free(rread);

    hb_msg_t m;
    s_peer_reply(0, 12, &m);
    ck_assert_uint_eq(m.u.result.rc, HB_OK);
    ck_assert_int_eq(m.u.result.vals[0].u.i, 60);
    ck_assert_int_eq(m.u.result.vals[1].u.i, 40);
    hb_msg_clear(&m);
    s_peer_int(0, a, 60);
    s_peer_int(1, b, 40);
}
END_TEST

START_TEST(test_executor_mp_passive_participant)
{
    /* kv.add on a (partition 0, write) with a read lock on c (partition
     * 1): partition 1 only reads, so it sends its reads and finishes. */
    static const uint16_t parts[] = {0, 1, 2};
    s_peers_start(3, 3, parts);
    char a[16], c[16];
    s_key_on(a, sizeof a, "k", 0, 3, 0);
    s_key_on(c, sizeof c, "k", 1, 3, 0);
    hb_val_t args[] = {S_STR(a), hb_val_int(5)};
    const hb_proc_def_t *def = hb_proc_find("kv.add", 6);
    hb_lockset_t ls;
    char err[128];
    hb_lockset_init(&ls);
    ck_assert_int_eq(hb_proc_plan(def, args, 2, 3, &ls, err, sizeof err), HB_OK);
    hb_key_t ck;
    hb_key_kv(&ck, c, strlen(c));
    hb_lockset_add(&ls, 1, HB_LOCK_READ, ck.buf, ck.len);
    hb_txn_t txn = {.client_id = 7,
                    .req_id = 20,
                    .proc = "kv.add",
                    .proc_len = 6,
                    .nargs = 2,
                    .args = args,
                    .nlocks = ls.n,
                    .locks = ls.locks};
    s_txn_t t;
    msgpack_packer pk;
    msgpack_sbuffer_init(&t.sbuf);
    msgpack_packer_init(&pk, &t.sbuf, msgpack_sbuffer_write);
    ck_assert_int_eq(hb_txn_pack(&pk, &txn), HB_OK);
    hb_lockset_clear(&ls);

    s_peer_epoch(0, 1, 1);
    s_peer_epoch(1, 1, 1);
    s_peer_raw(0, 1, 0, 0, &t);
    ck_assert_uint_eq(stor_executor_parked(s_peers[0].ex), 1);
    ck_assert_uint_eq(s_find_sent(0, HB_MSG_RREAD, 0), SIZE_MAX); /* no other executor */

    /* A RREAD from partition 2, which takes no part, is dropped. */
    hb_msg_t fake = {.type = HB_MSG_RREAD};
    fake.u.rread.epoch = 1;
    fake.u.rread.from = 2;
    stor_executor_on_message(s_peers[0].ex, &fake);
    ck_assert_uint_eq(s_peer_stats(0).rread_bad, 1);
    ck_assert_uint_eq(stor_executor_parked(s_peers[0].ex), 1);

    /* The passive side is done right after sending its reads. */
    s_peer_raw(1, 1, 0, 0, &t);
    msgpack_sbuffer_destroy(&t.sbuf);
    ck_assert(s_peer_done(1, 1, 0, 0));
    ck_assert_uint_eq(s_peer_stats(1).passive, 1);
    ck_assert_uint_eq(s_peer_stats(1).executed, 0);
    ck_assert_uint_eq(stor_executor_parked(s_peers[1].ex), 0);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[1].eng), 1);
    ck_assert_uint_eq(s_peer_count(1, HB_MSG_REPLY), 0);
    size_t f = s_find_sent(1, HB_MSG_RREAD, 0);
    ck_assert_uint_ne(f, SIZE_MAX);
    ck_assert_uint_eq(s_peers[1].world.sent[f].to.partition, 0);
    ck_assert_uint_eq(s_find_sent(1, HB_MSG_RREAD, f + 1), SIZE_MAX);

    ck_assert_uint_eq(s_route(), 1);
    ck_assert(s_peer_done(0, 1, 0, 0));
    hb_msg_t m;
    s_peer_reply(0, 20, &m);
    ck_assert_uint_eq(m.u.result.rc, HB_OK);
    ck_assert_int_eq(m.u.result.vals[0].u.i, 5);
    hb_msg_clear(&m);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[0].eng), 1);
    s_peer_int(0, a, 5);
}
END_TEST

START_TEST(test_executor_mp_flush_waits_for_parked)
{
    char a[16], b[16], a2[16];
    s_bank(a, b, 50, 0);
    s_key_on(a2, sizeof a2, "acct", 0, 2, 1);
    hb_val_t x[] = {S_STR(a), S_STR(b), hb_val_int(1)};
    hb_val_t add[] = {S_STR(a2), hb_val_int(1)};
    s_peer_epoch(0, 2, 2);
    s_peer_call(0, 2, 0, "kv.transfer", x, 3, 30);
    s_peer_call(0, 2, 1, "kv.add", add, 2, 31);
    ck_assert(s_peer_done(0, 2, 0, 1));
    ck_assert(!s_peer_done(0, 2, 0, 0));
    ck_assert_uint_eq(stor_executor_parked(s_peers[0].ex), 1);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[0].eng), 1);
    ck_assert_uint_eq(stor_executor_pending_epochs(s_peers[0].ex), 1);

    s_peer_epoch(1, 2, 1);
    s_peer_call(1, 2, 0, "kv.transfer", x, 3, 30);
    s_route();
    ck_assert(s_peer_done(0, 2, 0, 0));
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[0].eng), 2);
    s_peer_int(0, a, 49);
    s_peer_int(0, a2, 1);
    s_peer_int(1, b, 1);
}
END_TEST

/* Sends RESET for peer i's current incarnation (the scheduler accepted it). */
static void
s_peer_reset(uint32_t i)
{
    hb_msg_t m = {.type = HB_MSG_RESET};
    m.u.hello.incarnation = stor_executor_incarnation(s_peers[i].ex);
    stor_executor_on_message(s_peers[i].ex, &m);
}

START_TEST(test_executor_mp_recovery_from_rrlog)
{
    /* Peer 0 = A (partition 0), peer 1 = B (partition 1), peer 2 = a twin
     * of A (partition 0 of another replica) that never crashes. */
    static const uint16_t parts[] = {0, 1, 0};
    s_peers_start(3, 2, parts);
    s_peers[2].mute = true;
    char a[16], b[16];
    s_key_on(a, sizeof a, "acct", 0, 2, 0);
    s_key_on(b, sizeof b, "acct", 1, 2, 0);
    hb_val_t pa[] = {S_STR(a), hb_val_int(100)};
    hb_val_t pb[] = {S_STR(b), hb_val_int(100)};
    hb_val_t x[] = {S_STR(a), S_STR(b), hb_val_int(10)};
    hb_val_t y[] = {S_STR(b), S_STR(a), hb_val_int(3)};
    for (uint32_t i = 0; i < 3; i++) {
        s_peer_reset(i);
        s_peer_call(i, 1, 0, "kv.put", s_peers[i].part ? pb : pa, 2, 1);
        s_peer_epoch(i, 1, 1);
    }
    s_drop_unrouted(); /* the RREQs of the first RESETs */

    /* Epoch 2: two transfers everywhere (the second waits for the first's
     * locks, as a scheduler makes it); A does not flush before it dies. */
    for (uint32_t i = 0; i < 3; i++)
        s_peer_call(i, 2, 0, "kv.transfer", x, 3, 2);
    s_route();
    for (uint32_t i = 0; i < 3; i++)
        s_peer_call(i, 2, 1, "kv.transfer", y, 3, 3);
    s_route();
    s_peer_epoch(1, 2, 2);
    s_peer_epoch(2, 2, 2);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[1].eng), 2);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[2].eng), 2);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[0].eng), 1);
    s_peer_int(0, a, 93);
    s_peer_int(2, a, 93);
    uint64_t want = stor_engine_state_hash(s_peers[2].eng);

    /* A crashes (epoch 2 lost); B restarts too, so its log is read from disk. */
    s_peer_down(0);
    s_peer_down(1);
    s_peer_up(1);
    ck_assert_uint_eq(stor_executor_rrlog_entries(s_peers[1].ex), 2);
    s_peer_up(0);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[0].eng), 1);
    s_peer_int(0, a, 100);
    s_drop_unrouted();

    /* RESET: A asks B for what B sent it from epoch 2 on. */
    s_peer_reset(0);
    s_route();
    ck_assert_uint_eq(s_peer_stats(1).rreq_served, 1);
    ck_assert_uint_eq(s_peer_stats(1).rreads_resent, 2);
    ck_assert_uint_eq(stor_executor_early_rreads(s_peers[0].ex), 2);

    /* The replay of epoch 2 runs without B executing anything again. */
    s_peer_epoch(0, 2, 2);
    s_peer_call(0, 2, 0, "kv.transfer", x, 3, 2);
    s_peer_call(0, 2, 1, "kv.transfer", y, 3, 3);
    ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[0].eng), 2);
    ck_assert_uint_eq(stor_engine_state_hash(s_peers[0].eng), want);
    uint64_t scan = 0;
    ck_assert_int_eq(stor_engine_scan_hash(s_peers[0].eng, &scan), HB_OK);
    ck_assert_uint_eq(scan, want);
    s_peer_int(0, a, 93);
    s_peer_int(1, b, 107);
    s_route(); /* A's resent reads are stale for B */
    ck_assert_uint_eq(s_peer_stats(1).rread_stale, 2);
    ck_assert_uint_eq(s_peer_stats(1).executed, 0);
}
END_TEST

/* Returns the APPLIED timer token peer i armed. */
static uint64_t
s_applied_token(uint32_t i)
{
    for (size_t k = 0; k < s_peers[i].world.ntimers; k++)
        if (s_peers[i].world.delays[k] == STOR_APPLIED_INTERVAL_US)
            return s_peers[i].world.timers[k];
    ck_abort_msg("no APPLIED timer");
    return 0;
}

START_TEST(test_executor_mp_applied_truncates_rrlog)
{
    char a[16], b[16];
    s_bank(a, b, 10, 10);
    hb_val_t x[] = {S_STR(a), S_STR(b), hb_val_int(1)};
    s_peer_call(0, 2, 0, "kv.transfer", x, 3, 40);
    s_peer_call(1, 2, 0, "kv.transfer", x, 3, 40);
    s_route();

    /* Unflushed: the log is in memory, and an RREQ is served from there. */
    ck_assert_uint_eq(stor_executor_rrlog_entries(s_peers[1].ex), 1);
    hb_msg_t rq = {.type = HB_MSG_RREQ};
    rq.u.rreq.partition = 0;
    rq.u.rreq.epoch = 2;
    size_t before = s_peers[1].world.nsent;
    stor_executor_on_message(s_peers[1].ex, &rq);
    ck_assert_uint_eq(s_peer_stats(1).rreads_resent, 1);
    ck_assert_uint_ne(s_find_sent(1, HB_MSG_RREAD, before), SIZE_MAX);
    s_route(); /* a duplicate for A */
    ck_assert_uint_eq(s_peer_stats(0).rread_duplicates, 1);

    s_peer_epoch(0, 2, 1);
    s_peer_epoch(1, 2, 1);
    ck_assert_uint_eq(stor_executor_rrlog_entries(s_peers[0].ex), 1);
    ck_assert_uint_eq(stor_executor_rrlog_entries(s_peers[1].ex), 1);

    /* Each reports its applied epoch; the other drops what it logged. */
    for (uint32_t i = 0; i < 2; i++) {
        uint64_t token = s_applied_token(i);
        stor_executor_on_timer(s_peers[i].ex, token);
        stor_executor_on_timer(s_peers[i].ex, token); /* again: stages nothing more */
    }
    ck_assert_uint_eq(s_route(), 4);
    ck_assert_uint_eq(s_peer_stats(0).applied_sent, 2);
    for (uint32_t i = 0; i < 2; i++) {
        ck_assert_uint_eq(stor_engine_staged(s_peers[i].eng), 1);
        s_peer_epoch(i, 3, 0); /* the next flush writes the deletes */
        ck_assert_uint_eq(stor_engine_applied_epoch(s_peers[i].eng), 3);
        ck_assert_uint_eq(stor_engine_staged(s_peers[i].eng), 0);
        ck_assert_uint_eq(stor_executor_rrlog_entries(s_peers[i].ex), 0);
    }

    /* A later transaction is logged again, and an APPLIED that covers its
     * epoch before the flush drops it from memory: it never reaches disk. */
    s_peer_call(0, 4, 0, "kv.transfer", x, 3, 41);
    s_peer_call(1, 4, 0, "kv.transfer", x, 3, 41);
    s_route();
    ck_assert_uint_eq(stor_executor_rrlog_entries(s_peers[1].ex), 1);
    hb_msg_t ap = {.type = HB_MSG_APPLIED};
    ap.u.rreq.partition = 0;
    ap.u.rreq.epoch = 4;
    stor_executor_on_message(s_peers[1].ex, &ap);
    ck_assert_uint_eq(stor_executor_rrlog_entries(s_peers[1].ex), 0);
    s_peer_epoch(1, 4, 1);
    ck_assert_uint_eq(stor_executor_rrlog_entries(s_peers[1].ex), 0);
    s_peer_int(1, b, 12);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("executor");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_executor_kv_results", test_executor_kv_results},
        {"test_executor_transfer_insufficient_funds",
         test_executor_transfer_insufficient_funds},
        {"test_executor_epoch_flush_waits_for_all_txns",
         test_executor_epoch_flush_waits_for_all_txns},
        {"test_executor_stale_incarnation_ignored",
         test_executor_stale_incarnation_ignored},
        {"test_executor_resync_discards_unflushed",
         test_executor_resync_discards_unflushed},
        {"test_executor_micro_rmw", test_executor_micro_rmw},
        {"test_executor_mp_transfer", test_executor_mp_transfer},
        {"test_executor_mp_insufficient_funds", test_executor_mp_insufficient_funds},
        {"test_executor_mp_rread_early_duplicate_stale",
         test_executor_mp_rread_early_duplicate_stale},
        {"test_executor_mp_passive_participant", test_executor_mp_passive_participant},
        {"test_executor_mp_flush_waits_for_parked",
         test_executor_mp_flush_waits_for_parked},
        {"test_executor_mp_recovery_from_rrlog", test_executor_mp_recovery_from_rrlog},
        {"test_executor_mp_applied_truncates_rrlog",
         test_executor_mp_applied_truncates_rrlog},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, s_setup, s_teardown);
        tcase_add_test(tc, cases[i].fn);
        suite_add_tcase(s, tc);
    }
    return s;
}

int
main(void)
{
    return hb_test_run(s_suite());
}
