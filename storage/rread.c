/* rread.c — the remote-read log (see rread.h).
 *
 * In memory, entries of unflushed epochs sit in one array in sending order;
 * it holds only the pipeline's unflushed epochs, so the linear passes at
 * flush and truncation stay short. Per recipient the log remembers the
 * highest applied epoch it reported (nothing at or below it is logged
 * again) and the epoch through which on-disk deletes were staged (so a
 * repeated APPLIED stages nothing twice).
 */
#include "rread.h"

#include <stdbool.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_log.h"

/* One logged RREAD frame. */
typedef struct {
    uint64_t epoch; /* transaction epoch */
    uint16_t group; /* transaction group */
    uint32_t index; /* transaction index in its batch */
    uint16_t to;    /* recipient partition */
    bool staged;    /* handed to the engine's next flush */
    uint8_t *frame; /* owned frame bytes */
    size_t len;     /* frame length */
} s_entry_t;

struct stor_rrlog {
    stor_engine_t *engine; /* the shard (borrowed) */
    uint16_t self;         /* this partition */
    uint32_t nparts;       /* partitions in the cluster */
    s_entry_t *mem;        /* entries of unflushed epochs, sending order */
    size_t nmem;           /* entries used */
    size_t capmem;         /* entries allocated */
    uint64_t *applied;     /* per recipient: highest reported applied epoch */
    uint64_t *truncated;   /* per recipient: disk deletes staged through this epoch */
};

void
stor_rrlog_key(uint8_t out[STOR_RRLOG_KEY_LEN], uint16_t to, uint64_t epoch,
               uint16_t group, uint32_t index)
{
    memset(out, 0, 4); /* HB_TABLE_META */
    out[4] = 'r';
    out[5] = 'r';
    out[6] = (uint8_t)(to >> 8);
    out[7] = (uint8_t)to;
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(epoch >> (56 - 8 * i));
    out[16] = (uint8_t)(group >> 8);
    out[17] = (uint8_t)group;
    for (int i = 0; i < 4; i++)
        out[18 + i] = (uint8_t)(index >> (24 - 8 * i));
}

/* Writes the key bounding the entries to `to` of epochs >= epoch (group and
 * index zero). UINT64_MAX + 1 is expressed as the next recipient's start. */
static void
s_bound(uint8_t out[STOR_RRLOG_KEY_LEN], uint32_t to, uint64_t epoch)
{
    stor_rrlog_key(out, (uint16_t)to, epoch, 0, 0);
    if (to > UINT16_MAX) { /* past the last recipient */
        memset(out + 6, 0xff, STOR_RRLOG_KEY_LEN - 6);
    }
}

stor_rrlog_t *
stor_rrlog_new(stor_engine_t *engine, uint16_t self, uint32_t nparts)
{
    if (!engine || nparts == 0 || self >= nparts)
        return NULL;
    stor_rrlog_t *log = hb_calloc(1, sizeof *log);
    log->engine = engine;
    log->self = self;
    log->nparts = nparts;
    log->applied = hb_calloc(nparts, sizeof *log->applied);
    log->truncated = hb_calloc(nparts, sizeof *log->truncated);
    return log;
}

static void
s_mem_clear(stor_rrlog_t *log)
{
    for (size_t i = 0; i < log->nmem; i++)
        hb_free(log->mem[i].frame);
    log->nmem = 0;
}

void
stor_rrlog_destroy(stor_rrlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stor_rrlog_t *log = *self_p;
    s_mem_clear(log);
    hb_free(log->mem);
    hb_free(log->applied);
    hb_free(log->truncated);
    hb_free(log);
    *self_p = NULL;
}

void
stor_rrlog_add(stor_rrlog_t *log, uint64_t epoch, uint16_t group, uint32_t index,
               uint16_t to, const void *frame, size_t len)
{
    if (to >= log->nparts || to == log->self || epoch <= log->applied[to])
        return;
    HB_GROW(log->mem, log->capmem, log->nmem + 1, 64);
    log->mem[log->nmem++] = (s_entry_t){.epoch = epoch,
                                        .group = group,
                                        .index = index,
                                        .to = to,
                                        .frame = hb_memdup(frame, len ? len : 1),
                                        .len = len};
}

static void
s_stage_entry(stor_rrlog_t *log, const s_entry_t *e, bool put)
{
    uint8_t key[STOR_RRLOG_KEY_LEN];
    stor_rrlog_key(key, e->to, e->epoch, e->group, e->index);
    if (stor_engine_stage_meta(log->engine, key, sizeof key, put ? e->frame : NULL,
                               put ? e->len : 0) != HB_OK)
        hb_error("rr-log: cannot stage an entry of epoch %llu",
                 (unsigned long long)e->epoch);
}

void
stor_rrlog_stage(stor_rrlog_t *log, uint64_t epoch)
{
    for (size_t i = 0; i < log->nmem; i++) {
        s_entry_t *e = &log->mem[i];
        if (e->staged || e->epoch > epoch)
            continue;
        s_stage_entry(log, e, true);
        e->staged = true;
    }
}

