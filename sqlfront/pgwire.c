/* pgwire.c — the PostgreSQL wire protocol thread (pgwire.h).
 *
 * Every connection is a state machine fed by its input buffer: messages
 * are taken one at a time, and a message that needs the engine sends one
 * request and stops the machine until the RESULT comes back (the engine
 * runs one request per session at a time, so the order of a connection's
 * statements is kept). Output is buffered and written at ReadyForQuery,
 * Flush, or when it grows large.
 *
 * COPY FROM STDIN loads through up to S_SUBS side sessions of the
 * connection, each a multi-row INSERT of up to S_COPY_ROWS rows with text
 * parameters (typed like literals by the planner), pipelined: a COPY is a
 * bulk load committed chunk by chunk, not one transaction (also inside a
 * block); a failure leaves the chunks before it.
 */
#include "pgwire.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "hb_alloc.h"
#include "hb_expr.h"
#include "hb_hash.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "catalog.h"
#include "hobbes.h"
#include "pgauth.h"

#define S_SUBS          8        /* COPY chunk sessions per connection */
#define S_COPY_ROWS     1000     /* rows per COPY chunk (also bounded by max_args) */
#define S_STARTUP_MAX   10000    /* longest start-up packet (as PostgreSQL) */
#define S_OUT_PAUSE     (4u << 20) /* unread output that stops reading input */
#define S_HARD_CONNS    4        /* sockets kept open: this many times max_connections */
#define S_NAME_MAX      64

enum { P_STARTUP, P_AUTH, P_READY, P_CLOSING };
enum { K_NONE, K_SIMPLE, K_RUN, K_DESCRIBE, K_DESCRIBE_P, K_COPY_COLS, K_COPY_OUT,
       K_COPY_FIN, K_IGNORE };
#define S_IN_AHEAD (1u << 20) /* input read ahead while a connection waits */

typedef struct {
    uint8_t *p;
    size_t len, cap, off; /* bytes [off, len) are unread */
} s_buf_t;

typedef struct s_stmt {
    struct s_stmt *next;
    char name[S_NAME_MAX];
    char *text;
    uint32_t nparams;
    uint32_t *oids;       /* nparams: as Parse gave them, 0 unspecified */
    size_t bytes;         /* what it holds (the connection's memory cap) */
} s_stmt_t;

/* One result group of a RESULT (docs/protocol.md, "SQL sessions"). */
typedef struct {
    const hb_val_t *tag;
    uint32_t ncols;
    const hb_val_t *cols; /* name, type pairs */
    uint32_t nrows;
    const hb_val_t *cells;
} s_group_t;

typedef struct s_portal {
    struct s_portal *next;
    char name[S_NAME_MAX];
    char *text;
    uint32_t nparams;
    hb_val_t *params;     /* into pbytes */
    uint8_t *pbytes;
    int16_t *rfmt;        /* result formats */
    uint32_t nrfmt;
    bool ran;             /* the engine answered: res holds it */
    uint8_t *frame;       /* the RESULT's bytes (res borrows) */
    size_t framelen;
    hb_msg_t res;
    s_group_t g;          /* its last group */
    bool has_g;
    uint32_t sent;        /* rows sent so far */
    size_t bytes;         /* what it holds (the connection's memory cap) */
} s_portal_t;

typedef struct {
    int fd;
    uint64_t id;          /* (serial << 16) | slot */
    int phase;
    bool reject;          /* over max_connections: 53300 after the start-up packet */
    bool counted;         /* counts toward max_connections */
    size_t held;          /* bytes its statements and portals hold */
    uint32_t nstmts;      /* prepared statements */
    int64_t deadline_ms;  /* start-up and authentication */
    s_buf_t in, out;
    char user[S_NAME_MAX], db[S_NAME_MAX], app[S_NAME_MAX];
    int32_t key_pid, key_secret;
    /* authentication */
    int sasl_step;
    uint8_t salt[4];
    sqlf_scram_t scram;
    const sqlf_pguser_t *pu;
    /* queries */
    char txn;             /* 'I', 'T', 'E' */
    bool session;         /* authenticated: an engine session exists (sql.close at the end) */
    bool local_abort;     /* an error raised here failed the engine's open block: 25P02
                           * until ROLLBACK, and COMMIT rolls back */
    bool skip_to_sync;    /* an extended-protocol error: discard until Sync */
    bool waiting;         /* a request to the engine is out */
    int cont;             /* what its answer is for */
    uint64_t req;
    s_portal_t *cportal;
    int32_t cmax;         /* Execute's row limit, or -1 for Describe */
    s_stmt_t *cstmt;
    s_stmt_t *stmts;
    s_portal_t *portals;
    /* COPY */
    bool copy_in;         /* between CopyInResponse and CopyDone/CopyFail */
    bool copy_end;        /* CopyDone (or CopyFail) came: finish when chunks are back */
    bool copy_eod;        /* the "\." line was seen: ignore the rest */
    bool copy_failed;
    char copy_state[6];
    char copy_msg[256];
    bool copy_simple;     /* started by a simple Query (ReadyForQuery after) */
    char *copy_prefix;    /* "INSERT INTO t (cols) VALUES " */
    uint32_t copy_ncols;
    char copy_delim;
    char copy_null[16];
    s_buf_t copy_line;    /* a line not yet complete */
    s_buf_t copy_cells;   /* the batch's field bytes */
    uint32_t *copy_off, *copy_len; /* per field; len UINT32_MAX = NULL */
    uint32_t copy_nfields, copy_capfields;
    uint32_t copy_batch_rows, copy_rows_per;
    uint64_t copy_rows;   /* rows sent */
    uint32_t copy_inflight;
    bool sub_busy[S_SUBS + 1];
    bool sub_used[S_SUBS + 1]; /* side sessions to close at the end */
    uint64_t sub_req[S_SUBS + 1];
    uint64_t max_epoch;   /* newest epoch a COPY chunk committed at */
    uint64_t copy_done_rows; /* a finished COPY's count, until its tag is sent */
} s_conn_t;

struct sqlf_pg {
    hb_sqlfront_cfg_t cfg;
    char config_path[1024];
    hb_client_t *cli;     /* for psql's catalog queries (made on first use) */
    sqlf_catalog_t *cat;
    hb_limits_t lim;
    void *zctx;
    void **pairs;         /* one per worker */
    int nworkers;
    int lfd;
    pthread_t thread;
    atomic_int stop;
    sqlf_pguser_t *users;
    uint32_t nusers;
    s_conn_t **conns;     /* by slot */
    uint32_t nslots;
    uint32_t nconns;      /* authenticated or starting */
    uint64_t serial;
    uint64_t next_req;
    /* Connections that went away while a request of theirs ran: their
     * session is closed when its answer comes. */
    int64_t accept_resume_ms; /* no accept before (out of descriptors) */
    uint64_t *orphans;    /* ids (sub in the top byte) */
    uint32_t norphans, caporphans;
    /* counters */
    pthread_mutex_t mu;
    uint64_t c_accepted, c_rejected, c_auth_fail, c_proto_err, c_timeouts, c_queries,
        c_errors, c_copy_rows, c_cancels, c_mem_kills;
};

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define S_COUNT(self, field)                                                             \
    do {                                                                                 \
        pthread_mutex_lock(&(self)->mu);                                                 \
        (self)->field++;                                                                 \
        pthread_mutex_unlock(&(self)->mu);                                               \
    } while (0)

/* ------------------------------------------------------------------ */
/* Buffers and output messages                                          */
/* ------------------------------------------------------------------ */

static void
s_reserve(s_buf_t *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
        if (n <= b->cap)
            return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    b->p = hb_realloc(b->p, cap);
    b->cap = cap;
}

static void
s_put(s_buf_t *b, const void *p, size_t n)
{
    s_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void
s_put8(s_buf_t *b, uint8_t v)
{
    s_put(b, &v, 1);
}

static void
s_put16(s_buf_t *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    s_put(b, x, 2);
}

static void
s_put32(s_buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    s_put(b, x, 4);
}

static void
s_put64(s_buf_t *b, uint64_t v)
{
    s_put32(b, (uint32_t)(v >> 32));
    s_put32(b, (uint32_t)v);
}

static void
s_putz(s_buf_t *b, const char *s)
{
    s_put(b, s, strlen(s) + 1);
}

/* Starts a message of type t; returns where its length goes. */
static size_t
s_begin(s_buf_t *b, char t)
{
    s_put8(b, (uint8_t)t);
    size_t at = b->len;
    s_put32(b, 0);
    return at;
}

static void
s_end(s_buf_t *b, size_t at)
{
    uint32_t n = (uint32_t)(b->len - at);
    b->p[at] = (uint8_t)(n >> 24);
    b->p[at + 1] = (uint8_t)(n >> 16);
    b->p[at + 2] = (uint8_t)(n >> 8);
    b->p[at + 3] = (uint8_t)n;
}

static void
s_simple_msg(s_conn_t *c, char t)
{
    s_end(&c->out, s_begin(&c->out, t));
}

static void
s_error(s_conn_t *c, const char *severity, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_error(s_conn_t *c, const char *severity, const char *sqlstate, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t at = s_begin(&c->out, 'E');
    s_put8(&c->out, 'S');
    s_putz(&c->out, severity);
    s_put8(&c->out, 'V');
    s_putz(&c->out, severity);
    s_put8(&c->out, 'C');
    s_putz(&c->out, sqlstate);
    s_put8(&c->out, 'M');
    s_putz(&c->out, msg);
    s_put8(&c->out, 0);
    s_end(&c->out, at);
}

/* An engine failure message: "SSSSS text", or text alone (XX000). */
static void
s_engine_error(s_conn_t *c, const char *msg, uint32_t len)
{
    char state[6] = "XX000";
    const char *text = msg;
    uint32_t tl = len;
    if (len >= 6 && msg[5] == ' ') {
        bool ok = true;
        for (int i = 0; i < 5; i++)
            ok = ok && ((msg[i] >= '0' && msg[i] <= '9') || (msg[i] >= 'A' && msg[i] <= 'Z'));
        if (ok) {
            memcpy(state, msg, 5);
            text = msg + 6;
            tl = len - 6;
        }
    }
    if (strcmp(state, "XXCAT") == 0)
        memcpy(state, "40001", 6);
    s_error(c, "ERROR", state, "%.*s", (int)tl, text);
}

static void
s_param_status(s_conn_t *c, const char *k, const char *v)
{
    size_t at = s_begin(&c->out, 'S');
    s_putz(&c->out, k);
    s_putz(&c->out, v);
    s_end(&c->out, at);
}

static void
s_ready(s_conn_t *c)
{
    size_t at = s_begin(&c->out, 'Z');
    s_put8(&c->out, (uint8_t)c->txn);
    s_end(&c->out, at);
}

/* ------------------------------------------------------------------ */
/* Types                                                                */
/* ------------------------------------------------------------------ */

enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23,
    OID_TEXT = 25, OID_OID = 26, OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_UNKNOWN = 705,
    OID_BPCHAR = 1042, OID_VARCHAR = 1043, OID_DATE = 1082, OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184, OID_NUMERIC = 1700
};

static uint32_t
s_oid(const hb_val_t *type)
{
    static const struct {
        const char *name;
        uint32_t oid;
    } m[] = {
        {"smallint", OID_INT2},        {"integer", OID_INT4},
        {"bigint", OID_INT8},          {"boolean", OID_BOOL},
        {"real", OID_FLOAT4},          {"double precision", OID_FLOAT8},
        {"text", OID_TEXT},            {"character varying", OID_VARCHAR},
        {"character", OID_BPCHAR},     {"bytea", OID_BYTEA},
        {"numeric", OID_NUMERIC},      {"date", OID_DATE},
        {"timestamp without time zone", OID_TIMESTAMP}, {"timestamp", OID_TIMESTAMP},
        {"name", OID_NAME},            {"oid", OID_OID},
    };
    if (type->type != HB_VAL_STR)
        return OID_TEXT;
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (strlen(m[i].name) == type->u.s.len && memcmp(m[i].name, type->u.s.ptr, type->u.s.len) == 0)
            return m[i].oid;
    return OID_TEXT;
}

static int16_t
s_typlen(uint32_t oid)
{
    switch (oid) {
    case OID_BOOL: return 1;
    case OID_INT2: return 2;
    case OID_INT4: case OID_FLOAT4: case OID_DATE: case OID_OID: return 4;
    case OID_INT8: case OID_FLOAT8: case OID_TIMESTAMP: return 8;
    default: return -1;
    }
}

/* Shortest text that reads back as the same float (PostgreSQL 12+). */
static size_t
s_float_text(double d, bool single, char *out, size_t cap)
{
    if (isnan(d))
        return (size_t)snprintf(out, cap, "NaN");
    if (isinf(d))
        return (size_t)snprintf(out, cap, d > 0 ? "Infinity" : "-Infinity");
    for (int prec = 1; prec <= 17; prec++) {
        int n = snprintf(out, cap, "%.*g", prec, d);
        if (single ? strtof(out, NULL) == (float)d : strtod(out, NULL) == d)
            return (size_t)n;
    }
    return (size_t)snprintf(out, cap, "%.17g", d);
}

/* Appends cell v of column type oid as text (a length-prefixed DataRow
 * field when lenpfx). */
static void
s_cell_text(s_buf_t *b, const hb_val_t *v, uint32_t oid, bool lenpfx)
{
    if (v->type == HB_VAL_STR) {
        if (lenpfx)
            s_put32(b, v->u.s.len);
        s_put(b, v->u.s.ptr, v->u.s.len);
        return;
    }
    if (v->type == HB_VAL_BIN) {
        if (lenpfx)
            s_put32(b, 2 + 2 * v->u.s.len);
        s_put(b, "\\x", 2);
        static const char hx[] = "0123456789abcdef";
        for (uint32_t i = 0; i < v->u.s.len; i++) {
            char two[2] = {hx[v->u.s.ptr[i] >> 4], hx[v->u.s.ptr[i] & 15]};
            s_put(b, two, 2);
        }
        return;
    }
    char buf[64];
    size_t n;
    if (v->type == HB_VAL_DOUBLE)
        n = s_float_text(v->u.d, oid == OID_FLOAT4, buf, sizeof buf);
    else
        n = hb_val_format(v, buf, sizeof buf);
    if (lenpfx)
        s_put32(b, (uint32_t)n);
    s_put(b, buf, n);
}

static void *
s_alloc_cb(void *arg, size_t n)
{
    (void)arg;
    static __thread char scratch[4096];
    return n <= sizeof scratch ? scratch : NULL;
}

/* PostgreSQL's binary numeric from m * 10^-scale. */
static void
s_numeric_bin(s_buf_t *b, int64_t m, int32_t scale)
{
    bool neg = m < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    char digits[48];
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)u);
    /* Pad so there are at least scale + 1 digits. */
    char padded[96];
    int lead = nd <= scale ? scale + 1 - nd : 0;
    memset(padded, '0', (size_t)lead);
    memcpy(padded + lead, digits, (size_t)nd + 1);
    int total = lead + nd, intd = total - scale;
    /* Groups of 4 aligned at the point. */
    int ipad = (4 - intd % 4) % 4, fpad = (4 - scale % 4) % 4;
    char all[128];
    memset(all, '0', (size_t)ipad);
    memcpy(all + ipad, padded, (size_t)total);
    memset(all + ipad + total, '0', (size_t)fpad);
    int ng = (ipad + total + fpad) / 4;
    int16_t g[32];
    for (int i = 0; i < ng; i++) {
        int x = 0;
        for (int k = 0; k < 4; k++)
            x = x * 10 + (all[i * 4 + k] - '0');
        g[i] = (int16_t)x;
    }
    int weight = (ipad + intd) / 4 - 1;
    int first = 0, last = ng;
    while (first < last && g[first] == 0) {
        first++;
        weight--;
    }
    while (last > first && g[last - 1] == 0)
        last--;
    if (first == last)
        weight = 0;
    s_put16(b, (uint16_t)(last - first));
    s_put16(b, (uint16_t)(int16_t)weight);
    s_put16(b, neg && first < last ? 0x4000 : 0);
    s_put16(b, (uint16_t)scale);
    for (int i = first; i < last; i++)
        s_put16(b, (uint16_t)g[i]);
}

