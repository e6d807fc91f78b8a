/* seqlog.c — the local, fsynced input log (see seqlog.h).
 *
 * Key: 'B' + epoch (8 bytes big-endian), so LevelDB's order is epoch order.
 * Value: msgpack [since, body...] where body is the batch's array of raw
 * transactions, stored verbatim. Written with sync = true: a batch counts as
 * chosen only once it is on disk.
 */
#include "seqlog.h"

#include <leveldb/c.h>
#include <msgpack.h>
#include <string.h>
#include <time.h>

#include "hb_alloc.h"
#include "hb_log.h"
#include "hb_mp.h"

struct seq_log {
    leveldb_t *db;                 /* the log */
    leveldb_options_t *opts;       /* open options */
    leveldb_writeoptions_t *wsync; /* sync = true */
    leveldb_readoptions_t *ropts;  /* scans */
    seq_log_chosen_fn chosen;      /* callback on chosen */
    void *arg;                     /* its argument */
    uint64_t last;                 /* last chosen epoch */
    uint64_t writes;               /* proposals written */
    uint64_t sync_us;              /* time spent in synced writes */
};

static void
s_key(uint8_t key[9], uint64_t epoch)
{
    key[0] = 'B';
    for (int i = 0; i < 8; i++)
        key[1 + i] = (uint8_t)(epoch >> (56 - 8 * i));
}

static uint64_t
s_key_epoch(const char *key, size_t len)
{
    if (len != 9 || key[0] != 'B')
        return 0;
    uint64_t e = 0;
    for (int i = 0; i < 8; i++)
        e = (e << 8) | (uint8_t)key[1 + i];
    return e;
}

static uint64_t
s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

seq_log_t *
seq_log_open(const char *dir, seq_log_chosen_fn chosen, void *arg)
{
    seq_log_t *self = hb_calloc(1, sizeof *self);
    self->chosen = chosen;
    self->arg = arg;
    self->opts = leveldb_options_create();
    leveldb_options_set_create_if_missing(self->opts, 1);
    /* Batches are written once and read back only on replay: compressing
     * them costs the sequencer more than the disk it saves. */
    leveldb_options_set_compression(self->opts, leveldb_no_compression);
    leveldb_options_set_write_buffer_size(self->opts, 16u << 20);
    self->wsync = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(self->wsync, 1);
    self->ropts = leveldb_readoptions_create();
    char *err = NULL;
    self->db = leveldb_open(self->opts, dir, &err);
    if (err) {
        hb_error("cannot open input log %s: %s", dir, err);
        leveldb_free(err);
        seq_log_destroy(&self);
        return NULL;
    }
    leveldb_iterator_t *it = leveldb_create_iterator(self->db, self->ropts);
    leveldb_iter_seek_to_last(it);
    if (leveldb_iter_valid(it)) {
        size_t klen;
        const char *k = leveldb_iter_key(it, &klen);
        self->last = s_key_epoch(k, klen);
    }
    leveldb_iter_destroy(it);
    hb_info("input log %s: last chosen epoch %llu", dir, (unsigned long long)self->last);
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
    hb_free(self);
    *self_p = NULL;
}

hb_rc_t
seq_log_propose(seq_log_t *self, uint64_t epoch, uint64_t since, const uint8_t *body,
                size_t len)
{
    if (epoch <= self->last || since > self->last)
        return HB_INVALID;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_uint64(&pk, since);
    msgpack_sbuffer_write(&sb, (const char *)body, len);
    uint8_t key[9];
    s_key(key, epoch);
    char *err = NULL;
    uint64_t t0 = s_mono_us();
    leveldb_put(self->db, self->wsync, (const char *)key, sizeof key, sb.data, sb.size, &err);
    self->sync_us += s_mono_us() - t0;
    msgpack_sbuffer_destroy(&sb);
    if (err) {
        hb_error("input log write of epoch %llu failed: %s", (unsigned long long)epoch, err);
        leveldb_free(err);
        return HB_IO;
    }
    self->writes++;
    self->last = epoch;
    self->chosen(self->arg, epoch, since, body, len);
    return HB_OK;
}

uint64_t
seq_log_last(const seq_log_t *self)
{
    return self->last;
}

size_t
seq_log_scan(seq_log_t *self, uint64_t from, size_t max, seq_log_chosen_fn fn, void *arg)
{
    size_t n = 0;
    uint8_t key[9];
    s_key(key, from);
    leveldb_iterator_t *it = leveldb_create_iterator(self->db, self->ropts);
    for (leveldb_iter_seek(it, (const char *)key, sizeof key); leveldb_iter_valid(it) && n < max;
         leveldb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key(it, &klen);
        const char *v = leveldb_iter_value(it, &vlen);
        uint64_t epoch = s_key_epoch(k, klen);
        if (epoch == 0)
            break;
        hb_mp_reader_t r;
        hb_mp_reader_init(&r, v, vlen);
        uint64_t since = 0;
        if (hb_mp_read_uint(&r, &since) != HB_OK) {
            hb_error("input log entry %llu is corrupt", (unsigned long long)epoch);
            break;
        }
        fn(arg, epoch, since, r.p, hb_mp_remaining(&r));
        n++;
    }
    leveldb_iter_destroy(it);
    return n;
}

uint64_t
seq_log_writes(const seq_log_t *self)
{
    return self->writes;
}

uint64_t
seq_log_sync_us(const seq_log_t *self)
{
    return self->sync_us;
}
