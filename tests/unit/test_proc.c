/* test_proc.c — unit tests of the native procedure catalog (hb_proc).
 *
 * Checks the catalog lookups; every procedure's arity and argument-type
 * errors (HB_INVALID with the user-facing message, lock set unchanged);
 * the lock sets each plan derives (modes, keys byte-equal to the hb_key_kv /
 * hb_key_micro encodings, partitions equal to hb_key_partition and in
 * range); hb_lockset_add dedup and growth; and determinism: the same
 * arguments always give byte-identical lock sets (random ids, seeded;
 * HOBBES_SEED=). YCSB: ycsb.read takes READ locks on 1..16 keys, update,
 * rmw and insert WRITE locks on HB_TABLE_YCSB keys; bad arity, FIELD and
 * VALUE types are refused with the lock set unchanged.
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_key.h"
#include "hb_mp.h"
#include "hb_proc.h"

static uint64_t s_seed;

static uint64_t
s_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static hb_val_t
s_str(const char *s)
{
    return hb_val_str(s, (uint32_t)strlen(s));
}

/* Plans proc by name; returns rc and leaves the message in err. */
static hb_rc_t
s_plan(const char *name, const hb_val_t *args, uint32_t nargs, uint32_t nparts,
       hb_lockset_t *ls, char *err, size_t errlen)
{
    const hb_proc_def_t *def = hb_proc_find(name, strlen(name));
    ck_assert_ptr_nonnull(def);
    return hb_proc_plan(def, args, nargs, nparts, ls, err, errlen);
}

/* Asserts that planning fails with HB_INVALID and exactly message want, and
 * leaves a lock set that held one lock unchanged. */
static void
s_expect_invalid(const char *name, const hb_val_t *args, uint32_t nargs, const char *want)
{
    hb_lockset_t ls;
    char err[256] = "";
    hb_lockset_init(&ls);
    hb_lockset_add(&ls, 0, HB_LOCK_READ, "k", 1);
    ck_assert_int_eq(s_plan(name, args, nargs, 4, &ls, err, sizeof err), HB_INVALID);
    ck_assert_str_eq(err, want);
    ck_assert_uint_eq(ls.n, 1);
    ck_assert_uint_eq(ls.keylen, 1);
    ck_assert_int_eq(ls.locks[0].mode, HB_LOCK_READ);
    hb_lockset_clear(&ls);
}

/* Asserts lock i is (mode, key, hb_key_partition(key)). */
static void
s_expect_lock(const hb_lockset_t *ls, uint32_t i, hb_lock_mode_t mode, const hb_key_t *k,
              uint32_t nparts)
{
    ck_assert_uint_lt(i, ls->n);
    const hb_lock_t *l = &ls->locks[i];
    ck_assert_int_eq(l->mode, mode);
    ck_assert_uint_eq(l->len, k->len);
    ck_assert_int_eq(memcmp(l->key, k->buf, k->len), 0);
    ck_assert_uint_eq(l->partition, hb_key_partition(k->buf, k->len, nparts));
    ck_assert_uint_lt(l->partition, nparts);
}

/* Serialises a lock set to bytes for byte-exact comparison. */
static size_t
s_serialise(const hb_lockset_t *ls, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ls->n; i++) {
        const hb_lock_t *l = &ls->locks[i];
        ck_assert_uint_le(n + 7 + l->len, cap);
        out[n++] = (uint8_t)(l->partition >> 8);
        out[n++] = (uint8_t)l->partition;
        out[n++] = l->mode;
        for (int s = 24; s >= 0; s -= 8)
            out[n++] = (uint8_t)(l->len >> s);
        memcpy(out + n, l->key, l->len);
        n += l->len;
    }
    return n;
}

START_TEST(test_proc_catalog)
{
    const char *names[HB_PROC_COUNT_] = {
        "kv.get",    "kv.put",         "kv.add",       "kv.transfer",  "micro.rmw",
        "ycsb.read", "ycsb.update",    "ycsb.insert",  "ycsb.rmw",     "sql.exec",
        "sql.ddl",   "tpcc.new_order", "tpcc.payment", "tpcc.delivery"};
    for (int i = 0; i < HB_PROC_COUNT_; i++) {
        const hb_proc_def_t *d = hb_proc_find(names[i], strlen(names[i]));
        ck_assert_ptr_nonnull(d);
        ck_assert_str_eq(d->name, names[i]);
        ck_assert_int_eq(d->id, i);
        ck_assert_ptr_eq(hb_proc_by_id((hb_proc_id_t)i), d);
        ck_assert_ptr_nonnull(d->plan);
        ck_assert_int_eq(strncmp(d->usage, names[i], strlen(names[i])), 0);
    }
    ck_assert_ptr_null(hb_proc_by_id(HB_PROC_COUNT_));
    ck_assert_ptr_null(hb_proc_find("kv", 2));
    ck_assert_ptr_null(hb_proc_find("kv.gets", 7));
    ck_assert_ptr_null(hb_proc_find("KV.GET", 6));
    ck_assert_ptr_null(hb_proc_find("", 0));
    /* Length-delimited: a longer buffer with the name as prefix matches. */
    ck_assert_ptr_eq(hb_proc_find("kv.getXYZ", 6), hb_proc_by_id(HB_PROC_KV_GET));
    ck_assert_uint_eq(hb_proc_by_id(HB_PROC_MICRO_RMW)->min_args, HB_MICRO_KEYS);
    ck_assert_uint_eq(hb_proc_by_id(HB_PROC_KV_TRANSFER)->max_args, 3);
}
END_TEST

START_TEST(test_proc_arity)
{
    hb_val_t a[12];
    for (int i = 0; i < 12; i++)
        a[i] = hb_val_int(i);
    s_expect_invalid("kv.get", a, 0, "kv.get: usage: kv.get KEY");
    s_expect_invalid("kv.get", a, 2, "kv.get: usage: kv.get KEY");
    s_expect_invalid("kv.put", a, 1, "kv.put: usage: kv.put KEY VALUE");
    s_expect_invalid("kv.put", a, 3, "kv.put: usage: kv.put KEY VALUE");
    s_expect_invalid("kv.add", a, 1, "kv.add: usage: kv.add KEY DELTA");
    s_expect_invalid("kv.add", a, 3, "kv.add: usage: kv.add KEY DELTA");
    s_expect_invalid("kv.transfer", a, 2,
                     "kv.transfer: usage: kv.transfer FROM TO AMOUNT");
    s_expect_invalid("kv.transfer", a, 4,
                     "kv.transfer: usage: kv.transfer FROM TO AMOUNT");
    s_expect_invalid("micro.rmw", a, 9, "micro.rmw: usage: micro.rmw ID1 .. ID10");
    s_expect_invalid("micro.rmw", a, 11, "micro.rmw: usage: micro.rmw ID1 .. ID10");

    /* The plan functions check arity themselves when called directly. */
    hb_lockset_t ls;
    char err[128];
    hb_lockset_init(&ls);
    const hb_proc_def_t *d = hb_proc_by_id(HB_PROC_KV_TRANSFER);
    ck_assert_int_eq(d->plan(a, 1, 4, &ls, err, sizeof err), HB_INVALID);
    ck_assert_uint_eq(ls.n, 0);
    ck_assert_int_eq(hb_proc_plan(NULL, a, 1, 4, &ls, err, sizeof err), HB_INVALID);
    /* A zero partition count is refused, not divided by. */
    ck_assert_int_eq(s_plan("kv.get", a, 1, 0, &ls, err, sizeof err), HB_INVALID);
    ck_assert_uint_eq(ls.n, 0);
    hb_lockset_clear(&ls);
}
END_TEST

