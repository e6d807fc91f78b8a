/* sim_paxos.c — a Paxos group in the simulator (see sim_paxos.h).
 *
 * The in-memory store keeps two images, live and durable. Writes change
 * live and are remembered in a pending list; sync copies the pending
 * entries to durable; a crash replaces live by durable. So a core that
 * forgets to sync before replying loses state in exactly the way a disk
 * would.
 */
#include "sim_paxos.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hb_alloc.h"

/* ------------------------------------------------------------ store */

typedef struct {
    bool has;        /* slot holds an entry */
    uint64_t ballot; /* accepted ballot (accepted entries) */
    uint8_t *val;    /* value (owned) */
    size_t len;      /* length */
} s_ent_t;

typedef struct {
    uint64_t promised;     /* meta */
    uint64_t round;        /* meta */
    s_ent_t *acc;          /* accepted, by slot */
    size_t acc_cap;        /* allocated */
    s_ent_t *cho;          /* chosen, by slot */
    size_t cho_cap;        /* allocated */
    uint64_t chosen_end;   /* one past the last chosen slot */
    uint64_t accepted_end; /* one past the highest accepted slot */
} s_image_t;

typedef enum { S_OP_META, S_OP_ACC, S_OP_CHO } s_op_t;

typedef struct {
    s_op_t op;     /* what was written */
    uint64_t slot; /* where */
} s_pending_t;

typedef struct {
    s_image_t live;       /* what reads see */
    s_image_t durable;    /* what survives a crash */
    s_pending_t *pending; /* writes since the last sync */
    size_t npending;      /* used */
    size_t pending_cap;   /* allocated */
    bool fail_sync;       /* sync returns HB_IO */
} s_store_t;

static void
s_ent_set(s_ent_t *e, uint64_t ballot, const void *v, size_t len)
{
    hb_free(e->val);
    e->has = true;
    e->ballot = ballot;
    e->val = len ? hb_memdup(v, len) : NULL;
    e->len = len;
}

static s_ent_t *
s_ent_at(s_ent_t **arr, size_t *cap, uint64_t slot)
{
    HB_GROW_ZERO(*arr, *cap, slot + 1, 64);
    return &(*arr)[slot];
}

static void
s_image_free(s_image_t *im)
{
    for (size_t i = 0; i < im->acc_cap; i++)
        hb_free(im->acc[i].val);
    for (size_t i = 0; i < im->cho_cap; i++)
        hb_free(im->cho[i].val);
    hb_free(im->acc);
    hb_free(im->cho);
    memset(im, 0, sizeof *im);
}

static void
s_image_copy(s_image_t *dst, const s_image_t *src)
{
    s_image_free(dst);
    *dst = *src;
    dst->acc = hb_calloc(src->acc_cap ? src->acc_cap : 1, sizeof *dst->acc);
    dst->cho = hb_calloc(src->cho_cap ? src->cho_cap : 1, sizeof *dst->cho);
    for (size_t i = 0; i < src->acc_cap; i++)
        if (src->acc[i].has)
            s_ent_set(&dst->acc[i], src->acc[i].ballot, src->acc[i].val, src->acc[i].len);
    for (size_t i = 0; i < src->cho_cap; i++)
        if (src->cho[i].has)
            s_ent_set(&dst->cho[i], 0, src->cho[i].val, src->cho[i].len);
}

static void
s_pend(s_store_t *s, s_op_t op, uint64_t slot)
{
    HB_GROW(s->pending, s->pending_cap, s->npending + 1, 16);
    s->pending[s->npending++] = (s_pending_t){op, slot};
}

static hb_rc_t
s_get_meta(void *ctx, uint64_t *promised, uint64_t *round)
{
    s_store_t *s = ctx;
    *promised = s->live.promised;
    *round = s->live.round;
    return HB_OK;
}

static hb_rc_t
s_put_meta(void *ctx, uint64_t promised, uint64_t round)
{
    s_store_t *s = ctx;
    s->live.promised = promised;
    s->live.round = round;
    s_pend(s, S_OP_META, 0);
    return HB_OK;
}

static hb_rc_t
s_get_accepted(void *ctx, uint64_t slot, uint64_t *ballot, const void **v, size_t *len)
{
    s_store_t *s = ctx;
    if (slot >= s->live.acc_cap || !s->live.acc[slot].has)
        return HB_NOTFOUND;
    *ballot = s->live.acc[slot].ballot;
    *v = s->live.acc[slot].val;
    *len = s->live.acc[slot].len;
    return HB_OK;
}

