/* executor.c — the storage core (see executor.h).
 *
 * Per-epoch bookkeeping is a small array sorted by epoch: the announced
 * transaction count, the completed count and the set of (group, index)
 * already executed (so a duplicated DISPATCH is never applied twice). After
 * each EPOCH or completed transaction, the longest prefix of announced,
 * complete epochs is flushed with one stor_engine_flush of its last epoch.
 *
 * Execution is synchronous today because only single-partition transactions
 * run; s_execute is laid out as the steps of DESIGN.md section 2 step 7 so
 * the remote-read exchange (parking a transaction until the reads of other
 * participants arrive) slots in at s_exchange_reads.
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

#define S_TOKEN_FLUSH_RETRY 0 /* timer token: retry a failed flush */
#define S_FLUSH_RETRY_US    100000

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
    stor_ctx_t *ctx;         /* execution context, reused per transaction */
    msgpack_sbuffer sbuf;    /* scratch for outgoing frames */
    stor_exec_stats_t stats; /* counters */
};

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

static void s_send(stor_executor_t *ex, hb_node_t to, const hb_msg_t *msg)
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

static hb_node_t s_scheduler(const stor_executor_t *ex)
{
    return hb_node(HB_ROLE_SCHEDULER, ex->self.replica, ex->self.partition);
}

static void s_send_hello(stor_executor_t *ex)
{
    hb_msg_t m = {.type = HB_MSG_HELLO};
    m.u.hello.incarnation = stor_engine_incarnation(ex->engine);
    m.u.hello.applied_epoch = stor_engine_applied_epoch(ex->engine);
    s_send(ex, s_scheduler(ex), &m);
    ex->stats.hellos++;
}

/* Starts (or restarts) the HELLO cycle for the current incarnation. */
static void s_start_hello(stor_executor_t *ex)
{
    ex->accepted = false;
    ex->hello_token++;
    s_send_hello(ex);
    ex->env.timer(ex->env.ctx, STOR_HELLO_INTERVAL_US, ex->hello_token);
}

static void s_send_done(stor_executor_t *ex, uint64_t epoch, uint16_t group,
                        uint32_t index)
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

static void s_epoch_free(s_epoch_t *e)
{
    hb_free(e->seen);
    e->seen = NULL;
}

static void s_epochs_clear(stor_executor_t *ex)
{
    for (size_t i = 0; i < ex->nepochs; i++)
        s_epoch_free(&ex->epochs[i]);
    ex->nepochs = 0;
}

/* Returns the record of epoch, creating it in order. */
static s_epoch_t *s_epoch_get(stor_executor_t *ex, uint64_t epoch)
{
    size_t pos = ex->nepochs;
    while (pos > 0 && ex->epochs[pos - 1].epoch >= epoch) {
        if (ex->epochs[pos - 1].epoch == epoch)
            return &ex->epochs[pos - 1];
        pos--;
    }
    if (ex->nepochs == ex->capepochs) {
        ex->capepochs = ex->capepochs ? ex->capepochs * 2 : 8;
        ex->epochs = hb_realloc(ex->epochs, ex->capepochs * sizeof *ex->epochs);
    }
    memmove(&ex->epochs[pos + 1], &ex->epochs[pos],
            (ex->nepochs - pos) * sizeof *ex->epochs);
    ex->epochs[pos] = (s_epoch_t){.epoch = epoch};
    ex->nepochs++;
    return &ex->epochs[pos];
}

/* Adds (group, index) to the epoch's seen set. Returns false if present. */
static bool s_epoch_mark(s_epoch_t *e, uint16_t group, uint32_t index)
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

/* Flushes the longest prefix of announced, complete epochs. */
static void s_try_flush(stor_executor_t *ex)
{
    size_t k = 0;
    while (k < ex->nepochs && ex->epochs[k].announced &&
           ex->epochs[k].done >= ex->epochs[k].ntxns)
        k++;
    if (k == 0)
        return;
    uint64_t epoch = ex->epochs[k - 1].epoch;
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
    for (size_t i = 0; i < k; i++)
        s_epoch_free(&ex->epochs[i]);
    memmove(ex->epochs, ex->epochs + k, (ex->nepochs - k) * sizeof *ex->epochs);
    ex->nepochs -= k;
    hb_debug("applied epoch %" PRIu64, epoch);
}

