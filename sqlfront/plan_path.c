/* plan_path.c — access paths: which keys a statement reads or writes.
 *
 * Primary-key lookups come from the WHERE clause's top-level AND terms of
 * the form `pkcol = constant`: all key columns bound gives a point read or
 * write on one partition; a bound prefix that covers the partition key
 * gives a range on one partition; anything else reads the table's range on
 * every partition and filters. A ready secondary index whose leading
 * columns the terms bind further than the key's prefix serves the read
 * instead (its entries give the row keys).
 *
 * Also the key layouts front.c needs at run time: an index entry's key
 * (sqlf_index_key) and the partition-key prefix of a row key
 * (sqlf_table_plen).
 *
 * Entry points: sqlf_pl_source, sqlf_pl_and_terms, sqlf_pl_indexable
 * (plan_int.h); sqlf_index_key, sqlf_table_plen (plan.h).
 */
#include <string.h>

#include "plan_int.h"

/* ------------------------------------------------------------------ */
/* Keys                                                                 */
/* ------------------------------------------------------------------ */

/* Appends a primary-key column value to k. */
static hb_rc_t
s_key_put(sqlf_pl_cc_t *cc, hb_key_t *k, const sqlf_col_t *col, const hb_val_t *v)
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
        return sqlf_pl_err(cc, -1, "23502",
                           "null value in column \"%s\" violates not-null "
                           "constraint",
                           col->name);
    default:
        return sqlf_pl_err(cc, -1, "0A000", "primary keys of type %s are not supported",
                           hb_type_name(col->type));
    }
    if (k->overflow)
        return sqlf_pl_err(cc, -1, "54000", "primary key is too long");
    return HB_OK;
}

/* Collects `column = constant` terms of the top-level AND of where into
 * vals / bound, indexed by table column. */
static hb_rc_t
s_col_terms(sqlf_pl_cc_t *cc, const PgQuery__Node *w, hb_val_t *vals, bool *bound)
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
        !sqlf_pl_str(w->a_expr->name[0]) ||
        strcmp(sqlf_pl_str(w->a_expr->name[0]), "=") != 0 || !w->a_expr->lexpr)
        return HB_OK;
    sqlf_pl_ex_t l, r;
    hb_rc_t rc;
    if ((rc = sqlf_pl_expr(cc, w->a_expr->lexpr, &l)) ||
        (rc = sqlf_pl_expr(cc, w->a_expr->rexpr, &r)))
        return rc;
    sqlf_pl_ex_t *col = l.col >= 0 && r.is_const   ? &l
                        : r.col >= 0 && l.is_const ? &r
                                                   : NULL;
    sqlf_pl_ex_t *val = col == &l ? &r : &l;
    if (!col || (uint32_t)col->col >= cc->t->ncols)
        return HB_OK;
    const sqlf_col_t *c = &cc->t->cols[col->col];
    hb_val_t v;
    if (val->cval.type == HB_VAL_NIL)
        return HB_OK; /* `k = NULL` matches nothing; the filter says so */
    if (hb_val_coerce(&val->cval, c->type, c->typmod, sqlf_stmt_alloc, cc->st, &v,
                      cc->err) != HB_OK) {
        if (strcmp(cc->err->sqlstate, "22003") != 0 &&
            strcmp(cc->err->sqlstate, "22001") != 0)
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
    if (v.type == HB_VAL_INT &&
        (val->cval.type == HB_VAL_DOUBLE || val->cval.type == HB_VAL_DEC) &&
        (hb_val_coerce(&v, HB_T_NUMERIC, 0, sqlf_stmt_alloc, cc->st, &back, &ignore) !=
             HB_OK ||
         hb_val_cmp(&back, &val->cval) != 0))
        return HB_OK;
    vals[col->col] = v;
    bound[col->col] = true;
    return HB_OK;
}

/* Appends the 9-byte bound above every key that starts with k. */
static hb_rc_t
s_range_end(sqlf_pl_cc_t *cc, const hb_key_t *k, hb_key_t *end)
{
    /* Every key with this prefix sorts before prefix + 0xFF x 9: an encoded
     * column never starts with 9 bytes of 0xFF (integers are 8 bytes, and
     * strings of 0xFF bytes are the one exception, left as a known gap). */
    if (k->len + 9 > HB_KEY_MAX)
        return sqlf_pl_err(cc, -1, "54000", "key prefix is too long");
    *end = *k;
    for (int i = 0; i < 9; i++)
        end->buf[end->len++] = 0xFF;
    return HB_OK;
}

bool
sqlf_pl_indexable(hb_type_t t)
{
    return sqlf_pl_is_int(t) || sqlf_pl_is_text(t) || t == HB_T_BOOL || t == HB_T_BYTEA ||
           t == HB_T_DATE || t == HB_T_TIMESTAMP;
}

/* Adds the top-level AND terms of n to terms. */
void
sqlf_pl_and_terms(const PgQuery__Node *n, const PgQuery__Node **terms, uint32_t *nt,
                  uint32_t cap)
{
    if (n && n->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
        n->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
        for (size_t i = 0; i < n->bool_expr->n_args; i++)
            sqlf_pl_and_terms(n->bool_expr->args[i], terms, nt, cap);
    } else if (n && *nt < cap) {
        terms[(*nt)++] = n;
    }
}

/* ------------------------------------------------------------------ */
/* Access paths                                                         */
/* ------------------------------------------------------------------ */

/* Fills src's range from where's key terms, and an index range when a
 * ready index's leading columns bind more than the primary key's bound
 * prefix does (with a prefix bound, src's range is that prefix's). */
hb_rc_t
sqlf_pl_source(sqlf_pl_cc_t *cc, const PgQuery__Node *where, sqlf_source_t *src)
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
                return sqlf_pl_err(cc, -1, "54000", "index key is too long");
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
        sqlf_pl_and_terms(where, terms, &nt, SQLF_MAX_PK + 1);
        src->key_only = nt == t->npk;
    } else if ((rc = s_range_end(cc, &k, &src->end)))
        return rc;
    if (prefix >= t->npart)
        src->partition = 0; /* front.c computes it from plen */
    return HB_OK;
}

/* ------------------------------------------------------------------ */
/* Key layouts                                                          */
/* ------------------------------------------------------------------ */

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

uint32_t
sqlf_table_plen(const sqlf_table_t *t, const uint8_t *key, size_t klen)
{
    const uint8_t *p = key + 4, *end = key + klen;
    for (uint32_t i = 0; i < t->npart && p < end; i++) {
        const sqlf_col_t *c = &t->cols[t->pk[i]];
        if (c->type == HB_T_BOOL) {
            p += 1;
        } else if (sqlf_pl_is_int(c->type) || c->type == HB_T_DATE ||
                   c->type == HB_T_TIMESTAMP) {
            p += 8;
        } else {
            while (p + 1 < end && !(p[0] == 0 && p[1] == 1))
                p += p[0] == 0 ? 2 : 1;
            p += 2;
        }
    }
    return (uint32_t)(p > end ? klen : (size_t)(p - key));
}
