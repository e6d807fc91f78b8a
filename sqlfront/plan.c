/* plan.c — from libpg_query's tree to a Hobbes plan (see plan.h).
 *
 * Expressions compile bottom-up into s_ex_t: the bytecode of the subtree
 * plus what the parent needs to know — its type, whether it is a constant
 * (and which), whether it is a plain column. Constant subtrees are folded
 * by evaluating them here with the same evaluator storage uses, so
 * `VALUES (-1, 'a' || 'b')` reaches storage as finished values, and an
 * untyped literal next to a typed column is converted to the column's type
 * at plan time (22P02 names the bad literal, as PostgreSQL does).
 *
 * Primary-key lookups come from the WHERE clause's top-level AND terms of
 * the form `pkcol = constant`: all key columns bound gives a point read or
 * write on one partition; a bound prefix that covers the partition key
 * gives a range on one partition; anything else reads the table's range on
 * every partition and filters.
 *
 * Entry point: sqlf_plan.
 */
#include "plan.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hb_alloc.h"
#include "hb_arena.h"
#include "hb_mp.h"
#include "hb_rc.h"


/* ------------------------------------------------------------------ */
/* Arena                                                                */
/* ------------------------------------------------------------------ */

void *
sqlf_stmt_alloc(void *arg, size_t size)
{
    sqlf_stmt_t *st = arg;
    return hb_arena_alloc(&st->arena_, size);
}

void
sqlf_stmt_free(sqlf_stmt_t *st)
{
    if (st->sub) {
        sqlf_stmt_free(st->sub);
        hb_free(st->sub);
    }
    hb_arena_free((hb_arena_t **)&st->arena_);
    msgpack_sbuffer_destroy(&st->ops);
    msgpack_sbuffer_destroy(&st->ddl_def);
    memset(st, 0, sizeof *st);
}

/* ------------------------------------------------------------------ */
/* Row ids                                                              */
/* ------------------------------------------------------------------ */

int64_t
sqlf_rowid_next(sqlf_rowid_t *g)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - SQLF_ROWID_EPOCH_US;
    uint64_t t = us > 0 ? (uint64_t)us : 0;
    if (t <= g->last)
        t = g->last + 1; /* several per microsecond, or the clock went back */
    t &= (1ULL << SQLF_ROWID_TIME_BITS) - 1;
    g->last = t;
    return (int64_t)((g->node & SQLF_ROWID_NODE_MASK) << SQLF_ROWID_TIME_BITS | t);
}

/* ------------------------------------------------------------------ */
/* Compile context                                                      */
/* ------------------------------------------------------------------ */

typedef struct {
    uint8_t *p;     /* bytecode (arena) */
    uint32_t len;
    hb_type_t type; /* inferred type; HB_T_UNKNOWN for untyped literals and NULL */
    bool is_const;  /* a constant: cval */
    hb_val_t cval;
    int col;        /* a plain column reference: its index; else -1 */
    int tab;        /* a plain column reference in a join: its table; else -1 */
    int maxtab;     /* the highest join table it reads, -1 for none */
    int param;      /* Describe: a bare $n (n), planned as NULL; else 0 */
} s_ex_t;

typedef struct {
    sqlf_stmt_t *st;
    const sqlf_catalog_t *cat;
    const char *sql;
    const hb_val_t *params;
    uint32_t nparams;
    const char (*pnames)[SQLF_NAME_MAX]; /* names of $1..$n (a procedure body), or NULL */
    hb_sqlerr_t *err;
    const sqlf_table_t *t;   /* scope table, or NULL */
    const char *alias;       /* name the scope table is referred to by */
    bool excluded;           /* EXCLUDED.c is allowed (ON CONFLICT DO UPDATE) */
    bool agg_mode;           /* compiling over the group row */
    bool in_agg;             /* inside an aggregate's argument */
    bool in_default;         /* a column DEFAULT: CURRENT_TIMESTAMP stays a node */
    /* A join: the tables of FROM, each with its alias and the offset of
     * its columns in the joined row (nscope 0: one table, t). */
    uint32_t nscope;
    const sqlf_table_t *scope[SQLF_MAX_JOIN];
    const char *salias[SQLF_MAX_JOIN];
    uint32_t soff[SQLF_MAX_JOIN];
    int64_t now_us;          /* CURRENT_TIMESTAMP of this statement */
    int depth;
    sqlf_rowid_t *rowids;  /* row ids for tables without a key, or NULL */
    sqlf_describe_t *desc; /* Describe: $n have no values; their types go here */
    int32_t coerce_mod;    /* typmod for the next literal made a char(n) (s_binary) */
} s_cc_t;

static hb_rc_t
s_err(s_cc_t *cc, int32_t loc, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static hb_rc_t
s_err(s_cc_t *cc, int32_t loc, const char *sqlstate, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (loc >= 0)
        return hb_sqlerr_set(cc->err, sqlstate, "%s at character %d", msg, loc + 1);
    return hb_sqlerr_set(cc->err, sqlstate, "%s", msg);
}

/* Describe: $n (e->param) is used as type t, the first use that says. */
static void
s_note_param(s_cc_t *cc, const s_ex_t *e, hb_type_t t)
{
    if (cc->desc && e->param > 0 && t != HB_T_UNKNOWN &&
        cc->desc->ptypes[e->param - 1] == HB_T_UNKNOWN)
        cc->desc->ptypes[e->param - 1] = t;
}

/* Copies an sbuffer's bytes into the arena as an s_ex_t. */
static s_ex_t
s_finish(s_cc_t *cc, msgpack_sbuffer *sb, hb_type_t type)
{
    s_ex_t e = {.type = type, .col = -1, .tab = -1, .maxtab = -1};
    e.p = sqlf_stmt_alloc(cc->st, sb->size);
    memcpy(e.p, sb->data, sb->size);
    e.len = (uint32_t)sb->size;
    msgpack_sbuffer_destroy(sb);
    return e;
}

static s_ex_t
s_mk_const(s_cc_t *cc, const hb_val_t *v, hb_type_t type)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* Strings are copied into the arena so the constant outlives its source. */
    hb_val_t c = *v;
    if ((c.type == HB_VAL_STR || c.type == HB_VAL_BIN) && c.u.s.len) {
        uint8_t *p = sqlf_stmt_alloc(cc->st, c.u.s.len);
        memcpy(p, c.u.s.ptr, c.u.s.len);
        c.u.s.ptr = p;
    }
    hb_expr_pack_const(&pk, &c);
    s_ex_t e = s_finish(cc, &sb, type);
    e.is_const = true;
    e.cval = c;
    return e;
}

static s_ex_t
s_mk_col(s_cc_t *cc, uint32_t col, hb_type_t type)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    hb_expr_pack_col(&pk, col);
    s_ex_t e = s_finish(cc, &sb, type);
    e.col = (int)col;
    return e;
}

/* Builds [op, pre..., kids...] where pre are integer fields. Folds the
 * node to a constant when every kid is one. */
static hb_rc_t
s_mk_op(s_cc_t *cc, hb_ex_op_t op, const int64_t *pre, uint32_t npre, const s_ex_t *kids,
        uint32_t nkids, hb_type_t type, int32_t loc, s_ex_t *out)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    hb_expr_pack_op(&pk, op, 1 + npre + nkids);
    /* IN puts its count after the first operand; CAST its type after. */
    bool all_const = true;
    for (uint32_t k = 0; k < nkids; k++)
        all_const = all_const && kids[k].is_const;
    if (op == HB_EX_IN || op == HB_EX_CAST) {
        msgpack_sbuffer_write(&sb, (const char *)kids[0].p, kids[0].len);
        for (uint32_t i = 0; i < npre; i++)
            msgpack_pack_int64(&pk, pre[i]);
        for (uint32_t k = 1; k < nkids; k++)
            msgpack_sbuffer_write(&sb, (const char *)kids[k].p, kids[k].len);
    } else {
        for (uint32_t i = 0; i < npre; i++)
            msgpack_pack_int64(&pk, pre[i]);
        for (uint32_t k = 0; k < nkids; k++)
            msgpack_sbuffer_write(&sb, (const char *)kids[k].p, kids[k].len);
    }
    s_ex_t e = s_finish(cc, &sb, type);
    for (uint32_t k = 0; k < nkids; k++)
        if (kids[k].maxtab > e.maxtab)
            e.maxtab = kids[k].maxtab;
    if (all_const) {
        hb_expr_env_t env = {.alloc = sqlf_stmt_alloc, .alloc_arg = cc->st, .err = cc->err,
                             .now_us = cc->now_us};
        hb_val_t v;
        if (hb_expr_eval(e.p, e.len, &env, &v) != HB_OK) {
            if (loc >= 0) {
                char m[sizeof cc->err->msg];
                snprintf(m, sizeof m, "%s", cc->err->msg);
                snprintf(cc->err->msg, sizeof cc->err->msg, "%s at character %d", m, loc + 1);
            }
            return HB_INVALID;
        }
        e = s_mk_const(cc, &v, type);
    }
    *out = e;
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Names and types                                                      */
/* ------------------------------------------------------------------ */

static const char *
s_str(const PgQuery__Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string->sval : NULL;
}

static hb_rc_t
s_name(s_cc_t *cc, const char *name, int32_t loc, char out[SQLF_NAME_MAX])
{
    if (!name || !*name)
        return s_err(cc, loc, "42601", "empty name");
    if (strlen(name) >= SQLF_NAME_MAX)
        return s_err(cc, loc, "42622", "identifier \"%.40s...\" is too long (at most %d bytes)",
                     name, SQLF_NAME_MAX - 1);
    for (const char *q = name; *q; q++)
        if ((unsigned char)*q < 0x20)
            return s_err(cc, loc, "42602", "invalid name: control characters are not allowed");
    snprintf(out, SQLF_NAME_MAX, "%s", name);
    return HB_OK;
}

/* Resolves a RangeVar to a table (42P01 if none). */
static hb_rc_t
s_table(s_cc_t *cc, const PgQuery__RangeVar *rv, const sqlf_table_t **t)
{
    *t = NULL;
    if (rv->schemaname && *rv->schemaname && strcmp(rv->schemaname, "public") != 0)
        return s_err(cc, rv->location, "3F000", "schema \"%s\" does not exist", rv->schemaname);
    *t = sqlf_catalog_find(cc->cat, rv->relname);
    if (!*t)
        return s_err(cc, rv->location, "42P01", "relation \"%s\" does not exist", rv->relname);
    return HB_OK;
}

