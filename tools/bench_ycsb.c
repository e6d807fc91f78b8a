/* bench_ycsb.c — hobbes-bench ycsb: YCSB core workloads A-F.
 *
 *   hobbes-bench ycsb --config FILE | --target postgres://USER@HOST:PORT/DB
 *       --workload a|b|c|d|e|f [--records N]
 *       [--theta T] [--fields F] [--field-length L] [--mp PCT] [--clients N]
 *       [--window W] [--duration S] [--warmup S] [--rate OPS [--fixed]]
 *       [--load-only | --run-only] [--json FILE] [--seed N]
 *
 * Records live in HB_TABLE_YCSB under YCSB's key names ("user" +
 * fnvhash64(n)); the ycsb.* procedures (common/hb_proc.h) read, update,
 * insert and read-modify-write them. Workloads use YCSB's proportions and
 * generators (ycsb_gen.h): A 50/50 read/update, B 95/5 read/update, C read
 * only, D 95/5 read/insert with "latest" keys, E 95/5 scan/insert (scan
 * length uniform 1..100), F 50/50 read/rmw; all but D draw keys from the
 * scrambled zipfian over the loaded records. An update writes one random
 * field; an insert takes the next key of the shared insert counter.
 *
 * Load phase: the clients insert records 0..N-1 between them, each keeping
 * --window calls in flight, with a progress bar on stderr. Run phase:
 * closed loop (each client keeps --window operations in flight) or, with
 * --rate, open loop: arrivals at OPS/s in total (Poisson, or evenly spaced
 * with --fixed), latency measured from the intended send time so a
 * stalled system is not flattered (no coordinated omission).
 *
 * --mp PCT turns that share of reads, updates and rmws into two-record
 * transactions whose second record (drawn from the same distribution) is
 * on another partition. A scan sends one snapshot SCAN to every partition
 * for `length` rows from the start key and merges them in key order,
 * keeping the first `length` (hb_client_scan; scans do not go through the
 * log). Progress is printed every second; the summary gives throughput and
 * p50/p95/p99/p99.9 per operation, aborts and errors; --json writes them,
 * with the per-second throughput ("timeline"), a latency CDF per operation
 * ("latency_cdf") and a "headline" for `hobbes-bench plot`.
 *
 * --target postgres://... runs the same workloads against PostgreSQL
 * (bench_ycsb_pg.c): the same generators draw the same keys, values and
 * fields in the same order; each client is one synchronous libpq
 * connection (--window does not apply; --rate does, one call at a time),
 * the load is COPY in batches, and the reports are the same with target
 * "postgres". --mp does not apply (one server).
 */
#include "bench_ycsb.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_hist.h"
#include "bench_stages.h"
#include "bench_ycsb_pg.h"
#include "hb_alloc.h"
#include "hb_config.h"
#include "hb_key.h"
#include "hb_proc.h"
#include "hb_util.h"
#include "hobbes.h"
#include "ycsb_gen.h"

#define S_TIMEOUT_US   10000000u /* an unanswered call counts as an error after this */
#define S_SCAN_TIMEOUT 10000     /* ms */
#define S_KEYNAME_MAX  32        /* "user" + 19 digits + NUL fits */
#define S_OPEN_CAP     4096      /* open loop: calls in flight per client by default */

typedef struct {
    const char *config; /* cluster config */
    const char *pg_url; /* --target postgres://...: libpq URL, or NULL for Hobbes */
    char pg_desc[256];  /* PostgreSQL server and address, for the reports */
    const char *json;   /* summary file, or NULL */
    const ycsb_workload_t *wl; /* workload */
    uint64_t records;          /* records loaded: keys 0..records-1 */
    double theta;              /* zipfian constant */
    uint32_t fields;           /* fields per record */
    uint32_t field_len;        /* bytes per field */
    uint32_t mp_pct;           /* share of multi-partition transactions, percent */
    uint32_t clients;          /* client threads */
    uint32_t window;           /* calls each client keeps in flight */
    int window_set;            /* --window given */
    uint32_t duration;         /* measured seconds */
    uint32_t warmup;           /* unmeasured seconds before */
    double rate;               /* open loop: total operations per second (0: closed) */
    int fixed;                 /* open loop: evenly spaced arrivals instead of Poisson */
    int load_only;             /* only load */
    int run_only;              /* only run */
    uint64_t seed;             /* workload seed */
    uint32_t partitions;       /* P of the cluster */
} s_opts_t;

/* One client's numbers, guarded by mu. */
typedef struct {
    pthread_mutex_t mu;                 /* guards the rest */
    bench_hist_t interval;              /* all operations since the last progress line */
    bench_hist_t total[YCSB_OP_COUNT_]; /* measured phase, per operation */
    uint64_t ok[YCSB_OP_COUNT_];        /* measured successes */
    uint64_t aborted[YCSB_OP_COUNT_];   /* measured logical aborts */
    uint64_t errors[YCSB_OP_COUNT_];    /* measured failures (timeouts, I/O ...) */
    uint64_t int_aborted;               /* aborts since the last progress line */
    uint64_t int_errors;                /* errors since the last progress line */
} s_stats_t;

typedef struct {
    s_opts_t o;                       /* options */
    ycsb_counter_t *inserts;          /* run-phase insert key sequence (shared) */
    atomic_int phase;                 /* 0 warmup, 1 measure, 2 stop */
    atomic_uint_fast64_t loaded;      /* load: inserts answered */
    atomic_uint_fast64_t load_ok;     /* load: inserted */
    atomic_uint_fast64_t load_exists; /* load: record already there (aborted) */
    atomic_uint_fast64_t load_errors; /* load: failed */
    atomic_int stop_load;             /* load: give up */
    hb_key_t scan_end;                /* end bound of every scan: the next table */
} s_run_t;

/* One call in flight. */
typedef struct {
    uint64_t req;   /* request id, 0 = empty slot */
    uint64_t t0;    /* (intended) send time, us */
    int64_t keynum; /* insert: key number to acknowledge */
    uint8_t op;     /* ycsb_op_t */
} s_flight_t;

/* Calls in flight by request id: linear probing, backward-shift delete. */
typedef struct {
    s_flight_t *slot; /* cap slots */
    size_t cap;       /* power of two */
    size_t n;         /* used */
} s_fmap_t;

typedef struct {
    s_run_t *run;           /* shared state */
    uint32_t id;            /* client number */
    uint64_t rng;           /* xorshift state */
    hb_client_t *cl;        /* connection */
    ycsb_scrambled_t *zipf; /* key chooser (zipfian workloads) */
    ycsb_latest_t *latest;  /* key chooser (D) */
    s_fmap_t fly;           /* calls in flight */
    uint8_t *vals;          /* fields * field_len bytes of value scratch */
    s_stats_t *stats;       /* this client's numbers (owned) */
    bench_ycsb_pg_t *pg;    /* --target postgres: connection (instead of cl) */
    int failed;             /* could not connect */
} s_client_t;

