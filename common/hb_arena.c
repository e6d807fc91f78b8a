/* hb_arena.c — chunked bump allocator (see hb_arena.h). */
#include "hb_arena.h"

#include <stdint.h>

#include "hb_alloc.h"

#define S_CHUNK (32u << 10)

struct hb_arena {
    struct hb_arena *next; /* older chunk */
    size_t cap;            /* bytes in data */
    size_t used;           /* bytes handed out */
    _Alignas(16) uint8_t data[];
};

void *
hb_arena_alloc(void *arena_p, size_t size)
{
    hb_arena_t **head = arena_p;
    size_t need = (size + 15) & ~(size_t)15;
    if (!need)
        need = 16;
    hb_arena_t *c = *head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > S_CHUNK ? need : S_CHUNK;
        c = hb_malloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        c->next = *head;
        *head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

void
hb_arena_free(hb_arena_t **arena_p)
{
    if (!arena_p)
        return;
    hb_arena_t *c = *arena_p;
    while (c) {
        hb_arena_t *next = c->next;
        hb_free(c);
        c = next;
    }
    *arena_p = NULL;
}
