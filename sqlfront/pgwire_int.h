/* pgwire_int.h — what the files of the PostgreSQL wire protocol share.
 *
 * The protocol thread (pgwire.h) is split by concern: pgwire.c owns the
 * connection loop, the buffers and the requests to the engine;
 * pgwire_startup.c the start-up packet and authentication;
 * pgwire_query.c the simple Query protocol and result groups;
 * pgwire_ext.c the extended protocol (Parse/Bind/Describe/Execute/Sync);
 * pgwire_types.c the text and binary forms of values; pgwire_copy.c COPY;
 * pgwire_catalog.c the answers the gateway gives itself (psql's catalog
 * queries, SHOW). This header holds the listener and connection types and
 * the functions those files call in each other. Nothing outside the
 * pgwire*.c files includes it.
 *
 * Everything here runs on the protocol thread, except the counters
 * (SQLF_PG_COUNT), which sqlf_pg_stats reads from another thread.
 */
#ifndef SQLF_PGWIRE_INT_H
#define SQLF_PGWIRE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "hb_mp.h"
#include "hobbes.h"
#include "pgauth.h"
#include "pgwire.h"

#define SQLF_PG_SUBS     8  /* COPY chunk sessions per connection */
#define SQLF_PG_NAME_MAX 64 /* statement, portal, user, database names */

/* Where a connection is in its life. */
enum { SQLF_PG_STARTUP, SQLF_PG_AUTH, SQLF_PG_READY, SQLF_PG_CLOSING };

/* What the answer to a connection's request is for (its continuation). */
enum {
    SQLF_PG_K_NONE,       /* nothing asked yet */
    SQLF_PG_K_SIMPLE,     /* a simple Query: groups, then ReadyForQuery */
    SQLF_PG_K_RUN,        /* an Execute (or a Describe that runs a read) */
    SQLF_PG_K_DESCRIBE,   /* Describe of a statement (sql.describe) */
    SQLF_PG_K_DESCRIBE_P, /* Describe of a portal that writes (sql.describe) */
    SQLF_PG_K_COPY_COLS,  /* COPY FROM: the table's columns (SELECT ... LIMIT 0) */
    SQLF_PG_K_COPY_OUT,   /* COPY TO: the rows */
    SQLF_PG_K_COPY_FIN    /* COPY FROM: SET hobbes.read_after after the chunks */
};

/* The PostgreSQL type oids the gateway speaks (pg_type.dat). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_OID = 26,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_UNKNOWN = 705,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_DATE = 1082,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184,
    OID_NUMERIC = 1700
};

typedef struct {
    uint8_t *p;
    size_t len, cap, off; /* bytes [off, len) are unread */
} sqlf_pg_buf_t;

/* A prepared statement (Parse). */
typedef struct sqlf_pg_stmt {
    struct sqlf_pg_stmt *next;
    char name[SQLF_PG_NAME_MAX];
    char *text;
    uint32_t nparams;
    uint32_t *oids; /* nparams: as Parse gave them, 0 unspecified */
    size_t bytes;   /* what it holds (the connection's memory cap) */
} sqlf_pg_stmt_t;

/* One result group of a RESULT (docs/protocol.md, "SQL sessions"). */
typedef struct {
    const hb_val_t *tag;
    uint32_t ncols;
    const hb_val_t *cols; /* name, type pairs */
    uint32_t nrows;
    const hb_val_t *cells;
} sqlf_pg_group_t;

/* A portal (Bind): a statement with its parameters, and once it ran, its
 * result, sent in pieces by Execute's row limit. */
typedef struct sqlf_pg_portal {
    struct sqlf_pg_portal *next;
    char name[SQLF_PG_NAME_MAX];
    char *text;
    uint32_t nparams;
    hb_val_t *params; /* into pbytes */
    uint8_t *pbytes;
    int16_t *rfmt; /* result formats */
    uint32_t nrfmt;
    bool ran;       /* the engine answered: res holds it */
    uint8_t *frame; /* the RESULT's bytes (res borrows) */
    size_t framelen;
    hb_msg_t res;
    sqlf_pg_group_t g; /* its last group */
    bool has_g;
    uint32_t sent; /* rows sent so far */
    size_t bytes;  /* what it holds (the connection's memory cap) */
} sqlf_pg_portal_t;

/* A field of a COPY batch: bytes [off, off + len) of the batch's cells. */
typedef struct {
    uint32_t off;
    uint32_t len; /* UINT32_MAX: NULL */
} sqlf_pg_field_t;

