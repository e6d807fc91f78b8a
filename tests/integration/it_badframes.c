/* it_badframes.c — hostile input against every process of a live cluster:
 * random garbage, every truncation of valid frames, wrong versions and
 * types, multi-part messages, empty frames and oversized frames. Every
 * process must stay up, count what it rejected, and keep serving; bad calls
 * from a well-formed client get clear errors. */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "hb_config.h"
#include "hb_wire.h"
#include "hb_util.h"
#include "hobbes.h"
#include "it_util.h"

static void
s_attack(void *zctx, const char *endpoint, uint64_t *rng)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    IT_CHECK(zmq_connect(s, endpoint) == 0, "connect %s", endpoint);
    uint8_t buf[4096];
    /* Random garbage of random lengths. */
    for (int i = 0; i < 2000; i++) {
        size_t len = hb_xorshift(rng) % sizeof buf;
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)hb_xorshift(rng);
        if (len && i % 3 == 0)
            buf[0] = (uint8_t)(0x90 + (hb_xorshift(rng) % 16)); /* looks like an array */
        zmq_send(s, buf, len, 0);
    }
    /* Every truncation of valid frames of several types. */
    /* (Well-formed messages forged by an unauthenticated peer, such as a
     * HELLO, are kept out by CURVE authentication, not by the decoder.) */
    hb_msg_t msgs[4] = {{.type = HB_MSG_DONE},
                        {.type = HB_MSG_RESET},
                        {.type = HB_MSG_REPLAY},
                        {.type = HB_MSG_SUBMIT}};
    msgs[0].u.done.incarnation = 999999;
    msgs[1].u.hello.incarnation = 999999;
    msgs[2].u.replay.partition = 60000; /* not a partition */
    msgs[3].u.submit.proc = "kv.get";
    msgs[3].u.submit.proc_len = 6;
    for (int m = 0; m < 4; m++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        IT_CHECK(hb_msg_encode(&msgs[m], &sb) == HB_OK, "encode");
        for (size_t cut = 0; cut < sb.size; cut++)
            zmq_send(s, sb.data, cut, 0);
        zmq_send(s, sb.data, sb.size, 0); /* the whole thing: semantically bad */
        msgpack_sbuffer_destroy(&sb);
    }
    /* Wrong version, unknown type, huge declared lengths. */
    uint8_t bad_version[] = {0x93, 0x07, 0x01, 0x00};
    uint8_t bad_type[] = {0x92, 0x01, 0x7f};
    uint8_t huge_array[] = {0x95, 0x01, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff};
    uint8_t huge_str[] = {0x94, 0x01, 0x01, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    zmq_send(s, bad_version, sizeof bad_version, 0);
    zmq_send(s, bad_type, sizeof bad_type, 0);
    zmq_send(s, huge_array, sizeof huge_array, 0);
    zmq_send(s, huge_str, sizeof huge_str, 0);
    /* Multi-part and empty messages. */
    zmq_send(s, "a", 1, ZMQ_SNDMORE);
    zmq_send(s, "b", 1, ZMQ_SNDMORE);
    zmq_send(s, "c", 1, 0);
    zmq_send(s, "", 0, 0);
    zmq_close(s);

    /* A frame over max_frame_bytes: libzmq drops the connection. */
    void *big = zmq_socket(zctx, ZMQ_DEALER);
    zmq_setsockopt(big, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(big, endpoint);
    size_t biglen = (size_t)(16u << 20) + 1024;
    char *huge = calloc(1, biglen);
    zmq_send(big, huge, biglen, 0);
    free(huge);
    zmq_close(big);
}

int
main(int argc, char **argv)
{
    IT_CHECK(argc == 2, "usage: it_badframes BUILD_ROOT");
    uint64_t seed = hb_test_seed("it_badframes");
    it_cluster_t c;
    IT_CHECK(it_cluster_init(&c, argv[1], 1, 2, "calvin", 10) == 0, "init");
    IT_CHECK(it_cluster_up(&c) == 0, "cluster up");

    char err[256];
    hb_config_t *cfg = NULL;
    IT_CHECK(hb_config_load(c.config, &cfg, err, sizeof err) == HB_OK, "%s", err);
    void *zctx = zmq_ctx_new();
    int roles[3] = {HB_ROLE_SEQUENCER, HB_ROLE_SCHEDULER, HB_ROLE_STORAGE};
    long long before[3][2];
    for (int ri = 0; ri < 3; ri++)
        for (int p = 0; p < 2; p++) {
            before[ri][p] = it_status_int(&c, roles[ri], 0, p, "frames_rejected");
            s_attack(
                zctx,
                hb_config_endpoint(cfg, hb_node((hb_role_t)roles[ri], 0, (uint16_t)p)),
                &seed);
        }
    zmq_ctx_term(zctx);
    it_sleep_ms(500);

    for (int ri = 0; ri < 3; ri++)
        for (int p = 0; p < 2; p++) {
            long long after = it_status_int(&c, roles[ri], 0, p, "frames_rejected");
            printf("role %d p%d: frames_rejected %lld -> %lld\n", roles[ri], p,
                   before[ri][p], after);
            IT_CHECK(after > before[ri][p] + 1000, "process role %d p%d counted %lld",
                     roles[ri], p, after - before[ri][p]);
        }

    /* Still serving, with clear errors for bad calls. */
    hb_client_t *cl = hb_client_new(c.config, 0, err, sizeof err);
    IT_CHECK(cl, "%s", err);
    hb_result_t *res = NULL;
    hb_val_t put[2] = {hb_val_str("k", 1), hb_val_int(41)};
    IT_CHECK(hb_client_call(cl, "kv.put", put, 2, 10000, &res) == HB_OK &&
                 res->rc == HB_OK,
             "kv.put after attack");
    hb_result_destroy(&res);
    hb_val_t add[2] = {hb_val_str("k", 1), hb_val_int(1)};
    IT_CHECK(hb_client_call(cl, "kv.add", add, 2, 10000, &res) == HB_OK &&
                 res->rc == HB_OK && res->nvals == 1 && res->vals[0].type == HB_VAL_INT &&
                 res->vals[0].u.i == 42,
             "kv.add returns 42");
    hb_result_destroy(&res);
    hb_val_t bad[2] = {hb_val_str("k", 1), hb_val_str("x", 1)};
    IT_CHECK(hb_client_call(cl, "kv.add", bad, 2, 10000, &res) == HB_INVALID,
             "non-integer delta rejected: %s", hb_client_last_error(cl));
    hb_result_destroy(&res);
    IT_CHECK(hb_client_call(cl, "no.such", bad, 2, 10000, &res) == HB_NOTFOUND,
             "unknown procedure rejected");
    hb_result_destroy(&res);
    hb_client_destroy(&cl);
    hb_config_destroy(&cfg);
    it_cluster_cleanup(&c);
    printf("PASS\n");
    return 0;
}
