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

struct hb_net {
    const hb_config_t *cfg; /* borrowed cluster config */
    hb_node_t self;         /* who we are */
    zsock_t *router;        /* our bound ROUTER */
    zsock_t **peers;        /* DEALER per (role, replica, partition), lazily made */
    size_t npeers;          /* entries in peers */
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
        hb_error("no endpoint for role %d r%u p%u", self.role, self.replica, self.partition);
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
    size_t idx = ((size_t)to.role * self->cfg->replicas + to.replica) * self->cfg->partitions +
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

hb_rc_t
hb_net_send(hb_net_t *self, hb_node_t to, const void *frame, size_t len)
{
    zsock_t *sock = s_peer(self, to);
    if (!sock) {
        self->dropped++;
        return HB_INVALID;
    }
    if (zmq_send(zsock_resolve(sock), frame, len, ZMQ_DONTWAIT) < 0) {
        self->dropped++;
        hb_warn("send to role %d r%u p%u dropped: %s", to.role, to.replica, to.partition,
                zmq_strerror(zmq_errno()));
        return zmq_errno() == EAGAIN ? HB_BUSY : HB_IO;
    }
    return HB_OK;
}

hb_rc_t
hb_net_send_id(hb_net_t *self, const void *id, size_t idlen, const void *frame, size_t len)
{
    void *s = zsock_resolve(self->router);
    if (zmq_send(s, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s, frame, len, ZMQ_DONTWAIT) < 0) {
        self->dropped++;
        return HB_BUSY;
    }
    return HB_OK;
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
hb_net_recv(hb_net_t *self, uint8_t *id, size_t idcap, size_t *idlen, zframe_t **frame)
{
    *frame = NULL;
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
    hb_rc_t rc = HB_OK;
    int parts = 1;
    zframe_t *payload = NULL;
    while (zmq_msg_more(&part)) {
        zmq_msg_close(&part);
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, s, 0) < 0)
            break;
        parts++;
        if (parts == 2)
            payload = zframe_new(zmq_msg_data(&part), zmq_msg_size(&part));
    }
    zmq_msg_close(&part);
    if (parts != 2) {
        zframe_destroy(&payload);
        self->dropped++;
        hb_warn("dropped a message of %d parts (want routing id + 1 frame)", parts);
        rc = HB_PROTO;
    } else {
        *frame = payload;
    }
    return rc;
}

uint64_t
hb_net_dropped(const hb_net_t *self)
{
    return self->dropped;
}
