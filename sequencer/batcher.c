/* batcher.c — the sequencer core (see batcher.h).
 *
 * The open batch is kept as the concatenated encodings of its transactions
 * plus a count; closing prefixes the msgpack array header and hands the
 * bytes to the log. Delivery reads the partitions of each transaction's
 * lock set straight from its encoding (no copy) and builds one BATCH per
 * scheduler of this replica.
 */
#include "batcher.h"

#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "hb_proc.h"
#include "hb_txn.h"
#include "seqlog.h"

/* An open-batch transaction: its bytes in `open` and its partitions, kept
 * at submit time so delivery need not parse what it just encoded. */
typedef struct {
    size_t off;      /* offset in open.data */
    size_t len;      /* encoded length */
    size_t pstart;   /* first partition in slot_parts */
    uint16_t np;     /* number of partitions */
} s_slot_t;

struct seq_batcher {
    const hb_config_t *cfg; /* cluster config (borrowed) */
    hb_node_t self;         /* replica, group */
    const hb_env_t *env;    /* the world */
    seq_log_t *log;         /* input log */
    msgpack_sbuffer open;   /* encoded txns of the open batch */
    uint32_t open_n;        /* txns in the open batch */
    s_slot_t *slots;        /* where each open txn is and what it touches */
    uint32_t slots_cap;     /* slots allocated */
    uint16_t *slot_parts;   /* partitions of the open txns, back to back */
    size_t slot_parts_n;    /* used */
    size_t slot_parts_cap;  /* allocated */
    uint64_t closing;       /* epoch being proposed from the open batch */
    hb_lockset_t ls;        /* scratch lock set */
    msgpack_sbuffer *part;  /* per-partition scratch for delivery */
    uint32_t *part_n;       /* entries in each part */
    uint16_t *parts;        /* scratch: a txn's partitions */
    uint64_t accepted;      /* SUBMITs batched */
    uint64_t rejected;      /* SUBMITs answered with an error */
    uint64_t replies;       /* REPLYs forwarded to clients */
    uint64_t batches;       /* batches chosen */
    uint64_t replays;       /* REPLAY requests served */
    uint64_t dropped;       /* messages we could not use */
    uint64_t log_errors;    /* proposals the log refused */
};

/* ------------------------------------------------------------ helpers */

static uint64_t
s_clock_epoch(const seq_batcher_t *self)
{
    return self->env->now_us(self->env->ctx) / 1000u / self->cfg->epoch_ms;
}

static void
s_arm_tick(seq_batcher_t *self)
{
    uint64_t now = self->env->now_us(self->env->ctx);
    uint64_t len_us = (uint64_t)self->cfg->epoch_ms * 1000u;
    uint64_t next = (now / len_us + 1) * len_us;
    self->env->timer(self->env->ctx, next - now, SEQ_TIMER_TICK);
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
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (hb_msg_encode(&m, &sb) == HB_OK)
        self->env->send_client(self->env->ctx, client_id, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
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

/* Reads the distinct partitions of an encoded transaction's lock set into
 * self->parts. Returns how many, or -1 if the encoding is bad. */
static int
s_raw_partitions(seq_batcher_t *self, const uint8_t *raw, size_t len)
{
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, raw, len);
    uint32_t nfields = 0, nlocks = 0;
    hb_mp_read_array(&r, &nfields);
    if (nfields != 8)
        return -1;
    for (int i = 0; i < 7; i++)
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
            return -1;
        int seen = 0;
        for (int j = 0; j < n; j++)
            seen |= self->parts[j] == p;
        if (!seen)
            self->parts[n++] = (uint16_t)p;
    }
    return r.err == HB_OK ? n : -1;
}

