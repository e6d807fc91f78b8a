/* select.c — computing a SELECT's result from the rows read.
 *
 * A read (snapread.c at a snapshot, blockread.c inside a block, or
 * sqlf_series_read for generate_series) hands each row to sqlf_sel_row,
 * which evaluates the output expressions, or with aggregates finds the
 * row's GROUP BY group and accumulates (count, sum, avg, min, max, and
 * DISTINCT). sqlf_sel_groups turns groups into rows (HAVING filters),
 * sqlf_sel_finish sorts (ORDER BY, NULLS FIRST/LAST, ties in read order)
 * and cuts the OFFSET/LIMIT window, sqlf_sel_group appends the result
 * group to the reply. sqlf_run_select does all of it at a snapshot.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front_int.h"
#include "hb_alloc.h"

/* ------------------------------------------------------------------ */
/* Rows and groups                                                      */
/* ------------------------------------------------------------------ */

/* One aggregate's running state. */
typedef struct {
    int64_t count;  /* rows counted (non-NULL args) */
    hb_val_t sum;   /* running sum (NIL: none yet) */
    hb_val_t best;  /* min / max so far (NIL: none) */
    hb_val_t *seen; /* count(DISTINCT): the values met (arena) */
    uint32_t nseen, capseen;
} s_acc_t;

/* One GROUP BY group. */
struct sqlf_selgroup {
    hb_val_t *key; /* ngroup values (arena) */
    s_acc_t *acc;  /* naggs accumulators */
};

static hb_rc_t
s_sel_emit(sqlf_sel_t *s, const hb_val_t *in, uint32_t nin)
{
    const sqlf_stmt_t *st = s->st;
    uint32_t w = st->nout + st->nhidden;
    if (s->nrows >= SQLF_MAX_ROWS)
        return hb_sqlerr_set(s->err, "54000", "result has more than %d rows",
                             SQLF_MAX_ROWS);
    hb_val_t *out = hb_arena_alloc(s->arena, (w ? w : 1) * sizeof *out);
    hb_expr_env_t env = {.row = in,
                         .ncols = nin,
                         .alloc = hb_arena_alloc,
                         .alloc_arg = s->arena,
                         .err = s->err};
    for (uint32_t i = 0; i < w; i++) {
        if (hb_expr_eval(st->out[i].p, st->out[i].len, &env, &out[i]) != HB_OK)
            return HB_INVALID;
        out[i] = sqlf_keep(s->arena, out[i]);
    }
    HB_GROW(s->rows, s->caprows, s->nrows + 1, 64);
    s->rows[s->nrows++] = out;
    return HB_OK;
}

static bool
s_vals_equal(const hb_val_t *a, const hb_val_t *b)
{
    if (a->type == HB_VAL_NIL || b->type == HB_VAL_NIL)
        return a->type == b->type; /* GROUP BY puts NULLs together */
    return a->type == b->type && hb_val_cmp(a, b) == 0;
}

static hb_rc_t
s_accumulate(sqlf_sel_t *s, s_acc_t *acc, const sqlf_agg_t *agg, const hb_val_t *in,
             uint32_t nin)
{
    if (agg->kind == SQLF_AGG_COUNT_STAR) {
        acc->count++;
        return HB_OK;
    }
    hb_val_t v;
    hb_expr_env_t env = {.row = in,
                         .ncols = nin,
                         .alloc = hb_arena_alloc,
                         .alloc_arg = s->arena,
                         .err = s->err};
    if (hb_expr_eval(agg->arg.p, agg->arg.len, &env, &v) != HB_OK)
        return HB_INVALID;
    if (v.type == HB_VAL_NIL)
        return HB_OK;
    if (agg->distinct) {
        for (uint32_t i = 0; i < acc->nseen; i++)
            if (acc->seen[i].type == v.type && hb_val_cmp(&acc->seen[i], &v) == 0)
                return HB_OK;
        if (acc->nseen == acc->capseen) {
            uint32_t cap = acc->capseen ? acc->capseen * 2 : 16;
            hb_val_t *n = hb_arena_alloc(s->arena, cap * sizeof *n);
            if (acc->nseen)
                memcpy(n, acc->seen, acc->nseen * sizeof *n);
            acc->seen = n;
            acc->capseen = cap;
        }
        acc->seen[acc->nseen++] = sqlf_keep(s->arena, v);
    }
    acc->count++;
    switch (agg->kind) {
    case SQLF_AGG_SUM:
    case SQLF_AGG_AVG:
        if (v.type != HB_VAL_INT && v.type != HB_VAL_DOUBLE && v.type != HB_VAL_DEC)
            return hb_sqlerr_set(s->err, "42883", "cannot sum a non-number");
        if (acc->sum.type == HB_VAL_NIL)
            acc->sum = v;
        else if (hb_val_arith(HB_EX_ADD, &acc->sum, &v, &acc->sum, s->err) != HB_OK)
            return HB_INVALID;
        break;
    case SQLF_AGG_MIN:
    case SQLF_AGG_MAX: {
        int c = acc->best.type == HB_VAL_NIL ? 0 : hb_val_cmp(&v, &acc->best);
        if (acc->best.type == HB_VAL_NIL || (agg->kind == SQLF_AGG_MIN ? c < 0 : c > 0))
            acc->best = sqlf_keep(s->arena, v);
        break;
    }
    default:
        break;
    }
    return HB_OK;
}

