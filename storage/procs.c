/* procs.c — execution context and native procedure bodies.
 *
 * The context keeps one slot per distinct lock key of the transaction (its
 * gathered read, and the body's buffered write), found through a small
 * open-addressing index built at reset. All bytes it hands out live in a
 * chunked arena whose chunks never move, so a body may keep a pointer from
 * stor_ctx_read across later writes. Slots are walked in lock-set order,
 * never in hash order, so everything the executor does with the writes is
 * deterministic.
 *
 * The bodies implement the catalog of common/hb_proc.h; each re-derives its
 * keys from its arguments exactly like the plan (s_kv_key mirrors
 * hb_proc.c: str, bin, or an integer as its decimal string).
 */
#include "procs.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_hash.h"
#include "hb_key.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "procs_sql.h"
#include "procs_tpcc.h"
#include "procs_ycsb.h"

#define S_CHUNK_BYTES (16u << 10)
#define S_ALIGN       16

/* One arena chunk. */
typedef struct s_chunk {
    struct s_chunk *next; /* older chunk */
    size_t cap;           /* bytes in data */
    size_t used;          /* bytes handed out */
    _Alignas(S_ALIGN) uint8_t data[];
} s_chunk_t;

/* One distinct lock key of the transaction. */
typedef struct {
    const uint8_t *key;  /* key bytes (borrowed from the txn) */
    size_t klen;         /* key length */
    uint64_t hash;       /* hb_hash64 of the key */
    uint16_t partition;  /* partition of the key */
    uint8_t mode;        /* strongest hb_lock_mode_t on the key */
    bool gathered;       /* its read has been recorded */
    const uint8_t *rval; /* gathered value; NULL when absent */
    size_t rlen;         /* gathered value length */
    bool written;        /* the body wrote it */
    const uint8_t *wval; /* written value (arena); NULL for a delete */
    size_t wlen;         /* written value length */
} s_slot_t;

/* One fresh write (stor_ctx_write_fresh). */
typedef struct {
    const uint8_t *key; /* key bytes (arena) */
    size_t klen;        /* key length */
    uint16_t partition; /* partition of the key */
    const uint8_t *val; /* value bytes (arena) */
    size_t vlen;        /* value length */
} s_fresh_t;

struct stor_ctx {
    const hb_txn_t *txn;        /* transaction being executed (borrowed) */
    s_chunk_t *chunks;          /* arena, newest chunk first */
    s_slot_t *slots;            /* one per distinct lock key */
    uint32_t nslots;            /* slots used */
    uint32_t capslots;          /* slots allocated */
    s_fresh_t *fresh;           /* fresh writes, in the order made */
    uint32_t nfresh;            /* fresh writes used */
    uint32_t capfresh;          /* fresh writes allocated */
    uint32_t *index;            /* open addressing: slot index + 1, 0 = empty */
    uint32_t nindex;            /* index size, power of two */
    hb_val_t *results;          /* result values */
    uint32_t nresults;          /* results used */
    uint32_t capresults;        /* results allocated */
    hb_rc_t rc;                 /* abort code, HB_OK while running */
    char msg[STOR_CTX_MSG_MAX]; /* abort message */
    msgpack_sbuffer pack;       /* scratch for encoding written values */
};

/* ------------------------------------------------------------------ */
/* Context                                                             */
/* ------------------------------------------------------------------ */

stor_ctx_t *
stor_ctx_new(void)
{
    stor_ctx_t *ctx = hb_calloc(1, sizeof *ctx);
    msgpack_sbuffer_init(&ctx->pack);
    return ctx;
}

static void
s_arena_reset(stor_ctx_t *ctx)
{
    /* Keep one standard chunk for the next transaction. */
    s_chunk_t *keep = NULL;
    s_chunk_t *c = ctx->chunks;
    while (c) {
        s_chunk_t *next = c->next;
        if (!keep && c->cap == S_CHUNK_BYTES) {
            keep = c;
            keep->next = NULL;
            keep->used = 0;
        } else {
            hb_free(c);
        }
        c = next;
    }
    ctx->chunks = keep;
}