static hb_rc_t
s_type(s_cc_t *cc, const PgQuery__TypeName *tn, hb_type_t *type, int32_t *typmod)
{
    const char *name = NULL;
    for (size_t i = 0; i < tn->n_names; i++)
        name = s_str(tn->names[i]);
    if (!name)
        return s_err(cc, tn->location, "42601", "bad type name");
    if (tn->n_array_bounds)
        return s_err(cc, tn->location, "0A000", "array types are not supported");
    int64_t mod = -1;
    if (tn->n_typmods >= 1 && tn->typmods[0]->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        tn->typmods[0]->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
        mod = tn->typmods[0]->a_const->ival->ival;
    static const struct {
        const char *name;
        hb_type_t type;
    } map[] = {
        {"int2", HB_T_INT2},     {"smallint", HB_T_INT2}, {"int4", HB_T_INT4},
        {"int", HB_T_INT4},      {"integer", HB_T_INT4},  {"int8", HB_T_INT8},
        {"bigint", HB_T_INT8},   {"bool", HB_T_BOOL},     {"boolean", HB_T_BOOL},
        {"float4", HB_T_FLOAT4}, {"real", HB_T_FLOAT4},   {"float8", HB_T_FLOAT8},
        {"text", HB_T_TEXT},     {"varchar", HB_T_VARCHAR}, {"bpchar", HB_T_CHAR},
        {"char", HB_T_CHAR},     {"bytea", HB_T_BYTEA},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (strcmp(map[i].name, name) == 0) {
            *type = map[i].type;
            *typmod = 0;
            if (*type == HB_T_VARCHAR || *type == HB_T_CHAR) {
                if (mod == 0 || mod > 10485760)
                    return s_err(cc, tn->location, "22023", "length for type %s must be "
                                                            "between 1 and 10485760",
                                 name);
                *typmod = mod > 0 ? (int32_t)mod : (*type == HB_T_CHAR ? 1 : 0);
            }
            return HB_OK;
        }
    }
    if (strcmp(name, "numeric") == 0 || strcmp(name, "decimal") == 0) {
        int64_t scale = 0;
        if (tn->n_typmods >= 2 && tn->typmods[1]->node_case == PG_QUERY__NODE__NODE_A_CONST &&
            tn->typmods[1]->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
            scale = tn->typmods[1]->a_const->ival->ival;
        *type = HB_T_NUMERIC;
        *typmod = 0;
        if (mod < 0)
            return HB_OK; /* unconstrained */
        if (mod < 1 || mod > 18)
            return s_err(cc, tn->location, mod > 18 ? "0A000" : "22023",
                         "NUMERIC precision %" PRId64 " must be between 1 and 18 here", mod);
        if (scale < 0 || scale > mod)
            return s_err(cc, tn->location, "22023",
                         "NUMERIC scale %" PRId64 " must be between 0 and precision %" PRId64,
                         scale, mod);
        *typmod = (int32_t)(mod << 16 | scale);
        return HB_OK;
    }
    if (strcmp(name, "date") == 0) {
        *type = HB_T_DATE;
        *typmod = 0;
        return HB_OK;
    }
    if (strcmp(name, "timestamp") == 0 || strcmp(name, "timestamptz") == 0) {
        /* timestamptz is kept as a timestamp in UTC (TimeZone is UTC). */
        *type = HB_T_TIMESTAMP;
        *typmod = 0;
        return HB_OK;
    }
    return s_err(cc, tn->location, "42704", "type \"%s\" does not exist", name);
}

/* ------------------------------------------------------------------ */
/* Expressions                                                          */
/* ------------------------------------------------------------------ */

static hb_rc_t s_expr(s_cc_t *cc, const PgQuery__Node *n, s_ex_t *out);
static hb_rc_t s_now(s_cc_t *cc, bool date, int32_t loc, s_ex_t *out);

/* Converts an untyped constant to type t (plan-time 22P02). */
static hb_rc_t
s_coerce_const(s_cc_t *cc, s_ex_t *e, hb_type_t t, int32_t loc)
{
    s_note_param(cc, e, t);
    if (!e->is_const || e->type != HB_T_UNKNOWN || t == HB_T_UNKNOWN ||
        e->cval.type == HB_VAL_NIL)
        return HB_OK;
    hb_val_t v;
    if (hb_val_coerce(&e->cval, t, t == HB_T_CHAR ? cc->coerce_mod : 0, sqlf_stmt_alloc,
                      cc->st, &v, cc->err) != HB_OK) {
        if (loc >= 0) {
            char m[sizeof cc->err->msg];
            snprintf(m, sizeof m, "%s", cc->err->msg);
            snprintf(cc->err->msg, sizeof cc->err->msg, "%s at character %d", m, loc + 1);
        }
        return HB_INVALID;
    }
    *e = s_mk_const(cc, &v, t);
    return HB_OK;
}

static bool
s_is_int(hb_type_t t)
{
    return t == HB_T_INT2 || t == HB_T_INT4 || t == HB_T_INT8;
}

static bool
s_is_text(hb_type_t t)
{
    return t == HB_T_TEXT || t == HB_T_VARCHAR || t == HB_T_CHAR;
}

static hb_type_t
s_arith_type(hb_ex_op_t op, hb_type_t a, hb_type_t b)
{
    if (a == HB_T_DATE || b == HB_T_DATE)
        return op == HB_EX_SUB && a == b ? HB_T_INT4 : HB_T_DATE;
    if (a == HB_T_FLOAT4 || a == HB_T_FLOAT8 || b == HB_T_FLOAT4 || b == HB_T_FLOAT8)
        return HB_T_FLOAT8;
    if (a == HB_T_NUMERIC || b == HB_T_NUMERIC)
        return HB_T_NUMERIC;
    if (s_is_int(a) && s_is_int(b))
        return a > b ? a : b;
    return s_is_int(a) ? a : s_is_int(b) ? b : HB_T_UNKNOWN;
}

/* The typmod of a plain column reference of the scope table, else 0. */
static int32_t
s_col_typmod(const s_cc_t *cc, const s_ex_t *e)
{
    if (e->col < 0)
        return 0;
    if (cc->nscope)
        return e->tab >= 0 && (uint32_t)e->tab < cc->nscope &&
                       (uint32_t)e->col >= cc->soff[e->tab] &&
                       (uint32_t)e->col - cc->soff[e->tab] < cc->scope[e->tab]->ncols
                   ? cc->scope[e->tab]->cols[e->col - cc->soff[e->tab]].typmod
                   : 0;
    return cc->t && (uint32_t)e->col < cc->t->ncols ? cc->t->cols[e->col].typmod : 0;
}

static hb_rc_t
s_binary(s_cc_t *cc, hb_ex_op_t op, s_ex_t *a, s_ex_t *b, int32_t loc, s_ex_t *out)
{
    hb_rc_t rc;
    /* A literal compared with a char(n) column is a char(n) too: padded,
     * so 'ab' equals the stored 'ab  ' (bpchar semantics for =, <, ...). */
    if (op >= HB_EX_EQ && op <= HB_EX_GE) {
        if (a->type == HB_T_CHAR && b->is_const && b->type == HB_T_UNKNOWN)
            cc->coerce_mod = s_col_typmod(cc, a);
        else if (b->type == HB_T_CHAR && a->is_const && a->type == HB_T_UNKNOWN)
            cc->coerce_mod = s_col_typmod(cc, b);
    }
    rc = s_coerce_const(cc, a, b->type, loc);
    if (rc == HB_OK)
        rc = s_coerce_const(cc, b, a->type, loc);
    cc->coerce_mod = 0;
    if (rc)
        return rc;
    hb_type_t t;
    if (op >= HB_EX_ADD && op <= HB_EX_MOD)
        t = s_arith_type(op, a->type, b->type);
    else if (op == HB_EX_CONCAT)
        t = HB_T_TEXT;
    else
        t = HB_T_BOOL;
    if (op >= HB_EX_ADD && op <= HB_EX_MOD &&
        (s_is_text(a->type) || s_is_text(b->type) || a->type == HB_T_BOOL ||
         b->type == HB_T_BOOL || a->type == HB_T_TIMESTAMP || b->type == HB_T_TIMESTAMP ||
         ((a->type == HB_T_DATE || b->type == HB_T_DATE) &&
          !((op == HB_EX_ADD || op == HB_EX_SUB) &&
            (s_is_int(a->type) || s_is_int(b->type) || (a->type == b->type && op == HB_EX_SUB))))))
        return s_err(cc, loc, "42883", "operator does not exist: %s %s %s",
                     hb_type_name(a->type), op == HB_EX_ADD ? "+" : op == HB_EX_SUB ? "-"
                                                               : op == HB_EX_MUL ? "*"
                                                               : op == HB_EX_DIV ? "/" : "%",
                     hb_type_name(b->type));
    s_ex_t kids[2] = {*a, *b};
    return s_mk_op(cc, op, NULL, 0, kids, 2, t, loc, out);
}

static hb_rc_t
s_const(s_cc_t *cc, const PgQuery__AConst *c, s_ex_t *out)
{
    hb_val_t v = hb_val_nil();
    hb_type_t t = HB_T_UNKNOWN;
    if (c->isnull) {
        *out = s_mk_const(cc, &v, HB_T_UNKNOWN);
        return HB_OK;
    }
    switch (c->val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL:
        v = hb_val_int(c->ival->ival);
        t = HB_T_INT4;
        break;
    case PG_QUERY__A__CONST__VAL_FVAL: {
        /* PostgreSQL reads an integer too big for int4 as a "float" node:
         * keep integers exact when they fit int64. */
        const char *s = c->fval->fval;
        char *end;
        long long ll = strtoll(s, &end, 10);
        hb_sqlerr_t ignore;
        if (*end == '\0') {
            v = hb_val_int(ll);
            t = HB_T_INT8;
        } else if (!strpbrk(s, "eE") &&
                   hb_val_coerce(&(hb_val_t){.type = HB_VAL_STR,
                                             .u.s = {(const uint8_t *)s, (uint32_t)strlen(s)}},
                                 HB_T_NUMERIC, 0, sqlf_stmt_alloc, cc->st, &v, &ignore) == HB_OK) {
            t = HB_T_NUMERIC; /* 1.5 is an exact numeric, as in PostgreSQL */
        } else {
            v.type = HB_VAL_DOUBLE;
            v.u.d = strtod(s, NULL);
            t = HB_T_FLOAT8;
        }
        break;
    }
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
        v.type = HB_VAL_BOOL;
        v.u.b = c->boolval->boolval;
        t = HB_T_BOOL;
        break;
    case PG_QUERY__A__CONST__VAL_SVAL:
        v = hb_val_str(c->sval->sval, (uint32_t)strlen(c->sval->sval));
        t = HB_T_UNKNOWN;
        break;
    default:
        return s_err(cc, c->location, "0A000", "bit-string literals are not supported");
    }
    *out = s_mk_const(cc, &v, t);
    return HB_OK;
}

/* A procedure parameter named in its body (a name no table in scope has):
 * sets *out to its value as a constant and returns true. */
static bool
s_proc_param(s_cc_t *cc, const char *name, s_ex_t *out)
{
    for (uint32_t k = 0; cc->pnames && k < cc->nparams; k++) {
        if (cc->pnames[k][0] && strcmp(cc->pnames[k], name) == 0) {
            const hb_val_t *v = &cc->params[k];
            *out = s_mk_const(cc, v,
                              v->type == HB_VAL_INT      ? HB_T_INT8
                              : v->type == HB_VAL_DEC    ? HB_T_NUMERIC
                              : v->type == HB_VAL_DOUBLE ? HB_T_FLOAT8
                              : v->type == HB_VAL_BOOL   ? HB_T_BOOL
                                                         : HB_T_UNKNOWN);
            return true;
        }
    }
    return false;
}

static hb_rc_t
s_column(s_cc_t *cc, const PgQuery__ColumnRef *cr, s_ex_t *out)
{
    const char *qual = NULL, *name = NULL;
    if (cr->n_fields == 1) {
        name = s_str(cr->fields[0]);
    } else if (cr->n_fields == 2) {
        qual = s_str(cr->fields[0]);
        name = s_str(cr->fields[1]);
    }
    if (!name)
        return s_err(cc, cr->location, "0A000", "this column reference is not supported");
    if (cc->nscope) {
        int tab = -1, c = -1;
        for (uint32_t k = 0; k < cc->nscope; k++) {
            if (qual && strcmp(qual, cc->salias[k]) != 0)
                continue;
            int ck = sqlf_table_col(cc->scope[k], name);
            if (ck < 0)
                continue;
            if (tab >= 0)
                return s_err(cc, cr->location, "42702", "column reference \"%s\" is ambiguous",
                             name);
            tab = (int)k;
            c = ck;
        }
        if (tab < 0 && !qual && s_proc_param(cc, name, out))
            return HB_OK;
        if (tab < 0) {
            for (uint32_t k = 0; qual && k < cc->nscope; k++)
                if (strcmp(qual, cc->salias[k]) == 0)
                    return s_err(cc, cr->location, "42703", "column %s.%s does not exist", qual,
                                 name);
            if (qual)
                return s_err(cc, cr->location, "42P01",
                             "missing FROM-clause entry for table \"%s\"", qual);
            return s_err(cc, cr->location, "42703", "column \"%s\" does not exist", name);
        }
        uint32_t g = cc->soff[tab] + (uint32_t)c;
        hb_type_t ty = cc->scope[tab]->cols[c].type;
        if (cc->agg_mode && !cc->in_agg) {
            for (uint32_t k = 0; k < cc->st->ngroup; k++) {
                hb_mp_reader_t r;
                uint32_t n;
                uint64_t op, col;
                hb_mp_reader_init(&r, cc->st->group[k].p, cc->st->group[k].len);
                if (hb_mp_read_array(&r, &n) == HB_OK && n == 2 &&
                    hb_mp_read_uint(&r, &op) == HB_OK && op == HB_EX_COL &&
                    hb_mp_read_uint(&r, &col) == HB_OK && col == g) {
                    *out = s_mk_col(cc, k, ty);
                    return HB_OK;
                }
            }
            return s_err(cc, cr->location, "42803",
                         "column \"%s.%s\" must appear in the GROUP BY clause or be used in "
                         "an aggregate function",
                         cc->salias[tab], name);
        }
        *out = s_mk_col(cc, g, ty);
        out->tab = tab;
        out->maxtab = tab;
        return HB_OK;
    }
    bool excl = false;
    if (qual) {
        if (cc->excluded && strcmp(qual, "excluded") == 0)
            excl = true;
        else if (!cc->t || strcmp(qual, cc->alias) != 0)
            return s_err(cc, cr->location, "42P01",
                         "missing FROM-clause entry for table \"%s\"", qual);
    }
    int c = cc->t ? sqlf_table_col(cc->t, name) : -1;
    if (c < 0 && !qual && s_proc_param(cc, name, out))
        return HB_OK;
    if (c < 0)
        return s_err(cc, cr->location, "42703", "column \"%s\" does not exist", name);
    if (cc->agg_mode && !cc->in_agg) {
        /* Over the group row: only grouped columns are visible. */
        for (uint32_t g = 0; g < cc->st->ngroup; g++) {
            if (cc->st->group[g].p && cc->st->group[g].type == cc->t->cols[c].type) {
                /* group[] keeps the column index in .len's twin: see s_group */
            }
        }
        const int *gcols = (const int *)cc->st->sort; /* unused placeholder */
        (void)gcols;
        for (uint32_t g = 0; g < cc->st->ngroup; g++) {
            hb_mp_reader_t r;
            uint32_t n;
            uint64_t op, col;
            hb_mp_reader_init(&r, cc->st->group[g].p, cc->st->group[g].len);
            if (hb_mp_read_array(&r, &n) == HB_OK && n == 2 && hb_mp_read_uint(&r, &op) == HB_OK &&
                op == HB_EX_COL && hb_mp_read_uint(&r, &col) == HB_OK && col == (uint64_t)c) {
                *out = s_mk_col(cc, g, cc->t->cols[c].type);
                return HB_OK;
            }
        }
        return s_err(cc, cr->location, "42803",
                     "column \"%s.%s\" must appear in the GROUP BY clause or be used in an "
                     "aggregate function",
                     cc->alias, name);
    }
    *out = s_mk_col(cc, (uint32_t)c + (excl ? cc->t->ncols : 0), cc->t->cols[c].type);
    if (excl)
        out->col = -1;
    return HB_OK;
}

static bool
s_agg_name(const char *name, sqlf_agg_kind_t *k)
{
    static const struct {
        const char *name;
        sqlf_agg_kind_t kind;
    } aggs[] = {{"count", SQLF_AGG_COUNT}, {"sum", SQLF_AGG_SUM}, {"min", SQLF_AGG_MIN},
                {"max", SQLF_AGG_MAX},     {"avg", SQLF_AGG_AVG}};
    for (size_t i = 0; i < sizeof aggs / sizeof *aggs; i++) {
        if (strcmp(name, aggs[i].name) == 0) {
            *k = aggs[i].kind;
            return true;
        }
    }
    return false;
}

static const char *
s_func_name(const PgQuery__FuncCall *f)
{
    const char *name = NULL;
    for (size_t i = 0; i < f->n_funcname; i++)
        name = s_str(f->funcname[i]);
    return name;
}

static hb_rc_t
s_aggregate(s_cc_t *cc, const PgQuery__FuncCall *f, sqlf_agg_kind_t kind, s_ex_t *out)
{
    if (!cc->agg_mode)
        return s_err(cc, f->location, "42803", "aggregate functions are not allowed here");
    if (cc->in_agg)
        return s_err(cc, f->location, "42803", "aggregate function calls cannot be nested");
    if ((f->agg_distinct && kind != SQLF_AGG_COUNT) || f->agg_filter || f->n_agg_order ||
        f->over)
        return s_err(cc, f->location, "0A000",
                     "DISTINCT (but in count), FILTER, ORDER BY and OVER in aggregates are not "
                     "supported");
    sqlf_stmt_t *st = cc->st;
    sqlf_agg_t a = {.kind = kind, .distinct = f->agg_distinct};
    hb_type_t t;
    if (f->agg_star) {
        if (kind != SQLF_AGG_COUNT)
            return s_err(cc, f->location, "42601", "only count accepts *");
        a.kind = SQLF_AGG_COUNT_STAR;
        t = HB_T_INT8;
    } else {
        if (f->n_args != 1)
            return s_err(cc, f->location, "42883", "function %s takes one argument",
                         s_func_name(f));
        s_ex_t arg;
        cc->in_agg = true;
        hb_rc_t rc = s_expr(cc, f->args[0], &arg);
        cc->in_agg = false;
        if (rc)
            return rc;
        a.arg = (sqlf_expr_t){arg.p, arg.len, arg.type};
        switch (kind) {
        case SQLF_AGG_COUNT:
            t = HB_T_INT8;
            break;
        case SQLF_AGG_SUM:
            t = s_is_int(arg.type) ? HB_T_INT8 : arg.type == HB_T_NUMERIC ? HB_T_NUMERIC
                                                                          : HB_T_FLOAT8;
            break;
        case SQLF_AGG_AVG:
            t = arg.type == HB_T_FLOAT4 || arg.type == HB_T_FLOAT8 ? HB_T_FLOAT8 : HB_T_NUMERIC;
            break;
        default:
            t = arg.type;
        }
        if ((kind == SQLF_AGG_SUM || kind == SQLF_AGG_AVG) &&
            !(s_is_int(arg.type) || arg.type == HB_T_FLOAT4 || arg.type == HB_T_FLOAT8 ||
              arg.type == HB_T_NUMERIC || arg.type == HB_T_UNKNOWN))
            return s_err(cc, f->location, "42883", "function %s(%s) does not exist",
                         s_func_name(f), hb_type_name(arg.type));
    }
    sqlf_agg_t *aggs = sqlf_stmt_alloc(st, (st->naggs + 1) * sizeof *aggs);
    if (st->naggs)
        memcpy(aggs, st->aggs, st->naggs * sizeof *aggs);
    aggs[st->naggs] = a;
    st->aggs = aggs;
    *out = s_mk_col(cc, st->ngroup + st->naggs, t);
    out->col = -1;
    st->naggs++;
    return HB_OK;
}

static hb_rc_t
s_funccall(s_cc_t *cc, const PgQuery__FuncCall *f, s_ex_t *out)
{
    const char *name = s_func_name(f);
    if (!name)
        return s_err(cc, f->location, "42601", "bad function name");
    sqlf_agg_kind_t ak;
    if (s_agg_name(name, &ak))
        return s_aggregate(cc, f, ak, out);
    static const struct {
        const char *name;
        hb_func_t fn;
        uint32_t min, max;
        hb_type_t type;
    } fns[] = {
        {"lower", HB_FN_LOWER, 1, 1, HB_T_TEXT},     {"upper", HB_FN_UPPER, 1, 1, HB_T_TEXT},
        {"length", HB_FN_LENGTH, 1, 1, HB_T_INT4},   {"char_length", HB_FN_LENGTH, 1, 1, HB_T_INT4},
        {"abs", HB_FN_ABS, 1, 1, HB_T_UNKNOWN},      {"substr", HB_FN_SUBSTR, 2, 3, HB_T_TEXT},
        {"substring", HB_FN_SUBSTR, 2, 3, HB_T_TEXT},
    };
    if (strcmp(name, "now") == 0 && f->n_args == 0)
        return s_now(cc, false, f->location, out);
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
        if (strcmp(fns[i].name, name) != 0)
            continue;
        if (f->n_args < fns[i].min || f->n_args > fns[i].max || f->agg_star)
            return s_err(cc, f->location, "42883", "function %s with %zu arguments does not "
                                                   "exist",
                         name, f->n_args);
        s_ex_t kids[3];
        for (size_t k = 0; k < f->n_args; k++) {
            hb_rc_t rc = s_expr(cc, f->args[k], &kids[k]);
            if (rc)
                return rc;
            if (kids[k].is_const && kids[k].type == HB_T_UNKNOWN &&
                (rc = s_coerce_const(cc, &kids[k], k == 0 && fns[i].fn != HB_FN_ABS
                                                       ? HB_T_TEXT
                                                       : HB_T_INT8,
                                     f->location)))
                return rc;
        }
        int64_t pre[2] = {fns[i].fn, (int64_t)f->n_args};
        hb_type_t t = fns[i].type == HB_T_UNKNOWN ? kids[0].type : fns[i].type;
        return s_mk_op(cc, HB_EX_FUNC, pre, 2, kids, (uint32_t)f->n_args, t, f->location, out);
    }
    return s_err(cc, f->location, "42883", "function %s does not exist", name);
}

static hb_rc_t
s_aexpr(s_cc_t *cc, const PgQuery__AExpr *a, s_ex_t *out)
{
    const char *op = a->n_name ? s_str(a->name[a->n_name - 1]) : NULL;
    s_ex_t l, r;
    hb_rc_t rc;
    switch (a->kind) {
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP: {
        if (!op)
            return s_err(cc, a->location, "42601", "bad operator");
        if (!a->lexpr) { /* prefix */
            if ((rc = s_expr(cc, a->rexpr, &r)))
                return rc;
            if (strcmp(op, "-") == 0) {
                if ((rc = s_coerce_const(cc, &r, HB_T_FLOAT8, a->location)))
                    return rc;
                return s_mk_op(cc, HB_EX_NEG, NULL, 0, &r, 1, r.type, a->location, out);
            }
            if (strcmp(op, "+") == 0) {
                *out = r;
                return HB_OK;
            }
            return s_err(cc, a->location, "42883", "operator does not exist: %s", op);
        }
        static const struct {
            const char *sym;
            hb_ex_op_t op;
        } ops[] = {{"+", HB_EX_ADD}, {"-", HB_EX_SUB}, {"*", HB_EX_MUL}, {"/", HB_EX_DIV},
                   {"%", HB_EX_MOD}, {"=", HB_EX_EQ},  {"<>", HB_EX_NE}, {"!=", HB_EX_NE},
                   {"<", HB_EX_LT},  {"<=", HB_EX_LE}, {">", HB_EX_GT},  {">=", HB_EX_GE},
                   {"||", HB_EX_CONCAT}, {"~~", HB_EX_LIKE}};
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
            if (strcmp(ops[i].sym, op) == 0) {
                if ((rc = s_expr(cc, a->lexpr, &l)) || (rc = s_expr(cc, a->rexpr, &r)))
                    return rc;
                return s_binary(cc, ops[i].op, &l, &r, a->location, out);
            }
        }
        return s_err(cc, a->location, "42883", "operator does not exist: %s", op);
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_LIKE: {
        if ((rc = s_expr(cc, a->lexpr, &l)) || (rc = s_expr(cc, a->rexpr, &r)))
            return rc;
        if ((rc = s_coerce_const(cc, &l, HB_T_TEXT, a->location)) ||
            (rc = s_coerce_const(cc, &r, HB_T_TEXT, a->location)) ||
            (rc = s_binary(cc, HB_EX_LIKE, &l, &r, a->location, out)))
            return rc;
        if (op && strcmp(op, "!~~") == 0)
            return s_mk_op(cc, HB_EX_NOT, NULL, 0, out, 1, HB_T_BOOL, a->location, out);
        return HB_OK;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_IN: {
        if ((rc = s_expr(cc, a->lexpr, &l)))
            return rc;
        if (!a->rexpr || a->rexpr->node_case != PG_QUERY__NODE__NODE_LIST)
            return s_err(cc, a->location, "0A000", "IN (subquery) is not supported");
        const PgQuery__List *list = a->rexpr->list;
        s_ex_t *kids = sqlf_stmt_alloc(cc->st, (list->n_items + 1) * sizeof *kids);
        kids[0] = l;
        for (size_t i = 0; i < list->n_items; i++) {
            if ((rc = s_expr(cc, list->items[i], &kids[i + 1])) ||
                (rc = s_coerce_const(cc, &kids[i + 1], l.type, a->location)))
                return rc;
        }
        int64_t cnt = (int64_t)list->n_items;
        if ((rc = s_mk_op(cc, HB_EX_IN, &cnt, 1, kids, (uint32_t)list->n_items + 1, HB_T_BOOL,
                          a->location, out)))
            return rc;
        if (op && strcmp(op, "<>") == 0) /* NOT IN */
            return s_mk_op(cc, HB_EX_NOT, NULL, 0, out, 1, HB_T_BOOL, a->location, out);
        return HB_OK;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN: {
        if (!a->rexpr || a->rexpr->node_case != PG_QUERY__NODE__NODE_LIST ||
            a->rexpr->list->n_items != 2)
            return s_err(cc, a->location, "42601", "bad BETWEEN");
        s_ex_t lo, hi, c1, c2;
        if ((rc = s_expr(cc, a->lexpr, &l)) || (rc = s_expr(cc, a->rexpr->list->items[0], &lo)) ||
            (rc = s_expr(cc, a->rexpr->list->items[1], &hi)) ||
            (rc = s_binary(cc, HB_EX_GE, &l, &lo, a->location, &c1)) ||
            (rc = s_binary(cc, HB_EX_LE, &l, &hi, a->location, &c2)))
            return rc;
        s_ex_t kids[2] = {c1, c2};
        if ((rc = s_mk_op(cc, HB_EX_AND, NULL, 0, kids, 2, HB_T_BOOL, a->location, out)))
            return rc;
        if (a->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN)
            return s_mk_op(cc, HB_EX_NOT, NULL, 0, out, 1, HB_T_BOOL, a->location, out);
        return HB_OK;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF: {
        /* NULLIF(a, b) = CASE WHEN a = b THEN NULL ELSE a END */
        s_ex_t eq;
        if ((rc = s_expr(cc, a->lexpr, &l)) || (rc = s_expr(cc, a->rexpr, &r)) ||
            (rc = s_binary(cc, HB_EX_EQ, &l, &r, a->location, &eq)))
            return rc;
        hb_val_t nil = hb_val_nil();
        s_ex_t kids[3] = {eq, s_mk_const(cc, &nil, l.type), l};
        int64_t one = 1;
        return s_mk_op(cc, HB_EX_CASE, &one, 1, kids, 3, l.type, a->location, out);
    }
    default:
        return s_err(cc, a->location, "0A000", "this operator form is not supported");
    }
}

/* CURRENT_TIMESTAMP / CURRENT_DATE / now(): the statement's timestamp, a
 * constant in the plan (so every replica sees the same value), except in
 * a column DEFAULT, where it stays a node evaluated at each INSERT. */
static hb_rc_t
s_now(s_cc_t *cc, bool date, int32_t loc, s_ex_t *out)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    hb_expr_pack_op(&pk, HB_EX_NOW, 1);
    s_ex_t now = s_finish(cc, &sb, HB_T_TIMESTAMP);
    if (!date) {
        *out = now;
    } else {
        int64_t pre[2] = {HB_FN_TS_DATE, 1};
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        hb_expr_pack_op(&pk, HB_EX_FUNC, 4);
        msgpack_pack_int64(&pk, pre[0]);
        msgpack_pack_int64(&pk, pre[1]);
        msgpack_sbuffer_write(&sb, (const char *)now.p, now.len);
        *out = s_finish(cc, &sb, HB_T_DATE);
    }
    if (cc->in_default)
        return HB_OK;
    hb_expr_env_t env = {.alloc = sqlf_stmt_alloc, .alloc_arg = cc->st, .err = cc->err,
                         .now_us = cc->now_us};
    hb_val_t v;
    if (hb_expr_eval(out->p, out->len, &env, &v) != HB_OK)
        return s_err(cc, loc, "XX000", "cannot evaluate the current time");
    *out = s_mk_const(cc, &v, date ? HB_T_DATE : HB_T_TIMESTAMP);
    return HB_OK;
}

static hb_rc_t
s_expr(s_cc_t *cc, const PgQuery__Node *n, s_ex_t *out)
{
    hb_rc_t rc;
    if (!n)
        return s_err(cc, -1, "42601", "missing expression");
    if (++cc->depth > 28) {
        cc->depth--;
        return s_err(cc, -1, "54001", "statement is too complex (expressions nest too deeply)");
    }
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_A_CONST:
        rc = s_const(cc, n->a_const, out);
        break;
    case PG_QUERY__NODE__NODE_COLUMN_REF:
        rc = s_column(cc, n->column_ref, out);
        break;
    case PG_QUERY__NODE__NODE_PARAM_REF: {
        int32_t k = n->param_ref->number;
        if (cc->desc) {
            if (k < 1 || k > SQLF_DESC_MAX_PARAMS) {
                rc = s_err(cc, n->param_ref->location, "42P02",
                           "there is no parameter $%d", k);
                break;
            }
            if ((uint32_t)k > cc->desc->nparams)
                cc->desc->nparams = (uint32_t)k;
            hb_val_t nil = hb_val_nil();
            *out = s_mk_const(cc, &nil, HB_T_UNKNOWN);
            out->param = k;
            rc = HB_OK;
            break;
        }
        if (k < 1 || (uint32_t)k > cc->nparams) {
            rc = s_err(cc, n->param_ref->location, "42P02", "there is no parameter $%d", k);
            break;
        }
        const hb_val_t *v = &cc->params[k - 1];
        hb_type_t t = v->type == HB_VAL_INT      ? HB_T_INT8
                      : v->type == HB_VAL_DEC    ? HB_T_NUMERIC
                      : v->type == HB_VAL_DOUBLE ? HB_T_FLOAT8
                      : v->type == HB_VAL_BOOL   ? HB_T_BOOL
                      : v->type == HB_VAL_BIN    ? HB_T_BYTEA
                                                 : HB_T_UNKNOWN;
        *out = s_mk_const(cc, v, t);
        rc = HB_OK;
        break;
    }
    case PG_QUERY__NODE__NODE_A_EXPR:
        rc = s_aexpr(cc, n->a_expr, out);
        break;
    case PG_QUERY__NODE__NODE_BOOL_EXPR: {
        const PgQuery__BoolExpr *b = n->bool_expr;
        s_ex_t acc, x;
        rc = HB_OK;
        for (size_t i = 0; i < b->n_args && rc == HB_OK; i++) {
            if ((rc = s_expr(cc, b->args[i], &x)) ||
                (rc = s_coerce_const(cc, &x, HB_T_BOOL, b->location)))
                break;
            if (b->boolop == PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR) {
                rc = s_mk_op(cc, HB_EX_NOT, NULL, 0, &x, 1, HB_T_BOOL, b->location, &acc);
                break;
            }
            if (i == 0) {
                acc = x;
                continue;
            }
            s_ex_t kids[2] = {acc, x};
            rc = s_mk_op(cc, b->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR ? HB_EX_AND
                                                                             : HB_EX_OR,
                         NULL, 0, kids, 2, HB_T_BOOL, b->location, &acc);
        }
        if (rc == HB_OK)
            *out = acc;
        break;
    }
    case PG_QUERY__NODE__NODE_NULL_TEST: {
        s_ex_t x;
        if ((rc = s_expr(cc, n->null_test->arg, &x)))
            break;
        rc = s_mk_op(cc, n->null_test->nulltesttype == PG_QUERY__NULL_TEST_TYPE__IS_NULL
                             ? HB_EX_ISNULL
                             : HB_EX_NOTNULL,
                     NULL, 0, &x, 1, HB_T_BOOL, n->null_test->location, out);
        break;
    }
    case PG_QUERY__NODE__NODE_TYPE_CAST: {
        s_ex_t x;
        hb_type_t t;
        int32_t mod;
        if ((rc = s_expr(cc, n->type_cast->arg, &x)) ||
            (rc = s_type(cc, n->type_cast->type_name, &t, &mod)))
            break;
        s_note_param(cc, &x, t);
        if ((x.type == HB_T_DATE || x.type == HB_T_TIMESTAMP) &&
            (s_is_text(t) || t == HB_T_DATE)) {
            int64_t fpre[2] = {x.type == HB_T_DATE ? (t == HB_T_DATE ? -1 : HB_FN_DATE_OUT)
                                                   : (t == HB_T_DATE ? HB_FN_TS_DATE
                                                                     : HB_FN_TS_OUT),
                               1};
            if (fpre[0] < 0) {
                *out = x;
                break;
            }
            rc = s_mk_op(cc, HB_EX_FUNC, fpre, 2, &x, 1, s_is_text(t) ? HB_T_TEXT : t,
                         n->type_cast->location, out);
            break;
        }
        if (x.type == HB_T_DATE && t == HB_T_TIMESTAMP) {
            hb_val_t day = hb_val_int(86400000000LL);
            s_ex_t kids[2] = {x, s_mk_const(cc, &day, HB_T_INT8)};
            rc = s_mk_op(cc, HB_EX_MUL, NULL, 0, kids, 2, HB_T_TIMESTAMP, n->type_cast->location,
                         out);
            break;
        }
        int64_t pre[2] = {t, mod};
        rc = s_mk_op(cc, HB_EX_CAST, pre, 2, &x, 1, t, n->type_cast->location, out);
        break;
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL:
        rc = s_funccall(cc, n->func_call, out);
        break;
    case PG_QUERY__NODE__NODE_COALESCE_EXPR: {
        const PgQuery__CoalesceExpr *c = n->coalesce_expr;
        s_ex_t *kids = sqlf_stmt_alloc(cc->st, (c->n_args + 1) * sizeof *kids);
        hb_type_t t = HB_T_UNKNOWN;
        rc = HB_OK;
        for (size_t i = 0; i < c->n_args && rc == HB_OK; i++) {
            rc = s_expr(cc, c->args[i], &kids[i]);
            if (t == HB_T_UNKNOWN)
                t = kids[i].type;
        }
        for (size_t i = 0; i < c->n_args && rc == HB_OK; i++)
            rc = s_coerce_const(cc, &kids[i], t, c->location);
        if (rc == HB_OK) {
            int64_t cnt = (int64_t)c->n_args;
            rc = s_mk_op(cc, HB_EX_COALESCE, &cnt, 1, kids, (uint32_t)c->n_args, t, c->location,
                         out);
        }
        break;
    }
    case PG_QUERY__NODE__NODE_CASE_EXPR: {
        const PgQuery__CaseExpr *c = n->case_expr;
        s_ex_t *kids = sqlf_stmt_alloc(cc->st, (2 * c->n_args + 1) * sizeof *kids);
        s_ex_t arg;
        hb_type_t t = HB_T_UNKNOWN;
        rc = HB_OK;
        if (c->arg && (rc = s_expr(cc, c->arg, &arg)))
            break;
        for (size_t i = 0; i < c->n_args && rc == HB_OK; i++) {
            const PgQuery__CaseWhen *w = c->args[i]->case_when;
            s_ex_t cond;
            if ((rc = s_expr(cc, w->expr, &cond)))
                break;
            if (c->arg) {
                s_ex_t a2 = arg;
                if ((rc = s_binary(cc, HB_EX_EQ, &a2, &cond, w->location, &cond)))
                    break;
            }
            kids[2 * i] = cond;
            if ((rc = s_expr(cc, w->result, &kids[2 * i + 1])))
                break;
            if (t == HB_T_UNKNOWN)
                t = kids[2 * i + 1].type;
        }
        if (rc)
            break;
        if (c->defresult) {
            if ((rc = s_expr(cc, c->defresult, &kids[2 * c->n_args])))
                break;
            if (t == HB_T_UNKNOWN)
                t = kids[2 * c->n_args].type;
        } else {
            hb_val_t nil = hb_val_nil();
            kids[2 * c->n_args] = s_mk_const(cc, &nil, HB_T_UNKNOWN);
        }
        for (size_t i = 0; i < c->n_args && rc == HB_OK; i++)
            rc = s_coerce_const(cc, &kids[2 * i + 1], t, c->location);
        if (rc == HB_OK)
            rc = s_coerce_const(cc, &kids[2 * c->n_args], t, c->location);
        if (rc == HB_OK) {
            int64_t cnt = (int64_t)c->n_args;
            rc = s_mk_op(cc, HB_EX_CASE, &cnt, 1, kids, 2 * (uint32_t)c->n_args + 1, t,
                         c->location, out);
        }
        break;
    }
    case PG_QUERY__NODE__NODE_BOOLEAN_TEST: {
        /* x IS TRUE / IS NOT FALSE ...: (x = const) with NULL as false/true */
        const PgQuery__BooleanTest *b = n->boolean_test;
        s_ex_t x, isn, eq;
        if ((rc = s_expr(cc, b->arg, &x)))
            break;
        int k = b->booltesttype; /* 1 IS_TRUE 2 IS_NOT_TRUE 3 IS_FALSE 4 IS_NOT_FALSE
                                    5 IS_UNKNOWN 6 IS_NOT_UNKNOWN */
        if (k == 5 || k == 6) {
            rc = s_mk_op(cc, k == 5 ? HB_EX_ISNULL : HB_EX_NOTNULL, NULL, 0, &x, 1, HB_T_BOOL,
                         b->location, out);
            break;
        }
        hb_val_t want = hb_val_bool(k == 1 || k == 2);
        s_ex_t c = s_mk_const(cc, &want, HB_T_BOOL);
        hb_val_t negv = hb_val_bool(k == 2 || k == 4);
        if ((rc = s_binary(cc, HB_EX_EQ, &x, &c, b->location, &eq)) ||
            (rc = s_mk_op(cc, HB_EX_ISNULL, NULL, 0, &x, 1, HB_T_BOOL, b->location, &isn)))
            break;
        /* CASE WHEN x IS NULL THEN neg ELSE (x = want) XOR neg END */
        s_ex_t res = eq;
        if (negv.u.b && (rc = s_mk_op(cc, HB_EX_NOT, NULL, 0, &eq, 1, HB_T_BOOL, b->location,
                                      &res)))
            break;
        s_ex_t kids[3] = {isn, s_mk_const(cc, &negv, HB_T_BOOL), res};
        int64_t one = 1;
        rc = s_mk_op(cc, HB_EX_CASE, &one, 1, kids, 3, HB_T_BOOL, b->location, out);
        break;
    }
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION: {
        PgQuery__SQLValueFunctionOp op = n->sqlvalue_function->op;
        bool date = op == PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE;
        if (!date && op != PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP &&
            op != PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N &&
            op != PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP &&
            op != PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N) {
            rc = s_err(cc, n->sqlvalue_function->location, "0A000",
                       "this SQL value function is not supported");
            break;
        }
        rc = s_now(cc, date, n->sqlvalue_function->location, out);
        break;
    }
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        rc = s_err(cc, -1, "0A000", "subqueries are not supported");
        break;
    default:
        rc = s_err(cc, -1, "0A000", "expression node %d is not supported", (int)n->node_case);
        break;
    }
    cc->depth--;
    return rc;
}

static sqlf_expr_t
s_pub(const s_ex_t *e)
{
    return (sqlf_expr_t){e->p, e->len, e->type};
}

/* ------------------------------------------------------------------ */
/* Keys                                                                 */
/* ------------------------------------------------------------------ */

/* Appends a primary-key column value to k. */
static hb_rc_t
s_key_put(s_cc_t *cc, hb_key_t *k, const sqlf_col_t *col, const hb_val_t *v)
{
    switch (v->type) {
    case HB_VAL_INT:
        hb_key_put_i64(k, v->u.i);
        break;
    case HB_VAL_BOOL:
        hb_key_put_bool(k, v->u.b);
        break;
    case HB_VAL_STR:
    case HB_VAL_BIN:
        hb_key_put_str(k, v->u.s.ptr, v->u.s.len);
        break;
    case HB_VAL_NIL:
        return s_err(cc, -1, "23502", "null value in column \"%s\" violates not-null "
                                      "constraint",
                     col->name);
    default:
        return s_err(cc, -1, "0A000", "primary keys of type %s are not supported",
                     hb_type_name(col->type));
    }
    if (k->overflow)
        return s_err(cc, -1, "54000", "primary key is too long");
    return HB_OK;
}

/* Collects `column = constant` terms of the top-level AND of where into
 * vals / bound, indexed by table column. */
static hb_rc_t
s_col_terms(s_cc_t *cc, const PgQuery__Node *w, hb_val_t *vals, bool *bound)
{
    if (!w)
        return HB_OK;
    if (w->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
        w->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
        for (size_t i = 0; i < w->bool_expr->n_args; i++) {
            hb_rc_t rc = s_col_terms(cc, w->bool_expr->args[i], vals, bound);
            if (rc)
                return rc;
        }
        return HB_OK;
    }
    if (w->node_case != PG_QUERY__NODE__NODE_A_EXPR ||
        w->a_expr->kind != PG_QUERY__A__EXPR__KIND__AEXPR_OP || w->a_expr->n_name != 1 ||
        !s_str(w->a_expr->name[0]) || strcmp(s_str(w->a_expr->name[0]), "=") != 0 ||
        !w->a_expr->lexpr)
        return HB_OK;
    s_ex_t l, r;
    hb_rc_t rc;
    if ((rc = s_expr(cc, w->a_expr->lexpr, &l)) || (rc = s_expr(cc, w->a_expr->rexpr, &r)))
        return rc;
    s_ex_t *col = l.col >= 0 && r.is_const ? &l : r.col >= 0 && l.is_const ? &r : NULL;
    s_ex_t *val = col == &l ? &r : &l;
    if (!col || (uint32_t)col->col >= cc->t->ncols)
        return HB_OK;
    const sqlf_col_t *c = &cc->t->cols[col->col];
    hb_val_t v;
    if (val->cval.type == HB_VAL_NIL)
        return HB_OK; /* `k = NULL` matches nothing; the filter says so */
    if (hb_val_coerce(&val->cval, c->type, c->typmod, sqlf_stmt_alloc, cc->st, &v, cc->err) !=
        HB_OK) {
        if (strcmp(cc->err->sqlstate, "22003") != 0 && strcmp(cc->err->sqlstate, "22001") != 0)
            return HB_INVALID;
        /* A value the column cannot hold (3000000000 for an integer) is
         * no key: the filter says the term matches nothing. */
        memset(cc->err, 0, sizeof *cc->err);
        return HB_OK;
    }
    /* A value that does not fit the column (1.5 for an integer) is left to
     * the filter. */
    hb_val_t back;
    hb_sqlerr_t ignore;
    if (v.type == HB_VAL_INT && (val->cval.type == HB_VAL_DOUBLE || val->cval.type == HB_VAL_DEC) &&
        (hb_val_coerce(&v, HB_T_NUMERIC, 0, sqlf_stmt_alloc, cc->st, &back, &ignore) != HB_OK ||
         hb_val_cmp(&back, &val->cval) != 0))
        return HB_OK;
    vals[col->col] = v;
    bound[col->col] = true;
    return HB_OK;
}

/* Appends the 9-byte bound above every key that starts with k. */
static hb_rc_t
s_range_end(s_cc_t *cc, const hb_key_t *k, hb_key_t *end)
{
    /* Every key with this prefix sorts before prefix + 0xFF x 9: an encoded
     * column never starts with 9 bytes of 0xFF (integers are 8 bytes, and
     * strings of 0xFF bytes are the one exception, left as a known gap). */
    if (k->len + 9 > HB_KEY_MAX)
        return s_err(cc, -1, "54000", "key prefix is too long");
    *end = *k;
    for (int i = 0; i < 9; i++)
        end->buf[end->len++] = 0xFF;
    return HB_OK;
}

static bool
s_indexable(hb_type_t t)
{
    return s_is_int(t) || s_is_text(t) || t == HB_T_BOOL || t == HB_T_BYTEA || t == HB_T_DATE ||
           t == HB_T_TIMESTAMP;
}

static void s_and_terms(const PgQuery__Node *n, const PgQuery__Node **terms, uint32_t *nt,
                        uint32_t cap);

/* Fills src's range from where's key terms, and an index range when a
 * ready index's leading columns bind more than the primary key's bound
 * prefix does (with a prefix bound, src's range is that prefix's). */
static hb_rc_t
s_source(s_cc_t *cc, const PgQuery__Node *where, sqlf_source_t *src)
{
    const sqlf_table_t *t = cc->t;
    src->table = t;
    src->partition = -1;
    src->ix_partition = -1;
    hb_key_init(&src->start, t->id);
    hb_key_init(&src->end, t->id + 1);
    hb_val_t *vals = sqlf_stmt_alloc(cc->st, t->ncols * sizeof *vals);
    bool *bound = sqlf_stmt_alloc(cc->st, t->ncols * sizeof *bound);
    memset(bound, 0, t->ncols * sizeof *bound);
    hb_rc_t rc = s_col_terms(cc, where, vals, bound);
    if (rc)
        return rc;
    uint32_t prefix = 0;
    while (prefix < t->npk && bound[t->pk[prefix]])
        prefix++;
    /* An index binding more leading columns than the primary key's bound
     * prefix? The longest wins (customers of one district by last name:
     * the name index, not the district's key range). */
    int best = -1;
    uint32_t best_n = prefix;
    if (prefix < t->npk) {
        for (uint32_t i = 0; i < t->nidx; i++) {
            const sqlf_index_t *ix = &t->idx[i];
            uint32_t n = 0;
            while (n < ix->ncols && bound[ix->cols[n]])
                n++;
            if (ix->ready && n > best_n) {
                best = (int)i;
                best_n = n;
            }
        }
    }
    if (prefix < t->npk && best >= 0) {
        const sqlf_index_t *ix = &t->idx[best];
        hb_key_t k;
        hb_key_init(&k, HB_TABLE_INDEX);
        hb_key_put_i64(&k, t->id);
        hb_key_put_i64(&k, ix->no);
        for (uint32_t i = 0; i < best_n; i++) {
            if (k.len >= HB_KEY_MAX)
                return s_err(cc, -1, "54000", "index key is too long");
            k.buf[k.len++] = 0x01; /* a value, not NULL (sqlf_index_key) */
            if ((rc = s_key_put(cc, &k, &t->cols[ix->cols[i]], &vals[ix->cols[i]])))
                return rc;
        }
        src->ix_start = k;
        if ((rc = s_range_end(cc, &k, &src->ix_end)))
            return rc;
        src->use_index = true;
        src->ix_no = ix->no;
        /* With the whole partition key bound, the entries are on one
         * partition: the row's. */
        bool pbound = true;
        for (uint32_t i = 0; i < t->npart; i++)
            pbound = pbound && bound[t->pk[i]];
        if (pbound) {
            hb_key_t pk;
            hb_key_init(&pk, t->id);
            for (uint32_t i = 0; i < t->npart; i++)
                if ((rc = s_key_put(cc, &pk, &t->cols[t->pk[i]], &vals[t->pk[i]])))
                    return rc;
            src->ix_pkey = pk;
            src->ix_partition = 0; /* computed from ix_pkey by the reader */
        }
        if (prefix == 0)
            return HB_OK;
        /* Also the key prefix's range: what a read that cannot use the
         * index's entries at one cut falls back to. */
    }
    hb_key_t k;
    hb_key_init(&k, t->id);
    for (uint32_t i = 0; i < prefix; i++) {
        if ((rc = s_key_put(cc, &k, &t->cols[t->pk[i]], &vals[t->pk[i]])))
            return rc;
        if (i + 1 == t->npart)
            src->plen = (uint32_t)k.len;
    }
    src->start = k;
    if (prefix == t->npk) {
        src->point = true;
        /* Each AND term binds at most one key column: as many terms as key
         * columns, all bound, means WHERE says nothing the key does not. */
        const PgQuery__Node *terms[SQLF_MAX_PK + 1];
        uint32_t nt = 0;
        s_and_terms(where, terms, &nt, SQLF_MAX_PK + 1);
        src->key_only = nt == t->npk;
    } else if ((rc = s_range_end(cc, &k, &src->end)))
        return rc;
    if (prefix >= t->npart)
        src->partition = 0; /* the caller's exec computes it from plen */
    return HB_OK;
}

bool
sqlf_index_key(const sqlf_table_t *t, const sqlf_index_t *ix, const hb_val_t *row,
               uint32_t ncols, hb_key_t *out)
{
    hb_key_init(out, HB_TABLE_INDEX);
    hb_key_put_i64(out, t->id);
    hb_key_put_i64(out, ix->no);
    for (uint32_t pass = 0; pass < 2; pass++) {
        uint32_t n = pass == 0 ? ix->ncols : t->npk;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t c = pass == 0 ? ix->cols[i] : t->pk[i];
            const hb_val_t *v = c < ncols ? &row[c] : NULL;
            bool null = !v || v->type == HB_VAL_NIL;
            if (pass == 0) {
                /* Index columns carry a tag, 0x00 NULL (sorting first) or
                 * 0x01 a value, so rows with NULLs have entries too. */
                if (out->len >= HB_KEY_MAX)
                    return false;
                out->buf[out->len++] = null ? 0x00 : 0x01;
                if (null)
                    continue;
            } else if (null) {
                return false; /* key columns are never NULL */
            }
            if (v->type == HB_VAL_INT)
                hb_key_put_i64(out, v->u.i);
            else if (v->type == HB_VAL_BOOL)
                hb_key_put_bool(out, v->u.b);
            else if (v->type == HB_VAL_STR || v->type == HB_VAL_BIN)
                hb_key_put_str(out, v->u.s.ptr, v->u.s.len);
            else
                return false;
        }
    }
    return !out->overflow;
}

/* ------------------------------------------------------------------ */
/* Joins                                                                */
/* ------------------------------------------------------------------ */

/* Flattens FROM items (tables and INNER JOIN ... ON) into the scope, and
 * the ON conditions into quals. */
static hb_rc_t
s_join_items(s_cc_t *cc, const PgQuery__Node *n, const PgQuery__Node **quals, uint32_t *nq)
{
    hb_rc_t rc;
    if (n->node_case == PG_QUERY__NODE__NODE_JOIN_EXPR) {
        const PgQuery__JoinExpr *j = n->join_expr;
        if (j->jointype != PG_QUERY__JOIN_TYPE__JOIN_INNER || j->is_natural ||
            j->n_using_clause)
            return s_err(cc, -1, "0A000", "only INNER JOIN ... ON (and comma joins) are "
                                          "supported");
        if ((rc = s_join_items(cc, j->larg, quals, nq)) ||
            (rc = s_join_items(cc, j->rarg, quals, nq)))
            return rc;
        if (j->quals) {
            if (*nq == 64)
                return s_err(cc, -1, "54001", "too many join conditions");
            quals[(*nq)++] = j->quals;
        }
        return HB_OK;
    }
    if (n->node_case != PG_QUERY__NODE__NODE_RANGE_VAR)
        return s_err(cc, -1, "0A000", "subqueries in FROM are not supported yet");
    if (cc->nscope == SQLF_MAX_JOIN)
        return s_err(cc, -1, "54001", "at most %d tables in a join", SQLF_MAX_JOIN);
    const PgQuery__RangeVar *rv = n->range_var;
    const sqlf_table_t *t;
    if ((rc = s_table(cc, rv, &t)))
        return rc;
    uint32_t k = cc->nscope;
    uint32_t off = k ? cc->soff[k - 1] + cc->scope[k - 1]->ncols : 0;
    if (off + t->ncols > HB_SQL_MAX_COLS)
        return s_err(cc, -1, "54011", "a join reads at most %d columns", HB_SQL_MAX_COLS);
    const char *alias = rv->alias && rv->alias->aliasname ? rv->alias->aliasname : t->name;
    for (uint32_t i = 0; i < k; i++)
        if (strcmp(cc->salias[i], alias) == 0)
            return s_err(cc, rv->location, "42712", "table name \"%s\" specified more than once",
                         alias);
    cc->scope[k] = t;
    cc->salias[k] = alias;
    cc->soff[k] = off;
    cc->nscope++;
    return HB_OK;
}

/* Adds the top-level AND terms of n to terms. */
static void
s_and_terms(const PgQuery__Node *n, const PgQuery__Node **terms, uint32_t *nt, uint32_t cap)
{
    if (n && n->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
        n->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
        for (size_t i = 0; i < n->bool_expr->n_args; i++)
            s_and_terms(n->bool_expr->args[i], terms, nt, cap);
    } else if (n && *nt < cap) {
        terms[(*nt)++] = n;
    }
}

/* Plans the FROM of a join: its tables, the filter (WHERE and ON), and for
 * each table the key prefix the tables before it (or constants) bind. */
static hb_rc_t
s_plan_join(s_cc_t *cc, const PgQuery__SelectStmt *s)
{
    sqlf_stmt_t *st = cc->st;
    const PgQuery__Node *quals[64];
    uint32_t nq = 0;
    hb_rc_t rc;
    cc->t = NULL;
    for (size_t i = 0; i < s->n_from_clause; i++)
        if ((rc = s_join_items(cc, s->from_clause[i], quals, &nq)))
            return rc;
    const PgQuery__Node *terms[256];
    uint32_t nt = 0;
    s_and_terms(s->where_clause, terms, &nt, 256);
    for (uint32_t i = 0; i < nq; i++)
        s_and_terms(quals[i], terms, &nt, 256);
    if (nt == 256)
        return s_err(cc, -1, "54001", "too many conditions");
    /* The filter: every term, ANDed. */
    s_ex_t all = {0};
    bool have = false;
    s_ex_t *lhs = sqlf_stmt_alloc(st, (nt + 1) * sizeof *lhs);
    s_ex_t *rhs = sqlf_stmt_alloc(st, (nt + 1) * sizeof *rhs);
    bool *eq = sqlf_stmt_alloc(st, (nt + 1) * sizeof *eq);
    for (uint32_t i = 0; i < nt; i++) {
        s_ex_t w;
        if ((rc = s_expr(cc, terms[i], &w)) || (rc = s_coerce_const(cc, &w, HB_T_BOOL, -1)))
            return rc;
        if (w.type != HB_T_BOOL && w.type != HB_T_UNKNOWN)
            return s_err(cc, -1, "42804", "argument of WHERE must be type boolean, not type %s",
                         hb_type_name(w.type));
        if (have) {
            s_ex_t kids[2] = {all, w};
            if ((rc = s_mk_op(cc, HB_EX_AND, NULL, 0, kids, 2, HB_T_BOOL, -1, &all)))
                return rc;
        } else {
            all = w;
            have = true;
        }
        const PgQuery__Node *n = terms[i];
        eq[i] = n->node_case == PG_QUERY__NODE__NODE_A_EXPR &&
                n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP && n->a_expr->n_name == 1 &&
                s_str(n->a_expr->name[0]) && strcmp(s_str(n->a_expr->name[0]), "=") == 0 &&
                n->a_expr->lexpr;
        if (eq[i] && ((rc = s_expr(cc, n->a_expr->lexpr, &lhs[i])) ||
                      (rc = s_expr(cc, n->a_expr->rexpr, &rhs[i]))))
            return rc;
    }
    if (have)
        st->src.where = s_pub(&all);
    st->njoin = cc->nscope;
    st->join = sqlf_stmt_alloc(st, cc->nscope * sizeof *st->join);
    for (uint32_t k = 0; k < cc->nscope; k++) {
        sqlf_join_t *j = &st->join[k];
        const sqlf_table_t *t = cc->scope[k];
        j->table = t;
        j->off = cc->soff[k];
        j->bind = sqlf_stmt_alloc(st, t->npk * sizeof *j->bind);
        j->nbound = 0;
        for (uint32_t pk = 0; pk < t->npk; pk++) {
            uint32_t want = cc->soff[k] + t->pk[pk];
            bool found = false;
            for (uint32_t i = 0; i < nt && !found; i++) {
                if (!eq[i])
                    continue;
                s_ex_t *col = NULL, *val = NULL;
                if (lhs[i].tab == (int)k && lhs[i].col == (int)want && rhs[i].maxtab < (int)k) {
                    col = &lhs[i];
                    val = &rhs[i];
                } else if (rhs[i].tab == (int)k && rhs[i].col == (int)want &&
                           lhs[i].maxtab < (int)k) {
                    col = &rhs[i];
                    val = &lhs[i];
                }
                if (!col || (val->is_const && val->cval.type == HB_VAL_NIL))
                    continue;
                s_ex_t v = *val;
                if ((rc = s_coerce_const(cc, &v, t->cols[t->pk[pk]].type, -1)))
                    return rc;
                j->bind[pk] = s_pub(&v);
                found = true;
            }
            if (!found)
                break;
            j->nbound++;
        }
    }
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* SELECT                                                               */
/* ------------------------------------------------------------------ */

static bool
s_has_agg(const PgQuery__Node *n, int depth)
{
    if (!n || depth > 28)
        return false;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
        sqlf_agg_kind_t k;
        const char *name = s_func_name(n->func_call);
        if (name && s_agg_name(name, &k))
            return true;
        for (size_t i = 0; i < n->func_call->n_args; i++)
            if (s_has_agg(n->func_call->args[i], depth + 1))
                return true;
        return false;
    }
    case PG_QUERY__NODE__NODE_A_EXPR:
        return s_has_agg(n->a_expr->lexpr, depth + 1) || s_has_agg(n->a_expr->rexpr, depth + 1);
    case PG_QUERY__NODE__NODE_BOOL_EXPR:
        for (size_t i = 0; i < n->bool_expr->n_args; i++)
            if (s_has_agg(n->bool_expr->args[i], depth + 1))
                return true;
        return false;
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        return s_has_agg(n->type_cast->arg, depth + 1);
    case PG_QUERY__NODE__NODE_RES_TARGET:
        return s_has_agg(n->res_target->val, depth + 1);
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        for (size_t i = 0; i < n->coalesce_expr->n_args; i++)
            if (s_has_agg(n->coalesce_expr->args[i], depth + 1))
                return true;
        return false;
    default:
        return false;
    }
}

/* Appends an output column. */
static void
s_add_out(sqlf_stmt_t *st, const s_ex_t *e, const char *name, uint32_t *cap)
{
    if (st->nout + st->nhidden == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 16;
        sqlf_expr_t *out = sqlf_stmt_alloc(st, ncap * sizeof *out);
        char(*names)[SQLF_NAME_MAX] = sqlf_stmt_alloc(st, ncap * sizeof *names);
        if (*cap) {
            memcpy(out, st->out, *cap * sizeof *out);
            memcpy(names, st->out_names, *cap * sizeof *names);
        }
        st->out = out;
        st->out_names = names;
        *cap = ncap;
    }
    uint32_t i = st->nout + st->nhidden;
    st->out[i] = s_pub(e);
    snprintf(st->out_names[i], SQLF_NAME_MAX, "%s", name ? name : "?column?");
}

/* The default output name of an expression node, as PostgreSQL names it. */
static const char *
s_out_name(const PgQuery__Node *n)
{
    if (!n)
        return "?column?";
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF: {
        const PgQuery__ColumnRef *cr = n->column_ref;
        const char *s = cr->n_fields ? s_str(cr->fields[cr->n_fields - 1]) : NULL;
        return s ? s : "?column?";
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
        const char *s = s_func_name(n->func_call);
        return s ? s : "?column?";
    }
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        if (n->type_cast->arg && n->type_cast->arg->node_case != PG_QUERY__NODE__NODE_A_CONST)
            return s_out_name(n->type_cast->arg);
        {
            const char *t = NULL;
            for (size_t i = 0; i < n->type_cast->type_name->n_names; i++)
                t = s_str(n->type_cast->type_name->names[i]);
            return t ? t : "?column?";
        }
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        return "coalesce";
    case PG_QUERY__NODE__NODE_CASE_EXPR:
        return "case";
    default:
        return "?column?";
    }
}

