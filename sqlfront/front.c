/* front.c — the SQL gateway's engine: requests, sessions and entry points.
 *
 * The engine's public face (front.h): sqlf_front_new/destroy, on_submit
 * (a request in: sql, sql.describe, sql.close), poll (transaction results
 * and time-outs), pending and stats. Around it, what every other file of
 * the engine uses: the session table, the request's life (parked on the
 * pending list while its transaction runs, answered with one RESULT built
 * from its reply values), the catalog reloads and the parse cache.
 *
 * What a request does with its statements is stmt.c's (the statement
 * loop); front_int.h maps the rest.
 */
#include "front.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "front_int.h"
#include "hb_alloc.h"
#include "hb_arena.h"
#include "hb_log.h"
#include "plan.h"

#define S_MAX_SESSIONS   4096
#define S_TXN_TIMEOUT_MS 15000
#define S_PARSE_CACHE    512 /* parsed texts kept */

/* ------------------------------------------------------------------ */
/* Helpers and the catalog                                              */
/* ------------------------------------------------------------------ */

/* Copies v's bytes into the arena so it outlives a scan frame. */
hb_val_t
sqlf_keep(hb_arena_t **arena, hb_val_t v)
{
    if ((v.type == HB_VAL_STR || v.type == HB_VAL_BIN) && v.u.s.len) {
        uint8_t *p = hb_arena_alloc(arena, v.u.s.len);
        memcpy(p, v.u.s.ptr, v.u.s.len);
        v.u.s.ptr = p;
    }
    return v;
}

hb_rc_t
sqlf_reload_rc(sqlf_front_t *self, uint64_t at)
{
    uint64_t e = atomic_load(&self->shared->catalog_epoch);
    if (at > e) {
        /* Publish it: other engines must not read an older catalog. */
        while (at > e &&
               !atomic_compare_exchange_weak(&self->shared->catalog_epoch, &e, at))
            ;
        e = at;
    }
    return sqlf_catalog_load(self->cat, self->cli, 5000, e);
}

void
sqlf_reload(sqlf_front_t *self, uint64_t at)
{
    (void)sqlf_reload_rc(self, at);
}

void
sqlf_ddl_committed(sqlf_front_t *self, uint64_t epoch)
{
    self->cat_reloads++;
    atomic_fetch_add(&self->shared->catalog_gen, 1);
    self->catalog_gen = atomic_load(&self->shared->catalog_gen);
    sqlf_reload(self, epoch);
}

/* Reloads the catalog when another engine of the process committed DDL
 * since this one loaded it. */
static void
s_catalog_catch_up(sqlf_front_t *self)
{
    uint64_t gen = atomic_load(&self->shared->catalog_gen);
    if (gen != self->catalog_gen) {
        self->catalog_gen = gen;
        self->cat_reloads++;
        sqlf_reload(self, 0);
    }
}

int64_t
sqlf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

/* Returns peer's session, made (or taken from the least recently used)
 * if need be; NULL when every slot is running or in a block. */
static sqlf_session_t *
s_session(sqlf_front_t *self, const uint8_t *peer, size_t peerlen)
{
    self->counter++;
    sqlf_session_t *freed = NULL; /* a slot sql.close emptied */
    for (uint32_t i = 0; i < self->nsessions; i++) {
        sqlf_session_t *s = &self->sessions[i];
        if (s->peerlen == peerlen && memcmp(s->peer, peer, peerlen) == 0) {
            s->last_use = self->counter;
            return s;
        }
        if (!freed && s->peerlen == 0 && !s->busy)
            freed = s;
    }
    sqlf_session_t *s;
    if (freed) {
        s = freed;
    } else if (self->nsessions < S_MAX_SESSIONS) {
        s = &self->sessions[self->nsessions++];
    } else {
        /* The least recently used session goes; never one that is running
         * or has a transaction block open (its COMMIT must find it). */
        s = NULL;
        for (uint32_t i = 0; i < self->nsessions; i++) {
            const sqlf_session_t *c = &self->sessions[i];
            bool open = c->blk && c->blk->in_block;
            if (!c->busy && !open && (!s || c->last_use < s->last_use))
                s = &self->sessions[i];
        }
        if (!s)
            return NULL;
        if (s->blk) {
            sqlf_blk_clear(s->blk);
            hb_free(s->blk);
        }
    }
    memset(s, 0, sizeof *s);
    memcpy(s->peer, peer, peerlen);
    s->peerlen = peerlen;
    s->last_use = self->counter;
    return s;
}

