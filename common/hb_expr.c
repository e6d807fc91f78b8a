/* hb_expr.c — the expression evaluator (values and coercion: hb_val.c).
 *
 * hb_expr_eval walks the msgpack bytes of an expression with a bounded
 * reader: every node consumes exactly one msgpack value, operands that are
 * not needed (a short-circuited AND, the untaken arms of a CASE) are
 * skipped with hb_mp_skip, and malformed bytes end in an XX000 error,
 * never a crash. Arithmetic is checked (22003 on overflow, 22012 on
 * division by zero) and follows PostgreSQL: integer division truncates,
 * mixing an integer and a double gives a double, NULL propagates, AND/OR
 * are three-valued.
 *
 * Entry points: hb_expr_eval, hb_expr_test, hb_val_arith, hb_type_name,
 * hb_sqlerr_set and the packers.
 */
#include "hb_expr.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_expr_int.h"
#include "hb_mp.h"

#define S_MAX_DEPTH 30 /* below HB_MP_MAX_DEPTH: skipped operands must be skippable */

/* ------------------------------------------------------------------ */
/* Types and errors                                                     */
/* ------------------------------------------------------------------ */

const char *
hb_type_name(hb_type_t t)
{
    static const char *const names[HB_T_COUNT_] = {
        [HB_T_UNKNOWN] = "unknown",
        [HB_T_INT2] = "smallint",
        [HB_T_INT4] = "integer",
        [HB_T_INT8] = "bigint",
        [HB_T_BOOL] = "boolean",
        [HB_T_FLOAT4] = "real",
        [HB_T_FLOAT8] = "double precision",
        [HB_T_TEXT] = "text",
        [HB_T_VARCHAR] = "character varying",
        [HB_T_CHAR] = "character",
        [HB_T_BYTEA] = "bytea",
        [HB_T_NUMERIC] = "numeric",
        [HB_T_DATE] = "date",
        [HB_T_TIMESTAMP] = "timestamp without time zone",
    };
    return (unsigned)t < HB_T_COUNT_ ? names[t] : "unknown";
}

hb_rc_t
hb_sqlerr_set(hb_sqlerr_t *err, const char *sqlstate, const char *fmt, ...)
{
    if (!err)
        return HB_INVALID;
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", sqlstate);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return HB_INVALID;
}

/* ------------------------------------------------------------------ */
/* Packers                                                              */
/* ------------------------------------------------------------------ */

void
hb_expr_pack_const(msgpack_packer *pk, const hb_val_t *v)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint8(pk, HB_EX_CONST);
    hb_mp_pack_val(pk, v);
}

void
hb_expr_pack_col(msgpack_packer *pk, uint32_t col)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint8(pk, HB_EX_COL);
    msgpack_pack_uint32(pk, col);
}