/* Appends cell v (not NULL) as a binary DataRow field of type oid. */
static void
s_cell_binary(s_buf_t *b, const hb_val_t *v, uint32_t oid)
{
    hb_sqlerr_t err;
    hb_val_t x = *v;
    if (v->type == HB_VAL_STR && (oid == OID_DATE || oid == OID_TIMESTAMP || oid == OID_NUMERIC)) {
        hb_type_t t = oid == OID_DATE ? HB_T_DATE : oid == OID_TIMESTAMP ? HB_T_TIMESTAMP
                                                                         : HB_T_NUMERIC;
        if (hb_val_coerce(v, t, 0, s_alloc_cb, NULL, &x, &err) != HB_OK)
            x = *v;
    }
    size_t at = b->len;
    s_put32(b, 0);
    switch (oid) {
    case OID_BOOL:
        s_put8(b, x.type == HB_VAL_BOOL ? x.u.b : x.u.i != 0);
        break;
    case OID_INT2:
        s_put16(b, (uint16_t)x.u.i);
        break;
    case OID_INT4: case OID_OID: case OID_DATE:
        s_put32(b, (uint32_t)x.u.i);
        break;
    case OID_INT8: case OID_TIMESTAMP:
        s_put64(b, (uint64_t)x.u.i);
        break;
    case OID_FLOAT4: {
        float f = (float)(x.type == HB_VAL_INT ? (double)x.u.i : x.u.d);
        uint32_t u;
        memcpy(&u, &f, 4);
        s_put32(b, u);
        break;
    }
    case OID_FLOAT8: {
        double d = x.type == HB_VAL_INT ? (double)x.u.i : x.u.d;
        uint64_t u;
        memcpy(&u, &d, 8);
        s_put64(b, u);
        break;
    }
    case OID_NUMERIC:
        if (x.type == HB_VAL_DEC)
            s_numeric_bin(b, x.u.dec.m, x.u.dec.scale);
        else if (x.type == HB_VAL_INT)
            s_numeric_bin(b, x.u.i, 0);
        else
            s_cell_text(b, &x, oid, false);
        break;
    case OID_BYTEA:
        if (x.type == HB_VAL_BIN || x.type == HB_VAL_STR)
            s_put(b, x.u.s.ptr, x.u.s.len);
        else
            s_cell_text(b, &x, oid, false);
        break;
    default:
        s_cell_text(b, &x, oid, false);
    }
    uint32_t n = (uint32_t)(b->len - at - 4);
    b->p[at] = (uint8_t)(n >> 24);
    b->p[at + 1] = (uint8_t)(n >> 16);
    b->p[at + 2] = (uint8_t)(n >> 8);
    b->p[at + 3] = (uint8_t)n;
}

static int16_t
s_fmt(const int16_t *f, uint32_t nf, uint32_t col)
{
    return nf == 0 ? 0 : nf == 1 ? f[0] : col < nf ? f[col] : 0;
}

static void
s_row_desc(s_conn_t *c, const s_group_t *g, const int16_t *f, uint32_t nf)
{
    size_t at = s_begin(&c->out, 'T');
    s_put16(&c->out, (uint16_t)g->ncols);
    for (uint32_t i = 0; i < g->ncols; i++) {
        const hb_val_t *nm = &g->cols[2 * i];
        s_put(&c->out, nm->type == HB_VAL_STR ? nm->u.s.ptr : (const uint8_t *)"?column?",
              nm->type == HB_VAL_STR ? nm->u.s.len : 8);
        s_put8(&c->out, 0);
        s_put32(&c->out, 0);
        s_put16(&c->out, 0);
        uint32_t oid = s_oid(&g->cols[2 * i + 1]);
        s_put32(&c->out, oid);
        s_put16(&c->out, (uint16_t)s_typlen(oid));
        s_put32(&c->out, 0xffffffffu);
        s_put16(&c->out, (uint16_t)s_fmt(f, nf, i));
    }
    s_end(&c->out, at);
}

static void
s_data_row(s_conn_t *c, const s_group_t *g, uint32_t row, const int16_t *f, uint32_t nf)
{
    size_t at = s_begin(&c->out, 'D');
    s_put16(&c->out, (uint16_t)g->ncols);
    for (uint32_t i = 0; i < g->ncols; i++) {
        const hb_val_t *v = &g->cells[(size_t)row * g->ncols + i];
        uint32_t oid = s_oid(&g->cols[2 * i + 1]);
        if (v->type == HB_VAL_NIL)
            s_put32(&c->out, 0xffffffffu);
        else if (s_fmt(f, nf, i) == 1)
            s_cell_binary(&c->out, v, oid);
        else
            s_cell_text(&c->out, v, oid, true);
    }
    s_end(&c->out, at);
}

static void
s_complete(s_conn_t *c, const hb_val_t *tag)
{
    size_t at = s_begin(&c->out, 'C');
    if (tag && tag->type == HB_VAL_STR)
        s_put(&c->out, tag->u.s.ptr, tag->u.s.len);
    s_put8(&c->out, 0);
    s_end(&c->out, at);
}

static bool
s_tag_is(const hb_val_t *tag, const char *s)
{
    size_t n = strlen(s);
    return tag->type == HB_VAL_STR && tag->u.s.len >= n && memcmp(tag->u.s.ptr, s, n) == 0;
}

/* Splits a RESULT's values into groups; calls fn for each. Returns false
 * for values that are not groups. */
static bool
s_groups(const hb_msg_t *m, void (*fn)(s_conn_t *, const s_group_t *, void *), s_conn_t *c,
         void *arg)
{
    const hb_val_t *v = m->u.result.vals;
    uint32_t n = m->u.result.nvals, i = 0;
    while (i < n) {
        s_group_t g;
        if (i + 2 > n || v[i].type != HB_VAL_STR || v[i + 1].type != HB_VAL_INT)
            return false;
        g.tag = &v[i];
        uint64_t nc = (uint64_t)v[i + 1].u.i;
        i += 2;
        if (nc > 4096 || i + 2 * nc + 1 > n)
            return false;
        g.ncols = (uint32_t)nc;
        g.cols = &v[i];
        i += 2 * g.ncols;
        if (v[i].type != HB_VAL_INT)
            return false;
        uint64_t nr = (uint64_t)v[i].u.i;
        i++;
        if ((nc && nr > (n - i) / nc) || (!nc && nr))
            return false;
        g.nrows = (uint32_t)nr;
        g.cells = &v[i];
        i += (uint32_t)(nr * nc);
        if (i >= n || v[i].type != HB_VAL_INT)
            return false;
        i++;
        fn(c, &g, arg);
    }
    return true;
}

/* Tracks the transaction status from a command tag. */
static void
s_track(s_conn_t *c, const hb_val_t *tag)
{
    if (s_tag_is(tag, "BEGIN"))
        c->txn = 'T';
    else if (s_tag_is(tag, "COMMIT") || s_tag_is(tag, "ROLLBACK"))
        c->txn = 'I';
}

/* ------------------------------------------------------------------ */
/* Requests to the engine                                               */
/* ------------------------------------------------------------------ */

static void
s_peer(uint64_t id, uint8_t out[SQLF_PG_PEER_LEN])
{
    out[0] = 0;
    out[1] = 'P';
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(id >> (56 - 8 * i));
}

/* Sends proc with args (args[0] the text) for session sub of c; returns
 * the request id, or 0 when it could not be sent. */
static uint64_t
s_submit(sqlf_pg_t *self, s_conn_t *c, uint32_t sub, const char *proc, const hb_val_t *args,
         uint32_t nargs)
{
    hb_msg_t m = {.type = HB_MSG_SUBMIT};
    m.u.submit.req_id = ++self->next_req;
    m.u.submit.proc = proc;
    m.u.submit.proc_len = (uint32_t)strlen(proc);
    m.u.submit.nargs = nargs;
    m.u.submit.args = (hb_val_t *)args;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    uint64_t id = 0;
    if (hb_msg_encode(&m, &sb) == HB_OK && sb.size <= self->lim.max_frame_bytes) {
        uint8_t peer[SQLF_PG_PEER_LEN];
        s_peer(c->id | ((uint64_t)sub << 56), peer);
        void *pair = self->pairs[hb_hash64(peer, sizeof peer, 0) % (uint64_t)self->nworkers];
        if (zmq_send(pair, peer, sizeof peer, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
            zmq_send(pair, sb.data, sb.size, ZMQ_DONTWAIT) >= 0)
            id = m.u.submit.req_id;
    }
    msgpack_sbuffer_destroy(&sb);
    return id;
}

/* Sends text (with params) on c's own session; the answer goes to cont. */
static bool
s_request(sqlf_pg_t *self, s_conn_t *c, const char *proc, const char *text, size_t len,
          const hb_val_t *params, uint32_t nparams, int cont)
{
    if (len > self->lim.max_value_bytes) {
        s_error(c, "ERROR", "54000", "the statement text is %zu bytes, longer than "
                "limits/max_value_bytes (%u)", len, self->lim.max_value_bytes);
        return false;
    }
    if (nparams + 1 > self->lim.max_args) {
        s_error(c, "ERROR", "54023", "%u parameters: at most %u fit in one statement", nparams,
                self->lim.max_args - 1);
        return false;
    }
    hb_val_t *args = hb_malloc((nparams + 1) * sizeof *args);
    args[0] = hb_val_str(text, (uint32_t)len);
    for (uint32_t i = 0; i < nparams; i++)
        args[i + 1] = params[i];
    c->req = s_submit(self, c, 0, proc, args, nparams + 1);
    hb_free(args);
    if (!c->req) {
        s_error(c, "ERROR", "54000", "the statement does not fit in one request");
        return false;
    }
    c->waiting = true;
    c->cont = cont;
    return true;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static void
s_portal_free(s_conn_t *c, s_portal_t *p)
{
    if (c)
        c->held -= p->bytes;
    hb_msg_clear(&p->res);
    hb_free(p->frame);
    hb_free(p->text);
    hb_free(p->params);
    hb_free(p->pbytes);
    hb_free(p->rfmt);
    hb_free(p);
}

static void
s_stmt_free(s_conn_t *c, s_stmt_t *s)
{
    if (c) {
        c->held -= s->bytes;
        c->nstmts--;
    }
    hb_free(s->text);
    hb_free(s->oids);
    hb_free(s);
}

static void
s_copy_reset(s_conn_t *c)
{
    c->copy_in = c->copy_end = c->copy_eod = c->copy_failed = false;
    hb_free(c->copy_prefix);
    c->copy_prefix = NULL;
    c->copy_line.len = c->copy_line.off = 0;
    c->copy_cells.len = c->copy_cells.off = 0;
    c->copy_nfields = c->copy_batch_rows = 0;
    c->copy_rows = 0;
}

/* Sends sql.close for side session sub (0: the main one) of connection id. */
static void
s_close_session(sqlf_pg_t *self, uint64_t id, uint32_t sub)
{
    s_conn_t gone = {.id = id};
    (void)s_submit(self, &gone, sub, "sql.close", NULL, 0);
}

static void
s_close(sqlf_pg_t *self, s_conn_t *c)
{
    /* The sessions (and an open block) go away with the connection; one
     * still running a request is closed when it answers. */
    for (uint32_t sub = 0; c->session && sub <= S_SUBS; sub++) {
        if (sub && !c->sub_used[sub])
            continue;
        bool busy = sub ? c->sub_busy[sub] : c->waiting;
        if (!busy) {
            s_close_session(self, c->id, sub);
            continue;
        }
        if (self->norphans == self->caporphans) {
            self->caporphans = self->caporphans ? self->caporphans * 2 : 64;
            self->orphans = hb_realloc(self->orphans, self->caporphans * sizeof *self->orphans);
        }
        self->orphans[self->norphans++] = c->id | (uint64_t)sub << 56;
    }
    close(c->fd);
    if (c->counted)
        self->nconns--;
    while (c->stmts) {
        s_stmt_t *s = c->stmts;
        c->stmts = s->next;
        s_stmt_free(NULL, s);
    }
    while (c->portals) {
        s_portal_t *p = c->portals;
        c->portals = p->next;
        s_portal_free(NULL, p);
    }
    s_copy_reset(c);
    hb_free(c->copy_line.p);
    hb_free(c->copy_cells.p);
    hb_free(c->copy_off);
    hb_free(c->copy_len);
    hb_free(c->in.p);
    hb_free(c->out.p);
    self->conns[c->id & 0xffff] = NULL;
    hb_free(c);
}

/* Writes what it can of c's output; returns false when the peer is gone. */
static bool
s_flush(s_conn_t *c)
{
    while (c->out.off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == EINTR)
                continue;
            return false;
        }
        c->out.off += (size_t)n;
    }
    c->out.off = c->out.len = 0;
    return true;
}

static size_t
s_conn_mem(const s_conn_t *c)
{
    return c->in.cap + c->out.cap + c->copy_line.cap + c->copy_cells.cap + c->held;
}

/* ------------------------------------------------------------------ */
/* Start-up and authentication                                          */
/* ------------------------------------------------------------------ */