/* Compiles a target list (SELECT or RETURNING) into st->out. */
static hb_rc_t
s_targets(s_cc_t *cc, PgQuery__Node **list, size_t n, uint32_t *cap)
{
    sqlf_stmt_t *st = cc->st;
    for (size_t i = 0; i < n; i++) {
        const PgQuery__ResTarget *rt = list[i]->res_target;
        const PgQuery__Node *v = rt->val;
        bool star = v && v->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
                    v->column_ref->n_fields >= 1 &&
                    v->column_ref->fields[v->column_ref->n_fields - 1]->node_case ==
                        PG_QUERY__NODE__NODE_A_STAR;
        if (star && cc->nscope) {
            if (cc->agg_mode)
                return s_err(cc, rt->location, "42803",
                             "SELECT * cannot be used with GROUP BY or aggregates");
            for (uint32_t k = 0; k < cc->nscope; k++) {
                for (uint32_t c = 0; c < sqlf_table_nvis(cc->scope[k]); c++) {
                    s_ex_t e = s_mk_col(cc, cc->soff[k] + c, cc->scope[k]->cols[c].type);
                    s_add_out(st, &e, cc->scope[k]->cols[c].name, cap);
                    st->nout++;
                }
            }
            continue;
        }
        if (star) {
            if (!cc->t)
                return s_err(cc, rt->location, "42601",
                             "SELECT * with no tables specified is not valid");
            if (cc->agg_mode)
                return s_err(cc, rt->location, "42803",
                             "SELECT * cannot be used with GROUP BY or aggregates");
            for (uint32_t c = 0; c < sqlf_table_nvis(cc->t); c++) {
                s_ex_t e = s_mk_col(cc, c, cc->t->cols[c].type);
                s_add_out(st, &e, cc->t->cols[c].name, cap);
                st->nout++;
            }
            continue;
        }
        s_ex_t e;
        hb_rc_t rc = s_expr(cc, v, &e);
        if (rc)
            return rc;
        if (e.type == HB_T_UNKNOWN)
            e.type = HB_T_TEXT;
        s_add_out(st, &e, rt->name && *rt->name ? rt->name : s_out_name(v), cap);
        st->nout++;
    }
    return HB_OK;
}

