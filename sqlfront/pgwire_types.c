/* pgwire_types.c — values in and out of the wire protocol: type oids, text
 * and binary forms.
 *
 * The engine answers with typed values (hb_val_t) and type names; a client
 * reads them as text or, column by column as Bind asked, in PostgreSQL's
 * binary send format. Parameters come in as text (passed on as strings,
 * typed like literals by the planner) or binary (decoded here by the type
 * Parse gave them). What PostgreSQL prints a certain way (floats in
 * shortest form, bytea as \x hex, numeric in base-10000 groups) is
 * printed that way here.
 *
 * Entry points: sqlf_pg_oid, sqlf_pg_cell_text, sqlf_pg_row_desc,
 * sqlf_pg_data_row (out), sqlf_pg_bin_param (in).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_expr.h"
#include "pgwire_int.h"

/* ------------------------------------------------------------------ */
/* Out: values to text and binary                                       */
/* ------------------------------------------------------------------ */

uint32_t
sqlf_pg_oid(const hb_val_t *type)
{
    static const struct {
        const char *name;
        uint32_t oid;
    } m[] = {
        {"smallint", OID_INT2},
        {"integer", OID_INT4},
        {"bigint", OID_INT8},
        {"boolean", OID_BOOL},
        {"real", OID_FLOAT4},
        {"double precision", OID_FLOAT8},
        {"text", OID_TEXT},
        {"character varying", OID_VARCHAR},
        {"character", OID_BPCHAR},
        {"bytea", OID_BYTEA},
        {"numeric", OID_NUMERIC},
        {"date", OID_DATE},
        {"timestamp without time zone", OID_TIMESTAMP},
        {"timestamp", OID_TIMESTAMP},
        {"name", OID_NAME},
        {"oid", OID_OID},
    };
    if (type->type != HB_VAL_STR)
        return OID_TEXT;
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (strlen(m[i].name) == type->u.s.len &&
            memcmp(m[i].name, type->u.s.ptr, type->u.s.len) == 0)
            return m[i].oid;
    return OID_TEXT;
}

static int16_t
s_typlen(uint32_t oid)
{
    switch (oid) {
    case OID_BOOL:
        return 1;
    case OID_INT2:
        return 2;
    case OID_INT4:
    case OID_FLOAT4:
    case OID_DATE:
    case OID_OID:
        return 4;
    case OID_INT8:
    case OID_FLOAT8:
    case OID_TIMESTAMP:
        return 8;
    default:
        return -1;
    }
}

/* Shortest text that reads back as the same float (PostgreSQL 12+). */
static size_t
s_float_text(double d, bool single, char *out, size_t cap)
{
    if (isnan(d))
        return (size_t)snprintf(out, cap, "NaN");
    if (isinf(d))
        return (size_t)snprintf(out, cap, d > 0 ? "Infinity" : "-Infinity");
    for (int prec = 1; prec <= 17; prec++) {
        int n = snprintf(out, cap, "%.*g", prec, d);
        if (single ? strtof(out, NULL) == (float)d : strtod(out, NULL) == d)
            return (size_t)n;
    }
    return (size_t)snprintf(out, cap, "%.17g", d);
}

/* Appends cell v of column type oid as text (a length-prefixed DataRow
 * field when lenpfx). */
void
sqlf_pg_cell_text(sqlf_pg_buf_t *b, const hb_val_t *v, uint32_t oid, bool lenpfx)
{
    if (v->type == HB_VAL_STR) {
        if (lenpfx)
            sqlf_pg_put32(b, v->u.s.len);
        sqlf_pg_put(b, v->u.s.ptr, v->u.s.len);
        return;
    }
    if (v->type == HB_VAL_BIN) {
        if (lenpfx)
            sqlf_pg_put32(b, 2 + 2 * v->u.s.len);
        sqlf_pg_put(b, "\\x", 2);
        static const char hx[] = "0123456789abcdef";
        for (uint32_t i = 0; i < v->u.s.len; i++) {
            char two[2] = {hx[v->u.s.ptr[i] >> 4], hx[v->u.s.ptr[i] & 15]};
            sqlf_pg_put(b, two, 2);
        }
        return;
    }
    char buf[64];
    size_t n;
    if (v->type == HB_VAL_DOUBLE)
        n = s_float_text(v->u.d, oid == OID_FLOAT4, buf, sizeof buf);
    else
        n = hb_val_format(v, buf, sizeof buf);
    if (lenpfx)
        sqlf_pg_put32(b, (uint32_t)n);
    sqlf_pg_put(b, buf, n);
}

