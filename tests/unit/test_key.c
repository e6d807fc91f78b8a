/* test_key.c — unit tests of the order-preserving key encoding (hb_key).
 *
 * The property that matters is that memcmp over encoded keys orders rows
 * exactly like their column values, so range scans and lock ranges work:
 * checked for int64 edge values, strings with embedded zero bytes and
 * prefixes, composite keys, and random pairs (seeded; HOBBES_SEED=).
 * Also: decoders round-trip and reject truncated input, the builder's
 * overflow flag, and the partition function is stable across builds and
 * spreads keys evenly.
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hb_key.h"

static uint64_t s_seed;

static uint64_t
s_rand(uint64_t *state)
{
    /* xorshift64*: deterministic for a given seed. */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int
s_sign(int v)
{
    return (v > 0) - (v < 0);
}

/* memcmp order of two encoded keys, shorter-is-smaller on a tie. */
static int
s_keycmp(const hb_key_t *a, const hb_key_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->buf, b->buf, n);
    if (c != 0)
        return s_sign(c);
    return (a->len > b->len) - (a->len < b->len);
}

/* Byte-string order of raw values, shorter-is-smaller on a tie. */
static int
s_rawcmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return s_sign(c);
    return (alen > blen) - (alen < blen);
}

static void
s_i64_key(hb_key_t *k, int64_t v)
{
    hb_key_init(k, 7);
    hb_key_put_i64(k, v);
}

static void
s_str_key(hb_key_t *k, const void *s, size_t len)
{
    hb_key_init(k, 7);
    hb_key_put_str(k, s, len);
}

/* ------------------------------------------------------------------ */

START_TEST(test_key_i64_order)
{
    const int64_t vals[] = {
        INT64_MIN, INT64_MIN + 1, -4294967296LL, -65536,        -256,     -1, 0, 1, 255,
        256,       65536,         4294967296LL,  INT64_MAX - 1, INT64_MAX};
    size_t n = sizeof vals / sizeof vals[0];
    for (size_t i = 0; i + 1 < n; i++) {
        hb_key_t a, b;
        s_i64_key(&a, vals[i]);
        s_i64_key(&b, vals[i + 1]);
        ck_assert_int_eq(a.len, 12);
        ck_assert(!a.overflow);
        ck_assert_msg(s_keycmp(&a, &b) < 0, "%" PRId64 " !< %" PRId64, vals[i],
                      vals[i + 1]);
    }
    /* Equal values give equal keys. */
    hb_key_t a, b;
    s_i64_key(&a, -1);
    s_i64_key(&b, -1);
    ck_assert_int_eq(s_keycmp(&a, &b), 0);
}
END_TEST

START_TEST(test_key_i64_random_pairs)
{
    uint64_t st = (s_seed ^ 0x1234) | 1;
    for (int i = 0; i < 200000; i++) {
        uint64_t ra = s_rand(&st), rb = s_rand(&st);
        /* Mix full-range values with small ones near zero. */
        if (i & 1) {
            ra = (uint64_t)((int64_t)(ra % 2001) - 1000);
            rb = (uint64_t)((int64_t)(rb % 2001) - 1000);
        }
        int64_t va, vb;
        memcpy(&va, &ra, sizeof va);
        memcpy(&vb, &rb, sizeof vb);
        hb_key_t a, b;
        s_i64_key(&a, va);
        s_i64_key(&b, vb);
        int want = (va > vb) - (va < vb);
        ck_assert_msg(s_keycmp(&a, &b) == want,
                      "seed %" PRIu64 ": %" PRId64 " vs %" PRId64, s_seed, va, vb);
    }
}
END_TEST

START_TEST(test_key_str_order)
{
    static const struct {
        const char *s;
        size_t len;
    } vals[] = {
        {"", 0},    {"\0", 1},    {"\0\0", 2}, {"\0a", 2},   {"a", 1},
        {"a\0", 2}, {"a\0\0", 3}, {"a\0b", 3}, {"a\x01", 2}, {"ab", 2},
        {"abc", 3}, {"b", 1},     {"\xfe", 1}, {"\xff", 1},  {"\xff\xff", 2},
    };
    size_t n = sizeof vals / sizeof vals[0];
    for (size_t i = 0; i + 1 < n; i++) {
        hb_key_t a, b;
        s_str_key(&a, vals[i].s, vals[i].len);
        s_str_key(&b, vals[i + 1].s, vals[i + 1].len);
        ck_assert_msg(s_keycmp(&a, &b) < 0, "entry %zu !< entry %zu", i, i + 1);
    }
}
END_TEST

