/* node.c — hobbes-storage shell glue (see node.h).
 *
 * Owns the engine and the executor of one storage process; everything else
 * (sockets, timers, STATUS framing) is hb_shell's. SCANs from clients are
 * answered here from a LevelDB snapshot (snapshot.c), outside the executor:
 * they read the applied epoch and never enter the transaction pipeline.
 * The node keeps the recent snapshots (stor_snapshot_ring_t) so that the
 * pages of one read can all be answered at one epoch; it releases them when
 * they age out (checked on every message: epochs arrive every few ms), on
 * RESYNC, and before the engine closes.
 */
#include "node.h"

#include <time.h>

#include "engine.h"
#include "executor.h"
#include "hb_alloc.h"
#include "hb_log.h"
#include "snapshot.h"

/* One storage process. */
typedef struct {
    stor_engine_t *engine;            /* the shard (owned) */
    stor_executor_t *exec;            /* the core (owned) */
    const hb_env_t *env;              /* how to answer clients (the shell's) */
    uint32_t max_frame;               /* largest frame a SCAN answer may use */
    msgpack_sbuffer scan_buf;         /* scratch for SCAN answers */
    stor_snapshot_ring_t *snaps;      /* kept LevelDB snapshots (owned; before engine) */
    stor_snapshot_stats_t scan_stats; /* SCANs served */
    uint64_t scan_unroutable;         /* SCANs from a peer that is not a client id */
} s_node_t;

static void
s_destroy(void **core_p)
{
    if (!core_p || !*core_p)
        return;
    s_node_t *node = *core_p;
    stor_executor_destroy(&node->exec);
    stor_snapshot_ring_destroy(&node->snaps); /* snapshots die before their db */
    stor_engine_destroy(&node->engine);
    msgpack_sbuffer_destroy(&node->scan_buf);
    hb_free(node);
    *core_p = NULL;
}

static void *
s_create(const hb_config_t *cfg, hb_node_t self, const char *data_dir,
         const hb_env_t *env)
{
    s_node_t *node = hb_calloc(1, sizeof *node);
    msgpack_sbuffer_init(&node->scan_buf);
    node->env = env;
    node->max_frame = cfg->limits.max_frame_bytes;
    node->engine = stor_engine_open(data_dir);
    if (!node->engine)
        goto fail;
    node->snaps = stor_snapshot_ring_new(node->engine);
    node->exec =
        stor_executor_new(node->engine, self, cfg->partitions, &cfg->limits, env);
    if (!node->exec)
        goto fail;
    return node;
fail:
    hb_error("storage r%up%u: cannot start over %s", self.replica, self.partition,
             data_dir);
    void *core = node;
    s_destroy(&core);
    return NULL;
}

/* Returns a monotonic clock in microseconds (snapshot ages). */
static uint64_t
s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Answers a client's SCAN; the client's routing id is its 8-byte
 * big-endian client id (docs/protocol.md). */
static void
s_on_scan(s_node_t *node, const uint8_t *peer, size_t peerlen, const hb_msg_t *msg)
{
    if (peerlen != 8 || !node->env->send_client) {
        node->scan_unroutable++;
        hb_warn(
            "SCAN from a peer whose routing id is not a client id (%zu bytes): dropped",
            peerlen);
        return;
    }
    uint64_t client_id = 0;
    for (size_t i = 0; i < 8; i++)
        client_id = client_id << 8 | peer[i];
    msgpack_sbuffer_clear(&node->scan_buf);
    if (stor_snapshot_scan(node->snaps, msg, s_mono_us(), node->max_frame,
                           &node->scan_buf, &node->scan_stats) != HB_OK)
        return;
    node->env->send_client(node->env->ctx, client_id, node->scan_buf.data,
                           node->scan_buf.size);
}

static void
s_on_message(void *core, const uint8_t *peer, size_t peerlen, const hb_msg_t *msg,
             const uint8_t *frame, size_t len)
{
    (void)frame;
    (void)len;
    s_node_t *node = core;
    if (msg->type == HB_MSG_SCAN) {
        s_on_scan(node, peer, peerlen, msg);
        return;
    }
    if (msg->type == HB_MSG_RESYNC)
        stor_snapshot_ring_clear(node->snaps);
    else if (stor_snapshot_ring_size(node->snaps))
        stor_snapshot_ring_expire(node->snaps, s_mono_us());
    stor_executor_on_message(node->exec, msg);
    if (msg->type != HB_MSG_RESYNC) /* readers are about: keep the epoch it applied */
        stor_snapshot_ring_note(node->snaps, s_mono_us(), &node->scan_stats);
}

static void
s_on_timer(void *core, uint64_t token)
{
    s_node_t *node = core;
    stor_executor_on_timer(node->exec, token);
}

static void
s_status(void *core, hb_status_t *st)
{
    s_node_t *node = core;
    stor_executor_status(node->exec, st);
    hb_status_int(st, "scans", (int64_t)node->scan_stats.scans);
    hb_status_int(st, "scan_rows", (int64_t)node->scan_stats.rows);
    hb_status_int(st, "scan_errors", (int64_t)node->scan_stats.errors);
    hb_status_int(st, "scan_truncated", (int64_t)node->scan_stats.truncated);
    hb_status_int(st, "scan_at_hits", (int64_t)node->scan_stats.at_hits);
    hb_status_int(st, "scan_at_misses", (int64_t)node->scan_stats.at_misses);
    hb_status_int(st, "scan_snapshots", (int64_t)node->scan_stats.snapshots);
    hb_status_int(st, "scan_snapshot_reuses", (int64_t)node->scan_stats.reused);
    hb_status_int(st, "scan_snapshots_kept",
                  (int64_t)stor_snapshot_ring_size(node->snaps));
    hb_status_int(st, "scan_unroutable", (int64_t)node->scan_unroutable);
}

const hb_shell_ops_t stor_shell_ops = {
    .name = "stor",
    .role = HB_ROLE_STORAGE,
    .create = s_create,
    .destroy = s_destroy,
    .on_message = s_on_message,
    .on_timer = s_on_timer,
    .status = s_status,
};
