/* client.c — libhobbes (see hobbes.h).
 *
 * One DEALER per sequencer of the chosen replica, all with the same routing
 * id (the client id), so whichever sequencer took a call can answer it.
 * Pending request ids live in a small open-addressing set; results for ids
 * not in it (late, duplicated by a replay, or forgotten) are dropped.
 * Snapshot scans go to a partition's storage through one more DEALER per
 * partition (made on first use, same routing id, so the storage can
 * answer); a scan waits for its own answer and drops late ones.
 */
#include "hobbes.h"

#include <pthread.h>
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
#include "hb_wire.h"

#define S_EMPTY 0
#define S_TOMB UINT64_MAX

/* Calls submitted but not yet flushed to one sequencer. */
typedef struct {
    zmq_msg_t *msgs; /* frames, in submit order */
    size_t n;        /* queued */
    size_t cap;      /* allocated */
} s_outq_t;

struct hb_client {
    hb_config_t *cfg;     /* cluster config */
    s_outq_t *outq;       /* per group: submits waiting for the next flush */
    uint16_t replica;     /* replica we talk to */
    uint64_t client_id;   /* our routing id */
    uint64_t next_req;    /* next request id */
    void *zctx;           /* ZeroMQ context */
    void **seq;           /* DEALER per group */
    void **stor;          /* DEALER per partition's storage (lazy; scans) */
    zmq_pollitem_t *items; /* poll set over seq */
    hb_lockset_t ls;      /* scratch lock set */
    uint64_t *pend;       /* pending req ids (open addressing) */
    size_t pend_cap;      /* slots, power of two */
    size_t pend_n;        /* live entries */
    size_t pend_used;     /* live + tombstones */
    char err[512];        /* last error text */
};

/* ------------------------------------------------------- pending set */

static size_t
s_slot(uint64_t id, size_t cap)
{
    return (size_t)(id * 0x9e3779b97f4a7c15ULL >> 20) & (cap - 1);
}

static void s_pend_add(hb_client_t *self, uint64_t id);

static void
s_pend_grow(hb_client_t *self)
{
    uint64_t *old = self->pend;
    size_t oldcap = self->pend_cap;
    self->pend_cap = oldcap ? (self->pend_n * 4 > oldcap ? oldcap * 2 : oldcap) : 64;
    self->pend = hb_calloc(self->pend_cap, sizeof *self->pend);
    self->pend_n = self->pend_used = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i] != S_EMPTY && old[i] != S_TOMB)
            s_pend_add(self, old[i]);
    hb_free(old);
}

static void
s_pend_add(hb_client_t *self, uint64_t id)
{
    if ((self->pend_used + 1) * 2 > self->pend_cap)
        s_pend_grow(self);
    size_t i = s_slot(id, self->pend_cap);
    while (self->pend[i] != S_EMPTY && self->pend[i] != S_TOMB)
        i = (i + 1) & (self->pend_cap - 1);
    if (self->pend[i] == S_EMPTY)
        self->pend_used++;
    self->pend[i] = id;
    self->pend_n++;
}

/* Removes id; returns 1 if it was pending. */
static int
s_pend_take(hb_client_t *self, uint64_t id)
{
    if (!self->pend_cap)
        return 0;
    size_t i = s_slot(id, self->pend_cap);
    while (self->pend[i] != S_EMPTY) {
        if (self->pend[i] == id) {
            self->pend[i] = S_TOMB;
            self->pend_n--;
            return 1;
        }
        i = (i + 1) & (self->pend_cap - 1);
    }
    return 0;
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
    if (replica >= cfg->replicas) {
        snprintf(err, errlen, "replica %u is not in %s (it has %u)", replica, config_path,
                 cfg->replicas);
        hb_config_destroy(&cfg);
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
    hb_lockset_init(&self->ls);
    self->zctx = s_ctx_acquire();
    uint32_t P = cfg->partitions;
    self->outq = hb_calloc(P, sizeof *self->outq);
    self->seq = hb_calloc(P, sizeof *self->seq);
    self->stor = hb_calloc(P, sizeof *self->stor);
    self->items = hb_calloc(P, sizeof *self->items);
    uint8_t rid[8];
    hb_client_id_bytes(id, rid);
    for (uint32_t g = 0; g < P; g++) {
        void *s = zmq_socket(self->zctx, ZMQ_DEALER);
        int zero = 0, hwm = 1000000;
        int64_t maxmsg = cfg->limits.max_frame_bytes;
        zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, sizeof rid);
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        const char *ep = hb_config_endpoint(cfg, hb_node(HB_ROLE_SEQUENCER, replica, (uint16_t)g));
        if (zmq_connect(s, ep) < 0) {
            snprintf(err, errlen, "cannot connect to %s: %s", ep, zmq_strerror(zmq_errno()));
            zmq_close(s);
            hb_client_destroy(&self);
            return NULL;
        }
        self->seq[g] = s;
        self->items[g] = (zmq_pollitem_t){s, 0, ZMQ_POLLIN, 0};
    }
    return self;
}

void
hb_client_destroy(hb_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_client_t *self = *self_p;
    if (self->seq)
        for (uint32_t g = 0; g < self->cfg->partitions; g++)
            if (self->seq[g])
                zmq_close(self->seq[g]);
    if (self->stor)
        for (uint32_t g = 0; g < self->cfg->partitions; g++)
            if (self->stor[g])
                zmq_close(self->stor[g]);
    if (self->outq) {
        for (uint32_t g = 0; g < self->cfg->partitions; g++) {
            for (size_t i = 0; i < self->outq[g].n; i++)
                zmq_msg_close(&self->outq[g].msgs[i]);
            hb_free(self->outq[g].msgs);
        }
        hb_free(self->outq);
    }
    if (self->zctx)
        s_ctx_release();
    hb_free(self->seq);
    hb_free(self->stor);
    hb_free(self->items);
    hb_free(self->pend);
    hb_lockset_clear(&self->ls);
    hb_config_destroy(&self->cfg);
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
    return self->pend_n;
}

