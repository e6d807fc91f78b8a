/* batcher.c — the sequencer core (see batcher.h).
 *
 * Every call a client submits here is planned, encoded with this replica as
 * its origin, and kept in the `pending` table until this replica learns it
 * chosen (or skipped as a duplicate). The leader of the group appends calls
 * to its open batch; a follower forwards them to the leader. Whenever the
 * leader changes, every pending call is sent again (the new leader takes
 * them into its open batch): the input log's dedup table (seqlog.h) drops
 * the copies of calls that were chosen after all, so nothing is lost and
 * nothing runs twice.
 *
 * The leader closes its open batch and proposes it to Paxos as [proposed
 * epoch, [txn...]]: right after the waiting messages once it holds a call
 * and the log is free (SEQ_TIMER_CLOSE: group commit, while the pipeline
 * is not busy), when another group's CLOSE names an epoch it has not
 * proposed, and on its tick (an empty batch only if it proposed nothing
 * since the last tick). A batch it closed by itself, non-empty, is
 * announced to the other groups with CLOSE, so their batches complete the
 * same epoch at once. Each replica's
 * learner hands every chosen slot to the input log, which decides its
 * epoch, `since` and duplicates, and the batcher sends each scheduler of its
 * own replica the sub-batch touching that scheduler's partition.
 *
 * The core opens no LevelDB itself: its shell (main.c) opens the input log
 * and lends it to seq_batcher_new, like storage's shell lends the engine to
 * the executor; the log outlives the core and is closed by the shell.
 */
#include "batcher.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "hb_proc.h"
#include "hb_txn.h"
#include "idmap.h"
#include "paxos.h"
#include "seqlog.h"
#include "stages.h"

/* A call this replica took and has not seen chosen yet. */
typedef struct {
    uint8_t *raw;     /* encoded txn (owned) */
    size_t len;       /* its length */
    uint64_t sent_us; /* when it was last handed to a leader */
} s_pend_t;

/* A batch this replica proposed as leader, for the consensus latency. */
typedef struct {
    uint64_t epoch; /* proposed epoch */
    uint64_t t_us;  /* when */
} s_prop_t;

#define S_PROPS 256 /* proposals remembered for latency */
#define S_ANSWERED                                                                       \
    65536 /* call ids answered recently (replies of other replicas dropped) */
#define S_SAMPLES 4096 /* latency samples kept */
/* Group commit closes a batch early only while fewer of this replica's
 * delivered calls than this await their reply: beyond it the pipeline is
 * busy anyway, and batches closed on the tick cost less per call. */
#define S_EARLY_INFLIGHT 64

struct seq_batcher {
    const hb_config_t *cfg;  /* cluster config (borrowed) */
    hb_node_t self;          /* replica, group */
    const hb_env_t *env;     /* the world */
    seq_log_t *log;          /* durable input log, the Paxos store (borrowed) */
    seq_paxos_t *paxos;      /* the group's Multi-Paxos core */
    seq_paxos_io_t pio;      /* its environment */
    int leader;              /* leader as last seen (-1 unknown) */
    bool leading;            /* this replica leads */
    msgpack_sbuffer open;    /* encoded txns of the open batch (leader) */
    uint32_t open_n;         /* txns in the open batch */
    uint64_t last_proposed;  /* epoch of the last proposal */
    uint64_t close_floor;    /* highest epoch another group's CLOSE asked us to cover */
    bool close_armed;        /* a SEQ_TIMER_CLOSE is pending */
    bool closed_since_tick;  /* a batch was proposed since the last tick */
    uint64_t unanswered;     /* own calls delivered, reply not seen (estimate) */
    uint64_t replies_seen;   /* `replies` at the last retry tick */
    seq_idmap_t pending;     /* call id -> s_pend_t * */
    seq_idmap_t answered;    /* call ids answered recently */
    uint64_t (*ans_ring)[2]; /* S_ANSWERED of them, oldest first from ans_head */
    size_t ans_head, ans_n;
    hb_lockset_t ls;         /* scratch lock set */
    msgpack_sbuffer *part;   /* per-partition scratch for delivery */
    uint32_t *part_n;        /* entries in each part */
    uint16_t *parts;         /* scratch: a txn's partitions */
    msgpack_sbuffer scratch; /* encoding scratch */
    s_prop_t props[S_PROPS]; /* ring of recent proposals */
    size_t props_head, props_n;
    uint32_t samples[S_SAMPLES]; /* consensus latencies (us), ring */
    uint64_t nsamples;
    uint64_t accepted;       /* SUBMITs taken */
    uint64_t rejected;       /* SUBMITs answered with an error */
    uint64_t replies;        /* REPLYs forwarded to clients */
    uint64_t replies_extra;  /* REPLYs of a call already answered (dropped) */
    uint64_t batches;        /* batches delivered */
    uint64_t replays;        /* REPLAY requests served */
    uint64_t dropped;        /* messages we could not use */
    uint64_t proposals;      /* batches proposed as leader */
    uint64_t log_errors;     /* proposals Paxos refused */
    uint64_t forwarded;      /* calls forwarded to the leader */
    uint64_t resent;         /* pending calls sent again (leader change, retry) */
    uint64_t fwd_taken;      /* forwarded calls taken as leader */
    uint64_t dup_skipped;    /* duplicates of own calls skipped at delivery */
    uint64_t dup_notices;    /* clients told their call had already run */
    uint64_t leader_changes; /* leader changes seen */
    uint64_t early_closes;   /* batches closed before the tick (group commit, CLOSE) */
    uint64_t close_sent;     /* CLOSE hints sent to the other groups */
    uint64_t close_taken;    /* CLOSE hints that made this leader close */
    uint64_t tick_skips;     /* ticks that found a batch proposed since the last */
    seq_stages_t *stages;    /* per-stage latencies (statistics only) */
};

