/* plan_select.c — planning SELECT.
 *
 * A SELECT reads rows from its FROM — nothing (one empty row), one table
 * through the access path its WHERE allows (plan_path.c), a
 * generate_series, or an inner join of up to SQLF_MAX_JOIN tables, each
 * read by the key prefix the tables before it bind — filters them, and
 * computes its targets over each row; or, when it aggregates, over the
 * group row [group values..., aggregate values...]. ORDER BY expressions
 * that are not output columns become hidden output columns. front.c does
 * the reading, grouping, sorting and limiting.
 *
 * Entry points: sqlf_pl_select, and sqlf_pl_targets (also RETURNING).
 */
#include <stdio.h>
#include <string.h>

#include "hb_alloc.h"
#include "plan_int.h"

/* ------------------------------------------------------------------ */
/* Joins                                                                */
/* ------------------------------------------------------------------ */

/* Flattens FROM items (tables and INNER JOIN ... ON) into the scope, and
 * the ON conditions into quals. */
static hb_rc_t
s_join_items(sqlf_pl_cc_t *cc, const PgQuery__Node *n, const PgQuery__Node **quals,
             uint32_t *nq)
{
    hb_rc_t rc;
    if (n->node_case == PG_QUERY__NODE__NODE_JOIN_EXPR) {
        const PgQuery__JoinExpr *j = n->join_expr;
        if (j->jointype != PG_QUERY__JOIN_TYPE__JOIN_INNER || j->is_natural ||
            j->n_using_clause)
            return sqlf_pl_err(cc, -1, "0A000",
                               "only INNER JOIN ... ON (and comma joins) are "
                               "supported");
        if ((rc = s_join_items(cc, j->larg, quals, nq)) ||
            (rc = s_join_items(cc, j->rarg, quals, nq)))
            return rc;
        if (j->quals) {
            if (*nq == 64)
                return sqlf_pl_err(cc, -1, "54001", "too many join conditions");
            quals[(*nq)++] = j->quals;
        }
        return HB_OK;
    }
    if (n->node_case != PG_QUERY__NODE__NODE_RANGE_VAR)
        return sqlf_pl_err(cc, -1, "0A000", "subqueries in FROM are not supported yet");
    if (cc->nscope == SQLF_MAX_JOIN)
        return sqlf_pl_err(cc, -1, "54001", "at most %d tables in a join", SQLF_MAX_JOIN);
    const PgQuery__RangeVar *rv = n->range_var;
    const sqlf_table_t *t;
    if ((rc = sqlf_pl_table(cc, rv, &t)))
        return rc;
    uint32_t k = cc->nscope;
    uint32_t off = k ? cc->soff[k - 1] + cc->scope[k - 1]->ncols : 0;
    if (off + t->ncols > HB_SQL_MAX_COLS)
        return sqlf_pl_err(cc, -1, "54011", "a join reads at most %d columns",
                           HB_SQL_MAX_COLS);
    const char *alias =
        rv->alias && rv->alias->aliasname ? rv->alias->aliasname : t->name;
    for (uint32_t i = 0; i < k; i++)
        if (strcmp(cc->salias[i], alias) == 0)
            return sqlf_pl_err(cc, rv->location, "42712",
                               "table name \"%s\" specified more than once", alias);
    cc->scope[k] = t;
    cc->salias[k] = alias;
    cc->soff[k] = off;
    cc->nscope++;
    return HB_OK;
}

/* Plans the FROM of a join: its tables, the filter (WHERE and ON), and for
 * each table the key prefix the tables before it (or constants) bind. */
