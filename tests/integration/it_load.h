/* it_load.h — a pipelined kv load for integration tests: counters that
 * record every acknowledged increment, and bank accounts with transfers
 * inside one partition, from several concurrent client threads. */
#ifndef IT_LOAD_H
#define IT_LOAD_H

#include <stdatomic.h>
#include <stdint.h>

#define IT_COUNTERS          16
#define IT_ACCOUNTS_PER_PART 8
#define IT_MAX_PARTS         16
#define IT_BALANCE           100

typedef struct {
    const char *config; /* cluster config */
    int clients;        /* threads */
    int window;         /* calls in flight per client */
    int ops_per_client; /* calls each client makes */
    int transfer_pct;   /* share of transfers, else kv.add */
    uint64_t seed;      /* workload seed */
    int timeout_ms;     /* give up on a call after this */
    int partitions;     /* P */
    char accounts[IT_MAX_PARTS][IT_ACCOUNTS_PER_PART][32]; /* names per partition */
    atomic_llong acked_add[IT_COUNTERS];                   /* acknowledged increments */
    atomic_llong unknown_add[IT_COUNTERS];                 /* increments with no answer */
    atomic_llong transfers_ok;                             /* committed transfers */
    atomic_llong transfers_aborted;                        /* insufficient funds */
    atomic_llong errors;                                   /* other failures */
    atomic_llong timeouts;                                 /* calls with no answer */
    atomic_llong done_ops; /* calls finished (any outcome) */
} it_load_t;

/* Picks account names for every partition of cfg. */
void it_load_init(it_load_t *l, const char *config, int partitions, uint64_t seed);
/* Funds every account with IT_BALANCE (kv.put). Returns 0 or -1. */
int it_load_fund(it_load_t *l);
/* Runs the load to completion from l->clients threads. */
void it_load_run(it_load_t *l);
/* Reads counter i (kv.get); -1 on failure, 0 when absent. */
long long it_load_counter(const it_load_t *l, int i);
/* Sums all balances into *total and counts negative ones. Returns 0/-1. */
int it_load_balances(const it_load_t *l, long long *total, int *negative);

#endif
