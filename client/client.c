/* client.c — libhobbes (see hobbes.h).
 *
 * One DEALER per sequencer, all with the same routing id (the client id),
 * so whichever sequencer took a call can answer it: the home replica's are
 * opened at once, other replicas' on first use (failover). Every pending
 * call lives in a small open-addressing table keyed by request id, with
 * its encoded SUBMIT frame (a zmq_msg_t: sends take a reference, not a
 * copy of the bytes), the socket it went to last and when. Results for ids
 * not in it (late, duplicated by a replay, or forgotten) are dropped.
 *
 * Submits wait in a per-socket queue of (request id, attempt) until a
 * flush sends each queue as one multipart message; an entry whose call
 * was answered, forgotten or moved on (its attempt changed) is skipped.
 *
 * With retries on (hb_client_set_retry), a call that waited retry_ms is
 * sent again, same request id, to the same group's sequencer in the next
 * replica. A socket that stayed silent all the while is closed (and
 * reopened when next needed; "silent" errs towards closing a live one,
 * which only costs a reconnect and maybe answers lost in flight, answered
 * HB_EXISTS on retry): ZeroMQ keeps what we send to a peer that is
 * down and delivers it when the peer is back, and a copy arriving after
 * the servers' dedup window (~30 s) would run a second time. Closing
 * (linger 0) drops those copies. ZMQ_IMMEDIATE would not queue them in
 * the first place, but libzmq 4.3 asserts (fq.cpp "!_more") when such a
 * peer dies in the middle of a multipart message, and sequencers answer
 * in multipart messages.
 *
 * Snapshot scans go to a partition's storage through one more DEALER per
 * partition (made on first use, same routing id, so the storage can
 * answer); a scan waits for its own answer and drops late ones.
 *
 * SQL sessions (hb_sql_*, at the end) are independent of hb_client_t: one
 * DEALER to one sqlfront, one request at a time.
 */
#include "hobbes.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zmq.h>

#include "hb_alloc.h"
#include "hb_config.h"
#include "hb_mp.h"
#include "hb_net.h"
#include "hb_proc.h"
#include "hb_sqlstate.h"
#include "hb_wire.h"

#define S_EMPTY 0
#define S_TOMB  UINT64_MAX
#define S_NEVER INT64_MAX

/* A call waiting for its result. */
typedef struct {
    uint64_t id;      /* request id; S_EMPTY or S_TOMB in free cells */
    zmq_msg_t frame;  /* its encoded SUBMIT (owned) */
    int64_t sent_ms;  /* when it was last sent; 0: not flushed yet */
    uint32_t sock;    /* socket it went to last: replica * P + group */
    uint32_t attempt; /* sends so far, 1 + retries; names its queue entry */
} s_call_t;

/* One queued send: a call, and which attempt of it. */
typedef struct {
    uint64_t id;      /* request id */
    uint32_t attempt; /* stale unless the call's attempt is still this */
} s_qent_t;

/* Calls queued for one socket, sent by the next flush. */
typedef struct {
    s_qent_t *ents; /* queued, in submit order */
    size_t n;       /* how many */
    size_t cap;     /* allocated */
} s_outq_t;

struct hb_client {
    const hb_config_t *cfg; /* cluster config */
    hb_config_t
        *owned_cfg;        /* cfg when this client loaded it (hb_client_new), else NULL */
    uint16_t replica;      /* home replica: new calls go there */
    uint32_t nsock;        /* replicas x partitions */
    uint64_t client_id;    /* our routing id */
    uint64_t next_req;     /* next request id */
    void *zctx;            /* ZeroMQ context */
    void **seq;            /* DEALER per (replica, group), lazily opened */
    s_outq_t *outq;        /* per (replica, group): calls waiting for a flush */
    int64_t *last_rx_ms;   /* per (replica, group): the last message it sent us
                            * arrived after this (a lower bound) */
    int64_t *drained_ms;   /* per (replica, group): it was found empty after this */
    uint32_t *open;        /* indexes of the open seq sockets */
    uint32_t nopen;        /* how many */
    void **stor;           /* DEALER per partition's storage (lazy; scans) */
    zmq_pollitem_t *items; /* poll set, one per open seq socket (nopen) */
    bool items_stale;      /* the open set changed since items was built */
    int64_t clock_ms;      /* time at the last wake-up of hb_client_poll */
    uint64_t *moved;       /* scratch: calls a retry scan moves */
    size_t moved_cap;      /* allocated */
    hb_lockset_t ls;       /* scratch lock set */
    s_call_t *calls;       /* pending calls (open addressing by id) */
    size_t calls_cap;      /* cells, power of two */
    size_t calls_n;        /* live entries */
    size_t calls_used;     /* live + tombstones */
    int retry_ms;          /* resend after this long; 0: never */
    int64_t next_scan_ms;  /* earliest time a pending call may be due */
    uint64_t retries;      /* calls sent again */
    char err[512];         /* last error text */
};

/* ------------------------------------------------------- pending set */

static size_t
s_slot(uint64_t id, size_t cap)
{
    return (size_t)(id * 0x9e3779b97f4a7c15ULL >> 20) & (cap - 1);
}

/* Returns a free cell for id (which must not be in the table). */
static s_call_t *
s_cell_for(s_call_t *cells, size_t cap, uint64_t id)
{
    size_t i = s_slot(id, cap);
    while (cells[i].id != S_EMPTY && cells[i].id != S_TOMB)
        i = (i + 1) & (cap - 1);
    return &cells[i];
}

static void
s_calls_grow(hb_client_t *self)
{
    s_call_t *old = self->calls;
    size_t oldcap = self->calls_cap;
    size_t cap = oldcap ? (self->calls_n * 4 > oldcap ? oldcap * 2 : oldcap) : 64;
    s_call_t *cells = hb_calloc(cap, sizeof *cells);
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].id == S_EMPTY || old[i].id == S_TOMB)
            continue;
        s_call_t *c = s_cell_for(cells, cap, old[i].id);
        *c = old[i];
        zmq_msg_init(&c->frame);
        zmq_msg_move(&c->frame, &old[i].frame);
    }
    hb_free(old);
    self->calls = cells;
    self->calls_cap = cap;
    self->calls_used = self->calls_n;
}

