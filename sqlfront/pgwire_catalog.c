/* pgwire_catalog.c — an emulation of the pg_catalog queries psql and
 * pgbench send, and of SHOW.
 *
 * This is not a catalog. Hobbes has no pg_catalog schema; its catalog is
 * the cluster's table list (catalog.h). But psql's \dt and \d TABLE, and
 * pgbench's start-up check of how pgbench_accounts is partitioned, send
 * fixed queries over pg_class, pg_attribute, pg_index and friends, and a
 * PostgreSQL tool is expected to work. So the gateway recognises those
 * query texts by fragments (s_classify), reads the cluster's catalog
 * through a client of its own, and answers with rows of the shape the
 * tool expects: one row per table, column or index; the queries psql
 * sends for what Hobbes does not have (policies, statistics,
 * publications, inheritance, triggers, foreign keys) get no rows. Any
 * other pg_catalog query goes to the engine, which rejects it. SHOW
 * answers from the settings a client can read (ParameterStatus's).
 *
 * The answer is built in the engine's result-group layout (s_res_t) and
 * sent by the same code as an engine answer.
 *
 * Entry points: sqlf_pg_psql_catalog, sqlf_pg_show.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_expr.h"
#include "pgwire_int.h"

/* ------------------------------------------------------------------ */
/* Results built here                                                   */
/* ------------------------------------------------------------------ */

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
    HB_GROW(r->v, r->cap, r->n + 1, 64);
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
    HB_GROW(r->strs, r->capstrs, r->nstrs + 1, 32);
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

/* Sends r's groups as an engine answer's; returns false when they are
 * not groups. */
static bool
s_res_send(sqlf_pg_conn_t *c, const s_res_t *r)
{
    hb_msg_t m = {.type = HB_MSG_RESULT};
    m.u.result.vals = r->v;
    m.u.result.nvals = r->n;
    return sqlf_pg_groups(&m, sqlf_pg_emit_group, c, NULL);
}

static void
s_res_free(s_res_t *r)
{
    for (uint32_t i = 0; i < r->nstrs; i++)
        hb_free(r->strs[i]);
    hb_free(r->strs);
    hb_free(r->v);
}

/* ------------------------------------------------------------------ */
/* psql's and pgbench's catalog queries                                 */
/* ------------------------------------------------------------------ */

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

/* Copies the pattern of "c.relname OPERATOR(pg_catalog.~) '^(...)$'" to
 * out; returns false when the text has none (or it does not fit). */
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

/* Which of the known queries a text is. */
enum { S_Q_NONE, S_Q_LIST, S_Q_FIND, S_Q_PART, S_Q_REL, S_Q_ATT, S_Q_IDX, S_Q_EMPTY };

static int
s_classify(const char *text)
{
    bool pg_class = strstr(text, "FROM pg_catalog.pg_class c");
    if (strstr(text, "pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"") && pg_class)
        return S_Q_LIST; /* \dt */
    if (strstr(text, "SELECT c.oid,") && strstr(text, "c.relname") && pg_class)
        return S_Q_FIND; /* \d TABLE: the table's oid */
    /* pgbench's start-up check of how pgbench_accounts is partitioned */
    if (strstr(text, "select o.n, p.partstrat, pg_catalog.count(i.inhparent)") &&
        strstr(text, "where c.relname = '"))
        return S_Q_PART;
    if (strstr(text, "SELECT c.relchecks, c.relkind, c.relhasindex"))
        return S_Q_REL; /* \d TABLE: the relation */
    if (strstr(text, "SELECT a.attname,") &&
        strstr(text, "pg_catalog.format_type(a.atttypid, a.atttypmod)"))
        return S_Q_ATT; /* \d TABLE: the columns */
    if (strstr(text, "SELECT c2.relname, i.indisprimary, i.indisunique"))
        return S_Q_IDX; /* \d TABLE: the indexes */
    if (strstr(text, "FROM pg_catalog.pg_policy pol") ||
        strstr(text, "FROM pg_catalog.pg_statistic_ext") ||
        strstr(text, "SELECT pubname") ||
        strstr(text, "FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i") ||
        strstr(text, "FROM pg_catalog.pg_trigger") ||
        strstr(text, "FROM pg_catalog.pg_constraint r"))
        return S_Q_EMPTY; /* \d TABLE: what Hobbes does not have */
    return S_Q_NONE;
}

/* \dt (list) and \d TABLE's lookup (!list): the tables that match the
 * text's pattern. Returns the number of columns. */
static uint32_t
s_cat_tables(s_res_t *r, const sqlf_catalog_t *cat, const char *text, const char *user,
             bool list)
{
    static const char *const lc[] = {"Schema:name", "Name:name", "Type:text",
                                     "Owner:name"};
    static const char *const fc[] = {"oid:oid", "nspname:name", "relname:name"};
    uint32_t nc = list ? 4 : 3;
    char pat[128] = "";
    bool has_pat = s_relname_pattern(text, pat, sizeof pat);
    s_res_group(r, list ? lc : fc, nc);
    for (uint32_t i = 0; i < sqlf_catalog_size(cat); i++) {
        const sqlf_table_t *t = sqlf_catalog_at(cat, i);
        if (!t || (has_pat && !s_pattern_match(pat, t->name)))
            continue;
        if (list) {
            s_res_str(r, "public");
            s_res_str(r, t->name);
            s_res_str(r, "table");
            s_res_str(r, user);
        } else {
            char oid[24];
            snprintf(oid, sizeof oid, "%u", 16384 + t->id);
            s_res_str(r, oid);
            s_res_str(r, "public");
            s_res_str(r, t->name);
        }
    }
    return nc;
}

/* pgbench's partition check: a table that exists is not partitioned. */
static uint32_t
s_cat_part(s_res_t *r, const sqlf_catalog_t *cat, const char *text)
{
    static const char *const cols[] = {"n:integer", "partstrat:char", "count:bigint"};
    s_res_group(r, cols, 3);
    const char *q = strstr(text, "where c.relname = '") + strlen("where c.relname = '");
    char name[SQLF_NAME_MAX];
    size_t n = strcspn(q, "'");
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), q);
    if (sqlf_catalog_find(cat, name)) {
        s_res_str(r, "1");
        s_res_str(r, NULL);
        s_res_str(r, "0");
    }
    return 3;
}

