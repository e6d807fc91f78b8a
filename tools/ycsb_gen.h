/* ycsb_gen.h — YCSB's key, distribution and operation generators.
 *
 * Faithful ports of YCSB's generators (core/src/main/java/site/ycsb/...),
 * so a Hobbes YCSB run draws the same kind of keys as the reference client:
 *  - ycsb_fnvhash64: Utils.fnvhash64 (FNV-1a over the 8 little-endian octets
 *    of a long, then Java Math.abs), and ycsb_key_name: "user" + that hash;
 *  - ycsb_zipf_*: ZipfianGenerator (Gray et al., "Quickly Generating
 *    Billion-Record Synthetic Databases"), zeta grown incrementally when
 *    the item count grows, alpha/eta exactly as YCSB (including its use of
 *    the original item count in eta after growth);
 *  - ycsb_scrambled_*: ScrambledZipfianGenerator (zipfian over 10^10 items
 *    with the precomputed zeta for theta 0.99, then fnvhash64 % itemcount;
 *    any other theta computes zeta over the item count instead);
 *  - ycsb_latest_*: SkewedLatestGenerator over an acknowledged insert
 *    counter (ycsb_counter_*: AcknowledgedCounterGenerator);
 *  - ycsb_uniform: UniformLongGenerator; ycsb_workload_*: the operation
 *    mixes of workloads A-F (DiscreteGenerator).
 * Randomness comes only from a caller's seeded xorshift state (hb_util.h):
 * no global PRNG. Generators are per thread, except the counter, which is
 * shared (atomics).
 */
#ifndef YCSB_GEN_H
#define YCSB_GEN_H

#include <stddef.h>
#include <stdint.h>

#define YCSB_ZIPFIAN_CONSTANT 0.99
#define YCSB_ITEM_COUNT       10000000000LL     /* ScrambledZipfian's item count */
#define YCSB_ZETAN            26.46902820178302 /* zeta(ITEM_COUNT, 0.99) */

/* Returns YCSB's Utils.fnvhash64(v): FNV-1a-64 over v's 8 octets, least
 * significant first, made non-negative like Java's Math.abs (so INT64_MIN
 * stays INT64_MIN). */
int64_t ycsb_fnvhash64(int64_t v);

/* Writes "user" + decimal fnvhash64(keynum) to out (NUL-terminated, at
 * most cap bytes) and returns its length (0 if cap is too small). */
size_t ycsb_key_name(int64_t keynum, char *out, size_t cap);

/* Returns a uniform double in [0, 1) from the xorshift state *rng. */
double ycsb_rand_double(uint64_t *rng);

/* Returns a uniform integer in [lb, ub] (UniformLongGenerator). */
int64_t ycsb_uniform(uint64_t *rng, int64_t lb, int64_t ub);

/* Returns sum_{i=st}^{n-1} 1/(i+1)^theta + initial (YCSB's zeta). */
double ycsb_zeta(int64_t st, int64_t n, double theta, double initial);

/* ------------------------------------------------------------ zipfian */

typedef struct ycsb_zipf ycsb_zipf_t;

/* Returns a zipfian generator over [min, max] with constant theta (0 <
 * theta < 1), computing zeta(max - min + 1); or NULL for a bad range or
 * theta. Caller owns it (ycsb_zipf_destroy). */
ycsb_zipf_t *ycsb_zipf_new(int64_t min, int64_t max, double theta);
/* As ycsb_zipf_new with a precomputed zetan for the item count. */
ycsb_zipf_t *ycsb_zipf_new_zetan(int64_t min, int64_t max, double theta, double zetan);
/* Frees a generator; accepts NULL; sets *self_p = NULL. */
void ycsb_zipf_destroy(ycsb_zipf_t **self_p);
/* Returns the next value: min + rank - 1, rank 1 the most popular. */
int64_t ycsb_zipf_next(ycsb_zipf_t *z, uint64_t *rng);
/* Returns the next value over itemcount items (YCSB nextLong(itemcount)):
 * zeta grows incrementally when itemcount exceeds the count it was
 * computed for (a smaller count keeps the larger zeta, as YCSB does). */
