/* it_sql_txn.c — transaction blocks under concurrency, on a real cluster.
 *
 * 1. Blind increments do not conflict: 8 sessions each send 40 blocks
 *    `BEGIN; UPDATE hits SET n = n + 1 WHERE id = 0; ... id = 1; COMMIT`;
 *    every block commits (no 40001), and both counters end at 320.
 * 2. No torn reads: 8 sessions each send 30 blocks that read every
 *    account (`SELECT sum(bal), count(*) FROM acct`), move a random amount
 *    between two random accounts (blind updates) and read both again.
 *    Other sessions commit between a block's reads and its execution, so
 *    blocks fail their CHECKs and sqlfront runs them again; a block that
 *    still cannot commit answers 40001. Every answered block must have
 *    seen the total unchanged (a consistent view), and at the end the
 *    total is conserved and equals the sum of the committed transfers'
 *    effects on each account.
 * 3. Blind writes across requests do not conflict (pgbench's tpcb-like
 *    script, one statement per request): 8 sessions each run 25 blocks
 *    BEGIN / UPDATE account / SELECT it / UPDATE teller / UPDATE the one
 *    branch / INSERT history / END. Every block commits (the branch's
 *    UPDATE is validated on existence only), and the balances add up.
 * 4. sql.describe and sql.close (the wire protocol's Describe and
 *    Terminate), sent as raw SUBMITs on a session of their own.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "hb_expr.h"
#include "hb_util.h"
#include "hb_wire.h"
#include "hobbes.h"
#include "it_util.h"

#define SESSIONS 8
#define INCS     40
#define XFERS    30
#define ACCOUNTS 10
#define BALANCE  1000

static const char *s_config;
static uint64_t s_seed;
static atomic_llong s_committed, s_serial_fail, s_other_fail, s_torn;
static atomic_llong s_delta[ACCOUNTS];

static void *
s_incs(void *arg)
{
    (void)arg;
    char err[256];
    hb_sql_t *db = hb_sql_connect(s_config, 0, err, sizeof err);
    IT_CHECK(db, "connect: %s", err);
    for (int i = 0; i < INCS; i++) {
        hb_sql_result_t *res =
            it_sql(db, "BEGIN; UPDATE hits SET n = n + 1 WHERE id = 0; "
                       "UPDATE hits SET n = n + 1 WHERE id = 1; COMMIT");
        IT_CHECK(res, "exec failed: %s", hb_sql_last_error(db));
        const hb_sql_result_t *l = it_sql_last(res);
        IT_CHECK(strcmp(l->sqlstate, "00000") == 0 && strcmp(l->tag, "COMMIT") == 0,
                 "blind increments must not conflict: %s %s", l->sqlstate, l->message);
        hb_sql_result_free(&res);
    }
    hb_sql_destroy(&db);
    return NULL;
}

#define TPCB_BLOCKS 25

/* Runs one statement that must succeed; returns its last result. */
static hb_sql_result_t *
s_must(hb_sql_t *db, const char *sql)
{
    hb_sql_result_t *res = it_sql(db, sql);
    IT_CHECK(res, "exec failed: %s", hb_sql_last_error(db));
    const hb_sql_result_t *l = it_sql_last(res);
    IT_CHECK(strcmp(l->sqlstate, "00000") == 0, "%s: %s %s", sql, l->sqlstate,
             l->message);
    return res;
}