static uint32_t
s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
s_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static const sqlf_pguser_t *
s_user(const sqlf_pg_t *self, const char *name)
{
    for (uint32_t i = 0; i < self->nusers; i++)
        if (strcmp(self->users[i].name, name) == 0)
            return &self->users[i];
    return NULL;
}

static void
s_auth_ok(sqlf_pg_t *self, s_conn_t *c)
{
    size_t at = s_begin(&c->out, 'R');
    s_put32(&c->out, 0);
    s_end(&c->out, at);
    s_param_status(c, "server_version", "15.0");
    s_param_status(c, "server_encoding", "UTF8");
    s_param_status(c, "client_encoding", "UTF8");
    s_param_status(c, "DateStyle", "ISO, MDY");
    s_param_status(c, "integer_datetimes", "on");
    s_param_status(c, "standard_conforming_strings", "on");
    s_param_status(c, "TimeZone", "UTC");
    s_param_status(c, "IntervalStyle", "postgres");
    s_param_status(c, "application_name", c->app);
    s_param_status(c, "is_superuser", "on");
    s_param_status(c, "session_authorization", c->user);
    s_param_status(c, "default_transaction_read_only", "off");
    s_param_status(c, "in_hot_standby", "off");
    at = s_begin(&c->out, 'K');
    s_put32(&c->out, (uint32_t)c->key_pid);
    s_put32(&c->out, (uint32_t)c->key_secret);
    s_end(&c->out, at);
    c->phase = P_READY;
    c->session = true;
    c->txn = 'I';
    s_ready(c);
    (void)self;
}

static void
s_auth_fail(sqlf_pg_t *self, s_conn_t *c)
{
    S_COUNT(self, c_auth_fail);
    s_error(c, "FATAL", "28P01", "password authentication failed for user \"%s\"", c->user);
    c->phase = P_CLOSING;
}

/* Handles the start-up packet body (len bytes after the length word). */
static void
s_startup(sqlf_pg_t *self, s_conn_t *c, const uint8_t *p, uint32_t len)
{
    uint32_t code = s_get32(p);
    if (code == 80877103 || code == 80877104) { /* SSLRequest, GSSENCRequest */
        if (len != 4) {
            S_COUNT(self, c_proto_err);
            s_error(c, "FATAL", "08P01", "invalid length of an encryption request");
            c->phase = P_CLOSING;
            return;
        }
        if (c->in.len > c->in.off) {
            /* Bytes sent before our answer would be read as if encrypted. */
            S_COUNT(self, c_proto_err);
            s_error(c, "FATAL", "08P01", "received unencrypted data after SSL request");
            c->phase = P_CLOSING;
            return;
        }
        s_put8(&c->out, 'N');
        return;
    }
    if (code == 80877102) { /* CancelRequest */
        S_COUNT(self, c_cancels);
        /* Nothing to interrupt: a statement the cluster has sequenced runs
         * to its end on every replica. The request is acknowledged by
         * closing, as PostgreSQL does. */
        c->phase = P_CLOSING;
        return;
    }
    if (code >> 16 != 3) {
        S_COUNT(self, c_proto_err);
        s_error(c, "FATAL", "0A000", "unsupported frontend protocol %u.%u: server supports 3.0",
                code >> 16, code & 0xffff);
        c->phase = P_CLOSING;
        return;
    }
    /* name\0value\0 ... \0 */
    const char *q = (const char *)p + 4, *end = (const char *)p + len;
    char unknown[8][S_NAME_MAX];
    uint32_t nunknown = 0;
    snprintf(c->app, sizeof c->app, "%s", "");
    while (q < end && *q) {
        const char *k = q;
        const char *kz = memchr(k, 0, (size_t)(end - k));
        if (!kz || kz + 1 >= end)
            goto bad;
        const char *v = kz + 1;
        const char *vz = memchr(v, 0, (size_t)(end - v));
        if (!vz)
            goto bad;
        if (strcmp(k, "user") == 0)
            snprintf(c->user, sizeof c->user, "%s", v);
        else if (strcmp(k, "database") == 0)
            snprintf(c->db, sizeof c->db, "%s", v);
        else if (strcmp(k, "application_name") == 0)
            snprintf(c->app, sizeof c->app, "%s", v);
        else if (strncmp(k, "_pq_.", 5) == 0 && nunknown < 8)
            snprintf(unknown[nunknown++], S_NAME_MAX, "%s", k);
        q = vz + 1;
    }
    if (q >= end || *q != 0)
        goto bad;
    if (!c->user[0]) {
        s_error(c, "FATAL", "28000", "no PostgreSQL user name specified in startup packet");
        c->phase = P_CLOSING;
        return;
    }
    if (!c->db[0])
        snprintf(c->db, sizeof c->db, "%s", c->user);
    if (c->reject) {
        S_COUNT(self, c_rejected);
        s_error(c, "FATAL", "53300", "sorry, too many clients already");
        c->phase = P_CLOSING;
        return;
    }
    if ((code & 0xffff) != 0 || nunknown) {
        size_t at = s_begin(&c->out, 'v');
        s_put32(&c->out, 0);
        s_put32(&c->out, nunknown);
        for (uint32_t i = 0; i < nunknown; i++)
            s_putz(&c->out, unknown[i]);
        s_end(&c->out, at);
    }
    c->pu = s_user(self, c->user);
    c->phase = P_AUTH;
    switch (self->cfg.pg_auth) {
    case HB_PG_AUTH_TRUST:
        s_auth_ok(self, c);
        return;
    case HB_PG_AUTH_PASSWORD: {
        size_t at = s_begin(&c->out, 'R');
        s_put32(&c->out, 3);
        s_end(&c->out, at);
        return;
    }
    case HB_PG_AUTH_MD5: {
        if (RAND_bytes(c->salt, 4) != 1)
            memset(c->salt, 7, 4);
        size_t at = s_begin(&c->out, 'R');
        s_put32(&c->out, 5);
        s_put(&c->out, c->salt, 4);
        s_end(&c->out, at);
        return;
    }
    default: {
        size_t at = s_begin(&c->out, 'R');
        s_put32(&c->out, 10);
        s_putz(&c->out, "SCRAM-SHA-256");
        s_put8(&c->out, 0);
        s_end(&c->out, at);
        return;
    }
    }
bad:
    S_COUNT(self, c_proto_err);
    s_error(c, "FATAL", "08P01", "invalid startup packet layout: expected terminator as last "
                                 "byte");
    c->phase = P_CLOSING;
}

/* A 'p' message during authentication. */
static void
s_auth_msg(sqlf_pg_t *self, s_conn_t *c, const uint8_t *p, uint32_t len)
{
    int method = self->cfg.pg_auth;
    if (method == HB_PG_AUTH_PASSWORD || method == HB_PG_AUTH_MD5) {
        if (len == 0 || p[len - 1] != 0 || memchr(p, 0, len) != p + len - 1) {
            s_auth_fail(self, c);
            return;
        }
        bool ok = method == HB_PG_AUTH_PASSWORD
                      ? sqlf_pgauth_password(c->pu, (const char *)p)
                      : sqlf_pgauth_md5(c->pu, c->salt, (const char *)p);
        if (ok)
            s_auth_ok(self, c);
        else
            s_auth_fail(self, c);
        return;
    }
    char out[1024];
    if (c->sasl_step == 0) {
        /* SASLInitialResponse: mechanism\0, int32 length, data */
        const uint8_t *z = memchr(p, 0, len);
        if (!z || strcmp((const char *)p, "SCRAM-SHA-256") != 0 || (size_t)(z - p) + 5 > len) {
            s_auth_fail(self, c);
            return;
        }
        uint32_t dl = s_get32(z + 1);
        const uint8_t *d = z + 5;
        if (dl != len - (uint32_t)(d - p)) {
            s_auth_fail(self, c);
            return;
        }
        uint8_t rnd[18];
        char nonce[32];
        if (RAND_bytes(rnd, sizeof rnd) != 1) {
            s_auth_fail(self, c);
            return;
        }
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (size_t i = 0; i < sizeof rnd; i++)
            nonce[i] = b64[rnd[i] & 63];
        nonce[sizeof rnd] = '\0';
        int n = sqlf_scram_first(&c->scram, c->pu, (const char *)d, dl, nonce, out, sizeof out);
        if (n < 0) {
            s_auth_fail(self, c);
            return;
        }
        size_t at = s_begin(&c->out, 'R');
        s_put32(&c->out, 11);
        s_put(&c->out, out, (size_t)n);
        s_end(&c->out, at);
        c->sasl_step = 1;
        return;
    }
    int n = sqlf_scram_final(&c->scram, (const char *)p, len, out, sizeof out);
    if (n < 0) {
        s_auth_fail(self, c);
        return;
    }
    size_t at = s_begin(&c->out, 'R');
    s_put32(&c->out, 12);
    s_put(&c->out, out, (size_t)n);
    s_end(&c->out, at);
    s_auth_ok(self, c);
}

/* ------------------------------------------------------------------ */
/* psql's describe queries                                              */
/* ------------------------------------------------------------------ */

static void s_emit_group(s_conn_t *c, const s_group_t *g, void *arg);

/* A result built here, in the engine's group layout. */
typedef struct {
    hb_val_t *v;
    uint32_t n, cap;
    char **strs;
    uint32_t nstrs, capstrs;
    uint32_t rows_at; /* index of the nrows value of the open group */
} s_res_t;

static void
s_res_push(s_res_t *r, hb_val_t v)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = hb_realloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = v;
}

static void
s_res_str(s_res_t *r, const char *s)
{
    if (!s) {
        s_res_push(r, hb_val_nil());
        return;
    }
    size_t n = strlen(s);
    char *c = hb_malloc(n + 1);
    memcpy(c, s, n + 1);
    if (r->nstrs == r->capstrs) {
        r->capstrs = r->capstrs ? r->capstrs * 2 : 32;
        r->strs = hb_realloc(r->strs, r->capstrs * sizeof *r->strs);
    }
    r->strs[r->nstrs++] = c;
    s_res_push(r, hb_val_str(c, (uint32_t)n));
}

/* Opens a group with the given "name:type" columns. */
static void
s_res_group(s_res_t *r, const char *const *cols, uint32_t ncols)
{
    s_res_str(r, "SELECT");
    s_res_push(r, hb_val_int(ncols));
    for (uint32_t i = 0; i < ncols; i++) {
        char name[64];
        const char *colon = strchr(cols[i], ':');
        snprintf(name, sizeof name, "%.*s", (int)(colon - cols[i]), cols[i]);
        s_res_str(r, name);
        s_res_str(r, colon + 1);
    }
    r->rows_at = r->n;
    s_res_push(r, hb_val_int(0));
}

static void
s_res_end(s_res_t *r, uint32_t ncols)
{
    uint32_t nrows = ncols ? (r->n - r->rows_at - 1) / ncols : 0;
    char tag[32];
    snprintf(tag, sizeof tag, "SELECT %u", nrows);
    r->v[r->rows_at] = hb_val_int(nrows);
    /* the tag was pushed first: replace it */
    uint32_t tag_at = r->rows_at - 2 * ncols - 2;
    s_res_str(r, tag);
    r->v[tag_at] = r->v[--r->n];
    s_res_push(r, hb_val_int(0)); /* epoch */
}

static void
s_res_free(s_res_t *r)
{
    for (uint32_t i = 0; i < r->nstrs; i++)
        hb_free(r->strs[i]);
    hb_free(r->strs);
    hb_free(r->v);
}

/* PostgreSQL's format_type of a column. */
static void
s_format_type(const sqlf_col_t *col, char *out, size_t cap)
{
    const char *base = hb_type_name(col->type);
    if ((col->type == HB_T_VARCHAR || col->type == HB_T_CHAR) && col->typmod > 0)
        snprintf(out, cap, "%s(%d)", base, col->typmod);
    else if (col->type == HB_T_NUMERIC && col->typmod > 0)
        snprintf(out, cap, "numeric(%d,%d)", col->typmod >> 16, col->typmod & 0xffff);
    else
        snprintf(out, cap, "%s", base);
}

/* Whether name matches psql's pattern regex ^(...)$ (letters, digits, _,
 * and .* for psql's *). */
static bool
s_pattern_match(const char *re, const char *name)
{
    if (*re == '\0')
        return *name == '\0';
    if (re[0] == '.' && re[1] == '*') {
        for (const char *n = name;; n++) {
            if (s_pattern_match(re + 2, n))
                return true;
            if (!*n)
                return false;
        }
    }
    if (re[0] == '.')
        return *name && s_pattern_match(re + 1, name + 1);
    return *re == *name && s_pattern_match(re + 1, name + 1);
}

/* The pattern of "c.relname OPERATOR(pg_catalog.~) '^(...)$'", or NULL. */
static bool
s_relname_pattern(const char *text, char *out, size_t cap)
{
    const char *p = strstr(text, "OPERATOR(pg_catalog.~) '^(");
    if (!p)
        return false;
    p += strlen("OPERATOR(pg_catalog.~) '^(");
    const char *e = strstr(p, ")$'");
    if (!e || (size_t)(e - p) >= cap)
        return false;
    snprintf(out, cap, "%.*s", (int)(e - p), p);
    return true;
}

static const sqlf_table_t *
s_table_by_oid(const sqlf_catalog_t *cat, const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p)
        return NULL;
    long oid = strtol(p + strlen(key), NULL, 10);
    for (uint32_t i = 0; i < sqlf_catalog_size(cat); i++) {
        const sqlf_table_t *t = sqlf_catalog_at(cat, i);
        if (t && 16384 + (long)t->id == oid)
            return t;
    }
    return NULL;
}

/* Answers the pg_catalog queries psql sends for \dt and \d TABLE from the
 * cluster's catalog. Returns false for any other text. */
