/* it_load.c — pipelined kv load for integration tests (see it_load.h). */
#include "it_load.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_key.h"
#include "hb_util.h"
#include "hobbes.h"

typedef struct {
    it_load_t *l; /* shared */
    int id;       /* thread number */
} s_arg_t;

void
it_load_init(it_load_t *l, const char *config, int partitions, uint64_t seed)
{
    memset(l, 0, sizeof *l);
    l->config = config;
    l->partitions = partitions;
    l->seed = seed;
    l->clients = 8;
    l->window = 16;
    l->ops_per_client = 2500;
    l->transfer_pct = 50;
    l->timeout_ms = 20000;
    int filled[IT_MAX_PARTS] = {0}, need = partitions * IT_ACCOUNTS_PER_PART;
    for (int n = 0; need > 0; n++) {
        char name[32];
        snprintf(name, sizeof name, "acct:%d", n);
        hb_key_t k;
        hb_key_kv(&k, name, strlen(name));
        uint32_t p = hb_key_partition(k.buf, k.len, (uint32_t)partitions);
        if (filled[p] < IT_ACCOUNTS_PER_PART) {
            snprintf(l->accounts[p][filled[p]++], 32, "%s", name);
            need--;
        }
    }
}

static hb_rc_t
s_call(hb_client_t *c, const char *proc, const hb_val_t *args, uint32_t n,
       hb_result_t **res)
{
    hb_rc_t rc = HB_TIMEOUT;
    for (int attempt = 0; attempt < 3 && rc == HB_TIMEOUT; attempt++)
        rc = hb_client_call(c, proc, args, n, 10000, res);
    return rc;
}

int
it_load_fund(it_load_t *l)
{
    char err[256];
    hb_client_t *c = hb_client_new(l->config, 0, err, sizeof err);
    if (!c)
        return -1;
    int rc = 0;
    for (int p = 0; p < l->partitions && rc == 0; p++)
        for (int j = 0; j < IT_ACCOUNTS_PER_PART && rc == 0; j++) {
            hb_val_t args[2] = {
                hb_val_str(l->accounts[p][j], (uint32_t)strlen(l->accounts[p][j])),
                hb_val_int(IT_BALANCE)};
            hb_result_t *res = NULL;
            if (s_call(c, "kv.put", args, 2, &res) != HB_OK || res->rc != HB_OK)
                rc = -1;
            hb_result_destroy(&res);
        }
    hb_client_destroy(&c);
    return rc;
}

typedef struct {
    uint64_t req;    /* request id, 0 when the slot is free */
    int counter;     /* counter index, or -1 for a transfer */
    int64_t sent_ms; /* when it was sent */
} s_op_t;