static void *
s_tpcb(void *arg)
{
    int id = (int)(intptr_t)arg;
    char err[256], sql[512];
    hb_sql_t *db = hb_sql_connect(s_config, 0, err, sizeof err);
    IT_CHECK(db, "connect: %s", err);
    for (int i = 0; i < TPCB_BLOCKS; i++) {
        int aid = id * 100 + i + 1, tid = id + 1, delta = i + 1;
        hb_sql_result_free(&(hb_sql_result_t *){s_must(db, "BEGIN")});
        snprintf(sql, sizeof sql, "UPDATE pa SET abalance = abalance + %d WHERE aid = %d",
                 delta, aid);
        hb_sql_result_t *res = s_must(db, sql);
        IT_CHECK(strcmp(res->tag, "UPDATE 1") == 0, "tag %s", res->tag);
        hb_sql_result_free(&res);
        snprintf(sql, sizeof sql, "SELECT abalance FROM pa WHERE aid = %d", aid);
        res = s_must(db, sql);
        IT_CHECK(res->nrows == 1 && res->cells[0].u.i == delta, "abalance in the block");
        hb_sql_result_free(&res);
        snprintf(sql, sizeof sql, "UPDATE pt SET tbalance = tbalance + %d WHERE tid = %d",
                 delta, tid);
        hb_sql_result_free(&(hb_sql_result_t *){s_must(db, sql)});
        snprintf(sql, sizeof sql, "UPDATE pb SET bbalance = bbalance + %d WHERE bid = 1",
                 delta);
        hb_sql_result_free(&(hb_sql_result_t *){s_must(db, sql)});
        snprintf(sql, sizeof sql,
                 "INSERT INTO ph (tid, bid, aid, delta, mtime) VALUES (%d, 1, %d, %d, "
                 "CURRENT_TIMESTAMP)",
                 tid, aid, delta);
        hb_sql_result_free(&(hb_sql_result_t *){s_must(db, sql)});
        res = it_sql(db, "END");
        IT_CHECK(res, "exec failed: %s", hb_sql_last_error(db));
        IT_CHECK(strcmp(it_sql_last(res)->sqlstate, "00000") == 0,
                 "blind writes must not conflict: %s %s", it_sql_last(res)->sqlstate,
                 it_sql_last(res)->message);
        hb_sql_result_free(&res);
    }
    hb_sql_destroy(&db);
    return NULL;
}

/* Sends SUBMIT proc [arg] on sock (a DEALER to the sqlfront) and returns
 * the RESULT's text "rc|msg|v1|v2|..." in out. */
static void
s_raw(void *sock, const char *proc, const char *arg, char *out, size_t cap)
{
    static uint64_t req = 100;
    hb_msg_t m = {.type = HB_MSG_SUBMIT};
    hb_val_t a = hb_val_str(arg ? arg : "", arg ? (uint32_t)strlen(arg) : 0);
    m.u.submit.req_id = ++req;
    m.u.submit.proc = proc;
    m.u.submit.proc_len = (uint32_t)strlen(proc);
    m.u.submit.args = &a;
    m.u.submit.nargs = arg ? 1 : 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    IT_CHECK(hb_msg_encode(&m, &sb) == HB_OK, "encode");
    IT_CHECK(zmq_send(sock, sb.data, sb.size, 0) == (int)sb.size, "send");
    msgpack_sbuffer_destroy(&sb);
    static uint8_t buf[1 << 16];
    int n = zmq_recv(sock, buf, sizeof buf, 0);
    IT_CHECK(n > 0, "no answer to %s", proc);
    hb_msg_t r;
    hb_limits_t lim = HB_LIMITS_DEFAULT;
    IT_CHECK(hb_msg_decode(buf, (size_t)n, &lim, &r) == HB_OK &&
                 r.type == HB_MSG_RESULT && r.u.result.req_id == req,
             "a RESULT");
    size_t off = (size_t)snprintf(out, cap, "%u|%.*s", r.u.result.rc,
                                  (int)r.u.result.msg_len, r.u.result.msg);
    for (uint32_t i = 0; i < r.u.result.nvals && off < cap; i++) {
        char v[128];
        hb_val_format(&r.u.result.vals[i], v, sizeof v);
        off += (size_t)snprintf(out + off, cap - off, "|%s", v);
    }
    hb_msg_clear(&r);
}

