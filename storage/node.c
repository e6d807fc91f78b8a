/* node.c — hobbes-storage shell glue (see node.h).
 *
 * Owns the engine and the executor of one storage process; everything else
 * (sockets, timers, STATUS framing) is hb_shell's.
 */
#include "node.h"

#include "engine.h"
#include "executor.h"
#include "hb_alloc.h"
#include "hb_log.h"

/* One storage process. */
typedef struct {
    stor_engine_t *engine; /* the shard (owned) */
    stor_executor_t *exec; /* the core (owned) */
} s_node_t;

static void s_destroy(void **core_p)
{
    if (!core_p || !*core_p)
        return;
    s_node_t *node = *core_p;
    stor_executor_destroy(&node->exec);
    stor_engine_destroy(&node->engine);
    hb_free(node);
    *core_p = NULL;
}

static void *s_create(const hb_config_t *cfg, hb_node_t self, const char *data_dir,
                      const hb_env_t *env)
{
    s_node_t *node = hb_calloc(1, sizeof *node);
    node->engine = stor_engine_open(data_dir);
    if (!node->engine)
        goto fail;
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

static void s_on_message(void *core, const uint8_t *peer, size_t peerlen,
                         const hb_msg_t *msg, const uint8_t *frame, size_t len)
{
    (void)peer;
    (void)peerlen;
    (void)frame;
    (void)len;
    s_node_t *node = core;
    stor_executor_on_message(node->exec, msg);
}

static void s_on_timer(void *core, uint64_t token)
{
    s_node_t *node = core;
    stor_executor_on_timer(node->exec, token);
}

static void s_status(void *core, hb_status_t *st)
{
    s_node_t *node = core;
    stor_executor_status(node->exec, st);
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
