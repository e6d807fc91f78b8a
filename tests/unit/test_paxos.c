/* test_paxos.c — unit tests of the Multi-Paxos core (sequencer/paxos.c).
 *
 * Every test drives R replicas of the core through the simulator in
 * tests/sim/ (virtual time, faulty network, a store that forgets unsynced
 * writes on crash); the harness checks agreement, gap-free delivery,
 * validity and monotonic promises after every event. Targeted cases build
 * one fault schedule by hand (leader crash with an accepted value, a hole,
 * duplicates and reordering, a failed sync, a partitioned replica catching
 * up, garbage frames); test_paxos_random_seeds runs HOBBES_SEEDS (default
 * 500) random schedules, or exactly HOBBES_SEED=n, printing the seed of any
 * failure.
 *
 * The simulator sources are compiled into this test directly until the
 * build has a sim library (see tests/sim/meson.build).
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_log.h"
#include "hb_mp.h"
#include "paxos.h"

#include "../sim/sim.c"
#include "../sim/sim_paxos.c"

#define ASSERT_NO_ERR(c) ck_assert_msg(sp_error(c) == NULL, "%s", sp_error(c))

static uint64_t
s_env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : dflt;
}

/* Other replicas than l, in order. */
static void
s_others(int l, uint32_t R, uint32_t *out)
{
    uint32_t k = 0;
    for (uint32_t r = 0; r < R; r++)
        if ((int)r != l)
            out[k++] = r;
}

