/* paxos.c — the Multi-Paxos core of one sequencer group (see paxos.h).
 *
 * State per slot lives in a ring of SEQ_PAXOS_WINDOW entries indexed by
 * slot modulo the window, covering [chosen_end, chosen_end + WINDOW): what
 * this acceptor accepted, what this learner knows is chosen, and (at the
 * leader) the proposal with its ACCEPTED acks. Entries are cleared as their
 * slot is delivered. Messages to self go through a local queue that is
 * drained when the outermost entry point returns, so handlers never
 * re-enter each other.
 *
 * Frames (msgpack arrays, every field an integer unless noted):
 *   PREPARE  [1, group, ballot, from_slot]
 *   PROMISE  [2, group, ballot, from_slot, next_slot, more(bool), chosen_end,
 *             [[slot, ballot, chosen(bool), value(bin)], ...]]
 *   NACK     [3, group, ballot, promised]
 *   ACCEPT   [4, group, ballot, slot, value(bin), commit]
 *   ACCEPTED [5, group, ballot, slot]
 *   COMMIT   [6, group, ballot, commit]       (also the heartbeat)
 *   FETCH    [7, group, from_slot]
 *   CHOSEN   [8, group, from_slot, chosen_end, [[slot, value(bin)], ...]]
 * `commit` is the sender's chosen_end: every slot below it is chosen, and a
 * slot the receiver accepted with the sender's ballot holds the chosen
 * value (a ballot proposes at most one value per slot).
 */
#include "paxos.h"

#include <msgpack.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_log.h"
#include "hb_mp.h"

enum {
    S_PREPARE = 1,
    S_PROMISE = 2,
    S_NACK = 3,
    S_ACCEPT = 4,
    S_ACCEPTED = 5,
    S_COMMIT = 6,
    S_FETCH = 7,
    S_CHOSEN = 8,
};

typedef enum { S_FOLLOWER, S_CANDIDATE, S_LEADER } s_role_t;

/* Entries per PROMISE / CHOSEN page (also bounded by bytes). */
#define S_PAGE_ENTRIES 64

/* One slot of the window. */
typedef struct {
    uint64_t slot;       /* the slot held (valid when used) */
    bool used;           /* entry holds a slot */
    bool accepted;       /* this acceptor accepted a value */
    uint64_t acc_ballot; /* ... with this ballot */
    uint8_t *acc_val;    /* ... this value (owned; NULL for a no-op) */
    size_t acc_len;      /* ... of this length */
    bool decided;        /* the learner knows the chosen value */
    uint8_t *dec_val;    /* chosen value (owned) */
    size_t dec_len;      /* its length */
    bool proposed;       /* leader: ACCEPT sent with the current ballot */
    uint8_t *prop_val;   /* leader: proposed value (owned) */
    size_t prop_len;     /* its length */
    uint32_t acks;       /* leader: replicas that sent ACCEPTED */
    uint64_t sent_us;    /* leader: last (re)transmission */
} s_slot_t;

/* A value reported in phase 1, adopted for its slot. */
typedef struct {
    uint64_t slot;   /* slot */
    uint64_t ballot; /* ballot it was accepted with (UINT64_MAX: chosen) */
    uint8_t *val;    /* value (owned) */
    size_t len;      /* length */
} s_adopt_t;

/* A queued proposal or self-addressed frame. */
typedef struct s_item {
    struct s_item *next; /* FIFO link */
    uint8_t *data;       /* bytes (owned) */
    size_t len;          /* length */
} s_item_t;

typedef struct {
    s_item_t *head; /* first */
    s_item_t *tail; /* last */
    size_t n;       /* items */
} s_fifo_t;

struct seq_paxos {
    seq_paxos_cfg_t cfg;      /* configuration (copied, defaults filled) */
    seq_paxos_store_t *store; /* durable state (borrowed) */
    seq_paxos_io_t io;        /* environment (copied) */
    uint32_t majority;        /* R / 2 + 1 */
    s_role_t role;            /* follower, candidate or leader */
    int leader;               /* believed leader, -1 unknown */
    uint64_t promised;        /* highest ballot promised (durable) */
    uint64_t max_round;       /* highest round used as proposer (durable) */
    uint64_t seen;            /* highest ballot seen in any message */
    uint64_t ballot;          /* own ballot when candidate/leader */
    uint64_t chosen_end;      /* next slot to write as chosen */
    uint64_t delivered_end;   /* next slot to hand to io.chosen */
    s_fifo_t deliver_q;       /* chosen, written, waiting for a sync */
    uint64_t accepted_end;    /* one past the highest accepted slot */
    uint64_t commit_known;    /* highest commit index heard */
    uint64_t deadline_us;     /* follower: election at; candidate: retry at */
    uint64_t fetch_sent_us;   /* last FETCH sent */
    uint64_t fetch_from;      /* its from_slot */
    s_slot_t *ring;           /* SEQ_PAXOS_WINDOW slots */
    /* phase 1 */
    uint64_t p1_from;                         /* from_slot of this run */
    uint64_t p1_next[SEQ_PAXOS_MAX_REPLICAS]; /* next page asked of each */
    uint32_t p1_done;                         /* acceptors whose report is complete */
    s_adopt_t *adopt;                         /* adopted values, sorted by slot */
    size_t adopt_n;                           /* used */
    size_t adopt_cap;                         /* allocated */
    /* phase 2 */
    uint64_t next_slot;   /* leader: next slot to propose */
    uint64_t recover_end; /* leader: slots below are phase-1 recovery */
    s_fifo_t queue;       /* leader: proposals waiting for a slot */
    s_fifo_t self_q;      /* frames to self, drained at the top level */
    int depth;            /* entry-point nesting */
    seq_paxos_stats_t st; /* counters */
};

static const uint8_t s_empty[1] = {0};

/* ------------------------------------------------------------ helpers */

static uint64_t
s_now(seq_paxos_t *p)
{
    return p->io.now_us(p->io.ctx);
}

static uint64_t
s_jitter(seq_paxos_t *p)
{
    uint64_t t = p->cfg.election_timeout_us;
    return t + (t ? p->io.random(p->io.ctx) % t : 0);
}

