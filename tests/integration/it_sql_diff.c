/* it_sql_diff.c — differential SQL test: one random single-table workload,
 * run against Hobbes and against SQLite, results compared statement by
 * statement.
 *
 * Usage: it_sql_diff BUILD_ROOT [STATEMENTS]
 *
 * Starts a 1 x 3 cluster with one sqlfront (5 ms epochs), creates
 * t (id integer primary key, a integer, b integer, s text) in Hobbes and in
 * an in-memory SQLite database, loads the same 200 rows into both (keys
 * -300..300), then runs STATEMENTS (default 600) random statements
 * through both: INSERTs (some with duplicate keys: 23505 in both, some
 * with column lists, some ON CONFLICT DO NOTHING / DO UPDATE), INSERT ...
 * SELECT, UPDATEs and DELETEs with random predicates (some with
 * RETURNING), SELECTs with random predicates and expressions, ORDER BY
 * ... id, LIMIT and OFFSET, aggregates with and without GROUP BY /
 * HAVING, statements with $n parameters, BEGIN ... COMMIT blocks,
 * multi-statement requests, and single-column secondary indexes created
 * and dropped along the way. After each write the error state and
 * affected-row count are compared (Hobbes's command tag against
 * sqlite3_changes), after each SELECT the rows, exactly (sorted only for
 * RETURNING); at the end the whole table. The first mismatch prints the
 * seed, the statement and both results, and fails.
 *
 * The generator only writes SQL on which SQLite and PostgreSQL agree:
 * integer arithmetic whose operands are bounded so int4 never overflows
 * (s_iexpr), division and modulo only by positive constants (PostgreSQL
 * raises 22012 on a zero divisor, SQLite returns NULL), LIKE made case
 * sensitive in SQLite and patterns without backslashes (PostgreSQL's
 * default escape), explicit NULLS FIRST/LAST on every ORDER BY key (the
 * defaults differ) and a primary-key tiebreaker, OFFSET only with LIMIT,
 * substr only from position 1, CAST only from integer to text, no avg
 * (float formatting), ON CONFLICT DO UPDATE only with distinct keys
 * (PostgreSQL raises 21000 when one statement touches a row twice; SQLite
 * does not), no predicates in RETURNING (s_returning). Text compares
 * bytewise in all three (PostgreSQL with the C collation). Booleans are
 * compared as 1/0, SQLite's form. What Hobbes gets wrong today is left
 * out.
 *
 * HOBBES_SQL_TRACE=FILE writes every request sent to Hobbes to FILE, for
 * cutting a mismatch down to a repro.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_expr.h"
#include "hobbes.h"
#include "it_util.h"

#define S_ID_MIN     (-300) /* ids are drawn from S_ID_MIN..S_ID_MAX */
#define S_ID_MAX     300
#define S_LOAD_ROWS  200        /* rows loaded before the workload */
#define S_STMTS      600        /* default workload length */
#define S_COL_MAX    25000      /* |a|, |b| stay below this (s_assign_int) */
#define S_EXPR_MAX   1000000000 /* bound of every integer expression */
#define S_MAX_PARAMS 16
#define S_TIMEOUT_MS 20000

/* ------------------------------------------------------------------ */
/* Buffers and randomness                                               */
/* ------------------------------------------------------------------ */

typedef struct {
    char *p;    /* NUL-terminated text */
    size_t len; /* its length */
    size_t cap; /* allocated bytes */
} s_buf_t;

