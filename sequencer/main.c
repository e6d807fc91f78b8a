/* main.c — hobbes-sequencer: binds the sequencer core to the process shell. */
#include "batcher.h"
#include "hb_shell.h"

static void *
s_create(const hb_config_t *cfg, hb_node_t self, const char *dir, const hb_env_t *env)
{
    return seq_batcher_new(cfg, self, dir, env);
}

static void
s_destroy(void **core_p)
{
    seq_batcher_destroy((seq_batcher_t **)core_p);
}

static void
s_on_message(void *core, const uint8_t *peer, size_t peerlen, const hb_msg_t *msg,
             const uint8_t *frame, size_t len)
{
    (void)frame;
    (void)len;
    seq_batcher_on_message(core, peer, peerlen, msg);
}

static void
s_on_timer(void *core, uint64_t token)
{
    seq_batcher_on_timer(core, token);
}

static void
s_status(void *core, hb_status_t *st)
{
    seq_batcher_status(core, st);
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