static int
s_popcount(uint32_t x)
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

static uint8_t *
s_dup(const void *v, size_t len)
{
    return len ? hb_memdup(v, len) : NULL;
}

static void
s_fifo_push(s_fifo_t *f, const void *data, size_t len)
{
    s_item_t *it = hb_calloc(1, sizeof *it);
    it->data = s_dup(data, len);
    it->len = len;
    if (f->tail)
        f->tail->next = it;
    else
        f->head = it;
    f->tail = it;
    f->n++;
}

/* Returns the first item (caller owns it and its data) or NULL. */
static s_item_t *
s_fifo_pop(s_fifo_t *f)
{
    s_item_t *it = f->head;
    if (!it)
        return NULL;
    f->head = it->next;
    if (!f->head)
        f->tail = NULL;
    f->n--;
    return it;
}

static void
s_item_free(s_item_t *it)
{
    if (!it)
        return;
    hb_free(it->data);
    hb_free(it);
}

static void
s_fifo_clear(s_fifo_t *f)
{
    s_item_t *it;
    while ((it = s_fifo_pop(f)) != NULL)
        s_item_free(it);
}

static void
s_slot_clear(s_slot_t *e)
{
    hb_free(e->acc_val);
    hb_free(e->dec_val);
    hb_free(e->prop_val);
    memset(e, 0, sizeof *e);
}

/* Returns the entry of slot if it is held, else NULL. */
static s_slot_t *
s_find(seq_paxos_t *p, uint64_t slot)
{
    if (slot < p->chosen_end || slot - p->chosen_end >= SEQ_PAXOS_WINDOW)
        return NULL;
    s_slot_t *e = &p->ring[slot % SEQ_PAXOS_WINDOW];
    return e->used && e->slot == slot ? e : NULL;
}

/* Returns the entry of slot, creating it; NULL outside the window. */
static s_slot_t *
s_get(seq_paxos_t *p, uint64_t slot)
{
    if (slot < p->chosen_end || slot - p->chosen_end >= SEQ_PAXOS_WINDOW)
        return NULL;
    s_slot_t *e = &p->ring[slot % SEQ_PAXOS_WINDOW];
    if (!e->used || e->slot != slot) {
        s_slot_clear(e);
        e->used = true;
        e->slot = slot;
    }
    return e;
}

static void
s_set_leader(seq_paxos_t *p, int leader)
{
    if (leader != p->leader) {
        p->leader = leader;
        if (leader >= 0)
            p->st.leader_changes++;
    }
}

static void
s_adopt_clear(seq_paxos_t *p)
{
    for (size_t i = 0; i < p->adopt_n; i++)
        hb_free(p->adopt[i].val);
    p->adopt_n = 0;
}

/* Returns the index of the first adopted entry with slot >= slot. */
static size_t
s_adopt_lower(const seq_paxos_t *p, uint64_t slot)
{
    size_t lo = 0, hi = p->adopt_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->adopt[mid].slot < slot)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void
s_adopt_put(seq_paxos_t *p, uint64_t slot, uint64_t ballot, const void *v, size_t len)
{
    size_t i = s_adopt_lower(p, slot);
    if (i < p->adopt_n && p->adopt[i].slot == slot) {
        if (ballot <= p->adopt[i].ballot)
            return;
        hb_free(p->adopt[i].val);
        p->adopt[i].ballot = ballot;
        p->adopt[i].val = s_dup(v, len);
        p->adopt[i].len = len;
        return;
    }
    HB_GROW(p->adopt, p->adopt_cap, p->adopt_n + 1, 64);
    memmove(&p->adopt[i + 1], &p->adopt[i], (p->adopt_n - i) * sizeof *p->adopt);
    p->adopt[i] = (s_adopt_t){slot, ballot, s_dup(v, len), len};
    p->adopt_n++;
}

static hb_rc_t
s_store_rc(seq_paxos_t *p, hb_rc_t rc, const char *what)
{
    if (rc != HB_OK && rc != HB_NOTFOUND) {
        p->st.store_errors++;
        hb_error("paxos g%u: store %s failed: %s", p->cfg.group, what, hb_rc_str(rc));
    }
    return rc;
}

/* Persists (promised, round), syncs, and only then adopts them in memory,
 * so nothing is ever answered from a promise that is not durable. */
static hb_rc_t
s_save_meta(seq_paxos_t *p, uint64_t promised, uint64_t round)
{
    hb_rc_t rc =
        s_store_rc(p, p->store->put_meta(p->store->ctx, promised, round), "put_meta");
    if (rc == HB_OK)
        rc = s_store_rc(p, p->store->sync(p->store->ctx), "sync");
    if (rc == HB_OK) {
        p->promised = promised;
        p->max_round = round;
    }
    return rc;
}

/* ------------------------------------------------------------ sending */

typedef struct {
    msgpack_sbuffer sb; /* bytes */
    msgpack_packer pk;  /* packer over sb */
} s_out_t;

static void
s_out_begin(seq_paxos_t *p, s_out_t *o, uint32_t n, int type)
{
    msgpack_sbuffer_init(&o->sb);
    msgpack_packer_init(&o->pk, &o->sb, msgpack_sbuffer_write);
    msgpack_pack_array(&o->pk, n);
    msgpack_pack_int(&o->pk, type);
    msgpack_pack_uint32(&o->pk, p->cfg.group);
}

static void
s_send_raw(seq_paxos_t *p, uint32_t to, const void *data, size_t len)
{
    if (to == p->cfg.self)
        s_fifo_push(&p->self_q, data, len);
    else
        p->io.send(p->io.ctx, to, data, len);
}

/* Sends o to `to` and frees it. */
static void
s_out_send(seq_paxos_t *p, s_out_t *o, uint32_t to)
{
    s_send_raw(p, to, o->sb.data, o->sb.size);
    msgpack_sbuffer_destroy(&o->sb);
}