/* Removes the in-memory entries keep() rejects, preserving order. If
 * stage_delete, a removed entry that was staged gets a staged delete. */
static void
s_mem_filter(stor_rrlog_t *log, bool (*drop)(const s_entry_t *, const void *),
             const void *arg, bool stage_delete)
{
    size_t w = 0;
    for (size_t r = 0; r < log->nmem; r++) {
        s_entry_t *e = &log->mem[r];
        if (drop(e, arg)) {
            if (stage_delete && e->staged)
                s_stage_entry(log, e, false);
            hb_free(e->frame);
            continue;
        }
        log->mem[w++] = *e;
    }
    log->nmem = w;
}

static bool
s_drop_flushed(const s_entry_t *e, const void *arg)
{
    return e->staged && e->epoch <= *(const uint64_t *)arg;
}

void
stor_rrlog_flushed(stor_rrlog_t *log, uint64_t epoch)
{
    s_mem_filter(log, s_drop_flushed, &epoch, false);
}

static bool
s_drop_unstaged(const s_entry_t *e, const void *arg)
{
    (void)arg;
    return !e->staged;
}

void
stor_rrlog_discard_unstaged(stor_rrlog_t *log)
{
    s_mem_filter(log, s_drop_unstaged, NULL, false);
}

/* Truncation target. */
typedef struct {
    uint16_t to;    /* recipient */
    uint64_t epoch; /* applied epoch it reported */
} s_trunc_t;

static bool
s_drop_applied(const s_entry_t *e, const void *arg)
{
    const s_trunc_t *t = arg;
    return e->to == t->to && e->epoch <= t->epoch;
}

static bool
s_stage_delete(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
               size_t vlen)
{
    (void)val;
    (void)vlen;
    stor_rrlog_t *log = arg;
    return stor_engine_stage_meta(log->engine, key, klen, NULL, 0) == HB_OK;
}

hb_rc_t
stor_rrlog_truncate(stor_rrlog_t *log, uint16_t to, uint64_t epoch)
{
    if (to >= log->nparts || to == log->self || epoch <= log->applied[to])
        return HB_OK;
    log->applied[to] = epoch;
    s_trunc_t t = {.to = to, .epoch = epoch};
    s_mem_filter(log, s_drop_applied, &t, true);

    uint8_t start[STOR_RRLOG_KEY_LEN], end[STOR_RRLOG_KEY_LEN];
    s_bound(start, to, log->truncated[to] + 1);
    if (epoch == UINT64_MAX)
        s_bound(end, (uint32_t)to + 1, 0);
    else
        s_bound(end, to, epoch + 1);
    hb_rc_t rc = stor_engine_meta_scan(log->engine, start, sizeof start, end, sizeof end,
                                       s_stage_delete, log);
    if (rc != HB_OK) {
        log->applied[to] = log->truncated[to]; /* let the next report retry */
        return rc;
    }
    log->truncated[to] = epoch;
    return HB_OK;
}

/* Resend target. */
typedef struct {
    stor_rrlog_fn fn; /* where frames go */
    void *arg;        /* its argument */
    uint16_t to;      /* recipient */
    uint64_t n;       /* frames given */
} s_resend_t;

static bool
s_resend_disk(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void)key;
    (void)klen;
    s_resend_t *r = arg;
    r->fn(r->arg, r->to, val, vlen);
    r->n++;
    return true;
}

hb_rc_t
stor_rrlog_resend(stor_rrlog_t *log, uint16_t to, uint64_t from, stor_rrlog_fn fn,
                  void *arg, uint64_t *count)
{
    s_resend_t r = {.fn = fn, .arg = arg, .to = to};
    if (count)
        *count = 0;
    if (to >= log->nparts)
        return HB_OK;
    uint8_t start[STOR_RRLOG_KEY_LEN], end[STOR_RRLOG_KEY_LEN];
    s_bound(start, to, from);
    s_bound(end, (uint32_t)to + 1, 0);
    hb_rc_t rc = stor_engine_meta_scan(log->engine, start, sizeof start, end, sizeof end,
                                       s_resend_disk, &r);
    /* Staged entries are not on disk yet: memory holds them until the flush. */
    for (size_t i = 0; i < log->nmem; i++) {
        const s_entry_t *e = &log->mem[i];
        if (e->to == to && e->epoch >= from) {
            fn(arg, to, e->frame, e->len);
            r.n++;
        }
    }
    if (count)
        *count = r.n;
    return rc;
}

size_t
stor_rrlog_memory_entries(const stor_rrlog_t *log)
{
    return log->nmem;
}

static bool
s_count(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    (*(size_t *)arg)++;
    return true;
}

size_t
stor_rrlog_disk_entries(stor_rrlog_t *log)
{
    uint8_t start[STOR_RRLOG_KEY_LEN], end[STOR_RRLOG_KEY_LEN];
    size_t n = 0;
    s_bound(start, 0, 0);
    s_bound(end, (uint32_t)UINT16_MAX + 1, 0);
    if (stor_engine_meta_scan(log->engine, start, sizeof start, end, sizeof end, s_count,
                              &n) != HB_OK)
        return 0;
    return n;
}
