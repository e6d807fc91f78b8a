/* it_sql_schema.c — schema changes under load, on a real 1 x 3 cluster.
 *
 * Table items(id, grp, val): 300 rows, val 100 each. While it runs:
 *  - 6 writers move value between random rows (the sum never changes),
 *    regroup rows they own (id % 6 = writer), insert rows of their own with
 *    val 0 and delete some of them again; they record what committed;
 *  - a reader keeps reading sum(val) and count(*) across all partitions:
 *    every answer must show the sum unchanged (no torn read);
 *  - a DDL session creates an index on grp while the writes go on, then
 *    creates, fills and drops other tables, eight times over.
 * Afterwards every row a writer committed is there with its last group
 * and no other row is; for every group, the index lookup (`grp = g`), a
 * full scan (`grp + 0 = g`) and the writers' record agree; and the reads
 * did use the index.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb_util.h"
#include "hobbes.h"
#include "it_util.h"

#define ROWS    300
#define WRITERS 6
#define OPS     40
#define GROUPS  10
#define MAXID   (20000)

static const char *s_config;
static uint64_t s_seed;
/* Expected state: grp per id (-1: no row); each id has one owner. */
static int s_grp[MAXID];
static atomic_int s_done_writers, s_torn, s_reads, s_conflicts, s_ddl_done;

static bool
s_ok(hb_sql_t *db, const char *sql, bool conflict_ok)
{
    hb_sql_result_t *res = it_sql(db, sql);
    IT_CHECK(res, "no answer to %s: %s", sql, hb_sql_last_error(db));
    const hb_sql_result_t *l = it_sql_last(res);
    bool ok = strcmp(l->sqlstate, "00000") == 0;
    if (!ok) {
        IT_CHECK(conflict_ok && strcmp(l->sqlstate, "40001") == 0, "%s: %s %s", sql,
                 l->sqlstate, l->message);
        s_conflicts++;
        /* As in PostgreSQL, a block that failed before its COMMIT stays open
         * (aborted) until ROLLBACK. */
        hb_sql_result_t *rb = it_sql(db, "ROLLBACK");
        hb_sql_result_free(&rb);
    }
    hb_sql_result_free(&res);
    return ok;
}

static void *
s_writer(void *arg)
{
    int w = (int)(intptr_t)arg;
    uint64_t rng = s_seed * 13 + (uint64_t)w + 1;
    char err[256], sql[512];
    hb_sql_t *db = hb_sql_connect(s_config, 0, err, sizeof err);
    IT_CHECK(db, "connect: %s", err);
    int next_new = 10000 + w * 1000;
    for (int i = 0; i < OPS; i++) {
        int a = (int)(hb_xorshift(&rng) % ROWS), b = (int)(hb_xorshift(&rng) % ROWS);
        if (a == b)
            b = (a + 1) % ROWS;
        int own = (int)(hb_xorshift(&rng) % (ROWS / WRITERS)) * WRITERS + w;
        int g = (int)(hb_xorshift(&rng) % GROUPS);
        switch (hb_xorshift(&rng) % 3) {
        case 0: /* move value, regroup an own row */
            snprintf(sql, sizeof sql,
                     "BEGIN; UPDATE items SET val = val - 1 WHERE id = %d; "
                     "UPDATE items SET val = val + 1 WHERE id = %d; "
                     "UPDATE items SET grp = %d WHERE id = %d; COMMIT",
                     a, b, g, own);
            if (s_ok(db, sql, true))
                s_grp[own] = g;
            break;
        case 1: /* insert an own row */
            snprintf(sql, sizeof sql, "INSERT INTO items VALUES (%d, %d, 0)", next_new,
                     g);
            if (s_ok(db, sql, true))
                s_grp[next_new] = g;
            next_new++;
            break;
        default: /* delete the last own insert, if any */
            if (next_new > 10000 + w * 1000 && s_grp[next_new - 1] >= 0) {
                snprintf(sql, sizeof sql, "DELETE FROM items WHERE id = %d",
                         next_new - 1);
                if (s_ok(db, sql, true))
                    s_grp[next_new - 1] = -1;
            }
            break;
        }
    }
    s_done_writers++;
    hb_sql_destroy(&db);
    return NULL;
}

