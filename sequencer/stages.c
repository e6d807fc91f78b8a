/* stages.c — the sequencer's per-stage latencies (see stages.h). */
#include "stages.h"

#include "hb_alloc.h"
#include "hb_hist.h"

#define S_RING 256 /* proposals awaiting their chosen notice */

typedef struct {
    uint64_t epoch; /* proposed epoch */
    uint64_t t_us;  /* when, on the statistics clock */
    uint64_t n;     /* calls in the batch */
} s_prop_t;

struct seq_stages {
    const hb_env_t *env;
    hb_hist_t epoch_wait;
    hb_hist_t durable;
    uint64_t *arrive; /* arrival times of the open batch's calls */
    size_t narrive, caparrive;
    uint64_t close_us;     /* when the last proposal was made */
    s_prop_t ring[S_RING]; /* recent proposals, oldest at head */
    size_t head, n;
};

seq_stages_t *
seq_stages_new(const hb_env_t *env)
{
    seq_stages_t *self = hb_calloc(1, sizeof *self);
    self->env = env;
    return self;
}

void
seq_stages_destroy(seq_stages_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_free((*self_p)->arrive);
    hb_free(*self_p);
    *self_p = NULL;
}

void
seq_stages_arrive(seq_stages_t *self)
{
    /* Grows to the largest batch once; no allocation after that. */
    HB_GROW(self->arrive, self->caparrive, self->narrive + 1, 64);
    self->arrive[self->narrive++] = hb_env_mono_us(self->env);
}

void
seq_stages_closing(seq_stages_t *self, uint64_t epoch)
{
    self->close_us = hb_env_mono_us(self->env);
    if (self->n == S_RING) {
        self->head = (self->head + 1) % S_RING;
        self->n--;
    }
    self->ring[(self->head + self->n++) % S_RING] =
        (s_prop_t){epoch, self->close_us, self->narrive};
}

void
seq_stages_closed(seq_stages_t *self, bool ok)
{
    if (!ok) {
        /* Forget the refused proposal (if a chosen notice has not). */
        if (self->n &&
            self->ring[(self->head + self->n - 1) % S_RING].t_us == self->close_us)
            self->n--;
        return;
    }
    for (size_t i = 0; i < self->narrive; i++)
        hb_hist_add(&self->epoch_wait, self->close_us > self->arrive[i]
                                           ? self->close_us - self->arrive[i]
                                           : 0);
    self->narrive = 0;
}

void
seq_stages_chosen(seq_stages_t *self, uint64_t proposed_epoch)
{
    /* Proposals are chosen in order; older ones never will be (lost). */
    while (self->n && self->ring[self->head].epoch < proposed_epoch) {
        self->head = (self->head + 1) % S_RING;
        self->n--;
    }
    if (!self->n || self->ring[self->head].epoch != proposed_epoch)
        return;
    const s_prop_t *p = &self->ring[self->head];
    hb_hist_add_n(&self->durable, hb_env_since_us(self->env, p->t_us), p->n);
    self->head = (self->head + 1) % S_RING;
    self->n--;
}

void
seq_stages_status(const seq_stages_t *self, const seq_log_t *log, hb_status_t *st)
{
    hb_status_hist(st, "seq_epoch_wait", &self->epoch_wait);
    hb_status_hist(st, "seq_durable", &self->durable);
    if (log)
        hb_status_hist(st, "seq_log_fsync", seq_log_sync_hist(log));
}