hb_rc_t
sqlf_sel_row(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *raw,
             uint32_t rawlen, const hb_val_t *row, uint32_t ncols)
{
    (void)key;
    (void)klen;
    (void)raw;
    (void)rawlen;
    sqlf_sel_t *s = arg;
    const sqlf_stmt_t *st = s->st;
    if (!st->agg)
        return s_sel_emit(s, row, ncols);
    hb_val_t gk[SQLF_MAX_GROUP];
    uint32_t ng = st->ngroup; /* <= SQLF_MAX_GROUP: the planner says so */
    hb_expr_env_t env = {.row = row,
                         .ncols = ncols,
                         .alloc = hb_arena_alloc,
                         .alloc_arg = s->arena,
                         .err = s->err};
    for (uint32_t g = 0; g < ng; g++)
        if (hb_expr_eval(st->group[g].p, st->group[g].len, &env, &gk[g]) != HB_OK)
            return HB_INVALID;
    sqlf_selgroup_t *grp = NULL;
    for (uint32_t i = 0; i < s->ngroups && !grp; i++) {
        bool eq = true;
        for (uint32_t g = 0; g < ng && eq; g++)
            eq = s_vals_equal(&s->groups[i].key[g], &gk[g]);
        if (eq)
            grp = &s->groups[i];
    }
    if (!grp) {
        if (s->ngroups >= SQLF_MAX_ROWS)
            return hb_sqlerr_set(s->err, "54000", "too many groups");
        HB_GROW(s->groups, s->capgroups, s->ngroups + 1, 16);
        grp = &s->groups[s->ngroups++];
        grp->key = hb_arena_alloc(s->arena, (ng ? ng : 1) * sizeof *grp->key);
        for (uint32_t g = 0; g < ng; g++)
            grp->key[g] = sqlf_keep(s->arena, gk[g]);
        grp->acc =
            hb_arena_alloc(s->arena, (st->naggs ? st->naggs : 1) * sizeof *grp->acc);
        memset(grp->acc, 0, (st->naggs ? st->naggs : 1) * sizeof *grp->acc);
    }
    for (uint32_t a = 0; a < st->naggs; a++)
        if (s_accumulate(s, &grp->acc[a], &st->aggs[a], row, ncols) != HB_OK)
            return HB_INVALID;
    return HB_OK;
}