/* ------------------------------------------------------------------ */
/* Replies                                                              */
/* ------------------------------------------------------------------ */

void
sqlf_push(sqlf_req_t *r, hb_val_t v)
{
    HB_GROW(r->vals, r->capvals, r->nvals + 1, 64);
    r->vals[r->nvals++] = v;
}

void
sqlf_push_str(sqlf_req_t *r, const char *s)
{
    size_t n = strlen(s);
    char *p = hb_arena_alloc(&r->arena, n ? n : 1);
    memcpy(p, s, n);
    sqlf_push(r, hb_val_str(p, (uint32_t)n));
}

/* Appends an output cell of plan type t: numerics, dates and timestamps
 * travel as their text (the client needs no decimal or date codec). */
void
sqlf_push_cell(sqlf_req_t *r, hb_val_t v, hb_type_t t)
{
    if (v.type == HB_VAL_DEC ||
        (v.type == HB_VAL_INT && (t == HB_T_DATE || t == HB_T_TIMESTAMP))) {
        char buf[64];
        size_t n = hb_val_format_as(&v, t, buf, sizeof buf);
        char *p = hb_arena_alloc(&r->arena, n ? n : 1);
        memcpy(p, buf, n);
        v = hb_val_str(p, (uint32_t)n);
    }
    sqlf_push(r, v);
}

/* Appends a result group with no columns. */
void
sqlf_group_tag(sqlf_req_t *r, const char *tag, uint64_t epoch)
{
    sqlf_push_str(r, tag);
    sqlf_push(r, hb_val_int(0));
    sqlf_push(r, hb_val_int(0));
    sqlf_push(r, hb_val_int((int64_t)epoch));
    if (epoch)
        r->epoch = epoch;
}

/* Keeps st (taken) as the statement r waits for. */
void
sqlf_cur_set(sqlf_req_t *r, sqlf_stmt_t *st)
{
    r->cur = hb_malloc(sizeof *r->cur);
    *r->cur = *st;
    r->cur_live = true;
}

void
sqlf_cur_drop(sqlf_req_t *r)
{
    sqlf_stmt_free(r->cur);
    hb_free(r->cur);
    r->cur = NULL;
    r->cur_live = false;
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */
/* ------------------------------------------------------------------ */

void
sqlf_job_end(sqlf_req_t *r)
{
    if (r->job) {
        r->job->ops->destroy(r->job);
        r->job = NULL;
    }
}

static void
s_req_free(sqlf_req_t *r)
{
    sqlf_job_end(r);
    if (r->cur_live)
        sqlf_cur_drop(r);
    if (r->sess)
        r->sess->busy = false;
    if (r->parsed)
        r->parsed->refs--;
    if (r->call.body_parsed)
        r->call.body_parsed->refs--;
    hb_arena_free(&r->arena);
    hb_free(r->vals);
    hb_free(r->frame);
    hb_free(r->sql);
    hb_free(r);
}

/* Sends the reply (rc/msg for a failure) and frees the request. A failure
 * inside the session's open block aborts it: a block a statement opened
 * (CALL, INSERT ... SELECT) is discarded, one BEGIN opened answers 25P02
 * until ROLLBACK, as in PostgreSQL. */
void
sqlf_finish(sqlf_front_t *self, sqlf_req_t *r, hb_rc_t rc, const char *msg)
{
    if (rc != HB_OK && r->b && r->b->in_block) {
        if (r->b->implicit)
            sqlf_block_reset(r);
        else
            r->b->block_failed = true;
    }
    hb_msg_t m = {.type = HB_MSG_RESULT};
    m.u.result.req_id = r->client_req;
    m.u.result.epoch = r->epoch;
    m.u.result.rc = (uint32_t)rc;
    m.u.result.msg = msg ? msg : "";
    m.u.result.msg_len = (uint32_t)strlen(m.u.result.msg);
    m.u.result.nvals = r->nvals;
    m.u.result.vals = r->vals;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (hb_msg_encode(&m, &sb) == HB_OK) {
        self->reply(self->reply_arg, r->peer, r->peerlen, sb.data, sb.size);
    } else {
        hb_error("could not encode a SQL result");
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc)
        self->errors++;
    s_req_free(r);
}

void
sqlf_fail(sqlf_front_t *self, sqlf_req_t *r, hb_rc_t rc, const char *sqlstate,
          const char *fmt, ...)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s ", sqlstate);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    sqlf_finish(self, r, rc, msg);
}

