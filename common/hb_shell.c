/* hb_shell.c — the common main() of every cluster process (see hb_shell.h).
 *
 * Binds a core to the world: the ROUTER from hb_net, the system clock, a
 * binary heap of one-shot timers and a xorshift PRNG seeded from the OS.
 * The loop polls the ROUTER until the next timer is due, drains every
 * waiting message (decoding each with hb_msg_decode, which counts and drops
 * bad frames), fires due timers, and exits on SIGINT/SIGTERM.
 */
#include "hb_shell.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "hb_alloc.h"
#include "hb_log.h"
#include "hb_mp.h"
#include "hb_net.h"
#include "hb_util.h"

/* ---------------------------------------------------------------- status */

struct hb_status {
    msgpack_sbuffer sbuf; /* packed entries */
    msgpack_packer pk;    /* packer over sbuf */
    uint32_t n;           /* entries packed */
};

void
hb_status_int(hb_status_t *st, const char *name, int64_t value)
{
    hb_mp_pack_cstr(&st->pk, name);
    msgpack_pack_int64(&st->pk, value);
    st->n++;
}

void
hb_status_hist(hb_status_t *st, const char *name, const hb_hist_t *h)
{
    static const char *const suffix[] = {"count", "sum_us", "p50_us", "p99_us"};
    uint64_t v[] = {h->count, h->sum, hb_hist_quantile(h, 0.50),
                    hb_hist_quantile(h, 0.99)};
    char key[96];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "stage_%s_%s", name, suffix[i]);
        hb_status_int(st, key, (int64_t)v[i]);
    }
}

void
hb_status_str(hb_status_t *st, const char *name, const char *value)
{
    hb_mp_pack_cstr(&st->pk, name);
    hb_mp_pack_cstr(&st->pk, value);
    st->n++;
}

/* ---------------------------------------------------------------- timers */

typedef struct {
    uint64_t due_us; /* absolute deadline */
    uint64_t seq;    /* insertion order: equal deadlines fire FIFO */
    uint64_t token;  /* handed back to the core */
} s_timer_t;

typedef struct {
    s_timer_t *v; /* min-heap by (due_us, seq) */
    size_t n;     /* used */
    size_t cap;   /* allocated */
    uint64_t seq; /* next insertion number */
} s_heap_t;

static int
s_before(const s_timer_t *a, const s_timer_t *b)
{
    return a->due_us < b->due_us || (a->due_us == b->due_us && a->seq < b->seq);
}

static void
s_heap_push(s_heap_t *h, uint64_t due, uint64_t token)
{
    HB_GROW(h->v, h->cap, h->n + 1, 64);
    size_t i = h->n++;
    h->v[i] = (s_timer_t){due, h->seq++, token};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before(&h->v[i], &h->v[parent]))
            break;
        s_timer_t t = h->v[i];
        h->v[i] = h->v[parent];
        h->v[parent] = t;
        i = parent;
    }
}

static s_timer_t
s_heap_pop(s_heap_t *h)
{
    s_timer_t top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && s_before(&h->v[l], &h->v[m]))
            m = l;
        if (r < h->n && s_before(&h->v[r], &h->v[m]))
            m = r;
        if (m == i)
            break;
        s_timer_t t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
    return top;
}

/* ----------------------------------------------------------------- shell */

typedef struct {
    hb_net_t *net;       /* sockets */
    s_heap_t timers;     /* pending timers */
    uint64_t rng;        /* xorshift64* state */
    uint64_t started_us; /* for uptime */
} s_shell_t;

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static uint64_t
s_now_us(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The statistics clock (hb_env_t.mono_us). */
static uint64_t
s_mono_us(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static hb_rc_t
s_send(void *ctx, hb_node_t to, const void *frame, size_t len)
{
    s_shell_t *sh = ctx;
    return hb_net_send(sh->net, to, frame, len);
}

static hb_rc_t
s_send_client(void *ctx, uint64_t client_id, const void *frame, size_t len)
{
    s_shell_t *sh = ctx;
    return hb_net_send_client(sh->net, client_id, frame, len);
}

static void
s_timer(void *ctx, uint64_t delay_us, uint64_t token)
{
    s_shell_t *sh = ctx;
    s_heap_push(&sh->timers, s_now_us(NULL) + delay_us, token);
}

static uint64_t
s_random(void *ctx)
{
    s_shell_t *sh = ctx;
    return hb_xorshift(&sh->rng);
}

static void
s_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s --config FILE --replica R --partition P [--data DIR]\n"
            "          [--log-level debug|info|warn|error] [--pidfile FILE]\n",
            prog);
}