static hb_rc_t
s_plan_join(sqlf_pl_cc_t *cc, const PgQuery__SelectStmt *s)
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
    sqlf_pl_and_terms(s->where_clause, terms, &nt, 256);
    for (uint32_t i = 0; i < nq; i++)
        sqlf_pl_and_terms(quals[i], terms, &nt, 256);
    if (nt == 256)
        return sqlf_pl_err(cc, -1, "54001", "too many conditions");
    /* The filter: every term, ANDed. */
    sqlf_pl_ex_t all = {0};
    bool have = false;
    sqlf_pl_ex_t *lhs = sqlf_stmt_alloc(st, (nt + 1) * sizeof *lhs);
    sqlf_pl_ex_t *rhs = sqlf_stmt_alloc(st, (nt + 1) * sizeof *rhs);
    bool *eq = sqlf_stmt_alloc(st, (nt + 1) * sizeof *eq);
    for (uint32_t i = 0; i < nt; i++) {
        sqlf_pl_ex_t w;
        if ((rc = sqlf_pl_where(cc, terms[i], &w)))
            return rc;
        if (have) {
            sqlf_pl_ex_t kids[2] = {all, w};
            if ((rc =
                     sqlf_pl_mk_op(cc, HB_EX_AND, NULL, 0, kids, 2, HB_T_BOOL, -1, &all)))
                return rc;
        } else {
            all = w;
            have = true;
        }
        const PgQuery__Node *n = terms[i];
        eq[i] = n->node_case == PG_QUERY__NODE__NODE_A_EXPR &&
                n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP &&
                n->a_expr->n_name == 1 && sqlf_pl_str(n->a_expr->name[0]) &&
                strcmp(sqlf_pl_str(n->a_expr->name[0]), "=") == 0 && n->a_expr->lexpr;
        if (eq[i] && ((rc = sqlf_pl_expr(cc, n->a_expr->lexpr, &lhs[i])) ||
                      (rc = sqlf_pl_expr(cc, n->a_expr->rexpr, &rhs[i]))))
            return rc;
    }
    if (have)
        st->src.where = sqlf_pl_pub(&all);
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
                sqlf_pl_ex_t *col = NULL, *val = NULL;
                if (lhs[i].tab == (int)k && lhs[i].col == (int)want &&
                    rhs[i].maxtab < (int)k) {
                    col = &lhs[i];
                    val = &rhs[i];
                } else if (rhs[i].tab == (int)k && rhs[i].col == (int)want &&
                           lhs[i].maxtab < (int)k) {
                    col = &rhs[i];
                    val = &lhs[i];
                }
                if (!col || (val->is_const && val->cval.type == HB_VAL_NIL))
                    continue;
                sqlf_pl_ex_t v = *val;
                if ((rc = sqlf_pl_coerce_const(cc, &v, t->cols[t->pk[pk]].type, -1)))
                    return rc;
                j->bind[pk] = sqlf_pl_pub(&v);
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

