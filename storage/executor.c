/* executor.c — the storage core (see executor.h).
 *
 * Per-epoch bookkeeping is a small array sorted by epoch: the announced
 * transaction count, the completed count and the set of (group, index)
 * already dispatched (so a duplicated DISPATCH is never applied twice, and
 * an RREAD for a finished transaction is recognised). After each EPOCH or
 * completed transaction, the longest prefix of announced, complete epochs
 * is flushed with one stor_engine_flush of its last epoch, together with
 * the remote-read log entries of those epochs.
 *
 * The remote-read exchange keeps one record per transaction (epoch, group,
 * index) in a chained hash table: created by its DISPATCH (the transaction
 * is then *parked* until the reads of every other participant are in) or
 * by an RREAD that overtook the DISPATCH (an *early* record holding only
 * copied reads). Execution never depends on the table's order: a parked
 * transaction runs when its last read arrives, and the body sees the reads
 * through the context's per-key slots. s_execute is laid out as the steps
 * of docs/architecture.md section 2 step 7.
 */
#include "executor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_hash.h"
#include "hb_log.h"
#include "hb_proc.h"
#include "hb_txn.h"
#include "procs.h"
#include "rread.h"

#define S_TOKEN_FLUSH_RETRY 0 /* timer token: retry a failed flush */
#define S_TOKEN_APPLIED                                                                  \
    UINT64_MAX /* timer token: send APPLIED (HELLO tokens count up from 1) */
#define S_FLUSH_RETRY_US   100000
#define S_PEND_MIN_BUCKETS 64

/* Bookkeeping of one epoch not yet flushed. */
typedef struct {
    uint64_t epoch;    /* epoch number */
    bool announced;    /* EPOCH received */
    uint32_t ntxns;    /* announced transaction count */
    uint32_t done;     /* transactions completed */
    uint64_t *seen;    /* open addressing set of ((group << 32) | index) + 1; 0 = empty */
    uint32_t seen_cap; /* slots in seen (power of two, or 0) */
    uint32_t nseen;    /* entries in seen */
} s_epoch_t;

/* The reads one participant made for a transaction, with owned bytes. */
typedef struct {
    uint16_t from;     /* participant partition */
    uint32_t n;        /* entries */
    hb_wire_kv_t *kvs; /* entries; key and val point into bytes */
    uint8_t *bytes;    /* owned key and value bytes */
} s_reads_t;

/* One transaction of the remote-read exchange: parked or early. */
typedef struct s_pend {
    struct s_pend *chain; /* next record in the same bucket */
    uint64_t epoch;       /* global order: epoch */
    uint16_t group;       /* global order: group */
    uint32_t index;       /* global order: index in the batch */
    hb_txn_t *txn;        /* decoded transaction; NULL while early */
    uint16_t *parts;      /* participants, ascending (when txn is set) */
    uint32_t nparts;      /* participants */
    s_reads_t *reads;     /* reads gathered: local and remote */
    uint32_t nreads;      /* reads used */
    uint32_t capreads;    /* reads allocated */
    uint64_t start_us;    /* statistics clock at dispatch (remote-read wait) */
} s_pend_t;

struct stor_executor {
    stor_engine_t *engine;   /* the shard (borrowed) */
    hb_env_t env;            /* world interface (copy) */
    hb_node_t self;          /* this storage node */
    uint32_t nparts;         /* partitions in the cluster */
    hb_limits_t lim;         /* decoding bounds */
    bool accepted;           /* scheduler accepted the current incarnation */
    uint64_t hello_token;    /* token of the live HELLO timer (>= 1) */
    bool flush_retry_armed;  /* a flush retry timer is pending */
    s_epoch_t *epochs;       /* unflushed epochs, ascending */
    size_t nepochs;          /* epochs used */
    size_t capepochs;        /* epochs allocated */
    s_pend_t **pend;         /* exchange records, chained hash buckets */
    size_t npendb;           /* buckets (power of two) */
    size_t npend;            /* records */
    size_t nparked;          /* records with a transaction */
    size_t nearly;           /* reads held by records without one */
    uint16_t *partbuf;       /* scratch: participants (nparts entries) */
    stor_rrlog_t *rrlog;     /* the reads this storage sent */
    stor_ctx_t *ctx;         /* execution context, reused per transaction */
    msgpack_sbuffer sbuf;    /* scratch for outgoing frames */
    stor_exec_stats_t stats; /* counters */
    /* Per-stage latencies (us; statistics only, never read by execution). */
    hb_hist_t rread_wait; /* dispatched -> every participant's reads in */
    hb_hist_t exec;       /* the procedure body over the gathered reads */
    hb_hist_t apply;      /* its writes into the epoch's overlay */
    hb_hist_t reply;      /* encoding and sending the REPLY */
    hb_hist_t flush;      /* one flush of complete epochs to the engine */
};

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

static void
s_send(stor_executor_t *ex, hb_node_t to, const hb_msg_t *msg)
{
    msgpack_sbuffer_clear(&ex->sbuf);
    if (hb_msg_encode(msg, &ex->sbuf) != HB_OK) {
        hb_error("cannot encode %s", hb_msg_type_str(msg->type));
        ex->stats.send_errors++;
        return;
    }
    if (ex->env.send(ex->env.ctx, to, ex->sbuf.data, ex->sbuf.size) != HB_OK)
        ex->stats.send_errors++;
}

static hb_node_t
s_scheduler(const stor_executor_t *ex)
{
    return hb_node(HB_ROLE_SCHEDULER, ex->self.replica, ex->self.partition);
}

static void
s_send_hello(stor_executor_t *ex)
{
    hb_msg_t m = {.type = HB_MSG_HELLO};
    m.u.hello.incarnation = stor_engine_incarnation(ex->engine);
    m.u.hello.applied_epoch = stor_engine_applied_epoch(ex->engine);
    s_send(ex, s_scheduler(ex), &m);
    ex->stats.hellos++;
}

