/* bench_ycsb_pg.c — YCSB operations on PostgreSQL through libpq.
 *
 * One bench_ycsb_pg_t is one synchronous connection of one client thread
 * (bench_ycsb.c). The table is YCSB's JDBC layout, in plain PostgreSQL 15:
 *   usertable (ycsb_key varchar(64) PRIMARY KEY, field0 text, ...)
 * The load is COPY in batches; the run uses prepared statements:
 *   read   SELECT * FROM usertable WHERE ycsb_key = $1
 *   update UPDATE usertable SET fieldN = $2 WHERE ycsb_key = $1 (one per N)
 *   insert INSERT INTO usertable VALUES ($1, ..., $F+1)
 *   scan   SELECT * ... WHERE ycsb_key >= $1 ORDER BY ycsb_key LIMIT $2
 *   rmw    BEGIN; SELECT * ... FOR UPDATE; UPDATE ...; COMMIT
 * Keys and values travel as binary-format parameters (for text and
 * varchar that is the bytes themselves), so no copies are needed to add
 * NUL terminators. Operation errors are counted by the caller; the first
 * few messages of each connection are printed so a failing run says why.
 */
#include "bench_ycsb_pg.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_alloc.h"

#define S_MAX_FIELDS  64 /* as HB_YCSB_MAX_FIELDS */
#define S_SHOW_ERRORS 3  /* operation error messages printed per connection */

struct bench_ycsb_pg {
    PGconn *conn;    /* the connection */
    uint32_t fields; /* fields per record */
    uint32_t shown;  /* operation errors printed so far */
    char *copybuf;   /* load: COPY text of one batch */
    size_t copycap;  /* its capacity */
};

/* ------------------------------------------------------------ helpers */

/* Copies libpq's message (without its trailing newline) into err. */
static void
s_msg(char *err, size_t cap, const char *what, const char *msg)
{
    if (!cap)
        return;
    snprintf(err, cap, "%s: %s", what, msg && *msg ? msg : "unknown error");
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

/* Runs a statement without parameters. Returns 0, or -1 with err. */
static int
s_exec(bench_ycsb_pg_t *pg, const char *sql, char *err, size_t cap)
{
    PGresult *r = PQexec(pg->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc)
        s_msg(err, cap, sql,
              PQresultErrorMessage(r) && *PQresultErrorMessage(r)
                  ? PQresultErrorMessage(r)
                  : PQerrorMessage(pg->conn));
    PQclear(r);
    return rc;
}

/* Classifies a finished statement: 0 ok, 1 aborted (duplicate key,
 * serialization failure, deadlock), 2 error; prints the first few errors. */
static int
s_outcome(bench_ycsb_pg_t *pg, PGresult *r, const char *what)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state && (strcmp(state, "23505") == 0 || strcmp(state, "40001") == 0 ||
                  strcmp(state, "40P01") == 0))
        return 1;
    if (pg->shown < S_SHOW_ERRORS) {
        char msg[512];
        s_msg(msg, sizeof msg, what,
              r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r)
                                            : PQerrorMessage(pg->conn));
        fprintf(stderr, "hobbes-bench: postgres: %s%s\n", msg,
                ++pg->shown == S_SHOW_ERRORS ? " (further errors only counted)" : "");
    }
    return 2;
}

/* Runs prepared statement name with binary parameters; returns the
 * outcome, and in *tuples (if not NULL) the rows returned or affected. */
static int
s_run(bench_ycsb_pg_t *pg, const char *name, int n, const char *const *vals,
      const int *lens, const int *fmts, long *tuples)
{
    PGresult *r = PQexecPrepared(pg->conn, name, n, vals, lens, fmts, 0);
    int out = s_outcome(pg, r, name);
    if (out == 0 && tuples) {
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            *tuples = PQntuples(r);
        else
            *tuples = strtol(PQcmdTuples(r), NULL, 10);
    }
    PQclear(r);
    return out;
}

/* --------------------------------------------------------- connection */

int
bench_ycsb_pg_is_target(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 ||
           strncmp(url, "postgresql://", 13) == 0 || strchr(url, '=') != NULL;
}

int
bench_ycsb_pg_check_url(const char *url, char *err, size_t cap)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    if (!opts) {
        s_msg(err, cap, "bad connection string", msg ? msg : "cannot parse it");
        PQfreemem(msg);
        return -1;
    }
    PQconninfoFree(opts);
    return 0;
}