static void *
s_alloc_cb(void *arg, size_t n)
{
    (void)arg;
    static __thread char scratch[4096];
    return n <= sizeof scratch ? scratch : NULL;
}

/* PostgreSQL's binary numeric from m * 10^-scale. */
static void
s_numeric_bin(sqlf_pg_buf_t *b, int64_t m, int32_t scale)
{
    bool neg = m < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    char digits[48];
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)u);
    /* Pad so there are at least scale + 1 digits. */
    char padded[96];
    int lead = nd <= scale ? scale + 1 - nd : 0;
    memset(padded, '0', (size_t)lead);
    memcpy(padded + lead, digits, (size_t)nd + 1);
    int total = lead + nd, intd = total - scale;
    /* Groups of 4 aligned at the point. */
    int ipad = (4 - intd % 4) % 4, fpad = (4 - scale % 4) % 4;
    char all[128];
    memset(all, '0', (size_t)ipad);
    memcpy(all + ipad, padded, (size_t)total);
    memset(all + ipad + total, '0', (size_t)fpad);
    int ng = (ipad + total + fpad) / 4;
    int16_t g[32];
    for (int i = 0; i < ng; i++) {
        int x = 0;
        for (int k = 0; k < 4; k++)
            x = x * 10 + (all[i * 4 + k] - '0');
        g[i] = (int16_t)x;
    }
    int weight = (ipad + intd) / 4 - 1;
    int first = 0, last = ng;
    while (first < last && g[first] == 0) {
        first++;
        weight--;
    }
    while (last > first && g[last - 1] == 0)
        last--;
    if (first == last)
        weight = 0;
    sqlf_pg_put16(b, (uint16_t)(last - first));
    sqlf_pg_put16(b, (uint16_t)(int16_t)weight);
    sqlf_pg_put16(b, neg && first < last ? 0x4000 : 0);
    sqlf_pg_put16(b, (uint16_t)scale);
    for (int i = first; i < last; i++)
        sqlf_pg_put16(b, (uint16_t)g[i]);
}

/* Appends cell v (not NULL) as a binary DataRow field of type oid. */
static void
s_cell_binary(sqlf_pg_buf_t *b, const hb_val_t *v, uint32_t oid)
{
    hb_sqlerr_t err;
    hb_val_t x = *v;
    if (v->type == HB_VAL_STR &&
        (oid == OID_DATE || oid == OID_TIMESTAMP || oid == OID_NUMERIC)) {
        hb_type_t t = oid == OID_DATE        ? HB_T_DATE
                      : oid == OID_TIMESTAMP ? HB_T_TIMESTAMP
                                             : HB_T_NUMERIC;
        if (hb_val_coerce(v, t, 0, s_alloc_cb, NULL, &x, &err) != HB_OK)
            x = *v;
    }
    size_t at = b->len;
    sqlf_pg_put32(b, 0);
    switch (oid) {
    case OID_BOOL:
        sqlf_pg_put8(b, x.type == HB_VAL_BOOL ? x.u.b : x.u.i != 0);
        break;
    case OID_INT2:
        sqlf_pg_put16(b, (uint16_t)x.u.i);
        break;
    case OID_INT4:
    case OID_OID:
    case OID_DATE:
        sqlf_pg_put32(b, (uint32_t)x.u.i);
        break;
    case OID_INT8:
    case OID_TIMESTAMP:
        sqlf_pg_put64(b, (uint64_t)x.u.i);
        break;
    case OID_FLOAT4: {
        float f = (float)(x.type == HB_VAL_INT ? (double)x.u.i : x.u.d);
        uint32_t u;
        memcpy(&u, &f, 4);
        sqlf_pg_put32(b, u);
        break;
    }
    case OID_FLOAT8: {
        double d = x.type == HB_VAL_INT ? (double)x.u.i : x.u.d;
        uint64_t u;
        memcpy(&u, &d, 8);
        sqlf_pg_put64(b, u);
        break;
    }
    case OID_NUMERIC:
        if (x.type == HB_VAL_DEC)
            s_numeric_bin(b, x.u.dec.m, x.u.dec.scale);
        else if (x.type == HB_VAL_INT)
            s_numeric_bin(b, x.u.i, 0);
        else
            sqlf_pg_cell_text(b, &x, oid, false);
        break;
    case OID_BYTEA:
        if (x.type == HB_VAL_BIN || x.type == HB_VAL_STR)
            sqlf_pg_put(b, x.u.s.ptr, x.u.s.len);
        else
            sqlf_pg_cell_text(b, &x, oid, false);
        break;
    default:
        sqlf_pg_cell_text(b, &x, oid, false);
    }
    uint32_t n = (uint32_t)(b->len - at - 4);
    b->p[at] = (uint8_t)(n >> 24);
    b->p[at + 1] = (uint8_t)(n >> 16);
    b->p[at + 2] = (uint8_t)(n >> 8);
    b->p[at + 3] = (uint8_t)n;
}

