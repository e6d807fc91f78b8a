/* sim.c — discrete-event simulator (see sim.h).
 *
 * A binary min-heap of events ordered by (time, insertion sequence). The
 * PRNG is splitmix64 over the seed; every random decision (loss,
 * duplication, delay) draws from it in event order, so a seed replays
 * exactly.
 */
#include "sim.h"

#include <string.h>

#include "hb_alloc.h"

typedef enum { S_EV_MSG, S_EV_TIMER, S_EV_USER } s_kind_t;

typedef struct {
    uint64_t at;    /* virtual time */
    uint64_t seq;   /* insertion order (tie break) */
    s_kind_t kind;  /* what */
    uint32_t node;  /* destination node */
    uint32_t from;  /* MSG: sender */
    uint64_t inc;   /* TIMER: incarnation of node when armed */
    uint64_t token; /* TIMER/USER token */
    uint8_t *data;  /* MSG bytes (owned) */
    size_t len;     /* MSG length */
} s_event_t;

struct sim {
    uint64_t rng;    /* splitmix64 state */
    uint64_t now;    /* virtual time, us */
    uint64_t seq;    /* next insertion number */
    uint32_t nodes;  /* node count */
    sim_ops_t ops;   /* harness callbacks */
    sim_net_t net;   /* current network behaviour */
    bool *up;        /* node is up */
    uint64_t *inc;   /* node incarnation */
    bool *link;      /* nodes x nodes: link from*nodes+to is up */
    s_event_t *heap; /* event heap */
    size_t n;        /* events queued */
    size_t cap;      /* heap capacity */
    sim_stats_t st;  /* counters */
};

static bool
s_before(const s_event_t *a, const s_event_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
s_push(sim_t *s, s_event_t ev)
{
    HB_GROW(s->heap, s->cap, s->n + 1, 256);
    ev.seq = s->seq++;
    size_t i = s->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before(&ev, &s->heap[parent]))
            break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = ev;
}

