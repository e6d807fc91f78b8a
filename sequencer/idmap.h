/* idmap.h — a hash map from a call id (client_id, req_id) to a 64-bit
 * value, used by the input log's de-duplication table and the batcher's
 * table of calls it took and has not yet seen chosen.
 *
 * Open addressing with linear probing and backward-shift deletion, so no
 * tombstones build up under a steady insert/delete load. Lookups never
 * depend on insertion history beyond the set of keys present; nothing
 * iterates the table in hash order where order could matter.
 */
#ifndef IDMAP_H
#define IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t client_id; /* 0 marks an empty cell (client ids are never 0) */
    uint64_t req_id;
    uint64_t value;
} seq_idmap_cell_t;

typedef struct {
    seq_idmap_cell_t *cells; /* cap cells */
    size_t cap;              /* power of two (0 before the first put) */
    size_t n;                /* live entries */
} seq_idmap_t;

void seq_idmap_init(seq_idmap_t *m);
void seq_idmap_clear(seq_idmap_t *m);

/* Returns true and *value when (client_id, req_id) is present. */
bool seq_idmap_get(const seq_idmap_t *m, uint64_t client_id, uint64_t req_id,
                   uint64_t *value);
/* Inserts or overwrites. client_id must not be 0. */
void seq_idmap_put(seq_idmap_t *m, uint64_t client_id, uint64_t req_id, uint64_t value);
/* Removes the entry; returns true and its value in *value (may be NULL)
 * when it was present. */
bool seq_idmap_del(seq_idmap_t *m, uint64_t client_id, uint64_t req_id, uint64_t *value);

#endif