/* Adds call id (taking frame); returns its cell. */
static s_call_t *
s_calls_add(hb_client_t *self, uint64_t id, zmq_msg_t *frame, uint32_t sock)
{
    if ((self->calls_used + 1) * 2 > self->calls_cap)
        s_calls_grow(self);
    s_call_t *c = s_cell_for(self->calls, self->calls_cap, id);
    if (c->id == S_EMPTY)
        self->calls_used++;
    c->id = id;
    zmq_msg_init(&c->frame);
    zmq_msg_move(&c->frame, frame);
    c->sent_ms = 0;
    c->sock = sock;
    c->attempt = 1;
    self->calls_n++;
    return c;
}

/* Returns the pending call id, or NULL. */
static s_call_t *
s_calls_find(const hb_client_t *self, uint64_t id)
{
    if (!self->calls_cap)
        return NULL;
    size_t i = s_slot(id, self->calls_cap);
    while (self->calls[i].id != S_EMPTY) {
        if (self->calls[i].id == id)
            return &self->calls[i];
        i = (i + 1) & (self->calls_cap - 1);
    }
    return NULL;
}

/* Forgets a pending call. */
static void
s_calls_del(hb_client_t *self, s_call_t *c)
{
    zmq_msg_close(&c->frame);
    c->id = S_TOMB;
    self->calls_n--;
}

/* ------------------------------------------------------------ sockets */

static int64_t
s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns the DEALER to sequencer index k (replica * P + group), opening
 * it on first use; NULL (message in err) if it cannot connect. */
static void *
s_seq_socket(hb_client_t *self, uint32_t k, char *err, size_t errlen)
{
    if (self->seq[k])
        return self->seq[k];
    uint32_t P = self->cfg->partitions;
    const char *ep = hb_config_endpoint(
        self->cfg, hb_node(HB_ROLE_SEQUENCER, (uint16_t)(k / P), (uint16_t)(k % P)));
    if (!ep) {
        snprintf(err, errlen, "no sequencer endpoint for replica %u group %u", k / P,
                 k % P);
        return NULL;
    }
    void *s = zmq_socket(self->zctx, ZMQ_DEALER);
    uint8_t rid[8];
    hb_client_id_bytes(self->client_id, rid);
    int zero = 0, hwm = 1000000;
    int64_t maxmsg = self->cfg->limits.max_frame_bytes;
    zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, sizeof rid);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect(s, ep) < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", ep, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    self->seq[k] = s;
    self->open[self->nopen++] = k;
    self->last_rx_ms[k] = 0;
    self->drained_ms[k] = self->clock_ms;
    self->items_stale = true;
    return s;
}

/* Returns the pending call a queue entry stands for, NULL if stale (the
 * call was answered, forgotten or moved on). */
static s_call_t *
s_qent_call(const hb_client_t *self, const s_qent_t *e)
{
    s_call_t *c = s_calls_find(self, e->id);
    return c && c->attempt == e->attempt ? c : NULL;
}

/* Closes sequencer socket k, dropping whatever ZeroMQ still holds for it
 * (see the top). Calls still queued for it fall due for a retry. */
static void
s_seq_close(hb_client_t *self, uint32_t k)
{
    for (size_t i = 0; i < self->outq[k].n; i++) {
        s_call_t *c = s_qent_call(self, &self->outq[k].ents[i]);
        if (c && !c->sent_ms)
            c->sent_ms = 1;
    }
    self->outq[k].n = 0;
    zmq_close(self->seq[k]);
    self->seq[k] = NULL;
    for (uint32_t j = 0; j < self->nopen; j++) {
        if (self->open[j] == k) {
            self->open[j] = self->open[--self->nopen];
            break;
        }
    }
    self->items_stale = true;
}

/* Queues attempt `attempt` of call id on socket k. */
static void
s_enqueue(hb_client_t *self, uint32_t k, uint64_t id, uint32_t attempt)
{
    s_outq_t *q = &self->outq[k];
    HB_GROW(q->ents, q->cap, q->n + 1, 16);
    q->ents[q->n++] = (s_qent_t){id, attempt};
}

/* Sends the queue of socket k as one multipart message, skipping stale
 * entries, and stamps each sent call with now. Returns HB_OK or HB_IO
 * (message in self->err; the calls stay pending, and a retry, if on,
 * sends them again). */
static hb_rc_t
s_flush_one(hb_client_t *self, uint32_t k, int64_t now)
{
    s_outq_t *q = &self->outq[k];
    hb_rc_t rc = HB_OK;
    zmq_msg_t held; /* the previous part: its flag depends on what follows */
    s_call_t *held_call = NULL;
    for (size_t i = 0;; i++) {
        s_call_t *c = NULL;
        while (i < q->n && !(c = s_qent_call(self, &q->ents[i])))
            i++;
        if (held_call) {
            int flags = ZMQ_DONTWAIT | (c ? ZMQ_SNDMORE : 0);
            if (zmq_msg_send(&held, self->seq[k], flags) < 0) {
                snprintf(self->err, sizeof self->err, "send failed: %s",
                         zmq_strerror(zmq_errno()));
                zmq_msg_close(&held);
                rc = HB_IO;
            }
            held_call->sent_ms = now;
        }
        if (!c)
            break;
        zmq_msg_init(&held);
        zmq_msg_copy(&held, &c->frame);
        held_call = c;
    }
    q->n = 0;
    return rc;
}

/* Moves every call that waited retry_ms to the same group's sequencer in
 * the next replica, closes the sockets they leave if those stayed silent
 * all the while, and computes when the next call falls due. */