int64_t ycsb_zipf_next_n(ycsb_zipf_t *z, int64_t itemcount, uint64_t *rng);
/* Returns the generator's current zeta(n, theta). */
double ycsb_zipf_zetan(const ycsb_zipf_t *z);

/* -------------------------------------------------- scrambled zipfian */

typedef struct ycsb_scrambled ycsb_scrambled_t;

/* Returns a scrambled zipfian generator over [min, max] (caller owns;
 * ycsb_scrambled_destroy), or NULL for a bad range or theta. With theta
 * 0.99 it is YCSB's: zipfian over [0, ITEM_COUNT] with ZETAN; with another
 * theta it draws from a zipfian over the max - min + 1 items themselves
 * (YCSB would compute zeta over 10^10 items, which takes minutes). */
ycsb_scrambled_t *ycsb_scrambled_new(int64_t min, int64_t max, double theta);
void ycsb_scrambled_destroy(ycsb_scrambled_t **self_p);
/* Returns min + fnvhash64(zipfian value) % itemcount. */
int64_t ycsb_scrambled_next(ycsb_scrambled_t *s, uint64_t *rng);

/* --------------------------------------------- acknowledged counter */

typedef struct ycsb_counter ycsb_counter_t;

/* Returns an insert counter whose first value is start and whose
 * acknowledged limit is start - 1 (caller owns; ycsb_counter_destroy).
 * Thread-safe: next, ack and last may be called from many threads. */
ycsb_counter_t *ycsb_counter_new(int64_t start);
void ycsb_counter_destroy(ycsb_counter_t **self_p);
/* Returns the next key number to insert. */
int64_t ycsb_counter_next(ycsb_counter_t *c);
/* Acknowledges that value v (from next) has been inserted; the limit
 * advances over every contiguous acknowledged value. */
void ycsb_counter_ack(ycsb_counter_t *c, int64_t v);
/* Returns the highest value below which every value is acknowledged. */
int64_t ycsb_counter_last(const ycsb_counter_t *c);

/* ---------------------------------------------------- skewed latest */

typedef struct ycsb_latest ycsb_latest_t;

/* Returns a SkewedLatestGenerator over basis (borrowed; must outlive it):
 * last - zipfian(last), so recently inserted keys are the most popular.
 * Caller owns it (ycsb_latest_destroy); NULL if basis has no values. */
ycsb_latest_t *ycsb_latest_new(ycsb_counter_t *basis);
void ycsb_latest_destroy(ycsb_latest_t **self_p);
int64_t ycsb_latest_next(ycsb_latest_t *l, uint64_t *rng);

/* --------------------------------------------------------- workloads */

typedef enum {
    YCSB_OP_READ = 0,
    YCSB_OP_UPDATE,
    YCSB_OP_INSERT,
    YCSB_OP_SCAN,
    YCSB_OP_RMW,
    YCSB_OP_COUNT_
} ycsb_op_t;

typedef enum {
    YCSB_DIST_ZIPFIAN = 0, /* scrambled zipfian */
    YCSB_DIST_LATEST,      /* skewed latest */
    YCSB_DIST_UNIFORM,
} ycsb_dist_t;

/* A core workload's parameters (workloads/workload[a-f] of YCSB). */
typedef struct {
    char name;                   /* 'a' .. 'f' */
    double prop[YCSB_OP_COUNT_]; /* operation proportions, sum 1 */
    ycsb_dist_t dist;            /* request distribution */
    uint32_t max_scan;           /* scan length is uniform 1..max_scan */
} ycsb_workload_t;

/* Returns workload 'a'..'f' (either case; static), or NULL. */
const ycsb_workload_t *ycsb_workload(char name);
/* Returns the next operation, drawn with the workload's proportions. */
ycsb_op_t ycsb_workload_next_op(const ycsb_workload_t *w, uint64_t *rng);
/* Returns "read", "update", "insert", "scan", "rmw" (static). */
const char *ycsb_op_name(ycsb_op_t op);

#endif
