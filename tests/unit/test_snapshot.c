/* test_snapshot.c — unit tests of storage/snapshot.c on a real LevelDB.
 *
 * Each test opens an engine in a fresh mkdtemp directory, applies epochs
 * with stor_engine_flush and answers SCANs with stor_snapshot_scan, decoding
 * the SCAN_RESULT frames: a SCAN at a kept epoch reads that epoch's rows and
 * catalog version after later epochs were applied; one at an epoch never
 * kept, evicted, aged out or cleared reads the current epoch; SCANs without
 * at_epoch share one snapshot per epoch.
 */
#include <check.h>

#include "../hb_test.h"
#include <leveldb/c.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "hb_key.h"
#include "hb_log.h"
#include "hb_proc.h"
#include "hb_wire.h"
#include "snapshot.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

#define S_MAX_FRAME (16u << 20)

static char s_dir[256];
static stor_engine_t *s_eng;
static stor_snapshot_ring_t *s_ring;
static stor_snapshot_stats_t s_stats;

static void
s_setup(void)
{
    hb_log_set_level(HB_LOG_OFF);
    snprintf(s_dir, sizeof s_dir, "/tmp/hobbes-test-snapshot-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_dir));
    s_eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(s_eng);
    s_ring = stor_snapshot_ring_new(s_eng);
    ck_assert_ptr_nonnull(s_ring);
    memset(&s_stats, 0, sizeof s_stats);
}

static void
s_teardown(void)
{
    stor_snapshot_ring_destroy(&s_ring);
    stor_snapshot_ring_destroy(&s_ring); /* idempotent */
    stor_engine_destroy(&s_eng);
    leveldb_options_t *opts = leveldb_options_create();
    char *err = NULL;
    leveldb_destroy_db(opts, s_dir, &err);
    if (err)
        leveldb_free(err);
    leveldb_options_destroy(opts);
    rmdir(s_dir);
}

static void
s_put(uint64_t epoch, const char *name, const char *val)
{
    hb_key_t k;
    hb_key_kv(&k, name, strlen(name));
    ck_assert_int_eq(stor_engine_put(s_eng, epoch, k.buf, k.len, val, strlen(val)),
                     HB_OK);
}

/* Writes partition 0's catalog version record [ver, next table id]. */
static void
s_catver(uint64_t epoch, int64_t ver)
{
    hb_key_t k;
    hb_key_catalog(&k, 0, "", 0);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int64(&pk, ver);
    msgpack_pack_int64(&pk, 100);
    ck_assert_int_eq(stor_engine_put(s_eng, epoch, k.buf, k.len, sb.data, sb.size),
                     HB_OK);
    msgpack_sbuffer_destroy(&sb);
}

/* What one SCAN_RESULT said. */
typedef struct {
    uint64_t epoch;
    uint64_t catver;
    uint32_t nrows;
    char vals[8][32]; /* the first rows' values, NUL-terminated */
} s_answer_t;

/* SCANs every kv row (at most 8) at at_epoch (0: current) at time now_us. */
static s_answer_t
s_scan(uint64_t at_epoch, uint64_t now_us)
{
    hb_key_t start, end;
    hb_key_init(&start, HB_TABLE_KV);
    hb_key_init(&end, HB_TABLE_KV + 1);
    hb_msg_t m = {.type = HB_MSG_SCAN};
    m.u.scan.req_id = 7;
    m.u.scan.start = start.buf;
    m.u.scan.start_len = (uint32_t)start.len;
    m.u.scan.end = end.buf;
    m.u.scan.end_len = (uint32_t)end.len;
    m.u.scan.limit = 8;
    m.u.scan.at_epoch = at_epoch;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(stor_snapshot_scan(s_ring, &m, now_us, S_MAX_FRAME, &sb, &s_stats),
                     HB_OK);
    hb_msg_t out;
    ck_assert_int_eq(hb_msg_decode(sb.data, sb.size, NULL, &out), HB_OK);
    ck_assert_int_eq(out.type, HB_MSG_SCAN_RESULT);
    ck_assert_uint_eq(out.u.scan_result.req_id, 7);
    ck_assert_uint_eq(out.u.scan_result.rc, HB_OK);
    s_answer_t a = {.epoch = out.u.scan_result.epoch,
                    .catver = out.u.scan_result.catver,
                    .nrows = out.u.scan_result.nkvs};
    for (uint32_t i = 0; i < a.nrows && i < 8; i++) {
        const hb_wire_kv_t *kv = &out.u.scan_result.kvs[i];
        ck_assert_uint_lt(kv->vlen, sizeof a.vals[i]);
        memcpy(a.vals[i], kv->val, kv->vlen);
        a.vals[i][kv->vlen] = '\0';
    }
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);
    return a;
}