static void *
s_reader(void *arg)
{
    (void)arg;
    char err[256];
    hb_sql_t *db = hb_sql_connect(s_config, 0, err, sizeof err);
    IT_CHECK(db, "connect: %s", err);
    while (s_done_writers < WRITERS || !s_ddl_done) {
        hb_sql_result_t *res = it_sql(db, "SELECT sum(val), count(*) FROM items");
        IT_CHECK(res, "no answer: %s", hb_sql_last_error(db));
        const hb_sql_result_t *l = it_sql_last(res);
        if (strcmp(l->sqlstate, "00000") == 0) {
            if (l->cells[0].u.i != ROWS * 100) {
                fprintf(stderr, "torn read: sum %lld over %lld rows\n",
                        (long long)l->cells[0].u.i, (long long)l->cells[1].u.i);
                s_torn++;
            }
            s_reads++;
        } else {
            IT_CHECK(strcmp(l->sqlstate, "40001") == 0, "read: %s %s", l->sqlstate,
                     l->message);
        }
        hb_sql_result_free(&res);
    }
    hb_sql_destroy(&db);
    return NULL;
}

static void *
s_ddl(void *arg)
{
    (void)arg;
    char err[256], sql[256];
    hb_sql_t *db = hb_sql_connect(s_config, 0, err, sizeof err);
    IT_CHECK(db, "connect: %s", err);
    usleep(200 * 1000);
    s_ok(db, "CREATE INDEX items_grp ON items (grp)", false);
    for (int k = 0; k < 8; k++) {
        snprintf(sql, sizeof sql, "CREATE TABLE side_%d (id int PRIMARY KEY, v text)", k);
        s_ok(db, sql, false);
        snprintf(sql, sizeof sql, "INSERT INTO side_%d VALUES (1, 'a'), (2, 'b')", k);
        s_ok(db, sql, false);
        snprintf(sql, sizeof sql, "DROP TABLE side_%d", k);
        s_ok(db, sql, false);
    }
    s_ddl_done = 1;
    hb_sql_destroy(&db);
    return NULL;
}

/* Returns the ids of a query's single column, sorted, as a string. */
static void
s_ids(hb_sql_t *db, const char *sql, char *out, size_t cap)
{
    hb_sql_result_t *res = it_sql(db, sql);
    IT_CHECK(res && strcmp(it_sql_last(res)->sqlstate, "00000") == 0, "%s: %s", sql,
             res ? it_sql_last(res)->message : "no answer");
    size_t off = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < res->nrows && off < cap; i++)
        off +=
            (size_t)snprintf(out + off, cap - off, "%lld,", (long long)res->cells[i].u.i);
    hb_sql_result_free(&res);
}