/* Sends o to every replica (self too when with_self) and frees it. */
static void
s_out_broadcast(seq_paxos_t *p, s_out_t *o, bool with_self)
{
    for (uint32_t r = 0; r < p->cfg.replicas; r++)
        if (with_self || r != p->cfg.self)
            s_send_raw(p, r, o->sb.data, o->sb.size);
    msgpack_sbuffer_destroy(&o->sb);
}

static void
s_send_prepare(seq_paxos_t *p, uint32_t to, uint64_t from)
{
    s_out_t o;
    s_out_begin(p, &o, 4, S_PREPARE);
    msgpack_pack_uint64(&o.pk, p->ballot);
    msgpack_pack_uint64(&o.pk, from);
    s_out_send(p, &o, to);
}

static void
s_send_nack(seq_paxos_t *p, uint32_t to, uint64_t ballot)
{
    s_out_t o;
    s_out_begin(p, &o, 4, S_NACK);
    msgpack_pack_uint64(&o.pk, ballot);
    msgpack_pack_uint64(&o.pk, p->promised);
    s_out_send(p, &o, to);
}

static void
s_pack_accept(seq_paxos_t *p, s_out_t *o, const s_slot_t *e)
{
    s_out_begin(p, o, 6, S_ACCEPT);
    msgpack_pack_uint64(&o->pk, p->ballot);
    msgpack_pack_uint64(&o->pk, e->slot);
    hb_mp_pack_bin(&o->pk, e->prop_len ? e->prop_val : s_empty, e->prop_len);
    msgpack_pack_uint64(&o->pk, p->chosen_end);
}

static void
s_send_accepted(seq_paxos_t *p, uint32_t to, uint64_t ballot, uint64_t slot)
{
    s_out_t o;
    s_out_begin(p, &o, 4, S_ACCEPTED);
    msgpack_pack_uint64(&o.pk, ballot);
    msgpack_pack_uint64(&o.pk, slot);
    s_out_send(p, &o, to);
}

static void
s_broadcast_commit(seq_paxos_t *p)
{
    s_out_t o;
    s_out_begin(p, &o, 4, S_COMMIT);
    msgpack_pack_uint64(&o.pk, p->ballot);
    msgpack_pack_uint64(&o.pk, p->chosen_end);
    s_out_broadcast(p, &o, false);
}

static void
s_send_fetch(seq_paxos_t *p, uint32_t to)
{
    if (to == p->cfg.self || to >= p->cfg.replicas)
        return;
    uint64_t now = s_now(p);
    if (p->fetch_from == p->chosen_end && p->fetch_sent_us &&
        now - p->fetch_sent_us < p->cfg.heartbeat_us)
        return;
    p->fetch_from = p->chosen_end;
    p->fetch_sent_us = now;
    p->st.fetches++;
    s_out_t o;
    s_out_begin(p, &o, 3, S_FETCH);
    msgpack_pack_uint64(&o.pk, p->chosen_end);
    s_out_send(p, &o, to);
}

/* Bytes of page payload allowed in one PROMISE/CHOSEN. */
static size_t
s_page_bytes(const seq_paxos_t *p)
{
    return p->cfg.max_frame_bytes / 2;
}

/* ------------------------------------------------------------ learning */

static void
s_decide(s_slot_t *e, const void *v, size_t len)
{
    if (!e || e->decided)
        return;
    e->decided = true;
    e->dec_val = s_dup(v, len);
    e->dec_len = len;
}

static void s_pump(seq_paxos_t *p);

/* Hands the learner every slot written by s_advance once a sync made them
 * durable; on a failed sync they wait for the next tick. */
static void
s_flush(seq_paxos_t *p)
{
    if (p->deliver_q.n == 0)
        return;
    if (s_store_rc(p, p->store->sync(p->store->ctx), "sync") != HB_OK)
        return;
    s_item_t *it;
    while ((it = s_fifo_pop(&p->deliver_q)) != NULL) {
        uint64_t slot = p->delivered_end++;
        p->st.chosen++;
        if (it->len == 0)
            p->st.noops++;
        p->st.last_chosen = slot;
        p->io.chosen(p->io.ctx, slot, it->len ? it->data : s_empty, it->len);
        s_item_free(it);
    }
}

/* Writes every decided slot at chosen_end onwards to the store (dense, in
 * order), then delivers them after one sync. */
static void
s_advance(seq_paxos_t *p)
{
    uint64_t first = p->chosen_end;
    for (;;) {
        s_slot_t *e = s_find(p, p->chosen_end);
        if (!e || !e->decided)
            break;
        hb_rc_t rc = s_store_rc(p,
                                p->store->put_chosen(p->store->ctx, e->slot,
                                                     e->dec_len ? e->dec_val : s_empty,
                                                     e->dec_len),
                                "put_chosen");
        if (rc != HB_OK)
            break;
        /* Move the value into the delivery queue without copying. */
        s_item_t *it = hb_calloc(1, sizeof *it);
        it->data = e->dec_val;
        it->len = e->dec_len;
        e->dec_val = NULL;
        if (p->deliver_q.tail)
            p->deliver_q.tail->next = it;
        else
            p->deliver_q.head = it;
        p->deliver_q.tail = it;
        p->deliver_q.n++;
        s_slot_clear(e);
        p->chosen_end++;
    }
    if (p->chosen_end == first)
        return;
    if (p->commit_known < p->chosen_end)
        p->commit_known = p->chosen_end;
    s_flush(p);
    if (p->role == S_LEADER) {
        s_broadcast_commit(p);
        s_pump(p);
    }
}

/* Learns from a commit index sent with ballot: slots below commit that we
 * accepted with that ballot hold the chosen value. Fetches the rest. */
static void
s_learn(seq_paxos_t *p, uint64_t ballot, uint64_t commit, uint32_t from)
{
    if (commit > p->commit_known)
        p->commit_known = commit;
    uint64_t end = commit < p->accepted_end ? commit : p->accepted_end;
    for (uint64_t s = p->chosen_end; s < end && s - p->chosen_end < SEQ_PAXOS_WINDOW;
         s++) {
        s_slot_t *e = s_find(p, s);
        if (!e)
            continue;
        if (e->accepted && e->acc_ballot == ballot && !e->decided)
            s_decide(e, e->acc_val, e->acc_len);
    }
    s_advance(p);
    if (p->chosen_end < commit)
        s_send_fetch(p, from);
}

