/* it_util.h — helpers for integration tests: a real cluster of real
 * processes on loopback, in a temporary directory, driven by hobbesctl.
 *
 * Checks print the failing expression with file:line and exit(1); every
 * test prints its seed (hb_test_seed; HOBBES_SEED overrides it). Set HOBBES_KEEP=1 to
 * keep the data directory and logs of a run.
 */
#ifndef IT_UTIL_H
#define IT_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "../hb_test.h"

#define IT_CHECK(cond, ...)                                                              \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);              \
            fprintf(stderr, __VA_ARGS__);                                                \
            fprintf(stderr, "\n");                                                       \
            it_fail_hook();                                                              \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

typedef struct {
    char dir[256];     /* temporary root */
    char config[320];  /* config file path */
    char data[320];    /* data root */
    char ctl[512];     /* hobbesctl path */
    int replicas;      /* R */
    int partitions;    /* P */
    char sqlfront[64]; /* endpoint of sqlfront 0 (it_cluster_init_sql), else "" */
    int pg_port;       /* its PostgreSQL listener on 127.0.0.1 (it_cluster_init_sql) */
} it_cluster_t;

/* Called by IT_CHECK before exiting: prints process logs of the current
 * cluster to stderr and stops it. */
void it_fail_hook(void);

/* Creates a temp dir and a config with R x P slots on free loopback ports.
 * build_root is the meson build directory. Returns 0 or -1. */
int it_cluster_init(it_cluster_t *c, const char *build_root, int replicas, int partitions,
                    const char *policy, int epoch_ms);
/* Same, plus one sqlfront section (id 0, replica 0, a free loopback port),
 * which it_cluster_up starts after the slots (hobbesctl finds
 * hobbes-sqlfront in the build tree). Connect with
 * hb_sql_connect(c->config, 0, ...). Returns 0 or -1. */
int it_cluster_init_sql(it_cluster_t *c, const char *build_root, int replicas,
                        int partitions, const char *policy, int epoch_ms);
/* Returns the endpoint of sqlfront 0 (borrowed from c), or NULL when the
 * cluster was made without one. */
const char *it_sqlfront_endpoint(const it_cluster_t *c);
/* hobbesctl up / down / status; return the command's exit code. */
int it_cluster_up(it_cluster_t *c);
int it_cluster_down(it_cluster_t *c);
int it_cluster_status(it_cluster_t *c);
/* Returns the pid of a running process (role "sequencer", "scheduler",
 * "storage"), or 0. */
pid_t it_cluster_pid(it_cluster_t *c, const char *role, int replica, int partition);
/* Sends SIGKILL to a process and waits until it is gone. Returns 0 or -1. */
int it_cluster_kill9(it_cluster_t *c, const char *role, int replica, int partition);
/* Returns the pid of running sqlfront `id`, or 0. */
pid_t it_sqlfront_pid(it_cluster_t *c, int id);
/* Sends SIGKILL to sqlfront `id` and waits until it is gone (it_cluster_up
 * starts it again). Returns 0 or -1. */
int it_sqlfront_kill9(it_cluster_t *c, int id);
/* Stops the cluster and removes its directory unless HOBBES_KEEP is set. */
void it_cluster_cleanup(it_cluster_t *c);
/* Returns an integer field of a process's STATUS, or -1. */
long long it_status_int(it_cluster_t *c, int role, int replica, int partition,
                        const char *name);

void it_sleep_ms(long ms);

/* SQL helpers for tests over hb_sql sessions (client/hobbes.h). */
typedef struct hb_sql hb_sql_t;
typedef struct hb_sql_result hb_sql_result_t;
/* Runs sql (60 s timeout); returns the results (caller frees with
 * hb_sql_result_free) or NULL when the sqlfront did not answer. */
hb_sql_result_t *it_sql(hb_sql_t *db, const char *sql);
/* Returns the last result of a list (the failing one, if any). */
const hb_sql_result_t *it_sql_last(const hb_sql_result_t *r);
/* Runs sql, which must succeed (else the test fails, naming it). */
void it_sql_ok(hb_sql_t *db, const char *sql);

#endif
