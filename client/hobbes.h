/* hobbes.h — libhobbes, the Hobbes client library (C API).
 *
 * A client reads the cluster config, connects to the sequencers of one
 * replica, and calls native procedures by name with typed arguments:
 *
 *     hb_client_t *c = hb_client_new("configs/local.cfg", 0, err, sizeof err);
 *     hb_val_t args[2] = {hb_val_str("a", 1), hb_val_int(41)};
 *     hb_result_t *res = NULL;
 *     hb_rc_t rc = hb_client_call(c, "kv.put", args, 2, 5000, &res);
 *     ... res->rc, res->vals ...
 *     hb_result_destroy(&res);
 *     hb_client_destroy(&c);
 *
 * Each call is one transaction. The library derives the call's lock set
 * (hb_proc.h) to send it to the sequencer of the group owning its first
 * key; the sequencer derives it again and does not trust ours.
 *
 * Failover: a cluster of R > 1 replicas runs each call once, whichever
 * replica it came through (the sequencers drop a call id they have already
 * sequenced, within a window of about 30 s). So a call that waits too
 * long is sent again, with the same request id, to the same group's
 * sequencer in the next replica (hb_client_set_retry). Its first answer
 * completes it; that answer can be HB_EXISTS: "it already ran, through
 * another replica, which had its result" (see hb_result_t). When a call
 * moves on from a sequencer that stayed silent, the client closes that
 * connection, so the copies ZeroMQ held for a sequencer that is down
 * cannot reach it when it comes back, perhaps after the window.
 *
 * SQL: hb_sql_connect opens a session with a SQL gateway (hobbes-sqlfront)
 * and hb_sql_exec runs statements through it (see "SQL sessions" below).
 *
 * Thread safety: a hb_client_t must be used by one thread at a time (its
 * ZeroMQ sockets are not thread-safe). Use one client per thread; clients
 * are cheap and independent. hb_client_submit/hb_client_poll pipeline many
 * calls on one client.
 */
#ifndef HOBBES_H
#define HOBBES_H

#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"
#include "hb_val.h"

struct hb_config;

typedef struct hb_client hb_client_t;

/* The outcome of one call. Values borrow from the result's own buffer. */
typedef struct {
    uint64_t req_id; /* the request it answers */
    hb_rc_t rc;      /* HB_OK, HB_ABORTED (logical abort), HB_INVALID ...;
                      * HB_EXISTS: a retried call (hb_client_set_retry)
                      * had already run, through another replica, which
                      * got the outcome. Treat it as committed with unknown
                      * values (read them back if needed); epoch is when
                      * it ran, msg names the replica, nvals is 0. */
    char *msg;       /* error text, "" on success (owned by the result) */
    uint64_t epoch;  /* epoch the transaction executed in (0 if never) */
    uint32_t nvals;  /* number of values */
    hb_val_t *vals;  /* returned values (owned by the result) */
    void *frame_;    /* private: the frame the values point into */
} hb_result_t;

/* Connects to the sequencers of `replica` (the home replica: every call
 * goes there first) in the cluster of config_path; those of the other
 * replicas are connected when a retry first needs them. Retries are on
 * (1000 ms) when the cluster has more than one replica, off with one.
 * Returns the client (caller owns; hb_client_destroy) or NULL with a
 * message in err. */
hb_client_t *hb_client_new(const char *config_path, uint16_t replica, char *err,
                           size_t errlen);
/* As hb_client_new, for a config the caller has loaded (common/hb_config.h):
 * cfg is borrowed and must outlive the client. A process that already
 * holds its config (hobbes-sqlfront's engines) connects without reading
 * the file again. struct hb_config is hb_config_t of common/hb_config.h. */
hb_client_t *hb_client_new_cfg(const struct hb_config *cfg, uint16_t replica, char *err,
                               size_t errlen);
/* Closes the client; accepts NULL; sets *self_p = NULL. */
void hb_client_destroy(hb_client_t **self_p);

/* Calls proc with args and waits up to timeout_ms for the result.
 * Returns HB_OK with *out set (caller owns; hb_result_destroy) — check
 * (*out)->rc for the transaction's own outcome —, or HB_NOTFOUND (no such
 * procedure), HB_INVALID (bad arguments; message in *out when non-NULL),
 * HB_TIMEOUT, HB_IO with *out = NULL. */
hb_rc_t hb_client_call(hb_client_t *self, const char *proc, const hb_val_t *args,
                       uint32_t nargs, int timeout_ms, hb_result_t **out);

/* Queues a call without waiting (it is sent by the next flush, poll or
 * call). Returns HB_OK and its request id in
 * *req_id, or an error for a call that cannot be sent (unknown procedure,
 * bad arguments; the message is available from hb_client_last_error). */