static hb_rc_t
s_put_accepted(void *ctx, uint64_t slot, uint64_t ballot, const void *v, size_t len)
{
    s_store_t *s = ctx;
    s_ent_set(s_ent_at(&s->live.acc, &s->live.acc_cap, slot), ballot, v, len);
    if (slot + 1 > s->live.accepted_end)
        s->live.accepted_end = slot + 1;
    s_pend(s, S_OP_ACC, slot);
    return HB_OK;
}

static hb_rc_t
s_get_chosen(void *ctx, uint64_t slot, const void **v, size_t *len)
{
    s_store_t *s = ctx;
    if (slot >= s->live.cho_cap || !s->live.cho[slot].has)
        return HB_NOTFOUND;
    *v = s->live.cho[slot].val;
    *len = s->live.cho[slot].len;
    return HB_OK;
}

static hb_rc_t
s_put_chosen(void *ctx, uint64_t slot, const void *v, size_t len)
{
    s_store_t *s = ctx;
    if (slot != s->live.chosen_end)
        return HB_INVALID; /* the interface promises dense, in-order writes */
    s_ent_set(s_ent_at(&s->live.cho, &s->live.cho_cap, slot), 0, v, len);
    s->live.chosen_end = slot + 1;
    s_pend(s, S_OP_CHO, slot);
    return HB_OK;
}

static hb_rc_t
s_bounds(void *ctx, uint64_t *chosen_end, uint64_t *accepted_end)
{
    s_store_t *s = ctx;
    *chosen_end = s->live.chosen_end;
    *accepted_end = s->live.accepted_end;
    return HB_OK;
}

static hb_rc_t
s_sync(void *ctx)
{
    s_store_t *s = ctx;
    if (s->fail_sync)
        return HB_IO;
    for (size_t i = 0; i < s->npending; i++) {
        uint64_t slot = s->pending[i].slot;
        s_ent_t *src, *dst;
        switch (s->pending[i].op) {
        case S_OP_META:
            s->durable.promised = s->live.promised;
            s->durable.round = s->live.round;
            break;
        case S_OP_ACC:
            src = &s->live.acc[slot];
            dst = s_ent_at(&s->durable.acc, &s->durable.acc_cap, slot);
            s_ent_set(dst, src->ballot, src->val, src->len);
            if (slot + 1 > s->durable.accepted_end)
                s->durable.accepted_end = slot + 1;
            break;
        case S_OP_CHO:
            src = &s->live.cho[slot];
            dst = s_ent_at(&s->durable.cho, &s->durable.cho_cap, slot);
            s_ent_set(dst, 0, src->val, src->len);
            if (slot + 1 > s->durable.chosen_end)
                s->durable.chosen_end = slot + 1;
            break;
        }
    }
    s->npending = 0;
    return HB_OK;
}

static void
s_store_crash(s_store_t *s)
{
    s_image_copy(&s->live, &s->durable);
    s->npending = 0;
}

/* ------------------------------------------------------------ cluster */

typedef struct {
    sp_cluster_t *c;       /* back pointer */
    uint32_t r;            /* replica */
    seq_paxos_t *core;     /* NULL while down */
    s_store_t store;       /* in-memory disk */
    seq_paxos_store_t sif; /* store interface over `store` */
    uint64_t *log;         /* delivered ids (0 = no-op), survives crashes */
    uint64_t log_n;        /* used */
    uint64_t log_cap;      /* allocated */
    uint64_t max_promised; /* highest promise ever observed */
} s_node_t;

struct sp_cluster {
    sim_t *sim;          /* the world */
    uint32_t n;          /* replicas */
    s_node_t *nodes;     /* replicas */
    seq_paxos_io_t io;   /* shared io table; ctx differs per node */
    seq_paxos_cfg_t cfg; /* template */
    uint64_t *truth;     /* the agreed log: id per slot */
    uint64_t truth_n;    /* used */
    uint64_t truth_cap;  /* allocated */
    uint64_t *id_slot;   /* slot + 1 where each id was chosen, 0 if not */
    uint64_t next_id;    /* next proposal id (ids start at 1) */
    uint64_t id_cap;     /* id_slot capacity */
    char err[512];       /* first violation */
    /* fuzz */
    bool faulting; /* fault phase: clients and faults keep coming */
};