static int
s_parse_u16(const char *s, uint16_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static void
s_answer_status(s_shell_t *sh, const hb_shell_ops_t *ops, void *core, hb_node_t self,
                const uint8_t *peer, size_t peerlen)
{
    hb_status_t st;
    msgpack_sbuffer_init(&st.sbuf);
    msgpack_packer_init(&st.pk, &st.sbuf, msgpack_sbuffer_write);
    st.n = 0;
    hb_status_str(&st, "role", ops->name);
    hb_status_int(&st, "replica", self.replica);
    hb_status_int(&st, "partition", self.partition);
    hb_status_int(&st, "pid", getpid());
    hb_status_int(&st, "uptime_ms", (int64_t)((s_now_us(NULL) - sh->started_us) / 1000));
    hb_status_int(&st, "frames_ok", (int64_t)hb_wire_stats.frames_ok);
    hb_status_int(&st, "frames_rejected", (int64_t)hb_wire_stats.frames_rejected);
    hb_status_int(&st, "net_dropped", (int64_t)hb_net_dropped(sh->net));
    hb_status_str(&st, "allocator", hb_alloc_name());
    if (ops->status)
        ops->status(core, &st);

    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint32(&pk, HB_WIRE_VERSION);
    msgpack_pack_uint32(&pk, HB_MSG_STATUS);
    msgpack_pack_map(&pk, st.n);
    msgpack_sbuffer_write(&out, st.sbuf.data, st.sbuf.size);
    hb_net_send_id(sh->net, peer, peerlen, out.data, out.size);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&st.sbuf);
}

/* The command line of every process. */
typedef struct {
    const char *config_path; /* --config */
    const char *data;        /* --data (NULL: the config's) */
    const char *level;       /* --log-level (NULL: the config's) */
    const char *pidfile;     /* --pidfile */
    uint16_t replica;        /* --replica */
    uint16_t partition;      /* --partition */
} s_args_t;

/* Parses the command line into a. Returns false on a usage error. */
static bool
s_parse_args(int argc, char **argv, s_args_t *a)
{
    int have_r = 0, have_p = 0;
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"replica", required_argument, NULL, 'r'},
        {"partition", required_argument, NULL, 'p'},
        {"data", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'l'},
        {"pidfile", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:r:p:d:l:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config_path = optarg;
            break;
        case 'r':
            have_r = s_parse_u16(optarg, &a->replica) == 0;
            if (!have_r)
                return false;
            break;
        case 'p':
            have_p = s_parse_u16(optarg, &a->partition) == 0;
            if (!have_p)
                return false;
            break;
        case 'd':
            a->data = optarg;
            break;
        case 'l':
            a->level = optarg;
            break;
        case 'f':
            a->pidfile = optarg;
            break;
        default:
            return false;
        }
    }
    return a->config_path && have_r && have_p && optind == argc;
}

/* Sets the log identity, loads the config (*cfg_p, caller owns), sets the
 * log level, checks the slot exists and creates the data directory dir.
 * Returns 0, or the exit code (2 bad config, 1 no directory) after a
 * message on stderr. */
static int
s_setup(const char *prog, const s_args_t *a, const hb_shell_ops_t *ops,
        hb_config_t **cfg_p, char *dir, size_t dirlen)
{
    char ident[64];
    snprintf(ident, sizeof ident, "%s r%up%u", ops->name, a->replica, a->partition);
    hb_log_set_identity(ident);

    char err[512];
    hb_config_t *cfg = NULL;
    if (hb_config_load(a->config_path, &cfg, err, sizeof err) != HB_OK) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 2;
    }
    int rc = 0;
    int lv = hb_log_level_parse(a->level ? a->level : cfg->log_level);
    if (lv < 0) {
        fprintf(stderr, "%s: unknown log level '%s'\n", prog, a->level);
        rc = 2;
        goto out;
    }
    hb_log_set_level((hb_log_level_t)lv);
    if (!hb_config_slot(cfg, a->replica, a->partition)) {
        fprintf(stderr, "%s: slot r%u p%u is not in %s\n", prog, a->replica, a->partition,
                a->config_path);
        rc = 2;
        goto out;
    }
    hb_config_node_dir(cfg, a->data, hb_node(ops->role, a->replica, a->partition), dir,
                       dirlen);
    if (hb_mkdirs(dir) < 0) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, dir, strerror(errno));
        rc = 1;
        goto out;
    }
out:
    if (rc != 0)
        hb_config_destroy(&cfg);
    *cfg_p = cfg;
    return rc;
}

