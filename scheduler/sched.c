/* sched.c — the scheduler core (see sched.h).
 *
 * State: the merger, the policy instance, the in-flight transactions (a
 * list in submit order plus a hash on (epoch, group, index) for DONE), the
 * storage incarnation and the stall-detection memory. Nothing here reads a
 * clock or socket: sends and timers go through hb_env_t, so the simulator
 * can drive the same code.
 *
 * Restart: until the first HELLO, batches are merged but nothing is
 * released. A HELLO with a new incarnation drops the policy state and every
 * in-flight transaction, resets the merger to the storage's applied epoch,
 * answers RESET and asks every group's sequencer to REPLAY from the epoch
 * after it. A repeated HELLO of the current incarnation only repeats RESET
 * (re-dispatching would run transactions twice).
 */
#include "sched.h"

#include <msgpack.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_hash.h"
#include "hb_log.h"
#include "hb_txn.h"
#include "merge.h"

typedef struct s_inflight s_inflight_t;

/* One transaction between submit and DONE. */
struct s_inflight {
    sched_txn_t st;      /* what the policy sees; st.user points here */
    hb_txn_t *txn;       /* decoded input; its raw bytes are txn->buf */
    s_inflight_t *hnext; /* next in the hash bucket */
    s_inflight_t *prev;  /* neighbours in the in-flight list */
    s_inflight_t *next;
    bool dispatched;      /* the policy made it ready; DISPATCH sent */
    uint64_t submit_us;   /* statistics clock at submit (lock wait) */
    sched_lock_t locks[]; /* this partition's locks (st.locks) */
};

struct sched {
    hb_env_t env;                  /* the world */
    hb_node_t self;                /* our slot (role SCHEDULER) */
    uint16_t partitions;           /* groups = partitions */
    uint32_t epoch_ms;             /* batch length, for the stall period */
    hb_limits_t limits;            /* decoder bounds */
    const sched_policy_ops_t *ops; /* policy table */
    void *policy;                  /* policy instance */
    sched_merge_t *merge;          /* batches -> global order */
    sched_batch_t **batches;       /* scratch: one released epoch (partitions) */
    s_inflight_t **epochv;         /* scratch: decoded txns of one epoch */
    uint32_t epochv_cap;           /* capacity of epochv */
    s_inflight_t **buckets;        /* in-flight hash on (epoch, group, index) */
    uint32_t nbuckets;             /* power of two */
    s_inflight_t *head;            /* in-flight list, submit order */
    s_inflight_t *tail;
    uint64_t *prev_missing; /* per group: replay epoch seen last tick (0: none) */
    uint32_t *replay_wait;  /* per group: stall ticks to wait before asking again */
    uint32_t *replay_idle;  /* per group: stall ticks since the last REPLAY */
    msgpack_sbuffer sbuf;   /* reused encode buffer */
    sched_stats_t st;       /* counters and status */
    hb_hist_t merge_wait;   /* batch arrival -> epoch released (us) */
    hb_hist_t lock_wait;    /* submit -> locks granted (us) */
};

/* ---------------------------------------------------------------------------
 * Sending
 */

static void
s_send(sched_t *self, hb_node_t to, const hb_msg_t *msg)
{
    msgpack_sbuffer_clear(&self->sbuf);
    hb_rc_t rc = hb_msg_encode(msg, &self->sbuf);
    if (rc != HB_OK) {
        hb_error("cannot encode %s: %s", hb_msg_type_str(msg->type), hb_rc_str(rc));
        self->st.send_errors++;
        return;
    }
    rc = self->env.send(self->env.ctx, to, self->sbuf.data, self->sbuf.size);
    if (rc != HB_OK) {
        self->st.send_errors++;
        hb_debug("send %s to role %u r%up%u: %s", hb_msg_type_str(msg->type), to.role,
                 to.replica, to.partition, hb_rc_str(rc));
    }
}

static hb_node_t
s_storage(const sched_t *self)
{
    return hb_node(HB_ROLE_STORAGE, self->self.replica, self->self.partition);
}

static void
s_send_resync(sched_t *self)
{
    hb_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = HB_MSG_RESYNC;
    s_send(self, s_storage(self), &m);
    self->st.resyncs++;
}

static void
s_send_replay(sched_t *self, uint16_t group, uint64_t from)
{
    hb_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = HB_MSG_REPLAY;
    m.u.replay.replica = self->self.replica;
    m.u.replay.partition = self->self.partition;
    m.u.replay.from_epoch = from;
    s_send(self, hb_node(HB_ROLE_SEQUENCER, self->self.replica, group), &m);
    self->st.replays++;
}

