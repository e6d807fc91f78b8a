/* ycsb_gen.c — YCSB's generators (see ycsb_gen.h).
 *
 * Each function names the YCSB class it ports; the arithmetic follows the
 * Java code operation by operation (doubles, pow, truncating casts), so the
 * distributions match the reference client's.
 */
#include "ycsb_gen.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hb_alloc.h"
#include "hb_util.h"

#define S_FNV_OFFSET 0xCBF29CE484222325ULL
#define S_FNV_PRIME  1099511628211ULL

int64_t
ycsb_fnvhash64(int64_t v)
{
    uint64_t val = (uint64_t)v;
    uint64_t h = S_FNV_OFFSET;
    for (int i = 0; i < 8; i++) {
        h ^= val & 0xff;
        h *= S_FNV_PRIME; /* Java long multiply: wraps mod 2^64 */
        val >>= 8;
    }
    int64_t s = (int64_t)h;
    if (s < 0 && s != INT64_MIN) /* Math.abs(Long.MIN_VALUE) is itself */
        s = -s;
    return s;
}

size_t
ycsb_key_name(int64_t keynum, char *out, size_t cap)
{
    int n = snprintf(out, cap, "user%lld", (long long)ycsb_fnvhash64(keynum));
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}

double
ycsb_rand_double(uint64_t *rng)
{
    /* Java's nextDouble: 53 random bits scaled to [0, 1). */
    return (double)(hb_xorshift(rng) >> 11) * 0x1.0p-53;
}

int64_t
ycsb_uniform(uint64_t *rng, int64_t lb, int64_t ub)
{
    if (ub <= lb)
        return lb;
    uint64_t interval = (uint64_t)ub - (uint64_t)lb + 1;
    return lb + (int64_t)(hb_xorshift(rng) % interval);
}

double
ycsb_zeta(int64_t st, int64_t n, double theta, double initial)
{
    double sum = initial;
    for (int64_t i = st; i < n; i++)
        sum += 1.0 / pow((double)(i + 1), theta);
    return sum;
}

/* ------------------------------------------------------------ zipfian */

struct ycsb_zipf {
    int64_t items;        /* number of items (max - min + 1) at creation */
    int64_t base;         /* min */
    double theta;         /* zipfian constant */
    double zeta2theta;    /* zeta(2, theta) */
    double alpha;         /* 1 / (1 - theta) */
    double zetan;         /* zeta(countforzeta, theta) */
    double eta;           /* Gray's eta for zetan */
    int64_t countforzeta; /* item count zetan was computed for */
};

ycsb_zipf_t *
ycsb_zipf_new_zetan(int64_t min, int64_t max, double theta, double zetan)
{
    if (max < min || !(theta > 0.0 && theta < 1.0) || !(zetan > 0.0))
        return NULL;
    ycsb_zipf_t *z = hb_calloc(1, sizeof *z);
    z->items = max - min + 1;
    z->base = min;
    z->theta = theta;
    z->zeta2theta = ycsb_zeta(0, 2, theta, 0.0);
    z->alpha = 1.0 / (1.0 - theta);
    z->zetan = zetan;
    z->countforzeta = z->items;
    z->eta =
        (1 - pow(2.0 / (double)z->items, 1 - theta)) / (1 - z->zeta2theta / z->zetan);
    return z;
}

ycsb_zipf_t *
ycsb_zipf_new(int64_t min, int64_t max, double theta)
{
    if (max < min || !(theta > 0.0 && theta < 1.0))
        return NULL;
    return ycsb_zipf_new_zetan(min, max, theta, ycsb_zeta(0, max - min + 1, theta, 0.0));
}

void
ycsb_zipf_destroy(ycsb_zipf_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_free(*self_p);
    *self_p = NULL;
}

