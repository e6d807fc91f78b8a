/* test_sqlop.c — unit tests of hb_sqlop_apply and hb_sqlop_head
 * (common/hb_sqlop.c): what one sql.exec op does to its row.
 *
 * Storage applies these ops to the locked rows of a transaction, and
 * sqlfront to its view of an open block, so their answers decide replica
 * state: every op kind is checked on a present and an absent row (the row
 * written or deleted, and the op's result), with the logical aborts a user
 * sees (23505, 23502, 40001, 22003, 22012 ...), the determinism replicas
 * rely on (the same ops from the same state give the same bytes), and the
 * refusal of malformed op bytes with XX000 — every truncation of every op
 * kind, and seeded random corruptions (HOBBES_SEED replays one) — never a
 * crash.
 *
 * The table of the cases is accounts(id bigint, owner text, balance int
 * NOT NULL), key [S_TABLE][id].
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "hb_expr.h"
#include "hb_key.h"
#include "hb_mp.h"
#include "hb_proc.h"
#include "hb_sqlop.h"

#define S_TABLE HB_TABLE_USER_FIRST
#define S_PLEN  12 /* table id + id */
#define S_NOW   777000000LL

/* ------------------------------------------------------------------ */
/* Memory: one bump arena per case                                      */
/* ------------------------------------------------------------------ */

static uint8_t s_mem[1 << 20];
static size_t s_used;

static void *
s_alloc(void *arg, size_t size)
{
    (void)arg;
    size = (size + 7) & ~(size_t)7;
    ck_assert_uint_le(s_used + size, sizeof s_mem);
    void *p = s_mem + s_used;
    s_used += size;
    return p;
}

static void
s_setup(void)
{
    s_used = 0;
}

typedef struct {
    const uint8_t *p;
    size_t len;
} s_bytes_t;

/* A packer over a fresh sbuffer; s_take moves the bytes to the arena. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} s_pack_t;

static msgpack_packer *
s_open(s_pack_t *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
    return &b->pk;
}

static s_bytes_t
s_take(s_pack_t *b)
{
    uint8_t *p = s_alloc(NULL, b->sb.size ? b->sb.size : 1);
    memcpy(p, b->sb.data, b->sb.size);
    s_bytes_t out = {p, b->sb.size};
    msgpack_sbuffer_destroy(&b->sb);
    return out;
}

static void
s_raw(msgpack_packer *pk, s_bytes_t b)
{
    msgpack_sbuffer_write(pk->data, (const char *)b.p, b.len);
}

/* ------------------------------------------------------------------ */
/* Rows, keys, expressions, ops                                         */
/* ------------------------------------------------------------------ */

static s_bytes_t
s_row(int64_t id, const char *owner, const hb_val_t *balance)
{
    hb_val_t cols[3] = {hb_val_int(id),
                        owner ? hb_val_str(owner, (uint32_t)strlen(owner)) : hb_val_nil(),
                        *balance};
    s_pack_t b;
    ck_assert_int_eq(hb_row_pack(s_open(&b), cols, 3), HB_OK);
    return s_take(&b);
}

static s_bytes_t
s_acct(int64_t id, const char *owner, int64_t balance)
{
    hb_val_t v = hb_val_int(balance);
    return s_row(id, owner, &v);
}

static s_bytes_t
s_key(int64_t id)
{
    hb_key_t k;
    hb_key_init(&k, S_TABLE);
    hb_key_put_i64(&k, id);
    uint8_t *p = s_alloc(NULL, k.len);
    memcpy(p, k.buf, k.len);
    return (s_bytes_t){p, k.len};
}

static s_bytes_t
s_ex_col(uint32_t c)
{
    s_pack_t b;
    hb_expr_pack_col(s_open(&b), c);
    return s_take(&b);
}

static s_bytes_t
s_ex_val(hb_val_t v)
{
    s_pack_t b;
    hb_expr_pack_const(s_open(&b), &v);
    return s_take(&b);
}

static s_bytes_t
s_ex_op(hb_ex_op_t op, s_bytes_t x, s_bytes_t y)
{
    s_pack_t b;
    msgpack_packer *pk = s_open(&b);
    hb_expr_pack_op(pk, op, 3);
    s_raw(pk, x);
    s_raw(pk, y);
    return s_take(&b);
}

static const s_bytes_t s_none = {NULL, 0};

static void
s_opt(msgpack_packer *pk, s_bytes_t e)
{
    if (e.p)
        hb_mp_pack_bin(pk, e.p, e.len);
    else
        msgpack_pack_nil(pk);
}

/* One SET item: column, its type, typmod, NOT NULL, and the expression. */
typedef struct {
    uint32_t col;
    hb_type_t type;
    int32_t typmod;
    bool not_null;
    s_bytes_t expr;
} s_set_t;