static void s_fail(sp_cluster_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
s_fail(sp_cluster_t *c, const char *fmt, ...)
{
    if (c->err[0])
        return;
    int off = snprintf(c->err, sizeof c->err, "t=%" PRIu64 ": ", sim_now(c->sim));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + off, sizeof c->err - (size_t)off, fmt, ap);
    va_end(ap);
}

static void
s_io_send(void *ctx, uint32_t to, const void *frame, size_t len)
{
    s_node_t *nd = ctx;
    sim_send(nd->c->sim, nd->r, to, frame, len);
}

static uint64_t
s_io_now(void *ctx)
{
    s_node_t *nd = ctx;
    return sim_now(nd->c->sim);
}

static void
s_io_timer(void *ctx, uint64_t delay_us, uint64_t token)
{
    s_node_t *nd = ctx;
    sim_timer(nd->c->sim, nd->r, delay_us, token);
}

static uint64_t
s_io_random(void *ctx)
{
    s_node_t *nd = ctx;
    return sim_rand(nd->c->sim);
}

static uint64_t
s_value_id(const void *v, size_t len)
{
    uint64_t id = 0;
    if (len >= 8)
        memcpy(&id, v, 8);
    return id;
}

/* Largest test value: some exceed a PROMISE/CHOSEN page (1024 bytes). */
#define S_VALUE_MAX 2048

/* Builds the value of id into buf (S_VALUE_MAX bytes); returns its length. */
static size_t
s_value(uint64_t id, uint8_t *buf)
{
    size_t pad = id % 7 == 0 ? 600 + (size_t)(id % 900) : (size_t)(id % 23);
    memcpy(buf, &id, 8);
    for (size_t i = 0; i < pad; i++)
        buf[8 + i] = (uint8_t)(id * 31 + i);
    return 8 + pad;
}

static void
s_grow(uint64_t **arr, uint64_t *cap, uint64_t need)
{
    HB_GROW_ZERO(*arr, *cap, need, 64);
}

static void
s_io_chosen(void *ctx, uint64_t slot, const void *v, size_t len)
{
    s_node_t *nd = ctx;
    sp_cluster_t *c = nd->c;
    if (slot != nd->log_n) {
        s_fail(c, "replica %u delivered slot %" PRIu64 " after %" PRIu64 " slots", nd->r,
               slot, nd->log_n);
        return;
    }
    uint64_t id = 0;
    if (len) {
        uint8_t buf[S_VALUE_MAX];
        id = s_value_id(v, len);
        if (id == 0 || id >= c->next_id || s_value(id, buf) != len ||
            memcmp(buf, v, len)) {
            s_fail(c, "replica %u slot %" PRIu64 ": value never proposed", nd->r, slot);
            return;
        }
    }
    s_grow(&nd->log, &nd->log_cap, slot + 1);
    nd->log[nd->log_n++] = id;
    if (slot < c->truth_n) {
        if (c->truth[slot] != id)
            s_fail(c,
                   "replica %u slot %" PRIu64 ": chose %" PRIu64
                   " but another chose %" PRIu64,
                   nd->r, slot, id, c->truth[slot]);
        return;
    }
    s_grow(&c->truth, &c->truth_cap, slot + 1);
    c->truth[c->truth_n++] = id;
    if (id) {
        if (c->id_slot[id])
            s_fail(c, "id %" PRIu64 " chosen in slots %" PRIu64 " and %" PRIu64, id,
                   c->id_slot[id] - 1, slot);
        else
            c->id_slot[id] = slot + 1;
    }
}

static void
s_check_promise(sp_cluster_t *c, s_node_t *nd)
{
    if (!nd->core)
        return;
    uint64_t p = seq_paxos_promised(nd->core);
    if (p < nd->max_promised)
        s_fail(c, "replica %u promise went back from %" PRIu64 " to %" PRIu64, nd->r,
               nd->max_promised, p);
    else
        nd->max_promised = p;
}