static bool
s_psql_catalog(sqlf_pg_t *self, s_conn_t *c, const char *text)
{
    bool list = strstr(text, "pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"") &&
                strstr(text, "FROM pg_catalog.pg_class c");
    bool find = !list && strstr(text, "SELECT c.oid,") && strstr(text, "c.relname") &&
                strstr(text, "FROM pg_catalog.pg_class c");
    bool rel = strstr(text, "SELECT c.relchecks, c.relkind, c.relhasindex");
    bool att = strstr(text, "SELECT a.attname,") &&
               strstr(text, "pg_catalog.format_type(a.atttypid, a.atttypmod)");
    bool idx = strstr(text, "SELECT c2.relname, i.indisprimary, i.indisunique");
    bool empty = strstr(text, "FROM pg_catalog.pg_policy pol") ||
                 strstr(text, "FROM pg_catalog.pg_statistic_ext") ||
                 strstr(text, "SELECT pubname") ||
                 strstr(text, "FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i") ||
                 strstr(text, "FROM pg_catalog.pg_trigger") ||
                 strstr(text, "FROM pg_catalog.pg_constraint r");
    /* pgbench's start-up check of how pgbench_accounts is partitioned */
    bool part = strstr(text, "select o.n, p.partstrat, pg_catalog.count(i.inhparent)") &&
                strstr(text, "where c.relname = '");
    if (!list && !find && !rel && !att && !idx && !empty && !part)
        return false;
    char err[256];
    if (!self->cli) {
        self->cli = hb_client_new(self->config_path, self->cfg.replica, err, sizeof err);
        self->cat = sqlf_catalog_new();
    }
    if (!self->cli || sqlf_catalog_load(self->cat, self->cli, 2000, 0) != HB_OK) {
        s_error(c, "ERROR", "58000", "cannot read the catalog");
        return true;
    }
    const sqlf_catalog_t *cat = self->cat;
    s_res_t r = {0};
    char pat[128] = "";
    bool has_pat = s_relname_pattern(text, pat, sizeof pat);
    uint32_t nc = 0;
    if (list || find) {
        static const char *const lc[] = {"Schema:name", "Name:name", "Type:text", "Owner:name"};
        static const char *const fc[] = {"oid:oid", "nspname:name", "relname:name"};
        nc = list ? 4 : 3;
        s_res_group(&r, list ? lc : fc, nc);
        for (uint32_t i = 0; i < sqlf_catalog_size(cat); i++) {
            const sqlf_table_t *t = sqlf_catalog_at(cat, i);
            if (!t || (has_pat && !s_pattern_match(pat, t->name)))
                continue;
            if (list) {
                s_res_str(&r, "public");
                s_res_str(&r, t->name);
                s_res_str(&r, "table");
                s_res_str(&r, c->user);
            } else {
                char oid[24];
                snprintf(oid, sizeof oid, "%u", 16384 + t->id);
                s_res_str(&r, oid);
                s_res_str(&r, "public");
                s_res_str(&r, t->name);
            }
        }
    } else if (part) {
        static const char *const cols[] = {"n:integer", "partstrat:char", "count:bigint"};
        nc = 3;
        s_res_group(&r, cols, nc);
        const char *q = strstr(text, "where c.relname = '") + strlen("where c.relname = '");
        char name[SQLF_NAME_MAX];
        size_t n = strcspn(q, "'");
        snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), q);
        if (sqlf_catalog_find(cat, name)) {
            s_res_str(&r, "1");
            s_res_str(&r, NULL);
            s_res_str(&r, "0");
        }
    } else if (rel) {
        static const char *const cols[] = {
            "relchecks:smallint", "relkind:char", "relhasindex:boolean", "relhasrules:boolean",
            "relhastriggers:boolean", "relrowsecurity:boolean", "relforcerowsecurity:boolean",
            "relhasoids:boolean", "relispartition:boolean", "?column?:text",
            "reltablespace:oid", "reloftype:text", "relpersistence:char",
            "relreplident:char", "amname:name"};
        nc = 15;
        s_res_group(&r, cols, nc);
        const sqlf_table_t *t = s_table_by_oid(cat, text, "WHERE c.oid = '");
        if (t) {
            const char *v[] = {"0", "r", t->rowid && !t->nidx ? "f" : "t", "f", "f", "f", "f",
                               "f", "f", "", "0", "", "p", "d", "heap"};
            for (int i = 0; i < 15; i++)
                s_res_str(&r, v[i]);
        }
    } else if (att) {
        static const char *const cols[] = {"attname:name", "format_type:text",
                                           "pg_get_expr:text", "attnotnull:boolean",
                                           "attcollation:name", "attidentity:char",
                                           "attgenerated:char"};
        nc = 7;
        s_res_group(&r, cols, nc);
        const sqlf_table_t *t = s_table_by_oid(cat, text, "WHERE a.attrelid = '");
        for (uint32_t i = 0; t && i < sqlf_table_nvis(t); i++) {
            char ty[64];
            s_format_type(&t->cols[i], ty, sizeof ty);
            s_res_str(&r, t->cols[i].name);
            s_res_str(&r, ty);
            s_res_str(&r, t->cols[i].def ? "(expression)" : NULL);
            s_res_str(&r, t->cols[i].not_null ? "t" : "f");
            s_res_str(&r, NULL);
            s_res_str(&r, "");
            s_res_str(&r, "");
        }
    } else if (idx) {
        static const char *const cols[] = {
            "relname:name", "indisprimary:boolean", "indisunique:boolean",
            "indisclustered:boolean", "indisvalid:boolean", "pg_get_indexdef:text",
            "pg_get_constraintdef:text", "contype:char", "condeferrable:boolean",
            "condeferred:boolean", "indisreplident:boolean", "reltablespace:oid"};
        nc = 12;
        s_res_group(&r, cols, nc);
        const sqlf_table_t *t = s_table_by_oid(cat, text, "WHERE c.oid = '");
        for (uint32_t k = 0; t && k <= t->nidx; k++) {
            const uint32_t *kc;
            uint32_t nk;
            char name[160];
            if (k == 0) {
                if (t->rowid)
                    continue;
                kc = t->pk;
                nk = t->npk;
                snprintf(name, sizeof name, "%s_pkey", t->name);
            } else {
                kc = t->idx[k - 1].cols;
                nk = t->idx[k - 1].ncols;
                snprintf(name, sizeof name, "%s", t->idx[k - 1].name);
            }
            char list_[512] = "";
            for (uint32_t j = 0; j < nk; j++) {
                size_t l = strlen(list_);
                snprintf(list_ + l, sizeof list_ - l, "%s%s", j ? ", " : "", t->cols[kc[j]].name);
            }
            char def[800], con[600];
            snprintf(def, sizeof def, "CREATE %sINDEX %s ON public.%s USING btree (%s)",
                     k == 0 ? "UNIQUE " : "", name, t->name, list_);
            snprintf(con, sizeof con, "PRIMARY KEY (%s)", list_);
            s_res_str(&r, name);
            s_res_str(&r, k == 0 ? "t" : "f");
            s_res_str(&r, k == 0 ? "t" : "f");
            s_res_str(&r, "f");
            s_res_str(&r, k == 0 || t->idx[k - 1].ready ? "t" : "f");
            s_res_str(&r, def);
            s_res_str(&r, k == 0 ? con : NULL);
            s_res_str(&r, k == 0 ? "p" : NULL);
            s_res_str(&r, "f");
            s_res_str(&r, "f");
            s_res_str(&r, "f");
            s_res_str(&r, "0");
        }
    } else {
        static const char *const cols[] = {"?column?:text"};
        nc = 1;
        s_res_group(&r, cols, nc);
    }
    s_res_end(&r, nc);
    hb_msg_t m = {.type = HB_MSG_RESULT};
    m.u.result.vals = r.v;
    m.u.result.nvals = r.n;
    if (!s_groups(&m, s_emit_group, c, NULL))
        s_error(c, "ERROR", "XX000", "malformed catalog answer");
    s_res_free(&r);
    return true;
}

static const char *s_skip_blank(const char *s);

/* SHOW name: the settings a client can read (those of ParameterStatus,
 * and the isolation level, which is always serializable). */
static void
s_show(sqlf_pg_t *self, s_conn_t *c, const char *text)
{
    char name[S_NAME_MAX] = "";
    const char *p = s_skip_blank(text) + 4;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    size_t n = strcspn(p, " \t\n;");
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), p);
    for (char *q = name; *q; q++)
        *q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
    if (strcmp(name, "transaction") == 0) /* SHOW TRANSACTION ISOLATION LEVEL */
        snprintf(name, sizeof name, "transaction_isolation");
    char maxc[16];
    snprintf(maxc, sizeof maxc, "%u", self->cfg.pg_max_connections);
    const struct {
        const char *k, *v;
    } set[] = {
        {"server_version", "15.0"},          {"server_encoding", "UTF8"},
        {"client_encoding", "UTF8"},         {"datestyle", "ISO, MDY"},
        {"integer_datetimes", "on"},         {"standard_conforming_strings", "on"},
        {"timezone", "UTC"},                 {"intervalstyle", "postgres"},
        {"application_name", c->app},        {"is_superuser", "on"},
        {"session_authorization", c->user},  {"default_transaction_read_only", "off"},
        {"transaction_read_only", "off"},    {"in_hot_standby", "off"},
        {"transaction_isolation", "serializable"},
        {"default_transaction_isolation", "serializable"},
        {"max_connections", maxc},           {"search_path", "public"},
        {"server_version_num", "150000"},    {"lc_messages", "C"},
    };
    for (size_t i = 0; i < sizeof set / sizeof *set; i++) {
        if (strcmp(set[i].k, name) != 0)
            continue;
        s_res_t r = {0};
        char col[S_NAME_MAX + 8];
        snprintf(col, sizeof col, "%s:text", set[i].k);
        const char *cols[] = {col};
        s_res_group(&r, cols, 1);
        s_res_str(&r, set[i].v);
        s_res_end(&r, 1);
        /* The tag of SHOW is "SHOW". */
        r.v[0] = hb_val_str("SHOW", 4);
        hb_msg_t m = {.type = HB_MSG_RESULT};
        m.u.result.vals = r.v;
        m.u.result.nvals = r.n;
        s_groups(&m, s_emit_group, c, NULL);
        s_res_free(&r);
        return;
    }
    s_error(c, "ERROR", "42704", "unrecognized configuration parameter \"%s\"", name);
}

/* ------------------------------------------------------------------ */
/* Simple query                                                         */
/* ------------------------------------------------------------------ */

static void
s_emit_group(s_conn_t *c, const s_group_t *g, void *arg)
{
    (void)arg;
    if (g->ncols) {
        s_row_desc(c, g, NULL, 0);
        for (uint32_t r = 0; r < g->nrows; r++)
            s_data_row(c, g, r, NULL, 0);
    }
    s_track(c, g->tag);
    s_complete(c, g->tag);
}

/* Skips blanks and comments; returns the first significant character. */
static const char *
s_skip_blank(const char *s)
{
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ';')
            s++;
        if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n')
                s++;
        } else if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            s = e ? e + 2 : s + strlen(s);
        } else {
            return s;
        }
    }
}

static bool
s_starts_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    if (strncasecmp(s, w, n) != 0)
        return false;
    char ch = s[n];
    return !(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
             (ch >= '0' && ch <= '9'));
}

static void s_copy_start(sqlf_pg_t *self, s_conn_t *c, const char *text, bool simple);

/* Whether s (past blanks) is one COMMIT / END / ROLLBACK / ABORT. */
static bool
s_ends_block(const char *s)
{
    return s_starts_word(s, "commit") || s_starts_word(s, "end") ||
           s_starts_word(s, "rollback") || s_starts_word(s, "abort");
}

/* Whether the statement surely returns no rows (a Describe of its portal
 * answers NoData without asking the engine): transaction control, DDL,
 * and writes without RETURNING (the word anywhere means "ask"). */
static bool
s_no_rows(const char *s)
{
    static const char *const kw[] = {"begin", "start", "commit", "end", "rollback", "abort",
                                     "set", "reset", "create", "drop", "alter", "truncate",
                                     "vacuum", "analyze", "insert", "update", "delete"};
    bool any = false;
    for (size_t i = 0; i < sizeof kw / sizeof *kw && !any; i++)
        any = s_starts_word(s, kw[i]);
    return any && !strcasestr(s, "returning");
}

/* A block the gateway failed (local_abort) takes only its end: returns
 * true when s ends it (the caller sends ROLLBACK: COMMIT of a failed block
 * rolls back, as in PostgreSQL), else answers 25P02 and returns false. */
static bool
s_end_failed_block(s_conn_t *c, const char *s)
{
    if (!s_ends_block(s)) {
        s_error(c, "ERROR", "25P02", "current transaction is aborted, commands ignored until "
                "end of transaction block");
        return false;
    }
    c->local_abort = false;
    return true;
}

/* Whether the statement only reads (a Describe of its portal may run it). */
static bool
s_reads_only(const char *s)
{
    return s_starts_word(s, "select") || s_starts_word(s, "values") ||
           s_starts_word(s, "show") || s_starts_word(s, "table");
}

static void
s_query(sqlf_pg_t *self, s_conn_t *c, const uint8_t *p, uint32_t len)
{
    S_COUNT(self, c_queries);
    if (len == 0 || p[len - 1] != 0 || memchr(p, 0, len) != p + len - 1) {
        s_error(c, "ERROR", "08P01", "invalid query message: the text is not one string");
        s_ready(c);
        return;
    }
    const char *text = (const char *)p;
    const char *s = s_skip_blank(text);
    if (!*s) {
        s_simple_msg(c, 'I');
        s_ready(c);
        return;
    }
    if (c->local_abort) {
        if (!s_end_failed_block(c, s) ||
            !s_request(self, c, "sql", "ROLLBACK", 8, NULL, 0, K_SIMPLE))
            s_ready(c);
        return;
    }
    if (s_starts_word(s, "copy")) {
        s_copy_start(self, c, text, true);
        return;
    }
    if (s_starts_word(s, "show") && !strchr(s, ';')) {
        s_show(self, c, text);
        s_ready(c);
        return;
    }
    if (strstr(text, "pg_catalog.") && s_psql_catalog(self, c, text)) {
        s_ready(c);
        return;
    }
    if (!s_request(self, c, "sql", text, len - 1, NULL, 0, K_SIMPLE))
        s_ready(c);
}

/* ------------------------------------------------------------------ */
/* Extended query                                                       */
/* ------------------------------------------------------------------ */

static s_stmt_t **
s_find_stmt(s_conn_t *c, const char *name)
{
    s_stmt_t **pp = &c->stmts;
    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    return pp;
}