/* ------------------------------------------------------------ proposer */

static void
s_step_down(seq_paxos_t *p, int leader)
{
    if (p->role != S_FOLLOWER) {
        p->st.dropped += p->queue.n;
        s_fifo_clear(&p->queue);
        for (size_t i = 0; i < SEQ_PAXOS_WINDOW; i++) {
            s_slot_t *e = &p->ring[i];
            hb_free(e->prop_val);
            e->prop_val = NULL;
            e->prop_len = 0;
            e->proposed = false;
            e->acks = 0;
        }
        s_adopt_clear(p);
        p->role = S_FOLLOWER;
        p->ballot = 0;
    }
    s_set_leader(p, leader);
    p->deadline_us = s_now(p) + s_jitter(p);
}

static void
s_start_election(seq_paxos_t *p)
{
    uint64_t round = p->max_round;
    if (SEQ_PAXOS_BALLOT_ROUND(p->promised) > round)
        round = SEQ_PAXOS_BALLOT_ROUND(p->promised);
    if (SEQ_PAXOS_BALLOT_ROUND(p->seen) > round)
        round = SEQ_PAXOS_BALLOT_ROUND(p->seen);
    round++;
    s_step_down(p, -1);
    if (s_save_meta(p, SEQ_PAXOS_BALLOT(round, p->cfg.self), round) != HB_OK)
        return; /* stay follower; retry on the next timeout */
    p->role = S_CANDIDATE;
    p->ballot = p->promised;
    p->st.elections++;
    p->p1_from = p->chosen_end;
    p->p1_done = 0;
    for (uint32_t r = 0; r < p->cfg.replicas; r++) {
        p->p1_next[r] = p->p1_from;
        s_send_prepare(p, r, p->p1_from);
    }
    hb_debug("paxos g%u r%u: election ballot %llu from slot %llu", p->cfg.group,
             p->cfg.self, (unsigned long long)p->ballot, (unsigned long long)p->p1_from);
}

/* Issues ACCEPTs while the pipeline has room. */
static void
s_pump(seq_paxos_t *p)
{
    /* Slots learned from peers (fetch, phase-1 reports) need no proposal. */
    if (p->next_slot < p->chosen_end)
        p->next_slot = p->chosen_end;
    while (p->role == S_LEADER && p->next_slot < p->chosen_end + p->cfg.pipeline) {
        s_slot_t *e = s_get(p, p->next_slot);
        if (!e)
            break;
        const uint8_t *v = NULL;
        size_t len = 0;
        s_item_t *it = NULL;
        if (e->decided) {
            v = e->dec_val;
            len = e->dec_len;
        } else if (p->next_slot < p->recover_end) {
            size_t i = s_adopt_lower(p, p->next_slot);
            if (i < p->adopt_n && p->adopt[i].slot == p->next_slot) {
                v = p->adopt[i].val;
                len = p->adopt[i].len;
            } /* else: a hole, filled with a no-op */
        } else if ((it = s_fifo_pop(&p->queue)) != NULL) {
            v = it->data;
            len = it->len;
        } else {
            break;
        }
        hb_free(e->prop_val);
        e->prop_val = s_dup(v, len);
        e->prop_len = len;
        e->proposed = true;
        e->acks = 0;
        e->sent_us = s_now(p);
        s_item_free(it);
        s_out_t o;
        s_pack_accept(p, &o, e);
        s_out_broadcast(p, &o, true);
        p->next_slot++;
    }
    if (p->role == S_LEADER && p->adopt_n && p->next_slot >= p->recover_end)
        s_adopt_clear(p);
}

static void
s_become_leader(seq_paxos_t *p)
{
    p->role = S_LEADER;
    p->st.became_leader++;
    s_set_leader(p, (int)p->cfg.self);
    p->next_slot = p->chosen_end;
    p->recover_end = p->chosen_end;
    if (p->adopt_n && p->adopt[p->adopt_n - 1].slot + 1 > p->recover_end)
        p->recover_end = p->adopt[p->adopt_n - 1].slot + 1;
    hb_info("paxos g%u r%u: leader with ballot %llu, recovering slots %llu..%llu",
            p->cfg.group, p->cfg.self, (unsigned long long)p->ballot,
            (unsigned long long)p->chosen_end, (unsigned long long)p->recover_end);
    s_broadcast_commit(p);
    s_pump(p);
}

/* ------------------------------------------------------------ decoding */

typedef struct {
    int type;        /* S_* */
    uint64_t ballot; /* PREPARE PROMISE NACK ACCEPT ACCEPTED COMMIT */
    uint64_t slot;   /* from_slot or slot */
    uint64_t a;      /* PROMISE next; NACK promised; ACCEPT/COMMIT commit; CHOSEN end */
    uint64_t b;      /* PROMISE chosen_end */
    bool more;       /* PROMISE */
    const uint8_t *val;     /* ACCEPT value (borrowed) */
    uint32_t len;           /* its length */
    hb_mp_reader_t entries; /* PROMISE/CHOSEN: reader positioned after the count */
    uint32_t n;             /* number of entries */
} s_msg_t;

/* Reads one page entry; returns the reader's error. */
static hb_rc_t
s_read_entry(hb_mp_reader_t *r, bool promise, uint64_t *slot, uint64_t *ballot,
             bool *chosen, const uint8_t **v, uint32_t *len)
{
    uint32_t n = 0;
    hb_mp_read_array(r, &n);
    if (r->err == HB_OK && n != (promise ? 4u : 2u))
        return HB_PROTO;
    hb_mp_read_uint(r, slot);
    if (promise) {
        hb_mp_read_uint(r, ballot);
        hb_mp_read_bool(r, chosen);
    }
    hb_mp_read_bin(r, v, len);
    return r->err;
}

