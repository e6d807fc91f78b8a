/* main.c — hobbes-scheduler: binds the scheduler core to the common shell.
 *
 * Everything protocol-related is in sched.c (merger + policy); the shell
 * (common/hb_shell.c) does arguments, config, sockets, timers and STATUS.
 * The policy comes from the config's cluster/policy (a built-in name or a
 * path to a shared object); an unknown one makes create fail, naming it.
 */
#include "hb_shell.h"
#include "sched.h"

static void *
s_create(const hb_config_t *cfg, hb_node_t self, const char *data_dir,
         const hb_env_t *env)
{
    (void)data_dir; /* the scheduler keeps no disk state */
    return sched_new(cfg, self, env);
}

static void
s_destroy(void **core_p)
{
    if (!core_p)
        return;
    sched_t *core = *core_p;
    sched_destroy(&core);
    *core_p = NULL;
}

static void
s_on_message(void *core, const uint8_t *peer, size_t peerlen, const hb_msg_t *msg,
             const uint8_t *frame, size_t len)
{
    (void)peer;
    (void)peerlen;
    (void)frame;
    (void)len;
    sched_on_message(core, msg);
}

static void
s_on_timer(void *core, uint64_t token)
{
    sched_on_timer(core, token);
}

static void
s_status(void *core, hb_status_t *st)
{
    sched_stats_t s;
    sched_stats(core, &s);
    hb_status_str(st, "policy", s.policy ? s.policy : "?");
    hb_status_int(st, "storage_ready", s.storage_ready);
    hb_status_int(st, "incarnation", (int64_t)s.incarnation);
    hb_status_hist(st, "sched_merge_wait", sched_merge_wait(core));
    hb_status_hist(st, "sched_lock_wait", sched_lock_wait(core));
    hb_status_int(st, "applied_epoch", (int64_t)s.applied_epoch);
    hb_status_int(st, "epoch", (int64_t)s.last_epoch);
    hb_status_int(st, "known_min", (int64_t)s.known_min);
    hb_status_int(st, "inflight", (int64_t)s.inflight);
    hb_status_int(st, "queued_batches", (int64_t)s.queued);
    hb_status_int(st, "pending_batches", (int64_t)s.pending);
    hb_status_int(st, "dispatched", (int64_t)s.dispatched);
    hb_status_int(st, "completed", (int64_t)s.completed);
    hb_status_int(st, "replays", (int64_t)s.replays);
    hb_status_int(st, "stall_replays", (int64_t)s.stall_replays);
    hb_status_int(st, "resyncs", (int64_t)s.resyncs);
    hb_status_int(st, "duplicate_batches", (int64_t)s.duplicates);
    hb_status_int(st, "dropped_batches", (int64_t)s.dropped);
    hb_status_int(st, "bad_txns", (int64_t)s.bad_txns);
    hb_status_int(st, "stale_done", (int64_t)s.stale_done);
    hb_status_int(st, "unknown_done", (int64_t)s.unknown_done);
    hb_status_int(st, "send_errors", (int64_t)s.send_errors);
}

static const hb_shell_ops_t sched_shell_ops = {
    .name = "sched",
    .role = HB_ROLE_SCHEDULER,
    .create = s_create,
    .destroy = s_destroy,
    .on_message = s_on_message,
    .on_timer = s_on_timer,
    .status = s_status,
};

int
main(int argc, char **argv)
{
    return hb_shell_main(argc, argv, &sched_shell_ops);
}
