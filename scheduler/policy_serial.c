/* policy_serial.c — one transaction at a time, in submit (global) order.
 *
 * The baseline policy ("serial"): a FIFO of submitted transactions of which
 * only the head may run. It ignores locks entirely, so it is trivially
 * correct and is the reference the differential test compares every other
 * policy against (docs/architecture.md section 7).
 */
#include <string.h>

#include "hb_alloc.h"
#include "hb_log.h"
#include "policy.h"

typedef struct {
    sched_policy_env_t env;  /* ready callback */
    sched_txn_t **ring;      /* waiting transactions, FIFO ring */
    uint32_t cap;            /* capacity of ring (power of two) */
    uint32_t head;           /* index of the oldest waiting transaction */
    uint32_t count;          /* waiting transactions */
    sched_txn_t *running;    /* the ready transaction, NULL if none */
    sched_policy_stats_t st; /* counters */
} s_serial_t;

static void *
s_create(const sched_policy_env_t *env)
{
    if (!env || !env->ready) {
        hb_error("serial: create needs a ready callback");
        return NULL;
    }
    s_serial_t *self = hb_calloc(1, sizeof *self);
    self->env = *env;
    self->cap = 64;
    self->ring = hb_calloc(self->cap, sizeof *self->ring);
    return self;
}

static void
s_destroy(void **state_p)
{
    if (!state_p || !*state_p)
        return;
    s_serial_t *self = *state_p;
    hb_free(self->ring);
    hb_free(self);
    *state_p = NULL;
}

static void
s_push(s_serial_t *self, sched_txn_t *txn)
{
    if (self->count == self->cap) {
        /* A ring, re-laid oldest first: HB_GROW's rule, not its realloc. */
        uint32_t nc =
            (uint32_t)hb_grow_cap(self->cap, self->count + 1u, 64, sizeof *self->ring);
        sched_txn_t **r = hb_malloc(nc * sizeof *r);
        for (uint32_t i = 0; i < self->count; i++)
            r[i] = self->ring[(self->head + i) & (self->cap - 1)];
        hb_free(self->ring);
        self->ring = r;
        self->cap = nc;
        self->head = 0;
    }
    self->ring[(self->head + self->count) & (self->cap - 1)] = txn;
    self->count++;
}

static hb_rc_t
s_submit(void *state, sched_txn_t *txn)
{
    s_serial_t *self = state;
    if (!self || !txn)
        return HB_INVALID;
    self->st.submitted++;
    txn->priv = NULL;
    if (!self->running && self->count == 0) {
        self->running = txn;
        self->st.running = 1;
        self->env.ready(self->env.ctx, txn);
        return HB_OK;
    }
    s_push(self, txn);
    self->st.waiting++;
    self->st.lock_waits++;
    return HB_OK;
}

static hb_rc_t
s_complete(void *state, sched_txn_t *txn)
{
    s_serial_t *self = state;
    if (!self || !txn || txn != self->running) {
        hb_error("serial: complete of a transaction that is not running");
        return HB_INVALID;
    }
    self->running = NULL;
    self->st.running = 0;
    self->st.completed++;
    if (self->count > 0) {
        sched_txn_t *next = self->ring[self->head];
        self->head = (self->head + 1) & (self->cap - 1);
        self->count--;
        self->st.waiting--;
        self->running = next;
        self->st.running = 1;
        self->env.ready(self->env.ctx, next);
    }
    return HB_OK;
}

static void
s_stats(void *state, sched_policy_stats_t *out)
{
    const s_serial_t *self = state;
    if (!out)
        return;
    if (!self) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = self->st;
}

const sched_policy_ops_t sched_policy_serial = {
    .abi = SCHED_POLICY_ABI,
    .name = "serial",
    .create = s_create,
    .destroy = s_destroy,
    .submit = s_submit,
    .complete = s_complete,
    .stats = s_stats,
};