hb_rc_t
sqlf_sel_groups(sqlf_sel_t *s)
{
    const sqlf_stmt_t *st = s->st;
    if (s->ngroups == 0 && st->ngroup == 0) {
        /* An aggregate over no rows still gives one row. */
        s->groups = hb_calloc(1, sizeof *s->groups);
        s->capgroups = 1;
        s->ngroups = 1;
        s->groups[0].key = NULL;
        s->groups[0].acc =
            hb_arena_alloc(s->arena, (st->naggs ? st->naggs : 1) * sizeof(s_acc_t));
        memset(s->groups[0].acc, 0, (st->naggs ? st->naggs : 1) * sizeof(s_acc_t));
    }
    uint32_t w = st->ngroup + st->naggs;
    hb_val_t *grow = hb_malloc((w ? w : 1) * sizeof *grow);
    hb_rc_t rc = HB_OK;
    for (uint32_t i = 0; i < s->ngroups && rc == HB_OK; i++) {
        sqlf_selgroup_t *g = &s->groups[i];
        for (uint32_t k = 0; k < st->ngroup; k++)
            grow[k] = g->key[k];
        for (uint32_t a = 0; a < st->naggs; a++) {
            const s_acc_t *acc = &g->acc[a];
            hb_val_t v = hb_val_nil();
            switch (st->aggs[a].kind) {
            case SQLF_AGG_COUNT_STAR:
            case SQLF_AGG_COUNT:
                v = hb_val_int(acc->count);
                break;
            case SQLF_AGG_SUM:
                v = acc->sum;
                break;
            case SQLF_AGG_AVG:
                if (acc->count) {
                    /* Exact for integers and numerics, as in PostgreSQL. */
                    hb_val_t sum = acc->sum.type == HB_VAL_INT
                                       ? hb_val_dec(acc->sum.u.i, 0)
                                       : acc->sum;
                    hb_val_t cnt = hb_val_int(acc->count);
                    if (hb_val_arith(HB_EX_DIV, &sum, &cnt, &v, s->err) != HB_OK) {
                        rc = HB_INVALID;
                        break;
                    }
                }
                break;
            case SQLF_AGG_MIN:
            case SQLF_AGG_MAX:
                v = acc->best;
                break;
            }
            grow[st->ngroup + a] = v;
        }
        if (rc)
            break;
        if (st->having.p) {
            bool pass;
            hb_expr_env_t env = {.row = grow,
                                 .ncols = w,
                                 .alloc = hb_arena_alloc,
                                 .alloc_arg = s->arena,
                                 .err = s->err};
            if ((rc = hb_expr_test(st->having.p, st->having.len, &env, &pass)) != HB_OK)
                break;
            if (!pass)
                continue;
        }
        rc = s_sel_emit(s, grow, w);
    }
    hb_free(grow);
    return rc;
}

/* ------------------------------------------------------------------ */
/* ORDER BY, OFFSET, LIMIT                                              */
/* ------------------------------------------------------------------ */

/* A row to sort: its values and its read position (ties keep read
 * order, so results never depend on addresses). */
typedef struct {
    hb_val_t *row;
    uint32_t idx;
} s_sortrow_t;

static int
s_row_cmp(const void *pa, const void *pb, void *arg)
{
    const sqlf_stmt_t *st = arg;
    const s_sortrow_t *ra = pa, *rb = pb;
    const hb_val_t *a = ra->row, *b = rb->row;
    for (uint32_t i = 0; i < st->nsort; i++) {
        const sqlf_sort_t *so = &st->sort[i];
        const hb_val_t *x = &a[so->col], *y = &b[so->col];
        int c;
        bool xn = x->type == HB_VAL_NIL, yn = y->type == HB_VAL_NIL;
        if (xn || yn) {
            if (xn && yn)
                continue;
            c = xn ? 1 : -1; /* NULL is larger; NULLS FIRST flips */
            if (so->nulls_first)
                c = -c;
            return c;
        }
        c = hb_val_cmp(x, y);
        if (c)
            return so->desc ? -c : c;
    }
    return ra->idx < rb->idx ? -1 : ra->idx > rb->idx;
}

/* Orders s's rows (ORDER BY) and returns the OFFSET/LIMIT window. */
void
sqlf_sel_finish(sqlf_sel_t *s, const sqlf_stmt_t *st, uint64_t *from_out,
                uint64_t *to_out)
{
    if (st->nsort && s->nrows > 1) {
        s_sortrow_t *v = hb_malloc(s->nrows * sizeof *v);
        for (uint32_t i = 0; i < s->nrows; i++)
            v[i] = (s_sortrow_t){s->rows[i], i};
        qsort_r(v, s->nrows, sizeof *v, s_row_cmp, (void *)st);
        for (uint32_t i = 0; i < s->nrows; i++)
            s->rows[i] = v[i].row;
        hb_free(v);
    }
    uint64_t from = (uint64_t)st->offset, to = s->nrows;
    if (from > to)
        from = to;
    if (st->limit >= 0 && from + (uint64_t)st->limit < to)
        to = from + (uint64_t)st->limit;
    *from_out = from;
    *to_out = to;
}