static hb_rc_t
s_decode(const seq_paxos_t *p, const void *frame, size_t len, s_msg_t *m)
{
    hb_mp_reader_t r;
    uint32_t n = 0;
    uint64_t type = 0, group = 0;
    memset(m, 0, sizeof *m);
    hb_mp_reader_init(&r, frame, len);
    hb_mp_read_array(&r, &n);
    hb_mp_read_uint(&r, &type);
    hb_mp_read_uint(&r, &group);
    if (r.err != HB_OK || n < 3 || group != p->cfg.group)
        return HB_PROTO;
    m->type = (int)type;
    static const uint32_t fields[] = {0, 4, 8, 4, 6, 4, 4, 3, 5};
    if (type < 1 || type > 8 || n != fields[type])
        return HB_PROTO;
    switch (m->type) {
    case S_PREPARE:
    case S_ACCEPTED:
        hb_mp_read_uint(&r, &m->ballot);
        hb_mp_read_uint(&r, &m->slot);
        break;
    case S_NACK:
    case S_COMMIT:
        hb_mp_read_uint(&r, &m->ballot);
        hb_mp_read_uint(&r, &m->a);
        break;
    case S_ACCEPT:
        hb_mp_read_uint(&r, &m->ballot);
        hb_mp_read_uint(&r, &m->slot);
        hb_mp_read_bin(&r, &m->val, &m->len);
        hb_mp_read_uint(&r, &m->a);
        if (r.err == HB_OK && m->len > p->cfg.max_value_bytes)
            return HB_TOOBIG;
        break;
    case S_FETCH:
        hb_mp_read_uint(&r, &m->slot);
        break;
    case S_PROMISE:
    case S_CHOSEN:
        if (m->type == S_PROMISE) {
            hb_mp_read_uint(&r, &m->ballot);
            hb_mp_read_uint(&r, &m->slot);
            hb_mp_read_uint(&r, &m->a);
            hb_mp_read_bool(&r, &m->more);
            hb_mp_read_uint(&r, &m->b);
        } else {
            hb_mp_read_uint(&r, &m->slot);
            hb_mp_read_uint(&r, &m->a);
        }
        hb_mp_read_array(&r, &m->n);
        if (r.err != HB_OK)
            return r.err;
        m->entries = r;
        /* Validate every entry now so handlers can apply them blindly. */
        uint64_t prev = 0;
        for (uint32_t i = 0; i < m->n; i++) {
            uint64_t slot = 0, ballot = 0;
            bool chosen = false;
            const uint8_t *v = NULL;
            uint32_t vlen = 0;
            if (s_read_entry(&r, m->type == S_PROMISE, &slot, &ballot, &chosen, &v,
                             &vlen) != HB_OK)
                return HB_PROTO;
            if (vlen > p->cfg.max_value_bytes || (i > 0 && slot <= prev) ||
                slot < m->slot)
                return HB_PROTO;
            prev = slot;
        }
        if (m->type == S_PROMISE && m->more &&
            (m->a <= m->slot || (m->n && m->a <= prev)))
            return HB_PROTO;
        break;
    default:
        return HB_PROTO;
    }
    if (r.err != HB_OK || hb_mp_remaining(&r) != 0)
        return HB_PROTO;
    return HB_OK;
}

/* ------------------------------------------------------------ handlers */

/* A message carrying a ballot >= promised from a leader or candidate:
 * steps down when it outranks our own. */
static void
s_note_ballot(seq_paxos_t *p, uint64_t ballot)
{
    if (ballot > p->seen)
        p->seen = ballot;
    if (p->role != S_FOLLOWER && ballot > p->ballot)
        s_step_down(p, -1);
}

static void
s_send_promise(seq_paxos_t *p, uint32_t to, uint64_t from)
{
    msgpack_sbuffer page;
    msgpack_packer pk;
    msgpack_sbuffer_init(&page);
    msgpack_packer_init(&pk, &page, msgpack_sbuffer_write);
    uint64_t hi = p->accepted_end > p->chosen_end ? p->accepted_end : p->chosen_end;
    uint32_t count = 0;
    uint64_t s = from;
    for (;
         s < hi && count < S_PAGE_ENTRIES && (count == 0 || page.size < s_page_bytes(p));
         s++) {
        const void *v = NULL;
        size_t len = 0;
        uint64_t ballot = 0;
        bool chosen;
        if (s < p->chosen_end) {
            if (p->store->get_chosen(p->store->ctx, s, &v, &len) != HB_OK)
                continue; /* truncated: chosen and applied everywhere */
            chosen = true;
        } else {
            s_slot_t *e = s_find(p, s);
            if (e && e->decided) {
                v = e->dec_val;
                len = e->dec_len;
                chosen = true;
            } else if (e && e->accepted) {
                v = e->acc_val;
                len = e->acc_len;
                ballot = e->acc_ballot;
                chosen = false;
            } else {
                continue;
            }
        }
        msgpack_pack_array(&pk, 4);
        msgpack_pack_uint64(&pk, s);
        msgpack_pack_uint64(&pk, ballot);
        hb_mp_pack_bool(&pk, chosen);
        hb_mp_pack_bin(&pk, len ? v : s_empty, len);
        count++;
    }
    bool more = s < hi;
    s_out_t o;
    s_out_begin(p, &o, 8, S_PROMISE);
    msgpack_pack_uint64(&o.pk, p->promised);
    msgpack_pack_uint64(&o.pk, from);
    msgpack_pack_uint64(&o.pk, s);
    hb_mp_pack_bool(&o.pk, more);
    msgpack_pack_uint64(&o.pk, p->chosen_end);
    msgpack_pack_array(&o.pk, count);
    msgpack_sbuffer_write(&o.sb, page.data, page.size);
    msgpack_sbuffer_destroy(&page);
    s_out_send(p, &o, to);
}

static void
s_on_prepare(seq_paxos_t *p, uint32_t from, const s_msg_t *m)
{
    s_note_ballot(p, m->ballot);
    if (m->ballot < p->promised) {
        s_send_nack(p, from, m->ballot);
        return;
    }
    if (m->ballot > p->promised) {
        if (s_save_meta(p, m->ballot, p->max_round) != HB_OK)
            return;
        /* A candidate is running: give it time before running ourselves. */
        s_set_leader(p, -1);
        p->deadline_us = s_now(p) + s_jitter(p);
    }
    s_send_promise(p, from, m->slot);
}

