/* test_engine.c — unit tests of storage/engine.c on a real LevelDB.
 *
 * Each test opens engines in a fresh mkdtemp directory: overlay reads,
 * epoch-atomic flush, reopen (data, applied epoch, hash, incarnation),
 * versions of later epochs surviving a flush, discard, and the state hash's
 * independence from write order and flush splits (randomised: prints its
 * seed, honours HOBBES_SEED).
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
#include "hb_alloc.h"
#include "hb_key.h"
#include "hb_log.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char s_dir[256];

static void
s_setup(void)
{
    hb_log_set_level(HB_LOG_OFF);
    snprintf(s_dir, sizeof s_dir, "/tmp/hobbes-test-engine-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_dir));
}

static void
s_teardown(void)
{
    leveldb_options_t *opts = leveldb_options_create();
    char *err = NULL;
    leveldb_destroy_db(opts, s_dir, &err);
    if (err)
        leveldb_free(err);
    leveldb_options_destroy(opts);
    rmdir(s_dir);
}

/* Makes the kv key of name into k. */
static void
s_key(hb_key_t *k, const char *name)
{
    hb_key_kv(k, name, strlen(name));
}

static void
s_put(stor_engine_t *eng, uint64_t epoch, const char *name, const char *val)
{
    hb_key_t k;
    s_key(&k, name);
    ck_assert_int_eq(stor_engine_put(eng, epoch, k.buf, k.len, val, strlen(val)), HB_OK);
}

static void
s_del(stor_engine_t *eng, uint64_t epoch, const char *name)
{
    hb_key_t k;
    s_key(&k, name);
    ck_assert_int_eq(stor_engine_delete(eng, epoch, k.buf, k.len), HB_OK);
}

/* Asserts name reads as want (NULL: absent). */
static void
s_expect(stor_engine_t *eng, const char *name, const char *want)
{
    hb_key_t k;
    uint8_t *val = NULL;
    size_t vlen = 0;
    s_key(&k, name);
    hb_rc_t rc = stor_engine_get(eng, k.buf, k.len, NULL, NULL, &val, &vlen);
    if (!want) {
        ck_assert_int_eq(rc, HB_NOTFOUND);
        ck_assert_ptr_null(val);
        return;
    }
    ck_assert_int_eq(rc, HB_OK);
    ck_assert_uint_eq(vlen, strlen(want));
    ck_assert_mem_eq(val, want, vlen);
    hb_free(val);
}

static uint64_t
s_scan(stor_engine_t *eng)
{
    uint64_t h = 0;
    ck_assert_int_eq(stor_engine_scan_hash(eng, &h), HB_OK);
    return h;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_engine_overlay_put_get)
{
    stor_engine_t *eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(eng);
    ck_assert_uint_eq(stor_engine_incarnation(eng), 1);
    ck_assert_uint_eq(stor_engine_applied_epoch(eng), 0);
    ck_assert_uint_eq(stor_engine_state_hash(eng), 0);

    s_expect(eng, "a", NULL);
    s_put(eng, 1, "a", "one");
    s_expect(eng, "a", "one");
    s_put(eng, 1, "a", "uno"); /* same epoch: replaces */
    ck_assert_uint_eq(stor_engine_overlay_versions(eng), 1);
    s_put(eng, 2, "a", "two");
    s_expect(eng, "a", "two");
    ck_assert_uint_eq(stor_engine_overlay_keys(eng), 1);
    ck_assert_uint_eq(stor_engine_overlay_versions(eng), 2);
    s_del(eng, 3, "a");
    s_expect(eng, "a", NULL);
    s_put(eng, 3, "empty", "");
    s_expect(eng, "empty", "");

    /* Metadata keys and empty keys are refused. */
    hb_key_t meta;
    hb_key_init(&meta, HB_TABLE_META);
    hb_key_put_str(&meta, "applied_epoch", 13);
    ck_assert_int_eq(stor_engine_put(eng, 1, meta.buf, meta.len, "x", 1), HB_INVALID);
    ck_assert_int_eq(stor_engine_put(eng, 1, "", 0, "x", 1), HB_INVALID);
    /* Nothing reached LevelDB. */
    ck_assert_uint_eq(s_scan(eng), 0);
    stor_engine_destroy(&eng);
    ck_assert_ptr_null(eng);
    stor_engine_destroy(&eng); /* idempotent */
}
END_TEST

