/* hb_net.h — a process's sockets: one bound ROUTER, lazy DEALERs to peers.
 *
 * Shell code only (cores use hb_env_t). Every process binds a ROUTER at its
 * own endpoint; sending to another cluster process goes through a DEALER
 * connected to that process's endpoint, created on first use. Sockets get
 * ZMQ_MAXMSGSIZE = limits.max_frame_bytes and generous high-water marks
 * (internal flows are bounded by max_inflight at the sequencer).
 *
 * Sends are coalesced: frames for the same peer queue up until
 * hb_net_flush (the shell calls it once per loop turn) and then leave as one
 * multi-part ZeroMQ message, every part one protocol frame. One message per
 * peer per turn instead of one per transaction is what keeps the pipeline
 * from spending its time in thread wake-ups. A receiver treats each part
 * as an independent frame.
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

/* Queues one frame (copied) for a cluster process; it leaves at the next
 * hb_net_flush. Returns HB_INVALID for an unknown peer. */
hb_rc_t hb_net_send(hb_net_t *self, hb_node_t to, const void *frame, size_t len);
/* Queues one frame through the ROUTER for the peer with routing id `id`
 * (a client, or whoever sent us a request; dropped if unknown). */
hb_rc_t hb_net_send_id(hb_net_t *self, const void *id, size_t idlen, const void *frame,
                       size_t len);
/* Sends to a client by its 64-bit client id (routing id = 8 bytes BE). */
hb_rc_t hb_net_send_client(hb_net_t *self, uint64_t client_id, const void *frame,
                           size_t len);

/* Sends everything queued, one multi-part message per peer, in queue
 * order per peer. Never blocks: a peer whose queue is full loses the
 * message (counted in hb_net_dropped; protocols recover by replay). */
void hb_net_flush(hb_net_t *self);

/* Receives one message from the ROUTER without blocking. Returns HB_OK with
 * *frames (caller owns; zmsg_destroy), one protocol frame per part, and the
 * sender's routing id in id/idlen (idcap >= 256); HB_BUSY when nothing is
 * waiting. A message with more than HB_NET_MAX_PARTS parts is dropped and
 * counted (HB_PROTO). */
#define HB_NET_MAX_PARTS 65536
hb_rc_t hb_net_recv(hb_net_t *self, uint8_t *id, size_t idcap, size_t *idlen,
                    zmsg_t **frames);

/* Encodes a client id as its routing id (8 bytes big-endian). */
void hb_client_id_bytes(uint64_t client_id, uint8_t out[8]);

/* Counters. */
uint64_t hb_net_dropped(const hb_net_t *self);

#endif