START_TEST(test_key_str_random_pairs)
{
    uint64_t st = (s_seed ^ 0x5678) | 1;
    /* A small alphabet heavy in 0x00, 0x01 and 0xFF exercises the escape. */
    static const uint8_t alpha[] = {0x00, 0x01, 0x02, 'a', 0xFE, 0xFF};
    for (int i = 0; i < 100000; i++) {
        uint8_t sa[8], sb[8];
        size_t la = s_rand(&st) % 7, lb = s_rand(&st) % 7;
        for (size_t j = 0; j < la; j++)
            sa[j] = alpha[s_rand(&st) % sizeof alpha];
        for (size_t j = 0; j < lb; j++)
            sb[j] = alpha[s_rand(&st) % sizeof alpha];
        hb_key_t a, b;
        s_str_key(&a, sa, la);
        s_str_key(&b, sb, lb);
        ck_assert_msg(s_keycmp(&a, &b) == s_rawcmp(sa, la, sb, lb), "seed %" PRIu64,
                      s_seed);
    }
}
END_TEST

/* Builds a composite (int64, string) key. */
static void
s_is_key(hb_key_t *k, int64_t i, const char *s, size_t len)
{
    hb_key_init(k, HB_TABLE_USER_FIRST);
    hb_key_put_i64(k, i);
    hb_key_put_str(k, s, len);
}

/* Builds a composite (string, int64, bool) key. */
static void
s_sib_key(hb_key_t *k, const char *s, size_t len, int64_t i, bool b)
{
    hb_key_init(k, HB_TABLE_USER_FIRST);
    hb_key_put_str(k, s, len);
    hb_key_put_i64(k, i);
    hb_key_put_bool(k, b);
}

START_TEST(test_key_composite_order)
{
    hb_key_t k[6];
    s_is_key(&k[0], INT64_MIN, "zzz", 3);
    s_is_key(&k[1], -1, "z", 1);
    s_is_key(&k[2], 0, "", 0);
    s_is_key(&k[3], 0, "a", 1);
    s_is_key(&k[4], 0, "a\0", 2);
    s_is_key(&k[5], 1, "", 0);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(s_keycmp(&k[i], &k[i + 1]) < 0, "(int, str) %d !< %d", i, i + 1);

    /* The string terminator keeps a shorter first column first whatever
     * follows it. */
    hb_key_t m[6];
    s_sib_key(&m[0], "a", 1, INT64_MAX, true);
    s_sib_key(&m[1], "a\0", 2, -5, false);
    s_sib_key(&m[2], "a\0", 2, -5, true);
    s_sib_key(&m[3], "a\0", 2, 0, false);
    s_sib_key(&m[4], "ab", 2, INT64_MIN, false);
    s_sib_key(&m[5], "b", 1, INT64_MIN, false);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(s_keycmp(&m[i], &m[i + 1]) < 0, "(str, int, bool) %d !< %d", i,
                      i + 1);

    /* Tables group rows: every kv key sorts before every micro key. */
    hb_key_t kv, micro;
    hb_key_kv(&kv, "\xff\xff\xff", 3);
    hb_key_micro(&micro, INT64_MIN);
    ck_assert_int_lt(s_keycmp(&kv, &micro), 0);
}
END_TEST

START_TEST(test_key_layout)
{
    hb_key_t k;
    hb_key_init(&k, 0x01020304);
    hb_key_put_i64(&k, 1);
    hb_key_put_str(&k, "a\0b", 3);
    hb_key_put_bool(&k, true);
    const uint8_t want[] = {0x01, 0x02, 0x03, 0x04, 0x80, 0,   0,    0,    0,   0,
                            0,    1,    'a',  0x00, 0xFF, 'b', 0x00, 0x01, 0x01};
    ck_assert_int_eq(k.len, sizeof want);
    ck_assert_mem_eq(k.buf, want, sizeof want);

    hb_key_kv(&k, "x", 1);
    const uint8_t want_kv[] = {0, 0, 0, HB_TABLE_KV, 'x', 0x00, 0x01};
    ck_assert_int_eq(k.len, sizeof want_kv);
    ck_assert_mem_eq(k.buf, want_kv, sizeof want_kv);

    hb_key_micro(&k, -1);
    const uint8_t want_micro[] = {0,    0,    0,    HB_TABLE_MICRO, 0x7F, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF,           0xFF, 0xFF};
    ck_assert_int_eq(k.len, sizeof want_micro);
    ck_assert_mem_eq(k.buf, want_micro, sizeof want_micro);
}
END_TEST

