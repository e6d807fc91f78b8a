/* pgwire_ext.c — the extended query protocol: statements and portals.
 *
 * Parse names a statement text (with the parameter types the client
 * gives); Bind makes a portal of it with parameter values (text, or binary
 * decoded by pgwire_types.c) and result formats; Describe answers the
 * parameter and row types (sql.describe plans the text without running
 * it; a read is run at once instead, and its rows wait in the portal);
 * Execute runs the portal on the connection's engine session and sends
 * its rows, up to the row limit (PortalSuspended for more); Close drops
 * one; Sync ends the exchange with ReadyForQuery. After an error the
 * messages up to Sync are skipped (skip_to_sync), and an open block fails.
 *
 * Entry points: sqlf_pg_parse_msg, _bind_msg, _describe_msg,
 * _execute_msg, _close_msg, sqlf_pg_sync; the engine's answers come back
 * to sqlf_pg_ext_on_run and sqlf_pg_ext_on_describe.
 */
#include <stdio.h>
#include <string.h>

#include "hb_alloc.h"
#include "pgwire_int.h"

/* ------------------------------------------------------------------ */
/* Statements and portals                                               */
/* ------------------------------------------------------------------ */

/* Frees portal p; c, when given, stops counting what it
 * held. */
static void
s_portal_free(sqlf_pg_conn_t *c, sqlf_pg_portal_t *p)
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
s_stmt_free(sqlf_pg_conn_t *c, sqlf_pg_stmt_t *s)
{
    if (c) {
        c->held -= s->bytes;
        c->nstmts--;
    }
    hb_free(s->text);
    hb_free(s->oids);
    hb_free(s);
}

static sqlf_pg_stmt_t **
s_find_stmt(sqlf_pg_conn_t *c, const char *name)
{
    sqlf_pg_stmt_t **pp = &c->stmts;
    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    return pp;
}

