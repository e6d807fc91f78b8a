/* seqlog.c — the durable input log of a sequencer group (see seqlog.h).
 *
 * Writes accumulate in one LevelDB WriteBatch and reach the disk, synced,
 * at sync(): a crash loses exactly the writes after the last sync, which
 * is what the Paxos core assumes. The core never reads back a write it has
 * not synced, so reads go straight to the database.
 *
 * The dedup table maps a call id to (delivered epoch, origin replica); a
 * FIFO of (call id, slot) in slot order expires entries once their slot
 * falls out of the window. It holds the calls delivered in the last
 * dedup_window slots, is rebuilt from the epoch index on open, and so is
 * the same on every replica at every slot.
 */
#include "seqlog.h"

#include <leveldb/c.h>
#include <string.h>
#include <time.h>

#include "hb_alloc.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "idmap.h"

/* One delivered call in the expiry FIFO. */
typedef struct {
    uint64_t client_id;
    uint64_t req_id;
    uint64_t slot;
} s_seen_t;

/* A slot written as chosen, waiting for seq_log_take. */
typedef struct {
    uint64_t slot;
    uint64_t epoch; /* 0: no-op */
    uint64_t since;
    uint64_t proposed;
    uint8_t *filtered; /* body without duplicates (owned), NULL if none skipped */
    size_t flen;
    uint32_t skipped;
    seq_log_dup_t *dups; /* owned */
    uint32_t ndups;
} s_pending_t;

struct seq_log {
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_writeoptions_t *wsync; /* sync = true */
    leveldb_readoptions_t *ropts;
    leveldb_writebatch_t *batch; /* writes since the last sync */
    size_t batch_n;              /* puts/deletes in batch */
    seq_paxos_store_t store;     /* the Paxos view */
    char *got;                   /* last value returned by a get (LevelDB malloc) */
    uint64_t chosen_end;         /* one past the last chosen slot written */
    uint64_t accepted_end;       /* one past the highest accepted slot */
    uint64_t last_epoch;         /* last delivered epoch */
    uint32_t window;             /* dedup window in slots */
    seq_idmap_t seen;            /* call id -> (epoch << 8 | origin replica) */
    s_seen_t *fifo;              /* expiry ring */
    size_t fifo_cap, fifo_head, fifo_n;
    s_pending_t *pend; /* ring of slots written, not yet taken */
    size_t pend_cap, pend_head, pend_n;
    s_pending_t cur;         /* the entry last taken (owns its buffers) */
    msgpack_sbuffer scratch; /* building filtered bodies */
    uint64_t syncs, sync_us, skipped_total;
    hb_hist_t sync_hist; /* durations of the synced writes (us) */
};

/* ------------------------------------------------------------ keys */

static void
s_key(uint8_t key[9], char tag, uint64_t n)
{
    key[0] = (uint8_t)tag;
    for (int i = 0; i < 8; i++)
        key[1 + i] = (uint8_t)(n >> (56 - 8 * i));
}

static bool
s_key_num(const char *key, size_t len, char tag, uint64_t *n)
{
    if (len != 9 || key[0] != tag)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (uint8_t)key[1 + i];
    *n = v;
    return true;
}

static uint64_t
s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Returns one past the highest n with a key tag+n, 0 when there is none. */
static uint64_t
s_end_of(seq_log_t *self, char tag)
{
    uint8_t key[9];
    s_key(key, (char)(tag + 1), 0);
    uint64_t end = 0, n;
    leveldb_iterator_t *it = leveldb_create_iterator(self->db, self->ropts);
    leveldb_iter_seek(it, (const char *)key, 1);
    if (leveldb_iter_valid(it))
        leveldb_iter_prev(it);
    else
        leveldb_iter_seek_to_last(it);
    if (leveldb_iter_valid(it)) {
        size_t klen;
        const char *k = leveldb_iter_key(it, &klen);
        if (s_key_num(k, klen, tag, &n))
            end = n + 1;
    }
    leveldb_iter_destroy(it);
    return end;
}

