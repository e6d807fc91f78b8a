/* test_wire.c — unit tests of the wire codec: hb_mp, hb_msg_*, hb_txn_*.
 *
 * Every message type must survive encode -> decode -> encode byte for byte.
 * Every malformed frame must be rejected with the right code and counter:
 * truncation at every prefix length, hostile declared lengths (2^32-1),
 * wrong version / type / field count, out-of-range integers, trailing
 * bytes, limit violations. A seeded fuzz loop (HOBBES_SEED=) throws
 * mutated and random frames at the decoder; anything it accepts must
 * re-encode and decode again. Run under valgrind to check for invalid
 * reads: CK_FORK=no valgrind ./test_wire
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hb_log.h"
#include "hb_mp.h"
#include "hb_txn.h"
#include "hb_wire.h"

static uint64_t s_seed;

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* Log capture: the last line and how many lines arrived. */
static char s_last_line[1024];
static unsigned s_nlines;

static void
s_sink(void *arg, hb_log_level_t level, const char *line)
{
    (void)arg;
    (void)level;
    snprintf(s_last_line, sizeof s_last_line, "%s", line);
    s_nlines++;
}

static void
s_setup(void)
{
    hb_log_set_sink(s_sink, NULL);
    hb_log_set_level(HB_LOG_WARN);
    hb_wire_log_burst(UINT64_MAX);
    s_nlines = 0;
    s_last_line[0] = '\0';
}

static void
s_teardown(void)
{
    hb_log_set_sink(NULL, NULL);
}

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

/* A buffer of hand-built frame bytes. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} s_buf_t;

static void
s_buf_init(s_buf_t *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void
s_buf_free(s_buf_t *b)
{
    msgpack_sbuffer_destroy(&b->sb);
}

/* Decodes a frame expected to be rejected; checks rc and that exactly the
 * given counter (and frames_rejected) moved by one. */
static void
s_expect_reject(const void *frame, size_t len, const hb_limits_t *lim, hb_rc_t want,
                const uint64_t *counter, const char *what)
{
    hb_wire_stats_t before = hb_wire_stats;
    uint64_t cbefore = *counter;
    hb_msg_t msg;
    hb_rc_t rc = hb_msg_decode(frame, len, lim, &msg);
    ck_assert_msg(rc == want, "%s: rc %d (%s), want %d", what, rc, hb_rc_str(rc), want);
    ck_assert_msg(hb_wire_stats.frames_rejected == before.frames_rejected + 1,
                  "%s: frames_rejected not bumped", what);
    ck_assert_msg(*counter == cbefore + 1, "%s: specific counter not bumped", what);
    ck_assert_uint_eq(hb_wire_stats.frames_ok, before.frames_ok);
    ck_assert_int_eq(msg.type, 0);
    ck_assert_ptr_null(msg.u.submit.args);
}

static bool
s_val_eq(const hb_val_t *a, const hb_val_t *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case HB_VAL_NIL:
        return true;
    case HB_VAL_INT:
        return a->u.i == b->u.i;
    case HB_VAL_BOOL:
        return a->u.b == b->u.b;
    case HB_VAL_DOUBLE:
        return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0;
    case HB_VAL_STR:
    case HB_VAL_BIN:
        return a->u.s.len == b->u.s.len &&
               (a->u.s.len == 0 || memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len) == 0);
    case HB_VAL_DEC:
        return a->u.dec.m == b->u.dec.m && a->u.dec.scale == b->u.dec.scale;
    }
    return false;
}

/* A sample transaction (borrowing static memory) for packing. */
static hb_val_t s_txn_args[3];
static hb_lock_t s_txn_locks[3];

static hb_txn_t
s_sample_txn(uint64_t req_id)
{
    s_txn_args[0] = hb_val_str("alice", 5);
    s_txn_args[1] = hb_val_int(-42);
    s_txn_args[2] = hb_val_nil();
    static const uint8_t k0[] = {0, 0, 0, 1, 'a', 0, 1};
    static const uint8_t k1[] = {0, 0, 0, 1, 'b', 0, 1};
    static const uint8_t k2[] = {0, 0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 7};
    s_txn_locks[0] =
        (hb_lock_t){.partition = 3, .mode = HB_LOCK_WRITE, .len = sizeof k0, .key = k0};
    s_txn_locks[1] =
        (hb_lock_t){.partition = 1, .mode = HB_LOCK_READ, .len = sizeof k1, .key = k1};
    s_txn_locks[2] =
        (hb_lock_t){.partition = 3, .mode = HB_LOCK_READ, .len = sizeof k2, .key = k2};
    hb_txn_t t = {
        .client_id = 0x0102030405060708ULL,
        .req_id = req_id,
        .origin_replica = 2,
        .origin_group = 3,
        .timestamp_us = 1700000000123456LL,
        .proc = "kv.transfer",
        .proc_len = 11,
        .nargs = 3,
        .args = s_txn_args,
        .nlocks = 3,
        .locks = s_txn_locks,
    };
    return t;
}

/* Packs txn into b (fresh). */
static void
s_pack_txn(s_buf_t *b, const hb_txn_t *txn)
{
    s_buf_init(b);
    ck_assert_int_eq(hb_txn_pack(&b->pk, txn), HB_OK);
}

/* Encodes msg, decodes it, re-encodes the decoded message and checks the
 * bytes are identical. Returns the decoded message (caller clears) and
 * leaves the encoded frame in *sb (caller destroys). */
static void
s_round_trip(const hb_msg_t *msg, msgpack_sbuffer *sb, hb_msg_t *out)
{
    msgpack_sbuffer_init(sb);
    ck_assert_int_eq(hb_msg_encode(msg, sb), HB_OK);
    uint64_t ok_before = hb_wire_stats.frames_ok;
    ck_assert_int_eq(hb_msg_decode(sb->data, sb->size, NULL, out), HB_OK);
    ck_assert_uint_eq(hb_wire_stats.frames_ok, ok_before + 1);
    ck_assert_int_eq(out->type, msg->type);
    msgpack_sbuffer again;
    msgpack_sbuffer_init(&again);
    ck_assert_int_eq(hb_msg_encode(out, &again), HB_OK);
    ck_assert_uint_eq(again.size, sb->size);
    ck_assert_mem_eq(again.data, sb->data, sb->size);
    msgpack_sbuffer_destroy(&again);
}

/* ------------------------------------------------------------------ */
/* hb_mp reader                                                         */
/* ------------------------------------------------------------------ */

START_TEST(test_wire_mp_integers)
{
    static const uint8_t buf[] = {
        0x7f,                                                 /* 127 */
        0xcc, 0xff,                                           /* 255 */
        0xcd, 0xff, 0xff,                                     /* 65535 */
        0xce, 0xff, 0xff, 0xff, 0xff,                         /* 2^32-1 */
        0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* 2^64-1 */
        0xd0, 0x80,                                           /* -128 */
        0xd3, 0x80, 0,    0,    0,    0,    0,    0,    0,    /* INT64_MIN */
        0xe0,                                                 /* -32 */
        0xd0, 0x05,                                           /* 5 as int8 */
        0xd1, 0xff, 0xfe,                                     /* -2 as int16 */
    };
    hb_mp_reader_t r;
    uint64_t u;
    int64_t i;
    hb_mp_reader_init(&r, buf, sizeof buf);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_UINT);
    ck_assert_int_eq(hb_mp_read_uint(&r, &u), HB_OK);
    ck_assert_uint_eq(u, 127);
    ck_assert_int_eq(hb_mp_read_uint(&r, &u), HB_OK);
    ck_assert_uint_eq(u, 255);
    ck_assert_int_eq(hb_mp_read_int(&r, &i), HB_OK);
    ck_assert_int_eq(i, 65535);
    ck_assert_int_eq(hb_mp_read_uint(&r, &u), HB_OK);
    ck_assert_uint_eq(u, UINT32_MAX);
    ck_assert_int_eq(hb_mp_read_uint(&r, &u), HB_OK);
    ck_assert(u == UINT64_MAX);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_INT);
    ck_assert_int_eq(hb_mp_read_int(&r, &i), HB_OK);
    ck_assert_int_eq(i, -128);
    ck_assert_int_eq(hb_mp_read_int(&r, &i), HB_OK);
    ck_assert(i == INT64_MIN);
    ck_assert_int_eq(hb_mp_read_int(&r, &i), HB_OK);
    ck_assert_int_eq(i, -32);
    ck_assert_int_eq(hb_mp_read_uint(&r, &u), HB_OK); /* non-negative signed is fine */
    ck_assert_uint_eq(u, 5);
    ck_assert_int_eq(hb_mp_read_int(&r, &i), HB_OK);
    ck_assert_int_eq(i, -2);
    ck_assert_uint_eq(hb_mp_remaining(&r), 0);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_INVALID);
    ck_assert_int_eq(hb_mp_read_uint(&r, &u), HB_PROTO); /* nothing left */

    /* Range: a negative is not a uint; 2^64-1 is not an int64. */
    static const uint8_t neg[] = {0xff};
    hb_mp_reader_init(&r, neg, sizeof neg);
    u = 7;
    ck_assert_int_eq(hb_mp_read_uint(&r, &u), HB_PROTO);
    ck_assert_uint_eq(u, 0);
    static const uint8_t big[] = {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
    hb_mp_reader_init(&r, big, sizeof big);
    i = 7;
    ck_assert_int_eq(hb_mp_read_int(&r, &i), HB_PROTO);
    ck_assert_int_eq(i, 0);

    /* A truncated uint16 is rejected. */
    static const uint8_t trunc[] = {0xcd, 0xff};
    hb_mp_reader_init(&r, trunc, sizeof trunc);
    ck_assert_int_eq(hb_mp_read_uint(&r, &u), HB_PROTO);
}
END_TEST