/* ------------------------------------------------------------ helpers */

/* An epoch is named by the leader's clock, in microseconds, when it closes
 * its batch: names only order batches (the log makes them increase), so a
 * group may close several per epoch_ms and every group's name for "now" is
 * close to every other's. */
static uint64_t
s_clock_epoch(const seq_batcher_t *self)
{
    return self->env->now_us(self->env->ctx);
}

/* Asks for a SEQ_TIMER_CLOSE right after the messages waiting now: the
 * batch then holds everything that arrived meanwhile (group commit). */
static void
s_arm_close(seq_batcher_t *self)
{
    if (self->close_armed)
        return;
    self->close_armed = true;
    self->env->timer(self->env->ctx, 0, SEQ_TIMER_CLOSE);
}

/* True while a proposal of this leader is not delivered yet (only with
 * R > 1: with one replica a proposal is chosen before propose returns). */
static bool
s_log_busy(const seq_batcher_t *self)
{
    return self->last_proposed > seq_log_last(self->log);
}

static void
s_arm_tick(seq_batcher_t *self)
{
    uint64_t now = self->env->now_us(self->env->ctx);
    uint64_t len_us = (uint64_t)self->cfg->epoch_ms * 1000u;
    uint64_t next = (now / len_us + 1) * len_us;
    self->env->timer(self->env->ctx, next - now, SEQ_TIMER_TICK);
}

static uint64_t
s_retry_us(const seq_batcher_t *self)
{
    uint64_t us = (uint64_t)self->cfg->election_timeout_ms * 4000u;
    return us < 1000000u ? 1000000u : us;
}

static void
s_send_result(seq_batcher_t *self, uint64_t client_id, uint64_t req_id, uint64_t epoch,
              hb_rc_t rc, const char *text, uint32_t nvals, const hb_val_t *vals)
{
    hb_msg_t m = {.type = HB_MSG_RESULT};
    m.u.result.req_id = req_id;
    m.u.result.epoch = epoch;
    m.u.result.rc = (uint32_t)rc;
    m.u.result.msg = text;
    m.u.result.msg_len = (uint32_t)strlen(text);
    m.u.result.nvals = nvals;
    m.u.result.vals = (hb_val_t *)vals;
    self->scratch.size = 0;
    if (hb_msg_encode(&m, &self->scratch) == HB_OK)
        self->env->send_client(self->env->ctx, client_id, self->scratch.data,
                               self->scratch.size);
}

static uint64_t
s_peer_client_id(const uint8_t *peer, size_t peerlen)
{
    if (peerlen != 8 || peer[0] == 0)
        return 0;
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = (id << 8) | peer[i];
    return id;
}

/* What delivery needs of an encoded transaction. */
typedef struct {
    uint64_t client_id;
    uint64_t req_id;
    uint64_t origin_replica;
    int nparts; /* distinct partitions, in self->parts; -1: bad encoding */
} s_txn_head_t;

/* Reads the call id, origin and the distinct partitions of an encoded
 * transaction's lock set (into self->parts). */
static s_txn_head_t
s_txn_head(seq_batcher_t *self, const uint8_t *raw, size_t len)
{
    s_txn_head_t h = {0, 0, 0, -1};
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, raw, len);
    uint32_t nfields = 0, nlocks = 0;
    hb_mp_read_array(&r, &nfields);
    if (nfields != 8)
        return h;
    hb_mp_read_uint(&r, &h.client_id);
    hb_mp_read_uint(&r, &h.req_id);
    hb_mp_read_uint(&r, &h.origin_replica);
    for (int i = 3; i < 7; i++)
        hb_mp_skip(&r);
    hb_mp_read_array(&r, &nlocks);
    int n = 0;
    for (uint32_t i = 0; i < nlocks && r.err == HB_OK; i++) {
        uint32_t three = 0;
        uint64_t p = 0;
        hb_mp_read_array(&r, &three);
        hb_mp_read_uint(&r, &p);
        hb_mp_skip(&r);
        hb_mp_skip(&r);
        if (three != 3 || p >= self->cfg->partitions)
            return h;
        int seen = 0;
        for (int j = 0; j < n; j++)
            seen |= self->parts[j] == p;
        if (!seen)
            self->parts[n++] = (uint16_t)p;
    }
    if (r.err == HB_OK)
        h.nparts = n;
    return h;
}