START_TEST(test_proc_types)
{
    static uint8_t big[600];
    memset(big, 'k', sizeof big);
    hb_val_t key = s_str("k");

    /* KEY: str, bin or int; 1..512 bytes. */
    hb_val_t bad_keys[] = {hb_val_nil(), hb_val_bool(true), hb_val_double(1.5)};
    for (size_t i = 0; i < 3; i++) {
        s_expect_invalid("kv.get", &bad_keys[i], 1,
                         "kv.get: KEY must be a string, bytes or an integer");
        hb_val_t a[2] = {bad_keys[i], hb_val_int(1)};
        s_expect_invalid("kv.put", a, 2,
                         "kv.put: KEY must be a string, bytes or an integer");
        s_expect_invalid("kv.add", a, 2,
                         "kv.add: KEY must be a string, bytes or an integer");
    }
    hb_val_t empty = s_str("");
    s_expect_invalid("kv.get", &empty, 1, "kv.get: KEY must be 1..512 bytes (got 0)");
    hb_val_t huge = hb_val_bin(big, 513);
    s_expect_invalid("kv.get", &huge, 1, "kv.get: KEY must be 1..512 bytes (got 513)");

    /* VALUE: int, str or bin. */
    hb_val_t put[2] = {key, hb_val_nil()};
    s_expect_invalid("kv.put", put, 2,
                     "kv.put: VALUE must be an integer, a string or bytes");
    put[1] = hb_val_double(2.0);
    s_expect_invalid("kv.put", put, 2,
                     "kv.put: VALUE must be an integer, a string or bytes");

    /* DELTA: int. */
    hb_val_t add[2] = {key, s_str("1")};
    s_expect_invalid("kv.add", add, 2, "kv.add: DELTA must be an integer");
    add[1] = hb_val_double(1.0);
    s_expect_invalid("kv.add", add, 2, "kv.add: DELTA must be an integer");

    /* kv.transfer: keys, AMOUNT int >= 0, FROM != TO (as encoded keys). */
    hb_val_t tr[3] = {s_str("a"), s_str("b"), hb_val_int(-1)};
    s_expect_invalid("kv.transfer", tr, 3, "kv.transfer: AMOUNT must be an integer >= 0");
    tr[2] = s_str("5");
    s_expect_invalid("kv.transfer", tr, 3, "kv.transfer: AMOUNT must be an integer >= 0");
    tr[2] = hb_val_int(5);
    tr[1] = s_str("a");
    s_expect_invalid("kv.transfer", tr, 3,
                     "kv.transfer: FROM and TO must be different keys");
    tr[0] = hb_val_int(7);
    tr[1] = s_str("7");
    s_expect_invalid("kv.transfer", tr, 3,
                     "kv.transfer: FROM and TO must be different keys");
    tr[1] = hb_val_bool(false);
    s_expect_invalid("kv.transfer", tr, 3,
                     "kv.transfer: TO must be a string, bytes or an integer");
    tr[0] = hb_val_nil();
    s_expect_invalid("kv.transfer", tr, 3,
                     "kv.transfer: FROM must be a string, bytes or an integer");

    /* micro.rmw: 10 distinct ints >= 0. */
    hb_val_t ids[HB_MICRO_KEYS];
    for (int i = 0; i < HB_MICRO_KEYS; i++)
        ids[i] = hb_val_int(i * 3);
    ids[4] = hb_val_int(-2);
    s_expect_invalid("micro.rmw", ids, HB_MICRO_KEYS,
                     "micro.rmw: ID5 must be an integer >= 0");
    ids[4] = s_str("12");
    s_expect_invalid("micro.rmw", ids, HB_MICRO_KEYS,
                     "micro.rmw: ID5 must be an integer >= 0");
    ids[4] = hb_val_int(3);
    s_expect_invalid("micro.rmw", ids, HB_MICRO_KEYS,
                     "micro.rmw: ID2 and ID5 are both 3 (ids must be distinct)");
}
END_TEST

START_TEST(test_proc_kv_locks)
{
    const uint32_t nparts_list[] = {1, 2, 3, 7, 64, 1024};
    for (size_t pi = 0; pi < sizeof nparts_list / sizeof *nparts_list; pi++) {
        uint32_t np = nparts_list[pi];
        hb_lockset_t ls;
        hb_key_t k, k2;
        char err[128] = "";

        /* kv.get: one READ lock on the kv key. */
        hb_lockset_init(&ls);
        hb_val_t g = s_str("alice");
        ck_assert_int_eq(s_plan("kv.get", &g, 1, np, &ls, err, sizeof err), HB_OK);
        hb_key_kv(&k, "alice", 5);
        ck_assert_uint_eq(ls.n, 1);
        s_expect_lock(&ls, 0, HB_LOCK_READ, &k, np);
        hb_lockset_clear(&ls);

        /* An int key is its decimal string; bin keys with zero bytes work. */
        hb_val_t gi = hb_val_int(-42);
        ck_assert_int_eq(s_plan("kv.get", &gi, 1, np, &ls, err, sizeof err), HB_OK);
        hb_key_kv(&k, "-42", 3);
        s_expect_lock(&ls, 0, HB_LOCK_READ, &k, np);
        hb_lockset_clear(&ls);
        hb_val_t gb = hb_val_bin("a\0b", 3);
        ck_assert_int_eq(s_plan("kv.get", &gb, 1, np, &ls, err, sizeof err), HB_OK);
        hb_key_kv(&k, "a\0b", 3);
        s_expect_lock(&ls, 0, HB_LOCK_READ, &k, np);
        hb_lockset_clear(&ls);

        /* kv.put / kv.add: one WRITE lock. */
        hb_val_t pa[2] = {s_str("bob"), s_str("v")};
        ck_assert_int_eq(s_plan("kv.put", pa, 2, np, &ls, err, sizeof err), HB_OK);
        hb_key_kv(&k, "bob", 3);
        ck_assert_uint_eq(ls.n, 1);
        s_expect_lock(&ls, 0, HB_LOCK_WRITE, &k, np);
        hb_lockset_clear(&ls);
        pa[1] = hb_val_int(-5);
        ck_assert_int_eq(s_plan("kv.add", pa, 2, np, &ls, err, sizeof err), HB_OK);
        ck_assert_uint_eq(ls.n, 1);
        s_expect_lock(&ls, 0, HB_LOCK_WRITE, &k, np);
        hb_lockset_clear(&ls);

        /* kv.transfer: WRITE on FROM then TO; AMOUNT 0 is allowed. */
        hb_val_t tr[3] = {s_str("from"), hb_val_int(9), hb_val_int(0)};
        ck_assert_int_eq(s_plan("kv.transfer", tr, 3, np, &ls, err, sizeof err), HB_OK);
        hb_key_kv(&k, "from", 4);
        hb_key_kv(&k2, "9", 1);
        ck_assert_uint_eq(ls.n, 2);
        s_expect_lock(&ls, 0, HB_LOCK_WRITE, &k, np);
        s_expect_lock(&ls, 1, HB_LOCK_WRITE, &k2, np);
        hb_lockset_clear(&ls);
    }

    /* A 512-byte key is accepted and encodes to at most HB_KEY_MAX. */
    static uint8_t big[512];
    memset(big, 'z', sizeof big);
    hb_lockset_t ls;
    char err[128];
    hb_lockset_init(&ls);
    hb_val_t b = hb_val_bin(big, sizeof big);
    ck_assert_int_eq(s_plan("kv.get", &b, 1, 8, &ls, err, sizeof err), HB_OK);
    ck_assert_uint_eq(ls.n, 1);
    ck_assert_uint_le(ls.locks[0].len, HB_KEY_MAX);
    hb_lockset_clear(&ls);
}
END_TEST

