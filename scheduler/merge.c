/* merge.c — the merger core (see merge.h and docs/protocol.md step 4).
 *
 * Each group has a FIFO ring of accepted batches (their epochs increase,
 * since each advanced known[g]) and an array of held batches sorted by
 * epoch. After known[g] moves, the held batch with the smallest epoch is
 * looked at: a duplicate is dropped, a contiguous one accepted, otherwise
 * the group waits for the gap (a held batch further on whose `since`
 * reaches back over a smaller held epoch would contradict the group's
 * chain, so it is never taken first). The smallest known[g] is kept
 * incrementally (with the number of groups at it), so offering a batch that
 * completes nothing costs O(1); a release scans the groups once (O(groups)
 * per released epoch, i.e. O(1) per batch when every group sends each
 * epoch).
 */
#include "merge.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_log.h"

typedef struct {
    uint64_t known;        /* epoch through which the chain is contiguous */
    sched_batch_t **queue; /* accepted batches, FIFO ring */
    uint32_t qhead;        /* index of the oldest in queue */
    uint32_t qcount;       /* batches in queue */
    uint32_t qcap;         /* capacity of queue (power of two, or 0) */
    sched_batch_t **pend;  /* held batches sorted by epoch: pend[poff..poff+npend) */
    uint32_t poff;         /* first used slot of pend */
    uint32_t npend;        /* held batches */
    uint32_t pcap;         /* capacity of pend */
} s_group_t;

struct sched_merge {
    uint16_t ngroups;       /* number of groups */
    uint32_t max_pending;   /* bound on held batches over all groups */
    s_group_t *groups;      /* ngroups entries */
    uint64_t kmin;          /* smallest known[g] */
    uint32_t nmin;          /* groups whose known[g] == kmin */
    uint64_t floor;         /* every epoch <= floor is released or has no batch */
    sched_merge_stats_t st; /* counters (queued/pending kept current) */
    uint64_t clock_us;      /* stamped on added batches (statistics only) */
};

/* ---------------------------------------------------------------------------
 * Batches
 */

static int
s_cmp_index(const void *a, const void *b)
{
    const hb_wire_txn_t *x = *(const hb_wire_txn_t *const *)a;
    const hb_wire_txn_t *y = *(const hb_wire_txn_t *const *)b;
    return x->index < y->index ? -1 : x->index > y->index ? 1 : 0;
}

/* Copies a batch into one allocation, sorting by index and dropping
 * transactions whose index repeats (counted). */
static sched_batch_t *
s_batch_copy(sched_merge_t *self, uint16_t group, uint64_t epoch, uint64_t since,
             const hb_wire_txn_t *txns, uint32_t ntxns)
{
    const hb_wire_txn_t **order = NULL;
    bool sorted = true;
    size_t bytes = 0;
    for (uint32_t i = 0; i < ntxns; i++) {
        bytes += txns[i].raw_len;
        if (i > 0 && txns[i].index <= txns[i - 1].index)
            sorted = false;
    }
    if (!sorted) {
        order = hb_malloc(ntxns * sizeof *order);
        for (uint32_t i = 0; i < ntxns; i++)
            order[i] = &txns[i];
        qsort(order, ntxns, sizeof *order, s_cmp_index);
    }
    size_t head = sizeof(sched_batch_t) + (size_t)ntxns * sizeof(sched_merge_txn_t);
    sched_batch_t *b = hb_malloc(head + bytes);
    b->group = group;
    b->epoch = epoch;
    b->since = since;
    b->arrived_us = self->clock_us;
    b->txns = (sched_merge_txn_t *)(b + 1);
    b->ntxns = 0;
    uint8_t *p = (uint8_t *)b + head;
    for (uint32_t i = 0; i < ntxns; i++) {
        const hb_wire_txn_t *t = order ? order[i] : &txns[i];
        if (b->ntxns > 0 && b->txns[b->ntxns - 1].index == t->index) {
            self->st.dup_indexes++;
            hb_warn("merge: batch (group %u, epoch %llu) repeats index %u; dropped",
                    group, (unsigned long long)epoch, t->index);
            continue;
        }
        sched_merge_txn_t *m = &b->txns[b->ntxns++];
        m->index = t->index;
        m->raw_len = t->raw_len;
        m->raw = p;
        if (t->raw_len)
            memcpy(p, t->raw, t->raw_len);
        p += t->raw_len;
    }
    hb_free(order);
    return b;
}

