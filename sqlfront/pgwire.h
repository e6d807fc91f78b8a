/* pgwire.h — the PostgreSQL wire protocol (version 3.0) in hobbes-sqlfront.
 *
 * One thread owns the listener (`pg_listen` of the sqlfront's config
 * section) and every connection: start-up, SSL/GSS refusal, authentication
 * (trust, cleartext, md5, SCRAM-SHA-256: pgauth.h), the simple and the
 * extended query protocol, COPY FROM STDIN / TO STDOUT. It runs no SQL
 * itself: each statement becomes a SUBMIT {proc "sql"} (or "sql.describe")
 * to the engines, as a libhobbes SQL client would send it, over an inproc
 * PAIR straight to the session's worker, which answers on the same pair.
 * A connection is one engine session: its routing id is
 * sqlf_pg_is_peer's, so a worker can tell the protocol thread's requests
 * from the ROUTER's.
 *
 * The implementation is pgwire.c (connections and the loop) and the
 * pgwire_*.c files of each concern; pgwire_int.h is what they share.
 */
#ifndef SQLF_PGWIRE_H
#define SQLF_PGWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_config.h"
#include "hb_limits.h"
#include "hb_wire.h"

typedef struct sqlf_pg sqlf_pg_t;

/* Length of a connection's routing id. */
#define SQLF_PG_PEER_LEN 10

/* Whether a routing id belongs to a wire-protocol connection. ROUTER ids
 * are 5 bytes starting with 0, libhobbes ids 8 bytes starting non-zero. */
static inline bool
sqlf_pg_is_peer(const uint8_t *peer, size_t len)
{
    return len == SQLF_PG_PEER_LEN && peer[0] == 0 && peer[1] == 'P';
}

/* Binds cfg->pg_listen and one PAIR per engine worker (inproc://sqlf-pg-<i>,
 * i < nworkers, which worker i connects), and starts the protocol thread,
 * which sends [peer][SUBMIT] to the worker of hb_hash64(peer) % nworkers
 * (the router's choice too) and receives [peer][RESULT] from it. Returns
 * the listener, or NULL with err set
 * (cannot bind, bad pg_users). psql's catalog queries (\dt, \d TABLE) are
 * answered from the cluster's catalog, read through a client of cluster
 * (the process's config: borrowed, it must outlive the listener). */
sqlf_pg_t *sqlf_pg_start(void *zctx, int nworkers, const hb_config_t *cluster,
                         const hb_sqlfront_cfg_t *cfg, const hb_limits_t *lim, char *err,
                         size_t errlen);

/* Stops the thread and closes every connection; accepts NULL. */
void sqlf_pg_stop(sqlf_pg_t **self_p);

/* Copies the listener's counters (static names) to out, at most cap;
 * returns how many. Thread-safe. */
uint32_t sqlf_pg_stats(sqlf_pg_t *self, hb_wire_stat_t *out, uint32_t cap);

#endif
