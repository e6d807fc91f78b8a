/* plan.c — from libpg_query's tree to a Hobbes plan: the entry points.
 *
 * sqlf_plan (plan.h) plans one statement: it sets up the compile context
 * (plan_int.h) and dispatches on the statement's kind to the file that
 * plans it: plan_select.c, plan_dml.c, plan_ddl.c. Transaction control,
 * SET / RESET and VACUUM / ANALYZE, which need neither expressions nor
 * access paths, are planned here. Planning is pure: it reads the catalog
 * and the parse tree, never data; front.c runs the plans.
 *
 * Expressions compile bottom-up (plan_expr.c) against the names in scope
 * (plan_name.c), and a WHERE clause's key terms choose the access path
 * (plan_path.c). Everything a plan points to lives in its arena
 * (sqlf_stmt_alloc), freed by sqlf_stmt_free.
 *
 * Entry points: sqlf_plan, sqlf_stmt_free, sqlf_stmt_alloc, sqlf_rowid_next.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hb_alloc.h"
#include "hb_arena.h"
#include "plan_int.h"

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
/* Errors                                                               */
/* ------------------------------------------------------------------ */

hb_rc_t
sqlf_pl_err(sqlf_pl_cc_t *cc, int32_t loc, const char *sqlstate, const char *fmt, ...)
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

/* ------------------------------------------------------------------ */
/* Session statements                                                   */
/* ------------------------------------------------------------------ */

/* VACUUM / ANALYZE: nothing to reclaim or gather statistics for: accepted,
 * after checking that the tables exist. */
static hb_rc_t
s_plan_vacuum(sqlf_pl_cc_t *cc, const PgQuery__VacuumStmt *vs)
{
    sqlf_stmt_t *st = cc->st;
    st->kind = SQLF_ST_EMPTY;
    snprintf(st->tag, sizeof st->tag, "%s", vs->is_vacuumcmd ? "VACUUM" : "ANALYZE");
    for (size_t i = 0; i < vs->n_rels; i++) {
        const PgQuery__Node *rn = vs->rels[i];
        const sqlf_table_t *tab;
        if (rn->node_case != PG_QUERY__NODE__NODE_VACUUM_RELATION ||
            !rn->vacuum_relation->relation)
            continue;
        hb_rc_t rc = sqlf_pl_table(cc, rn->vacuum_relation->relation, &tab);
        if (rc)
            return rc;
    }
    return HB_OK;
}

/* BEGIN / START TRANSACTION, COMMIT, ROLLBACK. */
static hb_rc_t
s_plan_transaction(sqlf_pl_cc_t *cc, const PgQuery__TransactionStmt *ts)
{
    sqlf_stmt_t *st = cc->st;
    switch (ts->kind) {
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
        return sqlf_pl_err(cc, -1, "0A000",
                           "savepoints and two-phase commit are not supported");
    }
}

/* The Hobbes settings a SET checks here (a bad value is an error of the
 * SET itself); the others front.c accepts or ignores. */
static hb_rc_t
s_check_setting(sqlf_pl_cc_t *cc, const PgQuery__VariableSetStmt *vs)
{
    sqlf_stmt_t *st = cc->st;
    if (strcmp(st->set_name, "hobbes.read_after") == 0) {
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
            return sqlf_pl_err(cc, -1, "22023",
                               "parameter \"hobbes.read_after\" requires an epoch (a "
                               "non-negative integer)");
    }
    if (strcmp(st->set_name, "hobbes.strict_reads") == 0) {
        const char *v = st->set_value;
        if (strcmp(v, "on") && strcmp(v, "off") && strcmp(v, "true") &&
            strcmp(v, "false") && strcmp(v, "1") && strcmp(v, "0"))
            return sqlf_pl_err(
                cc, -1, "22023",
                "parameter \"hobbes.strict_reads\" requires a Boolean value");
    }
    return HB_OK;
}

/* SET name = value / RESET name: recorded in the plan for front.c. */
static hb_rc_t
s_plan_set(sqlf_pl_cc_t *cc, const PgQuery__VariableSetStmt *vs)
{
    sqlf_stmt_t *st = cc->st;
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
    if (reset || vs->kind != PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE)
        return HB_OK;
    return s_check_setting(cc, vs);
}

/* ------------------------------------------------------------------ */
/* Entry point                                                          */
/* ------------------------------------------------------------------ */

hb_rc_t
sqlf_pl_stmt(sqlf_pl_cc_t *cc, const PgQuery__Node *n)
{
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        return sqlf_pl_select(cc, n->select_stmt);
    case PG_QUERY__NODE__NODE_INSERT_STMT:
        return sqlf_pl_insert(cc, n->insert_stmt);
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
        return sqlf_pl_update(cc, n->update_stmt);
    case PG_QUERY__NODE__NODE_DELETE_STMT:
        return sqlf_pl_delete(cc, n->delete_stmt);
    case PG_QUERY__NODE__NODE_CREATE_STMT:
        return sqlf_pl_create_table(cc, n->create_stmt);
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
        return sqlf_pl_create_proc(cc, n->create_function_stmt);
    case PG_QUERY__NODE__NODE_CALL_STMT:
        return sqlf_pl_call(cc, n->call_stmt);
    case PG_QUERY__NODE__NODE_DROP_STMT:
        return sqlf_pl_drop(cc, n->drop_stmt);
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        return sqlf_pl_truncate(cc, n->truncate_stmt);
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
        return s_plan_vacuum(cc, n->vacuum_stmt);
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        return s_plan_transaction(cc, n->transaction_stmt);
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
        return s_plan_set(cc, n->variable_set_stmt);
    case PG_QUERY__NODE__NODE_INDEX_STMT:
        return sqlf_pl_create_index(cc, n->index_stmt);
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
        return sqlf_pl_add_pkey(cc, n->alter_table_stmt);
    default:
        return sqlf_pl_err(cc, -1, "0A000", "statement type %d is not supported",
                           (int)n->node_case);
    }
}

hb_rc_t
sqlf_plan(const sqlf_catalog_t *cat, const char *sql, const PgQuery__Node *stmt,
          const hb_val_t *params, uint32_t nparams, const char (*pnames)[SQLF_NAME_MAX],
          int64_t now_us, sqlf_rowid_t *rowids, sqlf_describe_t *desc, sqlf_stmt_t *st,
          hb_sqlerr_t *err)
{
    memset(st, 0, sizeof *st); /* also what msgpack_sbuffer_init does to ops, ddl_def */
    sqlf_pl_cc_t cc = {.st = st,
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
    hb_rc_t rc = sqlf_pl_stmt(&cc, stmt);
    if (rc) {
        if (!err->sqlstate[0])
            hb_sqlerr_set(err, "XX000", "planning failed");
        sqlf_stmt_free(st);
    }
    return rc;
}