START_TEST(test_wire_mp_types_and_sticky)
{
    /* nil, true, 1.5f, 2.25, str "hi", bin [1,2], [1], {1:2} */
    static const uint8_t buf[] = {
        0xc0, 0xc3, 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xcb, 0x40, 0x02, 0x00, 0,    0,   0, 0,
        0,    0xa2, 'h',  'i',  0xc4, 0x02, 1,    2,    0x91, 0x01, 0x81, 0x01, 0x02};
    hb_mp_reader_t r;
    bool b;
    double d;
    const char *s;
    const uint8_t *bin;
    uint32_t len, n;
    hb_mp_reader_init(&r, buf, sizeof buf);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_NIL);
    ck_assert_int_eq(hb_mp_read_nil(&r), HB_OK);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_BOOL);
    ck_assert_int_eq(hb_mp_read_bool(&r, &b), HB_OK);
    ck_assert(b);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_FLOAT);
    ck_assert_int_eq(hb_mp_read_double(&r, &d), HB_OK);
    ck_assert(d == 1.5);
    ck_assert_int_eq(hb_mp_read_double(&r, &d), HB_OK);
    ck_assert(d == 2.25);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_STR);
    ck_assert_int_eq(hb_mp_read_str(&r, &s, &len), HB_OK);
    ck_assert_uint_eq(len, 2);
    ck_assert_mem_eq(s, "hi", 2);
    ck_assert_ptr_eq(s, (const char *)buf + 17); /* zero-copy */
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_BIN);
    ck_assert_int_eq(hb_mp_read_bin(&r, &bin, &len), HB_OK);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(bin[1], 2);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_ARRAY);
    ck_assert_int_eq(hb_mp_read_array(&r, &n), HB_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(hb_mp_skip(&r), HB_OK);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_MAP);
    ck_assert_int_eq(hb_mp_read_map(&r, &n), HB_OK);
    ck_assert_uint_eq(n, 1);

    /* Wrong type -> HB_PROTO, and the error sticks for later calls even
     * when the next object would have been fine. */
    hb_mp_reader_init(&r, buf + 16, sizeof buf - 16); /* at the str */
    ck_assert_int_eq(hb_mp_read_nil(&r), HB_PROTO);
    ck_assert_int_eq(r.err, HB_PROTO);
    ck_assert_int_eq(hb_mp_read_str(&r, &s, &len), HB_PROTO);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_INVALID);

    /* str is not bin for read_str, but bin accepts str. */
    hb_mp_reader_init(&r, buf + 19, 4); /* the bin */
    ck_assert_int_eq(hb_mp_read_str(&r, &s, &len), HB_PROTO);
    hb_mp_reader_init(&r, buf + 16, 3); /* the str */
    ck_assert_int_eq(hb_mp_read_bin(&r, &bin, &len), HB_OK);
    ck_assert_uint_eq(len, 2);

    /* 0xc1 is never valid. */
    static const uint8_t c1[] = {0xc1};
    hb_mp_reader_init(&r, c1, 1);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_INVALID);
    ck_assert_int_eq(hb_mp_skip(&r), HB_PROTO);

    /* read_val maps scalars and refuses containers, ext, uint > INT64_MAX. */
    hb_val_t v;
    hb_mp_reader_init(&r, buf, sizeof buf);
    ck_assert_int_eq(hb_mp_read_val(&r, &v), HB_OK);
    ck_assert_int_eq(v.type, HB_VAL_NIL);
    ck_assert_int_eq(hb_mp_read_val(&r, &v), HB_OK);
    ck_assert_int_eq(v.type, HB_VAL_BOOL);
    ck_assert_int_eq(hb_mp_read_val(&r, &v), HB_OK);
    ck_assert_int_eq(v.type, HB_VAL_DOUBLE);
    ck_assert_int_eq(hb_mp_read_val(&r, &v), HB_OK);
    ck_assert_int_eq(hb_mp_read_val(&r, &v), HB_OK);
    ck_assert_int_eq(v.type, HB_VAL_STR);
    ck_assert_int_eq(hb_mp_read_val(&r, &v), HB_OK);
    ck_assert_int_eq(v.type, HB_VAL_BIN);
    ck_assert_int_eq(hb_mp_read_val(&r, &v), HB_PROTO); /* array */
    ck_assert_int_eq(v.type, HB_VAL_NIL);
    static const uint8_t u64max[] = {0xcf, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff};
    hb_mp_reader_init(&r, u64max, sizeof u64max);
    ck_assert_int_eq(hb_mp_read_val(&r, &v), HB_PROTO);
    static const uint8_t ext[] = {0xd4, 0x01, 0x02};
    hb_mp_reader_init(&r, ext, sizeof ext);
    ck_assert_int_eq(hb_mp_peek(&r), HB_MP_EXT);
    ck_assert_int_eq(hb_mp_read_val(&r, &v), HB_PROTO);
}
END_TEST

START_TEST(test_wire_mp_declared_lengths)
{
    hb_mp_reader_t r;
    uint32_t n;
    const char *s;
    const uint8_t *bin;
    /* Containers and strings claiming 2^32-1 elements/bytes in a few bytes. */
    static const uint8_t arr[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    hb_mp_reader_init(&r, arr, sizeof arr);
    ck_assert_int_eq(hb_mp_read_array(&r, &n), HB_PROTO);
    ck_assert_uint_eq(n, 0);
    static const uint8_t map[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0};
    hb_mp_reader_init(&r, map, sizeof map);
    ck_assert_int_eq(hb_mp_read_map(&r, &n), HB_PROTO);
    static const uint8_t map1[] = {0x81, 0xc0}; /* one entry needs two bytes */
    hb_mp_reader_init(&r, map1, sizeof map1);
    ck_assert_int_eq(hb_mp_read_map(&r, &n), HB_PROTO);
    static const uint8_t str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    hb_mp_reader_init(&r, str, sizeof str);
    ck_assert_int_eq(hb_mp_read_str(&r, &s, &n), HB_PROTO);
    static const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 'a'};
    hb_mp_reader_init(&r, bin32, sizeof bin32);
    ck_assert_int_eq(hb_mp_read_bin(&r, &bin, &n), HB_PROTO);
    static const uint8_t ext32[] = {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 'a'};
    hb_mp_reader_init(&r, ext32, sizeof ext32);
    ck_assert_int_eq(hb_mp_skip(&r), HB_PROTO);
    /* Exactly enough bytes is fine. */
    static const uint8_t arr3[] = {0xdd, 0, 0, 0, 3, 0xc0, 0xc0, 0xc0};
    hb_mp_reader_init(&r, arr3, sizeof arr3);
    ck_assert_int_eq(hb_mp_read_array(&r, &n), HB_OK);
    ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(test_wire_mp_skip_and_raw)
{
    hb_mp_reader_t r;
    const uint8_t *raw;
    size_t len;
    /* Nesting up to HB_MP_MAX_DEPTH containers is skipped, one more is not. */
    uint8_t deep[HB_MP_MAX_DEPTH + 2];
    for (int d = HB_MP_MAX_DEPTH; d <= HB_MP_MAX_DEPTH + 1; d++) {
        memset(deep, 0x91, (size_t)d);
        deep[d - 1] = 0x90; /* innermost is empty */
        hb_mp_reader_init(&r, deep, (size_t)d);
        hb_rc_t rc = hb_mp_skip(&r);
        ck_assert_int_eq(rc, d == HB_MP_MAX_DEPTH ? HB_OK : HB_PROTO);
    }
    /* read_raw returns exactly one object: {"a": [1, ext8, fixext4]} then nil. */
    static const uint8_t obj[] = {0x81, 0xa1, 'a',  0x93, 0x01, 0xc7, 0x02, 0x05, 'x',
                                  'y',  0xd6, 0x01, 1,    2,    3,    4,    0xc0};
    hb_mp_reader_init(&r, obj, sizeof obj);
    ck_assert_int_eq(hb_mp_read_raw(&r, &raw, &len), HB_OK);
    ck_assert_ptr_eq(raw, obj);
    ck_assert_uint_eq(len, sizeof obj - 1);
    ck_assert_int_eq(hb_mp_read_nil(&r), HB_OK);
    /* Any truncation of the object fails. */
    for (size_t cut = 0; cut < sizeof obj - 1; cut++) {
        hb_mp_reader_init(&r, obj, cut);
        ck_assert_int_eq(hb_mp_read_raw(&r, &raw, &len), HB_PROTO);
        ck_assert_ptr_null(raw);
    }
}
END_TEST

START_TEST(test_wire_mp_pack_val_round_trip)
{
    static const uint8_t bytes[] = {0, 1, 2, 0xff};
    hb_val_t vals[] = {
        hb_val_nil(),
        hb_val_int(0),
        hb_val_int(-1),
        hb_val_int(INT64_MIN),
        hb_val_int(INT64_MAX),
        hb_val_str("", 0),
        hb_val_str("a\0b", 3),
        {.type = HB_VAL_BOOL, .u.b = true},
        {.type = HB_VAL_DOUBLE, .u.d = -0.125},
        {.type = HB_VAL_BIN, .u.s = {.ptr = bytes, .len = sizeof bytes}},
    };
    size_t n = sizeof vals / sizeof vals[0];
    s_buf_t b;
    s_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(hb_mp_pack_val(&b.pk, &vals[i]), HB_OK);
    hb_val_t bad = {.type = (hb_val_type_t)99};
    size_t before = b.sb.size;
    ck_assert_int_eq(hb_mp_pack_val(&b.pk, &bad), HB_INVALID);
    ck_assert_uint_eq(b.sb.size, before);

    hb_mp_reader_t r;
    hb_mp_reader_init(&r, b.sb.data, b.sb.size);
    for (size_t i = 0; i < n; i++) {
        hb_val_t v;
        ck_assert_int_eq(hb_mp_read_val(&r, &v), HB_OK);
        ck_assert_msg(s_val_eq(&v, &vals[i]), "value %zu differs", i);
    }
    ck_assert_uint_eq(hb_mp_remaining(&r), 0);
    s_buf_free(&b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Message round trips                                                  */
/* ------------------------------------------------------------------ */

START_TEST(test_wire_round_trip_submit_result_reply)
{
    static const uint8_t bytes[] = {0, 0xff, 7};
    hb_val_t args[] = {
        hb_val_str("k\0ey", 4),
        hb_val_int(INT64_MIN),
        hb_val_nil(),
        {.type = HB_VAL_BOOL, .u.b = false},
        {.type = HB_VAL_DOUBLE, .u.d = 3.5},
        {.type = HB_VAL_BIN, .u.s = {.ptr = bytes, .len = sizeof bytes}},
    };
    msgpack_sbuffer sb;
    hb_msg_t out;

    hb_msg_t m = {.type = HB_MSG_SUBMIT};
    m.u.submit.req_id = UINT64_MAX;
    m.u.submit.proc = "kv.put";
    m.u.submit.proc_len = 6;
    m.u.submit.nargs = 6;
    m.u.submit.args = args;
    s_round_trip(&m, &sb, &out);
    ck_assert(out.u.submit.req_id == UINT64_MAX);
    ck_assert_uint_eq(out.u.submit.proc_len, 6);
    ck_assert_mem_eq(out.u.submit.proc, "kv.put", 6);
    ck_assert_uint_eq(out.u.submit.nargs, 6);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(s_val_eq(&out.u.submit.args[i], &args[i]), "arg %d", i);
    /* Strings borrow from the frame. */
    ck_assert(out.u.submit.proc >= sb.data && out.u.submit.proc < sb.data + sb.size);
    hb_msg_clear(&out);
    ck_assert_ptr_null(out.u.submit.args);
    msgpack_sbuffer_destroy(&sb);

    /* Zero args. */
    m.u.submit.nargs = 0;
    m.u.submit.args = NULL;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.submit.nargs, 0);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    hb_msg_t res = {.type = HB_MSG_RESULT};
    res.u.result.req_id = 77;
    res.u.result.epoch = 123456789012ULL;
    res.u.result.rc = HB_ABORTED;
    res.u.result.msg = "insufficient funds";
    res.u.result.msg_len = 18;
    res.u.result.nvals = 2;
    res.u.result.vals = args;
    s_round_trip(&res, &sb, &out);
    ck_assert_uint_eq(out.u.result.req_id, 77);
    ck_assert_uint_eq(out.u.result.epoch, 123456789012ULL);
    ck_assert_uint_eq(out.u.result.rc, HB_ABORTED);
    ck_assert_uint_eq(out.u.result.msg_len, 18);
    ck_assert_mem_eq(out.u.result.msg, "insufficient funds", 18);
    ck_assert_uint_eq(out.u.result.nvals, 2);
    ck_assert(s_val_eq(&out.u.result.vals[1], &args[1]));
    ck_assert_uint_eq(out.u.result.client_id, 0);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    hb_msg_t rep = res;
    rep.type = HB_MSG_REPLY;
    rep.u.result.client_id = 0x8000000000000001ULL;
    rep.u.result.msg = "";
    rep.u.result.msg_len = 0;
    s_round_trip(&rep, &sb, &out);
    ck_assert(out.u.result.client_id == 0x8000000000000001ULL);
    ck_assert_uint_eq(out.u.result.req_id, 77);
    ck_assert_uint_eq(out.u.result.msg_len, 0);
    ck_assert_uint_eq(out.u.result.nvals, 2);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_wire_round_trip_batch_dispatch)
{
    s_buf_t t1, t2;
    hb_txn_t a = s_sample_txn(1), b = s_sample_txn(2);
    b.nargs = 0;
    b.nlocks = 1;
    s_pack_txn(&t1, &a);
    s_pack_txn(&t2, &b);

    hb_wire_txn_t txns[2] = {
        {.index = 0, .raw = (const uint8_t *)t1.sb.data, .raw_len = t1.sb.size},
        {.index = UINT32_MAX, .raw = (const uint8_t *)t2.sb.data, .raw_len = t2.sb.size},
    };
    hb_msg_t m = {.type = HB_MSG_BATCH};
    m.u.batch.group = UINT16_MAX;
    m.u.batch.epoch = 170000000001ULL;
    m.u.batch.since = 170000000000ULL;
    m.u.batch.ntxns = 2;
    m.u.batch.txns = txns;
    msgpack_sbuffer sb;
    hb_msg_t out;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.batch.group, UINT16_MAX);
    ck_assert_uint_eq(out.u.batch.epoch, 170000000001ULL);
    ck_assert_uint_eq(out.u.batch.since, 170000000000ULL);
    ck_assert_uint_eq(out.u.batch.ntxns, 2);
    ck_assert_uint_eq(out.u.batch.txns[1].index, UINT32_MAX);
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(out.u.batch.txns[i].raw_len, txns[i].raw_len);
        ck_assert_mem_eq(out.u.batch.txns[i].raw, txns[i].raw, txns[i].raw_len);
    }
    /* The raw slice decodes as the original transaction. */
    hb_txn_t *dec = NULL;
    ck_assert_int_eq(hb_txn_decode(out.u.batch.txns[0].raw, out.u.batch.txns[0].raw_len,
                                   NULL, 4, &dec),
                     HB_OK);
    ck_assert_uint_eq(dec->req_id, 1);
    hb_txn_destroy(&dec);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    /* An empty batch is the "epoch complete" mark. */
    m.u.batch.ntxns = 0;
    m.u.batch.txns = NULL;
    m.u.batch.since = 0;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.batch.ntxns, 0);
    ck_assert_ptr_null(out.u.batch.txns);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    hb_msg_t d = {.type = HB_MSG_DISPATCH};
    d.u.dispatch.incarnation = 9;
    d.u.dispatch.epoch = 10;
    d.u.dispatch.group = 3;
    d.u.dispatch.index = 11;
    d.u.dispatch.raw = (const uint8_t *)t1.sb.data;
    d.u.dispatch.raw_len = t1.sb.size;
    s_round_trip(&d, &sb, &out);
    ck_assert_uint_eq(out.u.dispatch.incarnation, 9);
    ck_assert_uint_eq(out.u.dispatch.epoch, 10);
    ck_assert_uint_eq(out.u.dispatch.group, 3);
    ck_assert_uint_eq(out.u.dispatch.index, 11);
    ck_assert_uint_eq(out.u.dispatch.raw_len, t1.sb.size);
    ck_assert_mem_eq(out.u.dispatch.raw, t1.sb.data, t1.sb.size);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    /* Encoding refuses a raw txn that does not start as a msgpack array and
     * leaves the caller's buffer as it was; a truncated one is caught by the
     * receiver's decoder (the encoder checks only the header, see hb_wire.c). */
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "xy", 2);
    d.u.dispatch.raw_len = t1.sb.size - 1;
    ck_assert_int_eq(hb_msg_encode(&d, &sb), HB_OK);
    hb_msg_t trunc;
    ck_assert_int_eq(hb_msg_decode(sb.data + 2, sb.size - 2, NULL, &trunc), HB_OK);
    hb_txn_t *tt = NULL;
    ck_assert_int_ne(
        hb_txn_decode(trunc.u.dispatch.raw, trunc.u.dispatch.raw_len, NULL, 16, &tt),
        HB_OK);
    hb_msg_clear(&trunc);
    sb.size = 2;
    d.u.dispatch.raw = (const uint8_t *)"\x01";
    d.u.dispatch.raw_len = 1;
    ck_assert_int_eq(hb_msg_encode(&d, &sb), HB_INVALID);
    d.u.dispatch.raw = NULL;
    ck_assert_int_eq(hb_msg_encode(&d, &sb), HB_INVALID);
    m.u.batch.ntxns = 1;
    m.u.batch.txns = NULL;
    ck_assert_int_eq(hb_msg_encode(&m, &sb), HB_INVALID);
    ck_assert_uint_eq(sb.size, 2);
    msgpack_sbuffer_destroy(&sb);

    s_buf_free(&t1);
    s_buf_free(&t2);
}
END_TEST