/* Starts (or restarts) the HELLO cycle for the current incarnation. */
static void
s_start_hello(stor_executor_t *ex)
{
    ex->accepted = false;
    ex->hello_token++;
    s_send_hello(ex);
    ex->env.timer(ex->env.ctx, STOR_HELLO_INTERVAL_US, ex->hello_token);
}

static void
s_send_done(stor_executor_t *ex, uint64_t epoch, uint16_t group, uint32_t index)
{
    hb_msg_t m = {.type = HB_MSG_DONE};
    m.u.done.incarnation = stor_engine_incarnation(ex->engine);
    m.u.done.epoch = epoch;
    m.u.done.group = group;
    m.u.done.index = index;
    s_send(ex, s_scheduler(ex), &m);
}

/* ------------------------------------------------------------------ */
/* Epoch bookkeeping                                                   */
/* ------------------------------------------------------------------ */

static void
s_epoch_free(s_epoch_t *e)
{
    hb_free(e->seen);
    e->seen = NULL;
}

static void
s_epochs_clear(stor_executor_t *ex)
{
    for (size_t i = 0; i < ex->nepochs; i++)
        s_epoch_free(&ex->epochs[i]);
    ex->nepochs = 0;
}

/* Returns the record of epoch, creating it in order. */
static s_epoch_t *
s_epoch_get(stor_executor_t *ex, uint64_t epoch)
{
    size_t pos = ex->nepochs;
    while (pos > 0 && ex->epochs[pos - 1].epoch >= epoch) {
        if (ex->epochs[pos - 1].epoch == epoch)
            return &ex->epochs[pos - 1];
        pos--;
    }
    HB_GROW(ex->epochs, ex->capepochs, ex->nepochs + 1, 8);
    memmove(&ex->epochs[pos + 1], &ex->epochs[pos],
            (ex->nepochs - pos) * sizeof *ex->epochs);
    ex->epochs[pos] = (s_epoch_t){.epoch = epoch};
    ex->nepochs++;
    return &ex->epochs[pos];
}

/* Adds (group, index) to the epoch's seen set. Returns false if present. */
static bool
s_epoch_mark(s_epoch_t *e, uint16_t group, uint32_t index)
{
    uint64_t v = (((uint64_t)group << 32) | index) + 1;
    if ((e->nseen + 1) * 2 > e->seen_cap) {
        uint32_t cap = e->seen_cap ? e->seen_cap * 2 : 16;
        uint64_t *s = hb_calloc(cap, sizeof *s);
        for (uint32_t i = 0; i < e->seen_cap; i++) {
            if (!e->seen[i])
                continue;
            uint32_t j = (uint32_t)hb_mix64(e->seen[i]) & (cap - 1);
            while (s[j])
                j = (j + 1) & (cap - 1);
            s[j] = e->seen[i];
        }
        hb_free(e->seen);
        e->seen = s;
        e->seen_cap = cap;
    }
    uint32_t j = (uint32_t)hb_mix64(v) & (e->seen_cap - 1);
    while (e->seen[j]) {
        if (e->seen[j] == v)
            return false;
        j = (j + 1) & (e->seen_cap - 1);
    }
    e->seen[j] = v;
    e->nseen++;
    return true;
}

/* Returns the record of epoch, or NULL. */
static s_epoch_t *
s_epoch_find(stor_executor_t *ex, uint64_t epoch)
{
    for (size_t i = ex->nepochs; i > 0; i--)
        if (ex->epochs[i - 1].epoch == epoch)
            return &ex->epochs[i - 1];
    return NULL;
}

/* Returns true if (group, index) is in the epoch's seen set. */
static bool
s_epoch_seen(const s_epoch_t *e, uint16_t group, uint32_t index)
{
    if (!e->seen_cap)
        return false;
    uint64_t v = (((uint64_t)group << 32) | index) + 1;
    for (uint32_t j = (uint32_t)hb_mix64(v) & (e->seen_cap - 1); e->seen[j];
         j = (j + 1) & (e->seen_cap - 1))
        if (e->seen[j] == v)
            return true;
    return false;
}

static void s_pend_drop_through(stor_executor_t *ex, uint64_t epoch);

/* Flushes the longest prefix of announced, complete epochs, with the
 * remote-read log entries of those epochs. */
static void
s_try_flush(stor_executor_t *ex)
{
    size_t k = 0;
    while (k < ex->nepochs && ex->epochs[k].announced &&
           ex->epochs[k].done >= ex->epochs[k].ntxns)
        k++;
    if (k == 0)
        return;
    uint64_t epoch = ex->epochs[k - 1].epoch;
    stor_rrlog_stage(ex->rrlog, epoch);
    uint64_t t0 = hb_env_mono_us(&ex->env);
    hb_rc_t rc = stor_engine_flush(ex->engine, epoch);
    if (rc != HB_OK) {
        ex->stats.flush_errors++;
        hb_error("flush of epoch %" PRIu64 " failed (%s); retrying", epoch,
                 hb_rc_str(rc));
        if (!ex->flush_retry_armed) {
            ex->flush_retry_armed = true;
            ex->env.timer(ex->env.ctx, S_FLUSH_RETRY_US, S_TOKEN_FLUSH_RETRY);
        }
        return;
    }
    ex->stats.flushes++;
    hb_hist_add(&ex->flush, hb_env_since_us(&ex->env, t0));
    for (size_t i = 0; i < k; i++)
        s_epoch_free(&ex->epochs[i]);
    memmove(ex->epochs, ex->epochs + k, (ex->nepochs - k) * sizeof *ex->epochs);
    ex->nepochs -= k;
    stor_rrlog_flushed(ex->rrlog, epoch);
    /* RREADs buffered for applied epochs can never be used. */
    s_pend_drop_through(ex, epoch);
    hb_debug("applied epoch %" PRIu64, epoch);
}

