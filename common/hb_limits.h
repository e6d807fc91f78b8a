/* hb_limits.h — the bounds every decoder enforces before allocating.
 * Filled from the config's `limits` section (hb_config.h); defaults below. */
#ifndef HB_LIMITS_H
#define HB_LIMITS_H

#include <stdint.h>

typedef struct {
    uint32_t max_frame_bytes; /* whole ZeroMQ frame (also ZMQ_MAXMSGSIZE) */
    uint32_t max_args;        /* arguments of one procedure call */
    uint32_t max_locks;       /* lock keys of one transaction */
    uint32_t max_key_bytes;   /* one encoded key */
    uint32_t max_value_bytes; /* one argument / column value */
    uint32_t max_batch_txns;  /* transactions in one epoch batch */
    uint32_t max_inflight;    /* client requests a sequencer holds open */
} hb_limits_t;

#define HB_LIMITS_DEFAULT                                                                \
    ((hb_limits_t){.max_frame_bytes = 16u << 20,                                         \
                   .max_args = 256,                                                      \
                   .max_locks = 4096,                                                    \
                   .max_key_bytes = 1024,                                                \
                   .max_value_bytes = 1u << 20,                                          \
                   .max_batch_txns = 100000,                                             \
                   .max_inflight = 100000})

#endif
