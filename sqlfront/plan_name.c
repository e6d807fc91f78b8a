/* plan_name.c — names: identifiers, types, tables and column references.
 *
 * Checks the identifiers a statement defines (sqlf_pl_name), resolves the
 * ones it uses: a table of the catalog (sqlf_pl_table), a type name with
 * its modifiers (sqlf_pl_type), and a column reference against the scope
 * the compile context holds (sqlf_pl_column): the one table of the
 * statement (and EXCLUDED in ON CONFLICT DO UPDATE), the tables of a join,
 * the group row of an aggregate query, and finally a procedure body's
 * parameters by name.
 *
 * Entry points: sqlf_pl_str, sqlf_pl_name, sqlf_pl_table, sqlf_pl_type,
 * sqlf_pl_column (plan_int.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hb_mp.h"
#include "plan_int.h"

/* ------------------------------------------------------------------ */
/* Names and types                                                      */
/* ------------------------------------------------------------------ */

const char *
sqlf_pl_str(const PgQuery__Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string->sval : NULL;
}

hb_rc_t
sqlf_pl_name(sqlf_pl_cc_t *cc, const char *name, int32_t loc, char out[SQLF_NAME_MAX])
{
    if (!name || !*name)
        return sqlf_pl_err(cc, loc, "42601", "empty name");
    if (strlen(name) >= SQLF_NAME_MAX)
        return sqlf_pl_err(cc, loc, "42622",
                           "identifier \"%.40s...\" is too long (at most %d bytes)", name,
                           SQLF_NAME_MAX - 1);
    for (const char *q = name; *q; q++)
        if ((unsigned char)*q < 0x20)
            return sqlf_pl_err(cc, loc, "42602",
                               "invalid name: control characters are not allowed");
    snprintf(out, SQLF_NAME_MAX, "%s", name);
    return HB_OK;
}

/* Resolves a RangeVar to a table (42P01 if none). */
hb_rc_t
sqlf_pl_table(sqlf_pl_cc_t *cc, const PgQuery__RangeVar *rv, const sqlf_table_t **t)
{
    *t = NULL;
    if (rv->schemaname && *rv->schemaname && strcmp(rv->schemaname, "public") != 0)
        return sqlf_pl_err(cc, rv->location, "3F000", "schema \"%s\" does not exist",
                           rv->schemaname);
    *t = sqlf_catalog_find(cc->cat, rv->relname);
    if (!*t)
        return sqlf_pl_err(cc, rv->location, "42P01", "relation \"%s\" does not exist",
                           rv->relname);
    return HB_OK;
}