/* Sends scheduler q of this replica its sub-batch of one delivered batch. */
static void
s_send_batch(seq_batcher_t *self, uint16_t q, uint64_t epoch, uint64_t since)
{
    msgpack_sbuffer *sb = &self->scratch;
    sb->size = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_uint32(&pk, HB_WIRE_VERSION);
    msgpack_pack_uint32(&pk, HB_MSG_BATCH);
    msgpack_pack_uint16(&pk, self->self.partition);
    msgpack_pack_uint64(&pk, epoch);
    msgpack_pack_uint64(&pk, since);
    msgpack_pack_array(&pk, self->part_n[q]);
    msgpack_sbuffer_write(sb, self->part[q].data, self->part[q].size);
    self->env->send(self->env->ctx, hb_node(HB_ROLE_SCHEDULER, self->self.replica, q),
                    sb->data, sb->size);
}

static void
s_pend_free(uint64_t value)
{
    s_pend_t *pe = (s_pend_t *)(uintptr_t)value;
    hb_free(pe->raw);
    hb_free(pe);
}

/* Forgets a pending call of this replica. */
static void
s_pend_done(seq_batcher_t *self, uint64_t client_id, uint64_t req_id)
{
    uint64_t v;
    if (seq_idmap_del(&self->pending, client_id, req_id, &v))
        s_pend_free(v);
}

/* Splits a delivered batch body by partition; sends to every scheduler, or
 * only to only_q when only_q < partitions. Live deliveries (only_q out of
 * range) also retire this replica's pending calls. */
static void
s_deliver(seq_batcher_t *self, uint64_t epoch, uint64_t since, const uint8_t *body,
          size_t len, uint32_t only_q)
{
    uint16_t nparts = self->cfg->partitions;
    bool live = only_q >= nparts;
    for (uint16_t q = 0; q < nparts; q++) {
        self->part[q].size = 0;
        self->part_n[q] = 0;
    }
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, body, len);
    uint32_t n = 0;
    if (hb_mp_read_array(&r, &n) != HB_OK) {
        hb_error("delivered batch %llu is corrupt", (unsigned long long)epoch);
        n = 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *raw;
        size_t rlen;
        if (hb_mp_read_raw(&r, &raw, &rlen) != HB_OK) {
            hb_error("delivered batch %llu: txn %u is corrupt", (unsigned long long)epoch,
                     i);
            break;
        }
        s_txn_head_t h = s_txn_head(self, raw, rlen);
        if (live && h.origin_replica == self->self.replica) {
            s_pend_done(self, h.client_id, h.req_id);
            self->unanswered++;
        }
        for (int j = 0; j < h.nparts; j++) {
            uint16_t q = self->parts[j];
            msgpack_packer pk;
            msgpack_packer_init(&pk, &self->part[q], msgpack_sbuffer_write);
            msgpack_pack_array(&pk, 2);
            msgpack_pack_uint32(&pk, i);
            msgpack_sbuffer_write(&self->part[q], (const char *)raw, rlen);
            self->part_n[q]++;
        }
    }
    for (uint16_t q = 0; q < nparts; q++)
        if (live || q == only_q)
            s_send_batch(self, q, epoch, since);
}

static void
s_sample(seq_batcher_t *self, uint64_t proposed_epoch)
{
    while (self->props_n && self->props[self->props_head].epoch < proposed_epoch) {
        self->props_head = (self->props_head + 1) % S_PROPS;
        self->props_n--;
    }
    if (!self->props_n || self->props[self->props_head].epoch != proposed_epoch)
        return;
    uint64_t us = self->env->now_us(self->env->ctx) - self->props[self->props_head].t_us;
    self->samples[self->nsamples++ % S_SAMPLES] =
        us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    self->props_head = (self->props_head + 1) % S_PROPS;
    self->props_n--;
}

/* Learner callback: slot is chosen (durable, in order). */
static void
s_on_chosen(void *ctx, uint64_t slot, const void *value, size_t len)
{
    seq_batcher_t *self = ctx;
    seq_log_entry_t e;
    if (!seq_log_take(self->log, slot, value, len, &e) || e.epoch == 0)
        return;
    self->batches++;
    s_sample(self, e.proposed_epoch);
    seq_stages_chosen(self->stages, e.proposed_epoch);
    for (uint32_t i = 0; i < e.ndups; i++) {
        const seq_log_dup_t *d = &e.dups[i];
        if (d->origin_replica != self->self.replica)
            continue;
        self->dup_skipped++;
        s_pend_done(self, d->client_id, d->req_id);
        if (d->first_replica != self->self.replica) {
            /* The call ran through another replica, which had its reply. */
            char text[160];
            snprintf(
                text, sizeof text,
                "duplicate call: it already executed in epoch %llu through replica %u",
                (unsigned long long)d->first_epoch, d->first_replica);
            self->dup_notices++;
            s_send_result(self, d->client_id, d->req_id, d->first_epoch, HB_EXISTS, text,
                          0, NULL);
        }
    }
    s_deliver(self, e.epoch, e.since, e.body, e.len, UINT32_MAX);
    /* The log is free again: close what gathered while it was busy. */
    if (self->leading && self->open_n > 0)
        s_arm_close(self);
}