static s_portal_t **
s_find_portal(s_conn_t *c, const char *name)
{
    s_portal_t **pp = &c->portals;
    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* Reads a NUL-terminated string at *p (below end); NULL when there is none. */
static const char *
s_getz(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
    if (!z)
        return NULL;
    const char *s = (const char *)*p;
    *p = z + 1;
    return s;
}

static void
s_ext_error(s_conn_t *c)
{
    c->skip_to_sync = true;
    if (c->txn == 'T') {
        c->txn = 'E';
        c->local_abort = true; /* the engine's block must not commit now */
    }
}

/* An engine error ended the statement: the engine failed the block. */
static void
s_engine_failed(s_conn_t *c)
{
    if (c->txn == 'T')
        c->txn = 'E';
}

static void
s_parse_msg(s_conn_t *c, const uint8_t *p, uint32_t len)
{
    const uint8_t *end = p + len;
    const char *name = s_getz(&p, end), *text = name ? s_getz(&p, end) : NULL;
    if (!text || end - p < 2 || strlen(name) >= S_NAME_MAX) {
        s_error(c, "ERROR", "08P01", "malformed Parse message");
        s_ext_error(c);
        return;
    }
    uint32_t n = s_get16(p);
    p += 2;
    if ((size_t)(end - p) < 4 * (size_t)n) {
        s_error(c, "ERROR", "08P01", "malformed Parse message");
        s_ext_error(c);
        return;
    }
    s_stmt_t **pp = s_find_stmt(c, name);
    if (*pp) {
        if (name[0]) {
            s_error(c, "ERROR", "42P05", "prepared statement \"%s\" already exists", name);
            s_ext_error(c);
            return;
        }
        s_stmt_t *old = *pp;
        *pp = old->next;
        s_stmt_free(c, old);
    }
    if (c->nstmts >= 10000) {
        s_error(c, "ERROR", "53400", "more than 10000 prepared statements in one session");
        s_ext_error(c);
        return;
    }
    s_stmt_t *s = hb_calloc(1, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->text = hb_malloc(strlen(text) + 1);
    memcpy(s->text, text, strlen(text) + 1);
    s->nparams = n;
    s->oids = hb_calloc(n ? n : 1, sizeof *s->oids);
    for (uint32_t i = 0; i < n; i++)
        s->oids[i] = s_get32(p + 4 * i);
    s->bytes = sizeof *s + strlen(text) + 1 + (size_t)n * 4;
    c->held += s->bytes;
    c->nstmts++;
    s->next = c->stmts;
    c->stmts = s;
    s_simple_msg(c, '1');
}

/* Converts binary parameter bytes of type oid into a value; text-like
 * results are written to tmp (cap bytes). */
static bool
s_bin_param(uint32_t oid, const uint8_t *b, uint32_t n, hb_val_t *out, char *tmp, size_t cap)
{
    switch (oid) {
    case OID_BOOL:
        if (n != 1)
            return false;
        *out = hb_val_bool(b[0] != 0);
        return true;
    case OID_INT2:
        if (n != 2)
            return false;
        *out = hb_val_int((int16_t)s_get16(b));
        return true;
    case OID_INT4:
    case OID_OID:
        if (n != 4)
            return false;
        *out = hb_val_int((int32_t)s_get32(b));
        return true;
    case OID_INT8:
        if (n != 8)
            return false;
        *out = hb_val_int((int64_t)((uint64_t)s_get32(b) << 32 | s_get32(b + 4)));
        return true;
    case OID_FLOAT4: {
        if (n != 4)
            return false;
        uint32_t u = s_get32(b);
        float f;
        memcpy(&f, &u, 4);
        *out = hb_val_double(f);
        return true;
    }
    case OID_FLOAT8: {
        if (n != 8)
            return false;
        uint64_t u = (uint64_t)s_get32(b) << 32 | s_get32(b + 4);
        double d;
        memcpy(&d, &u, 8);
        *out = hb_val_double(d);
        return true;
    }
    case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: case OID_NAME: case OID_UNKNOWN:
        *out = hb_val_str(b, n);
        return true;
    case OID_BYTEA:
        *out = hb_val_bin(b, n);
        return true;
    case OID_DATE: {
        if (n != 4)
            return false;
        size_t l = hb_date_format((int32_t)s_get32(b), tmp, cap);
        *out = hb_val_str(tmp, (uint32_t)l);
        return true;
    }
    case OID_TIMESTAMP: case OID_TIMESTAMPTZ: {
        if (n != 8)
            return false;
        int64_t us = (int64_t)((uint64_t)s_get32(b) << 32 | s_get32(b + 4));
        size_t l = hb_timestamp_format(us, tmp, cap);
        *out = hb_val_str(tmp, (uint32_t)l);
        return true;
    }
    case OID_NUMERIC: {
        if (n < 8)
            return false;
        uint16_t nd = s_get16(b), sign = s_get16(b + 4), dscale = s_get16(b + 6);
        int16_t weight = (int16_t)s_get16(b + 2);
        if (n != 8 + 2u * nd || nd > 40 || dscale > 1000 || sign == 0xC000)
            return false;
        /* digits as text: groups of 4 around the point */
        size_t o = 0;
        if (sign == 0x4000)
            tmp[o++] = '-';
        if (weight < 0)
            tmp[o++] = '0';
        for (int w = 0; w <= weight; w++) {
            int d = w < nd ? s_get16(b + 8 + 2 * w) : 0;
            o += (size_t)snprintf(tmp + o, cap - o, w == 0 ? "%d" : "%04d", d);
            if (o + 8 >= cap)
                return false;
        }
        if (dscale) {
            tmp[o++] = '.';
            for (int k = 0; k < dscale; k++) {
                int gi = weight + 1 + k / 4; /* group index of fraction digit k */
                int d = (gi >= 0 && gi < nd) ? s_get16(b + 8 + 2 * gi) : 0;
                static const int div[4] = {1000, 100, 10, 1};
                if (o + 2 >= cap)
                    return false;
                tmp[o++] = (char)('0' + d / div[k % 4] % 10);
            }
        }
        tmp[o] = '\0';
        *out = hb_val_str(tmp, (uint32_t)o);
        return true;
    }
    default:
        return false;
    }
}

static void
s_bind_msg(s_conn_t *c, const uint8_t *p, uint32_t len)
{
    const uint8_t *end = p + len;
    const char *pname = s_getz(&p, end), *sname = pname ? s_getz(&p, end) : NULL;
    if (!sname || strlen(pname) >= S_NAME_MAX)
        goto bad;
    s_stmt_t *st = *s_find_stmt(c, sname);
    if (!st) {
        s_error(c, "ERROR", "26000", "prepared statement \"%s\" does not exist", sname);
        s_ext_error(c);
        return;
    }
    if (end - p < 2)
        goto bad;
    uint32_t nf = s_get16(p);
    p += 2;
    if ((size_t)(end - p) < 2 * (size_t)nf + 2)
        goto bad;
    const uint8_t *fmts = p;
    p += 2 * nf;
    uint32_t np = s_get16(p);
    p += 2;
    if (nf > 1 && nf != np)
        goto bad;
    for (uint32_t i = 0; i < nf; i++)
        if (s_get16(fmts + 2 * i) > 1)
            goto bad; /* only text (0) and binary (1) exist */
    if (np != st->nparams && st->nparams) {
        s_error(c, "ERROR", "08P01",
                "bind message supplies %u parameters, but prepared statement \"%s\" requires %u",
                np, sname, st->nparams);
        s_ext_error(c);
        return;
    }
    /* Sizes first: the values borrow from one copy. */
    const uint8_t *q = p;
    size_t bytes = 0;
    for (uint32_t i = 0; i < np; i++) {
        if (end - q < 4)
            goto bad;
        uint32_t l = s_get32(q);
        q += 4;
        if (l == 0xffffffffu)
            continue;
        if ((size_t)(end - q) < l)
            goto bad;
        bytes += l + 64; /* room for a converted form */
        q += l;
    }
    if (end - q < 2)
        goto bad;
    uint32_t nr = s_get16(q);
    if ((size_t)(end - q - 2) < 2 * (size_t)nr)
        goto bad;
    s_portal_t *pt = hb_calloc(1, sizeof *pt);
    snprintf(pt->name, sizeof pt->name, "%s", pname);
    pt->text = hb_malloc(strlen(st->text) + 1);
    memcpy(pt->text, st->text, strlen(st->text) + 1);
    pt->nparams = np;
    pt->params = hb_calloc(np ? np : 1, sizeof *pt->params);
    pt->pbytes = hb_malloc(bytes ? bytes : 1);
    size_t off = 0;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t l = s_get32(p);
        p += 4;
        if (l == 0xffffffffu) {
            pt->params[i] = hb_val_nil();
            continue;
        }
        int16_t f = 0;
        if (nf == 1)
            f = (int16_t)s_get16(fmts);
        else if (nf > 1)
            f = (int16_t)s_get16(fmts + 2 * i);
        uint8_t *dst = pt->pbytes + off;
        memcpy(dst, p, l);
        if (f == 0) {
            pt->params[i] = hb_val_str(dst, l);
        } else {
            uint32_t oid = i < st->nparams ? st->oids[i] : 0;
            char tmp[2100];
            if (!s_bin_param(oid, dst, l, &pt->params[i], tmp, sizeof tmp)) {
                s_portal_free(NULL, pt);
                s_error(c, "ERROR", oid ? "22P03" : "0A000",
                        oid ? "incorrect binary data format in bind parameter %u"
                            : "binary format for bind parameter %u needs its type in Parse",
                        i + 1);
                s_ext_error(c);
                return;
            }
            if (pt->params[i].type == HB_VAL_STR && (const char *)pt->params[i].u.s.ptr == tmp) {
                uint32_t tl = pt->params[i].u.s.len;
                if (tl > l + 64) {
                    s_portal_free(NULL, pt);
                    s_error(c, "ERROR", "22P03", "bind parameter %u is too long", i + 1);
                    s_ext_error(c);
                    return;
                }
                memcpy(dst, tmp, tl);
                pt->params[i] = hb_val_str(dst, tl);
            }
        }
        off += l + 64;
        p += l;
    }
    p += 2;
    pt->nrfmt = nr;
    pt->rfmt = hb_calloc(nr ? nr : 1, sizeof *pt->rfmt);
    for (uint32_t i = 0; i < nr; i++) {
        pt->rfmt[i] = (int16_t)s_get16(p + 2 * i);
        if (pt->rfmt[i] != 0 && pt->rfmt[i] != 1) {
            s_portal_free(NULL, pt);
            goto bad;
        }
    }
    s_portal_t **pp = s_find_portal(c, pname);
    if (*pp) {
        s_portal_t *old = *pp;
        *pp = old->next;
        s_portal_free(c, old);
    }
    pt->bytes = sizeof *pt + strlen(pt->text) + 1 + bytes + (size_t)np * sizeof *pt->params;
    c->held += pt->bytes;
    pt->next = c->portals;
    c->portals = pt;
    s_simple_msg(c, '2');
    return;
bad:
    s_error(c, "ERROR", "08P01", "malformed Bind message");
    s_ext_error(c);
}

static void
s_last_group(s_conn_t *c, const s_group_t *g, void *arg)
{
    s_portal_t *p = arg;
    s_track(c, g->tag);
    p->g = *g;
    p->has_g = true;
}

/* Sends up to max rows (0: all) of portal p and then CommandComplete or
 * PortalSuspended. */
static void
s_portal_rows(s_conn_t *c, s_portal_t *p, int32_t max)
{
    if (!p->has_g) {
        s_simple_msg(c, 'I'); /* an empty query */
        return;
    }
    uint32_t n = 0;
    while (p->sent < p->g.nrows && (max <= 0 || n < (uint32_t)max)) {
        s_data_row(c, &p->g, p->sent++, p->rfmt, p->nrfmt);
        n++;
    }
    if (p->g.ncols && p->sent < p->g.nrows) {
        s_simple_msg(c, 's');
        return;
    }
    s_complete(c, p->g.tag);
}

static void
s_run_portal(sqlf_pg_t *self, s_conn_t *c, s_portal_t *p, int32_t max)
{
    const char *s = s_skip_blank(p->text);
    if (!*s) {
        p->ran = true;
        if (max >= 0)
            s_simple_msg(c, 'I');
        else
            s_simple_msg(c, 'n');
        return;
    }
    if (c->local_abort) {
        c->cportal = p;
        c->cmax = max;
        if (!s_end_failed_block(c, s))
            c->skip_to_sync = true;
        else if (!s_request(self, c, "sql", "ROLLBACK", 8, NULL, 0, K_RUN))
            s_ext_error(c);
        return;
    }
    for (uint32_t i = 0; i < p->nparams; i++) {
        const hb_val_t *v = &p->params[i];
        if ((v->type == HB_VAL_STR || v->type == HB_VAL_BIN) &&
            v->u.s.len > self->lim.max_value_bytes) {
            s_error(c, "ERROR", "54000", "parameter $%u is %u bytes, longer than "
                    "limits/max_value_bytes (%u)", i + 1, v->u.s.len, self->lim.max_value_bytes);
            s_ext_error(c);
            return;
        }
    }
    c->cportal = p;
    c->cmax = max;
    if (!s_request(self, c, "sql", p->text, strlen(p->text), p->params, p->nparams, K_RUN))
        s_ext_error(c);
}

static void
s_describe_msg(sqlf_pg_t *self, s_conn_t *c, const uint8_t *p, uint32_t len)
{
    if (len < 2 || p[len - 1] != 0 || (p[0] != 'S' && p[0] != 'P')) {
        s_error(c, "ERROR", "08P01", "malformed Describe message");
        s_ext_error(c);
        return;
    }
    const char *name = (const char *)p + 1;
    if (p[0] == 'P') {
        s_portal_t *pt = *s_find_portal(c, name);
        if (!pt) {
            s_error(c, "ERROR", "34000", "portal \"%s\" does not exist", name);
            s_ext_error(c);
            return;
        }
        if (pt->ran) {
            if (pt->has_g && pt->g.ncols)
                s_row_desc(c, &pt->g, pt->rfmt, pt->nrfmt);
            else
                s_simple_msg(c, 'n');
            return;
        }
        /* A read runs now (the row description comes with its rows, which
         * the Execute after it sends); a write is described by planning
         * it without values, and runs at Execute only. */
        const char *t = s_skip_blank(pt->text);
        if (!*t || s_reads_only(t) || c->local_abort) {
            s_run_portal(self, c, pt, -1);
            return;
        }
        if (s_no_rows(t)) {
            s_simple_msg(c, 'n');
            return;
        }
        c->cportal = pt;
        if (!s_request(self, c, "sql.describe", pt->text, strlen(pt->text), NULL, 0,
                       K_DESCRIBE_P))
            s_ext_error(c);
        return;
    }
    s_stmt_t *st = *s_find_stmt(c, name);
    if (!st) {
        s_error(c, "ERROR", "26000", "prepared statement \"%s\" does not exist", name);
        s_ext_error(c);
        return;
    }
    const char *s = s_skip_blank(st->text);
    if (!*s) {
        size_t at = s_begin(&c->out, 't');
        s_put16(&c->out, 0);
        s_end(&c->out, at);
        s_simple_msg(c, 'n');
        return;
    }
    c->cstmt = st;
    if (!s_request(self, c, "sql.describe", st->text, strlen(st->text), NULL, 0, K_DESCRIBE))
        s_ext_error(c);
}

static void
s_execute_msg(sqlf_pg_t *self, s_conn_t *c, const uint8_t *p, uint32_t len)
{
    const uint8_t *end = p + len;
    const char *name = s_getz(&p, end);
    if (!name || end - p != 4) {
        s_error(c, "ERROR", "08P01", "malformed Execute message");
        s_ext_error(c);
        return;
    }
    int32_t max = (int32_t)s_get32(p);
    s_portal_t *pt = *s_find_portal(c, name);
    if (!pt) {
        s_error(c, "ERROR", "34000", "portal \"%s\" does not exist", name);
        s_ext_error(c);
        return;
    }
    if (pt->ran)
        s_portal_rows(c, pt, max);
    else
        s_run_portal(self, c, pt, max < 0 ? 0 : max);
}

static void
s_close_msg(s_conn_t *c, const uint8_t *p, uint32_t len)
{
    if (len < 2 || p[len - 1] != 0 || (p[0] != 'S' && p[0] != 'P')) {
        s_error(c, "ERROR", "08P01", "malformed Close message");
        s_ext_error(c);
        return;
    }
    const char *name = (const char *)p + 1;
    if (p[0] == 'S') {
        s_stmt_t **pp = s_find_stmt(c, name);
        if (*pp) {
            s_stmt_t *s = *pp;
            *pp = s->next;
            s_stmt_free(c, s);
        }
    } else {
        s_portal_t **pp = s_find_portal(c, name);
        if (*pp) {
            s_portal_t *pt = *pp;
            *pp = pt->next;
            s_portal_free(c, pt);
        }
    }
    s_simple_msg(c, '3');
}

/* At Sync the unnamed portal goes (PostgreSQL keeps it until the next
 * Bind; nothing reads it after Sync). */
static void
s_sync(s_conn_t *c)
{
    c->skip_to_sync = false;
    s_portal_t **pp = s_find_portal(c, "");
    if (*pp) {
        s_portal_t *pt = *pp;
        *pp = pt->next;
        s_portal_free(c, pt);
    }
    s_ready(c);
}

/* ------------------------------------------------------------------ */
/* COPY                                                                 */
/* ------------------------------------------------------------------ */

static void
s_quote_ident(s_buf_t *b, const char *s)
{
    s_put8(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            s_put8(b, '"');
        s_put8(b, (uint8_t)*s);
    }
    s_put8(b, '"');
}

static void
s_copy_fail(s_conn_t *c, const char *state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_copy_fail(s_conn_t *c, const char *state, const char *fmt, ...)
{
    if (c->copy_failed)
        return;
    c->copy_failed = true;
    snprintf(c->copy_state, sizeof c->copy_state, "%s", state);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->copy_msg, sizeof c->copy_msg, fmt, ap);
    va_end(ap);
}

/* Parses COPY text; starts COPY FROM STDIN (asks the engine for the
 * columns first) or runs COPY TO STDOUT as a SELECT. */
static void
s_copy_start(sqlf_pg_t *self, s_conn_t *c, const char *text, bool simple)
{
    PgQueryProtobufParseResult pres = pg_query_parse_protobuf(text);
    PgQuery__ParseResult *tree = NULL;
    const char *bad = NULL;
    char state[6] = "0A000";
    s_buf_t q = {0};
    if (pres.error) {
        s_error(c, "ERROR", "42601", "%s at character %d", pres.error->message,
                pres.error->cursorpos);
        goto out;
    }
    tree = pg_query__parse_result__unpack(NULL, pres.parse_tree.len,
                                          (const uint8_t *)pres.parse_tree.data);
    if (!tree || tree->n_stmts != 1 ||
        tree->stmts[0]->stmt->node_case != PG_QUERY__NODE__NODE_COPY_STMT) {
        bad = "COPY must be the only statement of its query";
        goto out;
    }
    const PgQuery__CopyStmt *cs = tree->stmts[0]->stmt->copy_stmt;
    if (!cs->relation || cs->query) {
        bad = "COPY (query) is not supported; name a table";
        goto out;
    }
    if (cs->filename && cs->filename[0]) {
        memcpy(state, "42501", 6);
        bad = "COPY to or from a file is not allowed: use STDIN / STDOUT (psql's \\copy)";
        goto out;
    }
    c->copy_delim = '\t';
    snprintf(c->copy_null, sizeof c->copy_null, "\\N");
    for (size_t i = 0; i < cs->n_options; i++) {
        const PgQuery__DefElem *d = cs->options[i]->def_elem;
        const char *sv = d->arg && d->arg->node_case == PG_QUERY__NODE__NODE_STRING
                             ? d->arg->string->sval
                             : NULL;
        if (strcmp(d->defname, "format") == 0) {
            if (!sv || strcmp(sv, "text") != 0) {
                bad = "only COPY FORMAT text is supported";
                goto out;
            }
        } else if (strcmp(d->defname, "delimiter") == 0) {
            if (!sv || strlen(sv) != 1 || sv[0] == '\\' || sv[0] == '\n' || sv[0] == '\r') {
                memcpy(state, "22023", 6);
                bad = "COPY delimiter must be a single one-byte character";
                goto out;
            }
            c->copy_delim = sv[0];
        } else if (strcmp(d->defname, "null") == 0) {
            if (!sv || strlen(sv) >= sizeof c->copy_null) {
                memcpy(state, "22023", 6);
                bad = "COPY null representation is too long";
                goto out;
            }
            snprintf(c->copy_null, sizeof c->copy_null, "%s", sv);
        } else if (strcmp(d->defname, "freeze") != 0 && strcmp(d->defname, "encoding") != 0) {
            bad = "this COPY option is not supported";
            goto out;
        }
    }
    /* "SELECT cols FROM table": the columns (and for TO, the rows). */
    s_put(&q, "SELECT ", 7);
    if (cs->n_attlist == 0) {
        s_put8(&q, '*');
    } else {
        for (size_t i = 0; i < cs->n_attlist; i++) {
            if (i)
                s_put8(&q, ',');
            s_quote_ident(&q, cs->attlist[i]->string->sval);
        }
    }
    s_put(&q, " FROM ", 6);
    s_quote_ident(&q, cs->relation->relname);
    c->copy_simple = simple;
    if (cs->is_from) {
        s_put(&q, " LIMIT 0", 8);
        s_buf_t pre = {0};
        s_put(&pre, "INSERT INTO ", 12);
        s_quote_ident(&pre, cs->relation->relname);
        if (cs->n_attlist) {
            s_put(&pre, " (", 2);
            for (size_t i = 0; i < cs->n_attlist; i++) {
                if (i)
                    s_put8(&pre, ',');
                s_quote_ident(&pre, cs->attlist[i]->string->sval);
            }
            s_put8(&pre, ')');
        }
        s_put(&pre, " VALUES ", 8);
        s_put8(&pre, 0);
        hb_free(c->copy_prefix);
        c->copy_prefix = (char *)pre.p;
        if (!s_request(self, c, "sql", (const char *)q.p, q.len, NULL, 0, K_COPY_COLS))
            s_ready(c);
    } else {
        if (!s_request(self, c, "sql", (const char *)q.p, q.len, NULL, 0, K_COPY_OUT))
            s_ready(c);
    }
out:
    if (bad) {
        s_error(c, "ERROR", state, "%s", bad);
    }
    if (bad || pres.error) {
        if (simple)
            s_ready(c);
        else
            s_ext_error(c);
    }
    hb_free(q.p);
    if (tree)
        pg_query__parse_result__free_unpacked(tree, NULL);
    pg_query_free_protobuf_parse_result(pres);
}

static void
s_copy_out_group(s_conn_t *c, const s_group_t *g, void *arg)
{
    (void)arg;
    size_t at = s_begin(&c->out, 'H');
    s_put8(&c->out, 0);
    s_put16(&c->out, (uint16_t)g->ncols);
    for (uint32_t i = 0; i < g->ncols; i++)
        s_put16(&c->out, 0);
    s_end(&c->out, at);
    s_buf_t cell = {0};
    for (uint32_t r = 0; r < g->nrows; r++) {
        at = s_begin(&c->out, 'd');
        for (uint32_t i = 0; i < g->ncols; i++) {
            if (i)
                s_put8(&c->out, (uint8_t)c->copy_delim);
            const hb_val_t *v = &g->cells[(size_t)r * g->ncols + i];
            if (v->type == HB_VAL_NIL) {
                s_put(&c->out, c->copy_null, strlen(c->copy_null));
                continue;
            }
            cell.len = 0;
            s_cell_text(&cell, v, s_oid(&g->cols[2 * i + 1]), false);
            for (size_t k = 0; k < cell.len; k++) {
                uint8_t ch = cell.p[k];
                const char *e = ch == '\\' ? "\\\\" : ch == '\t' ? "\\t" : ch == '\n' ? "\\n"
                                : ch == '\r' ? "\\r" : NULL;
                if (e) {
                    s_put(&c->out, e, 2);
                } else {
                    if (ch == (uint8_t)c->copy_delim)
                        s_put8(&c->out, '\\');
                    s_put8(&c->out, ch);
                }
            }
        }
        s_put8(&c->out, '\n');
        s_end(&c->out, at);
    }
    hb_free(cell.p);
    s_simple_msg(c, 'c');
    char tag[32];
    snprintf(tag, sizeof tag, "COPY %u", g->nrows);
    hb_val_t t = hb_val_str(tag, (uint32_t)strlen(tag));
    s_complete(c, &t);
}

/* Sends the batch as one multi-row INSERT on a free side session. */
static bool
s_copy_send(sqlf_pg_t *self, s_conn_t *c)
{
    if (c->copy_batch_rows == 0)
        return false;
    uint32_t sub = 1;
    while (sub <= S_SUBS && c->sub_busy[sub])
        sub++;
    if (sub > S_SUBS)
        return false; /* the caller waits for one */
    s_buf_t t = {0};
    s_put(&t, c->copy_prefix, strlen(c->copy_prefix));
    uint32_t k = 1;
    for (uint32_t r = 0; r < c->copy_batch_rows; r++) {
        s_put(&t, r ? ",(" : "(", r ? 2 : 1);
        for (uint32_t i = 0; i < c->copy_ncols; i++) {
            char ref[16];
            int n = snprintf(ref, sizeof ref, i ? ",$%u" : "$%u", k++);
            s_put(&t, ref, (size_t)n);
        }
        s_put8(&t, ')');
    }
    uint32_t nargs = c->copy_nfields + 1;
    hb_val_t *args = hb_malloc(nargs * sizeof *args);
    args[0] = hb_val_str(t.p, (uint32_t)t.len);
    for (uint32_t i = 0; i < c->copy_nfields; i++)
        args[i + 1] = c->copy_len[i] == UINT32_MAX
                          ? hb_val_nil()
                          : hb_val_str(c->copy_cells.p + c->copy_off[i], c->copy_len[i]);
    uint64_t id = s_submit(self, c, sub, "sql", args, nargs);
    hb_free(args);
    hb_free(t.p);
    if (!id) {
        s_copy_fail(c, "54000", "a COPY chunk does not fit in one request");
    } else {
        c->sub_busy[sub] = true;
        c->sub_used[sub] = true;
        c->sub_req[sub] = id;
        c->copy_inflight++;
        c->copy_rows += c->copy_batch_rows;
    }
    c->copy_batch_rows = 0;
    c->copy_nfields = 0;
    c->copy_cells.len = c->copy_cells.off = 0;
    return id != 0;
}

/* Whether the batch is full (it waits for a free side session). */
static bool
s_copy_full(const s_conn_t *c)
{
    return c->copy_batch_rows >= c->copy_rows_per;
}

static void
s_copy_field(s_conn_t *c, const uint8_t *f, size_t n)
{
    if (c->copy_nfields == c->copy_capfields) {
        c->copy_capfields = c->copy_capfields ? c->copy_capfields * 2 : 256;
        c->copy_off = hb_realloc(c->copy_off, c->copy_capfields * sizeof *c->copy_off);
        c->copy_len = hb_realloc(c->copy_len, c->copy_capfields * sizeof *c->copy_len);
    }
    size_t nl = strlen(c->copy_null);
    if (n == nl && memcmp(f, c->copy_null, nl) == 0) {
        c->copy_off[c->copy_nfields] = 0;
        c->copy_len[c->copy_nfields++] = UINT32_MAX;
        return;
    }
    /* De-escape into the batch's bytes. */
    s_reserve(&c->copy_cells, n);
    uint8_t *o = c->copy_cells.p + c->copy_cells.len;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = f[i];
        if (ch != '\\' || i + 1 == n) {
            o[k++] = ch;
            continue;
        }
        ch = f[++i];
        switch (ch) {
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'v': o[k++] = '\v'; break;
        case 'x': {
            int v = 0, d = 0;
            while (d < 2 && i + 1 < n && strchr("0123456789abcdefABCDEF", f[i + 1]) && f[i + 1]) {
                char h = (char)f[++i];
                v = v * 16 + (h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
                d++;
            }
            o[k++] = d ? (uint8_t)v : 'x';
            break;
        }
        default:
            if (ch >= '0' && ch <= '7') {
                int v = ch - '0', d = 1;
                while (d < 3 && i + 1 < n && f[i + 1] >= '0' && f[i + 1] <= '7') {
                    v = v * 8 + (f[++i] - '0');
                    d++;
                }
                o[k++] = (uint8_t)v;
            } else {
                o[k++] = ch;
            }
        }
    }
    c->copy_off[c->copy_nfields] = (uint32_t)c->copy_cells.len;
    c->copy_len[c->copy_nfields++] = (uint32_t)k;
    c->copy_cells.len += k;
}

/* One complete line of COPY text (without its newline). */
static void
s_copy_row(sqlf_pg_t *self, s_conn_t *c, const uint8_t *line, size_t n)
{
    if (n > 0 && line[n - 1] == '\r')
        n--;
    if (n == 2 && line[0] == '\\' && line[1] == '.') {
        c->copy_eod = true;
        return;
    }
    if (n > self->lim.max_value_bytes) {
        s_copy_fail(c, "54000", "a COPY line (row %llu) is longer than limits/max_value_bytes",
                    (unsigned long long)(c->copy_rows + c->copy_batch_rows + 1));
        return;
    }
    uint32_t before = c->copy_nfields;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] == '\\') {
            i++; /* an escaped byte, the delimiter included */
            continue;
        }
        if (i == n || line[i] == (uint8_t)c->copy_delim) {
            if (c->copy_nfields - before == c->copy_ncols) {
                s_copy_fail(c, "22P04", "extra data after last expected column (row %llu)",
                            (unsigned long long)(c->copy_rows + c->copy_batch_rows + 1));
                c->copy_nfields = before;
                return;
            }
            s_copy_field(c, line + start, i - start);
            start = i + 1;
        }
    }
    if (c->copy_nfields - before != c->copy_ncols) {
        s_copy_fail(c, "22P04", "missing data for column %u (row %llu)",
                    c->copy_nfields - before + 1,
                    (unsigned long long)(c->copy_rows + c->copy_batch_rows + 1));
        c->copy_nfields = before;
        return;
    }
    c->copy_batch_rows++;
}

