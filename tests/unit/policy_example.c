/* policy_example.c — an out-of-tree scheduler policy ("example").
 *
 * Written the way a researcher outside the tree would write one: against
 * scheduler/policy.h only (no hb_alloc, no hb_log, no link to the scheduler
 * or common libraries), built as a shared module and loaded by path with
 * sched_policy_load. It exports `const sched_policy_ops_t
 * hobbes_sched_policy`.
 *
 * The rule is a conflict scan in submit order: the policy keeps every
 * unfinished transaction (submitted, not completed) in a list in global
 * order; a transaction is ready when no earlier unfinished transaction
 * conflicts with it (a common key, at least one of the two writes). This
 * is trivially correct — two conflicting transactions always run in global
 * order — and, unlike `serial`, lets non-conflicting ones overlap. It costs
 * O(unfinished * locks^2) per operation, which is fine for tests.
 *
 * POLICY_EXAMPLE_ABI overrides the ABI number the table claims, so the
 * build can make a deliberately incompatible copy for the loader's tests.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#ifndef POLICY_EXAMPLE_ABI
#define POLICY_EXAMPLE_ABI SCHED_POLICY_ABI
#endif

/* sched_lock_t.mode values are hb_lock_mode_t (hb_txn.h, which an
 * out-of-tree policy does not include): 0 is a shared read. */
#define S_MODE_READ 0

/* One unfinished transaction (kept in txn->priv). */
typedef struct s_node s_node_t;
struct s_node {
    sched_txn_t *txn; /* the caller's transaction */
    bool ready;       /* handed to env.ready */
    s_node_t *prev;   /* earlier unfinished transaction */
    s_node_t *next;   /* later unfinished transaction */
};

typedef struct {
    sched_policy_env_t env;  /* ready callback */
    s_node_t *head;          /* oldest unfinished transaction */
    s_node_t *tail;          /* newest unfinished transaction */
    sched_policy_stats_t st; /* counters */
} s_example_t;

/* Returns true when a and b share a key that at least one of them writes. */
static bool
s_conflict(const sched_txn_t *a, const sched_txn_t *b)
{
    for (uint32_t i = 0; i < a->nlocks; i++) {
        const sched_lock_t *la = &a->locks[i];
        for (uint32_t j = 0; j < b->nlocks; j++) {
            const sched_lock_t *lb = &b->locks[j];
            if (la->len == lb->len && memcmp(la->key, lb->key, la->len) == 0 &&
                (la->mode != S_MODE_READ || lb->mode != S_MODE_READ))
                return true;
        }
    }
    return false;
}

/* Returns true when no unfinished transaction before n conflicts with it. */
static bool
s_runnable(const s_node_t *n)
{
    for (const s_node_t *p = n->prev; p; p = p->prev)
        if (s_conflict(p->txn, n->txn))
            return false;
    return true;
}

static void
s_make_ready(s_example_t *self, s_node_t *n)
{
    n->ready = true;
    self->st.running++;
    self->env.ready(self->env.ctx, n->txn);
}

static void *
s_create(const sched_policy_env_t *env)
{
    if (!env || !env->ready)
        return NULL;
    s_example_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->env = *env;
    return self;
}

static void
s_destroy(void **state_p)
{
    if (!state_p || !*state_p)
        return;
    s_example_t *self = *state_p;
    s_node_t *n = self->head;
    while (n) {
        s_node_t *next = n->next;
        n->txn->priv = NULL;
        free(n);
        n = next;
    }
    free(self);
    *state_p = NULL;
}

static hb_rc_t
s_submit(void *state, sched_txn_t *txn)
{
    s_example_t *self = state;
    if (!self || !txn || (txn->nlocks > 0 && !txn->locks))
        return HB_INVALID;
    s_node_t *n = calloc(1, sizeof *n);
    if (!n)
        return HB_NOMEM;
    n->txn = txn;
    n->prev = self->tail;
    if (self->tail)
        self->tail->next = n;
    else
        self->head = n;
    self->tail = n;
    txn->priv = n;
    self->st.submitted++;
    if (s_runnable(n)) {
        s_make_ready(self, n);
    } else {
        self->st.waiting++;
        self->st.lock_waits++;
    }
    return HB_OK;
}

static hb_rc_t
s_complete(void *state, sched_txn_t *txn)
{
    s_example_t *self = state;
    if (!self || !txn || !txn->priv)
        return HB_INVALID;
    s_node_t *n = txn->priv;
    if (n->txn != txn || !n->ready)
        return HB_INVALID;
    s_node_t *after = n->next;
    if (n->prev)
        n->prev->next = n->next;
    else
        self->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        self->tail = n->prev;
    free(n);
    txn->priv = NULL;
    self->st.running--;
    self->st.completed++;
    /* Only transactions after the finished one can have been waiting on
     * it; walking them in list order hands them out in global order. */
    for (s_node_t *w = after; w; w = w->next) {
        if (w->ready || !s_runnable(w))
            continue;
        self->st.waiting--;
        s_make_ready(self, w);
    }
    return HB_OK;
}

static void
s_stats(void *state, sched_policy_stats_t *out)
{
    const s_example_t *self = state;
    if (!out)
        return;
    if (!self) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = self->st;
}

/* The exported table (non-static by design: sched_policy_load dlsyms it). */
extern const sched_policy_ops_t hobbes_sched_policy;
const sched_policy_ops_t hobbes_sched_policy = {
    .abi = POLICY_EXAMPLE_ABI,
    .name = "example",
    .create = s_create,
    .destroy = s_destroy,
    .submit = s_submit,
    .complete = s_complete,
    .stats = s_stats,
};
