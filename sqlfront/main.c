/* main.c — hobbes-sqlfront: the SQL gateway process.
 *
 * `hobbes-sqlfront --config FILE --id N [--threads T] [--data DIR]
 * [--log-level L] [--pidfile F]` binds one ROUTER at the endpoint of
 * sqlfront N and runs T workers (default 2), each a thread with its own
 * engine (front.h): its own connection to the cluster, catalog cache,
 * parse cache and sessions. A session belongs to one worker (chosen by a
 * hash of the client's routing id), so its requests stay in order and its
 * transaction block in one place; workers overlap their waits on the
 * cluster (snapshot reads are synchronous within a worker).
 *
 * The main thread only routes: it peeks at each frame's type (no decoding),
 * answers STATUS_REQ itself with the workers' counters summed, and passes
 * everything else to the session's worker over an inproc pair; workers'
 * replies come back the same way.
 *
 * Like the other processes' mains (hb_shell.h) it is a thin shell:
 * s_parse_args and s_setup (the one config load), then s_gateway_start,
 * s_gateway_run and s_gateway_stop. It does not run on hb_shell_main
 * itself: a sqlfront is addressed by --id rather than a (replica,
 * partition) slot, and it runs a thread per worker. The workers share the
 * loaded config (read only) and one sqlf_shared_t, through which their
 * engines see each other's DDL.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "front.h"
#include "hb_alloc.h"
#include "hb_config.h"
#include "hb_hash.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "hb_util.h"
#include "hb_wire.h"
#include "pgwire.h"

#define S_MAX_THREADS 64
#define S_MAX_STATS   40

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* One worker thread. */
typedef struct {
    int index;
    const hb_config_t *cfg; /* the process's (read only) */
    sqlf_front_opts_t opts; /* its engine's */
    void *zctx;
    void *pair;        /* its end of the inproc pair */
    char endpoint[64]; /* inproc://sqlf-<index> */
    void *pgpair;      /* its pair with the wire-protocol thread, or NULL */
    bool pg;           /* the wire protocol is on */
    pthread_t thread;
    atomic_int state;                  /* 0 starting, 1 running, -1 failed */
    pthread_mutex_t mu;                /* guards stats */
    hb_wire_stat_t stats[S_MAX_STATS]; /* its counters, copied each loop turn */
    uint32_t nstats;
} s_worker_t;

/* Sends [peer][frame] back to the main thread, or to the wire-protocol
 * thread for its connections (worker side). */
static void
s_worker_reply(void *arg, const uint8_t *peer, size_t peerlen, const void *frame,
               size_t len)
{
    s_worker_t *w = arg;
    void *sock = w->pgpair && sqlf_pg_is_peer(peer, peerlen) ? w->pgpair : w->pair;
    if (zmq_send(sock, peer, peerlen, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, frame, len, 0) < 0)
        hb_warn("worker %d: reply dropped: %s", w->index, zmq_strerror(zmq_errno()));
}

/* Takes up to 256 [peer][frame...] messages from sock into the engine. */
static void
s_worker_take(s_worker_t *w, void *sock, sqlf_front_t *front, const hb_config_t *cfg)
{
    uint8_t peer[256];
    for (int i = 0; i < 256 && !s_stop; i++) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
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
            if (zmq_msg_recv(&part, sock, 0) < 0)
                break;
            if (zmq_msg_size(&part) == 0)
                continue; /* the router's end-of-message filler */
            hb_msg_t msg;
            if (hb_msg_decode(zmq_msg_data(&part), zmq_msg_size(&part), &cfg->limits,
                              &msg) != HB_OK)
                continue;
            if (msg.type == HB_MSG_SUBMIT)
                sqlf_front_on_submit(front, peer, peerlen, &msg);
            else
                hb_debug("ignoring a %s frame", hb_msg_type_str(msg.type));
            hb_msg_clear(&msg);
        }
        zmq_msg_close(&part);
    }
    (void)w;
}

/* Connects the worker's pairs (and the wire-protocol one); false if the
 * main one cannot be. */
