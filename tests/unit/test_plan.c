/* test_plan.c — unit tests of the SQL planner (sqlfront/plan.h): for a
 * catalog and a statement, the access path, the keys, the lock set and the
 * ops the plan holds, and the SQLSTATE of what it refuses.
 *
 * The catalog is the real one (sqlfront/catalog.c), loaded with
 * sqlf_catalog_load_rows from an in-memory copy of the catalog table's rows
 * (what a scan of partition 0 returns to sqlf_catalog_load). The copy is
 * built the way the cluster builds it — each table record is the
 * definition a planned CREATE TABLE / CREATE INDEX produced — so the tests
 * read like a session: DDL, then statements.
 *
 * Plans are checked by what they do, not by their bytes where that can be
 * helped: keys against hb_key encodings of the values, partitions against
 * hb_key_partition, expressions (filters, outputs, join bindings) by
 * evaluating them over sample rows with hb_expr, write ops by applying
 * them with hb_sqlop_apply (the storage's semantics), and the lock set by
 * deriving it from the ops with the sql.exec lock planner the sequencer
 * runs (hb_proc_plan).
 *
 * Schema of every case:
 *   accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance int
 *             DEFAULT 0), index accounts_owner (owner)
 *   orders   (w int, d int, o int, c bigint, amount numeric(10,2),
 *             note varchar(10), PRIMARY KEY (w, d, o)) PARTITION BY HASH (w),
 *             index orders_c (w, d, c)
 *   logs     (msg text): no primary key (a hidden row id)
 */
#include <check.h>

#include "../hb_test.h"
#include <inttypes.h>
#include <msgpack.h>
#include <pg_query.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "hb_alloc.h"
#include "hb_expr.h"
#include "hb_key.h"
#include "hb_mp.h"
#include "hb_proc.h"
#include "hb_sqlop.h"
#include "hobbes.h"
#include "plan.h"

#define S_NPARTS 4
#define S_NOW    700000000000000LL /* 2022-03-07, us since 2000 */

/* ------------------------------------------------------------------ */
/* The catalog table, in memory                                         */
/* ------------------------------------------------------------------ */

#define S_MAX_RECS 16
typedef struct {
    char name[SQLF_NAME_MAX];
    uint32_t id;
    uint8_t *def; /* packed definition (hb_malloc) */
    size_t len;
} s_rec_t;

static s_rec_t s_recs[S_MAX_RECS];
static uint32_t s_nrecs;
static int64_t s_version;
static uint32_t s_next_id;
static sqlf_catalog_t *s_cat;

/* Loads the catalog from the records, as a scan of the catalog table
 * would return them: row 0 is the version record (name ""): [version,
 * next id]; then [id, definition] per table. */
static void
s_reload(void)
{
    s_version++;
    hb_scan_row_t rows[S_MAX_RECS + 1];
    msgpack_sbuffer vals[S_MAX_RECS + 1];
    hb_key_t keys[S_MAX_RECS + 1];
    for (uint32_t i = 0; i <= s_nrecs; i++) {
        msgpack_packer pk;
        msgpack_sbuffer_init(&vals[i]);
        msgpack_packer_init(&pk, &vals[i], msgpack_sbuffer_write);
        msgpack_pack_array(&pk, 2);
        const char *name = i ? s_recs[i - 1].name : "";
        hb_key_catalog(&keys[i], 0, name, strlen(name));
        if (i == 0) {
            msgpack_pack_int64(&pk, s_version);
            msgpack_pack_uint32(&pk, s_next_id);
        } else {
            msgpack_pack_uint32(&pk, s_recs[i - 1].id);
            hb_mp_pack_bin(&pk, s_recs[i - 1].def, s_recs[i - 1].len);
        }
        rows[i] = (hb_scan_row_t){keys[i].buf, (uint32_t)keys[i].len,
                                  (const uint8_t *)vals[i].data, (uint32_t)vals[i].size};
    }
    sqlf_catalog_load_rows(s_cat, rows, s_nrecs + 1);
    for (uint32_t i = 0; i <= s_nrecs; i++)
        msgpack_sbuffer_destroy(&vals[i]);
    ck_assert_int_eq(sqlf_catalog_version(s_cat), s_version);
}

/* Stores def as the record of table name (a new id unless it exists). */
static void
s_put_record(const char *name, const void *def, size_t len)
{
    s_rec_t *r = NULL;
    for (uint32_t i = 0; i < s_nrecs && !r; i++)
        if (strcmp(s_recs[i].name, name) == 0)
            r = &s_recs[i];
    if (!r) {
        ck_assert_uint_lt(s_nrecs, S_MAX_RECS);
        r = &s_recs[s_nrecs++];
        snprintf(r->name, sizeof r->name, "%s", name);
        r->id = s_next_id++;
    }
    hb_free(r->def);
    r->def = hb_memdup(def, len);
    r->len = len;
}

/* ------------------------------------------------------------------ */
/* Parsing and planning                                                 */
/* ------------------------------------------------------------------ */

#define S_MAX_TREES 64
static PgQuery__ParseResult *s_trees[S_MAX_TREES];
static uint32_t s_ntrees;
static hb_sqlerr_t s_err;
static sqlf_stmt_t s_st;
static bool s_have_st;

/* Returns the one statement of sql (its tree lives until teardown). */
static const PgQuery__Node *
s_parse(const char *sql)
{
    PgQueryProtobufParseResult pres = pg_query_parse_protobuf(sql);
    ck_assert_msg(!pres.error, "parse of \"%s\": %s", sql,
                  pres.error ? pres.error->message : "");
    PgQuery__ParseResult *tree = pg_query__parse_result__unpack(
        NULL, pres.parse_tree.len, (const uint8_t *)pres.parse_tree.data);
    pg_query_free_protobuf_parse_result(pres);
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_lt(s_ntrees, S_MAX_TREES);
    s_trees[s_ntrees++] = tree;
    ck_assert_uint_eq(tree->n_stmts, 1);
    return tree->stmts[0]->stmt;
}

static void
s_free_st(void)
{
    if (s_have_st)
        sqlf_stmt_free(&s_st);
    s_have_st = false;
}

/* Plans sql into s_st with params (and desc, rowids when not NULL). */
static hb_rc_t
s_plan_full(const char *sql, const hb_val_t *params, uint32_t nparams,
            sqlf_rowid_t *rowids, sqlf_describe_t *desc)
{
    s_free_st();
    hb_rc_t rc = sqlf_plan(s_cat, sql, s_parse(sql), params, nparams, NULL, S_NOW, rowids,
                           desc, &s_st, &s_err);
    s_have_st = rc == HB_OK;
    return rc;
}

/* Plans sql, which must succeed. */
static sqlf_stmt_t *
s_plan(const char *sql)
{
    hb_rc_t rc = s_plan_full(sql, NULL, 0, NULL, NULL);
    ck_assert_msg(rc == HB_OK, "plan of \"%s\": %s %s", sql, s_err.sqlstate, s_err.msg);
    return &s_st;
}

/* Plans sql, which must fail with sqlstate. */
static void
s_refuse(const char *sql, const char *sqlstate)
{
    hb_rc_t rc = s_plan_full(sql, NULL, 0, NULL, NULL);
    ck_assert_msg(rc != HB_OK, "\"%s\" was planned", sql);
    ck_assert_msg(strcmp(s_err.sqlstate, sqlstate) == 0, "\"%s\": %s %s, not %s", sql,
                  s_err.sqlstate, s_err.msg, sqlstate);
}

/* Plans a DDL statement and installs what it defines, as the cluster's
 * sql.ddl would. */
