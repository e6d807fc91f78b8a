/* test_expr.c — unit tests of SQL values and the expression evaluator
 * (common/hb_expr).
 *
 * Expressions are built with the hb_expr_pack_* packers, as sqlfront builds
 * them, and evaluated over a fixed five-column row. Checked: checked integer
 * arithmetic (truncating division, the sign of %, 22003 on every overflow,
 * 22012), int/double mixing, comparisons across int and double, bytewise
 * text order, three-valued AND/OR/NOT (full truth tables), IS NULL, IN with
 * NULLs, CASE, COALESCE, LIKE (UTF-8 aware _, escapes), the scalar
 * functions, CAST through hb_val_coerce, hb_val_format (PostgreSQL float8
 * output), hb_val_cmp order, and rows (pack/decode, corrupt rows).
 * Robustness: deep nesting ends in an error, and a seeded fuzz loop
 * (HOBBES_SEED=) feeds random bytes and mutated valid expressions to
 * hb_expr_eval, which must never crash and always names a 5-character
 * SQLSTATE when it fails; well-formed random trees never give XX000.
 *
 * Tests whose comment starts "Was a bug" pin a defect found and fixed.
 */
#include <check.h>

#include "../hb_test.h"
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_expr.h"

static uint64_t s_seed;

/* An assertion for hot loops: Check's ck_assert records every passing
 * check through its pipe, which costs a write each. */
#define S_REQUIRE(cond, ...)                                                             \
    do {                                                                                 \
        if (!(cond))                                                                     \
            ck_abort_msg(__VA_ARGS__);                                                   \
    } while (0)

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

/* ------------------------------------------------------------------ */
/* Memory the evaluator allocates from                                  */
/* ------------------------------------------------------------------ */

/* A bump arena, reset before every evaluation; requests that do not fit
 * go to malloc and are freed at the next reset. */
#define S_ARENA_BYTES (1u << 20)
#define S_BIG_MAX     64
#define S_ALLOC_LIMIT ((size_t)64 << 20) /* more than this is a finding */

static _Alignas(16) uint8_t s_arena[S_ARENA_BYTES];
static size_t s_arena_used;
static void *s_big[S_BIG_MAX];
static size_t s_nbig;

static void
s_arena_reset(void)
{
    s_arena_used = 0;
    for (size_t i = 0; i < s_nbig; i++)
        free(s_big[i]);
    s_nbig = 0;
}

static void *
s_alloc(void *arg, size_t size)
{
    (void)arg;
    S_REQUIRE(size <= S_ALLOC_LIMIT, "evaluator asked for %zu bytes (seed %" PRIu64 ")",
              size, s_seed);
    size_t need = (size + 15) & ~(size_t)15;
    if (need == 0)
        need = 16;
    if (S_ARENA_BYTES - s_arena_used >= need) {
        void *p = s_arena + s_arena_used;
        s_arena_used += need;
        return p;
    }
    S_REQUIRE(s_nbig < S_BIG_MAX, "too many large allocations");
    void *p = malloc(need);
    S_REQUIRE(p != NULL, "out of memory");
    s_big[s_nbig++] = p;
    return p;
}

/* ------------------------------------------------------------------ */
/* Building expressions                                                 */
/* ------------------------------------------------------------------ */

static msgpack_sbuffer s_sb;
static msgpack_packer s_pk;
static hb_sqlerr_t s_err;

/* The row every expression is evaluated over:
 * c0 = 10, c1 = 'abc', c2 = NULL, c3 = 2.5, c4 = true. */
static hb_val_t s_row[5];
static const uint32_t s_ncols = 5;

static hb_val_t
I(int64_t i)
{
    return hb_val_int(i);
}

static hb_val_t
D(double d)
{
    return hb_val_double(d);
}

static hb_val_t
S(const char *s)
{
    return hb_val_str(s, (uint32_t)strlen(s));
}

static hb_val_t
N(void)
{
    return hb_val_nil();
}

static hb_val_t
B(bool b)
{
    return hb_val_bool(b);
}

static hb_val_t
X(const void *p, uint32_t len)
{
    return hb_val_bin(p, len);
}

/* Starts a new expression in s_sb. */
static void
s_begin(void)
{
    s_sb.size = 0;
    msgpack_packer_init(&s_pk, &s_sb, msgpack_sbuffer_write);
}

static void
s_const(hb_val_t v)
{
    hb_expr_pack_const(&s_pk, &v);
}

static void
s_col(uint32_t c)
{
    hb_expr_pack_col(&s_pk, c);
}

static void
s_op(hb_ex_op_t op, uint32_t nfields)
{
    hb_expr_pack_op(&s_pk, op, nfields);
}

/* A raw integer field of a node (IN/CASE/COALESCE counts, CAST type). */
static void
s_uint(uint64_t u)
{
    msgpack_pack_uint64(&s_pk, u);
}

static void
s_int(int64_t i)
{
    msgpack_pack_int64(&s_pk, i);
}

/* [op, const a, const b] */
static void
s_bin2(hb_ex_op_t op, hb_val_t a, hb_val_t b)
{
    s_begin();
    s_op(op, 3);
    s_const(a);
    s_const(b);
}

/* [op, const a] */
static void
s_un1(hb_ex_op_t op, hb_val_t a)
{
    s_begin();
    s_op(op, 2);
    s_const(a);
}

/* [FUNC, fn, n, const args...] */
static void
s_func(hb_func_t fn, uint32_t n, const hb_val_t *args)
{
    s_begin();
    s_op(HB_EX_FUNC, 3 + n);
    s_uint(fn);
    s_uint(n);
    for (uint32_t i = 0; i < n; i++)
        s_const(args[i]);
}

/* [CAST, const v, type, typmod] */
static void
s_cast(hb_val_t v, hb_type_t t, int32_t typmod)
{
    s_begin();
    s_op(HB_EX_CAST, 4);
    s_const(v);
    s_uint(t);
    s_int(typmod);
}

/* ------------------------------------------------------------------ */
/* Evaluating and checking                                              */
/* ------------------------------------------------------------------ */

static hb_rc_t
s_eval_bytes(const uint8_t *p, size_t len, hb_val_t *out)
{
    s_arena_reset();
    memset(&s_err, 0, sizeof s_err);
    hb_expr_env_t env = {.row = s_row,
                         .ncols = s_ncols,
                         .alloc = s_alloc,
                         .alloc_arg = NULL,
                         .err = &s_err};
    return hb_expr_eval(p, len, &env, out);
}

static hb_rc_t
s_eval(hb_val_t *out)
{
    return s_eval_bytes((const uint8_t *)s_sb.data, s_sb.size, out);
}

/* Evaluates s_sb and asserts success. */
static hb_val_t
s_ok(int line)
{
    hb_val_t v;
    hb_rc_t rc = s_eval(&v);
    ck_assert_msg(rc == HB_OK, "line %d: rc %d, %s %s", line, rc, s_err.sqlstate,
                  s_err.msg);
    return v;
}

static void
s_expect_int(int line, int64_t want)
{
    hb_val_t v = s_ok(line);
    ck_assert_msg(v.type == HB_VAL_INT, "line %d: type %d, want int", line, v.type);
    ck_assert_msg(v.u.i == want, "line %d: got %" PRId64 ", want %" PRId64, line, v.u.i,
                  want);
}

static void
s_expect_dbl(int line, double want)
{
    hb_val_t v = s_ok(line);
    ck_assert_msg(v.type == HB_VAL_DOUBLE, "line %d: type %d, want double", line, v.type);
    ck_assert_msg(isnan(want) ? isnan(v.u.d) : v.u.d == want,
                  "line %d: got %.17g, want %.17g", line, v.u.d, want);
}

static void
s_expect_bool(int line, bool want)
{
    hb_val_t v = s_ok(line);
    ck_assert_msg(v.type == HB_VAL_BOOL, "line %d: type %d, want bool", line, v.type);
    ck_assert_msg(v.u.b == want, "line %d: got %d, want %d", line, v.u.b, want);
}

static void
s_expect_nil(int line)
{
    hb_val_t v = s_ok(line);
    ck_assert_msg(v.type == HB_VAL_NIL, "line %d: type %d, want NULL", line, v.type);
}

static void
s_expect_bytes(int line, hb_val_type_t type, const void *want, uint32_t len)
{
    hb_val_t v = s_ok(line);
    ck_assert_msg(v.type == type, "line %d: type %d, want %d", line, v.type, type);
    ck_assert_msg(v.u.s.len == len && (len == 0 || memcmp(v.u.s.ptr, want, len) == 0),
                  "line %d: got \"%.*s\" (%u bytes), want \"%.*s\"", line, (int)v.u.s.len,
                  (const char *)v.u.s.ptr, v.u.s.len, (int)len, (const char *)want);
}

static void
s_expect_err(int line, const char *sqlstate)
{
    hb_val_t v;
    hb_rc_t rc = s_eval(&v);
    ck_assert_msg(rc == HB_INVALID, "line %d: rc %d (type %d), want error %s", line, rc,
                  v.type, sqlstate);
    ck_assert_msg(strcmp(s_err.sqlstate, sqlstate) == 0,
                  "line %d: sqlstate %s (%s), want %s", line, s_err.sqlstate, s_err.msg,
                  sqlstate);
    ck_assert_msg(s_err.msg[0] != '\0', "line %d: error without a message", line);
}

#define EXPECT_INT(w)    s_expect_int(__LINE__, (w))
#define EXPECT_DBL(w)    s_expect_dbl(__LINE__, (w))
#define EXPECT_BOOL(w)   s_expect_bool(__LINE__, (w))
#define EXPECT_NIL()     s_expect_nil(__LINE__)
#define EXPECT_STR(w)    s_expect_bytes(__LINE__, HB_VAL_STR, (w), (uint32_t)strlen(w))
#define EXPECT_BIN(w, n) s_expect_bytes(__LINE__, HB_VAL_BIN, (w), (n))
#define EXPECT_ERR(st)   s_expect_err(__LINE__, (st))

/* ------------------------------------------------------------------ */
/* Arithmetic                                                           */
/* ------------------------------------------------------------------ */

START_TEST(test_expr_int_arith)
{
    s_bin2(HB_EX_ADD, I(7), I(3));
    EXPECT_INT(10);
    s_bin2(HB_EX_SUB, I(7), I(10));
    EXPECT_INT(-3);
    s_bin2(HB_EX_MUL, I(-6), I(7));
    EXPECT_INT(-42);
    /* Division truncates toward zero; % takes the sign of the dividend. */
    s_bin2(HB_EX_DIV, I(7), I(2));
    EXPECT_INT(3);
    s_bin2(HB_EX_DIV, I(-7), I(2));
    EXPECT_INT(-3);
    s_bin2(HB_EX_DIV, I(7), I(-2));
    EXPECT_INT(-3);
    s_bin2(HB_EX_DIV, I(-7), I(-2));
    EXPECT_INT(3);
    s_bin2(HB_EX_MOD, I(7), I(3));
    EXPECT_INT(1);
    s_bin2(HB_EX_MOD, I(-7), I(3));
    EXPECT_INT(-1);
    s_bin2(HB_EX_MOD, I(7), I(-3));
    EXPECT_INT(1);
    s_bin2(HB_EX_MOD, I(-7), I(-3));
    EXPECT_INT(-1);
    s_bin2(HB_EX_MOD, I(6), I(3));
    EXPECT_INT(0);
    /* The limits themselves are fine. */
    s_bin2(HB_EX_MOD, I(INT64_MIN), I(-1));
    EXPECT_INT(0);
    s_bin2(HB_EX_DIV, I(INT64_MAX), I(-1));
    EXPECT_INT(-INT64_MAX);
    s_bin2(HB_EX_DIV, I(INT64_MIN), I(1));
    EXPECT_INT(INT64_MIN);
    s_bin2(HB_EX_ADD, I(INT64_MAX - 1), I(1));
    EXPECT_INT(INT64_MAX);
    s_bin2(HB_EX_SUB, I(INT64_MIN + 1), I(1));
    EXPECT_INT(INT64_MIN);
    s_bin2(HB_EX_MUL, I(INT64_MIN), I(1));
    EXPECT_INT(INT64_MIN);
    s_un1(HB_EX_NEG, I(INT64_MAX));
    EXPECT_INT(-INT64_MAX);
    s_un1(HB_EX_NEG, I(0));
    EXPECT_INT(0);
    /* Columns: c0 + 1, and (c0 * c0) - c0. */
    s_begin();
    s_op(HB_EX_ADD, 3);
    s_col(0);
    s_const(I(1));
    EXPECT_INT(11);
    s_begin();
    s_op(HB_EX_SUB, 3);
    s_op(HB_EX_MUL, 3);
    s_col(0);
    s_col(0);
    s_col(0);
    EXPECT_INT(90);
}
END_TEST