/* Whether the expression n calls an aggregate function. */
static bool
s_has_agg(const PgQuery__Node *n, int depth)
{
    if (!n || depth > 28)
        return false;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
        sqlf_agg_kind_t k;
        const char *name = sqlf_pl_func_name(n->func_call);
        if (name && sqlf_pl_agg_name(name, &k))
            return true;
        for (size_t i = 0; i < n->func_call->n_args; i++)
            if (s_has_agg(n->func_call->args[i], depth + 1))
                return true;
        return false;
    }
    case PG_QUERY__NODE__NODE_A_EXPR:
        return s_has_agg(n->a_expr->lexpr, depth + 1) ||
               s_has_agg(n->a_expr->rexpr, depth + 1);
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
s_add_out(sqlf_stmt_t *st, const sqlf_pl_ex_t *e, const char *name, uint32_t *cap)
{
    if (st->nout + st->nhidden == *cap) {
        /* Arena memory cannot be realloc'd (HB_GROW): the doubling policy
         * only, then fresh arrays. */
        uint32_t ncap =
            (uint32_t)hb_grow_cap(*cap, (size_t)*cap + 1, 16, sizeof *st->out_names);
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
    st->out[i] = sqlf_pl_pub(e);
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
        const char *s = cr->n_fields ? sqlf_pl_str(cr->fields[cr->n_fields - 1]) : NULL;
        return s ? s : "?column?";
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
        const char *s = sqlf_pl_func_name(n->func_call);
        return s ? s : "?column?";
    }
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        if (n->type_cast->arg &&
            n->type_cast->arg->node_case != PG_QUERY__NODE__NODE_A_CONST)
            return s_out_name(n->type_cast->arg);
        {
            const char *t = NULL;
            for (size_t i = 0; i < n->type_cast->type_name->n_names; i++)
                t = sqlf_pl_str(n->type_cast->type_name->names[i]);
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
hb_rc_t
sqlf_pl_targets(sqlf_pl_cc_t *cc, PgQuery__Node **list, size_t n, uint32_t *cap)
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
                return sqlf_pl_err(cc, rt->location, "42803",
                                   "SELECT * cannot be used with GROUP BY or aggregates");
            for (uint32_t k = 0; k < cc->nscope; k++) {
                for (uint32_t c = 0; c < sqlf_table_nvis(cc->scope[k]); c++) {
                    sqlf_pl_ex_t e =
                        sqlf_pl_mk_col(cc, cc->soff[k] + c, cc->scope[k]->cols[c].type);
                    s_add_out(st, &e, cc->scope[k]->cols[c].name, cap);
                    st->nout++;
                }
            }
            continue;
        }
        if (star) {
            if (!cc->t)
                return sqlf_pl_err(cc, rt->location, "42601",
                                   "SELECT * with no tables specified is not valid");
            if (cc->agg_mode)
                return sqlf_pl_err(cc, rt->location, "42803",
                                   "SELECT * cannot be used with GROUP BY or aggregates");
            for (uint32_t c = 0; c < sqlf_table_nvis(cc->t); c++) {
                sqlf_pl_ex_t e = sqlf_pl_mk_col(cc, c, cc->t->cols[c].type);
                s_add_out(st, &e, cc->t->cols[c].name, cap);
                st->nout++;
            }
            continue;
        }
        sqlf_pl_ex_t e;
        hb_rc_t rc = sqlf_pl_expr(cc, v, &e);
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
s_limit(sqlf_pl_cc_t *cc, const PgQuery__Node *n, int64_t *out, const char *what)
{
    if (!n)
        return HB_OK;
    sqlf_pl_ex_t e;
    hb_rc_t rc = sqlf_pl_expr(cc, n, &e);
    if (rc)
        return rc;
    if (!e.is_const)
        return sqlf_pl_err(cc, -1, "42601", "argument of %s must be a constant", what);
    sqlf_pl_note_param(cc, &e, HB_T_INT8);
    if (e.cval.type == HB_VAL_NIL)
        return HB_OK; /* LIMIT NULL / ALL */
    hb_val_t v;
    if (hb_val_coerce(&e.cval, HB_T_INT8, 0, sqlf_stmt_alloc, cc->st, &v, cc->err) !=
        HB_OK)
        return HB_INVALID;
    if (v.u.i < 0)
        return sqlf_pl_err(cc, -1, "2201W", "%s must not be negative", what);
    *out = v.u.i;
    return HB_OK;
}

/* FROM generate_series(start, stop [, step]) [AS alias [(column)]]: src
 * becomes a series (its rows are made, not read) and cc->t a one-column
 * table of it (in the arena), named by the alias, else
 * "generate_series". The arguments are integer constants or parameters;
 * a NULL one gives no rows. The column is integer, bigint when a value
 * does not fit. */
static hb_rc_t
s_series(sqlf_pl_cc_t *cc, const PgQuery__RangeFunction *rf, sqlf_source_t *src)
{
    const PgQuery__Node *fn = rf->n_functions == 1 ? rf->functions[0] : NULL;
    if (fn && fn->node_case == PG_QUERY__NODE__NODE_LIST && fn->list->n_items >= 1)
        fn = fn->list->items[0];
    const PgQuery__FuncCall *f =
        fn && fn->node_case == PG_QUERY__NODE__NODE_FUNC_CALL ? fn->func_call : NULL;
    const char *fname = f ? sqlf_pl_func_name(f) : NULL;
    if (!fname || strcmp(fname, "generate_series") != 0 || rf->is_rowsfrom ||
        rf->ordinality || rf->lateral)
        return sqlf_pl_err(
            cc, -1, "0A000",
            "functions in FROM other than generate_series are not supported");
    if (f->n_args < 2 || f->n_args > 3 || f->agg_star || f->agg_distinct ||
        f->agg_filter || f->over || f->n_agg_order)
        return sqlf_pl_err(cc, f->location, "42883",
                           "function generate_series takes (start, stop [, step])");
    if (rf->n_coldeflist)
        return sqlf_pl_err(cc, -1, "42601",
                           "a column definition list is only allowed for functions "
                           "returning \"record\"");
    int64_t v[3] = {0, 0, 1};
    bool null = false, wide = false;
    for (size_t i = 0; i < f->n_args; i++) {
        sqlf_pl_ex_t e;
        hb_val_t c;
        hb_rc_t rc = sqlf_pl_expr(cc, f->args[i], &e);
        if (rc)
            return rc;
        if (!e.is_const)
            return sqlf_pl_err(
                cc, f->location, "0A000",
                "the arguments of generate_series must be constants or parameters");
        sqlf_pl_note_param(cc, &e, HB_T_INT4);
        if (e.cval.type == HB_VAL_NIL) {
            null = true;
            continue;
        }
        if (e.type != HB_T_UNKNOWN && !sqlf_pl_is_int(e.type))
            return sqlf_pl_err(
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
        return sqlf_pl_err(cc, f->location, "22023", "step size cannot equal zero");
    uint64_t count = 0;
    if (!null && (v[2] > 0 ? v[0] <= v[1] : v[0] >= v[1])) {
        uint64_t span =
            v[2] > 0 ? (uint64_t)v[1] - (uint64_t)v[0] : (uint64_t)v[0] - (uint64_t)v[1];
        uint64_t step = v[2] > 0 ? (uint64_t)v[2] : 0 - (uint64_t)v[2];
        count = span / step + 1;
    }
    if (count > SQLF_SERIES_MAX)
        return sqlf_pl_err(cc, f->location, "54000",
                           "generate_series of more than %d rows is not supported",
                           SQLF_SERIES_MAX);
    const PgQuery__Alias *al = rf->alias;
    const char *alias =
        al && al->aliasname && *al->aliasname ? al->aliasname : "generate_series";
    const char *col = alias;
    if (al && al->n_colnames > 1)
        return sqlf_pl_err(cc, -1, "42P10",
                           "too many column aliases specified for function "
                           "generate_series");
    if (al && al->n_colnames == 1 && sqlf_pl_str(al->colnames[0]))
        col = sqlf_pl_str(al->colnames[0]);
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

/* FROM: nothing (one empty row), one table (its access path from WHERE),
 * generate_series, or a join. */
static hb_rc_t
s_select_from(sqlf_pl_cc_t *cc, const PgQuery__SelectStmt *s, bool joined)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    if (joined)
        return s_plan_join(cc, s);
    if (s->n_from_clause == 1 &&
        s->from_clause[0]->node_case == PG_QUERY__NODE__NODE_RANGE_FUNCTION)
        return s_series(cc, s->from_clause[0]->range_function, &st->src);
    if (s->n_from_clause != 1)
        return HB_OK;
    const PgQuery__Node *f = s->from_clause[0];
    if (f->node_case != PG_QUERY__NODE__NODE_RANGE_VAR)
        return sqlf_pl_err(cc, -1, "0A000", "subqueries in FROM are not supported yet");
    if ((rc = sqlf_pl_table(cc, f->range_var, &cc->t)))
        return rc;
    cc->alias = f->range_var->alias && f->range_var->alias->aliasname
                    ? f->range_var->alias->aliasname
                    : cc->t->name;
    return sqlf_pl_source(cc, s->where_clause, &st->src);
}

/* GROUP BY (plain columns) when the query aggregates: from here on the
 * targets compile over the group row (cc->agg_mode). */
static hb_rc_t
s_select_group(sqlf_pl_cc_t *cc, const PgQuery__SelectStmt *s)
{
    sqlf_stmt_t *st = cc->st;
    bool agg = s->n_group_clause > 0 || s->having_clause;
    for (size_t i = 0; i < s->n_target_list && !agg; i++)
        agg = s_has_agg(s->target_list[i], 0);
    if (!agg)
        return HB_OK;
    st->agg = true;
    if (s->n_group_clause > SQLF_MAX_GROUP)
        return sqlf_pl_err(cc, -1, "54011", "at most %d GROUP BY expressions",
                           SQLF_MAX_GROUP);
    st->group = sqlf_stmt_alloc(st, (s->n_group_clause + 1) * sizeof *st->group);
    for (size_t i = 0; i < s->n_group_clause; i++) {
        sqlf_pl_ex_t g;
        hb_rc_t rc = sqlf_pl_expr(cc, s->group_clause[i], &g);
        if (rc)
            return rc;
        if (g.col < 0)
            return sqlf_pl_err(cc, -1, "0A000", "GROUP BY supports plain columns only");
        st->group[st->ngroup++] = sqlf_pl_pub(&g);
    }
    cc->agg_mode = true;
    return HB_OK;
}

/* ORDER BY: an output position, an output name, or an expression
 * computed as a hidden column. */
static hb_rc_t
s_order_by(sqlf_pl_cc_t *cc, const PgQuery__SelectStmt *s, uint32_t *cap)
{
    sqlf_stmt_t *st = cc->st;
    st->sort = sqlf_stmt_alloc(st, (s->n_sort_clause + 1) * sizeof *st->sort);
    for (size_t i = 0; i < s->n_sort_clause; i++) {
        const PgQuery__SortBy *sb = s->sort_clause[i]->sort_by;
        sqlf_sort_t so = {.desc = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC};
        so.nulls_first =
            sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
            (so.desc && sb->sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST);
        const PgQuery__Node *n = sb->node;
        bool done = false;
        if (n->node_case == PG_QUERY__NODE__NODE_A_CONST &&
            n->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
            int32_t k = n->a_const->ival->ival;
            if (k < 1 || (uint32_t)k > st->nout)
                return sqlf_pl_err(cc, sb->location, "42P10",
                                   "ORDER BY position %d is not in select list", k);
            so.col = (uint32_t)k - 1;
            done = true;
        } else if (n->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
                   n->column_ref->n_fields == 1 &&
                   sqlf_pl_str(n->column_ref->fields[0])) {
            /* An output name wins over an input column's. */
            const char *name = sqlf_pl_str(n->column_ref->fields[0]);
            for (uint32_t c = 0; c < st->nout && !done; c++) {
                if (strcmp(st->out_names[c], name) == 0) {
                    so.col = c;
                    done = true;
                }
            }
        }
        if (!done) {
            sqlf_pl_ex_t e;
            hb_rc_t rc = sqlf_pl_expr(cc, n, &e);
            if (rc)
                return rc;
            s_add_out(st, &e, "?sort?", cap);
            so.col = st->nout + st->nhidden;
            st->nhidden++;
        }
        st->sort[st->nsort++] = so;
    }
    return HB_OK;
}

/* The clauses this planner does not support (0A000 naming the first). */
static hb_rc_t
s_select_unsupported(sqlf_pl_cc_t *cc, const PgQuery__SelectStmt *s)
{
    if (s->op != PG_QUERY__SET_OPERATION__SETOP_NONE && s->op != 0)
        return sqlf_pl_err(cc, -1, "0A000",
                           "UNION, INTERSECT and EXCEPT are not supported");
    if (s->n_values_lists)
        return sqlf_pl_err(cc, -1, "0A000", "VALUES as a query is not supported");
    if (s->with_clause)
        return sqlf_pl_err(cc, -1, "0A000", "WITH is not supported");
    if (s->n_distinct_clause)
        return sqlf_pl_err(cc, -1, "0A000", "SELECT DISTINCT is not supported");
    if (s->n_locking_clause)
        return sqlf_pl_err(cc, -1, "0A000", "FOR UPDATE / FOR SHARE is not supported");
    if (s->n_window_clause)
        return sqlf_pl_err(cc, -1, "0A000", "window functions are not supported");
    if (s->into_clause)
        return sqlf_pl_err(cc, -1, "0A000", "SELECT INTO is not supported");
    return HB_OK;
}

hb_rc_t
sqlf_pl_select(sqlf_pl_cc_t *cc, const PgQuery__SelectStmt *s)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    st->kind = SQLF_ST_SELECT;
    snprintf(st->tag, sizeof st->tag, "SELECT");
    st->limit = -1;
    if ((rc = s_select_unsupported(cc, s)))
        return rc;
    bool joined = s->n_from_clause > 1 ||
                  (s->n_from_clause == 1 &&
                   s->from_clause[0]->node_case == PG_QUERY__NODE__NODE_JOIN_EXPR);
    if ((rc = s_select_from(cc, s, joined)))
        return rc;
    if (s->where_clause && !joined) {
        sqlf_pl_ex_t w;
        if ((rc = sqlf_pl_where(cc, s->where_clause, &w)))
            return rc;
        st->src.where = sqlf_pl_pub(&w);
    }
    uint32_t cap = 0;
    if ((rc = s_select_group(cc, s)) ||
        (rc = sqlf_pl_targets(cc, s->target_list, s->n_target_list, &cap)))
        return rc;
    if (s->having_clause) {
        sqlf_pl_ex_t h;
        if ((rc = sqlf_pl_expr(cc, s->having_clause, &h)))
            return rc;
        st->having = sqlf_pl_pub(&h);
    }
    if ((rc = s_order_by(cc, s, &cap)))
        return rc;
    cc->agg_mode = false;
    if ((rc = s_limit(cc, s->limit_count, &st->limit, "LIMIT")) ||
        (rc = s_limit(cc, s->limit_offset, &st->offset, "OFFSET")))
        return rc;
    return HB_OK;
}
