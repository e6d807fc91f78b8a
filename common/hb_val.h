/* hb_val.h — a typed scalar value: procedure arguments, results, columns.
 *
 * Strings and byte strings are borrowed (ptr/len into a frame or buffer the
 * caller keeps alive); hb_val_t never owns memory.
 */
#ifndef HB_VAL_H
#define HB_VAL_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    HB_VAL_NIL = 0,
    HB_VAL_INT = 1,
    HB_VAL_BOOL = 2,
    HB_VAL_DOUBLE = 3,
    HB_VAL_STR = 4, /* UTF-8 text (msgpack str) */
    HB_VAL_BIN = 5, /* bytes (msgpack bin) */
    HB_VAL_DEC = 6, /* exact decimal m * 10^-scale (msgpack ext 1: scale, m) */
} hb_val_type_t;

/* Largest scale of an HB_VAL_DEC (digits after the point). */
#define HB_DEC_MAX_SCALE 18

typedef struct {
    hb_val_type_t type;
    union {
        int64_t i;
        bool b;
        double d;
        struct {
            const uint8_t *ptr;
            uint32_t len;
        } s;
        struct {
            int64_t m;     /* mantissa */
            int32_t scale; /* 0..HB_DEC_MAX_SCALE */
        } dec;
    } u;
} hb_val_t;

static inline hb_val_t
hb_val_int(int64_t i)
{
    hb_val_t v = {.type = HB_VAL_INT};
    v.u.i = i;
    return v;
}

static inline hb_val_t
hb_val_bool(bool b)
{
    hb_val_t v = {.type = HB_VAL_BOOL};
    v.u.b = b;
    return v;
}

static inline hb_val_t
hb_val_double(double d)
{
    hb_val_t v = {.type = HB_VAL_DOUBLE};
    v.u.d = d;
    return v;
}

static inline hb_val_t
hb_val_str(const void *ptr, uint32_t len)
{
    hb_val_t v = {.type = HB_VAL_STR};
    v.u.s.ptr = ptr;
    v.u.s.len = len;
    return v;
}

static inline hb_val_t
hb_val_bin(const void *ptr, uint32_t len)
{
    hb_val_t v = {.type = HB_VAL_BIN};
    v.u.s.ptr = ptr;
    v.u.s.len = len;
    return v;
}

static inline hb_val_t
hb_val_dec(int64_t m, int32_t scale)
{
    hb_val_t v = {.type = HB_VAL_DEC};
    v.u.dec.m = m;
    v.u.dec.scale = scale;
    return v;
}

static inline hb_val_t
hb_val_nil(void)
{
    hb_val_t v = {.type = HB_VAL_NIL};
    return v;
}

#endif