START_TEST(test_wire_round_trip_control)
{
    msgpack_sbuffer sb;
    hb_msg_t out;

    hb_msg_t m = {.type = HB_MSG_REPLAY};
    m.u.replay.replica = 2;
    m.u.replay.partition = 1023;
    m.u.replay.from_epoch = UINT64_MAX;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.replay.replica, 2);
    ck_assert_uint_eq(out.u.replay.partition, 1023);
    ck_assert(out.u.replay.from_epoch == UINT64_MAX);
    msgpack_sbuffer_destroy(&sb);

    m = (hb_msg_t){.type = HB_MSG_EPOCH};
    m.u.epoch.incarnation = 5;
    m.u.epoch.epoch = 6;
    m.u.epoch.ntxns = 100000;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.epoch.incarnation, 5);
    ck_assert_uint_eq(out.u.epoch.epoch, 6);
    ck_assert_uint_eq(out.u.epoch.ntxns, 100000);
    msgpack_sbuffer_destroy(&sb);

    m = (hb_msg_t){.type = HB_MSG_DONE};
    m.u.done.incarnation = 1;
    m.u.done.epoch = 2;
    m.u.done.group = 3;
    m.u.done.index = 4;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.done.incarnation, 1);
    ck_assert_uint_eq(out.u.done.epoch, 2);
    ck_assert_uint_eq(out.u.done.group, 3);
    ck_assert_uint_eq(out.u.done.index, 4);
    msgpack_sbuffer_destroy(&sb);

    hb_msg_type_t hr[] = {HB_MSG_HELLO, HB_MSG_RESET};
    for (int i = 0; i < 2; i++) {
        m = (hb_msg_t){.type = hr[i]};
        m.u.hello.incarnation = 77 + (uint64_t)i;
        m.u.hello.applied_epoch = 88;
        s_round_trip(&m, &sb, &out);
        ck_assert_uint_eq(out.u.hello.incarnation, 77 + (uint64_t)i);
        ck_assert_uint_eq(out.u.hello.applied_epoch, 88);
        msgpack_sbuffer_destroy(&sb);
    }

    hb_msg_type_t bare[] = {HB_MSG_RESYNC, HB_MSG_STATUS_REQ};
    for (int i = 0; i < 2; i++) {
        m = (hb_msg_t){.type = bare[i]};
        s_round_trip(&m, &sb, &out);
        ck_assert_uint_eq(sb.size, 3); /* [1, type] */
        msgpack_sbuffer_destroy(&sb);
    }

    hb_wire_stat_t stats[] = {
        {.name = "pid", .name_len = 3, .val = hb_val_int(4242)},
        {.name = "role", .name_len = 4, .val = hb_val_str("sched", 5)},
        {.name = "lag", .name_len = 3, .val = hb_val_int(-3)},
    };
    m = (hb_msg_t){.type = HB_MSG_STATUS};
    m.u.status.nstats = 3;
    m.u.status.stats = stats;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.status.nstats, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(out.u.status.stats[i].name_len, stats[i].name_len);
        ck_assert_mem_eq(out.u.status.stats[i].name, stats[i].name, stats[i].name_len);
        ck_assert(s_val_eq(&out.u.status.stats[i].val, &stats[i].val));
    }
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    /* A status value that is neither int nor str cannot be encoded. */
    stats[1].val.type = HB_VAL_BOOL;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(hb_msg_encode(&m, &sb), HB_INVALID);
    ck_assert_uint_eq(sb.size, 0);
    m.type = (hb_msg_type_t)0;
    ck_assert_int_eq(hb_msg_encode(&m, &sb), HB_INVALID);
    m.type = HB_MSG_TYPE_MAX_;
    ck_assert_int_eq(hb_msg_encode(&m, &sb), HB_INVALID);
    msgpack_sbuffer_destroy(&sb);

    ck_assert_str_eq(hb_msg_type_str(HB_MSG_DISPATCH), "DISPATCH");
    ck_assert_str_eq(hb_msg_type_str(HB_MSG_STATUS_REQ), "STATUS_REQ");
    ck_assert_str_eq(hb_msg_type_str(0), "?");
    ck_assert_str_eq(hb_msg_type_str(99), "?");
    ck_assert_str_eq(hb_msg_type_str(-1), "?");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Rejections                                                           */
/* ------------------------------------------------------------------ */