void
sqlf_fail_err(sqlf_front_t *self, sqlf_req_t *r, const hb_sqlerr_t *e)
{
    sqlf_fail(self, r, HB_INVALID, e->sqlstate[0] ? e->sqlstate : "XX000", "%s", e->msg);
}

/* Appends the group of a write statement from its ops' results. */
void
sqlf_write_group(sqlf_req_t *r, const sqlf_stmt_t *st, const hb_val_t *res, uint32_t nres,
                 uint64_t epoch, hb_sqlerr_t *err)
{
    int64_t affected = 0;
    uint32_t nret = 0;
    for (uint32_t i = 0; i < nres; i++) {
        if (res[i].type == HB_VAL_BIN) {
            affected++;
            nret++;
        } else if (res[i].type == HB_VAL_INT && res[i].u.i) {
            affected++;
        }
    }
    char tag[48];
    if (st->wkind == HB_SQLOP_INSERT)
        snprintf(tag, sizeof tag, "INSERT 0 %" PRId64, affected);
    else
        snprintf(tag, sizeof tag, "%s %" PRId64, st->tag, affected);
    sqlf_push_str(r, tag);
    if (!st->returning) {
        sqlf_push(r, hb_val_int(0));
        sqlf_push(r, hb_val_int(0));
    } else {
        sqlf_push(r, hb_val_int(st->nout));
        for (uint32_t c = 0; c < st->nout; c++) {
            sqlf_push_str(r, st->out_names[c]);
            hb_type_t t = st->out[c].type == HB_T_UNKNOWN ? HB_T_TEXT : st->out[c].type;
            sqlf_push_str(r, hb_type_name(t));
        }
        sqlf_push(r, hb_val_int(nret));
        hb_val_t row[HB_SQL_MAX_COLS];
        for (uint32_t i = 0; i < nres; i++) {
            if (res[i].type != HB_VAL_BIN)
                continue;
            uint32_t ncols = 0;
            hb_row_decode(res[i].u.s.ptr, res[i].u.s.len, row, HB_SQL_MAX_COLS, &ncols);
            hb_expr_env_t env = {.row = row,
                                 .ncols = ncols,
                                 .alloc = hb_arena_alloc,
                                 .alloc_arg = &r->arena,
                                 .err = err};
            for (uint32_t c = 0; c < st->nout; c++) {
                hb_val_t v;
                if (hb_expr_eval(st->out[c].p, st->out[c].len, &env, &v) != HB_OK)
                    v = hb_val_nil();
                sqlf_push_cell(r, sqlf_keep(&r->arena, v), st->out[c].type);
            }
        }
    }
    sqlf_push(r, hb_val_int((int64_t)epoch));
    if (epoch)
        r->epoch = epoch;
}

void
sqlf_park(sqlf_front_t *self, sqlf_req_t *r)
{
    r->deadline_ms = sqlf_now_ms() + S_TXN_TIMEOUT_MS;
    r->link = self->pending;
    self->pending = r;
    self->npending++;
    self->txns++;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                              */
/* ------------------------------------------------------------------ */

static uint64_t
s_text_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: a cache key, not a hash table seed */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

/* Counts operator characters and parentheses outside quotes and comments:
 * a cheap bound on how deep the parse tree can nest. libpg_query's tree
 * comes back as protobuf, and unpacking it recurses once per level: a
 * statement of thousands of chained operators would overflow the stack. */
static bool
s_too_complex(const char *t)
{
    uint32_t ops = 0;
    for (const char *p = t; *p; p++) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                ;
            if (!*p)
                break;
        } else if (*p == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
            if (!*p)
                break;
        } else if (*p == '$' && p[1] == '$') {
            const char *end = strstr(p + 2, "$$");
            if (!end)
                break;
            p = end + 1; /* a body is checked when it is parsed itself */
        } else if (strchr("+-*/%<>=|&^~!(", *p)) {
            ops++;
        }
    }
    return ops > 2000;
}

/* Returns the parse of text from the cache, parsing it on a miss; NULL
 * with err set (42601 and the position) when it does not parse. */
