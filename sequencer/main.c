/* main.c — hobbes-sequencer: binds the sequencer core to the process shell.
 *
 * The shell side of the sequencer: it opens the input log (LevelDB, in the
 * data directory hb_shell made) and lends it to the core (batcher.c), which
 * does no disk I/O of its own; it closes the log after the core is gone.
 * Messages, timers and status go straight to the core.
 */
#include "batcher.h"
#include "hb_alloc.h"
#include "hb_shell.h"
#include "seqlog.h"

/* One sequencer process. */
typedef struct {
    seq_log_t *log;   /* the input log (owned; outlives b) */
    seq_batcher_t *b; /* the core (owned) */
} s_node_t;

static void
s_destroy(void **core_p)
{
    if (!core_p || !*core_p)
        return;
    s_node_t *node = *core_p;
    seq_batcher_destroy(&node->b);
    seq_log_destroy(&node->log);
    hb_free(node);
    *core_p = NULL;
}

static void *
s_create(const hb_config_t *cfg, hb_node_t self, const char *dir, const hb_env_t *env)
{
    s_node_t *node = hb_calloc(1, sizeof *node);
    void *core = node;
    node->log = seq_log_open(dir, cfg->dedup_window);
    if (!node->log)
        goto fail;
    node->b = seq_batcher_new(cfg, self, node->log, env);
    if (!node->b)
        goto fail;
    return node;
fail:
    s_destroy(&core);
    return NULL;
}

static void
s_on_message(void *core, const uint8_t *peer, size_t peerlen, const hb_msg_t *msg,
             const uint8_t *frame, size_t len)
{
    (void)frame;
    (void)len;
    seq_batcher_on_message(((s_node_t *)core)->b, peer, peerlen, msg);
}

static void
s_on_timer(void *core, uint64_t token)
{
    seq_batcher_on_timer(((s_node_t *)core)->b, token);
}

static void
s_status(void *core, hb_status_t *st)
{
    seq_batcher_status(((s_node_t *)core)->b, st);
}

static const hb_shell_ops_t s_ops = {
    .name = "seq",
    .role = HB_ROLE_SEQUENCER,
    .create = s_create,
    .destroy = s_destroy,
    .on_message = s_on_message,
    .on_timer = s_on_timer,
    .status = s_status,
};

int
main(int argc, char **argv)
{
    return hb_shell_main(argc, argv, &s_ops);
}