static s_bytes_t
s_sets(const s_set_t *sets, uint32_t n)
{
    s_pack_t b;
    msgpack_packer *pk = s_open(&b);
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(pk, 5);
        msgpack_pack_uint32(pk, sets[i].col);
        msgpack_pack_uint32(pk, sets[i].type);
        msgpack_pack_int32(pk, sets[i].typmod);
        hb_mp_pack_bool(pk, sets[i].not_null);
        hb_mp_pack_bin(pk, sets[i].expr.p, sets[i].expr.len);
    }
    return s_take(&b);
}

/* SET balance = balance + delta */
static s_bytes_t
s_add_balance(int64_t delta)
{
    s_set_t set = {2, HB_T_INT4, 0, true,
                   s_ex_op(HB_EX_ADD, s_ex_col(2), s_ex_val(hb_val_int(delta)))};
    return s_sets(&set, 1);
}

static void
s_head(msgpack_packer *pk, uint32_t n, hb_sqlop_t kind, s_bytes_t key, uint32_t plen)
{
    msgpack_pack_array(pk, n);
    msgpack_pack_uint8(pk, (uint8_t)kind);
    hb_mp_pack_bin(pk, key.p, key.len);
    msgpack_pack_uint32(pk, plen);
}

static s_bytes_t
s_op_get(int64_t id)
{
    s_pack_t b;
    s_head(s_open(&b), 3, HB_SQLOP_GET, s_key(id), S_PLEN);
    return s_take(&b);
}

static s_bytes_t
s_op_insert(int64_t id, s_bytes_t row, uint32_t conflict, s_bytes_t sets, s_bytes_t where,
            bool returning)
{
    s_pack_t b;
    msgpack_packer *pk = s_open(&b);
    s_head(pk, 9, HB_SQLOP_INSERT, s_key(id), S_PLEN);
    hb_mp_pack_cstr(pk, "accounts");
    hb_mp_pack_bin(pk, row.p, row.len);
    msgpack_pack_uint32(pk, conflict);
    if (sets.p)
        s_raw(pk, sets);
    else
        msgpack_pack_array(pk, 0);
    s_opt(pk, where);
    hb_mp_pack_bool(pk, returning);
    return s_take(&b);
}

static s_bytes_t
s_op_update(int64_t id, s_bytes_t where, s_bytes_t sets, bool returning)
{
    s_pack_t b;
    msgpack_packer *pk = s_open(&b);
    s_head(pk, 6, HB_SQLOP_UPDATE, s_key(id), S_PLEN);
    s_opt(pk, where);
    s_raw(pk, sets);
    hb_mp_pack_bool(pk, returning);
    return s_take(&b);
}

static s_bytes_t
s_op_delete(int64_t id, s_bytes_t where, bool returning)
{
    s_pack_t b;
    msgpack_packer *pk = s_open(&b);
    s_head(pk, 5, HB_SQLOP_DELETE, s_key(id), S_PLEN);
    s_opt(pk, where);
    hb_mp_pack_bool(pk, returning);
    return s_take(&b);
}

/* CHECK: row NULL with exists false = must be absent; exists true = must
 * be present (any bytes); else the row must be exactly row. */
static s_bytes_t
s_op_check(int64_t id, const s_bytes_t *row, bool exists)
{
    s_pack_t b;
    s_bytes_t k = s_key(id);
    if (row)
        hb_sqlop_pack_check(s_open(&b), k.p, k.len, S_PLEN, row->p, row->len);
    else
        hb_sqlop_pack_check_exists(s_open(&b), k.p, k.len, S_PLEN, exists);
    return s_take(&b);
}

/* An index entry key [INDEX][S_TABLE][0][0x01 owner][id] and its ops. */
static s_bytes_t
s_ix_key(const char *owner, int64_t id)
{
    hb_key_t k;
    hb_key_init(&k, HB_TABLE_INDEX);
    hb_key_put_i64(&k, S_TABLE);
    hb_key_put_i64(&k, 0);
    k.buf[k.len++] = 0x01;
    hb_key_put_str(&k, owner, strlen(owner));
    hb_key_put_i64(&k, id);
    uint8_t *p = s_alloc(NULL, k.len);
    memcpy(p, k.buf, k.len);
    return (s_bytes_t){p, k.len};
}

static s_bytes_t
s_op_iput(const char *owner, int64_t id)
{
    s_pack_t b;
    msgpack_packer *pk = s_open(&b);
    s_head(pk, 5, HB_SQLOP_IPUT, s_ix_key(owner, id), 0);
    s_bytes_t pkey = s_key(id), rowkey = s_key(id);
    hb_mp_pack_bin(pk, pkey.p, pkey.len);
    hb_mp_pack_bin(pk, rowkey.p, rowkey.len);
    return s_take(&b);
}

