/* hb_expr.h — SQL values, column types and the expression bytecode that
 * sqlfront compiles and storage evaluates (docs/architecture.md section 6, "Plans").
 *
 * An expression is a msgpack tree, [op, operands...], built by sqlfront
 * with the hb_expr_* packers and evaluated over a row by hb_expr_eval on
 * both sides: sqlfront for snapshot reads, storage inside a transaction
 * (an UPDATE's SET and WHERE, re-checked on the locked row). Evaluation
 * reads the bytes directly (no decode step) and is a pure function of
 * (expression, row, params already folded in): no clock, no locale, no
 * hash order. Text compares bytewise (the "C" collation).
 *
 * Values are hb_val_t: SQL NULL is HB_VAL_NIL; every integer type is
 * HB_VAL_INT, real and double precision HB_VAL_DOUBLE, text types
 * HB_VAL_STR, bytea HB_VAL_BIN, numeric HB_VAL_DEC (exact: a 64-bit
 * mantissa and a scale, so at most 18 digits), date and timestamp
 * HB_VAL_INT in PostgreSQL's units (days / microseconds since 2000-01-01;
 * hb_date_format / hb_timestamp_format print them). Errors carry a
 * PostgreSQL SQLSTATE.
 *
 * Rows are stored as msgpack arrays of column values (hb_row_*).
 */
#ifndef HB_EXPR_H
#define HB_EXPR_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hb_rc.h"
#include "hb_val.h"

/* Column types. The numbers are stored in the catalog: append only. */
typedef enum {
    HB_T_UNKNOWN = 0, /* an untyped literal or NULL */
    HB_T_INT2 = 1,
    HB_T_INT4 = 2,
    HB_T_INT8 = 3,
    HB_T_BOOL = 4,
    HB_T_FLOAT4 = 5,
    HB_T_FLOAT8 = 6,
    HB_T_TEXT = 7,
    HB_T_VARCHAR = 8, /* typmod: maximum characters, 0 = unbounded */
    HB_T_CHAR = 9,    /* typmod: exact characters (blank-padded) */
    HB_T_BYTEA = 10,
    HB_T_NUMERIC = 11,   /* typmod: precision << 16 | scale; 0 = unconstrained */
    HB_T_DATE = 12,      /* stored as int days since 2000-01-01 */
    HB_T_TIMESTAMP = 13, /* stored as int microseconds since 2000-01-01 00:00 */
    HB_T_COUNT_
} hb_type_t;

/* Returns the PostgreSQL name of a type ("integer", "text" ...). Static. */
const char *hb_type_name(hb_type_t t);

/* An error with its SQLSTATE. */
typedef struct {
    char sqlstate[6]; /* "22012" ... ; "" when no error */
    char msg[240];    /* human-readable text */
} hb_sqlerr_t;

