/* policy_calvin.c — deterministic per-key FIFO shared/exclusive locking.
 *
 * The default policy ("calvin"). Every lock key of this partition has a
 * FIFO queue of requests, appended in global order at submit. The granted
 * requests of a queue are always a prefix of it: either one exclusive
 * request, or a run of shared ones. A request is granted when every earlier
 * request in its queue is granted and compatible with it; a transaction is
 * ready when all of its requests are granted. On complete its requests leave
 * their queues and the successors that become grantable are granted; the
 * transactions that became ready are handed out sorted by global position.
 *
 * The key -> queue map is a chained hash table (hb_hash64 of the key bytes)
 * used only for lookup: nothing ever iterates it to decide a grant, so its
 * layout cannot influence the schedule. Each operation touches only the
 * queues of the transaction's own keys (O(locks) plus the successors it
 * grants). Entries and per-transaction records are recycled through free
 * lists, so a steady workload does not allocate.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_hash.h"
#include "hb_log.h"
#include "hb_txn.h"
#include "policy.h"

/* Fixed seed: the table layout must not depend on anything external. */
#define S_HASH_SEED       0x6c6f636b7461626cULL
#define S_INITIAL_BUCKETS 1024u
/* Records of one size class kept for reuse; beyond that they are freed. */
#define S_MAX_FREE_PER_CLASS 4096u
#define S_CLASSES            33

typedef struct s_req s_req_t;
typedef struct s_entry s_entry_t;
typedef struct s_rec s_rec_t;

/* One transaction's request on one key. */
struct s_req {
    s_req_t *prev;      /* earlier request in the key's queue */
    s_req_t *next;      /* later request in the key's queue */
    s_entry_t *entry;   /* the key's queue */
    s_rec_t *rec;       /* the transaction that asked */
    const uint8_t *key; /* key bytes, borrowed from the transaction */
    uint32_t len;       /* key length */
    uint8_t mode;       /* HB_LOCK_READ or HB_LOCK_WRITE (strongest asked) */
    uint8_t granted;    /* 1 once granted */
};

/* The queue of one key. Lives while the queue is not empty. */
struct s_entry {
    s_entry_t *chain;       /* next entry in the bucket, or in the free list */
    uint64_t hash;          /* hb_hash64 of the key */
    const uint8_t *key;     /* key bytes of the head request (borrowed) */
    uint32_t len;           /* key length */
    uint32_t ngranted;      /* granted requests (a prefix of the queue) */
    s_req_t *head;          /* oldest request */
    s_req_t *tail;          /* newest request */
    s_req_t *first_waiting; /* first request not granted, NULL if none */
};

/* Per-transaction record, from submit to complete. */
struct s_rec {
    sched_txn_t *txn;   /* the transaction (caller's) */
    s_rec_t *live_prev; /* neighbours in the list of live records, or the */
    s_rec_t *live_next; /* free list of its size class (live_next only) */
    uint32_t nreqs;     /* requests in reqs (distinct keys) */
    uint32_t waiting;   /* requests not yet granted */
    uint32_t cls;       /* size class: capacity of reqs is 1 << cls */
    s_req_t reqs[];     /* one per distinct key */
};

typedef struct {
    sched_policy_env_t env;         /* ready callback */
    s_entry_t **buckets;            /* hash buckets */
    uint32_t nbuckets;              /* power of two */
    uint32_t nentries;              /* keys with a non-empty queue */
    s_entry_t *free_entries;        /* recycled entries */
    s_rec_t *free_recs[S_CLASSES];  /* recycled records by size class */
    uint32_t nfree_recs[S_CLASSES]; /* lengths of those lists */
    s_rec_t *live;                  /* records of submitted, uncompleted txns */
    sched_txn_t **readyv;           /* scratch: txns made ready by complete */
    uint32_t readyv_cap;            /* capacity of readyv */
    sched_policy_stats_t st;        /* counters */
} s_calvin_t;

/* ---------------------------------------------------------------------------
 * Records and entries
 */

static uint32_t
s_class_of(uint32_t n)
{
    uint32_t cls = 0;
    while (((uint64_t)1 << cls) < n)
        cls++;
    return cls;
}

static s_rec_t *
s_rec_get(s_calvin_t *self, uint32_t nlocks)
{
    uint32_t cls = s_class_of(nlocks);
    s_rec_t *rec = self->free_recs[cls];
    if (rec) {
        self->free_recs[cls] = rec->live_next;
        self->nfree_recs[cls]--;
    } else {
        rec = hb_malloc(sizeof *rec + ((size_t)1 << cls) * sizeof(s_req_t));
        rec->cls = cls;
    }
    rec->nreqs = 0;
    rec->waiting = 0;
    rec->live_prev = NULL;
    rec->live_next = self->live;
    if (self->live)
        self->live->live_prev = rec;
    self->live = rec;
    return rec;
}