static void
s_ddl(const char *sql)
{
    sqlf_stmt_t *st = s_plan(sql);
    ck_assert_int_eq(st->kind, SQLF_ST_DDL);
    ck_assert(st->ddl == HB_SQLDDL_CREATE || st->ddl == HB_SQLDDL_ALTER);
    s_put_record(st->ddl_name, st->ddl_def.data, st->ddl_def.size);
    s_free_st();
    s_reload();
}

/* Marks index ix of table ready (its backfill done), as front.c does. */
static void
s_ready(const char *table, const char *ix)
{
    const sqlf_table_t *t = sqlf_catalog_find(s_cat, table);
    ck_assert_ptr_nonnull(t);
    sqlf_table_t copy = *t;
    bool found = false;
    for (uint32_t i = 0; i < copy.nidx; i++)
        if (strcmp(copy.idx[i].name, ix) == 0)
            copy.idx[i].ready = found = true;
    ck_assert(found);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sqlf_table_pack(&pk, &copy);
    s_put_record(table, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    s_reload();
}

static uint32_t
s_id(const char *table)
{
    const sqlf_table_t *t = sqlf_catalog_find(s_cat, table);
    ck_assert_ptr_nonnull(t);
    return t->id;
}

static size_t s_used; /* bytes of the evaluation arena (below) in use */

static void
s_setup(void)
{
    s_used = 0;
    s_nrecs = 0;
    s_version = 0;
    s_next_id = HB_TABLE_USER_FIRST;
    s_cat = sqlf_catalog_new();
    s_ddl("CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, "
          "balance int DEFAULT 0)");
    s_ddl("CREATE TABLE orders (w int, d int, o int, c bigint, amount numeric(10,2), "
          "note varchar(10), PRIMARY KEY (w, d, o)) PARTITION BY HASH (w)");
    s_ddl("CREATE TABLE logs (msg text)");
    s_ddl("CREATE INDEX accounts_owner ON accounts (owner)");
    s_ddl("CREATE INDEX orders_c ON orders (w, d, c)");
}

static void
s_teardown(void)
{
    s_free_st();
    for (uint32_t i = 0; i < s_ntrees; i++)
        pg_query__parse_result__free_unpacked(s_trees[i], NULL);
    s_ntrees = 0;
    for (uint32_t i = 0; i < s_nrecs; i++)
        hb_free(s_recs[i].def);
    memset(s_recs, 0, sizeof s_recs);
    sqlf_catalog_destroy(&s_cat);
}

/* ------------------------------------------------------------------ */
/* Checking plans                                                       */
/* ------------------------------------------------------------------ */

static uint8_t s_mem[1 << 20];

static void *
s_alloc(void *arg, size_t size)
{
    (void)arg;
    size = (size + 7) & ~(size_t)7;
    ck_assert_uint_le(s_used + size, sizeof s_mem);
    void *p = s_mem + s_used;
    s_used += size;
    return p;
}

/* Evaluates e over row (n columns). */
static hb_val_t
s_eval(sqlf_expr_t e, const hb_val_t *row, uint32_t n)
{
    ck_assert_ptr_nonnull(e.p);
    hb_sqlerr_t err = {0};
    hb_expr_env_t env = {
        .row = row, .ncols = n, .alloc = s_alloc, .err = &err, .now_us = S_NOW};
    hb_val_t v;
    ck_assert_msg(hb_expr_eval(e.p, e.len, &env, &v) == HB_OK, "eval: %s", err.msg);
    return v;
}

static bool
s_test(sqlf_expr_t e, const hb_val_t *row, uint32_t n)
{
    hb_sqlerr_t err = {0};
    hb_expr_env_t env = {
        .row = row, .ncols = n, .alloc = s_alloc, .err = &err, .now_us = S_NOW};
    bool pass = false;
    ck_assert_msg(hb_expr_test(e.p, e.len, &env, &pass) == HB_OK, "test: %s", err.msg);
    return pass;
}

static void
s_expect_str(hb_val_t v, const char *s)
{
    ck_assert_int_eq(v.type, HB_VAL_STR);
    ck_assert_uint_eq(v.u.s.len, strlen(s));
    ck_assert(memcmp(v.u.s.ptr, s, v.u.s.len) == 0);
}

static void
s_expect_int(hb_val_t v, int64_t i)
{
    ck_assert_int_eq(v.type, HB_VAL_INT);
    ck_assert_int_eq(v.u.i, i);
}

/* Key [table][cols...] of n integer columns. */
static hb_key_t
s_ikey(uint32_t table, const int64_t *cols, uint32_t n)
{
    hb_key_t k;
    hb_key_init(&k, table);
    for (uint32_t i = 0; i < n; i++)
        hb_key_put_i64(&k, cols[i]);
    return k;
}

static void
s_expect_key(const hb_key_t *got, const hb_key_t *want)
{
    ck_assert_uint_eq(got->len, want->len);
    ck_assert_msg(memcmp(got->buf, want->buf, want->len) == 0, "keys differ");
}

/* Compares two keys as storage orders them (bytewise, shorter first). */
static int
s_keycmp(const hb_key_t *a, const hb_key_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->buf, b->buf, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* end is the bound above every key starting with prefix: prefix + 9 x 0xFF. */
static void
s_expect_prefix_end(const hb_key_t *end, const hb_key_t *prefix)
{
    hb_key_t want = *prefix;
    for (int i = 0; i < 9; i++)
        want.buf[want.len++] = 0xFF;
    s_expect_key(end, &want);
}

/* The bytes of op i of st (ops are packed back to back). */
static void
s_op(const sqlf_stmt_t *st, uint32_t i, const uint8_t **op, size_t *len)
{
    ck_assert_uint_lt(i, st->nops);
    hb_mp_reader_t r;
    hb_mp_reader_init(&r, st->ops.data, st->ops.size);
    for (uint32_t k = 0; k < i; k++)
        ck_assert_int_eq(hb_mp_skip(&r), HB_OK);
    ck_assert_int_eq(hb_mp_read_raw(&r, op, len), HB_OK);
}

static hb_sqlop_head_t
s_op_head(const sqlf_stmt_t *st, uint32_t i)
{
    const uint8_t *op;
    size_t len;
    hb_sqlop_head_t h;
    s_op(st, i, &op, &len);
    ck_assert_int_eq(hb_sqlop_head(op, len, &h), HB_OK);
    return h;
}

/* Applies op i of st as storage would, to old (NULL: absent). */
static hb_rc_t
s_apply(const sqlf_stmt_t *st, uint32_t i, const msgpack_sbuffer *old,
        hb_sqlop_effect_t *eff, hb_sqlerr_t *err)
{
    const uint8_t *op;
    size_t len;
    s_op(st, i, &op, &len);
    return hb_sqlop_apply(op, len, old != NULL, old ? (const uint8_t *)old->data : NULL,
                          old ? old->size : 0, S_NOW, s_alloc, NULL, eff, err);
}

/* A packed row (the caller destroys sb). */
static msgpack_sbuffer
s_row(const hb_val_t *cols, uint32_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_int_eq(hb_row_pack(&pk, cols, n), HB_OK);
    return sb;
}

/* Decodes the row an effect stores into cols; returns its column count. */
static uint32_t
s_stored(const hb_sqlop_effect_t *eff, hb_val_t *cols, uint32_t cap)
{
    uint32_t n = 0;
    ck_assert_int_eq(eff->write, 1);
    ck_assert_int_eq(hb_row_decode(eff->row, eff->rowlen, cols, cap, &n), HB_OK);
    return n;
}

/* Derives the lock set of st's ops as the sequencer does for sql.exec. */
static void
s_locks(const sqlf_stmt_t *st, hb_lockset_t *ls)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, st->nops);
    msgpack_sbuffer_write(&sb, st->ops.data, st->ops.size);
    hb_val_t args[2] = {hb_val_int(s_version), hb_val_bin(sb.data, (uint32_t)sb.size)};
    char err[200] = "";
    hb_lockset_init(ls);
    hb_rc_t rc =
        hb_proc_plan(hb_proc_find("sql.exec", 8), args, 2, S_NPARTS, ls, err, sizeof err);
    msgpack_sbuffer_destroy(&sb);
    ck_assert_msg(rc == HB_OK, "sql.exec lock set: %s", err);
}