/* ------------------------------------------------------------------ */
/* Exchange records                                                    */
/* ------------------------------------------------------------------ */

static uint64_t
s_pend_hash(uint64_t epoch, uint16_t group, uint32_t index)
{
    return hb_mix64(epoch * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)group << 32 | index));
}

static s_pend_t **
s_pend_slot(stor_executor_t *ex, uint64_t epoch, uint16_t group, uint32_t index)
{
    s_pend_t **pp = &ex->pend[s_pend_hash(epoch, group, index) & (ex->npendb - 1)];
    while (*pp &&
           !((*pp)->epoch == epoch && (*pp)->group == group && (*pp)->index == index))
        pp = &(*pp)->chain;
    return pp;
}

static s_pend_t *
s_pend_find(stor_executor_t *ex, uint64_t epoch, uint16_t group, uint32_t index)
{
    return *s_pend_slot(ex, epoch, group, index);
}

static s_pend_t *
s_pend_add(stor_executor_t *ex, uint64_t epoch, uint16_t group, uint32_t index)
{
    if (ex->npend + 1 > ex->npendb) {
        size_t n = ex->npendb * 2;
        s_pend_t **b = hb_calloc(n, sizeof *b);
        for (size_t i = 0; i < ex->npendb; i++) {
            s_pend_t *p = ex->pend[i];
            while (p) {
                s_pend_t *next = p->chain;
                size_t j = s_pend_hash(p->epoch, p->group, p->index) & (n - 1);
                p->chain = b[j];
                b[j] = p;
                p = next;
            }
        }
        hb_free(ex->pend);
        ex->pend = b;
        ex->npendb = n;
    }
    s_pend_t *p = hb_calloc(1, sizeof *p);
    p->epoch = epoch;
    p->group = group;
    p->index = index;
    s_pend_t **pp = &ex->pend[s_pend_hash(epoch, group, index) & (ex->npendb - 1)];
    p->chain = *pp;
    *pp = p;
    ex->npend++;
    return p;
}

static void
s_reads_free(s_reads_t *r)
{
    hb_free(r->kvs);
    hb_free(r->bytes);
    r->kvs = NULL;
    r->bytes = NULL;
}

/* Unlinks and frees the record of (epoch, group, index), if any. */
static void
s_pend_remove(stor_executor_t *ex, s_pend_t *p)
{
    s_pend_t **pp = s_pend_slot(ex, p->epoch, p->group, p->index);
    if (*pp != p)
        return;
    *pp = p->chain;
    ex->npend--;
    if (p->txn)
        ex->nparked--;
    else
        ex->nearly -= p->nreads;
    for (uint32_t i = 0; i < p->nreads; i++)
        s_reads_free(&p->reads[i]);
    hb_free(p->reads);
    hb_free(p->parts);
    hb_txn_destroy(&p->txn);
    hb_free(p);
}

/* Drops every record of epochs <= epoch (max: all of them). */
static void
s_pend_drop_through(stor_executor_t *ex, uint64_t epoch)
{
    for (size_t i = 0; i < ex->npendb; i++) {
        s_pend_t *p = ex->pend[i];
        while (p) {
            s_pend_t *next = p->chain;
            if (p->epoch <= epoch)
                s_pend_remove(ex, p);
            p = next;
        }
    }
}

/* Returns true if the record already holds the reads of partition from. */
static bool
s_pend_has(const s_pend_t *p, uint16_t from)
{
    for (uint32_t i = 0; i < p->nreads; i++)
        if (p->reads[i].from == from)
            return true;
    return false;
}

/* Appends reads r (ownership moves to the record). */
static void
s_pend_push(stor_executor_t *ex, s_pend_t *p, s_reads_t *r)
{
    HB_GROW(p->reads, p->capreads, p->nreads + 1, 4);
    p->reads[p->nreads++] = *r;
    if (!p->txn)
        ex->nearly++;
    memset(r, 0, sizeof *r);
}