static void
s_on_promise(seq_paxos_t *p, uint32_t from, s_msg_t *m)
{
    if (m->ballot > p->seen)
        p->seen = m->ballot;
    if (p->role != S_CANDIDATE || m->ballot != p->ballot)
        return;
    uint32_t bit = 1u << from;
    if ((p->p1_done & bit) || m->slot != p->p1_next[from])
        return; /* duplicate or stale page */
    hb_mp_reader_t r = m->entries;
    for (uint32_t i = 0; i < m->n; i++) {
        uint64_t slot = 0, ballot = 0;
        bool chosen = false;
        const uint8_t *v = NULL;
        uint32_t len = 0;
        s_read_entry(&r, true, &slot, &ballot, &chosen, &v, &len);
        if (slot < p->p1_from)
            continue;
        if (chosen) {
            s_decide(s_get(p, slot), v, len);
            ballot = UINT64_MAX;
        }
        s_adopt_put(p, slot, ballot, v, len);
    }
    if (m->b > p->commit_known)
        p->commit_known = m->b;
    if (m->more) {
        p->p1_next[from] = m->a;
        s_send_prepare(p, from, m->a);
    } else {
        p->p1_done |= bit;
        if (s_popcount(p->p1_done) >= (int)p->majority)
            s_become_leader(p);
    }
    s_advance(p);
}

static void
s_on_nack(seq_paxos_t *p, const s_msg_t *m)
{
    if (m->a > p->seen)
        p->seen = m->a;
    if (p->role != S_FOLLOWER && m->ballot == p->ballot && m->a > p->ballot) {
        p->st.nacks++;
        hb_debug("paxos g%u r%u: nack for %llu (promised %llu)", p->cfg.group,
                 p->cfg.self, (unsigned long long)m->ballot, (unsigned long long)m->a);
        s_step_down(p, -1);
    }
}

/* Follows the sender of a current-ballot ACCEPT/COMMIT as leader. */
static void
s_follow(seq_paxos_t *p, uint64_t ballot)
{
    s_note_ballot(p, ballot);
    if (p->role == S_FOLLOWER) {
        s_set_leader(p, (int)SEQ_PAXOS_BALLOT_REPLICA(ballot));
        p->deadline_us = s_now(p) + s_jitter(p);
    }
}

static void
s_on_accept(seq_paxos_t *p, uint32_t from, const s_msg_t *m)
{
    if (m->ballot < p->promised) {
        s_send_nack(p, from, m->ballot);
        return;
    }
    if (SEQ_PAXOS_BALLOT_REPLICA(m->ballot) != from)
        return; /* only the ballot's owner proposes with it */
    s_follow(p, m->ballot);
    if (m->slot < p->chosen_end) {
        /* Chosen already; any proposal for it carries the chosen value. */
        s_send_accepted(p, from, m->ballot, m->slot);
    } else if (m->slot - p->chosen_end < SEQ_PAXOS_WINDOW) {
        s_slot_t *e = s_get(p, m->slot);
        if (!(e->accepted && e->acc_ballot == m->ballot)) {
            hb_rc_t rc = HB_OK;
            if (m->ballot > p->promised)
                rc = s_store_rc(
                    p, p->store->put_meta(p->store->ctx, m->ballot, p->max_round),
                    "put_meta");
            if (rc == HB_OK)
                rc = s_store_rc(p,
                                p->store->put_accepted(p->store->ctx, m->slot, m->ballot,
                                                       m->len ? m->val : s_empty, m->len),
                                "put_accepted");
            /* Alone in its group, the leader's own acceptance is seen by
             * nobody before the slot is chosen, and the sync that makes the
             * chosen entry durable (s_flush, before the learner callback)
             * takes this write with it: one sync per batch, not two. */
            bool alone = p->cfg.replicas == 1 && from == p->cfg.self;
            if (rc == HB_OK && !alone)
                rc = s_store_rc(p, p->store->sync(p->store->ctx), "sync");
            if (rc != HB_OK)
                return;
            if (m->ballot > p->promised)
                p->promised = m->ballot;
            hb_free(e->acc_val);
            e->accepted = true;
            e->acc_ballot = m->ballot;
            e->acc_val = s_dup(m->val, m->len);
            e->acc_len = m->len;
            if (m->slot + 1 > p->accepted_end)
                p->accepted_end = m->slot + 1;
        }
        s_send_accepted(p, from, m->ballot, m->slot);
    }
    s_learn(p, m->ballot, m->a, from);
}

static void
s_on_accepted(seq_paxos_t *p, uint32_t from, const s_msg_t *m)
{
    if (p->role != S_LEADER || m->ballot != p->ballot)
        return;
    s_slot_t *e = s_find(p, m->slot);
    if (!e || !e->proposed || e->decided)
        return;
    e->acks |= 1u << from;
    if (s_popcount(e->acks) >= (int)p->majority) {
        s_decide(e, e->prop_val, e->prop_len);
        s_advance(p);
    }
}

static void
s_on_commit(seq_paxos_t *p, uint32_t from, const s_msg_t *m)
{
    if (m->ballot < p->promised)
        s_send_nack(p, from, m->ballot); /* a deposed leader: tell it */
    else if (SEQ_PAXOS_BALLOT_REPLICA(m->ballot) == from)
        s_follow(p, m->ballot);
    s_learn(p, m->ballot, m->a, from);
}