/* ---------------------------------------------------------------------------
 * In-flight transactions
 */

static uint32_t
s_pos_hash(uint64_t epoch, uint16_t group, uint32_t index, uint32_t nbuckets)
{
    uint64_t h = hb_mix64(epoch ^ hb_mix64(((uint64_t)group << 32) | index));
    return (uint32_t)(h & (nbuckets - 1));
}

static void
s_hash_grow(sched_t *self)
{
    uint32_t nb = self->nbuckets * 2;
    s_inflight_t **b = hb_calloc(nb, sizeof *b);
    for (s_inflight_t *f = self->head; f; f = f->next) {
        uint32_t j = s_pos_hash(f->st.epoch, f->st.group, f->st.index, nb);
        f->hnext = b[j];
        b[j] = f;
    }
    hb_free(self->buckets);
    self->buckets = b;
    self->nbuckets = nb;
}

static void
s_inflight_insert(sched_t *self, s_inflight_t *f)
{
    if (self->st.inflight >= self->nbuckets)
        s_hash_grow(self);
    uint32_t j = s_pos_hash(f->st.epoch, f->st.group, f->st.index, self->nbuckets);
    f->hnext = self->buckets[j];
    self->buckets[j] = f;
    f->next = NULL;
    f->prev = self->tail;
    if (self->tail)
        self->tail->next = f;
    else
        self->head = f;
    self->tail = f;
    self->st.inflight++;
}

static s_inflight_t *
s_inflight_find(const sched_t *self, uint64_t epoch, uint16_t group, uint32_t index)
{
    uint32_t j = s_pos_hash(epoch, group, index, self->nbuckets);
    for (s_inflight_t *f = self->buckets[j]; f; f = f->hnext)
        if (f->st.epoch == epoch && f->st.group == group && f->st.index == index)
            return f;
    return NULL;
}

static void
s_inflight_free(s_inflight_t **f_p)
{
    s_inflight_t *f = *f_p;
    if (!f)
        return;
    hb_txn_destroy(&f->txn);
    hb_free(f);
    *f_p = NULL;
}

static void
s_inflight_remove(sched_t *self, s_inflight_t *f)
{
    uint32_t j = s_pos_hash(f->st.epoch, f->st.group, f->st.index, self->nbuckets);
    s_inflight_t **pp = &self->buckets[j];
    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    if (f->prev)
        f->prev->next = f->next;
    else
        self->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        self->tail = f->prev;
    self->st.inflight--;
}

static void
s_inflight_clear(sched_t *self)
{
    s_inflight_t *f = self->head;
    while (f) {
        s_inflight_t *next = f->next;
        s_inflight_free(&f);
        f = next;
    }
    self->head = self->tail = NULL;
    memset(self->buckets, 0, self->nbuckets * sizeof *self->buckets);
    self->st.inflight = 0;
}

/* Decodes one raw transaction of a released batch into an in-flight
 * record holding this partition's locks. Returns it or NULL (counted). */
static s_inflight_t *
s_inflight_make(sched_t *self, uint64_t epoch, uint16_t group,
                const sched_merge_txn_t *mt)
{
    hb_txn_t *txn = NULL;
    hb_rc_t rc =
        hb_txn_decode(mt->raw, mt->raw_len, &self->limits, self->partitions, &txn);
    if (rc != HB_OK) {
        self->st.bad_txns++;
        hb_warn("txn (%llu,%u,%u) does not decode (%s); skipped",
                (unsigned long long)epoch, group, mt->index, hb_rc_str(rc));
        return NULL;
    }
    uint32_t nlocal = 0;
    for (uint32_t i = 0; i < txn->nlocks; i++)
        if (txn->locks[i].partition == self->self.partition)
            nlocal++;
    s_inflight_t *f = hb_calloc(1, sizeof *f + (size_t)nlocal * sizeof(sched_lock_t));
    f->txn = txn;
    f->st.epoch = epoch;
    f->st.group = group;
    f->st.index = mt->index;
    f->st.nlocks = nlocal;
    f->st.locks = f->locks;
    f->st.user = f;
    uint32_t k = 0;
    for (uint32_t i = 0; i < txn->nlocks; i++) {
        const hb_lock_t *lk = &txn->locks[i];
        if (lk->partition != self->self.partition)
            continue;
        f->locks[k].key = lk->key;
        f->locks[k].len = lk->len;
        f->locks[k].mode = lk->mode;
        k++;
    }
    return f;
}

/* ---------------------------------------------------------------------------
 * Policy
 */