void
hb_expr_pack_op(msgpack_packer *pk, hb_ex_op_t op, uint32_t nfields)
{
    msgpack_pack_array(pk, nfields);
    msgpack_pack_uint8(pk, (uint8_t)op);
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                           */
/* ------------------------------------------------------------------ */

static hb_rc_t s_eval(hb_mp_reader_t *r, hb_expr_env_t *env, int depth, hb_val_t *out);

static hb_rc_t
s_bad(hb_expr_env_t *env)
{
    return hb_sqlerr_set(env->err, "XX000", "malformed expression bytecode");
}

static hb_rc_t
s_optype(hb_expr_env_t *env, const char *op, const hb_val_t *a, const hb_val_t *b)
{
    return hb_sqlerr_set(env->err, "42883", "operator does not exist: %s %s %s",
                         hb_val_type_name(a), op, hb_val_type_name(b));
}

/* Decimal arithmetic (at least one operand a decimal, none a double):
 * + - keep the larger scale, * adds scales (rounded to 18), / gives at
 * least 16 fractional digits when they fit, as PostgreSQL roughly does. */
static hb_rc_t
s_dec_arith(hb_expr_env_t *env, hb_ex_op_t op, const hb_val_t *a, const hb_val_t *b,
            hb_val_t *out)
{
    hb_val_t x = hb_dec_of(a), y = hb_dec_of(b);
    int sx = x.u.dec.scale, sy = y.u.dec.scale;
    __int128 p = x.u.dec.m, q = y.u.dec.m, r;
    int sc;
    switch (op) {
    case HB_EX_ADD:
    case HB_EX_SUB:
    case HB_EX_MOD:
        sc = sx > sy ? sx : sy;
        for (int i = sx; i < sc; i++)
            p *= 10;
        for (int i = sy; i < sc; i++)
            q *= 10;
        if (op == HB_EX_MOD) {
            if (q == 0)
                return hb_sqlerr_set(env->err, "22012", "division by zero");
            r = p % q;
        } else {
            r = op == HB_EX_ADD ? p + q : p - q;
        }
        break;
    case HB_EX_MUL:
        r = p * q;
        sc = sx + sy;
        if (sc > HB_DEC_MAX_SCALE) {
            r = hb_dec_round_div(r, sc - HB_DEC_MAX_SCALE);
            sc = HB_DEC_MAX_SCALE;
        }
        while (sc > 0 && (r > INT64_MAX || r < -INT64_MAX)) {
            r = hb_dec_round_div(r, 1);
            sc--;
        }
        break;
    case HB_EX_DIV: {
        if (q == 0)
            return hb_sqlerr_set(env->err, "22012", "division by zero");
        int want = sx > sy ? sx : sy;
        if (want < 16)
            want = 16;
        /* The most fractional digits (<= want) whose result fits. */
        for (sc = want;; sc--) {
            /* p / q at scale sc = p * 10^(sc - sx + sy) / q */
            int k = sc - sx + sy;
            __int128 n = p, d = q;
            bool big = false;
            for (int i = 0; i < k && !big; i++) {
                n *= 10;
                big = n > ((__int128)1 << 120) || n < -((__int128)1 << 120);
            }
            for (int i = k; i < 0; i++)
                d *= 10;
            if (big) {
                if (sc == 0)
                    return hb_sqlerr_set(env->err, "22003", "numeric field overflow");
                continue;
            }
            __int128 qt = n / d, rm = n % d;
            if (rm < 0)
                rm = -rm;
            __int128 ad = d < 0 ? -d : d;
            if (2 * rm >= ad)
                qt += (n < 0) != (d < 0) ? -1 : 1;
            if ((qt <= INT64_MAX && qt >= -INT64_MAX) || sc == 0) {
                r = qt;
                break;
            }
        }
        break;
    }
    default:
        return s_bad(env);
    }
    if (!hb_dec_fit(r, sc, out))
        return hb_sqlerr_set(env->err, "22003", "numeric field overflow");
    return HB_OK;
}

static hb_rc_t
s_arith(hb_expr_env_t *env, hb_ex_op_t op, const hb_val_t *a, const hb_val_t *b,
        hb_val_t *out)
{
    static const char *const sym[] = {[HB_EX_ADD] = "+",
                                      [HB_EX_SUB] = "-",
                                      [HB_EX_MUL] = "*",
                                      [HB_EX_DIV] = "/",
                                      [HB_EX_MOD] = "%"};
    if (!hb_val_is_num(a) || !hb_val_is_num(b))
        return s_optype(env, sym[op], a, b);
    if (a->type == HB_VAL_INT && b->type == HB_VAL_INT) {
        int64_t x = a->u.i, y = b->u.i, z = 0;
        bool ovf = false;
        switch (op) {
        case HB_EX_ADD:
            ovf = __builtin_add_overflow(x, y, &z);
            break;
        case HB_EX_SUB:
            ovf = __builtin_sub_overflow(x, y, &z);
            break;
        case HB_EX_MUL:
            ovf = __builtin_mul_overflow(x, y, &z);
            break;
        case HB_EX_DIV:
        case HB_EX_MOD:
            if (y == 0)
                return hb_sqlerr_set(env->err, "22012", "division by zero");
            if (y == -1) /* INT64_MIN / -1 overflows; x % -1 is 0 */
                ovf = op == HB_EX_DIV && __builtin_mul_overflow(x, -1, &z);
            else
                z = op == HB_EX_DIV ? x / y : x % y;
            break;
        default:
            return s_bad(env);
        }
        if (ovf)
            return hb_sqlerr_set(env->err, "22003", "bigint out of range");
        *out = hb_val_int(z);
        return HB_OK;
    }
    if (a->type != HB_VAL_DOUBLE && b->type != HB_VAL_DOUBLE)
        return s_dec_arith(env, op, a, b, out);
    double x = hb_val_as_double(a), y = hb_val_as_double(b), z;
    switch (op) {
    case HB_EX_ADD:
        z = x + y;
        break;
    case HB_EX_SUB:
        z = x - y;
        break;
    case HB_EX_MUL:
        z = x * y;
        break;
    case HB_EX_DIV:
        if (y == 0)
            return hb_sqlerr_set(env->err, "22012", "division by zero");
        z = x / y;
        break;
    case HB_EX_MOD:
        if (y == 0)
            return hb_sqlerr_set(env->err, "22012", "division by zero");
        z = fmod(x, y);
        break;
    default:
        return s_bad(env);
    }
    if (isinf(z) && !isinf(x) && !isinf(y))
        return hb_sqlerr_set(env->err, "22003", "value out of range: overflow");
    *out = hb_val_double(z);
    return HB_OK;
}

hb_rc_t
hb_val_arith(hb_ex_op_t op, const hb_val_t *a, const hb_val_t *b, hb_val_t *out,
             hb_sqlerr_t *err)
{
    if (op < HB_EX_ADD || op > HB_EX_MOD)
        return hb_sqlerr_set(err, "XX000", "not an arithmetic operator");
    hb_expr_env_t env = {.err = err};
    return s_arith(&env, op, a, b, out);
}

static bool
s_comparable(const hb_val_t *a, const hb_val_t *b)
{
    return (hb_val_is_num(a) && hb_val_is_num(b)) || a->type == b->type;
}

/* LIKE with % and _, backslash escapes; bytewise on UTF-8 except that _
 * matches one whole character. */
static bool
s_like(const uint8_t *s, uint32_t slen, const uint8_t *p, uint32_t plen)
{
    uint32_t si = 0, pi = 0, star_p = UINT32_MAX, star_s = 0;
    while (si < slen) {
        if (pi < plen && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < plen) {
            if (p[pi] == '_') {
                pi++;
                si++;
                while (si < slen && (s[si] & 0xC0) == 0x80)
                    si++;
                continue;
            }
            uint32_t lit = pi;
            if (p[pi] == '\\' && pi + 1 < plen)
                lit = pi + 1;
            if (p[lit] == s[si]) {
                pi = lit + 1;
                si++;
                continue;
            }
        }
        if (star_p == UINT32_MAX)
            return false;
        pi = star_p;
        si = ++star_s;
        while (si < slen && (s[si] & 0xC0) == 0x80)
            si = ++star_s;
    }
    while (pi < plen && p[pi] == '%')
        pi++;
    return pi == plen;
}

static void *
s_alloc(hb_expr_env_t *env, size_t n)
{
    return env->alloc(env->alloc_arg, n ? n : 1);
}

static hb_rc_t
s_func(hb_mp_reader_t *r, hb_expr_env_t *env, int depth, uint64_t fn, uint32_t nargs,
       hb_val_t *out)
{
    hb_val_t a[3];
    if (nargs > 3)
        return s_bad(env);
    for (uint32_t i = 0; i < nargs; i++) {
        hb_rc_t rc = s_eval(r, env, depth + 1, &a[i]);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < nargs; i++) {
        if (a[i].type == HB_VAL_NIL) {
            *out = hb_val_nil();
            return HB_OK;
        }
    }
    switch (fn) {
    case HB_FN_LOWER:
    case HB_FN_UPPER: {
        if (nargs != 1 || a[0].type != HB_VAL_STR)
            return hb_sqlerr_set(env->err, "42883", "function %s(%s) does not exist",
                                 fn == HB_FN_LOWER ? "lower" : "upper",
                                 nargs ? hb_val_type_name(&a[0]) : "");
        uint8_t *p = s_alloc(env, a[0].u.s.len);
        for (uint32_t i = 0; i < a[0].u.s.len; i++) {
            uint8_t c = a[0].u.s.ptr[i];
            if (fn == HB_FN_LOWER && c >= 'A' && c <= 'Z')
                c = (uint8_t)(c + 32);
            else if (fn == HB_FN_UPPER && c >= 'a' && c <= 'z')
                c = (uint8_t)(c - 32);
            p[i] = c;
        }
        *out = hb_val_str(p, a[0].u.s.len);
        return HB_OK;
    }
    case HB_FN_LENGTH:
        if (nargs != 1 || (a[0].type != HB_VAL_STR && a[0].type != HB_VAL_BIN))
            return hb_sqlerr_set(env->err, "42883", "function length(%s) does not exist",
                                 nargs ? hb_val_type_name(&a[0]) : "");
        *out =
            hb_val_int(a[0].type == HB_VAL_STR ? hb_utf8_len(a[0].u.s.ptr, a[0].u.s.len)
                                               : a[0].u.s.len);
        return HB_OK;
    case HB_FN_ABS:
        if (nargs != 1 || !hb_val_is_num(&a[0]))
            return hb_sqlerr_set(env->err, "42883", "function abs(%s) does not exist",
                                 nargs ? hb_val_type_name(&a[0]) : "");
        if (a[0].type == HB_VAL_INT) {
            if (a[0].u.i == INT64_MIN)
                return hb_sqlerr_set(env->err, "22003", "bigint out of range");
            *out = hb_val_int(a[0].u.i < 0 ? -a[0].u.i : a[0].u.i);
        } else if (a[0].type == HB_VAL_DEC) {
            if (a[0].u.dec.m == INT64_MIN)
                return hb_sqlerr_set(env->err, "22003", "numeric field overflow");
            *out = hb_val_dec(a[0].u.dec.m < 0 ? -a[0].u.dec.m : a[0].u.dec.m,
                              a[0].u.dec.scale);
        } else {
            *out = hb_val_double(fabs(a[0].u.d));
        }
        return HB_OK;
    case HB_FN_SUBSTR: {
        if (nargs < 2 || a[0].type != HB_VAL_STR || a[1].type != HB_VAL_INT ||
            (nargs == 3 && a[2].type != HB_VAL_INT))
            return hb_sqlerr_set(env->err, "42883",
                                 "function substr does not exist for "
                                 "these argument types");
        int64_t from = a[1].u.i, cnt = INT64_MAX;
        if (nargs == 3) {
            if (a[2].u.i < 0)
                return hb_sqlerr_set(env->err, "22011",
                                     "negative substring length not allowed");
            cnt = a[2].u.i;
        }
        /* Characters from..from+cnt-1 (1-based), clipped to the string. */
        int64_t start = from < 1 ? 1 : from;
        int64_t stop =
            cnt == INT64_MAX || from > INT64_MAX - cnt ? INT64_MAX : from + cnt;
        uint32_t chars = hb_utf8_len(a[0].u.s.ptr, a[0].u.s.len);
        if (stop <= start || start > chars) {
            *out = hb_val_str(a[0].u.s.ptr, 0);
            return HB_OK;
        }
        if (stop > (int64_t)chars + 1)
            stop = (int64_t)chars + 1;
        uint32_t b0 = hb_utf8_off(a[0].u.s.ptr, a[0].u.s.len, (uint32_t)(start - 1));
        uint32_t b1 = hb_utf8_off(a[0].u.s.ptr, a[0].u.s.len, (uint32_t)(stop - 1));
        *out = hb_val_str(a[0].u.s.ptr + b0, b1 - b0);
        return HB_OK;
    }
    case HB_FN_DATE_OUT:
    case HB_FN_TS_OUT: {
        if (nargs != 1 || a[0].type != HB_VAL_INT)
            return s_bad(env);
        char buf[48];
        size_t n = fn == HB_FN_DATE_OUT ? hb_date_format(a[0].u.i, buf, sizeof buf)
                                        : hb_timestamp_format(a[0].u.i, buf, sizeof buf);
        uint8_t *p = s_alloc(env, n);
        memcpy(p, buf, n);
        *out = hb_val_str(p, (uint32_t)n);
        return HB_OK;
    }
    case HB_FN_TS_DATE:
        if (nargs != 1 || a[0].type != HB_VAL_INT)
            return s_bad(env);
        *out = hb_val_int(a[0].u.i >= 0
                              ? a[0].u.i / HB_US_PER_DAY
                              : -((-a[0].u.i + HB_US_PER_DAY - 1) / HB_US_PER_DAY));
        return HB_OK;
    default:
        return s_bad(env);
    }
}

/* s_eval's opcode bodies that are more than a few lines. Each is entered
 * after s_eval has read the node's array header (n elements) and opcode;
 * it reads the rest of the node (exactly one msgpack value in all). */

/* AND / OR, three-valued, short-circuited: an operand that decides the
 * result skips the other. */
static hb_rc_t
s_eval_andor(hb_mp_reader_t *r, hb_expr_env_t *env, int depth, uint64_t op, hb_val_t *out)
{
    hb_rc_t rc;
    hb_val_t a, b;
    if ((rc = s_eval(r, env, depth + 1, &a)))
        return rc;
    if (a.type != HB_VAL_NIL && a.type != HB_VAL_BOOL)
        return hb_sqlerr_set(env->err, "42804",
                             "argument of %s must be type boolean, not "
                             "type %s",
                             op == HB_EX_AND ? "AND" : "OR", hb_val_type_name(&a));
    bool decided = a.type == HB_VAL_BOOL && a.u.b == (op == HB_EX_OR);
    if (decided) {
        if (hb_mp_skip(r) != HB_OK)
            return s_bad(env);
        *out = a;
        return HB_OK;
    }
    if ((rc = s_eval(r, env, depth + 1, &b)))
        return rc;
    if (b.type != HB_VAL_NIL && b.type != HB_VAL_BOOL)
        return hb_sqlerr_set(env->err, "42804",
                             "argument of %s must be type boolean, not "
                             "type %s",
                             op == HB_EX_AND ? "AND" : "OR", hb_val_type_name(&b));
    if (b.type == HB_VAL_BOOL && b.u.b == (op == HB_EX_OR))
        *out = b;
    else if (a.type == HB_VAL_NIL || b.type == HB_VAL_NIL)
        *out = hb_val_nil();
    else
        *out = hb_val_bool(op == HB_EX_AND);
    return HB_OK;
}

/* a || b (neither NULL): non-strings in their text form; bytea when both
 * are bytea. */
static hb_rc_t
s_concat(hb_expr_env_t *env, const hb_val_t *a, const hb_val_t *b, hb_val_t *out)
{
    char ba[64], bb[64];
    hb_val_t sa = *a, sb = *b;
    if (sa.type != HB_VAL_STR && sa.type != HB_VAL_BIN) {
        size_t l = hb_val_format(a, ba, sizeof ba);
        sa = hb_val_str(ba, (uint32_t)l);
    }
    if (sb.type != HB_VAL_STR && sb.type != HB_VAL_BIN) {
        size_t l = hb_val_format(b, bb, sizeof bb);
        sb = hb_val_str(bb, (uint32_t)l);
    }
    uint32_t len = sa.u.s.len + sb.u.s.len;
    uint8_t *p = s_alloc(env, len);
    memcpy(p, sa.u.s.ptr, sa.u.s.len);
    memcpy(p + sa.u.s.len, sb.u.s.ptr, sb.u.s.len);
    *out = hb_val_str(p, len);
    if (a->type == HB_VAL_BIN && b->type == HB_VAL_BIN)
        out->type = HB_VAL_BIN;
    return HB_OK;
}

/* The binary operators on two non-NULL operands: arithmetic, ||, LIKE and
 * the comparisons. */
static hb_rc_t
s_binary(hb_expr_env_t *env, uint64_t op, const hb_val_t *a, const hb_val_t *b,
         hb_val_t *out)
{
    if (op <= HB_EX_MOD)
        return s_arith(env, (hb_ex_op_t)op, a, b, out);
    if (op == HB_EX_CONCAT)
        return s_concat(env, a, b, out);
    if (op == HB_EX_LIKE) {
        if (a->type != HB_VAL_STR || b->type != HB_VAL_STR)
            return s_optype(env, "~~", a, b);
        *out = hb_val_bool(s_like(a->u.s.ptr, a->u.s.len, b->u.s.ptr, b->u.s.len));
        return HB_OK;
    }
    static const char *const sym[] = {
        [HB_EX_EQ] = "=",  [HB_EX_NE] = "<>", [HB_EX_LT] = "<",
        [HB_EX_LE] = "<=", [HB_EX_GT] = ">",  [HB_EX_GE] = ">="};
    if (!s_comparable(a, b))
        return s_optype(env, sym[op], a, b);
    int c = hb_val_cmp(a, b);
    bool res = op == HB_EX_EQ   ? c == 0
               : op == HB_EX_NE ? c != 0
               : op == HB_EX_LT ? c < 0
               : op == HB_EX_LE ? c <= 0
               : op == HB_EX_GT ? c > 0
                                : c >= 0;
    *out = hb_val_bool(res);
    return HB_OK;
}

/* NOT, unary minus, IS NULL, IS NOT NULL on the evaluated operand a. */
static hb_rc_t
s_unary(hb_expr_env_t *env, uint64_t op, const hb_val_t *a, hb_val_t *out)
{
    if (op == HB_EX_ISNULL || op == HB_EX_NOTNULL) {
        *out = hb_val_bool((a->type == HB_VAL_NIL) == (op == HB_EX_ISNULL));
        return HB_OK;
    }
    if (a->type == HB_VAL_NIL) {
        *out = *a;
        return HB_OK;
    }
    if (op == HB_EX_NOT) {
        if (a->type != HB_VAL_BOOL)
            return hb_sqlerr_set(env->err, "42804",
                                 "argument of NOT must be type boolean, "
                                 "not type %s",
                                 hb_val_type_name(a));
        *out = hb_val_bool(!a->u.b);
        return HB_OK;
    }
    if (a->type == HB_VAL_INT) {
        if (a->u.i == INT64_MIN)
            return hb_sqlerr_set(env->err, "22003", "bigint out of range");
        *out = hb_val_int(-a->u.i);
    } else if (a->type == HB_VAL_DOUBLE) {
        *out = hb_val_double(-a->u.d);
    } else if (a->type == HB_VAL_DEC) {
        if (a->u.dec.m == INT64_MIN)
            return hb_sqlerr_set(env->err, "22003", "numeric field overflow");
        *out = hb_val_dec(-a->u.dec.m, a->u.dec.scale);
    } else {
        return hb_sqlerr_set(env->err, "42883", "operator does not exist: - %s",
                             hb_val_type_name(a));
    }
    return HB_OK;
}

/* x IN (list): [op, x, cnt, item...]; items after a match are skipped. */
static hb_rc_t
s_eval_in(hb_mp_reader_t *r, hb_expr_env_t *env, int depth, uint32_t n, hb_val_t *out)
{
    hb_rc_t rc;
    hb_val_t a, b;
    uint64_t cnt;
    if (n < 3 || (rc = s_eval(r, env, depth + 1, &a)))
        return n < 3 ? s_bad(env) : rc;
    if (hb_mp_read_uint(r, &cnt) != HB_OK || cnt != n - 3)
        return s_bad(env);
    bool found = false, saw_null = a.type == HB_VAL_NIL;
    for (uint64_t i = 0; i < cnt; i++) {
        if (found) {
            if (hb_mp_skip(r) != HB_OK)
                return s_bad(env);
            continue;
        }
        if ((rc = s_eval(r, env, depth + 1, &b)))
            return rc;
        if (b.type == HB_VAL_NIL || a.type == HB_VAL_NIL) {
            saw_null = true;
            continue;
        }
        if (!s_comparable(&a, &b))
            return s_optype(env, "=", &a, &b);
        found = hb_val_cmp(&a, &b) == 0;
    }
    *out = found ? hb_val_bool(true) : saw_null ? hb_val_nil() : hb_val_bool(false);
    return HB_OK;
}

/* CASE: [op, cnt, (when, then) x cnt, else]; the untaken arms are skipped. */
static hb_rc_t
s_eval_case(hb_mp_reader_t *r, hb_expr_env_t *env, int depth, uint32_t n, hb_val_t *out)
{
    hb_rc_t rc;
    hb_val_t a;
    uint64_t cnt;
    if (hb_mp_read_uint(r, &cnt) != HB_OK || n != 3 + 2 * cnt)
        return s_bad(env);
    bool taken = false;
    for (uint64_t i = 0; i < cnt; i++) {
        if (taken) {
            if (hb_mp_skip(r) != HB_OK || hb_mp_skip(r) != HB_OK)
                return s_bad(env);
            continue;
        }
        if ((rc = s_eval(r, env, depth + 1, &a)))
            return rc;
        if (a.type == HB_VAL_BOOL && a.u.b) {
            if ((rc = s_eval(r, env, depth + 1, out)))
                return rc;
            taken = true;
        } else if (hb_mp_skip(r) != HB_OK) {
            return s_bad(env);
        }
    }
    if (taken)
        return hb_mp_skip(r) == HB_OK ? HB_OK : s_bad(env);
    return s_eval(r, env, depth + 1, out);
}

/* COALESCE: [op, cnt, arg...]; the arguments after the first non-NULL are
 * skipped. */
static hb_rc_t
s_eval_coalesce(hb_mp_reader_t *r, hb_expr_env_t *env, int depth, uint32_t n,
                hb_val_t *out)
{
    hb_rc_t rc;
    uint64_t cnt;
    if (hb_mp_read_uint(r, &cnt) != HB_OK || n != 2 + cnt)
        return s_bad(env);
    *out = hb_val_nil();
    for (uint64_t i = 0; i < cnt; i++) {
        if (out->type != HB_VAL_NIL) {
            if (hb_mp_skip(r) != HB_OK)
                return s_bad(env);
            continue;
        }
        if ((rc = s_eval(r, env, depth + 1, out)))
            return rc;
    }
    return HB_OK;
}

/* CAST: [op, x, type, typmod]. */
static hb_rc_t
s_eval_cast(hb_mp_reader_t *r, hb_expr_env_t *env, int depth, uint32_t n, hb_val_t *out)
{
    hb_rc_t rc;
    hb_val_t a;
    uint64_t t;
    int64_t mod;
    if (n != 4 || (rc = s_eval(r, env, depth + 1, &a)))
        return n != 4 ? s_bad(env) : rc;
    if (hb_mp_read_uint(r, &t) != HB_OK || t >= HB_T_COUNT_ ||
        hb_mp_read_int(r, &mod) != HB_OK || mod < INT32_MIN || mod > INT32_MAX)
        return s_bad(env);
    if ((t == HB_T_VARCHAR || t == HB_T_CHAR) && mod > 0 && a.type != HB_VAL_NIL) {
        /* An explicit cast cuts to the length (storing would fail). */
        hb_rc_t trc =
            hb_val_coerce(&a, HB_T_TEXT, 0, env->alloc, env->alloc_arg, &a, env->err);
        if (trc)
            return trc;
        a.u.s.len = hb_utf8_off(a.u.s.ptr, a.u.s.len, (uint32_t)mod);
    }
    return hb_val_coerce(&a, (hb_type_t)t, (int32_t)mod, env->alloc, env->alloc_arg, out,
                         env->err);
}

/* lint: opcode switch (tools/lint allows it past the function-size limit).
 *
 * The interpreter's opcode switch: evaluates the one node at r into *out.
 *
 * It stays one function on purpose: every node of every expression passes
 * through this switch (per row, in scans and in every procedure), so the
 * dispatch is a single jump with no extra call for the short opcodes, and a
 * reader finds each opcode's arity check and semantics in one place. Bodies
 * longer than a few lines live in the s_eval_* / s_binary / s_unary helpers
 * above, so this reads as the dispatch table. depth bounds the recursion
 * (54001 beyond S_MAX_DEPTH). */
static hb_rc_t
s_eval(hb_mp_reader_t *r, hb_expr_env_t *env, int depth, hb_val_t *out)
{
    uint32_t n = 0;
    uint64_t op = 0;
    if (depth > S_MAX_DEPTH)
        return hb_sqlerr_set(env->err, "54001", "expression is too deeply nested");
    if (hb_mp_read_array(r, &n) != HB_OK || n < 1 || hb_mp_read_uint(r, &op) != HB_OK)
        return s_bad(env);
    hb_rc_t rc;
    hb_val_t a, b;
    switch (op) {
    case HB_EX_CONST:
        if (n != 2 || hb_mp_read_val(r, out) != HB_OK)
            return s_bad(env);
        return HB_OK;
    case HB_EX_COL: {
        uint64_t c;
        if (n != 2 || hb_mp_read_uint(r, &c) != HB_OK)
            return s_bad(env);
        /* A row shorter than the table (a column added later) reads NULL. */
        *out = c < env->ncols ? env->row[c] : hb_val_nil();
        return HB_OK;
    }
    case HB_EX_AND:
    case HB_EX_OR:
        if (n != 3)
            return s_bad(env);
        return s_eval_andor(r, env, depth, op, out);
    case HB_EX_ADD:
    case HB_EX_SUB:
    case HB_EX_MUL:
    case HB_EX_DIV:
    case HB_EX_MOD:
    case HB_EX_EQ:
    case HB_EX_NE:
    case HB_EX_LT:
    case HB_EX_LE:
    case HB_EX_GT:
    case HB_EX_GE:
    case HB_EX_CONCAT:
    case HB_EX_LIKE:
        if (n != 3)
            return s_bad(env);
        if ((rc = s_eval(r, env, depth + 1, &a)) || (rc = s_eval(r, env, depth + 1, &b)))
            return rc;
        if (a.type == HB_VAL_NIL || b.type == HB_VAL_NIL) {
            *out = hb_val_nil();
            return HB_OK;
        }
        return s_binary(env, op, &a, &b, out);
    case HB_EX_NOT:
    case HB_EX_NEG:
    case HB_EX_ISNULL:
    case HB_EX_NOTNULL:
        if (n != 2)
            return s_bad(env);
        if ((rc = s_eval(r, env, depth + 1, &a)))
            return rc;
        return s_unary(env, op, &a, out);
    case HB_EX_IN:
        return s_eval_in(r, env, depth, n, out);
    case HB_EX_CASE:
        return s_eval_case(r, env, depth, n, out);
    case HB_EX_COALESCE:
        return s_eval_coalesce(r, env, depth, n, out);
    case HB_EX_CAST:
        return s_eval_cast(r, env, depth, n, out);
    case HB_EX_NOW:
        if (n != 1)
            return s_bad(env);
        *out = hb_val_int(env->now_us);
        return HB_OK;
    case HB_EX_FUNC: {
        uint64_t fn, cnt;
        if (hb_mp_read_uint(r, &fn) != HB_OK || hb_mp_read_uint(r, &cnt) != HB_OK ||
            n != 3 + cnt)
            return s_bad(env);
        return s_func(r, env, depth, fn, (uint32_t)cnt, out);
    }
    default:
        return s_bad(env);
    }
}

hb_rc_t
hb_expr_eval(const uint8_t *expr, size_t len, hb_expr_env_t *env, hb_val_t *out)
{
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, expr, len);
    *out = hb_val_nil();
    hb_rc_t rc = s_eval(&r, env, 0, out);
    if (rc == HB_OK && hb_mp_remaining(&r) != 0)
        rc = s_bad(env);
    return rc;
}

hb_rc_t
hb_expr_test(const uint8_t *expr, size_t len, hb_expr_env_t *env, bool *result)
{
    hb_val_t v;
    *result = false;
    hb_rc_t rc = hb_expr_eval(expr, len, env, &v);
    if (rc)
        return rc;
    if (v.type == HB_VAL_NIL)
        return HB_OK;
    if (v.type != HB_VAL_BOOL)
        return hb_sqlerr_set(env->err, "42804",
                             "argument of WHERE must be type boolean, not "
                             "type %s",
                             hb_val_type_name(&v));
    *result = v.u.b;
    return HB_OK;
}