static hb_rc_t
s_get(seq_log_t *self, char tag, uint64_t n, const char **v, size_t *len)
{
    uint8_t key[9];
    s_key(key, tag, n);
    char *err = NULL;
    if (self->got)
        leveldb_free(self->got);
    self->got =
        leveldb_get(self->db, self->ropts, (const char *)key, sizeof key, len, &err);
    if (err) {
        hb_error("input log read failed: %s", err);
        leveldb_free(err);
        self->got = NULL;
        return HB_IO;
    }
    if (!self->got)
        return HB_NOTFOUND;
    *v = self->got;
    return HB_OK;
}

static void
s_put(seq_log_t *self, char tag, uint64_t n, const void *v, size_t len)
{
    uint8_t key[9];
    s_key(key, tag, n);
    leveldb_writebatch_put(self->batch, (const char *)key, sizeof key, v, len);
    self->batch_n++;
}

/* ------------------------------------------------------------ dedup */

/* A dedup entry packs the epoch above the origin replica (< 32, Paxos's
 * bound): epochs are microsecond clock readings, which need 51 bits. */
#define S_ORIGIN_BITS 8
#define S_ORIGIN_MASK ((1u << S_ORIGIN_BITS) - 1)

static void
s_seen_add(seq_log_t *self, uint64_t client_id, uint64_t req_id, uint64_t slot,
           uint64_t epoch, uint16_t origin)
{
    if (self->fifo_n == self->fifo_cap) {
        /* A ring, re-laid oldest first: HB_GROW's rule, not its realloc. */
        size_t cap =
            hb_grow_cap(self->fifo_cap, self->fifo_n + 1, 1024, sizeof *self->fifo);
        s_seen_t *f = hb_calloc(cap, sizeof *f);
        for (size_t i = 0; i < self->fifo_n; i++)
            f[i] = self->fifo[(self->fifo_head + i) % self->fifo_cap];
        hb_free(self->fifo);
        self->fifo = f;
        self->fifo_cap = cap;
        self->fifo_head = 0;
    }
    self->fifo[(self->fifo_head + self->fifo_n++) % self->fifo_cap] =
        (s_seen_t){client_id, req_id, slot};
    seq_idmap_put(&self->seen, client_id, req_id,
                  (epoch << S_ORIGIN_BITS) | (origin & S_ORIGIN_MASK));
}

/* Forgets calls delivered in slots <= slot - window. */
static void
s_seen_expire(seq_log_t *self, uint64_t slot)
{
    while (self->fifo_n) {
        s_seen_t *e = &self->fifo[self->fifo_head];
        if (e->slot + self->window > slot)
            break;
        seq_idmap_del(&self->seen, e->client_id, e->req_id, NULL);
        self->fifo_head = (self->fifo_head + 1) % self->fifo_cap;
        self->fifo_n--;
    }
}

/* Reads the call id and origin of an encoded txn. */
static bool
s_txn_id(const uint8_t *raw, size_t len, uint64_t *client_id, uint64_t *req_id,
         uint16_t *origin)
{
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, raw, len);
    uint32_t n = 0;
    uint64_t o = 0;
    hb_mp_read_array(&r, &n);
    hb_mp_read_uint(&r, client_id);
    hb_mp_read_uint(&r, req_id);
    hb_mp_read_uint(&r, &o);
    *origin = (uint16_t)o;
    return r.err == HB_OK && n == 8 && *client_id != 0 && o <= UINT16_MAX;
}

/* Splits a value into its proposed epoch and its body (array of txns). */
static bool
s_value_body(const void *value, size_t len, uint64_t *proposed, const uint8_t **body,
             size_t *blen)
{
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, value, len);
    uint32_t n = 0;
    hb_mp_read_array(&r, &n);
    hb_mp_read_uint(&r, proposed);
    if (r.err != HB_OK || n != 2 || hb_mp_peek(&r) != HB_MP_ARRAY)
        return false;
    *body = r.p;
    *blen = hb_mp_remaining(&r);
    return true;
}