int
main(int argc, char **argv)
{
    IT_CHECK(argc >= 2, "usage: it_sql_schema BUILD_ROOT");
    s_seed = hb_test_seed("it_sql_schema");
    it_cluster_t c;
    IT_CHECK(it_cluster_init_sql(&c, argv[1], 1, 3, "calvin", 5) == 0, "init");
    /* A second gateway, for DDL that the first learns of only from the
     * data it reads. */
    FILE *cf = fopen(c.config, "a");
    IT_CHECK(cf, "open %s", c.config);
    fprintf(cf,
            "sqlfront\n    id = 1\n    replica = 0\n    endpoint = tcp://127.0.0.1:%d\n"
            "    pg_listen = off\n",
            20000 + (int)(getpid() % 12000)); /* below the ephemeral ports it_util uses */
    fclose(cf);
    IT_CHECK(it_cluster_up(&c) == 0, "cluster up");
    s_config = c.config;
    char err[256];
    static char sql[32768];
    hb_sql_t *db = hb_sql_connect(c.config, 0, err, sizeof err);
    IT_CHECK(db, "connect: %s", err);
    s_ok(db,
         "CREATE TABLE items (id int PRIMARY KEY, grp int NOT NULL, val int NOT NULL)",
         false);
    for (int i = 0; i < MAXID; i++)
        s_grp[i] = -1;
    size_t off = (size_t)snprintf(sql, sizeof sql, "INSERT INTO items VALUES ");
    for (int i = 0; i < ROWS; i++) {
        off += (size_t)snprintf(sql + off, sizeof sql - off, "%s(%d, %d, 100)",
                                i ? ", " : "", i, i % GROUPS);
        s_grp[i] = i % GROUPS;
    }
    s_ok(db, sql, false);

    pthread_t wt[WRITERS], rt, dt;
    pthread_create(&rt, NULL, s_reader, NULL);
    pthread_create(&dt, NULL, s_ddl, NULL);
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&wt[i], NULL, s_writer, (void *)(intptr_t)i);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(wt[i], NULL);
    pthread_join(dt, NULL);
    pthread_join(rt, NULL);

    long long ireads0 = it_status_int(&c, 4, 0, 0, "sql_index_reads");
    int expected = 0;
    for (int g = 0; g < GROUPS; g++) {
        char want[8192] = "", by_index[8192], by_scan[8192];
        size_t w = 0;
        for (int id = 0; id < MAXID; id++)
            if (s_grp[id] == g)
                w += (size_t)snprintf(want + w, sizeof want - w, "%d,", id);
        for (int id = 0; id < MAXID; id++)
            expected += s_grp[id] == g;
        snprintf(sql, sizeof sql, "SELECT id FROM items WHERE grp = %d ORDER BY id", g);
        s_ids(db, sql, by_index, sizeof by_index);
        snprintf(sql, sizeof sql, "SELECT id FROM items WHERE grp + 0 = %d ORDER BY id",
                 g);
        s_ids(db, sql, by_scan, sizeof by_scan);
        IT_CHECK(strcmp(by_scan, want) == 0,
                 "group %d: scan finds [%s], writers committed [%s]", g, by_scan, want);
        IT_CHECK(strcmp(by_index, want) == 0,
                 "group %d: index finds [%s], writers committed [%s]", g, by_index, want);
    }
    long long ireads = it_status_int(&c, 4, 0, 0, "sql_index_reads") - ireads0;
    hb_sql_result_t *res = it_sql(db, "SELECT sum(val), count(*) FROM items");
    IT_CHECK(res && res->nrows == 1, "final read");
    IT_CHECK(res->cells[0].u.i == ROWS * 100, "sum %lld", (long long)res->cells[0].u.i);
    IT_CHECK(res->cells[1].u.i == expected, "%lld rows, %d committed",
             (long long)res->cells[1].u.i, expected);
    hb_sql_result_free(&res);
    printf("schema under load: %d rows, %d consistent reads, %d torn, %d conflicts "
           "(40001), %lld index reads at the end, %lld entries backfilled, %lld cut "
           "re-reads\n",
           expected, (int)s_reads, (int)s_torn, (int)s_conflicts, ireads,
           it_status_int(&c, 4, 0, 0, "sql_index_backfilled"),
           it_status_int(&c, 4, 0, 0, "sql_cut_rereads"));
    IT_CHECK(s_torn == 0, "%d torn reads", (int)s_torn);
    IT_CHECK(ireads >= GROUPS, "the lookups did not use the index (%lld index reads)",
             ireads);

    /* DDL through the other gateway: this one's next read must see the new
     * table, not the dropped one's rows. */
    hb_sql_t *g1 = hb_sql_connect(c.config, 1, err, sizeof err);
    IT_CHECK(g1, "connect gateway 1: %s", err);
    it_sql_ok(db, "CREATE TABLE g (id int PRIMARY KEY, v int)");
    it_sql_ok(db, "INSERT INTO g VALUES (1, 1), (2, 2)");
    res = it_sql(db, "SELECT count(*) FROM g");
    IT_CHECK(res && res->nrows == 1 && res->cells[0].u.i == 2, "two rows");
    hb_sql_result_free(&res);
    it_sql_ok(g1, "DROP TABLE g");
    it_sql_ok(g1, "CREATE TABLE g (id int PRIMARY KEY, w text)");
    it_sql_ok(g1, "INSERT INTO g VALUES (7, 'new')");
    res = it_sql(db, "SELECT * FROM g");
    IT_CHECK(res && strcmp(it_sql_last(res)->sqlstate, "00000") == 0,
             "read after DDL: %s", res ? it_sql_last(res)->message : "no answer");
    IT_CHECK(res->ncols == 2 && strcmp(res->colnames[1], "w") == 0 && res->nrows == 1 &&
                 res->cells[0].u.i == 7,
             "gateway 0 read the old table: %u columns, %u rows", res->ncols, res->nrows);
    hb_sql_result_free(&res);
    hb_sql_destroy(&g1);
    hb_sql_destroy(&db);
    it_cluster_cleanup(&c);
    return 0;
}