/* Fills sbufs with a set of valid frames of several types; returns count. */
static int
s_valid_frames(msgpack_sbuffer *sbs, int cap, s_buf_t *txnbuf)
{
    int n = 0;
    hb_txn_t t = s_sample_txn(5);
    s_pack_txn(txnbuf, &t);
    hb_val_t args[] = {
        hb_val_str("key", 3), hb_val_int(-300000), {.type = HB_VAL_DOUBLE, .u.d = 1.25}};
    hb_wire_txn_t txns[2] = {
        {.index = 0, .raw = (const uint8_t *)txnbuf->sb.data, .raw_len = txnbuf->sb.size},
        {.index = 1, .raw = (const uint8_t *)txnbuf->sb.data, .raw_len = txnbuf->sb.size},
    };
    hb_wire_stat_t stats[] = {{.name = "up", .name_len = 2, .val = hb_val_int(70000)},
                              {.name = "who", .name_len = 3, .val = hb_val_str("x", 1)}};
    static const uint8_t px[] = {0x96, 0x04, 0x01, 0xcd, 0x00, 0x01,
                                 0x02, 0xc4, 0x01, 0x2a, 0x00};
    hb_msg_t m[8];
    memset(m, 0, sizeof m);
    m[0].type = HB_MSG_SUBMIT;
    m[0].u.submit.req_id = 1000;
    m[0].u.submit.proc = "kv.add";
    m[0].u.submit.proc_len = 6;
    m[0].u.submit.nargs = 3;
    m[0].u.submit.args = args;
    m[1].type = HB_MSG_BATCH;
    m[1].u.batch.group = 2;
    m[1].u.batch.epoch = 1u << 20;
    m[1].u.batch.since = 5;
    m[1].u.batch.ntxns = 2;
    m[1].u.batch.txns = txns;
    m[2].type = HB_MSG_STATUS;
    m[2].u.status.nstats = 2;
    m[2].u.status.stats = stats;
    m[3].type = HB_MSG_REPLY;
    m[3].u.result.client_id = 1ULL << 56;
    m[3].u.result.req_id = 3;
    m[3].u.result.msg = "oops";
    m[3].u.result.msg_len = 4;
    m[3].u.result.nvals = 1;
    m[3].u.result.vals = args;
    m[4].type = HB_MSG_DISPATCH;
    m[4].u.dispatch.epoch = 70000;
    m[4].u.dispatch.raw = (const uint8_t *)txnbuf->sb.data;
    m[4].u.dispatch.raw_len = txnbuf->sb.size;
    m[5].type = HB_MSG_DONE;
    m[5].u.done.epoch = 1;
    m[5].u.done.index = 65536;
    m[6].type = HB_MSG_PAXOS;
    m[6].u.paxos.replica = 2;
    m[6].u.paxos.group = 1;
    m[6].u.paxos.frame = px;
    m[6].u.paxos.len = sizeof px;
    m[7].type = HB_MSG_FORWARD;
    m[7].u.forward.replica = 1;
    m[7].u.forward.raw = (const uint8_t *)txnbuf->sb.data;
    m[7].u.forward.raw_len = txnbuf->sb.size;
    for (int i = 0; i < 8 && n < cap; i++) {
        msgpack_sbuffer_init(&sbs[n]);
        ck_assert_int_eq(hb_msg_encode(&m[i], &sbs[n]), HB_OK);
        n++;
    }
    return n;
}

START_TEST(test_wire_round_trip_exchange)
{
    msgpack_sbuffer sb;
    hb_msg_t out;
    static const uint8_t k1[] = {0, 0, 0, 1, 'a', 0, 1}, k2[] = {0, 0, 0, 1, 'b', 0, 1};
    static const uint8_t v1[] = {0x91, 0x2a};

    /* RREAD: a present value, an absent key, an empty present value. */
    hb_wire_kv_t kvs[3] = {
        {.key = k1, .klen = sizeof k1, .val = v1, .vlen = sizeof v1, .present = true},
        {.key = k2, .klen = sizeof k2, .present = false},
        {.key = k1, .klen = 1, .val = v1, .vlen = 0, .present = true},
    };
    hb_msg_t m = {.type = HB_MSG_RREAD};
    m.u.rread.epoch = UINT64_MAX - 1;
    m.u.rread.group = 65535;
    m.u.rread.index = 99999;
    m.u.rread.from = 7;
    m.u.rread.nkvs = 3;
    m.u.rread.kvs = kvs;
    s_round_trip(&m, &sb, &out);
    ck_assert(out.u.rread.epoch == UINT64_MAX - 1);
    ck_assert_uint_eq(out.u.rread.group, 65535);
    ck_assert_uint_eq(out.u.rread.index, 99999);
    ck_assert_uint_eq(out.u.rread.from, 7);
    ck_assert_uint_eq(out.u.rread.nkvs, 3);
    ck_assert_uint_eq(out.u.rread.kvs[0].klen, sizeof k1);
    ck_assert_mem_eq(out.u.rread.kvs[0].key, k1, sizeof k1);
    ck_assert(out.u.rread.kvs[0].present);
    ck_assert_uint_eq(out.u.rread.kvs[0].vlen, sizeof v1);
    ck_assert_mem_eq(out.u.rread.kvs[0].val, v1, sizeof v1);
    ck_assert(!out.u.rread.kvs[1].present);
    ck_assert_mem_eq(out.u.rread.kvs[1].key, k2, sizeof k2);
    ck_assert(out.u.rread.kvs[2].present);
    ck_assert_uint_eq(out.u.rread.kvs[2].vlen, 0);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    /* RREAD without rows. */
    m.u.rread.nkvs = 0;
    m.u.rread.kvs = NULL;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.rread.nkvs, 0);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    hb_msg_type_t pe[] = {HB_MSG_RREQ, HB_MSG_APPLIED};
    for (int i = 0; i < 2; i++) {
        m = (hb_msg_t){.type = pe[i]};
        m.u.rreq.partition = (uint16_t)(1000 + i);
        m.u.rreq.epoch = i ? UINT64_MAX : 0;
        s_round_trip(&m, &sb, &out);
        ck_assert_uint_eq(out.u.rreq.partition, 1000 + i);
        ck_assert(out.u.rreq.epoch == (i ? UINT64_MAX : 0));
        hb_msg_clear(&out);
        msgpack_sbuffer_destroy(&sb);
    }

    m = (hb_msg_t){.type = HB_MSG_SCAN};
    m.u.scan.req_id = 42;
    m.u.scan.start = k1;
    m.u.scan.start_len = sizeof k1;
    m.u.scan.end = k2;
    m.u.scan.end_len = 0; /* unbounded */
    m.u.scan.limit = HB_WIRE_MAX_SCAN;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.scan.req_id, 42);
    ck_assert_uint_eq(out.u.scan.start_len, sizeof k1);
    ck_assert_mem_eq(out.u.scan.start, k1, sizeof k1);
    ck_assert_uint_eq(out.u.scan.end_len, 0);
    ck_assert_uint_eq(out.u.scan.limit, HB_WIRE_MAX_SCAN);
    ck_assert_uint_eq(out.u.scan.at_epoch, 0);
    /* Without at_epoch the frame keeps the four fields older peers read. */
    ck_assert_uint_eq((uint8_t)sb.data[0], 0x90 | (2 + 4));
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);
    m.u.scan.at_epoch = UINT64_MAX - 1;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq((uint8_t)sb.data[0], 0x90 | (2 + 5));
    ck_assert(out.u.scan.at_epoch == UINT64_MAX - 1);
    ck_assert_uint_eq(out.u.scan.limit, HB_WIRE_MAX_SCAN);
    ck_assert_mem_eq(out.u.scan.start, k1, sizeof k1);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    m = (hb_msg_t){.type = HB_MSG_SCAN_RESULT};
    m.u.scan_result.req_id = 43;
    m.u.scan_result.epoch = 9;
    m.u.scan_result.rc = HB_IO;
    m.u.scan_result.msg = "disk";
    m.u.scan_result.msg_len = 4;
    m.u.scan_result.nkvs = 1;
    m.u.scan_result.kvs = kvs;
    m.u.scan_result.catver = 7;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.scan_result.req_id, 43);
    ck_assert_uint_eq(out.u.scan_result.epoch, 9);
    ck_assert_uint_eq(out.u.scan_result.catver, 7);
    ck_assert_uint_eq(out.u.scan_result.rc, HB_IO);
    ck_assert_uint_eq(out.u.scan_result.msg_len, 4);
    ck_assert_mem_eq(out.u.scan_result.msg, "disk", 4);
    ck_assert_uint_eq(out.u.scan_result.nkvs, 1);
    ck_assert_mem_eq(out.u.scan_result.kvs[0].val, v1, sizeof v1);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* Starts a frame [1, type, ...] of n fields in a fresh b. */
static void
s_frame(s_buf_t *b, hb_msg_type_t type, uint32_t nfields)
{
    s_buf_init(b);
    msgpack_pack_array(&b->pk, 2 + nfields);
    msgpack_pack_uint8(&b->pk, 1);
    msgpack_pack_uint8(&b->pk, (uint8_t)type);
}

/* Packs an RREAD header (epoch 1, group 0, index 0, from 1). */
static void
s_rread_head(s_buf_t *b)
{
    s_frame(b, HB_MSG_RREAD, 5);
    msgpack_pack_uint8(&b->pk, 1);
    msgpack_pack_uint8(&b->pk, 0);
    msgpack_pack_uint8(&b->pk, 0);
    msgpack_pack_uint8(&b->pk, 1);
}

static void
s_pack_bin(s_buf_t *b, const void *p, size_t len)
{
    msgpack_pack_bin(&b->pk, len);
    msgpack_pack_bin_body(&b->pk, p, len);
}