int64_t
ycsb_zipf_next_n(ycsb_zipf_t *z, int64_t itemcount, uint64_t *rng)
{
    if (itemcount > z->countforzeta) {
        z->zetan = ycsb_zeta(z->countforzeta, itemcount, z->theta, z->zetan);
        z->countforzeta = itemcount;
        /* YCSB uses the creation-time item count here, not itemcount. */
        z->eta = (1 - pow(2.0 / (double)z->items, 1 - z->theta)) /
                 (1 - z->zeta2theta / z->zetan);
    }
    double u = ycsb_rand_double(rng);
    double uz = u * z->zetan;
    if (uz < 1.0)
        return z->base;
    if (uz < 1.0 + pow(0.5, z->theta))
        return z->base + 1;
    return z->base +
           (int64_t)((double)itemcount * pow(z->eta * u - z->eta + 1, z->alpha));
}

int64_t
ycsb_zipf_next(ycsb_zipf_t *z, uint64_t *rng)
{
    return ycsb_zipf_next_n(z, z->items, rng);
}

double
ycsb_zipf_zetan(const ycsb_zipf_t *z)
{
    return z->zetan;
}

/* -------------------------------------------------- scrambled zipfian */

struct ycsb_scrambled {
    ycsb_zipf_t *gen;  /* the underlying zipfian (owned) */
    int64_t min;       /* smallest value returned */
    int64_t itemcount; /* values returned: [min, min + itemcount) */
};

ycsb_scrambled_t *
ycsb_scrambled_new(int64_t min, int64_t max, double theta)
{
    if (max < min)
        return NULL;
    ycsb_zipf_t *gen;
    if (theta == YCSB_ZIPFIAN_CONSTANT)
        gen = ycsb_zipf_new_zetan(0, YCSB_ITEM_COUNT, theta, YCSB_ZETAN);
    else
        gen = ycsb_zipf_new(0, max - min, theta);
    if (!gen)
        return NULL;
    ycsb_scrambled_t *s = hb_calloc(1, sizeof *s);
    s->gen = gen;
    s->min = min;
    s->itemcount = max - min + 1;
    return s;
}

void
ycsb_scrambled_destroy(ycsb_scrambled_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ycsb_zipf_destroy(&(*self_p)->gen);
    hb_free(*self_p);
    *self_p = NULL;
}

int64_t
ycsb_scrambled_next(ycsb_scrambled_t *s, uint64_t *rng)
{
    int64_t v = ycsb_zipf_next(s->gen, rng);
    int64_t h = ycsb_fnvhash64(v) % s->itemcount; /* Java %: sign of h */
    if (h < 0)
        h = -h; /* only for fnvhash64 = INT64_MIN, which YCSB would return negative */
    return s->min + h;
}

/* --------------------------------------------- acknowledged counter */

#define S_WINDOW_SIZE ((int64_t)1 << 20)
#define S_WINDOW_MASK (S_WINDOW_SIZE - 1)

struct ycsb_counter {
    _Atomic int64_t counter; /* next value to hand out */
    _Atomic int64_t limit;   /* every value <= limit is acknowledged */
    atomic_flag lock;        /* held by the thread advancing limit */
    _Atomic bool *window;    /* acknowledged but not yet passed by limit */
};

ycsb_counter_t *
ycsb_counter_new(int64_t start)
{
    ycsb_counter_t *c = hb_calloc(1, sizeof *c);
    atomic_init(&c->counter, start);
    atomic_init(&c->limit, start - 1);
    atomic_flag_clear(&c->lock);
    c->window = hb_calloc((size_t)S_WINDOW_SIZE, sizeof *c->window);
    return c;
}

void
ycsb_counter_destroy(ycsb_counter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_free((void *)(*self_p)->window);
    hb_free(*self_p);
    *self_p = NULL;
}

int64_t
ycsb_counter_next(ycsb_counter_t *c)
{
    return atomic_fetch_add(&c->counter, 1);
}

void
ycsb_counter_ack(ycsb_counter_t *c, int64_t v)
{
    atomic_store(&c->window[v & S_WINDOW_MASK], true);
    /* AcknowledgedCounterGenerator: whoever gets the lock advances the
     * limit over the contiguous acknowledged values; the others go on. */
    if (atomic_flag_test_and_set(&c->lock))
        return;
    int64_t limit = atomic_load(&c->limit);
    int64_t before_first = limit & S_WINDOW_MASK;
    int64_t index;
    for (index = limit + 1; (index & S_WINDOW_MASK) != before_first; index++) {
        _Atomic bool *slot = &c->window[index & S_WINDOW_MASK];
        if (!atomic_load(slot))
            break;
        atomic_store(slot, false);
    }
    atomic_store(&c->limit, index - 1);
    atomic_flag_clear(&c->lock);
}

