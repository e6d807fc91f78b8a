/* main.c — hobbes-sqlfront: the SQL gateway process.
 *
 * `hobbes-sqlfront --config FILE --id N [--data DIR] [--log-level L]
 * [--pidfile F]` binds one ROUTER at the endpoint of sqlfront N in the
 * config, answers STATUS_REQ itself, and hands every SUBMIT to the engine
 * (front.c), which answers through s_reply. Frames that do not decode are
 * counted by the wire layer and dropped; a client may send several frames
 * in one multipart message.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "front.h"
#include "hb_config.h"
#include "hb_log.h"
#include "hb_util.h"
#include "hb_wire.h"

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* Sends [peer][frame] on the ROUTER; a peer that is gone is dropped. */
static void
s_reply(void *arg, const uint8_t *peer, size_t peerlen, const void *frame, size_t len)
{
    void *router = arg;
    if (zmq_send(router, peer, peerlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(router, frame, len, ZMQ_DONTWAIT) < 0)
        hb_debug("reply dropped: %s", zmq_strerror(zmq_errno()));
}

static void
s_status(void *router, const uint8_t *peer, size_t peerlen, sqlf_front_t *front,
         int64_t started, uint16_t id)
{
    hb_wire_stat_t st[40];
    uint32_t n = sqlf_front_stats(front, st, 32);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const struct {
        const char *name;
        int64_t v;
    } extra[] = {
        {"pid", getpid()},
        {"uptime_ms", (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - started},
        {"sqlfront_id", id},
        {"frames_ok", (int64_t)hb_wire_stats.frames_ok},
        {"frames_rejected", (int64_t)hb_wire_stats.frames_rejected},
    };
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++, n++) {
        st[n].name = extra[i].name;
        st[n].name_len = (uint32_t)strlen(extra[i].name);
        st[n].val = hb_val_int(extra[i].v);
    }
    const char *role = "sqlfront";
    st[n].name = "role";
    st[n].name_len = 4;
    st[n].val = hb_val_str(role, (uint32_t)strlen(role));
    n++;
    hb_msg_t m = {.type = HB_MSG_STATUS};
    m.u.status.nstats = n;
    m.u.status.stats = st;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (hb_msg_encode(&m, &sb) == HB_OK)
        s_reply(router, peer, peerlen, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void
s_usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --config FILE --id N [--data DIR]\n"
            "          [--log-level debug|info|warn|error] [--pidfile FILE]\n",
            argv0);
}

int
main(int argc, char **argv)
{
    const char *config_path = NULL, *level = NULL, *pidfile = NULL;
    long id = -1;
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},    {"id", required_argument, NULL, 'i'},
        {"data", required_argument, NULL, 'd'},      {"log-level", required_argument, NULL, 'l'},
        {"pidfile", required_argument, NULL, 'f'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:i:d:l:f:h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'i':
            id = strtol(optarg, &end, 10);
            if (*end || id < 0 || id > 65535)
                id = -2;
            break;
        case 'd': break; /* the gateway keeps no data; accepted like the others */
        case 'l': level = optarg; break;
        case 'f': pidfile = optarg; break;
        default: s_usage(argv[0]); return 2;
        }
    }
    if (!config_path || id < 0) {
        s_usage(argv[0]);
        return 2;
    }
    char err[512];
    hb_config_t *cfg = NULL;
    if (hb_config_load(config_path, &cfg, err, sizeof err) != HB_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        return 1;
    }
    char ident[32];
    snprintf(ident, sizeof ident, "sqlf %ld", id);
    hb_log_set_identity(ident);
    int lvl = hb_log_level_parse(level ? level : cfg->log_level);
    if (lvl >= 0)
        hb_log_set_level((hb_log_level_t)lvl);
    const hb_sqlfront_cfg_t *me = hb_config_sqlfront(cfg, (uint16_t)id);
    if (!me) {
        fprintf(stderr, "%s: %s has no sqlfront with id %ld\n", argv[0], config_path, id);
        hb_config_destroy(&cfg);
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    void *zctx = zmq_ctx_new();
    void *router = zmq_socket(zctx, ZMQ_ROUTER);
    int zero = 0, hwm = 100000;
    int64_t maxmsg = cfg->limits.max_frame_bytes;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    int exit_code = 0;
    sqlf_front_t *front = NULL;
    if (zmq_bind(router, me->endpoint) < 0) {
        hb_error("cannot bind %s: %s", me->endpoint, zmq_strerror(zmq_errno()));
        exit_code = 1;
        goto out;
    }
    front = sqlf_front_new(config_path, me->replica, s_reply, router);
    if (!front) {
        exit_code = 1;
        goto out;
    }
    if (pidfile) {
        FILE *f = fopen(pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t started = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    hb_info("started (pid %d) on %s, submitting to replica %u", (int)getpid(), me->endpoint,
            me->replica);

    uint8_t peer[256];
    zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
    while (!s_stop) {
        /* With transactions in flight, poll the cluster's answers often. */
        bool busy = sqlf_front_pending(front) > 0;
        if (zmq_poll(&item, 1, busy ? 0 : 20) < 0 && zmq_errno() != EINTR) {
            hb_error("poll failed: %s", zmq_strerror(zmq_errno()));
            exit_code = 1;
            break;
        }
        for (int i = 0; i < 1024 && !s_stop; i++) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&part);
                break;
            }
            size_t peerlen = zmq_msg_size(&part);
            if (peerlen > sizeof peer)
                peerlen = sizeof peer;
            memcpy(peer, zmq_msg_data(&part), peerlen);
            while (zmq_msg_more(&part)) {
                zmq_msg_close(&part);
                zmq_msg_init(&part);
                if (zmq_msg_recv(&part, router, 0) < 0)
                    break;
                hb_msg_t msg;
                if (hb_msg_decode(zmq_msg_data(&part), zmq_msg_size(&part), &cfg->limits,
                                  &msg) != HB_OK)
                    continue;
                if (msg.type == HB_MSG_STATUS_REQ)
                    s_status(router, peer, peerlen, front, started, (uint16_t)id);
                else if (msg.type == HB_MSG_SUBMIT)
                    sqlf_front_on_submit(front, peer, peerlen, &msg);
                else
                    hb_debug("ignoring a %s frame", hb_msg_type_str(msg.type));
                hb_msg_clear(&msg);
            }
            zmq_msg_close(&part);
        }
        sqlf_front_poll(front, busy ? 1 : 0);
    }
    hb_info("stopping");
out:
    sqlf_front_destroy(&front);
    zmq_close(router);
    zmq_ctx_term(zctx);
    hb_config_destroy(&cfg);
    if (pidfile)
        unlink(pidfile);
    return exit_code;
}
