/* idmap.c — call-id hash map (see idmap.h). */
#include "idmap.h"

#include "hb_alloc.h"
#include "hb_hash.h"

static size_t
s_home(uint64_t client_id, uint64_t req_id, size_t cap)
{
    return (size_t)(hb_mix64(client_id ^ hb_mix64(req_id)) & (cap - 1));
}

void
seq_idmap_init(seq_idmap_t *m)
{
    m->cells = NULL;
    m->cap = 0;
    m->n = 0;
}

void
seq_idmap_clear(seq_idmap_t *m)
{
    hb_free(m->cells);
    seq_idmap_init(m);
}

static void
s_grow(seq_idmap_t *m)
{
    seq_idmap_cell_t *old = m->cells;
    size_t old_cap = m->cap;
    m->cap = old_cap ? old_cap * 2 : 64;
    m->cells = hb_calloc(m->cap, sizeof *m->cells);
    m->n = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].client_id)
            seq_idmap_put(m, old[i].client_id, old[i].req_id, old[i].value);
    hb_free(old);
}

bool
seq_idmap_get(const seq_idmap_t *m, uint64_t client_id, uint64_t req_id, uint64_t *value)
{
    if (m->cap == 0)
        return false;
    for (size_t i = s_home(client_id, req_id, m->cap);; i = (i + 1) & (m->cap - 1)) {
        const seq_idmap_cell_t *c = &m->cells[i];
        if (c->client_id == 0)
            return false;
        if (c->client_id == client_id && c->req_id == req_id) {
            if (value)
                *value = c->value;
            return true;
        }
    }
}

void
seq_idmap_put(seq_idmap_t *m, uint64_t client_id, uint64_t req_id, uint64_t value)
{
    if ((m->n + 1) * 2 > m->cap)
        s_grow(m);
    for (size_t i = s_home(client_id, req_id, m->cap);; i = (i + 1) & (m->cap - 1)) {
        seq_idmap_cell_t *c = &m->cells[i];
        if (c->client_id == 0) {
            *c = (seq_idmap_cell_t){client_id, req_id, value};
            m->n++;
            return;
        }
        if (c->client_id == client_id && c->req_id == req_id) {
            c->value = value;
            return;
        }
    }
}

bool
seq_idmap_del(seq_idmap_t *m, uint64_t client_id, uint64_t req_id, uint64_t *value)
{
    if (m->cap == 0)
        return false;
    size_t mask = m->cap - 1;
    size_t i = s_home(client_id, req_id, m->cap);
    for (;; i = (i + 1) & mask) {
        seq_idmap_cell_t *c = &m->cells[i];
        if (c->client_id == 0)
            return false;
        if (c->client_id == client_id && c->req_id == req_id)
            break;
    }
    if (value)
        *value = m->cells[i].value;
    /* Backward shift: pull later cells of the probe run into the hole when
     * their home does not lie cyclically in (hole, cell]. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->cells[j].client_id; j = (j + 1) & mask) {
        size_t home = s_home(m->cells[j].client_id, m->cells[j].req_id, m->cap);
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            m->cells[hole] = m->cells[j];
            hole = j;
        }
    }
    m->cells[hole] = (seq_idmap_cell_t){0, 0, 0};
    m->n--;
    return true;
}