START_TEST(test_proc_micro_locks)
{
    hb_val_t ids[HB_MICRO_KEYS];
    const int64_t v[HB_MICRO_KEYS] = {5, 0, 99, 1000000, 7, 3, INT64_MAX, 12, 13, 1};
    for (int i = 0; i < HB_MICRO_KEYS; i++)
        ids[i] = hb_val_int(v[i]);
    for (uint32_t np = 1; np <= 17; np += 4) {
        hb_lockset_t ls;
        char err[128] = "";
        hb_lockset_init(&ls);
        ck_assert_int_eq(
            s_plan("micro.rmw", ids, HB_MICRO_KEYS, np, &ls, err, sizeof err), HB_OK);
        ck_assert_uint_eq(ls.n, HB_MICRO_KEYS);
        for (uint32_t i = 0; i < HB_MICRO_KEYS; i++) {
            hb_key_t k;
            hb_key_micro(&k, v[i]);
            s_expect_lock(&ls, i, HB_LOCK_WRITE, &k, np);
        }
        hb_lockset_clear(&ls);
    }
}
END_TEST

START_TEST(test_proc_lockset_dedup)
{
    hb_lockset_t ls;
    hb_lockset_init(&ls);
    ck_assert_uint_eq(ls.n, 0);
    hb_lockset_add(&ls, 1, HB_LOCK_READ, "aa", 2);
    hb_lockset_add(&ls, 0, HB_LOCK_WRITE, "b", 1);
    hb_lockset_add(&ls, 1, HB_LOCK_WRITE, "aa", 2); /* upgrade */
    hb_lockset_add(&ls, 0, HB_LOCK_READ, "b", 1);   /* no downgrade */
    hb_lockset_add(&ls, 1, HB_LOCK_READ, "a", 1);   /* a prefix is another key */
    ck_assert_uint_eq(ls.n, 3);
    ck_assert_uint_eq(ls.keylen, 4);
    ck_assert_int_eq(ls.locks[0].mode, HB_LOCK_WRITE);
    ck_assert_int_eq(memcmp(ls.locks[0].key, "aa", 2), 0);
    ck_assert_int_eq(ls.locks[1].mode, HB_LOCK_WRITE);
    ck_assert_int_eq(memcmp(ls.locks[1].key, "b", 1), 0);
    ck_assert_int_eq(ls.locks[2].mode, HB_LOCK_READ);
    ck_assert_uint_eq(ls.locks[2].len, 1);
    hb_lockset_clear(&ls);
    ck_assert_uint_eq(ls.n, 0);
    ck_assert_ptr_null(ls.locks);
    ck_assert_ptr_null(ls.keybuf);

    /* Across plans: kv.get then kv.put of one key gives one WRITE lock. */
    char err[128];
    hb_val_t g = s_str("x");
    hb_val_t p[2] = {s_str("x"), hb_val_int(1)};
    ck_assert_int_eq(s_plan("kv.get", &g, 1, 4, &ls, err, sizeof err), HB_OK);
    ck_assert_int_eq(s_plan("kv.put", p, 2, 4, &ls, err, sizeof err), HB_OK);
    ck_assert_uint_eq(ls.n, 1);
    ck_assert_int_eq(ls.locks[0].mode, HB_LOCK_WRITE);
    hb_lockset_clear(&ls);

    /* Growth: keys survive reallocation of both arrays, in order. */
    for (uint32_t i = 0; i < 2000; i++) {
        char key[64];
        int n = snprintf(key, sizeof key, "key-%" PRIu32 "-%0*u", i, (int)(i % 40), 0u);
        hb_lockset_add(&ls, (uint16_t)(i % 7), (hb_lock_mode_t)(i % 2), key, (size_t)n);
        if (i % 3 == 0) /* duplicate, must not grow the set */
            hb_lockset_add(&ls, (uint16_t)(i % 7), HB_LOCK_READ, key, (size_t)n);
    }
    ck_assert_uint_eq(ls.n, 2000);
    size_t total = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        char key[64];
        int n = snprintf(key, sizeof key, "key-%" PRIu32 "-%0*u", i, (int)(i % 40), 0u);
        ck_assert_uint_eq(ls.locks[i].len, (uint32_t)n);
        ck_assert_int_eq(memcmp(ls.locks[i].key, key, (size_t)n), 0);
        ck_assert_uint_eq(ls.locks[i].partition, i % 7);
        ck_assert_int_eq(ls.locks[i].mode, (int)(i % 2));
        total += (size_t)n;
    }
    ck_assert_uint_eq(ls.keylen, total);
    hb_lockset_clear(&ls);
    hb_lockset_clear(&ls); /* idempotent */
}
END_TEST