static void
s_sleep_until(uint64_t due)
{
    uint64_t now = bench_now_us();
    if (due <= now)
        return;
    struct timespec ts = {(time_t)((due - now) / 1000000u),
                          (long)((due - now) % 1000000u) * 1000};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------- flight map */

static size_t
s_fhash(uint64_t req, size_t cap)
{
    return (size_t)(req * 0x9e3779b97f4a7c15ULL >> 17) & (cap - 1);
}

static void
s_fmap_init(s_fmap_t *m, size_t max_inflight)
{
    /* A power of two, 16 at least, with room to spare for linear probing. */
    m->slot = NULL;
    m->cap = 0;
    HB_GROW_ZERO(m->slot, m->cap, 2 * max_inflight + 2, 16);
    m->n = 0;
}

static void
s_fmap_put(s_fmap_t *m, const s_flight_t *f)
{
    size_t i = s_fhash(f->req, m->cap);
    while (m->slot[i].req)
        i = (i + 1) & (m->cap - 1);
    m->slot[i] = *f;
    m->n++;
}

/* Removes req into *out; returns false if it is not in flight. */
static bool
s_fmap_take(s_fmap_t *m, uint64_t req, s_flight_t *out)
{
    size_t mask = m->cap - 1, i = s_fhash(req, m->cap);
    while (m->slot[i].req && m->slot[i].req != req)
        i = (i + 1) & mask;
    if (!m->slot[i].req)
        return false;
    *out = m->slot[i];
    m->slot[i].req = 0;
    m->n--;
    /* Backward shift: re-place the following cluster so lookups stay exact. */
    for (size_t j = (i + 1) & mask; m->slot[j].req; j = (j + 1) & mask) {
        s_flight_t f = m->slot[j];
        m->slot[j].req = 0;
        size_t k = s_fhash(f.req, m->cap);
        while (m->slot[k].req)
            k = (k + 1) & mask;
        m->slot[k] = f;
    }
    return true;
}

/* ------------------------------------------------------------- stats */

/* outcome: 0 ok, 1 aborted, 2 error. */
static void
s_record(s_client_t *c, ycsb_op_t op, uint64_t lat_us, int outcome)
{
    if (atomic_load(&c->run->phase) != 1)
        return;
    s_stats_t *st = c->stats;
    pthread_mutex_lock(&st->mu);
    bench_hist_add(&st->interval, lat_us);
    bench_hist_add(&st->total[op], lat_us);
    if (outcome == 0)
        st->ok[op]++;
    else if (outcome == 1) {
        st->aborted[op]++;
        st->int_aborted++;
    } else {
        st->errors[op]++;
        st->int_errors++;
    }
    pthread_mutex_unlock(&st->mu);
}

/* ---------------------------------------------------------- workload */

/* Writes record keynum's user key into name (S_KEYNAME_MAX) and returns
 * its length. */
static uint32_t
s_keyname(int64_t keynum, char *name)
{
    return (uint32_t)ycsb_key_name(keynum, name, S_KEYNAME_MAX);
}

static uint32_t
s_partition(const s_run_t *run, const char *name, uint32_t len)
{
    hb_key_t k;
    hb_key_init(&k, HB_TABLE_YCSB);
    hb_key_put_str(&k, name, len);
    return hb_key_partition(k.buf, k.len, run->o.partitions);
}

/* YCSB's nextKeynum: a key of a record known to be inserted. */
static int64_t
s_next_keynum(s_client_t *c)
{
    if (c->latest)
        return ycsb_latest_next(c->latest, &c->rng);
    int64_t k, last = ycsb_counter_last(c->run->inserts);
    do
        k = ycsb_scrambled_next(c->zipf, &c->rng);
    while (k > last);
    return k;
}

/* Fills n bytes of printable random data (YCSB's RandomByteIterator). */
static void
s_fill(uint64_t *rng, uint8_t *p, size_t n)
{
    while (n > 0) {
        uint64_t r = hb_xorshift(rng);
        for (int b = 0; b < 8 && n > 0; b++, n--, r >>= 8)
            *p++ = (uint8_t)(' ' + (r & 0xff) % 95);
    }
}

/* Submits an insert of keynum with fresh random fields. */
static hb_rc_t
s_submit_insert(s_client_t *c, int64_t keynum, uint64_t *req)
{
    const s_opts_t *o = &c->run->o;
    char name[S_KEYNAME_MAX];
    hb_val_t args[1 + HB_YCSB_MAX_FIELDS];
    uint32_t len = s_keyname(keynum, name);
    args[0] = hb_val_str(name, len);
    s_fill(&c->rng, c->vals, (size_t)o->fields * o->field_len);
    for (uint32_t f = 0; f < o->fields; f++)
        args[1 + f] = hb_val_bin(c->vals + (size_t)f * o->field_len, o->field_len);
    return hb_client_submit(c->cl, "ycsb.insert", args, 1 + o->fields, req);
}

/* Submits a read, update or rmw of one record, or of two on different
 * partitions when the --mp draw says so. */
static hb_rc_t
s_submit_point(s_client_t *c, ycsb_op_t op, uint64_t *req)
{
    const s_opts_t *o = &c->run->o;
    char name[2][S_KEYNAME_MAX];
    uint32_t len[2];
    int nrec = 1;
    int64_t k0 = s_next_keynum(c);
    len[0] = s_keyname(k0, name[0]);
    if (o->mp_pct && o->partitions > 1 && hb_xorshift(&c->rng) % 100 < o->mp_pct) {
        uint32_t p0 = s_partition(c->run, name[0], len[0]);
        for (int tries = 0; tries < 1000; tries++) {
            len[1] = s_keyname(s_next_keynum(c), name[1]);
            if (s_partition(c->run, name[1], len[1]) != p0) {
                nrec = 2;
                break;
            }
        }
    }
    hb_val_t args[6];
    uint32_t nargs = 0;
    if (op == YCSB_OP_READ) {
        for (int r = 0; r < nrec; r++)
            args[nargs++] = hb_val_str(name[r], len[r]);
        return hb_client_submit(c->cl, "ycsb.read", args, nargs, req);
    }
    s_fill(&c->rng, c->vals, (size_t)nrec * o->field_len);
    for (int r = 0; r < nrec; r++) {
        args[nargs++] = hb_val_str(name[r], len[r]);
        args[nargs++] = hb_val_int(ycsb_uniform(&c->rng, 0, (int64_t)o->fields - 1));
        args[nargs++] = hb_val_bin(c->vals + (size_t)r * o->field_len, o->field_len);
    }
    return hb_client_submit(c->cl, op == YCSB_OP_UPDATE ? "ycsb.update" : "ycsb.rmw",
                            args, nargs, req);
}

/* Runs one scan (synchronously): `length` rows from a chosen start key on
 * every partition, merged in key order. Returns the outcome (0 ok, 2 error). */
static int
s_scan(s_client_t *c)
{
    s_run_t *run = c->run;
    uint32_t P = run->o.partitions;
    char name[S_KEYNAME_MAX];
    uint32_t len = s_keyname(s_next_keynum(c), name);
    uint32_t length = (uint32_t)ycsb_uniform(&c->rng, 1, run->o.wl->max_scan);
    hb_key_t start;
    hb_key_init(&start, HB_TABLE_YCSB);
    hb_key_put_str(&start, name, len);
    hb_scan_result_t *res[1024] = {0};
    int outcome = 0;
    for (uint32_t p = 0; p < P && p < 1024; p++) {
        if (hb_client_scan(c->cl, (uint16_t)p, start.buf, start.len, run->scan_end.buf,
                           run->scan_end.len, length, S_SCAN_TIMEOUT, &res[p]) != HB_OK ||
            res[p]->rc != HB_OK)
            outcome = 2;
    }
    if (outcome == 0) {
        /* Ordered merge of the partitions' runs, first `length` rows. */
        uint32_t pos[1024] = {0}, taken = 0;
        const uint8_t *prev = NULL;
        uint32_t prevlen = 0;
        while (taken < length) {
            int best = -1;
            for (uint32_t p = 0; p < P && p < 1024; p++) {
                if (pos[p] >= res[p]->nrows)
                    continue;
                const hb_scan_row_t *r = &res[p]->rows[pos[p]];
                if (best < 0)
                    best = (int)p;
                else {
                    const hb_scan_row_t *b = &res[best]->rows[pos[best]];
                    uint32_t m = r->klen < b->klen ? r->klen : b->klen;
                    int cmp = memcmp(r->key, b->key, m);
                    if (cmp < 0 || (cmp == 0 && r->klen < b->klen))
                        best = (int)p;
                }
            }
            if (best < 0)
                break;
            const hb_scan_row_t *r = &res[best]->rows[pos[best]++];
            /* Partitions hold disjoint keys: the merge must be strictly increasing. */
            if (prev) {
                uint32_t m = r->klen < prevlen ? r->klen : prevlen;
                int cmp = memcmp(prev, r->key, m);
                if (cmp > 0 || (cmp == 0 && prevlen >= r->klen))
                    outcome = 2;
            }
            prev = r->key;
            prevlen = r->klen;
            taken++;
        }
    }
    for (uint32_t p = 0; p < P && p < 1024; p++)
        hb_scan_result_destroy(&res[p]);
    return outcome;
}

/* --target postgres: runs one operation synchronously, drawing keys,
 * values and fields from the generators in the same order as the Hobbes
 * calls above. Returns the outcome (0 ok, 1 aborted, 2 error). */
static int
s_pg_op(s_client_t *c, ycsb_op_t op)
{
    const s_opts_t *o = &c->run->o;
    char name[S_KEYNAME_MAX];
    uint32_t len;
    if (op == YCSB_OP_INSERT) {
        int64_t k = ycsb_counter_next(c->run->inserts);
        len = s_keyname(k, name);
        s_fill(&c->rng, c->vals, (size_t)o->fields * o->field_len);
        int outcome = bench_ycsb_pg_insert(c->pg, name, len, c->vals, o->field_len);
        ycsb_counter_ack(c->run->inserts, k); /* YCSB acks whatever the outcome */
        return outcome;
    }
    len = s_keyname(s_next_keynum(c), name);
    if (op == YCSB_OP_READ)
        return bench_ycsb_pg_read(c->pg, name, len);
    if (op == YCSB_OP_SCAN)
        return bench_ycsb_pg_scan(c->pg, name, len,
                                  (uint32_t)ycsb_uniform(&c->rng, 1, o->wl->max_scan));
    s_fill(&c->rng, c->vals, o->field_len);
    uint32_t field = (uint32_t)ycsb_uniform(&c->rng, 0, (int64_t)o->fields - 1);
    if (op == YCSB_OP_UPDATE)
        return bench_ycsb_pg_update(c->pg, name, len, field, c->vals, o->field_len);
    return bench_ycsb_pg_rmw(c->pg, name, len, field, c->vals, o->field_len);
}

/* Starts one operation at intended time t0. Returns the operation (a scan
 * has finished when this returns; the others are in flight unless they
 * could not be sent). */
static ycsb_op_t
s_start_op(s_client_t *c, uint64_t t0)
{
    ycsb_op_t op = ycsb_workload_next_op(c->run->o.wl, &c->rng);
    if (c->pg) {
        int outcome = s_pg_op(c, op);
        s_record(c, op, bench_now_us() - t0, outcome);
        return op;
    }
    s_flight_t f = {.t0 = t0, .op = (uint8_t)op, .keynum = -1};
    hb_rc_t rc;
    if (op == YCSB_OP_SCAN) {
        int outcome = s_scan(c);
        s_record(c, op, bench_now_us() - t0, outcome);
        return op;
    }
    if (op == YCSB_OP_INSERT) {
        f.keynum = ycsb_counter_next(c->run->inserts);
        rc = s_submit_insert(c, f.keynum, &f.req);
        if (rc != HB_OK)
            ycsb_counter_ack(c->run->inserts, f.keynum);
    } else
        rc = s_submit_point(c, op, &f.req);
    if (rc != HB_OK) {
        s_record(c, op, 0, 2);
        return op;
    }
    s_fmap_put(&c->fly, &f);
    return op;
}

/* Counts calls unanswered for S_TIMEOUT_US as errors and forgets them
 * (at most once a second: it walks the whole map). */
static void
s_expire(s_client_t *c, uint64_t *last_check)
{
    uint64_t now = bench_now_us();
    if (now - *last_check < 1000000u)
        return;
    *last_check = now;
    for (size_t i = 0; i < c->fly.cap; i++) {
        s_flight_t f = c->fly.slot[i];
        if (f.req && now > f.t0 && now - f.t0 > S_TIMEOUT_US) {
            hb_client_forget(c->cl, f.req);
            s_fmap_take(&c->fly, f.req, &f);
            if (f.keynum >= 0)
                ycsb_counter_ack(c->run->inserts, f.keynum);
            s_record(c, (ycsb_op_t)f.op, now - f.t0, 2);
            i = (size_t)-1; /* the map shifted: rescan */
        }
    }
}

/* Waits up to timeout_ms for one result and accounts for it. Returns true
 * if a result arrived. */
static bool
s_poll(s_client_t *c, int timeout_ms)
{
    hb_result_t *res = NULL;
    if (hb_client_poll(c->cl, timeout_ms, &res) != HB_OK)
        return false;
    s_flight_t f;
    if (s_fmap_take(&c->fly, res->req_id, &f)) {
        uint64_t now = bench_now_us();
        if (f.keynum >= 0)
            ycsb_counter_ack(c->run->inserts,
                             f.keynum); /* YCSB acks whatever the outcome */
        int outcome = res->rc == HB_OK ? 0 : res->rc == HB_ABORTED ? 1 : 2;
        s_record(c, (ycsb_op_t)f.op, now > f.t0 ? now - f.t0 : 0, outcome);
    }
    hb_result_destroy(&res);
    return true;
}

/* Accounts for every result already waiting, without blocking. */
static void
s_drain(s_client_t *c)
{
    while (c->fly.n > 0 && s_poll(c, 0))
        ;
}

static void *
s_run_client(void *arg)
{
    s_client_t *c = arg;
    s_run_t *run = c->run;
    const s_opts_t *o = &run->o;
    uint64_t last_check = bench_now_us();
    if (c->pg) {
        /* One synchronous connection: closed loop runs back to back; open
         * loop waits for each arrival (latency from its intended time). */
        double rate = o->rate / o->clients;
        double next =
            o->rate > 0 ? (double)bench_now_us() + 1e6 * ycsb_rand_double(&c->rng) / rate
                        : 0;
        while (atomic_load(&run->phase) != 2) {
            if (o->rate <= 0) {
                s_start_op(c, bench_now_us());
                continue;
            }
            if (next > (double)bench_now_us()) {
                /* Sleep in slices of at most 100 ms so the stop is seen. */
                uint64_t cap = bench_now_us() + 100000u;
                s_sleep_until((uint64_t)next < cap ? (uint64_t)next : cap);
                continue;
            }
            s_start_op(c, (uint64_t)next);
            next += o->fixed ? 1e6 / rate
                             : -log(1.0 - ycsb_rand_double(&c->rng)) * 1e6 / rate;
        }
        return NULL;
    }
    if (o->rate > 0) {
        /* Open loop: this client's share of the arrivals; latency counts
         * from each arrival's intended time. */
        double rate = o->rate / o->clients;
        double next = (double)bench_now_us() + 1e6 * ycsb_rand_double(&c->rng) / rate;
        uint32_t cap = o->window_set ? o->window : S_OPEN_CAP;
        while (atomic_load(&run->phase) != 2 || c->fly.n > 0) {
            while (atomic_load(&run->phase) != 2 && next <= (double)bench_now_us() &&
                   c->fly.n < cap) {
                if (s_start_op(c, (uint64_t)next) == YCSB_OP_SCAN)
                    s_drain(c);
                next += o->fixed ? 1e6 / rate
                                 : -log(1.0 - ycsb_rand_double(&c->rng)) * 1e6 / rate;
            }
            s_drain(c);
            s_expire(c, &last_check);
            int wait = 100;
            if (atomic_load(&run->phase) != 2 && c->fly.n < cap) {
                double d = (next - (double)bench_now_us()) / 1000.0;
                wait = d <= 0 ? 0 : d < 100 ? (int)ceil(d) : 100;
            }
            if (c->fly.n > 0)
                s_poll(c, wait);
            else if (atomic_load(&run->phase) != 2)
                s_sleep_until((uint64_t)next);
        }
        return NULL;
    }
    while (atomic_load(&run->phase) != 2 || c->fly.n > 0) {
        /* Closed loop: top the window up; a scan runs synchronously and
         * takes a turn, not a slot, so drain results after each one. */
        uint32_t budget = o->window > c->fly.n ? o->window - (uint32_t)c->fly.n : 0;
        for (uint32_t i = 0; i < budget && atomic_load(&run->phase) != 2; i++)
            if (s_start_op(c, bench_now_us()) == YCSB_OP_SCAN)
                s_drain(c);
        s_expire(c, &last_check);
        if (c->fly.n >= o->window || (atomic_load(&run->phase) == 2 && c->fly.n > 0)) {
            if (s_poll(c, 100))
                s_drain(c);
        } else
            s_drain(c);
    }
    return NULL;
}

/* -------------------------------------------------------------- load */

static void *
s_load_client(void *arg)
{
    s_client_t *c = arg;
    s_run_t *run = c->run;
    const s_opts_t *o = &run->o;
    uint64_t next = c->id;
    while ((next < o->records && !atomic_load(&run->stop_load)) || c->fly.n > 0) {
        while (next < o->records && c->fly.n < o->window &&
               !atomic_load(&run->stop_load)) {
            s_flight_t f = {
                .t0 = bench_now_us(), .op = YCSB_OP_INSERT, .keynum = (int64_t)next};
            if (s_submit_insert(c, (int64_t)next, &f.req) == HB_OK)
                s_fmap_put(&c->fly, &f);
            else {
                atomic_fetch_add(&run->load_errors, 1);
                atomic_fetch_add(&run->loaded, 1);
            }
            next += o->clients;
        }
        if (c->fly.n == 0)
            continue;
        hb_result_t *res = NULL;
        if (hb_client_poll(c->cl, 1000, &res) != HB_OK) {
            uint64_t now = bench_now_us();
            for (size_t i = 0; i < c->fly.cap; i++) {
                s_flight_t f = c->fly.slot[i];
                if (f.req && now - f.t0 > S_TIMEOUT_US) {
                    hb_client_forget(c->cl, f.req);
                    s_fmap_take(&c->fly, f.req, &f);
                    atomic_fetch_add(&run->load_errors, 1);
                    atomic_fetch_add(&run->loaded, 1);
                    i = (size_t)-1;
                }
            }
            continue;
        }
        s_flight_t f;
        if (s_fmap_take(&c->fly, res->req_id, &f)) {
            if (res->rc == HB_OK)
                atomic_fetch_add(&run->load_ok, 1);
            else if (res->rc == HB_ABORTED)
                atomic_fetch_add(&run->load_exists, 1);
            else
                atomic_fetch_add(&run->load_errors, 1);
            atomic_fetch_add(&run->loaded, 1);
        }
        hb_result_destroy(&res);
    }
    return NULL;
}

#define S_PG_BATCH 500 /* records per COPY */

/* --target postgres: loads records id, id + clients, ... in COPY batches,
 * with the same values (same generator, same order) as the Hobbes load. */
static void *
s_pg_load_client(void *arg)
{
    s_client_t *c = arg;
    s_run_t *run = c->run;
    const s_opts_t *o = &run->o;
    size_t rowbytes = (size_t)o->fields * o->field_len;
    char(*names)[S_KEYNAME_MAX] = malloc(S_PG_BATCH * sizeof *names);
    const char **namep = malloc(S_PG_BATCH * sizeof *namep);
    uint8_t *vals = malloc(S_PG_BATCH * rowbytes + 1);
    if (!names || !namep || !vals) {
        fprintf(stderr, "hobbes-bench: load client %u: out of memory\n", c->id);
        atomic_store(&run->stop_load, 1);
        goto out;
    }
    uint64_t next = c->id;
    while (next < o->records && !atomic_load(&run->stop_load)) {
        size_t n = 0;
        for (; n < S_PG_BATCH && next < o->records; n++, next += o->clients) {
            s_keyname((int64_t)next, names[n]);
            namep[n] = names[n];
            s_fill(&c->rng, vals + n * rowbytes, rowbytes);
        }
        char err[512];
        if (bench_ycsb_pg_load(c->pg, n, namep, vals, o->field_len, err, sizeof err) !=
            0) {
            fprintf(stderr, "\nhobbes-bench: load client %u: %s\n", c->id, err);
            atomic_fetch_add(&run->load_errors, n);
            atomic_store(&run->stop_load, 1);
        } else
            atomic_fetch_add(&run->load_ok, n);
        atomic_fetch_add(&run->loaded, n);
    }
out:
    free(names);
    free(namep);
    free(vals);
    return NULL;
}

static void
s_fmt_eta(double s, char *out, size_t cap)
{
    if (s < 0 || s > 1e7)
        snprintf(out, cap, "--");
    else if (s >= 3600)
        snprintf(out, cap, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60)
        snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(out, cap, "%ds", (int)ceil(s));
}

static int
s_load(s_run_t *run, s_client_t *cl, pthread_t *th)
{
    const s_opts_t *o = &run->o;
    uint64_t start = bench_now_us();
    if (o->pg_url) {
        char err[512];
        if (bench_ycsb_pg_create_table(cl[0].pg, err, sizeof err) != 0) {
            fprintf(stderr, "hobbes-bench: %s\n", err);
            return 1;
        }
    }
    for (uint32_t i = 0; i < o->clients; i++)
        pthread_create(&th[i], NULL, o->pg_url ? s_pg_load_client : s_load_client,
                       &cl[i]);
    uint64_t last_n = 0, last_t = start;
    double recent = 0;
    for (;;) {
        s_sleep_until(bench_now_us() + 250000);
        uint64_t n = atomic_load(&run->loaded), now = bench_now_us();
        double rps = (double)(n - last_n) * 1e6 / (double)(now - last_t);
        recent = recent == 0 ? rps : 0.7 * recent + 0.3 * rps;
        last_n = n;
        last_t = now;
        double pct = o->records ? 100.0 * (double)n / (double)o->records : 100.0;
        char eta[32];
        s_fmt_eta(recent > 0 ? (double)(o->records - n) / recent : -1, eta, sizeof eta);
        int bar = (int)(pct / 100.0 * 30);
        char bars[31];
        memset(bars, '#', (size_t)bar);
        memset(bars + bar, '.', (size_t)(30 - bar));
        bars[30] = '\0';
        fprintf(stderr,
                "\rload [%s] %5.1f%%  %" PRIu64 "/%" PRIu64
                " records  %8.0f rec/s  ETA %-8s",
                bars, pct, n, o->records, recent, eta);
        fflush(stderr);
        if (n >= o->records || (o->pg_url && atomic_load(&run->stop_load)))
            break;
        /* Nothing at all for 30 s: the cluster is not answering. */
        if (now - start > 30000000u && n == 0) {
            atomic_store(&run->stop_load, 1);
            break;
        }
    }
    for (uint32_t i = 0; i < o->clients; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(bench_now_us() - start) / 1e6;
    fprintf(stderr, "\n");
    printf("load: %" PRIu64 " inserted, %" PRIu64 " already present, %" PRIu64
           " errors in %.1fs (%.0f records/s)\n",
           (uint64_t)atomic_load(&run->load_ok), (uint64_t)atomic_load(&run->load_exists),
           (uint64_t)atomic_load(&run->load_errors), secs,
           (double)atomic_load(&run->loaded) / (secs > 0 ? secs : 1));
    fflush(stdout);
    return atomic_load(&run->load_errors) == 0 && !atomic_load(&run->stop_load) ? 0 : 1;
}

/* --------------------------------------------------------------- run */

typedef struct {
    bench_hist_t total[YCSB_OP_COUNT_]; /* per operation */
    bench_hist_t all;                   /* every operation */
    uint64_t ok[YCSB_OP_COUNT_];
    uint64_t aborted[YCSB_OP_COUNT_];
    uint64_t errors[YCSB_OP_COUNT_];
} s_sum_t;

static void
s_collect(s_run_t *run, s_client_t *cl, bench_hist_t *interval, uint64_t *ab,
          uint64_t *er, s_sum_t *sum)
{
    bench_hist_reset(interval);
    *ab = *er = 0;
    for (uint32_t i = 0; i < run->o.clients; i++) {
        s_stats_t *st = cl[i].stats;
        pthread_mutex_lock(&st->mu);
        bench_hist_merge(interval, &st->interval);
        bench_hist_reset(&st->interval);
        *ab += st->int_aborted;
        *er += st->int_errors;
        st->int_aborted = st->int_errors = 0;
        if (sum)
            for (int op = 0; op < YCSB_OP_COUNT_; op++) {
                bench_hist_merge(&sum->total[op], &st->total[op]);
                bench_hist_merge(&sum->all, &st->total[op]);
                sum->ok[op] += st->ok[op];
                sum->aborted[op] += st->aborted[op];
                sum->errors[op] += st->errors[op];
            }
        pthread_mutex_unlock(&st->mu);
    }
}

/* Writes s as a JSON string (quoted, escaped). */
static void
s_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* timeline: ops/s of each measured second (n of them). */
static void
s_write_json(const s_run_t *run, const s_sum_t *sum, double ops, double secs,
             const double *timeline, uint32_t n, const bench_stages_t *stages,
             const bench_hist_t *all)
{
    const s_opts_t *o = &run->o;
    FILE *f = fopen(o->json, "w");
    if (!f) {
        fprintf(stderr, "hobbes-bench: cannot write %s: %s\n", o->json, strerror(errno));
        return;
    }
    uint64_t ok = 0, ab = 0, er = 0;
    for (int op = 0; op < YCSB_OP_COUNT_; op++) {
        ok += sum->ok[op];
        ab += sum->aborted[op];
        er += sum->errors[op];
    }
    fprintf(
        f,
        "{\n  \"workload\": \"ycsb-%c\",\n  \"target\": \"%s\",\n  \"params\": {\"%s\": ",
        o->wl->name, o->pg_url ? "postgres" : "hobbes", o->pg_url ? "server" : "config");
    s_json_str(f, o->pg_url ? o->pg_desc : o->config);
    fprintf(f,
            ", \"records\": %" PRIu64 ", \"theta\": %g, "
            "\"fields\": %u, \"field_length\": %u, \"mp_pct\": %u, \"clients\": %u, "
            "\"window\": %u, \"duration_s\": %u, \"warmup_s\": %u, \"rate\": %g, "
            "\"arrivals\": \"%s\", \"partitions\": %u, \"seed\": %" PRIu64 "},\n"
            "  \"elapsed_s\": %.3f,\n  \"throughput_ops\": %.1f,\n"
            "  \"headline\": {\"name\": \"ops/s\", \"value\": %.1f},\n  \"ok\": %" PRIu64
            ",\n  \"aborted\": %" PRIu64 ",\n  \"errors\": %" PRIu64 ",\n  \"ops\": {",
            o->records, o->theta, o->fields, o->field_len, o->mp_pct, o->clients,
            o->window, o->duration, o->warmup, o->rate,
            o->rate > 0 ? (o->fixed ? "fixed" : "poisson") : "closed", o->partitions,
            o->seed, secs, ops, ops, ok, ab, er);
    int first = 1;
    for (int op = 0; op < YCSB_OP_COUNT_; op++) {
        const bench_hist_t *h = &sum->total[op];
        if (o->wl->prop[op] <= 0)
            continue;
        fprintf(f,
                "%s\n    \"%s\": {\"ok\": %" PRIu64 ", \"aborted\": %" PRIu64
                ", \"errors\": %" PRIu64 ", \"throughput_ops\": %.1f, \"latency_us\": "
                "{\"p50\": %" PRIu64 ", \"p95\": %" PRIu64 ", \"p99\": %" PRIu64
                ", \"p99.9\": %" PRIu64 ", \"max\": %" PRIu64 ", \"mean\": %.1f}}",
                first ? "" : ",", ycsb_op_name((ycsb_op_t)op), sum->ok[op],
                sum->aborted[op], sum->errors[op],
                secs > 0 ? (double)sum->ok[op] / secs : 0.0, bench_hist_quantile(h, 0.5),
                bench_hist_quantile(h, 0.95), bench_hist_quantile(h, 0.99),
                bench_hist_quantile(h, 0.999), h->max,
                h->count ? (double)h->sum / (double)h->count : 0.0);
        first = 0;
    }
    fprintf(f, "\n  },\n  \"timeline\": [");
    for (uint32_t s = 0; s < n; s++)
        fprintf(f, "%s[%u, %.1f]", s ? ", " : "", s + 1, timeline[s]);
    fprintf(f, "],\n  \"latency_cdf\": {");
    first = 1;
    for (int op = 0; op < YCSB_OP_COUNT_; op++) {
        if (o->wl->prop[op] <= 0)
            continue;
        fprintf(f, "%s\n    \"%s\": ", first ? "" : ",", ycsb_op_name((ycsb_op_t)op));
        bench_hist_cdf_json(f, &sum->total[op]);
        first = 0;
    }
    fprintf(f, "\n  }");
    if (stages) {
        fprintf(f, ",\n  ");
        bench_stages_json(f, stages, all);
    }
    fprintf(f, "\n}\n");
    if (ferror(f) | fclose(f))
        fprintf(stderr, "hobbes-bench: error writing %s\n", o->json);
}

static int
s_run(s_run_t *run, s_client_t *cl, pthread_t *th)
{
    const s_opts_t *o = &run->o;
    for (uint32_t i = 0; i < o->clients; i++) {
        if (o->wl->dist == YCSB_DIST_LATEST)
            cl[i].latest = ycsb_latest_new(run->inserts);
        else
            cl[i].zipf = ycsb_scrambled_new(0, (int64_t)o->records - 1, o->theta);
        if (!cl[i].latest && !cl[i].zipf) {
            fprintf(stderr, "hobbes-bench: cannot build the key distribution\n");
            return 2;
        }
    }
    printf("ycsb-%c: %s, %u clients x %s, %" PRIu64 " records x %u fields x %u bytes, "
           "theta %g, mp %u%%, %u partitions, warmup %us, duration %us, seed %" PRIu64
           "\n",
           o->wl->name, o->pg_url ? o->pg_desc : o->config, o->clients,
           o->rate > 0 ? (o->fixed ? "open loop (fixed arrivals)" : "open loop (Poisson)")
                       : "closed loop",
           o->records, o->fields, o->field_len, o->theta, o->mp_pct, o->partitions,
           o->warmup, o->duration, o->seed);
    if (o->rate > 0)
        printf("ycsb-%c: target %.0f ops/s\n", o->wl->name, o->rate);
    else if (o->pg_url)
        printf("ycsb-%c: one synchronous operation per client%s\n", o->wl->name,
               o->window_set ? " (--window ignored for postgres)" : "");
    else
        printf("ycsb-%c: window %u per client\n", o->wl->name, o->window);
    if (o->theta != YCSB_ZIPFIAN_CONSTANT && o->wl->dist == YCSB_DIST_ZIPFIAN)
        printf("ycsb-%c: theta %g: zeta computed over the %" PRIu64
               " records (YCSB's precomputed 10^10-item zeta is for 0.99 only)\n",
               o->wl->name, o->theta, o->records);
    fflush(stdout);
    for (uint32_t i = 0; i < o->clients; i++)
        pthread_create(&th[i], NULL, s_run_client, &cl[i]);
    s_sleep_until(bench_now_us() + (uint64_t)o->warmup * 1000000u);
    atomic_store(&run->phase, 1);
    uint64_t start = bench_now_us();
    bench_hist_t interval;
    uint64_t ab, er;
    double *timeline = calloc(o->duration, sizeof *timeline);
    for (uint32_t s = 1; s <= o->duration; s++) {
        s_sleep_until(start + (uint64_t)s * 1000000u);
        s_collect(run, cl, &interval, &ab, &er, NULL);
        if (timeline) /* successful operations, like throughput_ops */
            timeline[s - 1] = (double)(interval.count - ab - er);
        printf("[%3us] %9.0f ops/s  p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  "
               "aborts %" PRIu64 "  errors %" PRIu64 "\n",
               s, (double)interval.count, bench_hist_quantile(&interval, 0.5) / 1000.0,
               bench_hist_quantile(&interval, 0.99) / 1000.0,
               bench_hist_quantile(&interval, 0.999) / 1000.0, ab, er);
        fflush(stdout);
    }
    uint64_t elapsed = bench_now_us() - start;
    atomic_store(&run->phase, 2);
    for (uint32_t i = 0; i < o->clients; i++)
        pthread_join(th[i], NULL);
    s_sum_t *sum = calloc(1, sizeof *sum);
    s_collect(run, cl, &interval, &ab, &er, sum);
    double secs = (double)elapsed / 1e6;
    uint64_t ok = 0, aborted = 0, errors = 0;
    for (int op = 0; op < YCSB_OP_COUNT_; op++) {
        ok += sum->ok[op];
        aborted += sum->aborted[op];
        errors += sum->errors[op];
    }
    double ops = (double)ok / secs;
    printf("summary: %.0f ops/s (%" PRIu64 " ok, %" PRIu64 " aborted, %" PRIu64
           " errors in %.1fs)\n",
           ops, ok, aborted, errors, secs);
    printf("  %-7s %10s %9s %8s %8s %9s %9s %9s %9s %9s\n", "op", "ok", "ops/s", "aborts",
           "errors", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "max ms");
    for (int op = 0; op < YCSB_OP_COUNT_; op++) {
        const bench_hist_t *h = &sum->total[op];
        if (o->wl->prop[op] <= 0)
            continue;
        printf("  %-7s %10" PRIu64 " %9.0f %8" PRIu64 " %8" PRIu64
               " %9.2f %9.2f %9.2f %9.2f %9.2f\n",
               ycsb_op_name((ycsb_op_t)op), sum->ok[op], (double)sum->ok[op] / secs,
               sum->aborted[op], sum->errors[op], bench_hist_quantile(h, 0.5) / 1000.0,
               bench_hist_quantile(h, 0.95) / 1000.0,
               bench_hist_quantile(h, 0.99) / 1000.0,
               bench_hist_quantile(h, 0.999) / 1000.0, (double)h->max / 1000.0);
    }
    /* Where the time went, from every process's STATUS (hobbes only). */
    bench_stages_t *stages = NULL;
    bench_hist_t *all = calloc(1, sizeof *all);
    for (int op = 0; op < YCSB_OP_COUNT_; op++)
        bench_hist_merge(all, &sum->total[op]);
    if (!o->pg_url) {
        stages = calloc(1, sizeof *stages);
        if (bench_stages_fetch(o->config, stages) > 0) {
            bench_stages_print(stdout, stages, all);
        } else {
            free(stages);
            stages = NULL;
        }
    }
    if (o->json)
        s_write_json(run, sum, ops, secs, timeline, timeline ? o->duration : 0, stages,
                     all);
    free(stages);
    free(all);
    free(timeline);
    free(sum);
    return ok > 0 ? 0 : 1;
}

/* ------------------------------------------------------------ options */

void
bench_ycsb_usage(void)
{
    fprintf(
        stderr,
        "       hobbes-bench ycsb --config FILE --workload a|b|c|d|e|f [--records N] "
        "[--theta T]\n"
        "                         [--fields F] [--field-length L] [--mp PCT] "
        "[--clients N] [--window W]\n"
        "                         [--duration S] [--warmup S] [--rate OPS [--fixed]]\n"
        "                         [--load-only | --run-only] [--json FILE] [--seed N]\n"
        "       hobbes-bench ycsb --target postgres://USER@HOST:PORT/DB --workload ... "
        "(same options;\n"
        "                         PostgreSQL through libpq, table usertable; no "
        "--config)\n");
}

static int
s_dbl(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *s == '\0' || *end != '\0' || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

/* Reads the options into o and *target. Returns 0, or -1 for bad usage
 * (printed). */
static int
s_parse_args(int argc, char **argv, s_opts_t *o, const char **target)
{
    o->config = getenv("HOBBES_CONFIG");
    o->records = 100000;
    o->theta = YCSB_ZIPFIAN_CONSTANT;
    o->fields = 10;
    o->field_len = 100;
    o->clients = 8;
    o->window = 32;
    o->duration = 10;
    o->warmup = 1;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"workload", required_argument, NULL, 'W'},
        {"records", required_argument, NULL, 'r'},
        {"theta", required_argument, NULL, 't'},
        {"fields", required_argument, NULL, 'f'},
        {"field-length", required_argument, NULL, 'l'},
        {"mp", required_argument, NULL, 'm'},
        {"clients", required_argument, NULL, 'n'},
        {"window", required_argument, NULL, 'w'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'u'},
        {"rate", required_argument, NULL, 'R'},
        {"fixed", no_argument, NULL, 'F'},
        {"load-only", no_argument, NULL, 'L'},
        {"run-only", no_argument, NULL, 'U'},
        {"json", required_argument, NULL, 'j'},
        {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"target", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 2;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'W':
            o->wl = strlen(optarg) == 1 ? ycsb_workload(optarg[0]) : NULL;
            bad = !o->wl;
            break;
        case 'r':
            bad = bench_parse_u64(optarg, 1, 2000000000, &v);
            o->records = v;
            break;
        case 't':
            bad = s_dbl(optarg, 0.01, 0.999, &o->theta);
            break;
        case 'f':
            bad = bench_parse_u64(optarg, 1, HB_YCSB_MAX_FIELDS, &v);
            o->fields = (uint32_t)v;
            break;
        case 'l':
            bad = bench_parse_u64(optarg, 0, 65536, &v);
            o->field_len = (uint32_t)v;
            break;
        case 'm':
            bad = bench_parse_u64(optarg, 0, 100, &v);
            o->mp_pct = (uint32_t)v;
            break;
        case 'n':
            bad = bench_parse_u64(optarg, 1, 4096, &v);
            o->clients = (uint32_t)v;
            break;
        case 'w':
            bad = bench_parse_u64(optarg, 1, 65536, &v);
            o->window = (uint32_t)v;
            o->window_set = 1;
            break;
        case 'd':
            bad = bench_parse_u64(optarg, 1, 86400, &v);
            o->duration = (uint32_t)v;
            break;
        case 'u':
            bad = bench_parse_u64(optarg, 0, 3600, &v);
            o->warmup = (uint32_t)v;
            break;
        case 'R':
            bad = s_dbl(optarg, 0.001, 1e9, &o->rate);
            break;
        case 'F':
            o->fixed = 1;
            break;
        case 'L':
            o->load_only = 1;
            break;
        case 'U':
            o->run_only = 1;
            break;
        case 'j':
            o->json = optarg;
            break;
        case 's':
            bad = bench_parse_u64(optarg, 0, UINT64_MAX, &v);
            o->seed = v;
            break;
        case 'T':
            *target = optarg;
            break;
        default:
            bad = 1;
            break;
        }
        if (bad) {
            fprintf(stderr, "hobbes-bench: bad value for --%s\n",
                    optind > 1 && optind <= argc ? argv[optind - 1] + 2 : "?");
            bench_ycsb_usage();
            return -1;
        }
    }
    return 0;
}

/* Checks the target and the options against each other and finds the
 * partitions (from the config, or 1 for PostgreSQL). Returns 0, or -1 for
 * bad usage (printed). */
static int
s_check_opts(s_opts_t *o, const char *target, int argc)
{
    char err[512];
    if (target && strcmp(target, "hobbes") != 0) {
        if (!bench_ycsb_pg_is_target(target)) {
            fprintf(stderr,
                    "hobbes-bench: --target is hobbes or a PostgreSQL URL "
                    "(postgres://USER@HOST:PORT/DB), not \"%s\"\n",
                    target);
            return -1;
        }
        if (bench_ycsb_pg_check_url(target, err, sizeof err) != 0) {
            fprintf(stderr, "hobbes-bench: --target: %s\n", err);
            return -1;
        }
        o->pg_url = target;
    }
    if (optind != argc || (!o->config && !o->pg_url) || !o->wl ||
        (o->load_only && o->run_only)) {
        fprintf(stderr,
                "hobbes-bench: ycsb needs --config (or --target URL) and --workload%s\n",
                o->load_only && o->run_only ? " (and not both --load-only and --run-only)"
                                            : "");
        bench_ycsb_usage();
        return -1;
    }
    if (o->pg_url) {
        o->partitions = 1;
        if (o->mp_pct)
            fprintf(stderr, "hobbes-bench: --mp ignored for postgres (one server)\n");
        o->mp_pct = 0;
    } else {
        hb_config_t *cfg = NULL;
        if (hb_config_load(o->config, &cfg, err, sizeof err) != HB_OK) {
            fprintf(stderr, "hobbes-bench: %s\n", err);
            return -1;
        }
        o->partitions = cfg->partitions;
        hb_config_destroy(&cfg);
    }
    if (o->mp_pct && o->partitions < 2)
        fprintf(stderr, "hobbes-bench: --mp ignored: the cluster has one partition\n");
    if (o->partitions > 1024) {
        fprintf(stderr, "hobbes-bench: ycsb supports at most 1024 partitions\n");
        return -1;
    }
    return 0;
}

/* Sets up every client and its connection. Returns 0, or -1 when a
 * connection failed (printed); s_clients_close frees either way. */
static int
s_clients_open(s_run_t *run, s_client_t *cl)
{
    const s_opts_t *o = &run->o;
    char err[512];
    for (uint32_t i = 0; i < o->clients; i++) {
        cl[i].run = run;
        cl[i].id = i;
        cl[i].rng =
            (o->seed + 1) * 0x9e3779b97f4a7c15ULL + (i + 1) * 0xbf58476d1ce4e5b9ULL;
        if (cl[i].rng == 0)
            cl[i].rng = 1;
        cl[i].stats = calloc(1, sizeof *cl[i].stats);
        pthread_mutex_init(&cl[i].stats->mu, NULL);
        cl[i].vals = malloc((size_t)HB_YCSB_MAX_FIELDS * (o->field_len + 1) + 16);
        s_fmap_init(&cl[i].fly, o->rate > 0 && !o->window_set ? S_OPEN_CAP : o->window);
        if (o->pg_url) {
            cl[i].pg = bench_ycsb_pg_new(o->pg_url, o->fields, err, sizeof err);
            if (!cl[i].pg) {
                fprintf(stderr, "hobbes-bench: client %u: %s\n", i, err);
                return -1;
            }
            continue;
        }
        cl[i].cl = hb_client_new(o->config, 0, err, sizeof err);
        if (!cl[i].cl) {
            fprintf(stderr, "hobbes-bench: client %u: %s\n", i, err);
            return -1;
        }
    }
    return 0;
}

static void
s_clients_close(const s_run_t *run, s_client_t *cl)
{
    for (uint32_t i = 0; i < run->o.clients; i++) {
        bench_ycsb_pg_destroy(&cl[i].pg);
        hb_client_destroy(&cl[i].cl);
        ycsb_scrambled_destroy(&cl[i].zipf);
        ycsb_latest_destroy(&cl[i].latest);
        if (cl[i].stats)
            pthread_mutex_destroy(&cl[i].stats->mu);
        free(cl[i].stats);
        free(cl[i].vals);
        free(cl[i].fly.slot);
    }
}

/* Loads (unless --run-only) and runs (unless --load-only). Returns the
 * exit code. */
static int
s_load_and_run(s_run_t *run, s_client_t *cl, pthread_t *th)
{
    const s_opts_t *o = &run->o;
    char err[512];
    int rc = 0;
    if (o->pg_url)
        bench_ycsb_pg_describe(cl[0].pg, run->o.pg_desc, sizeof run->o.pg_desc);
    if (!o->run_only)
        rc = s_load(run, cl, th);
    if (o->pg_url && rc == 0 && !o->run_only &&
        bench_ycsb_pg_analyze(cl[0].pg, err, sizeof err) != 0) {
        fprintf(stderr, "hobbes-bench: %s\n", err);
        rc = 1;
    }
    for (uint32_t i = 0; o->pg_url && !o->load_only && rc == 0 && i < o->clients; i++)
        if (bench_ycsb_pg_prepare(cl[i].pg, err, sizeof err) != 0) {
            fprintf(stderr, "hobbes-bench: %s\n", err);
            rc = 1;
        }
    if (!o->load_only && rc == 0)
        rc = s_run(run, cl, th);
    return rc;
}

int
bench_ycsb_main(int argc, char **argv)
{
    s_run_t *run = calloc(1, sizeof *run);
    s_opts_t *o = &run->o;
    const char *target = NULL;
    int rc = 2;
    if (s_parse_args(argc, argv, o, &target) != 0 || s_check_opts(o, target, argc) != 0)
        goto out;
    hb_key_init(&run->scan_end, HB_TABLE_YCSB + 1);
    run->inserts = ycsb_counter_new((int64_t)o->records);
    s_client_t *cl = calloc(o->clients, sizeof *cl);
    pthread_t *th = calloc(o->clients, sizeof *th);
    rc = s_clients_open(run, cl) == 0 ? s_load_and_run(run, cl, th) : 1;
    s_clients_close(run, cl);
    free(cl);
    free(th);
    ycsb_counter_destroy(&run->inserts);
out:
    free(run);
    return rc;
}
