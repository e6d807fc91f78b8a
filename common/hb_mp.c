/* hb_mp.c — bounded, zero-copy msgpack reader and packing helpers.
 *
 * The reader walks a byte range with explicit bounds: every multi-byte
 * header, payload and declared element count is checked against the bytes
 * that remain before anything is read or returned, so a caller that sizes an
 * allocation from a count returned here never allocates more than the input
 * could describe. Errors are sticky (see hb_mp.h). The pack helpers are thin
 * wrappers over msgpack-c's packer that turn its int status into hb_rc_t.
 */
#include "hb_mp.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Reader primitives                                                    */
/* ------------------------------------------------------------------ */

/* Records rc as the reader's first error and returns the sticky error. */
static hb_rc_t
s_fail(hb_mp_reader_t *r, hb_rc_t rc)
{
    if (r->err == HB_OK)
        r->err = rc;
    return r->err;
}

static bool
s_has(const hb_mp_reader_t *r, size_t n)
{
    return (size_t)(r->end - r->p) >= n;
}

static uint64_t
s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads an n-byte big-endian unsigned integer after the tag byte. */
static hb_rc_t
s_take_be(hb_mp_reader_t *r, size_t n, uint64_t *v)
{
    if (!s_has(r, n))
        return s_fail(r, HB_PROTO);
    *v = s_be(r->p, n);
    r->p += n;
    return HB_OK;
}

void
hb_mp_reader_init(hb_mp_reader_t *r, const void *data, size_t len)
{
    r->p = data;
    r->end = data ? r->p + len : r->p; /* NULL + 0 is undefined in C */
    r->err = HB_OK;
}

size_t
hb_mp_remaining(const hb_mp_reader_t *r)
{
    return (size_t)(r->end - r->p);
}

static hb_mp_type_t
s_type_of(uint8_t b)
{
    if (b <= 0x7f || (b >= 0xcc && b <= 0xcf))
        return HB_MP_UINT;
    if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3))
        return HB_MP_INT;
    if (b >= 0x80 && b <= 0x8f)
        return HB_MP_MAP;
    if (b >= 0x90 && b <= 0x9f)
        return HB_MP_ARRAY;
    if (b >= 0xa0 && b <= 0xbf)
        return HB_MP_STR;
    switch (b) {
    case 0xc0:
        return HB_MP_NIL;
    case 0xc2:
    case 0xc3:
        return HB_MP_BOOL;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        return HB_MP_BIN;
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return HB_MP_EXT;
    case 0xca:
    case 0xcb:
        return HB_MP_FLOAT;
    case 0xd9:
    case 0xda:
    case 0xdb:
        return HB_MP_STR;
    case 0xdc:
    case 0xdd:
        return HB_MP_ARRAY;
    case 0xde:
    case 0xdf:
        return HB_MP_MAP;
    default:
        return HB_MP_INVALID; /* 0xc1 */
    }
}

hb_mp_type_t
hb_mp_peek(const hb_mp_reader_t *r)
{
    if (r->err != HB_OK || r->p >= r->end)
        return HB_MP_INVALID;
    /* Signed int8..64 tags are INT whatever their value; hb_mp_read_uint
     * still accepts a non-negative one. */
    return s_type_of(*r->p);
}

/* ------------------------------------------------------------------ */
/* Containers                                                           */
/* ------------------------------------------------------------------ */

/* Reads an array or map header. Each declared element needs at least one
 * byte (a map entry two), so a count the remaining bytes cannot hold is
 * rejected here, before any caller sizes an allocation from it. */
static hb_rc_t
s_read_container(hb_mp_reader_t *r, bool map, uint32_t *n)
{
    *n = 0;
    if (r->err != HB_OK)
        return r->err;
    if (!s_has(r, 1))
        return s_fail(r, HB_PROTO);
    const uint8_t *start = r->p;
    uint8_t b = *r->p++;
    uint64_t count = 0;
    hb_rc_t rc = HB_OK;
    if (!map && b >= 0x90 && b <= 0x9f)
        count = b & 0x0f;
    else if (map && b >= 0x80 && b <= 0x8f)
        count = b & 0x0f;
    else if (b == (map ? 0xde : 0xdc))
        rc = s_take_be(r, 2, &count);
    else if (b == (map ? 0xdf : 0xdd))
        rc = s_take_be(r, 4, &count);
    else
        rc = s_fail(r, HB_PROTO);
    if (rc != HB_OK) {
        r->p = start;
        return rc;
    }
    uint64_t min_bytes = count * (map ? 2u : 1u);
    if (min_bytes > hb_mp_remaining(r)) {
        r->p = start;
        return s_fail(r, HB_PROTO);
    }
    *n = (uint32_t)count;
    return HB_OK;
}

