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
/* Values                                                               */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* Decimals and dates                                                   */
/* ------------------------------------------------------------------ */

const int64_t hb_pow10[19] = {1LL,
                              10LL,
                              100LL,
                              1000LL,
                              10000LL,
                              100000LL,
                              1000000LL,
                              10000000LL,
                              100000000LL,
                              1000000000LL,
                              10000000000LL,
                              100000000000LL,
                              1000000000000LL,
                              10000000000000LL,
                              100000000000000LL,
                              1000000000000000LL,
                              10000000000000000LL,
                              100000000000000000LL,
                              1000000000000000000LL};

/* Divides n by 10^k rounding half away from zero. */
static __int128
s_round_div(__int128 n, int k)
{
    if (k <= 0)
        return n;
    if (k > 38)
        return 0; /* |n| < 10^38: far below half a unit */
    __int128 d = 1;
    for (int i = 0; i < k; i++)
        d *= 10;
    __int128 q = n / d, r = n % d;
    if (r < 0)
        r = -r;
    if (2 * r >= d)
        q += n < 0 ? -1 : 1;
    return q;
}

/* Stores n (at scale) into *out when it fits int64. */
static bool
s_dec_fit(__int128 n, int scale, hb_val_t *out)
{
    if (n > INT64_MAX || n < -INT64_MAX)
        return false;
    *out = hb_val_dec((int64_t)n, scale);
    return true;
}

/* Rescales a decimal to scale t (rounding when t is smaller). */
static bool
s_dec_rescale(const hb_val_t *v, int t, hb_val_t *out)
{
    __int128 n = v->u.dec.m;
    int s = v->u.dec.scale;
    if (t >= s) {
        for (int i = s; i < t; i++)
            n *= 10;
    } else {
        n = s_round_div(n, s - t);
    }
    return s_dec_fit(n, t, out);
}

/* Integers and decimals as decimals. */
static hb_val_t
s_as_dec(const hb_val_t *v)
{
    return v->type == HB_VAL_DEC ? *v : hb_val_dec(v->u.i, 0);
}

static int
s_dec_cmp(const hb_val_t *a, const hb_val_t *b)
{
    hb_val_t x = s_as_dec(a), y = s_as_dec(b);
    __int128 p = x.u.dec.m, q = y.u.dec.m;
    for (int i = x.u.dec.scale; i < y.u.dec.scale; i++)
        p *= 10;
    for (int i = y.u.dec.scale; i < x.u.dec.scale; i++)
        q *= 10;
    return p < q ? -1 : p > q;
}

static double
s_dec_double(const hb_val_t *v)
{
    return (double)v->u.dec.m / (double)hb_pow10[v->u.dec.scale];
}

/* Parses decimal text (sign, digits, point, exponent) into a decimal at
 * scale `scale`, or at its own scale (capped at 18) when scale < 0.
 * Returns false for bad syntax, or with *overflow set when it does not
 * fit. */
static bool
s_dec_parse(const char *s, size_t len, int scale, hb_val_t *out, bool *overflow)
{
    size_t i = 0;
    *overflow = false;
    while (i < len && s[i] == ' ')
        i++;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    __int128 n = 0;
    int frac = 0, digits = 0, dropped = 0;
    bool point = false, any = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.' && !point) {
            point = true;
            continue;
        }
        if (c < '0' || c > '9')
            break;
        any = true;
        if (n == 0 && c == '0' && !point)
            continue; /* leading zeros */
        if (digits >= 36) {
            /* Beyond what any result can hold: only rounding can use it. */
            if (!point)
                dropped++;
            continue;
        }
        n = n * 10 + (c - '0');
        digits++;
        if (point)
            frac++;
    }
    if (!any)
        return false;
    int exp10 = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= len || s[i] < '0' || s[i] > '9')
            return false;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            exp10 = exp10 * 10 + (s[i++] - '0');
            if (exp10 > 1000)
                return false;
        }
        if (eneg)
            exp10 = -exp10;
    }
    while (i < len && s[i] == ' ')
        i++;
    if (i != len)
        return false;
    /* value = n * 10^(dropped + exp10 - frac) */
    int e = dropped + exp10 - frac;
    int own = -e > 0 ? -e : 0;
    if (own > HB_DEC_MAX_SCALE)
        own = HB_DEC_MAX_SCALE;
    int t = scale >= 0 ? scale : own;
    /* to scale t: n * 10^(e + t) */
    int k = e + t;
    if (k >= 0) {
        for (int j = 0; j < k; j++) {
            n *= 10;
            if (n > INT64_MAX) {
                *overflow = true;
                return true;
            }
        }
    } else {
        n = s_round_div(n, -k);
    }
    if (neg)
        n = -n;
    if (!s_dec_fit(n, t, out))
        *overflow = true;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm). */