/* Applies epochs 1 (a=1, b=1, catver 1), 2 (a=2, catver 2) and 3 (c=3),
 * answering a plain SCAN after epoch 1 only. */
static void
s_three_epochs(void)
{
    s_put(1, "a", "a1");
    s_put(1, "b", "b1");
    s_catver(1, 1);
    ck_assert_int_eq(stor_engine_flush(s_eng, 1), HB_OK);
    s_answer_t a = s_scan(0, 1000);
    ck_assert_uint_eq(a.epoch, 1);
    ck_assert_uint_eq(a.nrows, 2);
    s_put(2, "a", "a2");
    s_catver(2, 2);
    ck_assert_int_eq(stor_engine_flush(s_eng, 2), HB_OK);
    s_put(3, "c", "c3");
    ck_assert_int_eq(stor_engine_flush(s_eng, 3), HB_OK);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_snapshot_at_kept_epoch)
{
    s_three_epochs();
    /* The pages after the first ask for epoch 1: still there. */
    s_answer_t a = s_scan(1, 2000);
    ck_assert_uint_eq(a.epoch, 1);
    ck_assert_uint_eq(a.catver, 1);
    ck_assert_uint_eq(a.nrows, 2);
    ck_assert_str_eq(a.vals[0], "a1");
    ck_assert_str_eq(a.vals[1], "b1");
    ck_assert_uint_eq(s_stats.at_hits, 1);
    ck_assert_uint_eq(s_stats.at_misses, 0);

    /* A plain scan reads the current epoch. */
    a = s_scan(0, 2000);
    ck_assert_uint_eq(a.epoch, 3);
    ck_assert_uint_eq(a.catver, 2);
    ck_assert_uint_eq(a.nrows, 3);
    ck_assert_str_eq(a.vals[0], "a2");
    ck_assert_str_eq(a.vals[1], "b1");
    ck_assert_str_eq(a.vals[2], "c3");
    /* And epoch 1 is still kept next to it. */
    a = s_scan(1, 2000);
    ck_assert_uint_eq(a.epoch, 1);
    ck_assert_str_eq(a.vals[0], "a1");
    ck_assert_uint_eq(stor_snapshot_ring_size(s_ring), 2);
}
END_TEST

START_TEST(test_snapshot_at_unkept_epoch_reads_current)
{
    s_three_epochs();
    /* Epoch 2 was applied but never scanned: answered at epoch 3, which the
     * reader sees as a mismatch. */
    s_answer_t a = s_scan(2, 2000);
    ck_assert_uint_eq(a.epoch, 3);
    ck_assert_uint_eq(a.catver, 2);
    ck_assert_uint_eq(a.nrows, 3);
    ck_assert_str_eq(a.vals[0], "a2");
    /* So is an epoch not applied yet. */
    a = s_scan(9, 2000);
    ck_assert_uint_eq(a.epoch, 3);
    ck_assert_uint_eq(s_stats.at_hits, 0);
    ck_assert_uint_eq(s_stats.at_misses, 2);
}
END_TEST