/* \d TABLE's relation row: a plain heap table. */
static uint32_t
s_cat_rel(s_res_t *r, const sqlf_catalog_t *cat, const char *text)
{
    static const char *const cols[] = {"relchecks:smallint",
                                       "relkind:char",
                                       "relhasindex:boolean",
                                       "relhasrules:boolean",
                                       "relhastriggers:boolean",
                                       "relrowsecurity:boolean",
                                       "relforcerowsecurity:boolean",
                                       "relhasoids:boolean",
                                       "relispartition:boolean",
                                       "?column?:text",
                                       "reltablespace:oid",
                                       "reloftype:text",
                                       "relpersistence:char",
                                       "relreplident:char",
                                       "amname:name"};
    s_res_group(r, cols, 15);
    const sqlf_table_t *t = s_table_by_oid(cat, text, "WHERE c.oid = '");
    if (t) {
        const char *v[] = {"0", "r", t->rowid && !t->nidx ? "f" : "t",
                           "f", "f", "f",
                           "f", "f", "f",
                           "",  "0", "",
                           "p", "d", "heap"};
        for (int i = 0; i < 15; i++)
            s_res_str(r, v[i]);
    }
    return 15;
}

/* \d TABLE's columns. */
static uint32_t
s_cat_att(s_res_t *r, const sqlf_catalog_t *cat, const char *text)
{
    static const char *const cols[] = {
        "attname:name",      "format_type:text", "pg_get_expr:text", "attnotnull:boolean",
        "attcollation:name", "attidentity:char", "attgenerated:char"};
    s_res_group(r, cols, 7);
    const sqlf_table_t *t = s_table_by_oid(cat, text, "WHERE a.attrelid = '");
    for (uint32_t i = 0; t && i < sqlf_table_nvis(t); i++) {
        char ty[64];
        s_format_type(&t->cols[i], ty, sizeof ty);
        s_res_str(r, t->cols[i].name);
        s_res_str(r, ty);
        s_res_str(r, t->cols[i].def ? "(expression)" : NULL);
        s_res_str(r, t->cols[i].not_null ? "t" : "f");
        s_res_str(r, NULL);
        s_res_str(r, "");
        s_res_str(r, "");
    }
    return 7;
}

/* One row of \d TABLE's indexes: k == 0 the primary key, else index k-1. */
static void
s_cat_index_row(s_res_t *r, const sqlf_table_t *t, uint32_t k)
{
    const uint32_t *kc;
    uint32_t nk;
    char name[160];
    if (k == 0) {
        kc = t->pk;
        nk = t->npk;
        snprintf(name, sizeof name, "%s_pkey", t->name);
    } else {
        kc = t->idx[k - 1].cols;
        nk = t->idx[k - 1].ncols;
        snprintf(name, sizeof name, "%s", t->idx[k - 1].name);
    }
    char list[512] = "";
    for (uint32_t j = 0; j < nk; j++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", j ? ", " : "", t->cols[kc[j]].name);
    }
    char def[800], con[600];
    snprintf(def, sizeof def, "CREATE %sINDEX %s ON public.%s USING btree (%s)",
             k == 0 ? "UNIQUE " : "", name, t->name, list);
    snprintf(con, sizeof con, "PRIMARY KEY (%s)", list);
    s_res_str(r, name);
    s_res_str(r, k == 0 ? "t" : "f");
    s_res_str(r, k == 0 ? "t" : "f");
    s_res_str(r, "f");
    s_res_str(r, k == 0 || t->idx[k - 1].ready ? "t" : "f");
    s_res_str(r, def);
    s_res_str(r, k == 0 ? con : NULL);
    s_res_str(r, k == 0 ? "p" : NULL);
    s_res_str(r, "f");
    s_res_str(r, "f");
    s_res_str(r, "f");
    s_res_str(r, "0");
}