/* Takes complete lines (and at CopyDone the last one) while the batch has
 * room. */
static void
s_copy_drain(sqlf_pg_t *self, s_conn_t *c)
{
    s_buf_t *l = &c->copy_line;
    while (!c->copy_failed && !c->copy_eod && !s_copy_full(c)) {
        const uint8_t *nl = memchr(l->p + l->off, '\n', l->len - l->off);
        if (!nl) {
            if (c->copy_end && l->len > l->off) { /* the last line has no newline */
                s_copy_row(self, c, l->p + l->off, l->len - l->off);
                l->off = l->len;
            }
            break;
        }
        size_t n = (size_t)(nl - (l->p + l->off));
        s_copy_row(self, c, l->p + l->off, n);
        l->off += n + 1;
    }
    if (c->copy_failed || c->copy_eod)
        l->off = l->len; /* the rest is ignored */
    memmove(l->p, l->p + l->off, l->len - l->off);
    l->len -= l->off;
    l->off = 0;
}

static void
s_copy_tag(s_conn_t *c, uint64_t rows)
{
    char tag[40];
    snprintf(tag, sizeof tag, "COPY %llu", (unsigned long long)rows);
    hb_val_t t = hb_val_str(tag, (uint32_t)strlen(tag));
    s_complete(c, &t);
}