/* Decides what chosen slot `slot` delivers and records the decision in
 * the dedup table and *pe. Every replica runs this on the same values in
 * the same order. Appends the filtered body to self->scratch when a txn
 * was skipped. */
static void
s_decide(seq_log_t *self, uint64_t slot, const void *value, size_t len, s_pending_t *pe)
{
    memset(pe, 0, sizeof *pe);
    pe->slot = slot;
    if (len == 0)
        return; /* no-op */
    uint64_t proposed = 0;
    const uint8_t *body = NULL;
    size_t blen = 0;
    if (!s_value_body(value, len, &proposed, &body, &blen)) {
        hb_error("chosen slot %llu holds a malformed batch; delivering it empty",
                 (unsigned long long)slot);
        body = (const uint8_t *)"\x90";
        blen = 1;
    }
    pe->proposed = proposed;
    pe->epoch = proposed > self->last_epoch ? proposed : self->last_epoch + 1;
    pe->since = self->last_epoch;
    s_seen_expire(self, slot);

    /* A batch that does not parse to the end is delivered empty (alike
     * everywhere: every replica sees the same bytes). */
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, body, blen);
    uint32_t n = 0;
    bool malformed = false;
    hb_mp_read_array(&r, &n);
    for (uint32_t i = 0; i < n && r.err == HB_OK; i++)
        hb_mp_skip(&r);
    if (r.err != HB_OK || hb_mp_remaining(&r) != 0) {
        hb_error("chosen slot %llu holds a malformed batch; delivering it empty",
                 (unsigned long long)slot);
        pe->skipped = n;
        n = 0;
        malformed = true;
    }
    hb_mp_reader_init(&r, body, blen);
    hb_mp_read_array(&r, &(uint32_t){0});
    msgpack_sbuffer *sb = &self->scratch;
    sb->size = 0;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *raw;
        size_t rlen;
        hb_mp_read_raw(&r, &raw, &rlen);
        uint64_t cid = 0, rid = 0, prev = 0;
        uint16_t origin = 0;
        bool dup = false;
        if (!s_txn_id(raw, rlen, &cid, &rid, &origin)) {
            dup = true; /* unusable: skipped alike everywhere */
        } else if (seq_idmap_get(&self->seen, cid, rid, &prev)) {
            dup = true;
            pe->dups = hb_realloc(pe->dups, (pe->ndups + 1) * sizeof *pe->dups);
            pe->dups[pe->ndups++] =
                (seq_log_dup_t){cid, rid, origin, prev >> S_ORIGIN_BITS,
                                (uint16_t)(prev & S_ORIGIN_MASK)};
        }
        if (dup) {
            if (pe->skipped++ == 0 && i > 0) {
                /* The txns kept so far are the first i: copy them. */
                hb_mp_reader_t r2;
                hb_mp_reader_init(&r2, body, blen);
                hb_mp_read_array(&r2, &(uint32_t){0});
                const uint8_t *first = r2.p;
                for (uint32_t j = 0; j < i; j++)
                    hb_mp_skip(&r2);
                msgpack_sbuffer_write(sb, (const char *)first, (size_t)(r2.p - first));
            }
            continue;
        }
        s_seen_add(self, cid, rid, slot, pe->epoch, origin);
        if (pe->skipped)
            msgpack_sbuffer_write(sb, (const char *)raw, rlen);
        kept++;
    }
    if (pe->skipped || malformed) {
        msgpack_sbuffer fb;
        msgpack_sbuffer_init(&fb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &fb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, kept);
        msgpack_sbuffer_write(&fb, sb->data, sb->size);
        pe->filtered = (uint8_t *)fb.data; /* msgpack sbuffer memory is malloc'd */
        pe->flen = fb.size;
    }
    self->skipped_total += pe->skipped;
    self->last_epoch = pe->epoch;
}