static void
s_describe_cases(const it_cluster_t *c)
{
    void *zctx = zmq_ctx_new();
    void *sock = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0, tmo = 10000;
    uint8_t rid[8] = {0x81, 2, 3, 4, 5, 6, 7, 8};
    zmq_setsockopt(sock, ZMQ_ROUTING_ID, rid, sizeof rid);
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    IT_CHECK(zmq_connect(sock, it_sqlfront_endpoint(c)) == 0, "connect");
    static const struct {
        const char *sql, *want;
    } cases[] = {
        {"UPDATE pa SET abalance = abalance + $1 WHERE aid = $2",
         "0||2|integer|integer|0"},
        {"SELECT abalance FROM pa WHERE aid = $1", "0||1|integer|1|abalance|integer"},
        {"INSERT INTO ph (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, "
         "CURRENT_TIMESTAMP)",
         "0||4|integer|integer|integer|integer|0"},
        {"SELECT $1, count(*) AS n FROM pb", "0||1|unknown|2|?column?|text|n|bigint"},
        {"DELETE FROM pt WHERE tid = $1::bigint RETURNING tid, tbalance",
         "0||1|bigint|2|tid|integer|tbalance|integer"},
        {"BEGIN", "0||0|0"},
        {"SELECT * FROM nosuch",
         "9|42P01 relation \"nosuch\" does not exist at character 15"},
        {"SELECT 1; SELECT 2",
         "9|42601 cannot insert multiple commands into a prepared statement"},
    };
    char got[1024];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        s_raw(sock, "sql.describe", cases[i].sql, got, sizeof got);
        IT_CHECK(strcmp(got, cases[i].want) == 0, "describe %s: got %s, want %s",
                 cases[i].sql, got, cases[i].want);
    }
    /* An open block of this session is rolled back by sql.close. */
    s_raw(sock, "sql", "BEGIN; UPDATE pb SET bbalance = bbalance + 1000 WHERE bid = 1",
          got, sizeof got);
    IT_CHECK(strncmp(got, "0|", 2) == 0, "block: %s", got);
    s_raw(sock, "sql.close", NULL, got, sizeof got);
    IT_CHECK(strcmp(got, "0|") == 0, "close: %s", got);
    s_raw(sock, "sql", "COMMIT", got, sizeof got); /* a new session: no block */
    IT_CHECK(strncmp(got, "0||COMMIT", 9) == 0, "after close: %s", got);
    zmq_close(sock);
    zmq_ctx_term(zctx);
}

static long long
s_int(hb_sql_t *db, const char *sql)
{
    hb_sql_result_t *res = s_must(db, sql);
    IT_CHECK(res->nrows == 1 && res->cells[0].type == HB_VAL_INT, "%s: one integer", sql);
    long long v = res->cells[0].u.i;
    hb_sql_result_free(&res);
    return v;
}

static void *
s_xfers(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = s_seed * 31 + (uint64_t)id + 1;
    char err[256], sql[512];
    hb_sql_t *db = hb_sql_connect(s_config, 0, err, sizeof err);
    IT_CHECK(db, "connect: %s", err);
    for (int i = 0; i < XFERS; i++) {
        int a = (int)(hb_xorshift(&rng) % ACCOUNTS),
            b = (int)(hb_xorshift(&rng) % ACCOUNTS);
        if (a == b)
            b = (a + 1) % ACCOUNTS;
        int amount = (int)(hb_xorshift(&rng) % 50) + 1;
        snprintf(sql, sizeof sql,
                 "BEGIN; SELECT sum(bal), count(*) FROM acct; "
                 "UPDATE acct SET bal = bal - %d WHERE id = %d; "
                 "UPDATE acct SET bal = bal + %d WHERE id = %d; "
                 "SELECT sum(bal) FROM acct; COMMIT",
                 amount, a, amount, b);
        hb_sql_result_t *res = it_sql(db, sql);
        IT_CHECK(res, "exec failed: %s", hb_sql_last_error(db));
        const hb_sql_result_t *l = it_sql_last(res);
        if (strcmp(l->sqlstate, "40001") == 0) {
            s_serial_fail++;
            hb_sql_result_t *rb =
                it_sql(db, "ROLLBACK"); /* in case it failed before COMMIT */
            hb_sql_result_free(&rb);
        } else if (strcmp(l->sqlstate, "00000") != 0) {
            s_other_fail++;
            fprintf(stderr, "unexpected %s: %s\n", l->sqlstate, l->message);
        } else {
            /* BEGIN, SELECT, UPDATE, UPDATE, SELECT, COMMIT */
            const hb_sql_result_t *sel1 = res->next, *sel2 = sel1->next->next->next;
            IT_CHECK(sel1->nrows == 1 && sel2->nrows == 1, "selects returned rows");
            IT_CHECK(sel1->cells[0].type == HB_VAL_INT &&
                         sel2->cells[0].type == HB_VAL_INT,
                     "sum(bigint) is an integer");
            long long sum1 = sel1->cells[0].u.i, cnt = sel1->cells[1].u.i;
            long long sum2 = sel2->cells[0].u.i;
            if (sum1 != (long long)ACCOUNTS * BALANCE || sum2 != sum1 ||
                cnt != ACCOUNTS) {
                fprintf(stderr, "torn read: sum %lld then %lld over %lld rows\n", sum1,
                        sum2, cnt);
                s_torn++;
            }
            s_delta[a] -= amount;
            s_delta[b] += amount;
            s_committed++;
        }
        hb_sql_result_free(&res);
    }
    hb_sql_destroy(&db);
    return NULL;
}

