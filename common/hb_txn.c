/* hb_txn.c — the transaction input record: decode, pack, lock-set queries.
 *
 * hb_txn_decode copies the encoded bytes once into an owned buffer and then
 * reads it with the bounded hb_mp reader, so proc, string arguments and keys
 * point into that buffer and stay valid for the transaction's lifetime.
 * Every count is checked against the limits and the bytes left before the
 * args and locks arrays are allocated. hb_txn_pack writes the same form
 * with msgpack-c (see hb_txn.h and docs/protocol.md).
 */
#include "hb_txn.h"

#include <string.h>

#include "hb_alloc.h"
#include "hb_log.h"
#include "hb_mp.h"

/* Longest procedure name a transaction may carry. */
#define S_PROC_MAX 64

/* Number of fields in the wire array. */
#define S_TXN_FIELDS 8

/* Decode state: the reader plus the first problem seen. */
typedef struct {
    hb_mp_reader_t r;    /* over the owned copy */
    const char *problem; /* first problem, for the log line */
    hb_rc_t rc;          /* HB_PROTO or HB_TOOBIG once failed */
} s_dec_t;

/* Records a failure (first one wins) and poisons the reader. */
static hb_rc_t
s_fail(s_dec_t *d, hb_rc_t rc, const char *problem)
{
    if (d->rc == HB_OK) {
        d->rc = rc;
        d->problem = problem;
    }
    if (d->r.err == HB_OK)
        d->r.err = rc;
    return d->rc;
}

/* Reads an unsigned integer no larger than max. */
static hb_rc_t
s_uint(s_dec_t *d, uint64_t max, uint64_t *v, const char *what)
{
    if (d->rc != HB_OK)
        return d->rc;
    if (hb_mp_read_uint(&d->r, v) != HB_OK || *v > max)
        return s_fail(d, HB_PROTO, what);
    return HB_OK;
}

static hb_rc_t
s_decode_args(s_dec_t *d, const hb_limits_t *lim, hb_txn_t *txn)
{
    uint32_t n;
    if (hb_mp_read_array(&d->r, &n) != HB_OK)
        return s_fail(d, HB_PROTO, "args is not an array or is truncated");
    if (n > lim->max_args)
        return s_fail(d, HB_TOOBIG, "more args than max_args");
    txn->nargs = n;
    txn->args = n ? hb_calloc(n, sizeof *txn->args) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        hb_val_t *v = &txn->args[i];
        if (hb_mp_read_val(&d->r, v) != HB_OK)
            return s_fail(d, HB_PROTO, "bad arg");
        if ((v->type == HB_VAL_STR || v->type == HB_VAL_BIN) &&
            v->u.s.len > lim->max_value_bytes)
            return s_fail(d, HB_TOOBIG, "arg longer than max_value_bytes");
    }
    return HB_OK;
}

static hb_rc_t
s_decode_locks(s_dec_t *d, const hb_limits_t *lim, uint32_t nparts, hb_txn_t *txn)
{
    uint32_t n;
    if (hb_mp_read_array(&d->r, &n) != HB_OK)
        return s_fail(d, HB_PROTO, "locks is not an array or is truncated");
    if (n > lim->max_locks)
        return s_fail(d, HB_TOOBIG, "more locks than max_locks");
    /* Each lock is at least a 4-byte array: tighter than the reader's
     * one-byte-per-element bound, checked before allocating. */
    if ((uint64_t)n * 4 > hb_mp_remaining(&d->r))
        return s_fail(d, HB_PROTO, "lock count exceeds the bytes left");
    txn->nlocks = n;
    txn->locks = n ? hb_calloc(n, sizeof *txn->locks) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        hb_lock_t *l = &txn->locks[i];
        uint32_t nf;
        uint64_t part, mode;
        const uint8_t *key;
        uint32_t klen;
        if (hb_mp_read_array(&d->r, &nf) != HB_OK || nf != 3)
            return s_fail(d, HB_PROTO, "lock is not [partition, mode, key]");
        if (s_uint(d, UINT16_MAX, &part, "lock partition out of range") != HB_OK)
            return d->rc;
        if (part >= nparts)
            return s_fail(d, HB_PROTO, "lock partition >= partitions");
        if (s_uint(d, HB_LOCK_WRITE, &mode, "lock mode is not 0 or 1") != HB_OK)
            return d->rc;
        if (hb_mp_read_bin(&d->r, &key, &klen) != HB_OK)
            return s_fail(d, HB_PROTO, "lock key is not bin");
        if (klen == 0)
            return s_fail(d, HB_PROTO, "empty lock key");
        if (klen > lim->max_key_bytes)
            return s_fail(d, HB_TOOBIG, "lock key longer than max_key_bytes");
        l->partition = (uint16_t)part;
        l->mode = (uint8_t)mode;
        l->key = key;
        l->len = klen;
    }
    return HB_OK;
}