static void
s_pending_free(s_pending_t *pe)
{
    free(pe->filtered); /* from msgpack_sbuffer: plain malloc */
    hb_free(pe->dups);
    memset(pe, 0, sizeof *pe);
}

/* ------------------------------------------------------------ store */

static hb_rc_t
s_get_meta(void *ctx, uint64_t *promised, uint64_t *round)
{
    seq_log_t *self = ctx;
    const char *v;
    size_t len;
    *promised = *round = 0;
    hb_rc_t rc = s_get(self, 'M', 0, &v, &len);
    if (rc == HB_NOTFOUND)
        return HB_OK;
    if (rc != HB_OK)
        return rc;
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, v, len);
    uint32_t n = 0;
    hb_mp_read_array(&r, &n);
    hb_mp_read_uint(&r, promised);
    hb_mp_read_uint(&r, round);
    return r.err == HB_OK && n == 2 ? HB_OK : HB_CORRUPT;
}

static hb_rc_t
s_put_meta(void *ctx, uint64_t promised, uint64_t round)
{
    seq_log_t *self = ctx;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, promised);
    msgpack_pack_uint64(&pk, round);
    s_put(self, 'M', 0, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return HB_OK;
}

static hb_rc_t
s_get_accepted(void *ctx, uint64_t slot, uint64_t *ballot, const void **value,
               size_t *len)
{
    seq_log_t *self = ctx;
    const char *v;
    size_t vlen;
    hb_rc_t rc = s_get(self, 'A', slot, &v, &vlen);
    if (rc != HB_OK)
        return rc;
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, v, vlen);
    uint32_t n = 0, blen = 0;
    const uint8_t *b = NULL;
    hb_mp_read_array(&r, &n);
    hb_mp_read_uint(&r, ballot);
    hb_mp_read_bin(&r, &b, &blen);
    if (r.err != HB_OK || n != 2)
        return HB_CORRUPT;
    *value = b;
    *len = blen;
    return HB_OK;
}

static hb_rc_t
s_put_accepted(void *ctx, uint64_t slot, uint64_t ballot, const void *value, size_t len)
{
    seq_log_t *self = ctx;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, ballot);
    hb_mp_pack_bin(&pk, value, len);
    s_put(self, 'A', slot, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (slot + 1 > self->accepted_end)
        self->accepted_end = slot + 1;
    return HB_OK;
}

static hb_rc_t
s_get_chosen(void *ctx, uint64_t slot, const void **value, size_t *len)
{
    seq_log_t *self = ctx;
    const char *v;
    hb_rc_t rc = s_get(self, 'C', slot, &v, len);
    if (rc == HB_OK)
        *value = v;
    return rc;
}

static hb_rc_t
s_put_chosen(void *ctx, uint64_t slot, const void *value, size_t len)
{
    seq_log_t *self = ctx;
    if (slot != self->chosen_end) {
        hb_error("input log: chosen slot %llu written out of order (expected %llu)",
                 (unsigned long long)slot, (unsigned long long)self->chosen_end);
        return HB_INTERNAL;
    }
    if (self->pend_n == self->pend_cap) {
        /* A ring, re-laid oldest first: HB_GROW's rule, not its realloc. */
        size_t cap =
            hb_grow_cap(self->pend_cap, self->pend_n + 1, 64, sizeof *self->pend);
        s_pending_t *p = hb_calloc(cap, sizeof *p);
        for (size_t i = 0; i < self->pend_n; i++)
            p[i] = self->pend[(self->pend_head + i) % self->pend_cap];
        hb_free(self->pend);
        self->pend = p;
        self->pend_cap = cap;
        self->pend_head = 0;
    }
    s_pending_t *pe = &self->pend[(self->pend_head + self->pend_n++) % self->pend_cap];
    s_decide(self, slot, value, len, pe);
    s_put(self, 'C', slot, value, len);
    uint8_t key[9];
    s_key(key, 'A', slot);
    leveldb_writebatch_delete(self->batch, (const char *)key, sizeof key);
    if (pe->epoch) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, 3);
        msgpack_pack_uint64(&pk, slot);
        msgpack_pack_uint64(&pk, pe->since);
        if (pe->filtered)
            hb_mp_pack_bin(&pk, pe->filtered, pe->flen);
        else
            msgpack_pack_nil(&pk);
        s_put(self, 'E', pe->epoch, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    self->chosen_end = slot + 1;
    return HB_OK;
}

