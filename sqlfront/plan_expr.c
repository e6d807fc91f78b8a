/* plan_expr.c — expressions: from parse-tree nodes to hb_expr bytecode.
 *
 * Expressions compile bottom-up into sqlf_pl_ex_t: the bytecode of the
 * subtree (common/hb_expr.h) plus what the parent needs to know — its type,
 * whether it is a constant (and which), whether it is a plain column.
 * Constant subtrees are folded by evaluating them here with the same
 * evaluator storage uses, so `VALUES (-1, 'a' || 'b')` reaches storage as
 * finished values, and an untyped literal next to a typed column is
 * converted to the column's type at plan time (22P02 names the bad
 * literal, as PostgreSQL does).
 *
 * sqlf_pl_expr dispatches on the node kind, one function per kind;
 * column references are resolved in plan_name.c, function calls and
 * aggregates compiled in plan_func.c.
 *
 * Entry points: sqlf_pl_expr, sqlf_pl_where, sqlf_pl_coerce_const and the
 * builders sqlf_pl_mk_const / _mk_col / _mk_op (plan_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_int.h"

/* ------------------------------------------------------------------ */
/* Builders                                                             */
/* ------------------------------------------------------------------ */

/* Describe: $n (e->param) is used as type t, the first use that says. */
void
sqlf_pl_note_param(sqlf_pl_cc_t *cc, const sqlf_pl_ex_t *e, hb_type_t t)
{
    if (cc->desc && e->param > 0 && t != HB_T_UNKNOWN &&
        cc->desc->ptypes[e->param - 1] == HB_T_UNKNOWN)
        cc->desc->ptypes[e->param - 1] = t;
}

/* Copies an sbuffer's bytes into the arena as an sqlf_pl_ex_t. */
sqlf_pl_ex_t
sqlf_pl_finish(sqlf_pl_cc_t *cc, msgpack_sbuffer *sb, hb_type_t type)
{
    sqlf_pl_ex_t e = {.type = type, .col = -1, .tab = -1, .maxtab = -1};
    e.p = sqlf_stmt_alloc(cc->st, sb->size);
    memcpy(e.p, sb->data, sb->size);
    e.len = (uint32_t)sb->size;
    msgpack_sbuffer_destroy(sb);
    return e;
}

sqlf_pl_ex_t
sqlf_pl_mk_const(sqlf_pl_cc_t *cc, const hb_val_t *v, hb_type_t type)
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
    sqlf_pl_ex_t e = sqlf_pl_finish(cc, &sb, type);
    e.is_const = true;
    e.cval = c;
    return e;
}

sqlf_pl_ex_t
sqlf_pl_mk_col(sqlf_pl_cc_t *cc, uint32_t col, hb_type_t type)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    hb_expr_pack_col(&pk, col);
    sqlf_pl_ex_t e = sqlf_pl_finish(cc, &sb, type);
    e.col = (int)col;
    return e;
}

/* Builds [op, pre..., kids...] where pre are integer fields. Folds the
 * node to a constant when every kid is one. */
hb_rc_t
sqlf_pl_mk_op(sqlf_pl_cc_t *cc, hb_ex_op_t op, const int64_t *pre, uint32_t npre,
              const sqlf_pl_ex_t *kids, uint32_t nkids, hb_type_t type, int32_t loc,
              sqlf_pl_ex_t *out)
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
    sqlf_pl_ex_t e = sqlf_pl_finish(cc, &sb, type);
    for (uint32_t k = 0; k < nkids; k++)
        if (kids[k].maxtab > e.maxtab)
            e.maxtab = kids[k].maxtab;
    if (all_const) {
        hb_expr_env_t env = {.alloc = sqlf_stmt_alloc,
                             .alloc_arg = cc->st,
                             .err = cc->err,
                             .now_us = cc->now_us};
        hb_val_t v;
        if (hb_expr_eval(e.p, e.len, &env, &v) != HB_OK) {
            if (loc >= 0) {
                char m[sizeof cc->err->msg];
                snprintf(m, sizeof m, "%s", cc->err->msg);
                snprintf(cc->err->msg, sizeof cc->err->msg, "%s at character %d", m,
                         loc + 1);
            }
            return HB_INVALID;
        }
        e = sqlf_pl_mk_const(cc, &v, type);
    }
    *out = e;
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Types and coercion                                                   */
/* ------------------------------------------------------------------ */