/* Runs SESSIONS threads of fn (argument: the session number) to the end. */
static void
s_sessions(void *(*fn)(void *))
{
    pthread_t th[SESSIONS];
    for (int i = 0; i < SESSIONS; i++)
        pthread_create(&th[i], NULL, fn, (void *)(intptr_t)i);
    for (int i = 0; i < SESSIONS; i++)
        pthread_join(th[i], NULL);
}

/* Creates the hit counters and the funded accounts. */
static void
s_setup(hb_sql_t *db)
{
    char sql[1024];
    size_t off = (size_t)snprintf(sql, sizeof sql, "INSERT INTO acct VALUES ");
    for (int i = 0; i < ACCOUNTS; i++)
        off += (size_t)snprintf(sql + off, sizeof sql - off, "%s(%d, %d)", i ? ", " : "",
                                i, BALANCE);
    const char *setup[] = {"CREATE TABLE hits (id int PRIMARY KEY, n bigint NOT NULL)",
                           "INSERT INTO hits VALUES (0, 0), (1, 0)",
                           "CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL)",
                           sql};
    for (size_t i = 0; i < sizeof setup / sizeof *setup; i++) {
        hb_sql_result_t *res = it_sql(db, setup[i]);
        IT_CHECK(res && strcmp(it_sql_last(res)->sqlstate, "00000") == 0, "setup %zu: %s",
                 i, res ? it_sql_last(res)->message : "timeout");
        hb_sql_result_free(&res);
    }
}

/* Blind increments from every session: no conflicts, exact counters. */
static void
s_check_incs(hb_sql_t *db)
{
    s_sessions(s_incs);
    hb_sql_result_t *res = it_sql(db, "SELECT n FROM hits ORDER BY id");
    IT_CHECK(res && res->nrows == 2, "read hits");
    IT_CHECK(res->cells[0].u.i == SESSIONS * INCS && res->cells[1].u.i == SESSIONS * INCS,
             "counters %lld, %lld, want %d", (long long)res->cells[0].u.i,
             (long long)res->cells[1].u.i, SESSIONS * INCS);
    hb_sql_result_free(&res);
    printf("blind increments: %d blocks, no conflicts, counters %d\n", SESSIONS * INCS,
           SESSIONS * INCS);
}

/* Transfers from every session; each account must equal its start plus
 * the committed deltas. Returns the total of the balances. */
static long long
s_check_xfers(hb_sql_t *db)
{
    s_sessions(s_xfers);
    hb_sql_result_t *res = it_sql(db, "SELECT id, bal FROM acct ORDER BY id");
    IT_CHECK(res && res->nrows == ACCOUNTS, "read accounts");
    long long total = 0;
    for (int i = 0; i < ACCOUNTS; i++) {
        long long bal = res->cells[2 * i + 1].u.i;
        total += bal;
        IT_CHECK(bal == BALANCE + s_delta[i], "account %d: %lld, want %lld", i, bal,
                 (long long)(BALANCE + s_delta[i]));
    }
    hb_sql_result_free(&res);
    return total;
}

