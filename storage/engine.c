/* engine.c — LevelDB shard with an epoch-tagged multi-version overlay.
 *
 * The overlay is a chained hash map keyed by key bytes (hb_hash64, fixed
 * seed) whose entries also sit on one list so a flush can visit them without
 * walking empty buckets. Each entry holds its versions in ascending epoch
 * order and caches h(k, v) of the value LevelDB holds for the key (base), so
 * the incremental state hash needs at most one LevelDB read per key per
 * flush. Nothing persisted depends on the visiting order: a WriteBatch of
 * distinct keys gives the same state in any order, and the hash is a sum.
 *
 * Metadata writes of other modules (the remote-read log) are staged in a
 * plain array and appended to the next flush's WriteBatch in staging order.
 *
 * Entry points: stor_engine_open, stor_engine_put/delete/get,
 * stor_engine_flush, stor_engine_discard_overlay, stor_engine_stage_meta.
 */
#include "engine.h"

#include <leveldb/c.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_hash.h"
#include "hb_key.h"
#include "hb_log.h"

#define S_CACHE_BYTES        (64u << 20)
#define S_WRITE_BUFFER_BYTES (32u << 20)
#define S_BLOOM_BITS         10
#define S_MAP_SEED           0x686f62626573ULL /* "hobbes": fixed, so behaviour is reproducible */
#define S_MAP_MIN_BUCKETS    1024

/* One version of a key. */
typedef struct {
    uint64_t epoch; /* epoch of the transaction that wrote it */
    uint8_t *val;   /* owned value bytes; NULL for a tombstone or empty value */
    size_t len;     /* value length */
    bool tomb;      /* a deletion */
} s_version_t;

/* One overlay key. */
typedef struct s_entry {
    struct s_entry *chain; /* next entry in the same bucket */
    struct s_entry *prev;  /* previous on the all-entries list */
    struct s_entry *next;  /* next on the all-entries list */
    uint64_t hash;         /* hb_hash64 of the key with S_MAP_SEED */
    s_version_t *vers;     /* versions, ascending epoch */
    uint32_t nvers;        /* versions used */
    uint32_t capvers;      /* versions allocated */
    bool base_known;       /* base_h is valid */
    uint64_t base_h;       /* h(k, v) of the LevelDB value; 0 when absent */
    bool pend;             /* flush scratch: this entry is in the batch */
    uint32_t pend_idx;     /* flush scratch: index of the flushed version */
    uint64_t pend_h;       /* flush scratch: h of the flushed version */
    size_t klen;           /* key length */
    uint8_t key[];         /* key bytes */
} s_entry_t;

/* One staged metadata write. */
typedef struct {
    uint8_t *key; /* owned key bytes */
    size_t klen;  /* key length */
    uint8_t *val; /* owned value bytes; NULL for a delete */
    size_t vlen;  /* value length */
} s_staged_t;

struct stor_engine {
    char *dir;                          /* LevelDB directory (owned) */
    leveldb_t *db;                      /* the shard */
    leveldb_options_t *options;         /* open options */
    leveldb_cache_t *cache;             /* block cache */
    leveldb_filterpolicy_t *filter;     /* bloom filter */
    leveldb_readoptions_t *ropts;       /* default read options */
    leveldb_writeoptions_t *wopts;      /* unsynced writes (flush) */
    leveldb_writeoptions_t *sync_wopts; /* synced writes (incarnation) */
    uint64_t applied_epoch;             /* last epoch flushed */
    uint64_t state_hash;                /* hash at applied_epoch */
    uint64_t incarnation;               /* current incarnation */
    s_entry_t **buckets;                /* hash map buckets */
    size_t nbuckets;                    /* power of two */
    size_t nentries;                    /* keys in the overlay */
    size_t nversions;                   /* versions in the overlay */
    s_entry_t *head;                    /* all-entries list */
    s_staged_t *staged;                 /* metadata writes for the next flush */
    size_t nstaged;                     /* staged writes used */
    size_t capstaged;                   /* staged writes allocated */
};