static void
s_start(sp_cluster_t *c, s_node_t *nd)
{
    seq_paxos_cfg_t cfg = c->cfg;
    cfg.self = nd->r;
    seq_paxos_io_t io = c->io;
    io.ctx = nd;
    nd->core = seq_paxos_new(&cfg, &nd->sif, &io);
    if (!nd->core) {
        s_fail(c, "replica %u: seq_paxos_new failed", nd->r);
        return;
    }
    if (seq_paxos_chosen_end(nd->core) != nd->log_n)
        s_fail(c, "replica %u restarted at slot %" PRIu64 " but had delivered %" PRIu64,
               nd->r, seq_paxos_chosen_end(nd->core), nd->log_n);
    s_check_promise(c, nd);
}

static void s_sim_user(void *ctx, uint32_t node, uint64_t token);

static void
s_sim_deliver(void *ctx, uint32_t to, uint32_t from, const void *data, size_t len)
{
    sp_cluster_t *c = ctx;
    s_node_t *nd = &c->nodes[to];
    if (nd->core) {
        seq_paxos_on_message(nd->core, from, data, len);
        s_check_promise(c, nd);
    }
}

static void
s_sim_timer(void *ctx, uint32_t node, uint64_t token)
{
    sp_cluster_t *c = ctx;
    s_node_t *nd = &c->nodes[node];
    if (nd->core) {
        seq_paxos_on_timer(nd->core, token);
        s_check_promise(c, nd);
    }
}

sp_cluster_t *
sp_new(uint64_t seed, uint32_t replicas)
{
    sp_cluster_t *c = hb_calloc(1, sizeof *c);
    sim_ops_t ops = {
        .ctx = c, .deliver = s_sim_deliver, .timer = s_sim_timer, .user = s_sim_user};
    c->sim = sim_new(seed, replicas, &ops);
    c->n = replicas;
    c->next_id = 1;
    c->io = (seq_paxos_io_t){.send = s_io_send,
                             .now_us = s_io_now,
                             .timer = s_io_timer,
                             .random = s_io_random,
                             .chosen = s_io_chosen};
    c->cfg = (seq_paxos_cfg_t){.group = 7,
                               .replicas = replicas,
                               .heartbeat_us = SP_HEARTBEAT_US,
                               .election_timeout_us = SP_ELECTION_US,
                               .pipeline = 32,
                               .max_value_bytes = 4096,
                               .max_frame_bytes = 2048};
    c->nodes = hb_calloc(replicas, sizeof *c->nodes);
    for (uint32_t r = 0; r < replicas; r++) {
        s_node_t *nd = &c->nodes[r];
        nd->c = c;
        nd->r = r;
        nd->sif = (seq_paxos_store_t){.ctx = &nd->store,
                                      .get_meta = s_get_meta,
                                      .put_meta = s_put_meta,
                                      .get_accepted = s_get_accepted,
                                      .put_accepted = s_put_accepted,
                                      .get_chosen = s_get_chosen,
                                      .put_chosen = s_put_chosen,
                                      .bounds = s_bounds,
                                      .sync = s_sync};
    }
    for (uint32_t r = 0; r < replicas; r++)
        s_start(c, &c->nodes[r]);
    return c;
}

void
sp_destroy(sp_cluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_cluster_t *c = *self_p;
    for (uint32_t r = 0; r < c->n; r++) {
        s_node_t *nd = &c->nodes[r];
        seq_paxos_destroy(&nd->core);
        s_image_free(&nd->store.live);
        s_image_free(&nd->store.durable);
        hb_free(nd->store.pending);
        hb_free(nd->log);
    }
    hb_free(c->nodes);
    hb_free(c->truth);
    hb_free(c->id_slot);
    sim_destroy(&c->sim);
    hb_free(c);
    *self_p = NULL;
}

sim_t *
sp_sim(sp_cluster_t *c)
{
    return c->sim;
}

seq_paxos_t *
sp_core(sp_cluster_t *c, uint32_t r)
{
    return c->nodes[r].core;
}

static bool
s_ok(void *arg)
{
    return ((sp_cluster_t *)arg)->err[0] == 0;
}

bool
sp_run(sp_cluster_t *c, uint64_t us)
{
    if (c->err[0])
        return false;
    return sim_run_until(c->sim, sim_now(c->sim) + us, s_ok, c);
}

const char *
sp_error(const sp_cluster_t *c)
{
    return c->err[0] ? c->err : NULL;
}

