/* tpcc_db.c — one SQL connection of hobbes-bench tpcc: Hobbes or PostgreSQL.
 *
 * Every SQL statement of load, run (--impl sql) and check goes through a
 * tpcc_db_t, which is either a Hobbes sqlfront session (hb_sql_*) or a
 * libpq connection, so the rest of the harness never asks which. A
 * tpcc_res_t gathers the outcome of a multi-statement text: the first
 * failure's SQLSTATE and the rows of each statement that returned any,
 * read back as text, integers or exact cents. Also the growing statement
 * buffer (tpcc_bprintf) the load batches and procedure texts are built in.
 *
 * Entry points: tpcc_db_open, tpcc_db_exec, tpcc_db_must, tpcc_db_close;
 * tpcc_nrows, tpcc_cell_i64, tpcc_cell_cents, tpcc_res_free;
 * tpcc_bprintf, tpcc_bclear.
 */
#include "tpcc_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_alloc.h"

int
tpcc_db_open(const tpcc_opts_t *o, tpcc_db_t *db, char *err, size_t errlen)
{
    memset(db, 0, sizeof *db);
    if (o->target) {
        db->pg = PQconnectdb(o->target);
        if (PQstatus(db->pg) != CONNECTION_OK) {
            snprintf(err, errlen, "%s", PQerrorMessage(db->pg));
            PQfinish(db->pg);
            db->pg = NULL;
            return -1;
        }
        PGresult *r = PQexec(db->pg, "SET client_min_messages = warning");
        PQclear(r);
        return 0;
    }
    db->hb = hb_sql_connect(o->config, o->sqlfront, err, errlen);
    return db->hb ? 0 : -1;
}

void
tpcc_db_close(tpcc_db_t *db)
{
    if (db->pg)
        PQfinish(db->pg);
    hb_sql_destroy(&db->hb);
    db->pg = NULL;
}

void
tpcc_res_free(tpcc_res_t *r)
{
    hb_sql_result_free(&r->hres);
    for (uint32_t i = 0; i < r->nsets; i++)
        if (r->set[i].p)
            PQclear(r->set[i].p);
    memset(r, 0, sizeof *r);
}

void
tpcc_res_fail(tpcc_res_t *r, const char *state, const char *msg)
{
    if (strcmp(r->state, "00000") != 0)
        return;
    snprintf(r->state, sizeof r->state, "%s", state);
    snprintf(r->msg, sizeof r->msg, "%s", msg);
}

/* Runs sql (one or more statements). Returns 0 when all succeeded, else -1
 * with r->state and r->msg set; r must be freed with tpcc_res_free either way. */
int
tpcc_db_exec(tpcc_db_t *db, const char *sql, tpcc_res_t *r)
{
    memset(r, 0, sizeof *r);
    memcpy(r->state, "00000", 6);
    if (db->pg) {
        if (!PQsendQuery(db->pg, sql)) {
            tpcc_res_fail(r, "08006", PQerrorMessage(db->pg));
            return -1;
        }
        PGresult *res;
        while ((res = PQgetResult(db->pg))) {
            ExecStatusType st = PQresultStatus(res);
            if (st == PGRES_TUPLES_OK && r->nsets < TPCC_SETS) {
                r->set[r->nsets++] = (tpcc_set_t){.nrows = (uint32_t)PQntuples(res),
                                                  .ncols = (uint32_t)PQnfields(res),
                                                  .p = res};
                continue;
            }
            if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
                tpcc_res_fail(r, s ? s : "XX000", m ? m : PQerrorMessage(db->pg));
            }
            PQclear(res);
        }
        if (PQstatus(db->pg) != CONNECTION_OK)
            tpcc_res_fail(r, "08006", "connection lost");
        return strcmp(r->state, "00000") == 0 ? 0 : -1;
    }
    hb_rc_t rc = hb_sql_exec(db->hb, sql, NULL, 0, TPCC_TIMEOUT_MS, &r->hres);
    if (rc != HB_OK) {
        tpcc_res_fail(r, rc == HB_TIMEOUT ? "57014" : "08006", hb_sql_last_error(db->hb));
        return -1;
    }
    for (const hb_sql_result_t *x = r->hres; x; x = x->next) {
        if (strcmp(x->sqlstate, "00000") != 0) {
            tpcc_res_fail(r, x->sqlstate, x->message);
            break;
        }
        if (x->ncols && r->nsets < TPCC_SETS)
            r->set[r->nsets++] =
                (tpcc_set_t){.nrows = x->nrows, .ncols = x->ncols, .h = x};
    }
    return strcmp(r->state, "00000") == 0 ? 0 : -1;
}