void
stor_ctx_destroy(stor_ctx_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stor_ctx_t *ctx = *self_p;
    s_arena_reset(ctx);
    hb_free(ctx->chunks);
    hb_free(ctx->slots);
    hb_free(ctx->fresh);
    hb_free(ctx->index);
    hb_free(ctx->results);
    msgpack_sbuffer_destroy(&ctx->pack);
    hb_free(ctx);
    *self_p = NULL;
}

void *
stor_ctx_alloc(void *arg, size_t size)
{
    stor_ctx_t *ctx = arg;
    size_t need = (size + S_ALIGN - 1) & ~(size_t)(S_ALIGN - 1);
    if (need == 0)
        need = S_ALIGN;
    s_chunk_t *c = ctx->chunks;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > S_CHUNK_BYTES ? need : S_CHUNK_BYTES;
        c = hb_malloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        c->next = ctx->chunks;
        ctx->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

static s_slot_t *
s_slot_find(const stor_ctx_t *ctx, const void *key, size_t klen)
{
    if (ctx->nindex == 0)
        return NULL;
    uint64_t h = hb_hash64(key, klen, 0);
    uint32_t mask = ctx->nindex - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        uint32_t s = ctx->index[i];
        if (s == 0)
            return NULL;
        s_slot_t *slot = &ctx->slots[s - 1];
        if (slot->hash == h && slot->klen == klen && memcmp(slot->key, key, klen) == 0)
            return slot;
    }
}

hb_rc_t
stor_ctx_reset(stor_ctx_t *ctx, const hb_txn_t *txn)
{
    s_arena_reset(ctx);
    ctx->txn = txn;
    ctx->nslots = 0;
    ctx->nfresh = 0;
    ctx->nresults = 0;
    ctx->rc = HB_OK;
    ctx->msg[0] = '\0';
    if (!txn)
        return HB_OK;

    uint32_t n = txn->nlocks;
    if (n > ctx->capslots) {
        hb_free(ctx->slots);
        ctx->slots = hb_malloc((size_t)n * sizeof *ctx->slots);
        ctx->capslots = n;
    }
    uint32_t want = 8;
    while (want < 2 * n)
        want *= 2;
    if (want > ctx->nindex) {
        hb_free(ctx->index);
        ctx->index = hb_malloc((size_t)want * sizeof *ctx->index);
        ctx->nindex = want;
    }
    memset(ctx->index, 0, (size_t)ctx->nindex * sizeof *ctx->index);

    uint32_t mask = ctx->nindex - 1;
    for (uint32_t l = 0; l < n; l++) {
        const hb_lock_t *lk = &txn->locks[l];
        uint64_t h = hb_hash64(lk->key, lk->len, 0);
        uint32_t i = (uint32_t)h & mask;
        s_slot_t *found = NULL;
        for (;; i = (i + 1) & mask) {
            uint32_t s = ctx->index[i];
            if (s == 0)
                break;
            s_slot_t *slot = &ctx->slots[s - 1];
            if (slot->hash == h && slot->klen == lk->len &&
                memcmp(slot->key, lk->key, lk->len) == 0) {
                found = slot;
                break;
            }
        }
        if (found) {
            if (found->partition != lk->partition)
                return stor_ctx_abort(ctx, HB_ABORTED,
                                      "lock set names one key on two partitions");
            if (lk->mode > found->mode)
                found->mode = lk->mode;
            continue;
        }
        s_slot_t *slot = &ctx->slots[ctx->nslots];
        *slot = (s_slot_t){.key = lk->key,
                           .klen = lk->len,
                           .hash = h,
                           .partition = lk->partition,
                           .mode = lk->mode};
        ctx->index[i] = ++ctx->nslots;
    }
    return HB_OK;
}

hb_rc_t
stor_ctx_add_read(stor_ctx_t *ctx, const void *key, size_t klen, const uint8_t *val,
                  size_t vlen)
{
    s_slot_t *slot = s_slot_find(ctx, key, klen);
    if (!slot)
        return HB_NOTFOUND;
    slot->gathered = true;
    slot->rval = val;
    slot->rlen = val ? vlen : 0;
    return HB_OK;
}