/* ls holds key in mode on the partition of its first plen bytes, and the
 * catalog version record of that partition is read-locked. */
static void
s_expect_lock(const hb_lockset_t *ls, const hb_key_t *key, uint32_t plen,
              hb_lock_mode_t mode)
{
    uint16_t part = (uint16_t)hb_key_partition(key->buf, plen, S_NPARTS);
    bool found = false, ver = false;
    hb_key_t vk;
    hb_key_catalog(&vk, part, "", 0);
    for (uint32_t i = 0; i < ls->n; i++) {
        const hb_lock_t *l = &ls->locks[i];
        if (l->len == key->len && memcmp(l->key, key->buf, key->len) == 0) {
            ck_assert_uint_eq(l->partition, part);
            ck_assert_uint_eq(l->mode, mode);
            found = true;
        }
        if (l->len == vk.len && memcmp(l->key, vk.buf, vk.len) == 0 &&
            l->partition == part)
            ver = l->mode == HB_LOCK_READ;
    }
    ck_assert_msg(found, "no lock on the key");
    ck_assert_msg(ver, "no read lock on partition %u's catalog version", part);
}

/* ------------------------------------------------------------------ */
/* Reads                                                                */
/* ------------------------------------------------------------------ */

START_TEST(test_plan_point_select)
{
    sqlf_stmt_t *st = s_plan("SELECT owner, balance FROM accounts WHERE id = 7");
    ck_assert_int_eq(st->kind, SQLF_ST_SELECT);
    ck_assert_str_eq(st->tag, "SELECT");
    ck_assert_ptr_eq(st->src.table, sqlf_catalog_find(s_cat, "accounts"));
    ck_assert(st->src.point);
    ck_assert(st->src.key_only);
    ck_assert(!st->src.use_index);
    /* The key [accounts][7]; all of it is the partition key, so the one
     * partition to read is that of the whole key. */
    int64_t seven = 7;
    hb_key_t want = s_ikey(s_id("accounts"), &seven, 1);
    s_expect_key(&st->src.start, &want);
    ck_assert_uint_eq(st->src.plen, want.len);
    ck_assert_int_ge(st->src.partition, 0);
    ck_assert_uint_eq(hb_key_partition(st->src.start.buf, st->src.plen, S_NPARTS),
                      hb_key_partition(want.buf, want.len, S_NPARTS));
    /* Outputs, named, over the row (id, owner, balance). */
    ck_assert_uint_eq(st->nout, 2);
    ck_assert_uint_eq(st->nhidden, 0);
    ck_assert_str_eq(st->out_names[0], "owner");
    ck_assert_str_eq(st->out_names[1], "balance");
    hb_val_t row[3] = {hb_val_int(7), hb_val_str("ann", 3), hb_val_int(100)};
    s_expect_str(s_eval(st->out[0], row, 3), "ann");
    s_expect_int(s_eval(st->out[1], row, 3), 100);
    ck_assert_int_eq(st->limit, -1);
    ck_assert(!st->agg);

    /* The same key from a reversed term, and from a quoted literal. */
    s_plan("SELECT * FROM accounts WHERE 7 = id");
    ck_assert(s_st.src.point);
    s_expect_key(&s_st.src.start, &want);
    ck_assert_uint_eq(s_st.nout, 3);
    s_plan("SELECT * FROM accounts WHERE id = '7'");
    ck_assert(s_st.src.point);
    s_expect_key(&s_st.src.start, &want);
    /* An extra term keeps the point read but is no longer key-only, and
     * the filter applies it. */
    s_plan("SELECT * FROM accounts WHERE id = 7 AND balance > 50");
    ck_assert(s_st.src.point);
    ck_assert(!s_st.src.key_only);
    ck_assert(s_test(s_st.src.where, row, 3));
    row[2] = hb_val_int(10);
    ck_assert(!s_test(s_st.src.where, row, 3));
}
END_TEST

START_TEST(test_plan_point_composite)
{
    /* orders' key (w, d, o), partitioned by w: the partition key is the
     * first 12 bytes ([table][w]), whatever d and o are. */
    sqlf_stmt_t *st = s_plan("SELECT note FROM orders WHERE o = 3 AND w = 1 AND d = 2");
    ck_assert(st->src.point);
    ck_assert(st->src.key_only);
    int64_t k[3] = {1, 2, 3};
    hb_key_t want = s_ikey(s_id("orders"), k, 3), part = s_ikey(s_id("orders"), k, 1);
    s_expect_key(&st->src.start, &want);
    ck_assert_uint_eq(st->src.plen, part.len);
    ck_assert_uint_eq(hb_key_partition(st->src.start.buf, st->src.plen, S_NPARTS),
                      hb_key_partition(part.buf, part.len, S_NPARTS));
    ck_assert_uint_eq(sqlf_table_plen(st->src.table, want.buf, want.len), part.len);
}
END_TEST

START_TEST(test_plan_range_all_partitions)
{
    /* No key term: the table's whole range, every partition, filtered. */
    sqlf_stmt_t *st = s_plan("SELECT * FROM accounts WHERE balance > 10");
    uint32_t t = s_id("accounts");
    ck_assert(!st->src.point);
    ck_assert(!st->src.use_index);
    ck_assert_int_eq(st->src.partition, -1);
    hb_key_t lo = s_ikey(t, NULL, 0);
    s_expect_key(&st->src.start, &lo);
    s_expect_prefix_end(&st->src.end, &lo);
    hb_val_t row[3] = {hb_val_int(1), hb_val_str("a", 1), hb_val_int(11)};
    ck_assert(s_test(st->src.where, row, 3));
    row[2] = hb_val_int(10);
    ck_assert(!s_test(st->src.where, row, 3));
    row[2] = hb_val_nil();
    ck_assert(!s_test(st->src.where, row, 3));
    /* A key column other than the leading one binds no prefix. */
    st = s_plan("SELECT * FROM orders WHERE d = 2 AND o = 3");
    ck_assert(!st->src.point);
    ck_assert_int_eq(st->src.partition, -1);
    lo = s_ikey(s_id("orders"), NULL, 0);
    s_expect_key(&st->src.start, &lo);
    /* A value no bigint equals binds nothing: left to the filter. */
    st = s_plan("SELECT * FROM accounts WHERE id = 1.5");
    ck_assert(!st->src.point);
    ck_assert_int_eq(st->src.partition, -1);
    row[0] = hb_val_int(1);
    row[2] = hb_val_int(0);
    ck_assert(!s_test(st->src.where, row, 3));
    st = s_plan("SELECT * FROM accounts WHERE id = 3000000000");
    ck_assert(st->src.point); /* bigint: 3000000000 is a key */
}
END_TEST