/* ------------------------------------------------------------------ */
/* Metadata                                                            */
/* ------------------------------------------------------------------ */

static void
s_meta_key(hb_key_t *k, const char *name)
{
    hb_key_init(k, HB_TABLE_META);
    hb_key_put_str(k, name, strlen(name));
}

static void
s_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
s_from_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads meta `name` into *v (0 when absent). Returns HB_OK, HB_IO, HB_CORRUPT. */
static hb_rc_t
s_meta_get(stor_engine_t *eng, const char *name, uint64_t *v)
{
    hb_key_t k;
    s_meta_key(&k, name);
    char *err = NULL;
    size_t len = 0;
    char *val = leveldb_get(eng->db, eng->ropts, (const char *)k.buf, k.len, &len, &err);
    *v = 0;
    if (err) {
        hb_error("engine %s: reading %s: %s", eng->dir, name, err);
        leveldb_free(err);
        return HB_IO;
    }
    if (!val)
        return HB_OK;
    hb_rc_t rc = HB_OK;
    if (len != 8) {
        hb_error("engine %s: metadata %s has %zu bytes, expected 8", eng->dir, name, len);
        rc = HB_CORRUPT;
    } else {
        *v = s_from_be64((const uint8_t *)val);
    }
    leveldb_free(val);
    return rc;
}

static void
s_batch_meta(leveldb_writebatch_t *b, const char *name, uint64_t v)
{
    hb_key_t k;
    uint8_t buf[8];
    s_meta_key(&k, name);
    s_be64(buf, v);
    leveldb_writebatch_put(b, (const char *)k.buf, k.len, (const char *)buf, sizeof buf);
}

static hb_rc_t
s_write(stor_engine_t *eng, leveldb_writebatch_t *b, bool sync)
{
    char *err = NULL;
    leveldb_write(eng->db, sync ? eng->sync_wopts : eng->wopts, b, &err);
    if (err) {
        hb_error("engine %s: write failed: %s", eng->dir, err);
        leveldb_free(err);
        return HB_IO;
    }
    return HB_OK;
}

static bool
s_is_meta(const void *key, size_t klen)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    return klen >= 4 && memcmp(key, zero, 4) == 0;
}

uint64_t
stor_engine_row_hash(const void *key, size_t klen, const void *val, size_t vlen)
{
    return hb_hash64(val, vlen, hb_hash64(key, klen, 0));
}

/* ------------------------------------------------------------------ */
/* Open / close                                                        */
/* ------------------------------------------------------------------ */

stor_engine_t *
stor_engine_open(const char *dir)
{
    stor_engine_t *eng = hb_calloc(1, sizeof *eng);
    eng->dir = hb_strdup(dir);
    eng->options = leveldb_options_create();
    eng->cache = leveldb_cache_create_lru(S_CACHE_BYTES);
    eng->filter = leveldb_filterpolicy_create_bloom(S_BLOOM_BITS);
    leveldb_options_set_create_if_missing(eng->options, 1);
    leveldb_options_set_cache(eng->options, eng->cache);
    leveldb_options_set_filter_policy(eng->options, eng->filter);
    leveldb_options_set_write_buffer_size(eng->options, S_WRITE_BUFFER_BYTES);
    eng->ropts = leveldb_readoptions_create();
    eng->wopts = leveldb_writeoptions_create();
    eng->sync_wopts = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(eng->sync_wopts, 1);
    eng->nbuckets = S_MAP_MIN_BUCKETS;
    eng->buckets = hb_calloc(eng->nbuckets, sizeof *eng->buckets);

    char *err = NULL;
    eng->db = leveldb_open(eng->options, dir, &err);
    if (err) {
        hb_error("engine %s: cannot open LevelDB: %s", dir, err);
        leveldb_free(err);
        eng->db = NULL;
        goto fail;
    }
    uint64_t inc = 0;
    if (s_meta_get(eng, "applied_epoch", &eng->applied_epoch) != HB_OK ||
        s_meta_get(eng, "state_hash", &eng->state_hash) != HB_OK ||
        s_meta_get(eng, "incarnation", &inc) != HB_OK)
        goto fail;
    eng->incarnation = inc;
    if (stor_engine_new_incarnation(eng) != HB_OK)
        goto fail;
    hb_info("engine %s: opened at applied epoch %llu, incarnation %llu, hash %016llx",
            dir, (unsigned long long)eng->applied_epoch,
            (unsigned long long)eng->incarnation, (unsigned long long)eng->state_hash);
    return eng;

fail:
    stor_engine_destroy(&eng);
    return NULL;
}