/* env->ready of the policy: the transaction holds its locks; dispatch it. */
static void
s_on_ready(void *ctx, sched_txn_t *st)
{
    sched_t *self = ctx;
    s_inflight_t *f = st->user;
    f->dispatched = true;
    hb_hist_add(&self->lock_wait, hb_env_since_us(&self->env, f->submit_us));
    hb_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = HB_MSG_DISPATCH;
    m.u.dispatch.incarnation = self->st.incarnation;
    m.u.dispatch.epoch = st->epoch;
    m.u.dispatch.group = st->group;
    m.u.dispatch.index = st->index;
    m.u.dispatch.raw = f->txn->buf;
    m.u.dispatch.raw_len = f->txn->buf_len;
    s_send(self, s_storage(self), &m);
    self->st.dispatched++;
}

static hb_rc_t
s_policy_create(sched_t *self)
{
    sched_policy_env_t penv = {
        .ctx = self,
        .ready = s_on_ready,
        .partition = self->self.partition,
        .partitions = self->partitions,
    };
    self->policy = self->ops->create(&penv);
    if (!self->policy) {
        hb_error("policy %s: create failed", self->ops->name);
        return HB_INTERNAL;
    }
    return HB_OK;
}

/* ---------------------------------------------------------------------------
 * Release
 */

static void
s_epochv_push(sched_t *self, uint32_t *n, s_inflight_t *f)
{
    HB_GROW(self->epochv, self->epochv_cap, *n + 1, 256);
    self->epochv[(*n)++] = f;
}

/* Releases every releasable epoch: EPOCH to storage, then each
 * transaction to the policy in (group, index) order. */
static void
s_release(sched_t *self)
{
    if (!self->st.storage_ready || !self->policy)
        return;
    uint64_t epoch;
    uint32_t nb;
    while ((nb = sched_merge_pop_epoch(self->merge, &epoch, self->batches)) > 0) {
        uint32_t n = 0;
        uint64_t now = hb_env_mono_us(&self->env);
        for (uint32_t b = 0; b < nb; b++) {
            const sched_batch_t *batch = self->batches[b];
            hb_hist_add_n(&self->merge_wait,
                          now > batch->arrived_us ? now - batch->arrived_us : 0,
                          batch->ntxns);
            for (uint32_t i = 0; i < batch->ntxns; i++) {
                s_inflight_t *f =
                    s_inflight_make(self, epoch, batch->group, &batch->txns[i]);
                if (f)
                    s_epochv_push(self, &n, f);
            }
        }
        for (uint32_t b = 0; b < nb; b++)
            sched_batch_destroy(&self->batches[b]);

        hb_msg_t m;
        memset(&m, 0, sizeof m);
        m.type = HB_MSG_EPOCH;
        m.u.epoch.incarnation = self->st.incarnation;
        m.u.epoch.epoch = epoch;
        m.u.epoch.ntxns = n;
        s_send(self, s_storage(self), &m);
        self->st.last_epoch = epoch;

        for (uint32_t i = 0; i < n; i++) {
            s_inflight_t *f = self->epochv[i];
            s_inflight_insert(self, f);
            f->submit_us = hb_env_mono_us(&self->env);
            hb_rc_t rc = self->ops->submit(self->policy, &f->st);
            if (rc != HB_OK) {
                /* A policy bug: storage now waits for a txn that will never
                 * come. Loud, but do not crash the slot. */
                hb_error("policy %s refused txn (%llu,%u,%u): %s", self->ops->name,
                         (unsigned long long)f->st.epoch, f->st.group, f->st.index,
                         hb_rc_str(rc));
                s_inflight_remove(self, f);
                s_inflight_free(&f);
            }
        }
    }
}

/* ---------------------------------------------------------------------------
 * Messages
 */

static void
s_on_batch(sched_t *self, const hb_msg_t *msg)
{
    sched_merge_set_clock(self->merge, hb_env_mono_us(&self->env));
    sched_merge_result_t r =
        sched_merge_add(self->merge, msg->u.batch.group, msg->u.batch.epoch,
                        msg->u.batch.since, msg->u.batch.txns, msg->u.batch.ntxns);
    if (r == SCHED_MERGE_ACCEPTED)
        s_release(self);
}