static hb_rc_t
s_limit(s_cc_t *cc, const PgQuery__Node *n, int64_t *out, const char *what)
{
    if (!n)
        return HB_OK;
    s_ex_t e;
    hb_rc_t rc = s_expr(cc, n, &e);
    if (rc)
        return rc;
    if (!e.is_const)
        return s_err(cc, -1, "42601", "argument of %s must be a constant", what);
    s_note_param(cc, &e, HB_T_INT8);
    if (e.cval.type == HB_VAL_NIL)
        return HB_OK; /* LIMIT NULL / ALL */
    hb_val_t v;
    if (hb_val_coerce(&e.cval, HB_T_INT8, 0, sqlf_stmt_alloc, cc->st, &v, cc->err) != HB_OK)
        return HB_INVALID;
    if (v.u.i < 0)
        return s_err(cc, -1, "2201W", "%s must not be negative", what);
    *out = v.u.i;
    return HB_OK;
}

static hb_rc_t s_plan_join(s_cc_t *cc, const PgQuery__SelectStmt *s);

/* FROM generate_series(start, stop [, step]) [AS alias [(column)]]: src
 * becomes a series (its rows are made, not read) and cc->t a one-column
 * table of it (in the arena), named by the alias, else
 * "generate_series". The arguments are integer constants or parameters;
 * a NULL one gives no rows. The column is integer, bigint when a value
 * does not fit. */