static void
s_entry_free(stor_engine_t *eng, s_entry_t *e)
{
    for (uint32_t i = 0; i < e->nvers; i++)
        hb_free(e->vers[i].val);
    eng->nversions -= e->nvers;
    hb_free(e->vers);
    hb_free(e);
}

void
stor_engine_discard_overlay(stor_engine_t *eng)
{
    s_entry_t *e = eng->head;
    while (e) {
        s_entry_t *next = e->next;
        s_entry_free(eng, e);
        e = next;
    }
    eng->head = NULL;
    eng->nentries = 0;
    memset(eng->buckets, 0, eng->nbuckets * sizeof *eng->buckets);
}

static void
s_staged_clear(stor_engine_t *eng)
{
    for (size_t i = 0; i < eng->nstaged; i++) {
        hb_free(eng->staged[i].key);
        hb_free(eng->staged[i].val);
    }
    eng->nstaged = 0;
}

void
stor_engine_destroy(stor_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stor_engine_t *eng = *self_p;
    if (eng->buckets)
        stor_engine_discard_overlay(eng);
    hb_free(eng->buckets);
    s_staged_clear(eng);
    hb_free(eng->staged);
    if (eng->db)
        leveldb_close(eng->db);
    if (eng->options)
        leveldb_options_destroy(eng->options);
    if (eng->cache)
        leveldb_cache_destroy(eng->cache);
    if (eng->filter)
        leveldb_filterpolicy_destroy(eng->filter);
    if (eng->ropts)
        leveldb_readoptions_destroy(eng->ropts);
    if (eng->wopts)
        leveldb_writeoptions_destroy(eng->wopts);
    if (eng->sync_wopts)
        leveldb_writeoptions_destroy(eng->sync_wopts);
    hb_free(eng->dir);
    hb_free(eng);
    *self_p = NULL;
}