bench_ycsb_pg_t *
bench_ycsb_pg_new(const char *url, uint32_t fields, char *err, size_t cap)
{
    if (fields < 1 || fields > S_MAX_FIELDS) {
        s_msg(err, cap, "postgres", "field count out of range");
        return NULL;
    }
    bench_ycsb_pg_t *pg = calloc(1, sizeof *pg);
    if (!pg) {
        s_msg(err, cap, "postgres", "out of memory");
        return NULL;
    }
    pg->fields = fields;
    pg->conn = PQconnectdb(url);
    if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
        s_msg(err, cap, "cannot connect to PostgreSQL",
              pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        bench_ycsb_pg_destroy(&pg);
        return NULL;
    }
    /* Notices (DROP ... IF EXISTS) are noise on a benchmark's terminal. */
    if (s_exec(pg, "SET client_min_messages = warning", err, cap) != 0) {
        bench_ycsb_pg_destroy(&pg);
        return NULL;
    }
    return pg;
}

void
bench_ycsb_pg_destroy(bench_ycsb_pg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bench_ycsb_pg_t *pg = *self_p;
    if (pg->conn)
        PQfinish(pg->conn);
    free(pg->copybuf);
    free(pg);
    *self_p = NULL;
}

void
bench_ycsb_pg_describe(const bench_ycsb_pg_t *pg, char *out, size_t cap)
{
    int v = PQserverVersion(pg->conn);
    const char *host = PQhost(pg->conn);
    snprintf(out, cap, "PostgreSQL %d.%d at %s:%s/%s", v / 10000, v % 10000,
             host && *host ? host : "localhost", PQport(pg->conn), PQdb(pg->conn));
}

/* ------------------------------------------------------------- schema */

int
bench_ycsb_pg_create_table(bench_ycsb_pg_t *pg, char *err, size_t cap)
{
    if (s_exec(pg, "DROP TABLE IF EXISTS usertable", err, cap) != 0)
        return -1;
    char sql[64 + S_MAX_FIELDS * 24];
    size_t n = (size_t)snprintf(
        sql, sizeof sql, "CREATE TABLE usertable (ycsb_key varchar(64) PRIMARY KEY");
    for (uint32_t f = 0; f < pg->fields; f++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", field%u text", f);
    snprintf(sql + n, sizeof sql - n, ")");
    return s_exec(pg, sql, err, cap);
}

int
bench_ycsb_pg_analyze(bench_ycsb_pg_t *pg, char *err, size_t cap)
{
    return s_exec(pg, "ANALYZE usertable", err, cap);
}

/* Prepares one statement. Returns 0, or -1 with err. */
static int
s_prepare(bench_ycsb_pg_t *pg, const char *name, const char *sql, char *err, size_t cap)
{
    PGresult *r = PQprepare(pg->conn, name, sql, 0, NULL);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        s_msg(err, cap,
              state && strcmp(state, "42P01") == 0 ? "no table usertable (load it first)"
                                                   : "prepare",
              PQresultErrorMessage(r));
    }
    PQclear(r);
    return rc;
}