START_TEST(test_expr_int_overflow)
{
    s_bin2(HB_EX_ADD, I(INT64_MAX), I(1));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_ADD, I(INT64_MIN), I(-1));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_SUB, I(INT64_MIN), I(1));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_SUB, I(INT64_MAX), I(-1));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_SUB, I(0), I(INT64_MIN));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_MUL, I(INT64_MAX), I(2));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_MUL, I(INT64_MIN), I(-1));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_MUL, I(4294967296), I(4294967296));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_DIV, I(INT64_MIN), I(-1));
    EXPECT_ERR("22003");
    s_un1(HB_EX_NEG, I(INT64_MIN));
    EXPECT_ERR("22003");
    hb_val_t a = I(INT64_MIN);
    s_func(HB_FN_ABS, 1, &a);
    EXPECT_ERR("22003");
    /* Doubles overflow to 22003 too, unless an operand is infinite. */
    s_bin2(HB_EX_MUL, D(1e308), D(10));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_ADD, D(DBL_MAX), D(DBL_MAX));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_DIV, D(1e308), D(1e-10));
    EXPECT_ERR("22003");
    s_bin2(HB_EX_ADD, D(INFINITY), I(1));
    EXPECT_DBL(INFINITY);
}
END_TEST

START_TEST(test_expr_div_zero)
{
    s_bin2(HB_EX_DIV, I(1), I(0));
    EXPECT_ERR("22012");
    s_bin2(HB_EX_MOD, I(1), I(0));
    EXPECT_ERR("22012");
    s_bin2(HB_EX_DIV, I(INT64_MIN), I(0));
    EXPECT_ERR("22012");
    s_bin2(HB_EX_DIV, D(1.5), D(0.0));
    EXPECT_ERR("22012");
    s_bin2(HB_EX_DIV, D(1.5), D(-0.0));
    EXPECT_ERR("22012");
    s_bin2(HB_EX_DIV, I(1), D(0.0));
    EXPECT_ERR("22012");
    s_bin2(HB_EX_DIV, D(0.0), I(0));
    EXPECT_ERR("22012");
    s_bin2(HB_EX_MOD, D(5.5), I(0));
    EXPECT_ERR("22012");
    /* NULL wins over the division: NULL / 0 is NULL. */
    s_bin2(HB_EX_DIV, N(), I(0));
    EXPECT_NIL();
}
END_TEST

START_TEST(test_expr_mixed)
{
    s_bin2(HB_EX_ADD, I(1), D(2.5));
    EXPECT_DBL(3.5);
    s_bin2(HB_EX_SUB, D(2.5), I(1));
    EXPECT_DBL(1.5);
    s_bin2(HB_EX_MUL, I(3), D(0.5));
    EXPECT_DBL(1.5);
    s_bin2(HB_EX_DIV, I(7), D(2.0));
    EXPECT_DBL(3.5);
    s_bin2(HB_EX_DIV, D(7.0), I(2));
    EXPECT_DBL(3.5);
    s_bin2(HB_EX_MOD, D(5.5), I(2));
    EXPECT_DBL(1.5);
    s_bin2(HB_EX_MUL, I(2), D(2.0)); /* a double even when integral */
    EXPECT_DBL(4.0);
    s_un1(HB_EX_NEG, D(2.5));
    EXPECT_DBL(-2.5);
    s_begin(); /* c0 * c3 */
    s_op(HB_EX_MUL, 3);
    s_col(0);
    s_col(3);
    EXPECT_DBL(25.0);
    /* NULL propagates through every arithmetic operator. */
    const hb_ex_op_t ar[] = {HB_EX_ADD, HB_EX_SUB, HB_EX_MUL, HB_EX_DIV, HB_EX_MOD};
    for (size_t i = 0; i < 5; i++) {
        s_bin2(ar[i], N(), I(1));
        EXPECT_NIL();
        s_bin2(ar[i], D(1), N());
        EXPECT_NIL();
        /* Non-numbers: operator does not exist. */
        s_bin2(ar[i], S("1"), I(1));
        EXPECT_ERR("42883");
        s_bin2(ar[i], I(1), B(true));
        EXPECT_ERR("42883");
    }
    s_un1(HB_EX_NEG, N());
    EXPECT_NIL();
    s_un1(HB_EX_NEG, S("x"));
    EXPECT_ERR("42883");
}
END_TEST

START_TEST(test_expr_compare)
{
    struct {
        hb_ex_op_t op;
        hb_val_t a, b;
        bool want;
    } t[] = {
        {HB_EX_EQ, I(1), I(1), true},
        {HB_EX_EQ, I(1), D(1.0), true},
        {HB_EX_NE, I(3), D(3.0), false},
        {HB_EX_NE, I(3), D(3.5), true},
        {HB_EX_LT, I(1), D(1.5), true},
        {HB_EX_GT, I(2), D(1.5), true},
        {HB_EX_LE, D(1.0), I(1), true},
        {HB_EX_GE, D(0.5), I(1), false},
        {HB_EX_LT, I(-1), I(0), true},
        {HB_EX_LT, I(INT64_MIN), I(INT64_MAX), true},
        {HB_EX_GT, D(NAN), D(1e308), true}, /* NaN sorts above every number */
        {HB_EX_GT, D(NAN), D(INFINITY), true},
        {HB_EX_EQ, D(NAN), D(NAN), true},
        {HB_EX_EQ, D(0.0), D(-0.0), true},
        {HB_EX_LT, S("abc"), S("abd"), true},
        {HB_EX_LT, S("ab"), S("abc"), true},
        {HB_EX_LT, S(""), S("a"), true},
        {HB_EX_LT, S("Z"), S("a"), true},        /* bytewise: 'Z' 0x5a < 'a' */
        {HB_EX_GT, S("\xc3\xa9"), S("z"), true}, /* UTF-8 é sorts after z */
        {HB_EX_EQ, S("abc"), S("abc"), true},
        {HB_EX_NE, S("abc"), S("abC"), true},
        {HB_EX_GT, B(true), B(false), true},
        {HB_EX_EQ, B(false), B(false), true},
        {HB_EX_LT, X("\x00", 1), X("\x01", 1), true},
        {HB_EX_LT, X("a", 1), X("a\x00", 2), true},
        {HB_EX_GE, X("\xff", 1), X("\x00\xff", 2), true},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        s_bin2(t[i].op, t[i].a, t[i].b);
        s_expect_bool((int)(1000 + i), t[i].want);
    }
    /* Mismatched types: 42883; NULL on either side: NULL. */
    s_bin2(HB_EX_EQ, I(1), S("1"));
    EXPECT_ERR("42883");
    s_bin2(HB_EX_LT, S("a"), X("a", 1));
    EXPECT_ERR("42883");
    s_bin2(HB_EX_EQ, B(true), I(1));
    EXPECT_ERR("42883");
    const hb_ex_op_t cmp[] = {HB_EX_EQ, HB_EX_NE, HB_EX_LT, HB_EX_LE, HB_EX_GT, HB_EX_GE};
    for (size_t i = 0; i < 6; i++) {
        s_bin2(cmp[i], N(), N());
        EXPECT_NIL();
        s_bin2(cmp[i], I(1), N());
        EXPECT_NIL();
        s_bin2(cmp[i], N(), S("x"));
        EXPECT_NIL();
    }
    /* c1 = 'abc' from the row. */
    s_begin();
    s_op(HB_EX_EQ, 3);
    s_col(1);
    s_const(S("abc"));
    EXPECT_BOOL(true);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Logic                                                                */
/* ------------------------------------------------------------------ */

/* 0 false, 1 true, 2 NULL */
static hb_val_t
s_tri(int t)
{
    return t == 2 ? N() : B(t == 1);
}

START_TEST(test_expr_three_valued)
{
    /* SQL's truth tables, indexed [a][b] with 0 F, 1 T, 2 N. */
    static const int and_t[3][3] = {{0, 0, 0}, {0, 1, 2}, {0, 2, 2}};
    static const int or_t[3][3] = {{0, 1, 2}, {1, 1, 1}, {2, 1, 2}};
    static const int not_t[3] = {1, 0, 2};
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) {
            for (int which = 0; which < 2; which++) {
                int want = which ? or_t[a][b] : and_t[a][b];
                s_bin2(which ? HB_EX_OR : HB_EX_AND, s_tri(a), s_tri(b));
                hb_val_t v;
                hb_rc_t rc = s_eval(&v);
                ck_assert_msg(rc == HB_OK, "%d %s %d: %s", a, which ? "OR" : "AND", b,
                              s_err.sqlstate);
                ck_assert_msg(want == 2 ? v.type == HB_VAL_NIL
                                        : v.type == HB_VAL_BOOL && v.u.b == (want == 1),
                              "%d %s %d: got type %d value %d, want %d", a,
                              which ? "OR" : "AND", b, v.type, v.u.b, want);
            }
        }
        s_un1(HB_EX_NOT, s_tri(a));
        hb_val_t v;
        ck_assert_int_eq(s_eval(&v), HB_OK);
        if (not_t[a] == 2)
            ck_assert_int_eq(v.type, HB_VAL_NIL);
        else
            ck_assert(v.type == HB_VAL_BOOL && v.u.b == (not_t[a] == 1));
    }

    /* A decided AND / OR does not evaluate its right side: false AND
     * (1/0 = 1) is false, true OR (1/0 = 1) is true. */
    for (int which = 0; which < 2; which++) {
        s_begin();
        s_op(which ? HB_EX_OR : HB_EX_AND, 3);
        s_const(B(which == 1));
        s_op(HB_EX_EQ, 3);
        s_op(HB_EX_DIV, 3);
        s_const(I(1));
        s_const(I(0));
        s_const(I(1));
        EXPECT_BOOL(which == 1);
        /* ... but an undecided one does. */
        s_begin();
        s_op(which ? HB_EX_OR : HB_EX_AND, 3);
        s_const(N());
        s_op(HB_EX_EQ, 3);
        s_op(HB_EX_DIV, 3);
        s_const(I(1));
        s_const(I(0));
        s_const(I(1));
        EXPECT_ERR("22012");
    }

    /* Non-boolean operands: 42804. */
    s_bin2(HB_EX_AND, I(1), B(true));
    EXPECT_ERR("42804");
    s_bin2(HB_EX_OR, B(false), S("t"));
    EXPECT_ERR("42804");
    s_un1(HB_EX_NOT, I(0));
    EXPECT_ERR("42804");

    /* hb_expr_test: only TRUE passes; a non-boolean is 42804. */
    const hb_val_t vals[] = {B(true), B(false), N(), I(1)};
    const hb_rc_t rcs[] = {HB_OK, HB_OK, HB_OK, HB_INVALID};
    for (int i = 0; i < 4; i++) {
        s_begin();
        s_const(vals[i]);
        bool pass = true;
        memset(&s_err, 0, sizeof s_err);
        hb_expr_env_t env = {
            .row = s_row, .ncols = s_ncols, .alloc = s_alloc, .err = &s_err};
        ck_assert_int_eq(hb_expr_test((const uint8_t *)s_sb.data, s_sb.size, &env, &pass),
                         rcs[i]);
        ck_assert(pass == (i == 0));
        if (rcs[i] != HB_OK)
            ck_assert_str_eq(s_err.sqlstate, "42804");
    }
}
END_TEST

