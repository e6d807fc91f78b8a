/* hb_val.c — SQL values: decimals, dates, formatting, comparison, coercion, rows.
 *
 * What a value is and how it converts: the exact decimals (int64
 * mantissa and scale, rounded half away from zero like PostgreSQL's
 * numeric), dates and timestamps as days / microseconds since 2000-01-01,
 * the text form of every type, the total order of hb_val_cmp, and
 * hb_val_coerce, the assignment cast a column or a CAST applies (22003,
 * 22P02, 22001 ... where PostgreSQL refuses). The evaluator (hb_expr.c)
 * computes with these; both sides of the cluster — sqlfront's constant
 * folding and storage's execution — use the same code, so they agree.
 *
 * Entry points: hb_val_cmp, hb_val_coerce, hb_val_format, hb_val_format_as,
 * hb_date_format, hb_timestamp_format, hb_row_decode, hb_row_pack; the
 * helpers the evaluator shares are in hb_expr_int.h.
 */
#include "hb_expr.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_expr_int.h"
#include "hb_mp.h"

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
__int128
hb_dec_round_div(__int128 n, int k)
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
bool
hb_dec_fit(__int128 n, int scale, hb_val_t *out)
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
        n = hb_dec_round_div(n, s - t);
    }
    return hb_dec_fit(n, t, out);
}

/* Integers and decimals as decimals. */
hb_val_t
hb_dec_of(const hb_val_t *v)
{
    return v->type == HB_VAL_DEC ? *v : hb_val_dec(v->u.i, 0);
}

static int
s_dec_cmp(const hb_val_t *a, const hb_val_t *b)
{
    hb_val_t x = hb_dec_of(a), y = hb_dec_of(b);
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
        n = hb_dec_round_div(n, -k);
    }
    if (neg)
        n = -n;
    if (!hb_dec_fit(n, t, out))
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
        us >= 0 ? us / HB_US_PER_DAY : -((-us + HB_US_PER_DAY - 1) / HB_US_PER_DAY);
    int64_t rem = us - days * HB_US_PER_DAY;
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
    *out = want_time ? days * HB_US_PER_DAY + us : days;
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

bool
hb_val_is_num(const hb_val_t *v)
{
    return v->type == HB_VAL_INT || v->type == HB_VAL_DOUBLE || v->type == HB_VAL_DEC;
}

double
hb_val_as_double(const hb_val_t *v)
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
        b->type != HB_VAL_DOUBLE && hb_val_is_num(a) && hb_val_is_num(b))
        return s_dec_cmp(a, b);
    if (hb_val_is_num(a) && hb_val_is_num(b)) {
        double x = hb_val_as_double(a), y = hb_val_as_double(b);
        /* NaN sorts above every number, as in PostgreSQL. */
        if (isnan(x) || isnan(y))
            return isnan(x) - isnan(y);
        return x < y ? -1 : x > y;
    }
    if (a->type != b->type) {
        /* Unrelated types order by kind; all numbers are one kind (above),
         * so the order stays transitive. */
        int ra = hb_val_is_num(a) ? 1 : (int)a->type + 1,
            rb = hb_val_is_num(b) ? 1 : (int)b->type + 1;
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

const char *
hb_val_type_name(const hb_val_t *v)
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
uint32_t
hb_utf8_len(const uint8_t *s, uint32_t len)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < len; i++)
        n += (s[i] & 0xC0) != 0x80;
    return n;
}

/* Byte offset of character ch (0-based) in s, or len if beyond. */
uint32_t
hb_utf8_off(const uint8_t *s, uint32_t len, uint32_t ch)
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
        return hb_sqlerr_set(err, "42804", "cannot convert %s to %s", hb_val_type_name(v),
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
    if (hb_val_is_num(v)) {
        d = hb_val_as_double(v);
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
        return hb_sqlerr_set(err, "42804", "cannot convert %s to %s", hb_val_type_name(v),
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
                             hb_val_type_name(v));
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
        uint32_t chars = hb_utf8_len(s.u.s.ptr, s.u.s.len);
        if (chars > (uint32_t)typmod) {
            /* Trailing blanks beyond the limit are cut, as in PostgreSQL. */
            uint32_t keep = hb_utf8_off(s.u.s.ptr, s.u.s.len, (uint32_t)typmod);
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
                             hb_val_type_name(v));
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
        d = hb_dec_of(v);
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
                             hb_val_type_name(v));
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
        return hb_sqlerr_set(err, "42804", "cannot convert %s to %s", hb_val_type_name(v),
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
