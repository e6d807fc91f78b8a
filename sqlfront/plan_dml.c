/* plan_dml.c — planning INSERT, UPDATE and DELETE into sql.exec ops.
 *
 * A write becomes ops for storage (formats in common/hb_proc.h, above
 * hb_sqlop_t), packed back to back in st->ops. INSERT ... VALUES makes its
 * rows' ops at plan time (defaults, row ids, not-null checks, the primary
 * key); INSERT ... SELECT plans its query as st->sub and front.c adds one
 * op per row it reads (sqlf_stmt_insert_row). An UPDATE or DELETE whose
 * WHERE binds the whole primary key is one op on one key; any other is an
 * OLLP template: front.c reads the rows the source finds (reconnaissance)
 * and adds the op for each row's key (sqlf_stmt_add_row_op), the WHERE
 * re-checked by storage.
 *
 * Entry points: sqlf_pl_insert, sqlf_pl_update, sqlf_pl_delete (from
 * plan.c); sqlf_stmt_insert_row, sqlf_stmt_add_row_op (plan.h).
 */
#include <stdio.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_mp.h"
#include "plan_int.h"

/* ------------------------------------------------------------------ */
/* Ops                                                                  */
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
s_sets(sqlf_pl_cc_t *cc, PgQuery__Node **list, size_t n, sqlf_expr_t *out)
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
            rc = sqlf_pl_err(cc, rt->location, "0A000",
                             "assignment to a part of a column is not "
                             "supported");
            break;
        }
        int c = sqlf_table_col(t, rt->name);
        if (c < 0) {
            rc = sqlf_pl_err(cc, rt->location, "42703",
                             "column \"%s\" of relation \"%s\" does not "
                             "exist",
                             rt->name, t->name);
            break;
        }
        for (uint32_t k = 0; k < t->npk; k++)
            if (t->pk[k] == (uint32_t)c)
                rc = sqlf_pl_err(cc, rt->location, "0A000",
                                 "updating primary-key column \"%s\" is not supported",
                                 rt->name);
        if (rc)
            break;
        const sqlf_col_t *col = &t->cols[c];
        sqlf_pl_ex_t e;
        if (rt->val && rt->val->node_case == PG_QUERY__NODE__NODE_SET_TO_DEFAULT) {
            /* The default, evaluated now (CURRENT_TIMESTAMP is the
             * statement's), so storage and a block's view agree. */
            hb_val_t v = hb_val_nil();
            if (col->def) {
                hb_expr_env_t env = {.alloc = sqlf_stmt_alloc,
                                     .alloc_arg = cc->st,
                                     .err = cc->err,
                                     .now_us = cc->now_us};
                if (hb_expr_eval(col->def, col->deflen, &env, &v) != HB_OK) {
                    rc = HB_INVALID;
                    break;
                }
            }
            e = sqlf_pl_mk_const(cc, &v, col->type);
        } else if ((rc = sqlf_pl_expr(cc, rt->val, &e)) ||
                   (rc = sqlf_pl_coerce_const(cc, &e, col->type, rt->location))) {
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
    sqlf_pl_ex_t e = sqlf_pl_finish(cc, &sb, HB_T_UNKNOWN);
    *out = sqlf_pl_pub(&e);
    return HB_OK;
}