static hb_rc_t
s_series(s_cc_t *cc, const PgQuery__RangeFunction *rf, sqlf_source_t *src)
{
    const PgQuery__Node *fn = rf->n_functions == 1 ? rf->functions[0] : NULL;
    if (fn && fn->node_case == PG_QUERY__NODE__NODE_LIST && fn->list->n_items >= 1)
        fn = fn->list->items[0];
    const PgQuery__FuncCall *f =
        fn && fn->node_case == PG_QUERY__NODE__NODE_FUNC_CALL ? fn->func_call : NULL;
    const char *fname = f ? s_func_name(f) : NULL;
    if (!fname || strcmp(fname, "generate_series") != 0 || rf->is_rowsfrom ||
        rf->ordinality || rf->lateral)
        return s_err(cc, -1, "0A000",
                     "functions in FROM other than generate_series are not supported");
    if (f->n_args < 2 || f->n_args > 3 || f->agg_star || f->agg_distinct ||
        f->agg_filter || f->over || f->n_agg_order)
        return s_err(cc, f->location, "42883",
                     "function generate_series takes (start, stop [, step])");
    if (rf->n_coldeflist)
        return s_err(cc, -1, "42601",
                     "a column definition list is only allowed for functions "
                     "returning \"record\"");
    int64_t v[3] = {0, 0, 1};
    bool null = false, wide = false;
    for (size_t i = 0; i < f->n_args; i++) {
        s_ex_t e;
        hb_val_t c;
        hb_rc_t rc = s_expr(cc, f->args[i], &e);
        if (rc)
            return rc;
        if (!e.is_const)
            return s_err(
                cc, f->location, "0A000",
                "the arguments of generate_series must be constants or parameters");
        s_note_param(cc, &e, HB_T_INT4);
        if (e.cval.type == HB_VAL_NIL) {
            null = true;
            continue;
        }
        if (e.type != HB_T_UNKNOWN && !s_is_int(e.type))
            return s_err(
                cc, f->location, "42883",
                "function generate_series(%s) does not exist: integer arguments only",
                hb_type_name(e.type));
        if (hb_val_coerce(&e.cval, HB_T_INT8, 0, sqlf_stmt_alloc, cc->st, &c, cc->err) !=
            HB_OK)
            return HB_INVALID;
        v[i] = c.u.i;
        wide = wide || v[i] < INT32_MIN || v[i] > INT32_MAX;
    }
    if (!null && v[2] == 0)
        return s_err(cc, f->location, "22023", "step size cannot equal zero");
    uint64_t count = 0;
    if (!null && (v[2] > 0 ? v[0] <= v[1] : v[0] >= v[1])) {
        uint64_t span =
            v[2] > 0 ? (uint64_t)v[1] - (uint64_t)v[0] : (uint64_t)v[0] - (uint64_t)v[1];
        uint64_t step = v[2] > 0 ? (uint64_t)v[2] : 0 - (uint64_t)v[2];
        count = span / step + 1;
    }
    if (count > SQLF_SERIES_MAX)
        return s_err(cc, f->location, "54000",
                     "generate_series of more than %d rows is not supported",
                     SQLF_SERIES_MAX);
    const PgQuery__Alias *al = rf->alias;
    const char *alias =
        al && al->aliasname && *al->aliasname ? al->aliasname : "generate_series";
    const char *col = alias;
    if (al && al->n_colnames > 1)
        return s_err(cc, -1, "42P10",
                     "too many column aliases specified for function "
                     "generate_series");
    if (al && al->n_colnames == 1 && s_str(al->colnames[0]))
        col = s_str(al->colnames[0]);
    sqlf_table_t *t = sqlf_stmt_alloc(cc->st, sizeof *t);
    sqlf_col_t *c = sqlf_stmt_alloc(cc->st, sizeof *c);
    memset(t, 0, sizeof *t);
    memset(c, 0, sizeof *c);
    snprintf(t->name, sizeof t->name, "%s", alias);
    snprintf(c->name, sizeof c->name, "%s", col);
    c->type = wide ? HB_T_INT8 : HB_T_INT4;
    t->ncols = 1;
    t->cols = c;
    cc->t = t;
    cc->alias = t->name;
    src->partition = -1;
    src->ix_partition = -1;
    src->series = true;
    src->ser_start = v[0];
    src->ser_step = v[2];
    src->ser_count = count;
    return HB_OK;
}

static hb_rc_t
s_plan_select(s_cc_t *cc, const PgQuery__SelectStmt *s)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    st->kind = SQLF_ST_SELECT;
    snprintf(st->tag, sizeof st->tag, "SELECT");
    st->limit = -1;
    if (s->op != PG_QUERY__SET_OPERATION__SETOP_NONE && s->op != 0)
        return s_err(cc, -1, "0A000", "UNION, INTERSECT and EXCEPT are not supported");
    if (s->n_values_lists)
        return s_err(cc, -1, "0A000", "VALUES as a query is not supported");
    if (s->with_clause)
        return s_err(cc, -1, "0A000", "WITH is not supported");
    if (s->n_distinct_clause)
        return s_err(cc, -1, "0A000", "SELECT DISTINCT is not supported");
    if (s->n_locking_clause)
        return s_err(cc, -1, "0A000", "FOR UPDATE / FOR SHARE is not supported");
    if (s->n_window_clause)
        return s_err(cc, -1, "0A000", "window functions are not supported");
    if (s->into_clause)
        return s_err(cc, -1, "0A000", "SELECT INTO is not supported");
    bool joined = s->n_from_clause > 1 ||
                  (s->n_from_clause == 1 &&
                   s->from_clause[0]->node_case == PG_QUERY__NODE__NODE_JOIN_EXPR);
    if (joined) {
        if ((rc = s_plan_join(cc, s)))
            return rc;
    } else if (s->n_from_clause == 1 &&
               s->from_clause[0]->node_case == PG_QUERY__NODE__NODE_RANGE_FUNCTION) {
        if ((rc = s_series(cc, s->from_clause[0]->range_function, &st->src)))
            return rc;
    } else if (s->n_from_clause == 1) {
        const PgQuery__Node *f = s->from_clause[0];
        if (f->node_case != PG_QUERY__NODE__NODE_RANGE_VAR)
            return s_err(cc, -1, "0A000", "subqueries in FROM are not supported yet");
        if ((rc = s_table(cc, f->range_var, &cc->t)))
            return rc;
        cc->alias = f->range_var->alias && f->range_var->alias->aliasname
                        ? f->range_var->alias->aliasname
                        : cc->t->name;
        if ((rc = s_source(cc, s->where_clause, &st->src)))
            return rc;
    }
    if (s->where_clause && !joined) {
        s_ex_t w;
        if ((rc = s_expr(cc, s->where_clause, &w)) ||
            (rc = s_coerce_const(cc, &w, HB_T_BOOL, -1)))
            return rc;
        if (w.type != HB_T_BOOL && w.type != HB_T_UNKNOWN)
            return s_err(cc, -1, "42804", "argument of WHERE must be type boolean, not type %s",
                         hb_type_name(w.type));
        st->src.where = s_pub(&w);
    }
    bool agg = s->n_group_clause > 0 || s->having_clause;
    for (size_t i = 0; i < s->n_target_list && !agg; i++)
        agg = s_has_agg(s->target_list[i], 0);
    uint32_t cap = 0;
    if (agg) {
        st->agg = true;
        if (s->n_group_clause > SQLF_MAX_GROUP)
            return s_err(cc, -1, "54011", "at most %d GROUP BY expressions", SQLF_MAX_GROUP);
        st->group = sqlf_stmt_alloc(st, (s->n_group_clause + 1) * sizeof *st->group);
        for (size_t i = 0; i < s->n_group_clause; i++) {
            s_ex_t g;
            if ((rc = s_expr(cc, s->group_clause[i], &g)))
                return rc;
            if (g.col < 0)
                return s_err(cc, -1, "0A000", "GROUP BY supports plain columns only");
            st->group[st->ngroup++] = s_pub(&g);
        }
        cc->agg_mode = true;
    }
    if ((rc = s_targets(cc, s->target_list, s->n_target_list, &cap)))
        return rc;
    if (s->having_clause) {
        s_ex_t h;
        if ((rc = s_expr(cc, s->having_clause, &h)))
            return rc;
        st->having = s_pub(&h);
    }
    /* ORDER BY: an output position, an output name, or an expression
     * computed as a hidden column. */
    st->sort = sqlf_stmt_alloc(st, (s->n_sort_clause + 1) * sizeof *st->sort);
    for (size_t i = 0; i < s->n_sort_clause; i++) {
        const PgQuery__SortBy *sb = s->sort_clause[i]->sort_by;
        sqlf_sort_t so = {.desc = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC};
        so.nulls_first = sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
                         (so.desc && sb->sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST);
        const PgQuery__Node *n = sb->node;
        bool done = false;
        if (n->node_case == PG_QUERY__NODE__NODE_A_CONST &&
            n->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
            int32_t k = n->a_const->ival->ival;
            if (k < 1 || (uint32_t)k > st->nout)
                return s_err(cc, sb->location, "42P10", "ORDER BY position %d is not in select "
                                                        "list",
                             k);
            so.col = (uint32_t)k - 1;
            done = true;
        } else if (n->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
                   n->column_ref->n_fields == 1 && s_str(n->column_ref->fields[0])) {
            const char *name = s_str(n->column_ref->fields[0]);
            bool is_col = cc->t && sqlf_table_col(cc->t, name) >= 0;
            for (uint32_t c = 0; c < st->nout && !done; c++) {
                if (strcmp(st->out_names[c], name) == 0 && (!is_col || !cc->agg_mode || true)) {
                    so.col = c;
                    done = true;
                }
            }
        }
        if (!done) {
            s_ex_t e;
            if ((rc = s_expr(cc, n, &e)))
                return rc;
            s_add_out(st, &e, "?sort?", &cap);
            so.col = st->nout + st->nhidden;
            st->nhidden++;
        }
        st->sort[st->nsort++] = so;
    }
    cc->agg_mode = false;
    if ((rc = s_limit(cc, s->limit_count, &st->limit, "LIMIT")) ||
        (rc = s_limit(cc, s->limit_offset, &st->offset, "OFFSET")))
        return rc;
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* INSERT / UPDATE / DELETE                                             */
/* ------------------------------------------------------------------ */

static void
s_pack_opt(msgpack_packer *pk, const sqlf_expr_t *e)
{
    if (e->p)
        hb_mp_pack_bin(pk, e->p, e->len);
    else
        msgpack_pack_nil(pk);
}

/* Compiles SET targets into a packed sets list (sqlf_expr_t holding raw
 * msgpack, not an expression). */
