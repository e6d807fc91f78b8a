/* test_front.c — the SQL engine (sqlfront/front.h) built in-process, with
 * no cluster behind it.
 *
 * sqlf_front_new takes a config the caller loaded and an options struct,
 * and reads nothing else of the process (no /proc, no second config load,
 * no globals), so a test can build two engines side by side and drive
 * them through sqlf_front_on_submit, catching their RESULT frames with its
 * own reply callback. What needs no cluster is checked here: requests that
 * are refused before planning answer at once with the right SQLSTATE, each
 * engine answers its own peer, and the engines of one process share their
 * catalog generation only through the sqlf_shared_t they are given.
 * Everything that reaches the cluster is the integration suites' job.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "front.h"
#include "hb_alloc.h"
#include "hb_config.h"
#include "hb_wire.h"

/* The endpoints are never bound: ZeroMQ connects lazily, and nothing
 * these tests send reaches the cluster. */
static const char *s_cfg_text = "cluster\n"
                                "    replicas = 1\n"
                                "    partitions = 2\n"
                                "slot\n"
                                "    replica = 0\n"
                                "    partition = 0\n"
                                "    sequencer = tcp://127.0.0.1:1\n"
                                "    scheduler = tcp://127.0.0.1:2\n"
                                "    storage = tcp://127.0.0.1:3\n"
                                "slot\n"
                                "    replica = 0\n"
                                "    partition = 1\n"
                                "    sequencer = tcp://127.0.0.1:4\n"
                                "    scheduler = tcp://127.0.0.1:5\n"
                                "    storage = tcp://127.0.0.1:6\n"
                                "sqlfront\n"
                                "    id = 0\n"
                                "    replica = 0\n"
                                "    endpoint = tcp://127.0.0.1:7\n";

/* The last RESULT an engine sent, decoded. */
typedef struct {
    int nreplies;
    char peer[64];
    uint64_t req_id;
    uint32_t rc;
    char msg[512];
} s_reply_t;

static void
s_on_reply(void *arg, const uint8_t *peer, size_t peerlen, const void *frame, size_t len)
{
    s_reply_t *r = arg;
    hb_limits_t lim = HB_LIMITS_DEFAULT;
    hb_msg_t m;
    ck_assert_int_eq(hb_msg_decode(frame, len, &lim, &m), HB_OK);
    ck_assert_int_eq(m.type, HB_MSG_RESULT);
    r->nreplies++;
    snprintf(r->peer, sizeof r->peer, "%.*s", (int)peerlen, (const char *)peer);
    r->req_id = m.u.result.req_id;
    r->rc = m.u.result.rc;
    snprintf(r->msg, sizeof r->msg, "%.*s", (int)m.u.result.msg_len, m.u.result.msg);
    hb_msg_clear(&m);
}

static hb_config_t *s_cfg;
static sqlf_shared_t s_shared;

static void
s_setup(void)
{
    char err[256];
    ck_assert_msg(hb_config_parse(s_cfg_text, "test.cfg", &s_cfg, err, sizeof err) ==
                      HB_OK,
                  "%s", err);
    memset(&s_shared, 0, sizeof s_shared);
}

static void
s_teardown(void)
{
    hb_config_destroy(&s_cfg);
}

static sqlf_front_t *
s_engine(s_reply_t *r, uint32_t engine)
{
    sqlf_front_opts_t o = {.replica = 0,
                           .sqlfront_id = 0,
                           .engine = engine,
                           .reply = s_on_reply,
                           .reply_arg = r,
                           .shared = &s_shared};
    sqlf_front_t *f = sqlf_front_new(s_cfg, &o);
    ck_assert_ptr_nonnull(f);
    return f;
}

/* Submits proc(text) as peer with request id req. */
static void
s_submit(sqlf_front_t *f, const char *peer, uint64_t req, const char *proc,
         const char *text)
{
    hb_val_t arg = hb_val_str(text, (uint32_t)strlen(text));
    hb_msg_t m = {.type = HB_MSG_SUBMIT};
    m.u.submit.req_id = req;
    m.u.submit.proc = proc;
    m.u.submit.proc_len = (uint32_t)strlen(proc);
    m.u.submit.nargs = 1;
    m.u.submit.args = &arg;
    sqlf_front_on_submit(f, (const uint8_t *)peer, strlen(peer), &m);
}

START_TEST(test_front_syntax_error)
{
    s_reply_t r = {0};
    sqlf_front_t *f = s_engine(&r, 0);
    s_submit(f, "alice", 41, "sql", "SELEC 1");
    ck_assert_int_eq(r.nreplies, 1);
    ck_assert_str_eq(r.peer, "alice");
    ck_assert_uint_eq(r.req_id, 41);
    ck_assert_uint_ne(r.rc, HB_OK);
    ck_assert_msg(strncmp(r.msg, "42601 ", 6) == 0, "got \"%s\"", r.msg);
    ck_assert_msg(strstr(r.msg, "SELEC") != NULL, "got \"%s\"", r.msg);
    ck_assert_uint_eq(sqlf_front_pending(f), 0);
    sqlf_front_destroy(&f);
    ck_assert_ptr_null(f);
    sqlf_front_destroy(&f); /* idempotent */
}
END_TEST

START_TEST(test_front_not_sql)
{
    s_reply_t r = {0};
    sqlf_front_t *f = s_engine(&r, 0);
    s_submit(f, "bob", 7, "ycsb.read", "x");
    ck_assert_int_eq(r.nreplies, 1);
    ck_assert_uint_eq(r.req_id, 7);
    ck_assert_uint_ne(r.rc, HB_OK);
    ck_assert_str_ne(r.msg, "");
    sqlf_front_destroy(&f);
}
END_TEST

START_TEST(test_front_two_engines)
{
    /* Two engines of one process, as sqlfront's workers are: each answers
     * its own clients, and building them touched nothing but what they
     * were given. */
    s_reply_t r0 = {0}, r1 = {0};
    sqlf_front_t *a = s_engine(&r0, 0), *b = s_engine(&r1, 1);
    s_submit(a, "carol", 1, "sql", "SELECT FROM WHERE");
    s_submit(b, "dave", 2, "sql", "CREATE TABLE (");
    ck_assert_int_eq(r0.nreplies, 1);
    ck_assert_int_eq(r1.nreplies, 1);
    ck_assert_str_eq(r0.peer, "carol");
    ck_assert_str_eq(r1.peer, "dave");
    ck_assert_msg(strncmp(r0.msg, "42601 ", 6) == 0, "got \"%s\"", r0.msg);
    ck_assert_msg(strncmp(r1.msg, "42601 ", 6) == 0, "got \"%s\"", r1.msg);
    ck_assert_uint_eq(atomic_load(&s_shared.catalog_gen), 0);
    sqlf_front_destroy(&a);
    sqlf_front_destroy(&b);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("front");
    TCase *tc = tcase_create("front");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    /* Each engine tries its first catalog load for 2 s (nothing answers). */
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_front_syntax_error);
    tcase_add_test(tc, test_front_not_sql);
    tcase_add_test(tc, test_front_two_engines);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(s_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