/* ------------------------------------------------------------------ */
/* Execution (DESIGN.md section 2, step 7)                             */
/* ------------------------------------------------------------------ */

/* Returns the reply partition: the lowest partition with a write lock, or
 * the lowest participant of a read-only transaction. */
static uint16_t s_reply_partition(const hb_txn_t *txn)
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

/* (a) Reads every lock key of this partition into the context. */
static hb_rc_t s_local_reads(stor_executor_t *ex, const hb_txn_t *txn)
{
    for (uint32_t i = 0; i < txn->nlocks; i++) {
        const hb_lock_t *lk = &txn->locks[i];
        if (lk->partition != ex->self.partition)
            continue;
        uint8_t *val = NULL;
        size_t vlen = 0;
        hb_rc_t rc = stor_engine_get(ex->engine, lk->key, lk->len, stor_ctx_alloc,
                                     ex->ctx, &val, &vlen);
        if (rc == HB_NOTFOUND)
            val = NULL;
        else if (rc != HB_OK) {
            /* This replica's disk failed. Executing on without the value
             * would make this replica diverge from the others, which is
             * worse than stopping: fail-stop, and a restart replays the
             * input log from the applied epoch. */
            hb_error("FATAL: read of a lock key failed (%s): stopping this storage so it "
                     "recovers by replay instead of diverging",
                     hb_rc_str(rc));
            exit(70);
        }
        stor_ctx_add_read(ex->ctx, lk->key, lk->len, val, vlen);
    }
    return HB_OK;
}

/* (b, c) Sends local reads to the other active participants and waits for
 * theirs. Not implemented yet: a transaction with another participant
 * aborts, identically on every participant and replica. */
static hb_rc_t s_exchange_reads(stor_executor_t *ex, const hb_txn_t *txn)
{
    for (uint32_t i = 0; i < txn->nlocks; i++)
        if (txn->locks[i].partition != ex->self.partition)
            return stor_ctx_abort(ex->ctx, HB_ABORTED,
                                  "multi-partition transactions are not supported yet");
    return HB_OK;
}

/* (d) Runs the procedure body over the gathered reads. */
static hb_rc_t s_run(stor_executor_t *ex, const hb_txn_t *txn)
{
    const hb_proc_def_t *def = hb_proc_find(txn->proc, txn->proc_len);
    if (!def)
        return stor_ctx_abort(ex->ctx, HB_NOTFOUND, "unknown procedure %.*s",
                              (int)(txn->proc_len > 64 ? 64 : txn->proc_len), txn->proc);
    return stor_proc_run(ex->ctx, def->id, txn->args, txn->nargs);
}

/* (e) Applies this partition's writes to the overlay at epoch. */
static void s_apply_writes(stor_executor_t *ex, uint64_t epoch)
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
}

/* Sends the result to the transaction's origin sequencer. */
static void s_reply(stor_executor_t *ex, const hb_txn_t *txn, uint64_t epoch)
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