static hb_rc_t
s_returning(sqlf_pl_cc_t *cc, PgQuery__Node **list, size_t n)
{
    uint32_t cap = 0;
    if (!n)
        return HB_OK;
    cc->st->returning = true;
    return sqlf_pl_targets(cc, list, n, &cap);
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
            return hb_sqlerr_set(
                err, "23502",
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
            return hb_sqlerr_set(err, "0A000",
                                 "primary keys of this type are not supported");
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

/* The table columns an INSERT names (all visible ones by default) into
 * map; *ncols gets their number. */
static hb_rc_t
s_insert_cols(sqlf_pl_cc_t *cc, const PgQuery__InsertStmt *ins, const sqlf_table_t *t,
              uint32_t *map, uint32_t *ncols)
{
    *ncols = 0;
    if (!ins->n_cols) {
        for (uint32_t c = 0; c < sqlf_table_nvis(t); c++)
            map[(*ncols)++] = c;
        return HB_OK;
    }
    for (size_t i = 0; i < ins->n_cols; i++) {
        const PgQuery__ResTarget *rt = ins->cols[i]->res_target;
        int c = sqlf_table_col(t, rt->name);
        if (c < 0)
            return sqlf_pl_err(cc, rt->location, "42703",
                               "column \"%s\" of relation \"%s\" does not exist",
                               rt->name, t->name);
        for (uint32_t j = 0; j < *ncols; j++)
            if (map[j] == (uint32_t)c)
                return sqlf_pl_err(cc, rt->location, "42701",
                                   "column \"%s\" specified more than once", rt->name);
        map[(*ncols)++] = (uint32_t)c;
    }
    return HB_OK;
}

/* ON CONFLICT DO NOTHING / DO UPDATE SET ... [WHERE ...]: the sets and
 * the condition see the existing row and EXCLUDED, the proposed one. */
static hb_rc_t
s_on_conflict(sqlf_pl_cc_t *cc, const PgQuery__OnConflictClause *oc)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    if (oc->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_NOTHING) {
        st->ins_conflict = 1;
        return HB_OK;
    }
    st->ins_conflict = 2;
    if (!oc->infer)
        return sqlf_pl_err(cc, oc->location, "42601",
                           "ON CONFLICT DO UPDATE requires inference specification or "
                           "constraint name");
    cc->excluded = true;
    if ((rc = s_sets(cc, oc->target_list, oc->n_target_list, &st->ins_sets)))
        return rc;
    if (oc->where_clause) {
        sqlf_pl_ex_t w;
        if ((rc = sqlf_pl_expr(cc, oc->where_clause, &w)))
            return rc;
        st->ins_where = sqlf_pl_pub(&w);
    }
    cc->excluded = false;
    return HB_OK;
}

/* INSERT ... SELECT: the rows come from a read, made when the statement
 * runs (inside its transaction block: validated); sel is planned into
 * st->sub. */
static hb_rc_t
s_insert_select(sqlf_pl_cc_t *cc, const PgQuery__InsertStmt *ins,
                const PgQuery__Node *sel)
{
    sqlf_stmt_t *st = cc->st;
    uint32_t ncols = st->ins_ncols;
    sqlf_stmt_t *sub = hb_calloc(1, sizeof *sub);
    sqlf_pl_cc_t sc = *cc;
    sc.st = sub;
    sc.t = NULL;
    sc.alias = NULL;
    sc.excluded = false;
    st->sub = sub; /* calloc'd: its sbuffers are initialised (all zero) */
    hb_rc_t rc = sqlf_pl_stmt(&sc, sel);
    if (rc)
        return rc;
    if (!ins->n_cols && sub->nout < ncols)
        st->ins_ncols = ncols = sub->nout; /* the rest get their defaults */
    if (sub->nout != ncols)
        return s_arity_err(cc->err, sub->nout, ncols);
    st->ollp = true;
    return HB_OK;
}

/* INSERT ... VALUES: each row's constants become an INSERT op now (not
 * for Describe, which only wants the parameters' types). */
static hb_rc_t
s_insert_values(sqlf_pl_cc_t *cc, const PgQuery__InsertStmt *ins,
                const PgQuery__SelectStmt *vs)
{
    sqlf_stmt_t *st = cc->st;
    const sqlf_table_t *t = st->ins_table;
    uint32_t ncols = st->ins_ncols;
    hb_rc_t rc;
    cc->t = NULL; /* VALUES cannot refer to columns */
    hb_val_t vals[HB_SQL_MAX_COLS];
    bool given[HB_SQL_MAX_COLS];
    for (size_t r = 0; r < vs->n_values_lists; r++) {
        const PgQuery__Node *ln = vs->values_lists[r];
        if (ln->node_case != PG_QUERY__NODE__NODE_LIST)
            return sqlf_pl_err(cc, -1, "42601", "bad VALUES list");
        const PgQuery__List *vl = ln->list;
        if (r == 0 && !ins->n_cols && vl->n_items < ncols)
            st->ins_ncols = ncols =
                (uint32_t)vl->n_items; /* the rest get their defaults */
        if (r > 0 && vl->n_items != vs->values_lists[0]->list->n_items)
            return sqlf_pl_err(cc, -1, "42601",
                               "VALUES lists must all be the same length");
        if (vl->n_items != ncols)
            return s_arity_err(cc->err, (uint32_t)vl->n_items, ncols);
        for (uint32_t i = 0; i < ncols; i++) {
            given[i] = vl->items[i]->node_case != PG_QUERY__NODE__NODE_SET_TO_DEFAULT;
            if (!given[i])
                continue;
            sqlf_pl_ex_t e;
            if ((rc = sqlf_pl_expr(cc, vl->items[i], &e)))
                return rc;
            if (!e.is_const)
                return sqlf_pl_err(cc, -1, "0A000", "VALUES must be constants");
            sqlf_pl_note_param(cc, &e, t->cols[st->ins_map[i]].type);
            vals[i] = e.cval;
        }
        if (!cc->desc &&
            (rc = s_insert_row(st, vals, given, sqlf_stmt_alloc, st, cc->err)))
            return rc;
    }
    cc->t = t;
    return HB_OK;
}

hb_rc_t
sqlf_pl_insert(sqlf_pl_cc_t *cc, const PgQuery__InsertStmt *ins)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    st->kind = SQLF_ST_WRITE;
    st->wkind = HB_SQLOP_INSERT;
    snprintf(st->tag, sizeof st->tag, "INSERT");
    if (ins->with_clause)
        return sqlf_pl_err(cc, -1, "0A000", "WITH is not supported");
    if ((rc = sqlf_pl_table(cc, ins->relation, &cc->t)))
        return rc;
    const sqlf_table_t *t = cc->t;
    st->ins_table = t;
    cc->alias = ins->relation->alias && ins->relation->alias->aliasname
                    ? ins->relation->alias->aliasname
                    : t->name;
    uint32_t *map = sqlf_stmt_alloc(st, HB_SQL_MAX_COLS * sizeof *map);
    uint32_t ncols;
    if ((rc = s_insert_cols(cc, ins, t, map, &ncols)))
        return rc;
    if (t->rw_id)
        return sqlf_pl_err(cc, -1, "55006",
                           "table \"%s\" is being rewritten by ALTER TABLE", t->name);
    if (t->rowid && !cc->rowids && !cc->desc)
        return sqlf_pl_err(cc, -1, "0A000", "no row ids here for table \"%s\"", t->name);
    st->rowids = cc->rowids;
    st->ins_map = map;
    st->ins_ncols = ncols;
    const PgQuery__Node *sel = ins->select_stmt;
    if (!sel || sel->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return sqlf_pl_err(cc, -1, "0A000",
                           "INSERT ... DEFAULT VALUES is not supported yet");
    if (ins->on_conflict_clause && (rc = s_on_conflict(cc, ins->on_conflict_clause)))
        return rc;
    if ((rc = s_returning(cc, ins->returning_list, ins->n_returning_list)))
        return rc;
    if (!sel->select_stmt->n_values_lists)
        return s_insert_select(cc, ins, sel);
    return s_insert_values(cc, ins, sel->select_stmt);
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
s_plan_upd_del(sqlf_pl_cc_t *cc, const PgQuery__RangeVar *rel, const PgQuery__Node *where,
               PgQuery__Node **sets, size_t nsets, PgQuery__Node **ret, size_t nret)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    st->kind = SQLF_ST_WRITE;
    if ((rc = sqlf_pl_table(cc, rel, &cc->t)))
        return rc;
    cc->alias = rel->alias && rel->alias->aliasname ? rel->alias->aliasname : cc->t->name;
    if (cc->t->rw_id && !cc->desc)
        return sqlf_pl_err(cc, -1, "55006",
                           "table \"%s\" is being rewritten by ALTER TABLE", cc->t->name);
    if ((rc = sqlf_pl_source(cc, where, &st->src)))
        return rc;
    if (where && !st->src.key_only) {
        /* (A point write by the key alone carries no WHERE: its outcome
         * depends only on whether the row exists.) */
        sqlf_pl_ex_t w;
        if ((rc = sqlf_pl_where(cc, where, &w)))
            return rc;
        st->src.where = sqlf_pl_pub(&w);
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
/* UPDATE / DELETE                                                      */
/* ------------------------------------------------------------------ */

hb_rc_t
sqlf_pl_update(sqlf_pl_cc_t *cc, const PgQuery__UpdateStmt *u)
{
    if (u->n_from_clause || u->with_clause)
        return sqlf_pl_err(cc, -1, "0A000", "UPDATE ... FROM and WITH are not supported");
    cc->st->wkind = HB_SQLOP_UPDATE;
    snprintf(cc->st->tag, sizeof cc->st->tag, "UPDATE");
    return s_plan_upd_del(cc, u->relation, u->where_clause, u->target_list,
                          u->n_target_list, u->returning_list, u->n_returning_list);
}

hb_rc_t
sqlf_pl_delete(sqlf_pl_cc_t *cc, const PgQuery__DeleteStmt *d)
{
    if (d->n_using_clause || d->with_clause)
        return sqlf_pl_err(cc, -1, "0A000",
                           "DELETE ... USING and WITH are not supported");
    cc->st->wkind = HB_SQLOP_DELETE;
    snprintf(cc->st->tag, sizeof cc->st->tag, "DELETE");
    return s_plan_upd_del(cc, d->relation, d->where_clause, NULL, 0, d->returning_list,
                          d->n_returning_list);
}