START_TEST(test_plan_prefix_one_partition)
{
    /* w and d of (w, d, o) bound: the range of that prefix, on w's
     * partition. */
    sqlf_stmt_t *st = s_plan("SELECT o, amount FROM orders WHERE w = 1 AND d = 2");
    uint32_t t = s_id("orders");
    int64_t k[2] = {1, 2};
    hb_key_t prefix = s_ikey(t, k, 2), part = s_ikey(t, k, 1);
    ck_assert(!st->src.point);
    ck_assert(!st->src.use_index);
    ck_assert_int_ge(st->src.partition, 0);
    s_expect_key(&st->src.start, &prefix);
    s_expect_prefix_end(&st->src.end, &prefix);
    ck_assert_uint_eq(st->src.plen, part.len);
    ck_assert_uint_eq(hb_key_partition(st->src.start.buf, st->src.plen, S_NPARTS),
                      hb_key_partition(part.buf, part.len, S_NPARTS));
    /* Every order of the district sorts inside [start, end). */
    int64_t o[3] = {1, 2, INT64_MAX};
    hb_key_t row = s_ikey(t, o, 3);
    ck_assert_int_ge(s_keycmp(&row, &st->src.start), 0);
    ck_assert_int_lt(s_keycmp(&row, &st->src.end), 0);
    o[1] = 3; /* the next district's first order is past the end */
    o[2] = INT64_MIN;
    row = s_ikey(t, o, 3);
    ck_assert_int_gt(s_keycmp(&row, &st->src.end), 0);
    /* The partition key alone is enough for one partition. */
    st = s_plan("SELECT * FROM orders WHERE w = 1");
    ck_assert_int_ge(st->src.partition, 0);
    s_expect_key(&st->src.start, &part);
    ck_assert_uint_eq(st->src.plen, part.len);
}
END_TEST

START_TEST(test_plan_index_read)
{
    /* Not backfilled yet: the index is not read. */
    sqlf_stmt_t *st = s_plan("SELECT id FROM accounts WHERE owner = 'ann'");
    ck_assert(!st->src.use_index);
    ck_assert_int_eq(st->src.partition, -1);
    s_ready("accounts", "accounts_owner");
    st = s_plan("SELECT id FROM accounts WHERE owner = 'ann'");
    const sqlf_table_t *t = sqlf_catalog_find(s_cat, "accounts");
    ck_assert(st->src.use_index);
    ck_assert_uint_eq(st->src.ix_no, t->idx[0].no);
    ck_assert_int_eq(st->src.ix_partition, -1); /* id unbound: every partition */
    /* [INDEX][accounts][no][0x01 'ann']: the prefix of ann's entries. */
    hb_key_t want;
    hb_key_init(&want, HB_TABLE_INDEX);
    hb_key_put_i64(&want, t->id);
    hb_key_put_i64(&want, t->idx[0].no);
    want.buf[want.len++] = 0x01;
    hb_key_put_str(&want, "ann", 3);
    s_expect_key(&st->src.ix_start, &want);
    s_expect_prefix_end(&st->src.ix_end, &want);
    /* The entry storage writes for ann's row lies in the range, bob's not. */
    hb_val_t row[3] = {hb_val_int(7), hb_val_str("ann", 3), hb_val_int(1)};
    hb_key_t e;
    ck_assert(sqlf_index_key(t, &t->idx[0], row, 3, &e));
    ck_assert_int_eq(memcmp(e.buf, want.buf, want.len), 0);
    ck_assert_int_lt(memcmp(e.buf, st->src.ix_end.buf, st->src.ix_end.len), 0);
    row[1] = hb_val_str("bob", 3);
    ck_assert(sqlf_index_key(t, &t->idx[0], row, 3, &e));
    ck_assert_int_ne(memcmp(e.buf, want.buf, want.len), 0);

    /* orders_c (w, d, c) binds more than the key's (w, d) prefix: the
     * index, on w's partition, with the key prefix's range kept too. */
    s_ready("orders", "orders_c");
    st = s_plan("SELECT * FROM orders WHERE w = 1 AND d = 2 AND c = 5");
    ck_assert(st->src.use_index);
    ck_assert_int_ge(st->src.ix_partition, 0);
    int64_t k[2] = {1, 2};
    hb_key_t pkey = s_ikey(s_id("orders"), k, 1), prefix = s_ikey(s_id("orders"), k, 2);
    s_expect_key(&st->src.ix_pkey, &pkey);
    s_expect_key(&st->src.start, &prefix);
    /* The key's own prefix binding as much wins over the index. */
    st = s_plan("SELECT * FROM orders WHERE w = 1 AND d = 2");
    ck_assert(!st->src.use_index);
}
END_TEST

START_TEST(test_plan_params)
{
    /* $1 as a key value: a point read of the parameter's value. */
    hb_val_t p[2] = {hb_val_int(7), hb_val_str("ann", 3)};
    ck_assert_int_eq(
        s_plan_full("SELECT owner FROM accounts WHERE id = $1", p, 1, NULL, NULL), HB_OK);
    int64_t seven = 7;
    hb_key_t want = s_ikey(s_id("accounts"), &seven, 1);
    ck_assert(s_st.src.point);
    s_expect_key(&s_st.src.start, &want);
    /* A text parameter is converted to the column's type. */
    p[0] = hb_val_str("7", 1);
    ck_assert_int_eq(
        s_plan_full("SELECT owner FROM accounts WHERE id = $1", p, 1, NULL, NULL), HB_OK);
    s_expect_key(&s_st.src.start, &want);
    /* $2 with one parameter: 42P02. */
    ck_assert_int_ne(s_plan_full("SELECT $2", p, 1, NULL, NULL), HB_OK);
    ck_assert_str_eq(s_err.sqlstate, "42P02");

    /* Describe: the highest $n and each one's type from where it is used. */
    static sqlf_describe_t desc;
    ck_assert_int_eq(
        s_plan_full("SELECT owner FROM accounts WHERE id = $1 AND balance > $3", NULL, 0,
                    NULL, &desc),
        HB_OK);
    ck_assert_uint_eq(desc.nparams, 3);
    ck_assert_int_eq(desc.ptypes[0], HB_T_INT8);
    ck_assert_int_eq(desc.ptypes[1], HB_T_UNKNOWN);
    ck_assert_int_eq(desc.ptypes[2], HB_T_INT4);
    ck_assert_uint_eq(s_st.nout, 1);
    ck_assert_int_eq(s_plan_full("INSERT INTO orders VALUES ($1, $2, $3, $4, $5, $6)",
                                 NULL, 0, NULL, &desc),
                     HB_OK);
    ck_assert_uint_eq(desc.nparams, 6);
    hb_type_t types[6] = {HB_T_INT4, HB_T_INT4,    HB_T_INT4,
                          HB_T_INT8, HB_T_NUMERIC, HB_T_VARCHAR};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(desc.ptypes[i], types[i]);
    ck_assert_uint_eq(s_st.nops, 0); /* Describe plans no rows */
}
END_TEST