START_TEST(test_proc_deterministic)
{
    uint64_t st = s_seed;
    static uint8_t a[1 << 16], b[1 << 16];
    for (int round = 0; round < 500; round++) {
        hb_val_t ids[HB_MICRO_KEYS];
        for (int i = 0; i < HB_MICRO_KEYS; i++)
            ids[i] = hb_val_int((int64_t)(s_rand(&st) >> 1)); /* >= 0 */
        uint32_t np = 1 + (uint32_t)(s_rand(&st) % 1024);
        hb_lockset_t l1, l2;
        char err[128];
        hb_lockset_init(&l1);
        hb_lockset_init(&l2);
        hb_rc_t r1 = s_plan("micro.rmw", ids, HB_MICRO_KEYS, np, &l1, err, sizeof err);
        hb_rc_t r2 = s_plan("micro.rmw", ids, HB_MICRO_KEYS, np, &l2, err, sizeof err);
        ck_assert_int_eq(r1, r2);
        /* Also a transfer between two random keys, into the same sets. */
        char k1[32], k2[32];
        snprintf(k1, sizeof k1, "acct%" PRIu64, s_rand(&st) % 1000);
        snprintf(k2, sizeof k2, "acct%" PRIu64, 1000 + s_rand(&st) % 1000);
        hb_val_t tr[3] = {s_str(k1), s_str(k2), hb_val_int(10)};
        ck_assert_int_eq(s_plan("kv.transfer", tr, 3, np, &l1, err, sizeof err), HB_OK);
        ck_assert_int_eq(s_plan("kv.transfer", tr, 3, np, &l2, err, sizeof err), HB_OK);
        size_t n1 = s_serialise(&l1, a, sizeof a);
        size_t n2 = s_serialise(&l2, b, sizeof b);
        ck_assert_uint_eq(n1, n2);
        ck_assert_msg(memcmp(a, b, n1) == 0, "lock sets differ (seed %" PRIu64 ")",
                      s_seed);
        for (uint32_t i = 0; i < l1.n; i++)
            ck_assert_uint_lt(l1.locks[i].partition, np);
        hb_lockset_clear(&l1);
        hb_lockset_clear(&l2);
    }

    /* Known partition of a fixed key stays fixed: same bytes every call. */
    hb_val_t g = s_str("stable");
    hb_lockset_t l1, l2;
    char err[128];
    hb_lockset_init(&l1);
    hb_lockset_init(&l2);
    ck_assert_int_eq(s_plan("kv.get", &g, 1, 16, &l1, err, sizeof err), HB_OK);
    ck_assert_int_eq(s_plan("kv.get", &g, 1, 16, &l2, err, sizeof err), HB_OK);
    ck_assert_uint_eq(s_serialise(&l1, a, sizeof a), s_serialise(&l2, b, sizeof b));
    ck_assert_int_eq(memcmp(a, b, 7 + l1.locks[0].len), 0);
    hb_lockset_clear(&l1);
    hb_lockset_clear(&l2);
}
END_TEST

/* The encoded ycsb-table key of a user key. */
static void
s_ycsb_key(hb_key_t *k, const char *user)
{
    hb_key_init(k, HB_TABLE_YCSB);
    hb_key_put_str(k, user, strlen(user));
}

START_TEST(test_proc_ycsb_locks)
{
    hb_lockset_t ls;
    char err[256];
    hb_key_t k;
    hb_lockset_init(&ls);

    /* ycsb.read: one READ lock per key, in argument order. */
    hb_val_t rd[3] = {s_str("user1"), s_str("user2"), hb_val_bin("user3", 5)};
    ck_assert_int_eq(s_plan("ycsb.read", rd, 3, 8, &ls, err, sizeof err), HB_OK);
    ck_assert_uint_eq(ls.n, 3);
    const char *users[3] = {"user1", "user2", "user3"};
    for (uint32_t i = 0; i < 3; i++) {
        s_ycsb_key(&k, users[i]);
        s_expect_lock(&ls, i, HB_LOCK_READ, &k, 8);
    }
    /* Table id 3 in the first 4 bytes, distinct from the kv table's key. */
    ck_assert_int_eq(ls.locks[0].key[3], HB_TABLE_YCSB);
    hb_key_kv(&k, "user1", 5);
    ck_assert_int_ne(memcmp(ls.locks[0].key, k.buf, 4), 0);

    /* ycsb.update / ycsb.rmw: one WRITE lock per triple. */
    hb_val_t up[6] = {s_str("a"), hb_val_int(0), s_str("x"),
                      s_str("b"), hb_val_int(9), hb_val_bin("y", 1)};
    const char *wprocs[2] = {"ycsb.update", "ycsb.rmw"};
    for (int p = 0; p < 2; p++) {
        hb_lockset_reset(&ls);
        ck_assert_int_eq(s_plan(wprocs[p], up, 6, 4, &ls, err, sizeof err), HB_OK);
        ck_assert_uint_eq(ls.n, 2);
        s_ycsb_key(&k, "a");
        s_expect_lock(&ls, 0, HB_LOCK_WRITE, &k, 4);
        s_ycsb_key(&k, "b");
        s_expect_lock(&ls, 1, HB_LOCK_WRITE, &k, 4);
    }

    /* ycsb.insert: one WRITE lock on KEY whatever the field count. */
    hb_val_t ins[65];
    ins[0] = s_str("user42");
    for (int i = 1; i < 65; i++)
        ins[i] = hb_val_bin("vvvv", 4);
    hb_lockset_reset(&ls);
    ck_assert_int_eq(s_plan("ycsb.insert", ins, 65, 4, &ls, err, sizeof err), HB_OK);
    ck_assert_uint_eq(ls.n, 1);
    s_ycsb_key(&k, "user42");
    s_expect_lock(&ls, 0, HB_LOCK_WRITE, &k, 4);
    hb_lockset_clear(&ls);
}
END_TEST

START_TEST(test_proc_ycsb_invalid)
{
    hb_val_t a[20];
    for (int i = 0; i < 20; i++)
        a[i] = s_str("k");
    s_expect_invalid("ycsb.read", a, 0, "ycsb.read: usage: ycsb.read KEY [KEY ...]");
    s_expect_invalid("ycsb.read", a, 17, "ycsb.read: usage: ycsb.read KEY [KEY ...]");
    hb_val_t bad_key[1] = {hb_val_int(5)};
    s_expect_invalid("ycsb.read", bad_key, 1,
                     "ycsb.read: argument 1 (KEY) must be a string or bytes");
    hb_val_t empty[1] = {s_str("")};
    s_expect_invalid("ycsb.read", empty, 1,
                     "ycsb.read: argument 1 (KEY) must be 1..512 bytes");
    /* Triples: the count must be a multiple of 3. */
    hb_val_t up[4] = {s_str("k"), hb_val_int(1), s_str("v"), s_str("k2")};
    s_expect_invalid(
        "ycsb.update", up, 4,
        "ycsb.update: usage: ycsb.update KEY FIELD VALUE [KEY FIELD VALUE ...] "
        "(1..16 records)");
    hb_val_t badf[3] = {s_str("k"), hb_val_int(64), s_str("v")};
    s_expect_invalid("ycsb.update", badf, 3,
                     "ycsb.update: argument 2 (FIELD) must be an integer 0..63");
    hb_val_t negf[3] = {s_str("k"), hb_val_int(-1), s_str("v")};
    s_expect_invalid("ycsb.rmw", negf, 3,
                     "ycsb.rmw: argument 2 (FIELD) must be an integer 0..63");
    hb_val_t badv[3] = {s_str("k"), hb_val_int(1), hb_val_int(7)};
    s_expect_invalid("ycsb.rmw", badv, 3,
                     "ycsb.rmw: argument 3 (VALUE) must be a string or bytes");
    s_expect_invalid("ycsb.insert", a, 1,
                     "ycsb.insert: usage: ycsb.insert KEY V0 .. Vn-1");
    hb_val_t insv[3] = {s_str("k"), s_str("v0"), hb_val_int(1)};
    s_expect_invalid("ycsb.insert", insv, 3,
                     "ycsb.insert: argument 3 (V1) must be a string or bytes");
    /* A second record that is bad leaves no lock for the first either. */
    hb_val_t two[6] = {s_str("ok"), hb_val_int(0),     s_str("v"),
                       s_str("k"),  hb_val_bool(true), s_str("v")};
    s_expect_invalid("ycsb.update", two, 6,
                     "ycsb.update: argument 5 (FIELD) must be an integer 0..63");
    hb_val_t dbl[3] = {s_str("k"), hb_val_double(1.0), s_str("v")};
    s_expect_invalid("ycsb.update", dbl, 3,
                     "ycsb.update: argument 2 (FIELD) must be an integer 0..63");
}
END_TEST