static void s_execute(stor_executor_t *ex, uint64_t epoch, uint16_t group, uint32_t index,
                      const uint8_t *raw, size_t raw_len)
{
    hb_txn_t *txn = NULL;
    hb_rc_t rc = hb_txn_decode(raw, raw_len, &ex->lim, ex->nparts, &txn);
    if (rc != HB_OK) {
        /* The same bytes are in every replica's log: skipping is
         * deterministic. Nobody can be told but the scheduler. */
        ex->stats.bad_txns++;
        hb_warn("epoch %" PRIu64 " txn %u/%" PRIu32 " does not decode (%s); skipped",
                epoch, group, index, hb_rc_str(rc));
        s_send_done(ex, epoch, group, index);
        return;
    }

    rc = stor_ctx_reset(ex->ctx, txn);
    if (rc == HB_OK)
        rc = s_local_reads(ex, txn);
    if (rc == HB_OK)
        rc = s_exchange_reads(ex, txn);
    if (rc == HB_OK)
        rc = s_run(ex, txn);
    if (rc == HB_OK)
        s_apply_writes(ex, epoch);

    if (rc == HB_OK)
        ex->stats.executed++;
    else
        ex->stats.aborted++;
    if (s_reply_partition(txn) == ex->self.partition)
        s_reply(ex, txn, epoch);
    s_send_done(ex, epoch, group, index);

    stor_ctx_reset(ex->ctx, NULL);
    hb_txn_destroy(&txn);
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* Returns true if inc is the current incarnation (and notes acceptance);
 * counts and returns false otherwise. */
static bool s_current(stor_executor_t *ex, uint64_t inc, const char *what)
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

static void s_on_epoch(stor_executor_t *ex, const hb_msg_t *msg)
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

static void s_on_dispatch(stor_executor_t *ex, const hb_msg_t *msg)
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
    s_execute(ex, e, group, index, msg->u.dispatch.raw, msg->u.dispatch.raw_len);
    s_epoch_get(ex, e)->done++;
    s_try_flush(ex);
}

static void s_resync(stor_executor_t *ex)
{
    stor_engine_discard_overlay(ex->engine);
    s_epochs_clear(ex);
    hb_rc_t rc = stor_engine_new_incarnation(ex->engine);
    if (rc != HB_OK)
        hb_error("cannot persist a new incarnation (%s); keeping %" PRIu64, hb_rc_str(rc),
                 stor_engine_incarnation(ex->engine));
    hb_info("RESYNC: overlay discarded, incarnation %" PRIu64 ", applied epoch %" PRIu64,
            stor_engine_incarnation(ex->engine), stor_engine_applied_epoch(ex->engine));
    s_start_hello(ex);
}

void stor_executor_on_message(stor_executor_t *ex, const hb_msg_t *msg)
{
    switch (msg->type) {
    case HB_MSG_DISPATCH:
        s_on_dispatch(ex, msg);
        break;
    case HB_MSG_EPOCH:
        s_on_epoch(ex, msg);
        break;
    case HB_MSG_RESET:
        if (s_current(ex, msg->u.hello.incarnation, "RESET"))
            hb_info("scheduler accepted incarnation %" PRIu64, msg->u.hello.incarnation);
        break;
    case HB_MSG_RESYNC:
        s_resync(ex);
        break;
    default:
        hb_debug("ignoring %s", hb_msg_type_str(msg->type));
        break;
    }
}

void stor_executor_on_timer(stor_executor_t *ex, uint64_t token)
{
    if (token == S_TOKEN_FLUSH_RETRY) {
        ex->flush_retry_armed = false;
        s_try_flush(ex);
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

stor_executor_t *stor_executor_new(stor_engine_t *engine, hb_node_t self, uint32_t nparts,
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
    msgpack_sbuffer_init(&ex->sbuf);
    s_start_hello(ex);
    return ex;
}

void stor_executor_destroy(stor_executor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stor_executor_t *ex = *self_p;
    s_epochs_clear(ex);
    hb_free(ex->epochs);
    stor_ctx_destroy(&ex->ctx);
    msgpack_sbuffer_destroy(&ex->sbuf);
    hb_free(ex);
    *self_p = NULL;
}

void stor_executor_status(stor_executor_t *ex, hb_status_t *st)
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
}

void stor_executor_stats(const stor_executor_t *ex, stor_exec_stats_t *out)
{
    *out = ex->stats;
}

uint64_t stor_executor_incarnation(const stor_executor_t *ex)
{
    return stor_engine_incarnation(ex->engine);
}

bool stor_executor_accepted(const stor_executor_t *ex)
{
    return ex->accepted;
}

size_t stor_executor_pending_epochs(const stor_executor_t *ex)
{
    return ex->nepochs;
}
