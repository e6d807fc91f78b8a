/* snapshot.c — SCAN answered from a LevelDB snapshot (see snapshot.h).
 *
 * The storage core is single-threaded and flushes epochs on the same
 * thread, so the applied epoch read just before taking the snapshot is the
 * epoch the snapshot holds; and LevelDB's user rows change only with a
 * flush, which advances the applied epoch, so a kept snapshot of the
 * current applied epoch is as good as a new one. The kept snapshots are a
 * small unordered array (slots 0..n-1 in use): the one to evict when it is
 * full is the least recently used, so that a read paging through one
 * snapshot keeps it while scans at newer epochs come and go. Rows are
 * copied out of the iterator into one growing buffer (iterator memory is
 * only valid until the next step) and then encoded with hb_msg_encode.
 */
#include "snapshot.h"

#include <assert.h>
#include <leveldb/c.h>
#include <stdbool.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_key.h"
#include "hb_mp.h"
#include "hb_log.h"

/* Bytes kept free in a frame for the header and per-row msgpack overhead. */
#define S_FRAME_SLACK  1024
#define S_ROW_OVERHEAD 12

/* Rows copied out of the iterator. */
typedef struct {
    uint8_t *buf;    /* key and value bytes, back to back */
    size_t len;      /* bytes used */
    size_t cap;      /* bytes allocated */
    size_t *off;     /* per row: offset of its key in buf */
    uint32_t *klen;  /* per row: key length (value follows the key) */
    uint32_t *vlen;  /* per row: value length */
    uint32_t n;      /* rows */
    uint32_t rowcap; /* rows allocated */
} s_rows_t;

static void
s_rows_add(s_rows_t *r, const char *k, size_t klen, const char *v, size_t vlen)
{
    if (r->n == r->rowcap) {
        /* Three parallel arrays share one capacity: HB_GROW's rule, once. */
        r->rowcap = (uint32_t)hb_grow_cap(r->rowcap, r->n + 1u, 64, sizeof *r->off);
        r->off = hb_realloc(r->off, r->rowcap * sizeof *r->off);
        r->klen = hb_realloc(r->klen, r->rowcap * sizeof *r->klen);
        r->vlen = hb_realloc(r->vlen, r->rowcap * sizeof *r->vlen);
    }
    HB_GROW(r->buf, r->cap, r->len + klen + vlen, 4096);
    r->off[r->n] = r->len;
    r->klen[r->n] = (uint32_t)klen;
    r->vlen[r->n] = (uint32_t)vlen;
    memcpy(r->buf + r->len, k, klen);
    if (vlen)
        memcpy(r->buf + r->len + klen, v, vlen);
    r->len += klen + vlen;
    r->n++;
}

static void
s_rows_free(s_rows_t *r)
{
    hb_free(r->buf);
    hb_free(r->off);
    hb_free(r->klen);
    hb_free(r->vlen);
}

/* Returns true if key k (klen bytes) is before the end bound (none: true). */
static bool
s_before_end(const char *k, size_t klen, const uint8_t *end, uint32_t end_len)
{
    if (end_len == 0)
        return true;
    size_t m = klen < end_len ? klen : end_len;
    int c = memcmp(k, end, m);
    return c < 0 || (c == 0 && klen < end_len);
}

/* ------------------------------------------------------------------ */
/* Kept snapshots                                                       */
/* ------------------------------------------------------------------ */

/* One kept snapshot. */
typedef struct {
    const leveldb_snapshot_t *snap; /* LevelDB's (released by the ring) */
    uint64_t epoch;                 /* applied epoch it holds */
    uint64_t created_us;            /* monotonic time it was taken */
    uint64_t used;                  /* ring tick of its last use (LRU) */
} s_kept_t;

struct stor_snapshot_ring {
    stor_engine_t *eng;                /* whose LevelDB (borrowed) */
    leveldb_t *db;                     /* the handle the snapshots belong to */
    s_kept_t kept[STOR_SNAPSHOT_KEEP]; /* slots 0..n-1 in use, any order */
    size_t n;                          /* kept snapshots */
    uint64_t tick;                     /* use counter, for LRU eviction */
    uint64_t last_scan_us;             /* when the last SCAN came (0: never) */
};

stor_snapshot_ring_t *
stor_snapshot_ring_new(stor_engine_t *eng)
{
    stor_snapshot_ring_t *ring = hb_calloc(1, sizeof *ring);
    ring->eng = eng;
    ring->db = stor_engine_db(eng);
    return ring;
}