static void
s_on_fetch(seq_paxos_t *p, uint32_t from, const s_msg_t *m)
{
    msgpack_sbuffer page;
    msgpack_packer pk;
    msgpack_sbuffer_init(&page);
    msgpack_packer_init(&pk, &page, msgpack_sbuffer_write);
    uint32_t count = 0;
    for (uint64_t s = m->slot; s < p->chosen_end && count < S_PAGE_ENTRIES &&
                               (count == 0 || page.size < s_page_bytes(p));
         s++) {
        const void *v = NULL;
        size_t len = 0;
        if (p->store->get_chosen(p->store->ctx, s, &v, &len) != HB_OK)
            continue;
        msgpack_pack_array(&pk, 2);
        msgpack_pack_uint64(&pk, s);
        hb_mp_pack_bin(&pk, len ? v : s_empty, len);
        count++;
    }
    s_out_t o;
    s_out_begin(p, &o, 5, S_CHOSEN);
    msgpack_pack_uint64(&o.pk, m->slot);
    msgpack_pack_uint64(&o.pk, p->chosen_end);
    msgpack_pack_array(&o.pk, count);
    msgpack_sbuffer_write(&o.sb, page.data, page.size);
    msgpack_sbuffer_destroy(&page);
    s_out_send(p, &o, from);
}

static void
s_on_chosen(seq_paxos_t *p, uint32_t from, const s_msg_t *m)
{
    hb_mp_reader_t r = m->entries;
    uint64_t before = p->chosen_end;
    for (uint32_t i = 0; i < m->n; i++) {
        uint64_t slot = 0, ballot = 0;
        bool chosen = false;
        const uint8_t *v = NULL;
        uint32_t len = 0;
        s_read_entry(&r, false, &slot, &ballot, &chosen, &v, &len);
        s_slot_t *e = s_get(p, slot);
        if (e && !e->decided) {
            s_decide(e, v, len);
            p->st.fetched++;
        }
    }
    if (m->a > p->commit_known)
        p->commit_known = m->a;
    s_advance(p);
    if (p->chosen_end > before && p->chosen_end < p->commit_known) {
        p->fetch_sent_us = 0; /* progress: ask for the next page now */
        s_send_fetch(p, from);
    }
}

static void
s_handle(seq_paxos_t *p, uint32_t from, const void *frame, size_t len)
{
    s_msg_t m;
    hb_rc_t rc = from < p->cfg.replicas ? s_decode(p, frame, len, &m) : HB_PROTO;
    if (rc == HB_OK &&
        (m.type == S_PREPARE || m.type == S_ACCEPT || m.type == S_COMMIT ||
         m.type == S_PROMISE) &&
        m.ballot == 0)
        rc = HB_PROTO;
    if (rc != HB_OK) {
        p->st.bad_frames++;
        hb_warn("paxos g%u r%u: bad frame (%zu bytes) from replica %u: %s", p->cfg.group,
                p->cfg.self, len, from, hb_rc_str(rc));
        return;
    }
    switch (m.type) {
    case S_PREPARE:
        s_on_prepare(p, from, &m);
        break;
    case S_PROMISE:
        s_on_promise(p, from, &m);
        break;
    case S_NACK:
        s_on_nack(p, &m);
        break;
    case S_ACCEPT:
        s_on_accept(p, from, &m);
        break;
    case S_ACCEPTED:
        s_on_accepted(p, from, &m);
        break;
    case S_COMMIT:
        s_on_commit(p, from, &m);
        break;
    case S_FETCH:
        s_on_fetch(p, from, &m);
        break;
    case S_CHOSEN:
        s_on_chosen(p, from, &m);
        break;
    default:
        break;
    }
}

/* Called on leaving an entry point: at the outermost level, processes
 * frames sent to self and hands durable chosen slots to the learner (a sync
 * of this event may have made them durable; deliver before a crash could
 * separate the two). Learner callbacks may propose, queueing more frames
 * to self, hence the loop. */
static void
s_leave(seq_paxos_t *p)
{
    if (p->depth == 1) {
        for (;;) {
            s_item_t *it;
            while ((it = s_fifo_pop(&p->self_q)) != NULL) {
                s_handle(p, p->cfg.self, it->data, it->len);
                s_item_free(it);
            }
            s_flush(p);
            if (p->self_q.n == 0)
                break;
        }
    }
    p->depth--;
}

/* ------------------------------------------------------------ public */

seq_paxos_t *
seq_paxos_new(const seq_paxos_cfg_t *cfg, seq_paxos_store_t *store,
              const seq_paxos_io_t *io)
{
    if (!cfg || !store || !io || cfg->replicas == 0 ||
        cfg->replicas > SEQ_PAXOS_MAX_REPLICAS || cfg->self >= cfg->replicas ||
        cfg->heartbeat_us == 0 || cfg->election_timeout_us < cfg->heartbeat_us ||
        !io->send || !io->now_us || !io->timer || !io->random || !io->chosen) {
        hb_error("paxos: bad configuration");
        return NULL;
    }
    seq_paxos_t *p = hb_calloc(1, sizeof *p);
    p->cfg = *cfg;
    if (p->cfg.pipeline == 0)
        p->cfg.pipeline = 128;
    if (p->cfg.pipeline > SEQ_PAXOS_WINDOW / 2)
        p->cfg.pipeline = SEQ_PAXOS_WINDOW / 2;
    if (p->cfg.max_value_bytes == 0)
        p->cfg.max_value_bytes = (16u << 20) - (64u << 10);
    if (p->cfg.max_frame_bytes == 0)
        p->cfg.max_frame_bytes = 16u << 20;
    p->store = store;
    p->io = *io;
    p->majority = cfg->replicas / 2 + 1;
    p->leader = -1;
    p->ring = hb_calloc(SEQ_PAXOS_WINDOW, sizeof *p->ring);
    hb_rc_t rc = s_store_rc(p, store->get_meta(store->ctx, &p->promised, &p->max_round),
                            "get_meta");
    if (rc == HB_OK)
        rc = s_store_rc(p, store->bounds(store->ctx, &p->chosen_end, &p->accepted_end),
                        "bounds");
    if (rc != HB_OK)
        goto fail;
    for (uint64_t s = p->chosen_end;
         s < p->accepted_end && s - p->chosen_end < SEQ_PAXOS_WINDOW; s++) {
        uint64_t ballot = 0;
        const void *v = NULL;
        size_t len = 0;
        rc = s_store_rc(p, store->get_accepted(store->ctx, s, &ballot, &v, &len),
                        "get_accepted");
        if (rc == HB_NOTFOUND)
            continue;
        if (rc != HB_OK)
            goto fail;
        s_slot_t *e = s_get(p, s);
        e->accepted = true;
        e->acc_ballot = ballot;
        e->acc_val = s_dup(v, len);
        e->acc_len = len;
    }
    p->commit_known = p->chosen_end;
    p->delivered_end = p->chosen_end;
    p->seen = p->promised;
    p->deadline_us = s_now(p) + s_jitter(p);
    p->io.timer(p->io.ctx, p->cfg.heartbeat_us, SEQ_PAXOS_TIMER_TICK);
    if (p->cfg.replicas == 1) {
        /* Alone, this replica is the majority: lead at once. */
        p->depth++;
        s_start_election(p);
        s_leave(p);
    }
    return p;
fail:
    hb_error("paxos g%u r%u: cannot load state", cfg->group, cfg->self);
    seq_paxos_destroy(&p);
    return NULL;
}