static void s_add(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_add(s_buf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if (b->p && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
        if (b->len == 0)
            b->p[0] = '\0';
    }
}

static void
s_reset(s_buf_t *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static void
s_buf_free(s_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static uint64_t s_rng;
static FILE *s_trace; /* HOBBES_SQL_TRACE: every request sent to Hobbes */

static uint64_t
s_next(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ull;
}

/* Returns a number in lo..hi. */
static long long
s_range(long long lo, long long hi)
{
    return lo + (long long)(s_next() % (uint64_t)(hi - lo + 1));
}

/* Returns a key in S_ID_MIN..S_ID_MAX. */
static long long
s_id(void)
{
    return s_range(S_ID_MIN, S_ID_MAX);
}

/* Returns true with probability pct / 100. */
static bool
s_pct(int pct)
{
    return (int)(s_next() % 100) < pct;
}

/* ------------------------------------------------------------------ */
/* Generator state                                                      */
/* ------------------------------------------------------------------ */

static bool s_present[S_ID_MAX - S_ID_MIN + 1]; /* ids in the table, at id - S_ID_MIN */
static int s_nrows;                             /* rows in the table */
static bool s_use_params;                       /* this statement may use $n */
static bool s_no_pred;                          /* s_iexpr writes no predicates */
typedef struct {
    bool text; /* a text parameter (else an integer) */
    int64_t i; /* the integer */
    char s[8]; /* the text */
} s_param_t;
static s_param_t s_params[S_MAX_PARAMS];
static uint32_t s_nparams;

/* Appends integer constant k, as $n when the statement takes parameters. */
static void
s_const(s_buf_t *b, long long k)
{
    if (s_use_params && s_nparams < S_MAX_PARAMS && s_pct(50)) {
        s_params[s_nparams++] = (s_param_t){.i = k};
        s_add(b, "$%u", s_nparams);
        return;
    }
    s_add(b, k < 0 ? "(%lld)" : "%lld", k);
}

/* A short lowercase string literal over "abc" (possibly empty). */
static void
s_text_lit(s_buf_t *b)
{
    int n = (int)s_range(0, 3);
    s_add(b, "'");
    for (int i = 0; i < n; i++)
        s_add(b, "%c", (char)('a' + s_range(0, 2)));
    s_add(b, "'");
}

/* Appends text constant str: quoted, or as $n when the statement takes
 * parameters. */
static void
s_text_const(s_buf_t *b, const char *str)
{
    if (s_use_params && s_nparams < S_MAX_PARAMS && s_pct(50)) {
        s_param_t *p = &s_params[s_nparams++];
        *p = (s_param_t){.text = true};
        snprintf(p->s, sizeof p->s, "%s", str);
        s_add(b, "$%u", s_nparams);
        return;
    }
    s_add(b, "'%s'", str);
}

/* A short lowercase string constant over "abc" to compare with. */
static void
s_text_cmp(s_buf_t *b)
{
    char str[4];
    int n = (int)s_range(0, 3);
    for (int i = 0; i < n; i++)
        str[i] = (char)('a' + s_range(0, 2));
    str[n] = '\0';
    s_text_const(b, str);
}

/* A LIKE pattern over "abc", '%' and '_' (no backslash: see the header). */
static void
s_like_pat(s_buf_t *b)
{
    static const char al[] = "ab%%_c";
    char pat[5];
    int n = (int)s_range(0, 4);
    for (int i = 0; i < n; i++)
        pat[i] = al[s_range(0, (long long)sizeof al - 2)];
    pat[n] = '\0';
    s_text_const(b, pat);
}

static const char *
s_cmp_op(void)
{
    static const char *ops[] = {"=", "<>", "<", "<=", ">", ">=", "!="};
    return ops[s_range(0, 6)];
}

static long long s_iexpr(s_buf_t *b, int depth);
static void s_pred(s_buf_t *b, int depth);

/* An integer column and its bound. */
static long long
s_icol(s_buf_t *b)
{
    switch (s_range(0, 2)) {
    case 0:
        s_add(b, "id");
        return S_ID_MAX > -S_ID_MIN ? S_ID_MAX : -S_ID_MIN;
    case 1:
        s_add(b, "a");
        return S_COL_MAX;
    default:
        s_add(b, "b");
        return S_COL_MAX;
    }
}

/* Appends an integer expression; returns a bound on its absolute value,
 * at most S_EXPR_MAX, so no int4 operation in it overflows. */
static long long
s_iexpr(s_buf_t *b, int depth)
{
    if (depth <= 0 || s_pct(30)) {
        if (s_pct(70))
            return s_icol(b);
        long long k = s_range(-50, 150);
        s_add(b, k < 0 ? "(%lld)" : "%lld", k);
        return k < 0 ? -k : k;
    }
    s_buf_t l = {0}, r = {0};
    long long bl, br, bound;
    switch (s_range(0, 11)) {
    case 0:
    case 1: /* + and - */
        bl = s_iexpr(&l, depth - 1);
        br = s_iexpr(&r, depth - 1);
        if (bl + br > S_EXPR_MAX) {
            s_add(b, "%s", l.p);
            bound = bl;
            break;
        }
        s_add(b, "(%s %s %s)", l.p, s_pct(50) ? "+" : "-", r.p);
        bound = bl + br;
        break;
    case 2: /* * */
        bl = s_iexpr(&l, depth - 1);
        br = s_iexpr(&r, depth - 1);
        if (bl && br && bl > S_EXPR_MAX / br) {
            if (bl <= S_EXPR_MAX / 3) {
                s_add(b, "(%s * %d)", l.p, (int)s_range(-3, 3));
                bound = bl * 3;
            } else {
                s_add(b, "%s", l.p);
                bound = bl;
            }
            break;
        }
        s_add(b, "(%s * %s)", l.p, r.p);
        bound = bl * br;
        break;
    case 3: { /* / and % by a positive constant (see the header) */
        bl = s_iexpr(&l, depth - 1);
        int k = (int)s_range(1, 9);
        s_add(b, "(%s %s %d)", l.p, s_pct(50) ? "/" : "%", k);
        bound = bl;
        break;
    }
    case 4:
        bound = s_iexpr(&l, depth - 1);
        s_add(b, "(- %s)", l.p);
        break;
    case 5:
        bound = s_iexpr(&l, depth - 1);
        s_add(b, "abs(%s)", l.p);
        break;
    case 6:
        bl = s_iexpr(&l, depth - 1);
        br = s_iexpr(&r, depth - 1);
        if (s_pct(30)) {
            s_add(b, "coalesce(%s, %s, %d)", l.p, r.p, (int)s_range(-9, 9));
            br = br > 9 ? br : 9;
        } else {
            s_add(b, "coalesce(%s, %s)", l.p, r.p);
        }
        bound = bl > br ? bl : br;
        break;
    case 7: {
        if (s_no_pred) { /* see s_returning */
            bound = s_iexpr(&l, depth - 1);
            s_add(b, "(%s)", l.p);
            break;
        }
        s_buf_t p = {0};
        s_pred(&p, depth - 1);
        bl = s_iexpr(&l, depth - 1);
        if (s_pct(70)) {
            br = s_iexpr(&r, depth - 1);
            s_add(b, "CASE WHEN %s THEN %s ELSE %s END", p.p, l.p, r.p);
        } else {
            br = 0;
            s_add(b, "CASE WHEN %s THEN %s END", p.p, l.p);
        }
        s_buf_free(&p);
        bound = bl > br ? bl : br;
        break;
    }
    case 8: { /* simple CASE */
        bl = s_iexpr(&l, depth - 1);
        br = s_iexpr(&r, depth - 1);
        s_add(b, "CASE %s WHEN %d THEN %s WHEN %d THEN 7 ELSE %s END", l.p,
              (int)s_range(-2, 5), r.p, (int)s_range(-2, 5), l.p);
        bound = bl > br ? bl : br;
        break;
    }
    case 9:
        bl = s_iexpr(&l, depth - 1);
        br = s_iexpr(&r, depth - 1);
        s_add(b, "nullif(%s, %s)", l.p, r.p);
        bound = bl;
        break;
    case 10:
        s_add(b, "length(s)");
        bound = 1000;
        break;
    default:
        bound = s_iexpr(&l, depth - 1);
        s_add(b, "(%s)", l.p);
        break;
    }
    s_buf_free(&l);
    s_buf_free(&r);
    return bound;
}

/* Appends a text expression over s. */
static void
s_texpr(s_buf_t *b, int depth)
{
    if (depth <= 0 || s_pct(40)) {
        if (s_pct(70))
            s_add(b, "s");
        else
            s_text_lit(b);
        return;
    }
    s_buf_t l = {0}, r = {0};
    switch (s_range(0, 6)) {
    case 0:
        s_texpr(&l, depth - 1);
        s_texpr(&r, depth - 1);
        s_add(b, "(%s || %s)", l.p, r.p);
        break;
    case 6: /* integers as text (the other way, SQLite is lenient) */
        s_iexpr(&l, depth - 1);
        s_add(b, "CAST(%s AS text)", l.p);
        break;
    case 1:
        s_texpr(&l, depth - 1);
        s_add(b, "lower(%s)", l.p);
        break;
    case 2:
        s_texpr(&l, depth - 1);
        s_add(b, "upper(%s)", l.p);
        break;
    case 3: /* substr from position 1 on: negative starts differ */
        s_texpr(&l, depth - 1);
        if (s_pct(50))
            s_add(b, "substr(%s, %d)", l.p, (int)s_range(1, 3));
        else
            s_add(b, "substr(%s, %d, %d)", l.p, (int)s_range(1, 3), (int)s_range(0, 3));
        break;
    case 4:
        s_texpr(&l, depth - 1);
        s_texpr(&r, depth - 1);
        s_add(b, "coalesce(%s, %s)", l.p, r.p);
        break;
    default: {
        s_buf_t p = {0};
        s_pred(&p, depth - 1);
        s_texpr(&l, depth - 1);
        s_texpr(&r, depth - 1);
        s_add(b, "CASE WHEN %s THEN %s ELSE %s END", p.p, l.p, r.p);
        s_buf_free(&p);
        break;
    }
    }
    s_buf_free(&l);
    s_buf_free(&r);
}

/* A list of n integer constants for IN, sometimes with a NULL. */
static void
s_int_list(s_buf_t *b, long long lo, long long hi)
{
    int n = (int)s_range(1, 4);
    for (int i = 0; i < n; i++) {
        if (i)
            s_add(b, ", ");
        if (s_pct(8))
            s_add(b, "NULL");
        else
            s_const(b, s_range(lo, hi));
    }
}

/* Appends a boolean expression. */
static void
s_pred(s_buf_t *b, int depth)
{
    if (depth > 0 && s_pct(45)) {
        s_buf_t l = {0}, r = {0};
        switch (s_range(0, 2)) {
        case 0:
            s_pred(&l, depth - 1);
            s_pred(&r, depth - 1);
            s_add(b, "(%s AND %s)", l.p, r.p);
            break;
        case 1:
            s_pred(&l, depth - 1);
            s_pred(&r, depth - 1);
            s_add(b, "(%s OR %s)", l.p, r.p);
            break;
        default:
            s_pred(&l, depth - 1);
            s_add(b, "(NOT %s)", l.p);
            break;
        }
        s_buf_free(&l);
        s_buf_free(&r);
        return;
    }
    s_buf_t l = {0}, r = {0};
    switch (s_range(0, 14)) {
    case 0:
    case 1: { /* column against a constant */
        s_icol(&l);
        const char *op = s_cmp_op();
        long long k = l.p[0] == 'i' ? s_id() : s_range(-60, 160);
        s_add(b, "%s %s ", l.p, op);
        if (s_pct(8)) { /* an untyped literal, read as the column's type */
            s_add(b, "'%lld'", k);
        } else if (s_pct(6)) {
            /* Beyond int4: PostgreSQL compares int4 with int8 (and an `=`
             * term that could be a key or index lookup matches nothing). */
            static const long long big[] = {2147483648LL, -2147483649LL, 3000000000LL,
                                            -9223372036854775807LL,
                                            9223372036854775807LL};
            s_add(b, "%lld", big[s_range(0, 4)]);
        } else {
            s_const(b, k);
        }
        break;
    }
    case 2:
    case 3:
        s_iexpr(&l, 2);
        s_iexpr(&r, 1);
        s_add(b, "%s %s %s", l.p, s_cmp_op(), r.p);
        break;
    case 4: {
        static const char *cols[] = {"a", "b", "s", "id"};
        s_add(b, "%s IS %sNULL", cols[s_range(0, 3)], s_pct(50) ? "NOT " : "");
        break;
    }
    case 5: {
        s_iexpr(&l, 1);
        long long lo = s_range(-60, 160);
        s_add(b, "%s %sBETWEEN ", l.p, s_pct(25) ? "NOT " : "");
        s_const(b, lo);
        s_add(b, " AND ");
        s_const(b, lo + s_range(-10, 80));
        break;
    }
    case 6:
        s_icol(&l);
        s_add(b, "%s %sIN (", l.p, s_pct(25) ? "NOT " : "");
        s_int_list(b, l.p[0] == 'i' ? S_ID_MIN : -20, l.p[0] == 'i' ? S_ID_MAX : 120);
        s_add(b, ")");
        break;
    case 7:
    case 8:
        s_texpr(&l, s_pct(70) ? 0 : 1);
        s_add(b, "%s %sLIKE ", l.p, s_pct(25) ? "NOT " : "");
        s_like_pat(b);
        break;
    case 9:
        s_texpr(&l, s_pct(60) ? 0 : 2);
        s_add(b, "%s %s ", l.p, s_cmp_op());
        s_text_cmp(b);
        break;
    case 10: {
        int n = (int)s_range(1, 3);
        s_add(b, "s %sIN (", s_pct(25) ? "NOT " : "");
        for (int i = 0; i < n; i++) {
            if (i)
                s_add(b, ", ");
            s_text_cmp(b);
        }
        s_add(b, ")");
        break;
    }
    case 11:
        s_add(b, "s %sBETWEEN ", s_pct(25) ? "NOT " : "");
        s_text_cmp(b);
        s_add(b, " AND ");
        s_text_cmp(b);
        break;
    case 12:
        s_add(b, "%s", s_pct(50) ? "true" : "false");
        break;
    case 13: /* a comparison of two comparisons: boolean = boolean */
        s_iexpr(&l, 1);
        s_iexpr(&r, 1);
        s_add(b, "(%s > %d) %s (%s < %d)", l.p, (int)s_range(-10, 100),
              s_pct(50) ? "=" : "<>", r.p, (int)s_range(-10, 100));
        break;
    default:
        s_texpr(&l, 1);
        s_texpr(&r, 1);
        s_add(b, "%s %s %s", l.p, s_cmp_op(), r.p);
        break;
    }
    s_buf_free(&l);
    s_buf_free(&r);
}

/* Appends " WHERE ..." for a statement: point, multi-point and range
 * lookups on the key (Hobbes plans these differently), general
 * predicates, or (when allow_none) nothing at all. */
static void
s_where(s_buf_t *b, bool allow_none)
{
    int pick = (int)s_range(0, 99);
    if (allow_none && pick < 6)
        return;
    s_add(b, " WHERE ");
    if (pick < 28) {
        s_add(b, "id = ");
        s_const(b, s_id());
    } else if (pick < 38) {
        s_add(b, "id IN (");
        s_int_list(b, S_ID_MIN, S_ID_MAX);
        s_add(b, ")");
    } else if (pick < 46) {
        long long lo = s_range(S_ID_MIN - 5, S_ID_MAX);
        s_add(b, "id BETWEEN ");
        s_const(b, lo);
        s_add(b, " AND ");
        s_const(b, lo + s_range(0, 40));
    } else if (pick < 58) {
        /* Equality on a column that may be indexed (see s_indexes). */
        switch (s_range(0, 3)) {
        case 0:
            s_add(b, "a = ");
            s_const(b, s_range(-30, 120));
            break;
        case 1:
            s_add(b, "b = ");
            s_const(b, s_range(-30, 120));
            break;
        case 2:
            s_add(b, "s = ");
            s_text_cmp(b);
            break;
        default:
            s_add(b, "s = ");
            s_text_cmp(b);
            s_add(b, " AND b %s ", s_cmp_op());
            s_const(b, s_range(-30, 500));
            break;
        }
    } else {
        s_pred(b, (int)s_range(0, 3));
        return;
    }
    if (s_pct(40)) {
        s_add(b, " AND ");
        s_pred(b, (int)s_range(0, 2));
    }
}

/* ------------------------------------------------------------------ */
/* Results                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    char state[16];  /* "00000", a SQLSTATE, or "SQLITE:<code>" */
    char msg[512];   /* error text */
    long long count; /* affected rows, or -1 for a query */
    uint32_t ncols;  /* columns */
    uint32_t nrows;  /* rows */
    char **rows;     /* nrows rows, cells joined by "|", NULL as "NULL" */
} s_res_t;

static void
s_res_clear(s_res_t *r)
{
    for (uint32_t i = 0; i < r->nrows; i++)
        free(r->rows[i]);
    free(r->rows);
    memset(r, 0, sizeof *r);
    r->count = -1;
}

static void
s_res_row(s_res_t *r, const char *row)
{
    r->rows = realloc(r->rows, (r->nrows + 1) * sizeof *r->rows);
    r->rows[r->nrows++] = strdup(row);
}

static int
s_cmpstr(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void
s_res_sort(s_res_t *r)
{
    if (r->nrows)
        qsort(r->rows, r->nrows, sizeof *r->rows, s_cmpstr);
}

/* Secondary indexes that exist now (s_indexes). */
static int s_nindexes;

/* Returns whether two results agree: same error state, or both succeeded
 * with the same count and the same rows. */
static bool
s_res_same(const s_res_t *h, const s_res_t *l)
{
    if (strcmp(h->state, l->state) != 0)
        return false;
    if (strcmp(h->state, "00000") != 0)
        return true;
    if (h->count != l->count || h->ncols != l->ncols || h->nrows != l->nrows)
        return false;
    for (uint32_t i = 0; i < h->nrows; i++)
        if (strcmp(h->rows[i], l->rows[i]) != 0)
            return false;
    return true;
}

static void
s_res_print(const char *who, const s_res_t *r)
{
    fprintf(stderr, "  %s: state %s%s%s", who, r->state, r->msg[0] ? " " : "", r->msg);
    if (r->count >= 0)
        fprintf(stderr, ", %lld row(s) affected", r->count);
    fprintf(stderr, ", %u column(s), %u row(s)\n", r->ncols, r->nrows);
    for (uint32_t i = 0; i < r->nrows && i < 60; i++)
        fprintf(stderr, "    %s\n", r->rows[i]);
    if (r->nrows > 60)
        fprintf(stderr, "    ... (%u more)\n", r->nrows - 60);
}

/* Copies one Hobbes statement result into out. */
static void
s_from_hobbes(const hb_sql_result_t *res, s_res_t *out)
{
    s_res_clear(out);
    snprintf(out->state, sizeof out->state, "%s", res->sqlstate);
    if (strcmp(res->sqlstate, "00000") != 0) {
        snprintf(out->msg, sizeof out->msg, "%s", res->message);
        return;
    }
    const char *tag = res->tag ? res->tag : "";
    if (strncmp(tag, "INSERT", 6) == 0 || strncmp(tag, "UPDATE", 6) == 0 ||
        strncmp(tag, "DELETE", 6) == 0) {
        const char *sp = strrchr(tag, ' ');
        out->count = sp ? strtoll(sp + 1, NULL, 10) : -2;
    }
    out->ncols = res->ncols;
    s_buf_t row = {0};
    for (uint32_t i = 0; i < res->nrows; i++) {
        s_reset(&row);
        for (uint32_t c = 0; c < res->ncols; c++) {
            const hb_val_t *v = &res->cells[(size_t)i * res->ncols + c];
            char cell[1024];
            if (v->type == HB_VAL_NIL)
                snprintf(cell, sizeof cell, "NULL");
            else if (v->type == HB_VAL_BOOL) /* SQLite's form */
                snprintf(cell, sizeof cell, "%d", v->u.b ? 1 : 0);
            else
                hb_val_format(v, cell, sizeof cell);
            s_add(&row, "%s%s", c ? "|" : "", cell);
        }
        s_res_row(out, row.p ? row.p : "");
    }
    s_buf_free(&row);
}

/* Runs one Hobbes request (one or more statements); returns its result
 * list (caller frees). A transport failure is a test failure. */
static hb_sql_result_t *
s_hobbes_exec(hb_sql_t *db, const char *sql, uint64_t seed)
{
    if (s_trace) {
        fprintf(s_trace, "%s;", sql);
        for (uint32_t i = 0; i < s_nparams; i++)
            if (s_params[i].text)
                fprintf(s_trace, " -- $%u='%s'", i + 1, s_params[i].s);
            else
                fprintf(s_trace, " -- $%u=%" PRId64, i + 1, s_params[i].i);
        fprintf(s_trace, "\n");
        fflush(s_trace);
    }
    hb_val_t params[S_MAX_PARAMS];
    for (uint32_t i = 0; i < s_nparams; i++)
        params[i] = s_params[i].text
                        ? hb_val_str(s_params[i].s, (uint32_t)strlen(s_params[i].s))
                        : hb_val_int(s_params[i].i);
    hb_sql_result_t *res = NULL;
    hb_rc_t rc =
        hb_sql_exec(db, sql, s_nparams ? params : NULL, s_nparams, S_TIMEOUT_MS, &res);
    IT_CHECK(rc == HB_OK && res != NULL,
             "HOBBES_SEED=%" PRIu64 ": hb_sql_exec(%s): %s (%s)", seed, sql,
             hb_rc_str(rc), hb_sql_last_error(db));
    return res;
}

/* Runs one SQLite statement into out, binding s_params ($n becomes ?n). */
static void
s_lite_exec(sqlite3 *lite, const char *sql, s_res_t *out)
{
    s_res_clear(out);
    char *text = strdup(sql);
    for (char *p = text; *p; p++)
        if (*p == '$')
            *p = '?';
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(lite, text, -1, &st, NULL);
    free(text);
    if (rc != SQLITE_OK) {
        snprintf(out->state, sizeof out->state, "SQLITE:%d",
                 sqlite3_extended_errcode(lite));
        snprintf(out->msg, sizeof out->msg, "%s", sqlite3_errmsg(lite));
        return;
    }
    for (uint32_t i = 0; i < s_nparams; i++)
        if (s_params[i].text)
            sqlite3_bind_text(st, (int)i + 1, s_params[i].s, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(st, (int)i + 1, s_params[i].i);
    out->ncols = (uint32_t)sqlite3_column_count(st);
    s_buf_t row = {0};
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        s_reset(&row);
        for (int c = 0; c < (int)out->ncols; c++) {
            const char *sep = c ? "|" : "";
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_NULL:
                s_add(&row, "%sNULL", sep);
                break;
            case SQLITE_INTEGER:
                s_add(&row, "%s%lld", sep, (long long)sqlite3_column_int64(st, c));
                break;
            default:
                s_add(&row, "%s%s", sep, (const char *)sqlite3_column_text(st, c));
                break;
            }
        }
        s_res_row(out, row.p ? row.p : "");
    }
    s_buf_free(&row);
    if (rc != SQLITE_DONE) {
        int ext = sqlite3_extended_errcode(lite);
        if (ext == SQLITE_CONSTRAINT_PRIMARYKEY)
            snprintf(out->state, sizeof out->state, "23505");
        else
            snprintf(out->state, sizeof out->state, "SQLITE:%d", ext);
        snprintf(out->msg, sizeof out->msg, "%s", sqlite3_errmsg(lite));
        sqlite3_finalize(st);
        for (uint32_t i = 0; i < out->nrows; i++)
            free(out->rows[i]);
        out->nrows = 0;
        out->ncols = 0;
        return;
    }
    snprintf(out->state, sizeof out->state, "00000");
    if (strncmp(sql, "INSERT", 6) == 0 || strncmp(sql, "UPDATE", 6) == 0 ||
        strncmp(sql, "DELETE", 6) == 0)
        out->count = sqlite3_changes(lite);
    else
        out->count = -1;
    /* Hobbes reports no columns for a write without RETURNING. */
    if (out->count >= 0 && out->nrows == 0 && !strstr(sql, "RETURNING"))
        out->ncols = 0;
    sqlite3_finalize(st);
}

/* ------------------------------------------------------------------ */
/* The workload                                                         */
/* ------------------------------------------------------------------ */

static uint64_t s_seed;
static int s_stmt_no;
static long long s_rows_changed, s_rows_read; /* totals, for the summary */

static void
s_mismatch(const char *sql, const s_res_t *h, const s_res_t *l, const char *what)
{
    fprintf(stderr,
            "\nMISMATCH (%s) at statement %d, HOBBES_SEED=%" PRIu64 "\n  SQL: %s\n", what,
            s_stmt_no, s_seed, sql);
    if (s_nparams) {
        fprintf(stderr, "  params:");
        for (uint32_t i = 0; i < s_nparams; i++)
            if (s_params[i].text)
                fprintf(stderr, " $%u='%s'", i + 1, s_params[i].s);
            else
                fprintf(stderr, " $%u=%" PRId64, i + 1, s_params[i].i);
        fprintf(stderr, "\n");
    }
    if (h->nrows == l->nrows && h->nrows > 20) {
        /* Long results of the same length: just the rows that differ. */
        s_res_t hh = *h, ll = *l;
        hh.nrows = ll.nrows = 0;
        s_res_print("hobbes", &hh);
        s_res_print("sqlite", &ll);
        fprintf(stderr, "  rows that differ (of %u), hobbes | sqlite:\n", h->nrows);
        for (uint32_t i = 0; i < h->nrows; i++)
            if (strcmp(h->rows[i], l->rows[i]) != 0)
                fprintf(stderr, "    #%u: %s | %s\n", i, h->rows[i], l->rows[i]);
    } else {
        s_res_print("hobbes", h);
        s_res_print("sqlite", l);
    }
    IT_CHECK(0, "hobbes and sqlite disagree (HOBBES_SEED=%" PRIu64 ")", s_seed);
}

/* Rereads the set of ids (and checks the column bounds) from SQLite. */
static void
s_refresh(sqlite3 *lite)
{
    memset(s_present, 0, sizeof s_present);
    s_nrows = 0;
    sqlite3_stmt *st = NULL;
    IT_CHECK(sqlite3_prepare_v2(lite, "SELECT id, abs(a), abs(b) FROM t", -1, &st,
                                NULL) == SQLITE_OK,
             "prepare: %s", sqlite3_errmsg(lite));
    while (sqlite3_step(st) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0);
        IT_CHECK(id >= S_ID_MIN && id <= S_ID_MAX, "id %lld out of range", id);
        IT_CHECK(sqlite3_column_int64(st, 1) < S_COL_MAX &&
                     sqlite3_column_int64(st, 2) < S_COL_MAX,
                 "generator bug: a or b of id %lld outgrew S_COL_MAX", id);
        s_present[id - S_ID_MIN] = true;
        s_nrows++;
    }
    sqlite3_finalize(st);
}

/* A read through a secondary index fetches the entries' rows one round
 * trip at a time and needs them at the entries' epoch; when it cannot get
 * that twice running it reads the table at one cut instead, so it should
 * never fail. Should it still answer 40001, the caller retries a few
 * times, then skips the statement (it changed nothing in Hobbes and is
 * not run in SQLite); the summary counts both, and they should be 0. */
static int s_retries, s_skipped;

static bool
s_spurious_40001(const hb_sql_result_t *res)
{
    return s_nindexes > 0 && strcmp(res->sqlstate, "40001") == 0 &&
           strstr(res->message, "index") != NULL;
}

/* Runs one statement on both and compares. sorted: compare the rows as a
 * multiset (RETURNING has no order). Returns whether it succeeded (in
 * both: they agree or the test has failed). */
static bool
s_both(hb_sql_t *db, sqlite3 *lite, const char *sql, bool sorted)
{
    s_res_t h = {.count = -1}, l = {.count = -1};
    hb_sql_result_t *res = NULL;
    const hb_sql_result_t *last = NULL;
    for (int attempt = 0;; attempt++) {
        res = s_hobbes_exec(db, sql, s_seed);
        last = res;
        while (last->next)
            last = last->next;
        if (!s_spurious_40001(last))
            break;
        hb_sql_result_free(&res);
        if (attempt == 3) { /* give up on this one: it changed nothing */
            s_skipped++;
            return false;
        }
        s_retries++;
    }
    s_from_hobbes(last, &h);
    s_lite_exec(lite, sql, &l);
    if (sorted) {
        s_res_sort(&h);
        s_res_sort(&l);
    }
    if (!s_res_same(&h, &l))
        s_mismatch(sql, &h, &l, "statement");
    bool ok = strcmp(h.state, "00000") == 0;
    if (ok && l.count > 0)
        s_rows_changed += l.count;
    else if (ok && l.count < 0)
        s_rows_read += l.nrows;
    hb_sql_result_free(&res);
    s_res_clear(&h);
    s_res_clear(&l);
    return ok;
}

/* Returns an id for a new row: usually absent from the table, sometimes
 * present (a duplicate key). */
static long long
s_new_id(int dup_pct)
{
    bool want_present = s_pct(dup_pct);
    for (int tries = 0; tries < 50; tries++) {
        long long id = s_id();
        if (s_present[id - S_ID_MIN] == want_present)
            return id;
    }
    return s_id();
}

/* Appends one VALUES row with key id, its columns in the order of cols
 * ("i" id, "a", "b", "s"; "iabs" for the table's order). */
static void
s_values_row(s_buf_t *b, long long id, const char *cols)
{
    s_add(b, "(");
    for (const char *c = cols; *c; c++) {
        if (c != cols)
            s_add(b, ", ");
        if (*c == 'i')
            s_add(b, "%lld", id);
        else if (s_pct(12))
            s_add(b, "NULL");
        else if (*c == 's')
            s_text_lit(b);
        else
            s_add(b, "%lld", s_range(-100, 1000));
    }
    s_add(b, ")");
}

static void
s_returning(s_buf_t *b, bool *sorted)
{
    if (!s_pct(20))
        return;
    *sorted = true;
    if (s_pct(50)) {
        s_add(b, " RETURNING id, a, b, s");
        return;
    }
    /* SQLite and PostgreSQL differ here: SQLite 3.40's RETURNING
     * compares a text column with the wrong affinity ('116' >= '16' is
     * true there, false in a SELECT): no predicates in RETURNING. */
    s_buf_t e = {0};
    s_no_pred = true;
    s_iexpr(&e, 2);
    s_no_pred = false;
    s_add(b, " RETURNING id, %s", e.p);
    s_buf_free(&e);
}

/* INSERT ... VALUES of 1..4 rows, maybe with a column list, maybe
 * ON CONFLICT. */
static void
s_gen_insert(s_buf_t *b, bool *sorted)
{
    int n = (int)s_range(1, 4);
    int conflict = (int)s_range(0, 99); /* <12 DO NOTHING, <24 DO UPDATE */
    long long ids[4];
    for (int i = 0; i < n; i++) {
    again:
        ids[i] = s_new_id(conflict < 24 ? 40 : 10);
        /* DO UPDATE must not touch a row twice (PostgreSQL 21000). */
        if (conflict >= 12 && conflict < 24)
            for (int j = 0; j < i; j++)
                if (ids[j] == ids[i])
                    goto again;
    }
    /* A column list: all, reordered, or some (the rest are NULL). */
    static const char *lists[] = {"iabs", "si", "ib", "asib", "bi", "isa"};
    const char *cols = s_pct(25) ? lists[s_range(0, 5)] : NULL;
    s_add(b, "INSERT INTO t ");
    if (cols) {
        s_add(b, "(");
        for (const char *c = cols; *c; c++)
            s_add(b, "%s%s", c != cols ? ", " : "",
                  *c == 'i'   ? "id"
                  : *c == 'a' ? "a"
                  : *c == 'b' ? "b"
                              : "s");
        s_add(b, ") ");
    }
    s_add(b, "VALUES ");
    for (int i = 0; i < n; i++) {
        if (i)
            s_add(b, ", ");
        s_values_row(b, ids[i], cols ? cols : "iabs");
    }
    if (conflict < 12) {
        s_add(b, " ON CONFLICT (id) DO NOTHING");
    } else if (conflict < 24) {
        static const char *sets[] = {
            "a = excluded.a",
            "a = t.a + 1",
            "b = excluded.b, s = excluded.s",
            "a = coalesce(excluded.a, t.a), b = t.b - 3",
            "s = t.s || 'a'",
            "a = excluded.b, b = excluded.a",
        };
        s_add(b, " ON CONFLICT (id) DO UPDATE SET %s", sets[s_range(0, 5)]);
    }
    s_returning(b, sorted);
}

/* INSERT ... SELECT: copies of some rows under shifted keys (within
 * S_ID_MIN..S_ID_MAX), sometimes with columns swapped, often ON CONFLICT.
 * Distinct sources give distinct keys, so DO UPDATE never touches a row
 * twice. */
static void
s_gen_insert_select(s_buf_t *b, bool *sorted)
{
    int k = (int)s_range(-60, 60);
    if (k == 0)
        k = 1;
    long long lo = s_id();
    s_add(
        b,
        "INSERT INTO t (id, a, b, s) SELECT id + %d, %s FROM t WHERE id BETWEEN %lld AND "
        "%lld AND id + %d BETWEEN %d AND %d",
        k, s_pct(50) ? "a, b, s" : "b, a, upper(s)", lo, lo + s_range(0, 25), k, S_ID_MIN,
        S_ID_MAX);
    if (s_pct(50)) {
        s_add(b, " AND ");
        s_pred(b, 1);
    }
    int conflict = (int)s_range(0, 99);
    if (conflict < 45)
        s_add(b, " ON CONFLICT (id) DO NOTHING");
    else if (conflict < 80)
        s_add(b, " ON CONFLICT (id) DO UPDATE SET a = t.a + 1, s = excluded.s");
    s_returning(b, sorted);
}

/* One assignment to a or b whose result keeps |col| < S_COL_MAX: each
 * statement grows the bound by at most 20 (x + k, y + k), the other
 * forms are bounded outright, and every 500 statements main() brings
 * both back under 1000 (1000 + 500 * 20 < S_COL_MAX). */
static void
s_assign_int(s_buf_t *b, const char *col)
{
    const char *other = col[0] == 'a' ? "b" : "a";
    s_buf_t e = {0};
    switch (s_range(0, 8)) {
    case 0:
    case 1:
        s_add(b, "%s = %s + %d", col, col, (int)s_range(-20, 20));
        break;
    case 2:
        s_add(b, "%s = %lld", col, s_range(-100, 200));
        break;
    case 3:
        s_add(b, "%s = NULL", col);
        break;
    case 4:
        s_add(b, "%s = %s - %d", col, other, (int)s_range(0, 20));
        break;
    case 5:
        s_iexpr(&e, 2);
        s_add(b, "%s = (%s) %% %d", col, e.p, (int)s_range(1, 1000));
        break;
    case 6:
        s_add(b, "%s = coalesce(%s, %d)", col, other, (int)s_range(-10, 10));
        break;
    case 7: {
        s_pred(&e, 1);
        s_add(b, "%s = CASE WHEN %s THEN %s + 1 ELSE abs(%s) END", col, e.p, col, other);
        break;
    }
    default:
        s_add(b, "%s = - %s", col, col);
        break;
    }
    s_buf_free(&e);
}

static void
s_gen_update(s_buf_t *b, bool *sorted)
{
    s_add(b, "UPDATE t SET ");
    int mask = (int)s_range(1, 7); /* which of a, b, s */
    bool first = true;
    if (mask & 1) {
        s_assign_int(b, "a");
        first = false;
    }
    if (mask & 2) {
        if (!first)
            s_add(b, ", ");
        s_assign_int(b, "b");
        first = false;
    }
    if (mask & 4) {
        if (!first)
            s_add(b, ", ");
        switch (s_range(0, 4)) {
        case 0:
            s_add(b, "s = ");
            s_text_lit(b);
            break;
        case 1:
            s_add(b, "s = NULL");
            break;
        case 2:
            s_add(b, "s = substr(s || 'b', 2)");
            break;
        case 3:
            s_add(b, "s = upper(s)");
            break;
        default: {
            s_buf_t e = {0};
            s_texpr(&e, 2);
            s_add(b, "s = substr(%s, 1, 4)", e.p);
            s_buf_free(&e);
            break;
        }
        }
    }
    s_where(b, true);
    s_returning(b, sorted);
}

static void
s_gen_delete(s_buf_t *b, bool *sorted)
{
    s_add(b, "DELETE FROM t");
    /* Keep the table near its size: general predicates are narrowed to a
     * window of ids. */
    int pick = (int)s_range(0, 99);
    if (pick < 40) {
        s_add(b, " WHERE id = ");
        s_const(b, s_id());
    } else if (pick < 55) {
        s_add(b, " WHERE id IN (");
        s_int_list(b, S_ID_MIN, S_ID_MAX);
        s_add(b, ")");
    } else {
        long long lo = s_id();
        s_add(b, " WHERE id BETWEEN ");
        s_const(b, lo);
        s_add(b, " AND ");
        s_const(b, lo + s_range(0, 30));
        if (s_pct(70)) {
            s_add(b, " AND ");
            s_pred(b, (int)s_range(0, 2));
        }
    }
    s_returning(b, sorted);
}

/* SELECT of rows: a projection, a WHERE, ORDER BY ... id, LIMIT/OFFSET. */
static void
s_gen_select(s_buf_t *b)
{
    bool alias = false; /* the first expression is x1 */
    s_add(b, "SELECT ");
    switch (s_range(0, 3)) {
    case 0:
        s_add(b, "*");
        break;
    case 1:
        s_add(b, "id, a, b, s");
        break;
    default: {
        s_add(b, "id");
        int n = (int)s_range(1, 3);
        for (int i = 0; i < n; i++) {
            s_buf_t e = {0};
            switch (s_range(0, 2)) {
            case 0:
                s_iexpr(&e, 3);
                break;
            case 1:
                s_texpr(&e, 2);
                break;
            default: /* a boolean, compared as 1/0 */
                s_pred(&e, 2);
                break;
            }
            s_add(b, ", %s AS x%d", e.p, i + 1);
            s_buf_free(&e);
        }
        alias = true;
        break;
    }
    }
    s_add(b, " FROM t");
    s_where(b, true);
    s_add(b, " ORDER BY ");
    if (alias && s_pct(35)) {
        s_add(b, "x1%s NULLS %s, ", s_pct(50) ? " DESC" : "",
              s_pct(50) ? "FIRST" : "LAST");
    } else if (s_pct(35)) {
        static const char *keys[] = {"a", "b", "s", "a + b", "length(s)"};
        s_add(b, "%s%s NULLS %s, ", keys[s_range(0, 4)], s_pct(50) ? " DESC" : "",
              s_pct(50) ? "FIRST" : "LAST");
    }
    s_add(b, "id%s", s_pct(25) ? " DESC" : "");
    if (s_pct(30)) {
        s_add(b, " LIMIT %d", (int)s_range(0, 30));
        if (s_pct(40))
            s_add(b, " OFFSET %d", (int)s_range(0, 40));
    }
}

/* An aggregate item: count(*), count(col), sum/min/max of an integer
 * expression, min/max of text. */
static void
s_agg_item(s_buf_t *b)
{
    s_buf_t e = {0};
    switch (s_range(0, 7)) {
    case 0:
        s_add(b, "count(*)");
        break;
    case 7: { /* expressions over aggregates */
        static const char *forms[] = {"max(a) - min(a)",     "count(*) + 1",
                                      "sum(b) * 2",          "coalesce(sum(a), 0)",
                                      "count(a) - count(b)", "max(s) || min(s)"};
        s_add(b, "%s", forms[s_range(0, 5)]);
        break;
    }
    case 1: {
        static const char *cols[] = {"a", "b", "s", "id"};
        s_add(b, "count(%s)", cols[s_range(0, 3)]);
        break;
    }
    case 2:
    case 3:
        s_iexpr(&e, 2);
        s_add(b, "sum(%s)", e.p);
        break;
    case 4:
        s_iexpr(&e, 2);
        s_add(b, "%s(%s)", s_pct(50) ? "min" : "max", e.p);
        break;
    case 5:
        s_add(b, "%s(s)", s_pct(50) ? "min" : "max");
        break;
    default:
        s_texpr(&e, 1);
        s_add(b, "%s(%s)", s_pct(50) ? "min" : "max", e.p);
        break;
    }
    s_buf_free(&e);
}

static void
s_gen_aggregate(s_buf_t *b)
{
    /* Hobbes groups by plain columns only (0A000 otherwise). */
    static const char *groups[] = {"a", "b", "s"};
    bool grouped = s_pct(55);
    /* Sometimes the group key is not selected: then ORDER BY every
     * column, so that rows in a tie are equal anyway. */
    bool keyed = grouped && s_pct(75);
    const char *g = groups[s_range(0, 2)];
    s_add(b, "SELECT ");
    if (keyed)
        s_add(b, "%s, ", g);
    int n = (int)s_range(1, 4);
    for (int i = 0; i < n; i++) {
        if (i)
            s_add(b, ", ");
        s_agg_item(b);
    }
    s_add(b, " FROM t");
    s_where(b, true);
    if (!grouped)
        return;
    s_add(b, " GROUP BY %s", g);
    if (s_pct(35)) {
        static const char *having[] = {"count(*) > %d", "sum(a) > %d", "max(b) < %d",
                                       "count(s) >= %d", "min(a) + max(b) > %d"};
        s_add(b, " HAVING ");
        s_add(b, having[s_range(0, 4)], (int)s_range(-100, 300) / (s_pct(50) ? 1 : 100));
        if (s_pct(30))
            s_add(b, " AND count(*) > 1");
    }
    if (!keyed) {
        s_add(b, " ORDER BY ");
        for (int i = 1; i <= n; i++)
            s_add(b, "%s%d NULLS FIRST", i > 1 ? ", " : "", i);
    } else if (s_pct(30)) {
        s_add(b, " ORDER BY 2 DESC NULLS LAST, 1 NULLS FIRST");
    } else {
        s_add(b, " ORDER BY 1 NULLS FIRST");
    }
}

/* A BEGIN ... COMMIT block of 2..4 statements (writes, reads, aggregates),
 * run as one Hobbes request; in SQLite statement by statement inside a
 * transaction, rolled back when one fails. Reads and non-key writes must
 * see the block's earlier writes. */
static void
s_block(hb_sql_t *db, sqlite3 *lite)
{
    int n = (int)s_range(2, 4);
    s_buf_t stmts[4] = {{0}};
    bool sorted[4] = {false};
    for (int i = 0; i < n; i++) {
        switch (s_range(0, 7)) {
        case 0:
            s_gen_insert(&stmts[i], &sorted[i]);
            break;
        case 1:
        case 2:
            s_gen_update(&stmts[i], &sorted[i]);
            break;
        case 3:
            s_gen_delete(&stmts[i], &sorted[i]);
            break;
        case 4:
            s_gen_select(&stmts[i]);
            break;
        case 5:
            s_gen_aggregate(&stmts[i]);
            break;
        case 6:
            s_gen_insert_select(&stmts[i], &sorted[i]);
            break;
        default:
            s_add(&stmts[i], "SELECT id, a, b, s FROM t WHERE id = %lld", s_id());
            break;
        }
    }
    s_buf_t text = {0};
    s_add(&text, "BEGIN");
    for (int i = 0; i < n; i++)
        s_add(&text, "; %s", stmts[i].p);
    s_add(&text, "; COMMIT");

    hb_sql_result_t *res = s_hobbes_exec(db, text.p, s_seed);
    const hb_sql_result_t *hr[8] = {0};
    int nh = 0;
    for (const hb_sql_result_t *r = res; r && nh < 8; r = r->next)
        hr[nh++] = r;
    const hb_sql_result_t *hlast = hr[nh - 1];

    /* SQLite: each statement, stopping at the first that fails. */
    s_res_t l[4], h = {.count = -1}, tmp = {.count = -1};
    for (int i = 0; i < n; i++)
        memset(&l[i], 0, sizeof l[i]);
    s_lite_exec(lite, "BEGIN", &tmp);
    IT_CHECK(strcmp(tmp.state, "00000") == 0, "sqlite BEGIN: %s", tmp.msg);
    int failed = -1; /* the statement SQLite failed at */
    for (int i = 0; i < n; i++) {
        s_lite_exec(lite, stmts[i].p, &l[i]);
        if (sorted[i])
            s_res_sort(&l[i]);
        if (strcmp(l[i].state, "00000") != 0) {
            failed = i;
            break;
        }
    }
    s_lite_exec(lite, failed >= 0 ? "ROLLBACK" : "COMMIT", &tmp);
    IT_CHECK(strcmp(tmp.state, "00000") == 0, "sqlite end of block: %s", tmp.msg);

    if (failed >= 0 || strcmp(hlast->sqlstate, "00000") != 0) {
        /* Failed in both with the same SQLSTATE (an aborted block changes
         * nothing in either), or a mismatch. */
        s_from_hobbes(hlast, &h);
        s_res_t *lf = failed >= 0 ? &l[failed] : &tmp;
        if (failed < 0) {
            s_res_clear(&tmp);
            snprintf(tmp.state, sizeof tmp.state, "00000");
            snprintf(tmp.msg, sizeof tmp.msg, "(the block commits)");
        }
        if (strcmp(h.state, lf->state) != 0) {
            if (failed >= 0)
                fprintf(stderr, "sqlite failed at block statement %d: %s\n", failed + 1,
                        stmts[failed].p);
            s_mismatch(text.p, &h, lf, "block outcome");
        }
    } else {
        /* Committed in both: result 0 is BEGIN, statement i is i + 1. */
        if (nh != n + 2) {
            s_res_clear(&h);
            snprintf(h.state, sizeof h.state, "00000");
            snprintf(h.msg, sizeof h.msg, "%d results for %d statements", nh, n + 2);
            s_mismatch(text.p, &h, &l[0], "block result count");
        }
        for (int i = 0; i < n; i++) {
            s_from_hobbes(hr[i + 1], &h);
            if (sorted[i])
                s_res_sort(&h);
            if (!s_res_same(&h, &l[i])) {
                fprintf(stderr, "block statement %d: %s\n", i + 1, stmts[i].p);
                s_mismatch(text.p, &h, &l[i], "block statement");
            }
        }
    }
    if (strcmp(hlast->sqlstate, "00000") != 0) {
        /* As in PostgreSQL, a block that failed before its COMMIT stays
         * open, aborted (25P02), until ROLLBACK; after a failed COMMIT the
         * ROLLBACK is a no-op. */
        hb_sql_result_t *rb = s_hobbes_exec(db, "ROLLBACK", s_seed);
        hb_sql_result_free(&rb);
    }
    hb_sql_result_free(&res);
    s_res_clear(&h);
    s_res_clear(&tmp);
    for (int i = 0; i < n; i++) {
        s_res_clear(&l[i]);
        s_buf_free(&stmts[i]);
    }
    s_buf_free(&text);
}

/* 2..3 statements sent as one request without BEGIN: each runs as its
 * own transaction, and the first error ends the request (as PostgreSQL's
 * simple query protocol does). */
static void
s_multi(hb_sql_t *db, sqlite3 *lite)
{
    int n = (int)s_range(2, 3);
    s_buf_t stmts[3] = {{0}};
    bool sorted[3] = {false};
    for (int i = 0; i < n; i++) {
        switch (s_range(0, 5)) {
        case 0:
            s_gen_insert(&stmts[i], &sorted[i]);
            break;
        case 1:
            s_gen_update(&stmts[i], &sorted[i]);
            break;
        case 2:
            s_gen_delete(&stmts[i], &sorted[i]);
            break;
        case 3:
            s_gen_select(&stmts[i]);
            break;
        case 4:
            s_gen_insert_select(&stmts[i], &sorted[i]);
            break;
        default:
            s_gen_aggregate(&stmts[i]);
            break;
        }
    }
    s_buf_t text = {0};
    for (int i = 0; i < n; i++)
        s_add(&text, "%s%s", i ? "; " : "", stmts[i].p);
    hb_sql_result_t *res = s_hobbes_exec(db, text.p, s_seed);
    const hb_sql_result_t *r = res;
    s_res_t h = {.count = -1}, l = {.count = -1};
    for (int i = 0; i < n; i++) {
        if (r && s_spurious_40001(r)) { /* see s_spurious_40001: the request ends */
            s_skipped++;
            r = r->next;
            break;
        }
        s_lite_exec(lite, stmts[i].p, &l);
        if (!r) {
            s_res_clear(&h);
            snprintf(h.state, sizeof h.state, "(none)");
            fprintf(stderr, "request statement %d: %s\n", i + 1, stmts[i].p);
            s_mismatch(text.p, &h, &l, "request: missing statement result");
        }
        s_from_hobbes(r, &h);
        if (sorted[i]) {
            s_res_sort(&h);
            s_res_sort(&l);
        }
        if (!s_res_same(&h, &l)) {
            fprintf(stderr, "request statement %d: %s\n", i + 1, stmts[i].p);
            s_mismatch(text.p, &h, &l, "request statement");
        }
        r = r->next;
        if (strcmp(l.state, "00000") != 0)
            break;
    }
    if (r) {
        s_from_hobbes(r, &h);
        s_res_clear(&l);
        snprintf(l.state, sizeof l.state, "(none)");
        s_mismatch(text.p, &h, &l, "request: a result after the end");
    }
    hb_sql_result_free(&res);
    s_res_clear(&h);
    s_res_clear(&l);
    for (int i = 0; i < n; i++)
        s_buf_free(&stmts[i]);
    s_buf_free(&text);
}

/* Secondary indexes: created and dropped during the run (Hobbes fills a
 * new index from the existing rows, then every write maintains it; reads
 * by the leading columns use it). Results must not change. */
/* Single and multi-column indexes (rows with NULLs in indexed columns
 * have entries too). */
static const char *s_index_cols[] = {"a", "b", "s", "s, b", "b, a"};
#define S_NINDEX ((int)(sizeof s_index_cols / sizeof *s_index_cols))
static bool s_index_on[S_NINDEX];
static int s_index_ddl;

static void
s_indexes(hb_sql_t *db, sqlite3 *lite, bool create)
{
    int k = (int)s_range(0, S_NINDEX - 1);
    for (int tries = 0; tries < S_NINDEX && s_index_on[k] != !create; tries++)
        k = (k + 1) % S_NINDEX;
    if (s_index_on[k] == create)
        return;
    char sql[128];
    if (create)
        snprintf(sql, sizeof sql, "CREATE INDEX t_i%d ON t (%s)", k, s_index_cols[k]);
    else
        snprintf(sql, sizeof sql, "DROP INDEX t_i%d", k);
    s_nparams = 0;
    s_both(db, lite, sql, false);
    s_index_on[k] = create;
    s_nindexes += create ? 1 : -1;
    s_index_ddl++;
}

/* Compares the whole table. */
static void
s_compare_table(hb_sql_t *db, sqlite3 *lite)
{
    s_nparams = 0;
    s_both(db, lite, "SELECT id, a, b, s FROM t ORDER BY id", false);
}

int
main(int argc, char **argv)
{
    IT_CHECK(argc >= 2, "usage: it_sql_diff BUILD_ROOT [STATEMENTS]");
    int nstmts = argc >= 3 ? atoi(argv[2]) : S_STMTS;
    s_seed = hb_test_seed("it_sql_diff");
    if (getenv("HOBBES_SQL_TRACE"))
        s_trace = fopen(getenv("HOBBES_SQL_TRACE"), "w");
    s_rng = s_seed;
    for (int i = 0; i < 4; i++) /* spread small seeds */
        s_next();

    it_cluster_t c;
    IT_CHECK(it_cluster_init_sql(&c, argv[1], 1, 3, "calvin", 5) == 0, "init");
    IT_CHECK(it_cluster_up(&c) == 0, "cluster up");
    char err[256];
    hb_sql_t *db = hb_sql_connect(c.config, 0, err, sizeof err);
    IT_CHECK(db != NULL, "connect: %s", err);
    sqlite3 *lite = NULL;
    IT_CHECK(sqlite3_open(":memory:", &lite) == SQLITE_OK, "sqlite3_open");
    IT_CHECK(sqlite3_exec(lite, "PRAGMA case_sensitive_like = ON", NULL, NULL, NULL) ==
                 SQLITE_OK,
             "pragma");

    s_both(db, lite,
           "CREATE TABLE t (id integer PRIMARY KEY, a integer, b integer, s text)",
           false);

    /* Load: S_LOAD_ROWS distinct ids in 4 multi-row INSERTs. */
    s_buf_t sql = {0};
    int loaded = 0;
    while (loaded < S_LOAD_ROWS) {
        s_reset(&sql);
        s_add(&sql, "INSERT INTO t VALUES ");
        for (int i = 0; i < S_LOAD_ROWS / 4 && loaded < S_LOAD_ROWS; i++, loaded++) {
            long long id;
            do
                id = s_id();
            while (s_present[id - S_ID_MIN]);
            s_present[id - S_ID_MIN] = true;
            s_add(&sql, "%s", i ? ", " : "");
            s_values_row(&sql, id, "iabs");
        }
        s_both(db, lite, sql.p, false);
    }
    s_refresh(lite);
    for (int i = (int)s_range(-1, 2); i > 0; i--)
        s_indexes(db, lite, true);

    int nwrites = 0, nreads = 0, nblocks = 0, nmulti = 0, nerrors = 0;
    for (s_stmt_no = 1; s_stmt_no <= nstmts; s_stmt_no++) {
        s_reset(&sql);
        s_nparams = 0;
        if (s_pct(1))
            s_indexes(db, lite, s_pct(60));
        if (s_stmt_no % 500 == 0) { /* keeps s_assign_int's bound for long runs */
            s_both(db, lite, "UPDATE t SET a = a % 1000, b = b % 1000", false);
            s_refresh(lite);
        }
        s_use_params = s_pct(20);
        bool sorted = false, write = true;
        int pick = (int)s_range(0, 99);
        /* Lean towards inserts or deletes to keep ~S_LOAD_ROWS rows. */
        int ins = s_nrows < S_LOAD_ROWS * 3 / 4   ? 35
                  : s_nrows > S_LOAD_ROWS * 5 / 4 ? 12
                                                  : 22;
        int del = s_nrows > S_LOAD_ROWS * 5 / 4 ? 22 : 10;
        if (pick < 8) {
            s_use_params = false;
            s_nparams = 0;
            if (pick < 5) {
                s_block(db, lite);
                nblocks++;
            } else {
                s_multi(db, lite);
                nmulti++;
            }
            s_refresh(lite);
            continue;
        }
        if (pick < 8 + ins && s_pct(15))
            s_gen_insert_select(&sql, &sorted);
        else if (pick < 8 + ins)
            s_gen_insert(&sql, &sorted);
        else if (pick < 8 + ins + 22)
            s_gen_update(&sql, &sorted);
        else if (pick < 8 + ins + 22 + del)
            s_gen_delete(&sql, &sorted);
        else if (pick < 85) {
            s_gen_select(&sql);
            write = false;
        } else {
            s_gen_aggregate(&sql);
            write = false;
        }
        if (!s_both(db, lite, sql.p, sorted))
            nerrors++;
        if (write) {
            nwrites++;
            s_refresh(lite);
        } else {
            nreads++;
        }
    }
    s_compare_table(db, lite);
    printf(
        "it_sql_diff: %d statements (%d writes, %d reads, %d blocks, %d multi-statement "
        "requests, %d index DDL; %d failed alike; %lld rows written, %lld read; index "
        "40001: %d retried, %d skipped), %d rows at the end, all equal\n",
        nstmts, nwrites, nreads, nblocks, nmulti, s_index_ddl, nerrors, s_rows_changed,
        s_rows_read, s_retries, s_skipped, s_nrows);

    s_buf_free(&sql);
    sqlite3_close(lite);
    hb_sql_destroy(&db);
    it_cluster_cleanup(&c);
    return 0;
}
