/* hb_net.h — a process's sockets: one bound ROUTER, lazy DEALERs to peers.
 *
 * Shell code only (cores use hb_env_t). Every process binds a ROUTER at its
 * own endpoint; sending to another cluster process goes through a DEALER
 * connected to that process's endpoint, created on first use. Sockets get
 * ZMQ_MAXMSGSIZE = limits.max_frame_bytes and generous high-water marks
 * (internal flows are bounded by max_inflight at the sequencer).
 */
#ifndef HB_NET_H
#define HB_NET_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_config.h"
#include "hb_env.h"
#include "hb_rc.h"

typedef struct hb_net hb_net_t;

/* Binds self's endpoint from cfg (or `bind_override` when non-NULL).
 * Returns the net (caller owns; hb_net_destroy) or NULL with a log line. */
hb_net_t *hb_net_new(const hb_config_t *cfg, hb_node_t self, const char *bind_override);
void hb_net_destroy(hb_net_t **self_p);

/* Returns the bound ROUTER (borrowed), for polling. */
zsock_t *hb_net_router(hb_net_t *self);

/* Sends one frame to a cluster process. Never blocks: HB_BUSY when the
 * peer's queue is full (the message is dropped and counted). */
hb_rc_t hb_net_send(hb_net_t *self, hb_node_t to, const void *frame, size_t len);
/* Sends one frame through the ROUTER to the peer with routing id `id`
 * (a client, or whoever sent us a request). Dropped if unknown. */
hb_rc_t hb_net_send_id(hb_net_t *self, const void *id, size_t idlen, const void *frame,
                       size_t len);
/* Sends to a client by its 64-bit client id (routing id = 8 bytes BE). */
hb_rc_t hb_net_send_client(hb_net_t *self, uint64_t client_id, const void *frame,
                           size_t len);

/* Receives one message from the ROUTER without blocking. Returns HB_OK with
 * *frame (caller owns; zframe_destroy) and the sender's routing id in
 * id/idlen (idcap >= 256), HB_BUSY when nothing is waiting, HB_PROTO for a
 * message that is not exactly [id, frame] (counted and dropped). */
hb_rc_t hb_net_recv(hb_net_t *self, uint8_t *id, size_t idcap, size_t *idlen,
                    zframe_t **frame);

/* Encodes a client id as its routing id (8 bytes big-endian). */
void hb_client_id_bytes(uint64_t client_id, uint8_t out[8]);

/* Counters. */
uint64_t hb_net_dropped(const hb_net_t *self);

#endif
