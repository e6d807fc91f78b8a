/* plan_ddl.c — planning DDL and procedures into sql.ddl calls.
 *
 * CREATE TABLE, CREATE / DROP INDEX, ALTER TABLE ... ADD PRIMARY KEY, DROP
 * TABLE and TRUNCATE become one sql.ddl each (or one per table named): the
 * table's new definition, packed as the catalog stores it
 * (sqlf_table_pack); front.c submits it and, for CREATE INDEX and ADD
 * PRIMARY KEY, fills the new index or table once it committed.
 * CREATE / DROP PROCEDURE store or remove a LANGUAGE SQL procedure (its
 * body is parsed here, planned at each CALL); CALL converts its arguments
 * and hands front.c the body to run as a block.
 *
 * Entry points (from plan.c): sqlf_pl_create_table, sqlf_pl_create_index,
 * sqlf_pl_add_pkey, sqlf_pl_drop, sqlf_pl_truncate, sqlf_pl_create_proc,
 * sqlf_pl_call.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "plan_int.h"

/* ------------------------------------------------------------------ */
/* CREATE TABLE                                                         */
/* ------------------------------------------------------------------ */

/* Storage parameters: fillfactor means nothing to an LSM; accepted. */
static hb_rc_t
s_create_options(sqlf_pl_cc_t *cc, const PgQuery__CreateStmt *cs)
{
    for (size_t i = 0; i < cs->n_options; i++) {
        const PgQuery__DefElem *d =
            cs->options[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM
                ? cs->options[i]->def_elem
                : NULL;
        if (!d || !d->defname || strcmp(d->defname, "fillfactor") != 0)
            return sqlf_pl_err(cc, d ? d->location : -1, "22023",
                               "unrecognized parameter \"%s\"",
                               d && d->defname ? d->defname : "?");
        const PgQuery__Node *a = d->arg;
        int64_t ff = -1;
        if (a && a->node_case == PG_QUERY__NODE__NODE_INTEGER)
            ff = a->integer->ival;
        if (ff < 10 || ff > 100)
            return sqlf_pl_err(
                cc, d->location, "22023",
                "value for fillfactor must be an integer between 10 and 100");
    }
    return HB_OK;
}

/* A column's DEFAULT: a constant converted to the column's type now, or
 * (CURRENT_TIMESTAMP and friends) an expression evaluated at each INSERT. */
static hb_rc_t
s_column_default(sqlf_pl_cc_t *cc, const PgQuery__Constraint *c, sqlf_col_t *col)
{
    const sqlf_table_t *save = cc->t;
    cc->t = NULL;
    cc->in_default = true;
    sqlf_pl_ex_t d;
    hb_rc_t rc = sqlf_pl_expr(cc, c->raw_expr, &d);
    cc->t = save;
    cc->in_default = false;
    if (rc)
        return rc;
    if (!d.is_const) {
        col->def = d.p;
        col->deflen = d.len;
        return HB_OK;
    }
    hb_val_t v;
    if (hb_val_coerce(&d.cval, col->type, col->typmod, sqlf_stmt_alloc, cc->st, &v,
                      cc->err) != HB_OK)
        return HB_INVALID;
    sqlf_pl_ex_t dc = sqlf_pl_mk_const(cc, &v, col->type);
    col->def = dc.p;
    col->deflen = dc.len;
    return HB_OK;
}

/* Adds the column cd to t; pk_seen: a table PRIMARY KEY constraint came
 * before it. */
static hb_rc_t
s_column_def(sqlf_pl_cc_t *cc, const PgQuery__ColumnDef *cd, sqlf_table_t *t,
             bool pk_seen)
{
    hb_rc_t rc;
    if (t->ncols == HB_SQL_MAX_COLS)
        return sqlf_pl_err(cc, cd->location, "54011",
                           "tables can have at most %d columns", HB_SQL_MAX_COLS);
    sqlf_col_t *col = &t->cols[t->ncols];
    if ((rc = sqlf_pl_name(cc, cd->colname, cd->location, col->name)))
        return rc;
    if (sqlf_table_col(t, col->name) >= 0)
        return sqlf_pl_err(cc, cd->location, "42701",
                           "column \"%s\" specified more than once", col->name);
    if ((rc = sqlf_pl_type(cc, cd->type_name, &col->type, &col->typmod)))
        return rc;
    col->not_null = cd->is_not_null;
    t->ncols++;
    for (size_t k = 0; k < cd->n_constraints; k++) {
        const PgQuery__Constraint *c = cd->constraints[k]->constraint;
        switch (c->contype) {
        case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
            col->not_null = true;
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_NULL:
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
            if (pk_seen || t->npk)
                return sqlf_pl_err(
                    cc, c->location, "42P16",
                    "multiple primary keys for table \"%s\" are not allowed", t->name);
            t->pk[t->npk++] = t->ncols - 1;
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT:
            if ((rc = s_column_default(cc, c, col)))
                return rc;
            break;
        default:
            return sqlf_pl_err(
                cc, c->location, "0A000",
                "column constraints other than PRIMARY KEY, NOT NULL, NULL and "
                "DEFAULT are not supported");
        }
    }
    return HB_OK;
}

/* The columns and constraints of CREATE TABLE into t; *pkc gets the table
 * PRIMARY KEY constraint, if any. */
static hb_rc_t
s_table_elts(sqlf_pl_cc_t *cc, const PgQuery__CreateStmt *cs, sqlf_table_t *t,
             const PgQuery__Constraint **pkc)
{
    hb_rc_t rc;
    for (size_t i = 0; i < cs->n_table_elts; i++) {
        const PgQuery__Node *e = cs->table_elts[i];
        if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
            const PgQuery__Constraint *c = e->constraint;
            if (c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
                return sqlf_pl_err(cc, c->location, "0A000",
                                   "only PRIMARY KEY table constraints are supported");
            if (*pkc || t->npk)
                return sqlf_pl_err(
                    cc, c->location, "42P16",
                    "multiple primary keys for table \"%s\" are not allowed", t->name);
            *pkc = c;
            continue;
        }
        if (e->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
            return sqlf_pl_err(cc, -1, "0A000",
                               "LIKE and other table elements are not supported");
        if ((rc = s_column_def(cc, e->column_def, t, *pkc != NULL)))
            return rc;
    }
    return HB_OK;
}

/* The primary key of t: the table constraint pkc's columns, else the one a
 * column constraint named, else a hidden row id (sqlf_rowid_next). */
static hb_rc_t
s_table_pkey(sqlf_pl_cc_t *cc, const PgQuery__CreateStmt *cs, sqlf_table_t *t,
             const PgQuery__Constraint *pkc)
{
    for (size_t k = 0; pkc && k < pkc->n_keys; k++) {
        const char *name = sqlf_pl_str(pkc->keys[k]);
        int c = name ? sqlf_table_col(t, name) : -1;
        if (c < 0)
            return sqlf_pl_err(cc, pkc->location, "42703",
                               "column \"%s\" named in key does not exist",
                               name ? name : "?");
        if (t->npk == SQLF_MAX_PK)
            return sqlf_pl_err(cc, pkc->location, "54011", "at most %d key columns",
                               SQLF_MAX_PK);
        for (uint32_t j = 0; j < t->npk; j++)
            if (t->pk[j] == (uint32_t)c)
                return sqlf_pl_err(
                    cc, pkc->location, "42701",
                    "column \"%s\" appears twice in primary key constraint", name);
        t->pk[t->npk++] = (uint32_t)c;
    }
    if (t->npk == 0) {
        if (cs->partspec)
            return sqlf_pl_err(cc, -1, "42P16",
                               "PARTITION BY needs a PRIMARY KEY to partition by");
        if (t->ncols == HB_SQL_MAX_COLS)
            return sqlf_pl_err(cc, -1, "54011", "tables can have at most %d columns",
                               HB_SQL_MAX_COLS - 1);
        sqlf_col_t *rid = &t->cols[t->ncols];
        snprintf(rid->name, sizeof rid->name, "rowid");
        rid->type = HB_T_INT8;
        rid->not_null = true;
        t->pk[t->npk++] = t->ncols++;
        t->rowid = true;
    }
    for (uint32_t k = 0; k < t->npk; k++) {
        sqlf_col_t *c = &t->cols[t->pk[k]];
        c->not_null = true;
        if (c->type == HB_T_FLOAT4 || c->type == HB_T_FLOAT8 || c->type == HB_T_NUMERIC)
            return sqlf_pl_err(cc, -1, "0A000",
                               "primary-key columns of type %s are not supported",
                               hb_type_name(c->type));
    }
    return HB_OK;
}

/* PARTITION BY HASH (cols): a prefix of the primary key; by default the
 * whole key. */
static hb_rc_t
s_table_partition(sqlf_pl_cc_t *cc, const PgQuery__PartitionSpec *ps, sqlf_table_t *t)
{
    t->npart = t->npk;
    if (!ps)
        return HB_OK;
    if (strcasecmp(ps->strategy, "hash") != 0)
        return sqlf_pl_err(cc, ps->location, "0A000",
                           "only PARTITION BY HASH is supported");
    if (ps->n_part_params == 0 || ps->n_part_params > t->npk)
        return sqlf_pl_err(cc, ps->location, "42P16",
                           "the partition key must be a prefix of the primary key");
    for (size_t k = 0; k < ps->n_part_params; k++) {
        const PgQuery__PartitionElem *pe = ps->part_params[k]->partition_elem;
        int c = pe->name ? sqlf_table_col(t, pe->name) : -1;
        if (c < 0 || (uint32_t)c != t->pk[k])
            return sqlf_pl_err(
                cc, pe->location, "42P16",
                "the partition key must be a prefix of the primary key (\"%s\" "
                "is not key column %zu)",
                pe->name ? pe->name : "?", k + 1);
    }
    t->npart = (uint32_t)ps->n_part_params;
    return HB_OK;
}

hb_rc_t
sqlf_pl_create_table(sqlf_pl_cc_t *cc, const PgQuery__CreateStmt *cs)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    st->kind = SQLF_ST_DDL;
    st->ddl = HB_SQLDDL_CREATE;
    st->missing_ok = cs->if_not_exists;
    snprintf(st->tag, sizeof st->tag, "CREATE TABLE");
    if (cs->n_inh_relations || cs->partbound || cs->of_typename)
        return sqlf_pl_err(cc, -1, "0A000",
                           "INHERITS, PARTITION OF and OF are not supported");
    if ((rc = s_create_options(cc, cs)))
        return rc;
    if (cs->relation->schemaname && *cs->relation->schemaname &&
        strcmp(cs->relation->schemaname, "public") != 0)
        return sqlf_pl_err(cc, cs->relation->location, "3F000",
                           "schema \"%s\" does not exist", cs->relation->schemaname);
    if ((rc = sqlf_pl_name(cc, cs->relation->relname, cs->relation->location,
                           st->ddl_name)))
        return rc;
    sqlf_table_t t = {0};
    snprintf(t.name, sizeof t.name, "%s", st->ddl_name);
    t.cols = sqlf_stmt_alloc(st, HB_SQL_MAX_COLS * sizeof *t.cols);
    memset(t.cols, 0, HB_SQL_MAX_COLS * sizeof *t.cols);
    const PgQuery__Constraint *pkc = NULL;
    if ((rc = s_table_elts(cc, cs, &t, &pkc)))
        return rc;
    if (t.ncols == 0)
        return sqlf_pl_err(cc, -1, "0A000", "tables without columns are not supported");
    if ((rc = s_table_pkey(cc, cs, &t, pkc)) ||
        (rc = s_table_partition(cc, cs->partspec, &t)))
        return rc;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &st->ddl_def, msgpack_sbuffer_write);
    sqlf_table_pack(&pk, &t);
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Indexes                                                              */
/* ------------------------------------------------------------------ */

hb_rc_t
sqlf_pl_create_index(sqlf_pl_cc_t *cc, const PgQuery__IndexStmt *is)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    const sqlf_table_t *tab;
    if ((rc = sqlf_pl_table(cc, is->relation, &tab)))
        return rc;
    if (tab->rw_id)
        return sqlf_pl_err(cc, -1, "55006",
                           "table \"%s\" is being rewritten by ALTER TABLE", tab->name);
    if (is->unique || is->primary)
        return sqlf_pl_err(
            cc, -1, "0A000",
            "UNIQUE indexes are not supported (the primary key is the unique key)");
    if (is->where_clause || is->n_index_including_params)
        return sqlf_pl_err(cc, -1, "0A000",
                           "partial indexes and INCLUDE are not supported");
    if (is->access_method && *is->access_method &&
        strcmp(is->access_method, "btree") != 0)
        return sqlf_pl_err(cc, -1, "0A000", "index method %s is not supported",
                           is->access_method);
    st->kind = SQLF_ST_DDL;
    st->ddl = HB_SQLDDL_ALTER;
    snprintf(st->tag, sizeof st->tag, "CREATE INDEX");
    sqlf_table_t t = *tab;
    if (t.nidx == SQLF_MAX_INDEXES)
        return sqlf_pl_err(cc, -1, "54000", "a table can have at most %d indexes",
                           SQLF_MAX_INDEXES);
    sqlf_index_t *ix = &t.idx[t.nidx];
    memset(ix, 0, sizeof *ix);
    char name[SQLF_NAME_MAX];
    if (is->idxname && *is->idxname)
        snprintf(name, sizeof name, "%s", is->idxname);
    else
        snprintf(name, sizeof name, "%.40s_idx%u", t.name, t.next_idx);
    if ((rc = sqlf_pl_name(cc, name, -1, ix->name)))
        return rc;
    uint32_t which;
    if (sqlf_catalog_find_index(cc->cat, ix->name, &which)) {
        if (is->if_not_exists) {
            st->kind = SQLF_ST_EMPTY;
            return HB_OK;
        }
        return sqlf_pl_err(cc, -1, "42P07", "relation \"%s\" already exists", ix->name);
    }
    if (is->n_index_params == 0 || is->n_index_params > SQLF_MAX_IDXCOLS)
        return sqlf_pl_err(cc, -1, "54011", "an index has 1..%d columns",
                           SQLF_MAX_IDXCOLS);
    for (size_t i = 0; i < is->n_index_params; i++) {
        const PgQuery__IndexElem *ie = is->index_params[i]->index_elem;
        if (!ie->name || ie->expr)
            return sqlf_pl_err(cc, -1, "0A000",
                               "indexes on expressions are not supported");
        int c = sqlf_table_col(&t, ie->name);
        if (c < 0)
            return sqlf_pl_err(cc, -1, "42703", "column \"%s\" does not exist", ie->name);
        if (!sqlf_pl_indexable(t.cols[c].type))
            return sqlf_pl_err(cc, -1, "0A000", "indexes on %s columns are not supported",
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
hb_rc_t
sqlf_pl_add_pkey(sqlf_pl_cc_t *cc, const PgQuery__AlterTableStmt *as)
{
    sqlf_stmt_t *st = cc->st;
    const sqlf_table_t *tab;
    hb_rc_t rc;
    if (as->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || as->n_cmds != 1 ||
        as->cmds[0]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
        return sqlf_pl_err(cc, -1, "0A000",
                           "only ALTER TABLE ... ADD PRIMARY KEY is supported");
    const PgQuery__AlterTableCmd *cmd = as->cmds[0]->alter_table_cmd;
    const PgQuery__Constraint *c =
        cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT
            ? cmd->def->constraint
            : NULL;
    if (cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint || !c ||
        c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
        return sqlf_pl_err(cc, -1, "0A000",
                           "only ALTER TABLE ... ADD PRIMARY KEY is supported");
    if ((rc = sqlf_pl_table(cc, as->relation, &tab)))
        return rc;
    if (!tab->rowid)
        return sqlf_pl_err(cc, -1, "42P16",
                           "multiple primary keys for table \"%s\" are not allowed",
                           tab->name);
    if (tab->nidx)
        return sqlf_pl_err(
            cc, -1, "0A000",
            "ADD PRIMARY KEY on a table with secondary indexes is not supported "
            "(drop them first)");
    if (c->n_keys == 0 || c->n_keys > SQLF_MAX_PK)
        return sqlf_pl_err(cc, c->location, "54011", "a primary key has 1..%d columns",
                           SQLF_MAX_PK);
    sqlf_table_t t = *tab;
    t.rw_npk = 0;
    for (size_t k = 0; k < c->n_keys; k++) {
        const char *name = sqlf_pl_str(c->keys[k]);
        int col = name ? sqlf_table_col(&t, name) : -1;
        if (col < 0)
            return sqlf_pl_err(cc, c->location, "42703",
                               "column \"%s\" named in key does not exist",
                               name ? name : "?");
        for (uint32_t j = 0; j < t.rw_npk; j++)
            if (t.rw_pk[j] == (uint32_t)col)
                return sqlf_pl_err(
                    cc, c->location, "42701",
                    "column \"%s\" appears twice in primary key constraint", name);
        hb_type_t ty = t.cols[col].type;
        if (ty == HB_T_FLOAT4 || ty == HB_T_FLOAT8 || ty == HB_T_NUMERIC)
            return sqlf_pl_err(cc, c->location, "0A000",
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
    return n ? sqlf_pl_str(names[n - 1]) : NULL;
}

hb_rc_t
sqlf_pl_create_proc(sqlf_pl_cc_t *cc, const PgQuery__CreateFunctionStmt *cf)
{
    sqlf_stmt_t *st = cc->st;
    hb_rc_t rc;
    if (!cf->is_procedure)
        return sqlf_pl_err(cc, -1, "0A000",
                           "CREATE FUNCTION is not supported; use CREATE PROCEDURE");
    st->kind = SQLF_ST_DDL;
    st->ddl = cf->replace ? HB_SQLDDL_REPLACE_PROC : HB_SQLDDL_CREATE_PROC;
    snprintf(st->tag, sizeof st->tag, "CREATE PROCEDURE");
    char name[SQLF_NAME_MAX];
    if ((rc = sqlf_pl_name(cc, s_proc_name(cf->funcname, cf->n_funcname), -1, name)))
        return rc;
    if (cf->sql_body)
        return sqlf_pl_err(cc, -1, "0A000",
                           "BEGIN ATOMIC bodies are not supported; use AS $$ ... $$");
    const char *lang = NULL, *body = NULL;
    for (size_t i = 0; i < cf->n_options; i++) {
        const PgQuery__DefElem *d = cf->options[i]->def_elem;
        if (strcmp(d->defname, "language") == 0)
            lang = sqlf_pl_str(d->arg);
        else if (strcmp(d->defname, "as") == 0 && d->arg &&
                 d->arg->node_case == PG_QUERY__NODE__NODE_LIST &&
                 d->arg->list->n_items >= 1)
            body = sqlf_pl_str(d->arg->list->items[0]);
        else
            return sqlf_pl_err(cc, d->location, "0A000",
                               "procedure option %s is not supported", d->defname);
    }
    if (!lang || strcmp(lang, "sql") != 0)
        return sqlf_pl_err(cc, -1, "0A000", "only LANGUAGE SQL procedures are supported");
    if (!body)
        return sqlf_pl_err(cc, -1, "42P13", "no procedure body specified");
    if (cf->n_parameters > SQLF_MAX_PARAMS)
        return sqlf_pl_err(cc, -1, "54023", "procedures can have at most %d parameters",
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
            return sqlf_pl_err(cc, -1, "0A000", "only IN parameters are supported");
        if (fp->defexpr)
            return sqlf_pl_err(cc, -1, "0A000", "parameter defaults are not supported");
        p.pnames[i][0] = '\0';
        if (fp->name && *fp->name && (rc = sqlf_pl_name(cc, fp->name, -1, p.pnames[i])))
            return rc;
        if ((rc = sqlf_pl_type(cc, fp->arg_type, &p.ptypes[i], &p.pmods[i])))
            return rc;
    }
    /* The body must parse now; it is planned at each CALL (tables may
     * change in between). */
    PgQueryProtobufParseResult pr = pg_query_parse_protobuf(body);
    if (pr.error) {
        rc = sqlf_pl_err(cc, -1, "42601", "in the procedure body: %s at character %d",
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

/* DROP PROCEDURE name. */
static hb_rc_t
s_drop_proc(sqlf_pl_cc_t *cc, const PgQuery__DropStmt *d)
{
    sqlf_stmt_t *st = cc->st;
    if (d->n_objects != 1 ||
        d->objects[0]->node_case != PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS)
        return sqlf_pl_err(cc, -1, "0A000",
                           "DROP PROCEDURE of several procedures is not supported");
    const PgQuery__ObjectWithArgs *ow = d->objects[0]->object_with_args;
    char name[SQLF_NAME_MAX];
    hb_rc_t rc = sqlf_pl_name(cc, s_proc_name(ow->objname, ow->n_objname), -1, name);
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

hb_rc_t
sqlf_pl_call(sqlf_pl_cc_t *cc, const PgQuery__CallStmt *cs)
{
    sqlf_stmt_t *st = cc->st;
    const PgQuery__FuncCall *f = cs->funccall;
    hb_rc_t rc;
    st->kind = SQLF_ST_CALL;
    snprintf(st->tag, sizeof st->tag, "CALL");
    const char *name = f ? sqlf_pl_func_name(f) : NULL;
    const sqlf_proc_t *p = name ? sqlf_catalog_find_proc(cc->cat, name) : NULL;
    if (!p)
        return sqlf_pl_err(cc, f ? f->location : -1, "42883",
                           "procedure %s does not exist", name ? name : "?");
    if (f->n_args != p->nparams)
        return sqlf_pl_err(cc, f->location, "42883",
                           "procedure %s takes %u arguments, not %zu", name, p->nparams,
                           f->n_args);
    st->call_nargs = p->nparams;
    st->call_args = sqlf_stmt_alloc(st, (p->nparams + 1) * sizeof *st->call_args);
    st->call_pnames = sqlf_stmt_alloc(st, (p->nparams + 1) * sizeof *st->call_pnames);
    for (uint32_t i = 0; i < p->nparams; i++) {
        sqlf_pl_ex_t e;
        if ((rc = sqlf_pl_expr(cc, f->args[i], &e)))
            return rc;
        if (!e.is_const)
            return sqlf_pl_err(cc, f->location, "0A000",
                               "CALL arguments must be constants");
        sqlf_pl_note_param(cc, &e, p->ptypes[i]);
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
/* DROP TABLE / DROP INDEX / TRUNCATE                                   */
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

/* DROP INDEX: the table's definition without it (an ALTER). */
static hb_rc_t
s_drop_index(sqlf_pl_cc_t *cc, const PgQuery__DropStmt *d)
{
    sqlf_stmt_t *st = cc->st;
    if (d->n_objects != 1 || d->objects[0]->node_case != PG_QUERY__NODE__NODE_LIST)
        return sqlf_pl_err(cc, -1, "0A000",
                           "DROP INDEX of several indexes is not supported");
    const PgQuery__List *l = d->objects[0]->list;
    const char *iname = l->n_items ? sqlf_pl_str(l->items[l->n_items - 1]) : NULL;
    uint32_t which = 0;
    const sqlf_table_t *tab =
        iname ? sqlf_catalog_find_index(cc->cat, iname, &which) : NULL;
    st->kind = SQLF_ST_DDL;
    st->ddl = HB_SQLDDL_ALTER;
    snprintf(st->tag, sizeof st->tag, "DROP INDEX");
    if (!tab) {
        if (d->missing_ok) {
            st->kind = SQLF_ST_EMPTY;
            return HB_OK;
        }
        return sqlf_pl_err(cc, -1, "42704", "index \"%s\" does not exist",
                           iname ? iname : "?");
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

/* DROP TABLE a, b, ...: one sql.ddl per table, in order. */
static hb_rc_t
s_drop_tables(sqlf_pl_cc_t *cc, const PgQuery__DropStmt *d)
{
    sqlf_stmt_t *st = cc->st;
    if (d->n_objects == 0 || d->n_objects > SQLF_MAX_DDL_ITEMS)
        return sqlf_pl_err(cc, -1, "54000", "DROP TABLE names 1..%d tables",
                           SQLF_MAX_DDL_ITEMS);
    st->kind = SQLF_ST_DDL;
    st->ddl = HB_SQLDDL_DROP;
    st->missing_ok = d->missing_ok;
    snprintf(st->tag, sizeof st->tag, "DROP TABLE");
    s_ddl_items(st, (uint32_t)d->n_objects);
    for (size_t i = 0; i < d->n_objects; i++) {
        if (d->objects[i]->node_case != PG_QUERY__NODE__NODE_LIST)
            return sqlf_pl_err(cc, -1, "42601", "bad DROP TABLE name");
        const PgQuery__List *l = d->objects[i]->list;
        const char *name = l->n_items ? sqlf_pl_str(l->items[l->n_items - 1]) : NULL;
        hb_rc_t rc = sqlf_pl_name(cc, name, -1, st->ddl_names[i]);
        if (rc)
            return rc;
        /* Every table must exist before any is dropped (as in
         * PostgreSQL); a missing one is planned again after a reload. */
        if (!d->missing_ok && !sqlf_catalog_find(cc->cat, st->ddl_names[i]))
            return sqlf_pl_err(cc, -1, "42P01", "table \"%s\" does not exist",
                               st->ddl_names[i]);
    }
    snprintf(st->ddl_name, sizeof st->ddl_name, "%s", st->ddl_names[0]);
    return HB_OK;
}

hb_rc_t
sqlf_pl_drop(sqlf_pl_cc_t *cc, const PgQuery__DropStmt *d)
{
    if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE)
        return s_drop_proc(cc, d);
    if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX)
        return s_drop_index(cc, d);
    if (d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
        return sqlf_pl_err(
            cc, -1, "0A000",
            "only DROP TABLE, DROP INDEX and DROP PROCEDURE are supported");
    return s_drop_tables(cc, d);
}

/* TRUNCATE a, b, ...: one sql.ddl per table, in order, each with the
 * table's definition (st->ddl_defs). */
hb_rc_t
sqlf_pl_truncate(sqlf_pl_cc_t *cc, const PgQuery__TruncateStmt *tr)
{
    sqlf_stmt_t *st = cc->st;
    if (tr->n_relations == 0 || tr->n_relations > SQLF_MAX_DDL_ITEMS)
        return sqlf_pl_err(cc, -1, "54000", "TRUNCATE names 1..%d tables",
                           SQLF_MAX_DDL_ITEMS);
    st->kind = SQLF_ST_DDL;
    st->ddl = HB_SQLDDL_TRUNCATE;
    snprintf(st->tag, sizeof st->tag, "TRUNCATE TABLE");
    s_ddl_items(st, (uint32_t)tr->n_relations);
    for (size_t i = 0; i < tr->n_relations; i++) {
        const sqlf_table_t *tab;
        hb_rc_t rc = sqlf_pl_table(cc, tr->relations[i]->range_var, &tab);
        if (rc)
            return rc;
        if (tab->rw_id)
            return sqlf_pl_err(cc, -1, "55006",
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
        sqlf_pl_ex_t e = sqlf_pl_finish(cc, &sb, HB_T_UNKNOWN);
        st->ddl_defs[i] = sqlf_pl_pub(&e);
    }
    snprintf(st->ddl_name, sizeof st->ddl_name, "%s", st->ddl_names[0]);
    msgpack_sbuffer_write(&st->ddl_def, (const char *)st->ddl_defs[0].p,
                          st->ddl_defs[0].len);
    return HB_OK;
}
