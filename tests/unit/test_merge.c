/* test_merge.c — the merger (scheduler/merge.h).
 *
 * Batches of three groups (sparse chains, so `since` skips ranges) arrive
 * in random orders with duplicates; the released transactions must be
 * exactly the (epoch, group, index)-sorted sequence. Targeted cases cover
 * gaps held then filled, missing-group detection (the replay epochs),
 * reset to an applied epoch, the pending bound, and bad input.
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

#include "merge.h"

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

static void
t_seed(void)
{
    uint64_t seed = hb_test_seed("test_merge");
    t_rng = seed;
}

/* ---------------------------------------------------------------------------
 * Harness
 */

#define T_MAX_TXNS 8

typedef struct {
    uint16_t group;
    uint64_t epoch;
    uint64_t since;
    uint32_t ntxns;
    uint32_t index[T_MAX_TXNS]; /* wire order (may be unsorted) */
} t_batch_t;

/* One released (or expected) transaction. */
typedef struct {
    uint64_t epoch;
    uint16_t group;
    uint32_t index;
} t_pos_t;

typedef struct {
    sched_merge_t *m;
    t_pos_t *out; /* released, in order */
    uint32_t nout;
    uint32_t cap;
    uint64_t *epochs; /* released epochs, in order */
    uint32_t nepochs;
} t_ctx_t;

static void
t_raw(char *buf, size_t len, uint16_t g, uint64_t e, uint32_t i)
{
    snprintf(buf, len, "g%u/e%llu/i%u", g, (unsigned long long)e, i);
}

/* Offers b; the raw bytes live in a scratch buffer clobbered right after,
 * so the merger must have copied them. */
static sched_merge_result_t
t_add(t_ctx_t *c, const t_batch_t *b)
{
    static char scratch[T_MAX_TXNS][48];
    hb_wire_txn_t w[T_MAX_TXNS];
    for (uint32_t i = 0; i < b->ntxns; i++) {
        t_raw(scratch[i], sizeof scratch[i], b->group, b->epoch, b->index[i]);
        w[i].index = b->index[i];
        w[i].raw = (const uint8_t *)scratch[i];
        w[i].raw_len = strlen(scratch[i]);
    }
    sched_merge_result_t r =
        sched_merge_add(c->m, b->group, b->epoch, b->since, w, b->ntxns);
    memset(scratch, 'X', sizeof scratch);
    return r;
}

/* Pops every releasable epoch, checking order and contents. */
static void
t_drain(t_ctx_t *c)
{
    uint16_t ng = sched_merge_ngroups(c->m);
    sched_batch_t *bs[16];
    ck_assert_uint_le(ng, 16);
    uint64_t e;
    uint32_t n;
    while ((n = sched_merge_pop_epoch(c->m, &e, bs)) > 0) {
        ck_assert_uint_le(n, ng);
        if (c->nepochs > 0)
            ck_assert_uint_gt(e, c->epochs[c->nepochs - 1]);
        c->epochs[c->nepochs++] = e;
        int prev_group = -1;
        for (uint32_t b = 0; b < n; b++) {
            ck_assert_uint_eq(bs[b]->epoch, e);
            ck_assert_int_gt(bs[b]->group, prev_group); /* group order */
            prev_group = bs[b]->group;
            for (uint32_t i = 0; i < bs[b]->ntxns; i++) {
                const sched_merge_txn_t *t = &bs[b]->txns[i];
                char want[48];
                t_raw(want, sizeof want, bs[b]->group, e, t->index);
                ck_assert_uint_eq(t->raw_len, strlen(want));
                ck_assert(memcmp(t->raw, want, t->raw_len) == 0);
                ck_assert_uint_lt(c->nout, c->cap);
                c->out[c->nout++] =
                    (t_pos_t){.epoch = e, .group = bs[b]->group, .index = t->index};
            }
            sched_batch_destroy(&bs[b]);
            ck_assert_ptr_null(bs[b]);
        }
    }
    ck_assert_uint_eq(e, 0);
}