void
sched_batch_destroy(sched_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_free(*self_p);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------------
 * Per-group queue and pending set
 */

static void
s_recompute_min(sched_merge_t *self)
{
    self->kmin = UINT64_MAX;
    self->nmin = 0;
    for (uint16_t i = 0; i < self->ngroups; i++) {
        uint64_t k = self->groups[i].known;
        if (k < self->kmin) {
            self->kmin = k;
            self->nmin = 1;
        } else if (k == self->kmin) {
            self->nmin++;
        }
    }
}

/* Advances known[g] (it only grows outside reset), keeping kmin. */
static void
s_set_known(sched_merge_t *self, s_group_t *g, uint64_t known)
{
    uint64_t old = g->known;
    g->known = known;
    if (old == self->kmin && --self->nmin == 0)
        s_recompute_min(self);
}

static void
s_enqueue(sched_merge_t *self, s_group_t *g, sched_batch_t *b)
{
    if (g->qcount == g->qcap) {
        /* A ring, re-laid oldest first: HB_GROW's rule, not its realloc. */
        uint32_t nc =
            (uint32_t)hb_grow_cap(g->qcap, g->qcount + 1u, 16, sizeof *g->queue);
        sched_batch_t **q = hb_malloc(nc * sizeof *q);
        for (uint32_t i = 0; i < g->qcount; i++)
            q[i] = g->queue[(g->qhead + i) & (g->qcap - 1)];
        hb_free(g->queue);
        g->queue = q;
        g->qcap = nc;
        g->qhead = 0;
    }
    g->queue[(g->qhead + g->qcount) & (g->qcap - 1)] = b;
    g->qcount++;
    s_set_known(self, g, b->epoch);
    self->st.queued++;
    self->st.accepted++;
}

static sched_batch_t *
s_queue_front(const s_group_t *g)
{
    return g->qcount ? g->queue[g->qhead] : NULL;
}

static sched_batch_t *
s_dequeue(sched_merge_t *self, s_group_t *g)
{
    sched_batch_t *b = g->queue[g->qhead];
    g->qhead = (g->qhead + 1) & (g->qcap - 1);
    g->qcount--;
    self->st.queued--;
    return b;
}

/* Returns the position in g's held set of the first batch with an epoch
 * >= epoch (binary search). */
static uint32_t
s_pend_find(const s_group_t *g, uint64_t epoch)
{
    uint32_t lo = 0, hi = g->npend;
    sched_batch_t *const *base = g->pend + g->poff;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (base[mid]->epoch < epoch)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool
s_pend_has(const s_group_t *g, uint64_t epoch)
{
    uint32_t i = s_pend_find(g, epoch);
    return i < g->npend && g->pend[g->poff + i]->epoch == epoch;
}

/* Inserts b into g's held set. Returns false (b not taken) if a batch of
 * the same epoch is already held. */
static bool
s_pend_insert(sched_merge_t *self, s_group_t *g, sched_batch_t *b)
{
    uint32_t lo = s_pend_find(g, b->epoch);
    sched_batch_t **base = g->pend + g->poff;
    if (lo < g->npend && base[lo]->epoch == b->epoch)
        return false;
    if (g->poff + g->npend == g->pcap) {
        if (g->poff > 0) {
            memmove(g->pend, g->pend + g->poff, g->npend * sizeof *g->pend);
            g->poff = 0;
        } else {
            HB_GROW(g->pend, g->pcap, g->npend + 1, 16);
        }
        base = g->pend + g->poff;
    }
    memmove(base + lo + 1, base + lo, (g->npend - lo) * sizeof *base);
    base[lo] = b;
    g->npend++;
    self->st.pending++;
    return true;
}

static void
s_pend_pop(sched_merge_t *self, s_group_t *g)
{
    g->poff++;
    g->npend--;
    if (g->npend == 0)
        g->poff = 0;
    self->st.pending--;
}

/* Accepts held batches that the chain now reaches; drops stale ones. */
static void
s_drain(sched_merge_t *self, s_group_t *g)
{
    while (g->npend > 0) {
        sched_batch_t *b = g->pend[g->poff];
        if (b->epoch <= g->known) {
            s_pend_pop(self, g);
            self->st.duplicates++;
            sched_batch_destroy(&b);
        } else if (b->since <= g->known) {
            s_pend_pop(self, g);
            s_enqueue(self, g, b);
        } else {
            break;
        }
    }
}

/* ---------------------------------------------------------------------------
 * Public API
 */

sched_merge_t *
sched_merge_new(uint16_t ngroups, uint32_t max_pending)
{
    if (ngroups == 0) {
        hb_error("merge: needs at least one group");
        return NULL;
    }
    sched_merge_t *self = hb_calloc(1, sizeof *self);
    self->ngroups = ngroups;
    self->max_pending = max_pending ? max_pending : SCHED_MERGE_MAX_PENDING_DEFAULT;
    self->groups = hb_calloc(ngroups, sizeof *self->groups);
    s_recompute_min(self);
    return self;
}

static void
s_group_clear(s_group_t *g)
{
    for (uint32_t i = 0; i < g->qcount; i++)
        hb_free(g->queue[(g->qhead + i) & (g->qcap - 1)]);
    for (uint32_t i = 0; i < g->npend; i++)
        hb_free(g->pend[g->poff + i]);
    hb_free(g->queue);
    hb_free(g->pend);
}

void
sched_merge_destroy(sched_merge_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sched_merge_t *self = *self_p;
    for (uint16_t i = 0; i < self->ngroups; i++)
        s_group_clear(&self->groups[i]);
    hb_free(self->groups);
    hb_free(self);
    *self_p = NULL;
}

sched_merge_result_t
sched_merge_add(sched_merge_t *self, uint16_t group, uint64_t epoch, uint64_t since,
                const hb_wire_txn_t *txns, uint32_t ntxns)
{
    if (!self)
        return SCHED_MERGE_INVALID;
    if (group >= self->ngroups || since >= epoch || (ntxns && !txns)) {
        self->st.invalid++;
        hb_warn("merge: invalid batch (group %u of %u, epoch %llu, since %llu); dropped",
                group, self->ngroups, (unsigned long long)epoch,
                (unsigned long long)since);
        return SCHED_MERGE_INVALID;
    }
    s_group_t *g = &self->groups[group];
    if (epoch <= g->known) {
        self->st.duplicates++;
        return SCHED_MERGE_DUPLICATE;
    }
    /* Even a batch dropped for lack of room proves the epoch exists: the
     * stall detector must ask for it again. */
    if (epoch > self->st.max_seen)
        self->st.max_seen = epoch;
    if (since <= g->known) {
        s_enqueue(self, g, s_batch_copy(self, group, epoch, since, txns, ntxns));
        s_drain(self, g);
        return SCHED_MERGE_ACCEPTED;
    }
    if (s_pend_has(g, epoch)) {
        self->st.duplicates++;
        return SCHED_MERGE_DUPLICATE;
    }
    if (self->st.pending >= self->max_pending) {
        self->st.overflows++;
        hb_warn("merge: %llu batches held; dropping (group %u, epoch %llu)",
                (unsigned long long)self->st.pending, group, (unsigned long long)epoch);
        return SCHED_MERGE_OVERFLOW;
    }
    sched_batch_t *b = s_batch_copy(self, group, epoch, since, txns, ntxns);
    if (!s_pend_insert(self, g, b)) {
        sched_batch_destroy(&b);
        self->st.duplicates++;
        return SCHED_MERGE_DUPLICATE;
    }
    self->st.held++;
    return SCHED_MERGE_HELD;
}

uint32_t
sched_merge_pop_epoch(sched_merge_t *self, uint64_t *epoch, sched_batch_t **out)
{
    *epoch = 0;
    if (!self || self->kmin <= self->floor)
        return 0; /* the usual case: some group has not reached the next epoch */
    uint64_t e = UINT64_MAX;
    for (uint16_t i = 0; i < self->ngroups; i++) {
        const sched_batch_t *b = s_queue_front(&self->groups[i]);
        if (b && b->epoch < e)
            e = b->epoch;
    }
    if (e > self->kmin) {
        /* Nothing queued up to kmin, and every later batch lies beyond some
         * known[g] >= kmin: epochs up to kmin are all done. */
        self->floor = self->kmin;
        return 0;
    }
    uint32_t n = 0;
    for (uint16_t i = 0; i < self->ngroups; i++) {
        s_group_t *g = &self->groups[i];
        const sched_batch_t *b = s_queue_front(g);
        if (b && b->epoch == e)
            out[n++] = s_dequeue(self, g);
    }
    self->st.released += n;
    self->st.epochs++;
    self->st.last_epoch = e;
    self->floor = e;
    *epoch = e;
    return n;
}

void
sched_merge_set_clock(sched_merge_t *self, uint64_t now_us)
{
    self->clock_us = now_us;
}

void
sched_merge_reset(sched_merge_t *self, uint64_t applied)
{
    if (!self)
        return;
    for (uint16_t i = 0; i < self->ngroups; i++) {
        s_group_t *g = &self->groups[i];
        while (g->qcount > 0) {
            sched_batch_t *b = s_dequeue(self, g);
            self->st.accepted--; /* it will count again when re-accepted */
            if (b->epoch <= applied || !s_pend_insert(self, g, b))
                sched_batch_destroy(&b);
        }
        g->known = applied;
    }
    s_recompute_min(self);
    self->floor = applied;
    for (uint16_t i = 0; i < self->ngroups; i++)
        s_drain(self, &self->groups[i]);
    self->st.last_epoch = applied;
}

uint64_t
sched_merge_known(const sched_merge_t *self, uint16_t group)
{
    if (!self || group >= self->ngroups)
        return 0;
    return self->groups[group].known;
}

uint64_t
sched_merge_known_min(const sched_merge_t *self)
{
    return self ? self->kmin : 0;
}

uint64_t
sched_merge_missing(const sched_merge_t *self, uint16_t group)
{
    if (!self || group >= self->ngroups)
        return 0;
    uint64_t k = self->groups[group].known;
    return k < self->st.max_seen ? k + 1 : 0;
}

uint16_t
sched_merge_ngroups(const sched_merge_t *self)
{
    return self ? self->ngroups : 0;
}

void
sched_merge_stats(const sched_merge_t *self, sched_merge_stats_t *out)
{
    if (!out)
        return;
    if (!self) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = self->st;
}