/* ------------------------------------------------------------------ */
/* Writes                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_plan_insert)
{
    sqlf_stmt_t *st =
        s_plan("INSERT INTO accounts (id, owner) VALUES (1, 'ann'), (2, 'b' || 'ob')");
    uint32_t t = s_id("accounts");
    ck_assert_int_eq(st->kind, SQLF_ST_WRITE);
    ck_assert_int_eq(st->wkind, HB_SQLOP_INSERT);
    ck_assert_str_eq(st->tag, "INSERT");
    ck_assert(!st->ollp);
    ck_assert_uint_eq(st->nops, 2);
    hb_lockset_t ls;
    s_locks(st, &ls);
    const char *owners[2] = {"ann", "bob"};
    for (uint32_t i = 0; i < 2; i++) {
        int64_t id = i + 1;
        hb_key_t key = s_ikey(t, &id, 1);
        hb_sqlop_head_t h = s_op_head(st, i);
        ck_assert_int_eq(h.kind, HB_SQLOP_INSERT);
        ck_assert_uint_eq(h.klen, key.len);
        ck_assert(memcmp(h.key, key.buf, key.len) == 0);
        ck_assert_uint_eq(h.plen, key.len);
        s_expect_lock(&ls, &key, h.plen, HB_LOCK_WRITE);
        /* Applied to an absent row: the row (id, owner, the default 0). */
        hb_sqlop_effect_t eff;
        hb_sqlerr_t err;
        ck_assert_int_eq(s_apply(st, i, NULL, &eff, &err), HB_OK);
        hb_val_t cols[4];
        ck_assert_uint_eq(s_stored(&eff, cols, 4), 3);
        s_expect_int(cols[0], id);
        s_expect_str(cols[1], owners[i]);
        s_expect_int(cols[2], 0);
        s_expect_int(eff.result, 1);
        /* Present: 23505. */
        msgpack_sbuffer old = s_row(cols, 3);
        ck_assert_int_eq(s_apply(st, i, &old, &eff, &err), HB_ABORTED);
        ck_assert_str_eq(err.sqlstate, "23505");
        msgpack_sbuffer_destroy(&old);
    }
    hb_lockset_clear(&ls);

    /* Values converted to the column types: '12.345' rounds into
     * numeric(10,2); 5 into bigint c. */
    st = s_plan("INSERT INTO orders VALUES (1, 2, 3, 5, '12.345', 'hi')");
    hb_sqlop_effect_t eff;
    hb_sqlerr_t err;
    ck_assert_int_eq(s_apply(st, 0, NULL, &eff, &err), HB_OK);
    hb_val_t cols[6];
    ck_assert_uint_eq(s_stored(&eff, cols, 6), 6);
    ck_assert_int_eq(cols[4].type, HB_VAL_DEC);
    char buf[32];
    hb_val_format(&cols[4], buf, sizeof buf);
    ck_assert_str_eq(buf, "12.35");
    int64_t k[3] = {1, 2, 3};
    hb_key_t key = s_ikey(s_id("orders"), k, 3), part = s_ikey(s_id("orders"), k, 1);
    hb_sqlop_head_t h = s_op_head(st, 0);
    ck_assert_uint_eq(h.plen, part.len);
    s_locks(st, &ls);
    s_expect_lock(&ls, &key, h.plen, HB_LOCK_WRITE);
    hb_lockset_clear(&ls);

    /* ON CONFLICT DO NOTHING: an existing row is kept, 0 rows. */
    st = s_plan("INSERT INTO accounts VALUES (1, 'ann', 5) ON CONFLICT DO NOTHING");
    ck_assert_uint_eq(st->ins_conflict, 1);
    hb_val_t old[3] = {hb_val_int(1), hb_val_str("x", 1), hb_val_int(9)};
    msgpack_sbuffer ob = s_row(old, 3);
    ck_assert_int_eq(s_apply(st, 0, &ob, &eff, &err), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    s_expect_int(eff.result, 0);
    /* ON CONFLICT DO UPDATE SET balance = accounts.balance + EXCLUDED.balance */
    st =
        s_plan("INSERT INTO accounts VALUES (1, 'ann', 5) ON CONFLICT (id) DO UPDATE SET "
               "balance = accounts.balance + EXCLUDED.balance RETURNING balance");
    ck_assert_uint_eq(st->ins_conflict, 2);
    ck_assert(st->returning);
    ck_assert_int_eq(s_apply(st, 0, &ob, &eff, &err), HB_OK);
    ck_assert_uint_eq(s_stored(&eff, cols, 6), 3);
    s_expect_int(cols[2], 14);
    s_expect_str(cols[1], "x");
    msgpack_sbuffer_destroy(&ob);
}
END_TEST

START_TEST(test_plan_insert_rowid)
{
    /* A table without a key: each row gets the next row id, node in the
     * top bits, and the id is the key. */
    sqlf_rowid_t ids = {.node = 5, .last = 0};
    ck_assert_int_ne(s_plan_full("INSERT INTO logs VALUES ('a')", NULL, 0, NULL, NULL),
                     HB_OK);
    ck_assert_str_eq(s_err.sqlstate, "0A000");
    ck_assert_int_eq(
        s_plan_full("INSERT INTO logs VALUES ('a'), ('b')", NULL, 0, &ids, NULL), HB_OK);
    ck_assert_uint_eq(s_st.nops, 2);
    int64_t prev = 0;
    for (uint32_t i = 0; i < 2; i++) {
        hb_sqlop_effect_t eff;
        hb_sqlerr_t err;
        ck_assert_int_eq(s_apply(&s_st, i, NULL, &eff, &err), HB_OK);
        hb_val_t cols[2];
        ck_assert_uint_eq(s_stored(&eff, cols, 2), 2);
        s_expect_str(cols[0], i ? "b" : "a");
        ck_assert_int_eq(cols[1].type, HB_VAL_INT);
        ck_assert_int_eq(cols[1].u.i >> SQLF_ROWID_TIME_BITS, 5);
        ck_assert_int_gt(cols[1].u.i, prev);
        prev = cols[1].u.i;
        hb_key_t key = s_ikey(s_id("logs"), &cols[1].u.i, 1);
        hb_sqlop_head_t h = s_op_head(&s_st, i);
        ck_assert_uint_eq(h.klen, key.len);
        ck_assert(memcmp(h.key, key.buf, key.len) == 0);
    }
    /* The hidden id is not a visible column. */
    sqlf_stmt_t *st = s_plan("SELECT * FROM logs");
    ck_assert_uint_eq(st->nout, 1);
    ck_assert_str_eq(st->out_names[0], "msg");
}
END_TEST

