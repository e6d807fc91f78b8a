/* test_policy.c — scheduler policies (scheduler/policy.h): calvin and serial.
 *
 * Every case runs against both built-in policies through their ops table.
 * The randomised workload submits thousands of transactions with random
 * read/write sets over a dozen keys (heavy conflicts), completing ready ones
 * in random order, and checks after every step that the ready set is
 * exactly what the policy's rule allows: conflicting transactions run in
 * global order, nothing deadlocks, readers share under calvin, and
 * transactions readied by one call come out in global order.
 * Seeded: prints its seed, honours HOBBES_SEED.
 */
#include <check.h>

#include "../hb_test.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_txn.h"
#include "policy.h"

#define T_MAX_LOCKS 6
#define T_NKEYS     12

static const sched_policy_ops_t *t_policies[2];

/* ---------------------------------------------------------------------------
 * Harness
 */

typedef struct {
    sched_txn_t st;                  /* what the policy sees */
    sched_lock_t locks[T_MAX_LOCKS]; /* its locks */
    char keys[T_MAX_LOCKS][24];      /* key bytes */
    uint32_t kidx[T_MAX_LOCKS];      /* key number of each lock */
    uint32_t id;                     /* position in global order */
    uint32_t rmask;                  /* keys read (bit per key) */
    uint32_t wmask;                  /* keys written */
    bool submitted, ready, completed;
} t_txn_t;

typedef struct {
    const sched_policy_ops_t *ops;
    void *state;
    t_txn_t *txns;
    uint32_t n;
    uint32_t *readyv; /* ready and not completed, in ready order */
    uint32_t nready;
    int64_t last_in_call; /* id of the last txn readied by the current call */
    uint32_t *log;        /* ids in ready order over the whole run */
    uint32_t nlog;
} t_ctx_t;

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

static uint64_t
t_seed(void)
{
    uint64_t seed = hb_test_seed("test_policy");
    t_rng = seed;
    return seed;
}

static bool
t_conflict(const t_txn_t *a, const t_txn_t *b)
{
    uint32_t aa = a->rmask | a->wmask, ab = b->rmask | b->wmask;
    return (a->wmask & ab) || (b->wmask & aa);
}

static void
t_ready(void *ctx, sched_txn_t *st)
{
    t_ctx_t *c = ctx;
    t_txn_t *t = st->user;
    ck_assert_msg(t->submitted, "txn %u ready before submit", t->id);
    ck_assert_msg(!t->ready, "txn %u made ready twice", t->id);
    ck_assert_msg(!t->completed, "txn %u ready after complete", t->id);
    /* (d) one call hands out its ready txns in global order */
    ck_assert_msg((int64_t)t->id > c->last_in_call,
                  "txn %u ready after txn %lld in one call", t->id,
                  (long long)c->last_in_call);
    c->last_in_call = t->id;
    /* (a) every earlier conflicting txn has completed */
    for (uint32_t j = 0; j < t->id; j++)
        if (t_conflict(&c->txns[j], t))
            ck_assert_msg(c->txns[j].completed,
                          "txn %u ready while conflicting txn %u runs", t->id, j);
    t->ready = true;
    c->readyv[c->nready++] = t->id;
    c->log[c->nlog++] = t->id;
}

static void
t_ctx_init(t_ctx_t *c, const sched_policy_ops_t *ops, uint32_t n)
{
    memset(c, 0, sizeof *c);
    c->ops = ops;
    c->n = n;
    c->txns = calloc(n, sizeof *c->txns);
    c->readyv = calloc(n, sizeof *c->readyv);
    c->log = calloc(n, sizeof *c->log);
    sched_policy_env_t env = {
        .ctx = c, .ready = t_ready, .partition = 0, .partitions = 1};
    c->state = ops->create(&env);
    ck_assert_ptr_nonnull(c->state);
}

static void
t_ctx_fini(t_ctx_t *c)
{
    c->ops->destroy(&c->state);
    ck_assert_ptr_null(c->state);
    free(c->txns);
    free(c->readyv);
    free(c->log);
}