/* ------------------------------------------------------------------ */
/* SQL procedures                                                       */
/* ------------------------------------------------------------------ */

/* A user-table key [table][id][sub]; its partition key is the first 12
 * bytes (table id + id). */
static void
s_user_key(hb_key_t *k, uint32_t table, int64_t id, int64_t sub)
{
    hb_key_init(k, table);
    hb_key_put_i64(k, id);
    hb_key_put_i64(k, sub);
}

#define S_PLEN 12

/* Appends one op of kind with the fields each kind has (hb_proc.h). */
static void
s_pack_op(msgpack_packer *pk, int kind, const hb_key_t *k, uint64_t plen)
{
    static const uint32_t nfields[] = {3, 9, 6, 5, 4};
    msgpack_pack_array(pk, nfields[kind]);
    msgpack_pack_uint8(pk, (uint8_t)kind);
    hb_mp_pack_bin(pk, k->buf, k->len);
    msgpack_pack_uint64(pk, plen);
    switch (kind) {
    case HB_SQLOP_INSERT:
        hb_mp_pack_cstr(pk, "t");
        hb_mp_pack_bin(pk, "\x91\x01", 2);
        msgpack_pack_uint8(pk, 0);
        msgpack_pack_array(pk, 0);
        msgpack_pack_nil(pk);
        msgpack_pack_false(pk);
        break;
    case HB_SQLOP_UPDATE:
        msgpack_pack_nil(pk);
        msgpack_pack_array(pk, 0);
        msgpack_pack_false(pk);
        break;
    case HB_SQLOP_DELETE:
        msgpack_pack_nil(pk);
        msgpack_pack_false(pk);
        break;
    case HB_SQLOP_CHECK:
        msgpack_pack_nil(pk);
        break;
    default:
        break;
    }
}

/* Asserts lock i is (mode, key k) on partition hb_key_partition(k, plen). */
static void
s_expect_sql_lock(const hb_lockset_t *ls, uint32_t i, hb_lock_mode_t mode,
                  const hb_key_t *k, size_t plen, uint32_t nparts)
{
    ck_assert_uint_lt(i, ls->n);
    const hb_lock_t *l = &ls->locks[i];
    ck_assert_int_eq(l->mode, mode);
    ck_assert_uint_eq(l->len, k->len);
    ck_assert_int_eq(memcmp(l->key, k->buf, k->len), 0);
    ck_assert_uint_eq(l->partition, hb_key_partition(k->buf, plen, nparts));
}

/* Asserts that locks from..n-1 are exactly one READ lock on the catalog
 * version record of each partition that locks 0..from-1 touch, ascending. */
static void
s_expect_catalog_locks(const hb_lockset_t *ls, uint32_t from, uint32_t nparts)
{
    uint32_t at = from;
    for (uint32_t p = 0; p < nparts; p++) {
        bool touched = false;
        for (uint32_t i = 0; i < from; i++)
            touched = touched || ls->locks[i].partition == p;
        if (!touched)
            continue;
        hb_key_t k;
        hb_key_catalog(&k, (uint16_t)p, "", 0);
        ck_assert_msg(at < ls->n, "no catalog lock for partition %u", p);
        const hb_lock_t *l = &ls->locks[at++];
        ck_assert_int_eq(l->mode, HB_LOCK_READ);
        ck_assert_uint_eq(l->partition, p);
        ck_assert_uint_eq(l->len, k.len);
        ck_assert_int_eq(memcmp(l->key, k.buf, k.len), 0);
    }
    ck_assert_msg(at == ls->n, "%u locks, %u expected", ls->n, at);
}