static void
s_retry_scan(hb_client_t *self, int64_t now)
{
    uint32_t P = self->cfg->partitions, R = self->cfg->replicas;
    int64_t next = S_NEVER;
    size_t nmoved = 0;
    bool *silent = NULL;
    for (size_t i = 0; i < self->calls_cap; i++) {
        s_call_t *c = &self->calls[i];
        if (c->id == S_EMPTY || c->id == S_TOMB || !c->sent_ms)
            continue; /* free, or queued and not flushed yet */
        if (now - c->sent_ms < self->retry_ms) {
            if (c->sent_ms + self->retry_ms < next)
                next = c->sent_ms + self->retry_ms;
            continue;
        }
        if (self->seq[c->sock] && self->last_rx_ms[c->sock] < c->sent_ms) {
            if (!silent)
                silent = hb_calloc(self->nsock, sizeof *silent);
            silent[c->sock] = true;
        }
        HB_GROW(self->moved, self->moved_cap, nmoved + 1, 64);
        self->moved[nmoved++] = c->id;
    }
    for (uint32_t k = 0; silent && k < self->nsock; k++)
        if (silent[k])
            s_seq_close(self, k);
    hb_free(silent);
    for (size_t m = 0; m < nmoved; m++) {
        s_call_t *c = s_calls_find(self, self->moved[m]);
        /* A replica we cannot even connect to is passed over: the next
         * scan moves the call on again. */
        uint32_t k = (c->sock / P + 1) % R * P + c->sock % P;
        char err[256];
        c->sent_ms = now;
        c->sock = k;
        c->attempt++;
        if (s_seq_socket(self, k, err, sizeof err)) {
            s_enqueue(self, k, c->id, c->attempt);
            self->retries++;
        } else {
            snprintf(self->err, sizeof self->err, "%s", err);
        }
        if (now + self->retry_ms < next)
            next = now + self->retry_ms;
    }
    self->next_scan_ms = next;
}

/* ------------------------------------------------------------ client */

/* One ZeroMQ context (and so one I/O thread) for every client of the
 * process: a benchmark with 64 client threads should not run 64 I/O
 * threads. Contexts are thread-safe; sockets stay per client. */
static pthread_mutex_t s_ctx_mu = PTHREAD_MUTEX_INITIALIZER;
static void *s_ctx;
static int s_ctx_refs;

static void *
s_ctx_acquire(void)
{
    pthread_mutex_lock(&s_ctx_mu);
    if (!s_ctx)
        s_ctx = zmq_ctx_new();
    s_ctx_refs++;
    void *ctx = s_ctx;
    pthread_mutex_unlock(&s_ctx_mu);
    return ctx;
}

static void
s_ctx_release(void)
{
    pthread_mutex_lock(&s_ctx_mu);
    if (--s_ctx_refs == 0) {
        zmq_ctx_term(s_ctx);
        s_ctx = NULL;
    }
    pthread_mutex_unlock(&s_ctx_mu);
}

hb_client_t *
hb_client_new(const char *config_path, uint16_t replica, char *err, size_t errlen)
{
    hb_config_t *cfg = NULL;
    if (hb_config_load(config_path, &cfg, err, errlen) != HB_OK)
        return NULL;
    hb_client_t *self = hb_client_new_cfg(cfg, replica, err, errlen);
    if (!self) {
        hb_config_destroy(&cfg);
        return NULL;
    }
    self->owned_cfg = cfg;
    return self;
}