static bool
s_worker_connect(s_worker_t *w)
{
    int zero = 0;
    w->pair = zmq_socket(w->zctx, ZMQ_PAIR);
    zmq_setsockopt(w->pair, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(w->pair, w->endpoint) < 0) {
        hb_error("worker %d: cannot connect %s", w->index, w->endpoint);
        return false;
    }
    if (w->pg) {
        char ep[64];
        snprintf(ep, sizeof ep, "inproc://sqlf-pg-%d", w->index);
        w->pgpair = zmq_socket(w->zctx, ZMQ_PAIR);
        zmq_setsockopt(w->pgpair, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(w->pgpair, ep) < 0)
            hb_error("worker %d: cannot connect %s", w->index, ep);
    }
    return true;
}

/* Copies the engine's counters (and the frame counters) where s_status
 * reads them. */
static void
s_worker_publish(s_worker_t *w, const sqlf_front_t *front)
{
    pthread_mutex_lock(&w->mu);
    w->nstats = sqlf_front_stats(front, w->stats, S_MAX_STATS - 2);
    w->stats[w->nstats].name = "frames_ok";
    w->stats[w->nstats].name_len = 9;
    w->stats[w->nstats++].val = hb_val_int((int64_t)hb_wire_stats.frames_ok);
    w->stats[w->nstats].name = "frames_rejected";
    w->stats[w->nstats].name_len = 15;
    w->stats[w->nstats++].val = hb_val_int((int64_t)hb_wire_stats.frames_rejected);
    pthread_mutex_unlock(&w->mu);
}

static void *
s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    sqlf_front_t *front = NULL;
    if (!s_worker_connect(w) || !(front = sqlf_front_new(w->cfg, &w->opts))) {
        atomic_store(&w->state, -1);
        goto out;
    }
    atomic_store(&w->state, 1);
    zmq_pollitem_t items[2] = {{w->pair, 0, ZMQ_POLLIN, 0},
                               {w->pgpair, 0, ZMQ_POLLIN, 0}};
    while (!s_stop) {
        bool busy = sqlf_front_pending(front) > 0;
        if (zmq_poll(items, w->pgpair ? 2 : 1, busy ? 0 : 20) < 0 && zmq_errno() != EINTR)
            break;
        s_worker_take(w, w->pair, front, w->cfg);
        if (w->pgpair)
            s_worker_take(w, w->pgpair, front, w->cfg);
        sqlf_front_poll(front, busy ? 1 : 0);
        s_worker_publish(w, front);
    }
out:
    sqlf_front_destroy(&front);
    zmq_close(w->pair);
    if (w->pgpair)
        zmq_close(w->pgpair);
    return NULL;
}