START_TEST(test_proc_sql_exec_locks)
{
    const uint32_t nparts_list[] = {1, 2, 4, 7, 16, 1000};
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    hb_key_t k[7];
    s_user_key(&k[0], HB_TABLE_USER_FIRST, 1, 0);
    s_user_key(&k[1], HB_TABLE_USER_FIRST, 2, 0);
    s_user_key(&k[2], HB_TABLE_USER_FIRST + 7, 3, 9);
    s_user_key(&k[3], UINT32_MAX, -4, 1);
    s_user_key(&k[4], HB_TABLE_USER_FIRST, 1, 5); /* same partition key as k[0] */
    s_user_key(&k[5], HB_TABLE_USER_FIRST + 1, 99, 0);
    for (size_t pi = 0; pi < sizeof nparts_list / sizeof *nparts_list; pi++) {
        uint32_t np = nparts_list[pi];
        /* GET k0, INSERT k1, UPDATE k2, DELETE k3, GET k4, GET k1 again,
         * CHECK k5. */
        sb.size = 0;
        msgpack_pack_array(&pk, 7);
        s_pack_op(&pk, HB_SQLOP_GET, &k[0], S_PLEN);
        s_pack_op(&pk, HB_SQLOP_INSERT, &k[1], S_PLEN);
        s_pack_op(&pk, HB_SQLOP_UPDATE, &k[2], S_PLEN);
        s_pack_op(&pk, HB_SQLOP_DELETE, &k[3], S_PLEN);
        s_pack_op(&pk, HB_SQLOP_GET, &k[4], S_PLEN);
        s_pack_op(&pk, HB_SQLOP_GET, &k[1], S_PLEN);
        s_pack_op(&pk, HB_SQLOP_CHECK, &k[5], S_PLEN);
        hb_val_t args[2] = {hb_val_int(3), hb_val_bin(sb.data, (uint32_t)sb.size)};
        hb_lockset_t ls;
        char err[128] = "";
        hb_lockset_init(&ls);
        ck_assert_int_eq(s_plan("sql.exec", args, 2, np, &ls, err, sizeof err), HB_OK);
        ck_assert_str_eq(err, "");
        s_expect_sql_lock(&ls, 0, HB_LOCK_READ, &k[0], S_PLEN, np);
        s_expect_sql_lock(&ls, 1, HB_LOCK_WRITE, &k[1], S_PLEN,
                          np); /* GET later: still WRITE */
        s_expect_sql_lock(&ls, 2, HB_LOCK_WRITE, &k[2], S_PLEN, np);
        s_expect_sql_lock(&ls, 3, HB_LOCK_WRITE, &k[3], S_PLEN, np);
        s_expect_sql_lock(&ls, 4, HB_LOCK_READ, &k[4], S_PLEN, np);
        s_expect_sql_lock(&ls, 5, HB_LOCK_READ, &k[5], S_PLEN, np); /* CHECK reads */
        /* The partition is the hash of the partition key, not the key. */
        ck_assert_uint_eq(ls.locks[4].partition, ls.locks[0].partition);
        s_expect_catalog_locks(&ls, 6, np);
        if (np == 1)
            ck_assert_uint_eq(ls.n, 7);
        for (uint32_t i = 0; i < ls.n; i++)
            ck_assert_uint_lt(ls.locks[i].partition, np);

        /* The same arguments give the same bytes. */
        static uint8_t a[8192], b[8192];
        hb_lockset_t again;
        hb_lockset_init(&again);
        ck_assert_int_eq(s_plan("sql.exec", args, 2, np, &again, err, sizeof err), HB_OK);
        size_t na = s_serialise(&ls, a, sizeof a), nb = s_serialise(&again, b, sizeof b);
        ck_assert_uint_eq(na, nb);
        ck_assert_int_eq(memcmp(a, b, na), 0);
        hb_lockset_clear(&again);
        hb_lockset_clear(&ls);
    }

    /* plen = the whole key partitions by the whole key; plen 4 by table. */
    sb.size = 0;
    msgpack_pack_array(&pk, 2);
    s_pack_op(&pk, HB_SQLOP_GET, &k[0], k[0].len);
    s_pack_op(&pk, HB_SQLOP_DELETE, &k[2], 4);
    hb_val_t args[2] = {hb_val_int(0), hb_val_bin(sb.data, (uint32_t)sb.size)};
    hb_lockset_t ls;
    char err[128];
    hb_lockset_init(&ls);
    ck_assert_int_eq(s_plan("sql.exec", args, 2, 64, &ls, err, sizeof err), HB_OK);
    s_expect_sql_lock(&ls, 0, HB_LOCK_READ, &k[0], k[0].len, 64);
    s_expect_sql_lock(&ls, 1, HB_LOCK_WRITE, &k[2], 4, 64);
    s_expect_catalog_locks(&ls, 2, 64);
    hb_lockset_clear(&ls);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_proc_sql_exec_catalog_parts)
{
    /* Many random keys over 16 partitions: one catalog READ lock per
     * touched partition, none for the others (seeded). */
    uint64_t st = s_seed ^ 0x5c1;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int round = 0; round < 200; round++) {
        uint32_t np = 1 + (uint32_t)(s_rand(&st) % 16);
        uint32_t nops = 1 + (uint32_t)(s_rand(&st) % 12);
        sb.size = 0;
        msgpack_pack_array(&pk, nops);
        for (uint32_t i = 0; i < nops; i++) {
            hb_key_t k;
            s_user_key(&k, HB_TABLE_USER_FIRST + (uint32_t)(s_rand(&st) % 3),
                       (int64_t)(s_rand(&st) % 1000), (int64_t)i);
            s_pack_op(&pk, (int)(s_rand(&st) % (HB_SQLOP_CHECK + 1)), &k, S_PLEN);
        }
        hb_val_t args[2] = {hb_val_int(1), hb_val_bin(sb.data, (uint32_t)sb.size)};
        hb_lockset_t ls;
        char err[128];
        hb_lockset_init(&ls);
        ck_assert_int_eq(s_plan("sql.exec", args, 2, np, &ls, err, sizeof err), HB_OK);
        ck_assert_msg(ls.n >= nops + 1, "seed %" PRIu64, s_seed);
        s_expect_catalog_locks(&ls, nops, np);
        hb_lockset_clear(&ls);
    }
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* As s_expect_invalid, for a message that starts with prefix (the rest
 * names ranges that grow as kinds are added). */
static void
s_expect_invalid_prefix(const char *name, const hb_val_t *args, uint32_t nargs,
                        const char *prefix)
{
    hb_lockset_t ls;
    char err[256] = "";
    hb_lockset_init(&ls);
    hb_lockset_add(&ls, 0, HB_LOCK_READ, "k", 1);
    ck_assert_int_eq(s_plan(name, args, nargs, 4, &ls, err, sizeof err), HB_INVALID);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
                  "message \"%s\", want \"%s...\"", err, prefix);
    ck_assert_uint_eq(ls.n, 1);
    ck_assert_uint_eq(ls.keylen, 1);
    ck_assert_int_eq(ls.locks[0].mode, HB_LOCK_READ);
    hb_lockset_clear(&ls);
}

/* OPS bytes from a hand-written msgpack string. */
static void
s_expect_bad_ops(const void *ops, size_t len, const char *want)
{
    hb_val_t args[2] = {hb_val_int(1), hb_val_bin(ops, (uint32_t)len)};
    s_expect_invalid("sql.exec", args, 2, want);
}