static hb_rc_t
s_bounds(void *ctx, uint64_t *chosen_end, uint64_t *accepted_end)
{
    seq_log_t *self = ctx;
    *chosen_end = self->chosen_end;
    *accepted_end = self->accepted_end;
    return HB_OK;
}

static hb_rc_t
s_sync(void *ctx)
{
    seq_log_t *self = ctx;
    if (self->batch_n == 0)
        return HB_OK;
    char *err = NULL;
    uint64_t t0 = s_mono_us();
    leveldb_write(self->db, self->wsync, self->batch, &err);
    uint64_t dt = s_mono_us() - t0;
    self->sync_us += dt;
    hb_hist_add(&self->sync_hist, dt);
    if (err) {
        hb_error("input log sync failed: %s", err);
        leveldb_free(err);
        return HB_IO;
    }
    leveldb_writebatch_clear(self->batch);
    self->batch_n = 0;
    self->syncs++;
    return HB_OK;
}

/* ------------------------------------------------------------ open */

/* Reads an epoch index entry. */
static bool
s_read_index(const char *v, size_t len, uint64_t *slot, uint64_t *since,
             const uint8_t **fbody, uint32_t *flen)
{
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, v, len);
    uint32_t n = 0;
    hb_mp_read_array(&r, &n);
    hb_mp_read_uint(&r, slot);
    hb_mp_read_uint(&r, since);
    *fbody = NULL;
    *flen = 0;
    if (r.err == HB_OK && hb_mp_peek(&r) == HB_MP_NIL)
        hb_mp_skip(&r);
    else
        hb_mp_read_bin(&r, fbody, flen);
    return r.err == HB_OK && n == 3;
}

/* Rebuilds the dedup table from the delivered batches of the last window
 * slots, oldest first. */
