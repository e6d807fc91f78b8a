/* hb_config.h — the cluster config: one ZPL file for the whole cluster.
 *
 * Read with czmq's zconfig. Every error names the file, the line and the key
 * path ("configs/x.cfg:12: cluster/epoch_ms: 0 is out of range 1..10000").
 * Unknown keys are errors; every value is range-checked; every slot
 * (replica, partition) must appear exactly once. The reference for every key
 * is docs/config.md and the comments in configs/local.cfg. In key paths,
 * "slot[i]" is the i-th slot section in file order, counting from 0.
 *
 *   cluster
 *       name = local            # 1..63 chars
 *       replicas = 1            # 1..9
 *       partitions = 2          # 1..1024
 *       epoch_ms = 10           # 1..10000
 *       policy = calvin         # calvin | serial | path/to/policy.so
 *       data_dir = data/local   # relative to the current directory
 *       log_level = info        # debug | info | warn | error
 *       heartbeat_ms = 20       # Paxos leader heartbeat, 1..10000
 *       election_timeout_ms = 150 # silence before a new election, 2..60000
 *       dedup_window = 3000     # slots a (client, request) id is remembered
 *   limits                      # optional; see hb_limits.h for defaults
 *       max_frame_bytes = 16777216
 *       ...
 *   slot                        # one per (replica, partition)
 *       replica = 0
 *       partition = 0
 *       sequencer = tcp://127.0.0.1:7100
 *       scheduler = tcp://127.0.0.1:7101
 *       storage = tcp://127.0.0.1:7102
 *   sqlfront                    # zero or more SQL gateways
 *       id = 0                  # 0..63, unique
 *       replica = 0             # replica whose sequencers it submits to
 *       endpoint = tcp://127.0.0.1:7300
 *
 * "sqlfront[i]" is likewise the i-th sqlfront section in file order.
 */
#ifndef HB_CONFIG_H
#define HB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "hb_env.h"
#include "hb_limits.h"
#include "hb_rc.h"

#define HB_ENDPOINT_MAX 256
#define HB_PATH_MAX     1024

typedef struct {
    uint16_t replica;                /* 0..replicas-1 */
    uint16_t partition;              /* 0..partitions-1 */
    char sequencer[HB_ENDPOINT_MAX]; /* ROUTER endpoint of hobbes-sequencer */
    char scheduler[HB_ENDPOINT_MAX]; /* ROUTER endpoint of hobbes-scheduler */
    char storage[HB_ENDPOINT_MAX];   /* ROUTER endpoint of hobbes-storage */
} hb_slot_cfg_t;

#define HB_SQLFRONT_MAX 64 /* sqlfront ids are 0..HB_SQLFRONT_MAX-1 */

typedef struct {
    uint16_t id;                    /* 0..HB_SQLFRONT_MAX-1, unique */
    uint16_t replica;               /* replica whose sequencers it submits to */
    char endpoint[HB_ENDPOINT_MAX]; /* ROUTER endpoint of hobbes-sqlfront */
    /* PostgreSQL wire protocol (sqlfront/pgwire.h). */
    char pg_listen[HB_ENDPOINT_MAX]; /* "host:port", "" when off */
    int pg_auth;                     /* HB_PG_AUTH_* */
    char pg_users[1024];             /* "name:secret ..." (secret: password, md5...,
                                        SCRAM-SHA-256$...) */
    uint32_t pg_max_connections;     /* beyond: 53300 */
    uint32_t pg_auth_timeout_ms;     /* start-up and authentication must finish within */
    uint64_t pg_session_memory;      /* bytes one connection may hold */
} hb_sqlfront_cfg_t;

enum { HB_PG_AUTH_TRUST, HB_PG_AUTH_PASSWORD, HB_PG_AUTH_MD5, HB_PG_AUTH_SCRAM };

typedef struct hb_config {
    char path[HB_PATH_MAX];       /* file it was read from */
    char name[64];                /* cluster name */
    uint16_t replicas;            /* R */
    uint16_t partitions;          /* P */
    uint32_t epoch_ms;            /* batch length */
    char policy[HB_PATH_MAX];     /* scheduler policy name, or path of a policy .so */
    char data_dir[HB_PATH_MAX];   /* root of every process's data */
    char log_level[16];           /* default log level */
    uint32_t heartbeat_ms;        /* Paxos leader heartbeat period */
    uint32_t election_timeout_ms; /* follower silence before it runs for leader */
    uint32_t dedup_window;        /* chosen slots a call id is remembered for */
    hb_limits_t limits;           /* decoder and socket bounds */
    hb_slot_cfg_t *slots;         /* R*P entries, index replica*P + partition */
    uint16_t nsqlfronts;          /* entries in sqlfronts (0..HB_SQLFRONT_MAX) */
    hb_sqlfront_cfg_t *sqlfronts; /* SQL gateways in file order; NULL when none */
} hb_config_t;

/* Loads and validates path. Returns HB_OK and *out (caller owns;
 * hb_config_destroy), or HB_CONFIG / HB_IO with *out = NULL and a
 * "file:line: key: problem" message in err (errlen bytes). */
hb_rc_t hb_config_load(const char *path, hb_config_t **out, char *err, size_t errlen);

/* Same, from text in memory; `name` stands for the file name in errors. */
hb_rc_t hb_config_parse(const char *text, const char *name, hb_config_t **out, char *err,
                        size_t errlen);

/* Frees a config; accepts NULL; sets *self_p = NULL. */
void hb_config_destroy(hb_config_t **self_p);

/* Returns the slot (replica, partition), or NULL when out of range. */
const hb_slot_cfg_t *hb_config_slot(const hb_config_t *cfg, uint16_t replica,
                                    uint16_t partition);

/* Returns the sqlfront with this id, or NULL when the config has none.
 * Borrowed from cfg. */
const hb_sqlfront_cfg_t *hb_config_sqlfront(const hb_config_t *cfg, uint16_t id);

/* Returns the endpoint of a cluster process (sequencer, scheduler or
 * storage), or NULL. Borrowed from cfg. For HB_ROLE_SQLFRONT, node.partition
 * is the sqlfront id and node.replica is ignored (ids are unique). */
const char *hb_config_endpoint(const hb_config_t *cfg, hb_node_t node);

/* Writes the data directory of a process ("<data_dir>/r0p1/storage") into
 * out. data_override replaces cfg->data_dir when non-NULL. For
 * HB_ROLE_SQLFRONT (node.partition = id) it is hb_config_sqlfront_dir's. */
void hb_config_node_dir(const hb_config_t *cfg, const char *data_override, hb_node_t node,
                        char *out, size_t outlen);

/* Writes the data directory of sqlfront `id` ("<data_dir>/sqlf0"; it also
 * holds the sqlfront's pid file and log) into out. data_override replaces
 * cfg->data_dir when non-NULL. */
void hb_config_sqlfront_dir(const hb_config_t *cfg, const char *data_override,
                            uint16_t id, char *out, size_t outlen);

#endif