/* Position of txn i: walks (epoch, group, index) forward. */
static void
t_position(t_ctx_t *c, uint32_t i)
{
    sched_txn_t *st = &c->txns[i].st;
    if (i == 0) {
        st->epoch = 1;
        st->group = 0;
        st->index = 0;
        return;
    }
    const sched_txn_t *p = &c->txns[i - 1].st;
    st->epoch = p->epoch;
    st->group = p->group;
    st->index = p->index;
    uint64_t r = t_rand() % 10;
    if (r < 6) {
        st->index = p->index + 1 + (uint32_t)(t_rand() % 3);
    } else if (r < 9 && p->group < 2) {
        st->group = (uint16_t)(p->group + 1);
        st->index = (uint32_t)(t_rand() % 2);
    } else {
        st->epoch = p->epoch + 1 + t_rand() % 2;
        st->group = (uint16_t)(t_rand() % 2);
        st->index = 0;
    }
}

/* Adds a lock on key k (0..T_NKEYS-1, or any name) to txn i. */
static void
t_lock(t_ctx_t *c, uint32_t i, uint32_t k, uint8_t mode)
{
    t_txn_t *t = &c->txns[i];
    uint32_t l = t->st.nlocks++;
    ck_assert_uint_lt(l, T_MAX_LOCKS);
    /* Different lengths on purpose; bytes, not C strings, are compared. */
    int len = snprintf(t->keys[l], sizeof t->keys[l], "%s%u", k % 3 ? "key-" : "k", k);
    t->locks[l].key = (const uint8_t *)t->keys[l];
    t->locks[l].len = (uint32_t)len;
    t->locks[l].mode = mode;
    t->kidx[l] = k;
    if (mode == HB_LOCK_WRITE)
        t->wmask |= 1u << k;
    else
        t->rmask |= 1u << k;
}

static void
t_txn_init(t_ctx_t *c, uint32_t i)
{
    t_txn_t *t = &c->txns[i];
    t->id = i;
    t->st.locks = t->locks;
    t->st.user = t;
}

static void
t_submit(t_ctx_t *c, uint32_t i)
{
    c->last_in_call = -1;
    c->txns[i].submitted = true;
    ck_assert_int_eq(c->ops->submit(c->state, &c->txns[i].st), HB_OK);
}

/* Completes the ready txn at readyv[slot]. */
static void
t_complete_slot(t_ctx_t *c, uint32_t slot)
{
    uint32_t id = c->readyv[slot];
    c->readyv[slot] = c->readyv[--c->nready];
    c->txns[id].completed = true;
    c->last_in_call = -1;
    ck_assert_int_eq(c->ops->complete(c->state, &c->txns[id].st), HB_OK);
}

static void
t_complete_id(t_ctx_t *c, uint32_t id)
{
    for (uint32_t s = 0; s < c->nready; s++)
        if (c->readyv[s] == id) {
            t_complete_slot(c, s);
            return;
        }
    ck_abort_msg("txn %u is not ready", id);
}

/* ---------------------------------------------------------------------------
 * Randomised workload
 */

/* The exact ready set each policy must have: calvin readies a txn iff no
 * earlier unfinished txn conflicts with it; serial only the oldest one. */
static void
t_check_ready_set(t_ctx_t *c, const uint32_t *active, uint32_t nactive, bool calvin)
{
    for (uint32_t a = 0; a < nactive; a++) {
        const t_txn_t *t = &c->txns[active[a]];
        bool expect;
        if (calvin) {
            expect = true;
            for (uint32_t b = 0; b < a && expect; b++)
                if (t_conflict(&c->txns[active[b]], t))
                    expect = false;
        } else {
            expect = a == 0;
        }
        ck_assert_msg(t->ready == expect, "%s: txn %u ready=%d, expected %d",
                      c->ops->name, t->id, t->ready, expect);
    }
}

