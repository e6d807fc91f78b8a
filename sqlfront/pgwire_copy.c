/* pgwire_copy.c — COPY FROM STDIN and COPY TO STDOUT (text format).
 *
 * COPY TO STDOUT runs "SELECT cols FROM table" on the connection's session
 * and sends the rows as CopyData lines. COPY FROM STDIN first asks the
 * engine for the table's columns ("... LIMIT 0"), answers CopyInResponse,
 * then cuts the CopyData stream into lines and fields (de-escaped) and
 * loads them through up to SQLF_PG_SUBS side sessions of the connection,
 * each a multi-row INSERT of up to S_COPY_ROWS rows with text parameters
 * (typed like literals by the planner), pipelined: a COPY is a bulk load
 * committed chunk by chunk, not one transaction (also inside a block); a
 * failure leaves the chunks before it. When every chunk is back, the
 * connection's own session is told to read after the newest chunk's epoch
 * (read your writes), then CommandComplete "COPY n".
 *
 * The state lives in the connection's copy member (sqlf_pg_copy_t).
 * Entry points: sqlf_pg_copy_start, sqlf_pg_copy_msg (CopyData, CopyDone,
 * CopyFail), sqlf_pg_copy_on_chunk and sqlf_pg_copy_on_result (engine
 * answers).
 */
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_sqlstate.h"
#include "pgwire_int.h"

#define S_COPY_ROWS 1000 /* rows per COPY chunk (also bounded by max_args) */

void
sqlf_pg_copy_reset(sqlf_pg_conn_t *c)
{
    c->copy.in = c->copy.end = c->copy.eod = c->copy.failed = false;
    hb_free(c->copy.prefix);
    c->copy.prefix = NULL;
    c->copy.line.len = c->copy.line.off = 0;
    c->copy.cells.len = c->copy.cells.off = 0;
    c->copy.nfields = c->copy.batch_rows = 0;
    c->copy.rows = 0;
}

void
sqlf_pg_copy_free(sqlf_pg_conn_t *c)
{
    sqlf_pg_copy_reset(c);
    hb_free(c->copy.line.p);
    hb_free(c->copy.cells.p);
    hb_free(c->copy.fields);
}

/* ------------------------------------------------------------------ */
/* Start                                                                */
/* ------------------------------------------------------------------ */

static void
s_quote_ident(sqlf_pg_buf_t *b, const char *s)
{
    sqlf_pg_put8(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            sqlf_pg_put8(b, '"');
        sqlf_pg_put8(b, (uint8_t)*s);
    }
    sqlf_pg_put8(b, '"');
}

/* Fails the COPY with state and a message: the first failure is the one
 * reported, once the chunks in flight are back. */
static void s_copy_fail(sqlf_pg_conn_t *c, const char *state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_copy_fail(sqlf_pg_conn_t *c, const char *state, const char *fmt, ...)
{
    if (c->copy.failed)
        return;
    c->copy.failed = true;
    snprintf(c->copy.state, sizeof c->copy.state, "%s", state);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->copy.msg, sizeof c->copy.msg, fmt, ap);
    va_end(ap);
}

/* Takes the options of COPY cs (FORMAT text, DELIMITER, NULL; FREEZE and
 * ENCODING are accepted and ignored). Returns NULL, or why not with its
 * SQLSTATE in state. */
static const char *
s_copy_options(sqlf_pg_conn_t *c, const PgQuery__CopyStmt *cs, char state[6])
{
    c->copy.delim = '\t';
    snprintf(c->copy.null, sizeof c->copy.null, "\\N");
    for (size_t i = 0; i < cs->n_options; i++) {
        const PgQuery__DefElem *d = cs->options[i]->def_elem;
        const char *sv = d->arg && d->arg->node_case == PG_QUERY__NODE__NODE_STRING
                             ? d->arg->string->sval
                             : NULL;
        if (strcmp(d->defname, "format") == 0) {
            if (!sv || strcmp(sv, "text") != 0)
                return "only COPY FORMAT text is supported";
        } else if (strcmp(d->defname, "delimiter") == 0) {
            if (!sv || strlen(sv) != 1 || sv[0] == '\\' || sv[0] == '\n' ||
                sv[0] == '\r') {
                memcpy(state, "22023", 6);
                return "COPY delimiter must be a single one-byte character";
            }
            c->copy.delim = sv[0];
        } else if (strcmp(d->defname, "null") == 0) {
            if (!sv || strlen(sv) >= sizeof c->copy.null) {
                memcpy(state, "22023", 6);
                return "COPY null representation is too long";
            }
            snprintf(c->copy.null, sizeof c->copy.null, "%s", sv);
        } else if (strcmp(d->defname, "freeze") != 0 &&
                   strcmp(d->defname, "encoding") != 0) {
            return "this COPY option is not supported";
        }
    }
    return NULL;
}