hb_rc_t
sqlf_pl_type(sqlf_pl_cc_t *cc, const PgQuery__TypeName *tn, hb_type_t *type,
             int32_t *typmod)
{
    const char *name = NULL;
    for (size_t i = 0; i < tn->n_names; i++)
        name = sqlf_pl_str(tn->names[i]);
    if (!name)
        return sqlf_pl_err(cc, tn->location, "42601", "bad type name");
    if (tn->n_array_bounds)
        return sqlf_pl_err(cc, tn->location, "0A000", "array types are not supported");
    int64_t mod = -1;
    if (tn->n_typmods >= 1 && tn->typmods[0]->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        tn->typmods[0]->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
        mod = tn->typmods[0]->a_const->ival->ival;
    static const struct {
        const char *name;
        hb_type_t type;
    } map[] = {
        {"int2", HB_T_INT2},     {"smallint", HB_T_INT2},   {"int4", HB_T_INT4},
        {"int", HB_T_INT4},      {"integer", HB_T_INT4},    {"int8", HB_T_INT8},
        {"bigint", HB_T_INT8},   {"bool", HB_T_BOOL},       {"boolean", HB_T_BOOL},
        {"float4", HB_T_FLOAT4}, {"real", HB_T_FLOAT4},     {"float8", HB_T_FLOAT8},
        {"text", HB_T_TEXT},     {"varchar", HB_T_VARCHAR}, {"bpchar", HB_T_CHAR},
        {"char", HB_T_CHAR},     {"bytea", HB_T_BYTEA},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (strcmp(map[i].name, name) == 0) {
            *type = map[i].type;
            *typmod = 0;
            if (*type == HB_T_VARCHAR || *type == HB_T_CHAR) {
                if (mod == 0 || mod > 10485760)
                    return sqlf_pl_err(cc, tn->location, "22023",
                                       "length for type %s must be "
                                       "between 1 and 10485760",
                                       name);
                *typmod = mod > 0 ? (int32_t)mod : (*type == HB_T_CHAR ? 1 : 0);
            }
            return HB_OK;
        }
    }
    if (strcmp(name, "numeric") == 0 || strcmp(name, "decimal") == 0) {
        int64_t scale = 0;
        if (tn->n_typmods >= 2 &&
            tn->typmods[1]->node_case == PG_QUERY__NODE__NODE_A_CONST &&
            tn->typmods[1]->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
            scale = tn->typmods[1]->a_const->ival->ival;
        *type = HB_T_NUMERIC;
        *typmod = 0;
        if (mod < 0)
            return HB_OK; /* unconstrained */
        if (mod < 1 || mod > 18)
            return sqlf_pl_err(
                cc, tn->location, mod > 18 ? "0A000" : "22023",
                "NUMERIC precision %" PRId64 " must be between 1 and 18 here", mod);
        if (scale < 0 || scale > mod)
            return sqlf_pl_err(cc, tn->location, "22023",
                               "NUMERIC scale %" PRId64
                               " must be between 0 and precision %" PRId64,
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
    return sqlf_pl_err(cc, tn->location, "42704", "type \"%s\" does not exist", name);
}

/* ------------------------------------------------------------------ */
/* Column references                                                    */
/* ------------------------------------------------------------------ */

/* A procedure parameter named in its body (a name no table in scope has):
 * sets *out to its value as a constant and returns true. */
static bool
s_proc_param(sqlf_pl_cc_t *cc, const char *name, sqlf_pl_ex_t *out)
{
    for (uint32_t k = 0; cc->pnames && k < cc->nparams; k++) {
        if (cc->pnames[k][0] && strcmp(cc->pnames[k], name) == 0) {
            const hb_val_t *v = &cc->params[k];
            *out = sqlf_pl_mk_const(cc, v,
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

/* Over the group row only grouped columns are visible: the reference to
 * input column col (of type ty, named qual.name) is to the group row's
 * column of the GROUP BY expression that is that plain column. */
static hb_rc_t
s_group_col(sqlf_pl_cc_t *cc, uint64_t col, hb_type_t ty, const char *qual,
            const char *name, int32_t loc, sqlf_pl_ex_t *out)
{
    for (uint32_t k = 0; k < cc->st->ngroup; k++) {
        hb_mp_reader_t r;
        uint32_t n;
        uint64_t op, c;
        hb_mp_reader_init(&r, cc->st->group[k].p, cc->st->group[k].len);
        if (hb_mp_read_array(&r, &n) == HB_OK && n == 2 &&
            hb_mp_read_uint(&r, &op) == HB_OK && op == HB_EX_COL &&
            hb_mp_read_uint(&r, &c) == HB_OK && c == col) {
            *out = sqlf_pl_mk_col(cc, k, ty);
            return HB_OK;
        }
    }
    return sqlf_pl_err(
        cc, loc, "42803",
        "column \"%s.%s\" must appear in the GROUP BY clause or be used in an "
        "aggregate function",
        qual, name);
}

/* A column reference in a join: qual.name or a name exactly one table of
 * the scope has; its column is its table's offset plus its index. */
static hb_rc_t
s_join_column(sqlf_pl_cc_t *cc, const PgQuery__ColumnRef *cr, const char *qual,
              const char *name, sqlf_pl_ex_t *out)
{
    int tab = -1, c = -1;
    for (uint32_t k = 0; k < cc->nscope; k++) {
        if (qual && strcmp(qual, cc->salias[k]) != 0)
            continue;
        int ck = sqlf_table_col(cc->scope[k], name);
        if (ck < 0)
            continue;
        if (tab >= 0)
            return sqlf_pl_err(cc, cr->location, "42702",
                               "column reference \"%s\" is ambiguous", name);
        tab = (int)k;
        c = ck;
    }
    if (tab < 0 && !qual && s_proc_param(cc, name, out))
        return HB_OK;
    if (tab < 0) {
        for (uint32_t k = 0; qual && k < cc->nscope; k++)
            if (strcmp(qual, cc->salias[k]) == 0)
                return sqlf_pl_err(cc, cr->location, "42703",
                                   "column %s.%s does not exist", qual, name);
        if (qual)
            return sqlf_pl_err(cc, cr->location, "42P01",
                               "missing FROM-clause entry for table \"%s\"", qual);
        return sqlf_pl_err(cc, cr->location, "42703", "column \"%s\" does not exist",
                           name);
    }
    uint32_t g = cc->soff[tab] + (uint32_t)c;
    hb_type_t ty = cc->scope[tab]->cols[c].type;
    if (cc->agg_mode && !cc->in_agg)
        return s_group_col(cc, g, ty, cc->salias[tab], name, cr->location, out);
    *out = sqlf_pl_mk_col(cc, g, ty);
    out->tab = tab;
    out->maxtab = tab;
    return HB_OK;
}

hb_rc_t
sqlf_pl_column(sqlf_pl_cc_t *cc, const PgQuery__ColumnRef *cr, sqlf_pl_ex_t *out)
{
    const char *qual = NULL, *name = NULL;
    if (cr->n_fields == 1) {
        name = sqlf_pl_str(cr->fields[0]);
    } else if (cr->n_fields == 2) {
        qual = sqlf_pl_str(cr->fields[0]);
        name = sqlf_pl_str(cr->fields[1]);
    }
    if (!name)
        return sqlf_pl_err(cc, cr->location, "0A000",
                           "this column reference is not supported");
    if (cc->nscope)
        return s_join_column(cc, cr, qual, name, out);
    bool excl = false;
    if (qual) {
        if (cc->excluded && strcmp(qual, "excluded") == 0)
            excl = true;
        else if (!cc->t || strcmp(qual, cc->alias) != 0)
            return sqlf_pl_err(cc, cr->location, "42P01",
                               "missing FROM-clause entry for table \"%s\"", qual);
    }
    int c = cc->t ? sqlf_table_col(cc->t, name) : -1;
    if (c < 0 && !qual && s_proc_param(cc, name, out))
        return HB_OK;
    if (c < 0)
        return sqlf_pl_err(cc, cr->location, "42703", "column \"%s\" does not exist",
                           name);
    if (cc->agg_mode && !cc->in_agg)
        return s_group_col(cc, (uint64_t)c, cc->t->cols[c].type, cc->alias, name,
                           cr->location, out);
    /* EXCLUDED.c: the proposed row's columns follow the existing row's. */
    *out =
        sqlf_pl_mk_col(cc, (uint32_t)c + (excl ? cc->t->ncols : 0), cc->t->cols[c].type);
    if (excl)
        out->col = -1;
    return HB_OK;
}