sqlf_parsed_t *
sqlf_parse(sqlf_front_t *self, const char *text, hb_sqlerr_t *err)
{
    uint64_t h = s_text_hash(text);
    self->counter++;
    sqlf_parsed_t *victim = NULL;
    for (uint32_t i = 0; i < S_PARSE_CACHE; i++) {
        sqlf_parsed_t *p = &self->parsed[i];
        if (p->text && p->hash == h && strcmp(p->text, text) == 0) {
            p->last_use = self->counter;
            self->parse_hits++;
            return p;
        }
        if (p->refs == 0 &&
            (!victim || !p->text || (victim->text && p->last_use < victim->last_use)))
            victim = p;
    }
    self->parses++;
    if (s_too_complex(text)) {
        hb_sqlerr_set(err, "54001",
                      "statement is too complex (more than 2000 operators)");
        return NULL;
    }
    PgQueryProtobufParseResult pres = pg_query_parse_protobuf(text);
    if (pres.error) {
        hb_sqlerr_set(err, "42601", "%s at character %d", pres.error->message,
                      pres.error->cursorpos);
        pg_query_free_protobuf_parse_result(pres);
        return NULL;
    }
    PgQuery__ParseResult *tree = pg_query__parse_result__unpack(
        NULL, pres.parse_tree.len, (const uint8_t *)pres.parse_tree.data);
    pg_query_free_protobuf_parse_result(pres);
    if (!tree) {
        hb_sqlerr_set(err, "XX000", "cannot unpack the parse tree");
        return NULL;
    }
    if (!victim) {
        /* Every entry is held by a request in flight. */
        hb_sqlerr_set(err, "53000", "too many different statements in flight");
        pg_query__parse_result__free_unpacked(tree, NULL);
        return NULL;
    }
    if (victim->text) {
        hb_free(victim->text);
        pg_query__parse_result__free_unpacked(victim->tree, NULL);
    }
    size_t len = strlen(text);
    victim->text = hb_malloc(len + 1);
    memcpy(victim->text, text, len + 1);
    victim->hash = h;
    victim->tree = tree;
    victim->refs = 0;
    victim->last_use = self->counter;
    return victim;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                         */
/* ------------------------------------------------------------------ */

sqlf_front_t *
sqlf_front_new(const hb_config_t *cfg, const sqlf_front_opts_t *opts)
{
    char err[512];
    hb_client_t *cli = hb_client_new_cfg(cfg, opts->replica, err, sizeof err);
    if (!cli) {
        hb_error("cannot connect to the cluster: %s", err);
        return NULL;
    }
    sqlf_front_t *self = hb_calloc(1, sizeof *self);
    self->shared = opts->shared;
    /* Generation 0: if the process's engines have committed DDL already,
     * the first request reloads the catalog at their newest DDL epoch
     * (the load below reads at whatever epoch partition 0 has). */
    self->catalog_gen = 0;
    self->cli = cli;
    self->cat = sqlf_catalog_new();
    self->nparts = hb_client_partitions(cli);
    self->reply = opts->reply;
    self->reply_arg = opts->reply_arg;
    self->sessions = hb_calloc(S_MAX_SESSIONS, sizeof *self->sessions);
    self->parsed = hb_calloc(S_PARSE_CACHE, sizeof *self->parsed);
    self->max_locks = cfg->limits.max_locks;
    self->max_value = cfg->limits.max_value_bytes;
    self->rowids.node =
        ((uint64_t)(opts->sqlfront_id & 0x7F) << 4 | (opts->engine & 0xF)) &
        SQLF_ROWID_NODE_MASK;
    /* The catalog may not be readable yet (storage starting): planning
     * reloads it when a table is missing. */
    if (sqlf_catalog_load(self->cat, cli, 2000, 0) != HB_OK)
        hb_warn("catalog not loaded yet; will retry on first use");
    return self;
}

void
sqlf_front_destroy(sqlf_front_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sqlf_front_t *self = *self_p;
    while (self->pending) {
        sqlf_req_t *r = self->pending;
        self->pending = r->link;
        s_req_free(r);
    }
    for (uint32_t i = 0; i < S_PARSE_CACHE; i++) {
        if (self->parsed[i].text) {
            hb_free(self->parsed[i].text);
            pg_query__parse_result__free_unpacked(self->parsed[i].tree, NULL);
        }
    }
    hb_free(self->parsed);
    for (uint32_t i = 0; i < self->nsessions; i++) {
        if (self->sessions[i].blk) {
            sqlf_blk_clear(self->sessions[i].blk);
            hb_free(self->sessions[i].blk);
        }
    }
    sqlf_catalog_destroy(&self->cat);
    hb_client_destroy(&self->cli);
    hb_free(self->sessions);
    hb_free(self);
    *self_p = NULL;
}

/* Sends a RESULT with rc, msg and vals to peer. */
static void
s_reply(sqlf_front_t *self, const uint8_t *peer, size_t peerlen, uint64_t req_id,
        hb_rc_t rc, const char *msg, const hb_val_t *vals, uint32_t nvals)
{
    hb_msg_t m = {.type = HB_MSG_RESULT};
    m.u.result.req_id = req_id;
    m.u.result.rc = (uint32_t)rc;
    m.u.result.msg = msg ? msg : "";
    m.u.result.msg_len = (uint32_t)strlen(m.u.result.msg);
    m.u.result.nvals = nvals;
    m.u.result.vals = (hb_val_t *)vals;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (hb_msg_encode(&m, &sb) == HB_OK)
        self->reply(self->reply_arg, peer, peerlen, sb.data, sb.size);
    else
        hb_error("could not encode a SQL result");
    msgpack_sbuffer_destroy(&sb);
    if (rc)
        self->errors++;
}

/* sql.describe [text]: plans the one statement of text without parameter
 * values and answers nparams, their types, ncols, (name, type) pairs. */
static void
s_describe(sqlf_front_t *self, const uint8_t *peer, size_t peerlen, const hb_msg_t *msg)
{
    const hb_val_t *a = msg->u.submit.args;
    uint64_t req_id = msg->u.submit.req_id;
    char emsg[600];
    if (msg->u.submit.nargs != 1 || a[0].type != HB_VAL_STR ||
        memchr(a[0].u.s.ptr, '\0', a[0].u.s.len)) {
        self->bad_requests++;
        s_reply(self, peer, peerlen, req_id, HB_INVALID,
                "08P01 sql.describe takes one argument: the statement's text", NULL, 0);
        return;
    }
    char *sql = hb_malloc(a[0].u.s.len + 1);
    memcpy(sql, a[0].u.s.ptr, a[0].u.s.len);
    sql[a[0].u.s.len] = '\0';
    hb_sqlerr_t err = {{0}, {0}};
    sqlf_describe_t *desc = hb_calloc(1, sizeof *desc);
    hb_arena_t *arena = NULL;
    hb_val_t *vals = NULL;
    uint32_t nvals = 0;
    hb_rc_t rc = HB_OK;
    sqlf_stmt_t st;
    bool planned = false;
    sqlf_parsed_t *pp = sqlf_parse(self, sql, &err);
    if (!pp) {
        rc = HB_INVALID;
    } else if (pp->tree->n_stmts > 1) {
        rc = hb_sqlerr_set(&err, "42601",
                           "cannot insert multiple commands into a prepared statement");
    } else if (pp->tree->n_stmts == 1) {
        const PgQuery__Node *node = pp->tree->stmts[0]->stmt;
        rc = sqlf_plan(self->cat, sql, node, NULL, 0, NULL, 0, NULL, desc, &st, &err);
        if (rc &&
            (strcmp(err.sqlstate, "42P01") == 0 || strcmp(err.sqlstate, "42883") == 0)) {
            self->cat_reloads++;
            if (sqlf_reload_rc(self, 0) == HB_OK)
                rc = sqlf_plan(self->cat, sql, node, NULL, 0, NULL, 0, NULL, desc, &st,
                               &err);
        }
        planned = rc == HB_OK;
    }
    if (rc == HB_OK) {
        bool cols = planned && (st.kind == SQLF_ST_SELECT ||
                                (st.kind == SQLF_ST_WRITE && st.returning));
        uint32_t ncols = cols ? st.nout : 0;
        vals = hb_calloc(2 + desc->nparams + 2 * ncols, sizeof *vals);
        vals[nvals++] = hb_val_int(desc->nparams);
        for (uint32_t i = 0; i < desc->nparams; i++) {
            const char *tn = hb_type_name(desc->ptypes[i]);
            vals[nvals++] = hb_val_str(tn, (uint32_t)strlen(tn));
        }
        vals[nvals++] = hb_val_int(ncols);
        for (uint32_t c = 0; c < ncols; c++) {
            size_t n = strlen(st.out_names[c]);
            char *p = hb_arena_alloc(&arena, n ? n : 1);
            memcpy(p, st.out_names[c], n);
            vals[nvals++] = hb_val_str(p, (uint32_t)n);
            hb_type_t t = st.out[c].type == HB_T_UNKNOWN ? HB_T_TEXT : st.out[c].type;
            const char *tn = hb_type_name(t);
            vals[nvals++] = hb_val_str(tn, (uint32_t)strlen(tn));
        }
        s_reply(self, peer, peerlen, req_id, HB_OK, NULL, vals, nvals);
    } else {
        snprintf(emsg, sizeof emsg, "%s %s", err.sqlstate[0] ? err.sqlstate : "XX000",
                 err.msg);
        s_reply(self, peer, peerlen, req_id, HB_INVALID, emsg, NULL, 0);
    }
    if (planned)
        sqlf_stmt_free(&st);
    hb_free(vals);
    hb_arena_free(&arena);
    hb_free(desc);
    hb_free(sql);
}

/* sql.close: ends peer's session (its open block is rolled back). */
static void
s_close(sqlf_front_t *self, const uint8_t *peer, size_t peerlen, const hb_msg_t *msg)
{
    for (uint32_t i = 0; i < self->nsessions; i++) {
        sqlf_session_t *s = &self->sessions[i];
        if (s->peerlen != peerlen || memcmp(s->peer, peer, peerlen) != 0)
            continue;
        if (s->busy) {
            s_reply(self, peer, peerlen, msg->u.submit.req_id, HB_BUSY,
                    "55006 the session is running a request", NULL, 0);
            return;
        }
        if (s->blk) {
            sqlf_blk_clear(s->blk);
            hb_free(s->blk);
        }
        /* The slot stays (sessions never move): empty, first to be reused. */
        memset(s, 0, sizeof *s);
        break;
    }
    s_reply(self, peer, peerlen, msg->u.submit.req_id, HB_OK, NULL, NULL, 0);
}

void
sqlf_front_on_submit(sqlf_front_t *self, const uint8_t *peer, size_t peerlen,
                     const hb_msg_t *msg)
{
    self->requests++;
    if (msg->u.submit.proc_len == 12 &&
        memcmp(msg->u.submit.proc, "sql.describe", 12) == 0) {
        s_catalog_catch_up(self);
        s_describe(self, peer, peerlen, msg);
        return;
    }
    if (msg->u.submit.proc_len == 9 && memcmp(msg->u.submit.proc, "sql.close", 9) == 0) {
        s_close(self, peer, peerlen, msg);
        return;
    }
    s_catalog_catch_up(self);
    sqlf_req_t *r = hb_calloc(1, sizeof *r);
    memcpy(r->peer, peer, peerlen < sizeof r->peer ? peerlen : sizeof r->peer);
    r->peerlen = peerlen < sizeof r->peer ? peerlen : sizeof r->peer;
    r->client_req = msg->u.submit.req_id;
    const hb_val_t *a = msg->u.submit.args;
    sqlf_session_t *sess = s_session(self, peer, peerlen);
    if (!sess || sess->busy) {
        self->bad_requests++;
        r->b = NULL;
        sqlf_fail(self, r, HB_BUSY, sess ? "55006" : "53300",
                  sess ? "the session is already running a request"
                       : "too many sessions");
        return;
    }
    sess->busy = true;
    r->sess = sess;
    r->serial = ++sess->serial;
    if (!sess->blk)
        sess->blk = hb_calloc(1, sizeof *sess->blk);
    r->b = sess->blk;
    uint32_t n = msg->u.submit.nargs;
    if (msg->u.submit.proc_len != 3 || memcmp(msg->u.submit.proc, "sql", 3) != 0 ||
        n < 1 || a[0].type != HB_VAL_STR) {
        self->bad_requests++;
        sqlf_fail(self, r, HB_INVALID, "08P01",
                  "a sqlfront takes proc \"sql\" with the SQL text as first argument");
        return;
    }
    r->sql = hb_malloc(a[0].u.s.len + 1);
    memcpy(r->sql, a[0].u.s.ptr, a[0].u.s.len);
    r->sql[a[0].u.s.len] = '\0';
    if (memchr(r->sql, '\0', a[0].u.s.len)) {
        self->bad_requests++;
        sqlf_fail(self, r, HB_INVALID, "22021",
                  "invalid byte sequence: the text contains a zero "
                  "byte");
        return;
    }
    /* Copy the parameters' bytes: the frame goes away after this call. */
    r->nparams = n - 1;
    size_t bytes = 0;
    for (uint32_t i = 1; i < n; i++)
        if (a[i].type == HB_VAL_STR || a[i].type == HB_VAL_BIN)
            bytes += a[i].u.s.len;
    r->frame = hb_malloc(bytes ? bytes : 1);
    r->params = hb_arena_alloc(&r->arena, (n ? n : 1) * sizeof *r->params);
    size_t off = 0;
    for (uint32_t i = 1; i < n; i++) {
        r->params[i - 1] = a[i];
        if (a[i].type == HB_VAL_STR || a[i].type == HB_VAL_BIN) {
            memcpy(r->frame + off, a[i].u.s.ptr, a[i].u.s.len);
            r->params[i - 1].u.s.ptr = r->frame + off;
            off += a[i].u.s.len;
        }
    }
    hb_sqlerr_t perr;
    r->parsed = sqlf_parse(self, r->sql, &perr);
    if (!r->parsed) {
        sqlf_fail_err(self, r, &perr);
        return;
    }
    r->parsed->refs++;
    r->tree = r->parsed->tree;
    sqlf_advance(self, r);
}

/* Whether transaction id is r's: its own, or one of its job's. */
static bool
s_waits_for(const sqlf_req_t *r, uint64_t id)
{
    if (r->txn_req == id)
        return true;
    return r->job && r->job->ops->owns && r->job->ops->owns(r->job, id);
}

void
sqlf_front_poll(sqlf_front_t *self, int timeout_ms)
{
    hb_result_t *res = NULL;
    int wait = timeout_ms;
    while (self->npending && hb_client_poll(self->cli, wait, &res) == HB_OK) {
        wait = 0;
        sqlf_req_t **pp = &self->pending;
        while (*pp && !s_waits_for(*pp, res->req_id))
            pp = &(*pp)->link;
        if (*pp) {
            sqlf_req_t *r = *pp;
            *pp = r->link;
            self->npending--;
            sqlf_on_result(self, r, res);
        }
        hb_result_destroy(&res);
    }
    int64_t now = sqlf_now_ms();
    sqlf_req_t **pp = &self->pending;
    while (*pp) {
        sqlf_req_t *r = *pp;
        if (now < r->deadline_ms) {
            pp = &r->link;
            continue;
        }
        *pp = r->link;
        self->npending--;
        hb_client_forget(self->cli, r->txn_req);
        if (r->job && r->job->ops->forget)
            r->job->ops->forget(r->job, self->cli);
        sqlf_fail(self, r, HB_TIMEOUT, "08006",
                  "no answer from the cluster within %d ms: the transaction's outcome is "
                  "unknown",
                  S_TXN_TIMEOUT_MS);
    }
}

size_t
sqlf_front_pending(const sqlf_front_t *self)
{
    return self->npending;
}

uint32_t
sqlf_front_stats(const sqlf_front_t *self, hb_wire_stat_t *out, uint32_t cap)
{
    const struct {
        const char *name;
        uint64_t v;
    } s[] = {
        {"sql_requests", self->requests},
        {"sql_statements", self->statements},
        {"sql_errors", self->errors},
        {"sql_txns", self->txns},
        {"sql_reads", self->reads},
        {"sql_catalog_reloads", self->cat_reloads},
        {"sql_ollp_rows", self->ollp_rows},
        {"sql_bad_requests", self->bad_requests},
        {"sql_pending", self->npending},
        {"sql_sessions", self->nsessions},
        {"catalog_version", (uint64_t)sqlf_catalog_version(self->cat)},
        {"sql_parses", self->parses},
        {"sql_parse_cache_hits", self->parse_hits},
        {"sql_block_retries", self->block_retries},
        {"sql_index_reads", self->index_reads},
        {"sql_index_backfilled", self->index_backfilled},
        {"sql_cut_rereads", self->cut_rereads},
        {"sql_cut_failures", self->cut_failures},
        {"sql_index_fallbacks", self->index_fallbacks},
        {"sql_read_replans", self->read_replans},
        {"sql_rewrite_rows", self->rw_rows},
    };
    uint32_t n = 0;
    for (size_t i = 0; i < sizeof s / sizeof *s && n < cap; i++, n++) {
        out[n].name = s[i].name;
        out[n].name_len = (uint32_t)strlen(s[i].name);
        out[n].val = hb_val_int((int64_t)s[i].v);
    }
    return n;
}