START_TEST(test_snapshot_plain_scans_share_one_per_epoch)
{
    s_put(1, "a", "a1");
    ck_assert_int_eq(stor_engine_flush(s_eng, 1), HB_OK);
    for (int i = 0; i < 5; i++)
        ck_assert_uint_eq(s_scan(0, 1000 + (uint64_t)i).epoch, 1);
    ck_assert_uint_eq(s_stats.snapshots, 1);
    ck_assert_uint_eq(s_stats.reused, 4);
    ck_assert_uint_eq(s_stats.scans, 5);
    s_put(2, "a", "a2");
    ck_assert_int_eq(stor_engine_flush(s_eng, 2), HB_OK);
    s_answer_t a = s_scan(0, 2000);
    ck_assert_uint_eq(a.epoch, 2);
    ck_assert_str_eq(a.vals[0], "a2");
    ck_assert_uint_eq(s_stats.snapshots, 2);
    ck_assert_uint_eq(stor_snapshot_ring_size(s_ring), 2);
}
END_TEST

START_TEST(test_snapshot_aged_out_reads_current)
{
    s_three_epochs(); /* epoch 1 kept at t = 1000 us */
    s_answer_t a = s_scan(1, 1000 + STOR_SNAPSHOT_MAX_AGE_US);
    ck_assert_uint_eq(a.epoch, 1);
    /* Past the age bound it is released, even if nobody scans. */
    stor_snapshot_ring_expire(s_ring, 1001 + STOR_SNAPSHOT_MAX_AGE_US);
    ck_assert_uint_eq(stor_snapshot_ring_size(s_ring), 0);
    a = s_scan(1, 1001 + STOR_SNAPSHOT_MAX_AGE_US);
    ck_assert_uint_eq(a.epoch, 3);
    ck_assert_str_eq(a.vals[0], "a2");
    ck_assert_uint_eq(s_stats.at_misses, 1);
}
END_TEST

START_TEST(test_snapshot_cleared_reads_current)
{
    s_three_epochs();
    stor_snapshot_ring_clear(s_ring); /* RESYNC */
    ck_assert_uint_eq(stor_snapshot_ring_size(s_ring), 0);
    ck_assert_uint_eq(s_scan(1, 2000).epoch, 3);
}
END_TEST

START_TEST(test_snapshot_eviction_spares_the_one_in_use)
{
    s_put(1, "a", "a1");
    ck_assert_int_eq(stor_engine_flush(s_eng, 1), HB_OK);
    ck_assert_uint_eq(s_scan(0, 1000).epoch, 1);
    ck_assert_uint_eq(s_scan(0, 1000).epoch, 1); /* epoch 1 is used twice */
    /* Then one scan per epoch, more epochs than the ring keeps, with a
     * read paging through epoch 1 in between. */
    for (uint64_t e = 2; e <= 2 * STOR_SNAPSHOT_KEEP; e++) {
        s_put(e, "a", "later");
        ck_assert_int_eq(stor_engine_flush(s_eng, e), HB_OK);
        ck_assert_uint_eq(s_scan(0, 1000 + e).epoch, e);
        ck_assert_uint_eq(s_scan(1, 1000 + e).epoch, 1);
        ck_assert_uint_le(stor_snapshot_ring_size(s_ring), STOR_SNAPSHOT_KEEP);
    }
    s_answer_t a = s_scan(1, 5000);
    ck_assert_uint_eq(a.epoch, 1);
    ck_assert_str_eq(a.vals[0], "a1");
    /* Epochs nobody returned to were evicted. */
    ck_assert_uint_eq(s_scan(2, 5000).epoch, 2 * STOR_SNAPSHOT_KEEP);
    ck_assert_uint_eq(stor_snapshot_ring_size(s_ring), STOR_SNAPSHOT_KEEP);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("snapshot");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_snapshot_at_kept_epoch", test_snapshot_at_kept_epoch},
        {"test_snapshot_at_unkept_epoch_reads_current",
         test_snapshot_at_unkept_epoch_reads_current},
        {"test_snapshot_plain_scans_share_one_per_epoch",
         test_snapshot_plain_scans_share_one_per_epoch},
        {"test_snapshot_aged_out_reads_current", test_snapshot_aged_out_reads_current},
        {"test_snapshot_cleared_reads_current", test_snapshot_cleared_reads_current},
        {"test_snapshot_eviction_spares_the_one_in_use",
         test_snapshot_eviction_spares_the_one_in_use},
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
