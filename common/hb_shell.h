/* hb_shell.h — the common main() of every cluster process.
 *
 * hb_shell_main parses `--config FILE --replica R --partition P
 * [--data DIR] [--log-level L] [--pidfile F]`, loads the config, sets the
 * log identity ("sched r0p1"), binds the process's ROUTER, builds the hb_env_t
 * (send via hb_net, now from the system clock, one-shot timers from a heap,
 * random from /dev/urandom-seeded xorshift), creates the core and runs the
 * loop until SIGINT/SIGTERM. It decodes every frame with hb_msg_decode
 * (bad frames are counted and dropped there), answers STATUS_REQ itself
 * with the core's entries plus pid/uptime/frame counters, and hands every
 * other message to the core.
 */
#ifndef HB_SHELL_H
#define HB_SHELL_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_config.h"
#include "hb_env.h"
#include "hb_hist.h"
#include "hb_wire.h"

typedef struct hb_status hb_status_t;

/* Adds one integer / string entry to a STATUS answer. */
void hb_status_int(hb_status_t *st, const char *name, int64_t value);
void hb_status_str(hb_status_t *st, const char *name, const char *value);
/* Adds a latency histogram as four integer entries: "stage_<name>_count",
 * "_sum_us", "_p50_us" and "_p99_us" (a stage that saw nothing reports a
 * count of 0). */
void hb_status_hist(hb_status_t *st, const char *name, const hb_hist_t *h);

typedef struct {
    const char *name; /* short identity: "seq", "sched", "stor" */
    hb_role_t role;
    /* Creates the core. data_dir exists (created by the shell). env stays
     * valid for the core's lifetime. Returns NULL on failure (logged). */
    void *(*create)(const hb_config_t *cfg, hb_node_t self, const char *data_dir,
                    const hb_env_t *env);
    /* Destroys the core; accepts NULL; sets *core_p = NULL. */
    void (*destroy)(void **core_p);
    /* One decoded message. `peer` is the sender's routing id; `frame` the
     * raw bytes msg borrows from (valid only during the call). */
    void (*on_message)(void *core, const uint8_t *peer, size_t peerlen,
                       const hb_msg_t *msg, const uint8_t *frame, size_t len);
    /* A timer asked for with env->timer fired. */
    void (*on_timer)(void *core, uint64_t token);
    /* Adds the core's entries to a STATUS answer (may be NULL). */
    void (*status)(void *core, hb_status_t *st);
} hb_shell_ops_t;

/* Runs a process. Returns the exit code for main(). */
int hb_shell_main(int argc, char **argv, const hb_shell_ops_t *ops);

#endif