/* The COPY state of a connection (pgwire_copy.c). */
typedef struct {
    bool in;     /* between CopyInResponse and CopyDone/CopyFail */
    bool end;    /* CopyDone (or CopyFail) came: finish when chunks are back */
    bool eod;    /* the "\." line was seen: ignore the rest */
    bool failed; /* state and msg say why */
    char state[6];
    char msg[256];
    bool simple;  /* started by a simple Query (ReadyForQuery after) */
    char *prefix; /* "INSERT INTO t (cols) VALUES " */
    uint32_t ncols;
    char delim;
    char null[16];
    sqlf_pg_buf_t line;  /* a line not yet complete */
    sqlf_pg_buf_t cells; /* the batch's field bytes */
    sqlf_pg_field_t *fields;
    uint32_t nfields, capfields;
    uint32_t batch_rows, rows_per;
    uint64_t rows; /* rows sent */
    uint32_t inflight;
    bool sub_busy[SQLF_PG_SUBS + 1];
    bool sub_used[SQLF_PG_SUBS + 1]; /* side sessions to close at the end */
    uint64_t sub_req[SQLF_PG_SUBS + 1];
    uint64_t max_epoch; /* newest epoch a COPY chunk committed at */
    uint64_t done_rows; /* a finished COPY's count, until its tag is sent */
} sqlf_pg_copy_t;

typedef struct {
    int fd;
    uint64_t id; /* (serial << 16) | slot */
    int phase;
    bool reject;         /* over max_connections: 53300 after the start-up packet */
    bool counted;        /* counts toward max_connections */
    size_t held;         /* bytes its statements and portals hold */
    uint32_t nstmts;     /* prepared statements */
    int64_t deadline_ms; /* start-up and authentication */
    sqlf_pg_buf_t in, out;
    char user[SQLF_PG_NAME_MAX], db[SQLF_PG_NAME_MAX], app[SQLF_PG_NAME_MAX];
    int32_t key_pid, key_secret;
    /* authentication */
    int sasl_step;
    uint8_t salt[4];
    sqlf_scram_t scram;
    const sqlf_pguser_t *pu;
    /* queries */
    char txn;         /* 'I', 'T', 'E' */
    bool session;     /* authenticated: an engine session exists (sql.close at the end) */
    bool local_abort; /* an error raised here failed the engine's open block: 25P02
                       * until ROLLBACK, and COMMIT rolls back */
    bool skip_to_sync; /* an extended-protocol error: discard until Sync */
    bool waiting;      /* a request to the engine is out */
    int cont;          /* what its answer is for */
    uint64_t req;
    sqlf_pg_portal_t *cportal;
    int32_t cmax; /* Execute's row limit, or -1 for Describe */
    sqlf_pg_stmt_t *cstmt;
    sqlf_pg_stmt_t *stmts;
    sqlf_pg_portal_t *portals;
    sqlf_pg_copy_t copy;
} sqlf_pg_conn_t;

struct sqlf_pg {
    hb_sqlfront_cfg_t cfg;
    const hb_config_t *cluster; /* the process's config (borrowed; outlives the thread) */
    hb_client_t *cli;           /* for psql's catalog queries (made on first use) */
    sqlf_catalog_t *cat;
    hb_limits_t lim;
    void *zctx;
    void **pairs; /* one per worker */
    int nworkers;
    int lfd;
    pthread_t thread;
    atomic_int stop;
    sqlf_pguser_t *users;
    uint32_t nusers;
    sqlf_pg_conn_t **conns; /* by slot */
    uint32_t nslots;
    uint32_t nconns; /* authenticated or starting */
    uint64_t serial;
    uint64_t next_req;
    int64_t accept_resume_ms; /* no accept before (out of descriptors) */
    /* Connections that went away while a request of theirs ran: their
     * session is closed when its answer comes. */
    uint64_t *orphans; /* ids (sub in the top byte) */
    uint32_t norphans, caporphans;
    /* counters */
    pthread_mutex_t mu;
    uint64_t c_accepted, c_rejected, c_auth_fail, c_proto_err, c_timeouts, c_queries,
        c_errors, c_cancels, c_mem_kills;
};

#define SQLF_PG_COUNT(self, field)                                                       \
    do {                                                                                 \
        pthread_mutex_lock(&(self)->mu);                                                 \
        (self)->field++;                                                                 \
        pthread_mutex_unlock(&(self)->mu);                                               \
    } while (0)