/* COPY FROM is over once CopyDone came, every row was sent and every chunk
 * answered. */
static void
s_copy_maybe_finish(sqlf_pg_t *self, s_conn_t *c)
{
    if (!c->copy_end || c->copy_inflight ||
        (!c->copy_failed && (c->copy_batch_rows || c->copy_line.len)))
        return;
    for (uint32_t sub = 1; sub <= S_SUBS; sub++) /* the side sessions are done */
        if (c->sub_used[sub]) {
            s_close_session(self, c->id, sub);
            c->sub_used[sub] = false;
        }
    if (c->copy_failed) {
        s_error(c, "ERROR", c->copy_state, "%s", c->copy_msg);
        s_engine_failed(c);
        if (!c->copy_simple)
            s_ext_error(c);
        c->max_epoch = 0;
    } else if (c->max_epoch) {
        /* The chunks committed through other sessions: the connection's
         * own reads must see them too (read your writes). */
        char set[64];
        int n = snprintf(set, sizeof set, "SET hobbes.read_after = %llu",
                         (unsigned long long)c->max_epoch);
        c->copy_done_rows = c->copy_rows;
        bool simple = c->copy_simple;
        s_copy_reset(c);
        c->copy_simple = simple;
        if (s_request(self, c, "sql", set, (size_t)n, NULL, 0, K_COPY_FIN))
            return;
        s_copy_tag(c, c->copy_done_rows);
        if (simple)
            s_ready(c);
        return;
    } else {
        s_copy_tag(c, c->copy_rows);
    }
    bool simple = c->copy_simple;
    s_copy_reset(c);
    if (simple)
        s_ready(c);
}

/* Moves rows from the line buffer into batches and batches to free side
 * sessions, as far as they go. */
static void
s_copy_pump(sqlf_pg_t *self, s_conn_t *c)
{
    for (;;) {
        s_copy_drain(self, c);
        if (c->copy_failed) {
            c->copy_batch_rows = c->copy_nfields = 0;
            c->copy_cells.len = 0;
            break;
        }
        bool last = c->copy_end && c->copy_line.len == 0 && c->copy_batch_rows > 0;
        if (!(s_copy_full(c) || last) || !s_copy_send(self, c))
            break;
    }
    s_copy_maybe_finish(self, c);
}

static void
s_copy_data(sqlf_pg_t *self, s_conn_t *c, const uint8_t *p, uint32_t len)
{
    if (c->copy_failed || c->copy_eod)
        return;
    if (c->copy_line.len + len > (size_t)self->lim.max_value_bytes + 2) {
        /* No row can be longer than one value: do not buffer past it. */
        s_copy_fail(c, "54000", "a COPY line is longer than limits/max_value_bytes (%u)",
                    self->lim.max_value_bytes);
        c->copy_line.len = 0;
        s_copy_pump(self, c);
        return;
    }
    s_put(&c->copy_line, p, len);
    s_copy_pump(self, c);
}

static void
s_copy_done(sqlf_pg_t *self, s_conn_t *c)
{
    c->copy_end = true;
    c->copy_in = false;
    s_copy_pump(self, c);
}

/* ------------------------------------------------------------------ */
/* Engine answers                                                       */
/* ------------------------------------------------------------------ */

static void
s_on_result(sqlf_pg_t *self, s_conn_t *c, uint32_t sub, const uint8_t *frame, size_t len)
{
    hb_limits_t rlim = self->lim;
    rlim.max_args = len < UINT32_MAX ? (uint32_t)len : UINT32_MAX;
    rlim.max_value_bytes = rlim.max_args; /* a cell may be as large as the frame */
    uint8_t *copy = hb_malloc(len ? len : 1);
    memcpy(copy, frame, len);
    hb_msg_t m;
    if (hb_msg_decode(copy, len, &rlim, &m) != HB_OK || m.type != HB_MSG_RESULT) {
        /* An answer that cannot be read still ends what waits for it (a
         * connection has one request out per session). */
        hb_free(copy);
        static const char bad[] = "XX000 unreadable result from the engine";
        memset(&m, 0, sizeof m);
        m.type = HB_MSG_RESULT;
        m.u.result.rc = HB_PROTO;
        m.u.result.msg = bad;
        m.u.result.msg_len = sizeof bad - 1;
        if (sub && sub <= S_SUBS && c->sub_busy[sub])
            m.u.result.req_id = c->sub_req[sub];
        else if (!sub && c->waiting)
            m.u.result.req_id = c->req;
        else
            return;
        copy = hb_malloc(1);
    }
    bool keep = false;
    if (sub) {
        if (sub <= S_SUBS && c->sub_busy[sub] && c->sub_req[sub] == m.u.result.req_id) {
            c->sub_busy[sub] = false;
            c->copy_inflight--;
            if (m.u.result.rc) {
                char msg[300];
                snprintf(msg, sizeof msg, "%.*s", (int)m.u.result.msg_len, m.u.result.msg);
                if (strlen(msg) > 6 && msg[5] == ' ') {
                    msg[5] = '\0';
                    s_copy_fail(c, msg, "%s", msg + 6);
                } else {
                    s_copy_fail(c, "XX000", "%s", msg);
                }
            } else {
                pthread_mutex_lock(&self->mu);
                self->c_copy_rows += 0;
                pthread_mutex_unlock(&self->mu);
            }
            if (m.u.result.epoch > c->max_epoch)
                c->max_epoch = m.u.result.epoch;
            s_copy_pump(self, c);
        }
        goto out;
    }
    if (!c->waiting || m.u.result.req_id != c->req)
        goto out;
    c->waiting = false;
    bool failed = m.u.result.rc != 0;
    if (failed)
        S_COUNT(self, c_errors);
    switch (c->cont) {
    case K_SIMPLE:
        if (!s_groups(&m, s_emit_group, c, NULL))
            s_error(c, "ERROR", "XX000", "malformed result from the engine");
        if (failed) {
            s_engine_failed(c);
            s_engine_error(c, m.u.result.msg, m.u.result.msg_len);
        }
        s_ready(c);
        break;
    case K_RUN: {
        s_portal_t *p = c->cportal;
        if (failed) {
            s_groups(&m, s_last_group, c, p);
            s_engine_error(c, m.u.result.msg, m.u.result.msg_len);
            p->has_g = false;
            s_ext_error(c);
            break;
        }
        p->has_g = false;
        if (!s_groups(&m, s_last_group, c, p)) {
            s_error(c, "ERROR", "XX000", "malformed result from the engine");
            s_ext_error(c);
            break;
        }
        p->ran = true;
        p->frame = copy;
        p->framelen = len;
        p->bytes += len + (size_t)m.u.result.nvals * sizeof(hb_val_t);
        c->held += len + (size_t)m.u.result.nvals * sizeof(hb_val_t);
        p->res = m;
        keep = true;
        if (c->cmax < 0) { /* Describe */
            if (p->has_g && p->g.ncols)
                s_row_desc(c, &p->g, p->rfmt, p->nrfmt);
            else
                s_simple_msg(c, 'n');
        } else {
            s_portal_rows(c, p, c->cmax);
        }
        break;
    }
    case K_DESCRIBE:
    case K_DESCRIBE_P: {
        if (failed) {
            s_engine_error(c, m.u.result.msg, m.u.result.msg_len);
            s_ext_error(c);
            break;
        }
        /* [nparams, type..., ncols, (name, type)...] */
        const hb_val_t *v = m.u.result.vals;
        uint32_t n = m.u.result.nvals;
        if (n < 2 || v[0].type != HB_VAL_INT || v[0].u.i < 0 || (uint64_t)v[0].u.i > n - 2 ||
            v[1 + v[0].u.i].type != HB_VAL_INT || v[1 + v[0].u.i].u.i < 0 ||
            (uint64_t)v[1 + v[0].u.i].u.i > (n - 2 - (uint64_t)v[0].u.i) / 2) {
            s_error(c, "ERROR", "XX000", "malformed describe result from the engine");
            s_ext_error(c);
            break;
        }
        uint32_t np = (uint32_t)v[0].u.i, at = 1 + np;
        s_group_t g = {.ncols = (uint32_t)v[at].u.i, .cols = &v[at + 1]};
        if (c->cont == K_DESCRIBE) {
            s_stmt_t *st = c->cstmt;
            uint32_t total = np > st->nparams ? np : st->nparams;
            size_t pat = s_begin(&c->out, 't');
            s_put16(&c->out, (uint16_t)total);
            for (uint32_t i = 0; i < total; i++)
                s_put32(&c->out, i < st->nparams && st->oids[i] ? st->oids[i]
                                 : i < np                      ? s_oid(&v[1 + i])
                                                               : OID_TEXT);
            s_end(&c->out, pat);
        }
        if (!g.ncols)
            s_simple_msg(c, 'n');
        else if (c->cont == K_DESCRIBE)
            s_row_desc(c, &g, NULL, 0);
        else
            s_row_desc(c, &g, c->cportal->rfmt, c->cportal->nrfmt);
        break;
    }
    case K_COPY_COLS: {
        const hb_val_t *v = m.u.result.vals;
        if (failed || m.u.result.nvals < 2 || v[1].type != HB_VAL_INT || v[1].u.i < 1 ||
            v[1].u.i > 4096) {
            if (failed) {
                s_engine_failed(c);
                s_engine_error(c, m.u.result.msg, m.u.result.msg_len);
            }
            else
                s_error(c, "ERROR", "XX000", "malformed result from the engine");
            if (c->copy_simple)
                s_ready(c);
            else
                s_ext_error(c);
            s_copy_reset(c);
            break;
        }
        c->copy_ncols = (uint32_t)v[1].u.i;
        uint32_t per = (self->lim.max_args - 1) / c->copy_ncols;
        c->copy_rows_per = per < S_COPY_ROWS ? per : S_COPY_ROWS;
        if (c->copy_rows_per == 0) {
            s_error(c, "ERROR", "54023", "a row of %u columns does not fit in one request",
                    c->copy_ncols);
            s_copy_reset(c);
            if (c->copy_simple)
                s_ready(c);
            break;
        }
        c->copy_in = true;
        size_t at = s_begin(&c->out, 'G');
        s_put8(&c->out, 0);
        s_put16(&c->out, (uint16_t)c->copy_ncols);
        for (uint32_t i = 0; i < c->copy_ncols; i++)
            s_put16(&c->out, 0);
        s_end(&c->out, at);
        break;
    }
    case K_COPY_FIN:
        s_copy_tag(c, c->copy_done_rows);
        c->max_epoch = 0;
        if (c->copy_simple)
            s_ready(c);
        break;
    case K_COPY_OUT:
        if (failed) {
            s_engine_failed(c);
            s_engine_error(c, m.u.result.msg, m.u.result.msg_len);
        } else if (!s_groups(&m, s_copy_out_group, c, NULL)) {
            s_error(c, "ERROR", "XX000", "malformed result from the engine");
        }
        if (c->copy_simple)
            s_ready(c);
        else if (failed)
            s_ext_error(c);
        break;
    default:
        break;
    }
out:
    if (!keep) {
        hb_msg_clear(&m);
        hb_free(copy);
    }
}

/* ------------------------------------------------------------------ */
/* The message loop of one connection                                   */
/* ------------------------------------------------------------------ */

static bool
s_paused(const s_conn_t *c)
{
    return c->waiting || c->copy_end || (c->copy_in && s_copy_full(c)) ||
           c->out.len - c->out.off > S_OUT_PAUSE;
}

/* Ends a connection that holds more than pg_session_memory (53200). */
static bool
s_over_memory(sqlf_pg_t *self, s_conn_t *c)
{
    if (s_conn_mem(c) <= self->cfg.pg_session_memory)
        return false;
    S_COUNT(self, c_mem_kills);
    s_error(c, "FATAL", "53200",
            "out of memory: the session holds more than pg_session_memory (%llu bytes)",
            (unsigned long long)self->cfg.pg_session_memory);
    c->phase = P_CLOSING;
    return true;
}