/* Sends [peer][frame] on the ROUTER; a peer that is gone is dropped. */
static void
s_send_router(void *router, const uint8_t *peer, size_t peerlen, const void *frame,
              size_t len)
{
    if (zmq_send(router, peer, peerlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(router, frame, len, ZMQ_DONTWAIT) < 0)
        hb_debug("reply dropped: %s", zmq_strerror(zmq_errno()));
}

/* Returns the type of frame (msgpack [version, type, ...]) without
 * decoding the rest, or -1. */
static int
s_peek_type(const void *frame, size_t len)
{
    hb_mp_reader_t r;
    uint32_t n = 0;
    uint64_t version = 0, type = 0;
    hb_mp_reader_init(&r, frame, len);
    if (hb_mp_read_array(&r, &n) != HB_OK || n < 2 ||
        hb_mp_read_uint(&r, &version) != HB_OK || hb_mp_read_uint(&r, &type) != HB_OK ||
        type > 255)
        return -1;
    return (int)type;
}

/* Answers a STATUS_REQ with every worker's counters summed. */
static void
s_status(void *router, const uint8_t *peer, size_t peerlen, s_worker_t *w, int nw,
         int64_t started, uint16_t id, sqlf_pg_t *pg)
{
    hb_wire_stat_t st[S_MAX_STATS + 32];
    uint32_t n = 0;
    for (int i = 0; i < nw; i++) {
        pthread_mutex_lock(&w[i].mu);
        for (uint32_t k = 0; k < w[i].nstats; k++) {
            uint32_t j = 0;
            while (j < n && strcmp(st[j].name, w[i].stats[k].name) != 0)
                j++;
            if (j == n && n < S_MAX_STATS) {
                st[n] = w[i].stats[k];
                n++;
            } else if (j < n && strcmp(st[j].name, "catalog_version") == 0) {
                if (w[i].stats[k].val.u.i > st[j].val.u.i)
                    st[j].val.u.i = w[i].stats[k].val.u.i; /* the newest any worker saw */
            } else if (j < n) {
                st[j].val.u.i += w[i].stats[k].val.u.i;
            }
        }
        pthread_mutex_unlock(&w[i].mu);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const struct {
        const char *name;
        int64_t v;
    } extra[] = {
        {"pid", getpid()},
        {"uptime_ms", (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - started},
        {"sqlfront_id", id},
        {"threads", nw},
    };
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++, n++) {
        st[n].name = extra[i].name;
        st[n].name_len = (uint32_t)strlen(extra[i].name);
        st[n].val = hb_val_int(extra[i].v);
    }
    if (pg)
        n += sqlf_pg_stats(pg, st + n, 20);
    st[n].name = "role";
    st[n].name_len = 4;
    st[n].val = hb_val_str("sqlfront", 8);
    n++;
    hb_msg_t m = {.type = HB_MSG_STATUS};
    m.u.status.nstats = n;
    m.u.status.stats = st;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (hb_msg_encode(&m, &sb) == HB_OK)
        s_send_router(router, peer, peerlen, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* Moves one multipart message from `from` to `to` (the routing id first). */
static void
s_forward(void *from, void *to, int first_flags)
{
    int more = 1;
    bool first = true;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, from, first ? first_flags : 0) < 0) {
            zmq_msg_close(&part);
            return;
        }
        more = zmq_msg_more(&part);
        first = false;
        if (zmq_msg_send(&part, to, more ? ZMQ_SNDMORE : 0) < 0)
            zmq_msg_close(&part);
    }
}

static void
s_usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --config FILE --id N [--threads T] [--data DIR]\n"
            "          [--log-level debug|info|warn|error] [--pidfile FILE]\n",
            argv0);
}

/* The command line. */
typedef struct {
    const char *config_path, *level, *pidfile;
    long id, threads;
} s_args_t;