/* Appends the quoted column list of cs, comma-separated. */
static void
s_copy_cols(sqlf_pg_buf_t *b, const PgQuery__CopyStmt *cs)
{
    for (size_t i = 0; i < cs->n_attlist; i++) {
        if (i)
            sqlf_pg_put8(b, ',');
        s_quote_ident(b, cs->attlist[i]->string->sval);
    }
}

/* Sends "SELECT cols FROM table": the columns of COPY FROM (which also
 * gets its INSERT prefix), the rows of COPY TO. */
static void
s_copy_request(sqlf_pg_t *self, sqlf_pg_conn_t *c, const PgQuery__CopyStmt *cs)
{
    sqlf_pg_buf_t q = {0};
    sqlf_pg_put(&q, "SELECT ", 7);
    if (cs->n_attlist == 0)
        sqlf_pg_put8(&q, '*');
    else
        s_copy_cols(&q, cs);
    sqlf_pg_put(&q, " FROM ", 6);
    s_quote_ident(&q, cs->relation->relname);
    int cont = SQLF_PG_K_COPY_OUT;
    if (cs->is_from) {
        sqlf_pg_put(&q, " LIMIT 0", 8);
        sqlf_pg_buf_t pre = {0};
        sqlf_pg_put(&pre, "INSERT INTO ", 12);
        s_quote_ident(&pre, cs->relation->relname);
        if (cs->n_attlist) {
            sqlf_pg_put(&pre, " (", 2);
            s_copy_cols(&pre, cs);
            sqlf_pg_put8(&pre, ')');
        }
        sqlf_pg_put(&pre, " VALUES ", 8);
        sqlf_pg_put8(&pre, 0);
        hb_free(c->copy.prefix);
        c->copy.prefix = (char *)pre.p;
        cont = SQLF_PG_K_COPY_COLS;
    }
    if (!sqlf_pg_request(self, c, "sql", (const char *)q.p, q.len, NULL, 0, cont))
        sqlf_pg_ready(c);
    hb_free(q.p);
}

