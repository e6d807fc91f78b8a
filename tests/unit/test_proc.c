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

static hb_val_t
s_bin(const void *p, uint32_t len)
{
    hb_val_t v = hb_val_str(p, len);
    v.type = HB_VAL_BIN;
    return v;
}

static hb_val_t
s_bool(bool b)
{
    hb_val_t v = {.type = HB_VAL_BOOL};
    v.u.b = b;
    return v;
}

static hb_val_t
s_double(double d)
{
    hb_val_t v = {.type = HB_VAL_DOUBLE};
    v.u.d = d;
    return v;
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
    const char *names[HB_PROC_COUNT_] = {"kv.get",    "kv.put",      "kv.add",
                                         "kv.transfer", "micro.rmw", "ycsb.read",
                                         "ycsb.update", "ycsb.insert", "ycsb.rmw",
                                         "sql.exec",    "sql.ddl"};
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
    s_expect_invalid("kv.transfer", a, 2, "kv.transfer: usage: kv.transfer FROM TO AMOUNT");
    s_expect_invalid("kv.transfer", a, 4, "kv.transfer: usage: kv.transfer FROM TO AMOUNT");
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
    hb_val_t bad_keys[] = {hb_val_nil(), s_bool(true), s_double(1.5)};
    for (size_t i = 0; i < 3; i++) {
        s_expect_invalid("kv.get", &bad_keys[i], 1,
                         "kv.get: KEY must be a string, bytes or an integer");
        hb_val_t a[2] = {bad_keys[i], hb_val_int(1)};
        s_expect_invalid("kv.put", a, 2, "kv.put: KEY must be a string, bytes or an integer");
        s_expect_invalid("kv.add", a, 2, "kv.add: KEY must be a string, bytes or an integer");
    }
    hb_val_t empty = s_str("");
    s_expect_invalid("kv.get", &empty, 1, "kv.get: KEY must be 1..512 bytes (got 0)");
    hb_val_t huge = s_bin(big, 513);
    s_expect_invalid("kv.get", &huge, 1, "kv.get: KEY must be 1..512 bytes (got 513)");

    /* VALUE: int, str or bin. */
    hb_val_t put[2] = {key, hb_val_nil()};
    s_expect_invalid("kv.put", put, 2, "kv.put: VALUE must be an integer, a string or bytes");
    put[1] = s_double(2.0);
    s_expect_invalid("kv.put", put, 2, "kv.put: VALUE must be an integer, a string or bytes");

    /* DELTA: int. */
    hb_val_t add[2] = {key, s_str("1")};
    s_expect_invalid("kv.add", add, 2, "kv.add: DELTA must be an integer");
    add[1] = s_double(1.0);
    s_expect_invalid("kv.add", add, 2, "kv.add: DELTA must be an integer");

    /* kv.transfer: keys, AMOUNT int >= 0, FROM != TO (as encoded keys). */
    hb_val_t tr[3] = {s_str("a"), s_str("b"), hb_val_int(-1)};
    s_expect_invalid("kv.transfer", tr, 3, "kv.transfer: AMOUNT must be an integer >= 0");
    tr[2] = s_str("5");
    s_expect_invalid("kv.transfer", tr, 3, "kv.transfer: AMOUNT must be an integer >= 0");
    tr[2] = hb_val_int(5);
    tr[1] = s_str("a");
    s_expect_invalid("kv.transfer", tr, 3, "kv.transfer: FROM and TO must be different keys");
    tr[0] = hb_val_int(7);
    tr[1] = s_str("7");
    s_expect_invalid("kv.transfer", tr, 3, "kv.transfer: FROM and TO must be different keys");
    tr[1] = s_bool(false);
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
    s_expect_invalid("micro.rmw", ids, HB_MICRO_KEYS, "micro.rmw: ID5 must be an integer >= 0");
    ids[4] = s_str("12");
    s_expect_invalid("micro.rmw", ids, HB_MICRO_KEYS, "micro.rmw: ID5 must be an integer >= 0");
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
        hb_val_t gb = s_bin("a\0b", 3);
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
    hb_val_t b = s_bin(big, sizeof big);
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
        ck_assert_int_eq(s_plan("micro.rmw", ids, HB_MICRO_KEYS, np, &ls, err, sizeof err),
                         HB_OK);
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
        ck_assert_msg(memcmp(a, b, n1) == 0, "lock sets differ (seed %" PRIu64 ")", s_seed);
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
    hb_val_t rd[3] = {s_str("user1"), s_str("user2"), s_bin("user3", 5)};
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
    hb_val_t up[6] = {s_str("a"), hb_val_int(0), s_str("x"), s_str("b"), hb_val_int(9), s_bin("y", 1)};
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
        ins[i] = s_bin("vvvv", 4);
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
    s_expect_invalid("ycsb.read", empty, 1, "ycsb.read: argument 1 (KEY) must be 1..512 bytes");
    /* Triples: the count must be a multiple of 3. */
    hb_val_t up[4] = {s_str("k"), hb_val_int(1), s_str("v"), s_str("k2")};
    s_expect_invalid("ycsb.update", up, 4,
                     "ycsb.update: usage: ycsb.update KEY FIELD VALUE [KEY FIELD VALUE ...] "
                     "(1..16 records)");
    hb_val_t badf[3] = {s_str("k"), hb_val_int(64), s_str("v")};
    s_expect_invalid("ycsb.update", badf, 3,
                     "ycsb.update: argument 2 (FIELD) must be an integer 0..63");
    hb_val_t negf[3] = {s_str("k"), hb_val_int(-1), s_str("v")};
    s_expect_invalid("ycsb.rmw", negf, 3, "ycsb.rmw: argument 2 (FIELD) must be an integer 0..63");
    hb_val_t badv[3] = {s_str("k"), hb_val_int(1), hb_val_int(7)};
    s_expect_invalid("ycsb.rmw", badv, 3, "ycsb.rmw: argument 3 (VALUE) must be a string or bytes");
    s_expect_invalid("ycsb.insert", a, 1, "ycsb.insert: usage: ycsb.insert KEY V0 .. Vn-1");
    hb_val_t insv[3] = {s_str("k"), s_str("v0"), hb_val_int(1)};
    s_expect_invalid("ycsb.insert", insv, 3,
                     "ycsb.insert: argument 3 (V1) must be a string or bytes");
    /* A second record that is bad leaves no lock for the first either. */
    hb_val_t two[6] = {s_str("ok"), hb_val_int(0), s_str("v"), s_str("k"), s_bool(true), s_str("v")};
    s_expect_invalid("ycsb.update", two, 6,
                     "ycsb.update: argument 5 (FIELD) must be an integer 0..63");
    hb_val_t dbl[3] = {s_str("k"), s_double(1.0), s_str("v")};
    s_expect_invalid("ycsb.update", dbl, 3,
                     "ycsb.update: argument 2 (FIELD) must be an integer 0..63");
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
