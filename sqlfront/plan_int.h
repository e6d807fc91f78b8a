/* plan_int.h — what the planner's files share (private to sqlfront/plan*.c).
 *
 * The planner (plan.h) is split by concern: plan.c (entry points, the
 * statement dispatch, session statements), plan_name.c (identifiers, types,
 * tables, column references), plan_expr.c (expressions to bytecode),
 * plan_func.c (function calls and aggregates), plan_path.c (keys and access
 * paths), plan_select.c (SELECT), plan_dml.c (INSERT / UPDATE / DELETE and
 * OLLP op templates) and plan_ddl.c (DDL and procedures). They share the
 * compile context of one statement (sqlf_pl_cc_t), the compiled form of an
 * expression (sqlf_pl_ex_t) and the functions declared here; nothing here
 * is for use outside the planner.
 */
#ifndef SQLF_PLAN_INT_H
#define SQLF_PLAN_INT_H

#include "plan.h"

/* One compiled expression: the bytecode of a subtree plus what its parent
 * needs to know. */
typedef struct {
    uint8_t *p; /* bytecode (arena) */
    uint32_t len;
    hb_type_t type; /* inferred type; HB_T_UNKNOWN for untyped literals and NULL */
    bool is_const;  /* a constant: cval */
    hb_val_t cval;
    int col;    /* a plain column reference: its index; else -1 */
    int tab;    /* a plain column reference in a join: its table; else -1 */
    int maxtab; /* the highest join table it reads, -1 for none */
    int param;  /* Describe: a bare $n (n), planned as NULL; else 0 */
} sqlf_pl_ex_t;

/* The compile context of one statement: its inputs, and the scope the
 * expressions being compiled see. */
typedef struct {
    sqlf_stmt_t *st;
    const sqlf_catalog_t *cat;
    const char *sql;
    const hb_val_t *params;
    uint32_t nparams;
    const char (*pnames)[SQLF_NAME_MAX]; /* names of $1..$n (a procedure body), or NULL */
    hb_sqlerr_t *err;
    const sqlf_table_t *t; /* scope table, or NULL */
    const char *alias;     /* name the scope table is referred to by */
    bool excluded;         /* EXCLUDED.c is allowed (ON CONFLICT DO UPDATE) */
    bool agg_mode;         /* compiling over the group row */
    bool in_agg;           /* inside an aggregate's argument */
    bool in_default;       /* a column DEFAULT: CURRENT_TIMESTAMP stays a node */
    /* A join: the tables of FROM, each with its alias and the offset of
     * its columns in the joined row (nscope 0: one table, t). */
    uint32_t nscope;
    const sqlf_table_t *scope[SQLF_MAX_JOIN];
    const char *salias[SQLF_MAX_JOIN];
    uint32_t soff[SQLF_MAX_JOIN];
    int64_t now_us; /* CURRENT_TIMESTAMP of this statement */
    int depth;
    sqlf_rowid_t *rowids;  /* row ids for tables without a key, or NULL */
    sqlf_describe_t *desc; /* Describe: $n have no values; their types go here */
    int32_t coerce_mod;    /* typmod for the next literal made a char(n) (s_binary) */
} sqlf_pl_cc_t;

/* ---- plan.c ---- */

/* Sets cc->err to sqlstate and the message (with " at character N" when
 * loc >= 0, a 0-based offset into the statement). Returns HB_INVALID. */