void
sqlf_pg_copy_start(sqlf_pg_t *self, sqlf_pg_conn_t *c, const char *text, bool simple)
{
    PgQueryProtobufParseResult pres = pg_query_parse_protobuf(text);
    PgQuery__ParseResult *tree = NULL;
    const char *bad = NULL;
    char state[6] = "0A000";
    if (pres.error) {
        sqlf_pg_error(c, "ERROR", "42601", "%s at character %d", pres.error->message,
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
    bad = s_copy_options(c, cs, state);
    if (bad)
        goto out;
    c->copy.simple = simple;
    s_copy_request(self, c, cs);
out:
    if (bad)
        sqlf_pg_error(c, "ERROR", state, "%s", bad);
    if (bad || pres.error) {
        if (simple)
            sqlf_pg_ready(c);
        else
            sqlf_pg_ext_error(c);
    }
    if (tree)
        pg_query__parse_result__free_unpacked(tree, NULL);
    pg_query_free_protobuf_parse_result(pres);
}

/* ------------------------------------------------------------------ */
/* COPY TO STDOUT                                                       */
/* ------------------------------------------------------------------ */

static void
s_copy_out_group(sqlf_pg_conn_t *c, const sqlf_pg_group_t *g, void *arg)
{
    (void)arg;
    size_t at = sqlf_pg_begin(&c->out, 'H');
    sqlf_pg_put8(&c->out, 0);
    sqlf_pg_put16(&c->out, (uint16_t)g->ncols);
    for (uint32_t i = 0; i < g->ncols; i++)
        sqlf_pg_put16(&c->out, 0);
    sqlf_pg_end(&c->out, at);
    sqlf_pg_buf_t cell = {0};
    for (uint32_t r = 0; r < g->nrows; r++) {
        at = sqlf_pg_begin(&c->out, 'd');
        for (uint32_t i = 0; i < g->ncols; i++) {
            if (i)
                sqlf_pg_put8(&c->out, (uint8_t)c->copy.delim);
            const hb_val_t *v = &g->cells[(size_t)r * g->ncols + i];
            if (v->type == HB_VAL_NIL) {
                sqlf_pg_put(&c->out, c->copy.null, strlen(c->copy.null));
                continue;
            }
            cell.len = 0;
            sqlf_pg_cell_text(&cell, v, sqlf_pg_oid(&g->cols[2 * i + 1]), false);
            for (size_t k = 0; k < cell.len; k++) {
                uint8_t ch = cell.p[k];
                const char *e = ch == '\\'   ? "\\\\"
                                : ch == '\t' ? "\\t"
                                : ch == '\n' ? "\\n"
                                : ch == '\r' ? "\\r"
                                             : NULL;
                if (e) {
                    sqlf_pg_put(&c->out, e, 2);
                } else {
                    if (ch == (uint8_t)c->copy.delim)
                        sqlf_pg_put8(&c->out, '\\');
                    sqlf_pg_put8(&c->out, ch);
                }
            }
        }
        sqlf_pg_put8(&c->out, '\n');
        sqlf_pg_end(&c->out, at);
    }
    hb_free(cell.p);
    sqlf_pg_simple_msg(c, 'c');
    char tag[32];
    snprintf(tag, sizeof tag, "COPY %u", g->nrows);
    hb_val_t t = hb_val_str(tag, (uint32_t)strlen(tag));
    sqlf_pg_complete(c, &t);
}

/* ------------------------------------------------------------------ */
/* COPY FROM STDIN                                                      */
/* ------------------------------------------------------------------ */

/* Sends the batch as one multi-row INSERT on a free side session. */
static bool
s_copy_send(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    if (c->copy.batch_rows == 0)
        return false;
    uint32_t sub = 1;
    while (sub <= SQLF_PG_SUBS && c->copy.sub_busy[sub])
        sub++;
    if (sub > SQLF_PG_SUBS)
        return false; /* the caller waits for one */
    sqlf_pg_buf_t t = {0};
    sqlf_pg_put(&t, c->copy.prefix, strlen(c->copy.prefix));
    uint32_t k = 1;
    for (uint32_t r = 0; r < c->copy.batch_rows; r++) {
        sqlf_pg_put(&t, r ? ",(" : "(", r ? 2 : 1);
        for (uint32_t i = 0; i < c->copy.ncols; i++) {
            char ref[16];
            int n = snprintf(ref, sizeof ref, i ? ",$%u" : "$%u", k++);
            sqlf_pg_put(&t, ref, (size_t)n);
        }
        sqlf_pg_put8(&t, ')');
    }
    uint32_t nargs = c->copy.nfields + 1;
    hb_val_t *args = hb_malloc(nargs * sizeof *args);
    args[0] = hb_val_str(t.p, (uint32_t)t.len);
    for (uint32_t i = 0; i < c->copy.nfields; i++)
        args[i + 1] = c->copy.fields[i].len == UINT32_MAX
                          ? hb_val_nil()
                          : hb_val_str(c->copy.cells.p + c->copy.fields[i].off,
                                       c->copy.fields[i].len);
    uint64_t id = sqlf_pg_submit(self, c, sub, "sql", args, nargs);
    hb_free(args);
    hb_free(t.p);
    if (!id) {
        s_copy_fail(c, "54000", "a COPY chunk does not fit in one request");
    } else {
        c->copy.sub_busy[sub] = true;
        c->copy.sub_used[sub] = true;
        c->copy.sub_req[sub] = id;
        c->copy.inflight++;
        c->copy.rows += c->copy.batch_rows;
    }
    c->copy.batch_rows = 0;
    c->copy.nfields = 0;
    c->copy.cells.len = c->copy.cells.off = 0;
    return id != 0;
}

bool
sqlf_pg_copy_full(const sqlf_pg_conn_t *c)
{
    return c->copy.batch_rows >= c->copy.rows_per;
}

/* De-escapes the n bytes of a COPY text field at f into o (which has room
 * for n); returns how many it wrote. */
static size_t
s_unescape(const uint8_t *f, size_t n, uint8_t *o)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = f[i];
        if (ch != '\\' || i + 1 == n) {
            o[k++] = ch;
            continue;
        }
        ch = f[++i];
        switch (ch) {
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'v':
            o[k++] = '\v';
            break;
        case 'x': {
            int v = 0, d = 0;
            while (d < 2 && i + 1 < n && strchr("0123456789abcdefABCDEF", f[i + 1]) &&
                   f[i + 1]) {
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
    return k;
}

static void
s_copy_field(sqlf_pg_conn_t *c, const uint8_t *f, size_t n)
{
    HB_GROW(c->copy.fields, c->copy.capfields, c->copy.nfields + 1, 256);
    size_t nl = strlen(c->copy.null);
    if (n == nl && memcmp(f, c->copy.null, nl) == 0) {
        c->copy.fields[c->copy.nfields++] = (sqlf_pg_field_t){0, UINT32_MAX};
        return;
    }
    /* De-escape into the batch's bytes. */
    sqlf_pg_reserve(&c->copy.cells, n);
    size_t k = s_unescape(f, n, c->copy.cells.p + c->copy.cells.len);
    c->copy.fields[c->copy.nfields++] =
        (sqlf_pg_field_t){(uint32_t)c->copy.cells.len, (uint32_t)k};
    c->copy.cells.len += k;
}

/* One complete line of COPY text (without its newline). */
static void
s_copy_row(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *line, size_t n)
{
    if (n > 0 && line[n - 1] == '\r')
        n--;
    if (n == 2 && line[0] == '\\' && line[1] == '.') {
        c->copy.eod = true;
        return;
    }
    if (n > self->lim.max_value_bytes) {
        s_copy_fail(c, "54000",
                    "a COPY line (row %llu) is longer than limits/max_value_bytes",
                    (unsigned long long)(c->copy.rows + c->copy.batch_rows + 1));
        return;
    }
    uint32_t before = c->copy.nfields;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] == '\\') {
            i++; /* an escaped byte, the delimiter included */
            continue;
        }
        if (i == n || line[i] == (uint8_t)c->copy.delim) {
            if (c->copy.nfields - before == c->copy.ncols) {
                s_copy_fail(c, "22P04",
                            "extra data after last expected column (row %llu)",
                            (unsigned long long)(c->copy.rows + c->copy.batch_rows + 1));
                c->copy.nfields = before;
                return;
            }
            s_copy_field(c, line + start, i - start);
            start = i + 1;
        }
    }
    if (c->copy.nfields - before != c->copy.ncols) {
        s_copy_fail(c, "22P04", "missing data for column %u (row %llu)",
                    c->copy.nfields - before + 1,
                    (unsigned long long)(c->copy.rows + c->copy.batch_rows + 1));
        c->copy.nfields = before;
        return;
    }
    c->copy.batch_rows++;
}

/* Takes complete lines (and at CopyDone the last one) while the batch has
 * room. */
static void
s_copy_drain(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    sqlf_pg_buf_t *l = &c->copy.line;
    while (!c->copy.failed && !c->copy.eod && !sqlf_pg_copy_full(c)) {
        const uint8_t *nl = memchr(l->p + l->off, '\n', l->len - l->off);
        if (!nl) {
            if (c->copy.end && l->len > l->off) { /* the last line has no newline */
                s_copy_row(self, c, l->p + l->off, l->len - l->off);
                l->off = l->len;
            }
            break;
        }
        size_t n = (size_t)(nl - (l->p + l->off));
        s_copy_row(self, c, l->p + l->off, n);
        l->off += n + 1;
    }
    if (c->copy.failed || c->copy.eod)
        l->off = l->len; /* the rest is ignored */
    memmove(l->p, l->p + l->off, l->len - l->off);
    l->len -= l->off;
    l->off = 0;
}

static void
s_copy_tag(sqlf_pg_conn_t *c, uint64_t rows)
{
    char tag[40];
    snprintf(tag, sizeof tag, "COPY %llu", (unsigned long long)rows);
    hb_val_t t = hb_val_str(tag, (uint32_t)strlen(tag));
    sqlf_pg_complete(c, &t);
}

/* COPY FROM is over once CopyDone came, every row was sent and every chunk
 * answered. */
static void
s_copy_maybe_finish(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    if (!c->copy.end || c->copy.inflight ||
        (!c->copy.failed && (c->copy.batch_rows || c->copy.line.len)))
        return;
    for (uint32_t sub = 1; sub <= SQLF_PG_SUBS; sub++) /* the side sessions are done */
        if (c->copy.sub_used[sub]) {
            sqlf_pg_close_session(self, c->id, sub);
            c->copy.sub_used[sub] = false;
        }
    if (c->copy.failed) {
        sqlf_pg_error(c, "ERROR", c->copy.state, "%s", c->copy.msg);
        sqlf_pg_engine_failed(c);
        if (!c->copy.simple)
            sqlf_pg_ext_error(c);
        c->copy.max_epoch = 0;
    } else if (c->copy.max_epoch) {
        /* The chunks committed through other sessions: the connection's
         * own reads must see them too (read your writes). */
        char set[64];
        int n = snprintf(set, sizeof set, "SET hobbes.read_after = %llu",
                         (unsigned long long)c->copy.max_epoch);
        c->copy.done_rows = c->copy.rows;
        bool simple = c->copy.simple;
        sqlf_pg_copy_reset(c);
        c->copy.simple = simple;
        if (sqlf_pg_request(self, c, "sql", set, (size_t)n, NULL, 0, SQLF_PG_K_COPY_FIN))
            return;
        s_copy_tag(c, c->copy.done_rows);
        if (simple)
            sqlf_pg_ready(c);
        return;
    } else {
        s_copy_tag(c, c->copy.rows);
    }
    bool simple = c->copy.simple;
    sqlf_pg_copy_reset(c);
    if (simple)
        sqlf_pg_ready(c);
}

/* Moves rows from the line buffer into batches and batches to free side
 * sessions, as far as they go. */
static void
s_copy_pump(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    for (;;) {
        s_copy_drain(self, c);
        if (c->copy.failed) {
            c->copy.batch_rows = c->copy.nfields = 0;
            c->copy.cells.len = 0;
            break;
        }
        bool last = c->copy.end && c->copy.line.len == 0 && c->copy.batch_rows > 0;
        if (!(sqlf_pg_copy_full(c) || last) || !s_copy_send(self, c))
            break;
    }
    s_copy_maybe_finish(self, c);
}

static void
s_copy_data(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len)
{
    if (c->copy.failed || c->copy.eod)
        return;
    if (c->copy.line.len + len > (size_t)self->lim.max_value_bytes + 2) {
        /* No row can be longer than one value: do not buffer past it. */
        s_copy_fail(c, "54000", "a COPY line is longer than limits/max_value_bytes (%u)",
                    self->lim.max_value_bytes);
        c->copy.line.len = 0;
        s_copy_pump(self, c);
        return;
    }
    sqlf_pg_put(&c->copy.line, p, len);
    s_copy_pump(self, c);
}

static void
s_copy_done(sqlf_pg_t *self, sqlf_pg_conn_t *c)
{
    c->copy.end = true;
    c->copy.in = false;
    s_copy_pump(self, c);
}

void
sqlf_pg_copy_msg(sqlf_pg_t *self, sqlf_pg_conn_t *c, char type, const uint8_t *body,
                 uint32_t len)
{
    switch (type) {
    case 'd':
        s_copy_data(self, c, body, len);
        return;
    case 'c':
        s_copy_done(self, c);
        return;
    case 'f':
        s_copy_fail(c, "57014", "COPY from stdin failed: %.*s", (int)(len ? len - 1 : 0),
                    (const char *)body);
        s_copy_done(self, c);
        return;
    case 'H':
    case 'S':
        return; /* allowed and ignored during COPY */
    default:
        s_copy_fail(c, "08P01", "unexpected message type '%c' during COPY from stdin",
                    type >= 32 && type < 127 ? type : '?');
        s_copy_done(self, c);
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Engine answers                                                       */
/* ------------------------------------------------------------------ */

void
sqlf_pg_copy_on_chunk(sqlf_pg_t *self, sqlf_pg_conn_t *c, uint32_t sub, const hb_msg_t *m)
{
    if (sub > SQLF_PG_SUBS || !c->copy.sub_busy[sub] ||
        c->copy.sub_req[sub] != m->u.result.req_id)
        return;
    c->copy.sub_busy[sub] = false;
    c->copy.inflight--;
    if (m->u.result.rc) {
        /* The message, cut as the COPY's own failure message is; a
         * SQLSTATE counts only with some text after it. */
        char msg[300];
        snprintf(msg, sizeof msg, "%.*s", (int)m->u.result.msg_len, m->u.result.msg);
        char state[6];
        const char *text;
        size_t tl;
        if (!hb_sqlstate_split(msg, strlen(msg), state, &text, &tl) || tl == 0)
            s_copy_fail(c, "XX000", "%s", msg);
        else
            s_copy_fail(c, state, "%s", text);
    }
    if (m->u.result.epoch > c->copy.max_epoch)
        c->copy.max_epoch = m->u.result.epoch;
    s_copy_pump(self, c);
}

/* The table's columns came: CopyInResponse, and the rows may come. */
static void
s_on_cols(sqlf_pg_t *self, sqlf_pg_conn_t *c, const hb_msg_t *m, bool failed)
{
    const hb_val_t *v = m->u.result.vals;
    if (failed || m->u.result.nvals < 2 || v[1].type != HB_VAL_INT || v[1].u.i < 1 ||
        v[1].u.i > 4096) {
        if (failed) {
            sqlf_pg_engine_failed(c);
            sqlf_pg_engine_error(c, m->u.result.msg, m->u.result.msg_len);
        } else {
            sqlf_pg_error(c, "ERROR", "XX000", "malformed result from the engine");
        }
        if (c->copy.simple)
            sqlf_pg_ready(c);
        else
            sqlf_pg_ext_error(c);
        sqlf_pg_copy_reset(c);
        return;
    }
    c->copy.ncols = (uint32_t)v[1].u.i;
    uint32_t per = (self->lim.max_args - 1) / c->copy.ncols;
    c->copy.rows_per = per < S_COPY_ROWS ? per : S_COPY_ROWS;
    if (c->copy.rows_per == 0) {
        sqlf_pg_error(c, "ERROR", "54023",
                      "a row of %u columns does not fit in one request", c->copy.ncols);
        sqlf_pg_copy_reset(c);
        if (c->copy.simple)
            sqlf_pg_ready(c);
        return;
    }
    c->copy.in = true;
    size_t at = sqlf_pg_begin(&c->out, 'G');
    sqlf_pg_put8(&c->out, 0);
    sqlf_pg_put16(&c->out, (uint16_t)c->copy.ncols);
    for (uint32_t i = 0; i < c->copy.ncols; i++)
        sqlf_pg_put16(&c->out, 0);
    sqlf_pg_end(&c->out, at);
}

void
sqlf_pg_copy_on_result(sqlf_pg_t *self, sqlf_pg_conn_t *c, const hb_msg_t *m, bool failed)
{
    switch (c->cont) {
    case SQLF_PG_K_COPY_COLS:
        s_on_cols(self, c, m, failed);
        break;
    case SQLF_PG_K_COPY_FIN:
        s_copy_tag(c, c->copy.done_rows);
        c->copy.max_epoch = 0;
        if (c->copy.simple)
            sqlf_pg_ready(c);
        break;
    case SQLF_PG_K_COPY_OUT:
        if (failed) {
            sqlf_pg_engine_failed(c);
            sqlf_pg_engine_error(c, m->u.result.msg, m->u.result.msg_len);
        } else if (!sqlf_pg_groups(m, s_copy_out_group, c, NULL)) {
            sqlf_pg_error(c, "ERROR", "XX000", "malformed result from the engine");
        }
        if (c->copy.simple)
            sqlf_pg_ready(c);
        else if (failed)
            sqlf_pg_ext_error(c);
        break;
    default:
        break;
    }
}