START_TEST(test_policy_random_workload)
{
    const sched_policy_ops_t *ops = t_policies[_i];
    bool calvin = strcmp(ops->name, "calvin") == 0;
    t_seed();
    for (int round = 0; round < 3; round++) {
        uint32_t n = 3000;
        t_ctx_t c;
        t_ctx_init(&c, ops, n);
        for (uint32_t i = 0; i < n; i++) {
            t_txn_init(&c, i);
            t_position(&c, i);
            uint32_t nl = (uint32_t)(t_rand() % 5); /* 0..4, plus maybe an upgrade */
            for (uint32_t l = 0; l < nl; l++)
                t_lock(&c, i, (uint32_t)(t_rand() % T_NKEYS),
                       t_rand() % 3 == 0 ? HB_LOCK_WRITE : HB_LOCK_READ);
            if (nl > 0 && t_rand() % 8 == 0) /* upgrade: first key again, other mode */
                t_lock(&c, i, c.txns[i].kidx[0],
                       c.txns[i].locks[0].mode == HB_LOCK_READ ? HB_LOCK_WRITE
                                                               : HB_LOCK_READ);
        }
        uint32_t *active = calloc(n, sizeof *active);
        uint32_t nactive = 0, next = 0, done = 0;
        uint32_t max_shared = 0;
        while (done < n) {
            bool can_submit = next < n;
            bool do_complete = c.nready > 0 && (!can_submit || t_rand() % 100 < 45);
            if (do_complete) {
                uint32_t slot = (uint32_t)(t_rand() % c.nready);
                uint32_t id = c.readyv[slot];
                t_complete_slot(&c, slot);
                for (uint32_t a = 0; a < nactive; a++)
                    if (active[a] == id) {
                        memmove(active + a, active + a + 1,
                                (nactive - a - 1) * sizeof *active);
                        nactive--;
                        break;
                    }
                done++;
            } else {
                ck_assert_msg(can_submit, "%s: deadlock: %u active, none ready",
                              ops->name, nactive);
                t_submit(&c, next);
                active[nactive++] = next++;
            }
            t_check_ready_set(&c, active, nactive, calvin);
            /* (c) largest number of running txns reading one key */
            for (uint32_t k = 0; k < T_NKEYS; k++) {
                uint32_t readers = 0;
                for (uint32_t s = 0; s < c.nready; s++)
                    if (c.txns[c.readyv[s]].rmask & ~c.txns[c.readyv[s]].wmask &
                        (1u << k))
                        readers++;
                if (readers > max_shared)
                    max_shared = readers;
            }
        }
        /* (b) everything ran exactly once */
        ck_assert_uint_eq(c.nlog, n);
        for (uint32_t i = 0; i < n; i++)
            ck_assert(c.txns[i].completed);
        if (calvin)
            ck_assert_uint_gt(max_shared, 1);
        else
            ck_assert_uint_le(max_shared, 1);
        if (ops->stats) {
            sched_policy_stats_t s;
            ops->stats(c.state, &s);
            ck_assert_uint_eq(s.submitted, n);
            ck_assert_uint_eq(s.completed, n);
            ck_assert_uint_eq(s.waiting, 0);
            ck_assert_uint_eq(s.running, 0);
        }
        free(active);
        t_ctx_fini(&c);
    }
}
END_TEST

/* ---------------------------------------------------------------------------
 * Targeted cases
 */

START_TEST(test_policy_write_after_read)
{
    t_ctx_t c;
    t_ctx_init(&c, t_policies[_i], 2);
    for (uint32_t i = 0; i < 2; i++) {
        t_txn_init(&c, i);
        c.txns[i].st.epoch = 1;
        c.txns[i].st.index = i;
    }
    t_lock(&c, 0, 1, HB_LOCK_READ);
    t_lock(&c, 1, 1, HB_LOCK_WRITE);
    t_submit(&c, 0);
    t_submit(&c, 1);
    ck_assert(c.txns[0].ready);
    ck_assert(!c.txns[1].ready);
    t_complete_id(&c, 0);
    ck_assert(c.txns[1].ready);
    t_complete_id(&c, 1);
    t_ctx_fini(&c);
}
END_TEST

/* which's policy with n txns at epoch 1, group 0, index i. */
static void
t_setup(t_ctx_t *c, int which, uint32_t n)
{
    t_ctx_init(c, t_policies[which], n);
    for (uint32_t i = 0; i < n; i++) {
        t_txn_init(c, i);
        c->txns[i].st.epoch = 1;
        c->txns[i].st.group = 0;
        c->txns[i].st.index = i;
    }
}

static bool
t_is_calvin(int which)
{
    return strcmp(t_policies[which]->name, "calvin") == 0;
}