static s_bytes_t
s_op_idel(const char *owner, int64_t id)
{
    s_pack_t b;
    msgpack_packer *pk = s_open(&b);
    s_head(pk, 4, HB_SQLOP_IDEL, s_ix_key(owner, id), 0);
    s_bytes_t pkey = s_key(id);
    hb_mp_pack_bin(pk, pkey.p, pkey.len);
    return s_take(&b);
}

/* ------------------------------------------------------------------ */
/* Applying                                                             */
/* ------------------------------------------------------------------ */

static hb_sqlerr_t s_err;

/* Applies op to old (NULL: absent). */
static hb_rc_t
s_apply(s_bytes_t op, const s_bytes_t *old, hb_sqlop_effect_t *eff)
{
    memset(&s_err, 0, sizeof s_err);
    return hb_sqlop_apply(op.p, op.len, old != NULL, old ? old->p : NULL,
                          old ? old->len : 0, S_NOW, s_alloc, NULL, eff, &s_err);
}

static void
s_expect_bytes(const uint8_t *p, size_t len, s_bytes_t want)
{
    ck_assert_uint_eq(len, want.len);
    ck_assert_msg(memcmp(p, want.p, len) == 0, "bytes differ");
}

/* The effect stores exactly row. */
static void
s_expect_store(const hb_sqlop_effect_t *eff, s_bytes_t row)
{
    ck_assert_int_eq(eff->write, 1);
    s_expect_bytes(eff->row, eff->rowlen, row);
}

static void
s_expect_int(const hb_sqlop_effect_t *eff, int64_t v)
{
    ck_assert_int_eq(eff->result.type, HB_VAL_INT);
    ck_assert_int_eq(eff->result.u.i, v);
}

static void
s_expect_bin(const hb_sqlop_effect_t *eff, s_bytes_t b)
{
    ck_assert_int_eq(eff->result.type, HB_VAL_BIN);
    s_expect_bytes(eff->result.u.s.ptr, eff->result.u.s.len, b);
}

/* The op aborts with sqlstate and changes nothing. */
static void
s_expect_abort(s_bytes_t op, const s_bytes_t *old, const char *sqlstate)
{
    hb_sqlop_effect_t eff;
    ck_assert_int_eq(s_apply(op, old, &eff), HB_ABORTED);
    ck_assert_str_eq(s_err.sqlstate, sqlstate);
    ck_assert_int_eq(eff.write, 0);
}

static void
s_expect_malformed(s_bytes_t op, const s_bytes_t *old)
{
    hb_sqlop_effect_t eff;
    ck_assert_int_eq(s_apply(op, old, &eff), HB_PROTO);
    ck_assert_str_eq(s_err.sqlstate, "XX000");
    ck_assert_int_eq(eff.write, 0);
}

/* ------------------------------------------------------------------ */
/* Cases                                                                */
/* ------------------------------------------------------------------ */

START_TEST(test_sqlop_head)
{
    hb_sqlop_head_t h;
    s_bytes_t op = s_op_update(42, s_none, s_add_balance(1), false);
    ck_assert_int_eq(hb_sqlop_head(op.p, op.len, &h), HB_OK);
    ck_assert_int_eq(h.kind, HB_SQLOP_UPDATE);
    s_expect_bytes(h.key, h.klen, s_key(42));
    ck_assert_uint_eq(h.plen, S_PLEN);
    op = s_op_iput("ann", 42);
    ck_assert_int_eq(hb_sqlop_head(op.p, op.len, &h), HB_OK);
    ck_assert_int_eq(h.kind, HB_SQLOP_IPUT);
    s_expect_bytes(h.key, h.klen, s_ix_key("ann", 42));
    /* plen beyond the key, an unknown kind, fewer than 3 fields. */
    s_pack_t b;
    s_head(s_open(&b), 3, HB_SQLOP_GET, s_key(1), 13);
    op = s_take(&b);
    ck_assert_int_eq(hb_sqlop_head(op.p, op.len, &h), HB_PROTO);
    s_head(s_open(&b), 3, (hb_sqlop_t)7, s_key(1), S_PLEN);
    op = s_take(&b);
    ck_assert_int_eq(hb_sqlop_head(op.p, op.len, &h), HB_PROTO);
    msgpack_packer *pk = s_open(&b);
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint8(pk, HB_SQLOP_GET);
    hb_mp_pack_bin(pk, "k", 1);
    op = s_take(&b);
    ck_assert_int_eq(hb_sqlop_head(op.p, op.len, &h), HB_PROTO);
    ck_assert_int_eq(hb_sqlop_head(NULL, 0, &h), HB_PROTO);
}
END_TEST