START_TEST(test_plan_update_point)
{
    sqlf_stmt_t *st = s_plan("UPDATE accounts SET balance = balance + 5 WHERE id = 7");
    ck_assert_int_eq(st->kind, SQLF_ST_WRITE);
    ck_assert_int_eq(st->wkind, HB_SQLOP_UPDATE);
    ck_assert_str_eq(st->tag, "UPDATE");
    ck_assert(!st->ollp);
    ck_assert(st->src.point);
    ck_assert_uint_eq(st->nops, 1);
    int64_t seven = 7;
    hb_key_t key = s_ikey(s_id("accounts"), &seven, 1);
    hb_sqlop_head_t h = s_op_head(st, 0);
    ck_assert_int_eq(h.kind, HB_SQLOP_UPDATE);
    ck_assert_uint_eq(h.klen, key.len);
    ck_assert(memcmp(h.key, key.buf, key.len) == 0);
    hb_lockset_t ls;
    s_locks(st, &ls);
    s_expect_lock(&ls, &key, h.plen, HB_LOCK_WRITE);
    hb_lockset_clear(&ls);
    hb_val_t row[3] = {hb_val_int(7), hb_val_str("ann", 3), hb_val_int(100)}, cols[3];
    msgpack_sbuffer old = s_row(row, 3);
    hb_sqlop_effect_t eff;
    hb_sqlerr_t err;
    ck_assert_int_eq(s_apply(st, 0, &old, &eff, &err), HB_OK);
    ck_assert_uint_eq(s_stored(&eff, cols, 3), 3);
    s_expect_int(cols[2], 105);
    s_expect_str(cols[1], "ann");
    s_expect_int(eff.result, 1);
    ck_assert_int_eq(s_apply(st, 0, NULL, &eff, &err), HB_OK);
    s_expect_int(eff.result, 0); /* UPDATE 0 */

    /* A further condition travels with the op. */
    st = s_plan("UPDATE accounts SET balance = 0 WHERE id = 7 AND balance > 1000");
    ck_assert(!st->ollp);
    ck_assert_int_eq(s_apply(st, 0, &old, &eff, &err), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    /* DELETE by key, RETURNING a column of the deleted row. */
    st = s_plan("DELETE FROM accounts WHERE id = 7 RETURNING owner");
    ck_assert_int_eq(st->wkind, HB_SQLOP_DELETE);
    ck_assert_str_eq(st->tag, "DELETE");
    ck_assert(st->returning);
    ck_assert_uint_eq(st->nops, 1);
    ck_assert_int_eq(s_apply(st, 0, &old, &eff, &err), HB_OK);
    ck_assert_int_eq(eff.write, 2);
    ck_assert_int_eq(eff.result.type, HB_VAL_BIN);
    s_expect_str(s_eval(st->out[0], row, 3), "ann");
    /* The value a SET writes is converted at plan time: '42' is an int. */
    st = s_plan("UPDATE accounts SET balance = '42' WHERE id = 7");
    ck_assert_int_eq(s_apply(st, 0, &old, &eff, &err), HB_OK);
    ck_assert_uint_eq(s_stored(&eff, cols, 3), 3);
    s_expect_int(cols[2], 42);
    msgpack_sbuffer_destroy(&old);
}
END_TEST

START_TEST(test_plan_ollp)
{
    /* UPDATE by a non-key column: no ops yet, a reconnaissance read of
     * every partition, then one op per row found. */
    sqlf_stmt_t *st =
        s_plan("UPDATE accounts SET balance = balance * 2 WHERE owner = 'ann'");
    ck_assert(st->ollp);
    ck_assert_uint_eq(st->nops, 0);
    ck_assert(!st->src.point);
    ck_assert_int_eq(st->src.partition, -1);
    int64_t id = 9;
    hb_key_t key = s_ikey(s_id("accounts"), &id, 1);
    sqlf_stmt_add_row_op(st, key.buf, key.len);
    ck_assert_uint_eq(st->nops, 1);
    hb_sqlop_head_t h = s_op_head(st, 0);
    ck_assert_int_eq(h.kind, HB_SQLOP_UPDATE);
    ck_assert_uint_eq(h.plen, key.len);
    hb_val_t ann[3] = {hb_val_int(9), hb_val_str("ann", 3), hb_val_int(50)}, cols[3];
    hb_val_t bob[3] = {hb_val_int(9), hb_val_str("bob", 3), hb_val_int(50)};
    msgpack_sbuffer a = s_row(ann, 3), b = s_row(bob, 3);
    hb_sqlop_effect_t eff;
    hb_sqlerr_t err;
    ck_assert_int_eq(s_apply(st, 0, &a, &eff, &err), HB_OK);
    ck_assert_uint_eq(s_stored(&eff, cols, 3), 3);
    s_expect_int(cols[2], 100);
    /* The WHERE is re-checked at the row: changed meanwhile, left alone. */
    ck_assert_int_eq(s_apply(st, 0, &b, &eff, &err), HB_OK);
    ck_assert_int_eq(eff.write, 0);
    hb_lockset_t ls;
    s_locks(st, &ls);
    s_expect_lock(&ls, &key, h.plen, HB_LOCK_WRITE);
    hb_lockset_clear(&ls);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);

    /* DELETE over a key prefix: the template's ops carry orders' plen. */
    st = s_plan("DELETE FROM orders WHERE w = 1 AND amount > 100");
    ck_assert(st->ollp);
    ck_assert_int_ge(st->src.partition, 0);
    int64_t k[3] = {1, 2, 3};
    key = s_ikey(s_id("orders"), k, 3);
    hb_key_t part = s_ikey(s_id("orders"), k, 1);
    sqlf_stmt_add_row_op(st, key.buf, key.len);
    h = s_op_head(st, 0);
    ck_assert_int_eq(h.kind, HB_SQLOP_DELETE);
    ck_assert_uint_eq(h.plen, part.len);

    /* INSERT ... SELECT: the rows come from the sub-plan's read. */
    st = s_plan("INSERT INTO accounts SELECT c, note, w FROM orders WHERE w = 1");
    ck_assert(st->ollp);
    ck_assert_ptr_nonnull(st->sub);
    ck_assert_int_eq(st->sub->kind, SQLF_ST_SELECT);
    ck_assert_uint_eq(st->sub->nout, 3);
    hb_val_t vals[3] = {hb_val_int(4), hb_val_str("z", 1), hb_val_int(1)};
    ck_assert_int_eq(sqlf_stmt_insert_row(st, vals, 3, NULL, NULL, &err), HB_OK);
    ck_assert_uint_eq(st->nops, 1);
    ck_assert_int_eq(s_apply(st, 0, NULL, &eff, &err), HB_OK);
    ck_assert_uint_eq(s_stored(&eff, cols, 3), 3);
    s_expect_int(cols[0], 4);
    ck_assert_int_ne(sqlf_stmt_insert_row(st, vals, 2, NULL, NULL, &err), HB_OK);
    ck_assert_str_eq(err.sqlstate, "42601");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Joins, aggregates, order                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_plan_join)
{
    sqlf_stmt_t *st = s_plan("SELECT a.owner, o.amount FROM orders o JOIN accounts a "
                             "ON a.id = o.c WHERE o.w = 1 AND o.d = 2");
    ck_assert_int_eq(st->kind, SQLF_ST_SELECT);
    ck_assert_uint_eq(st->njoin, 2);
    /* orders first: (w, d) bound by constants; accounts second, its id
     * bound by o.c of the joined row so far. */
    ck_assert_ptr_eq(st->join[0].table, sqlf_catalog_find(s_cat, "orders"));
    ck_assert_uint_eq(st->join[0].off, 0);
    ck_assert_uint_eq(st->join[0].nbound, 2);
    s_expect_int(s_eval(st->join[0].bind[0], NULL, 0), 1);
    s_expect_int(s_eval(st->join[0].bind[1], NULL, 0), 2);
    ck_assert_ptr_eq(st->join[1].table, sqlf_catalog_find(s_cat, "accounts"));
    ck_assert_uint_eq(st->join[1].off, 6);
    ck_assert_uint_eq(st->join[1].nbound, 1);
    hb_val_t row[9] = {hb_val_int(1),  hb_val_int(2),        hb_val_int(3),
                       hb_val_int(44), hb_val_dec(1250, 2),  hb_val_nil(),
                       hb_val_int(44), hb_val_str("ann", 3), hb_val_int(0)};
    s_expect_int(s_eval(st->join[1].bind[0], row, 6), 44);
    ck_assert_uint_eq(st->nout, 2);
    s_expect_str(s_eval(st->out[0], row, 9), "ann");
    ck_assert(s_test(st->src.where, row, 9));
    row[6] = hb_val_int(45); /* a row of accounts that does not match */
    ck_assert(!s_test(st->src.where, row, 9));
    /* A name both tables have, unqualified: 42702; a table twice: 42712. */
    s_refuse("SELECT id FROM accounts a JOIN accounts b ON a.id = b.id", "42702");
    s_refuse("SELECT 1 FROM accounts, accounts", "42712");
}
END_TEST