static void
s_rec_put(s_calvin_t *self, s_rec_t *rec)
{
    if (rec->live_prev)
        rec->live_prev->live_next = rec->live_next;
    else
        self->live = rec->live_next;
    if (rec->live_next)
        rec->live_next->live_prev = rec->live_prev;
    rec->txn = NULL;
    if (self->nfree_recs[rec->cls] >= S_MAX_FREE_PER_CLASS) {
        hb_free(rec);
        return;
    }
    rec->live_next = self->free_recs[rec->cls];
    self->free_recs[rec->cls] = rec;
    self->nfree_recs[rec->cls]++;
}

static void
s_grow(s_calvin_t *self)
{
    uint32_t nb = self->nbuckets * 2;
    s_entry_t **b = hb_calloc(nb, sizeof *b);
    for (uint32_t i = 0; i < self->nbuckets; i++) {
        s_entry_t *e = self->buckets[i];
        while (e) {
            s_entry_t *next = e->chain;
            uint32_t j = (uint32_t)(e->hash & (nb - 1));
            e->chain = b[j];
            b[j] = e;
            e = next;
        }
    }
    hb_free(self->buckets);
    self->buckets = b;
    self->nbuckets = nb;
}

static s_entry_t *
s_lookup(const s_calvin_t *self, uint64_t h, const uint8_t *key, uint32_t len)
{
    for (s_entry_t *e = self->buckets[h & (self->nbuckets - 1)]; e; e = e->chain)
        if (e->hash == h && e->len == len && (len == 0 || memcmp(e->key, key, len) == 0))
            return e;
    return NULL;
}

static s_entry_t *
s_entry_add(s_calvin_t *self, uint64_t h, const uint8_t *key, uint32_t len)
{
    if (self->nentries >= self->nbuckets)
        s_grow(self);
    s_entry_t *e = self->free_entries;
    if (e)
        self->free_entries = e->chain;
    else
        e = hb_malloc(sizeof *e);
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->key = key;
    e->len = len;
    uint32_t j = (uint32_t)(h & (self->nbuckets - 1));
    e->chain = self->buckets[j];
    self->buckets[j] = e;
    self->nentries++;
    return e;
}