hb_rc_t
sp_propose(sp_cluster_t *c, uint32_t r, uint64_t *id)
{
    *id = 0;
    s_node_t *nd = &c->nodes[r];
    if (!nd->core)
        return HB_IO;
    uint8_t buf[S_VALUE_MAX];
    uint64_t nid = c->next_id;
    size_t len = s_value(nid, buf);
    s_grow(&c->id_slot, &c->id_cap, nid + 1);
    c->next_id++; /* before proposing: a 1-replica group chooses at once */
    hb_rc_t rc = seq_paxos_propose(nd->core, buf, len);
    if (rc == HB_OK)
        *id = nid;
    s_check_promise(c, nd);
    return rc;
}

int
sp_leader(sp_cluster_t *c)
{
    int best = -1;
    uint64_t bb = 0;
    for (uint32_t r = 0; r < c->n; r++) {
        seq_paxos_t *p = c->nodes[r].core;
        if (!p || !seq_paxos_is_leader(p))
            continue;
        seq_paxos_stats_t st;
        seq_paxos_stats(p, &st);
        if (best < 0 || st.ballot > bb) {
            best = (int)r;
            bb = st.ballot;
        }
    }
    return best;
}

int
sp_wait_leader(sp_cluster_t *c, uint64_t max_us)
{
    for (uint64_t t = 0; t < max_us; t += SP_HEARTBEAT_US) {
        int l = sp_leader(c);
        if (l >= 0)
            return l;
        if (!sp_run(c, SP_HEARTBEAT_US))
            return -1;
    }
    return sp_leader(c);
}

void
sp_crash(sp_cluster_t *c, uint32_t r)
{
    s_node_t *nd = &c->nodes[r];
    if (!nd->core)
        return;
    sim_crash(c->sim, r);
    seq_paxos_destroy(&nd->core);
    s_store_crash(&nd->store);
}

void
sp_restart(sp_cluster_t *c, uint32_t r)
{
    s_node_t *nd = &c->nodes[r];
    if (nd->core)
        return;
    sim_restart(c->sim, r);
    s_start(c, nd);
}

void
sp_fail_sync(sp_cluster_t *c, uint32_t r, bool on)
{
    c->nodes[r].store.fail_sync = on;
}

uint64_t
sp_delivered_n(const sp_cluster_t *c, uint32_t r)
{
    return c->nodes[r].log_n;
}

uint64_t
sp_delivered_id(const sp_cluster_t *c, uint32_t r, uint64_t slot)
{
    const s_node_t *nd = &c->nodes[r];
    return slot < nd->log_n ? nd->log[slot] : UINT64_MAX;
}

uint64_t
sp_slot_of(const sp_cluster_t *c, uint64_t id)
{
    if (id == 0 || id >= c->id_cap || c->id_slot[id] == 0)
        return UINT64_MAX;
    return c->id_slot[id] - 1;
}

bool
sp_converged(const sp_cluster_t *c)
{
    for (uint32_t r = 0; r < c->n; r++)
        if (c->nodes[r].core && c->nodes[r].log_n != c->truth_n)
            return false;
    return true;
}

uint64_t
sp_store_accepted(const sp_cluster_t *c, uint32_t r, uint64_t slot)
{
    const s_image_t *im = &c->nodes[r].store.durable;
    return slot < im->acc_cap && im->acc[slot].has ? im->acc[slot].ballot : 0;
}

/* ------------------------------------------------------------ fuzz */

enum { S_TOK_CLIENT = 1, S_TOK_FAULT = 2 };

static void
s_client(sp_cluster_t *c)
{
    sim_t *s = c->sim;
    uint32_t r = (uint32_t)sim_below(s, c->n);
    uint64_t id;
    if (sp_propose(c, r, &id) == HB_BUSY && c->nodes[r].core) {
        int l = seq_paxos_leader(c->nodes[r].core);
        if (l >= 0 && (uint32_t)l != r)
            sp_propose(c, (uint32_t)l, &id); /* forwarded once; lost if stale */
    }
    sim_at(s, sim_below(s, 3000), 0, S_TOK_CLIENT);
}