static s_event_t
s_pop(sim_t *s)
{
    s_event_t top = s->heap[0];
    s_event_t last = s->heap[--s->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const s_event_t *best = &last;
        if (l < s->n && s_before(&s->heap[l], best)) {
            m = l;
            best = &s->heap[l];
        }
        if (r < s->n && s_before(&s->heap[r], best))
            m = r;
        if (m == i)
            break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (s->n)
        s->heap[i] = last;
    return top;
}

sim_t *
sim_new(uint64_t seed, uint32_t nodes, const sim_ops_t *ops)
{
    sim_t *s = hb_calloc(1, sizeof *s);
    s->rng = seed;
    s->now = 1000000;
    s->nodes = nodes;
    s->ops = *ops;
    s->net = (sim_net_t){.delay_min_us = 100, .delay_max_us = 1000};
    s->up = hb_calloc(nodes, sizeof *s->up);
    s->inc = hb_calloc(nodes, sizeof *s->inc);
    s->link = hb_calloc((size_t)nodes * nodes, sizeof *s->link);
    for (uint32_t i = 0; i < nodes; i++)
        s->up[i] = true;
    sim_heal(s);
    return s;
}

void
sim_destroy(sim_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sim_t *s = *self_p;
    for (size_t i = 0; i < s->n; i++)
        hb_free(s->heap[i].data);
    hb_free(s->heap);
    hb_free(s->up);
    hb_free(s->inc);
    hb_free(s->link);
    hb_free(s);
    *self_p = NULL;
}

uint64_t
sim_now(const sim_t *self)
{
    return self->now;
}

uint64_t
sim_rand(sim_t *self)
{
    uint64_t z = (self->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t
sim_below(sim_t *self, uint64_t n)
{
    return n ? sim_rand(self) % n : 0;
}

bool
sim_chance(sim_t *self, uint32_t ppm)
{
    return ppm && sim_below(self, 1000000) < ppm;
}

void
sim_set_net(sim_t *self, const sim_net_t *net)
{
    self->net = *net;
    if (self->net.delay_max_us < self->net.delay_min_us)
        self->net.delay_max_us = self->net.delay_min_us;
}

sim_net_t
sim_get_net(const sim_t *self)
{
    return self->net;
}

void
sim_send(sim_t *self, uint32_t from, uint32_t to, const void *data, size_t len)
{
    self->st.sent++;
    if (from >= self->nodes || to >= self->nodes ||
        !self->link[from * self->nodes + to] || sim_chance(self, self->net.drop_ppm)) {
        self->st.dropped++;
        return;
    }
    int copies = sim_chance(self, self->net.dup_ppm) ? 2 : 1;
    if (copies == 2)
        self->st.duplicated++;
    for (int c = 0; c < copies; c++) {
        uint64_t d = self->net.delay_min_us +
                     sim_below(self, self->net.delay_max_us - self->net.delay_min_us + 1);
        s_push(self, (s_event_t){.at = self->now + d,
                                 .kind = S_EV_MSG,
                                 .node = to,
                                 .from = from,
                                 .data = hb_memdup(data, len ? len : 1),
                                 .len = len});
    }
}

void
sim_timer(sim_t *self, uint32_t node, uint64_t delay_us, uint64_t token)
{
    s_push(self, (s_event_t){.at = self->now + delay_us,
                             .kind = S_EV_TIMER,
                             .node = node,
                             .inc = self->inc[node],
                             .token = token});
}

void
sim_at(sim_t *self, uint64_t delay_us, uint32_t node, uint64_t token)
{
    s_push(self, (s_event_t){.at = self->now + delay_us,
                             .kind = S_EV_USER,
                             .node = node,
                             .token = token});
}

void
sim_crash(sim_t *self, uint32_t node)
{
    self->up[node] = false;
    self->inc[node]++;
}

void
sim_restart(sim_t *self, uint32_t node)
{
    self->up[node] = true;
}

bool
sim_up(const sim_t *self, uint32_t node)
{
    return node < self->nodes && self->up[node];
}

void
sim_link(sim_t *self, uint32_t from, uint32_t to, bool up)
{
    self->link[from * self->nodes + to] = up;
}

void
sim_partition(sim_t *self, const uint32_t *side)
{
    for (uint32_t a = 0; a < self->nodes; a++)
        for (uint32_t b = 0; b < self->nodes; b++)
            self->link[a * self->nodes + b] = side[a] == side[b];
}

void
sim_heal(sim_t *self)
{
    for (size_t i = 0; i < (size_t)self->nodes * self->nodes; i++)
        self->link[i] = true;
}

bool
sim_step(sim_t *self)
{
    if (self->n == 0)
        return false;
    s_event_t ev = s_pop(self);
    self->now = ev.at;
    self->st.events++;
    switch (ev.kind) {
    case S_EV_MSG:
        if (self->up[ev.node]) {
            self->st.delivered++;
            self->ops.deliver(self->ops.ctx, ev.node, ev.from, ev.data, ev.len);
        } else {
            self->st.dropped++;
        }
        break;
    case S_EV_TIMER:
        if (self->up[ev.node] && ev.inc == self->inc[ev.node])
            self->ops.timer(self->ops.ctx, ev.node, ev.token);
        break;
    case S_EV_USER:
        self->ops.user(self->ops.ctx, ev.node, ev.token);
        break;
    }
    hb_free(ev.data);
    return true;
}

bool
sim_run_until(sim_t *self, uint64_t t, bool (*check)(void *arg), void *arg)
{
    while (self->n && self->heap[0].at <= t) {
        sim_step(self);
        if (check && !check(arg))
            return false;
    }
    if (self->now < t)
        self->now = t;
    return true;
}

void
sim_stats(const sim_t *self, sim_stats_t *st)
{
    *st = self->st;
}