int64_t
ycsb_counter_last(const ycsb_counter_t *c)
{
    return atomic_load(&((ycsb_counter_t *)c)->limit);
}

/* ---------------------------------------------------- skewed latest */

struct ycsb_latest {
    ycsb_counter_t *basis; /* insert counter (borrowed) */
    ycsb_zipf_t *zipf;     /* zipfian over [0, last) (owned) */
};

ycsb_latest_t *
ycsb_latest_new(ycsb_counter_t *basis)
{
    int64_t last = ycsb_counter_last(basis);
    if (last < 1)
        return NULL;
    ycsb_zipf_t *z = ycsb_zipf_new(0, last - 1, YCSB_ZIPFIAN_CONSTANT);
    if (!z)
        return NULL;
    ycsb_latest_t *l = hb_calloc(1, sizeof *l);
    l->basis = basis;
    l->zipf = z;
    return l;
}

void
ycsb_latest_destroy(ycsb_latest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ycsb_zipf_destroy(&(*self_p)->zipf);
    hb_free(*self_p);
    *self_p = NULL;
}

int64_t
ycsb_latest_next(ycsb_latest_t *l, uint64_t *rng)
{
    int64_t max = ycsb_counter_last(l->basis);
    int64_t next = max - ycsb_zipf_next_n(l->zipf, max, rng);
    return next < 0 ? 0 : next;
}

/* --------------------------------------------------------- workloads */

/* YCSB's workloads/workload[a-f]; proportions in CoreWorkload's order. */
static const ycsb_workload_t s_workloads[] = {
    {'a', {[YCSB_OP_READ] = 0.5, [YCSB_OP_UPDATE] = 0.5}, YCSB_DIST_ZIPFIAN, 1000},
    {'b', {[YCSB_OP_READ] = 0.95, [YCSB_OP_UPDATE] = 0.05}, YCSB_DIST_ZIPFIAN, 1000},
    {'c', {[YCSB_OP_READ] = 1.0}, YCSB_DIST_ZIPFIAN, 1000},
    {'d', {[YCSB_OP_READ] = 0.95, [YCSB_OP_INSERT] = 0.05}, YCSB_DIST_LATEST, 1000},
    {'e', {[YCSB_OP_SCAN] = 0.95, [YCSB_OP_INSERT] = 0.05}, YCSB_DIST_ZIPFIAN, 100},
    {'f', {[YCSB_OP_READ] = 0.5, [YCSB_OP_RMW] = 0.5}, YCSB_DIST_ZIPFIAN, 1000},
};

const ycsb_workload_t *
ycsb_workload(char name)
{
    if (name >= 'A' && name <= 'Z')
        name = (char)(name - 'A' + 'a');
    for (size_t i = 0; i < sizeof s_workloads / sizeof *s_workloads; i++)
        if (s_workloads[i].name == name)
            return &s_workloads[i];
    return NULL;
}

ycsb_op_t
ycsb_workload_next_op(const ycsb_workload_t *w, uint64_t *rng)
{
    /* DiscreteGenerator: walk the weights subtracting each share. */
    double sum = 0;
    for (int i = 0; i < YCSB_OP_COUNT_; i++)
        sum += w->prop[i];
    double val = ycsb_rand_double(rng);
    ycsb_op_t last = YCSB_OP_READ;
    for (int i = 0; i < YCSB_OP_COUNT_; i++) {
        if (w->prop[i] <= 0)
            continue;
        last = (ycsb_op_t)i;
        if (val < w->prop[i] / sum)
            return (ycsb_op_t)i;
        val -= w->prop[i] / sum;
    }
    return last;
}

const char *
ycsb_op_name(ycsb_op_t op)
{
    static const char *names[YCSB_OP_COUNT_] = {"read", "update", "insert", "scan",
                                                "rmw"};
    return (unsigned)op < YCSB_OP_COUNT_ ? names[op] : "?";
}