START_TEST(test_plan_aggregate)
{
    sqlf_stmt_t *st =
        s_plan("SELECT owner, count(*), sum(balance) AS total FROM accounts "
               "GROUP BY owner HAVING count(*) > 1 ORDER BY 2 DESC, owner "
               "LIMIT 10 OFFSET 5");
    ck_assert(st->agg);
    ck_assert_uint_eq(st->ngroup, 1);
    hb_val_t row[3] = {hb_val_int(1), hb_val_str("ann", 3), hb_val_int(7)};
    s_expect_str(s_eval(st->group[0], row, 3), "ann");
    /* One aggregate per call, HAVING's own count(*) included. */
    ck_assert_uint_eq(st->naggs, 3);
    ck_assert_int_eq(st->aggs[0].kind, SQLF_AGG_COUNT_STAR);
    ck_assert_int_eq(st->aggs[1].kind, SQLF_AGG_SUM);
    ck_assert_int_eq(st->aggs[2].kind, SQLF_AGG_COUNT_STAR);
    s_expect_int(s_eval(st->aggs[1].arg, row, 3), 7);
    /* Outputs and HAVING read the group row [owner, count, sum, count]. */
    hb_val_t grp[4] = {hb_val_str("ann", 3), hb_val_int(2), hb_val_int(9), hb_val_int(2)};
    ck_assert_uint_eq(st->nout, 3);
    ck_assert_str_eq(st->out_names[1], "count");
    ck_assert_str_eq(st->out_names[2], "total");
    s_expect_str(s_eval(st->out[0], grp, 3), "ann");
    s_expect_int(s_eval(st->out[1], grp, 3), 2);
    s_expect_int(s_eval(st->out[2], grp, 3), 9);
    ck_assert(s_test(st->having, grp, 4));
    grp[3] = hb_val_int(1);
    ck_assert(!s_test(st->having, grp, 4));
    /* ORDER BY 2 DESC (NULLs first by default), owner ASC (NULLs last). */
    ck_assert_uint_eq(st->nsort, 2);
    ck_assert_uint_eq(st->sort[0].col, 1);
    ck_assert(st->sort[0].desc);
    ck_assert(st->sort[0].nulls_first);
    ck_assert_uint_eq(st->sort[1].col, 0);
    ck_assert(!st->sort[1].desc);
    ck_assert(!st->sort[1].nulls_first);
    ck_assert_int_eq(st->limit, 10);
    ck_assert_int_eq(st->offset, 5);

    /* ORDER BY an expression not in the output: a hidden column. */
    st = s_plan("SELECT owner FROM accounts ORDER BY balance * 2 DESC NULLS LAST");
    ck_assert_uint_eq(st->nout, 1);
    ck_assert_uint_eq(st->nhidden, 1);
    ck_assert_uint_eq(st->sort[0].col, 1);
    ck_assert(!st->sort[0].nulls_first);
    s_expect_int(s_eval(st->out[1], row, 3), 14);

    s_refuse("SELECT owner, count(*) FROM accounts", "42803");
    s_refuse("SELECT sum(owner) FROM accounts", "42883");
    s_refuse("SELECT owner FROM accounts ORDER BY 2", "42P10");
    s_refuse("SELECT owner FROM accounts LIMIT -1", "2201W");
    s_refuse("SELECT owner FROM accounts LIMIT balance", "42601");
}
END_TEST

/* ------------------------------------------------------------------ */
/* DDL                                                                  */
/* ------------------------------------------------------------------ */

START_TEST(test_plan_ddl)
{
    /* What the CREATE TABLEs of the fixture defined, as loaded back. */
    const sqlf_table_t *o = sqlf_catalog_find(s_cat, "orders");
    ck_assert_uint_eq(o->ncols, 6);
    ck_assert_uint_eq(o->npk, 3);
    ck_assert_uint_eq(o->npart, 1);
    ck_assert_int_eq(o->cols[4].type, HB_T_NUMERIC);
    ck_assert_int_eq(o->cols[4].typmod, 10 << 16 | 2);
    ck_assert_int_eq(o->cols[5].type, HB_T_VARCHAR);
    ck_assert_int_eq(o->cols[5].typmod, 10);
    ck_assert(o->cols[0].not_null); /* key columns are NOT NULL */
    ck_assert(!o->cols[3].not_null);
    const sqlf_table_t *a = sqlf_catalog_find(s_cat, "accounts");
    ck_assert_uint_eq(a->npart, 1);
    ck_assert(a->cols[1].not_null);
    ck_assert_ptr_nonnull(a->cols[2].def);
    const sqlf_table_t *l = sqlf_catalog_find(s_cat, "logs");
    ck_assert(l->rowid);
    ck_assert_uint_eq(l->ncols, 2);
    ck_assert_int_eq(sqlf_table_col(l, "rowid"), -1);

    /* CREATE INDEX: an ALTER of the table adding a not-ready index. */
    sqlf_stmt_t *st = s_plan("CREATE INDEX accounts_bal ON accounts (balance, owner)");
    ck_assert_int_eq(st->kind, SQLF_ST_DDL);
    ck_assert_int_eq(st->ddl, HB_SQLDDL_ALTER);
    ck_assert_str_eq(st->tag, "CREATE INDEX");
    ck_assert_str_eq(st->ddl_name, "accounts");
    ck_assert(st->ix_create);
    ck_assert_uint_eq(st->ix_no, 1);
    s_ddl("CREATE INDEX accounts_bal ON accounts (balance, owner)");
    uint32_t which = 99;
    a = sqlf_catalog_find_index(s_cat, "accounts_bal", &which);
    ck_assert_ptr_eq(a, sqlf_catalog_find(s_cat, "accounts"));
    ck_assert_uint_eq(which, 1);
    ck_assert_uint_eq(a->idx[1].ncols, 2);
    ck_assert_uint_eq(a->idx[1].cols[0], 2);
    ck_assert(!a->idx[1].ready);
    s_refuse("CREATE INDEX accounts_bal ON accounts (owner)", "42P07");
    s_refuse("CREATE INDEX ON accounts (nope)", "42703");
    s_refuse("CREATE UNIQUE INDEX u ON accounts (owner)", "0A000");

    /* DROP INDEX: the table without it. */
    st = s_plan("DROP INDEX accounts_owner");
    ck_assert_int_eq(st->ddl, HB_SQLDDL_ALTER);
    s_ddl("DROP INDEX accounts_owner");
    ck_assert_ptr_null(sqlf_catalog_find_index(s_cat, "accounts_owner", &which));
    ck_assert_ptr_nonnull(sqlf_catalog_find_index(s_cat, "accounts_bal", &which));
    s_refuse("DROP INDEX accounts_owner", "42704");
    ck_assert_int_eq(s_plan("DROP INDEX IF EXISTS accounts_owner")->kind, SQLF_ST_EMPTY);

    /* DROP TABLE of several tables, every one checked first. */
    st = s_plan("DROP TABLE logs, orders");
    ck_assert_int_eq(st->ddl, HB_SQLDDL_DROP);
    ck_assert_uint_eq(st->ddl_n, 2);
    ck_assert_str_eq(st->ddl_names[0], "logs");
    ck_assert_str_eq(st->ddl_names[1], "orders");
    s_refuse("DROP TABLE logs, nope", "42P01");
    st = s_plan("DROP TABLE IF EXISTS nope");
    ck_assert(st->missing_ok);
    st = s_plan("TRUNCATE accounts");
    ck_assert_int_eq(st->ddl, HB_SQLDDL_TRUNCATE);
    ck_assert_str_eq(st->ddl_name, "accounts");

    /* CREATE TABLE refusals. */
    s_refuse("CREATE TABLE t (a int, a int)", "42701");
    s_refuse("CREATE TABLE t (a int, b int, PRIMARY KEY (a, b)) PARTITION BY HASH (b)",
             "42P16");
    s_refuse("CREATE TABLE t (a int PRIMARY KEY, b int PRIMARY KEY)", "42P16");
    s_refuse("CREATE TABLE t (a float8 PRIMARY KEY)", "0A000");
    s_refuse("CREATE TABLE t (a nosuchtype)", "42704");
    s_refuse("CREATE TABLE t (a int, PRIMARY KEY (b))", "42703");
    s_refuse("CREATE TABLE t (a int) WITH (fillfactor = 5)", "22023");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Refusals                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_plan_errors)
{
    s_refuse("SELECT * FROM nope", "42P01");
    s_refuse("INSERT INTO nope VALUES (1)", "42P01");
    s_refuse("SELECT nope FROM accounts", "42703");
    /* The position of the name, as PostgreSQL gives it. */
    ck_assert_ptr_nonnull(strstr(s_err.msg, "at character 8"));
    s_refuse("INSERT INTO accounts (id, nope) VALUES (1, 2)", "42703");
    s_refuse("UPDATE accounts SET nope = 1 WHERE id = 1", "42703");
    s_refuse("SELECT owner + 1 FROM accounts", "42883");
    s_refuse("SELECT * FROM accounts WHERE balance", "42804");
    s_refuse("SELECT nosuchfunc(1)", "42883");
    /* 3000000000 does not fit balance's int. */
    s_refuse("INSERT INTO accounts VALUES (1, 'a', 3000000000)", "22003");
    /* A typed bigint constant in SET is converted when the row is written
     * (as in PostgreSQL): the op aborts 22003 in storage. */
    sqlf_stmt_t *st = s_plan("UPDATE accounts SET balance = 3000000000 WHERE id = 1");
    hb_val_t row[3] = {hb_val_int(1), hb_val_str("a", 1), hb_val_int(0)};
    msgpack_sbuffer old = s_row(row, 3);
    hb_sqlop_effect_t eff;
    hb_sqlerr_t err;
    ck_assert_int_eq(s_apply(st, 0, &old, &eff, &err), HB_ABORTED);
    ck_assert_str_eq(err.sqlstate, "22003");
    msgpack_sbuffer_destroy(&old);
    /* Constants are folded at plan time: their errors too. */
    s_refuse("SELECT 1 / 0", "22012");
    s_refuse("SELECT * FROM accounts WHERE id = 'abc'", "22P02");
    /* owner is NOT NULL and has no default. */
    s_refuse("INSERT INTO accounts (id) VALUES (1)", "23502");
    s_refuse("INSERT INTO accounts (id, owner) VALUES (1, NULL)", "23502");
    s_refuse("INSERT INTO accounts (owner) VALUES ('a')", "23502");
    s_refuse("INSERT INTO accounts VALUES (1, 'a', 1, 2)", "42601");
    s_refuse("INSERT INTO accounts (id, id) VALUES (1, 2)", "42701");
    s_refuse("INSERT INTO orders (w, d, o, note) VALUES (1, 1, 1, 'elevenchars')",
             "22001");
    /* Unsupported constructs say so. */
    s_refuse("SELECT 1 UNION SELECT 2", "0A000");
    s_refuse("UPDATE accounts SET id = 2 WHERE id = 1", "0A000");
    s_refuse("SELECT * FROM accounts FOR UPDATE", "0A000");
    s_refuse("SELECT * FROM other.accounts", "3F000");
}
END_TEST