/* Handles the complete messages in c's input, as far as it can go. */
static void
s_process(sqlf_pg_t *self, s_conn_t *c)
{
    while (c->phase != P_CLOSING && !s_paused(c)) {
        if (c->phase == P_READY && s_over_memory(self, c))
            return; /* also after COPY messages and engine answers */
        size_t avail = c->in.len - c->in.off;
        const uint8_t *h = c->in.p + c->in.off;
        if (c->phase == P_STARTUP) {
            if (avail < 4)
                return;
            uint32_t len = s_get32(h);
            if (len < 8 || len > S_STARTUP_MAX) {
                S_COUNT(self, c_proto_err);
                s_error(c, "FATAL", "08P01", "invalid length of startup packet");
                c->phase = P_CLOSING;
                return;
            }
            if (avail < len)
                return;
            c->in.off += len;
            s_startup(self, c, h + 4, len - 4);
            continue;
        }
        if (avail < 5)
            return;
        char type = (char)h[0];
        uint32_t len = s_get32(h + 1);
        uint64_t cap = self->cfg.pg_session_memory < self->lim.max_frame_bytes
                           ? self->cfg.pg_session_memory
                           : self->lim.max_frame_bytes;
        if (len < 4 || len > cap) {
            S_COUNT(self, c_proto_err);
            s_error(c, "FATAL", "08P01", "invalid message length %u for message type '%c'",
                    len, type >= 32 && type < 127 ? type : '?');
            c->phase = P_CLOSING;
            return;
        }
        if (avail < (size_t)len + 1)
            return;
        const uint8_t *body = h + 5;
        uint32_t blen = len - 4;
        c->in.off += (size_t)len + 1;
        if (c->phase == P_AUTH) {
            if (type != 'p' || self->cfg.pg_auth == HB_PG_AUTH_TRUST) {
                S_COUNT(self, c_proto_err);
                s_error(c, "FATAL", "08P01", "expected a password message, got '%c'",
                        type >= 32 && type < 127 ? type : '?');
                c->phase = P_CLOSING;
                return;
            }
            s_auth_msg(self, c, body, blen);
            continue;
        }
        if (c->copy_in) {
            switch (type) {
            case 'd': s_copy_data(self, c, body, blen); continue;
            case 'c': s_copy_done(self, c); continue;
            case 'f':
                s_copy_fail(c, "57014", "COPY from stdin failed: %.*s",
                            (int)(blen ? blen - 1 : 0), (const char *)body);
                s_copy_done(self, c);
                continue;
            case 'H': case 'S': continue; /* allowed and ignored during COPY */
            default:
                s_copy_fail(c, "08P01", "unexpected message type '%c' during COPY from stdin",
                            type >= 32 && type < 127 ? type : '?');
                s_copy_done(self, c);
                continue;
            }
        }
        if (c->skip_to_sync && type != 'S' && type != 'X')
            continue;
        switch (type) {
        case 'Q': s_query(self, c, body, blen); break;
        case 'P': s_parse_msg(c, body, blen); break;
        case 'B': s_bind_msg(c, body, blen); break;
        case 'D': s_describe_msg(self, c, body, blen); break;
        case 'E': s_execute_msg(self, c, body, blen); break;
        case 'C': s_close_msg(c, body, blen); break;
        case 'S': s_sync(c); break;
        case 'H': break; /* the loop flushes */
        case 'X': c->phase = P_CLOSING; return;
        case 'd': case 'c': case 'f': break; /* after a failed COPY: ignored, as PostgreSQL */
        case 'F':
            s_error(c, "ERROR", "0A000", "the function call protocol is not supported");
            s_ext_error(c);
            break;
        default:
            S_COUNT(self, c_proto_err);
            s_error(c, "FATAL", "08P01", "invalid frontend message type %d", (int)(uint8_t)type);
            c->phase = P_CLOSING;
            return;
        }
        if (s_over_memory(self, c))
            return;
    }
}

/* Reads what the socket has; returns false when the peer is gone. */
static bool
s_read(sqlf_pg_t *self, s_conn_t *c)
{
    for (int rounds = 0; rounds < 16; rounds++) {
        if (c->in.off == c->in.len)
            c->in.off = c->in.len = 0;
        else if (c->in.off > 0 && c->in.off > c->in.cap / 2) {
            memmove(c->in.p, c->in.p + c->in.off, c->in.len - c->in.off);
            c->in.len -= c->in.off;
            c->in.off = 0;
        }
        /* Grow toward the message being read, never past the cap. */
        size_t want = 16384;
        size_t avail = c->in.len - c->in.off;
        if (c->phase != P_STARTUP && avail >= 5) {
            uint32_t l = s_get32(c->in.p + c->in.off + 1);
            if ((uint64_t)l + 1 > avail && l <= self->cfg.pg_session_memory &&
                l <= self->lim.max_frame_bytes)
                want = (size_t)l + 1 - avail;
        }
        if (want > 1u << 20)
            want = 1u << 20;
        s_reserve(&c->in, want);
        ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
        if (n == 0)
            return false;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == EINTR)
                continue;
            return false;
        }
        c->in.len += (size_t)n;
        if ((size_t)n < want)
            return true;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* The thread                                                           */
/* ------------------------------------------------------------------ */

static void
s_accept(sqlf_pg_t *self)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(self->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                self->accept_resume_ms = s_now_ms() + 100;
            return;
        }
        uint32_t slot = 0;
        while (slot < self->nslots && self->conns[slot])
            slot++;
        if (slot == self->nslots) {
            close(fd); /* beyond even the rejection allowance */
            S_COUNT(self, c_rejected);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        s_conn_t *c = hb_calloc(1, sizeof *c);
        c->fd = fd;
        c->id = (++self->serial << 16) | slot;
        c->phase = P_STARTUP;
        c->txn = 'I';
        c->deadline_ms = s_now_ms() + self->cfg.pg_auth_timeout_ms;
        c->key_pid = (int32_t)(c->id & 0x7fffffff);
        if (RAND_bytes((unsigned char *)&c->key_secret, sizeof c->key_secret) != 1)
            c->key_secret = (int32_t)c->id;
        if (self->nconns >= self->cfg.pg_max_connections)
            c->reject = true;
        else
            c->counted = true;
        self->nconns += c->counted;
        self->conns[slot] = c;
        S_COUNT(self, c_accepted);
    }
}

static void
s_pair_in(sqlf_pg_t *self, void *pair)
{
    for (int k = 0; k < 4096; k++) {
        zmq_msg_t peer, frame;
        zmq_msg_init(&peer);
        if (zmq_msg_recv(&peer, pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&peer);
            return;
        }
        zmq_msg_init(&frame);
        bool ok = zmq_msg_more(&peer) && zmq_msg_recv(&frame, pair, 0) >= 0;
        while (ok && zmq_msg_more(&frame)) { /* drain anything unexpected */
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, pair, 0);
            bool more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
            if (!more)
                break;
        }
        const uint8_t *pp = zmq_msg_data(&peer);
        if (ok && sqlf_pg_is_peer(pp, zmq_msg_size(&peer))) {
            uint64_t id = 0;
            for (int i = 0; i < 8; i++)
                id = id << 8 | pp[2 + i];
            uint32_t sub = (uint32_t)(id >> 56);
            id &= 0x00ffffffffffffffULL;
            s_conn_t *c = self->conns[id & 0xffff];
            if (c && c->id == id && c->phase == P_READY) {
                s_on_result(self, c, sub, zmq_msg_data(&frame), zmq_msg_size(&frame));
                s_process(self, c);
            } else {
                uint64_t full = id | (uint64_t)sub << 56;
                for (uint32_t i = 0; i < self->norphans; i++) {
                    if (self->orphans[i] != full)
                        continue;
                    s_close_session(self, id, sub);
                    self->orphans[i] = self->orphans[--self->norphans];
                    break;
                }
            }
        }
        zmq_msg_close(&frame);
        zmq_msg_close(&peer);
    }
}

static void *
s_main(void *arg)
{
    sqlf_pg_t *self = arg;
    uint32_t fixed = (uint32_t)self->nworkers + 1;
    zmq_pollitem_t *items = hb_calloc(self->nslots + fixed, sizeof *items);
    s_conn_t **which = hb_calloc(self->nslots + fixed, sizeof *which);
    while (!atomic_load(&self->stop)) {
        uint32_t n = 0;
        for (int i = 0; i < self->nworkers; i++)
            items[n++] = (zmq_pollitem_t){self->pairs[i], 0, ZMQ_POLLIN, 0};
        /* Out of file descriptors: leave the listener alone for a while. */
        bool listen = s_now_ms() >= self->accept_resume_ms;
        items[n++] = (zmq_pollitem_t){NULL, self->lfd, listen ? ZMQ_POLLIN : 0, 0};
        for (uint32_t i = 0; i < self->nslots; i++) {
            s_conn_t *c = self->conns[i];
            if (!c)
                continue;
            short ev = 0;
            /* A waiting connection still reads ahead (bounded), so that a
             * client that went away is noticed. */
            if (!s_paused(c) || c->phase == P_CLOSING || c->in.len - c->in.off < S_IN_AHEAD)
                ev |= ZMQ_POLLIN;
            if (c->out.len > c->out.off)
                ev |= ZMQ_POLLOUT;
            which[n] = c;
            items[n++] = (zmq_pollitem_t){NULL, c->fd, ev, 0};
        }
        if (zmq_poll(items, (int)n, 50) < 0 && zmq_errno() != EINTR)
            break;
        for (int i = 0; i < self->nworkers; i++)
            if (items[i].revents & ZMQ_POLLIN)
                s_pair_in(self, self->pairs[i]);
        if (items[fixed - 1].revents & ZMQ_POLLIN)
            s_accept(self);
        int64_t now = s_now_ms();
        for (uint32_t i = fixed; i < n; i++) {
            s_conn_t *c = which[i];
            if (!c || self->conns[c->id & 0xffff] != c)
                continue;
            bool alive = true;
            if (items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
                alive = s_read(self, c);
                if (alive)
                    s_process(self, c);
            }
            if (alive && c->phase != P_READY && c->phase != P_CLOSING && now > c->deadline_ms) {
                S_COUNT(self, c_timeouts);
                s_error(c, "FATAL", "08006", "start-up and authentication did not finish "
                        "within %u ms", self->cfg.pg_auth_timeout_ms);
                c->phase = P_CLOSING;
            }
            if (alive)
                alive = s_flush(c);
            if (!alive || (c->phase == P_CLOSING && c->out.len == c->out.off))
                s_close(self, c);
        }
        /* Connections moved on by engine answers flush here too, and one
         * whose output drained takes up the input it had put aside. */
        for (uint32_t i = 0; i < self->nslots; i++) {
            s_conn_t *c = self->conns[i];
            if (!c)
                continue;
            if (c->out.len > c->out.off && !s_flush(c)) {
                s_close(self, c);
                continue;
            }
            if (c->phase != P_CLOSING && c->in.len > c->in.off && !s_paused(c)) {
                s_process(self, c);
                if (!s_flush(c)) {
                    s_close(self, c);
                    continue;
                }
            }
            if (c->phase == P_CLOSING && c->out.len == c->out.off)
                s_close(self, c);
        }
    }
    hb_free(items);
    hb_free(which);
    for (uint32_t i = 0; i < self->nslots; i++)
        if (self->conns[i])
            s_close(self, self->conns[i]);
    return NULL;
}

sqlf_pg_t *
sqlf_pg_start(void *zctx, int nworkers, const char *config_path,
              const hb_sqlfront_cfg_t *cfg, const hb_limits_t *lim, char *err, size_t errlen)
{
    sqlf_pg_t *self = hb_calloc(1, sizeof *self);
    snprintf(self->config_path, sizeof self->config_path, "%s", config_path);
    self->cfg = *cfg;
    self->lim = *lim;
    self->zctx = zctx;
    self->lfd = -1;
    pthread_mutex_init(&self->mu, NULL);
    if (sqlf_pgauth_users(cfg->pg_users, &self->users, &self->nusers, err, errlen) != HB_OK)
        goto fail;
    char host[HB_ENDPOINT_MAX];
    snprintf(host, sizeof host, "%s", cfg->pg_listen);
    char *colon = strrchr(host, ':');
    *colon = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *ai = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "pg_listen %s: %s", cfg->pg_listen, gai_strerror(gai));
        goto fail;
    }
    self->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (self->lfd >= 0)
        setsockopt(self->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (self->lfd < 0 || bind(self->lfd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        listen(self->lfd, 512) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->pg_listen, strerror(errno));
        freeaddrinfo(ai);
        goto fail;
    }
    freeaddrinfo(ai);
    self->nslots = cfg->pg_max_connections * S_HARD_CONNS;
    if (self->nslots > 65535)
        self->nslots = 65535;
    self->conns = hb_calloc(self->nslots, sizeof *self->conns);
    self->nworkers = nworkers;
    self->pairs = hb_calloc((size_t)nworkers, sizeof *self->pairs);
    int zero = 0;
    for (int i = 0; i < nworkers; i++) {
        char ep[64];
        snprintf(ep, sizeof ep, "inproc://sqlf-pg-%d", i);
        self->pairs[i] = zmq_socket(zctx, ZMQ_PAIR);
        zmq_setsockopt(self->pairs[i], ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_bind(self->pairs[i], ep) < 0) {
            snprintf(err, errlen, "cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) {
        snprintf(err, errlen, "cannot start the wire protocol thread");
        goto fail;
    }
    return self;
fail:
    for (int i = 0; self->pairs && i < nworkers; i++)
        if (self->pairs[i])
            zmq_close(self->pairs[i]);
    hb_free(self->pairs);
    if (self->lfd >= 0)
        close(self->lfd);
    hb_free(self->conns);
    free(self->users);
    pthread_mutex_destroy(&self->mu);
    hb_free(self);
    return NULL;
}

void
sqlf_pg_stop(sqlf_pg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sqlf_pg_t *self = *self_p;
    atomic_store(&self->stop, 1);
    pthread_join(self->thread, NULL);
    for (int i = 0; i < self->nworkers; i++)
        zmq_close(self->pairs[i]);
    hb_free(self->pairs);
    close(self->lfd);
    sqlf_catalog_destroy(&self->cat);
    hb_client_destroy(&self->cli);
    hb_free(self->orphans);
    hb_free(self->conns);
    free(self->users);
    pthread_mutex_destroy(&self->mu);
    hb_free(self);
    *self_p = NULL;
}

uint32_t
sqlf_pg_stats(sqlf_pg_t *self, hb_wire_stat_t *out, uint32_t cap)
{
    pthread_mutex_lock(&self->mu);
    const struct {
        const char *name;
        uint64_t v;
    } s[] = {
        {"pg_accepted", self->c_accepted},       {"pg_connections", self->nconns},
        {"pg_rejected", self->c_rejected},       {"pg_auth_failures", self->c_auth_fail},
        {"pg_protocol_errors", self->c_proto_err}, {"pg_startup_timeouts", self->c_timeouts},
        {"pg_queries", self->c_queries},         {"pg_errors", self->c_errors},
        {"pg_cancel_requests", self->c_cancels}, {"pg_memory_kills", self->c_mem_kills},
    };
    uint32_t n = 0;
    for (size_t i = 0; i < sizeof s / sizeof *s && n < cap; i++, n++) {
        out[n].name = s[i].name;
        out[n].name_len = (uint32_t)strlen(s[i].name);
        out[n].val = hb_val_int((int64_t)s[i].v);
    }
    pthread_mutex_unlock(&self->mu);
    return n;
}