/* A strict read is a transaction; a default read is not. */
static void
s_check_strict_reads(it_cluster_t *c, hb_sql_t *db)
{
    long long txns0 = it_status_int(c, 4, 0, 0, "sql_txns");
    hb_sql_result_t *res = it_sql(db, "SELECT sum(bal) FROM acct");
    IT_CHECK(res && res->nrows == 1, "snapshot read");
    hb_sql_result_free(&res);
    long long txns1 = it_status_int(c, 4, 0, 0, "sql_txns");
    res = it_sql(db, "SET hobbes.strict_reads = on; SELECT sum(bal) FROM acct");
    IT_CHECK(res && res->next && res->next->nrows == 1 &&
                 res->next->cells[0].u.i == (long long)ACCOUNTS * BALANCE,
             "strict read");
    hb_sql_result_free(&res);
    long long txns2 = it_status_int(c, 4, 0, 0, "sql_txns");
    IT_CHECK(txns1 == txns0 && txns2 == txns1 + 1,
             "transactions: %lld, %lld after a snapshot read, %lld after a strict one",
             txns0, txns1, txns2);
}

/* A block open across requests while another session changes the table's
 * definition: its COMMIT must fail (40001), not write into the old table. */
static void
s_check_commit_after_ddl(it_cluster_t *c, hb_sql_t *db)
{
    char err[256];
    hb_sql_t *other = hb_sql_connect(c->config, 0, err, sizeof err);
    IT_CHECK(other, "connect: %s", err);
    it_sql_ok(db, "CREATE TABLE tr (id int PRIMARY KEY, v int)");
    it_sql_ok(db, "BEGIN");
    it_sql_ok(db, "INSERT INTO tr VALUES (2, 2)");
    it_sql_ok(other, "TRUNCATE tr");
    hb_sql_result_t *res = it_sql(db, "COMMIT");
    IT_CHECK(res && strcmp(it_sql_last(res)->sqlstate, "40001") == 0,
             "COMMIT after a concurrent TRUNCATE: %s %s",
             res ? it_sql_last(res)->sqlstate : "-",
             res ? it_sql_last(res)->message : "no answer");
    hb_sql_result_free(&res);
    res = it_sql(db, "SELECT count(*) FROM tr");
    IT_CHECK(res && res->nrows == 1 && res->cells[0].u.i == 0, "tr is empty");
    hb_sql_result_free(&res);
    hb_sql_destroy(&other);
}

/* The pgbench-like tables; two open blocks increment the same row and
 * both commit; then one teller per session and TPCB_BLOCKS accounts each. */
static void
s_tpcb_setup(it_cluster_t *c, hb_sql_t *db)
{
    char err[256], sql[1024];
    it_sql_ok(db, "CREATE TABLE pb (bid int PRIMARY KEY, bbalance int)");
    it_sql_ok(db, "CREATE TABLE pt (tid int PRIMARY KEY, bid int, tbalance int)");
    it_sql_ok(
        db, "CREATE TABLE pa (aid int NOT NULL, bid int, abalance int, filler char(84))");
    it_sql_ok(db,
              "CREATE TABLE ph (tid int, bid int, aid int, delta int, mtime timestamp, "
              "filler char(22))");
    it_sql_ok(db, "INSERT INTO pb VALUES (1, 0)");
    hb_sql_t *other = hb_sql_connect(c->config, 0, err, sizeof err);
    IT_CHECK(other, "connect: %s", err);
    it_sql_ok(db, "BEGIN");
    it_sql_ok(other, "BEGIN");
    it_sql_ok(db, "UPDATE pb SET bbalance = bbalance + 1 WHERE bid = 1");
    it_sql_ok(other, "UPDATE pb SET bbalance = bbalance + 2 WHERE bid = 1");
    it_sql_ok(db, "COMMIT");
    it_sql_ok(other, "COMMIT");
    IT_CHECK(s_int(db, "SELECT bbalance FROM pb WHERE bid = 1") == 3, "both increments");
    it_sql_ok(db, "UPDATE pb SET bbalance = 0 WHERE bid = 1");
    hb_sql_destroy(&other);
    for (int t = 0; t < SESSIONS; t++) {
        snprintf(sql, sizeof sql, "INSERT INTO pt VALUES (%d, 1, 0)", t + 1);
        it_sql_ok(db, sql);
        for (int i = 0; i < TPCB_BLOCKS; i++) {
            snprintf(sql, sizeof sql, "INSERT INTO pa VALUES (%d, 1, 0, '')",
                     t * 100 + i + 1);
            it_sql_ok(db, sql);
        }
    }
    it_sql_ok(db, "ALTER TABLE pa ADD PRIMARY KEY (aid)");
}