/* Returns the fresh write of key, or NULL. A linear scan: the fresh writes
 * of a transaction are few (TPC-C's New-Order makes at most 18). */
static const s_fresh_t *
s_fresh_find(const stor_ctx_t *ctx, const void *key, size_t klen)
{
    for (uint32_t i = 0; i < ctx->nfresh; i++)
        if (ctx->fresh[i].klen == klen && memcmp(ctx->fresh[i].key, key, klen) == 0)
            return &ctx->fresh[i];
    return NULL;
}

hb_rc_t
stor_ctx_read(stor_ctx_t *ctx, const void *key, size_t klen, const uint8_t **val,
              size_t *vlen)
{
    *val = NULL;
    *vlen = 0;
    s_slot_t *slot = s_slot_find(ctx, key, klen);
    if (slot && slot->written) {
        if (!slot->wval)
            return HB_NOTFOUND;
        *val = slot->wval;
        *vlen = slot->wlen;
        return HB_OK;
    }
    if (!slot) {
        const s_fresh_t *f = s_fresh_find(ctx, key, klen);
        if (f) {
            *val = f->val;
            *vlen = f->vlen;
            return HB_OK;
        }
    }
    if (!slot || !slot->gathered)
        return stor_ctx_abort(ctx, HB_ABORTED,
                              "read of a key outside the transaction's read set");
    if (!slot->rval)
        return HB_NOTFOUND;
    *val = slot->rval;
    *vlen = slot->rlen;
    return HB_OK;
}

static hb_rc_t
s_write(stor_ctx_t *ctx, const void *key, size_t klen, const void *val, size_t vlen,
        bool del)
{
    s_slot_t *slot = s_slot_find(ctx, key, klen);
    if (!slot || slot->mode != HB_LOCK_WRITE)
        return stor_ctx_abort(ctx, HB_ABORTED,
                              "write of a key outside the transaction's write set");
    static const uint8_t zero[4] = {0, 0, 0, 0};
    if (klen < 4 || memcmp(key, zero, 4) == 0)
        return stor_ctx_abort(ctx, HB_ABORTED, "write of a reserved metadata key");
    slot->written = true;
    if (del) {
        slot->wval = NULL;
        slot->wlen = 0;
    } else {
        uint8_t *copy = stor_ctx_alloc(ctx, vlen);
        if (vlen)
            memcpy(copy, val, vlen);
        slot->wval = copy;
        slot->wlen = vlen;
    }
    return HB_OK;
}

hb_rc_t
stor_ctx_write(stor_ctx_t *ctx, const void *key, size_t klen, const void *val,
               size_t vlen)
{
    return s_write(ctx, key, klen, val, vlen, false);
}

hb_rc_t
stor_ctx_delete(stor_ctx_t *ctx, const void *key, size_t klen)
{
    return s_write(ctx, key, klen, NULL, 0, true);
}

hb_rc_t
stor_ctx_write_fresh(stor_ctx_t *ctx, uint16_t partition, const void *key, size_t klen,
                     const void *val, size_t vlen)
{
    s_slot_t *slot = s_slot_find(ctx, key, klen);
    if (slot) {
        if (slot->partition != partition)
            return stor_ctx_abort(ctx, HB_ABORTED,
                                  "fresh write names a lock key on another partition");
        return s_write(ctx, key, klen, val, vlen, false);
    }
    static const uint8_t zero[4] = {0, 0, 0, 0};
    if (klen < 4 || memcmp(key, zero, 4) == 0)
        return stor_ctx_abort(ctx, HB_ABORTED, "write of a reserved metadata key");
    if (klen > HB_KEY_MAX)
        return stor_ctx_abort(ctx, HB_ABORTED, "fresh write of a %zu-byte key", klen);
    bool covered = false;
    for (uint32_t i = 0; i < ctx->nslots && !covered; i++)
        covered =
            ctx->slots[i].partition == partition && ctx->slots[i].mode == HB_LOCK_WRITE;
    if (!covered)
        return stor_ctx_abort(ctx, HB_ABORTED,
                              "fresh write on partition %u, where the transaction holds "
                              "no write lock",
                              partition);
    uint8_t *vcopy = stor_ctx_alloc(ctx, vlen);
    if (vlen)
        memcpy(vcopy, val, vlen);
    s_fresh_t *f = (s_fresh_t *)s_fresh_find(ctx, key, klen);
    if (f) {
        f->val = vcopy;
        f->vlen = vlen;
        return HB_OK;
    }
    HB_GROW(ctx->fresh, ctx->capfresh, ctx->nfresh + 1, 16);
    uint8_t *kcopy = stor_ctx_alloc(ctx, klen);
    memcpy(kcopy, key, klen);
    ctx->fresh[ctx->nfresh++] = (s_fresh_t){
        .key = kcopy, .klen = klen, .partition = partition, .val = vcopy, .vlen = vlen};
    return HB_OK;
}