hb_rc_t
hb_txn_decode(const void *data, size_t len, const hb_limits_t *lim, uint32_t nparts,
              hb_txn_t **out)
{
    hb_limits_t defaults = HB_LIMITS_DEFAULT;
    s_dec_t d = {.rc = HB_OK};
    hb_txn_t *txn = NULL;
    uint64_t v;
    uint32_t n;

    *out = NULL;
    if (!lim)
        lim = &defaults;
    if (len > lim->max_frame_bytes) {
        s_fail(&d, HB_TOOBIG, "longer than max_frame_bytes");
        goto out;
    }
    if (!data || len == 0) {
        s_fail(&d, HB_PROTO, "empty");
        goto out;
    }

    txn = hb_calloc(1, sizeof *txn);
    txn->buf = hb_memdup(data, len);
    txn->buf_len = len;
    hb_mp_reader_init(&d.r, txn->buf, len);

    if (hb_mp_read_array(&d.r, &n) != HB_OK || n != S_TXN_FIELDS) {
        s_fail(&d, HB_PROTO, "not an array of 8 fields");
        goto out;
    }
    if (s_uint(&d, UINT64_MAX, &txn->client_id, "bad client_id") != HB_OK ||
        s_uint(&d, UINT64_MAX, &txn->req_id, "bad req_id") != HB_OK)
        goto out;
    if (s_uint(&d, UINT16_MAX, &v, "bad origin_replica") != HB_OK)
        goto out;
    txn->origin_replica = (uint16_t)v;
    if (s_uint(&d, UINT16_MAX, &v, "bad origin_group") != HB_OK)
        goto out;
    txn->origin_group = (uint16_t)v;
    if (hb_mp_read_int(&d.r, &txn->timestamp_us) != HB_OK) {
        s_fail(&d, HB_PROTO, "bad timestamp_us");
        goto out;
    }
    if (hb_mp_read_str(&d.r, &txn->proc, &txn->proc_len) != HB_OK || txn->proc_len == 0 ||
        txn->proc_len > S_PROC_MAX) {
        s_fail(&d, HB_PROTO, "proc is not a str of 1..64 bytes");
        goto out;
    }
    if (s_decode_args(&d, lim, txn) != HB_OK)
        goto out;
    if (s_decode_locks(&d, lim, nparts, txn) != HB_OK)
        goto out;
    if (hb_mp_remaining(&d.r) != 0)
        s_fail(&d, HB_PROTO, "trailing bytes");

out:
    if (d.rc != HB_OK) {
        hb_warn("txn: rejected %zu-byte transaction: %s", len, d.problem);
        hb_txn_destroy(&txn);
        return d.rc;
    }
    *out = txn;
    return HB_OK;
}

void
hb_txn_destroy(hb_txn_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_txn_t *self = *self_p;
    hb_free(self->args);
    hb_free(self->locks);
    hb_free(self->buf);
    hb_free(self);
    *self_p = NULL;
}

hb_rc_t
hb_txn_pack(msgpack_packer *pk, const hb_txn_t *txn)
{
    /* Validate first: a packer cannot be rolled back. */
    if (!txn || (txn->nargs && !txn->args) || (txn->nlocks && !txn->locks) ||
        (txn->proc_len && !txn->proc))
        return HB_INVALID;
    for (uint32_t i = 0; i < txn->nlocks; i++)
        if (txn->locks[i].len && !txn->locks[i].key)
            return HB_INVALID;
    for (uint32_t i = 0; i < txn->nargs; i++)
        if (txn->args[i].type > HB_VAL_DEC) /* decimals too: tpcc.payment's AMOUNT */
            return HB_INVALID;

    int ret = 0;
    ret |= msgpack_pack_array(pk, S_TXN_FIELDS);
    ret |= msgpack_pack_uint64(pk, txn->client_id);
    ret |= msgpack_pack_uint64(pk, txn->req_id);
    ret |= msgpack_pack_uint16(pk, txn->origin_replica);
    ret |= msgpack_pack_uint16(pk, txn->origin_group);
    ret |= msgpack_pack_int64(pk, txn->timestamp_us);
    ret |= msgpack_pack_str_with_body(pk, txn->proc, txn->proc_len);
    ret |= msgpack_pack_array(pk, txn->nargs);
    for (uint32_t i = 0; i < txn->nargs; i++)
        if (hb_mp_pack_val(pk, &txn->args[i]) != HB_OK)
            ret = -1;
    ret |= msgpack_pack_array(pk, txn->nlocks);
    for (uint32_t i = 0; i < txn->nlocks; i++) {
        const hb_lock_t *l = &txn->locks[i];
        ret |= msgpack_pack_array(pk, 3);
        ret |= msgpack_pack_uint16(pk, l->partition);
        ret |= msgpack_pack_uint8(pk, l->mode);
        ret |= msgpack_pack_bin_with_body(pk, l->key, l->len);
    }
    return ret == 0 ? HB_OK : HB_NOMEM;
}

bool
hb_txn_touches(const hb_txn_t *txn, uint16_t partition)
{
    for (uint32_t i = 0; i < txn->nlocks; i++)
        if (txn->locks[i].partition == partition)
            return true;
    return false;
}

bool
hb_txn_writes(const hb_txn_t *txn, uint16_t partition)
{
    for (uint32_t i = 0; i < txn->nlocks; i++)
        if (txn->locks[i].partition == partition && txn->locks[i].mode == HB_LOCK_WRITE)
            return true;
    return false;
}

uint32_t
hb_txn_participants(const hb_txn_t *txn, uint16_t *out, uint32_t cap)
{
    /* A bitmap over the uint16 partition space gives the distinct
     * partitions in ascending order without sorting; only the words
     * between the lowest and highest partition are touched. */
    uint64_t seen[(UINT16_MAX + 1) / 64];
    uint32_t lo = UINT16_MAX, hi = 0;
    for (uint32_t i = 0; i < txn->nlocks; i++) {
        uint32_t w = txn->locks[i].partition / 64u;
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    if (txn->nlocks == 0)
        return 0;
    memset(&seen[lo], 0, (hi - lo + 1) * sizeof seen[0]);
    for (uint32_t i = 0; i < txn->nlocks; i++) {
        uint16_t p = txn->locks[i].partition;
        seen[p / 64] |= 1ULL << (p % 64);
    }
    uint32_t n = 0;
    for (uint32_t w = lo; w <= hi; w++) {
        uint64_t bits = seen[w];
        while (bits) {
            uint32_t b = (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (n < cap)
                out[n] = (uint16_t)(w * 64 + b);
            n++;
        }
    }
    return n;
}