/* Converts an untyped constant to type t (plan-time 22P02). */
hb_rc_t
sqlf_pl_coerce_const(sqlf_pl_cc_t *cc, sqlf_pl_ex_t *e, hb_type_t t, int32_t loc)
{
    sqlf_pl_note_param(cc, e, t);
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
    *e = sqlf_pl_mk_const(cc, &v, t);
    return HB_OK;
}

bool
sqlf_pl_is_int(hb_type_t t)
{
    return t == HB_T_INT2 || t == HB_T_INT4 || t == HB_T_INT8;
}

bool
sqlf_pl_is_text(hb_type_t t)
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
    if (sqlf_pl_is_int(a) && sqlf_pl_is_int(b))
        return a > b ? a : b;
    return sqlf_pl_is_int(a) ? a : sqlf_pl_is_int(b) ? b : HB_T_UNKNOWN;
}

/* The typmod of a plain column reference of the scope table, else 0. */
static int32_t
s_col_typmod(const sqlf_pl_cc_t *cc, const sqlf_pl_ex_t *e)
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
s_binary(sqlf_pl_cc_t *cc, hb_ex_op_t op, sqlf_pl_ex_t *a, sqlf_pl_ex_t *b, int32_t loc,
         sqlf_pl_ex_t *out)
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
    rc = sqlf_pl_coerce_const(cc, a, b->type, loc);
    if (rc == HB_OK)
        rc = sqlf_pl_coerce_const(cc, b, a->type, loc);
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
        (sqlf_pl_is_text(a->type) || sqlf_pl_is_text(b->type) || a->type == HB_T_BOOL ||
         b->type == HB_T_BOOL || a->type == HB_T_TIMESTAMP || b->type == HB_T_TIMESTAMP ||
         ((a->type == HB_T_DATE || b->type == HB_T_DATE) &&
          !((op == HB_EX_ADD || op == HB_EX_SUB) &&
            (sqlf_pl_is_int(a->type) || sqlf_pl_is_int(b->type) ||
             (a->type == b->type && op == HB_EX_SUB))))))
        return sqlf_pl_err(cc, loc, "42883", "operator does not exist: %s %s %s",
                           hb_type_name(a->type),
                           op == HB_EX_ADD   ? "+"
                           : op == HB_EX_SUB ? "-"
                           : op == HB_EX_MUL ? "*"
                           : op == HB_EX_DIV ? "/"
                                             : "%",
                           hb_type_name(b->type));
    sqlf_pl_ex_t kids[2] = {*a, *b};
    return sqlf_pl_mk_op(cc, op, NULL, 0, kids, 2, t, loc, out);
}

/* ------------------------------------------------------------------ */
/* Node kinds                                                           */
/* ------------------------------------------------------------------ */

/* A literal: integers, exact numerics, floats, booleans, and strings
 * (untyped until a use gives them a type). */