/* Sets err (sqlstate: 5 chars) and returns HB_INVALID. */
hb_rc_t hb_sqlerr_set(hb_sqlerr_t *err, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Expression opcodes (on the wire: append only). */
typedef enum {
    HB_EX_CONST = 0, /* [0, value] */
    HB_EX_COL = 1,   /* [1, column index] */
    HB_EX_ADD = 2,   /* [op, a, b] for the binary operators 2..16 */
    HB_EX_SUB = 3,
    HB_EX_MUL = 4,
    HB_EX_DIV = 5,
    HB_EX_MOD = 6,
    HB_EX_EQ = 7,
    HB_EX_NE = 8,
    HB_EX_LT = 9,
    HB_EX_LE = 10,
    HB_EX_GT = 11,
    HB_EX_GE = 12,
    HB_EX_AND = 13,
    HB_EX_OR = 14,
    HB_EX_CONCAT = 15,
    HB_EX_LIKE = 16, /* [op, a, pattern] */
    HB_EX_NOT = 17,  /* [op, a] for 17..20 */
    HB_EX_NEG = 18,
    HB_EX_ISNULL = 19,
    HB_EX_NOTNULL = 20,
    HB_EX_IN = 21,       /* [op, a, n, b1 .. bn] */
    HB_EX_CASE = 22,     /* [op, n, c1, v1 .. cn, vn, else] */
    HB_EX_COALESCE = 23, /* [op, n, a1 .. an] */
    HB_EX_CAST = 24,     /* [op, a, type, typmod] */
    HB_EX_FUNC = 25,     /* [op, hb_func_t, n, a1 .. an] */
    HB_EX_NOW = 26,      /* [op]: env->now_us (the transaction's timestamp) */
    HB_EX_OP_COUNT_
} hb_ex_op_t;

/* Scalar functions of HB_EX_FUNC (append only). */
typedef enum {
    HB_FN_LOWER = 0,
    HB_FN_UPPER = 1,
    HB_FN_LENGTH = 2,
    HB_FN_ABS = 3,
    HB_FN_SUBSTR = 4,   /* substr(s, from [, count]) */
    HB_FN_DATE_OUT = 5, /* date (int days) -> text */
    HB_FN_TS_OUT = 6,   /* timestamp (int us) -> text */
    HB_FN_TS_DATE = 7,  /* timestamp -> date */
    HB_FN_COUNT_
} hb_func_t;

/* Packers: append one node to pk. Operands follow as further nodes. */
void hb_expr_pack_const(msgpack_packer *pk, const hb_val_t *v);
void hb_expr_pack_col(msgpack_packer *pk, uint32_t col);
/* Opens [op, ...] with nfields elements in total, op included. */
void hb_expr_pack_op(msgpack_packer *pk, hb_ex_op_t op, uint32_t nfields);

/* What an evaluation may use. */
typedef struct {
    const hb_val_t *row; /* the current row's columns (may be NULL if ncols 0) */
    uint32_t ncols;      /* columns in row */
    /* Memory for strings the expression makes (||, lower ...), valid as long
     * as the caller needs the result. */
    void *(*alloc)(void *arg, size_t size);
    void *alloc_arg;
    hb_sqlerr_t *err; /* set on failure */
    int64_t now_us;   /* CURRENT_TIMESTAMP, microseconds since 2000-01-01: in
                       * storage the sequencer's stamp of the transaction */
} hb_expr_env_t;

/* Microseconds between the Unix epoch and 2000-01-01 (PostgreSQL's). */
#define HB_PG_EPOCH_US 946684800000000LL

/* Evaluates the expression at expr (len bytes) over env. Returns HB_OK and
 * *out (strings borrow from the expression, the row or env->alloc memory),
 * or HB_INVALID with env->err set (22012 division by zero, 22003 overflow,
 * 42883 operator does not exist for these types, 22P02 bad cast input, XX000
 * malformed bytecode ...). Never crashes on malformed bytes. */
hb_rc_t hb_expr_eval(const uint8_t *expr, size_t len, hb_expr_env_t *env, hb_val_t *out);

/* Applies a binary arithmetic operator (HB_EX_ADD .. HB_EX_MOD) to two
 * non-NULL numbers, with the evaluator's rules. Returns HB_OK and *out, or
 * HB_INVALID with err set (22003, 22012, 42883). */
hb_rc_t hb_val_arith(hb_ex_op_t op, const hb_val_t *a, const hb_val_t *b, hb_val_t *out,
                     hb_sqlerr_t *err);

/* Evaluates a predicate: *result is true only for a TRUE value (NULL and
 * FALSE are false, as in WHERE). A non-boolean gives 42804. */
hb_rc_t hb_expr_test(const uint8_t *expr, size_t len, hb_expr_env_t *env, bool *result);

/* Compares two non-NULL values for ORDER BY / GROUP BY / min / max:
 * returns <0, 0, >0. Numbers compare numerically across int and double,
 * strings and bytes bytewise; values of unrelated types order by type. */
int hb_val_cmp(const hb_val_t *a, const hb_val_t *b);

/* Converts v to column type t (typmod as in hb_type_t) for storing: range
 * checks integers (22003), parses text input for numbers and booleans
 * (22P02), checks varchar/char lengths (22001), pads char(n). NULL stays
 * NULL. alloc/arg provide memory for converted strings. Returns HB_OK and
 * *out, or HB_INVALID with err set. */
hb_rc_t hb_val_coerce(const hb_val_t *v, hb_type_t t, int32_t typmod,
                      void *(*alloc)(void *arg, size_t size), void *arg, hb_val_t *out,
                      hb_sqlerr_t *err);

/* Decodes a stored row (msgpack array of scalars) into cols (at most cap).
 * Strings borrow from val. Returns HB_OK and *n, or HB_CORRUPT. */
hb_rc_t hb_row_decode(const uint8_t *val, size_t len, hb_val_t *cols, uint32_t cap,
                      uint32_t *n);
/* Appends a row (msgpack array of n values) to pk. Returns HB_OK, or
 * HB_INVALID when a value cannot be encoded (the bytes are then not a
 * valid row: the caller must discard them). */
hb_rc_t hb_row_pack(msgpack_packer *pk, const hb_val_t *cols, uint32_t n);

/* Formats days since 2000-01-01 as YYYY-MM-DD into out (cap >= 16). */
size_t hb_date_format(int64_t days, char *out, size_t cap);
/* Formats microseconds since 2000-01-01 as YYYY-MM-DD HH:MM:SS[.ffffff]. */
size_t hb_timestamp_format(int64_t us, char *out, size_t cap);
/* Formats v as text for a value of column type t (dates and timestamps as
 * such, everything else as hb_val_format). */
size_t hb_val_format_as(const hb_val_t *v, hb_type_t t, char *out, size_t cap);

/* Formats v as PostgreSQL text output into out (cap bytes, NUL-terminated,
 * truncated if need be): integers in decimal, doubles with the shortest
 * round-trip digits, booleans t/f, bytea as \x hex. NULL gives "". Returns
 * the length written. */
size_t hb_val_format(const hb_val_t *v, char *out, size_t cap);

/* Powers of ten, 10^0 .. 10^18: the scales of HB_VAL_DEC. */
extern const int64_t hb_pow10[19];

#endif