START_TEST(test_expr_isnull)
{
    const hb_val_t vals[] = {N(), I(0), S(""), B(false), D(NAN), X("", 0)};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        s_un1(HB_EX_ISNULL, vals[i]);
        EXPECT_BOOL(i == 0);
        s_un1(HB_EX_NOTNULL, vals[i]);
        EXPECT_BOOL(i != 0);
    }
    /* Column c2 is NULL; a column past the row's end reads NULL (a column
     * added after the row was written). */
    for (uint32_t c = 0; c < 8; c++) {
        s_begin();
        s_op(HB_EX_ISNULL, 2);
        s_col(c);
        s_expect_bool((int)(2000 + c), c == 2 || c >= s_ncols);
    }
    /* IS NULL of an expression that is NULL: (c2 + 1) IS NULL. */
    s_begin();
    s_op(HB_EX_ISNULL, 2);
    s_op(HB_EX_ADD, 3);
    s_col(2);
    s_const(I(1));
    EXPECT_BOOL(true);
    /* With no row at all. */
    s_begin();
    s_col(0);
    hb_val_t v;
    hb_expr_env_t env = {.row = NULL, .ncols = 0, .alloc = s_alloc, .err = &s_err};
    ck_assert_int_eq(hb_expr_eval((const uint8_t *)s_sb.data, s_sb.size, &env, &v),
                     HB_OK);
    ck_assert_int_eq(v.type, HB_VAL_NIL);
}
END_TEST

/* a IN (list...) */
static void
s_in(hb_val_t a, uint32_t n, const hb_val_t *list)
{
    s_begin();
    s_op(HB_EX_IN, 3 + n);
    s_const(a);
    s_uint(n);
    for (uint32_t i = 0; i < n; i++)
        s_const(list[i]);
}

START_TEST(test_expr_in)
{
    const hb_val_t one_null[] = {I(1), N()};
    s_in(I(2), 2, one_null); /* 2 IN (1, NULL) is NULL */
    EXPECT_NIL();
    s_in(I(1), 2, one_null); /* 1 IN (1, NULL) is true */
    EXPECT_BOOL(true);
    const hb_val_t null_one[] = {N(), I(1)};
    s_in(I(1), 2, null_one);
    EXPECT_BOOL(true);
    s_in(I(2), 2, null_one);
    EXPECT_NIL();
    const hb_val_t ints[] = {I(1), I(2), I(3)};
    s_in(I(3), 3, ints);
    EXPECT_BOOL(true);
    s_in(I(4), 3, ints);
    EXPECT_BOOL(false);
    s_in(N(), 3, ints); /* NULL IN (...) is NULL */
    EXPECT_NIL();
    s_in(D(2.0), 3, ints); /* across int and double */
    EXPECT_BOOL(true);
    const hb_val_t strs[] = {S("a"), S("abc")};
    s_in(S("abc"), 2, strs);
    EXPECT_BOOL(true);
    s_in(S("ab"), 2, strs);
    EXPECT_BOOL(false);
    s_in(I(1), 2, strs);
    EXPECT_ERR("42883");
    /* Once found, the rest of the list is not evaluated: 1 IN (1, 1/0). */
    s_begin();
    s_op(HB_EX_IN, 5);
    s_const(I(1));
    s_uint(2);
    s_const(I(1));
    s_op(HB_EX_DIV, 3);
    s_const(I(1));
    s_const(I(0));
    EXPECT_BOOL(true);
    /* c0 IN (5, 10). */
    s_begin();
    s_op(HB_EX_IN, 5);
    s_col(0);
    s_uint(2);
    s_const(I(5));
    s_const(I(10));
    EXPECT_BOOL(true);
    /* A count that does not match the node's size is malformed. */
    s_begin();
    s_op(HB_EX_IN, 4);
    s_const(I(1));
    s_uint(2);
    s_const(I(1));
    EXPECT_ERR("XX000");
}
END_TEST

START_TEST(test_expr_case)
{
    /* CASE WHEN c0 > 20 THEN 'big' WHEN c0 > 5 THEN 'mid' ELSE 'small' END */
    for (int64_t x = 0; x < 3; x++) {
        s_row[0] = I(x == 0 ? 30 : x == 1 ? 10 : 1);
        s_begin();
        s_op(HB_EX_CASE, 7);
        s_uint(2);
        s_op(HB_EX_GT, 3);
        s_col(0);
        s_const(I(20));
        s_const(S("big"));
        s_op(HB_EX_GT, 3);
        s_col(0);
        s_const(I(5));
        s_const(S("mid"));
        s_const(S("small"));
        EXPECT_STR(x == 0 ? "big" : x == 1 ? "mid" : "small");
    }
    s_row[0] = I(10);
    /* Without ELSE (sqlfront packs a NULL else): no arm taken is NULL. */
    s_begin();
    s_op(HB_EX_CASE, 5);
    s_uint(1);
    s_const(B(false));
    s_const(I(1));
    s_const(N());
    EXPECT_NIL();
    /* A NULL condition is not taken. */
    s_begin();
    s_op(HB_EX_CASE, 5);
    s_uint(1);
    s_const(N());
    s_const(I(1));
    s_const(I(2));
    EXPECT_INT(2);
    /* Untaken arms and the else are not evaluated: no 22012. */
    s_begin();
    s_op(HB_EX_CASE, 7);
    s_uint(2);
    s_const(B(false));
    s_op(HB_EX_DIV, 3);
    s_const(I(1));
    s_const(I(0));
    s_const(B(true));
    s_const(I(7));
    s_op(HB_EX_DIV, 3);
    s_const(I(1));
    s_const(I(0));
    EXPECT_INT(7);
    /* The first true arm wins. */
    s_begin();
    s_op(HB_EX_CASE, 7);
    s_uint(2);
    s_const(B(true));
    s_const(I(1));
    s_const(B(true));
    s_const(I(2));
    s_const(I(3));
    EXPECT_INT(1);
    /* ELSE only (zero arms). */
    s_begin();
    s_op(HB_EX_CASE, 3);
    s_uint(0);
    s_const(S("e"));
    EXPECT_STR("e");
    /* Count / size mismatch, and a huge count that wraps 3 + 2n. */
    s_begin();
    s_op(HB_EX_CASE, 5);
    s_uint(2);
    s_const(B(true));
    s_const(I(1));
    s_const(I(2));
    EXPECT_ERR("XX000");
    s_begin();
    s_op(HB_EX_CASE, 3);
    s_uint(UINT64_C(1) << 63);
    s_const(B(true));
    EXPECT_ERR("XX000");
}
END_TEST

START_TEST(test_expr_coalesce)
{
    /* COALESCE(NULL, c2, 3, 1/0) is 3 and never divides. */
    s_begin();
    s_op(HB_EX_COALESCE, 6);
    s_uint(4);
    s_const(N());
    s_col(2);
    s_const(I(3));
    s_op(HB_EX_DIV, 3);
    s_const(I(1));
    s_const(I(0));
    EXPECT_INT(3);
    s_begin();
    s_op(HB_EX_COALESCE, 4);
    s_uint(2);
    s_const(N());
    s_col(2);
    EXPECT_NIL();
    s_begin();
    s_op(HB_EX_COALESCE, 3);
    s_uint(1);
    s_col(1);
    EXPECT_STR("abc");
    s_begin();
    s_op(HB_EX_COALESCE, 4);
    s_uint(2);
    s_const(B(false));
    s_const(B(true));
    EXPECT_BOOL(false); /* false is a value, not NULL */
    /* An error before the first value still surfaces. */
    s_begin();
    s_op(HB_EX_COALESCE, 4);
    s_uint(2);
    s_op(HB_EX_DIV, 3);
    s_const(I(1));
    s_const(I(0));
    s_const(I(1));
    EXPECT_ERR("22012");
    /* Count mismatch; and a count that wraps 2 + n to the node size. */
    s_begin();
    s_op(HB_EX_COALESCE, 4);
    s_uint(3);
    s_const(I(1));
    s_const(I(2));
    EXPECT_ERR("XX000");
    s_begin();
    s_op(HB_EX_COALESCE, 1);
    s_uint(UINT64_MAX);
    s_const(N());
    s_const(N());
    hb_val_t v;
    ck_assert_int_eq(s_eval(&v), HB_INVALID);
    ck_assert_uint_eq(strlen(s_err.sqlstate), 5);
}
END_TEST

START_TEST(test_expr_concat)
{
    s_bin2(HB_EX_CONCAT, S("ab"), S("cd"));
    EXPECT_STR("abcd");
    s_bin2(HB_EX_CONCAT, S(""), S(""));
    EXPECT_STR("");
    s_bin2(HB_EX_CONCAT, S("a"), I(-1));
    EXPECT_STR("a-1");
    s_bin2(HB_EX_CONCAT, I(1), D(2.5));
    EXPECT_STR("12.5");
    s_bin2(HB_EX_CONCAT, N(), S("x"));
    EXPECT_NIL();
    s_bin2(HB_EX_CONCAT, S("x"), N());
    EXPECT_NIL();
    s_bin2(HB_EX_CONCAT, X("\x00\x01", 2), X("\xff", 1));
    EXPECT_BIN("\x00\x01\xff", 3);
    /* c1 || c1 || c1 */
    s_begin();
    s_op(HB_EX_CONCAT, 3);
    s_op(HB_EX_CONCAT, 3);
    s_col(1);
    s_col(1);
    s_col(1);
    EXPECT_STR("abcabcabc");
}
END_TEST

/* ------------------------------------------------------------------ */
/* LIKE                                                                 */
/* ------------------------------------------------------------------ */

START_TEST(test_expr_like)
{
    struct {
        const char *s, *p;
        bool want;
    } t[] = {
        {"abc", "abc", true},
        {"abc", "abd", false},
        {"abc", "ab", false},
        {"ab", "abc", false},
        {"abc", "ABC", false}, /* case-sensitive */
        {"abc", "a%", true},
        {"abc", "%c", true},
        {"abc", "%b%", true},
        {"abc", "%", true},
        {"", "%", true},
        {"", "%%", true},
        {"", "", true},
        {"abc", "", false},
        {"", "_", false},
        {"abc", "a_c", true},
        {"abc", "___", true},
        {"abc", "__", false},
        {"abc", "____", false},
        {"abc", "a_", false},
        {"abcabc", "%abc", true},
        {"xabcx", "%abc", false},
        {"abcx", "abc%", true},
        {"xabc", "abc%", false},
        {"aaa", "%a%a%a%", true},
        {"aa", "%a%a%a%", false},
        {"mississippi", "%iss%ppi", true},
        {"mississippi", "m%iss%", true},
        {"mississippi", "%sip%", true},
        {"mississippi", "%sipx%", false},
        /* _ matches one whole UTF-8 character. */
        {"h\xc3\xa9llo", "h_llo", true},
        {"h\xc3\xa9llo", "h__llo", false},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "___", true},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "__", false},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "____", false},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "%\xe8\xaa\x9e", true},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "%_\xe8\xaa\x9e", true},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "_%_", true},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "%_", true},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xe6\x97\xa5%", true},
        {"\xf0\x9f\x98\x80x", "_x", true}, /* a 4-byte character */
        {"h\xc3\xa9llo", "%llo", true},
        {"h\xc3\xa9llo", "h%", true},
        /* Backslash escapes %, _ and itself. */
        {"a%b", "a\\%b", true},
        {"axb", "a\\%b", false},
        {"a%", "a\\%", true},
        {"a_b", "a\\_b", true},
        {"axb", "a\\_b", false},
        {"a\\b", "a\\\\b", true},
        {"ab", "a\\b", true}, /* an escaped ordinary character is itself */
        {"50%", "%\\%", true},
        {"50", "%\\%", false},
        {"a\\", "a\\", true}, /* a trailing backslash is literal */
        {"%", "%", true},
        {"_", "\\_", true},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        s_bin2(HB_EX_LIKE, S(t[i].s), S(t[i].p));
        hb_val_t v;
        hb_rc_t rc = s_eval(&v);
        ck_assert_msg(rc == HB_OK, "'%s' LIKE '%s': %s", t[i].s, t[i].p, s_err.sqlstate);
        ck_assert_msg(v.type == HB_VAL_BOOL && v.u.b == t[i].want,
                      "'%s' LIKE '%s': got %d, want %d", t[i].s, t[i].p, v.u.b,
                      t[i].want);
    }
    s_bin2(HB_EX_LIKE, N(), S("%"));
    EXPECT_NIL();
    s_bin2(HB_EX_LIKE, S("a"), N());
    EXPECT_NIL();
    s_bin2(HB_EX_LIKE, I(1), S("1"));
    EXPECT_ERR("42883");
    s_bin2(HB_EX_LIKE, S("1"), X("1", 1));
    EXPECT_ERR("42883");
    /* c1 LIKE 'a%' */
    s_begin();
    s_op(HB_EX_LIKE, 3);
    s_col(1);
    s_const(S("a%"));
    EXPECT_BOOL(true);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Functions                                                            */