hb_rc_t
stor_engine_new_incarnation(stor_engine_t *eng)
{
    leveldb_writebatch_t *b = leveldb_writebatch_create();
    s_batch_meta(b, "incarnation", eng->incarnation + 1);
    hb_rc_t rc = s_write(eng, b, true);
    leveldb_writebatch_destroy(b);
    if (rc == HB_OK)
        eng->incarnation++;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Overlay map                                                         */
/* ------------------------------------------------------------------ */

static uint64_t
s_key_hash(const void *key, size_t klen)
{
    return hb_hash64(key, klen, S_MAP_SEED);
}

static s_entry_t *
s_find(const stor_engine_t *eng, const void *key, size_t klen, uint64_t h)
{
    for (s_entry_t *e = eng->buckets[h & (eng->nbuckets - 1)]; e; e = e->chain)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    return NULL;
}

static void
s_grow(stor_engine_t *eng)
{
    size_t n = eng->nbuckets * 2;
    s_entry_t **b = hb_calloc(n, sizeof *b);
    for (s_entry_t *e = eng->head; e; e = e->next) {
        size_t i = e->hash & (n - 1);
        e->chain = b[i];
        b[i] = e;
    }
    hb_free(eng->buckets);
    eng->buckets = b;
    eng->nbuckets = n;
}

static s_entry_t *
s_find_or_add(stor_engine_t *eng, const void *key, size_t klen)
{
    uint64_t h = s_key_hash(key, klen);
    s_entry_t *e = s_find(eng, key, klen, h);
    if (e)
        return e;
    if (eng->nentries + 1 > eng->nbuckets)
        s_grow(eng);
    e = hb_calloc(1, sizeof *e + klen);
    e->hash = h;
    e->klen = klen;
    memcpy(e->key, key, klen);
    size_t i = h & (eng->nbuckets - 1);
    e->chain = eng->buckets[i];
    eng->buckets[i] = e;
    e->next = eng->head;
    if (eng->head)
        eng->head->prev = e;
    eng->head = e;
    eng->nentries++;
    return e;
}

static void
s_remove(stor_engine_t *eng, s_entry_t *e)
{
    s_entry_t **pp = &eng->buckets[e->hash & (eng->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    if (e->prev)
        e->prev->next = e->next;
    else
        eng->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    eng->nentries--;
    s_entry_free(eng, e);
}

static hb_rc_t
s_record(stor_engine_t *eng, uint64_t epoch, const void *key, size_t klen,
         const void *val, size_t vlen, bool tomb)
{
    if (klen == 0 || klen > HB_KEY_MAX || s_is_meta(key, klen)) {
        hb_warn("engine %s: refusing write of a %zu-byte %s key", eng->dir, klen,
                klen && s_is_meta(key, klen) ? "metadata" : "invalid");
        return HB_INVALID;
    }
    s_entry_t *e = s_find_or_add(eng, key, klen);
    uint8_t *copy = (!tomb && vlen) ? hb_memdup(val, vlen) : NULL;

    /* Writes to one key arrive in global order (the key is locked), so the
     * new version is almost always the last; keep the order anyway. */
    uint32_t pos = e->nvers;
    while (pos > 0 && e->vers[pos - 1].epoch > epoch)
        pos--;
    if (pos > 0 && e->vers[pos - 1].epoch == epoch) {
        s_version_t *v = &e->vers[pos - 1];
        hb_free(v->val);
        v->val = copy;
        v->len = tomb ? 0 : vlen;
        v->tomb = tomb;
        return HB_OK;
    }
    HB_GROW(e->vers, e->capvers, e->nvers + 1, 2);
    memmove(&e->vers[pos + 1], &e->vers[pos], (e->nvers - pos) * sizeof *e->vers);
    e->vers[pos] =
        (s_version_t){.epoch = epoch, .val = copy, .len = tomb ? 0 : vlen, .tomb = tomb};
    e->nvers++;
    eng->nversions++;
    return HB_OK;
}

hb_rc_t
stor_engine_put(stor_engine_t *eng, uint64_t epoch, const void *key, size_t klen,
                const void *val, size_t vlen)
{
    return s_record(eng, epoch, key, klen, val, vlen, false);
}

hb_rc_t
stor_engine_delete(stor_engine_t *eng, uint64_t epoch, const void *key, size_t klen)
{
    return s_record(eng, epoch, key, klen, NULL, 0, true);
}

/* ------------------------------------------------------------------ */
/* Reads                                                               */
/* ------------------------------------------------------------------ */

static void *
s_alloc(stor_alloc_fn alloc, void *arg, size_t n)
{
    if (n == 0)
        n = 1;
    return alloc ? alloc(arg, n) : hb_malloc(n);
}

hb_rc_t
stor_engine_get(stor_engine_t *eng, const void *key, size_t klen, stor_alloc_fn alloc,
                void *arg, uint8_t **val, size_t *vlen)
{
    *val = NULL;
    *vlen = 0;
    s_entry_t *e = s_find(eng, key, klen, s_key_hash(key, klen));
    if (e && e->nvers) {
        const s_version_t *v = &e->vers[e->nvers - 1];
        if (v->tomb)
            return HB_NOTFOUND;
        *val = s_alloc(alloc, arg, v->len);
        if (v->len)
            memcpy(*val, v->val, v->len);
        *vlen = v->len;
        return HB_OK;
    }
    char *err = NULL;
    size_t len = 0;
    char *got = leveldb_get(eng->db, eng->ropts, key, klen, &len, &err);
    if (err) {
        hb_error("engine %s: get failed: %s", eng->dir, err);
        leveldb_free(err);
        return HB_IO;
    }
    /* Remember h(k, v) of what LevelDB holds: the transaction reading it is
     * about to write it, and the flush then needs no second LevelDB read.
     * Read-only entries are dropped at the next flush. */
    if (!e)
        e = s_find_or_add(eng, key, klen);
    if (!e->base_known) {
        e->base_h = got ? stor_engine_row_hash(key, klen, (const uint8_t *)got, len) : 0;
        e->base_known = true;
    }
    if (!got)
        return HB_NOTFOUND;
    *val = s_alloc(alloc, arg, len);
    memcpy(*val, got, len);
    *vlen = len;
    leveldb_free(got);
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Flush                                                               */
/* ------------------------------------------------------------------ */

/* Fills e->base_h from LevelDB if not cached. Returns HB_OK or HB_IO. */
static hb_rc_t
s_load_base(stor_engine_t *eng, s_entry_t *e)
{
    if (e->base_known)
        return HB_OK;
    char *err = NULL;
    size_t len = 0;
    char *got =
        leveldb_get(eng->db, eng->ropts, (const char *)e->key, e->klen, &len, &err);
    if (err) {
        hb_error("engine %s: get failed: %s", eng->dir, err);
        leveldb_free(err);
        return HB_IO;
    }
    e->base_h = got ? stor_engine_row_hash(e->key, e->klen, got, len) : 0;
    e->base_known = true;
    if (got)
        leveldb_free(got);
    return HB_OK;
}

hb_rc_t
stor_engine_flush(stor_engine_t *eng, uint64_t epoch)
{
    if (epoch < eng->applied_epoch) {
        hb_error("engine %s: flush of epoch %llu below applied epoch %llu", eng->dir,
                 (unsigned long long)epoch, (unsigned long long)eng->applied_epoch);
        return HB_INVALID;
    }
    hb_rc_t rc = HB_OK;
    uint64_t hash = eng->state_hash;
    leveldb_writebatch_t *b = leveldb_writebatch_create();

    for (s_entry_t *e = eng->head; e; e = e->next) {
        e->pend = false;
        if (e->nvers == 0 || e->vers[0].epoch > epoch)
            continue;
        uint32_t idx = 0;
        while (idx + 1 < e->nvers && e->vers[idx + 1].epoch <= epoch)
            idx++;
        rc = s_load_base(eng, e);
        if (rc != HB_OK)
            goto out;
        const s_version_t *v = &e->vers[idx];
        uint64_t h = 0;
        if (v->tomb) {
            leveldb_writebatch_delete(b, (const char *)e->key, e->klen);
        } else {
            leveldb_writebatch_put(b, (const char *)e->key, e->klen,
                                   v->val ? (const char *)v->val : "", v->len);
            h = stor_engine_row_hash(e->key, e->klen,
                                     v->val ? v->val : (const uint8_t *)"", v->len);
        }
        hash += h - e->base_h; /* mod 2^64 */
        e->pend = true;
        e->pend_idx = idx;
        e->pend_h = h;
    }
    for (size_t i = 0; i < eng->nstaged; i++) {
        const s_staged_t *st = &eng->staged[i];
        if (st->val)
            leveldb_writebatch_put(b, (const char *)st->key, st->klen,
                                   (const char *)st->val, st->vlen);
        else
            leveldb_writebatch_delete(b, (const char *)st->key, st->klen);
    }
    s_batch_meta(b, "applied_epoch", epoch);
    s_batch_meta(b, "state_hash", hash);
    rc = s_write(eng, b, false);
    if (rc != HB_OK)
        goto out;
    s_staged_clear(eng);

    /* Committed: drop the flushed versions. */
    s_entry_t *e = eng->head;
    while (e) {
        s_entry_t *next = e->next;
        if (e->pend) {
            uint32_t drop = e->pend_idx + 1;
            for (uint32_t i = 0; i < drop; i++)
                hb_free(e->vers[i].val);
            memmove(e->vers, e->vers + drop, (e->nvers - drop) * sizeof *e->vers);
            e->nvers -= drop;
            eng->nversions -= drop;
            e->base_h = e->pend_h;
            e->pend = false;
            if (e->nvers == 0)
                s_remove(eng, e);
        } else if (e->nvers == 0) {
            s_remove(eng, e); /* read-only: its cached base is not needed */
        }
        e = next;
    }
    eng->applied_epoch = epoch;
    eng->state_hash = hash;

out:
    leveldb_writebatch_destroy(b);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Staged metadata                                                     */
/* ------------------------------------------------------------------ */

hb_rc_t
stor_engine_stage_meta(stor_engine_t *eng, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    if (klen > HB_KEY_MAX || !s_is_meta(key, klen)) {
        hb_warn("engine %s: refusing to stage a %zu-byte non-metadata key", eng->dir,
                klen);
        return HB_INVALID;
    }
    HB_GROW(eng->staged, eng->capstaged, eng->nstaged + 1, 64);
    s_staged_t *st = &eng->staged[eng->nstaged++];
    st->key = hb_memdup(key, klen);
    st->klen = klen;
    st->val = val ? hb_memdup(val, vlen ? vlen : 1) : NULL;
    st->vlen = val ? vlen : 0;
    return HB_OK;
}

size_t
stor_engine_staged(const stor_engine_t *eng)
{
    return eng->nstaged;
}

hb_rc_t
stor_engine_meta_scan(stor_engine_t *eng, const void *start, size_t slen, const void *end,
                      size_t elen, stor_meta_fn fn, void *arg)
{
    if (!s_is_meta(start, slen) || !s_is_meta(end, elen))
        return HB_INVALID;
    leveldb_iterator_t *it = leveldb_create_iterator(eng->db, eng->ropts);
    for (leveldb_iter_seek(it, start, slen); leveldb_iter_valid(it);
         leveldb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const char *k = leveldb_iter_key(it, &klen);
        size_t n = klen < elen ? klen : elen;
        int c = memcmp(k, end, n);
        if (c > 0 || (c == 0 && klen >= elen))
            break;
        const char *v = leveldb_iter_value(it, &vlen);
        if (!fn(arg, (const uint8_t *)k, klen, (const uint8_t *)v, vlen))
            break;
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    if (err) {
        hb_error("engine %s: metadata scan failed: %s", eng->dir, err);
        leveldb_free(err);
        return HB_IO;
    }
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Accessors                                                           */
/* ------------------------------------------------------------------ */

uint64_t
stor_engine_applied_epoch(const stor_engine_t *eng)
{
    return eng->applied_epoch;
}

uint64_t
stor_engine_state_hash(const stor_engine_t *eng)
{
    return eng->state_hash;
}

uint64_t
stor_engine_incarnation(const stor_engine_t *eng)
{
    return eng->incarnation;
}

leveldb_t *
stor_engine_db(stor_engine_t *eng)
{
    return eng->db;
}

size_t
stor_engine_overlay_keys(const stor_engine_t *eng)
{
    /* Entries that only cache a read's base hash do not count. A walk: this
     * is for status and tests, not the hot path. */
    size_t n = 0;
    for (const s_entry_t *e = eng->head; e; e = e->next)
        n += e->nvers > 0;
    return n;
}

size_t
stor_engine_overlay_versions(const stor_engine_t *eng)
{
    return eng->nversions;
}

hb_rc_t
stor_engine_scan_hash(stor_engine_t *eng, uint64_t *hash)
{
    *hash = 0;
    leveldb_iterator_t *it = leveldb_create_iterator(eng->db, eng->ropts);
    uint64_t sum = 0;
    for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const char *k = leveldb_iter_key(it, &klen);
        const char *v = leveldb_iter_value(it, &vlen);
        if (s_is_meta(k, klen))
            continue;
        sum += stor_engine_row_hash(k, klen, v, vlen);
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    if (err) {
        hb_error("engine %s: scan failed: %s", eng->dir, err);
        leveldb_free(err);
        return HB_IO;
    }
    *hash = sum;
    return HB_OK;
}