hb_rc_t
stor_ctx_lock_partition(const stor_ctx_t *ctx, const void *key, size_t klen,
                        uint16_t *partition)
{
    const s_slot_t *slot = s_slot_find(ctx, key, klen);
    *partition = slot ? slot->partition : 0;
    return slot ? HB_OK : HB_NOTFOUND;
}

uint32_t
stor_ctx_nfresh(const stor_ctx_t *ctx)
{
    return ctx->nfresh;
}

bool
stor_ctx_fresh(const stor_ctx_t *ctx, uint32_t i, stor_write_t *w)
{
    if (i >= ctx->nfresh)
        return false;
    const s_fresh_t *f = &ctx->fresh[i];
    *w = (stor_write_t){.partition = f->partition,
                        .key = f->key,
                        .klen = f->klen,
                        .val = f->val,
                        .vlen = f->vlen};
    return true;
}

void
stor_ctx_result(stor_ctx_t *ctx, const hb_val_t *v)
{
    HB_GROW(ctx->results, ctx->capresults, ctx->nresults + 1, 4);
    hb_val_t copy = *v;
    if ((v->type == HB_VAL_STR || v->type == HB_VAL_BIN) && v->u.s.len) {
        uint8_t *p = stor_ctx_alloc(ctx, v->u.s.len);
        memcpy(p, v->u.s.ptr, v->u.s.len);
        copy.u.s.ptr = p;
    }
    ctx->results[ctx->nresults++] = copy;
}

hb_rc_t
stor_ctx_abort(stor_ctx_t *ctx, hb_rc_t rc, const char *fmt, ...)
{
    if (rc == HB_OK)
        rc = HB_INTERNAL;
    if (ctx->rc != HB_OK)
        return ctx->rc;
    ctx->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
    return rc;
}

hb_rc_t
stor_ctx_rc(const stor_ctx_t *ctx)
{
    return ctx->rc;
}

const char *
stor_ctx_message(const stor_ctx_t *ctx)
{
    return ctx->msg;
}

const hb_txn_t *
stor_ctx_txn(const stor_ctx_t *ctx)
{
    return ctx->txn;
}

const hb_val_t *
stor_ctx_results(const stor_ctx_t *ctx, uint32_t *n)
{
    *n = ctx->nresults;
    return ctx->results;
}

uint32_t
stor_ctx_nslots(const stor_ctx_t *ctx)
{
    return ctx->nslots;
}

bool
stor_ctx_written(const stor_ctx_t *ctx, uint32_t i, stor_write_t *w)
{
    if (i >= ctx->nslots || !ctx->slots[i].written)
        return false;
    const s_slot_t *s = &ctx->slots[i];
    *w = (stor_write_t){.partition = s->partition,
                        .key = s->key,
                        .klen = s->klen,
                        .val = s->wval,
                        .vlen = s->wlen};
    return true;
}

/* ------------------------------------------------------------------ */
/* Body helpers                                                        */
/* ------------------------------------------------------------------ */

/* A kv key argument: encoded key plus a printable name for messages. */
typedef struct {
    hb_key_t key;  /* encoded kv-table key */
    char name[72]; /* printable, truncated form of the argument */
} s_kvkey_t;

void
stor_printable(const uint8_t *p, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < cap; i++)
        out[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    if (o + 4 >= cap && len > o) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = '\0';
}