hb_rc_t hb_client_submit(hb_client_t *self, const char *proc, const hb_val_t *args,
                         uint32_t nargs, uint64_t *req_id);
/* Sends every submitted call not yet sent (hb_client_poll and
 * hb_client_call do this first): calls submitted back to back leave as one
 * message per sequencer. Returns HB_OK or HB_IO. */
hb_rc_t hb_client_flush(hb_client_t *self);
/* Waits up to timeout_ms for any result of a submitted call, meanwhile
 * sending calls again that are due for a retry (hb_client_set_retry).
 * Returns HB_OK with *out (caller owns), or HB_TIMEOUT with *out = NULL.
 * Results for requests this client is not waiting for are dropped, and so
 * is an HB_BUSY refusal of a retried call (an earlier copy may still run:
 * it stays pending). */
hb_rc_t hb_client_poll(hb_client_t *self, int timeout_ms, hb_result_t **out);
/* Stops waiting for req_id (its late result will be dropped). */
void hb_client_forget(hb_client_t *self, uint64_t req_id);
/* Returns the number of submitted calls still waiting for a result. */
size_t hb_client_pending(const hb_client_t *self);

/* Sets how long a call may wait for its result before hb_client_poll (or
 * hb_client_call) sends it again, same request id, to the sequencer of
 * the same group in the next replica (replica r, then r + 1 mod R, ...;
 * one more replica per retry). retry_ms <= 0 turns retries off. Applies to
 * pending calls too. Keep retry_ms well under the servers' dedup window
 * (~30 s): a call is run once only if its copies arrive within it.
 * Default: 1000 with R > 1 replicas, off with one. */
void hb_client_set_retry(hb_client_t *self, int retry_ms);
/* Returns how many times this client sent a call again (retries). */
uint64_t hb_client_retries(const hb_client_t *self);

/* Returns the text of the last error hb_client_submit/call reported
 * (borrowed; valid until the next call). */
const char *hb_client_last_error(const hb_client_t *self);

/* Frees a result; accepts NULL; sets *self_p = NULL. */
void hb_result_destroy(hb_result_t **self_p);

/* One row of a scan: the encoded key (hb_key.h) and the stored value
 * (a msgpack array of column values), borrowed from the result. */
typedef struct {
    const uint8_t *key; /* encoded key */
    uint32_t klen;      /* key length */
    const uint8_t *val; /* stored value */
    uint32_t vlen;      /* value length */
} hb_scan_row_t;

/* The outcome of one snapshot scan of one partition. */
typedef struct {
    uint64_t req_id;     /* the request it answers */
    hb_rc_t rc;          /* HB_OK, or the storage's error (HB_IO ...) */
    char *msg;           /* error text, "" on success (owned by the result) */
    uint64_t epoch;      /* applied epoch the rows were read at */
    uint64_t catver;     /* the SQL catalog version at that epoch (0: none) */
    uint32_t nrows;      /* number of rows */
    hb_scan_row_t *rows; /* rows in key order (owned by the result) */
    void *frame_;        /* private: the frame the rows point into */
} hb_scan_result_t;

/* Reads the rows of `partition` with start <= key < end (end_len 0:
 * unbounded), at most limit (1..100000) of them, in key order, from the
 * partition's storage at its applied epoch: a consistent snapshot, served
 * without going through the log (docs/architecture.md section 5, "Snapshot reads").
 * Keys are encoded keys (hb_key.h). An answer may hold fewer than limit
 * rows when they would not fit in one frame. Waits up to timeout_ms.
 * Returns HB_OK with *out (caller owns; hb_scan_result_destroy) — check
 * (*out)->rc —, or HB_INVALID (bad partition, key or limit), HB_TIMEOUT,
 * HB_IO with *out = NULL. Queued submits are flushed first. */
hb_rc_t hb_client_scan(hb_client_t *self, uint16_t partition, const void *start,
                       size_t start_len, const void *end, size_t end_len, uint32_t limit,
                       int timeout_ms, hb_scan_result_t **out);

/* As hb_client_scan, but read at applied epoch at_epoch (0: the current
 * one, as hb_client_scan) when the storage still keeps a snapshot of that
 * epoch (it keeps the last few, for a few seconds), so that the pages of
 * one large read form one consistent cut. When it no longer has one the
 * rows are read at the current epoch: compare (*out)->epoch with at_epoch
 * and restart the read on a mismatch. Returns as hb_client_scan. */
hb_rc_t hb_client_scan_at(hb_client_t *self, uint16_t partition, const void *start,
                          size_t start_len, const void *end, size_t end_len,
                          uint32_t limit, uint64_t at_epoch, int timeout_ms,
                          hb_scan_result_t **out);

/* Frees a scan result; accepts NULL; sets *self_p = NULL. */
void hb_scan_result_destroy(hb_scan_result_t **self_p);

