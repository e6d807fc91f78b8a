/* plan_func.c — function calls: scalar functions, aggregates, the clock.
 *
 * A scalar function (lower, upper, length, abs, substr ...) is an
 * HB_EX_FUNC node. An aggregate (count, sum, min, max, avg) is allowed only
 * where the query is grouped (cc->agg_mode): its argument is compiled over
 * the input row, it is appended to st->aggs, and the expression that
 * called it reads its value from the group row. now() and CURRENT_TIMESTAMP
 * are the statement's timestamp, a constant in the plan so every replica
 * sees the same value.
 *
 * Entry points: sqlf_pl_funccall, sqlf_pl_now, sqlf_pl_func_name,
 * sqlf_pl_agg_name (plan_int.h).
 */
#include <stdio.h>
#include <string.h>

#include "plan_int.h"

/* ------------------------------------------------------------------ */
/* Aggregates                                                           */
/* ------------------------------------------------------------------ */

bool
sqlf_pl_agg_name(const char *name, sqlf_agg_kind_t *k)
{
    static const struct {
        const char *name;
        sqlf_agg_kind_t kind;
    } aggs[] = {{"count", SQLF_AGG_COUNT},
                {"sum", SQLF_AGG_SUM},
                {"min", SQLF_AGG_MIN},
                {"max", SQLF_AGG_MAX},
                {"avg", SQLF_AGG_AVG}};
    for (size_t i = 0; i < sizeof aggs / sizeof *aggs; i++) {
        if (strcmp(name, aggs[i].name) == 0) {
            *k = aggs[i].kind;
            return true;
        }
    }
    return false;
}

const char *
sqlf_pl_func_name(const PgQuery__FuncCall *f)
{
    const char *name = NULL;
    for (size_t i = 0; i < f->n_funcname; i++)
        name = sqlf_pl_str(f->funcname[i]);
    return name;
}

/* An aggregate call: appended to st->aggs; *out reads its value from the
 * group row, where the aggregates' values follow the group values. */