void
seq_paxos_destroy(seq_paxos_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    seq_paxos_t *p = *self_p;
    for (size_t i = 0; i < SEQ_PAXOS_WINDOW; i++)
        s_slot_clear(&p->ring[i]);
    hb_free(p->ring);
    s_adopt_clear(p);
    hb_free(p->adopt);
    s_fifo_clear(&p->queue);
    s_fifo_clear(&p->self_q);
    s_fifo_clear(&p->deliver_q);
    hb_free(p);
    *self_p = NULL;
}

hb_rc_t
seq_paxos_propose(seq_paxos_t *self, const void *value, size_t len)
{
    if (!value || len == 0)
        return HB_INVALID;
    if (len > self->cfg.max_value_bytes)
        return HB_TOOBIG;
    if (self->role != S_LEADER)
        return HB_BUSY;
    self->depth++;
    s_fifo_push(&self->queue, value, len);
    self->st.proposals++;
    s_pump(self);
    s_leave(self);
    return HB_OK;
}

void
seq_paxos_on_message(seq_paxos_t *self, uint32_t from, const void *frame, size_t len)
{
    self->depth++;
    s_handle(self, from, frame, len);
    s_leave(self);
}

void
seq_paxos_on_timer(seq_paxos_t *self, uint64_t token)
{
    if (token != SEQ_PAXOS_TIMER_TICK)
        return;
    seq_paxos_t *p = self;
    p->depth++;
    p->io.timer(p->io.ctx, p->cfg.heartbeat_us, SEQ_PAXOS_TIMER_TICK);
    uint64_t now = s_now(p);
    s_flush(p);
    if (p->role == S_LEADER) {
        s_broadcast_commit(p);
        for (uint64_t s = p->chosen_end; s < p->next_slot; s++) {
            s_slot_t *e = s_find(p, s);
            if (!e || !e->proposed || e->decided ||
                now - e->sent_us < p->cfg.heartbeat_us)
                continue;
            e->sent_us = now;
            s_out_t o;
            s_pack_accept(p, &o, e);
            for (uint32_t r = 0; r < p->cfg.replicas; r++)
                if (!(e->acks & (1u << r)))
                    s_send_raw(p, r, o.sb.data, o.sb.size);
            msgpack_sbuffer_destroy(&o.sb);
        }
    } else if (now >= p->deadline_us) {
        s_start_election(p);
        p->deadline_us = now + s_jitter(p);
    } else if (p->role == S_CANDIDATE) {
        for (uint32_t r = 0; r < p->cfg.replicas; r++)
            if (!(p->p1_done & (1u << r)))
                s_send_prepare(p, r, p->p1_next[r]);
    }
    if (p->chosen_end < p->commit_known) {
        uint32_t to = p->leader >= 0 && (uint32_t)p->leader != p->cfg.self
                          ? (uint32_t)p->leader
                          : (uint32_t)(p->io.random(p->io.ctx) % p->cfg.replicas);
        s_send_fetch(p, to);
    }
    s_leave(p);
}

bool
seq_paxos_is_leader(const seq_paxos_t *self)
{
    return self->role == S_LEADER;
}

int
seq_paxos_leader(const seq_paxos_t *self)
{
    return self->leader;
}

uint64_t
seq_paxos_chosen_end(const seq_paxos_t *self)
{
    return self->delivered_end;
}

uint64_t
seq_paxos_promised(const seq_paxos_t *self)
{
    return self->promised;
}

void
seq_paxos_stats(const seq_paxos_t *self, seq_paxos_stats_t *st)
{
    *st = self->st;
    st->promised = self->promised;
    st->ballot = self->ballot;
}

void
seq_paxos_status(const seq_paxos_t *self, hb_status_t *st)
{
    seq_paxos_stats_t s;
    seq_paxos_stats(self, &s);
    hb_status_int(st, "paxos_leader", self->leader);
    hb_status_int(st, "paxos_is_leader", self->role == S_LEADER);
    hb_status_int(st, "paxos_chosen_end", (int64_t)self->delivered_end);
    hb_status_int(st, "paxos_lag_slots",
                  (int64_t)(self->commit_known > self->delivered_end
                                ? self->commit_known - self->delivered_end
                                : 0));
    hb_status_int(st, "paxos_leader_changes", (int64_t)s.leader_changes);
    hb_status_int(st, "paxos_elections", (int64_t)s.elections);
    hb_status_int(st, "paxos_proposals", (int64_t)s.proposals);
    hb_status_int(st, "paxos_dropped", (int64_t)s.dropped);
    hb_status_int(st, "paxos_chosen", (int64_t)s.chosen);
    hb_status_int(st, "paxos_noops", (int64_t)s.noops);
    hb_status_int(st, "paxos_promised", (int64_t)s.promised);
    hb_status_int(st, "paxos_nacks", (int64_t)s.nacks);
    hb_status_int(st, "paxos_fetches", (int64_t)s.fetches);
    hb_status_int(st, "paxos_bad_frames", (int64_t)s.bad_frames);
    hb_status_int(st, "paxos_store_errors", (int64_t)s.store_errors);
}