static hb_rc_t
s_rebuild(seq_log_t *self)
{
    uint64_t lo = self->chosen_end > self->window ? self->chosen_end - self->window : 0;
    uint64_t *epochs = NULL;
    size_t n = 0, cap = 0;
    leveldb_iterator_t *it = leveldb_create_iterator(self->db, self->ropts);
    uint8_t key[9];
    s_key(key, 'F', 0); /* just past every 'E' key */
    leveldb_iter_seek(it, (const char *)key, 1);
    if (leveldb_iter_valid(it))
        leveldb_iter_prev(it);
    else
        leveldb_iter_seek_to_last(it);
    for (; leveldb_iter_valid(it); leveldb_iter_prev(it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key(it, &klen);
        uint64_t epoch, slot, since;
        if (!s_key_num(k, klen, 'E', &epoch))
            break;
        const uint8_t *fb;
        uint32_t fl;
        const char *val = leveldb_iter_value(it, &vlen);
        if (!s_read_index(val, vlen, &slot, &since, &fb, &fl)) {
            leveldb_iter_destroy(it);
            hb_free(epochs);
            return HB_CORRUPT;
        }
        if (self->last_epoch == 0)
            self->last_epoch = epoch;
        if (slot < lo)
            break;
        HB_GROW(epochs, cap, n + 1, 256);
        epochs[n++] = epoch;
    }
    leveldb_iter_destroy(it);
    hb_rc_t rc = HB_OK;
    for (size_t i = n; i-- > 0 && rc == HB_OK;) {
        const char *v;
        size_t vlen;
        uint64_t slot, since, proposed;
        const uint8_t *fb, *body;
        uint32_t fl;
        size_t blen;
        if ((rc = s_get(self, 'E', epochs[i], &v, &vlen)) != HB_OK)
            break;
        uint8_t *copy = hb_memdup(v, vlen);
        if (!s_read_index((const char *)copy, vlen, &slot, &since, &fb, &fl)) {
            rc = HB_CORRUPT;
        } else if (fb) {
            body = fb;
            blen = fl;
        } else if ((rc = s_get(self, 'C', slot, &v, &vlen)) == HB_OK &&
                   !s_value_body(v, vlen, &proposed, &body, &blen)) {
            body = (const uint8_t *)"\x90";
            blen = 1;
        }
        if (rc == HB_OK) {
            hb_mp_reader_t r;
            hb_mp_reader_init(&r, body, blen);
            uint32_t cnt = 0;
            hb_mp_read_array(&r, &cnt);
            for (uint32_t j = 0; j < cnt && r.err == HB_OK; j++) {
                const uint8_t *raw;
                size_t rlen;
                uint64_t cid, rid;
                uint16_t origin;
                if (hb_mp_read_raw(&r, &raw, &rlen) == HB_OK &&
                    s_txn_id(raw, rlen, &cid, &rid, &origin))
                    s_seen_add(self, cid, rid, slot, epochs[i], origin);
            }
        }
        hb_free(copy);
    }
    hb_free(epochs);
    return rc == HB_NOTFOUND ? HB_CORRUPT : rc;
}

seq_log_t *
seq_log_open(const char *dir, uint32_t dedup_window)
{
    seq_log_t *self = hb_calloc(1, sizeof *self);
    self->window = dedup_window ? dedup_window : 1;
    seq_idmap_init(&self->seen);
    msgpack_sbuffer_init(&self->scratch);
    self->opts = leveldb_options_create();
    leveldb_options_set_create_if_missing(self->opts, 1);
    /* Batches are written once and read back only on replay and catch-up:
     * compressing them costs the sequencer more than the disk it saves. */
    leveldb_options_set_compression(self->opts, leveldb_no_compression);
    leveldb_options_set_write_buffer_size(self->opts, 16u << 20);
    self->wsync = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(self->wsync, 1);
    self->ropts = leveldb_readoptions_create();
    self->batch = leveldb_writebatch_create();
    char *err = NULL;
    self->db = leveldb_open(self->opts, dir, &err);
    if (err) {
        hb_error("cannot open input log %s: %s", dir, err);
        leveldb_free(err);
        seq_log_destroy(&self);
        return NULL;
    }
    self->chosen_end = s_end_of(self, 'C');
    self->accepted_end = s_end_of(self, 'A');
    if (s_rebuild(self) != HB_OK) {
        hb_error("input log %s: epoch index is corrupt", dir);
        seq_log_destroy(&self);
        return NULL;
    }
    self->store = (seq_paxos_store_t){
        .ctx = self,
        .get_meta = s_get_meta,
        .put_meta = s_put_meta,
        .get_accepted = s_get_accepted,
        .put_accepted = s_put_accepted,
        .get_chosen = s_get_chosen,
        .put_chosen = s_put_chosen,
        .bounds = s_bounds,
        .sync = s_sync,
    };
    hb_info("input log %s: %llu slots chosen, last epoch %llu, %zu call ids remembered",
            dir, (unsigned long long)self->chosen_end,
            (unsigned long long)self->last_epoch, self->seen.n);
    return self;
}

void
seq_log_destroy(seq_log_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    seq_log_t *self = *self_p;
    if (self->db)
        leveldb_close(self->db);
    if (self->opts)
        leveldb_options_destroy(self->opts);
    if (self->wsync)
        leveldb_writeoptions_destroy(self->wsync);
    if (self->ropts)
        leveldb_readoptions_destroy(self->ropts);
    if (self->batch)
        leveldb_writebatch_destroy(self->batch);
    if (self->got)
        leveldb_free(self->got);
    for (size_t i = 0; i < self->pend_n; i++)
        s_pending_free(&self->pend[(self->pend_head + i) % self->pend_cap]);
    hb_free(self->pend);
    s_pending_free(&self->cur);
    hb_free(self->fifo);
    seq_idmap_clear(&self->seen);
    msgpack_sbuffer_destroy(&self->scratch);
    hb_free(self);
    *self_p = NULL;
}

seq_paxos_store_t *
seq_log_store(seq_log_t *self)
{
    return &self->store;
}

bool
seq_log_take(seq_log_t *self, uint64_t slot, const void *value, size_t len,
             seq_log_entry_t *out)
{
    memset(out, 0, sizeof *out);
    s_pending_free(&self->cur);
    if (self->pend_n == 0 || self->pend[self->pend_head].slot != slot) {
        hb_error("input log: slot %llu delivered but not written as chosen",
                 (unsigned long long)slot);
        return false;
    }
    self->cur = self->pend[self->pend_head];
    self->pend_head = (self->pend_head + 1) % self->pend_cap;
    self->pend_n--;
    s_pending_t *pe = &self->cur;
    out->slot = slot;
    out->epoch = pe->epoch;
    out->since = pe->since;
    out->proposed_epoch = pe->proposed;
    out->skipped = pe->skipped;
    out->ndups = pe->ndups;
    out->dups = pe->dups;
    if (pe->epoch == 0)
        return true;
    if (pe->filtered) {
        out->body = pe->filtered;
        out->len = pe->flen;
    } else {
        uint64_t proposed;
        if (!s_value_body(value, len, &proposed, &out->body, &out->len)) {
            out->body = (const uint8_t *)"\x90";
            out->len = 1;
        }
    }
    return true;
}

uint64_t
seq_log_last(const seq_log_t *self)
{
    return self->last_epoch;
}

size_t
seq_log_scan(seq_log_t *self, uint64_t from, size_t max, seq_log_chosen_fn fn, void *arg)
{
    size_t n = 0;
    uint8_t key[9];
    s_key(key, 'E', from);
    leveldb_iterator_t *it = leveldb_create_iterator(self->db, self->ropts);
    for (leveldb_iter_seek(it, (const char *)key, sizeof key);
         leveldb_iter_valid(it) && n < max; leveldb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key(it, &klen);
        uint64_t epoch, slot, since, proposed;
        if (!s_key_num(k, klen, 'E', &epoch))
            break;
        const uint8_t *fb, *body;
        uint32_t fl;
        size_t blen;
        const char *val = leveldb_iter_value(it, &vlen);
        if (!s_read_index(val, vlen, &slot, &since, &fb, &fl)) {
            hb_error("input log: index entry of epoch %llu is corrupt",
                     (unsigned long long)epoch);
            break;
        }
        if (fb) {
            fn(arg, epoch, since, fb, fl);
        } else {
            const char *v;
            size_t len;
            if (s_get(self, 'C', slot, &v, &len) != HB_OK) {
                hb_error("input log: chosen slot %llu of epoch %llu is missing",
                         (unsigned long long)slot, (unsigned long long)epoch);
                break;
            }
            if (!s_value_body(v, len, &proposed, &body, &blen)) {
                body = (const uint8_t *)"\x90";
                blen = 1;
            }
            fn(arg, epoch, since, body, blen);
        }
        n++;
    }
    leveldb_iter_destroy(it);
    return n;
}

void
seq_log_pack_value(msgpack_sbuffer *sb, uint64_t proposed_epoch, uint32_t n,
                   const void *txns, size_t len)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, proposed_epoch);
    msgpack_pack_array(&pk, n);
    msgpack_sbuffer_write(sb, (const char *)txns, len);
}

uint64_t
seq_log_syncs(const seq_log_t *self)
{
    return self->syncs;
}

const hb_hist_t *
seq_log_sync_hist(const seq_log_t *self)
{
    return &self->sync_hist;
}

uint64_t
seq_log_sync_us(const seq_log_t *self)
{
    return self->sync_us;
}

uint64_t
seq_log_skipped(const seq_log_t *self)
{
    return self->skipped_total;
}

uint64_t
seq_log_dedup_size(const seq_log_t *self)
{
    return self->seen.n;
}