int
bench_ycsb_pg_prepare(bench_ycsb_pg_t *pg, char *err, size_t cap)
{
    char sql[64 + S_MAX_FIELDS * 8], name[16];
    if (s_prepare(pg, "r", "SELECT * FROM usertable WHERE ycsb_key = $1", err, cap) ||
        s_prepare(pg, "f", "SELECT * FROM usertable WHERE ycsb_key = $1 FOR UPDATE", err,
                  cap) ||
        s_prepare(
            pg, "s",
            "SELECT * FROM usertable WHERE ycsb_key >= $1 ORDER BY ycsb_key LIMIT $2",
            err, cap))
        return -1;
    size_t n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO usertable VALUES ($1");
    for (uint32_t f = 0; f < pg->fields; f++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", $%u", f + 2);
    snprintf(sql + n, sizeof sql - n, ")");
    if (s_prepare(pg, "i", sql, err, cap))
        return -1;
    for (uint32_t f = 0; f < pg->fields; f++) {
        snprintf(name, sizeof name, "u%u", f);
        snprintf(sql, sizeof sql, "UPDATE usertable SET field%u = $2 WHERE ycsb_key = $1",
                 f);
        if (s_prepare(pg, name, sql, err, cap))
            return -1;
    }
    return 0;
}

int
bench_ycsb_pg_count(bench_ycsb_pg_t *pg, int64_t *out, char *err, size_t cap)
{
    PGresult *r = PQexec(pg->conn, "SELECT count(*) FROM usertable");
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? 0 : -1;
    if (rc)
        s_msg(err, cap, "count", PQresultErrorMessage(r));
    else
        *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

/* --------------------------------------------------------------- load */

/* Makes room for `more` bytes after `used` in the COPY buffer (running
 * out of memory is fatal, as everywhere: hb_alloc.h). */
static void
s_reserve(bench_ycsb_pg_t *pg, size_t used, size_t more)
{
    HB_GROW(pg->copybuf, pg->copycap, used + more, 65536);
}

int
bench_ycsb_pg_load(bench_ycsb_pg_t *pg, size_t n, const char *const *names,
                   const uint8_t *vals, uint32_t len, char *err, size_t cap)
{
    /* COPY's text format: tab between columns, newline after a row, and a
     * backslash (the one printable ASCII byte it treats specially) doubled. */
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        size_t klen = strlen(names[i]);
        s_reserve(pg, used, klen + (size_t)pg->fields * (2 * len + 1) + 1);
        memcpy(pg->copybuf + used, names[i], klen);
        used += klen;
        const uint8_t *v = vals + i * (size_t)pg->fields * len;
        for (uint32_t f = 0; f < pg->fields; f++) {
            pg->copybuf[used++] = '\t';
            for (uint32_t b = 0; b < len; b++, v++) {
                if (*v == '\\' || *v == '\t' || *v == '\n' || *v == '\r')
                    pg->copybuf[used++] = '\\';
                pg->copybuf[used++] = (char)(*v == '\t'   ? 't'
                                             : *v == '\n' ? 'n'
                                             : *v == '\r' ? 'r'
                                                          : *v);
            }
        }
        pg->copybuf[used++] = '\n';
    }
    PGresult *r = PQexec(pg->conn, "COPY usertable FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        s_msg(err, cap, "COPY usertable", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    int rc = 0;
    if (PQputCopyData(pg->conn, pg->copybuf, (int)used) != 1 ||
        PQputCopyEnd(pg->conn, NULL) != 1) {
        s_msg(err, cap, "COPY usertable", PQerrorMessage(pg->conn));
        rc = -1;
    }
    /* Read every result so the connection is idle again. */
    while ((r = PQgetResult(pg->conn)) != NULL) {
        if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
            s_msg(err, cap, "COPY usertable", PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    return rc;
}

/* --------------------------------------------------------- operations */

int
bench_ycsb_pg_read(bench_ycsb_pg_t *pg, const char *key, uint32_t klen)
{
    const char *v[1] = {key};
    int l[1] = {(int)klen}, fm[1] = {1};
    /* A missing record is a successful read of nothing (Hobbes returns nil). */
    return s_run(pg, "r", 1, v, l, fm, NULL);
}

int
bench_ycsb_pg_update(bench_ycsb_pg_t *pg, const char *key, uint32_t klen, uint32_t field,
                     const uint8_t *val, uint32_t len)
{
    char name[16];
    snprintf(name, sizeof name, "u%u", field < pg->fields ? field : 0);
    const char *v[2] = {key, (const char *)val};
    int l[2] = {(int)klen, (int)len}, fm[2] = {1, 1};
    long rows = 0;
    int out = s_run(pg, name, 2, v, l, fm, &rows);
    /* Hobbes aborts an update of a missing record. */
    return out == 0 && rows == 0 ? 1 : out;
}

int
bench_ycsb_pg_insert(bench_ycsb_pg_t *pg, const char *key, uint32_t klen,
                     const uint8_t *vals, uint32_t len)
{
    const char *v[1 + S_MAX_FIELDS];
    int l[1 + S_MAX_FIELDS], fm[1 + S_MAX_FIELDS];
    v[0] = key;
    l[0] = (int)klen;
    fm[0] = 1;
    for (uint32_t f = 0; f < pg->fields; f++) {
        v[1 + f] = (const char *)vals + (size_t)f * len;
        l[1 + f] = (int)len;
        fm[1 + f] = 1;
    }
    return s_run(pg, "i", 1 + (int)pg->fields, v, l, fm, NULL);
}

int
bench_ycsb_pg_scan(bench_ycsb_pg_t *pg, const char *key, uint32_t klen, uint32_t length)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%u", length);
    const char *v[2] = {key, lim};
    int l[2] = {(int)klen, 0}, fm[2] = {1, 0};
    return s_run(pg, "s", 2, v, l, fm, NULL);
}

int
bench_ycsb_pg_rmw(bench_ycsb_pg_t *pg, const char *key, uint32_t klen, uint32_t field,
                  const uint8_t *val, uint32_t len)
{
    PGresult *r = PQexec(pg->conn, "BEGIN");
    int out = s_outcome(pg, r, "BEGIN");
    PQclear(r);
    if (out != 0)
        return out;
    const char *v[1] = {key};
    int l[1] = {(int)klen}, fm[1] = {1};
    long rows = 0;
    out = s_run(pg, "f", 1, v, l, fm, &rows);
    if (out == 0 && rows == 0)
        out = 1; /* Hobbes aborts a rmw of a missing record */
    if (out == 0)
        out = bench_ycsb_pg_update(pg, key, klen, field, val, len);
    r = PQexec(pg->conn, out == 0 ? "COMMIT" : "ROLLBACK");
    int end = s_outcome(pg, r, out == 0 ? "COMMIT" : "ROLLBACK");
    PQclear(r);
    return out != 0 ? out : end;
}