static inline uint32_t
sqlf_pg_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t
sqlf_pg_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- pgwire.c: buffers and output messages ---- */

/* Makes room for n more bytes at the end of b. */
void sqlf_pg_reserve(sqlf_pg_buf_t *b, size_t n);
void sqlf_pg_put(sqlf_pg_buf_t *b, const void *p, size_t n);
void sqlf_pg_put8(sqlf_pg_buf_t *b, uint8_t v);
void sqlf_pg_put16(sqlf_pg_buf_t *b, uint16_t v);
void sqlf_pg_put32(sqlf_pg_buf_t *b, uint32_t v);
void sqlf_pg_put64(sqlf_pg_buf_t *b, uint64_t v);
/* Puts s with its NUL. */
void sqlf_pg_putz(sqlf_pg_buf_t *b, const char *s);
/* Starts a message of type t; returns where its length goes, for
 * sqlf_pg_end. */
size_t sqlf_pg_begin(sqlf_pg_buf_t *b, char t);
void sqlf_pg_end(sqlf_pg_buf_t *b, size_t at);
/* A message of type t without a body. */
void sqlf_pg_simple_msg(sqlf_pg_conn_t *c, char t);
/* An ErrorResponse. */
void sqlf_pg_error(sqlf_pg_conn_t *c, const char *severity, const char *sqlstate,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The ErrorResponse of an engine failure message: "SSSSS text", or text
 * alone (XX000). */
void sqlf_pg_engine_error(sqlf_pg_conn_t *c, const char *msg, uint32_t len);
/* ReadyForQuery with the transaction status. */
void sqlf_pg_ready(sqlf_pg_conn_t *c);

/* ---- pgwire.c: requests to the engine ---- */

/* Sends proc with args (args[0] the text) for session sub of c (0: its
 * own, 1..SQLF_PG_SUBS: a COPY side session); returns the request id, or 0
 * when it could not be sent. */
uint64_t sqlf_pg_submit(sqlf_pg_t *self, sqlf_pg_conn_t *c, uint32_t sub,
                        const char *proc, const hb_val_t *args, uint32_t nargs);
/* Sends text (with params) on c's own session and marks c waiting; the
 * answer goes to cont. Returns false after an ErrorResponse when it could
 * not be sent. */
bool sqlf_pg_request(sqlf_pg_t *self, sqlf_pg_conn_t *c, const char *proc,
                     const char *text, size_t len, const hb_val_t *params,
                     uint32_t nparams, int cont);
/* Sends sql.close for side session sub (0: the main one) of connection id. */
void sqlf_pg_close_session(sqlf_pg_t *self, uint64_t id, uint32_t sub);

/* ---- pgwire_startup.c ---- */

/* Handles the start-up packet body (len bytes after the length word). */
void sqlf_pg_startup(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len);
/* Handles a 'p' message during authentication. */
void sqlf_pg_auth_msg(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len);

/* ---- pgwire_types.c ---- */

/* The type oid of an engine type name (text for what has no oid here). */
uint32_t sqlf_pg_oid(const hb_val_t *type);
/* Appends cell v of column type oid as text (a length-prefixed DataRow
 * field when lenpfx). */
void sqlf_pg_cell_text(sqlf_pg_buf_t *b, const hb_val_t *v, uint32_t oid, bool lenpfx);
/* RowDescription and DataRow of group g with result formats f (nf of them,
 * as Bind gives them). */
void sqlf_pg_row_desc(sqlf_pg_conn_t *c, const sqlf_pg_group_t *g, const int16_t *f,
                      uint32_t nf);
void sqlf_pg_data_row(sqlf_pg_conn_t *c, const sqlf_pg_group_t *g, uint32_t row,
                      const int16_t *f, uint32_t nf);
/* Converts binary parameter bytes of type oid into a value; text-like
 * results are written to tmp (cap bytes). Returns false for bytes that are
 * not that type's binary form, or a type without one here. */
bool sqlf_pg_bin_param(uint32_t oid, const uint8_t *b, uint32_t n, hb_val_t *out,
                       char *tmp, size_t cap);

/* ---- pgwire_query.c: result groups and the simple query ---- */

typedef void sqlf_pg_group_fn(sqlf_pg_conn_t *c, const sqlf_pg_group_t *g, void *arg);
/* Splits a RESULT's values into groups; calls fn for each. Returns false
 * for values that are not groups. */
bool sqlf_pg_groups(const hb_msg_t *m, sqlf_pg_group_fn *fn, sqlf_pg_conn_t *c,
                    void *arg);
/* Sends a group whole: RowDescription, DataRows, CommandComplete. */
void sqlf_pg_emit_group(sqlf_pg_conn_t *c, const sqlf_pg_group_t *g, void *arg);
/* CommandComplete with tag. */
void sqlf_pg_complete(sqlf_pg_conn_t *c, const hb_val_t *tag);
/* Tracks the transaction status from a command tag. */
void sqlf_pg_track(sqlf_pg_conn_t *c, const hb_val_t *tag);
/* An engine error ended the statement: the engine failed the block. */
void sqlf_pg_engine_failed(sqlf_pg_conn_t *c);
/* Skips blanks and comments; returns the first significant character. */
const char *sqlf_pg_skip_blank(const char *s);
/* Whether the statement surely returns no rows. */
bool sqlf_pg_no_rows(const char *s);
/* Whether the statement only reads. */
bool sqlf_pg_reads_only(const char *s);
/* In a block the gateway failed: whether s ends it (else answers 25P02). */
bool sqlf_pg_end_failed_block(sqlf_pg_conn_t *c, const char *s);
/* A Query message. */
void sqlf_pg_query(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len);
/* The engine's answer to a simple Query (m; failed when rc says so). */
void sqlf_pg_on_simple(sqlf_pg_conn_t *c, const hb_msg_t *m, bool failed);

/* ---- pgwire_ext.c: the extended query protocol ---- */

/* An extended-protocol error: skip to Sync; an open block fails. */
void sqlf_pg_ext_error(sqlf_pg_conn_t *c);
void sqlf_pg_parse_msg(sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len);
void sqlf_pg_bind_msg(sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len);
void sqlf_pg_describe_msg(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p,
                          uint32_t len);
void sqlf_pg_execute_msg(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p,
                         uint32_t len);
void sqlf_pg_close_msg(sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len);
void sqlf_pg_sync(sqlf_pg_conn_t *c);
/* The engine's answer to SQLF_PG_K_RUN. m's values and frame (framelen
 * bytes) pass to the portal when it returns true; otherwise the caller
 * still owns them. */
bool sqlf_pg_ext_on_run(sqlf_pg_conn_t *c, hb_msg_t *m, uint8_t *frame, size_t framelen,
                        bool failed);
/* The engine's answer to SQLF_PG_K_DESCRIBE / SQLF_PG_K_DESCRIBE_P. */
void sqlf_pg_ext_on_describe(sqlf_pg_conn_t *c, const hb_msg_t *m, bool failed);
/* Frees c's statements and portals (the connection is going away). */
void sqlf_pg_ext_free(sqlf_pg_conn_t *c);

/* ---- pgwire_copy.c ---- */

/* Parses COPY text; starts COPY FROM STDIN or runs COPY TO STDOUT. */
void sqlf_pg_copy_start(sqlf_pg_t *self, sqlf_pg_conn_t *c, const char *text,
                        bool simple);
/* A message while COPY FROM STDIN reads (c->copy.in). */
void sqlf_pg_copy_msg(sqlf_pg_t *self, sqlf_pg_conn_t *c, char type, const uint8_t *body,
                      uint32_t len);
/* Whether the batch is full (it waits for a free side session). */
bool sqlf_pg_copy_full(const sqlf_pg_conn_t *c);
/* The answer of side session sub (a COPY chunk). */
void sqlf_pg_copy_on_chunk(sqlf_pg_t *self, sqlf_pg_conn_t *c, uint32_t sub,
                           const hb_msg_t *m);
/* The engine's answer to SQLF_PG_K_COPY_COLS / _COPY_OUT / _COPY_FIN. */
void sqlf_pg_copy_on_result(sqlf_pg_t *self, sqlf_pg_conn_t *c, const hb_msg_t *m,
                            bool failed);
/* Ends the COPY state (the options and side sessions stay). */
void sqlf_pg_copy_reset(sqlf_pg_conn_t *c);
/* Frees the COPY state (the connection is going away). */
void sqlf_pg_copy_free(sqlf_pg_conn_t *c);

/* ---- pgwire_catalog.c: answers the gateway gives itself ---- */

/* Answers psql's and pgbench's pg_catalog queries it knows; returns false
 * for any other text. */
bool sqlf_pg_psql_catalog(sqlf_pg_t *self, sqlf_pg_conn_t *c, const char *text);
/* SHOW name. */
void sqlf_pg_show(sqlf_pg_t *self, sqlf_pg_conn_t *c, const char *text);

#endif