static void
s_normal(uint32_t R)
{
    sp_cluster_t *c = sp_new(42 + R, R);
    int l = sp_wait_leader(c, 20 * SP_ELECTION_US);
    ck_assert_int_ge(l, 0);
    ck_assert(sp_run(c, 3 * SP_HEARTBEAT_US)); /* followers hear of it */
    uint64_t ids[100];
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(sp_propose(c, (uint32_t)l, &ids[i]), HB_OK);
    for (uint32_t r = 0; r < R; r++) {
        uint64_t id;
        if ((int)r != l) {
            ck_assert_int_eq(sp_propose(c, r, &id), HB_BUSY);
            ck_assert_int_eq(seq_paxos_leader(sp_core(c, r)), l);
        }
    }
    ck_assert(sp_run(c, 5 * SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    ck_assert(sp_converged(c));
    for (uint32_t r = 0; r < R; r++) {
        ck_assert_uint_eq(sp_delivered_n(c, r), 100);
        for (uint64_t s = 0; s < 100; s++)
            ck_assert_uint_eq(sp_delivered_id(c, r, s), ids[s]);
    }
    seq_paxos_stats_t st;
    seq_paxos_stats(sp_core(c, (uint32_t)l), &st);
    ck_assert_uint_eq(st.proposals, 100);
    ck_assert_uint_eq(st.chosen, 100);
    ck_assert_uint_eq(st.last_chosen, 99);
    ck_assert_uint_eq(st.became_leader, 1);
    ck_assert_uint_eq(st.noops, 0);
    sp_destroy(&c);
}

START_TEST(test_paxos_normal_operation)
{
    s_normal(1);
    s_normal(3);
    s_normal(5);
}
END_TEST

START_TEST(test_paxos_takeover_adopts_accepted)
{
    sp_cluster_t *c = sp_new(7, 3);
    sim_t *s = sp_sim(c);
    int l = sp_wait_leader(c, 20 * SP_ELECTION_US);
    ck_assert_int_ge(l, 0);
    ck_assert(sp_run(c, 3 * SP_HEARTBEAT_US)); /* followers hear of it */
    uint32_t o[2];
    s_others(l, 3, o);
    /* The ACCEPT reaches o[0] only, and its ACCEPTED never comes back:
     * accepted by a minority (l, o[0]), not known chosen. */
    sim_link(s, (uint32_t)l, o[1], false);
    sim_link(s, o[0], (uint32_t)l, false);
    uint64_t id;
    ck_assert_int_eq(sp_propose(c, (uint32_t)l, &id), HB_OK);
    ck_assert(sp_run(c, 3000));
    ck_assert_uint_eq(sp_delivered_n(c, o[0]), 0);
    ck_assert_uint_ne(sp_store_accepted(c, o[0], 0), 0);
    ck_assert_uint_eq(sp_store_accepted(c, o[1], 0), 0);
    sp_crash(c, (uint32_t)l);
    sim_heal(s);
    int l2 = sp_wait_leader(c, 20 * SP_ELECTION_US);
    ck_assert_int_ge(l2, 0);
    ck_assert_int_ne(l2, l);
    ck_assert(sp_run(c, 3 * SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    /* The new leader adopted the accepted value for slot 0. */
    ck_assert_uint_eq(sp_slot_of(c, id), 0);
    ck_assert_uint_eq(sp_delivered_id(c, o[0], 0), id);
    ck_assert_uint_eq(sp_delivered_id(c, o[1], 0), id);
    sp_restart(c, (uint32_t)l);
    ck_assert(sp_run(c, 3 * SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    ck_assert_uint_eq(sp_delivered_id(c, (uint32_t)l, 0), id);
    ck_assert(sp_converged(c));
    sp_destroy(&c);
}
END_TEST

START_TEST(test_paxos_hole_filled_with_noop)
{
    sp_cluster_t *c = sp_new(11, 3);
    sim_t *s = sp_sim(c);
    int l = sp_wait_leader(c, 20 * SP_ELECTION_US);
    ck_assert_int_ge(l, 0);
    ck_assert(sp_run(c, 3 * SP_HEARTBEAT_US)); /* followers hear of it */
    uint32_t o[2];
    s_others(l, 3, o);
    uint64_t id1, id2;
    /* Slot 0 reaches nobody but the leader; slot 1 reaches o[0]; links
     * are checked at send time, so no time passes in between. */
    sim_link(s, (uint32_t)l, o[0], false);
    sim_link(s, (uint32_t)l, o[1], false);
    ck_assert_int_eq(sp_propose(c, (uint32_t)l, &id1), HB_OK);
    sim_link(s, (uint32_t)l, o[0], true);
    sim_link(s, o[0], (uint32_t)l, false);
    ck_assert_int_eq(sp_propose(c, (uint32_t)l, &id2), HB_OK);
    ck_assert(sp_run(c, 100));
    sp_crash(c, (uint32_t)l);
    sim_heal(s);
    ck_assert(sp_run(c, 10 * SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    ck_assert_uint_eq(sp_delivered_n(c, o[0]), 2);
    ck_assert_uint_eq(sp_delivered_id(c, o[0], 0), 0); /* no-op */
    ck_assert_uint_eq(sp_delivered_id(c, o[0], 1), id2);
    ck_assert_uint_eq(sp_delivered_id(c, o[1], 0), 0);
    ck_assert_uint_eq(sp_delivered_id(c, o[1], 1), id2);
    ck_assert_uint_eq(sp_slot_of(c, id1), UINT64_MAX);
    /* The old leader accepted id1 in slot 0 at its old ballot; on restart
     * it must learn the no-op, not deliver its own stale value. */
    sp_restart(c, (uint32_t)l);
    ck_assert(sp_run(c, 3 * SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    ck_assert_uint_eq(sp_delivered_id(c, (uint32_t)l, 0), 0);
    ck_assert_uint_eq(sp_delivered_id(c, (uint32_t)l, 1), id2);
    seq_paxos_stats_t st;
    seq_paxos_stats(sp_core(c, o[0]), &st);
    ck_assert_uint_eq(st.noops, 1);
    sp_destroy(&c);
}
END_TEST

START_TEST(test_paxos_duplicates_and_reordering)
{
    sp_cluster_t *c = sp_new(13, 5);
    sim_t *s = sp_sim(c);
    int l = sp_wait_leader(c, 20 * SP_ELECTION_US);
    ck_assert_int_ge(l, 0);
    ck_assert(sp_run(c, 3 * SP_HEARTBEAT_US)); /* followers hear of it */
    sim_net_t net = {.dup_ppm = 500000, .delay_min_us = 0, .delay_max_us = 4000};
    sim_set_net(s, &net);
    uint64_t ids[200];
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(sp_propose(c, (uint32_t)l, &ids[i]), HB_OK);
        ck_assert(sp_run(c, sim_below(s, 300)));
    }
    ck_assert(sp_run(c, 5 * SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    ck_assert(sp_converged(c));
    sim_stats_t st;
    sim_stats(s, &st);
    ck_assert_uint_gt(st.duplicated, 100);
    for (uint32_t r = 0; r < 5; r++) {
        ck_assert_uint_eq(sp_delivered_n(c, r), 200);
        for (uint64_t k = 0; k < 200; k++)
            ck_assert_uint_eq(sp_delivered_id(c, r, k), ids[k]);
    }
    sp_destroy(&c);
}
END_TEST

START_TEST(test_paxos_restart_loses_unsynced)
{
    sp_cluster_t *c = sp_new(17, 3);
    int l = sp_wait_leader(c, 20 * SP_ELECTION_US);
    ck_assert_int_ge(l, 0);
    ck_assert(sp_run(c, 3 * SP_HEARTBEAT_US)); /* followers hear of it */
    uint32_t o[2];
    s_others(l, 3, o);
    /* o[0]'s disk cannot sync: it must not acknowledge what it wrote. */
    sp_fail_sync(c, o[0], true);
    uint64_t ids[10];
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(sp_propose(c, (uint32_t)l, &ids[i]), HB_OK);
    ck_assert(sp_run(c, 3000));
    ck_assert_uint_eq(sp_delivered_n(c, o[0]), 0);
    ck_assert_uint_eq(sp_delivered_n(c, o[1]), 10);
    seq_paxos_stats_t st;
    seq_paxos_stats(sp_core(c, o[0]), &st);
    ck_assert_uint_gt(st.store_errors, 0);
    /* The crash throws the unsynced accepts away. */
    sp_crash(c, o[0]);
    ck_assert_uint_eq(sp_store_accepted(c, o[0], 0), 0);
    sp_fail_sync(c, o[0], false);
    sp_restart(c, o[0]);
    ck_assert(sp_run(c, 3 * SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    ck_assert(sp_converged(c));
    for (uint64_t k = 0; k < 10; k++)
        ck_assert_uint_eq(sp_delivered_id(c, o[0], k), ids[k]);
    /* A leader crash: its promise and round survive (synced), so its next
     * ballot is higher than anything it used. */
    seq_paxos_stats(sp_core(c, (uint32_t)l), &st);
    uint64_t old_ballot = st.ballot;
    sp_crash(c, (uint32_t)l);
    sp_restart(c, (uint32_t)l);
    ck_assert_uint_ge(seq_paxos_promised(sp_core(c, (uint32_t)l)), old_ballot);
    ck_assert(sp_run(c, 5 * SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    int l2 = sp_leader(c);
    ck_assert_int_ge(l2, 0);
    seq_paxos_stats(sp_core(c, (uint32_t)l2), &st);
    ck_assert_uint_gt(st.ballot, old_ballot);
    sp_destroy(&c);
}
END_TEST

START_TEST(test_paxos_alone_syncs_accept_with_chosen)
{
    /* With one replica the leader's acceptance is not synced on its own:
     * the sync of the chosen entry carries it. A disk that cannot sync
     * delivers nothing, and a crash forgets both writes. */
    sp_cluster_t *c = sp_new(23, 1);
    ck_assert_int_eq(sp_wait_leader(c, 20 * SP_ELECTION_US), 0);
    sp_fail_sync(c, 0, true);
    uint64_t ids[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(sp_propose(c, 0, &ids[i]), HB_OK);
    ck_assert(sp_run(c, 3000));
    ck_assert_uint_eq(sp_delivered_n(c, 0), 0);
    sp_crash(c, 0);
    ck_assert_uint_eq(sp_store_accepted(c, 0, 0), 0);
    sp_fail_sync(c, 0, false);
    sp_restart(c, 0);
    ck_assert_int_eq(sp_wait_leader(c, 20 * SP_ELECTION_US), 0);
    uint64_t id;
    ck_assert_int_eq(sp_propose(c, 0, &id), HB_OK);
    ck_assert(sp_run(c, 3000));
    ASSERT_NO_ERR(c);
    ck_assert_uint_eq(sp_delivered_n(c, 0), 1);
    ck_assert_uint_eq(sp_delivered_id(c, 0, 0), id);
    sp_destroy(&c);
}
END_TEST

START_TEST(test_paxos_catch_up_after_partition)
{
    sp_cluster_t *c = sp_new(19, 3);
    sim_t *s = sp_sim(c);
    int l = sp_wait_leader(c, 20 * SP_ELECTION_US);
    ck_assert_int_ge(l, 0);
    ck_assert(sp_run(c, 3 * SP_HEARTBEAT_US)); /* followers hear of it */
    uint32_t o[2];
    s_others(l, 3, o);
    uint32_t side[3] = {0, 0, 0};
    side[o[1]] = 1;
    sim_partition(s, side);
    /* More than the acceptor window, so o[1] must fetch, not accept. */
    uint64_t n = SEQ_PAXOS_WINDOW + 500;
    uint64_t last = 0;
    for (uint64_t i = 0; i < n; i++) {
        ck_assert_int_eq(sp_propose(c, (uint32_t)l, &last), HB_OK);
        if (i % 16 == 15)
            ck_assert(sp_run(c, 500));
    }
    ck_assert(sp_run(c, 20 * SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    ck_assert_uint_eq(sp_delivered_n(c, o[0]), n);
    ck_assert_uint_eq(sp_delivered_n(c, o[1]), 0);
    sim_heal(s);
    /* Pages are small here (1 KiB), so catching up takes many round trips. */
    for (int i = 0; i < 100 && !(sp_converged(c) && sp_delivered_n(c, o[1]) >= n); i++)
        ck_assert(sp_run(c, SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    ck_assert(sp_converged(c));
    ck_assert_uint_ge(sp_delivered_n(c, o[1]), n);
    ck_assert_uint_eq(sp_delivered_id(c, o[1], sp_slot_of(c, last)), last);
    seq_paxos_stats_t st;
    seq_paxos_stats(sp_core(c, o[1]), &st);
    ck_assert_uint_gt(st.fetches, 0);
    ck_assert_uint_gt(st.fetched, 0);
    sp_destroy(&c);
}
END_TEST

START_TEST(test_paxos_garbage_frames_rejected)
{
    sp_cluster_t *c = sp_new(23, 3);
    sim_t *s = sp_sim(c);
    int l = sp_wait_leader(c, 20 * SP_ELECTION_US);
    ck_assert_int_ge(l, 0);
    ck_assert(sp_run(c, 3 * SP_HEARTBEAT_US)); /* followers hear of it */
    uint32_t o[2];
    s_others(l, 3, o);
    seq_paxos_t *p = sp_core(c, o[0]);
    seq_paxos_stats_t before, after;
    seq_paxos_stats(p, &before);
    uint64_t promised = seq_paxos_promised(p);

    /* Empty, random bytes, a bare 0xc1, a huge declared array. */
    seq_paxos_on_message(p, (uint32_t)l, "", 0);
    uint8_t junk[64];
    for (int k = 0; k < 200; k++) {
        size_t len = (size_t)sim_below(s, sizeof junk) + 1;
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)sim_rand(s);
        seq_paxos_on_message(p, (uint32_t)l, junk, len);
    }
    const uint8_t c1[] = {0xc1};
    seq_paxos_on_message(p, (uint32_t)l, c1, sizeof c1);
    const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x04, 0x07};
    seq_paxos_on_message(p, (uint32_t)l, huge, sizeof huge);

    msgpack_sbuffer sb;
    msgpack_packer pk;
    /* ACCEPT for the wrong group, then one with too few fields, then one
     * whose value bin claims more bytes than remain, then a PROMISE page
     * declaring 1e9 entries. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_int(&pk, 4);
    msgpack_pack_int(&pk, 99);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_uint64(&pk, 0);
    hb_mp_pack_bin(&pk, "evil", 4);
    msgpack_pack_uint64(&pk, 1000);
    seq_paxos_on_message(p, (uint32_t)l, sb.data, sb.size);
    for (size_t cut = 1; cut < sb.size; cut++)
        seq_paxos_on_message(p, (uint32_t)l, sb.data, cut);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, 4);
    msgpack_pack_int(&pk, 7);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    seq_paxos_on_message(p, (uint32_t)l, sb.data, sb.size);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_int(&pk, 4);
    msgpack_pack_int(&pk, 7);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_bin(&pk, 1u << 30);
    seq_paxos_on_message(p, (uint32_t)l, sb.data, sb.size);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 8);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_int(&pk, 7);
    msgpack_pack_uint64(&pk, 5);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_false(&pk);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_array(&pk, 1000000000u);
    seq_paxos_on_message(p, (uint32_t)l, sb.data, sb.size);
    /* A frame from a replica that does not exist. */
    seq_paxos_on_message(p, 77, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);

    seq_paxos_stats(p, &after);
    ck_assert_uint_ge(after.bad_frames - before.bad_frames, 200);
    ck_assert_uint_eq(seq_paxos_promised(p), promised); /* nothing was believed */
    ck_assert_int_eq(seq_paxos_leader(p), l);
    /* The group still works. */
    uint64_t id;
    ck_assert_int_eq(sp_propose(c, (uint32_t)l, &id), HB_OK);
    ck_assert(sp_run(c, 2 * SP_ELECTION_US));
    ASSERT_NO_ERR(c);
    ck_assert_uint_eq(sp_slot_of(c, id), 0);
    ck_assert(sp_converged(c));
    sp_destroy(&c);
}
END_TEST

START_TEST(test_paxos_random_seeds)
{
    uint64_t first = 1, count = s_env_u64("HOBBES_SEEDS", 500);
    if (getenv("HOBBES_SEED")) {
        first = s_env_u64("HOBBES_SEED", 1);
        count = 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t failed = 0, events = 0;
    for (uint64_t seed = first; seed < first + count; seed++) {
        char err[1200];
        if (!sp_fuzz(seed, err, sizeof err, &events)) {
            if (failed++ < 20)
                printf("test_paxos_random_seeds: FAILED HOBBES_SEED=%" PRIu64 ": %s\n",
                       seed, err);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs =
        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("test_paxos_random_seeds: %" PRIu64 " seeds from HOBBES_SEED=%" PRIu64
           ", %" PRIu64 " events, %.2f s, %" PRIu64 " failed\n",
           count, first, events, secs, failed);
    ck_assert_uint_eq(failed, 0);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("paxos");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_paxos_normal_operation);
    tcase_add_test(tc, test_paxos_takeover_adopts_accepted);
    tcase_add_test(tc, test_paxos_hole_filled_with_noop);
    tcase_add_test(tc, test_paxos_duplicates_and_reordering);
    tcase_add_test(tc, test_paxos_restart_loses_unsynced);
    tcase_add_test(tc, test_paxos_alone_syncs_accept_with_chosen);
    tcase_add_test(tc, test_paxos_catch_up_after_partition);
    tcase_add_test(tc, test_paxos_garbage_frames_rejected);
    tcase_add_test(tc, test_paxos_random_seeds);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    hb_log_set_level(HB_LOG_OFF);
    return hb_test_run(s_suite());
}