static hb_rc_t
s_sets(s_cc_t *cc, PgQuery__Node **list, size_t n, sqlf_expr_t *out)
{
    const sqlf_table_t *t = cc->t;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, (uint32_t)n);
    hb_rc_t rc = HB_OK;
    for (size_t i = 0; i < n && rc == HB_OK; i++) {
        const PgQuery__ResTarget *rt = list[i]->res_target;
        if (rt->n_indirection) {
            rc = s_err(cc, rt->location, "0A000", "assignment to a part of a column is not "
                                                  "supported");
            break;
        }
        int c = sqlf_table_col(t, rt->name);
        if (c < 0) {
            rc = s_err(cc, rt->location, "42703", "column \"%s\" of relation \"%s\" does not "
                                                  "exist",
                       rt->name, t->name);
            break;
        }
        for (uint32_t k = 0; k < t->npk; k++)
            if (t->pk[k] == (uint32_t)c)
                rc = s_err(cc, rt->location, "0A000",
                           "updating primary-key column \"%s\" is not supported", rt->name);
        if (rc)
            break;
        const sqlf_col_t *col = &t->cols[c];
        s_ex_t e;
        if (rt->val && rt->val->node_case == PG_QUERY__NODE__NODE_SET_TO_DEFAULT) {
            /* The default, evaluated now (CURRENT_TIMESTAMP is the
             * statement's), so storage and a block's view agree. */
            hb_val_t v = hb_val_nil();
            if (col->def) {
                hb_expr_env_t env = {.alloc = sqlf_stmt_alloc, .alloc_arg = cc->st,
                                     .err = cc->err, .now_us = cc->now_us};
                if (hb_expr_eval(col->def, col->deflen, &env, &v) != HB_OK) {
                    rc = HB_INVALID;
                    break;
                }
            }
            e = s_mk_const(cc, &v, col->type);
        } else if ((rc = s_expr(cc, rt->val, &e)) ||
                   (rc = s_coerce_const(cc, &e, col->type, rt->location))) {
            break;
        }
        msgpack_pack_array(&pk, 5);
        msgpack_pack_uint32(&pk, (uint32_t)c);
        msgpack_pack_uint32(&pk, col->type);
        msgpack_pack_int32(&pk, col->typmod);
        hb_mp_pack_bool(&pk, col->not_null);
        hb_mp_pack_bin(&pk, e.p, e.len);
    }
    if (rc) {
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    s_ex_t e = s_finish(cc, &sb, HB_T_UNKNOWN);
    *out = s_pub(&e);
    return HB_OK;
}

static hb_rc_t
s_returning(s_cc_t *cc, PgQuery__Node **list, size_t n)
{
    uint32_t cap = 0;
    if (!n)
        return HB_OK;
    cc->st->returning = true;
    return s_targets(cc, list, n, &cap);
}

/* Builds the INSERT op of one proposed row (vals[i] for target column
 * map[i]; DEFAULT where given[] is false) into st->ops; the row's values
 * take memory from alloc / arg. */
static hb_rc_t
s_insert_row(sqlf_stmt_t *st, hb_val_t *vals, const bool *given_in,
             void *(*alloc)(void *arg, size_t size), void *arg, hb_sqlerr_t *err)
{
    const sqlf_table_t *t = st->ins_table;
    hb_val_t row[HB_SQL_MAX_COLS];
    bool given[HB_SQL_MAX_COLS] = {false};
    for (uint32_t i = 0; i < st->ins_ncols; i++) {
        if (given_in && !given_in[i])
            continue;
        const sqlf_col_t *col = &t->cols[st->ins_map[i]];
        if (hb_val_coerce(&vals[i], col->type, col->typmod, alloc, arg,
                          &row[st->ins_map[i]], err) != HB_OK)
            return HB_INVALID;
        given[st->ins_map[i]] = true;
    }
    if (t->rowid) {
        /* A fresh row id: unique without coordination (sqlf_rowid_next). */
        if (!st->rowids)
            return hb_sqlerr_set(err, "0A000", "no row ids for table \"%s\"", t->name);
        row[t->ncols - 1] = hb_val_int(sqlf_rowid_next(st->rowids));
        given[t->ncols - 1] = true;
    }
    for (uint32_t c = 0; c < t->ncols; c++) {
        const sqlf_col_t *col = &t->cols[c];
        if (!given[c]) {
            row[c] = hb_val_nil();
            if (col->def) {
                hb_expr_env_t env = {
                    .alloc = alloc, .alloc_arg = arg, .err = err, .now_us = st->now_us};
                hb_val_t v;
                if (hb_expr_eval(col->def, col->deflen, &env, &v) != HB_OK ||
                    hb_val_coerce(&v, col->type, col->typmod, alloc, arg, &row[c], err) !=
                        HB_OK)
                    return HB_INVALID;
            }
        }
        if (col->not_null && row[c].type == HB_VAL_NIL)
            return hb_sqlerr_set(err, "23502",
                                 "null value in column \"%s\" of relation \"%s\" violates "
                                 "not-null constraint",
                                 col->name, t->name);
    }
    hb_key_t key;
    uint32_t plen = 0;
    hb_key_init(&key, t->id);
    for (uint32_t i = 0; i < t->npk; i++) {
        const hb_val_t *v = &row[t->pk[i]];
        if (v->type == HB_VAL_INT)
            hb_key_put_i64(&key, v->u.i);
        else if (v->type == HB_VAL_BOOL)
            hb_key_put_bool(&key, v->u.b);
        else if (v->type == HB_VAL_STR || v->type == HB_VAL_BIN)
            hb_key_put_str(&key, v->u.s.ptr, v->u.s.len);
        else
            return hb_sqlerr_set(err, "0A000", "primary keys of this type are not supported");
        if (i + 1 == t->npart)
            plen = (uint32_t)key.len;
    }
    if (key.overflow)
        return hb_sqlerr_set(err, "54000", "primary key is too long");
    if (st->nops >= HB_SQL_MAX_OPS)
        return hb_sqlerr_set(err, "54000", "statement inserts more than %d rows",
                             HB_SQL_MAX_OPS);
    msgpack_sbuffer rowsb;
    msgpack_packer rpk, pk;
    msgpack_sbuffer_init(&rowsb);
    msgpack_packer_init(&rpk, &rowsb, msgpack_sbuffer_write);
    if (hb_row_pack(&rpk, row, t->ncols) != HB_OK) {
        msgpack_sbuffer_destroy(&rowsb);
        return hb_sqlerr_set(err, "22003", "a value cannot be stored");
    }
    msgpack_packer_init(&pk, &st->ops, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 9);
    msgpack_pack_uint8(&pk, HB_SQLOP_INSERT);
    hb_mp_pack_bin(&pk, key.buf, key.len);
    msgpack_pack_uint32(&pk, plen);
    hb_mp_pack_cstr(&pk, t->name);
    hb_mp_pack_bin(&pk, rowsb.data, rowsb.size);
    msgpack_pack_uint64(&pk, st->ins_conflict);
    if (st->ins_sets.p)
        msgpack_sbuffer_write(&st->ops, (const char *)st->ins_sets.p, st->ins_sets.len);
    else
        msgpack_pack_array(&pk, 0);
    s_pack_opt(&pk, &st->ins_where);
    hb_mp_pack_bool(&pk, st->returning);
    st->nops++;
    msgpack_sbuffer_destroy(&rowsb);
    return HB_OK;
}

/* The 42601 of a row of n values for ncols target columns. */
static hb_rc_t
s_arity_err(hb_sqlerr_t *err, uint32_t n, uint32_t ncols)
{
    return hb_sqlerr_set(err, "42601", "INSERT has more %s than %s",
                         n > ncols ? "expressions" : "target columns",
                         n > ncols ? "target columns" : "expressions");
}

hb_rc_t
sqlf_stmt_insert_row(sqlf_stmt_t *st, const hb_val_t *vals, uint32_t n,
                     void *(*alloc)(void *arg, size_t size), void *arg, hb_sqlerr_t *err)
{
    if (n != st->ins_ncols)
        return s_arity_err(err, n, st->ins_ncols);
    hb_val_t copy[HB_SQL_MAX_COLS];
    memcpy(copy, vals, n * sizeof *copy);
    if (!alloc) {
        alloc = sqlf_stmt_alloc;
        arg = st;
    }
    return s_insert_row(st, copy, NULL, alloc, arg, err);
}

static hb_rc_t s_plan(s_cc_t *cc, const PgQuery__Node *n);

static hb_rc_t
s_plan_insert(s_cc_t *cc, const PgQuery__InsertStmt *ins)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    st->kind = SQLF_ST_WRITE;
    st->wkind = HB_SQLOP_INSERT;
    snprintf(st->tag, sizeof st->tag, "INSERT");
    if (ins->with_clause)
        return s_err(cc, -1, "0A000", "WITH is not supported");
    if ((rc = s_table(cc, ins->relation, &cc->t)))
        return rc;
    const sqlf_table_t *t = cc->t;
    st->ins_table = t;
    cc->alias = ins->relation->alias && ins->relation->alias->aliasname
                    ? ins->relation->alias->aliasname
                    : t->name;
    uint32_t *map = sqlf_stmt_alloc(st, HB_SQL_MAX_COLS * sizeof *map);
    uint32_t ncols = 0;
    if (ins->n_cols) {
        for (size_t i = 0; i < ins->n_cols; i++) {
            const PgQuery__ResTarget *rt = ins->cols[i]->res_target;
            int c = sqlf_table_col(t, rt->name);
            if (c < 0)
                return s_err(cc, rt->location, "42703", "column \"%s\" of relation \"%s\" does "
                                                        "not exist",
                             rt->name, t->name);
            for (uint32_t j = 0; j < ncols; j++)
                if (map[j] == (uint32_t)c)
                    return s_err(cc, rt->location, "42701", "column \"%s\" specified more than "
                                                            "once",
                                 rt->name);
            map[ncols++] = (uint32_t)c;
        }
    } else {
        for (uint32_t c = 0; c < sqlf_table_nvis(t); c++)
            map[ncols++] = c;
    }
    if (t->rw_id)
        return s_err(cc, -1, "55006", "table \"%s\" is being rewritten by ALTER TABLE",
                     t->name);
    if (t->rowid && !cc->rowids && !cc->desc)
        return s_err(cc, -1, "0A000", "no row ids here for table \"%s\"", t->name);
    st->rowids = cc->rowids;
    st->ins_map = map;
    st->ins_ncols = ncols;
    const PgQuery__Node *sel = ins->select_stmt;
    if (!sel || sel->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return s_err(cc, -1, "0A000", "INSERT ... DEFAULT VALUES is not supported yet");

    /* ON CONFLICT */
    if (ins->on_conflict_clause) {
        const PgQuery__OnConflictClause *oc = ins->on_conflict_clause;
        if (oc->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_NOTHING) {
            st->ins_conflict = 1;
        } else {
            st->ins_conflict = 2;
            if (!oc->infer)
                return s_err(cc, oc->location, "42601", "ON CONFLICT DO UPDATE requires "
                                                        "inference specification or "
                                                        "constraint name");
            cc->excluded = true;
            if ((rc = s_sets(cc, oc->target_list, oc->n_target_list, &st->ins_sets)))
                return rc;
            if (oc->where_clause) {
                s_ex_t w;
                if ((rc = s_expr(cc, oc->where_clause, &w)))
                    return rc;
                st->ins_where = s_pub(&w);
            }
            cc->excluded = false;
        }
    }
    if ((rc = s_returning(cc, ins->returning_list, ins->n_returning_list)))
        return rc;

    const PgQuery__SelectStmt *vs = sel->select_stmt;
    if (!vs->n_values_lists) {
        /* INSERT ... SELECT: the rows come from a read, made when the
         * statement runs (inside its transaction block: validated). */
        sqlf_stmt_t *sub = hb_calloc(1, sizeof *sub);
        s_cc_t sc = *cc;
        sc.st = sub;
        sc.t = NULL;
        sc.alias = NULL;
        sc.excluded = false;
        st->sub = sub; /* calloc'd: its sbuffers are initialised (all zero) */
        if ((rc = s_plan(&sc, sel)))
            return rc;
        if (!ins->n_cols && sub->nout < ncols)
            st->ins_ncols = ncols = sub->nout; /* the rest get their defaults */
        if (sub->nout != ncols)
            return s_arity_err(cc->err, sub->nout, ncols);
        st->ollp = true;
        return HB_OK;
    }
    cc->t = NULL; /* VALUES cannot refer to columns */
    hb_val_t vals[HB_SQL_MAX_COLS];
    bool given[HB_SQL_MAX_COLS];
    for (size_t r = 0; r < vs->n_values_lists; r++) {
        const PgQuery__Node *ln = vs->values_lists[r];
        if (ln->node_case != PG_QUERY__NODE__NODE_LIST)
            return s_err(cc, -1, "42601", "bad VALUES list");
        const PgQuery__List *vl = ln->list;
        if (r == 0 && !ins->n_cols && vl->n_items < ncols)
            st->ins_ncols = ncols =
                (uint32_t)vl->n_items; /* the rest get their defaults */
        if (r > 0 && vl->n_items != vs->values_lists[0]->list->n_items)
            return s_err(cc, -1, "42601", "VALUES lists must all be the same length");
        if (vl->n_items != ncols)
            return s_arity_err(cc->err, (uint32_t)vl->n_items, ncols);
        for (uint32_t i = 0; i < ncols; i++) {
            given[i] = vl->items[i]->node_case != PG_QUERY__NODE__NODE_SET_TO_DEFAULT;
            if (!given[i])
                continue;
            s_ex_t e;
            if ((rc = s_expr(cc, vl->items[i], &e)))
                return rc;
            if (!e.is_const)
                return s_err(cc, -1, "0A000", "VALUES must be constants");
            s_note_param(cc, &e, t->cols[map[i]].type);
            vals[i] = e.cval;
        }
        if (!cc->desc &&
            (rc = s_insert_row(st, vals, given, sqlf_stmt_alloc, st, cc->err)))
            return rc;
    }
    cc->t = t;
    return HB_OK;
}

uint32_t
sqlf_table_plen(const sqlf_table_t *t, const uint8_t *key, size_t klen)
{
    const uint8_t *p = key + 4, *end = key + klen;
    for (uint32_t i = 0; i < t->npart && p < end; i++) {
        const sqlf_col_t *c = &t->cols[t->pk[i]];
        if (c->type == HB_T_BOOL) {
            p += 1;
        } else if (s_is_int(c->type) || c->type == HB_T_DATE || c->type == HB_T_TIMESTAMP) {
            p += 8;
        } else {
            while (p + 1 < end && !(p[0] == 0 && p[1] == 1))
                p += p[0] == 0 ? 2 : 1;
            p += 2;
        }
    }
    return (uint32_t)(p > end ? klen : (size_t)(p - key));
}

void
sqlf_stmt_add_row_op(sqlf_stmt_t *st, const uint8_t *key, size_t klen)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, &st->ops, msgpack_sbuffer_write);
    uint32_t plen = sqlf_table_plen(st->src.table, key, klen);
    if (st->wkind == HB_SQLOP_UPDATE) {
        msgpack_pack_array(&pk, 6);
        msgpack_pack_uint8(&pk, HB_SQLOP_UPDATE);
        hb_mp_pack_bin(&pk, key, klen);
        msgpack_pack_uint32(&pk, plen);
        s_pack_opt(&pk, &st->src.where);
        msgpack_sbuffer_write(&st->ops, (const char *)st->upd_sets.p, st->upd_sets.len);
        hb_mp_pack_bool(&pk, st->returning);
    } else {
        msgpack_pack_array(&pk, 5);
        msgpack_pack_uint8(&pk, HB_SQLOP_DELETE);
        hb_mp_pack_bin(&pk, key, klen);
        msgpack_pack_uint32(&pk, plen);
        s_pack_opt(&pk, &st->src.where);
        hb_mp_pack_bool(&pk, st->returning);
    }
    st->nops++;
}

static hb_rc_t
s_plan_upd_del(s_cc_t *cc, const PgQuery__RangeVar *rel, const PgQuery__Node *where,
               PgQuery__Node **sets, size_t nsets, PgQuery__Node **ret, size_t nret)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    st->kind = SQLF_ST_WRITE;
    if ((rc = s_table(cc, rel, &cc->t)))
        return rc;
    cc->alias = rel->alias && rel->alias->aliasname ? rel->alias->aliasname : cc->t->name;
    if (cc->t->rw_id && !cc->desc)
        return s_err(cc, -1, "55006", "table \"%s\" is being rewritten by ALTER TABLE",
                     cc->t->name);
    if ((rc = s_source(cc, where, &st->src)))
        return rc;
    if (where && !st->src.key_only) {
        /* (A point write by the key alone carries no WHERE: its outcome
         * depends only on whether the row exists.) */
        s_ex_t w;
        if ((rc = s_expr(cc, where, &w)) || (rc = s_coerce_const(cc, &w, HB_T_BOOL, -1)))
            return rc;
        if (w.type != HB_T_BOOL && w.type != HB_T_UNKNOWN)
            return s_err(cc, -1, "42804", "argument of WHERE must be type boolean, not type %s",
                         hb_type_name(w.type));
        st->src.where = s_pub(&w);
    }
    if (st->wkind == HB_SQLOP_UPDATE && (rc = s_sets(cc, sets, nsets, &st->upd_sets)))
        return rc;
    if ((rc = s_returning(cc, ret, nret)))
        return rc;
    if (st->src.point)
        sqlf_stmt_add_row_op(st, st->src.start.buf, st->src.start.len);
    else
        st->ollp = true;
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* DDL                                                                  */
/* ------------------------------------------------------------------ */