/* Releases slot i; the last slot moves into it. */
static void
s_release(stor_snapshot_ring_t *ring, size_t i)
{
    leveldb_release_snapshot(ring->db, ring->kept[i].snap);
    ring->kept[i] = ring->kept[--ring->n];
    ring->kept[ring->n] = (s_kept_t){0};
}

void
stor_snapshot_ring_clear(stor_snapshot_ring_t *self)
{
    while (self->n)
        s_release(self, self->n - 1);
}

void
stor_snapshot_ring_destroy(stor_snapshot_ring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stor_snapshot_ring_clear(*self_p);
    hb_free(*self_p);
    *self_p = NULL;
}

void
stor_snapshot_ring_expire(stor_snapshot_ring_t *self, uint64_t now_us)
{
    for (size_t i = 0; i < self->n;) {
        uint64_t born = self->kept[i].created_us;
        if (now_us > born && now_us - born > STOR_SNAPSHOT_MAX_AGE_US)
            s_release(self, i);
        else
            i++;
    }
}

size_t
stor_snapshot_ring_size(const stor_snapshot_ring_t *self)
{
    return self->n;
}

/* Returns the snapshot to answer a SCAN with at_epoch (0: current) from,
 * kept in the ring (never NULL), and its epoch in *epoch. */
static const leveldb_snapshot_t *
s_pick(stor_snapshot_ring_t *ring, uint64_t at_epoch, uint64_t now_us,
       stor_snapshot_stats_t *stats, uint64_t *epoch)
{
    /* Snapshots of a closed handle would be dangling: whoever replaces
     * the engine's LevelDB clears the ring first. */
    assert(stor_engine_db(ring->eng) == ring->db);
    uint64_t applied = stor_engine_applied_epoch(ring->eng);
    stor_snapshot_ring_expire(ring, now_us);
    s_kept_t *newest = NULL, *want = NULL;
    for (size_t i = 0; i < ring->n;) {
        s_kept_t *k = &ring->kept[i];
        if (k->epoch > applied) {
            /* The applied epoch never goes back; should it, what such a
             * snapshot holds is no longer a state of this shard. */
            s_release(ring, i);
            newest = want = NULL;
            i = 0;
            continue;
        }
        if (!newest || k->epoch > newest->epoch)
            newest = k;
        if (at_epoch && k->epoch == at_epoch)
            want = k;
        i++;
    }
    s_kept_t *k = want;
    if (!k && newest && newest->epoch == applied) {
        k = newest;
        stats->reused += at_epoch == 0;
    }
    if (!k) {
        if (ring->n == STOR_SNAPSHOT_KEEP) {
            size_t lru = 0;
            for (size_t i = 1; i < ring->n; i++)
                if (ring->kept[i].used < ring->kept[lru].used)
                    lru = i;
            s_release(ring, lru);
        }
        k = &ring->kept[ring->n++];
        *k = (s_kept_t){.snap = leveldb_create_snapshot(ring->db),
                        .epoch = applied,
                        .created_us = now_us};
        stats->snapshots++;
    }
    k->used = ++ring->tick;
    if (at_epoch) {
        stats->at_hits += k->epoch == at_epoch;
        stats->at_misses += k->epoch != at_epoch;
    }
    *epoch = k->epoch;
    return k->snap;
}

void
stor_snapshot_ring_note(stor_snapshot_ring_t *self, uint64_t now_us,
                        stor_snapshot_stats_t *stats)
{
    if (!self->last_scan_us || now_us - self->last_scan_us > STOR_SNAPSHOT_NOTE_US)
        return;
    uint64_t epoch;
    (void)s_pick(self, 0, now_us, stats, &epoch);
}

/* ------------------------------------------------------------------ */
/* Scans                                                                */
/* ------------------------------------------------------------------ */