/* Returns the partition count of the connected cluster. */
uint32_t hb_client_partitions(const hb_client_t *self);

/* Asks process (role, replica, partition) for its status; returns HB_OK
 * and a malloc'd "name=value\n..." text in *out (caller frees with free()),
 * or HB_TIMEOUT. role: 1 sequencer, 2 scheduler, 3 storage, 4 sqlfront
 * (then partition is the sqlfront id and replica is ignored). */
hb_rc_t hb_client_status(hb_client_t *self, int role, uint16_t replica,
                         uint16_t partition, int timeout_ms, char **out);

/* ------------------------------------------------------------------ */
/* SQL sessions                                                         */
/* ------------------------------------------------------------------ */

/* A SQL session with one hobbes-sqlfront (the `sqlfront` sections of the
 * config). Statements run in the order they are executed; a session is
 * used by one thread at a time, like hb_client_t.
 *
 *     hb_sql_t *db = hb_sql_connect("configs/local.cfg", 0, err, sizeof err);
 *     hb_val_t p[1] = {hb_val_int(7)};
 *     hb_sql_result_t *res = NULL;
 *     if (hb_sql_exec(db, "SELECT v FROM t WHERE k = $1", p, 1, 5000, &res) == HB_OK)
 *         for (hb_sql_result_t *r = res; r; r = r->next) ... r->sqlstate ...
 *     hb_sql_result_free(&res);
 *     hb_sql_destroy(&db);
 *
 * Wire (docs/protocol.md, "SQL sessions"): a SUBMIT of procedure "sql"
 * with args [sql, params...] over a DEALER; the answer is one RESULT. */
typedef struct hb_sql hb_sql_t;

/* The outcome of one statement. hb_sql_exec returns them as a list linked
 * by `next`, in statement order. */
typedef struct hb_sql_result hb_sql_result_t;
struct hb_sql_result {
    char sqlstate[6];      /* "00000" on success, else the PostgreSQL SQLSTATE */
    char *message;         /* error text, "" on success */
    char *tag;             /* command tag: "SELECT 3", "INSERT 0 2", "CREATE TABLE";
                            * "" for a failed statement */
    uint32_t ncols;        /* columns (0 for statements without rows) */
    char **colnames;       /* ncols column names */
    char **coltypes;       /* ncols PostgreSQL type names: "integer", "text" ... */
    uint32_t nrows;        /* rows */
    hb_val_t *cells;       /* nrows * ncols, row-major (row i, column j at
                            * i * ncols + j); HB_VAL_NIL is SQL NULL; strings
                            * point into the result's own memory and are also
                            * NUL-terminated */
    uint64_t epoch;        /* epoch the statement committed at or read at */
    hb_sql_result_t *next; /* the next statement's result, or NULL */
    void *frame_;          /* private: memory the strings above live in */
};

/* Connects to sqlfront `id` of the cluster in config_path (connecting is
 * lazy: an unreachable sqlfront shows up as HB_TIMEOUT from hb_sql_exec).
 * Returns the session (caller owns; hb_sql_destroy), or NULL with a
 * message in err (errlen bytes) when the config does not load or has no
 * sqlfront `id`. */
hb_sql_t *hb_sql_connect(const char *config_path, uint16_t id, char *err, size_t errlen);

/* Closes the session; accepts NULL; sets *self_p = NULL. */
void hb_sql_destroy(hb_sql_t **self_p);

/* Executes sql (one or more ';'-separated statements) with params bound
 * to $1..$n, waiting up to timeout_ms for the answer. Returns HB_OK with
 * *out (caller owns the whole list; hb_sql_result_free), also when a
 * statement failed: its result is then the last of the list and has a
 * non-"00000" sqlstate; the statements before it ran. *out is NULL only
 * when sql held no statement at all. Other returns leave *out = NULL, with
 * a message in hb_sql_last_error: HB_INVALID (sql NULL, or params NULL
 * with nparams > 0), HB_TOOBIG (more params than limits/max_args - 1, or a
 * string or the whole request longer than the config's limits),
 * HB_TIMEOUT (no answer: the statements may or may not have run), HB_IO
 * (the request could not be sent), HB_PROTO (the answer was malformed). */
hb_rc_t hb_sql_exec(hb_sql_t *self, const char *sql, const hb_val_t *params,
                    uint32_t nparams, int timeout_ms, hb_sql_result_t **out);

/* Returns the text of the last error hb_sql_exec returned (borrowed;
 * valid until the next call; "" after a call that returned HB_OK). */
const char *hb_sql_last_error(const hb_sql_t *self);

/* Frees a list of results from hb_sql_exec, from *self_p to its end;
 * accepts NULL; sets *self_p = NULL. */
void hb_sql_result_free(hb_sql_result_t **self_p);

#endif