void
hb_client_forget(hb_client_t *self, uint64_t req_id)
{
    s_pend_take(self, req_id);
}

hb_rc_t
hb_client_submit(hb_client_t *self, const char *proc, const hb_val_t *args, uint32_t nargs,
                 uint64_t *req_id)
{
    *req_id = 0;
    self->err[0] = '\0';
    const hb_proc_def_t *def = hb_proc_find(proc, strlen(proc));
    if (!def) {
        snprintf(self->err, sizeof self->err, "unknown procedure '%s'", proc);
        return HB_NOTFOUND;
    }
    hb_lockset_reset(&self->ls);
    hb_rc_t rc = hb_proc_plan(def, args, nargs, self->cfg->partitions, &self->ls, self->err,
                              sizeof self->err);
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
        s_outq_t *q = &self->outq[group];
        if (q->n == q->cap) {
            q->cap = q->cap ? q->cap * 2 : 16;
            q->msgs = hb_realloc(q->msgs, q->cap * sizeof *q->msgs);
        }
        zmq_msg_init_size(&q->msgs[q->n], sb.size);
        memcpy(zmq_msg_data(&q->msgs[q->n]), sb.data, sb.size);
        q->n++;
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc != HB_OK)
        return rc;
    s_pend_add(self, id);
    *req_id = id;
    return HB_OK;
}

/* Turns a received RESULT frame into a result; NULL if it is not one. */
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
    if (m.type == HB_MSG_RESULT && s_pend_take(self, m.u.result.req_id)) {
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

static int64_t
s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

hb_rc_t
hb_client_flush(hb_client_t *self)
{
    hb_rc_t rc = HB_OK;
    for (uint32_t g = 0; g < self->cfg->partitions; g++) {
        s_outq_t *q = &self->outq[g];
        for (size_t i = 0; i < q->n; i++) {
            int more = i + 1 < q->n ? ZMQ_SNDMORE : 0;
            if (zmq_msg_send(&q->msgs[i], self->seq[g], more) < 0) {
                snprintf(self->err, sizeof self->err, "send failed: %s",
                         zmq_strerror(zmq_errno()));
                zmq_msg_close(&q->msgs[i]);
                rc = HB_IO;
            }
        }
        q->n = 0;
    }
    return rc;
}

hb_rc_t
hb_client_poll(hb_client_t *self, int timeout_ms, hb_result_t **out)
{
    *out = NULL;
    hb_client_flush(self);
    int64_t deadline = s_mono_ms() + timeout_ms;
    uint32_t P = self->cfg->partitions;
    for (;;) {
        for (uint32_t g = 0; g < P; g++) {
            zmq_msg_t zm;
            zmq_msg_init(&zm);
            while (zmq_msg_recv(&zm, self->seq[g], ZMQ_DONTWAIT) >= 0) {
                hb_result_t *res = s_result_from(self, &zm);
                if (res) {
                    zmq_msg_close(&zm);
                    *out = res;
                    return HB_OK;
                }
            }
            zmq_msg_close(&zm);
        }
        int64_t left = deadline - s_mono_ms();
        if (left <= 0)
            return HB_TIMEOUT;
        if (zmq_poll(self->items, (int)P, (long)left) < 0)
            return HB_IO;
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
    const char *ep = hb_config_endpoint(self->cfg, hb_node((hb_role_t)role, replica, partition));
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
                    n = snprintf(line, sizeof line, "%.*s=%lld\n", (int)e->name_len, e->name,
                                 (long long)e->val.u.i);
                else
                    n = snprintf(line, sizeof line, "%.*s=%.*s\n", (int)e->name_len, e->name,
                                 (int)e->val.u.s.len, (const char *)e->val.u.s.ptr);
                if (n < 0)
                    continue;
                if ((size_t)n >= sizeof line)
                    n = sizeof line - 1;
                while (len + (size_t)n + 1 > cap)
                    cap *= 2;
                text = realloc(text, cap);
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
    const char *ep = hb_config_endpoint(self->cfg, hb_node(HB_ROLE_STORAGE, self->replica, p));
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
    *out = NULL;
    self->err[0] = '\0';
    if (partition >= self->cfg->partitions) {
        snprintf(self->err, sizeof self->err, "partition %u is not in the cluster (it has %u)",
                 partition, self->cfg->partitions);
        return HB_INVALID;
    }
    if (limit < 1 || limit > HB_WIRE_MAX_SCAN) {
        snprintf(self->err, sizeof self->err, "scan limit must be 1..%d", HB_WIRE_MAX_SCAN);
        return HB_INVALID;
    }
    if (start_len > self->cfg->limits.max_key_bytes || end_len > self->cfg->limits.max_key_bytes ||
        (start_len && !start) || (end_len && !end)) {
        snprintf(self->err, sizeof self->err, "scan bounds must be keys of at most %u bytes",
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
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    hb_rc_t rc = hb_msg_encode(&m, &sb);
    if (rc == HB_OK && zmq_send(s, sb.data, sb.size, 0) < 0) {
        snprintf(self->err, sizeof self->err, "send failed: %s", zmq_strerror(zmq_errno()));
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
            snprintf(self->err, sizeof self->err, "no scan answer within %d ms", timeout_ms);
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
