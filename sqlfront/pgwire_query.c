/* pgwire_query.c — the simple Query protocol and the engine's result groups.
 *
 * A Query message's text goes to the engine whole (proc "sql"), except
 * COPY (pgwire_copy.c), SHOW and psql's catalog queries
 * (pgwire_catalog.c), and anything but the end of a block the gateway
 * itself failed (25P02). The answer is a list of result groups (tag,
 * columns, rows), each sent as RowDescription, DataRows and
 * CommandComplete; the tags also drive the transaction status of
 * ReadyForQuery. The word-level classification of statements that the
 * extended protocol needs (does it read, can it return rows) lives here
 * with the simple query's own.
 *
 * Entry points: sqlf_pg_query, sqlf_pg_on_simple; sqlf_pg_groups and
 * sqlf_pg_emit_group for every file that sends a result.
 */
#include <string.h>
#include <strings.h>

#include "pgwire_int.h"

/* ------------------------------------------------------------------ */
/* Result groups                                                        */
/* ------------------------------------------------------------------ */

void
sqlf_pg_complete(sqlf_pg_conn_t *c, const hb_val_t *tag)
{
    size_t at = sqlf_pg_begin(&c->out, 'C');
    if (tag && tag->type == HB_VAL_STR)
        sqlf_pg_put(&c->out, tag->u.s.ptr, tag->u.s.len);
    sqlf_pg_put8(&c->out, 0);
    sqlf_pg_end(&c->out, at);
}

static bool
s_tag_is(const hb_val_t *tag, const char *s)
{
    size_t n = strlen(s);
    return tag->type == HB_VAL_STR && tag->u.s.len >= n &&
           memcmp(tag->u.s.ptr, s, n) == 0;
}

bool
sqlf_pg_groups(const hb_msg_t *m, sqlf_pg_group_fn *fn, sqlf_pg_conn_t *c, void *arg)
{
    const hb_val_t *v = m->u.result.vals;
    uint32_t n = m->u.result.nvals, i = 0;
    while (i < n) {
        sqlf_pg_group_t g;
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

void
sqlf_pg_track(sqlf_pg_conn_t *c, const hb_val_t *tag)
{
    if (s_tag_is(tag, "BEGIN"))
        c->txn = 'T';
    else if (s_tag_is(tag, "COMMIT") || s_tag_is(tag, "ROLLBACK"))
        c->txn = 'I';
}

void
sqlf_pg_engine_failed(sqlf_pg_conn_t *c)
{
    if (c->txn == 'T')
        c->txn = 'E';
}

void
sqlf_pg_emit_group(sqlf_pg_conn_t *c, const sqlf_pg_group_t *g, void *arg)
{
    (void)arg;
    if (g->ncols) {
        sqlf_pg_row_desc(c, g, NULL, 0);
        for (uint32_t r = 0; r < g->nrows; r++)
            sqlf_pg_data_row(c, g, r, NULL, 0);
    }
    sqlf_pg_track(c, g->tag);
    sqlf_pg_complete(c, g->tag);
}

/* ------------------------------------------------------------------ */
/* Statement words and the simple query                                 */
/* ------------------------------------------------------------------ */

const char *
sqlf_pg_skip_blank(const char *s)
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
bool
sqlf_pg_no_rows(const char *s)
{
    static const char *const kw[] = {
        "begin",  "start",   "commit", "end",    "rollback", "abort",
        "set",    "reset",   "create", "drop",   "alter",    "truncate",
        "vacuum", "analyze", "insert", "update", "delete"};
    bool any = false;
    for (size_t i = 0; i < sizeof kw / sizeof *kw && !any; i++)
        any = s_starts_word(s, kw[i]);
    return any && !strcasestr(s, "returning");
}

/* A block the gateway failed (local_abort) takes only its end: returns
 * true when s ends it (the caller sends ROLLBACK: COMMIT of a failed block
 * rolls back, as in PostgreSQL), else answers 25P02 and returns false. */
bool
sqlf_pg_end_failed_block(sqlf_pg_conn_t *c, const char *s)
{
    if (!s_ends_block(s)) {
        sqlf_pg_error(c, "ERROR", "25P02",
                      "current transaction is aborted, commands ignored until "
                      "end of transaction block");
        return false;
    }
    c->local_abort = false;
    return true;
}

/* Whether the statement only reads (a Describe of its portal may run it). */
bool
sqlf_pg_reads_only(const char *s)
{
    return s_starts_word(s, "select") || s_starts_word(s, "values") ||
           s_starts_word(s, "show") || s_starts_word(s, "table");
}

/* The text goes to the engine, but for COPY, SHOW, psql's catalog queries
 * and a block the gateway failed. */

void
sqlf_pg_query(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len)
{
    SQLF_PG_COUNT(self, c_queries);
    if (len == 0 || p[len - 1] != 0 || memchr(p, 0, len) != p + len - 1) {
        sqlf_pg_error(c, "ERROR", "08P01",
                      "invalid query message: the text is not one string");
        sqlf_pg_ready(c);
        return;
    }
    const char *text = (const char *)p;
    const char *s = sqlf_pg_skip_blank(text);
    if (!*s) {
        sqlf_pg_simple_msg(c, 'I');
        sqlf_pg_ready(c);
        return;
    }
    if (c->local_abort) {
        if (!sqlf_pg_end_failed_block(c, s) ||
            !sqlf_pg_request(self, c, "sql", "ROLLBACK", 8, NULL, 0, SQLF_PG_K_SIMPLE))
            sqlf_pg_ready(c);
        return;
    }
    if (s_starts_word(s, "copy")) {
        sqlf_pg_copy_start(self, c, text, true);
        return;
    }
    if (s_starts_word(s, "show") && !strchr(s, ';')) {
        sqlf_pg_show(self, c, text);
        sqlf_pg_ready(c);
        return;
    }
    if (strstr(text, "pg_catalog.") && sqlf_pg_psql_catalog(self, c, text)) {
        sqlf_pg_ready(c);
        return;
    }
    if (!sqlf_pg_request(self, c, "sql", text, len - 1, NULL, 0, SQLF_PG_K_SIMPLE))
        sqlf_pg_ready(c);
}

void
sqlf_pg_on_simple(sqlf_pg_conn_t *c, const hb_msg_t *m, bool failed)
{
    if (!sqlf_pg_groups(m, sqlf_pg_emit_group, c, NULL))
        sqlf_pg_error(c, "ERROR", "XX000", "malformed result from the engine");
    if (failed) {
        sqlf_pg_engine_failed(c);
        sqlf_pg_engine_error(c, m->u.result.msg, m->u.result.msg_len);
    }
    sqlf_pg_ready(c);
}