static int16_t
s_fmt(const int16_t *f, uint32_t nf, uint32_t col)
{
    return nf == 0 ? 0 : nf == 1 ? f[0] : col < nf ? f[col] : 0;
}

void
sqlf_pg_row_desc(sqlf_pg_conn_t *c, const sqlf_pg_group_t *g, const int16_t *f,
                 uint32_t nf)
{
    size_t at = sqlf_pg_begin(&c->out, 'T');
    sqlf_pg_put16(&c->out, (uint16_t)g->ncols);
    for (uint32_t i = 0; i < g->ncols; i++) {
        const hb_val_t *nm = &g->cols[2 * i];
        sqlf_pg_put(&c->out,
                    nm->type == HB_VAL_STR ? nm->u.s.ptr : (const uint8_t *)"?column?",
                    nm->type == HB_VAL_STR ? nm->u.s.len : 8);
        sqlf_pg_put8(&c->out, 0);
        sqlf_pg_put32(&c->out, 0);
        sqlf_pg_put16(&c->out, 0);
        uint32_t oid = sqlf_pg_oid(&g->cols[2 * i + 1]);
        sqlf_pg_put32(&c->out, oid);
        sqlf_pg_put16(&c->out, (uint16_t)s_typlen(oid));
        sqlf_pg_put32(&c->out, 0xffffffffu);
        sqlf_pg_put16(&c->out, (uint16_t)s_fmt(f, nf, i));
    }
    sqlf_pg_end(&c->out, at);
}

void
sqlf_pg_data_row(sqlf_pg_conn_t *c, const sqlf_pg_group_t *g, uint32_t row,
                 const int16_t *f, uint32_t nf)
{
    size_t at = sqlf_pg_begin(&c->out, 'D');
    sqlf_pg_put16(&c->out, (uint16_t)g->ncols);
    for (uint32_t i = 0; i < g->ncols; i++) {
        const hb_val_t *v = &g->cells[(size_t)row * g->ncols + i];
        uint32_t oid = sqlf_pg_oid(&g->cols[2 * i + 1]);
        if (v->type == HB_VAL_NIL)
            sqlf_pg_put32(&c->out, 0xffffffffu);
        else if (s_fmt(f, nf, i) == 1)
            s_cell_binary(&c->out, v, oid);
        else
            sqlf_pg_cell_text(&c->out, v, oid, true);
    }
    sqlf_pg_end(&c->out, at);
}

/* ------------------------------------------------------------------ */
/* In: binary parameters                                                */
/* ------------------------------------------------------------------ */