hb_rc_t sqlf_pl_err(sqlf_pl_cc_t *cc, int32_t loc, const char *sqlstate, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

/* Plans the statement n into cc->st (the dispatch of sqlf_plan; also the
 * SELECT of INSERT ... SELECT). */
hb_rc_t sqlf_pl_stmt(sqlf_pl_cc_t *cc, const PgQuery__Node *n);

/* ---- plan_name.c: names, types, scope ---- */

/* The string of a String node, else NULL. */
const char *sqlf_pl_str(const PgQuery__Node *n);

/* Copies the identifier name into out, checking it (42601 empty, 42622 too
 * long, 42602 control characters). */
hb_rc_t sqlf_pl_name(sqlf_pl_cc_t *cc, const char *name, int32_t loc,
                     char out[SQLF_NAME_MAX]);

/* Resolves a RangeVar to a table of the catalog (3F000, 42P01 if none). */
hb_rc_t sqlf_pl_table(sqlf_pl_cc_t *cc, const PgQuery__RangeVar *rv,
                      const sqlf_table_t **t);

/* Resolves a type name to a type and typmod (42704 if unknown). */
hb_rc_t sqlf_pl_type(sqlf_pl_cc_t *cc, const PgQuery__TypeName *tn, hb_type_t *type,
                     int32_t *typmod);

/* Compiles a column reference against the scope (the table, a join's
 * tables, EXCLUDED, the group row, or a procedure parameter). */
hb_rc_t sqlf_pl_column(sqlf_pl_cc_t *cc, const PgQuery__ColumnRef *cr, sqlf_pl_ex_t *out);

/* ---- plan_expr.c: expressions ---- */

/* Compiles the expression n into *out (constant subtrees folded). */
hb_rc_t sqlf_pl_expr(sqlf_pl_cc_t *cc, const PgQuery__Node *n, sqlf_pl_ex_t *out);

/* Compiles a WHERE clause: a boolean expression (42804 otherwise). */
hb_rc_t sqlf_pl_where(sqlf_pl_cc_t *cc, const PgQuery__Node *where, sqlf_pl_ex_t *out);

/* Converts an untyped constant to type t (plan-time 22P02); other
 * expressions are left alone. Notes t as a Describe parameter's type. */
hb_rc_t sqlf_pl_coerce_const(sqlf_pl_cc_t *cc, sqlf_pl_ex_t *e, hb_type_t t, int32_t loc);

/* Describe: $n (e->param) is used as type t, the first use that says. */
void sqlf_pl_note_param(sqlf_pl_cc_t *cc, const sqlf_pl_ex_t *e, hb_type_t t);

/* Expression builders; the bytes live in cc->st's arena. */
sqlf_pl_ex_t sqlf_pl_finish(sqlf_pl_cc_t *cc, msgpack_sbuffer *sb, hb_type_t type);
sqlf_pl_ex_t sqlf_pl_mk_const(sqlf_pl_cc_t *cc, const hb_val_t *v, hb_type_t type);
sqlf_pl_ex_t sqlf_pl_mk_col(sqlf_pl_cc_t *cc, uint32_t col, hb_type_t type);
hb_rc_t sqlf_pl_mk_op(sqlf_pl_cc_t *cc, hb_ex_op_t op, const int64_t *pre, uint32_t npre,
                      const sqlf_pl_ex_t *kids, uint32_t nkids, hb_type_t type,
                      int32_t loc, sqlf_pl_ex_t *out);

/* The public form of a compiled expression. */
sqlf_expr_t sqlf_pl_pub(const sqlf_pl_ex_t *e);

bool sqlf_pl_is_int(hb_type_t t);
bool sqlf_pl_is_text(hb_type_t t);

/* ---- plan_func.c: function calls ---- */

/* Compiles a function call: a scalar function, now(), or an aggregate
 * (appended to cc->st->aggs). */
hb_rc_t sqlf_pl_funccall(sqlf_pl_cc_t *cc, const PgQuery__FuncCall *f, sqlf_pl_ex_t *out);

/* CURRENT_TIMESTAMP / CURRENT_DATE: a constant, or a node in a DEFAULT. */
hb_rc_t sqlf_pl_now(sqlf_pl_cc_t *cc, bool date, int32_t loc, sqlf_pl_ex_t *out);

/* The last name of a function call, or NULL. */
const char *sqlf_pl_func_name(const PgQuery__FuncCall *f);

/* Whether name is an aggregate function; sets *k. */
bool sqlf_pl_agg_name(const char *name, sqlf_agg_kind_t *k);

/* ---- plan_path.c: keys and access paths ---- */

/* Fills src (for the scope table cc->t) from where's key terms: a point
 * read, a key range on one or every partition, or a secondary index. */
hb_rc_t sqlf_pl_source(sqlf_pl_cc_t *cc, const PgQuery__Node *where, sqlf_source_t *src);

/* Adds the top-level AND terms of n to terms (at most cap). */
void sqlf_pl_and_terms(const PgQuery__Node *n, const PgQuery__Node **terms, uint32_t *nt,
                       uint32_t cap);

/* Whether a secondary index can have a column of type t. */
bool sqlf_pl_indexable(hb_type_t t);

/* ---- plan_select.c ---- */

hb_rc_t sqlf_pl_select(sqlf_pl_cc_t *cc, const PgQuery__SelectStmt *s);

/* Compiles a target list (SELECT or RETURNING) into cc->st->out; *cap is
 * the capacity of out / out_names so far. */
hb_rc_t sqlf_pl_targets(sqlf_pl_cc_t *cc, PgQuery__Node **list, size_t n, uint32_t *cap);

/* ---- plan_dml.c ---- */

hb_rc_t sqlf_pl_insert(sqlf_pl_cc_t *cc, const PgQuery__InsertStmt *ins);
hb_rc_t sqlf_pl_update(sqlf_pl_cc_t *cc, const PgQuery__UpdateStmt *u);
hb_rc_t sqlf_pl_delete(sqlf_pl_cc_t *cc, const PgQuery__DeleteStmt *d);

/* ---- plan_ddl.c ---- */

hb_rc_t sqlf_pl_create_table(sqlf_pl_cc_t *cc, const PgQuery__CreateStmt *cs);
hb_rc_t sqlf_pl_create_index(sqlf_pl_cc_t *cc, const PgQuery__IndexStmt *is);
hb_rc_t sqlf_pl_add_pkey(sqlf_pl_cc_t *cc, const PgQuery__AlterTableStmt *as);
hb_rc_t sqlf_pl_drop(sqlf_pl_cc_t *cc, const PgQuery__DropStmt *d);
hb_rc_t sqlf_pl_truncate(sqlf_pl_cc_t *cc, const PgQuery__TruncateStmt *tr);
hb_rc_t sqlf_pl_create_proc(sqlf_pl_cc_t *cc, const PgQuery__CreateFunctionStmt *cf);
hb_rc_t sqlf_pl_call(sqlf_pl_cc_t *cc, const PgQuery__CallStmt *cs);

#endif
