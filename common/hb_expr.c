/* hb_expr.c — SQL values, coercion and the expression evaluator.
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
 * Entry points: hb_expr_eval, hb_expr_test, hb_val_cmp, hb_val_coerce,
 * hb_val_format, hb_row_decode, hb_row_pack and the packers.
 */
#include "hb_expr.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_mp.h"

#define S_MAX_DEPTH 64

/* ------------------------------------------------------------------ */
/* Types and errors                                                     */
/* ------------------------------------------------------------------ */

const char *
hb_type_name(hb_type_t t)
{
    static const char *const names[HB_T_COUNT_] = {
        [HB_T_UNKNOWN] = "unknown",  [HB_T_INT2] = "smallint",
        [HB_T_INT4] = "integer",     [HB_T_INT8] = "bigint",
        [HB_T_BOOL] = "boolean",     [HB_T_FLOAT4] = "real",
        [HB_T_FLOAT8] = "double precision", [HB_T_TEXT] = "text",
        [HB_T_VARCHAR] = "character varying", [HB_T_CHAR] = "character",
        [HB_T_BYTEA] = "bytea",
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
/* Values                                                               */
/* ------------------------------------------------------------------ */

static bool
s_is_num(const hb_val_t *v)
{
    return v->type == HB_VAL_INT || v->type == HB_VAL_DOUBLE;
}

static double
s_as_double(const hb_val_t *v)
{
    return v->type == HB_VAL_INT ? (double)v->u.i : v->u.d;
}

static int
s_bytes_cmp(const hb_val_t *a, const hb_val_t *b)
{
    uint32_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
    int c = n ? memcmp(a->u.s.ptr, b->u.s.ptr, n) : 0;
    if (c)
        return c;
    return a->u.s.len < b->u.s.len ? -1 : a->u.s.len > b->u.s.len;
}

int
hb_val_cmp(const hb_val_t *a, const hb_val_t *b)
{
    if (a->type == HB_VAL_INT && b->type == HB_VAL_INT)
        return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    if (s_is_num(a) && s_is_num(b)) {
        double x = s_as_double(a), y = s_as_double(b);
        /* NaN sorts above every number, as in PostgreSQL. */
        if (isnan(x) || isnan(y))
            return isnan(x) - isnan(y);
        return x < y ? -1 : x > y;
    }
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    switch (a->type) {
    case HB_VAL_BOOL:
        return (int)a->u.b - (int)b->u.b;
    case HB_VAL_STR:
    case HB_VAL_BIN:
        return s_bytes_cmp(a, b);
    default:
        return 0;
    }
}

static const char *
s_val_type_name(const hb_val_t *v)
{
    switch (v->type) {
    case HB_VAL_INT:
        return "bigint";
    case HB_VAL_DOUBLE:
        return "double precision";
    case HB_VAL_BOOL:
        return "boolean";
    case HB_VAL_STR:
        return "text";
    case HB_VAL_BIN:
        return "bytea";
    default:
        return "unknown";
    }
}

size_t
hb_val_format(const hb_val_t *v, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    int n = 0;
    switch (v->type) {
    case HB_VAL_NIL:
        out[0] = '\0';
        return 0;
    case HB_VAL_INT:
        n = snprintf(out, cap, "%" PRId64, v->u.i);
        break;
    case HB_VAL_BOOL:
        n = snprintf(out, cap, "%s", v->u.b ? "t" : "f");
        break;
    case HB_VAL_DOUBLE: {
        double d = v->u.d;
        if (isnan(d)) {
            n = snprintf(out, cap, "NaN");
        } else if (isinf(d)) {
            n = snprintf(out, cap, "%s", d > 0 ? "Infinity" : "-Infinity");
        } else {
            /* The shortest digits that read back as the same double, in
             * positional form unless the exponent is below -4 or at least
             * 15, as PostgreSQL prints float8. */
            char e[40];
            int prec = 1;
            for (; prec <= 17; prec++) {
                snprintf(e, sizeof e, "%.*e", prec - 1, d);
                if (strtod(e, NULL) == d)
                    break;
            }
            int exp10 = atoi(strchr(e, 'e') + 1);
            if (exp10 < -4 || exp10 >= 15)
                n = snprintf(out, cap, "%.*g", prec, d);
            else
                n = snprintf(out, cap, "%.*f", prec - 1 - exp10 > 0 ? prec - 1 - exp10 : 0, d);
        }
        break;
    }
    case HB_VAL_STR: {
        size_t len = v->u.s.len < cap - 1 ? v->u.s.len : cap - 1;
        memcpy(out, v->u.s.ptr, len);
        out[len] = '\0';
        return len;
    }
    case HB_VAL_BIN: {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        if (cap > 2) {
            out[o++] = '\\';
            out[o++] = 'x';
        }
        for (uint32_t i = 0; i < v->u.s.len && o + 2 < cap; i++) {
            out[o++] = hex[v->u.s.ptr[i] >> 4];
            out[o++] = hex[v->u.s.ptr[i] & 15];
        }
        out[o] = '\0';
        return o;
    }
    }
    if (n < 0)
        n = 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Number of UTF-8 characters in s. */
static uint32_t
s_utf8_len(const uint8_t *s, uint32_t len)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < len; i++)
        n += (s[i] & 0xC0) != 0x80;
    return n;
}

/* Byte offset of character ch (0-based) in s, or len if beyond. */
static uint32_t
s_utf8_off(const uint8_t *s, uint32_t len, uint32_t ch)
{
    uint32_t i = 0;
    while (i < len && ch > 0) {
        i++;
        while (i < len && (s[i] & 0xC0) == 0x80)
            i++;
        ch--;
    }
    return i;
}

static bool
s_trim_eq(const char *s, size_t len, const char *word)
{
    while (len && (*s == ' ' || *s == '\t' || *s == '\n'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
        len--;
    return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

hb_rc_t
hb_val_coerce(const hb_val_t *v, hb_type_t t, int32_t typmod,
              void *(*alloc)(void *arg, size_t size), void *arg, hb_val_t *out,
              hb_sqlerr_t *err)
{
    *out = *v;
    if (v->type == HB_VAL_NIL || t == HB_T_UNKNOWN)
        return HB_OK;
    char buf[64];
    switch (t) {
    case HB_T_INT2:
    case HB_T_INT4:
    case HB_T_INT8: {
        int64_t i;
        if (v->type == HB_VAL_INT) {
            i = v->u.i;
        } else if (v->type == HB_VAL_DOUBLE) {
            double d = rint(v->u.d); /* PostgreSQL rounds half to even */
            if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
                return hb_sqlerr_set(err, "22003", "%s out of range", hb_type_name(t));
            i = (int64_t)d;
        } else if (v->type == HB_VAL_STR) {
            size_t len = v->u.s.len < sizeof buf - 1 ? v->u.s.len : sizeof buf - 1;
            memcpy(buf, v->u.s.ptr, len);
            buf[len] = '\0';
            char *end;
            errno = 0;
            long long ll = strtoll(buf, &end, 10);
            while (*end == ' ')
                end++;
            if (len == 0 || *end || v->u.s.len >= sizeof buf - 1 || end == buf)
                return hb_sqlerr_set(err, "22P02", "invalid input syntax for type %s: \"%.*s\"",
                                     hb_type_name(t), (int)len, buf);
            if (errno == ERANGE)
                return hb_sqlerr_set(err, "22003", "value \"%s\" is out of range for type %s",
                                     buf, hb_type_name(t));
            i = ll;
        } else if (v->type == HB_VAL_BOOL) {
            i = v->u.b;
        } else {
            return hb_sqlerr_set(err, "42804", "cannot convert %s to %s", s_val_type_name(v),
                                 hb_type_name(t));
        }
        if ((t == HB_T_INT2 && (i < INT16_MIN || i > INT16_MAX)) ||
            (t == HB_T_INT4 && (i < INT32_MIN || i > INT32_MAX)))
            return hb_sqlerr_set(err, "22003", "%s out of range", hb_type_name(t));
        *out = hb_val_int(i);
        return HB_OK;
    }
    case HB_T_FLOAT4:
    case HB_T_FLOAT8: {
        double d;
        if (s_is_num(v)) {
            d = s_as_double(v);
        } else if (v->type == HB_VAL_STR) {
            size_t len = v->u.s.len < sizeof buf - 1 ? v->u.s.len : sizeof buf - 1;
            memcpy(buf, v->u.s.ptr, len);
            buf[len] = '\0';
            char *end;
            d = strtod(buf, &end);
            while (*end == ' ')
                end++;
            if (len == 0 || *end || end == buf)
                return hb_sqlerr_set(err, "22P02", "invalid input syntax for type %s: \"%s\"",
                                     hb_type_name(t), buf);
        } else {
            return hb_sqlerr_set(err, "42804", "cannot convert %s to %s", s_val_type_name(v),
                                 hb_type_name(t));
        }
        if (t == HB_T_FLOAT4)
            d = (double)(float)d;
        out->type = HB_VAL_DOUBLE;
        out->u.d = d;
        return HB_OK;
    }
    case HB_T_BOOL:
        if (v->type == HB_VAL_BOOL)
            return HB_OK;
        if (v->type == HB_VAL_STR) {
            const char *s = (const char *)v->u.s.ptr;
            size_t len = v->u.s.len;
            static const char *const yes[] = {"t", "true", "yes", "on", "1", "y"};
            static const char *const no[] = {"f", "false", "no", "off", "0", "n"};
            for (size_t k = 0; k < sizeof yes / sizeof *yes; k++) {
                if (s_trim_eq(s, len, yes[k])) {
                    out->type = HB_VAL_BOOL;
                    out->u.b = true;
                    return HB_OK;
                }
                if (s_trim_eq(s, len, no[k])) {
                    out->type = HB_VAL_BOOL;
                    out->u.b = false;
                    return HB_OK;
                }
            }
            return hb_sqlerr_set(err, "22P02", "invalid input syntax for type boolean: \"%.*s\"",
                                 (int)(len > 60 ? 60 : len), s);
        }
        return hb_sqlerr_set(err, "42804", "cannot convert %s to boolean", s_val_type_name(v));
    case HB_T_TEXT:
    case HB_T_VARCHAR:
    case HB_T_CHAR: {
        hb_val_t s = *v;
        if (v->type != HB_VAL_STR) {
            if (v->type == HB_VAL_BIN)
                return hb_sqlerr_set(err, "42804", "cannot convert bytea to %s",
                                     hb_type_name(t));
            size_t n = hb_val_format(v, buf, sizeof buf);
            uint8_t *p = alloc(arg, n ? n : 1);
            memcpy(p, buf, n);
            s = hb_val_str(p, (uint32_t)n);
        }
        if (typmod > 0 && t != HB_T_TEXT) {
            uint32_t chars = s_utf8_len(s.u.s.ptr, s.u.s.len);
            if (chars > (uint32_t)typmod) {
                /* Trailing blanks beyond the limit are cut, as in PostgreSQL. */
                uint32_t keep = s_utf8_off(s.u.s.ptr, s.u.s.len, (uint32_t)typmod);
                for (uint32_t k = keep; k < s.u.s.len; k++)
                    if (s.u.s.ptr[k] != ' ')
                        return hb_sqlerr_set(err, "22001",
                                             "value too long for type %s(%d)",
                                             hb_type_name(t), typmod);
                s.u.s.len = keep;
            } else if (t == HB_T_CHAR && chars < (uint32_t)typmod) {
                uint32_t pad = (uint32_t)typmod - chars;
                uint8_t *p = alloc(arg, s.u.s.len + pad);
                memcpy(p, s.u.s.ptr, s.u.s.len);
                memset(p + s.u.s.len, ' ', pad);
                s = hb_val_str(p, s.u.s.len + pad);
            }
        }
        *out = s;
        return HB_OK;
    }
    case HB_T_BYTEA:
        if (v->type == HB_VAL_BIN)
            return HB_OK;
        if (v->type == HB_VAL_STR) {
            const uint8_t *s = v->u.s.ptr;
            uint32_t len = v->u.s.len;
            if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
                uint32_t nhex = len - 2;
                if (nhex % 2)
                    return hb_sqlerr_set(err, "22023", "invalid hexadecimal data: odd number of digits");
                uint8_t *p = alloc(arg, nhex / 2 ? nhex / 2 : 1);
                for (uint32_t k = 0; k < nhex / 2; k++) {
                    int hv = 0;
                    for (int h = 0; h < 2; h++) {
                        int c = s[2 + 2 * k + (uint32_t)h], d;
                        if (c >= '0' && c <= '9')
                            d = c - '0';
                        else if (c >= 'a' && c <= 'f')
                            d = c - 'a' + 10;
                        else if (c >= 'A' && c <= 'F')
                            d = c - 'A' + 10;
                        else
                            return hb_sqlerr_set(err, "22023", "invalid hexadecimal digit");
                        hv = hv * 16 + d;
                    }
                    p[k] = (uint8_t)hv;
                }
                out->type = HB_VAL_BIN;
                out->u.s.ptr = p;
                out->u.s.len = nhex / 2;
                return HB_OK;
            }
            out->type = HB_VAL_BIN;
            return HB_OK;
        }
        return hb_sqlerr_set(err, "42804", "cannot convert %s to bytea", s_val_type_name(v));
    default:
        return hb_sqlerr_set(err, "0A000", "type %d is not supported", (int)t);
    }
}

/* ------------------------------------------------------------------ */
/* Rows                                                                 */
/* ------------------------------------------------------------------ */

hb_rc_t
hb_row_decode(const uint8_t *val, size_t len, hb_val_t *cols, uint32_t cap, uint32_t *n)
{
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, val, len);
    uint32_t cnt = 0;
    if (hb_mp_read_array(&r, &cnt) != HB_OK || cnt > cap)
        return HB_CORRUPT;
    for (uint32_t i = 0; i < cnt; i++)
        if (hb_mp_read_val(&r, &cols[i]) != HB_OK)
            return HB_CORRUPT;
    *n = cnt;
    return HB_OK;
}

void
hb_row_pack(msgpack_packer *pk, const hb_val_t *cols, uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        hb_mp_pack_val(pk, &cols[i]);
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

static hb_rc_t
s_optype(hb_expr_env_t *env, const char *op, const hb_val_t *a, const hb_val_t *b)
{
    return hb_sqlerr_set(env->err, "42883", "operator does not exist: %s %s %s",
                         s_val_type_name(a), op, s_val_type_name(b));
}

static hb_rc_t
s_arith(hb_expr_env_t *env, hb_ex_op_t op, const hb_val_t *a, const hb_val_t *b,
        hb_val_t *out)
{
    static const char *const sym[] = {[HB_EX_ADD] = "+", [HB_EX_SUB] = "-",
                                      [HB_EX_MUL] = "*", [HB_EX_DIV] = "/",
                                      [HB_EX_MOD] = "%"};
    if (!s_is_num(a) || !s_is_num(b))
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
    double x = s_as_double(a), y = s_as_double(b), z;
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
    *out = s_double(z);
    return HB_OK;
}

static bool
s_comparable(const hb_val_t *a, const hb_val_t *b)
{
    return (s_is_num(a) && s_is_num(b)) || a->type == b->type;
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
                                 nargs ? s_val_type_name(&a[0]) : "");
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
                                 nargs ? s_val_type_name(&a[0]) : "");
        *out = hb_val_int(a[0].type == HB_VAL_STR ? s_utf8_len(a[0].u.s.ptr, a[0].u.s.len)
                                                  : a[0].u.s.len);
        return HB_OK;
    case HB_FN_ABS:
        if (nargs != 1 || !s_is_num(&a[0]))
            return hb_sqlerr_set(env->err, "42883", "function abs(%s) does not exist",
                                 nargs ? s_val_type_name(&a[0]) : "");
        if (a[0].type == HB_VAL_INT) {
            if (a[0].u.i == INT64_MIN)
                return hb_sqlerr_set(env->err, "22003", "bigint out of range");
            *out = hb_val_int(a[0].u.i < 0 ? -a[0].u.i : a[0].u.i);
        } else {
            *out = s_double(fabs(a[0].u.d));
        }
        return HB_OK;
    case HB_FN_SUBSTR: {
        if (nargs < 2 || a[0].type != HB_VAL_STR || a[1].type != HB_VAL_INT ||
            (nargs == 3 && a[2].type != HB_VAL_INT))
            return hb_sqlerr_set(env->err, "42883", "function substr does not exist for "
                                                    "these argument types");
        int64_t from = a[1].u.i, cnt = INT64_MAX;
        if (nargs == 3) {
            if (a[2].u.i < 0)
                return hb_sqlerr_set(env->err, "22011", "negative substring length not allowed");
            cnt = a[2].u.i;
        }
        /* Characters from..from+cnt-1 (1-based), clipped to the string. */
        int64_t start = from < 1 ? 1 : from;
        int64_t stop = cnt == INT64_MAX || from > INT64_MAX - cnt ? INT64_MAX : from + cnt;
        uint32_t chars = s_utf8_len(a[0].u.s.ptr, a[0].u.s.len);
        if (stop <= start || start > chars) {
            *out = hb_val_str(a[0].u.s.ptr, 0);
            return HB_OK;
        }
        if (stop > (int64_t)chars + 1)
            stop = (int64_t)chars + 1;
        uint32_t b0 = s_utf8_off(a[0].u.s.ptr, a[0].u.s.len, (uint32_t)(start - 1));
        uint32_t b1 = s_utf8_off(a[0].u.s.ptr, a[0].u.s.len, (uint32_t)(stop - 1));
        *out = hb_val_str(a[0].u.s.ptr + b0, b1 - b0);
        return HB_OK;
    }
    default:
        return s_bad(env);
    }
}

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
    case HB_EX_OR: {
        if (n != 3)
            return s_bad(env);
        if ((rc = s_eval(r, env, depth + 1, &a)))
            return rc;
        if (a.type != HB_VAL_NIL && a.type != HB_VAL_BOOL)
            return hb_sqlerr_set(env->err, "42804", "argument of %s must be type boolean, not "
                                                    "type %s",
                                 op == HB_EX_AND ? "AND" : "OR", s_val_type_name(&a));
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
            return hb_sqlerr_set(env->err, "42804", "argument of %s must be type boolean, not "
                                                    "type %s",
                                 op == HB_EX_AND ? "AND" : "OR", s_val_type_name(&b));
        if (b.type == HB_VAL_BOOL && b.u.b == (op == HB_EX_OR))
            *out = b;
        else if (a.type == HB_VAL_NIL || b.type == HB_VAL_NIL)
            *out = hb_val_nil();
        else
            *out = s_bool(op == HB_EX_AND);
        return HB_OK;
    }
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
        if (op <= HB_EX_MOD)
            return s_arith(env, (hb_ex_op_t)op, &a, &b, out);
        if (op == HB_EX_CONCAT) {
            char ba[64], bb[64];
            hb_val_t sa = a, sb = b;
            if (sa.type != HB_VAL_STR && sa.type != HB_VAL_BIN) {
                size_t l = hb_val_format(&a, ba, sizeof ba);
                sa = hb_val_str(ba, (uint32_t)l);
            }
            if (sb.type != HB_VAL_STR && sb.type != HB_VAL_BIN) {
                size_t l = hb_val_format(&b, bb, sizeof bb);
                sb = hb_val_str(bb, (uint32_t)l);
            }
            uint32_t len = sa.u.s.len + sb.u.s.len;
            uint8_t *p = s_alloc(env, len);
            memcpy(p, sa.u.s.ptr, sa.u.s.len);
            memcpy(p + sa.u.s.len, sb.u.s.ptr, sb.u.s.len);
            *out = hb_val_str(p, len);
            if (a.type == HB_VAL_BIN && b.type == HB_VAL_BIN)
                out->type = HB_VAL_BIN;
            return HB_OK;
        }
        if (op == HB_EX_LIKE) {
            if (a.type != HB_VAL_STR || b.type != HB_VAL_STR)
                return s_optype(env, "~~", &a, &b);
            *out = s_bool(s_like(a.u.s.ptr, a.u.s.len, b.u.s.ptr, b.u.s.len));
            return HB_OK;
        }
        {
            static const char *const sym[] = {[HB_EX_EQ] = "=",  [HB_EX_NE] = "<>",
                                              [HB_EX_LT] = "<",  [HB_EX_LE] = "<=",
                                              [HB_EX_GT] = ">",  [HB_EX_GE] = ">="};
            if (!s_comparable(&a, &b))
                return s_optype(env, sym[op], &a, &b);
            int c = hb_val_cmp(&a, &b);
            bool res = op == HB_EX_EQ   ? c == 0
                       : op == HB_EX_NE ? c != 0
                       : op == HB_EX_LT ? c < 0
                       : op == HB_EX_LE ? c <= 0
                       : op == HB_EX_GT ? c > 0
                                        : c >= 0;
            *out = s_bool(res);
            return HB_OK;
        }
    case HB_EX_NOT:
    case HB_EX_NEG:
    case HB_EX_ISNULL:
    case HB_EX_NOTNULL:
        if (n != 2)
            return s_bad(env);
        if ((rc = s_eval(r, env, depth + 1, &a)))
            return rc;
        if (op == HB_EX_ISNULL || op == HB_EX_NOTNULL) {
            *out = s_bool((a.type == HB_VAL_NIL) == (op == HB_EX_ISNULL));
            return HB_OK;
        }
        if (a.type == HB_VAL_NIL) {
            *out = a;
            return HB_OK;
        }
        if (op == HB_EX_NOT) {
            if (a.type != HB_VAL_BOOL)
                return hb_sqlerr_set(env->err, "42804", "argument of NOT must be type boolean, "
                                                        "not type %s",
                                     s_val_type_name(&a));
            *out = s_bool(!a.u.b);
            return HB_OK;
        }
        if (a.type == HB_VAL_INT) {
            if (a.u.i == INT64_MIN)
                return hb_sqlerr_set(env->err, "22003", "bigint out of range");
            *out = hb_val_int(-a.u.i);
        } else if (a.type == HB_VAL_DOUBLE) {
            *out = s_double(-a.u.d);
        } else {
            return hb_sqlerr_set(env->err, "42883", "operator does not exist: - %s",
                                 s_val_type_name(&a));
        }
        return HB_OK;
    case HB_EX_IN: {
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
        *out = found ? s_bool(true) : saw_null ? hb_val_nil() : s_bool(false);
        return HB_OK;
    }
    case HB_EX_CASE: {
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
    case HB_EX_COALESCE: {
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
    case HB_EX_CAST: {
        uint64_t t;
        int64_t mod;
        if (n != 4 || (rc = s_eval(r, env, depth + 1, &a)))
            return n != 4 ? s_bad(env) : rc;
        if (hb_mp_read_uint(r, &t) != HB_OK || t >= HB_T_COUNT_ ||
            hb_mp_read_int(r, &mod) != HB_OK || mod < INT32_MIN || mod > INT32_MAX)
            return s_bad(env);
        return hb_val_coerce(&a, (hb_type_t)t, (int32_t)mod, env->alloc, env->alloc_arg, out,
                             env->err);
    }
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
        return hb_sqlerr_set(env->err, "42804", "argument of WHERE must be type boolean, not "
                                                "type %s",
                             s_val_type_name(&v));
    *result = v.u.b;
    return HB_OK;
}
