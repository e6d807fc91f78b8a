/* hb_env.h — the environment a protocol core talks to the world through.
 *
 * Cores (batcher, merger, lock manager, executor, Paxos ...) never touch a
 * socket, clock or disk directly; they call these functions. A process shell
 * binds them to ZeroMQ, the system clock and zloop timers; the simulator
 * binds them to an in-process event queue, virtual time and a seeded PRNG
 * (docs/architecture.md section 4).
 */
#ifndef HB_ENV_H
#define HB_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"

typedef enum {
    HB_ROLE_CLIENT = 0,
    HB_ROLE_SEQUENCER = 1,
    HB_ROLE_SCHEDULER = 2,
    HB_ROLE_STORAGE = 3,
    HB_ROLE_SQLFRONT = 4,
} hb_role_t;

/* Address of one process of the cluster. */
typedef struct {
    uint8_t role;       /* hb_role_t */
    uint16_t replica;   /* replica index */
    uint16_t partition; /* partition (or group) index */
} hb_node_t;

static inline hb_node_t
hb_node(hb_role_t role, uint16_t replica, uint16_t partition)
{
    hb_node_t n = {.role = (uint8_t)role, .replica = replica, .partition = partition};
    return n;
}

typedef struct hb_env {
    void *ctx; /* passed back to every function */
    /* Sends one frame to a cluster process. The frame is copied. Returns
     * HB_OK or HB_BUSY/HB_IO (the message may be lost: protocols retry). */
    hb_rc_t (*send)(void *ctx, hb_node_t to, const void *frame, size_t len);
    /* Sends one frame to a client connected to this process. */
    hb_rc_t (*send_client)(void *ctx, uint64_t client_id, const void *frame, size_t len);
    /* Returns the current time in microseconds since the Unix epoch. */
    uint64_t (*now_us)(void *ctx);
    /* Asks for the core's on_timer(token) after delay_us. */
    void (*timer)(void *ctx, uint64_t delay_us, uint64_t token);
    /* Returns 64 random bits (seeded in the simulator). */
    uint64_t (*random)(void *ctx);
    /* Optional: a monotonic clock in microseconds, for statistics only
     * (the per-stage latencies); never decides anything. NULL: now_us. */
    uint64_t (*mono_us)(void *ctx);
} hb_env_t;

/* Returns env's statistics clock (mono_us, else now_us, else 0). Timing
 * read through it only feeds histograms: what a replica executes, and in
 * what order, never depends on it. */
static inline uint64_t
hb_env_mono_us(const hb_env_t *env)
{
    if (env->mono_us)
        return env->mono_us(env->ctx);
    return env->now_us ? env->now_us(env->ctx) : 0;
}

/* Returns the microseconds from t0 to now on env's statistics clock (0 if
 * the clock went backwards). */
static inline uint64_t
hb_env_since_us(const hb_env_t *env, uint64_t t0)
{
    uint64_t now = hb_env_mono_us(env);
    return now > t0 ? now - t0 : 0;
}

#endif