static void
t_ctx_init(t_ctx_t *c, uint16_t ngroups, uint32_t max_pending, uint32_t cap)
{
    memset(c, 0, sizeof *c);
    c->m = sched_merge_new(ngroups, max_pending);
    ck_assert_ptr_nonnull(c->m);
    c->cap = cap;
    c->out = calloc(cap, sizeof *c->out);
    c->epochs = calloc(cap, sizeof *c->epochs);
}

static void
t_ctx_fini(t_ctx_t *c)
{
    sched_merge_destroy(&c->m);
    ck_assert_ptr_null(c->m);
    sched_merge_destroy(&c->m); /* idempotent */
    free(c->out);
    free(c->epochs);
}

static int
t_cmp_pos(const void *a, const void *b)
{
    const t_pos_t *x = a, *y = b;
    if (x->epoch != y->epoch)
        return x->epoch < y->epoch ? -1 : 1;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* A dense chain: batch e of every group with since e-1, txns 0..k-1. */
static t_batch_t
t_dense(uint16_t g, uint64_t e, uint32_t k)
{
    t_batch_t b = {.group = g, .epoch = e, .since = e - 1, .ntxns = k};
    for (uint32_t i = 0; i < k; i++)
        b.index[i] = i;
    return b;
}

/* ---------------------------------------------------------------------------
 * Randomised interleavings
 */

START_TEST(test_merge_random_interleavings)
{
    t_seed();
    const uint16_t ng = 3;
    const uint64_t E = 150;
    for (int round = 0; round < 30; round++) {
        int mode = round % 3; /* 0 full shuffle, 1 local reorder, 2 per-group in order */
        t_batch_t *bs = calloc((size_t)ng * E * 2, sizeof *bs);
        uint32_t nb = 0;
        t_pos_t *expect = calloc((size_t)ng * E * T_MAX_TXNS, sizeof *expect);
        uint32_t nexpect = 0;
        for (uint16_t g = 0; g < ng; g++) {
            uint64_t prev = 0;
            for (uint64_t e = 1; e <= E; e++) {
                if (e != E && t_rand() % 10 >= 6)
                    continue; /* the group has nothing this epoch: since skips it */
                t_batch_t *b = &bs[nb++];
                b->group = g;
                b->epoch = e;
                b->since = prev;
                b->ntxns = (uint32_t)(t_rand() % 5);
                uint32_t idx = (uint32_t)(t_rand() % 3);
                for (uint32_t i = 0; i < b->ntxns; i++) {
                    b->index[i] = idx;
                    expect[nexpect++] = (t_pos_t){.epoch = e, .group = g, .index = idx};
                    idx += 1 + (uint32_t)(t_rand() % 3);
                }
                for (uint32_t i = b->ntxns; i > 1; i--) { /* unsorted on the wire */
                    uint32_t j = (uint32_t)(t_rand() % i);
                    uint32_t tmp = b->index[i - 1];
                    b->index[i - 1] = b->index[j];
                    b->index[j] = tmp;
                }
                prev = e;
            }
        }
        uint32_t norig = nb, ndup = 0;
        for (uint32_t i = 0; i < norig; i++)
            if (t_rand() % 5 == 0) {
                bs[nb++] = bs[i];
                ndup++;
            }
        if (mode == 0) {
            for (uint32_t i = nb; i > 1; i--) {
                uint32_t j = (uint32_t)(t_rand() % i);
                t_batch_t tmp = bs[i - 1];
                bs[i - 1] = bs[j];
                bs[j] = tmp;
            }
        } else if (mode == 1) {
            /* Sort by epoch, then swap within small windows. */
            for (uint32_t i = 1; i < nb; i++)
                for (uint32_t j = i; j > 0 && bs[j - 1].epoch > bs[j].epoch; j--) {
                    t_batch_t tmp = bs[j - 1];
                    bs[j - 1] = bs[j];
                    bs[j] = tmp;
                }
            for (uint32_t i = 0; i + 1 < nb; i++) {
                uint32_t j = i + (uint32_t)(t_rand() % 6);
                if (j < nb) {
                    t_batch_t tmp = bs[i];
                    bs[i] = bs[j];
                    bs[j] = tmp;
                }
            }
        } else {
            /* Each group in order (dups at the end), groups interleaved. */
            t_batch_t *mixed = calloc(nb, sizeof *mixed);
            uint32_t pos[3] = {0, 0, 0}, nm = 0;
            t_batch_t *per[3];
            uint32_t cnt[3] = {0, 0, 0};
            for (int g = 0; g < 3; g++)
                per[g] = calloc(nb, sizeof *per[g]);
            for (uint32_t i = 0; i < nb; i++)
                per[bs[i].group][cnt[bs[i].group]++] = bs[i];
            while (nm < nb) {
                int g = (int)(t_rand() % 3);
                if (pos[g] < cnt[g])
                    mixed[nm++] = per[g][pos[g]++];
            }
            memcpy(bs, mixed, nb * sizeof *bs);
            for (int g = 0; g < 3; g++)
                free(per[g]);
            free(mixed);
        }

        t_ctx_t c;
        t_ctx_init(&c, ng, 0, nexpect + 1);
        uint32_t ndrop = 0;
        for (uint32_t i = 0; i < nb; i++) {
            sched_merge_result_t r = t_add(&c, &bs[i]);
            ck_assert_int_ne(r, SCHED_MERGE_INVALID);
            ck_assert_int_ne(r, SCHED_MERGE_OVERFLOW);
            if (r == SCHED_MERGE_DUPLICATE)
                ndrop++;
            t_drain(&c);
            /* Nothing is released past a group's contiguous chain. */
            if (c.nepochs > 0)
                ck_assert_uint_le(c.epochs[c.nepochs - 1], sched_merge_known_min(c.m));
        }
        qsort(expect, nexpect, sizeof *expect, t_cmp_pos);
        ck_assert_uint_eq(c.nout, nexpect);
        for (uint32_t i = 0; i < nexpect; i++) {
            ck_assert_uint_eq(c.out[i].epoch, expect[i].epoch);
            ck_assert_uint_eq(c.out[i].group, expect[i].group);
            ck_assert_uint_eq(c.out[i].index, expect[i].index);
        }
        ck_assert_uint_eq(ndrop, ndup);
        sched_merge_stats_t st;
        sched_merge_stats(c.m, &st);
        ck_assert_uint_eq(st.duplicates, ndup);
        ck_assert_uint_eq(st.accepted, norig);
        ck_assert_uint_eq(st.released, norig);
        ck_assert_uint_eq(st.queued, 0);
        ck_assert_uint_eq(st.pending, 0);
        ck_assert_uint_eq(st.last_epoch, E);
        for (uint16_t g = 0; g < ng; g++) {
            ck_assert_uint_eq(sched_merge_known(c.m, g), E);
            ck_assert_uint_eq(sched_merge_missing(c.m, g), 0);
        }
        t_ctx_fini(&c);
        free(bs);
        free(expect);
    }
}
END_TEST

/* ---------------------------------------------------------------------------
 * Targeted cases
 */

START_TEST(test_merge_gap_held_then_filled)
{
    t_ctx_t c;
    t_ctx_init(&c, 3, 0, 1000);
    for (uint64_t e = 1; e <= 10; e++) {
        t_batch_t b0 = t_dense(0, e, 1), b1 = t_dense(1, e, 2), b2 = t_dense(2, e, 1);
        ck_assert_int_eq(t_add(&c, &b0), SCHED_MERGE_ACCEPTED);
        ck_assert_int_eq(t_add(&c, &b1), SCHED_MERGE_ACCEPTED);
        if (e != 5) /* group 2's epoch 5 is lost */
            ck_assert_int_eq(t_add(&c, &b2),
                             e < 5 ? SCHED_MERGE_ACCEPTED : SCHED_MERGE_HELD);
        t_drain(&c);
    }
    ck_assert_uint_eq(c.nepochs, 4);
    ck_assert_uint_eq(c.epochs[3], 4);
    ck_assert_uint_eq(sched_merge_known(c.m, 0), 10);
    ck_assert_uint_eq(sched_merge_known(c.m, 2), 4);
    ck_assert_uint_eq(sched_merge_known_min(c.m), 4);
    /* Only the lagging group is reported, from its first missing epoch. */
    ck_assert_uint_eq(sched_merge_missing(c.m, 0), 0);
    ck_assert_uint_eq(sched_merge_missing(c.m, 1), 0);
    ck_assert_uint_eq(sched_merge_missing(c.m, 2), 5);
    sched_merge_stats_t st;
    sched_merge_stats(c.m, &st);
    ck_assert_uint_eq(st.pending, 5);
    ck_assert_uint_eq(st.queued, 12);
    /* The replay fills the gap: everything flows, in order. */
    t_batch_t b5 = t_dense(2, 5, 1);
    ck_assert_int_eq(t_add(&c, &b5), SCHED_MERGE_ACCEPTED);
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 10);
    ck_assert_uint_eq(c.nout, 40);
    for (uint32_t i = 1; i < c.nout; i++)
        ck_assert_int_lt(t_cmp_pos(&c.out[i - 1], &c.out[i]), 0);
    ck_assert_uint_eq(sched_merge_missing(c.m, 2), 0);
    /* The replay's duplicates are dropped. */
    ck_assert_int_eq(t_add(&c, &b5), SCHED_MERGE_DUPLICATE);
    t_batch_t b7 = t_dense(2, 7, 1);
    ck_assert_int_eq(t_add(&c, &b7), SCHED_MERGE_DUPLICATE);
    t_drain(&c);
    ck_assert_uint_eq(c.nout, 40);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_merge_since_skips_epochs)
{
    t_ctx_t c;
    t_ctx_init(&c, 2, 0, 100);
    t_batch_t a = {.group = 0, .epoch = 5, .since = 0, .ntxns = 1, .index = {0}};
    t_batch_t b = {.group = 1, .epoch = 2, .since = 0, .ntxns = 1, .index = {0}};
    t_batch_t d = {.group = 1, .epoch = 5, .since = 2, .ntxns = 2, .index = {1, 0}};
    ck_assert_int_eq(t_add(&c, &d), SCHED_MERGE_HELD);
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 0);
    ck_assert_int_eq(t_add(&c, &a), SCHED_MERGE_ACCEPTED);
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 0); /* group 1 is only known through 0 */
    ck_assert_uint_eq(sched_merge_missing(c.m, 1), 1);
    ck_assert_int_eq(t_add(&c, &b), SCHED_MERGE_ACCEPTED);
    t_drain(&c);
    /* Epochs 3 and 4 have no batch anywhere: never visited. */
    ck_assert_uint_eq(c.nepochs, 2);
    ck_assert_uint_eq(c.epochs[0], 2);
    ck_assert_uint_eq(c.epochs[1], 5);
    t_pos_t want[] = {{2, 1, 0}, {5, 0, 0}, {5, 1, 0}, {5, 1, 1}};
    ck_assert_uint_eq(c.nout, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(t_cmp_pos(&c.out[i], &want[i]), 0);
    t_ctx_fini(&c);

    /* A lost batch inside a sparse chain: replay from just after the
     * group's last contiguous batch. */
    t_ctx_init(&c, 2, 0, 100);
    t_batch_t g0[] = {{.group = 0, .epoch = 2, .since = 0},
                      {.group = 0, .epoch = 7, .since = 2},
                      {.group = 0, .epoch = 10, .since = 7}};
    t_batch_t g1 = {.group = 1, .epoch = 10, .since = 0};
    ck_assert_int_eq(t_add(&c, &g0[0]), SCHED_MERGE_ACCEPTED);
    ck_assert_int_eq(t_add(&c, &g0[2]), SCHED_MERGE_HELD);
    ck_assert_int_eq(t_add(&c, &g1), SCHED_MERGE_ACCEPTED);
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 1); /* epoch 2 */
    ck_assert_uint_eq(sched_merge_missing(c.m, 0), 3);
    ck_assert_uint_eq(sched_merge_missing(c.m, 1), 0);
    ck_assert_int_eq(t_add(&c, &g0[1]), SCHED_MERGE_ACCEPTED);
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 3);
    ck_assert_uint_eq(c.epochs[1], 7);
    ck_assert_uint_eq(c.epochs[2], 10);
    ck_assert_uint_eq(sched_merge_missing(c.m, 0), 0);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_merge_reset)
{
    t_ctx_t c;
    /* Reset below what was released: queued batches are held again and
     * the replay of the gap re-joins them. */
    t_ctx_init(&c, 3, 0, 1000);
    for (uint64_t e = 1; e <= 10; e++)
        for (uint16_t g = 0; g < 3; g++) {
            t_batch_t b = t_dense(g, e, 1);
            ck_assert_int_eq(t_add(&c, &b), SCHED_MERGE_ACCEPTED);
        }
    sched_batch_t *bs[3];
    uint64_t e;
    for (int i = 1; i <= 5; i++) {
        ck_assert_uint_eq(sched_merge_pop_epoch(c.m, &e, bs), 3);
        ck_assert_uint_eq(e, (uint64_t)i);
        for (int b = 0; b < 3; b++)
            sched_batch_destroy(&bs[b]);
    }
    sched_merge_reset(c.m, 3);
    for (uint16_t g = 0; g < 3; g++) {
        ck_assert_uint_eq(sched_merge_known(c.m, g), 3);
        ck_assert_uint_eq(sched_merge_missing(c.m, g), 4);
    }
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 0);
    for (uint64_t r = 1; r <= 10;
         r++) /* REPLAY from 4 resends 4..10; old ones are dups */
        for (uint16_t g = 0; g < 3; g++) {
            t_batch_t b = t_dense(g, r, 1);
            sched_merge_result_t res = t_add(&c, &b);
            ck_assert_int_eq(res, r <= 3 || r > 5 ? SCHED_MERGE_DUPLICATE
                                                  : SCHED_MERGE_ACCEPTED);
        }
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 7);
    for (uint32_t i = 0; i < 7; i++)
        ck_assert_uint_eq(c.epochs[i], 4 + i);
    ck_assert_uint_eq(c.nout, 21);
    t_ctx_fini(&c);

    /* Reset above what was queued drops what it covers; held batches
     * beyond become contiguous. */
    t_ctx_init(&c, 2, 0, 1000);
    for (uint64_t r = 1; r <= 6; r++) {
        t_batch_t b = t_dense(0, r, 1);
        ck_assert_int_eq(t_add(&c, &b), SCHED_MERGE_ACCEPTED);
    }
    t_batch_t h1 = {.group = 1, .epoch = 41, .since = 40, .ntxns = 1};
    t_batch_t h2 = {.group = 1, .epoch = 42, .since = 41, .ntxns = 1};
    t_batch_t old = {.group = 1, .epoch = 4, .since = 3, .ntxns = 1};
    ck_assert_int_eq(t_add(&c, &h2), SCHED_MERGE_HELD);
    ck_assert_int_eq(t_add(&c, &h1), SCHED_MERGE_HELD);
    ck_assert_int_eq(t_add(&c, &old), SCHED_MERGE_HELD);
    sched_merge_reset(c.m, 40);
    sched_merge_stats_t st;
    sched_merge_stats(c.m, &st);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_eq(st.queued, 2); /* group 1's 41 and 42 */
    ck_assert_uint_eq(sched_merge_known(c.m, 1), 42);
    ck_assert_uint_eq(sched_merge_known(c.m, 0), 40);
    ck_assert_uint_eq(sched_merge_missing(c.m, 0), 41);
    t_batch_t g0 = {.group = 0, .epoch = 42, .since = 6, .ntxns = 2, .index = {0, 1}};
    ck_assert_int_eq(t_add(&c, &g0), SCHED_MERGE_ACCEPTED);
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 2);
    ck_assert_uint_eq(c.epochs[0], 41);
    ck_assert_uint_eq(c.epochs[1], 42);
    t_pos_t want[] = {{41, 1, 0}, {42, 0, 0}, {42, 0, 1}, {42, 1, 0}};
    ck_assert_uint_eq(c.nout, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(t_cmp_pos(&c.out[i], &want[i]), 0);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_merge_pending_bound)
{
    t_ctx_t c;
    t_ctx_init(&c, 1, 2, 100);
    t_batch_t b3 = t_dense(0, 3, 1), b4 = t_dense(0, 4, 1), b5 = t_dense(0, 5, 1);
    ck_assert_int_eq(t_add(&c, &b3), SCHED_MERGE_HELD);
    ck_assert_int_eq(t_add(&c, &b4), SCHED_MERGE_HELD);
    ck_assert_int_eq(t_add(&c, &b3), SCHED_MERGE_DUPLICATE);
    ck_assert_int_eq(t_add(&c, &b5), SCHED_MERGE_OVERFLOW);
    ck_assert_uint_eq(sched_merge_missing(c.m, 0), 1);
    t_batch_t b1 = t_dense(0, 1, 1), b2 = t_dense(0, 2, 1);
    ck_assert_int_eq(t_add(&c, &b1), SCHED_MERGE_ACCEPTED);
    ck_assert_int_eq(t_add(&c, &b2), SCHED_MERGE_ACCEPTED);
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 4);
    /* The dropped batch is still reported missing. */
    ck_assert_uint_eq(sched_merge_missing(c.m, 0), 5);
    ck_assert_int_eq(t_add(&c, &b5), SCHED_MERGE_ACCEPTED);
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 5);
    sched_merge_stats_t st;
    sched_merge_stats(c.m, &st);
    ck_assert_uint_eq(st.overflows, 1);
    ck_assert_uint_eq(st.duplicates, 1);
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_merge_bad_input)
{
    t_ctx_t c;
    t_ctx_init(&c, 3, 0, 100);
    t_batch_t bad_group = {.group = 3, .epoch = 1, .since = 0};
    t_batch_t bad_since = {.group = 0, .epoch = 4, .since = 4};
    ck_assert_int_eq(t_add(&c, &bad_group), SCHED_MERGE_INVALID);
    ck_assert_int_eq(t_add(&c, &bad_since), SCHED_MERGE_INVALID);
    ck_assert_int_eq(sched_merge_add(c.m, 0, 1, 0, NULL, 2), SCHED_MERGE_INVALID);
    /* A repeated index inside a batch keeps the first. */
    t_batch_t rep = {.group = 0, .epoch = 1, .since = 0, .ntxns = 3, .index = {3, 1, 3}};
    ck_assert_int_eq(t_add(&c, &rep), SCHED_MERGE_ACCEPTED);
    for (uint16_t g = 1; g < 3; g++) {
        t_batch_t b = t_dense(g, 1, 0); /* empty batches still mark the epoch */
        ck_assert_int_eq(t_add(&c, &b), SCHED_MERGE_ACCEPTED);
    }
    t_drain(&c);
    ck_assert_uint_eq(c.nepochs, 1);
    ck_assert_uint_eq(c.nout, 2);
    ck_assert_uint_eq(c.out[0].index, 1);
    ck_assert_uint_eq(c.out[1].index, 3);
    sched_merge_stats_t st;
    sched_merge_stats(c.m, &st);
    ck_assert_uint_eq(st.invalid, 3);
    ck_assert_uint_eq(st.dup_indexes, 1);
    ck_assert_ptr_null(sched_merge_new(0, 0));
    t_ctx_fini(&c);
}
END_TEST

START_TEST(test_merge_destroy_holding)
{
    /* Destroy with queued and held batches frees them (valgrind checks). */
    t_ctx_t c;
    t_ctx_init(&c, 2, 0, 100);
    for (uint64_t e = 1; e <= 5; e++) {
        t_batch_t b = t_dense(0, e, 3);
        t_add(&c, &b);
    }
    t_batch_t h = t_dense(1, 9, 2);
    ck_assert_int_eq(t_add(&c, &h), SCHED_MERGE_HELD);
    t_ctx_fini(&c);
}
END_TEST

static Suite *
merge_suite(void)
{
    Suite *s = suite_create("merge");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_merge_random_interleavings);
    tcase_add_test(tc, test_merge_gap_held_then_filled);
    tcase_add_test(tc, test_merge_since_skips_epochs);
    tcase_add_test(tc, test_merge_reset);
    tcase_add_test(tc, test_merge_pending_bound);
    tcase_add_test(tc, test_merge_bad_input);
    tcase_add_test(tc, test_merge_destroy_holding);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return hb_test_run(merge_suite());
}