static int64_t
s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
s_worker(void *argp)
{
    s_arg_t *a = argp;
    it_load_t *l = a->l;
    uint64_t rng = l->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)a->id * 7919 + 1;
    char err[256];
    hb_client_t *c = hb_client_new(l->config, 0, err, sizeof err);
    if (!c) {
        fprintf(stderr, "client %d: %s\n", a->id, err);
        atomic_fetch_add(&l->errors, l->ops_per_client);
        return NULL;
    }
    s_op_t *fly = calloc((size_t)l->window, sizeof *fly);
    int sent = 0, inflight = 0;
    while (sent < l->ops_per_client || inflight > 0) {
        for (int s = 0; s < l->window && sent < l->ops_per_client; s++) {
            if (fly[s].req)
                continue;
            uint64_t req = 0;
            hb_rc_t rc;
            char name[32];
            int counter = -1;
            if ((int)(hb_xorshift(&rng) % 100) < l->transfer_pct) {
                int p = (int)(hb_xorshift(&rng) % (uint64_t)l->partitions);
                int i = (int)(hb_xorshift(&rng) % IT_ACCOUNTS_PER_PART), j;
                do
                    j = (int)(hb_xorshift(&rng) % IT_ACCOUNTS_PER_PART);
                while (j == i);
                hb_val_t args[3] = {
                    hb_val_str(l->accounts[p][i], (uint32_t)strlen(l->accounts[p][i])),
                    hb_val_str(l->accounts[p][j], (uint32_t)strlen(l->accounts[p][j])),
                    hb_val_int((int64_t)(1 + hb_xorshift(&rng) % 60))};
                rc = hb_client_submit(c, "kv.transfer", args, 3, &req);
            } else {
                counter = (int)(hb_xorshift(&rng) % IT_COUNTERS);
                snprintf(name, sizeof name, "ctr:%d", counter);
                hb_val_t args[2] = {hb_val_str(name, (uint32_t)strlen(name)),
                                    hb_val_int(1)};
                rc = hb_client_submit(c, "kv.add", args, 2, &req);
            }
            sent++;
            if (rc != HB_OK) {
                atomic_fetch_add(&l->errors, 1);
                atomic_fetch_add(&l->done_ops, 1);
                continue;
            }
            fly[s] = (s_op_t){req, counter, s_ms()};
            inflight++;
        }
        hb_result_t *res = NULL;
        if (hb_client_poll(c, 100, &res) != HB_OK) {
            /* Give up on calls older than the timeout: their outcome is unknown. */
            int64_t now = s_ms();
            for (int s = 0; s < l->window; s++) {
                if (!fly[s].req || now - fly[s].sent_ms < l->timeout_ms)
                    continue;
                hb_client_forget(c, fly[s].req);
                atomic_fetch_add(&l->timeouts, 1);
                if (fly[s].counter >= 0)
                    atomic_fetch_add(&l->unknown_add[fly[s].counter], 1);
                fly[s].req = 0;
                inflight--;
                atomic_fetch_add(&l->done_ops, 1);
            }
            continue;
        }
        int s = 0;
        while (s < l->window && fly[s].req != res->req_id)
            s++;
        if (s == l->window) {
            hb_result_destroy(&res);
            continue;
        }
        if (fly[s].counter >= 0) {
            if (res->rc == HB_OK)
                atomic_fetch_add(&l->acked_add[fly[s].counter], 1);
            else
                atomic_fetch_add(&l->errors, 1);
        } else if (res->rc == HB_OK) {
            atomic_fetch_add(&l->transfers_ok, 1);
        } else if (res->rc == HB_ABORTED) {
            atomic_fetch_add(&l->transfers_aborted, 1);
        } else {
            fprintf(stderr, "transfer failed: %s: %s\n", hb_rc_str(res->rc), res->msg);
            atomic_fetch_add(&l->errors, 1);
        }
        if (fly[s].counter >= 0 && res->rc != HB_OK)
            fprintf(stderr, "add failed: %s: %s\n", hb_rc_str(res->rc), res->msg);
        hb_result_destroy(&res);
        fly[s].req = 0;
        inflight--;
        atomic_fetch_add(&l->done_ops, 1);
    }
    free(fly);
    hb_client_destroy(&c);
    return NULL;
}

void
it_load_run(it_load_t *l)
{
    pthread_t th[64];
    s_arg_t args[64];
    int n = l->clients < 64 ? l->clients : 64;
    for (int i = 0; i < n; i++) {
        args[i] = (s_arg_t){l, i};
        pthread_create(&th[i], NULL, s_worker, &args[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

long long
it_load_counter(const it_load_t *l, int i)
{
    char err[256], name[32];
    hb_client_t *c = hb_client_new(l->config, 0, err, sizeof err);
    if (!c)
        return -1;
    snprintf(name, sizeof name, "ctr:%d", i);
    hb_val_t arg = hb_val_str(name, (uint32_t)strlen(name));
    hb_result_t *res = NULL;
    long long v = -1;
    if (s_call(c, "kv.get", &arg, 1, &res) == HB_OK && res->rc == HB_OK &&
        res->nvals == 1) {
        if (res->vals[0].type == HB_VAL_NIL)
            v = 0;
        else if (res->vals[0].type == HB_VAL_INT)
            v = res->vals[0].u.i;
    }
    hb_result_destroy(&res);
    hb_client_destroy(&c);
    return v;
}

int
it_load_balances(const it_load_t *l, long long *total, int *negative)
{
    char err[256];
    hb_client_t *c = hb_client_new(l->config, 0, err, sizeof err);
    if (!c)
        return -1;
    *total = 0;
    *negative = 0;
    int rc = 0;
    for (int p = 0; p < l->partitions && rc == 0; p++)
        for (int j = 0; j < IT_ACCOUNTS_PER_PART && rc == 0; j++) {
            hb_val_t arg =
                hb_val_str(l->accounts[p][j], (uint32_t)strlen(l->accounts[p][j]));
            hb_result_t *res = NULL;
            if (s_call(c, "kv.get", &arg, 1, &res) == HB_OK && res->rc == HB_OK &&
                res->nvals == 1 && res->vals[0].type == HB_VAL_INT) {
                *total += res->vals[0].u.i;
                *negative += res->vals[0].u.i < 0;
            } else {
                rc = -1;
            }
            hb_result_destroy(&res);
        }
    hb_client_destroy(&c);
    return rc;
}