/* Appends an encoded call to the open batch (leader only). */
static bool
s_open_append(seq_batcher_t *self, const uint8_t *raw, size_t len)
{
    if (self->open_n >= self->cfg->limits.max_batch_txns)
        return false;
    msgpack_sbuffer_write(&self->open, (const char *)raw, len);
    self->open_n++;
    s_arm_close(self);
    seq_stages_arrive(self->stages);
    return true;
}

static void
s_forward(seq_batcher_t *self, const uint8_t *raw, size_t len)
{
    hb_msg_t m = {.type = HB_MSG_FORWARD};
    m.u.forward.replica = self->self.replica;
    m.u.forward.raw = raw;
    m.u.forward.raw_len = len;
    self->scratch.size = 0;
    if (hb_msg_encode(&m, &self->scratch) == HB_OK)
        self->env->send(
            self->env->ctx,
            hb_node(HB_ROLE_SEQUENCER, (uint16_t)self->leader, self->self.partition),
            self->scratch.data, self->scratch.size);
}

/* Hands a pending call to the current leader (self or a peer). */
static void
s_hand_over(seq_batcher_t *self, s_pend_t *pe)
{
    pe->sent_us = self->env->now_us(self->env->ctx);
    if (self->leading)
        s_open_append(self, pe->raw, pe->len);
    else if (self->leader >= 0)
        s_forward(self, pe->raw, pe->len);
}

/* Sends every pending call again, or only those older than min_age_us. */
static void
s_resend_pending(seq_batcher_t *self, uint64_t min_age_us)
{
    uint64_t now = self->env->now_us(self->env->ctx);
    for (size_t i = 0; i < self->pending.cap; i++) {
        seq_idmap_cell_t *c = &self->pending.cells[i];
        if (!c->client_id)
            continue;
        s_pend_t *pe = (s_pend_t *)(uintptr_t)c->value;
        if (min_age_us && now - pe->sent_us < min_age_us)
            continue;
        self->resent++;
        s_hand_over(self, pe);
    }
}

/* Follows the Paxos core's view of the leader. */
static void
s_check_leader(seq_batcher_t *self)
{
    int leader = seq_paxos_leader(self->paxos);
    bool leading = seq_paxos_is_leader(self->paxos);
    if (leader == self->leader && leading == self->leading)
        return;
    if (leader != self->leader)
        self->leader_changes++;
    hb_info("group %u: leader is %s%d%s", self->self.partition,
            leader >= 0 ? "replica " : "", leader, leading ? " (this replica)" : "");
    self->leader = leader;
    self->leading = leading;
    /* The open batch only ever holds pending calls: start it afresh. */
    self->open.size = 0;
    self->open_n = 0;
    if (leading && self->last_proposed < seq_log_last(self->log))
        self->last_proposed = seq_log_last(self->log);
    if (leading || leader >= 0)
        s_resend_pending(self, 0);
}

/* ---------------------------------------------------------- Paxos io */