hb_client_t *
hb_client_new_cfg(const struct hb_config *cfg, uint16_t replica, char *err, size_t errlen)
{
    if (replica >= cfg->replicas) {
        snprintf(err, errlen, "replica %u is not in %s (it has %u)", replica, cfg->path,
                 cfg->replicas);
        return NULL;
    }
    hb_client_t *self = hb_calloc(1, sizeof *self);
    self->cfg = cfg;
    self->replica = replica;
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, 0) != sizeof id)
        id = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)self;
    id |= 1ULL << 63; /* first routing-id byte must not be zero */
    self->client_id = id;
    self->next_req = 1;
    self->retry_ms = cfg->replicas > 1 ? 1000 : 0;
    self->next_scan_ms = S_NEVER;
    hb_lockset_init(&self->ls);
    self->zctx = s_ctx_acquire();
    uint32_t P = cfg->partitions;
    self->nsock = (uint32_t)cfg->replicas * P;
    self->seq = hb_calloc(self->nsock, sizeof *self->seq);
    self->outq = hb_calloc(self->nsock, sizeof *self->outq);
    self->last_rx_ms = hb_calloc(self->nsock, sizeof *self->last_rx_ms);
    self->drained_ms = hb_calloc(self->nsock, sizeof *self->drained_ms);
    self->open = hb_calloc(self->nsock, sizeof *self->open);
    self->items = hb_calloc(self->nsock, sizeof *self->items);
    self->stor = hb_calloc(P, sizeof *self->stor);
    for (uint32_t g = 0; g < P; g++) {
        if (!s_seq_socket(self, replica * P + g, err, errlen)) {
            hb_client_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void
hb_client_destroy(hb_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_client_t *self = *self_p;
    for (uint32_t k = 0; k < self->nsock; k++) {
        if (self->seq[k])
            zmq_close(self->seq[k]);
        hb_free(self->outq[k].ents);
    }
    if (self->stor)
        for (uint32_t g = 0; g < self->cfg->partitions; g++)
            if (self->stor[g])
                zmq_close(self->stor[g]);
    for (size_t i = 0; i < self->calls_cap; i++)
        if (self->calls[i].id != S_EMPTY && self->calls[i].id != S_TOMB)
            zmq_msg_close(&self->calls[i].frame);
    if (self->zctx)
        s_ctx_release();
    hb_free(self->seq);
    hb_free(self->outq);
    hb_free(self->last_rx_ms);
    hb_free(self->drained_ms);
    hb_free(self->moved);
    hb_free(self->open);
    hb_free(self->stor);
    hb_free(self->items);
    hb_free(self->calls);
    hb_lockset_clear(&self->ls);
    hb_config_destroy(&self->owned_cfg);
    hb_free(self);
    *self_p = NULL;
}

const char *
hb_client_last_error(const hb_client_t *self)
{
    return self->err;
}

uint32_t
hb_client_partitions(const hb_client_t *self)
{
    return self->cfg->partitions;
}

size_t
hb_client_pending(const hb_client_t *self)
{
    return self->calls_n;
}

void
hb_client_forget(hb_client_t *self, uint64_t req_id)
{
    s_call_t *c = s_calls_find(self, req_id);
    if (c)
        s_calls_del(self, c);
}

void
hb_client_set_retry(hb_client_t *self, int retry_ms)
{
    self->retry_ms = retry_ms > 0 ? retry_ms : 0;
    self->next_scan_ms = self->retry_ms ? s_mono_ms() : S_NEVER;
}

uint64_t
hb_client_retries(const hb_client_t *self)
{
    return self->retries;
}

hb_rc_t
hb_client_submit(hb_client_t *self, const char *proc, const hb_val_t *args,
                 uint32_t nargs, uint64_t *req_id)
{
    *req_id = 0;
    self->err[0] = '\0';
    const hb_proc_def_t *def = hb_proc_find(proc, strlen(proc));
    if (!def) {
        snprintf(self->err, sizeof self->err, "unknown procedure '%s'", proc);
        return HB_NOTFOUND;
    }
    hb_lockset_reset(&self->ls);
    hb_rc_t rc = hb_proc_plan(def, args, nargs, self->cfg->partitions, &self->ls,
                              self->err, sizeof self->err);
    if (rc != HB_OK)
        return rc;
    uint16_t group = self->ls.n ? self->ls.locks[0].partition : 0;
    uint64_t id = self->next_req++;
    hb_msg_t m = {.type = HB_MSG_SUBMIT};
    m.u.submit.req_id = id;
    m.u.submit.proc = def->name;
    m.u.submit.proc_len = (uint32_t)strlen(def->name);
    m.u.submit.nargs = nargs;
    m.u.submit.args = (hb_val_t *)args;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    rc = hb_msg_encode(&m, &sb);
    if (rc == HB_OK) {
        zmq_msg_t frame;
        zmq_msg_init_size(&frame, sb.size);
        memcpy(zmq_msg_data(&frame), sb.data, sb.size);
        uint32_t k = (uint32_t)self->replica * self->cfg->partitions + group;
        s_calls_add(self, id, &frame, k);
        if (self->seq[k] || s_seq_socket(self, k, self->err, sizeof self->err))
            s_enqueue(self, k, id, 1);
        else
            s_calls_find(self, id)->sent_ms = 1; /* due for a retry at once */
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc != HB_OK)
        return rc;
    *req_id = id;
    return HB_OK;
}

/* Turns a received RESULT frame into a result; NULL if it is not one, or
 * not one we wait for. */
static hb_result_t *
s_result_from(hb_client_t *self, zmq_msg_t *zm)
{
    hb_msg_t m;
    size_t len = zmq_msg_size(zm);
    uint8_t *copy = hb_memdup(zmq_msg_data(zm), len);
    if (hb_msg_decode(copy, len, &self->cfg->limits, &m) != HB_OK) {
        hb_free(copy);
        return NULL;
    }
    hb_result_t *res = NULL;
    s_call_t *c = m.type == HB_MSG_RESULT ? s_calls_find(self, m.u.result.req_id) : NULL;
    /* A busy replica refusing a retry says nothing of the copies sent
     * before, which may still run: keep waiting (and retrying). */
    if (c && m.u.result.rc == HB_BUSY && c->attempt > 1)
        c = NULL;
    if (c) {
        s_calls_del(self, c);
        res = hb_calloc(1, sizeof *res);
        res->req_id = m.u.result.req_id;
        res->rc = (hb_rc_t)m.u.result.rc;
        res->epoch = m.u.result.epoch;
        res->msg = hb_malloc(m.u.result.msg_len + 1);
        memcpy(res->msg, m.u.result.msg, m.u.result.msg_len);
        res->msg[m.u.result.msg_len] = '\0';
        res->nvals = m.u.result.nvals;
        res->vals = hb_calloc(m.u.result.nvals + 1, sizeof(hb_val_t));
        if (m.u.result.nvals)
            memcpy(res->vals, m.u.result.vals, sizeof(hb_val_t) * m.u.result.nvals);
        res->frame_ = copy;
        copy = NULL;
    }
    hb_msg_clear(&m);
    hb_free(copy);
    return res;
}

hb_rc_t
hb_client_flush(hb_client_t *self)
{
    hb_rc_t rc = HB_OK;
    int64_t now = 0;
    for (uint32_t j = 0; j < self->nopen; j++) {
        uint32_t k = self->open[j];
        s_outq_t *q = &self->outq[k];
        if (!q->n)
            continue;
        if (!now)
            now = s_mono_ms();
        if (s_flush_one(self, k, now) != HB_OK)
            rc = HB_IO;
    }
    if (now && self->retry_ms && now + self->retry_ms < self->next_scan_ms)
        self->next_scan_ms = now + self->retry_ms;
    return rc;
}

hb_rc_t
hb_client_poll(hb_client_t *self, int timeout_ms, hb_result_t **out)
{
    *out = NULL;
    hb_client_flush(self);
    self->clock_ms = s_mono_ms();
    int64_t deadline = self->clock_ms + timeout_ms;
    for (;;) {
        for (uint32_t j = 0; j < self->nopen; j++) {
            uint32_t k = self->open[j];
            zmq_msg_t zm;
            zmq_msg_init(&zm);
            while (zmq_msg_recv(&zm, self->seq[k], ZMQ_DONTWAIT) >= 0) {
                /* It may have waited unread since the socket was last
                 * found empty: only that bounds when it arrived. */
                self->last_rx_ms[k] = self->drained_ms[k];
                hb_result_t *res = s_result_from(self, &zm);
                if (res) {
                    zmq_msg_close(&zm);
                    *out = res;
                    return HB_OK;
                }
            }
            zmq_msg_close(&zm);
            self->drained_ms[k] = self->clock_ms;
        }
        int64_t now = s_mono_ms();
        if (self->retry_ms && now >= self->next_scan_ms) {
            s_retry_scan(self, now);
            hb_client_flush(self);
        }
        int64_t wait = deadline - now;
        if (wait <= 0)
            return HB_TIMEOUT;
        if (self->retry_ms && self->next_scan_ms - now < wait)
            wait = self->next_scan_ms > now ? self->next_scan_ms - now : 0;
        if (self->items_stale) {
            for (uint32_t j = 0; j < self->nopen; j++)
                self->items[j] =
                    (zmq_pollitem_t){self->seq[self->open[j]], 0, ZMQ_POLLIN, 0};
            self->items_stale = false;
        }
        if (zmq_poll(self->items, (int)self->nopen, (long)wait) < 0)
            return HB_IO;
        self->clock_ms = s_mono_ms();
    }
}

hb_rc_t
hb_client_call(hb_client_t *self, const char *proc, const hb_val_t *args, uint32_t nargs,
               int timeout_ms, hb_result_t **out)
{
    *out = NULL;
    uint64_t id;
    hb_rc_t rc = hb_client_submit(self, proc, args, nargs, &id);
    if (rc != HB_OK)
        return rc;
    int64_t deadline = s_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - s_mono_ms();
        hb_result_t *res = NULL;
        rc = hb_client_poll(self, left > 0 ? (int)left : 0, &res);
        if (rc != HB_OK) {
            hb_client_forget(self, id);
            snprintf(self->err, sizeof self->err, "no answer within %d ms", timeout_ms);
            return rc;
        }
        if (res->req_id == id) {
            *out = res;
            return HB_OK;
        }
        hb_result_destroy(&res); /* an older pipelined call: not ours */
    }
}

void
hb_result_destroy(hb_result_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_result_t *res = *self_p;
    hb_free(res->msg);
    hb_free(res->vals);
    hb_free(res->frame_);
    hb_free(res);
    *self_p = NULL;
}

hb_rc_t
hb_client_status(hb_client_t *self, int role, uint16_t replica, uint16_t partition,
                 int timeout_ms, char **out)
{
    *out = NULL;
    const char *ep =
        hb_config_endpoint(self->cfg, hb_node((hb_role_t)role, replica, partition));
    if (!ep)
        return HB_INVALID;
    void *s = zmq_socket(self->zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    hb_rc_t rc = HB_TIMEOUT;
    if (zmq_connect(s, ep) < 0) {
        rc = HB_IO;
        goto out;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    hb_msg_t req = {.type = HB_MSG_STATUS_REQ};
    hb_msg_encode(&req, &sb);
    zmq_send(s, sb.data, sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        goto out;
    zmq_msg_t zm;
    zmq_msg_init(&zm);
    if (zmq_msg_recv(&zm, s, 0) >= 0) {
        hb_msg_t m;
        if (hb_msg_decode(zmq_msg_data(&zm), zmq_msg_size(&zm), &self->cfg->limits, &m) ==
                HB_OK &&
            m.type == HB_MSG_STATUS) {
            size_t cap = 256, len = 0;
            char *text = malloc(cap);
            text[0] = '\0';
            for (uint32_t i = 0; i < m.u.status.nstats; i++) {
                const hb_wire_stat_t *e = &m.u.status.stats[i];
                char line[600];
                int n;
                if (e->val.type == HB_VAL_INT)
                    n = snprintf(line, sizeof line, "%.*s=%lld\n", (int)e->name_len,
                                 e->name, (long long)e->val.u.i);
                else
                    n = snprintf(line, sizeof line, "%.*s=%.*s\n", (int)e->name_len,
                                 e->name, (int)e->val.u.s.len,
                                 (const char *)e->val.u.s.ptr);
                if (n < 0)
                    continue;
                if ((size_t)n >= sizeof line)
                    n = sizeof line - 1;
                /* hb_realloc is realloc: the caller's free() still applies. */
                HB_GROW(text, cap, len + (size_t)n + 1, 256);
                memcpy(text + len, line, (size_t)n + 1);
                len += (size_t)n;
            }
            *out = text;
            rc = HB_OK;
            hb_msg_clear(&m);
        }
    }
    zmq_msg_close(&zm);
out:
    zmq_close(s);
    return rc;
}

/* ------------------------------------------------------------- scans */

/* Returns the DEALER to partition p's storage, connecting it on first use;
 * NULL (message in self->err) if it cannot connect. */
static void *
s_stor_socket(hb_client_t *self, uint16_t p)
{
    if (self->stor[p])
        return self->stor[p];
    const char *ep =
        hb_config_endpoint(self->cfg, hb_node(HB_ROLE_STORAGE, self->replica, p));
    if (!ep) {
        snprintf(self->err, sizeof self->err, "no storage endpoint for partition %u", p);
        return NULL;
    }
    void *s = zmq_socket(self->zctx, ZMQ_DEALER);
    uint8_t rid[8];
    hb_client_id_bytes(self->client_id, rid);
    int zero = 0;
    int64_t maxmsg = self->cfg->limits.max_frame_bytes;
    zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, sizeof rid);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect(s, ep) < 0) {
        snprintf(self->err, sizeof self->err, "cannot connect to %s: %s", ep,
                 zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    self->stor[p] = s;
    return s;
}

/* Turns a SCAN_RESULT frame for req_id into a result (taking the frame
 * copy); NULL if it is anything else. */
static hb_scan_result_t *
s_scan_result_from(hb_client_t *self, zmq_msg_t *zm, uint64_t req_id)
{
    hb_msg_t m;
    size_t len = zmq_msg_size(zm);
    uint8_t *copy = hb_memdup(zmq_msg_data(zm), len);
    if (hb_msg_decode(copy, len, &self->cfg->limits, &m) != HB_OK) {
        hb_free(copy);
        return NULL;
    }
    hb_scan_result_t *res = NULL;
    if (m.type == HB_MSG_SCAN_RESULT && m.u.scan_result.req_id == req_id) {
        res = hb_calloc(1, sizeof *res);
        res->req_id = req_id;
        res->rc = (hb_rc_t)m.u.scan_result.rc;
        res->epoch = m.u.scan_result.epoch;
        res->catver = m.u.scan_result.catver;
        res->msg = hb_malloc(m.u.scan_result.msg_len + 1);
        memcpy(res->msg, m.u.scan_result.msg, m.u.scan_result.msg_len);
        res->msg[m.u.scan_result.msg_len] = '\0';
        res->nrows = m.u.scan_result.nkvs;
        res->rows = hb_calloc(res->nrows + 1, sizeof *res->rows);
        for (uint32_t i = 0; i < res->nrows; i++) {
            const hb_wire_kv_t *kv = &m.u.scan_result.kvs[i];
            res->rows[i] = (hb_scan_row_t){kv->key, kv->klen, kv->val, kv->vlen};
        }
        res->frame_ = copy;
        copy = NULL;
    }
    hb_msg_clear(&m);
    hb_free(copy);
    return res;
}

hb_rc_t
hb_client_scan(hb_client_t *self, uint16_t partition, const void *start, size_t start_len,
               const void *end, size_t end_len, uint32_t limit, int timeout_ms,
               hb_scan_result_t **out)
{
    return hb_client_scan_at(self, partition, start, start_len, end, end_len, limit, 0,
                             timeout_ms, out);
}

hb_rc_t
hb_client_scan_at(hb_client_t *self, uint16_t partition, const void *start,
                  size_t start_len, const void *end, size_t end_len, uint32_t limit,
                  uint64_t at_epoch, int timeout_ms, hb_scan_result_t **out)
{
    *out = NULL;
    self->err[0] = '\0';
    if (partition >= self->cfg->partitions) {
        snprintf(self->err, sizeof self->err,
                 "partition %u is not in the cluster (it has %u)", partition,
                 self->cfg->partitions);
        return HB_INVALID;
    }
    if (limit < 1 || limit > HB_WIRE_MAX_SCAN) {
        snprintf(self->err, sizeof self->err, "scan limit must be 1..%d",
                 HB_WIRE_MAX_SCAN);
        return HB_INVALID;
    }
    if (start_len > self->cfg->limits.max_key_bytes ||
        end_len > self->cfg->limits.max_key_bytes || (start_len && !start) ||
        (end_len && !end)) {
        snprintf(self->err, sizeof self->err,
                 "scan bounds must be keys of at most %u bytes",
                 self->cfg->limits.max_key_bytes);
        return HB_INVALID;
    }
    void *s = s_stor_socket(self, partition);
    if (!s)
        return HB_IO;
    hb_client_flush(self); /* pipelined calls should not wait behind the scan */
    uint64_t id = self->next_req++;
    hb_msg_t m = {.type = HB_MSG_SCAN};
    m.u.scan.req_id = id;
    m.u.scan.start = start;
    m.u.scan.start_len = (uint32_t)start_len;
    m.u.scan.end = end;
    m.u.scan.end_len = (uint32_t)end_len;
    m.u.scan.limit = limit;
    m.u.scan.at_epoch = at_epoch;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    hb_rc_t rc = hb_msg_encode(&m, &sb);
    if (rc == HB_OK && zmq_send(s, sb.data, sb.size, 0) < 0) {
        snprintf(self->err, sizeof self->err, "send failed: %s",
                 zmq_strerror(zmq_errno()));
        rc = HB_IO;
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc != HB_OK)
        return rc;
    int64_t deadline = s_mono_ms() + timeout_ms;
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    for (;;) {
        zmq_msg_t zm;
        zmq_msg_init(&zm);
        while (zmq_msg_recv(&zm, s, ZMQ_DONTWAIT) >= 0) {
            hb_scan_result_t *res = s_scan_result_from(self, &zm, id);
            if (res) {
                zmq_msg_close(&zm);
                *out = res;
                return HB_OK;
            }
        }
        zmq_msg_close(&zm);
        int64_t left = deadline - s_mono_ms();
        if (left <= 0) {
            snprintf(self->err, sizeof self->err, "no scan answer within %d ms",
                     timeout_ms);
            return HB_TIMEOUT;
        }
        if (zmq_poll(&item, 1, (long)left) < 0)
            return HB_IO;
    }
}

void
hb_scan_result_destroy(hb_scan_result_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_scan_result_t *res = *self_p;
    hb_free(res->msg);
    hb_free(res->rows);
    hb_free(res->frame_);
    hb_free(res);
    *self_p = NULL;
}

/* ------------------------------------------------------- SQL sessions */

/* A session is one DEALER to one sqlfront with a random routing id (the
 * sqlfront keys its session state by it). A request is a SUBMIT of
 * procedure "sql"; the answer is one RESULT whose values are one group per
 * executed statement (docs/protocol.md, "SQL sessions"). Each statement's
 * result copies its strings into one block of its own (frame_), so results
 * outlive the frame and can be freed in any order. */

#define S_SQL_PROC "sql"

struct hb_sql {
    hb_config_t *cfg;               /* cluster config */
    uint16_t id;                    /* sqlfront id */
    char endpoint[HB_ENDPOINT_MAX]; /* its endpoint */
    void *zctx;                     /* the process's shared ZeroMQ context */
    void *sock;                     /* DEALER connected to the sqlfront */
    uint64_t next_req;              /* next request id */
    char err[512];                  /* last error text */
};

hb_sql_t *
hb_sql_connect(const char *config_path, uint16_t id, char *err, size_t errlen)
{
    hb_config_t *cfg = NULL;
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (hb_config_load(config_path, &cfg, err, errlen) != HB_OK)
        return NULL;
    const hb_sqlfront_cfg_t *f = hb_config_sqlfront(cfg, id);
    if (!f) {
        snprintf(err, errlen, "%s has no sqlfront %u (it has %u sqlfront section(s))",
                 config_path, id, cfg->nsqlfronts);
        hb_config_destroy(&cfg);
        return NULL;
    }
    hb_sql_t *self = hb_calloc(1, sizeof *self);
    self->cfg = cfg;
    self->id = id;
    snprintf(self->endpoint, sizeof self->endpoint, "%s", f->endpoint);
    self->next_req = 1;
    self->zctx = s_ctx_acquire();
    uint64_t sid = 0;
    if (getrandom(&sid, sizeof sid, 0) != sizeof sid)
        sid = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)self;
    sid |= 1ULL << 63; /* first routing-id byte must not be zero */
    uint8_t rid[8];
    hb_client_id_bytes(sid, rid);
    void *s = zmq_socket(self->zctx, ZMQ_DEALER);
    int zero = 0;
    int64_t maxmsg = cfg->limits.max_frame_bytes;
    zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, sizeof rid);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect(s, self->endpoint) < 0) {
        snprintf(err, errlen, "cannot connect to sqlfront %u at %s: %s", id,
                 self->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        hb_sql_destroy(&self);
        return NULL;
    }
    self->sock = s;
    return self;
}

void
hb_sql_destroy(hb_sql_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_sql_t *self = *self_p;
    if (self->sock)
        zmq_close(self->sock);
    if (self->zctx)
        s_ctx_release();
    hb_config_destroy(&self->cfg);
    hb_free(self);
    *self_p = NULL;
}

const char *
hb_sql_last_error(const hb_sql_t *self)
{
    return self->err;
}

void
hb_sql_result_free(hb_sql_result_t **self_p)
{
    if (!self_p)
        return;
    hb_sql_result_t *r = *self_p;
    while (r) {
        hb_sql_result_t *next = r->next;
        hb_free(r->colnames);
        hb_free(r->coltypes);
        hb_free(r->cells);
        hb_free(r->frame_);
        hb_free(r);
        r = next;
    }
    *self_p = NULL;
}

/* Bump allocator over one result's string block. */
typedef struct {
    char *base;  /* the block (becomes the result's frame_) */
    size_t used; /* bytes handed out */
} s_arena_t;

/* Copies len bytes plus a NUL into the arena; returns the copy. */
static char *
s_arena_put(s_arena_t *a, const void *p, size_t len)
{
    char *out = a->base + a->used;
    if (len)
        memcpy(out, p, len);
    out[len] = '\0';
    a->used += len + 1;
    return out;
}

/* Builds one result of a failed statement from the RESULT's msg: "XXXXX
 * text" (SQLSTATE, one space, text), or anything else, which is reported
 * as XX000 (internal_error) with the whole msg, or the name of rc. */
static hb_sql_result_t *
s_sql_error_result(hb_rc_t rc, const char *msg, uint32_t len, uint64_t epoch)
{
    char state[6];
    size_t textlen;
    hb_sqlstate_split(msg, len, state, &msg, &textlen);
    len = (uint32_t)textlen;
    if (len == 0) {
        msg = hb_rc_str(rc);
        len = (uint32_t)strlen(msg);
    }
    /* "00000" would read as success. */
    if (strcmp(state, "00000") == 0)
        memcpy(state, "XX000", 5);
    hb_sql_result_t *r = hb_calloc(1, sizeof *r);
    s_arena_t a = {.base = hb_malloc((size_t)len + 2), .used = 0};
    memcpy(r->sqlstate, state, sizeof r->sqlstate);
    r->message = s_arena_put(&a, msg, len);
    r->tag = s_arena_put(&a, "", 0);
    r->colnames = hb_calloc(1, sizeof *r->colnames);
    r->coltypes = hb_calloc(1, sizeof *r->coltypes);
    r->cells = hb_calloc(1, sizeof *r->cells);
    r->epoch = epoch;
    r->frame_ = a.base;
    return r;
}

/* Reads a non-negative integer value at most max. */
static bool
s_sql_count(const hb_val_t *v, uint64_t max, uint64_t *out)
{
    if (v->type != HB_VAL_INT || v->u.i < 0 || (uint64_t)v->u.i > max)
        return false;
    *out = (uint64_t)v->u.i;
    return true;
}

/* Decodes the statement group at vals[*pos]: [tag, ncols, (name, type) x
 * ncols, nrows, cells..., epoch]. Returns HB_OK with *out (caller owns)
 * and *pos past the group, or HB_PROTO with a message in self->err. */
static hb_rc_t
s_sql_group(hb_sql_t *self, const hb_val_t *v, uint32_t n, uint32_t *pos,
            hb_sql_result_t **out)
{
    uint32_t g = *pos, i = *pos;
    uint64_t ncols = 0, nrows = 0, epoch = 0, ncells = 0;
    *out = NULL;
#define S_BAD(what)                                                                      \
    do {                                                                                 \
        snprintf(self->err, sizeof self->err,                                            \
                 "malformed answer from sqlfront %u: value %u: %s", self->id, i, what);  \
        return HB_PROTO;                                                                 \
    } while (0)
    if (v[i].type != HB_VAL_STR)
        S_BAD("command tag is not a string");
    i++;
    /* Every count is bounded by the values left, so a lying count never
     * makes us allocate or read more than the frame holds. */
    if (i >= n || !s_sql_count(&v[i], (n - i - 1) / 2, &ncols))
        S_BAD("column count is not an integer within the values left");
    i++;
    for (uint64_t c = 0; c < 2 * ncols; c++, i++)
        if (v[i].type != HB_VAL_STR)
            S_BAD("column name or type is not a string");
    if (i >= n || !s_sql_count(&v[i], UINT32_MAX, &nrows))
        S_BAD("row count is not an integer 0..4294967295");
    ncells = nrows * ncols; /* both < 2^32: no overflow */
    if (ncells > n - i - 1)
        S_BAD("rows * columns is more than the values left");
    uint32_t cells_at = ++i;
    i += (uint32_t)ncells;
    if (i >= n)
        S_BAD("epoch is missing");
    if (!s_sql_count(&v[i], UINT64_MAX >> 1, &epoch))
        S_BAD("epoch is not a non-negative integer");
    i++;
#undef S_BAD

    /* One block for every string of the result, NUL-terminated. */
    size_t bytes = 1 + (size_t)v[g].u.s.len + 1;
    for (uint32_t k = g + 2; k < g + 2 + 2 * (uint32_t)ncols; k++)
        bytes += (size_t)v[k].u.s.len + 1;
    for (uint32_t k = cells_at; k < cells_at + ncells; k++)
        if (v[k].type == HB_VAL_STR || v[k].type == HB_VAL_BIN)
            bytes += (size_t)v[k].u.s.len + 1;
    hb_sql_result_t *r = hb_calloc(1, sizeof *r);
    s_arena_t a = {.base = hb_malloc(bytes), .used = 0};
    memcpy(r->sqlstate, "00000", sizeof r->sqlstate);
    r->message = s_arena_put(&a, "", 0);
    r->tag = s_arena_put(&a, v[g].u.s.ptr, v[g].u.s.len);
    r->ncols = (uint32_t)ncols;
    r->colnames = hb_calloc(ncols + 1, sizeof *r->colnames);
    r->coltypes = hb_calloc(ncols + 1, sizeof *r->coltypes);
    for (uint32_t c = 0; c < ncols; c++) {
        const hb_val_t *name = &v[g + 2 + 2 * c], *type = name + 1;
        r->colnames[c] = s_arena_put(&a, name->u.s.ptr, name->u.s.len);
        r->coltypes[c] = s_arena_put(&a, type->u.s.ptr, type->u.s.len);
    }
    r->nrows = (uint32_t)nrows;
    r->cells = hb_calloc(ncells + 1, sizeof *r->cells);
    for (uint64_t k = 0; k < ncells; k++) {
        hb_val_t cell = v[cells_at + k];
        if (cell.type == HB_VAL_STR || cell.type == HB_VAL_BIN)
            cell.u.s.ptr = (const uint8_t *)s_arena_put(&a, cell.u.s.ptr, cell.u.s.len);
        r->cells[k] = cell;
    }
    r->epoch = epoch;
    r->frame_ = a.base;
    *out = r;
    *pos = i;
    return HB_OK;
}

/* Turns the RESULT m into the statement list *out. Returns HB_OK or
 * HB_PROTO (message in self->err; *out = NULL). */
static hb_rc_t
s_sql_results(hb_sql_t *self, const hb_msg_t *m, hb_sql_result_t **out)
{
    hb_sql_result_t *head = NULL, **tail = &head;
    uint32_t pos = 0;
    *out = NULL;
    while (pos < m->u.result.nvals) {
        hb_sql_result_t *r = NULL;
        hb_rc_t rc = s_sql_group(self, m->u.result.vals, m->u.result.nvals, &pos, &r);
        if (rc != HB_OK) {
            hb_sql_result_free(&head);
            return rc;
        }
        *tail = r;
        tail = &r->next;
    }
    if (m->u.result.rc != HB_OK)
        *tail = s_sql_error_result((hb_rc_t)m->u.result.rc, m->u.result.msg,
                                   m->u.result.msg_len, m->u.result.epoch);
    *out = head;
    return HB_OK;
}

hb_rc_t
hb_sql_exec(hb_sql_t *self, const char *sql, const hb_val_t *params, uint32_t nparams,
            int timeout_ms, hb_sql_result_t **out)
{
    const hb_limits_t *lim = &self->cfg->limits;
    hb_val_t *args = NULL;
    msgpack_sbuffer sb;
    hb_rc_t rc = HB_OK;

    *out = NULL;
    self->err[0] = '\0';
    msgpack_sbuffer_init(&sb);
    if (!sql || (nparams && !params)) {
        snprintf(self->err, sizeof self->err, "%s",
                 sql ? "params is NULL" : "sql is NULL");
        rc = HB_INVALID;
        goto out;
    }
    size_t sqllen = strlen(sql);
    if ((uint64_t)nparams + 1 > lim->max_args) {
        snprintf(self->err, sizeof self->err,
                 "%u parameters: at most %u fit in one request (limits/max_args - 1)",
                 nparams, lim->max_args - 1);
        rc = HB_TOOBIG;
        goto out;
    }
    if (sqllen > lim->max_value_bytes) {
        snprintf(self->err, sizeof self->err,
                 "SQL text of %zu bytes is longer than limits/max_value_bytes (%u)",
                 sqllen, lim->max_value_bytes);
        rc = HB_TOOBIG;
        goto out;
    }
    for (uint32_t i = 0; i < nparams; i++)
        if ((params[i].type == HB_VAL_STR || params[i].type == HB_VAL_BIN) &&
            params[i].u.s.len > lim->max_value_bytes) {
            snprintf(
                self->err, sizeof self->err,
                "parameter $%u of %u bytes is longer than limits/max_value_bytes (%u)",
                i + 1, params[i].u.s.len, lim->max_value_bytes);
            rc = HB_TOOBIG;
            goto out;
        }
    args = hb_calloc((size_t)nparams + 1, sizeof *args);
    args[0] = hb_val_str(sql, (uint32_t)sqllen);
    if (nparams)
        memcpy(args + 1, params, (size_t)nparams * sizeof *args);
    uint64_t id = self->next_req++;
    hb_msg_t m = {.type = HB_MSG_SUBMIT};
    m.u.submit.req_id = id;
    m.u.submit.proc = S_SQL_PROC;
    m.u.submit.proc_len = (uint32_t)strlen(S_SQL_PROC);
    m.u.submit.nargs = nparams + 1;
    m.u.submit.args = args;
    if ((rc = hb_msg_encode(&m, &sb)) != HB_OK) {
        snprintf(self->err, sizeof self->err, "cannot encode the request: %s",
                 hb_rc_str(rc));
        goto out;
    }
    if (sb.size > lim->max_frame_bytes) {
        snprintf(self->err, sizeof self->err,
                 "request of %zu bytes is longer than limits/max_frame_bytes (%u)",
                 sb.size, lim->max_frame_bytes);
        rc = HB_TOOBIG;
        goto out;
    }
    if (zmq_send(self->sock, sb.data, sb.size, ZMQ_DONTWAIT) < 0) {
        snprintf(self->err, sizeof self->err, "cannot send to sqlfront %u at %s: %s",
                 self->id, self->endpoint, zmq_strerror(zmq_errno()));
        rc = HB_IO;
        goto out;
    }

    int64_t deadline = s_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    for (;;) {
        zmq_msg_t zm;
        zmq_msg_init(&zm);
        while (zmq_msg_recv(&zm, self->sock, ZMQ_DONTWAIT) >= 0) {
            /* A RESULT carries one value per cell: bound the count by the
             * frame (every value is at least one byte), not by max_args,
             * which is for procedure arguments. */
            hb_limits_t rlim = *lim;
            size_t len = zmq_msg_size(&zm);
            rlim.max_args = len < UINT32_MAX ? (uint32_t)len : UINT32_MAX;
            hb_msg_t r;
            if (hb_msg_decode(zmq_msg_data(&zm), len, &rlim, &r) != HB_OK)
                continue; /* logged and counted by the decoder */
            /* Anything but the answer awaited (a late one to a request
             * that timed out, ...) is dropped. */
            if (r.type == HB_MSG_RESULT && r.u.result.req_id == id) {
                rc = s_sql_results(self, &r, out);
                hb_msg_clear(&r);
                zmq_msg_close(&zm);
                goto out;
            }
            hb_msg_clear(&r);
        }
        zmq_msg_close(&zm);
        int64_t left = deadline - s_mono_ms();
        if (left <= 0) {
            snprintf(self->err, sizeof self->err,
                     "no answer from sqlfront %u at %s within %d ms", self->id,
                     self->endpoint, timeout_ms);
            rc = HB_TIMEOUT;
            goto out;
        }
        if (zmq_poll(&item, 1, (long)left) < 0 && zmq_errno() != EINTR) {
            snprintf(self->err, sizeof self->err, "poll failed: %s",
                     zmq_strerror(zmq_errno()));
            rc = HB_IO;
            goto out;
        }
    }
out:
    msgpack_sbuffer_destroy(&sb);
    hb_free(args);
    return rc;
}