START_TEST(test_engine_flush_records_applied_epoch)
{
    stor_engine_t *eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(eng);
    s_put(eng, 5, "a", "1");
    s_put(eng, 5, "b", "2");
    ck_assert_int_eq(stor_engine_flush(eng, 5), HB_OK);
    ck_assert_uint_eq(stor_engine_applied_epoch(eng), 5);
    ck_assert_uint_eq(stor_engine_overlay_keys(eng), 0);
    ck_assert_uint_eq(stor_engine_overlay_versions(eng), 0);
    s_expect(eng, "a", "1");
    s_expect(eng, "b", "2");
    ck_assert_uint_ne(stor_engine_state_hash(eng), 0);
    ck_assert_uint_eq(stor_engine_state_hash(eng), s_scan(eng));

    /* An empty epoch still advances the applied epoch; older ones are refused. */
    uint64_t h = stor_engine_state_hash(eng);
    ck_assert_int_eq(stor_engine_flush(eng, 6), HB_OK);
    ck_assert_uint_eq(stor_engine_applied_epoch(eng), 6);
    ck_assert_uint_eq(stor_engine_state_hash(eng), h);
    ck_assert_int_eq(stor_engine_flush(eng, 4), HB_INVALID);
    ck_assert_uint_eq(stor_engine_applied_epoch(eng), 6);

    /* Overwrite and delete update the hash incrementally. */
    s_put(eng, 7, "a", "10");
    s_del(eng, 7, "b");
    s_del(eng, 7, "never-existed");
    ck_assert_int_eq(stor_engine_flush(eng, 7), HB_OK);
    s_expect(eng, "a", "10");
    s_expect(eng, "b", NULL);
    ck_assert_uint_eq(stor_engine_state_hash(eng), s_scan(eng));
    hb_key_t ka;
    s_key(&ka, "a");
    ck_assert_uint_eq(stor_engine_state_hash(eng),
                      stor_engine_row_hash(ka.buf, ka.len, "10", 2));
    stor_engine_destroy(&eng);
}
END_TEST

START_TEST(test_engine_reopen_preserves_state)
{
    stor_engine_t *eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(eng);
    uint64_t inc = stor_engine_incarnation(eng);
    s_put(eng, 3, "x", "flushed");
    ck_assert_int_eq(stor_engine_flush(eng, 3), HB_OK);
    s_put(eng, 4, "y", "unflushed");
    uint64_t h = stor_engine_state_hash(eng);
    stor_engine_destroy(&eng);

    eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(eng);
    ck_assert_uint_eq(stor_engine_incarnation(eng), inc + 1);
    ck_assert_uint_eq(stor_engine_applied_epoch(eng), 3);
    ck_assert_uint_eq(stor_engine_state_hash(eng), h);
    ck_assert_uint_eq(stor_engine_state_hash(eng), s_scan(eng));
    s_expect(eng, "x", "flushed");
    s_expect(eng, "y", NULL); /* never flushed: lost, replayed from the log */

    ck_assert_int_eq(stor_engine_new_incarnation(eng), HB_OK);
    ck_assert_uint_eq(stor_engine_incarnation(eng), inc + 2);
    stor_engine_destroy(&eng);
    eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(eng);
    ck_assert_uint_eq(stor_engine_incarnation(eng), inc + 3);
    stor_engine_destroy(&eng);
}
END_TEST

START_TEST(test_engine_later_epoch_survives_flush)
{
    stor_engine_t *eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(eng);
    s_put(eng, 1, "k", "v1");
    s_put(eng, 2, "k", "v2");
    s_put(eng, 2, "only2", "x");
    s_del(eng, 2, "gone");
    s_put(eng, 1, "gone", "here");
    ck_assert_int_eq(stor_engine_flush(eng, 1), HB_OK);
    /* Readers still see epoch 2's versions. */
    s_expect(eng, "k", "v2");
    s_expect(eng, "only2", "x");
    s_expect(eng, "gone", NULL);
    ck_assert_uint_eq(stor_engine_overlay_keys(eng), 3);
    ck_assert_uint_eq(stor_engine_overlay_versions(eng), 3);
    /* Only epoch 1 is on disk. */
    hb_key_t k, g;
    s_key(&k, "k");
    s_key(&g, "gone");
    uint64_t want = stor_engine_row_hash(k.buf, k.len, "v1", 2) +
                    stor_engine_row_hash(g.buf, g.len, "here", 4);
    ck_assert_uint_eq(stor_engine_state_hash(eng), want);
    ck_assert_uint_eq(s_scan(eng), want);
    stor_engine_destroy(&eng);

    eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(eng);
    ck_assert_uint_eq(stor_engine_applied_epoch(eng), 1);
    s_expect(eng, "k", "v1");
    s_expect(eng, "only2", NULL);
    s_expect(eng, "gone", "here");
    stor_engine_destroy(&eng);
}
END_TEST