/* Rows of result set k (k < 0: the last one); 0 when there is none. */
uint32_t
tpcc_nrows(const tpcc_res_t *r, int k)
{
    if (k < 0)
        k = (int)r->nsets - 1;
    return k >= 0 && (uint32_t)k < r->nsets ? r->set[k].nrows : 0;
}

/* Cell (i, j) of result set k (k < 0: the last) as text, NULL for SQL
 * NULL or a cell that does not exist; buf holds integers' text. */
static const char *
s_cell(const tpcc_res_t *r, int k, uint32_t i, uint32_t j, char buf[32])
{
    if (k < 0)
        k = (int)r->nsets - 1;
    if (k < 0 || (uint32_t)k >= r->nsets)
        return NULL;
    const tpcc_set_t *s = &r->set[k];
    if (i >= s->nrows || j >= s->ncols)
        return NULL;
    if (s->p)
        return PQgetisnull(s->p, (int)i, (int)j) ? NULL
                                                 : PQgetvalue(s->p, (int)i, (int)j);
    const hb_val_t *v = &s->h->cells[i * s->ncols + j];
    switch (v->type) {
    case HB_VAL_NIL:
        return NULL;
    case HB_VAL_INT:
        snprintf(buf, 32, "%" PRId64, v->u.i);
        return buf;
    case HB_VAL_BOOL:
        return v->u.b ? "t" : "f";
    case HB_VAL_STR:
        return (const char *)v->u.s.ptr;
    case HB_VAL_DOUBLE:
        snprintf(buf, 32, "%.17g", v->u.d);
        return buf;
    default:
        return "";
    }
}

int64_t
tpcc_cell_i64(const tpcc_res_t *r, int k, uint32_t i, uint32_t j)
{
    char buf[32];
    const char *s = s_cell(r, k, i, j, buf);
    return s ? strtoll(s, NULL, 10) : 0;
}

/* A decimal cell in hundredths, exactly (no floating point). */
int64_t
tpcc_cell_cents(const tpcc_res_t *r, int k, uint32_t i, uint32_t j)
{
    char buf[32];
    const char *s = s_cell(r, k, i, j, buf);
    if (!s)
        return 0;
    bool neg = *s == '-';
    if (neg || *s == '+')
        s++;
    int64_t v = 0;
    while (isdigit((unsigned char)*s))
        v = v * 10 + (*s++ - '0');
    int frac = 0;
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s); s++)
            if (frac < 2) {
                v = v * 10 + (*s - '0');
                frac++;
            }
    for (; frac < 2; frac++)
        v *= 10;
    return neg ? -v : v;
}

/* Runs sql that must succeed; prints the failure and returns -1 if not. */
int
tpcc_db_must(tpcc_db_t *db, const char *sql, tpcc_res_t *r)
{
    if (tpcc_db_exec(db, sql, r) == 0)
        return 0;
    fprintf(stderr, "hobbes-bench: tpcc: %s: %.200s%s\n", r->state, r->msg,
            strlen(r->msg) ? "" : "(no message)");
    fprintf(stderr, "  in: %.300s\n", sql);
    return -1;
}

void
tpcc_bprintf(tpcc_buf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n =
            vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { /* no text to size the buffer by: give up as on no memory */
            fprintf(stderr, "hobbes-bench: out of memory\n");
            exit(1);
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        HB_GROW(b->p, b->cap, b->len + (size_t)n + 1, 4096);
    }
}

void
tpcc_bclear(tpcc_buf_t *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = 0;
}
