/* hb_mp.h — a bounded, zero-copy msgpack reader, plus packing helpers.
 *
 * Encoding uses msgpack-c's msgpack_packer over a msgpack_sbuffer. Decoding
 * does NOT use msgpack-c's unpacker: that allocates arrays sized by the
 * declared element count before reading them, which lets a 5-byte hostile
 * frame ask for gigabytes. hb_mp_reader checks every declared length against
 * the bytes that remain (each element needs at least one byte) before the
 * caller allocates anything, and never reads past `end`.
 *
 * A reader is sticky: after the first error every call returns that error,
 * so a decoder can read several fields and check once.
 * Strings and bins returned point into the input buffer (borrowed).
 */
#ifndef HB_MP_H
#define HB_MP_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"
#include "hb_val.h"

typedef enum {
    HB_MP_NIL,
    HB_MP_BOOL,
    HB_MP_UINT,
    HB_MP_INT, /* negative integer */
    HB_MP_FLOAT,
    HB_MP_STR,
    HB_MP_BIN,
    HB_MP_ARRAY,
    HB_MP_MAP,
    HB_MP_EXT,
    HB_MP_INVALID, /* reserved byte 0xc1 or no bytes left */
} hb_mp_type_t;

typedef struct {
    const uint8_t *p;   /* next byte to read */
    const uint8_t *end; /* one past the last byte */
    hb_rc_t err;        /* first error seen, HB_OK if none */
} hb_mp_reader_t;

/* Maximum nesting hb_mp_skip follows before failing with HB_PROTO. */
#define HB_MP_MAX_DEPTH 32

void hb_mp_reader_init(hb_mp_reader_t *r, const void *data, size_t len);
/* Returns the bytes left to read. */
size_t hb_mp_remaining(const hb_mp_reader_t *r);
/* Returns the type of the next object without consuming it. */
hb_mp_type_t hb_mp_peek(const hb_mp_reader_t *r);

/* Each reads one object of the named kind into the out-param and returns
 * HB_OK, or HB_PROTO (wrong type, truncated, count larger than the bytes
 * left) and leaves the out-param zeroed. */
hb_rc_t hb_mp_read_array(hb_mp_reader_t *r, uint32_t *n);
hb_rc_t hb_mp_read_map(hb_mp_reader_t *r, uint32_t *n);
hb_rc_t hb_mp_read_nil(hb_mp_reader_t *r);
hb_rc_t hb_mp_read_bool(hb_mp_reader_t *r, bool *v);
/* Accepts any integer encoding whose value fits in uint64_t. */
hb_rc_t hb_mp_read_uint(hb_mp_reader_t *r, uint64_t *v);
/* Accepts any integer encoding whose value fits in int64_t. */
hb_rc_t hb_mp_read_int(hb_mp_reader_t *r, int64_t *v);
/* Accepts float32 and float64. */
hb_rc_t hb_mp_read_double(hb_mp_reader_t *r, double *v);
/* msgpack str only. */
hb_rc_t hb_mp_read_str(hb_mp_reader_t *r, const char **s, uint32_t *len);
/* msgpack bin or str (keys and raw payloads may be either). */
hb_rc_t hb_mp_read_bin(hb_mp_reader_t *r, const uint8_t **s, uint32_t *len);
/* Reads a scalar (nil, bool, int, uint <= INT64_MAX, float, str, bin) as an
 * hb_val_t; containers and ext are HB_PROTO. */
hb_rc_t hb_mp_read_val(hb_mp_reader_t *r, hb_val_t *v);
/* Skips one complete object (any type), at most HB_MP_MAX_DEPTH deep. */
hb_rc_t hb_mp_skip(hb_mp_reader_t *r);
/* Reads one complete object and returns its raw encoded bytes (borrowed). */
hb_rc_t hb_mp_read_raw(hb_mp_reader_t *r, const uint8_t **raw, size_t *len);

/* Packs v with pk (msgpack-c). Returns HB_OK, HB_NOMEM (the buffer could
 * not grow) or HB_INVALID (unknown v->type; nothing written). */
hb_rc_t hb_mp_pack_val(msgpack_packer *pk, const hb_val_t *v);
/* Packs a byte string as msgpack bin / str. */
void hb_mp_pack_bin(msgpack_packer *pk, const void *p, size_t len);
void hb_mp_pack_str(msgpack_packer *pk, const char *s, size_t len);
void hb_mp_pack_cstr(msgpack_packer *pk, const char *s);
/* Packs b as msgpack true / false. */
void hb_mp_pack_bool(msgpack_packer *pk, bool b);

#endif