/* Mirrors hb_proc.c's s_kv_key: str, bin, or an integer as its decimal string. */
static hb_rc_t
s_kv_key(stor_ctx_t *ctx, const char *proc, const char *what, const hb_val_t *arg,
         s_kvkey_t *out)
{
    char digits[24];
    const void *ptr;
    size_t len;
    if (arg->type == HB_VAL_STR || arg->type == HB_VAL_BIN) {
        ptr = arg->u.s.ptr;
        len = arg->u.s.len;
    } else if (arg->type == HB_VAL_INT) {
        int n = snprintf(digits, sizeof digits, "%" PRId64, arg->u.i);
        ptr = digits;
        len = (size_t)n;
    } else {
        return stor_ctx_abort(ctx, HB_INVALID,
                              "%s: %s must be a string, bytes or an integer", proc, what);
    }
    if (len == 0 || !ptr)
        return stor_ctx_abort(ctx, HB_INVALID, "%s: %s is empty", proc, what);
    hb_key_kv(&out->key, ptr, len);
    if (out->key.overflow)
        return stor_ctx_abort(ctx, HB_TOOBIG, "%s: %s is too long", proc, what);
    stor_printable(ptr, len, out->name, sizeof out->name);
    return HB_OK;
}

/* Decodes a stored row holding one scalar into *out (strings borrow from val). */
static hb_rc_t
s_decode_one(const uint8_t *val, size_t vlen, hb_val_t *out)
{
    hb_mp_reader_t r;
    uint32_t n = 0;
    hb_mp_reader_init(&r, val, vlen);
    if (hb_mp_read_array(&r, &n) != HB_OK || n != 1 || hb_mp_read_val(&r, out) != HB_OK)
        return HB_CORRUPT;
    return HB_OK;
}

/* Reads key as a one-scalar row. Returns HB_OK with *out (nil when absent),
 * or the abort code. */
static hb_rc_t
s_read_row(stor_ctx_t *ctx, const char *proc, const hb_key_t *k, const char *name,
           hb_val_t *out)
{
    const uint8_t *val;
    size_t vlen;
    *out = hb_val_nil();
    hb_rc_t rc = stor_ctx_read(ctx, k->buf, k->len, &val, &vlen);
    if (rc == HB_NOTFOUND)
        return HB_OK;
    if (rc != HB_OK)
        return rc;
    if (s_decode_one(val, vlen, out) != HB_OK)
        return stor_ctx_abort(ctx, HB_CORRUPT, "%s: stored value of %s is malformed",
                              proc, name);
    return HB_OK;
}

/* Reads key as an integer row (absent counts as 0). */
static hb_rc_t
s_read_int(stor_ctx_t *ctx, const char *proc, const hb_key_t *k, const char *name,
           int64_t *out)
{
    hb_val_t v;
    *out = 0;
    hb_rc_t rc = s_read_row(ctx, proc, k, name, &v);
    if (rc != HB_OK)
        return rc;
    if (v.type == HB_VAL_NIL)
        return HB_OK;
    if (v.type != HB_VAL_INT)
        return stor_ctx_abort(ctx, HB_ABORTED, "%s: value of %s is not an integer", proc,
                              name);
    *out = v.u.i;
    return HB_OK;
}

/* Writes key = [v]. */
static hb_rc_t
s_write_row(stor_ctx_t *ctx, const hb_key_t *k, const hb_val_t *v)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(&ctx->pack);
    msgpack_packer_init(&pk, &ctx->pack, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    if (hb_mp_pack_val(&pk, v) != HB_OK)
        return stor_ctx_abort(ctx, HB_INVALID, "value cannot be encoded");
    return stor_ctx_write(ctx, k->buf, k->len, ctx->pack.data, ctx->pack.size);
}

static hb_rc_t
s_write_int(stor_ctx_t *ctx, const hb_key_t *k, int64_t i)
{
    hb_val_t v = hb_val_int(i);
    return s_write_row(ctx, k, &v);
}

static void
s_result_nil(stor_ctx_t *ctx)
{
    hb_val_t nil = hb_val_nil();
    stor_ctx_result(ctx, &nil);
}

