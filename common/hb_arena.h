/* hb_arena.h — a chunked bump allocator for memory that dies all at once
 * (a statement's plan, a request's reply values).
 *
 * An arena is a pointer to its newest chunk, NULL when empty. Memory it
 * hands out never moves and is 16-byte aligned; hb_arena_free releases it
 * all. hb_arena_alloc has the (arg, size) shape of the alloc callbacks of
 * hb_expr.h, with arg the address of the arena pointer.
 */
#ifndef HB_ARENA_H
#define HB_ARENA_H

#include <stddef.h>

typedef struct hb_arena hb_arena_t;

/* Returns size bytes (at least 1) from the arena *(hb_arena_t **)arena_p;
 * never NULL (allocation failure aborts, as everywhere: hb_alloc.h). */
void *hb_arena_alloc(void *arena_p, size_t size);

/* Frees every chunk of *arena_p and sets it to NULL; accepts NULL. */
void hb_arena_free(hb_arena_t **arena_p);

#endif