hb_rc_t
hb_mp_read_array(hb_mp_reader_t *r, uint32_t *n)
{
    return s_read_container(r, false, n);
}

hb_rc_t
hb_mp_read_map(hb_mp_reader_t *r, uint32_t *n)
{
    return s_read_container(r, true, n);
}

/* ------------------------------------------------------------------ */
/* Scalars                                                              */
/* ------------------------------------------------------------------ */

hb_rc_t
hb_mp_read_nil(hb_mp_reader_t *r)
{
    if (r->err != HB_OK)
        return r->err;
    if (!s_has(r, 1) || *r->p != 0xc0)
        return s_fail(r, HB_PROTO);
    r->p++;
    return HB_OK;
}

hb_rc_t
hb_mp_read_bool(hb_mp_reader_t *r, bool *v)
{
    *v = false;
    if (r->err != HB_OK)
        return r->err;
    if (!s_has(r, 1) || (*r->p != 0xc2 && *r->p != 0xc3))
        return s_fail(r, HB_PROTO);
    *v = *r->p == 0xc3;
    r->p++;
    return HB_OK;
}

/* Reads any msgpack integer. On success *neg tells whether the value is
 * negative; then *s holds it, else *u does. Does not consume on error. */
static hb_rc_t
s_read_integer(hb_mp_reader_t *r, bool *neg, uint64_t *u, int64_t *s)
{
    *neg = false;
    *u = 0;
    *s = 0;
    if (r->err != HB_OK)
        return r->err;
    if (!s_has(r, 1))
        return s_fail(r, HB_PROTO);
    uint8_t b = r->p[0];
    if (b <= 0x7f) {
        *u = b;
        r->p++;
        return HB_OK;
    }
    if (b >= 0xe0) {
        *neg = true;
        *s = (int8_t)b;
        r->p++;
        return HB_OK;
    }
    /* 0xcc..0xcf: uint8..64; 0xd0..0xd3: int8..64. */
    bool is_signed = b >= 0xd0 && b <= 0xd3;
    if (!is_signed && (b < 0xcc || b > 0xcf))
        return s_fail(r, HB_PROTO);
    size_t n = (size_t)1 << (b - (is_signed ? 0xd0 : 0xcc));
    if (!s_has(r, 1 + n))
        return s_fail(r, HB_PROTO);
    uint64_t raw = s_be(r->p + 1, n);
    r->p += 1 + n;
    if (!is_signed) {
        *u = raw;
        return HB_OK;
    }
    /* Sign-extend an n-byte two's complement value. */
    if (n < 8 && (raw & (1ULL << (8 * n - 1))))
        raw |= ~((1ULL << (8 * n)) - 1);
    int64_t v;
    memcpy(&v, &raw, sizeof v);
    if (v < 0) {
        *neg = true;
        *s = v;
    } else {
        *u = (uint64_t)v;
    }
    return HB_OK;
}

hb_rc_t
hb_mp_read_uint(hb_mp_reader_t *r, uint64_t *v)
{
    bool neg;
    uint64_t u;
    int64_t s;
    const uint8_t *start = r->p;
    *v = 0;
    hb_rc_t rc = s_read_integer(r, &neg, &u, &s);
    if (rc != HB_OK)
        return rc;
    if (neg) {
        r->p = start;
        return s_fail(r, HB_PROTO);
    }
    *v = u;
    return HB_OK;
}

hb_rc_t
hb_mp_read_int(hb_mp_reader_t *r, int64_t *v)
{
    bool neg;
    uint64_t u;
    int64_t s;
    const uint8_t *start = r->p;
    *v = 0;
    hb_rc_t rc = s_read_integer(r, &neg, &u, &s);
    if (rc != HB_OK)
        return rc;
    if (!neg && u > (uint64_t)INT64_MAX) {
        r->p = start;
        return s_fail(r, HB_PROTO);
    }
    *v = neg ? s : (int64_t)u;
    return HB_OK;
}