START_TEST(test_wire_reject_exchange)
{
    s_buf_t b;
    hb_limits_t lim = HB_LIMITS_DEFAULT;

    /* RREAD: more rows than max_locks. */
    lim.max_locks = 2;
    s_rread_head(&b);
    msgpack_pack_array(&b.pk, 3);
    for (int i = 0; i < 3; i++) {
        msgpack_pack_array(&b.pk, 2);
        s_pack_bin(&b, "k", 1);
        msgpack_pack_nil(&b.pk);
    }
    s_expect_reject(b.sb.data, b.sb.size, &lim, HB_TOOBIG, &hb_wire_stats.too_big,
                    "rread rows");
    s_buf_free(&b);

    /* RREAD: an empty key; a value that is an integer; a row of 3. */
    for (int bad = 0; bad < 3; bad++) {
        s_rread_head(&b);
        msgpack_pack_array(&b.pk, 1);
        msgpack_pack_array(&b.pk, bad == 2 ? 3 : 2);
        s_pack_bin(&b, "k", bad == 0 ? 0 : 1);
        if (bad == 1)
            msgpack_pack_int(&b.pk, 5);
        else
            msgpack_pack_nil(&b.pk);
        if (bad == 2)
            msgpack_pack_nil(&b.pk);
        s_expect_reject(b.sb.data, b.sb.size, NULL, HB_PROTO, &hb_wire_stats.malformed,
                        "rread row");
        s_buf_free(&b);
    }

    /* RREAD: a value above max_value_bytes. */
    lim = HB_LIMITS_DEFAULT;
    lim.max_value_bytes = 4;
    s_rread_head(&b);
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_array(&b.pk, 2);
    s_pack_bin(&b, "k", 1);
    s_pack_bin(&b, "12345", 5);
    s_expect_reject(b.sb.data, b.sb.size, &lim, HB_TOOBIG, &hb_wire_stats.too_big,
                    "rread value");
    s_buf_free(&b);

    /* RREAD: from does not fit a uint16. */
    s_frame(&b, HB_MSG_RREAD, 5);
    msgpack_pack_uint8(&b.pk, 1);
    msgpack_pack_uint8(&b.pk, 0);
    msgpack_pack_uint8(&b.pk, 0);
    msgpack_pack_uint32(&b.pk, 70000);
    msgpack_pack_array(&b.pk, 0);
    s_expect_reject(b.sb.data, b.sb.size, NULL, HB_PROTO, &hb_wire_stats.malformed,
                    "rread from");
    s_buf_free(&b);

    /* RREQ / APPLIED: partition above uint16, negative or string epoch. */
    hb_msg_type_t pe[] = {HB_MSG_RREQ, HB_MSG_APPLIED};
    for (int i = 0; i < 2; i++) {
        for (int bad = 0; bad < 3; bad++) {
            s_frame(&b, pe[i], 2);
            if (bad == 0)
                msgpack_pack_uint32(&b.pk, 65536);
            else
                msgpack_pack_uint8(&b.pk, 1);
            if (bad == 1)
                msgpack_pack_int(&b.pk, -1);
            else if (bad == 2)
                msgpack_pack_str_with_body(&b.pk, "1", 1);
            else
                msgpack_pack_uint8(&b.pk, 1);
            s_expect_reject(b.sb.data, b.sb.size, NULL, HB_PROTO,
                            &hb_wire_stats.malformed, hb_msg_type_str(pe[i]));
            s_buf_free(&b);
        }
    }

    /* SCAN: a start key above max_key_bytes; an integer end; a limit too big. */
    lim = HB_LIMITS_DEFAULT;
    lim.max_key_bytes = 2;
    for (int bad = 0; bad < 3; bad++) {
        s_frame(&b, HB_MSG_SCAN, 4);
        msgpack_pack_uint8(&b.pk, 1);
        s_pack_bin(&b, "abc", bad == 0 ? 3 : 1);
        if (bad == 1)
            msgpack_pack_int(&b.pk, 7);
        else
            s_pack_bin(&b, "", 0);
        msgpack_pack_uint32(&b.pk, bad == 2 ? HB_WIRE_MAX_SCAN + 1 : 10);
        s_expect_reject(b.sb.data, b.sb.size, &lim, bad == 2 ? HB_TOOBIG : HB_PROTO,
                        bad == 2 ? &hb_wire_stats.too_big : &hb_wire_stats.malformed,
                        "scan");
        s_buf_free(&b);
    }

    /* SCAN: at_epoch not a uint; a sixth field. */
    for (int bad = 0; bad < 2; bad++) {
        s_frame(&b, HB_MSG_SCAN, bad ? 6 : 5);
        msgpack_pack_uint8(&b.pk, 1);
        s_pack_bin(&b, "a", 1);
        s_pack_bin(&b, "", 0);
        msgpack_pack_uint32(&b.pk, 10);
        if (bad == 0) {
            msgpack_pack_int(&b.pk, -3);
        } else {
            msgpack_pack_uint64(&b.pk, 5);
            msgpack_pack_uint64(&b.pk, 5);
        }
        s_expect_reject(b.sb.data, b.sb.size, NULL, HB_PROTO, &hb_wire_stats.malformed,
                        "scan at_epoch");
        s_buf_free(&b);
    }

    /* SCAN_RESULT: msg not a str; rows claiming more than the frame holds. */
    for (int bad = 0; bad < 2; bad++) {
        s_frame(&b, HB_MSG_SCAN_RESULT, 6);
        msgpack_pack_uint8(&b.pk, 1);
        msgpack_pack_uint8(&b.pk, 2);
        msgpack_pack_uint8(&b.pk, 0);
        if (bad == 0)
            msgpack_pack_int(&b.pk, 3);
        else
            msgpack_pack_str_with_body(&b.pk, "", 0);
        msgpack_pack_array(&b.pk, bad == 1 ? 1000 : 0);
        s_expect_reject(b.sb.data, b.sb.size, NULL, HB_PROTO, &hb_wire_stats.malformed,
                        "scan_result");
        s_buf_free(&b);
    }
}
END_TEST

START_TEST(test_wire_round_trip_paxos_forward)
{
    msgpack_sbuffer sb;
    hb_msg_t out;

    /* PAXOS carries the core's frame as an opaque bin. */
    static const uint8_t frame[] = {0x96, 0x04, 0x00, 0xcf, 0,    0,    0,    0,
                                    0,    1,    0,    2,    0x05, 0xc4, 0x00, 0x07};
    hb_msg_t m = {.type = HB_MSG_PAXOS};
    m.u.paxos.replica = 65535;
    m.u.paxos.group = 1023;
    m.u.paxos.frame = frame;
    m.u.paxos.len = sizeof frame;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.paxos.replica, 65535);
    ck_assert_uint_eq(out.u.paxos.group, 1023);
    ck_assert_uint_eq(out.u.paxos.len, sizeof frame);
    ck_assert_mem_eq(out.u.paxos.frame, frame, sizeof frame);
    /* The frame borrows from the message bytes. */
    ck_assert(out.u.paxos.frame >= (const uint8_t *)sb.data &&
              out.u.paxos.frame + out.u.paxos.len <= (const uint8_t *)sb.data + sb.size);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    /* An empty frame survives too (the core rejects it, not the codec). */
    m.u.paxos.replica = 0;
    m.u.paxos.group = 0;
    m.u.paxos.frame = NULL;
    m.u.paxos.len = 0;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.paxos.len, 0);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    /* FORWARD: [replica, txn...], the txn byte for byte as the follower
     * encoded it. */
    hb_txn_t t = s_sample_txn(31337);
    s_buf_t tb;
    s_pack_txn(&tb, &t);
    m = (hb_msg_t){.type = HB_MSG_FORWARD};
    m.u.forward.replica = 2;
    m.u.forward.raw = (const uint8_t *)tb.sb.data;
    m.u.forward.raw_len = tb.sb.size;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.forward.replica, 2);
    ck_assert_uint_eq(out.u.forward.raw_len, tb.sb.size);
    ck_assert_mem_eq(out.u.forward.raw, tb.sb.data, tb.sb.size);
    hb_txn_t *dt = NULL;
    ck_assert_int_eq(
        hb_txn_decode(out.u.forward.raw, out.u.forward.raw_len, NULL, 16, &dt), HB_OK);
    ck_assert_uint_eq(dt->req_id, 31337);
    ck_assert_uint_eq(dt->origin_replica, 2);
    hb_txn_destroy(&dt);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    /* A FORWARD without a txn, or whose txn is not an array, cannot be
     * encoded; nothing is left in the buffer. */
    msgpack_sbuffer_init(&sb);
    m.u.forward.raw = NULL;
    m.u.forward.raw_len = 0;
    ck_assert_int_eq(hb_msg_encode(&m, &sb), HB_INVALID);
    ck_assert_uint_eq(sb.size, 0);
    m.u.forward.raw = (const uint8_t *)"\x05";
    m.u.forward.raw_len = 1;
    ck_assert_int_eq(hb_msg_encode(&m, &sb), HB_INVALID);
    ck_assert_uint_eq(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
    s_buf_free(&tb);

    /* CLOSE: [group, epoch, relayed]. */
    m = (hb_msg_t){.type = HB_MSG_CLOSE};
    m.u.close.group = 513;
    m.u.close.epoch = 1700000000123456ULL;
    m.u.close.relayed = 1;
    s_round_trip(&m, &sb, &out);
    ck_assert_uint_eq(out.u.close.group, 513);
    ck_assert_uint_eq(out.u.close.epoch, 1700000000123456ULL);
    ck_assert_uint_eq(out.u.close.relayed, 1);
    hb_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);

    ck_assert_str_eq(hb_msg_type_str(HB_MSG_PAXOS), "PAXOS");
    ck_assert_str_eq(hb_msg_type_str(HB_MSG_FORWARD), "FORWARD");
    ck_assert_str_eq(hb_msg_type_str(HB_MSG_CLOSE), "CLOSE");
}
END_TEST

START_TEST(test_wire_reject_paxos_forward)
{
    s_buf_t b;

    /* PAXOS: replica or group not a uint16 (too big, negative, str, nil or
     * bool); frame not a bin (bool, int, array, nil; a str is taken as
     * bytes, as hb_mp_read_bin documents). */
    for (int bad = 0; bad < 12; bad++) {
        s_frame(&b, HB_MSG_PAXOS, 3);
        switch (bad) {
        case 0:
            msgpack_pack_uint32(&b.pk, 65536);
            break;
        case 1:
            msgpack_pack_int(&b.pk, -1);
            break;
        case 2:
            msgpack_pack_str_with_body(&b.pk, "0", 1);
            break;
        case 3:
            msgpack_pack_nil(&b.pk);
            break;
        default:
            msgpack_pack_uint8(&b.pk, 1);
            break;
        }
        switch (bad) {
        case 4:
            msgpack_pack_uint32(&b.pk, 65536);
            break;
        case 5:
            msgpack_pack_int(&b.pk, -2);
            break;
        case 6:
            msgpack_pack_str_with_body(&b.pk, "g", 1);
            break;
        case 7:
            msgpack_pack_true(&b.pk);
            break;
        default:
            msgpack_pack_uint8(&b.pk, 0);
            break;
        }
        switch (bad) {
        case 8:
            msgpack_pack_false(&b.pk);
            break;
        case 9:
            msgpack_pack_int(&b.pk, 7);
            break;
        case 10:
            msgpack_pack_array(&b.pk, 0);
            break;
        case 11:
            msgpack_pack_nil(&b.pk);
            break;
        default:
            s_pack_bin(&b, "\x94", 1);
            break;
        }
        char what[32];
        snprintf(what, sizeof what, "paxos case %d", bad);
        s_expect_reject(b.sb.data, b.sb.size, NULL, HB_PROTO, &hb_wire_stats.malformed,
                        what);
        s_buf_free(&b);
    }
    /* A PAXOS frame bin claiming more bytes than the message holds. */
    static const uint8_t px_long[] = {0x95, 0x01, 0x13, 0x00, 0x00, 0xc6,
                                      0xff, 0xff, 0xff, 0xff, 0x00};
    s_expect_reject(px_long, sizeof px_long, NULL, HB_PROTO, &hb_wire_stats.malformed,
                    "paxos bin32");

    /* FORWARD: replica not a uint16; txn an int, a bin, a map, a str, nil. */
    hb_txn_t t = s_sample_txn(1);
    s_buf_t tb;
    s_pack_txn(&tb, &t);
    for (int bad = 0; bad < 8; bad++) {
        s_frame(&b, HB_MSG_FORWARD, 2);
        switch (bad) {
        case 0:
            msgpack_pack_uint32(&b.pk, 70000);
            break;
        case 1:
            msgpack_pack_int(&b.pk, -1);
            break;
        case 2:
            msgpack_pack_str_with_body(&b.pk, "1", 1);
            break;
        default:
            msgpack_pack_uint8(&b.pk, 1);
            break;
        }
        switch (bad) {
        case 3:
            msgpack_pack_int(&b.pk, 5);
            break;
        case 4:
            s_pack_bin(&b, tb.sb.data, tb.sb.size);
            break; /* a txn wrapped in a bin */
        case 5:
            msgpack_pack_map(&b.pk, 0);
            break;
        case 6:
            msgpack_pack_str_with_body(&b.pk, "txn", 3);
            break;
        case 7:
            msgpack_pack_nil(&b.pk);
            break;
        default:
            msgpack_sbuffer_write(&b.sb, tb.sb.data, tb.sb.size);
            break;
        }
        char what[32];
        snprintf(what, sizeof what, "forward case %d", bad);
        s_expect_reject(b.sb.data, b.sb.size, NULL, HB_PROTO, &hb_wire_stats.malformed,
                        what);
        s_buf_free(&b);
    }
    /* The frame decoder takes the rest of a FORWARD as the txn without
     * walking it; a txn with trailing bytes or cut short is refused by
     * hb_txn_decode, which the leader runs on every FORWARD. */
    for (int bad = 0; bad < 2; bad++) {
        s_frame(&b, HB_MSG_FORWARD, 2);
        msgpack_pack_uint8(&b.pk, 1);
        msgpack_sbuffer_write(&b.sb, tb.sb.data, tb.sb.size);
        if (bad == 0)
            msgpack_pack_nil(&b.pk);
        else
            b.sb.size -= 1;
        hb_msg_t msg;
        ck_assert_int_eq(hb_msg_decode(b.sb.data, b.sb.size, NULL, &msg), HB_OK);
        ck_assert_int_eq(msg.type, HB_MSG_FORWARD);
        hb_txn_t *dt = NULL;
        ck_assert_int_eq(
            hb_txn_decode(msg.u.forward.raw, msg.u.forward.raw_len, NULL, 16, &dt),
            HB_PROTO);
        ck_assert_ptr_null(dt);
        hb_msg_clear(&msg);
        s_buf_free(&b);
    }
    s_buf_free(&tb);
}
END_TEST