/* ------------------------------------------------------------------ */
/* Bodies                                                              */
/* ------------------------------------------------------------------ */

static hb_rc_t
s_kv_get(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    s_kvkey_t k;
    hb_val_t v;
    hb_rc_t rc;
    if (nargs != 1)
        return stor_ctx_abort(ctx, HB_INVALID, "kv.get: usage: kv.get KEY");
    if ((rc = s_kv_key(ctx, "kv.get", "KEY", &args[0], &k)) != HB_OK ||
        (rc = s_read_row(ctx, "kv.get", &k.key, k.name, &v)) != HB_OK)
        return rc;
    stor_ctx_result(ctx, &v);
    return HB_OK;
}

static hb_rc_t
s_kv_put(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    s_kvkey_t k;
    hb_rc_t rc;
    if (nargs != 2)
        return stor_ctx_abort(ctx, HB_INVALID, "kv.put: usage: kv.put KEY VALUE");
    if ((rc = s_kv_key(ctx, "kv.put", "KEY", &args[0], &k)) != HB_OK)
        return rc;
    hb_val_type_t t = args[1].type;
    if (t != HB_VAL_INT && t != HB_VAL_STR && t != HB_VAL_BIN)
        return stor_ctx_abort(ctx, HB_INVALID,
                              "kv.put: VALUE must be an integer, a string or bytes");
    if ((rc = s_write_row(ctx, &k.key, &args[1])) != HB_OK)
        return rc;
    s_result_nil(ctx);
    return HB_OK;
}

static hb_rc_t
s_kv_add(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    s_kvkey_t k;
    int64_t cur, sum;
    hb_rc_t rc;
    if (nargs != 2)
        return stor_ctx_abort(ctx, HB_INVALID, "kv.add: usage: kv.add KEY DELTA");
    if ((rc = s_kv_key(ctx, "kv.add", "KEY", &args[0], &k)) != HB_OK)
        return rc;
    if (args[1].type != HB_VAL_INT)
        return stor_ctx_abort(ctx, HB_INVALID, "kv.add: DELTA must be an integer");
    if ((rc = s_read_int(ctx, "kv.add", &k.key, k.name, &cur)) != HB_OK)
        return rc;
    if (__builtin_add_overflow(cur, args[1].u.i, &sum))
        return stor_ctx_abort(ctx, HB_ABORTED, "kv.add: value of %s would overflow",
                              k.name);
    if ((rc = s_write_int(ctx, &k.key, sum)) != HB_OK)
        return rc;
    hb_val_t r = hb_val_int(sum);
    stor_ctx_result(ctx, &r);
    return HB_OK;
}

static hb_rc_t
s_kv_transfer(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    s_kvkey_t from, to;
    int64_t fbal, tbal, fnew, tnew;
    hb_rc_t rc;
    if (nargs != 3)
        return stor_ctx_abort(ctx, HB_INVALID,
                              "kv.transfer: usage: kv.transfer FROM TO AMOUNT");
    if ((rc = s_kv_key(ctx, "kv.transfer", "FROM", &args[0], &from)) != HB_OK ||
        (rc = s_kv_key(ctx, "kv.transfer", "TO", &args[1], &to)) != HB_OK)
        return rc;
    if (args[2].type != HB_VAL_INT || args[2].u.i < 0)
        return stor_ctx_abort(ctx, HB_INVALID,
                              "kv.transfer: AMOUNT must be an integer >= 0");
    if (from.key.len == to.key.len && memcmp(from.key.buf, to.key.buf, to.key.len) == 0)
        return stor_ctx_abort(ctx, HB_INVALID,
                              "kv.transfer: FROM and TO must be different keys");
    int64_t amount = args[2].u.i;
    if ((rc = s_read_int(ctx, "kv.transfer", &from.key, from.name, &fbal)) != HB_OK ||
        (rc = s_read_int(ctx, "kv.transfer", &to.key, to.name, &tbal)) != HB_OK)
        return rc;
    if (__builtin_sub_overflow(fbal, amount, &fnew) || fnew < 0)
        return stor_ctx_abort(ctx, HB_ABORTED, "kv.transfer: insufficient funds");
    if (__builtin_add_overflow(tbal, amount, &tnew))
        return stor_ctx_abort(ctx, HB_ABORTED,
                              "kv.transfer: balance of %s would overflow", to.name);
    if ((rc = s_write_int(ctx, &from.key, fnew)) != HB_OK ||
        (rc = s_write_int(ctx, &to.key, tnew)) != HB_OK)
        return rc;
    hb_val_t r0 = hb_val_int(fnew), r1 = hb_val_int(tnew);
    stor_ctx_result(ctx, &r0);
    stor_ctx_result(ctx, &r1);
    return HB_OK;
}