START_TEST(test_engine_discard_overlay)
{
    stor_engine_t *eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(eng);
    s_put(eng, 1, "a", "base");
    ck_assert_int_eq(stor_engine_flush(eng, 1), HB_OK);
    uint64_t h = stor_engine_state_hash(eng);
    s_put(eng, 2, "a", "new");
    s_put(eng, 3, "b", "new");
    stor_engine_discard_overlay(eng);
    ck_assert_uint_eq(stor_engine_overlay_keys(eng), 0);
    ck_assert_uint_eq(stor_engine_overlay_versions(eng), 0);
    s_expect(eng, "a", "base");
    s_expect(eng, "b", NULL);
    /* A flush after a discard writes nothing but the epoch. */
    ck_assert_int_eq(stor_engine_flush(eng, 3), HB_OK);
    ck_assert_uint_eq(stor_engine_state_hash(eng), h);
    ck_assert_uint_eq(s_scan(eng), h);
    stor_engine_destroy(&eng);
}
END_TEST

/* Collects metadata scan results as "key-tail=value;" text. */
static bool
s_collect(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%.*s=%.*s;", (int)(klen - 4), (const char *)key + 4,
             (int)vlen, (const char *)val);
    return true;
}

/* A metadata key: table id 0, then text. */
static size_t
s_meta(uint8_t *buf, const char *text)
{
    memset(buf, 0, 4);
    memcpy(buf + 4, text, strlen(text));
    return 4 + strlen(text);
}

START_TEST(test_engine_staged_meta_flush_atomically)
{
    stor_engine_t *eng = stor_engine_open(s_dir);
    ck_assert_ptr_nonnull(eng);
    uint8_t k1[16], k2[16], k3[16], lo[16], hi[16];
    size_t l1 = s_meta(k1, "rrA"), l2 = s_meta(k2, "rrB"), l3 = s_meta(k3, "rrC");
    size_t llo = s_meta(lo, "rr"), lhi = s_meta(hi, "rs");
    char got[256] = "";

    /* Only metadata keys may be staged. */
    hb_key_t user;
    s_key(&user, "a");
    ck_assert_int_eq(stor_engine_stage_meta(eng, user.buf, user.len, "x", 1), HB_INVALID);

    /* Staged writes are invisible until a flush, survive a discard, and
     * apply in order (put then delete of one key: deleted). */
    ck_assert_int_eq(stor_engine_stage_meta(eng, k1, l1, "1", 1), HB_OK);
    ck_assert_int_eq(stor_engine_stage_meta(eng, k2, l2, "2", 1), HB_OK);
    ck_assert_int_eq(stor_engine_stage_meta(eng, k3, l3, "3", 1), HB_OK);
    ck_assert_int_eq(stor_engine_stage_meta(eng, k2, l2, NULL, 0), HB_OK);
    ck_assert_uint_eq(stor_engine_staged(eng), 4);
    ck_assert_int_eq(stor_engine_meta_scan(eng, lo, llo, hi, lhi, s_collect, got), HB_OK);
    ck_assert_str_eq(got, "");
    stor_engine_discard_overlay(eng);
    s_put(eng, 1, "a", "v");
    ck_assert_int_eq(stor_engine_flush(eng, 1), HB_OK);
    ck_assert_uint_eq(stor_engine_staged(eng), 0);
    ck_assert_int_eq(stor_engine_meta_scan(eng, lo, llo, hi, lhi, s_collect, got), HB_OK);
    ck_assert_str_eq(got, "rrA=1;rrC=3;");

    /* The range end is exclusive; staged metadata does not change the
     * state hash; it is durable across a reopen. */
    got[0] = '\0';
    ck_assert_int_eq(stor_engine_meta_scan(eng, lo, llo, k3, l3, s_collect, got), HB_OK);
    ck_assert_str_eq(got, "rrA=1;");
    ck_assert_uint_eq(s_scan(eng), stor_engine_state_hash(eng));
    ck_assert_int_eq(stor_engine_stage_meta(eng, k1, l1, NULL, 0), HB_OK);
    stor_engine_destroy(&eng);
    eng = stor_engine_open(s_dir); /* the staged delete was never flushed */
    ck_assert_ptr_nonnull(eng);
    ck_assert_uint_eq(stor_engine_staged(eng), 0);
    got[0] = '\0';
    ck_assert_int_eq(stor_engine_meta_scan(eng, lo, llo, hi, lhi, s_collect, got), HB_OK);
    ck_assert_str_eq(got, "rrA=1;rrC=3;");
    ck_assert_int_eq(
        stor_engine_meta_scan(eng, user.buf, user.len, hi, lhi, s_collect, got),
        HB_INVALID);
    stor_engine_destroy(&eng);
}
END_TEST