/* ------------------------------------------------------------------ */

START_TEST(test_expr_func_text)
{
    hb_val_t a[3];
    a[0] = S("AbC xyZ \xc3\x89"); /* only ASCII letters change: "C" collation */
    s_func(HB_FN_LOWER, 1, a);
    EXPECT_STR("abc xyz \xc3\x89");
    s_func(HB_FN_UPPER, 1, a);
    EXPECT_STR("ABC XYZ \xc3\x89");
    a[0] = S("");
    s_func(HB_FN_UPPER, 1, a);
    EXPECT_STR("");
    a[0] = N();
    s_func(HB_FN_LOWER, 1, a);
    EXPECT_NIL();
    a[0] = I(1);
    s_func(HB_FN_LOWER, 1, a);
    EXPECT_ERR("42883");
    s_func(HB_FN_UPPER, 0, a);
    EXPECT_ERR("42883");

    /* length counts characters, bytea bytes. */
    a[0] = S("h\xc3\xa9llo");
    s_func(HB_FN_LENGTH, 1, a);
    EXPECT_INT(5);
    a[0] = S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xf0\x9f\x98\x80");
    s_func(HB_FN_LENGTH, 1, a);
    EXPECT_INT(4);
    a[0] = S("");
    s_func(HB_FN_LENGTH, 1, a);
    EXPECT_INT(0);
    a[0] = X("\xc3\xa9\x00", 3);
    s_func(HB_FN_LENGTH, 1, a);
    EXPECT_INT(3);
    a[0] = N();
    s_func(HB_FN_LENGTH, 1, a);
    EXPECT_NIL();
    a[0] = I(12);
    s_func(HB_FN_LENGTH, 1, a);
    EXPECT_ERR("42883");
    a[0] = S("a");
    a[1] = S("b");
    s_func(HB_FN_LENGTH, 2, a);
    EXPECT_ERR("42883");

    /* abs */
    a[0] = I(-5);
    s_func(HB_FN_ABS, 1, a);
    EXPECT_INT(5);
    a[0] = I(5);
    s_func(HB_FN_ABS, 1, a);
    EXPECT_INT(5);
    a[0] = I(INT64_MAX);
    s_func(HB_FN_ABS, 1, a);
    EXPECT_INT(INT64_MAX);
    a[0] = I(-INT64_MAX);
    s_func(HB_FN_ABS, 1, a);
    EXPECT_INT(INT64_MAX);
    a[0] = D(-2.5);
    s_func(HB_FN_ABS, 1, a);
    EXPECT_DBL(2.5);
    a[0] = N();
    s_func(HB_FN_ABS, 1, a);
    EXPECT_NIL();
    a[0] = S("-1");
    s_func(HB_FN_ABS, 1, a);
    EXPECT_ERR("42883");

    /* Unknown function, too many arguments: malformed. */
    a[0] = I(1);
    s_func(HB_FN_COUNT_, 1, a);
    EXPECT_ERR("XX000");
    hb_val_t four[4] = {S("a"), I(1), I(1), I(1)};
    s_func(HB_FN_SUBSTR, 4, four);
    EXPECT_ERR("XX000");
}
END_TEST

static void
s_substr(const char *s, int64_t from, int64_t count, bool has_count)
{
    hb_val_t a[3] = {S(s), I(from), I(count)};
    s_func(HB_FN_SUBSTR, has_count ? 3 : 2, a);
}

START_TEST(test_expr_substr)
{
    s_substr("hello", 2, 0, false);
    EXPECT_STR("ello");
    s_substr("hello", 1, 0, false);
    EXPECT_STR("hello");
    s_substr("hello", 5, 0, false);
    EXPECT_STR("o");
    s_substr("hello", 6, 0, false);
    EXPECT_STR("");
    s_substr("hello", 0, 0, false); /* from < 1 clips to the start */
    EXPECT_STR("hello");
    s_substr("hello", -3, 0, false);
    EXPECT_STR("hello");
    s_substr("hello", 2, 3, true);
    EXPECT_STR("ell");
    s_substr("hello", 3, 100, true);
    EXPECT_STR("llo");
    /* from < 1 counts the missing characters against count, as in
     * PostgreSQL: substr('hello', 0, 3) = 'he', substr('hello', -5, 3) = ''. */
    s_substr("hello", 0, 3, true);
    EXPECT_STR("he");
    s_substr("hello", -1, 3, true);
    EXPECT_STR("h");
    s_substr("hello", -5, 3, true);
    EXPECT_STR("");
    s_substr("hello", 1, 0, true); /* count 0 */
    EXPECT_STR("");
    s_substr("hello", 10, 2, true);
    EXPECT_STR("");
    s_substr("", 1, 1, true);
    EXPECT_STR("");
    s_substr("hello", 2, -1, true); /* negative count */
    EXPECT_ERR("22011");
    s_substr("hello", 100, -1, true);
    EXPECT_ERR("22011");
    /* Characters, not bytes. */
    s_substr("h\xc3\xa9llo", 2, 2, true);
    EXPECT_STR("\xc3\xa9l");
    s_substr("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 3, 0, false);
    EXPECT_STR("\xe8\xaa\x9e");
    /* Extremes of from and count do not overflow. */
    s_substr("hello", 2, INT64_MAX, true);
    EXPECT_STR("ello");
    s_substr("hello", INT64_MAX, INT64_MAX, true);
    EXPECT_STR("");
    s_substr("hello", -1, INT64_MAX, true);
    EXPECT_STR("hello");
    s_substr("hello", INT64_MIN, 0, false);
    EXPECT_STR("hello");
    /* NULL in any argument: NULL (even with a negative count). */
    hb_val_t a[3] = {N(), I(1), I(-1)};
    s_func(HB_FN_SUBSTR, 3, a);
    EXPECT_NIL();
    a[0] = S("x");
    a[1] = N();
    s_func(HB_FN_SUBSTR, 3, a);
    EXPECT_NIL();
    a[1] = I(1);
    a[2] = N();
    s_func(HB_FN_SUBSTR, 3, a);
    EXPECT_NIL();
    /* Wrong types or arity: 42883. */
    a[2] = I(1);
    s_func(HB_FN_SUBSTR, 1, a);
    EXPECT_ERR("42883");
    a[1] = S("1");
    s_func(HB_FN_SUBSTR, 2, a);
    EXPECT_ERR("42883");
    a[0] = I(5);
    a[1] = I(1);
    s_func(HB_FN_SUBSTR, 2, a);
    EXPECT_ERR("42883");
    a[0] = S("x");
    a[2] = D(1.0);
    s_func(HB_FN_SUBSTR, 3, a);
    EXPECT_ERR("42883");
}
END_TEST

/* ------------------------------------------------------------------ */
/* CAST and hb_val_coerce                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_expr_cast_int)
{
    s_cast(S("42"), HB_T_INT4, -1);
    EXPECT_INT(42);
    s_cast(S("-42"), HB_T_INT8, -1);
    EXPECT_INT(-42);
    s_cast(S("+7"), HB_T_INT2, -1);
    EXPECT_INT(7);
    s_cast(S("  42  "), HB_T_INT4, -1);
    EXPECT_INT(42);
    s_cast(S("9223372036854775807"), HB_T_INT8, -1);
    EXPECT_INT(INT64_MAX);
    s_cast(S("-9223372036854775808"), HB_T_INT8, -1);
    EXPECT_INT(INT64_MIN);
    const char *bad[] = {"", "4x2", "abc", "1.5", "0x10", "--1", "1 2", "12abc", "- 1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s_cast(S(bad[i]), HB_T_INT4, -1);
        s_expect_err((int)(3000 + i), "22P02");
    }
    s_cast(S("9223372036854775808"), HB_T_INT8, -1);
    EXPECT_ERR("22003");
    s_cast(S("-99999999999999999999"), HB_T_INT8, -1);
    EXPECT_ERR("22003");
    /* Range of smallint and integer. */
    s_cast(I(32767), HB_T_INT2, -1);
    EXPECT_INT(32767);
    s_cast(I(-32768), HB_T_INT2, -1);
    EXPECT_INT(-32768);
    s_cast(I(32768), HB_T_INT2, -1);
    EXPECT_ERR("22003");
    s_cast(I(-32769), HB_T_INT2, -1);
    EXPECT_ERR("22003");
    s_cast(S("40000"), HB_T_INT2, -1);
    EXPECT_ERR("22003");
    s_cast(I(INT32_MAX), HB_T_INT4, -1);
    EXPECT_INT(INT32_MAX);
    s_cast(I(INT32_MIN), HB_T_INT4, -1);
    EXPECT_INT(INT32_MIN);
    s_cast(I((int64_t)INT32_MAX + 1), HB_T_INT4, -1);
    EXPECT_ERR("22003");
    s_cast(S("3000000000"), HB_T_INT4, -1);
    EXPECT_ERR("22003");
    s_cast(I(INT64_MIN), HB_T_INT8, -1);
    EXPECT_INT(INT64_MIN);
    /* Doubles round half to even, and must fit. */
    s_cast(D(2.5), HB_T_INT4, -1);
    EXPECT_INT(2);
    s_cast(D(3.5), HB_T_INT4, -1);
    EXPECT_INT(4);
    s_cast(D(-2.5), HB_T_INT8, -1);
    EXPECT_INT(-2);
    s_cast(D(2.4999), HB_T_INT8, -1);
    EXPECT_INT(2);
    s_cast(D(70000.0), HB_T_INT2, -1);
    EXPECT_ERR("22003");
    s_cast(D(1e19), HB_T_INT8, -1);
    EXPECT_ERR("22003");
    s_cast(D(9223372036854775808.0), HB_T_INT8, -1);
    EXPECT_ERR("22003");
    s_cast(D(-9223372036854775808.0), HB_T_INT8, -1);
    EXPECT_INT(INT64_MIN);
    s_cast(D(NAN), HB_T_INT8, -1);
    EXPECT_ERR("22003");
    s_cast(D(INFINITY), HB_T_INT4, -1);
    EXPECT_ERR("22003");
    s_cast(B(true), HB_T_INT4, -1);
    EXPECT_INT(1);
    s_cast(X("1", 1), HB_T_INT4, -1);
    EXPECT_ERR("42804");
    /* Floats. */
    s_cast(S("1.5"), HB_T_FLOAT8, -1);
    EXPECT_DBL(1.5);
    s_cast(S(" -2e3 "), HB_T_FLOAT8, -1);
    EXPECT_DBL(-2000.0);
    s_cast(I(3), HB_T_FLOAT8, -1);
    EXPECT_DBL(3.0);
    s_cast(D(0.1), HB_T_FLOAT4, -1);
    EXPECT_DBL((double)0.1f);
    s_cast(S("x"), HB_T_FLOAT8, -1);
    EXPECT_ERR("22P02");
    s_cast(S(""), HB_T_FLOAT4, -1);
    EXPECT_ERR("22P02");
    s_cast(B(true), HB_T_FLOAT8, -1);
    EXPECT_ERR("42804");
}
END_TEST