static void
s_fault(sp_cluster_t *c)
{
    sim_t *s = c->sim;
    uint32_t r = (uint32_t)sim_below(s, c->n);
    switch (sim_below(s, 7)) {
    case 6:
        /* A disk that cannot sync for a while (or recovers). */
        sp_fail_sync(c, r, sim_chance(s, 500000));
        break;
    case 0:
        sp_crash(c, r);
        break;
    case 1:
    case 2:
        for (uint32_t i = 0; i < c->n; i++)
            if (!c->nodes[(r + i) % c->n].core) {
                sp_restart(c, (r + i) % c->n);
                break;
            }
        break;
    case 3: {
        uint32_t side[SEQ_PAXOS_MAX_REPLICAS];
        for (uint32_t i = 0; i < c->n; i++)
            side[i] = (uint32_t)sim_below(s, 2);
        sim_partition(s, side);
        break;
    }
    case 4:
        sim_heal(s);
        break;
    default: {
        sim_net_t net = {.drop_ppm = (uint32_t)sim_below(s, 300000),
                         .dup_ppm = (uint32_t)sim_below(s, 200000),
                         .delay_min_us = sim_below(s, 500)};
        net.delay_max_us = net.delay_min_us + sim_below(s, 8000);
        sim_set_net(s, &net);
        break;
    }
    }
    sim_at(s, sim_below(s, 2 * SP_ELECTION_US), 0, S_TOK_FAULT);
}

static void
s_sim_user(void *ctx, uint32_t node, uint64_t token)
{
    (void)node;
    sp_cluster_t *c = ctx;
    if (!c->faulting)
        return;
    if (token == S_TOK_CLIENT)
        s_client(c);
    else if (token == S_TOK_FAULT)
        s_fault(c);
}

bool
sp_fuzz(uint64_t seed, char *err, size_t errlen, uint64_t *events)
{
    uint32_t R = seed % 2 ? 5 : 3;
    sp_cluster_t *c = sp_new(seed, R);
    sim_t *s = c->sim;
    bool ok = false;
    c->faulting = true;
    sim_at(s, sim_below(s, 3000), 0, S_TOK_CLIENT);
    sim_at(s, sim_below(s, 2 * SP_ELECTION_US), 0, S_TOK_FAULT);
    if (!sp_run(c, 30 * SP_ELECTION_US))
        goto out;
    /* Heal: everyone up, links restored, loss off (delay still reorders). */
    c->faulting = false;
    for (uint32_t r = 0; r < R; r++) {
        sp_fail_sync(c, r, false);
        sp_restart(c, r);
    }
    sim_heal(s);
    sim_net_t net = {.delay_min_us = 50, .delay_max_us = 1000};
    sim_set_net(s, &net);
    if (!sp_run(c, 5 * SP_ELECTION_US))
        goto out;
    int l = sp_leader(c);
    if (l < 0) {
        s_fail(c, "no leader %d election timeouts after healing", 5);
        goto out;
    }
    uint64_t ids[5];
    for (int i = 0; i < 5; i++)
        if (sp_propose(c, (uint32_t)l, &ids[i]) != HB_OK) {
            s_fail(c, "leader %d refused a proposal", l);
            goto out;
        }
    if (!sp_run(c, 10 * SP_ELECTION_US))
        goto out;
    for (int i = 0; i < 5; i++)
        if (sp_slot_of(c, ids[i]) == UINT64_MAX) {
            s_fail(c, "id %" PRIu64 " proposed to leader %d not chosen in 10 timeouts",
                   ids[i], l);
            goto out;
        }
    if (!sp_converged(c)) {
        s_fail(c, "learners did not converge on %" PRIu64 " slots", c->truth_n);
        goto out;
    }
    ok = true;
out:
    if (!ok && err) {
        size_t off =
            (size_t)snprintf(err, errlen, "%s", c->err[0] ? c->err : "run failed");
        for (uint32_t r = 0; r < R && off < errlen; r++) {
            seq_paxos_t *p = c->nodes[r].core;
            seq_paxos_stats_t st = {0};
            if (p)
                seq_paxos_stats(p, &st);
            off += (size_t)snprintf(
                err + off, errlen - off,
                " | r%u %s lead=%d del=%" PRIu64 " prom=%" PRIx64 " bal=%" PRIx64
                " el=%" PRIu64 " nack=%" PRIu64,
                r, p ? (seq_paxos_is_leader(p) ? "LEADER" : "up") : "down",
                p ? seq_paxos_leader(p) : -9, c->nodes[r].log_n, st.promised, st.ballot,
                st.elections, st.nacks);
        }
    }
    if (events) {
        sim_stats_t st;
        sim_stats(s, &st);
        *events += st.events;
    }
    sp_destroy(&c);
    return ok;
}