static int64_t
s_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
s_civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

#define S_DAYS_1970_2000 10957
#define S_US_PER_DAY     86400000000LL

size_t
hb_date_format(int64_t days, char *out, size_t cap)
{
    int64_t y, m, d;
    s_civil_from_days(days + S_DAYS_1970_2000, &y, &m, &d);
    int n = snprintf(out, cap, "%04" PRId64 "-%02" PRId64 "-%02" PRId64, y, m, d);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t
hb_timestamp_format(int64_t us, char *out, size_t cap)
{
    int64_t days =
        us >= 0 ? us / S_US_PER_DAY : -((-us + S_US_PER_DAY - 1) / S_US_PER_DAY);
    int64_t rem = us - days * S_US_PER_DAY;
    size_t n = hb_date_format(days, out, cap);
    int64_t sec = rem / 1000000, frac = rem % 1000000;
    int k = snprintf(out + n, cap > n ? cap - n : 0,
                     " %02" PRId64 ":%02" PRId64 ":%02" PRId64, sec / 3600, sec / 60 % 60,
                     sec % 60);
    if (k > 0)
        n += (size_t)k;
    if (frac && n < cap) {
        char f[8];
        snprintf(f, sizeof f, "%06" PRId64, frac);
        size_t fl = 6;
        while (fl > 0 && f[fl - 1] == '0')
            fl--;
        k = snprintf(out + n, cap - n, ".%.*s", (int)fl, f);
        if (k > 0)
            n += (size_t)k;
    }
    return n < cap ? n : cap - 1;
}

/* Parses YYYY-MM-DD[( |T)HH:MM[:SS[.frac]]]. Returns 0, 1 for bad syntax,
 * 2 for a field out of range. */
static int
s_parse_datetime(const char *s, size_t len, bool want_time, int64_t *out)
{
    char buf[64];
    if (len >= sizeof buf)
        return 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *p = buf;
    while (*p == ' ')
        p++;
    char *end;
    long y = strtol(p, &end, 10);
    if (end == p || *end != '-')
        return 1;
    if (y < -4713 || y > 294276)
        return 2;
    p = end + 1;
    long mo = strtol(p, &end, 10);
    if (end == p || *end != '-')
        return 1;
    if (mo < 1 || mo > 12)
        return 2;
    p = end + 1;
    long d = strtol(p, &end, 10);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (end == p)
        return 1;
    if (d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return 2;
    p = end;
    int64_t days = s_days_from_civil(y, mo, d) - S_DAYS_1970_2000;
    int64_t us = 0;
    if (*p == ' ' || *p == 'T') {
        p++;
        while (*p == ' ')
            p++;
        if (*p) {
            long hh = strtol(p, &end, 10);
            if (end == p || *end != ':')
                return 1;
            if (hh < 0 || hh > 24)
                return 2;
            p = end + 1;
            long mi = strtol(p, &end, 10);
            if (end == p || mi < 0 || mi > 59)
                return 1;
            p = end;
            double sec = 0;
            if (*p == ':') {
                p++;
                if (*p < '0' || *p > '9')
                    return 1; /* no "nan", "inf", signs */
                sec = strtod(p, &end);
                if (end == p || !isfinite(sec))
                    return 1;
                if (sec < 0 || sec >= 60)
                    return 2;
                p = end;
            }
            if (hh == 24 && (mi != 0 || sec != 0))
                return 2;
            us = (int64_t)hh * 3600000000LL + (int64_t)mi * 60000000LL +
                 (int64_t)(sec * 1e6 + 0.5);
        }
    }
    while (*p == ' ')
        p++;
    if (*p)
        return 1;
    *out = want_time ? days * S_US_PER_DAY + us : days;
    return 0;
}

size_t
hb_val_format_as(const hb_val_t *v, hb_type_t t, char *out, size_t cap)
{
    if (v->type == HB_VAL_INT && t == HB_T_DATE)
        return hb_date_format(v->u.i, out, cap);
    if (v->type == HB_VAL_INT && t == HB_T_TIMESTAMP)
        return hb_timestamp_format(v->u.i, out, cap);
    return hb_val_format(v, out, cap);
}

static bool
s_is_num(const hb_val_t *v)
{
    return v->type == HB_VAL_INT || v->type == HB_VAL_DOUBLE || v->type == HB_VAL_DEC;
}

static double
s_as_double(const hb_val_t *v)
{
    return v->type == HB_VAL_INT   ? (double)v->u.i
           : v->type == HB_VAL_DEC ? s_dec_double(v)
                                   : v->u.d;
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
    if ((a->type == HB_VAL_DEC || b->type == HB_VAL_DEC) && a->type != HB_VAL_DOUBLE &&
        b->type != HB_VAL_DOUBLE && s_is_num(a) && s_is_num(b))
        return s_dec_cmp(a, b);
    if (s_is_num(a) && s_is_num(b)) {
        double x = s_as_double(a), y = s_as_double(b);
        /* NaN sorts above every number, as in PostgreSQL. */
        if (isnan(x) || isnan(y))
            return isnan(x) - isnan(y);
        return x < y ? -1 : x > y;
    }
    if (a->type != b->type) {
        /* Unrelated types order by kind; all numbers are one kind (above),
         * so the order stays transitive. */
        int ra = s_is_num(a) ? 1 : (int)a->type + 1,
            rb = s_is_num(b) ? 1 : (int)b->type + 1;
        if (a->type == HB_VAL_NIL)
            ra = 0;
        if (b->type == HB_VAL_NIL)
            rb = 0;
        return ra < rb ? -1 : ra > rb;
    }
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
    case HB_VAL_DEC:
        return "numeric";
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
                n = snprintf(out, cap, "%s", e); /* d.ddde+XX, shortest digits */
            else
                n = snprintf(out, cap, "%.*f",
                             prec - 1 - exp10 > 0 ? prec - 1 - exp10 : 0, d);
        }
        break;
    }
    case HB_VAL_STR: {
        size_t len = v->u.s.len < cap - 1 ? v->u.s.len : cap - 1;
        memcpy(out, v->u.s.ptr, len);
        out[len] = '\0';
        return len;
    }
    case HB_VAL_DEC: {
        int64_t m = v->u.dec.m;
        int sc = v->u.dec.scale;
        uint64_t a = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
        uint64_t ip = a / (uint64_t)hb_pow10[sc], fp = a % (uint64_t)hb_pow10[sc];
        if (sc)
            n = snprintf(out, cap, "%s%" PRIu64 ".%0*" PRIu64, m < 0 ? "-" : "", ip, sc,
                         fp);
        else
            n = snprintf(out, cap, "%s%" PRIu64, m < 0 ? "-" : "", ip);
        break;
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

/* hb_val_coerce's steps, one per target type family. Each is entered with
 * *out = *v and v not NULL; it returns HB_OK with *out set, or an error
 * with its SQLSTATE in err. */

/* To int2/int4/int8: integers, numerics and doubles (rounded half to even,
 * as PostgreSQL), text and booleans; range-checked for the width. */
static hb_rc_t
s_coerce_int(const hb_val_t *v, hb_type_t t, hb_val_t *out, hb_sqlerr_t *err)
{
    char buf[64];
    int64_t i;
    if (v->type == HB_VAL_INT) {
        i = v->u.i;
    } else if (v->type == HB_VAL_DEC) {
        hb_val_t r;
        if (!s_dec_rescale(v, 0, &r))
            return hb_sqlerr_set(err, "22003", "%s out of range", hb_type_name(t));
        i = r.u.dec.m;
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
        bool digits = end != buf;
        while (*end == ' ')
            end++;
        if (!digits || *end || v->u.s.len >= sizeof buf - 1)
            return hb_sqlerr_set(err, "22P02",
                                 "invalid input syntax for type %s: \"%.*s\"",
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

/* To float4/float8: any number, or text (no hexadecimal floats); float4
 * rounds through float. */
static hb_rc_t
s_coerce_float(const hb_val_t *v, hb_type_t t, hb_val_t *out, hb_sqlerr_t *err)
{
    char buf[64];
    double d;
    if (s_is_num(v)) {
        d = s_as_double(v);
    } else if (v->type == HB_VAL_STR) {
        size_t len = v->u.s.len < sizeof buf - 1 ? v->u.s.len : sizeof buf - 1;
        memcpy(buf, v->u.s.ptr, len);
        buf[len] = '\0';
        char *end;
        const char *q = buf;
        while (*q == ' ')
            q++;
        if (*q == '+' || *q == '-')
            q++;
        bool hex = q[0] == '0' && (q[1] == 'x' || q[1] == 'X');
        errno = 0;
        d = strtod(buf, &end);
        bool digits = end != buf && !hex;
        if (digits && errno == ERANGE)
            return hb_sqlerr_set(err, "22003", "\"%s\" is out of range for type %s", buf,
                                 hb_type_name(t));
        while (*end == ' ')
            end++;
        if (!digits || *end)
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

/* To boolean: a boolean, or PostgreSQL's words for true and false. */
static hb_rc_t
s_coerce_bool(const hb_val_t *v, hb_val_t *out, hb_sqlerr_t *err)
{
    if (v->type == HB_VAL_BOOL)
        return HB_OK;
    if (v->type != HB_VAL_STR)
        return hb_sqlerr_set(err, "42804", "cannot convert %s to boolean",
                             s_val_type_name(v));
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

/* To text/varchar(n)/char(n): anything but bytea, formatted; varchar and
 * char cut trailing blanks beyond n (anything else beyond n is an error),
 * char pads to n. */
static hb_rc_t
s_coerce_text(const hb_val_t *v, hb_type_t t, int32_t typmod,
              void *(*alloc)(void *arg, size_t size), void *arg, hb_val_t *out,
              hb_sqlerr_t *err)
{
    char buf[64];
    hb_val_t s = *v;
    if (v->type == HB_VAL_BOOL) {
        s = v->u.b ? hb_val_str("true", 4) : hb_val_str("false", 5);
    } else if (v->type != HB_VAL_STR) {
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
                    return hb_sqlerr_set(err, "22001", "value too long for type %s(%d)",
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

/* Returns the value of hexadecimal digit c, or -1. */
static int
s_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* To bytea: bytes, "\x..." hex text decoded, other text taken as bytes. */
static hb_rc_t
s_coerce_bytea(const hb_val_t *v, void *(*alloc)(void *arg, size_t size), void *arg,
               hb_val_t *out, hb_sqlerr_t *err)
{
    if (v->type == HB_VAL_BIN)
        return HB_OK;
    if (v->type != HB_VAL_STR)
        return hb_sqlerr_set(err, "42804", "cannot convert %s to bytea",
                             s_val_type_name(v));
    const uint8_t *s = v->u.s.ptr;
    uint32_t len = v->u.s.len;
    if (!(len >= 2 && s[0] == '\\' && s[1] == 'x')) {
        out->type = HB_VAL_BIN;
        return HB_OK;
    }
    uint32_t nhex = len - 2;
    if (nhex % 2)
        return hb_sqlerr_set(err, "22023",
                             "invalid hexadecimal data: odd number of digits");
    uint8_t *p = alloc(arg, nhex / 2 ? nhex / 2 : 1);
    for (uint32_t k = 0; k < nhex / 2; k++) {
        int hi = s_hex_digit(s[2 + 2 * k]), lo = s_hex_digit(s[3 + 2 * k]);
        if (hi < 0 || lo < 0)
            return hb_sqlerr_set(err, "22023", "invalid hexadecimal digit");
        p[k] = (uint8_t)(hi * 16 + lo);
    }
    out->type = HB_VAL_BIN;
    out->u.s.ptr = p;
    out->u.s.len = nhex / 2;
    return HB_OK;
}

/* To numeric(p, s) (typmod = p << 16 | s, or 0 for unconstrained): exact
 * from integers and numerics, parsed from text and doubles' text form. */
static hb_rc_t
s_coerce_numeric(const hb_val_t *v, int32_t typmod, hb_val_t *out, hb_sqlerr_t *err)
{
    char buf[64];
    int prec = typmod > 0 ? typmod >> 16 : 0;
    int scale = typmod > 0 ? typmod & 0xffff : -1;
    if (typmod < 0 || (typmod > 0 && (prec < 1 || prec > 18 || scale > prec)))
        return hb_sqlerr_set(err, "22023", "invalid numeric type modifier %d", typmod);
    hb_val_t d;
    bool overflow = false;
    if (v->type == HB_VAL_INT || v->type == HB_VAL_DEC) {
        d = s_as_dec(v);
        if (scale >= 0 && !s_dec_rescale(&d, scale, &d))
            overflow = true;
    } else if (v->type == HB_VAL_DOUBLE || v->type == HB_VAL_STR) {
        if (v->type == HB_VAL_DOUBLE && (isnan(v->u.d) || isinf(v->u.d)))
            return hb_sqlerr_set(err, "22003", "cannot convert %s to numeric",
                                 isnan(v->u.d) ? "NaN" : "infinity");
        size_t len;
        const char *txt;
        if (v->type == HB_VAL_DOUBLE) {
            len = hb_val_format(v, buf, sizeof buf);
            txt = buf;
        } else {
            len = v->u.s.len;
            txt = (const char *)v->u.s.ptr;
        }
        if (!s_dec_parse(txt, len, scale, &d, &overflow))
            return hb_sqlerr_set(err, "22P02",
                                 "invalid input syntax for type numeric: \"%.*s\"",
                                 (int)(len > 60 ? 60 : len), txt);
    } else {
        return hb_sqlerr_set(err, "42804", "cannot convert %s to numeric",
                             s_val_type_name(v));
    }
    if (!overflow && prec > 0 && prec <= 18) {
        uint64_t a =
            d.u.dec.m < 0 ? (uint64_t)0 - (uint64_t)d.u.dec.m : (uint64_t)d.u.dec.m;
        overflow = a >= (uint64_t)hb_pow10[prec];
    }
    if (overflow)
        return hb_sqlerr_set(err, "22003", "numeric field overflow");
    *out = d;
    return HB_OK;
}

/* To date/timestamp: integers are already in internal units; text is
 * parsed. */
static hb_rc_t
s_coerce_datetime(const hb_val_t *v, hb_type_t t, hb_val_t *out, hb_sqlerr_t *err)
{
    int64_t x;
    if (v->type == HB_VAL_INT)
        return HB_OK;
    if (v->type != HB_VAL_STR)
        return hb_sqlerr_set(err, "42804", "cannot convert %s to %s", s_val_type_name(v),
                             hb_type_name(t));
    int bad =
        s_parse_datetime((const char *)v->u.s.ptr, v->u.s.len, t == HB_T_TIMESTAMP, &x);
    int shown = (int)(v->u.s.len > 60 ? 60 : v->u.s.len);
    if (bad == 2)
        return hb_sqlerr_set(err, "22008", "date/time field value out of range: \"%.*s\"",
                             shown, (const char *)v->u.s.ptr);
    if (bad)
        return hb_sqlerr_set(err, "22007", "invalid input syntax for type %s: \"%.*s\"",
                             hb_type_name(t), shown, (const char *)v->u.s.ptr);
    *out = hb_val_int(x);
    return HB_OK;
}

hb_rc_t
hb_val_coerce(const hb_val_t *v, hb_type_t t, int32_t typmod,
              void *(*alloc)(void *arg, size_t size), void *arg, hb_val_t *out,
              hb_sqlerr_t *err)
{
    *out = *v;
    if (v->type == HB_VAL_NIL || t == HB_T_UNKNOWN)
        return HB_OK;
    switch (t) {
    case HB_T_INT2:
    case HB_T_INT4:
    case HB_T_INT8:
        return s_coerce_int(v, t, out, err);
    case HB_T_FLOAT4:
    case HB_T_FLOAT8:
        return s_coerce_float(v, t, out, err);
    case HB_T_BOOL:
        return s_coerce_bool(v, out, err);
    case HB_T_TEXT:
    case HB_T_VARCHAR:
    case HB_T_CHAR:
        return s_coerce_text(v, t, typmod, alloc, arg, out, err);
    case HB_T_BYTEA:
        return s_coerce_bytea(v, alloc, arg, out, err);
    case HB_T_NUMERIC:
        return s_coerce_numeric(v, typmod, out, err);
    case HB_T_DATE:
    case HB_T_TIMESTAMP:
        return s_coerce_datetime(v, t, out, err);
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

hb_rc_t
hb_row_pack(msgpack_packer *pk, const hb_val_t *cols, uint32_t n)
{
    msgpack_pack_array(pk, n);
    hb_rc_t rc = HB_OK;
    for (uint32_t i = 0; i < n; i++)
        if (hb_mp_pack_val(pk, &cols[i]) != HB_OK && rc == HB_OK)
            rc = HB_INVALID; /* keep the array whole; the caller discards it */
    return rc;
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
                         s_val_type_name(a), op, s_val_type_name(b));
}

/* Decimal arithmetic (at least one operand a decimal, none a double):
 * + - keep the larger scale, * adds scales (rounded to 18), / gives at
 * least 16 fractional digits when they fit, as PostgreSQL roughly does. */
static hb_rc_t
s_dec_arith(hb_expr_env_t *env, hb_ex_op_t op, const hb_val_t *a, const hb_val_t *b,
            hb_val_t *out)
{
    hb_val_t x = s_as_dec(a), y = s_as_dec(b);
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
            r = s_round_div(r, sc - HB_DEC_MAX_SCALE);
            sc = HB_DEC_MAX_SCALE;
        }
        while (sc > 0 && (r > INT64_MAX || r < -INT64_MAX)) {
            r = s_round_div(r, 1);
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
    if (!s_dec_fit(r, sc, out))
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
    if (a->type != HB_VAL_DOUBLE && b->type != HB_VAL_DOUBLE)
        return s_dec_arith(env, op, a, b, out);
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
        *out =
            hb_val_int(a[0].u.i >= 0 ? a[0].u.i / S_US_PER_DAY
                                     : -((-a[0].u.i + S_US_PER_DAY - 1) / S_US_PER_DAY));
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
        return hb_sqlerr_set(env->err, "42804",
                             "argument of %s must be type boolean, not "
                             "type %s",
                             op == HB_EX_AND ? "AND" : "OR", s_val_type_name(&b));
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
                                 s_val_type_name(a));
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
                             s_val_type_name(a));
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
        a.u.s.len = s_utf8_off(a.u.s.ptr, a.u.s.len, (uint32_t)mod);
    }
    return hb_val_coerce(&a, (hb_type_t)t, (int32_t)mod, env->alloc, env->alloc_arg, out,
                         env->err);
}

/* The interpreter's opcode switch: evaluates the one node at r into *out.
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
                             s_val_type_name(&v));
    *result = v.u.b;
    return HB_OK;
}