START_TEST(test_expr_cast_bool)
{
    const char *yes[] = {"t",  "true", "TRUE", "True",   "yes",
                         "on", "1",    "y",    " true ", "\ton\n"};
    const char *no[] = {"f", "false", "FALSE", "no", "off", "0", "n", "  f"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        s_cast(S(yes[i]), HB_T_BOOL, -1);
        s_expect_bool((int)(4000 + i), true);
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        s_cast(S(no[i]), HB_T_BOOL, -1);
        s_expect_bool((int)(4100 + i), false);
    }
    const char *bad[] = {"", "maybe", "tru e", "2", "yess", "t t"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s_cast(S(bad[i]), HB_T_BOOL, -1);
        s_expect_err((int)(4200 + i), "22P02");
    }
    s_cast(B(false), HB_T_BOOL, -1);
    EXPECT_BOOL(false);
    s_cast(I(1), HB_T_BOOL, -1);
    EXPECT_ERR("42804");
    s_cast(D(1.0), HB_T_BOOL, -1);
    EXPECT_ERR("42804");
}
END_TEST

START_TEST(test_expr_cast_text)
{
    /* Storing (hb_val_coerce, assignment): varchar(n) takes at most n
     * characters, 22001 beyond, except that blanks beyond n are cut. */
    struct {
        const char *in;
        hb_type_t t;
        int32_t mod;
        const char *want; /* NULL: 22001 */
    } st[] = {
        {"abc", HB_T_VARCHAR, 3, "abc"},
        {"ab", HB_T_VARCHAR, 3, "ab"}, /* no padding */
        {"abcd", HB_T_VARCHAR, 3, NULL},
        {"abc   ", HB_T_VARCHAR, 3, "abc"},
        {"ab  x", HB_T_VARCHAR, 3, NULL},
        {"a  ", HB_T_VARCHAR, 5, "a  "}, /* within the limit blanks stay */
        {"h\xc3\xa9\xc3\xa9", HB_T_VARCHAR, 3,
         "h\xc3\xa9\xc3\xa9"}, /* 3 chars, 5 bytes */
        {"h\xc3\xa9\xc3\xa9 ", HB_T_VARCHAR, 3, "h\xc3\xa9\xc3\xa9"},
        {"h\xc3\xa9\xc3\xa9x", HB_T_VARCHAR, 3, NULL},
        {"anything at all", HB_T_VARCHAR, 0, "anything at all"}, /* unbounded */
        {"anything at all", HB_T_TEXT, 3, "anything at all"},    /* text: no limit */
        /* char(n): blank-padded to exactly n characters. */
        {"ab", HB_T_CHAR, 5, "ab   "},
        {"", HB_T_CHAR, 2, "  "},
        {"abcde", HB_T_CHAR, 5, "abcde"},
        {"abcdef", HB_T_CHAR, 5, NULL},
        {"abcde   ", HB_T_CHAR, 5, "abcde"},
        {"\xc3\xa9", HB_T_CHAR, 3, "\xc3\xa9  "}, /* pads by characters */
    };
    for (size_t i = 0; i < sizeof st / sizeof *st; i++) {
        hb_val_t in = S(st[i].in), out;
        hb_sqlerr_t err = {0};
        hb_rc_t rc = hb_val_coerce(&in, st[i].t, st[i].mod, s_alloc, NULL, &out, &err);
        if (!st[i].want) {
            ck_assert_msg(rc == HB_INVALID && strcmp(err.sqlstate, "22001") == 0,
                          "store '%s' as %s(%d): rc %d %s", st[i].in,
                          hb_type_name(st[i].t), st[i].mod, rc, err.sqlstate);
            continue;
        }
        ck_assert_msg(rc == HB_OK, "store '%s': %s", st[i].in, err.sqlstate);
        ck_assert_msg(out.type == HB_VAL_STR && out.u.s.len == strlen(st[i].want) &&
                          memcmp(out.u.s.ptr, st[i].want, out.u.s.len) == 0,
                      "store '%s' as %s(%d): got '%.*s'", st[i].in, hb_type_name(st[i].t),
                      st[i].mod, (int)out.u.s.len, (const char *)out.u.s.ptr);
    }
    /* An explicit CAST cuts to the length instead, as in PostgreSQL. */
    s_cast(S("abcd"), HB_T_VARCHAR, 3);
    EXPECT_STR("abc");
    s_cast(S("h\xc3\xa9\xc3\xa9x"), HB_T_VARCHAR, 3);
    EXPECT_STR("h\xc3\xa9\xc3\xa9");
    s_cast(S("ab"), HB_T_VARCHAR, 3);
    EXPECT_STR("ab");
    s_cast(S("abcdef"), HB_T_CHAR, 5);
    EXPECT_STR("abcde");
    s_cast(S("ab"), HB_T_CHAR, 5);
    EXPECT_STR("ab   ");
    s_cast(S("anything"), HB_T_VARCHAR, 0);
    EXPECT_STR("anything");
    /* Numbers to text use the output format. */
    s_cast(I(42), HB_T_TEXT, -1);
    EXPECT_STR("42");
    s_cast(I(-7), HB_T_VARCHAR, 10);
    EXPECT_STR("-7");
    s_cast(I(INT64_MIN), HB_T_TEXT, -1);
    EXPECT_STR("-9223372036854775808");
    hb_val_t big = I(12345), o;
    hb_sqlerr_t e = {0};
    ck_assert_int_eq(hb_val_coerce(&big, HB_T_VARCHAR, 3, s_alloc, NULL, &o, &e),
                     HB_INVALID);
    ck_assert_str_eq(e.sqlstate, "22001");
    s_cast(I(7), HB_T_CHAR, 3);
    EXPECT_STR("7  ");
    s_cast(D(0.1), HB_T_TEXT, -1);
    EXPECT_STR("0.1");
    s_cast(D(1e20), HB_T_TEXT, -1);
    EXPECT_STR("1e+20");
    s_cast(X("a", 1), HB_T_TEXT, -1);
    EXPECT_ERR("42804");
    /* bytea input. */
    s_cast(S("\\x4142ff"), HB_T_BYTEA, -1);
    EXPECT_BIN("AB\xff", 3);
    s_cast(S("\\x4A4b"), HB_T_BYTEA, -1);
    EXPECT_BIN("JK", 2);
    s_cast(S("\\x"), HB_T_BYTEA, -1);
    EXPECT_BIN("", 0);
    s_cast(S("\\x414"), HB_T_BYTEA, -1);
    EXPECT_ERR("22023");
    s_cast(S("\\x4g"), HB_T_BYTEA, -1);
    EXPECT_ERR("22023");
    s_cast(S("raw"), HB_T_BYTEA, -1);
    EXPECT_BIN("raw", 3);
    s_cast(I(1), HB_T_BYTEA, -1);
    EXPECT_ERR("42804");
    /* NULL stays NULL whatever the type; UNKNOWN keeps the value. */
    for (int t = HB_T_UNKNOWN; t < HB_T_COUNT_; t++) {
        s_cast(N(), (hb_type_t)t, 3);
        s_expect_nil(5000 + t);
    }
    s_cast(S("x"), HB_T_UNKNOWN, -1);
    EXPECT_STR("x");
    /* A type number past the table, or a typmod past int32: malformed. */
    s_cast(I(1), HB_T_COUNT_, -1);
    EXPECT_ERR("XX000");
    s_begin();
    s_op(HB_EX_CAST, 4);
    s_const(I(1));
    s_uint(HB_T_TEXT);
    s_int((int64_t)INT32_MAX + 1);
    EXPECT_ERR("XX000");
    s_begin();
    s_op(HB_EX_CAST, 3);
    s_const(I(1));
    s_uint(HB_T_TEXT);
    EXPECT_ERR("XX000");

    /* hb_val_coerce directly, as INSERT uses it. */
    hb_val_t v = S("12"), out;
    hb_sqlerr_t err = {0};
    ck_assert_int_eq(hb_val_coerce(&v, HB_T_INT2, 0, s_alloc, NULL, &out, &err), HB_OK);
    ck_assert(out.type == HB_VAL_INT && out.u.i == 12);
    v = I(70000);
    ck_assert_int_eq(hb_val_coerce(&v, HB_T_INT2, 0, s_alloc, NULL, &out, &err),
                     HB_INVALID);
    ck_assert_str_eq(err.sqlstate, "22003");
    v = S("toolong");
    ck_assert_int_eq(hb_val_coerce(&v, HB_T_VARCHAR, 4, s_alloc, NULL, &out, &err),
                     HB_INVALID);
    ck_assert_str_eq(err.sqlstate, "22001");
    ck_assert_str_eq(hb_type_name(HB_T_VARCHAR), "character varying");
    ck_assert_str_eq(hb_type_name(HB_T_INT2), "smallint");
    ck_assert_str_eq(hb_type_name(HB_T_COUNT_), "unknown");
}
END_TEST

/* Was a bug (hb_expr.c, hb_val_coerce, case HB_T_TEXT): a boolean cast to
 * text uses the output form "t"/"f"; PostgreSQL's bool->text cast
 * (booltext) gives 'true'/'false': SELECT true::text is 'true'. */
START_TEST(test_expr_cast_bool_to_text)
{
    s_cast(B(true), HB_T_TEXT, -1);
    EXPECT_STR("true");
    s_cast(B(false), HB_T_VARCHAR, 10);
    EXPECT_STR("false");
}
END_TEST

/* Was a bug (hb_expr.c, s_eval case HB_EX_CAST: only a string operand is
 * cut to the length of an explicit varchar(n)/char(n) cast; any other
 * operand goes to hb_val_coerce and fails). PostgreSQL cuts after the
 * conversion to text: SELECT 12345::varchar(3) is '123'. */
START_TEST(test_expr_cast_cut_nonstring)
{
    s_cast(I(12345), HB_T_VARCHAR, 3);
    EXPECT_STR("123");
    s_cast(D(0.125), HB_T_CHAR, 3);
    EXPECT_STR("0.1");
}
END_TEST

/* Was a bug (hb_expr.c, hb_val_coerce, the HB_T_INT* and HB_T_FLOAT*
 * text branches: trailing blanks are skipped before the `end == buf`
 * no-digits check, so a blank string passes it). CAST(' ' AS integer) is
 * 0 and CAST('  ' AS double precision) is 0; PostgreSQL says 22P02
 * invalid input syntax. An INSERT of ' ' into an integer column stores 0. */
START_TEST(test_expr_cast_blank_text)
{
    s_cast(S(" "), HB_T_INT4, -1);
    EXPECT_ERR("22P02");
    s_cast(S("   "), HB_T_INT8, -1);
    EXPECT_ERR("22P02");
    s_cast(S("  "), HB_T_FLOAT8, -1);
    EXPECT_ERR("22P02");
}
END_TEST

/* Was a bug, a crash (hb_expr.c, s_round_div: the divisor 10^k is built
 * in an __int128 and k is not bounded; from s_dec_parse k can reach about
 * 1000, 10^k wraps to 0 for k >= 128 and n / d raises SIGFPE). Any numeric
 * input with an exponent below about -145 kills the process, in sqlfront
 * or in every storage replica: CAST('1e-200' AS numeric), and CAST of any
 * double below ~1e-145 (its text form is parsed the same way). Expected:
 * 0 at the numeric's scale, as PostgreSQL rounds such a value. */