START_TEST(test_wire_reject_truncated)
{
    msgpack_sbuffer sbs[8];
    s_buf_t txnbuf;
    int n = s_valid_frames(sbs, 8, &txnbuf);
    ck_assert_int_eq(n, 8);
    for (int i = 0; i < n; i++) {
        hb_msg_t msg;
        ck_assert_int_eq(hb_msg_decode(sbs[i].data, sbs[i].size, NULL, &msg), HB_OK);
        hb_msg_clear(&msg);
        /* Copy each prefix into an exact-size heap block so valgrind / ASan
         * would catch a read past its end. */
        for (size_t cut = 0; cut < sbs[i].size; cut++) {
            char *p = malloc(cut ? cut : 1);
            memcpy(p, sbs[i].data, cut);
            char what[64];
            snprintf(what, sizeof what, "frame %d cut at %zu", i, cut);
            hb_msg_t dm;
            if (hb_msg_decode(p, cut, NULL, &dm) == HB_OK) {
                /* Only a DISPATCH or FORWARD cut inside its transaction
                 * gets through the frame decoder (the txn is taken as the
                 * rest of the frame); the transaction decoder every
                 * receiver runs must then refuse it. */
                ck_assert_msg(dm.type == HB_MSG_DISPATCH || dm.type == HB_MSG_FORWARD,
                              "%s: accepted", what);
                const uint8_t *raw =
                    dm.type == HB_MSG_DISPATCH ? dm.u.dispatch.raw : dm.u.forward.raw;
                size_t raw_len = dm.type == HB_MSG_DISPATCH ? dm.u.dispatch.raw_len
                                                            : dm.u.forward.raw_len;
                hb_txn_t *t = NULL;
                ck_assert_msg(hb_txn_decode(raw, raw_len, NULL, 16, &t) != HB_OK,
                              "%s: txn accepted", what);
                hb_msg_clear(&dm);
            } else {
                ck_assert_msg(hb_wire_stats.frames_rejected > 0, "%s", what);
            }
            free(p);
        }
        msgpack_sbuffer_destroy(&sbs[i]);
    }
    s_buf_free(&txnbuf);
}
END_TEST