START_TEST(test_key_decode_round_trip)
{
    const int64_t ints[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    const char str[] = "x\0y\0\0z";
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        hb_key_t k;
        hb_key_init(&k, 4242);
        hb_key_put_i64(&k, ints[i]);
        hb_key_put_str(&k, str, sizeof str - 1);
        hb_key_put_i64(&k, -ints[i] / 2);

        const uint8_t *p = k.buf, *end = k.buf + k.len;
        uint32_t table;
        int64_t v;
        uint8_t out[32];
        size_t len;
        ck_assert_int_eq(hb_key_get_table(&p, end, &table), HB_OK);
        ck_assert_uint_eq(table, 4242);
        ck_assert_int_eq(hb_key_get_i64(&p, end, &v), HB_OK);
        ck_assert(v == ints[i]);
        ck_assert_int_eq(hb_key_get_str(&p, end, out, sizeof out, &len), HB_OK);
        ck_assert_uint_eq(len, sizeof str - 1);
        ck_assert_mem_eq(out, str, len);
        ck_assert_int_eq(hb_key_get_i64(&p, end, &v), HB_OK);
        ck_assert(v == -ints[i] / 2);
        ck_assert_ptr_eq(p, end);
    }

    /* The empty string round-trips too. */
    hb_key_t k;
    s_str_key(&k, "", 0);
    const uint8_t *p = k.buf + 4;
    size_t len = 99;
    ck_assert_int_eq(hb_key_get_str(&p, k.buf + k.len, NULL, 0, &len), HB_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_eq(p, k.buf + k.len);
}
END_TEST

START_TEST(test_key_decode_rejects_truncated)
{
    hb_key_t k;
    hb_key_init(&k, 9);
    hb_key_put_i64(&k, -77);
    hb_key_put_str(&k, "ab\0c", 4);

    /* Every strict prefix of each column is HB_CORRUPT and leaves *p. */
    for (size_t cut = 0; cut < 4; cut++) {
        const uint8_t *p = k.buf;
        uint32_t t;
        ck_assert_int_eq(hb_key_get_table(&p, k.buf + cut, &t), HB_CORRUPT);
        ck_assert_ptr_eq(p, k.buf);
    }
    for (size_t cut = 0; cut < 8; cut++) {
        const uint8_t *p = k.buf + 4;
        int64_t v;
        ck_assert_int_eq(hb_key_get_i64(&p, k.buf + 4 + cut, &v), HB_CORRUPT);
        ck_assert_ptr_eq(p, k.buf + 4);
    }
    size_t slen = k.len - 12;
    for (size_t cut = 0; cut < slen; cut++) {
        const uint8_t *p = k.buf + 12;
        uint8_t out[16];
        size_t len;
        ck_assert_int_eq(hb_key_get_str(&p, k.buf + 12 + cut, out, sizeof out, &len),
                         HB_CORRUPT);
        ck_assert_ptr_eq(p, k.buf + 12);
    }

    /* A zero byte followed by anything but 0xFF or 0x01 is corrupt. */
    const uint8_t bad[] = {'a', 0x00, 0x02, 0x00, 0x01};
    const uint8_t *p = bad;
    uint8_t out[16];
    size_t len;
    ck_assert_int_eq(hb_key_get_str(&p, bad + sizeof bad, out, sizeof out, &len),
                     HB_CORRUPT);

    /* A string longer than the caller's buffer is HB_TOOBIG. */
    p = k.buf + 12;
    ck_assert_int_eq(hb_key_get_str(&p, k.buf + k.len, out, 3, &len), HB_TOOBIG);
    ck_assert_ptr_eq(p, k.buf + 12);
}
END_TEST

START_TEST(test_key_overflow)
{
    static uint8_t big[HB_KEY_MAX];
    memset(big, 'x', sizeof big);
    hb_key_t k;

    /* table (4) + 1018 bytes + terminator (2) = exactly HB_KEY_MAX. */
    hb_key_init(&k, 1);
    hb_key_put_str(&k, big, HB_KEY_MAX - 6);
    ck_assert(!k.overflow);
    ck_assert_uint_eq(k.len, HB_KEY_MAX);
    hb_key_put_bool(&k, true);
    ck_assert(k.overflow);
    ck_assert_uint_eq(k.len, HB_KEY_MAX);

    /* One byte more does not fit: nothing is written, and later appends
     * that would fit are refused too, so the key is never half-built. */
    hb_key_init(&k, 1);
    hb_key_put_str(&k, big, HB_KEY_MAX - 5);
    ck_assert(k.overflow);
    ck_assert_uint_eq(k.len, 4);
    hb_key_put_i64(&k, 5);
    ck_assert_uint_eq(k.len, 4);

    /* Escapes count toward the size. */
    memset(big, 0, sizeof big);
    hb_key_init(&k, 1);
    hb_key_put_str(&k, big, 600);
    ck_assert(k.overflow);
    ck_assert_uint_eq(k.len, 4);

    /* init resets the flag. */
    hb_key_init(&k, 1);
    ck_assert(!k.overflow);
    ck_assert_uint_eq(k.len, 4);
}
END_TEST

START_TEST(test_key_partition_stable)
{
    /* Computed once from this implementation; a change here moves every
     * row of every existing cluster, so it must never change. */
    hb_key_t k;
    hb_key_kv(&k, "alice", 5);
    ck_assert_uint_eq(hb_key_partition(k.buf, k.len, 4), 3);
    ck_assert_uint_eq(hb_key_partition(k.buf, k.len, 7), 2);
    hb_key_kv(&k, "bob", 3);
    ck_assert_uint_eq(hb_key_partition(k.buf, k.len, 4), 0);
    ck_assert_uint_eq(hb_key_partition(k.buf, k.len, 1024), 748);
    hb_key_micro(&k, 0);
    ck_assert_uint_eq(hb_key_partition(k.buf, k.len, 4), 0);
    hb_key_micro(&k, 42);
    ck_assert_uint_eq(hb_key_partition(k.buf, k.len, 4), 0);
    hb_key_micro(&k, -1);
    ck_assert_uint_eq(hb_key_partition(k.buf, k.len, 3), 1);

    /* One partition, or none configured, is always partition 0. */
    ck_assert_uint_eq(hb_key_partition(k.buf, k.len, 1), 0);
    ck_assert_uint_eq(hb_key_partition(k.buf, k.len, 0), 0);
}
END_TEST

START_TEST(test_key_partition_distribution)
{
    const int n = 100000;
    uint32_t micro[4] = {0}, kv[4] = {0};
    for (int i = 0; i < n; i++) {
        hb_key_t k;
        hb_key_micro(&k, i);
        uint32_t p = hb_key_partition(k.buf, k.len, 4);
        ck_assert_uint_lt(p, 4);
        micro[p]++;
        char s[32];
        int len = snprintf(s, sizeof s, "key%d", i);
        hb_key_kv(&k, s, (size_t)len);
        p = hb_key_partition(k.buf, k.len, 4);
        ck_assert_uint_lt(p, 4);
        kv[p]++;
    }
    for (int p = 0; p < 4; p++) {
        /* Within 5% of the fair share n/4. */
        ck_assert_msg(abs((int)micro[p] - n / 4) <= n / 4 / 20, "micro p%d got %u", p,
                      micro[p]);
        ck_assert_msg(abs((int)kv[p] - n / 4) <= n / 4 / 20, "kv p%d got %u", p, kv[p]);
    }
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("key");
    TCase *tc = tcase_create("key");
    tcase_add_test(tc, test_key_i64_order);
    tcase_add_test(tc, test_key_i64_random_pairs);
    tcase_add_test(tc, test_key_str_order);
    tcase_add_test(tc, test_key_str_random_pairs);
    tcase_add_test(tc, test_key_composite_order);
    tcase_add_test(tc, test_key_layout);
    tcase_add_test(tc, test_key_decode_round_trip);
    tcase_add_test(tc, test_key_decode_rejects_truncated);
    tcase_add_test(tc, test_key_overflow);
    tcase_add_test(tc, test_key_partition_stable);
    tcase_add_test(tc, test_key_partition_distribution);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    s_seed = hb_test_seed("test_key");

    return hb_test_run(s_suite());
}