static void
s_on_done(sched_t *self, const hb_msg_t *msg)
{
    if (!self->st.storage_ready || msg->u.done.incarnation != self->st.incarnation) {
        self->st.stale_done++;
        hb_debug("DONE of incarnation %llu ignored (current %llu)",
                 (unsigned long long)msg->u.done.incarnation,
                 (unsigned long long)self->st.incarnation);
        return;
    }
    s_inflight_t *f =
        s_inflight_find(self, msg->u.done.epoch, msg->u.done.group, msg->u.done.index);
    if (!f || !f->dispatched) {
        self->st.unknown_done++;
        hb_warn("DONE for unknown txn (%llu,%u,%u) ignored",
                (unsigned long long)msg->u.done.epoch, msg->u.done.group,
                msg->u.done.index);
        return;
    }
    /* Out of the table first: complete may dispatch others (not this one). */
    s_inflight_remove(self, f);
    hb_rc_t rc = self->ops->complete(self->policy, &f->st);
    if (rc != HB_OK)
        hb_error("policy %s: complete (%llu,%u,%u): %s", self->ops->name,
                 (unsigned long long)f->st.epoch, f->st.group, f->st.index,
                 hb_rc_str(rc));
    s_inflight_free(&f);
    self->st.completed++;
}

static void
s_on_hello(sched_t *self, const hb_msg_t *msg)
{
    uint64_t inc = msg->u.hello.incarnation;
    uint64_t applied = msg->u.hello.applied_epoch;
    hb_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = HB_MSG_RESET;
    m.u.hello.incarnation = inc;
    if (self->st.storage_ready && inc == self->st.incarnation) {
        /* Our RESET was lost: say it again, change nothing. */
        m.u.hello.applied_epoch = self->st.applied_epoch;
        s_send(self, s_storage(self), &m);
        return;
    }
    if (self->st.storage_ready && inc < self->st.incarnation) {
        hb_info("stale HELLO of incarnation %llu ignored (current %llu)",
                (unsigned long long)inc, (unsigned long long)self->st.incarnation);
        return;
    }
    hb_info("storage incarnation %llu at applied epoch %llu: resetting",
            (unsigned long long)inc, (unsigned long long)applied);
    self->ops->destroy(&self->policy);
    s_inflight_clear(self);
    sched_merge_reset(self->merge, applied);
    memset(self->prev_missing, 0, self->partitions * sizeof *self->prev_missing);
    memset(self->replay_wait, 0, self->partitions * sizeof *self->replay_wait);
    memset(self->replay_idle, 0, self->partitions * sizeof *self->replay_idle);
    self->st.storage_ready = true;
    self->st.incarnation = inc;
    self->st.applied_epoch = applied;
    self->st.last_epoch = applied;
    self->st.hellos++;
    if (s_policy_create(self) != HB_OK) {
        /* Without a policy nothing is released; the next HELLO retries. */
        self->st.storage_ready = false;
        return;
    }
    m.u.hello.applied_epoch = applied;
    s_send(self, s_storage(self), &m);
    for (uint16_t g = 0; g < self->partitions; g++)
        s_send_replay(self, g, applied + 1);
    s_release(self);
}

void
sched_on_message(sched_t *self, const hb_msg_t *msg)
{
    if (!self || !msg)
        return;
    switch (msg->type) {
    case HB_MSG_BATCH:
        s_on_batch(self, msg);
        break;
    case HB_MSG_DONE:
        s_on_done(self, msg);
        break;
    case HB_MSG_HELLO:
        s_on_hello(self, msg);
        break;
    default:
        self->st.unexpected++;
        hb_debug("unexpected %s ignored", hb_msg_type_str(msg->type));
        break;
    }
}

/* ---------------------------------------------------------------------------
 * Timers
 */

static uint64_t
s_stall_us(const sched_t *self)
{
    uint64_t ms = 5ull * self->epoch_ms;
    return (ms < 50 ? 50 : ms) * 1000ull;
}

static void
s_stall_tick(sched_t *self)
{
    if (!self->st.storage_ready)
        return;
    for (uint16_t g = 0; g < self->partitions; g++) {
        uint64_t from = sched_merge_missing(self->merge, g);
        /* Missing now and already at the last tick without progress. A
         * REPLAY can be large (every batch since `from`) and a sequencer
         * that is still catching up may not have it yet: ask again for the
         * same epoch only after twice as many ticks each time (up to 32),
         * so a lagging sequencer is not buried in replays. */
        if (from != 0 && from == self->prev_missing[g]) {
            if (++self->replay_idle[g] >= self->replay_wait[g]) {
                hb_info("group %u lags at epoch %llu: REPLAY", g,
                        (unsigned long long)from);
                s_send_replay(self, g, from);
                self->st.stall_replays++;
                self->replay_idle[g] = 0;
                self->replay_wait[g] =
                    self->replay_wait[g] ? self->replay_wait[g] * 2 : 1;
                if (self->replay_wait[g] > 32)
                    self->replay_wait[g] = 32;
            }
        } else {
            self->replay_wait[g] = 0;
            self->replay_idle[g] = 0;
        }
        self->prev_missing[g] = from;
    }
}