/* tpcb-like blocks from every session, each over several requests: every
 * balance and the history add up. Returns the branch balance. */
static long long
s_check_tpcb(hb_sql_t *db)
{
    s_sessions(s_tpcb);
    long long want = (long long)SESSIONS * TPCB_BLOCKS * (TPCB_BLOCKS + 1) / 2;
    IT_CHECK(s_int(db, "SELECT bbalance FROM pb WHERE bid = 1") == want,
             "branch balance");
    IT_CHECK(s_int(db, "SELECT sum(tbalance) FROM pt") == want, "teller balances");
    IT_CHECK(s_int(db, "SELECT sum(abalance) FROM pa") == want, "account balances");
    IT_CHECK(s_int(db, "SELECT sum(delta) FROM ph") == want, "history");
    IT_CHECK(s_int(db, "SELECT count(*) FROM ph") == SESSIONS * TPCB_BLOCKS,
             "history rows");
    printf("tpcb-like blocks over requests: %d committed, no conflicts, branch %lld\n",
           SESSIONS * TPCB_BLOCKS, want);
    return want;
}

int
main(int argc, char **argv)
{
    IT_CHECK(argc >= 2, "usage: it_sql_txn BUILD_ROOT");
    s_seed = hb_test_seed("it_sql_txn");
    it_cluster_t c;
    IT_CHECK(it_cluster_init_sql(&c, argv[1], 1, 3, "calvin", 5) == 0, "init");
    IT_CHECK(it_cluster_up(&c) == 0, "cluster up");
    s_config = c.config;
    char err[256];
    hb_sql_t *db = hb_sql_connect(c.config, 0, err, sizeof err);
    IT_CHECK(db, "connect: %s", err);
    s_setup(db);

    s_check_incs(db);
    long long total = s_check_xfers(db);
    s_check_strict_reads(&c, db);
    s_check_commit_after_ddl(&c, db);
    long long retries = it_status_int(&c, 4, 0, 0, "sql_block_retries");
    printf(
        "transfers: %lld committed, %lld answered 40001, %lld re-runs inside sqlfront, "
        "%lld torn reads, total %lld\n",
        (long long)s_committed, (long long)s_serial_fail, retries, (long long)s_torn,
        total);
    IT_CHECK(s_torn == 0, "%lld blocks saw a torn state", (long long)s_torn);
    IT_CHECK(s_other_fail == 0, "%lld blocks failed otherwise", (long long)s_other_fail);
    IT_CHECK(total == (long long)ACCOUNTS * BALANCE, "total %lld", total);
    IT_CHECK(s_committed > 0, "no transfer committed");

    s_tpcb_setup(&c, db);
    long long want = s_check_tpcb(db);
    s_describe_cases(&c);
    IT_CHECK(s_int(db, "SELECT bbalance FROM pb WHERE bid = 1") == want,
             "sql.close rolled the block back");
    printf("sql.describe and sql.close: ok\n");
    hb_sql_destroy(&db);
    it_cluster_cleanup(&c);
    return 0;
}