static hb_rc_t
s_micro_rmw(stor_ctx_t *ctx, const hb_val_t *args, uint32_t nargs)
{
    hb_rc_t rc;
    if (nargs != HB_MICRO_KEYS)
        return stor_ctx_abort(ctx, HB_INVALID, "micro.rmw: usage: micro.rmw ID1 .. ID%d",
                              HB_MICRO_KEYS);
    for (uint32_t i = 0; i < nargs; i++) {
        if (args[i].type != HB_VAL_INT || args[i].u.i < 0)
            return stor_ctx_abort(ctx, HB_INVALID,
                                  "micro.rmw: ID%" PRIu32 " must be an integer >= 0",
                                  i + 1);
        hb_key_t k;
        char name[24];
        int64_t cur;
        hb_key_micro(&k, args[i].u.i);
        snprintf(name, sizeof name, "%" PRId64, args[i].u.i);
        if ((rc = s_read_int(ctx, "micro.rmw", &k, name, &cur)) != HB_OK)
            return rc;
        if (cur == INT64_MAX)
            return stor_ctx_abort(ctx, HB_ABORTED, "micro.rmw: record %s would overflow",
                                  name);
        if ((rc = s_write_int(ctx, &k, cur + 1)) != HB_OK)
            return rc;
    }
    s_result_nil(ctx);
    return HB_OK;
}

static const stor_proc_fn s_bodies[HB_PROC_COUNT_] = {
    [HB_PROC_KV_GET] = s_kv_get,
    [HB_PROC_KV_PUT] = s_kv_put,
    [HB_PROC_KV_ADD] = s_kv_add,
    [HB_PROC_KV_TRANSFER] = s_kv_transfer,
    [HB_PROC_MICRO_RMW] = s_micro_rmw,
    [HB_PROC_YCSB_READ] = stor_ycsb_read,
    [HB_PROC_YCSB_UPDATE] = stor_ycsb_update,
    [HB_PROC_YCSB_INSERT] = stor_ycsb_insert,
    [HB_PROC_YCSB_RMW] = stor_ycsb_rmw,
    [HB_PROC_SQL_EXEC] = stor_sql_exec,
    [HB_PROC_SQL_DDL] = stor_sql_ddl,
    [HB_PROC_TPCC_NEW_ORDER] = stor_tpcc_new_order,
    [HB_PROC_TPCC_PAYMENT] = stor_tpcc_payment,
    [HB_PROC_TPCC_DELIVERY] = stor_tpcc_delivery,
};

stor_proc_fn
stor_proc_body(hb_proc_id_t id)
{
    if ((unsigned)id >= HB_PROC_COUNT_)
        return NULL;
    return s_bodies[id];
}

hb_rc_t
stor_proc_run(stor_ctx_t *ctx, hb_proc_id_t id, const hb_val_t *args, uint32_t nargs)
{
    stor_proc_fn body = stor_proc_body(id);
    if (!body)
        return stor_ctx_abort(ctx, HB_NOTFOUND, "no body for procedure %d", (int)id);
    if (ctx->rc != HB_OK)
        return ctx->rc;
    hb_rc_t rc = body(ctx, args, nargs);
    if (rc != HB_OK && ctx->rc == HB_OK)
        stor_ctx_abort(ctx, rc, "procedure failed: %s", hb_rc_str(rc));
    if (rc == HB_OK && ctx->rc != HB_OK)
        rc = ctx->rc; /* a body ignored an abort: the abort stands */
    return rc;
}
