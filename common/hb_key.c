/* hb_key.c — the order-preserving key encoding (see hb_key.h).
 *
 * Encoders append to a fixed hb_key_t and never write a partial column:
 * an append that does not fit sets `overflow` and every later append is
 * skipped, so a truncated key can never be mistaken for a valid shorter
 * one. Decoders take [*p, end) and advance *p only on success.
 */
#include "hb_key.h"

#include <string.h>

#include "hb_hash.h"

/* Returns true if n more bytes fit; otherwise marks the key overflowed. */
static bool
s_room(hb_key_t *k, size_t n)
{
    if (k->overflow || n > HB_KEY_MAX - k->len) {
        k->overflow = true;
        return false;
    }
    return true;
}

static void
s_put_be(uint8_t *out, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t
s_get_be(const uint8_t *in, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | in[i];
    return v;
}

void
hb_key_init(hb_key_t *k, uint32_t table_id)
{
    k->len = 0;
    k->overflow = false;
    s_put_be(k->buf, table_id, 4);
    k->len = 4;
}

void
hb_key_put_i64(hb_key_t *k, int64_t v)
{
    if (!s_room(k, 8))
        return;
    /* Flipping the sign bit maps INT64_MIN..INT64_MAX onto 0..UINT64_MAX
     * monotonically, so big-endian bytes compare like the values. */
    s_put_be(k->buf + k->len, (uint64_t)v ^ (1ULL << 63), 8);
    k->len += 8;
}

void
hb_key_put_str(hb_key_t *k, const void *s, size_t len)
{
    const uint8_t *in = s;
    size_t need = len + 2;
    for (size_t i = 0; i < len; i++)
        need += in[i] == 0x00;
    if (need < len || !s_room(k, need))
        return;
    uint8_t *out = k->buf + k->len;
    for (size_t i = 0; i < len; i++) {
        *out++ = in[i];
        if (in[i] == 0x00)
            *out++ = 0xFF;
    }
    /* 0x00 0x01 sorts below any escaped 0x00 0xFF and any non-zero byte,
     * so a string sorts before every string it is a proper prefix of. */
    *out++ = 0x00;
    *out++ = 0x01;
    k->len += need;
}

void
hb_key_put_bool(hb_key_t *k, bool v)
{
    if (!s_room(k, 1))
        return;
    k->buf[k->len++] = v ? 1 : 0;
}

hb_rc_t
hb_key_get_table(const uint8_t **p, const uint8_t *end, uint32_t *table_id)
{
    *table_id = 0;
    if (!*p || end < *p || (size_t)(end - *p) < 4)
        return HB_CORRUPT;
    *table_id = (uint32_t)s_get_be(*p, 4);
    *p += 4;
    return HB_OK;
}

hb_rc_t
hb_key_get_i64(const uint8_t **p, const uint8_t *end, int64_t *v)
{
    *v = 0;
    if (!*p || end < *p || (size_t)(end - *p) < 8)
        return HB_CORRUPT;
    uint64_t u = s_get_be(*p, 8) ^ (1ULL << 63);
    memcpy(v, &u, sizeof *v);
    *p += 8;
    return HB_OK;
}

hb_rc_t
hb_key_get_str(const uint8_t **p, const uint8_t *end, uint8_t *out, size_t cap,
               size_t *len)
{
    *len = 0;
    if (!*p || end < *p)
        return HB_CORRUPT;
    const uint8_t *q = *p;
    size_t n = 0;
    for (;;) {
        if (q >= end)
            return HB_CORRUPT; /* no terminator */
        uint8_t b = *q++;
        if (b == 0x00) {
            if (q >= end)
                return HB_CORRUPT;
            uint8_t esc = *q++;
            if (esc == 0x01)
                break;
            if (esc != 0xFF)
                return HB_CORRUPT;
        }
        if (n < cap)
            out[n] = b;
        n++;
    }
    *len = n;
    if (n > cap)
        return HB_TOOBIG;
    *p = q;
    return HB_OK;
}

uint32_t
hb_key_partition(const void *pkey, size_t len, uint32_t nparts)
{
    if (nparts == 0)
        return 0;
    return (uint32_t)(hb_hash64(pkey, len, 0) % nparts);
}

void
hb_key_kv(hb_key_t *k, const void *s, size_t len)
{
    hb_key_init(k, HB_TABLE_KV);
    hb_key_put_str(k, s, len);
}

void
hb_key_micro(hb_key_t *k, int64_t id)
{
    hb_key_init(k, HB_TABLE_MICRO);
    hb_key_put_i64(k, id);
}