/* Sends scheduler q of this replica its sub-batch of one chosen batch. */
static void
s_send_batch(seq_batcher_t *self, uint16_t q, uint64_t epoch, uint64_t since)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_uint32(&pk, HB_WIRE_VERSION);
    msgpack_pack_uint32(&pk, HB_MSG_BATCH);
    msgpack_pack_uint16(&pk, self->self.partition);
    msgpack_pack_uint64(&pk, epoch);
    msgpack_pack_uint64(&pk, since);
    msgpack_pack_array(&pk, self->part_n[q]);
    msgpack_sbuffer_write(&sb, self->part[q].data, self->part[q].size);
    self->env->send(self->env->ctx, hb_node(HB_ROLE_SCHEDULER, self->self.replica, q), sb.data,
                    sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* Splits a chosen batch body by partition; sends to every scheduler, or to
 * only_q when only_q < partitions. */
static void
s_deliver(seq_batcher_t *self, uint64_t epoch, uint64_t since, const uint8_t *body,
          size_t len, uint32_t only_q)
{
    uint16_t nparts = self->cfg->partitions;
    for (uint16_t q = 0; q < nparts; q++) {
        self->part[q].size = 0;
        self->part_n[q] = 0;
    }
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, body, len);
    uint32_t n = 0;
    if (hb_mp_read_array(&r, &n) != HB_OK) {
        hb_error("chosen batch %llu is corrupt", (unsigned long long)epoch);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *raw;
        size_t rlen;
        if (hb_mp_read_raw(&r, &raw, &rlen) != HB_OK) {
            hb_error("chosen batch %llu: txn %u is corrupt", (unsigned long long)epoch, i);
            return;
        }
        int np = s_raw_partitions(self, raw, rlen);
        for (int j = 0; j < np; j++) {
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
        if (only_q >= nparts || q == only_q)
            s_send_batch(self, q, epoch, since);
}

/* Delivers the batch being closed from the open batch's slots. */
static void
s_deliver_open(seq_batcher_t *self, uint64_t epoch, uint64_t since)
{
    uint16_t nparts = self->cfg->partitions;
    for (uint16_t q = 0; q < nparts; q++) {
        self->part[q].size = 0;
        self->part_n[q] = 0;
    }
    for (uint32_t i = 0; i < self->open_n; i++) {
        const s_slot_t *sl = &self->slots[i];
        for (uint16_t j = 0; j < sl->np; j++) {
            uint16_t q = self->slot_parts[sl->pstart + j];
            msgpack_packer pk;
            msgpack_packer_init(&pk, &self->part[q], msgpack_sbuffer_write);
            msgpack_pack_array(&pk, 2);
            msgpack_pack_uint32(&pk, i);
            msgpack_sbuffer_write(&self->part[q], self->open.data + sl->off, sl->len);
            self->part_n[q]++;
        }
    }
    for (uint16_t q = 0; q < nparts; q++)
        s_send_batch(self, q, epoch, since);
}

static void
s_on_chosen(void *arg, uint64_t epoch, uint64_t since, const uint8_t *body, size_t len)
{
    seq_batcher_t *self = arg;
    self->batches++;
    if (epoch == self->closing)
        s_deliver_open(self, epoch, since);
    else
        s_deliver(self, epoch, since, body, len, UINT32_MAX);
}

typedef struct {
    seq_batcher_t *self; /* core */
    uint16_t q;          /* scheduler asking */
} s_replay_t;

static void
s_on_replay_entry(void *arg, uint64_t epoch, uint64_t since, const uint8_t *body, size_t len)
{
    s_replay_t *rp = arg;
    s_deliver(rp->self, epoch, since, body, len, rp->q);
}

/* --------------------------------------------------------------- public */

seq_batcher_t *
seq_batcher_new(const hb_config_t *cfg, hb_node_t self_node, const char *log_dir,
                const hb_env_t *env)
{
    seq_batcher_t *self = hb_calloc(1, sizeof *self);
    self->cfg = cfg;
    self->self = self_node;
    self->env = env;
    msgpack_sbuffer_init(&self->open);
    hb_lockset_init(&self->ls);
    self->part = hb_calloc(cfg->partitions, sizeof *self->part);
    for (uint16_t q = 0; q < cfg->partitions; q++)
        msgpack_sbuffer_init(&self->part[q]);
    self->part_n = hb_calloc(cfg->partitions, sizeof *self->part_n);
    self->parts = hb_calloc(cfg->partitions, sizeof *self->parts);
    self->log = seq_log_open(log_dir, s_on_chosen, self);
    if (!self->log) {
        seq_batcher_destroy(&self);
        return NULL;
    }
    s_arm_tick(self);
    return self;
}

void
seq_batcher_destroy(seq_batcher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    seq_batcher_t *self = *self_p;
    seq_log_destroy(&self->log);
    msgpack_sbuffer_destroy(&self->open);
    hb_lockset_clear(&self->ls);
    if (self->part)
        for (uint16_t q = 0; q < self->cfg->partitions; q++)
            msgpack_sbuffer_destroy(&self->part[q]);
    hb_free(self->part);
    hb_free(self->part_n);
    hb_free(self->slots);
    hb_free(self->slot_parts);
    hb_free(self->parts);
    hb_free(self);
    *self_p = NULL;
}

uint64_t
seq_batcher_close(seq_batcher_t *self)
{
    uint64_t last = seq_log_last(self->log);
    uint64_t epoch = s_clock_epoch(self);
    if (epoch <= last)
        epoch = last + 1;
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, self->open_n);
    msgpack_sbuffer_write(&body, self->open.data, self->open.size);
    self->closing = epoch;
    hb_rc_t rc = seq_log_propose(self->log, epoch, last, (const uint8_t *)body.data, body.size);
    self->closing = 0;
    msgpack_sbuffer_destroy(&body);
    if (rc != HB_OK) {
        /* Keep the open batch: the next tick retries with a later epoch. */
        self->log_errors++;
        return 0;
    }
    self->open.size = 0;
    self->open_n = 0;
    self->slot_parts_n = 0;
    return epoch;
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
    if (rc == HB_OK && self->open_n >= self->cfg->limits.max_batch_txns) {
        rc = HB_BUSY;
        snprintf(err, sizeof err, "sequencer busy: batch full, retry");
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
    if (self->open_n == self->slots_cap) {
        self->slots_cap = self->slots_cap ? self->slots_cap * 2 : 256;
        self->slots = hb_realloc(self->slots, self->slots_cap * sizeof *self->slots);
    }
    if (self->slot_parts_n + self->ls.n > self->slot_parts_cap) {
        while (self->slot_parts_n + self->ls.n > self->slot_parts_cap)
            self->slot_parts_cap = self->slot_parts_cap ? self->slot_parts_cap * 2 : 1024;
        self->slot_parts =
            hb_realloc(self->slot_parts, self->slot_parts_cap * sizeof *self->slot_parts);
    }
    s_slot_t *sl = &self->slots[self->open_n];
    sl->off = self->open.size;
    sl->pstart = self->slot_parts_n;
    sl->np = 0;
    for (uint32_t i = 0; i < self->ls.n; i++) {
        uint16_t p = self->ls.locks[i].partition;
        int seen = 0;
        for (uint16_t j = 0; j < sl->np && !seen; j++)
            seen = self->slot_parts[sl->pstart + j] == p;
        if (!seen) {
            self->slot_parts[sl->pstart + sl->np++] = p;
            self->slot_parts_n++;
        }
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, &self->open, msgpack_sbuffer_write);
    hb_txn_pack(&pk, &txn);
    sl->len = self->open.size - sl->off;
    self->open_n++;
    self->accepted++;
}

static void
s_on_reply(seq_batcher_t *self, const hb_msg_t *msg)
{
    char text[1024];
    uint32_t n = msg->u.result.msg_len < sizeof text - 1 ? msg->u.result.msg_len
                                                         : (uint32_t)sizeof text - 1;
    memcpy(text, msg->u.result.msg, n);
    text[n] = '\0';
    self->replies++;
    s_send_result(self, msg->u.result.client_id, msg->u.result.req_id, msg->u.result.epoch,
                  (hb_rc_t)msg->u.result.rc, text, msg->u.result.nvals, msg->u.result.vals);
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
    if (token != SEQ_TIMER_TICK)
        return;
    seq_batcher_close(self);
    s_arm_tick(self);
}

void
seq_batcher_status(seq_batcher_t *self, hb_status_t *st)
{
    hb_status_int(st, "epoch", (int64_t)seq_log_last(self->log));
    hb_status_int(st, "batches", (int64_t)self->batches);
    hb_status_int(st, "accepted", (int64_t)self->accepted);
    hb_status_int(st, "rejected", (int64_t)self->rejected);
    hb_status_int(st, "replies", (int64_t)self->replies);
    hb_status_int(st, "replays", (int64_t)self->replays);
    hb_status_int(st, "dropped", (int64_t)self->dropped);
    hb_status_int(st, "log_errors", (int64_t)self->log_errors);
    uint64_t w = seq_log_writes(self->log);
    hb_status_int(st, "log_sync_avg_us", w ? (int64_t)(seq_log_sync_us(self->log) / w) : 0);
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