START_TEST(test_wire_reject_declared_lengths)
{
    /* Top-level array claiming 2^32-1 elements. */
    static const uint8_t f1[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01};
    s_expect_reject(f1, sizeof f1, NULL, HB_PROTO, &hb_wire_stats.malformed, "array32");
    /* SUBMIT whose proc str claims 2^32-1 bytes. */
    static const uint8_t f2[] = {0x95, 0x01, 0x01, 0x00, 0xdb,
                                 0xff, 0xff, 0xff, 0xff, 'a'};
    s_expect_reject(f2, sizeof f2, NULL, HB_PROTO, &hb_wire_stats.malformed, "str32");
    /* SUBMIT whose args array claims 2^32-1 elements. */
    static const uint8_t f3[] = {0x95, 0x01, 0x01, 0x00, 0xa1, 'a',
                                 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    s_expect_reject(f3, sizeof f3, NULL, HB_PROTO, &hb_wire_stats.malformed, "args32");
    /* SUBMIT with one bin arg claiming 2^32-1 bytes. */
    static const uint8_t f4[] = {0x95, 0x01, 0x01, 0x00, 0xa1, 'a', 0x91,
                                 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};
    s_expect_reject(f4, sizeof f4, NULL, HB_PROTO, &hb_wire_stats.malformed, "bin32");
    /* BATCH whose txns array claims 2^32-1 entries. */
    static const uint8_t f5[] = {0x96, 0x01, 0x03, 0x00, 0x01, 0x00,
                                 0xdd, 0xff, 0xff, 0xff, 0xff, 0x92};
    s_expect_reject(f5, sizeof f5, NULL, HB_PROTO, &hb_wire_stats.malformed, "txns32");
    /* STATUS map claiming 2^32-1 entries. */
    static const uint8_t f6[] = {0x93, 0x01, 0x0d, 0xdf, 0xff,
                                 0xff, 0xff, 0xff, 0xa1, 'a'};
    s_expect_reject(f6, sizeof f6, NULL, HB_PROTO, &hb_wire_stats.malformed, "map32");
    /* RESULT whose msg is a str16 claiming 65535 bytes. */
    static const uint8_t f7[] = {0x97, 0x01, 0x02, 0x00, 0x00,
                                 0x00, 0xda, 0xff, 0xff, 0x90};
    s_expect_reject(f7, sizeof f7, NULL, HB_PROTO, &hb_wire_stats.malformed, "str16");
    /* DISPATCH whose txn is an array claiming 2^32-1 elements. */
    static const uint8_t f8[] = {0x97, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00,
                                 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00};
    hb_msg_t d8;
    ck_assert_int_eq(hb_msg_decode(f8, sizeof f8, NULL, &d8),
                     HB_OK); /* txn taken as is */
    hb_txn_t *t8 = NULL;
    ck_assert_int_eq(
        hb_txn_decode(d8.u.dispatch.raw, d8.u.dispatch.raw_len, NULL, 16, &t8), HB_PROTO);
    hb_msg_clear(&d8);
}
END_TEST

START_TEST(test_wire_reject_limits)
{
    hb_limits_t lim = HB_LIMITS_DEFAULT;
    s_buf_t b;

    /* 257 args with default limits (max_args 256). */
    s_buf_init(&b);
    msgpack_pack_array(&b.pk, 5);
    msgpack_pack_uint8(&b.pk, 1);
    msgpack_pack_uint8(&b.pk, HB_MSG_SUBMIT);
    msgpack_pack_uint8(&b.pk, 1);
    hb_mp_pack_cstr(&b.pk, "kv.get");
    msgpack_pack_array(&b.pk, 257);
    for (int i = 0; i < 257; i++)
        msgpack_pack_nil(&b.pk);
    s_expect_reject(b.sb.data, b.sb.size, NULL, HB_TOOBIG, &hb_wire_stats.too_big,
                    "257 args");
    s_buf_free(&b);

    /* A 5-byte arg with max_value_bytes = 4; 4 bytes is fine. */
    lim.max_value_bytes = 4;
    for (int len = 4; len <= 5; len++) {
        s_buf_init(&b);
        msgpack_pack_array(&b.pk, 5);
        msgpack_pack_uint8(&b.pk, 1);
        msgpack_pack_uint8(&b.pk, HB_MSG_SUBMIT);
        msgpack_pack_uint8(&b.pk, 1);
        hb_mp_pack_cstr(&b.pk, "kv"); /* proc is bounded by max_value_bytes too */
        msgpack_pack_array(&b.pk, 1);
        hb_mp_pack_str(&b.pk, "abcde", (size_t)len);
        if (len == 4) {
            hb_msg_t msg;
            ck_assert_int_eq(hb_msg_decode(b.sb.data, b.sb.size, &lim, &msg), HB_OK);
            hb_msg_clear(&msg);
        } else {
            s_expect_reject(b.sb.data, b.sb.size, &lim, HB_TOOBIG, &hb_wire_stats.too_big,
                            "long arg");
        }
        s_buf_free(&b);
    }
    lim = HB_LIMITS_DEFAULT;

    /* A batch of 2 with max_batch_txns = 1. */
    lim.max_batch_txns = 1;
    s_buf_init(&b);
    msgpack_pack_array(&b.pk, 6);
    msgpack_pack_uint8(&b.pk, 1);
    msgpack_pack_uint8(&b.pk, HB_MSG_BATCH);
    msgpack_pack_uint8(&b.pk, 0);
    msgpack_pack_uint8(&b.pk, 1);
    msgpack_pack_uint8(&b.pk, 0);
    msgpack_pack_array(&b.pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_array(&b.pk, 2);
        msgpack_pack_uint8(&b.pk, (uint8_t)i);
        msgpack_pack_array(&b.pk, 0);
    }
    s_expect_reject(b.sb.data, b.sb.size, &lim, HB_TOOBIG, &hb_wire_stats.too_big,
                    "batch of 2");
    /* The same frame is fine with default limits (the codec does not look
     * inside raw transactions). */
    hb_msg_t msg;
    ck_assert_int_eq(hb_msg_decode(b.sb.data, b.sb.size, NULL, &msg), HB_OK);
    ck_assert_uint_eq(msg.u.batch.ntxns, 2);
    hb_msg_clear(&msg);

    /* The whole frame longer than max_frame_bytes. */
    lim = HB_LIMITS_DEFAULT;
    lim.max_frame_bytes = (uint32_t)b.sb.size - 1;
    s_expect_reject(b.sb.data, b.sb.size, &lim, HB_TOOBIG, &hb_wire_stats.too_big,
                    "frame too long");
    s_buf_free(&b);
}
END_TEST

START_TEST(test_wire_reject_version_type_count)
{
    /* Wrong versions: 0, 2, -1, "1", nil. */
    static const uint8_t v0[] = {0x92, 0x00, 0x0c};
    static const uint8_t v2[] = {0x92, 0x02, 0x0c};
    static const uint8_t vneg[] = {0x92, 0xff, 0x0c};
    static const uint8_t vstr[] = {0x92, 0xa1, '1', 0x0c};
    static const uint8_t vnil[] = {0x92, 0xc0, 0x0c};
    const struct {
        const uint8_t *p;
        size_t len;
    } versions[] = {{v0, sizeof v0},
                    {v2, sizeof v2},
                    {vneg, sizeof vneg},
                    {vstr, sizeof vstr},
                    {vnil, sizeof vnil}};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
        s_expect_reject(versions[i].p, versions[i].len, NULL, HB_PROTO,
                        &hb_wire_stats.bad_version, "version");

    /* Unknown types: 0, 99, 255, -1, "x". */
    static const uint8_t t0[] = {0x92, 0x01, 0x00};
    static const uint8_t t14[] = {0x92, 0x01, 0x63};
    static const uint8_t t255[] = {0x92, 0x01, 0xcc, 0xff};
    static const uint8_t tneg[] = {0x92, 0x01, 0xff};
    static const uint8_t tstr[] = {0x92, 0x01, 0xa1, 'x'};
    const struct {
        const uint8_t *p;
        size_t len;
    } types[] = {{t0, sizeof t0},
                 {t14, sizeof t14},
                 {t255, sizeof t255},
                 {tneg, sizeof tneg},
                 {tstr, sizeof tstr}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        s_expect_reject(types[i].p, types[i].len, NULL, HB_PROTO, &hb_wire_stats.bad_type,
                        "type");

    /* Not an array, or an array too short to hold version and type. */
    static const uint8_t notarr[] = {0x01};
    s_expect_reject(notarr, sizeof notarr, NULL, HB_PROTO, &hb_wire_stats.malformed,
                    "not an array");
    static const uint8_t short1[] = {0x91, 0x01};
    s_expect_reject(short1, sizeof short1, NULL, HB_PROTO, &hb_wire_stats.malformed,
                    "one element");
    s_expect_reject(NULL, 0, NULL, HB_PROTO, &hb_wire_stats.malformed, "empty");

    /* Every type with every wrong field count 0..7 (fields are nils);
     * SCAN also takes 5 (at_epoch). */
    static const uint32_t want[] = {0, 3, 5, 4, 3, 5, 3, 4, 2, 2, 0,
                                    6, 0, 1, 5, 2, 4, 6, 2, 3, 2, 3};
    for (int type = 1; type < HB_MSG_TYPE_MAX_; type++) {
        for (uint32_t k = 0; k <= 7; k++) {
            if (k == want[type] || (type == HB_MSG_SCAN && k == want[type] + 1))
                continue;
            s_buf_t b;
            s_buf_init(&b);
            msgpack_pack_array(&b.pk, 2 + k);
            msgpack_pack_uint8(&b.pk, 1);
            msgpack_pack_uint8(&b.pk, (uint8_t)type);
            for (uint32_t j = 0; j < k; j++)
                msgpack_pack_nil(&b.pk);
            s_nlines = 0;
            s_expect_reject(b.sb.data, b.sb.size, NULL, HB_PROTO,
                            &hb_wire_stats.malformed, "field count");
            ck_assert_uint_eq(s_nlines, 1);
            ck_assert_msg(strstr(s_last_line, "wrong field count") &&
                              strstr(s_last_line, hb_msg_type_str(type)),
                          "log line: %s", s_last_line);
            s_buf_free(&b);
        }
    }
}
END_TEST

START_TEST(test_wire_reject_ranges_and_trailing)
{
    /* BATCH group 65536 does not fit uint16. */
    static const uint8_t g[] = {0x96, 0x01, 0x03, 0xce, 0x00, 0x01,
                                0x00, 0x00, 0x01, 0x00, 0x90};
    s_expect_reject(g, sizeof g, NULL, HB_PROTO, &hb_wire_stats.malformed, "group");
    /* DONE index 2^32 does not fit uint32. */
    static const uint8_t idx[] = {0x96, 0x01, 0x07, 0x00, 0x00, 0x00, 0xcf, 0,
                                  0,    0,    1,    0,    0,    0,    0};
    s_expect_reject(idx, sizeof idx, NULL, HB_PROTO, &hb_wire_stats.malformed, "index");
    /* RESULT rc -1. */
    static const uint8_t rc[] = {0x97, 0x01, 0x02, 0x00, 0x00, 0xff, 0xa0, 0x90};
    s_expect_reject(rc, sizeof rc, NULL, HB_PROTO, &hb_wire_stats.malformed, "rc");
    /* HELLO with a negative epoch. */
    static const uint8_t ep[] = {0x94, 0x01, 0x08, 0x00, 0xd0, 0x80};
    s_expect_reject(ep, sizeof ep, NULL, HB_PROTO, &hb_wire_stats.malformed, "epoch");
    /* SUBMIT whose proc is bin, not str. */
    static const uint8_t pb[] = {0x95, 0x01, 0x01, 0x00, 0xc4, 0x01, 'a', 0x90};
    s_expect_reject(pb, sizeof pb, NULL, HB_PROTO, &hb_wire_stats.malformed, "proc bin");
    /* SUBMIT with an array as an arg. */
    static const uint8_t aa[] = {0x95, 0x01, 0x01, 0x00, 0xa1, 'a', 0x91, 0x90};
    s_expect_reject(aa, sizeof aa, NULL, HB_PROTO, &hb_wire_stats.malformed, "array arg");
    /* DISPATCH whose txn is an integer. */
    static const uint8_t di[] = {0x97, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x05};
    s_expect_reject(di, sizeof di, NULL, HB_PROTO, &hb_wire_stats.malformed, "txn int");
    /* BATCH entry that is [index] only. */
    static const uint8_t be[] = {0x96, 0x01, 0x03, 0x00, 0x01,
                                 0x00, 0x91, 0x91, 0x00, 0x90};
    s_expect_reject(be, sizeof be, NULL, HB_PROTO, &hb_wire_stats.malformed, "entry");
    /* STATUS with a bool value and with an int name. */
    static const uint8_t sb[] = {0x93, 0x01, 0x0d, 0x81, 0xa1, 'a', 0xc3};
    s_expect_reject(sb, sizeof sb, NULL, HB_PROTO, &hb_wire_stats.malformed,
                    "status bool");
    static const uint8_t sn[] = {0x93, 0x01, 0x0d, 0x81, 0x01, 0x01};
    s_expect_reject(sn, sizeof sn, NULL, HB_PROTO, &hb_wire_stats.malformed,
                    "status name");

    /* Trailing garbage after a valid frame: rejected, logged once, naming
     * the type and the problem. */
    static const uint8_t tr[] = {0x95, 0x01, 0x01, 0x07, 0xa1, 'a', 0x90, 0x00};
    hb_msg_t msg;
    ck_assert_int_eq(hb_msg_decode(tr, sizeof tr - 1, NULL, &msg), HB_OK);
    ck_assert_uint_eq(msg.u.submit.req_id, 7);
    hb_msg_clear(&msg);
    s_nlines = 0;
    s_expect_reject(tr, sizeof tr, NULL, HB_PROTO, &hb_wire_stats.malformed, "trailing");
    ck_assert_uint_eq(s_nlines, 1);
    ck_assert_msg(strstr(s_last_line, "SUBMIT") && strstr(s_last_line, "trailing"),
                  "log line: %s", s_last_line);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Fuzz                                                                 */
/* ------------------------------------------------------------------ */

START_TEST(test_wire_fuzz_garbage)
{
    enum { N = 200000, MAXLEN = 512 };
    static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0x90, 0x9f, 0xc0, 0xc1,
                                          0xc4, 0xc6, 0xc9, 0xcc, 0xcf, 0xd3, 0xd4, 0xdb,
                                          0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};
    msgpack_sbuffer sbs[8];
    s_buf_t txnbuf;
    int nvalid = s_valid_frames(sbs, 8, &txnbuf);
    uint64_t st = s_seed | 1;
    hb_wire_stats_t before = hb_wire_stats;
    uint64_t accepted = 0, rejected = 0;
    hb_log_set_level(HB_LOG_ERROR); /* keep 200k warnings out of the sink */

    for (int i = 0; i < N; i++) {
        uint8_t frame[MAXLEN];
        size_t len;
        uint64_t how = s_rand(&st) % 8;
        if (how == 0) {
            /* Pure random bytes. */
            len = s_rand(&st) % 64;
            for (size_t j = 0; j < len; j++)
                frame[j] = (uint8_t)s_rand(&st);
        } else if (how == 1) {
            /* A plausible header, then random bytes. */
            len = 3 + s_rand(&st) % 40;
            frame[0] = (uint8_t)(0x92 + s_rand(&st) % 6);
            frame[1] = 0x01;
            frame[2] = (uint8_t)(1 + s_rand(&st) % 13);
            for (size_t j = 3; j < len; j++)
                frame[j] = (uint8_t)s_rand(&st);
        } else {
            /* A valid frame with a few mutations. */
            const msgpack_sbuffer *src = &sbs[s_rand(&st) % (uint64_t)nvalid];
            len = src->size;
            memcpy(frame, src->data, len);
            int nmut = 1 + (int)(s_rand(&st) % 4);
            for (int m = 0; m < nmut && len > 0; m++) {
                size_t at = s_rand(&st) % len;
                switch (s_rand(&st) % 5) {
                case 0:
                    frame[at] = (uint8_t)s_rand(&st);
                    break;
                case 1:
                    frame[at] = interesting[s_rand(&st) % sizeof interesting];
                    break;
                case 2:
                    len = at; /* truncate */
                    break;
                case 3:
                    if (len < MAXLEN) { /* insert a byte */
                        memmove(frame + at + 1, frame + at, len - at);
                        frame[at] = (uint8_t)s_rand(&st);
                        len++;
                    }
                    break;
                default:
                    frame[at] ^= (uint8_t)(1u << (s_rand(&st) % 8));
                    break;
                }
            }
        }
        /* An exact-size heap copy, so a read past the end is caught. */
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, frame, len);
        hb_msg_t msg;
        hb_rc_t rc = hb_msg_decode(p, len, NULL, &msg);
        if (rc == HB_OK) {
            accepted++;
            /* Whatever is accepted re-encodes, and that decodes again. */
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            ck_assert_msg(hb_msg_encode(&msg, &sb) == HB_OK, "seed %" PRIu64 " frame %d",
                          s_seed, i);
            hb_msg_t again;
            ck_assert_msg(hb_msg_decode(sb.data, sb.size, NULL, &again) == HB_OK,
                          "seed %" PRIu64 " frame %d", s_seed, i);
            ck_assert_int_eq(again.type, msg.type);
            hb_msg_clear(&again);
            msgpack_sbuffer_destroy(&sb);
            accepted++; /* the re-decode */
            hb_msg_clear(&msg);
        } else {
            ck_assert_msg(rc == HB_PROTO || rc == HB_TOOBIG, "seed %" PRIu64 " rc %d",
                          s_seed, rc);
            ck_assert_int_eq(msg.type, 0);
            rejected++;
        }
        free(p);
    }
    printf("test_wire: fuzz seed %" PRIu64 ": %" PRIu64 " rejected, %" PRIu64
           " accepted of %d\n",
           s_seed, rejected, accepted / 2, N);
    ck_assert_uint_eq(hb_wire_stats.frames_rejected - before.frames_rejected, rejected);
    ck_assert_uint_eq(hb_wire_stats.frames_ok - before.frames_ok, accepted);
    ck_assert_uint_gt(rejected, N / 2);
    uint64_t specific = (hb_wire_stats.bad_version - before.bad_version) +
                        (hb_wire_stats.bad_type - before.bad_type) +
                        (hb_wire_stats.malformed - before.malformed) +
                        (hb_wire_stats.too_big - before.too_big);
    ck_assert_uint_eq(specific, rejected);
    for (int i = 0; i < nvalid; i++)
        msgpack_sbuffer_destroy(&sbs[i]);
    s_buf_free(&txnbuf);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Transactions                                                         */
/* ------------------------------------------------------------------ */

START_TEST(test_wire_txn_round_trip)
{
    hb_txn_t t = s_sample_txn(99);
    s_buf_t b;
    s_pack_txn(&b, &t);
    hb_txn_t *d = NULL;
    ck_assert_int_eq(hb_txn_decode(b.sb.data, b.sb.size, NULL, 4, &d), HB_OK);
    ck_assert_ptr_nonnull(d);
    ck_assert(d->client_id == t.client_id);
    ck_assert_uint_eq(d->req_id, 99);
    ck_assert_uint_eq(d->origin_replica, 2);
    ck_assert_uint_eq(d->origin_group, 3);
    ck_assert(d->timestamp_us == t.timestamp_us);
    ck_assert_uint_eq(d->proc_len, 11);
    ck_assert_mem_eq(d->proc, "kv.transfer", 11);
    ck_assert_uint_eq(d->nargs, 3);
    for (uint32_t i = 0; i < 3; i++)
        ck_assert(s_val_eq(&d->args[i], &t.args[i]));
    ck_assert_uint_eq(d->nlocks, 3);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(d->locks[i].partition, t.locks[i].partition);
        ck_assert_uint_eq(d->locks[i].mode, t.locks[i].mode);
        ck_assert_uint_eq(d->locks[i].len, t.locks[i].len);
        ck_assert_mem_eq(d->locks[i].key, t.locks[i].key, t.locks[i].len);
        /* Keys point into the transaction's own copy, not the input. */
        ck_assert(d->locks[i].key >= d->buf && d->locks[i].key < d->buf + d->buf_len);
    }
    ck_assert(d->proc >= (const char *)d->buf);
    ck_assert_uint_eq(d->buf_len, b.sb.size);

    /* Re-packing the decoded transaction gives the same bytes. */
    s_buf_t b2;
    s_pack_txn(&b2, d);
    ck_assert_uint_eq(b2.sb.size, b.sb.size);
    ck_assert_mem_eq(b2.sb.data, b.sb.data, b.sb.size);
    s_buf_free(&b2);

    /* Lock-set queries. */
    ck_assert(hb_txn_touches(d, 1));
    ck_assert(hb_txn_touches(d, 3));
    ck_assert(!hb_txn_touches(d, 0));
    ck_assert(hb_txn_writes(d, 3));
    ck_assert(!hb_txn_writes(d, 1));
    uint16_t parts[4] = {0};
    ck_assert_uint_eq(hb_txn_participants(d, parts, 4), 2);
    ck_assert_uint_eq(parts[0], 1);
    ck_assert_uint_eq(parts[1], 3);
    uint16_t one[1] = {0};
    ck_assert_uint_eq(hb_txn_participants(d, one, 1), 2); /* count, capped copy */
    ck_assert_uint_eq(one[0], 1);

    /* Participants across the whole uint16 range, duplicates dropped. */
    static const uint8_t key[] = {1};
    hb_lock_t wide[4] = {
        {.partition = UINT16_MAX, .mode = HB_LOCK_READ, .len = 1, .key = key},
        {.partition = 63, .mode = HB_LOCK_READ, .len = 1, .key = key},
        {.partition = 64, .mode = HB_LOCK_WRITE, .len = 1, .key = key},
        {.partition = 63, .mode = HB_LOCK_WRITE, .len = 1, .key = key},
    };
    hb_txn_t w = {.nlocks = 4, .locks = wide};
    ck_assert_uint_eq(hb_txn_participants(&w, parts, 4), 3);
    ck_assert_uint_eq(parts[0], 63);
    ck_assert_uint_eq(parts[1], 64);
    ck_assert_uint_eq(parts[2], UINT16_MAX);
    w.nlocks = 0;
    ck_assert_uint_eq(hb_txn_participants(&w, parts, 4), 0);

    hb_txn_destroy(&d);
    ck_assert_ptr_null(d);
    hb_txn_destroy(&d); /* idempotent */
    hb_txn_destroy(NULL);

    /* Every strict prefix is rejected; trailing bytes are rejected. */
    for (size_t cut = 0; cut < b.sb.size; cut++) {
        char *p = malloc(cut ? cut : 1);
        memcpy(p, b.sb.data, cut);
        d = (hb_txn_t *)p; /* must come back NULL */
        ck_assert_int_eq(hb_txn_decode(p, cut, NULL, 4, &d), HB_PROTO);
        ck_assert_ptr_null(d);
        free(p);
    }
    msgpack_sbuffer_write(&b.sb, "\xc0", 1);
    ck_assert_int_eq(hb_txn_decode(b.sb.data, b.sb.size, NULL, 4, &d), HB_PROTO);
    ck_assert_ptr_null(d);
    s_buf_free(&b);
}
END_TEST

/* Packs t and expects hb_txn_decode to fail with want. */
static void
s_txn_expect(const hb_txn_t *t, const hb_limits_t *lim, uint32_t nparts, hb_rc_t want,
             const char *what)
{
    s_buf_t b;
    s_pack_txn(&b, t);
    hb_txn_t *d = NULL;
    hb_rc_t rc = hb_txn_decode(b.sb.data, b.sb.size, lim, nparts, &d);
    ck_assert_msg(rc == want, "%s: rc %d, want %d", what, rc, want);
    if (want != HB_OK)
        ck_assert_ptr_null(d);
    hb_txn_destroy(&d);
    s_buf_free(&b);
}

START_TEST(test_wire_txn_rejects)
{
    hb_txn_t t = s_sample_txn(1);
    hb_limits_t lim = HB_LIMITS_DEFAULT;

    s_txn_expect(&t, NULL, 4, HB_OK, "baseline");
    /* Partition 3 is out of range for 3 partitions. */
    s_txn_expect(&t, NULL, 3, HB_PROTO, "bad partition");
    /* Mode 2 is neither read nor write. */
    t.locks[1].mode = 2;
    s_txn_expect(&t, NULL, 4, HB_PROTO, "bad mode");
    t = s_sample_txn(1);
    /* Three locks with max_locks = 2. */
    lim.max_locks = 2;
    s_txn_expect(&t, &lim, 4, HB_TOOBIG, "too many locks");
    lim = HB_LIMITS_DEFAULT;
    /* Three args with max_args = 2. */
    lim.max_args = 2;
    s_txn_expect(&t, &lim, 4, HB_TOOBIG, "too many args");
    lim = HB_LIMITS_DEFAULT;
    /* A 12-byte key with max_key_bytes = 11; an empty key. */
    lim.max_key_bytes = 11;
    s_txn_expect(&t, &lim, 4, HB_TOOBIG, "key too long");
    lim = HB_LIMITS_DEFAULT;
    t.locks[0].len = 0;
    s_txn_expect(&t, NULL, 4, HB_PROTO, "empty key");
    t = s_sample_txn(1);
    /* Arg longer than max_value_bytes. */
    lim.max_value_bytes = 4;
    s_txn_expect(&t, &lim, 4, HB_TOOBIG, "long arg");
    lim = HB_LIMITS_DEFAULT;
    /* proc name empty or longer than 64. */
    t.proc_len = 0;
    s_txn_expect(&t, NULL, 4, HB_PROTO, "empty proc");
    static const char longproc[66] =
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    t.proc = longproc;
    t.proc_len = 65;
    s_txn_expect(&t, NULL, 4, HB_PROTO, "long proc");
    t.proc_len = 64;
    s_txn_expect(&t, NULL, 4, HB_OK, "64-byte proc");
    t = s_sample_txn(1);
    /* Whole transaction longer than max_frame_bytes. */
    lim.max_frame_bytes = 20;
    s_txn_expect(&t, &lim, 4, HB_TOOBIG, "too long");

    /* Hand-built: partition 70000 does not fit uint16; 7 fields; a lock
     * of two fields. */
    s_buf_t b;
    hb_txn_t *d = NULL;
    for (int variant = 0; variant < 3; variant++) {
        s_buf_init(&b);
        msgpack_pack_array(&b.pk, variant == 1 ? 7 : 8);
        msgpack_pack_uint8(&b.pk, 1);
        msgpack_pack_uint8(&b.pk, 2);
        msgpack_pack_uint8(&b.pk, 0);
        msgpack_pack_uint8(&b.pk, 0);
        msgpack_pack_int64(&b.pk, -5);
        hb_mp_pack_cstr(&b.pk, "kv.get");
        msgpack_pack_array(&b.pk, 0);
        if (variant != 1) {
            msgpack_pack_array(&b.pk, 1);
            msgpack_pack_array(&b.pk, variant == 2 ? 2 : 3);
            msgpack_pack_uint32(&b.pk, 70000);
            msgpack_pack_uint8(&b.pk, 0);
            if (variant != 2)
                hb_mp_pack_bin(&b.pk, "k", 1);
        }
        ck_assert_int_eq(hb_txn_decode(b.sb.data, b.sb.size, NULL, UINT16_MAX, &d),
                         HB_PROTO);
        ck_assert_ptr_null(d);
        s_buf_free(&b);
    }

    /* A 5-byte input claiming 2^32-1 locks must not allocate for them. */
    static const uint8_t hostile[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    ck_assert_int_eq(hb_txn_decode(hostile, sizeof hostile, NULL, 4, &d), HB_PROTO);
    ck_assert_int_eq(hb_txn_decode(NULL, 0, NULL, 4, &d), HB_PROTO);

    /* Packing refuses inconsistent hand-built records. */
    s_buf_init(&b);
    t.args = NULL;
    ck_assert_int_eq(hb_txn_pack(&b.pk, &t), HB_INVALID);
    ck_assert_uint_eq(b.sb.size, 0);
    s_buf_free(&b);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("wire");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_wire_mp_integers);
    tcase_add_test(tc, test_wire_mp_types_and_sticky);
    tcase_add_test(tc, test_wire_mp_declared_lengths);
    tcase_add_test(tc, test_wire_mp_skip_and_raw);
    tcase_add_test(tc, test_wire_mp_pack_val_round_trip);
    tcase_add_test(tc, test_wire_round_trip_submit_result_reply);
    tcase_add_test(tc, test_wire_round_trip_batch_dispatch);
    tcase_add_test(tc, test_wire_round_trip_control);
    tcase_add_test(tc, test_wire_reject_truncated);
    tcase_add_test(tc, test_wire_reject_declared_lengths);
    tcase_add_test(tc, test_wire_reject_limits);
    tcase_add_test(tc, test_wire_reject_version_type_count);
    tcase_add_test(tc, test_wire_reject_ranges_and_trailing);
    tcase_add_test(tc, test_wire_fuzz_garbage);
    tcase_add_test(tc, test_wire_txn_round_trip);
    tcase_add_test(tc, test_wire_txn_rejects);
    tcase_add_test(tc, test_wire_round_trip_exchange);
    tcase_add_test(tc, test_wire_reject_exchange);
    tcase_add_test(tc, test_wire_round_trip_paxos_forward);
    tcase_add_test(tc, test_wire_reject_paxos_forward);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    s_seed = hb_test_seed("test_wire");
    return hb_test_run(s_suite());
}
