/* front.h — the SQL gateway's engine: requests in, transactions out.
 *
 * A request is one SUBMIT frame {proc "sql", args [text, params...]} from a
 * client (client/hobbes.h, hb_sql_exec). The engine parses the text once
 * with libpg_query, then runs its statements in order: reads at a
 * snapshot (plan.h's sources, through hb_client_scan), writes and DDL as
 * transactions submitted through a libhobbes client to the sequencers of
 * its replica, BEGIN ... COMMIT as one transaction. Transactions are
 * pipelined: a request waiting for its commit does not hold up the others.
 * When the request is done the engine hands one RESULT frame to its reply
 * callback (format: docs/protocol.md, "SQL").
 *
 * Sessions (keyed by the client's routing id) remember the epoch of their
 * last commit, so a later read waits for a snapshot that includes it.
 *
 * The engine's files and their roles are listed in front_int.h.
 */
#ifndef SQLF_FRONT_H
#define SQLF_FRONT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_config.h"
#include "hb_rc.h"
#include "hb_wire.h"

typedef struct sqlf_front sqlf_front_t;

/* Sends frame (len bytes) to peer; the engine keeps no pointer to it. */
typedef void (*sqlf_reply_fn)(void *arg, const uint8_t *peer, size_t peerlen,
                              const void *frame, size_t len);

/* What the engines of one process share (sqlfront's workers): the process
 * owns it, zeroed, and it outlives every engine given it. */
typedef struct {
    /* Bumped whenever an engine commits DDL: the others reload their
     * catalog before their next request, so a table dropped through one
     * is gone for all. */
    atomic_uint_fast64_t catalog_gen;
    /* The epoch of the newest DDL commit (or catalog mismatch) any engine
     * saw: a reload reads the catalog at least at it. */
    atomic_uint_fast64_t catalog_epoch;
} sqlf_shared_t;

/* How to build an engine. */
typedef struct {
    uint16_t replica;     /* it submits to the sequencers of this replica */
    uint32_t sqlfront_id; /* the process's sqlfront id, and */
    uint32_t engine;      /* this engine's index in it: both go into the row ids
                           * it makes for tables without a primary key (plan.h,
                           * sqlf_rowid_t) */
    sqlf_reply_fn reply;  /* where its RESULT frames go */
    void *reply_arg;
    sqlf_shared_t *shared; /* the process's (required; borrowed) */
} sqlf_front_opts_t;

/* Returns an engine for the cluster of cfg (borrowed: it must outlive the
 * engine, whose client connects with it), or NULL with a logged error.
 * Caller owns; sqlf_front_destroy. */
sqlf_front_t *sqlf_front_new(const hb_config_t *cfg, const sqlf_front_opts_t *opts);

/* Frees; accepts NULL; sets *self_p = NULL. Requests in flight are dropped
 * (their clients time out). */
void sqlf_front_destroy(sqlf_front_t **self_p);

/* Takes one decoded SUBMIT from peer (msg borrows from the frame; the
 * engine copies what it keeps). Anything but proc "sql" with a text first
 * argument is answered with an error. */
void sqlf_front_on_submit(sqlf_front_t *self, const uint8_t *peer, size_t peerlen,
                          const hb_msg_t *msg);

/* Collects transaction results for up to timeout_ms and moves their
 * requests on. */
void sqlf_front_poll(sqlf_front_t *self, int timeout_ms);

/* Returns the number of requests waiting for a transaction. */
size_t sqlf_front_pending(const sqlf_front_t *self);

/* Writes the engine's counters (static names, integer values) to out, at
 * most cap; returns how many. */
uint32_t sqlf_front_stats(const sqlf_front_t *self, hb_wire_stat_t *out, uint32_t cap);

#endif