static hb_rc_t
s_plan_create(s_cc_t *cc, const PgQuery__CreateStmt *cs)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    st->kind = SQLF_ST_DDL;
    st->ddl = HB_SQLDDL_CREATE;
    st->missing_ok = cs->if_not_exists;
    snprintf(st->tag, sizeof st->tag, "CREATE TABLE");
    if (cs->n_inh_relations || cs->partbound || cs->of_typename)
        return s_err(cc, -1, "0A000", "INHERITS, PARTITION OF and OF are not supported");
    for (size_t i = 0; i < cs->n_options; i++) {
        /* Storage parameters: fillfactor means nothing to an LSM; accepted. */
        const PgQuery__DefElem *d =
            cs->options[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM
                ? cs->options[i]->def_elem
                : NULL;
        if (!d || !d->defname || strcmp(d->defname, "fillfactor") != 0)
            return s_err(cc, d ? d->location : -1, "22023",
                         "unrecognized parameter \"%s\"",
                         d && d->defname ? d->defname : "?");
        const PgQuery__Node *a = d->arg;
        int64_t ff = -1;
        if (a && a->node_case == PG_QUERY__NODE__NODE_INTEGER)
            ff = a->integer->ival;
        if (ff < 10 || ff > 100)
            return s_err(cc, d->location, "22023",
                         "value for fillfactor must be an integer between 10 and 100");
    }
    if (cs->relation->schemaname && *cs->relation->schemaname &&
        strcmp(cs->relation->schemaname, "public") != 0)
        return s_err(cc, cs->relation->location, "3F000", "schema \"%s\" does not exist",
                     cs->relation->schemaname);
    if ((rc = s_name(cc, cs->relation->relname, cs->relation->location, st->ddl_name)))
        return rc;
    sqlf_table_t t = {0};
    snprintf(t.name, sizeof t.name, "%s", st->ddl_name);
    t.cols = sqlf_stmt_alloc(st, HB_SQL_MAX_COLS * sizeof *t.cols);
    memset(t.cols, 0, HB_SQL_MAX_COLS * sizeof *t.cols);
    const PgQuery__Constraint *pkc = NULL;
    for (size_t i = 0; i < cs->n_table_elts; i++) {
        const PgQuery__Node *e = cs->table_elts[i];
        if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
            const PgQuery__Constraint *c = e->constraint;
            if (c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
                return s_err(cc, c->location, "0A000",
                             "only PRIMARY KEY table constraints are supported");
            if (pkc || t.npk)
                return s_err(cc, c->location, "42P16",
                             "multiple primary keys for table \"%s\" are not allowed", t.name);
            pkc = c;
            continue;
        }
        if (e->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
            return s_err(cc, -1, "0A000", "LIKE and other table elements are not supported");
        const PgQuery__ColumnDef *cd = e->column_def;
        if (t.ncols == HB_SQL_MAX_COLS)
            return s_err(cc, cd->location, "54011", "tables can have at most %d columns",
                         HB_SQL_MAX_COLS);
        sqlf_col_t *col = &t.cols[t.ncols];
        if ((rc = s_name(cc, cd->colname, cd->location, col->name)))
            return rc;
        if (sqlf_table_col(&t, col->name) >= 0)
            return s_err(cc, cd->location, "42701", "column \"%s\" specified more than once",
                         col->name);
        if ((rc = s_type(cc, cd->type_name, &col->type, &col->typmod)))
            return rc;
        col->not_null = cd->is_not_null;
        t.ncols++;
        for (size_t k = 0; k < cd->n_constraints; k++) {
            const PgQuery__Constraint *c = cd->constraints[k]->constraint;
            switch (c->contype) {
            case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
                col->not_null = true;
                break;
            case PG_QUERY__CONSTR_TYPE__CONSTR_NULL:
                break;
            case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
                if (pkc || t.npk)
                    return s_err(cc, c->location, "42P16",
                                 "multiple primary keys for table \"%s\" are not allowed",
                                 t.name);
                t.pk[t.npk++] = t.ncols - 1;
                break;
            case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT: {
                const sqlf_table_t *save = cc->t;
                cc->t = NULL;
                cc->in_default = true;
                s_ex_t d;
                rc = s_expr(cc, c->raw_expr, &d);
                cc->t = save;
                cc->in_default = false;
                if (rc)
                    return rc;
                if (!d.is_const) {
                    /* CURRENT_TIMESTAMP and friends: evaluated at INSERT. */
                    col->def = d.p;
                    col->deflen = d.len;
                    break;
                }
                hb_val_t v;
                if (hb_val_coerce(&d.cval, col->type, col->typmod, sqlf_stmt_alloc, st, &v,
                                  cc->err) != HB_OK)
                    return HB_INVALID;
                s_ex_t dc = s_mk_const(cc, &v, col->type);
                col->def = dc.p;
                col->deflen = dc.len;
                break;
            }
            default:
                return s_err(cc, c->location, "0A000",
                             "column constraints other than PRIMARY KEY, NOT NULL, NULL and "
                             "DEFAULT are not supported");
            }
        }
    }
    if (t.ncols == 0)
        return s_err(cc, -1, "0A000", "tables without columns are not supported");
    if (pkc) {
        for (size_t k = 0; k < pkc->n_keys; k++) {
            const char *name = s_str(pkc->keys[k]);
            int c = name ? sqlf_table_col(&t, name) : -1;
            if (c < 0)
                return s_err(cc, pkc->location, "42703",
                             "column \"%s\" named in key does not exist", name ? name : "?");
            if (t.npk == SQLF_MAX_PK)
                return s_err(cc, pkc->location, "54011", "at most %d key columns", SQLF_MAX_PK);
            for (uint32_t j = 0; j < t.npk; j++)
                if (t.pk[j] == (uint32_t)c)
                    return s_err(cc, pkc->location, "42701",
                                 "column \"%s\" appears twice in primary key constraint", name);
            t.pk[t.npk++] = (uint32_t)c;
        }
    }
    if (t.npk == 0) {
        /* No primary key: a hidden row id is the key (sqlf_rowid_next). */
        if (cs->partspec)
            return s_err(cc, -1, "42P16",
                         "PARTITION BY needs a PRIMARY KEY to partition by");
        if (t.ncols == HB_SQL_MAX_COLS)
            return s_err(cc, -1, "54011", "tables can have at most %d columns",
                         HB_SQL_MAX_COLS - 1);
        sqlf_col_t *rc_ = &t.cols[t.ncols];
        snprintf(rc_->name, sizeof rc_->name, "rowid");
        rc_->type = HB_T_INT8;
        rc_->not_null = true;
        t.pk[t.npk++] = t.ncols++;
        t.rowid = true;
    }
    for (uint32_t k = 0; k < t.npk; k++) {
        sqlf_col_t *c = &t.cols[t.pk[k]];
        c->not_null = true;
        if (c->type == HB_T_FLOAT4 || c->type == HB_T_FLOAT8 || c->type == HB_T_NUMERIC)
            return s_err(cc, -1, "0A000", "primary-key columns of type %s are not supported",
                         hb_type_name(c->type));
    }
    t.npart = t.npk;
    if (cs->partspec) {
        const PgQuery__PartitionSpec *ps = cs->partspec;
        if (strcasecmp(ps->strategy, "hash") != 0)
            return s_err(cc, ps->location, "0A000", "only PARTITION BY HASH is supported");
        if (ps->n_part_params == 0 || ps->n_part_params > t.npk)
            return s_err(cc, ps->location, "42P16",
                         "the partition key must be a prefix of the primary key");
        for (size_t k = 0; k < ps->n_part_params; k++) {
            const PgQuery__PartitionElem *pe = ps->part_params[k]->partition_elem;
            int c = pe->name ? sqlf_table_col(&t, pe->name) : -1;
            if (c < 0 || (uint32_t)c != t.pk[k])
                return s_err(cc, pe->location, "42P16",
                             "the partition key must be a prefix of the primary key (\"%s\" is "
                             "not key column %zu)",
                             pe->name ? pe->name : "?", k + 1);
        }
        t.npart = (uint32_t)ps->n_part_params;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, &st->ddl_def, msgpack_sbuffer_write);
    sqlf_table_pack(&pk, &t);
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Indexes                                                              */
/* ------------------------------------------------------------------ */

static hb_rc_t
s_plan_create_index(s_cc_t *cc, const PgQuery__IndexStmt *is)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    const sqlf_table_t *tab;
    if ((rc = s_table(cc, is->relation, &tab)))
        return rc;
    if (tab->rw_id)
        return s_err(cc, -1, "55006", "table \"%s\" is being rewritten by ALTER TABLE",
                     tab->name);
    if (is->unique || is->primary)
        return s_err(cc, -1, "0A000",
                     "UNIQUE indexes are not supported (the primary key is the unique key)");
    if (is->where_clause || is->n_index_including_params)
        return s_err(cc, -1, "0A000", "partial indexes and INCLUDE are not supported");
    if (is->access_method && *is->access_method && strcmp(is->access_method, "btree") != 0)
        return s_err(cc, -1, "0A000", "index method %s is not supported", is->access_method);
    st->kind = SQLF_ST_DDL;
    st->ddl = HB_SQLDDL_ALTER;
    snprintf(st->tag, sizeof st->tag, "CREATE INDEX");
    sqlf_table_t t = *tab;
    if (t.nidx == SQLF_MAX_INDEXES)
        return s_err(cc, -1, "54000", "a table can have at most %d indexes", SQLF_MAX_INDEXES);
    sqlf_index_t *ix = &t.idx[t.nidx];
    memset(ix, 0, sizeof *ix);
    char name[SQLF_NAME_MAX];
    if (is->idxname && *is->idxname)
        snprintf(name, sizeof name, "%s", is->idxname);
    else
        snprintf(name, sizeof name, "%.40s_idx%u", t.name, t.next_idx);
    if ((rc = s_name(cc, name, -1, ix->name)))
        return rc;
    uint32_t which;
    if (sqlf_catalog_find_index(cc->cat, ix->name, &which)) {
        if (is->if_not_exists) {
            st->kind = SQLF_ST_EMPTY;
            return HB_OK;
        }
        return s_err(cc, -1, "42P07", "relation \"%s\" already exists", ix->name);
    }
    if (is->n_index_params == 0 || is->n_index_params > SQLF_MAX_IDXCOLS)
        return s_err(cc, -1, "54011", "an index has 1..%d columns", SQLF_MAX_IDXCOLS);
    for (size_t i = 0; i < is->n_index_params; i++) {
        const PgQuery__IndexElem *ie = is->index_params[i]->index_elem;
        if (!ie->name || ie->expr)
            return s_err(cc, -1, "0A000", "indexes on expressions are not supported");
        int c = sqlf_table_col(&t, ie->name);
        if (c < 0)
            return s_err(cc, -1, "42703", "column \"%s\" does not exist", ie->name);
        if (!s_indexable(t.cols[c].type))
            return s_err(cc, -1, "0A000", "indexes on %s columns are not supported",
                         hb_type_name(t.cols[c].type));
        ix->cols[ix->ncols++] = (uint32_t)c;
    }
    ix->no = t.next_idx++;
    ix->ready = false; /* writes maintain it from now on; reads wait for the backfill */
    t.nidx++;
    st->ix_create = true;
    st->ix_no = ix->no;
    snprintf(st->ddl_name, sizeof st->ddl_name, "%s", t.name);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &st->ddl_def, msgpack_sbuffer_write);
    sqlf_table_pack(&pk, &t);
    return HB_OK;
}

/* ALTER TABLE t ADD PRIMARY KEY (cols) of a table with the hidden row
 * id: a TRUNCATE-kind sql.ddl gives the table a new id and the state
 * "rewriting" (its rows stay under the old, pinned id; writes answer
 * 55006); sqlfront then copies the rows into the new id keyed by the new
 * key (front.c, s_rw_pump) and installs the new definition. */
static hb_rc_t
s_plan_add_pkey(s_cc_t *cc, const PgQuery__AlterTableStmt *as)
{
    sqlf_stmt_t *st = cc->st;
    const sqlf_table_t *tab;
    hb_rc_t rc;
    if (as->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || as->n_cmds != 1 ||
        as->cmds[0]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
        return s_err(cc, -1, "0A000",
                     "only ALTER TABLE ... ADD PRIMARY KEY is supported");
    const PgQuery__AlterTableCmd *cmd = as->cmds[0]->alter_table_cmd;
    const PgQuery__Constraint *c =
        cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT
            ? cmd->def->constraint
            : NULL;
    if (cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint || !c ||
        c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
        return s_err(cc, -1, "0A000",
                     "only ALTER TABLE ... ADD PRIMARY KEY is supported");
    if ((rc = s_table(cc, as->relation, &tab)))
        return rc;
    if (!tab->rowid)
        return s_err(cc, -1, "42P16",
                     "multiple primary keys for table \"%s\" are not allowed", tab->name);
    if (tab->nidx)
        return s_err(cc, -1, "0A000",
                     "ADD PRIMARY KEY on a table with secondary indexes is not supported "
                     "(drop them first)");
    if (c->n_keys == 0 || c->n_keys > SQLF_MAX_PK)
        return s_err(cc, c->location, "54011", "a primary key has 1..%d columns",
                     SQLF_MAX_PK);
    sqlf_table_t t = *tab;
    t.rw_npk = 0;
    for (size_t k = 0; k < c->n_keys; k++) {
        const char *name = s_str(c->keys[k]);
        int col = name ? sqlf_table_col(&t, name) : -1;
        if (col < 0)
            return s_err(cc, c->location, "42703",
                         "column \"%s\" named in key does not exist", name ? name : "?");
        for (uint32_t j = 0; j < t.rw_npk; j++)
            if (t.rw_pk[j] == (uint32_t)col)
                return s_err(cc, c->location, "42701",
                             "column \"%s\" appears twice in primary key constraint",
                             name);
        hb_type_t ty = t.cols[col].type;
        if (ty == HB_T_FLOAT4 || ty == HB_T_FLOAT8 || ty == HB_T_NUMERIC)
            return s_err(cc, c->location, "0A000",
                         "primary-key columns of type %s are not supported",
                         hb_type_name(ty));
        t.rw_pk[t.rw_npk++] = (uint32_t)col;
    }
    /* A second ADD PRIMARY KEY while one is rewriting (or after its gateway
     * died) starts over from the same old rows. */
    t.id_pinned = true;
    t.rw_id = 1; /* the DDL gives the record its new id */
    st->kind = SQLF_ST_DDL;
    st->ddl = HB_SQLDDL_TRUNCATE;
    st->rw_create = true;
    snprintf(st->tag, sizeof st->tag, "ALTER TABLE");
    snprintf(st->ddl_name, sizeof st->ddl_name, "%s", t.name);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &st->ddl_def, msgpack_sbuffer_write);
    sqlf_table_pack(&pk, &t);
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Procedures                                                           */
/* ------------------------------------------------------------------ */

static const char *
s_proc_name(PgQuery__Node **names, size_t n)
{
    return n ? s_str(names[n - 1]) : NULL;
}

static hb_rc_t
s_plan_create_proc(s_cc_t *cc, const PgQuery__CreateFunctionStmt *cf)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    if (!cf->is_procedure)
        return s_err(cc, -1, "0A000", "CREATE FUNCTION is not supported; use CREATE PROCEDURE");
    st->kind = SQLF_ST_DDL;
    st->ddl = cf->replace ? HB_SQLDDL_REPLACE_PROC : HB_SQLDDL_CREATE_PROC;
    snprintf(st->tag, sizeof st->tag, "CREATE PROCEDURE");
    char name[SQLF_NAME_MAX];
    if ((rc = s_name(cc, s_proc_name(cf->funcname, cf->n_funcname), -1, name)))
        return rc;
    if (cf->sql_body)
        return s_err(cc, -1, "0A000", "BEGIN ATOMIC bodies are not supported; use AS $$ ... $$");
    const char *lang = NULL, *body = NULL;
    for (size_t i = 0; i < cf->n_options; i++) {
        const PgQuery__DefElem *d = cf->options[i]->def_elem;
        if (strcmp(d->defname, "language") == 0)
            lang = s_str(d->arg);
        else if (strcmp(d->defname, "as") == 0 && d->arg &&
                 d->arg->node_case == PG_QUERY__NODE__NODE_LIST && d->arg->list->n_items >= 1)
            body = s_str(d->arg->list->items[0]);
        else
            return s_err(cc, d->location, "0A000", "procedure option %s is not supported",
                         d->defname);
    }
    if (!lang || strcmp(lang, "sql") != 0)
        return s_err(cc, -1, "0A000", "only LANGUAGE SQL procedures are supported");
    if (!body)
        return s_err(cc, -1, "42P13", "no procedure body specified");
    if (cf->n_parameters > SQLF_MAX_PARAMS)
        return s_err(cc, -1, "54023", "procedures can have at most %d parameters",
                     SQLF_MAX_PARAMS);
    sqlf_proc_t p = {0};
    snprintf(p.name, sizeof p.name, "%s", name);
    p.nparams = (uint32_t)cf->n_parameters;
    p.pnames = sqlf_stmt_alloc(st, (p.nparams + 1) * sizeof *p.pnames);
    p.ptypes = sqlf_stmt_alloc(st, (p.nparams + 1) * sizeof *p.ptypes);
    p.pmods = sqlf_stmt_alloc(st, (p.nparams + 1) * sizeof *p.pmods);
    for (uint32_t i = 0; i < p.nparams; i++) {
        const PgQuery__FunctionParameter *fp = cf->parameters[i]->function_parameter;
        if (fp->mode != PG_QUERY__FUNCTION_PARAMETER_MODE__FUNC_PARAM_IN &&
            fp->mode != PG_QUERY__FUNCTION_PARAMETER_MODE__FUNC_PARAM_DEFAULT)
            return s_err(cc, -1, "0A000", "only IN parameters are supported");
        if (fp->defexpr)
            return s_err(cc, -1, "0A000", "parameter defaults are not supported");
        p.pnames[i][0] = '\0';
        if (fp->name && *fp->name && (rc = s_name(cc, fp->name, -1, p.pnames[i])))
            return rc;
        if ((rc = s_type(cc, fp->arg_type, &p.ptypes[i], &p.pmods[i])))
            return rc;
    }
    /* The body must parse now; it is planned at each CALL (tables may
     * change in between). */
    PgQueryProtobufParseResult pr = pg_query_parse_protobuf(body);
    if (pr.error) {
        rc = s_err(cc, -1, "42601", "in the procedure body: %s at character %d",
                   pr.error->message, pr.error->cursorpos);
        pg_query_free_protobuf_parse_result(pr);
        return rc;
    }
    pg_query_free_protobuf_parse_result(pr);
    p.body = (char *)body;
    st->ddl_name[0] = 0x01;
    snprintf(st->ddl_name + 1, sizeof st->ddl_name - 1, "%s", name);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &st->ddl_def, msgpack_sbuffer_write);
    sqlf_proc_pack(&pk, &p);
    return HB_OK;
}