START_TEST(test_proc_sql_exec_invalid)
{
    static const char *const malformed = "sql.exec: malformed OPS";
    static const char *const notarray = "sql.exec: OPS must be an array of 1..65536 ops";
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    hb_key_t good;
    s_user_key(&good, HB_TABLE_USER_FIRST, 1, 0);

    /* Arity and argument types. */
    hb_val_t a[3] = {hb_val_int(0), hb_val_bin("\x90", 1), hb_val_int(0)};
    s_expect_invalid("sql.exec", a, 1, "sql.exec: usage: sql.exec CATVER OPS");
    s_expect_invalid("sql.exec", a, 3, "sql.exec: usage: sql.exec CATVER OPS");
    msgpack_pack_array(&pk, 1);
    s_pack_op(&pk, HB_SQLOP_GET, &good, S_PLEN);
    hb_val_t ok_ops = hb_val_bin(sb.data, (uint32_t)sb.size);
    hb_val_t cv[2] = {hb_val_int(-1), ok_ops};
    s_expect_invalid("sql.exec", cv, 2, "sql.exec: CATVER must be an integer >= 0");
    cv[0] = s_str("1");
    s_expect_invalid("sql.exec", cv, 2, "sql.exec: CATVER must be an integer >= 0");
    cv[0] = hb_val_int(1);
    cv[1] = hb_val_str(sb.data, (uint32_t)sb.size); /* str, not bin */
    s_expect_invalid("sql.exec", cv, 2, "sql.exec: OPS must be bytes");
    cv[1] = hb_val_nil();
    s_expect_invalid("sql.exec", cv, 2, "sql.exec: OPS must be bytes");

    /* OPS itself: not an array, empty, truncated. */
    s_expect_bad_ops("\x01", 1, notarray);
    s_expect_bad_ops("\x90", 1, notarray);
    s_expect_bad_ops("", 0, notarray);
    s_expect_bad_ops("\x80", 1, notarray);
    s_expect_bad_ops("\x92", 1, notarray); /* two ops declared, none there */
    s_expect_bad_ops("\xdd\x00\x01\x00\x01", 5, notarray); /* 65537 ops */
    /* Trailing bytes after the array. */
    sb.size = 0;
    msgpack_pack_array(&pk, 1);
    s_pack_op(&pk, HB_SQLOP_GET, &good, S_PLEN);
    msgpack_pack_nil(&pk);
    s_expect_bad_ops(sb.data, sb.size, malformed);

    /* One bad op, alone and after a good one (no lock of the good op
     * may be left behind). */
    for (int after_good = 0; after_good < 2; after_good++) {
        hb_key_t k;
#define S_BAD_OP(build)                                                                  \
    do {                                                                                 \
        sb.size = 0;                                                                     \
        msgpack_pack_array(&pk, 1 + (uint32_t)after_good);                               \
        if (after_good)                                                                  \
            s_pack_op(&pk, HB_SQLOP_INSERT, &good, S_PLEN);                              \
        build;                                                                           \
        s_expect_bad_ops(sb.data, sb.size, malformed);                                   \
    } while (0)
        /* Not an array; fewer than 3 fields; fields missing. */
        S_BAD_OP(msgpack_pack_uint8(&pk, 0));
        S_BAD_OP((msgpack_pack_array(&pk, 2), msgpack_pack_uint8(&pk, 0),
                  hb_mp_pack_bin(&pk, good.buf, good.len)));
        S_BAD_OP((msgpack_pack_array(&pk, 5), msgpack_pack_uint8(&pk, 3),
                  hb_mp_pack_bin(&pk, good.buf, good.len),
                  msgpack_pack_uint8(&pk, S_PLEN)));
        /* Op kind out of range. */
        S_BAD_OP((msgpack_pack_array(&pk, 3), msgpack_pack_uint8(&pk, HB_SQLOP_CHECK + 1),
                  hb_mp_pack_bin(&pk, good.buf, good.len),
                  msgpack_pack_uint8(&pk, S_PLEN)));
        S_BAD_OP((msgpack_pack_array(&pk, 3), msgpack_pack_uint8(&pk, 200),
                  hb_mp_pack_bin(&pk, good.buf, good.len),
                  msgpack_pack_uint8(&pk, S_PLEN)));
        S_BAD_OP((msgpack_pack_array(&pk, 3), msgpack_pack_int8(&pk, -1),
                  hb_mp_pack_bin(&pk, good.buf, good.len),
                  msgpack_pack_uint8(&pk, S_PLEN)));
        S_BAD_OP((msgpack_pack_array(&pk, 3), msgpack_pack_nil(&pk),
                  hb_mp_pack_bin(&pk, good.buf, good.len),
                  msgpack_pack_uint8(&pk, S_PLEN)));
        /* plen longer than the key, shorter than a table id, negative. */
        S_BAD_OP(s_pack_op(&pk, HB_SQLOP_GET, &good, good.len + 1));
        S_BAD_OP(s_pack_op(&pk, HB_SQLOP_GET, &good, 3));
        S_BAD_OP((msgpack_pack_array(&pk, 3), msgpack_pack_uint8(&pk, 0),
                  hb_mp_pack_bin(&pk, good.buf, good.len), msgpack_pack_int8(&pk, -1)));
        /* Tables below HB_TABLE_USER_FIRST: kv, catalog, meta, 1023. */
        const uint32_t sys[] = {HB_TABLE_META, HB_TABLE_KV, HB_TABLE_CATALOG,
                                HB_TABLE_USER_FIRST - 1};
        for (size_t i = 0; i < 4; i++) {
            s_user_key(&k, sys[i], 1, 0);
            S_BAD_OP(s_pack_op(&pk, HB_SQLOP_UPDATE, &k, S_PLEN));
        }
        /* A key too short for a table id, and one past HB_KEY_MAX. */
        S_BAD_OP((msgpack_pack_array(&pk, 3), msgpack_pack_uint8(&pk, 0),
                  hb_mp_pack_bin(&pk, "\x00\x00\x04", 3), msgpack_pack_uint8(&pk, 3)));
        static uint8_t big[HB_KEY_MAX + 1];
        memcpy(big, good.buf, 4);
        S_BAD_OP((msgpack_pack_array(&pk, 3), msgpack_pack_uint8(&pk, 0),
                  hb_mp_pack_bin(&pk, big, sizeof big), msgpack_pack_uint8(&pk, S_PLEN)));
        /* Key not bytes. */
        S_BAD_OP((msgpack_pack_array(&pk, 3), msgpack_pack_uint8(&pk, 0),
                  msgpack_pack_int64(&pk, 5), msgpack_pack_uint8(&pk, S_PLEN)));
#undef S_BAD_OP
    }
    /* A key of exactly HB_KEY_MAX bytes is fine. */
    static uint8_t max[HB_KEY_MAX];
    memcpy(max, good.buf, 4);
    sb.size = 0;
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint8(&pk, 0);
    hb_mp_pack_bin(&pk, max, sizeof max);
    msgpack_pack_uint8(&pk, S_PLEN);
    hb_val_t args[2] = {hb_val_int(0), hb_val_bin(sb.data, (uint32_t)sb.size)};
    hb_lockset_t ls;
    char err[128];
    hb_lockset_init(&ls);
    ck_assert_int_eq(s_plan("sql.exec", args, 2, 4, &ls, err, sizeof err), HB_OK);
    ck_assert_uint_eq(ls.n, 2);
    hb_lockset_clear(&ls);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* Was a bug (hb_proc.c, s_plan_sql_exec, label bad: the rollback restores
 * ls->n and ls->keylen but not the mode of a lock that was already in the
 * set and that hb_lockset_add upgraded to WRITE). hb_proc.c promises that
 * on error the lock set is unchanged. Repro: a set holding READ on key K;
 * OPS = [[INSERT K ...], <malformed op>] -> HB_INVALID, K is now WRITE. */
START_TEST(test_proc_sql_exec_rollback_mode)
{
    hb_key_t k;
    s_user_key(&k, HB_TABLE_USER_FIRST, 42, 0);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    s_pack_op(&pk, HB_SQLOP_INSERT, &k, S_PLEN);
    msgpack_pack_nil(&pk); /* not an op */
    hb_val_t args[2] = {hb_val_int(0), hb_val_bin(sb.data, (uint32_t)sb.size)};
    hb_lockset_t ls;
    char err[128];
    hb_lockset_init(&ls);
    hb_lockset_add(&ls, (uint16_t)hb_key_partition(k.buf, S_PLEN, 4), HB_LOCK_READ, k.buf,
                   k.len);
    ck_assert_int_eq(s_plan("sql.exec", args, 2, 4, &ls, err, sizeof err), HB_INVALID);
    ck_assert_uint_eq(ls.n, 1);
    ck_assert_msg(ls.locks[0].mode == HB_LOCK_READ,
                  "a failed plan upgraded an existing lock to WRITE");
    hb_lockset_clear(&ls);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_proc_sql_ddl_locks)
{
    const uint32_t nparts_list[] = {1, 3, 8, 100};
    for (size_t pi = 0; pi < sizeof nparts_list / sizeof *nparts_list; pi++) {
        uint32_t np = nparts_list[pi];
        for (int kind = HB_SQLDDL_CREATE; kind <= HB_SQLDDL_TRUNCATE; kind++) {
            hb_val_t args[4] = {hb_val_int(5), hb_val_int(kind), s_str("accounts"),
                                hb_val_bin("\x90", 1)};
            hb_lockset_t ls;
            char err[128] = "";
            hb_lockset_init(&ls);
            ck_assert_int_eq(s_plan("sql.ddl", args, 4, np, &ls, err, sizeof err), HB_OK);
            /* Per partition, in order: WRITE on the version record, WRITE
             * on the table's record, both on that partition. */
            ck_assert_uint_eq(ls.n, 2 * np);
            for (uint32_t p = 0; p < np; p++) {
                hb_key_t kv, kt;
                hb_key_catalog(&kv, (uint16_t)p, "", 0);
                hb_key_catalog(&kt, (uint16_t)p, "accounts", 8);
                const hb_lock_t *l = &ls.locks[2 * p];
                ck_assert_int_eq(l->mode, HB_LOCK_WRITE);
                ck_assert_uint_eq(l->partition, p);
                ck_assert_uint_eq(l->len, kv.len);
                ck_assert_int_eq(memcmp(l->key, kv.buf, kv.len), 0);
                l = &ls.locks[2 * p + 1];
                ck_assert_int_eq(l->mode, HB_LOCK_WRITE);
                ck_assert_uint_eq(l->partition, p);
                ck_assert_uint_eq(l->len, kt.len);
                ck_assert_int_eq(memcmp(l->key, kt.buf, kt.len), 0);
            }
            hb_lockset_clear(&ls);
        }
    }
    /* A 63-byte name and an empty DEF are accepted. */
    char name[64];
    memset(name, 'n', 63);
    name[63] = '\0';
    hb_val_t args[4] = {hb_val_int(0), hb_val_int(HB_SQLDDL_DROP), s_str(name),
                        hb_val_bin("", 0)};
    hb_lockset_t ls;
    char err[128];
    hb_lockset_init(&ls);
    ck_assert_int_eq(s_plan("sql.ddl", args, 4, 2, &ls, err, sizeof err), HB_OK);
    ck_assert_uint_eq(ls.n, 4);
    hb_lockset_clear(&ls);
}
END_TEST

START_TEST(test_proc_sql_ddl_invalid)
{
    char name200[201];
    memset(name200, 'n', 200);
    name200[200] = '\0';
    hb_val_t a[5] = {hb_val_int(0), hb_val_int(0), s_str("t"), hb_val_bin("\x90", 1),
                     hb_val_int(0)};
    s_expect_invalid("sql.ddl", a, 3, "sql.ddl: usage: sql.ddl CATVER KIND NAME DEF");
    s_expect_invalid("sql.ddl", a, 5, "sql.ddl: usage: sql.ddl CATVER KIND NAME DEF");
    hb_val_t b[4];
    memcpy(b, a, sizeof b);
    b[0] = hb_val_int(-1);
    s_expect_invalid("sql.ddl", b, 4, "sql.ddl: CATVER must be an integer >= 0");
    b[0] = hb_val_double(1.0);
    s_expect_invalid("sql.ddl", b, 4, "sql.ddl: CATVER must be an integer >= 0");
    const hb_val_t kinds[] = {hb_val_int(1000), hb_val_int(-1), s_str("0"), hb_val_nil()};
    for (size_t i = 0; i < 4; i++) {
        memcpy(b, a, sizeof b);
        b[1] = kinds[i];
        s_expect_invalid_prefix("sql.ddl", b, 4, "sql.ddl: KIND must be 0");
    }
    const hb_val_t names[] = {s_str(""), s_str(name200), hb_val_bin("t", 1),
                              hb_val_int(7)};
    for (size_t i = 0; i < 4; i++) {
        memcpy(b, a, sizeof b);
        b[2] = names[i];
        s_expect_invalid_prefix("sql.ddl", b, 4, "sql.ddl: NAME must be a string of 1..");
    }
    memcpy(b, a, sizeof b);
    b[3] = s_str("def");
    s_expect_invalid("sql.ddl", b, 4, "sql.ddl: DEF must be bytes");
    b[3] = hb_val_nil();
    s_expect_invalid("sql.ddl", b, 4, "sql.ddl: DEF must be bytes");
}
END_TEST

/* Was a bug (hb_proc.c, s_plan_sql_exec and s_plan_sql_ddl never call
 * s_check_nparts). Every other plan refuses a partition count outside
 * 1..65536; sql.ddl with nparts 0 returns HB_OK and an empty lock set,
 * sql.exec returns locks on partition 0 and no catalog lock. */
START_TEST(test_proc_sql_zero_parts)
{
    hb_key_t k;
    s_user_key(&k, HB_TABLE_USER_FIRST, 1, 0);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    s_pack_op(&pk, HB_SQLOP_GET, &k, S_PLEN);
    hb_val_t ex[2] = {hb_val_int(0), hb_val_bin(sb.data, (uint32_t)sb.size)};
    hb_val_t ddl[4] = {hb_val_int(0), hb_val_int(0), s_str("t"), hb_val_bin("", 0)};
    hb_lockset_t ls;
    char err[128];
    hb_lockset_init(&ls);
    ck_assert_int_eq(s_plan("sql.ddl", ddl, 4, 0, &ls, err, sizeof err), HB_INVALID);
    ck_assert_int_eq(s_plan("sql.exec", ex, 2, 0, &ls, err, sizeof err), HB_INVALID);
    ck_assert_uint_eq(ls.n, 0);
    hb_lockset_clear(&ls);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("proc");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_proc_catalog", test_proc_catalog},
        {"test_proc_arity", test_proc_arity},
        {"test_proc_types", test_proc_types},
        {"test_proc_kv_locks", test_proc_kv_locks},
        {"test_proc_micro_locks", test_proc_micro_locks},
        {"test_proc_lockset_dedup", test_proc_lockset_dedup},
        {"test_proc_deterministic", test_proc_deterministic},
        {"test_proc_ycsb_locks", test_proc_ycsb_locks},
        {"test_proc_ycsb_invalid", test_proc_ycsb_invalid},
        {"test_proc_sql_exec_locks", test_proc_sql_exec_locks},
        {"test_proc_sql_exec_catalog_parts", test_proc_sql_exec_catalog_parts},
        {"test_proc_sql_exec_invalid", test_proc_sql_exec_invalid},
        {"test_proc_sql_exec_rollback_mode", test_proc_sql_exec_rollback_mode},
        {"test_proc_sql_ddl_locks", test_proc_sql_ddl_locks},
        {"test_proc_sql_ddl_invalid", test_proc_sql_ddl_invalid},
        {"test_proc_sql_zero_parts", test_proc_sql_zero_parts},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].fn);
        suite_add_tcase(s, tc);
    }
    return s;
}

int
main(void)
{
    s_seed = hb_test_seed("test_proc");
    return hb_test_run(s_suite());
}