static void
s_px_send(void *ctx, uint32_t to, const void *frame, size_t len)
{
    seq_batcher_t *self = ctx;
    hb_msg_t m = {.type = HB_MSG_PAXOS};
    m.u.paxos.replica = self->self.replica;
    m.u.paxos.group = self->self.partition;
    m.u.paxos.frame = frame;
    m.u.paxos.len = (uint32_t)len;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (hb_msg_encode(&m, &sb) == HB_OK)
        self->env->send(self->env->ctx,
                        hb_node(HB_ROLE_SEQUENCER, (uint16_t)to, self->self.partition),
                        sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static uint64_t
s_px_now(void *ctx)
{
    seq_batcher_t *self = ctx;
    return self->env->now_us(self->env->ctx);
}

static void
s_px_timer(void *ctx, uint64_t delay_us, uint64_t token)
{
    seq_batcher_t *self = ctx;
    self->env->timer(self->env->ctx, delay_us, token);
}

static uint64_t
s_px_random(void *ctx)
{
    seq_batcher_t *self = ctx;
    return self->env->random(self->env->ctx);
}

/* --------------------------------------------------------------- public */

seq_batcher_t *
seq_batcher_new(const hb_config_t *cfg, hb_node_t self_node, seq_log_t *log,
                const hb_env_t *env)
{
    seq_batcher_t *self = hb_calloc(1, sizeof *self);
    self->cfg = cfg;
    self->self = self_node;
    self->env = env;
    self->leader = -1;
    self->stages = seq_stages_new(env);
    msgpack_sbuffer_init(&self->open);
    msgpack_sbuffer_init(&self->scratch);
    seq_idmap_init(&self->pending);
    seq_idmap_init(&self->answered);
    self->ans_ring = hb_calloc(S_ANSWERED, sizeof *self->ans_ring);
    hb_lockset_init(&self->ls);
    self->part = hb_calloc(cfg->partitions, sizeof *self->part);
    for (uint16_t q = 0; q < cfg->partitions; q++)
        msgpack_sbuffer_init(&self->part[q]);
    self->part_n = hb_calloc(cfg->partitions, sizeof *self->part_n);
    self->parts = hb_calloc(cfg->partitions, sizeof *self->parts);
    self->log = log;
    self->last_proposed = seq_log_last(self->log);
    self->pio = (seq_paxos_io_t){
        .ctx = self,
        .send = s_px_send,
        .now_us = s_px_now,
        .timer = s_px_timer,
        .random = s_px_random,
        .chosen = s_on_chosen,
    };
    seq_paxos_cfg_t pc = {
        .group = self_node.partition,
        .self = self_node.replica,
        .replicas = cfg->replicas,
        .heartbeat_us = (uint64_t)cfg->heartbeat_ms * 1000u,
        .election_timeout_us = (uint64_t)cfg->election_timeout_ms * 1000u,
        .max_value_bytes = cfg->limits.max_frame_bytes - (64u << 10),
        .max_frame_bytes = cfg->limits.max_frame_bytes - 1024u,
    };
    self->paxos = seq_paxos_new(&pc, seq_log_store(self->log), &self->pio);
    if (!self->paxos) {
        seq_batcher_destroy(&self);
        return NULL;
    }
    s_check_leader(self);
    s_arm_tick(self);
    self->env->timer(self->env->ctx, s_retry_us(self) / 4, SEQ_TIMER_RETRY);
    return self;
}

void
seq_batcher_destroy(seq_batcher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    seq_batcher_t *self = *self_p;
    seq_paxos_destroy(&self->paxos);
    msgpack_sbuffer_destroy(&self->open);
    msgpack_sbuffer_destroy(&self->scratch);
    for (size_t i = 0; i < self->pending.cap; i++)
        if (self->pending.cells[i].client_id)
            s_pend_free(self->pending.cells[i].value);
    seq_idmap_clear(&self->pending);
    seq_idmap_clear(&self->answered);
    hb_free(self->ans_ring);
    hb_lockset_clear(&self->ls);
    if (self->part)
        for (uint16_t q = 0; q < self->cfg->partitions; q++)
            msgpack_sbuffer_destroy(&self->part[q]);
    hb_free(self->part);
    hb_free(self->part_n);
    hb_free(self->parts);
    seq_stages_destroy(&self->stages);
    hb_free(self);
    *self_p = NULL;
}

/* Tells the sequencer of every other group of this replica that this group
 * proposed a non-empty batch as `epoch`: their leaders close theirs as the
 * same epoch at once, so the schedulers' merge need not wait for their
 * next tick. */
static void
s_send_close(seq_batcher_t *self, uint64_t epoch)
{
    hb_msg_t m = {.type = HB_MSG_CLOSE};
    m.u.close.group = self->self.partition;
    m.u.close.epoch = epoch;
    self->scratch.size = 0;
    if (hb_msg_encode(&m, &self->scratch) != HB_OK)
        return;
    for (uint16_t q = 0; q < self->cfg->partitions; q++) {
        if (q == self->self.partition)
            continue;
        self->env->send(self->env->ctx, hb_node(HB_ROLE_SEQUENCER, self->self.replica, q),
                        self->scratch.data, self->scratch.size);
        self->close_sent++;
    }
}

uint64_t
seq_batcher_close(seq_batcher_t *self)
{
    if (!self->leading)
        return 0;
    /* Another group's CLOSE we owe: take its epoch, so that both groups'
     * batches complete the same epoch. Else the clock, forced forward. */
    bool owed = self->close_floor > self->last_proposed;
    uint64_t epoch = owed ? self->close_floor : s_clock_epoch(self);
    if (epoch <= self->last_proposed)
        epoch = self->last_proposed + 1;
    uint32_t ntxns = self->open_n;
    msgpack_sbuffer value;
    msgpack_sbuffer_init(&value);
    seq_log_pack_value(&value, epoch, self->open_n, self->open.data, self->open.size);
    if (self->props_n == S_PROPS) {
        self->props_head = (self->props_head + 1) % S_PROPS;
        self->props_n--;
    }
    self->props[(self->props_head + self->props_n++) % S_PROPS] =
        (s_prop_t){epoch, self->env->now_us(self->env->ctx)};
    seq_stages_closing(self->stages, epoch);
    hb_rc_t rc = seq_paxos_propose(self->paxos, value.data, value.size);
    seq_stages_closed(self->stages, rc == HB_OK);
    msgpack_sbuffer_destroy(&value);
    if (rc != HB_OK) {
        /* Keep the open batch: the next tick retries with a later epoch. */
        self->log_errors++;
        hb_warn("group %u: proposal of epoch %llu refused: %s", self->self.partition,
                (unsigned long long)epoch, hb_rc_str(rc));
        s_check_leader(self);
        return 0;
    }
    self->proposals++;
    self->last_proposed = epoch;
    self->closed_since_tick = true;
    self->open.size = 0;
    self->open_n = 0;
    if (ntxns > 0 && !owed && self->cfg->partitions > 1)
        s_send_close(self, epoch);
    s_check_leader(self);
    return epoch;
}

/* Another group closed a non-empty batch as msg's epoch: the leader
 * covers that epoch now (with whatever it has, maybe nothing); a follower
 * passes the word to its leader once. */
static void
s_on_close(seq_batcher_t *self, const hb_msg_t *msg)
{
    uint16_t g = msg->u.close.group;
    uint64_t epoch = msg->u.close.epoch;
    if (g >= self->cfg->partitions || g == self->self.partition || epoch == 0) {
        self->dropped++;
        hb_warn("bad CLOSE from group %u dropped", g);
        return;
    }
    if (self->leading) {
        if (epoch <= self->last_proposed || epoch <= self->close_floor)
            return; /* covered already, or a close for it is on its way */
        self->close_floor = epoch;
        self->close_taken++;
        s_arm_close(self);
    } else if (!msg->u.close.relayed && self->leader >= 0 &&
               self->leader != self->self.replica) {
        hb_msg_t m = *msg;
        m.u.close.relayed = 1;
        self->scratch.size = 0;
        if (hb_msg_encode(&m, &self->scratch) == HB_OK)
            self->env->send(
                self->env->ctx,
                hb_node(HB_ROLE_SEQUENCER, (uint16_t)self->leader, self->self.partition),
                self->scratch.data, self->scratch.size);
    }
}

static void
s_on_submit(seq_batcher_t *self, const uint8_t *peer, size_t peerlen, const hb_msg_t *msg)
{
    uint64_t client_id = s_peer_client_id(peer, peerlen);
    if (client_id == 0) {
        self->dropped++;
        hb_warn("SUBMIT from a peer without a client id dropped");
        return;
    }
    uint64_t req_id = msg->u.submit.req_id;
    char err[256];
    const hb_proc_def_t *def = hb_proc_find(msg->u.submit.proc, msg->u.submit.proc_len);
    if (!def) {
        snprintf(err, sizeof err, "unknown procedure '%.*s'", (int)msg->u.submit.proc_len,
                 msg->u.submit.proc);
        self->rejected++;
        s_send_result(self, client_id, req_id, 0, HB_NOTFOUND, err, 0, NULL);
        return;
    }
    err[0] = '\0';
    hb_lockset_reset(&self->ls);
    hb_rc_t rc = hb_proc_plan(def, msg->u.submit.args, msg->u.submit.nargs,
                              self->cfg->partitions, &self->ls, err, sizeof err);
    if (rc == HB_OK && self->ls.n > self->cfg->limits.max_locks) {
        rc = HB_TOOBIG;
        snprintf(err, sizeof err, "%s: too many keys", def->name);
    }
    if (rc == HB_OK &&
        (self->pending.n >= self->cfg->limits.max_inflight ||
         (self->leading && self->open_n >= self->cfg->limits.max_batch_txns))) {
        rc = HB_BUSY;
        snprintf(err, sizeof err, "sequencer busy: too many calls in flight, retry");
    }
    if (rc == HB_OK && seq_idmap_get(&self->pending, client_id, req_id, NULL)) {
        /* A client retry of a call still in flight here: it is already
         * being handled; its one result will come. */
        self->dropped++;
        return;
    }
    if (rc != HB_OK) {
        self->rejected++;
        s_send_result(self, client_id, req_id, 0, rc, err, 0, NULL);
        return;
    }
    hb_txn_t txn = {
        .client_id = client_id,
        .req_id = req_id,
        .origin_replica = self->self.replica,
        .origin_group = self->self.partition,
        .timestamp_us = (int64_t)self->env->now_us(self->env->ctx),
        .proc = def->name,
        .proc_len = (uint32_t)strlen(def->name),
        .nargs = msg->u.submit.nargs,
        .args = msg->u.submit.args,
        .nlocks = self->ls.n,
        .locks = self->ls.locks,
    };
    msgpack_sbuffer *sb = &self->scratch;
    sb->size = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    hb_txn_pack(&pk, &txn);
    s_pend_t *pe = hb_calloc(1, sizeof *pe);
    pe->raw = hb_memdup(sb->data, sb->size);
    pe->len = sb->size;
    seq_idmap_put(&self->pending, client_id, req_id, (uint64_t)(uintptr_t)pe);
    self->accepted++;
    if (!self->leading && self->leader >= 0)
        self->forwarded++;
    s_hand_over(self, pe);
}

/* A follower's call: take it into the open batch when leading, else pass
 * it on to the leader we know (it may have changed). */
static void
s_on_forward(seq_batcher_t *self, const hb_msg_t *msg)
{
    hb_txn_t *txn = NULL;
    uint16_t from = msg->u.forward.replica;
    if (from >= self->cfg->replicas ||
        hb_txn_decode(msg->u.forward.raw, msg->u.forward.raw_len, &self->cfg->limits,
                      self->cfg->partitions, &txn) != HB_OK ||
        txn->origin_replica != from || txn->origin_group != self->self.partition ||
        txn->client_id == 0) {
        self->dropped++;
        hb_warn("bad FORWARD from replica %u dropped", from);
        hb_txn_destroy(&txn);
        return;
    }
    hb_txn_destroy(&txn);
    if (self->leading) {
        if (s_open_append(self, msg->u.forward.raw, msg->u.forward.raw_len))
            self->fwd_taken++;
        else
            self->dropped++; /* batch full: the origin sends it again */
    } else if (self->leader >= 0 && self->leader != from &&
               self->leader != self->self.replica) {
        s_forward(self, msg->u.forward.raw, msg->u.forward.raw_len);
    } else {
        self->dropped++; /* no leader known: the origin sends it again */
    }
}

/* Every replica executes the call and its reply partition answers the
 * origin; the first answer goes to the client, the others are dropped. */
static void
s_on_reply(seq_batcher_t *self, const hb_msg_t *msg)
{
    uint64_t cid = msg->u.result.client_id, rid = msg->u.result.req_id;
    if (cid == 0 || seq_idmap_get(&self->answered, cid, rid, NULL)) {
        self->replies_extra++;
        return;
    }
    if (self->ans_n == S_ANSWERED) {
        seq_idmap_del(&self->answered, self->ans_ring[self->ans_head][0],
                      self->ans_ring[self->ans_head][1], NULL);
        self->ans_head = (self->ans_head + 1) % S_ANSWERED;
        self->ans_n--;
    }
    size_t at = (self->ans_head + self->ans_n++) % S_ANSWERED;
    self->ans_ring[at][0] = cid;
    self->ans_ring[at][1] = rid;
    seq_idmap_put(&self->answered, cid, rid, 1);
    char text[1024];
    uint32_t n = msg->u.result.msg_len < sizeof text - 1 ? msg->u.result.msg_len
                                                         : (uint32_t)sizeof text - 1;
    memcpy(text, msg->u.result.msg, n);
    text[n] = '\0';
    self->replies++;
    if (self->unanswered > 0)
        self->unanswered--;
    s_send_result(self, cid, rid, msg->u.result.epoch, (hb_rc_t)msg->u.result.rc, text,
                  msg->u.result.nvals, msg->u.result.vals);
}

typedef struct {
    seq_batcher_t *self; /* core */
    uint16_t q;          /* scheduler asking */
} s_replay_t;

static void
s_on_replay_entry(void *arg, uint64_t epoch, uint64_t since, const uint8_t *body,
                  size_t len)
{
    s_replay_t *rp = arg;
    s_deliver(rp->self, epoch, since, body, len, rp->q);
}

void
seq_batcher_on_message(seq_batcher_t *self, const uint8_t *peer, size_t peerlen,
                       const hb_msg_t *msg)
{
    switch (msg->type) {
    case HB_MSG_SUBMIT:
        s_on_submit(self, peer, peerlen, msg);
        break;
    case HB_MSG_REPLY:
        s_on_reply(self, msg);
        break;
    case HB_MSG_PAXOS:
        if (msg->u.paxos.group != self->self.partition ||
            msg->u.paxos.replica >= self->cfg->replicas ||
            msg->u.paxos.replica == self->self.replica) {
            self->dropped++;
            hb_warn("PAXOS frame for group %u from replica %u is not ours",
                    msg->u.paxos.group, msg->u.paxos.replica);
            break;
        }
        seq_paxos_on_message(self->paxos, msg->u.paxos.replica, msg->u.paxos.frame,
                             msg->u.paxos.len);
        s_check_leader(self);
        break;
    case HB_MSG_FORWARD:
        s_on_forward(self, msg);
        break;
    case HB_MSG_CLOSE:
        s_on_close(self, msg);
        break;
    case HB_MSG_REPLAY: {
        if (msg->u.replay.replica != self->self.replica ||
            msg->u.replay.partition >= self->cfg->partitions) {
            self->dropped++;
            hb_warn("REPLAY for r%u p%u is not ours", msg->u.replay.replica,
                    msg->u.replay.partition);
            break;
        }
        s_replay_t rp = {self, msg->u.replay.partition};
        size_t n = seq_log_scan(self->log, msg->u.replay.from_epoch, SIZE_MAX,
                                s_on_replay_entry, &rp);
        self->replays++;
        hb_info("replayed %zu batches from epoch %llu to scheduler p%u", n,
                (unsigned long long)msg->u.replay.from_epoch, msg->u.replay.partition);
        break;
    }
    default:
        self->dropped++;
        hb_warn("unexpected %s message dropped", hb_msg_type_str(msg->type));
        break;
    }
}

void
seq_batcher_on_timer(seq_batcher_t *self, uint64_t token)
{
    switch (token) {
    case SEQ_TIMER_TICK:
        /* At least one batch per epoch_ms: an empty one only when this
         * leader proposed nothing since the last tick. */
        if (self->open_n > 0 || self->close_floor > self->last_proposed ||
            !self->closed_since_tick)
            seq_batcher_close(self);
        else
            self->tick_skips++;
        self->closed_since_tick = false;
        s_arm_tick(self);
        break;
    case SEQ_TIMER_CLOSE:
        /* Group commit: close as soon as there is something to say and the
         * log is free (a CLOSE owed does not wait: Paxos pipelines). */
        self->close_armed = false;
        if (!self->leading)
            break;
        if (self->close_floor > self->last_proposed ||
            (self->open_n > 0 && !s_log_busy(self) &&
             self->unanswered < S_EARLY_INFLIGHT)) {
            if (seq_batcher_close(self))
                self->early_closes++;
        }
        break;
    case SEQ_TIMER_RETRY:
        /* No reply for a whole retry period: nothing is on its way (the
         * estimate may have counted calls whose reply went elsewhere). */
        if (self->replies == self->replies_seen)
            self->unanswered = 0;
        self->replies_seen = self->replies;
        /* Calls lost on the way to a leader (or by a leader that fell) are
         * sent again; the dedup table drops the copies of those that were
         * chosen after all. */
        s_resend_pending(self, s_retry_us(self));
        self->env->timer(self->env->ctx, s_retry_us(self) / 4, SEQ_TIMER_RETRY);
        break;
    case SEQ_PAXOS_TIMER_TICK:
        seq_paxos_on_timer(self->paxos, token);
        s_check_leader(self);
        break;
    default:
        break;
    }
}

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void
seq_batcher_status(seq_batcher_t *self, hb_status_t *st)
{
    hb_status_int(st, "epoch", (int64_t)seq_log_last(self->log));
    hb_status_int(st, "leader", self->leader);
    hb_status_int(st, "leading", self->leading);
    hb_status_int(st, "leader_changes", (int64_t)self->leader_changes);
    hb_status_int(st, "early_closes", (int64_t)self->early_closes);
    hb_status_int(st, "close_sent", (int64_t)self->close_sent);
    hb_status_int(st, "close_taken", (int64_t)self->close_taken);
    hb_status_int(st, "tick_skips", (int64_t)self->tick_skips);
    hb_status_int(st, "unanswered", (int64_t)self->unanswered);
    hb_status_int(st, "batches", (int64_t)self->batches);
    hb_status_int(st, "proposals", (int64_t)self->proposals);
    hb_status_int(st, "accepted", (int64_t)self->accepted);
    hb_status_int(st, "rejected", (int64_t)self->rejected);
    hb_status_int(st, "pending", (int64_t)self->pending.n);
    hb_status_int(st, "forwarded", (int64_t)self->forwarded);
    hb_status_int(st, "forwarded_taken", (int64_t)self->fwd_taken);
    hb_status_int(st, "resent", (int64_t)self->resent);
    hb_status_int(st, "dup_skipped", (int64_t)self->dup_skipped);
    hb_status_int(st, "dup_notices", (int64_t)self->dup_notices);
    hb_status_int(st, "dedup_skipped_all", (int64_t)seq_log_skipped(self->log));
    hb_status_int(st, "dedup_table", (int64_t)seq_log_dedup_size(self->log));
    hb_status_int(st, "replies", (int64_t)self->replies);
    hb_status_int(st, "replies_extra", (int64_t)self->replies_extra);
    hb_status_int(st, "replays", (int64_t)self->replays);
    hb_status_int(st, "dropped", (int64_t)self->dropped);
    hb_status_int(st, "log_errors", (int64_t)self->log_errors);
    uint64_t w = seq_log_syncs(self->log);
    hb_status_int(st, "log_syncs", (int64_t)w);
    hb_status_int(st, "log_sync_avg_us",
                  w ? (int64_t)(seq_log_sync_us(self->log) / w) : 0);
    size_t n = self->nsamples < S_SAMPLES ? (size_t)self->nsamples : S_SAMPLES;
    uint32_t *sorted = hb_calloc(n + 1, sizeof *sorted);
    memcpy(sorted, self->samples, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, s_cmp_u32);
    hb_status_int(st, "consensus_samples", (int64_t)self->nsamples);
    hb_status_int(st, "consensus_p50_us", n ? sorted[n / 2] : 0);
    hb_status_int(st, "consensus_p99_us", n ? sorted[(n * 99) / 100] : 0);
    hb_free(sorted);
    seq_paxos_status(self->paxos, st);
    seq_stages_status(self->stages, self->log, st);
}

uint64_t
seq_batcher_accepted(const seq_batcher_t *self)
{
    return self->accepted;
}

uint64_t
seq_batcher_rejected(const seq_batcher_t *self)
{
    return self->rejected;
}

uint64_t
seq_batcher_last_epoch(const seq_batcher_t *self)
{
    return seq_log_last(self->log);
}

bool
seq_batcher_is_leader(const seq_batcher_t *self)
{
    return self->leading;
}