void
sched_on_timer(sched_t *self, uint64_t token)
{
    if (!self)
        return;
    switch (token) {
    case SCHED_TIMER_RESYNC:
        if (!self->st.storage_ready) {
            s_send_resync(self);
            self->env.timer(self->env.ctx, SCHED_RESYNC_MS * 1000ull, SCHED_TIMER_RESYNC);
        }
        break;
    case SCHED_TIMER_STALL:
        s_stall_tick(self);
        self->env.timer(self->env.ctx, s_stall_us(self), SCHED_TIMER_STALL);
        break;
    default:
        hb_warn("unknown timer token %llu", (unsigned long long)token);
        break;
    }
}

/* ---------------------------------------------------------------------------
 * Life cycle
 */

sched_t *
sched_new_with_policy(const hb_config_t *cfg, hb_node_t self_node, const hb_env_t *env,
                      const sched_policy_ops_t *policy)
{
    if (!cfg || !env || !policy || !env->send || !env->timer) {
        hb_error("sched_new: missing config, environment or policy");
        return NULL;
    }
    if (self_node.partition >= cfg->partitions || self_node.replica >= cfg->replicas) {
        hb_error("sched_new: slot r%up%u outside the %ux%u cluster", self_node.replica,
                 self_node.partition, cfg->replicas, cfg->partitions);
        return NULL;
    }
    sched_t *self = hb_calloc(1, sizeof *self);
    self->env = *env;
    self->self = self_node;
    self->self.role = HB_ROLE_SCHEDULER;
    self->partitions = cfg->partitions;
    self->epoch_ms = cfg->epoch_ms;
    self->limits = cfg->limits;
    self->ops = policy;
    self->st.policy = policy->name;
    msgpack_sbuffer_init(&self->sbuf);
    self->merge = sched_merge_new(cfg->partitions, SCHED_MERGE_MAX_PENDING_DEFAULT);
    self->batches = hb_calloc(cfg->partitions, sizeof *self->batches);
    self->prev_missing = hb_calloc(cfg->partitions, sizeof *self->prev_missing);
    self->replay_wait = hb_calloc(cfg->partitions, sizeof *self->replay_wait);
    self->replay_idle = hb_calloc(cfg->partitions, sizeof *self->replay_idle);
    self->nbuckets = 1024;
    self->buckets = hb_calloc(self->nbuckets, sizeof *self->buckets);
    if (!self->merge || s_policy_create(self) != HB_OK) {
        sched_destroy(&self);
        return NULL;
    }
    hb_info("scheduler r%up%u: policy %s, %u groups", self->self.replica,
            self->self.partition, policy->name, self->partitions);
    s_send_resync(self);
    self->env.timer(self->env.ctx, SCHED_RESYNC_MS * 1000ull, SCHED_TIMER_RESYNC);
    self->env.timer(self->env.ctx, s_stall_us(self), SCHED_TIMER_STALL);
    return self;
}

sched_t *
sched_new(const hb_config_t *cfg, hb_node_t self_node, const hb_env_t *env)
{
    if (!cfg)
        return NULL;
    const sched_policy_ops_t *ops = sched_policy_resolve(cfg->policy);
    if (!ops) {
        hb_error("unknown scheduler policy \"%s\" (built in: calvin, serial; or a path "
                 "to a .so)",
                 cfg->policy);
        return NULL;
    }
    return sched_new_with_policy(cfg, self_node, env, ops);
}

void
sched_destroy(sched_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sched_t *self = *self_p;
    if (self->policy)
        self->ops->destroy(&self->policy);
    if (self->buckets)
        s_inflight_clear(self);
    sched_merge_destroy(&self->merge);
    hb_free(self->batches);
    hb_free(self->epochv);
    hb_free(self->buckets);
    hb_free(self->prev_missing);
    hb_free(self->replay_wait);
    hb_free(self->replay_idle);
    msgpack_sbuffer_destroy(&self->sbuf);
    hb_free(self);
    *self_p = NULL;
}

void
sched_stats(const sched_t *self, sched_stats_t *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!self)
        return;
    *out = self->st;
    sched_merge_stats_t ms;
    sched_merge_stats(self->merge, &ms);
    out->known_min = sched_merge_known_min(self->merge);
    out->queued = ms.queued;
    out->pending = ms.pending;
    out->duplicates = ms.duplicates;
    out->dropped = ms.overflows + ms.invalid;
}

const hb_hist_t *
sched_merge_wait(const sched_t *self)
{
    return &self->merge_wait;
}

const hb_hist_t *
sched_lock_wait(const sched_t *self)
{
    return &self->lock_wait;
}