/* Appends the SELECT's result group. */
void
sqlf_sel_group(sqlf_req_t *r, const sqlf_stmt_t *st, sqlf_sel_t *s, uint64_t epoch)
{
    uint64_t from, to;
    sqlf_sel_finish(s, st, &from, &to);
    char tag[48];
    snprintf(tag, sizeof tag, "%s %" PRIu64, st->tag, to - from);
    sqlf_push_str(r, tag);
    sqlf_push(r, hb_val_int(st->nout));
    for (uint32_t c = 0; c < st->nout; c++) {
        sqlf_push_str(r, st->out_names[c]);
        hb_type_t t = st->out[c].type == HB_T_UNKNOWN ? HB_T_TEXT : st->out[c].type;
        sqlf_push_str(r, hb_type_name(t));
    }
    sqlf_push(r, hb_val_int((int64_t)(to - from)));
    for (uint64_t i = from; i < to; i++)
        for (uint32_t c = 0; c < st->nout; c++)
            sqlf_push_cell(r, s->rows[i][c], st->out[c].type);
    sqlf_push(r, hb_val_int((int64_t)epoch));
    if (epoch)
        r->epoch = epoch;
}

/* ------------------------------------------------------------------ */
/* generate_series and the snapshot SELECT                              */
/* ------------------------------------------------------------------ */

/* Returns the i-th value of src's series. */
int64_t
sqlf_series_val(const sqlf_source_t *src, uint64_t i)
{
    return (int64_t)((uint64_t)src->ser_start + i * (uint64_t)src->ser_step);
}

/* Gives the rows of src's generate_series (one integer column) that pass
 * its filter to fn, in order. */
hb_rc_t
sqlf_series_read(const sqlf_source_t *src, sqlf_row_fn fn, void *arg, hb_sqlerr_t *err)
{
    hb_arena_t *tmp = NULL;
    hb_rc_t rc = HB_OK;
    for (uint64_t i = 0; i < src->ser_count && rc == HB_OK; i++) {
        hb_val_t row = hb_val_int(sqlf_series_val(src, i));
        bool pass = true;
        if (src->where.p) {
            hb_expr_env_t env = {.row = &row,
                                 .ncols = 1,
                                 .alloc = hb_arena_alloc,
                                 .alloc_arg = &tmp,
                                 .err = err};
            rc = hb_expr_test(src->where.p, src->where.len, &env, &pass);
            if ((i & 1023) == 1023)
                hb_arena_free(&tmp);
        }
        if (rc == HB_OK && pass)
            rc = fn(arg, NULL, 0, NULL, 0, &row, 1);
    }
    hb_arena_free(&tmp);
    return rc;
}

/* Runs a SELECT at a snapshot and appends its group. */
hb_rc_t
sqlf_run_select(sqlf_front_t *self, sqlf_req_t *r, sqlf_session_t *sess,
                const sqlf_stmt_t *st, hb_sqlerr_t *err)
{
    sqlf_sel_t s = {.st = st, .arena = &r->arena, .err = err};
    uint64_t epoch = 0;
    hb_rc_t rc;
    if (st->njoin) {
        rc = sqlf_join_read(self, sess, st, &r->arena, sqlf_sel_row, &s, &epoch, err);
    } else if (st->src.series) {
        rc = sqlf_series_read(&st->src, sqlf_sel_row, &s, err);
    } else if (st->src.table) {
        rc = sqlf_read_src(self, sess, &st->src, true, sqlf_sel_row, &s, &epoch, err);
    } else {
        rc = sqlf_sel_row(&s, NULL, 0, NULL, 0, NULL, 0);
    }
    if (rc == HB_OK && st->agg)
        rc = sqlf_sel_groups(&s);
    if (rc == HB_OK)
        sqlf_sel_group(r, st, &s, epoch);
    hb_free(s.rows);
    hb_free(s.groups);
    return rc;
}