/* xorshift64*, for the randomised test only. */
static uint64_t
s_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

START_TEST(test_engine_hash_order_independent)
{
    uint64_t seed = 0x5eed1234abcdULL;
    const char *env = getenv("HOBBES_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    printf("test_engine_hash_order_independent: HOBBES_SEED=%" PRIu64 "\n", seed);
    fflush(stdout);
    uint64_t rng = seed ? seed : 1;

    enum { NKEYS = 200 };
    char names[NKEYS][16], finals[NKEYS][24];
    for (int i = 0; i < NKEYS; i++) {
        snprintf(names[i], sizeof names[i], "key%d", i);
        snprintf(finals[i], sizeof finals[i], "v%" PRIu64, s_rand(&rng) % 100000);
    }

    char dir_b[256];
    snprintf(dir_b, sizeof dir_b, "%s/b", s_dir);
    char dir_a[256];
    snprintf(dir_a, sizeof dir_a, "%s/a", s_dir);
    stor_engine_t *a = stor_engine_open(dir_a);
    stor_engine_t *b = stor_engine_open(dir_b);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);

    /* A: final values in key order, one epoch, one flush. */
    for (int i = 0; i < NKEYS; i++)
        s_put(a, 1, names[i], finals[i]);
    ck_assert_int_eq(stor_engine_flush(a, 1), HB_OK);

    /* B: shuffled order, junk values and deletes first, random flush splits. */
    int order[NKEYS];
    for (int i = 0; i < NKEYS; i++)
        order[i] = i;
    for (int i = NKEYS - 1; i > 0; i--) {
        int j = (int)(s_rand(&rng) % (uint64_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    uint64_t epoch = 1;
    for (int n = 0; n < NKEYS; n++) {
        int i = order[n];
        if (s_rand(&rng) % 2)
            s_put(b, epoch, names[i], "junk");
        if (s_rand(&rng) % 3 == 0)
            s_del(b, epoch, names[i]);
        if (s_rand(&rng) % 4 == 0) {
            ck_assert_int_eq(stor_engine_flush(b, epoch), HB_OK);
            epoch++;
        }
        s_put(b, epoch, names[i], finals[i]);
        if (s_rand(&rng) % 5 == 0)
            epoch++;
    }
    ck_assert_int_eq(stor_engine_flush(b, epoch), HB_OK);

    uint64_t h = stor_engine_state_hash(a);
    ck_assert_uint_ne(h, 0);
    ck_assert_uint_eq(stor_engine_state_hash(b), h);
    ck_assert_uint_eq(s_scan(a), h);
    ck_assert_uint_eq(s_scan(b), h);

    /* Adding keys then deleting them returns the hash to the same value. */
    s_put(b, epoch + 1, "extra1", "e");
    s_put(b, epoch + 1, "extra2", "f");
    ck_assert_int_eq(stor_engine_flush(b, epoch + 1), HB_OK);
    ck_assert_uint_ne(stor_engine_state_hash(b), h);
    s_del(b, epoch + 2, "extra2");
    s_del(b, epoch + 3, "extra1");
    ck_assert_int_eq(stor_engine_flush(b, epoch + 3), HB_OK);
    ck_assert_uint_eq(stor_engine_state_hash(b), h);
    ck_assert_uint_eq(s_scan(b), h);

    stor_engine_destroy(&a);
    stor_engine_destroy(&b);
    leveldb_options_t *opts = leveldb_options_create();
    char *err = NULL;
    leveldb_destroy_db(opts, dir_a, &err);
    leveldb_free(err);
    err = NULL;
    leveldb_destroy_db(opts, dir_b, &err);
    leveldb_free(err);
    leveldb_options_destroy(opts);
    rmdir(dir_a);
    rmdir(dir_b);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("engine");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_engine_overlay_put_get", test_engine_overlay_put_get},
        {"test_engine_flush_records_applied_epoch",
         test_engine_flush_records_applied_epoch},
        {"test_engine_reopen_preserves_state", test_engine_reopen_preserves_state},
        {"test_engine_later_epoch_survives_flush",
         test_engine_later_epoch_survives_flush},
        {"test_engine_discard_overlay", test_engine_discard_overlay},
        {"test_engine_hash_order_independent", test_engine_hash_order_independent},
        {"test_engine_staged_meta_flush_atomically",
         test_engine_staged_meta_flush_atomically},
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
