/* hb_net.c — a process's sockets: one bound ROUTER, lazy DEALERs to peers.
 *
 * The DEALER for a peer is created on first send and kept; ZeroMQ
 * reconnects it by itself when the peer restarts. Sends never block: a full
 * queue drops the frame and counts it (protocols above retry by replay).
 */
#include "hb_net.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "hb_alloc.h"
#include "hb_log.h"

#define HB_NET_HWM 1000000

/* One queued frame. */
typedef struct {
    int32_t peer;    /* index into peers, or -1: ROUTER to `id` */
    uint8_t idlen;   /* routing id length (ROUTER sends) */
    uint8_t id[255]; /* routing id (ROUTER sends) */
    int32_t next;    /* next queued frame for the same destination, -1 */
    uint8_t sent;    /* already sent in this flush */
    zmq_msg_t msg;   /* the frame */
} s_out_t;

struct hb_net {
    const hb_config_t *cfg; /* borrowed cluster config */
    hb_node_t self;         /* who we are */
    zsock_t *router;        /* our bound ROUTER */
    zsock_t **peers;        /* DEALER per (role, replica, partition), lazily made */
    size_t npeers;          /* entries in peers */
    s_out_t *out;           /* frames queued since the last flush */
    size_t nout;            /* queued */
    size_t capout;          /* allocated */
    uint64_t dropped;       /* frames dropped on send */
};

static void
s_tune(zsock_t *sock, const hb_config_t *cfg)
{
    zsock_set_sndhwm(sock, HB_NET_HWM);
    zsock_set_rcvhwm(sock, HB_NET_HWM);
    zsock_set_maxmsgsize(sock, (int)cfg->limits.max_frame_bytes);
    zsock_set_linger(sock, 200);
}