static hb_rc_t
s_plan_call(s_cc_t *cc, const PgQuery__CallStmt *cs)
{
    sqlf_stmt_t *st = cc->st;
    const PgQuery__FuncCall *f = cs->funccall;
    hb_rc_t rc;
    st->kind = SQLF_ST_CALL;
    snprintf(st->tag, sizeof st->tag, "CALL");
    const char *name = f ? s_func_name(f) : NULL;
    const sqlf_proc_t *p = name ? sqlf_catalog_find_proc(cc->cat, name) : NULL;
    if (!p)
        return s_err(cc, f ? f->location : -1, "42883", "procedure %s does not exist",
                     name ? name : "?");
    if (f->n_args != p->nparams)
        return s_err(cc, f->location, "42883",
                     "procedure %s takes %u arguments, not %zu", name, p->nparams, f->n_args);
    st->call_nargs = p->nparams;
    st->call_args = sqlf_stmt_alloc(st, (p->nparams + 1) * sizeof *st->call_args);
    st->call_pnames = sqlf_stmt_alloc(st, (p->nparams + 1) * sizeof *st->call_pnames);
    for (uint32_t i = 0; i < p->nparams; i++) {
        s_ex_t e;
        if ((rc = s_expr(cc, f->args[i], &e)))
            return rc;
        if (!e.is_const)
            return s_err(cc, f->location, "0A000", "CALL arguments must be constants");
        s_note_param(cc, &e, p->ptypes[i]);
        if (hb_val_coerce(&e.cval, p->ptypes[i], p->pmods[i], sqlf_stmt_alloc, st,
                          &st->call_args[i], cc->err) != HB_OK)
            return HB_INVALID;
        memcpy(st->call_pnames[i], p->pnames[i], SQLF_NAME_MAX);
    }
    size_t blen = strlen(p->body);
    char *body = sqlf_stmt_alloc(st, blen + 1);
    memcpy(body, p->body, blen + 1);
    st->call_body = body;
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Entry point                                                          */
/* ------------------------------------------------------------------ */

/* Makes room for n DDL items in st. */
static void
s_ddl_items(sqlf_stmt_t *st, uint32_t n)
{
    st->ddl_n = n;
    st->ddl_names = sqlf_stmt_alloc(st, n * sizeof *st->ddl_names);
    memset(st->ddl_names, 0, n * sizeof *st->ddl_names);
    st->ddl_defs = sqlf_stmt_alloc(st, n * sizeof *st->ddl_defs);
    memset(st->ddl_defs, 0, n * sizeof *st->ddl_defs);
}

static hb_rc_t
s_plan(s_cc_t *cc, const PgQuery__Node *n)
{
    sqlf_stmt_t *st = cc->st;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        return s_plan_select(cc, n->select_stmt);
    case PG_QUERY__NODE__NODE_INSERT_STMT:
        return s_plan_insert(cc, n->insert_stmt);
    case PG_QUERY__NODE__NODE_UPDATE_STMT: {
        const PgQuery__UpdateStmt *u = n->update_stmt;
        if (u->n_from_clause || u->with_clause)
            return s_err(cc, -1, "0A000", "UPDATE ... FROM and WITH are not supported");
        st->wkind = HB_SQLOP_UPDATE;
        snprintf(st->tag, sizeof st->tag, "UPDATE");
        return s_plan_upd_del(cc, u->relation, u->where_clause, u->target_list,
                              u->n_target_list, u->returning_list, u->n_returning_list);
    }
    case PG_QUERY__NODE__NODE_DELETE_STMT: {
        const PgQuery__DeleteStmt *d = n->delete_stmt;
        if (d->n_using_clause || d->with_clause)
            return s_err(cc, -1, "0A000", "DELETE ... USING and WITH are not supported");
        st->wkind = HB_SQLOP_DELETE;
        snprintf(st->tag, sizeof st->tag, "DELETE");
        return s_plan_upd_del(cc, d->relation, d->where_clause, NULL, 0, d->returning_list,
                              d->n_returning_list);
    }
    case PG_QUERY__NODE__NODE_CREATE_STMT:
        return s_plan_create(cc, n->create_stmt);
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
        return s_plan_create_proc(cc, n->create_function_stmt);
    case PG_QUERY__NODE__NODE_CALL_STMT:
        return s_plan_call(cc, n->call_stmt);
    case PG_QUERY__NODE__NODE_DROP_STMT: {
        const PgQuery__DropStmt *d = n->drop_stmt;
        if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE) {
            if (d->n_objects != 1 || d->objects[0]->node_case != PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS)
                return s_err(cc, -1, "0A000", "DROP PROCEDURE of several procedures is not supported");
            const PgQuery__ObjectWithArgs *ow = d->objects[0]->object_with_args;
            char name[SQLF_NAME_MAX];
            hb_rc_t rc = s_name(cc, s_proc_name(ow->objname, ow->n_objname), -1, name);
            if (rc)
                return rc;
            st->kind = SQLF_ST_DDL;
            st->ddl = HB_SQLDDL_DROP_PROC;
            st->missing_ok = d->missing_ok;
            snprintf(st->tag, sizeof st->tag, "DROP PROCEDURE");
            st->ddl_name[0] = 0x01;
            snprintf(st->ddl_name + 1, sizeof st->ddl_name - 1, "%s", name);
            return HB_OK;
        }
        if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX) {
            if (d->n_objects != 1 || d->objects[0]->node_case != PG_QUERY__NODE__NODE_LIST)
                return s_err(cc, -1, "0A000", "DROP INDEX of several indexes is not supported");
            const PgQuery__List *l = d->objects[0]->list;
            const char *iname = l->n_items ? s_str(l->items[l->n_items - 1]) : NULL;
            uint32_t which = 0;
            const sqlf_table_t *tab = iname ? sqlf_catalog_find_index(cc->cat, iname, &which) : NULL;
            st->kind = SQLF_ST_DDL;
            st->ddl = HB_SQLDDL_ALTER;
            snprintf(st->tag, sizeof st->tag, "DROP INDEX");
            if (!tab) {
                if (d->missing_ok) {
                    st->kind = SQLF_ST_EMPTY;
                    return HB_OK;
                }
                return s_err(cc, -1, "42704", "index \"%s\" does not exist", iname ? iname : "?");
            }
            sqlf_table_t t = *tab;
            for (uint32_t k = which; k + 1 < t.nidx; k++)
                t.idx[k] = t.idx[k + 1];
            t.nidx--;
            snprintf(st->ddl_name, sizeof st->ddl_name, "%s", t.name);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &st->ddl_def, msgpack_sbuffer_write);
            sqlf_table_pack(&pk, &t);
            return HB_OK;
        }
        if (d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
            return s_err(cc, -1, "0A000",
                         "only DROP TABLE, DROP INDEX and DROP PROCEDURE are supported");
        if (d->n_objects == 0 || d->n_objects > SQLF_MAX_DDL_ITEMS)
            return s_err(cc, -1, "54000", "DROP TABLE names 1..%d tables",
                         SQLF_MAX_DDL_ITEMS);
        st->kind = SQLF_ST_DDL;
        st->ddl = HB_SQLDDL_DROP;
        st->missing_ok = d->missing_ok;
        snprintf(st->tag, sizeof st->tag, "DROP TABLE");
        s_ddl_items(st, (uint32_t)d->n_objects);
        for (size_t i = 0; i < d->n_objects; i++) {
            if (d->objects[i]->node_case != PG_QUERY__NODE__NODE_LIST)
                return s_err(cc, -1, "42601", "bad DROP TABLE name");
            const PgQuery__List *l = d->objects[i]->list;
            const char *name = l->n_items ? s_str(l->items[l->n_items - 1]) : NULL;
            hb_rc_t rc = s_name(cc, name, -1, st->ddl_names[i]);
            if (rc)
                return rc;
            /* Every table must exist before any is dropped (as in
             * PostgreSQL); a missing one is planned again after a reload. */
            if (!d->missing_ok && !sqlf_catalog_find(cc->cat, st->ddl_names[i]))
                return s_err(cc, -1, "42P01", "table \"%s\" does not exist",
                             st->ddl_names[i]);
        }
        snprintf(st->ddl_name, sizeof st->ddl_name, "%s", st->ddl_names[0]);
        return HB_OK;
    }
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT: {
        const PgQuery__TruncateStmt *tr = n->truncate_stmt;
        if (tr->n_relations == 0 || tr->n_relations > SQLF_MAX_DDL_ITEMS)
            return s_err(cc, -1, "54000", "TRUNCATE names 1..%d tables",
                         SQLF_MAX_DDL_ITEMS);
        st->kind = SQLF_ST_DDL;
        st->ddl = HB_SQLDDL_TRUNCATE;
        snprintf(st->tag, sizeof st->tag, "TRUNCATE TABLE");
        s_ddl_items(st, (uint32_t)tr->n_relations);
        for (size_t i = 0; i < tr->n_relations; i++) {
            const sqlf_table_t *tab;
            hb_rc_t rc = s_table(cc, tr->relations[i]->range_var, &tab);
            if (rc)
                return rc;
            if (tab->rw_id)
                return s_err(cc, -1, "55006",
                             "cannot TRUNCATE \"%s\": ALTER TABLE is rewriting it",
                             tab->name);
            snprintf(st->ddl_names[i], sizeof st->ddl_names[i], "%s", tab->name);
            /* A truncated table gets a new id: its definition must not pin
             * the old one. */
            sqlf_table_t t = *tab;
            t.id_pinned = false;
            msgpack_sbuffer sb;
            msgpack_packer pk;
            msgpack_sbuffer_init(&sb);
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            sqlf_table_pack(&pk, &t);
            s_ex_t e = s_finish(cc, &sb, HB_T_UNKNOWN);
            st->ddl_defs[i] = s_pub(&e);
        }
        snprintf(st->ddl_name, sizeof st->ddl_name, "%s", st->ddl_names[0]);
        msgpack_sbuffer_write(&st->ddl_def, (const char *)st->ddl_defs[0].p,
                              st->ddl_defs[0].len);
        return HB_OK;
    }
    case PG_QUERY__NODE__NODE_VACUUM_STMT: {
        /* Nothing to reclaim or gather statistics for: accepted, after
         * checking that the tables exist. */
        const PgQuery__VacuumStmt *vs = n->vacuum_stmt;
        st->kind = SQLF_ST_EMPTY;
        snprintf(st->tag, sizeof st->tag, "%s", vs->is_vacuumcmd ? "VACUUM" : "ANALYZE");
        for (size_t i = 0; i < vs->n_rels; i++) {
            const PgQuery__Node *rn = vs->rels[i];
            const sqlf_table_t *tab;
            if (rn->node_case != PG_QUERY__NODE__NODE_VACUUM_RELATION ||
                !rn->vacuum_relation->relation)
                continue;
            hb_rc_t rc = s_table(cc, rn->vacuum_relation->relation, &tab);
            if (rc)
                return rc;
        }
        return HB_OK;
    }
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        switch (n->transaction_stmt->kind) {
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
            st->kind = SQLF_ST_BEGIN;
            snprintf(st->tag, sizeof st->tag, "BEGIN");
            return HB_OK;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
            st->kind = SQLF_ST_COMMIT;
            snprintf(st->tag, sizeof st->tag, "COMMIT");
            return HB_OK;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
            st->kind = SQLF_ST_ROLLBACK;
            snprintf(st->tag, sizeof st->tag, "ROLLBACK");
            return HB_OK;
        default:
            return s_err(cc, -1, "0A000", "savepoints and two-phase commit are not supported");
        }
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: {
        const PgQuery__VariableSetStmt *vs = n->variable_set_stmt;
        st->kind = SQLF_ST_EMPTY;
        bool reset = vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ||
                     vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL;
        snprintf(st->tag, sizeof st->tag, "%s", reset ? "RESET" : "SET");
        snprintf(st->set_name, sizeof st->set_name, "%s", vs->name ? vs->name : "");
        if (vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE && vs->n_args >= 1 &&
            vs->args[0]->node_case == PG_QUERY__NODE__NODE_A_CONST) {
            const PgQuery__AConst *c = vs->args[0]->a_const;
            if (c->val_case == PG_QUERY__A__CONST__VAL_SVAL)
                snprintf(st->set_value, sizeof st->set_value, "%s", c->sval->sval);
            else if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL)
                snprintf(st->set_value, sizeof st->set_value, "%d", c->ival->ival);
            else if (c->val_case == PG_QUERY__A__CONST__VAL_BOOLVAL)
                snprintf(st->set_value, sizeof st->set_value, "%s",
                         c->boolval->boolval ? "on" : "off");
        }
        if (strcmp(st->set_name, "hobbes.read_after") == 0 && !reset &&
            vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE) {
            /* An epoch: digits only (a number too big for int4 comes as
             * a "float" node with its text). */
            const PgQuery__AConst *c =
                vs->n_args == 1 && vs->args[0]->node_case == PG_QUERY__NODE__NODE_A_CONST
                    ? vs->args[0]->a_const
                    : NULL;
            if (c && c->val_case == PG_QUERY__A__CONST__VAL_FVAL)
                snprintf(st->set_value, sizeof st->set_value, "%s", c->fval->fval);
            size_t len = strlen(st->set_value);
            if (!c || len == 0 || len > 19 || strspn(st->set_value, "0123456789") != len)
                return s_err(cc, -1, "22023",
                             "parameter \"hobbes.read_after\" requires an epoch (a "
                             "non-negative integer)");
        }
        if (strcmp(st->set_name, "hobbes.strict_reads") == 0 && !reset &&
            vs->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE) {
            const char *v = st->set_value;
            if (strcmp(v, "on") && strcmp(v, "off") && strcmp(v, "true") &&
                strcmp(v, "false") && strcmp(v, "1") && strcmp(v, "0"))
                return s_err(cc, -1, "22023",
                             "parameter \"hobbes.strict_reads\" requires a Boolean value");
        }
        return HB_OK;
    }
    case PG_QUERY__NODE__NODE_INDEX_STMT:
        return s_plan_create_index(cc, n->index_stmt);
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
        return s_plan_add_pkey(cc, n->alter_table_stmt);
    default:
        return s_err(cc, -1, "0A000", "statement type %d is not supported", (int)n->node_case);
    }
}

hb_rc_t
sqlf_plan(const sqlf_catalog_t *cat, const char *sql, const PgQuery__Node *stmt,
          const hb_val_t *params, uint32_t nparams, const char (*pnames)[SQLF_NAME_MAX],
          int64_t now_us, sqlf_rowid_t *rowids, sqlf_describe_t *desc, sqlf_stmt_t *st,
          hb_sqlerr_t *err)
{
    memset(st, 0, sizeof *st); /* also what msgpack_sbuffer_init does to ops, ddl_def */
    s_cc_t cc = {.st = st,
                 .cat = cat,
                 .sql = sql,
                 .params = params,
                 .nparams = nparams,
                 .pnames = pnames,
                 .err = err,
                 .now_us = now_us,
                 .rowids = rowids,
                 .desc = desc};
    if (desc)
        memset(desc, 0, sizeof *desc);
    memset(err, 0, sizeof *err);
    st->now_us = now_us;
    hb_rc_t rc = s_plan(&cc, stmt);
    if (rc) {
        if (!err->sqlstate[0])
            hb_sqlerr_set(err, "XX000", "planning failed");
        sqlf_stmt_free(st);
    }
    return rc;
}