/* Copies n key/values (borrowed, e.g. from a frame) into owned reads. */
static void
s_reads_copy(s_reads_t *r, uint16_t from, const hb_wire_kv_t *kvs, uint32_t n)
{
    size_t total = 1;
    for (uint32_t i = 0; i < n; i++)
        total += kvs[i].klen + (kvs[i].present ? kvs[i].vlen : 0);
    r->from = from;
    r->n = n;
    r->kvs = hb_calloc(n ? n : 1, sizeof *r->kvs);
    r->bytes = hb_malloc(total);
    uint8_t *w = r->bytes;
    for (uint32_t i = 0; i < n; i++) {
        memcpy(w, kvs[i].key, kvs[i].klen);
        r->kvs[i].key = w;
        r->kvs[i].klen = kvs[i].klen;
        w += kvs[i].klen;
        r->kvs[i].present = kvs[i].present;
        if (kvs[i].present) {
            if (kvs[i].vlen)
                memcpy(w, kvs[i].val, kvs[i].vlen);
            r->kvs[i].val = w; /* non-NULL even when empty: present */
            r->kvs[i].vlen = kvs[i].vlen;
            w += kvs[i].vlen;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Execution (docs/architecture.md section 2, step 7)                             */
/* ------------------------------------------------------------------ */

/* Returns the reply partition: the lowest partition with a write lock, or
 * the lowest participant of a read-only transaction. */
static uint16_t
s_reply_partition(const hb_txn_t *txn)
{
    uint32_t lowest_w = UINT32_MAX, lowest = UINT32_MAX;
    for (uint32_t i = 0; i < txn->nlocks; i++) {
        uint16_t p = txn->locks[i].partition;
        if (p < lowest)
            lowest = p;
        if (txn->locks[i].mode == HB_LOCK_WRITE && p < lowest_w)
            lowest_w = p;
    }
    return (uint16_t)(lowest_w != UINT32_MAX ? lowest_w : lowest);
}

/* Returns true if partition p executes txn: it writes, or it replies. */
static bool
s_is_executor(const hb_txn_t *txn, uint16_t p)
{
    return hb_txn_writes(txn, p) || s_reply_partition(txn) == p;
}

/* (a) Reads every lock key of this partition into owned reads *out. */
static void
s_local_reads(stor_executor_t *ex, const hb_txn_t *txn, s_reads_t *out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < txn->nlocks; i++)
        n += txn->locks[i].partition == ex->self.partition;
    hb_wire_kv_t *kvs = hb_calloc(n ? n : 1, sizeof *kvs);
    uint8_t **vals = hb_calloc(n ? n : 1, sizeof *vals);
    uint32_t k = 0;
    for (uint32_t i = 0; i < txn->nlocks; i++) {
        const hb_lock_t *lk = &txn->locks[i];
        if (lk->partition != ex->self.partition)
            continue;
        size_t vlen = 0;
        hb_rc_t rc =
            stor_engine_get(ex->engine, lk->key, lk->len, NULL, NULL, &vals[k], &vlen);
        if (rc != HB_OK && rc != HB_NOTFOUND) {
            /* This replica's disk failed. Executing on without the value
             * would make this replica diverge from the others, which is
             * worse than stopping: fail-stop, and a restart replays the
             * input log from the applied epoch. */
            hb_error("FATAL: read of a lock key failed (%s): stopping this storage so it "
                     "recovers by replay instead of diverging",
                     hb_rc_str(rc));
            exit(70);
        }
        kvs[k].key = lk->key;
        kvs[k].klen = lk->len;
        kvs[k].present = rc == HB_OK;
        kvs[k].val = vals[k];
        kvs[k].vlen = (uint32_t)vlen;
        k++;
    }
    s_reads_copy(out, ex->self.partition, kvs, n);
    for (uint32_t i = 0; i < n; i++)
        hb_free(vals[i]);
    hb_free(vals);
    hb_free(kvs);
}

/* (b) Sends the local reads to every other executor of txn and logs each
 * frame in the remote-read log. */
static void
s_send_reads(stor_executor_t *ex, const s_pend_t *p, const s_reads_t *local)
{
    hb_msg_t m = {.type = HB_MSG_RREAD};
    m.u.rread.epoch = p->epoch;
    m.u.rread.group = p->group;
    m.u.rread.index = p->index;
    m.u.rread.from = ex->self.partition;
    m.u.rread.nkvs = local->n;
    m.u.rread.kvs = local->kvs;
    msgpack_sbuffer_clear(&ex->sbuf);
    if (hb_msg_encode(&m, &ex->sbuf) != HB_OK) {
        hb_error("cannot encode RREAD");
        ex->stats.send_errors++;
        return;
    }
    for (uint32_t i = 0; i < p->nparts; i++) {
        uint16_t q = p->parts[i];
        if (q == ex->self.partition || !s_is_executor(p->txn, q))
            continue;
        stor_rrlog_add(ex->rrlog, p->epoch, p->group, p->index, q, ex->sbuf.data,
                       ex->sbuf.size);
        ex->stats.rreads_sent++;
        if (ex->env.send(ex->env.ctx, hb_node(HB_ROLE_STORAGE, ex->self.replica, q),
                         ex->sbuf.data, ex->sbuf.size) != HB_OK)
            ex->stats.send_errors++; /* the recipient asks again (RREQ) after a restart */
    }
}

/* Returns true if partition q is a participant of the record's txn. */
static bool
s_is_participant(const s_pend_t *p, uint16_t q)
{
    for (uint32_t i = 0; i < p->nparts; i++)
        if (p->parts[i] == q)
            return true;
    return false;
}

/* (c) Returns true once the reads of every participant are present. */
static bool
s_complete(const s_pend_t *p)
{
    return p->nreads >= p->nparts;
}

/* (d) Runs the procedure body over the gathered reads. */
static hb_rc_t
s_run(stor_executor_t *ex, const hb_txn_t *txn)
{
    const hb_proc_def_t *def = hb_proc_find(txn->proc, txn->proc_len);
    if (!def)
        return stor_ctx_abort(ex->ctx, HB_NOTFOUND, "unknown procedure %.*s",
                              (int)(txn->proc_len > 64 ? 64 : txn->proc_len), txn->proc);
    return stor_proc_run(ex->ctx, def->id, txn->args, txn->nargs);
}

/* (e) Applies this partition's writes to the overlay at epoch: the lock-key
 * writes in lock-set order, then the fresh writes in the order made. */
static void
s_apply_writes(stor_executor_t *ex, uint64_t epoch)
{
    uint32_t n = stor_ctx_nslots(ex->ctx);
    for (uint32_t i = 0; i < n; i++) {
        stor_write_t w;
        if (!stor_ctx_written(ex->ctx, i, &w) || w.partition != ex->self.partition)
            continue;
        hb_rc_t rc =
            w.val ? stor_engine_put(ex->engine, epoch, w.key, w.klen, w.val, w.vlen)
                  : stor_engine_delete(ex->engine, epoch, w.key, w.klen);
        if (rc != HB_OK)
            hb_error("epoch %" PRIu64 ": write of a %zu-byte key refused: %s", epoch,
                     w.klen, hb_rc_str(rc));
    }
    /* Then the fresh writes (keys outside the lock set, procs.h), in the
     * order the body made them: deterministic, and a later write of a key
     * wins as it would in the body. */
    n = stor_ctx_nfresh(ex->ctx);
    for (uint32_t i = 0; i < n; i++) {
        stor_write_t w;
        if (!stor_ctx_fresh(ex->ctx, i, &w) || w.partition != ex->self.partition)
            continue;
        hb_rc_t rc = stor_engine_put(ex->engine, epoch, w.key, w.klen, w.val, w.vlen);
        if (rc != HB_OK)
            hb_error("epoch %" PRIu64 ": fresh write of a %zu-byte key refused: %s",
                     epoch, w.klen, hb_rc_str(rc));
    }
}

/* Sends the result to the transaction's origin sequencer. */
static void
s_reply(stor_executor_t *ex, const hb_txn_t *txn, uint64_t epoch)
{
    hb_msg_t m = {.type = HB_MSG_REPLY};
    hb_rc_t rc = stor_ctx_rc(ex->ctx);
    m.u.result.client_id = txn->client_id;
    m.u.result.req_id = txn->req_id;
    m.u.result.epoch = epoch;
    m.u.result.rc = (uint32_t)rc;
    m.u.result.msg = stor_ctx_message(ex->ctx);
    m.u.result.msg_len = (uint32_t)strlen(m.u.result.msg);
    if (rc == HB_OK) {
        uint32_t n = 0;
        const hb_val_t *vals = stor_ctx_results(ex->ctx, &n);
        m.u.result.nvals = n;
        m.u.result.vals = (hb_val_t *)vals; /* encode only reads them */
    }
    s_send(ex, hb_node(HB_ROLE_SEQUENCER, txn->origin_replica, txn->origin_group), &m);
}

/* Ends a transaction here: DONE to the scheduler, one more done in its
 * epoch, and a flush if that completed a prefix of epochs. */
static void
s_finish(stor_executor_t *ex, uint64_t epoch, uint16_t group, uint32_t index)
{
    s_send_done(ex, epoch, group, index);
    s_epoch_get(ex, epoch)->done++;
    s_try_flush(ex);
}

/* (d, e, f) Executes a parked transaction whose reads are all present,
 * then forgets it. */
static void
s_execute(stor_executor_t *ex, s_pend_t *p)
{
    const hb_txn_t *txn = p->txn;
    uint64_t epoch = p->epoch;
    uint16_t group = p->group;
    uint32_t index = p->index;
    uint64_t t0 = hb_env_mono_us(&ex->env);
    hb_hist_add(&ex->rread_wait, t0 > p->start_us ? t0 - p->start_us : 0);

    hb_rc_t rc = stor_ctx_reset(ex->ctx, txn);
    for (uint32_t r = 0; rc == HB_OK && r < p->nreads; r++) {
        const s_reads_t *rd = &p->reads[r];
        for (uint32_t i = 0; i < rd->n; i++) {
            const hb_wire_kv_t *kv = &rd->kvs[i];
            if (stor_ctx_add_read(ex->ctx, kv->key, kv->klen,
                                  kv->present ? kv->val : NULL,
                                  kv->present ? kv->vlen : 0) != HB_OK)
                ex->stats.rread_bad_keys++;
        }
    }
    if (rc == HB_OK)
        rc = s_run(ex, txn);
    uint64_t t1 = hb_env_mono_us(&ex->env);
    hb_hist_add(&ex->exec, t1 > t0 ? t1 - t0 : 0);
    if (rc == HB_OK) {
        s_apply_writes(ex, epoch);
        hb_hist_add(&ex->apply, hb_env_since_us(&ex->env, t1));
    }

    if (rc == HB_OK)
        ex->stats.executed++;
    else
        ex->stats.aborted++;
    if (s_reply_partition(txn) == ex->self.partition) {
        uint64_t t2 = hb_env_mono_us(&ex->env);
        s_reply(ex, txn, epoch);
        hb_hist_add(&ex->reply, hb_env_since_us(&ex->env, t2));
    }
    stor_ctx_reset(ex->ctx, NULL);
    s_pend_remove(ex, p);
    s_finish(ex, epoch, group, index);
}

/* Starts a dispatched transaction: (a) local reads, (b) RREADs to the other
 * executors, then DONE if passive, or park until (c) every read is in. */
static void
s_start(stor_executor_t *ex, uint64_t epoch, uint16_t group, uint32_t index,
        const uint8_t *raw, size_t raw_len)
{
    hb_txn_t *txn = NULL;
    hb_rc_t rc = hb_txn_decode(raw, raw_len, &ex->lim, ex->nparts, &txn);
    if (rc != HB_OK || !hb_txn_touches(txn, ex->self.partition)) {
        /* The same bytes are in every replica's log: skipping is
         * deterministic. Nobody can be told but the scheduler. */
        ex->stats.bad_txns++;
        hb_warn("epoch %" PRIu64 " txn %u/%" PRIu32 " %s; skipped", epoch, group, index,
                rc != HB_OK ? hb_rc_str(rc) : "does not touch this partition");
        hb_txn_destroy(&txn);
        s_finish(ex, epoch, group, index);
        return;
    }

    s_pend_t *p = s_pend_find(ex, epoch, group, index);
    if (!p)
        p = s_pend_add(ex, epoch, group, index);
    ex->nearly -= p->nreads;
    ex->nparked++;
    p->txn = txn;
    p->start_us = hb_env_mono_us(&ex->env);
    p->nparts = hb_txn_participants(txn, ex->partbuf, ex->nparts);
    p->parts = hb_memdup(ex->partbuf, p->nparts * sizeof *p->parts);

    /* Early reads from partitions that do not take part are dropped. */
    uint32_t w = 0;
    for (uint32_t r = 0; r < p->nreads; r++) {
        if (s_is_participant(p, p->reads[r].from) &&
            p->reads[r].from != ex->self.partition) {
            p->reads[w++] = p->reads[r];
            continue;
        }
        ex->stats.rread_bad++;
        hb_warn("epoch %" PRIu64 " txn %u/%" PRIu32 ": dropping RREAD from partition %u, "
                "not a participant",
                epoch, group, index, p->reads[r].from);
        s_reads_free(&p->reads[r]);
    }
    p->nreads = w;

    s_reads_t local;
    s_local_reads(ex, txn, &local);
    if (p->nparts > 1)
        s_send_reads(ex, p, &local);
    if (!s_is_executor(txn, ex->self.partition)) {
        /* Passive: the executors have what they need from here. Reads
         * that arrived anyway are not for us. */
        ex->stats.rread_bad += p->nreads;
        ex->stats.passive++;
        s_reads_free(&local);
        s_pend_remove(ex, p);
        s_finish(ex, epoch, group, index);
        return;
    }
    s_pend_push(ex, p, &local);
    if (s_complete(p))
        s_execute(ex, p);
}

/* Handles an RREAD: buffers it, or completes a parked transaction. */
static void
s_on_rread(stor_executor_t *ex, const hb_msg_t *msg)
{
    uint64_t e = msg->u.rread.epoch;
    uint16_t group = msg->u.rread.group;
    uint32_t index = msg->u.rread.index;
    uint16_t from = msg->u.rread.from;
    if (e <= stor_engine_applied_epoch(ex->engine)) {
        ex->stats.rread_stale++;
        return;
    }
    if (from >= ex->nparts || from == ex->self.partition) {
        ex->stats.rread_bad++;
        hb_warn("RREAD %" PRIu64 "/%u/%" PRIu32
                " claims to come from partition %u: dropped",
                e, group, index, from);
        return;
    }
    s_pend_t *p = s_pend_find(ex, e, group, index);
    if (!p) {
        s_epoch_t *rec = s_epoch_find(ex, e);
        if (rec && s_epoch_seen(rec, group, index)) {
            ex->stats.rread_duplicates++; /* the transaction is done here */
            return;
        }
        p = s_pend_add(ex, e, group, index);
    } else if (p->txn && !s_is_participant(p, from)) {
        ex->stats.rread_bad++;
        hb_warn("RREAD %" PRIu64 "/%u/%" PRIu32 " from partition %u, not a participant: "
                "dropped",
                e, group, index, from);
        return;
    }
    if (s_pend_has(p, from)) {
        ex->stats.rread_duplicates++;
        return;
    }
    s_reads_t r;
    s_reads_copy(&r, from, msg->u.rread.kvs, msg->u.rread.nkvs);
    s_pend_push(ex, p, &r);
    ex->stats.rreads_received++;
    if (p->txn && s_complete(p))
        s_execute(ex, p);
}

/* Sends frame to storage partition `to` of this replica (an rr-log resend). */
static void
s_resend_one(void *arg, uint16_t to, const void *frame, size_t len)
{
    stor_executor_t *ex = arg;
    if (ex->env.send(ex->env.ctx, hb_node(HB_ROLE_STORAGE, ex->self.replica, to), frame,
                     len) != HB_OK)
        ex->stats.send_errors++;
}

/* RREQ(q, from): resend q every logged RREAD to it from that epoch. */
static void
s_on_rreq(stor_executor_t *ex, const hb_msg_t *msg)
{
    uint16_t q = msg->u.rreq.partition;
    if (q >= ex->nparts || q == ex->self.partition) {
        hb_warn("RREQ from partition %u: not a peer; dropped", q);
        return;
    }
    uint64_t n = 0;
    hb_rc_t rc = stor_rrlog_resend(ex->rrlog, q, msg->u.rreq.epoch, s_resend_one, ex, &n);
    if (rc != HB_OK)
        hb_error("RREQ from partition %u: rr-log read failed (%s); sent %" PRIu64, q,
                 hb_rc_str(rc), n);
    ex->stats.rreq_served++;
    ex->stats.rreads_resent += n;
    hb_info("RREQ from partition %u from epoch %" PRIu64 ": resent %" PRIu64 " RREADs", q,
            msg->u.rreq.epoch, n);
}

/* APPLIED(q, e): q will never need reads of epochs <= e again. */
static void
s_on_applied(stor_executor_t *ex, const hb_msg_t *msg)
{
    uint16_t q = msg->u.rreq.partition;
    if (q >= ex->nparts || q == ex->self.partition) {
        hb_warn("APPLIED from partition %u: not a peer; dropped", q);
        return;
    }
    if (stor_rrlog_truncate(ex->rrlog, q, msg->u.rreq.epoch) != HB_OK)
        hb_warn("rr-log truncation for partition %u failed; retried on the next APPLIED",
                q);
}

/* Sends `type` (RREQ or APPLIED) with (self, epoch) to every other storage
 * of this replica. */
static void
s_broadcast_peers(stor_executor_t *ex, hb_msg_type_t type, uint64_t epoch)
{
    hb_msg_t m = {.type = type};
    m.u.rreq.partition = ex->self.partition;
    m.u.rreq.epoch = epoch;
    for (uint32_t q = 0; q < ex->nparts; q++) {
        if (q == ex->self.partition)
            continue;
        s_send(ex, hb_node(HB_ROLE_STORAGE, ex->self.replica, (uint16_t)q), &m);
        if (type == HB_MSG_RREQ)
            ex->stats.rreq_sent++;
        else
            ex->stats.applied_sent++;
    }
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* Returns true if inc is the current incarnation (and notes acceptance);
 * counts and returns false otherwise. */
static bool
s_current(stor_executor_t *ex, uint64_t inc, const char *what)
{
    if (inc != stor_engine_incarnation(ex->engine)) {
        ex->stats.stale++;
        hb_debug("ignoring %s of incarnation %" PRIu64 " (current %" PRIu64 ")", what,
                 inc, stor_engine_incarnation(ex->engine));
        return false;
    }
    ex->accepted = true;
    return true;
}

static void
s_on_epoch(stor_executor_t *ex, const hb_msg_t *msg)
{
    uint64_t e = msg->u.epoch.epoch;
    if (!s_current(ex, msg->u.epoch.incarnation, "EPOCH"))
        return;
    if (e <= stor_engine_applied_epoch(ex->engine)) {
        ex->stats.duplicates++;
        return;
    }
    s_epoch_t *rec = s_epoch_get(ex, e);
    if (rec->announced) {
        ex->stats.duplicates++;
        if (rec->ntxns != msg->u.epoch.ntxns)
            hb_warn("epoch %" PRIu64 " announced again with %" PRIu32
                    " txns (was %" PRIu32 ")",
                    e, msg->u.epoch.ntxns, rec->ntxns);
        return;
    }
    rec->announced = true;
    rec->ntxns = msg->u.epoch.ntxns;
    if (rec->done > rec->ntxns)
        hb_warn("epoch %" PRIu64 ": %" PRIu32 " txns executed but %" PRIu32 " announced",
                e, rec->done, rec->ntxns);
    s_try_flush(ex);
}

static void
s_on_dispatch(stor_executor_t *ex, const hb_msg_t *msg)
{
    uint64_t e = msg->u.dispatch.epoch;
    uint16_t group = msg->u.dispatch.group;
    uint32_t index = msg->u.dispatch.index;
    if (!s_current(ex, msg->u.dispatch.incarnation, "DISPATCH"))
        return;
    if (e <= stor_engine_applied_epoch(ex->engine) ||
        !s_epoch_mark(s_epoch_get(ex, e), group, index)) {
        ex->stats.duplicates++;
        hb_debug("ignoring duplicate DISPATCH %" PRIu64 "/%u/%" PRIu32, e, group, index);
        return;
    }
    s_start(ex, e, group, index, msg->u.dispatch.raw, msg->u.dispatch.raw_len);
}

static void
s_resync(stor_executor_t *ex)
{
    stor_engine_discard_overlay(ex->engine);
    s_epochs_clear(ex);
    /* Parked transactions are dispatched again under the new incarnation;
     * the reads they and early records held are resent on RREQ. */
    s_pend_drop_through(ex, UINT64_MAX);
    stor_rrlog_discard_unstaged(ex->rrlog);
    hb_rc_t rc = stor_engine_new_incarnation(ex->engine);
    if (rc != HB_OK)
        hb_error("cannot persist a new incarnation (%s); keeping %" PRIu64, hb_rc_str(rc),
                 stor_engine_incarnation(ex->engine));
    hb_info("RESYNC: overlay discarded, incarnation %" PRIu64 ", applied epoch %" PRIu64,
            stor_engine_incarnation(ex->engine), stor_engine_applied_epoch(ex->engine));
    s_start_hello(ex);
}

void
stor_executor_on_message(stor_executor_t *ex, const hb_msg_t *msg)
{
    switch (msg->type) {
    case HB_MSG_DISPATCH:
        s_on_dispatch(ex, msg);
        break;
    case HB_MSG_EPOCH:
        s_on_epoch(ex, msg);
        break;
    case HB_MSG_RESET:
        if (s_current(ex, msg->u.hello.incarnation, "RESET")) {
            hb_info("scheduler accepted incarnation %" PRIu64, msg->u.hello.incarnation);
            /* The slot replays from applied + 1: ask for the reads of the
             * multi-partition transactions among them. Incarnation 1 is a
             * shard's first life (every open and RESYNC takes a new one):
             * it has received nothing it could have lost. */
            if (stor_engine_incarnation(ex->engine) > 1) {
                s_broadcast_peers(ex, HB_MSG_RREQ,
                                  stor_engine_applied_epoch(ex->engine) + 1);
                /* And the other way round: a read this storage sent for an
                 * epoch it had already applied may have died in its send
                 * queue when it crashed; it will not be re-executed, so a
                 * peer could wait for it forever. Resend everything the
                 * rr-log still holds (only what some peer has not yet
                 * reported applied); recipients drop duplicates. */
                uint64_t n = 0;
                for (uint32_t q = 0; q < ex->nparts; q++) {
                    if (q == ex->self.partition)
                        continue;
                    uint64_t k = 0;
                    if (stor_rrlog_resend(ex->rrlog, (uint16_t)q, 0, s_resend_one, ex,
                                          &k) != HB_OK)
                        hb_error("restart: rr-log read failed for partition %u", q);
                    n += k;
                }
                ex->stats.rreads_resent += n;
                hb_info("restart: resent %" PRIu64 " logged RREADs to peers", n);
            }
        }
        break;
    case HB_MSG_RREAD:
        s_on_rread(ex, msg);
        break;
    case HB_MSG_RREQ:
        s_on_rreq(ex, msg);
        break;
    case HB_MSG_APPLIED:
        s_on_applied(ex, msg);
        break;
    case HB_MSG_RESYNC:
        s_resync(ex);
        break;
    default:
        hb_debug("ignoring %s", hb_msg_type_str(msg->type));
        break;
    }
}

void
stor_executor_on_timer(stor_executor_t *ex, uint64_t token)
{
    if (token == S_TOKEN_FLUSH_RETRY) {
        ex->flush_retry_armed = false;
        s_try_flush(ex);
        return;
    }
    if (token == S_TOKEN_APPLIED) {
        s_broadcast_peers(ex, HB_MSG_APPLIED, stor_engine_applied_epoch(ex->engine));
        ex->env.timer(ex->env.ctx, STOR_APPLIED_INTERVAL_US, S_TOKEN_APPLIED);
        return;
    }
    if (token != ex->hello_token || ex->accepted)
        return;
    s_send_hello(ex);
    ex->env.timer(ex->env.ctx, STOR_HELLO_INTERVAL_US, ex->hello_token);
}

/* ------------------------------------------------------------------ */
/* Life cycle and status                                               */
/* ------------------------------------------------------------------ */

stor_executor_t *
stor_executor_new(stor_engine_t *engine, hb_node_t self, uint32_t nparts,
                  const hb_limits_t *lim, const hb_env_t *env)
{
    if (!engine || !env || !env->send || !env->timer || nparts == 0 ||
        self.partition >= nparts) {
        hb_error("executor: invalid arguments");
        return NULL;
    }
    stor_executor_t *ex = hb_calloc(1, sizeof *ex);
    ex->engine = engine;
    ex->env = *env;
    ex->self = self;
    ex->nparts = nparts;
    ex->lim = lim ? *lim : HB_LIMITS_DEFAULT;
    ex->ctx = stor_ctx_new();
    ex->npendb = S_PEND_MIN_BUCKETS;
    ex->pend = hb_calloc(ex->npendb, sizeof *ex->pend);
    ex->partbuf = hb_calloc(nparts, sizeof *ex->partbuf);
    ex->rrlog = stor_rrlog_new(engine, self.partition, nparts);
    msgpack_sbuffer_init(&ex->sbuf);
    s_start_hello(ex);
    if (nparts > 1)
        ex->env.timer(ex->env.ctx, STOR_APPLIED_INTERVAL_US, S_TOKEN_APPLIED);
    return ex;
}

void
stor_executor_destroy(stor_executor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stor_executor_t *ex = *self_p;
    s_epochs_clear(ex);
    hb_free(ex->epochs);
    s_pend_drop_through(ex, UINT64_MAX);
    hb_free(ex->pend);
    hb_free(ex->partbuf);
    stor_rrlog_destroy(&ex->rrlog);
    stor_ctx_destroy(&ex->ctx);
    msgpack_sbuffer_destroy(&ex->sbuf);
    hb_free(ex);
    *self_p = NULL;
}

void
stor_executor_status(stor_executor_t *ex, hb_status_t *st)
{
    char hash[24];
    snprintf(hash, sizeof hash, "%016" PRIx64, stor_engine_state_hash(ex->engine));
    hb_status_int(st, "applied_epoch", (int64_t)stor_engine_applied_epoch(ex->engine));
    hb_status_str(st, "state_hash", hash);
    hb_status_int(st, "incarnation", (int64_t)stor_engine_incarnation(ex->engine));
    hb_status_int(st, "accepted", ex->accepted);
    hb_status_int(st, "executed", (int64_t)ex->stats.executed);
    hb_status_int(st, "aborted", (int64_t)ex->stats.aborted);
    hb_status_int(st, "overlay_keys", (int64_t)stor_engine_overlay_keys(ex->engine));
    hb_status_int(st, "pending_epochs", (int64_t)ex->nepochs);
    hb_status_int(st, "stale", (int64_t)ex->stats.stale);
    hb_status_int(st, "duplicates", (int64_t)ex->stats.duplicates);
    hb_status_int(st, "bad_txns", (int64_t)ex->stats.bad_txns);
    hb_status_int(st, "flush_errors", (int64_t)ex->stats.flush_errors);
    hb_status_int(st, "passive", (int64_t)ex->stats.passive);
    hb_status_int(st, "parked", (int64_t)ex->nparked);
    hb_status_int(st, "early_rreads", (int64_t)ex->nearly);
    hb_status_int(st, "rreads_sent", (int64_t)ex->stats.rreads_sent);
    hb_status_int(st, "rreads_received", (int64_t)ex->stats.rreads_received);
    hb_status_int(st, "rread_duplicates", (int64_t)ex->stats.rread_duplicates);
    hb_status_int(st, "rread_stale", (int64_t)ex->stats.rread_stale);
    hb_status_int(st, "rread_bad", (int64_t)ex->stats.rread_bad);
    hb_status_int(st, "rread_bad_keys", (int64_t)ex->stats.rread_bad_keys);
    hb_status_int(st, "rrlog_memory", (int64_t)stor_rrlog_memory_entries(ex->rrlog));
    hb_status_int(st, "rrlog_entries", (int64_t)stor_executor_rrlog_entries(ex));
    hb_status_int(st, "rreq_sent", (int64_t)ex->stats.rreq_sent);
    hb_status_int(st, "rreq_served", (int64_t)ex->stats.rreq_served);
    hb_status_int(st, "rreads_resent", (int64_t)ex->stats.rreads_resent);
    hb_status_hist(st, "stor_rread_wait", &ex->rread_wait);
    hb_status_hist(st, "stor_exec", &ex->exec);
    hb_status_hist(st, "stor_apply", &ex->apply);
    hb_status_hist(st, "stor_reply", &ex->reply);
    hb_status_hist(st, "stor_flush", &ex->flush);
}

void
stor_executor_stats(const stor_executor_t *ex, stor_exec_stats_t *out)
{
    *out = ex->stats;
}

uint64_t
stor_executor_incarnation(const stor_executor_t *ex)
{
    return stor_engine_incarnation(ex->engine);
}

bool
stor_executor_accepted(const stor_executor_t *ex)
{
    return ex->accepted;
}

size_t
stor_executor_pending_epochs(const stor_executor_t *ex)
{
    return ex->nepochs;
}

size_t
stor_executor_parked(const stor_executor_t *ex)
{
    return ex->nparked;
}

size_t
stor_executor_early_rreads(const stor_executor_t *ex)
{
    return ex->nearly;
}

size_t
stor_executor_rrlog_entries(stor_executor_t *ex)
{
    return stor_rrlog_memory_entries(ex->rrlog) + stor_rrlog_disk_entries(ex->rrlog);
}