static hb_rc_t
s_aggregate(sqlf_pl_cc_t *cc, const PgQuery__FuncCall *f, sqlf_agg_kind_t kind,
            sqlf_pl_ex_t *out)
{
    if (!cc->agg_mode)
        return sqlf_pl_err(cc, f->location, "42803",
                           "aggregate functions are not allowed here");
    if (cc->in_agg)
        return sqlf_pl_err(cc, f->location, "42803",
                           "aggregate function calls cannot be nested");
    if ((f->agg_distinct && kind != SQLF_AGG_COUNT) || f->agg_filter || f->n_agg_order ||
        f->over)
        return sqlf_pl_err(
            cc, f->location, "0A000",
            "DISTINCT (but in count), FILTER, ORDER BY and OVER in aggregates are not "
            "supported");
    sqlf_stmt_t *st = cc->st;
    sqlf_agg_t a = {.kind = kind, .distinct = f->agg_distinct};
    hb_type_t t;
    if (f->agg_star) {
        if (kind != SQLF_AGG_COUNT)
            return sqlf_pl_err(cc, f->location, "42601", "only count accepts *");
        a.kind = SQLF_AGG_COUNT_STAR;
        t = HB_T_INT8;
    } else {
        if (f->n_args != 1)
            return sqlf_pl_err(cc, f->location, "42883", "function %s takes one argument",
                               sqlf_pl_func_name(f));
        sqlf_pl_ex_t arg;
        cc->in_agg = true;
        hb_rc_t rc = sqlf_pl_expr(cc, f->args[0], &arg);
        cc->in_agg = false;
        if (rc)
            return rc;
        a.arg = (sqlf_expr_t){arg.p, arg.len, arg.type};
        switch (kind) {
        case SQLF_AGG_COUNT:
            t = HB_T_INT8;
            break;
        case SQLF_AGG_SUM:
            t = sqlf_pl_is_int(arg.type)   ? HB_T_INT8
                : arg.type == HB_T_NUMERIC ? HB_T_NUMERIC
                                           : HB_T_FLOAT8;
            break;
        case SQLF_AGG_AVG:
            t = arg.type == HB_T_FLOAT4 || arg.type == HB_T_FLOAT8 ? HB_T_FLOAT8
                                                                   : HB_T_NUMERIC;
            break;
        default:
            t = arg.type;
        }
        if ((kind == SQLF_AGG_SUM || kind == SQLF_AGG_AVG) &&
            !(sqlf_pl_is_int(arg.type) || arg.type == HB_T_FLOAT4 ||
              arg.type == HB_T_FLOAT8 || arg.type == HB_T_NUMERIC ||
              arg.type == HB_T_UNKNOWN))
            return sqlf_pl_err(cc, f->location, "42883", "function %s(%s) does not exist",
                               sqlf_pl_func_name(f), hb_type_name(arg.type));
    }
    sqlf_agg_t *aggs = sqlf_stmt_alloc(st, (st->naggs + 1) * sizeof *aggs);
    if (st->naggs)
        memcpy(aggs, st->aggs, st->naggs * sizeof *aggs);
    aggs[st->naggs] = a;
    st->aggs = aggs;
    *out = sqlf_pl_mk_col(cc, st->ngroup + st->naggs, t);
    out->col = -1;
    st->naggs++;
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Scalar functions and the clock                                       */
/* ------------------------------------------------------------------ */

hb_rc_t
sqlf_pl_funccall(sqlf_pl_cc_t *cc, const PgQuery__FuncCall *f, sqlf_pl_ex_t *out)
{
    const char *name = sqlf_pl_func_name(f);
    if (!name)
        return sqlf_pl_err(cc, f->location, "42601", "bad function name");
    sqlf_agg_kind_t ak;
    if (sqlf_pl_agg_name(name, &ak))
        return s_aggregate(cc, f, ak, out);
    static const struct {
        const char *name;
        hb_func_t fn;
        uint32_t min, max;
        hb_type_t type;
    } fns[] = {
        {"lower", HB_FN_LOWER, 1, 1, HB_T_TEXT},
        {"upper", HB_FN_UPPER, 1, 1, HB_T_TEXT},
        {"length", HB_FN_LENGTH, 1, 1, HB_T_INT4},
        {"char_length", HB_FN_LENGTH, 1, 1, HB_T_INT4},
        {"abs", HB_FN_ABS, 1, 1, HB_T_UNKNOWN},
        {"substr", HB_FN_SUBSTR, 2, 3, HB_T_TEXT},
        {"substring", HB_FN_SUBSTR, 2, 3, HB_T_TEXT},
    };
    if (strcmp(name, "now") == 0 && f->n_args == 0)
        return sqlf_pl_now(cc, false, f->location, out);
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
        if (strcmp(fns[i].name, name) != 0)
            continue;
        if (f->n_args < fns[i].min || f->n_args > fns[i].max || f->agg_star)
            return sqlf_pl_err(cc, f->location, "42883",
                               "function %s with %zu arguments does not "
                               "exist",
                               name, f->n_args);
        sqlf_pl_ex_t kids[3];
        for (size_t k = 0; k < f->n_args; k++) {
            hb_rc_t rc = sqlf_pl_expr(cc, f->args[k], &kids[k]);
            if (rc)
                return rc;
            if (kids[k].is_const && kids[k].type == HB_T_UNKNOWN &&
                (rc = sqlf_pl_coerce_const(cc, &kids[k],
                                           k == 0 && fns[i].fn != HB_FN_ABS ? HB_T_TEXT
                                                                            : HB_T_INT8,
                                           f->location)))
                return rc;
        }
        int64_t pre[2] = {fns[i].fn, (int64_t)f->n_args};
        hb_type_t t = fns[i].type == HB_T_UNKNOWN ? kids[0].type : fns[i].type;
        return sqlf_pl_mk_op(cc, HB_EX_FUNC, pre, 2, kids, (uint32_t)f->n_args, t,
                             f->location, out);
    }
    return sqlf_pl_err(cc, f->location, "42883", "function %s does not exist", name);
}

/* CURRENT_TIMESTAMP / CURRENT_DATE / now(): the statement's timestamp, a
 * constant in the plan (so every replica sees the same value), except in
 * a column DEFAULT, where it stays a node evaluated at each INSERT. */
hb_rc_t
sqlf_pl_now(sqlf_pl_cc_t *cc, bool date, int32_t loc, sqlf_pl_ex_t *out)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    hb_expr_pack_op(&pk, HB_EX_NOW, 1);
    sqlf_pl_ex_t now = sqlf_pl_finish(cc, &sb, HB_T_TIMESTAMP);
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
        *out = sqlf_pl_finish(cc, &sb, HB_T_DATE);
    }
    if (cc->in_default)
        return HB_OK;
    hb_expr_env_t env = {.alloc = sqlf_stmt_alloc,
                         .alloc_arg = cc->st,
                         .err = cc->err,
                         .now_us = cc->now_us};
    hb_val_t v;
    if (hb_expr_eval(out->p, out->len, &env, &v) != HB_OK)
        return sqlf_pl_err(cc, loc, "XX000", "cannot evaluate the current time");
    *out = sqlf_pl_mk_const(cc, &v, date ? HB_T_DATE : HB_T_TIMESTAMP);
    return HB_OK;
}