/* Parses argv into a; returns false (after the usage) when it is wrong. */
static bool
s_parse_args(int argc, char **argv, s_args_t *a)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"id", required_argument, NULL, 'i'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"data", required_argument, NULL, 'd'},
                                             {"log-level", required_argument, NULL, 'l'},
                                             {"pidfile", required_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *a = (s_args_t){.id = -1, .threads = 2};
    int c;
    while ((c = getopt_long(argc, argv, "c:i:t:d:l:f:h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c':
            a->config_path = optarg;
            break;
        case 'i':
            a->id = strtol(optarg, &end, 10);
            if (*end || a->id < 0 || a->id > 65535)
                a->id = -2;
            break;
        case 't':
            a->threads = strtol(optarg, &end, 10);
            if (*end || a->threads < 1 || a->threads > S_MAX_THREADS)
                a->threads = -1;
            break;
        case 'd':
            break; /* the gateway keeps no data; accepted like the others */
        case 'l':
            a->level = optarg;
            break;
        case 'f':
            a->pidfile = optarg;
            break;
        default:
            s_usage(argv[0]);
            return false;
        }
    }
    if (!a->config_path || a->id < 0 || a->threads < 1) {
        s_usage(argv[0]);
        return false;
    }
    return true;
}

/* The running gateway: its ROUTER, the workers and their pairs. */
typedef struct {
    const hb_config_t *cfg;
    const hb_sqlfront_cfg_t *me; /* this sqlfront's entry of cfg */
    sqlf_shared_t shared;        /* what the workers' engines share */
    void *zctx;
    void *router;
    s_worker_t *w;
    void **pairs; /* the main thread's end of each worker's pair */
    int nw;       /* workers started */
    sqlf_pg_t *pg;
    int64_t started; /* monotonic ms */
} s_gateway_t;

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts worker i: its pair's main end, its thread. */
static bool
s_worker_start(s_gateway_t *g, int i)
{
    int zero = 0;
    s_worker_t *wk = &g->w[i];
    wk->pg = g->pg != NULL;
    wk->index = i;
    wk->cfg = g->cfg;
    wk->opts = (sqlf_front_opts_t){.replica = g->me->replica,
                                   .sqlfront_id = g->me->id,
                                   .engine = (uint32_t)i,
                                   .reply = s_worker_reply,
                                   .reply_arg = wk,
                                   .shared = &g->shared};
    wk->zctx = g->zctx;
    pthread_mutex_init(&wk->mu, NULL);
    snprintf(wk->endpoint, sizeof wk->endpoint, "inproc://sqlf-%d", i);
    g->pairs[i] = zmq_socket(g->zctx, ZMQ_PAIR);
    zmq_setsockopt(g->pairs[i], ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(g->pairs[i], wk->endpoint) < 0 ||
        pthread_create(&wk->thread, NULL, s_worker_main, wk) != 0) {
        hb_error("cannot start worker %d", i);
        zmq_close(g->pairs[i]);
        pthread_mutex_destroy(&wk->mu);
        return false;
    }
    return true;
}

/* Binds the ROUTER, starts the wire-protocol thread and the workers, and
 * waits until every worker has its engine. Returns false (logged) when
 * something could not start; s_gateway_stop undoes what did. */
static bool
s_gateway_start(s_gateway_t *g, int threads)
{
    int zero = 0, hwm = 100000;
    int64_t maxmsg = g->cfg->limits.max_frame_bytes;
    char err[512] = "";
    g->zctx = zmq_ctx_new();
    g->router = zmq_socket(g->zctx, ZMQ_ROUTER);
    zmq_setsockopt(g->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(g->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(g->router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(g->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    g->w = hb_calloc((size_t)threads, sizeof *g->w);
    g->pairs = hb_calloc((size_t)threads, sizeof *g->pairs);
    if (zmq_bind(g->router, g->me->endpoint) < 0) {
        hb_error("cannot bind %s: %s", g->me->endpoint, zmq_strerror(zmq_errno()));
        return false;
    }
    /* The wire-protocol thread binds one pair per worker before they start:
     * its connections' requests go straight to their session's worker. */
    if (g->me->pg_listen[0] &&
        !(g->pg = sqlf_pg_start(g->zctx, threads, g->cfg, g->me, &g->cfg->limits, err,
                                sizeof err))) {
        hb_error("PostgreSQL listener: %s", err);
        return false;
    }
    for (; g->nw < threads; g->nw++)
        if (!s_worker_start(g, g->nw))
            return false;
    for (int i = 0; i < g->nw; i++) {
        while (atomic_load(&g->w[i].state) == 0 && !s_stop)
            usleep(1000);
        if (atomic_load(&g->w[i].state) < 0) {
            hb_error("worker %d could not start", i);
            return false;
        }
    }
    g->started = s_now_ms();
    return true;
}

/* Routes one request from the ROUTER to its session's worker (a hash of
 * the routing id), answering STATUS_REQ frames itself; false when none
 * is waiting. */
static bool
s_route_request(s_gateway_t *g)
{
    uint8_t peer[256];
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, g->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return false;
    }
    size_t peerlen = zmq_msg_size(&part);
    if (peerlen > sizeof peer)
        peerlen = sizeof peer;
    memcpy(peer, zmq_msg_data(&part), peerlen);
    void *pair = g->pairs[hb_hash64(peer, peerlen, 0) % (uint64_t)g->nw];
    bool sent_peer = false;
    while (zmq_msg_more(&part)) {
        zmq_msg_close(&part);
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, g->router, 0) < 0)
            break;
        bool more = zmq_msg_more(&part);
        if (s_peek_type(zmq_msg_data(&part), zmq_msg_size(&part)) == HB_MSG_STATUS_REQ) {
            s_status(g->router, peer, peerlen, g->w, g->nw, g->started,
                     (uint16_t)g->me->id, g->pg);
            if (!more && sent_peer)
                zmq_send(pair, "", 0, 0); /* end the message we were forwarding */
            continue;
        }
        if (!sent_peer) {
            zmq_send(pair, peer, peerlen, ZMQ_SNDMORE);
            sent_peer = true;
        }
        zmq_msg_t copy;
        zmq_msg_init(&copy);
        zmq_msg_move(&copy, &part);
        if (zmq_msg_send(&copy, pair, more ? ZMQ_SNDMORE : 0) < 0)
            zmq_msg_close(&copy);
    }
    zmq_msg_close(&part);
    return true;
}

/* The main thread's loop: workers' replies out, clients' requests in,
 * until a signal. Returns the exit code. */
static int
s_gateway_run(s_gateway_t *g)
{
    int exit_code = 0;
    zmq_pollitem_t *items = hb_calloc((size_t)g->nw + 1, sizeof *items);
    items[0] = (zmq_pollitem_t){g->router, 0, ZMQ_POLLIN, 0};
    for (int i = 0; i < g->nw; i++)
        items[i + 1] = (zmq_pollitem_t){g->pairs[i], 0, ZMQ_POLLIN, 0};
    while (!s_stop) {
        if (zmq_poll(items, g->nw + 1, 100) < 0 && zmq_errno() != EINTR) {
            hb_error("poll failed: %s", zmq_strerror(zmq_errno()));
            exit_code = 1;
            break;
        }
        /* Replies first: they free a client to send the next request. */
        for (int i = 0; i < g->nw; i++)
            for (int k = 0; k < 1024 && (zmq_poll(&items[i + 1], 1, 0) > 0); k++)
                s_forward(g->pairs[i], g->router, ZMQ_DONTWAIT);
        for (int k = 0; k < 1024 && !s_stop && s_route_request(g); k++)
            ;
    }
    hb_free(items);
    return exit_code;
}

/* Stops the wire protocol and the workers, and frees what started. */
static void
s_gateway_stop(s_gateway_t *g)
{
    s_stop = 1;
    sqlf_pg_stop(
        &g->pg); /* first: its connections close their sessions on live workers */
    for (int i = 0; i < g->nw; i++)
        pthread_join(g->w[i].thread, NULL);
    for (int i = 0; i < g->nw; i++) {
        zmq_close(g->pairs[i]);
        pthread_mutex_destroy(&g->w[i].mu);
    }
    hb_free(g->pairs);
    hb_free(g->w);
    if (g->router)
        zmq_close(g->router);
    if (g->zctx)
        zmq_ctx_term(g->zctx);
}

/* Loads the config and sets up logging; returns 0, or the exit code. */
static int
s_setup(const s_args_t *a, const char *argv0, hb_config_t **cfg_out,
        const hb_sqlfront_cfg_t **me_out)
{
    char err[512];
    hb_config_t *cfg = NULL;
    if (hb_config_load(a->config_path, &cfg, err, sizeof err) != HB_OK) {
        fprintf(stderr, "%s: %s\n", argv0, err);
        return 1;
    }
    char ident[32];
    snprintf(ident, sizeof ident, "sqlf %ld", a->id);
    hb_log_set_identity(ident);
    int lvl = hb_log_level_parse(a->level ? a->level : cfg->log_level);
    if (lvl >= 0)
        hb_log_set_level((hb_log_level_t)lvl);
    const hb_sqlfront_cfg_t *me = hb_config_sqlfront(cfg, (uint16_t)a->id);
    if (!me) {
        fprintf(stderr, "%s: %s has no sqlfront with id %ld\n", argv0, a->config_path,
                a->id);
        hb_config_destroy(&cfg);
        return 1;
    }
    *cfg_out = cfg;
    *me_out = me;
    return 0;
}

static void
s_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
main(int argc, char **argv)
{
    s_args_t args;
    if (!s_parse_args(argc, argv, &args))
        return 2;
    hb_config_t *cfg = NULL;
    const hb_sqlfront_cfg_t *me = NULL;
    int exit_code = s_setup(&args, argv[0], &cfg, &me);
    if (exit_code)
        return exit_code;
    s_signals();
    s_gateway_t g = {.cfg = cfg, .me = me};
    if (!s_gateway_start(&g, (int)args.threads)) {
        exit_code = 1;
        goto out;
    }
    if (args.pidfile)
        (void)hb_write_pidfile(args.pidfile);
    hb_info("started (pid %d) on %s, %d workers, submitting to replica %u; PostgreSQL "
            "protocol on %s",
            (int)getpid(), me->endpoint, g.nw, me->replica,
            me->pg_listen[0] ? me->pg_listen : "(off)");
    exit_code = s_gateway_run(&g);
    hb_info("stopping");
out:
    s_gateway_stop(&g);
    hb_config_destroy(&cfg);
    if (args.pidfile)
        unlink(args.pidfile);
    return exit_code;
}