START_TEST(test_plan_misc_statements)
{
    ck_assert_int_eq(s_plan("BEGIN")->kind, SQLF_ST_BEGIN);
    ck_assert_int_eq(s_plan("COMMIT")->kind, SQLF_ST_COMMIT);
    ck_assert_int_eq(s_plan("ROLLBACK")->kind, SQLF_ST_ROLLBACK);
    s_refuse("SAVEPOINT a", "0A000");
    sqlf_stmt_t *st = s_plan("SET hobbes.read_after = 12345");
    ck_assert_int_eq(st->kind, SQLF_ST_EMPTY);
    ck_assert_str_eq(st->set_name, "hobbes.read_after");
    ck_assert_str_eq(st->set_value, "12345");
    s_refuse("SET hobbes.read_after = 'x'", "22023");
    s_refuse("SET hobbes.strict_reads = 'maybe'", "22023");
    /* FROM generate_series: no table, the rows are computed. */
    st = s_plan("SELECT * FROM generate_series(1, 10, 3)");
    ck_assert(st->src.series);
    ck_assert_ptr_null(st->src.table);
    ck_assert_int_eq(st->src.ser_start, 1);
    ck_assert_int_eq(st->src.ser_step, 3);
    ck_assert_uint_eq(st->src.ser_count, 4); /* 1, 4, 7, 10 */
    s_refuse("SELECT * FROM generate_series(1, 10, 0)", "22023");
    /* No FROM: one empty row; CURRENT_TIMESTAMP is the statement's. */
    st = s_plan("SELECT CURRENT_TIMESTAMP");
    ck_assert_ptr_null(st->src.table);
    s_expect_int(s_eval(st->out[0], NULL, 0), S_NOW);
}
END_TEST

/* ------------------------------------------------------------------ */
/* KNOWN BUGS: wrong answers the planner gives today. These cases assert
 * the right answer and fail; they run only with HOBBES_KNOWN_BUGS=1, so
 * that the suite stays green until plan.c is fixed (then register them
 * with the others).                                                    */
/* ------------------------------------------------------------------ */

/* BUG: an integer literal beyond int64 saturates (s_const reads it with
 * strtoll without checking ERANGE): 99999999999999999999 becomes
 * 9223372036854775807. PostgreSQL reads it as numeric, so the SELECT
 * returns 99999999999999999999 and the WHERE matches no bigint. Here the
 * WHERE is a key-only point read of id 9223372036854775807 and the
 * INSERT stores that id instead of failing 22003. */
START_TEST(test_plan_bug_int_literal_saturates)
{
    sqlf_stmt_t *st = s_plan("SELECT 99999999999999999999");
    hb_val_t v = s_eval(st->out[0], NULL, 0);
    char buf[64];
    hb_val_format(&v, buf, sizeof buf);
    ck_assert_str_eq(buf, "99999999999999999999");
    st = s_plan("SELECT * FROM accounts WHERE id = 99999999999999999999");
    ck_assert(!st->src.point);
    hb_val_t row[3] = {hb_val_int(INT64_MAX), hb_val_str("a", 1), hb_val_int(0)};
    ck_assert(!s_test(st->src.where, row, 3));
    s_refuse("INSERT INTO accounts VALUES (99999999999999999999, 'a', 0)", "22003");
}
END_TEST

/* BUG (a divergence from PostgreSQL): integer + integer is typed integer
 * but never range-checked: SELECT 2147483647 + 1 answers 2147483648 in an
 * int4 column where PostgreSQL raises 22003 "integer out of range". */
START_TEST(test_plan_bug_int4_overflow)
{
    s_refuse("SELECT 2147483647 + 1", "22003");
}
END_TEST

typedef struct {
    const char *name;
    const TTest *fn;
} s_case_t;

static void
s_add(Suite *s, const s_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, s_setup, s_teardown);
        tcase_add_test(tc, cases[i].fn);
        suite_add_tcase(s, tc);
    }
}

static Suite *
s_suite(void)
{
    const s_case_t cases[] = {
        {"test_plan_point_select", test_plan_point_select},
        {"test_plan_point_composite", test_plan_point_composite},
        {"test_plan_range_all_partitions", test_plan_range_all_partitions},
        {"test_plan_prefix_one_partition", test_plan_prefix_one_partition},
        {"test_plan_index_read", test_plan_index_read},
        {"test_plan_params", test_plan_params},
        {"test_plan_insert", test_plan_insert},
        {"test_plan_insert_rowid", test_plan_insert_rowid},
        {"test_plan_update_point", test_plan_update_point},
        {"test_plan_ollp", test_plan_ollp},
        {"test_plan_join", test_plan_join},
        {"test_plan_aggregate", test_plan_aggregate},
        {"test_plan_ddl", test_plan_ddl},
        {"test_plan_errors", test_plan_errors},
        {"test_plan_misc_statements", test_plan_misc_statements},
    };
    const s_case_t bugs[] = {
        {"test_plan_bug_int_literal_saturates", test_plan_bug_int_literal_saturates},
        {"test_plan_bug_int4_overflow", test_plan_bug_int4_overflow},
    };
    Suite *s = suite_create("plan");
    s_add(s, cases, sizeof cases / sizeof *cases);
    if (getenv("HOBBES_KNOWN_BUGS"))
        s_add(s, bugs, sizeof bugs / sizeof *bugs);
    else
        printf("test_plan: %zu known-bug cases skipped (HOBBES_KNOWN_BUGS=1 runs them)\n",
               sizeof bugs / sizeof *bugs);
    return s;
}

int
main(void)
{
    return hb_test_run(s_suite());
}