START_TEST(test_expr_numeric_tiny_exponent)
{
    s_cast(S("1e-200"), HB_T_NUMERIC, 0);
    hb_val_t v = s_ok(__LINE__);
    ck_assert_int_eq(v.type, HB_VAL_DEC);
    ck_assert(v.u.dec.m == 0);
    s_cast(D(1e-300), HB_T_NUMERIC, 0);
    v = s_ok(__LINE__);
    ck_assert_int_eq(v.type, HB_VAL_DEC);
    ck_assert(v.u.dec.m == 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Formatting                                                           */
/* ------------------------------------------------------------------ */

static void
s_expect_fmt(int line, hb_val_t v, const char *want)
{
    char out[128];
    size_t n = hb_val_format(&v, out, sizeof out);
    ck_assert_msg(strcmp(out, want) == 0 && n == strlen(want),
                  "line %d: formatted \"%s\" (%zu), want \"%s\"", line, out, n, want);
}

#define EXPECT_FMT(v, w) s_expect_fmt(__LINE__, (v), (w))

START_TEST(test_expr_format)
{
    EXPECT_FMT(I(0), "0");
    EXPECT_FMT(I(-1), "-1");
    EXPECT_FMT(I(INT64_MAX), "9223372036854775807");
    EXPECT_FMT(I(INT64_MIN), "-9223372036854775808");
    EXPECT_FMT(B(true), "t");
    EXPECT_FMT(B(false), "f");
    EXPECT_FMT(N(), "");
    EXPECT_FMT(S("h\xc3\xa9llo"), "h\xc3\xa9llo");
    /* float8 as PostgreSQL prints it: shortest round-trip digits,
     * exponent form below 1e-4 and from 1e15. */
    EXPECT_FMT(D(0.1), "0.1");
    EXPECT_FMT(D(1.0 / 3), "0.3333333333333333");
    EXPECT_FMT(D(2.0 / 3), "0.6666666666666666");
    EXPECT_FMT(D(0.1 + 0.2), "0.30000000000000004");
    EXPECT_FMT(D(1e20), "1e+20");
    EXPECT_FMT(D(110), "110");
    EXPECT_FMT(D(1e-05), "1e-05");
    EXPECT_FMT(D(1.5e-05), "1.5e-05");
    EXPECT_FMT(D(0.0001), "0.0001");
    EXPECT_FMT(D(0.00012), "0.00012");
    EXPECT_FMT(D(1.0), "1");
    EXPECT_FMT(D(0.0), "0");
    EXPECT_FMT(D(-0.0), "-0");
    EXPECT_FMT(D(-2.5), "-2.5");
    EXPECT_FMT(D(100), "100");
    EXPECT_FMT(D(123456789012345.0), "123456789012345");
    EXPECT_FMT(D(1e14), "100000000000000");
    EXPECT_FMT(D(1e15), "1e+15");
    EXPECT_FMT(D(1e100), "1e+100");
    EXPECT_FMT(D(DBL_MAX), "1.7976931348623157e+308");
    EXPECT_FMT(D(5e-324), "5e-324");
    EXPECT_FMT(D(2.2250738585072014e-308), "2.2250738585072014e-308");
    EXPECT_FMT(D(NAN), "NaN");
    EXPECT_FMT(D(INFINITY), "Infinity");
    EXPECT_FMT(D(-INFINITY), "-Infinity");
    /* bytea: \x and lower-case hex. */
    EXPECT_FMT(X("\x00\xff\x10\xab", 4), "\\x00ff10ab");
    EXPECT_FMT(X("", 0), "\\x");

    /* Truncation to the buffer, always NUL-terminated. */
    char small[4];
    hb_val_t v = S("hello");
    ck_assert_uint_eq(hb_val_format(&v, small, sizeof small), 3);
    ck_assert_str_eq(small, "hel");
    v = I(123456);
    ck_assert_uint_eq(hb_val_format(&v, small, sizeof small), 3);
    ck_assert_str_eq(small, "123");
    v = X("\x01\x02\x03", 3);
    ck_assert_uint_le(hb_val_format(&v, small, sizeof small), 3);
    ck_assert_uint_lt(strlen(small), sizeof small);
    ck_assert_uint_eq(hb_val_format(&v, small, 0), 0);

    /* Every finite double reads back as itself (seeded). */
    uint64_t st = s_seed ^ 0x5eed;
    char buf[64];
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = s_rand(&st);
        double d;
        if (i % 2) {
            memcpy(&d, &bits, sizeof d);
        } else { /* ordinary magnitudes, with few digits */
            d = (double)((int64_t)(bits % 2000001) - 1000000) /
                pow(10, (double)(s_rand(&st) % 12));
        }
        if (!isfinite(d))
            continue;
        v = D(d);
        hb_val_format(&v, buf, sizeof buf);
        S_REQUIRE(strtod(buf, NULL) == d, "%.17g formatted as %s (seed %" PRIu64 ")", d,
                  buf, s_seed);
    }
}
END_TEST

/* Was a bug (hb_expr.c, hb_val_format, HB_VAL_DOUBLE: the exponent form
 * is printed with "%.*g" and the shortest precision, and %g itself goes
 * back to positional notation when the exponent is below that precision).
 * PostgreSQL (src/common/d2s.c) prints positional only for exponents
 * -4..14: SELECT 1234567890123456::float8 is 1.234567890123456e+15. */
START_TEST(test_expr_format_float8_e15)
{
    EXPECT_FMT(D(1234567890123456.0), "1.234567890123456e+15");
    EXPECT_FMT(D(12345678901234568.0), "1.2345678901234568e+16");
    EXPECT_FMT(D(1e15 + 1), "1.000000000000001e+15");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Ordering                                                             */
/* ------------------------------------------------------------------ */

static int
s_sign(int v)
{
    return (v > 0) - (v < 0);
}

START_TEST(test_expr_val_cmp)
{
    /* Ascending: every value sorts before the ones after it. */
    const hb_val_t asc[] = {
        D(-INFINITY), D(-1e300), I(INT64_MIN), I(-1),  D(-0.5),
        I(0),         D(0.5),    I(1),         D(1.5), I(2),
        I(INT64_MAX), D(1e300),  D(INFINITY),  D(NAN),
    };
    size_t n = sizeof asc / sizeof *asc;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(hb_val_cmp(&asc[i], &asc[i]), 0);
        for (size_t j = i + 1; j < n; j++) {
            ck_assert_msg(hb_val_cmp(&asc[i], &asc[j]) < 0, "asc[%zu] !< asc[%zu]", i, j);
            ck_assert_msg(hb_val_cmp(&asc[j], &asc[i]) > 0, "asc[%zu] !> asc[%zu]", j, i);
        }
    }
    hb_val_t a = I(3), b = D(3.0);
    ck_assert_int_eq(hb_val_cmp(&a, &b), 0);
    const hb_val_t sasc[] = {S(""),   S("A"), S("Z"),       S("a"), hb_val_str("a\0", 2),
                             S("ab"), S("b"), S("\xc3\xa9")};
    for (size_t i = 0; i + 1 < sizeof sasc / sizeof *sasc; i++)
        ck_assert_msg(hb_val_cmp(&sasc[i], &sasc[i + 1]) < 0, "sasc[%zu]", i);
    const hb_val_t basc[] = {X("", 0), X("\x00", 1), X("\x00\x00", 2), X("\x01", 1),
                             X("\xff", 1)};
    for (size_t i = 0; i + 1 < sizeof basc / sizeof *basc; i++)
        ck_assert_msg(hb_val_cmp(&basc[i], &basc[i + 1]) < 0, "basc[%zu]", i);
    a = B(false);
    b = B(true);
    ck_assert_int_lt(hb_val_cmp(&a, &b), 0);
    ck_assert_int_gt(hb_val_cmp(&b, &a), 0);

    /* Random pairs of mixed types: antisymmetric and transitive on
     * triples, so a sort on it is well defined (seeded). */
    uint64_t st = s_seed ^ 0xc0ffee;
    const char *words[] = {"", "a", "ab", "b", "\xc3\xa9"};
    hb_val_t pool[64];
    for (size_t i = 0; i < 64; i++) {
        uint64_t r = s_rand(&st);
        switch (r % 4) { /* no booleans: see test_expr_val_cmp_bool_numbers */
        case 0:
            pool[i] = I((int64_t)(s_rand(&st) % 7) - 3);
            break;
        case 1:
            pool[i] = D(((double)(s_rand(&st) % 13) - 6) / 2);
            break;
        case 2:
            pool[i] = S(words[s_rand(&st) % 5]);
            break;
        default: {
            const char *w = words[s_rand(&st) % 5];
            pool[i] = X(w, (uint32_t)strlen(w));
            break;
        }
        }
    }
    for (size_t i = 0; i < 64; i++) {
        for (size_t j = 0; j < 64; j++) {
            int ij = s_sign(hb_val_cmp(&pool[i], &pool[j]));
            S_REQUIRE(ij == -s_sign(hb_val_cmp(&pool[j], &pool[i])),
                      "not antisymmetric (seed %" PRIu64 ")", s_seed);
            for (size_t k = 0; k < 64; k += 7) {
                int jk = s_sign(hb_val_cmp(&pool[j], &pool[k]));
                if (ij <= 0 && jk <= 0)
                    S_REQUIRE(hb_val_cmp(&pool[i], &pool[k]) <= 0,
                              "not transitive (seed %" PRIu64 ")", s_seed);
            }
        }
    }
}
END_TEST

/* Was a bug (hb_expr.c, hb_val_cmp: numbers compare by value across int
 * and double, every other pair by hb_val_type_t number, and BOOL (2) sits
 * between INT (1) and DOUBLE (3)). The order is then not transitive:
 * 5 < false (by type), false < 0.5 (by type), 0.5 < 5 (by value), so a
 * sort over a mix of booleans and numbers has no consistent answer. */
START_TEST(test_expr_val_cmp_bool_numbers)
{
    hb_val_t five = I(5), f = B(false), half = D(0.5);
    int ab = s_sign(hb_val_cmp(&five, &f)), bc = s_sign(hb_val_cmp(&f, &half)),
        ca = s_sign(hb_val_cmp(&half, &five));
    ck_assert_msg(!(ab == bc && bc == ca),
                  "cycle: 5 ? false %d, false ? 0.5 %d, 0.5 ? 5 %d", ab, bc, ca);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Rows                                                                 */
/* ------------------------------------------------------------------ */

START_TEST(test_expr_row)
{
    const hb_val_t cols[] = {I(0),
                             I(-1),
                             I(INT64_MIN),
                             I(INT64_MAX),
                             D(2.5),
                             D(-0.0),
                             hb_val_str("a\0b", 3),
                             S(""),
                             X("\x00\xff", 2),
                             X("", 0),
                             B(true),
                             B(false),
                             N()};
    uint32_t n = sizeof cols / sizeof *cols;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    hb_row_pack(&pk, cols, n);
    hb_val_t got[16];
    uint32_t m = 99;
    ck_assert_int_eq(hb_row_decode((const uint8_t *)sb.data, sb.size, got, 16, &m),
                     HB_OK);
    ck_assert_uint_eq(m, n);
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_int_eq(got[i].type, cols[i].type);
        switch (cols[i].type) {
        case HB_VAL_INT:
            ck_assert(got[i].u.i == cols[i].u.i);
            break;
        case HB_VAL_DOUBLE:
            ck_assert(memcmp(&got[i].u.d, &cols[i].u.d, sizeof(double)) == 0);
            break;
        case HB_VAL_BOOL:
            ck_assert(got[i].u.b == cols[i].u.b);
            break;
        case HB_VAL_STR:
        case HB_VAL_BIN:
            ck_assert_uint_eq(got[i].u.s.len, cols[i].u.s.len);
            ck_assert(cols[i].u.s.len == 0 ||
                      memcmp(got[i].u.s.ptr, cols[i].u.s.ptr, cols[i].u.s.len) == 0);
            /* borrowed from the row bytes */
            if (cols[i].u.s.len)
                ck_assert(got[i].u.s.ptr >= (const uint8_t *)sb.data &&
                          got[i].u.s.ptr < (const uint8_t *)sb.data + sb.size);
            break;
        default:
            break;
        }
    }
    /* Exactly the capacity is fine, one less is corrupt. */
    ck_assert_int_eq(hb_row_decode((const uint8_t *)sb.data, sb.size, got, n, &m), HB_OK);
    ck_assert_int_eq(hb_row_decode((const uint8_t *)sb.data, sb.size, got, n - 1, &m),
                     HB_CORRUPT);
    /* Every strict prefix is corrupt. */
    for (size_t len = 0; len < sb.size; len++)
        ck_assert_msg(hb_row_decode((const uint8_t *)sb.data, len, got, 16, &m) ==
                          HB_CORRUPT,
                      "prefix of %zu bytes", len);
    /* An empty row. */
    sb.size = 0;
    hb_row_pack(&pk, cols, 0);
    ck_assert_int_eq(hb_row_decode((const uint8_t *)sb.data, sb.size, got, 16, &m),
                     HB_OK);
    ck_assert_uint_eq(m, 0);
    msgpack_sbuffer_destroy(&sb);

    /* Corrupt encodings. */
    struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\x05", 1},                                      /* not an array */
        {"\x80", 1},                                      /* a map */
        {"\x91\x91\x01", 3},                              /* a nested array */
        {"\x91\x80", 2},                                  /* a nested map */
        {"\x91\xc1", 2},                                  /* reserved byte */
        {"\x91\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 10}, /* uint64 > INT64_MAX */
        {"\x91\xd4\x01\x02", 4},                          /* ext */
        {"\x9f\x01", 2},                                  /* 15 declared, 1 present */
        {"\xdd\xff\xff\xff\xff\x01", 6},                  /* 4G declared */
        {"\x92\xa5"
         "abc",
         5},                     /* string past the end */
        {"\x91\xcb\x00\x00", 4}, /* truncated double */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(hb_row_decode((const uint8_t *)bad[i].bytes, bad[i].len, got, 16,
                                    &m) == HB_CORRUPT,
                      "bad row %zu decoded", i);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Malformed bytecode and depth                                         */
/* ------------------------------------------------------------------ */

START_TEST(test_expr_malformed)
{
    hb_val_t v;
    struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"", 0},                                 /* nothing */
        {"\x01", 1},                             /* not an array */
        {"\x90", 1},                             /* empty node */
        {"\x91\x00", 2},                         /* CONST without a value */
        {"\x92\x00", 2},                         /* CONST, value missing */
        {"\x93\x00\x01\x02", 4},                 /* CONST with two values */
        {"\x92\x00\x91\x01", 4},                 /* CONST of an array */
        {"\x92\x00\x80", 3},                     /* CONST of a map */
        {"\x92\x01\xff", 3},                     /* COL -1 */
        {"\x92\x01\xa1x", 4},                    /* COL "x" */
        {"\x92\x63\x01", 3},                     /* op 99 */
        {"\x92\xa1x\x01", 4},                    /* op "x" */
        {"\x92\xff\x01", 3},                     /* op -1 */
        {"\x92\x02\x92\x00\x01", 5},             /* ADD with one operand */
        {"\x93\x11\x92\x00\xc3\x92\x00\xc3", 8}, /* NOT with two */
        {"\x92\x00\x01\x00", 4},                 /* trailing byte */
        {"\x92\x00\x01\x92\x00\x01", 6},         /* two expressions */
        {"\xdd\xff\xff\xff\xff", 5},             /* 4G fields declared */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hb_rc_t rc = s_eval_bytes((const uint8_t *)bad[i].bytes, bad[i].len, &v);
        ck_assert_msg(rc == HB_INVALID, "bad %zu: rc %d", i, rc);
        ck_assert_msg(strcmp(s_err.sqlstate, "XX000") == 0, "bad %zu: %s", i,
                      s_err.sqlstate);
    }
    /* The good one for contrast: [CONST, 1] */
    ck_assert_int_eq(s_eval_bytes((const uint8_t *)"\x92\x00\x01", 3, &v), HB_OK);
    ck_assert(v.type == HB_VAL_INT && v.u.i == 1);
    /* hb_expr_test reports the same errors. */
    bool pass = true;
    hb_expr_env_t env = {.row = s_row, .ncols = s_ncols, .alloc = s_alloc, .err = &s_err};
    ck_assert_int_eq(hb_expr_test((const uint8_t *)"\x92\x63\x01", 3, &env, &pass),
                     HB_INVALID);
    ck_assert(!pass);
    ck_assert_str_eq(s_err.sqlstate, "XX000");
}
END_TEST

/* n nested NOTs around TRUE */
static void
s_nots(uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        s_op(HB_EX_NOT, 2);
    s_const(B(true));
}

START_TEST(test_expr_deep)
{
    /* Nesting up to the limit (30 levels; the planner makes at most 28)
     * evaluates; deeper is an error, not a crash. */
    for (uint32_t n = 0; n <= 29; n++) {
        s_begin();
        s_nots(n);
        s_expect_bool((int)(6000 + n), n % 2 == 0);
    }
    const uint32_t deep[] = {31, 32, 40, 65, 100, 200, 1000, 100000};
    for (size_t i = 0; i < sizeof deep / sizeof *deep; i++) {
        s_begin();
        s_nots(deep[i]);
        hb_val_t v;
        ck_assert_int_eq(s_eval(&v), HB_INVALID);
        ck_assert_msg(strcmp(s_err.sqlstate, "54001") == 0 ||
                          strcmp(s_err.sqlstate, "XX000") == 0,
                      "%u NOTs: %s", deep[i], s_err.sqlstate);
    }
    /* Left-deep arithmetic, deep CASE and function nesting too. */
    s_begin();
    for (int i = 0; i < 200; i++) {
        s_op(HB_EX_ADD, 3);
    }
    s_const(I(0));
    for (int i = 0; i < 200; i++)
        s_const(I(1));
    hb_val_t v;
    ck_assert_int_eq(s_eval(&v), HB_INVALID);
    ck_assert(strcmp(s_err.sqlstate, "54001") == 0 ||
              strcmp(s_err.sqlstate, "XX000") == 0);
    s_begin();
    for (int i = 0; i < 200; i++) {
        s_op(HB_EX_FUNC, 4);
        s_uint(HB_FN_ABS);
        s_uint(1);
    }
    s_const(I(-1));
    ck_assert_int_eq(s_eval(&v), HB_INVALID);
    ck_assert(strcmp(s_err.sqlstate, "54001") == 0 ||
              strcmp(s_err.sqlstate, "XX000") == 0);
    /* Deep nesting inside an untaken arm (skipped, not evaluated). */
    s_begin();
    s_op(HB_EX_AND, 3);
    s_const(B(false));
    s_nots(200);
    ck_assert_int_eq(s_eval(&v), HB_INVALID);
    ck_assert(strcmp(s_err.sqlstate, "54001") == 0 ||
              strcmp(s_err.sqlstate, "XX000") == 0);
}
END_TEST

/* Was a bug (hb_expr.c: operands that are not needed are skipped with
 * hb_mp_skip, which stops at HB_MP_MAX_DEPTH = 32 containers, while
 * evaluation allows S_MAX_DEPTH = 64 and sqlfront plans up to 48 levels).
 * A valid operand nested 33..64 deep evaluates fine when it is needed but
 * turns the whole expression into XX000 "malformed expression bytecode"
 * when a short-circuit skips it: c0 = 0 AND NOT^40(c4) should be false. */
START_TEST(test_expr_skip_deep_operand)
{
    /* An operand that is skipped (short-circuit AND, the ELSE of a taken
     * CASE arm) is skipped correctly at any depth the evaluator accepts. */
    s_begin();
    s_op(HB_EX_AND, 3);
    s_nots(25);
    s_const(B(false));
    EXPECT_BOOL(false);
    s_begin();
    s_op(HB_EX_AND, 3);
    s_op(HB_EX_EQ, 3);
    s_col(0);
    s_const(I(0));
    s_nots(25);
    EXPECT_BOOL(false);
    s_begin();
    s_op(HB_EX_CASE, 5);
    s_uint(1);
    s_const(B(true));
    s_const(I(1));
    s_nots(25);
    EXPECT_INT(1);
    /* Deeper than that is bytecode no plan contains: an error, not a
     * wrong answer. */
    s_begin();
    s_op(HB_EX_AND, 3);
    s_op(HB_EX_EQ, 3);
    s_col(0);
    s_const(I(0));
    s_nots(40);
    hb_val_t v;
    ck_assert_int_eq(s_eval(&v), HB_INVALID);
    ck_assert(strcmp(s_err.sqlstate, "54001") == 0 ||
              strcmp(s_err.sqlstate, "XX000") == 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Fuzz                                                                 */
/* ------------------------------------------------------------------ */

/* Appends a random well-formed expression, at most depth deep, using at
 * most *budget nodes. */
static void
s_gen(msgpack_packer *pk, uint64_t *st, int depth, int *budget)
{
    static const char *const words[] = {"",
                                        "a",
                                        "abc",
                                        "A%",
                                        "_b",
                                        "h\xc3\xa9",
                                        "42",
                                        " 7 ",
                                        "true",
                                        "\\x41",
                                        "%",
                                        "x\\%",
                                        "-1.25",
                                        "2.5e-3",
                                        "1e5",
                                        "2024-02-29",
                                        "2001-01-01 12:30:00.5",
                                        "99999999999999999999"};
    uint64_t r = s_rand(st);
    (*budget)--;
    if (depth <= 0 || *budget <= 0 || r % 4 == 0) {
        if (r % 3 == 0) {
            hb_expr_pack_col(pk, (uint32_t)(s_rand(st) % 7));
            return;
        }
        hb_val_t v;
        switch (s_rand(st) % 9) {
        case 8: {
            static const int64_t dm[] = {0,     1,      -1,        5,
                                         12345, -99999, INT64_MAX, -INT64_MAX};
            v = hb_val_dec(dm[s_rand(st) % 8],
                           (int32_t)(s_rand(st) % (HB_DEC_MAX_SCALE + 1)));
            break;
        }
        case 0:
            v = N();
            break;
        case 1: {
            static const int64_t edge[] = {
                0, 1, -1, 2, 3, 10, INT64_MAX, INT64_MIN, 32767, -32768, INT32_MAX, 100};
            v = I(edge[s_rand(st) % 12]);
            break;
        }
        case 2:
            v = I((int64_t)(s_rand(st) % 21) - 10);
            break;
        case 3: {
            static const double dd[] = {0.0, -0.0, 0.5, 2.5, -1.5, 1e308, NAN, INFINITY};
            v = D(dd[s_rand(st) % 8]);
            break;
        }
        case 4:
            v = B(s_rand(st) & 1);
            break;
        case 5:
            v = X("\x00\x41\xff", (uint32_t)(s_rand(st) % 4));
            break;
        default:
            v = S(words[s_rand(st) % (sizeof words / sizeof *words)]);
        }
        hb_expr_pack_const(pk, &v);
        return;
    }
    /* The opcodes this file knows (others may be appended later). */
    uint32_t op = HB_EX_ADD + (uint32_t)(s_rand(st) % (HB_EX_NOW - HB_EX_ADD + 1));
    switch (op) {
    case HB_EX_NOW:
        hb_expr_pack_op(pk, HB_EX_NOW, 1);
        return;
    case HB_EX_NOT:
    case HB_EX_NEG:
    case HB_EX_ISNULL:
    case HB_EX_NOTNULL:
        hb_expr_pack_op(pk, (hb_ex_op_t)op, 2);
        s_gen(pk, st, depth - 1, budget);
        return;
    case HB_EX_IN: {
        uint32_t k = (uint32_t)(s_rand(st) % 4);
        hb_expr_pack_op(pk, HB_EX_IN, 3 + k);
        s_gen(pk, st, depth - 1, budget);
        msgpack_pack_uint32(pk, k);
        for (uint32_t i = 0; i < k; i++)
            s_gen(pk, st, depth - 1, budget);
        return;
    }
    case HB_EX_CASE: {
        uint32_t k = (uint32_t)(s_rand(st) % 3);
        hb_expr_pack_op(pk, HB_EX_CASE, 3 + 2 * k);
        msgpack_pack_uint32(pk, k);
        for (uint32_t i = 0; i < 2 * k + 1; i++)
            s_gen(pk, st, depth - 1, budget);
        return;
    }
    case HB_EX_COALESCE: {
        uint32_t k = (uint32_t)(s_rand(st) % 4);
        hb_expr_pack_op(pk, HB_EX_COALESCE, 2 + k);
        msgpack_pack_uint32(pk, k);
        for (uint32_t i = 0; i < k; i++)
            s_gen(pk, st, depth - 1, budget);
        return;
    }
    case HB_EX_CAST: {
        hb_expr_pack_op(pk, HB_EX_CAST, 4);
        s_gen(pk, st, depth - 1, budget);
        uint32_t t = (uint32_t)(s_rand(st) % (HB_T_TIMESTAMP + 1));
        msgpack_pack_uint32(pk, t);
        if (t == HB_T_NUMERIC) { /* precision << 16 | scale, or 0 */
            int32_t prec = (int32_t)(s_rand(st) % 19),
                    sc = prec ? (int32_t)(s_rand(st) % (uint64_t)(prec + 1)) : 0;
            msgpack_pack_int32(pk, prec << 16 | sc);
        } else {
            msgpack_pack_int32(pk, (int32_t)(s_rand(st) % 12) - 1);
        }
        return;
    }
    case HB_EX_FUNC: {
        if (s_rand(st) % 4 == 0) {
            /* The date functions take the internal int form only. */
            static const int64_t when[] = {0,
                                           -1,
                                           1,
                                           8000,
                                           -730000,
                                           86400000000LL,
                                           -86400000001LL,
                                           700000000000000LL};
            hb_expr_pack_op(pk, HB_EX_FUNC, 4);
            msgpack_pack_uint32(pk, HB_FN_DATE_OUT + (uint32_t)(s_rand(st) % 3));
            msgpack_pack_uint32(pk, 1);
            hb_val_t w = I(when[s_rand(st) % 8]);
            hb_expr_pack_const(pk, &w);
            return;
        }
        uint32_t k = (uint32_t)(s_rand(st) % 4);
        hb_expr_pack_op(pk, HB_EX_FUNC, 3 + k);
        msgpack_pack_uint32(pk, (uint32_t)(s_rand(st) % (HB_FN_SUBSTR + 1)));
        msgpack_pack_uint32(pk, k);
        for (uint32_t i = 0; i < k; i++)
            s_gen(pk, st, depth - 1, budget);
        return;
    }
    default: /* binary 2..16 */
        hb_expr_pack_op(pk, (hb_ex_op_t)op, 3);
        s_gen(pk, st, depth - 1, budget);
        s_gen(pk, st, depth - 1, budget);
        return;
    }
}

/* Evaluates len bytes twice and asserts the contract: HB_OK, or
 * HB_INVALID with a 5-character SQLSTATE; the same outcome both times. */
static hb_rc_t
s_fuzz_one(const uint8_t *p, size_t len, uint64_t iter)
{
    hb_val_t v1, v2;
    hb_rc_t rc = s_eval_bytes(p, len, &v1);
    S_REQUIRE(rc == HB_OK || rc == HB_INVALID,
              "iter %" PRIu64 ": rc %d (seed %" PRIu64 ")", iter, rc, s_seed);
    if (rc != HB_OK) {
        S_REQUIRE(strlen(s_err.sqlstate) == 5,
                  "iter %" PRIu64 ": sqlstate \"%s\" (seed %" PRIu64 ")", iter,
                  s_err.sqlstate, s_seed);
        for (int i = 0; i < 5; i++)
            S_REQUIRE((s_err.sqlstate[i] >= '0' && s_err.sqlstate[i] <= '9') ||
                          (s_err.sqlstate[i] >= 'A' && s_err.sqlstate[i] <= 'Z'),
                      "iter %" PRIu64 ": sqlstate \"%s\"", iter, s_err.sqlstate);
    } else {
        if (v1.type == HB_VAL_STR || v1.type == HB_VAL_BIN) {
            /* The result's bytes are readable (ASan checks this). */
            volatile uint8_t sum = 0;
            for (uint32_t i = 0; i < v1.u.s.len; i++)
                sum ^= v1.u.s.ptr[i];
            (void)sum;
        }
    }
    char state[6];
    memcpy(state, s_err.sqlstate, sizeof state);
    hb_rc_t rc2 = s_eval_bytes(p, len, &v2);
    S_REQUIRE(rc2 == rc && strcmp(s_err.sqlstate, state) == 0 && v1.type == v2.type,
              "iter %" PRIu64 ": not deterministic (seed %" PRIu64 ")", iter, s_seed);
    /* A predicate over the same bytes obeys the same contract. */
    bool pass;
    hb_expr_env_t env = {.row = s_row, .ncols = s_ncols, .alloc = s_alloc, .err = &s_err};
    s_arena_reset();
    hb_rc_t trc = hb_expr_test(p, len, &env, &pass);
    S_REQUIRE(trc == HB_OK || trc == HB_INVALID, "iter %" PRIu64 ": test rc %d", iter,
              trc);
    S_REQUIRE(trc == HB_OK || strlen(s_err.sqlstate) == 5,
              "iter %" PRIu64 ": test sqlstate \"%s\"", iter, s_err.sqlstate);
    return rc;
}

START_TEST(test_expr_fuzz)
{
    static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x93, 0x9f,
                                          0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xca, 0xcb, 0xcc,
                                          0xcf, 0xd0, 0xd3, 0xd9, 0xdc, 0xdd, 0xde, 0xff};
    uint64_t st = s_seed;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint8_t buf[4096];
    uint64_t ok = 0, valid_ok = 0;
    const uint64_t iters = 200000;
    for (uint64_t it = 0; it < iters; it++) {
        uint64_t mode = s_rand(&st) % 8;
        size_t len;
        if (mode == 0) {
            /* Random bytes, biased towards msgpack headers. */
            len = s_rand(&st) % 48;
            for (size_t i = 0; i < len; i++) {
                uint64_t r = s_rand(&st);
                buf[i] = r % 3 ? interesting[(r >> 8) % sizeof interesting]
                               : (uint8_t)(r >> 16);
            }
            ok += s_fuzz_one(buf, len, it) == HB_OK;
            continue;
        }
        sb.size = 0;
        int budget = 40;
        s_gen(&pk, &st, 1 + (int)(s_rand(&st) % 8), &budget);
        len = sb.size < sizeof buf ? sb.size : sizeof buf;
        memcpy(buf, sb.data, len);
        if (mode == 1) {
            /* Well-formed: it may fail on types or values, never as
             * malformed bytecode. */
            hb_rc_t rc = s_fuzz_one(buf, len, it);
            if (rc != HB_OK)
                S_REQUIRE(strcmp(s_err.sqlstate, "XX000") != 0,
                          "iter %" PRIu64 ": valid expression is XX000: %s (seed %" PRIu64
                          ")",
                          it, s_err.msg, s_seed);
            valid_ok += rc == HB_OK;
            continue;
        }
        /* Mutated: 1..4 edits. */
        int edits = 1 + (int)(s_rand(&st) % 4);
        for (int e = 0; e < edits && len > 0; e++) {
            uint64_t r = s_rand(&st);
            size_t at = (size_t)((r >> 8) % len);
            switch (r % 6) {
            case 0:
                buf[at] = (uint8_t)(r >> 32);
                break;
            case 1:
                buf[at] ^= (uint8_t)(1u << ((r >> 32) % 8));
                break;
            case 2:
                buf[at] = interesting[(r >> 32) % sizeof interesting];
                break;
            case 3: /* insert */
                if (len < sizeof buf) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = interesting[(r >> 32) % sizeof interesting];
                    len++;
                }
                break;
            case 4: /* delete */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            default: /* truncate */
                len = at;
            }
        }
        ok += s_fuzz_one(buf, len, it) == HB_OK;
    }
    msgpack_sbuffer_destroy(&sb);
    /* The generator must reach the evaluator's success paths too. */
    ck_assert_uint_gt(valid_ok, iters / 8 / 4);
    ck_assert_uint_gt(ok, 0);
}
END_TEST

/* A numeric type modifier out of range (only hand-made bytecode can carry
 * one: the planner checks p <= 18) is an error, never an index past the
 * powers of ten. */
START_TEST(test_expr_numeric_bad_typmod)
{
    hb_sqlerr_t err;
    hb_val_t v = hb_val_int(0), out;
    const int32_t bad[] = {(1 << 16) | 65535, (19 << 16) | 2, (5 << 16) | 6, -1, 1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        ck_assert_int_eq(
            hb_val_coerce(&v, HB_T_NUMERIC, bad[i], s_alloc, NULL, &out, &err),
            HB_INVALID);
        ck_assert_str_eq(err.sqlstate, "22023");
    }
    ck_assert_int_eq(
        hb_val_coerce(&v, HB_T_NUMERIC, (18 << 16) | 18, s_alloc, NULL, &out, &err),
        HB_OK);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("expr");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"test_expr_int_arith", test_expr_int_arith},
        {"test_expr_int_overflow", test_expr_int_overflow},
        {"test_expr_div_zero", test_expr_div_zero},
        {"test_expr_mixed", test_expr_mixed},
        {"test_expr_compare", test_expr_compare},
        {"test_expr_three_valued", test_expr_three_valued},
        {"test_expr_isnull", test_expr_isnull},
        {"test_expr_in", test_expr_in},
        {"test_expr_case", test_expr_case},
        {"test_expr_coalesce", test_expr_coalesce},
        {"test_expr_concat", test_expr_concat},
        {"test_expr_like", test_expr_like},
        {"test_expr_func_text", test_expr_func_text},
        {"test_expr_substr", test_expr_substr},
        {"test_expr_cast_int", test_expr_cast_int},
        {"test_expr_cast_bool", test_expr_cast_bool},
        {"test_expr_cast_text", test_expr_cast_text},
        {"test_expr_cast_bool_to_text", test_expr_cast_bool_to_text},
        {"test_expr_cast_cut_nonstring", test_expr_cast_cut_nonstring},
        {"test_expr_cast_blank_text", test_expr_cast_blank_text},
        {"test_expr_numeric_tiny_exponent", test_expr_numeric_tiny_exponent},
        {"test_expr_format", test_expr_format},
        {"test_expr_format_float8_e15", test_expr_format_float8_e15},
        {"test_expr_val_cmp", test_expr_val_cmp},
        {"test_expr_val_cmp_bool_numbers", test_expr_val_cmp_bool_numbers},
        {"test_expr_row", test_expr_row},
        {"test_expr_malformed", test_expr_malformed},
        {"test_expr_deep", test_expr_deep},
        {"test_expr_numeric_bad_typmod", test_expr_numeric_bad_typmod},
        {"test_expr_skip_deep_operand", test_expr_skip_deep_operand},
        {"test_expr_fuzz", test_expr_fuzz},
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
    s_seed = hb_test_seed("test_expr");
    msgpack_sbuffer_init(&s_sb);
    s_row[0] = hb_val_int(10);
    s_row[1] = hb_val_str("abc", 3);
    s_row[2] = hb_val_nil();
    s_row[3] = D(2.5);
    s_row[4] = B(true);
    int rc = hb_test_run(s_suite());
    msgpack_sbuffer_destroy(&s_sb);
    return rc;
}