hb_net_t *
hb_net_new(const hb_config_t *cfg, hb_node_t self, const char *bind_override)
{
    const char *endpoint = bind_override ? bind_override : hb_config_endpoint(cfg, self);
    if (!endpoint) {
        hb_error("no endpoint for role %d r%u p%u", self.role, self.replica,
                 self.partition);
        return NULL;
    }
    hb_net_t *net = hb_calloc(1, sizeof *net);
    net->cfg = cfg;
    net->self = self;
    net->npeers = (size_t)5 * cfg->replicas * cfg->partitions;
    net->peers = hb_calloc(net->npeers, sizeof *net->peers);
    net->router = zsock_new(ZMQ_ROUTER);
    if (!net->router)
        goto fail;
    s_tune(net->router, cfg);
    if (zsock_bind(net->router, "%s", endpoint) < 0) {
        hb_error("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    hb_info("listening on %s", endpoint);
    return net;
fail:
    hb_net_destroy(&net);
    return NULL;
}

void
hb_net_destroy(hb_net_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_net_t *net = *self_p;
    for (size_t i = 0; i < net->nout; i++)
        zmq_msg_close(&net->out[i].msg);
    hb_free(net->out);
    for (size_t i = 0; i < net->npeers; i++)
        zsock_destroy(&net->peers[i]);
    hb_free(net->peers);
    zsock_destroy(&net->router);
    hb_free(net);
    *self_p = NULL;
}

zsock_t *
hb_net_router(hb_net_t *self)
{
    return self->router;
}

static zsock_t *
s_peer(hb_net_t *self, hb_node_t to)
{
    if (to.replica >= self->cfg->replicas || to.partition >= self->cfg->partitions ||
        to.role > HB_ROLE_SQLFRONT)
        return NULL;
    size_t idx =
        ((size_t)to.role * self->cfg->replicas + to.replica) * self->cfg->partitions +
        to.partition;
    if (self->peers[idx])
        return self->peers[idx];
    const char *endpoint = hb_config_endpoint(self->cfg, to);
    if (!endpoint)
        return NULL;
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return NULL;
    s_tune(sock, self->cfg);
    zsock_set_immediate(sock, 0);
    if (zsock_connect(sock, "%s", endpoint) < 0) {
        hb_error("cannot connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
        return NULL;
    }
    self->peers[idx] = sock;
    return sock;
}

static s_out_t *
s_queue(hb_net_t *self, const void *frame, size_t len)
{
    HB_GROW(self->out, self->capout, self->nout + 1, 256);
    s_out_t *o = &self->out[self->nout++];
    zmq_msg_init_size(&o->msg, len);
    if (len)
        memcpy(zmq_msg_data(&o->msg), frame, len);
    o->next = -1;
    o->sent = 0;
    o->idlen = 0;
    return o;
}

hb_rc_t
hb_net_send(hb_net_t *self, hb_node_t to, const void *frame, size_t len)
{
    zsock_t *sock = s_peer(self, to);
    if (!sock) {
        self->dropped++;
        return HB_INVALID;
    }
    size_t idx =
        ((size_t)to.role * self->cfg->replicas + to.replica) * self->cfg->partitions +
        to.partition;
    s_out_t *o = s_queue(self, frame, len);
    o->peer = (int32_t)idx;
    return HB_OK;
}

hb_rc_t
hb_net_send_id(hb_net_t *self, const void *id, size_t idlen, const void *frame,
               size_t len)
{
    if (idlen == 0 || idlen > sizeof((s_out_t *)0)->id) {
        self->dropped++;
        return HB_INVALID;
    }
    s_out_t *o = s_queue(self, frame, len);
    o->peer = -1;
    o->idlen = (uint8_t)idlen;
    memcpy(o->id, id, idlen);
    return HB_OK;
}

static int
s_same_dest(const s_out_t *a, const s_out_t *b)
{
    if (a->peer != b->peer)
        return 0;
    return a->peer >= 0 || (a->idlen == b->idlen && memcmp(a->id, b->id, a->idlen) == 0);
}

void
hb_net_flush(hb_net_t *self)
{
    /* Link each frame to the next one for the same destination. Most turns
     * have a handful of destinations, so a short list of open chains is
     * enough; it keeps per-destination order without hashing. */
    int32_t tails[64];
    int32_t heads[64];
    size_t nchains = 0;
    for (size_t i = 0; i < self->nout; i++) {
        size_t c = 0;
        while (c < nchains && !s_same_dest(&self->out[heads[c]], &self->out[i]))
            c++;
        if (c == nchains) {
            if (nchains == 64) {
                /* Too many destinations this turn: the rest go one by one. */
                continue;
            }
            heads[nchains] = tails[nchains] = (int32_t)i;
            nchains++;
        } else {
            self->out[tails[c]].next = (int32_t)i;
            tails[c] = (int32_t)i;
        }
    }
    for (size_t i = 0; i < self->nout; i++) {
        s_out_t *o = &self->out[i];
        if (o->sent)
            continue;
        void *sock = o->peer >= 0 ? zsock_resolve(self->peers[o->peer])
                                  : zsock_resolve(self->router);
        int ok = 1;
        if (o->peer < 0)
            ok = zmq_send(sock, o->id, o->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
        for (int32_t j = (int32_t)i; j >= 0; j = self->out[j].next) {
            s_out_t *f = &self->out[j];
            int more = f->next >= 0 ? ZMQ_SNDMORE : 0;
            if (ok && zmq_msg_send(&f->msg, sock, more | ZMQ_DONTWAIT) < 0) {
                ok = 0;
                hb_warn("send to %s dropped: %s", o->peer >= 0 ? "a peer" : "a client",
                        zmq_strerror(zmq_errno()));
            }
            if (!ok) {
                zmq_msg_close(&f->msg);
                self->dropped++;
            }
            f->sent = 1;
        }
    }
    self->nout = 0;
}

void
hb_client_id_bytes(uint64_t client_id, uint8_t out[8])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(client_id >> (56 - 8 * i));
}

hb_rc_t
hb_net_send_client(hb_net_t *self, uint64_t client_id, const void *frame, size_t len)
{
    uint8_t id[8];
    hb_client_id_bytes(client_id, id);
    return hb_net_send_id(self, id, sizeof id, frame, len);
}

hb_rc_t
hb_net_recv(hb_net_t *self, uint8_t *id, size_t idcap, size_t *idlen, zmsg_t **frames)
{
    *frames = NULL;
    *idlen = 0;
    void *s = zsock_resolve(self->router);
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, s, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return HB_BUSY;
    }
    size_t n = zmq_msg_size(&part);
    memcpy(id, zmq_msg_data(&part), n < idcap ? n : idcap);
    *idlen = n < idcap ? n : idcap;
    zmsg_t *msg = zmsg_new();
    size_t parts = 0;
    while (zmq_msg_more(&part)) {
        zmq_msg_close(&part);
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, s, 0) < 0)
            break;
        if (++parts <= HB_NET_MAX_PARTS)
            zmsg_addmem(msg, zmq_msg_data(&part), zmq_msg_size(&part));
    }
    zmq_msg_close(&part);
    if (parts == 0 || parts > HB_NET_MAX_PARTS) {
        zmsg_destroy(&msg);
        self->dropped++;
        hb_warn("dropped a message of %zu parts (want routing id + 1..%d frames)", parts,
                HB_NET_MAX_PARTS);
        return HB_PROTO;
    }
    *frames = msg;
    return HB_OK;
}

uint64_t
hb_net_dropped(const hb_net_t *self)
{
    return self->dropped;
}