START_TEST(test_policy_read_after_write)
{
    t_ctx_t c;
    t_setup(&c, _i, 3);
    t_lock(&c, 0, 1, HB_LOCK_WRITE);
    t_lock(&c, 1, 1, HB_LOCK_READ);
    t_lock(&c, 2, 1, HB_LOCK_READ);
    for (uint32_t i = 0; i < 3; i++)
        t_submit(&c, i);
    ck_assert(c.txns[0].ready && !c.txns[1].ready && !c.txns[2].ready);
    t_complete_id(&c, 0);
    ck_assert(c.txns[1].ready);
    ck_assert(c.txns[2].ready == t_is_calvin(_i));
    if (!t_is_calvin(_i)) {
        t_complete_id(&c, 1);
        ck_assert(c.txns[2].ready);
    }
    ck_assert_uint_eq(c.log[1], 1);
    ck_assert_uint_eq(c.log[2], 2);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_policy_upgrade)
{
    t_ctx_t c;
    t_setup(&c, _i, 4);
    t_lock(&c, 0, 1, HB_LOCK_READ);
    t_lock(&c, 1, 1, HB_LOCK_READ); /* read then write the same key */
    t_lock(&c, 1, 1, HB_LOCK_WRITE);
    t_lock(&c, 2, 1, HB_LOCK_READ);
    t_lock(&c, 3, 1, HB_LOCK_WRITE); /* write then read the same key */
    t_lock(&c, 3, 1, HB_LOCK_READ);
    for (uint32_t i = 0; i < 4; i++)
        t_submit(&c, i);
    ck_assert(c.txns[0].ready);
    ck_assert(!c.txns[1].ready && !c.txns[2].ready && !c.txns[3].ready);
    t_complete_id(&c, 0);
    ck_assert(c.txns[1].ready && !c.txns[2].ready);
    t_complete_id(&c, 1);
    ck_assert(c.txns[2].ready && !c.txns[3].ready);
    t_complete_id(&c, 2);
    ck_assert(c.txns[3].ready);
    t_complete_id(&c, 3);
    t_ctx_fini(&c);

    /* An upgrading transaction alone on its key is ready at once and
     * holds the key exclusively. */
    t_setup(&c, _i, 2);
    t_lock(&c, 0, 2, HB_LOCK_READ);
    t_lock(&c, 0, 2, HB_LOCK_WRITE);
    t_lock(&c, 1, 2, HB_LOCK_READ);
    t_submit(&c, 0);
    t_submit(&c, 1);
    ck_assert(c.txns[0].ready && !c.txns[1].ready);
    t_complete_id(&c, 0);
    ck_assert(c.txns[1].ready);
    t_complete_id(&c, 1);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_policy_shared_readers)
{
    t_ctx_t c;
    t_setup(&c, _i, 5);
    for (uint32_t i = 0; i < 5; i++) {
        t_lock(&c, i, 4, HB_LOCK_READ);
        t_lock(&c, i, i + 5, HB_LOCK_WRITE); /* private key too */
        t_submit(&c, i);
    }
    bool calvin = t_is_calvin(_i);
    ck_assert_uint_eq(c.nready, calvin ? 5 : 1);
    /* Readers finish in any order; everything still drains. */
    while (c.nready > 0)
        t_complete_slot(&c, c.nready - 1);
    ck_assert_uint_eq(c.nlog, 5);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_policy_ready_order)
{
    /* T0 writes A then B; T1 waits on B, T2 on A. Releasing T0 visits A
     * first, yet T1 must be handed out before T2. */
    t_ctx_t c;
    t_setup(&c, _i, 3);
    c.txns[1].st.group = 1; /* later group, same epoch */
    c.txns[1].st.index = 0;
    c.txns[2].st.epoch = 2;
    c.txns[2].st.index = 0;
    t_lock(&c, 0, 1, HB_LOCK_WRITE);
    t_lock(&c, 0, 2, HB_LOCK_WRITE);
    t_lock(&c, 1, 2, HB_LOCK_READ);
    t_lock(&c, 2, 1, HB_LOCK_READ);
    for (uint32_t i = 0; i < 3; i++)
        t_submit(&c, i);
    ck_assert_uint_eq(c.nlog, 1);
    t_complete_id(&c, 0);
    ck_assert_uint_eq(c.nlog, t_is_calvin(_i) ? 3 : 2);
    ck_assert_uint_eq(c.log[1], 1);
    if (t_is_calvin(_i))
        ck_assert_uint_eq(c.log[2], 2);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_policy_no_locks)
{
    t_ctx_t c;
    t_setup(&c, _i, 3);
    t_lock(&c, 0, 1, HB_LOCK_WRITE);
    t_submit(&c, 0);
    t_submit(&c, 1); /* no lock on this partition */
    ck_assert(c.txns[1].ready == t_is_calvin(_i));
    t_complete_id(&c, 0);
    ck_assert(c.txns[1].ready);
    t_complete_id(&c, 1);
    t_lock(&c, 2, 1, HB_LOCK_READ);
    t_submit(&c, 2);
    ck_assert(c.txns[2].ready);
    t_complete_id(&c, 2);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_policy_complete_not_ready)
{
    t_ctx_t c;
    t_setup(&c, _i, 2);
    t_lock(&c, 0, 1, HB_LOCK_WRITE);
    t_lock(&c, 1, 1, HB_LOCK_WRITE);
    t_submit(&c, 0);
    t_submit(&c, 1);
    ck_assert_int_eq(c.ops->complete(c.state, &c.txns[1].st), HB_INVALID);
    ck_assert(!c.txns[1].ready);
    t_complete_id(&c, 0);
    ck_assert(c.txns[1].ready);
    t_complete_id(&c, 1);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_policy_destroy_with_waiters)
{
    /* Destroying a busy instance frees its state (valgrind checks). */
    t_ctx_t c;
    t_setup(&c, _i, 50);
    for (uint32_t i = 0; i < 50; i++) {
        t_lock(&c, i, i % 3, i % 2 ? HB_LOCK_WRITE : HB_LOCK_READ);
        t_submit(&c, i);
    }
    ck_assert_uint_gt(c.nready, 0);
    ck_assert_uint_lt(c.nready, 50);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_policy_registry)
{
    ck_assert_ptr_eq(sched_policy_find("calvin"), &sched_policy_calvin);
    ck_assert_ptr_eq(sched_policy_find("serial"), &sched_policy_serial);
    ck_assert_ptr_null(sched_policy_find("nope"));
    ck_assert_ptr_null(sched_policy_find(NULL));
    ck_assert_ptr_eq(sched_policy_resolve("calvin"), &sched_policy_calvin);
    ck_assert_ptr_null(sched_policy_resolve("fifo"));
    /* Paths go to the loader, which fails cleanly. */
    ck_assert_ptr_null(sched_policy_resolve("/nonexistent/policy.so"));
    ck_assert_ptr_null(sched_policy_resolve("nopolicy.so"));
    ck_assert_ptr_null(sched_policy_load("./does/not/exist"));
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(t_policies[i]->abi, SCHED_POLICY_ABI);
        ck_assert_ptr_nonnull(t_policies[i]->create);
        ck_assert_ptr_nonnull(t_policies[i]->destroy);
        ck_assert_ptr_nonnull(t_policies[i]->submit);
        ck_assert_ptr_nonnull(t_policies[i]->complete);
    }
    /* A missing ready callback is refused. */
    sched_policy_env_t env = {0};
    ck_assert_ptr_null(sched_policy_calvin.create(&env));
    ck_assert_ptr_null(sched_policy_serial.create(&env));
}
END_TEST

static Suite *
policy_suite(void)
{
    t_policies[0] = &sched_policy_calvin;
    t_policies[1] = &sched_policy_serial;
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_policy_random_workload, 0, 2);
    tcase_add_loop_test(tc, test_policy_write_after_read, 0, 2);
    tcase_add_loop_test(tc, test_policy_read_after_write, 0, 2);
    tcase_add_loop_test(tc, test_policy_upgrade, 0, 2);
    tcase_add_loop_test(tc, test_policy_shared_readers, 0, 2);
    tcase_add_loop_test(tc, test_policy_ready_order, 0, 2);
    tcase_add_loop_test(tc, test_policy_no_locks, 0, 2);
    tcase_add_loop_test(tc, test_policy_complete_not_ready, 0, 2);
    tcase_add_loop_test(tc, test_policy_destroy_with_waiters, 0, 2);
    tcase_add_test(tc, test_policy_registry);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return hb_test_run(policy_suite());
}