/* Hands a bounded number of waiting messages to the core (STATUS requests
 * are the shell's), so that timers are served in between. */
static void
s_drain(s_shell_t *sh, const hb_shell_ops_t *ops, void *core, hb_node_t self,
        const hb_config_t *cfg)
{
    uint8_t peer[256];
    for (int i = 0; i < 4096 && !s_stop; i++) {
        size_t peerlen;
        zmsg_t *frames = NULL;
        hb_rc_t rc = hb_net_recv(sh->net, peer, sizeof peer, &peerlen, &frames);
        if (rc == HB_BUSY)
            break;
        if (rc != HB_OK)
            continue;
        for (zframe_t *frame = zmsg_first(frames); frame; frame = zmsg_next(frames)) {
            hb_msg_t msg;
            const uint8_t *data_p = zframe_data(frame);
            size_t len = zframe_size(frame);
            if (hb_msg_decode(data_p, len, &cfg->limits, &msg) != HB_OK)
                continue;
            if (msg.type == HB_MSG_STATUS_REQ)
                s_answer_status(sh, ops, core, self, peer, peerlen);
            else
                ops->on_message(core, peer, peerlen, &msg, data_p, len);
            hb_msg_clear(&msg);
        }
        zmsg_destroy(&frames);
    }
}

/* The event loop: messages, then due timers, then a flush, until a signal.
 * Returns the exit code (1 if polling failed). */
static int
s_run(s_shell_t *sh, const hb_shell_ops_t *ops, void *core, hb_node_t self,
      const hb_config_t *cfg)
{
    zmq_pollitem_t items[1] = {{zsock_resolve(hb_net_router(sh->net)), 0, ZMQ_POLLIN, 0}};
    while (!s_stop) {
        long timeout_ms = 100;
        if (sh->timers.n) {
            uint64_t now = s_now_us(NULL), due = sh->timers.v[0].due_us;
            timeout_ms = due <= now ? 0 : (long)((due - now + 999) / 1000);
            if (timeout_ms > 100)
                timeout_ms = 100;
        }
        if (zmq_poll(items, 1, timeout_ms) < 0 && zmq_errno() != EINTR) {
            hb_error("poll failed: %s", zmq_strerror(zmq_errno()));
            return 1;
        }
        s_drain(sh, ops, core, self, cfg);
        uint64_t now = s_now_us(NULL);
        while (sh->timers.n && sh->timers.v[0].due_us <= now && !s_stop) {
            s_timer_t t = s_heap_pop(&sh->timers);
            ops->on_timer(core, t.token);
        }
        hb_net_flush(sh->net);
    }
    return 0;
}

int
hb_shell_main(int argc, char **argv, const hb_shell_ops_t *ops)
{
    s_args_t a = {0};
    if (!s_parse_args(argc, argv, &a)) {
        s_usage(argv[0]);
        return 2;
    }
    hb_config_t *cfg = NULL;
    char dir[HB_PATH_MAX];
    int exit_code = s_setup(argv[0], &a, ops, &cfg, dir, sizeof dir);
    if (exit_code != 0)
        return exit_code;
    hb_node_t self = hb_node(ops->role, a.replica, a.partition);

    zsys_handler_set(NULL);
    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    s_shell_t sh = {0};
    sh.started_us = s_now_us(NULL);
    if (getrandom(&sh.rng, sizeof sh.rng, 0) != sizeof sh.rng || sh.rng == 0)
        sh.rng = sh.started_us | 1;
    sh.net = hb_net_new(cfg, self, NULL);
    if (!sh.net) {
        hb_config_destroy(&cfg);
        return 1;
    }
    hb_env_t env = {
        .ctx = &sh,
        .send = s_send,
        .send_client = s_send_client,
        .now_us = s_now_us,
        .mono_us = s_mono_us,
        .timer = s_timer,
        .random = s_random,
    };
    void *core = ops->create(cfg, self, dir, &env);
    if (!core) {
        hb_error("could not start");
        exit_code = 1;
        goto out;
    }
    if (a.pidfile)
        (void)hb_write_pidfile(a.pidfile);
    hb_info("started (pid %d, data %s, %s)", (int)getpid(), dir, hb_alloc_name());
    exit_code = s_run(&sh, ops, core, self, cfg);
    hb_info("stopping");
out:
    if (core)
        ops->destroy(&core);
    hb_free(sh.timers.v);
    hb_net_destroy(&sh.net);
    hb_config_destroy(&cfg);
    if (a.pidfile)
        unlink(a.pidfile);
    return exit_code;
}