START_TEST(test_sqlop_get)
{
    hb_sqlop_effect_t eff;
    s_bytes_t row = s_acct(1, "ann", 100);
    ck_assert_int_eq(s_apply(s_op_get(1), &row, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    s_expect_bin(&eff, row);
    ck_assert_int_eq(s_apply(s_op_get(1), NULL, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    ck_assert_int_eq(eff.result.type, HB_VAL_NIL);
}
END_TEST

START_TEST(test_sqlop_insert)
{
    hb_sqlop_effect_t eff;
    s_bytes_t row = s_acct(1, "ann", 100), old = s_acct(1, "bob", 5);
    /* Absent: the proposed row is stored as is; 1 row changed. */
    ck_assert_int_eq(s_apply(s_op_insert(1, row, 0, s_none, s_none, false), NULL, &eff),
                     HB_OK);
    s_expect_store(&eff, row);
    s_expect_int(&eff, 1);
    /* RETURNING gives the row. */
    ck_assert_int_eq(s_apply(s_op_insert(1, row, 0, s_none, s_none, true), NULL, &eff),
                     HB_OK);
    s_expect_store(&eff, row);
    s_expect_bin(&eff, row);
    /* Present, no ON CONFLICT: 23505 naming the table's key. */
    s_expect_abort(s_op_insert(1, row, 0, s_none, s_none, false), &old, "23505");
    ck_assert_ptr_nonnull(strstr(s_err.msg, "\"accounts_pkey\""));
    /* ON CONFLICT DO NOTHING: nothing written, 0 rows. */
    ck_assert_int_eq(s_apply(s_op_insert(1, row, 1, s_none, s_none, false), &old, &eff),
                     HB_OK);
    ck_assert_int_eq(eff.write, 0);
    s_expect_int(&eff, 0);
}
END_TEST

START_TEST(test_sqlop_insert_do_update)
{
    hb_sqlop_effect_t eff;
    s_bytes_t row = s_acct(1, "ann", 100), old = s_acct(1, "bob", 5);
    /* DO UPDATE SET balance = balance + EXCLUDED.balance, owner =
     * EXCLUDED.owner: over old ++ proposed, EXCLUDED.c is column 3 + c. */
    s_set_t sets[2] = {
        {2, HB_T_INT4, 0, true, s_ex_op(HB_EX_ADD, s_ex_col(2), s_ex_col(5))},
        {1, HB_T_TEXT, 0, false, s_ex_col(4)},
    };
    s_bytes_t op = s_op_insert(1, row, 2, s_sets(sets, 2), s_none, true);
    ck_assert_int_eq(s_apply(op, &old, &eff), HB_OK);
    s_expect_store(&eff, s_acct(1, "ann", 105));
    s_expect_bin(&eff, s_acct(1, "ann", 105));
    /* Absent: a plain insert of the proposed row. */
    ck_assert_int_eq(s_apply(op, NULL, &eff), HB_OK);
    s_expect_store(&eff, row);
    /* DO UPDATE ... WHERE the old balance > 10: false for bob's 5. */
    s_bytes_t where = s_ex_op(HB_EX_GT, s_ex_col(2), s_ex_val(hb_val_int(10)));
    op = s_op_insert(1, row, 2, s_sets(sets, 2), where, false);
    ck_assert_int_eq(s_apply(op, &old, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    s_expect_int(&eff, 0);
    s_bytes_t rich = s_acct(1, "bob", 50);
    ck_assert_int_eq(s_apply(op, &rich, &eff), HB_OK);
    s_expect_store(&eff, s_acct(1, "ann", 150));
    s_expect_int(&eff, 1);
}
END_TEST

START_TEST(test_sqlop_update)
{
    hb_sqlop_effect_t eff;
    s_bytes_t old = s_acct(7, "ann", 100);
    s_bytes_t op = s_op_update(7, s_none, s_add_balance(-30), false);
    ck_assert_int_eq(s_apply(op, &old, &eff), HB_OK);
    s_expect_store(&eff, s_acct(7, "ann", 70));
    s_expect_int(&eff, 1);
    /* Absent: skipped, 0 rows. */
    ck_assert_int_eq(s_apply(op, NULL, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    s_expect_int(&eff, 0);
    /* WHERE balance >= 200 rejects the row: left alone. */
    s_bytes_t where = s_ex_op(HB_EX_GE, s_ex_col(2), s_ex_val(hb_val_int(200)));
    ck_assert_int_eq(s_apply(s_op_update(7, where, s_add_balance(1), false), &old, &eff),
                     HB_OK);
    ck_assert_int_eq(eff.write, 0);
    s_expect_int(&eff, 0);
    /* RETURNING gives the new row. */
    ck_assert_int_eq(s_apply(s_op_update(7, s_none, s_add_balance(5), true), &old, &eff),
                     HB_OK);
    s_expect_bin(&eff, s_acct(7, "ann", 105));
    /* Every SET reads the old row: SET owner = 'x' || owner, balance =
     * balance * 2 reads neither new value. */
    s_set_t sets[2] = {
        {1, HB_T_TEXT, 0, false,
         s_ex_op(HB_EX_CONCAT, s_ex_val(hb_val_str("x", 1)), s_ex_col(1))},
        {2, HB_T_INT4, 0, true, s_ex_op(HB_EX_MUL, s_ex_col(2), s_ex_val(hb_val_int(2)))},
    };
    ck_assert_int_eq(s_apply(s_op_update(7, s_none, s_sets(sets, 2), false), &old, &eff),
                     HB_OK);
    s_expect_store(&eff, s_acct(7, "xann", 200));
    /* A value converted to the column's type: '42' into the int column. */
    s_set_t conv = {2, HB_T_INT4, 0, true, s_ex_val(hb_val_str("42", 2))};
    ck_assert_int_eq(s_apply(s_op_update(7, s_none, s_sets(&conv, 1), false), &old, &eff),
                     HB_OK);
    s_expect_store(&eff, s_acct(7, "ann", 42));
}
END_TEST

START_TEST(test_sqlop_update_errors)
{
    s_bytes_t old = s_acct(7, "ann", 100);
    /* NULL into NOT NULL balance: 23502. */
    s_set_t null = {2, HB_T_INT4, 0, true, s_ex_val(hb_val_nil())};
    s_expect_abort(s_op_update(7, s_none, s_sets(&null, 1), false), &old, "23502");
    /* Out of int4's range: 22003. */
    s_set_t big = {2, HB_T_INT4, 0, true, s_ex_val(hb_val_int(3000000000LL))};
    s_expect_abort(s_op_update(7, s_none, s_sets(&big, 1), false), &old, "22003");
    /* Overflow inside the arithmetic: 22003 too. */
    s_expect_abort(s_op_update(7, s_none, s_add_balance(INT64_MAX), false), &old,
                   "22003");
    /* Division by zero: 22012. */
    s_set_t div = {2, HB_T_INT4, 0, true,
                   s_ex_op(HB_EX_DIV, s_ex_col(2), s_ex_val(hb_val_int(0)))};
    s_expect_abort(s_op_update(7, s_none, s_sets(&div, 1), false), &old, "22012");
    /* Text that is no integer: 22P02. */
    s_set_t text = {2, HB_T_INT4, 0, true, s_ex_val(hb_val_str("abc", 3))};
    s_expect_abort(s_op_update(7, s_none, s_sets(&text, 1), false), &old, "22P02");
    /* varchar(2) gets 3 characters: 22001. */
    s_set_t lng = {1, HB_T_VARCHAR, 2, false, s_ex_val(hb_val_str("abc", 3))};
    s_expect_abort(s_op_update(7, s_none, s_sets(&lng, 1), false), &old, "22001");
    /* A WHERE that is not boolean: 42804. */
    s_expect_abort(s_op_update(7, s_ex_col(2), s_add_balance(1), false), &old, "42804");
    /* A row that does not decode: XX001. */
    s_bytes_t corrupt = {(const uint8_t *)"\xc1", 1};
    s_expect_abort(s_op_update(7, s_none, s_add_balance(1), false), &corrupt, "XX001");
    s_expect_abort(s_op_delete(7, s_none, false), &corrupt, "XX001");
}
END_TEST

START_TEST(test_sqlop_delete)
{
    hb_sqlop_effect_t eff;
    s_bytes_t old = s_acct(3, "ann", 100);
    ck_assert_int_eq(s_apply(s_op_delete(3, s_none, false), &old, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 2);
    s_expect_int(&eff, 1);
    /* RETURNING gives the old row. */
    ck_assert_int_eq(s_apply(s_op_delete(3, s_none, true), &old, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 2);
    s_expect_bin(&eff, old);
    ck_assert_int_eq(s_apply(s_op_delete(3, s_none, false), NULL, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    s_expect_int(&eff, 0);
    /* WHERE owner = 'bob' keeps ann's row. */
    s_bytes_t where = s_ex_op(HB_EX_EQ, s_ex_col(1), s_ex_val(hb_val_str("bob", 3)));
    ck_assert_int_eq(s_apply(s_op_delete(3, where, false), &old, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    s_expect_int(&eff, 0);
    /* A NULL WHERE is not true either. */
    s_bytes_t nul = s_ex_op(HB_EX_EQ, s_ex_col(1), s_ex_val(hb_val_nil()));
    ck_assert_int_eq(s_apply(s_op_delete(3, nul, false), &old, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 0);
}
END_TEST

START_TEST(test_sqlop_check)
{
    hb_sqlop_effect_t eff;
    s_bytes_t row = s_acct(3, "ann", 100), other = s_acct(3, "ann", 101);
    /* Exactly the row the block read. */
    ck_assert_int_eq(s_apply(s_op_check(3, &row, false), &row, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    s_expect_int(&eff, 1);
    s_expect_abort(s_op_check(3, &row, false), &other, "40001");
    s_expect_abort(s_op_check(3, &row, false), NULL, "40001");
    /* Absent, as read. */
    ck_assert_int_eq(s_apply(s_op_check(3, NULL, false), NULL, &eff), HB_OK);
    s_expect_abort(s_op_check(3, NULL, false), &row, "40001");
    /* Present, any bytes (even bytes that are no row: never decoded). */
    s_bytes_t junk = {(const uint8_t *)"\xc1", 1};
    ck_assert_int_eq(s_apply(s_op_check(3, NULL, true), &junk, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    s_expect_abort(s_op_check(3, NULL, true), NULL, "40001");
    /* [CHECK, key, plen, false] means nothing: malformed. */
    s_pack_t b;
    msgpack_packer *pk = s_open(&b);
    s_head(pk, 4, HB_SQLOP_CHECK, s_key(3), S_PLEN);
    msgpack_pack_false(pk);
    s_expect_malformed(s_take(&b), &row);
}
END_TEST

START_TEST(test_sqlop_index_entries)
{
    hb_sqlop_effect_t eff;
    s_bytes_t entry = s_key(9), junk = {(const uint8_t *)"\xc1", 1};
    /* IPUT stores the row's key as the entry's value, present or not;
     * index entries are no rows: the result is nil, not a count. */
    ck_assert_int_eq(s_apply(s_op_iput("ann", 9), NULL, &eff), HB_OK);
    s_expect_store(&eff, entry);
    ck_assert_int_eq(eff.result.type, HB_VAL_NIL);
    ck_assert_int_eq(s_apply(s_op_iput("ann", 9), &junk, &eff), HB_OK);
    s_expect_store(&eff, entry);
    /* IDEL deletes a present entry and does nothing to an absent one. */
    ck_assert_int_eq(s_apply(s_op_idel("ann", 9), &entry, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 2);
    ck_assert_int_eq(eff.result.type, HB_VAL_NIL);
    ck_assert_int_eq(s_apply(s_op_idel("ann", 9), NULL, &eff), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    ck_assert_int_eq(eff.result.type, HB_VAL_NIL);
}
END_TEST

/* A tiny store of rows by id (0..S_IDS-1), as storage's view of the
 * locked rows of one transaction. */
#define S_IDS 4
typedef struct {
    bool present[S_IDS];
    uint8_t row[S_IDS][64];
    size_t len[S_IDS];
    uint8_t results[1024]; /* every op's result, packed in order */
    size_t rlen;
} s_state_t;

static void
s_state_put(s_state_t *s, int64_t id, s_bytes_t row)
{
    ck_assert_uint_le(row.len, sizeof s->row[id]);
    s->present[id] = true;
    memcpy(s->row[id], row.p, row.len);
    s->len[id] = row.len;
}

/* Applies ops (on rows by id) in order to s; an abort stops the run. */
static hb_rc_t
s_run(s_state_t *s, const s_bytes_t *ops, const int64_t *ids, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int64_t id = ids[i];
        hb_sqlop_effect_t eff;
        s_bytes_t old = {s->row[id], s->len[id]};
        hb_rc_t rc = s_apply(ops[i], s->present[id] ? &old : NULL, &eff);
        if (rc != HB_OK)
            return rc;
        if (eff.write == 1)
            s_state_put(s, id, (s_bytes_t){eff.row, eff.rowlen});
        if (eff.write == 2) {
            s->present[id] = false;
            s->len[id] = 0;
            memset(s->row[id], 0, sizeof s->row[id]);
        }
        s_pack_t b;
        ck_assert_int_eq(hb_mp_pack_val(s_open(&b), &eff.result), HB_OK);
        s_bytes_t r = s_take(&b);
        ck_assert_uint_le(s->rlen + r.len, sizeof s->results);
        memcpy(s->results + s->rlen, r.p, r.len);
        s->rlen += r.len;
    }
    return HB_OK;
}

START_TEST(test_sqlop_deterministic)
{
    /* Ops that read the old row, and one that reads the clock (the
     * transaction's stamp, stored as its integer in owner's slot). */
    s_set_t stamp[2] = {
        {1, HB_T_TEXT, 0, false,
         s_ex_op(HB_EX_CONCAT, s_ex_col(1), s_ex_val(hb_val_str("!", 1)))},
        {2, HB_T_INT4, 0, true, s_ex_op(HB_EX_MUL, s_ex_col(2), s_ex_val(hb_val_int(3)))},
    };
    s_pack_t b;
    msgpack_packer *pk = s_open(&b);
    hb_expr_pack_op(pk, HB_EX_NOW, 1);
    s_set_t now = {1, HB_T_INT8, 0, false, s_take(&b)};
    s_bytes_t ops[] = {
        s_op_insert(0, s_acct(0, "ann", 10), 0, s_none, s_none, false),
        s_op_update(0, s_none, s_sets(stamp, 2), true),
        s_op_insert(1, s_acct(1, "bob", 1), 2, s_add_balance(4), s_none, true),
        s_op_delete(2, s_none, true),
        s_op_get(1),
        s_op_update(1, s_none, s_sets(&now, 1), true),
        s_op_check(3, NULL, false),
        s_op_insert(3, s_acct(3, "cy", 3), 1, s_none, s_none, false),
        s_op_get(3),
    };
    int64_t ids[] = {0, 0, 1, 2, 1, 1, 3, 3, 3};
    uint32_t n = sizeof ops / sizeof *ops;
    static s_state_t a, c;
    memset(&a, 0, sizeof a);
    s_state_put(&a, 1, s_acct(1, "bob", 20));
    s_state_put(&a, 2, s_acct(2, "dan", 7));
    c = a;
    ck_assert_int_eq(s_run(&a, ops, ids, n), HB_OK);
    ck_assert_int_eq(s_run(&c, ops, ids, n), HB_OK);
    ck_assert_msg(memcmp(&a, &c, sizeof a) == 0, "two runs from one state differ");
    /* And the outcome is the one expected, not merely a stable one. */
    s_expect_bytes(a.row[0], a.len[0], s_acct(0, "ann!", 30));
    ck_assert(!a.present[2]);
    ck_assert(a.present[3]);
    hb_val_t cols[3];
    uint32_t nc = 0;
    ck_assert_int_eq(hb_row_decode(a.row[1], a.len[1], cols, 3, &nc), HB_OK);
    ck_assert_int_eq(cols[2].u.i, 24);
    ck_assert_int_eq(cols[1].type, HB_VAL_INT);
    ck_assert_int_eq(cols[1].u.i, S_NOW);
}
END_TEST

/* Every op kind, well formed: the bytes the malformed cases cut up. */
static uint32_t
s_all_ops(s_bytes_t *ops)
{
    s_bytes_t row = s_acct(1, "ann", 100);
    uint32_t n = 0;
    ops[n++] = s_op_get(1);
    ops[n++] = s_op_insert(1, row, 2, s_add_balance(1),
                           s_ex_op(HB_EX_GT, s_ex_col(2), s_ex_val(hb_val_int(0))), true);
    ops[n++] = s_op_update(1, s_ex_op(HB_EX_GT, s_ex_col(2), s_ex_val(hb_val_int(0))),
                           s_add_balance(1), true);
    ops[n++] =
        s_op_delete(1, s_ex_op(HB_EX_GT, s_ex_col(2), s_ex_val(hb_val_int(0))), true);
    ops[n++] = s_op_check(1, &row, false);
    ops[n++] = s_op_check(1, NULL, true);
    ops[n++] = s_op_iput("ann", 1);
    ops[n++] = s_op_idel("ann", 1);
    return n;
}

START_TEST(test_sqlop_malformed_truncated)
{
    s_bytes_t ops[8], row = s_acct(1, "ann", 100);
    uint32_t n = s_all_ops(ops);
    for (uint32_t i = 0; i < n; i++) {
        hb_sqlop_effect_t eff;
        /* The whole op is well formed (a CHECK may still abort 40001). */
        ck_assert_int_eq(s_apply(ops[i], &row, &eff), HB_OK);
        ck_assert_int_ne(s_apply(ops[i], NULL, &eff), HB_PROTO);
        ck_assert_str_ne(s_err.sqlstate, "XX000");
        /* Every proper prefix is refused as malformed, present or not. */
        for (size_t len = 0; len < ops[i].len; len++) {
            s_bytes_t cut = {ops[i].p, len};
            s_expect_malformed(cut, &row);
            s_expect_malformed(cut, NULL);
        }
    }
}
END_TEST

START_TEST(test_sqlop_malformed_shapes)
{
    s_bytes_t row = s_acct(1, "ann", 100);
    s_pack_t b;
    msgpack_packer *pk;
    /* Unknown kinds. */
    for (int kind = 7; kind <= 9; kind++) {
        s_head(s_open(&b), 3, (hb_sqlop_t)kind, s_key(1), S_PLEN);
        s_expect_malformed(s_take(&b), &row);
    }
    /* Each kind with one field too many or too few. */
    s_head(s_open(&b), 4, HB_SQLOP_GET, s_key(1), S_PLEN);
    msgpack_pack_nil(&b.pk);
    s_expect_malformed(s_take(&b), &row);
    pk = s_open(&b);
    s_head(pk, 5, HB_SQLOP_UPDATE, s_key(1), S_PLEN);
    msgpack_pack_nil(pk);
    s_raw(pk, s_add_balance(1));
    s_expect_malformed(s_take(&b), &row);
    pk = s_open(&b);
    s_head(pk, 4, HB_SQLOP_DELETE, s_key(1), S_PLEN);
    msgpack_pack_nil(pk);
    s_expect_malformed(s_take(&b), &row);
    pk = s_open(&b);
    s_head(pk, 3, HB_SQLOP_CHECK, s_key(1), S_PLEN);
    s_expect_malformed(s_take(&b), &row);
    /* Not an array; a kind that is a string. */
    pk = s_open(&b);
    msgpack_pack_uint8(pk, HB_SQLOP_GET);
    s_expect_malformed(s_take(&b), &row);
    pk = s_open(&b);
    msgpack_pack_array(pk, 3);
    hb_mp_pack_cstr(pk, "get");
    hb_mp_pack_bin(pk, "k", 1);
    msgpack_pack_uint8(pk, 0);
    s_expect_malformed(s_take(&b), &row);
    /* A set naming a column beyond the row. */
    s_set_t far = {3, HB_T_INT4, 0, false, s_ex_val(hb_val_int(1))};
    s_expect_malformed(s_op_update(1, s_none, s_sets(&far, 1), false), &row);
    /* A set of an unknown type. */
    s_set_t type = {2, HB_T_COUNT_, 0, false, s_ex_val(hb_val_int(1))};
    s_expect_malformed(s_op_update(1, s_none, s_sets(&type, 1), false), &row);
    /* Garbage expression bytes abort (never store), whatever the code. */
    s_set_t bad = {2, HB_T_INT4, 0, false, {(const uint8_t *)"\x93\x02\xc1", 3}};
    hb_sqlop_effect_t eff;
    ck_assert_int_ne(s_apply(s_op_update(1, s_none, s_sets(&bad, 1), false), &row, &eff),
                     HB_OK);
    ck_assert_int_eq(eff.write, 0);
    ck_assert_str_ne(s_err.sqlstate, "");
}
END_TEST

START_TEST(test_sqlop_malformed_random)
{
    /* Seeded corruptions of every op: any answer but a crash; an error
     * always carries a SQLSTATE and writes nothing. */
    uint64_t x = hb_test_seed("test_sqlop_malformed_random");
    s_bytes_t ops[8], row = s_acct(1, "ann", 100);
    uint32_t n = s_all_ops(ops);
    uint8_t buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        s_bytes_t op = ops[iter % n];
        ck_assert_uint_le(op.len, sizeof buf);
        memcpy(buf, op.p, op.len);
        for (int flips = 1 + iter % 3; flips > 0; flips--) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[x % op.len] = (uint8_t)(x >> 32);
        }
        hb_sqlop_effect_t eff;
        size_t save = s_used;
        hb_rc_t rc = s_apply((s_bytes_t){buf, op.len}, iter & 1 ? &row : NULL, &eff);
        if (rc != HB_OK) {
            ck_assert_int_eq(eff.write, 0);
            ck_assert_uint_eq(strlen(s_err.sqlstate), 5);
        } else if (eff.write == 1) {
            ck_assert_ptr_nonnull(eff.row);
        }
        s_used = save;
    }
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("sqlop");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_sqlop_head", test_sqlop_head},
        {"test_sqlop_get", test_sqlop_get},
        {"test_sqlop_insert", test_sqlop_insert},
        {"test_sqlop_insert_do_update", test_sqlop_insert_do_update},
        {"test_sqlop_update", test_sqlop_update},
        {"test_sqlop_update_errors", test_sqlop_update_errors},
        {"test_sqlop_delete", test_sqlop_delete},
        {"test_sqlop_check", test_sqlop_check},
        {"test_sqlop_index_entries", test_sqlop_index_entries},
        {"test_sqlop_deterministic", test_sqlop_deterministic},
        {"test_sqlop_malformed_truncated", test_sqlop_malformed_truncated},
        {"test_sqlop_malformed_shapes", test_sqlop_malformed_shapes},
        {"test_sqlop_malformed_random", test_sqlop_malformed_random},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, s_setup, NULL);
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