/* \d TABLE's indexes: the primary key (a table keyed by a hidden row id
 * has none) and the secondary indexes. */
static uint32_t
s_cat_idx(s_res_t *r, const sqlf_catalog_t *cat, const char *text)
{
    static const char *const cols[] = {"relname:name",
                                       "indisprimary:boolean",
                                       "indisunique:boolean",
                                       "indisclustered:boolean",
                                       "indisvalid:boolean",
                                       "pg_get_indexdef:text",
                                       "pg_get_constraintdef:text",
                                       "contype:char",
                                       "condeferrable:boolean",
                                       "condeferred:boolean",
                                       "indisreplident:boolean",
                                       "reltablespace:oid"};
    s_res_group(r, cols, 12);
    const sqlf_table_t *t = s_table_by_oid(cat, text, "WHERE c.oid = '");
    for (uint32_t k = 0; t && k <= t->nidx; k++)
        if (k > 0 || !t->rowid)
            s_cat_index_row(r, t, k);
    return 12;
}

/* Reads the cluster's catalog (the client is made on first use); returns
 * false when it cannot. */
static bool
s_load_catalog(sqlf_pg_t *self)
{
    char err[256];
    if (!self->cli) {
        self->cli = hb_client_new_cfg(self->cluster, self->cfg.replica, err, sizeof err);
        self->cat = sqlf_catalog_new();
    }
    return self->cli && sqlf_catalog_load(self->cat, self->cli, 2000, 0) == HB_OK;
}

bool
sqlf_pg_psql_catalog(sqlf_pg_t *self, sqlf_pg_conn_t *c, const char *text)
{
    int q = s_classify(text);
    if (q == S_Q_NONE)
        return false;
    if (!s_load_catalog(self)) {
        sqlf_pg_error(c, "ERROR", "58000", "cannot read the catalog");
        return true;
    }
    const sqlf_catalog_t *cat = self->cat;
    s_res_t r = {0};
    uint32_t nc;
    switch (q) {
    case S_Q_LIST:
    case S_Q_FIND:
        nc = s_cat_tables(&r, cat, text, c->user, q == S_Q_LIST);
        break;
    case S_Q_PART:
        nc = s_cat_part(&r, cat, text);
        break;
    case S_Q_REL:
        nc = s_cat_rel(&r, cat, text);
        break;
    case S_Q_ATT:
        nc = s_cat_att(&r, cat, text);
        break;
    case S_Q_IDX:
        nc = s_cat_idx(&r, cat, text);
        break;
    default: { /* S_Q_EMPTY */
        static const char *const cols[] = {"?column?:text"};
        nc = 1;
        s_res_group(&r, cols, nc);
        break;
    }
    }
    s_res_end(&r, nc);
    if (!s_res_send(c, &r))
        sqlf_pg_error(c, "ERROR", "XX000", "malformed catalog answer");
    s_res_free(&r);
    return true;
}

/* ------------------------------------------------------------------ */
/* SHOW                                                                 */
/* ------------------------------------------------------------------ */

/* SHOW name: the settings a client can read (those of ParameterStatus,
 * and the isolation level, which is always serializable). */
void
sqlf_pg_show(sqlf_pg_t *self, sqlf_pg_conn_t *c, const char *text)
{
    char name[SQLF_PG_NAME_MAX] = "";
    const char *p = sqlf_pg_skip_blank(text) + 4;
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
        {"server_version", "15.0"},
        {"server_encoding", "UTF8"},
        {"client_encoding", "UTF8"},
        {"datestyle", "ISO, MDY"},
        {"integer_datetimes", "on"},
        {"standard_conforming_strings", "on"},
        {"timezone", "UTC"},
        {"intervalstyle", "postgres"},
        {"application_name", c->app},
        {"is_superuser", "on"},
        {"session_authorization", c->user},
        {"default_transaction_read_only", "off"},
        {"transaction_read_only", "off"},
        {"in_hot_standby", "off"},
        {"transaction_isolation", "serializable"},
        {"default_transaction_isolation", "serializable"},
        {"max_connections", maxc},
        {"search_path", "public"},
        {"server_version_num", "150000"},
        {"lc_messages", "C"},
    };
    for (size_t i = 0; i < sizeof set / sizeof *set; i++) {
        if (strcmp(set[i].k, name) != 0)
            continue;
        s_res_t r = {0};
        char col[SQLF_PG_NAME_MAX + 8];
        snprintf(col, sizeof col, "%s:text", set[i].k);
        const char *cols[] = {col};
        s_res_group(&r, cols, 1);
        s_res_str(&r, set[i].v);
        s_res_end(&r, 1);
        /* The tag of SHOW is "SHOW". */
        r.v[0] = hb_val_str("SHOW", 4);
        (void)s_res_send(c, &r);
        s_res_free(&r);
        return;
    }
    sqlf_pg_error(c, "ERROR", "42704", "unrecognized configuration parameter \"%s\"",
                  name);
}