/* A binary numeric (n bytes at b) as its text, written to tmp (cap bytes). */
static bool
s_numeric_param(const uint8_t *b, uint32_t n, hb_val_t *out, char *tmp, size_t cap)
{
    if (n < 8)
        return false;
    uint16_t nd = sqlf_pg_get16(b), sign = sqlf_pg_get16(b + 4),
             dscale = sqlf_pg_get16(b + 6);
    int16_t weight = (int16_t)sqlf_pg_get16(b + 2);
    if (n != 8 + 2u * nd || nd > 40 || dscale > 1000 || sign == 0xC000)
        return false;
    /* digits as text: groups of 4 around the point */
    size_t o = 0;
    if (sign == 0x4000)
        tmp[o++] = '-';
    if (weight < 0)
        tmp[o++] = '0';
    for (int w = 0; w <= weight; w++) {
        int d = w < nd ? sqlf_pg_get16(b + 8 + 2 * w) : 0;
        o += (size_t)snprintf(tmp + o, cap - o, w == 0 ? "%d" : "%04d", d);
        if (o + 8 >= cap)
            return false;
    }
    if (dscale) {
        tmp[o++] = '.';
        for (int k = 0; k < dscale; k++) {
            int gi = weight + 1 + k / 4; /* group index of fraction digit k */
            int d = (gi >= 0 && gi < nd) ? sqlf_pg_get16(b + 8 + 2 * gi) : 0;
            static const int div[4] = {1000, 100, 10, 1};
            if (o + 2 >= cap)
                return false;
            tmp[o++] = (char)('0' + d / div[k % 4] % 10);
        }
    }
    tmp[o] = '\0';
    *out = hb_val_str(tmp, (uint32_t)o);
    return true;
}

bool
sqlf_pg_bin_param(uint32_t oid, const uint8_t *b, uint32_t n, hb_val_t *out, char *tmp,
                  size_t cap)
{
    switch (oid) {
    case OID_BOOL:
        if (n != 1)
            return false;
        *out = hb_val_bool(b[0] != 0);
        return true;
    case OID_INT2:
        if (n != 2)
            return false;
        *out = hb_val_int((int16_t)sqlf_pg_get16(b));
        return true;
    case OID_INT4:
    case OID_OID:
        if (n != 4)
            return false;
        *out = hb_val_int((int32_t)sqlf_pg_get32(b));
        return true;
    case OID_INT8:
        if (n != 8)
            return false;
        *out = hb_val_int(
            (int64_t)((uint64_t)sqlf_pg_get32(b) << 32 | sqlf_pg_get32(b + 4)));
        return true;
    case OID_FLOAT4: {
        if (n != 4)
            return false;
        uint32_t u = sqlf_pg_get32(b);
        float f;
        memcpy(&f, &u, 4);
        *out = hb_val_double(f);
        return true;
    }
    case OID_FLOAT8: {
        if (n != 8)
            return false;
        uint64_t u = (uint64_t)sqlf_pg_get32(b) << 32 | sqlf_pg_get32(b + 4);
        double d;
        memcpy(&d, &u, 8);
        *out = hb_val_double(d);
        return true;
    }
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_BPCHAR:
    case OID_NAME:
    case OID_UNKNOWN:
        *out = hb_val_str(b, n);
        return true;
    case OID_BYTEA:
        *out = hb_val_bin(b, n);
        return true;
    case OID_DATE: {
        if (n != 4)
            return false;
        size_t l = hb_date_format((int32_t)sqlf_pg_get32(b), tmp, cap);
        *out = hb_val_str(tmp, (uint32_t)l);
        return true;
    }
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ: {
        if (n != 8)
            return false;
        int64_t us = (int64_t)((uint64_t)sqlf_pg_get32(b) << 32 | sqlf_pg_get32(b + 4));
        size_t l = hb_timestamp_format(us, tmp, cap);
        *out = hb_val_str(tmp, (uint32_t)l);
        return true;
    }
    case OID_NUMERIC:
        return s_numeric_param(b, n, out, tmp, cap);
    default:
        return false;
    }
}