static void
s_entry_remove(s_calvin_t *self, s_entry_t *e)
{
    s_entry_t **pp = &self->buckets[e->hash & (self->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    self->nentries--;
    e->chain = self->free_entries;
    self->free_entries = e;
}

/* ---------------------------------------------------------------------------
 * Ops
 */

static void *
s_create(const sched_policy_env_t *env)
{
    if (!env || !env->ready) {
        hb_error("calvin: create needs a ready callback");
        return NULL;
    }
    s_calvin_t *self = hb_calloc(1, sizeof *self);
    self->env = *env;
    self->nbuckets = S_INITIAL_BUCKETS;
    self->buckets = hb_calloc(self->nbuckets, sizeof *self->buckets);
    return self;
}

static void
s_destroy(void **state_p)
{
    if (!state_p || !*state_p)
        return;
    s_calvin_t *self = *state_p;
    for (uint32_t i = 0; i < self->nbuckets; i++) {
        s_entry_t *e = self->buckets[i];
        while (e) {
            s_entry_t *next = e->chain;
            hb_free(e);
            e = next;
        }
    }
    while (self->free_entries) {
        s_entry_t *next = self->free_entries->chain;
        hb_free(self->free_entries);
        self->free_entries = next;
    }
    while (self->live) {
        s_rec_t *next = self->live->live_next;
        hb_free(self->live);
        self->live = next;
    }
    for (int c = 0; c < S_CLASSES; c++) {
        while (self->free_recs[c]) {
            s_rec_t *next = self->free_recs[c]->live_next;
            hb_free(self->free_recs[c]);
            self->free_recs[c] = next;
        }
    }
    hb_free(self->buckets);
    hb_free(self->readyv);
    hb_free(self);
    *state_p = NULL;
}

static hb_rc_t
s_submit(void *state, sched_txn_t *txn)
{
    s_calvin_t *self = state;
    if (!self || !txn || (txn->nlocks && !txn->locks)) {
        hb_error("calvin: submit of an invalid transaction");
        return HB_INVALID;
    }
    self->st.submitted++;
    if (txn->nlocks == 0) {
        txn->priv = NULL;
        self->st.running++;
        self->env.ready(self->env.ctx, txn);
        return HB_OK;
    }
    s_rec_t *rec = s_rec_get(self, txn->nlocks);
    rec->txn = txn;
    txn->priv = rec;
    for (uint32_t i = 0; i < txn->nlocks; i++) {
        const sched_lock_t *lk = &txn->locks[i];
        uint8_t mode = lk->mode == HB_LOCK_READ ? HB_LOCK_READ : HB_LOCK_WRITE;
        uint64_t h = hb_hash64(lk->key, lk->len, S_HASH_SEED);
        s_entry_t *e = s_lookup(self, h, lk->key, lk->len);
        if (e && e->tail->rec == rec) {
            /* The same key again in this transaction: one request in the
             * strongest mode. It is the tail (we append in order). */
            s_req_t *r = e->tail;
            if (mode == HB_LOCK_WRITE && r->mode == HB_LOCK_READ) {
                r->mode = HB_LOCK_WRITE;
                if (r->granted && !(r == e->head && e->ngranted == 1)) {
                    /* Earlier shared holders: now it must wait for them. */
                    r->granted = 0;
                    e->ngranted--;
                    e->first_waiting = r;
                    rec->waiting++;
                }
            }
            continue;
        }
        if (!e)
            e = s_entry_add(self, h, lk->key, lk->len);
        s_req_t *r = &rec->reqs[rec->nreqs++];
        r->entry = e;
        r->rec = rec;
        r->key = lk->key;
        r->len = lk->len;
        r->mode = mode;
        r->next = NULL;
        r->prev = e->tail;
        if (e->tail)
            e->tail->next = r;
        else
            e->head = r;
        e->tail = r;
        /* Grantable iff first, or shared behind an all-granted run whose
         * last member is shared (then the whole granted prefix is shared). */
        bool grant = r == e->head || (mode == HB_LOCK_READ && !e->first_waiting &&
                                      r->prev->granted && r->prev->mode == HB_LOCK_READ);
        r->granted = grant;
        if (grant) {
            e->ngranted++;
        } else {
            rec->waiting++;
            if (!e->first_waiting)
                e->first_waiting = r;
        }
    }
    if (rec->waiting == 0) {
        self->st.running++;
        self->env.ready(self->env.ctx, txn);
    } else {
        self->st.waiting++;
        self->st.lock_waits++;
    }
    return HB_OK;
}

static void
s_push_ready(s_calvin_t *self, uint32_t *n, sched_txn_t *txn)
{
    HB_GROW(self->readyv, self->readyv_cap, *n + 1, 64);
    self->readyv[(*n)++] = txn;
}

static void
s_grant(s_calvin_t *self, s_req_t *r, uint32_t *nready)
{
    r->granted = 1;
    r->entry->ngranted++;
    if (--r->rec->waiting == 0)
        s_push_ready(self, nready, r->rec->txn);
}

static int
s_cmp_pos(const void *a, const void *b)
{
    const sched_txn_t *x = *(sched_txn_t *const *)a;
    const sched_txn_t *y = *(sched_txn_t *const *)b;
    if (x->epoch != y->epoch)
        return x->epoch < y->epoch ? -1 : 1;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return 0;
}

static hb_rc_t
s_complete(void *state, sched_txn_t *txn)
{
    s_calvin_t *self = state;
    if (!self || !txn)
        return HB_INVALID;
    s_rec_t *rec = txn->priv;
    if (!rec) {
        if (txn->nlocks != 0 || self->st.running == 0) {
            hb_error("calvin: complete of a transaction that is not ready (%llu,%u,%u)",
                     (unsigned long long)txn->epoch, txn->group, txn->index);
            return HB_INVALID;
        }
        self->st.running--;
        self->st.completed++;
        return HB_OK;
    }
    if (rec->txn != txn || rec->waiting != 0) {
        hb_error("calvin: complete of a transaction that is not ready (%llu,%u,%u)",
                 (unsigned long long)txn->epoch, txn->group, txn->index);
        return HB_INVALID;
    }
    uint32_t nready = 0;
    for (uint32_t i = 0; i < rec->nreqs; i++) {
        s_req_t *r = &rec->reqs[i];
        s_entry_t *e = r->entry;
        bool was_head = r == e->head;
        if (r->prev)
            r->prev->next = r->next;
        else
            e->head = r->next;
        if (r->next)
            r->next->prev = r->prev;
        else
            e->tail = r->prev;
        e->ngranted--;
        if (!e->head) {
            s_entry_remove(self, e);
            continue;
        }
        if (was_head) {
            e->key = e->head->key;
            e->len = e->head->len;
        }
        if (e->ngranted == 0 && e->first_waiting) {
            /* The queue's holders are gone: the first waiter is now the
             * head. Grant it, and if shared, the run of shared behind it. */
            s_req_t *w = e->first_waiting;
            s_grant(self, w, &nready);
            w = w->next;
            if (e->head->mode == HB_LOCK_READ)
                while (w && w->mode == HB_LOCK_READ) {
                    s_grant(self, w, &nready);
                    w = w->next;
                }
            e->first_waiting = w;
        }
    }
    txn->priv = NULL;
    s_rec_put(self, rec);
    self->st.running--;
    self->st.completed++;
    if (nready > 1)
        qsort(self->readyv, nready, sizeof *self->readyv, s_cmp_pos);
    self->st.waiting -= nready;
    self->st.running += nready;
    for (uint32_t i = 0; i < nready; i++)
        self->env.ready(self->env.ctx, self->readyv[i]);
    return HB_OK;
}

static void
s_stats(void *state, sched_policy_stats_t *out)
{
    const s_calvin_t *self = state;
    if (!out)
        return;
    if (!self) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = self->st;
}

const sched_policy_ops_t sched_policy_calvin = {
    .abi = SCHED_POLICY_ABI,
    .name = "calvin",
    .create = s_create,
    .destroy = s_destroy,
    .submit = s_submit,
    .complete = s_complete,
    .stats = s_stats,
};