static sqlf_pg_portal_t **
s_find_portal(sqlf_pg_conn_t *c, const char *name)
{
    sqlf_pg_portal_t **pp = &c->portals;
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

void
sqlf_pg_ext_free(sqlf_pg_conn_t *c)
{
    while (c->stmts) {
        sqlf_pg_stmt_t *s = c->stmts;
        c->stmts = s->next;
        s_stmt_free(NULL, s);
    }
    while (c->portals) {
        sqlf_pg_portal_t *p = c->portals;
        c->portals = p->next;
        s_portal_free(NULL, p);
    }
}

void
sqlf_pg_ext_error(sqlf_pg_conn_t *c)
{
    c->skip_to_sync = true;
    if (c->txn == 'T') {
        c->txn = 'E';
        c->local_abort = true; /* the engine's block must not commit now */
    }
}

/* ------------------------------------------------------------------ */
/* Parse and Bind                                                       */
/* ------------------------------------------------------------------ */

void
sqlf_pg_parse_msg(sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len)
{
    const uint8_t *end = p + len;
    const char *name = s_getz(&p, end), *text = name ? s_getz(&p, end) : NULL;
    if (!text || end - p < 2 || strlen(name) >= SQLF_PG_NAME_MAX) {
        sqlf_pg_error(c, "ERROR", "08P01", "malformed Parse message");
        sqlf_pg_ext_error(c);
        return;
    }
    uint32_t n = sqlf_pg_get16(p);
    p += 2;
    if ((size_t)(end - p) < 4 * (size_t)n) {
        sqlf_pg_error(c, "ERROR", "08P01", "malformed Parse message");
        sqlf_pg_ext_error(c);
        return;
    }
    sqlf_pg_stmt_t **pp = s_find_stmt(c, name);
    if (*pp) {
        if (name[0]) {
            sqlf_pg_error(c, "ERROR", "42P05", "prepared statement \"%s\" already exists",
                          name);
            sqlf_pg_ext_error(c);
            return;
        }
        sqlf_pg_stmt_t *old = *pp;
        *pp = old->next;
        s_stmt_free(c, old);
    }
    if (c->nstmts >= 10000) {
        sqlf_pg_error(c, "ERROR", "53400",
                      "more than 10000 prepared statements in one session");
        sqlf_pg_ext_error(c);
        return;
    }
    sqlf_pg_stmt_t *s = hb_calloc(1, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->text = hb_malloc(strlen(text) + 1);
    memcpy(s->text, text, strlen(text) + 1);
    s->nparams = n;
    s->oids = hb_calloc(n ? n : 1, sizeof *s->oids);
    for (uint32_t i = 0; i < n; i++)
        s->oids[i] = sqlf_pg_get32(p + 4 * i);
    s->bytes = sizeof *s + strlen(text) + 1 + (size_t)n * 4;
    c->held += s->bytes;
    c->nstmts++;
    s->next = c->stmts;
    c->stmts = s;
    sqlf_pg_simple_msg(c, '1');
}

/* A Bind message, its layout checked. */
typedef struct {
    const char *pname;
    const sqlf_pg_stmt_t *st;
    const uint8_t *fmts; /* nf parameter formats */
    uint32_t nf;
    const uint8_t *vals; /* np (length, bytes) parameter values */
    uint32_t np;
    size_t bytes;         /* what the values take, room for converted forms included */
    const uint8_t *rfmts; /* nr result formats */
    uint32_t nr;
} s_bind_t;

enum { S_BIND_OK, S_BIND_BAD, S_BIND_SENT };

/* Reads a Bind message into b. Returns S_BIND_BAD for a malformed one,
 * S_BIND_SENT after an ErrorResponse. */
static int
s_bind_parse(sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len, s_bind_t *b)
{
    const uint8_t *end = p + len;
    b->pname = s_getz(&p, end);
    const char *sname = b->pname ? s_getz(&p, end) : NULL;
    if (!sname || strlen(b->pname) >= SQLF_PG_NAME_MAX)
        return S_BIND_BAD;
    b->st = *s_find_stmt(c, sname);
    if (!b->st) {
        sqlf_pg_error(c, "ERROR", "26000", "prepared statement \"%s\" does not exist",
                      sname);
        return S_BIND_SENT;
    }
    if (end - p < 2)
        return S_BIND_BAD;
    b->nf = sqlf_pg_get16(p);
    p += 2;
    if ((size_t)(end - p) < 2 * (size_t)b->nf + 2)
        return S_BIND_BAD;
    b->fmts = p;
    p += 2 * b->nf;
    b->np = sqlf_pg_get16(p);
    p += 2;
    if (b->nf > 1 && b->nf != b->np)
        return S_BIND_BAD;
    for (uint32_t i = 0; i < b->nf; i++)
        if (sqlf_pg_get16(b->fmts + 2 * i) > 1)
            return S_BIND_BAD; /* only text (0) and binary (1) exist */
    if (b->np != b->st->nparams && b->st->nparams) {
        sqlf_pg_error(c, "ERROR", "08P01",
                      "bind message supplies %u parameters, but prepared statement "
                      "\"%s\" requires %u",
                      b->np, sname, b->st->nparams);
        return S_BIND_SENT;
    }
    /* Sizes first: the values borrow from one copy. */
    b->vals = p;
    b->bytes = 0;
    for (uint32_t i = 0; i < b->np; i++) {
        if (end - p < 4)
            return S_BIND_BAD;
        uint32_t l = sqlf_pg_get32(p);
        p += 4;
        if (l == 0xffffffffu)
            continue;
        if ((size_t)(end - p) < l)
            return S_BIND_BAD;
        b->bytes += l + 64; /* room for a converted form */
        p += l;
    }
    if (end - p < 2)
        return S_BIND_BAD;
    b->nr = sqlf_pg_get16(p);
    b->rfmts = p + 2;
    if ((size_t)(end - p - 2) < 2 * (size_t)b->nr)
        return S_BIND_BAD;
    return S_BIND_OK;
}

/* Converts binary parameter i (l bytes at dst) to *out, a text form
 * written back over dst (which has l + 64 bytes); returns false after an
 * ErrorResponse. */
static bool
s_bind_binary(sqlf_pg_conn_t *c, const sqlf_pg_stmt_t *st, uint32_t i, uint8_t *dst,
              uint32_t l, hb_val_t *out)
{
    uint32_t oid = i < st->nparams ? st->oids[i] : 0;
    char tmp[2100];
    if (!sqlf_pg_bin_param(oid, dst, l, out, tmp, sizeof tmp)) {
        sqlf_pg_error(c, "ERROR", oid ? "22P03" : "0A000",
                      oid ? "incorrect binary data format in bind parameter %u"
                          : "binary format for bind parameter %u needs its type in Parse",
                      i + 1);
        return false;
    }
    if (out->type == HB_VAL_STR && (const char *)out->u.s.ptr == tmp) {
        uint32_t tl = out->u.s.len;
        if (tl > l + 64) {
            sqlf_pg_error(c, "ERROR", "22P03", "bind parameter %u is too long", i + 1);
            return false;
        }
        memcpy(dst, tmp, tl);
        *out = hb_val_str(dst, tl);
    }
    return true;
}

/* Copies b's parameter values into pt; returns false after an
 * ErrorResponse. */
static bool
s_bind_values(sqlf_pg_conn_t *c, const s_bind_t *b, sqlf_pg_portal_t *pt)
{
    const uint8_t *p = b->vals;
    size_t off = 0;
    for (uint32_t i = 0; i < b->np; i++) {
        uint32_t l = sqlf_pg_get32(p);
        p += 4;
        if (l == 0xffffffffu) {
            pt->params[i] = hb_val_nil();
            continue;
        }
        int16_t f = 0;
        if (b->nf == 1)
            f = (int16_t)sqlf_pg_get16(b->fmts);
        else if (b->nf > 1)
            f = (int16_t)sqlf_pg_get16(b->fmts + 2 * i);
        uint8_t *dst = pt->pbytes + off;
        memcpy(dst, p, l);
        if (f == 0)
            pt->params[i] = hb_val_str(dst, l);
        else if (!s_bind_binary(c, b->st, i, dst, l, &pt->params[i]))
            return false;
        off += l + 64;
        p += l;
    }
    return true;
}

void
sqlf_pg_bind_msg(sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len)
{
    s_bind_t b;
    int rc = s_bind_parse(c, p, len, &b);
    if (rc == S_BIND_SENT) {
        sqlf_pg_ext_error(c);
        return;
    }
    if (rc == S_BIND_BAD)
        goto bad;
    sqlf_pg_portal_t *pt = hb_calloc(1, sizeof *pt);
    snprintf(pt->name, sizeof pt->name, "%s", b.pname);
    pt->text = hb_malloc(strlen(b.st->text) + 1);
    memcpy(pt->text, b.st->text, strlen(b.st->text) + 1);
    pt->nparams = b.np;
    pt->params = hb_calloc(b.np ? b.np : 1, sizeof *pt->params);
    pt->pbytes = hb_malloc(b.bytes ? b.bytes : 1);
    if (!s_bind_values(c, &b, pt)) {
        s_portal_free(NULL, pt);
        sqlf_pg_ext_error(c);
        return;
    }
    pt->nrfmt = b.nr;
    pt->rfmt = hb_calloc(b.nr ? b.nr : 1, sizeof *pt->rfmt);
    for (uint32_t i = 0; i < b.nr; i++) {
        pt->rfmt[i] = (int16_t)sqlf_pg_get16(b.rfmts + 2 * i);
        if (pt->rfmt[i] != 0 && pt->rfmt[i] != 1) {
            s_portal_free(NULL, pt);
            goto bad;
        }
    }
    sqlf_pg_portal_t **pp = s_find_portal(c, b.pname);
    if (*pp) {
        sqlf_pg_portal_t *old = *pp;
        *pp = old->next;
        s_portal_free(c, old);
    }
    pt->bytes =
        sizeof *pt + strlen(pt->text) + 1 + b.bytes + (size_t)b.np * sizeof *pt->params;
    c->held += pt->bytes;
    pt->next = c->portals;
    c->portals = pt;
    sqlf_pg_simple_msg(c, '2');
    return;
bad:
    sqlf_pg_error(c, "ERROR", "08P01", "malformed Bind message");
    sqlf_pg_ext_error(c);
}

/* ------------------------------------------------------------------ */
/* Describe, Execute, Close, Sync                                       */
/* ------------------------------------------------------------------ */

static void
s_last_group(sqlf_pg_conn_t *c, const sqlf_pg_group_t *g, void *arg)
{
    sqlf_pg_portal_t *p = arg;
    sqlf_pg_track(c, g->tag);
    p->g = *g;
    p->has_g = true;
}

/* Sends up to max rows (0: all) of portal p and then CommandComplete or
 * PortalSuspended. */
static void
s_portal_rows(sqlf_pg_conn_t *c, sqlf_pg_portal_t *p, int32_t max)
{
    if (!p->has_g) {
        sqlf_pg_simple_msg(c, 'I'); /* an empty query */
        return;
    }
    uint32_t n = 0;
    while (p->sent < p->g.nrows && (max <= 0 || n < (uint32_t)max)) {
        sqlf_pg_data_row(c, &p->g, p->sent++, p->rfmt, p->nrfmt);
        n++;
    }
    if (p->g.ncols && p->sent < p->g.nrows) {
        sqlf_pg_simple_msg(c, 's');
        return;
    }
    sqlf_pg_complete(c, p->g.tag);
}

static void
s_run_portal(sqlf_pg_t *self, sqlf_pg_conn_t *c, sqlf_pg_portal_t *p, int32_t max)
{
    const char *s = sqlf_pg_skip_blank(p->text);
    if (!*s) {
        p->ran = true;
        if (max >= 0)
            sqlf_pg_simple_msg(c, 'I');
        else
            sqlf_pg_simple_msg(c, 'n');
        return;
    }
    if (c->local_abort) {
        c->cportal = p;
        c->cmax = max;
        if (!sqlf_pg_end_failed_block(c, s))
            c->skip_to_sync = true;
        else if (!sqlf_pg_request(self, c, "sql", "ROLLBACK", 8, NULL, 0, SQLF_PG_K_RUN))
            sqlf_pg_ext_error(c);
        return;
    }
    for (uint32_t i = 0; i < p->nparams; i++) {
        const hb_val_t *v = &p->params[i];
        if ((v->type == HB_VAL_STR || v->type == HB_VAL_BIN) &&
            v->u.s.len > self->lim.max_value_bytes) {
            sqlf_pg_error(c, "ERROR", "54000",
                          "parameter $%u is %u bytes, longer than "
                          "limits/max_value_bytes (%u)",
                          i + 1, v->u.s.len, self->lim.max_value_bytes);
            sqlf_pg_ext_error(c);
            return;
        }
    }
    c->cportal = p;
    c->cmax = max;
    if (!sqlf_pg_request(self, c, "sql", p->text, strlen(p->text), p->params, p->nparams,
                         SQLF_PG_K_RUN))
        sqlf_pg_ext_error(c);
}

void
sqlf_pg_describe_msg(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len)
{
    if (len < 2 || p[len - 1] != 0 || (p[0] != 'S' && p[0] != 'P')) {
        sqlf_pg_error(c, "ERROR", "08P01", "malformed Describe message");
        sqlf_pg_ext_error(c);
        return;
    }
    const char *name = (const char *)p + 1;
    if (p[0] == 'P') {
        sqlf_pg_portal_t *pt = *s_find_portal(c, name);
        if (!pt) {
            sqlf_pg_error(c, "ERROR", "34000", "portal \"%s\" does not exist", name);
            sqlf_pg_ext_error(c);
            return;
        }
        if (pt->ran) {
            if (pt->has_g && pt->g.ncols)
                sqlf_pg_row_desc(c, &pt->g, pt->rfmt, pt->nrfmt);
            else
                sqlf_pg_simple_msg(c, 'n');
            return;
        }
        /* A read runs now (the row description comes with its rows, which
         * the Execute after it sends); a write is described by planning
         * it without values, and runs at Execute only. */
        const char *t = sqlf_pg_skip_blank(pt->text);
        if (!*t || sqlf_pg_reads_only(t) || c->local_abort) {
            s_run_portal(self, c, pt, -1);
            return;
        }
        if (sqlf_pg_no_rows(t)) {
            sqlf_pg_simple_msg(c, 'n');
            return;
        }
        c->cportal = pt;
        if (!sqlf_pg_request(self, c, "sql.describe", pt->text, strlen(pt->text), NULL, 0,
                             SQLF_PG_K_DESCRIBE_P))
            sqlf_pg_ext_error(c);
        return;
    }
    sqlf_pg_stmt_t *st = *s_find_stmt(c, name);
    if (!st) {
        sqlf_pg_error(c, "ERROR", "26000", "prepared statement \"%s\" does not exist",
                      name);
        sqlf_pg_ext_error(c);
        return;
    }
    const char *s = sqlf_pg_skip_blank(st->text);
    if (!*s) {
        size_t at = sqlf_pg_begin(&c->out, 't');
        sqlf_pg_put16(&c->out, 0);
        sqlf_pg_end(&c->out, at);
        sqlf_pg_simple_msg(c, 'n');
        return;
    }
    c->cstmt = st;
    if (!sqlf_pg_request(self, c, "sql.describe", st->text, strlen(st->text), NULL, 0,
                         SQLF_PG_K_DESCRIBE))
        sqlf_pg_ext_error(c);
}

void
sqlf_pg_execute_msg(sqlf_pg_t *self, sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len)
{
    const uint8_t *end = p + len;
    const char *name = s_getz(&p, end);
    if (!name || end - p != 4) {
        sqlf_pg_error(c, "ERROR", "08P01", "malformed Execute message");
        sqlf_pg_ext_error(c);
        return;
    }
    int32_t max = (int32_t)sqlf_pg_get32(p);
    sqlf_pg_portal_t *pt = *s_find_portal(c, name);
    if (!pt) {
        sqlf_pg_error(c, "ERROR", "34000", "portal \"%s\" does not exist", name);
        sqlf_pg_ext_error(c);
        return;
    }
    if (pt->ran)
        s_portal_rows(c, pt, max);
    else
        s_run_portal(self, c, pt, max < 0 ? 0 : max);
}

void
sqlf_pg_close_msg(sqlf_pg_conn_t *c, const uint8_t *p, uint32_t len)
{
    if (len < 2 || p[len - 1] != 0 || (p[0] != 'S' && p[0] != 'P')) {
        sqlf_pg_error(c, "ERROR", "08P01", "malformed Close message");
        sqlf_pg_ext_error(c);
        return;
    }
    const char *name = (const char *)p + 1;
    if (p[0] == 'S') {
        sqlf_pg_stmt_t **pp = s_find_stmt(c, name);
        if (*pp) {
            sqlf_pg_stmt_t *s = *pp;
            *pp = s->next;
            s_stmt_free(c, s);
        }
    } else {
        sqlf_pg_portal_t **pp = s_find_portal(c, name);
        if (*pp) {
            sqlf_pg_portal_t *pt = *pp;
            *pp = pt->next;
            s_portal_free(c, pt);
        }
    }
    sqlf_pg_simple_msg(c, '3');
}

/* At Sync the unnamed portal goes (PostgreSQL keeps it until the next
 * Bind; nothing reads it after Sync). */
void
sqlf_pg_sync(sqlf_pg_conn_t *c)
{
    c->skip_to_sync = false;
    sqlf_pg_portal_t **pp = s_find_portal(c, "");
    if (*pp) {
        sqlf_pg_portal_t *pt = *pp;
        *pp = pt->next;
        s_portal_free(c, pt);
    }
    sqlf_pg_ready(c);
}

/* ------------------------------------------------------------------ */
/* Engine answers                                                       */
/* ------------------------------------------------------------------ */

bool
sqlf_pg_ext_on_run(sqlf_pg_conn_t *c, hb_msg_t *m, uint8_t *frame, size_t framelen,
                   bool failed)
{
    sqlf_pg_portal_t *p = c->cportal;
    if (failed) {
        sqlf_pg_groups(m, s_last_group, c, p);
        sqlf_pg_engine_error(c, m->u.result.msg, m->u.result.msg_len);
        p->has_g = false;
        sqlf_pg_ext_error(c);
        return false;
    }
    p->has_g = false;
    if (!sqlf_pg_groups(m, s_last_group, c, p)) {
        sqlf_pg_error(c, "ERROR", "XX000", "malformed result from the engine");
        sqlf_pg_ext_error(c);
        return false;
    }
    p->ran = true;
    p->frame = frame;
    p->framelen = framelen;
    p->bytes += framelen + (size_t)m->u.result.nvals * sizeof(hb_val_t);
    c->held += framelen + (size_t)m->u.result.nvals * sizeof(hb_val_t);
    p->res = *m;
    if (c->cmax < 0) { /* Describe */
        if (p->has_g && p->g.ncols)
            sqlf_pg_row_desc(c, &p->g, p->rfmt, p->nrfmt);
        else
            sqlf_pg_simple_msg(c, 'n');
    } else {
        s_portal_rows(c, p, c->cmax);
    }
    return true;
}

/* ParameterDescription of statement st: the types Parse gave, else those
 * the engine found (np of them at types). */
static void
s_param_desc(sqlf_pg_conn_t *c, const sqlf_pg_stmt_t *st, const hb_val_t *types,
             uint32_t np)
{
    uint32_t total = np > st->nparams ? np : st->nparams;
    size_t at = sqlf_pg_begin(&c->out, 't');
    sqlf_pg_put16(&c->out, (uint16_t)total);
    for (uint32_t i = 0; i < total; i++)
        sqlf_pg_put32(&c->out, i < st->nparams && st->oids[i] ? st->oids[i]
                               : i < np                       ? sqlf_pg_oid(&types[i])
                                                              : OID_TEXT);
    sqlf_pg_end(&c->out, at);
}

void
sqlf_pg_ext_on_describe(sqlf_pg_conn_t *c, const hb_msg_t *m, bool failed)
{
    if (failed) {
        sqlf_pg_engine_error(c, m->u.result.msg, m->u.result.msg_len);
        sqlf_pg_ext_error(c);
        return;
    }
    /* [nparams, type..., ncols, (name, type)...] */
    const hb_val_t *v = m->u.result.vals;
    uint32_t n = m->u.result.nvals;
    if (n < 2 || v[0].type != HB_VAL_INT || v[0].u.i < 0 || (uint64_t)v[0].u.i > n - 2 ||
        v[1 + v[0].u.i].type != HB_VAL_INT || v[1 + v[0].u.i].u.i < 0 ||
        (uint64_t)v[1 + v[0].u.i].u.i > (n - 2 - (uint64_t)v[0].u.i) / 2) {
        sqlf_pg_error(c, "ERROR", "XX000", "malformed describe result from the engine");
        sqlf_pg_ext_error(c);
        return;
    }
    uint32_t np = (uint32_t)v[0].u.i, at = 1 + np;
    sqlf_pg_group_t g = {.ncols = (uint32_t)v[at].u.i, .cols = &v[at + 1]};
    if (c->cont == SQLF_PG_K_DESCRIBE)
        s_param_desc(c, c->cstmt, &v[1], np);
    if (!g.ncols)
        sqlf_pg_simple_msg(c, 'n');
    else if (c->cont == SQLF_PG_K_DESCRIBE)
        sqlf_pg_row_desc(c, &g, NULL, 0);
    else
        sqlf_pg_row_desc(c, &g, c->cportal->rfmt, c->cportal->nrfmt);
}