hb_rc_t
hb_mp_read_double(hb_mp_reader_t *r, double *v)
{
    *v = 0;
    if (r->err != HB_OK)
        return r->err;
    if (!s_has(r, 1))
        return s_fail(r, HB_PROTO);
    uint8_t b = r->p[0];
    if (b == 0xca && s_has(r, 5)) {
        uint32_t bits = (uint32_t)s_be(r->p + 1, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        *v = f;
        r->p += 5;
        return HB_OK;
    }
    if (b == 0xcb && s_has(r, 9)) {
        uint64_t bits = s_be(r->p + 1, 8);
        memcpy(v, &bits, sizeof *v);
        r->p += 9;
        return HB_OK;
    }
    return s_fail(r, HB_PROTO);
}

/* Reads a str (allow_str) or bin (allow_bin) header and payload. */
static hb_rc_t
s_read_bytes(hb_mp_reader_t *r, bool allow_str, bool allow_bin, const uint8_t **s,
             uint32_t *len)
{
    *s = NULL;
    *len = 0;
    if (r->err != HB_OK)
        return r->err;
    if (!s_has(r, 1))
        return s_fail(r, HB_PROTO);
    uint8_t b = r->p[0];
    size_t hdr;
    uint64_t n;
    if (allow_str && b >= 0xa0 && b <= 0xbf) {
        hdr = 1;
        n = b & 0x1f;
    } else if ((allow_str && b == 0xd9) || (allow_bin && b == 0xc4)) {
        hdr = 2;
    } else if ((allow_str && b == 0xda) || (allow_bin && b == 0xc5)) {
        hdr = 3;
    } else if ((allow_str && b == 0xdb) || (allow_bin && b == 0xc6)) {
        hdr = 5;
    } else {
        return s_fail(r, HB_PROTO);
    }
    if (!s_has(r, hdr))
        return s_fail(r, HB_PROTO);
    if (hdr > 1)
        n = s_be(r->p + 1, hdr - 1);
    if (n > hb_mp_remaining(r) - hdr)
        return s_fail(r, HB_PROTO);
    *s = r->p + hdr;
    *len = (uint32_t)n;
    r->p += hdr + n;
    return HB_OK;
}

hb_rc_t
hb_mp_read_str(hb_mp_reader_t *r, const char **s, uint32_t *len)
{
    const uint8_t *p;
    hb_rc_t rc = s_read_bytes(r, true, false, &p, len);
    *s = (const char *)p;
    return rc;
}

hb_rc_t
hb_mp_read_bin(hb_mp_reader_t *r, const uint8_t **s, uint32_t *len)
{
    return s_read_bytes(r, true, true, s, len);
}

static hb_rc_t
s_read_val(hb_mp_reader_t *r, hb_val_t *v)
{
    switch (hb_mp_peek(r)) {
    case HB_MP_NIL:
        return hb_mp_read_nil(r);
    case HB_MP_BOOL:
        v->type = HB_VAL_BOOL;
        return hb_mp_read_bool(r, &v->u.b);
    case HB_MP_UINT:
    case HB_MP_INT:
        v->type = HB_VAL_INT;
        return hb_mp_read_int(r, &v->u.i);
    case HB_MP_FLOAT:
        v->type = HB_VAL_DOUBLE;
        return hb_mp_read_double(r, &v->u.d);
    case HB_MP_STR: {
        const char *s;
        v->type = HB_VAL_STR;
        hb_rc_t rc = hb_mp_read_str(r, &s, &v->u.s.len);
        v->u.s.ptr = (const uint8_t *)s;
        return rc;
    }
    case HB_MP_BIN:
        v->type = HB_VAL_BIN;
        return hb_mp_read_bin(r, &v->u.s.ptr, &v->u.s.len);
    case HB_MP_EXT:
        /* The one extension: a decimal, ext8 of 9 bytes, type 1. */
        if (!s_has(r, 12) || r->p[0] != 0xc7 || r->p[1] != 9 || r->p[2] != 1 ||
            (int8_t)r->p[3] < 0 || (int8_t)r->p[3] > HB_DEC_MAX_SCALE)
            return s_fail(r, HB_PROTO);
        {
            uint64_t m = 0;
            for (int i = 0; i < 8; i++)
                m = m << 8 | r->p[4 + i];
            if (m == (uint64_t)1 << 63)
                return s_fail(r, HB_PROTO); /* INT64_MIN: not negatable */
            v->type = HB_VAL_DEC;
            v->u.dec.scale = (int8_t)r->p[3];
            v->u.dec.m = (int64_t)m;
            r->p += 12;
        }
        return HB_OK;
    default:
        return s_fail(r, HB_PROTO);
    }
}

hb_rc_t
hb_mp_read_val(hb_mp_reader_t *r, hb_val_t *v)
{
    memset(v, 0, sizeof *v);
    hb_rc_t rc = s_read_val(r, v);
    if (rc != HB_OK)
        memset(v, 0, sizeof *v);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Skipping                                                             */
/* ------------------------------------------------------------------ */

/* Skips a fixed-size payload of n bytes after a 1-byte tag. */
static hb_rc_t
s_skip_n(hb_mp_reader_t *r, size_t n)
{
    if (!s_has(r, n))
        return s_fail(r, HB_PROTO);
    r->p += n;
    return HB_OK;
}

static hb_rc_t
s_skip(hb_mp_reader_t *r, int depth)
{
    if (r->err != HB_OK)
        return r->err;
    if (!s_has(r, 1))
        return s_fail(r, HB_PROTO);
    uint8_t b = r->p[0];
    switch (s_type_of(b)) {
    case HB_MP_NIL:
    case HB_MP_BOOL:
        return s_skip_n(r, 1);
    case HB_MP_UINT:
    case HB_MP_INT: {
        int64_t s;
        uint64_t u;
        bool neg;
        return s_read_integer(r, &neg, &u, &s);
    }
    case HB_MP_FLOAT:
        return s_skip_n(r, b == 0xca ? 5 : 9);
    case HB_MP_STR:
    case HB_MP_BIN: {
        const uint8_t *s;
        uint32_t len;
        return s_read_bytes(r, true, true, &s, &len);
    }
    case HB_MP_EXT: {
        uint64_t n;
        if (b >= 0xd4 && b <= 0xd8)
            return s_skip_n(r, 2 + ((size_t)1 << (b - 0xd4)));
        size_t lb = (size_t)1 << (b - 0xc7); /* 1, 2 or 4 length bytes */
        if (!s_has(r, 2 + lb))
            return s_fail(r, HB_PROTO);
        n = s_be(r->p + 1, lb);
        if (n > hb_mp_remaining(r) - (2 + lb))
            return s_fail(r, HB_PROTO);
        return s_skip_n(r, 2 + lb + (size_t)n);
    }
    case HB_MP_ARRAY:
    case HB_MP_MAP: {
        bool map = s_type_of(b) == HB_MP_MAP;
        if (depth >= HB_MP_MAX_DEPTH)
            return s_fail(r, HB_PROTO);
        uint32_t n;
        if (s_read_container(r, map, &n) != HB_OK)
            return r->err;
        uint64_t items = (uint64_t)n * (map ? 2 : 1);
        for (uint64_t i = 0; i < items; i++)
            if (s_skip(r, depth + 1) != HB_OK)
                return r->err;
        return HB_OK;
    }
    default:
        return s_fail(r, HB_PROTO);
    }
}

hb_rc_t
hb_mp_skip(hb_mp_reader_t *r)
{
    return s_skip(r, 0);
}

hb_rc_t
hb_mp_read_raw(hb_mp_reader_t *r, const uint8_t **raw, size_t *len)
{
    const uint8_t *start = r->p;
    *raw = NULL;
    *len = 0;
    hb_rc_t rc = s_skip(r, 0);
    if (rc != HB_OK)
        return rc;
    *raw = start;
    *len = (size_t)(r->p - start);
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Packing                                                              */
/* ------------------------------------------------------------------ */

hb_rc_t
hb_mp_pack_val(msgpack_packer *pk, const hb_val_t *v)
{
    int ret;
    switch (v->type) {
    case HB_VAL_NIL:
        ret = msgpack_pack_nil(pk);
        break;
    case HB_VAL_INT:
        ret = msgpack_pack_int64(pk, v->u.i);
        break;
    case HB_VAL_BOOL:
        ret = v->u.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case HB_VAL_DOUBLE:
        ret = msgpack_pack_double(pk, v->u.d);
        break;
    case HB_VAL_STR:
        ret = msgpack_pack_str(pk, v->u.s.len);
        if (ret == 0 && v->u.s.len)
            ret = msgpack_pack_str_body(pk, v->u.s.ptr, v->u.s.len);
        break;
    case HB_VAL_BIN:
        ret = msgpack_pack_bin(pk, v->u.s.len);
        if (ret == 0 && v->u.s.len)
            ret = msgpack_pack_bin_body(pk, v->u.s.ptr, v->u.s.len);
        break;
    case HB_VAL_DEC: {
        if (v->u.dec.scale < 0 || v->u.dec.scale > HB_DEC_MAX_SCALE)
            return HB_INVALID;
        uint8_t b[9];
        b[0] = (uint8_t)v->u.dec.scale;
        uint64_t m = (uint64_t)v->u.dec.m;
        for (int i = 0; i < 8; i++)
            b[1 + i] = (uint8_t)(m >> (56 - 8 * i));
        ret = msgpack_pack_ext(pk, 9, 1);
        if (ret == 0)
            ret = msgpack_pack_ext_body(pk, b, 9);
        break;
    }
    default:
        return HB_INVALID;
    }
    return ret == 0 ? HB_OK : HB_NOMEM;
}

void
hb_mp_pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
    msgpack_pack_bin(pk, len);
    if (len)
        msgpack_pack_bin_body(pk, p, len);
}

void
hb_mp_pack_bool(msgpack_packer *pk, bool b)
{
    if (b)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void
hb_mp_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    if (len)
        msgpack_pack_str_body(pk, s, len);
}

void
hb_mp_pack_cstr(msgpack_packer *pk, const char *s)
{
    hb_mp_pack_str(pk, s ? s : "", s ? strlen(s) : 0);
}