static hb_rc_t
s_const(sqlf_pl_cc_t *cc, const PgQuery__AConst *c, sqlf_pl_ex_t *out)
{
    hb_val_t v = hb_val_nil();
    hb_type_t t = HB_T_UNKNOWN;
    if (c->isnull) {
        *out = sqlf_pl_mk_const(cc, &v, HB_T_UNKNOWN);
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
                   hb_val_coerce(
                       &(hb_val_t){.type = HB_VAL_STR,
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
        return sqlf_pl_err(cc, c->location, "0A000",
                           "bit-string literals are not supported");
    }
    *out = sqlf_pl_mk_const(cc, &v, t);
    return HB_OK;
}

/* An operator: prefix - and +, or one of the binary operators. */
static hb_rc_t
s_aexpr_op(sqlf_pl_cc_t *cc, const PgQuery__AExpr *a, const char *op, sqlf_pl_ex_t *out)
{
    static const struct {
        const char *sym;
        hb_ex_op_t op;
    } ops[] = {{"+", HB_EX_ADD},     {"-", HB_EX_SUB},  {"*", HB_EX_MUL},
               {"/", HB_EX_DIV},     {"%", HB_EX_MOD},  {"=", HB_EX_EQ},
               {"<>", HB_EX_NE},     {"!=", HB_EX_NE},  {"<", HB_EX_LT},
               {"<=", HB_EX_LE},     {">", HB_EX_GT},   {">=", HB_EX_GE},
               {"||", HB_EX_CONCAT}, {"~~", HB_EX_LIKE}};
    sqlf_pl_ex_t l, r;
    hb_rc_t rc;
    if (!op)
        return sqlf_pl_err(cc, a->location, "42601", "bad operator");
    if (!a->lexpr) { /* prefix */
        if ((rc = sqlf_pl_expr(cc, a->rexpr, &r)))
            return rc;
        if (strcmp(op, "-") == 0) {
            if ((rc = sqlf_pl_coerce_const(cc, &r, HB_T_FLOAT8, a->location)))
                return rc;
            return sqlf_pl_mk_op(cc, HB_EX_NEG, NULL, 0, &r, 1, r.type, a->location, out);
        }
        if (strcmp(op, "+") == 0) {
            *out = r;
            return HB_OK;
        }
        return sqlf_pl_err(cc, a->location, "42883", "operator does not exist: %s", op);
    }
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        if (strcmp(ops[i].sym, op) == 0) {
            if ((rc = sqlf_pl_expr(cc, a->lexpr, &l)) ||
                (rc = sqlf_pl_expr(cc, a->rexpr, &r)))
                return rc;
            return s_binary(cc, ops[i].op, &l, &r, a->location, out);
        }
    }
    return sqlf_pl_err(cc, a->location, "42883", "operator does not exist: %s", op);
}

/* x [NOT] IN (a, b, ...): the list converted to x's type. */
static hb_rc_t
s_aexpr_in(sqlf_pl_cc_t *cc, const PgQuery__AExpr *a, const char *op, sqlf_pl_ex_t *out)
{
    sqlf_pl_ex_t l;
    hb_rc_t rc;
    if ((rc = sqlf_pl_expr(cc, a->lexpr, &l)))
        return rc;
    if (!a->rexpr || a->rexpr->node_case != PG_QUERY__NODE__NODE_LIST)
        return sqlf_pl_err(cc, a->location, "0A000", "IN (subquery) is not supported");
    const PgQuery__List *list = a->rexpr->list;
    sqlf_pl_ex_t *kids = sqlf_stmt_alloc(cc->st, (list->n_items + 1) * sizeof *kids);
    kids[0] = l;
    for (size_t i = 0; i < list->n_items; i++) {
        if ((rc = sqlf_pl_expr(cc, list->items[i], &kids[i + 1])) ||
            (rc = sqlf_pl_coerce_const(cc, &kids[i + 1], l.type, a->location)))
            return rc;
    }
    int64_t cnt = (int64_t)list->n_items;
    if ((rc = sqlf_pl_mk_op(cc, HB_EX_IN, &cnt, 1, kids, (uint32_t)list->n_items + 1,
                            HB_T_BOOL, a->location, out)))
        return rc;
    if (op && strcmp(op, "<>") == 0) /* NOT IN */
        return sqlf_pl_mk_op(cc, HB_EX_NOT, NULL, 0, out, 1, HB_T_BOOL, a->location, out);
    return HB_OK;
}

/* x [NOT] BETWEEN lo AND hi: x >= lo AND x <= hi. */
static hb_rc_t
s_aexpr_between(sqlf_pl_cc_t *cc, const PgQuery__AExpr *a, sqlf_pl_ex_t *out)
{
    if (!a->rexpr || a->rexpr->node_case != PG_QUERY__NODE__NODE_LIST ||
        a->rexpr->list->n_items != 2)
        return sqlf_pl_err(cc, a->location, "42601", "bad BETWEEN");
    sqlf_pl_ex_t l, lo, hi, c1, c2;
    hb_rc_t rc;
    if ((rc = sqlf_pl_expr(cc, a->lexpr, &l)) ||
        (rc = sqlf_pl_expr(cc, a->rexpr->list->items[0], &lo)) ||
        (rc = sqlf_pl_expr(cc, a->rexpr->list->items[1], &hi)) ||
        (rc = s_binary(cc, HB_EX_GE, &l, &lo, a->location, &c1)) ||
        (rc = s_binary(cc, HB_EX_LE, &l, &hi, a->location, &c2)))
        return rc;
    sqlf_pl_ex_t kids[2] = {c1, c2};
    if ((rc =
             sqlf_pl_mk_op(cc, HB_EX_AND, NULL, 0, kids, 2, HB_T_BOOL, a->location, out)))
        return rc;
    if (a->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN)
        return sqlf_pl_mk_op(cc, HB_EX_NOT, NULL, 0, out, 1, HB_T_BOOL, a->location, out);
    return HB_OK;
}

/* The A_Expr family: operators, LIKE, IN, BETWEEN, NULLIF. */
static hb_rc_t
s_aexpr(sqlf_pl_cc_t *cc, const PgQuery__AExpr *a, sqlf_pl_ex_t *out)
{
    const char *op = a->n_name ? sqlf_pl_str(a->name[a->n_name - 1]) : NULL;
    sqlf_pl_ex_t l, r;
    hb_rc_t rc;
    switch (a->kind) {
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP:
        return s_aexpr_op(cc, a, op, out);
    case PG_QUERY__A__EXPR__KIND__AEXPR_LIKE: {
        if ((rc = sqlf_pl_expr(cc, a->lexpr, &l)) ||
            (rc = sqlf_pl_expr(cc, a->rexpr, &r)))
            return rc;
        if ((rc = sqlf_pl_coerce_const(cc, &l, HB_T_TEXT, a->location)) ||
            (rc = sqlf_pl_coerce_const(cc, &r, HB_T_TEXT, a->location)) ||
            (rc = s_binary(cc, HB_EX_LIKE, &l, &r, a->location, out)))
            return rc;
        if (op && strcmp(op, "!~~") == 0)
            return sqlf_pl_mk_op(cc, HB_EX_NOT, NULL, 0, out, 1, HB_T_BOOL, a->location,
                                 out);
        return HB_OK;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_IN:
        return s_aexpr_in(cc, a, op, out);
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN:
        return s_aexpr_between(cc, a, out);
    case PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF: {
        /* NULLIF(a, b) = CASE WHEN a = b THEN NULL ELSE a END */
        sqlf_pl_ex_t eq;
        if ((rc = sqlf_pl_expr(cc, a->lexpr, &l)) ||
            (rc = sqlf_pl_expr(cc, a->rexpr, &r)) ||
            (rc = s_binary(cc, HB_EX_EQ, &l, &r, a->location, &eq)))
            return rc;
        hb_val_t nil = hb_val_nil();
        sqlf_pl_ex_t kids[3] = {eq, sqlf_pl_mk_const(cc, &nil, l.type), l};
        int64_t one = 1;
        return sqlf_pl_mk_op(cc, HB_EX_CASE, &one, 1, kids, 3, l.type, a->location, out);
    }
    default:
        return sqlf_pl_err(cc, a->location, "0A000",
                           "this operator form is not supported");
    }
}

/* $n: the parameter's value as a constant; for Describe, a NULL that
 * remembers n (its type is the first one a use implies). */
static hb_rc_t
s_param_ref(sqlf_pl_cc_t *cc, const PgQuery__ParamRef *pr, sqlf_pl_ex_t *out)
{
    int32_t k = pr->number;
    if (cc->desc) {
        if (k < 1 || k > SQLF_DESC_MAX_PARAMS)
            return sqlf_pl_err(cc, pr->location, "42P02", "there is no parameter $%d", k);
        if ((uint32_t)k > cc->desc->nparams)
            cc->desc->nparams = (uint32_t)k;
        hb_val_t nil = hb_val_nil();
        *out = sqlf_pl_mk_const(cc, &nil, HB_T_UNKNOWN);
        out->param = k;
        return HB_OK;
    }
    if (k < 1 || (uint32_t)k > cc->nparams)
        return sqlf_pl_err(cc, pr->location, "42P02", "there is no parameter $%d", k);
    const hb_val_t *v = &cc->params[k - 1];
    hb_type_t t = v->type == HB_VAL_INT      ? HB_T_INT8
                  : v->type == HB_VAL_DEC    ? HB_T_NUMERIC
                  : v->type == HB_VAL_DOUBLE ? HB_T_FLOAT8
                  : v->type == HB_VAL_BOOL   ? HB_T_BOOL
                  : v->type == HB_VAL_BIN    ? HB_T_BYTEA
                                             : HB_T_UNKNOWN;
    *out = sqlf_pl_mk_const(cc, v, t);
    return HB_OK;
}

/* AND / OR fold left over their arguments; NOT has one. */
static hb_rc_t
s_bool_expr(sqlf_pl_cc_t *cc, const PgQuery__BoolExpr *b, sqlf_pl_ex_t *out)
{
    sqlf_pl_ex_t acc, x;
    hb_rc_t rc = HB_OK;
    for (size_t i = 0; i < b->n_args && rc == HB_OK; i++) {
        if ((rc = sqlf_pl_expr(cc, b->args[i], &x)) ||
            (rc = sqlf_pl_coerce_const(cc, &x, HB_T_BOOL, b->location)))
            break;
        if (b->boolop == PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR) {
            rc = sqlf_pl_mk_op(cc, HB_EX_NOT, NULL, 0, &x, 1, HB_T_BOOL, b->location,
                               &acc);
            break;
        }
        if (i == 0) {
            acc = x;
            continue;
        }
        sqlf_pl_ex_t kids[2] = {acc, x};
        rc = sqlf_pl_mk_op(
            cc, b->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR ? HB_EX_AND : HB_EX_OR,
            NULL, 0, kids, 2, HB_T_BOOL, b->location, &acc);
    }
    if (rc == HB_OK)
        *out = acc;
    return rc;
}

/* x IS [NOT] NULL. */
static hb_rc_t
s_null_test(sqlf_pl_cc_t *cc, const PgQuery__NullTest *nt, sqlf_pl_ex_t *out)
{
    sqlf_pl_ex_t x;
    hb_rc_t rc = sqlf_pl_expr(cc, nt->arg, &x);
    if (rc)
        return rc;
    return sqlf_pl_mk_op(cc,
                         nt->nulltesttype == PG_QUERY__NULL_TEST_TYPE__IS_NULL
                             ? HB_EX_ISNULL
                             : HB_EX_NOTNULL,
                         NULL, 0, &x, 1, HB_T_BOOL, nt->location, out);
}

/* x::type and CAST(x AS type): dates and timestamps to text or date go
 * through their functions, a date to a timestamp is a multiplication,
 * anything else is a CAST node. */
static hb_rc_t
s_type_cast(sqlf_pl_cc_t *cc, const PgQuery__TypeCast *tc, sqlf_pl_ex_t *out)
{
    sqlf_pl_ex_t x;
    hb_type_t t;
    int32_t mod;
    hb_rc_t rc;
    if ((rc = sqlf_pl_expr(cc, tc->arg, &x)) ||
        (rc = sqlf_pl_type(cc, tc->type_name, &t, &mod)))
        return rc;
    sqlf_pl_note_param(cc, &x, t);
    if ((x.type == HB_T_DATE || x.type == HB_T_TIMESTAMP) &&
        (sqlf_pl_is_text(t) || t == HB_T_DATE)) {
        int64_t fpre[2] = {x.type == HB_T_DATE
                               ? (t == HB_T_DATE ? -1 : HB_FN_DATE_OUT)
                               : (t == HB_T_DATE ? HB_FN_TS_DATE : HB_FN_TS_OUT),
                           1};
        if (fpre[0] < 0) {
            *out = x;
            return HB_OK;
        }
        return sqlf_pl_mk_op(cc, HB_EX_FUNC, fpre, 2, &x, 1,
                             sqlf_pl_is_text(t) ? HB_T_TEXT : t, tc->location, out);
    }
    if (x.type == HB_T_DATE && t == HB_T_TIMESTAMP) {
        hb_val_t day = hb_val_int(86400000000LL);
        sqlf_pl_ex_t kids[2] = {x, sqlf_pl_mk_const(cc, &day, HB_T_INT8)};
        return sqlf_pl_mk_op(cc, HB_EX_MUL, NULL, 0, kids, 2, HB_T_TIMESTAMP,
                             tc->location, out);
    }
    int64_t pre[2] = {t, mod};
    return sqlf_pl_mk_op(cc, HB_EX_CAST, pre, 2, &x, 1, t, tc->location, out);
}

/* COALESCE(a, b, ...): of the first typed argument's type. */
static hb_rc_t
s_coalesce(sqlf_pl_cc_t *cc, const PgQuery__CoalesceExpr *c, sqlf_pl_ex_t *out)
{
    sqlf_pl_ex_t *kids = sqlf_stmt_alloc(cc->st, (c->n_args + 1) * sizeof *kids);
    hb_type_t t = HB_T_UNKNOWN;
    hb_rc_t rc = HB_OK;
    for (size_t i = 0; i < c->n_args && rc == HB_OK; i++) {
        rc = sqlf_pl_expr(cc, c->args[i], &kids[i]);
        if (t == HB_T_UNKNOWN)
            t = kids[i].type;
    }
    for (size_t i = 0; i < c->n_args && rc == HB_OK; i++)
        rc = sqlf_pl_coerce_const(cc, &kids[i], t, c->location);
    if (rc)
        return rc;
    int64_t cnt = (int64_t)c->n_args;
    return sqlf_pl_mk_op(cc, HB_EX_COALESCE, &cnt, 1, kids, (uint32_t)c->n_args, t,
                         c->location, out);
}

/* CASE [arg] WHEN ... THEN ... [ELSE ...] END: kids are the conditions
 * (arg = value for a simple CASE) and results in pairs, then the default
 * (NULL if none); of the first typed result's type. */
static hb_rc_t
s_case(sqlf_pl_cc_t *cc, const PgQuery__CaseExpr *c, sqlf_pl_ex_t *out)
{
    sqlf_pl_ex_t *kids = sqlf_stmt_alloc(cc->st, (2 * c->n_args + 1) * sizeof *kids);
    sqlf_pl_ex_t arg;
    hb_type_t t = HB_T_UNKNOWN;
    hb_rc_t rc = HB_OK;
    if (c->arg && (rc = sqlf_pl_expr(cc, c->arg, &arg)))
        return rc;
    for (size_t i = 0; i < c->n_args && rc == HB_OK; i++) {
        const PgQuery__CaseWhen *w = c->args[i]->case_when;
        sqlf_pl_ex_t cond;
        if ((rc = sqlf_pl_expr(cc, w->expr, &cond)))
            break;
        if (c->arg) {
            sqlf_pl_ex_t a2 = arg;
            if ((rc = s_binary(cc, HB_EX_EQ, &a2, &cond, w->location, &cond)))
                break;
        }
        kids[2 * i] = cond;
        if ((rc = sqlf_pl_expr(cc, w->result, &kids[2 * i + 1])))
            break;
        if (t == HB_T_UNKNOWN)
            t = kids[2 * i + 1].type;
    }
    if (rc)
        return rc;
    if (c->defresult) {
        if ((rc = sqlf_pl_expr(cc, c->defresult, &kids[2 * c->n_args])))
            return rc;
        if (t == HB_T_UNKNOWN)
            t = kids[2 * c->n_args].type;
    } else {
        hb_val_t nil = hb_val_nil();
        kids[2 * c->n_args] = sqlf_pl_mk_const(cc, &nil, HB_T_UNKNOWN);
    }
    for (size_t i = 0; i < c->n_args && rc == HB_OK; i++)
        rc = sqlf_pl_coerce_const(cc, &kids[2 * i + 1], t, c->location);
    if (rc == HB_OK)
        rc = sqlf_pl_coerce_const(cc, &kids[2 * c->n_args], t, c->location);
    if (rc)
        return rc;
    int64_t cnt = (int64_t)c->n_args;
    return sqlf_pl_mk_op(cc, HB_EX_CASE, &cnt, 1, kids, 2 * (uint32_t)c->n_args + 1, t,
                         c->location, out);
}

/* x IS TRUE / IS NOT FALSE ...: (x = const) with NULL as false/true. */
static hb_rc_t
s_boolean_test(sqlf_pl_cc_t *cc, const PgQuery__BooleanTest *b, sqlf_pl_ex_t *out)
{
    sqlf_pl_ex_t x, isn, eq;
    hb_rc_t rc;
    if ((rc = sqlf_pl_expr(cc, b->arg, &x)))
        return rc;
    int k = b->booltesttype; /* 1 IS_TRUE 2 IS_NOT_TRUE 3 IS_FALSE 4 IS_NOT_FALSE
                                5 IS_UNKNOWN 6 IS_NOT_UNKNOWN */
    if (k == 5 || k == 6)
        return sqlf_pl_mk_op(cc, k == 5 ? HB_EX_ISNULL : HB_EX_NOTNULL, NULL, 0, &x, 1,
                             HB_T_BOOL, b->location, out);
    hb_val_t want = hb_val_bool(k == 1 || k == 2);
    sqlf_pl_ex_t c = sqlf_pl_mk_const(cc, &want, HB_T_BOOL);
    hb_val_t negv = hb_val_bool(k == 2 || k == 4);
    if ((rc = s_binary(cc, HB_EX_EQ, &x, &c, b->location, &eq)) ||
        (rc = sqlf_pl_mk_op(cc, HB_EX_ISNULL, NULL, 0, &x, 1, HB_T_BOOL, b->location,
                            &isn)))
        return rc;
    /* CASE WHEN x IS NULL THEN neg ELSE (x = want) XOR neg END */
    sqlf_pl_ex_t res = eq;
    if (negv.u.b && (rc = sqlf_pl_mk_op(cc, HB_EX_NOT, NULL, 0, &eq, 1, HB_T_BOOL,
                                        b->location, &res)))
        return rc;
    sqlf_pl_ex_t kids[3] = {isn, sqlf_pl_mk_const(cc, &negv, HB_T_BOOL), res};
    int64_t one = 1;
    return sqlf_pl_mk_op(cc, HB_EX_CASE, &one, 1, kids, 3, HB_T_BOOL, b->location, out);
}

/* CURRENT_TIMESTAMP, CURRENT_DATE, LOCALTIMESTAMP (no others). */
static hb_rc_t
s_sql_value(sqlf_pl_cc_t *cc, const PgQuery__SQLValueFunction *f, sqlf_pl_ex_t *out)
{
    PgQuery__SQLValueFunctionOp op = f->op;
    bool date = op == PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE;
    if (!date && op != PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP &&
        op != PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N &&
        op != PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP &&
        op != PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N)
        return sqlf_pl_err(cc, f->location, "0A000",
                           "this SQL value function is not supported");
    return sqlf_pl_now(cc, date, f->location, out);
}

/* The node kinds an expression can be, one function each; the depth
 * bound keeps a hostile statement from exhausting the stack. */
hb_rc_t
sqlf_pl_expr(sqlf_pl_cc_t *cc, const PgQuery__Node *n, sqlf_pl_ex_t *out)
{
    hb_rc_t rc;
    if (!n)
        return sqlf_pl_err(cc, -1, "42601", "missing expression");
    if (++cc->depth > 28) {
        cc->depth--;
        return sqlf_pl_err(cc, -1, "54001",
                           "statement is too complex (expressions nest too deeply)");
    }
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_A_CONST:
        rc = s_const(cc, n->a_const, out);
        break;
    case PG_QUERY__NODE__NODE_COLUMN_REF:
        rc = sqlf_pl_column(cc, n->column_ref, out);
        break;
    case PG_QUERY__NODE__NODE_PARAM_REF:
        rc = s_param_ref(cc, n->param_ref, out);
        break;
    case PG_QUERY__NODE__NODE_A_EXPR:
        rc = s_aexpr(cc, n->a_expr, out);
        break;
    case PG_QUERY__NODE__NODE_BOOL_EXPR:
        rc = s_bool_expr(cc, n->bool_expr, out);
        break;
    case PG_QUERY__NODE__NODE_NULL_TEST:
        rc = s_null_test(cc, n->null_test, out);
        break;
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        rc = s_type_cast(cc, n->type_cast, out);
        break;
    case PG_QUERY__NODE__NODE_FUNC_CALL:
        rc = sqlf_pl_funccall(cc, n->func_call, out);
        break;
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        rc = s_coalesce(cc, n->coalesce_expr, out);
        break;
    case PG_QUERY__NODE__NODE_CASE_EXPR:
        rc = s_case(cc, n->case_expr, out);
        break;
    case PG_QUERY__NODE__NODE_BOOLEAN_TEST:
        rc = s_boolean_test(cc, n->boolean_test, out);
        break;
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:
        rc = s_sql_value(cc, n->sqlvalue_function, out);
        break;
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        rc = sqlf_pl_err(cc, -1, "0A000", "subqueries are not supported");
        break;
    default:
        rc = sqlf_pl_err(cc, -1, "0A000", "expression node %d is not supported",
                         (int)n->node_case);
        break;
    }
    cc->depth--;
    return rc;
}

hb_rc_t
sqlf_pl_where(sqlf_pl_cc_t *cc, const PgQuery__Node *where, sqlf_pl_ex_t *out)
{
    hb_rc_t rc;
    if ((rc = sqlf_pl_expr(cc, where, out)) ||
        (rc = sqlf_pl_coerce_const(cc, out, HB_T_BOOL, -1)))
        return rc;
    if (out->type != HB_T_BOOL && out->type != HB_T_UNKNOWN)
        return sqlf_pl_err(cc, -1, "42804",
                           "argument of WHERE must be type boolean, not type %s",
                           hb_type_name(out->type));
    return HB_OK;
}

sqlf_expr_t
sqlf_pl_pub(const sqlf_pl_ex_t *e)
{
    return (sqlf_expr_t){e->p, e->len, e->type};
}