hb_rc_t
stor_snapshot_scan(stor_snapshot_ring_t *ring, const hb_msg_t *scan, uint64_t now_us,
                   uint32_t max_frame_bytes, msgpack_sbuffer *sbuf,
                   stor_snapshot_stats_t *stats)
{
    if (!scan || scan->type != HB_MSG_SCAN)
        return HB_INVALID;
    stor_snapshot_stats_t scratch = {0};
    if (!stats)
        stats = &scratch;
    ring->last_scan_us = now_us ? now_us : 1;
    const uint8_t *start = scan->u.scan.start, *end = scan->u.scan.end;
    uint32_t start_len = scan->u.scan.start_len, end_len = scan->u.scan.end_len;
    uint32_t limit = scan->u.scan.limit;
    s_rows_t rows = {0};
    hb_rc_t rc = HB_OK;
    const char *msg = "";
    char *lerr = NULL;
    bool truncated = false;

    leveldb_t *db = ring->db;
    uint64_t epoch = 0;
    const leveldb_snapshot_t *snap =
        s_pick(ring, scan->u.scan.at_epoch, now_us, stats, &epoch);
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_readoptions_set_snapshot(ro, snap);
    leveldb_readoptions_set_fill_cache(ro, 1);
    leveldb_iterator_t *it = leveldb_create_iterator(db, ro);

    /* Never below table 1: table 0 is the engine's metadata. */
    static const uint8_t first_user[4] = {0, 0, 0, 1};
    const uint8_t *seek = start;
    size_t seek_len = start_len;
    if (start_len < 4 || memcmp(start, first_user, 4) < 0) {
        seek = first_user;
        seek_len = sizeof first_user;
    }
    size_t budget = max_frame_bytes > 2 * S_FRAME_SLACK ? max_frame_bytes - S_FRAME_SLACK
                                                        : max_frame_bytes / 2;
    size_t bytes = 0;
    for (leveldb_iter_seek(it, (const char *)seek, seek_len);
         rows.n < limit && leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key(it, &klen);
        if (!s_before_end(k, klen, end, end_len))
            break;
        static const uint8_t meta[4] = {0, 0, 0, 0};
        if (klen < 4 || memcmp(k, meta, 4) == 0)
            continue; /* table 0: cannot follow the seek, but never leak it */
        const char *v = leveldb_iter_value(it, &vlen);
        if (bytes + klen + vlen + S_ROW_OVERHEAD > budget) {
            truncated = true;
            break;
        }
        bytes += klen + vlen + S_ROW_OVERHEAD;
        s_rows_add(&rows, k, klen, v, vlen);
    }
    leveldb_iter_get_error(it, &lerr);
    if (lerr) {
        hb_warn("scan: LevelDB iterator failed: %s", lerr);
        rc = HB_IO;
        msg = "storage read failed";
        rows.n = 0;
    }

    /* The catalog version in the same snapshot: this partition's version
     * record [CATALOG][p][""] sorts first among its catalog keys, so that
     * readers can tell a plan made for another catalog (sqlfront). */
    uint64_t catver = 0;
    {
        static const uint8_t cat[4] = {0, 0, 0, HB_TABLE_CATALOG};
        leveldb_iterator_t *ci = leveldb_create_iterator(db, ro);
        leveldb_iter_seek(ci, (const char *)cat, sizeof cat);
        if (leveldb_iter_valid(ci)) {
            size_t klen, vlen;
            const uint8_t *k = (const uint8_t *)leveldb_iter_key(ci, &klen);
            if (klen == 4 + 8 + 2 && memcmp(k, cat, 4) == 0 && k[12] == 0 && k[13] == 1) {
                const uint8_t *v = (const uint8_t *)leveldb_iter_value(ci, &vlen);
                hb_mp_reader_t r;
                uint32_t n = 0;
                int64_t ver = 0;
                hb_mp_reader_init(&r, v, vlen);
                if (hb_mp_read_array(&r, &n) == HB_OK && n == 2 &&
                    hb_mp_read_int(&r, &ver) == HB_OK && ver >= 0)
                    catver = (uint64_t)ver;
            }
        }
        leveldb_iter_destroy(ci);
    }

    hb_wire_kv_t *kvs = rows.n ? hb_malloc(rows.n * sizeof *kvs) : NULL;
    for (uint32_t i = 0; i < rows.n; i++)
        kvs[i] = (hb_wire_kv_t){.key = rows.buf + rows.off[i],
                                .klen = rows.klen[i],
                                .val = rows.buf + rows.off[i] + rows.klen[i],
                                .vlen = rows.vlen[i],
                                .present = true};
    hb_msg_t out = {.type = HB_MSG_SCAN_RESULT};
    out.u.scan_result.req_id = scan->u.scan.req_id;
    out.u.scan_result.epoch = epoch;
    out.u.scan_result.rc = (uint32_t)rc;
    out.u.scan_result.msg = msg;
    out.u.scan_result.msg_len = (uint32_t)strlen(msg);
    out.u.scan_result.nkvs = rows.n;
    out.u.scan_result.kvs = kvs;
    out.u.scan_result.catver = catver;
    hb_rc_t erc = hb_msg_encode(&out, sbuf);
    if (erc != HB_OK)
        hb_warn("scan: cannot encode the answer: %s", hb_rc_str(erc));
    stats->scans++;
    stats->rows += rows.n;
    stats->errors += rc != HB_OK;
    stats->truncated += truncated;

    hb_free(kvs);
    s_rows_free(&rows);
    if (lerr)
        leveldb_free(lerr);
    leveldb_iter_destroy(it);
    leveldb_readoptions_destroy(ro);
    return erc;
}
